// End-to-end tests of the generic API channel (plugins/api): the real switchboardd with the
// in-tree api.so, the user's system played by the test (signed webhooks in) and by a fake
// callback server on loopback (signed replies out), agents on WebSocket and REST.

#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/http_test_client.hpp"
#include "support/process.hpp"
#include "support/signing.hpp"

namespace sb::test {
namespace {

using namespace std::chrono_literals;

constexpr char kAdminToken[] = "test-admin-token-0123456789";
constexpr char kSecret[] = "integration-shared-secret-0123456789";
constexpr char kSignatureHeader[] = "X-Switchboard-Signature";
constexpr auto kWait = 10s;

rapidjson::Document parse_json(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    return doc;
}

std::string str_at(const rapidjson::Value& root, const char* pointer) {
    const rapidjson::Value* v = rapidjson::Pointer(pointer).Get(root);
    if (v == nullptr) return std::string("<missing ") + pointer + ">";
    if (!v->IsString()) return std::string("<not a string at ") + pointer + ">";
    return {v->GetString(), v->GetStringLength()};
}

std::string signature(const std::string& body, const std::string& key = kSecret) {
    return sha256_signature(key, body);
}

std::string message_event(const std::string& id, const std::string& text, std::int64_t ts = 1732540000000) {
    return R"({"v":1,"type":"message","id":")" + id +
           R"(","conversation":{"id":"visitor-9","kind":"private"},"sender":{"id":"visitor-9","name":"Grace Hopper"},)"
           R"("timestamp_ms":)" +
           std::to_string(ts) + R"(,"content":{"type":"text","text":")" + text + "\"}}";
}

std::string typing_event(const std::string& state) {
    return R"({"v":1,"type":"typing","conversation":{"id":"visitor-9"},"sender":{"id":"visitor-9"},)"
           R"("timestamp_ms":1732540000500,"state":")" +
           state + "\"}";
}

class ApiChannelTest : public ::testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) daemon_.dump_logs(std::cerr);
    }

    void start() {
        std::string yaml;
        yaml += "server: { listen: \"127.0.0.1:0\", threads: 2 }\n";
        yaml += "storage: { backend: sqlite, sqlite: { path: \"" + daemon_.db_path().string() + "\" } }\n";
        yaml += "plugins: { dir: \"" SB_PLUGIN_DIR "\" }\n";
        yaml += std::string("auth: { bootstrap_admin_token: \"") + kAdminToken + "\" }\n";
        yaml += "channels:\n";
        yaml += "  - id: web\n";
        yaml += "    plugin: api\n";
        yaml += std::string("    settings: { shared_secret: \"") + kSecret + "\", callback_url: \"" +
                callback_.base_url() + "/switchboard/callback\" }\n";
        daemon_.start(yaml);
    }

    HttpResult post_event(const std::string& body, std::optional<std::string> sig = std::nullopt) {
        HeaderList headers;
        if (sig) {
            if (!sig->empty()) headers.emplace_back(kSignatureHeader, *sig);
        } else {
            headers.emplace_back(kSignatureHeader, signature(body));
        }
        return HttpClient(daemon_.port()).post_json("/webhooks/web", body, headers);
    }

    HeaderList bearer() const { return {{"Authorization", std::string("Bearer ") + kAdminToken}}; }

    void connect_agent(WebSocketClient& ws) {
        auto res = ws.connect(daemon_.port(), "/api/v1/ws", bearer());
        ASSERT_EQ(res.status, 101) << res.error << res.body;
        auto hello = ws.read_frame(kWait);
        ASSERT_TRUE(hello) << ws.close_reason();
        ASSERT_EQ(str_at(parse_json(*hello), "/type"), "hello") << *hello;
    }

    // The next frame of `type`, skipping others; nullopt when none arrives in time.
    std::optional<rapidjson::Document> next_of(WebSocketClient& ws, const std::string& type) {
        const auto deadline = std::chrono::steady_clock::now() + kWait;
        while (std::chrono::steady_clock::now() < deadline) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            auto frame = ws.read_frame(left);
            if (!frame) return std::nullopt;
            auto doc = parse_json(*frame);
            if (!doc.HasParseError() && str_at(doc, "/type") == type) return doc;
        }
        return std::nullopt;
    }

    // Delivers Grace's first message and returns the conversation id the agent sees.
    std::string receive_hello(WebSocketClient& ws) {
        auto res = post_event(message_event("web-1", "Hello from the widget"));
        EXPECT_EQ(res.status, 200) << res.error << res.body;
        auto frame = next_of(ws, "new_message");
        EXPECT_TRUE(frame) << "no new_message frame; " << ws.close_reason();
        return frame ? str_at(*frame, "/data/conversation/id") : std::string();
    }

    HttpResult reply(const std::string& conversation, const std::string& body) {
        return HttpClient(daemon_.port(), bearer())
            .post_json("/api/v1/conversations/" + conversation + "/messages", body);
    }

    FakeHttpServer callback_;  // the user's system, receiving replies
    Daemon daemon_{SB_DAEMON_PATH};
};

TEST_F(ApiChannelTest, SignedMessageReachesAgentWebSocket) {
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    auto res = post_event(message_event("web-1", "Hello from the widget"));
    ASSERT_EQ(res.status, 200) << res.error << res.body;
    auto frame = next_of(ws, "new_message");
    ASSERT_TRUE(frame) << ws.close_reason();
    EXPECT_EQ(str_at(*frame, "/data/message/content/text"), "Hello from the widget");
    EXPECT_EQ(str_at(*frame, "/data/message/platform_id"), "web-1");
    EXPECT_EQ(str_at(*frame, "/data/message/channel_id"), "web");
    EXPECT_EQ(str_at(*frame, "/data/message/sender/name"), "Grace Hopper");
    EXPECT_EQ(str_at(*frame, "/data/conversation/platform_id"), "visitor-9");
}

