#pragma once
// A small JSON Schema validator for the subset docs/normalized-events.schema.json uses: type,
// required, properties, enum, const, items, minLength, allOf, oneOf and local "$ref"
// ("#/$defs/name"). No JSON Schema library is available to the build; this is enough to check
// plugin output against the one schema document, and it refuses schemas using anything else.

#include <memory>
#include <string>
#include <string_view>

namespace sb::plugin_check {

class JsonSchema {
public:
    // Parses the schema. Throws std::runtime_error when it is not JSON or uses an unsupported
    // keyword (so a schema edit cannot silently weaken the checks).
    explicit JsonSchema(std::string_view schema_json);
    ~JsonSchema();
    JsonSchema(JsonSchema&&) noexcept;
    JsonSchema& operator=(JsonSchema&&) noexcept;

    // "" when `json` is valid against the schema; otherwise the first problem, with its path
    // ("/content/text: expected string").
    std::string validate(std::string_view json) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The normalized-event schema as built into the kit (docs/normalized-events.schema.json).
std::string_view builtin_event_schema();

}  // namespace sb::plugin_check
