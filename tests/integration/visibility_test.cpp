// Who sees what, through the whole matrix (issue 4): roles (an agent, another agent, an admin
// agent) × conversations (assigned to the agent, to the other agent, unassigned) × every
// conversation endpoint and every event type, on the real daemon. The generic api channel
// plays the platform, because it carries every normalized event type (message, echo, edit,
// status, reaction, typing) and supports typing but not read receipts.

#include <gtest/gtest.h>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/http_test_client.hpp"
#include "support/json_view.hpp"
#include "support/process.hpp"
#include "support/signing.hpp"
#include "support/wait.hpp"

namespace sb::test {
namespace {

using namespace std::chrono_literals;

constexpr char kBootstrapToken[] = "visibility-bootstrap-token-0123456789";
constexpr char kSecret[] = "visibility-shared-secret-0123456789";
// How long "no further frame" is watched for once the expected ones are in: what a wrong
// extra frame would be sent with (the same fan-out), not a wait for the expected ones.
constexpr auto kQuiet = 300ms;

// The conversation (our id) a frame is about, wherever its type keeps it.
std::string conversation_of(const Json& frame) {
    for (const char* pointer :
         {"/data/conversation/id", "/data/conversation_id", "/data/message/conversation_id"})
        if (frame.at(pointer) != nullptr) return frame.str(pointer);
    return "?";
}

// The ids (or another string member) of a list response's items.
std::vector<std::string> item_strings(const std::string& body, const std::string& member) {
    Json list(body);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < list.size("/items"); ++i)
        out.push_back(list.str(("/items/" + std::to_string(i) + "/" + member).c_str()));
    return out;
}

// One api-channel event of `type` in the conversation whose platform id is `chat`.
std::string event(const std::string& type, const std::string& chat, const std::string& fields) {
    return R"({"v":1,"type":")" + type + R"(","conversation":{"id":")" + chat +
           R"(","kind":"private"},"sender":{"id":")" + chat + R"(","name":"Customer )" + chat +
           R"("},"timestamp_ms":1732540000000)" + fields + "}";
}

// Every event type the agents may receive, about `chat`: the customer's message, our echo
// sent from another tool, an edit, a delivery status of the echo, a reaction, typing.
std::string everything_about(const std::string& chat) {
    const std::string in = "in-" + chat, out = "out-" + chat;
    const std::string text = R"(,"content":{"type":"text","text":"hello from )" + chat + "\"}";
    return R"({"events":[)" + event("message", chat, R"(,"id":")" + in + "\"" + text) + "," +
           event("message", chat, R"(,"id":")" + out + R"(","direction":"out")" + text) + "," +
           event("edit", chat, R"(,"id":")" + in + R"(","content":{"type":"text","text":"edited"})") + "," +
           event("status", chat, R"(,"id":")" + out + R"(","status":"delivered")") + "," +
           event("reaction", chat, R"(,"id":")" + in + R"(","emoji":"👍")") + "," +
           event("typing", chat, R"(,"state":"on")") + "]}";
}

class VisibilityMatrixTest : public ::testing::Test {
protected:
    void SetUp() override {
        callback_.set_handler([this](const HttpRequest&) {
            HttpResponse res;
            res.status = 201;
            res.body = R"({"id":"cb-)" + std::to_string(++sent_) + "\"}";
            return res;
        });
        std::string yaml;
        yaml += "server: { listen: \"127.0.0.1:0\", threads: 2 }\n";
        yaml += "storage: { backend: sqlite, sqlite: { path: \"" + daemon_.db_path().string() + "\" } }\n";
        yaml += "plugins: { dir: \"" SB_PLUGIN_DIR "\" }\n";
        yaml += std::string("auth: { bootstrap_admin_token: \"") + kBootstrapToken + "\" }\n";
        yaml += "channels:\n  - id: web\n    plugin: api\n";
        yaml += std::string("    settings: { shared_secret: \"") + kSecret + "\", callback_url: \"" +
                callback_.base_url() + "/callback\" }\n";
        daemon_.start(yaml);

