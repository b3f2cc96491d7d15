// The Messenger plugin, tested through the real messenger.so and the C ABI (plugin_harness):
// fixtures in tests/fixtures/messenger are webhook bodies and Send API answers in the shapes of
// platforms.md §1.4, §3.2-3.4, one case per file.

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

constexpr const char* kPageId = "106502831234567";
constexpr const char* kOtherPageId = "108899772233445";
constexpr const char* kPsid = "6789012345678901";
constexpr const char* kToken = "EAAGm0PX4ZCpsBAPageTOKENxyz";
constexpr const char* kAppSecret = "APPSECRETd41d8cd98f00b204e98";
constexpr const char* kVerifyToken = "VERIFYtoken-4711";
constexpr const char* kSendUrl = "https://graph.facebook.com/v21.0/106502831234567/messages";
constexpr const char* kMidPrefix =
    "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0";
constexpr std::int64_t kT = 1732540000123;
constexpr std::int64_t kNowMs = 1732549999123;

std::string mid(const std::string& suffix) { return kMidPrefix + suffix; }

std::string fixture(const std::string& name) { return sb::test::read_fixture("messenger", name); }

std::string config(const std::string& extra = "") {
    return std::string(R"({"page_id":")") + kPageId + R"(","page_access_token":")" + kToken +
           R"(","app_secret":")" + kAppSecret + R"(","verify_token":")" + kVerifyToken + "\"" + extra + "}";
}

// "sha256=<hex of HMAC-SHA256(key, body)>", as Meta signs a webhook POST (§1.2).
std::string signature(const std::string& key, const std::string& body) {
    return sb::test::sha256_signature(key, body);
}

using sb::test::Json;

class MessengerPlugin : public sb::test::PluginTest<MessengerPlugin> {
public:
    static constexpr const char* kPlugin = "messenger";
    static constexpr std::int64_t kFakeNowMs = kNowMs;
    static std::string open_settings() { return config(); }

protected:
    Json parse_fixture(const std::string& name) { return parse_one(fixture(name)); }
};

// The fields every event of the page's customer kPsid carries.
void expect_envelope(const Json& e, const char* type, std::int64_t timestamp_ms = kT) {
    EXPECT_EQ(e.integer("/v"), 1);
    EXPECT_EQ(e.str("/type"), type);
    EXPECT_EQ(e.str("/account_id"), kPageId);
    EXPECT_EQ(e.str("/conversation/id"), kPsid);
    EXPECT_EQ(e.str("/conversation/kind"), "private");
    EXPECT_EQ(e.integer("/timestamp_ms"), timestamp_ms);
}

// ---------------------------------------------------------------------------------------------
// Descriptor and settings

TEST_F(MessengerPlugin, DescriptorDeclaresIdCapabilitiesSecretSettingsAndAccount) {
    const sb_plugin_v1& d = library_->descriptor();
    EXPECT_STREQ(d.id, "messenger");
    EXPECT_EQ(d.abi_major, SB_ABI_MAJOR);
    EXPECT_EQ(d.size, sizeof(sb_plugin_v1));
    EXPECT_EQ(d.capabilities,
              SB_CAP_THREAD_SAFE | SB_CAP_MEDIA_OUT | SB_CAP_TYPING_OUT | SB_CAP_MARK_READ | SB_CAP_MEDIA_IN);
    EXPECT_EQ(d.poll_request, nullptr);
    EXPECT_EQ(d.poll_response, nullptr);
    ASSERT_NE(d.account, nullptr);
    Json schema(d.config_schema);
    EXPECT_EQ(schema.str("/type"), "object");
    EXPECT_FALSE(schema.boolean("/additionalProperties"));
    for (const char* secret : {"/properties/page_access_token/x-secret", "/properties/app_secret/x-secret",
                               "/properties/verify_token/x-secret"}) {
        EXPECT_TRUE(schema.boolean(secret)) << secret;
    }
    EXPECT_FALSE(schema.has("/properties/page_id/x-secret"));
    EXPECT_EQ(schema.str("/properties/api_base/default"), "https://graph.facebook.com/v21.0");
}

TEST_F(MessengerPlugin, AccountIsThePageId) {
    // The harness keeps its sb_instance private: open one directly (open() needs no service).
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
    EXPECT_EQ(std::string(id.ptr, id.len), kPageId);
    d.close(instance);
}

