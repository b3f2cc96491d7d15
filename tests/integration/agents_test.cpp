// Agents, access control, assignment and the real-time contract, on the real daemon: two
// agents and an admin, tokens that can be revoked, who sees which conversation on REST and on
// the WebSocket, an assignment race, and resume after a disconnect.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/http_test_client.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

namespace {

using namespace std::chrono_literals;
using sb::test::Daemon;
using sb::test::HeaderList;
using sb::test::HttpClient;
using sb::test::HttpResult;
using sb::test::wait_until;
using sb::test::WebSocketClient;

constexpr const char* kAdminToken = "agents-admin-token-0123456789";
constexpr const char* kSecret = "agents-webhook-secret";
// How long "no further frame" is watched for once the expected ones are in: what a wrong
// extra frame would be sent with (the same fan-out), not a wait for the expected ones.
constexpr auto kQuiet = 300ms;

rapidjson::Document parse(const std::string& body) {
    rapidjson::Document doc;
    doc.Parse(body.c_str());
    return doc;
}

std::string str(const rapidjson::Value& v, const char* key) {
    return v.HasMember(key) && v[key].IsString() ? v[key].GetString() : std::string();
}

std::string update(int id, long chat, const std::string& text) {
    return "{\"update_id\":" + std::to_string(id) + ",\"message\":{\"message_id\":" + std::to_string(id) +
           ",\"from\":{\"id\":" + std::to_string(chat) + ",\"is_bot\":false,\"first_name\":\"C" +
           std::to_string(chat) + "\"},\"chat\":{\"id\":" + std::to_string(chat) +
           ",\"type\":\"private\"},\"date\":1732540000,\"text\":\"" + text + "\"}}";
}

class AgentsTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string yaml =
            "server: { listen: \"127.0.0.1:0\", threads: 2 }\n"
            "storage: { backend: sqlite, sqlite: { path: \"" +
            daemon_.db_path().string() +
            "\" } }\n"
            "plugins: { dir: \"" SB_PLUGIN_DIR
            "\" }\n"
            "auth: { bootstrap_admin_token: \"" +
            std::string(kAdminToken) +
            "\" }\n"
            "channels:\n  - id: tg\n    plugin: telegram\n"
            "    settings: { bot_token: \"1:T\", secret_token: \"" +
            kSecret + "\", api_base: \"" + platform_.base_url() + "\" }\n" + extra_config();
        daemon_.start(yaml);
        alice_ = create_agent("Alice", "agent");
        bob_ = create_agent("Bob", "agent");
        alice_token_ = create_token(alice_);
        bob_token_ = create_token(bob_);
    }
    void TearDown() override {
        if (HasFailure()) daemon_.dump_logs(std::cerr);
    }
    virtual std::string extra_config() const { return ""; }

    HeaderList bearer(const std::string& token) const { return {{"Authorization", "Bearer " + token}}; }
    HttpClient as(const std::string& token) const { return HttpClient(daemon_.port(), bearer(token)); }
    HttpClient admin() const { return as(kAdminToken); }

    std::string create_agent(const std::string& name, const std::string& role) {
        auto r = admin().post_json("/api/v1/agents", "{\"name\":\"" + name + "\",\"role\":\"" + role + "\"}");
        EXPECT_EQ(r.status, 201) << r.body;
        return str(parse(r.body), "id");
    }
    std::string create_token(const std::string& agent) {
        auto r = admin().post_json("/api/v1/agents/" + agent + "/tokens", R"({"label":"test"})");
        EXPECT_EQ(r.status, 201) << r.body;
        auto doc = parse(r.body);
        EXPECT_EQ(str(doc, "agent_id"), agent);
        last_token_id_ = str(doc, "id");
        return str(doc, "token");
    }

    // Posts a customer message and returns its conversation id (as the admin sees it).
    std::string customer_writes(int id, long chat, const std::string& text) {
        auto r = HttpClient(daemon_.port())
                     .post_json("/webhooks/tg", update(id, chat, text),
                                {{"X-Telegram-Bot-Api-Secret-Token", kSecret}});
        EXPECT_EQ(r.status, 200) << r.body;
        std::string conversation;
        wait_until([&] {
            auto list = parse(admin().get("/api/v1/conversations").body);
            for (const auto& c : list["items"].GetArray())
                if (str(c, "platform_id") == std::to_string(chat)) conversation = str(c, "id");
            return !conversation.empty();
        });
        EXPECT_FALSE(conversation.empty()) << "message never stored";
        return conversation;
    }

    HttpResult assign(const std::string& token, const std::string& conversation,
                      const std::string& agent_json) {
        return as(token).post_json("/api/v1/conversations/" + conversation + "/assignment",
                                   "{\"agent_id\":" + agent_json + "}");
    }

    // Frames, hello skipped: waits (up to `timeout`) until `expected` of them arrived, then
    // takes any more that come within kQuiet, for the caller to find (a duplicate, a frame
    // for someone else's conversation). Fewer than `expected` when they never came.
    static std::vector<rapidjson::Document> drain(WebSocketClient& ws, std::size_t expected,
                                                  std::chrono::milliseconds timeout = 10s) {
        std::vector<rapidjson::Document> out;
        auto take = [&](std::chrono::milliseconds within) {
            auto frame = ws.read_frame(within);
            if (!frame) return false;
            auto doc = parse(*frame);
            if (str(doc, "type") != "hello") out.push_back(std::move(doc));
            return true;
        };
        wait_until(
            [&] {
                if (out.size() < expected && !ws.closed()) take(100ms);
                return out.size() >= expected || ws.closed();
            },
            timeout, 0ms);
        while (take(kQuiet)) {
        }
        return out;
    }

    sb::test::FakeHttpServer platform_;
    Daemon daemon_{SB_DAEMON_PATH};
    std::string alice_, bob_, alice_token_, bob_token_, last_token_id_;
};

