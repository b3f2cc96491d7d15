#pragma once
// Reading untrusted JSON (webhook bodies, Graph API answers, outbound requests) with RapidJSON
// and writing normalized JSON: shared by the Meta plugins. Every reader checks the type before
// it calls GetX(); nothing here trusts its input.

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sb::meta {

// Input that can never be used (malformed payload, bad settings, bad outbound request): the
// plugin returns SB_E_INVALID with what() as the message.
class InvalidInput : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A request the plugin understands but the platform (or the plugin) cannot carry out:
// SB_E_UNSUPPORTED.
class Unsupported : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

using Value = rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Meta payloads nest about eight levels (entry > changes > value > messages > interactive >
// list_reply); anything much deeper is hostile and refused before RapidJSON sees it.
inline constexpr int kMaxJsonDepth = 64;

// Parses untrusted `text` into `doc`: UTF-8 validated, nesting bounded, iterative (no recursion
// on the input's shape). Throws InvalidInput("<what>: ...") naming the first problem.
void parse_untrusted(rapidjson::Document& doc, std::string_view text, std::string_view what);

// Typed optional access to a member of `object`: nullopt / nullptr when `object` is not an
// object, the key is missing or the member has another type.
const Value* find_member(const Value& object, const char* key);
const Value* find_object(const Value& object, const char* key);
const Value* find_array(const Value& object, const char* key);
std::optional<std::string_view> find_string(const Value& object, const char* key);
std::optional<std::int64_t> find_int(const Value& object, const char* key);
std::optional<double> find_number(const Value& object, const char* key);
std::optional<bool> find_bool(const Value& object, const char* key);

// Decimal text of an integer (std::to_string's libstdc++ helpers would be exported from the
// plugin with default visibility).
std::string decimal(std::int64_t value);
std::string decimal(std::uint64_t value);
inline std::string decimal(int value) { return decimal(static_cast<std::int64_t>(value)); }

// Decimal text of a 64-bit integer value, nullopt for anything else.
std::optional<std::string> integer_text(const Value& value);

// A non-negative decimal integer in a string ("1698266945"), nullopt for anything else.
std::optional<std::int64_t> parse_decimal(std::string_view text);

// The value serialized compactly.
std::string to_json(const Value& value);

inline void write_string(JsonWriter& w, std::string_view key, std::string_view value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}
inline void write_int(JsonWriter& w, std::string_view key, std::int64_t value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.Int64(value);
}

// Number of Unicode code points in valid UTF-8 `text` (Graph API limits count characters).
std::size_t utf8_length(std::string_view text);

}  // namespace sb::meta
