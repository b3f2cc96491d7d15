#include "plugin_host/webhook_signing.hpp"

#include <strings.h>
#include <array>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>
#include <switchboard/plugin.hpp>

namespace sb::plugin_host {
namespace {

std::string member(const rapidjson::Value& object, const char* key, bool required) {
    auto it = object.FindMember(key);
    if (it == object.MemberEnd()) {
        if (required) throw std::invalid_argument(std::string("x-webhook-signature.") + key + " is missing");
        return {};
    }
    if (!it->value.IsString() || (required && it->value.GetStringLength() == 0))
        throw std::invalid_argument(std::string("x-webhook-signature.") + key +
                                    " must be a non-empty string");
    return {it->value.GetString(), it->value.GetStringLength()};
}

std::array<std::uint8_t, 32> hmac_sha256(std::string_view key, std::string_view data) {
    std::array<std::uint8_t, 32> out{};
    unsigned int length = 32;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &length);
    return out;
}

}  // namespace

std::optional<WebhookSigning> webhook_signing_of(std::string_view schema_json) {
    rapidjson::Document schema;
    schema.Parse(schema_json.data(), schema_json.size());
    if (schema.HasParseError() || !schema.IsObject())
        throw std::invalid_argument("the settings schema is not a JSON object");
    auto it = schema.FindMember("x-webhook-signature");
    if (it == schema.MemberEnd()) return std::nullopt;
    if (!it->value.IsObject()) throw std::invalid_argument("x-webhook-signature must be an object");
    const auto& a = it->value;
    WebhookSigning s;
    s.header = member(a, "header", true);
    s.header_setting = member(a, "header_setting", false);
    s.prefix = member(a, "prefix", false);
    s.secret_setting = member(a, "secret_setting", true);
    std::string scheme = member(a, "scheme", true);
    if (scheme == "hmac-sha256-hex")
        s.scheme = WebhookSigning::Scheme::hmac_sha256_hex;
    else if (scheme == "hmac-sha256-base64")
        s.scheme = WebhookSigning::Scheme::hmac_sha256_base64;
    else if (scheme == "token")
        s.scheme = WebhookSigning::Scheme::token;
    else
        throw std::invalid_argument(
            "x-webhook-signature.scheme must be hmac-sha256-hex, hmac-sha256-base64 or "
            "token, not \"" +
            scheme + "\"");
    return s;
}

std::optional<std::pair<std::string, std::string>> sign_webhook(const WebhookSigning& signing,
                                                                std::string_view settings_json,
                                                                std::string_view body) {
    rapidjson::Document settings;
    settings.Parse(settings_json.data(), settings_json.size());
    if (settings.HasParseError() || !settings.IsObject())
        throw std::invalid_argument("the channel's settings are not a JSON object");
    auto text = [&](const std::string& key) -> std::string {
        auto it = settings.FindMember(key.c_str());
        if (it == settings.MemberEnd() || !it->value.IsString()) return {};
        return {it->value.GetString(), it->value.GetStringLength()};
    };
    std::string header = signing.header;
    if (!signing.header_setting.empty()) {
        std::string renamed = text(signing.header_setting);
        if (!renamed.empty()) header = renamed;
    }
    std::string secret = text(signing.secret_setting);
    if (signing.scheme == WebhookSigning::Scheme::token) {
        if (secret.empty()) return std::nullopt;
        return std::pair{header, signing.prefix + secret};
    }
    if (secret.empty())
        throw std::invalid_argument("the channel's settings." + signing.secret_setting +
                                    " is missing or empty; its webhooks are signed with it");
    auto digest = hmac_sha256(secret, body);
    std::string value = signing.scheme == WebhookSigning::Scheme::hmac_sha256_base64
                            ? switchboard::base64(digest.data(), digest.size())
                            : switchboard::hex(digest.data(), digest.size());
    return std::pair{header, signing.prefix + value};
}

void replace_signature(std::vector<std::pair<std::string, std::string>>& headers,
                       const WebhookSigning& signing,
                       const std::optional<std::pair<std::string, std::string>>& signature) {
    auto named = [](const std::string& a, const std::string& b) {
        return strcasecmp(a.c_str(), b.c_str()) == 0;
    };
    std::erase_if(headers, [&](const auto& h) {
        return named(h.first, signing.header) || (signature && named(h.first, signature->first));
    });
    if (signature) headers.push_back(*signature);
}

}  // namespace sb::plugin_host
