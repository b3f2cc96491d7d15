// What an agent's inbox screen needs (issue 14), on the real daemon: two agents and an admin,
// each on two WebSocket sessions (tabs), a Telegram channel on a fake Bot API. List items with
// previews and unread counts from one request, read state synced across an agent's tabs and
// nobody else's, counts for the filter tabs.

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/http_test_client.hpp"
#include "support/json_view.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

namespace {

using namespace std::chrono_literals;
using sb::test::Daemon;
using sb::test::HeaderList;
using sb::test::HttpClient;
using sb::test::Json;
using sb::test::wait_until;
using sb::test::WebSocketClient;

constexpr const char* kAdminToken = "inbox-admin-token-0123456789";
constexpr const char* kSecret = "inbox-webhook-secret";
// How long "no further frame" is watched for once the expected ones are in.
constexpr auto kQuiet = 300ms;

std::string update(int id, long chat, const std::string& text) {
    return "{\"update_id\":" + std::to_string(id) + ",\"message\":{\"message_id\":" + std::to_string(id) +
           ",\"from\":{\"id\":" + std::to_string(chat) +
           ",\"is_bot\":false,\"first_name\":\"Ada\"},\"chat\":{\"id\":" + std::to_string(chat) +
           ",\"type\":\"private\"},\"date\":1732540000,\"text\":\"" + text + "\"}}";
}

class InboxTest : public ::testing::Test {
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
            kSecret + "\", api_base: \"" + platform_.base_url() + "\" }\n";
        daemon_.start(yaml);
        alice_ = create_agent("Alice");
        bob_ = create_agent("Bob");
        alice_token_ = create_token(alice_);
        bob_token_ = create_token(bob_);
    }
    void TearDown() override {
        if (HasFailure()) daemon_.dump_logs(std::cerr);
    }

    HttpClient as(const std::string& token) const {
        return HttpClient(daemon_.port(), HeaderList{{"Authorization", "Bearer " + token}});
    }
    HttpClient admin() const { return as(kAdminToken); }

    std::string create_agent(const std::string& name) {
        auto r = admin().post_json("/api/v1/agents", "{\"name\":\"" + name + "\",\"role\":\"agent\"}");
        EXPECT_EQ(r.status, 201) << r.body;
        return Json(r.body).str("/id");
    }
    std::string create_token(const std::string& agent) {
        auto r = admin().post_json("/api/v1/agents/" + agent + "/tokens", R"({"label":"test"})");
        EXPECT_EQ(r.status, 201) << r.body;
        return Json(r.body).str("/token");
    }

    // Posts a customer message and waits until the admin's list shows it as the last message
    // (its preview `shown`, when not the whole text).
    std::string customer_writes(int id, long chat, const std::string& text, std::string shown = "") {
        if (shown.empty()) shown = text;
        auto r = HttpClient(daemon_.port())
                     .post_json("/webhooks/tg", update(id, chat, text),
                                {{"X-Telegram-Bot-Api-Secret-Token", kSecret}});
        EXPECT_EQ(r.status, 200) << r.body;
        std::string conversation;
        wait_until([&] {
            Json list(admin().get("/api/v1/conversations").body);
            for (const auto& c : list.at("/items")->GetArray()) {
                if (std::string(c["platform_id"].GetString()) != std::to_string(chat)) continue;
                if (c["last_message"].IsObject() && c["last_message"]["preview"].GetString() == shown)
                    conversation = c["id"].GetString();
            }
            return !conversation.empty();
        });
        EXPECT_FALSE(conversation.empty()) << "message never stored";
        return conversation;
    }

    // The list item of `conversation` as `token` sees it.
    Json item(const std::string& token, const std::string& conversation) {
        auto r = as(token).get("/api/v1/conversations/" + conversation);
        EXPECT_EQ(r.status, 200) << r.body;
        return Json(r.body);
    }

    // Two sessions (tabs) of one token, hello read.
    std::vector<std::unique_ptr<WebSocketClient>> tabs(const std::string& token) {
        std::vector<std::unique_ptr<WebSocketClient>> out;
        for (int i = 0; i < 2; ++i) {
            auto ws = std::make_unique<WebSocketClient>();
            EXPECT_EQ(ws->connect(daemon_.port(), "/api/v1/ws?access_token=" + token).status, 101);
            auto hello = ws->read_frame(5s);
            EXPECT_TRUE(hello && Json(*hello).str("/type") == "hello");
            out.push_back(std::move(ws));
        }
        return out;
    }

