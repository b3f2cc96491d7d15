#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::util {

// Milliseconds since the Unix epoch, from the system clock.
std::int64_t now_ms();

// "2024-11-25T13:26:40.123Z" (UTC, millisecond precision).
std::string rfc3339(std::int64_t epoch_ms);

// Milliseconds since the epoch of an RFC 3339 date-time ("2024-11-25T13:26:40Z", fractional
// seconds and a "+01:00" offset allowed), or nullopt when `text` is not one.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

}  // namespace sb::util
