#include "util/time.hpp"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace sb::util {

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string rfc3339(std::int64_t epoch_ms) {
    std::int64_t secs = epoch_ms / 1000;
    std::int64_t millis = epoch_ms % 1000;
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

}  // namespace sb::util
