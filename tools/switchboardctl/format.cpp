#include "format.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace sb::ctl::format {
namespace {

using Value = rapidjson::Value;

std::optional<rapidjson::Document> parse(const std::string& body) {
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
    return doc;
}

// The member's value as text: strings as they are, numbers printed, null/absent as `fallback`.
std::string text(const Value& object, const char* key, const std::string& fallback = "-") {
    if (!object.IsObject()) return fallback;
    auto it = object.FindMember(key);
    if (it == object.MemberEnd() || it->value.IsNull()) return fallback;
    const Value& v = it->value;
    if (v.IsString()) return {v.GetString(), v.GetStringLength()};
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    if (v.IsUint64()) return std::to_string(v.GetUint64());
    if (v.IsDouble()) return fmt::format("{}", v.GetDouble());
    if (v.IsBool()) return v.GetBool() ? "true" : "false";
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    v.Accept(w);
    return buffer.GetString();
}

const Value& member(const Value& object, const char* key) {
    static const Value kNull;
    if (!object.IsObject()) return kNull;
    auto it = object.FindMember(key);
    return it == object.MemberEnd() ? kNull : it->value;
}

// Content in one line: the text, or "[image] caption" for everything else.
std::string content(const Value& c) {
    std::string type = text(c, "type", "?");
    if (type == "text") return text(c, "text", "");
    std::string caption = text(c, "caption", "");
    if (type == "location") caption = text(c, "latitude") + "," + text(c, "longitude");
    if (type == "unsupported") caption = text(c, "platform_type", "");
    return caption.empty() ? "[" + type + "]" : "[" + type + "] " + caption;
}

std::string one_line(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    std::replace(s.begin(), s.end(), '\r', ' ');
    return s;
}

// Left-aligned columns sized to their widest cell.
std::string table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (widths.size() <= i) widths.push_back(0);
            widths[i] = std::max(widths[i], row[i].size());
        }
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
        }
        out += line + '\n';
    }
    return out;
}

const Value* items(const std::optional<rapidjson::Document>& doc) {
    if (!doc) return nullptr;
    auto it = doc->FindMember("items");
    if (it == doc->MemberEnd() || !it->value.IsArray()) return nullptr;
    return &it->value;
}

// A string array's members joined with ", ", or `fallback` when it has none.
std::string joined(const Value& array, const std::string& fallback = "-") {
    if (!array.IsArray() || array.Empty()) return fallback;
    std::string out;
    for (const auto& v : array.GetArray()) {
        if (!v.IsString()) continue;
        if (!out.empty()) out += ", ";
        out.append(v.GetString(), v.GetStringLength());
    }
    return out.empty() ? fallback : out;
}

// "2026-11-25T20:08:27.884Z" as "2026-11-25 20:08Z" for a table cell; anything else as it is.
std::string short_time(const std::string& rfc3339) {
    if (rfc3339.size() < 16 || rfc3339[10] != 'T') return rfc3339;
    std::string out = rfc3339.substr(0, 16);
    out[10] = ' ';
    return out + 'Z';
}

// At most `limit` characters (UTF-8 code points) of `s`, with "…" when cut.
std::string cut(const std::string& s, std::size_t limit) {
    std::size_t chars = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
        if (chars++ == limit) return s.substr(0, i) + "\u2026";
    }
    return s;
}

// The assignee's name (else id), or "-" while unassigned.
std::string assignee(const Value& c) { return text(member(c, "assignee"), "name", text(c, "assignee_id")); }

}  // namespace

std::string error(const HttpResponse& response) {
    std::string out = fmt::format("HTTP {}", response.status);
    auto doc = parse(response.body);
    if (!doc || !member(*doc, "error").IsObject()) {
        if (!response.body.empty()) out += fmt::format(": {}", one_line(response.body.substr(0, 500)));
        return out;
    }
    const Value& e = member(*doc, "error");
    out += fmt::format(" {}: {}", text(e, "code", "error"), text(e, "message", ""));
    std::string code = text(e, "platform_code", "");
    std::string message = text(e, "platform_message", "");
    if (!code.empty() || !message.empty()) {
        out += code.empty() ? " (platform" : " (platform code " + code;
        if (!message.empty()) out += fmt::format(": {}", one_line(message));
        out += ")";
    }
    if (!response.retry_after.empty()) out += "; retry after " + response.retry_after + " s";
    return out;
}

