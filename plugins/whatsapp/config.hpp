#pragma once
// The channel's `settings` object: parsing, validation and its JSON Schema.

#include <string>
#include <string_view>

namespace sb::whatsapp {

struct Settings {
    std::string phone_number_id;  // the business number's id: send URL path and routing key
    std::string access_token;     // secret: only ever put into the Authorization header
    std::string app_secret;       // secret: X-Hub-Signature-256 key; empty = POSTs are refused
    std::string verify_token;     // secret: subscription handshake; empty = handshakes are refused
    std::string api_base = "https://graph.facebook.com/v21.0";  // no trailing slash
    std::string waba_id;  // informational (entry[].id of this number's account)
};

// JSON Schema of the settings; access_token, app_secret and verify_token carry "x-secret": true.
extern const char kConfigSchema[];

// Parses and validates the settings object. Throws switchboard::InvalidInput with a message that
// names the offending key and never contains a secret value.
Settings parse_settings(std::string_view json);

}  // namespace sb::whatsapp