        for (auto [name, role] : {std::pair{"alice", "agent"}, {"bob", "agent"}, {"carol", "admin"}}) {
            auto created = as(kBootstrapToken)
                               .post_json("/api/v1/agents", R"({"name":")" + std::string(name) +
                                                                R"(","role":")" + role + "\"}");
            ASSERT_EQ(created.status, 201) << created.body;
            const std::string id = Json(created.body).str("/id");
            auto token = as(kBootstrapToken).post_json("/api/v1/agents/" + id + "/tokens", "{}");
            ASSERT_EQ(token.status, 201) << token.body;
            agents_[name] = {id, Json(token.body).str("/token")};
        }
    }
    void TearDown() override {
        if (HasFailure()) daemon_.dump_logs(std::cerr);
    }

    struct Agent {
        std::string id, token;
    };

    HttpClient as(const std::string& token) const {
        return HttpClient(daemon_.port(), {{"Authorization", "Bearer " + token}});
    }
    HttpClient as_agent(const std::string& name) const { return as(agents_.at(name).token); }

    HttpResult post_webhook(const std::string& body) {
        return HttpClient(daemon_.port())
            .post_json("/webhooks/web", body, {{"X-Switchboard-Signature", sha256_signature(kSecret, body)}});
    }

    // Creates the conversation of `chat` with one customer message; returns its id.
    std::string conversation(const std::string& chat) {
        EXPECT_EQ(
            post_webhook(event("message", chat,
                               R"(,"id":"first-)" + chat + R"(","content":{"type":"text","text":"hi"})"))
                .status,
            200);
        std::string id;
        const bool stored = wait_until([&] {
            const std::string body = as(kBootstrapToken).get("/api/v1/conversations").body;
            auto chats = item_strings(body, "platform_id");
            auto ids = item_strings(body, "id");
            for (std::size_t k = 0; k < chats.size(); ++k)
                if (chats[k] == chat) id = ids[k];
            return !id.empty();
        });
        EXPECT_TRUE(stored) << "conversation " << chat << " never stored";
        return id;
    }

    HttpResult assign(const std::string& conversation, const std::string& agent_name) {
        return as_agent("carol").post_json("/api/v1/conversations/" + conversation + "/assignment",
                                           agent_name.empty()
                                               ? R"({"agent_id":null})"
                                               : R"({"agent_id":")" + agents_.at(agent_name).id + "\"}");
    }

    void connect(WebSocketClient& ws, const std::string& name) {
        auto res = ws.connect(daemon_.port(), "/api/v1/ws?access_token=" + agents_.at(name).token);
        ASSERT_EQ(res.status, 101) << res.error << res.body;
    }

    using Seen = std::multiset<std::pair<std::string, std::string>>;
    // (type, conversation) of the frames, hello skipped: waits until as many as `expected`
    // holds arrived, then takes any more that come within kQuiet, so an extra one (a frame
    // for a conversation the agent may not see) is in what the caller compares.
    static Seen drain(WebSocketClient& ws, const Seen& expected = {}) {
        Seen out;
        auto take = [&](std::chrono::milliseconds within) {
            auto frame = ws.read_frame(within);
            if (!frame) return false;
            Json doc(*frame);
            const std::string type = doc.str("/type");
            if (type != "hello") out.emplace(type, conversation_of(doc));
            return true;
        };
        wait_until(
            [&] {
                if (out.size() < expected.size() && !ws.closed()) take(100ms);
                return out.size() >= expected.size() || ws.closed();
            },
            kDefaultWait, 0ms);
        while (take(kQuiet)) {
        }
        return out;
    }
    // Whether exactly `expected` (the frames drain() waits for) is what `ws` gets next.
    static ::testing::AssertionResult gets(WebSocketClient& ws, const Seen& expected) {
        const Seen got = drain(ws, expected);
        if (got == expected) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure() << "got " << ::testing::PrintToString(got) << "\n  expected "
                                             << ::testing::PrintToString(expected);
    }

    FakeHttpServer callback_;  // the user's system behind the api channel
    std::atomic<int> sent_{0};
    Daemon daemon_{SB_DAEMON_PATH};
    std::map<std::string, Agent> agents_;
};