TEST_F(MessengerPlugin, StripsTrailingSlashFromApiBase) {
    auto instance = open_ok(config(R"(,"api_base":"http://127.0.0.1:8081/v21.0//")"));
    RequestResult r =
        instance->build_send(R"({"v":1,"conversation":{"id":"5"},"content":{"type":"text","text":"hi"}})");
    ASSERT_EQ(r.status, SB_OK) << r.error;
    EXPECT_EQ(r.request->url, "http://127.0.0.1:8081/v21.0/106502831234567/messages");
}

TEST_F(MessengerPlugin, RejectsBadSettingsNamingTheKeyWithoutLeakingSecrets) {
    const std::string token = R"("page_access_token":"TOKENxyz")";
    const std::string secrets = R"("app_secret":"APPSECRETxyz","verify_token":"VERIFYxyz")";
    const std::string page = R"("page_id":"12345")";
    const std::pair<std::string, const char*> cases[] = {
        {"not json", "settings"},
        {"[]", "object"},
        {"{" + token + "," + secrets + "}", "page_id"},
        {"{" + page + "," + secrets + "}", "page_access_token"},
        {"{" + page + "," + token + R"(,"verify_token":"VERIFYxyz"})", "app_secret"},
        {"{" + page + "," + token + R"(,"app_secret":"APPSECRETxyz"})", "verify_token"},
        {R"({"page_id":12345,)" + token + "," + secrets + "}", "page_id"},
        {R"({"page_id":"12/../34",)" + token + "," + secrets + "}", "page_id"},
        {R"({"page_id":"",)" + token + "," + secrets + "}", "page_id"},
        {"{" + page + R"(,"page_access_token":"",)" + secrets + "}", "page_access_token"},
        {"{" + page + R"(,"page_access_token":"TOKENxyz\r\nX-Evil: 1",)" + secrets + "}",
         "page_access_token"},
        {"{" + page + "," + token + R"(,"app_secret":"",)" + R"("verify_token":"VERIFYxyz"})", "app_secret"},
        {"{" + page + "," + token + "," + secrets + R"(,"api_base":"ftp://example.org"})", "api_base"},
        {"{" + page + "," + token + "," + secrets + R"(,"api_base":7})", "api_base"},
        {"{" + page + "," + token + "," + secrets + R"(,"page_token":"TOKENxyz"})", "page_token"},
    };
    for (const auto& [settings, names] : cases) {
        auto opened = library_->open(settings);
        EXPECT_EQ(opened.status, SB_E_INVALID) << settings;
        EXPECT_EQ(opened.instance, nullptr);
        EXPECT_NE(opened.error.find(names), std::string::npos) << settings << " -> " << opened.error;
        for (const char* secret : {"TOKENxyz", "APPSECRETxyz", "VERIFYxyz"}) {
            EXPECT_EQ(opened.error.find(secret), std::string::npos) << opened.error;
            for (const auto& line : opened.logs) EXPECT_EQ(line.message.find(secret), std::string::npos);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// verify (sb::meta::verify_webhook)

TEST_F(MessengerPlugin, AnswersSubscriptionHandshakeWithTheRawChallenge) {
    auto result = instance_->verify(
        "GET", "/webhooks/fb?hub.mode=subscribe&hub.verify_token=VERIFYtoken-4711&hub.challenge=1158201444",
        {}, "");
    EXPECT_EQ(result.verdict, SB_VERIFY_RESPONDED);
    ASSERT_TRUE(result.response.has_value());
    EXPECT_EQ(result.response->status, 200);
    EXPECT_EQ(result.response->body, "1158201444");
}

TEST_F(MessengerPlugin, RefusesHandshakeWithWrongOrMissingVerifyToken) {
    for (const char* target :
         {"/webhooks/fb?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
          "/webhooks/fb?hub.mode=subscribe&hub.challenge=1",
          "/webhooks/fb?hub.mode=unsubscribe&hub.verify_token=VERIFYtoken-4711&hub.challenge=1"}) {
        auto result = instance_->verify("GET", target, {}, "");
        EXPECT_EQ(result.verdict, SB_VERIFY_FORBIDDEN) << target;
        EXPECT_FALSE(result.response.has_value()) << target;
    }
}

TEST_F(MessengerPlugin, AcceptsPostSignedWithTheAppSecret) {
    std::string body = fixture("text.json");
    auto result = instance_->verify(
        "POST", "/webhooks/fb",
        {{"Content-Type", "application/json"}, {"X-Hub-Signature-256", signature(kAppSecret, body)}}, body);
    EXPECT_EQ(result.verdict, SB_VERIFY_ACCEPT);
}

TEST_F(MessengerPlugin, RejectsPostWithWrongOrMissingSignatureAsUnauthorized) {
    std::string body = fixture("text.json");
    const Headers cases[] = {
        {},
        {{"X-Hub-Signature-256", signature("another secret", body)}},
        {{"X-Hub-Signature-256", signature(kAppSecret, body + " ")}},
        {{"X-Hub-Signature-256", "sha256=zz"}},
        {{"X-Hub-Signature", "sha1=0123456789abcdef0123456789abcdef01234567"}},
    };
    for (const Headers& headers : cases) {
        EXPECT_EQ(instance_->verify("POST", "/webhooks/fb", headers, body).verdict, SB_VERIFY_UNAUTHORIZED);
    }
}

// ---------------------------------------------------------------------------------------------
// parse: fixtures

TEST_F(MessengerPlugin, NormalizesTextMessage) {
    Json e = parse_fixture("text.json");
    expect_envelope(e, "message");
    EXPECT_EQ(e.str("/id"), mid("A"));
    EXPECT_EQ(e.str("/sender/id"), kPsid);
    EXPECT_EQ(e.members("/sender"), 1u);  // webhooks carry no name (that is the User Profile API)
    EXPECT_EQ(e.str("/content/type"), "text");
    EXPECT_EQ(e.str("/content/text"), "Hello, my order has not arrived 📦");
    EXPECT_FALSE(e.has("/direction"));
    EXPECT_FALSE(e.has("/reply_to"));
    EXPECT_FALSE(e.has("/raw"));
}

TEST_F(MessengerPlugin, MapsReplyToMidToReplyTo) {
    Json e = parse_fixture("text_reply.json");
    EXPECT_EQ(e.str("/id"), mid("B"));
    EXPECT_EQ(e.str("/reply_to"), mid("Q"));
    EXPECT_EQ(e.str("/content/text"), "It is order 4711");
}

TEST_F(MessengerPlugin, NormalizesEachMediaAttachmentTypeWithItsUrl) {
    const std::tuple<const char*, const char*, const char*, const char*> cases[] = {
        {"image.json", "IM", "image",
         "https://scontent.xx.fbcdn.net/v/t1.15752-9/469812345_photo_n.jpg?_nc_cat=1&oh=00_AYB&oe=6750A1B2"},
        {"audio.json", "AU", "audio",
         "https://cdn.fbsbx.com/v/t59.3654-21/469812345_audioclip.mp4?_nc_cat=1&oh=00_AYC"},
        {"video.json", "VI", "video",
         "https://video.xx.fbcdn.net/v/t42.3356-2/469812345_video.mp4?_nc_cat=1&oh=00_AYD"},
        {"file.json", "FI", "document",
         "https://cdn.fbsbx.com/v/t59.2708-21/469812345_invoice-2024-117.pdf?_nc_cat=1&oh=00_AYE"},
    };
    for (const auto& [name, suffix, type, url] : cases) {
        Json e = parse_fixture(name);
        expect_envelope(e, "message");
        EXPECT_EQ(e.str("/id"), mid(suffix)) << name;
        EXPECT_EQ(e.str("/content/type"), type) << name;
        EXPECT_EQ(e.str("/content/media/url"), url) << name;
        EXPECT_FALSE(e.has("/content/media/id")) << name;
        EXPECT_FALSE(e.has("/raw")) << name;
    }
}

TEST_F(MessengerPlugin, SplitsSeveralAttachmentsIntoEventsWithDistinctIds) {
    auto events = parse_all(fixture("multiple_images.json"));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].str("/id"), mid("MI"));
    EXPECT_EQ(events[1].str("/id"), mid("MI") + "#1");
    EXPECT_EQ(events[0].str("/content/media/url"),
              "https://scontent.xx.fbcdn.net/v/t1.15752-9/1_front_n.jpg");
    EXPECT_EQ(events[1].str("/content/media/url"), "https://scontent.xx.fbcdn.net/v/t1.15752-9/2_back_n.jpg");
}

TEST_F(MessengerPlugin, NormalizesStickerOnceDuringTheTransitionWithItsStickerId) {
    Json e = parse_fixture("sticker.json");  // `sticker` plus its legacy `image` twin
    EXPECT_EQ(e.str("/id"), mid("ST"));
    EXPECT_EQ(e.str("/content/type"), "sticker");
    EXPECT_EQ(e.str("/content/media/id"), "369239263222822");
    EXPECT_NE(e.str("/content/media/url").find("39178562_1505197616293642"), std::string::npos);
}

TEST_F(MessengerPlugin, NormalizesLegacyImageWithStickerIdAsSticker) {
    Json e = parse_fixture("sticker_legacy_image.json");
    EXPECT_EQ(e.str("/content/type"), "sticker");
    EXPECT_EQ(e.str("/content/media/id"), "369239263222822");
}

TEST_F(MessengerPlugin, KeepsTextOfALinkShareAndDropsItsFallbackPreview) {
    Json e = parse_fixture("link_share_fallback.json");
    EXPECT_EQ(e.str("/id"), mid("LF"));
    EXPECT_EQ(e.str("/content/type"), "text");
    EXPECT_EQ(e.str("/content/text"), "https://www.example.com/products/4711");
}

TEST_F(MessengerPlugin, NormalizesReelsAsLinks) {
    Json e = parse_fixture("reel.json");
    EXPECT_EQ(e.str("/id"), mid("RE"));
    EXPECT_EQ(e.str("/content/type"), "share");
    EXPECT_EQ(e.str("/content/platform_type"), "reel");
    EXPECT_EQ(e.str("/content/url"), "https://www.facebook.com/reel/1234567890123456");
    EXPECT_EQ(e.str("/content/media_id"), "1234567890123456");
    EXPECT_FALSE(e.has("/raw"));
}

TEST_F(MessengerPlugin, OneMessageWithAttachmentsOfSeveralKindsKeepsEachPiece) {
    auto events = parse_all(fixture("mixed_attachments.json"));
    ASSERT_EQ(events.size(), 3u);
    const Json& image = events[0];
    const Json& link = events[1];
    const Json& place = events[2];
    EXPECT_EQ(image.str("/id"), mid("MX"));
    EXPECT_EQ(image.str("/content/type"), "image");
    EXPECT_EQ(link.str("/id"), mid("MX") + "#1");
    EXPECT_EQ(link.str("/content/type"), "share");
    EXPECT_EQ(link.str("/content/platform_type"), "fallback");
    EXPECT_EQ(link.str("/content/url"), "https://www.example.com/returns");
    EXPECT_EQ(link.str("/content/title"), "Returns and refunds");
    EXPECT_EQ(place.str("/id"), mid("MX") + "#2");
    EXPECT_EQ(place.str("/content/type"), "location");
    EXPECT_DOUBLE_EQ(place.number("/content/latitude"), 52.520008);
    EXPECT_DOUBLE_EQ(place.number("/content/longitude"), 13.404954);
    EXPECT_EQ(place.str("/content/name"), "Pickup point");
}

TEST_F(MessengerPlugin, ChatPluginVisitorsKnownOnlyByUserRefAreConversations) {
    // The website chat plugin's visitors have a user_ref, not a PSID: before, dropped.
    Json e = parse_fixture("user_ref_sender.json");
    EXPECT_EQ(e.str("/conversation/id"), "user_ref:visitor-4f9a2c");
    EXPECT_EQ(e.str("/sender/id"), "user_ref:visitor-4f9a2c");
    EXPECT_EQ(e.str("/content/text"), "Do you ship to Norway?");
    // A tap (Get Started in the chat plugin) lands in the same conversation, with where it came from.
    Json tap = parse_fixture("user_ref_postback.json");
    EXPECT_EQ(tap.str("/conversation/id"), "user_ref:visitor-4f9a2c");
    EXPECT_EQ(tap.str("/sender/id"), "user_ref:visitor-4f9a2c");
    EXPECT_EQ(tap.str("/id"), "postback:user_ref:visitor-4f9a2c:1732540000123");
    EXPECT_EQ(tap.str("/content/type"), "interactive");
    EXPECT_EQ(tap.str("/content/reply_id"), "GET_STARTED");
    EXPECT_EQ(tap.str("/content/referral/source_type"), "CUSTOMER_CHAT_PLUGIN");
    EXPECT_EQ(tap.str("/content/referral/ref"), "pricing-page");
    // …and a reply goes back to recipient.user_ref.
    auto sent = instance_->build_send(
        R"({"v":1,"conversation":{"id":"user_ref:visitor-4f9a2c"},"content":{"type":"text","text":"Yes"}})");
    ASSERT_EQ(sent.status, SB_OK) << sent.error;
    Json body(sent.request->body);
    EXPECT_EQ(body.str("/recipient/user_ref"), "visitor-4f9a2c");
    EXPECT_FALSE(body.has("/recipient/id"));
}

TEST_F(MessengerPlugin, GetStartedFromALinkCarriesItsReferral) {
    Json e = parse_fixture("postback_referral.json");
    EXPECT_EQ(e.str("/content/type"), "interactive");
    EXPECT_EQ(e.str("/content/reply_id"), "GET_STARTED");
    EXPECT_EQ(e.str("/content/referral/ref"), "winter-campaign");
    EXPECT_EQ(e.str("/content/referral/source_type"), "SHORTLINK");
}

TEST_F(MessengerPlugin, NormalizesQuickReplyAsInteractiveWithPayloadAndTitle) {
    Json e = parse_fixture("quick_reply.json");
    expect_envelope(e, "message");
    EXPECT_EQ(e.str("/id"), mid("QR"));
    EXPECT_EQ(e.str("/content/type"), "interactive");
    EXPECT_EQ(e.str("/content/reply_id"), "csat:yes");
    EXPECT_EQ(e.str("/content/title"), "Yes, solved");
}

TEST_F(MessengerPlugin, NormalizesPostbackAsInteractive) {
    Json e = parse_fixture("postback.json");
    expect_envelope(e, "message");
    EXPECT_EQ(e.str("/id"), mid("PB"));
    EXPECT_EQ(e.str("/sender/id"), kPsid);
    EXPECT_EQ(e.str("/content/type"), "interactive");
    EXPECT_EQ(e.str("/content/reply_id"), "handoff");
    EXPECT_EQ(e.str("/content/title"), "Talk to an agent");
}

TEST_F(MessengerPlugin, KeysPostbackWithoutMidBySenderAndTimestamp) {
    Json e = parse_one(R"({"object":"page","entry":[{"id":"106502831234567","time":5,"messaging":[
        {"sender":{"id":"42"},"recipient":{"id":"106502831234567"},"timestamp":1732540000999,
         "postback":{"title":"Get Started","payload":"GET_STARTED"}}]}]})");
    EXPECT_EQ(e.str("/id"), "postback:42:1732540000999");
    EXPECT_EQ(e.str("/content/reply_id"), "GET_STARTED");
}

