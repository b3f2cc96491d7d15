// switchboardd as a service, tested on the real process: the sd_notify protocol on a real
// NOTIFY_SOCKET datagram socket, SIGHUP reloads with an agent connected, SIGTERM's orderly
// stop, metrics that move with traffic, and logs that never carry a secret.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/http_test_client.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

namespace {

using namespace std::chrono_literals;
using sb::test::Daemon;
using sb::test::HeaderList;
using sb::test::HttpClient;
using sb::test::Process;
using sb::test::TempDir;
using sb::test::wait_until;
using sb::test::WebSocketClient;

constexpr const char* kAdminToken = "service-admin-token-0123456789";
constexpr const char* kBotToken = "424242:BOT-TOKEN-THAT-MUST-NOT-LEAK";
constexpr const char* kSecret = "webhook-secret-that-must-not-leak";

std::string update(int id, const std::string& text) {
    return "{\"update_id\":" + std::to_string(id) + ",\"message\":{\"message_id\":" + std::to_string(id) +
           ",\"from\":{\"id\":5150,\"is_bot\":false,\"first_name\":\"Grace\"},\"chat\":{\"id\":5150,\"type\":"
           "\"private\",\"first_name\":\"Grace\"},\"date\":1732540000,\"text\":\"" +
           text + "\"}}";
}

// A channel block for one Telegram channel.
std::string channel(const std::string& id, const std::string& secret, const std::string& api_base) {
    return "  - id: " + id + "\n    plugin: telegram\n    settings: { bot_token: \"" + kBotToken +
           "\", secret_token: \"" + secret + "\", api_base: \"" + api_base + "\" }\n";
}

std::string config(const std::filesystem::path& dir, const std::string& channels) {
    return "server: { listen: \"127.0.0.1:0\", threads: 2, shutdown_timeout_ms: 3000 }\n"
           "storage: { backend: sqlite, sqlite: { path: \"" +
           (dir / "sb.db").string() +
           "\" } }\n"
           "plugins: { dir: \"" SB_PLUGIN_DIR
           "\" }\n"
           "auth: { bootstrap_admin_token: \"" +
           std::string(kAdminToken) + "\" }\nchannels:\n" + channels;
}

HeaderList secret_header(const std::string& secret) { return {{"X-Telegram-Bot-Api-Secret-Token", secret}}; }
HeaderList bearer() { return {{"Authorization", std::string("Bearer ") + kAdminToken}}; }

// The service manager's end of NOTIFY_SOCKET.
class NotifySocket {
public:
    explicit NotifySocket(const std::filesystem::path& path) : path_(path.string()) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("cannot bind notify socket " + path_);
        timeval tv{0, 100'000};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~NotifySocket() {
        if (fd_ >= 0) ::close(fd_);
    }
    const std::string& path() const { return path_; }

    // Reads datagrams until one contains `needle` or the timeout passes; all are kept.
    bool wait_for(const std::string& needle, std::chrono::milliseconds timeout = 10s) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            for (const auto& m : messages_)
                if (m.find(needle) != std::string::npos) return true;
            if (std::chrono::steady_clock::now() > deadline) return false;
            char buf[4096];
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) messages_.emplace_back(buf, static_cast<std::size_t>(n));
        }
    }
    int count(const std::string& needle) const {
        int n = 0;
        for (const auto& m : messages_) n += m.find(needle) != std::string::npos ? 1 : 0;
        return n;
    }
    const std::vector<std::string>& messages() const { return messages_; }

private:
    std::string path_;
    int fd_ = -1;
    std::vector<std::string> messages_;
};

class ServiceTest : public ::testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) daemon_.dump_logs(std::cerr);
    }
    std::string one_channel() const {
        return config(daemon_.dir(), channel("tg", kSecret, platform_.base_url()));
    }

    sb::test::FakeHttpServer platform_;
    Daemon daemon_{SB_DAEMON_PATH};
};

TEST_F(ServiceTest, NotifiesReadyStatusWatchdogAndStoppingOverNotifySocket) {
    TempDir dir;
    NotifySocket notify(dir.path() / "notify.sock");
    auto config_path =
        dir.write_file("config.yaml", config(dir.path(), channel("tg", kSecret, platform_.base_url())));
    Process daemon(Process::Options{SB_DAEMON_PATH,
                                    {"--config", config_path.string()},
                                    {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "200000"}},
                                    dir.path() / "daemon.log"});

    ASSERT_TRUE(notify.wait_for("READY=1")) << daemon.log();
    // READY=1 is sent only once the listener is up.
    EXPECT_TRUE(daemon.log().find("listening on http://") != std::string::npos);
    ASSERT_TRUE(notify.wait_for("STATUS=channels 1/1 ready"));
    // The watchdog is pinged at half the interval while the loop is healthy.
    ASSERT_TRUE(wait_until(
        [&] {
            notify.wait_for("never", 50ms);
            return notify.count("WATCHDOG=1") >= 3;
        },
        3s));

    daemon.signal(SIGTERM);
    EXPECT_TRUE(notify.wait_for("STOPPING=1"));
    EXPECT_EQ(daemon.wait_for_exit(10s), 0);
}

