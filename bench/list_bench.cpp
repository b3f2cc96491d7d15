// Conversation list and history latency with many conversations (issues 4 and 14): builds a
// SQLite or PostgreSQL store with N conversations and M messages through the Store API
// (enqueue → claim → apply, the path webhooks take: bench/common/bench_store.hpp), then times
// Store::conversations() — inbox pages, first and deep keyset pages, with the filters
// GET /api/v1/conversations passes — Store::conversation_counts() and Store::messages() —
// newest and deep `before` pages — as p50/p99 over many calls. It then prints the plans of the
// statements the store ran, never copying their SQL here: on SQLite EXPLAIN QUERY PLAN of the
// texts a trace hook captured on the store's own connection; on PostgreSQL EXPLAIN (ANALYZE,
// BUFFERS) as auto_explain logs it for a second store whose connections load it, read back
// from the server's log.
//
//   sb-bench-list [--backend sqlite] [--db PATH]      (no --db: a temp dir, removed at the end)
//   sb-bench-list --backend postgres [--dsn DSN]      (no --dsn: a database of its own created
//                                                       from SB_TEST_PG_DSN)
//       [--apply-messages N]   (the first N messages through apply(), the rest COPYed)
//       [--pg-log PATH]        (the server's log, for the plans; default $SB_TEST_PG_DIR/server.log)
//   [--conversations 100000] [--messages 1000000] [--calls 2000]
//
// An existing, fully populated store is reused: a second run only measures.

#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/bench_store.hpp"
#include "store/store.hpp"

namespace {

namespace fs = std::filesystem;
using sb::store::ConversationFilter;
using sb::store::Store;

struct Options {
    sb::bench::StoreOptions store;
    int heavy = 10;            // conversations that get `heavy_share` of all messages
    double heavy_share = 0.2;  // so that deep `before` pages exist
    int agents = 20;
    std::string pg_log;  // the PostgreSQL server's log, where auto_explain writes
};

Options parse(int argc, char** argv) {
    Options o;
    o.store.calls = 2'000;
    sb::bench::parse_options(argc, argv, o.store, [&](std::string_view key, const char* value) {
        if (key == "--pg-log")
            o.pg_log = value;
        else
            return false;
        return true;
    });
    if (o.pg_log.empty())
        if (const char* dir = std::getenv("SB_TEST_PG_DIR")) o.pg_log = std::string(dir) + "/server.log";
    return o;
}

// --- SQLite: every SQL text the store prepares, for EXPLAIN QUERY PLAN ---

std::set<std::string>& captured() {
    static std::set<std::string> texts;
    return texts;
}

int on_trace(unsigned, void*, void* stmt, void*) {
    if (const char* sql = sqlite3_sql(static_cast<sqlite3_stmt*>(stmt))) captured().insert(sql);
    return 0;
}

// Runs for every connection this process opens, the store's included.
int trace_connection(sqlite3* db, const char**, const sqlite3_api_routines*) {
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, on_trace, nullptr);
    return SQLITE_OK;
}

// Prints the plan; returns false when a step scans a table without an index.
bool explain(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
        std::fprintf(stderr, "explain: %s\n", sqlite3_errmsg(db));
        std::exit(1);
    }
    bool indexed = true;
    std::printf("  %s\n", sql.c_str());
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        std::string detail = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
        std::printf("    -> %s\n", detail.c_str());
        // "SCAN t" alone walks the table; "SCAN t USING INDEX i" walks an index in order;
        // "SCAN (subquery-N)" reads the rows a LIMITed subquery materialized, not a table.
        if (detail.starts_with("SCAN") && detail.find("USING") == std::string::npos &&
            !detail.starts_with("SCAN (subquery"))
            indexed = false;
    }
    sqlite3_finalize(stmt);
    return indexed;
}

// --- PostgreSQL: EXPLAIN (ANALYZE, BUFFERS) of the store's own statements, by auto_explain ---

// The connection options that make a session load auto_explain and log the plan of every
// statement it runs, with actual times and buffers (session_preload_libraries: a superuser's
// setting, which the role tools/with-postgres creates is).
std::string with_auto_explain(const std::string& dsn) {
    return dsn +
           " options='-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0 "
           "-c auto_explain.log_analyze=on -c auto_explain.log_buffers=on'";
}