TEST_F(ApiChannelTest, MissingOrWrongSignatureIsUnauthorizedAndNothingArrives) {
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string body = message_event("web-bad", "forged");
    EXPECT_EQ(post_event(body, std::string()).status, 401);
    EXPECT_EQ(post_event(body, signature(body, "someone-elses-secret-000")).status, 401);
    EXPECT_EQ(post_event(body, signature(body + " ")).status, 401);
    EXPECT_TRUE(ws.no_frame_within(1s)) << "a forged webhook reached the agent";
}

TEST_F(ApiChannelTest, CustomerTypingReachesAgentAsTypingIndicator) {
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    ASSERT_EQ(post_event(typing_event("on")).status, 200);
    auto on = next_of(ws, "typing_indicator");
    ASSERT_TRUE(on) << "no typing_indicator frame; " << ws.close_reason();
    EXPECT_EQ(str_at(*on, "/data/channel_id"), "web");
    EXPECT_EQ(str_at(*on, "/data/platform_conversation_id"), "visitor-9");
    EXPECT_EQ(str_at(*on, "/data/state"), "on");

    // A batch: typing off, then the message it was about. The host publishes a batch's stored
    // events before its ephemeral ones, so the agent may see them in either order.
    ASSERT_EQ(post_event(R"({"events":[)" + typing_event("off") + "," +
                         message_event("web-2", "There it is") + "]}")
                  .status,
              200);
    std::optional<std::string> state, text;
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while ((!state || !text) && std::chrono::steady_clock::now() < deadline) {
        auto frame = ws.read_frame(std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now()));
        if (!frame) break;
        auto doc = parse_json(*frame);
        if (str_at(doc, "/type") == "typing_indicator") state = str_at(doc, "/data/state");
        if (str_at(doc, "/type") == "new_message") text = str_at(doc, "/data/message/content/text");
    }
    EXPECT_EQ(state, std::optional<std::string>("off")) << ws.close_reason();
    EXPECT_EQ(text, std::optional<std::string>("There it is")) << ws.close_reason();
}

TEST_F(ApiChannelTest, AgentReplyArrivesSignedAtCallbackAndTakesItsId) {
    callback_.set_handler([](const HttpRequest&) {
        HttpResponse res;
        res.status = 201;
        res.body = R"({"id":"cb-1001"})";
        return res;
    });
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string conversation = receive_hello(ws);
    ASSERT_FALSE(conversation.empty());

    auto res = reply(conversation, R"({"content":{"type":"text","text":"Hi Grace"},"reply_to":"web-1"})");
    ASSERT_EQ(res.status, 201) << res.error << res.body;
    auto stored = parse_json(res.body);
    EXPECT_EQ(str_at(stored, "/platform_id"), "cb-1001");
    EXPECT_EQ(str_at(stored, "/direction"), "out");

    auto requests = callback_.requests();
    ASSERT_EQ(requests.size(), 1u);
    const HttpRequest& r = requests[0];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path(), "/switchboard/callback");
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.header(kSignatureHeader), signature(r.body)) << "the callback's signature does not verify";
    auto body = parse_json(r.body);
    ASSERT_TRUE(body.IsObject()) << r.body;
    EXPECT_EQ(body["v"].GetInt(), 1);
    EXPECT_EQ(str_at(body, "/conversation/id"), "visitor-9");
    EXPECT_EQ(str_at(body, "/recipient/id"), "visitor-9");
    EXPECT_EQ(str_at(body, "/reply_to"), "web-1");
    EXPECT_EQ(str_at(body, "/content/type"), "text");
    EXPECT_EQ(str_at(body, "/content/text"), "Hi Grace");
}

TEST_F(ApiChannelTest, CallbackRateLimitReachesAgentAs429) {
    callback_.set_handler([](const HttpRequest&) {
        HttpResponse res;
        res.status = 429;
        res.body = R"({"error":{"code":"slow_down","message":"too many replies"}})";
        res.headers = {{"Retry-After", "3"}};
        return res;
    });
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string conversation = receive_hello(ws);
    auto res = reply(conversation, R"({"content":{"type":"text","text":"Hi"}})");
    EXPECT_EQ(res.status, 429) << res.body;
    EXPECT_EQ(str_at(parse_json(res.body), "/error/code"), "rate_limited") << res.body;
    EXPECT_NE(res.body.find("slow_down"), std::string::npos) << res.body;
    EXPECT_EQ(res.body.find(kSecret), std::string::npos);
}

TEST_F(ApiChannelTest, CallbackRefusingOurCredentialsIsAnAuthError) {
    callback_.set_handler([](const HttpRequest&) {
        HttpResponse res;
        res.status = 401;
        res.body = R"({"error":{"code":"bad_signature","message":"signature does not match"}})";
        return res;
    });
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string conversation = receive_hello(ws);
    auto res = reply(conversation, R"({"content":{"type":"text","text":"Hi"}})");
    EXPECT_GE(res.status, 400) << res.body;
    EXPECT_NE(res.status, 429);
    EXPECT_NE(res.body.find("bad_signature"), std::string::npos) << res.body;
    EXPECT_EQ(callback_.request_count(), 1u) << "an auth failure must not be retried";
}

}  // namespace
}  // namespace sb::test