    // Frames of `type` that arrive within `timeout` (the first), then within kQuiet of each other.
    static std::vector<Json> frames_of(WebSocketClient& ws, const std::string& type,
                                       std::chrono::milliseconds timeout = 5s) {
        std::vector<Json> out;
        auto within = timeout;
        while (auto frame = ws.read_frame(within)) {
            Json doc(*frame);
            if (doc.str("/type") == type) out.push_back(std::move(doc));
            within = out.empty() ? timeout : kQuiet;
        }
        return out;
    }

    sb::test::FakeHttpServer platform_;
    Daemon daemon_{SB_DAEMON_PATH};
    std::string alice_, bob_, alice_token_, bob_token_;
};

TEST_F(InboxTest, ListItemsShowPreviewsAndEachAgentsUnreadCountFromOneRequest) {
    customer_writes(1, 5001, "hello");
    const std::string conversation = customer_writes(2, 5001, "my order 1234 has not arrived");

    auto list = as(alice_token_).get("/api/v1/conversations");
    ASSERT_EQ(list.status, 200) << list.body;
    Json page(list.body);
    ASSERT_EQ(page.at("/items")->Size(), 1u);
    EXPECT_EQ(page.str("/items/0/last_message/preview"), "my order 1234 has not arrived");
    EXPECT_EQ(page.str("/items/0/last_message/kind"), "text");
    EXPECT_EQ(page.str("/items/0/last_message/direction"), "in");
    EXPECT_EQ(page.str("/items/0/last_message/sender/name"), "Ada");
    EXPECT_EQ(page.integer("/items/0/unread_count"), 2);
    EXPECT_TRUE(page.at("/items/0/last_read_message_id")->IsNull());
    EXPECT_TRUE(page.at("/items/0/assignee")->IsNull());
    EXPECT_EQ(page.str("/items/0/priority"), "none");
    EXPECT_EQ(page.at("/items/0/labels")->Size(), 0u);

    // A reply becomes the preview; the agent's name is its sender.
    auto reply = as(alice_token_)
                     .post_json("/api/v1/conversations/" + conversation + "/messages",
                                R"({"content":{"type":"text","text":"Looking into it"}})");
    ASSERT_EQ(reply.status, 201) << reply.body;
    EXPECT_EQ(Json(reply.body).str("/kind"), "message");
    Json after = item(bob_token_, conversation);
    EXPECT_EQ(after.str("/last_message/preview"), "Looking into it");
    EXPECT_EQ(after.str("/last_message/direction"), "out");
    EXPECT_EQ(after.str("/last_message/sender/id"), alice_);
    EXPECT_EQ(after.integer("/unread_count"), 2) << "a reply is not unread";

    auto taken = as(alice_token_)
                     .post_json("/api/v1/conversations/" + conversation + "/assignment",
                                "{\"agent_id\":\"" + alice_ + "\"}");
    ASSERT_EQ(taken.status, 200) << taken.body;
    Json mine = item(alice_token_, conversation);
    EXPECT_EQ(mine.str("/assignee/id"), alice_);
    EXPECT_EQ(mine.str("/assignee/name"), "Alice");

    // A long message is cut at 140 characters (é is two bytes: cut at a character boundary).
    std::string long_text;
    for (int i = 0; i < 150; ++i) long_text += "\xC3\xA9";
    std::string expected;
    for (int i = 0; i < 140; ++i) expected += "\xC3\xA9";
    customer_writes(3, 5002, long_text, expected + "\xE2\x80\xA6");
}