TEST_F(ServiceTest, ReloadAddsAndRemovesChannelsWhileTheAgentStaysConnected) {
    daemon_.start(one_channel());
    WebSocketClient agent;
    ASSERT_EQ(agent.connect(daemon_.port(), std::string("/api/v1/ws?access_token=") + kAdminToken).status,
              101);
    ASSERT_TRUE(agent.read_frame(5s));  // hello

    // Replace channel tg with tg2.
    std::filesystem::remove(daemon_.config_path());
    std::ofstream(daemon_.config_path())
        << config(daemon_.dir(), channel("tg2", "second-secret", platform_.base_url()));
    daemon_.process().signal(SIGHUP);
    ASSERT_TRUE(daemon_.process().wait_for_log(std::regex("reloaded config=.* channels=1 unchanged=0"), 10s));

    HttpClient client(daemon_.port());
    EXPECT_EQ(
        client.post_json("/webhooks/tg", update(1, "to the old channel"), secret_header(kSecret)).status,
        404);
    EXPECT_EQ(
        client.post_json("/webhooks/tg2", update(2, "to the new channel"), secret_header("second-secret"))
            .status,
        200);
    auto channels = HttpClient(daemon_.port(), bearer()).get("/api/v1/channels");
    EXPECT_NE(channels.body.find("\"id\":\"tg2\""), std::string::npos) << channels.body;
    EXPECT_EQ(channels.body.find("\"id\":\"tg\""), std::string::npos) << channels.body;

    // The same WebSocket, never dropped, receives the new channel's message.
    auto frame = agent.read_frame(10s);
    ASSERT_TRUE(frame) << agent.close_reason();
    EXPECT_NE(frame->find("to the new channel"), std::string::npos) << *frame;
    EXPECT_NE(frame->find("\"channel_id\":\"tg2\""), std::string::npos) << *frame;
    EXPECT_FALSE(agent.closed());
}

TEST_F(ServiceTest, ReloadWithABrokenConfigKeepsTheRunningOne) {
    daemon_.start(one_channel());
    std::ofstream(daemon_.config_path()) << "server: { listen: \"127.0.0.1:0\" }\nbogus_key: 1\n";
    daemon_.process().signal(SIGHUP);
    ASSERT_TRUE(daemon_.process().wait_for_log(std::regex("reload rejected.*bogus_key"), 10s))
        << daemon_.log();
    EXPECT_TRUE(daemon_.running());
    EXPECT_EQ(HttpClient(daemon_.port())
                  .post_json("/webhooks/tg", update(3, "still here"), secret_header(kSecret))
                  .status,
              200);
}

TEST_F(ServiceTest, SigtermClosesWebSocketsWithGoingAwayAndExitsZero) {
    daemon_.start(one_channel());
    WebSocketClient agent;
    ASSERT_EQ(agent.connect(daemon_.port(), std::string("/api/v1/ws?access_token=") + kAdminToken).status,
              101);
    ASSERT_TRUE(agent.read_frame(5s));  // hello
    // A webhook answered just before the signal is durable and processed on the next start.
    ASSERT_EQ(HttpClient(daemon_.port())
                  .post_json("/webhooks/tg", update(4, "last words"), secret_header(kSecret))
                  .status,
              200);

    // The agent keeps reading while the daemon stops, as a real client does, so the close
    // handshake can complete.
    bool closed = false;
    std::thread reader([&] {
        closed = wait_until([&] {
            agent.read_frame(50ms);
            return agent.closed();
        });
    });
    EXPECT_EQ(daemon_.kill(SIGTERM), 0);
    reader.join();
    ASSERT_TRUE(closed);
    EXPECT_NE(agent.close_reason().find("code 1001"), std::string::npos) << agent.close_reason();

    daemon_.restart();
    // Processing resumes in the background once the daemon is up again: wait for it.
    std::string conversations;
    EXPECT_TRUE(wait_until([&] {
        conversations = HttpClient(daemon_.port(), bearer()).get("/api/v1/conversations").body;
        return conversations.find("\"platform_id\":\"5150\"") != std::string::npos;
    })) << conversations;
}

