#pragma once
// What the benchmark tools share: Telegram webhooks shaped like the real thing, latency
// statistics, a closed-loop / fixed-rate HTTP load driver over keep-alive connections, and
// reading a process's memory from /proc. Everything runs on one io_context on the caller's
// thread, so the tools need no locks.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace sb::bench {

using Clock = std::chrono::steady_clock;

inline std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// A Telegram Update carrying a private text message, as the Bot API POSTs it (platforms.md §5).
struct TelegramText {
    std::int64_t update_id = 1;
    std::int64_t message_id = 1;
    std::int64_t chat_id = 777;
    std::int64_t date = 1732540000;
    std::string text = "Hello";
};
std::string telegram_update(const TelegramText& m);

// A first id that later runs against the same database do not reuse: ids advance 100,000 per
// second of wall time, more than any run here sends per second.
std::int64_t fresh_id_base();

// A complete HTTP/1.1 request, ready to write on a keep-alive connection.
std::string raw_request(std::string_view method, std::string_view target, std::string_view host,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        std::string_view body);

// The webhook Telegram sends to /webhooks/{channel} with its secret-token header.
std::string telegram_webhook(std::string_view host, std::string_view channel, std::string_view secret,
                             const TelegramText& m);

// Latency samples in nanoseconds and their percentiles.
class Histogram {
public:
    void add(std::int64_t ns) {
        samples_.push_back(ns);
        sorted_ = false;
    }
    std::size_t count() const { return samples_.size(); }
    // p in [0, 100]; 0 when empty. Sorts on first use after an add.
    double percentile_ms(double p);
    double max_ms();
    // "p50 0.412 ms  p90 …  p99 …  max …"
    std::string summary();

private:
    void sort();
    std::vector<std::int64_t> samples_;
    bool sorted_ = true;
};

struct LoadOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    int connections = 64;
    double duration_s = 10;
    double warmup_s = 2;  // requests started in the warm-up are sent but not counted
    double rate = 0;      // requests/s over all connections; 0 = as fast as answers come back
};

struct LoadResult {
    double measured_s = 0;
    std::uint64_t sent = 0;
    std::uint64_t answered = 0;  // in the measured window
    std::uint64_t transport_errors = 0;
    std::uint64_t late = 0;  // fixed rate: requests that left more than 1 ms after their slot
    std::map<int, std::uint64_t> status;
    Histogram latency;  // fixed rate: from the request's slot (corrected for coordinated omission)
    double rps() const { return measured_s > 0 ? static_cast<double>(answered) / measured_s : 0; }
};

// Request number n (0, 1, 2 …) as raw HTTP bytes.
using MakeRequest = std::function<std::string(std::uint64_t n)>;
// Called when request n is written; `slot_ns` is when it was due (fixed rate) or sent.
using OnSend = std::function<void(std::uint64_t n, std::int64_t slot_ns)>;

// Drives `connections` keep-alive connections until `duration_s` (after the warm-up) is over,
// running `io` on this thread. A connection that fails is reopened.
LoadResult run_load(boost::asio::io_context& io, const LoadOptions& options, const MakeRequest& make,
                    const OnSend& on_send = {});

// "requests/s 31234.5  (answered 312345 in 10.00 s)  status 200=312345  p50 …"
void print_load(const char* title, LoadResult& result);

// The resident set of a process in KiB (VmRSS of /proc/<pid>/status); nullopt when unreadable.
std::optional<long> rss_kib(int pid);
// Entries in /proc/<pid>/fd; -1 when unreadable.
long open_fds(int pid);
// "Max open files" soft limit of a process from /proc/<pid>/limits; -1 when unreadable.
long fd_limit(int pid);
// Raises this process's soft RLIMIT_NOFILE to the hard limit and returns the new soft limit.
long raise_fd_limit();
// The kernel's TCP buffer memory in pages ("TCP: … mem N" of /proc/net/sockstat); -1 if unknown.
long tcp_mem_pages();

// Splits "http://host:port/path" into its parts; the port defaults to 80.
struct Url {
    std::string host;
    std::uint16_t port = 80;
    std::string path;
};
std::optional<Url> parse_url(std::string_view url);

}  // namespace sb::bench
