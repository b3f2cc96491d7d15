// The generic API channel (plugins/api), tested through the real api.so and the C ABI
// (plugin_harness), plus the SDK headers it is built on: switchboard/plugin.hpp's JSON writer
// and bounded copies, switchboard/json.hpp's hardened reader. Events the plugin emits are checked against
// docs/normalized-events.schema.json with the kit's validator.

#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <switchboard/json.hpp>
#include <switchboard/plugin.hpp>

#include "json_schema.hpp"
#include "support/plugin_fixture.hpp"
#include "support/plugin_harness.hpp"

namespace {

using sb::test::EventsResult;
using sb::test::Headers;
using sb::test::PluginInstance;
using sb::test::PluginLibrary;
using sb::test::RequestResult;

constexpr char kSecret[] = "unit-test-shared-secret-0123456789";
constexpr char kCallback[] = "https://chat.example.com/switchboard/callback";

std::string hmac_hex(const std::string& key, const std::string& data) {
    unsigned char mac[32];
    unsigned int len = sizeof mac;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
    return switchboard::hex(mac, len);
}

std::string signature(const std::string& body, const std::string& key = kSecret) {
    return "sha256=" + hmac_hex(key, body);
}

std::string settings(const std::string& extra = "") {
    return std::string(R"({"shared_secret":")") + kSecret + R"(","callback_url":")" + kCallback + "\"" +
           extra + "}";
}

std::string str_at(const std::string& json, const char* pointer) {
    rapidjson::Document doc;
    doc.Parse(json.c_str(), json.size());
    const rapidjson::Value* v = doc.HasParseError() ? nullptr : rapidjson::Pointer(pointer).Get(doc);
    if (v == nullptr || !v->IsString()) return std::string("<no string at ") + pointer + ">";
    return {v->GetString(), v->GetStringLength()};
}

const std::string kMessage =
    R"({"v":1,"type":"message","id":"web-1","conversation":{"id":"visitor-1","kind":"private"},)"
    R"("sender":{"id":"visitor-1","name":"Ada"},"timestamp_ms":1732540000000,)"
    R"("content":{"type":"text","text":"Hello \"there\"\n\u0001 \ud83d\ude42"}})";
const std::string kTypingOn =
    R"({"v":1,"type":"typing","conversation":{"id":"visitor-1"},"sender":{"id":"visitor-1"},)"
    R"("timestamp_ms":1732540000001,"state":"on"})";
const std::string kOutboundText =
    R"({"v":1,"conversation":{"id":"visitor-1"},"recipient":{"id":"visitor-1"},)"
    R"("content":{"type":"text","text":"Hi Ada"}})";
const std::string kOutboundTyping =
    R"({"v":1,"conversation":{"id":"visitor-1"},"content":{"type":"typing","state":"on"}})";

class ApiPlugin : public sb::test::PluginTest<ApiPlugin> {
public:
    static constexpr const char* kPlugin = "api";
    static std::string open_settings() { return settings(); }

protected:
    static void SetUpTestSuite() {
        PluginTest::SetUpTestSuite();
        schema_ = new sb::plugin_check::JsonSchema(sb::plugin_check::builtin_event_schema());
    }
    static void TearDownTestSuite() {
        PluginTest::TearDownTestSuite();
        delete schema_;
    }

    sb_verdict verify(const std::string& body, const Headers& headers, const std::string& method = "POST") {
        return instance_->verify(method, "/webhooks/web", headers, body).verdict;
    }

    // Parses a body that must succeed; every event must pass the JSON Schema.
    std::vector<std::string> parse_ok(const std::string& body) {
        EventsResult result = instance_->parse(body);
        EXPECT_EQ(result.status, SB_OK) << result.error;
        for (const auto& e : result.events) EXPECT_EQ(schema_->validate(e), "") << e;
        return result.events;
    }

    std::string parse_error(const std::string& body) {
        EventsResult result = instance_->parse(body);
        EXPECT_EQ(result.status, SB_E_INVALID) << body;
        EXPECT_TRUE(result.events.empty());
        return result.error;
    }

