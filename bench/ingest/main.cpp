// sb-bench-ingest: webhook ingest throughput (DESIGN §7 "Ingest"). Keep-alive connections POST
// correctly authenticated Telegram updates, each with its own update_id and message_id, to
// /webhooks/{channel}, as fast as the answers come back or at a fixed rate, and report the
// answers per second, their status codes and their latency. The daemon answers 200 only once
// the webhook is durably committed, so 200s/s is the durable ingest rate.

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>

#include "common/bench_common.hpp"

int main(int argc, char** argv) {
    using namespace sb::bench;
    CLI::App app{"POST signed Telegram webhooks at a switchboardd and report requests/s and latency"};
    std::string url = "http://127.0.0.1:8080";
    std::string channel = "tg-support";
    std::string secret = "demo-secret";
    int chats = 1000;
    LoadOptions options;
    app.add_option("--url", url, "the daemon's base URL (http only)");
    app.add_option("--port", options.port, "overrides the URL's port");
    app.add_option("--channel", channel, "channel id: POSTs go to /webhooks/<channel>");
    app.add_option("--secret", secret, "the channel's secret_token (X-Telegram-Bot-Api-Secret-Token)");
    app.add_option("--connections,-c", options.connections, "keep-alive connections")
        ->check(CLI::Range(1, 10000));
    app.add_option("--duration,-d", options.duration_s, "measured seconds")->check(CLI::PositiveNumber);
    app.add_option("--warmup", options.warmup_s, "seconds sent before measuring")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--rate,-r", options.rate, "requests/s over all connections; 0 = full speed")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--chats", chats, "distinct customers (chat ids) the updates come from")
        ->check(CLI::Range(1, 1'000'000));
    CLI11_PARSE(app, argc, argv);

    auto parsed = parse_url(url);
    if (!parsed) {
        fmt::print(stderr, "--url must look like http://host:port\n");
        return 2;
    }
    options.host = parsed->host;
    if (app.count("--port") == 0) options.port = parsed->port;
    const std::string host = fmt::format("{}:{}", options.host, options.port);
    const std::int64_t base = fresh_id_base();

    boost::asio::io_context io(1);
    auto result = run_load(io, options, [&](std::uint64_t n) {
        TelegramText m;
        m.update_id = base + static_cast<std::int64_t>(n);
        m.message_id = m.update_id;
        m.chat_id = 100'000 + static_cast<std::int64_t>(n % static_cast<std::uint64_t>(chats));
        m.date = 1'732'540'000 + static_cast<std::int64_t>(n / 1000);
        m.text = fmt::format("Hello, I need help with order #{}", n);
        return telegram_webhook(host, channel, secret, m);
    });
    print_load(
        fmt::format("ingest {} /webhooks/{}  connections={} rate={}", host, channel, options.connections,
                    options.rate > 0 ? fmt::format("{:.0f}/s", options.rate) : std::string("max"))
            .c_str(),
        result);
    return result.answered > 0 ? 0 : 1;
}
