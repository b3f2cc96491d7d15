#pragma once
// Where an agent has read a conversation up to: the one rule for moving the read position,
// which the unread counts of list items are computed from (unread = the customer's messages
// after it), for every store backend.

#include <cstdint>
#include <string_view>

#include "domain/statements.hpp"
#include "store/store.hpp"

namespace sb::domain {

// The position becomes `message_id` (0 = the newest message), unless it is already past it: a
// read never moves it back (a stale tab reading an older message must not bring badges back).
store::ReadOutcome mark_read(Statements& statements, std::int64_t conversation_id, std::string_view agent_id,
                             std::int64_t message_id, std::int64_t now_ms);

// The position moves to the message before the customer's newest one (or to "never read" when
// that is the first), so that at least that message counts as unread.
store::ReadOutcome mark_unread(Statements& statements, std::int64_t conversation_id,
                               std::string_view agent_id, std::int64_t now_ms);

}  // namespace sb::domain
