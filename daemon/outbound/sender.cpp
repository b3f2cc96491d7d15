#include "outbound/sender.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <switchboard/json.hpp>
#include <switchboard/plugin.hpp>

#include "media/worker.hpp"
#include "metrics/metrics.hpp"
#include "store/json.hpp"
#include "util/random.hpp"
#include "util/time.hpp"

namespace sb::outbound {
namespace {

using Done = std::function<void(Result)>;
using Outcome = Result::Outcome;

std::string serialize(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    value.Accept(w);
    return {buffer.GetString(), buffer.GetSize()};
}

// The agent's body, checked for shape; the plugin judges the content itself.
struct AgentMessage {
    std::string content_json;
    std::string reply_to;
};

// The agent's body as a JSON object, or the invalid_json answer for it.
std::optional<Result> read_json_object(rapidjson::Document& doc, const std::string& body) {
    if (auto error = switchboard::json::parse(doc, body, "request body"))
        return Result::error(Outcome::invalid, "invalid_json", *error);
    if (!doc.IsObject())
        return Result::error(Outcome::invalid, "invalid_json", "request body: not a JSON object");
    return std::nullopt;
}

// `code`: bad_request for a body without content, invalid_content for content that is not a
// typed object (docs/api.md), as the plugins' own content checks answer.
std::optional<AgentMessage> read_agent_message(const rapidjson::Document& doc, std::string& code,
                                               std::string& error) {
    code = "invalid_content";
    auto content = doc.FindMember("content");
    if (content == doc.MemberEnd()) {
        code = "bad_request";
        error = "body must be {\"content\":{\"type\":…}}";
        return std::nullopt;
    }
    if (!content->value.IsObject()) {
        error = "content must be an object";
        return std::nullopt;
    }
    auto type = content->value.FindMember("type");
    if (type == content->value.MemberEnd() || !type->value.IsString()) {
        error = "content.type must be a string";
        return std::nullopt;
    }
    AgentMessage out;
    out.content_json = serialize(content->value);
    if (auto reply = doc.FindMember("reply_to"); reply != doc.MemberEnd() && !reply->value.IsNull()) {
        if (!reply->value.IsString()) {
            code = "bad_request";
            error = "reply_to must be a string (a message's platform_id)";
            return std::nullopt;
        }
        out.reply_to = reply->value.GetString();
    }
    return out;
}

// The normalized outbound request (docs/normalized-events.md) — the host's one writer of it.
// `id` is the request's outbound id: the host builds the request once and resends the same
// bytes on a retry, so a plugin may use it as the platform's retry or correlation key.
std::string outbound_json(const store::Conversation& conversation, const AgentMessage& message,
                          std::string_view id) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("v");
    w.Int(1);
    w.Key("id");
    w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
    w.Key("conversation");
    w.StartObject();
    w.Key("id");
    w.String(conversation.platform_id);
    w.EndObject();
    if (!conversation.contact_platform_id.empty()) {
        w.Key("recipient");
        w.StartObject();
        w.Key("id");
        w.String(conversation.contact_platform_id);
        w.EndObject();
    }
    if (!message.reply_to.empty()) {
        w.Key("reply_to");
        w.String(message.reply_to);
    }
    w.Key("content");
    w.RawValue(message.content_json.data(), message.content_json.size(), rapidjson::kObjectType);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string quoted(std::string_view key, std::string_view value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    return fmt::format("\"{}\":{}", key, std::string_view(buffer.GetString(), buffer.GetSize()));
}

// The agent's answer for a send the platform did not accept; `tail` is more members of the
// error object (",\"stored_message\":…").
Result platform_error(const plugin_host::SendOutcome& outcome, const std::string& transport_error,
                      const std::string& tail) {
    std::string extra =
        quoted("platform_code", outcome.platform_code) + "," +
        quoted("platform_message", outcome.message.empty() ? transport_error : outcome.message) + tail;
    auto refused = [&](Result::Refusal refusal, const char* code, const char* message) {
        auto result = Result::error(Outcome::refused, code, message, extra);
        result.refusal = refusal;
        return result;
    };
    switch (outcome.send_class) {
        case SB_SEND_RATE_LIMITED: {
            int seconds = static_cast<int>(std::ceil(outcome.retry_after_ms / 1000.0));
            if (seconds <= 0) seconds = 1;
            extra += fmt::format(",\"retry_after_s\":{}", seconds);
            auto result = refused(Result::Refusal::rate_limited, "rate_limited",
                                  "the platform is rate-limiting this channel");
            result.retry_after_s = seconds;
            return result;
        }
        case SB_SEND_AUTH:
            return refused(Result::Refusal::credentials, "channel_auth_failed",
                           "the platform refused the channel's credentials");
        case SB_SEND_WINDOW_CLOSED:
            return refused(Result::Refusal::window_closed, "window_closed",
                           "the customer-service window is closed; a template is needed");
        case SB_SEND_PERMANENT:
            return refused(Result::Refusal::rejected, "platform_rejected",
                           "the platform refused the message");
        case SB_SEND_RETRYABLE:
        default:
            return refused(Result::Refusal::unavailable, "platform_unavailable",
                           "the platform did not accept the message");
    }
}

}  // namespace

// One send, from the first platform request to the stored message.
class Attempt : public std::enable_shared_from_this<Attempt> {
public:
    Attempt(Sender& sender, SendRequest request, Done done)
        : sender_(sender), request_(std::move(request)), done_(std::move(done)) {}

