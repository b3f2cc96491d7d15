// The plugin loader refuses every kind of broken plugin with one line naming the file, the
// versions and the fix; a refused plugin leaves its channel failed while others work.

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.hpp"
#include "plugin_host/channel.hpp"
#include "plugin_host/loader.hpp"
#include "plugin_host/webhook_signing.hpp"

namespace {

using sb::plugin_host::Channel;
using sb::plugin_host::load_plugin;
using sb::plugin_host::PluginRegistry;

std::string fixture(const std::string& name) { return std::string(SB_TEST_PLUGIN_DIR) + "/" + name + ".so"; }

// Loads a fixture that must be refused and returns the reason.
std::string refusal(const std::string& name) {
    std::string error;
    auto plugin = load_plugin(fixture(name), error);
    EXPECT_EQ(plugin, nullptr) << name << " was accepted";
    EXPECT_NE(error.find(fixture(name)), std::string::npos) << "reason does not name the file: " << error;
    return error;
}

sb::config::ChannelConfig channel_config(const std::string& id, const std::string& plugin) {
    sb::config::ChannelConfig config;
    config.id = id;
    config.plugin = plugin;
    config.settings_json = "{}";
    return config;
}

TEST(PluginLoader, AcceptsAWellFormedCPlugin) {
    std::string error;
    auto plugin = load_plugin(fixture("good"), error);
    ASSERT_NE(plugin, nullptr) << error;
    EXPECT_EQ(plugin->id(), "good");
    EXPECT_EQ(plugin->descriptor().abi_major, SB_ABI_MAJOR);
    EXPECT_TRUE(error.empty());
}

TEST(PluginLoader, RefusesAFileThatIsNotASharedObject) {
    EXPECT_NE(refusal("not_elf").find("not a shared object"), std::string::npos);
}

// A plugin cut short (a copy interrupted, a full disk) must be refused with a line, not mapped
// and touched past its end (SIGBUS).
TEST(PluginLoader, RefusesATruncatedPluginBeforeLoadingIt) {
    const auto dir = std::filesystem::temp_directory_path() / ("sb-truncated-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto good = fixture("good");
    const auto size = std::filesystem::file_size(good);
    for (std::uintmax_t keep : {std::uintmax_t{40}, std::uintmax_t{1024}, size / 2, size - 1}) {
        const auto path = (dir / ("cut_" + std::to_string(keep) + ".so")).string();
        {
            std::ifstream in(good, std::ios::binary);
            std::string bytes(static_cast<std::size_t>(keep), '\0');
            in.read(bytes.data(), static_cast<std::streamsize>(keep));
            std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(keep));
        }
        std::string error;
        EXPECT_EQ(load_plugin(path, error), nullptr) << keep << " bytes accepted";
        EXPECT_TRUE(error.find("truncated") != std::string::npos ||
                    error.find("not a shared object") != std::string::npos ||
                    error.find("dynamic loader refused") != std::string::npos)
            << keep << " bytes: " << error;
        EXPECT_NE(error.find(path), std::string::npos) << error;
    }
    std::filesystem::remove_all(dir);
}

TEST(PluginLoader, RefusesAMissingFile) {
    EXPECT_NE(refusal("does_not_exist").find("file not found"), std::string::npos);
}

TEST(PluginLoader, RefusesAPluginWithoutTheEntryPoint) {
    auto reason = refusal("no_entry");
    EXPECT_NE(reason.find("does not export sb_plugin_entry_v1"), std::string::npos) << reason;
    EXPECT_NE(reason.find("SB_EXPORT"), std::string::npos) << "no fix given: " << reason;
}

TEST(PluginLoader, NamesTheMajorOfAPluginBuiltForAnotherAbi) {
    auto reason = refusal("abi_v2");
    EXPECT_NE(reason.find("ABI 2.x"), std::string::npos) << reason;
    EXPECT_NE(reason.find("supports 1.x"), std::string::npos) << reason;
}

TEST(PluginLoader, RefusesADescriptorWithAnotherMajor) {
    auto reason = refusal("wrong_major");
    EXPECT_NE(reason.find("ABI 2." + std::to_string(SB_ABI_MINOR)), std::string::npos) << reason;
    EXPECT_NE(reason.find("rebuild the plugin"), std::string::npos) << reason;
}

TEST(PluginLoader, RefusesAPluginNeedingANewerHostMinor) {
    auto reason = refusal("newer_minor");
    EXPECT_NE(reason.find("needs host ABI 1." + std::to_string(SB_ABI_MINOR + 1)), std::string::npos)
        << reason;
    EXPECT_NE(reason.find("upgrade switchboardd"), std::string::npos) << reason;
}

TEST(PluginLoader, RefusesATooSmallDescriptor) {
    auto reason = refusal("small_descriptor");
    EXPECT_NE(reason.find("descriptor is 16 bytes"), std::string::npos) << reason;
}

TEST(PluginLoader, ListsMissingMandatoryFunctions) {
    auto reason = refusal("missing_parse");
    EXPECT_NE(reason.find("lacks mandatory function(s): parse"), std::string::npos) << reason;
}

TEST(PluginLoader, RefusesLongPollCapabilityWithoutItsFunctions) {
    auto reason = refusal("bad_long_poll");
    EXPECT_NE(reason.find("poll_request"), std::string::npos) << reason;
}

TEST(PluginLoader, RefusesAWrongMagic) { EXPECT_NE(refusal("bad_magic").find("magic"), std::string::npos); }

TEST(PluginRegistry, RemembersARefusalAndKeepsLoadingOthers) {
    PluginRegistry registry(SB_TEST_PLUGIN_DIR);
    std::string error;
    EXPECT_EQ(registry.get("wrong_major", error), nullptr);
    EXPECT_NE(error.find("ABI 2." + std::to_string(SB_ABI_MINOR)), std::string::npos);
    std::string again;
    EXPECT_EQ(registry.get("wrong_major", again), nullptr);
    EXPECT_EQ(again, error);
    std::string ok_error;
    auto good = registry.get("good", ok_error);
    ASSERT_NE(good, nullptr) << ok_error;
    EXPECT_EQ(registry.get("good", ok_error), good) << "a plugin is loaded once";
}

// plugins.dir as a list: a search path, the first directory that has <id>.so wins.
TEST(PluginRegistry, SearchesThePluginDirsInOrder) {
    namespace fs = std::filesystem;
    const fs::path root = fs::temp_directory_path() / ("sb-plugin-dirs-" + std::to_string(::getpid()));
    fs::create_directories(root / "empty");
    fs::create_directories(root / "own");
    fs::copy_file(fixture("good"), root / "own" / "good.so", fs::copy_options::overwrite_existing);
    const std::string empty = (root / "empty").string(), own = (root / "own").string();

    std::string error;
    PluginRegistry later({empty, SB_TEST_PLUGIN_DIR});
    auto found = later.get("good", error);
    ASSERT_NE(found, nullptr) << error;
    EXPECT_EQ(found->path(), fixture("good")) << "not found past an empty directory";

    PluginRegistry first({own, SB_TEST_PLUGIN_DIR});
    auto own_copy = first.get("good", error);
    ASSERT_NE(own_copy, nullptr) << error;
    EXPECT_EQ(own_copy->path(), (root / "own" / "good.so").string()) << "the first directory must win";

    PluginRegistry none({empty, own});
    EXPECT_EQ(none.get("absent", error), nullptr);
    EXPECT_NE(error.find((root / "empty" / "absent.so").string()), std::string::npos)
        << "a missing plugin is reported where the first directory would have it: " << error;
    fs::remove_all(root);
}

TEST(Channel, PluginRefusingItsSettingsLeavesTheChannelFailedWithTheReason) {
    std::string error;
    auto plugin = load_plugin(fixture("open_fails"), error);
    ASSERT_NE(plugin, nullptr) << error;
    auto channel = Channel::open(channel_config("c1", "open_fails"), plugin);
    EXPECT_FALSE(channel->ready());
    EXPECT_NE(channel->failure().find("settings.api_key is required"), std::string::npos)
        << channel->failure();
    auto verdict = channel->verify("POST", "/webhooks/c1", {{"X-Test", "ok"}}, "hi");
    EXPECT_NE(verdict.verdict, SB_VERIFY_ACCEPT) << "a failed channel must not accept webhooks";
}

TEST(Channel, LongPollOnAPluginWithoutTheCapabilityFails) {
    std::string error;
    auto plugin = load_plugin(fixture("good"), error);
    ASSERT_NE(plugin, nullptr);
    auto config = channel_config("c1", "good");
    config.receive = "long_poll";
    auto channel = Channel::open(config, plugin);
    EXPECT_FALSE(channel->ready());
    EXPECT_NE(channel->failure().find("long_poll"), std::string::npos);
}

TEST(Channel, VerifiesAndParsesThroughTheAbi) {
    std::string error;
    auto plugin = load_plugin(fixture("good"), error);
    ASSERT_NE(plugin, nullptr) << error;
    auto channel = Channel::open(channel_config("c1", "good"), plugin);
    ASSERT_TRUE(channel->ready()) << channel->failure();
    EXPECT_EQ(channel->account(), "acct-1") << "the plugin's account() is captured for routing";

    EXPECT_EQ(channel->verify("POST", "/webhooks/c1", {{"X-Test", "ok"}}, "hi").verdict, SB_VERIFY_ACCEPT);
    EXPECT_EQ(channel->verify("POST", "/webhooks/c1", {{"X-Test", "no"}}, "hi").verdict, SB_VERIFY_FORBIDDEN);
    EXPECT_EQ(channel->verify("POST", "/webhooks/c1", {}, "hi").verdict, SB_VERIFY_UNAUTHORIZED);

    sb::store::InboundRequest stored;
    stored.channel_id = "c1";
    stored.method = "POST";
    stored.target = "/webhooks/c1";
    stored.headers = sb::plugin_host::encode_headers({{"X-Test", "ok"}});
    stored.body = "hello";
    auto parsed = channel->parse(stored);
    ASSERT_TRUE(parsed.ok) << parsed.error;
    ASSERT_EQ(parsed.events.size(), 1u);
    EXPECT_NE(parsed.events[0].find("\"text\":\"hello\""), std::string::npos) << parsed.events[0];

    stored.body = "";
    auto bad = channel->parse(stored);
    EXPECT_FALSE(bad.ok);
    EXPECT_NE(bad.error.find("1..200 characters"), std::string::npos) << bad.error;
}

TEST(Channel, BuildsAndClassifiesASend) {
    std::string error;
    auto plugin = load_plugin(fixture("good"), error);
    ASSERT_NE(plugin, nullptr) << error;
    auto channel = Channel::open(channel_config("c1", "good"), plugin);
    auto built = channel->build_send(R"({"v":1})");
    ASSERT_EQ(built.status, SB_OK) << built.error;
    EXPECT_EQ(built.request.method, "POST");
    EXPECT_EQ(built.request.url, "http://127.0.0.1:9/send");
    EXPECT_EQ(built.request.body, R"({"v":1})");

    sb::http_client::Response ok;
    ok.status = 200;
    auto sent = channel->classify_send(R"({"v":1})", ok);
    EXPECT_EQ(sent.send_class, SB_SEND_OK);
    EXPECT_EQ(sent.platform_id, "sent-1");
    sb::http_client::Response refused;
    refused.status = 400;
    EXPECT_EQ(channel->classify_send(R"({"v":1})", refused).send_class, SB_SEND_PERMANENT);
}

TEST(HeaderEncoding, RoundTripsHeaders) {
    std::vector<sb::plugin_host::HeaderView> headers{{"Content-Type", "application/json"}, {"X-A", "b: c"}};
    const std::string encoded = sb::plugin_host::encode_headers(headers);  // decoded views point into it
    auto decoded = sb::plugin_host::decode_headers(encoded);
    ASSERT_EQ(decoded.size(), 2u);
    EXPECT_EQ(decoded[1].first, "X-A");
    EXPECT_EQ(decoded[1].second, "b: c");
}

}  // namespace

