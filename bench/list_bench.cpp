// Conversation list and history latency with many conversations (issue 4): builds a SQLite
// store with N conversations and M messages through the Store API (enqueue → claim → apply,
// the path webhooks take), then times Store::conversations() — first and deep keyset pages,
// with the filters GET /api/v1/conversations passes — and Store::messages() — newest and deep
// `before` pages — as p50/p99 over many calls. It prints EXPLAIN QUERY PLAN for the statements
// the store actually ran (captured with a trace hook, so the SQL is never copied here).
//
//   sb-bench-list [--conversations 100000] [--messages 1000000] [--calls 2000] [--db PATH]

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using sb::store::ConversationFilter;
using sb::store::Store;

struct Options {
    int conversations = 100'000;
    int messages = 1'000'000;
    int heavy = 10;            // conversations that get `heavy_share` of all messages
    double heavy_share = 0.2;  // so that deep `before` pages exist
    int agents = 20;
    int calls = 2'000;
    std::string db;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view key = argv[i];
        const char* value = argv[i + 1];
        if (key == "--conversations")
            o.conversations = std::atoi(value);
        else if (key == "--messages")
            o.messages = std::atoi(value);
        else if (key == "--calls")
            o.calls = std::atoi(value);
        else if (key == "--db")
            o.db = value;
        else {
            std::fprintf(stderr, "unknown option %s\n", argv[i]);
            std::exit(2);
        }
    }
    return o;
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// --- statement capture: every SQL text the store prepares, for EXPLAIN QUERY PLAN ---

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

void exec(sqlite3* db, const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
        std::fprintf(stderr, "%s: %s\n", sql.c_str(), error ? error : "?");
        std::exit(1);
    }
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

// --- building the data set ---

sb::events::NormalizedEvent message_event(int conversation, std::int64_t message, std::int64_t ts) {
    sb::events::NormalizedEvent ev;
    ev.type = sb::events::EventType::message;
    ev.conversation_id = std::to_string(1'000'000 + conversation);
    ev.conversation_kind = "private";
    ev.sender = {std::to_string(1'000'000 + conversation), "Customer " + std::to_string(conversation), "",
                 ""};
    ev.timestamp_ms = ts;
    ev.message_id = std::to_string(1'000'000 + conversation) + ":" + std::to_string(message);
    ev.content_type = "text";
    ev.content_json = R"({"type":"text","text":"Hello, I have a question about my order number )" +
                      std::to_string(message) + R"("})";
    return ev;
}

