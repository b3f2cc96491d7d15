// End-to-end tests of the Telegram flow: the real switchboardd on a generated config and a temp
// SQLite file, a fake Telegram Bot API on loopback, and agents on WebSocket and REST. Each test
// has its own daemon, directory and fake server.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/http_test_client.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

namespace sb::test {
namespace {

using namespace std::chrono_literals;

constexpr char kAdminToken[] = "test-admin-token-0123456789";
constexpr char kBotToken[] = "123456:TEST";
constexpr char kSecret[] = "s3cret";
constexpr char kSecretHeader[] = "X-Telegram-Bot-Api-Secret-Token";
// Waits are generous (a loaded 2-core CI box) and always end early when the condition holds.
constexpr auto kWait = 10s;
// How long "nothing happens" is watched for: long enough for a wrong frame to show up.
constexpr auto kQuiet = 1s;

// ---- JSON --------------------------------------------------------------------------------

rapidjson::Document parse_json(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    return doc;
}

// The string at a JSON pointer ("/data/message/id"), or a marker that makes a comparison fail
// with a readable message.
std::string str_at(const rapidjson::Value& root, const char* pointer) {
    const rapidjson::Value* v = rapidjson::Pointer(pointer).Get(root);
    if (v == nullptr) return std::string("<missing ") + pointer + ">";
    if (!v->IsString()) return std::string("<not a string at ") + pointer + ">";
    return {v->GetString(), v->GetStringLength()};
}

std::optional<std::int64_t> int_at(const rapidjson::Value& root, const char* pointer) {
    const rapidjson::Value* v = rapidjson::Pointer(pointer).Get(root);
    if (v == nullptr || !v->IsInt64()) return std::nullopt;
    return v->GetInt64();
}

const rapidjson::Value* at(const rapidjson::Value& root, const char* pointer) {
    return rapidjson::Pointer(pointer).Get(root);
}

// Length of a list response's "items"; -1 when there is no such array.
int item_count(const rapidjson::Value& list) {
    const auto* items = at(list, "/items");
    return items != nullptr && items->IsArray() ? static_cast<int>(items->Size()) : -1;
}

// A chat id may be sent as a number or a numeric string; Telegram accepts both.
bool is_chat_id(const rapidjson::Value* v, std::int64_t expected) {
    if (v == nullptr) return false;
    if (v->IsInt64()) return v->GetInt64() == expected;
    return v->IsString() && std::string(v->GetString()) == std::to_string(expected);
}

// The shape every error has: {"error":{"code":"...","message":"..."}}.
::testing::AssertionResult is_json_error(const HttpResult& res) {
    auto doc = parse_json(res.body);
    if (doc.HasParseError() || !doc.IsObject())
        return ::testing::AssertionFailure() << "error body is not JSON: " << res.body;
    const auto* code = at(doc, "/error/code");
    const auto* message = at(doc, "/error/message");
    if (code == nullptr || !code->IsString() || code->GetStringLength() == 0)
        return ::testing::AssertionFailure() << "no error.code string in " << res.body;
    if (message == nullptr || !message->IsString())
        return ::testing::AssertionFailure() << "no error.message string in " << res.body;
    return ::testing::AssertionSuccess();
}

std::string url_encode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

// ---- Telegram payloads -------------------------------------------------------------------

struct TgText {
    std::int64_t update_id = 10001;
    std::int64_t message_id = 42;
    std::int64_t chat_id = 777;
    std::string text = "Hello";
};

// One Telegram Update carrying a private text message from Ada, as the Bot API sends it.
std::string telegram_update(const TgText& m) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("update_id");
    w.Int64(m.update_id);
    w.Key("message");
    w.StartObject();
    w.Key("message_id");
    w.Int64(m.message_id);
    w.Key("from");
    w.StartObject();
    w.Key("id");
    w.Int64(m.chat_id);
    w.Key("is_bot");
    w.Bool(false);
    w.Key("first_name");
    w.String("Ada");
    w.Key("last_name");
    w.String("Lovelace");
    w.Key("username");
    w.String("ada");
    w.EndObject();
    w.Key("chat");
    w.StartObject();
    w.Key("id");
    w.Int64(m.chat_id);
    w.Key("first_name");
    w.String("Ada");
    w.Key("type");
    w.String("private");
    w.EndObject();
    w.Key("date");
    w.Int64(1732540000);
    w.Key("text");
    w.String(m.text);
    w.EndObject();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string platform_id(std::int64_t chat_id, std::int64_t message_id) {
    return std::to_string(chat_id) + ":" + std::to_string(message_id);
}

HttpResponse json_response(int status, std::string body) {
    HttpResponse res;
    res.status = status;
    res.body = std::move(body);
    return res;
}

// The Bot API's answer to a sendMessage that worked.
HttpResponse sent_message(std::int64_t message_id, std::int64_t chat_id, const std::string& text) {
    return json_response(200, R"({"ok":true,"result":{"message_id":)" + std::to_string(message_id) +
                                  R"(,"chat":{"id":)" + std::to_string(chat_id) +
                                  R"(,"type":"private"},"date":1732540001,"text":")" + text + "\"}}");
}

bool is_method(const HttpRequest& r, std::string_view method) {
    return r.path() == std::string("/bot") + kBotToken + "/" + std::string(method);
}

std::vector<HttpRequest> calls_to(const FakeHttpServer& server, std::string_view method) {
    std::vector<HttpRequest> out;
    for (auto& r : server.requests())
        if (is_method(r, method)) out.push_back(r);
    return out;
}

// ---- Fixture -----------------------------------------------------------------------------

struct ConfigOptions {
    std::string receive{};          // "" = webhook (the default), or "long_poll"
    std::string server_extra{};     // appended inside `server: { ... }`, e.g. ", webhook_body_limit: 1024"
    std::string extra_channels{};   // more `  - id: ...` entries
    std::string top_level_extra{};  // more top-level sections, e.g. "inbound: { ... }\n"
};

class TelegramFlowTest : public ::testing::Test {
protected:
    void TearDown() override {
        // CI shows why a test failed only if the daemon's own account of it is in the output.
        if (HasFailure()) daemon_.dump_logs(std::cerr);
    }

