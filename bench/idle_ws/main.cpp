// sb-bench-idle-ws: daemon memory per idle agent WebSocket (DESIGN §7 "Agents"). Reads the
// daemon's VmRSS, opens N authenticated WebSockets from P client processes (each process may
// hold at most its RLIMIT_NOFILE descriptors), lets them idle, reads VmRSS again and reports
// (after - before) / N. The kernel's socket buffers are not in RSS; /proc/net/sockstat's TCP
// memory is reported beside it.

#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <memory>
#include <thread>

#include "common/bench_common.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

struct Target {
    tcp::endpoint endpoint;
    std::string host;
    std::string path;
    bool hello = true;  // the server sends a frame on connect (the daemon's hello)
};

struct Opener {
    net::io_context& io;
    const Target& target;
    int remaining = 0;  // not yet started
    int opened = 0;
    int failed = 0;
    int in_flight = 0;
    std::function<void()> on_all_done;
    void start_more();
};

// One idle agent: connects, upgrades, reads the hello frame and then keeps a read pending (so
// pings from the daemon are answered) until the process ends.
class IdleAgent : public std::enable_shared_from_this<IdleAgent> {
public:
    explicit IdleAgent(Opener& opener) : opener_(opener), ws_(opener.io) {}

    void start() {
        beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(30));
        beast::get_lowest_layer(ws_).async_connect(opener_.target.endpoint,
                                                   [self = shared_from_this()](beast::error_code ec) {
                                                       if (ec) return self->done(false);
                                                       self->do_handshake();
                                                   });
    }

private:
    void do_handshake() {
        ws_.async_handshake(opener_.target.host, opener_.target.path,
                            [self = shared_from_this()](beast::error_code ec) {
                                if (ec) return self->done(false);
                                beast::get_lowest_layer(self->ws_).expires_never();
                                if (!self->opener_.target.hello) self->done(true);  // open once upgraded
                                self->do_read(self->opener_.target.hello);
                            });
    }

    void do_read(bool first) {
        ws_.async_read(buffer_, [self = shared_from_this(), first](beast::error_code ec, std::size_t) {
            if (ec) {
                if (first) self->done(false);
                return;
            }
            self->buffer_.clear();
            self->buffer_.shrink_to_fit();
            if (first) self->done(true);
            self->do_read(false);
        });
    }

    void done(bool ok) {
        ok ? ++opener_.opened : ++opener_.failed;
        --opener_.in_flight;
        opener_.start_more();
    }

    Opener& opener_;
    websocket::stream<beast::tcp_stream> ws_;
    beast::flat_buffer buffer_;
};

void Opener::start_more() {
    // A bounded number of handshakes at a time keeps the daemon's accept queue from overflowing.
    while (remaining > 0 && in_flight < 200) {
        --remaining;
        ++in_flight;
        std::make_shared<IdleAgent>(*this)->start();
    }
    if (remaining == 0 && in_flight == 0 && on_all_done) {
        auto done = std::move(on_all_done);
        on_all_done = nullptr;
        done();
    }
}