// What the server's log gained since `offset`: auto_explain's entries, the statement's text
// shortened (the case's name says which it is). Returns false when a plan reads a whole table.
bool print_logged_plans(const std::string& log, std::uintmax_t offset) {
    std::ifstream in(log);
    in.seekg(static_cast<std::streamoff>(offset));
    bool indexed = true;
    std::string line;
    while (std::getline(in, line)) {
        if (const auto at = line.find("duration: ");
            at != std::string::npos && line.find("plan:") != std::string::npos) {
            std::printf("    %s\n", line.substr(at).c_str());
        } else if (line.starts_with("\t")) {
            if (line.starts_with("\tQuery Text: ")) {
                std::printf("    %.110s%s\n", line.c_str() + 1, line.size() > 111 ? " …" : "");
                continue;
            }
            std::printf("    %s\n", line.c_str() + 1);
            // A team's agents and its label list are a few rows: reading them whole is the plan.
            if (line.find("Seq Scan on") != std::string::npos &&
                line.find("never executed") == std::string::npos &&
                line.find("Seq Scan on agents ") == std::string::npos &&
                line.find("Seq Scan on labels ") == std::string::npos)
                indexed = false;
        }
    }
    return indexed;
}

// --- building the data set ---

std::string customer_id(int conversation) { return std::to_string(1'000'000 + conversation); }

sb::events::NormalizedEvent message_event(int conversation, std::int64_t message, std::int64_t ts) {
    sb::events::NormalizedEvent ev;
    ev.type = sb::events::EventType::message;
    ev.conversation_id = customer_id(conversation);
    ev.conversation_kind = "private";
    ev.sender = {customer_id(conversation), "Customer " + std::to_string(conversation), "", ""};
    ev.timestamp_ms = ts;
    ev.message_id = customer_id(conversation) + ":" + std::to_string(message);
    ev.content_type = "text";
    ev.content_json = R"({"type":"text","text":"Hello, I have a question about my order number )" +
                      std::to_string(message) + R"("})";
    return ev;
}

// Which conversation each message goes to: every conversation gets one message first (so all
// exist), the rest are spread at random, `heavy_share` of them over the few heavy
// conversations (numbers 0 … heavy - 1), the others uniformly.
std::vector<int> conversation_of_each_message(const Options& o) {
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int> any(0, o.store.conversations - 1);
    std::uniform_int_distribution<int> heavy(0, o.heavy - 1);
    std::uniform_real_distribution<double> coin(0, 1);
    std::vector<int> order;
    order.reserve(static_cast<std::size_t>(o.store.messages));
    for (int c = 0; c < o.store.conversations && c < o.store.messages; ++c) order.push_back(c);
    while (static_cast<int>(order.size()) < o.store.messages)
        order.push_back(coin(rng) < o.heavy_share ? heavy(rng) : any(rng));
    std::shuffle(order.begin() + std::min<std::ptrdiff_t>(o.store.conversations, o.store.messages),
                 order.end(), rng);
    return order;
}

// Status, assignment, labels and read positions, spread the way a busy team's would be: 60%
// resolved, 30% unassigned (bench_store's assignment_sql), labels on a fifth and a seventh of
// them so that list items carry some. In SQL, in one transaction.
void distribute(sb::bench::Admin& admin, const std::vector<std::string>& agents) {
    std::vector<std::string> statements{
        "UPDATE conversations SET status = CASE WHEN id % 10 < 6 THEN 'resolved' ELSE 'open' END"};
    for (auto& sql : sb::bench::assignment_sql(agents)) statements.push_back(std::move(sql));
    statements.insert(
        statements.end(),
        {"INSERT INTO labels (name, color, created_ms) VALUES ('billing', '#ff8800', 0), ('vip', '#aa00ff', "
         "0)",
         "INSERT INTO conversation_labels (conversation_id, label) SELECT id, 'billing' FROM conversations "
         "WHERE id % 5 = 0",
         "INSERT INTO conversation_labels (conversation_id, label) SELECT id, 'vip' FROM conversations "
         "WHERE id % 7 = 0",
         // Each assignee has read half of its conversations to the end (the rest count every
         // customer message as unread), so read positions are there to be joined.
         "INSERT INTO conversation_reads (conversation_id, agent_id, last_read_message_id, updated_ms) "
         "SELECT id, assignee_id, last_message_id, 0 FROM conversations "
         "WHERE assignee_id IS NOT NULL AND id % 4 < 2"});
    admin.exec_in_transaction(statements);
    admin.analyze();
}

// --- measuring ---

void row(const std::string& name, int calls, const std::function<void(int)>& call) {
    auto t = sb::bench::time_calls(calls, [&](int i) {
        call(i);
        return std::size_t{0};
    });
    auto& s = t.latency;
    std::printf("| %-52s | %8.0f | %8.0f | %8.0f | %6zu |\n", name.c_str(), s.percentile_ms(50) * 1e3,
                s.percentile_ms(99) * 1e3, s.max_ms() * 1e3, s.count());
    std::fflush(stdout);
}

