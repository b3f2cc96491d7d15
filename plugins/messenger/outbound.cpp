#include "outbound.hpp"

#include "json.hpp"

namespace sb::messaging {

namespace {

using meta::find_member;
using meta::find_object;
using meta::find_string;
using meta::InvalidInput;
using meta::JsonWriter;
using meta::Unsupported;
using meta::Value;
using meta::write_string;

std::string_view require_nonempty_string(const Value& object, const char* key, const std::string& path) {
    auto value = find_string(object, key);
    if (!value || value->empty()) throw InvalidInput(path + "." + key + " must be a non-empty string");
    return *value;
}

std::string finish(rapidjson::StringBuffer& buffer) { return {buffer.GetString(), buffer.GetSize()}; }

// `name` with every character outside printable ASCII (one UTF-8 sequence at a time) as "_",
// and the quote and backslash a multipart header would have to escape as well.
std::string ascii_file_name(std::string_view name) {
    std::string out;
    for (const unsigned char c : name) {
        if ((c & 0xC0) == 0x80) continue;  // the rest of a sequence already replaced
        out.push_back(c >= 0x20 && c < 0x7F && c != '"' && c != '\\' ? static_cast<char>(c) : '_');
    }
    return out.empty() ? "file" : out;
}

// The Send API's attachment.type for a normalized media type (§3.4, §4.4).
std::string_view attachment_type(std::string_view type) {
    if (type == "image" || type == "video" || type == "audio") return type;
    if (type == "document") return "file";
    return {};
}

}  // namespace

ApiRequest build_send_request(const Product& product, const Settings& settings,
                              std::string_view outbound_json) {
    rapidjson::Document doc;
    meta::parse_untrusted(doc, outbound_json, "outbound request");
    if (!doc.IsObject()) throw InvalidInput("outbound request must be a JSON object");
    if (const Value* v = find_member(doc, "v"); v != nullptr && !(v->IsInt() && v->GetInt() == 1)) {
        throw InvalidInput("outbound request v must be 1");
    }
    const Value* conversation = find_object(doc, "conversation");
    if (conversation == nullptr) throw InvalidInput("conversation must be an object");
    // The conversation key is the customer's PSID / IGSID, which is also what the Send API
    // addresses; an explicit recipient wins.
    std::string_view recipient = require_nonempty_string(*conversation, "id", "conversation");
    if (const Value* explicit_recipient = find_member(doc, "recipient")) {
        if (!explicit_recipient->IsObject()) throw InvalidInput("recipient must be an object");
        recipient = require_nonempty_string(*explicit_recipient, "id", "recipient");
    }
    const Value* content = find_object(doc, "content");
    if (content == nullptr) throw InvalidInput("content must be an object");
    std::string_view type = require_nonempty_string(*content, "type", "content");
    // reply_to is ignored: the Send API documents no way to quote a message (§3.4).
    std::string url = settings.api_base;
    url += product.send_path == SendPath::kAccount ? "/" + settings.account_id + "/messages" : "/me/messages";

    if (const Value* upload = find_object(*content, "upload")) {
        // An agent's file (ABI 1.3): the Send API's multipart form, the attachment in `filedata`.
        std::string_view attachment = attachment_type(type);
        if (attachment.empty())
            throw Unsupported("an upload cannot be sent to " + std::string(product.name) + " as \"" +
                              std::string(type.substr(0, 32)) + "\"");
        if (auto caption = find_string(*content, "caption"); caption && !caption->empty())
            throw Unsupported(std::string(product.name) +
                              " attachments carry no caption; send the caption as a separate text message");
        std::string_view mime = find_string(*upload, "mime_type").value_or("application/octet-stream");
        const std::int64_t size = switchboard::json::find_int(*upload, "size").value_or(0);
        const std::int64_t limit = attachment == "image" ? product.max_image_bytes : 25LL * 1024 * 1024;
        if (size > limit)
            throw InvalidInput("the file is " + meta::decimal(static_cast<std::uint64_t>(size)) + " bytes; " +
                               std::string(product.name) + " takes at most " +
                               meta::decimal(static_cast<std::uint64_t>(limit >> 20)) + " MB");
        if (attachment == "image" && mime.substr(0, 6) != "image/")
            throw InvalidInput("content.type image needs an image file, not " + std::string(mime));
        rapidjson::StringBuffer recipient_json;
        {
            JsonWriter r(recipient_json);
            r.StartObject();
            write_string(r, "id", recipient);
            r.EndObject();
        }
        rapidjson::StringBuffer message_json;
        {
            JsonWriter m(message_json);
            m.StartObject();
            m.Key("attachment");
            m.StartObject();
            write_string(m, "type", attachment);
            m.Key("payload");
            m.StartObject();
            m.Key("is_reusable");
            m.Bool(false);
            m.EndObject();
            m.EndObject();
            if (auto id = find_string(doc, "id"); id && !id->empty() && id->size() <= 1000)
                write_string(m, "metadata", *id);
            m.EndObject();
        }
        switchboard::MultipartBody form(find_string(*upload, "sha256").value_or("file"));
        form.field("recipient", std::string_view(recipient_json.GetString(), recipient_json.GetSize()));
        if (product.send_messaging_type) form.field("messaging_type", "RESPONSE");
        form.field("message", std::string_view(message_json.GetString(), message_json.GetSize()));
        std::string file_name(find_string(*upload, "file_name").value_or("file"));
        if (product.ascii_file_names) file_name = ascii_file_name(file_name);
        form.file("filedata", file_name, mime,
                  require_nonempty_string(*upload, "placeholder", "content.upload"));
        ApiRequest request{std::move(url), {}, form.content_type()};
        request.body = form.finish();
        return request;
    }

    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    w.Key("recipient");
    w.StartObject();
    if (recipient.substr(0, kUserRefPrefix.size()) == kUserRefPrefix)
        write_string(w, "user_ref", recipient.substr(kUserRefPrefix.size()));
    else
        write_string(w, "id", recipient);
    w.EndObject();

    if (type == "typing" || type == "mark_read") {
        // A sender action travels alone: no message and no messaging_type in the same call (§3.6).
        std::string_view action = "mark_seen";
        if (type == "typing") {
            std::string_view state = find_string(*content, "state").value_or("on");
            if (state != "on" && state != "off")
                throw InvalidInput("content.state must be \"on\" or \"off\"");
            action = state == "on" ? "typing_on" : "typing_off";
        }
        write_string(w, "sender_action", action);
    } else {
        if (product.send_messaging_type) write_string(w, "messaging_type", "RESPONSE");
        w.Key("message");
        w.StartObject();
        if (type == "text") {
            auto text = find_string(*content, "text");
            if (!text) throw InvalidInput("content.text must be a string");
            if (text->empty())
                throw InvalidInput("content.text is empty; " + std::string(product.name) +
                                   " cannot send an empty message");
            std::size_t length = meta::utf8_length(*text);
            if (length > product.max_text_chars) {
                throw InvalidInput("content.text is " + meta::decimal(static_cast<std::uint64_t>(length)) +
                                   " characters long; " + std::string(product.name) + " allows at most " +
                                   meta::decimal(static_cast<std::uint64_t>(product.max_text_chars)));
            }
            write_string(w, "text", *text);
        } else if (std::string_view attachment = attachment_type(type); !attachment.empty()) {
            std::string_view url = require_nonempty_string(*content, "url", "content");
            if (auto caption = find_string(*content, "caption"); caption && !caption->empty()) {
                // An attachment carries no text (§3.4); dropping the caption would lose what the
                // agent wrote, so the agent sends it as its own message.
                throw Unsupported(
                    std::string(product.name) +
                    " attachments carry no caption; send the caption as a separate text message");
            }
            w.Key("attachment");
            w.StartObject();
            write_string(w, "type", attachment);
            w.Key("payload");
            w.StartObject();
            write_string(w, "url", url);
            w.EndObject();
            w.EndObject();
        } else {
            throw Unsupported("content type \"" + std::string(type.substr(0, 32)) + "\" cannot be sent to " +
                              std::string(product.name) + " by this plugin");
        }
        // The host's outbound id, stable across its retries: Meta echoes message.metadata back in
        // the message_echoes webhook (§3.3), so a send whose answer was lost is matched to its
        // stored row by the echo. At most 1000 characters; the host's are 35.
        if (auto id = find_string(doc, "id"); id && !id->empty() && id->size() <= 1000)
            write_string(w, "metadata", *id);
        w.EndObject();
    }
    w.EndObject();
    return {std::move(url), finish(buffer)};
}

std::optional<std::string> read_send_success(int status, std::string_view body) {
    if (status < 200 || status > 299) return std::nullopt;
    rapidjson::Document doc;
    try {
        meta::parse_untrusted(doc, body, "response");
    } catch (const InvalidInput&) {
        return std::nullopt;  // not Graph's JSON: a proxy answering, most likely
    }
    if (!doc.IsObject() || find_member(doc, "error") != nullptr) return std::nullopt;
    // {"recipient_id","message_id"} for messages, {"recipient_id"} for sender actions (§3.4).
    if (!find_member(doc, "recipient_id") && !find_member(doc, "message_id")) return std::nullopt;
    return std::string(find_string(doc, "message_id").value_or(""));
}

}  // namespace sb::messaging
