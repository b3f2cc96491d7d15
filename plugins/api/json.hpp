#pragma once
// Reading untrusted JSON with RapidJSON: bounded nesting, validated UTF-8, typed look-ups that
// name the field they complain about. Writing goes through switchboard::JsonWriter (SDK).

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <switchboard/plugin.hpp>

namespace api_channel {

using rapidjson::Value;

// Normalized events nest about five levels (event > content > media). Anything much deeper is
// hostile; refusing it before parsing keeps RapidJSON's recursive parts off a deep stack.
inline constexpr int kMaxDepth = 32;

// Deepest nesting of objects/arrays in `text`, counted without parsing (strings skipped);
// stops counting once `limit` is exceeded.
inline int nesting_depth(std::string_view text, int limit) {
    int depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
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
            if (++depth > deepest) deepest = depth;
            if (deepest > limit) return deepest;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return deepest;
}

// Parses untrusted `text` into `doc`: one value, valid UTF-8, nesting at most kMaxDepth.
// Throws switchboard::InvalidInput("<what>: ...").
inline void parse_untrusted(rapidjson::Document& doc, std::string_view text, std::string_view what) {
    std::string prefix(what);
    if (text.empty()) throw switchboard::InvalidInput(prefix + ": empty body");
    if (nesting_depth(text, kMaxDepth) > kMaxDepth)
        throw switchboard::InvalidInput(prefix + ": JSON nested deeper than " +
                                        switchboard::decimal(kMaxDepth) + " levels");
    constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
    doc.Parse<kFlags>(text.data(), text.size());
    if (doc.HasParseError())
        throw switchboard::InvalidInput(
            prefix + ": invalid JSON at offset " +
            switchboard::decimal(static_cast<std::int64_t>(doc.GetErrorOffset())) + ": " +
            rapidjson::GetParseError_En(doc.GetParseError()));
}

inline const Value* member(const Value& object, const char* key) {
    if (!object.IsObject()) return nullptr;
    auto it = object.FindMember(key);
    return it == object.MemberEnd() ? nullptr : &it->value;
}

inline std::string_view string_of(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

}  // namespace api_channel
