#pragma once
// Reactions kept on the message they belong to, so that a conversation's history shows them
// (not only the live frame): one rule for both store backends.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "events/normalized.hpp"

namespace sb::domain {

// The message's reactions (store::Message::reactions_json: "" = none, else a JSON array of
// {"sender":{"id","name"?},"emoji","reacted_at"}) after `sender` reacted with `emoji`: a
// customer has at most one reaction on a message (WhatsApp, Messenger and Instagram replace it;
// Telegram's first of new_reaction), so the sender's earlier one is replaced, and an empty
// emoji removes it. nullopt when nothing changes (a redelivered reaction). Stored JSON that does
// not parse counts as no reactions.
std::optional<std::string> react(std::string_view reactions_json, const sb::events::Party& sender,
                                 std::string_view emoji, std::int64_t now_ms);

}  // namespace sb::domain
