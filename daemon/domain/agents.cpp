#include "domain/agents.hpp"

#include <string>

#include <fmt/format.h>

#include "domain/conversations.hpp"
#include "util/random.hpp"

namespace sb::domain {

store::Agent new_agent(std::string_view name, std::string_view role, std::int64_t now_ms) {
    if (role != "admin" && role != "agent")
        throw std::invalid_argument(fmt::format("role must be admin or agent, got \"{}\"", role));
    return store::Agent{"agt_" + util::random_hex(8), std::string(name), std::string(role), now_ms};
}

store::AgentToken new_token(std::string_view agent_id, std::string_view label, std::int64_t now_ms,
                            std::int64_t expires_ms) {
    return store::AgentToken{"tok_" + util::random_hex(8), std::string(agent_id), std::string(label), now_ms,
                             expires_ms};
}

std::optional<store::AgentToken> add_token(Statements& statements, const store::AgentToken& token,
                                           std::string_view token_hash) {
    if (!statements.agent_exists(token.agent_id)) return std::nullopt;
    statements.insert_token(token, token_hash);
    return token;
}

std::optional<std::vector<store::Event>> delete_agent(Statements& statements, std::string_view agent_id,
                                                      std::string_view deleted_by, std::int64_t now_ms) {
    if (!statements.delete_agent(agent_id, now_ms)) return std::nullopt;
    statements.revoke_agent_tokens(agent_id, now_ms);
    return unassign_all(statements, agent_id, deleted_by, now_ms);
}

}  // namespace sb::domain
