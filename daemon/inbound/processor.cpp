#include "inbound/processor.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "metrics/metrics.hpp"
#include "util/thread_name.hpp"
#include "util/time.hpp"

namespace sb::inbound {
namespace {

// How often the queue is looked at when nothing woke the processor (rows released for a later
// attempt, leases that ran out).
constexpr std::int64_t kPollMs = 500;
// Rows in memory, in batches (Processor::accepts_hand_over): more is a backlog, left in the store.
constexpr std::size_t kInboxBatches = 8;

// How long a failed row waits before its next attempt: 1 s, 2 s, 4 s … capped at 5 min.
std::int64_t backoff_ms(int attempts) {
    std::int64_t delay = 1000;
    for (int i = 1; i < attempts && delay < 300'000; ++i) delay *= 2;
    return std::min<std::int64_t>(delay, 300'000);
}

}  // namespace

Processor::Processor(store::Store& store, const plugin_host::LiveChannels& channels,
                     notifier::Notifier& notifier, config::InboundConfig config)
    : store_(store), channels_(channels), notifier_(notifier), config_(config) {}

Processor::~Processor() { stop(); }

void Processor::start() {
    thread_ = std::thread([this] {
        util::name_this_thread("sb-inbound");
        run();
    });
}

void Processor::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void Processor::wake() {
    {
        std::lock_guard lock(mutex_);
        pending_ = true;
    }
    wake_.notify_one();
}

void Processor::queued_committed() {
    {
        std::lock_guard lock(mutex_);
        pending_ = true;
        queued_done_ = queued_begun_;  // one committer: what it began, it has finished
    }
    wake_.notify_one();
}

bool Processor::accepts_hand_over() {
    std::lock_guard lock(mutex_);
    // A backlog stays in the store: memory holds at most a few batches.
    const std::size_t limit = static_cast<std::size_t>(std::max(1, config_.batch_size)) * kInboxBatches;
    if (handing_over_ && !stopping_ && inbox_.size() < limit) return true;
    // From here on every batch is queued until claim() has caught up with the queue.
    handing_over_ = false;
    ++queued_begun_;
    return false;
}

void Processor::hand_over(std::vector<store::QueuedInbound> rows) {
    {
        std::lock_guard lock(mutex_);
        if (!handing_over_ || stopping_) return;
        for (auto& row : rows) inbox_.push_back(std::move(row));
        pending_ = true;
    }
    wake_.notify_one();
}

void Processor::run() {
    int store_backoff_ms = 0;
    std::int64_t next_claim_ms = 0;
    for (;;) {
        std::vector<store::QueuedInbound> rows;
        bool may_start_hand_over = false;
        std::uint64_t queued_mark = 0;
        bool handing_over = false;
        {
            std::unique_lock lock(mutex_);
            if (stopping_) return;
            pending_ = false;
            handing_over = handing_over_;
            if (!inbox_.empty()) {
                const auto n =
                    std::min(inbox_.size(), static_cast<std::size_t>(std::max(1, config_.batch_size)));
                rows.reserve(n);
                for (std::size_t i = 0; i < n; ++i) {
                    rows.push_back(std::move(inbox_.front()));
                    inbox_.pop_front();
                }
            } else if (!handing_over_ && queued_begun_ == queued_done_ && store_.enqueues_claimed() &&
                       util::now_ms() >= no_hand_over_until_ms_) {
                // If the claim below finds nothing, nothing queued is older than what the
                // committer commits next, unless it began a queued batch meanwhile.
                may_start_hand_over = true;
                queued_mark = queued_begun_;
            }
        }
        std::size_t taken = rows.size();
        const std::int64_t now = util::now_ms();
        try {
            // While handing over, the queue holds only retries and expired leases: look at it
            // on the poll, not after every batch.
            if (rows.empty() && (!handing_over || now >= next_claim_ms)) {
                rows = store_.claim(config_.batch_size, now, config_.lease_ms);
                taken = rows.size();
                next_claim_ms = now + kPollMs;
                if (rows.empty() && may_start_hand_over) {
                    std::lock_guard lock(mutex_);
                    if (queued_begun_ == queued_mark) handing_over_ = true;
                }
            }
            if (!rows.empty()) step(std::move(rows));
            store_backoff_ms = 0;
            healthy_ = true;
        } catch (const std::exception& e) {
            // The store is failing: claimed rows keep their lease and come back later, those in
            // memory too (dropped here); nothing is handed over before their lease ends.
            metrics::registry().store_errors.with({"inbound"}).inc();
            healthy_ = false;
            store_backoff_ms = store_backoff_ms == 0 ? 100 : std::min(store_backoff_ms * 2, 5000);
            spdlog::error("inbound processing failed error=\"{}\" retry_in_ms={}", e.what(),
                          store_backoff_ms);
            std::lock_guard lock(mutex_);
            handing_over_ = false;
            inbox_.clear();
            no_hand_over_until_ms_ = util::now_ms() + config_.lease_ms;
        }
        if (taken > 0 && store_backoff_ms == 0) continue;  // more may be waiting
        std::unique_lock lock(mutex_);
        // Rows released for a later attempt are found by this periodic look.
        std::int64_t wait_ms = store_backoff_ms > 0 ? store_backoff_ms : kPollMs;
        if (store_backoff_ms == 0 && handing_over_)
            wait_ms = std::max<std::int64_t>(1, next_claim_ms - util::now_ms());
        wake_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                       [&] { return stopping_ || (pending_ && store_backoff_ms == 0); });
    }
}

void Processor::step(std::vector<store::QueuedInbound> rows) {
    const std::int64_t now = util::now_ms();
    std::vector<store::ParsedRow> parsed;
    parsed.reserve(rows.size());
    follow_ups_.clear();
    for (auto& row : rows) {
        auto channel = channels_.find(row.request.channel_id);
        if (!channel) {
            dead_letter(row.id, row.attempts, row.request.channel_id,
                        "channel '" + row.request.channel_id + "' is not configured", now);
            spdlog::warn("inbound dead-lettered row={} channel={} reason=\"channel not configured\"", row.id,
                         row.request.channel_id);
            continue;
        }
        if (!channel->ready()) {
            // The plugin may be fixed and the daemon restarted: keep the row, try later.
            if (row.attempts >= config_.max_attempts) {
                dead_letter(row.id, row.attempts, row.request.channel_id,
                            "channel failed: " + channel->failure(), now);
            } else {
                store_.release(row.id, now + backoff_ms(row.attempts),
                               "channel failed: " + channel->failure(), row.attempts);
            }
            continue;
        }
        auto outcome = channel->parse(row.request);
        if (!outcome.ok) {
            // A body the plugin cannot parse never will be: straight to dead letter, raw kept.
            dead_letter(row.id, row.attempts, row.request.channel_id, "parse failed: " + outcome.error, now);
            spdlog::warn("inbound dead-lettered row={} channel={} reason=\"{}\"", row.id, channel->id(),
                         outcome.error);
            continue;
        }
        std::vector<events::NormalizedEvent> events;
        std::string bad;
        for (const auto& json : outcome.events) {
            events::ParseError error;
            auto event = events::read_event(json, error);
            if (!event) {
                bad = error.message;
                break;
            }
            events.push_back(std::move(*event));
        }
        if (!bad.empty()) {
            dead_letter(row.id, row.attempts, row.request.channel_id,
                        "plugin emitted an invalid event: " + bad, now);
            spdlog::error("inbound dead-lettered row={} channel={} reason=\"invalid event: {}\"", row.id,
                          channel->id(), bad);
            continue;
        }
        if (!outcome.follow_ups.empty()) follow_ups_[row.id] = std::move(outcome.follow_ups);
        route(row, *channel, std::move(events), parsed, now);
    }
    if (parsed.empty()) return;

    std::vector<store::ApplyResult> results;
    try {
        results = store_.apply(parsed, util::now_ms());
    } catch (const store::StoreError& e) {
        if (parsed.size() == 1) throw;
        // One row may be what the store refuses: apply them one by one so it cannot hold
        // up the others. A store that is down fails the first one and we back off.
        spdlog::warn("inbound batch apply failed rows={} error=\"{}\"; applying one by one", parsed.size(),
                     e.what());
        // In queue order; a queue row's ParsedRows (adjacent) go together.
        for (std::size_t begin = 0, end = 0; begin < parsed.size(); begin = end) {
            for (end = begin + 1; end < parsed.size() && parsed[end].row_id == parsed[begin].row_id;) ++end;
            apply_one(std::span<const store::ParsedRow>(parsed).subspan(begin, end - begin), rows);
        }
        return;
    }
    publish(parsed, results);
    observe_latency(rows);
}

void Processor::route(const store::QueuedInbound& row, const plugin_host::Channel& channel,
                      std::vector<events::NormalizedEvent> events, std::vector<store::ParsedRow>& out,
                      std::int64_t now) {
    // One ParsedRow per channel the row's events belong to (all share the queue row, which
    // the apply removes once). Events name their account when one webhook URL serves many.
    auto row_for = [&](const std::string& channel_id) -> store::ParsedRow& {
        for (auto& parsed : out) {
            if (parsed.row_id == row.id && parsed.channel_id == channel_id) return parsed;
        }
        out.push_back(store::ParsedRow{row.id, channel_id, {}, row.attempts, row.request.received_ms});
        return out.back();
    };
    std::vector<std::string> unrouted;
    row_for(channel.id());  // the row is consumed even when every event went elsewhere
    for (auto& event : events) {
        if (event.account_id.empty() || event.account_id == channel.account()) {
            row_for(channel.id()).events.push_back(std::move(event));
            continue;
        }
        auto target = channels_.find_by_account(channel.plugin_id(), event.account_id);
        if (!target) {
            if (std::find(unrouted.begin(), unrouted.end(), event.account_id) == unrouted.end())
                unrouted.push_back(event.account_id);
            continue;
        }
        row_for(target->id()).events.push_back(std::move(event));
    }
    for (const auto& account : unrouted) {
        // Kept whole (the raw request) so it can be replayed once the channel exists.
        std::string reason =
            "no channel of plugin '" + channel.plugin_id() + "' serves account '" + account + "'";
        store_.add_dead_letter(row.request, reason, now);
        metrics::registry().dead_letters.with({channel.id()}).inc();
        spdlog::warn("inbound event dead-lettered row={} channel={} reason=\"{}\"", row.id, channel.id(),
                     reason);
    }
}

void Processor::apply_one(std::span<const store::ParsedRow> rows,
                          const std::vector<store::QueuedInbound>& claimed) {
    const store::ParsedRow& row = rows.front();
    try {
        publish(rows, store_.apply(rows, util::now_ms()));
    } catch (const store::StoreError& e) {
        int attempts = 0;
        for (const auto& c : claimed)
            if (c.id == row.row_id) attempts = c.attempts;
        const std::int64_t now = util::now_ms();
        if (attempts >= config_.max_attempts) {
            dead_letter(row.row_id, row.claim, row.channel_id,
                        std::string("store refused the row: ") + e.what(), now);
            spdlog::error("inbound dead-lettered row={} channel={} reason=\"store refused: {}\"", row.row_id,
                          row.channel_id, e.what());
        } else {
            store_.release(row.row_id, now + backoff_ms(attempts), e.what(), row.claim);
        }
    }
}

void Processor::dead_letter(std::int64_t row_id, int claim, const std::string& channel_id,
                            const std::string& reason, std::int64_t now) {
    store_.dead_letter(row_id, reason, now, claim);
    metrics::registry().dead_letters.with({channel_id}).inc();
}

void Processor::observe_latency(const std::vector<store::QueuedInbound>& rows) {
    const std::int64_t now = util::now_ms();
    for (const auto& row : rows)
        metrics::registry().processing_latency.observe(static_cast<double>(now - row.request.received_ms) /
                                                       1000.0);
}

void Processor::publish(std::span<const store::ParsedRow> rows,
                        const std::vector<store::ApplyResult>& results) {
    bool any = false;
    for (const auto& result : results) any = any || !result.events.empty();
    if (any && before_publish_) before_publish_();
    for (std::size_t i = 0; i < results.size() && i < rows.size(); ++i) {
        if (results[i].fenced) {
            // Another worker took the row over after our lease ran out and owns it now.
            spdlog::info("inbound row={} channel={} skipped: its lease expired and another worker took it",
                         rows[i].row_id, rows[i].channel_id);
            continue;
        }
        publish_one(rows[i].channel_id, results[i]);
        // Stored: the plugin's follow-ups for this row go out now (once per queue row).
        if (auto it = follow_ups_.find(rows[i].row_id); it != follow_ups_.end()) {
            for (auto& request : it->second)
                if (follow_up_) follow_up_(std::move(request));
            follow_ups_.erase(it);
        }
    }
}

void Processor::publish_one(const std::string& channel_id, const store::ApplyResult& result) {
    auto& m = metrics::registry();
    m.messages_stored.with({channel_id}).inc(result.events.size());
    if (result.duplicates > 0)
        m.duplicates.with({channel_id}).inc(static_cast<std::uint64_t>(result.duplicates));
    for (const auto& event : result.events) notifier_.publish(event);
    if (on_stored_ && !result.events.empty()) on_stored_(channel_id, result);
    for (const auto& typing : result.ephemeral) {
        if (typing.type == events::EventType::ignored) {
            m.ignored_updates.with({channel_id, typing.ignored_kind}).inc();
            continue;
        }
        if (typing.type != events::EventType::typing) continue;
        // Typing is for whoever sees the conversation: its assignee (or everyone while it is
        // unassigned) and admins.
        std::int64_t conversation = 0;
        std::string audience;
        if (auto c = store_.conversation_by_platform_id(channel_id, typing.conversation_id)) {
            conversation = c->id;
            audience = c->assignee_id;
        }
        notifier_.publish_typing(channel_id, typing.conversation_id, conversation, audience,
                                 typing.typing_state);
    }
}

}  // namespace sb::inbound
