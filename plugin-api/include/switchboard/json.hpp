#pragma once
/// @file json.hpp
/// Reading untrusted JSON with RapidJSON: the one hardened reader of Switchboard, used by the
/// daemon for REST bodies and WebSocket frames and by every channel plugin for webhooks and
/// platform replies, with the typed look-ups plugin code reads payloads through. Header-only;
/// needs RapidJSON (`find_package(RapidJSON)`, Debian's rapidjson-dev) in the including target.
///
/// What it guarantees for any input: no recursion on the input's shape (the nesting is
/// counted before parsing and the parse itself is iterative), valid UTF-8, finite numbers, a
/// size limit, and an error message that names what was being read and where it broke, never
/// the input.

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <switchboard/errors.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::json {

using Value = rapidjson::Value;

/// Limits for one untrusted document.
struct Limits {
    /// Deepest nesting of objects and arrays accepted. Platform payloads nest about ten
    /// levels; anything far deeper is hostile.
    int max_depth = 64;
    /// Largest text accepted, in bytes (0: no limit of its own; the transport's applies).
    std::size_t max_bytes = 0;
};

namespace detail {
// Decimal text without std::to_string, whose libstdc++ helpers would become symbols of a plugin.
inline std::string decimal(std::size_t value) {
    char buffer[24];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    (void)ec;  // 24 digits hold any std::size_t
    return std::string(buffer, end);
}

// Where the first `\u` escape of a lone low surrogate (U+DC00..U+DFFF not right after the
// escape of a high one) starts in `text`, or npos. RapidJSON 1.1.0 refuses a high surrogate
// without its low half but turns a lone low one into bytes that are not UTF-8 (fixed upstream
// after 1.1.0), which would then reach stored rows, WebSocket text frames and platforms.
inline std::size_t lone_low_surrogate(std::string_view text) noexcept {
    const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    bool in_string = false;
    bool after_high = false;  // the previous character was the escape of a high surrogate
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (!in_string) {
            in_string = c == '"';
            continue;
        }
        if (c != '\\') {
            in_string = c != '"';
            after_high = false;
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] != 'u') {
            ++i;  // a one-character escape
            after_high = false;
            continue;
        }
        if (i + 6 > text.size()) break;  // cut short: the parser refuses it
        int unit = 0;                    // -1: not four hex digits (the parser refuses those)
        for (std::size_t k = i + 2; k < i + 6 && unit >= 0; ++k) {
            const int digit = hex(text[k]);
            unit = digit < 0 ? -1 : unit * 16 + digit;
        }
        if (unit >= 0xDC00 && unit <= 0xDFFF && !after_high) return i;
        after_high = unit >= 0xD800 && unit <= 0xDBFF;
        i += 5;
    }
    return std::string_view::npos;
}

// Whether every number in `root` is finite. RapidJSON 1.1.0's range check stops at the
// exponent: 9e308 or -0.5e309 are read as infinities, which no JSON writer can write back (the
// daemon's RapidJSON writer would stop in the middle of its output). Walked without recursion.
inline bool numbers_finite(const rapidjson::Value& root) {
    std::vector<const rapidjson::Value*> pending{&root};
    while (!pending.empty()) {
        const rapidjson::Value* value = pending.back();
        pending.pop_back();
        if (value->IsDouble()) {
            if (!std::isfinite(value->GetDouble())) return false;
        } else if (value->IsObject()) {
            for (const auto& member : value->GetObject()) pending.push_back(&member.value);
        } else if (value->IsArray()) {
            for (const auto& element : value->GetArray()) pending.push_back(&element);
        }
    }
    return true;
}
}  // namespace detail

/// Deepest nesting of objects/arrays in `text`, counted without parsing (brackets inside
/// strings do not count); stops counting once `limit` is exceeded.
inline int nesting_depth(std::string_view text, int limit) noexcept {
    int depth = 0;
    int deepest = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > deepest) {
                deepest = depth;
                if (deepest > limit) return deepest;
            }
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return deepest;
}

