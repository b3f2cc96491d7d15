// One libFuzzer target per channel plugin (sb_fuzz_plugin names it): the plugin .so, built with
// the same instrumentation, is loaded through the C ABI by the test harness
// (tests/support/plugin_harness) and every entry point that reads untrusted bytes is driven.
// The first input byte picks the entry point (byte % 4) and a variant (byte / 4); seeds use the
// digits '0'..'3':
//   '0'  a webhook body, signed as the platform signs it: verify, then parse
//   '1'  a raw request "METHOD target\nName: value\n...\n\nbody": verify, then parse if accepted
//   '2'  an agent's outbound message (normalized JSON): build_send
//   '3'  a platform reply "status [transport error]\nName: value\n...\n\nbody": classify_send for
//        one of the profile's outbound messages (the variant picks it), then poll_response and
//        parse for each update it hands over
// Oracles besides ASan and UBSan: every event parse emits with SB_OK is one the host's reader
// (daemon/events/normalized.cpp) accepts, verdicts and send classes are values of their enums, a
// JSON request body a plugin builds is valid JSON, and every fixed-size text the plugin fills is
// NUL-terminated (the harness throws otherwise, which libFuzzer reports).

#include <rapidjson/document.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/normalized.hpp"
#include "support/plugin_harness.hpp"
#include "support/signing.hpp"

// The plugin's id: each target links a one-line file defining it (fuzz/CMakeLists.txt), so this
// file is compiled once for all of them.
extern const char sb_fuzz_plugin[];