TEST_F(AgentsTest, TokensAuthenticateAgentsAndMeSaysWho) {
    auto me = parse(as(alice_token_).get("/api/v1/me").body);
    EXPECT_EQ(str(me, "id"), alice_);
    EXPECT_EQ(str(me, "role"), "agent");
    EXPECT_EQ(as("sbt_not-a-real-token").get("/api/v1/me").status, 401);
    // Agents read the directory (issue 14) but do not manage agents.
    EXPECT_EQ(as(alice_token_).get("/api/v1/agents").status, 200);
    EXPECT_EQ(as(alice_token_).post_json("/api/v1/agents", R"({"name":"Eve","role":"admin"})").status, 403);
    auto list = parse(admin().get("/api/v1/agents").body);
    EXPECT_EQ(list["items"].Size(), 3u) << "Alice, Bob and the bootstrap admin";
}

TEST_F(AgentsTest, RevokedTokenIsRefusedAndItsWebSocketClosed) {
    std::string token = create_token(alice_);
    std::string token_id = last_token_id_;
    WebSocketClient ws;
    ASSERT_EQ(ws.connect(daemon_.port(), "/api/v1/ws?access_token=" + token).status, 101);
    ASSERT_TRUE(ws.read_frame(5s));  // hello

    auto r = admin().request("DELETE", "/api/v1/agents/" + alice_ + "/tokens/" + token_id);
    EXPECT_EQ(r.status, 204) << r.body;
    EXPECT_EQ(as(token).get("/api/v1/me").status, 401);
    EXPECT_EQ(as(alice_token_).get("/api/v1/me").status, 200) << "other tokens of the agent still work";
    EXPECT_TRUE(wait_until([&] {
        ws.read_frame(50ms);
        return ws.closed();
    }));
    EXPECT_NE(ws.close_reason().find("revoked"), std::string::npos) << ws.close_reason();
}

