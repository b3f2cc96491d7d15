#include "domain/conversations.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "identity/principal.hpp"
#include "store/json.hpp"

namespace sb::domain {

using store::AssignOutcome;
using store::StatusOutcome;

AssignOutcome assign(Statements& st, std::int64_t conversation_id, std::string_view agent_id,
                     const std::optional<std::string>& expected, std::string_view assigned_by,
                     std::int64_t now_ms) {
    AssignOutcome out;
    auto previous = st.lock_assignee(conversation_id);
    if (!previous) return out;  // not_found
    if (!agent_id.empty() && !st.agent_exists(agent_id))
        throw std::invalid_argument(fmt::format("no agent \"{}\"", agent_id));
    out.conversation = *st.conversation(conversation_id);
    if (expected && *expected != *previous) {
        out.kind = AssignOutcome::Kind::conflict;
        return out;
    }
    if (*previous == agent_id) {
        out.kind = AssignOutcome::Kind::unchanged;
        return out;
    }
    st.set_assignee(conversation_id, agent_id);
    out.conversation = *st.conversation(conversation_id);
    out.event = st.append_event("conversation_assigned", conversation_id,
                                store::assignment_data(conversation_id, agent_id, *previous, assigned_by),
                                now_ms, identity::Audience::of_assignment(agent_id, *previous));
    out.kind = AssignOutcome::Kind::assigned;
    return out;
}

namespace {

void check_status(std::string_view status) {
    if (status != "open" && status != "resolved")
        throw std::invalid_argument(
            fmt::format("conversation status must be open or resolved, got \"{}\"", status));
}

}  // namespace

StatusOutcome change_status(Statements& st, std::int64_t conversation_id, std::string_view status,
                            std::string_view changed_by, std::int64_t now_ms) {
    check_status(status);
    StatusOutcome out;
    if (!st.lock_assignee(conversation_id)) return out;
    out.conversation = st.conversation(conversation_id);
    if (!out.conversation || out.conversation->status == status) return out;
    st.set_status(conversation_id, status);
    out.conversation = st.conversation(conversation_id);
    // Whoever sees the conversation: its assignee, or every agent while unassigned.
    out.event = st.append_event("conversation_status", conversation_id,
                                store::status_data(*out.conversation, changed_by), now_ms,
                                identity::Audience::of_conversation(out.conversation->assignee_id));
    return out;
}

}  // namespace sb::domain
