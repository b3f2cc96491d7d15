#pragma once
// What agents do to a conversation: assign it (take it, hand it back, move it to a colleague)
// and change its status. Each change and its event are one transaction of the backend, so the
// event log never says what the conversation is not.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/statements.hpp"
#include "store/store.hpp"

namespace sb::domain {

// Sets the assignee ("" = unassigned) and appends conversation_assigned for both sides of the
// change. With `expected`, only while the current assignee is *expected ("" = unassigned): of
// two agents taking one conversation, one is assigned and the other gets `conflict`. An agent
// that does not exist is std::invalid_argument.
store::AssignOutcome assign(Statements& statements, std::int64_t conversation_id, std::string_view agent_id,
                            const std::optional<std::string>& expected, std::string_view assigned_by,
                            std::int64_t now_ms);

// Sets the status and, when it changed, appends conversation_status for whoever sees the
// conversation. A status a conversation may not have is std::invalid_argument.
store::StatusOutcome change_status(Statements& statements, std::int64_t conversation_id,
                                   std::string_view status, std::string_view changed_by, std::int64_t now_ms);

// Status (snoozed with its time, which must be in the future) and priority: what changed is
// stored, with conversation_status (status or snooze time) and conversation_updated (priority)
// for whoever sees the conversation. Invalid values are std::invalid_argument, checked first.
store::UpdateOutcome update(Statements& statements, std::int64_t conversation_id,
                            const store::ConversationChange& change, std::string_view changed_by,
                            std::int64_t now_ms);

// A customer's message on a pending, snoozed or resolved conversation reopens it (changed_by
// "customer"); returns the event, if it did.
std::optional<store::Event> reopen_for_customer(Statements& statements, std::int64_t conversation_id,
                                                std::string_view status_before, std::int64_t now_ms);

// Reopens the snoozed conversations due by `now_ms` (changed_by "snooze").
std::vector<store::Event> wake_snoozed(Statements& statements, std::int64_t now_ms, int limit);

// Hands every conversation of `agent_id` back (a deleted agent): conversation_assigned for each.
std::vector<store::Event> unassign_all(Statements& statements, std::string_view agent_id,
                                       std::string_view assigned_by, std::int64_t now_ms);

// An agent's reply was stored: message_sent ({"conversation","message"}) for whoever sees the
// conversation, except the session `origin` that sent it (its HTTP answer is its confirmation).
store::Event announce_sent(Statements& statements, const store::Message& message, std::string_view origin,
                           std::int64_t now_ms);

}  // namespace sb::domain