TEST_F(AgentsTest, VisibilityMatrixOnRest) {
    std::string mine = customer_writes(1, 1001, "for alice");
    std::string theirs = customer_writes(2, 1002, "for bob");
    std::string open = customer_writes(3, 1003, "for anyone");
    ASSERT_EQ(assign(kAdminToken, mine, "\"" + alice_ + "\"").status, 200);
    ASSERT_EQ(assign(kAdminToken, theirs, "\"" + bob_ + "\"").status, 200);

    struct Case {
        std::string token, conversation;
        int expected;
    };
    for (const Case& c : std::vector<Case>{{alice_token_, mine, 200},
                                           {alice_token_, theirs, 404},
                                           {alice_token_, open, 200},
                                           {bob_token_, mine, 404},
                                           {kAdminToken, mine, 200},
                                           {kAdminToken, theirs, 200}}) {
        EXPECT_EQ(as(c.token).get("/api/v1/conversations/" + c.conversation).status, c.expected)
            << c.token << " " << c.conversation;
        EXPECT_EQ(as(c.token).get("/api/v1/conversations/" + c.conversation + "/messages").status,
                  c.expected);
    }
    // Sending into someone else's conversation is 404 too, and nothing reaches the platform.
    auto send = as(alice_token_)
                    .post_json("/api/v1/conversations/" + theirs + "/messages",
                               R"({"content":{"type":"text","text":"hi"}})");
    EXPECT_EQ(send.status, 404);
    EXPECT_TRUE(platform_.requests().empty());

    auto listed = [&](const std::string& token) {
        std::vector<std::string> ids;
        for (const auto& c : parse(as(token).get("/api/v1/conversations").body)["items"].GetArray())
            ids.push_back(str(c, "id"));
        std::sort(ids.begin(), ids.end());
        return ids;
    };
    std::vector<std::string> alice_sees{mine, open}, all{mine, theirs, open};
    std::sort(alice_sees.begin(), alice_sees.end());
    std::sort(all.begin(), all.end());
    EXPECT_EQ(listed(alice_token_), alice_sees);
    EXPECT_EQ(listed(kAdminToken), all);
    auto assigned_to_me = parse(as(bob_token_).get("/api/v1/conversations?assignee=me").body);
    ASSERT_EQ(assigned_to_me["items"].Size(), 1u);
    EXPECT_EQ(str(assigned_to_me["items"][0], "id"), theirs);
}

TEST_F(AgentsTest, TwoAgentsTakingTheSameConversationOneWinsOneGets409) {
    std::string conversation = customer_writes(4, 1004, "race");
    HttpResult a, b;
    std::thread ta([&] { a = assign(alice_token_, conversation, "\"" + alice_ + "\""); });
    std::thread tb([&] { b = assign(bob_token_, conversation, "\"" + bob_ + "\""); });
    ta.join();
    tb.join();
    // The loser gets 409 when it lost inside the store, 404 when it came after the winner (the
    // conversation is then one it may not see); neither answer names the winner.
    const HttpResult& loser = a.status == 200 ? b : a;
    EXPECT_TRUE((a.status == 200) != (b.status == 200)) << a.body << " / " << b.body;
    EXPECT_TRUE(loser.status == 409 || loser.status == 404) << loser.status << " " << loser.body;
    EXPECT_EQ(loser.body.find("assignee_id"), std::string::npos) << loser.body;
    auto c = parse(admin().get("/api/v1/conversations/" + conversation).body);
    EXPECT_EQ(str(c, "assignee_id"), a.status == 200 ? alice_ : bob_);
    // An agent may not hand someone else's conversation to a third party.
    EXPECT_EQ(assign(a.status == 200 ? alice_token_ : bob_token_, conversation,
                     "\"" + (a.status == 200 ? bob_ : alice_) + "\"")
                  .status,
              403);
}

