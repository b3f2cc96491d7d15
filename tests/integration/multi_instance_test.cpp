// Several switchboardd processes on one PostgreSQL (DESIGN §4, scale-out): webhooks taken by
// any instance reach agents on every instance once; a killed instance's leased rows are
// finished by another; a database outage answers 503 and heals by itself, losing nothing that
// was acknowledged. Needs a PostgreSQL whose role may CREATE DATABASE in SB_TEST_PG_DSN (CI:
// tools/with-postgres); each test works in a database of its own. The outage test runs its
// own throwaway cluster (initdb in a temp dir) so that it may stop and start it.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <signal.h>
#include <unistd.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/http_test_client.hpp"
#include "support/process.hpp"
#include "support/test_database.hpp"
#include "support/wait.hpp"

namespace sb::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr char kAdminToken[] = "test-admin-token-0123456789";
constexpr char kBotToken[] = "123456:TEST";
constexpr char kSecret[] = "s3cret";
constexpr char kNoPostgres[] =
    "SB_TEST_PG_DSN is not set: multi-instance tests need PostgreSQL (run under tools/with-postgres)";

// ---- PostgreSQL ---------------------------------------------------------------------------

// platform_id → how many inbound messages carry it.
std::map<std::string, int> inbound_messages(const TestDatabase& db) {
    pqxx::connection conn(db.dsn());
    pqxx::nontransaction tx(conn);
    std::map<std::string, int> out;
    for (const auto& r : tx.exec("SELECT platform_id, count(*) FROM messages WHERE direction = 'in' "
                                 "GROUP BY platform_id"))
        out[r[0].as<std::string>()] = r[1].as<int>();
    return out;
}

