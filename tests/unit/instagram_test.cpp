// The Instagram plugin, tested through the real instagram.so and the C ABI (plugin_harness):
// fixtures in tests/fixtures/instagram are webhook bodies and Send API answers in the shapes of
// platforms.md §1.4, §4.2-4.4, one case per file. The translation it shares with Messenger is
// covered in depth by messenger_test.cpp; this file covers Instagram's own shapes and settings.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "support/json_view.hpp"
#include "support/plugin_fixture.hpp"
#include "support/plugin_harness.hpp"
#include "support/signing.hpp"

namespace {

using sb::test::EventsResult;
using sb::test::Headers;
using sb::test::PluginInstance;
using sb::test::PluginLibrary;
using sb::test::RequestResult;

constexpr const char* kAccountId = "17841405822304914";
constexpr const char* kOtherAccountId = "17841400000000001";
constexpr const char* kIgsid = "1298745632109876";
constexpr const char* kToken = "IGQWRPinstagramTOKENxyz";
constexpr const char* kAppSecret = "APPSECRETd41d8cd98f00b204e98";
constexpr const char* kVerifyToken = "VERIFYtoken-4711";
constexpr const char* kSendUrl = "https://graph.facebook.com/v21.0/me/messages";
constexpr const char* kMidPrefix =
    "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OjM0MDI4MjM2Njg0MTcxMDMwMDk0OTEyODE5NDk4MjQ5";
constexpr std::int64_t kT = 1732540000123;
constexpr std::int64_t kNowMs = 1732549999123;

std::string mid(const std::string& suffix) { return kMidPrefix + suffix; }

std::string fixture(const std::string& name) { return sb::test::read_fixture("instagram", name); }

std::string config(const std::string& extra = "") {
    return std::string(R"({"ig_account_id":")") + kAccountId + R"(","access_token":")" + kToken +
           R"(","app_secret":")" + kAppSecret + R"(","verify_token":")" + kVerifyToken + "\"" + extra + "}";
}

// "sha256=<hex of HMAC-SHA256(key, body)>", as Meta signs a webhook POST (§1.2).
std::string signature(const std::string& key, const std::string& body) {
    return sb::test::sha256_signature(key, body);
}

using sb::test::Json;

class InstagramPlugin : public sb::test::PluginTest<InstagramPlugin> {
public:
    static constexpr const char* kPlugin = "instagram";
    static constexpr std::int64_t kFakeNowMs = kNowMs;
    static std::string open_settings() { return config(); }

protected:
    Json parse_fixture(const std::string& name) { return parse_one(fixture(name)); }
};

// The fields every event of the account's customer kIgsid carries.
void expect_envelope(const Json& e, const char* type, std::int64_t timestamp_ms = kT) {
    EXPECT_EQ(e.integer("/v"), 1);
    EXPECT_EQ(e.str("/type"), type);
    EXPECT_EQ(e.str("/account_id"), kAccountId);
    EXPECT_EQ(e.str("/conversation/id"), kIgsid);
    EXPECT_EQ(e.str("/conversation/kind"), "private");
    EXPECT_EQ(e.integer("/timestamp_ms"), timestamp_ms);
}

const std::string kStoryUrl =
    "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17887654321098765&signature=St";

// ---------------------------------------------------------------------------------------------
// Descriptor and settings

TEST_F(InstagramPlugin, DescriptorDeclaresIdCapabilitiesAndSecretSettings) {
    const sb_plugin_v1& d = library_->descriptor();
    EXPECT_STREQ(d.id, "instagram");
    EXPECT_EQ(d.abi_major, SB_ABI_MAJOR);
    EXPECT_EQ(d.capabilities,
              SB_CAP_THREAD_SAFE | SB_CAP_MEDIA_OUT | SB_CAP_TYPING_OUT | SB_CAP_MARK_READ | SB_CAP_MEDIA_IN);
    EXPECT_EQ(d.poll_request, nullptr);
    Json schema(d.config_schema);
    EXPECT_FALSE(schema.boolean("/additionalProperties"));
    for (const char* secret : {"/properties/access_token/x-secret", "/properties/app_secret/x-secret",
                               "/properties/verify_token/x-secret"}) {
        EXPECT_TRUE(schema.boolean(secret)) << secret;
    }
    EXPECT_FALSE(schema.has("/properties/ig_account_id/x-secret"));
    EXPECT_FALSE(schema.has("/properties/page_id"));
}

TEST_F(InstagramPlugin, AccountIsTheInstagramAccountId) {
    const sb_plugin_v1& d = library_->descriptor();
    sb_host_services host{};
    host.size = sizeof(host);
    host.abi_major = SB_ABI_MAJOR;
    host.abi_minor = SB_ABI_MINOR;
    sb_error err{};
    err.size = sizeof(err);
    sb_instance* instance = nullptr;
    std::string settings = config();
    ASSERT_EQ(d.open(&host, nullptr, {settings.data(), settings.size()}, &instance, &err), SB_OK)
        << err.message;
    sb_str id = d.account(instance);
    EXPECT_EQ(std::string(id.ptr, id.len), kAccountId);
    d.close(instance);
}

TEST_F(InstagramPlugin, RejectsMessengerSettingsAndMissingKeysWithoutLeakingSecrets) {
    const std::pair<std::string, const char*> cases[] = {
        {R"({"page_id":"1","page_access_token":"TOKENxyz","app_secret":"APPSECRETxyz","verify_token":"VERIFYxyz"})",
         "page_id"},
        {R"({"access_token":"TOKENxyz","app_secret":"APPSECRETxyz","verify_token":"VERIFYxyz"})",
         "ig_account_id"},
        {R"({"ig_account_id":"178x","access_token":"TOKENxyz","app_secret":"APPSECRETxyz","verify_token":"VERIFYxyz"})",
         "ig_account_id"},
        {R"({"ig_account_id":"1","app_secret":"APPSECRETxyz","verify_token":"VERIFYxyz"})", "access_token"},
        {R"({"ig_account_id":"1","access_token":"TOKEN xyz","app_secret":"APPSECRETxyz","verify_token":"VERIFYxyz"})",
         "access_token"},
    };
    for (const auto& [settings, names] : cases) {
        auto opened = library_->open(settings);
        EXPECT_EQ(opened.status, SB_E_INVALID) << settings;
        EXPECT_NE(opened.error.find(names), std::string::npos) << settings << " -> " << opened.error;
        for (const char* secret : {"TOKENxyz", "TOKEN xyz", "APPSECRETxyz", "VERIFYxyz"})
            EXPECT_EQ(opened.error.find(secret), std::string::npos) << opened.error;
    }
}

// ---------------------------------------------------------------------------------------------
// verify

TEST_F(InstagramPlugin, AnswersHandshakeAndChecksSignature) {
    auto handshake = instance_->verify(
        "GET", "/webhooks/ig?hub.mode=subscribe&hub.challenge=abc123&hub.verify_token=VERIFYtoken-4711", {},
        "");
    EXPECT_EQ(handshake.verdict, SB_VERIFY_RESPONDED);
    ASSERT_TRUE(handshake.response.has_value());
    EXPECT_EQ(handshake.response->status, 200);
    EXPECT_EQ(handshake.response->body, "abc123");
    EXPECT_EQ(
        instance_->verify("GET", "/webhooks/ig?hub.mode=subscribe&hub.challenge=1&hub.verify_token=x", {}, "")
            .verdict,
        SB_VERIFY_FORBIDDEN);
    std::string body = fixture("text.json");
    EXPECT_EQ(
        instance_
            ->verify("POST", "/webhooks/ig", {{"x-hub-signature-256", signature(kAppSecret, body)}}, body)
            .verdict,
        SB_VERIFY_ACCEPT);
    EXPECT_EQ(
        instance_->verify("POST", "/webhooks/ig", {{"X-Hub-Signature-256", signature("nope", body)}}, body)
            .verdict,
        SB_VERIFY_UNAUTHORIZED);
    EXPECT_EQ(instance_->verify("POST", "/webhooks/ig", {}, body).verdict, SB_VERIFY_UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// parse: fixtures

TEST_F(InstagramPlugin, NormalizesTextMessage) {
    Json e = parse_fixture("text.json");
    expect_envelope(e, "message");
    EXPECT_EQ(e.str("/id"), mid("TX"));
    EXPECT_EQ(e.str("/sender/id"), kIgsid);
    EXPECT_EQ(e.str("/content/type"), "text");
    EXPECT_EQ(e.str("/content/text"), "Do you ship to Lisbon?");
    EXPECT_FALSE(e.has("/raw"));
}

TEST_F(InstagramPlugin, NormalizesMediaAttachments) {
    const std::tuple<const char*, const char*, const char*> cases[] = {{"image.json", "IM", "image"},
                                                                       {"video.json", "VI", "video"},
                                                                       {"audio.json", "AU", "audio"},
                                                                       {"file.json", "FI", "document"}};
    for (const auto& [name, suffix, type] : cases) {
        Json e = parse_fixture(name);
        expect_envelope(e, "message");
        EXPECT_EQ(e.str("/id"), mid(suffix)) << name;
        EXPECT_EQ(e.str("/content/type"), type) << name;
        EXPECT_EQ(e.str("/content/media/url"),
                  "https://lookaside.fbsbx.com/ig_messaging_cdn/"
                  "?asset_id=17951234567890123&signature=AbCdEf-" +
                      std::string(name).substr(0, std::string(name).size() - 5))
            << name;
    }
}

TEST_F(InstagramPlugin, NormalizesStoryMentionAsALinkNotMedia) {
    // Meta forbids storing a story's media (§4.3): a story_mention content with the URL, never
    // image/video media a client (or the media worker) would fetch and keep.
    Json e = parse_fixture("story_mention.json");
    expect_envelope(e, "message");
    EXPECT_EQ(e.str("/id"), mid("SM"));
    EXPECT_EQ(e.str("/content/type"), "story_mention");
    EXPECT_EQ(e.str("/content/url"), kStoryUrl);
    EXPECT_FALSE(e.has("/content/media"));
    EXPECT_FALSE(e.has("/raw"));
}

TEST_F(InstagramPlugin, NormalizesStoryReplyAsTextWithTheStory) {
    Json e = parse_fixture("story_reply.json");
    expect_envelope(e, "message");
    EXPECT_EQ(e.str("/id"), mid("SR"));
    EXPECT_EQ(e.str("/content/type"), "text");
    EXPECT_EQ(e.str("/content/text"), "Love this colour! Is it in stock?");
    EXPECT_FALSE(e.has("/reply_to"));  // a story is not a message
    EXPECT_EQ(e.str("/content/story/id"), "17887654321098765");
    EXPECT_EQ(e.str("/content/story/url"), kStoryUrl);
    EXPECT_FALSE(e.has("/raw"));
}

TEST_F(InstagramPlugin, NormalizesSharesReelsStoriesAndPostsAsLinks) {
    Json share = parse_fixture("share.json");
    EXPECT_EQ(share.str("/content/type"), "share");
    EXPECT_EQ(share.str("/content/platform_type"), "share");
    EXPECT_EQ(share.str("/content/url").rfind("https://lookaside.fbsbx.com/ig_messaging_cdn/", 0), 0u);
    EXPECT_FALSE(share.has("/raw"));
    for (const char* kind : {"ig_reel", "ig_story", "ig_post"}) {
        Json e = parse_fixture(std::string(kind) + ".json");
        EXPECT_EQ(e.str("/content/type"), "share") << kind;
        EXPECT_EQ(e.str("/content/platform_type"), kind) << kind;
        EXPECT_FALSE(e.str("/content/url").empty()) << kind;
        EXPECT_FALSE(e.has("/raw")) << kind;
    }
    Json reel = parse_fixture("ig_reel.json");
    EXPECT_EQ(reel.str("/content/title"), "Unboxing the autumn collection");
    EXPECT_EQ(reel.str("/content/media_id"), "18034567890123456");
    Json post = parse_fixture("ig_post.json");
    EXPECT_EQ(post.str("/content/title"), "New in: the wool scarf");
    EXPECT_EQ(post.str("/content/media_id"), "17912345678901234");
}

TEST_F(InstagramPlugin, NormalizesQuickReplyAndPostbackAsInteractive) {
    Json quick = parse_fixture("quick_reply.json");
    EXPECT_EQ(quick.str("/content/type"), "interactive");
    EXPECT_EQ(quick.str("/content/reply_id"), "menu:track");
    EXPECT_EQ(quick.str("/content/title"), "Track my order");
    Json postback = parse_fixture("postback.json");
    EXPECT_EQ(postback.str("/id"), mid("PB"));
    EXPECT_EQ(postback.str("/content/reply_id"), "handoff");
    EXPECT_EQ(postback.str("/content/title"), "Talk to a human");
}

TEST_F(InstagramPlugin, NormalizesReactionAndItsRemoval) {
    Json react = parse_fixture("reaction.json");
    expect_envelope(react, "reaction");
    EXPECT_EQ(react.str("/id"), mid("OUT1"));
    EXPECT_EQ(react.str("/emoji"), "❤");
    Json unreact = parse_fixture("unreaction.json");
    EXPECT_EQ(unreact.str("/emoji"), "");
}

TEST_F(InstagramPlugin, NormalizesSeenAsReadStatusOfThatMessage) {
    Json e = parse_fixture("read.json");
    expect_envelope(e, "status");
    EXPECT_EQ(e.str("/id"), mid("OUT1"));
    EXPECT_EQ(e.str("/status"), "read");
}

TEST_F(InstagramPlugin, NormalizesEchoesAsOutboundMessagesToTheCustomer) {
    Json ours = parse_fixture("echo.json");
    expect_envelope(ours, "message", kT + 60000);
    EXPECT_EQ(ours.str("/id"), mid("OUT1"));
    EXPECT_EQ(ours.str("/direction"), "out");
    EXPECT_EQ(ours.str("/sender/id"), kAccountId);
    EXPECT_EQ(ours.str("/content/text"), "Yes, we ship to Portugal.");
    Json other = parse_fixture("echo_from_other_tool.json");
    EXPECT_EQ(other.str("/direction"), "out");
    EXPECT_EQ(other.str("/conversation/id"), kIgsid);
    Json mention = parse_fixture("echo_story_mention.json");
    EXPECT_EQ(mention.str("/direction"), "out");
    EXPECT_EQ(mention.str("/content/platform_type"), "story_mention");
}

TEST_F(InstagramPlugin, NormalizesUnsendAsEditToDeleted) {
    Json e = parse_fixture("unsend.json");
    expect_envelope(e, "edit", kT + 5000);
    EXPECT_EQ(e.str("/id"), mid("TX"));
    EXPECT_EQ(e.integer("/edited_at_ms"), kT + 5000);
    EXPECT_EQ(e.str("/content/type"), "deleted");
}

TEST_F(InstagramPlugin, NormalizesStandbyItems) {
    Json e = parse_fixture("standby.json");
    EXPECT_EQ(e.str("/id"), mid("SB"));
    EXPECT_EQ(e.str("/content/text"), "Hello?");
}

TEST_F(InstagramPlugin, KeepsCommentChangesAsUnroutedUnsupported) {
    Json e = parse_fixture("comment_change.json");
    EXPECT_EQ(e.str("/type"), "message");
    EXPECT_EQ(e.str("/account_id"), kAccountId);
    EXPECT_EQ(e.str("/id"), std::string("change:") + kAccountId + ":" + std::to_string(kT + 500) + ":0");
    EXPECT_EQ(e.str("/conversation/id"), "unrouted");
    EXPECT_EQ(e.str("/content/platform_type"), "comments");
    EXPECT_EQ(e.str("/raw/value/text"), "How much?");
}

// Every webhook field an Instagram account subscribes to (platforms.md §4.2) lands in exactly
// one place: an event an agent sees, a notice, or a counted ignore. Comments and mentions are
// not conversations: they keep their documented place, unsupported in the unrouted one.
TEST_F(InstagramPlugin, EveryDocumentedWebhookFieldHasAPlace) {
    expect_places({
        {"text.json", "message:text"},                           // messages
        {"story_mention.json", "message:story_mention"},         // messages
        {"unsend.json", "edit"},                                 // messages (is_deleted)
        {"echo.json", "message:text"},                           // messages (is_echo)
        {"postback.json", "message:interactive"},                // messaging_postbacks
        {"read.json", "status"},                                 // messaging_seen
        {"reaction.json", "reaction"},                           // message_reactions
        {"message_edit.json", "edit"},                           // message_edit
        {"referral.json", "system:referral"},                    // messaging_referral
        {"pass_thread_control.json", "system:handover_passed"},  // messaging_handover
        {"standby.json", "message:text"},                        // standby
        {"comment_change.json", "unsupported:comments"},         // comments
    });
    Json referral = parse_fixture("referral.json");
    EXPECT_EQ(referral.str("/conversation/id"), kIgsid);
    EXPECT_NE(referral.str("/content/text").find("winter-drop"), std::string::npos);
    Json edit = parse_fixture("message_edit.json");
    EXPECT_EQ(edit.str("/content/text"), "the blue one, size M");
}

TEST_F(InstagramPlugin, EmitsOneEventPerItemAcrossEntries) {
    auto events = parse_all(fixture("multi_entry_batch.json"));
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].str("/content/text"), "first");
    EXPECT_EQ(events[1].str("/content/text"), "second");
    EXPECT_EQ(events[1].str("/conversation/id"), "1388745632109999");
    EXPECT_EQ(events[2].str("/type"), "status");
    EXPECT_EQ(events[2].str("/id"), mid("OUT3"));
}

TEST_F(InstagramPlugin, TagsEachEventWithTheAccountThatReceivedIt) {
    auto events = parse_all(fixture("two_accounts_batch.json"));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].str("/account_id"), kAccountId);
    EXPECT_EQ(events[1].str("/account_id"), kOtherAccountId);
    EXPECT_EQ(events[1].str("/content/text"), "to account two");
}

