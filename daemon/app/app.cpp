#include "app/app.hpp"

#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "api/auth.hpp"
#include "api/rest.hpp"
#include "app/components.hpp"
#include "app/periodic.hpp"
#include "assignment/assigner.hpp"
#include "console/console.hpp"
#include "fanout/pg_fanout.hpp"
#include "http/server.hpp"
#include "http_client/client.hpp"
#include "inbound/processor.hpp"
#include "media/blob_store.hpp"
#include "media/worker.hpp"
#include "metrics/metrics.hpp"
#include "notifier/notifier.hpp"
#include "outbound/sender.hpp"
#include "plugin_host/channel.hpp"
#include "plugin_host/loader.hpp"
#include "service/notify.hpp"
#include "store/runner.hpp"
#include "store/store.hpp"
#include "util/clock.hpp"
#include "util/thread_name.hpp"
#include "webhook/ingest.hpp"

namespace sb::app {
namespace {

// Connections of the PostgreSQL blob store (media.store: postgres), apart from the store's pool: a
// writer holds one for a whole file, a reader one per piece served.
constexpr int kBlobConnections = 4;
// What a multipart upload's body may carry beyond its file (boundaries, part headers, a few small
// fields): the server's limit for the upload paths is media.upload_limit_mb plus this.
constexpr std::size_t kFormFraming = 64 * 1024;

std::unique_ptr<store::Store> open_store(const config::StorageConfig& config) {
    if (config.backend == "postgres") {
        // A server that does not answer must fail the call (503), not hang it.
        auto store = store::open_postgres(fanout::with_network_timeouts(config.postgres_dsn, 5),
                                          config.postgres_pool_size);
        store->migrate();
        return store;
    }
    if (config.backend != "sqlite")
        throw store::StoreError("storage.backend '" + config.backend +
                                "' is not available in this build; use sqlite or postgres");
    // The embedded default should just work: create the database's directory.
    auto dir = std::filesystem::path(config.sqlite_path).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) throw store::StoreError("cannot create directory " + dir.string() + ": " + ec.message());
    auto store = store::open_sqlite(config.sqlite_path);
    store->migrate();
    // SQLite is one process's store: whatever is still claimed was claimed by a process that
    // died (kill -9, power loss). Take it back now rather than after the lease.
    store->recover_claims();
    return store;
}

bool same_channel(const config::ChannelConfig& a, const config::ChannelConfig& b) {
    return a.id == b.id && a.plugin == b.plugin && a.receive == b.receive &&
           a.settings_json == b.settings_json;
}

// The channels of `config`. Channels identical to one in `previous` (same plugin, receive mode
// and settings) are carried over as they are, instance and all, so a reload leaves them alone.
std::shared_ptr<const plugin_host::ChannelRegistry> open_channels(
    const config::Config& config, plugin_host::PluginRegistry& plugins,
    const std::shared_ptr<const plugin_host::ChannelRegistry>& previous) {
    auto channels = std::make_shared<plugin_host::ChannelRegistry>();
    for (const auto& channel_config : config.channels) {
        if (previous) {
            auto old = previous->find(channel_config.id);
            if (old && old->ready() && same_channel(old->config(), channel_config)) {
                channels->add(old);
                continue;
            }
        }
        std::string error;
        auto plugin = plugins.get(channel_config.plugin, error);
        if (!plugin) {
            spdlog::error("channel failed channel={} plugin={} reason=\"{}\"", channel_config.id,
                          channel_config.plugin, error);
            channels->add(plugin_host::Channel::failed(channel_config, error));
            continue;
        }
        channels->add(plugin_host::Channel::open(channel_config, plugin));
    }
    return channels;
}

// Settings a running daemon cannot change: it says so and keeps the old ones.
void warn_about_restart_only_changes(const config::Config& running, const config::Config& next) {
    auto warn = [](const char* key) {
        spdlog::warn("reload: {} changed; it takes effect after a restart", key);
    };
    if (running.server.listen_host != next.server.listen_host ||
        running.server.listen_port != next.server.listen_port)
        warn("server.listen");
    if (running.server.threads != next.server.threads) warn("server.threads");
    if (running.storage.backend != next.storage.backend ||
        running.storage.sqlite_path != next.storage.sqlite_path ||
        running.storage.postgres_dsn != next.storage.postgres_dsn)
        warn("storage");
    if (running.plugin_dirs != next.plugin_dirs) warn("plugins.dir");
}

// media.dir, or "media" beside the SQLite database (./var/media with PostgreSQL).
std::filesystem::path media_dir(const config::Config& config) {
    if (!config.media.dir.empty()) return config.media.dir;
    return (config.storage.backend == "sqlite"
                ? std::filesystem::path(config.storage.sqlite_path).parent_path()
                : std::filesystem::path("./var")) /
           "media";
}

// The listener's settings from the config.
http::ServerOptions server_options(const config::Config& config) {
    http::ServerOptions options;
    options.host = config.server.listen_host;
    options.port = config.server.listen_port;
    options.webhook_body_limit = config.server.webhook_body_limit;
    options.webhook_memory_limit = config.server.webhook_memory_limit;
    options.api_body_limit = config.server.api_body_limit;
    // A form's framing around its file (boundaries, part headers, small fields) on top of the
    // file itself, which the upload handlers hold to media.upload_limit_mb (413).
    options.upload_body_limit = config.media.upload_limit + kFormFraming;
    options.upload_paths = {"/api/v1/uploads", "/api/v1/media"};
    if (config.media.enabled) options.upload_spool_dir = media_dir(config) / "uploads";
    options.max_connections = static_cast<std::size_t>(config.server.max_connections);
    options.max_connections_per_address = static_cast<std::size_t>(config.server.max_connections_per_address);
    options.header_timeout_ms = config.server.header_timeout_ms;
    options.idle_timeout_ms = config.server.idle_timeout_ms;
    options.ws_ping_interval_ms = config.realtime.ping_interval_ms;
    options.ws_queue_limit = static_cast<std::size_t>(config.realtime.queue_limit);
    return options;
}

}  // namespace

