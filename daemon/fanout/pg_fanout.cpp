#include "fanout/pg_fanout.hpp"

#include <spdlog/spdlog.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "store/postgres/event_log.hpp"
#include "util/thread_name.hpp"
#include "util/time.hpp"

namespace sb::fanout {
namespace {

// Seqs remembered as skipped at most; a larger hole (e.g. a burst of rolled-back
// transactions) keeps its newest ones.
constexpr std::size_t kMaxMissing = 100'000;
constexpr int kMaxBackoffMs = 5000;
// At start, how far below the store's last seq to look for seqs still in flight.
constexpr std::int64_t kStartWindow = 1000;

// libpq's messages span lines; a log line wants one.
std::string one_line(std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::replace(text.begin(), text.end(), '\t', ' ');
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

class Receiver final : public pqxx::notification_receiver {
public:
    Receiver(pqxx::connection_base& conn, bool& woken)
        : notification_receiver(conn, kChannel), woken_(woken) {}
    void operator()(const std::string&, int) override { woken_ = true; }

private:
    bool& woken_;
};

int next_backoff(int backoff_ms) { return backoff_ms == 0 ? 100 : std::min(backoff_ms * 2, kMaxBackoffMs); }

}  // namespace

std::string with_network_timeouts(const std::string& dsn, int connect_seconds) {
    // A server that vanishes without a FIN/RST (host down, network cut) is noticed by the
    // keepalive probes of an idle connection within idle + interval × count = 25 s, and by
    // tcp_user_timeout (30 s of unacknowledged data) in the middle of a query. Ignored on
    // Unix sockets.
    const std::pair<const char*, std::string> settings[] = {
        {"connect_timeout", std::to_string(connect_seconds)},
        {"keepalives", "1"},
        {"keepalives_idle", "10"},
        {"keepalives_interval", "5"},
        {"keepalives_count", "3"},
        {"tcp_user_timeout", "30000"},
    };
    const bool uri = dsn.starts_with("postgresql://") || dsn.starts_with("postgres://");
    std::string out = dsn;
    for (const auto& [key, value] : settings) {
        if (dsn.find(key) != std::string::npos) continue;  // the operator's own value wins
        std::string setting = std::string(key) + "=" + value;
        if (uri)
            out += (out.find('?') == std::string::npos ? "?" : "&") + setting;
        else
            out += (out.empty() ? "" : " ") + setting;
    }
    return out;
}

PgFanout::PgFanout(std::string dsn, notifier::Notifier& notifier, std::int64_t start_seq, Options options)
    : dsn_(std::move(dsn)), notifier_(notifier), options_(options), cursor_(start_seq) {}

PgFanout::~PgFanout() { stop(); }

void PgFanout::start() {
    notify_thread_ = std::thread([this] {
        util::name_this_thread("sb-pg-notify");
        notify_loop();
    });
    listen_thread_ = std::thread([this] {
        util::name_this_thread("sb-pg-listen");
        listen_loop();
    });
}

void PgFanout::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    stop_listen_ = true;
    wake_.notify_all();
    if (notify_thread_.joinable()) notify_thread_.join();
    if (listen_thread_.joinable()) listen_thread_.join();
}

void PgFanout::committed(std::int64_t seq) {
    {
        std::lock_guard lock(mutex_);
        if (seq <= pending_seq_) return;
        pending_seq_ = seq;
    }
    wake_.notify_one();
}

void PgFanout::notify_loop() {
    std::unique_ptr<pqxx::connection> conn;
    std::int64_t sent = 0;
    int backoff_ms = 0;
    for (;;) {
        std::int64_t seq = 0;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || pending_seq_ > sent; });
            if (pending_seq_ <= sent) return;  // stopping, nothing left to say
            seq = pending_seq_;
        }
        try {
            if (!conn || !conn->is_open()) {
                conn.reset();
                conn = std::make_unique<pqxx::connection>(dsn_);
            }
            // Autocommit, on a connection of its own: the notifying transaction is this one
            // statement, never a data transaction.
            store::postgres::notify(*conn, kChannel, std::to_string(seq));
            sent = seq;
            if (backoff_ms > 0) spdlog::info("fanout notify connection restored");
            backoff_ms = 0;
        } catch (const std::exception& e) {
            conn.reset();
            backoff_ms = next_backoff(backoff_ms);
            spdlog::warn("fanout notify failed error=\"{}\" retry_in_ms={}", one_line(e.what()), backoff_ms);
            // Listeners also poll: a NOTIFY that never goes out only delays other instances.
            std::unique_lock lock(mutex_);
            if (stopping_) return;
            wake_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; });
            continue;
        }
        // Coalesce: whatever commits within the interval goes out in the next single NOTIFY.
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::milliseconds(options_.notify_interval_ms),
                       [&] { return stopping_; });
    }
}

struct PgFanout::Reader {
    std::unique_ptr<pqxx::connection> conn;
};

