// sb-bench-latency: webhook → agent frame latency (DESIGN §7). One agent listens on the
// WebSocket; Telegram webhooks are POSTed at a fixed rate, each with a unique text; the time
// from a webhook's slot (when it was due to be sent, so a stalled sender cannot hide delay) to
// the arrival of the new_message frame that carries its text is the latency.

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <charconv>
#include <random>

#include "common/bench_common.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

int main(int argc, char** argv) {
    using namespace sb::bench;
    CLI::App app{"Measure the delay from a Telegram webhook to the agent's new_message frame"};
    std::string url = "http://127.0.0.1:8080";
    std::string channel = "tg-support";
    std::string secret = "demo-secret";
    std::string token = "change-me-admin-token";
    double drain_s = 2;
    int chats = 100;
    LoadOptions options;
    options.connections = 8;
    options.rate = 200;
    app.add_option("--url", url, "the daemon's base URL (http only)");
    app.add_option("--port", options.port, "overrides the URL's port");
    app.add_option("--channel", channel, "channel id: POSTs go to /webhooks/<channel>");
    app.add_option("--secret", secret, "the channel's secret_token");
    app.add_option("--token", token, "an agent's API token for the WebSocket (?access_token=)");
    app.add_option("--rate,-r", options.rate, "webhooks/s")->check(CLI::PositiveNumber);
    app.add_option("--connections,-c", options.connections, "keep-alive webhook connections")
        ->check(CLI::Range(1, 1000));
    app.add_option("--duration,-d", options.duration_s, "measured seconds")->check(CLI::PositiveNumber);
    app.add_option("--warmup", options.warmup_s, "seconds sent before measuring")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--drain", drain_s, "seconds to wait for the last frames")->check(CLI::PositiveNumber);
    app.add_option("--chats", chats, "distinct customers the messages come from")
        ->check(CLI::Range(1, 1'000'000));
    bool hello = true;
    app.add_flag("!--no-hello", hello, "the server sends no first frame (the Node.js peer)");
    CLI11_PARSE(app, argc, argv);

    auto parsed = parse_url(url);
    if (!parsed) {
        fmt::print(stderr, "--url must look like http://host:port\n");
        return 2;
    }
    options.host = parsed->host;
    if (app.count("--port") == 0) options.port = parsed->port;
    const std::string host = fmt::format("{}:{}", options.host, options.port);

    net::io_context io(1);
    websocket::stream<beast::tcp_stream> ws(io);
    beast::flat_buffer frame;
    try {
        ws.next_layer().connect(tcp::endpoint(net::ip::make_address(options.host), options.port));
        ws.next_layer().socket().set_option(tcp::no_delay(true));
        ws.handshake(host, "/api/v1/ws?access_token=" + token);
        if (hello) ws.read(frame);  // the daemon's hello
    } catch (const std::exception& e) {
        fmt::print(stderr, "WebSocket agent could not connect: {}\n", e.what());
        return 1;
    }
    frame.clear();

    // Texts carry "lat <run> <n>": a frame from an earlier run or another client never matches.
    const std::string run = fmt::format("{:06x}", std::random_device{}() & 0xffffff);
    const std::string marker = fmt::format("lat {} ", run);
    const auto total = static_cast<std::size_t>((options.warmup_s + options.duration_s) * options.rate) + 16;
    const auto first_measured = static_cast<std::size_t>(options.warmup_s * options.rate);
    std::vector<std::int64_t> sent(total, 0), seen(total, 0);
    std::uint64_t frames = 0, duplicates = 0, foreign = 0;

    std::function<void()> do_read = [&] {
        ws.async_read(frame, [&](beast::error_code ec, std::size_t) {
            if (ec) {
                return;
            }
            const std::int64_t now = now_ns();
            ++frames;
            std::string_view text(static_cast<const char*>(frame.cdata().data()), frame.size());
            auto pos = text.find(marker);
            std::size_t n = 0;
            if (pos != std::string_view::npos) {
                const char* begin = text.data() + pos + marker.size();
                auto [end, err] = std::from_chars(begin, text.data() + text.size(), n);
                if (err != std::errc() || n >= total) pos = std::string_view::npos;
            }
            if (pos == std::string_view::npos) {
                ++foreign;
            } else if (seen[n] != 0) {
                ++duplicates;
            } else {
                seen[n] = now;
            }
            frame.clear();
            do_read();
        });
    };
    do_read();

    const std::int64_t base = fresh_id_base();
    // The agent is closed once the last webhook had time to come through.
    net::steady_timer stop(io, std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                   0.05 + options.warmup_s + options.duration_s + drain_s)));
    stop.async_wait([&](beast::error_code) {
        beast::error_code ignored;
        beast::get_lowest_layer(ws).socket().close(ignored);
    });
    auto result = run_load(
        io, options,
        [&](std::uint64_t n) {
            TelegramText m;
            m.update_id = base + static_cast<std::int64_t>(n);
            m.message_id = m.update_id;
            m.chat_id = 200'000 + static_cast<std::int64_t>(n % static_cast<std::uint64_t>(chats));
            m.text = fmt::format("{}{} where is my parcel?", marker, n);
            return telegram_webhook(host, channel, secret, m);
        },
        [&](std::uint64_t n, std::int64_t slot) {
            if (n < total) sent[n] = slot;
        });

    Histogram latency;
    std::uint64_t posted = 0, missed = 0;
    const auto last_measured = first_measured + static_cast<std::size_t>(options.duration_s * options.rate);
    for (std::size_t n = first_measured; n < std::min(total, last_measured); ++n) {
        if (sent[n] == 0) continue;
        ++posted;
        if (seen[n] == 0) {
            ++missed;
            continue;
        }
        latency.add(seen[n] - sent[n]);
    }
    print_load(fmt::format("webhook answers  {} rate={:.0f}/s connections={}", host, options.rate,
                           options.connections)
                   .c_str(),
               result);
    fmt::print("webhook -> agent new_message frame  rate={:.0f}/s\n", options.rate);
    fmt::print("  webhooks measured {}  frames matched {}  missed {}  duplicate frames {}  other frames {}\n",
               posted, latency.count(), missed, duplicates, foreign);
    fmt::print("  latency {}\n", latency.summary());
    return missed == 0 && latency.count() > 0 ? 0 : 1;
}
