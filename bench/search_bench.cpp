// Search latency at 1M messages / 100k contacts (issue 15): builds a store (SQLite or
// PostgreSQL) with N conversations, one contact each, and M messages through the Store API
// (enqueue → claim → apply, the path webhooks take, as bench/list_bench.cpp does), with text
// drawn from a Zipf-distributed vocabulary (so that there are very common and very rare words),
// order numbers ("B-10427"), phone numbers in texts and in contacts, and names with
// diacritics. It assigns 70% of the conversations to 20 agents in SQL, then times
// Store::search() (messages, conversations, contacts; as an admin and as an agent) and the
// list with a search (ConversationFilter::search, limit 50) as p50/p99 over many calls.
//
//   sb-bench-search --backend sqlite --db PATH
//   sb-bench-search --backend postgres [--dsn DSN]   (no --dsn: a database of its own
//                                                      created from SB_TEST_PG_DSN)
//   [--conversations 100000] [--messages 1000000] [--calls 500] [--seconds 20]
//   [--apply-messages N]   (PostgreSQL: the first N messages through apply(), the rest COPYed)
//
// An existing, fully populated store is reused: a second run only measures.

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "domain/search.hpp"
#include "store/store.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using sb::store::ConversationFilter;
using sb::store::SearchRequest;
using sb::store::Store;

struct Options {
    std::string backend = "sqlite";
    std::string db;   // sqlite
    std::string dsn;  // postgres
    int conversations = 100'000;
    int messages = 1'000'000;
    int agents = 20;
    int calls = 500;
    int apply_messages = 1'000'000'000;  // through apply(); the rest COPYed (PostgreSQL only)
    double seconds = 20;                 // per case at most (at least 20 calls): a slow case ends sooner
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view key = argv[i];
        const char* value = argv[i + 1];
        if (key == "--backend")
            o.backend = value;
        else if (key == "--db")
            o.db = value;
        else if (key == "--dsn")
            o.dsn = value;
        else if (key == "--conversations")
            o.conversations = std::atoi(value);
        else if (key == "--messages")
            o.messages = std::atoi(value);
        else if (key == "--calls")
            o.calls = std::atoi(value);
        else if (key == "--apply-messages")
            o.apply_messages = std::atoi(value);
        else if (key == "--seconds")
            o.seconds = std::atof(value);
        else {
            std::fprintf(stderr, "unknown option %s\n", argv[i]);
            std::exit(2);
        }
    }
    if ((o.backend == "sqlite" && o.db.empty()) || (o.backend != "sqlite" && o.backend != "postgres")) {
        std::fprintf(stderr,
                     "usage: sb-bench-search --backend sqlite --db PATH | --backend postgres [--dsn DSN]\n");
        std::exit(2);
    }
    if (o.backend == "sqlite" && o.apply_messages < o.messages) {
        std::fprintf(stderr, "--apply-messages is for PostgreSQL only\n");
        std::exit(2);
    }
    return o;
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// --- the backend's own connection, for what the Store API does not do (assignment in bulk) ---

class Admin {
public:
    virtual ~Admin() = default;
    virtual void exec(const std::string& sql) = 0;
    virtual std::int64_t scalar(const std::string& sql) = 0;
};

class SqliteAdmin final : public Admin {
public:
    explicit SqliteAdmin(const std::string& path) {
        if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("cannot open " + path);
        sqlite3_busy_timeout(db_, 10'000);
    }
    ~SqliteAdmin() override { sqlite3_close(db_); }
    void exec(const std::string& sql) override {
        char* error = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK)
            throw std::runtime_error(fmt::format("{}: {}", sql, error ? error : "?"));
    }
    std::int64_t scalar(const std::string& sql) override {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
            throw std::runtime_error(fmt::format("{}: {}", sql, sqlite3_errmsg(db_)));
        std::int64_t value = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
        sqlite3_finalize(stmt);
        return value;
    }

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

private:
    pqxx::connection conn_;
};

// --- the text: a Zipf-like vocabulary, names, phone numbers, order numbers ---

