// The console's file serving (daemon/console): what is served, with which type, caching and
// security headers, and that nothing outside console.dir can be reached.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "console/console.hpp"

namespace {

namespace fs = std::filesystem;

std::string header(const sb::http::Response& response, std::string_view name) {
    for (const auto& [key, value] : response.headers) {
        if (key == name) return value;
    }
    return "<missing " + std::string(name) + ">";
}

void write(const fs::path& path, const std::string& body) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << body;
}

class ConsoleFiles : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("sb-console-test-" + std::to_string(::getpid()));
        fs::remove_all(root_);
        write(root_ / "dist" / "index.html", "<!doctype html><title>t</title>");
        write(root_ / "dist" / "abc123" / "app.js", "console.log(1)");
        write(root_ / "dist" / "abc123" / "app.css", "body{}");
        write(root_ / "dist" / "abc123" / "notes.bin", "x");
        write(root_ / "secret.txt", "do not serve");
    }
    void TearDown() override { fs::remove_all(root_); }

    sb::console::Files files(bool enabled = true) const {
        return sb::console::Files({enabled, (root_ / "dist").string()});
    }

    fs::path root_;
};

TEST_F(ConsoleFiles, ServesIndexWithSecurityHeadersAndRevalidation) {
    const auto response = files().index(std::nullopt);
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(response.body, "<!doctype html><title>t</title>");
    EXPECT_EQ(header(response, "Cache-Control"), "no-cache");
    const auto csp = header(response, "Content-Security-Policy");
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_EQ(header(response, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(header(response, "Referrer-Policy"), "no-referrer");
    EXPECT_EQ(header(response, "X-Frame-Options"), "DENY");
}

TEST_F(ConsoleFiles, ServesVersionedAssetsAsImmutableWithTheirType) {
    const auto js = files().asset("abc123", "app.js", std::nullopt);
    EXPECT_EQ(js.status, 200);
    EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(js.body, "console.log(1)");
    EXPECT_EQ(header(js, "Cache-Control"), "public, max-age=31536000, immutable");
    EXPECT_EQ(files().asset("abc123", "app.css", std::nullopt).content_type, "text/css; charset=utf-8");
    EXPECT_EQ(files().asset("abc123", "nope.js", std::nullopt).status, 404);
    EXPECT_EQ(files().asset("other", "app.js", std::nullopt).status, 404);
    // A kind of file the console does not serve is 404 even when it exists.
    EXPECT_EQ(files().asset("abc123", "notes.bin", std::nullopt).status, 404);
}

TEST_F(ConsoleFiles, AnswersNotModifiedForAMatchingETag) {
    const auto first = files().asset("abc123", "app.js", std::nullopt);
    const auto etag = header(first, "ETag");
    ASSERT_EQ(etag.front(), '"');
    const auto again = files().asset("abc123", "app.js", etag);
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(header(again, "ETag"), etag);
    EXPECT_EQ(files().asset("abc123", "app.js", "\"other\", W/" + etag).status, 304);
    EXPECT_EQ(files().asset("abc123", "app.js", "\"other\"").status, 200);
    EXPECT_EQ(files().index(header(files().index(std::nullopt), "ETag")).status, 304);
}

TEST_F(ConsoleFiles, RefusesPathTraversal) {
    for (const char* version : {"..", ".", "%2e%2e", "abc123/..", "..%2f", "", ".hidden", "a\\b"}) {
        const auto response = files().asset(version, "secret.txt", std::nullopt);
        EXPECT_EQ(response.status, 404) << version;
        EXPECT_EQ(response.body.find("do not serve"), std::string::npos) << version;
    }
    for (const char* file :
         {"../../secret.txt", "..", "%2e%2e%2fsecret.txt", "../index.html", "/etc/passwd"}) {
        EXPECT_EQ(files().asset("abc123", file, std::nullopt).status, 404) << file;
    }
    EXPECT_EQ(files().asset("..", "index.html", std::nullopt).status, 404);
    EXPECT_FALSE(sb::console::safe_segment(".."));
    EXPECT_FALSE(sb::console::safe_segment("a/b"));
    EXPECT_TRUE(sb::console::safe_segment("app.js"));
}

TEST_F(ConsoleFiles, DisabledOrMissingIsNotFoundWithAReason) {
    EXPECT_EQ(files(false).index(std::nullopt).status, 404);
    EXPECT_EQ(files(false).asset("abc123", "app.js", std::nullopt).status, 404);
    EXPECT_NE(files(false).unavailable_reason().find("console.enabled"), std::string::npos);
    EXPECT_EQ(files().unavailable_reason(), "");
    fs::remove(root_ / "dist" / "index.html");
    EXPECT_EQ(files().index(std::nullopt).status, 404);
    EXPECT_NE(files().unavailable_reason().find("index.html"), std::string::npos);
}

}  // namespace
