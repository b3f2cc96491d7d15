#include "service/notify.hpp"

#include <string>

#include <systemd/sd-daemon.h>

namespace sb::service {

void notify(std::string_view state) {
    std::string message(state);
    sd_notify(0, message.c_str());
}

std::optional<std::chrono::microseconds> watchdog_interval() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) return std::chrono::microseconds(usec);
    return std::nullopt;
}

}  // namespace sb::service
