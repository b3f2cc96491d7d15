#include "store/json.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "util/time.hpp"

namespace sb::store {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void string_field(Writer& w, const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void optional_string_field(Writer& w, const char* key, const std::string& value) {
    w.Key(key);
    if (value.empty())
        w.Null();
    else
        w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void time_field(Writer& w, const char* key, std::int64_t ms) {
    w.Key(key);
    if (ms == 0) {
        w.Null();
        return;
    }
    std::string s = util::rfc3339(ms);
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// The first kPreviewChars characters of `text`, cut at a character boundary, with "…" when
// something was cut.
constexpr std::size_t kPreviewChars = 140;

std::string preview_of(std::string_view text) {
    std::size_t chars = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // a continuation byte
        if (chars == kPreviewChars) return std::string(text.substr(0, i)) + "\u2026";
        ++chars;
    }
    return std::string(text);
}

// content.type, and the text or caption a preview shows ("" when there is none).
std::pair<std::string, std::string> kind_and_text(const std::string& content_json) {
    rapidjson::Document doc;
    doc.Parse(content_json.data(), content_json.size());
    if (doc.HasParseError() || !doc.IsObject()) return {"", ""};
    auto string_member = [&](const char* name) -> std::string {
        auto it = doc.FindMember(name);
        if (it == doc.MemberEnd() || !it->value.IsString()) return "";
        return {it->value.GetString(), it->value.GetStringLength()};
    };
    std::string type = string_member("type");
    std::string text = string_member(type == "text" ? "text" : "caption");
    return {std::move(type), preview_of(text)};
}

void write(Writer& w, const LastMessage& m) {
    w.StartObject();
    string_field(w, "id", std::to_string(m.id));
    string_field(w, "direction", m.direction);
    auto [kind, preview] = kind_and_text(m.content_json);
    string_field(w, "kind", kind);
    string_field(w, "preview", preview);
    time_field(w, "created_at", m.created_ms);
    w.Key("sender");
    w.StartObject();
    string_field(w, "id", m.sender_id);
    optional_string_field(w, "name", m.sender_name);
    w.EndObject();
    w.EndObject();
}

void write(Writer& w, const Conversation& c) {
    w.StartObject();
    string_field(w, "id", std::to_string(c.id));
    string_field(w, "channel_id", c.channel_id);
    string_field(w, "platform_id", c.platform_id);
    optional_string_field(w, "kind", c.kind);
    optional_string_field(w, "title", c.title);
    w.Key("contact");
    w.StartObject();
    w.Key("id");  // the contact (GET /api/v1/contacts/{id}); null for a conversation without one
    if (c.contact_id == 0)
        w.Null();
    else
        w.String(std::to_string(c.contact_id));
    string_field(w, "display_name", c.contact_display_name);
    string_field(w, "platform_id", c.contact_platform_id);
    optional_string_field(w, "name", c.contact_name);
    optional_string_field(w, "username", c.contact_username);
    optional_string_field(w, "phone", c.contact_phone);
    w.EndObject();
    string_field(w, "status", c.status);
    optional_string_field(w, "assignee_id", c.assignee_id);
    time_field(w, "created_at", c.created_ms);
    time_field(w, "last_activity_at", c.last_activity_ms);
    time_field(w, "snoozed_until", c.snoozed_until_ms);
    time_field(w, "blocked_at", c.blocked_ms);
    string_field(w, "priority", c.priority);
    w.Key("labels");
    w.StartArray();
    for (const auto& label : c.labels) w.String(label.data(), static_cast<rapidjson::SizeType>(label.size()));
    w.EndArray();
    w.Key("assignee");
    if (c.assignee_id.empty()) {
        w.Null();
    } else {
        w.StartObject();
        string_field(w, "id", c.assignee_id);
        string_field(w, "name", c.assignee_name);
        w.EndObject();
    }
    w.Key("last_message");
    if (c.last_message)
        write(w, *c.last_message);
    else
        w.Null();
    if (c.read) {
        w.Key("unread_count");
        w.Int64(c.read->unread_count);
        w.Key("last_read_message_id");
        if (c.read->last_read_message_id == 0)
            w.Null();
        else
            w.String(std::to_string(c.read->last_read_message_id));
    }
    w.EndObject();
}

void write(Writer& w, const Message& m) {
    w.StartObject();
    string_field(w, "id", std::to_string(m.id));
    string_field(w, "conversation_id", std::to_string(m.conversation_id));
    string_field(w, "channel_id", m.channel_id);
    optional_string_field(w, "platform_id", m.platform_id);
    string_field(w, "direction", m.direction);
    string_field(w, "kind", m.kind);
    w.Key("sender");
    w.StartObject();
    string_field(w, "id", m.sender_id);
    optional_string_field(w, "name", m.sender_name);
    w.EndObject();
    w.Key("content");
    // content_json was validated when it was stored; embed it verbatim.
    if (m.content_json.empty())
        w.Null();
    else
        w.RawValue(m.content_json.data(), m.content_json.size(), rapidjson::kObjectType);
    optional_string_field(w, "reply_to", m.reply_to);
    string_field(w, "status", m.status);
    optional_string_field(w, "error_code", m.error_code);
    optional_string_field(w, "error_message", m.error_message);
    time_field(w, "platform_timestamp", m.platform_ts_ms);
    time_field(w, "created_at", m.created_ms);
    time_field(w, "edited_at", m.edited_ms);
    w.Key("reactions");
    // reactions_json is written by domain::react alone; embed it verbatim.
    if (m.reactions_json.empty()) {
        w.StartArray();
        w.EndArray();
    } else {
        w.RawValue(m.reactions_json.data(), m.reactions_json.size(), rapidjson::kArrayType);
    }
    w.EndObject();
}

void write(Writer& w, const Identity& c) {
    w.StartObject();
    string_field(w, "id", std::to_string(c.id));
    string_field(w, "channel_id", c.channel_id);
    string_field(w, "platform_id", c.platform_id);
    optional_string_field(w, "name", c.name);
    optional_string_field(w, "username", c.username);
    optional_string_field(w, "phone", c.phone);
    time_field(w, "created_at", c.created_ms);
    w.EndObject();
}

// A contact; its conversation_ids only where they are the reader's (not in frames, which go to many).
void write(Writer& w, const Person& p, bool with_conversations) {
    w.StartObject();
    string_field(w, "id", std::to_string(p.id));
    optional_string_field(w, "name", p.name);
    string_field(w, "display_name", p.display_name);
    optional_string_field(w, "email", p.email);
    optional_string_field(w, "phone", p.phone);
    optional_string_field(w, "company", p.company);
    optional_string_field(w, "notes", p.notes);
    w.Key("attributes");
    if (p.attributes_json.empty())
        w.RawValue("{}", 2, rapidjson::kObjectType);
    else
        w.RawValue(p.attributes_json.data(), p.attributes_json.size(), rapidjson::kObjectType);
    w.Key("merged_into");
    if (p.merged_into == 0)
        w.Null();
    else
        w.String(std::to_string(p.merged_into));
    time_field(w, "created_at", p.created_ms);
    time_field(w, "updated_at", p.updated_ms);
    w.Key("identities");
    w.StartArray();
    for (const auto& i : p.identities) write(w, i);
    w.EndArray();
    w.Key("merged");
    w.StartArray();
    for (const auto& m : p.merged) {
        w.StartObject();
        string_field(w, "id", std::to_string(m.id));
        string_field(w, "display_name", m.display_name);
        w.EndObject();
    }
    w.EndArray();
    if (with_conversations) {
        w.Key("conversation_ids");
        w.StartArray();
        for (auto id : p.conversation_ids) w.String(std::to_string(id));
        w.EndArray();
    }
    w.EndObject();
}

void write(Writer& w, const Person& p) { write(w, p, true); }

void write(Writer& w, const SearchHit& hit) {
    w.StartObject();
    w.Key("type");
    w.String(hit.message ? "message" : hit.contact ? "contact" : "conversation");
    if (hit.message) {
        w.Key("message");
        write(w, *hit.message);
    }
    if (hit.conversation) {
        w.Key("conversation");
        write(w, *hit.conversation);
    }
    if (hit.contact) {
        w.Key("contact");
        write(w, *hit.contact);
    }
    w.Key("snippet");
    w.StartArray();
    for (const auto& part : hit.snippet) {
        w.StartObject();
        string_field(w, "text", part.text);
        w.Key("match");
        w.Bool(part.match);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
}

template <typename T>
std::string serialize(const T& value) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    write(w, value);
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace

std::string to_json(const Conversation& conversation) { return serialize(conversation); }
std::string to_json(const SearchHit& hit) { return serialize(hit); }
std::string to_json(const Person& contact) { return serialize(contact); }

std::string contact_updated_data(const Person& contact, std::string_view changed_by,
                                 std::int64_t merged_from) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("contact");
    write(w, contact, false);
    string_field(w, "changed_by", std::string(changed_by));
    if (merged_from != 0) string_field(w, "merged_from", std::to_string(merged_from));
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}
std::string to_json(const Message& message) { return serialize(message); }

std::string new_message_data(const Conversation& conversation, const Message& message) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("conversation");
    write(w, conversation);
    w.Key("message");
    write(w, message);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string mention_data(const Conversation& conversation, const Message& note, std::string_view agent_id) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    string_field(w, "agent_id", std::string(agent_id));
    w.Key("conversation");
    write(w, conversation);
    w.Key("message");
    write(w, note);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string status_data(const Conversation& conversation, std::string_view changed_by) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("conversation");
    write(w, conversation);
    string_field(w, "changed_by", std::string(changed_by));
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string updated_data(const Conversation& conversation, std::string_view changed_by,
                         std::initializer_list<std::string_view> fields) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("conversation");
    write(w, conversation);
    string_field(w, "changed_by", std::string(changed_by));
    w.Key("fields");
    w.StartArray();
    for (auto field : fields) w.String(field.data(), static_cast<rapidjson::SizeType>(field.size()));
    w.EndArray();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string assignment_data(std::int64_t conversation_id, std::string_view agent_id,
                            std::string_view previous_agent_id, std::string_view assigned_by) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    auto nullable = [&](const char* key, std::string_view value) {
        w.Key(key);
        if (value.empty())
            w.Null();
        else
            w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    };
    w.StartObject();
    string_field(w, "conversation_id", std::to_string(conversation_id));
    nullable("agent_id", agent_id);
    nullable("previous_agent_id", previous_agent_id);
    nullable("assigned_by", assigned_by);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string reaction_data(const Message& message, const sb::events::NormalizedEvent& event) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("message");
    write(w, message);
    string_field(w, "emoji", event.emoji);
    w.Key("sender");
    w.StartObject();
    string_field(w, "id", event.sender.id);
    optional_string_field(w, "name", event.sender.name);
    optional_string_field(w, "username", event.sender.username);
    w.EndObject();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string to_json(const Agent& agent) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    string_field(w, "id", agent.id);
    string_field(w, "name", agent.name);
    string_field(w, "role", agent.role);
    time_field(w, "created_at", agent.created_ms);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string read_data(const Conversation& conversation, std::string_view agent_id) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    const ReadState read = conversation.read.value_or(ReadState{});
    w.StartObject();
    string_field(w, "conversation_id", std::to_string(conversation.id));
    string_field(w, "agent_id", std::string(agent_id));
    w.Key("last_read_message_id");
    if (read.last_read_message_id == 0)
        w.Null();
    else
        w.String(std::to_string(read.last_read_message_id));
    w.Key("unread_count");
    w.Int64(read.unread_count);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string to_json(const Label& label) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    string_field(w, "name", label.name);
    string_field(w, "color", label.color);
    string_field(w, "description", label.description);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string to_json(const CannedReply& reply, const std::optional<std::string>& rendered) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    string_field(w, "id", std::to_string(reply.id));
    string_field(w, "shortcode", reply.shortcode);
    string_field(w, "text", reply.text);
    string_field(w, "scope", reply.scope);
    optional_string_field(w, "owner_id", reply.owner_id);
    time_field(w, "created_at", reply.created_ms);
    time_field(w, "updated_at", reply.updated_ms);
    if (rendered) string_field(w, "rendered", *rendered);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string message_data(const Message& message) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("message");
    write(w, message);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace sb::store
