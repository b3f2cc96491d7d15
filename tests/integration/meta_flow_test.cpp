// End-to-end tests of the three Meta channels (WhatsApp Cloud API, Messenger, Instagram): the
// real switchboardd on a generated config and a temp SQLite file, one channel per product whose
// api_base points at a fake Graph API on loopback, webhooks signed as Meta signs them
// (X-Hub-Signature-256 over the raw body), and an agent on WebSocket and REST. The webhook bodies
// and Graph answers are the plugins' fixtures (tests/fixtures/{whatsapp,messenger,instagram}/).
// Each test has its own daemon, directory and fake server.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/http_test_client.hpp"
#include "support/process.hpp"
#include "support/signing.hpp"
#include "support/wait.hpp"

namespace sb::test {
namespace {

using namespace std::chrono_literals;

constexpr char kAdminToken[] = "test-admin-token-0123456789";
constexpr char kAppSecret[] = "meta-secret";
constexpr char kVerifyToken[] = "verify-me";
constexpr char kSignatureHeader[] = "X-Hub-Signature-256";
// Waits are generous (a loaded 2-core CI box) and always end early when the condition holds.
constexpr auto kWait = 10s;
// How long "nothing happens" is watched for: long enough for a wrong frame to show up.
constexpr auto kQuiet = 1s;

// The account ids the fixtures carry (metadata.phone_number_id, entry.id).
constexpr char kWaPhoneNumberId[] = "106540352242922";
constexpr char kWaSecondPhoneNumberId[] = "109876543210987";  // two_phone_numbers.json's other number
constexpr char kUnconfiguredPhoneNumberId[] = "105555555555555";
constexpr char kPageId[] = "106502831234567";
constexpr char kIgAccountId[] = "17841405822304914";

// ---- JSON --------------------------------------------------------------------------------

rapidjson::Document parse_json(std::string_view text) {
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    return doc;
}

std::string serialize(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    value.Accept(w);
    return {buffer.GetString(), buffer.GetSize()};
}

const rapidjson::Value* at(const rapidjson::Value& root, const char* pointer) {
    return rapidjson::Pointer(pointer).Get(root);
}

// The string at a JSON pointer, or a marker that makes a comparison fail with a readable message.
std::string str_at(const rapidjson::Value& root, const char* pointer) {
    const rapidjson::Value* v = at(root, pointer);
    if (v == nullptr) return std::string("<missing ") + pointer + ">";
    if (!v->IsString()) return std::string("<not a string at ") + pointer + ">";
    return {v->GetString(), v->GetStringLength()};
}

std::string str_at(const std::string& json, const char* pointer) { return str_at(parse_json(json), pointer); }

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

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
    for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
        text.replace(pos, from.size(), to);
    return text;
}

// ---- Meta mechanics ----------------------------------------------------------------------

// "sha256=" + hex HMAC-SHA256(secret, body): what Meta puts in X-Hub-Signature-256.
std::string hub_signature(std::string_view secret, std::string_view body) {
    return sha256_signature(secret, body);
}

std::string fixture(const std::string& relative) {
    return read_file(std::filesystem::path(SB_FIXTURE_DIR) / relative);
}

HttpResponse json_response(int status, std::string body) {
    HttpResponse res;
    res.status = status;
    res.body = std::move(body);
    return res;
}

// ---- The three products ------------------------------------------------------------------

enum class Kind { whatsapp, messenger, instagram };

struct Product {
    Kind kind;
    const char* name;            // plugin and fixture directory
    const char* channel;         // channel id in the generated config
    const char* token;           // the access token its sends must carry
    const char* send_path;       // where its sends go, under api_base ".../v21.0"
    const char* customer;        // the customer of the text fixture: conversation and send recipient
    std::size_t batch_messages;  // messages in multi_entry_batch.json

    std::string fixture(const std::string& file) const {
        return sb::test::fixture(std::string(name) + "/" + file);
    }
};

const Product kWhatsApp{.kind = Kind::whatsapp,
                        .name = "whatsapp",
                        .channel = "wa-main",
                        .token = "wa-token",
                        .send_path = "/v21.0/106540352242922/messages",
                        .customer = "16315551234",
                        .batch_messages = 3};
const Product kMessenger{.kind = Kind::messenger,
                         .name = "messenger",
                         .channel = "fb-page",
                         .token = "fb-token",
                         .send_path = "/v21.0/106502831234567/messages",
                         .customer = "6789012345678901",
                         .batch_messages = 2};
const Product kInstagram{.kind = Kind::instagram,
                         .name = "instagram",
                         .channel = "ig-business",
                         .token = "ig-token",
                         .send_path = "/v21.0/me/messages",
                         .customer = "1298745632109876",
                         .batch_messages = 2};

void PrintTo(const Product& product, std::ostream* os) { *os << product.name; }

// The platform ids of the messages a webhook body carries, in order: WhatsApp's
// entry[].changes[].value.messages[].id, Messenger's and Instagram's entry[].messaging[].message.mid.
std::vector<std::string> message_ids(const Product& product, const std::string& body) {
    std::vector<std::string> out;
    auto doc = parse_json(body);
    const auto* entries = at(doc, "/entry");
    if (entries == nullptr || !entries->IsArray()) return out;
    for (const auto& entry : entries->GetArray()) {
        if (product.kind == Kind::whatsapp) {
            const auto* changes = at(entry, "/changes");
            if (changes == nullptr || !changes->IsArray()) continue;
            for (const auto& change : changes->GetArray()) {
                const auto* messages = at(change, "/value/messages");
                if (messages == nullptr || !messages->IsArray()) continue;
                for (const auto& m : messages->GetArray()) out.push_back(str_at(m, "/id"));
            }
        } else {
            const auto* items = at(entry, "/messaging");
            if (items == nullptr || !items->IsArray()) continue;
            for (const auto& item : items->GetArray())
                if (at(item, "/message/mid") != nullptr) out.push_back(str_at(item, "/message/mid"));
        }
    }
    return out;
}

// The platform id a Graph send answer gives: WhatsApp's messages[0].id, the Send API's message_id.
std::string sent_id(const Product& product, const std::string& answer) {
    return str_at(answer, product.kind == Kind::whatsapp ? "/messages/0/id" : "/message_id");
}

// A copy of the product's text fixture (same customer) whose message has another platform id:
// a message the test has not sent before, to show when earlier webhooks have been processed.
std::string sentinel_body(const Product& product, const std::string& new_id) {
    std::string text = product.fixture("text.json");
    auto ids = message_ids(product, text);
    if (ids.size() != 1) {
        ADD_FAILURE() << product.name << "/text.json does not carry exactly one message";
        return text;
    }
    return replace_all(text, ids[0], new_id);
}

// ---- Fixture -----------------------------------------------------------------------------

struct StoredMessage {
    std::string conversation_channel;
    std::string conversation_platform_id;
    std::string platform_id;
    std::string direction;
    std::string status;
    std::string error_code;
};

class MetaFlowTest : public ::testing::Test {
protected:
    void TearDown() override {
        // CI shows why a test failed only if the daemon's own account of it is in the output.
        if (HasFailure()) daemon_.dump_logs(std::cerr);
    }

