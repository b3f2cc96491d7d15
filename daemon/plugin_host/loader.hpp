#pragma once
// Loads channel plugins through the C ABI (plugin-api/include/switchboard/plugin_abi.h) with
// Boost.DLL and refuses, with one line naming the file, the versions and the fix, anything
// this host cannot safely call. Loaded libraries are never unloaded while the daemon runs.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <switchboard/plugin_abi.h>

namespace sb::plugin_host {

// A plugin library that passed every check.
class Plugin {
public:
    Plugin(std::shared_ptr<void> library, const sb_plugin_v1* descriptor, std::string path)
        : library_(std::move(library)), descriptor_(descriptor), path_(std::move(path)) {}

    const sb_plugin_v1& descriptor() const { return *descriptor_; }
    const std::string& path() const { return path_; }
    std::string id() const { return descriptor_->id; }
    bool has(std::uint64_t capability) const { return (descriptor_->capabilities & capability) != 0; }

private:
    std::shared_ptr<void> library_;  // keeps the shared object loaded
    const sb_plugin_v1* descriptor_;
    std::string path_;
};

// Loads `path` and checks it. On refusal returns nullptr and sets `error` to one line that
// names the file, the versions involved and what to do.
std::shared_ptr<const Plugin> load_plugin(const std::string& path, std::string& error);

// The plugins of one daemon: `<dir>/<id>.so`, each loaded once, from one thread at a time.
class PluginRegistry {
public:
    // `dirs` is the search path: a plugin is <dir>/<id>.so of the first dir that has that file.
    explicit PluginRegistry(std::vector<std::string> dirs) : dirs_(std::move(dirs)) {}
    explicit PluginRegistry(std::string dir) : dirs_{std::move(dir)} {}

    // The plugin with this id, loading it on first use. nullptr + error when refused; the
    // refusal is remembered and logged once.
    std::shared_ptr<const Plugin> get(const std::string& id, std::string& error);

private:
    std::vector<std::string> dirs_;
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<const Plugin>> loaded_;
    std::map<std::string, std::string> refused_;
};

}  // namespace sb::plugin_host
