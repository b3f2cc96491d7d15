#pragma once
// Events across instances sharing one PostgreSQL (DESIGN §4, scale-out). Each instance
// publishes its own events in-process at once (Notifier::publish); this carries them to the
// others, with no cluster protocol of its own:
//
// - Notify side: a local commit signals the coalescer, and a dedicated connection sends at
//   most one `NOTIFY switchboard_events, '<newest seq>'` per notify interval, in its own
//   autocommit statement — never inside a data transaction, never once per event.
// - Listen side: a dedicated connection LISTENs on its own thread. On a notification, and on
//   a slow poll (a dropped LISTEN connection delays an event, never loses it), it reads the
//   events after its cursor and hands them to Notifier::publish_remote, which ignores the
//   ones this instance published already.
// - Catch-up: before this instance publishes a batch of its own, catch_up() delivers what the
//   others committed earlier, so that a chat whose rows were applied by another instance a
//   moment ago reaches local agents in order.
// - The outbox gap: sequence values are taken before commit, so seq 11 may be visible before
//   10. Seqs skipped below the cursor are remembered and read again on every wake for
//   gap_timeout_ms (after which their transaction surely rolled back).
//
// Broken connections are made anew with backoff; the store's outage handling is the pool's.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "notifier/notifier.hpp"

namespace sb::fanout {

// The channel NOTIFY and LISTEN use.
inline constexpr char kChannel[] = "switchboard_events";

struct Options {
    int notify_interval_ms = 5;   // at most one NOTIFY per interval
    int poll_interval_ms = 2000;  // read even without a notification
    int gap_timeout_ms = 30'000;  // how long a skipped seq is waited for
    int batch = 500;              // events per read
};

// `dsn` with libpq's network timeouts added where it does not set them: connect_timeout
// (seconds), so connecting to an unreachable server fails instead of hanging, and TCP
// keepalives plus tcp_user_timeout, so a server that silently drops off the network breaks
// the connection (and the pool makes a new one) instead of leaving a query waiting forever.
// Works on "key=value" and URI DSNs.
std::string with_network_timeouts(const std::string& dsn, int connect_seconds);

class PgFanout {
public:
    // Events after `start_seq` (the store's last_seq at start) are delivered.
    PgFanout(std::string dsn, notifier::Notifier& notifier, std::int64_t start_seq, Options options = {});
    ~PgFanout();
    PgFanout(const PgFanout&) = delete;
    PgFanout& operator=(const PgFanout&) = delete;

    void start();
    // Joins both threads; a pending NOTIFY is sent first when the database is reachable.
    void stop();

    // A local commit produced events up to `seq` (any thread; never blocks on the database).
    void committed(std::int64_t seq);

    // Reads and delivers, now, the events committed after the cursor (on the calling thread,
    // with a connection of its own; the listen thread's reads wait meanwhile). A failure is
    // logged and left to the listen thread's next read.
    void catch_up();

    // The listen connection is up (for logs and tests).
    bool listening() const { return listening_.load(); }
    std::int64_t cursor() const { return cursor_.load(); }

private:
    struct Reader;  // a connection for catch_up()
    using Clock = std::chrono::steady_clock;

    void notify_loop();
    void listen_loop();
    // Reads everything after the cursor and re-reads the seqs skipped below it; call with
    // read_mutex_ held. `Connection` is pqxx::connection (kept out of this header).
    template <typename Connection>
    void read_events(Connection& conn);

    std::string dsn_;
    notifier::Notifier& notifier_;
    Options options_;

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::int64_t pending_seq_ = 0;  // newest seq committed locally and not yet NOTIFYed
    std::atomic<bool> listening_{false};
    std::atomic<bool> stop_listen_{false};
    std::atomic<std::int64_t> cursor_;
    // What read_events() works on; one reader at a time.
    std::timed_mutex read_mutex_;
    bool started_ = false;                               // the start-up gap window was looked at
    std::map<std::int64_t, Clock::time_point> missing_;  // skipped seqs → when first skipped
    std::unique_ptr<Reader> reader_;
    std::thread notify_thread_;
    std::thread listen_thread_;
};

}  // namespace sb::fanout