template <typename Connection>
void PgFanout::read_events(Connection& conn) {
    if (!started_) {
        // Seqs just below the start that are not visible yet may belong to transactions still
        // in flight: wait for them like for any other gap. Done by whichever read comes first
        // (the listen thread's, or a catch-up before it connected).
        const std::int64_t start = cursor_.load();
        std::set<std::int64_t> present;
        for (auto seq : store::postgres::event_seqs_between(conn, start - kStartWindow, start))
            present.insert(seq);
        for (auto seq = std::max<std::int64_t>(1, start - kStartWindow + 1); seq <= start; ++seq)
            if (!present.contains(seq)) missing_.emplace(seq, Clock::now());
        started_ = true;
    }
    std::int64_t cursor = cursor_.load();
    const auto now = Clock::now();
    const auto deadline = now - std::chrono::milliseconds(options_.gap_timeout_ms);
    for (auto it = missing_.begin(); it != missing_.end();)
        it = it->second < deadline ? missing_.erase(it) : ++it;
    if (!missing_.empty()) {
        std::vector<std::int64_t> seqs;
        seqs.reserve(missing_.size());
        for (const auto& [seq, since] : missing_) seqs.push_back(seq);
        for (const auto& event : store::postgres::events_with_seqs(conn, seqs)) {
            missing_.erase(event.seq);
            notifier_.publish_remote(event);
        }
    }
    for (;;) {
        const auto events = store::postgres::events_after(conn, cursor, options_.batch);
        for (const auto& event : events) {
            // Seqs between the cursor and this one were taken by transactions not yet
            // committed (or rolled back): wait for them a while.
            for (auto seq = std::max(cursor + 1, event.seq - static_cast<std::int64_t>(kMaxMissing));
                 seq < event.seq; ++seq)
                missing_.emplace(seq, now);
            while (missing_.size() > kMaxMissing) missing_.erase(missing_.begin());
            cursor = event.seq;
            cursor_ = cursor;
            notifier_.publish_remote(event);
        }
        if (static_cast<int>(events.size()) < options_.batch) break;
    }
}

void PgFanout::catch_up() {
    // The listen thread may be in the middle of a read (it delivers in order too); never wait
    // long for it: a hanging LISTEN connection must not stall inbound processing.
    std::unique_lock lock(read_mutex_, std::defer_lock);
    if (!lock.try_lock_for(std::chrono::milliseconds(100))) return;
    try {
        if (!reader_) reader_ = std::make_unique<Reader>();
        if (!reader_->conn || !reader_->conn->is_open()) {
            reader_->conn.reset();
            reader_->conn = std::make_unique<pqxx::connection>(dsn_);
        }
        read_events(*reader_->conn);
    } catch (const std::exception& e) {
        reader_.reset();
        spdlog::warn("fanout catch-up failed error=\"{}\"", one_line(e.what()));
    }
}

void PgFanout::listen_loop() {
    int backoff_ms = 0;

    while (!stop_listen_) {
        std::unique_ptr<pqxx::connection> conn;
        try {
            conn = std::make_unique<pqxx::connection>(dsn_);
            bool woken = false;
            Receiver receiver(*conn, woken);  // LISTEN switchboard_events
            listening_ = true;
            if (backoff_ms > 0) spdlog::info("fanout listen connection restored cursor={}", cursor_.load());
            backoff_ms = 0;
            std::unique_lock lock(read_mutex_);
            // Catch up on what was committed while not listening.
            read_events(*conn);
            lock.unlock();
            auto next_poll = Clock::now() + std::chrono::milliseconds(options_.poll_interval_ms);
            while (!stop_listen_) {
                // Short waits so stop() is prompt; a notification ends the wait at once.
                auto left = std::chrono::duration_cast<std::chrono::microseconds>(next_poll - Clock::now());
                auto wait = std::clamp<std::int64_t>(left.count(), 0, 250'000);
                woken = false;
                conn->await_notification(static_cast<long>(wait / 1'000'000),
                                         static_cast<long>(wait % 1'000'000));
                if (!conn->is_open()) throw pqxx::broken_connection("the LISTEN connection closed");
                if (woken || Clock::now() >= next_poll) {
                    std::lock_guard read_lock(read_mutex_);
                    read_events(*conn);
                    next_poll = Clock::now() + std::chrono::milliseconds(options_.poll_interval_ms);
                }
            }
        } catch (const std::exception& e) {
            listening_ = false;
            backoff_ms = next_backoff(backoff_ms);
            spdlog::warn("fanout listen failed error=\"{}\" cursor={} retry_in_ms={}", one_line(e.what()),
                         cursor_.load(), backoff_ms);
        }
        listening_ = false;
        conn.reset();
        const auto until = Clock::now() + std::chrono::milliseconds(backoff_ms);
        while (!stop_listen_ && Clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace sb::fanout