    sb_send_result classify(int status, const std::string& body, const Headers& headers = {},
                            const std::string& outbound = kOutboundText, const std::string& transport = "") {
        return instance_->classify(outbound, status, body, headers, transport);
    }

    static inline sb::plugin_check::JsonSchema* schema_ = nullptr;
};

// ---- Descriptor and settings -----------------------------------------------------------------

TEST_F(ApiPlugin, DescriptorDeclaresIdAndCapabilities) {
    const sb_plugin_v1& d = library_->descriptor();
    EXPECT_STREQ(d.id, "api");
    EXPECT_EQ(d.size, sizeof(sb_plugin_v1));
    EXPECT_EQ(d.capabilities,
              SB_CAP_THREAD_SAFE | SB_CAP_TYPING_IN | SB_CAP_TYPING_OUT | SB_CAP_MEDIA_OUT | SB_CAP_MEDIA_IN);
    EXPECT_EQ(d.poll_request, nullptr);
    EXPECT_EQ(d.poll_response, nullptr);
    ASSERT_NE(d.account, nullptr);
    rapidjson::Document schema;
    schema.Parse(d.config_schema);
    ASSERT_FALSE(schema.HasParseError());
    EXPECT_TRUE(rapidjson::Pointer("/properties/shared_secret/x-secret").Get(schema)->IsTrue());
}