// A throwaway PostgreSQL cluster of the test's own, on a unix socket in its temp dir, that the
// test may stop and start. initdb and postgres refuse root: as root it belongs to `postgres`.
class OwnCluster {
public:
    OwnCluster() {
        const char* bin = std::getenv("SB_PG_BIN");
        bin_ = bin != nullptr && *bin != '\0' ? bin : "/usr/lib/postgresql/15/bin";
        // Not $TMPDIR: the postgres user must reach it, and a socket path must stay short.
        std::string pattern = "/tmp/sb-mi-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
        dir_ = pattern;
        fs::permissions(dir_, fs::perms::all);
        if (::getuid() == 0)
            owner_ = "postgres";
        else
            owner_ = std::getenv("USER") != nullptr ? std::getenv("USER") : "postgres";
        fs::create_directory(dir_ / "data");
        if (::getuid() == 0) run("/usr/bin/chown", {"postgres", (dir_ / "data").string()}, false);
        fs::permissions(dir_ / "data", fs::perms::owner_all);
    }
    ~OwnCluster() {
        if (started_) run_pg("pg_ctl", {"-D", (dir_ / "data").string(), "-m", "immediate", "-w", "stop"});
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
    OwnCluster(const OwnCluster&) = delete;
    OwnCluster& operator=(const OwnCluster&) = delete;

    bool available() const {
        return fs::exists(fs::path(bin_) / "initdb") && fs::exists(fs::path(bin_) / "pg_ctl");
    }

    std::string init() {
        auto r = run_pg("initdb", {"-D", (dir_ / "data").string(), "-U", owner_, "--auth=trust",
                                   "--encoding=UTF8", "--locale=C.UTF-8"});
        if (r.exit_code != 0) return "initdb failed: " + r.output;
        return start();
    }
    // "" on success, else the reason.
    std::string start() {
        auto r = run_pg("pg_ctl", {"-D", (dir_ / "data").string(), "-l", (dir_ / "server.log").string(), "-w",
                                   "-t", "60", "start", "-o",
                                   "-c listen_addresses='' -c unix_socket_directories='" + dir_.string() +
                                       "' -c unix_socket_permissions=0777 -p 5432 -c fsync=off "
                                       "-c synchronous_commit=off -c max_connections=100"});
        if (r.exit_code != 0) return "pg_ctl start failed: " + r.output + read_file(dir_ / "server.log");
        started_ = true;
        return "";
    }
    std::string stop() {
        auto r = run_pg("pg_ctl", {"-D", (dir_ / "data").string(), "-m", "fast", "-w", "stop"});
        if (r.exit_code != 0) return "pg_ctl stop failed: " + r.output;
        started_ = false;
        return "";
    }
    std::string admin_dsn() const {
        return "host=" + dir_.string() + " port=5432 dbname=postgres user=" + owner_;
    }

private:
    Process::RunResult run(const std::string& program, std::vector<std::string> args, bool) const {
        return Process::run(Process::Options{program, std::move(args), {}, dir_ / "cmd.log"}, 90s);
    }
    Process::RunResult run_pg(const std::string& tool, std::vector<std::string> args) const {
        std::string program = bin_ + "/" + tool;
        if (::getuid() != 0) return run(program, std::move(args), false);
        std::vector<std::string> full = {"-u", "postgres", "--", program};
        full.insert(full.end(), args.begin(), args.end());
        return run("/usr/sbin/runuser", std::move(full), false);
    }

    std::string bin_;
    fs::path dir_;
    std::string owner_;
    bool started_ = false;
};

// Counts what arrives on LISTEN switchboard_events, on a thread of its own.
class NotifyCounter {
public:
    explicit NotifyCounter(const std::string& dsn) : thread_([this, dsn] { run(dsn); }) {
        std::unique_lock lock(mutex_);
        ready_.wait_for(lock, 10s, [&] { return listening_; });
    }
    ~NotifyCounter() {
        stop_ = true;
        thread_.join();
    }
    std::vector<std::string> payloads() {
        std::lock_guard lock(mutex_);
        return payloads_;
    }

private:
    struct Receiver final : pqxx::notification_receiver {
        Receiver(pqxx::connection_base& c, NotifyCounter& owner)
            : notification_receiver(c, "switchboard_events"), owner_(owner) {}
        void operator()(const std::string& payload, int) override {
            std::lock_guard lock(owner_.mutex_);
            owner_.payloads_.push_back(payload);
        }
        NotifyCounter& owner_;
    };
    void run(const std::string& dsn) {
        pqxx::connection conn(dsn);
        Receiver receiver(conn, *this);
        {
            std::lock_guard lock(mutex_);
            listening_ = true;
        }
        ready_.notify_all();
        while (!stop_) conn.await_notification(0, 50'000);
    }

    std::mutex mutex_;
    std::condition_variable ready_;
    bool listening_ = false;
    std::atomic<bool> stop_{false};
    std::vector<std::string> payloads_;
    std::thread thread_;
};

// ---- JSON and payloads --------------------------------------------------------------------

rapidjson::Document parse_json(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    return doc;
}

std::string str_at(const rapidjson::Value& root, const char* pointer) {
    const rapidjson::Value* v = rapidjson::Pointer(pointer).Get(root);
    if (v == nullptr || !v->IsString()) return {};
    return {v->GetString(), v->GetStringLength()};
}

std::int64_t int_at(const rapidjson::Value& root, const char* pointer) {
    const rapidjson::Value* v = rapidjson::Pointer(pointer).Get(root);
    return v != nullptr && v->IsInt64() ? v->GetInt64() : -1;
}

// One Telegram Update: a private text message `text` in chat `chat_id`.
std::string telegram_update(std::int64_t update_id, std::int64_t chat_id, std::int64_t message_id,
                            const std::string& text) {
    return R"({"update_id":)" + std::to_string(update_id) + R"(,"message":{"message_id":)" +
           std::to_string(message_id) + R"(,"from":{"id":)" + std::to_string(chat_id) +
           R"(,"is_bot":false,"first_name":"Ada"},"chat":{"id":)" + std::to_string(chat_id) +
           R"(,"first_name":"Ada","type":"private"},"date":1732540000,"text":")" + text + R"("}})";
}

std::string platform_id(std::int64_t chat_id, std::int64_t message_id) {
    return std::to_string(chat_id) + ":" + std::to_string(message_id);
}

// A webhook as the platform posts it; the result's status (0 = no answer).
int post_update(std::uint16_t port, std::int64_t update_id, std::int64_t chat_id, std::int64_t message_id,
                const std::string& text) {
    auto res = HttpClient(port, {}, 5s)
                   .post_json("/webhooks/tg", telegram_update(update_id, chat_id, message_id, text),
                              {{"X-Telegram-Bot-Api-Secret-Token", kSecret}});
    return res.status;
}

int readyz(std::uint16_t port) { return HttpClient(port, {}, 5s).get("/readyz").status; }

// ---- Agent --------------------------------------------------------------------------------

// An admin WebSocket: collects the event frames (everything but hello), in arrival order.
struct Received {
    std::string type;
    std::string text;
    std::string platform_id;
    std::string conversation_id;
    std::int64_t seq = 0;
};

class Agent {
public:
    ::testing::AssertionResult connect(std::uint16_t port) {
        auto res = ws_.connect(port, "/api/v1/ws", {{"Authorization", std::string("Bearer ") + kAdminToken}});
        if (res.status != 101)
            return ::testing::AssertionFailure() << "WebSocket refused: " << res.status << res.error;
        return ::testing::AssertionSuccess();
    }
    // Reads until `count` new_message frames arrived in all, or `timeout`.
    std::vector<Received> read_until(std::size_t count, std::chrono::milliseconds timeout) {
        read_while([&] { return messages().size() < count; }, timeout);
        return messages();
    }
    // Reads until a frame of `type` arrived, or `timeout`; how many of that type came.
    std::size_t wait_for_type(const std::string& type, std::chrono::milliseconds timeout) {
        read_while([&] { return count_of(type) == 0; }, timeout);
        return count_of(type);
    }
    std::size_t count_of(const std::string& type) const {
        return static_cast<std::size_t>(std::count_if(received_.begin(), received_.end(),
                                                      [&](const Received& r) { return r.type == type; }));
    }
    const std::vector<Received>& all() const { return received_; }
    std::vector<Received> messages() const {
        std::vector<Received> out;
        for (const auto& r : received_)
            if (r.type == "new_message") out.push_back(r);
        return out;
    }
    bool closed() const { return ws_.closed(); }
    std::string close_reason() const { return ws_.close_reason(); }
    bool resume(std::int64_t after_seq) {
        return ws_.send_text(R"({"type":"resume","after_seq":)" + std::to_string(after_seq) + "}");
    }

private:
    void read_while(const std::function<bool()>& more, std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (more() && Clock::now() < deadline) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            auto frame = ws_.read_frame(std::max(left, 1ms));
            if (!frame) {
                if (ws_.closed()) break;
                continue;
            }
            auto doc = parse_json(*frame);
            if (doc.HasParseError() || str_at(doc, "/type") == "hello") continue;
            received_.push_back(Received{str_at(doc, "/type"), str_at(doc, "/data/message/content/text"),
                                         str_at(doc, "/data/message/platform_id"),
                                         str_at(doc, "/data/conversation/id"), int_at(doc, "/seq")});
        }
    }

