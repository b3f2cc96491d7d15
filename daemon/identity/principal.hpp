#pragma once
// Who is acting, and the one visibility rule: which conversations and events a principal may
// see. Every module that decides visibility (the API, the notifier, the reply path, the store's
// list queries and event audiences) takes it from here; nothing here knows about HTTP.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sb::identity {

struct Principal {
    std::string agent_id;
    std::string name;
    std::string role;             // admin | agent
    std::string token_id;         // "" for the bootstrap token
    std::int64_t expires_ms = 0;  // 0 = never
    bool admin() const { return role == "admin"; }
};

// Who sees a conversation: admins all; an agent its own and unassigned ones.
inline bool can_see(const Principal& principal, std::string_view assignee_id) {
    return principal.admin() || assignee_id.empty() || assignee_id == principal.agent_id;
}

// Who, besides admins (who receive everything), receives an event. Stored with each event in
// the encoding below, so that a replay decides as the live push did:
//   ""            every agent (the conversation was unassigned when it happened)
//   "a" / "a,b"   those agents only (the assignee; both sides of an assignment change)
//   ","           admins only (an unassigned conversation's unassignment; no agent id is ",")
class Audience {
public:
    // The events of a conversation assigned to `assignee_id` ("" = unassigned: everyone).
    static std::string of_conversation(std::string_view assignee_id) { return std::string(assignee_id); }

    // An assignment change from `previous` to `assignee` (either may be ""): both sides see it.
    static std::string of_assignment(std::string_view assignee, std::string_view previous) {
        if (assignee.empty() && previous.empty()) return ",";
        if (assignee.empty() || previous.empty()) return std::string(assignee.empty() ? previous : assignee);
        return fmt::format("{},{}", assignee, previous);
    }

    // The events of a contact, for whoever sees one of its conversations (whose assignees are
    // `assignees`, "" = unassigned): everyone when one is unassigned, admins only when none.
    template <typename Range>
    static std::string of_conversations(const Range& assignees) {
        std::vector<std::string> agents;
        for (const auto& a : assignees) {
            if (std::string_view(a).empty()) return "";
            agents.emplace_back(a);
        }
        if (agents.empty()) return ",";
        std::sort(agents.begin(), agents.end());
        agents.erase(std::unique(agents.begin(), agents.end()), agents.end());
        return fmt::format("{}", fmt::join(agents, ","));
    }

    // Whether `principal` receives an event stored with `audience`. Allocation-free: the
    // notifier asks this for every subscriber of every event.
    static bool includes(std::string_view audience, const Principal& principal) {
        return principal.admin() || includes_agent(audience, principal.agent_id);
    }

    // The same for an agent who is not an admin.
    static bool includes_agent(std::string_view audience, std::string_view agent_id) {
        if (audience.empty()) return true;
        while (!audience.empty()) {
            auto comma = audience.find(',');
            if (audience.substr(0, comma) == agent_id) return true;
            if (comma == std::string_view::npos) break;
            audience.remove_prefix(comma + 1);
        }
        return false;
    }
};

}  // namespace sb::identity