TEST_F(ApiPlugin, OpenRefusesBadSettingsNamingTheKeyWithoutTheSecret) {
    struct Case {
        std::string settings;
        std::string names;
    };
    for (const Case& c : std::vector<Case>{
             {R"({"callback_url":"https://x.example"})", "settings.shared_secret is required"},
             {R"({"shared_secret":"short-but-secret","callback_url":"ftp://x"})", "settings.callback_url"},
             {R"({"shared_secret":"tooshort","callback_url":"https://x.example"})",
              "settings.shared_secret must be"},
             {settings(R"(,"signature_header":"X Bad")"), "settings.signature_header"},
             {settings(R"(,"colour":"blue")"), "settings.colour is not an api channel setting"},
             {settings(R"(,"timeout_ms":5)"), "settings.timeout_ms"},
             {"", "settings: empty body"},
             {"[]", "settings must be a JSON object"}}) {
        auto opened = library_->open(c.settings);
        EXPECT_EQ(opened.status, SB_E_INVALID) << c.settings;
        EXPECT_NE(opened.error.find(c.names), std::string::npos) << opened.error;
        EXPECT_EQ(opened.error.find(kSecret), std::string::npos) << opened.error;
    }
}

// ---- verify ----------------------------------------------------------------------------------

TEST_F(ApiPlugin, AcceptsValidSignature) {
    EXPECT_EQ(verify(kMessage, {{"X-Switchboard-Signature", signature(kMessage)}}), SB_VERIFY_ACCEPT);
    // Header names are case-insensitive; the hex may be upper case.
    std::string upper = signature(kMessage);
    for (std::size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
    EXPECT_EQ(verify(kMessage, {{"x-switchboard-signature", upper}}), SB_VERIFY_ACCEPT);
}

TEST_F(ApiPlugin, RejectsMissingOrWrongSignatureAsUnauthorized) {
    EXPECT_EQ(verify(kMessage, {}), SB_VERIFY_UNAUTHORIZED);
    EXPECT_EQ(
        verify(kMessage, {{"X-Switchboard-Signature", signature(kMessage, "another-secret-0123456789")}}),
        SB_VERIFY_UNAUTHORIZED);
    EXPECT_EQ(verify(kMessage, {{"X-Switchboard-Signature", signature(kMessage + " ")}}),
              SB_VERIFY_UNAUTHORIZED);
    EXPECT_EQ(verify(kMessage, {{"X-Switchboard-Signature", hmac_hex(kSecret, kMessage)}}),
              SB_VERIFY_UNAUTHORIZED);
    EXPECT_EQ(verify(kMessage, {{"X-Switchboard-Signature", ""}}), SB_VERIFY_UNAUTHORIZED);
}

TEST_F(ApiPlugin, RejectsNonPostAsBadRequest) {
    EXPECT_EQ(verify(kMessage, {{"X-Switchboard-Signature", signature(kMessage)}}, "GET"),
              SB_VERIFY_BAD_REQUEST);
}

TEST_F(ApiPlugin, UsesConfiguredSignatureHeader) {
    auto opened = library_->open(settings(R"(,"signature_header":"X-Widget-Signature")"));
    ASSERT_EQ(opened.status, SB_OK) << opened.error;
    EXPECT_EQ(opened.instance
                  ->verify("POST", "/webhooks/web", {{"X-Widget-Signature", signature(kMessage)}}, kMessage)
                  .verdict,
              SB_VERIFY_ACCEPT);
    EXPECT_EQ(
        opened.instance
            ->verify("POST", "/webhooks/web", {{"X-Switchboard-Signature", signature(kMessage)}}, kMessage)
            .verdict,
        SB_VERIFY_UNAUTHORIZED);
}

// ---- parse -----------------------------------------------------------------------------------

TEST_F(ApiPlugin, ParsesOneEventAndReemitsItCanonically) {
    auto events = parse_ok(kMessage);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(str_at(events[0], "/type"), "message");
    EXPECT_EQ(str_at(events[0], "/id"), "web-1");
    EXPECT_EQ(str_at(events[0], "/content/text"), "Hello \"there\"\n\x01 \xF0\x9F\x99\x82");
    // Control characters are escaped, non-ASCII is kept as UTF-8.
    EXPECT_NE(events[0].find(R"(\"there\"\n\u0001 )"), std::string::npos) << events[0];
}

TEST_F(ApiPlugin, ParsesBatchInOrderIncludingTyping) {
    auto events = parse_ok(R"({"events":[)" + kTypingOn + "," + kMessage + "]}");
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(str_at(events[0], "/type"), "typing");
    EXPECT_EQ(str_at(events[0], "/state"), "on");
    EXPECT_EQ(str_at(events[1], "/type"), "message");
}

TEST_F(ApiPlugin, ParsesEditStatusAndMedia) {
    EXPECT_EQ(parse_ok(R"({"v":1,"type":"edit","id":"web-1","conversation":{"id":"c"},"sender":{"id":"u"},)"
                       R"("timestamp_ms":5,"content":{"type":"text","text":"fixed"}})")
                  .size(),
              1u);
    EXPECT_EQ(parse_ok(R"({"v":1,"type":"status","id":"out-1","status":"read","conversation":{"id":"c"},)"
                       R"("timestamp_ms":5})")
                  .size(),
              1u);
    EXPECT_EQ(parse_ok(R"({"v":1,"type":"message","id":"m","conversation":{"id":"c"},"sender":{"id":"u"},)"
                       R"("timestamp_ms":5,"content":{"type":"document","media":{"url":"https://x/y.pdf",)"
                       R"("size":12345678901},"caption":"invoice"}})")
                  .size(),
              1u);
}

TEST_F(ApiPlugin, RefusesInvalidEventsNamingTheField) {
    EXPECT_EQ(parse_error(R"({"events":[)" + kMessage +
                          R"(,{"v":1,"type":"typing","conversation":{"id":"c"},)"
                          R"("sender":{"id":"u"},"timestamp_ms":1,"state":"maybe"}]})"),
              "events[1].state must be on or off");
    EXPECT_EQ(parse_error(R"({"v":2,"type":"message"})"), "v must be 1");
    EXPECT_EQ(parse_error(R"({"v":1,"type":"message","id":"m","conversation":{"id":"c"},"sender":{"id":"u"},)"
                          R"("timestamp_ms":1,"content":{"type":"text","text":7}})"),
              "content.text must be a string");
    EXPECT_EQ(parse_error(R"({"v":1,"type":"message","id":"m","conversation":{"id":""},"sender":{"id":"u"},)"
                          R"("timestamp_ms":1,"content":{"type":"text","text":"x"}})"),
              "conversation.id must not be empty");
    EXPECT_EQ(parse_error(R"({"v":1,"type":"typing","conversation":{"id":"c"},"sender":{"id":"u"},)"
                          R"("timestamp_ms":"now","state":"on"})"),
              "timestamp_ms must be an integer");
    EXPECT_NE(parse_error(R"({"v":1,"type":"typing","conversation":{"id":"c"},"sender":{"id":"u"},)"
                          R"("timestamp_ms":1,"state":"on","account_id":"x"})")
                  .find("account_id"),
              std::string::npos);
    EXPECT_EQ(parse_error(R"({"events":"all of them"})"), "events must be an array");
    EXPECT_EQ(parse_error("[]"), "body must be a JSON object: one event or {\"events\":[...]}");
}

TEST_F(ApiPlugin, RefusesHostileBodiesWithoutCrashing) {
    parse_error("");
    parse_error(std::string(100000, '[') + std::string(100000, ']'));
    parse_error("{\"v\":1,\"type\":\"message\",\"text\":\"\xff\xfe\"}");
    parse_error(R"({"v":1,"type":"message","conversation":{"id":"c"},"sender":{"id)");
}

// ---- build_send ------------------------------------------------------------------------------

TEST_F(ApiPlugin, BuildSendPostsSignedOutboundToCallback) {
    RequestResult built = instance_->build_send(kOutboundText);
    ASSERT_EQ(built.status, SB_OK) << built.error;
    ASSERT_TRUE(built.request);
    EXPECT_EQ(built.request->method, "POST");
    EXPECT_EQ(built.request->url, kCallback);
    EXPECT_EQ(built.request->body, kOutboundText);
    EXPECT_EQ(built.request->header("Content-Type"), "application/json");
    EXPECT_EQ(built.request->header("X-Switchboard-Signature"), signature(kOutboundText));
    EXPECT_EQ(built.request->timeout_ms, 10000u);
}

TEST_F(ApiPlugin, BuildSendGivesTheOutboundIdAsIdempotencyKey) {
    const std::string with_id =
        R"({"v":1,"id":"sb-0123456789abcdef0123456789abcdef","conversation":{"id":"visitor-1"},)"
        R"("content":{"type":"text","text":"Hi Ada"}})";
    RequestResult built = instance_->build_send(with_id);
    ASSERT_EQ(built.status, SB_OK) << built.error;
    EXPECT_EQ(built.request->header("Idempotency-Key"), "sb-0123456789abcdef0123456789abcdef");
    EXPECT_EQ(built.request->body, with_id) << "the body, id included, is still what is signed";
    RequestResult without = instance_->build_send(kOutboundText);
    ASSERT_EQ(without.status, SB_OK) << without.error;
    EXPECT_FALSE(without.request->header("Idempotency-Key").has_value()) << "an older host gives no id";
}

TEST_F(ApiPlugin, BuildSendTakesMediaAndTyping) {
    for (const char* content :
         {R"({"type":"image","url":"https://x/a.png","caption":"c"})",
          R"({"type":"document","url":"https://x/a.pdf","file_name":"a.pdf"})",
          R"({"type":"audio","url":"https://x/a.ogg"})", R"({"type":"video","url":"https://x/a.mp4"})",
          R"({"type":"typing","state":"off"})"}) {
        std::string outbound = std::string(R"({"v":1,"conversation":{"id":"c"},"content":)") + content + "}";
        RequestResult built = instance_->build_send(outbound);
        EXPECT_EQ(built.status, SB_OK) << content << ": " << built.error;
    }
}

TEST_F(ApiPlugin, BuildSendRefusesWhatItCannotCarry) {
    auto with = [](const std::string& content) {
        return std::string(R"({"v":1,"conversation":{"id":"c"},"content":)") + content + "}";
    };
    EXPECT_EQ(instance_->build_send(with(R"({"type":"template","name":"x","language":"en"})")).status,
              SB_E_UNSUPPORTED);
    EXPECT_EQ(instance_->build_send(with(R"({"type":"mark_read","id":"m"})")).status, SB_E_UNSUPPORTED);
    RequestResult empty = instance_->build_send(with(R"({"type":"text","text":""})"));
    EXPECT_EQ(empty.status, SB_E_INVALID);
    EXPECT_EQ(empty.error, "content.text must be a non-empty string");
    EXPECT_EQ(instance_->build_send(with(R"({"type":"image"})")).status, SB_E_INVALID);
    EXPECT_EQ(instance_->build_send("not json").status, SB_E_INVALID);
    EXPECT_EQ(instance_->build_send(R"({"v":1,"content":{"type":"text","text":"x"}})").status, SB_E_INVALID);
}

// ---- classify_send ---------------------------------------------------------------------------

TEST_F(ApiPlugin, ClassifiesCallbackAnswers) {
    sb_send_result ok = classify(201, R"({"id":"cb-77"})");
    EXPECT_EQ(ok.send_class, SB_SEND_OK);
    EXPECT_STREQ(ok.platform_id, "cb-77");

    sb_send_result no_id = classify(200, R"({"ok":true})");
    EXPECT_EQ(no_id.send_class, SB_SEND_PERMANENT);
    EXPECT_STREQ(no_id.platform_code, "http_200");

    sb_send_result limited = classify(429, "{}", {{"Retry-After", "7"}});
    EXPECT_EQ(limited.send_class, SB_SEND_RATE_LIMITED);
    EXPECT_EQ(limited.retry_after_ms, 7000u);

    EXPECT_EQ(classify(401, "").send_class, SB_SEND_AUTH);
    EXPECT_EQ(classify(403, "").send_class, SB_SEND_AUTH);
    EXPECT_EQ(classify(500, "oops").send_class, SB_SEND_RETRYABLE);
    EXPECT_EQ(classify(503, "", {{"Retry-After", "2"}}).retry_after_ms, 2000u);
    EXPECT_EQ(classify(0, "", {}, kOutboundText, "connection refused").send_class, SB_SEND_RETRYABLE);

    sb_send_result gone = classify(404, R"({"error":{"code":"no_such_visitor","message":"visitor left"}})");
    EXPECT_EQ(gone.send_class, SB_SEND_PERMANENT);
    EXPECT_STREQ(gone.platform_code, "no_such_visitor");
    EXPECT_STREQ(gone.message, "visitor left");
}

TEST_F(ApiPlugin, TypingNeedsNoIdBack) {
    sb_send_result r = classify(204, "", {}, kOutboundTyping);
    EXPECT_EQ(r.send_class, SB_SEND_OK);
    EXPECT_STREQ(r.platform_id, "");
}

TEST_F(ApiPlugin, ClassifyRedactsTheSecretEchoedBack) {
    sb_send_result r =
        classify(400, std::string(R"({"error":{"code":"bad","message":"key )") + kSecret + R"( is wrong"}})");
    EXPECT_EQ(std::string(r.message).find(kSecret), std::string::npos) << r.message;
    EXPECT_NE(std::string(r.message).find("<redacted>"), std::string::npos) << r.message;
}

// ---- The SDK header --------------------------------------------------------------------------

TEST(SdkJsonWriter, WritesNestedValuesWithCommasAndEscapes) {
    switchboard::JsonWriter w;
    w.begin_object()
        .key("v")
        .integer(1)
        .key("s")
        .string("q\"b\\s\x01\x7f/")
        .key("a")
        .begin_array()
        .integer(-9223372036854775807LL - 1)
        .boolean(true)
        .null()
        .number(0.5)
        .end_array()
        .key("o")
        .begin_object()
        .end_object()
        .end_object();
    EXPECT_TRUE(w.complete());
    EXPECT_EQ(w.str(),
              R"({"v":1,"s":"q\"b\\s\u0001\u007f/","a":[-9223372036854775808,true,null,0.5],"o":{}})");
}

TEST(SdkJsonWriter, ReplacesInvalidUtf8SoOutputIsAlwaysValid) {
    switchboard::JsonWriter w;
    w.string(
        "a\xff"
        "b\xe2\x82"
        "c\xf0\x9f\x99\x82");
    EXPECT_EQ(w.str(),
              "\"a\xEF\xBF\xBD"
              "b\xEF\xBF\xBD\xEF\xBF\xBD"
              "c\xF0\x9F\x99\x82\"");
    EXPECT_TRUE(switchboard::is_valid_utf8(w.str()));
}

TEST(SdkJsonWriter, MisuseThrowsLogicError) {
    switchboard::JsonWriter w;
    w.begin_object();
    EXPECT_THROW(w.integer(1), std::logic_error);  // a value needs a key in an object
    EXPECT_THROW(w.end_array(), std::logic_error);
    switchboard::JsonWriter nan;
    EXPECT_THROW(nan.number(std::nan("")), switchboard::InvalidInput);
}

// Found by fuzz/json_fuzzer.cpp: RapidJSON 1.1.0 refuses a high surrogate without its low half
// but turned a lone low one into bytes that are not UTF-8, breaking the reader's UTF-8 promise.
TEST(SdkJsonParse, RefusesALoneLowSurrogateEscape) {
    for (std::string_view text :
         {std::string_view(R"({"v":2,"b\\s\udddd],":{}})"),  // the fuzzer's input
          std::string_view(R"({"text":"\uDC00"})"), std::string_view(R"({"text":"\u0041\udfff"})"),
          std::string_view(R"({"text":"\ude42\ud83d"})"),  // the pair reversed
          std::string_view(R"(["\ud83d\ude42\ude42"])")}) {
        rapidjson::Document doc;
        auto error = switchboard::json::parse(doc, text, "request body");
        ASSERT_TRUE(error) << text;
        EXPECT_NE(error->find("request body: invalid JSON at offset "), std::string::npos) << *error;
        EXPECT_NE(error->find("surrogate"), std::string::npos) << *error;
    }
    rapidjson::Document doc;
    auto error = switchboard::json::parse(doc, R"({"v":2,"b\\s\udddd],":{}})", "request body");
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, "request body: invalid JSON at offset 12: The surrogate pair in string is invalid.");
}

