#pragma once
#include <cstdint>
#include <string>

namespace sb::util {

// Milliseconds since the Unix epoch, from the system clock.
std::int64_t now_ms();

// "2024-11-25T13:26:40.123Z" (UTC, millisecond precision).
std::string rfc3339(std::int64_t epoch_ms);

}  // namespace sb::util
