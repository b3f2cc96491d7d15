#pragma once
// The systemd service protocol (sd_notify): readiness, status, watchdog, stopping, reloading.
// Every call is a no-op when not started by systemd (no NOTIFY_SOCKET).

#include <chrono>
#include <optional>
#include <string_view>

namespace sb::service {

// Sends `state` ("READY=1", "STATUS=…", "WATCHDOG=1", …) to the service manager.
void notify(std::string_view state);

// The watchdog interval the unit asks for (WatchdogSec=), if any.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace sb::service
