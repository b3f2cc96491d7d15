#pragma once
// Small helpers for reading untrusted JSON with RapidJSON and writing normalized JSON.
// Everything that reads a payload checks the type before it calls GetX().

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sb::telegram {

// Input that can never be used (malformed payload, bad settings, bad outbound request). Caught
// at the ABI boundary and returned as SB_E_INVALID with what() as the message.
class InvalidInput : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A request the plugin understands but Telegram (or this plugin) cannot carry out: SB_E_UNSUPPORTED.
class Unsupported : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

using Value = rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Telegram objects nest about eight levels deep (update > callback_query > message >
// reply_markup > inline_keyboard > row > button). Anything much deeper is hostile; refusing it
// before parsing keeps the recursive parts of RapidJSON (Accept, comparisons) off a deep stack.
inline constexpr int kMaxJsonDepth = 64;

// Parses untrusted `text` into `doc`: UTF-8 validated, nesting bounded, one root value.
// Throws InvalidInput("<what>: ...") describing the first problem.
void parse_untrusted(rapidjson::Document& doc, std::string_view text, std::string_view what);

// Typed, optional access to members of an object. Each returns nullopt / nullptr when `object`
// is not an object, the key is missing, or the member has another type.
const Value* find_member(const Value& object, const char* key);
const Value* find_object(const Value& object, const char* key);
const Value* find_array(const Value& object, const char* key);
std::optional<std::string_view> find_string(const Value& object, const char* key);
std::optional<std::int64_t> find_int(const Value& object, const char* key);
std::optional<double> find_number(const Value& object, const char* key);
std::optional<bool> find_bool(const Value& object, const char* key);

// Decimal text of an integer. Used instead of std::to_string, whose libstdc++ helper templates
// would otherwise be exported from the plugin (they have default visibility and a GNU_UNIQUE
// table, which also makes the library impossible to dlclose).
std::string decimal(std::int64_t value);
std::string decimal(std::uint64_t value);
inline std::string decimal(int value) { return decimal(static_cast<std::int64_t>(value)); }

// Decimal text of an integer value (64-bit signed or unsigned), nullopt for anything else.
std::optional<std::string> integer_text(const Value& value);

// The value serialized compactly.
std::string to_json(const Value& value);

// Writes a string or integer member through `w`.
inline void write_string(JsonWriter& w, std::string_view key, std::string_view value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}
inline void write_int(JsonWriter& w, std::string_view key, std::int64_t value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.Int64(value);
}

// Length of valid UTF-8 `text` in UTF-16 code units, the unit Telegram counts limits in.
std::size_t utf16_length(std::string_view text);

}  // namespace sb::telegram