int check_config(const std::string& path) {
    config::Config config;
    try {
        config = config::load_file(path);
    } catch (const config::ConfigError& e) {
        std::cerr << e.what() << '\n';
        return 1;
    }
    std::vector<std::string> problems;
    std::error_code ec;
    for (const std::string& dir : config.plugin_dirs)
        if (!config.channels.empty() && !std::filesystem::is_directory(dir, ec))
            problems.push_back(fmt::format("plugins.dir: `{}` is not a directory", dir));
    plugin_host::PluginRegistry plugins(config.plugin_dirs);
    for (std::size_t i = 0; i < config.channels.size(); ++i) {
        const auto& channel = config.channels[i];
        std::string error;
        auto plugin = plugins.get(channel.plugin, error);
        if (plugin) {
            auto opened = plugin_host::Channel::open(channel, plugin);
            if (!opened->ready()) error = opened->failure();
        }
        if (!error.empty())
            problems.push_back(
                fmt::format("{}:{}: channels[{}] ({}): {}", path, channel.line, i, channel.id, error));
    }
    if (!problems.empty()) {
        for (const auto& problem : problems) std::cerr << problem << '\n';
        return 1;
    }
    std::cout << path << ": OK\n";
    return 0;
}

int migrate(const config::Config& config) {
    try {
        auto store = open_store(config.storage);  // migrates, or refuses a newer schema
        spdlog::info("store migrated backend={}", config.storage.backend);
        return 0;
    } catch (const std::exception& e) {
        spdlog::critical("migrate failed: {}", e.what());
        return 1;
    }
}