    std::string config(const ConfigOptions& options = {}) const {
        std::string yaml;
        yaml += "server: { listen: \"127.0.0.1:0\", threads: 2" + options.server_extra + " }\n";
        yaml += "storage: { backend: sqlite, sqlite: { path: \"" + daemon_.db_path().string() + "\" } }\n";
        yaml += "plugins: { dir: \"" SB_PLUGIN_DIR "\" }\n";
        yaml += std::string("auth: { bootstrap_admin_token: \"") + kAdminToken + "\" }\n";
        yaml += "channels:\n";
        yaml += "  - id: tg\n";
        yaml += "    plugin: telegram\n";
        if (!options.receive.empty()) yaml += "    receive: " + options.receive + "\n";
        yaml += std::string("    settings: { bot_token: \"") + kBotToken + "\", secret_token: \"" + kSecret +
                "\", api_base: \"" + telegram_.base_url() + "\" }\n";
        yaml += options.extra_channels;
        yaml += options.top_level_extra;
        return yaml;
    }

    void start(const ConfigOptions& options = {}) { daemon_.start(config(options)); }

    HeaderList bearer(std::string_view token = kAdminToken) const {
        return {{"Authorization", "Bearer " + std::string(token)}};
    }

    HttpResult post_update(const std::string& body, std::optional<std::string> secret = kSecret,
                           const std::string& channel = "tg") {
        HeaderList headers;
        if (secret) headers.emplace_back(kSecretHeader, *secret);
        return HttpClient(daemon_.port()).post_json("/webhooks/" + channel, body, headers);
    }

    HttpResult api_get(const std::string& target) { return HttpClient(daemon_.port(), bearer()).get(target); }

    HttpResult api_post(const std::string& target, const std::string& body) {
        return HttpClient(daemon_.port(), bearer()).post_json(target, body);
    }

    // An agent's WebSocket, authenticated and past the server's hello.
    void connect_agent(WebSocketClient& ws, const std::string& target = "/api/v1/ws",
                       std::optional<HeaderList> headers = std::nullopt) {
        auto res = ws.connect(daemon_.port(), target, headers.value_or(bearer()));
        ASSERT_EQ(res.status, 101) << res.error << res.body;
        auto hello = ws.read_frame(kWait);
        ASSERT_TRUE(hello) << "no hello frame; " << ws.close_reason();
        auto doc = parse_json(*hello);
        ASSERT_EQ(str_at(doc, "/type"), "hello") << *hello;
        session_id_ = str_at(doc, "/data/session_id");
    }

    // The next frame that is not a hello, parsed; nullopt when none came within `timeout`.
    std::optional<rapidjson::Document> next_event(WebSocketClient& ws,
                                                  std::chrono::milliseconds timeout = kWait) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            auto frame = ws.read_frame(left);
            if (!frame) return std::nullopt;
            auto doc = parse_json(*frame);
            if (doc.HasParseError()) {
                ADD_FAILURE() << "WebSocket frame is not JSON: " << *frame;
                continue;
            }
            if (str_at(doc, "/type") == "hello") continue;
            return doc;
        }
    }

    // Polls GET /api/v1/conversations until `done(items)` holds; returns the last body seen.
    std::string wait_for_conversations(const std::function<bool(const rapidjson::Value& items)>& done,
                                       std::chrono::milliseconds timeout = kWait) {
        std::string last;
        wait_until(
            [&] {
                auto res = api_get("/api/v1/conversations");
                last = res.body;
                if (res.status != 200) return false;
                auto doc = parse_json(res.body);
                const auto* items = at(doc, "/items");
                return items != nullptr && items->IsArray() && done(*items);
            },
            timeout, 50ms);
        return last;
    }

    // Follows next_cursor through every page of `target` (which has no query string yet),
    // passing each item to `each`. `cursor_param` is how the list takes the cursor back.
    ::testing::AssertionResult for_each_item(const std::string& target, const std::string& cursor_param,
                                             int limit,
                                             const std::function<void(const rapidjson::Value&)>& each) {
        std::set<std::string> seen_cursors;
        std::string cursor;
        for (int page = 0; page < 10'000; ++page) {
            std::string url = target + "?limit=" + std::to_string(limit);
            if (!cursor.empty()) url += "&" + cursor_param + "=" + url_encode(cursor);
            auto res = api_get(url);
            if (res.status != 200)
                return ::testing::AssertionFailure()
                       << "GET " << url << " -> " << res.status << " " << res.error << res.body;
            auto doc = parse_json(res.body);
            const auto* items = at(doc, "/items");
            if (doc.HasParseError() || items == nullptr || !items->IsArray())
                return ::testing::AssertionFailure() << "GET " << url << ": no items array in " << res.body;
            if (items->Size() > static_cast<rapidjson::SizeType>(limit))
                return ::testing::AssertionFailure() << "GET " << url << " returned more than limit";
            for (const auto& item : items->GetArray()) each(item);
            const auto* next = at(doc, "/next_cursor");
            if (next == nullptr)
                return ::testing::AssertionFailure() << "GET " << url << ": no next_cursor in " << res.body;
            if (next->IsNull()) return ::testing::AssertionSuccess();
            if (!next->IsString())
                return ::testing::AssertionFailure()
                       << "GET " << url << ": next_cursor is neither null nor a string";
            cursor = next->GetString();
            if (!seen_cursors.insert(cursor).second)
                return ::testing::AssertionFailure() << "GET " << url << ": cursor " << cursor << " repeats";
        }
        return ::testing::AssertionFailure() << "more than 10000 pages of " << target;
    }

    // The fake Bot API, declared first so the daemon (which talks to it) goes first.
    FakeHttpServer telegram_;
    Daemon daemon_{SB_DAEMON_PATH};
    std::string session_id_;  // hello's, of the session connected last
};

// ---- Inbound -----------------------------------------------------------------------------

