// What reaches customers or takes the service down when input is hostile or the network is
// unreliable, on the real daemon against a fake Telegram Bot API: hostile JSON in agent
// requests, a replay to clients that never read, large webhooks with Content-Length, the same
// Idempotency-Key sent concurrently, and sends whose outcome the platform never told.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
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
using sb::test::FakeHttpServer;
using sb::test::HeaderList;
using sb::test::HttpClient;
using sb::test::HttpRequest;
using sb::test::HttpResponse;
using sb::test::HttpResult;
using sb::test::Json;
using sb::test::WebSocketClient;

constexpr const char* kAdminToken = "reliability-admin-token-0123456789";
constexpr const char* kSecret = "reliability-webhook-secret";
constexpr const char* kBotToken = "123456:REL";

std::string update(int id, long chat, const std::string& text, const std::string& padding = "") {
    std::string out =
        "{\"update_id\":" + std::to_string(id) + ",\"message\":{\"message_id\":" + std::to_string(id) +
        ",\"from\":{\"id\":" + std::to_string(chat) + ",\"is_bot\":false,\"first_name\":\"C\"}" +
        ",\"chat\":{\"id\":" + std::to_string(chat) + ",\"type\":\"private\"},\"date\":1732540000" +
        ",\"text\":\"" + text + "\"}";
    if (!padding.empty()) out += ",\"padding\":\"" + padding + "\"";
    return out + "}";
}

HttpResponse sent_message(std::int64_t message_id, std::int64_t chat_id) {
    HttpResponse res;
    res.body = R"({"ok":true,"result":{"message_id":)" + std::to_string(message_id) + R"(,"chat":{"id":)" +
               std::to_string(chat_id) + R"(,"type":"private"},"date":1732540001,"text":"hi"}})";
    return res;
}

bool is_send(const HttpRequest& r) { return r.path() == std::string("/bot") + kBotToken + "/sendMessage"; }

class ReliabilityTest : public ::testing::Test {
protected:
    void SetUp() override {}
    void TearDown() override {
        if (HasFailure()) daemon_.dump_logs(std::cerr);
    }

    // The daemon on `server` settings (inside "server: { … }"), with the Telegram channel on
    // `api_base` (the fake by default; "" = no channels, or `channels_yaml`), and `extra`
    // top-level sections.
    void start_with(const std::string& server, const std::string& extra = "", std::string api_base = "fake",
                    const std::string& channels_yaml = "channels: []\n") {
        if (api_base == "fake") api_base = telegram_.base_url();
        const std::string channels =
            api_base.empty() ? channels_yaml
                             : "channels:\n  - id: tg\n    plugin: telegram\n    settings: { bot_token: \"" +
                                   std::string(kBotToken) + "\", secret_token: \"" + kSecret +
                                   "\", api_base: \"" + api_base + "\" }\n" + channel_extra_;
        daemon_.start("server: { listen: \"127.0.0.1:0\"" + (server.empty() ? "" : ", " + server) + " }\n" +
                      "storage: { backend: sqlite, sqlite: { path: \"" + daemon_.db_path().string() +
                      "\" } }\n" + "plugins: { dir: \"" SB_PLUGIN_DIR "\" }\n" +
                      "auth: { bootstrap_admin_token: \"" + kAdminToken + "\" }\n" + channels + extra);
    }
    void start(const std::string& extra = "") { start_with("threads: 2, webhook_body_limit: 3MiB", extra); }

    HttpClient admin(std::chrono::milliseconds timeout = 10s) const {
        return HttpClient(daemon_.port(), {{"Authorization", std::string("Bearer ") + kAdminToken}}, timeout);
    }

    HttpResult post_webhook(const std::string& body) const {
        return HttpClient(daemon_.port())
            .post_json("/webhooks/tg", body, {{"X-Telegram-Bot-Api-Secret-Token", kSecret}});
    }

    // The number of messages stored in `conversation`, polled until it reaches `n` or 10 s pass.
    std::size_t wait_for_messages(const std::string& conversation, std::size_t n) const {
        std::size_t count = 0;
        for (auto deadline = std::chrono::steady_clock::now() + 10s;
             std::chrono::steady_clock::now() < deadline;) {
            auto r = admin().get("/api/v1/conversations/" + conversation + "/messages?limit=200");
            if (r.status == 200) count = Json(r.body).size("/items");
            if (count >= n) break;
            std::this_thread::sleep_for(20ms);
        }
        return count;
    }

    // A customer writes; returns the conversation's id once it is stored.
    std::string customer_writes(int id, long chat) {
        EXPECT_EQ(post_webhook(update(id, chat, "hello")).status, 200);
        for (auto deadline = std::chrono::steady_clock::now() + 10s;
             std::chrono::steady_clock::now() < deadline;) {
            Json list(admin().get("/api/v1/conversations").body);
            for (std::size_t i = 0; i < list.size("/items"); ++i) {
                const std::string at = "/items/" + std::to_string(i);
                if (list.str((at + "/platform_id").c_str()) == std::to_string(chat))
                    return list.str((at + "/id").c_str());
            }
            std::this_thread::sleep_for(20ms);
        }
        ADD_FAILURE() << "the customer's message was never stored";
        return "";
    }

