#pragma once
// Turns queued webhook rows into stored messages and notifications: claim a batch, parse
// each row through its channel's plugin, apply the batch in one transaction (dedupe,
// contacts, conversations, messages, events), then publish the events. A row that can never
// be parsed is dead-lettered with the reason and does not hold up the rows behind it.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <thread>

#include "config/config.hpp"
#include "http_client/client.hpp"
#include "notifier/notifier.hpp"
#include "plugin_host/channel.hpp"
#include "store/store.hpp"

namespace sb::inbound {

class Processor {
public:
    Processor(store::Store& store, const plugin_host::LiveChannels& channels, notifier::Notifier& notifier,
              config::InboundConfig config);
    ~Processor();
    Processor(const Processor&) = delete;
    Processor& operator=(const Processor&) = delete;

    void start();
    // Finishes the batch in hand and stops; unclaimed rows stay queued for the next start.
    void stop();
    // New rows were committed: look now rather than at the next poll.
    void wake();
    // False while processing fails on the store.
    bool healthy() const { return healthy_.load(); }
    // Called after a batch committed and before its events are published (set before start).
    // With several instances: delivers what the others committed earlier first, so that an
    // agent here never gets a chat's newer message before an older one applied elsewhere.
    void set_before_publish(std::function<void()> hook) { before_publish_ = std::move(hook); }
    // Sends a plugin's follow-up request (ABI 1.1: submitted during parse) once the row it came
    // with is stored (set before start; without it follow-ups are dropped).
    void set_follow_up(std::function<void(http_client::Request)> hook) { follow_up_ = std::move(hook); }
    // Called with each row's stored result after its events were published (set before start):
    // the media worker learns of new messages with files this way.
    void set_on_stored(std::function<void(const std::string& channel_id, const store::ApplyResult&)> hook) {
        on_stored_ = std::move(hook);
    }

private:
    void run();
    // Processes one claimed batch; returns how many rows it claimed.
    std::size_t step();
    void route(const store::QueuedInbound& row, const plugin_host::Channel& channel,
               std::vector<events::NormalizedEvent> events, std::vector<store::ParsedRow>& out,
               std::int64_t now);
    // The ParsedRows of one queue row, applied on their own (after a batch failed).
    void apply_one(std::span<const store::ParsedRow> rows, const std::vector<store::QueuedInbound>& claimed);
    void publish(std::span<const store::ParsedRow> rows, const std::vector<store::ApplyResult>& results);
    void publish_one(const std::string& channel_id, const store::ApplyResult& result);
    // `claim`: the row's attempts under this worker's claim (a stale worker changes nothing).
    void dead_letter(std::int64_t row_id, int claim, const std::string& channel_id, const std::string& reason,
                     std::int64_t now);
    void observe_latency(const std::vector<store::QueuedInbound>& rows);

    store::Store& store_;
    const plugin_host::LiveChannels& channels_;
    notifier::Notifier& notifier_;
    config::InboundConfig config_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool pending_ = false;
    bool stopping_ = false;
    std::atomic<bool> healthy_{true};
    std::function<void()> before_publish_;
    std::function<void(http_client::Request)> follow_up_;
    std::function<void(const std::string&, const store::ApplyResult&)> on_stored_;
    // This step's follow-ups by queue row, sent when the row is stored (on this thread only).
    std::map<std::int64_t, std::vector<http_client::Request>> follow_ups_;
    std::thread thread_;
};

}  // namespace sb::inbound