int run(const config::Config& config, const std::string& config_path) {
    std::unique_ptr<store::Store> store;
    try {
        store = open_store(config.storage);
    } catch (const std::exception& e) {
        spdlog::critical("startup failed: store: {}", e.what());
        return 1;
    }

    plugin_host::PluginRegistry plugins(config.plugin_dirs);
    plugin_host::LiveChannels channels(open_channels(config, plugins, nullptr));

    const int threads = config.server.threads > 0
                            ? config.server.threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    boost::asio::io_context io(threads);
    auto work = boost::asio::make_work_guard(io);

    // The one source of wall-clock time for what stamps, expires and wakes (tests inject theirs).
    const util::Clock& clock = util::Clock::system();
    store::StoreRunner runner(*store, 2);
    notifier::Notifier notifier(runner, store->last_seq(), clock);
    // Several instances on one PostgreSQL: events committed elsewhere reach our agents too.
    std::unique_ptr<fanout::PgFanout> fanout;
    if (config.storage.backend == "postgres") {
        fanout = std::make_unique<fanout::PgFanout>(
            fanout::with_network_timeouts(config.storage.postgres_dsn, 5), notifier, notifier.last_seq());
        notifier.set_commit_hook([&fanout](std::int64_t seq) { fanout->committed(seq); });
    }
    inbound::Processor processor(*store, channels, notifier, config.inbound);
    if (fanout) processor.set_before_publish([&fanout] { fanout->catch_up(); });
    webhook::GroupCommitter committer(
        *store, webhook::CommitSink{
                    .on_committed = [&processor] { processor.queued_committed(); },
                    .may_hand_over = [&processor] { return processor.accepts_hand_over(); },
                    .hand_over =
                        [&processor](std::vector<store::QueuedInbound> rows) {
                            processor.hand_over(std::move(rows));
                        },
                    .lease_ms = config.inbound.lease_ms,
                });
    webhook::WebhookEndpoint webhooks(channels, committer);
    std::unique_ptr<http_client::Client> client_holder;
    try {
        client_holder = std::make_unique<http_client::Client>(
            io, http_client::Options{config.outbound.timeout_ms, 64, config.outbound.ca_file});
    } catch (const std::exception& e) {
        spdlog::critical("startup failed: {}", e.what());
        return 1;
    }
    http_client::Client& client = *client_holder;
    // Plugins' follow-ups (e.g. Telegram's answerCallbackQuery): sent once, their answer logged.
    processor.set_follow_up([&client](http_client::Request request) {
        std::string method =
            request.url.substr(request.url.rfind('/') + 1);  // never the URL: it may hold a token
        client.send(std::move(request), [method = std::move(method)](http_client::Response response) {
            if (!response.transport_error.empty() || response.status >= 300)
                spdlog::warn("plugin follow-up failed call={} status={} error=\"{}\"", method,
                             response.status, response.transport_error);
        });
    });
    // Files (issue 16): fetched after their message is stored, kept in media.store.
    std::unique_ptr<media::BlobStore> blobs;
    std::unique_ptr<media::Worker> media_worker;
    if (config.media.enabled) {
        try {
            const std::filesystem::path dir = media_dir(config);
            // With postgres, media.dir holds this process's downloads in progress only.
            blobs = config.media.store == "postgres"
                        ? media::open_postgres_blob_store(
                              fanout::with_network_timeouts(config.storage.postgres_dsn, 5), kBlobConnections)
                        : media::open_local_blob_store(dir);
            media_worker = std::make_unique<media::Worker>(*store, channels, notifier, client, *blobs,
                                                           config.media, dir / "spool");
        } catch (const std::exception& e) {
            spdlog::critical("startup failed: {}", e.what());
            return 1;
        }
        processor.set_on_stored(
            [&media_worker](const std::string& channel_id, const store::ApplyResult& result) {
                media_worker->on_stored(channel_id, result);
            });
    }
    outbound::Sender sender(io, runner, channels, client, config.outbound, clock);
    sender.set_blobs(blobs.get());
    if (config.realtime.outbound_events == "others")
        sender.set_announcer([&notifier](const store::Event& event) { notifier.publish(event); });
    assignment::Assigner assigner(io, runner, notifier, config.assignment);
    if (assigner.enabled()) {
        notifier.set_event_hook([&assigner](const store::Event& event) { assigner.on_event(event); });
        notifier.set_presence_hook(
            [&assigner](const std::string& agent, bool online) { assigner.on_presence(agent, online); });
        notifier.set_availability_hook(
            [&assigner](const std::string& agent, const std::string& availability) {
                assigner.on_availability(agent, availability);
            });
    }
    api::Authenticator auth(config.bootstrap_admin_token, config.bootstrap_admin_name);
    try {
        auth.load(store->active_tokens());
        const auto agents = store->agents();
        notifier.load_availability(agents);
        for (const auto& agent : agents)
            if (agent.availability != "online") assigner.on_availability(agent.id, agent.availability);
    } catch (const std::exception& e) {
        spdlog::critical("startup failed: store: {}", e.what());
        return 1;
    }
    const console::Files console_files({config.console.enabled, config.console.dir});
    if (auto reason = console_files.unavailable_reason(); config.console.enabled && !reason.empty())
        spdlog::warn("console not served: {}", reason);
    api::Api api(api::ApiDeps{auth, channels, runner, webhooks, sender, notifier, config.server.cors_origins,
                              [&committer, &processor] { return committer.healthy() && processor.healthy(); },
                              [&processor] { processor.wake(); },
                              [&assigner] { assigner.capacity_changed(); }, config.server.auth_failure_limit,
                              config.server.auth_lockout_ms, &console_files, blobs.get(),
                              config.media.upload_limit, &clock});

    http::Server server(
        io, server_options(config),
        [&api](std::shared_ptr<http::Exchange> exchange) { api.handle(std::move(exchange)); },
        api.ws_handlers());
    try {
        server.listen();
    } catch (const std::exception& e) {
        spdlog::critical("startup failed: {}", e.what());
        return 1;
    }
    metrics::registry().ws_connections = [&notifier] {
        return static_cast<std::int64_t>(notifier.connections());
    };
    metrics::registry().queue_depth = [&store] { return store->queue_depth(); };
    metrics::registry().oldest_queued_age = [&store, &clock] {
        std::int64_t oldest = store->oldest_queued_ms();
        return oldest == 0 ? 0.0 : static_cast<double>(clock.now_ms() - oldest) / 1000.0;
    };

    // Long polling, one poller per channel object; touched only from the I/O loop.
    std::map<std::shared_ptr<plugin_host::Channel>, std::shared_ptr<webhook::LongPoller>> pollers;
    auto sync_pollers = [&] {
        auto current = channels.snapshot();
        for (auto it = pollers.begin(); it != pollers.end();) {
            if (current->find(it->first->id()) != it->first) {
                it->second->stop();
                it = pollers.erase(it);
            } else {
                ++it;
            }
        }
        for (const auto& [id, channel] : current->all()) {
            if (channel->ready() && channel->long_poll() && !pollers.contains(channel)) {
                auto poller = std::make_shared<webhook::LongPoller>(io, client, channel, committer);
                pollers.emplace(channel, poller);
                poller->start();
            }
        }
    };

    // SIGHUP: read the file again off the I/O threads; swap in the new channel set only when
    // the whole file is valid.
    std::mutex reload_mutex;
    auto reload = [&](store::Store&) {
        std::lock_guard serialized(reload_mutex);  // two quick SIGHUPs apply in order
        try {
            config::Config next = config::load_file(config_path);
            warn_about_restart_only_changes(config, next);
            auto previous = channels.snapshot();
            auto fresh = open_channels(next, plugins, previous);
            std::size_t kept = 0;
            for (const auto& [id, channel] : fresh->all()) kept += previous->find(id) == channel ? 1 : 0;
            channels.replace(fresh);
            auth.set_bootstrap_token(next.bootstrap_admin_token);
            boost::asio::post(io, sync_pollers);
            spdlog::info("reloaded config={} channels={} unchanged={}", config_path, fresh->all().size(),
                         kept);
        } catch (const config::ConfigError& e) {
            spdlog::error("reload rejected, keeping the running configuration: {}", e.what());
        } catch (const std::exception& e) {
            spdlog::error("reload failed, keeping the running configuration: {}", e.what());
        }
        service::notify("READY=1");
    };
    boost::asio::signal_set reload_signals(io, SIGHUP);
    std::function<void()> await_reload = [&] {
        reload_signals.async_wait([&](boost::system::error_code ec, int) {
            if (ec) return;
            service::notify("RELOADING=1");
            runner.post(reload);
            await_reload();
        });
    };

    // The periodic chores, each on a timer of its own (Periodic).
    // Tokens revoked through another instance sharing the database stop working within this.
    Periodic token_refresh(io, std::chrono::seconds(30), [&] {
        runner.post([&](store::Store& s) {
            try {
                auth.load(s.active_tokens());
            } catch (const std::exception& e) {
                spdlog::warn("token refresh failed error=\"{}\"", e.what());
            }
        });
    });
    // An expired token is refused at once (Authenticator::authenticate); its open sockets are
    // closed within a second of the expiry by this check.
    Periodic token_expiry(io, std::chrono::seconds(1), [&] {
        for (const auto& token_id : auth.newly_expired(clock.now_ms())) {
            spdlog::info("token expired token={}", token_id);
            notifier.close_token(token_id, "token expired");
        }
    });
    // Events older than the resume window go; a client resuming from before them resyncs.
    Periodic event_pruning(io, std::chrono::minutes(10), [&] {
        runner.post([&](store::Store& s) {
            try {
                if (auto pruned = s.prune_events(clock.now_ms() - config.realtime.retention_ms); pruned > 0)
                    spdlog::info("events pruned count={}", pruned);
            } catch (const std::exception& e) {
                spdlog::warn("event pruning failed error=\"{}\"", e.what());
            }
        });
    });
    // Snoozed conversations reopen by themselves when their time comes (conversation_status,
    // changed_by "snooze"): a look-up of a partial index, empty most of the time, every second.
    Periodic snooze_wake_up(io, std::chrono::seconds(1), [&] {
        runner.post([&](store::Store& s) {
            try {
                auto events = s.wake_snoozed(clock.now_ms(), 100);
                for (const auto& event : events) notifier.publish(event);
                if (!events.empty()) assigner.capacity_changed();
            } catch (const std::exception& e) {
                spdlog::warn("waking snoozed conversations failed error=\"{}\"", e.what());
            }
        });
    });
    // Watchdog pings come from a timer on the I/O loop: a stuck loop stops pinging and
    // systemd restarts us.
    const auto watchdog_interval = service::watchdog_interval();
    Periodic watchdog(io, watchdog_interval.value_or(std::chrono::seconds(1)) / 2,
                      [] { service::notify("WATCHDOG=1"); });
    Periodic status_line(io, std::chrono::seconds(5), [&] {
        std::size_t ready = 0;
        auto current = channels.snapshot();
        for (const auto& [id, channel] : current->all()) ready += channel->ready() ? 1 : 0;
        service::notify(fmt::format("STATUS=channels {}/{} ready, {} agent connection(s)", ready,
                                    current->all().size(), notifier.connections()));
    });

    // SIGTERM/SIGINT: stop taking work, answer what is in flight, close agents' sockets with
    // 1001, let the committer and processor finish, exit 0 — within shutdown_timeout_ms.
    std::chrono::steady_clock::time_point drain_deadline;
    Periodic drain(io, std::chrono::milliseconds(20), [&] {
        // Idle once every request is answered and every agent socket finished its close
        // handshake (so clients see 1001, not a reset).
        bool idle = server.in_flight() == 0 && notifier.connections() == 0;
        if (!idle && std::chrono::steady_clock::now() < drain_deadline) return;
        if (!idle)
            spdlog::warn("shutdown timeout: requests_in_flight={} websockets_open={}", server.in_flight(),
                         notifier.connections());
        io.stop();
    });
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int signal) {
        if (ec) return;
        spdlog::info("stopping signal={} in_flight={}", signal, server.in_flight());
        service::notify("STOPPING=1");
        server.stop_accepting();
        reload_signals.cancel();
        for (auto& [channel, poller] : pollers) poller->stop();
        notifier.close_all(1001, "server shutting down");
        work.reset();
        drain_deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(config.server.shutdown_timeout_ms);
        drain.start(Periodic::First::now);
    });

    // What runs threads or timers of its own, each after what it relies on; stopped, once the
    // I/O loop is down, in the reverse order. The committer stops first: it answers every
    // webhook still waiting for its commit (their clients are gone, but the rows are durable);
    // the processor then finishes the batch in hand, and the store's threads flush before the
    // fan-out's connections close.
    Components components;
    components.on_start("assigner", [&] { assigner.start(); });
    if (fanout) components.add("fanout", *fanout);
    components.on_stop("store runner", [&] { runner.stop(); });
    if (media_worker) components.add("media worker", *media_worker);
    components.add("inbound processor", processor);
    components.on_stop("group committer", [&] { committer.stop(); });
    components.on_start("long pollers", sync_pollers);
    components.on_start("reload signal", await_reload);
    components.on_start("event pruning", [&] { event_pruning.start(Periodic::First::now); });
    components.on_start("snooze wake-up", [&] { snooze_wake_up.start(Periodic::First::now); });
    components.on_start("token refresh", [&] { token_refresh.start(); });
    components.on_start("token expiry", [&] { token_expiry.start(); });
    if (watchdog_interval) components.on_start("watchdog", [&] { watchdog.start(Periodic::First::now); });
    components.start_all();

    spdlog::info("listening on http://{}:{} threads={} channels={} store={}", config.server.listen_host,
                 server.port(), threads, channels.snapshot()->all().size(), config.storage.backend);
    // Ready only now: config valid, store migrated, plugins loaded, listener up.
    service::notify("READY=1");
    status_line.start(Periodic::First::now);

    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i)
        pool.emplace_back([&io, i] {
            util::name_this_thread("sb-io-" + std::to_string(i));
            io.run();
        });
    io.run();
    for (auto& t : pool) t.join();

    components.stop_all();
    metrics::registry().ws_connections = nullptr;
    metrics::registry().queue_depth = nullptr;
    metrics::registry().oldest_queued_age = nullptr;
    spdlog::info("stopped");
    return 0;
}

}  // namespace sb::app
