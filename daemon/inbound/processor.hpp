#pragma once
// Turns queued webhook rows into stored messages and notifications: claim a batch, parse
// each row through its channel's plugin, apply the batch in one transaction (dedupe,
// contacts, conversations, messages, events), then publish the events. A row that can never
// be parsed is dead-lettered with the reason and does not hold up the rows behind it.
//
// On a store only this process uses (Store::enqueues_claimed, SQLite) the webhook committer
// hands each committed batch over in memory, already claimed, instead of the processor
// claiming it back and reading every body again: one store transaction per batch (apply)
// rather than two. claim() stays for what memory does not hold: rows left by an earlier
// process (start-up), rows released for a later attempt, rows whose lease ran out, and
// every row on PostgreSQL. Rows are applied in arrival order either way: the committer
// hands over only while nothing queued is older (see accepts_hand_over).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

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
    // New rows were queued: look now rather than at the next poll.
    void wake();
    // From the committer, after the commit of a batch accepts_hand_over() declined, whether or
    // not it succeeded: wake(), and that batch is no longer in flight.
    void queued_committed();
    // From the committer, before it commits a batch: true = commit it claimed
    // (Store::enqueue_claimed) and hand it over; false = commit it queued, then wake(). Hands
    // over only after a claim() found the queue empty with no queued batch committed since,
    // so no row in memory overtakes an older one in the queue; a full inbox (a backlog)
    // declines, and the queue holds the backlog until claim() has caught up again.
    bool accepts_hand_over();
    // The rows of a batch committed claimed, in id order. Dropped when the processor stopped
    // taking them meanwhile (they stay claimed in the store and come back through claim()
    // once their lease ends, or at the next start).
    void hand_over(std::vector<store::QueuedInbound> rows);
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
    // Parses and applies a batch of rows held under their claim (claimed or handed over).
    void step(std::vector<store::QueuedInbound> rows);
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
    // Hand-over (under mutex_). Rows the committer handed over, not yet taken by run().
    std::deque<store::QueuedInbound> inbox_;
    bool handing_over_ = false;
    // Batches the committer began and finished committing queued (accepts_hand_over() false,
    // then wake()): equal = none in flight.
    std::uint64_t queued_begun_ = 0;
    std::uint64_t queued_done_ = 0;
    // After rows in memory were dropped (a store failure): they wait out their lease in the
    // store, and no hand-over starts before then that could overtake them.
    std::int64_t no_hand_over_until_ms_ = 0;
    std::atomic<bool> healthy_{true};
    std::function<void()> before_publish_;
    std::function<void(http_client::Request)> follow_up_;
    std::function<void(const std::string&, const store::ApplyResult&)> on_stored_;
    // This step's follow-ups by queue row, sent when the row is stored (on this thread only).
    std::map<std::int64_t, std::vector<http_client::Request>> follow_ups_;
    std::thread thread_;
};

}  // namespace sb::inbound
