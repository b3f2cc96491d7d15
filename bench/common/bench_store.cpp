#include "common/bench_store.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <pqxx/pqxx>
#include <span>
#include <stdexcept>
#include <tuple>

#include "domain/search.hpp"

namespace sb::bench {

namespace {

constexpr std::int64_t kBatch = 2'000;  // events per apply() transaction, like a busy processor batch

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

class SqliteAdmin final : public Admin {
public:
    explicit SqliteAdmin(const std::string& path) {
        if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("cannot open " + path);
        sqlite3_busy_timeout(db_, 10'000);
    }
    ~SqliteAdmin() override { sqlite3_close(db_); }
    void exec(const std::string& sql) override {
        char* error = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
            const std::string message = fmt::format("{}: {}", sql, error ? error : "?");
            sqlite3_free(error);
            throw std::runtime_error(message);
        }
    }
    std::int64_t scalar(const std::string& sql) override {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
            throw std::runtime_error(fmt::format("{}: {}", sql, sqlite3_errmsg(db_)));
        const std::int64_t value = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
        sqlite3_finalize(stmt);
        return value;
    }
    void exec_in_transaction(const std::vector<std::string>& statements) override {
        exec("BEGIN");
        for (const auto& sql : statements) exec(sql);
        exec("COMMIT");
    }
    void analyze() override { exec("ANALYZE"); }

private:
    sqlite3* db_ = nullptr;
};

class PgAdmin final : public Admin {
public:
    explicit PgAdmin(const std::string& dsn) : conn_(dsn) {}
    void exec(const std::string& sql) override {
        pqxx::nontransaction tx(conn_);
        tx.exec(sql);
    }
    std::int64_t scalar(const std::string& sql) override {
        pqxx::nontransaction tx(conn_);
        auto r = tx.exec(sql);
        return r.empty() || r[0][0].is_null() ? 0 : r[0][0].as<std::int64_t>();
    }
    void exec_in_transaction(const std::vector<std::string>& statements) override {
        pqxx::work tx(conn_);
        for (const auto& sql : statements) tx.exec(sql);
        tx.commit();
    }
    // VACUUM too: after a COPY, the visibility map that index-only scans rely on.
    void analyze() override { exec("VACUUM ANALYZE"); }

private:
    pqxx::connection conn_;
};

// The messages after the applied ones, COPYed with what apply() would have stored for them;
// the conversations' activity is moved to them at the end.
void copy_messages(const std::string& dsn, std::int64_t first, std::int64_t end,
                   const MessageSource& source) {
    pqxx::connection conn(dsn);
    std::map<std::string, std::int64_t> conversation_ids;  // "channel/platform id" → id
    {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec("SELECT id, channel_id, platform_id FROM conversations"))
            conversation_ids[fmt::format("{}/{}", r[1].c_str(), r[2].c_str())] = r[0].as<std::int64_t>();
    }
    pqxx::work tx(conn);
    pqxx::stream_to copy(tx, "messages",
                         std::vector<std::string>{"conversation_id", "channel_id", "platform_id", "direction",
                                                  "sender_id", "sender_name", "content_json", "status",
                                                  "platform_ts_ms", "created_ms", "kind", "search_text"});
    for (std::int64_t i = first; i < end; ++i) {
        const std::int64_t ts = kBaseMs + i;
        // apply() stamps a batch's messages with the time it ran (the batch's end); the same
        // here, or the two parts of a store would order conversations by activity differently.
        const std::int64_t created = kBaseMs + std::min(end, (i / kBatch + 1) * kBatch);
        const auto [conversation, ev] = source(i, ts);
        const std::string channel = channel_of(conversation);
        copy << std::make_tuple(conversation_ids.at(fmt::format("{}/{}", channel, ev.conversation_id)),
                                channel, ev.message_id, std::string("in"), ev.sender.id, ev.sender.name,
                                ev.content_json, std::string("received"), ev.timestamp_ms, created,
                                std::string("message"), domain::message_search_text(ev.content_json));
    }
    copy.complete();
    tx.exec(
        "UPDATE conversations c SET last_activity_ms = greatest(c.last_activity_ms, m.activity), "
        "last_message_id = greatest(c.last_message_id, m.last_id) FROM (SELECT conversation_id, "
        "max(created_ms) AS activity, max(id) AS last_id FROM messages GROUP BY conversation_id) m "
        "WHERE c.id = m.conversation_id");
    tx.commit();
}

}  // namespace

void parse_options(int argc, char** argv, StoreOptions& store,
                   const std::function<bool(std::string_view key, const char* value)>& option) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view key = argv[i];
        const char* value = argv[i + 1];
        if (key == "--backend")
            store.backend = value;
        else if (key == "--db")
            store.db = value;
        else if (key == "--dsn")
            store.dsn = value;
        else if (key == "--apply-messages")
            store.apply_messages = std::atoi(value);
        else if (key == "--conversations")
            store.conversations = std::atoi(value);
        else if (key == "--messages")
            store.messages = std::atoi(value);
        else if (key == "--calls")
            store.calls = std::atoi(value);
        else if (!option(key, value)) {
            std::fprintf(stderr, "unknown option %s\n", argv[i]);
            std::exit(2);
        }
    }
}

