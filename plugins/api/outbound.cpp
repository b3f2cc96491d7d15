#include "outbound.hpp"

#include "json.hpp"

namespace api_channel {
namespace {

using switchboard::InvalidInput;
using switchboard::SendResult;
using switchboard::Unsupported;

// Longest text the channel forwards; the user's system may have its own, smaller limit.
constexpr std::size_t kMaxTextBytes = 65536;
// sb_send_result::platform_id holds 127 bytes.
constexpr std::size_t kMaxIdBytes = 127;

std::uint32_t retry_after_ms(std::optional<std::string_view> header) {
    if (!header || header->empty() || header->size() > 6) return 0;  // also: HTTP-date form, unsupported
    std::uint32_t seconds = 0;
    for (char c : *header) {
        if (c < '0' || c > '9') return 0;
        seconds = seconds * 10 + static_cast<std::uint32_t>(c - '0');
    }
    return seconds * 1000;
}

// {"error":{"code":"...","message":"..."}} in an error answer, if the callback sent one.
void read_error(std::string_view body, std::string& code, std::string& message) {
    rapidjson::Document doc;
    try {
        parse_untrusted(doc, body, "callback answer");
    } catch (const InvalidInput&) {
        return;
    }
    const Value* error = member(doc, "error");
    if (error == nullptr || !error->IsObject()) return;
    if (const Value* c = member(*error, "code"); c != nullptr && c->IsString()) code = string_of(*c);
    if (const Value* m = member(*error, "message"); m != nullptr && m->IsString()) message = string_of(*m);
}

}  // namespace

std::string check_outbound(std::string_view outbound_json) {
    rapidjson::Document doc;
    parse_untrusted(doc, outbound_json, "outbound request");
    if (!doc.IsObject()) throw InvalidInput("outbound request must be a JSON object");
    const Value* v = member(doc, "v");
    if (v == nullptr || !v->IsInt() || v->GetInt() != 1) throw InvalidInput("outbound v must be 1");
    const Value* conversation = member(doc, "conversation");
    const Value* id = conversation != nullptr ? member(*conversation, "id") : nullptr;
    if (id == nullptr || !id->IsString() || id->GetStringLength() == 0)
        throw InvalidInput("outbound conversation.id must be a non-empty string");
    const Value* content = member(doc, "content");
    const Value* type = content != nullptr ? member(*content, "type") : nullptr;
    if (type == nullptr || !type->IsString()) throw InvalidInput("outbound content.type must be a string");
    std::string kind(string_of(*type));
    if (kind == "text") {
        const Value* text = member(*content, "text");
        if (text == nullptr || !text->IsString() || text->GetStringLength() == 0)
            throw InvalidInput("content.text must be a non-empty string");
        if (text->GetStringLength() > kMaxTextBytes)
            throw InvalidInput("content.text is longer than 65536 bytes");
    } else if (kind == "image" || kind == "document" || kind == "audio" || kind == "video") {
        const Value* url = member(*content, "url");
        if (url == nullptr || !url->IsString() || url->GetStringLength() == 0)
            throw InvalidInput("content.url must be a non-empty string");
        for (const char* key : {"caption", "file_name"}) {
            const Value* s = member(*content, key);
            if (s != nullptr && !s->IsString())
                throw InvalidInput(std::string("content.") + key + " must be a string");
        }
    } else if (kind == "typing") {
        const Value* state = member(*content, "state");
        if (state == nullptr || !state->IsString() ||
            (string_of(*state) != "on" && string_of(*state) != "off"))
            throw InvalidInput("content.state must be on or off");
    } else {
        throw Unsupported("the api channel does not send content of type '" + kind +
                          "' (it sends text, image, document, audio, video and typing)");
    }
    return kind;
}

SendResult classify_callback(int status, std::string_view body, std::string_view transport_error,
                             std::optional<std::string_view> retry_after, bool needs_id) {
    const std::string http_code = "http_" + switchboard::decimal(status);
    if (status == 0)
        return SendResult::error(SB_SEND_RETRYABLE, "transport",
                                 "callback_url did not answer: " + std::string(transport_error));
    if (status >= 200 && status < 300) {
        if (!needs_id) return SendResult::ok({});
        rapidjson::Document doc;
        try {
            parse_untrusted(doc, body, "callback answer");
        } catch (const InvalidInput& e) {
            return SendResult::error(SB_SEND_PERMANENT, http_code,
                                     std::string("callback answered 2xx without {\"id\":...}: ") + e.what());
        }
        const Value* id = member(doc, "id");
        std::string platform_id;
        if (id != nullptr && id->IsString()) platform_id = string_of(*id);
        if (id != nullptr && id->IsInt64()) platform_id = switchboard::decimal(id->GetInt64());
        if (platform_id.empty() || platform_id.size() > kMaxIdBytes)
            return SendResult::error(SB_SEND_PERMANENT, http_code,
                                     "callback answered 2xx without an \"id\" string of 1 to 127 bytes; the "
                                     "message may have been delivered");
        return SendResult::ok(std::move(platform_id));
    }
    std::string code = http_code;
    std::string message = "callback_url answered HTTP " + switchboard::decimal(status);
    read_error(body, code, message);
    if (status == 429)
        return SendResult::error(SB_SEND_RATE_LIMITED, code, message, retry_after_ms(retry_after));
    if (status == 401 || status == 403) return SendResult::error(SB_SEND_AUTH, code, message);
    if (status >= 500)
        return SendResult::error(SB_SEND_RETRYABLE, code, message, retry_after_ms(retry_after));
    return SendResult::error(SB_SEND_PERMANENT, code, message);
}

}  // namespace api_channel
