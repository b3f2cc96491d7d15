#include "domain/reactions.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "util/time.hpp"

namespace sb::domain {
namespace {

std::string_view string_at(const rapidjson::Value& object, const char* key) {
    if (!object.IsObject()) return {};
    auto it = object.FindMember(key);
    if (it == object.MemberEnd() || !it->value.IsString()) return {};
    return {it->value.GetString(), it->value.GetStringLength()};
}

rapidjson::Value string_value(std::string_view s, rapidjson::Document::AllocatorType& a) {
    return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

}  // namespace

std::optional<std::string> react(std::string_view reactions_json, const sb::events::Party& sender,
                                 std::string_view emoji, std::int64_t now_ms) {
    rapidjson::Document doc;
    if (!reactions_json.empty()) doc.Parse(reactions_json.data(), reactions_json.size());
    if (reactions_json.empty() || doc.HasParseError() || !doc.IsArray()) doc.SetArray();
    auto& a = doc.GetAllocator();

    bool changed = false;
    auto items = doc.GetArray();
    for (auto it = items.Begin(); it != items.End();) {
        if (it->IsObject() && it->HasMember("sender") && string_at((*it)["sender"], "id") == sender.id) {
            if (string_at(*it, "emoji") == emoji) return std::nullopt;  // already so: a redelivery
            it = items.Erase(it);
            changed = true;
        } else {
            ++it;
        }
    }
    if (!emoji.empty()) {
        rapidjson::Value who(rapidjson::kObjectType);
        who.AddMember("id", string_value(sender.id, a), a);
        if (!sender.name.empty()) who.AddMember("name", string_value(sender.name, a), a);
        rapidjson::Value reaction(rapidjson::kObjectType);
        reaction.AddMember("sender", who, a);
        reaction.AddMember("emoji", string_value(emoji, a), a);
        reaction.AddMember("reacted_at", string_value(util::rfc3339(now_ms), a), a);
        doc.PushBack(reaction, a);
        changed = true;
    }
    if (!changed) return std::nullopt;  // removing a reaction that is not there
    if (doc.Empty()) return std::string();
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    doc.Accept(w);
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace sb::domain
