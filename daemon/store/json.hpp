#pragma once
// The one writer of the JSON shapes of stored records, as the REST API returns them and as
// WebSocket frames carry them (docs/api.md).

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "store/store.hpp"

namespace sb::store {

std::string to_json(const Conversation& conversation);
std::string to_json(const Message& message);
// {"type": message|conversation|contact, "message"?, "conversation"?, "contact"?,
// "snippet": [{"text","match"}]}.
std::string to_json(const SearchHit& hit);
// {"id","name","display_name","email","phone","company","notes","attributes":{…},"merged_into",
// "created_at","updated_at","identities":[…],"conversation_ids":[…]}.
std::string to_json(const Person& contact);
// The `data` of a contact_updated frame: {"contact":{… without conversation_ids},"changed_by",
// "merged_from"? (the contact just merged into it)}.
std::string contact_updated_data(const Person& contact, std::string_view changed_by,
                                 std::int64_t merged_from = 0);

// The `data` object of a new_message frame: {"conversation":{…},"message":{…}}.
std::string new_message_data(const Conversation& conversation, const Message& message);
// The `data` of an agent_mentioned frame: {"agent_id","conversation":{…},"message":{the note}}.
std::string mention_data(const Conversation& conversation, const Message& note, std::string_view agent_id);
// The `data` object of message_updated / message_status frames: {"message":{…}}.
std::string message_data(const Message& message);
// The `data` object of conversation_assigned frames.
// conversation_status: {"conversation": {...}, "changed_by": "<agent id>"}.
std::string status_data(const Conversation& conversation, std::string_view changed_by);
// conversation_updated: {"conversation": {...}, "changed_by": "<agent id>", "fields": [...]}.
std::string updated_data(const Conversation& conversation, std::string_view changed_by,
                         std::initializer_list<std::string_view> fields);
std::string assignment_data(std::int64_t conversation_id, std::string_view agent_id,
                            std::string_view previous_agent_id, std::string_view assigned_by);
std::string to_json(const Agent& agent);
// {"name","color","description"}.
std::string to_json(const Label& label);
// {"id","shortcode","text","scope","owner_id" (null when shared),"created_at","updated_at"}, and
// "rendered" when given (the text for one conversation).
std::string to_json(const CannedReply& reply, const std::optional<std::string>& rendered = std::nullopt);
// The `data` of a conversation_read frame: {"conversation_id","agent_id","last_read_message_id",
// "unread_count"}, from a conversation carrying that agent's read state.
std::string read_data(const Conversation& conversation, std::string_view agent_id);
// The `data` of a message_reaction frame: {"message":{…},"emoji":"…","sender":{…}}.
std::string reaction_data(const Message& message, const sb::events::NormalizedEvent& event);

}  // namespace sb::store
