#pragma once
// The one base of the per-plugin GoogleTest fixtures (tests/unit/<plugin>_test.cpp): loads
// <plugin>.so once per suite through the C ABI (plugin_harness), opens an instance per test and
// gives the short helpers every plugin test uses. Header-only: it needs SB_PLUGIN_DIR and
// SB_FIXTURE_DIR, which sb_add_test defines for each test executable.
//
//   class TelegramPlugin : public sb::test::PluginTest<TelegramPlugin> {
//   public:
//       static constexpr const char* kPlugin = "telegram";      // telegram.so, fixtures/telegram/
//       static constexpr std::int64_t kFakeNowMs = kNowMs;      // 0: the real clock
//       static std::string open_settings() { return config(); }  // what SetUp() opens
//   };

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/json_view.hpp"
#include "support/plugin_harness.hpp"

namespace sb::test {

// The bytes of tests/fixtures/<platform>/<name>; throws when it is missing.
inline std::string read_fixture(const std::string& platform, const std::string& name) {
    std::ifstream in(std::string(SB_FIXTURE_DIR) + "/" + platform + "/" + name, std::ios::binary);
    if (!in) throw std::runtime_error("missing fixture " + platform + "/" + name);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Where one normalized event lands, for the "every documented kind has a place" tests: a
// customer message ("message:<content type>", "unsupported:<platform_type>" when the plugin
// could not translate it), a notice ("system:<code>"), a counted ignore ("ignored:<kind>"), or
// the event type for the rest (edit, status, reaction, typing).
inline std::string place_of(const Json& event) {
    const std::string type = event.str("/type");
    if (type == "ignored") return "ignored:" + event.str("/kind");
    if (type != "message") return type;
    const std::string content = event.str("/content/type");
    if (content == "system") return "system:" + event.str("/content/code");
    if (content == "unsupported") return "unsupported:" + event.str("/content/platform_type");
    return "message:" + content;
}

// `Derived` names its plugin (kPlugin), its fake clock (kFakeNowMs, optional) and the
// settings SetUp() opens (open_settings()).
template <class Derived>
class PluginTest : public ::testing::Test {
public:
    static constexpr std::int64_t kFakeNowMs = 0;

protected:
    static void SetUpTestSuite() {
        library_ = new PluginLibrary(std::string(SB_PLUGIN_DIR) + "/" + Derived::kPlugin + ".so");
        if (Derived::kFakeNowMs != 0) set_fake_now_ms(Derived::kFakeNowMs);
    }
    static void TearDownTestSuite() {
        delete library_;
        library_ = nullptr;
    }
    void SetUp() override {
        auto opened = library_->open(Derived::open_settings());
        ASSERT_EQ(opened.status, SB_OK) << opened.error;
        instance_ = std::move(opened.instance);
    }

    static std::unique_ptr<PluginInstance> open_ok(const std::string& settings) {
        auto opened = library_->open(settings);
        EXPECT_EQ(opened.status, SB_OK) << opened.error;
        return std::move(opened.instance);
    }

    // Every event parse() emits for `body`, which must parse.
    std::vector<Json> parse_all(const std::string& body) {
        EventsResult result = instance_->parse(body);
        EXPECT_EQ(result.status, SB_OK) << result.error;
        std::vector<Json> events;
        for (const std::string& e : result.events) events.emplace_back(e);
        return events;
    }
    // Parses a body that must yield exactly one event.
    Json parse_one(const std::string& body) {
        EventsResult result = instance_->parse(body);
        EXPECT_EQ(result.status, SB_OK) << result.error;
        if (result.events.size() != 1)
            throw std::runtime_error("expected one event, got " + std::to_string(result.events.size()));
        return Json(result.events.front());
    }

    RequestResult send(const std::string& outbound) { return instance_->build_send(outbound); }

    // Parses each fixture (tests/fixtures/<plugin>/<name>), which must make at least one event,
    // and checks that every event it makes lands where the case says (place_of).
    void expect_places(const std::vector<std::pair<const char*, const char*>>& cases) {
        for (const auto& [name, place] : cases) {
            EventsResult result = instance_->parse(read_fixture(Derived::kPlugin, name));
            ASSERT_EQ(result.status, SB_OK) << name << ": " << result.error;
            ASSERT_FALSE(result.events.empty()) << name << " vanished";
            for (const std::string& event : result.events) EXPECT_EQ(place_of(Json(event)), place) << name;
        }
    }

    static inline PluginLibrary* library_ = nullptr;
    std::unique_ptr<PluginInstance> instance_;
};

}  // namespace sb::test
