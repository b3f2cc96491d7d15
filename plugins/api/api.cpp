// The generic API channel (plugin id `api`): a channel for any system of the user's own — a
// website chat widget, an in-app chat, a bot platform. That system POSTs normalized events to
// /webhooks/{channel_id}; agents' replies are POSTed to its callback_url. Both directions are
// signed with HMAC-SHA256 over the raw body:
//     X-Switchboard-Signature: sha256=<lower-case hex of HMAC-SHA256(shared_secret, body)>
//
// Written as the template a third party copies: the ABI face is the SDK's Instance class and
// SWITCHBOARD_PLUGIN macro (switchboard/plugin.hpp); translation lives in inbound.cpp and
// outbound.cpp. See plugin-guide.md (share/doc/switchboard/ when installed, docs/ in the source tree).

#include <switchboard/plugin.hpp>

#include <string>
#include <string_view>

#include "inbound.hpp"
#include "json.hpp"
#include "outbound.hpp"

namespace api_channel {
namespace {

using switchboard::InvalidInput;

constexpr char kConfigSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "API channel settings",
  "type": "object",
  "additionalProperties": false,
  "x-webhook-signature": {"header": "X-Switchboard-Signature", "header_setting": "signature_header",
                          "scheme": "hmac-sha256-hex", "prefix": "sha256=", "secret_setting": "shared_secret"},
  "required": ["shared_secret", "callback_url"],
  "properties": {
    "shared_secret": {
      "type": "string", "minLength": 16, "maxLength": 1024, "x-secret": true,
      "description": "Key of the HMAC-SHA256 signatures on webhooks and callbacks (at least 16 bytes)"
    },
    "callback_url": {
      "type": "string", "pattern": "^https?://",
      "description": "Where agents' replies are POSTed as normalized outbound requests"
    },
    "signature_header": {
      "type": "string", "pattern": "^[A-Za-z0-9-]{1,64}$", "default": "X-Switchboard-Signature",
      "description": "Header carrying sha256=<hex> on webhooks and callbacks"
    },
    "timeout_ms": {
      "type": "integer", "minimum": 100, "maximum": 60000, "default": 10000,
      "description": "Timeout of each callback request"
    },
    "media_authorization": {
      "type": "string", "maxLength": 4096, "x-secret": true,
      "description": "Authorization header value sent when fetching content.media.url of inbound events (none if absent)"
    }
  }
})json";

constexpr std::string_view kSignaturePrefix = "sha256=";

struct Settings {
    std::string shared_secret;
    std::string callback_url;
    std::string signature_header = "X-Switchboard-Signature";
    std::uint32_t timeout_ms = 10000;
    std::string media_authorization;  // secret: "" = media URLs are fetched without credentials
};

// Throws InvalidInput naming the key; never quotes a value (the secret must not leak).
Settings parse_settings(std::string_view json) {
    rapidjson::Document doc;
    parse_untrusted(doc, json, "settings");
    if (!doc.IsObject()) throw InvalidInput("settings must be a JSON object");
    Settings s;
    bool have_secret = false, have_url = false;
    for (const auto& m : doc.GetObject()) {
        std::string key(string_of(m.name));
        const Value& v = m.value;
        if (key == "timeout_ms") {
            if (!v.IsInt() || v.GetInt() < 100 || v.GetInt() > 60000)
                throw InvalidInput("settings.timeout_ms must be an integer from 100 to 60000");
            s.timeout_ms = static_cast<std::uint32_t>(v.GetInt());
            continue;
        }
        if (key != "shared_secret" && key != "callback_url" && key != "signature_header" &&
            key != "media_authorization")
            throw InvalidInput("settings." + key +
                               " is not an api channel setting (known: shared_secret, callback_url, "
                               "signature_header, timeout_ms, media_authorization)");
        if (!v.IsString()) throw InvalidInput("settings." + key + " must be a string");
        std::string_view value = string_of(v);
        if (key == "media_authorization") {
            if (value.size() > 4096 || value.find_first_of("\r\n") != std::string_view::npos)
                throw InvalidInput("settings.media_authorization must be one line of at most 4096 bytes");
            s.media_authorization = value;
            continue;
        }
        if (key == "shared_secret") {
            if (value.size() < 16 || value.size() > 1024)
                throw InvalidInput("settings.shared_secret must be 16 to 1024 bytes long");
            s.shared_secret = value;
            have_secret = true;
        } else if (key == "callback_url") {
            bool http = value.substr(0, 7) == "http://" && value.size() > 7;
            bool https = value.substr(0, 8) == "https://" && value.size() > 8;
            bool clean = value.find_first_of(" \t\r\n") == std::string_view::npos;
            if (!(http || https) || !clean)
                throw InvalidInput("settings.callback_url must be an http:// or https:// URL");
            s.callback_url = value;
            have_url = true;
        } else {
            if (value.empty() || value.size() > 64 ||
                value.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") !=
                    std::string_view::npos)
                throw InvalidInput("settings.signature_header must be 1 to 64 letters, digits or '-'");
            s.signature_header = value;
        }
    }
    if (!have_secret) throw InvalidInput("settings.shared_secret is required");
    if (!have_url) throw InvalidInput("settings.callback_url is required");
    return s;
}