std::string conversation_page(const std::string& body) {
    auto doc = parse(body);
    const Value* list = items(doc);
    if (!list) return body + '\n';
    if (list->Empty()) return "no conversations\n";
    std::vector<std::vector<std::string>> rows{{"ID", "CHANNEL", "STATUS", "PRIORITY", "CONTACT", "ASSIGNEE",
                                                "LABELS", "UNREAD", "LAST ACTIVITY", "LAST MESSAGE"}};
    for (const auto& c : list->GetArray()) {
        const Value& contact = member(c, "contact");
        std::string who = text(contact, "name", text(contact, "platform_id"));
        if (auto username = text(contact, "username", ""); !username.empty()) who += " (@" + username + ")";
        std::string status = text(c, "status");
        if (auto until = text(c, "snoozed_until", ""); !until.empty())
            status += fmt::format(" until {}", short_time(until));
        std::string priority = text(c, "priority");
        const Value& last = member(c, "last_message");
        std::string preview = text(last, "preview", "");
        if (preview.empty() && last.IsObject()) preview = fmt::format("[{}]", text(last, "kind", "?"));
        if (text(last, "direction", "") == "out") preview = "you: " + preview;
        rows.push_back({text(c, "id"), text(c, "channel_id"), status, priority == "none" ? "-" : priority,
                        one_line(who), one_line(assignee(c)), joined(member(c, "labels")),
                        text(c, "unread_count"), short_time(text(c, "last_activity_at")),
                        cut(one_line(preview), 40)});
    }
    std::string out = table(rows);
    if (auto cursor = text(*doc, "next_cursor", ""); !cursor.empty())
        out += "more: --cursor " + cursor + '\n';
    return out;
}

std::string conversation_counts(const std::string& body) {
    auto doc = parse(body);
    if (!doc || !member(*doc, "all").IsObject()) return body + '\n';
    static constexpr const char* kStatuses[] = {"open", "pending", "snoozed", "resolved"};
    std::vector<std::vector<std::string>> rows{{"", "OPEN", "PENDING", "SNOOZED", "RESOLVED"}};
    for (const char* scope : {"mine", "unassigned", "all"}) {
        std::vector<std::string> row{scope};
        for (const char* status : kStatuses) row.push_back(text(member(*doc, scope), status, "0"));
        rows.push_back(std::move(row));
    }
    return table(rows);
}

std::string stored_message(const std::string& body) {
    auto doc = parse(body);
    if (!doc || !doc->HasMember("id")) return body + '\n';
    const Value& c = member(*doc, "content");
    std::string out = fmt::format("{} {} in conversation {}: {}", text(*doc, "kind", "message"),
                                  text(*doc, "id"), text(*doc, "conversation_id"), text(*doc, "status"));
    if (auto platform_id = text(*doc, "platform_id", ""); !platform_id.empty())
        out += " (platform id " + platform_id + ")";
    out += fmt::format("\n  {}\n", one_line(content(c)));
    if (auto mentioned = joined(member(c, "mentions"), ""); !mentioned.empty())
        out += "  mentioned: " + mentioned + '\n';
    return out;
}

std::string conversation(const std::string& body) {
    auto doc = parse(body);
    if (!doc) return body + '\n';
    std::string out = fmt::format("conversation {} ({}) is {}", text(*doc, "id"), text(*doc, "channel_id"),
                                  text(*doc, "status"));
    if (auto until = text(*doc, "snoozed_until", ""); !until.empty()) out += " until " + until;
    std::string id = text(*doc, "assignee_id", "");
    std::string name = one_line(text(member(*doc, "assignee"), "name", ""));
    if (id.empty())
        out += ", unassigned";
    else
        out += name.empty() ? ", assigned to " + id : fmt::format(", assigned to {} ({})", name, id);
    if (auto priority = text(*doc, "priority", "none"); priority != "none") out += ", priority " + priority;
    if (auto labels = joined(member(*doc, "labels"), ""); !labels.empty()) out += ", labels: " + labels;
    if (auto unread = text(*doc, "unread_count", ""); !unread.empty()) out += ", " + unread + " unread";
    return out + '\n';
}