    HttpResult reply(const std::string& conversation, const std::string& text, const std::string& key = "",
                     std::chrono::milliseconds timeout = 20s) const {
        HeaderList headers;
        if (!key.empty()) headers.emplace_back("Idempotency-Key", key);
        return admin(timeout).post_json("/api/v1/conversations/" + conversation + "/messages",
                                        R"({"content":{"type":"text","text":")" + text + "\"}}", headers);
    }

    std::size_t sends() const {
        std::size_t n = 0;
        for (const auto& r : telegram_.requests()) n += is_send(r) ? 1 : 0;
        return n;
    }

    // An agent's token from POST /agents/{id}/tokens with `token_body`; "" on failure.
    std::string agent_token(const std::string& token_body, HttpResult* answer = nullptr) const {
        auto agent = admin().post_json("/api/v1/agents", R"({"name":"Expiring Ann","role":"agent"})");
        EXPECT_EQ(agent.status, 201) << agent.body;
        auto token =
            admin().post_json("/api/v1/agents/" + Json(agent.body).str("/id") + "/tokens", token_body);
        if (answer) *answer = token;
        return token.status == 201 ? Json(token.body).str("/token") : "";
    }

    FakeHttpServer telegram_;
    Daemon daemon_{SB_DAEMON_PATH};
    std::string channel_extra_;  // more keys of the Telegram channel's entry ("    rate_limit: …\n")
};

// RFC 3339 for `t` (UTC, whole seconds).
std::string rfc3339(std::chrono::system_clock::time_point t) {
    std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char out[32];
    std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

// --- 1. hostile JSON from an agent -------------------------------------------------------------

TEST_F(ReliabilityTest, DeeplyNestedAgentBodiesAre400InvalidJsonAndTheDaemonStaysUp) {
    start();
    const std::string conversation = customer_writes(1, 501);
    const std::string deep(130 * 1024, '[');
    const std::string base = "/api/v1/conversations/" + conversation;
    struct Case {
        const char* method;
        std::string target;
    };
    for (const Case& c :
         {Case{"POST", base + "/messages"}, Case{"PATCH", base}, Case{"POST", base + "/assignment"},
          Case{"POST", base + "/typing"}, Case{"POST", "/api/v1/agents"}}) {
        auto r = admin().request(c.method, c.target, deep, {{"Content-Type", "application/json"}});
        EXPECT_EQ(r.status, 400) << c.method << " " << c.target << ": " << r.error;
        EXPECT_EQ(Json(r.body).str("/error/code"), "invalid_json")
            << c.method << " " << c.target << ": " << r.body;
        ASSERT_TRUE(daemon_.running()) << "the daemon died on " << c.method << " " << c.target;
    }
    // Invalid UTF-8 too, and the same on the WebSocket.
    auto utf8 =
        admin().request("PATCH", base, "{\"status\":\"\xff\xfe\"}", {{"Content-Type", "application/json"}});
    EXPECT_EQ(utf8.status, 400);
    EXPECT_EQ(Json(utf8.body).str("/error/code"), "invalid_json") << utf8.body;

    WebSocketClient ws;
    ASSERT_EQ(ws.connect(daemon_.port(), std::string("/api/v1/ws?access_token=") + kAdminToken).status, 101);
    ASSERT_TRUE(ws.read_frame(5s));  // hello
    ASSERT_TRUE(ws.send_text(std::string(60 * 1024, '[')));
    auto answer = ws.read_frame(5s);
    ASSERT_TRUE(answer) << ws.close_reason();
    EXPECT_EQ(Json(*answer).str("/data/code"), "bad_frame") << *answer;

    EXPECT_TRUE(daemon_.running());
    EXPECT_EQ(admin().get("/healthz").status, 200);
    EXPECT_EQ(reply(conversation, "still here").status, 201);
}

// --- 2. a replay to clients that do not read -----------------------------------------------------

TEST_F(ReliabilityTest, ResumesOfClientsThatDoNotReadNeverStallTheRestApi) {
    telegram_.set_handler([](const HttpRequest&) { return sent_message(1, 1); });
    start("realtime: { queue_limit: 64 }\n");
    // Enough event bytes to fill the sockets' kernel buffers many times over: 2,400 messages
    // of 3,000 characters (about 8 MB of frames per replay).
    const std::string text(3000, 'x');
    constexpr int kMessages = 2400;
    {
        std::vector<std::thread> posters;
        std::atomic<int> failed{0};
        for (int t = 0; t < 4; ++t) {
            posters.emplace_back([&, t] {
                for (int i = t; i < kMessages; i += 4)
                    if (post_webhook(update(1000 + i, 700 + i % 20, text)).status != 200) ++failed;
            });
        }
        for (auto& p : posters) p.join();
        ASSERT_EQ(failed.load(), 0);
    }
    // Every message stored: the last seq covers them all.
    std::int64_t last_seq = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 30s;
         std::chrono::steady_clock::now() < deadline && last_seq < kMessages;) {
        WebSocketClient probe;
        probe.connect(daemon_.port(), std::string("/api/v1/ws?access_token=") + kAdminToken);
        if (auto hello = probe.read_frame(5s)) last_seq = Json(*hello).integer("/data/last_seq");
        if (last_seq < kMessages) std::this_thread::sleep_for(100ms);
    }
    ASSERT_GE(last_seq, kMessages);

    // Two sockets that never read, each asking three times for everything.
    std::vector<std::unique_ptr<WebSocketClient>> stuck;
    for (int i = 0; i < 2; ++i) {
        stuck.push_back(std::make_unique<WebSocketClient>());
        ASSERT_EQ(stuck.back()
                      ->connect(daemon_.port(), std::string("/api/v1/ws?access_token=") + kAdminToken)
                      .status,
                  101);
        for (int r = 0; r < 3; ++r)
            ASSERT_TRUE(stuck.back()->send_text(R"({"type":"resume","after_seq":0})"));
    }
    std::this_thread::sleep_for(300ms);  // let the replays run into the full sockets

    // Store-backed calls answer at once meanwhile (the client's 3 s timeout is the bound).
    for (int i = 0; i < 5; ++i) {
        auto list = admin(3s).get("/api/v1/conversations?limit=5");
        EXPECT_EQ(list.status, 200) << "list " << i << ": " << list.error;
        auto metrics = admin(3s).get("/metrics");
        EXPECT_EQ(metrics.status, 200) << "metrics " << i << ": " << metrics.error;
    }
    const std::string conversation =
        Json(admin().get("/api/v1/conversations?limit=1").body).str("/items/0/id");
    auto sent = reply(conversation, "during the replays", "", 3s);
    EXPECT_EQ(sent.status, 201) << sent.error << " " << sent.body;

    // A client that reads gets its whole replay, in order, alongside the stuck ones.
    WebSocketClient reader;
    ASSERT_EQ(reader.connect(daemon_.port(), std::string("/api/v1/ws?access_token=") + kAdminToken).status,
              101);
    ASSERT_TRUE(reader.read_frame(5s));  // hello
    ASSERT_TRUE(reader.send_text(R"({"type":"resume","after_seq":0})"));
    std::int64_t previous = 0;
    int messages = 0;
    while (previous < last_seq) {
        auto frame = reader.read_frame(10s);
        ASSERT_TRUE(frame) << "replay stopped after seq " << previous << ": " << reader.close_reason();
        Json doc(*frame);
        if (!doc.has("/seq")) continue;
        const std::int64_t seq = doc.integer("/seq");
        ASSERT_GT(seq, previous);
        previous = seq;
        if (doc.str("/type") == "new_message") ++messages;
    }
    EXPECT_GE(messages, kMessages);
}