// The cursors of the first `pages` pages of a listing, for deep-page calls.
std::vector<std::string> cursors(Store& store, const ConversationFilter& filter, int pages) {
    std::vector<std::string> out;
    std::string cursor;
    for (int i = 0; i < pages; ++i) {
        auto page = store.conversations(filter, 50, cursor);
        if (page.next_cursor.empty()) break;
        out.push_back(cursor = page.next_cursor);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    fs::path dir;
    if (o.store.backend == "sqlite" && o.store.db.empty()) {
        dir = fs::temp_directory_path() / ("sb-bench-list-" + std::to_string(::getpid()));
        fs::create_directories(dir);
        o.store.db = (dir / "switchboard.db").string();
    }
    sb::bench::resolve_store_options(o.store, "sb-bench-list", "sb_bench_list");
    if (!o.store.postgres()) sqlite3_auto_extension(reinterpret_cast<void (*)()>(trace_connection));

    auto store = sb::bench::open_store(o.store);
    auto admin = sb::bench::open_admin(o.store);
    const std::int64_t stored = admin->scalar("SELECT count(*) FROM messages");
    if (stored >= o.store.messages) {
        std::printf("populate: reusing %s\n", sb::bench::describe(o.store).c_str());
    } else if (stored > 0) {
        std::fprintf(stderr, "the store is partly populated: start from an empty one\n");
        return 1;
    } else {
        const auto order = conversation_of_each_message(o);
        sb::bench::populate(*store, o.store, [&](std::int64_t i, std::int64_t ts) {
            const int c = order[static_cast<std::size_t>(i)];
            return sb::bench::BenchMessage{c, message_event(c, i, ts)};
        });
    }
    std::vector<std::string> agents;
    for (const auto& agent : store->agents()) agents.push_back(agent.id);
    if (agents.empty()) {
        for (int i = 0; i < o.agents; ++i)
            agents.push_back(store->create_agent("Agent " + std::to_string(i), "agent", 0).id);
        distribute(*admin, agents);
    }
    if (o.store.postgres())
        std::printf("database: %s (%.0f MB)\n", o.store.dsn.c_str(),
                    static_cast<double>(admin->scalar("SELECT pg_database_size(current_database())")) / 1e6);
    else
        std::printf("database: %s (%.0f MB)\n", o.store.db.c_str(),
                    static_cast<double>(fs::file_size(o.store.db)) / 1e6);
    const std::string me = agents.front();

    // Every case is a call and how often it is timed; the plans below run the same calls.
    struct Case {
        std::string name;
        int calls;
        std::function<void(Store&, int)> call;
    };
    std::vector<Case> cases;
    std::mt19937_64 rng(7);

    // Conversation lists: limit 50, the API's default. Every call is an inbox page as
    // GET /api/v1/conversations asks for it: with the caller's read state (its unread counts),
    // the last message, assignee and labels of each item.
    auto list = [&](std::string status, std::string channel, std::string assignee, std::string visible_to) {
        ConversationFilter f;
        f.status = std::move(status);
        f.channel_id = std::move(channel);
        f.assignee = std::move(assignee);
        f.visible_to = std::move(visible_to);
        f.reader = me;
        return f;
    };
    auto labelled = [&](std::string label) {
        auto f = list("", "", "", me);
        f.label = std::move(label);
        return f;
    };
    const std::vector<std::pair<const char*, ConversationFilter>> listings{
        {"all (admin)", list("", "", "", "")},
        {"status=open (admin)", list("open", "", "", "")},
        {"status=open,pending (admin)", list("open,pending", "", "", "")},
        {"channel=wa (admin)", list("", "wa", "", "")},
        {"assignee=unassigned (admin)", list("", "", "unassigned", "")},
        {"assignee=<agent> (admin)", list("", "", me, "")},
        {"status=open&assignee=<agent> (admin)", list("open", "", me, "")},
        {"agent's view: visible_to=<agent>", list("", "", "", me)},
        {"agent's view: status=open, visible_to=<agent>", list("open", "", "", me)},
        {"agent's view: assignee=me, visible_to=<agent>", list("", "", me, me)},
        {"agent's view: label=vip, visible_to=<agent>", labelled("vip")},
    };
    for (const auto& listing : listings) {
        const std::string name = listing.first;
        const ConversationFilter& filter = listing.second;
        cases.push_back({std::string("conversations first page, ") + name, o.store.calls,
                         [&filter](Store& s, int) { s.conversations(filter, 50, ""); }});
        auto deep = cursors(*store, filter, 400);  // up to 20,000 conversations deep
        if (deep.size() < 2) continue;
        cases.push_back(
            {fmt::format("conversations deep page ({}–{}), {}", deep.size() / 2 * 50, deep.size() * 50, name),
             o.store.calls, [&filter, &rng, deep = std::move(deep)](Store& s, int) {
                 std::uniform_int_distribution<std::size_t> pick(deep.size() / 2, deep.size() - 1);
                 s.conversations(filter, 50, deep[pick(rng)]);
             }});
    }

    // The filter tabs' counts (GET /api/v1/conversations/counts), an agent's and an admin's.
    cases.push_back({"conversation counts, agent's view", o.store.calls / 10,
                     [&](Store& s, int) { s.conversation_counts(list("", "", "", me)); }});
    cases.push_back({"conversation counts, admin", o.store.calls / 10,
                     [&](Store& s, int) { s.conversation_counts(list("", "", "", "")); }});

    // History: the heavy conversations (numbers 0 … heavy - 1) and ordinary ones.
    std::vector<std::int64_t> heavy_ids;
    for (int c = 0; c < o.heavy; ++c)
        if (auto conversation = store->conversation_by_platform_id(sb::bench::channel_of(c), customer_id(c)))
            heavy_ids.push_back(conversation->id);
    std::uniform_int_distribution<std::size_t> heavy_pick(0, heavy_ids.size() - 1);
    std::uniform_int_distribution<std::int64_t> any_id(1, o.store.conversations);
    cases.push_back({"messages newest page, heavy conversation", o.store.calls,
                     [&](Store& s, int) { s.messages(heavy_ids[heavy_pick(rng)], 50, 0); }});
    cases.push_back(
        {"messages newest page, ordinary conversation (~8 msgs)", o.store.calls, [&](Store& s, int) {
             std::int64_t id = any_id(rng);
             while (std::find(heavy_ids.begin(), heavy_ids.end(), id) != heavy_ids.end()) id = any_id(rng);
             s.messages(id, 50, 0);
         }});
    // `before` = a random message of a heavy conversation: pages anywhere in its history.
    std::vector<std::int64_t> history;
    for (std::string before;;) {
        auto page = store->messages(heavy_ids.front(), 200, before.empty() ? 0 : std::stoll(before));
        for (const auto& m : page.items) history.push_back(m.id);
        if (page.next_cursor.empty()) break;
        before = page.next_cursor;
    }
    std::uniform_int_distribution<std::size_t> history_pick(0, history.size() - 1);
    cases.push_back({fmt::format("messages deep `before` page, heavy conversation ({} msgs)", history.size()),
                     o.store.calls,
                     [&](Store& s, int) { s.messages(heavy_ids.front(), 50, history[history_pick(rng)]); }});

    if (!o.store.postgres()) captured().clear();
    std::printf("\n| call (%s) | p50 µs | p99 µs | max µs | calls |\n|---|---:|---:|---:|---:|\n",
                o.store.backend.c_str());
    for (const auto& c : cases) row(c.name, c.calls, [&](int i) { c.call(*store, i); });

    bool all_indexed = true;
    if (!o.store.postgres()) {
        // The plans of what the store ran above.
        std::printf(
            "\nEXPLAIN QUERY PLAN of the statements Store::conversations() and Store::messages() ran:\n");
        sqlite3* db = nullptr;
        sqlite3_open_v2(o.store.db.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
        for (const auto& sql : captured()) {
            if (sql.find("ORDER BY c.last_activity_ms") == std::string::npos &&
                sql.find("FROM messages WHERE conversation_id") == std::string::npos)
                continue;
            all_indexed = explain(db, sql) && all_indexed;
        }
        sqlite3_close(db);
    } else if (o.pg_log.empty() || !fs::exists(o.pg_log)) {
        std::printf("\nplans: skipped (auto_explain writes them to the server's log: give --pg-log PATH)\n");
    } else {
        // Each case's sixth call on a connection of its own: a prepared statement's first five
        // executions are planned for their parameters, later ones may use the generic plan, as
        // the timed calls above did.
        std::printf("\nEXPLAIN (ANALYZE, BUFFERS) by auto_explain, from %s: each case's sixth call\n",
                    o.pg_log.c_str());
        for (const auto& c : cases) {
            auto explained = sb::store::open_postgres(with_auto_explain(o.store.dsn), 1);
            for (int i = 0; i < 5; ++i) c.call(*explained, i);
            const auto offset = fs::file_size(o.pg_log);
            c.call(*explained, 5);
            std::printf("\n%s:\n", c.name.c_str());
            // The counts read every conversation the filter selects: a scan is their plan.
            const bool indexed = print_logged_plans(o.pg_log, offset);
            if (!c.name.starts_with("conversation counts")) all_indexed = indexed && all_indexed;
        }
    }
    std::printf("%s\n", all_indexed ? "every step of the list and history plans uses an index"
                                    : "A FULL TABLE SCAN: see above");

    store.reset();
    admin.reset();
    if (!dir.empty()) fs::remove_all(dir);
    return all_indexed ? 0 : 1;
}
