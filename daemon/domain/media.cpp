#include "domain/media.hpp"

#include "store/json.hpp"

namespace sb::domain {

std::optional<store::Event> media_settled(Statements& st, std::int64_t message_id, const std::string& content_json,
                                          std::int64_t now_ms) {
    auto m = st.message_by_id(message_id);
    if (!m) return std::nullopt;
    m->content_json = content_json;
    st.update_message_content(*m);  // edited_ms stays: the customer did not edit it
    return st.append_event("message_updated", m->conversation_id, store::message_data(*m), now_ms, std::nullopt);
}

}  // namespace sb::domain
