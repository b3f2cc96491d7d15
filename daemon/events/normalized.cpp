#include "events/normalized.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace sb::events {
namespace {

using rapidjson::Value;

std::string serialize(const Value& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    value.Accept(writer);
    return {buffer.GetString(), buffer.GetSize()};
}

// Reads an optional string member; false (with `error` set) when present but not a string.
bool optional_string(const Value& object, const char* key, std::string& out, ParseError& error,
                     const char* where) {
    auto it = object.FindMember(key);
    if (it == object.MemberEnd()) return true;
    if (!it->value.IsString()) {
        error.message = std::string(where) + key + " must be a string";
        return false;
    }
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return true;
}

bool required_string(const Value& object, const char* key, std::string& out, ParseError& error,
                     const char* where) {
    if (!object.HasMember(key)) {
        error.message = std::string(where) + key + " is required";
        return false;
    }
    if (!optional_string(object, key, out, error, where)) return false;
    if (out.empty()) {
        error.message = std::string(where) + key + " must not be empty";
        return false;
    }
    return true;
}

bool read_party(const Value& event, Party& party, bool required, ParseError& error) {
    auto it = event.FindMember("sender");
    if (it == event.MemberEnd()) {
        if (required) error.message = "sender is required";
        return !required;
    }
    if (!it->value.IsObject()) {
        error.message = "sender must be an object";
        return false;
    }
    const Value& s = it->value;
    return required_string(s, "id", party.id, error, "sender.") &&
           optional_string(s, "name", party.name, error, "sender.") &&
           optional_string(s, "username", party.username, error, "sender.") &&
           optional_string(s, "phone", party.phone, error, "sender.");
}

bool read_content(const Value& event, NormalizedEvent& out, ParseError& error) {
    auto it = event.FindMember("content");
    if (it == event.MemberEnd() || !it->value.IsObject()) {
        error.message = "content must be an object";
        return false;
    }
    if (!required_string(it->value, "type", out.content_type, error, "content.")) return false;
    if (auto reachable = it->value.FindMember("reachable"); reachable != it->value.MemberEnd()) {
        if (!reachable->value.IsBool()) {
            error.message = "content.reachable must be a boolean";
            return false;
        }
        if (out.content_type == "system") out.reachable = reachable->value.GetBool();
    }
    out.content_json = serialize(it->value);
    return true;
}

}  // namespace