TEST_F(InstagramPlugin, ReadsSecondTimestampsAsSeconds) {
    // Sample payloads show Instagram times in seconds as well as milliseconds (§4.3, §7).
    Json e = parse_one(R"({"object":"instagram","entry":[{"id":"1","time":1,"messaging":[
        {"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":"1527459824","message":{"mid":"m","text":"x"}}]}]})");
    EXPECT_EQ(e.integer("/timestamp_ms"), 1527459824000);
}

TEST_F(InstagramPlugin, RejectsPageWebhooksAndMalformedBodies) {
    const std::pair<std::string, const char*> cases[] = {
        {R"({"object":"page","entry":[]})", "page"},
        {R"({"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":{"text":"x"}}]}]})",
         "mid"},
        {"\xff", "invalid JSON"},
    };
    for (const auto& [body, mentions] : cases) {
        EventsResult result = instance_->parse(body);
        EXPECT_EQ(result.status, SB_E_INVALID) << body;
        EXPECT_NE(result.error.find(mentions), std::string::npos) << result.error;
    }
}

TEST_F(InstagramPlugin, SurvivesRandomlyMutatedFixtures) {
    std::mt19937 random(1701);
    std::vector<std::string> bodies;
    for (const char* name : {"story_reply.json", "story_mention.json", "unsend.json", "comment_change.json"})
        bodies.push_back(fixture(name));
    const char kBytes[] = "{}[]\":,0a\\\x80\xff ";
    for (int i = 0; i < 2000; ++i) {
        std::string body = bodies[random() % bodies.size()];
        std::size_t at = random() % body.size();
        if (random() % 2 == 0) {
            body[at] = kBytes[random() % (sizeof(kBytes) - 1)];
        } else {
            body.erase(at, 1 + random() % 8);
        }
        EventsResult result = instance_->parse(body);
        ASSERT_TRUE(result.status == SB_OK || result.status == SB_E_INVALID) << body;
        for (const std::string& event : result.events) Json e(event);
    }
}

