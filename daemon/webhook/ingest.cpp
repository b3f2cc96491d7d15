#include "webhook/ingest.hpp"

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "metrics/metrics.hpp"
#include "util/thread_name.hpp"
#include "util/time.hpp"

namespace sb::webhook {
namespace {

// Headers that carry a credential: the verify step has used them, and the stored queue row
// (kept as a dead letter, maybe for days) must not hold a secret. parse() and a replay of a
// dead letter work from the body and the other headers.
bool credential_header(std::string_view name) {
    static constexpr std::string_view kNames[] = {"authorization", "proxy-authorization", "cookie"};
    static constexpr std::string_view kParts[] = {"secret", "signature", "token", "auth"};
    std::string lower(name);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto n : kNames)
        if (lower == n) return true;
    for (auto part : kParts)
        if (lower.find(part) != std::string::npos) return true;
    return false;
}

std::string storable_headers(const std::vector<plugin_host::HeaderView>& headers) {
    std::vector<plugin_host::HeaderView> kept;
    kept.reserve(headers.size());
    for (const auto& header : headers)
        if (!credential_header(header.first)) kept.push_back(header);
    return plugin_host::encode_headers(kept);
}

// What the log says of a refusal: the plugin's reason (ABI 1.2), or that it gave none.
std::string_view refusal_reason(const plugin_host::VerifyOutcome& verdict) {
    return verdict.reason.empty() ? std::string_view("none given by the plugin") : verdict.reason;
}

}  // namespace

GroupCommitter::GroupCommitter(store::Store& store, CommitSink sink, std::size_t max_pending)
    : store_(store), sink_(std::move(sink)), max_pending_(max_pending) {
    thread_ = std::thread([this] {
        util::name_this_thread("sb-commit");
        run();
    });
}

GroupCommitter::~GroupCommitter() { stop(); }

bool GroupCommitter::submit(store::InboundRequest request, Done done) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || pending_.size() >= max_pending_) return false;
        pending_.push_back(std::move(request));
        pending_done_.push_back(std::move(done));
    }
    wake_.notify_one();
    return true;
}

void GroupCommitter::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void GroupCommitter::run() {
    std::vector<store::InboundRequest> batch;
    std::vector<Done> batch_done;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
            if (pending_.empty()) return;  // stopping, and everything submitted is answered
            batch.swap(pending_);
            batch_done.swap(pending_done_);
        }
        // Everything that arrived while the previous transaction was committing goes into
        // this one: the fsync is paid once per batch, not once per webhook.
        const bool claimed = sink_.hand_over && sink_.may_hand_over && sink_.may_hand_over();
        bool durable = true;
        std::vector<std::int64_t> ids;
        try {
            ids = claimed ? store_.enqueue_claimed(batch, util::now_ms(), sink_.lease_ms)
                          : store_.enqueue(batch);
        } catch (const std::exception& e) {
            durable = false;
            metrics::registry().store_errors.with({"enqueue"}).inc();
            spdlog::error("inbound queue append failed rows={} error=\"{}\"", batch.size(), e.what());
        }
        healthy_ = durable;
        // The processor starts on the rows before the 200s go out: the frame is on its way
        // while the answers are written.
        if (claimed && durable) {
            std::vector<store::QueuedInbound> rows;
            rows.reserve(batch.size());
            for (std::size_t i = 0; i < batch.size() && i < ids.size(); ++i)
                rows.push_back(store::QueuedInbound{ids[i], std::move(batch[i]), 1});
            sink_.hand_over(std::move(rows));
        }
        for (auto& done : batch_done) done(durable);
        batch.clear();
        batch_done.clear();
        if (!claimed && sink_.on_committed) sink_.on_committed();
    }
}

