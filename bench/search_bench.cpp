// Search latency at 1M messages / 100k contacts (issue 15): builds a store (SQLite or
// PostgreSQL) with N conversations, one contact each, and M messages through the Store API
// (enqueue → claim → apply, the path webhooks take: bench/common/bench_store.hpp), with text
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

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/bench_store.hpp"
#include "domain/search.hpp"
#include "store/store.hpp"

namespace {

using sb::store::ConversationFilter;
using sb::store::SearchRequest;
using sb::store::Store;

struct Options {
    sb::bench::StoreOptions store;
    int agents = 20;
    double seconds = 20;  // per case at most (at least 20 calls): a slow case ends sooner
};

Options parse(int argc, char** argv) {
    Options o;
    o.store.calls = 500;
    sb::bench::parse_options(argc, argv, o.store, [&](std::string_view key, const char* value) {
        if (key == "--seconds")
            o.seconds = std::atof(value);
        else
            return false;
        return true;
    });
    sb::bench::resolve_store_options(o.store, "sb-bench-search", "sb_bench_search");
    return o;
}

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

// --- measuring ---

// Each case: o.store.calls calls, or fewer once o.seconds have passed (at least 20).
void row(const std::string& name, const Options& o, const std::function<std::size_t(int)>& call) {
    auto t = sb::bench::time_calls(o.store.calls, call, o.seconds);
    auto& s = t.latency;
    std::printf("| %-58s | %8.2f | %8.2f | %8.2f | %5zu | %4zu | %s |\n", name.c_str(), s.percentile_ms(50),
                s.percentile_ms(99), s.max_ms(), s.count(), t.first_result,
                s.percentile_ms(50) <= 20 ? "yes" : "**no**");
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    TextSource text(20'000);
    auto store = sb::bench::open_store(o.store);
    auto admin = sb::bench::open_admin(o.store);
    if (admin->scalar("SELECT count(*) FROM messages") >= o.store.messages) {
        std::printf("populate: reusing %s\n", sb::bench::describe(o.store).c_str());
    } else {
        if (admin->scalar("SELECT count(*) FROM messages") > 0) {
            std::fprintf(stderr, "the store is partly populated: start from an empty one\n");
            return 1;
        }
        // Every conversation gets one message first (so that all exist), the rest go to
        // conversations at random.
        std::mt19937_64 rng(42);
        std::uniform_int_distribution<int> any(0, o.store.conversations - 1);
        sb::bench::populate(*store, o.store, [&](std::int64_t i, std::int64_t ts) {
            const int c = i < o.store.conversations ? static_cast<int>(i) : any(rng);
            return sb::bench::BenchMessage{c, message_event(c, i, ts, text.message(rng, c))};
        });
    }
    std::vector<std::string> agents;
    for (const auto& agent : store->agents()) agents.push_back(agent.id);
    if (agents.empty()) {
        for (int i = 0; i < o.agents; ++i)
            agents.push_back(store->create_agent(fmt::format("Agent {}", i), "agent", 0).id);
        admin->exec_in_transaction(sb::bench::assignment_sql(agents));
        admin->analyze();
    }
    std::printf("store: %s, %lld messages, %lld contacts, %lld conversations (%lld assigned)\n",
                o.store.backend.c_str(),
                static_cast<long long>(admin->scalar("SELECT count(*) FROM messages")),
                static_cast<long long>(admin->scalar("SELECT count(*) FROM contacts")),
                static_cast<long long>(admin->scalar("SELECT count(*) FROM conversations")),
                static_cast<long long>(
                    admin->scalar("SELECT count(*) FROM conversations WHERE assignee_id IS NOT NULL")));
    const std::string agent = agents.front();

    // The queries: fixed ones, and rare ones / phone numbers drawn per call.
    const auto& words = text.words();
    std::mt19937_64 rng(7);
    auto rare = [&](int) { return words[10'000 + rng() % 10'000]; };  // ~60–120 occurrences each
    auto phone = [&](int) {
        int c = static_cast<int>(rng() % static_cast<std::uint64_t>(o.store.conversations));
        while (!has_phone(c)) c = (c + 1) % o.store.conversations;
        return phone_of(c);
    };
    auto order_number = [&](int) { return fmt::format("B-{}", 1'000 + rng() % 99'000); };
    auto full_name = [&](int) {
        return contact_name(static_cast<int>(rng() % static_cast<std::uint64_t>(o.store.conversations)));
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
        o.store.backend.c_str());
    auto search = [&](const std::string& type, const Query& query) {
        for (const auto& [who, visible_to] : viewers) {
            row(fmt::format("search {}, {}, {}", type, query.name, who), o, [&](int i) {
                SearchRequest r;
                r.type = type;
                r.terms = sb::domain::search_terms(query.q(i));
                r.visible_to = visible_to;
                r.limit = 20;
                return store->search(r).items.size();
            });
        }
    };
    for (const auto& query : message_queries) search("messages", query);
    for (const auto& query : contact_queries) search("contacts", query);
    search("conversations", contact_queries.front());
    for (const auto& query : list_queries) {
        for (const auto& [who, visible_to] : viewers) {
            row(fmt::format("list q=, {}, {}", query.name, who), o, [&](int i) {
                ConversationFilter f;
                f.visible_to = visible_to;
                f.reader = agent;
                f.search = sb::domain::search_terms(query.q(i));
                return store->conversations(f, 50, "").items.size();
            });
        }
    }
    return 0;
}
