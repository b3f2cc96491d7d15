#pragma once
// What the store benchmarks (sb-bench-list, sb-bench-search) share: a SQLite or PostgreSQL
// store chosen on the command line, filled the way webhooks fill it (enqueue → claim → apply),
// with the bulk of the messages COPYed where PostgreSQL's apply() is too slow to wait for; a
// connection of the backend's own for the set-up the Store API does not do (assignment in
// bulk, counts); and the timing of a call repeated many times.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/bench_common.hpp"
#include "events/normalized.hpp"
#include "store/store.hpp"

namespace sb::bench {

struct StoreOptions {
    std::string backend = "sqlite";
    std::string db;   // sqlite: the file
    std::string dsn;  // postgres: empty = a database of the tool's own on SB_TEST_PG_DSN's server
    // PostgreSQL: the first N messages through apply(), the rest COPYed with what apply() stores.
    int apply_messages = 1'000'000'000;
    // The data set and how often each case is called (a tool sets its own default first).
    int conversations = 100'000;
    int messages = 1'000'000;
    int calls = 500;
    bool postgres() const { return backend == "postgres"; }
};

// Reads `--key value` pairs: `--backend`, `--db`, `--dsn`, `--apply-messages`,
// `--conversations`, `--messages` and `--calls` into `store`,
// the others through `option`, which returns false for a key it does not know (then the tool
// exits with status 2, naming it).
void parse_options(int argc, char** argv, StoreOptions& store,
                   const std::function<bool(std::string_view key, const char* value)>& option);
// Exits with a usage line naming `tool` when the options do not make a store; on PostgreSQL
// without --dsn, creates the database `database` on SB_TEST_PG_DSN's server if missing and
// sets `dsn` to it.
void resolve_store_options(StoreOptions& options, std::string_view tool, std::string_view database);
// The store (PostgreSQL: a pool of 2 connections), migrated.
std::unique_ptr<store::Store> open_store(const StoreOptions& options);
// "SQLite /var/tmp/x.db" or "PostgreSQL host=… dbname=…", for the tool's report.
std::string describe(const StoreOptions& options);

// The backend's own connection, for what the Store API does not do.
class Admin {
public:
    virtual ~Admin() = default;
    virtual void exec(const std::string& sql) = 0;
    // The first column of the first row; 0 when there is none or it is NULL.
    virtual std::int64_t scalar(const std::string& sql) = 0;
    // All of `statements` in one transaction.
    virtual void exec_in_transaction(const std::vector<std::string>& statements) = 0;
    // What a long-running database has (autovacuum; SQLite's `PRAGMA optimize`).
    virtual void analyze() = 0;
};
std::unique_ptr<Admin> open_admin(const StoreOptions& options);

// One message of a data set: the number of its conversation (0 … conversations - 1) and what
// the platform sent. A conversation's channel is its number's parity (channel_of).
struct BenchMessage {
    int conversation = 0;
    events::NormalizedEvent event;
};
// "tg" for even conversation numbers, "wa" for odd ones: two channels, so that the channel
// filter means something.
const char* channel_of(int conversation);
// Message number i (0, 1, 2 … asked for in order), received at `ts`. The first `conversations`
// messages must be one per conversation, so that every conversation exists before any COPY.
using MessageSource = std::function<BenchMessage(std::int64_t i, std::int64_t ts)>;
// The receive time of message 0; message i is received i ms later.
inline constexpr std::int64_t kBaseMs = 1'760'000'000'000;

// Fills an empty store with options.messages messages from `source`, in options.conversations
// conversations: the first max(apply_messages, conversations) through enqueue → claim → apply, 2,000 per
// apply() transaction (one queue row per channel, like a busy processor batch); on PostgreSQL the rest are
// COPYed into `messages` with the columns apply() writes (search_text from domain::message_search_text) and
// the conversations' last activity and last message moved to them. COPYed messages have no `events` rows.
// Prints how long each part took.
void populate(store::Store& store, const StoreOptions& options, const MessageSource& source);

// 30% of the conversations unassigned (id % 10 < 3), the rest spread evenly over `agents`:
// the statements, for Admin::exec_in_transaction. 70,000 assign() calls, each its own
// transaction, would measure the disk rather than set up the data set.
std::vector<std::string> assignment_sql(const std::vector<std::string>& agents);

// A call repeated `calls` times, or fewer once `max_seconds` have passed (at least
// `min_calls`): its latency, and what the first call returned (a count of results).
struct Timing {
    Histogram latency;
    std::size_t first_result = 0;
};
Timing time_calls(int calls, const std::function<std::size_t(int i)>& call, double max_seconds = 1e9,
                  int min_calls = 20);

}  // namespace sb::bench