TEST_F(MessengerPlugin, NormalizesReactionAndItsRemoval) {
    Json react = parse_fixture("reaction.json");
    expect_envelope(react, "reaction");
    EXPECT_EQ(react.str("/id"), mid("OUT1"));  // the message reacted to
    EXPECT_EQ(react.str("/sender/id"), kPsid);
    EXPECT_EQ(react.str("/emoji"), "❤️");
    Json unreact = parse_fixture("unreaction.json");
    EXPECT_EQ(unreact.str("/type"), "reaction");
    EXPECT_EQ(unreact.str("/id"), mid("OUT1"));
    EXPECT_EQ(unreact.str("/emoji"), "");
}

TEST_F(MessengerPlugin, EmitsDeliveredStatusForEachDeliveredMid) {
    auto events = parse_all(fixture("delivery.json"));
    ASSERT_EQ(events.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        expect_envelope(events[i], "status");
        EXPECT_EQ(events[i].str("/status"), "delivered");
    }
    EXPECT_EQ(events[0].str("/id"), mid("OUT1"));
    EXPECT_EQ(events[1].str("/id"), mid("OUT2"));
}

TEST_F(MessengerPlugin, NormalizesWatermarkReceiptsAsConversationWideStatuses) {
    // A watermark names no message: every message the page sent up to it has that status.
    auto read = parse_all(fixture("read_watermark.json"));
    ASSERT_EQ(read.size(), 1u);
    expect_envelope(read[0], "status");
    EXPECT_EQ(read[0].str("/status"), "read");
    EXPECT_EQ(read[0].integer("/watermark_ms"), 1732539999623);
    EXPECT_EQ(read[0].str("/conversation/id"), kPsid);
    auto delivered = parse_all(fixture("delivery_watermark_only.json"));
    ASSERT_EQ(delivered.size(), 1u);
    EXPECT_EQ(delivered[0].str("/status"), "delivered");
    EXPECT_EQ(delivered[0].integer("/watermark_ms"), 1732539999123);
}

TEST_F(MessengerPlugin, NormalizesEchoAsOutboundMessageToTheCustomer) {
    Json e = parse_fixture("echo.json");
    expect_envelope(e, "message", kT + 60000);
    EXPECT_EQ(e.str("/id"), mid("OUT1"));  // the message_id our send got back: the host dedupes
    EXPECT_EQ(e.str("/direction"), "out");
    EXPECT_EQ(e.str("/sender/id"), kPageId);
    EXPECT_EQ(e.str("/content/text"), "Sorry to hear that — let me check.");
}