TEST_F(VisibilityMatrixTest, EveryEventTypeReachesExactlyWhoMaySeeItsConversation) {
    const std::string mine = conversation("chat-alice");
    const std::string theirs = conversation("chat-bob");
    const std::string open = conversation("chat-open");

    WebSocketClient alice, bob, carol;
    ASSERT_NO_FATAL_FAILURE(connect(alice, "alice"));
    ASSERT_NO_FATAL_FAILURE(connect(bob, "bob"));
    ASSERT_NO_FATAL_FAILURE(connect(carol, "carol"));
    for (auto* ws : {&alice, &bob, &carol}) drain(*ws);

    // Assignment events: to the new assignee (and the previous one) and admins.
    ASSERT_EQ(assign(mine, "alice").status, 200);
    ASSERT_EQ(assign(theirs, "bob").status, 200);
    EXPECT_TRUE(gets(alice, {{"conversation_assigned", mine}}));
    EXPECT_TRUE(gets(bob, {{"conversation_assigned", theirs}}));
    EXPECT_TRUE(gets(carol, {{"conversation_assigned", mine}, {"conversation_assigned", theirs}}));

    for (const char* chat : {"chat-alice", "chat-bob", "chat-open"})
        ASSERT_EQ(post_webhook(everything_about(chat)).status, 200) << chat;
    auto all_types = [](const std::string& conversation) {
        return Seen{{"new_message", conversation},      {"new_message", conversation},
                    {"message_updated", conversation},  {"message_status", conversation},
                    {"message_reaction", conversation}, {"typing_indicator", conversation}};
    };
    auto both = [&](const std::string& a, const std::string& b) {
        Seen out = all_types(a);
        out.merge(all_types(b));
        return out;
    };
    Seen everything = both(mine, theirs);
    everything.merge(all_types(open));
    EXPECT_TRUE(gets(alice, both(mine, open)));
    EXPECT_TRUE(gets(bob, both(theirs, open)));
    EXPECT_TRUE(gets(carol, everything));

    // A status change reaches every device of whoever sees the conversation.
    ASSERT_EQ(as_agent("alice")
                  .request("PATCH", "/api/v1/conversations/" + mine, R"({"status":"resolved"})")
                  .status,
              200);
    ASSERT_EQ(
        as_agent("bob").request("PATCH", "/api/v1/conversations/" + open, R"({"status":"resolved"})").status,
        200);
    EXPECT_TRUE(gets(alice, {{"conversation_status", mine}, {"conversation_status", open}}));
    EXPECT_TRUE(gets(bob, {{"conversation_status", open}}));
    EXPECT_TRUE(gets(carol, {{"conversation_status", mine}, {"conversation_status", open}}));

    // Handing a conversation over moves what follows: Bob's former conversation now goes to
    // Alice, and Bob hears only of the assignment itself.
    ASSERT_EQ(assign(theirs, "alice").status, 200);
    EXPECT_TRUE(gets(bob, {{"conversation_assigned", theirs}}));
    EXPECT_TRUE(gets(alice, {{"conversation_assigned", theirs}}));
    ASSERT_EQ(post_webhook(event("typing", "chat-bob", R"(,"state":"off")")).status, 200);
    ASSERT_EQ(
        post_webhook(event("message", "chat-bob", R"(,"id":"later","content":{"type":"text","text":"x"})"))
            .status,
        200);
    EXPECT_TRUE(gets(alice, {{"typing_indicator", theirs}, {"new_message", theirs}}));
    EXPECT_TRUE(gets(bob, {})) << "Bob no longer sees what follows in his former conversation";
    drain(carol);
}

