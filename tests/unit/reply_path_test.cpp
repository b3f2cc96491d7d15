// The reply path without sockets: what the sender decides (outbound::Result) on a temp-file
// SQLite store with an injected clock, and how the API answers each outcome (status, body,
// headers: api/replies.hpp). No platform is reached in any of these: every case ends before a
// request would be built.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <boost/asio/io_context.hpp>

#include "api/replies.hpp"
#include "http_client/client.hpp"
#include "outbound/sender.hpp"
#include "plugin_host/channel.hpp"
#include "store/json.hpp"
#include "store/runner.hpp"
#include "store/store.hpp"
#include "support/temp_store.hpp"
#include "util/clock.hpp"
#include "util/random.hpp"

namespace {

using sb::outbound::Result;
using Outcome = sb::outbound::Result::Outcome;
using Refusal = sb::outbound::Result::Refusal;

constexpr std::int64_t kNow = 1'732'540'000'000;
constexpr const char* kChannel = "tg-support";

std::string header(const sb::http::Response& response, const std::string& name) {
    for (const auto& [key, value] : response.headers)
        if (key == name) return value;
    return "<none>";
}

// --- the mapping: outcome → status, body, headers ---

TEST(ReplyResponse, EachErrorOutcomeHasItsStatusAndTheSenderWordsItsBody) {
    const std::pair<Outcome, int> cases[] = {
        {Outcome::invalid, 400},     {Outcome::not_found, 404}, {Outcome::conflict, 409},
        {Outcome::rejected, 422},    {Outcome::paced_out, 429}, {Outcome::not_stored, 500},
        {Outcome::unavailable, 503}, {Outcome::unknown, 504},
    };
    for (const auto& [outcome, status] : cases) {
        auto response = sb::api::reply_response(Result::error(outcome, "some_code", "what happened"));
        EXPECT_EQ(response.status, status) << static_cast<int>(outcome);
        EXPECT_EQ(response.body, R"({"error":{"code":"some_code","message":"what happened"}})");
        EXPECT_EQ(header(response, "Retry-After"), "<none>");
    }
}

TEST(ReplyResponse, APlatformRefusalIsAnsweredByHowThePlatformRefused) {
    const std::pair<Refusal, int> cases[] = {
        {Refusal::rate_limited, 429}, {Refusal::credentials, 502}, {Refusal::window_closed, 422},
        {Refusal::rejected, 422},     {Refusal::unavailable, 502},
    };
    for (const auto& [refusal, status] : cases) {
        auto result = Result::error(Outcome::refused, "code", "refused", R"("platform_code":"42")");
        result.refusal = refusal;
        auto response = sb::api::reply_response(result);
        EXPECT_EQ(response.status, status) << static_cast<int>(refusal);
        EXPECT_EQ(response.body, R"({"error":{"code":"code","message":"refused","platform_code":"42"}})");
    }
}

TEST(ReplyResponse, AWaitBecomesRetryAfterAndAReplaySaysSo) {
    auto busy = Result::error(Outcome::conflict, "idempotency_in_progress", "being sent");
    busy.retry_after_s = 1;
    EXPECT_EQ(header(sb::api::reply_response(busy), "Retry-After"), "1");

    sb::store::Message message;
    message.id = 7;
    message.conversation_id = 3;
    message.status = "sent";
    Result replay;
    replay.outcome = Outcome::sent;
    replay.stored = message;
    replay.replayed = true;
    auto response = sb::api::reply_response(replay);
    EXPECT_EQ(response.status, 200) << "a replay created nothing";
    EXPECT_EQ(response.body, sb::store::to_json(message));
    EXPECT_EQ(header(response, "Idempotent-Replayed"), "true");
}

TEST(ReplyResponse, ANewMessageIs201AndAnActionWithNothingToSayIs204WithoutABody) {
    sb::store::Message message;
    message.id = 9;
    Result sent;
    sent.outcome = Outcome::sent;
    sent.stored = message;
    sent.created = true;
    EXPECT_EQ(sb::api::reply_response(sent).status, 201);
    EXPECT_EQ(header(sb::api::reply_response(sent), "Idempotent-Replayed"), "<none>");

    Result nothing;
    nothing.outcome = Outcome::nothing_sent;
    auto response = sb::api::reply_response(nothing);
    EXPECT_EQ(response.status, 204);
    EXPECT_TRUE(response.body.empty());
    EXPECT_TRUE(response.content_type.empty());
}

// --- the sender on a temp SQLite store, with a clock the test moves ---

class SenderOnStore : public ::testing::Test {
protected:
    SenderOnStore()
        : store_("reply-test"),
          runner_(*store_, 1),
          channels_(std::make_shared<sb::plugin_host::ChannelRegistry>()),
          client_(io_, sb::http_client::Options{}),
          clock_(kNow),
          sender_(io_, runner_, channels_, client_, sb::config::OutboundConfig{}, clock_) {
        agent_ = store_->create_agent("Grace", "agent", kNow);
        other_ = store_->create_agent("Ann", "agent", kNow);
        conversation_id_ = store_.customer_writes(kChannel, "chat-1", "m-1", kNow).at(0).conversation_id;
        store_->assign(conversation_id_, agent_.id, std::nullopt, "admin", kNow);
    }
    ~SenderOnStore() override { runner_.stop(); }

