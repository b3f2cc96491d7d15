#include "plugin_host/loader.hpp"

#include <dlfcn.h>
#include <elf.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <spdlog/spdlog.h>
#include <boost/dll/shared_library.hpp>

#include "metrics/metrics.hpp"

namespace sb::plugin_host {
namespace {

namespace dll = boost::dll;

// The v1.0 descriptor ends with account; anything smaller predates the ABI.
constexpr std::size_t kMinDescriptorSize = offsetof(sb_plugin_v1, account) + sizeof(void*);

std::string why_not_loadable(const std::string& path) {
    // Boost.DLL clears dlerror(); ask the dynamic loader once more for its own words.
    if (void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
        dlclose(handle);
        return "the dynamic loader refused it";
    }
    const char* text = dlerror();
    return fmt::format("the dynamic loader refused it: {}", text ? text : "unknown error");
}

#if defined(__x86_64__)
constexpr Elf64_Half kMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr Elf64_Half kMachine = EM_AARCH64;
#else
#error "name this machine's ELF e_machine"
#endif

// Checked before dlopen: the loader maps the file and touches it where its headers say, so a
// truncated or foreign file would be a SIGBUS rather than an error. "" when it looks like a
// whole 64-bit shared object of this machine.
std::string why_not_an_object(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        return "file not found: install the plugin there or fix plugins.dir / the channel's plugin name";
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return "cannot read its size: " + ec.message();
    std::ifstream in(path, std::ios::binary);
    Elf64_Ehdr header{};
    if (size < sizeof header || !in.read(reinterpret_cast<char*>(&header), sizeof header) ||
        std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0)
        return "not a shared object (no ELF header): point the channel at a plugin built with the "
               "Switchboard SDK";
    if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_type != ET_DYN || header.e_machine != kMachine)
        return "not a 64-bit shared object for this machine: rebuild the plugin here";
    if (header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phoff > size ||
        header.e_phnum > (size - header.e_phoff) / sizeof(Elf64_Phdr))
        return fmt::format("truncated: {} bytes, its program headers reach past the end (copy it again)",
                           size);
    if (header.e_shoff > size ||
        (header.e_shnum != 0 && (header.e_shentsize != sizeof(Elf64_Shdr) ||
                                 header.e_shnum > (size - header.e_shoff) / sizeof(Elf64_Shdr))))
        return fmt::format("truncated: {} bytes, its section headers reach past the end (copy it again)",
                           size);
    in.seekg(static_cast<std::streamoff>(header.e_phoff));
    for (int i = 0; i < header.e_phnum; ++i) {
        Elf64_Phdr segment{};
        if (!in.read(reinterpret_cast<char*>(&segment), sizeof segment)) return "truncated program headers";
        if (segment.p_type == PT_LOAD &&
            (segment.p_offset > size || segment.p_filesz > size - segment.p_offset))
            return fmt::format("truncated: {} bytes, a loadable segment ends at byte {} (copy it again)",
                               size, segment.p_offset + segment.p_filesz);
    }
    return "";
}

std::string missing_functions(const sb_plugin_v1& d) {
    std::vector<const char*> missing;
    if (!d.open) missing.push_back("open");
    if (!d.close) missing.push_back("close");
    if (!d.verify) missing.push_back("verify");
    if (!d.parse) missing.push_back("parse");
    if (!d.build_send) missing.push_back("build_send");
    if (!d.classify_send) missing.push_back("classify_send");
    if ((d.capabilities & SB_CAP_LONG_POLL) && !d.poll_request)
        missing.push_back("poll_request (SB_CAP_LONG_POLL)");
    if ((d.capabilities & SB_CAP_LONG_POLL) && !d.poll_response)
        missing.push_back("poll_response (SB_CAP_LONG_POLL)");
    std::string out;
    for (const char* name : missing) out += out.empty() ? name : std::string(", ") + name;
    return out;
}

std::string check_descriptor(const sb_plugin_v1* d) {
    if (d == nullptr) return "sb_plugin_entry_v1 returned NULL: it must return a static descriptor";
    if (d->magic != SB_PLUGIN_MAGIC)
        return fmt::format(
            "descriptor magic is {:#010x}, expected {:#010x}: not a Switchboard plugin descriptor", d->magic,
            SB_PLUGIN_MAGIC);
    if (d->abi_major != SB_ABI_MAJOR)
        return fmt::format(
            "descriptor says ABI {}.{}, this switchboardd supports {}.x: rebuild the plugin "
            "against the Switchboard plugin SDK {}.x",
            d->abi_major, d->abi_minor, SB_ABI_MAJOR, SB_ABI_MAJOR);
    if (d->size < kMinDescriptorSize)
        return fmt::format(
            "descriptor is {} bytes, ABI {}.0 needs at least {}: rebuild the plugin against "
            "the Switchboard plugin SDK",
            d->size, SB_ABI_MAJOR, kMinDescriptorSize);
    if (d->min_host_minor > SB_ABI_MINOR)
        return fmt::format(
            "plugin needs host ABI {}.{} or newer, this switchboardd provides {}.{}: upgrade "
            "switchboardd or use an older build of the plugin",
            SB_ABI_MAJOR, d->min_host_minor, SB_ABI_MAJOR, SB_ABI_MINOR);
    if (std::string missing = missing_functions(*d); !missing.empty())
        return fmt::format("descriptor lacks mandatory function(s): {}: implement them", missing);
    static const std::regex kId("[a-z0-9_-]{1,32}");
    if (d->id == nullptr || !std::regex_match(d->id, kId)) return "descriptor id must match [a-z0-9_-]{1,32}";
    if (d->version == nullptr) return "descriptor version is NULL";
    if (d->config_schema != nullptr) {
        rapidjson::Document schema;
        schema.Parse(d->config_schema);
        if (schema.HasParseError() || !schema.IsObject())
            return "config_schema is not a JSON object: fix the plugin's schema string";
    }
    return {};
}

}  // namespace

