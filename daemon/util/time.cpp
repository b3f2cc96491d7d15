#include "util/time.hpp"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace sb::util {

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

void two_digits(char* out, unsigned value) {
    out[0] = static_cast<char>('0' + value / 10);
    out[1] = static_cast<char>('0' + value % 10);
}

}  // namespace

// By hand rather than gmtime_r + fmt: it is on every stored event and message at least twice,
// and glibc's gmtime_r takes the time-zone lock each time. Days to a civil date as in Howard
// Hinnant's days_from_civil/civil_from_days (proleptic Gregorian, exact for every int64 day).
std::string rfc3339(std::int64_t epoch_ms) {
    std::int64_t secs = epoch_ms / 1000;
    std::int64_t millis = epoch_ms % 1000;
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    std::int64_t days = secs / 86'400;
    std::int64_t in_day = secs % 86'400;
    if (in_day < 0) {
        in_day += 86'400;
        days -= 1;
    }
    const std::int64_t z = days + 719'468;
    const std::int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
    const auto doe = static_cast<unsigned>(z - era * 146'097);                     // [0, 146096]
    const unsigned yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;  // [0, 399]
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                  // [0, 365]
    const unsigned mp = (5 * doy + 2) / 153;                                       // [0, 11]
    const unsigned day = doy - (153 * mp + 2) / 5 + 1;
    const unsigned month = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
    if (year < 0 || year > 9999)  // not a time anyone stores; written as the general formatter does
        return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", year, month, day, in_day / 3600,
                           in_day / 60 % 60, in_day % 60, millis);
    std::string out(24, '\0');
    char* p = out.data();
    two_digits(p, static_cast<unsigned>(year / 100));
    two_digits(p + 2, static_cast<unsigned>(year % 100));
    p[4] = '-';
    two_digits(p + 5, month);
    p[7] = '-';
    two_digits(p + 8, day);
    p[10] = 'T';
    two_digits(p + 11, static_cast<unsigned>(in_day / 3600));
    p[13] = ':';
    two_digits(p + 14, static_cast<unsigned>(in_day / 60 % 60));
    p[16] = ':';
    two_digits(p + 17, static_cast<unsigned>(in_day % 60));
    p[19] = '.';
    p[20] = static_cast<char>('0' + millis / 100);
    two_digits(p + 21, static_cast<unsigned>(millis % 100));
    p[23] = 'Z';
    return out;
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