// ---------------------------------------------------------------------------------------------
// build_send

void expect_send_request(const RequestResult& r) {
    ASSERT_EQ(r.status, SB_OK) << r.error;
    ASSERT_TRUE(r.request.has_value());
    EXPECT_EQ(r.request->method, "POST");
    EXPECT_EQ(r.request->url, kSendUrl);
    EXPECT_EQ(r.request->header("Content-Type"), "application/json");
    EXPECT_EQ(r.request->header("Authorization"), std::string("Bearer ") + kToken);
}

TEST_F(InstagramPlugin, BuildsTextSendToMeMessagesWithoutMessagingType) {
    RequestResult r =
        send(R"({"v":1,"conversation":{"id":"1298745632109876"},"content":{"type":"text","text":"Yes!"}})");
    expect_send_request(r);
    EXPECT_EQ(r.request->body, R"({"recipient":{"id":"1298745632109876"},"message":{"text":"Yes!"}})");
}

TEST_F(InstagramPlugin, SendsToTheConfiguredInstagramLoginHost) {
    auto instance = open_ok(config(R"(,"api_base":"https://graph.instagram.com/v21.0/")"));
    RequestResult r =
        instance->build_send(R"({"v":1,"conversation":{"id":"5"},"content":{"type":"text","text":"x"}})");
    ASSERT_EQ(r.status, SB_OK) << r.error;
    EXPECT_EQ(r.request->url, "https://graph.instagram.com/v21.0/me/messages");
}

// Meta's attachment upload takes no file name outside ASCII: each other character is "_".
TEST_F(InstagramPlugin, SendsAnUploadAsTheSendApisFormWithAnAsciiFileName) {
    RequestResult r = send(
        R"({"v":1,"conversation":{"id":"7"},"content":{"type":"document","upload":{"id":"2","mime_type":"application/pdf",)"
        R"("size":900,"file_name":"re\u00e7u 2026 \u2013 M\u00e4rz \"final\".pdf","sha256":"cafe","placeholder":"{{switchboard-upload:cafe}}"}}})");
    ASSERT_EQ(r.status, SB_OK) << r.error;
    ASSERT_TRUE(r.request);
    EXPECT_EQ(r.request->url, kSendUrl);
    const std::string& body = r.request->body;
    EXPECT_NE(body.find("name=\"filedata\"; filename=\"re_u 2026 _ M_rz _final_.pdf\"\r\nContent-Type: "
                        "application/pdf\r\n\r\n{{switchboard-upload:cafe}}\r\n"),
              std::string::npos)
        << body;
    EXPECT_EQ(body.find("messaging_type"), std::string::npos);
}

