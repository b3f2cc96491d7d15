// The store contract: every backend must pass this suite unchanged. A backend is a Backend
// value below (how to open a fresh store for one test, and how to fake a newer schema).
// PostgreSQL runs when SB_TEST_PG_DSN names a database whose role may CREATE DATABASE
// (tools/with-postgres starts a throwaway server and sets it); without it its cases are skipped.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sqlite3.h>  // only for the SQLite backend's schema-version hook
#include <pqxx/pqxx>  // only for the PostgreSQL backend's set-up and its own tests

#include <unistd.h>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <initializer_list>
#include <latch>
#include <memory>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "domain/search.hpp"
#include "fanout/pg_fanout.hpp"
#include "store/json.hpp"
#include "store/postgres/schema.hpp"
#include "store/sqlite/schema.hpp"
#include "store/store.hpp"

namespace {

namespace fs = std::filesystem;
using sb::events::EventType;
using sb::events::NormalizedEvent;
using namespace sb::store;

// A directory of its own for each test, removed afterwards.
class TempDir {
public:
    TempDir() {
        static std::atomic<int> counter{0};
        path_ = fs::temp_directory_path() /
                ("sb-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

struct Backend {
    std::string name;
    // Opens the store kept in `dir`: a fresh one the first time, the same data when called again.
    std::function<std::unique_ptr<Store>(const fs::path& dir)> open;
    // Stamps the store in `dir` (closed) with schema version `version`, as a newer binary would.
    std::function<void(const fs::path& dir, int version)> set_schema_version;
    // Why this backend cannot run here, or "" when it can.
    std::function<std::string()> unavailable = [] { return std::string(); };
    // Removes what open() made outside `dir` (a database); called once the store is closed.
    std::function<void(const fs::path& dir)> remove = [](const fs::path&) {};
    // Builds the store in `dir` (closed) as a release with schema `version` left it, its
    // migrations up to that one applied, then runs `sql` on it: an existing database to upgrade.
    std::function<void(const fs::path& dir, int version, const std::string& sql)> create_at_version;
    // open() with the store's plan switches set (store.hpp Tuning).
    std::function<std::unique_ptr<Store>(const fs::path& dir, Tuning tuning)> open_tuned;
};

// Test names and failure messages show the backend by name, not as bytes.
void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

Backend sqlite_backend() {
    auto db_path = [](const fs::path& dir) { return (dir / "switchboard.db").string(); };
    return Backend{
        "Sqlite",
        [db_path](const fs::path& dir) { return open_sqlite(db_path(dir)); },
        [db_path](const fs::path& dir, int version) {
            sqlite3* db = nullptr;
            ASSERT_EQ(sqlite3_open(db_path(dir).c_str(), &db), SQLITE_OK);
            std::string sql = "PRAGMA user_version = " + std::to_string(version);
            EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
            sqlite3_close(db);
        },
        [] { return std::string(); },
        [](const fs::path&) {},
        [db_path](const fs::path& dir, int version, const std::string& sql) {
            sqlite3* db = nullptr;
            ASSERT_EQ(sqlite3_open(db_path(dir).c_str(), &db), SQLITE_OK);
            for (const auto& migration : sb::store::sqlite_schema::kMigrations) {
                if (migration.version > version) continue;
                EXPECT_EQ(sqlite3_exec(db, migration.sql, nullptr, nullptr, nullptr), SQLITE_OK)
                    << migration.version << ": " << sqlite3_errmsg(db);
            }
            const std::string stamp = "PRAGMA user_version = " + std::to_string(version) + "; " + sql;
            EXPECT_EQ(sqlite3_exec(db, stamp.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
                << sqlite3_errmsg(db);
            sqlite3_close(db);
        },
        [db_path](const fs::path& dir, Tuning tuning) { return open_sqlite(db_path(dir), tuning); },
    };
}

// --- PostgreSQL: a database of its own per test, created from SB_TEST_PG_DSN's and dropped after.

std::string pg_admin_dsn() {
    const char* dsn = std::getenv("SB_TEST_PG_DSN");
    return dsn ? dsn : "";
}

constexpr const char* kNoPostgres =
    "SB_TEST_PG_DSN is not set: PostgreSQL cases skipped (run under tools/with-postgres)";

// Named after the test's temp dir, which holds the pid: unique across parallel test processes.
std::string pg_database(const fs::path& dir) {
    std::string name = "sbtest_";
    for (char c : dir.filename().string()) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return name;
}

// SB_TEST_PG_DSN is keyword/value: a later keyword overrides an earlier one.
std::string pg_dsn(const std::string& database) { return pg_admin_dsn() + " dbname=" + database; }

// Runs outside a transaction block (CREATE and DROP DATABASE refuse to run inside one).
void pg_exec(const std::string& dsn, const std::string& sql) {
    pqxx::connection conn(dsn);
    pqxx::nontransaction tx(conn);
    tx.exec(sql);
}

constexpr int kPgPoolSize = 4;

// Creates the test's database on first use; later opens find the same data.
std::unique_ptr<Store> open_pg(const fs::path& dir, int pool_size = kPgPoolSize, Tuning tuning = {}) {
    auto marker = dir / "pg-database";
    auto database = pg_database(dir);
    if (!fs::exists(marker)) {
        pg_exec(pg_admin_dsn(), "CREATE DATABASE " + database);
        std::ofstream(marker) << database << "\n";
    }
    return open_postgres(pg_dsn(database), pool_size, tuning);
}

Backend postgres_backend() {
    return Backend{
        "Postgres",
        [](const fs::path& dir) { return open_pg(dir); },
        [](const fs::path& dir, int version) {
            pg_exec(pg_dsn(pg_database(dir)),
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                    "applied_at TIMESTAMPTZ NOT NULL DEFAULT now()); "
                    "INSERT INTO schema_version (version) VALUES (" +
                        std::to_string(version) + ")");
        },
        [] { return pg_admin_dsn().empty() ? std::string(kNoPostgres) : std::string(); },
        [](const fs::path& dir) {
            // FORCE: a store a failed test left open must not keep the database alive.
            if (fs::exists(dir / "pg-database"))
                pg_exec(pg_admin_dsn(), "DROP DATABASE IF EXISTS " + pg_database(dir) + " WITH (FORCE)");
        },
        [](const fs::path& dir, int version, const std::string& sql) {
            std::string script =
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "applied_at TIMESTAMPTZ NOT NULL DEFAULT now());";
            for (const auto& migration : sb::store::pg_schema::kMigrations)
                if (migration.version <= version)
                    script += std::string(migration.sql) + "; INSERT INTO schema_version (version) VALUES (" +
                              std::to_string(migration.version) + ");";
            pg_exec(pg_dsn(pg_database(dir)), script + sql);
        },
        [](const fs::path& dir, Tuning tuning) { return open_pg(dir, kPgPoolSize, tuning); },
    };
}

constexpr std::int64_t kNow = 1'732'540'000'000;
constexpr std::int64_t kLease = 30'000;
constexpr const char* kChannel = "tg-support";

InboundRequest request(const std::string& body, std::int64_t received_ms = kNow) {
    return InboundRequest{kChannel, "POST",     "/webhooks/tg-support", "content-type: application/json\n",
                          body,     received_ms};
}

InboundRequest request_on(const std::string& channel_id, const std::string& body) {
    InboundRequest r = request(body);
    r.channel_id = channel_id;
    return r;
}

// One worker as the processor runs it: claims a batch of `batch` rows and consumes it, until
// the queue is empty (a claim may come back empty while other workers hold every channel that
// has rows left). Returns the ids it claimed.
std::vector<std::int64_t> drain_queue(Store& store, int batch) {
    std::vector<std::int64_t> mine;
    while (store.queue_depth() > 0) {
        std::vector<ParsedRow> done;
        for (const auto& row : store.claim(batch, kNow, kLease)) {
            mine.push_back(row.id);
            done.push_back(ParsedRow{row.id, row.request.channel_id, {}, row.attempts});
        }
        if (!done.empty()) {
            EXPECT_FALSE(store.apply(done, kNow).at(0).fenced);
        }
    }
    return mine;
}

// Across all workers, every one of `rows` rows was claimed exactly once.
void expect_each_row_once(const std::vector<std::vector<std::int64_t>>& claimed, int rows) {
    std::set<std::int64_t> unique;
    std::size_t total = 0;
    for (const auto& mine : claimed) {
        unique.insert(mine.begin(), mine.end());
        total += mine.size();
    }
    EXPECT_EQ(total, static_cast<std::size_t>(rows));
    EXPECT_EQ(unique.size(), static_cast<std::size_t>(rows));
}

std::string text_content(const std::string& text) { return R"({"type":"text","text":")" + text + R"("})"; }

NormalizedEvent message(const std::string& conversation, const std::string& id, const std::string& text,
                        const std::string& sender = "", std::int64_t ts = kNow) {
    NormalizedEvent ev;
    ev.type = EventType::message;
    ev.conversation_id = conversation;
    ev.conversation_kind = "private";
    ev.sender.id = sender.empty() ? conversation : sender;
    ev.sender.name = "Ada Lovelace";
    ev.sender.username = "ada";
    ev.timestamp_ms = ts;
    ev.message_id = id;
    ev.content_json = text_content(text);
    ev.content_type = "text";
    return ev;
}

NormalizedEvent status(const std::string& conversation, const std::string& id, const std::string& value,
                       const std::string& error_code = "") {
    NormalizedEvent ev;
    ev.type = EventType::status;
    ev.conversation_id = conversation;
    ev.message_id = id;
    ev.status = value;
    ev.error_code = error_code;
    ev.timestamp_ms = kNow;
    return ev;
}

// Ada Lovelace (the conversation's customer) reacting to message `id`; "" emoji = removed.
NormalizedEvent reaction(const std::string& conversation, const std::string& id, const std::string& emoji) {
    NormalizedEvent ev;
    ev.type = EventType::reaction;
    ev.conversation_id = conversation;
    ev.sender.id = conversation;
    ev.sender.name = "Ada Lovelace";
    ev.message_id = id;
    ev.emoji = emoji;
    return ev;
}

// A list filter by its first four fields (the others stay "").
ConversationFilter filter(const std::string& status, const std::string& channel_id,
                          const std::string& assignee, const std::string& visible_to) {
    ConversationFilter f;
    f.status = status;
    f.channel_id = channel_id;
    f.assignee = assignee;
    f.visible_to = visible_to;
    return f;
}

rapidjson::Document parse(const std::string& json) {
    rapidjson::Document doc;
    doc.Parse(json.c_str());
    EXPECT_FALSE(doc.HasParseError()) << json;
    return doc;
}

std::string str(const rapidjson::Value& v) { return v.IsString() ? v.GetString() : "<not a string>"; }

class StoreContract : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        if (auto why = GetParam().unavailable(); !why.empty()) GTEST_SKIP() << why;
        opened_ = true;
        store_ = open();
        store_->migrate();
    }

    void TearDown() override {
        store_.reset();
        if (opened_) GetParam().remove(dir_.path());
    }

    std::unique_ptr<Store> open() { return GetParam().open(dir_.path()); }

    // Applies events as one queue row (enqueued first, as the inbound processor would).
    ApplyResult apply(std::vector<NormalizedEvent> events, std::int64_t now = kNow) {
        std::vector<InboundRequest> requests{request("{}")};
        auto ids = store_->enqueue(requests);
        ParsedRow row{ids.at(0), kChannel, std::move(events)};
        auto results = store_->apply(std::span(&row, 1), now);
        return results.at(0);
    }

    Message send(std::int64_t conversation_id, const std::string& text, const std::string& platform_id,
                 std::int64_t now = kNow) {
        OutboundMessage out;
        out.conversation_id = conversation_id;
        out.sender_id = "agent-1";
        out.sender_name = "Grace";
        out.content_json = text_content(text);
        out.platform_id = platform_id;
        out.status = "sent";
        return store_->insert_outbound(out, now).first;
    }

    TempDir dir_;
    bool opened_ = false;
    std::unique_ptr<Store> store_;
};

// --- inbound queue ---

TEST_P(StoreContract, ClaimsOldestRowsFirstAndCountsAttempts) {
    std::vector<InboundRequest> requests{request("a"), request("b"), request("c")};
    auto ids = store_->enqueue(requests);
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_LT(ids[0], ids[1]);
    EXPECT_LT(ids[1], ids[2]);
    EXPECT_EQ(store_->queue_depth(), 3);

    auto first = store_->claim(2, kNow, kLease);
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].id, ids[0]);
    EXPECT_EQ(first[0].request.body, "a");
    EXPECT_EQ(first[0].request.channel_id, kChannel);
    EXPECT_EQ(first[0].request.method, "POST");
    EXPECT_EQ(first[0].request.target, "/webhooks/tg-support");
    EXPECT_EQ(first[0].request.headers, "content-type: application/json\n");
    EXPECT_EQ(first[0].request.received_ms, kNow);
    EXPECT_EQ(first[0].attempts, 1);
    EXPECT_EQ(first[1].id, ids[1]);
    EXPECT_EQ(store_->queue_depth(), 3);  // claimed rows still count

    std::vector<ParsedRow> done{{ids[0], kChannel, {}, 1}, {ids[1], kChannel, {}, 1}};
    store_->apply(done, kNow);
    auto second = store_->claim(10, kNow, kLease);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].id, ids[2]);
    EXPECT_EQ(store_->queue_depth(), 1);
}

// One worker at a time holds a channel's rows, so a chat's messages are applied in order by
// however many workers share the queue; other channels are not held up.
TEST_P(StoreContract, ClaimPassesOverAChannelWhoseRowsAreHeldUnderALiveLease) {
    std::vector<InboundRequest> requests{request_on("a", "a1"), request_on("a", "a2"), request_on("b", "b1"),
                                         request_on("a", "a3")};
    auto ids = store_->enqueue(requests);

    auto first = store_->claim(1, kNow, kLease);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].request.body, "a1");

    auto second = store_->claim(10, kNow, kLease);  // another worker: channel a is held
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].request.body, "b1");
    EXPECT_TRUE(store_->claim(10, kNow, kLease).empty());

    ParsedRow a1{ids[0], "a", {}, first[0].attempts};
    store_->apply(std::span(&a1, 1), kNow);
    auto third = store_->claim(10, kNow, kLease);  // a is free again: its next rows, in order
    ASSERT_EQ(third.size(), 2u);
    EXPECT_EQ(third[0].request.body, "a2");
    EXPECT_EQ(third[1].request.body, "a3");

    // A released row frees its channel too; an expired lease does as well.
    store_->release(third[0].id, kNow, "transient");
    store_->release(third[1].id, kNow, "transient");
    auto fourth = store_->claim(10, kNow, kLease);
    ASSERT_EQ(fourth.size(), 2u);
    auto expired = store_->claim(10, kNow + kLease + 1, kLease);
    ASSERT_EQ(expired.size(), 3u);  // b1 and a2, a3: every lease ran out
    EXPECT_EQ(expired[0].request.body, "a2");
    EXPECT_EQ(expired[1].request.body, "b1");
    EXPECT_EQ(expired[2].request.body, "a3");
}

// The fence: a worker whose lease ran out (stalled, or cut off from the database) and whose
// row another worker took over cannot apply it a second time.
TEST_P(StoreContract, ApplyUnderAClaimThatIsNoLongerCurrentIsFencedAndChangesNothing) {
    std::vector<InboundRequest> requests{request("r")};
    auto ids = store_->enqueue(requests);
    auto stale = store_->claim(10, kNow, kLease);
    auto current = store_->claim(10, kNow + kLease + 1, kLease);
    ASSERT_EQ(stale.size(), 1u);
    ASSERT_EQ(current.size(), 1u);
    ASSERT_EQ(current[0].attempts, stale[0].attempts + 1);

    ParsedRow late{ids[0], kChannel, {message("100", "100:1", "hello")}, stale[0].attempts};
    // Nor can the stale worker give the row back or dead-letter it under the current claim.
    store_->release(ids[0], kNow, "stale worker's transient error", stale[0].attempts);
    store_->dead_letter(ids[0], "stale worker gave up", kNow + kLease + 2, stale[0].attempts);
    EXPECT_TRUE(store_->dead_letters(10).empty());
    EXPECT_TRUE(store_->claim(10, kNow + kLease + 2, kLease).empty()) << "the current claim still holds it";
    auto fenced = store_->apply(std::span(&late, 1), kNow + kLease + 2);
    ASSERT_EQ(fenced.size(), 1u);
    EXPECT_TRUE(fenced[0].fenced);
    EXPECT_TRUE(fenced[0].events.empty());
    EXPECT_FALSE(store_->message_by_platform_id(kChannel, "100:1"));
    EXPECT_EQ(store_->queue_depth(), 1);

    ParsedRow owner{ids[0], kChannel, {message("100", "100:1", "hello")}, current[0].attempts};
    auto applied = store_->apply(std::span(&owner, 1), kNow + kLease + 3);
    EXPECT_FALSE(applied.at(0).fenced);
    EXPECT_EQ(applied.at(0).events.size(), 1u);
    EXPECT_EQ(store_->queue_depth(), 0);

    // Once consumed, the stale claim is fenced too (and so is a repeat of the current one).
    EXPECT_TRUE(store_->apply(std::span(&late, 1), kNow + kLease + 4).at(0).fenced);
    EXPECT_TRUE(store_->apply(std::span(&owner, 1), kNow + kLease + 4).at(0).fenced);
    EXPECT_EQ(store_->last_seq(), applied.at(0).events.at(0).seq);
}

// A worker whose batch outlived its lease applies nothing of it even if nobody took the rows
// yet: the next claim will (the lease is the promise that nobody else does meanwhile).
TEST_P(StoreContract, ApplyAfterTheLeaseRanOutIsFencedAndTheRowClaimedAgain) {
    std::vector<InboundRequest> requests{request("r")};
    auto ids = store_->enqueue(requests);
    auto claimed = store_->claim(10, kNow, kLease);
    ASSERT_EQ(claimed.size(), 1u);
    ParsedRow row{ids[0], kChannel, {message("100", "100:1", "hello")}, claimed[0].attempts};
    EXPECT_TRUE(store_->apply(std::span(&row, 1), kNow + kLease + 1).at(0).fenced);
    EXPECT_FALSE(store_->message_by_platform_id(kChannel, "100:1"));
    auto again = store_->claim(10, kNow + kLease + 1, kLease);
    ASSERT_EQ(again.size(), 1u);
    row.claim = again[0].attempts;
    EXPECT_FALSE(store_->apply(std::span(&row, 1), kNow + kLease + 2).at(0).fenced);
    EXPECT_TRUE(store_->message_by_platform_id(kChannel, "100:1"));
}

// Released or dead-lettered under the current claim: done as asked.
TEST_P(StoreContract, CurrentClaimReleasesAndDeadLetters) {
    std::vector<InboundRequest> requests{request("a"), request_on("other", "b")};
    auto ids = store_->enqueue(requests);
    auto claimed = store_->claim(10, kNow, kLease);
    ASSERT_EQ(claimed.size(), 2u);
    store_->release(ids[0], kNow + 5, "transient", claimed[0].attempts);
    store_->dead_letter(ids[1], "hopeless", kNow, claimed[1].attempts);
    auto letters = store_->dead_letters(10);
    ASSERT_EQ(letters.size(), 1u);
    EXPECT_EQ(letters[0].id, ids[1]);
    auto retaken = store_->claim(10, kNow + 5, kLease);
    ASSERT_EQ(retaken.size(), 1u);
    EXPECT_EQ(retaken[0].id, ids[0]);
}

// ParsedRows of one queue row (events routed to several channels) share its claim.
TEST_P(StoreContract, ParsedRowsOfOneQueueRowAreAppliedTogether) {
    std::vector<InboundRequest> requests{request("shared webhook")};
    auto ids = store_->enqueue(requests);
    auto claimed = store_->claim(1, kNow, kLease);
    ASSERT_EQ(claimed.size(), 1u);
    std::vector<ParsedRow> rows{{ids[0], "wa-main", {message("1", "1:1", "to main")}, claimed[0].attempts},
                                {ids[0], "wa-other", {message("2", "2:1", "to other")}, claimed[0].attempts}};
    auto results = store_->apply(rows, kNow);
    ASSERT_EQ(results.size(), 2u);
    EXPECT_FALSE(results[0].fenced);
    EXPECT_FALSE(results[1].fenced);
    EXPECT_EQ(results[0].events.size(), 1u);
    EXPECT_EQ(results[1].events.size(), 1u);
    EXPECT_TRUE(store_->message_by_platform_id("wa-other", "2:1"));
    EXPECT_EQ(store_->queue_depth(), 0);
}

// Webhooks that queued up and are applied in one batch keep the order they arrived in: each
// message carries its row's arrival time, so the conversation written to last is on top of
// the list, not the one with the higher id.
TEST_P(StoreContract, ABatchStampsEachRowWithItsArrivalTimeAndKeepsTheirOrder) {
    apply({message("1", "1:1", "first, an older conversation")}, kNow);
    std::vector<InboundRequest> requests{request("bob", kNow + 10), request("ada", kNow + 12)};
    auto ids = store_->enqueue(requests);
    auto claimed = store_->claim(2, kNow + 20, kLease);
    ASSERT_EQ(claimed.size(), 2u);
    std::vector<ParsedRow> rows{
        {ids[0], kChannel, {message("2", "2:1", "a new conversation")}, claimed[0].attempts, kNow + 10},
        {ids[1], kChannel, {message("1", "1:2", "the older one again")}, claimed[1].attempts, kNow + 12}};
    auto results = store_->apply(rows, kNow + 30);
    ASSERT_EQ(results.size(), 2u);
    ASSERT_EQ(results[1].events.size(), 1u);
    EXPECT_EQ(results[0].events.at(0).created_ms, kNow + 10);
    EXPECT_EQ(results[1].events.at(0).created_ms, kNow + 12);
    EXPECT_EQ(store_->message_by_platform_id(kChannel, "1:2")->created_ms, kNow + 12);
    auto list = store_->conversations({}, 10, "").items;
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].platform_id, "1");
    EXPECT_EQ(list[0].last_activity_ms, kNow + 12);
    EXPECT_EQ(list[1].platform_id, "2");
    EXPECT_EQ(list[1].last_activity_ms, kNow + 10);
}