TEST_F(VisibilityMatrixTest, EveryConversationEndpointAnswersOnlyWhoMaySeeIt) {
    std::map<std::string, std::string> conversations{{"alice's", conversation("chat-alice")},
                                                     {"bob's", conversation("chat-bob")},
                                                     {"unassigned", conversation("chat-open")}};
    ASSERT_EQ(assign(conversations["alice's"], "alice").status, 200);
    ASSERT_EQ(assign(conversations["bob's"], "bob").status, 200);

    // Whether `who` sees `which`: admins everything, agents their own and unassigned ones.
    auto sees = [](const std::string& who, const std::string& which) {
        return who == "carol" || which == "unassigned" || which == who + "'s";
    };
    for (const std::string who : {"alice", "bob", "carol"}) {
        for (const auto& [which, id] : conversations) {
            const std::string path = "/api/v1/conversations/" + id;
            const std::string where = who + " on " + which;
            const bool visible = sees(who, which);
            HttpClient client = as_agent(who);
            EXPECT_EQ(client.get(path).status, visible ? 200 : 404) << where << ": GET";
            EXPECT_EQ(client.get(path + "/messages").status, visible ? 200 : 404) << where << ": history";
            const int before = sent_;
            auto send = client.post_json(path + "/messages", R"({"content":{"type":"text","text":"hi"}})");
            EXPECT_EQ(send.status, visible ? 201 : 404) << where << ": send " << send.body;
            auto typing = client.post_json(path + "/typing", R"({"state":"on"})");
            EXPECT_EQ(typing.status, visible ? 204 : 404) << where << ": typing " << typing.body;
            // The api channel has no read receipts: who may see it has its read recorded (204;
            // 422 read_unsupported before issue 14's read state); others 404.
            auto read = client.post_json(path + "/read", "");
            EXPECT_EQ(read.status, visible ? 204 : 404) << where << ": read " << read.body;
            // Nothing of an invisible conversation reaches the platform.
            EXPECT_EQ(sent_ - before, visible ? 2 : 0) << where << ": callbacks for send + typing";
            auto resolve = client.request("PATCH", path, R"({"status":"resolved"})");
            EXPECT_EQ(resolve.status, visible ? 200 : 404) << where << ": PATCH " << resolve.body;
            if (visible) {
                EXPECT_EQ(Json(resolve.body).str("/status"), "resolved") << where;
                EXPECT_EQ(client.request("PATCH", path, R"({"status":"open"})").status, 200) << where;
            }
            // Assignment: an agent cannot see, hand back or reassign someone else's (404);
            // may not hand a visible one to a third party (403); admins may do anything.
            auto to_other =
                client.post_json(path + "/assignment",
                                 R"({"agent_id":")" + agents_.at(who == "bob" ? "alice" : "bob").id + "\"}");
            const int expected_assign = who == "carol" ? 200 : visible ? 403 : 404;
            EXPECT_EQ(to_other.status, expected_assign) << where << ": assign to another " << to_other.body;
            if (who == "carol") {  // put it back as it was
                const std::string owner = which == "unassigned" ? "" : which.substr(0, which.size() - 2);
                ASSERT_EQ(assign(id, owner).status, 200);
            }
            if (who != "carol") {
                auto hand_back = client.post_json(path + "/assignment", R"({"agent_id":null})");
                // Not its own to hand back: 404 when it cannot see it; an unassigned one is
                // already as asked, 200 "unchanged" as for an admin (no frame).
                if (!visible) {
                    EXPECT_EQ(hand_back.status, 404) << where << ": hand back " << hand_back.body;
                } else if (which == "unassigned") {
                    EXPECT_EQ(hand_back.status, 200) << where << ": hand back " << hand_back.body;
                    EXPECT_NE(hand_back.body.find("\"assignee_id\":null"), std::string::npos)
                        << hand_back.body;
                } else {  // its own: handed back, then given back
                    EXPECT_EQ(hand_back.status, 200) << where << ": hand back " << hand_back.body;
                    ASSERT_EQ(assign(id, who).status, 200);
                }
            }
        }
    }
    // The lists agree with the matrix.
    for (const std::string who : {"alice", "bob", "carol"}) {
        std::set<std::string> listed, expected;
        for (const auto& id : item_strings(as_agent(who).get("/api/v1/conversations").body, "id"))
            listed.insert(id);
        for (const auto& [which, id] : conversations)
            if (sees(who, which)) expected.insert(id);
        EXPECT_EQ(listed, expected) << who;
    }
}