TEST_F(TelegramFlowTest, WebhookMessageReachesAgentWebSocket) {
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));

    auto res = post_update(telegram_update({}));
    ASSERT_EQ(res.status, 200) << res.error << res.body;

    auto event = next_event(ws);
    ASSERT_TRUE(event) << "no new_message frame; " << ws.close_reason();
    const auto& e = *event;
    EXPECT_EQ(str_at(e, "/type"), "new_message");
    auto seq = int_at(e, "/seq");
    ASSERT_TRUE(seq) << "seq is not an integer";
    EXPECT_GT(*seq, 0);
    EXPECT_NE(str_at(e, "/at").find('T'), std::string::npos) << "at is not RFC 3339: " << str_at(e, "/at");
    EXPECT_EQ(str_at(e, "/data/message/content/type"), "text");
    EXPECT_EQ(str_at(e, "/data/message/content/text"), "Hello");
    EXPECT_EQ(str_at(e, "/data/message/direction"), "in");
    EXPECT_EQ(str_at(e, "/data/message/platform_id"), "777:42");
    EXPECT_EQ(str_at(e, "/data/message/channel_id"), "tg");
    EXPECT_EQ(str_at(e, "/data/message/sender/id"), "777");
    EXPECT_EQ(str_at(e, "/data/message/sender/name"), "Ada Lovelace");
    EXPECT_EQ(str_at(e, "/data/conversation/platform_id"), "777");
    EXPECT_EQ(str_at(e, "/data/conversation/channel_id"), "tg");
    EXPECT_EQ(str_at(e, "/data/conversation/contact/username"), "ada");
    EXPECT_EQ(str_at(e, "/data/message/conversation_id"), str_at(e, "/data/conversation/id"));

    // The same conversation and message are what the REST API reports.
    const std::string conversation_id = str_at(e, "/data/conversation/id");
    auto list = api_get("/api/v1/conversations");
    ASSERT_EQ(list.status, 200) << list.body;
    auto conversations = parse_json(list.body);
    ASSERT_TRUE(conversations.IsObject()) << list.body;
    ASSERT_EQ(item_count(conversations), 1) << list.body;
    EXPECT_EQ(str_at(conversations, "/items/0/id"), conversation_id);
    EXPECT_EQ(str_at(conversations, "/items/0/contact/platform_id"), "777");
    EXPECT_EQ(str_at(conversations, "/items/0/contact/name"), "Ada Lovelace");

    auto history = api_get("/api/v1/conversations/" + conversation_id + "/messages");
    ASSERT_EQ(history.status, 200) << history.body;
    auto messages = parse_json(history.body);
    ASSERT_TRUE(messages.IsObject()) << history.body;
    ASSERT_EQ(item_count(messages), 1) << history.body;
    EXPECT_EQ(str_at(messages, "/items/0/content/text"), "Hello");
    EXPECT_EQ(str_at(messages, "/items/0/platform_id"), "777:42");

    // A second message gets a later sequence number.
    res = post_update(telegram_update({.update_id = 10002, .message_id = 43, .text = "Are you there?"}));
    ASSERT_EQ(res.status, 200) << res.body;
    auto second = next_event(ws);
    ASSERT_TRUE(second) << ws.close_reason();
    EXPECT_EQ(str_at(*second, "/data/message/content/text"), "Are you there?");
    auto seq2 = int_at(*second, "/seq");
    ASSERT_TRUE(seq2);
    EXPECT_GT(*seq2, *seq);
}

// A tapped inline button reaches the agent, and the daemon answers the tap
// (answerCallbackQuery) once it is stored, so the button stops spinning on the customer's
// screen; a failing answer is only logged.
TEST_F(TelegramFlowTest, TappedButtonReachesTheAgentAndTheTapIsAnswered) {
    telegram_.set_handler([](const HttpRequest& r) {
        HttpResponse res;
        if (is_method(r, "answerCallbackQuery")) res.body = R"({"ok":true,"result":true})";
        return res;
    });
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string tap =
        R"({"update_id":20001,"callback_query":{"id":"cbq-4242","from":{"id":777,"is_bot":false,"first_name":"Ada"},)"
        R"("message":{"message_id":60,"date":1732540000,"chat":{"id":777,"type":"private"},"text":"Was this helpful?",)"
        R"("reply_markup":{"inline_keyboard":[[{"text":"Yes","callback_data":"csat:yes"}]]}},)"
        R"("chat_instance":"1","data":"csat:yes"}})";
    ASSERT_EQ(post_update(tap).status, 200);

    auto event = next_event(ws);
    ASSERT_TRUE(event) << ws.close_reason();
    EXPECT_EQ(str_at(*event, "/data/message/content/type"), "interactive");
    EXPECT_EQ(str_at(*event, "/data/message/content/reply_id"), "csat:yes");
    auto answered = telegram_.wait_for_request(
        [](const HttpRequest& r) { return is_method(r, "answerCallbackQuery"); }, kWait);
    ASSERT_TRUE(answered) << "the tap was never answered";
    EXPECT_EQ(answered->method, "POST");
    auto body = parse_json(answered->body);
    EXPECT_EQ(str_at(body, "/callback_query_id"), "cbq-4242") << answered->body;
    // One answer per tap.
    EXPECT_EQ(calls_to(telegram_, "answerCallbackQuery").size(), 1u);
    // An ordinary message is not answered.
    ASSERT_EQ(post_update(telegram_update({.update_id = 20002, .message_id = 61})).status, 200);
    ASSERT_TRUE(next_event(ws));
    // Not a wait for something to happen: a wrong answer would go out right after the event
    // was published (follow-ups are sent once it is), so this is the window it would show in.
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(calls_to(telegram_, "answerCallbackQuery").size(), 1u);
}

TEST_F(TelegramFlowTest, WrongSecretIsRejectedAndNothingStored) {
    start();
    auto res = post_update(telegram_update({}), "not-the-secret");
    EXPECT_EQ(res.status, 403) << res.body;
    EXPECT_TRUE(is_json_error(res));

    // A good update from another chat afterwards is the barrier: once it is visible, an
    // accepted bad one (queued earlier) would be too.
    ASSERT_EQ(post_update(telegram_update({.update_id = 2, .message_id = 5, .chat_id = 888})).status, 200);
    std::string body =
        wait_for_conversations([](const rapidjson::Value& items) { return items.Size() >= 1; });
    // Processing may run rows side by side; give a wrongly stored update a moment to show.
    // (A window for something that must NOT happen, not a wait for the good one: that was
    // waited for above.)
    std::this_thread::sleep_for(300ms);
    body = api_get("/api/v1/conversations").body;
    auto doc = parse_json(body);
    ASSERT_TRUE(doc.IsObject()) << body;
    ASSERT_EQ(item_count(doc), 1) << body;
    EXPECT_EQ(str_at(doc, "/items/0/platform_id"), "888");
}

