#pragma once
// A parsed JSON document with short accessors by JSON Pointer ("/content/text"), for the
// field-by-field assertions of the plugin tests. Throws on invalid JSON so a test sees it.

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace sb::test {

class Json {
public:
    explicit Json(const std::string& text) {
        doc_.Parse(text.c_str(), text.size());
        if (doc_.HasParseError()) throw std::runtime_error("test got invalid JSON: " + text);
    }
    const rapidjson::Value* at(const char* pointer) const { return rapidjson::Pointer(pointer).Get(doc_); }
    bool has(const char* pointer) const { return at(pointer) != nullptr; }
    // "<missing>" / "<not a string>" rather than throwing, so a failed EXPECT_EQ shows why.
    std::string str(const char* pointer) const {
        const rapidjson::Value* v = at(pointer);
        if (v == nullptr) return "<missing>";
        if (!v->IsString()) return "<not a string>";
        return {v->GetString(), v->GetStringLength()};
    }
    std::int64_t integer(const char* pointer) const {
        const rapidjson::Value* v = at(pointer);
        if (v == nullptr || !v->IsInt64()) throw std::runtime_error(std::string("no integer at ") + pointer);
        return v->GetInt64();
    }
    double number(const char* pointer) const {
        const rapidjson::Value* v = at(pointer);
        if (v == nullptr || !v->IsNumber()) throw std::runtime_error(std::string("no number at ") + pointer);
        return v->GetDouble();
    }
    bool boolean(const char* pointer) const {
        const rapidjson::Value* v = at(pointer);
        if (v == nullptr || !v->IsBool()) throw std::runtime_error(std::string("no bool at ") + pointer);
        return v->GetBool();
    }
    // Members of an object (0 for anything else).
    std::size_t members(const char* pointer) const {
        const rapidjson::Value* v = at(pointer);
        return v != nullptr && v->IsObject() ? v->MemberCount() : 0;
    }
    // Members of an object or elements of an array (0 for anything else).
    std::size_t size(const char* pointer) const {
        const rapidjson::Value* v = at(pointer);
        if (v == nullptr) return 0;
        return v->IsObject() ? v->MemberCount() : v->IsArray() ? v->Size() : 0;
    }
    const rapidjson::Document& doc() const { return doc_; }

private:
    rapidjson::Document doc_;
};

}  // namespace sb::test
