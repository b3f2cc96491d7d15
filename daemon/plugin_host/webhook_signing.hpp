#pragma once
// How a plugin's webhooks are signed, as its settings schema declares it (the top-level
// "x-webhook-signature" annotation, docs/plugin-guide.md): enough for a tool to sign a request
// the way the platform would, from the channel's settings. The daemon never needs this (the
// plugin's own verify() checks signatures); switchboardctl simulate-inbound and the
// conformance kit do.
//
//   "x-webhook-signature": {
//     "header": "X-Hub-Signature-256",        the header carrying it
//     "header_setting": "signature_header",  optional: a setting that renames the header
//     "scheme": "hmac-sha256-hex" | "hmac-sha256-base64" | "token",
//     "prefix": "sha256=",                   optional, before the value
//     "secret_setting": "app_secret"         the setting holding the key (or the token)
//   }
// "token" sends the secret itself (Telegram's X-Telegram-Bot-Api-Secret-Token); an empty or
// absent token setting means the channel checks none, and no header is sent.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::plugin_host {

struct WebhookSigning {
    enum class Scheme { hmac_sha256_hex, hmac_sha256_base64, token };
    std::string header;
    std::string header_setting;
    Scheme scheme = Scheme::hmac_sha256_hex;
    std::string prefix;
    std::string secret_setting;
};

// The annotation of `schema_json`, nullopt when it declares none. Throws std::invalid_argument
// naming the member when the annotation is there but malformed.
std::optional<WebhookSigning> webhook_signing_of(std::string_view schema_json);

// The header (name, value) that signs `body` for a channel with `settings_json`; nullopt for
// a "token" scheme whose token setting is empty or absent. Throws std::invalid_argument
// naming the setting when the key is missing.
std::optional<std::pair<std::string, std::string>> sign_webhook(const WebhookSigning& signing,
                                                                std::string_view settings_json,
                                                                std::string_view body);

// Puts `signature` into `headers` in place of whatever signed them before: removes the headers
// named `signing.header` and `signature->first` (case-insensitively), then adds `signature`;
// nullopt leaves it out (a channel without a secret checks none).
void replace_signature(std::vector<std::pair<std::string, std::string>>& headers,
                       const WebhookSigning& signing,
                       const std::optional<std::pair<std::string, std::string>>& signature);

}  // namespace sb::plugin_host
