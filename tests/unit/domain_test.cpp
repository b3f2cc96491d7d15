// Domain rules that need no store: who a note mentions; canned replies' rules and placeholders.
#include <gtest/gtest.h>

#include <stdexcept>

#include "domain/canned.hpp"
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

using sb::domain::CannedAccess;
using sb::domain::CannedContext;
using sb::domain::render_canned;
using sb::store::CannedReply;

const CannedContext kNora{"Nora Ephron", "Grace", "42", "tg"};

TEST(CannedRendering, PlaceholdersBecomeTheContactsAndTheAgentsNames) {
    EXPECT_EQ(render_canned("Hello {{contact.name}}, {{agent.name}} here.", kNora),
              "Hello Nora Ephron, Grace here.");
    EXPECT_EQ(render_canned("Hi {{contact.first_name}}!", kNora), "Hi Nora!");
    EXPECT_EQ(render_canned("#{{conversation.id}} on {{channel.id}}", kNora), "#42 on tg");
    EXPECT_EQ(render_canned("{{ contact.name }}", kNora), "Nora Ephron") << "spaces inside the braces";
    EXPECT_EQ(render_canned("{{contact.name}}{{contact.name}}", kNora), "Nora EphronNora Ephron");
}

TEST(CannedRendering, UnknownPlaceholdersAndStrayBracesStayAsWritten) {
    EXPECT_EQ(render_canned("{{contact.phone}} {{}} {{agent.name", kNora),
              "{{contact.phone}} {{}} {{agent.name");
    EXPECT_EQ(render_canned("{{{contact.first_name}}}", kNora), "{Nora}");
    EXPECT_EQ(render_canned("no placeholders {here}", kNora), "no placeholders {here}");
    EXPECT_EQ(render_canned("", kNora), "");
}

TEST(CannedRendering, AValueThatIsNotKnownRendersEmpty) {
    EXPECT_EQ(render_canned("Hello {{contact.name}}!", CannedContext{}), "Hello !");
    EXPECT_EQ(render_canned("Hi {{contact.first_name}}.", CannedContext{"Cher", "", "", ""}), "Hi Cher.");
}

TEST(CannedRendering, TheContextComesFromTheConversationAndTheAnsweringAgent) {
    sb::store::Conversation c;
    c.id = 7;
    c.channel_id = "wa";
    c.contact_name = "Ada Lovelace";
    sb::identity::Principal agent{"agt_1", "Grace Hopper", "agent", "tok", 0};
    EXPECT_EQ(render_canned("{{contact.first_name}}/{{agent.name}}/{{conversation.id}}/{{channel.id}}",
                            sb::domain::canned_context(c, agent)),
              "Ada/Grace Hopper/7/wa");
}

TEST(CannedRules, AShortcodeIsLowerCasedAndOneTo32OfLettersDigitsUnderscoreAndDash) {
    EXPECT_EQ(sb::domain::canned_shortcode("Greet_2-x"), "greet_2-x");
    EXPECT_EQ(sb::domain::canned_shortcode(std::string(32, 'a')), std::string(32, 'a'));
    EXPECT_THROW(sb::domain::canned_shortcode(""), std::invalid_argument);
    EXPECT_THROW(sb::domain::canned_shortcode(std::string(33, 'a')), std::invalid_argument);
    EXPECT_THROW(sb::domain::canned_shortcode("two words"), std::invalid_argument);
    EXPECT_THROW(sb::domain::canned_shortcode("/greet"), std::invalid_argument);
    EXPECT_EQ(sb::domain::canned_prefix(""), "") << "no prefix: every reply";
    EXPECT_EQ(sb::domain::canned_prefix("GR"), "gr");
    EXPECT_THROW(sb::domain::canned_prefix("g%"), std::invalid_argument);
}

TEST(CannedRules, EveryShortcodeWithAPrefixSortsBelowTheRangesEnd) {
    const std::string end = sb::domain::canned_prefix_end("gr");
    for (std::string code : {"gr", "gr-", "gr_", "gr9", "grzzzz"}) EXPECT_LT(code, end) << code;
    EXPECT_GT(std::string("gs"), end);
}

TEST(CannedRules, ATextIsOneTo4000BytesAndTheOwnerFitsTheScope) {
    auto draft = [](std::string text, std::string scope, std::string owner) {
        return CannedReply{0, "Hi", std::move(text), std::move(scope), std::move(owner), 0, 0};
    };
    auto made = sb::domain::new_canned_reply(draft("Hello", "shared", ""), 5);
    EXPECT_EQ(made.shortcode, "hi");
    EXPECT_EQ(made.created_ms, 5);
    EXPECT_EQ(made.updated_ms, 5);
    EXPECT_NO_THROW(sb::domain::new_canned_reply(draft(std::string(4000, 'x'), "personal", "agt_1"), 5));
    EXPECT_THROW(sb::domain::new_canned_reply(draft(std::string(4001, 'x'), "shared", ""), 5),
                 std::invalid_argument);
    EXPECT_THROW(sb::domain::new_canned_reply(draft("", "shared", ""), 5), std::invalid_argument);
    EXPECT_THROW(sb::domain::new_canned_reply(draft("Hello", "team", ""), 5), std::invalid_argument);
    EXPECT_THROW(sb::domain::new_canned_reply(draft("Hello", "personal", ""), 5), std::invalid_argument);
    EXPECT_THROW(sb::domain::new_canned_reply(draft("Hello", "shared", "agt_1"), 5), std::invalid_argument);
}

TEST(CannedRules, AdminsManageSharedRepliesAndAPersonalOneIsItsOwnersAlone) {
    const sb::identity::Principal admin{"admin", "Boss", "admin", "", 0};
    const sb::identity::Principal alice{"agt_alice", "Alice", "agent", "t1", 0};
    const sb::identity::Principal bob{"agt_bob", "Bob", "agent", "t2", 0};
    const CannedReply shared{1, "hi", "Hello", "shared", "", 0, 0};
    const CannedReply alices{2, "hi", "Hey", "personal", "agt_alice", 0, 0};
    EXPECT_EQ(sb::domain::canned_access(admin, shared), CannedAccess::write);
    EXPECT_EQ(sb::domain::canned_access(alice, shared), CannedAccess::read);
    EXPECT_EQ(sb::domain::canned_access(alice, alices), CannedAccess::write);
    EXPECT_EQ(sb::domain::canned_access(bob, alices), CannedAccess::hidden);
    EXPECT_EQ(sb::domain::canned_access(admin, alices), CannedAccess::hidden) << "not even for admins";
}

}  // namespace
