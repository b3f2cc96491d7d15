#pragma once
// Rules both store backends share, so they cannot drift apart: the conversation cursor, the
// limit check and the order statuses move in. Internal to the store module.

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/store.hpp"

namespace sb::store {

// Keyset cursor of the conversation list: "<last_activity_ms>_<id>".
inline std::string conversation_cursor(const Conversation& c) {
    return fmt::format("{}_{}", c.last_activity_ms, c.id);
}

inline bool parse_int64(std::string_view text, std::int64_t& value) {
    if (text.empty() || text.front() == '-' || text.front() == '+') return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size();
}

// Throws std::invalid_argument (the API answers 400) for anything but a cursor we issued.
inline std::pair<std::int64_t, std::int64_t> parse_conversation_cursor(std::string_view cursor) {
    auto sep = cursor.find('_');
    std::int64_t activity = 0;
    std::int64_t id = 0;
    if (sep == std::string_view::npos || !parse_int64(cursor.substr(0, sep), activity) ||
        !parse_int64(cursor.substr(sep + 1), id))
        throw std::invalid_argument(fmt::format("malformed conversation cursor \"{}\"", cursor));
    return {activity, id};
}

// How a list statement takes ConversationFilter::status: one status as itself (the index
// seeks on it), several as ",a,b," (a filter on the rows walked). {single, set}; both "" = any.
inline std::pair<std::string, std::string> status_params(const std::string& status) {
    if (status.find(',') == std::string::npos) return {status, ""};
    return {"", "," + status + ","};
}

// Adds one row of a counts query (conversations with `assignee_id`, "" = unassigned, and
// `status`) to `counts` as ConversationCounts says.
inline void add_count(ConversationCounts& counts, const ConversationFilter& filter,
                      std::string_view assignee_id, std::string_view status, std::int64_t n) {
    auto add = [&](StatusCounts& c) {
        if (status == "open")
            c.open += n;
        else if (status == "pending")
            c.pending += n;
        else if (status == "snoozed")
            c.snoozed += n;
        else if (status == "resolved")
            c.resolved += n;
    };
    if (assignee_id.empty()) add(counts.unassigned);
    if (!filter.reader.empty() && assignee_id == filter.reader) add(counts.mine);
    if (filter.visible_to.empty() || assignee_id.empty() || assignee_id == filter.visible_to) add(counts.all);
}

// Label names as the backends return them: comma-separated (names have no commas), sorted.
inline std::vector<std::string> split_labels(std::string_view joined) {
    std::vector<std::string> labels;
    while (!joined.empty()) {
        auto comma = joined.find(',');
        labels.emplace_back(joined.substr(0, comma));
        if (comma == std::string_view::npos) break;
        joined.remove_prefix(comma + 1);
    }
    std::sort(labels.begin(), labels.end());
    return labels;
}

// A search's cursor: "o<offset>" of the next page. Ranked results have no key to seek from,
// and nobody reads a search more than a few pages deep, so offsets stop at kMaxSearchOffset.
inline constexpr std::int64_t kMaxSearchOffset = 1000;
inline std::string search_cursor(std::int64_t offset) { return fmt::format("o{}", offset); }
// 0 for the first page; std::invalid_argument for anything but a cursor search() issued.
inline std::int64_t parse_search_cursor(std::string_view cursor) {
    if (cursor.empty()) return 0;
    std::int64_t offset = 0;
    if (cursor.front() != 'o' || !parse_int64(cursor.substr(1), offset) || offset > kMaxSearchOffset)
        throw std::invalid_argument(fmt::format("malformed search cursor \"{}\"", cursor));
    return offset;
}
// The next page's cursor, when the search found more than `shown` from `offset` on.
inline std::string next_search_cursor(std::int64_t offset, std::size_t found, int shown) {
    if (found <= static_cast<std::size_t>(shown) || offset + shown > kMaxSearchOffset) return "";
    return search_cursor(offset + shown);
}
// Whether a search word is matched as the prefix of longer words ("ord" finds "order") or only
// as itself: a word of one character (a lone letter or digit, each Han or kana character) is
// matched as itself, in both stores alike, because as a prefix it would match a large part of
// every index and find nothing one wanted ("b" of "B-1042" would match every b-word).
inline std::size_t utf8_characters(std::string_view word) {
    return static_cast<std::size_t>(std::count_if(
        word.begin(), word.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}
inline bool match_as_prefix(std::string_view word) { return utf8_characters(word) > 1; }

// SearchTerms in an engine's query syntax: each word as `term(word)` gives it, joined by `all`,
// then `either` the phone number's digits as one. The words are letters and digits only
// (text/words.hpp), so nothing in them needs escaping.
template <typename Term>
std::string search_query(const SearchTerms& terms, Term&& term, std::string_view all,
                         std::string_view either) {
    std::string q = "(";
    for (const auto& w : terms.words) {
        if (q.size() > 1) q += all;
        q += term(w);
    }
    q += ')';
    if (!terms.phone.empty()) {
        q += either;
        q += term(terms.phone);
    }
    return q;
}

inline void require_search_type(std::string_view type) {
    if (type != "messages" && type != "conversations" && type != "contacts")
        throw std::invalid_argument(
            fmt::format("type is messages, conversations or contacts, got \"{}\"", type));
}

inline void require_positive_limit(int limit) {
    if (limit < 1) throw std::invalid_argument(fmt::format("limit must be at least 1, got {}", limit));
}

// Where a status may go: sent < delivered < read, and failed beats them all, because a
// platform reports a failure after "sent" and late receipts must not hide it.
inline int status_rank(std::string_view status) {
    if (status == "sent") return 1;
    if (status == "delivered") return 2;
    if (status == "read") return 3;
    if (status == "failed") return 4;
    return 0;
}

// What claim_retry() may take: a message the platform refused or whose fate is unknown, or one
// a retry left `sending` before `stale_before_ms` (its daemon stopped in the middle of it).
inline bool retryable(const Message& m, std::int64_t attempted_ms, std::int64_t stale_before_ms) {
    return m.status == "failed" || m.status == "unknown" ||
           (m.status == "sending" && attempted_ms < stale_before_ms);
}

}  // namespace sb::store
