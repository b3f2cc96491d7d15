#pragma once
// Where a webhook becomes a queue row: verify through the channel's plugin on the I/O
// thread, then a durable append to the inbound queue, group-committed with every other
// webhook that arrived meanwhile, and only then the 200.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "http/server.hpp"
#include "http_client/client.hpp"
#include "plugin_host/channel.hpp"
#include "store/store.hpp"

namespace boost::asio {
class io_context;
}

namespace sb::webhook {

// Where the committer's batches go once durable.
struct CommitSink {
    // After a batch committed queued (or failed to commit): whoever claims rows may look.
    std::function<void()> on_committed;
    // Optional, on a store that Store::enqueues_claimed(): asked before each batch; true =
    // commit it claimed by this process (a lease of `lease_ms`) and give its rows to
    // `hand_over` in memory, so that nobody reads them back from the store.
    std::function<bool()> may_hand_over;
    std::function<void(std::vector<store::QueuedInbound>)> hand_over;
    std::int64_t lease_ms = 0;
};

// Appends inbound requests to the store, many per transaction: one writer thread takes
// everything submitted since its last commit and writes it in one go.
class GroupCommitter {
public:
    using Done = std::function<void(bool durable)>;

    GroupCommitter(store::Store& store, CommitSink sink, std::size_t max_pending = 100'000);
    ~GroupCommitter();
    GroupCommitter(const GroupCommitter&) = delete;
    GroupCommitter& operator=(const GroupCommitter&) = delete;

    // `done` runs on the committer's thread once the request is durable (true) or the store
    // failed (false). Refuses (returns false, `done` not called) when too much is pending.
    bool submit(store::InboundRequest request, Done done);
    void stop();
    // False while the last commit failed (the store is unreachable or refusing writes).
    bool healthy() const { return healthy_.load(); }

private:
    void run();

    store::Store& store_;
    CommitSink sink_;
    std::size_t max_pending_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<store::InboundRequest> pending_;
    std::vector<Done> pending_done_;
    bool stopping_ = false;
    std::atomic<bool> healthy_{true};
    std::thread thread_;
};

// POST/GET /webhooks/{channel_id}.
class WebhookEndpoint {
public:
    WebhookEndpoint(const plugin_host::LiveChannels& channels, GroupCommitter& committer)
        : channels_(channels), committer_(committer) {}

    void handle(const std::shared_ptr<http::Exchange>& exchange, std::string_view channel_id);

private:
    const plugin_host::LiveChannels& channels_;
    GroupCommitter& committer_;
};

// Receives for channels with `receive: long_poll`: asks the platform for updates (the plugin
// builds the request), queues each update exactly like a webhook body, and asks for more
// only after they are durable, so the platform never forgets an update we have not stored.
class LongPoller : public std::enable_shared_from_this<LongPoller> {
public:
    LongPoller(boost::asio::io_context& io, http_client::Client& client,
               std::shared_ptr<plugin_host::Channel> channel, GroupCommitter& committer);
    void start();
    void stop();

private:
    void poll();
    void on_response(http_client::Response response);
    void retry_later();

    boost::asio::io_context& io_;
    http_client::Client& client_;
    std::shared_ptr<plugin_host::Channel> channel_;
    GroupCommitter& committer_;
    std::atomic<bool> stopped_{false};
    int backoff_ms_ = 0;
};

}  // namespace sb::webhook
