// Domain rules that need no store: who a note mentions.
#include <gtest/gtest.h>

#include "domain/notes.hpp"

namespace {

using sb::domain::mentioned_agents;
using sb::store::Agent;

std::vector<std::string> ids(const std::vector<Agent>& agents) {
    std::vector<std::string> out;
    for (const auto& a : agents) out.push_back(a.id);
    return out;
}

const std::vector<Agent> kTeam{{"agt_ann", "Ann", "agent", 0},
                               {"agt_anna", "Anna", "agent", 0},
                               {"agt_grace", "Grace Hopper", "agent", 0},
                               {"admin", "Bootstrap admin", "admin", 0}};

TEST(Mentions, AnAtFollowedByANameOrIdInAnyCaseMentionsThatAgent) {
    EXPECT_EQ(ids(mentioned_agents("@grace hopper can you look?", kTeam, "")),
              std::vector<std::string>{"agt_grace"});
    EXPECT_EQ(ids(mentioned_agents("cc @AGT_ANN.", kTeam, "")), std::vector<std::string>{"agt_ann"});
    EXPECT_EQ(ids(mentioned_agents("(@admin)", kTeam, "")), std::vector<std::string>{"admin"});
}

TEST(Mentions, TheLongerOfTwoNamesWinsAndANameMustEndAtAWordBoundary) {
    EXPECT_EQ(ids(mentioned_agents("@Anna please", kTeam, "")), std::vector<std::string>{"agt_anna"});
    EXPECT_EQ(ids(mentioned_agents("@Ann please", kTeam, "")), std::vector<std::string>{"agt_ann"});
    EXPECT_TRUE(mentioned_agents("@Annabel please", kTeam, "").empty());
    EXPECT_TRUE(mentioned_agents("@Grace_Hopper", kTeam, "").empty()) << "'_' continues a word";
}

TEST(Mentions, AnEmailAddressTheAuthorAndRepeatsAreNotExtraMentions) {
    EXPECT_TRUE(mentioned_agents("write to ann@Anna.example", kTeam, "").empty());
    EXPECT_TRUE(mentioned_agents("note to self @Ann", kTeam, "agt_ann").empty());
    EXPECT_EQ(ids(mentioned_agents("@Ann @ann @Anna", kTeam, "")),
              (std::vector<std::string>{"agt_ann", "agt_anna"}))
        << "once each, in the directory's order";
    EXPECT_TRUE(mentioned_agents("@", kTeam, "").empty());
    EXPECT_TRUE(mentioned_agents("trailing @", kTeam, "").empty());
}

}  // namespace
