#include "domain/conversations.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "identity/principal.hpp"
#include "store/json.hpp"

namespace sb::domain {

using store::AssignOutcome;
using store::StatusOutcome;
using store::UpdateOutcome;

AssignOutcome assign(Statements& st, std::int64_t conversation_id, std::string_view agent_id,
                     const std::optional<std::string>& expected, std::string_view assigned_by,
                     std::int64_t now_ms) {
    AssignOutcome out;
    auto previous = st.lock_assignee(conversation_id);
    if (!previous) return out;  // not_found
    if (!agent_id.empty() && !st.agent_exists(agent_id))
        throw std::invalid_argument(fmt::format("no agent \"{}\"", agent_id));
    out.conversation = *st.conversation(conversation_id);
    // Already as asked is "unchanged" for everyone: an agent handing back a conversation nobody
    // holds (or taking one it already holds) gets 200 like an admin, not a conflict.
    if (*previous == agent_id) {
        out.kind = AssignOutcome::Kind::unchanged;
        return out;
    }
    if (expected && *expected != *previous) {
        out.kind = AssignOutcome::Kind::conflict;
        return out;
    }
    st.set_assignee(conversation_id, agent_id);
    out.conversation = *st.conversation(conversation_id);
    out.event = st.append_event("conversation_assigned", conversation_id,
                                store::assignment_data(conversation_id, agent_id, *previous, assigned_by),
                                now_ms, identity::Audience::of_assignment(agent_id, *previous));
    out.kind = AssignOutcome::Kind::assigned;
    return out;
}

namespace {

void check(const store::ConversationChange& change, std::int64_t now_ms) {
    if (change.status) {
        const auto& s = *change.status;
        if (s != "open" && s != "pending" && s != "snoozed" && s != "resolved")
            throw std::invalid_argument(
                fmt::format("status must be open, pending, snoozed or resolved, got \"{}\"", s));
        if (s == "snoozed" && change.snoozed_until_ms <= now_ms)
            throw std::invalid_argument("snoozed needs snoozed_until, a time in the future");
    }
    if ((!change.status || *change.status != "snoozed") && change.snoozed_until_ms != 0)
        throw std::invalid_argument("snoozed_until goes with status snoozed only");
    if (change.priority) {
        const auto& p = *change.priority;
        if (p != "none" && p != "low" && p != "medium" && p != "high" && p != "urgent")
            throw std::invalid_argument(
                fmt::format("priority must be none, low, medium, high or urgent, got \"{}\"", p));
    }
}

// Whoever sees the conversation: its assignee, or every agent while unassigned.
store::Event append_status(Statements& st, const store::Conversation& c, std::string_view changed_by,
                           std::int64_t now_ms) {
    return st.append_event("conversation_status", c.id, store::status_data(c, changed_by), now_ms,
                           identity::Audience::of_conversation(c.assignee_id));
}

}  // namespace

UpdateOutcome update(Statements& st, std::int64_t conversation_id, const store::ConversationChange& change,
                     std::string_view changed_by, std::int64_t now_ms) {
    check(change, now_ms);
    UpdateOutcome out;
    if (!st.lock_assignee(conversation_id)) return out;
    auto before = st.conversation(conversation_id);
    if (!before) return out;
    const bool status_changed = change.status && (*change.status != before->status ||
                                                  change.snoozed_until_ms != before->snoozed_until_ms);
    const bool priority_changed = change.priority && *change.priority != before->priority;
    if (status_changed) st.set_status(conversation_id, *change.status, change.snoozed_until_ms);
    if (priority_changed) st.set_priority(conversation_id, *change.priority);
    out.conversation = st.conversation(conversation_id);
    if (status_changed) out.events.push_back(append_status(st, *out.conversation, changed_by, now_ms));
    if (priority_changed)
        out.events.push_back(
            st.append_event("conversation_updated", conversation_id,
                            store::updated_data(*out.conversation, changed_by, {"priority"}), now_ms,
                            identity::Audience::of_conversation(out.conversation->assignee_id)));
    return out;
}

StatusOutcome change_status(Statements& st, std::int64_t conversation_id, std::string_view status,
                            std::string_view changed_by, std::int64_t now_ms) {
    store::ConversationChange change;
    change.status = std::string(status);
    auto updated = update(st, conversation_id, change, changed_by, now_ms);
    StatusOutcome out;
    out.conversation = std::move(updated.conversation);
    if (!updated.events.empty()) out.event = std::move(updated.events.front());
    return out;
}

std::optional<store::Event> reopen_for_customer(Statements& st, std::int64_t conversation_id,
                                                std::string_view status_before, std::int64_t now_ms) {
    if (status_before == "open") return std::nullopt;
    st.set_status(conversation_id, "open", 0);
    auto c = st.conversation(conversation_id);
    if (!c) return std::nullopt;
    return append_status(st, *c, "customer", now_ms);
}

std::vector<store::Event> wake_snoozed(Statements& st, std::int64_t now_ms, int limit) {
    std::vector<store::Event> events;
    for (std::int64_t id : st.snoozed_due(now_ms, limit)) {
        st.set_status(id, "open", 0);
        if (auto c = st.conversation(id)) events.push_back(append_status(st, *c, "snooze", now_ms));
    }
    return events;
}

store::Event announce_sent(Statements& st, const store::Message& message, std::string_view origin,
                           std::int64_t now_ms) {
    const auto conversation = st.conversation(message.conversation_id);
    return st.append_event("message_sent", message.conversation_id,
                           store::new_message_data(*conversation, message), now_ms, std::nullopt, origin);
}

std::vector<store::Event> unassign_all(Statements& st, std::string_view agent_id,
                                       std::string_view assigned_by, std::int64_t now_ms) {
    std::vector<store::Event> events;
    for (const auto id : st.assigned_to(agent_id)) {
        auto outcome = assign(st, id, "", std::nullopt, assigned_by, now_ms);
        if (outcome.kind == store::AssignOutcome::Kind::assigned) events.push_back(std::move(outcome.event));
    }
    return events;
}

}  // namespace sb::domain