TEST_F(TelegramFlowTest, MissingSecretIsUnauthorized) {
    start();
    auto res = post_update(telegram_update({}), std::nullopt);
    EXPECT_EQ(res.status, 401) << res.body;
    EXPECT_TRUE(is_json_error(res));
}

TEST_F(TelegramFlowTest, UnknownChannelIs404) {
    start();
    auto res = post_update(telegram_update({}), kSecret, "no-such-channel");
    EXPECT_EQ(res.status, 404) << res.body;
    EXPECT_TRUE(is_json_error(res));
}

TEST_F(TelegramFlowTest, OversizedWebhookIs413) {
    start({.server_extra = ", webhook_body_limit: 1024"});
    auto res = post_update(telegram_update({.text = std::string(4000, 'x')}));
    EXPECT_EQ(res.status, 413) << res.error << res.body;
    EXPECT_TRUE(is_json_error(res));
    // The limit is about size: a normal update still goes through.
    EXPECT_EQ(post_update(telegram_update({})).status, 200);
}

TEST_F(TelegramFlowTest, DuplicateUpdateIsStoredOnce) {
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));

    // Telegram redelivers an update when it missed our 200.
    const std::string update = telegram_update({});
    ASSERT_EQ(post_update(update).status, 200);
    ASSERT_EQ(post_update(update).status, 200);
    // A different update afterwards: its frame must be the next one after the first.
    ASSERT_EQ(post_update(telegram_update({.update_id = 10002, .message_id = 43, .text = "second"})).status,
              200);

    auto first = next_event(ws);
    ASSERT_TRUE(first) << ws.close_reason();
    EXPECT_EQ(str_at(*first, "/data/message/platform_id"), "777:42");
    auto next = next_event(ws);
    ASSERT_TRUE(next) << ws.close_reason();
    EXPECT_EQ(str_at(*next, "/data/message/platform_id"), "777:43") << "a duplicate reached the agent";
    EXPECT_TRUE(ws.no_frame_within(kQuiet)) << "an extra frame arrived";

    auto history = api_get("/api/v1/conversations/" + str_at(*first, "/data/conversation/id") + "/messages");
    ASSERT_EQ(history.status, 200) << history.body;
    auto doc = parse_json(history.body);
    ASSERT_TRUE(doc.IsObject()) << history.body;
    ASSERT_EQ(item_count(doc), 2) << history.body;
    EXPECT_EQ(str_at(doc, "/items/0/platform_id"), "777:43");  // newest first
    EXPECT_EQ(str_at(doc, "/items/1/platform_id"), "777:42");
}

// An update with nothing for an agent (an inline query) is counted, never a customer message;
// a reaction lands on the stored message as a frame. Nothing is dead-lettered.
// The customer blocks the bot: a notice in the history (kind system) that raises no unread
// count and leaves the list's preview on the customer's last message.
TEST_F(TelegramFlowTest, ASystemNoticeIsHistoryButNotUnreadNorThePreview) {
    start();
    ASSERT_EQ(post_update(telegram_update({.text = "where is my parcel?"})).status, 200);
    std::string conversation;
    wait_for_conversations([&](const rapidjson::Value& items) {
        if (items.Size() != 1) return false;
        conversation = str_at(items[0], "/id");
        return true;
    });
    ASSERT_EQ(
        post_update(R"({"update_id":10060,"my_chat_member":{"chat":{"id":777,"type":"private",)"
                    R"("first_name":"Ada"},"from":{"id":777,"is_bot":false,"first_name":"Ada"},)"
                    R"("date":1732541200,"old_chat_member":{"status":"member","user":{"id":1,"is_bot":true,)"
                    R"("first_name":"Bot"}},"new_chat_member":{"status":"kicked","until_date":0,)"
                    R"("user":{"id":1,"is_bot":true,"first_name":"Bot"}}}})")
            .status,
        200);
    std::string history;
    wait_until(
        [&] {
            history = api_get("/api/v1/conversations/" + conversation + "/messages").body;
            return item_count(parse_json(history)) == 2;
        },
        kWait, 50ms);
    auto messages = parse_json(history);
    ASSERT_EQ(item_count(messages), 2) << history;
    EXPECT_EQ(str_at(messages, "/items/0/kind"), "system") << history;  // newest first
    EXPECT_EQ(str_at(messages, "/items/0/content/code"), "blocked");
    EXPECT_EQ(str_at(messages, "/items/1/kind"), "message");

    auto item = parse_json(api_get("/api/v1/conversations/" + conversation).body);
    EXPECT_EQ(int_at(item, "/unread_count"), std::optional<std::int64_t>(1))
        << "the notice counted as unread";
    EXPECT_EQ(str_at(item, "/last_message/preview"), "where is my parcel?");
}