TEST_P(StoreContract, KeepsBinaryBodiesIntact) {
    std::string body("\x00\xff\x01 binary\n", 11);
    std::vector<InboundRequest> requests{request(body)};
    store_->enqueue(requests);
    auto rows = store_->claim(1, kNow, kLease);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].request.body, body);
}

TEST_P(StoreContract, ClaimedRowIsTakenAgainOnlyAfterItsLeaseExpires) {
    std::vector<InboundRequest> requests{request("a")};
    auto ids = store_->enqueue(requests);
    ASSERT_EQ(store_->claim(10, kNow, kLease).size(), 1u);

    EXPECT_TRUE(store_->claim(10, kNow + 1, kLease).empty());
    EXPECT_TRUE(store_->claim(10, kNow + kLease, kLease).empty());  // lease runs until now + lease

    auto retaken = store_->claim(10, kNow + kLease + 1, kLease);
    ASSERT_EQ(retaken.size(), 1u);
    EXPECT_EQ(retaken[0].id, ids[0]);
    EXPECT_EQ(retaken[0].attempts, 2);
}

TEST_P(StoreContract, FindsAConversationByItsPlatformKey) {
    auto id = apply({message("4242", "4242:1", "hi")}).events.at(0).conversation_id;
    auto found = store_->conversation_by_platform_id(kChannel, "4242");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->id, id);
    EXPECT_FALSE(store_->conversation_by_platform_id(kChannel, "4243"));
    EXPECT_FALSE(store_->conversation_by_platform_id("other-channel", "4242"));
}

TEST_P(StoreContract, OldestQueuedIsTheFirstLiveRow) {
    EXPECT_EQ(store_->oldest_queued_ms(), 0);
    std::vector<InboundRequest> requests{request("a", kNow - 5'000), request("b", kNow)};
    auto ids = store_->enqueue(requests);
    EXPECT_EQ(store_->oldest_queued_ms(), kNow - 5'000);
    ASSERT_EQ(store_->claim(1, kNow, kLease).size(), 1u);
    EXPECT_EQ(store_->oldest_queued_ms(), kNow - 5'000) << "a claimed row still waits";
    store_->dead_letter(ids[0], "broken", kNow);
    EXPECT_EQ(store_->oldest_queued_ms(), kNow) << "dead letters no longer wait";
}

TEST_P(StoreContract, ReleasedRowIsClaimableAtItsAvailableTime) {
    std::vector<InboundRequest> requests{request("a")};
    auto ids = store_->enqueue(requests);
    ASSERT_EQ(store_->claim(10, kNow, kLease).size(), 1u);

    store_->release(ids[0], kNow + 5'000, "plugin busy");
    EXPECT_EQ(store_->queue_depth(), 1);
    EXPECT_TRUE(store_->claim(10, kNow + 4'999, kLease).empty());
    auto rows = store_->claim(10, kNow + 5'000, kLease);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].attempts, 2);
}

TEST_P(StoreContract, DeadLetterKeepsBodyAndReasonAndIsNeverClaimed) {
    std::vector<InboundRequest> requests{request("not json"), request("ok")};
    auto ids = store_->enqueue(requests);
    ASSERT_EQ(store_->claim(10, kNow, kLease).size(), 2u);

    store_->dead_letter(ids[0], "parse: expected an object", kNow + 7);
    EXPECT_EQ(store_->queue_depth(), 1);

    auto letters = store_->dead_letters(10);
    ASSERT_EQ(letters.size(), 1u);
    EXPECT_EQ(letters[0].id, ids[0]);
    EXPECT_EQ(letters[0].request.body, "not json");
    EXPECT_EQ(letters[0].request.channel_id, kChannel);
    EXPECT_EQ(letters[0].reason, "parse: expected an object");
    EXPECT_EQ(letters[0].attempts, 1);
    EXPECT_EQ(letters[0].failed_ms, kNow + 7);

    // Not even once every lease has long expired.
    for (const auto& row : store_->claim(10, kNow + 10 * kLease, kLease)) EXPECT_NE(row.id, ids[0]);
    store_->release(ids[0], kNow, "late release");  // must not resurrect it
    for (const auto& row : store_->claim(10, kNow + 20 * kLease, kLease)) EXPECT_NE(row.id, ids[0]);
}

TEST_P(StoreContract, RecoveredClaimsOfASingleProcessStoreAreClaimableAtOnce) {
    std::vector<InboundRequest> requests{request("a"), request("b")};
    auto ids = store_->enqueue(requests);
    ASSERT_EQ(store_->claim(1, kNow, kLease).size(), 1u);  // a crashed process held row a
    store_->recover_claims();
    auto rows = store_->claim(10, kNow + 1, kLease);
    if (GetParam().name != "Sqlite") {  // a store several processes share
        // Another live instance may hold the lease, and with it the channel: nothing of that
        // channel is handed out until the lease runs out.
        EXPECT_TRUE(rows.empty());
        rows = store_->claim(10, kNow + kLease + 1, kLease);
        ASSERT_EQ(rows.size(), 2u);
        EXPECT_EQ(rows[0].id, ids[0]);
    } else {
        ASSERT_EQ(rows.size(), 2u);
        EXPECT_EQ(rows[0].id, ids[0]);
    }
}

// SQLite (one process): rows committed already claimed are handed to the processor in memory.
// Nobody claims them back while their lease lives; each is consumed once under that claim; a
// crash before that leaves them claimed, and the next start queues them again, after which
// the dead process's claim is fenced.
TEST_P(StoreContract, RowsEnqueuedClaimedAreConsumedOnceAndQueuedAgainAfterACrash) {
    if (!store_->enqueues_claimed()) {
        EXPECT_NE(GetParam().name, "Sqlite");
        GTEST_SKIP() << "a store several processes share claims every row back";
    }
    std::vector<InboundRequest> requests{request("a"), request("b")};
    auto ids = store_->enqueue_claimed(requests, kNow, kLease);
    ASSERT_EQ(ids.size(), 2u);
    EXPECT_LT(ids[0], ids[1]);
    EXPECT_EQ(store_->queue_depth(), 2);
    EXPECT_TRUE(store_->claim(10, kNow + 1, kLease).empty()) << "held in memory under a live lease";

    ParsedRow a{ids[0], kChannel, {message("100", "100:1", "a")}, 1};
    EXPECT_FALSE(store_->apply(std::span(&a, 1), kNow + 2).at(0).fenced);
    EXPECT_TRUE(store_->apply(std::span(&a, 1), kNow + 3).at(0).fenced) << "consumed once";

    // The process dies holding row b; the next one recovers it before anything else.
    store_.reset();
    store_ = open();
    store_->recover_claims();
    auto rows = store_->claim(10, kNow + 4, kLease);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].id, ids[1]);
    EXPECT_EQ(rows[0].request.body, "b");
    EXPECT_EQ(rows[0].attempts, 2);
    ParsedRow stale{ids[1], kChannel, {message("100", "100:2", "b")}, 1};
    EXPECT_TRUE(store_->apply(std::span(&stale, 1), kNow + 5).at(0).fenced);
    ParsedRow b{ids[1], kChannel, {message("100", "100:2", "b")}, rows[0].attempts};
    EXPECT_FALSE(store_->apply(std::span(&b, 1), kNow + 6).at(0).fenced);
    EXPECT_EQ(store_->queue_depth(), 0);
    EXPECT_TRUE(store_->message_by_platform_id(kChannel, "100:1"));
    EXPECT_TRUE(store_->message_by_platform_id(kChannel, "100:2"));
    EXPECT_EQ(store_->messages(store_->message_by_platform_id(kChannel, "100:2")->conversation_id, 10, 0)
                  .items.size(),
              2u);
}

TEST_P(StoreContract, ReplayedDeadLetterIsQueuedAgainWithFreshAttempts) {
    std::vector<InboundRequest> requests{request("was broken")};
    auto ids = store_->enqueue(requests);
    ASSERT_EQ(store_->claim(10, kNow, kLease).size(), 1u);
    store_->dead_letter(ids[0], "parse failed", kNow);

    EXPECT_FALSE(store_->replay_dead_letter(ids[0] + 1000, kNow)) << "no such dead letter";
    EXPECT_TRUE(store_->replay_dead_letter(ids[0], kNow + 1));
    EXPECT_FALSE(store_->replay_dead_letter(ids[0], kNow + 1)) << "it is no longer dead";
    EXPECT_TRUE(store_->dead_letters(10).empty());
    auto rows = store_->claim(10, kNow + 1, kLease);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].id, ids[0]);
    EXPECT_EQ(rows[0].attempts, 1);
    EXPECT_EQ(rows[0].request.body, "was broken");
}

TEST_P(StoreContract, AddedDeadLetterKeepsTheRequest) {
    InboundRequest r = request("{\"entry\":[]}");
    store_->add_dead_letter(r, "no channel serves account '42'", kNow);
    auto letters = store_->dead_letters(10);
    ASSERT_EQ(letters.size(), 1u);
    EXPECT_EQ(letters[0].request.body, r.body);
    EXPECT_EQ(letters[0].reason, "no channel serves account '42'");
    EXPECT_TRUE(store_->claim(10, kNow + 10 * kLease, kLease).empty());
}

TEST_P(StoreContract, ConcurrentClaimsNeverHandOutARowTwice) {
    constexpr int kRows = 200;
    std::vector<InboundRequest> requests;
    for (int i = 0; i < kRows; ++i) requests.push_back(request_on("ch" + std::to_string(i % 9), "x"));
    store_->enqueue(requests);
    std::vector<std::vector<std::int64_t>> claimed(4);
    std::vector<std::thread> workers;
    for (auto& mine : claimed) workers.emplace_back([this, &mine] { mine = drain_queue(*store_, 7); });
    for (auto& worker : workers) worker.join();
    expect_each_row_once(claimed, kRows);
}

TEST_P(StoreContract, ApplyRemovesTheQueueRow) {
    apply({message("100", "100:1", "hello")});
    EXPECT_EQ(store_->queue_depth(), 0);
    EXPECT_TRUE(store_->claim(10, kNow + 10 * kLease, kLease).empty());
}

// --- apply: messages ---

TEST_P(StoreContract, ApplyStoresContactConversationMessageAndNewMessageEvent) {
    auto result = apply({message("100", "100:1", "Hello, my order has not arrived")}, kNow + 50);
    EXPECT_EQ(result.duplicates, 0);
    ASSERT_EQ(result.events.size(), 1u);
    const Event& event = result.events[0];
    EXPECT_EQ(event.type, "new_message");
    EXPECT_GT(event.seq, 0);
    EXPECT_EQ(event.created_ms, kNow + 50);

    auto stored = store_->message_by_platform_id(kChannel, "100:1");
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->direction, "in");
    EXPECT_EQ(stored->status, "received");
    EXPECT_EQ(stored->sender_id, "100");
    EXPECT_EQ(stored->sender_name, "Ada Lovelace");
    EXPECT_EQ(stored->platform_ts_ms, kNow);
    EXPECT_EQ(stored->created_ms, kNow + 50);
    EXPECT_EQ(event.conversation_id, stored->conversation_id);

    auto conversation = store_->conversation(stored->conversation_id);
    ASSERT_TRUE(conversation);
    EXPECT_EQ(conversation->channel_id, kChannel);
    EXPECT_EQ(conversation->platform_id, "100");
    EXPECT_EQ(conversation->kind, "private");
    EXPECT_EQ(conversation->status, "open");
    EXPECT_EQ(conversation->contact_platform_id, "100");
    EXPECT_EQ(conversation->contact_name, "Ada Lovelace");
    EXPECT_EQ(conversation->contact_username, "ada");
    EXPECT_EQ(conversation->assignee_id, "");
    EXPECT_EQ(conversation->last_activity_ms, kNow + 50);

    auto data = parse(event.data_json);
    ASSERT_TRUE(data.IsObject());
    ASSERT_TRUE(data.HasMember("conversation") && data.HasMember("message"));
    const auto& c = data["conversation"];
    EXPECT_EQ(str(c["id"]), std::to_string(conversation->id));
    EXPECT_EQ(str(c["platform_id"]), "100");
    EXPECT_EQ(str(c["status"]), "open");
    EXPECT_EQ(str(c["contact"]["name"]), "Ada Lovelace");
    EXPECT_TRUE(c["assignee_id"].IsNull());
    const auto& m = data["message"];
    EXPECT_EQ(str(m["id"]), std::to_string(stored->id));
    EXPECT_EQ(str(m["conversation_id"]), std::to_string(conversation->id));
    EXPECT_EQ(str(m["platform_id"]), "100:1");
    EXPECT_EQ(str(m["direction"]), "in");
    EXPECT_EQ(str(m["sender"]["id"]), "100");
    EXPECT_EQ(str(m["content"]["type"]), "text");
    EXPECT_EQ(str(m["content"]["text"]), "Hello, my order has not arrived");
    EXPECT_EQ(str(m["status"]), "received");
}

TEST_P(StoreContract, LaterMessagesUpdateContactAndConversationOnlyWithWhatTheyGive) {
    apply({message("100", "100:1", "one")});
    auto second = message("100", "100:2", "two");
    second.sender.name = "Ada King";
    second.sender.username.clear();
    second.conversation_kind.clear();
    apply({second});
    auto stored = store_->message_by_platform_id(kChannel, "100:2");
    ASSERT_TRUE(stored);
    auto conversation = store_->conversation(stored->conversation_id);
    ASSERT_TRUE(conversation);
    EXPECT_EQ(conversation->contact_name, "Ada King");
    EXPECT_EQ(conversation->contact_username, "ada");
    EXPECT_EQ(conversation->kind, "private");
}

TEST_P(StoreContract, DuplicateMessageInALaterApplyIsStoredOnceWithoutASecondEvent) {
    auto first = apply({message("100", "100:1", "hello")});
    ASSERT_EQ(first.events.size(), 1u);
    auto second = apply({message("100", "100:1", "hello")});
    EXPECT_EQ(second.duplicates, 1);
    EXPECT_TRUE(second.events.empty());
    auto stored = store_->message_by_platform_id(kChannel, "100:1");
    ASSERT_TRUE(stored);
    EXPECT_EQ(store_->messages(stored->conversation_id, 10, 0).items.size(), 1u);
    EXPECT_EQ(store_->last_seq(), first.events[0].seq);
}

TEST_P(StoreContract, SameMessageTwiceInOneBatchIsStoredOnce) {
    std::vector<InboundRequest> requests{request("a"), request("b")};
    auto ids = store_->enqueue(requests);
    std::vector<ParsedRow> rows{
        {ids[0], kChannel, {message("100", "100:1", "hi"), message("100", "100:1", "hi")}},
        {ids[1], kChannel, {message("100", "100:1", "hi")}}};
    auto results = store_->apply(rows, kNow);
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].events.size(), 1u);
    EXPECT_EQ(results[0].duplicates, 1);
    EXPECT_TRUE(results[1].events.empty());
    EXPECT_EQ(results[1].duplicates, 1);
    auto stored = store_->message_by_platform_id(kChannel, "100:1");
    ASSERT_TRUE(stored);
    EXPECT_EQ(store_->messages(stored->conversation_id, 10, 0).items.size(), 1u);
    EXPECT_EQ(store_->queue_depth(), 0);
}

TEST_P(StoreContract, SamePlatformIdOnAnotherChannelIsADifferentMessage) {
    std::vector<InboundRequest> requests{request("a")};
    auto ids = store_->enqueue(requests);
    std::vector<ParsedRow> rows{{ids[0], "wa-main", {message("100", "100:1", "hi")}}};
    store_->apply(rows, kNow);
    auto result = apply({message("100", "100:1", "hi")});
    EXPECT_EQ(result.duplicates, 0);
    EXPECT_EQ(result.events.size(), 1u);
    auto a = store_->message_by_platform_id("wa-main", "100:1");
    auto b = store_->message_by_platform_id(kChannel, "100:1");
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->conversation_id, b->conversation_id);
}