TEST_F(AgentsTest, WebSocketDeliversOnlyWhatEachAgentMaySee) {
    std::string conversation = customer_writes(5, 1005, "first");
    ASSERT_EQ(assign(kAdminToken, conversation, "\"" + alice_ + "\"").status, 200);

    WebSocketClient alice, bob, admin_ws;
    ASSERT_EQ(alice.connect(daemon_.port(), "/api/v1/ws?access_token=" + alice_token_).status, 101);
    ASSERT_EQ(bob.connect(daemon_.port(), "/api/v1/ws?access_token=" + bob_token_).status, 101);
    ASSERT_EQ(admin_ws.connect(daemon_.port(), std::string("/api/v1/ws?access_token=") + kAdminToken).status,
              101);
    drain(alice, 0);
    drain(bob, 0);
    drain(admin_ws, 0);

    customer_writes(6, 1005, "to alice's conversation");
    customer_writes(7, 1006, "unassigned one");

    auto texts = [](const std::vector<rapidjson::Document>& frames) {
        std::vector<std::string> out;
        for (const auto& f : frames)
            if (str(f, "type") == "new_message")
                out.push_back(f["data"]["message"]["content"]["text"].GetString());
        return out;
    };
    EXPECT_EQ(texts(drain(alice, 2)),
              (std::vector<std::string>{"to alice's conversation", "unassigned one"}));
    EXPECT_EQ(texts(drain(bob, 1)), (std::vector<std::string>{"unassigned one"}));
    EXPECT_EQ(texts(drain(admin_ws, 2)),
              (std::vector<std::string>{"to alice's conversation", "unassigned one"}));

    // Reassignment to Bob: both sides and the admin hear of it.
    ASSERT_EQ(assign(kAdminToken, conversation, "\"" + bob_ + "\"").status, 200);
    for (auto* ws : {&alice, &bob, &admin_ws}) {
        auto frames = drain(*ws, 1);
        ASSERT_EQ(frames.size(), 1u);
        EXPECT_EQ(str(frames[0], "type"), "conversation_assigned");
        EXPECT_EQ(str(frames[0]["data"], "agent_id"), bob_);
        EXPECT_EQ(str(frames[0]["data"], "previous_agent_id"), alice_);
        EXPECT_EQ(str(frames[0]["data"], "assigned_by"), "admin");
    }
}

TEST_F(AgentsTest, ResumeDeliversExactlyTheMissedEventsInOrder) {
    WebSocketClient first;
    ASSERT_EQ(first.connect(daemon_.port(), "/api/v1/ws?access_token=" + alice_token_).status, 101);
    drain(first, 0);
    customer_writes(10, 2001, "one");
    auto before = drain(first, 1);
    ASSERT_EQ(before.size(), 1u);
    std::int64_t last_seen = before[0]["seq"].GetInt64();
    first.drop();  // the device goes away

    customer_writes(11, 2002, "two");
    customer_writes(12, 2003, "three");

    WebSocketClient again;
    ASSERT_EQ(again
                  .connect(daemon_.port(), "/api/v1/ws?access_token=" + alice_token_ +
                                               "&after_seq=" + std::to_string(last_seen))
                  .status,
              101);
    customer_writes(13, 2004, "four (live)");
    auto frames = drain(again, 3);
    std::vector<std::string> texts;
    std::int64_t previous = last_seen;
    for (const auto& f : frames) {
        ASSERT_EQ(str(f, "type"), "new_message");
        EXPECT_GT(f["seq"].GetInt64(), previous) << "in order, no duplicates";
        previous = f["seq"].GetInt64();
        texts.push_back(f["data"]["message"]["content"]["text"].GetString());
    }
    EXPECT_EQ(texts, (std::vector<std::string>{"two", "three", "four (live)"}));

    // The frame form of resume, on an open connection, replays from the given seq; a frame
    // larger than one read step (whitespace-padded to 5,000 bytes) is read whole.
    ASSERT_TRUE(again.send_text("{\"type\":\"resume\",\"after_seq\":" + std::to_string(last_seen) + "}"));
    EXPECT_EQ(drain(again, 3).size(), 3u);
    ASSERT_TRUE(again.send_text("{\"type\":\"resume\"," + std::string(5000, ' ') +
                                "\"after_seq\":" + std::to_string(last_seen) + "}"));
    EXPECT_EQ(drain(again, 3).size(), 3u);
    // From the future (another database): the client must resync.
    ASSERT_TRUE(again.send_text(R"({"type":"resume","after_seq":999999})"));
    auto resync = drain(again, 1);
    ASSERT_EQ(resync.size(), 1u);
    EXPECT_EQ(str(resync[0], "type"), "resync_required");
}

