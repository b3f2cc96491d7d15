#pragma once
// Inbound translation: one WhatsApp Cloud API webhook body (platforms.md 2.2-2.6) into
// normalized events (docs/normalized-events.md).

#include <switchboard/plugin_abi.h>

#include <string>
#include <string_view>
#include <vector>

namespace sb::whatsapp {

struct LogLine {
    sb_log_level level;
    std::string message;
};

struct Normalized {
    std::vector<std::string> events;  // JSON objects, in payload order
    std::vector<LogLine> logs;        // what was skipped, and why
};

// Every entry[] > changes[] (field "messages") > value yields:
//  - one event per messages[] item: `message` (or `reaction`), account_id =
//    metadata.phone_number_id. Content the plugin does not translate, or that arrives
//    incomplete, becomes {"type":"unsupported"} with the message object in `raw`.
//  - one `status` event per statuses[] item with status sent/delivered/read/failed; other
//    statuses (e.g. "deleted", "played") are logged at debug and skipped.
//  - value-level errors[] (not tied to a message) are logged at warn; no event.
// Other fields (account_update, template status, ...) are logged at debug; no event.
// Throws switchboard::InvalidInput when the body is not a whatsapp_business_account webhook or an
// item lacks what every event needs (message id, timestamp, a sender, the phone_number_id):
// the host then dead-letters the whole body with its raw bytes.
Normalized normalize_webhook(std::string_view body);

}  // namespace sb::whatsapp