    std::string api_base() const { return graph_.base_url() + "/v21.0"; }

    std::string config(const std::string& extra_channels = {}) const {
        const std::string common = std::string("app_secret: \"") + kAppSecret + "\", verify_token: \"" +
                                   kVerifyToken + "\", api_base: \"" + api_base() + "\"";
        std::string yaml;
        yaml += "server: { listen: \"127.0.0.1:0\", threads: 2 }\n";
        // This fake Graph API serves no files: fetching them (media_test.cpp) would add frames.
        yaml += "media: { enabled: false }\n";
        yaml += "storage: { backend: sqlite, sqlite: { path: \"" + daemon_.db_path().string() + "\" } }\n";
        yaml += "plugins: { dir: \"" SB_PLUGIN_DIR "\" }\n";
        yaml += std::string("auth: { bootstrap_admin_token: \"") + kAdminToken + "\" }\n";
        yaml += "channels:\n";
        yaml += "  - id: wa-main\n";
        yaml += "    plugin: whatsapp\n";
        yaml += std::string("    settings: { phone_number_id: \"") + kWaPhoneNumberId +
                "\", access_token: \"wa-token\", " + common + " }\n";
        yaml += "  - id: fb-page\n";
        yaml += "    plugin: messenger\n";
        yaml += std::string("    settings: { page_id: \"") + kPageId +
                "\", page_access_token: \"fb-token\", " + common + " }\n";
        yaml += "  - id: ig-business\n";
        yaml += "    plugin: instagram\n";
        yaml += std::string("    settings: { ig_account_id: \"") + kIgAccountId +
                "\", access_token: \"ig-token\", " + common + " }\n";
        yaml += extra_channels;
        return yaml;
    }

    void start(const std::string& extra_channels = {}) { daemon_.start(config(extra_channels)); }

    HeaderList bearer() const { return {{"Authorization", std::string("Bearer ") + kAdminToken}}; }

    // A webhook POST as Meta makes it: signed with the app secret over the exact bytes sent.
    HttpResult post_signed(const std::string& channel, const std::string& body) {
        return post_webhook(channel, body, HeaderList{{kSignatureHeader, hub_signature(kAppSecret, body)}});
    }

    HttpResult post_webhook(const std::string& channel, const std::string& body, const HeaderList& headers) {
        return HttpClient(daemon_.port()).post_json("/webhooks/" + channel, body, headers);
    }

    HttpResult api_get(const std::string& target) { return HttpClient(daemon_.port(), bearer()).get(target); }

    HttpResult api_post(const std::string& target, const std::string& body) {
        return HttpClient(daemon_.port(), bearer()).post_json(target, body);
    }

    // As the agent's console sends it: from the session connected last, which therefore gets
    // no frame for it (its HTTP answer is the confirmation).
    HttpResult reply(const std::string& conversation_id, const std::string& text) {
        auto headers = bearer();
        headers.emplace_back("X-Switchboard-Session", session_id_);
        return HttpClient(daemon_.port(), headers)
            .post_json("/api/v1/conversations/" + conversation_id + "/messages",
                       R"({"content":{"type":"text","text":")" + text + R"("}})");
    }