TEST_F(InstagramPlugin, BuildsMediaByUrlAndSenderActions) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"type":"image","url":"https://cdn.example.com/a.png"})",
         R"({"recipient":{"id":"7"},"message":{"attachment":{"type":"image","payload":{"url":"https://cdn.example.com/a.png"}}}})"},
        {R"({"type":"document","url":"https://cdn.example.com/a.pdf"})",
         R"({"recipient":{"id":"7"},"message":{"attachment":{"type":"file","payload":{"url":"https://cdn.example.com/a.pdf"}}}})"},
        {R"({"type":"typing","state":"on"})", R"({"recipient":{"id":"7"},"sender_action":"typing_on"})"},
        {R"({"type":"typing","state":"off"})", R"({"recipient":{"id":"7"},"sender_action":"typing_off"})"},
        {R"({"type":"mark_read","id":"m"})", R"({"recipient":{"id":"7"},"sender_action":"mark_seen"})"},
    };
    for (const auto& [content, body] : cases) {
        RequestResult r = send(std::string(R"({"v":1,"conversation":{"id":"7"},"content":)") + content + "}");
        expect_send_request(r);
        EXPECT_EQ(r.request->body, body) << content;
    }
}

TEST_F(InstagramPlugin, AcceptsTextOf1000CharactersAndRejectsLonger) {
    auto with_text = [](const std::string& text) {
        return R"({"v":1,"conversation":{"id":"5"},"content":{"type":"text","text":")" + text + "\"}}";
    };
    EXPECT_EQ(send(with_text(std::string(1000, 'x'))).status, SB_OK);
    RequestResult r = send(with_text(std::string(1001, 'x')));
    EXPECT_EQ(r.status, SB_E_INVALID);
    EXPECT_NE(r.error.find("1000"), std::string::npos) << r.error;
}

