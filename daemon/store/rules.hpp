#pragma once
// Rules both store backends share, so they cannot drift apart: the conversation cursor, the
// limit check and the order statuses move in. Internal to the store module.

#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

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
