#include "json.hpp"

#include <rapidjson/error/en.h>

#include <charconv>
#include <iterator>

namespace sb::meta {

namespace {

// Deepest nesting of arrays/objects in `text`, stopping once it passes `limit`. Brackets inside
// strings do not count.
int nesting_depth(std::string_view text, int limit) {
    int depth = 0;
    int deepest = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest) {
                deepest = depth;
                if (deepest > limit) return deepest;
            }
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

}  // namespace

void parse_untrusted(rapidjson::Document& doc, std::string_view text, std::string_view what) {
    std::string prefix(what);
    if (text.empty()) throw InvalidInput(prefix + ": empty body");
    if (nesting_depth(text, kMaxJsonDepth) > kMaxJsonDepth) {
        throw InvalidInput(prefix + ": JSON nested deeper than " + decimal(kMaxJsonDepth) + " levels");
    }
    constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
    doc.Parse<kFlags>(text.data(), text.size());
    if (doc.HasParseError()) {
        throw InvalidInput(prefix + ": invalid JSON at offset " + decimal(doc.GetErrorOffset()) + ": " +
                           rapidjson::GetParseError_En(doc.GetParseError()));
    }
}

const Value* find_member(const Value& object, const char* key) {
    if (!object.IsObject()) return nullptr;
    auto it = object.FindMember(key);
    return it == object.MemberEnd() ? nullptr : &it->value;
}

const Value* find_object(const Value& object, const char* key) {
    const Value* v = find_member(object, key);
    return v != nullptr && v->IsObject() ? v : nullptr;
}

const Value* find_array(const Value& object, const char* key) {
    const Value* v = find_member(object, key);
    return v != nullptr && v->IsArray() ? v : nullptr;
}

std::optional<std::string_view> find_string(const Value& object, const char* key) {
    const Value* v = find_member(object, key);
    if (v == nullptr || !v->IsString()) return std::nullopt;
    return std::string_view(v->GetString(), v->GetStringLength());
}

std::optional<std::int64_t> find_int(const Value& object, const char* key) {
    const Value* v = find_member(object, key);
    if (v == nullptr || !v->IsInt64()) return std::nullopt;
    return v->GetInt64();
}

std::optional<double> find_number(const Value& object, const char* key) {
    const Value* v = find_member(object, key);
    if (v == nullptr || !v->IsNumber()) return std::nullopt;
    return v->GetDouble();
}

std::optional<bool> find_bool(const Value& object, const char* key) {
    const Value* v = find_member(object, key);
    if (v == nullptr || !v->IsBool()) return std::nullopt;
    return v->GetBool();
}

std::string decimal(std::uint64_t value) {
    char digits[20];
    std::size_t n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    return std::string(std::make_reverse_iterator(digits + n), std::make_reverse_iterator(digits));
}

std::string decimal(std::int64_t value) {
    if (value >= 0) return decimal(static_cast<std::uint64_t>(value));
    // Negate in unsigned arithmetic: -INT64_MIN does not fit in int64. Appended rather than
    // `"-" + decimal(...)`: that inserts into the temporary, where GCC 12 at -O3 reports a
    // false -Werror=restrict (GCC PR 105651).
    std::string text = "-";
    text += decimal(~static_cast<std::uint64_t>(value) + 1);
    return text;
}

std::optional<std::string> integer_text(const Value& value) {
    if (value.IsInt64()) return decimal(value.GetInt64());
    if (value.IsUint64()) return decimal(value.GetUint64());
    return std::nullopt;
}

std::optional<std::int64_t> parse_decimal(std::string_view text) {
    if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::string to_json(const Value& value) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::size_t utf8_length(std::string_view text) {
    std::size_t points = 0;
    for (char c : text) {
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++points;
    }
    return points;
}

}  // namespace sb::meta
