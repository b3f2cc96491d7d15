#include "outbound.hpp"

#include <algorithm>

#include "json.hpp"
#include "meta_common.hpp"

namespace sb::whatsapp {

namespace {

using sb::meta::find_array;
using sb::meta::find_member;
using sb::meta::find_object;
using sb::meta::find_string;
using sb::meta::JsonWriter;
using sb::meta::Value;
using sb::meta::write_string;
using switchboard::InvalidInput;
using switchboard::Unsupported;

// text.body limit (platforms.md 2.7, marked [U] there).
constexpr std::size_t kMaxTextLength = 4096;
constexpr std::size_t kMaxPhoneDigits = 20;

std::string_view require_nonempty(const Value& object, const char* key, const std::string& path) {
    auto value = find_string(object, key);
    if (!value || value->empty()) throw InvalidInput(path + "." + key + " must be a non-empty string");
    return *value;
}

// The `to` of a send: a phone number in international format, '+' optional (platforms.md
// 2.7). Sending to a BSUID ("CC.<alnum>") is unconfirmed (2.9): refused rather than guessed.
std::string_view recipient_phone(const Value& doc) {
    std::string_view to;
    if (const Value* recipient = find_object(doc, "recipient"))
        to = find_string(*recipient, "id").value_or("");
    if (to.empty()) {
        const Value* conversation = find_object(doc, "conversation");
        if (conversation == nullptr) throw InvalidInput("conversation must be an object");
        to = require_nonempty(*conversation, "id", "conversation");
    }
    std::string_view digits = to.starts_with('+') ? to.substr(1) : to;
    if (!digits.empty() && digits.size() <= kMaxPhoneDigits &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return to;
    }
    if (to.find('.') != std::string_view::npos) {
        throw Unsupported(
            "the recipient is a WhatsApp business-scoped user id; sending to one is not supported yet (only "
            "to a "
            "phone number)");
    }
    throw InvalidInput("recipient must be a phone number in international format");
}

void write_reply_context(JsonWriter& w, const Value& doc) {
    const Value* reply_to = find_member(doc, "reply_to");
    if (reply_to == nullptr) return;
    if (!reply_to->IsString() || reply_to->GetStringLength() == 0) {
        throw InvalidInput("reply_to must be a non-empty string");
    }
    w.Key("context");
    w.StartObject();
    write_string(w, "message_id", {reply_to->GetString(), reply_to->GetStringLength()});
    w.EndObject();
}

void start_message(JsonWriter& w, const Value& doc, std::string_view type) {
    w.StartObject();
    write_string(w, "messaging_product", "whatsapp");
    write_string(w, "recipient_type", "individual");
    write_string(w, "to", recipient_phone(doc));
    write_reply_context(w, doc);
    write_string(w, "type", type);
}

void write_read_receipt(JsonWriter& w, std::string_view message_id, bool typing) {
    w.StartObject();
    write_string(w, "messaging_product", "whatsapp");
    write_string(w, "status", "read");
    write_string(w, "message_id", message_id);
    if (typing) {
        w.Key("typing_indicator");
        w.StartObject();
        write_string(w, "type", "text");
        w.EndObject();
    }
    w.EndObject();
}

void write_text(JsonWriter& w, const Value& doc, const Value& content) {
    auto text = find_string(content, "text");
    if (!text) throw InvalidInput("content.text must be a string");
    if (text->empty()) throw InvalidInput("content.text is empty; WhatsApp cannot send an empty message");
    if (std::size_t length = sb::meta::utf8_length(*text); length > kMaxTextLength) {
        throw InvalidInput("content.text is " + sb::meta::decimal(static_cast<std::uint64_t>(length)) +
                           " characters long; WhatsApp allows at most 4096");
    }
    start_message(w, doc, "text");
    w.Key("text");
    w.StartObject();
    write_string(w, "body", *text);
    w.Key("preview_url");
    w.Bool(false);
    w.EndObject();
    w.EndObject();
}

// `media_id`: an uploaded file's id instead of the content's url.
void write_media(JsonWriter& w, const Value& doc, const Value& content, std::string_view type,
                 std::string_view media_id = {}) {
    std::string_view url = media_id.empty() ? require_nonempty(content, "url", "content") : std::string_view();
    if (media_id.empty() && !url.starts_with("https://") && !url.starts_with("http://")) {
        throw InvalidInput("content.url must be an http:// or https:// URL WhatsApp can fetch");
    }
    auto caption = find_string(content, "caption");
    if (caption && !caption->empty() && type == "audio") {
        throw Unsupported("WhatsApp audio messages carry no caption; send the text separately");
    }
    start_message(w, doc, type);
    w.Key(type.data(), static_cast<rapidjson::SizeType>(type.size()));
    w.StartObject();
    if (media_id.empty())
        write_string(w, "link", url);
    else
        write_string(w, "id", media_id);
    if (caption && !caption->empty()) write_string(w, "caption", *caption);
    if (type == "document") {
        std::optional<std::string_view> name = find_string(content, "file_name");
        if (const Value* upload = find_object(content, "upload"); upload != nullptr && (!name || name->empty()))
            name = find_string(*upload, "file_name");
        if (name && !name->empty()) write_string(w, "filename", *name);
    }
    w.EndObject();
    w.EndObject();
}

void write_template(JsonWriter& w, const Value& doc, const Value& content) {
    std::string_view name = require_nonempty(content, "name", "content");
    std::string_view language;
    if (const Value* object = find_object(content, "language")) {
        language = require_nonempty(*object, "code", "content.language");
    } else {
        language = require_nonempty(content, "language", "content");
    }
    const Value* components = find_member(content, "components");
    if (components != nullptr && !components->IsArray())
        throw InvalidInput("content.components must be an array");
    start_message(w, doc, "template");
    w.Key("template");
    w.StartObject();
    write_string(w, "name", name);
    w.Key("language");
    w.StartObject();
    write_string(w, "code", language);
    w.EndObject();
    if (components != nullptr) {
        w.Key("components");
        components->Accept(w);  // passed through: Meta validates parameters against the template
    }
    w.EndObject();
    w.EndObject();
}

// Whether the outbound request was a read receipt (mark_read, typing): answered with
// {"success":true} instead of messages[].
bool is_read_receipt(std::string_view outbound_json) {
    rapidjson::Document request;
    try {
        sb::meta::parse_untrusted(request, outbound_json, "outbound request");
    } catch (const InvalidInput&) {
        return false;
    }
    const Value* content = find_object(request, "content");
    std::string_view type = content != nullptr ? find_string(*content, "type").value_or("") : "";
    return type == "mark_read" || type == "typing";
}

}  // namespace

namespace {

struct ParsedOutbound {
    rapidjson::Document doc;
    const Value* content = nullptr;
    std::string_view type;
};

ParsedOutbound parse_outbound(std::string_view outbound_json) {
    ParsedOutbound out;
    sb::meta::parse_untrusted(out.doc, outbound_json, "outbound request");
    if (!out.doc.IsObject()) throw InvalidInput("outbound request must be a JSON object");
    out.content = find_object(out.doc, "content");
    if (out.content == nullptr) throw InvalidInput("content must be an object");
    out.type = require_nonempty(*out.content, "type", "content");
    return out;
}

// The upload's POST /{PHONE_NUMBER_ID}/media (platforms.md 2.13), after WhatsApp's limits.
ApiRequest upload_request(const Settings& settings, const Value& content, std::string_view type) {
    const Value& upload = *find_object(content, "upload");
    std::string_view placeholder = require_nonempty(upload, "placeholder", "content.upload");
    std::string mime(find_string(upload, "mime_type").value_or("application/octet-stream"));
    const std::int64_t size = sb::meta::find_int(upload, "size").value_or(0);
    constexpr std::int64_t kMb = 1024 * 1024;
    std::int64_t limit = 0;
    if (type == "image") {
        if (mime != "image/jpeg" && mime != "image/png")
            throw InvalidInput("WhatsApp images are image/jpeg or image/png, not " + mime);
        limit = 5 * kMb;
    } else if (type == "video") {
        if (mime != "video/mp4" && mime != "video/3gpp") throw InvalidInput("WhatsApp videos are video/mp4 or video/3gpp, not " + mime);
        limit = 16 * kMb;
    } else if (type == "audio") {
        if (mime.substr(0, 6) != "audio/") throw InvalidInput("WhatsApp audio needs an audio file, not " + mime);
        limit = 16 * kMb;
    } else if (type == "document") {
        limit = 100 * kMb;
    } else {
        throw Unsupported("an upload cannot be sent to WhatsApp as \"" + std::string(type.substr(0, 32)) + "\"");
    }
    if (size > limit)
        throw InvalidInput("the file is " + sb::meta::decimal(size) + " bytes; WhatsApp takes at most " + sb::meta::decimal(limit / kMb) +
                           " MB for " + std::string(type));
    switchboard::MultipartBody form(find_string(upload, "sha256").value_or("file"));
    form.field("messaging_product", "whatsapp");
    form.field("type", mime);
    form.file("file", find_string(upload, "file_name").value_or("file"), mime, placeholder);
    ApiRequest request{settings.api_base + "/" + settings.phone_number_id + "/media", {}, form.content_type()};
    request.body = form.finish();
    return request;
}

}  // namespace

ApiRequest build_send_request(const Settings& settings, std::string_view outbound_json) {
    rapidjson::Document doc;
    sb::meta::parse_untrusted(doc, outbound_json, "outbound request");
    if (!doc.IsObject()) throw InvalidInput("outbound request must be a JSON object");
    if (const Value* v = find_member(doc, "v"); v != nullptr && !(v->IsInt() && v->GetInt() == 1)) {
        throw InvalidInput("outbound request v must be 1");
    }
    if (find_object(doc, "conversation") == nullptr) throw InvalidInput("conversation must be an object");
    const Value* content = find_object(doc, "content");
    if (content == nullptr) throw InvalidInput("content must be an object");
    std::string_view type = require_nonempty(*content, "type", "content");

    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    if (type == "text") {
        write_text(w, doc, *content);
    } else if (find_object(*content, "upload") != nullptr) {
        return upload_request(settings, *content, type);
    } else if (type == "image" || type == "document" || type == "audio" || type == "video") {
        write_media(w, doc, *content, type);
    } else if (type == "template") {
        write_template(w, doc, *content);
    } else if (type == "mark_read") {
        write_read_receipt(w, require_nonempty(*content, "id", "content"), false);
    } else if (type == "typing") {
        std::string_view state = find_string(*content, "state").value_or("on");
        if (state == "off") {
            throw Unsupported(
                "WhatsApp has no typing-off; the indicator clears on the next message or after 25 s");
        }
        if (state != "on") throw InvalidInput("content.state must be \"on\" or \"off\"");
        auto message_id = find_string(*content, "message_id");
        if (!message_id || message_id->empty()) {
            throw Unsupported(
                "WhatsApp shows typing only while marking an inbound message read: content.message_id is "
                "needed");
        }
        write_read_receipt(w, *message_id, true);
    } else {
        throw Unsupported("content type \"" + std::string(type.substr(0, 32)) +
                          "\" cannot be sent to WhatsApp by this plugin");
    }
    return {settings.api_base + "/" + settings.phone_number_id + "/messages",
            std::string(buffer.GetString(), buffer.GetSize())};
}

ApiRequest build_send_by_media_id(const Settings& settings, std::string_view outbound_json, std::string_view media_id) {
    ParsedOutbound parsed = parse_outbound(outbound_json);
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    write_media(w, parsed.doc, *parsed.content, parsed.type, media_id);
    return {settings.api_base + "/" + settings.phone_number_id + "/messages",
            std::string(buffer.GetString(), buffer.GetSize())};
}

std::optional<std::string> uploaded_media_id(std::string_view outbound_json, const switchboard::Response& response) {
    if (response.status() < 200 || response.status() > 299) return std::nullopt;
    try {
        ParsedOutbound parsed = parse_outbound(outbound_json);
        if (find_object(*parsed.content, "upload") == nullptr) return std::nullopt;
        rapidjson::Document body;
        sb::meta::parse_untrusted(body, response.body(), "response");
        if (!body.IsObject() || find_member(body, "messages") != nullptr) return std::nullopt;
        auto id = find_string(body, "id");
        if (!id || id->empty()) return std::nullopt;
        return std::string(*id);
    } catch (const InvalidInput&) {
        return std::nullopt;
    }
}

switchboard::SendResult classify_send_response(std::string_view outbound_json,
                                               const switchboard::Response& response) {
    const int status = response.status();
    if (status >= 200 && status <= 299) {
        rapidjson::Document body;
        try {
            sb::meta::parse_untrusted(body, response.body(), "response");
        } catch (const InvalidInput&) {
            body.SetNull();
        }
        bool receipt = is_read_receipt(outbound_json);
        std::optional<std::string_view> id;
        if (const Value* messages = find_array(body, "messages"); messages != nullptr && !messages->Empty()) {
            id = find_string((*messages)[0], "id");
        }
        bool ok = receipt ? sb::meta::find_bool(body, "success").value_or(false) : id && !id->empty();
        if (ok && find_member(body, "error") == nullptr) {
            switchboard::SendResult sent =
                switchboard::SendResult::ok(receipt ? std::string() : std::string(*id));
            if (sent.platform_id.size() >= sizeof(sb_send_result::platform_id)) {
                // Never store a truncated id: later statuses could not find the message.
                sent.platform_id.clear();
                sent.message = "accepted, but the platform id is too long to keep";
            }
            return sent;
        }
    }
    return sb::meta::classify_graph_failure(response);
}

}  // namespace sb::whatsapp
