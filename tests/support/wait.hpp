#pragma once
// Waiting on a condition, for process-level tests: the daemon, the fake platforms and the
// agents run side by side, so a test waits until what it asserts has happened (polling, with a
// deadline that fails the test instead of hanging it), never for a fixed time. A fixed window
// is right only for "this does NOT happen": say so where one is used.

#include <chrono>
#include <thread>

namespace sb::test {

// Generous, for a loaded 2-core CI box; a wait ends as soon as its condition holds.
inline constexpr std::chrono::milliseconds kDefaultWait{10'000};

// Calls `condition` until it returns true or `timeout` has passed, sleeping `poll` between
// calls; true when it held. It is asked once more after the deadline, so a condition that
// became true during the last sleep still counts. `condition` may itself block (e.g. read a
// frame with a timeout): that time counts against the deadline too.
template <typename Condition>
bool wait_until(Condition&& condition, std::chrono::milliseconds timeout = kDefaultWait,
                std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(poll);
    }
}

}  // namespace sb::test