    void start() {
        std::string code, error;
        // No body to read: a read receipt, or a resend of what is stored.
        if (request_.kind == SendRequest::Kind::mark_read || request_.retry_of != 0) return load_on_store();
        rapidjson::Document doc;
        if (auto invalid = read_json_object(doc, request_.body)) return finish(std::move(*invalid));
        if (request_.kind == SendRequest::Kind::typing) return start_typing(doc);
        auto message = read_agent_message(doc, code, error);
        if (!message) return finish(Result::error(Outcome::invalid, code, error));
        message_ = std::move(*message);
        load_on_store();
    }

private:
    void load_on_store() {
        sender_.store_.post([self = shared_from_this()](store::Store& store) { self->load(store); });
    }

    void start_typing(const rapidjson::Document& doc) {
        if (!doc.HasMember("state") || !doc["state"].IsString() ||
            (std::string_view(doc["state"].GetString()) != "on" &&
             std::string_view(doc["state"].GetString()) != "off"))
            return finish(
                Result::error(Outcome::invalid, "bad_request", "body must be {\"state\":\"on\"|\"off\"}"));
        action_state_ = doc["state"].GetString();
        load_on_store();
    }

    // The answer to an action that had nothing to send.
    static Result nothing_sent() {
        Result nothing;
        nothing.outcome = Outcome::nothing_sent;
        return nothing;
    }

    // typing / mark_read: the content, which names the customer's latest message.
    std::string action_content(store::Store& store) {
        std::string last_inbound;
        for (const auto& m : store.messages(conversation_.id, 50, 0).items) {
            if (m.direction == "in" && !m.platform_id.empty()) {
                last_inbound = m.platform_id;
                break;
            }
        }
        rapidjson::StringBuffer buffer;
        rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
        w.StartObject();
        w.Key("type");
        if (request_.kind == SendRequest::Kind::typing) {
            w.String("typing");
            w.Key("state");
            w.String(action_state_);
            if (!last_inbound.empty()) {
                w.Key("message_id");  // WhatsApp shows typing only with marking a message read
                w.String(last_inbound);
            }
        } else {
            w.String("mark_read");
            w.Key("id");
            w.String(last_inbound);
        }
        w.EndObject();
        return {buffer.GetString(), buffer.GetSize()};
    }