TEST_F(MessengerPlugin, NormalizesEchoOfASendFromAnotherToolAsOutbound) {
    Json e = parse_fixture("echo_from_other_tool.json");
    expect_envelope(e, "message", kT + 61000);
    EXPECT_EQ(e.str("/id"), mid("OUT9"));
    EXPECT_EQ(e.str("/direction"), "out");
    EXPECT_EQ(e.str("/content/text"), "Hi, this is Grace from the Page inbox.");
}

TEST_F(MessengerPlugin, NormalizesStandbyItemsLikeMessagingItems) {
    Json e = parse_fixture("standby.json");
    expect_envelope(e, "message");
    EXPECT_EQ(e.str("/id"), mid("SB"));
    EXPECT_EQ(e.str("/content/text"), "Is anyone there?");
}

TEST_F(MessengerPlugin, ReferralsOptinsAndAccountLinkingAreSystemNotices) {
    Json e = parse_fixture("referral.json");
    expect_envelope(e, "message");
    EXPECT_EQ(e.str("/id"), std::string("referral:") + kPsid + ":" + std::to_string(kT));
    EXPECT_EQ(e.str("/content/type"), "system");
    EXPECT_EQ(e.str("/content/code"), "referral");
    EXPECT_NE(e.str("/content/text").find("spring-sale"), std::string::npos);
    EXPECT_EQ(e.str("/raw/referral/ref"), "spring-sale");
    Json optin = parse_fixture("optin.json");
    EXPECT_EQ(optin.str("/content/code"), "optin");
    Json linking = parse_fixture("account_linking.json");
    EXPECT_EQ(linking.str("/content/code"), "account_linked");
}

TEST_F(MessengerPlugin, KeepsUnknownItemKindAsUnsupportedWithRaw) {
    // A kind newer than this plugin: kept whole, in the customer's conversation.
    Json e = parse_one(R"({"object":"page","entry":[{"id":"106502831234567","time":1,"messaging":[
        {"sender":{"id":"6789012345678901"},"recipient":{"id":"106502831234567"},"timestamp":1732540000123,
         "hologram_call":{"duration_s":42}}]}]})");
    expect_envelope(e, "message");
    EXPECT_EQ(e.str("/content/type"), "unsupported");
    EXPECT_EQ(e.str("/content/platform_type"), "hologram_call");
    EXPECT_EQ(e.integer("/raw/hologram_call/duration_s"), 42);
}

// Another app answering the customer (the Page inbox, a bot) means this one's sends are
// refused: a notice in the conversation, not a customer message.
TEST_F(MessengerPlugin, HandoverEventsAreNoticesNamingTheApps) {
    Json passed = parse_fixture("pass_thread_control.json");
    expect_envelope(passed, "message");
    EXPECT_EQ(passed.str("/id"), std::string("pass_thread_control:") + kPsid + ":" + std::to_string(kT));
    EXPECT_EQ(passed.str("/content/type"), "system");
    EXPECT_EQ(passed.str("/content/code"), "handover_passed");
    EXPECT_EQ(passed.str("/content/text"), "the conversation was passed to app 123456789");
    EXPECT_EQ(passed.str("/raw/pass_thread_control/metadata"), "handed over to the human inbox");

    Json taken = parse_fixture("take_thread_control.json");
    EXPECT_EQ(taken.str("/content/code"), "handover_taken");
    EXPECT_EQ(taken.str("/content/text"), "the Page inbox took the conversation over from app 123456789");

    Json requested = parse_fixture("request_thread_control.json");  // the app id as a number
    EXPECT_EQ(requested.str("/content/code"), "handover_requested");
    EXPECT_EQ(requested.str("/content/text"), "app 987654321 asked to take the conversation over");
}

TEST_F(MessengerPlugin, PageLevelItemsAndEmptyReceiptsAreCountedIgnores) {
    for (auto [name, kind] : {std::pair{"app_roles.json", "app_roles"},
                              std::pair{"policy_enforcement.json", "policy_enforcement"}}) {
        Json e = parse_fixture(name);
        EXPECT_EQ(e.str("/type"), "ignored") << name;
        EXPECT_EQ(e.str("/kind"), kind) << name;
        EXPECT_EQ(e.integer("/timestamp_ms"), kT) << name;
        EXPECT_FALSE(e.has("/content")) << name;
    }
    // A receipt that names neither messages nor a watermark covers nothing: counted, not lost.
    Json read = parse_one(R"({"object":"page","entry":[{"id":"1","messaging":[
        {"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1732540000123,"read":{}}]}]})");
    EXPECT_EQ(sb::test::place_of(read), "ignored:read.empty");
    Json delivery = parse_one(R"({"object":"page","entry":[{"id":"1","messaging":[
        {"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1732540000123,"delivery":{"mids":[7]}}]}]})");
    EXPECT_EQ(sb::test::place_of(delivery), "ignored:delivery.empty");
}

// Every webhook field a Page subscribes to (platforms.md §3.1, Meta's webhook events
// reference) lands in exactly one place: an event an agent sees, a notice, or a counted
// ignore; none becomes an `unsupported` customer message. (A broken body is dead-lettered:
// RejectsBodiesThatAreNotPageWebhooks.)
TEST_F(MessengerPlugin, EveryDocumentedWebhookFieldHasAPlace) {
    expect_places({
        {"text.json", "message:text"},                                 // messages
        {"postback.json", "message:interactive"},                      // messaging_postbacks
        {"delivery.json", "status"},                                   // message_deliveries
        {"read_watermark.json", "status"},                             // message_reads
        {"echo.json", "message:text"},                                 // message_echoes
        {"reaction.json", "reaction"},                                 // message_reactions
        {"message_edit.json", "edit"},                                 // message_edits
        {"referral.json", "system:referral"},                          // messaging_referrals
        {"optin.json", "system:optin"},                                // messaging_optins
        {"account_linking.json", "system:account_linked"},             // messaging_account_linking
        {"pass_thread_control.json", "system:handover_passed"},        // messaging_handovers
        {"take_thread_control.json", "system:handover_taken"},         // messaging_handovers
        {"request_thread_control.json", "system:handover_requested"},  // messaging_handovers
        {"app_roles.json", "ignored:app_roles"},                       // messaging_handovers
        {"policy_enforcement.json", "ignored:policy_enforcement"},     // messaging_policy_enforcement
        {"standby.json", "message:text"},                              // standby
    });
}

TEST_F(MessengerPlugin, EmitsOneEventPerItemAcrossEntriesInOrder) {
    auto events = parse_all(fixture("multi_entry_batch.json"));
    ASSERT_EQ(events.size(), 4u);
    EXPECT_EQ(events[0].str("/id"), mid("X1"));
    EXPECT_EQ(events[0].str("/content/text"), "first");
    EXPECT_EQ(events[1].str("/id"), mid("X2"));
    EXPECT_EQ(events[1].str("/conversation/id"), "7012345678901234");
    EXPECT_EQ(events[1].integer("/timestamp_ms"), kT + 400);
    EXPECT_EQ(events[2].str("/type"), "status");
    EXPECT_EQ(events[2].str("/id"), mid("OUT3"));
    EXPECT_EQ(events[3].str("/type"), "status");  // the read watermark
    EXPECT_TRUE(events[3].has("/watermark_ms"));
    for (const Json& e : events) EXPECT_EQ(e.str("/account_id"), kPageId);
}

TEST_F(MessengerPlugin, TagsEachEventWithThePageThatReceivedIt) {
    auto events = parse_all(fixture("two_pages_batch.json"));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].str("/account_id"), kPageId);
    EXPECT_EQ(events[0].str("/content/text"), "to page one");
    EXPECT_EQ(events[1].str("/account_id"), kOtherPageId);
    EXPECT_EQ(events[1].str("/content/text"), "to page two");
    EXPECT_EQ(events[1].str("/conversation/id"), "7012345678901234");
}