// --- x-webhook-signature: how a tool signs a webhook the way the plugin's schema declares ---

namespace {
constexpr char kFox[] = "The quick brown fox jumps over the lazy dog";
}

TEST(WebhookSigning, AbsentDeclarationIsNoSigning) {
    EXPECT_FALSE(sb::plugin_host::webhook_signing_of(R"({"type":"object"})").has_value());
}

TEST(WebhookSigning, HexWithPrefixAndRenamedHeader) {
    auto s = sb::plugin_host::webhook_signing_of(
        R"({"x-webhook-signature":{"header":"X-Sig","header_setting":"signature_header",
            "scheme":"hmac-sha256-hex","prefix":"sha256=","secret_setting":"secret"}})");
    ASSERT_TRUE(s.has_value());
    auto plain = sb::plugin_host::sign_webhook(*s, R"({"secret":"key"})", kFox);
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(plain->first, "X-Sig");
    EXPECT_EQ(plain->second, "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    auto renamed = sb::plugin_host::sign_webhook(*s, R"({"secret":"key","signature_header":"X-Other"})", kFox);
    EXPECT_EQ(renamed->first, "X-Other");
}

TEST(WebhookSigning, Base64AsLineSigns) {
    auto s = sb::plugin_host::webhook_signing_of(
        R"({"x-webhook-signature":{"header":"x-line-signature","scheme":"hmac-sha256-base64",
            "secret_setting":"channel_secret"}})");
    auto signed_ = sb::plugin_host::sign_webhook(*s, R"({"channel_secret":"key"})", kFox);
    ASSERT_TRUE(signed_.has_value());
    EXPECT_EQ(signed_->second, "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=");
}