TEST_F(VisibilityMatrixTest, SearchFindsAMessageOnceStoredAndNothingTheSearcherMayNotSee) {
    std::map<std::string, std::string> conversations{{"alice's", conversation("chat-alice")},
                                                     {"bob's", conversation("chat-bob")},
                                                     {"unassigned", conversation("chat-open")}};
    ASSERT_EQ(assign(conversations["alice's"], "alice").status, 200);
    ASSERT_EQ(assign(conversations["bob's"], "bob").status, 200);
    for (const std::string chat : {"chat-alice", "chat-bob", "chat-open"})
        ASSERT_EQ(post_webhook(event("message", chat,
                                     R"(,"id":"order-)" + chat +
                                         R"(","content":{"type":"text","text":"Where is my ORDER B-1042, )" +
                                         chat + "?\"}"))
                      .status,
                  200);
    // The conversations (ours) a search finds, as `who`.
    auto found = [&](const std::string& who, const std::string& query) {
        auto res = as_agent(who).get("/api/v1/search?" + query);
        EXPECT_EQ(res.status, 200) << res.body;
        std::set<std::string> ids;
        Json doc(res.body);
        for (std::size_t i = 0; i < doc.size("/items"); ++i) {
            const std::string item = "/items/" + std::to_string(i);
            if (doc.at((item + "/conversation/id").c_str()) != nullptr)
                ids.insert(doc.str((item + "/conversation/id").c_str()));
            for (std::size_t k = 0; k < doc.size((item + "/contact/conversation_ids").c_str()); ++k)
                ids.insert(doc.str((item + "/contact/conversation_ids/" + std::to_string(k)).c_str()));
        }
        return ids;
    };
    // The webhook was answered when the message was queued; it is found once stored.
    ASSERT_TRUE(wait_until([&] { return found("carol", "q=b-1042").size() == 3; }))
        << as_agent("carol").get("/api/v1/search?q=b-1042").body;
    using S = std::set<std::string>;
    const S alices{conversations["alice's"], conversations["unassigned"]};
    const S bobs{conversations["bob's"], conversations["unassigned"]};
    EXPECT_EQ(found("alice", "q=order+b-1042"), alices);
    EXPECT_EQ(found("bob", "q=order+b-1042"), bobs);
    EXPECT_EQ(found("alice", "q=customer+chat&type=conversations"), alices) << "by the contact's name";
    EXPECT_EQ(found("alice", "q=customer&type=contacts"), alices);
    EXPECT_TRUE(found("alice", "q=chat-bob").empty()) << "a colleague's conversation is never found";
    EXPECT_TRUE(found("alice", "q=chat+bob&type=contacts").empty());
    // The inbox's search box: the list with q.
    std::set<std::string> listed;
    for (const auto& id : item_strings(as_agent("alice").get("/api/v1/conversations?q=1042").body, "id"))
        listed.insert(id);
    EXPECT_EQ(listed, alices);

    Json hit(as_agent("bob").get("/api/v1/search?q=ord&limit=1").body);
    ASSERT_EQ(hit.size("/items"), 1u);
    EXPECT_EQ(hit.str("/items/0/type"), "message");
    std::string marked;
    for (std::size_t i = 0; i < hit.size("/items/0/snippet"); ++i) {
        const std::string part = "/items/0/snippet/" + std::to_string(i);
        const auto* match_flag = hit.at((part + "/match").c_str());
        const bool match = match_flag && match_flag->IsTrue();
        marked += match ? "[" + hit.str((part + "/text").c_str()) + "]" : hit.str((part + "/text").c_str());
    }
    EXPECT_NE(marked.find("Where is my [ORDER] B-1042"), std::string::npos) << marked;
    EXPECT_FALSE(hit.str("/next_cursor").empty()) << "two more for bob";

    EXPECT_EQ(as_agent("alice").get("/api/v1/search?q=%3F%21").status, 400) << "no letter or digit";
    EXPECT_EQ(as_agent("alice").get("/api/v1/search?q=a&type=agents").status, 400);
    EXPECT_EQ(as_agent("alice").get("/api/v1/search?q=a&cursor=bogus").status, 400);
    EXPECT_EQ(as_agent("alice").get("/api/v1/conversations?search=a").status, 400)
        << "the list's parameter is q";
}

