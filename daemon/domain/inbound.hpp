#pragma once
// What a customer's platform event does to the conversation it belongs to: the one rule for
// messages, edits, delivery receipts and reactions, for every store backend. A backend calls
// apply_event() for every normalized event of a queue row, inside the row's transaction.

#include <cstdint>
#include <string>

#include "domain/statements.hpp"
#include "events/normalized.hpp"
#include "store/store.hpp"

namespace sb::domain {

// Applies one normalized event of channel `channel_id`: stores what it changes and appends
// the events agents are told of (or, for typing, passes it on as ephemeral) to `result`.
void apply_event(Statements& statements, const std::string& channel_id, const sb::events::NormalizedEvent& ev,
                 std::int64_t now_ms, store::ApplyResult& result);

}  // namespace sb::domain
