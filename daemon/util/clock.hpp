#pragma once
// Wall-clock time as the rules see it, injected so that tests can drive it: whatever stamps,
// expires or wakes something takes a Clock& (the process passes Clock::system()), never calls
// util::now_ms() itself.

#include <atomic>
#include <cstdint>

#include "util/time.hpp"

namespace sb::util {

class Clock {
public:
    virtual ~Clock() = default;
    // Milliseconds since the Unix epoch. Any thread.
    virtual std::int64_t now_ms() const = 0;

    // The system clock (util::now_ms()); lives as long as the process.
    static const Clock& system();
};

class SystemClock final : public Clock {
public:
    std::int64_t now_ms() const override { return util::now_ms(); }
};

inline const Clock& Clock::system() {
    static const SystemClock clock;
    return clock;
}

// A clock that moves only when told (tests).
class ManualClock final : public Clock {
public:
    explicit ManualClock(std::int64_t start_ms) : now_(start_ms) {}
    std::int64_t now_ms() const override { return now_.load(); }
    void set(std::int64_t ms) { now_ = ms; }
    void advance(std::int64_t ms) { now_ += ms; }

private:
    std::atomic<std::int64_t> now_;
};

}  // namespace sb::util
