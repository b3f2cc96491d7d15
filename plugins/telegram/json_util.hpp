#pragma once
// The SDK's hardened JSON reader (switchboard/json.hpp) and exception types, under the names the
// Telegram translation code uses, and the one text measure only Telegram needs.

#include <switchboard/json.hpp>
#include <switchboard/plugin.hpp>

#include <cstddef>
#include <string_view>

namespace sb::telegram {

using namespace switchboard::json;  // parse_untrusted, find_*, integer_text, to_json, write_*
using switchboard::decimal;
using switchboard::InvalidInput;
using switchboard::Unsupported;
using JsonWriter = switchboard::json::Writer;

// Length of valid UTF-8 `text` in UTF-16 code units, the unit Telegram counts limits in.
inline std::size_t utf16_length(std::string_view text) {
    std::size_t units = 0;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if ((byte & 0xC0) == 0x80) continue;  // continuation byte
        units += byte >= 0xF0 ? 2 : 1;        // 4-byte sequences are surrogate pairs in UTF-16
    }
    return units;
}

}  // namespace sb::telegram