    // An agent's WebSocket, authenticated and past the server's hello.
    void connect_agent(WebSocketClient& ws) {
        auto res = ws.connect(daemon_.port(), "/api/v1/ws", bearer());
        ASSERT_EQ(res.status, 101) << res.error << res.body;
        auto hello = ws.read_frame(kWait);
        ASSERT_TRUE(hello) << "no hello frame; " << ws.close_reason();
        ASSERT_EQ(str_at(*hello, "/type"), "hello") << *hello;
        session_id_ = str_at(*hello, "/data/session_id");
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

    // Reads frames until the new_message for `platform_id` arrives; returns every frame seen on
    // the way as "type platform_id" (the last one being that new_message), or fails.
    std::vector<std::string> frames_until(WebSocketClient& ws, const std::string& platform_id) {
        std::vector<std::string> seen;
        for (;;) {
            auto event = next_event(ws);
            if (!event) {
                ADD_FAILURE() << "no new_message for " << platform_id << " arrived; " << ws.close_reason();
                return seen;
            }
            std::string type = str_at(*event, "/type");
            std::string id = str_at(*event, "/data/message/platform_id");
            seen.push_back(type + " " + id);
            if (type == "new_message" && id == platform_id) return seen;
        }
    }

    // The platform ids of the new_message frames up to the one for `platform_id` (included).
    std::vector<std::string> new_messages_until(WebSocketClient& ws, const std::string& platform_id) {
        std::vector<std::string> ids;
        for (const auto& frame : frames_until(ws, platform_id)) {
            constexpr std::string_view kPrefix = "new_message ";
            if (frame.starts_with(kPrefix)) ids.push_back(frame.substr(kPrefix.size()));
        }
        return ids;
    }

    // Every stored message of every conversation (at most 200 of each: tests store few).
    std::vector<StoredMessage> all_messages() {
        std::vector<StoredMessage> out;
        auto list = api_get("/api/v1/conversations?limit=200");
        if (list.status != 200) {
            ADD_FAILURE() << "GET conversations -> " << list.status << " " << list.error << list.body;
            return out;
        }
        auto conversations = parse_json(list.body);
        const auto* items = at(conversations, "/items");
        if (items == nullptr || !items->IsArray()) {
            ADD_FAILURE() << "no items in " << list.body;
            return out;
        }
        for (const auto& c : items->GetArray()) {
            auto res = api_get("/api/v1/conversations/" + str_at(c, "/id") + "/messages?limit=200");
            if (res.status != 200) {
                ADD_FAILURE() << "GET messages -> " << res.status << " " << res.error << res.body;
                continue;
            }
            auto doc = parse_json(res.body);
            const auto* messages = at(doc, "/items");
            if (messages == nullptr || !messages->IsArray()) {
                ADD_FAILURE() << "no items in " << res.body;
                continue;
            }
            for (const auto& m : messages->GetArray()) {
                const auto* error_code = at(m, "/error_code");
                out.push_back(
                    {str_at(c, "/channel_id"), str_at(c, "/platform_id"), str_at(m, "/platform_id"),
                     str_at(m, "/direction"), str_at(m, "/status"),
                     error_code != nullptr && error_code->IsString() ? error_code->GetString() : ""});
            }
        }
        return out;
    }

    std::optional<StoredMessage> stored(const std::string& platform_id) {
        for (auto& m : all_messages())
            if (m.platform_id == platform_id) return m;
        return std::nullopt;
    }

    // Delivers the product's text fixture and waits for it on `ws`; returns its conversation id.
    std::string receive_text(const Product& product, WebSocketClient& ws) {
        const std::string body = product.fixture("text.json");
        auto res = post_signed(product.channel, body);
        EXPECT_EQ(res.status, 200) << res.error << res.body;
        auto event = next_event(ws);
        if (!event) {
            ADD_FAILURE() << "no new_message for " << product.name << "/text.json; " << ws.close_reason();
            return {};
        }
        EXPECT_EQ(str_at(*event, "/type"), "new_message");
        EXPECT_EQ(str_at(*event, "/data/conversation/channel_id"), product.channel);
        EXPECT_EQ(str_at(*event, "/data/conversation/platform_id"), product.customer);
        return str_at(*event, "/data/conversation/id");
    }

    std::vector<HttpRequest> sends(const Product& product) const {
        std::vector<HttpRequest> out;
        for (auto& r : graph_.requests())
            if (r.path() == product.send_path) out.push_back(r);
        return out;
    }

    // The channel's state in GET /api/v1/channels and in /readyz (which must agree).
    std::string channel_state(const std::string& channel, std::string* reason = nullptr) {
        auto res = api_get("/api/v1/channels");
        if (res.status != 200) return "<GET channels -> " + std::to_string(res.status) + ">";
        auto doc = parse_json(res.body);
        const auto* items = at(doc, "/items");
        if (items == nullptr || !items->IsArray()) return "<no items in " + res.body + ">";
        for (const auto& item : items->GetArray()) {
            if (str_at(item, "/id") != channel) continue;
            if (reason != nullptr) {
                const auto* r = at(item, "/reason");
                *reason = r != nullptr && r->IsString() ? r->GetString() : "";
            }
            return str_at(item, "/state");
        }
        return "<no channel " + channel + " in " + res.body + ">";
    }

    std::string readyz_state(const std::string& channel) {
        auto res = HttpClient(daemon_.port()).get("/readyz");
        auto doc = parse_json(res.body);
        if (doc.HasParseError() || !doc.IsObject()) return "<readyz: " + res.body + ">";
        const auto* channels = at(doc, "/channels");
        if (channels == nullptr || !channels->IsObject() || !channels->HasMember(channel.c_str()))
            return "<no channel " + channel + " in readyz " + res.body + ">";
        const auto& state = (*channels)[channel.c_str()];
        return state.IsString() ? state.GetString() : "<not a string>";
    }

    // The fake Graph API, declared first so the daemon (which talks to it) goes first.
    FakeHttpServer graph_;
    Daemon daemon_{SB_DAEMON_PATH};
    std::string session_id_;  // hello's, of the session connected last
};

// Tests that hold for each of the three products.
class MetaProductTest : public MetaFlowTest, public ::testing::WithParamInterface<Product> {};

INSTANTIATE_TEST_SUITE_P(Meta, MetaProductTest, ::testing::Values(kWhatsApp, kMessenger, kInstagram),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// ---- Subscription handshake --------------------------------------------------------------

TEST_P(MetaProductTest, HandshakeWithRightVerifyTokenEchoesChallenge) {
    const Product& p = GetParam();
    start();
    auto res = HttpClient(daemon_.port())
                   .get(std::string("/webhooks/") + p.channel +
                        "?hub.mode=subscribe&hub.verify_token=" + kVerifyToken + "&hub.challenge=1158201444");
    EXPECT_EQ(res.status, 200) << res.error << res.body;
    EXPECT_EQ(res.body, "1158201444");
}

TEST_P(MetaProductTest, HandshakeWithWrongVerifyTokenIsForbidden) {
    const Product& p = GetParam();
    start();
    auto res = HttpClient(daemon_.port())
                   .get(std::string("/webhooks/") + p.channel +
                        "?hub.mode=subscribe&hub.verify_token=verify-you&hub.challenge=1158201444");
    EXPECT_EQ(res.status, 403) << res.error << res.body;
    EXPECT_EQ(res.body.find("1158201444"), std::string::npos) << "challenge echoed: " << res.body;

    auto wrong_mode =
        HttpClient(daemon_.port())
            .get(std::string("/webhooks/") + p.channel +
                 "?hub.mode=unsubscribe&hub.verify_token=" + kVerifyToken + "&hub.challenge=1158201444");
    EXPECT_EQ(wrong_mode.status, 403) << wrong_mode.error << wrong_mode.body;
}

// ---- Signature ---------------------------------------------------------------------------

TEST_P(MetaProductTest, RejectsWebhookWithBadOrMissingSignatureAndStoresNothing) {
    const Product& p = GetParam();
    start();
    const std::string body = p.fixture("text.json");
    ASSERT_FALSE(body.empty());
    const auto rejected_id = message_ids(p, body).at(0);

    // Another app's secret.
    auto wrong_secret =
        post_webhook(p.channel, body, {{kSignatureHeader, hub_signature("other-secret", body)}});
    EXPECT_EQ(wrong_secret.status, 401) << wrong_secret.error << wrong_secret.body;
    // Right secret, but over other bytes: the body was altered on the way.
    std::string altered = body;
    altered.insert(altered.size() - 2, " ");
    auto tampered = post_webhook(p.channel, altered, {{kSignatureHeader, hub_signature(kAppSecret, body)}});
    EXPECT_EQ(tampered.status, 401) << tampered.error << tampered.body;
    // The digest without its "sha256=" prefix.
    auto unprefixed =
        post_webhook(p.channel, body, {{kSignatureHeader, hub_signature(kAppSecret, body).substr(7)}});
    EXPECT_EQ(unprefixed.status, 401) << unprefixed.error << unprefixed.body;
    auto missing = post_webhook(p.channel, body, {});
    EXPECT_EQ(missing.status, 401) << missing.error << missing.body;

    EXPECT_EQ(all_messages().size(), 0u) << "stored right after a refused webhook";

    // A signed webhook after them is stored; once it is, the refused ones would have been too.
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string sentinel_id = rejected_id + "-signed";
    auto accepted = post_signed(p.channel, sentinel_body(p, sentinel_id));
    ASSERT_EQ(accepted.status, 200) << accepted.error << accepted.body;
    EXPECT_EQ(new_messages_until(ws, sentinel_id), std::vector<std::string>{sentinel_id});
    auto messages = all_messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].platform_id, sentinel_id);
}

// ---- Batches and duplicates --------------------------------------------------------------

TEST_P(MetaProductTest, MultiEntryBatchBecomesOneMessageEach) {
    const Product& p = GetParam();
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string batch = p.fixture("multi_entry_batch.json");
    const auto expected = message_ids(p, batch);
    ASSERT_EQ(expected.size(), p.batch_messages) << "the fixture changed";

    auto res = post_signed(p.channel, batch);
    ASSERT_EQ(res.status, 200) << res.error << res.body;

    std::vector<std::string> received;
    std::set<std::string> conversations;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        auto event = next_event(ws);
        ASSERT_TRUE(event) << "only " << received.size() << " of " << expected.size()
                           << " new_message frames; " << ws.close_reason();
        EXPECT_EQ(str_at(*event, "/type"), "new_message");
        EXPECT_EQ(str_at(*event, "/data/message/direction"), "in");
        EXPECT_EQ(str_at(*event, "/data/message/channel_id"), p.channel);
        received.push_back(str_at(*event, "/data/message/platform_id"));
        conversations.insert(str_at(*event, "/data/conversation/platform_id"));
    }
    EXPECT_EQ(std::multiset<std::string>(received.begin(), received.end()),
              std::multiset<std::string>(expected.begin(), expected.end()));
    // Every batch has messages from two customers.
    EXPECT_EQ(conversations.size(), 2u);
    // The batch's receipts name messages never sent: nothing else to tell the agent.
    EXPECT_TRUE(ws.no_frame_within(kQuiet)) << "a frame beyond one new_message per message";

