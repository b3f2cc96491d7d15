#pragma once
// Agents as colleagues: the availability each one sets for itself.

#include <stdexcept>
#include <string_view>

namespace sb::domain {

// online: takes new conversations; busy: keeps its own, gets no new ones; offline: away.
// Anything else is std::invalid_argument.
inline void check_availability(std::string_view availability) {
    if (availability != "online" && availability != "busy" && availability != "offline")
        throw std::invalid_argument("availability must be online, busy or offline");
}

}  // namespace sb::domain
