// The REST handlers without sockets: api::Api on a temp-file SQLite store with an injected
// clock, driven through Api::handle by an in-memory exchange, the way the HTTP server drives it.
// Each resource's handlers are exercised for what they answer and what they store: routing and
// the token check, agents and tokens, labels, conversations, notes, canned replies, contacts
// and dead letters. (Replies have their own suite: reply_path_test.cpp.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "api/auth.hpp"
#include "api/rest.hpp"
#include "http_client/client.hpp"
#include "notifier/notifier.hpp"
#include "outbound/sender.hpp"
#include "plugin_host/channel.hpp"
#include "store/runner.hpp"
#include "support/json_view.hpp"
#include "support/temp_store.hpp"
#include "util/clock.hpp"
#include "util/time.hpp"
#include "webhook/ingest.hpp"

namespace {

using sb::test::Json;

constexpr std::int64_t kNow = 1'732'540'000'000;
constexpr const char* kChannel = "tg-support";
constexpr const char* kBootstrap = "bootstrap-token-for-the-rest-test";

// One request, answered once: what the HTTP server's exchange is, minus the socket.
class MemoryExchange : public sb::http::Exchange {
public:
    MemoryExchange(std::string method, std::string target, std::string body,
                   std::vector<std::pair<std::string, std::string>> headers)
        : method_(std::move(method)),
          target_(std::move(target)),
          body_(std::move(body)),
          headers_(std::move(headers)) {
        auto q = target_.find('?');
        path_ = target_.substr(0, q);
        if (q == std::string::npos) return;
        std::string_view rest = std::string_view(target_).substr(q + 1);
        while (!rest.empty()) {  // the tests' queries need no percent-decoding
            auto amp = rest.find('&');
            auto pair = rest.substr(0, amp);
            auto eq = pair.find('=');
            query_[std::string(pair.substr(0, eq))] =
                eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
            rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        }
    }

    std::string_view method() const override { return method_; }
    std::string_view target() const override { return target_; }
    std::string_view path() const override { return path_; }
    std::optional<std::string> query(std::string_view name) const override {
        auto it = query_.find(std::string(name));
        if (it == query_.end()) return std::nullopt;
        return it->second;
    }
    std::optional<std::string_view> header(std::string_view name) const override {
        for (const auto& [key, value] : headers_)
            if (key == name) return std::string_view(value);
        return std::nullopt;
    }
    std::vector<std::pair<std::string_view, std::string_view>> headers() const override {
        return {headers_.begin(), headers_.end()};
    }
    const std::string& body() const override { return body_; }
    std::string take_body() override { return std::move(body_); }
    std::string_view remote_address() const override { return "127.0.0.1"; }
    void respond(sb::http::Response response) override {
        ++answers_;
        if (answers_ == 1) answered_.set_value(std::move(response));
    }

    std::future<sb::http::Response> answer() { return answered_.get_future(); }
    int answers() const { return answers_; }

private:
    std::string method_, target_, path_, body_;
    std::vector<std::pair<std::string, std::string>> headers_;
    std::map<std::string, std::string> query_;
    std::promise<sb::http::Response> answered_;
    std::atomic<int> answers_{0};
};

std::string header(const sb::http::Response& response, const std::string& name) {
    for (const auto& [key, value] : response.headers)
        if (key == name) return value;
    return "<none>";
}

class RestOnStore : public ::testing::Test {
protected:
    RestOnStore()
        : store_("rest-test"),
          runner_(*store_, 1),
          channels_(std::make_shared<sb::plugin_host::ChannelRegistry>()),
          client_(io_, sb::http_client::Options{}),
          clock_(kNow),
          notifier_(runner_, store_->last_seq(), clock_),
          sender_(io_, runner_, channels_, client_, sb::config::OutboundConfig{}, clock_),
          committer_(*store_, sb::webhook::CommitSink{}),
          webhooks_(channels_, committer_),
          auth_(kBootstrap, "Night desk"),
          api_(sb::api::ApiDeps{auth_,
                                channels_,
                                runner_,
                                webhooks_,
                                sender_,
                                notifier_,
                                {},
                                {},
                                {},
                                {},
                                20,
                                10'000,
                                nullptr,
                                nullptr,
                                25u << 20,
                                &clock_}) {
        conversation_id_ = store_.customer_writes(kChannel, "chat-1", "m-1", kNow).at(0).conversation_id;
    }
    ~RestOnStore() override { runner_.stop(); }