std::string frame(const std::string& raw) {
    auto doc = parse(raw);
    if (!doc) return one_line(raw);
    std::string type = text(*doc, "type", "?");
    const Value& data = member(*doc, "data");
    std::string head = text(*doc, "at") + "  " + type;
    if (auto seq = text(*doc, "seq", ""); !seq.empty()) head += " #" + seq;
    if (type == "hello")
        return fmt::format("{}  agent {} ({}), last seq {}", head, text(data, "agent_id"), text(data, "role"),
                           text(data, "last_seq"));
    if (type == "new_message") {
        const Value& conversation = member(data, "conversation");
        const Value& message = member(data, "message");
        const Value& sender = member(message, "sender");
        std::string who = text(sender, "name", text(sender, "id"));
        if (text(message, "direction", "") == "out") who = "agent " + who;
        return one_line(fmt::format("{}  conversation {} ({})  {}: {}", head, text(conversation, "id"),
                                    text(conversation, "channel_id"), who,
                                    content(member(message, "content"))));
    }
    if (type == "conversation_assigned")
        return fmt::format("{}  conversation {}  assigned to {} by {}", head, text(data, "conversation_id"),
                           text(data, "agent_id", "nobody"), text(data, "assigned_by"));
    if (type == "conversation_status") {
        const Value& conversation = member(data, "conversation");
        return fmt::format("{}  conversation {}  {} by {}", head, text(conversation, "id"),
                           text(conversation, "status"), text(data, "changed_by"));
    }
    if (type == "typing_indicator") {
        std::string where = text(data, "conversation_id", "");
        if (where.empty()) where = text(data, "channel_id") + "/" + text(data, "platform_conversation_id");
        return fmt::format("{}  conversation {}  typing {}", head, where, text(data, "state"));
    }
    if (const Value& message = member(data, "message"); message.IsObject())
        return one_line(fmt::format("{}  conversation {}  message {} {}", head,
                                    text(message, "conversation_id"), text(message, "id"),
                                    text(message, "status")));
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    data.Accept(w);
    return head + "  " + one_line(buffer.GetString());
}

std::string dead_letters(const std::string& body) {
    auto doc = parse(body);
    const Value* list = items(doc);
    if (!list) return body + '\n';
    if (list->Empty()) return "no dead letters\n";
    std::vector<std::vector<std::string>> rows{{"ID", "CHANNEL", "ATTEMPTS", "FAILED AT", "REASON"}};
    for (const auto& d : list->GetArray())
        rows.push_back({text(d, "id"), text(d, "channel_id"), text(d, "attempts"), text(d, "failed_at"),
                        one_line(text(d, "reason"))});
    std::string out = table(rows);
    for (const auto& d : list->GetArray())
        if (auto preview = text(d, "body_preview", ""); !preview.empty())
            out += fmt::format("{}: {}\n", text(d, "id"), one_line(preview));
    return out;
}

std::string agents(const std::string& body) {
    auto doc = parse(body);
    const Value* list = items(doc);
    if (!list) return body + '\n';
    if (list->Empty()) return "no agents\n";
    std::vector<std::vector<std::string>> rows{
        {"ID", "NAME", "ROLE", "AVAILABILITY", "PRESENCE", "CONNECTED", "OPEN", "CREATED"}};
    for (const auto& a : list->GetArray()) {
        std::string connected = text(a, "connected");
        rows.push_back({text(a, "id"), one_line(text(a, "name")), text(a, "role"), text(a, "availability"),
                        text(a, "presence"),
                        connected == "true"    ? "yes"
                        : connected == "false" ? "no"
                                               : connected,
                        text(a, "open_conversations"), text(a, "created_at")});
    }
    return table(rows);
}

std::string agent(const std::string& body) {
    auto doc = parse(body);
    if (!doc || !doc->HasMember("id")) return body + '\n';
    return fmt::format("agent {}: {} ({})\n", text(*doc, "id"), one_line(text(*doc, "name")),
                       text(*doc, "role"));
}

std::string token(const std::string& body) {
    auto doc = parse(body);
    std::string value = doc ? text(*doc, "token", "") : "";
    if (value.empty()) return body + '\n';
    // The token alone on its line so `$(switchboardctl agents token ID)` captures just it.
    return value + '\n';
}

std::string canned_replies(const std::string& body) {
    auto doc = parse(body);
    const Value* list = items(doc);
    if (!list) return body + '\n';
    if (list->Empty()) return "no canned replies\n";
    std::vector<std::vector<std::string>> rows{{"ID", "SHORTCODE", "SCOPE", "TEXT"}};
    for (const auto& r : list->GetArray())
        rows.push_back({text(r, "id"), fmt::format("/{}", text(r, "shortcode")), text(r, "scope"),
                        one_line(text(r, "rendered", text(r, "text")))});
    return table(rows);
}

std::string canned_reply(const std::string& body) {
    auto doc = parse(body);
    if (!doc || !doc->HasMember("id")) return body + '\n';
    return fmt::format("canned reply {}: /{} ({}) {}\n", text(*doc, "id"), text(*doc, "shortcode"),
                       text(*doc, "scope"), one_line(text(*doc, "text")));
}

std::string me(const std::string& body) {
    auto doc = parse(body);
    if (!doc || !doc->HasMember("id")) return body + '\n';
    return fmt::format("agent {}: {} ({}), availability {}, presence {}, {}\n", text(*doc, "id"),
                       one_line(text(*doc, "name")), text(*doc, "role"), text(*doc, "availability"),
                       text(*doc, "presence"),
                       text(*doc, "connected") == "true" ? "connected" : "not connected");
}

