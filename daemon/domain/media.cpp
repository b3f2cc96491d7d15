#include "domain/media.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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

}  // namespace sb::domain
