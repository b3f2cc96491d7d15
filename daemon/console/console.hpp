#pragma once
// The agent console's files: the browser UI that console/ builds (npm, at build time) into
// console.dir. index.html is served at "/" and the assets under /console/<version>/<file>,
// read from disk on each request. Every answer carries the console's security headers; nothing
// outside console.dir is ever read (a name is one path segment of [A-Za-z0-9._-], not
// starting with a dot).

#include <optional>
#include <string>
#include <string_view>

#include "http/server.hpp"

namespace sb::console {

struct Options {
    bool enabled = true;
    std::string dir;  // holds index.html and <version>/…
};

class Files {
public:
    explicit Files(Options options) : options_(std::move(options)) {}

    // GET /: revalidated on every load (Cache-Control: no-cache, ETag), so a new build is
    // picked up at once.
    http::Response index(std::optional<std::string_view> if_none_match) const;
    // GET /console/{version}/{file}: immutable (the version is a hash of the build).
    http::Response asset(std::string_view version, std::string_view file,
                         std::optional<std::string_view> if_none_match) const;

    // Why the console cannot be served ("" when it can): disabled, or index.html missing.
    std::string unavailable_reason() const;

private:
    http::Response serve(const std::string& relative, std::string_view name, bool immutable,
                         std::optional<std::string_view> if_none_match) const;

    Options options_;
};

// A name the console serves: one segment, [A-Za-z0-9._-]{1,128}, not starting with '.'.
bool safe_segment(std::string_view name);

// The Content-Type for a console file name, or "" for a kind the console does not serve.
std::string_view content_type_for(std::string_view name);

}  // namespace sb::console