    std::multiset<std::string> stored_ids;
    for (auto& m : all_messages()) stored_ids.insert(m.platform_id);
    EXPECT_EQ(stored_ids, std::multiset<std::string>(expected.begin(), expected.end()));
}

TEST_P(MetaProductTest, DuplicateDeliveryStoresEachMessageOnce) {
    const Product& p = GetParam();
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string batch = p.fixture("multi_entry_batch.json");
    const auto expected = message_ids(p, batch);
    ASSERT_EQ(expected.size(), p.batch_messages);

    // Meta redelivers the same POST, byte for byte.
    auto first = post_signed(p.channel, batch);
    ASSERT_EQ(first.status, 200) << first.error << first.body;
    auto second = post_signed(p.channel, batch);
    ASSERT_EQ(second.status, 200) << second.error << second.body;
    // Webhooks are processed in the order received: once this one is out, both copies are.
    const std::string sentinel_id = expected[0] + "-after";
    ASSERT_EQ(post_signed(p.channel, sentinel_body(p, sentinel_id)).status, 200);

    auto seen = new_messages_until(ws, sentinel_id);
    std::vector<std::string> want = expected;
    want.push_back(sentinel_id);
    EXPECT_EQ(std::multiset<std::string>(seen.begin(), seen.end()),
              std::multiset<std::string>(want.begin(), want.end()))
        << "the agent was told of a message twice, or of one never sent";

    std::map<std::string, int> copies;
    for (auto& m : all_messages()) ++copies[m.platform_id];
    for (const auto& id : want) EXPECT_EQ(copies[id], 1) << id << " stored " << copies[id] << " times";
    EXPECT_EQ(copies.size(), want.size());
}

// ---- Outbound ----------------------------------------------------------------------------

TEST_P(MetaProductTest, AgentReplyReachesGraphApiWithTokenAndBody) {
    const Product& p = GetParam();
    const std::string answer = p.fixture("send_ok.json");
    const std::string platform_id = sent_id(p, answer);
    graph_.set_handler([&p, answer](const HttpRequest& r) {
        if (r.path() == p.send_path) return json_response(200, answer);
        return json_response(404,
                             R"({"error":{"message":"unknown path","type":"OAuthException","code":100}})");
    });
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string conversation_id = receive_text(p, ws);
    ASSERT_FALSE(conversation_id.empty());

    auto res = reply(conversation_id, "We ship next week");
    ASSERT_EQ(res.status, 201) << res.error << res.body;
    EXPECT_EQ(str_at(res.body, "/platform_id"), platform_id);
    EXPECT_EQ(str_at(res.body, "/direction"), "out");
    EXPECT_EQ(str_at(res.body, "/status"), "sent");
    EXPECT_EQ(str_at(res.body, "/conversation_id"), conversation_id);

    auto requests = graph_.requests();
    ASSERT_EQ(requests.size(), 1u) << "expected exactly one Graph call";
    const HttpRequest& send = requests[0];
    EXPECT_EQ(send.method, "POST");
    EXPECT_EQ(send.path(), p.send_path);
    EXPECT_EQ(send.header("Authorization").value_or("<none>"), std::string("Bearer ") + p.token);
    EXPECT_NE(send.header("Content-Type").value_or("").find("application/json"), std::string::npos);
    auto body = parse_json(send.body);
    ASSERT_TRUE(body.IsObject()) << "send body is not a JSON object: " << send.body;
    if (p.kind == Kind::whatsapp) {
        EXPECT_EQ(str_at(body, "/messaging_product"), "whatsapp") << send.body;
        EXPECT_EQ(str_at(body, "/to"), p.customer) << send.body;
        EXPECT_EQ(str_at(body, "/type"), "text") << send.body;
        EXPECT_EQ(str_at(body, "/text/body"), "We ship next week") << send.body;
    } else {
        EXPECT_EQ(str_at(body, "/recipient/id"), p.customer) << send.body;
        EXPECT_EQ(str_at(body, "/message/text"), "We ship next week") << send.body;
        if (p.kind == Kind::messenger) {
            EXPECT_EQ(str_at(body, "/messaging_type"), "RESPONSE") << send.body;
        }
    }

    auto out = stored(platform_id);
    ASSERT_TRUE(out) << "the sent message is not in the conversation's history";
    EXPECT_EQ(out->direction, "out");
    EXPECT_EQ(out->conversation_channel, p.channel);
}

// ---- Routing by account id ---------------------------------------------------------------