    sb::http::Response call(const std::string& method, const std::string& target, std::string body = "",
                            std::optional<std::string> token = kBootstrap) {
        std::vector<std::pair<std::string, std::string>> headers;
        if (token) headers.emplace_back("Authorization", "Bearer " + *token);
        if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
        auto exchange = std::make_shared<MemoryExchange>(method, target, std::move(body), std::move(headers));
        auto answer = exchange->answer();
        api_.handle(exchange);
        EXPECT_EQ(answer.wait_for(std::chrono::seconds(10)), std::future_status::ready)
            << method << " " << target;
        auto response = answer.get();
        EXPECT_EQ(exchange->answers(), 1) << method << " " << target << " answered more than once";
        return response;
    }

    // A new agent and a token for it, through the admin endpoints.
    std::pair<std::string, std::string> agent_with_token(const std::string& name) {
        auto created = call("POST", "/api/v1/agents", R"({"name":")" + name + R"(","role":"agent"})");
        EXPECT_EQ(created.status, 201) << created.body;
        std::string id = Json(created.body).str("/id");
        auto token = call("POST", "/api/v1/agents/" + id + "/tokens", R"({"label":"laptop"})");
        EXPECT_EQ(token.status, 201) << token.body;
        return {id, Json(token.body).str("/token")};
    }

    std::string conversation() const { return "/api/v1/conversations/" + std::to_string(conversation_id_); }

    sb::test::TempSqliteStore store_;
    sb::store::StoreRunner runner_;
    boost::asio::io_context io_;
    sb::plugin_host::LiveChannels channels_;
    sb::http_client::Client client_;
    sb::util::ManualClock clock_;
    sb::notifier::Notifier notifier_;
    sb::outbound::Sender sender_;
    sb::webhook::GroupCommitter committer_;
    sb::webhook::WebhookEndpoint webhooks_;
    sb::api::Authenticator auth_;
    sb::api::Api api_;
    std::int64_t conversation_id_ = 0;
};

// --- routing and the token check ---

TEST_F(RestOnStore, TheTokenIsCheckedBeforeAnythingIsSaidAboutTheApi) {
    auto anonymous = call("GET", "/api/v1/no-such-thing", "", std::nullopt);
    EXPECT_EQ(anonymous.status, 401) << "an unknown endpoint is not revealed without a token";
    EXPECT_EQ(header(anonymous, "WWW-Authenticate"), "Bearer");
    EXPECT_EQ(call("GET", "/api/v1/me", "", "wrong-token").status, 401);

    auto unknown = call("GET", "/api/v1/no-such-thing");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(Json(unknown.body).str("/error/code"), "not_found");

    auto wrong_method = call("PUT", "/api/v1/labels");
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(header(wrong_method, "Allow"), "GET, POST");

    EXPECT_EQ(call("GET", "/healthz", "", std::nullopt).status, 200) << "open routes need no token";
}

TEST_F(RestOnStore, AnAgentIsForbiddenAdminEndpointsBeforeLearningTheirMethods) {
    auto [id, token] = agent_with_token("Grace");
    EXPECT_EQ(call("GET", "/api/v1/dead-letters", "", token).status, 403);
    EXPECT_EQ(call("PUT", "/api/v1/dead-letters", "", token).status, 403) << "403 comes before 405";
    EXPECT_EQ(call("POST", "/api/v1/agents", R"({"name":"Mallory"})", token).status, 403);
    EXPECT_EQ(call("GET", "/api/v1/agents", "", token).status, 200) << "the directory is every agent's";
}

// --- agents, tokens and presence ---

TEST_F(RestOnStore, AnAgentsNewTokenWorksAtOnceAndTheDirectoryNamesTheBootstrapAdmin) {
    auto [id, token] = agent_with_token("Grace");
    auto me = call("GET", "/api/v1/me", "", token);
    ASSERT_EQ(me.status, 200) << me.body;
    EXPECT_EQ(Json(me.body).str("/id"), id);
    EXPECT_EQ(Json(me.body).str("/name"), "Grace");
    EXPECT_EQ(Json(me.body).str("/role"), "agent");

    auto directory = Json(call("GET", "/api/v1/agents", "", token).body);
    ASSERT_EQ(directory.size("/items"), 2u);
    EXPECT_EQ(directory.str("/items/0/id"), "admin");
    EXPECT_EQ(directory.str("/items/0/name"), "Night desk");
    EXPECT_EQ(directory.str("/items/1/name"), "Grace");
    EXPECT_EQ(directory.str("/items/1/presence"), "offline") << "no WebSocket is open";

    auto busy = call("PATCH", "/api/v1/me", R"({"availability":"busy"})", token);
    ASSERT_EQ(busy.status, 200) << busy.body;
    EXPECT_EQ(Json(busy.body).str("/availability"), "busy");
    std::string stored;
    for (const auto& agent : store_->agents())
        if (agent.id == id) stored = agent.availability;
    EXPECT_EQ(stored, "busy") << "stored for an agent with its own token";
    EXPECT_EQ(call("PATCH", "/api/v1/me", R"({"availability":"asleep"})", token).status, 400);
}

TEST_F(RestOnStore, ATokenExpiresByTheInjectedClock) {
    auto created = call("POST", "/api/v1/agents", R"({"name":"Ann"})");
    const std::string id = Json(created.body).str("/id");
    const std::string in_an_hour = sb::util::rfc3339(kNow + 3'600'000);
    auto token = call("POST", "/api/v1/agents/" + id + "/tokens", R"({"expires_at":")" + in_an_hour + "\"}");
    ASSERT_EQ(token.status, 201) << token.body;
    EXPECT_EQ(Json(token.body).str("/expires_at"), in_an_hour);

