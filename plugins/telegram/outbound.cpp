#include "outbound.hpp"

#include <charconv>

#include <switchboard/plugin_abi.h>

#include "json_util.hpp"

namespace sb::telegram {

namespace {

// Bot API limits, in UTF-16 code units (platforms.md 5.5).
constexpr std::size_t kMaxTextLength = 4096;
constexpr std::size_t kMaxCaptionLength = 1024;
// getUpdates holds the connection up to `timeout` seconds; give the host this much more
// before it calls the request dead.
constexpr std::uint32_t kPollGraceMs = 10'000;
// The update types the plugin gives a place (docs/normalized-events.md, Telegram). Named
// explicitly because getUpdates without a list leaves out message_reaction; the ones the
// plugin only ignores (inline queries, poll state, anonymous reaction counts, business
// connections) are not asked for at all.
constexpr const char* kAllowedUpdates[] = {"message",
                                           "edited_message",
                                           "channel_post",
                                           "edited_channel_post",
                                           "business_message",
                                           "edited_business_message",
                                           "deleted_business_messages",
                                           "message_reaction",
                                           "callback_query",
                                           "shipping_query",
                                           "pre_checkout_query",
                                           "purchased_paid_media",
                                           "poll_answer",
                                           "my_chat_member",
                                           "chat_member",
                                           "chat_join_request",
                                           "chat_boost",
                                           "removed_chat_boost"};

std::string method_url(const Settings& settings, std::string_view method) {
    return settings.api_base + "/bot" + settings.bot_token + "/" + std::string(method);
}

std::optional<std::int64_t> parse_int64(std::string_view text) {
    std::int64_t value = 0;
    if (text.empty() || text.front() == '+') return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// chat_id: an integer chat id goes out as a JSON number, anything else ("@channelname") as a
// string, as sendMessage accepts both.
void write_chat_id(JsonWriter& w, std::string_view conversation_id) {
    w.Key("chat_id");
    if (auto id = parse_int64(conversation_id)) {
        w.Int64(*id);
    } else {
        w.String(conversation_id.data(), static_cast<rapidjson::SizeType>(conversation_id.size()));
    }
}

// The message_id of a "<chat>:<message_id>" platform id; nullopt for ids of other shapes that
// name no message (a button tap "cb:<id>", an "update:<id>").
std::optional<std::int64_t> replied_message_id(std::string_view reply_to) {
    auto colon = reply_to.rfind(':');
    if (colon == std::string_view::npos) throw InvalidInput("reply_to must be \"<chat_id>:<message_id>\"");
    std::string_view chat = reply_to.substr(0, colon);
    if (chat == "cb" || chat == "update") return std::nullopt;
    auto message_id = parse_int64(reply_to.substr(colon + 1));
    if (!message_id || *message_id <= 0) throw InvalidInput("reply_to must be \"<chat_id>:<message_id>\"");
    return message_id;
}

std::string_view require_nonempty_string(const Value& object, const char* key, const std::string& path) {
    auto value = find_string(object, key);
    if (!value || value->empty()) throw InvalidInput(path + "." + key + " must be a non-empty string");
    return *value;
}

std::string finish(rapidjson::StringBuffer& buffer) { return {buffer.GetString(), buffer.GetSize()}; }

std::optional<std::uint32_t> seconds_to_ms(std::int64_t seconds) {
    if (seconds < 0) return std::nullopt;
    constexpr std::int64_t kMaxSeconds = 24 * 3600;  // anything longer is not a sane back-off
    return static_cast<std::uint32_t>(std::min(seconds, kMaxSeconds) * 1000);
}

int class_for_code(int code) {
    if (code == 429) return SB_SEND_RATE_LIMITED;
    if (code == 401) return SB_SEND_AUTH;
    if (code >= 500) return SB_SEND_RETRYABLE;
    // 400 bad request (chat not found, text too long, ...), 403 blocked / deactivated / kicked,
    // 404 unknown method: resending the same request cannot succeed.
    if (code >= 400) return SB_SEND_PERMANENT;
    // 2xx/3xx without a readable {"ok":true}: most likely a proxy answering, not Telegram, so
    // the message was probably not sent. Retrying risks a duplicate; the alternative loses it.
    return SB_SEND_RETRYABLE;
}

}  // namespace

// An agent's upload (content "upload", ABI 1.3) as Bot API multipart: sendPhoto/sendDocument/
// sendAudio/sendVideo/sendVoice with chat_id, caption and the file part; photos at most 10 MB,
// other files 50 MB (platforms.md 5.7), refused here before anything is sent.
ApiRequest build_upload_request(const Settings& settings, const Value& doc, const Value& content,
                                std::string_view type, std::string_view conversation_id) {
    const Value& upload = *find_object(content, "upload");
    struct UploadMethod {
        std::string_view type;
        std::string_view method;
        std::string_view field;
        std::int64_t max_bytes;
    };
    static constexpr std::int64_t kMb = 1024 * 1024;
    static constexpr UploadMethod kUploadMethods[] = {{"image", "sendPhoto", "photo", 10 * kMb},
                                                      {"document", "sendDocument", "document", 50 * kMb},
                                                      {"audio", "sendAudio", "audio", 50 * kMb},
                                                      {"video", "sendVideo", "video", 50 * kMb},
                                                      {"voice", "sendVoice", "voice", 50 * kMb}};
    const UploadMethod* method = nullptr;
    for (const UploadMethod& m : kUploadMethods)
        if (m.type == type) method = &m;
    if (method == nullptr)
        throw Unsupported("an upload cannot be sent to Telegram as \"" + std::string(type.substr(0, 32)) +
                          "\"");
    std::string_view placeholder = require_nonempty_string(upload, "placeholder", "content.upload");
    std::string_view mime = find_string(upload, "mime_type").value_or("application/octet-stream");
    const std::int64_t size = find_int(upload, "size").value_or(0);
    if (size > method->max_bytes)
        throw InvalidInput("the file is " + decimal(size) + " bytes; Telegram takes at most " +
                           decimal(method->max_bytes / kMb) + " MB for " + std::string(method->method));
    if (type == "image" && mime.substr(0, 6) != "image/")
        throw InvalidInput("content.type image needs an image file, not " + std::string(mime));
    switchboard::MultipartBody form(find_string(upload, "sha256").value_or("file"));
    form.field("chat_id", conversation_id);
    if (auto caption = find_string(content, "caption"); caption && !caption->empty()) {
        if (utf16_length(*caption) > kMaxCaptionLength)
            throw InvalidInput("content.caption is longer than Telegram's 1024 UTF-16 code units");
        form.field("caption", *caption);
    }
    if (const Value* reply_to = find_member(doc, "reply_to"); reply_to != nullptr && reply_to->IsString()) {
        if (auto message_id = replied_message_id({reply_to->GetString(), reply_to->GetStringLength()}))
            form.field("reply_parameters",
                       "{\"message_id\":" + decimal(*message_id) + ",\"allow_sending_without_reply\":true}");
    }
    form.file(method->field, find_string(upload, "file_name").value_or("file"), mime, placeholder);
    ApiRequest request{method_url(settings, method->method), {}, 60'000};
    request.content_type = form.content_type();
    request.body = form.finish();
    return request;
}

ApiRequest build_send_request(const Settings& settings, std::string_view outbound_json) {
    rapidjson::Document doc;
    parse_untrusted(doc, outbound_json, "outbound request");
    if (!doc.IsObject()) throw InvalidInput("outbound request must be a JSON object");
    if (const Value* v = find_member(doc, "v"); v != nullptr && !(v->IsInt() && v->GetInt() == 1)) {
        throw InvalidInput("outbound request v must be 1");
    }
    const Value* conversation = find_object(doc, "conversation");
    if (conversation == nullptr) throw InvalidInput("conversation must be an object");
    std::string_view conversation_id = require_nonempty_string(*conversation, "id", "conversation");
    const Value* content = find_object(doc, "content");
    if (content == nullptr) throw InvalidInput("content must be an object");
    std::string_view type = require_nonempty_string(*content, "type", "content");

    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    write_chat_id(w, conversation_id);

    std::string_view method;
    if (type == "typing") {
        std::string_view state = find_string(*content, "state").value_or("on");
        if (state == "off") {
            // sendChatAction has no "stop": the indicator ends by itself after at most 5 s or
            // with the bot's next message (platforms.md 5.6). Saying so beats a no-op request.
            throw Unsupported("Telegram has no typing-off action; the indicator clears itself within 5 s");
        }
        if (state != "on") throw InvalidInput("content.state must be \"on\" or \"off\"");
        method = "sendChatAction";
        write_string(w, "action", "typing");
        w.EndObject();
        return {method_url(settings, method), finish(buffer), 0};
    }

    if (find_object(*content, "upload") != nullptr)
        return build_upload_request(settings, doc, *content, type, conversation_id);

    if (type == "text") {
        auto text = find_string(*content, "text");
        if (!text) throw InvalidInput("content.text must be a string");
        if (text->empty()) throw InvalidInput("content.text is empty; Telegram cannot send an empty message");
        std::size_t length = utf16_length(*text);
        if (length > kMaxTextLength) {
            throw InvalidInput("content.text is " + decimal(length) +
                               " UTF-16 code units long; Telegram allows at most 4096");
        }
        method = "sendMessage";
        write_string(w, "text", *text);
    } else {
        struct MediaMethod {
            std::string_view type;
            std::string_view method;
            std::string_view field;
        };
        static constexpr MediaMethod kMediaMethods[] = {{"image", "sendPhoto", "photo"},
                                                        {"document", "sendDocument", "document"},
                                                        {"audio", "sendAudio", "audio"},
                                                        {"video", "sendVideo", "video"}};
        const MediaMethod* media = nullptr;
        for (const MediaMethod& m : kMediaMethods) {
            if (m.type == type) media = &m;
        }
        if (media == nullptr) {
            throw Unsupported("content type \"" + std::string(type.substr(0, 32)) +
                              "\" cannot be sent to Telegram by this plugin");
        }
        method = media->method;
        // A URL Telegram downloads itself, or a file_id it already has (both go in this field).
        write_string(w, media->field, require_nonempty_string(*content, "url", "content"));
        if (auto caption = find_string(*content, "caption"); caption && !caption->empty()) {
            std::size_t length = utf16_length(*caption);
            if (length > kMaxCaptionLength) {
                throw InvalidInput("content.caption is " + decimal(length) +
                                   " UTF-16 code units long; Telegram allows at most 1024");
            }
            write_string(w, "caption", *caption);
        }
    }

    if (const Value* reply_to = find_member(doc, "reply_to")) {
        if (!reply_to->IsString()) throw InvalidInput("reply_to must be a string");
        if (auto message_id = replied_message_id({reply_to->GetString(), reply_to->GetStringLength()})) {
            w.Key("reply_parameters");
            w.StartObject();
            write_int(w, "message_id", *message_id);
            // The agent's answer matters more than the quote: still send if the message is gone.
            w.Key("allow_sending_without_reply");
            w.Bool(true);
            w.EndObject();
        }
    }
    w.EndObject();
    return {method_url(settings, method), finish(buffer), 0};
}

SendOutcome classify_send_response(int status, std::string_view body, std::string_view transport_error,
                                   std::optional<std::string_view> retry_after_header) {
    SendOutcome out;
    if (status == 0) {
        out.send_class = SB_SEND_RETRYABLE;
        out.message = "no response from Telegram: " + std::string(transport_error);
        return out;
    }
    std::optional<std::uint32_t> header_retry_ms;
    if (retry_after_header) {
        if (auto seconds = parse_int64(*retry_after_header)) header_retry_ms = seconds_to_ms(*seconds);
    }

    rapidjson::Document doc;
    std::optional<bool> ok;
    try {
        parse_untrusted(doc, body, "response");
        ok = find_bool(doc, "ok");
    } catch (const InvalidInput&) {
        // Not Telegram's JSON (a proxy's HTML error page, a truncated body): judge by status.
    }
    if (!ok) {
        out.send_class = class_for_code(status);
        out.platform_code = decimal(status);
        out.message = "HTTP " + decimal(status) + " without a Bot API JSON body";
        if (out.send_class == SB_SEND_RATE_LIMITED) out.retry_after_ms = header_retry_ms.value_or(0);
        return out;
    }

    if (*ok) {
        out.send_class = SB_SEND_OK;
        // sendMessage & co. return the Message; sendChatAction returns true (no id).
        if (const Value* result = find_object(doc, "result")) {
            const Value* chat = find_object(*result, "chat");
            const Value* chat_id = chat != nullptr ? find_member(*chat, "id") : nullptr;
            const Value* message_id = find_member(*result, "message_id");
            auto chat_text = chat_id != nullptr ? integer_text(*chat_id) : std::nullopt;
            auto message_text = message_id != nullptr ? integer_text(*message_id) : std::nullopt;
            if (chat_text && message_text) out.platform_id = *chat_text + ":" + *message_text;
        }
        return out;
    }

    int code = status;
    if (auto error_code = find_int(doc, "error_code");
        error_code && *error_code >= 100 && *error_code <= 599) {
        code = static_cast<int>(*error_code);
    }
    out.send_class = class_for_code(code);
    out.platform_code = decimal(code);
    out.message = std::string(find_string(doc, "description").value_or("Telegram returned ok=false"));
    const Value* parameters = find_object(doc, "parameters");
    if (parameters != nullptr) {
        if (auto retry_after = find_int(*parameters, "retry_after")) {
            out.retry_after_ms = seconds_to_ms(*retry_after).value_or(0);
        }
        // A group became a supergroup: the conversation must move to the new id.
        if (const Value* migrate = find_member(*parameters, "migrate_to_chat_id")) {
            if (auto id = integer_text(*migrate)) out.message += " (chat migrated to " + *id + ")";
        }
    }
    if (out.retry_after_ms == 0 && out.send_class == SB_SEND_RATE_LIMITED) {
        out.retry_after_ms = header_retry_ms.value_or(0);
    }
    return out;
}

ApiRequest build_poll_request(const Settings& settings, std::int64_t offset) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    write_int(w, "offset", offset);
    write_int(w, "timeout", settings.poll_timeout_s);
    w.Key("allowed_updates");
    w.StartArray();
    for (const char* type : kAllowedUpdates) w.String(type);
    w.EndArray();
    w.EndObject();
    auto timeout_ms = static_cast<std::uint32_t>(settings.poll_timeout_s) * 1000 + kPollGraceMs;
    return {method_url(settings, "getUpdates"), finish(buffer), timeout_ms};
}

PollBatch read_poll_response(int status, std::string_view body, std::string_view transport_error) {
    if (status == 0) throw InvalidInput("getUpdates got no response: " + std::string(transport_error));
    rapidjson::Document doc;
    try {
        parse_untrusted(doc, body, "getUpdates response");
    } catch (const InvalidInput& e) {
        throw InvalidInput("getUpdates HTTP " + decimal(status) + ": " + e.what());
    }
    auto ok = find_bool(doc, "ok");
    if (!ok) throw InvalidInput("getUpdates HTTP " + decimal(status) + ": not a Bot API response");
    if (!*ok) {
        std::string code = decimal(find_int(doc, "error_code").value_or(status));
        std::string description(find_string(doc, "description").value_or("no description"));
        // 409 Conflict: a webhook is set; polling only works after deleteWebhook.
        throw InvalidInput("getUpdates failed (" + code + "): " + description);
    }
    const Value* result = find_array(doc, "result");
    if (result == nullptr) throw InvalidInput("getUpdates response has no result array");

    PollBatch batch;
    for (const Value& update : result->GetArray()) {
        const Value* id = find_member(update, "update_id");
        batch.update_ids.push_back(id != nullptr && id->IsInt64() ? std::optional(id->GetInt64())
                                                                  : std::nullopt);
        batch.updates.push_back(to_json(update));
    }
    return batch;
}

ApiRequest answer_callback_request(const Settings& settings, std::string_view callback_query_id) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    w.Key("callback_query_id");
    w.String(callback_query_id.data(), static_cast<rapidjson::SizeType>(callback_query_id.size()));
    w.EndObject();
    return ApiRequest{method_url(settings, "answerCallbackQuery"),
                      std::string(buffer.GetString(), buffer.GetSize())};
}

}  // namespace sb::telegram
