// Domain rules that need no store: who a note mentions; canned replies' rules and placeholders;
// how search folds words, reads queries and cuts snippets.
#include <gtest/gtest.h>

#include <stdexcept>

#include "domain/canned.hpp"
#include "domain/notes.hpp"
#include "domain/search.hpp"
#include "text/words.hpp"

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

// --- search ---

std::vector<std::string> folded_words(std::string_view text) {
    std::vector<std::string> out;
    for (const auto& w : sb::text::words(text)) out.push_back(w.folded);
    return out;
}

using Words = std::vector<std::string>;

TEST(SearchWords, CaseCompatibilityFormsAndDiacriticsFoldAway) {
    EXPECT_EQ(folded_words("Caf\u00e9 CAF\u00c9 cafe\u0301"), (Words{"cafe", "cafe", "cafe"}))
        << "composed or not";
    EXPECT_EQ(folded_words("Stra\u00dfe \u00c5ngstr\u00f6m"), (Words{"strasse", "angstrom"}));
    EXPECT_EQ(folded_words("\uff21\uff22\uff23\uff11\uff12 \ufb01le"), (Words{"abc12", "file"}))
        << "full-width, ligature";
    EXPECT_EQ(folded_words("\u0130stanbul \u0394\u03b9\u03ac\u03b2\u03b1\u03c3\u03b7"),
              (Words{"istanbul", "\u03b4\u03b9\u03b1\u03b2\u03b1\u03c3\u03b7"}));
    EXPECT_EQ(folded_words("\u0645\u064e\u0631\u0652\u062d\u064e\u0628\u064b\u0627"),
              Words{"\u0645\u0631\u062d\u0628\u0627"});
}

TEST(SearchWords, PunctuationSeparatesAndEachHanOrKanaCharacterIsAWord) {
    EXPECT_EQ(folded_words("order #B-1042, ok?"), (Words{"order", "b", "1042", "ok"}));
    EXPECT_EQ(folded_words("\u6211\u7684\u8ba2\u5355 ok"),
              (Words{"\u6211", "\u7684", "\u8ba2", "\u5355", "ok"}));
    EXPECT_EQ(folded_words("\u30ab\u30bf\u30ab\u30ca"), (Words{"\u30ab", "\u30bf", "\u30ab", "\u30ca"}));
    EXPECT_EQ(folded_words("\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8").size(), 2u)
        << "Hangul separates words by spaces";
    EXPECT_EQ(folded_words("ok \xff\xfe broken"), (Words{"ok", "broken"})) << "malformed bytes separate";
    const auto w = sb::text::words("a Caf\u00e9!");
    ASSERT_EQ(w.size(), 2u);
    EXPECT_EQ(w[1].begin, 2u);
    EXPECT_EQ(w[1].end, 7u) << "the bytes of the word as written";
}

TEST(SearchWords, PhoneNumbersWrittenWithSeparatorsGiveTheirDigits) {
    EXPECT_EQ(sb::text::phone_numbers("call +49 (151) 1234-5678 or 030/1234567."),
              (Words{"4915112345678", "0301234567"}));
    EXPECT_TRUE(sb::text::phone_numbers("order 12345678 at 12 34 56").empty())
        << "one run of digits is a word already; six digits are too few";
    EXPECT_TRUE(sb::text::phone_numbers("id a1234-5678-99").empty()) << "not inside a word";
}

TEST(SearchTerms, EveryWordOfTheQueryAndAPhoneNumbersDigits) {
    auto terms = sb::domain::search_terms("  Caf\u00e9 ORD ");
    EXPECT_EQ(terms.words, (Words{"cafe", "ord"}));
    EXPECT_EQ(terms.phone, "");
    terms = sb::domain::search_terms("+49 151-1234");
    EXPECT_EQ(terms.words, (Words{"49", "151", "1234"}));
    EXPECT_EQ(terms.phone, "491511234");
    EXPECT_EQ(sb::domain::search_terms("order order").words, Words{"order"});
    EXPECT_THROW(sb::domain::search_terms(""), std::invalid_argument);
    EXPECT_THROW(sb::domain::search_terms(" ?! "), std::invalid_argument);
    EXPECT_THROW(sb::domain::search_terms(std::string(600, 'a')), std::invalid_argument);
    std::string many;
    for (int i = 0; i < 17; ++i) many += "w" + std::to_string(i) + " ";
    EXPECT_THROW(sb::domain::search_terms(many), std::invalid_argument);
}

TEST(SearchIndex, AMessageIsFoundByWhatAPersonReadsInIt) {
    const std::string content =
        R"({"type":"contact","name":"Ada","phone":"+44 20 7946 0958","contacts":[{"name":"Ada"},{"name":"Bob Ross","phone":"+1 555 0100 222"}],)"
        R"("media":{"id":"AgAD-file-id","url":"https://cdn.example/x.jpg","file_name":"receipt.pdf"},"referral":{"headline":"Winter sale"}})";
    const auto index = sb::domain::message_search_text(content);
    for (const std::string word :
         {"ada", "bob", "ross", "receipt", "pdf", "winter", "sale", "442079460958", "15550100222"})
        EXPECT_NE((" " + index + " ").find(" " + word + " "), std::string::npos) << word << " in: " << index;
    EXPECT_EQ(index.find("agad"), std::string::npos) << "platform ids are not words a person searches";
    EXPECT_EQ(index.find("cdn"), std::string::npos) << "nor URLs";
    EXPECT_EQ(
        sb::domain::message_text(
            R"({"type":"poll","question":"Which day?","options":[{"text":"Monday"},{"text":"Friday"}]})"),
        "Which day? \u00b7 Monday \u00b7 Friday");
    EXPECT_EQ(sb::domain::message_search_text("not json"), "");
}

std::string marked(const std::vector<sb::store::SnippetPart>& parts) {
    std::string out;
    for (const auto& p : parts) out += p.match ? "[" + p.text + "]" : p.text;
    return out;
}

TEST(SearchSnippet, MatchesAreMarkedAsWrittenAndLongTextIsCutAroundTheFirst) {
    const auto terms = sb::domain::search_terms("cafe ord");
    EXPECT_EQ(marked(sb::domain::snippet("Le CAF\u00c9 et mes orders!", terms)),
              "Le [CAF\u00c9] et mes [orders]!");
    std::string long_text;
    for (int i = 0; i < 40; ++i) long_text += "word" + std::to_string(i) + " ";
    long_text += "the order is here";
    for (int i = 0; i < 40; ++i) long_text += " tail" + std::to_string(i);
    const auto cut = marked(sb::domain::snippet(long_text, terms));
    EXPECT_EQ(cut.rfind("\u2026word35 ", 0), 0u) << cut;
    EXPECT_NE(cut.find("the [order] is here"), std::string::npos) << cut;
    EXPECT_EQ(cut.substr(cut.size() - 3), "\u2026") << cut;
    EXPECT_EQ(
        marked(sb::domain::snippet("\u6211\u7684\u8ba2\u5355", sb::domain::search_terms("\u8ba2\u5355"))),
        "\u6211\u7684[\u8ba2\u5355]");
    EXPECT_EQ(marked(sb::domain::snippet("nothing here", terms)), "nothing here") << "no match: the start";
}

}  // namespace