// One configured api channel. Immutable after construction, so calls may run concurrently
// (SB_CAP_THREAD_SAFE).
class ApiChannel final : public switchboard::Instance {
public:
    ApiChannel(const switchboard::Host& host, std::string_view settings_json)
        : Instance(host), settings_(parse_settings(settings_json)) {
        add_secret(settings_.shared_secret);
        add_secret(settings_.media_authorization);
    }

    // Inbound files: GET content.media.url, with the configured Authorization header if any.
    switchboard::MediaStep fetch_media(std::string_view media_json, const switchboard::Response* previous,
                                       switchboard::Call& call) override {
        using switchboard::MediaStep;
        if (previous != nullptr)
            return MediaStep::failed(previous->status() == 404 || previous->status() == 410 ? "not_found" : "refused",
                                     "the media URL answered HTTP " + switchboard::decimal(previous->status()));
        rapidjson::Document doc;
        parse_untrusted(doc, media_json, "media request");
        using switchboard::json::find_int;
        using switchboard::json::find_object;
        using switchboard::json::find_string;
        const Value* content = find_object(doc, "content");
        const Value* media = content != nullptr ? find_object(*content, "media") : nullptr;
        auto url = media != nullptr ? find_string(*media, "url") : std::nullopt;
        if (!url || !(url->substr(0, 8) == "https://" || url->substr(0, 7) == "http://"))
            return MediaStep::failed("not_found", "the event's media has no http(s) url");
        switchboard::OutgoingRequest download;
        download.method = "GET";
        download.url = std::string(*url);
        if (!settings_.media_authorization.empty())
            download.headers = {{"Authorization", settings_.media_authorization}};
        call.submit(download);
        MediaStep step = MediaStep::download("file");
        step.mime_type = std::string(find_string(*media, "mime").value_or(""));
        step.file_name = std::string(find_string(*media, "file_name").value_or(""));
        if (auto size = find_int(*media, "size")) step.expected_size = *size;
        return step;
    }

    // Missing or wrong signature: 401 either way (the sender can only fix its signing).
    sb_verdict verify(const switchboard::Request& request, switchboard::Call& call) override {
        if (request.method() != "POST") return call.refuse(SB_VERIFY_BAD_REQUEST, "not a POST");
        auto header = request.header(settings_.signature_header);
        if (!header)
            return call.refuse(SB_VERIFY_UNAUTHORIZED, "no " + settings_.signature_header + " header");
        if (!signature_matches(*header, request.body()))
            return call.refuse(SB_VERIFY_UNAUTHORIZED,
                               settings_.signature_header + " does not match the body");
        return SB_VERIFY_ACCEPT;
    }

    void parse(const switchboard::Request& request, switchboard::Call& call) override {
        for (const std::string& event : read_events(request.body())) call.emit(event);
    }

    // The outbound request is forwarded as the host wrote it: the user's system reads the same
    // documented shape (docs/normalized-events.md, "Outbound requests").
    void build_send(std::string_view outbound_json, switchboard::Call& call) override {
        check_outbound(outbound_json);
        switchboard::OutgoingRequest request;
        request.url = settings_.callback_url;
        request.body = std::string(outbound_json);
        request.timeout_ms = settings_.timeout_ms;
        request.headers = {{"Content-Type", "application/json"},
                           {"User-Agent", "switchboard-api-channel/1.0"},
                           {settings_.signature_header, signature(request.body)}};
        // The outbound id (ABI 1.2 hosts) stays the same across the host's retries: the callback
        // can drop a repeat of a request it already acted on.
        rapidjson::Document doc;
        parse_untrusted(doc, outbound_json, "outbound request");
        if (auto id = switchboard::json::find_string(doc, "id"); id && !id->empty())
            request.headers.emplace_back("Idempotency-Key", std::string(*id));
        call.submit(request);
    }

    switchboard::SendResult classify_send(std::string_view outbound_json,
                                          const switchboard::Response& response,
                                          switchboard::Call&) override {
        bool needs_id = true;
        try {
            needs_id = check_outbound(outbound_json) != "typing";
        } catch (const std::exception&) {
            // build_send accepted it; classify by the answer alone.
        }
        return classify_callback(response.status(), response.body(), response.transport_error(),
                                 response.header("Retry-After"), needs_id);
    }

private:
    std::string signature(std::string_view body) const {
        return std::string(kSignaturePrefix) + host().hmac_sha256_hex(settings_.shared_secret, body);
    }

    bool signature_matches(std::string_view header, std::string_view body) const {
        // Accept "SHA256=" and upper-case hex too: lower-casing the received value leaks nothing.
        std::string received(header);
        for (char& c : received)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        return host().constant_time_equal(received, signature(body));
    }

    Settings settings_;
};

}  // namespace
}  // namespace api_channel

SWITCHBOARD_PLUGIN(api_channel::ApiChannel, "api", "1.0.0",
                   "Generic API channel: your own system posts signed normalized events and receives replies "
                   "at a signed callback",
                   api_channel::kConfigSchema,
                   SB_CAP_THREAD_SAFE | SB_CAP_TYPING_IN | SB_CAP_TYPING_OUT | SB_CAP_MEDIA_OUT | SB_CAP_MEDIA_IN)
