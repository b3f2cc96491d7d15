// The config loader (sb::config::load_string) on arbitrary YAML. A rejected config must come
// back as ConfigError, the one exception switchboardd's main() turns into its start-up message;
// anything else escaping is a crash at start-up or in --check-config, and libFuzzer reports it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace {

// ${VAR} expansion sees variables whose names have an even length (their value names them, so
// an expansion can hold another ${...}) and misses the others.
std::optional<std::string> environment(std::string_view name) {
    if (name.size() % 2 != 0) return std::nullopt;
    return "${" + std::string(name) + "}-value";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view yaml(reinterpret_cast<const char*>(data), size);
    try {
        sb::config::load_string(yaml, "fuzz.yaml", environment);
    } catch (const sb::config::ConfigError& e) {
        if (e.problems().empty()) __builtin_trap();  // a refusal must say why
    }
    return 0;
}
