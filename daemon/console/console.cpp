#include "console/console.hpp"

#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "util/random.hpp"

namespace sb::console {
namespace {

// The console is a same-origin app with no inline script or style: everything it loads is a
// file from this daemon, media come in as blob: URLs fetched with the token, and no page may
// frame it (clickjacking).
constexpr std::string_view kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

constexpr std::size_t kMaxFileBytes = 32u << 20;

void add_security_headers(http::Response& response) {
    response.headers.emplace_back("Content-Security-Policy", std::string(kCsp));
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    response.headers.emplace_back("Referrer-Policy", "no-referrer");
    response.headers.emplace_back("X-Frame-Options", "DENY");
    response.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
    response.headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
    response.headers.emplace_back("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
}

http::Response not_found(std::string_view message) {
    auto response = http::error_response(404, "not_found", message);
    add_security_headers(response);
    return response;
}

// If-None-Match holds this ETag (a list, weak validators and "*" included).
bool etag_matches(std::string_view header, std::string_view etag) {
    while (!header.empty()) {
        auto comma = header.find(',');
        auto item = header.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item.starts_with("W/")) item.remove_prefix(2);
        if (item == "*" || item == etag) return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec || size > kMaxFileBytes) return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return std::nullopt;
    return body;
}

}  // namespace

bool safe_segment(std::string_view name) {
    if (name.empty() || name.size() > 128 || name.front() == '.') return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

std::string_view content_type_for(std::string_view name) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 11> kTypes{{
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".map", "application/json"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
        {".webmanifest", "application/manifest+json"},
    }};
    for (const auto& [extension, type] : kTypes) {
        if (name.size() > extension.size() && name.ends_with(extension)) return type;
    }
    return {};
}

std::string Files::unavailable_reason() const {
    if (!options_.enabled) return "the console is disabled (console.enabled: false)";
    std::error_code ec;
    if (!std::filesystem::is_regular_file(std::filesystem::path(options_.dir) / "index.html", ec))
        return "the console is not installed: " + options_.dir +
               "/index.html is missing (build with -DSB_CONSOLE=ON, or set console.dir)";
    return {};
}

http::Response Files::index(std::optional<std::string_view> if_none_match) const {
    return serve("index.html", "index.html", false, if_none_match);
}

http::Response Files::asset(std::string_view version, std::string_view file,
                            std::optional<std::string_view> if_none_match) const {
    // The route gives single segments; these checks keep ".." and anything encoded out.
    if (!safe_segment(version) || !safe_segment(file)) return not_found("no such console file");
    return serve(std::string(version) + "/" + std::string(file), file, true, if_none_match);
}

http::Response Files::serve(const std::string& relative, std::string_view name, bool immutable,
                            std::optional<std::string_view> if_none_match) const {
    if (!options_.enabled) return not_found("the console is disabled on this daemon");
    const auto type = content_type_for(name);
    if (type.empty()) return not_found("no such console file");
    auto body = read_file(std::filesystem::path(options_.dir) / relative);
    if (!body) {
        return not_found(relative == "index.html"
                             ? std::string_view("the console is not installed on this daemon")
                             : std::string_view("no such console file"));
    }
    // Appended, not `"\"" + std::string&&`: GCC 12 -O3's false -Werror=restrict (PR 105651).
    std::string etag = "\"";
    etag += util::sha256_hex(*body).substr(0, 32);
    etag += '"';
    http::Response response;
    if (if_none_match && etag_matches(*if_none_match, etag)) {
        response.status = 304;
        response.content_type.clear();
    } else {
        response.content_type = std::string(type);
        response.body = std::move(*body);
    }
    response.headers.emplace_back("ETag", etag);
    response.headers.emplace_back("Cache-Control",
                                  immutable ? "public, max-age=31536000, immutable" : "no-cache");
    add_security_headers(response);
    return response;
}

}  // namespace sb::console