TEST_F(MessengerPlugin, EveryFixtureWebhookParses) {
    for (const char* name : {"text.json",
                             "text_reply.json",
                             "image.json",
                             "audio.json",
                             "video.json",
                             "file.json",
                             "multiple_images.json",
                             "sticker.json",
                             "sticker_legacy_image.json",
                             "link_share_fallback.json",
                             "reel.json",
                             "mixed_attachments.json",
                             "user_ref_sender.json",
                             "user_ref_postback.json",
                             "postback_referral.json",
                             "quick_reply.json",
                             "postback.json",
                             "reaction.json",
                             "unreaction.json",
                             "delivery.json",
                             "echo.json",
                             "echo_from_other_tool.json",
                             "standby.json",
                             "referral.json",
                             "optin.json",
                             "account_linking.json",
                             "pass_thread_control.json",
                             "take_thread_control.json",
                             "request_thread_control.json",
                             "message_edit.json",
                             "multi_entry_batch.json",
                             "two_pages_batch.json"}) {
        EventsResult result = instance_->parse(fixture(name));
        EXPECT_EQ(result.status, SB_OK) << name << ": " << result.error;
        EXPECT_FALSE(result.events.empty()) << name;
        for (const std::string& event : result.events) {
            Json e(event);
            EXPECT_TRUE(e.has("/account_id")) << name;
            EXPECT_TRUE(e.has("/conversation/id")) << name;
            EXPECT_TRUE(e.has("/timestamp_ms")) << name;
            // Every event names its message, except receipts that name a watermark instead.
            EXPECT_TRUE(e.has("/id") || e.has("/watermark_ms")) << name;
        }
    }
}

TEST_F(MessengerPlugin, TakesEntryTimeThenNowWhenAnItemHasNoTimestamp) {
    Json from_entry = parse_one(R"({"object":"page","entry":[{"id":"1","time":1732540000777,"messaging":[
        {"sender":{"id":"2"},"recipient":{"id":"1"},"message":{"mid":"m_1","text":"x"}}]}]})");
    EXPECT_EQ(from_entry.integer("/timestamp_ms"), 1732540000777);
    Json from_now = parse_one(R"({"object":"page","entry":[{"id":"1","messaging":[
        {"sender":{"id":"2"},"recipient":{"id":"1"},"message":{"mid":"m_1","text":"x"}}]}]})");
    EXPECT_EQ(from_now.integer("/timestamp_ms"), kNowMs);
}

TEST_F(MessengerPlugin, NormalizesMessageEditAsEdit) {
    Json e = parse_one(R"({"object":"page","entry":[{"id":"106502831234567","time":1,"messaging":[
        {"sender":{"id":"6789012345678901"},"recipient":{"id":"106502831234567"},"timestamp":1732540000123,
         "message_edit":{"mid":"m_edited","text":"Order 4712, sorry","num_edit":1}}]}]})");
    expect_envelope(e, "edit");
    EXPECT_EQ(e.str("/id"), "m_edited");
    EXPECT_EQ(e.integer("/edited_at_ms"), kT);
    EXPECT_EQ(e.str("/content/text"), "Order 4712, sorry");
}

// ---------------------------------------------------------------------------------------------
// parse: hostile and malformed input

TEST_F(MessengerPlugin, RejectsBodiesThatAreNotPageWebhooks) {
    const std::pair<std::string, const char*> cases[] = {
        {"", "empty"},
        {"{\"object\":\"page\",\"entry\":[", "invalid JSON"},
        {"[1,2]", "object"},
        {R"({"entry":[]})", "object"},
        {R"({"object":"instagram","entry":[]})", "instagram"},
        {R"({"object":"whatsapp_business_account","entry":[]})", "page"},
        {R"({"object":"page"})", "entry"},
        {R"({"object":"page","entry":{}})", "entry"},
        {R"({"object":"page","entry":[7]})", "entry[0]"},
        {R"({"object":"page","entry":[{"messaging":[]}]})", "entry[0].id"},
        {R"({"object":"page","entry":[{"id":"1","messaging":{}}]})", "messaging"},
        {R"({"object":"page","entry":[{"id":"1","messaging":["x"]}]})", "messaging[0]"},
        {R"({"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":{"text":"x"}}]}]})",
         "mid"},
        {R"({"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":"x"}]}]})",
         "message must be an object"},
        {R"({"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":{"mid":"m","text":5}}]}]})",
         "text"},
        {R"({"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"reaction":{"emoji":"x"}}]}]})",
         "reaction.mid"},
    };
    for (const auto& [body, mentions] : cases) {
        EventsResult result = instance_->parse(body);
        EXPECT_EQ(result.status, SB_E_INVALID) << body;
        EXPECT_TRUE(result.events.empty()) << body;
        EXPECT_NE(result.error.find(mentions), std::string::npos) << body << " -> " << result.error;
    }
}

TEST_F(MessengerPlugin, DeadLettersTheWholeBodyWhenOneItemIsBroken) {
    EventsResult result = instance_->parse(R"({"object":"page","entry":[{"id":"1","messaging":[
        {"sender":{"id":"2"},"message":{"mid":"m_ok","text":"fine"}},{"sender":{"id":"2"},"message":{}}]}]})");
    EXPECT_EQ(result.status, SB_E_INVALID);
    EXPECT_TRUE(result.events.empty());  // nothing half-applied
    EXPECT_NE(result.error.find("entry[0].messaging[1].message.mid"), std::string::npos) << result.error;
}

TEST_F(MessengerPlugin, RejectsDeeplyNestedJsonAndInvalidUtf8WithoutCrashing) {
    std::string arrays = std::string(10000, '[') + std::string(10000, ']');
    EXPECT_EQ(instance_->parse(arrays).status, SB_E_INVALID);
    EXPECT_EQ(instance_->parse(R"({"object":"page","entry":)" + arrays + "}").status, SB_E_INVALID);
    EXPECT_EQ(instance_->parse(std::string(100000, '{')).status, SB_E_INVALID);
    std::string bad_utf8 =
        "{\"object\":\"page\",\"entry\":[{\"id\":\"1\",\"messaging\":[{\"sender\":{\"id\":\"2\"},"
        "\"message\":{\"mid\":\"m\",\"text\":\"\xc3\x28\"}}]}]}";
    EXPECT_EQ(instance_->parse(bad_utf8).status, SB_E_INVALID);
}

