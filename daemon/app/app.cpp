#include "app/app.hpp"

#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/auth.hpp"
#include "api/rest.hpp"
#include "http/server.hpp"
#include "http_client/client.hpp"
#include "inbound/processor.hpp"
#include "notifier/notifier.hpp"
#include "metrics/metrics.hpp"
#include "outbound/sender.hpp"
#include "plugin_host/channel.hpp"
#include "plugin_host/loader.hpp"
#include "service/notify.hpp"
#include "store/runner.hpp"
#include "store/store.hpp"
#include "webhook/ingest.hpp"

namespace sb::app {
namespace {

std::unique_ptr<store::Store> open_store(const config::StorageConfig& config) {
    if (config.backend == "postgres") {
        auto store = store::open_postgres(config.postgres_dsn, config.postgres_pool_size);
        store->migrate();
        return store;
    }
    if (config.backend != "sqlite")
        throw store::StoreError("storage.backend '" + config.backend + "' is not available in this build; use sqlite or postgres");
    // The embedded default should just work: create the database's directory.
    auto dir = std::filesystem::path(config.sqlite_path).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) throw store::StoreError("cannot create directory " + dir.string() + ": " + ec.message());
    auto store = store::open_sqlite(config.sqlite_path);
    store->migrate();
    return store;
}

plugin_host::ChannelRegistry open_channels(const config::Config& config, plugin_host::PluginRegistry& plugins) {
    plugin_host::ChannelRegistry channels;
    for (const auto& channel_config : config.channels) {
        std::string error;
        auto plugin = plugins.get(channel_config.plugin, error);
        if (!plugin) {
            spdlog::error("channel failed channel={} plugin={} reason=\"{}\"", channel_config.id, channel_config.plugin,
                          error);
            channels.add(plugin_host::Channel::failed(channel_config, error));
            continue;
        }
        channels.add(plugin_host::Channel::open(channel_config, plugin));
    }
    return channels;
}

}  // namespace

int run(const config::Config& config) {
    std::unique_ptr<store::Store> store;
    try {
        store = open_store(config.storage);
    } catch (const std::exception& e) {
        spdlog::critical("startup failed: store: {}", e.what());
        return 1;
    }

    plugin_host::PluginRegistry plugins(config.plugins_dir);
    plugin_host::ChannelRegistry channels = open_channels(config, plugins);

    const int threads = config.server.threads > 0 ? config.server.threads
                                                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    boost::asio::io_context io(threads);
    auto work = boost::asio::make_work_guard(io);

    store::StoreRunner runner(*store, 2);
    notifier::Notifier notifier(store->last_seq());
    inbound::Processor processor(*store, channels, notifier, config.inbound);
    webhook::GroupCommitter committer(*store, [&processor] { processor.wake(); });
    webhook::WebhookEndpoint webhooks(channels, committer);
    http_client::Client client(io, http_client::Options{config.outbound.timeout_ms, 64});
    outbound::Sender sender(io, runner, channels, client, config.outbound);
    api::Authenticator auth(config.bootstrap_admin_token);
    api::Api api(api::ApiDeps{auth, channels, runner, webhooks, sender, notifier, config.server.cors_origins, nullptr,
                                 [&processor] { processor.wake(); }});

    http::ServerOptions options;
    options.host = config.server.listen_host;
    options.port = config.server.listen_port;
    options.webhook_body_limit = config.server.webhook_body_limit;
    options.api_body_limit = config.server.api_body_limit;
    options.header_timeout_ms = config.server.header_timeout_ms;
    options.idle_timeout_ms = config.server.idle_timeout_ms;
    http::Server server(
        io, options, [&api](std::shared_ptr<http::Exchange> exchange) { api.handle(std::move(exchange)); },
        api.ws_handlers());
    try {
        server.listen();
    } catch (const std::exception& e) {
        spdlog::critical("startup failed: {}", e.what());
        return 1;
    }
    processor.start();
    metrics::registry().ws_connections = [&notifier] { return static_cast<std::int64_t>(notifier.connections()); };
    metrics::registry().queue_depth = [&store] { return store->queue_depth(); };

    std::vector<std::shared_ptr<webhook::LongPoller>> pollers;
    for (const auto& [id, channel] : channels.all()) {
        if (channel->ready() && channel->long_poll()) {
            pollers.push_back(std::make_shared<webhook::LongPoller>(io, client, channel, committer));
            pollers.back()->start();
        }
    }

    // SIGTERM/SIGINT: stop taking work, answer what is in flight, close agents' sockets with
    // 1001, let the committer and processor finish, exit 0 — within shutdown_timeout_ms.
    auto drain_deadline = std::make_shared<std::chrono::steady_clock::time_point>();
    auto drain_timer = std::make_shared<boost::asio::steady_timer>(io);
    std::function<void()> drain_step = [&] {
        bool idle = server.in_flight() == 0;
        if (idle || std::chrono::steady_clock::now() >= *drain_deadline) {
            if (!idle) spdlog::warn("shutdown timeout: {} request(s) still in flight", server.in_flight());
            io.stop();
            return;
        }
        drain_timer->expires_after(std::chrono::milliseconds(20));
        drain_timer->async_wait([&](boost::system::error_code ec) {
            if (!ec) drain_step();
        });
    };
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int signal) {
        if (ec) return;
        spdlog::info("stopping signal={} in_flight={}", signal, server.in_flight());
        service::notify("STOPPING=1");
        server.stop_accepting();
        for (auto& poller : pollers) poller->stop();
        notifier.close_all(1001, "server shutting down");
        work.reset();
        *drain_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config.server.shutdown_timeout_ms);
        drain_step();
    });

    // Watchdog pings come from a timer on the I/O loop: a stuck loop stops pinging and
    // systemd restarts us.
    auto watchdog_timer = std::make_shared<boost::asio::steady_timer>(io);
    std::function<void()> watchdog_step;
    if (auto interval = service::watchdog_interval()) {
        watchdog_step = [&, period = *interval / 2] {
            service::notify("WATCHDOG=1");
            watchdog_timer->expires_after(period);
            watchdog_timer->async_wait([&](boost::system::error_code ec) {
                if (!ec) watchdog_step();
            });
        };
        watchdog_step();
    }
    auto status_timer = std::make_shared<boost::asio::steady_timer>(io);
    std::function<void()> status_step = [&] {
        std::size_t ready = 0;
        for (const auto& [id, channel] : channels.all()) ready += channel->ready() ? 1 : 0;
        service::notify(fmt::format("STATUS=channels {}/{} ready, {} agent connection(s)", ready,
                                    channels.all().size(), notifier.connections()));
        status_timer->expires_after(std::chrono::seconds(5));
        status_timer->async_wait([&](boost::system::error_code ec) {
            if (!ec) status_step();
        });
    };

    spdlog::info("listening on http://{}:{} threads={} channels={} store={}", config.server.listen_host,
                 server.port(), threads, channels.all().size(), config.storage.backend);
    // Ready only now: config valid, store migrated, plugins loaded, listener up.
    service::notify("READY=1");
    status_step();

    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();

    // The loop is down: answer every webhook still waiting for its commit (their clients are
    // gone, but the rows are durable), finish the batch in hand, and flush.
    committer.stop();
    processor.stop();
    runner.stop();
    metrics::registry().ws_connections = nullptr;
    metrics::registry().queue_depth = nullptr;
    spdlog::info("stopped");
    return 0;
}

}  // namespace sb::app
