#include "config.hpp"

#include <algorithm>

#include "json_util.hpp"

namespace sb::telegram {

const char kConfigSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Telegram channel settings",
  "type": "object",
  "additionalProperties": false,
  "x-webhook-signature": {"header": "X-Telegram-Bot-Api-Secret-Token", "scheme": "token",
                          "secret_setting": "secret_token"},
  "required": ["bot_token"],
  "properties": {
    "bot_token": {
      "type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9:_-]+$", "x-secret": true,
      "description": "Bot API token from @BotFather (\"123456:ABC...\")"
    },
    "secret_token": {
      "type": "string", "maxLength": 256, "pattern": "^[A-Za-z0-9_-]*$", "x-secret": true,
      "description": "The secret_token given to setWebhook; webhook requests must carry it in X-Telegram-Bot-Api-Secret-Token. Empty: webhooks are not authenticated"
    },
    "api_base": {
      "type": "string", "pattern": "^https?://", "default": "https://api.telegram.org",
      "description": "Bot API server (a local Bot API server or a test fake)"
    },
    "poll_timeout_s": {
      "type": "integer", "minimum": 0, "maximum": 600, "default": 25,
      "description": "getUpdates long-poll timeout in seconds"
    }
  }
})json";

namespace {

constexpr int kMaxPollTimeoutS = 600;
// setWebhook's secret_token: 1-256 characters of A-Z a-z 0-9 _ - (platforms.md 5.1).
constexpr std::size_t kMaxSecretTokenLength = 256;

bool is_token_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

std::string_view require_string(const Value& value, std::string_view key) {
    if (!value.IsString()) throw InvalidInput("settings." + std::string(key) + " must be a string");
    return {value.GetString(), value.GetStringLength()};
}

}  // namespace

Settings parse_settings(std::string_view json) {
    rapidjson::Document doc;
    parse_untrusted(doc, json, "settings");
    if (!doc.IsObject()) throw InvalidInput("settings must be a JSON object");

    Settings settings;
    bool have_token = false;
    for (const auto& member : doc.GetObject()) {
        std::string_view key(member.name.GetString(), member.name.GetStringLength());
        const Value& value = member.value;
        if (key == "bot_token") {
            std::string_view token = require_string(value, key);
            // The token goes into the request path: allow only the characters Telegram uses
            // (digits, ':', letters, '_', '-') so it can never alter the URL.
            if (token.empty()) throw InvalidInput("settings.bot_token must not be empty");
            if (!std::all_of(token.begin(), token.end(),
                             [](char c) { return is_token_char(c) || c == ':'; })) {
                throw InvalidInput("settings.bot_token contains characters a Telegram bot token never has");
            }
            settings.bot_token = token;
            have_token = true;
        } else if (key == "secret_token") {
            std::string_view secret = require_string(value, key);
            if (secret.size() > kMaxSecretTokenLength ||
                !std::all_of(secret.begin(), secret.end(), is_token_char)) {
                throw InvalidInput(
                    "settings.secret_token must be at most 256 characters of A-Z, a-z, 0-9, '_' and '-' "
                    "(what setWebhook accepts)");
            }
            settings.secret_token = secret;
        } else if (key == "api_base") {
            std::string_view base = require_string(value, key);
            while (!base.empty() && base.back() == '/') base.remove_suffix(1);
            bool http = base.starts_with("http://") && base.size() > 7;
            bool https = base.starts_with("https://") && base.size() > 8;
            if (!http && !https) {
                throw InvalidInput("settings.api_base must be an http:// or https:// URL");
            }
            settings.api_base = base;
        } else if (key == "poll_timeout_s") {
            if (!value.IsInt() || value.GetInt() < 0 || value.GetInt() > kMaxPollTimeoutS) {
                throw InvalidInput("settings.poll_timeout_s must be an integer from 0 to 600");
            }
            settings.poll_timeout_s = value.GetInt();
        } else {
            throw InvalidInput("settings." + std::string(key) +
                               " is not a Telegram setting (known: bot_token, secret_token, api_base, "
                               "poll_timeout_s)");
        }
    }
    if (!have_token) throw InvalidInput("settings.bot_token is required");
    return settings;
}

}  // namespace sb::telegram
