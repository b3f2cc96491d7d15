#pragma once
// Reading untrusted JSON with the SDK's hardened reader (switchboard/json.hpp: bounded nesting,
// validated UTF-8, finite numbers), at the nesting limit of this plugin's payloads. Writing goes
// through switchboard::JsonWriter (switchboard/plugin.hpp).

#include <switchboard/json.hpp>
#include <switchboard/plugin.hpp>

#include <string_view>

namespace api_channel {

using switchboard::json::member;
using switchboard::json::string_of;
using switchboard::json::Value;

// Normalized events nest about five levels (event > content > media). Anything much deeper is
// hostile; refusing it before parsing keeps RapidJSON's recursive parts off a deep stack.
inline constexpr int kMaxDepth = 32;

// Parses untrusted `text` into `doc`. Throws switchboard::InvalidInput("<what>: ...").
inline void parse_untrusted(rapidjson::Document& doc, std::string_view text, std::string_view what) {
    switchboard::json::Limits limits;
    limits.max_depth = kMaxDepth;
    switchboard::json::parse_untrusted(doc, text, what, limits);
}

}  // namespace api_channel
