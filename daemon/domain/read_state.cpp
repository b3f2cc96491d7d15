#include "domain/read_state.hpp"

namespace sb::domain {

using store::ReadOutcome;

namespace {

ReadOutcome done(Statements& st, std::int64_t conversation_id, std::string_view agent_id) {
    ReadOutcome out;
    if (auto c = st.conversation_for(conversation_id, agent_id)) {
        out.kind = ReadOutcome::Kind::done;
        out.conversation = std::move(*c);
    }
    return out;
}

}  // namespace

ReadOutcome mark_read(Statements& st, std::int64_t conversation_id, std::string_view agent_id,
                      std::int64_t message_id, std::int64_t now_ms) {
    ReadOutcome out;
    if (!st.lock_assignee(conversation_id)) return out;
    if (message_id != 0 && !st.message_in(conversation_id, message_id)) {
        out.kind = ReadOutcome::Kind::no_message;
        return out;
    }
    const std::int64_t target = message_id != 0 ? message_id : st.newest_message(conversation_id, false, 0);
    if (target > st.read_position(conversation_id, agent_id))
        st.set_read_position(conversation_id, agent_id, target, now_ms);
    return done(st, conversation_id, agent_id);
}

ReadOutcome mark_unread(Statements& st, std::int64_t conversation_id, std::string_view agent_id,
                        std::int64_t now_ms) {
    ReadOutcome out;
    if (!st.lock_assignee(conversation_id)) return out;
    const std::int64_t newest_inbound = st.newest_message(conversation_id, true, 0);
    if (newest_inbound != 0)
        st.set_read_position(conversation_id, agent_id,
                             st.newest_message(conversation_id, false, newest_inbound), now_ms);
    return done(st, conversation_id, agent_id);
}

}  // namespace sb::domain