// --- 3. webhook size limits ------------------------------------------------------------------------

TEST_F(ReliabilityTest, WebhookBodiesUpToTheConfiguredLimitAreTakenWithContentLengthOrChunked) {
    start();  // webhook_body_limit: 3MiB
    // 2 MiB with Content-Length: over Beast's default 1 MiB, under ours.
    auto big = post_webhook(update(1, 601, "big one", std::string(2u << 20, 'p')));
    EXPECT_EQ(big.status, 200) << big.body;
    // 4 MiB: over the limit, both ways, 413.
    auto too_big = post_webhook(update(2, 602, "too big", std::string(4u << 20, 'p')));
    EXPECT_EQ(too_big.status, 413) << too_big.body;
    const std::string chunk(1u << 20, 'q');
    std::string chunked =
        "POST /webhooks/tg HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "X-Telegram-Bot-Api-Secret-Token: " +
        std::string(kSecret) + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    for (int i = 0; i < 4; ++i) chunked += "100000\r\n" + chunk + "\r\n";
    chunked += "0\r\n\r\n";
    auto answer = HttpClient(daemon_.port()).raw(chunked);
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer.substr(0, 200);

    // The accepted one is stored.
    std::string conversation;
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         conversation.empty() && std::chrono::steady_clock::now() < deadline;) {
        Json list(admin().get("/api/v1/conversations").body);
        if (list.size("/items") > 0 && list.str("/items/0/platform_id") == "601")
            conversation = list.str("/items/0/id");
        if (conversation.empty()) std::this_thread::sleep_for(20ms);
    }
    ASSERT_FALSE(conversation.empty());
    EXPECT_EQ(wait_for_messages(conversation, 1), 1u);
}

// --- 4. the same Idempotency-Key, concurrently ------------------------------------------------------

TEST_F(ReliabilityTest, ConcurrentRepeatsOfAnIdempotencyKeyReachThePlatformOnce) {
    std::atomic<int> next_id{100};
    telegram_.set_handler([&](const HttpRequest& r) {
        if (is_send(r))
            std::this_thread::sleep_for(300ms);  // the first send is still out when the repeats come
        return sent_message(next_id++, 801);
    });
    start();
    const std::string conversation = customer_writes(1, 801);

    constexpr int kCallers = 5;
    std::vector<HttpResult> results(kCallers);
    {
        std::vector<std::thread> callers;
        for (int i = 0; i < kCallers; ++i)
            callers.emplace_back([&, i] { results[i] = reply(conversation, "once only", "key-1"); });
        for (auto& c : callers) c.join();
    }
    int created = 0, in_progress = 0;
    std::string message_id;
    for (const auto& r : results) {
        if (r.status == 201) {
            ++created;
            message_id = Json(r.body).str("/id");
        } else if (r.status == 409) {
            ++in_progress;
            EXPECT_EQ(Json(r.body).str("/error/code"), "idempotency_in_progress") << r.body;
        } else {
            // A repeat that came after the first finished gets its stored result.
            EXPECT_EQ(r.status, 200) << r.body;
            EXPECT_EQ(r.header("Idempotent-Replayed").value_or(""), "true");
        }
    }
    EXPECT_EQ(created, 1);
    EXPECT_GE(in_progress, 1);
    EXPECT_EQ(sends(), 1u);

    // Completed: the repeat is the stored message, not a send.
    auto again = reply(conversation, "once only", "key-1");
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.header("Idempotent-Replayed").value_or(""), "true");
    EXPECT_EQ(Json(again.body).str("/id"), message_id);
    // The same key with another body is a client bug, not a repeat.
    auto reused = reply(conversation, "something else", "key-1");
    EXPECT_EQ(reused.status, 422) << reused.body;
    EXPECT_EQ(Json(reused.body).str("/error/code"), "idempotency_key_reused");
    EXPECT_EQ(sends(), 1u);
    // Keys are per conversation: the same key elsewhere is a new message.
    const std::string other = customer_writes(2, 802);
    EXPECT_EQ(reply(other, "once only", "key-1").status, 201);
    EXPECT_EQ(sends(), 2u);
}