    std::shared_ptr<const sb::identity::Principal> principal(const sb::store::Agent& agent) {
        return std::make_shared<const sb::identity::Principal>(
            sb::identity::Principal{agent.id, agent.name, agent.role, "tok_x", 0});
    }

    Result send(sb::outbound::SendRequest request) {
        std::promise<Result> done;
        auto answer = done.get_future();
        sender_.send(std::move(request), [&done](Result result) { done.set_value(std::move(result)); });
        EXPECT_EQ(answer.wait_for(std::chrono::seconds(10)), std::future_status::ready);
        return answer.get();
    }

    sb::outbound::SendRequest reply(const sb::store::Agent& agent, std::string key = "") {
        sb::outbound::SendRequest request;
        request.conversation_id = conversation_id_;
        request.agent = principal(agent);
        request.body = R"({"content":{"type":"text","text":"hi"}})";
        request.idempotency_key = std::move(key);
        return request;
    }

    sb::test::TempSqliteStore store_;
    sb::store::StoreRunner runner_;
    boost::asio::io_context io_;
    sb::plugin_host::LiveChannels channels_;
    sb::http_client::Client client_;
    sb::util::ManualClock clock_;
    sb::outbound::Sender sender_;
    sb::store::Agent agent_, other_;
    std::int64_t conversation_id_ = 0;
};

TEST_F(SenderOnStore, AReplyToAConversationTheAgentCannotSeeIsNotFound) {
    auto result = send(reply(other_));
    EXPECT_EQ(result.outcome, Outcome::not_found);
    auto response = sb::api::reply_response(result);
    EXPECT_EQ(response.status, 404);
    EXPECT_EQ(response.body, R"({"error":{"code":"not_found","message":"no such conversation"}})");
}

TEST_F(SenderOnStore, ABodyThatIsNotJsonIsInvalidBeforeTheStoreIsAsked) {
    auto request = reply(agent_);
    request.body = "{not json";
    auto response = sb::api::reply_response(send(std::move(request)));
    EXPECT_EQ(response.status, 400);
    EXPECT_NE(response.body.find(R"("code":"invalid_json")"), std::string::npos) << response.body;
}

TEST_F(SenderOnStore, AReplyOnAChannelThatIsNotConfiguredIsUnavailable) {
    auto response = sb::api::reply_response(send(reply(agent_)));
    EXPECT_EQ(response.status, 503);
    EXPECT_EQ(
        response.body,
        R"({"error":{"code":"channel_unavailable","message":"channel 'tg-support' is not available"}})");
}

TEST_F(SenderOnStore, AKeyHeldByARequestInFlightIsBusyUntilTheClaimIsOldEnoughToBeAbandoned) {
    // Another request holds the key: it claimed it and has not finished.
    const std::string hash = sb::util::sha256_hex(std::string(R"({"type":"text","text":"hi"})") + '\n');
    ASSERT_EQ(store_->claim_idempotency_key(agent_.id, conversation_id_, "key-1", hash, kNow).state,
              sb::store::KeyClaim::State::claimed);

    auto busy = sb::api::reply_response(send(reply(agent_, "key-1")));
    EXPECT_EQ(busy.status, 409);
    EXPECT_NE(busy.body.find("idempotency_in_progress"), std::string::npos) << busy.body;
    EXPECT_EQ(header(busy, "Retry-After"), "1");

    // A claim older than any send may take (2 × deadline + a minute) belongs to a daemon that
    // stopped in the middle of it: whether the customer got it nobody can tell.
    clock_.advance(2 * sb::config::OutboundConfig{}.deadline_ms + 60'001);
    auto abandoned = sb::api::reply_response(send(reply(agent_, "key-1")));
    EXPECT_EQ(abandoned.status, 504);
    EXPECT_NE(abandoned.body.find("delivery_unknown"), std::string::npos) << abandoned.body;
}

TEST_F(SenderOnStore, TheSameKeyWithAnotherMessageIsRejected) {
    ASSERT_EQ(store_->claim_idempotency_key(agent_.id, conversation_id_, "key-2", "another hash", kNow).state,
              sb::store::KeyClaim::State::claimed);
    auto response = sb::api::reply_response(send(reply(agent_, "key-2")));
    EXPECT_EQ(response.status, 422);
    EXPECT_NE(response.body.find("idempotency_key_reused"), std::string::npos) << response.body;
}

}  // namespace