TEST_F(MessengerPlugin, ToleratesMistypedOptionalFields) {
    Json e = parse_one(R"({"object":"page","entry":[{"id":1065,"time":"soon","messaging":[
        {"sender":{"id":42},"recipient":[],"timestamp":-5,
         "message":{"mid":"m_1","text":"hi","is_echo":"yes","reply_to":{"mid":7},"quick_reply":{"payload":3},
                    "attachments":"none"}}]}]})");
    EXPECT_EQ(e.str("/account_id"), "1065");  // integer ids are read as their decimal text
    EXPECT_EQ(e.str("/conversation/id"), "42");
    EXPECT_EQ(e.integer("/timestamp_ms"), kNowMs);
    EXPECT_EQ(e.str("/content/type"), "text");
    EXPECT_FALSE(e.has("/direction"));
    EXPECT_FALSE(e.has("/reply_to"));
}

TEST_F(MessengerPlugin, KeepsMessageWithNothingTranslatableAsUnsupported) {
    Json e = parse_one(R"({"object":"page","entry":[{"id":"1","messaging":[
        {"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1732540000123,
         "message":{"mid":"m_1","attachments":[{"type":"image"}]}}]}]})");
    EXPECT_EQ(e.str("/content/type"), "unsupported");  // an image without a URL cannot be shown
    EXPECT_EQ(e.str("/content/platform_type"), "image");
    EXPECT_TRUE(e.has("/raw"));
    Json empty = parse_one(R"({"object":"page","entry":[{"id":"1","messaging":[
        {"sender":{"id":"2"},"message":{"mid":"m_2","is_unsupported":true}}]}]})");
    EXPECT_EQ(empty.str("/content/platform_type"), "is_unsupported");
}

TEST_F(MessengerPlugin, EmptyEntryListYieldsNoEvents) {
    EventsResult result = instance_->parse(R"({"object":"page","entry":[]})");
    EXPECT_EQ(result.status, SB_OK);
    EXPECT_TRUE(result.events.empty());
}

TEST_F(MessengerPlugin, SurvivesRandomlyMutatedFixtures) {
    std::mt19937 random(4711);
    std::vector<std::string> bodies;
    for (const char* name :
         {"text.json", "echo.json", "multi_entry_batch.json", "sticker.json", "delivery.json"})
        bodies.push_back(fixture(name));
    const char kBytes[] = "{}[]\":,0a\\\x80\xff ";
    for (int i = 0; i < 3000; ++i) {
        std::string body = bodies[random() % bodies.size()];
        for (int edits = 1 + static_cast<int>(random() % 4); edits > 0; --edits) {
            std::size_t at = random() % body.size();
            switch (random() % 3) {
                case 0:
                    body[at] = kBytes[random() % (sizeof(kBytes) - 1)];
                    break;
                case 1:
                    body.erase(at, 1 + random() % 8);
                    break;
                default:
                    body.insert(at, 1, kBytes[random() % (sizeof(kBytes) - 1)]);
            }
        }
        EventsResult result = instance_->parse(body);
        ASSERT_TRUE(result.status == SB_OK || result.status == SB_E_INVALID) << body;
        for (const std::string& event : result.events) Json e(event);  // always valid JSON
    }
}

TEST_F(MessengerPlugin, ParsesConcurrentlyFromSeveralThreads) {
    std::string body = fixture("multi_entry_batch.json");
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                EventsResult result = instance_->parse(body);
                if (result.status == SB_OK && result.events.size() == 4) ++good;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(good.load(), 800);
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
    EXPECT_EQ(r.request->url.find(kToken), std::string::npos);
}

TEST_F(MessengerPlugin, BuildsTextSendToThePageWithBearerToken) {
    RequestResult r = send(std::string(R"({"v":1,"conversation":{"id":")") + kPsid +
                           R"("},"content":{"type":"text","text":"Sorry to hear that — let me check."}})");
    expect_send_request(r);
    EXPECT_EQ(
        r.request->body,
        std::string(R"({"recipient":{"id":")") + kPsid +
            R"("},"messaging_type":"RESPONSE","message":{"text":"Sorry to hear that — let me check."}})");
}

TEST_F(MessengerPlugin, PutsTheOutboundIdIntoMessageMetadataButNotIntoSenderActions) {
    const std::string id = "sb-0123456789abcdef0123456789abcdef";
    RequestResult text = send(R"({"v":1,"id":")" + id + R"(","conversation":{"id":"5"},)" +
                              R"("content":{"type":"text","text":"hi"}})");
    expect_send_request(text);
    EXPECT_EQ(Json(text.request->body).str("/message/metadata"), id);
    RequestResult image = send(R"({"v":1,"id":")" + id + R"(","conversation":{"id":"5"},)" +
                               R"("content":{"type":"image","url":"https://example.com/a.png"}})");
    expect_send_request(image);
    EXPECT_EQ(Json(image.request->body).str("/message/metadata"), id);
    RequestResult typing = send(R"({"v":1,"id":")" + id +
                                R"(","conversation":{"id":"5"},"content":{"type":"typing","state":"on"}})");
    expect_send_request(typing);
    EXPECT_FALSE(Json(typing.request->body).has("/metadata")) << typing.request->body;
}

TEST_F(MessengerPlugin, EchoCarriesTheOutboundIdFromItsMetadata) {
    std::string echo = fixture("echo.json");
    const std::string anchor = R"("is_echo": true,)";
    ASSERT_NE(echo.find(anchor), std::string::npos);
    echo.replace(echo.find(anchor), anchor.size(),
                 anchor + R"( "metadata": "sb-0123456789abcdef0123456789abcdef",)");
    Json e = parse_one(echo);
    EXPECT_EQ(e.str("/direction"), "out");
    EXPECT_EQ(e.str("/outbound_id"), "sb-0123456789abcdef0123456789abcdef");
    EXPECT_FALSE(parse_fixture("echo.json").has("/outbound_id")) << "no metadata, no outbound id";
}

TEST_F(MessengerPlugin, AddressesTheExplicitRecipientAndIgnoresReplyTo) {
    RequestResult r = send(R"({"v":1,"conversation":{"id":"111"},"recipient":{"id":"222"},"reply_to":"m_x",
        "content":{"type":"text","text":"hi"}})");
    expect_send_request(r);
    Json body(r.request->body);
    EXPECT_EQ(body.str("/recipient/id"), "222");
    EXPECT_FALSE(body.has("/reply_to"));
    EXPECT_FALSE(body.has("/message/reply_to"));
}

TEST_F(MessengerPlugin, BuildsAttachmentSendsByUrl) {
    const std::pair<const char*, const char*> cases[] = {
        {"image", "image"}, {"video", "video"}, {"audio", "audio"}, {"document", "file"}};
    for (const auto& [type, attachment] : cases) {
        RequestResult r =
            send(std::string(R"({"v":1,"conversation":{"id":"6789012345678901"},"content":{"type":")") +
                 type + R"(","url":"https://cdn.example.com/f?a=1&b=2"}})");
        expect_send_request(r);
        EXPECT_EQ(
            r.request->body,
            std::string(R"({"recipient":{"id":"6789012345678901"},"messaging_type":"RESPONSE","message":)") +
                R"({"attachment":{"type":")" + attachment +
                R"(","payload":{"url":"https://cdn.example.com/f?a=1&b=2"}}}})")
            << type;
    }
}