TEST_F(TelegramFlowTest, IgnoredUpdatesAreCountedAndReactionsReachTheMessage) {
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    ASSERT_EQ(post_update(telegram_update({})).status, 200);
    auto stored = next_event(ws);
    ASSERT_TRUE(stored) << ws.close_reason();
    ASSERT_EQ(str_at(*stored, "/type"), "new_message");

    ASSERT_EQ(post_update(R"({"update_id":10050,"inline_query":{"id":"42","from":{"id":777,"is_bot":false,)"
                          R"("first_name":"Ada"},"query":"order status","offset":""}})")
                  .status,
              200);
    ASSERT_EQ(
        post_update(
            R"({"update_id":10051,"message_reaction":{"chat":{"id":777,"type":"private",)"
            R"("first_name":"Ada"},"message_id":42,"user":{"id":777,"is_bot":false,"first_name":"Ada"},)"
            R"("date":1732540600,"old_reaction":[],"new_reaction":[{"type":"emoji","emoji":"👍"}]}})")
            .status,
        200);
    auto reaction = next_event(ws);
    ASSERT_TRUE(reaction) << ws.close_reason();
    EXPECT_EQ(str_at(*reaction, "/type"), "message_reaction");  // the inline query made no frame
    EXPECT_EQ(str_at(*reaction, "/data/emoji"), "👍");
    EXPECT_EQ(str_at(*reaction, "/data/message/platform_id"), "777:42");
    // The history shows it on the message it belongs to.
    auto reacted = api_get("/api/v1/conversations/" + str_at(*stored, "/data/conversation/id") + "/messages");
    ASSERT_EQ(reacted.status, 200) << reacted.body;
    auto reacted_doc = parse_json(reacted.body);
    EXPECT_EQ(str_at(reacted_doc, "/items/0/reactions/0/emoji"), "👍") << reacted.body;
    EXPECT_EQ(str_at(reacted_doc, "/items/0/reactions/0/sender/id"), "777") << reacted.body;

    // A reaction to a message never stored here changes nothing, and is counted, not lost.
    ASSERT_EQ(
        post_update(
            R"({"update_id":10052,"message_reaction":{"chat":{"id":777,"type":"private",)"
            R"("first_name":"Ada"},"message_id":4242,"user":{"id":777,"is_bot":false,"first_name":"Ada"},)"
            R"("date":1732540601,"old_reaction":[],"new_reaction":[{"type":"emoji","emoji":"🔥"}]}})")
            .status,
        200);

    const std::string inline_query =
        R"(switchboard_ignored_updates_total{channel="tg",kind="inline_query"} 1)";
    const std::string unknown_reaction =
        R"(switchboard_ignored_updates_total{channel="tg",kind="reaction_to_unknown_message"} 1)";
    std::string metrics;
    wait_until(
        [&] {
            metrics = HttpClient(daemon_.port()).get("/metrics").body;
            return metrics.find(inline_query) != std::string::npos &&
                   metrics.find(unknown_reaction) != std::string::npos;
        },
        kWait, 50ms);
    EXPECT_NE(metrics.find(inline_query), std::string::npos) << metrics;
    EXPECT_NE(metrics.find(unknown_reaction), std::string::npos) << metrics;
    auto conversations = api_get("/api/v1/conversations");
    EXPECT_EQ(item_count(parse_json(conversations.body)), 1) << conversations.body;
    auto history = api_get("/api/v1/conversations/" + str_at(*stored, "/data/conversation/id") + "/messages");
    EXPECT_EQ(item_count(parse_json(history.body)), 1)
        << "an ignored update became a message: " << history.body;
    auto dead = api_get("/api/v1/dead-letters");
    EXPECT_EQ(item_count(parse_json(dead.body)), 0) << dead.body;
}

TEST_F(TelegramFlowTest, MalformedUpdateIsDeadLetteredAndDoesNotBlockLaterOnes) {
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));

    // Verified by its secret, so acknowledged (Telegram would otherwise retry it for a day);
    // the parse failure is the daemon's to keep, not the platform's to repeat.
    auto bad = post_update("{not json");
    EXPECT_EQ(bad.status, 200) << bad.body;
    ASSERT_EQ(post_update(telegram_update({})).status, 200);

    auto event = next_event(ws);
    ASSERT_TRUE(event) << "the update after a malformed one never arrived; " << ws.close_reason();
    EXPECT_EQ(str_at(*event, "/type"), "new_message");
    EXPECT_EQ(str_at(*event, "/data/message/content/text"), "Hello");
    EXPECT_TRUE(ws.no_frame_within(kQuiet));
    EXPECT_TRUE(daemon_.running());
}

TEST_F(TelegramFlowTest, GarbageHttpRequestDoesNotTakeDaemonDown) {
    start();
    std::string answer =
        HttpClient(daemon_.port(), {}, 3s).raw("POST /webhooks/tg HTTP/1.1\r\nContent-Length: zz\r\n\r\n");
    // Whatever it answers (a 400 or a closed connection), it must be no success.
    EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
    answer = HttpClient(daemon_.port(), {}, 3s)
                 .raw(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
    EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos) << answer;

    EXPECT_TRUE(daemon_.running());
    auto health = HttpClient(daemon_.port()).get("/healthz");
    EXPECT_EQ(health.status, 200) << health.error;
    auto ready = HttpClient(daemon_.port()).get("/readyz");
    EXPECT_EQ(ready.status, 200) << ready.error << ready.body;
    EXPECT_FALSE(parse_json(ready.body).HasParseError()) << ready.body;
}

// ---- Outbound ----------------------------------------------------------------------------

class TelegramReplyTest : public TelegramFlowTest {
protected:
    // Starts the daemon, connects the agent and delivers Ada's "Hello" (777:42); leaves its
    // conversation id in conversation_id_.
    void receive_hello() {
        start();
        ASSERT_NO_FATAL_FAILURE(connect_agent(ws_));
        ASSERT_EQ(post_update(telegram_update({})).status, 200);
        auto event = next_event(ws_);
        ASSERT_TRUE(event) << ws_.close_reason();
        conversation_id_ = str_at(*event, "/data/conversation/id");
    }

    // As the agent's console sends it: from the session connected last, which therefore gets
    // no frame for it (its HTTP answer is the confirmation).
    HttpResult reply(const std::string& body) {
        auto headers = bearer();
        headers.emplace_back("X-Switchboard-Session", session_id_);
        return HttpClient(daemon_.port(), headers)
            .post_json("/api/v1/conversations/" + conversation_id_ + "/messages", body);
    }

    WebSocketClient ws_;
    std::string conversation_id_;
};

