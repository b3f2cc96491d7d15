#include "domain/media.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <set>

#include "store/json.hpp"

namespace sb::domain {

std::string with_media_of(const std::string& content_json, const std::string& media_from, bool add) {
    rapidjson::Document target, source;
    target.Parse(content_json.data(), content_json.size());
    source.Parse(media_from.data(), media_from.size());
    if (target.HasParseError() || !target.IsObject() || source.HasParseError() || !source.IsObject())
        return content_json;
    auto media = source.FindMember("media");
    auto old = target.FindMember("media");
    // Only the host's object (it has a state): a platform's reference is the edit's to change.
    if (media == source.MemberEnd() || !media->value.IsObject() || !media->value.HasMember("state"))
        return content_json;
    rapidjson::Value copy(media->value, target.GetAllocator());
    if (old != target.MemberEnd())
        old->value = std::move(copy);
    else if (add)
        target.AddMember("media", std::move(copy), target.GetAllocator());
    else
        return content_json;
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    target.Accept(w);
    return {buffer.GetString(), buffer.GetSize()};
}

std::optional<store::Event> media_settled(Statements& st, std::int64_t message_id,
                                          const std::string& content_json, std::int64_t now_ms) {
    auto m = st.message_by_id(message_id);
    if (!m) return std::nullopt;
    // The current content (an edit may have come meanwhile) with the file's new state.
    m->content_json = with_media_of(m->content_json, content_json, true);
    st.update_message_content(*m);  // edited_ms stays: the customer did not edit it
    return st.append_event("message_updated", m->conversation_id, store::message_data(*m), now_ms,
                           std::nullopt);
}

store::ExpiredMedia expire_media(Statements& st, std::int64_t before_ms, int limit,
                                 const std::function<std::string(const store::MediaRecord&)>& content_for,
                                 std::int64_t now_ms) {
    store::ExpiredMedia out;
    out.deleted = st.settled_media_before(before_ms, limit);
    std::set<std::string> digests;
    for (const auto& m : out.deleted) {
        st.delete_media(m.id);
        if (!m.sha256.empty()) digests.insert(m.sha256);
        if (m.message_id == 0) continue;
        if (auto event = media_settled(st, m.message_id, content_for(m), now_ms))
            out.events.push_back(std::move(*event));
    }
    // Asked once every row of the round is gone: two old messages with the same photo free it.
    for (const auto& sha256 : digests)
        if (!st.media_names(sha256)) out.unreferenced.push_back(sha256);
    return out;
}

}  // namespace sb::domain