// --- 5. sends whose outcome is unknown ---------------------------------------------------------------

struct Ambiguity {
    const char* name;
    std::function<HttpResponse()> answer;
};

void PrintTo(const Ambiguity& ambiguity, std::ostream* os) { *os << ambiguity.name; }

class AmbiguousSendTest : public ReliabilityTest, public ::testing::WithParamInterface<Ambiguity> {};

TEST_P(AmbiguousSendTest, IsStoredAsUnknownAnswered504AndNeverSentAgain) {
    std::atomic<bool> faulty{false};
    telegram_.set_handler([&](const HttpRequest& r) {
        if (is_send(r) && faulty) return GetParam().answer();
        return sent_message(1, 901);
    });
    start("outbound: { timeout_ms: 1000, deadline_ms: 1500, max_attempts: 3 }\n");
    const std::string conversation = customer_writes(1, 901);
    faulty = true;

    const auto began = std::chrono::steady_clock::now();
    auto r = reply(conversation, "did it arrive", "ambiguous-1");
    const auto took = std::chrono::steady_clock::now() - began;
    EXPECT_EQ(r.status, 504) << r.body;
    Json body(r.body);
    EXPECT_EQ(body.str("/error/code"), "delivery_unknown") << r.body;
    EXPECT_EQ(body.str("/error/stored_message/status"), "unknown") << r.body;
    EXPECT_LT(took, 5s) << "the send's deadline was not kept";
    // Sent once: whatever the platform did with it, the daemon did not send it again.
    std::this_thread::sleep_for(500ms);  // a resend, if any, would come within the retry waits
    EXPECT_EQ(sends(), 1u);

    // In the history, as unknown, for the agent to decide.
    Json history(admin().get("/api/v1/conversations/" + conversation + "/messages?limit=10").body);
    ASSERT_GE(history.size("/items"), 2u);
    EXPECT_EQ(history.str("/items/0/direction"), "out");
    EXPECT_EQ(history.str("/items/0/status"), "unknown");
    // Repeating the key does not send either.
    auto again = reply(conversation, "did it arrive", "ambiguous-1");
    EXPECT_EQ(again.status, 504) << again.body;
    EXPECT_EQ(again.header("Idempotent-Replayed").value_or(""), "true");
    EXPECT_EQ(sends(), 1u);
}

HttpResponse fault(HttpResponse::Fault kind, std::string raw = "") {
    HttpResponse res;
    res.fault = kind;
    res.raw = std::move(raw);
    return res;
}

INSTANTIATE_TEST_SUITE_P(
    Faults, AmbiguousSendTest,
    ::testing::Values(
        Ambiguity{"Hangs",
                  [] {
                      std::this_thread::sleep_for(2500ms);
                      return sent_message(2, 901);
                  }},
        Ambiguity{"ClosesWithoutAnswer", [] { return fault(HttpResponse::Fault::close); }},
        Ambiguity{"Resets", [] { return fault(HttpResponse::Fault::reset); }},
        Ambiguity{"ClosesMidResponse",
                  [] {
                      return fault(
                          HttpResponse::Fault::raw,
                          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
                          "{\"ok\":true,\"result\":{\"message_id\":");
                  }},
        Ambiguity{"AnswersGarbage",
                  [] {
                      HttpResponse res;
                      res.body = "<html>upstream sent something odd</html>";
                      res.content_type = "text/html";
                      return res;
                  }},
        Ambiguity{"Answers500",
                  [] {
                      HttpResponse res;
                      res.status = 500;
                      res.body = R"({"ok":false,"error_code":500,"description":"Internal Server Error"})";
                      return res;
                  }}),
    [](const ::testing::TestParamInfo<Ambiguity>& info) { return std::string(info.param.name); });

// What certainly did not reach the platform is retried within the deadline.
TEST_F(ReliabilityTest, A503IsRetriedAndTheMessageSentOnce) {
    std::atomic<int> calls{0};
    telegram_.set_handler([&](const HttpRequest& r) {
        if (is_send(r) && calls++ == 0) {
            HttpResponse busy;
            busy.status = 503;
            busy.body = R"({"ok":false,"error_code":503,"description":"Service Unavailable"})";
            return busy;
        }
        return sent_message(7, 950);
    });
    start();
    const std::string conversation = customer_writes(1, 950);
    calls = 0;
    auto r = reply(conversation, "second time lucky");
    EXPECT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(Json(r.body).str("/status"), "sent");
    EXPECT_EQ(sends(), 2u);
}

TEST_F(ReliabilityTest, APlatformThatRefusesConnectionsIsNotSentAnythingAndTheKeyCanBeRetried) {
    std::uint16_t closed_port = 0;
    {
        FakeHttpServer gone;  // a port that was listening and now refuses
        closed_port = gone.port();
    }
    start_with("threads: 2", "outbound: { deadline_ms: 3000 }\n",
               "http://127.0.0.1:" + std::to_string(closed_port));
    const std::string conversation = customer_writes(1, 960);
    auto r = reply(conversation, "nobody home", "refused-1");
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_EQ(Json(r.body).str("/error/code"), "platform_unavailable") << r.body;
    // Nothing was sent, so the same key is free for the agent's retry (not 409, not a replay).
    auto again = reply(conversation, "nobody home", "refused-1");
    EXPECT_EQ(again.status, 502) << again.body;
    EXPECT_FALSE(again.header("Idempotent-Replayed"));
}

// --- --check-config checks what start-up would refuse -------------------------------------------------