    // On a store thread.
    void load(store::Store& store) {
        try {
            auto conversation = store.conversation(request_.conversation_id);
            if (!conversation || !identity::can_see(*request_.agent, conversation->assignee_id))
                return finish(Result::error(Outcome::not_found, "not_found", "no such conversation"));
            conversation_ = std::move(*conversation);
            if (conversation_.blocked_ms != 0) {
                // The platform would refuse it (Telegram: 403 "bot was blocked by the user"):
                // nothing is claimed, stored or sent. Typing and read receipts have nothing to say.
                if (request_.kind != SendRequest::Kind::message) return finish(nothing_sent());
                return finish(Result::error(Outcome::conflict, "recipient_blocked",
                                            "the customer blocked this channel at " +
                                                util::rfc3339(conversation_.blocked_ms) +
                                                "; nothing can be sent until they unblock it"));
            }
            if (request_.retry_of != 0) {
                if (auto answer = claim_retry(store, request_.retry_of)) return finish(std::move(*answer));
            } else if (request_.kind == SendRequest::Kind::message && !request_.idempotency_key.empty()) {
                if (auto answer = claim_key(store)) return finish(std::move(*answer));
            }
            if (request_.kind != SendRequest::Kind::message) message_.content_json = action_content(store);
            if (request_.kind == SendRequest::Kind::message)
                if (auto refusal = resolve_upload(store)) return finish(std::move(*refusal));
        } catch (const std::exception& e) {
            spdlog::error("outbound store read failed error=\"{}\"", e.what());
            return finish(Result::error(Outcome::unavailable, "store_unavailable",
                                        "the store is unavailable; retry later"));
        }
        channel_ = sender_.channels_.find(conversation_.channel_id);
        if (!channel_ || !channel_->ready()) {
            return finish(Result::error(Outcome::unavailable, "channel_unavailable",
                                        "channel '" + conversation_.channel_id + "' is not available"));
        }
        if (request_.kind == SendRequest::Kind::typing && !channel_->has(SB_CAP_TYPING_OUT))
            return finish(
                Result::error(Outcome::rejected, "typing_unsupported",
                              "channel '" + channel_->id() + "' cannot show typing on the platform"));
        if (request_.kind == SendRequest::Kind::mark_read && !channel_->has(SB_CAP_MARK_READ))
            return finish(Result::error(Outcome::rejected, "read_unsupported",
                                        "channel '" + channel_->id() + "' cannot mark messages read"));
        outbound_id_ = outbound_id();
        outbound_ = outbound_json(conversation_, message_, outbound_id_);
        auto built = channel_->build_send(outbound_);
        // Nothing to send is success for an action: typing "off" where typing expires by itself,
        // marking read before the customer wrote anything.
        if (request_.kind != SendRequest::Kind::message && built.status == SB_E_UNSUPPORTED &&
            (action_state_ == "off" || request_.kind == SendRequest::Kind::mark_read))
            return finish(nothing_sent());
        if (built.status == SB_E_UNSUPPORTED)
            return finish(Result::error(Outcome::rejected, "unsupported_content", built.error));
        if (built.status != SB_OK)
            return finish(Result::error(Outcome::invalid, "invalid_content", built.error));
        limits_ = limits_for(channel_->plugin_id(), channel_->config().rate_limit);
        pace_then_send(std::move(built.request));
    }

    // Content naming an upload ({"upload_id"}, or a resend whose stored content has "upload"):
    // the content the plugin gets and the message keeps, and the bytes the plugin's request
    // body takes where it put the placeholder. On a store thread; nullopt = go on.
    std::optional<Result> resolve_upload(store::Store& store) {
        rapidjson::Document doc;
        doc.Parse(message_.content_json.data(), message_.content_json.size());
        if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
        auto resolved = doc.FindMember("upload");
        auto named = doc.FindMember("upload_id");
        std::string sha256, placeholder;
        if (resolved != doc.MemberEnd() && resolved->value.IsObject()) {
            auto field = [&](const char* key) -> std::string {
                auto it = resolved->value.FindMember(key);
                return it != resolved->value.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
            };
            sha256 = field("sha256");
            placeholder = field("placeholder");
        } else if (named != doc.MemberEnd()) {
            std::int64_t id = 0;
            if (named->value.IsString()) {
                std::string_view text = named->value.GetString();
                auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
                if (ec != std::errc() || ptr != text.data() + text.size()) id = 0;
            }
            auto upload = id > 0 ? store.media(id) : std::nullopt;
            if (!upload || upload->origin != "upload" || upload->state != "ready" ||
                (!request_.agent->admin() && upload->uploaded_by != request_.agent->agent_id))
                return Result::error(Outcome::invalid, "invalid_content",
                                     "content.upload_id names no upload of yours");
            message_.content_json = media::content_with_upload(message_.content_json, *upload);
            sha256 = upload->sha256;
            placeholder = media::upload_placeholder(*upload);
        } else {
            return std::nullopt;
        }
        auto reader = sender_.blobs_ != nullptr ? sender_.blobs_->open(sha256) : nullptr;
        if (!reader)
            return Result::error(Outcome::conflict, "upload_gone", "the upload's bytes are no longer stored");
        // The plugin's request carries the whole file (at most media.upload_limit_mb).
        try {
            upload_bytes_.clear();
            upload_bytes_.reserve(static_cast<std::size_t>(reader->size()));
            while (upload_bytes_.size() < reader->size()) {
                auto piece = reader->read(upload_bytes_.size(), media::kBlobReadChunk);
                if (piece.empty()) throw std::runtime_error("the stored file is shorter than it was");
                upload_bytes_ += piece;
            }
        } catch (const std::exception& e) {
            spdlog::error("upload unreadable sha256={} error=\"{}\"", sha256, e.what());
            return Result::error(Outcome::unavailable, "upload_unreadable", "the upload's bytes cannot be read");
        }
        upload_placeholder_ = std::move(placeholder);
        return std::nullopt;
    }

