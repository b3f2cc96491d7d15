#include "domain/names.hpp"

#include <cctype>
#include <stdexcept>

#include <fmt/format.h>

namespace sb::domain {

std::string lower_name(std::string_view name, std::size_t max_length, std::string_view what) {
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool valid = !lower.empty() && lower.size() <= max_length &&
                       lower.find_first_not_of(kNameCharacters) == std::string::npos;
    if (!valid)
        throw std::invalid_argument(fmt::format(
            "{} is 1..{} of a-z, 0-9, _ and - (after lower-casing), got \"{}\"", what, max_length, name));
    return lower;
}

}  // namespace sb::domain