// A customer deletes a message for everyone: the stored message is marked deleted (a
// message_updated frame), not a second message in the conversation.
TEST_F(MetaFlowTest, WhatsAppRevokeMarksTheStoredMessageDeleted) {
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string text = kWhatsApp.fixture("text.json");
    const std::string original = message_ids(kWhatsApp, text).at(0);
    ASSERT_EQ(post_signed("wa-main", text).status, 200);
    auto stored = next_event(ws);
    ASSERT_TRUE(stored) << ws.close_reason();
    ASSERT_EQ(str_at(*stored, "/type"), "new_message");
    const std::string conversation = str_at(*stored, "/data/conversation/id");

    std::string revoke = replace_all(kWhatsApp.fixture("revoke.json"),
                                     "wamid.HBgLMTYzMTU1NTEyMzQVAgARGBJPUklHMDAwMDAwMDAwMDAwMQA=", original);
    ASSERT_EQ(post_signed("wa-main", revoke).status, 200);
    auto updated = next_event(ws);
    ASSERT_TRUE(updated) << ws.close_reason();
    EXPECT_EQ(str_at(*updated, "/type"), "message_updated");
    EXPECT_EQ(str_at(*updated, "/data/message/platform_id"), original);
    EXPECT_EQ(str_at(*updated, "/data/message/content/type"), "deleted");

    auto history = api_get("/api/v1/conversations/" + conversation + "/messages");
    ASSERT_EQ(history.status, 200) << history.body;
    auto doc = parse_json(history.body);
    const auto* items = at(doc, "/items");
    ASSERT_TRUE(items != nullptr && items->IsArray()) << history.body;
    ASSERT_EQ(items->Size(), 1u) << "the revoke became a message: " << history.body;
    EXPECT_EQ(str_at(doc, "/items/0/content/type"), "deleted");
    EXPECT_NE(str_at(doc, "/items/0/edited_at"), "");
}

// A message the business sent from the WhatsApp Business app on the same number
// (smb_message_echoes, "coexistence") is the business's own message in the customer's
// conversation: stored outbound, not unread, not a customer message.
TEST_F(MetaFlowTest, WhatsAppBusinessAppEchoIsStoredAsAnOutboundMessage) {
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    ASSERT_EQ(post_signed("wa-main", kWhatsApp.fixture("text.json")).status, 200);
    auto stored = next_event(ws);
    ASSERT_TRUE(stored) << ws.close_reason();
    const std::string conversation = str_at(*stored, "/data/conversation/id");

    ASSERT_EQ(post_signed("wa-main", kWhatsApp.fixture("smb_message_echo.json")).status, 200);
    auto echo = next_event(ws);
    ASSERT_TRUE(echo) << ws.close_reason();
    EXPECT_EQ(str_at(*echo, "/type"), "new_message");
    EXPECT_EQ(str_at(*echo, "/data/conversation/id"), conversation) << "the echo opened another conversation";
    EXPECT_EQ(str_at(*echo, "/data/message/direction"), "out");
    EXPECT_EQ(str_at(*echo, "/data/message/content/text"),
              "Hi Kerry, this is Sam from the shop: your jacket ships today.");

    auto item = parse_json(api_get("/api/v1/conversations/" + conversation).body);
    const auto* unread = at(item, "/unread_count");
    ASSERT_TRUE(unread != nullptr && unread->IsInt64());
    EXPECT_EQ(unread->GetInt64(), 1) << "the business's own message counted as unread";
    auto history = parse_json(api_get("/api/v1/conversations/" + conversation + "/messages").body);
    const auto* items = at(history, "/items");
    ASSERT_TRUE(items != nullptr && items->IsArray());
    ASSERT_EQ(items->Size(), 2u);
    EXPECT_EQ(str_at(history, "/items/0/direction"), "out");
    EXPECT_EQ(str_at(history, "/items/1/direction"), "in");
}

TEST_F(MetaFlowTest, WhatsAppBatchIsRoutedByPhoneNumberIdAndUnknownNumberIsDeadLettered) {
    // A second number of the same Meta app: its webhooks arrive on wa-main's URL.
    start(std::string("  - id: wa-support\n"
                      "    plugin: whatsapp\n"
                      "    settings: { phone_number_id: \"") +
          kWaSecondPhoneNumberId + "\", access_token: \"wa-support-token\", app_secret: \"" + kAppSecret +
          "\", api_base: \"" + api_base() + "\" }\n");

    // two_phone_numbers.json plus a change for a number no channel has.
    auto doc = parse_json(fixture("whatsapp/two_phone_numbers.json"));
    rapidjson::Value* changes = rapidjson::Pointer("/entry/0/changes").Get(doc);
    ASSERT_TRUE(changes != nullptr && changes->IsArray() && changes->Size() == 2u);
    rapidjson::Value unknown((*changes)[0], doc.GetAllocator());
    rapidjson::Pointer("/value/metadata/phone_number_id")
        .Set(unknown, kUnconfiguredPhoneNumberId, doc.GetAllocator());
    rapidjson::Pointer("/value/messages/0/id").Set(unknown, "wamid.UNROUTED0001", doc.GetAllocator());
    changes->PushBack(unknown, doc.GetAllocator());
    const std::string body = serialize(doc);
    const auto ids = message_ids(kWhatsApp, body);
    ASSERT_EQ(ids.size(), 3u);

    auto res = post_signed("wa-main", body);
    ASSERT_EQ(res.status, 200) << res.error << res.body;

    std::vector<StoredMessage> messages;
    ASSERT_TRUE(wait_until([&] {
        messages = all_messages();
        return messages.size() >= 2;
    })) << "the routed messages were not stored";
    std::map<std::string, StoredMessage> by_id;
    for (auto& m : messages) by_id[m.platform_id] = m;
    ASSERT_EQ(by_id.count(ids[0]), 1u);
    ASSERT_EQ(by_id.count(ids[1]), 1u);
    EXPECT_EQ(by_id[ids[0]].conversation_channel, "wa-main") << "message to " << kWaPhoneNumberId;
    EXPECT_EQ(by_id[ids[0]].conversation_platform_id, "16315551234");
    EXPECT_EQ(by_id[ids[1]].conversation_channel, "wa-support") << "message to " << kWaSecondPhoneNumberId;
    EXPECT_EQ(by_id[ids[1]].conversation_platform_id, "447700900123");

    std::string letters;
    ASSERT_TRUE(wait_until([&] {
        auto list = api_get("/api/v1/dead-letters");
        letters = list.body;
        return list.status == 200 && list.body.find(kUnconfiguredPhoneNumberId) != std::string::npos;
    })) << "no dead letter names "
        << kUnconfiguredPhoneNumberId << ": " << letters;
    auto list = parse_json(letters);
    const auto* items = at(list, "/items");
    ASSERT_TRUE(items != nullptr && items->IsArray()) << letters;
    int naming = 0;
    for (const auto& letter : items->GetArray()) {
        if (str_at(letter, "/reason").find(kUnconfiguredPhoneNumberId) == std::string::npos) continue;
        ++naming;
        EXPECT_EQ(str_at(letter, "/channel_id"), "wa-main");
    }
    EXPECT_EQ(naming, 1) << letters;
    // The unrouted message is not stored anywhere.
    EXPECT_EQ(by_id.count("wamid.UNROUTED0001"), 0u);
    EXPECT_EQ(all_messages().size(), 2u);
}