    // A claim older than any send may take belongs to a daemon that stopped in the middle of it.
    std::int64_t abandoned_after_ms() const { return 2LL * sender_.config_.deadline_ms + 60'000; }

    // Takes a stored message for a resend (POST …/retry, or a repeat of the Idempotency-Key
    // of a failed one). Returns the answer when this request must not send.
    std::optional<Result> claim_retry(store::Store& store, std::int64_t message_id) {
        const std::int64_t now = sender_.clock_.now_ms();
        auto claim = store.claim_retry(conversation_.id, message_id, now, now - abandoned_after_ms());
        switch (claim.state) {
            case store::RetryClaim::State::not_found:
                return Result::error(Outcome::not_found, "not_found", "no such message");
            case store::RetryClaim::State::not_retryable:
                if (claim.message->status == "sending")
                    return Result::error(Outcome::conflict, "retry_in_progress", "this message is being sent",
                                         "\"stored_message\":" + store::to_json(*claim.message));
                return Result::error(Outcome::conflict, "not_retryable",
                                     "only a failed or unknown message can be sent again; this one is " +
                                         claim.message->status,
                                     "\"stored_message\":" + store::to_json(*claim.message));
            case store::RetryClaim::State::claimed:
                break;
        }
        retry_ = std::move(claim.message);
        message_.content_json = retry_->content_json;
        message_.reply_to = retry_->reply_to;
        return std::nullopt;
    }

    // The id of this outbound request, the same for every platform request of this send. With an
    // Idempotency-Key it is derived from it, so the agent's own retry of an unanswered send
    // carries the id of the first try too ("sb-" and 32 hex digits either way).
    std::string outbound_id() const {
        if (request_.idempotency_key.empty()) return "sb-" + util::random_hex(16);
        return "sb-" + util::sha256_hex(request_.agent->agent_id + '\n' + std::to_string(conversation_.id) +
                                        '\n' + request_.idempotency_key)
                           .substr(0, 32);
    }

    // Takes the Idempotency-Key before anything is sent, so that concurrent repeats reach the
    // platform once. Returns the answer when this request must not send.
    std::optional<Result> claim_key(store::Store& store) {
        const std::string hash = util::sha256_hex(message_.content_json + '\n' + message_.reply_to);
        auto claim = store.claim_idempotency_key(request_.agent->agent_id, conversation_.id,
                                                 request_.idempotency_key, hash, sender_.clock_.now_ms());
        switch (claim.state) {
            case store::KeyClaim::State::claimed:
                claimed_ = true;
                return std::nullopt;
            case store::KeyClaim::State::mismatch:
                return Result::error(Outcome::rejected, "idempotency_key_reused",
                                     "this Idempotency-Key was used for a different message");
            case store::KeyClaim::State::in_progress:
                // What became of an abandoned claim's message nobody can tell.
                if (sender_.clock_.now_ms() - claim.claimed_ms > abandoned_after_ms())
                    return Result::error(Outcome::unknown, "delivery_unknown",
                                         "an earlier request with this Idempotency-Key was interrupted; "
                                         "whether the customer got it is unknown");
                return busy();
            case store::KeyClaim::State::done:
                break;
        }
        if (!claim.message)
            return Result::error(Outcome::not_found, "not_found",
                                 "the message of this Idempotency-Key is gone");
        // The platform refused it: the repeat sends it again, on the same row.
        if (claim.message->status == "failed") return claim_retry(store, claim.message->id);
        if (claim.message->status == "sending") return busy();
        auto replay = claim.message->status == "unknown" ? delivery_unknown(*claim.message)
                                                         : stored(*claim.message, false);
        replay.replayed = true;
        return replay;
    }

    // Another request with this Idempotency-Key is sending it.
    static Result busy() {
        auto result = Result::error(Outcome::conflict, "idempotency_in_progress",
                                    "a request with this Idempotency-Key is being sent; retry later");
        result.retry_after_s = 1;
        return result;
    }

    static Result stored(const store::Message& message, bool created) {
        Result result;
        result.outcome = Outcome::sent;
        result.stored = message;
        result.created = created;
        return result;
    }

    // `what_happened`: the platform_code / platform_message members, when this request saw it.
    static Result delivery_unknown(const store::Message& message, const std::string& what_happened = "") {
        return Result::error(Outcome::unknown, "delivery_unknown",
                             "the platform's answer was lost: the message may or may not have reached the "
                             "customer; it is kept with status unknown and will not be sent again by itself",
                             (what_happened.empty() ? "" : what_happened + ",") +
                                 "\"stored_message\":" + store::to_json(message));
    }

    std::int64_t remaining_ms() const {
        return sender_.config_.deadline_ms - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::steady_clock::now() - started_)
                                                 .count();
    }

