#include "json_util.hpp"

#include <rapidjson/error/en.h>

#include <charconv>

namespace sb::telegram {

namespace {

// Deepest nesting of arrays/objects in `text`, stopping early once it passes `limit`. Strings
// are skipped so brackets inside them do not count.
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
        switch (c) {
            case '"':
                in_string = true;
                break;
            case '[':
            case '{':
                if (++depth > deepest) {
                    deepest = depth;
                    if (deepest > limit) return deepest;
                }
                break;
            case ']':
            case '}':
                --depth;
                break;
            default:
                break;
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
    // Iterative parsing: no recursion on the input's shape, whatever the depth check lets through.
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
    return std::string(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
}

std::string decimal(std::int64_t value) {
    char digits[20];  // INT64_MIN: a sign and 19 digits
    return std::string(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
}

std::optional<std::string> integer_text(const Value& value) {
    if (value.IsInt64()) return decimal(value.GetInt64());
    if (value.IsUint64()) return decimal(value.GetUint64());
    return std::nullopt;
}

std::string to_json(const Value& value) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::size_t utf16_length(std::string_view text) {
    std::size_t units = 0;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if ((byte & 0xC0) == 0x80) continue;  // continuation byte
        units += byte >= 0xF0 ? 2 : 1;        // 4-byte sequences are surrogate pairs in UTF-16
    }
    return units;
}

}  // namespace sb::telegram
