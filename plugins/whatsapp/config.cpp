#include "config.hpp"

#include <algorithm>

#include "json.hpp"

namespace sb::whatsapp {

using sb::meta::Value;
using switchboard::InvalidInput;

const char kConfigSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "WhatsApp Cloud API channel settings",
  "type": "object",
  "additionalProperties": false,
  "x-webhook-signature": {"header": "X-Hub-Signature-256", "scheme": "hmac-sha256-hex", "prefix": "sha256=",
                          "secret_setting": "app_secret"},
  "required": ["phone_number_id", "access_token"],
  "properties": {
    "phone_number_id": {
      "type": "string", "pattern": "^[0-9]{1,32}$",
      "description": "The business phone number's id (metadata.phone_number_id; not the display number). Events for it are routed to this channel"
    },
    "access_token": {
      "type": "string", "minLength": 1, "x-secret": true,
      "description": "System-user access token with whatsapp_business_messaging, sent as Authorization: Bearer"
    },
    "app_secret": {
      "type": "string", "x-secret": true,
      "description": "The Meta app's secret, key of X-Hub-Signature-256. Without it this channel's webhook URL refuses every POST (its events may still arrive through another channel of the same app)"
    },
    "verify_token": {
      "type": "string", "x-secret": true,
      "description": "The verify token entered with the callback URL in the App Dashboard. Without it the subscription handshake is refused"
    },
    "api_base": {
      "type": "string", "pattern": "^https?://", "default": "https://graph.facebook.com/v21.0",
      "description": "Graph API base URL including the version"
    },
    "waba_id": {
      "type": "string", "pattern": "^[0-9]{1,32}$",
      "description": "WhatsApp Business Account id (informational)"
    }
  }
})json";

namespace {

constexpr std::size_t kMaxIdLength = 32;
constexpr std::size_t kMaxSecretLength = 4096;

std::string_view require_string(const Value& value, std::string_view key) {
    if (!value.IsString()) throw InvalidInput("settings." + std::string(key) + " must be a string");
    return {value.GetString(), value.GetStringLength()};
}

// Graph ids go into the request path: digits only, so they can never alter the URL.
std::string_view require_id(const Value& value, std::string_view key) {
    std::string_view id = require_string(value, key);
    if (id.empty() || id.size() > kMaxIdLength ||
        !std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        throw InvalidInput("settings." + std::string(key) + " must be 1 to 32 digits (a Graph API id)");
    }
    return id;
}

// Secrets go into a header (access_token) or a comparison: printable ASCII without spaces, so
// a pasted line break cannot split a header.
std::string_view require_secret(const Value& value, std::string_view key, bool allow_empty) {
    std::string_view secret = require_string(value, key);
    if (!allow_empty && secret.empty())
        throw InvalidInput("settings." + std::string(key) + " must not be empty");
    if (secret.size() > kMaxSecretLength ||
        !std::all_of(secret.begin(), secret.end(), [](char c) { return c > ' ' && c < 0x7f; })) {
        throw InvalidInput("settings." + std::string(key) +
                           " must be at most 4096 printable ASCII characters without spaces");
    }
    return secret;
}

}  // namespace

Settings parse_settings(std::string_view json) {
    rapidjson::Document doc;
    sb::meta::parse_untrusted(doc, json, "settings");
    if (!doc.IsObject()) throw InvalidInput("settings must be a JSON object");

    Settings settings;
    bool have_number = false;
    bool have_token = false;
    for (const auto& member : doc.GetObject()) {
        std::string_view key(member.name.GetString(), member.name.GetStringLength());
        const Value& value = member.value;
        if (key == "phone_number_id") {
            settings.phone_number_id = require_id(value, key);
            have_number = true;
        } else if (key == "access_token") {
            settings.access_token = require_secret(value, key, false);
            have_token = true;
        } else if (key == "app_secret") {
            settings.app_secret = require_secret(value, key, true);
        } else if (key == "verify_token") {
            settings.verify_token = require_secret(value, key, true);
        } else if (key == "api_base") {
            std::string_view base = require_string(value, key);
            while (!base.empty() && base.back() == '/') base.remove_suffix(1);
            bool http = base.starts_with("http://") && base.size() > 7;
            bool https = base.starts_with("https://") && base.size() > 8;
            if ((!http && !https) ||
                std::any_of(base.begin(), base.end(), [](char c) { return c <= ' ' || c >= 0x7f; })) {
                throw InvalidInput("settings.api_base must be an http:// or https:// URL");
            }
            settings.api_base = base;
        } else if (key == "waba_id") {
            settings.waba_id = require_id(value, key);
        } else {
            throw InvalidInput(
                "settings." + std::string(key) +
                " is not a WhatsApp setting (known: phone_number_id, access_token, app_secret, "
                "verify_token, api_base, waba_id)");
        }
    }
    if (!have_number) throw InvalidInput("settings.phone_number_id is required");
    if (!have_token) throw InvalidInput("settings.access_token is required");
    return settings;
}

}  // namespace sb::whatsapp