    // A message waits for its slot (per channel, per chat) before it is sent, for at most half
    // the send's deadline: the other half is the platform's to answer in, because a request cut
    // short after it was written leaves the message unknown.
    void pace_then_send(http_client::Request request) {
        if (request_.kind != SendRequest::Kind::message) return send(std::move(request));
        const auto now = std::chrono::steady_clock::now();
        const auto latest = started_ + std::chrono::milliseconds(sender_.config_.deadline_ms / 2);
        auto slot = sender_.limiter_.reserve(channel_->id(), limits_, conversation_.platform_id,
                                             conversation_.kind == "group" || conversation_.kind == "channel",
                                             now, latest);
        if (!slot.reserved) return paced_out(slot.at - now);
        if (slot.at <= now) return send(std::move(request));
        auto timer = std::make_shared<boost::asio::steady_timer>(sender_.io_, slot.at);
        timer->async_wait([self = shared_from_this(), timer, request = std::move(request)](
                              boost::system::error_code) mutable { self->send(std::move(request)); });
    }

    // No slot within the deadline. After the platform refused this message as too fast, that
    // refusal is the answer (stored failed); otherwise nothing was sent and nothing is stored.
    void paced_out(std::chrono::steady_clock::duration wait) {
        if (refused_) {
            spdlog::info("outbound failed channel={} conversation={} class=rate_limited attempts={}",
                         channel_->id(), conversation_.id, attempts_);
            return store_failure();
        }
        metrics::registry().outbound_sends.with({channel_->id(), "paced_out"}).inc();
        int seconds = static_cast<int>(
            std::ceil(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count() / 1000.0));
        if (seconds <= 0) seconds = 1;
        auto result = Result::error(
            Outcome::paced_out, "rate_limited",
            "this chat or channel is at its rate limit and the reply could not go out within the deadline; "
            "nothing was sent",
            fmt::format("\"retry_after_s\":{}", seconds));
        result.retry_after_s = seconds;
        finish(std::move(result));
    }

    void send(http_client::Request request) {
        // The upload's bytes go where the plugin's request body names them (once per request).
        if (!upload_placeholder_.empty()) {
            if (auto at = request.body.find(upload_placeholder_); at != std::string::npos)
                request.body.replace(at, upload_placeholder_.size(), upload_bytes_);
        }
        if (request.timeout_ms == 0) request.timeout_ms = sender_.config_.timeout_ms;
        // Every platform request of this send ends by the send's deadline.
        request.timeout_ms = static_cast<int>(
            std::clamp<std::int64_t>(remaining_ms(), 1, static_cast<std::int64_t>(request.timeout_ms)));
        last_request_ = request;
        ++attempts_;
        sender_.client_.send(std::move(request), [self = shared_from_this()](http_client::Response response) {
            self->on_response(std::move(response));
        });
    }