void resolve_store_options(StoreOptions& o, std::string_view tool, std::string_view database) {
    if ((o.backend == "sqlite" && o.db.empty()) || (o.backend != "sqlite" && o.backend != "postgres")) {
        std::fprintf(stderr, "usage: %.*s --backend sqlite --db PATH | --backend postgres [--dsn DSN]\n",
                     static_cast<int>(tool.size()), tool.data());
        std::exit(2);
    }
    if (!o.postgres() && o.apply_messages < 1'000'000'000) {
        std::fprintf(stderr, "--apply-messages is for PostgreSQL only\n");
        std::exit(2);
    }
    if (!o.postgres() || !o.dsn.empty()) return;
    const char* server = std::getenv("SB_TEST_PG_DSN");
    if (server == nullptr) {
        std::fprintf(stderr,
                     "--backend postgres needs --dsn or SB_TEST_PG_DSN (run under tools/with-postgres)\n");
        std::exit(2);
    }
    PgAdmin admin(server);
    if (admin.scalar(fmt::format("SELECT count(*) FROM pg_database WHERE datname = '{}'", database)) == 0)
        admin.exec(fmt::format("CREATE DATABASE {}", database));
    // keyword/value: a later keyword overrides an earlier one
    o.dsn = fmt::format("{} dbname={}", server, database);
}

std::unique_ptr<store::Store> open_store(const StoreOptions& o) {
    auto store = o.postgres() ? store::open_postgres(o.dsn, 2) : store::open_sqlite(o.db);
    store->migrate();
    return store;
}

std::string describe(const StoreOptions& o) {
    return o.postgres() ? "PostgreSQL " + o.dsn : "SQLite " + o.db;
}

std::unique_ptr<Admin> open_admin(const StoreOptions& o) {
    if (o.postgres()) return std::make_unique<PgAdmin>(o.dsn);
    return std::make_unique<SqliteAdmin>(o.db);
}

const char* channel_of(int conversation) { return conversation % 2 == 0 ? "tg" : "wa"; }

void populate(store::Store& store, const StoreOptions& o, const MessageSource& source) {
    const int conversations = o.conversations;
    const int messages = o.messages;
    const int applied = std::min(messages, std::max(o.apply_messages, conversations));
    const auto start = Clock::now();
    std::int64_t i = 0;
    while (i < applied) {
        const std::int64_t first = i;
        const std::int64_t last = std::min<std::int64_t>(applied, i + kBatch);
        // One queue row per channel, applied in one transaction.
        std::vector<store::ParsedRow> rows;
        for (const std::string channel : {channel_of(0), channel_of(1)}) {
            store::InboundRequest request{channel, "POST", "/webhooks/" + channel, "", "{}", kBaseMs + i};
            store.enqueue(std::span(&request, 1));
            auto claimed = store.claim(1, kBaseMs + i, 60'000);
            if (claimed.empty()) throw std::runtime_error("claim returned nothing");
            rows.push_back({claimed.front().id, channel, {}});
        }
        for (; i < last; ++i) {
            auto [conversation, event] = source(i, kBaseMs + i);
            rows[static_cast<std::size_t>(conversation % 2)].events.push_back(std::move(event));
        }
        store.apply(rows, kBaseMs + i);
        if ((first / kBatch) % 25 == 0)
            std::fprintf(stderr, "\r  %lld / %d messages (%.0f s)", static_cast<long long>(last), messages,
                         seconds_since(start));
    }
    const double took = seconds_since(start);
    std::fprintf(stderr, "\n");
    std::printf(
        "populate: %d conversations, %d messages through enqueue/claim/apply in %.1f s (%.0f messages/s)\n",
        conversations, applied, took, applied / took);
    if (applied == messages) return;
    if (!o.postgres()) throw std::logic_error("COPY is for PostgreSQL only");
    const auto copy_start = Clock::now();
    copy_messages(o.dsn, applied, messages, source);
    std::printf("populate: %d more messages COPYed into the table (search_text computed in C++) in %.1f s\n",
                messages - applied, seconds_since(copy_start));
}

std::vector<std::string> assignment_sql(const std::vector<std::string>& agents) {
    std::vector<std::string> statements;
    for (std::size_t k = 0; k < agents.size(); ++k)
        statements.push_back(fmt::format(
            "UPDATE conversations SET assignee_id = '{}' WHERE id % 10 >= 3 AND (id / 10) % {} = {}",
            agents[k], agents.size(), k));
    return statements;
}

Timing time_calls(int calls, const std::function<std::size_t(int)>& call, double max_seconds, int min_calls) {
    Timing timing;
    const auto begin = Clock::now();
    for (int i = 0; i < calls; ++i) {
        const std::int64_t start = now_ns();
        const std::size_t result = call(i);
        timing.latency.add(now_ns() - start);
        if (i == 0) timing.first_result = result;
        if (i + 1 >= min_calls && seconds_since(begin) > max_seconds) break;
    }
    return timing;
}

}  // namespace sb::bench