TEST_P(StoreContract, IncomingMessageReopensAResolvedConversation) {
    apply({message("100", "100:1", "hello")});
    auto id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    auto resolved = store_->change_status(id, "resolved", "agent-1", kNow).conversation;
    ASSERT_TRUE(resolved);
    EXPECT_EQ(resolved->status, "resolved");

    // new_message carrying the reopened conversation, then why it reopened (issue 14).
    auto result = apply({message("100", "100:2", "still waiting")}, kNow + 1'000);
    ASSERT_EQ(result.events.size(), 2u);
    EXPECT_EQ(store_->conversation(id)->status, "open");
    EXPECT_EQ(store_->conversation(id)->last_activity_ms, kNow + 1'000);
    auto data = parse(result.events[0].data_json);
    EXPECT_EQ(result.events[0].type, "new_message");
    EXPECT_EQ(str(data["conversation"]["status"]), "open");
    EXPECT_EQ(result.events[1].type, "conversation_status");
    EXPECT_EQ(str(parse(result.events[1].data_json)["changed_by"]), "customer");
    // An open conversation's messages say nothing more.
    EXPECT_EQ(apply({message("100", "100:3", "hello?")}, kNow + 2'000).events.size(), 1u);
}

TEST_P(StoreContract, OutgoingMessageFromAnotherToolIsStoredButDoesNotReopen) {
    apply({message("100", "100:1", "hello")});
    auto id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    store_->change_status(id, "resolved", "agent-1", kNow);

    auto echo = message("100", "100:2", "sent from the phone", "bot-1");
    echo.outgoing = true;
    auto result = apply({echo});
    ASSERT_EQ(result.events.size(), 1u);
    auto stored = store_->message_by_platform_id(kChannel, "100:2");
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->direction, "out");
    EXPECT_EQ(stored->status, "sent");
    EXPECT_EQ(store_->conversation(id)->status, "resolved");
    EXPECT_EQ(store_->conversation(id)->contact_platform_id, "100");
}

TEST_P(StoreContract, StatusChangeAppendsOneEventForWhoeverSeesTheConversation) {
    apply({message("100", "100:1", "hello")});
    auto id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    const auto before = store_->last_seq();

    auto resolved = store_->change_status(id, "resolved", "agent-7", kNow + 5);
    ASSERT_TRUE(resolved.conversation);
    EXPECT_EQ(resolved.conversation->status, "resolved");
    ASSERT_TRUE(resolved.event);
    EXPECT_EQ(resolved.event->type, "conversation_status");
    EXPECT_EQ(resolved.event->conversation_id, id);
    EXPECT_EQ(resolved.event->audience, "");  // unassigned: every agent
    EXPECT_GT(resolved.event->seq, before);
    auto data = parse(resolved.event->data_json);
    EXPECT_EQ(str(data["conversation"]["status"]), "resolved");
    EXPECT_EQ(str(data["changed_by"]), "agent-7");
    EXPECT_EQ(store_->conversation(id)->status, "resolved");

    // No change, no event.
    auto again = store_->change_status(id, "resolved", "agent-7", kNow + 6);
    ASSERT_TRUE(again.conversation);
    EXPECT_FALSE(again.event);
    EXPECT_EQ(store_->last_seq(), resolved.event->seq);

    // Assigned: the event is for the assignee (and admins), like the conversation itself.
    ASSERT_TRUE(store_->assign_conversation(id, "agent-8"));
    auto reopened = store_->change_status(id, "open", "admin", kNow + 7);
    ASSERT_TRUE(reopened.event);
    EXPECT_EQ(reopened.event->audience, "agent-8");
    auto events = store_->events_after(before, 10);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].seq, reopened.event->seq);
    EXPECT_EQ(events[1].audience, "agent-8");
    EXPECT_EQ(str(parse(events[1].data_json)["conversation"]["status"]), "open");

    EXPECT_FALSE(store_->change_status(id + 1000, "resolved", "admin", kNow).conversation);
    EXPECT_THROW(store_->change_status(id, "closed", "admin", kNow), std::invalid_argument);
}

TEST_P(StoreContract, RejectsAnUnknownConversationStatus) {
    apply({message("100", "100:1", "hello")});
    auto id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    EXPECT_THROW(store_->change_status(id, "closed", "agent-1", kNow), std::invalid_argument);
    EXPECT_FALSE(store_->change_status(id + 1000, "resolved", "agent-1", kNow).conversation);
}

// --- apply: edits, statuses, reactions, typing ---

TEST_P(StoreContract, EditUpdatesContentOnceAndAppendsOneEvent) {
    apply({message("100", "100:1", "helo")});
    NormalizedEvent edit;
    edit.type = EventType::edit;
    edit.conversation_id = "100";
    edit.sender.id = "100";
    edit.message_id = "100:1";
    edit.content_json = text_content("hello");
    edit.edited_at_ms = kNow + 60'000;
    edit.timestamp_ms = kNow + 60'000;

    auto first = apply({edit});
    ASSERT_EQ(first.events.size(), 1u);
    EXPECT_EQ(first.events[0].type, "message_updated");
    auto stored = store_->message_by_platform_id(kChannel, "100:1");
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->content_json, text_content("hello"));
    EXPECT_EQ(stored->edited_ms, kNow + 60'000);
    auto data = parse(first.events[0].data_json);
    EXPECT_EQ(str(data["message"]["content"]["text"]), "hello");
    EXPECT_TRUE(data["message"]["edited_at"].IsString());

    EXPECT_TRUE(apply({edit}).events.empty());

    // An older edit delivered late does not undo the newer one.
    auto stale = edit;
    stale.content_json = text_content("hellp");
    stale.edited_at_ms = kNow + 30'000;
    EXPECT_TRUE(apply({stale}).events.empty());
    EXPECT_EQ(store_->message_by_platform_id(kChannel, "100:1")->content_json, text_content("hello"));
}

TEST_P(StoreContract, EditOfAnUnknownMessageStoresNothing) {
    NormalizedEvent edit;
    edit.type = EventType::edit;
    edit.conversation_id = "100";
    edit.message_id = "100:404";
    edit.content_json = text_content("x");
    edit.edited_at_ms = kNow;
    auto result = apply({edit});
    EXPECT_TRUE(result.events.empty());
    EXPECT_FALSE(store_->message_by_platform_id(kChannel, "100:404"));
}

TEST_P(StoreContract, StatusMovesForwardOnlyAndFailedWins) {
    apply({message("100", "100:1", "hello")});
    auto conversation_id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    send(conversation_id, "reply", "100:2");

    auto delivered = apply({status("100", "100:2", "delivered")});
    ASSERT_EQ(delivered.events.size(), 1u);
    EXPECT_EQ(delivered.events[0].type, "message_status");
    EXPECT_EQ(str(parse(delivered.events[0].data_json)["message"]["status"]), "delivered");

    EXPECT_EQ(apply({status("100", "100:2", "read")}).events.size(), 1u);
    EXPECT_TRUE(apply({status("100", "100:2", "delivered")}).events.empty());
    EXPECT_TRUE(apply({status("100", "100:2", "read")}).events.empty());
    EXPECT_EQ(store_->message_by_platform_id(kChannel, "100:2")->status, "read");

    auto failed = apply({status("100", "100:2", "failed", "131047")});
    ASSERT_EQ(failed.events.size(), 1u);
    auto stored = store_->message_by_platform_id(kChannel, "100:2");
    EXPECT_EQ(stored->status, "failed");
    EXPECT_EQ(stored->error_code, "131047");
    EXPECT_EQ(str(parse(failed.events[0].data_json)["message"]["error_code"]), "131047");
    EXPECT_TRUE(apply({status("100", "100:2", "read")}).events.empty());
    EXPECT_EQ(store_->message_by_platform_id(kChannel, "100:2")->status, "failed");
}

TEST_P(StoreContract, StatusOfAnUnknownOrIncomingMessageIsIgnored) {
    apply({message("100", "100:1", "hello")});
    EXPECT_TRUE(apply({status("100", "100:404", "read")}).events.empty());
    EXPECT_TRUE(apply({status("100", "100:1", "read")}).events.empty());
    EXPECT_EQ(store_->message_by_platform_id(kChannel, "100:1")->status, "received");
}

TEST_P(StoreContract, ReactionToAStoredMessageAppendsAnEvent) {
    apply({message("100", "100:1", "hello")});
    auto thumbs_up = reaction("100", "100:1", "\xF0\x9F\x91\x8D");
    auto result = apply({thumbs_up});
    ASSERT_EQ(result.events.size(), 1u);
    EXPECT_EQ(result.events[0].type, "message_reaction");
    auto data = parse(result.events[0].data_json);
    EXPECT_EQ(str(data["emoji"]), "\xF0\x9F\x91\x8D");
    EXPECT_EQ(str(data["sender"]["id"]), "100");
    EXPECT_EQ(str(data["sender"]["name"]), "Ada Lovelace");
    EXPECT_EQ(str(data["message"]["platform_id"]), "100:1");

    thumbs_up.message_id = "100:404";
    EXPECT_TRUE(apply({thumbs_up}).events.empty());
}

TEST_P(StoreContract, ReactionsAreKeptOnTheirMessageForTheHistory) {
    apply({message("100", "100:1", "hello")});
    auto ada = reaction("100", "100:1", "\xF0\x9F\x91\x8D");  // thumbs up
    ASSERT_EQ(apply({ada}).events.size(), 1u);
    // A redelivery changes nothing and makes no second frame.
    EXPECT_TRUE(apply({ada}).events.empty());

    auto history = [&] {
        auto conversation = store_->conversation_by_platform_id(kChannel, "100");
        auto page = store_->messages(conversation->id, 10, 0);
        EXPECT_EQ(page.items.size(), 1u);
        return parse(to_json(page.items.at(0)));
    };
    auto m = history();
    ASSERT_TRUE(m["reactions"].IsArray());
    ASSERT_EQ(m["reactions"].Size(), 1u);
    EXPECT_EQ(str(m["reactions"][0]["emoji"]), "\xF0\x9F\x91\x8D");
    EXPECT_EQ(str(m["reactions"][0]["sender"]["id"]), "100");
    EXPECT_EQ(str(m["reactions"][0]["sender"]["name"]), "Ada Lovelace");
    EXPECT_TRUE(m["reactions"][0]["reacted_at"].IsString());

    // The same customer's new reaction replaces the old one; another person's is added.
    ada.emoji = "\xE2\x9D\xA4";  // heart
    auto replaced = apply({ada});
    ASSERT_EQ(replaced.events.size(), 1u);
    EXPECT_EQ(parse(replaced.events[0].data_json)["message"]["reactions"].Size(), 1u);
    NormalizedEvent other = ada;
    other.sender = {"200", "Grace", "", ""};
    other.emoji = "\xF0\x9F\x98\x82";
    ASSERT_EQ(apply({other}).events.size(), 1u);
    m = history();
    ASSERT_EQ(m["reactions"].Size(), 2u);
    EXPECT_EQ(str(m["reactions"][0]["emoji"]), "\xE2\x9D\xA4");
    EXPECT_EQ(str(m["reactions"][1]["sender"]["id"]), "200");

    // An empty emoji takes the sender's reaction away; taking away what is not there is nothing.
    ada.emoji = "";
    ASSERT_EQ(apply({ada}).events.size(), 1u);
    EXPECT_TRUE(apply({ada}).events.empty());
    other.emoji = "";
    ASSERT_EQ(apply({other}).events.size(), 1u);
    m = history();
    ASSERT_TRUE(m["reactions"].IsArray());
    EXPECT_EQ(m["reactions"].Size(), 0u);
}

// A notice that the customer blocked the business (content.reachable false) marks the
// conversation, which the sender refuses to write to, until a notice says they can be written
// to again; a redelivered "blocked" (the same platform id) does not undo the later "unblocked".
TEST_P(StoreContract, ABlockedNoticeMarksTheConversationUntilAnUnblockedOne) {
    apply({message("100", "100:1", "hello")});
    auto notice = [](const std::string& id, bool reachable, std::int64_t ts) {
        NormalizedEvent ev = message("100", id, "", "", ts);
        ev.content_type = "system";
        ev.content_json = std::string(R"({"type":"system","code":")") +
                          (reachable ? "unblocked" : "blocked") + R"(","text":"x","reachable":)" +
                          (reachable ? "true" : "false") + "}";
        ev.reachable = reachable;
        return ev;
    };
    auto conversation = [&] { return *store_->conversation_by_platform_id(kChannel, "100"); };
    EXPECT_EQ(conversation().blocked_ms, 0);
    EXPECT_TRUE(parse(to_json(conversation()))["blocked_at"].IsNull());
    store_->change_status(conversation().id, "resolved", "agent-1", kNow);

    auto blocked = apply({notice("update:7", false, kNow + 5)});
    ASSERT_EQ(blocked.events.size(), 1u);  // the notice itself, in the history; no reopening
    EXPECT_EQ(blocked.events[0].type, "new_message");
    EXPECT_EQ(conversation().status, "resolved") << "a notice is not the customer writing";
    EXPECT_EQ(conversation().blocked_ms, kNow + 5);
    EXPECT_TRUE(parse(blocked.events[0].data_json)["conversation"]["blocked_at"].IsString())
        << "the new_message frame tells the agents";
    EXPECT_TRUE(parse(to_json(conversation()))["blocked_at"].IsString());

    apply({notice("update:8", true, kNow + 9)});
    EXPECT_EQ(conversation().blocked_ms, 0);
    apply({notice("update:7", false, kNow + 5)});  // delivered again
    EXPECT_EQ(conversation().blocked_ms, 0);

    // A notice that says nothing about reachability leaves it alone.
    apply({notice("update:9", false, kNow + 11)});
    NormalizedEvent other = notice("update:10", true, kNow + 12);
    other.reachable.reset();
    apply({other});
    EXPECT_EQ(conversation().blocked_ms, kNow + 11);
}

TEST_P(StoreContract, TheConversationShowsTheContactsPhone) {
    NormalizedEvent ev = message("100", "100:1", "hello");
    ev.sender.phone = "16315551234";
    apply({ev});
    EXPECT_EQ(str(parse(to_json(*store_->conversation_by_platform_id(kChannel, "100")))["contact"]["phone"]),
              "16315551234");
    // A number change names the new one (WhatsApp's system notice): the contact follows it.
    NormalizedEvent changed = message("100", "100:2", "");
    changed.content_type = "system";
    changed.content_json = R"({"type":"system","code":"user_changed_number","text":"x"})";
    changed.sender.phone = "16315559876";
    apply({changed});
    EXPECT_EQ(store_->conversation_by_platform_id(kChannel, "100")->contact_phone, "16315559876");
}

TEST_P(StoreContract, TypingIsReturnedAsEphemeralAndNeverStored) {
    NormalizedEvent typing;
    typing.type = EventType::typing;
    typing.conversation_id = "100";
    typing.sender.id = "100";
    typing.typing_state = "on";
    auto before = store_->last_seq();
    auto result = apply({typing});
    EXPECT_TRUE(result.events.empty());
    ASSERT_EQ(result.ephemeral.size(), 1u);
    EXPECT_EQ(result.ephemeral[0].typing_state, "on");
    EXPECT_EQ(store_->last_seq(), before);
    EXPECT_TRUE(store_->conversations({}, 10, "").items.empty());
    EXPECT_EQ(store_->queue_depth(), 0);
}

// --- events ---

TEST_P(StoreContract, EventsAfterReturnsEventsInSeqOrder) {
    EXPECT_EQ(store_->last_seq(), 0);
    std::vector<std::int64_t> seqs;
    for (int i = 0; i < 5; ++i) {
        auto id = std::to_string(i);
        auto result = apply({message("100", "100:" + id, "m" + id)});
        seqs.push_back(result.events.at(0).seq);
    }
    for (std::size_t i = 1; i < seqs.size(); ++i) EXPECT_GT(seqs[i], seqs[i - 1]);
    EXPECT_EQ(store_->last_seq(), seqs.back());

    auto all = store_->events_after(0, 100);
    ASSERT_EQ(all.size(), 5u);
    for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].seq, seqs[i]);

    auto tail = store_->events_after(seqs[1], 2);
    ASSERT_EQ(tail.size(), 2u);
    EXPECT_EQ(tail[0].seq, seqs[2]);
    EXPECT_EQ(tail[1].seq, seqs[3]);
    EXPECT_EQ(tail[0].type, "new_message");
    EXPECT_FALSE(tail[0].data_json.empty());
    EXPECT_TRUE(store_->events_after(seqs.back(), 10).empty());
}