// ---- WhatsApp statuses -------------------------------------------------------------------

class WhatsAppStatusTest : public MetaFlowTest {
protected:
    // The Graph API answers every send with the wamid `next_wamid_` holds at that moment.
    void SetUp() override {
        graph_.set_handler([this](const HttpRequest& r) {
            if (r.path() != kWhatsApp.send_path) return json_response(404, "{}");
            std::lock_guard lock(mutex_);
            return json_response(200,
                                 replace_all(kWhatsApp.fixture("send_ok.json"), kFixtureWamid, next_wamid_));
        });
        start();
        ASSERT_NO_FATAL_FAILURE(connect_agent(ws_));
        conversation_id_ = receive_text(kWhatsApp, ws_);
        ASSERT_FALSE(conversation_id_.empty());
    }

    // Sends a reply that the Graph API accepts as `wamid`.
    void send_as(const std::string& wamid) {
        {
            std::lock_guard lock(mutex_);
            next_wamid_ = wamid;
        }
        auto res = reply(conversation_id_, "Your parcel left today");
        ASSERT_EQ(res.status, 201) << res.error << res.body;
        ASSERT_EQ(str_at(res.body, "/platform_id"), wamid);
        ASSERT_EQ(str_at(res.body, "/status"), "sent");
    }

    // Posts a statuses fixture and returns the message_status frame it causes.
    std::optional<rapidjson::Document> post_status(const std::string& file) {
        auto res = post_signed("wa-main", kWhatsApp.fixture(file));
        EXPECT_EQ(res.status, 200) << res.error << res.body;
        auto event = next_event(ws_);
        if (!event) ADD_FAILURE() << "no frame after " << file << "; " << ws_.close_reason();
        return event;
    }

    static constexpr char kFixtureWamid[] = "wamid.HBgLMTYzMTU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";
    std::mutex mutex_;
    std::string next_wamid_;
    WebSocketClient ws_;
    std::string conversation_id_;
};

TEST_F(WhatsAppStatusTest, DeliveredThenReadStatusesUpdateSentMessage) {
    // statuses_delivered.json and statuses_read.json are receipts for this wamid.
    const std::string wamid =
        str_at(kWhatsApp.fixture("statuses_delivered.json"), "/entry/0/changes/0/value/statuses/0/id");
    ASSERT_EQ(str_at(kWhatsApp.fixture("statuses_read.json"), "/entry/0/changes/0/value/statuses/0/id"),
              wamid);
    ASSERT_NO_FATAL_FAILURE(send_as(wamid));

    auto delivered = post_status("statuses_delivered.json");
    ASSERT_TRUE(delivered);
    EXPECT_EQ(str_at(*delivered, "/type"), "message_status");
    EXPECT_TRUE(at(*delivered, "/seq") != nullptr && at(*delivered, "/seq")->IsInt64());
    EXPECT_EQ(str_at(*delivered, "/data/message/platform_id"), wamid);
    EXPECT_EQ(str_at(*delivered, "/data/message/status"), "delivered");
    EXPECT_EQ(str_at(*delivered, "/data/message/direction"), "out");
    EXPECT_EQ(str_at(*delivered, "/data/message/conversation_id"), conversation_id_);
    auto after_delivered = stored(wamid);
    ASSERT_TRUE(after_delivered);
    EXPECT_EQ(after_delivered->status, "delivered");

    auto read = post_status("statuses_read.json");
    ASSERT_TRUE(read);
    EXPECT_EQ(str_at(*read, "/type"), "message_status");
    EXPECT_EQ(str_at(*read, "/data/message/platform_id"), wamid);
    EXPECT_EQ(str_at(*read, "/data/message/status"), "read");
    auto after_read = stored(wamid);
    ASSERT_TRUE(after_read);
    EXPECT_EQ(after_read->status, "read");

    // A late "delivered" (Meta does not keep order) does not undo "read". Webhooks are
    // processed in the order received: once the customer's next message is out, so is it.
    ASSERT_EQ(post_signed("wa-main", kWhatsApp.fixture("statuses_delivered.json")).status, 200);
    const std::string next_id = "wamid.NEXT0001";
    ASSERT_EQ(post_signed("wa-main", sentinel_body(kWhatsApp, next_id)).status, 200);
    EXPECT_EQ(frames_until(ws_, next_id), std::vector<std::string>{"new_message " + next_id})
        << "a status went backwards";
    EXPECT_EQ(stored(wamid).value_or(StoredMessage{}).status, "read");
}

TEST_F(WhatsAppStatusTest, FailedStatusMarksSentMessageFailedWithErrorCode) {
    const std::string wamid =
        str_at(kWhatsApp.fixture("statuses_failed.json"), "/entry/0/changes/0/value/statuses/0/id");
    ASSERT_NO_FATAL_FAILURE(send_as(wamid));

    auto failed = post_status("statuses_failed.json");
    ASSERT_TRUE(failed);
    EXPECT_EQ(str_at(*failed, "/type"), "message_status");
    EXPECT_EQ(str_at(*failed, "/data/message/platform_id"), wamid);
    EXPECT_EQ(str_at(*failed, "/data/message/status"), "failed");
    EXPECT_EQ(str_at(*failed, "/data/message/error_code"), "131047");

    auto message = stored(wamid);
    ASSERT_TRUE(message);
    EXPECT_EQ(message->status, "failed");
    EXPECT_EQ(message->error_code, "131047");
}

// ---- Graph errors reaching the agent -----------------------------------------------------

struct SendErrorCase {
    const char* name;
    const Product* product;
    const char* body_fixture;  // Graph error body; "" = a non-Graph body ("upstream failure")
    int http_status;
    const char* retry_after;  // "" = no Retry-After header
    int want_status;
    const char* want_code;
    const char* want_platform_code;
    std::size_t want_attempts;  // Graph calls the daemon makes before answering
};

void PrintTo(const SendErrorCase& c, std::ostream* os) { *os << c.name; }

class MetaSendErrorTest : public MetaFlowTest, public ::testing::WithParamInterface<SendErrorCase> {};