void populate(Store& store, const Options& o) {
    // Every conversation gets one message first (so all exist), the rest are spread at random:
    // `heavy_share` of them over the few heavy conversations, the others uniformly.
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int> any(0, o.conversations - 1);
    std::uniform_int_distribution<int> heavy(0, o.heavy - 1);
    std::uniform_real_distribution<double> coin(0, 1);
    std::vector<int> order;
    order.reserve(static_cast<std::size_t>(o.messages));
    for (int c = 0; c < o.conversations && c < o.messages; ++c) order.push_back(c);
    while (static_cast<int>(order.size()) < o.messages)
        order.push_back(coin(rng) < o.heavy_share ? heavy(rng) : any(rng));
    std::shuffle(order.begin() + std::min<std::ptrdiff_t>(o.conversations, o.messages), order.end(), rng);

    constexpr int kBatch = 2'000;  // events per apply() transaction, like a busy processor batch
    const std::int64_t base_ms = 1'760'000'000'000;
    const auto start = Clock::now();
    std::int64_t seq = 0;
    for (std::size_t first = 0; first < order.size(); first += kBatch) {
        const std::size_t last = std::min(order.size(), first + kBatch);
        // Two channels (a conversation's channel is its number's parity), so that the channel
        // filter means something: one queue row per channel, applied in one transaction.
        std::vector<sb::store::ParsedRow> rows;
        for (const std::string channel : {"tg", "wa"}) {
            sb::store::InboundRequest request{channel, "POST", "/webhooks/" + channel,
                                              "",      "{}",   base_ms + seq};
            store.enqueue(std::span(&request, 1));
            auto claimed = store.claim(1, base_ms + seq, 60'000);
            if (claimed.empty()) throw std::runtime_error("claim returned nothing");
            rows.push_back({claimed.front().id, channel, {}});
        }
        for (std::size_t i = first; i < last; ++i, ++seq)
            rows[static_cast<std::size_t>(order[i] % 2)].events.push_back(
                message_event(order[i], seq, base_ms + seq));
        store.apply(rows, base_ms + seq);
        if ((first / kBatch) % 50 == 0)
            std::fprintf(stderr, "\r  %zu / %zu messages (%.0f s)", last, order.size(), seconds_since(start));
    }
    const double took = seconds_since(start);
    std::printf(
        "populate: %d conversations, %d messages through enqueue/claim/apply in %.1f s (%.0f messages/s)\n",
        o.conversations, o.messages, took, o.messages / took);
}

// Assignment, status and labels, spread the way a busy team's would be: 30% unassigned, the
// rest over the agents; 60% resolved. Done in SQL in one transaction: 100k assign() calls, each its own
// fsync'd transaction, would measure the disk rather than set up the data set.
void distribute(const std::string& path, const std::vector<std::string>& agents) {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    exec(db, "BEGIN");
    exec(db, "UPDATE conversations SET status = CASE WHEN id % 10 < 6 THEN 'resolved' ELSE 'open' END");
    for (std::size_t k = 0; k < agents.size(); ++k) {
        exec(db, "UPDATE conversations SET assignee_id = '" + agents[k] +
                     "' WHERE id % 10 >= 3 AND (id / 10) % " + std::to_string(agents.size()) + " = " +
                     std::to_string(k));
    }
    // Labels on a fifth and a seventh of them, so that list items carry some.
    exec(db,
         "INSERT INTO labels (name, color, created_ms) VALUES ('billing', '#ff8800', 0), ('vip', '#aa00ff', "
         "0)");
    exec(db,
         "INSERT INTO conversation_labels (conversation_id, label) SELECT id, 'billing' FROM conversations "
         "WHERE id % 5 = 0");
    exec(db,
         "INSERT INTO conversation_labels (conversation_id, label) SELECT id, 'vip' FROM conversations "
         "WHERE id % 7 = 0");
    exec(db, "COMMIT");
    exec(db, "ANALYZE");  // what a long-running database has after `PRAGMA optimize`
    sqlite3_close(db);
}

// --- measuring ---

struct Stats {
    double p50_us, p99_us, max_us;
};

Stats measure(int calls, const std::function<void(int)>& call) {
    std::vector<double> us;
    us.reserve(static_cast<std::size_t>(calls));
    for (int i = 0; i < calls; ++i) {
        const auto start = Clock::now();
        call(i);
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    std::sort(us.begin(), us.end());
    auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * us.size()))]; };
    return {at(0.50), at(0.99), us.back()};
}

