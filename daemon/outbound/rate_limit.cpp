#include "outbound/rate_limit.hpp"

#include <algorithm>

namespace sb::outbound {

Limits limits_for(const std::string& plugin_id, const config::RateLimitConfig& config) {
    Limits limits;
    if (plugin_id == "telegram") {
        // Bot API FAQ: about 30 messages a second overall, one a second to one chat, 20 a minute
        // to one group.
        limits = Limits{30, 1000, 3000, 0};
    } else if (plugin_id == "whatsapp") {
        // Cloud API: 80 messages a second per business number by default. The pair rate (about
        // one message per 6 s to one user, bursts tolerated) is not paced ahead: a 131056 answer
        // backs that user off instead.
        limits = Limits{80, 0, 0, 6000};
    } else if (plugin_id == "messenger" || plugin_id == "instagram") {
        limits = Limits{300, 0, 0, 0};  // Send API: 300 calls/s per Page (text) or IG account
    }
    if (config.per_second >= 0) limits.per_second = config.per_second;
    if (config.recipient_interval_ms >= 0) limits.recipient_interval_ms = config.recipient_interval_ms;
    if (config.group_interval_ms >= 0) limits.group_interval_ms = config.group_interval_ms;
    return limits;
}

void RateLimiter::prune(ChannelState& state, Clock::time_point now) {
    // Slots more than a second in the past can no longer be too close to a new one.
    state.slots.erase(state.slots.begin(), state.slots.lower_bound(now - std::chrono::seconds(1)));
    if (state.recipients.size() > 10'000)
        std::erase_if(state.recipients, [now](const auto& entry) { return entry.second <= now; });
}

RateLimiter::Slot RateLimiter::reserve(const std::string& channel, const Limits& limits,
                                       const std::string& recipient, bool group, Clock::time_point now,
                                       Clock::time_point latest) {
    std::lock_guard lock(mutex_);
    auto& state = channels_[channel];
    prune(state, now);
    Slot slot;
    slot.at = now;
    if (auto it = state.recipients.find(recipient); it != state.recipients.end())
        slot.at = std::max(slot.at, it->second);
    if (limits.per_second > 0) {
        // The first time at or after slot.at that is a whole interval away from every reserved
        // slot: a chat that must wait does not hold up the channel's other chats.
        const auto interval = std::chrono::duration_cast<Clock::duration>(
            std::chrono::microseconds(1'000'000 / limits.per_second));
        for (auto it = state.slots.lower_bound(slot.at - interval + Clock::duration(1));
             it != state.slots.end() && *it < slot.at + interval; ++it)
            slot.at = *it + interval;
    }
    if (slot.at > latest) return slot;
    slot.reserved = true;
    state.slots.insert(slot.at);
    const int spacing = group ? limits.group_interval_ms : limits.recipient_interval_ms;
    if (spacing > 0) state.recipients[recipient] = slot.at + std::chrono::milliseconds(spacing);
    return slot;
}

void RateLimiter::back_off(const std::string& channel, const std::string& recipient,
                           Clock::time_point until) {
    std::lock_guard lock(mutex_);
    auto& next = channels_[channel].recipients[recipient];
    next = std::max(next, until);
}

}  // namespace sb::outbound