TEST_F(TelegramReplyTest, AgentReplyReachesTelegram) {
    telegram_.set_handler([](const HttpRequest& r) {
        if (is_method(r, "sendMessage")) return sent_message(43, 777, "Hi Ada");
        return HttpResponse{};
    });
    ASSERT_NO_FATAL_FAILURE(receive_hello());

    auto res = reply(R"({"content":{"type":"text","text":"Hi Ada"},"reply_to":"777:42"})");
    ASSERT_EQ(res.status, 201) << res.error << res.body;
    auto stored = parse_json(res.body);
    ASSERT_TRUE(stored.IsObject()) << res.body;
    EXPECT_EQ(str_at(stored, "/direction"), "out");
    EXPECT_EQ(str_at(stored, "/platform_id"), "777:43");
    EXPECT_EQ(str_at(stored, "/conversation_id"), conversation_id_);
    EXPECT_EQ(str_at(stored, "/content/text"), "Hi Ada");

    auto sends = calls_to(telegram_, "sendMessage");
    ASSERT_EQ(sends.size(), 1u);
    EXPECT_EQ(sends[0].method, "POST");
    EXPECT_EQ(sends[0].path(), "/bot123456:TEST/sendMessage");
    auto body = parse_json(sends[0].body);
    ASSERT_TRUE(body.IsObject()) << "sendMessage body is not a JSON object: " << sends[0].body;
    EXPECT_TRUE(is_chat_id(at(body, "/chat_id"), 777)) << sends[0].body;
    EXPECT_EQ(str_at(body, "/text"), "Hi Ada");
    EXPECT_EQ(int_at(body, "/reply_parameters/message_id"), std::optional<std::int64_t>(42)) << sends[0].body;

    // Outbound messages are answered over HTTP only, never echoed on the WebSocket.
    EXPECT_TRUE(ws_.no_frame_within(kQuiet)) << "unexpected frame for an outbound message";

    auto history = api_get("/api/v1/conversations/" + conversation_id_ + "/messages");
    auto doc = parse_json(history.body);
    ASSERT_TRUE(doc.IsObject()) << history.body;
    ASSERT_EQ(item_count(doc), 2) << history.body;
    EXPECT_EQ(str_at(doc, "/items/0/platform_id"), "777:43");
    EXPECT_EQ(str_at(doc, "/items/0/direction"), "out");
}

TEST_F(TelegramReplyTest, ContentThatIsNotATypedObjectIsInvalidContentAndNothingIsSent) {
    ASSERT_NO_FATAL_FAILURE(receive_hello());
    const std::pair<const char*, const char*> cases[] = {
        {R"({"content":{"text":"no type"}})", "invalid_content"},
        {R"({"content":"just text"})", "invalid_content"},
        {R"({"content":{"type":7}})", "invalid_content"},
        {R"({"text":"no content"})", "bad_request"},
        {R"({"content":{"type":"text","text":"hi"},"reply_to":42})", "bad_request"},
    };
    for (const auto& [body, code] : cases) {
        auto res = reply(body);
        EXPECT_EQ(res.status, 400) << body;
        EXPECT_EQ(str_at(parse_json(res.body), "/error/code"), code) << body << " -> " << res.body;
    }
    EXPECT_TRUE(calls_to(telegram_, "sendMessage").empty()) << "nothing reached the platform";
}

TEST_F(TelegramReplyTest, RateLimitedReplyReturns429WithRetryAfter) {
    telegram_.set_handler([](const HttpRequest& r) {
        if (is_method(r, "sendMessage"))
            return json_response(
                429, R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5",)"
                     R"("parameters":{"retry_after":5}})");
        return HttpResponse{};
    });
    ASSERT_NO_FATAL_FAILURE(receive_hello());

    auto res = reply(R"({"content":{"type":"text","text":"Hi Ada"}})");
    EXPECT_EQ(res.status, 429) << res.error << res.body;
    EXPECT_TRUE(is_json_error(res));
    EXPECT_EQ(str_at(parse_json(res.body), "/error/code"), "rate_limited");
    auto retry_after = res.header("Retry-After");
    ASSERT_TRUE(retry_after) << "no Retry-After header";
    int seconds = std::atoi(retry_after->c_str());
    EXPECT_GE(seconds, 1) << *retry_after;
    EXPECT_LE(seconds, 5) << *retry_after;
    EXPECT_FALSE(calls_to(telegram_, "sendMessage").empty());
}

TEST_F(TelegramReplyTest, BlockedBotReplyReturnsPlatformError) {
    telegram_.set_handler([](const HttpRequest& r) {
        if (is_method(r, "sendMessage"))
            return json_response(
                403,
                R"({"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"})");
        return HttpResponse{};
    });
    ASSERT_NO_FATAL_FAILURE(receive_hello());

    auto res = reply(R"({"content":{"type":"text","text":"Hi Ada"}})");
    EXPECT_GE(res.status, 400) << res.error << res.body;
    EXPECT_NE(res.status, 429);
    EXPECT_TRUE(is_json_error(res));
    EXPECT_NE(res.body.find("403"), std::string::npos) << "platform code missing: " << res.body;
    // A permanent refusal is not retried.
    EXPECT_EQ(calls_to(telegram_, "sendMessage").size(), 1u);
}