    // True when a failed request may still have been acted on: the request went out and no
    // answer says it was not processed. Only a refusal before anything was written, a rate
    // limit, or a 429/503 (the platform saying it did not take the request) is certain.
    static bool fate_unknown(const http_client::Response& response, sb_send_class send_class) {
        if (response.status == 0) return response.maybe_delivered;
        if (send_class == SB_SEND_RATE_LIMITED) return false;
        return send_class == SB_SEND_RETRYABLE && response.status != 429 && response.status != 503;
    }

    void on_response(http_client::Response response) {
        auto outcome = channel_->classify_send(outbound_, response);
        const bool unknown = fate_unknown(response, outcome.send_class);
        if (outcome.send_class != SB_SEND_CONTINUE)
            record(unknown ? "unknown" : switchboard::name(outcome.send_class));
        if (unknown) {
            spdlog::warn(
                "outbound fate unknown channel={} conversation={} attempts={} error=\"{}\" status={}",
                channel_->id(), conversation_.id, attempts_, response.transport_error, response.status);
            if (request_.kind != SendRequest::Kind::message)
                return finish(Result::error(Outcome::unknown, "delivery_unknown",
                                            "the platform's answer was lost; it may or may not have acted"));
            unknown_detail_ =
                quoted("platform_code", outcome.platform_code.empty() && response.status != 0
                                            ? "http_" + std::to_string(response.status)
                                            : outcome.platform_code) +
                "," +
                quoted("platform_message",
                       !response.transport_error.empty() ? response.transport_error : outcome.message);
            return store("", "unknown", "delivery_unknown");
        }
        switch (outcome.send_class) {
            case SB_SEND_OK:
                channel_->clear_auth_failure();
                if (request_.kind != SendRequest::Kind::message) return finish(nothing_sent());
                return store(outcome.platform_id, "sent", "");
            case SB_SEND_AUTH:
                channel_->set_auth_failure("the platform refused the channel's credentials (" +
                                           outcome.platform_code + "): " + outcome.message);
                break;
            case SB_SEND_CONTINUE:
                return send(std::move(*outcome.next));
            case SB_SEND_RETRYABLE:
            case SB_SEND_RATE_LIMITED: {
                // Certainly not taken by the platform. Short waits are absorbed here, within the
                // send's deadline; a long one is the agent's to decide. "Too fast" holds back
                // this chat's later replies too.
                std::int64_t wait = outcome.retry_after_ms > 0 ? outcome.retry_after_ms : 200 * attempts_;
                if (outcome.send_class == SB_SEND_RATE_LIMITED) {
                    if (outcome.retry_after_ms <= 0) wait = std::max<std::int64_t>(wait, limits_.backoff_ms);
                    sender_.limiter_.back_off(
                        channel_->id(), conversation_.platform_id,
                        std::chrono::steady_clock::now() + std::chrono::milliseconds(wait));
                }
                remember_refusal(outcome, response);
                // The agent is told the wait this chat is held back for.
                if (outcome.send_class == SB_SEND_RATE_LIMITED)
                    outcome_->retry_after_ms = static_cast<std::uint32_t>(wait);
                if (attempts_ < sender_.config_.max_attempts && wait <= sender_.config_.max_retry_after_ms &&
                    wait < remaining_ms()) {
                    auto timer = std::make_shared<boost::asio::steady_timer>(sender_.io_,
                                                                             std::chrono::milliseconds(wait));
                    timer->async_wait([self = shared_from_this(), timer](boost::system::error_code) {
                        self->pace_then_send(self->last_request_);
                    });
                    return;
                }
                break;
            }
            default:
                break;
        }
        spdlog::info("outbound failed channel={} conversation={} class={} platform_code={} attempts={}",
                     channel_->id(), conversation_.id, switchboard::name(outcome.send_class),
                     outcome.platform_code, attempts_);
        // (the retry branch above remembered its own, with the wait it holds the chat back for)
        if (outcome.send_class != SB_SEND_RETRYABLE && outcome.send_class != SB_SEND_RATE_LIMITED)
            remember_refusal(outcome, response);
        if (request_.kind != SendRequest::Kind::message)
            return finish(platform_error(*outcome_, transport_error_, ""));
        store_failure();
    }