void row(const char* name, const Stats& s, int calls) {
    std::printf("| %-52s | %8.0f | %8.0f | %8.0f | %6d |\n", name, s.p50_us, s.p99_us, s.max_us, calls);
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
    const Options o = parse(argc, argv);
    fs::path dir;
    std::string path = o.db;
    if (path.empty()) {
        dir = fs::temp_directory_path() / ("sb-bench-list-" + std::to_string(::getpid()));
        fs::create_directories(dir);
        path = (dir / "switchboard.db").string();
    }
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(trace_connection));

    std::vector<std::string> agents;
    {
        auto store = sb::store::open_sqlite(path);
        store->migrate();
        if (store->conversation(1)) {
            std::printf("populate: reusing %s\n", path.c_str());
        } else {
            populate(*store, o);
        }
        for (const auto& agent : store->agents()) agents.push_back(agent.id);
        if (agents.empty()) {
            for (int i = 0; i < o.agents; ++i)
                agents.push_back(store->create_agent("Agent " + std::to_string(i), "agent", 0).id);
            distribute(path, agents);
        }
    }
    auto store = sb::store::open_sqlite(path);
    captured().clear();
    const std::string me = agents.front();
    std::printf("database: %s (%.0f MB)\n", path.c_str(), static_cast<double>(fs::file_size(path)) / 1e6);

    // Conversation lists: limit 50, the API's default.
    struct Listing {
        const char* name;
        ConversationFilter filter;
    };
    // Every call is an inbox page as GET /api/v1/conversations asks for it: with the caller's
    // read state (its unread counts), the last message, assignee and labels of each item.
    auto list = [&](std::string status, std::string channel, std::string assignee, std::string visible_to) {
        ConversationFilter f;
        f.status = std::move(status);
        f.channel_id = std::move(channel);
        f.assignee = std::move(assignee);
        f.visible_to = std::move(visible_to);
        f.reader = me;
        return f;
    };
    const std::vector<Listing> listings{
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
        {"agent's view: label=vip, visible_to=<agent>",
         [&] {
             auto f = list("", "", "", me);
             f.label = "vip";
             return f;
         }()},
    };
    std::printf("\n| call | p50 µs | p99 µs | max µs | calls |\n|---|---:|---:|---:|---:|\n");
    std::mt19937_64 rng(7);
    for (const auto& listing : listings) {
        row((std::string("conversations first page, ") + listing.name).c_str(),
            measure(o.calls, [&](int) { store->conversations(listing.filter, 50, ""); }), o.calls);
        auto deep = cursors(*store, listing.filter, 400);  // up to 20,000 conversations deep
        if (deep.size() < 2) continue;
        std::uniform_int_distribution<std::size_t> pick(deep.size() / 2, deep.size() - 1);
        row((std::string("conversations deep page (") + std::to_string(deep.size() / 2 * 50) + "–" +
             std::to_string(deep.size() * 50) + "), " + listing.name)
                .c_str(),
            measure(o.calls, [&](int) { store->conversations(listing.filter, 50, deep[pick(rng)]); }),
            o.calls);
    }

    // The filter tabs' counts (GET /api/v1/conversations/counts), an agent's and an admin's.
    row("conversation counts, agent's view",
        measure(o.calls / 10, [&](int) { store->conversation_counts(list("", "", "", me)); }), o.calls / 10);
    row("conversation counts, admin",
        measure(o.calls / 10, [&](int) { store->conversation_counts(list("", "", "", "")); }), o.calls / 10);

    // History: the heavy conversations (ids 1..10 are the first ten created) and ordinary ones.
    std::uniform_int_distribution<std::int64_t> heavy_id(1, o.heavy);
    std::uniform_int_distribution<std::int64_t> any_id(o.heavy + 1, o.conversations);
    row("messages newest page, heavy conversation",
        measure(o.calls, [&](int) { store->messages(heavy_id(rng), 50, 0); }), o.calls);
    row("messages newest page, ordinary conversation (~8 msgs)",
        measure(o.calls, [&](int) { store->messages(any_id(rng), 50, 0); }), o.calls);
    {
        // `before` = a random message of a heavy conversation: pages anywhere in its history.
        std::vector<std::int64_t> ids;
        std::string before;
        for (;;) {
            auto page = store->messages(1, 200, before.empty() ? 0 : std::stoll(before));
            for (const auto& m : page.items) ids.push_back(m.id);
            if (page.next_cursor.empty()) break;
            before = page.next_cursor;
        }
        std::uniform_int_distribution<std::size_t> pick(0, ids.size() - 1);
        row(("messages deep `before` page, heavy conversation (" + std::to_string(ids.size()) + " msgs)")
                .c_str(),
            measure(o.calls, [&](int) { store->messages(1, 50, ids[pick(rng)]); }), o.calls);
    }

    // The plans of what the store ran above.
    std::printf("\nEXPLAIN QUERY PLAN of the statements Store::conversations() and Store::messages() ran:\n");
    sqlite3* db = nullptr;
    sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    bool all_indexed = true;
    for (const auto& sql : captured()) {
        if (sql.find("ORDER BY c.last_activity_ms") == std::string::npos &&
            sql.find("FROM messages WHERE conversation_id") == std::string::npos)
            continue;
        all_indexed = explain(db, sql) && all_indexed;
    }
    sqlite3_close(db);
    std::printf("%s\n", all_indexed ? "every step uses an index" : "A FULL TABLE SCAN: see above");

    store.reset();
    if (!dir.empty()) fs::remove_all(dir);
    return all_indexed ? 0 : 1;
}
