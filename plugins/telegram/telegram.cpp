// Telegram Bot API channel plugin on the SDK's switchboard::Instance. Translation lives in
// config.cpp, inbound.cpp and outbound.cpp; the SDK's trampolines turn every exception into a
// status code and redact the bot token and secret token from anything the host may log.

#include <switchboard/plugin.hpp>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config.hpp"
#include "inbound.hpp"
#include "json_util.hpp"
#include "media.hpp"
#include "outbound.hpp"

namespace sb::telegram {
namespace {

using switchboard::Call;
using switchboard::Host;
using switchboard::Request;
using switchboard::Response;
using switchboard::SendResult;

constexpr std::string_view kSecretHeader = "X-Telegram-Bot-Api-Secret-Token";

// The SDK's form of a Bot API call: a JSON POST.
switchboard::OutgoingRequest outgoing(ApiRequest api) {
    switchboard::OutgoingRequest request;
    request.url = std::move(api.url);
    request.headers = {{"Content-Type", api.content_type}};
    request.body = std::move(api.body);
    request.timeout_ms = api.timeout_ms;
    return request;
}

// One bot. Immutable after construction except the poll offset, so calls may run concurrently
// (SB_CAP_THREAD_SAFE).
class Telegram final : public switchboard::Instance {
public:
    Telegram(const Host& host, std::string_view settings_json)
        : Instance(host), settings_(parse_settings(settings_json)) {
        // Platform descriptions and transport errors may quote a URL, and with it the token.
        add_secret(settings_.bot_token);
        add_secret(settings_.secret_token);
        if (settings_.secret_token.empty()) {
            log(SB_LOG_WARN,
                "secret_token is not set: webhook requests are accepted without authentication; set it here "
                "and in setWebhook");
        }
    }

    // Telegram authenticates webhooks with a shared secret in a header (no body signature), so
    // the body is not read here. Missing header: 401 (no credentials). Wrong value: 403
    // (credentials refused). With no secret_token configured every POST is accepted (the
    // constructor warned).
    sb_verdict verify(const Request& request, Call& call) override {
        if (request.method() != "POST") return call.refuse(SB_VERIFY_BAD_REQUEST, "not a POST");
        const std::string& expected = settings_.secret_token;
        if (expected.empty()) return SB_VERIFY_ACCEPT;
        std::optional<std::string_view> given = request.header(kSecretHeader);
        if (!given) return call.refuse(SB_VERIFY_UNAUTHORIZED, "no X-Telegram-Bot-Api-Secret-Token header");
        if (!host().constant_time_equal(*given, expected))
            return call.refuse(SB_VERIFY_FORBIDDEN,
                               "X-Telegram-Bot-Api-Secret-Token does not match secret_token");
        return SB_VERIFY_ACCEPT;
    }

    void parse(const Request& request, Call& call) override {
        std::optional<std::string> query_id;
        for (const std::string& event : normalize_update(request.body(), host().now_ms(), &query_id))
            call.emit(event);
        // A tapped inline button spins on the customer's screen until it is answered: ask the
        // host (ABI 1.1) to answer once the tap is stored. A 1.0 host cannot; the tap still
        // reaches the agent, the spinner just times out.
        if (query_id && host().abi_minor() >= 1 &&
            !call.follow_up(outgoing(answer_callback_request(settings_, *query_id))))
            log(SB_LOG_DEBUG, "host did not take the answerCallbackQuery follow-up");
    }

    void build_send(std::string_view outbound_json, Call& call) override {
        call.submit(outgoing(build_send_request(settings_, outbound_json)));
    }

    SendResult classify_send(std::string_view, const Response& response, Call&) override {
        SendOutcome outcome = classify_send_response(
            response.status(), response.body(), response.transport_error(), response.header("Retry-After"));
        return {static_cast<sb_send_class>(outcome.send_class), outcome.retry_after_ms,
                std::move(outcome.platform_id), std::move(outcome.platform_code), std::move(outcome.message)};
    }
    SendResult unclassified(std::string_view) const override {
        // Unknown outcome: a retry may duplicate, giving up may lose the reply; retry.
        return SendResult::error(SB_SEND_RETRYABLE, "", "internal error while classifying the response");
    }

    void poll_request(Call& call) override {
        call.submit(outgoing(build_poll_request(settings_, next_offset_.load(std::memory_order_acquire))));
    }

    void poll_response(const Response& response, Call& call) override {
        PollBatch batch = read_poll_response(response.status(), response.body(), response.transport_error());
        for (std::size_t i = 0; i < batch.updates.size(); ++i) {
            // Confirm (advance past) only what the host has taken: if it refuses one, the next
            // poll fetches it again.
            call.emit(batch.updates[i]);
            if (batch.update_ids[i] && *batch.update_ids[i] < INT64_MAX)
                advance_offset(*batch.update_ids[i] + 1);
        }
    }

    switchboard::MediaStep fetch_media(std::string_view media_json, const Response* previous,
                                       Call& call) override {
        std::optional<switchboard::OutgoingRequest> next;
        switchboard::MediaStep step = media_step(settings_, media_json, previous, next);
        if (next) call.submit(*next);
        return step;
    }

private:
    // Moves the offset forward only: concurrent or reordered responses never move it back.
    void advance_offset(std::int64_t next) {
        std::int64_t current = next_offset_.load(std::memory_order_acquire);
        while (next > current &&
               !next_offset_.compare_exchange_weak(current, next, std::memory_order_acq_rel)) {
        }
    }

    const Settings settings_;
    // Next getUpdates offset: max(update_id)+1 of everything handed to the host so far.
    std::atomic<std::int64_t> next_offset_{0};
};

}  // namespace
}  // namespace sb::telegram

SWITCHBOARD_PLUGIN(sb::telegram::Telegram, "telegram", "0.1.0",
                   "Telegram Bot API: webhooks or getUpdates long polling, text and media by URL, typing, "
                   "inbound file downloads",
                   sb::telegram::kConfigSchema,
                   SB_CAP_THREAD_SAFE | SB_CAP_LONG_POLL | SB_CAP_MEDIA_OUT | SB_CAP_TYPING_OUT | SB_CAP_MEDIA_IN)