    void remember_refusal(const plugin_host::SendOutcome& outcome, const http_client::Response& response) {
        refused_ = true;
        outcome_ = outcome;
        outcome_->next.reset();
        transport_error_ = response.transport_error;
        // What the history shows as the code when the platform named none.
        if (outcome_->platform_code.empty())
            outcome_->platform_code =
                response.status != 0 ? "http_" + std::to_string(response.status) : "transport";
    }

    // The platform certainly did not take the message (outcome_): kept as failed with its code
    // and reason, for the agent to see and send again.
    void store_failure() {
        store("", "failed", outcome_->platform_code,
              outcome_->message.empty() ? transport_error_ : outcome_->message);
    }

    // The agent's answer for what was stored.
    Result answer(const store::Message& message, bool created) const {
        if (message.status == "unknown") return delivery_unknown(message, unknown_detail_);
        if (message.status == "failed" && outcome_)
            return platform_error(*outcome_, transport_error_,
                                  ",\"stored_message\":" + store::to_json(message));
        return stored(message, created);
    }

    void store(std::string platform_id, std::string status, std::string error_code,
               std::string error_message = "") {
        store::OutboundMessage message;
        message.conversation_id = conversation_.id;
        message.sender_id = request_.agent->agent_id;
        message.sender_name = request_.agent->name;
        message.content_json = message_.content_json;
        message.reply_to = message_.reply_to;
        message.platform_id = platform_id;
        message.status = std::move(status);
        message.error_code = std::move(error_code);
        message.error_message = std::move(error_message);
        stored_status_ = message.status;
        message.idempotency_key = request_.idempotency_key;
        message.outbound_id = outbound_id_;
        message.announce = static_cast<bool>(sender_.announce_);
        message.origin = request_.origin;
        // From here the key is never given back: the message is stored, whatever became of it.
        settled_ = true;
        if (retry_) {
            // A resend: its outcome goes on the row it was taken from, never a second row.
            return sender_.store_.post(
                [self = shared_from_this(), message = std::move(message)](store::Store& store) {
                    std::optional<store::Message> stored;
                    std::string error;
                    try {
                        stored = store.settle_retry(self->retry_->id, message);
                        if (!stored) error = "the message is gone";
                    } catch (const std::exception& e) {
                        error = e.what();
                    }
                    if (stored) return self->finish(self->answer(*stored, false));
                    self->not_stored(message.platform_id, error);
                });
        }
        sender_.recorder_.record(std::move(message),
                                 [self = shared_from_this(), platform_id](store::OutboundResult result) {
                                     if (result.event) self->sender_.announce_(*result.event);
                                     if (result.message)
                                         return self->finish(self->answer(*result.message, result.created));
                                     self->not_stored(platform_id, result.error);
                                 });
    }

    void not_stored(const std::string& platform_id, const std::string& error) {
        if (stored_status_ == "failed") {
            // Refused by the platform and not recorded either: the refusal is still the answer,
            // and the key (or the retried row) is given back as if nothing had been stored.
            spdlog::error("outbound failure not stored channel={} error=\"{}\"", channel_->id(), error);
            settled_ = false;
            return finish(platform_error(*outcome_, transport_error_, ""));
        }
        // Sent but not recorded: say so rather than invite a duplicate resend.
        spdlog::error("outbound sent but not stored channel={} platform_id={} error=\"{}\"", channel_->id(),
                      platform_id, error);
        finish(Result::error(Outcome::not_stored, "stored_failed",
                             "the message was sent but could not be stored",
                             quoted("platform_id", platform_id)));
    }

    void record(const char* outcome) {
        auto& m = metrics::registry();
        m.outbound_sends.with({channel_->id(), outcome}).inc();
        m.outbound_latency.observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
    }

