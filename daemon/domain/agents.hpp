#pragma once
// Agents as colleagues: who they are (a role, an id), the availability each one sets for itself,
// the tokens they sign in with, and what leaving does. Written once over the backends'
// statements (domain/statements.hpp).

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "domain/statements.hpp"
#include "store/store.hpp"

namespace sb::domain {

// online: takes new conversations; busy: keeps its own, gets no new ones; offline: away.
// Anything else is std::invalid_argument.
inline void check_availability(std::string_view availability) {
    if (availability != "online" && availability != "busy" && availability != "offline")
        throw std::invalid_argument("availability must be online, busy or offline");
}

// A new agent with its id drawn ("agt_…"); a role other than admin or agent is
// std::invalid_argument. Not stored: the caller inserts it, the same record again should its
// transaction be retried.
store::Agent new_agent(std::string_view name, std::string_view role, std::int64_t now_ms);

// A new token grant of `agent_id` with its id drawn ("tok_…"); stored by add_token().
store::AgentToken new_token(std::string_view agent_id, std::string_view label, std::int64_t now_ms,
                            std::int64_t expires_ms);

// Stores `token` (by the hash of its secret) when its agent exists and is not deleted; nullopt,
// storing nothing, otherwise.
std::optional<store::AgentToken> add_token(Statements& statements, const store::AgentToken& token,
                                           std::string_view token_hash);

// Deletes the agent and revokes its tokens; its conversations become unassigned, with their
// events. nullopt when there is no such (undeleted) agent.
std::optional<std::vector<store::Event>> delete_agent(Statements& statements, std::string_view agent_id,
                                                      std::string_view deleted_by, std::int64_t now_ms);

}  // namespace sb::domain
