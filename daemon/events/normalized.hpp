#pragma once
// The host's one reader of normalized events (docs/normalized-events.md, v1) and one writer of
// normalized outbound requests. Plugins produce/consume these as JSON across the ABI.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::events {

// `ignored`: an update the plugin drops by design (documented per plugin); the host counts it
// in switchboard_ignored_updates_total{channel,kind} and stores nothing.
enum class EventType { message, edit, status, typing, reaction, ignored };

struct Party {
    std::string id;
    std::string name;
    std::string username;
    std::string phone;
};

// One event emitted by a plugin's parse(), validated and copied out of its JSON.
struct NormalizedEvent {
    EventType type = EventType::message;
    std::string conversation_id;    // platform conversation key
    std::string conversation_kind;  // private | group | channel | "" (unknown)
    std::string conversation_title;
    Party sender;
    std::int64_t timestamp_ms = 0;
    std::string account_id;  // platform account that received it; "" = the channel's own
    std::string message_id;  // message/edit/status/reaction: platform message id
    bool outgoing = false;   // message with direction "out"
    // message with direction "out": the outbound request id the platform echoed back (the
    // "id" of the outbound request, e.g. Messenger's message.metadata), or empty.
    std::string outbound_id;
    std::string reply_to;      // platform message id, or empty
    std::string content_json;  // message/edit: the `content` object, serialized compactly
    std::string content_type;  // message/edit: content.type
    std::string raw_json;      // message: `raw`, serialized, or empty
    std::string status;        // status: sent | delivered | read | failed
    std::string error_code;    // status failed
    std::string error_message;
    std::string typing_state;       // typing: on | off
    std::string emoji;              // reaction
    std::string ignored_kind;       // ignored: what the platform called the update
    std::int64_t edited_at_ms = 0;  // edit
    std::int64_t watermark_ms = 0;  // status without id: every message we sent up to this time
    // message with `system` content: content.reachable (false = the customer blocked the
    // business; true = they can be written to again); nullopt when it says neither.
    std::optional<bool> reachable;
};

struct ParseError {
    std::string message;  // names the offending field
};

// Reads one event object. Unknown fields are ignored; a missing or mistyped required field
// is an error naming it.
std::optional<NormalizedEvent> read_event(std::string_view json, ParseError& error);

}  // namespace sb::events
