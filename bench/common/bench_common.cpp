#include "common/bench_common.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace sb::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::string telegram_update(const TelegramText& m) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    auto user = [&](bool with_type) {
        w.StartObject();
        w.Key("id");
        w.Int64(m.chat_id);
        if (!with_type) {
            w.Key("is_bot");
            w.Bool(false);
        }
        w.Key("first_name");
        w.String("Ada");
        w.Key("last_name");
        w.String("Lovelace");
        w.Key("username");
        w.String("ada_lovelace");
        if (with_type) {
            w.Key("type");
            w.String("private");
        } else {
            w.Key("language_code");
            w.String("en");
        }
        w.EndObject();
    };
    w.StartObject();
    w.Key("update_id");
    w.Int64(m.update_id);
    w.Key("message");
    w.StartObject();
    w.Key("message_id");
    w.Int64(m.message_id);
    w.Key("from");
    user(false);
    w.Key("chat");
    user(true);
    w.Key("date");
    w.Int64(m.date);
    w.Key("text");
    w.String(m.text);
    w.EndObject();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::int64_t fresh_id_base() {
    // Seconds since 2025-01-01, so the ids stay well inside 2^53 (exact as JSON doubles too).
    const std::int64_t seconds = static_cast<std::int64_t>(std::time(nullptr)) - 1735689600;
    return std::max<std::int64_t>(seconds, 1) * 100'000;
}

std::string raw_request(std::string_view method, std::string_view target, std::string_view host,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        std::string_view body) {
    std::string out = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\n", method, target, host);
    for (const auto& [name, value] : headers) out += fmt::format("{}: {}\r\n", name, value);
    if (!body.empty() || method == "POST") out += fmt::format("Content-Length: {}\r\n", body.size());
    out += "\r\n";
    out += body;
    return out;
}

std::string telegram_webhook(std::string_view host, std::string_view channel, std::string_view secret,
                             const TelegramText& m) {
    std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"}};
    if (!secret.empty()) headers.emplace_back("X-Telegram-Bot-Api-Secret-Token", std::string(secret));
    return raw_request("POST", fmt::format("/webhooks/{}", channel), host, headers, telegram_update(m));
}

// ---- Histogram -----------------------------------------------------------------------------

void Histogram::sort() {
    if (!sorted_) std::sort(samples_.begin(), samples_.end());
    sorted_ = true;
}

double Histogram::percentile_ms(double p) {
    if (samples_.empty()) return 0;
    sort();
    // Nearest rank: the smallest sample with at least p% of the samples at or below it.
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(samples_.size())));
    rank = std::clamp<std::size_t>(rank, 1, samples_.size());
    return static_cast<double>(samples_[rank - 1]) / 1e6;
}

double Histogram::max_ms() { return samples_.empty() ? 0 : percentile_ms(100); }

std::string Histogram::summary() {
    return fmt::format("p50 {:.3f} ms  p90 {:.3f} ms  p99 {:.3f} ms  max {:.3f} ms  (n={})",
                       percentile_ms(50), percentile_ms(90), percentile_ms(99), max_ms(), count());
}

// ---- Load driver -----------------------------------------------------------------------------

namespace {

struct Driver {
    Driver(net::io_context& io, const LoadOptions& options, const MakeRequest& make, const OnSend& on_send)
        : io(io), options(options), make(make), on_send(on_send) {}

    net::io_context& io;
    const LoadOptions& options;
    const MakeRequest& make;
    const OnSend& on_send;
    tcp::endpoint endpoint;
    std::int64_t start_ns = 0;
    std::int64_t measure_ns = 0;  // end of the warm-up
    std::int64_t end_ns = 0;
    std::int64_t period_ns = 0;  // fixed rate only
    std::uint64_t next = 0;
    LoadResult result;

    bool measured(std::int64_t slot) const { return slot >= measure_ns && slot < end_ns; }
};

class Connection : public std::enable_shared_from_this<Connection> {
public:
    explicit Connection(Driver& driver) : driver_(driver), stream_(driver.io), timer_(driver.io) {}

    void start() { do_connect(); }

private:
    void do_connect() {
        stream_.expires_after(std::chrono::seconds(10));
        stream_.async_connect(driver_.endpoint,
                              beast::bind_front_handler(&Connection::on_connect, shared_from_this()));
    }

    void on_connect(beast::error_code ec) {
        if (ec) return on_error();
        beast::error_code ignored;
        stream_.socket().set_option(tcp::no_delay(true), ignored);
        next();
    }