TEST_F(AgentsTest, TypingReachesThePlatformWhereTheChannelCanAndReadSaysWhenItCannot) {
    std::string conversation = customer_writes(20, 3001, "are you there?");
    auto typing =
        as(alice_token_).post_json("/api/v1/conversations/" + conversation + "/typing", R"({"state":"on"})");
    EXPECT_EQ(typing.status, 204) << typing.body;
    auto requests = platform_.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].path(), "/bot1:T/sendChatAction");
    EXPECT_NE(requests[0].body.find("\"action\":\"typing\""), std::string::npos) << requests[0].body;
    EXPECT_NE(requests[0].body.find("3001"), std::string::npos) << requests[0].body;

    EXPECT_EQ(as(alice_token_)
                  .post_json("/api/v1/conversations/" + conversation + "/typing", R"({"state":"maybe"})")
                  .status,
              400);
    // Telegram bots cannot mark messages read on the platform: nothing is sent, and the read is
    // still recorded (204; it was 422 read_unsupported before the inbox's read state, issue 14).
    auto read = as(alice_token_).post_json("/api/v1/conversations/" + conversation + "/read", "");
    EXPECT_EQ(read.status, 204) << read.body;
    EXPECT_EQ(platform_.requests().size(), 1u);
}

TEST_F(AgentsTest, EveryDeviceOfAnAgentGetsTheSameEventsInTheSameOrder) {
    WebSocketClient laptop, phone, other;
    ASSERT_EQ(laptop.connect(daemon_.port(), "/api/v1/ws?access_token=" + alice_token_).status, 101);
    ASSERT_EQ(phone.connect(daemon_.port(), "/api/v1/ws", bearer(create_token(alice_))).status, 101);
    ASSERT_EQ(other.connect(daemon_.port(), "/api/v1/ws?access_token=" + bob_token_).status, 101);
    drain(laptop, 0);
    drain(phone, 0);
    drain(other, 0);
    std::string conversation = customer_writes(50, 6001, "m1");
    ASSERT_EQ(assign(kAdminToken, conversation, "\"" + alice_ + "\"").status, 200);
    customer_writes(51, 6001, "m2");
    customer_writes(52, 6002, "m3");

    auto seqs = [](const std::vector<rapidjson::Document>& frames) {
        std::vector<std::int64_t> out;
        for (const auto& f : frames) out.push_back(f["seq"].GetInt64());
        return out;
    };
    auto on_laptop = seqs(drain(laptop, 4));
    auto on_phone = seqs(drain(phone, 4));
    EXPECT_EQ(on_laptop.size(), 4u) << "m1, the assignment, m2, m3";
    EXPECT_EQ(on_laptop, on_phone);
    EXPECT_TRUE(std::is_sorted(on_laptop.begin(), on_laptop.end()));
    EXPECT_EQ(seqs(drain(other, 2)).size(), 2u) << "Bob sees m1 (then unassigned) and m3 only";
}

class SlowConsumerTest : public AgentsTest {
protected:
    std::string extra_config() const override { return "realtime: { queue_limit: 16 }\n"; }
};

