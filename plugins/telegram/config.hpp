#pragma once
// The channel's `settings` object: parsing, validation and its JSON Schema.

#include <string>
#include <string_view>

namespace sb::telegram {

struct Settings {
    std::string bot_token;                              // secret: only ever put into request URLs
    std::string secret_token;                           // secret: empty = webhooks are not authenticated
    std::string api_base = "https://api.telegram.org";  // no trailing slash
    int poll_timeout_s = 25;                            // getUpdates long-poll timeout
};

// JSON Schema of the settings; bot_token and secret_token carry "x-secret": true.
extern const char kConfigSchema[];

// Parses and validates the settings object. Throws InvalidInput with a message that names the
// offending key and never contains a secret value.
Settings parse_settings(std::string_view json);

}  // namespace sb::telegram
