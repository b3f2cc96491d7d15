#pragma once
// Logging: one line per event, `key=value` fields, to stderr. Under systemd (JOURNAL_STREAM
// set) each line starts with a <N> priority prefix that journald understands.

#include <string_view>

#include <spdlog/spdlog.h>

namespace sb::log {

// Installs the process-wide logger. Unknown level names fall back to info.
void init(std::string_view level);

}  // namespace sb::log