// The customer blocked the bot (my_chat_member "kicked"): the conversation says so and replies
// are refused at once, without a request Telegram would answer with 403; once they start the
// bot again, replies reach Telegram.
TEST_F(TelegramReplyTest, RepliesToACustomerWhoBlockedTheBotFailFastUntilTheyUnblockIt) {
    telegram_.set_handler([](const HttpRequest& r) {
        if (is_method(r, "sendMessage")) return sent_message(43, 777, "Hi Ada");
        return json_response(200, R"({"ok":true,"result":true})");
    });
    ASSERT_NO_FATAL_FAILURE(receive_hello());
    auto membership = [](const std::string& update_id, const std::string& from, const std::string& to,
                         const std::string& date) {
        const std::string bot = R"("user":{"id":1,"is_bot":true,"first_name":"Bot"})";
        std::string update = R"({"update_id":)" + update_id;
        update += R"(,"my_chat_member":{"chat":{"id":777,"type":"private","first_name":"Ada"},)";
        update += R"("from":{"id":777,"is_bot":false,"first_name":"Ada"},"date":)" + date;
        update += R"(,"old_chat_member":{"status":")" + from + R"(",)" + bot;
        update += R"(},"new_chat_member":{"status":")" + to + R"(","until_date":0,)" + bot + "}}}";
        return update;
    };
    ASSERT_EQ(post_update(membership("10070", "member", "kicked", "1732541200")).status, 200);
    auto notice = next_event(ws_);
    ASSERT_TRUE(notice) << ws_.close_reason();
    EXPECT_EQ(str_at(*notice, "/data/message/kind"), "system");
    EXPECT_EQ(str_at(*notice, "/data/conversation/blocked_at"), "2024-11-25T13:26:40.000Z");

    auto refused = reply(R"({"content":{"type":"text","text":"Hi Ada"}})");
    EXPECT_EQ(refused.status, 409) << refused.body;
    EXPECT_EQ(str_at(parse_json(refused.body), "/error/code"), "recipient_blocked") << refused.body;
    auto typing =
        HttpClient(daemon_.port(), bearer())
            .post_json("/api/v1/conversations/" + conversation_id_ + "/typing", R"({"state":"on"})");
    EXPECT_EQ(typing.status, 204) << typing.body;
    EXPECT_TRUE(calls_to(telegram_, "sendMessage").empty()) << "the refused reply reached Telegram";
    EXPECT_TRUE(calls_to(telegram_, "sendChatAction").empty()) << "typing reached Telegram";
    auto conversation = parse_json(api_get("/api/v1/conversations/" + conversation_id_).body);
    EXPECT_EQ(str_at(conversation, "/blocked_at"), "2024-11-25T13:26:40.000Z");
    auto history = parse_json(api_get("/api/v1/conversations/" + conversation_id_ + "/messages").body);
    EXPECT_EQ(item_count(history), 2) << "a refused reply is not stored";

    ASSERT_EQ(post_update(membership("10071", "kicked", "member", "1732541500")).status, 200);
    auto unblocked = next_event(ws_);
    ASSERT_TRUE(unblocked) << ws_.close_reason();
    const rapidjson::Value* blocked_at = at(*unblocked, "/data/conversation/blocked_at");
    ASSERT_NE(blocked_at, nullptr);
    EXPECT_TRUE(blocked_at->IsNull());
    auto sent = reply(R"({"content":{"type":"text","text":"Hi Ada"}})");
    EXPECT_EQ(sent.status, 201) << sent.body;
    EXPECT_EQ(calls_to(telegram_, "sendMessage").size(), 1u);
}

// ---- Agent authentication ----------------------------------------------------------------

TEST_F(TelegramFlowTest, ApiRequiresBearerToken) {
    start();
    HttpClient anonymous(daemon_.port());
    auto none = anonymous.get("/api/v1/conversations");
    EXPECT_EQ(none.status, 401) << none.body;
    EXPECT_TRUE(is_json_error(none));

    auto wrong =
        HttpClient(daemon_.port(), bearer("test-admin-token-0123456788")).get("/api/v1/conversations");
    EXPECT_EQ(wrong.status, 401) << wrong.body;
    EXPECT_TRUE(is_json_error(wrong));

    auto reply =
        anonymous.post_json("/api/v1/conversations/1/messages", R"({"content":{"type":"text","text":"x"}})");
    EXPECT_EQ(reply.status, 401) << reply.body;
    EXPECT_TRUE(calls_to(telegram_, "sendMessage").empty());

    auto good = api_get("/api/v1/conversations");
    EXPECT_EQ(good.status, 200) << good.body;
}

TEST_F(TelegramFlowTest, WebSocketAcceptsTokenInQueryAndRefusesBadOne) {
    start();
    WebSocketClient bad_query;
    auto refused = bad_query.connect(daemon_.port(), "/api/v1/ws?access_token=wrong-token", {});
    EXPECT_EQ(refused.status, 401) << refused.error << refused.body;
    EXPECT_FALSE(bad_query.connected());

    WebSocketClient bad_header;
    refused = bad_header.connect(daemon_.port(), "/api/v1/ws", bearer("wrong-token"));
    EXPECT_EQ(refused.status, 401) << refused.error << refused.body;

    WebSocketClient anonymous;
    refused = anonymous.connect(daemon_.port(), "/api/v1/ws", {});
    EXPECT_EQ(refused.status, 401) << refused.error << refused.body;

    // A browser's way in: the token in the query string, no header.
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(
        connect_agent(ws, std::string("/api/v1/ws?access_token=") + kAdminToken, HeaderList{}));
    ASSERT_EQ(post_update(telegram_update({})).status, 200);
    auto event = next_event(ws);
    ASSERT_TRUE(event) << ws.close_reason();
    EXPECT_EQ(str_at(*event, "/data/message/platform_id"), "777:42");
}

// ---- Durability --------------------------------------------------------------------------