TEST(SdkJsonParse, AcceptsSurrogatePairsAndEscapedBackslashesBeforeU) {
    rapidjson::Document doc;
    ASSERT_FALSE(
        switchboard::json::parse(doc, R"({"a":"\ud83d\ude42","b":"\\udc00","\udbff\udfff":1})", "body"));
    EXPECT_STREQ(doc["a"].GetString(), "\xF0\x9F\x99\x82");
    EXPECT_STREQ(doc["b"].GetString(), "\\udc00");   // an escaped backslash, then text
    EXPECT_TRUE(doc.HasMember("\xF4\x8F\xBF\xBF"));  // U+10FFFF as a key
    EXPECT_TRUE(switchboard::is_valid_utf8(doc["a"].GetString()));
}

// Found by fuzz/json_fuzzer.cpp: RapidJSON 1.1.0 read "9e308" as infinity, which its writer
// cannot write (the daemon's serialized content stopped in the middle).
TEST(SdkJsonParse, RefusesNumbersTooBigForADouble) {
    for (std::string_view text : {std::string_view("9e308"), std::string_view(R"([1,{"a":-9e308}])"),
                                  std::string_view("0.9e309"), std::string_view(R"({"latitude":1.8e308})")}) {
        rapidjson::Document doc;
        auto error = switchboard::json::parse(doc, text, "request body");
        ASSERT_TRUE(error) << text;
        EXPECT_EQ(*error, "request body: invalid JSON: Number too big to be stored in double.");
    }
    for (std::string_view text :
         {std::string_view("1.5e308"), std::string_view("[-1e308]"), std::string_view("1e-400"),
          std::string_view("123456789012345678901234567890")}) {
        rapidjson::Document doc;
        EXPECT_FALSE(switchboard::json::parse(doc, text, "request body")) << text;
    }
}