// The head of the vocabulary, most frequent first: what support chats are made of. "order" is
// the 9th most frequent word, "the" the first.
constexpr std::array kHead{
    "the",      "i",       "to",        "my",       "you",      "and",      "a",        "is",
    "order",    "it",      "for",       "not",      "have",     "please",   "can",      "of",
    "in",       "me",      "this",      "hello",    "thanks",   "delivery", "when",     "was",
    "still",    "package", "on",        "we",       "your",     "with",     "payment",  "refund",
    "would",    "like",    "help",      "what",     "be",       "received", "account",  "there",
    "today",    "address", "an",        "number",   "could",    "ordered",  "problem",  "change",
    "why",      "just",    "yesterday", "tracking", "wrong",    "item",     "invoice",  "card",
    "return",   "size",    "colour",    "arrived",  "shipping", "cancel",   "paid",     "week",
    "store",    "status",  "email",     "phone",    "call",     "back",     "soon",     "waiting",
    "ordering", "price",   "discount",  "code",     "voucher",  "login",    "password", "app",
    "website",  "broken",  "damaged",   "missing",  "exchange", "warranty", "café",     "über",
    "señor",    "naïve",   "résumé",    "crème",    "façade",   "jalapeño", "smörgås",  "piñata",
    "déjà",     "vu",      "ordinary",
};

// A pseudo-word per rank beyond the head: syllables, so that the rare words look like words
// and share prefixes the way real ones do.
std::vector<std::string> vocabulary(std::size_t size) {
    static constexpr std::array kOnsets{"b",  "c",  "d",  "f",  "g",  "h",  "k",  "l", "m",
                                        "n",  "p",  "r",  "s",  "t",  "v",  "w",  "z", "br",
                                        "ch", "cl", "dr", "fl", "gr", "pl", "st", "tr"};
    static constexpr std::array kVowels{"a", "e", "i", "o", "u", "ai", "ea", "ou"};
    static constexpr std::array kCodas{"", "", "n", "r", "s", "t", "l", "m", "nd", "st"};
    std::vector<std::string> words(kHead.begin(), kHead.end());
    std::set<std::string> seen(words.begin(), words.end());
    std::mt19937_64 rng(1234);
    while (words.size() < size) {
        std::string w;
        const int syllables = 2 + static_cast<int>(rng() % 3);
        for (int s = 0; s < syllables; ++s) {
            w += kOnsets[rng() % kOnsets.size()];
            w += kVowels[rng() % kVowels.size()];
            w += kCodas[rng() % kCodas.size()];
        }
        if (seen.insert(w).second) words.push_back(std::move(w));
    }
    return words;
}

constexpr std::array kFirstNames{
    "José",   "Zoë",    "Chloé",  "Jürgen", "Søren",  "Łukasz",  "François", "Ángel",  "Anaïs",   "Björn",
    "Renée",  "Noémie", "Maria",  "John",   "Aisha",  "Mohamed", "Wei",      "Yuki",   "Olga",    "Priya",
    "Emma",   "Lucas",  "Sofia",  "Mateo",  "Ingrid", "Dmitri",  "Fatima",   "Kenji",  "Amélie",  "Nuño",
    "Zoltán", "Åsa",    "Hélène", "Çağla",  "Tomás",  "Oskar",   "Leïla",    "Mikael", "Nikolaj", "Grace"};
constexpr std::array kLastNames{
    "Müller",  "Núñez",     "Çelik",     "Østergaard", "Šimić",  "Kowalski",     "García",   "Smith",
    "Dvořák",  "Lefèvre",   "Schröder",  "Jönsson",    "Nguyen", "Papadopoulos", "Rossi",    "Ivanova",
    "O'Brien", "Yılmaz",    "Fernández", "Kim",        "Tanaka", "Haddad",       "Brown",    "Novák",
    "Łęcki",   "Håkansson", "Ruiz",      "Moreau",     "Weiß",   "Ólafsson",     "Patel",    "Chen",
    "Silva",   "Jensen",    "Bianchi",   "Horváth",    "Köhler", "Duarte",       "Petrović", "Walker"};