    WebSocketClient ws_;
    std::vector<Received> received_;
};

// Every text exactly once in `received`; "" when so, else what is wrong.
std::string exactly_once(const std::vector<Received>& received, const std::set<std::string>& expected) {
    std::map<std::string, int> seen;
    std::set<std::int64_t> seqs;
    std::string problems;
    for (const auto& r : received) {
        ++seen[r.text];
        if (!seqs.insert(r.seq).second) problems += "seq " + std::to_string(r.seq) + " twice; ";
    }
    for (const auto& text : expected) {
        auto it = seen.find(text);
        if (it == seen.end())
            problems += text + " missing; ";
        else if (it->second != 1)
            problems += text + " x" + std::to_string(it->second) + "; ";
    }
    for (const auto& [text, n] : seen)
        if (!expected.contains(text)) problems += "unexpected " + text + "; ";
    return problems;
}

// ---- Fixture ------------------------------------------------------------------------------

class MultiInstanceTest : public ::testing::Test {
protected:
    void SetUp() override {
        const char* dsn = std::getenv("SB_TEST_PG_DSN");
        if (dsn == nullptr || *dsn == '\0') GTEST_SKIP() << kNoPostgres;
        admin_dsn_ = dsn;
    }
    void TearDown() override {
        if (HasFailure()) {
            a_.dump_logs(std::cerr);
            b_.dump_logs(std::cerr);
        }
    }

    std::string config(const std::string& dsn, int lease_ms = 30'000) const {
        std::string yaml;
        yaml += "server: { listen: \"127.0.0.1:0\", threads: 2 }\n";
        yaml += "storage: { backend: postgres, postgres: { dsn: \"" + dsn + "\", pool_size: 4 } }\n";
        yaml += "plugins: { dir: \"" SB_PLUGIN_DIR "\" }\n";
        yaml += std::string("auth: { bootstrap_admin_token: \"") + kAdminToken + "\" }\n";
        yaml += "inbound: { lease_ms: " + std::to_string(lease_ms) + " }\n";
        yaml += "channels:\n";
        yaml += "  - id: tg\n";
        yaml += "    plugin: telegram\n";
        yaml += std::string("    settings: { bot_token: \"") + kBotToken + "\", secret_token: \"" + kSecret +
                "\", api_base: \"" + telegram_.base_url() + "\" }\n";
        return yaml;
    }

    // One after the other: a child started from another thread would get SIGKILL when that
    // thread ends (Process sets PR_SET_PDEATHSIG). The second finds the schema migrated.
    void start_both(const std::string& dsn, int lease_ms = 30'000) {
        a_.start(config(dsn, lease_ms), 30s);
        b_.start(config(dsn, lease_ms), 30s);
    }

    // Before the test's database goes (a graceful stop would wait for the agents' sockets).
    void stop_daemons() {
        for (Daemon* d : {&a_, &b_})
            if (d->running()) d->kill(SIGKILL);
    }

