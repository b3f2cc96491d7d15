#pragma once
// The SDK's hardened JSON reader (switchboard/json.hpp) and exception types, under the names the
// Meta plugins' translation code uses, and the number and text helpers only Meta needs.

#include <switchboard/json.hpp>
#include <switchboard/plugin.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sb::meta {

using namespace switchboard::json;  // parse_untrusted, find_*, integer_text, to_json, write_*
using switchboard::decimal;
using switchboard::InvalidInput;
using switchboard::Unsupported;
using JsonWriter = switchboard::json::Writer;

// A non-negative decimal integer in a string ("1698266945"), nullopt for anything else.
std::optional<std::int64_t> parse_decimal(std::string_view text);

// Number of Unicode code points in valid UTF-8 `text` (Graph API limits count characters).
std::size_t utf8_length(std::string_view text);

}  // namespace sb::meta