std::optional<NormalizedEvent> read_event(std::string_view json, ParseError& error) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
    if (doc.HasParseError()) {
        error.message =
            std::string("event is not valid JSON: ") + rapidjson::GetParseError_En(doc.GetParseError());
        return std::nullopt;
    }
    if (!doc.IsObject()) {
        error.message = "event must be a JSON object";
        return std::nullopt;
    }
    auto v = doc.FindMember("v");
    if (v == doc.MemberEnd() || !v->value.IsInt() || v->value.GetInt() != 1) {
        error.message = "v must be 1";
        return std::nullopt;
    }

    NormalizedEvent out;
    std::string type;
    if (!required_string(doc, "type", type, error, "")) return std::nullopt;
    if (type == "message")
        out.type = EventType::message;
    else if (type == "edit")
        out.type = EventType::edit;
    else if (type == "status")
        out.type = EventType::status;
    else if (type == "typing")
        out.type = EventType::typing;
    else if (type == "reaction")
        out.type = EventType::reaction;
    else if (type == "ignored")
        out.type = EventType::ignored;
    else {
        error.message = "unknown event type '" + type + "'";
        return std::nullopt;
    }

    auto conv = doc.FindMember("conversation");
    if (out.type == EventType::ignored && conv == doc.MemberEnd()) {
        // Names no conversation: counted, never stored.
    } else if (conv == doc.MemberEnd() || !conv->value.IsObject()) {
        error.message = "conversation must be an object";
        return std::nullopt;
    } else if (!required_string(conv->value, "id", out.conversation_id, error, "conversation.") ||
               !optional_string(conv->value, "kind", out.conversation_kind, error, "conversation.") ||
               !optional_string(conv->value, "title", out.conversation_title, error, "conversation.")) {
        return std::nullopt;
    }

    auto ts = doc.FindMember("timestamp_ms");
    if (ts == doc.MemberEnd() || !ts->value.IsInt64()) {
        error.message = "timestamp_ms must be an integer";
        return std::nullopt;
    }
    out.timestamp_ms = ts->value.GetInt64();
    if (!optional_string(doc, "account_id", out.account_id, error, "")) return std::nullopt;

    bool ok = true;
    switch (out.type) {
        case EventType::message: {
            std::string direction;
            ok = read_party(doc, out.sender, true, error) &&
                 required_string(doc, "id", out.message_id, error, "") &&
                 optional_string(doc, "reply_to", out.reply_to, error, "") &&
                 optional_string(doc, "direction", direction, error, "") &&
                 optional_string(doc, "outbound_id", out.outbound_id, error, "") &&
                 read_content(doc, out, error);
            if (ok && !direction.empty() && direction != "in" && direction != "out") {
                error.message = "direction must be 'in' or 'out'";
                ok = false;
            }
            out.outgoing = direction == "out";
            if (ok) {
                auto raw = doc.FindMember("raw");
                if (raw != doc.MemberEnd()) {
                    out.raw_json = serialize(raw->value);
                    // Content the platform sent but nobody can render yet is kept whole in
                    // the stored content, so it is never silently lost.
                    if (out.content_type == "unsupported") {
                        auto& content = doc["content"];
                        if (!content.HasMember("raw")) {
                            content.AddMember("raw", raw->value, doc.GetAllocator());
                            out.content_json = serialize(content);
                        }
                    }
                }
            }
            break;
        }
        case EventType::edit: {
            ok = read_party(doc, out.sender, false, error) &&
                 required_string(doc, "id", out.message_id, error, "") && read_content(doc, out, error);
            auto at = doc.FindMember("edited_at_ms");
            if (ok && at != doc.MemberEnd()) {
                if (!at->value.IsInt64()) {
                    error.message = "edited_at_ms must be an integer";
                    ok = false;
                } else {
                    out.edited_at_ms = at->value.GetInt64();
                }
            }
            if (ok && out.edited_at_ms == 0) out.edited_at_ms = out.timestamp_ms;
            break;
        }
        case EventType::status: {
            // Either one message (id) or, for watermark receipts, all we sent up to a time.
            auto watermark = doc.FindMember("watermark_ms");
            if (watermark != doc.MemberEnd()) {
                if (!watermark->value.IsInt64() || watermark->value.GetInt64() <= 0) {
                    error.message = "watermark_ms must be a positive integer";
                    return std::nullopt;
                }
                out.watermark_ms = watermark->value.GetInt64();
                ok = optional_string(doc, "id", out.message_id, error, "");
            } else {
                ok = required_string(doc, "id", out.message_id, error, "");
            }
            ok = ok && required_string(doc, "status", out.status, error, "");
            if (ok && out.status != "sent" && out.status != "delivered" && out.status != "read" &&
                out.status != "failed") {
                error.message = "status must be sent, delivered, read or failed";
                ok = false;
            }
            auto err = doc.FindMember("error");
            if (ok && err != doc.MemberEnd()) {
                if (!err->value.IsObject()) {
                    error.message = "error must be an object";
                    ok = false;
                } else {
                    ok = optional_string(err->value, "code", out.error_code, error, "error.") &&
                         optional_string(err->value, "message", out.error_message, error, "error.");
                }
            }
            break;
        }
        case EventType::typing:
            ok = read_party(doc, out.sender, false, error) &&
                 required_string(doc, "state", out.typing_state, error, "");
            if (ok && out.typing_state != "on" && out.typing_state != "off") {
                error.message = "state must be 'on' or 'off'";
                ok = false;
            }
            break;
        case EventType::reaction:
            ok = read_party(doc, out.sender, false, error) &&
                 required_string(doc, "id", out.message_id, error, "") &&
                 optional_string(doc, "emoji", out.emoji, error, "");
            break;
        case EventType::ignored:
            // The kind becomes a metric label: short, and from a small alphabet.
            ok = required_string(doc, "kind", out.ignored_kind, error, "");
            if (ok && (out.ignored_kind.size() > 64 ||
                       out.ignored_kind.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.") !=
                           std::string::npos)) {
                error.message = "kind must be 1 to 64 characters of a-z, 0-9, '_' and '.'";
                ok = false;
            }
            break;
    }
    if (!ok) return std::nullopt;
    return out;
}

}  // namespace sb::events