TEST_P(StoreContract, WatermarkStatusUpdatesEverythingSentUpToItInThatConversation) {
    auto conversation = apply({message("100", "100:1", "hi")}).events.at(0).conversation_id;
    auto send = [&](const std::string& platform_id, std::int64_t at) {
        OutboundMessage m;
        m.conversation_id = conversation;
        m.sender_id = "agent";
        m.content_json = R"({"type":"text","text":"x"})";
        m.platform_id = platform_id;
        m.status = "sent";
        return store_->insert_outbound(m, at).first;
    };
    send("out-1", kNow + 1'000);
    send("out-2", kNow + 2'000);
    send("out-3", kNow + 9'000);  // after the watermark

    NormalizedEvent read;
    read.type = EventType::status;
    read.conversation_id = "100";
    read.status = "read";
    read.watermark_ms = kNow + 5'000;
    read.timestamp_ms = kNow + 5'000;
    auto result = apply({read}, kNow + 10'000);
    ASSERT_EQ(result.events.size(), 2u);
    for (const auto& e : result.events) EXPECT_EQ(e.type, "message_status");
    EXPECT_EQ(store_->message_by_platform_id(kChannel, "out-1")->status, "read");
    EXPECT_EQ(store_->message_by_platform_id(kChannel, "out-2")->status, "read");
    EXPECT_EQ(store_->message_by_platform_id(kChannel, "out-3")->status, "sent");

    // An older "delivered" watermark changes nothing: statuses never go backwards.
    read.status = "delivered";
    EXPECT_TRUE(apply({read}, kNow + 11'000).events.empty());
}

TEST_P(StoreContract, PruningDropsEventsOlderThanTheWindowAndMovesFirstSeq) {
    EXPECT_EQ(store_->first_seq(), 0) << "no events yet";
    auto old = apply({message("100", "100:1", "old")}, kNow).events.at(0).seq;
    auto recent = apply({message("100", "100:2", "recent")}, kNow + 60'000).events.at(0).seq;
    EXPECT_EQ(store_->first_seq(), old);

    EXPECT_EQ(store_->prune_events(kNow + 1), 1);
    EXPECT_EQ(store_->first_seq(), recent);
    auto left = store_->events_after(0, 10);
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].seq, recent);
    EXPECT_EQ(store_->last_seq(), recent) << "pruning never lowers the last seq";
}

TEST_P(StoreContract, EventsCarryTheirAudience) {
    auto unassigned = apply({message("100", "100:1", "hello")}).events.at(0);
    EXPECT_EQ(unassigned.audience, "") << "an unassigned conversation's events are for every agent";
    auto conversation = unassigned.conversation_id;
    auto agent = store_->create_agent("Alice", "agent", kNow);
    auto taken = store_->assign(conversation, agent.id, std::string(), agent.id, kNow);
    ASSERT_EQ(taken.kind, AssignOutcome::Kind::assigned);
    EXPECT_EQ(taken.event.type, "conversation_assigned");
    EXPECT_EQ(taken.event.audience, agent.id);
    auto again = store_->assign(conversation, agent.id, std::string(), agent.id, kNow);
    EXPECT_EQ(again.kind, AssignOutcome::Kind::unchanged) << "taking again what one holds (a retried take)";
    auto other = store_->create_agent("Bob", "agent", kNow);
    EXPECT_EQ(store_->assign(conversation, other.id, std::string(), other.id, kNow).kind,
              AssignOutcome::Kind::conflict)
        << "taking what is no longer unassigned";
    auto mine = apply({message("100", "100:2", "for alice")}).events.at(0);
    EXPECT_EQ(mine.audience, agent.id);
    EXPECT_EQ(store_->events_after(taken.event.seq, 10).at(0).audience, agent.id);
}

TEST_P(StoreContract, AgentsAndTokens) {
    auto alice = store_->create_agent("Alice", "agent", kNow);
    auto root = store_->create_agent("Root", "admin", kNow);
    EXPECT_THROW(store_->create_agent("X", "boss", kNow), std::invalid_argument);
    EXPECT_EQ(store_->agents().size(), 2u);
    auto token = store_->add_token(alice.id, "hash-a", "laptop", kNow, 0);
    ASSERT_TRUE(token);
    EXPECT_FALSE(store_->add_token("agt_nobody", "hash-x", "", kNow, 0)) << "no token for an unknown agent";
    ASSERT_TRUE(store_->add_token(root.id, "hash-r", "", kNow, 0));
    auto grants = store_->active_tokens();
    ASSERT_EQ(grants.size(), 2u);
    EXPECT_TRUE(store_->revoke_token(alice.id, token->id, kNow));
    EXPECT_FALSE(store_->revoke_token(alice.id, token->id, kNow)) << "already revoked";
    ASSERT_EQ(store_->active_tokens().size(), 1u);
    EXPECT_EQ(store_->active_tokens()[0].agent.id, root.id);
    EXPECT_TRUE(store_->delete_agent(root.id, "admin", kNow));
    EXPECT_TRUE(store_->active_tokens().empty()) << "deleting an agent revokes its tokens";
    EXPECT_EQ(store_->agents().size(), 1u);
}

TEST_P(StoreContract, EventsOfOneBatchComeBackInSeqOrder) {
    std::vector<InboundRequest> requests{request("a"), request("b")};
    auto ids = store_->enqueue(requests);
    std::vector<ParsedRow> rows{{ids[0], kChannel, {message("1", "1:1", "a"), message("2", "2:1", "b")}},
                                {ids[1], kChannel, {message("3", "3:1", "c")}}};
    auto results = store_->apply(rows, kNow);
    ASSERT_EQ(results[0].events.size(), 2u);
    ASSERT_EQ(results[1].events.size(), 1u);
    EXPECT_LT(results[0].events[0].seq, results[0].events[1].seq);
    EXPECT_LT(results[0].events[1].seq, results[1].events[0].seq);
}

// --- listing ---

TEST_P(StoreContract, ConversationsPaginateNewestFirstWithoutGapsOrDuplicates) {
    // Seven conversations; two share a last-activity time, so the id must break the tie.
    const std::int64_t times[] = {10, 20, 30, 30, 40, 50, 60};
    for (int i = 0; i < 7; ++i) {
        auto id = std::to_string(i);
        apply({message(id, id + ":1", "hi")}, kNow + times[i]);
    }
    std::vector<Conversation> seen;
    std::string cursor;
    int pages = 0;
    do {
        auto page = store_->conversations({}, 3, cursor);
        ++pages;
        EXPECT_LE(page.items.size(), 3u);
        seen.insert(seen.end(), page.items.begin(), page.items.end());
        cursor = page.next_cursor;
    } while (!cursor.empty() && pages < 10);
    EXPECT_EQ(pages, 3);
    ASSERT_EQ(seen.size(), 7u);
    for (std::size_t i = 1; i < seen.size(); ++i) {
        bool ordered =
            seen[i - 1].last_activity_ms > seen[i].last_activity_ms ||
            (seen[i - 1].last_activity_ms == seen[i].last_activity_ms && seen[i - 1].id > seen[i].id);
        EXPECT_TRUE(ordered) << "at " << i;
    }
    EXPECT_EQ(seen.front().platform_id, "6");
    EXPECT_EQ(seen.back().platform_id, "0");

    // A page that ends exactly at the last item says there is no more.
    auto all = store_->conversations({}, 7, "");
    EXPECT_EQ(all.items.size(), 7u);
    EXPECT_EQ(all.next_cursor, "");
}

TEST_P(StoreContract, ConversationsFilterByStatusChannelAndAssignee) {
    for (int i = 0; i < 4; ++i) {
        auto id = std::to_string(i);
        apply({message(id, id + ":1", "hi")}, kNow + i);
    }
    std::vector<InboundRequest> requests{request("wa")};
    auto ids = store_->enqueue(requests);
    std::vector<ParsedRow> rows{{ids[0], "wa-main", {message("9", "9:1", "hi")}}};
    store_->apply(rows, kNow + 10);

    auto id_of = [&](const std::string& channel, const std::string& platform_id) {
        return store_->message_by_platform_id(channel, platform_id)->conversation_id;
    };
    store_->change_status(id_of(kChannel, "0:1"), "resolved", "agent-1", kNow);
    ASSERT_TRUE(store_->assign_conversation(id_of(kChannel, "1:1"), "agent-7"));
    ASSERT_TRUE(store_->assign_conversation(id_of(kChannel, "2:1"), "agent-8"));
    auto unassigned_again = store_->assign_conversation(id_of(kChannel, "2:1"), "");
    ASSERT_TRUE(unassigned_again);
    EXPECT_EQ(unassigned_again->assignee_id, "");

    auto platform_ids = [&](const ConversationFilter& filter) {
        std::vector<std::string> out;
        for (const auto& c : store_->conversations(filter, 100, "").items) out.push_back(c.platform_id);
        return out;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(platform_ids(filter("resolved", "", "", "")), V{"0"});
    EXPECT_EQ(platform_ids(filter("open", "", "", "")), (V{"9", "3", "2", "1"}));
    EXPECT_EQ(platform_ids(filter("", "wa-main", "", "")), V{"9"});
    EXPECT_EQ(platform_ids(filter("", "", "agent-7", "")), V{"1"});
    EXPECT_EQ(platform_ids(filter("", "", "unassigned", "")), (V{"9", "3", "2", "0"}));
    EXPECT_EQ(platform_ids(filter("open", kChannel, "unassigned", "")), (V{"3", "2"}));
    // What agent-7 may see: its own and the unassigned ones.
    EXPECT_EQ(platform_ids(filter("", "", "", "agent-7")), (V{"9", "3", "2", "1", "0"}));
    EXPECT_EQ(platform_ids(filter("", "", "", "agent-8")), (V{"9", "3", "2", "0"}));
    EXPECT_EQ(store_->conversation(id_of(kChannel, "1:1"))->assignee_id, "agent-7");
    // An agent's own list (assignee=me) and another's, as an agent sees them.
    EXPECT_EQ(platform_ids(filter("", "", "agent-7", "agent-7")), V{"1"});
    EXPECT_EQ(platform_ids(filter("", "", "agent-7", "agent-8")), V{});
    EXPECT_EQ(platform_ids(filter("", "", "unassigned", "agent-8")), (V{"9", "3", "2", "0"}));
    EXPECT_EQ(platform_ids(filter("resolved", "", "agent-7", "")), V{});
    EXPECT_EQ(platform_ids(filter("", "wa-main", "agent-7", "")), V{});
    EXPECT_EQ(platform_ids(filter("", "", "agent-with-nothing", "")), V{});
    // The agent's view with a status or channel filter (two seeks merged in activity order).
    EXPECT_EQ(platform_ids(filter("open", "", "", "agent-7")), (V{"9", "3", "2", "1"}));
    EXPECT_EQ(platform_ids(filter("resolved", "", "", "agent-7")), V{"0"});
    EXPECT_EQ(platform_ids(filter("open", kChannel, "", "agent-8")), (V{"3", "2"}));
    EXPECT_EQ(platform_ids(filter("", "wa-main", "", "agent-7")), V{"9"});
    // … and its pages, across both sides of the merge.
    std::vector<std::string> paged;
    std::string cursor;
    do {
        auto page = store_->conversations(filter("", "", "", "agent-7"), 2, cursor);
        ASSERT_LE(page.items.size(), 2u);
        for (const auto& c : page.items) paged.push_back(c.platform_id);
        cursor = page.next_cursor;
    } while (!cursor.empty() && paged.size() < 10);
    EXPECT_EQ(paged, (V{"9", "3", "2", "1", "0"}));

    // Filters hold across pages too.
    auto first = store_->conversations(filter("", "", "unassigned", ""), 2, "");
    ASSERT_EQ(first.items.size(), 2u);
    auto second = store_->conversations(filter("", "", "unassigned", ""), 2, first.next_cursor);
    ASSERT_EQ(second.items.size(), 2u);
    EXPECT_EQ(second.items[0].platform_id, "2");
    EXPECT_EQ(second.items[1].platform_id, "0");
    EXPECT_EQ(second.next_cursor, "");
    ASSERT_TRUE(store_->assign_conversation(id_of(kChannel, "3:1"), "agent-7"));
    auto mine = store_->conversations(filter("", "", "agent-7", ""), 1, "");
    ASSERT_EQ(mine.items.size(), 1u);
    EXPECT_EQ(mine.items[0].platform_id, "3");
    auto rest = store_->conversations(filter("", "", "agent-7", ""), 1, mine.next_cursor);
    ASSERT_EQ(rest.items.size(), 1u);
    EXPECT_EQ(rest.items[0].platform_id, "1");
    EXPECT_EQ(rest.next_cursor, "");
}

TEST_P(StoreContract, MalformedCursorIsRejected) {
    apply({message("100", "100:1", "hi")});
    for (const char* cursor :
         {"garbage", "123", "_", "12_", "_12", "12_ab", "1_2_3", "-1_2", "99999999999999999999_1"})
        EXPECT_THROW(store_->conversations({}, 10, cursor), std::invalid_argument) << cursor;
    EXPECT_THROW(store_->conversations({}, 0, ""), std::invalid_argument);
    EXPECT_NO_THROW(store_->conversations({}, 10, "1732540000000_17"));
}

TEST_P(StoreContract, MessagesPaginateNewestFirst) {
    for (int i = 0; i < 5; ++i) {
        auto id = std::to_string(i);
        apply({message("100", "100:" + id, "m" + id)}, kNow + i);
    }
    auto conversation_id = store_->message_by_platform_id(kChannel, "100:0")->conversation_id;

    auto first = store_->messages(conversation_id, 2, 0);
    ASSERT_EQ(first.items.size(), 2u);
    EXPECT_EQ(first.items[0].platform_id, "100:4");
    EXPECT_EQ(first.items[1].platform_id, "100:3");
    EXPECT_EQ(first.next_cursor, std::to_string(first.items[1].id));

    auto second = store_->messages(conversation_id, 2, std::stoll(first.next_cursor));
    ASSERT_EQ(second.items.size(), 2u);
    EXPECT_EQ(second.items[0].platform_id, "100:2");
    EXPECT_EQ(second.items[1].platform_id, "100:1");

    auto third = store_->messages(conversation_id, 2, std::stoll(second.next_cursor));
    ASSERT_EQ(third.items.size(), 1u);
    EXPECT_EQ(third.items[0].platform_id, "100:0");
    EXPECT_EQ(third.next_cursor, "");

    EXPECT_TRUE(store_->messages(conversation_id + 1000, 10, 0).items.empty());
}

// --- outbound ---

TEST_P(StoreContract, InsertOutboundStoresTheReplyAndBumpsActivity) {
    apply({message("100", "100:1", "hello")});
    auto conversation_id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    auto sent = send(conversation_id, "on its way", "100:2", kNow + 500);
    EXPECT_GT(sent.id, 0);
    EXPECT_EQ(sent.direction, "out");
    EXPECT_EQ(sent.channel_id, kChannel);
    EXPECT_EQ(sent.conversation_id, conversation_id);
    EXPECT_EQ(sent.sender_id, "agent-1");
    EXPECT_EQ(sent.sender_name, "Grace");
    EXPECT_EQ(sent.status, "sent");
    EXPECT_EQ(sent.platform_id, "100:2");
    EXPECT_EQ(sent.created_ms, kNow + 500);
    EXPECT_EQ(store_->conversation(conversation_id)->last_activity_ms, kNow + 500);
    EXPECT_EQ(store_->messages(conversation_id, 1, 0).items.at(0).id, sent.id);

    // The platform's echo of our own send is a duplicate, not a second message.
    auto echo = message("100", "100:2", "on its way", "bot");
    echo.outgoing = true;
    auto result = apply({echo});
    EXPECT_EQ(result.duplicates, 1);
    EXPECT_TRUE(result.events.empty());
}

TEST_P(StoreContract, EchoNamingTheOutboundIdCompletesASendOfUnknownFate) {
    apply({message("100", "100:1", "hello")});
    auto conversation_id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    OutboundMessage out;
    out.conversation_id = conversation_id;
    out.sender_id = "agent-1";
    out.content_json = text_content("on its way");
    out.status = "unknown";
    out.outbound_id = "sb-0123456789abcdef0123456789abcdef";
    auto [lost, created] = store_->insert_outbound(out, kNow);
    ASSERT_TRUE(created);
    EXPECT_EQ(lost.status, "unknown");

    auto echo = message("100", "100:2", "on its way", "bot");
    echo.outgoing = true;
    echo.outbound_id = out.outbound_id;
    auto result = apply({echo});
    ASSERT_EQ(result.events.size(), 1u);
    EXPECT_EQ(result.events[0].type, "message_status");
    auto completed = store_->message_by_platform_id(kChannel, "100:2");
    ASSERT_TRUE(completed.has_value());
    EXPECT_EQ(completed->id, lost.id) << "the echo became a second row";
    EXPECT_EQ(completed->status, "sent");
    EXPECT_EQ(store_->messages(conversation_id, 10, 0).items.size(), 2u) << "hello and the one reply";

    // A later echo of the same message is the duplicate it always was.
    EXPECT_EQ(apply({echo}).duplicates, 1);
    // An echo naming an id no row has is stored as a message sent from elsewhere.
    auto other = message("100", "100:3", "from the phone", "bot");
    other.outgoing = true;
    other.outbound_id = "sb-ffffffffffffffffffffffffffffffff";
    EXPECT_EQ(apply({other}).events.size(), 1u);
    EXPECT_EQ(store_->message_by_platform_id(kChannel, "100:3")->status, "sent");
}

TEST_P(StoreContract, FailedSendsWithoutPlatformIdAreAllKept) {
    apply({message("100", "100:1", "hello")});
    auto conversation_id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    OutboundMessage out;
    out.conversation_id = conversation_id;
    out.sender_id = "agent-1";
    out.content_json = text_content("x");
    out.status = "failed";
    out.error_code = "forbidden";
    auto [a, a_new] = store_->insert_outbound(out, kNow);
    auto [b, b_new] = store_->insert_outbound(out, kNow);
    EXPECT_TRUE(a_new && b_new);
    EXPECT_NE(a.id, b.id);
    EXPECT_EQ(a.platform_id, "");
    EXPECT_EQ(a.status, "failed");
    EXPECT_EQ(a.error_code, "forbidden");
}

// Group commit of sent messages: each result on its own, a bad one failing alone.
TEST_P(StoreContract, OutboundBatchStoresEachMessageAndFailsOnlyTheBadOne) {
    apply({message("100", "100:1", "hello")});
    auto conversation_id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    auto out = [&](const std::string& platform_id, const std::string& key, std::int64_t conversation) {
        OutboundMessage m;
        m.conversation_id = conversation;
        m.sender_id = "agent-1";
        m.sender_name = "Grace";
        m.content_json = text_content(platform_id);
        m.platform_id = platform_id;
        m.status = "sent";
        m.idempotency_key = key;
        return m;
    };
    std::vector<OutboundMessage> batch{
        out("100:2", "k-1", conversation_id), out("100:3", "", conversation_id + 999),
        out("100:4", "k-1", conversation_id), out("100:5", "", conversation_id)};
    auto results = store_->insert_outbound_batch(batch, kNow + 10);
    ASSERT_EQ(results.size(), 4u);
    ASSERT_TRUE(results[0].message);
    EXPECT_TRUE(results[0].created);
    EXPECT_EQ(results[0].message->platform_id, "100:2");
    EXPECT_EQ(results[0].message->direction, "out");
    EXPECT_FALSE(results[1].message);  // no such conversation
    EXPECT_NE(results[1].error.find("does not exist"), std::string::npos) << results[1].error;
    ASSERT_TRUE(results[2].message);  // same sender and key as the first: that one
    EXPECT_FALSE(results[2].created);
    EXPECT_EQ(results[2].message->id, results[0].message->id);
    ASSERT_TRUE(results[3].message);
    EXPECT_TRUE(results[3].created);

    auto history = store_->messages(conversation_id, 10, 0).items;
    ASSERT_EQ(history.size(), 3u);  // hello, 100:2, 100:5
    EXPECT_EQ(history[0].platform_id, "100:5");
    EXPECT_EQ(history[1].platform_id, "100:2");
    EXPECT_FALSE(store_->message_by_platform_id(kChannel, "100:3"));
    EXPECT_FALSE(store_->message_by_platform_id(kChannel, "100:4"));
    EXPECT_EQ(store_->conversation(conversation_id)->last_activity_ms, kNow + 10);
    EXPECT_TRUE(store_->insert_outbound_batch({}, kNow).empty());
}

TEST_P(StoreContract, AnAnnouncedReplyAppendsMessageSentNamingTheSessionThatSentIt) {
    apply({message("100", "100:1", "hello")});
    const auto id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    ASSERT_TRUE(store_->assign_conversation(id, "agent-1"));
    OutboundMessage m;
    m.conversation_id = id;
    m.sender_id = "agent-1";
    m.sender_name = "Grace";
    m.content_json = text_content("on it");
    m.platform_id = "100:2";
    m.status = "sent";
    m.idempotency_key = "k-1";
    m.announce = true;
    m.origin = "tab-1";
    auto quiet = m;
    quiet.announce = false;
    quiet.platform_id = "100:3";
    quiet.idempotency_key = "";
    auto results = store_->insert_outbound_batch(std::vector<OutboundMessage>{m, quiet, m}, kNow + 1);
    ASSERT_EQ(results.size(), 3u);
    ASSERT_TRUE(results[0].event);
    const auto& event = *results[0].event;
    EXPECT_EQ(event.type, "message_sent");
    EXPECT_EQ(event.origin, "tab-1");
    EXPECT_EQ(event.audience, "agent-1") << "whoever sees the conversation";
    auto data = parse(event.data_json);
    EXPECT_EQ(str(data["message"]["id"]), std::to_string(results[0].message->id));
    EXPECT_EQ(str(data["conversation"]["last_message"]["id"]), std::to_string(results[0].message->id))
        << "the reply is the conversation's preview now";
    EXPECT_FALSE(results[1].event) << "not announced";
    EXPECT_FALSE(results[2].created);
    EXPECT_FALSE(results[2].event) << "an idempotent repeat stored nothing new";

    // The origin is kept with the event: a resume (or another instance) skips that session too.
    auto logged = store_->events_after(event.seq - 1, 10);
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_EQ(logged[0].origin, "tab-1");
    EXPECT_EQ(logged[0].type, "message_sent");
    auto other = apply({message("100", "100:4", "thanks")});
    EXPECT_EQ(store_->events_after(other.events.at(0).seq - 1, 10).at(0).origin, "")
        << "no session caused it";
}

TEST_P(StoreContract, IdempotencyKeyReturnsTheExistingMessage) {
    apply({message("100", "100:1", "hello")});
    auto conversation_id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    OutboundMessage out;
    out.conversation_id = conversation_id;
    out.sender_id = "agent-1";
    out.content_json = text_content("once");
    out.platform_id = "100:2";
    out.status = "sent";
    out.idempotency_key = "key-1";

    auto [first, created] = store_->insert_outbound(out, kNow);
    EXPECT_TRUE(created);
    out.platform_id = "100:3";
    auto [again, created_again] = store_->insert_outbound(out, kNow + 1);
    EXPECT_FALSE(created_again);
    EXPECT_EQ(again.id, first.id);
    EXPECT_EQ(again.platform_id, "100:2");

    auto found = store_->outbound_by_idempotency_key("agent-1", conversation_id, "key-1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->id, first.id);
    EXPECT_FALSE(store_->outbound_by_idempotency_key("agent-2", conversation_id, "key-1"));

    // The key is per sender: another agent may use the same one.
    out.sender_id = "agent-2";
    auto [other, other_created] = store_->insert_outbound(out, kNow + 2);
    EXPECT_TRUE(other_created);
    EXPECT_NE(other.id, first.id);
}

TEST_P(StoreContract, IdempotencyKeyIsClaimedOnceAndScopedToSenderAndConversation) {
    apply({message("100", "100:1", "hello"), message("200", "200:1", "other")});
    auto conversation_id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    auto other_conversation = store_->message_by_platform_id(kChannel, "200:1")->conversation_id;
    using State = KeyClaim::State;

    EXPECT_EQ(store_->claim_idempotency_key("agent-1", conversation_id, "k", "hash-a", kNow).state,
              State::claimed);
    auto again = store_->claim_idempotency_key("agent-1", conversation_id, "k", "hash-a", kNow + 1);
    EXPECT_EQ(again.state, State::in_progress);
    EXPECT_EQ(again.claimed_ms, kNow);
    EXPECT_EQ(store_->claim_idempotency_key("agent-1", conversation_id, "k", "hash-b", kNow + 1).state,
              State::mismatch);
    // Another conversation or another sender: another key.
    EXPECT_EQ(store_->claim_idempotency_key("agent-1", other_conversation, "k", "hash-a", kNow).state,
              State::claimed);
    EXPECT_EQ(store_->claim_idempotency_key("agent-2", conversation_id, "k", "hash-a", kNow).state,
              State::claimed);

    // Released (nothing was sent): it can be claimed again.
    store_->release_idempotency_key("agent-1", other_conversation, "k");
    EXPECT_EQ(store_->claim_idempotency_key("agent-1", other_conversation, "k", "hash-a", kNow).state,
              State::claimed);

    // Storing the message completes the claim; a repeat gets that message.
    OutboundMessage out;
    out.conversation_id = conversation_id;
    out.sender_id = "agent-1";
    out.content_json = text_content("once");
    out.platform_id = "100:9";
    out.status = "sent";
    out.idempotency_key = "k";
    auto [stored, created] = store_->insert_outbound(out, kNow + 2);
    ASSERT_TRUE(created);
    auto done = store_->claim_idempotency_key("agent-1", conversation_id, "k", "hash-a", kNow + 3);
    EXPECT_EQ(done.state, State::done);
    ASSERT_TRUE(done.message);
    EXPECT_EQ(done.message->id, stored.id);
    EXPECT_EQ(store_->claim_idempotency_key("agent-1", conversation_id, "k", "hash-b", kNow + 3).state,
              State::mismatch);
    store_->release_idempotency_key("agent-1", conversation_id, "k");  // completed: stays
    EXPECT_EQ(store_->claim_idempotency_key("agent-1", conversation_id, "k", "hash-a", kNow + 4).state,
              State::done);
}

TEST_P(StoreContract, AFailedSendIsKeptWithThePlatformsReasonAndARetryUpdatesTheSameRow) {
    apply({message("100", "100:1", "hello")});
    auto conversation_id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    ASSERT_EQ(store_->claim_idempotency_key("agent-1", conversation_id, "k", "h", kNow).state,
              KeyClaim::State::claimed);
    OutboundMessage out;
    out.conversation_id = conversation_id;
    out.sender_id = "agent-1";
    out.content_json = text_content("refused");
    out.status = "failed";
    out.error_code = "131047";
    out.error_message = "Re-engagement message";
    out.idempotency_key = "k";
    auto [failed, created] = store_->insert_outbound(out, kNow);
    ASSERT_TRUE(created);
    EXPECT_EQ(failed.status, "failed");
    EXPECT_EQ(failed.error_code, "131047");
    EXPECT_EQ(failed.error_message, "Re-engagement message");
    EXPECT_EQ(failed.platform_id, "");
    // The key is completed by the failed row: a repeat finds it.
    auto repeat = store_->claim_idempotency_key("agent-1", conversation_id, "k", "h", kNow + 1);
    ASSERT_EQ(repeat.state, KeyClaim::State::done);
    EXPECT_EQ(repeat.message->id, failed.id);

    using State = RetryClaim::State;
    EXPECT_EQ(store_->claim_retry(conversation_id + 1000, failed.id, kNow, 0).state, State::not_found);
    EXPECT_EQ(store_->claim_retry(conversation_id, failed.id + 1000, kNow, 0).state, State::not_found);
    auto inbound = store_->message_by_platform_id(kChannel, "100:1");
    EXPECT_EQ(store_->claim_retry(conversation_id, inbound->id, kNow, 0).state, State::not_found)
        << "a customer's message is not the agent's to resend";
    auto claim = store_->claim_retry(conversation_id, failed.id, kNow + 2, 0);
    ASSERT_EQ(claim.state, State::claimed);
    EXPECT_EQ(claim.message->status, "failed") << "the claim returns the row as it was";
    // Claimed once: a concurrent retry is refused, unless the first one is older than the cut-off.
    auto busy = store_->claim_retry(conversation_id, failed.id, kNow + 3, kNow + 2);
    ASSERT_EQ(busy.state, State::not_retryable);
    EXPECT_EQ(busy.message->status, "sending");
    EXPECT_EQ(store_->claim_retry(conversation_id, failed.id, kNow + 4, kNow + 3).state, State::claimed)
        << "a retry left sending by a stopped daemon may be taken again";

    OutboundMessage outcome;
    outcome.platform_id = "100:7";
    outcome.status = "sent";
    auto settled = store_->settle_retry(failed.id, outcome);
    ASSERT_TRUE(settled);
    EXPECT_EQ(settled->id, failed.id);
    EXPECT_EQ(settled->status, "sent");
    EXPECT_EQ(settled->platform_id, "100:7");
    EXPECT_EQ(settled->error_code, "");
    EXPECT_EQ(store_->message_by_platform_id(kChannel, "100:7")->id, failed.id);
    EXPECT_EQ(store_->claim_retry(conversation_id, failed.id, kNow + 5, kNow + 5).state, State::not_retryable)
        << "a sent message is not resent";
    EXPECT_EQ(store_->messages(conversation_id, 10, 0).items.size(), 2u) << "never a second row";
    EXPECT_FALSE(store_->settle_retry(failed.id + 1000, outcome));
}

TEST_P(StoreContract, TokensKeepTheirExpiry) {
    auto grace = store_->create_agent("Grace", "agent", kNow);
    auto token = store_->add_token(grace.id, "hash-exp", "kiosk", kNow, kNow + 60'000);
    ASSERT_TRUE(token);
    EXPECT_EQ(token->expires_ms, kNow + 60'000);
    ASSERT_TRUE(store_->add_token(grace.id, "hash-forever", "laptop", kNow, 0));
    auto grants = store_->active_tokens();
    ASSERT_EQ(grants.size(), 2u);
    for (const auto& g : grants)
        EXPECT_EQ(g.expires_ms, g.token_hash == "hash-exp" ? kNow + 60'000 : 0) << g.token_hash;
}

TEST_P(StoreContract, AVersion5DatabaseIsUpgradedKeepingItsMessagesAndTokens) {
    // A store of its own (the fixture's is already at the latest version), named after the test's.
    const fs::path old_dir = dir_.path() / (dir_.path().filename().string() + "_v5");
    fs::create_directories(old_dir);
    GetParam().open(old_dir).reset();  // creates the database, empty
    GetParam().create_at_version(
        old_dir, 5,
        "INSERT INTO conversations (id, channel_id, platform_id, created_ms, last_activity_ms) "
        "VALUES (1, 'tg-support', '100', 1, 1);"
        "INSERT INTO messages (conversation_id, channel_id, platform_id, direction, sender_id, content_json, "
        "status, error_code, created_ms) VALUES (1, 'tg-support', '100:1', 'out', 'agent-1', "
        "'{\"type\":\"text\",\"text\":\"old\"}', 'failed', '131047', 1);"
        "INSERT INTO agents (id, name, role, created_ms) VALUES ('agt_old', 'Old', 'agent', 1);"
        "INSERT INTO agent_tokens (id, agent_id, token_hash, created_ms) VALUES ('tok_old', 'agt_old', "
        "'hash-old', 1);");
    {
        auto store = GetParam().open(old_dir);
        ASSERT_NO_THROW(store->migrate());
        auto old = store->message_by_platform_id(kChannel, "100:1");
        ASSERT_TRUE(old);
        EXPECT_EQ(old->status, "failed");
        EXPECT_EQ(old->error_code, "131047");
        EXPECT_EQ(old->error_message, "");
        auto grants = store->active_tokens();
        ASSERT_EQ(grants.size(), 1u);
        EXPECT_EQ(grants[0].token_id, "tok_old");
        EXPECT_EQ(grants[0].expires_ms, 0) << "a token from before expiries never expires";
        // A message failed before the upgrade can be retried after it.
        EXPECT_EQ(store->claim_retry(old->conversation_id, old->id, kNow, 0).state,
                  RetryClaim::State::claimed);
    }
    GetParam().remove(old_dir);
}

// --- agents and assignment ---

TEST_P(StoreContract, AgentsTokensAndDeletionRevokeAndUnassign) {
    EXPECT_THROW(store_->create_agent("Nobody", "owner", kNow), std::invalid_argument);
    auto admin = store_->create_agent("Root", "admin", kNow);
    auto grace = store_->create_agent("Grace", "agent", kNow + 1);
    auto agents = store_->agents();
    ASSERT_EQ(agents.size(), 2u);
    EXPECT_EQ(agents[0].id, admin.id);
    EXPECT_EQ(agents[1].name, "Grace");
    EXPECT_EQ(agents[1].role, "agent");

    EXPECT_FALSE(store_->add_token("agt_missing", "hash-x", "laptop", kNow, 0));
    auto token = store_->add_token(grace.id, "hash-grace", "laptop", kNow, 0);
    ASSERT_TRUE(token);
    auto grants = store_->active_tokens();
    ASSERT_EQ(grants.size(), 1u);
    EXPECT_EQ(grants[0].token_hash, "hash-grace");
    EXPECT_EQ(grants[0].token_id, token->id);
    EXPECT_EQ(grants[0].agent.id, grace.id);
    EXPECT_TRUE(store_->revoke_token(grace.id, token->id, kNow + 2));
    EXPECT_FALSE(store_->revoke_token(grace.id, token->id, kNow + 3));
    EXPECT_TRUE(store_->active_tokens().empty());

    ASSERT_TRUE(store_->add_token(grace.id, "hash-grace-2", "phone", kNow, 0));
    apply({message("100", "100:1", "hello")});
    auto conversation_id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    ASSERT_EQ(store_->assign(conversation_id, grace.id, std::nullopt, admin.id, kNow).kind,
              AssignOutcome::Kind::assigned);
    auto deleted = store_->delete_agent(grace.id, admin.id, kNow + 4);
    ASSERT_TRUE(deleted);
    ASSERT_EQ(deleted->size(), 1u) << "open UIs learn the conversation is nobody's now";
    EXPECT_EQ((*deleted)[0].type, "conversation_assigned");
    EXPECT_EQ((*deleted)[0].conversation_id, conversation_id);
    auto data = parse((*deleted)[0].data_json);
    EXPECT_TRUE(data["agent_id"].IsNull());
    EXPECT_EQ(str(data["previous_agent_id"]), grace.id);
    EXPECT_EQ(str(data["assigned_by"]), admin.id);
    EXPECT_FALSE(store_->delete_agent(grace.id, "admin", kNow + 5));
    EXPECT_TRUE(store_->active_tokens().empty());
    EXPECT_EQ(store_->conversation(conversation_id)->assignee_id, "");
    EXPECT_EQ(store_->agents().size(), 1u);
}

TEST_P(StoreContract, AnAgentsAvailabilityIsStoredAndOnlyTheThreeValuesAreAccepted) {
    auto grace = store_->create_agent("Grace", "agent", kNow);
    EXPECT_EQ(store_->agents().at(0).availability, "online") << "the default";
    EXPECT_TRUE(store_->set_availability(grace.id, "busy"));
    EXPECT_EQ(store_->agents().at(0).availability, "busy");
    EXPECT_THROW(store_->set_availability(grace.id, "away"), std::invalid_argument);
    EXPECT_EQ(store_->agents().at(0).availability, "busy");
    EXPECT_FALSE(store_->set_availability("agt_nobody", "online"));
    ASSERT_TRUE(store_->delete_agent(grace.id, "admin", kNow));
    EXPECT_FALSE(store_->set_availability(grace.id, "online")) << "a deleted agent is no one";
}

TEST_P(StoreContract, AssignIsConditionalAndAppendsAnEventForBothSides) {
    auto a = store_->create_agent("Ada", "agent", kNow);
    auto b = store_->create_agent("Bob", "agent", kNow);
    apply({message("100", "100:1", "hello")});
    auto id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;

    auto taken = store_->assign(id, a.id, std::string(), "system", kNow + 1);
    ASSERT_EQ(taken.kind, AssignOutcome::Kind::assigned);
    EXPECT_EQ(taken.conversation.assignee_id, a.id);
    EXPECT_EQ(taken.event.type, "conversation_assigned");
    EXPECT_EQ(taken.event.audience, a.id);
    EXPECT_EQ(store_->last_seq(), taken.event.seq);

    auto lost = store_->assign(id, b.id, std::string(), "system", kNow + 2);  // b lost the race
    EXPECT_EQ(lost.kind, AssignOutcome::Kind::conflict);
    EXPECT_EQ(lost.conversation.assignee_id, a.id);
    EXPECT_EQ(store_->assign(id, a.id, std::nullopt, "system", kNow + 3).kind,
              AssignOutcome::Kind::unchanged);
    EXPECT_THROW(store_->assign(id, "agt_missing", std::nullopt, "system", kNow), std::invalid_argument);
    EXPECT_EQ(store_->assign(id + 1000, a.id, std::nullopt, "system", kNow).kind,
              AssignOutcome::Kind::not_found);

    auto moved = store_->assign(id, b.id, std::nullopt, a.id, kNow + 4);
    ASSERT_EQ(moved.kind, AssignOutcome::Kind::assigned);
    EXPECT_EQ(moved.event.audience, b.id + "," + a.id);
    auto open = store_->open_counts();
    ASSERT_EQ(open.size(), 1u);
    EXPECT_EQ(open[0], (std::pair<std::string, int>{b.id, 1}));

    // Later events of the conversation are for its assignee; an unassignment, for admins only.
    auto next = apply({message("100", "100:2", "still there?")});
    ASSERT_EQ(next.events.size(), 1u);
    EXPECT_EQ(next.events[0].audience, b.id);
    EXPECT_EQ(store_->events_after(moved.event.seq, 10).at(0).audience, b.id);
    EXPECT_EQ(store_->assign(id, "", std::nullopt, "admin", kNow + 5).event.audience, b.id);
    EXPECT_EQ(store_->assign(id, "", std::nullopt, "admin", kNow + 6).kind, AssignOutcome::Kind::unchanged);
}

TEST_P(StoreContract, FirstSeqIsTheOldestKeptEvent) {
    EXPECT_EQ(store_->first_seq(), 0);
    auto first = apply({message("100", "100:1", "hello")});
    apply({message("100", "100:2", "again")});
    EXPECT_EQ(store_->first_seq(), first.events.at(0).seq);
}

// --- the inbox: list items, counts, read state ---

TEST_P(StoreContract, ListItemsCarryTheLastMessageAssigneeAndTheReadersUnreadCount) {
    auto grace = store_->create_agent("Grace Hopper", "agent", kNow);
    apply({message("100", "100:1", "hello")});
    apply({message("100", "100:2", "are you there?")});
    auto id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    auto first_in = store_->message_by_platform_id(kChannel, "100:1")->id;
    auto second_in = store_->message_by_platform_id(kChannel, "100:2")->id;

    auto item = [&](const std::string& reader) {
        ConversationFilter f;
        f.reader = reader;
        auto page = store_->conversations(f, 10, "");
        EXPECT_EQ(page.items.size(), 1u);
        return page.items.at(0);
    };
    auto c = item(grace.id);
    ASSERT_TRUE(c.last_message);
    EXPECT_EQ(c.last_message->id, second_in);
    EXPECT_EQ(c.last_message->direction, "in");
    EXPECT_EQ(c.last_message->sender_name, "Ada Lovelace");
    EXPECT_EQ(c.last_message->content_json, text_content("are you there?"));
    ASSERT_TRUE(c.read);
    EXPECT_EQ(c.read->unread_count, 2);
    EXPECT_EQ(c.read->last_read_message_id, 0);
    EXPECT_EQ(c.priority, "none");
    EXPECT_TRUE(c.labels.empty());
    EXPECT_FALSE(store_->conversations({}, 10, "").items.at(0).read) << "no reader, no read state";

    // A reply is the last message now; it is not unread (it is not the customer's).
    auto reply = send(id, "yes", "100:3");
    c = item(grace.id);
    EXPECT_EQ(c.last_message->id, reply.id);
    EXPECT_EQ(c.last_message->direction, "out");
    EXPECT_EQ(c.last_message->sender_id, "agent-1");
    EXPECT_EQ(c.read->unread_count, 2);

    // Reading up to the first message leaves one unread, for this agent only.
    auto read = store_->mark_read(id, grace.id, first_in, kNow + 1);
    ASSERT_EQ(read.kind, ReadOutcome::Kind::done);
    EXPECT_EQ(read.conversation.read->last_read_message_id, first_in);
    EXPECT_EQ(read.conversation.read->unread_count, 1);
    EXPECT_EQ(item(grace.id).read->unread_count, 1);
    EXPECT_EQ(item("agt_other").read->unread_count, 2);
    EXPECT_EQ(store_->conversation_for(id, grace.id)->read->unread_count, 1);

    ASSERT_EQ(store_->assign(id, grace.id, std::nullopt, "admin", kNow).kind, AssignOutcome::Kind::assigned);
    c = item(grace.id);
    EXPECT_EQ(c.assignee_id, grace.id);
    EXPECT_EQ(c.assignee_name, "Grace Hopper");

    // Frames' conversations carry the last message too, but no read state.
    auto next = apply({message("100", "100:4", "thanks")});
    ASSERT_EQ(next.events.size(), 1u);
    auto data = parse(next.events[0].data_json);
    EXPECT_STREQ(data["conversation"]["last_message"]["preview"].GetString(), "thanks");
    EXPECT_STREQ(data["conversation"]["last_message"]["kind"].GetString(), "text");
    EXPECT_FALSE(data["conversation"].HasMember("unread_count"));
    EXPECT_STREQ(data["message"]["kind"].GetString(), "message");
    EXPECT_EQ(item(grace.id).read->unread_count, 2);
}

TEST_P(StoreContract, ReadPositionsNeverMoveBackByAReadAndUnreadMovesThemBeforeTheNewestInbound) {
    apply({message("100", "100:1", "one")});
    apply({message("100", "100:2", "two")});
    auto id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    auto one = store_->message_by_platform_id(kChannel, "100:1")->id;
    auto two = store_->message_by_platform_id(kChannel, "100:2")->id;

    auto all = store_->mark_read(id, "agt_a", 0, kNow);  // 0: up to the newest
    ASSERT_EQ(all.kind, ReadOutcome::Kind::done);
    EXPECT_EQ(all.conversation.read->last_read_message_id, two);
    EXPECT_EQ(all.conversation.read->unread_count, 0);
    // An older tab reading the first message does not bring the badge back.
    EXPECT_EQ(store_->mark_read(id, "agt_a", one, kNow).conversation.read->last_read_message_id, two);

    auto unread = store_->mark_unread(id, "agt_a", kNow);
    ASSERT_EQ(unread.kind, ReadOutcome::Kind::done);
    EXPECT_EQ(unread.conversation.read->last_read_message_id, one);
    EXPECT_EQ(unread.conversation.read->unread_count, 1);

    EXPECT_EQ(store_->mark_read(id, "agt_a", two + 1000, kNow).kind, ReadOutcome::Kind::no_message);
    EXPECT_EQ(store_->mark_read(id + 1000, "agt_a", 0, kNow).kind, ReadOutcome::Kind::no_conversation);
    EXPECT_EQ(store_->mark_unread(id + 1000, "agt_a", kNow).kind, ReadOutcome::Kind::no_conversation);

    // A message of another conversation is not a position in this one.
    apply({message("200", "200:1", "elsewhere")});
    auto other = store_->message_by_platform_id(kChannel, "200:1")->id;
    EXPECT_EQ(store_->mark_read(id, "agt_a", other, kNow).kind, ReadOutcome::Kind::no_message);

    // Unread on a conversation whose only inbound message is its first: never read.
    auto lone = store_->message_by_platform_id(kChannel, "200:1")->conversation_id;
    store_->mark_read(lone, "agt_a", 0, kNow);
    auto first_unread = store_->mark_unread(lone, "agt_a", kNow);
    EXPECT_EQ(first_unread.conversation.read->last_read_message_id, 0);
    EXPECT_EQ(first_unread.conversation.read->unread_count, 1);
}

TEST_P(StoreContract, ListFiltersBySeveralStatusesAndPriorityAndCountsPerTab) {
    for (int i = 0; i < 4; ++i) apply({message(std::to_string(i), std::to_string(i) + ":1", "hi")});
    auto id_of = [&](int i) {
        return store_->message_by_platform_id(kChannel, std::to_string(i) + ":1")->conversation_id;
    };
    auto a = store_->create_agent("Ada", "agent", kNow);
    auto b = store_->create_agent("Bob", "agent", kNow);
    store_->change_status(id_of(0), "resolved", a.id, kNow);
    ASSERT_TRUE(store_->assign_conversation(id_of(1), a.id));
    ASSERT_TRUE(store_->assign_conversation(id_of(2), b.id));

    auto platform_ids = [&](const ConversationFilter& f) {
        std::vector<std::string> out;
        for (const auto& c : store_->conversations(f, 100, "").items) out.push_back(c.platform_id);
        return out;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(platform_ids(filter("open,resolved", "", "", "")), (V{"3", "2", "1", "0"}));
    EXPECT_EQ(platform_ids(filter("open,resolved", "", "", a.id)), (V{"3", "1", "0"}));
    EXPECT_EQ(platform_ids(filter("pending,snoozed", "", "", "")), V{});
    ConversationFilter urgent;
    urgent.priority = "urgent";
    EXPECT_EQ(platform_ids(urgent), V{});
    urgent.priority = "none";
    EXPECT_EQ(platform_ids(urgent).size(), 4u);

    ConversationFilter mine;
    mine.visible_to = a.id;
    mine.reader = a.id;
    auto counts = store_->conversation_counts(mine);
    EXPECT_EQ(counts.mine.open, 1);
    EXPECT_EQ(counts.unassigned.open, 1);
    EXPECT_EQ(counts.unassigned.resolved, 1);
    EXPECT_EQ(counts.all.open, 2) << "Ada's and the unassigned one, not Bob's";
    EXPECT_EQ(counts.all.resolved, 1);
    ConversationFilter admin;
    admin.reader = "admin";
    auto everything = store_->conversation_counts(admin);
    EXPECT_EQ(everything.all.open, 3);
    EXPECT_EQ(everything.mine.open, 0);
    admin.channel_id = "wa-main";
    EXPECT_EQ(store_->conversation_counts(admin).all.open, 0);
}

TEST_P(StoreContract, AVersion7DatabaseIsUpgradedWithItsLastMessagesAndStatuses) {
    const fs::path old_dir = dir_.path() / (dir_.path().filename().string() + "_v7");
    fs::create_directories(old_dir);
    GetParam().open(old_dir).reset();
    GetParam().create_at_version(
        old_dir, 7,
        "INSERT INTO contacts (id, channel_id, platform_id, name, created_ms) VALUES (1, 'tg-support', "
        "'100', "
        "'Ada', 1);"
        "INSERT INTO conversations (id, channel_id, platform_id, contact_id, status, assignee_id, "
        "created_ms, "
        "last_activity_ms) VALUES (1, 'tg-support', '100', 1, 'resolved', 'agt_old', 1, 3);"
        "INSERT INTO conversations (id, channel_id, platform_id, created_ms, last_activity_ms) "
        "VALUES (2, 'tg-support', '200', 1, 2);"
        "INSERT INTO agents (id, name, role, created_ms) VALUES ('agt_old', 'Old', 'agent', 1);"
        "INSERT INTO messages (conversation_id, channel_id, platform_id, direction, sender_id, content_json, "
        "status, created_ms) VALUES (1, 'tg-support', '100:1', 'in', '100', "
        "'{\"type\":\"text\",\"text\":\"first\"}', 'received', 1);"
        "INSERT INTO messages (conversation_id, channel_id, platform_id, direction, sender_id, content_json, "
        "status, created_ms) VALUES (1, 'tg-support', '100:2', 'out', 'agt_old', "
        "'{\"type\":\"text\",\"text\":\"last\"}', 'sent', 2);");
    {
        auto store = GetParam().open(old_dir);
        ASSERT_NO_THROW(store->migrate());
        auto c = store->conversation_for(1, "agt_old");
        ASSERT_TRUE(c);
        EXPECT_EQ(c->status, "resolved");
        EXPECT_EQ(c->assignee_id, "agt_old");
        EXPECT_EQ(c->assignee_name, "Old");
        EXPECT_EQ(c->contact_name, "Ada");
        EXPECT_EQ(c->last_activity_ms, 3);
        ASSERT_TRUE(c->last_message) << "the upgrade fills in the last message";
        EXPECT_EQ(c->last_message->id, store->message_by_platform_id(kChannel, "100:2")->id);
        EXPECT_EQ(c->read->unread_count, 1);
        EXPECT_FALSE(store->conversation(2)->last_message);
        EXPECT_EQ(store->messages(1, 10, 0).items.size(), 2u);
        EXPECT_EQ(store->messages(1, 10, 0).items[0].kind, "message");
        // The rebuilt table takes changes and new messages as before.
        EXPECT_EQ(store->change_status(2, "resolved", "agt_old", 5).conversation->status, "resolved");
        OutboundMessage again;
        again.conversation_id = 1;
        again.sender_id = "agt_old";
        again.content_json = R"({"type":"text","text":"again"})";
        again.platform_id = "100:3";
        again.status = "sent";
        auto reply = store->insert_outbound(again, 6);
        EXPECT_EQ(store->conversation(1)->last_message->id, reply.first.id);
    }
    GetParam().remove(old_dir);
}

TEST_P(StoreContract, SnoozedConversationsWakeAtTheirTimeOrWhenTheCustomerWrites) {
    apply({message("100", "100:1", "hello")});
    apply({message("200", "200:1", "hi")});
    auto first = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    auto second = store_->message_by_platform_id(kChannel, "200:1")->conversation_id;
    ConversationChange snooze;
    snooze.status = "snoozed";
    snooze.snoozed_until_ms = kNow + 60'000;
    auto snoozed = store_->update_conversation(first, snooze, "agent-1", kNow);
    ASSERT_TRUE(snoozed.conversation);
    EXPECT_EQ(snoozed.conversation->status, "snoozed");
    EXPECT_EQ(snoozed.conversation->snoozed_until_ms, kNow + 60'000);
    ASSERT_EQ(snoozed.events.size(), 1u);
    EXPECT_EQ(snoozed.events[0].type, "conversation_status");
    snooze.snoozed_until_ms = kNow + 120'000;
    ASSERT_EQ(store_->update_conversation(second, snooze, "agent-1", kNow).events.size(), 1u);

    // The clock is the caller's: nothing is due a second early, the first one at its time.
    EXPECT_TRUE(store_->wake_snoozed(kNow + 59'999, 100).empty());
    auto woken = store_->wake_snoozed(kNow + 60'000, 100);
    ASSERT_EQ(woken.size(), 1u);
    EXPECT_EQ(woken[0].conversation_id, first);
    EXPECT_EQ(str(parse(woken[0].data_json)["changed_by"]), "snooze");
    EXPECT_EQ(store_->conversation(first)->status, "open");
    EXPECT_EQ(store_->conversation(first)->snoozed_until_ms, 0);
    EXPECT_TRUE(store_->wake_snoozed(kNow + 60'000, 100).empty()) << "woken once";

    // The customer writes before the second one's time: it reopens at once, and stays open.
    auto result = apply({message("200", "200:2", "any news?")}, kNow + 70'000);
    ASSERT_EQ(result.events.size(), 2u);
    EXPECT_EQ(str(parse(result.events[1].data_json)["changed_by"]), "customer");
    EXPECT_EQ(store_->conversation(second)->status, "open");
    EXPECT_TRUE(store_->wake_snoozed(kNow + 200'000, 100).empty());

    // A snooze needs a time in the future; a time needs the snooze.
    snooze.snoozed_until_ms = kNow;
    EXPECT_THROW(store_->update_conversation(first, snooze, "agent-1", kNow), std::invalid_argument);
    ConversationChange pending;
    pending.status = "pending";
    pending.snoozed_until_ms = kNow + 1'000;
    EXPECT_THROW(store_->update_conversation(first, pending, "agent-1", kNow), std::invalid_argument);
    pending.snoozed_until_ms = 0;
    auto waiting = store_->update_conversation(first, pending, "agent-1", kNow);
    EXPECT_EQ(waiting.conversation->status, "pending");
    EXPECT_EQ(waiting.events.size(), 1u);
    EXPECT_EQ(store_->conversation(first)->status, "pending");
    // A customer message reopens a pending conversation too.
    apply({message("100", "100:2", "here it is")}, kNow + 80'000);
    EXPECT_EQ(store_->conversation(first)->status, "open");
}

TEST_P(StoreContract, PriorityChangesAppendConversationUpdated) {
    apply({message("100", "100:1", "hello")});
    auto id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    ConversationChange urgent;
    urgent.priority = "urgent";
    auto out = store_->update_conversation(id, urgent, "agent-1", kNow);
    ASSERT_TRUE(out.conversation);
    EXPECT_EQ(out.conversation->priority, "urgent");
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(out.events[0].type, "conversation_updated");
    auto data = parse(out.events[0].data_json);
    EXPECT_EQ(str(data["changed_by"]), "agent-1");
    ASSERT_TRUE(data["fields"].IsArray());
    EXPECT_EQ(str(data["fields"][0]), "priority");
    EXPECT_EQ(str(data["conversation"]["priority"]), "urgent");
    EXPECT_TRUE(store_->update_conversation(id, urgent, "agent-1", kNow).events.empty()) << "unchanged";

    ConversationFilter f;
    f.priority = "urgent";
    EXPECT_EQ(store_->conversations(f, 10, "").items.size(), 1u);

    // Status and priority at once: one event each.
    ConversationChange both;
    both.status = "resolved";
    both.priority = "low";
    EXPECT_EQ(store_->update_conversation(id, both, "agent-1", kNow).events.size(), 2u);
    both.priority = "whenever";
    EXPECT_THROW(store_->update_conversation(id, both, "agent-1", kNow), std::invalid_argument);
    EXPECT_FALSE(store_->update_conversation(id + 1000, urgent, "agent-1", kNow).conversation);
}

TEST_P(StoreContract, LabelsAreDefinedOnceAndPutOnConversationsWithAnEvent) {
    ASSERT_TRUE(store_->create_label(Label{"Billing", "#ff8800", "money", 0}, kNow));
    ASSERT_TRUE(store_->create_label(Label{"vip", "#AA00ff", "", 0}, kNow));
    EXPECT_FALSE(store_->create_label(Label{"BILLING", "#000000", "", 0}, kNow)) << "names are case-blind";
    EXPECT_THROW(store_->create_label(Label{"no spaces", "#000000", "", 0}, kNow), std::invalid_argument);
    EXPECT_THROW(store_->create_label(Label{"", "#000000", "", 0}, kNow), std::invalid_argument);
    EXPECT_THROW(store_->create_label(Label{std::string(51, 'a'), "#000000", "", 0}, kNow),
                 std::invalid_argument);
    EXPECT_THROW(store_->create_label(Label{"red", "red", "", 0}, kNow), std::invalid_argument);
    auto all = store_->labels();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].name, "billing");
    EXPECT_EQ(all[0].description, "money");
    auto recolored = store_->update_label("billing", std::string("#00ff00"), std::nullopt);
    ASSERT_TRUE(recolored);
    EXPECT_EQ(recolored->color, "#00ff00");
    EXPECT_EQ(recolored->description, "money");
    EXPECT_FALSE(store_->update_label("nothing", std::string("#00ff00"), std::nullopt));

    apply({message("100", "100:1", "hello")});
    apply({message("200", "200:1", "hi")});
    auto id = store_->message_by_platform_id(kChannel, "100:1")->conversation_id;
    ASSERT_TRUE(store_->assign_conversation(id, "agent-7"));
    auto added = store_->label_conversation(id, "VIP", true, "agent-7", kNow);
    ASSERT_EQ(added.kind, LabelOutcome::Kind::done);
    EXPECT_EQ(added.conversation.labels, std::vector<std::string>{"vip"});
    ASSERT_TRUE(added.event);
    EXPECT_EQ(added.event->type, "conversation_updated");
    EXPECT_EQ(added.event->audience, "agent-7") << "whoever sees the conversation";
    EXPECT_EQ(str(parse(added.event->data_json)["fields"][0]), "labels");
    EXPECT_FALSE(store_->label_conversation(id, "vip", true, "agent-7", kNow).event) << "already there";
    ASSERT_EQ(store_->label_conversation(id, "billing", true, "agent-7", kNow).kind,
              LabelOutcome::Kind::done);
    EXPECT_EQ(store_->conversation(id)->labels, (std::vector<std::string>{"billing", "vip"}));
    EXPECT_EQ(store_->label_conversation(id, "unknown", true, "agent-7", kNow).kind,
              LabelOutcome::Kind::no_label);
    EXPECT_EQ(store_->label_conversation(id + 1000, "vip", true, "agent-7", kNow).kind,
              LabelOutcome::Kind::no_conversation);

    ConversationFilter vip;
    vip.label = "vip";
    ASSERT_EQ(store_->conversations(vip, 10, "").items.size(), 1u);
    vip.visible_to = "agent-8";
    EXPECT_TRUE(store_->conversations(vip, 10, "").items.empty()) << "not agent-8's to see";
    EXPECT_EQ(store_->conversation_counts(vip).all.open, 0);

    auto removed = store_->label_conversation(id, "vip", false, "agent-7", kNow);
    EXPECT_TRUE(removed.event);
    EXPECT_EQ(removed.conversation.labels, std::vector<std::string>{"billing"});
    EXPECT_TRUE(store_->delete_label("billing"));
    EXPECT_FALSE(store_->delete_label("billing"));
    EXPECT_TRUE(store_->conversation(id)->labels.empty()) << "deleting a label takes it off conversations";
}

TEST_P(StoreContract, ANoteIsStoredForTheTeamNeverUnreadNorThePreviewAndTellsWhomItMentions) {
    auto grace = store_->create_agent("Grace Hopper", "agent", kNow);
    auto linus = store_->create_agent("Linus", "agent", kNow);
    auto boss = store_->create_agent("Boss", "admin", kNow);
    apply({message("100", "100:1", "hello")});
    auto in = *store_->message_by_platform_id(kChannel, "100:1");
    const auto id = in.conversation_id;
    ASSERT_TRUE(store_->assign_conversation(id, grace.id));

    NewNote note;
    note.conversation_id = id;
    note.author_id = grace.id;
    note.author_name = grace.name;
    note.text = "  refund approved, @Boss and @linus please check  ";
    note.mentions = {linus, boss};  // linus may not see it: it is Grace's
    auto out = store_->add_note(note, kNow + 5);
    ASSERT_TRUE(out.found);
    EXPECT_GT(out.note.id, in.id);
    EXPECT_EQ(out.note.kind, "note");
    EXPECT_EQ(out.note.sender_id, grace.id);
    EXPECT_EQ(out.note.sender_name, "Grace Hopper");
    auto content = parse(out.note.content_json);
    EXPECT_STREQ(content["text"].GetString(), "refund approved, @Boss and @linus please check") << "trimmed";
    ASSERT_EQ(content["mentions"].Size(), 1u);
    EXPECT_EQ(str(content["mentions"][0]), boss.id) << "only those told are listed";

    ASSERT_EQ(out.events.size(), 2u);
    EXPECT_EQ(out.events[0].type, "note_added");
    EXPECT_EQ(out.events[0].audience, grace.id) << "whoever sees the conversation";
    EXPECT_EQ(str(parse(out.events[0].data_json)["message"]["id"]), std::to_string(out.note.id));
    EXPECT_STREQ(parse(out.events[0].data_json)["message"]["kind"].GetString(), "note");
    EXPECT_EQ(out.events[1].type, "agent_mentioned");
    EXPECT_EQ(out.events[1].audience, boss.id) << "for the mentioned agent alone";
    auto mention = parse(out.events[1].data_json);
    EXPECT_EQ(str(mention["agent_id"]), boss.id);
    EXPECT_EQ(str(mention["message"]["id"]), std::to_string(out.note.id));
    EXPECT_EQ(str(mention["conversation"]["id"]), std::to_string(id));
    EXPECT_EQ(store_->events_after(out.events[0].seq - 1, 10).size(), 2u) << "both are in the durable log";

    // The note is history, but neither the preview nor unread for anyone.
    auto page = store_->messages(id, 10, 0);
    ASSERT_EQ(page.items.size(), 2u);
    EXPECT_EQ(page.items[0].kind == "note" ? page.items[0].id : page.items[1].id, out.note.id);
    ConversationFilter f;
    f.reader = boss.id;
    auto item = store_->conversations(f, 10, "").items.at(0);
    EXPECT_EQ(item.last_message->id, in.id);
    EXPECT_EQ(item.read->unread_count, 1);
    EXPECT_EQ(store_->mark_read(id, boss.id, 0, kNow).conversation.read->unread_count, 0);

    note.mentions.clear();
    note.text = "a second note";
    auto second = store_->add_note(note, kNow + 6);
    ASSERT_TRUE(second.found) << "notes have no platform id to collide on";
    EXPECT_GT(second.note.id, out.note.id);

    // Bad text is refused and stores nothing; an unknown conversation is not found.
    note.mentions.clear();
    note.text = " \n ";
    EXPECT_THROW(store_->add_note(note, kNow), std::invalid_argument);
    note.text = std::string(10'001, 'x');
    EXPECT_THROW(store_->add_note(note, kNow), std::invalid_argument);
    EXPECT_EQ(store_->messages(id, 10, 0).items.size(), 3u);
    note.text = "fine";
    note.conversation_id = id + 1000;
    EXPECT_FALSE(store_->add_note(note, kNow).found);
}

// --- schema and durability ---

namespace {

std::vector<std::string> shortcodes(const std::vector<CannedReply>& replies) {
    std::vector<std::string> out;
    for (const auto& r : replies)
        out.push_back(r.shortcode + (r.scope == "personal" ? "@" + r.owner_id : ""));
    return out;
}

CannedReply canned(std::string shortcode, std::string text, std::string owner = "") {
    return CannedReply{
        0, std::move(shortcode), std::move(text), owner.empty() ? "shared" : "personal", std::move(owner), 0,
        0};
}

}  // namespace

TEST_P(StoreContract, CannedRepliesAreListedByPrefixWithTheCallersPersonalOnesOnly) {
    auto greet = store_->create_canned_reply(canned("Greet", "Hello {{contact.name}}!"), kNow);
    ASSERT_TRUE(greet);
    EXPECT_GT(greet->id, 0);
    EXPECT_EQ(greet->shortcode, "greet") << "lower-cased";
    EXPECT_EQ(greet->created_ms, kNow);
    EXPECT_EQ(greet->updated_ms, kNow);
    ASSERT_TRUE(store_->create_canned_reply(canned("bye", "Goodbye"), kNow));
    ASSERT_TRUE(store_->create_canned_reply(canned("gr_thanks", "Thanks"), kNow));
    ASSERT_TRUE(store_->create_canned_reply(canned("greet", "Hey there", "agt_alice"), kNow))
        << "a personal shortcode may shadow a shared one";
    ASSERT_TRUE(store_->create_canned_reply(canned("grr", "Mine", "agt_bob"), kNow));

    EXPECT_EQ(shortcodes(store_->canned_replies("agt_alice", "")),
              (std::vector<std::string>{"bye", "gr_thanks", "greet@agt_alice", "greet"}))
        << "by shortcode, the personal one first, nobody else's";
    EXPECT_EQ(shortcodes(store_->canned_replies("agt_bob", "GR")),
              (std::vector<std::string>{"gr_thanks", "greet", "grr@agt_bob"}));
    EXPECT_EQ(shortcodes(store_->canned_replies("agt_bob", "gr_")), std::vector<std::string>{"gr_thanks"})
        << "_ is a character, not a wildcard";
    EXPECT_EQ(shortcodes(store_->canned_replies("", "g")), (std::vector<std::string>{"gr_thanks", "greet"}))
        << "no owner: the shared ones";
    EXPECT_TRUE(store_->canned_replies("agt_alice", "x").empty());
    EXPECT_THROW(store_->canned_replies("agt_alice", "g r"), std::invalid_argument);

    auto got = store_->canned_reply(greet->id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->text, "Hello {{contact.name}}!");
    EXPECT_EQ(got->scope, "shared");
    EXPECT_EQ(got->owner_id, "");
    EXPECT_FALSE(store_->canned_reply(greet->id + 1000));
}

TEST_P(StoreContract, ACannedShortcodeIsUniquePerScopeAndOwnerAndTheRulesAreEnforced) {
    ASSERT_TRUE(store_->create_canned_reply(canned("greet", "Hello"), kNow));
    EXPECT_FALSE(store_->create_canned_reply(canned("GREET", "Again"), kNow)) << "the same shared shortcode";
    ASSERT_TRUE(store_->create_canned_reply(canned("greet", "Mine", "agt_alice"), kNow));
    EXPECT_FALSE(store_->create_canned_reply(canned("greet", "Twice", "agt_alice"), kNow));
    EXPECT_TRUE(store_->create_canned_reply(canned("greet", "Bob's", "agt_bob"), kNow));
    EXPECT_THROW(store_->create_canned_reply(canned("two words", "x"), kNow), std::invalid_argument);
    EXPECT_THROW(store_->create_canned_reply(canned(std::string(33, 'a'), "x"), kNow), std::invalid_argument);
    EXPECT_THROW(store_->create_canned_reply(canned("long", std::string(4001, 'x')), kNow),
                 std::invalid_argument);
    EXPECT_THROW(store_->create_canned_reply(CannedReply{0, "x", "x", "shared", "agt_alice", 0, 0}, kNow),
                 std::invalid_argument);
    EXPECT_EQ(store_->canned_replies("agt_alice", "").size(), 2u);
}

TEST_P(StoreContract, ACannedReplyIsUpdatedInWhatIsGivenAndDeleted) {
    auto greet = store_->create_canned_reply(canned("greet", "Hello"), kNow);
    auto bye = store_->create_canned_reply(canned("bye", "Goodbye"), kNow);
    auto mine = store_->create_canned_reply(canned("hi", "Hi", "agt_alice"), kNow);
    ASSERT_TRUE(greet && bye && mine);

    auto text = store_->update_canned_reply(greet->id, CannedChange{std::nullopt, "Hello {{contact.name}}"},
                                            kNow + 5);
    ASSERT_EQ(text.kind, CannedOutcome::Kind::done);
    EXPECT_EQ(text.reply.shortcode, "greet");
    EXPECT_EQ(text.reply.text, "Hello {{contact.name}}");
    EXPECT_EQ(text.reply.created_ms, kNow);
    EXPECT_EQ(text.reply.updated_ms, kNow + 5);
    EXPECT_EQ(store_->canned_reply(greet->id)->updated_ms, kNow + 5);

    auto renamed = store_->update_canned_reply(greet->id, CannedChange{"Welcome", std::nullopt}, kNow + 6);
    ASSERT_EQ(renamed.kind, CannedOutcome::Kind::done);
    EXPECT_EQ(store_->canned_reply(greet->id)->shortcode, "welcome");
    EXPECT_EQ(store_->canned_reply(greet->id)->text, "Hello {{contact.name}}");

    EXPECT_EQ(store_->update_canned_reply(greet->id, CannedChange{"bye", std::nullopt}, kNow).kind,
              CannedOutcome::Kind::conflict);
    EXPECT_EQ(store_->canned_reply(greet->id)->shortcode, "welcome") << "a conflict changes nothing";
    EXPECT_EQ(store_->update_canned_reply(mine->id, CannedChange{"bye", std::nullopt}, kNow).kind,
              CannedOutcome::Kind::done)
        << "a personal reply may take a shared one's shortcode";
    EXPECT_EQ(store_->update_canned_reply(bye->id, CannedChange{"bye", "Bye!"}, kNow).kind,
              CannedOutcome::Kind::done)
        << "its own shortcode is no conflict";
    EXPECT_EQ(store_->update_canned_reply(bye->id + 1000, CannedChange{std::nullopt, "x"}, kNow).kind,
              CannedOutcome::Kind::not_found);
    EXPECT_THROW(store_->update_canned_reply(bye->id, CannedChange{"no good", std::nullopt}, kNow),
                 std::invalid_argument);
    EXPECT_THROW(store_->update_canned_reply(bye->id, CannedChange{std::nullopt, ""}, kNow),
                 std::invalid_argument);
    EXPECT_EQ(store_->canned_reply(bye->id)->text, "Bye!");

    EXPECT_TRUE(store_->delete_canned_reply(bye->id));
    EXPECT_FALSE(store_->delete_canned_reply(bye->id));
    EXPECT_FALSE(store_->canned_reply(bye->id));
    EXPECT_EQ(shortcodes(store_->canned_replies("agt_alice", "")),
              (std::vector<std::string>{"bye@agt_alice", "welcome"}));
}

TEST_P(StoreContract, AVersion9DatabaseIsUpgradedKeepingItsDataAndTakesCannedReplies) {
    const fs::path old_dir = dir_.path() / (dir_.path().filename().string() + "_v9");
    fs::create_directories(old_dir);
    GetParam().open(old_dir).reset();
    GetParam().create_at_version(
        old_dir, 9,
        "INSERT INTO contacts (id, channel_id, platform_id, name, created_ms) VALUES (1, 'tg-support', "
        "'100', "
        "'Ada', 1);"
        "INSERT INTO conversations (id, channel_id, platform_id, contact_id, created_ms, last_activity_ms) "
        "VALUES (1, 'tg-support', '100', 1, 1, 2);"
        "INSERT INTO labels (name, color, created_ms) VALUES ('vip', '#aa00ff', 1);"
        "INSERT INTO conversation_labels (conversation_id, label) VALUES (1, 'vip');"
        "INSERT INTO messages (conversation_id, channel_id, platform_id, direction, sender_id, content_json, "
        "status, created_ms) VALUES (1, 'tg-support', '100:1', 'in', '100', "
        "'{\"type\":\"text\",\"text\":\"hello\"}', 'received', 2);");
    {
        auto store = GetParam().open(old_dir);
        ASSERT_NO_THROW(store->migrate());
        auto c = store->conversation(1);
        ASSERT_TRUE(c);
        EXPECT_EQ(c->contact_name, "Ada");
        EXPECT_EQ(c->labels, std::vector<std::string>{"vip"});
        EXPECT_EQ(store->messages(1, 10, 0).items.size(), 1u);
        EXPECT_TRUE(store->canned_replies("agt_old", "").empty());
        ASSERT_TRUE(store->create_canned_reply(canned("greet", "Hello {{contact.name}}"), 3));
        EXPECT_EQ(shortcodes(store->canned_replies("agt_old", "gr")), std::vector<std::string>{"greet"});
    }
    GetParam().remove(old_dir);
}

// --- search (issue 15) ---

// What a search request finds, as each hit's message text / conversation platform id / contact
// platform id.
std::vector<std::string> found(Store& store, const std::string& q, const std::string& type = "messages",
                               const std::string& visible_to = "") {
    SearchRequest request;
    request.type = type;
    request.terms = sb::domain::search_terms(q);
    request.visible_to = visible_to;
    request.limit = 100;
    std::vector<std::string> out;
    for (const auto& hit : store.search(request).items) {
        if (hit.message)
            out.push_back(sb::domain::message_text(hit.message->content_json));
        else if (hit.contact)
            out.push_back(hit.contact->identities.empty() ? "?"
                                                          : hit.contact->identities.front().platform_id);
        else if (hit.conversation)
            out.push_back(hit.conversation->platform_id);
    }
    return out;
}

TEST_P(StoreContract, SearchFindsWordsByTheirBeginningWhateverTheirCaseDiacriticsOrScript) {
    const std::vector<std::string> corpus{
        "Caf\u00e9 au lait, s'il vous pla\u00eet",  // Latin with diacritics
        "\u041f\u0420\u0418\u0412\u0415\u0422, \u043a\u0430\u043a \u0434\u0435\u043b\u0430?",  // ПРИВЕТ, как
                                                                                               // дела?
        "\u0645\u064e\u0631\u0652\u062d\u064e\u0628\u064b\u0627 \u0628\u0643\u0645",  // مَرْحَبًا بكم
        "\u6211\u7684\u8ba2\u5355\u6ca1\u6709\u5230",                                 // 我的订单没有到
        "my order B-1042 has not arrived",
        "\uff2f\uff32\uff24\uff25\uff32 twice",  // ＯＲＤＥＲ in full-width letters
    };
    for (std::size_t i = 0; i < corpus.size(); ++i)
        apply({message("10" + std::to_string(i), "m" + std::to_string(i), corpus[i])},
              kNow + static_cast<int>(i));
    using V = std::vector<std::string>;
    EXPECT_EQ(found(*store_, "cafe"), V{corpus[0]});
    EXPECT_EQ(found(*store_, "CAF\u00c9"), V{corpus[0]});
    EXPECT_EQ(found(*store_, "plait"), V{corpus[0]}) << "\u00ee is i";
    EXPECT_EQ(found(*store_, "\u043f\u0440\u0438\u0432\u0435\u0442"), V{corpus[1]}) << "привет, lower case";
    EXPECT_EQ(found(*store_, "\u0434\u0435\u043b"), V{corpus[1]}) << "дел, a prefix";
    EXPECT_EQ(found(*store_, "\u0645\u0631\u062d\u0628\u0627"), V{corpus[2]}) << "مرحبا, without its harakat";
    EXPECT_EQ(found(*store_, "\u8ba2\u5355"), V{corpus[3]}) << "订单 inside a run of Han characters";
    EXPECT_EQ(found(*store_, "\u5230"), V{corpus[3]});
    EXPECT_EQ(found(*store_, "ord"), (V{corpus[5], corpus[4]})) << "a prefix; full-width letters fold";
    EXPECT_EQ(found(*store_, "B-1042"), V{corpus[4]});
    EXPECT_EQ(found(*store_, "1042 arrived"), V{corpus[4]}) << "every word must be there";
    EXPECT_TRUE(found(*store_, "1042 departed").empty());
    EXPECT_TRUE(found(*store_, "lait caf\u00e9 xyz").empty());
}

TEST_P(StoreContract, SearchFindsPhoneNumbersWithOrWithoutPlusSpacesAndDashes) {
    auto ev = message("200", "200:1", "call me back at +49 (151) 1234-5678 please");
    ev.sender.phone = "+4915112345678";
    ev.sender.name = "Grace Hopper";
    apply({ev});
    auto other = message("201", "201:1", "my number is 030 1234567");
    other.sender.name = "Linus";
    apply({other});
    using V = std::vector<std::string>;
    for (const std::string q : {"4915112345678", "+49 151 12345678", "+49-151-1234", "49151"})
        EXPECT_EQ(found(*store_, q, "contacts"), V{"200"}) << q;
    EXPECT_EQ(found(*store_, "+49 151 1234", "messages"), V{"call me back at +49 (151) 1234-5678 please"});
    EXPECT_EQ(found(*store_, "491511234", "messages"), V{"call me back at +49 (151) 1234-5678 please"});
    EXPECT_EQ(found(*store_, "0301234567", "messages"), V{"my number is 030 1234567"});
    EXPECT_EQ(found(*store_, "grace", "contacts"), V{"200"});
    EXPECT_EQ(found(*store_, "hopp", "conversations"), V{"200"}) << "a conversation by its contact";
}

TEST_P(StoreContract, SearchShowsOnlyWhatTheSearcherMaySee) {
    auto grace = store_->create_agent("Grace", "agent", kNow);
    auto linus = store_->create_agent("Linus", "agent", kNow);
    for (const std::string id : {"300", "301", "302"}) {
        auto ev = message(id, id + ":1", "about my refund");
        ev.sender.name = "Refund Customer " + id;
        apply({ev});
    }
    auto conversation_of = [&](const std::string& platform_id) {
        return store_->message_by_platform_id(kChannel, platform_id + ":1")->conversation_id;
    };
    ASSERT_TRUE(store_->assign_conversation(conversation_of("300"), grace.id));
    ASSERT_TRUE(store_->assign_conversation(conversation_of("301"), linus.id));
    NewNote note;
    note.conversation_id = conversation_of("301");
    note.author_id = linus.id;
    note.author_name = linus.name;
    note.text = "refund approved secretly";
    ASSERT_TRUE(store_->add_note(note, kNow + 1).found);

    auto conversations_found = [&](const std::string& type, const std::string& visible_to) {
        SearchRequest request;
        request.type = type;
        request.terms = sb::domain::search_terms("refund");
        request.visible_to = visible_to;
        std::set<std::string> out;
        for (const auto& hit : store_->search(request).items) {
            if (hit.conversation) out.insert(hit.conversation->platform_id);
            if (hit.contact)
                for (auto id : hit.contact->conversation_ids)
                    out.insert(store_->conversation(id)->platform_id);
        }
        return out;
    };
    using S = std::set<std::string>;
    for (const std::string type : {"messages", "conversations", "contacts"}) {
        EXPECT_EQ(conversations_found(type, grace.id), (S{"300", "302"}))
            << type << ": its own and unassigned";
        EXPECT_EQ(conversations_found(type, linus.id), (S{"301", "302"})) << type;
        EXPECT_EQ(conversations_found(type, ""), (S{"300", "301", "302"})) << type << ": an admin sees all";
    }
    EXPECT_TRUE(found(*store_, "secretly", "messages", grace.id).empty()) << "a colleague's note";
    EXPECT_EQ(found(*store_, "secretly", "messages", linus.id),
              std::vector<std::string>{"refund approved secretly"});
}

TEST_P(StoreContract, SearchRanksByRelevanceThenRecencyAndPaginates) {
    // Words that are not searched for, so that "refund" is a rare word in the corpus.
    for (int i = 0; i < 6; ++i)
        apply({message("40" + std::to_string(i), "filler" + std::to_string(i), "hello there friend")},
              kNow + i);
    apply({message("410", "a", "refund")}, kNow + 10);
    apply({message("411", "b", "refund refund")}, kNow + 11);
    apply({message("412", "c", "refund")}, kNow + 12);
    SearchRequest request;
    request.terms = sb::domain::search_terms("refund");
    request.limit = 2;
    auto first = store_->search(request);
    ASSERT_EQ(first.items.size(), 2u);
    EXPECT_EQ(first.items[0].message->platform_id, "b") << "the word twice ranks first";
    EXPECT_EQ(first.items[1].message->platform_id, "c") << "a tie goes to the newer";
    ASSERT_FALSE(first.next_cursor.empty());
    request.cursor = first.next_cursor;
    auto second = store_->search(request);
    ASSERT_EQ(second.items.size(), 1u);
    EXPECT_EQ(second.items[0].message->platform_id, "a");
    EXPECT_TRUE(second.next_cursor.empty());
    ASSERT_TRUE(second.items[0].conversation);
    EXPECT_EQ(second.items[0].conversation->platform_id, "410") << "each hit carries its conversation";

    request.cursor = "12_3";
    EXPECT_THROW(store_->search(request), std::invalid_argument);
    request.cursor = "";
    request.type = "everything";
    EXPECT_THROW(store_->search(request), std::invalid_argument);
}

TEST_P(StoreContract, AnEditedMessageIsFoundByItsNewTextOnly) {
    apply({message("500", "500:1", "the parcel is lost")});
    NormalizedEvent edit;
    edit.type = EventType::edit;
    edit.conversation_id = "500";
    edit.sender.id = "500";
    edit.message_id = "500:1";
    edit.content_json = text_content("the parcel arrived");
    edit.edited_at_ms = kNow + 1000;
    apply({edit});
    EXPECT_TRUE(found(*store_, "lost").empty());
    EXPECT_EQ(found(*store_, "arrived"), std::vector<std::string>{"the parcel arrived"});
    // A reply an agent sent is found too.
    send(store_->message_by_platform_id(kChannel, "500:1")->conversation_id, "we will reship it", "out-1");
    EXPECT_EQ(found(*store_, "reship"), std::vector<std::string>{"we will reship it"});
}

// The list with q= collects the matching conversations for a rare query and walks the list for
// a common one (store.hpp Tuning): both plans give the same pages, in the list's order.
TEST_P(StoreContract, TheListTakesASearchAndKeepsItsOrder) {
    auto ev = message("610", "610:1", "hello");
    ev.sender.name = "Orderly Hamilton";
    apply({ev}, kNow);
    apply({message("611", "611:1", "where is order B-1042?")}, kNow + 1);
    apply({message("612", "612:1", "nothing but boxes")}, kNow + 2);
    apply({message("613", "613:1", "my orders again, ORDERED twice")}, kNow + 3);
    apply({message("614", "614:1", "\u4f60\u597d\u4e16\u754c b")}, kNow + 4);
    apply({message("611", "611:2", "still nothing")}, kNow + 5);  // 611 is the newest now
    auto walking = GetParam().open_tuned(dir_.path(), Tuning{1});
    auto list = [&](Store& store, const std::string& q, int limit, const std::string& assignee = "") {
        ConversationFilter f;
        f.search = sb::domain::search_terms(q);
        f.assignee = assignee;
        std::vector<std::string> out;
        std::string cursor;
        do {
            auto page = store.conversations(f, limit, cursor);
            for (const auto& c : page.items) out.push_back(c.platform_id);
            cursor = page.next_cursor;
        } while (!cursor.empty());
        return out;
    };
    using V = std::vector<std::string>;
    const std::vector<std::pair<std::string, V>> cases{
        {"order", V{"611", "613", "610"}},  // by messages (order, orders, ordered) and by the contact
        {"ord", V{"611", "613", "610"}},    // a prefix the prefix indexes serve
        {"ordered", V{"613"}},
        {"hamilton", V{"610"}},
        {"order again", V{"613"}},
        {"b 1042", V{"611"}},
        {"b", V{"611", "614"}},  // one character: the word itself ("B-1042"), not every b-word
        {"\u4e16", V{"614"}},
        {"orderz", V{}},
    };
    for (const auto& [q, expected] : cases) {
        EXPECT_EQ(list(*store_, q, 100), expected) << q << ", collected";
        EXPECT_EQ(list(*walking, q, 100), expected) << q << ", walked";
        EXPECT_EQ(list(*walking, q, 1), expected) << q << ", walked a page of one at a time";
        EXPECT_EQ(list(*store_, q, 1), expected) << q << ", collected a page of one at a time";
    }
    for (Store* store : {store_.get(), walking.get()}) {
        EXPECT_EQ(list(*store, "order", 100, "unassigned"), (V{"611", "613", "610"}));
        EXPECT_TRUE(list(*store, "order", 100, "agent-9").empty());
    }
    walking.reset();
}

TEST_P(StoreContract, AVersion12DatabaseIsIndexedByItsUpgrade) {
    const fs::path old_dir = dir_.path() / (dir_.path().filename().string() + "_v12");
    fs::create_directories(old_dir);
    GetParam().open(old_dir).reset();
    GetParam().create_at_version(
        old_dir, 12,
        "INSERT INTO contacts (id, channel_id, platform_id, name, phone, created_ms) VALUES (1, "
        "'tg-support', "
        "'100', 'Zo\u00eb Quinn', '+1 555 010 9999', 1);"
        "INSERT INTO conversations (id, channel_id, platform_id, title, contact_id, created_ms, "
        "last_activity_ms) "
        "VALUES (1, 'tg-support', '100', 'Billing', 1, 1, 2);"
        "INSERT INTO messages (conversation_id, channel_id, platform_id, direction, sender_id, content_json, "
        "status, created_ms) VALUES (1, 'tg-support', '100:1', 'in', '100', "
        "'{\"type\":\"image\",\"caption\":\"Receipt for the na\u00efve question\"}', 'received', 2);");
    {
        auto store = GetParam().open(old_dir);
        ASSERT_NO_THROW(store->migrate());
        using V = std::vector<std::string>;
        EXPECT_EQ(found(*store, "naive"), V{"Receipt for the na\u00efve question"}) << "a caption";
        EXPECT_EQ(found(*store, "zoe", "contacts"), V{"100"});
        EXPECT_EQ(found(*store, "15550109999", "contacts"), V{"100"});
        EXPECT_EQ(found(*store, "billing", "conversations"), V{"100"});
        EXPECT_EQ(found(*store, "quinn", "conversations"), V{"100"});
    }
    GetParam().remove(old_dir);
}

// --- contacts (issue 15) ---

TEST_P(StoreContract, EachNewIdentityIsAContactOfItsOwnThatConversationsName) {
    auto ev = message("700", "700:1", "hello");
    ev.sender.phone = "+44 20 7946 0958";
    apply({ev});
    const auto conversation =
        *store_->conversation(store_->message_by_platform_id(kChannel, "700:1")->conversation_id);
    ASSERT_NE(conversation.contact_id, 0);
    EXPECT_EQ(conversation.contact_display_name, "Ada Lovelace");
    auto contact = store_->contact(conversation.contact_id, "");
    ASSERT_TRUE(contact);
    EXPECT_EQ(contact->display_name, "Ada Lovelace");
    EXPECT_EQ(contact->name, "") << "nobody set it: the identity's name shows";
    ASSERT_EQ(contact->identities.size(), 1u);
    EXPECT_EQ(contact->identities[0].platform_id, "700");
    EXPECT_EQ(contact->identities[0].channel_id, kChannel);
    EXPECT_EQ(contact->conversation_ids, std::vector<std::int64_t>{conversation.id});
    apply({message("700", "700:2", "again")});
    EXPECT_EQ(store_->conversation(conversation.id)->contact_id, conversation.contact_id)
        << "the same contact";
    EXPECT_EQ(store_->contacts("", 10, "").items.size(), 1u);
    EXPECT_FALSE(store_->contact(conversation.contact_id + 1000, ""));
}

TEST_P(StoreContract, AContactIsChangedWithItsAttributesCheckedAndOneEventForWhoeverSeesIt) {
    auto grace = store_->create_agent("Grace", "agent", kNow);
    auto linus = store_->create_agent("Linus", "agent", kNow);
    apply({message("710", "710:1", "hello")});
    const auto conversation_id = store_->message_by_platform_id(kChannel, "710:1")->conversation_id;
    ASSERT_TRUE(store_->assign_conversation(conversation_id, grace.id));
    const auto id = store_->conversation(conversation_id)->contact_id;
    ASSERT_TRUE(store_->define_contact_attribute({"plan", "string", "Plan", 0}, kNow));
    ASSERT_TRUE(store_->define_contact_attribute({"seats", "number", "Seats", 0}, kNow));
    ASSERT_TRUE(store_->define_contact_attribute({"renews", "date", "Renews on", 0}, kNow));
    EXPECT_FALSE(store_->define_contact_attribute({"PLAN", "string", "", 0}, kNow)) << "keys are lower-cased";
    EXPECT_THROW(store_->define_contact_attribute({"x", "colour", "", 0}, kNow), std::invalid_argument);

    ContactChange change;
    change.name = "Ada King";
    change.email = "ada@example.com";
    change.company = "Analytical Engines Ltd";
    change.attributes_json = R"({"plan":"gold","seats":12,"renews":"2027-01-31"})";
    auto out = store_->update_contact(id, change, "", "admin", kNow + 1);
    ASSERT_TRUE(out.contact);
    EXPECT_EQ(out.contact->display_name, "Ada King");
    auto attributes = parse(out.contact->attributes_json);
    EXPECT_EQ(str(attributes["plan"]), "gold");
    EXPECT_EQ(attributes["seats"].GetInt(), 12);
    ASSERT_TRUE(out.event);
    EXPECT_EQ(out.event->type, "contact_updated");
    EXPECT_EQ(out.event->audience, grace.id) << "the assignee of its one conversation";
    EXPECT_EQ(str(parse(out.event->data_json)["contact"]["display_name"]), "Ada King");
    EXPECT_EQ(store_->conversation(conversation_id)->contact_display_name, "Ada King");
    EXPECT_FALSE(store_->update_contact(id, change, "", "admin", kNow + 2).event) << "nothing changed";

    ContactChange bad;
    bad.attributes_json = R"({"vip":true})";
    EXPECT_THROW(store_->update_contact(id, bad, "", "admin", kNow), std::invalid_argument) << "not defined";
    bad.attributes_json = R"({"seats":"twelve"})";
    EXPECT_THROW(store_->update_contact(id, bad, "", "admin", kNow), std::invalid_argument) << "a number";
    bad.attributes_json = R"({"renews":"soon"})";
    EXPECT_THROW(store_->update_contact(id, bad, "", "admin", kNow), std::invalid_argument) << "a date";
    ContactChange remove;
    remove.attributes_json = R"({"plan":null})";
    auto removed = store_->update_contact(id, remove, "", "admin", kNow + 3);
    EXPECT_FALSE(parse(removed.contact->attributes_json).HasMember("plan"));

    EXPECT_FALSE(store_->update_contact(id, change, linus.id, linus.id, kNow).contact)
        << "linus sees none of its conversations";
    EXPECT_FALSE(store_->contact(id, linus.id));
    EXPECT_TRUE(store_->contact(id, grace.id));
    EXPECT_TRUE(store_->contacts(linus.id, 10, "").items.empty());
    EXPECT_EQ(found(*store_, "analytical", "contacts"), std::vector<std::string>{"710"});
    EXPECT_EQ(found(*store_, "ada@example.com", "contacts"), std::vector<std::string>{"710"});
}

TEST_P(StoreContract, ContactsSharingAPhoneAreSuggestedMergedAndUnmergedAsTheyWere) {
    auto on_telegram = message("720", "720:1", "hi from telegram");
    on_telegram.sender.phone = "+49 151 12345678";
    apply({on_telegram});
    std::vector<InboundRequest> requests{request("wa")};
    auto ids = store_->enqueue(requests);
    auto on_whatsapp = message("4915112345678", "wamid.1", "hi from whatsapp");
    on_whatsapp.sender.name = "Augusta Whatsapp";
    on_whatsapp.sender.phone = "4915112345678";
    std::vector<ParsedRow> rows{{ids[0], "wa-main", {on_whatsapp}}};
    store_->apply(rows, kNow + 1);
    apply({message("721", "721:1", "someone else")});

    const auto tg = *store_->conversation(store_->message_by_platform_id(kChannel, "720:1")->conversation_id);
    const auto wa =
        *store_->conversation(store_->message_by_platform_id("wa-main", "wamid.1")->conversation_id);
    auto suggestions = store_->merge_suggestions(10);
    ASSERT_EQ(suggestions.size(), 1u);
    EXPECT_EQ(std::set<std::int64_t>({suggestions[0].contact_id, suggestions[0].other_id}),
              std::set<std::int64_t>({tg.contact_id, wa.contact_id}));
    EXPECT_EQ(suggestions[0].phone, "4915112345678");

    auto merged = store_->merge_contacts(tg.contact_id, wa.contact_id, "admin", kNow + 2);
    ASSERT_EQ(merged.kind, MergeOutcome::Kind::done) << merged.reason;
    EXPECT_EQ(merged.contact.id, tg.contact_id);
    EXPECT_EQ(merged.contact.identities.size(), 2u);
    EXPECT_EQ(merged.contact.conversation_ids, (std::vector<std::int64_t>{wa.id, tg.id})) << "newest first";
    ASSERT_EQ(merged.events.size(), 1u);
    EXPECT_EQ(str(parse(merged.events[0].data_json)["merged_from"]), std::to_string(wa.contact_id));
    ASSERT_EQ(merged.contact.merged.size(), 1u);
    EXPECT_EQ(merged.contact.merged[0].id, wa.contact_id);
    EXPECT_EQ(merged.contact.merged[0].display_name, "Augusta Whatsapp") << "its own identity's name";
    EXPECT_EQ(store_->contact(wa.contact_id, "")->id, tg.contact_id)
        << "the merged one answers as the kept one";
    EXPECT_EQ(store_->conversation(wa.id)->contact_id, tg.contact_id);
    EXPECT_EQ(store_->contacts("", 10, "").items.size(), 2u) << "the merged one is not listed";
    EXPECT_TRUE(store_->merge_suggestions(10).empty()) << "one contact now";
    EXPECT_EQ(found(*store_, "augusta", "contacts"), std::vector<std::string>{"720"})
        << "found by the merged identity's name, as the kept contact";

    EXPECT_EQ(store_->merge_contacts(tg.contact_id, tg.contact_id, "admin", kNow).kind,
              MergeOutcome::Kind::conflict);
    EXPECT_EQ(store_->merge_contacts(wa.contact_id, tg.contact_id, "admin", kNow).kind,
              MergeOutcome::Kind::conflict)
        << "merged already";
    EXPECT_EQ(store_->merge_contacts(tg.contact_id, 99999, "admin", kNow).kind,
              MergeOutcome::Kind::not_found);
    EXPECT_EQ(store_->unmerge_contact(tg.contact_id, "admin", kNow).kind, MergeOutcome::Kind::conflict);

    auto unmerged = store_->unmerge_contact(wa.contact_id, "admin", kNow + 3);
    ASSERT_EQ(unmerged.kind, MergeOutcome::Kind::done) << unmerged.reason;
    EXPECT_EQ(unmerged.events.size(), 2u);
    auto kept = store_->contact(tg.contact_id, "");
    auto back = store_->contact(wa.contact_id, "");
    ASSERT_TRUE(kept && back);
    EXPECT_EQ(back->id, wa.contact_id);
    ASSERT_EQ(kept->identities.size(), 1u);
    EXPECT_EQ(kept->identities[0].platform_id, "720");
    EXPECT_TRUE(kept->merged.empty()) << "nothing is merged into it any more";
    ASSERT_EQ(back->identities.size(), 1u);
    EXPECT_EQ(back->identities[0].platform_id, "4915112345678");
    EXPECT_EQ(store_->conversation(wa.id)->contact_id, wa.contact_id);
    EXPECT_EQ(store_->contacts("", 10, "").items.size(), 3u);
}

TEST_P(StoreContract, AVersion13DatabaseGivesEachIdentityAContactOfItsOwn) {
    const fs::path old_dir = dir_.path() / (dir_.path().filename().string() + "_v13");
    fs::create_directories(old_dir);
    GetParam().open(old_dir).reset();
    GetParam().create_at_version(
        old_dir, 13,
        "INSERT INTO contacts (id, channel_id, platform_id, name, phone, created_ms, search_text) VALUES "
        "(5, 'tg-support', '100', 'Zoe', '+1 555 010 9999', 1, 'zoe 1 555 010 9999 15550109999'), "
        "(6, 'wa-main', '15550109999', 'Zoe Q', '15550109999', 1, 'zoe q 15550109999');"
        // Without ids: PostgreSQL's sequence then hands out the next one after the upgrade.
        "INSERT INTO conversations (channel_id, platform_id, contact_id, created_ms, last_activity_ms) "
        "VALUES ('tg-support', '100', 5, 1, 2);"
        "INSERT INTO conversations (channel_id, platform_id, contact_id, created_ms, last_activity_ms) "
        "VALUES ('wa-main', '15550109999', 6, 1, 3);");
    {
        auto store = GetParam().open(old_dir);
        ASSERT_NO_THROW(store->migrate());
        EXPECT_EQ(store->conversation(1)->contact_id, 5);
        EXPECT_EQ(store->conversation(2)->contact_display_name, "Zoe Q");
        auto contact = store->contact(5, "");
        ASSERT_TRUE(contact);
        EXPECT_EQ(contact->identities.size(), 1u);
        EXPECT_EQ(found(*store, "zoe", "contacts").size(), 2u);
        auto suggestions = store->merge_suggestions(10);
        ASSERT_EQ(suggestions.size(), 1u) << "their phone digits were filled in";
        EXPECT_EQ(suggestions[0].phone, "15550109999");
        // A new identity after the upgrade gets a new contact, not one of the copied ids.
        std::vector<InboundRequest> requests{request("{}")};
        auto queued = store->enqueue(requests);
        ParsedRow row{queued.at(0), kChannel, {message("900", "900:1", "new here")}};
        store->apply(std::span(&row, 1), kNow);
        auto fresh = store->conversation_by_platform_id(kChannel, "900");
        ASSERT_TRUE(fresh);
        EXPECT_GT(fresh->contact_id, 6);
        EXPECT_EQ(store->contacts("", 10, "").items.size(), 3u);
    }
    GetParam().remove(old_dir);
}

TEST_P(StoreContract, MigrateTwiceIsHarmless) {
    apply({message("100", "100:1", "hello")});
    EXPECT_NO_THROW(store_->migrate());
    EXPECT_NO_THROW(store_->migrate());
    EXPECT_TRUE(store_->message_by_platform_id(kChannel, "100:1"));
}

TEST_P(StoreContract, RefusesASchemaNewerThanItKnows) {
    store_.reset();
    GetParam().set_schema_version(dir_.path(), 9999);
    auto store = open();
    try {
        store->migrate();
        FAIL() << "migrate() accepted schema version 9999";
    } catch (const StoreError& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("database schema version 9999 is newer than this switchboardd supports ("),
                  std::string::npos)
            << what;
        EXPECT_NE(what.find("); upgrade switchboardd"), std::string::npos) << what;
    }
}

TEST_P(StoreContract, DataSurvivesClosingAndReopening) {
    std::vector<InboundRequest> requests{request("pending")};
    auto ids = store_->enqueue(requests);
    auto result = apply({message("100", "100:1", "hello")});
    store_.reset();

    store_ = open();
    store_->migrate();
    EXPECT_EQ(store_->queue_depth(), 1);
    auto rows = store_->claim(10, kNow, kLease);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].id, ids[0]);
    EXPECT_EQ(rows[0].request.body, "pending");
    auto stored = store_->message_by_platform_id(kChannel, "100:1");
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->content_json, text_content("hello"));
    EXPECT_EQ(store_->last_seq(), result.events.at(0).seq);
    // Sequence numbers keep growing after a restart.
    auto later = apply({message("100", "100:2", "again")});
    EXPECT_GT(later.events.at(0).seq, result.events.at(0).seq);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values(sqlite_backend(), postgres_backend()),
                         [](const ::testing::TestParamInfo<Backend>& info) { return info.param.name; });

// --- PostgreSQL connection strings ---

TEST(PostgresDsn, NetworkTimeoutsAreAddedToKeywordAndUriDsnsUnlessSet) {
    using sb::fanout::with_network_timeouts;
    const std::string kv = with_network_timeouts("host=db dbname=sb", 5);
    EXPECT_EQ(kv,
              "host=db dbname=sb connect_timeout=5 keepalives=1 keepalives_idle=10 keepalives_interval=5 "
              "keepalives_count=3 tcp_user_timeout=30000");
    EXPECT_EQ(with_network_timeouts("postgresql://u@db/sb", 7),
              "postgresql://u@db/sb?connect_timeout=7&keepalives=1&keepalives_idle=10&keepalives_interval=5&"
              "keepalives_count=3&tcp_user_timeout=30000");
    EXPECT_EQ(with_network_timeouts("postgres://db/sb?sslmode=require", 5).substr(0, 55),
              "postgres://db/sb?sslmode=require&connect_timeout=5&keep");
    // The operator's own values win.
    const std::string own = with_network_timeouts("host=db connect_timeout=2 tcp_user_timeout=900", 5);
    EXPECT_NE(own.find("connect_timeout=2"), std::string::npos);
    EXPECT_EQ(own.find("connect_timeout=5"), std::string::npos);
    EXPECT_EQ(own.find("tcp_user_timeout=30000"), std::string::npos);
    EXPECT_NE(own.find("keepalives_idle=10"), std::string::npos);
}

// libpq refuses a keyword it does not know: connecting proves every added one is real.
TEST(PostgresDsn, LibpqAcceptsTheAddedSettings) {
    if (pg_admin_dsn().empty()) GTEST_SKIP() << kNoPostgres;
    pqxx::connection conn(sb::fanout::with_network_timeouts(pg_admin_dsn(), 5));
    pqxx::nontransaction tx(conn);
    EXPECT_EQ(tx.exec("SELECT 1").at(0)[0].as<int>(), 1);
}

// --- SQLite only ---

TEST(SqliteStore, OpeningInAMissingDirectoryNamesThePath) {
    TempDir dir;
    auto path = (dir.path() / "no-such-dir" / "switchboard.db").string();
    try {
        open_sqlite(path);
        FAIL() << "opened " << path;
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dir.path() / "no-such-dir"));
}

// The log is checkpointed by the store's own thread (no commit pays for it), and it is: the
// database file takes the pages over while the store stays open and keeps writing.
TEST(SqliteStore, CheckpointsTheLogInTheBackground) {
    TempDir dir;
    const auto path = dir.path() / "switchboard.db";
    auto store = open_sqlite(path.string());
    store->migrate();
    const auto initial = fs::file_size(path);
    const std::string body(4096, 'x');
    std::vector<InboundRequest> one{request(body)};
    bool grown = false;
    for (int i = 0; i < 20'000 && !grown; ++i) {
        store->enqueue(one);
        if (i % 500 == 499) grown = fs::file_size(path) > initial + (1u << 20);
    }
    for (int i = 0; i < 50 && !grown; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        store->enqueue(one);
        grown = fs::file_size(path) > initial + (1u << 20);
    }
    EXPECT_TRUE(grown) << "the database file is still " << fs::file_size(path) << " bytes";
    EXPECT_LT(fs::file_size(fs::path(path.string() + "-wal")), 200u << 20)
        << "the log was never started over";
}

// --- PostgreSQL only: several instances on one database, and outages ---

class PostgresStore : public ::testing::Test {
protected:
    void SetUp() override {
        if (pg_admin_dsn().empty()) GTEST_SKIP() << kNoPostgres;
        opened_ = true;
        store_ = open_pg(dir_.path());
        store_->migrate();
    }

    void TearDown() override {
        store_.reset();
        if (opened_) postgres_backend().remove(dir_.path());
    }

    // Another daemon's store on the same database: a pool of its own.
    std::unique_ptr<Store> another_instance() { return open_pg(dir_.path()); }

    // Runs SQL on the test's database from a connection of its own.
    void admin(const std::string& sql) { pg_exec(pg_dsn(pg_database(dir_.path())), sql); }

    TempDir dir_;
    bool opened_ = false;
    std::unique_ptr<Store> store_;
};

TEST_F(PostgresStore, TwoInstancesClaimingAtOnceNeverGetTheSameRow) {
    constexpr int kRows = 300;
    std::vector<InboundRequest> requests;
    for (int i = 0; i < kRows; ++i) requests.push_back(request_on("ch" + std::to_string(i % 7), "x"));
    store_->enqueue(requests);
    auto other = another_instance();

    // Two workers per instance, each on a connection of its own, consuming what they claim.
    std::vector<std::vector<std::int64_t>> claimed(4);
    std::vector<std::thread> workers;
    for (std::size_t i = 0; i < claimed.size(); ++i) {
        Store* store = i % 2 == 0 ? store_.get() : other.get();
        workers.emplace_back([store, &mine = claimed[i]] { mine = drain_queue(*store, 5); });
    }
    for (auto& worker : workers) worker.join();
    expect_each_row_once(claimed, kRows);
}

// Two instances applying batches that touch the same contacts and conversations in opposite
// orders: each apply() takes its locks in one global order, so neither fails on a deadlock
// (PostgreSQL would abort one of them after deadlock_timeout otherwise).
TEST_F(PostgresStore, OverlappingBatchesAppliedAtOnceDoNotDeadlock) {
    auto other = another_instance();
    constexpr int kRounds = 15;
    constexpr int kChats = 12;
    int failures = 0;
    std::string first_failure;
    for (int round = 0; round < kRounds; ++round) {
        std::vector<InboundRequest> requests{request("1"), request("2")};
        auto ids = store_->enqueue(requests);
        ParsedRow forward{ids[0], kChannel, {}};
        ParsedRow backward{ids[1], kChannel, {}};
        for (int i = 0; i < kChats; ++i) {
            const std::string chat = std::to_string(500 + i);
            const std::string tag = std::to_string(round) + ":" + std::to_string(i);
            forward.events.push_back(message(chat, "f" + tag, "forward", "user-" + chat));
            backward.events.insert(backward.events.begin(),
                                   message(chat, "b" + tag, "backward", "user-" + chat));
        }
        std::latch start(2);
        auto run = [&start](Store& store, const ParsedRow& row) -> std::string {
            start.arrive_and_wait();
            try {
                store.apply(std::span(&row, 1), kNow);
                return "";
            } catch (const StoreError& e) {
                return e.what();
            }
        };
        auto a = std::async(std::launch::async, run, std::ref(*store_), std::cref(forward));
        auto b = std::async(std::launch::async, run, std::ref(*other), std::cref(backward));
        for (auto error : {a.get(), b.get()}) {
            if (error.empty()) continue;
            ++failures;
            if (first_failure.empty()) first_failure = error;
        }
    }
    EXPECT_EQ(failures, 0) << first_failure;
    EXPECT_EQ(store_->queue_depth(), 0);
}

TEST_F(PostgresStore, ClaimSkipsARowAnotherTransactionHoldsInsteadOfWaiting) {
    std::vector<InboundRequest> requests{request_on("x", "a"), request("b"), request("c")};
    auto ids = store_->enqueue(requests);

    // Another instance in the middle of claiming the oldest row.
    pqxx::connection conn(pg_dsn(pg_database(dir_.path())));
    pqxx::work holder(conn);
    holder.exec("SELECT id FROM inbound_queue WHERE id = " + std::to_string(ids[0]) + " FOR UPDATE");

    auto claim = std::async(std::launch::async, [this] { return store_->claim(10, kNow, kLease); });
    if (claim.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        holder.abort();  // let the blocked claim finish before failing
        FAIL() << "claim() waited for a locked row";
    }
    auto rows = claim.get();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].id, ids[1]);
    EXPECT_EQ(rows[1].id, ids[2]);

    holder.abort();
    auto rest = store_->claim(10, kNow, kLease);
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest[0].id, ids[0]);
}

TEST_F(PostgresStore, ExpiredLeaseLetsAnotherInstanceTakeTheRowOver) {
    std::vector<InboundRequest> requests{request("from a dead instance")};
    auto ids = store_->enqueue(requests);
    ASSERT_EQ(store_->claim(10, kNow, kLease).size(), 1u);
    store_.reset();  // the instance that claimed it dies

    auto other = another_instance();
    EXPECT_TRUE(other->claim(10, kNow + kLease, kLease).empty()) << "taken while its lease still runs";
    auto rows = other->claim(10, kNow + kLease + 1, kLease);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].id, ids[0]);
    EXPECT_EQ(rows[0].attempts, 2);
    EXPECT_EQ(rows[0].request.body, "from a dead instance");

    ParsedRow row{rows[0].id, kChannel, {message("100", "100:1", "hello")}};
    auto results = other->apply(std::span(&row, 1), kNow + kLease + 2);
    ASSERT_EQ(results.at(0).events.size(), 1u);
    EXPECT_EQ(other->queue_depth(), 0);
    auto stored = other->message_by_platform_id(kChannel, "100:1");
    ASSERT_TRUE(stored);
    EXPECT_EQ(other->messages(stored->conversation_id, 10, 0).items.size(), 1u);
}

TEST_F(PostgresStore, RecoversWhenItsConnectionsAreKilled) {
    std::vector<InboundRequest> requests{request("before")};
    store_->enqueue(requests);
    // Put several pool connections to use, so there are several to kill.
    std::vector<std::thread> users;
    for (int i = 0; i < kPgPoolSize; ++i) users.emplace_back([this] { store_->queue_depth(); });
    for (auto& user : users) user.join();

    // As a database restart or a failover does; the timeout waits until each backend is gone.
    pqxx::connection conn(pg_admin_dsn());
    pqxx::nontransaction tx(conn);
    auto killed =
        tx.exec("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE datname = " +
                tx.quote(pg_database(dir_.path())));
    ASSERT_GE(killed.at(0)[0].as<int>(), 1);

    // A connection found dead before anything was sent costs the caller nothing: the call runs
    // again on a new one, and the other dead idle connections are dropped with it.
    EXPECT_EQ(store_->queue_depth(), 1);
    std::vector<InboundRequest> more{request("after")};
    store_->enqueue(more);
    auto rows = store_->claim(10, kNow, kLease);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1].request.body, "after");
}

TEST_F(PostgresStore, FailsWithStoreErrorWhileTheDatabaseIsUnreachableAndRecoversAfter) {
    std::vector<InboundRequest> requests{request("before")};
    store_->enqueue(requests);
    // An outage, hermetically: the database refuses new connections and loses its current ones.
    const std::string database = pg_database(dir_.path());
    pg_exec(pg_admin_dsn(), "ALTER DATABASE " + database + " ALLOW_CONNECTIONS false");
    pg_exec(pg_admin_dsn(), "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '" +
                                database + "'");
    for (int i = 0; i < 3; ++i) {
        try {
            store_->queue_depth();
            ADD_FAILURE() << "queue_depth() succeeded while the database refused connections";
        } catch (const StoreError& e) {
            EXPECT_NE(std::string(e.what()).find("PostgreSQL"), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW(store_->enqueue(requests), StoreError);

    pg_exec(pg_admin_dsn(), "ALTER DATABASE " + database + " ALLOW_CONNECTIONS true");
    EXPECT_EQ(store_->queue_depth(), 1);
    EXPECT_EQ(store_->enqueue(requests).size(), 1u);
    EXPECT_EQ(store_->queue_depth(), 2);
}

TEST_F(PostgresStore, TwoInstancesMigratingAtOnceBothSucceed) {
    // A database of its own, never migrated: two daemons starting together.
    TempDir fresh;
    auto a = open_pg(fresh.path());
    auto b = open_pg(fresh.path());
    std::promise<void> go;
    std::shared_future<void> start = go.get_future().share();
    auto migrate = [start](Store* store) {
        start.wait();
        store->migrate();
    };
    auto first = std::async(std::launch::async, migrate, a.get());
    auto second = std::async(std::launch::async, migrate, b.get());
    go.set_value();
    EXPECT_NO_THROW(first.get());
    EXPECT_NO_THROW(second.get());
    std::vector<InboundRequest> requests{request("x")};
    EXPECT_EQ(a->enqueue(requests).size(), 1u);
    EXPECT_EQ(b->queue_depth(), 1);
    a.reset();
    b.reset();
    postgres_backend().remove(fresh.path());
}

TEST_F(PostgresStore, NewerSchemaIsRefusedByEveryInstanceAndLeftAsItIs) {
    admin("INSERT INTO schema_version (version) VALUES (9999)");
    auto other = another_instance();
    EXPECT_THROW(other->migrate(), StoreError);
    EXPECT_THROW(store_->migrate(), StoreError);
    pqxx::connection conn(pg_dsn(pg_database(dir_.path())));
    pqxx::nontransaction tx(conn);
    EXPECT_EQ(tx.exec("SELECT max(version) FROM schema_version").at(0)[0].as<int>(), 9999);
}

TEST(PostgresStoreOpen, FailureToConnectNamesNoPassword) {
    if (pg_admin_dsn().empty()) GTEST_SKIP() << kNoPostgres;
    const std::string secret = "hunter2-do-not-log";
    try {
        open_postgres(pg_admin_dsn() + " dbname=sbtest_no_such_database password=" + secret, 1);
        FAIL() << "connected to a database that does not exist";
    } catch (const StoreError& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("PostgreSQL connect"), std::string::npos) << what;
        EXPECT_NE(what.find("sbtest_no_such_database"), std::string::npos) << what;
        EXPECT_EQ(what.find(secret), std::string::npos) << what;
    }
}

}  // namespace

// --- media (issue 16) ---

namespace {
NormalizedEvent photo_message(const std::string& conversation, const std::string& id) {
    NormalizedEvent ev = message(conversation, id, "");
    ev.content_type = "image";
    ev.content_json = R"({"type":"image","media":{"id":"F1"}})";
    return ev;
}

sb::store::MediaRecord pending_media(std::int64_t message_id, std::int64_t conversation_id) {
    sb::store::MediaRecord m;
    m.origin = "inbound";
    m.message_id = message_id;
    m.conversation_id = conversation_id;
    m.channel_id = kChannel;
    m.state = "pending";
    m.mime_type = "image/jpeg";
    m.source_json = R"({"type":"image","media":{"id":"F1"}})";
    m.created_ms = kNow;
    m.next_attempt_ms = kNow;
    return m;
}
}  // namespace

TEST_P(StoreContract, MediaIsAddedOncePerMessageWithTheMessagesContentInTheSameTransaction) {
    apply({photo_message("100", "100:1")});
    auto stored = store_->message_by_platform_id(kChannel, "100:1");
    ASSERT_TRUE(stored);
    auto added = store_->add_media(
        pending_media(stored->id, stored->conversation_id), [](const sb::store::MediaRecord& m) {
            return R"({"type":"image","media":{"id":")" + std::to_string(m.id) + R"(","state":"pending"}})";
        });
    ASSERT_TRUE(added);
    EXPECT_GT(added->id, 0);
    EXPECT_EQ(added->state, "pending");
    EXPECT_EQ(added->source_json, R"({"type":"image","media":{"id":"F1"}})");
    EXPECT_EQ(store_->message_by_platform_id(kChannel, "100:1")->content_json,
              R"({"type":"image","media":{"id":")" + std::to_string(added->id) + R"(","state":"pending"}})");
    // Adding it told whoever sees the conversation (message_updated, naming the media).
    auto last = store_->events_after(0, 100).back();
    EXPECT_EQ(last.type, "message_updated");
    EXPECT_EQ(str(parse(last.data_json)["message"]["content"]["media"]["state"]), "pending");
    // A redelivery of the same message adds nothing and leaves the content alone.
    bool called = false;
    EXPECT_FALSE(store_->add_media(pending_media(stored->id, stored->conversation_id),
                                   [&](const sb::store::MediaRecord&) {
                                       called = true;
                                       return std::string("{}");
                                   }));
    EXPECT_FALSE(called);
    // A message that does not exist gets none.
    EXPECT_FALSE(store_->add_media(pending_media(987654, stored->conversation_id),
                                   [](const sb::store::MediaRecord&) { return std::string("{}"); }));
    auto read = store_->media(added->id);
    ASSERT_TRUE(read);
    EXPECT_EQ(read->message_id, stored->id);
    EXPECT_EQ(read->mime_type, "image/jpeg");
    EXPECT_EQ(read->size, -1);
    EXPECT_FALSE(store_->media(added->id + 1000));
}

TEST_P(StoreContract, AddedMediaHandsItsEventToTheCaller) {
    apply({message("100", "100:9", "photo")});
    auto stored = store_->message_by_platform_id(kChannel, "100:9");
    std::optional<sb::store::Event> event;
    auto added = store_->add_media(
        pending_media(stored->id, stored->conversation_id),
        [](const sb::store::MediaRecord&) {
            return std::string(R"({"type":"image","media":{"state":"pending"}})");
        },
        &event);
    ASSERT_TRUE(added && event);
    EXPECT_EQ(event->type, "message_updated");
    EXPECT_EQ(event->conversation_id, stored->conversation_id);
    EXPECT_EQ(event->seq, store_->last_seq());
}

TEST_P(StoreContract, PendingMediaIsClaimedWhenDueUnderALeaseAndRetriedLater) {
    apply({message("100", "100:1", "a"), message("100", "100:2", "b")});
    auto one = store_->message_by_platform_id(kChannel, "100:1");
    auto two = store_->message_by_platform_id(kChannel, "100:2");
    auto content = [](const sb::store::MediaRecord&) { return std::string(R"({"type":"image"})"); };
    auto first = store_->add_media(pending_media(one->id, one->conversation_id), content);
    auto later = pending_media(two->id, two->conversation_id);
    later.next_attempt_ms = kNow + 5000;
    auto second = store_->add_media(later, content);
    ASSERT_TRUE(first && second);

    auto claimed = store_->claim_media(kNow, 60'000, 10);
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0].id, first->id);
    EXPECT_EQ(claimed[0].attempts, 1);
    EXPECT_TRUE(store_->claim_media(kNow + 1000, 60'000, 10).empty()) << "held by its lease";

    store_->retry_media(first->id, kNow + 2000, "HTTP 500");
    EXPECT_EQ(store_->media(first->id)->error_message, "HTTP 500");
    auto both = store_->claim_media(kNow + 6000, 60'000, 10);
    ASSERT_EQ(both.size(), 2u);
    EXPECT_EQ(both[0].id, first->id) << "oldest due first";
    EXPECT_EQ(both[0].attempts, 2);
    EXPECT_EQ(both[1].id, second->id);
    // Limit respected.
    store_->retry_media(first->id, kNow, "again");
    store_->retry_media(second->id, kNow, "again");
    EXPECT_EQ(store_->claim_media(kNow + 1, 60'000, 1).size(), 1u);
}

TEST_P(StoreContract, SettledMediaRewritesTheMessageAndAppendsMessageUpdatedForItsAudience) {
    apply({photo_message("100", "100:1")});
    auto stored = store_->message_by_platform_id(kChannel, "100:1");
    auto added =
        store_->add_media(pending_media(stored->id, stored->conversation_id),
                          [](const sb::store::MediaRecord&) { return std::string(R"({"type":"image"})"); });
    ASSERT_TRUE(added);
    auto m = *added;
    m.state = "ready";
    m.size = 1234;
    m.sha256 = std::string(64, 'a');
    m.file_name = "p.jpg";
    auto event = store_->settle_media(m, R"({"type":"image","media":{"state":"ready"}})", kNow + 10);
    ASSERT_TRUE(event);
    EXPECT_EQ(event->type, "message_updated");
    EXPECT_EQ(event->conversation_id, stored->conversation_id);
    EXPECT_EQ(event->audience, "") << "unassigned: every agent";
    auto data = parse(event->data_json);
    EXPECT_EQ(str(data["message"]["content"]["media"]["state"]), "ready");
    auto after = store_->message_by_platform_id(kChannel, "100:1");
    EXPECT_EQ(after->content_json, R"({"type":"image","media":{"state":"ready"}})");
    EXPECT_EQ(after->edited_ms, 0) << "a fetched file is no edit";
    auto read = store_->media(added->id);
    EXPECT_EQ(read->state, "ready");
    EXPECT_EQ(read->size, 1234);
    EXPECT_EQ(read->sha256, std::string(64, 'a'));
    EXPECT_EQ(read->file_name, "p.jpg");
    EXPECT_TRUE(store_->claim_media(kNow + 100'000, 60'000, 10).empty()) << "ready is never claimed";
    EXPECT_EQ(store_->events_after(0, 100).back().type, "message_updated");
}

TEST_P(StoreContract, AnUploadIsStoredReadyWithoutAMessage) {
    sb::store::MediaRecord upload;
    upload.origin = "upload";
    upload.state = "ready";
    upload.mime_type = "application/pdf";
    upload.size = 10;
    upload.file_name = "a.pdf";
    upload.sha256 = std::string(64, 'b');
    upload.uploaded_by = "agent-1";
    upload.created_ms = kNow;
    auto stored = store_->add_upload(upload);
    EXPECT_GT(stored.id, 0);
    EXPECT_EQ(stored.message_id, 0);
    EXPECT_EQ(store_->media(stored.id)->uploaded_by, "agent-1");
    EXPECT_TRUE(store_->claim_media(kNow, 60'000, 10).empty());
    EXPECT_FALSE(store_->settle_media(stored, "{}", kNow)) << "no message, no event";
}

TEST_P(StoreContract, AnEditKeepsTheFetchedFileAndAFileFetchedAfterAnEditKeepsTheEdit) {
    NormalizedEvent photo = message("100", "100:1", "");
    photo.content_type = "image";
    photo.content_json = R"({"type":"image","media":{"id":"F1"},"caption":"old"})";
    apply({photo});
    auto stored = store_->message_by_platform_id(kChannel, "100:1");
    auto added = store_->add_media(pending_media(stored->id, stored->conversation_id), [](const sb::store::
                                                                                              MediaRecord&) {
        return std::string(
            R"({"type":"image","media":{"id":"1","state":"pending","platform_id":"F1"},"caption":"old"})");
    });
    ASSERT_TRUE(added);
    // The customer edits the caption while the file is being fetched.
    NormalizedEvent edit;
    edit.type = EventType::edit;
    edit.conversation_id = "100";
    edit.sender.id = "100";
    edit.message_id = "100:1";
    edit.content_json = R"({"type":"image","media":{"id":"F1"},"caption":"new"})";
    edit.edited_at_ms = kNow + 1000;
    edit.timestamp_ms = kNow + 1000;
    ASSERT_EQ(apply({edit}).events.size(), 1u);
    auto edited = parse(store_->message_by_platform_id(kChannel, "100:1")->content_json);
    EXPECT_EQ(str(edited["caption"]), "new");
    EXPECT_EQ(str(edited["media"]["state"]), "pending") << "the edit keeps the host's media object";
    EXPECT_TRUE(apply({edit}).events.empty()) << "a redelivered edit changes nothing";
    auto m = *added;
    m.state = "ready";
    store_->settle_media(m, R"({"type":"image","media":{"id":"1","state":"ready"},"caption":"old"})",
                         kNow + 2000);
    auto settled = parse(store_->message_by_platform_id(kChannel, "100:1")->content_json);
    EXPECT_EQ(str(settled["caption"]), "new") << "the fetched file does not undo the edit";
    EXPECT_EQ(str(settled["media"]["state"]), "ready");
}