    std::string admin_dsn_;
    FakeHttpServer telegram_;
    Daemon a_{SB_DAEMON_PATH};
    Daemon b_{SB_DAEMON_PATH};
};

// (a) Webhooks posted to A and B at once; agents on B (and on A) get each message once.
TEST_F(MultiInstanceTest, AgentOnEitherInstanceGetsEveryMessageOnce) {
    TestDatabase db(admin_dsn_);
    ASSERT_NO_THROW(start_both(db.dsn()));
    Agent on_b;
    Agent on_a;
    ASSERT_TRUE(on_b.connect(b_.port()));
    ASSERT_TRUE(on_a.connect(a_.port()));
    auto notifications = std::make_unique<NotifyCounter>(db.dsn());

    // Behind a round-robin balancer: each chat's messages alternate between A and B, one after
    // the other (the platform waits for each answer); the chats run concurrently.
    constexpr int kChats = 3;
    constexpr int kPerChat = 15;
    std::set<std::string> expected;
    std::mutex failures_mutex;
    std::vector<std::string> failures;
    std::vector<std::thread> posters;
    for (int side = 0; side < 2; ++side) {
        for (int c = 0; c < kChats; ++c) {
            const std::int64_t chat = (side == 0 ? 1000 : 2000) + c;
            for (int i = 0; i < kPerChat; ++i)
                expected.insert(std::to_string(chat) + "-" + std::to_string(i));
            posters.emplace_back([&, chat, side] {
                for (int i = 0; i < kPerChat; ++i) {
                    const std::uint16_t port = (i + side) % 2 == 0 ? a_.port() : b_.port();
                    int status = post_update(port, chat * 100 + i, chat, i + 1,
                                             std::to_string(chat) + "-" + std::to_string(i));
                    if (status != 200) {
                        std::lock_guard lock(failures_mutex);
                        failures.push_back(std::to_string(chat) + "-" + std::to_string(i) + " -> " +
                                           std::to_string(status));
                    }
                }
            });
        }
    }
    for (auto& t : posters) t.join();
    ASSERT_TRUE(failures.empty()) << failures.size() << " webhooks not acknowledged, e.g. "
                                  << failures.front();

    for (Agent* agent : {&on_b, &on_a}) {
        const char* where = agent == &on_b ? "agent on B" : "agent on A";
        agent->read_until(expected.size(), 20s);
        // A repeat would come right after: watch a little longer.
        agent->read_until(expected.size() + 1, 1s);
        EXPECT_EQ(exactly_once(agent->messages(), expected), "") << where;
        // In order, per chat: a channel's rows are held by one worker at a time (whichever
        // instance it runs on), and an instance delivers what the others committed before its
        // own newer events.
        std::map<std::string, int> last_index;
        std::string inversions;
        for (const auto& r : agent->messages()) {
            auto dash = r.text.find('-');
            ASSERT_NE(dash, std::string::npos) << r.text;
            const std::string chat = r.text.substr(0, dash);
            const int index = std::stoi(r.text.substr(dash + 1));
            auto it = last_index.find(chat);
            if (it != last_index.end() && it->second > index)
                inversions += r.text + " after " + chat + "-" + std::to_string(it->second) + "; ";
            last_index[chat] = std::max(index, it == last_index.end() ? index : it->second);
        }
        EXPECT_EQ(inversions, "") << where << ": messages of a chat arrived out of order";
        EXPECT_FALSE(agent->closed()) << where << ": " << agent->close_reason();
    }
    // Coalesced: never more NOTIFYs than events, each carrying a seq that exists.
    const auto payloads = notifications->payloads();
    notifications.reset();
    std::cerr << payloads.size() << " NOTIFY for " << expected.size() << " events\n";
    EXPECT_GT(payloads.size(), 0u);
    EXPECT_LE(payloads.size(), expected.size());
    for (const auto& payload : payloads) {
        ASSERT_FALSE(payload.empty());
        EXPECT_EQ(db.scalar("SELECT count(*) FROM events WHERE seq = " + std::to_string(std::stoll(payload))),
                  1)
            << "NOTIFY payload " << payload;
    }
    // Both instances' workers drained the one queue, each row once.
    EXPECT_EQ(db.scalar("SELECT count(*) FROM inbound_queue"), 0);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM messages WHERE direction = 'in'"),
              static_cast<std::int64_t>(expected.size()));
    EXPECT_EQ(db.scalar("SELECT count(*) FROM events WHERE type = 'new_message'"),
              static_cast<std::int64_t>(expected.size()));
    stop_daemons();
}

