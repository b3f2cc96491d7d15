#pragma once
// The daemon assembled: store, plugins and channels, server, processors, notifier. Built from
// a validated Config; run() serves until SIGINT or SIGTERM.

#include "config/config.hpp"

namespace sb::app {

// Starts everything and serves until a stop signal. Returns the process exit code; start-up
// failures (store, listener) are logged as one line naming what to fix and return non-zero.
int run(const config::Config& config);

}  // namespace sb::app