std::shared_ptr<const Plugin> load_plugin(const std::string& path, std::string& error) {
    auto fail = [&](std::string reason) -> std::shared_ptr<const Plugin> {
        error = fmt::format("plugin refused: file={} host_abi={}.{} reason=\"{}\"", path, SB_ABI_MAJOR,
                            SB_ABI_MINOR, reason);
        return nullptr;
    };

    if (std::string broken = why_not_an_object(path); !broken.empty()) return fail(broken);
    std::error_code ec;
    auto library = std::make_shared<dll::shared_library>(
        path, dll::load_mode::rtld_now | dll::load_mode::rtld_local, ec);
    if (ec || !library->is_loaded()) return fail(why_not_loadable(path));

    if (!library->has(SB_PLUGIN_ENTRY_V1_SYMBOL)) {
        for (int major = 2; major <= 9; ++major) {
            if (library->has(fmt::format("sb_plugin_entry_v{}", major)))
                return fail(
                    fmt::format("built for plugin ABI {}.x (exports sb_plugin_entry_v{}), this "
                                "switchboardd supports {}.x: use a plugin build for ABI {}.x or upgrade "
                                "switchboardd",
                                major, major, SB_ABI_MAJOR, SB_ABI_MAJOR));
        }
        return fail(
            "does not export sb_plugin_entry_v1: declare it extern \"C\" SB_EXPORT and build with "
            "the SDK's CMake helper");
    }
    auto entry = library->get<const sb_plugin_v1*()>(SB_PLUGIN_ENTRY_V1_SYMBOL);
    const sb_plugin_v1* descriptor = entry();
    if (std::string reason = check_descriptor(descriptor); !reason.empty()) return fail(reason);
    return std::make_shared<Plugin>(std::shared_ptr<void>(library, library.get()), descriptor, path);
}

std::shared_ptr<const Plugin> PluginRegistry::get(const std::string& id, std::string& error) {
    std::lock_guard lock(mutex_);
    if (auto it = loaded_.find(id); it != loaded_.end()) return it->second;
    if (auto it = refused_.find(id); it != refused_.end()) {
        error = it->second;
        return nullptr;
    }
    // The first directory of the search path that has the file; with none, the first one, so
    // that the error names where the plugin was expected.
    std::string path;
    for (const std::string& dir : dirs_) {
        std::string candidate = (std::filesystem::path(dir) / (id + ".so")).string();
        std::error_code ec;
        if (path.empty() || std::filesystem::exists(candidate, ec)) path = candidate;
        if (std::filesystem::exists(candidate, ec)) break;
    }
    auto plugin = load_plugin(path, error);
    if (plugin && plugin->id() != id) {
        error = fmt::format(
            "plugin refused: file={} reason=\"descriptor id is '{}' but the file is named for "
            "'{}': rename the file or fix the channel's plugin name\"",
            path, plugin->id(), id);
        plugin = nullptr;
    }
    if (!plugin) {
        spdlog::error("{}", error);
        metrics::registry().plugin_refusals.with({id}).inc();
        refused_.emplace(id, error);
        return nullptr;
    }
    spdlog::info("plugin loaded id={} version={} abi={}.{} file={}", plugin->id(),
                 plugin->descriptor().version, plugin->descriptor().abi_major, plugin->descriptor().abi_minor,
                 path);
    loaded_.emplace(id, plugin);
    return plugin;
}

}  // namespace sb::plugin_host