// (b) SIGKILL one instance mid-load: the other takes over its leased rows once the lease ran
// out, and every acknowledged webhook ends as exactly one message.
TEST_F(MultiInstanceTest, SurvivorFinishesAKilledInstancesLeasedRows) {
    TestDatabase db(admin_dsn_);
    ASSERT_NO_THROW(start_both(db.dsn(), 1000));
    Agent on_b;
    ASSERT_TRUE(on_b.connect(b_.port()));

    constexpr int kPerThread = 60;
    std::atomic<int> posted{0};
    std::mutex mutex;
    std::set<std::string> acknowledged;  // platform ids answered 200
    std::set<std::string> acknowledged_texts;
    std::map<int, int> statuses;
    std::vector<std::thread> posters;
    for (int t = 0; t < 4; ++t) {
        posters.emplace_back([&, t] {
            const std::int64_t chat = 3000 + t;
            for (int i = 0; i < kPerThread; ++i) {
                // Alternate between the instances; once A is dead its posts fail (no answer).
                const std::uint16_t port = (i % 2 == 0) ? a_.port() : b_.port();
                const std::string text = std::to_string(chat) + "-" + std::to_string(i);
                int status = post_update(port, chat * 1000 + i, chat, i + 1, text);
                ++posted;
                {
                    std::lock_guard lock(mutex);
                    ++statuses[status];
                    if (status == 200) {
                        acknowledged.insert(platform_id(chat, i + 1));
                        acknowledged_texts.insert(text);
                    }
                }
                std::this_thread::sleep_for(10ms);  // load, not a burst: the kill lands mid-way
            }
        });
    }
    // Mid-load: A holds leases on rows it has not applied yet (or is applying them). (Not an
    // ASSERT: the posters must be joined whatever happens.)
    EXPECT_TRUE(wait_until([&] { return posted.load() >= 2 * kPerThread; }, 60s, 2ms));
    const auto claimed = db.scalar("SELECT count(*) FROM inbound_queue WHERE state = 'claimed'");
    EXPECT_EQ(a_.kill(SIGKILL), 128 + SIGKILL);
    // Whether A held a lease at that instant is chance: rows as A's claim leaves them make it
    // certain (claimed, a lease running 2.5 s from just before they are written, never applied).
    constexpr int kOrphans = 5;
    std::int64_t lease_end = 0;
    {
        pqxx::connection conn(db.dsn());
        pqxx::work tx(conn);
        lease_end = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count() +
                    2500;
        for (int i = 0; i < kOrphans; ++i) {
            const std::string text = "orphan-" + std::to_string(i);
            tx.exec_params(
                "INSERT INTO inbound_queue (channel_id, method, target, headers, body, received_ms, state, "
                "attempts, available_at_ms, lease_until_ms) VALUES ('tg', 'POST', '/webhooks/tg', "
                "'content-type: application/json\nx-telegram-bot-api-secret-token: s3cret\n', "
                "convert_to($1, 'UTF8'), $2, 'claimed', 1, $2, $3)",
                telegram_update(900000 + i, 3900, i + 1, text), lease_end - 3000, lease_end);
            acknowledged.insert(platform_id(3900, i + 1));
            acknowledged_texts.insert(text);
        }
        tx.commit();
    }
    // Not taken over while the lease runs (checked while the load goes on). A window for
    // something that must NOT happen: checked 1 s before the lease ends, so that a late wake-up
    // of this thread on a loaded machine still queries while the lease holds.
    std::this_thread::sleep_until(
        std::chrono::system_clock::time_point(std::chrono::milliseconds(lease_end - 1000)));
    EXPECT_EQ(db.scalar("SELECT count(*) FROM messages WHERE platform_id LIKE '3900:%'"), 0)
        << "the survivor took rows whose lease had not ended";
    for (auto& t : posters) t.join();
    std::cerr << "posted " << posted.load() << ", acknowledged " << acknowledged.size()
              << ", rows claimed at the kill " << claimed << "\n";
    ASSERT_GT(statuses[200], 0);
    EXPECT_GT(statuses[0], 0) << "every post was answered: A died after the load, not during it";
    for (const auto& [status, n] : statuses)
        EXPECT_TRUE(status == 200 || status == 0) << n << " webhooks answered " << status;

    // The survivor drains the queue, A's expired leases included.
    wait_until([&] { return db.scalar("SELECT count(*) FROM inbound_queue WHERE state <> 'dead'") == 0; },
               30s, 100ms);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM inbound_queue"), 0)
        << "rows left in the queue (or dead-lettered)";

    auto messages = inbound_messages(db);
    for (const auto& id : acknowledged) {
        auto it = messages.find(id);
        EXPECT_TRUE(it != messages.end() && it->second == 1)
            << "acknowledged webhook " << id << " stored " << (it == messages.end() ? 0 : it->second)
            << " times";
    }
    // Exactly once in the conversation: one new_message event per message, none replayed twice.
    EXPECT_EQ(db.scalar("SELECT count(*) FROM events WHERE type = 'new_message'"),
              db.scalar("SELECT count(*) FROM messages WHERE direction = 'in'"));
    // And the agent on the survivor saw each acknowledged one once (plus possibly ones A
    // stored without answering before it died).
    on_b.read_until(messages.size(), 20s);
    on_b.read_until(messages.size() + 1, 1s);
    std::map<std::string, int> seen;
    for (const auto& r : on_b.messages()) ++seen[r.text];
    for (const auto& text : acknowledged_texts) EXPECT_EQ(seen[text], 1) << "agent on B got " << text;
    for (const auto& [text, n] : seen) EXPECT_EQ(n, 1) << "agent on B got " << text << " " << n << " times";
    stop_daemons();
}

