#include "json_schema.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <set>
#include <stdexcept>

namespace sb::plugin_check {
namespace {

using rapidjson::Value;

const std::set<std::string> kKnownKeywords = {"$schema",     "$id",   "$defs",     "$ref",       "title",
                                              "description", "type",  "required",  "properties", "enum",
                                              "const",       "items", "minLength", "allOf",      "oneOf"};

std::string text(const Value& v) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    v.Accept(w);
    return {buffer.GetString(), buffer.GetSize()};
}

bool has_type(const Value& v, std::string_view type) {
    if (type == "object") return v.IsObject();
    if (type == "array") return v.IsArray();
    if (type == "string") return v.IsString();
    if (type == "integer") return v.IsInt64() || v.IsUint64();
    if (type == "number") return v.IsNumber();
    if (type == "boolean") return v.IsBool();
    if (type == "null") return v.IsNull();
    return false;
}

// Counts code points (what minLength counts), assuming valid UTF-8 (the parser validated it).
std::size_t code_points(const Value& v) {
    std::size_t n = 0;
    for (rapidjson::SizeType i = 0; i < v.GetStringLength(); ++i)
        if ((static_cast<unsigned char>(v.GetString()[i]) & 0xC0) != 0x80) ++n;
    return n;
}

}  // namespace

struct JsonSchema::Impl {
    rapidjson::Document schema;

    void check_keywords(const Value& s, const std::string& where) const {
        if (s.IsBool()) return;
        if (!s.IsObject()) throw std::runtime_error("schema at " + where + " is not an object");
        for (const auto& m : s.GetObject()) {
            std::string key(m.name.GetString(), m.name.GetStringLength());
            if (!kKnownKeywords.count(key))
                throw std::runtime_error("schema keyword '" + key + "' at " + where + " is not supported");
            if (key == "properties" || key == "$defs") {
                for (const auto& p : m.value.GetObject())
                    check_keywords(p.value, where + "/" + key + "/" + p.name.GetString());
            } else if (key == "items") {
                check_keywords(m.value, where + "/items");
            } else if (key == "allOf" || key == "oneOf") {
                for (rapidjson::SizeType i = 0; i < m.value.Size(); ++i)
                    check_keywords(m.value[i], where + "/" + key + "/" + std::to_string(i));
            }
        }
    }

    const Value& resolve(const std::string& ref) const {
        const std::string prefix = "#/$defs/";
        if (ref.rfind(prefix, 0) != 0)
            throw std::runtime_error("only #/$defs/ references are supported: " + ref);
        auto defs = schema.FindMember("$defs");
        if (defs == schema.MemberEnd()) throw std::runtime_error("no $defs for " + ref);
        auto it = defs->value.FindMember(ref.substr(prefix.size()).c_str());
        if (it == defs->value.MemberEnd()) throw std::runtime_error("unresolved reference " + ref);
        return it->value;
    }

    // "" = valid.
    std::string check(const Value& s, const Value& v, const std::string& path) const {
        if (s.IsBool()) return s.GetBool() ? "" : path + ": no value is allowed here";
        const std::string at = path.empty() ? "/" : path;
        if (auto ref = s.FindMember("$ref"); ref != s.MemberEnd()) {
            if (auto e = check(resolve(ref->value.GetString()), v, path); !e.empty()) return e;
        }
        if (auto type = s.FindMember("type"); type != s.MemberEnd()) {
            bool ok = false;
            if (type->value.IsString()) {
                ok = has_type(v, type->value.GetString());
            } else {
                for (const auto& t : type->value.GetArray()) ok = ok || has_type(v, t.GetString());
            }
            if (!ok) return at + ": expected " + text(type->value) + ", got " + text(v).substr(0, 60);
        }
        if (auto c = s.FindMember("const"); c != s.MemberEnd() && !(c->value == v))
            return at + ": must be " + text(c->value);
        if (auto e = s.FindMember("enum"); e != s.MemberEnd()) {
            bool ok = false;
            for (const auto& option : e->value.GetArray()) ok = ok || option == v;
            if (!ok) return at + ": must be one of " + text(e->value);
        }
        if (auto m = s.FindMember("minLength");
            m != s.MemberEnd() && v.IsString() && code_points(v) < m->value.GetUint64())
            return at + ": shorter than " + std::to_string(m->value.GetUint64());
        if (v.IsObject()) {
            if (auto r = s.FindMember("required"); r != s.MemberEnd()) {
                for (const auto& name : r->value.GetArray())
                    if (!v.HasMember(name)) return at + ": " + name.GetString() + " is required";
            }
            if (auto props = s.FindMember("properties"); props != s.MemberEnd()) {
                for (const auto& p : props->value.GetObject()) {
                    auto it = v.FindMember(p.name);
                    if (it == v.MemberEnd()) continue;
                    if (auto e = check(p.value, it->value, path + "/" + p.name.GetString()); !e.empty())
                        return e;
                }
            }
        }
        if (v.IsArray()) {
            if (auto items = s.FindMember("items"); items != s.MemberEnd()) {
                for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
                    if (auto e = check(items->value, v[i], path + "/" + std::to_string(i)); !e.empty())
                        return e;
            }
        }
        if (auto all = s.FindMember("allOf"); all != s.MemberEnd()) {
            for (const auto& sub : all->value.GetArray())
                if (auto e = check(sub, v, path); !e.empty()) return e;
        }
        if (auto one = s.FindMember("oneOf"); one != s.MemberEnd()) {
            int matches = 0;
            std::string first_error;
            for (const auto& sub : one->value.GetArray()) {
                std::string e = check(sub, v, path);
                if (e.empty())
                    ++matches;
                else if (first_error.empty() || e.size() > first_error.size())
                    first_error = e;  // the longest path is usually the most specific problem
            }
            if (matches == 0) return first_error.empty() ? at + ": matches no alternative" : first_error;
            if (matches > 1) return at + ": matches more than one alternative of oneOf";
        }
        return {};
    }
};

JsonSchema::JsonSchema(std::string_view schema_json) : impl_(std::make_unique<Impl>()) {
    impl_->schema.Parse(schema_json.data(), schema_json.size());
    if (impl_->schema.HasParseError() || !impl_->schema.IsObject())
        throw std::runtime_error("the JSON Schema is not a JSON object");
    impl_->check_keywords(impl_->schema, "#");
}

JsonSchema::~JsonSchema() = default;
JsonSchema::JsonSchema(JsonSchema&&) noexcept = default;
JsonSchema& JsonSchema::operator=(JsonSchema&&) noexcept = default;

std::string JsonSchema::validate(std::string_view json) const {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
    if (doc.HasParseError()) return "not valid JSON";
    return impl_->check(impl_->schema, doc, "");
}

}  // namespace sb::plugin_check