TEST_F(SlowConsumerTest, AClientThatCannotKeepUpIsClosedAndRecoversByResuming) {
    WebSocketClient slow;
    ASSERT_EQ(slow.connect(daemon_.port(), "/api/v1/ws?access_token=" + alice_token_).status, 101);
    drain(slow, 0);
    // Large frames while the client reads nothing: the socket buffers fill, then the
    // session's bounded queue, and the daemon closes it rather than grow without bound.
    const std::string big(60'000, 'x');
    constexpr int kMessages = 250;
    for (int i = 0; i < kMessages; ++i) {
        auto r = HttpClient(daemon_.port())
                     .post_json("/webhooks/tg", update(1000 + i, 7001, big + std::to_string(i)),
                                {{"X-Telegram-Bot-Api-Secret-Token", kSecret}});
        ASSERT_EQ(r.status, 200);
    }
    // Everything is stored before anyone resumes, so the resume is a replay alone.
    ASSERT_TRUE(wait_until(
        [&] {
            return HttpClient(daemon_.port())
                       .get("/metrics")
                       .body.find("switchboard_inbound_events_applied_total{channel=\"tg\"} " +
                                  std::to_string(kMessages)) != std::string::npos;
        },
        30s));
    std::int64_t last_seen = 0;
    int received = 0;
    wait_until(
        [&] {
            if (auto frame = slow.read_frame(100ms)) {
                auto doc = parse(*frame);
                if (doc.HasMember("seq")) last_seen = doc["seq"].GetInt64(), ++received;
            }
            return slow.closed();
        },
        60s, 0ms);
    ASSERT_TRUE(slow.closed()) << "received " << received << " of " << kMessages;
    EXPECT_NE(slow.close_reason().find("1008"), std::string::npos) << slow.close_reason();
    EXPECT_LT(received, kMessages);

    // Resuming from the last frame it got delivers the rest, once each.
    WebSocketClient again;
    ASSERT_EQ(again
                  .connect(daemon_.port(), "/api/v1/ws?access_token=" + alice_token_ +
                                               "&after_seq=" + std::to_string(last_seen))
                  .status,
              101);
    int rest = 0;
    std::int64_t previous = last_seen;
    const auto missed = static_cast<std::size_t>(std::max(kMessages - received, 0));
    for (auto& f : drain(again, missed, 30s)) {
        EXPECT_GT(f["seq"].GetInt64(), previous);
        previous = f["seq"].GetInt64();
        ++rest;
    }
    EXPECT_EQ(received + rest, kMessages)
        << "resumed connection closed=" << again.closed() << " " << again.close_reason()
        << " last_seen=" << last_seen << " last=" << previous;
}

TEST_F(AgentsTest, DeletingAnAgentTellsOpenUisItsConversationsAreUnassigned) {
    std::string conversation = customer_writes(60, 7001, "hello");
    ASSERT_EQ(admin()
                  .post_json("/api/v1/conversations/" + conversation + "/assignment",
                             "{\"agent_id\":\"" + alice_ + "\"}")
                  .status,
              200);
    WebSocketClient watcher;
    ASSERT_EQ(watcher.connect(daemon_.port(), "/api/v1/ws?access_token=" + std::string(kAdminToken)).status,
              101);
    ASSERT_TRUE(watcher.read_frame(5s));  // hello
    ASSERT_EQ(admin().request("DELETE", "/api/v1/agents/" + alice_, "").status, 204);
    std::optional<rapidjson::Document> assigned;
    while (auto frame = watcher.read_frame(5s)) {
        auto doc = parse(*frame);
        if (str(doc, "type") == "conversation_assigned") {
            assigned = std::move(doc);
            break;
        }
    }
    ASSERT_TRUE(assigned) << "no conversation_assigned after the deletion";
    EXPECT_EQ(str((*assigned)["data"], "conversation_id"), conversation);
    EXPECT_TRUE((*assigned)["data"]["agent_id"].IsNull());
    EXPECT_EQ(str((*assigned)["data"], "previous_agent_id"), alice_);
    EXPECT_EQ(str((*assigned)["data"], "assigned_by"), "admin");
}

class AutoAssignTest : public AgentsTest {
protected:
    std::string extra_config() const override {
        return "assignment: { mode: auto, capacity: 1, offline_grace_ms: 300 }\n";
    }
    std::string assignee(const std::string& conversation) {
        return str(parse(admin().get("/api/v1/conversations/" + conversation).body), "assignee_id");
    }
    // Waits until the conversation's assignee is `expected` ("" = unassigned).
    bool assigned_to(const std::string& conversation, const std::string& expected) {
        return wait_until([&] { return assignee(conversation) == expected; });
    }
};

TEST_F(AutoAssignTest, NewConversationsGoToOnlineAgentsWithinCapacityAndWaitInOrderOtherwise) {
    // Nobody online: the first conversation waits.
    std::string first = customer_writes(30, 4001, "first");
    EXPECT_TRUE(assigned_to(first, ""));

    WebSocketClient alice;
    ASSERT_EQ(alice.connect(daemon_.port(), "/api/v1/ws?access_token=" + alice_token_).status, 101);
    ASSERT_TRUE(assigned_to(first, alice_)) << "the waiting conversation goes to the agent who came online";
    auto frames = drain(alice, 1);
    ASSERT_FALSE(frames.empty());
    EXPECT_EQ(str(frames.back(), "type"), "conversation_assigned");
    EXPECT_EQ(str(frames.back()["data"], "assigned_by"), "auto");

    // Alice is at capacity (1): the next two wait, first come first served.
    std::string second = customer_writes(31, 4002, "second");
    std::string third = customer_writes(32, 4003, "third");
    EXPECT_TRUE(assigned_to(second, ""));
    EXPECT_TRUE(assigned_to(third, ""));

    WebSocketClient bob;
    ASSERT_EQ(bob.connect(daemon_.port(), "/api/v1/ws?access_token=" + bob_token_).status, 101);
    ASSERT_TRUE(assigned_to(second, bob_)) << "oldest waiting first";
    EXPECT_TRUE(assigned_to(third, ""));

    // Alice resolves hers: capacity frees and the third one is hers.
    ASSERT_EQ(as(alice_token_)
                  .request("PATCH", "/api/v1/conversations/" + first, R"({"status":"resolved"})")
                  .status,
              200);
    EXPECT_TRUE(assigned_to(third, alice_));
}

TEST_F(AutoAssignTest, AnOfflineAgentsConversationsAreReassignedAfterTheGracePeriod) {
    WebSocketClient bob;
    ASSERT_EQ(bob.connect(daemon_.port(), "/api/v1/ws?access_token=" + bob_token_).status, 101);
    std::string conversation = customer_writes(40, 5001, "help");
    ASSERT_TRUE(assigned_to(conversation, bob_));

    WebSocketClient alice;
    ASSERT_EQ(alice.connect(daemon_.port(), "/api/v1/ws?access_token=" + alice_token_).status, 101);
    bob.drop();  // Bob's laptop dies
    ASSERT_TRUE(assigned_to(conversation, alice_)) << "after the 300 ms grace period it moves on";
}

TEST_F(AutoAssignTest, OnlyAgentsWhoAreOnlineAndConnectedGetNewConversations) {
    WebSocketClient alice, bob;
    ASSERT_EQ(alice.connect(daemon_.port(), "/api/v1/ws?access_token=" + alice_token_).status, 101);
    auto busy = as(alice_token_).request("PATCH", "/api/v1/me", R"({"availability":"busy"})");
    ASSERT_EQ(busy.status, 200) << busy.body;
    EXPECT_EQ(str(parse(busy.body), "availability"), "busy");
    ASSERT_EQ(bob.connect(daemon_.port(), "/api/v1/ws?access_token=" + bob_token_).status, 101);

    // Bob is online (connected, available): the conversation is his though Alice has none.
    std::string first = customer_writes(50, 6001, "first");
    ASSERT_TRUE(assigned_to(first, bob_));
    // Bob at capacity, Alice busy: the next one waits until Alice is online again.
    std::string second = customer_writes(51, 6002, "second");
    EXPECT_TRUE(assigned_to(second, ""));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(assignee(second), "") << "a busy agent gets nothing new";
    ASSERT_EQ(as(alice_token_).request("PATCH", "/api/v1/me", R"({"availability":"online"})").status, 200);
    EXPECT_TRUE(assigned_to(second, alice_));

    // Availability is stored: the directory shows it, with what each agent holds.
    ASSERT_EQ(as(bob_token_).request("PATCH", "/api/v1/me", R"({"availability":"offline"})").status, 200);
    auto directory = parse(as(alice_token_).get("/api/v1/agents").body);
    bool seen_bob = false;
    for (const auto& a : directory["items"].GetArray()) {
        if (str(a, "id") != bob_) continue;
        seen_bob = true;
        EXPECT_EQ(str(a, "availability"), "offline");
        EXPECT_EQ(str(a, "presence"), "offline");
        EXPECT_TRUE(a["connected"].GetBool());
        EXPECT_EQ(a["open_conversations"].GetInt(), 1);
    }
    EXPECT_TRUE(seen_bob);
    EXPECT_EQ(as(alice_token_).request("PATCH", "/api/v1/me", R"({"availability":"away"})").status, 400);
}

TEST_F(AgentsTest, EveryAgentSeesTheDirectoryWithPresenceAndPresenceChangesArePushed) {
    // Not connected yet: everyone is offline, the bootstrap admin is listed under its name.
    auto listed = as(bob_token_).get("/api/v1/agents");
    ASSERT_EQ(listed.status, 200) << listed.body;
    auto directory = parse(listed.body);
    std::map<std::string, std::string> shown;
    for (const auto& a : directory["items"].GetArray()) shown[str(a, "id")] = str(a, "presence");
    EXPECT_EQ(shown.size(), 3u) << listed.body;
    EXPECT_EQ(shown["admin"], "offline");
    EXPECT_EQ(shown[alice_], "offline");
    EXPECT_EQ(str(directory["items"][0], "name"), "Bootstrap admin");

    WebSocketClient watcher;
    ASSERT_EQ(watcher.connect(daemon_.port(), "/api/v1/ws?access_token=" + bob_token_).status, 101);
    ASSERT_TRUE(watcher.read_frame(5s));  // hello
    EXPECT_FALSE(watcher.read_frame(300ms)) << "no presence frame about its own connection";

    WebSocketClient alice;
    ASSERT_EQ(alice.connect(daemon_.port(), "/api/v1/ws?access_token=" + alice_token_).status, 101);
    auto frame = watcher.read_frame(5s);
    ASSERT_TRUE(frame);
    auto doc = parse(*frame);
    EXPECT_EQ(str(doc, "type"), "agent_presence");
    EXPECT_EQ(str(doc["data"], "agent_id"), alice_);
    EXPECT_EQ(str(doc["data"], "presence"), "online");
    EXPECT_TRUE(doc["data"]["connected"].GetBool());
    EXPECT_FALSE(doc.HasMember("seq")) << "ephemeral";

    ASSERT_EQ(as(alice_token_).request("PATCH", "/api/v1/me", R"({"availability":"busy"})").status, 200);
    frame = watcher.read_frame(5s);
    ASSERT_TRUE(frame);
    doc = parse(*frame);
    EXPECT_EQ(str(doc["data"], "presence"), "busy");
    EXPECT_EQ(str(parse(as(alice_token_).get("/api/v1/me").body), "presence"), "busy");

    alice.drop();
    frame = watcher.read_frame(5s);
    ASSERT_TRUE(frame);
    doc = parse(*frame);
    EXPECT_EQ(str(doc["data"], "presence"), "offline");
    EXPECT_EQ(str(doc["data"], "availability"), "busy") << "what Alice set stays for when she returns";
}

}  // namespace
