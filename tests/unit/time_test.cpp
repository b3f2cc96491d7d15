#include <gtest/gtest.h>

#include <cstdint>
#include <ctime>
#include <random>
#include <string>

#include <fmt/format.h>

#include "util/time.hpp"

namespace {

// The C library's answer: gmtime_r and strftime, the milliseconds floored.
std::string reference(std::int64_t epoch_ms) {
    const std::int64_t millis = ((epoch_ms % 1000) + 1000) % 1000;
    const auto t = static_cast<std::time_t>((epoch_ms - millis) / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char date[64];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03}Z", date, millis);
}

TEST(Rfc3339, WritesWhatGmtimeWritesForEveryDayFrom1600To2400) {
    constexpr std::int64_t kDay = 86'400'000;
    const std::int64_t from = -11'676'096'000'000;  // 1600-01-01
    const std::int64_t to = 13'569'465'600'000;     // 2400-01-01
    std::mt19937_64 random(19);
    for (std::int64_t day = from; day <= to; day += kDay) {
        const std::int64_t ms = day + static_cast<std::int64_t>(random() % kDay);
        ASSERT_EQ(sb::util::rfc3339(ms), reference(ms)) << ms;
        ASSERT_EQ(sb::util::rfc3339(day), reference(day)) << day;
        ASSERT_EQ(sb::util::rfc3339(day - 1), reference(day - 1)) << day - 1;
    }
}

TEST(Rfc3339, WritesTheEpochAndReadsBackWhatItWrote) {
    EXPECT_EQ(sb::util::rfc3339(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(sb::util::rfc3339(-1), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(sb::util::rfc3339(1'732'540'000'123), "2024-11-25T13:06:40.123Z");
    EXPECT_EQ(sb::util::rfc3339(951'782'400'000), "2000-02-29T00:00:00.000Z");
    for (std::int64_t ms : {0LL, 1'732'540'000'123LL, 253'402'300'799'999LL})
        EXPECT_EQ(sb::util::parse_rfc3339(sb::util::rfc3339(ms)), ms);
    EXPECT_EQ(sb::util::rfc3339(253'402'300'800'000), reference(253'402'300'800'000)) << "year 10000";
}

}  // namespace