// ---------------------------------------------------------------------------------------------
// classify_send

constexpr const char* kTextOut =
    R"({"v":1,"conversation":{"id":"1298745632109876"},"content":{"type":"text","text":"hi"}})";

TEST_F(InstagramPlugin, ClassifiesSendOkAndSenderActionAnswers) {
    sb_send_result ok = instance_->classify(kTextOut, 200, fixture("send_ok.json"));
    EXPECT_EQ(ok.send_class, SB_SEND_OK);
    EXPECT_EQ(std::string(ok.platform_id), mid("OUT1"));
    sb_send_result action = instance_->classify(kTextOut, 200, fixture("send_ok_sender_action.json"));
    EXPECT_EQ(action.send_class, SB_SEND_OK);
    EXPECT_STREQ(action.platform_id, "");
}

TEST_F(InstagramPlugin, ClassifiesGraphErrors) {
    const std::tuple<const char*, int, int, const char*> cases[] = {
        {"error_190_invalid_token.json", 400, SB_SEND_AUTH, "190"},
        {"error_10_2018278_outside_window.json", 400, SB_SEND_WINDOW_CLOSED, "10/2018278"},
        {"error_613_rate_limited.json", 400, SB_SEND_RATE_LIMITED, "613"},
        {"error_100_invalid_parameter.json", 400, SB_SEND_PERMANENT, "100"},
        {"error_2_service_unavailable.json", 503, SB_SEND_RETRYABLE, "2"},
    };
    for (const auto& [name, status, send_class, code] : cases) {
        sb_send_result r = instance_->classify(kTextOut, status, fixture(name));
        EXPECT_EQ(r.send_class, send_class) << name;
        EXPECT_STREQ(r.platform_code, code) << name;
    }
    EXPECT_EQ(instance_->classify(kTextOut, 0, "", {}, std::string("reset ") + kToken).send_class,
              SB_SEND_RETRYABLE);
}

