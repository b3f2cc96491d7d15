#pragma once
// The one rule for the names people type and the API looks things up by (label names, canned
// replies' shortcodes): case-blind, and a short run of a-z, 0-9, _ and -.

#include <cstddef>
#include <string>
#include <string_view>

namespace sb::domain {

inline constexpr std::string_view kNameCharacters = "abcdefghijklmnopqrstuvwxyz0123456789_-";

// `name` lower-cased, or std::invalid_argument (naming it as `what`, e.g. "a label name") unless
// it is then 1..`max_length` of kNameCharacters.
std::string lower_name(std::string_view name, std::size_t max_length, std::string_view what);

}  // namespace sb::domain