std::string labels(const std::string& body) {
    auto doc = parse(body);
    const Value* list = items(doc);
    if (!list) return body + '\n';
    if (list->Empty()) return "no labels\n";
    std::vector<std::vector<std::string>> rows{{"NAME", "COLOR", "DESCRIPTION"}};
    for (const auto& l : list->GetArray())
        rows.push_back({text(l, "name"), text(l, "color"), one_line(text(l, "description", ""))});
    return table(rows);
}

std::string label(const std::string& body) {
    auto doc = parse(body);
    if (!doc || !doc->HasMember("name")) return body + '\n';
    std::string description = one_line(text(*doc, "description", ""));
    return fmt::format("label {} ({}){}\n", text(*doc, "name"), text(*doc, "color"),
                       description.empty() ? "" : ": " + description);
}

namespace {

// A snippet's parts with the matched words in [brackets].
std::string snippet(const Value& parts) {
    std::string out;
    if (!parts.IsArray()) return out;
    for (const auto& p : parts.GetArray()) {
        const bool match = member(p, "match").IsTrue();
        if (match) out += '[';
        out += text(p, "text", "");
        if (match) out += ']';
    }
    return one_line(out);
}

std::string identities(const Value& contact) {
    std::vector<std::string> out;
    const Value& list = member(contact, "identities");
    if (list.IsArray())
        for (const auto& i : list.GetArray())
            out.push_back(fmt::format("{}:{}", text(i, "channel_id"), text(i, "platform_id")));
    std::string joined;
    for (const auto& o : out) {
        if (!joined.empty()) joined += ' ';
        joined += o;
    }
    return joined.empty() ? "-" : joined;
}

}  // namespace

std::string contacts(const std::string& body) {
    auto doc = parse(body);
    const Value* list = items(doc);
    if (!list) return body + '\n';
    if (list->Empty()) return "no contacts\n";
    std::vector<std::vector<std::string>> rows{
        {"ID", "NAME", "PHONE", "EMAIL", "IDENTITIES", "CONVERSATIONS"}};
    for (const auto& c : list->GetArray())
        rows.push_back({text(c, "id"), cut(text(c, "display_name"), 30), text(c, "phone"), text(c, "email"),
                        identities(c), joined(member(c, "conversation_ids"))});
    return table(rows);
}

std::string contact(const std::string& body) {
    auto doc = parse(body);
    if (!doc || !doc->HasMember("display_name")) return body + '\n';
    std::string out = fmt::format("contact {}: {}\n", text(*doc, "id"), text(*doc, "display_name"));
    for (const char* key : {"email", "phone", "company", "notes"})
        if (text(*doc, key, "") != "") out += fmt::format("  {}: {}\n", key, one_line(text(*doc, key)));
    const Value& attributes = member(*doc, "attributes");
    if (attributes.IsObject())
        for (const auto& a : attributes.GetObject())
            out += fmt::format("  {}: {}\n", a.name.GetString(), text(attributes, a.name.GetString()));
    if (text(*doc, "merged_into", "") != "")
        out += fmt::format("  merged into {}\n", text(*doc, "merged_into"));
    const Value& list = member(*doc, "identities");
    if (list.IsArray())
        for (const auto& i : list.GetArray())
            out += fmt::format("  identity {} on {}: {} {} {}\n", text(i, "platform_id"),
                               text(i, "channel_id"), text(i, "name"), text(i, "username"), text(i, "phone"));
    out += fmt::format("  conversations: {}\n", joined(member(*doc, "conversation_ids")));
    return out;
}

std::string search_hits(const std::string& body) {
    auto doc = parse(body);
    const Value* list = items(doc);
    if (!list) return body + '\n';
    if (list->Empty()) return "nothing found\n";
    std::vector<std::vector<std::string>> rows{{"TYPE", "CONVERSATION", "CONTACT", "MATCH"}};
    for (const auto& hit : list->GetArray()) {
        const Value& conversation = member(hit, "conversation");
        const Value& contact = member(hit, "contact");
        rows.push_back({text(hit, "type"), text(conversation, "id"),
                        contact.IsObject() ? text(contact, "display_name")
                                           : text(member(conversation, "contact"), "display_name"),
                        cut(snippet(member(hit, "snippet")), 80)});
    }
    std::string out = table(rows);
    if (text(*doc, "next_cursor", "") != "")
        out += fmt::format("more: --cursor {}\n", text(*doc, "next_cursor"));
    return out;
}

}  // namespace sb::ctl::format