TEST_F(InstagramPlugin, NeverLogsOrReturnsSecrets) {
    sb_send_result r = instance_->classify(kTextOut, 0, "", {}, std::string("reset ") + kToken);
    EXPECT_EQ(std::string(r.message).find(kToken), std::string::npos) << r.message;
    instance_->parse(fixture("text.json"));
    instance_->parse("garbage");
    for (const auto& line : instance_->logs()) {
        for (const char* secret : {kToken, kAppSecret, kVerifyToken})
            EXPECT_EQ(line.message.find(secret), std::string::npos) << line.message;
    }
}

}  // namespace

// A story mention is unsupported content (above), so the host never fetches it: only the link is
// kept, as Meta's terms require. Ordinary attachments are fetched from their CDN link.
TEST_F(InstagramPlugin, FetchesOrdinaryAttachmentsButAStoryMentionIsNoMedia) {
    Json mention = parse_fixture("story_mention.json");
    EXPECT_FALSE(mention.has("/content/media"));
    auto step = instance_->fetch_media(
        R"({"v":1,"content":{"type":"video","media":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1&signature=x"}}})");
    ASSERT_EQ(step.status, SB_OK) << step.error;
    EXPECT_EQ(step.step.action, SB_MEDIA_DOWNLOAD);
    ASSERT_TRUE(step.request);
    EXPECT_EQ(step.request->url, "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1&signature=x");
}

// Instagram takes uploaded images up to 8 MB, other files up to 25 MB (§4.4).
TEST_F(InstagramPlugin, UploadsFollowInstagramsLimits) {
    auto big_image = send(
        R"({"v":1,"conversation":{"id":"7"},"content":{"type":"image","upload":{"mime_type":"image/jpeg","size":8388609,"placeholder":"P"}}})");
    EXPECT_EQ(big_image.status, SB_E_INVALID);
    EXPECT_NE(big_image.error.find("8 MB"), std::string::npos) << big_image.error;
    auto image = send(
        R"({"v":1,"conversation":{"id":"7"},"content":{"type":"image","upload":{"mime_type":"image/jpeg","size":8388608,"sha256":"be","placeholder":"P"}}})");
    ASSERT_EQ(image.status, SB_OK) << image.error;
    ASSERT_TRUE(image.request);
    EXPECT_EQ(image.request->url, kSendUrl);
    EXPECT_EQ(image.request->body.find("messaging_type"), std::string::npos) << "Instagram's body has none";
    EXPECT_NE(image.request->body.find("name=\"filedata\""), std::string::npos);
}