TEST_F(InboxTest, ReadingInOneTabClearsTheBadgeInTheAgentsOtherTabsOnly) {
    customer_writes(1, 5001, "one");
    const std::string conversation = customer_writes(2, 5001, "two");
    auto alice_tabs = tabs(alice_token_);
    auto bob_tabs = tabs(bob_token_);
    auto admin_tabs = tabs(kAdminToken);

    // Telegram bots cannot mark messages read on the platform: the read is still recorded.
    auto read = as(alice_token_).post_json("/api/v1/conversations/" + conversation + "/read", "");
    EXPECT_EQ(read.status, 204) << read.body;
    EXPECT_TRUE(platform_.requests().empty()) << "nothing to send to a platform that cannot";
    for (auto& tab : alice_tabs) {
        auto frames = frames_of(*tab, "conversation_read");
        ASSERT_EQ(frames.size(), 1u);
        EXPECT_EQ(frames[0].str("/data/conversation_id"), conversation);
        EXPECT_EQ(frames[0].str("/data/agent_id"), alice_);
        EXPECT_EQ(frames[0].integer("/data/unread_count"), 0);
        EXPECT_FALSE(frames[0].has("/seq")) << "ephemeral: the agent's own state, never replayed";
    }
    for (auto* others : {&bob_tabs, &admin_tabs})
        for (auto& tab : *others) EXPECT_TRUE(frames_of(*tab, "conversation_read", kQuiet).empty());

    Json alice_view = item(alice_token_, conversation);
    EXPECT_EQ(alice_view.integer("/unread_count"), 0);
    EXPECT_EQ(alice_view.str("/last_read_message_id"), alice_view.str("/last_message/id"));
    EXPECT_EQ(item(bob_token_, conversation).integer("/unread_count"), 2) << "Bob has not read it";

    // The customer writes again: one unread for Alice, in the list too.
    customer_writes(3, 5001, "three");
    Json list(as(alice_token_).get("/api/v1/conversations").body);
    EXPECT_EQ(list.integer("/items/0/unread_count"), 1);
    EXPECT_EQ(list.str("/items/0/last_message/preview"), "three");

    // Reading up to a given message, and marking unread again.
    auto to_first = as(bob_token_)
                        .post_json("/api/v1/conversations/" + conversation + "/read",
                                   "{\"message_id\":\"" + alice_view.str("/last_read_message_id") + "\"}");
    EXPECT_EQ(to_first.status, 204) << to_first.body;
    EXPECT_EQ(item(bob_token_, conversation).integer("/unread_count"), 1);
    auto unread = as(alice_token_).post_json("/api/v1/conversations/" + conversation + "/unread", "");
    EXPECT_EQ(unread.status, 204) << unread.body;
    EXPECT_EQ(item(alice_token_, conversation).integer("/unread_count"), 1);
    for (auto& tab : alice_tabs) {
        auto frames = frames_of(*tab, "conversation_read");
        ASSERT_FALSE(frames.empty());
        EXPECT_EQ(frames.back().integer("/data/unread_count"), 1);
    }

    EXPECT_EQ(as(alice_token_)
                  .post_json("/api/v1/conversations/" + conversation + "/read", R"({"message_id":"999999"})")
                  .status,
              400);
    EXPECT_EQ(as(alice_token_).post_json("/api/v1/conversations/999999/read", "").status, 404);
}

TEST_F(InboxTest, CountsAndFiltersFollowWhatTheCallerMaySee) {
    const std::string a = customer_writes(1, 5001, "a");
    const std::string b = customer_writes(2, 5002, "b");
    customer_writes(3, 5003, "c");
    ASSERT_EQ(
        as(alice_token_)
            .post_json("/api/v1/conversations/" + a + "/assignment", "{\"agent_id\":\"" + alice_ + "\"}")
            .status,
        200);
    ASSERT_EQ(as(bob_token_)
                  .post_json("/api/v1/conversations/" + b + "/assignment", "{\"agent_id\":\"" + bob_ + "\"}")
                  .status,
              200);
    ASSERT_EQ(admin().request("PATCH", "/api/v1/conversations/" + b, R"({"status":"resolved"})").status, 200);

    Json alice(as(alice_token_).get("/api/v1/conversations/counts").body);
    EXPECT_EQ(alice.integer("/mine/open"), 1);
    EXPECT_EQ(alice.integer("/unassigned/open"), 1);
    EXPECT_EQ(alice.integer("/all/open"), 2);
    EXPECT_EQ(alice.integer("/all/resolved"), 0) << "Bob's resolved conversation is not Alice's to see";
    Json everything(admin().get("/api/v1/conversations/counts").body);
    EXPECT_EQ(everything.integer("/all/open"), 2);
    EXPECT_EQ(everything.integer("/all/resolved"), 1);
    EXPECT_EQ(everything.integer("/all/pending"), 0);

    Json several(admin().get("/api/v1/conversations?status=open,resolved").body);
    EXPECT_EQ(several.at("/items")->Size(), 3u);
    EXPECT_EQ(admin().get("/api/v1/conversations?status=open,closed").status, 400);
    EXPECT_EQ(admin().get("/api/v1/conversations?priority=whenever").status, 400);
    EXPECT_EQ(Json(admin().get("/api/v1/conversations?priority=urgent").body).at("/items")->Size(), 0u);
    EXPECT_EQ(admin().get("/api/v1/conversations/counts?priority=whenever").status, 400);
}

