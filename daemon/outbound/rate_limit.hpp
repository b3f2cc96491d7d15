#pragma once
// Pacing of replies, so that a platform's documented limits are met by waiting (within a
// send's deadline) instead of by the platform refusing: a minimum spacing between any two
// messages of a channel (its bot, number or page) and between two messages to one chat.
// A platform that still answers "too fast" pushes that chat's next slot out (back_off).

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "config/config.hpp"

namespace sb::outbound {

struct Limits {
    int per_second = 0;             // 0 = no channel limit
    int recipient_interval_ms = 0;  // 0 = no spacing per private chat
    int group_interval_ms = 0;      // 0 = no spacing per group chat
    // How long a chat is held back after the platform answered "too fast" without saying for
    // how long (0: the sender's own short retry wait).
    int backoff_ms = 0;
};

// The platform's documented defaults (docs/reliability.md has the table) with what the channel's
// `rate_limit` sets over them.
Limits limits_for(const std::string& plugin_id, const config::RateLimitConfig& config);

// Thread-safe; memory is bounded by the slots still ahead and the recipients seen recently.
class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;

    struct Slot {
        bool reserved = false;  // false: the slot is after `latest`; nothing was reserved
        Clock::time_point at;   // when the message may go
    };

    // The earliest time at or after `now` a message to `recipient` may go on `channel`. It is
    // reserved only when it is not later than `latest` (the send's deadline).
    Slot reserve(const std::string& channel, const Limits& limits, const std::string& recipient, bool group,
                 Clock::time_point now, Clock::time_point latest);

    // The platform refused a message to `recipient` as too fast: its next slot is not before `until`.
    void back_off(const std::string& channel, const std::string& recipient, Clock::time_point until);

private:
    struct ChannelState {
        std::multiset<Clock::time_point> slots;                         // reserved, not yet long past
        std::unordered_map<std::string, Clock::time_point> recipients;  // a chat's next free slot
    };
    static void prune(ChannelState& state, Clock::time_point now);

    std::mutex mutex_;
    std::map<std::string, ChannelState, std::less<>> channels_;
};

}  // namespace sb::outbound