// SIGTERM in the middle of a webhook burst: the daemon stops accepting, answers what it took
// in, exits 0 — and after a restart every webhook that was answered 200 is a message, once.
TEST_F(ServiceTest, SigtermUnderLoadLosesNothingItAcknowledged) {
    daemon_.start(one_channel());
    constexpr int kPosters = 8;
    std::atomic<bool> stop{false};
    std::atomic<int> acknowledged{0};
    std::vector<std::vector<int>> acked(kPosters);
    std::vector<std::thread> posters;
    const std::uint16_t port = daemon_.port();
    for (int p = 0; p < kPosters; ++p) {
        posters.emplace_back([&, p] {
            for (int n = 0; !stop; ++n) {
                const int id = 100'000 + p * 10'000 + n;
                auto r =
                    HttpClient(port, {}, 5s)
                        .post_json("/webhooks/tg", update(id, std::to_string(id)), secret_header(kSecret));
                if (r.status == 200) {
                    acked[static_cast<std::size_t>(p)].push_back(id);
                    ++acknowledged;
                } else if (r.status == 0) {
                    return;  // the daemon is gone
                }
            }
        });
    }
    // Not an ASSERT: the posters must be stopped and joined whatever happens.
    EXPECT_TRUE(wait_until([&] { return acknowledged >= 300; })) << "the burst never got going";
    EXPECT_EQ(daemon_.kill(SIGTERM), 0) << "SIGTERM under load did not end in an orderly exit";
    stop = true;
    for (auto& t : posters) t.join();

    std::set<int> expected;
    for (const auto& ids : acked) expected.insert(ids.begin(), ids.end());
    daemon_.restart();
    // Every acknowledged webhook, once (the queue may still be draining right after start).
    std::multiset<int> stored;
    ASSERT_TRUE(wait_until(
        [&] {
            stored.clear();
            auto list = HttpClient(daemon_.port(), bearer()).get("/api/v1/conversations");
            auto at = list.body.find("\"id\":\"");
            if (at == std::string::npos) return false;
            const std::string conversation = list.body.substr(at + 6, list.body.find('"', at + 6) - at - 6);
            std::string before;
            for (;;) {
                auto page = HttpClient(daemon_.port(), bearer())
                                .get("/api/v1/conversations/" + conversation + "/messages?limit=200" +
                                     (before.empty() ? "" : "&before=" + before));
                for (std::size_t pos = 0; (pos = page.body.find("\"text\":\"", pos)) != std::string::npos;) {
                    pos += 8;
                    stored.insert(std::stoi(page.body.substr(pos, page.body.find('"', pos) - pos)));
                }
                auto cursor = page.body.find("\"next_cursor\":\"");
                if (cursor == std::string::npos) break;
                cursor += 15;
                before = page.body.substr(cursor, page.body.find('"', cursor) - cursor);
            }
            for (int id : expected)
                if (stored.count(id) != 1) return false;
            return true;
        },
        20s))
        << stored.size() << " stored for " << expected.size() << " acknowledged";
    for (int id : stored) EXPECT_EQ(stored.count(id), 1u) << "message " << id << " stored twice";
    std::cerr << expected.size() << " acknowledged before and during SIGTERM, " << stored.size()
              << " stored after the restart\n";
}

// The value of an unlabelled or labelled sample line in a Prometheus exposition; -1 if absent.
double sample(const std::string& exposition, const std::string& series) {
    auto at = exposition.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(exposition.substr(at + series.size() + 2));
}

TEST_F(ServiceTest, MetricsMoveWithTraffic) {
    daemon_.start(one_channel());
    HttpClient client(daemon_.port());
    auto before = client.get("/metrics");
    ASSERT_EQ(before.status, 200);
    EXPECT_NE(before.header("Content-Type").value_or("").find("text/plain"), std::string::npos);

    ASSERT_EQ(client.post_json("/webhooks/tg", update(5, "counted"), secret_header(kSecret)).status, 200);
    ASSERT_EQ(client.post_json("/webhooks/tg", update(6, "refused"), secret_header("wrong")).status, 403);
    // The processor counts the applied event, publishes it, then observes its latency; and an
    // exposition is no snapshot (the counters are written out before the histograms). So wait
    // for one that shows both, then check every series in it.
    std::string after;
    ASSERT_TRUE(wait_until([&] {
        after = client.get("/metrics").body;
        return sample(after, "switchboard_inbound_events_applied_total{channel=\"tg\"}") >= 1 &&
               sample(after, "switchboard_processing_latency_seconds_count") >= 1;
    })) << after;
    EXPECT_EQ(sample(after, "switchboard_inbound_events_applied_total{channel=\"tg\"}"), 1) << after;
    EXPECT_EQ(sample(after, "switchboard_webhooks_received_total{channel=\"tg\"}"), 1) << after;
    EXPECT_EQ(sample(after, "switchboard_webhooks_rejected_total{channel=\"tg\",reason=\"forbidden\"}"), 1)
        << after;
    EXPECT_EQ(sample(after, "switchboard_processing_latency_seconds_count"), 1) << after;
    EXPECT_EQ(sample(after, "switchboard_inbound_queue_depth"), 0) << after;
    EXPECT_EQ(sample(after, "switchboard_inbound_queue_oldest_age_seconds"), 0) << "nothing waits" << after;
}