    void finish(Result response) {
        if (!done_) return;
        if (retry_ && !settled_) {
            // The resend did not reach the platform: the row goes back to what it was.
            settled_ = true;
            sender_.store_.post(
                [self = shared_from_this(), response = std::move(response)](store::Store& store) mutable {
                    store::OutboundMessage before;
                    before.status = self->retry_->status;
                    before.error_code = self->retry_->error_code;
                    before.error_message = self->retry_->error_message;
                    try {
                        store.settle_retry(self->retry_->id, before);
                    } catch (const std::exception& e) {
                        spdlog::warn("retried message not restored id={} error=\"{}\"", self->retry_->id,
                                     e.what());
                    }
                    self->finish(std::move(response));
                });
            return;
        }
        if (claimed_ && !settled_) {
            // Nothing reached the platform: give the key back before answering, so the agent's
            // retry with the same key is not told it is still in progress.
            settled_ = true;
            sender_.store_.post(
                [self = shared_from_this(), response = std::move(response)](store::Store& store) mutable {
                    try {
                        store.release_idempotency_key(self->request_.agent->agent_id, self->conversation_.id,
                                                      self->request_.idempotency_key);
                    } catch (const std::exception& e) {
                        spdlog::warn("idempotency key not released error=\"{}\"", e.what());
                    }
                    self->finish(std::move(response));
                });
            return;
        }
        auto done = std::move(done_);
        done_ = nullptr;
        done(std::move(response));
    }

    Sender& sender_;
    SendRequest request_;
    Done done_;
    AgentMessage message_;
    store::Conversation conversation_;
    std::shared_ptr<plugin_host::Channel> channel_;
    std::string outbound_id_;  // the "id" of outbound_
    std::string outbound_;
    std::string upload_placeholder_;  // "" = the content names no upload
    std::string upload_bytes_;
    http_client::Request last_request_;
    int attempts_ = 0;
    bool claimed_ = false;                 // this request holds its Idempotency-Key
    std::optional<store::Message> retry_;  // the stored message this request sends again, as it was
    Limits limits_;
    bool refused_ = false;  // the platform refused an attempt as certainly not processed
    std::optional<plugin_host::SendOutcome> outcome_;  // the platform's refusal, for the answer
    std::string transport_error_;
    std::string stored_status_;
    std::string unknown_detail_;  // what the platform did, for a delivery_unknown answer
    bool settled_ = false;        // the key is completed (or kept) by what was stored
    std::string action_state_;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

void Recorder::record(store::OutboundMessage message, Done done) {
    std::lock_guard lock(mutex_);
    pending_.push_back(Pending{std::move(message), std::move(done)});
    if (busy_) return;  // the running drain takes it in its next batch
    busy_ = true;
    store_.post([this](store::Store& store) { drain(store); });
}

void Recorder::drain(store::Store& store) {
    for (;;) {
        std::vector<Pending> batch;
        {
            std::lock_guard lock(mutex_);
            if (pending_.empty()) {
                busy_ = false;
                return;
            }
            batch.swap(pending_);
        }
        std::vector<store::OutboundMessage> messages;
        messages.reserve(batch.size());
        for (auto& p : batch) messages.push_back(std::move(p.message));
        std::vector<store::OutboundResult> results;
        try {
            results = store.insert_outbound_batch(messages, clock_.now_ms());
        } catch (const std::exception& e) {
            // One message the store refuses must not fail the others: each on its own.
            spdlog::warn("outbound batch of {} not stored error=\"{}\"; storing one by one", batch.size(),
                         e.what());
            results.clear();
            for (const auto& message : messages) {
                try {
                    auto one = store.insert_outbound_batch(std::span(&message, 1), clock_.now_ms());
                    results.push_back(
                        one.empty() ? store::OutboundResult{std::nullopt, false, "not stored", std::nullopt}
                                    : std::move(one.front()));
                } catch (const std::exception& each) {
                    results.push_back(store::OutboundResult{std::nullopt, false, each.what(), std::nullopt});
                }
            }
        }
        results.resize(batch.size(), store::OutboundResult{std::nullopt, false, "not stored", std::nullopt});
        for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
    }
}

void Sender::send(SendRequest request, std::function<void(Result)> done) {
    std::make_shared<Attempt>(*this, std::move(request), std::move(done))->start();
}

}  // namespace sb::outbound