TEST_F(TelegramFlowTest, SigkillAfterAcknowledgeLosesNothing) {
    // Default lease (30 s): rows the killed daemon had claimed must come back at restart,
    // not when their lease ends, or the waits below time out.
    start();
    constexpr int kUpdates = 200;
    constexpr int kThreads = 8;
    constexpr int kChats = 10;
    auto update_for = [](int i) {
        return TgText{.update_id = 50'000 + i,
                      .message_id = 1 + i,
                      .chat_id = 1'000 + i % kChats,
                      .text = "update " + std::to_string(i)};
    };

    // Concurrent posts, so the daemon's group commit batches several of them.
    std::mutex mutex;
    std::set<std::string> acknowledged;  // platform ids of updates answered 200
    std::vector<std::string> failures;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            HttpClient client(daemon_.port());
            for (int i = t; i < kUpdates; i += kThreads) {
                TgText m = update_for(i);
                auto res = client.post_json("/webhooks/tg", telegram_update(m), {{kSecretHeader, kSecret}});
                std::lock_guard lock(mutex);
                if (res.status == 200)
                    acknowledged.insert(platform_id(m.chat_id, m.message_id));
                else
                    failures.push_back(std::to_string(i) + ": " + std::to_string(res.status) + " " +
                                       res.error);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    // Right after the last 200: most updates are still queued, not yet processed.
    EXPECT_EQ(daemon_.kill(SIGKILL), 128 + SIGKILL);
    EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
    ASSERT_EQ(acknowledged.size(), static_cast<std::size_t>(kUpdates));

    daemon_.restart();

    // Processing resumes after the restart; wait until every acknowledged message is back,
    // reading every page the way an agent UI would.
    std::map<std::string, int> copies;  // platform id -> how many times it is stored
    std::map<std::string, std::string> texts;
    ::testing::AssertionResult listed = ::testing::AssertionSuccess();
    auto read_back = [&] {
        copies.clear();
        texts.clear();
        std::vector<std::string> conversation_ids;
        listed = for_each_item("/api/v1/conversations", "cursor", 3, [&](const rapidjson::Value& c) {
            conversation_ids.push_back(str_at(c, "/id"));
        });
        for (const auto& id : conversation_ids) {
            if (!listed) break;
            listed = for_each_item("/api/v1/conversations/" + id + "/messages", "before", 7,
                                   [&](const rapidjson::Value& m) {
                                       std::string pid = str_at(m, "/platform_id");
                                       ++copies[pid];
                                       texts[pid] = str_at(m, "/content/text");
                                   });
        }
        return listed && std::all_of(acknowledged.begin(), acknowledged.end(),
                                     [&](const std::string& pid) { return copies.count(pid) > 0; });
    };
    wait_until(read_back, 30s, 200ms);
    ASSERT_TRUE(listed);
    for (int i = 0; i < kUpdates; ++i) {
        TgText m = update_for(i);
        std::string pid = platform_id(m.chat_id, m.message_id);
        EXPECT_EQ(copies[pid], 1) << "message " << pid << " stored " << copies[pid] << " times";
        if (copies[pid] > 0) {
            EXPECT_EQ(texts[pid], m.text);
        }
    }
    EXPECT_EQ(copies.size(), static_cast<std::size_t>(kUpdates)) << "messages nobody sent appeared";
}

// ---- Channels ----------------------------------------------------------------------------

TEST_F(TelegramFlowTest, FailedChannelDoesNotStopOthers) {
    start({.extra_channels = "  - id: broken\n"
                             "    plugin: nonexistent\n"
                             "    settings: { api_base: \"http://127.0.0.1:9\" }\n"});

    auto res = api_get("/api/v1/channels");
    ASSERT_EQ(res.status, 200) << res.body;
    auto doc = parse_json(res.body);
    const auto* items = at(doc, "/items");
    ASSERT_TRUE(items != nullptr && items->IsArray()) << res.body;
    std::map<std::string, const rapidjson::Value*> by_id;
    for (const auto& item : items->GetArray()) by_id[str_at(item, "/id")] = &item;
    ASSERT_EQ(by_id.count("tg"), 1u) << res.body;
    ASSERT_EQ(by_id.count("broken"), 1u) << res.body;
    EXPECT_EQ(str_at(*by_id["tg"], "/state"), "ready");
    EXPECT_EQ(str_at(*by_id["tg"], "/plugin"), "telegram");
    EXPECT_EQ(str_at(*by_id["broken"], "/state"), "failed");
    std::string reason = str_at(*by_id["broken"], "/reason");
    EXPECT_FALSE(reason.empty() || reason.starts_with("<")) << res.body;

    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    ASSERT_EQ(post_update(telegram_update({})).status, 200);
    auto event = next_event(ws);
    ASSERT_TRUE(event) << ws.close_reason();
    EXPECT_EQ(str_at(*event, "/data/message/content/text"), "Hello");
}

TEST_F(TelegramFlowTest, LongPollingDeliversUpdates) {
    // The fake Bot API holds one update back until the agent is connected, then serves it once;
    // otherwise it behaves like a long poll that times out with nothing (shortened to 200 ms).
    // Shared with the handler, which keeps answering the daemon's polls after this body ends.
    struct PollState {
        std::atomic<bool> release{false};
        std::atomic<bool> served{false};
        std::string update = telegram_update({.update_id = 5000, .message_id = 42});
    };
    auto state = std::make_shared<PollState>();
    telegram_.set_handler([state](const HttpRequest& r) {
        if (!is_method(r, "getUpdates")) return HttpResponse{};
        if (state->release && !state->served.exchange(true))
            return json_response(200, R"({"ok":true,"result":[)" + state->update + "]}");
        std::this_thread::sleep_for(200ms);  // the fake's long poll, not a test wait
        return json_response(200, R"({"ok":true,"result":[]})");
    });
    start({.receive = "long_poll"});
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    ASSERT_TRUE(
        telegram_.wait_for_request([](const HttpRequest& r) { return is_method(r, "getUpdates"); }, kWait))
        << "the daemon never called getUpdates";
    state->release = true;

    auto event = next_event(ws);
    ASSERT_TRUE(event) << ws.close_reason();
    EXPECT_EQ(str_at(*event, "/type"), "new_message");
    EXPECT_EQ(str_at(*event, "/data/message/platform_id"), "777:42");
    EXPECT_EQ(str_at(*event, "/data/message/content/text"), "Hello");

    // The next poll confirms the update (offset = update_id + 1), so Telegram drops it.
    auto confirmed = telegram_.wait_for_request(
        [](const HttpRequest& r) {
            if (!is_method(r, "getUpdates")) return false;
            auto body = parse_json(r.body);
            return !body.HasParseError() && int_at(body, "/offset") == std::optional<std::int64_t>(5001);
        },
        kWait);
    ASSERT_TRUE(confirmed) << "no getUpdates with offset 5001";
    EXPECT_EQ(confirmed->method, "POST");
    EXPECT_TRUE(ws.no_frame_within(kQuiet)) << "the update was delivered twice";
}

// ---- Configuration -----------------------------------------------------------------------

TEST_F(TelegramFlowTest, CheckConfigRejectsBadConfig) {
    auto good = daemon_.check_config(config(), "good.yaml");
    ASSERT_TRUE(good.exit_code) << "--check-config hung";
    EXPECT_EQ(*good.exit_code, 0) << good.output;

    std::string bad = config();
    bad.replace(bad.find("threads: 2"), 10, "threads: 2, frobnicate_level: 3");
    auto result = daemon_.check_config(bad, "bad.yaml");
    ASSERT_TRUE(result.exit_code) << "--check-config hung";
    EXPECT_NE(*result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("frobnicate_level"), std::string::npos)
        << "the error does not name the unknown key: " << result.output;
}

}  // namespace
}  // namespace sb::test