TEST_F(ServiceTest, LogsNeverContainSecrets) {
    daemon_.start(one_channel());
    HttpClient client(daemon_.port());
    ASSERT_EQ(client.post_json("/webhooks/tg", update(7, "hello"), secret_header(kSecret)).status, 200);
    client.post_json("/webhooks/tg", update(8, "bad"), secret_header("wrong-secret"));
    client.post_json("/webhooks/tg", "{not json", secret_header(kSecret));
    // A send the platform refuses (the fake answers 401: the bot token is "invalid").
    platform_.set_handler([](const sb::test::HttpRequest&) {
        sb::test::HttpResponse r;
        r.status = 401;
        r.body = R"({"ok":false,"error_code":401,"description":"Unauthorized"})";
        return r;
    });
    ASSERT_TRUE(wait_until([&] {
        return HttpClient(daemon_.port(), bearer()).get("/api/v1/conversations").body.find("5150") !=
               std::string::npos;
    }));
    auto reply =
        HttpClient(daemon_.port(), bearer())
            .post_json("/api/v1/conversations/1/messages", R"({"content":{"type":"text","text":"hi"}})");
    EXPECT_GE(reply.status, 400);
    EXPECT_EQ(reply.body.find(kBotToken), std::string::npos) << reply.body;
    daemon_.kill(SIGTERM);

    std::string log = daemon_.log();
    EXPECT_EQ(log.find(kBotToken), std::string::npos) << "bot token leaked into the log";
    EXPECT_EQ(log.find("BOT-TOKEN"), std::string::npos) << "part of the bot token leaked into the log";
    EXPECT_EQ(log.find(kSecret), std::string::npos) << "webhook secret leaked into the log";
    EXPECT_EQ(log.find(kAdminToken), std::string::npos) << "admin token leaked into the log";
    EXPECT_NE(log.find("webhook rejected"), std::string::npos) << "the events themselves are logged";
}

TEST_F(ServiceTest, LogsWhyThePluginRefusedAWebhook) {
    daemon_.start(one_channel());
    HttpClient client(daemon_.port());
    EXPECT_EQ(client.post_json("/webhooks/tg", update(9, "bad"), secret_header("wrong-secret")).status, 403);
    EXPECT_EQ(client.post_json("/webhooks/tg", update(10, "none")).status, 401);
    daemon_.kill(SIGTERM);

    // The plugin's own words (host->refuse_reason, ABI 1.2), not a guess by the host.
    std::string log = daemon_.log();
    EXPECT_NE(log.find("webhook rejected channel=tg status=403 reason=\"X-Telegram-Bot-Api-Secret-Token does "
                       "not match secret_token\""),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("webhook rejected channel=tg status=401 reason=\"no X-Telegram-Bot-Api-Secret-Token "
                       "header\""),
              std::string::npos)
        << log;
    EXPECT_EQ(log.find("missing webhook credentials"), std::string::npos) << log;
}

TEST_F(ServiceTest, MigrateSubcommandCreatesTheSchemaAndExits) {
    TempDir dir;
    auto config_path =
        dir.write_file("config.yaml", config(dir.path(), channel("tg", kSecret, platform_.base_url())));
    auto result = Process::run(
        Process::Options{
            SB_DAEMON_PATH, {"--config", config_path.string(), "migrate"}, {}, dir.path() / "migrate.log"},
        30s);
    ASSERT_TRUE(result.exit_code);
    EXPECT_EQ(*result.exit_code, 0) << result.output;
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "sb.db"));
    EXPECT_NE(result.output.find("store migrated"), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find("listening on"), std::string::npos) << "migrate must not start serving";

    // A store it cannot reach is a clear failure, not a half-started daemon.
    std::string unreachable = config(dir.path(), channel("tg", kSecret, platform_.base_url()));
    unreachable.replace(unreachable.find("backend: sqlite"), std::string("backend: sqlite").size(),
                        "backend: postgres, postgres: { dsn: \"host=" +
                            (dir.path() / "no-such-socket-dir").string() + " dbname=none\" }");
    auto broken = dir.write_file("broken.yaml", unreachable);
    auto refused = Process::run(
        Process::Options{
            SB_DAEMON_PATH, {"--config", broken.string(), "migrate"}, {}, dir.path() / "broken.log"},
        30s);
    ASSERT_TRUE(refused.exit_code);
    EXPECT_EQ(*refused.exit_code, 1) << refused.output;
    EXPECT_NE(refused.output.find("migrate failed"), std::string::npos) << refused.output;
}

}  // namespace