std::string contact_name(int c) {
    return fmt::format("{} {}", kFirstNames[static_cast<std::size_t>(c) % kFirstNames.size()],
                       kLastNames[static_cast<std::size_t>(c / 7) % kLastNames.size()]);
}
// 60% of the contacts have a phone number (WhatsApp-like); distinct per contact.
bool has_phone(int c) { return c % 10 < 6; }
std::string phone_of(int c) {
    const std::uint64_t n = 10'000'000 + (static_cast<std::uint64_t>(c) * 7'919) % 90'000'000;
    return fmt::format("+49 151 {} {}", n / 10'000, n % 10'000 + 1'000);
}
std::string customer_id(int c) { return std::to_string(1'000'000 + c); }

class TextSource {
public:
    explicit TextSource(std::size_t vocabulary_size) : words_(vocabulary(vocabulary_size)) {
        std::vector<double> weights;
        for (std::size_t r = 0; r < words_.size(); ++r) weights.push_back(1.0 / static_cast<double>(r + 1));
        zipf_ = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
    }
    const std::vector<std::string>& words() const { return words_; }

    // 4–20 words; 5% carry an order number, 2% the customer's phone number (or another one).
    std::string message(std::mt19937_64& rng, int conversation) {
        std::string text;
        const int n = 4 + static_cast<int>(rng() % 17);
        for (int i = 0; i < n; ++i) {
            if (!text.empty()) text += ' ';
            text += words_[zipf_(rng)];
        }
        const auto roll = rng() % 100;
        if (roll < 5)
            text += fmt::format(" order B-{}", 1'000 + rng() % 99'000);
        else if (roll < 7)
            text += fmt::format(
                " you can reach me at {}",
                phone_of(has_phone(conversation) ? conversation : static_cast<int>(rng() % 100'000)));
        return text;
    }

private:
    std::vector<std::string> words_;
    std::discrete_distribution<std::size_t> zipf_;
};

sb::events::NormalizedEvent message_event(int conversation, std::int64_t seq, std::int64_t ts,
                                          const std::string& text) {
    sb::events::NormalizedEvent ev;
    ev.type = sb::events::EventType::message;
    ev.conversation_id = customer_id(conversation);
    ev.conversation_kind = "private";
    const std::string name = contact_name(conversation);
    ev.conversation_title = name;
    ev.sender = {customer_id(conversation), name, fmt::format("user{}", conversation),
                 has_phone(conversation) ? phone_of(conversation) : ""};
    ev.timestamp_ms = ts;
    ev.message_id = fmt::format("{}:{}", customer_id(conversation), seq);
    ev.content_type = "text";
    // The text has no quote, backslash or control character: nothing to escape.
    ev.content_json = fmt::format(R"({{"type":"text","text":"{}"}})", text);
    return ev;
}

// The messages after the first `o.apply_messages` (PostgreSQL only: apply() there is slow
// enough that 1M of them would take most of an hour) are copied into `messages` with what
// apply() would have stored for them — the same rows, search_text from
// domain::message_search_text — and the conversations' activity is moved to them at the end.
void copy_messages(const std::string& dsn, const std::vector<sb::events::NormalizedEvent>& events,
                   const std::vector<std::int64_t>& created_ms) {
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
    for (std::size_t i = 0; i < events.size(); ++i) {
        const auto& ev = events[i];
        const std::string channel = std::stoi(ev.conversation_id) % 2 == 0 ? "tg" : "wa";
        copy << std::make_tuple(conversation_ids.at(fmt::format("{}/{}", channel, ev.conversation_id)),
                                channel, ev.message_id, std::string("in"), ev.sender.id, ev.sender.name,
                                ev.content_json, std::string("received"), ev.timestamp_ms, created_ms[i],
                                std::string("message"), sb::domain::message_search_text(ev.content_json));
    }
    copy.complete();
    tx.exec(
        "UPDATE conversations c SET last_activity_ms = greatest(c.last_activity_ms, m.activity), "
        "last_message_id = greatest(c.last_message_id, m.last_id) FROM (SELECT conversation_id, "
        "max(created_ms) AS activity, max(id) AS last_id FROM messages GROUP BY conversation_id) m "
        "WHERE c.id = m.conversation_id");
    tx.commit();
}

void populate(Store& store, const Options& o, TextSource& source) {
    // Every conversation gets one message first (so that all exist), the rest go to
    // conversations at random.
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int> any(0, o.conversations - 1);
    constexpr int kBatch = 2'000;  // events per apply() transaction, like a busy processor batch
    const std::int64_t base_ms = 1'760'000'000'000;
    const int applied = std::min(o.messages, std::max(o.apply_messages, o.conversations));
    const auto start = Clock::now();
    std::int64_t seq = 0;
    for (int first = 0; first < applied; first += kBatch) {
        const int last = std::min(applied, first + kBatch);
        // Two channels (a conversation's channel is its number's parity): one queue row each.
        std::vector<sb::store::ParsedRow> rows;
        for (const std::string channel : {"tg", "wa"}) {
            sb::store::InboundRequest request{channel, "POST", "/webhooks/" + channel,
                                              "",      "{}",   base_ms + seq};
            store.enqueue(std::span(&request, 1));
            auto claimed = store.claim(1, base_ms + seq, 60'000);
            if (claimed.empty()) throw std::runtime_error("claim returned nothing");
            rows.push_back({claimed.front().id, channel, {}});
        }
        for (int i = first; i < last; ++i, ++seq) {
            const int c = i < o.conversations ? i : any(rng);
            rows[static_cast<std::size_t>(c % 2)].events.push_back(
                message_event(c, seq, base_ms + seq, source.message(rng, c)));
        }
        store.apply(rows, base_ms + seq);
        if ((first / kBatch) % 25 == 0)
            std::fprintf(stderr, "\r  %d / %d messages (%.0f s)", last, o.messages, seconds_since(start));
    }
    const double took = seconds_since(start);
    std::printf(
        "populate: %d conversations/contacts, %d messages through enqueue/claim/apply in %.1f s "
        "(%.0f messages/s)\n",
        o.conversations, applied, took, applied / took);
    if (applied == o.messages) return;
    const auto copy_start = Clock::now();
    std::vector<sb::events::NormalizedEvent> events;
    std::vector<std::int64_t> created;
    for (int i = applied; i < o.messages; ++i, ++seq) {
        const int c = any(rng);
        events.push_back(message_event(c, seq, base_ms + seq, source.message(rng, c)));
        created.push_back(base_ms + seq);
    }
    copy_messages(o.dsn, events, created);
    std::printf(
        "populate: %d more messages copied into the table (COPY, search_text computed in C++) in %.1f s\n",
        o.messages - applied, seconds_since(copy_start));
}

// 30% unassigned, 70% over the agents (as bench/list_bench.cpp): in SQL, one transaction,
// since 70,000 assign() calls would measure the disk rather than set up the data set.
void distribute(Admin& admin, const std::vector<std::string>& agents, bool postgres) {
    if (!postgres) admin.exec("BEGIN");  // PgAdmin runs each statement on its own
    for (std::size_t k = 0; k < agents.size(); ++k)
        admin.exec(fmt::format(
            "UPDATE conversations SET assignee_id = '{}' WHERE id % 10 >= 3 AND (id / 10) % {} = {}",
            agents[k], agents.size(), k));
    if (!postgres) admin.exec("COMMIT");
    // What a long-running database has (autovacuum, `PRAGMA optimize`).
    admin.exec(postgres ? "VACUUM ANALYZE" : "ANALYZE");
}

// --- measuring ---

struct Stats {
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
    int calls = 0;
    std::size_t hits = 0;  // what the first call found (a page at most)
};

Stats measure(const Options& o, const std::function<std::size_t(int)>& call) {
    std::vector<double> ms;
    Stats s;
    const auto begin = Clock::now();
    for (int i = 0; i < o.calls; ++i) {
        const auto start = Clock::now();
        const std::size_t found = call(i);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        if (i == 0) s.hits = found;
        if (i >= 19 && seconds_since(begin) > o.seconds) break;
    }
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))]; };
    s.p50_ms = at(0.50);
    s.p99_ms = at(0.99);
    s.max_ms = ms.back();
    s.calls = static_cast<int>(ms.size());
    return s;
}

void row(const std::string& name, const Stats& s) {
    std::printf("| %-58s | %8.2f | %8.2f | %8.2f | %5d | %4zu | %s |\n", name.c_str(), s.p50_ms, s.p99_ms,
                s.max_ms, s.calls, s.hits, s.p50_ms <= 20 ? "yes" : "**no**");
    std::fflush(stdout);
}

std::string pg_bench_dsn() {
    const char* admin = std::getenv("SB_TEST_PG_DSN");
    if (admin == nullptr) {
        std::fprintf(stderr,
                     "--backend postgres needs --dsn or SB_TEST_PG_DSN (run under tools/with-postgres)\n");
        std::exit(2);
    }
    constexpr const char* kDatabase = "sb_bench_search";
    PgAdmin server(admin);
    if (server.scalar(fmt::format("SELECT count(*) FROM pg_database WHERE datname = '{}'", kDatabase)) == 0)
        server.exec(fmt::format("CREATE DATABASE {}", kDatabase));
    // keyword/value: a later keyword overrides an earlier one
    return fmt::format("{} dbname={}", admin, kDatabase);
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    const bool postgres = o.backend == "postgres";
    if (postgres && o.dsn.empty()) o.dsn = pg_bench_dsn();
    auto open = [&] { return postgres ? sb::store::open_postgres(o.dsn, 2) : sb::store::open_sqlite(o.db); };
    auto admin = [&]() -> std::unique_ptr<Admin> {
        if (postgres) return std::make_unique<PgAdmin>(o.dsn);
        return std::make_unique<SqliteAdmin>(o.db);
    };

    TextSource source(20'000);
    auto store = open();
    store->migrate();
    if (admin()->scalar("SELECT count(*) FROM messages") >= o.messages) {
        std::printf("populate: reusing %s\n", postgres ? "the PostgreSQL database" : o.db.c_str());
    } else {
        if (admin()->scalar("SELECT count(*) FROM messages") > 0) {
            std::fprintf(stderr, "the store is partly populated: start from an empty one\n");
            return 1;
        }
        populate(*store, o, source);
    }
    std::vector<std::string> agents;
    for (const auto& agent : store->agents()) agents.push_back(agent.id);
    if (agents.empty()) {
        for (int i = 0; i < o.agents; ++i)
            agents.push_back(store->create_agent(fmt::format("Agent {}", i), "agent", 0).id);
        distribute(*admin(), agents, postgres);
    }
    {
        auto a = admin();
        std::printf("store: %s, %lld messages, %lld contacts, %lld conversations (%lld assigned)\n",
                    o.backend.c_str(), static_cast<long long>(a->scalar("SELECT count(*) FROM messages")),
                    static_cast<long long>(a->scalar("SELECT count(*) FROM contacts")),
                    static_cast<long long>(a->scalar("SELECT count(*) FROM conversations")),
                    static_cast<long long>(
                        a->scalar("SELECT count(*) FROM conversations WHERE assignee_id IS NOT NULL")));
    }
    const std::string agent = agents.front();

    // The queries: fixed ones, and rare ones / phone numbers drawn per call.
    const auto& words = source.words();
    std::mt19937_64 rng(7);
    auto rare = [&](int) { return words[10'000 + rng() % 10'000]; };  // ~60–120 occurrences each
    auto phone = [&](int) {
        int c = static_cast<int>(rng() % static_cast<std::uint64_t>(o.conversations));
        while (!has_phone(c)) c = (c + 1) % o.conversations;
        return phone_of(c);
    };
    auto order_number = [&](int) { return fmt::format("B-{}", 1'000 + rng() % 99'000); };
    auto full_name = [&](int) {
        return contact_name(static_cast<int>(rng() % static_cast<std::uint64_t>(o.conversations)));
    };
    auto fixed = [](std::string q) { return [q](int) { return q; }; };
    struct Query {
        std::string name;
        std::function<std::string(int)> q;
    };
    const std::vector<Query> message_queries{
        {"common word \"order\"", fixed("order")},
        {"most common word \"the\"", fixed("the")},
        {"rare word", rare},
        {"phone number \"+49 151 …\"", phone},
        {"prefix \"ord\"", fixed("ord")},
        {"order number \"B-…\"", order_number},
        {"two common words \"order delivery\"", fixed("order delivery")},
    };
    const std::vector<Query> contact_queries{
        {"common surname \"Muller\"", fixed("Muller")},
        {"full name", full_name},
        {"phone number \"+49 151 …\"", phone},
        {"prefix \"mül\"", fixed("mül")},
    };
    const std::vector<Query> list_queries{
        {"common word \"order\"", fixed("order")},      {"rare word", rare},
        {"phone number \"+49 151 …\"", phone},          {"prefix \"ord\"", fixed("ord")},
        {"common surname \"Muller\"", fixed("Muller")},
    };
    const std::array<std::pair<const char*, std::string>, 2> viewers{std::pair{"admin", std::string()},
                                                                     std::pair{"agent", agent}};

    std::printf(
        "\n| call (%s) | p50 ms | p99 ms | max ms | calls | hits | p50 ≤ 20 ms |\n"
        "|---|---:|---:|---:|---:|---:|---|\n",
        o.backend.c_str());
    auto search = [&](const std::string& type, const Query& query) {
        for (const auto& [who, visible_to] : viewers) {
            row(fmt::format("search {}, {}, {}", type, query.name, who), measure(o, [&](int i) {
                    SearchRequest r;
                    r.type = type;
                    r.terms = sb::domain::search_terms(query.q(i));
                    r.visible_to = visible_to;
                    r.limit = 20;
                    return store->search(r).items.size();
                }));
        }
    };
    for (const auto& query : message_queries) search("messages", query);
    for (const auto& query : contact_queries) search("contacts", query);
    search("conversations", contact_queries.front());
    for (const auto& query : list_queries) {
        for (const auto& [who, visible_to] : viewers) {
            row(fmt::format("list q=, {}, {}", query.name, who), measure(o, [&](int i) {
                    ConversationFilter f;
                    f.visible_to = visible_to;
                    f.reader = agent;
                    f.search = sb::domain::search_terms(query.q(i));
                    return store->conversations(f, 50, "").items.size();
                }));
        }
    }
    return 0;
}
