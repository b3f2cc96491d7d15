#pragma once
// The daemon assembled: store, plugins and channels, server, processors, notifier. Built from
// a validated Config; run() serves until SIGINT or SIGTERM.

#include <string>

#include "config/config.hpp"

namespace sb::app {

// Starts everything and serves until a stop signal. Returns the process exit code; start-up
// failures (store, listener) are logged as one line naming what to fix and return non-zero.
// SIGHUP re-reads `config_path`: channels are added, removed and reconfigured without dropping
// connections; an invalid file is rejected with its errors logged and the old config kept.
int run(const config::Config& config, const std::string& config_path);

// `switchboardd --check-config FILE`: the config as a whole (every problem, by key and line),
// then each channel as the daemon would start it: its plugin loaded from plugins.dir and
// opened with its settings (the plugin's own validation, against its config_schema). Prints
// OK or every problem; returns the exit code. Touches no store and no network.
int check_config(const std::string& path);

// `switchboardd migrate`: brings the configured store's schema up to date and exits.
int migrate(const config::Config& config);

}  // namespace sb::app