namespace {

using sb::test::Headers;

// How one plugin is opened and how its platform authenticates a webhook. The settings and
// secrets are the ones its unit tests and tests/fixtures/<platform>/ use, so the fixtures that
// seed the corpus parse.
struct Profile {
    std::string_view id;
    std::string settings;
    std::string target;            // the webhook path
    std::string signature_header;  // the header that carries the secret or the signature
    std::string secret;
    bool hmac = true;                   // "sha256=" + hex HMAC-SHA256(secret, body); false: the secret itself
    std::vector<std::string> outbound;  // what classify_send is asked about
};

const std::string kMetaSignature = "X-Hub-Signature-256";

Profile profile_of(std::string_view id) {
    if (id == "telegram")
        return {"telegram",
                R"({"bot_token":"123456:TEST-token_abc","secret_token":"s3cr3t-Webhook_token",)"
                R"("api_base":"https://api.telegram.org"})",
                "/webhooks/tg",
                "X-Telegram-Bot-Api-Secret-Token",
                "s3cr3t-Webhook_token",
                false,
                {R"({"v":1,"conversation":{"id":"123456789"},"content":{"type":"text","text":"hi"}})",
                 R"({"v":1,"conversation":{"id":"123456789"},"content":{"type":"typing","state":"on"}})"}};
    if (id == "whatsapp")
        return {
            "whatsapp",
            R"({"phone_number_id":"106540352242922","access_token":"EAAGtestTOKENxyz123",)"
            R"("app_secret":"appSECRETxyz","verify_token":"verifyTOKENxyz"})",
            "/webhooks/wa",
            kMetaSignature,
            "appSECRETxyz",
            true,
            {R"({"v":1,"conversation":{"id":"16315551234"},"content":{"type":"text","text":"Hi"}})",
             R"({"v":1,"conversation":{"id":"16315551234"},"content":{"type":"mark_read","id":"wamid.IN"}})"}};
    if (id == "messenger")
        return {
            "messenger",
            R"({"page_id":"106502831234567","page_access_token":"EAAGm0PX4ZCpsBAPageTOKENxyz",)"
            R"("app_secret":"APPSECRETd41d8cd98f00b204e98","verify_token":"VERIFYtoken-4711"})",
            "/webhooks/fb",
            kMetaSignature,
            "APPSECRETd41d8cd98f00b204e98",
            true,
            {R"({"v":1,"conversation":{"id":"6789012345678901"},"content":{"type":"text","text":"hi"}})",
             R"({"v":1,"conversation":{"id":"6789012345678901"},"content":{"type":"typing","state":"on"}})"}};
    if (id == "instagram")
        return {
            "instagram",
            R"({"ig_account_id":"17841405822304914","access_token":"IGQWRPinstagramTOKENxyz",)"
            R"("app_secret":"APPSECRETd41d8cd98f00b204e98","verify_token":"VERIFYtoken-4711"})",
            "/webhooks/ig",
            kMetaSignature,
            "APPSECRETd41d8cd98f00b204e98",
            true,
            {R"({"v":1,"conversation":{"id":"1298745632109876"},"content":{"type":"text","text":"hi"}})",
             R"({"v":1,"conversation":{"id":"1298745632109876"},"content":{"type":"typing","state":"on"}})"}};
    if (id == "api")  // tests/fixtures/api/config.json
        return {
            "api",
            R"({"shared_secret":"test-shared-secret-0123456789","callback_url":"http://127.0.0.1:9/callback"})",
            "/webhooks/check",
            "X-Switchboard-Signature",
            "test-shared-secret-0123456789",
            true,
            {R"({"v":1,"conversation":{"id":"visitor-42"},"content":{"type":"text","text":"hi"}})",
             R"({"v":1,"conversation":{"id":"visitor-42"},"content":{"type":"typing","state":"on"}})"}};
    std::fprintf(stderr, "fuzz: no profile for plugin %.*s\n", static_cast<int>(id.size()), id.data());
    std::abort();
}

const Profile* g_profile = nullptr;
const sb::test::PluginLibrary* g_library = nullptr;  // never unloaded: leak reports need its symbols

[[noreturn]] void finding(const char* what, std::string_view detail) {
    std::fprintf(stderr, "fuzz finding: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
    std::abort();
}

void check_events(const std::vector<std::string>& events) {
    for (const std::string& event : events) {
        sb::events::ParseError error;
        if (!sb::events::read_event(event, error))
            finding("emitted an event the host's reader refuses", error.message + ": " + event);
    }
}

// "Name: value" lines up to an empty line; returns what follows it.
std::string_view read_headers(std::string_view text, Headers& headers) {
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;
        std::size_t colon = line.find(':');
        std::string_view name = line.substr(0, colon);
        std::string_view value =
            colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        headers.push_back({std::string(name), std::string(value)});
    }
    return text;
}

// The first line, and the rest after it.
std::string_view first_line(std::string_view& text) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

void verify_then_parse(const sb::test::PluginInstance& plugin, std::string_view method,
                       std::string_view target, const Headers& headers, std::string_view body) {
    sb::test::VerifyResult verified = plugin.verify(method, target, headers, body);
    if (verified.verdict < SB_VERIFY_ACCEPT || verified.verdict > SB_VERIFY_RESPONDED)
        finding("verify returned no sb_verdict", std::to_string(verified.verdict));
    if (verified.verdict == SB_VERIFY_RESPONDED && !verified.response)
        finding("verify said RESPONDED without responding", "");
    if (verified.verdict != SB_VERIFY_ACCEPT) return;
    sb::test::EventsResult parsed = plugin.parse(body, headers);
    if (parsed.status == SB_OK) check_events(parsed.events);
}

void build_send(const sb::test::PluginInstance& plugin, std::string_view outbound) {
    sb::test::RequestResult built = plugin.build_send(outbound);
    if (built.status != SB_OK || !built.request) return;
    const sb::test::CapturedRequest& request = *built.request;
    if (request.method.empty() || request.url.empty())
        finding("build_send made a request without method or URL", "");
    if (auto type = request.header("Content-Type"); type && type->find("json") != std::string::npos) {
        rapidjson::Document doc;
        doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(
            request.body.data(), request.body.size());
        if (doc.HasParseError()) finding("build_send made a JSON body that is not JSON", request.body);
    }
}

void classify(const sb::test::PluginInstance& plugin, std::size_t variant, std::string_view reply) {
    std::string_view status_line = first_line(reply);
    std::size_t space = status_line.find(' ');
    std::string_view digits = status_line.substr(0, space);
    std::string_view transport_error =
        space == std::string_view::npos ? std::string_view() : status_line.substr(space + 1);
    std::int32_t status = 0;
    for (char c : digits.substr(0, 4)) {
        if (c < '0' || c > '9') break;
        status = status * 10 + (c - '0');
    }
    Headers headers;
    std::string_view body = read_headers(reply, headers);
    const std::string& outbound = g_profile->outbound[variant % g_profile->outbound.size()];
    sb_send_result result = plugin.classify(outbound, status, body, headers, transport_error);
    if (result.send_class < SB_SEND_OK || result.send_class > SB_SEND_CONTINUE)
        finding("classify_send left no sb_send_class", std::to_string(result.send_class));
    if (g_library->descriptor().poll_response != nullptr) {
        // Each update is queued like a webhook body, and parsed like one.
        sb::test::EventsResult polled = plugin.poll_response(status, body, headers, transport_error);
        for (const std::string& update : polled.events) {
            sb::test::EventsResult parsed = plugin.parse(update);
            if (parsed.status == SB_OK) check_events(parsed.events);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    static const Profile profile = profile_of(sb_fuzz_plugin);
    g_profile = &profile;
    const char* dir = std::getenv("SB_FUZZ_PLUGIN_DIR");
    g_library = new sb::test::PluginLibrary(std::string(dir != nullptr ? dir : SB_PLUGIN_DIR) + "/" +
                                            std::string(profile.id) + ".so");
    // Events carry the host's clock; a fixed one keeps every run of an input the same.
    sb::test::set_fake_now_ms(1732549999123);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned selector = data[0];
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

    // A fresh instance per input: no state carried from one input to the next, so a crash
    // reproduces from its input alone.
    sb::test::OpenResult opened = g_library->open(g_profile->settings);
    if (opened.status != SB_OK) finding("the profile's settings do not open", opened.error);
    const sb::test::PluginInstance& plugin = *opened.instance;

    switch (selector % 4) {
        case 0: {
            Headers headers = {{"Content-Type", "application/json"}};
            headers.push_back(
                {g_profile->signature_header,
                 g_profile->hmac ? sb::test::sha256_signature(g_profile->secret, input) : g_profile->secret});
            verify_then_parse(plugin, "POST", g_profile->target, headers, input);
            break;
        }
        case 1: {
            std::string_view request_line = first_line(input);
            std::size_t space = request_line.find(' ');
            std::string_view method = request_line.substr(0, space);
            std::string_view target =
                space == std::string_view::npos ? std::string_view() : request_line.substr(space + 1);
            Headers headers;
            std::string_view body = read_headers(input, headers);
            verify_then_parse(plugin, method, target, headers, body);
            break;
        }
        case 2:
            build_send(plugin, input);
            break;
        default:
            classify(plugin, selector / 4, input);
            break;
    }
    return 0;
}