// (c) PostgreSQL stops for a few seconds under load: webhooks get 503 meanwhile, /readyz says
// 503, the agent's WebSocket stays up, everything recovers by itself, and every webhook that
// was acknowledged is exactly one message.
TEST_F(MultiInstanceTest, DatabaseOutageAnswers503ThenRecoversLosingNothingAcknowledged) {
    OwnCluster cluster;
    if (!cluster.available()) GTEST_SKIP() << "initdb/pg_ctl not found (set SB_PG_BIN)";
    ASSERT_EQ(cluster.init(), "");
    std::optional<TestDatabase> db;
    ASSERT_NO_THROW(db.emplace(cluster.admin_dsn()));
    ASSERT_NO_THROW(start_both(db->dsn()));
    Agent on_b;
    ASSERT_TRUE(on_b.connect(b_.port()));

    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::set<std::string> acknowledged_texts;
    std::set<std::string> acknowledged_ids;
    std::set<std::string> all_texts;
    std::map<int, int> statuses;
    std::vector<std::thread> posters;
    for (int t = 0; t < 2; ++t) {
        posters.emplace_back([&, t] {
            const std::int64_t chat = 4000 + t;
            for (int i = 0; !stop.load(); ++i) {
                const std::uint16_t port = (i % 2 == 0) ? a_.port() : b_.port();
                const std::string text = std::to_string(chat) + "-" + std::to_string(i);
                int status = post_update(port, chat * 10000 + i, chat, i + 1, text);
                {
                    std::lock_guard lock(mutex);
                    ++statuses[status];
                    all_texts.insert(text);
                    if (status == 200) {
                        acknowledged_texts.insert(text);
                        acknowledged_ids.insert(platform_id(chat, i + 1));
                    }
                }
                std::this_thread::sleep_for(20ms);  // load, not a burst
            }
        });
    }
    auto stop_posters = [&] {
        stop = true;
        for (auto& t : posters)
            if (t.joinable()) t.join();
    };

    auto answered = [&](int status) {
        std::lock_guard lock(mutex);
        return statuses[status];
    };
    // Under load before the outage: some webhooks went through.
    EXPECT_TRUE(wait_until([&] { return answered(200) >= 20; }, 30s, 50ms)) << "the load never got going";
    std::string stopped = cluster.stop();
    if (!stopped.empty()) stop_posters();
    ASSERT_EQ(stopped, "");
    const auto down_at = Clock::now();
    const bool readyz_503 =
        wait_until([&] { return readyz(a_.port()) == 503 && readyz(b_.port()) == 503; }, 10s, 100ms);
    // Webhooks meet the outage: one answered 503 is what is asserted below.
    wait_until([&] { return answered(503) > 0; }, 20s, 50ms);
    // The outage lasts a few seconds in all: the scenario (how long the pool is without its
    // server), not a wait for anything.
    std::this_thread::sleep_until(down_at + 4s);
    const int during_outage_503 = answered(503);
    std::string started = cluster.start();
    if (!started.empty()) stop_posters();
    ASSERT_EQ(started, "");
    const auto up_at = Clock::now();
    const bool ready_again =
        wait_until([&] { return readyz(a_.port()) == 200 && readyz(b_.port()) == 200; }, 30s, 100ms);
    const auto recovered_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - up_at).count();
    // Load after the recovery, too: more webhooks go through.
    const int acknowledged_at_recovery = answered(200);
    EXPECT_TRUE(wait_until([&] { return answered(200) >= acknowledged_at_recovery + 20; }, 30s, 50ms))
        << "no load went through after the recovery";
    stop_posters();

    std::cerr << "webhooks:";
    for (const auto& [status, n] : statuses) std::cerr << " " << status << "x" << n;
    std::cerr << "; recovered in " << recovered_ms << " ms\n";
    EXPECT_TRUE(readyz_503) << "/readyz did not say 503 while PostgreSQL was down";
    EXPECT_GT(during_outage_503, 0) << "no webhook was answered 503 during the outage";
    EXPECT_TRUE(ready_again) << "/readyz did not come back to 200 within 30 s of PostgreSQL's return";
    for (const auto& [status, n] : statuses)
        EXPECT_TRUE(status == 200 || status == 503) << n << " webhooks answered " << status;
    EXPECT_FALSE(on_b.closed()) << "the agent's WebSocket closed: " << on_b.close_reason();

    // Everything acknowledged is stored once, and reaches the agent on B once.
    wait_until([&] { return db->scalar("SELECT count(*) FROM inbound_queue WHERE state <> 'dead'") == 0; },
               30s, 100ms);
    EXPECT_EQ(db->scalar("SELECT count(*) FROM inbound_queue"), 0);
    auto messages = inbound_messages(*db);
    for (const auto& id : acknowledged_ids) {
        auto it = messages.find(id);
        EXPECT_TRUE(it != messages.end() && it->second == 1)
            << "acknowledged webhook " << id << " stored " << (it == messages.end() ? 0 : it->second)
            << " times";
    }
    EXPECT_EQ(db->scalar("SELECT count(*) FROM events WHERE type = 'new_message'"),
              static_cast<std::int64_t>(messages.size()));
    on_b.read_until(messages.size(), 20s);
    on_b.read_until(messages.size() + 1, 1s);
    std::map<std::string, int> seen;
    for (const auto& r : on_b.messages()) ++seen[r.text];
    for (const auto& text : acknowledged_texts) EXPECT_EQ(seen[text], 1) << "agent on B got " << text;
    for (const auto& [text, n] : seen) {
        EXPECT_EQ(n, 1) << "agent on B got " << text << " " << n << " times";
        EXPECT_TRUE(all_texts.contains(text)) << "agent on B got " << text << ", never posted";
    }
    stop_daemons();
}

