// The route table is what the daemon serves; docs/openapi.yaml is what users are told it
// serves. These fail, naming the route, as soon as the two disagree.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <utility>

#include "api/rest.hpp"

namespace {

using Endpoint = std::pair<std::string, std::string>;  // METHOD, path pattern

constexpr const char* kOpenApiPath = SB_DOCS_DIR "/openapi.yaml";
constexpr const char* kOperations[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

std::string upper(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
    return text;
}

std::set<Endpoint> documented() {
    const YAML::Node doc = YAML::LoadFile(kOpenApiPath);
    std::set<Endpoint> out;
    for (const auto& path : doc["paths"]) {
        for (const char* operation : kOperations) {
            if (path.second[operation]) out.emplace(upper(operation), path.first.as<std::string>());
        }
    }
    return out;
}

std::set<Endpoint> served() {
    std::set<Endpoint> out;
    for (const auto& route : sb::api::routes()) out.emplace(route.method, route.pattern);
    return out;
}

TEST(ApiRoutes, EveryServedRouteIsInTheOpenApiDocument) {
    const auto docs = documented();
    for (const auto& [method, path] : served()) {
        EXPECT_TRUE(docs.count({method, path}))
            << method << " " << path << " is served but missing from " << kOpenApiPath;
    }
}

TEST(ApiRoutes, EveryDocumentedOperationIsServed) {
    const auto routes = served();
    for (const auto& [method, path] : documented()) {
        EXPECT_TRUE(routes.count({method, path}))
            << method << " " << path << " is in " << kOpenApiPath << " but no route serves it";
    }
}

TEST(ApiRoutes, EachMethodAndPathIsRoutedOnce) {
    std::set<Endpoint> seen;
    for (const auto& route : sb::api::routes()) {
        EXPECT_TRUE(seen.emplace(route.method, route.pattern).second)
            << route.method << " " << route.pattern << " is in the table twice";
    }
}

TEST(ApiRoutes, AgentApiRoutesNeedATokenAndNothingElseDoes) {
    // Dispatch authenticates everything under /api/v1 and nothing outside it.
    for (const auto& route : sb::api::routes()) {
        const bool api = route.pattern.starts_with("/api/v1/");
        EXPECT_EQ(api, route.access != sb::api::Access::open) << route.method << " " << route.pattern;
        EXPECT_NE(route.handler, nullptr) << route.method << " " << route.pattern;
    }
}

}  // namespace