TEST(SdkBase64, EncodesTheRfc4648TestVectors) {
    // RFC 4648 §10.
    const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                           {"f", "Zg=="},
                                                           {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},
                                                           {"foob", "Zm9vYg=="},
                                                           {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(switchboard::base64(plain), encoded) << plain;
        EXPECT_EQ(switchboard::base64_decode(encoded), std::optional<std::string>(plain)) << encoded;
    }
    const std::string all_bytes("\x00\xff\xfe\x80\x7f", 5);  // a NUL first: not a C string
    EXPECT_EQ(switchboard::base64(all_bytes), "AP/+gH8=");
    EXPECT_EQ(switchboard::base64_decode("AP/+gH8="), std::optional<std::string>(all_bytes));
}

TEST(SdkBase64, DecodeRefusesWhatIsNotPaddedBase64) {
    for (const char* bad : {"Zg", "Zg=", "Z===", "Zm9v\n", "Zm-v", "Zm_v", "=Zm9", "Zg==Zg==", "Zm=v"})
        EXPECT_FALSE(switchboard::base64_decode(bad).has_value()) << bad;
}

TEST(SdkBase64, HmacSha256Base64IsLinesSignature) {
    // HMAC-SHA256 with the host's service: the same bytes base64'd, as x-line-signature carries them.
    const std::string key = "line-channel-secret", body = R"({"destination":"U1","events":[]})";
    unsigned char mac[32];
    unsigned int len = sizeof mac;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
    sb_host_services services{};
    services.size = sizeof services;
    services.abi_major = SB_ABI_MAJOR;
    services.hmac_sha256 = [](sb_str k, sb_str d, uint8_t out[32]) {
        unsigned int n = 32;
        HMAC(EVP_sha256(), k.ptr, static_cast<int>(k.len), reinterpret_cast<const unsigned char*>(d.ptr),
             d.len, out, &n);
    };
    switchboard::Host host(&services, nullptr);
    EXPECT_EQ(host.hmac_sha256_base64(key, body), switchboard::base64(mac, len));
    EXPECT_EQ(switchboard::base64_decode(host.hmac_sha256_base64(key, body))->size(), 32u);
}