    // "In the future" is the injected clock's: the same date is refused once it has passed.
    clock_.advance(2 * 3'600'000);
    auto late = call("POST", "/api/v1/agents/" + id + "/tokens", R"({"expires_at":")" + in_an_hour + "\"}");
    EXPECT_EQ(late.status, 400);
    EXPECT_NE(Json(late.body).str("/error/message").find("future"), std::string::npos) << late.body;
    EXPECT_EQ(call("POST", "/api/v1/agents/nobody/tokens", "").status, 404);
}

// --- labels ---

TEST_F(RestOnStore, AdminsDefineLabelsAndAgentsPutThemOnConversationsTheySee) {
    auto [grace, token] = agent_with_token("Grace");
    EXPECT_EQ(call("POST", "/api/v1/labels", R"({"name":"VIP","color":"#aa0000"})", token).status, 403);
    auto label = call("POST", "/api/v1/labels", R"({"name":"VIP","color":"#aa0000"})");
    ASSERT_EQ(label.status, 201) << label.body;
    EXPECT_EQ(Json(label.body).str("/name"), "vip") << "names are lower-cased";
    EXPECT_EQ(call("POST", "/api/v1/labels", R"({"name":"vip","color":"#00aa00"})").status, 409);
    EXPECT_EQ(call("POST", "/api/v1/labels", R"({"name":"no spaces","color":"#00aa00"})").status, 400);

    // Unassigned: Grace sees it, so she may label it.
    auto labelled = call("POST", conversation() + "/labels", R"({"name":"vip"})", token);
    ASSERT_EQ(labelled.status, 200) << labelled.body;
    EXPECT_EQ(Json(labelled.body).str("/labels/0"), "vip");
    EXPECT_EQ(call("POST", conversation() + "/labels", R"({"name":"unknown"})", token).status, 404);

    auto filtered = Json(call("GET", "/api/v1/conversations?label=vip", "", token).body);
    ASSERT_EQ(filtered.size("/items"), 1u);
    EXPECT_EQ(filtered.str("/items/0/id"), std::to_string(conversation_id_));

    // Once a colleague holds it, Grace neither sees nor labels it.
    auto [ann, ann_token] = agent_with_token("Ann");
    ASSERT_EQ(call("POST", conversation() + "/assignment", R"({"agent_id":")" + ann + "\"}").status, 200);
    EXPECT_EQ(call("DELETE", conversation() + "/labels/vip", "", token).status, 404);
    EXPECT_EQ(Json(call("GET", "/api/v1/conversations?label=vip", "", token).body).size("/items"), 0u);
    EXPECT_EQ(call("DELETE", conversation() + "/labels/vip", "", ann_token).status, 200);
}

// --- conversations ---

TEST_F(RestOnStore, TheListRefusesWhatItCannotReadAndCountsWhatItLists) {
    EXPECT_EQ(call("GET", "/api/v1/conversations?limit=0").status, 400);
    EXPECT_EQ(call("GET", "/api/v1/conversations?limit=201").status, 400);
    EXPECT_EQ(call("GET", "/api/v1/conversations?status=open,").status, 400);
    EXPECT_EQ(call("GET", "/api/v1/conversations?status=closed").status, 400);
    EXPECT_EQ(call("GET", "/api/v1/conversations?search=hello").status, 400) << "the parameter is q";
    EXPECT_EQ(call("GET", "/api/v1/conversations/01").status, 404) << "non-canonical ids are not ids";

    auto page = Json(call("GET", "/api/v1/conversations?status=open").body);
    ASSERT_EQ(page.size("/items"), 1u);
    EXPECT_EQ(page.str("/items/0/last_message/preview"), "hello");
    EXPECT_EQ(page.integer("/items/0/unread_count"), 1);

    auto counts = Json(call("GET", "/api/v1/conversations/counts").body);
    EXPECT_EQ(counts.integer("/unassigned/open"), 1);
    EXPECT_EQ(counts.integer("/all/open"), 1);
    EXPECT_EQ(counts.integer("/mine/open"), 0);

    auto resolved = call("PATCH", conversation(), R"({"status":"resolved"})");
    ASSERT_EQ(resolved.status, 200) << resolved.body;
    EXPECT_EQ(Json(resolved.body).str("/status"), "resolved");
    counts = Json(call("GET", "/api/v1/conversations/counts").body);
    EXPECT_EQ(counts.integer("/all/open"), 0);
    EXPECT_EQ(counts.integer("/all/resolved"), 1);
    EXPECT_EQ(call("PATCH", conversation(), R"({"priority":"whenever"})").status, 400);
}

TEST_F(RestOnStore, ReadingMovesTheReadersPositionAndUnreadMovesItBack) {
    auto [grace, token] = agent_with_token("Grace");
    auto read = call("POST", conversation() + "/read", "", token);
    ASSERT_EQ(read.status / 100, 2) << read.body;
    auto page = Json(call("GET", "/api/v1/conversations", "", token).body);
    EXPECT_EQ(page.integer("/items/0/unread_count"), 0);
    // Read state is per agent: the admin still has it unread.
    EXPECT_EQ(Json(call("GET", "/api/v1/conversations").body).integer("/items/0/unread_count"), 1);

    ASSERT_EQ(call("POST", conversation() + "/unread", "", token).status / 100, 2);
    EXPECT_EQ(Json(call("GET", "/api/v1/conversations", "", token).body).integer("/items/0/unread_count"), 1);
}

TEST_F(RestOnStore, ANoteIsStoredInTheHistoryAndNeverBecomesThePreview) {
    auto note = call("POST", conversation() + "/notes", R"({"text":"  call her back at 5  "})");
    ASSERT_EQ(note.status, 201) << note.body;
    EXPECT_EQ(Json(note.body).str("/kind"), "note");
    EXPECT_EQ(Json(note.body).str("/status"), "stored");
    EXPECT_EQ(call("POST", conversation() + "/notes", R"({"text":"   "})").status, 400);
    EXPECT_EQ(call("POST", conversation() + "/notes", R"({"text":)").status, 400);
    EXPECT_EQ(Json(call("POST", conversation() + "/notes", "[1]").body).str("/error/code"), "invalid_json");

    auto history = Json(call("GET", conversation() + "/messages").body);
    ASSERT_EQ(history.size("/items"), 2u);
    auto page = Json(call("GET", "/api/v1/conversations").body);
    EXPECT_EQ(page.str("/items/0/last_message/preview"), "hello") << "a note is not the preview";
}

// --- canned replies ---

TEST_F(RestOnStore, CannedRepliesArePersonalOrSharedAndRenderedForAConversation) {
    auto [grace, token] = agent_with_token("Grace");
    auto [ann, ann_token] = agent_with_token("Ann");
    EXPECT_EQ(
        call("POST", "/api/v1/canned-replies", R"({"shortcode":"hi","text":"x","scope":"shared"})", token)
            .status,
        403);
    auto shared =
        call("POST", "/api/v1/canned-replies",
             R"({"shortcode":"hi","text":"Hello {{contact.name}}, {{agent.name}} here","scope":"shared"})");
    ASSERT_EQ(shared.status, 201) << shared.body;
    auto personal = call("POST", "/api/v1/canned-replies",
                         R"({"shortcode":"hist","text":"Mine","scope":"personal"})", token);
    ASSERT_EQ(personal.status, 201) << personal.body;

    auto graces = Json(call("GET", "/api/v1/canned-replies?prefix=hi", "", token).body);
    EXPECT_EQ(graces.size("/items"), 2u);
    auto anns = Json(call("GET", "/api/v1/canned-replies?prefix=hi", "", ann_token).body);
    ASSERT_EQ(anns.size("/items"), 1u) << "a personal reply is its owner's";
    EXPECT_EQ(anns.str("/items/0/shortcode"), "hi");

    auto rendered = Json(
        call("GET", "/api/v1/canned-replies?prefix=hi&conversation_id=" + std::to_string(conversation_id_),
             "", ann_token)
            .body);
    EXPECT_EQ(rendered.str("/items/0/rendered"), "Hello Ada Lovelace, Ann here");
    const std::string id = Json(personal.body).str("/id");
    EXPECT_EQ(call("DELETE", "/api/v1/canned-replies/" + id, "", ann_token).status, 404);
    EXPECT_EQ(call("DELETE", "/api/v1/canned-replies/" + id, "", token).status, 204);
}

// --- contacts ---

TEST_F(RestOnStore, AContactTakesOnlyAttributesAnAdminDefined) {
    auto conversation_json = Json(call("GET", conversation()).body);
    const std::string contact = conversation_json.str("/contact/id");
    ASSERT_FALSE(contact.empty());
    auto refused = call("PATCH", "/api/v1/contacts/" + contact, R"({"attributes":{"plan":"gold"}})");
    EXPECT_EQ(refused.status, 400);
    EXPECT_NE(Json(refused.body).str("/error/message").find("plan"), std::string::npos) << refused.body;

    ASSERT_EQ(call("POST", "/api/v1/contact-attributes", R"({"key":"plan","type":"string"})").status, 201);
    auto changed = call("PATCH", "/api/v1/contacts/" + contact,
                        R"({"attributes":{"plan":"gold"},"email":"ada@example.org"})");
    ASSERT_EQ(changed.status, 200) << changed.body;
    EXPECT_EQ(Json(changed.body).str("/attributes/plan"), "gold");
    EXPECT_EQ(Json(call("GET", "/api/v1/contacts/" + contact).body).str("/email"), "ada@example.org");
    EXPECT_EQ(call("PATCH", "/api/v1/contacts/" + contact, R"({"email":"not-an-address"})").status, 400);
    EXPECT_EQ(call("GET", "/api/v1/contacts/999999").status, 404);
}

// --- dead letters ---

TEST_F(RestOnStore, ADeadLetterIsListedWithAPreviewAndReplayedOnce) {
    auto ids = store_->enqueue(std::vector<sb::store::InboundRequest>{
        {kChannel, "POST", "/webhooks/tg-support", "", R"({"broken":)", kNow}});
    auto claimed = store_->claim(1, kNow, 30'000);
    ASSERT_EQ(claimed.size(), 1u);
    store_->dead_letter(ids.at(0), "parse: unexpected end", kNow, claimed.at(0).attempts);

    auto letters = Json(call("GET", "/api/v1/dead-letters").body);
    ASSERT_EQ(letters.size("/items"), 1u);
    EXPECT_EQ(letters.str("/items/0/reason"), "parse: unexpected end");
    EXPECT_EQ(letters.str("/items/0/body_preview"), R"({"broken":)");
    const std::string id = letters.str("/items/0/id");

    auto replay = call("POST", "/api/v1/dead-letters/" + id + "/replay");
    EXPECT_EQ(replay.status, 202) << replay.body;
    EXPECT_EQ(store_->queue_depth(), 1);
    EXPECT_EQ(call("POST", "/api/v1/dead-letters/" + id + "/replay").status, 404) << "queued, not dead";
}

}  // namespace