void WebhookEndpoint::handle(const std::shared_ptr<http::Exchange>& exchange, std::string_view channel_id) {
    auto& metrics = metrics::registry();
    auto channel = channels_.find(channel_id);
    if (!channel) {
        metrics.webhooks_rejected.with({"", "unknown_channel"}).inc();
        return exchange->respond(http::error_response(
            404, "unknown_channel", "no channel '" + std::string(channel_id) + "' is configured"));
    }
    if (!channel->ready()) {
        metrics.webhooks_rejected.with({channel->id(), "channel_failed"}).inc();
        // Platforms retry on 5xx: nothing is lost while the operator fixes the channel.
        return exchange->respond(http::error_response(
            503, "channel_unavailable", "channel '" + channel->id() + "' failed: " + channel->failure()));
    }
    auto headers = exchange->headers();
    auto verdict = channel->verify(exchange->method(), exchange->target(), headers, exchange->body());
    switch (verdict.verdict) {
        case SB_VERIFY_ACCEPT:
            break;
        case SB_VERIFY_RESPONDED: {
            http::Response response;
            response.status = verdict.status;
            response.content_type = verdict.content_type;
            response.body = std::move(verdict.body);
            return exchange->respond(std::move(response));
        }
        case SB_VERIFY_UNAUTHORIZED:
            metrics.webhooks_rejected.with({channel->id(), "unauthorized"}).inc();
            spdlog::info("webhook rejected channel={} status=401 reason=\"{}\"", channel->id(),
                         refusal_reason(verdict));
            return exchange->respond(
                http::error_response(401, "unauthorized", "webhook credentials missing or wrong"));
        case SB_VERIFY_BAD_REQUEST:
            metrics.webhooks_rejected.with({channel->id(), "bad_request"}).inc();
            spdlog::info("webhook rejected channel={} status=400 reason=\"{}\"", channel->id(),
                         refusal_reason(verdict));
            return exchange->respond(
                http::error_response(400, "bad_request", "not a request this channel accepts"));
        case SB_VERIFY_FORBIDDEN:
        default:
            metrics.webhooks_rejected.with({channel->id(), "forbidden"}).inc();
            spdlog::info("webhook rejected channel={} status=403 reason=\"{}\"", channel->id(),
                         refusal_reason(verdict));
            return exchange->respond(
                http::error_response(403, "forbidden", "webhook credentials do not match"));
    }

    store::InboundRequest request;
    request.channel_id = channel->id();
    request.method = exchange->method();
    request.target = exchange->target();
    request.headers = storable_headers(headers);
    request.body = exchange->take_body();
    request.received_ms = util::now_ms();
    auto& received = metrics.webhooks_received.with({channel->id()});
    auto& store_failed = metrics.webhooks_rejected.with({channel->id(), "store_unavailable"});
    bool queued = committer_.submit(std::move(request), [exchange, &received, &store_failed](bool durable) {
        if (durable) {
            received.inc();
            exchange->respond(http::json_response(200, R"({"status":"accepted"})"));
        } else {
            store_failed.inc();
            exchange->respond(http::error_response(503, "store_unavailable",
                                                   "the message could not be stored; retry later"));
        }
    });
    if (!queued) {
        metrics.webhooks_rejected.with({channel->id(), "overloaded"}).inc();
        exchange->respond(http::error_response(503, "overloaded", "too many webhooks waiting to be stored"));
    }
}

LongPoller::LongPoller(boost::asio::io_context& io, http_client::Client& client,
                       std::shared_ptr<plugin_host::Channel> channel, GroupCommitter& committer)
    : io_(io), client_(client), channel_(std::move(channel)), committer_(committer) {}

void LongPoller::start() {
    spdlog::info("long polling started channel={}", channel_->id());
    boost::asio::post(io_, [self = shared_from_this()] { self->poll(); });
}

void LongPoller::stop() { stopped_ = true; }

void LongPoller::poll() {
    if (stopped_) return;
    auto built = channel_->poll_request();
    if (built.status != SB_OK) {
        spdlog::error("long poll request failed channel={} error=\"{}\"", channel_->id(), built.error);
        return retry_later();
    }
    client_.send(std::move(built.request), [self = shared_from_this()](http_client::Response response) {
        self->on_response(std::move(response));
    });
}

void LongPoller::on_response(http_client::Response response) {
    if (stopped_) return;
    auto outcome = channel_->poll_response(response);
    if (!outcome.ok) {
        spdlog::warn("long poll failed channel={} status={} error=\"{}\"", channel_->id(), response.status,
                     outcome.error.empty() ? response.transport_error : outcome.error);
        return retry_later();
    }
    backoff_ms_ = 0;
    if (outcome.events.empty()) return poll();

    // Ask for more only when every update of this batch is durable.
    struct Batch {
        std::atomic<std::size_t> remaining;
        std::atomic<bool> failed{false};
    };
    auto batch = std::make_shared<Batch>();
    batch->remaining = outcome.events.size();
    auto self = shared_from_this();
    auto on_done = [self, batch](bool durable) {
        if (!durable) batch->failed = true;
        if (--batch->remaining == 0) {
            boost::asio::post(self->io_, [self, failed = batch->failed.load()] {
                if (failed) return self->retry_later();
                self->poll();
            });
        }
    };
    for (auto& update : outcome.events) {
        store::InboundRequest request;
        request.channel_id = channel_->id();
        request.method = "POST";
        request.target = "/long-poll/" + channel_->id();
        request.body = std::move(update);
        request.received_ms = util::now_ms();
        if (!committer_.submit(std::move(request), on_done)) on_done(false);
    }
}

void LongPoller::retry_later() {
    if (stopped_) return;
    backoff_ms_ = backoff_ms_ == 0 ? 500 : std::min(backoff_ms_ * 2, 30'000);
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(backoff_ms_));
    timer->async_wait([self = shared_from_this(), timer](boost::system::error_code) { self->poll(); });
}

}  // namespace sb::webhook