/// Parses untrusted `text` into `doc`: one JSON value, valid UTF-8 (in its bytes and in its
/// `\u` escapes: a lone surrogate is refused), finite numbers only, within `limits`.
/// Returns nothing on success, or why it failed ("<what>: JSON nested deeper than 64 levels",
/// "<what>: invalid JSON at offset 12: Missing a comma ..."). Never throws for bad input.
inline std::optional<std::string> parse(rapidjson::Document& doc, std::string_view text,
                                        std::string_view what, const Limits& limits = {}) {
    auto fail = [&](std::string_view why) { return std::string(what).append(": ").append(why); };
    if (text.empty()) return fail("empty body");
    if (limits.max_bytes != 0 && text.size() > limits.max_bytes)
        return fail("larger than " + detail::decimal(limits.max_bytes) + " bytes");
    if (nesting_depth(text, limits.max_depth) > limits.max_depth)
        return fail("JSON nested deeper than " + detail::decimal(static_cast<std::size_t>(limits.max_depth)) +
                    " levels");
    if (std::size_t at = detail::lone_low_surrogate(text); at != std::string_view::npos)
        return fail("invalid JSON at offset " + detail::decimal(at) +
                    ": The surrogate pair in string is invalid.");
    constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
    doc.Parse<kFlags>(text.data(), text.size());
    if (doc.HasParseError())
        return fail("invalid JSON at offset " + detail::decimal(doc.GetErrorOffset()) + ": " +
                    rapidjson::GetParseError_En(doc.GetParseError()));
    if (!detail::numbers_finite(doc)) return fail("invalid JSON: Number too big to be stored in double.");
    return std::nullopt;
}

/// The member `key` of `object`, or null when `object` is not an object or has no such member.
inline const rapidjson::Value* member(const rapidjson::Value& object, const char* key) noexcept {
    if (!object.IsObject()) return nullptr;
    auto it = object.FindMember(key);
    return it == object.MemberEnd() ? nullptr : &it->value;
}

/// A string value's text (the value must be a string).
inline std::string_view string_of(const rapidjson::Value& v) noexcept {
    return {v.GetString(), v.GetStringLength()};
}

/// parse() for plugin code: throws switchboard::InvalidInput (SB_E_INVALID at the ABI) with
/// parse()'s message instead of returning it.
inline void parse_untrusted(rapidjson::Document& doc, std::string_view text, std::string_view what,
                            const Limits& limits = {}) {
    if (std::optional<std::string> error = parse(doc, text, what, limits)) throw InvalidInput(*error);
}

// Typed look-ups: each gives nothing (nullptr / nullopt) when `object` is not an object, has no
// member `key`, or the member has another type, so a payload is read without a GetX() on the
// wrong type.

/// The member `key` of `object` of any type (member() under the name the typed look-ups share).
inline const Value* find_member(const Value& object, const char* key) noexcept { return member(object, key); }
inline const Value* find_object(const Value& object, const char* key) noexcept {
    const Value* v = member(object, key);
    return v != nullptr && v->IsObject() ? v : nullptr;
}
inline const Value* find_array(const Value& object, const char* key) noexcept {
    const Value* v = member(object, key);
    return v != nullptr && v->IsArray() ? v : nullptr;
}
inline std::optional<std::string_view> find_string(const Value& object, const char* key) noexcept {
    const Value* v = member(object, key);
    if (v == nullptr || !v->IsString()) return std::nullopt;
    return string_of(*v);
}
/// An integer that fits in int64 (not a fraction, not a larger unsigned).
inline std::optional<std::int64_t> find_int(const Value& object, const char* key) noexcept {
    const Value* v = member(object, key);
    if (v == nullptr || !v->IsInt64()) return std::nullopt;
    return v->GetInt64();
}
inline std::optional<double> find_number(const Value& object, const char* key) noexcept {
    const Value* v = member(object, key);
    if (v == nullptr || !v->IsNumber()) return std::nullopt;
    return v->GetDouble();
}
inline std::optional<bool> find_bool(const Value& object, const char* key) noexcept {
    const Value* v = member(object, key);
    if (v == nullptr || !v->IsBool()) return std::nullopt;
    return v->GetBool();
}

/// Decimal text of an integer value (64-bit signed or unsigned: platform ids), nullopt for
/// anything else.
inline std::optional<std::string> integer_text(const Value& value) {
    char buffer[24];
    std::to_chars_result r{};
    if (value.IsInt64())
        r = std::to_chars(buffer, buffer + sizeof buffer, value.GetInt64());
    else if (value.IsUint64())
        r = std::to_chars(buffer, buffer + sizeof buffer, value.GetUint64());
    else
        return std::nullopt;
    return std::string(buffer, r.ptr);
}

// ---- Writing with RapidJSON (plugins may equally use switchboard::JsonWriter) ----------------

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// `value` serialized compactly (e.g. a payload object kept whole as an event's `raw`).
inline std::string to_json(const Value& value) {
    rapidjson::StringBuffer buffer;
    Writer writer(buffer);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}
/// Writes the member `key`: `value` through `w`.
inline void write_string(Writer& w, std::string_view key, std::string_view value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}
inline void write_int(Writer& w, std::string_view key, std::int64_t value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.Int64(value);
}

}  // namespace switchboard::json