// outbound.max_attempts is 3 by default; Retry-After beyond max_retry_after_ms (2 s) goes to the agent.
INSTANTIATE_TEST_SUITE_P(
    Meta, MetaSendErrorTest,
    ::testing::Values(
        SendErrorCase{"WhatsAppWindowClosed", &kWhatsApp, "error_131047_window.json", 400, "", 422,
                      "window_closed", "131047", 1},
        SendErrorCase{"WhatsAppTokenExpired", &kWhatsApp, "error_190_token_expired.json", 401, "", 502,
                      "channel_auth_failed", "190/463", 1},
        SendErrorCase{"WhatsAppThroughputLimit", &kWhatsApp, "error_130429_throughput.json", 429, "30", 429,
                      "rate_limited", "130429", 1},
        // A bare 500 does not say the message was not taken: never resent, 504.
        SendErrorCase{"WhatsAppServerError", &kWhatsApp, "", 500, "", 504, "delivery_unknown", "http_500", 1},
        SendErrorCase{"MessengerOutsideWindow", &kMessenger, "error_10_2018278_outside_window.json", 400, "",
                      422, "window_closed", "10/2018278", 1},
        SendErrorCase{"MessengerRateLimited", &kMessenger, "error_613_rate_limited.json", 400, "30", 429,
                      "rate_limited", "613", 1},
        SendErrorCase{"MessengerServiceUnavailable", &kMessenger, "error_2_service_unavailable.json", 503, "",
                      502, "platform_unavailable", "2", 3},
        SendErrorCase{"InstagramInvalidToken", &kInstagram, "error_190_invalid_token.json", 401, "", 502,
                      "channel_auth_failed", "190", 1}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_P(MetaSendErrorTest, GraphErrorReachesAgentAsItsClass) {
    const SendErrorCase& c = GetParam();
    const Product& p = *c.product;
    HttpResponse failure;
    failure.status = c.http_status;
    if (*c.body_fixture != '\0') {
        failure.body = p.fixture(c.body_fixture);
        ASSERT_FALSE(failure.body.empty()) << c.body_fixture;
    } else {
        failure.body = "upstream failure";
        failure.content_type = "text/plain";
    }
    if (*c.retry_after != '\0') failure.headers.emplace_back("Retry-After", c.retry_after);
    graph_.set_handler([failure](const HttpRequest&) { return failure; });
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string conversation_id = receive_text(p, ws);
    ASSERT_FALSE(conversation_id.empty());

    auto res = reply(conversation_id, "Hello again");
    EXPECT_EQ(res.status, c.want_status) << res.error << res.body;
    ASSERT_TRUE(is_json_error(res));
    auto doc = parse_json(res.body);
    EXPECT_EQ(str_at(doc, "/error/code"), c.want_code) << res.body;
    EXPECT_EQ(str_at(doc, "/error/platform_code"), c.want_platform_code) << res.body;
    if (*c.retry_after != '\0') {
        EXPECT_EQ(res.header("Retry-After").value_or("<none>"), c.retry_after);
    }
    EXPECT_EQ(sends(p).size(), c.want_attempts) << "Graph calls for one reply";
    EXPECT_EQ(graph_.request_count(), c.want_attempts) << "calls elsewhere than " << p.send_path;

    // Nothing the platform refused is in the history as sent: it is there as failed, with the
    // platform's code (and in the answer); a send of unknown fate is there as unknown.
    EXPECT_EQ(str_at(doc, "/error/stored_message/status"), c.want_status == 504 ? "unknown" : "failed")
        << res.body;
    for (auto& m : all_messages()) {
        if (m.direction != "out") continue;
        EXPECT_EQ(m.status, c.want_status == 504 ? "unknown" : "failed") << "stored as " << m.status;
        if (c.want_status != 504) {
            EXPECT_EQ(m.error_code, c.want_platform_code);
        }
    }
}

TEST_F(MetaFlowTest, ExpiredTokenMakesChannelUnhealthyUntilASendSucceeds) {
    auto token_valid = std::make_shared<std::atomic<bool>>(false);
    graph_.set_handler([token_valid](const HttpRequest& r) {
        if (r.path() != kWhatsApp.send_path) return json_response(404, "{}");
        if (!*token_valid) return json_response(401, kWhatsApp.fixture("error_190_token_expired.json"));
        return json_response(200, kWhatsApp.fixture("send_ok.json"));
    });
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string conversation_id = receive_text(kWhatsApp, ws);
    ASSERT_FALSE(conversation_id.empty());
    ASSERT_EQ(channel_state("wa-main"), "ready");
    ASSERT_EQ(readyz_state("wa-main"), "ready");

    auto refused = reply(conversation_id, "Are you there?");
    EXPECT_EQ(refused.status, 502) << refused.error << refused.body;
    EXPECT_EQ(str_at(refused.body, "/error/code"), "channel_auth_failed") << refused.body;
    std::string reason;
    EXPECT_EQ(channel_state("wa-main", &reason), "unhealthy");
    EXPECT_NE(reason.find("190"), std::string::npos) << "reason does not name the Graph code: " << reason;
    EXPECT_EQ(reason.find("wa-token"), std::string::npos) << "the token leaked into the reason: " << reason;
    EXPECT_EQ(readyz_state("wa-main"), "unhealthy");
    // Only the channel whose token was refused.
    EXPECT_EQ(channel_state("fb-page"), "ready");
    EXPECT_EQ(readyz_state("ig-business"), "ready");

    // The token was renewed at Meta: the next send works and the channel is healthy again.
    *token_valid = true;
    auto sent = reply(conversation_id, "Are you there?");
    ASSERT_EQ(sent.status, 201) << sent.error << sent.body;
    EXPECT_EQ(channel_state("wa-main"), "ready");
    EXPECT_EQ(readyz_state("wa-main"), "ready");
}

TEST_F(MetaFlowTest, WhatsAppPairRateLimitBacksThatCustomerOffWithoutSendingAgain) {
    auto refuse = std::make_shared<std::atomic<bool>>(true);
    graph_.set_handler([refuse](const HttpRequest& r) {
        if (r.path() != kWhatsApp.send_path) return json_response(404, "{}");
        if (*refuse) return json_response(400, kWhatsApp.fixture("error_131056_pair_rate.json"));
        return json_response(200, kWhatsApp.fixture("send_ok.json"));
    });
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string conversation_id = receive_text(kWhatsApp, ws);
    ASSERT_FALSE(conversation_id.empty());

    // 131056 is certainly not processed: not resent at once (the pair rate is ~1 per 6 s), kept
    // as failed, the agent told when to try again.
    auto first = reply(conversation_id, "One");
    EXPECT_EQ(first.status, 429) << first.body;
    EXPECT_EQ(str_at(first.body, "/error/platform_code"), "131056") << first.body;
    EXPECT_EQ(str_at(first.body, "/error/stored_message/status"), "failed") << first.body;
    EXPECT_EQ(first.header("Retry-After").value_or("<none>"), "6");
    EXPECT_EQ(sends(kWhatsApp).size(), 1u);
    // That customer is held back: the next reply is refused here, without calling Graph.
    *refuse = false;
    auto second = reply(conversation_id, "Two");
    EXPECT_EQ(second.status, 429) << second.body;
    EXPECT_EQ(str_at(second.body, "/error/code"), "rate_limited") << second.body;
    EXPECT_TRUE(second.header("Retry-After")) << second.body;
    EXPECT_EQ(sends(kWhatsApp).size(), 1u) << "a reply inside the back-off reached the platform";
}

// ---- Messenger echoes --------------------------------------------------------------------

TEST_F(MetaFlowTest, MessengerEchoOfOwnSendIsNotStoredTwice) {
    // echo.json echoes the message send_ok.json answered: same mid, same customer.
    const std::string answer = kMessenger.fixture("send_ok.json");
    const std::string mid = sent_id(kMessenger, answer);
    const std::string echo = kMessenger.fixture("echo.json");
    ASSERT_EQ(message_ids(kMessenger, echo), std::vector<std::string>{mid});
    graph_.set_handler([answer](const HttpRequest& r) {
        if (r.path() == kMessenger.send_path) return json_response(200, answer);
        return json_response(404, "{}");
    });
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string conversation_id = receive_text(kMessenger, ws);
    ASSERT_FALSE(conversation_id.empty());

    auto res = reply(conversation_id, "Sorry to hear that — let me check.");
    ASSERT_EQ(res.status, 201) << res.error << res.body;
    ASSERT_EQ(str_at(res.body, "/platform_id"), mid);

    ASSERT_EQ(post_signed("fb-page", echo).status, 200);
    // Processed in order: once the customer's next message is out, so is the echo.
    const std::string next_id = message_ids(kMessenger, kMessenger.fixture("text.json")).at(0) + "-next";
    ASSERT_EQ(post_signed("fb-page", sentinel_body(kMessenger, next_id)).status, 200);
    EXPECT_EQ(new_messages_until(ws, next_id), std::vector<std::string>{next_id})
        << "the echo reached the agent as a new message";

    auto history = api_get("/api/v1/conversations/" + conversation_id + "/messages");
    ASSERT_EQ(history.status, 200) << history.body;
    auto doc = parse_json(history.body);
    const auto* items = at(doc, "/items");
    ASSERT_TRUE(items != nullptr && items->IsArray()) << history.body;
    int outbound = 0;
    for (const auto& m : items->GetArray()) {
        if (str_at(m, "/direction") != "out") continue;
        ++outbound;
        EXPECT_EQ(str_at(m, "/platform_id"), mid);
    }
    EXPECT_EQ(outbound, 1) << history.body;
    EXPECT_EQ(items->Size(), 3u) << "customer's message, the reply, the customer's next message: "
                                 << history.body;
}

// ---- The outbound id ---------------------------------------------------------------------

TEST_F(MetaFlowTest, MessengerRetryResendsTheSameOutboundIdAsMetadata) {
    // Graph says "temporarily unavailable" once (not taken: the host retries), then sends it.
    const std::string answer = kMessenger.fixture("send_ok.json");
    const std::string unavailable = kMessenger.fixture("error_2_service_unavailable.json");
    auto calls = std::make_shared<std::atomic<int>>(0);
    graph_.set_handler([answer, unavailable, calls](const HttpRequest& r) {
        if (r.path() != kMessenger.send_path) return json_response(404, "{}");
        return ++*calls == 1 ? json_response(503, unavailable) : json_response(200, answer);
    });
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string conversation_id = receive_text(kMessenger, ws);
    ASSERT_FALSE(conversation_id.empty());

    auto res = reply(conversation_id, "One moment, please.");
    ASSERT_EQ(res.status, 201) << res.error << res.body;
    auto tries = sends(kMessenger);
    ASSERT_EQ(tries.size(), 2u) << "one retry after the 503";
    const std::string first = str_at(tries[0].body, "/message/metadata");
    EXPECT_EQ(first.rfind("sb-", 0), 0u) << tries[0].body;
    EXPECT_EQ(first.size(), 35u) << first;
    EXPECT_EQ(str_at(tries[1].body, "/message/metadata"), first) << "the retry carries another id";
    EXPECT_EQ(tries[1].body, tries[0].body) << "the host resends the same bytes";
}

TEST_F(MetaFlowTest, MessengerEchoCompletesASendWhoseAnswerWasLost) {
    // A bare 500: the message may or may not have gone out, so it is stored with status unknown.
    graph_.set_handler([](const HttpRequest& r) {
        if (r.path() != kMessenger.send_path) return json_response(404, "{}");
        HttpResponse lost;
        lost.status = 500;
        lost.body = "upstream failure";
        lost.content_type = "text/plain";
        return lost;
    });
    start();
    WebSocketClient ws;
    ASSERT_NO_FATAL_FAILURE(connect_agent(ws));
    const std::string conversation_id = receive_text(kMessenger, ws);
    ASSERT_FALSE(conversation_id.empty());

    auto res = reply(conversation_id, "Sorry to hear that — let me check.");
    ASSERT_EQ(res.status, 504) << res.error << res.body;
    EXPECT_EQ(str_at(res.body, "/error/code"), "delivery_unknown") << res.body;
    ASSERT_EQ(sends(kMessenger).size(), 1u);
    const std::string outbound_id = str_at(sends(kMessenger)[0].body, "/message/metadata");
    ASSERT_EQ(outbound_id.rfind("sb-", 0), 0u) << sends(kMessenger)[0].body;

    // It had gone out: Meta's echo carries the metadata back.
    auto echo = parse_json(kMessenger.fixture("echo.json"));
    rapidjson::Pointer("/entry/0/messaging/0/message/metadata").Set(echo, outbound_id.c_str());
    const std::string mid = str_at(echo, "/entry/0/messaging/0/message/mid");
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    echo.Accept(writer);
    ASSERT_EQ(post_signed("fb-page", std::string(buffer.GetString(), buffer.GetSize())).status, 200);
    const std::string next_id = message_ids(kMessenger, kMessenger.fixture("text.json")).at(0) + "-next";
    ASSERT_EQ(post_signed("fb-page", sentinel_body(kMessenger, next_id)).status, 200);
    EXPECT_EQ(new_messages_until(ws, next_id), std::vector<std::string>{next_id})
        << "the echo reached the agent as a new message";

    int outbound = 0;
    for (const auto& m : all_messages()) {
        if (m.direction != "out") continue;
        ++outbound;
        EXPECT_EQ(m.status, "sent") << "the echo settles what the lost answer could not";
        EXPECT_EQ(m.platform_id, mid);
    }
    EXPECT_EQ(outbound, 1) << "the echo became a second row";
}

}  // namespace
}  // namespace sb::test
