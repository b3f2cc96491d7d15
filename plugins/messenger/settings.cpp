#include "settings.hpp"

#include <algorithm>

#include "json.hpp"
#include "messaging_common.hpp"

namespace sb::messaging {

namespace {

using meta::InvalidInput;
using meta::Value;

// Graph ids are decimal; a longer value is not an id.
constexpr std::size_t kMaxAccountIdLength = 32;
// Long-lived Page tokens are a few hundred characters; this only bounds hostile input.
constexpr std::size_t kMaxSecretLength = 4096;

std::string_view require_string(const Value& value, const std::string& key) {
    if (!value.IsString()) throw InvalidInput("settings." + key + " must be a string");
    return {value.GetString(), value.GetStringLength()};
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
// Printable ASCII without space: what may go into an HTTP header value unquoted.
bool is_token_char(char c) { return c > ' ' && c < 0x7f; }
bool is_control(char c) { return static_cast<unsigned char>(c) < ' ' || c == 0x7f; }

// A secret: required, non-empty, bounded, free of characters that could break the place it goes.
std::string parse_secret(const Value& value, const std::string& key, bool (*allowed)(char),
                         std::string_view allowed_text) {
    std::string_view secret = require_string(value, key);
    if (secret.empty()) throw InvalidInput("settings." + key + " must not be empty");
    if (secret.size() > kMaxSecretLength) throw InvalidInput("settings." + key + " is too long");
    if (!std::all_of(secret.begin(), secret.end(), allowed)) {
        throw InvalidInput("settings." + key + " must consist of " + std::string(allowed_text));
    }
    return std::string(secret);
}

bool not_control(char c) { return !is_control(c); }

}  // namespace

Settings parse_settings(const Product& product, std::string_view json) {
    rapidjson::Document doc;
    meta::parse_untrusted(doc, json, "settings");
    if (!doc.IsObject()) throw InvalidInput("settings must be a JSON object");

    const std::string account_key(product.account_key);
    const std::string token_key(product.token_key);
    Settings settings;
    bool have_account = false;
    bool have_token = false;
    bool have_app_secret = false;
    bool have_verify_token = false;
    for (const auto& member : doc.GetObject()) {
        const std::string key(member.name.GetString(), member.name.GetStringLength());
        const Value& value = member.value;
        if (key == account_key) {
            std::string_view id = require_string(value, key);
            // It goes into the request path: digits only, so it can never alter the URL.
            if (id.empty() || id.size() > kMaxAccountIdLength ||
                !std::all_of(id.begin(), id.end(), is_digit)) {
                throw InvalidInput("settings." + key + " must be the numeric " +
                                   std::string(product.account_noun));
            }
            settings.account_id = id;
            have_account = true;
        } else if (key == token_key) {
            settings.access_token = parse_secret(value, key, is_token_char, "printable ASCII without spaces");
            have_token = true;
        } else if (key == "app_secret") {
            settings.app_secret = parse_secret(value, key, is_token_char, "printable ASCII without spaces");
            have_app_secret = true;
        } else if (key == "verify_token") {
            settings.verify_token =
                parse_secret(value, key, not_control, "characters other than control characters");
            have_verify_token = true;
        } else if (key == "api_base") {
            std::string_view base = require_string(value, key);
            while (!base.empty() && base.back() == '/') base.remove_suffix(1);
            bool http = base.starts_with("http://") && base.size() > 7;
            bool https = base.starts_with("https://") && base.size() > 8;
            if ((!http && !https) || !std::all_of(base.begin(), base.end(), is_token_char)) {
                throw InvalidInput("settings.api_base must be an http:// or https:// URL");
            }
            settings.api_base = base;
        } else {
            throw InvalidInput("settings." + key + " is not a " + std::string(product.name) +
                               " setting (known: " + account_key + ", " + token_key +
                               ", app_secret, verify_token, api_base)");
        }
    }
    for (const auto& [have, key] : {std::pair{have_account, account_key}, std::pair{have_token, token_key},
                                    std::pair{have_app_secret, std::string("app_secret")},
                                    std::pair{have_verify_token, std::string("verify_token")}}) {
        if (!have) throw InvalidInput("settings." + key + " is required");
    }
    return settings;
}

}  // namespace sb::messaging