TEST_F(MessengerPlugin, RefusesMediaCaptionRatherThanDroppingIt) {
    RequestResult r = send(
        R"({"v":1,"conversation":{"id":"5"},"content":{"type":"image","url":"https://x/y","caption":"Your label"}})");
    EXPECT_EQ(r.status, SB_E_UNSUPPORTED);
    EXPECT_NE(r.error.find("caption"), std::string::npos) << r.error;
    EXPECT_FALSE(r.request);
    EXPECT_EQ(
        send(
            R"({"v":1,"conversation":{"id":"5"},"content":{"type":"image","url":"https://x/y","caption":""}})")
            .status,
        SB_OK);
    EXPECT_EQ(send(R"({"v":1,"conversation":{"id":"5"},"content":{"type":"image"}})").status, SB_E_INVALID);
}

TEST_F(MessengerPlugin, BuildsTypingAndMarkSeenAsLoneSenderActions) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"type":"typing","state":"on"})", "typing_on"},
        {R"({"type":"typing","state":"off"})", "typing_off"},
        {R"({"type":"mark_read","id":"m_abc"})", "mark_seen"},
    };
    for (const auto& [content, action] : cases) {
        RequestResult r = send(std::string(R"({"v":1,"conversation":{"id":"6789012345678901"},"content":)") +
                               content + "}");
        expect_send_request(r);
        EXPECT_EQ(r.request->body,
                  std::string(R"({"recipient":{"id":"6789012345678901"},"sender_action":")") + action + "\"}")
            << content;
    }
    EXPECT_EQ(send(R"({"v":1,"conversation":{"id":"5"},"content":{"type":"typing","state":"maybe"}})").status,
              SB_E_INVALID);
}

TEST_F(MessengerPlugin, AcceptsTextOf2000CharactersAndRejectsLonger) {
    auto with_text = [](const std::string& text) {
        return R"({"v":1,"conversation":{"id":"5"},"content":{"type":"text","text":")" + text + "\"}}";
    };
    EXPECT_EQ(send(with_text(std::string(2000, 'x'))).status, SB_OK);
    RequestResult r = send(with_text(std::string(2001, 'x')));
    EXPECT_EQ(r.status, SB_E_INVALID);
    EXPECT_NE(r.error.find("2000"), std::string::npos) << r.error;
    std::string emoji;
    for (int i = 0; i < 2000; ++i) emoji += "😀";  // characters, not bytes
    EXPECT_EQ(send(with_text(emoji)).status, SB_OK);
    EXPECT_EQ(send(with_text(emoji + "😀")).status, SB_E_INVALID);
}

TEST_F(MessengerPlugin, RejectsContentTheSendApiCannotCarry) {
    for (const char* content : {R"({"type":"location","latitude":1,"longitude":2})",
                                R"({"type":"sticker","url":"https://x"})", R"({"type":"hologram"})"}) {
        RequestResult r = send(std::string(R"({"v":1,"conversation":{"id":"5"},"content":)") + content + "}");
        EXPECT_EQ(r.status, SB_E_UNSUPPORTED) << content;
        EXPECT_FALSE(r.request);
        EXPECT_FALSE(r.error.empty());
    }
}

TEST_F(MessengerPlugin, RejectsMalformedOutboundRequests) {
    const char* cases[] = {
        "",
        "not json",
        "[]",
        R"({"v":1,"content":{"type":"text","text":"x"}})",
        R"({"v":1,"conversation":{"id":5},"content":{"type":"text","text":"x"}})",
        R"({"v":1,"conversation":{"id":""},"content":{"type":"text","text":"x"}})",
        R"({"v":1,"conversation":{"id":"5"},"recipient":"6","content":{"type":"text","text":"x"}})",
        R"({"v":1,"conversation":{"id":"5"}})",
        R"({"v":1,"conversation":{"id":"5"},"content":{"type":"text","text":5}})",
        R"({"v":1,"conversation":{"id":"5"},"content":{"type":"text","text":""}})",
        R"({"v":2,"conversation":{"id":"5"},"content":{"type":"text","text":"x"}})",
    };
    for (const char* outbound : cases) {
        RequestResult r = send(outbound);
        EXPECT_EQ(r.status, SB_E_INVALID) << outbound;
        EXPECT_FALSE(r.request);
        EXPECT_EQ(r.error.find(kToken), std::string::npos);
    }
}

// ---------------------------------------------------------------------------------------------
// classify_send

constexpr const char* kTextOut =
    R"({"v":1,"conversation":{"id":"6789012345678901"},"content":{"type":"text","text":"hi"}})";

TEST_F(MessengerPlugin, ClassifiesSendOkWithMessageIdAsPlatformId) {
    sb_send_result r = instance_->classify(kTextOut, 200, fixture("send_ok.json"));
    EXPECT_EQ(r.send_class, SB_SEND_OK);
    EXPECT_EQ(std::string(r.platform_id), mid("OUT1"));  // what the echo will carry
    EXPECT_STREQ(r.platform_code, "");
}

TEST_F(MessengerPlugin, ClassifiesSenderActionAnswerAsOkWithoutId) {
    sb_send_result r = instance_->classify(kTextOut, 200, fixture("send_ok_sender_action.json"));
    EXPECT_EQ(r.send_class, SB_SEND_OK);
    EXPECT_STREQ(r.platform_id, "");
}

TEST_F(MessengerPlugin, ClassifiesGraphErrorsByCodeAndSubcode) {
    const std::tuple<const char*, int, int, const char*> cases[] = {
        {"error_190_invalid_token.json", 400, SB_SEND_AUTH, "190"},
        {"error_10_2018278_outside_window.json", 400, SB_SEND_WINDOW_CLOSED, "10/2018278"},
        {"error_10_1893063_page_restricted.json", 400, SB_SEND_PERMANENT, "10/1893063"},
        {"error_613_rate_limited.json", 400, SB_SEND_RATE_LIMITED, "613"},
        {"error_551_person_unavailable.json", 400, SB_SEND_PERMANENT, "551/1545041"},
        {"error_100_no_matching_user.json", 400, SB_SEND_PERMANENT, "100/2018001"},
        {"error_1200_temporary.json", 500, SB_SEND_RETRYABLE, "1200"},
        {"error_2_service_unavailable.json", 503, SB_SEND_RETRYABLE, "2"},
    };
    for (const auto& [name, status, send_class, code] : cases) {
        sb_send_result r = instance_->classify(kTextOut, status, fixture(name));
        EXPECT_EQ(r.send_class, send_class) << name;
        EXPECT_STREQ(r.platform_code, code) << name;
        EXPECT_NE(std::string(r.message), "") << name;
        EXPECT_STREQ(r.platform_id, "") << name;
    }
}

TEST_F(MessengerPlugin, ClassifiesWindowClosedWithPlatformMessage) {
    sb_send_result r = instance_->classify(kTextOut, 400, fixture("error_10_2018278_outside_window.json"));
    EXPECT_EQ(r.send_class, SB_SEND_WINDOW_CLOSED);
    EXPECT_NE(std::string(r.message).find("outside of allowed window"), std::string::npos) << r.message;
}

TEST_F(MessengerPlugin, ClassifiesA2xxCarryingAnErrorAsThatError) {
    sb_send_result r = instance_->classify(kTextOut, 200, fixture("error_190_invalid_token.json"));
    EXPECT_EQ(r.send_class, SB_SEND_AUTH);
}

TEST_F(MessengerPlugin, ClassifiesServerErrorsTransportFailuresAndGarbageWithoutCrashing) {
    EXPECT_EQ(instance_->classify(kTextOut, 502, "<html>Bad Gateway</html>").send_class, SB_SEND_RETRYABLE);
    EXPECT_EQ(instance_->classify(kTextOut, 0, "", {}, "connection reset").send_class, SB_SEND_RETRYABLE);
    EXPECT_EQ(instance_->classify(kTextOut, 200, "").send_class, SB_SEND_RETRYABLE);
    EXPECT_EQ(instance_->classify(kTextOut, 200, "{}").send_class, SB_SEND_RETRYABLE);
    EXPECT_EQ(instance_->classify(kTextOut, 200, std::string(5000, '[')).send_class, SB_SEND_RETRYABLE);
    EXPECT_EQ(instance_->classify(kTextOut, 401, "Unauthorized").send_class, SB_SEND_AUTH);
    EXPECT_EQ(instance_->classify(kTextOut, 429, "slow down", {{"Retry-After", "7"}}).send_class,
              SB_SEND_RATE_LIMITED);
    sb_send_result weird = instance_->classify(kTextOut, 200, R"({"recipient_id":"1","message_id":[1]})");
    EXPECT_EQ(weird.send_class, SB_SEND_OK);
    EXPECT_STREQ(weird.platform_id, "");
}

TEST_F(MessengerPlugin, KeepsSecretsOutOfClassifiedMessages) {
    std::string body = std::string(R"({"error":{"message":"token )") + kToken +
                       R"( is bad","type":"OAuthException","code":190}})";
    sb_send_result r = instance_->classify(kTextOut, 400, body);
    EXPECT_EQ(r.send_class, SB_SEND_AUTH);
    EXPECT_EQ(std::string(r.message).find(kToken), std::string::npos) << r.message;
    sb_send_result transport =
        instance_->classify(kTextOut, 0, "", {}, std::string("TLS failure, secret ") + kAppSecret);
    EXPECT_EQ(std::string(transport.message).find(kAppSecret), std::string::npos) << transport.message;
}