    void next() {
        const std::int64_t now = now_ns();
        if (now >= driver_.end_ns) return;
        n_ = driver_.next++;
        if (driver_.period_ns == 0) {
            slot_ns_ = now;
            return do_write();
        }
        slot_ns_ = driver_.start_ns + static_cast<std::int64_t>(n_) * driver_.period_ns;
        if (slot_ns_ >= driver_.end_ns) return;
        if (slot_ns_ <= now) {
            if (now - slot_ns_ > 1'000'000 && driver_.measured(slot_ns_)) ++driver_.result.late;
            return do_write();
        }
        timer_.expires_at(Clock::time_point(std::chrono::nanoseconds(slot_ns_)));
        timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec) self->do_write();
        });
    }

    void do_write() {
        out_ = driver_.make(n_);
        if (driver_.on_send) driver_.on_send(n_, slot_ns_);
        ++driver_.result.sent;
        stream_.expires_after(std::chrono::seconds(10));
        net::async_write(stream_, net::buffer(out_),
                         beast::bind_front_handler(&Connection::on_write, shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t) {
        if (ec) return on_error();
        parser_.emplace();
        parser_->body_limit(16 * 1024 * 1024);
        http::async_read(stream_, buffer_, *parser_,
                         beast::bind_front_handler(&Connection::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec) return on_error();
        const std::int64_t now = now_ns();
        if (driver_.measured(slot_ns_)) {
            auto& r = driver_.result;
            ++r.answered;
            ++r.status[parser_->get().result_int()];
            r.latency.add(now - slot_ns_);
        }
        const bool keep_alive = parser_->get().keep_alive();
        parser_.reset();
        if (!keep_alive) {
            beast::error_code ignored;
            stream_.socket().close(ignored);
            return do_connect();
        }
        next();
    }

    void on_error() {
        ++driver_.result.transport_errors;
        beast::error_code ignored;
        stream_.socket().close(ignored);
        buffer_.clear();
        if (now_ns() >= driver_.end_ns) return;
        // Back off a little: a refusing server must not turn this into a busy loop.
        timer_.expires_after(std::chrono::milliseconds(10));
        timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec) self->do_connect();
        });
    }

    Driver& driver_;
    beast::tcp_stream stream_;
    net::steady_timer timer_;
    beast::flat_buffer buffer_;
    std::optional<http::response_parser<http::string_body>> parser_;
    std::string out_;
    std::uint64_t n_ = 0;
    std::int64_t slot_ns_ = 0;
};

}  // namespace

LoadResult run_load(net::io_context& io, const LoadOptions& options, const MakeRequest& make,
                    const OnSend& on_send) {
    Driver driver(io, options, make, on_send);
    driver.endpoint = tcp::endpoint(net::ip::make_address(options.host), options.port);
    driver.start_ns = now_ns() + 50'000'000;  // let the connections open first
    driver.measure_ns = driver.start_ns + static_cast<std::int64_t>(options.warmup_s * 1e9);
    driver.end_ns = driver.measure_ns + static_cast<std::int64_t>(options.duration_s * 1e9);
    if (options.rate > 0) driver.period_ns = static_cast<std::int64_t>(1e9 / options.rate);
    std::vector<std::shared_ptr<Connection>> connections;
    for (int i = 0; i < options.connections; ++i) connections.push_back(std::make_shared<Connection>(driver));
    net::steady_timer begin(io, Clock::time_point(std::chrono::nanoseconds(driver.start_ns)));
    begin.async_wait([&](beast::error_code) {
        for (auto& c : connections) c->start();
        connections.clear();
    });
    io.run();
    io.restart();
    driver.result.measured_s = options.duration_s;
    return std::move(driver.result);
}

void print_load(const char* title, LoadResult& r) {
    std::string statuses;
    for (const auto& [code, count] : r.status) statuses += fmt::format(" {}={}", code, count);
    fmt::print("{}\n  requests/s {:.1f}  (answered {} in {:.2f} s; sent {} incl. warm-up)\n", title, r.rps(),
               r.answered, r.measured_s, r.sent);
    fmt::print("  status{}  transport errors {}{}\n", statuses.empty() ? " none" : statuses,
               r.transport_errors, r.late > 0 ? fmt::format("  sent >1 ms late {}", r.late) : "");
    fmt::print("  latency {}\n", r.latency.summary());
}

// ---- /proc -----------------------------------------------------------------------------------

std::optional<long> rss_kib(int pid) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return std::nullopt;
}

long open_fds(int pid) {
    std::error_code ec;
    long count = 0;
    for (std::filesystem::directory_iterator it(fmt::format("/proc/{}/fd", pid), ec), end; !ec && it != end;
         it.increment(ec))
        ++count;
    return ec ? -1 : count;
}

long fd_limit(int pid) {
    std::ifstream in(fmt::format("/proc/{}/limits", pid));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Max open files", 0) == 0) {
            std::istringstream fields(line.substr(14));
            long soft = -1;
            fields >> soft;
            return soft;
        }
    }
    return -1;
}

long raise_fd_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
    return static_cast<long>(limit.rlim_cur);
}

long tcp_mem_pages() {
    std::ifstream in("/proc/net/sockstat");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("TCP:", 0) != 0) continue;
        auto pos = line.find(" mem ");
        if (pos != std::string::npos) return std::stol(line.substr(pos + 5));
    }
    return -1;
}

std::optional<Url> parse_url(std::string_view url) {
    constexpr std::string_view kScheme = "http://";
    if (url.rfind(kScheme, 0) != 0) return std::nullopt;
    url.remove_prefix(kScheme.size());
    Url out;
    auto slash = url.find('/');
    std::string_view authority = url.substr(0, slash);
    out.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
    auto colon = authority.rfind(':');
    if (colon == std::string_view::npos) {
        out.host = std::string(authority);
    } else {
        out.host = std::string(authority.substr(0, colon));
        out.port = static_cast<std::uint16_t>(std::stoi(std::string(authority.substr(colon + 1))));
    }
    return out;
}

}  // namespace sb::bench