// A client process: opens `count` agents, reports "opened failed fd_limit" on `report`, then
// holds them until `hold` reaches end of file.
[[noreturn]] void run_client(const Target& target, int count, int report, int hold) {
    const long limit = sb::bench::raise_fd_limit();
    net::io_context io(1);
    Opener opener{io, target, count, 0, 0, 0, {}};
    opener.on_all_done = [&] {
        auto line = fmt::format("{} {} {}\n", opener.opened, opener.failed, limit);
        (void)!write(report, line.data(), line.size());
    };
    opener.start_more();
    auto guard = net::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    char byte;
    while (read(hold, &byte, 1) > 0) {
    }
    io.stop();
    runner.join();
    _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
    using namespace sb::bench;
    CLI::App app{"Measure the daemon's memory per idle agent WebSocket"};
    std::string url = "http://127.0.0.1:8080";
    std::string token = "change-me-admin-token";
    int count = 1000;
    int processes = 1;
    int pid = 0;
    double settle_s = 3;
    app.add_option("--url", url, "the daemon's base URL (http only)");
    app.add_option("--token", token, "an agent's API token (sent as ?access_token=)");
    app.add_option("--count,-n", count, "WebSockets to open in all")->check(CLI::Range(1, 1'000'000));
    app.add_option("--processes,-p", processes,
                   "client processes sharing them (each needs count/P descriptors)")
        ->check(CLI::Range(1, 64));
    app.add_option("--pid", pid, "the daemon's process id (for VmRSS)")->required();
    app.add_option("--settle", settle_s, "seconds to wait before the RSS readings")
        ->check(CLI::NonNegativeNumber);
    bool no_hello = false;
    app.add_flag(
        "--no-hello", no_hello,
        "count a socket open once upgraded, for servers that send no first frame (the Node.js peer)");
    CLI11_PARSE(app, argc, argv);

    auto parsed = parse_url(url);
    if (!parsed) {
        fmt::print(stderr, "--url must look like http://host:port\n");
        return 2;
    }
    Target target{tcp::endpoint(net::ip::make_address(parsed->host), parsed->port),
                  fmt::format("{}:{}", parsed->host, parsed->port), "/api/v1/ws?access_token=" + token,
                  !no_hello};

    const long daemon_limit = fd_limit(pid);
    const long daemon_fds = open_fds(pid);
    fmt::print("daemon pid {}: open files {} of a limit of {}; asked for {} WebSockets from {} process(es)\n",
               pid, daemon_fds, daemon_limit, count, processes);
    if (daemon_limit > 0 && daemon_fds >= 0 && count > daemon_limit - daemon_fds - 8) {
        fmt::print("  note: the daemon can hold at most about {} more connections\n",
                   daemon_limit - daemon_fds - 8);
    }

    std::this_thread::sleep_for(std::chrono::duration<double>(settle_s));
    const auto before = rss_kib(pid);
    const long tcp_before = tcp_mem_pages();
    if (!before) {
        fmt::print(stderr, "cannot read /proc/{}/status\n", pid);
        return 1;
    }

    const auto started = Clock::now();
    std::vector<int> reports, holds;
    std::vector<pid_t> children;
    for (int i = 0; i < processes; ++i) {
        int report[2], hold[2];
        if (pipe(report) != 0 || pipe(hold) != 0) return 1;
        const int share = count / processes + (i < count % processes ? 1 : 0);
        pid_t child = fork();
        if (child == 0) {
            close(report[0]);
            close(hold[1]);
            for (int fd : reports) close(fd);
            for (int fd : holds) close(fd);
            run_client(target, share, report[1], hold[0]);
        }
        close(report[1]);
        close(hold[0]);
        reports.push_back(report[0]);
        holds.push_back(hold[1]);
        children.push_back(child);
    }
    int opened = 0, failed = 0;
    for (int fd : reports) {
        char line[128] = {};
        ssize_t got = read(fd, line, sizeof line - 1);
        int o = 0, f = 0;
        long limit = 0;
        if (got > 0 && std::sscanf(line, "%d %d %ld", &o, &f, &limit) == 3) {
            opened += o;
            failed += f;
            fmt::print("  client process: opened {}, failed {} (its open-file limit {})\n", o, f, limit);
        }
        close(fd);
    }
    const double open_s = std::chrono::duration<double>(Clock::now() - started).count();
    std::this_thread::sleep_for(std::chrono::duration<double>(settle_s));
    const auto after = rss_kib(pid);
    const long tcp_after = tcp_mem_pages();
    const long daemon_fds_after = open_fds(pid);

    fmt::print("idle WebSockets: {} open ({} failed) in {:.1f} s; daemon open files now {}\n", opened, failed,
               open_s, daemon_fds_after);
    if (after && opened > 0) {
        const double per = static_cast<double>(*after - *before) * 1024.0 / opened;
        fmt::print("  daemon VmRSS {} KiB -> {} KiB: {:.0f} bytes = {:.2f} KiB per idle WebSocket\n", *before,
                   *after, per, per / 1024.0);
    }
    if (tcp_before >= 0 && tcp_after >= 0 && opened > 0) {
        const double pages = static_cast<double>(tcp_after - tcp_before);
        fmt::print("  kernel TCP buffer memory (both ends): {:+.0f} pages = {:.0f} bytes per connection\n",
                   pages, pages * 4096 / opened);
    }
    for (int fd : holds) close(fd);
    for (pid_t child : children) waitpid(child, nullptr, 0);
    return opened > 0 ? 0 : 1;
}