TEST_F(MessengerPlugin, NeverLogsSecrets) {
    instance_->parse(fixture("text.json"));
    instance_->parse("garbage");
    send(kTextOut);
    instance_->classify(kTextOut, 0, "", {}, kToken);
    instance_->verify("GET", "/webhooks/fb?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1", {}, "");
    for (const auto& line : instance_->logs()) {
        for (const char* secret : {kToken, kAppSecret, kVerifyToken})
            EXPECT_EQ(line.message.find(secret), std::string::npos) << line.message;
    }
}

}  // namespace

// Inbound media (ABI 1.3): the attachment's signed CDN link, fetched at once without credentials.
TEST_F(MessengerPlugin, FetchesAnAttachmentFromItsCdnLinkWithoutCredentials) {
    const std::string url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/123_n.jpg?_nc_cat=1&oh=00_AT&oe=6750";
    auto step =
        instance_->fetch_media(R"({"v":1,"content":{"type":"image","media":{"url":")" + url + "\"}}}");
    ASSERT_EQ(step.status, SB_OK) << step.error;
    EXPECT_EQ(step.step.action, SB_MEDIA_DOWNLOAD);
    ASSERT_TRUE(step.request);
    EXPECT_EQ(step.request->method, "GET");
    EXPECT_EQ(step.request->url, url);
    EXPECT_TRUE(step.request->headers.empty()) << "the CDN link carries its own signature";
    EXPECT_EQ(step.step.max_bytes, 25LL * 1024 * 1024);
    auto expired = instance_->fetch_media(
        R"({"v":1,"content":{"type":"image","media":{"url":")" + url + R"("}},"state":"file"})", 403,
        "URL signature expired");
    EXPECT_EQ(expired.step.action, SB_MEDIA_FAILED);
    EXPECT_EQ(expired.reason(), "expired");
    auto none =
        instance_->fetch_media(R"({"v":1,"content":{"type":"sticker","media":{"id":"369239263222822"}}})");
    EXPECT_EQ(none.step.action, SB_MEDIA_FAILED);
    EXPECT_EQ(none.reason(), "not_found");
}

// A file attachment's only name is the last segment of its CDN link; images are not named.
TEST_F(MessengerPlugin, AFileAttachmentIsNamedFromItsCdnLink) {
    auto named = [&](const std::string& type, const std::string& url) {
        auto step = instance_->fetch_media(R"({"v":1,"content":{"type":")" + type + R"(","media":{"url":")" +
                                           url + "\"}}}");
        EXPECT_EQ(step.status, SB_OK) << step.error;
        return std::string(step.step.file_name);
    };
    EXPECT_EQ(named("document",
                    "https://cdn.fbsbx.com/v/t59.2708-21/1_2_n.pdf/Invoice%20M%C3%A4rz.pdf?_nc_cat=1&oh=x"),
              "Invoice M\xC3\xA4rz.pdf");
    EXPECT_EQ(named("document", "https://cdn.fbsbx.com/v/t59.2708-21/report.pdf"), "report.pdf");
    EXPECT_EQ(named("document", "https://cdn.fbsbx.com/v/t59.2708-21/a%2Fb.pdf"), "") << "a path is no name";
    EXPECT_EQ(named("document", "https://cdn.fbsbx.com/v/t59.2708-21/noextension"), "");
    EXPECT_EQ(named("document", "https://cdn.fbsbx.com/v/bad%zz.pdf"), "");
    EXPECT_EQ(named("image", "https://scontent.xx.fbcdn.net/v/t1/123_n.jpg?oe=1"), "");
}

// Agents' uploads (ABI 1.3): the Send API's multipart form with the attachment in filedata.
TEST_F(MessengerPlugin, SendsAnUploadAsTheSendApisMultipartForm) {
    auto result = instance_->build_send(
        R"({"v":1,"id":"sb-0123","conversation":{"id":"5"},"content":{"type":"document",)"
        R"("upload":{"id":"2","mime_type":"application/pdf","size":900,"file_name":"a.pdf","sha256":"cafe","placeholder":"{{switchboard-upload:cafe}}"}}})");
    ASSERT_EQ(result.status, SB_OK) << result.error;
    ASSERT_TRUE(result.request);
    EXPECT_EQ(result.request->url, std::string("https://graph.facebook.com/v21.0/") + kPageId + "/messages");
    EXPECT_EQ(result.request->header("Content-Type"), "multipart/form-data; boundary=switchboard-cafe");
    EXPECT_EQ(result.request->header("Authorization"), std::string("Bearer ") + kToken);
    const std::string& body = result.request->body;
    EXPECT_NE(body.find("name=\"recipient\"\r\n\r\n{\"id\":\"5\"}\r\n"), std::string::npos) << body;
    EXPECT_NE(body.find("name=\"messaging_type\"\r\n\r\nRESPONSE\r\n"), std::string::npos);
    EXPECT_NE(body.find("name=\"message\"\r\n\r\n{\"attachment\":{\"type\":\"file\",\"payload\":{\"is_"
                        "reusable\":false}},\"metadata\":\"sb-0123\"}\r\n"),
              std::string::npos);
    EXPECT_NE(body.find("name=\"filedata\"; filename=\"a.pdf\"\r\nContent-Type: "
                        "application/pdf\r\n\r\n{{switchboard-upload:cafe}}\r\n"),
              std::string::npos);
    auto big = instance_->build_send(
        R"({"v":1,"conversation":{"id":"5"},"content":{"type":"video","upload":{"mime_type":"video/mp4","size":26214401,"placeholder":"P"}}})");
    EXPECT_EQ(big.status, SB_E_INVALID);
}