// The outbox gap: an event whose seq was taken before a later one's but commits after it (a
// slow transaction) still reaches agents on every instance, once. It commits on no instance,
// so no NOTIFY announces it: the listeners' re-reading of skipped seqs finds it.
// Another instance committed an event whose NOTIFY has not arrived yet (here: the test
// commits it and sends none, so the listener would see it only at its next poll). A message
// this instance applies right after must not overtake it on the way to the agent.
TEST_F(MultiInstanceTest, EventCommittedElsewhereReachesTheAgentBeforeANewerLocalOne) {
    TestDatabase db(admin_dsn_);
    ASSERT_NO_THROW(b_.start(config(db.dsn()), 30s));
    Agent on_b;
    ASSERT_TRUE(on_b.connect(b_.port()));
    ASSERT_EQ(post_update(b_.port(), 600000, 6000, 1, "first"), 200);
    ASSERT_EQ(on_b.read_until(1, 10s).size(), 1u);

    for (int round = 0; round < 3; ++round) {
        pqxx::connection conn(db.dsn());
        pqxx::work tx(conn);
        tx.exec(
            "INSERT INTO events (type, conversation_id, created_ms, data_json) "
            "VALUES ('elsewhere', 0, 1732540000000, '{\"probe\":true}')");
        tx.commit();
        const std::string text = "local-" + std::to_string(round);
        ASSERT_EQ(post_update(b_.port(), 600001 + round, 6000, 2 + round, text), 200);
        on_b.read_until(2 + round, 10s);
    }
    std::string order;
    for (const auto& r : on_b.all())
        order += (r.type == "elsewhere" ? std::string("elsewhere") : r.text) + " ";
    EXPECT_EQ(order, "first elsewhere local-0 elsewhere local-1 elsewhere local-2 ");
    stop_daemons();
}

TEST_F(MultiInstanceTest, EventCommittedOutOfSeqOrderIsNotSkipped) {
    TestDatabase db(admin_dsn_);
    ASSERT_NO_THROW(start_both(db.dsn()));
    Agent on_a;
    Agent on_b;
    ASSERT_TRUE(on_a.connect(a_.port()));
    ASSERT_TRUE(on_b.connect(b_.port()));

    // One event before the gap, so that a resume from it is within what the store keeps.
    ASSERT_EQ(post_update(a_.port(), 500000, 5000, 1, "before-gap"), 200);
    std::int64_t before_seq = 0;
    for (Agent* agent : {&on_a, &on_b}) {
        auto got = agent->read_until(1, 10s);
        ASSERT_EQ(got.size(), 1u);
        before_seq = got.front().seq;
    }

    pqxx::connection slow_conn(db.dsn());
    pqxx::work slow(slow_conn);
    const auto gap_seq = slow.exec(
                                 "INSERT INTO events (type, conversation_id, created_ms, data_json) "
                                 "VALUES ('gap_probe', 0, 1732540000000, '{\"probe\":true}') RETURNING seq")
                             .at(0)[0]
                             .as<std::int64_t>();
    ASSERT_EQ(post_update(a_.port(), 500001, 5000, 2, "after-gap-1"), 200);
    ASSERT_EQ(post_update(b_.port(), 500002, 5001, 1, "after-gap-2"), 200);
    for (Agent* agent : {&on_a, &on_b}) {
        auto got = agent->read_until(3, 10s);
        ASSERT_EQ(got.size(), 3u);
        EXPECT_GT(got[1].seq, gap_seq);
        EXPECT_GT(got[2].seq, gap_seq);
    }
    // An agent resuming meanwhile gets the two messages from its replay, which cannot see the
    // gap's event yet; the live hand-over must still let it through when it commits.
    Agent resumed;
    ASSERT_TRUE(resumed.connect(b_.port()));
    ASSERT_TRUE(resumed.resume(before_seq));
    EXPECT_EQ(resumed.read_until(2, 10s).size(), 2u);
    // Both instances' cursors are past the gap now (a notification and a poll later). Not a
    // wait for something asserted (the probe must arrive either way, and the cursors cannot be
    // seen from here): it holds the transaction open past one poll (2 s), so the probe is found
    // by the re-reading of skipped seqs, the case under test.
    std::this_thread::sleep_for(2500ms);
    slow.commit();

    for (Agent* agent : {&on_a, &on_b, &resumed}) {
        const char* where = agent == &on_a   ? "agent on A"
                            : agent == &on_b ? "agent on B"
                                             : "resumed agent on B";
        EXPECT_EQ(agent->wait_for_type("gap_probe", 10s), 1u) << where << " never got seq " << gap_seq;
    }
    // Later traffic flows as before, and the probe does not come again.
    ASSERT_EQ(post_update(a_.port(), 500003, 5000, 3, "after-gap-3"), 200);
    for (Agent* agent : {&on_a, &on_b, &resumed}) {
        const std::size_t expected = agent == &resumed ? 3 : 4;
        EXPECT_EQ(agent->read_until(expected, 10s).size(), expected);
        // Must NOT happen: the probe read again. Watched past one poll interval (2 s), when
        // skipped seqs are re-read.
        agent->read_until(expected + 1, 2500ms);
        EXPECT_EQ(agent->count_of("gap_probe"), 1u);
        EXPECT_EQ(agent->messages().size(), expected);
    }
    stop_daemons();
}