TEST_F(ReliabilityTest, CheckConfigLoadsEachChannelsPluginAndValidatesItsSettings) {
    const std::string head = "auth: { bootstrap_admin_token: \"" + std::string(kAdminToken) + "\" }\n";
    const std::string good_channel =
        "channels:\n  - id: tg\n    plugin: telegram\n"
        "    settings: { bot_token: \"1:T\", secret_token: \"s\" }\n";
    auto good =
        daemon_.check_config(head + "plugins: { dir: \"" SB_PLUGIN_DIR "\" }\n" + good_channel, "good.yaml");
    ASSERT_TRUE(good.exit_code);
    EXPECT_EQ(*good.exit_code, 0) << good.output;
    EXPECT_NE(good.output.find("OK"), std::string::npos) << good.output;

    auto no_dir = daemon_.check_config(head + "plugins: { dir: \"/nonexistent/plugins\" }\n" + good_channel,
                                       "dir.yaml");
    ASSERT_TRUE(no_dir.exit_code);
    EXPECT_EQ(*no_dir.exit_code, 1) << no_dir.output;
    EXPECT_NE(no_dir.output.find("plugins.dir"), std::string::npos) << no_dir.output;

    const auto fake_dir = daemon_.dir() / "fake-plugins";
    std::filesystem::create_directories(fake_dir);
    std::ofstream(fake_dir / "telegram.so") << "not a plugin\n";
    auto not_elf = daemon_.check_config(
        head + "plugins: { dir: \"" + fake_dir.string() + "\" }\n" + good_channel, "elf.yaml");
    ASSERT_TRUE(not_elf.exit_code);
    EXPECT_EQ(*not_elf.exit_code, 1) << not_elf.output;
    EXPECT_NE(not_elf.output.find("not a shared object"), std::string::npos) << not_elf.output;

    auto bad_settings = daemon_.check_config(
        head + "plugins: { dir: \"" SB_PLUGIN_DIR
               "\" }\n"
               "channels:\n  - id: tg-bad\n    plugin: telegram\n    settings: { bot_token: \"\" }\n",
        "settings.yaml");
    ASSERT_TRUE(bad_settings.exit_code);
    EXPECT_EQ(*bad_settings.exit_code, 1) << bad_settings.output;
    EXPECT_NE(bad_settings.output.find("tg-bad"), std::string::npos) << bad_settings.output;
    EXPECT_NE(bad_settings.output.find("bot_token"), std::string::npos) << bad_settings.output;
}

// --- connections before authentication -------------------------------------------------------------------