TEST(WebhookSigning, TokenSchemeSendsTheSecretOrNothing) {
    auto s = sb::plugin_host::webhook_signing_of(
        R"({"x-webhook-signature":{"header":"X-Telegram-Bot-Api-Secret-Token","scheme":"token",
            "secret_setting":"secret_token"}})");
    auto with = sb::plugin_host::sign_webhook(*s, R"({"secret_token":"s3cret"})", "{}");
    ASSERT_TRUE(with.has_value());
    EXPECT_EQ(with->second, "s3cret");
    EXPECT_FALSE(sb::plugin_host::sign_webhook(*s, R"({"bot_token":"1:a"})", "{}").has_value());
}

TEST(WebhookSigning, MissingHmacKeyNamesTheSetting) {
    auto s = sb::plugin_host::webhook_signing_of(
        R"({"x-webhook-signature":{"header":"X","scheme":"hmac-sha256-hex","secret_setting":"app_secret"}})");
    try {
        sb::plugin_host::sign_webhook(*s, R"({"page_id":"1"})", "{}");
        FAIL() << "signed without a key";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("settings.app_secret"), std::string::npos) << e.what();
    }
}

TEST(WebhookSigning, MalformedDeclarationsNameTheMember) {
    auto message_of = [](const char* schema) -> std::string {
        try {
            sb::plugin_host::webhook_signing_of(schema);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "accepted";
    };
    EXPECT_NE(message_of(R"({"x-webhook-signature":"X-Sig"})").find("must be an object"), std::string::npos);
    EXPECT_NE(message_of(R"({"x-webhook-signature":{"scheme":"token","secret_setting":"s"}})").find(".header"),
              std::string::npos);
    EXPECT_NE(message_of(R"({"x-webhook-signature":{"header":"X","scheme":"md5","secret_setting":"s"}})")
                  .find("scheme must be"),
              std::string::npos);
    EXPECT_NE(message_of(R"({"x-webhook-signature":{"header":"X","scheme":"token"}})").find("secret_setting"),
              std::string::npos);
}

// Each built-in plugin declares the scheme its own verify() checks (the kit checks the pair on
// the api plugin's fixtures; here, that every declaration is well-formed).
TEST(WebhookSigning, BuiltInPluginsDeclareTheirScheme) {
    PluginRegistry plugins(std::string(SB_PLUGIN_DIR));
    int checked = 0;
    for (const char* id : {"telegram", "whatsapp", "messenger", "instagram", "api"}) {
        std::string error;
        auto plugin = plugins.get(id, error);
        if (!plugin) continue;  // not built in this configuration
        ++checked;
        auto s = sb::plugin_host::webhook_signing_of(plugin->descriptor().config_schema);
        ASSERT_TRUE(s.has_value()) << id;
        EXPECT_FALSE(s->header.empty()) << id;
    }
    EXPECT_GT(checked, 0) << "no built-in plugin in " << SB_PLUGIN_DIR;
}

// ABI 1.3 added fetch_media at the end of the descriptor: a plugin built against 1.2 (a smaller
// descriptor, no member) loads, verifies and parses as before, and simply fetches no media.
TEST(Channel, APluginOfTheMinorBeforeMediaKeepsWorkingWithoutMedia) {
    std::string error;
    auto plugin = load_plugin(fixture("minor2"), error);
    ASSERT_NE(plugin, nullptr) << error;
    EXPECT_EQ(plugin->descriptor().abi_minor, 2);
    EXPECT_FALSE(SB_HAS_MEMBER(&plugin->descriptor(), sb_plugin_v1, fetch_media));
    auto channel = Channel::open(channel_config("c1", "minor2"), plugin);
    ASSERT_TRUE(channel->ready()) << channel->failure();
    EXPECT_EQ(channel->verify("POST", "/webhooks/c1", {{"X-Test", "ok"}}, "hi").verdict, SB_VERIFY_ACCEPT);
    EXPECT_FALSE(channel->fetches_media());
    auto step = channel->fetch_media(R"({"v":1,"content":{"type":"image","media":{"id":"x"}}})", nullptr);
    EXPECT_NE(step.status, SB_OK);
    EXPECT_FALSE(step.request);
    // A current plugin without SB_CAP_MEDIA_IN (fetch_media NULL) fetches none either.
    auto good = Channel::open(channel_config("c2", "good"), load_plugin(fixture("good"), error));
    ASSERT_TRUE(good->ready());
    EXPECT_FALSE(good->fetches_media());
}