// (f) media.store: postgres (issue 16). A file instance A fetched is in the database, not in A's
// media.dir: instance B, with a media.dir of its own, serves it byte for byte (whole and a range
// across a chunk boundary) while A is gone.
TEST_F(MultiInstanceTest, InstanceServesAFileAnotherInstanceFetchedWithoutASharedMediaDirectory) {
    TestDatabase db(admin_dsn_);
    std::string bytes("\xFF\xD8\xFF\xE0\x00\x10JFIF", 10);
    std::mt19937 random(7);
    while (bytes.size() < 1'500'000) bytes.push_back(static_cast<char>(random() & 0xFF));
    const std::string bot = std::string("/bot") + kBotToken;
    telegram_.set_handler([&](const HttpRequest& r) {
        HttpResponse res;
        if (r.path() == bot + "/getFile") {
            res.body = R"({"ok":true,"result":{"file_id":"PHOTO1","file_unique_id":"u","file_size":)" +
                       std::to_string(bytes.size()) + R"(,"file_path":"photos/file_1.jpg"}})";
        } else if (r.path() == std::string("/file/bot") + kBotToken + "/photos/file_1.jpg") {
            res.content_type = "application/octet-stream";
            res.body = bytes;
        } else {
            res.body = R"({"ok":true,"result":true})";
        }
        return res;
    });
    auto media_config = [](const Daemon& d) {
        return "media: { store: postgres, dir: \"" + (d.dir() / "media").string() + "\" }\n";
    };
    ASSERT_NO_THROW(a_.start(config(db.dsn()) + media_config(a_), 30s));
    const std::string update =
        R"({"update_id":900001,"message":{"message_id":1,"from":{"id":9000,"is_bot":false,"first_name":"Ada"},)"
        R"("chat":{"id":9000,"first_name":"Ada","type":"private"},"date":1732540000,)"
        R"("photo":[{"file_id":"PHOTO1","file_unique_id":"uPHOTO1","file_size":)" +
        std::to_string(bytes.size()) + R"(,"width":800,"height":600}]}})";
    ASSERT_EQ(HttpClient(a_.port(), {}, 5s)
                  .post_json("/webhooks/tg", update, {{"X-Telegram-Bot-Api-Secret-Token", kSecret}})
                  .status,
              200);
    const HeaderList admin{{"Authorization", std::string("Bearer ") + kAdminToken}};
    std::string url;
    ASSERT_TRUE(wait_until(
        [&] {
            auto list = parse_json(HttpClient(a_.port(), admin, 5s).get("/api/v1/conversations").body);
            const std::string conversation = str_at(list, "/items/0/id");
            if (conversation.empty()) return false;
            auto messages = parse_json(HttpClient(a_.port(), admin, 5s)
                                           .get("/api/v1/conversations/" + conversation + "/messages")
                                           .body);
            if (str_at(messages, "/items/0/content/media/state") != "ready") return false;
            url = str_at(messages, "/items/0/content/media/url");
            return true;
        },
        20s, 100ms))
        << "A never fetched the photo";
    a_.kill(SIGKILL);

    ASSERT_NO_THROW(b_.start(config(db.dsn()) + media_config(b_), 30s));
    auto whole = HttpClient(b_.port(), admin, 30s).get(url);
    ASSERT_EQ(whole.status, 200) << whole.body;
    EXPECT_EQ(whole.body.size(), bytes.size());
    EXPECT_TRUE(whole.body == bytes) << "B served other bytes";
    // 262,144 is where the first 256 KiB chunk ends.
    HeaderList ranged = admin;
    ranged.emplace_back("Range", "bytes=262100-262199");
    auto part = HttpClient(b_.port(), ranged, 30s).get(url);
    ASSERT_EQ(part.status, 206);
    EXPECT_TRUE(part.body == bytes.substr(262100, 100));
    // Neither instance keeps the file on its disk: only the database has it.
    for (const Daemon* d : {&a_, &b_}) {
        std::size_t files = 0;
        std::error_code ec;
        for (const auto& entry : fs::recursive_directory_iterator(d->dir() / "media", ec))
            if (entry.is_regular_file()) ++files;
        EXPECT_EQ(files, 0u) << d->dir() / "media";
    }
    EXPECT_EQ(db.scalar("SELECT count(*) FROM media_blobs"), 1);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM media_blob_chunks"), (1'500'000 + 262'143) / 262'144);
    stop_daemons();
}

}  // namespace
}  // namespace sb::test