// A TCP connection that sends nothing (what a slowloris or a port scanner holds open).
class IdleConnection {
public:
    explicit IdleConnection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~IdleConnection() { ::close(fd_); }
    IdleConnection(const IdleConnection&) = delete;
    IdleConnection& operator=(const IdleConnection&) = delete;
    bool connected() const { return connected_; }
    bool send(std::string_view bytes) {
        return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
    }
    // What the server sent before closing, waiting at most `timeout`.
    std::string read_all(std::chrono::milliseconds timeout) {
        timeval tv{static_cast<time_t>(timeout.count() / 1000),
                   static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::string out;
        char buffer[1024];
        for (ssize_t n; (n = ::recv(fd_, buffer, sizeof buffer, 0)) > 0;)
            out.append(buffer, static_cast<std::size_t>(n));
        return out;
    }

private:
    int fd_;
    bool connected_ = false;
};

TEST_F(ReliabilityTest, ConnectionsOverTheLimitsAre503AndTheDaemonServesOnceTheyClose) {
    start_with("max_connections: 6, max_connections_per_address: 4", "", "");
    {
        std::vector<std::unique_ptr<IdleConnection>> held;
        for (int i = 0; i < 4; ++i) {
            held.push_back(std::make_unique<IdleConnection>(daemon_.port()));
            ASSERT_TRUE(held.back()->connected());
        }
        // The fifth from the same address: 503 at once, before it sent a byte.
        IdleConnection fifth(daemon_.port());
        auto answer = fifth.read_all(3s);
        EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
        EXPECT_NE(answer.find("too_many_connections"), std::string::npos) << answer;
        EXPECT_TRUE(daemon_.process().wait_for_log(
            std::regex("connection refused remote=127\\.0\\.0\\.1 reason=per_address_limit"), 5s));
    }
    // All closed: served again, and the refusals were counted.
    bool served =
        sb::test::wait_until([&] { return HttpClient(daemon_.port()).get("/healthz").status == 200; }, 5s);
    EXPECT_TRUE(served);
    // At least the fifth; a health check that raced the held connections' close counts too.
    auto metrics = HttpClient(daemon_.port()).get("/metrics").body;
    EXPECT_TRUE(std::regex_search(
        metrics, std::regex("switchboard_connections_refused_total\\{reason=\"per_address_limit\"\\} [1-9]")))
        << metrics;
}

// --- token guessing --------------------------------------------------------------------------------------

TEST_F(ReliabilityTest, AnAddressGuessingTokensIsLoggedCountedAndLockedOutForAWhile) {
    start_with("auth_failure_limit: 5, auth_lockout_ms: 1500", "", "");
    std::vector<int> statuses;
    for (int i = 0; i < 8; ++i)
        statuses.push_back(
            HttpClient(daemon_.port(), {{"Authorization", "Bearer wrong-" + std::to_string(i)}})
                .get("/api/v1/me")
                .status);
    EXPECT_EQ(statuses.front(), 401);
    EXPECT_EQ(statuses.back(), 429) << "no lockout after 8 wrong tokens in a second";
    // Locked out: a right token from there is refused too, on the WebSocket as well.
    auto right = admin().get("/api/v1/me");
    EXPECT_EQ(right.status, 429);
    EXPECT_TRUE(right.header("Retry-After"));
    WebSocketClient ws;
    EXPECT_EQ(ws.connect(daemon_.port(), std::string("/api/v1/ws?access_token=") + kAdminToken).status, 429);
    // Counted and logged with the address.
    auto metrics = HttpClient(daemon_.port()).get("/metrics").body;
    EXPECT_NE(metrics.find("switchboard_auth_failures_total{on=\"api\"}"), std::string::npos) << metrics;
    EXPECT_TRUE(
        daemon_.process().wait_for_log(std::regex("authentication failed remote=127\\.0\\.0\\.1"), 5s));
    // The lockout ends.
    int after = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         std::chrono::steady_clock::now() < deadline;) {
        after = admin().get("/api/v1/me").status;
        if (after == 200) break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(after, 200);
}

// --- HTTP framing, origins, readiness, secrets at rest ------------------------------------------------

TEST_F(ReliabilityTest, TransferEncodingOtherThanChunkedAndMissingHostAreRefusedAndTheConnectionClosed) {
    start();
    const std::string head =
        "POST /webhooks/tg HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    for (const std::string te : {"gzip, chunked", "identity", "chunked, chunked"}) {
        auto answer = HttpClient(daemon_.port()).raw(head + "Transfer-Encoding: " + te + "\r\n\r\n0\r\n\r\n");
        // 501 when the header parser took it, 400 when it could not even frame it.
        EXPECT_TRUE(answer.rfind("HTTP/1.1 501", 0) == 0 || answer.rfind("HTTP/1.1 400", 0) == 0)
            << te << ": " << answer.substr(0, 200);
        EXPECT_NE(answer.find("Connection: close"), std::string::npos) << te << ": " << answer;
    }
    auto two = HttpClient(daemon_.port())
                   .raw(head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    EXPECT_TRUE(two.rfind("HTTP/1.1 501", 0) == 0 || two.rfind("HTTP/1.1 400", 0) == 0) << two.substr(0, 200);
    auto no_host = HttpClient(daemon_.port()).raw("GET /healthz HTTP/1.1\r\n\r\n");
    EXPECT_EQ(no_host.rfind("HTTP/1.1 400", 0), 0u) << no_host.substr(0, 200);
    // HTTP/1.0 needs no Host.
    auto old = HttpClient(daemon_.port()).raw("GET /healthz HTTP/1.0\r\n\r\n");
    EXPECT_EQ(old.rfind("HTTP/1.0 200", 0), 0u) << old.substr(0, 200);
}

TEST_F(ReliabilityTest, Expect100ContinueIsAnsweredBeforeTheBody) {
    start();
    const std::string body = update(1, 611, "after continue");
    // The body goes out with the headers here, so the raw client sees both answers in order.
    auto answer =
        HttpClient(daemon_.port())
            .raw(
                "POST /webhooks/tg HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "X-Telegram-Bot-Api-Secret-Token: " +
                std::string(kSecret) + "\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
    EXPECT_EQ(answer.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200", 0), 0u) << answer.substr(0, 300);
}

TEST_F(ReliabilityTest, WebSocketUpgradesFromOriginsNotListedAreRefusedWhenCorsOriginsIsSet) {
    start_with("cors_origins: [\"https://console.example\"]", "", "");
    const std::string target = std::string("/api/v1/ws?access_token=") + kAdminToken;
    for (const std::string origin : {"https://evil.example", "null"}) {
        WebSocketClient ws;
        auto refused = ws.connect(daemon_.port(), target, {{"Origin", origin}});
        EXPECT_EQ(refused.status, 403) << origin;
        EXPECT_FALSE(ws.connected());
    }
    WebSocketClient listed;
    EXPECT_EQ(listed.connect(daemon_.port(), target, {{"Origin", "https://console.example"}}).status, 101);
    WebSocketClient no_origin;  // not a browser
    EXPECT_EQ(no_origin.connect(daemon_.port(), target).status, 101);
}

TEST_F(ReliabilityTest, ReadyzIs503WhenEveryChannelFailed) {
    start_with("", "", "", "channels:\n  - id: gone\n    plugin: no_such_plugin\n    settings: {}\n");
    auto r = HttpClient(daemon_.port()).get("/readyz");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(Json(r.body).str("/channels/gone"), "failed") << r.body;
    EXPECT_EQ(HttpClient(daemon_.port()).get("/healthz").status, 200);
}

TEST_F(ReliabilityTest, TheWebhookSecretIsNotKeptInTheStoredQueueRows) {
    start();
    // Unparseable for the plugin: the row stays, as a dead letter, with its headers.
    EXPECT_EQ(post_webhook(R"({"update_id":5,"message":{"message_id":"not a number"}})").status, 200);
    EXPECT_EQ(post_webhook(update(6, 621, "kept")).status, 200);
    customer_writes(7, 622);  // processed up to here
    std::string stored;
    for (const char* suffix : {"", "-wal"})
        stored += sb::test::read_file(daemon_.db_path().string() + suffix);
    ASSERT_FALSE(stored.empty());
    EXPECT_EQ(stored.find(kSecret), std::string::npos) << "the Telegram secret header was stored";
    EXPECT_NE(stored.find("not a number"), std::string::npos) << "the dead letter's body should be there";
}

// --- platform rate limits ------------------------------------------------------------------------------

TEST_F(ReliabilityTest, RepliesToOneTelegramChatAreSpacedByItsIntervalAndAllSucceed) {
    std::mutex mutex;
    std::vector<std::chrono::steady_clock::time_point> arrivals;
    std::atomic<int> next_id{10};
    telegram_.set_handler([&](const HttpRequest& r) {
        if (is_send(r)) {
            std::lock_guard lock(mutex);
            arrivals.push_back(std::chrono::steady_clock::now());
        }
        return sent_message(next_id++, 1100);
    });
    start();  // the telegram defaults: 30/s per bot, one message a second per chat
    const std::string conversation = customer_writes(1, 1100);
    constexpr int kReplies = 4;
    std::vector<std::thread> agents;
    std::atomic<int> created{0};
    for (int i = 0; i < kReplies; ++i)
        agents.emplace_back([&, i] {
            auto r = reply(conversation, "burst " + std::to_string(i));
            if (r.status == 201)
                ++created;
            else
                ADD_FAILURE() << r.status << " " << r.body;
        });
    for (auto& a : agents) a.join();
    EXPECT_EQ(created.load(), kReplies);
    std::lock_guard lock(mutex);
    ASSERT_EQ(arrivals.size(), static_cast<std::size_t>(kReplies));
    std::sort(arrivals.begin(), arrivals.end());
    for (std::size_t i = 1; i < arrivals.size(); ++i)
        EXPECT_GE(arrivals[i] - arrivals[i - 1], 900ms) << "replies " << i - 1 << " and " << i;
    // Another chat is not held up by the first one's queue.
}

TEST_F(ReliabilityTest, AReplyThatCannotGetASlotWithinTheDeadlineIs429AndNothingIsSent) {
    telegram_.set_handler([](const HttpRequest&) { return sent_message(5, 1200); });
    channel_extra_ = "    rate_limit: { recipient_interval_ms: 20000 }\n";
    start_with("threads: 2", "outbound: { deadline_ms: 4000 }\n");
    const std::string conversation = customer_writes(1, 1200);
    auto first = reply(conversation, "one");
    ASSERT_EQ(first.status, 201) << first.body;
    auto second = reply(conversation, "two", "key-two");
    EXPECT_EQ(second.status, 429) << second.body;
    EXPECT_EQ(Json(second.body).str("/error/code"), "rate_limited") << second.body;
    auto retry_after = second.header("Retry-After");
    ASSERT_TRUE(retry_after);
    EXPECT_GE(std::stoi(*retry_after), 15);
    EXPECT_EQ(sends(), 1u) << "the second reply never reached the platform";
    EXPECT_EQ(wait_for_messages(conversation, 2), 2u) << "nothing stored for the refused one";
    // Nothing was sent: the key is free again (another 429, not 409 in progress).
    EXPECT_EQ(reply(conversation, "two", "key-two").status, 429);
    auto metrics = HttpClient(daemon_.port()).get("/metrics");
    EXPECT_NE(metrics.body.find(R"(result="paced_out")"), std::string::npos);
}

// --- failed sends are kept, and retried on the same row ------------------------------------------------

TEST_F(ReliabilityTest, ARefusedSendIsStoredFailedAndRetryResendsTheSameRow) {
    std::atomic<bool> refuse{true};
    telegram_.set_handler([&](const HttpRequest& r) {
        if (is_send(r) && refuse) {
            HttpResponse bad;
            bad.status = 403;
            bad.body =
                R"({"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"})";
            return bad;
        }
        return sent_message(77, 1300);
    });
    start();
    const std::string conversation = customer_writes(1, 1300);
    auto r = reply(conversation, "are you there?", "k-1");
    ASSERT_EQ(r.status / 100, 4) << r.body;
    Json error(r.body);
    EXPECT_EQ(error.str("/error/stored_message/status"), "failed") << r.body;
    EXPECT_EQ(error.str("/error/stored_message/error_code"), error.str("/error/platform_code")) << r.body;
    EXPECT_NE(error.str("/error/stored_message/error_message").find("blocked"), std::string::npos) << r.body;
    const std::string id = error.str("/error/stored_message/id");
    ASSERT_FALSE(id.empty());
    Json history(admin().get("/api/v1/conversations/" + conversation + "/messages").body);
    EXPECT_EQ(history.str("/items/0/id"), id);
    EXPECT_EQ(history.str("/items/0/status"), "failed");

    // Still refused: the same row, failed again.
    const std::string retry = "/api/v1/conversations/" + conversation + "/messages/" + id + "/retry";
    auto again = admin().post_json(retry, "");
    EXPECT_EQ(again.status / 100, 4) << again.body;
    EXPECT_EQ(Json(again.body).str("/error/stored_message/id"), id) << again.body;

    refuse = false;
    auto sent = admin().post_json(retry, "");
    ASSERT_EQ(sent.status, 200) << sent.body;
    EXPECT_EQ(Json(sent.body).str("/id"), id);
    EXPECT_EQ(Json(sent.body).str("/status"), "sent");
    EXPECT_EQ(Json(sent.body).str("/platform_id"), "1300:77");
    EXPECT_EQ(sends(), 3u);

    // Sent now: not again, by retry or by the key.
    auto twice = admin().post_json(retry, "");
    EXPECT_EQ(twice.status, 409) << twice.body;
    EXPECT_EQ(Json(twice.body).str("/error/code"), "not_retryable");
    auto replay = reply(conversation, "are you there?", "k-1");
    EXPECT_EQ(replay.status, 200) << replay.body;
    EXPECT_EQ(Json(replay.body).str("/id"), id);
    EXPECT_EQ(sends(), 3u);
    EXPECT_EQ(wait_for_messages(conversation, 2), 2u)
        << "one customer message, one reply: never a second row";
    // A customer's message is not the agent's to resend.
    auto inbound =
        Json(admin().get("/api/v1/conversations/" + conversation + "/messages").body).str("/items/1/id");
    EXPECT_EQ(admin()
                  .post_json("/api/v1/conversations/" + conversation + "/messages/" + inbound + "/retry", "")
                  .status,
              404);
}

TEST_F(ReliabilityTest, AnUnknownSendIsResentOnlyWhenTheAgentAsks) {
    std::atomic<int> calls{0};
    telegram_.set_handler([&](const HttpRequest& r) {
        if (is_send(r) && calls++ == 0) {
            HttpResponse lost;
            lost.fault = HttpResponse::Fault::close;
            return lost;
        }
        return sent_message(88, 1400);
    });
    start();
    const std::string conversation = customer_writes(1, 1400);
    auto r = reply(conversation, "did it arrive?");
    ASSERT_EQ(r.status, 504) << r.body;
    const std::string id = Json(r.body).str("/error/stored_message/id");
    EXPECT_EQ(sends(), 1u);
    auto sent = admin().post_json("/api/v1/conversations/" + conversation + "/messages/" + id + "/retry", "");
    ASSERT_EQ(sent.status, 200) << sent.body;
    EXPECT_EQ(Json(sent.body).str("/status"), "sent");
    EXPECT_EQ(Json(sent.body).str("/id"), id);
    EXPECT_EQ(sends(), 2u);
}

// --- tokens with an expiry -------------------------------------------------------------------------------

TEST_F(ReliabilityTest, AnExpiredTokenIs401AndItsSocketIsClosed) {
    start();
    HttpResult refused;
    EXPECT_EQ(
        agent_token(R"({"expires_at":")" + rfc3339(std::chrono::system_clock::now() - 1h) + "\"}", &refused),
        "");
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(agent_token(R"({"expires_at":"tomorrow"})", &refused), "");
    EXPECT_EQ(refused.status, 400) << refused.body;

    const auto expiry = std::chrono::system_clock::now() + 3s;
    HttpResult created;
    const std::string token =
        agent_token(R"({"label":"kiosk","expires_at":")" + rfc3339(expiry) + "\"}", &created);
    ASSERT_FALSE(token.empty()) << created.body;
    EXPECT_EQ(Json(created.body).str("/expires_at").substr(0, 19), rfc3339(expiry).substr(0, 19))
        << created.body;
    HttpClient agent(daemon_.port(), {{"Authorization", "Bearer " + token}});
    EXPECT_EQ(agent.get("/api/v1/conversations").status, 200);
    WebSocketClient ws;
    ASSERT_EQ(ws.connect(daemon_.port(), "/api/v1/ws?access_token=" + token).status, 101);
    ASSERT_TRUE(ws.read_frame(5s));  // hello

    EXPECT_TRUE(sb::test::wait_until([&] { return agent.get("/api/v1/conversations").status == 401; }))
        << "the token still works after its expiry";
    EXPECT_TRUE(sb::test::wait_until([&] {
        ws.read_frame(200ms);
        return ws.closed();
    })) << "the socket of an expired token stays open";
    EXPECT_EQ(WebSocketClient().connect(daemon_.port(), "/api/v1/ws?access_token=" + token).status, 401);
    EXPECT_EQ(admin().get("/api/v1/conversations").status, 200);
}

// --- memory held by unauthenticated webhook bodies ---------------------------------------------------

std::int64_t rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
    return -1;
}