TEST(SdkCopyBounded, TruncatesOnCharacterBoundaryAndTerminates) {
    char out[6];
    switchboard::copy_bounded(out, "abc\xF0\x9F\x99\x82");  // 'abc' + a 4-byte emoji: 7 bytes
    EXPECT_STREQ(out, "abc");
    switchboard::copy_bounded(out, "abcde");
    EXPECT_STREQ(out, "abcde");
    switchboard::copy_bounded(out, "abcdefgh");
    EXPECT_STREQ(out, "abcde");
    EXPECT_FALSE(switchboard::is_valid_utf8("\xed\xa0\x80"));  // a surrogate
    EXPECT_FALSE(switchboard::is_valid_utf8("\xc0\xaf"));      // overlong
    EXPECT_FALSE(switchboard::is_valid_utf8("\xe2\x82"));      // truncated
    EXPECT_TRUE(switchboard::is_valid_utf8("\xe2\x82\xac"));
}

}  // namespace

// Inbound media (ABI 1.3): the event's url, with the channel's media_authorization if set.
TEST_F(ApiPlugin, FetchesTheEventsMediaUrlWithTheConfiguredAuthorization) {
    const std::string media =
        R"({"v":1,"content":{"type":"document","media":{"url":"https://files.example.com/a.pdf","mime":"application/pdf","file_name":"a.pdf","size":1200}}})";
    auto plain = instance_->fetch_media(media);
    ASSERT_EQ(plain.status, SB_OK) << plain.error;
    EXPECT_EQ(plain.step.action, SB_MEDIA_DOWNLOAD);
    ASSERT_TRUE(plain.request);
    EXPECT_EQ(plain.request->url, "https://files.example.com/a.pdf");
    EXPECT_FALSE(plain.request->header("Authorization"));
    EXPECT_STREQ(plain.step.mime_type, "application/pdf");
    EXPECT_STREQ(plain.step.file_name, "a.pdf");
    EXPECT_EQ(plain.step.expected_size, 1200);

    auto opened = library_->open(settings(R"(,"media_authorization":"Bearer files-token-123")"));
    ASSERT_EQ(opened.status, SB_OK) << opened.error;
    auto authed = opened.instance->fetch_media(media);
    ASSERT_TRUE(authed.request);
    EXPECT_EQ(authed.request->header("Authorization"), "Bearer files-token-123");
    auto refused = opened.instance->fetch_media(media, 401, "no");
    EXPECT_EQ(refused.step.action, SB_MEDIA_FAILED);
    EXPECT_EQ(refused.message().find("files-token-123"), std::string::npos);
    EXPECT_TRUE(sb::test::Json(library_->descriptor().config_schema).boolean("/properties/media_authorization/x-secret"));
    EXPECT_NE(library_->open(settings(R"(,"media_authorization":"a\nb")")).status, SB_OK);
}