TEST_F(VisibilityMatrixTest, ContactsAreSeenChangedAndMergedAsTheirConversationsAre) {
    const std::string alices_conversation = conversation("chat-alice");
    const std::string bobs_conversation = conversation("chat-bob");
    ASSERT_EQ(assign(alices_conversation, "alice").status, 200);
    ASSERT_EQ(assign(bobs_conversation, "bob").status, 200);
    auto contact_of = [&](const std::string& conversation_id) {
        return Json(as_agent("carol").get("/api/v1/conversations/" + conversation_id).body)
            .str("/contact/id");
    };
    const std::string alices = contact_of(alices_conversation);
    const std::string bobs = contact_of(bobs_conversation);
    ASSERT_NE(alices, bobs);
    EXPECT_EQ(as_agent("alice").get("/api/v1/contacts/" + alices).status, 200);
    EXPECT_EQ(as_agent("alice").get("/api/v1/contacts/" + bobs).status, 404) << "bob's customer";
    EXPECT_EQ(item_strings(as_agent("alice").get("/api/v1/contacts").body, "id"),
              std::vector<std::string>{alices});
    EXPECT_EQ(item_strings(as_agent("carol").get("/api/v1/contacts?q=customer").body, "id").size(), 2u);

    WebSocketClient alice_ws, bob_ws;
    connect(alice_ws, "alice");
    connect(bob_ws, "bob");
    drain(alice_ws);
    drain(bob_ws);
    auto patched = as_agent("alice").request("PATCH", "/api/v1/contacts/" + alices,
                                             R"({"name":"Ada Customer","company":"ACME"})");
    ASSERT_EQ(patched.status, 200) << patched.body;
    EXPECT_EQ(Json(patched.body).str("/display_name"), "Ada Customer");
    EXPECT_TRUE(gets(alice_ws, {{"contact_updated", "?"}}));
    EXPECT_TRUE(gets(bob_ws, {})) << "bob sees none of its conversations";
    EXPECT_EQ(Json(as_agent("alice").get("/api/v1/conversations/" + alices_conversation).body)
                  .str("/contact/display_name"),
              "Ada Customer");
    EXPECT_EQ(as_agent("alice").request("PATCH", "/api/v1/contacts/" + bobs, R"({"name":"x"})").status, 404);
    EXPECT_EQ(as_agent("alice").request("PATCH", "/api/v1/contacts/" + alices, R"({"name":5})").status, 400);

    ASSERT_EQ(
        as_agent("carol").post_json("/api/v1/contact-attributes", R"({"key":"plan","type":"string"})").status,
        201);
    EXPECT_EQ(
        as_agent("alice").post_json("/api/v1/contact-attributes", R"({"key":"x","type":"string"})").status,
        403);
    EXPECT_EQ(as_agent("alice")
                  .request("PATCH", "/api/v1/contacts/" + alices, R"({"attributes":{"plan":5}})")
                  .status,
              400);
    auto with_plan =
        as_agent("alice").request("PATCH", "/api/v1/contacts/" + alices, R"({"attributes":{"plan":"gold"}})");
    ASSERT_EQ(with_plan.status, 200) << with_plan.body;
    EXPECT_EQ(Json(with_plan.body).str("/attributes/plan"), "gold");

    const std::string merge_body = R"({"contact_id":")" + bobs + "\"}";
    EXPECT_EQ(as_agent("alice").post_json("/api/v1/contacts/" + alices + "/merge", merge_body).status, 403);
    auto merged = as_agent("carol").post_json("/api/v1/contacts/" + alices + "/merge", merge_body);
    ASSERT_EQ(merged.status, 200) << merged.body;
    EXPECT_EQ(Json(merged.body).size("/identities"), 2u);
    EXPECT_EQ(Json(merged.body).size("/conversation_ids"), 2u);
    Json as_alice(as_agent("alice").get("/api/v1/contacts/" + alices).body);
    EXPECT_EQ(as_alice.size("/identities"), 2u);
    EXPECT_EQ(as_alice.size("/conversation_ids"), 1u) << "only the conversation alice may see";
    EXPECT_EQ(contact_of(bobs_conversation), alices);
    EXPECT_EQ(as_agent("carol").post_json("/api/v1/contacts/" + alices + "/merge", merge_body).status, 409);
    auto unmerged = as_agent("carol").post_json("/api/v1/contacts/" + bobs + "/unmerge", "");
    ASSERT_EQ(unmerged.status, 200) << unmerged.body;
    EXPECT_EQ(contact_of(bobs_conversation), bobs);
    EXPECT_EQ(Json(as_agent("alice").get("/api/v1/contacts/" + alices).body).size("/identities"), 1u);
}

}  // namespace
}  // namespace sb::test
