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

std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
    std::size_t at = 0;
    auto digits = [&](int n) -> std::optional<int> {
        int value = 0;
        for (int i = 0; i < n; ++i, ++at) {
            if (at >= text.size() || text[at] < '0' || text[at] > '9') return std::nullopt;
            value = value * 10 + (text[at] - '0');
        }
        return value;
    };
    auto expect = [&](std::string_view any_of) {
        if (at >= text.size() || any_of.find(text[at]) == std::string_view::npos) return false;
        ++at;
        return true;
    };
    std::tm tm{};
    auto year = digits(4);
    if (!year || !expect("-")) return std::nullopt;
    auto month = digits(2);
    if (!month || !expect("-")) return std::nullopt;
    auto day = digits(2);
    if (!day || !expect("Tt ")) return std::nullopt;
    auto hour = digits(2);
    if (!hour || !expect(":")) return std::nullopt;
    auto minute = digits(2);
    if (!minute || !expect(":")) return std::nullopt;
    auto second = digits(2);
    if (!second || *month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 ||
        *second > 60)
        return std::nullopt;
    std::int64_t millis = 0;
    if (at < text.size() && text[at] == '.') {
        ++at;
        int scale = 100, count = 0;
        for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, ++count) {
            millis += (text[at] - '0') * scale;
            scale /= 10;
        }
        if (count == 0) return std::nullopt;
    }
    std::int64_t offset_s = 0;
    if (expect("Zz")) {
    } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
        const int sign = text[at++] == '-' ? -1 : 1;
        auto oh = digits(2);
        if (!oh || !expect(":")) return std::nullopt;
        auto om = digits(2);
        if (!om) return std::nullopt;
        offset_s = sign * (*oh * 3600 + *om * 60);
    } else {
        return std::nullopt;
    }
    if (at != text.size()) return std::nullopt;
    tm.tm_year = *year - 1900;
    tm.tm_mon = *month - 1;
    tm.tm_mday = *day;
    tm.tm_hour = *hour;
    tm.tm_min = *minute;
    tm.tm_sec = *second;
    const std::int64_t secs = static_cast<std::int64_t>(timegm(&tm)) - offset_s;
    return secs * 1000 + millis;
}

}  // namespace sb::util