TEST_F(ReliabilityTest, WebhookBodiesInMemoryAreCappedAcrossTheProcess) {
    start_with("threads: 2, webhook_body_limit: 8MiB, webhook_memory_limit: 64MiB");
    constexpr std::size_t kBody = 7u << 20;
    constexpr int kSenders = 40;
    const std::string head =
        "POST /webhooks/tg HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "X-Telegram-Bot-Api-Secret-Token: wrong\r\nContent-Length: " +
        std::to_string(kBody) + "\r\n\r\n";
    const std::string most(kBody - 1, 'x');  // all but the last byte: the body stays in memory, unread
    std::vector<std::unique_ptr<IdleConnection>> senders;
    std::vector<std::thread> threads;
    for (int i = 0; i < kSenders; ++i) {
        senders.push_back(std::make_unique<IdleConnection>(daemon_.port()));
        ASSERT_TRUE(senders.back()->connected());
    }
    for (auto& c : senders)
        threads.emplace_back([&, conn = c.get()] {
            conn->send(head);
            if (!conn->send(most)) return;  // refused and closed meanwhile
        });
    // Those over the budget are answered 503 before their body is read (and closed, so their
    // sends end).
    for (auto& t : threads) t.join();
    const std::string counter = R"(switchboard_requests_refused_total{reason="webhook_memory"} )";
    auto refused = [&] {
        auto body = HttpClient(daemon_.port()).get("/metrics").body;
        auto at = body.find(counter);
        return at == std::string::npos ? 0 : std::stoi(body.substr(at + counter.size()));
    };
    EXPECT_GE(refused(), kSenders - 9) << "at most 64 MiB / 7 MiB = 9 bodies are held at once";
    const auto rss = rss_kib(daemon_.process().pid());
    EXPECT_GT(rss, 0);
    EXPECT_LT(rss, 200 * 1024) << "RSS KiB with " << kSenders << " bodies of 7 MiB in flight";
    senders.clear();  // the held ones go; their reservations with them

    EXPECT_TRUE(
        sb::test::wait_until([&] { return post_webhook(update(1, 1500, "after the flood")).status == 200; }));
}

}  // namespace