TEST_F(InboxTest, AdminsDefineLabelsAndAgentsPutThemOnConversationsTheySee) {
    const std::string mine = customer_writes(1, 5001, "a");
    const std::string bobs = customer_writes(2, 5002, "b");
    ASSERT_EQ(
        as(bob_token_)
            .post_json("/api/v1/conversations/" + bobs + "/assignment", "{\"agent_id\":\"" + bob_ + "\"}")
            .status,
        200);
    EXPECT_EQ(as(alice_token_).post_json("/api/v1/labels", R"({"name":"vip","color":"#aa00ff"})").status,
              403);
    auto created =
        admin().post_json("/api/v1/labels", R"({"name":"VIP","color":"#aa00ff","description":"big"})");
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(Json(created.body).str("/name"), "vip");
    EXPECT_EQ(admin().post_json("/api/v1/labels", R"({"name":"vip","color":"#000000"})").status, 409);
    EXPECT_EQ(admin().post_json("/api/v1/labels", R"({"name":"a b","color":"#000000"})").status, 400);
    EXPECT_EQ(admin().request("PATCH", "/api/v1/labels/vip", R"({"color":"#112233"})").status, 200);
    Json labels(as(alice_token_).get("/api/v1/labels").body);
    ASSERT_EQ(labels.at("/items")->Size(), 1u);
    EXPECT_EQ(labels.str("/items/0/color"), "#112233");

    auto alice_tabs = tabs(alice_token_);
    auto bob_tabs = tabs(bob_token_);
    auto added = as(alice_token_).post_json("/api/v1/conversations/" + mine + "/labels", R"({"name":"vip"})");
    ASSERT_EQ(added.status, 200) << added.body;
    EXPECT_EQ(Json(added.body).str("/labels/0"), "vip");
    for (auto* who : {&alice_tabs, &bob_tabs})  // unassigned: everyone sees it
        for (auto& tab : *who) {
            auto frames = frames_of(*tab, "conversation_updated");
            ASSERT_EQ(frames.size(), 1u);
            EXPECT_EQ(frames[0].str("/data/fields/0"), "labels");
            EXPECT_EQ(frames[0].str("/data/conversation/labels/0"), "vip");
        }
    EXPECT_EQ(
        as(alice_token_).post_json("/api/v1/conversations/" + mine + "/labels", R"({"name":"nope"})").status,
        404);
    EXPECT_EQ(
        as(alice_token_).post_json("/api/v1/conversations/" + bobs + "/labels", R"({"name":"vip"})").status,
        404)
        << "not Alice's to see";
    ASSERT_EQ(
        as(bob_token_).post_json("/api/v1/conversations/" + bobs + "/labels", R"({"name":"vip"})").status,
        200);
    EXPECT_EQ(Json(as(alice_token_).get("/api/v1/conversations?label=vip").body).at("/items")->Size(), 1u);
    EXPECT_EQ(Json(admin().get("/api/v1/conversations?label=vip").body).at("/items")->Size(), 2u);

    auto removed = as(alice_token_).request("DELETE", "/api/v1/conversations/" + mine + "/labels/vip");
    ASSERT_EQ(removed.status, 200) << removed.body;
    EXPECT_EQ(Json(removed.body).at("/labels")->Size(), 0u);
    EXPECT_EQ(admin().request("DELETE", "/api/v1/labels/vip").status, 204);
    EXPECT_EQ(item(bob_token_, bobs).at("/labels")->Size(), 0u);
    EXPECT_EQ(admin().request("DELETE", "/api/v1/labels/vip").status, 404);
}

// An RFC 3339 time `ahead` from now (whole seconds, rounded up).
std::string rfc3339_in(std::chrono::milliseconds ahead) {
    auto at = std::chrono::system_clock::now() + ahead + std::chrono::seconds(1);
    std::time_t t = std::chrono::system_clock::to_time_t(at);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
}

TEST_F(InboxTest, ASnoozedConversationWakesByItselfAndPriorityChangesReachWhoeverSeesIt) {
    const std::string conversation = customer_writes(1, 5001, "hello");
    auto alice_tabs = tabs(alice_token_);
    auto bob_tabs = tabs(bob_token_);
    const std::string path = "/api/v1/conversations/" + conversation;

    EXPECT_EQ(as(alice_token_).request("PATCH", path, R"({"status":"snoozed"})").status, 400)
        << "a snooze needs its time";
    EXPECT_EQ(as(alice_token_)
                  .request("PATCH", path, R"({"status":"snoozed","snoozed_until":"2001-01-01T00:00:00Z"})")
                  .status,
              400);
    EXPECT_EQ(as(alice_token_).request("PATCH", path, R"({"priority":"whenever"})").status, 400);
    EXPECT_EQ(as(alice_token_).request("PATCH", path, R"({})").status, 400);

    auto snoozed =
        as(alice_token_)
            .request("PATCH", path, "{\"status\":\"snoozed\",\"snoozed_until\":\"" + rfc3339_in(3s) + "\"}");
    ASSERT_EQ(snoozed.status, 200) << snoozed.body;
    EXPECT_EQ(Json(snoozed.body).str("/status"), "snoozed");
    EXPECT_TRUE(Json(snoozed.body).at("/snoozed_until")->IsString());
    for (auto* who : {&alice_tabs, &bob_tabs})
        for (auto& tab : *who) {
            auto frames = frames_of(*tab, "conversation_status");
            ASSERT_EQ(frames.size(), 1u);
            EXPECT_EQ(frames[0].str("/data/conversation/status"), "snoozed");
            EXPECT_EQ(frames[0].str("/data/changed_by"), alice_);
        }
    Json counts(as(bob_token_).get("/api/v1/conversations/counts").body);
    EXPECT_EQ(counts.integer("/unassigned/snoozed"), 1);

    // Three seconds on (time enough for the checks above on a loaded machine: with one second
    // it sometimes woke before the counts were read), it reopens by itself, and every session
    // that sees it is told.
    for (auto* who : {&alice_tabs, &bob_tabs})
        for (auto& tab : *who) {
            auto frames = frames_of(*tab, "conversation_status", 8s);
            ASSERT_EQ(frames.size(), 1u);
            EXPECT_EQ(frames[0].str("/data/changed_by"), "snooze");
            EXPECT_EQ(frames[0].str("/data/conversation/status"), "open");
        }
    EXPECT_EQ(item(alice_token_, conversation).str("/status"), "open");

    auto urgent = as(bob_token_).request("PATCH", path, R"({"priority":"urgent"})");
    ASSERT_EQ(urgent.status, 200) << urgent.body;
    EXPECT_EQ(Json(urgent.body).str("/priority"), "urgent");
    for (auto* who : {&alice_tabs, &bob_tabs})
        for (auto& tab : *who) {
            auto frames = frames_of(*tab, "conversation_updated");
            ASSERT_EQ(frames.size(), 1u);
            EXPECT_EQ(frames[0].str("/data/fields/0"), "priority");
            EXPECT_EQ(frames[0].str("/data/changed_by"), bob_);
            EXPECT_EQ(frames[0].str("/data/conversation/priority"), "urgent");
        }
    EXPECT_EQ(Json(as(alice_token_).get("/api/v1/conversations?priority=urgent").body).at("/items")->Size(),
              1u);

    // Pending (waiting on the customer) until the customer writes.
    ASSERT_EQ(as(alice_token_).request("PATCH", path, R"({"status":"pending"})").status, 200);
    customer_writes(2, 5001, "here is the photo");
    EXPECT_EQ(item(alice_token_, conversation).str("/status"), "open");
}

}  // namespace

TEST_F(InboxTest, ANoteReachesWhoeverSeesTheConversationNeverThePlatformAndTellsWhomItMentions) {
    const std::string conversation = customer_writes(1, 5001, "I was charged twice");
    auto taken = as(alice_token_)
                     .post_json("/api/v1/conversations/" + conversation + "/assignment",
                                "{\"agent_id\":\"" + alice_ + "\"}");
    ASSERT_EQ(taken.status, 200) << taken.body;
    auto alice_tabs = tabs(alice_token_);
    auto bob_tabs = tabs(bob_token_);
    auto admin_tabs = tabs(kAdminToken);
    const auto sent_before = platform_.requests().size();

    // Alice mentions Bob (who may not see her conversation) and the admin (who may).
    auto note = as(alice_token_)
                    .post_json("/api/v1/conversations/" + conversation + "/notes",
                               R"({"text":"refund is approved, @Bootstrap Admin and @Bob FYI"})");
    ASSERT_EQ(note.status, 201) << note.body;
    Json stored(note.body);
    EXPECT_EQ(stored.str("/kind"), "note");
    EXPECT_EQ(stored.str("/sender/id"), alice_);
    EXPECT_EQ(stored.str("/content/text"), "refund is approved, @Bootstrap Admin and @Bob FYI");
    ASSERT_EQ(stored.at("/content/mentions")->Size(), 1u);
    EXPECT_EQ(stored.str("/content/mentions/0"), "admin");

    // Every frame each session gets: note_added for whoever sees the conversation, and
    // agent_mentioned for the admin's sessions alone.
    auto types = [](WebSocketClient& ws, std::chrono::milliseconds first) {
        std::vector<Json> out;
        auto within = first;
        while (auto frame = ws.read_frame(within)) {
            Json doc(*frame);
            if (doc.str("/type") != "agent_presence") out.push_back(std::move(doc));  // colleagues connecting
            within = kQuiet;
        }
        return out;
    };
    for (auto& tab : alice_tabs) {
        auto frames = types(*tab, 5s);
        ASSERT_EQ(frames.size(), 1u) << "the note, no mention: Alice wrote it";
        EXPECT_EQ(frames[0].str("/type"), "note_added");
        EXPECT_EQ(frames[0].str("/data/message/id"), stored.str("/id"));
        EXPECT_EQ(frames[0].str("/data/message/kind"), "note");
    }
    for (auto& tab : admin_tabs) {
        auto frames = types(*tab, 5s);
        ASSERT_EQ(frames.size(), 2u);
        EXPECT_EQ(frames[0].str("/type"), "note_added");
        EXPECT_EQ(frames[1].str("/type"), "agent_mentioned");
        EXPECT_EQ(frames[1].str("/data/agent_id"), "admin");
        EXPECT_EQ(frames[1].str("/data/message/id"), stored.str("/id"));
        EXPECT_EQ(frames[1].str("/data/conversation/id"), conversation);
        EXPECT_TRUE(frames[1].has("/seq")) << "durable: a session that was away gets it on resume";
    }
    for (auto& tab : bob_tabs) EXPECT_TRUE(types(*tab, kQuiet).empty()) << "not Bob's to see";

    // Nothing reached the platform; the preview and the unread count ignore the note.
    std::this_thread::sleep_for(kQuiet);
    EXPECT_EQ(platform_.requests().size(), sent_before) << "a note is never sent";
    Json view = item(alice_token_, conversation);
    EXPECT_EQ(view.str("/last_message/preview"), "I was charged twice");
    EXPECT_EQ(view.integer("/unread_count"), 1);
    Json history(as(kAdminToken).get("/api/v1/conversations/" + conversation + "/messages").body);
    bool found = false;
    for (const auto& m : history.at("/items")->GetArray())
        found = found || std::string(m["kind"].GetString()) == "note";
    EXPECT_TRUE(found) << "the note is in the history";

    EXPECT_EQ(as(bob_token_)
                  .post_json("/api/v1/conversations/" + conversation + "/notes", R"({"text":"hi"})")
                  .status,
              404);
    EXPECT_EQ(as(alice_token_)
                  .post_json("/api/v1/conversations/" + conversation + "/notes", R"({"text":"  "})")
                  .status,
              400);
    EXPECT_EQ(as(alice_token_)
                  .post_json("/api/v1/conversations/" + conversation + "/notes", R"({"note":"x"})")
                  .status,
              400);
}

TEST_F(InboxTest, AReplyReachesEverySessionThatSeesTheConversationButTheOneThatSentIt) {
    const std::string conversation = customer_writes(1, 5001, "where is my parcel?");
    // Tabs whose hello's session_id is kept: the console sends it as X-Switchboard-Session.
    auto open_tab = [&](const std::string& token, std::string* session_id = nullptr) {
        auto ws = std::make_unique<WebSocketClient>();
        EXPECT_EQ(ws->connect(daemon_.port(), "/api/v1/ws?access_token=" + token).status, 101);
        auto hello = ws->read_frame(5s);
        EXPECT_TRUE(hello);
        Json doc(hello ? *hello : "{}");
        EXPECT_EQ(doc.str("/type"), "hello");
        EXPECT_FALSE(doc.str("/data/session_id").empty());
        if (session_id) *session_id = doc.str("/data/session_id");
        return ws;
    };
    std::string sending, other;
    auto alice_sending = open_tab(alice_token_, &sending);
    auto alice_other = open_tab(alice_token_, &other);
    EXPECT_NE(sending, other) << "each session has its own id";
    auto bob_tabs = tabs(bob_token_);
    auto admin_tabs = tabs(kAdminToken);

    auto reply = as(alice_token_)
                     .post_json("/api/v1/conversations/" + conversation + "/messages",
                                R"({"content":{"type":"text","text":"It left the warehouse today"}})",
                                {{"X-Switchboard-Session", sending}});
    ASSERT_EQ(reply.status, 201) << reply.body;
    const std::string message_id = Json(reply.body).str("/id");

    // Alice's other tab, Bob (the conversation is unassigned: everyone's) and the admin.
    std::vector<WebSocketClient*> others{alice_other.get()};
    for (auto* group : {&bob_tabs, &admin_tabs})
        for (auto& tab : *group) others.push_back(tab.get());
    for (auto* tab : others) {
        auto frames = frames_of(*tab, "message_sent");
        ASSERT_EQ(frames.size(), 1u);
        EXPECT_EQ(frames[0].str("/data/message/id"), message_id);
        EXPECT_EQ(frames[0].str("/data/message/direction"), "out");
        EXPECT_EQ(frames[0].str("/data/message/sender/id"), alice_);
        EXPECT_EQ(frames[0].str("/data/conversation/last_message/id"), message_id);
        EXPECT_TRUE(frames[0].has("/seq")) << "durable: replayed to a session that was away";
    }
    EXPECT_TRUE(frames_of(*alice_sending, "message_sent", kQuiet).empty())
        << "the sending session has its HTTP answer";

    // Resuming on the sending session itself does not bring it back either; a new session
    // (another device coming back) gets it.
    alice_sending->send_text(R"({"type":"resume","after_seq":0})");
    EXPECT_TRUE(frames_of(*alice_sending, "message_sent", 1s).empty());
    WebSocketClient later;
    ASSERT_EQ(
        later.connect(daemon_.port(), "/api/v1/ws?access_token=" + alice_token_ + "&after_seq=0").status,
        101);
    auto replayed = frames_of(later, "message_sent");
    ASSERT_EQ(replayed.size(), 1u);
    EXPECT_EQ(replayed[0].str("/data/message/id"), message_id);

    // A request naming no session: every session gets it, the sender's too.
    auto plain = as(alice_token_)
                     .post_json("/api/v1/conversations/" + conversation + "/messages",
                                R"({"content":{"type":"text","text":"Tracking to follow"}})");
    ASSERT_EQ(plain.status, 201) << plain.body;
    EXPECT_EQ(frames_of(*alice_sending, "message_sent").size(), 1u);
}

TEST_F(InboxTest, CannedRepliesAreSharedByAdminsPersonalToTheirOwnerAndRenderedForAConversation) {
    const std::string path = "/api/v1/canned-replies";
    auto shared = admin().post_json(
        path,
        R"({"shortcode":"Greet","text":"Hello {{contact.name}}, {{agent.name}} here.","scope":"shared"})");
    ASSERT_EQ(shared.status, 201) << shared.body;
    Json made(shared.body);
    const std::string shared_id = made.str("/id");
    EXPECT_EQ(made.str("/shortcode"), "greet");
    EXPECT_EQ(made.str("/scope"), "shared");
    EXPECT_TRUE(made.at("/owner_id")->IsNull());
    EXPECT_EQ(made.str("/created_at").size(), 24u)
        << "RFC 3339 with milliseconds: " << made.str("/created_at");
    EXPECT_EQ(as(alice_token_).post_json(path, R"({"shortcode":"team","text":"x","scope":"shared"})").status,
              403)
        << "agents do not create shared replies";
    EXPECT_EQ(admin().post_json(path, R"({"shortcode":"GREET","text":"again","scope":"shared"})").status,
              409);
    EXPECT_EQ(admin().post_json(path, R"({"shortcode":"a b","text":"x","scope":"shared"})").status, 400);
    EXPECT_EQ(admin().post_json(path, R"({"shortcode":"x","text":"x","scope":"team"})").status, 400);
    EXPECT_EQ(admin().post_json(path, R"({"shortcode":"x","text":"x"})").status, 400);

    auto personal =
        as(alice_token_)
            .post_json(path,
                       R"({"shortcode":"greet","text":"Hi {{contact.first_name}}","scope":"personal"})");
    ASSERT_EQ(personal.status, 201) << personal.body;
    const std::string alices_id = Json(personal.body).str("/id");
    EXPECT_EQ(Json(personal.body).str("/owner_id"), alice_);

    // Everyone sees the shared one; Alice's is hers alone, admins included.
    Json for_alice(as(alice_token_).get(path + "?prefix=GR").body);
    ASSERT_EQ(for_alice.at("/items")->Size(), 2u);
    EXPECT_EQ(for_alice.str("/items/0/id"), alices_id) << "the personal one before the shared one";
    EXPECT_EQ(for_alice.str("/items/1/id"), shared_id);
    EXPECT_FALSE(for_alice.has("/items/0/rendered")) << "no conversation, nothing rendered";
    for (const std::string& token : {bob_token_, std::string(kAdminToken)}) {
        Json list(as(token).get(path).body);
        ASSERT_EQ(list.at("/items")->Size(), 1u);
        EXPECT_EQ(list.str("/items/0/id"), shared_id);
    }
    EXPECT_EQ(Json(as(bob_token_).get(path + "?prefix=x").body).at("/items")->Size(), 0u);
    EXPECT_EQ(as(bob_token_).get(path + "?prefix=a%20b").status, 400);

    // Changes: the shared one is the admins', Alice's hers; what one may not see is 404.
    EXPECT_EQ(as(bob_token_).request("PATCH", path + "/" + alices_id, R"({"text":"mine now"})").status, 404);
    EXPECT_EQ(admin().request("PATCH", path + "/" + alices_id, R"({"text":"mine now"})").status, 404);
    EXPECT_EQ(admin().request("DELETE", path + "/" + alices_id).status, 404);
    EXPECT_EQ(as(alice_token_).request("PATCH", path + "/" + shared_id, R"({"text":"x"})").status, 403);
    EXPECT_EQ(as(alice_token_).request("DELETE", path + "/" + shared_id).status, 403);
    EXPECT_EQ(admin().request("PATCH", path + "/" + shared_id, R"({})").status, 400);
    EXPECT_EQ(admin().request("PATCH", path + "/999999", R"({"text":"x"})").status, 404);
    auto edited = admin().request("PATCH", path + "/" + shared_id, R"({"text":"Hello {{contact.name}}!"})");
    ASSERT_EQ(edited.status, 200) << edited.body;
    EXPECT_EQ(Json(edited.body).str("/text"), "Hello {{contact.name}}!");
    EXPECT_EQ(Json(edited.body).str("/shortcode"), "greet");

    // Rendered for a conversation the caller sees, with its contact's name and the caller's.
    const std::string open = customer_writes(1, 7001, "hello");
    Json rendered(as(alice_token_).get(path + "?prefix=greet&conversation_id=" + open).body);
    ASSERT_EQ(rendered.at("/items")->Size(), 2u);
    EXPECT_EQ(rendered.str("/items/0/rendered"), "Hi Ada");
    EXPECT_EQ(rendered.str("/items/1/rendered"), "Hello Ada!");
    auto signed_reply = admin().post_json(
        path,
        R"({"shortcode":"sig","text":"{{agent.name}} on {{channel.id}} #{{conversation.id}}","scope":"shared"})");
    ASSERT_EQ(signed_reply.status, 201) << signed_reply.body;
    EXPECT_EQ(
        Json(as(bob_token_).get(path + "?prefix=sig&conversation_id=" + open).body).str("/items/0/rendered"),
        "Bob on tg #" + open);

    // A conversation the caller may not see is 404, as everywhere else.
    const std::string bobs = customer_writes(2, 7002, "mine");
    ASSERT_EQ(
        as(bob_token_)
            .post_json("/api/v1/conversations/" + bobs + "/assignment", "{\"agent_id\":\"" + bob_ + "\"}")
            .status,
        200);
    EXPECT_EQ(as(alice_token_).get(path + "?conversation_id=" + bobs).status, 404);
    EXPECT_EQ(as(bob_token_).get(path + "?conversation_id=" + bobs).status, 200);
    EXPECT_EQ(as(alice_token_).get(path + "?conversation_id=999999").status, 404);
    EXPECT_EQ(as(alice_token_).get(path + "?conversation_id=0" + open).status, 404);

    EXPECT_EQ(as(alice_token_).request("DELETE", path + "/" + alices_id).status, 204);
    EXPECT_EQ(as(alice_token_).request("DELETE", path + "/" + alices_id).status, 404);
    EXPECT_EQ(admin().request("DELETE", path + "/" + shared_id).status, 204);
    EXPECT_EQ(Json(as(alice_token_).get(path).body).at("/items")->Size(), 1u) << "only sig is left";
}
