// The WhatsApp Cloud API plugin, tested through the real whatsapp.so and the C ABI
// (plugin_harness): fixtures in tests/fixtures/whatsapp are webhook and Graph API payloads in
// the documented shapes (shared/research/platforms.md section 2), one case per file.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
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

constexpr const char* kPhoneNumberId = "106540352242922";
constexpr const char* kToken = "EAAGtestTOKENxyz123";
constexpr const char* kAppSecret = "appSECRETxyz";
constexpr const char* kVerifyToken = "verifyTOKENxyz";
constexpr const char* kCustomer = "16315551234";
constexpr const char* kSendUrl = "https://graph.facebook.com/v21.0/106540352242922/messages";

std::string wamid(int n) {
    char text[80];
    std::snprintf(text, sizeof(text), "wamid.HBgLMTYzMTU1NTEyMzQVAgASGBQzQTRBNjU5OUFBRTRBOTQzOUM5R%02d=", n);
    return text;
}

std::string fixture(const std::string& name) { return sb::test::read_fixture("whatsapp", name); }

std::string config(const std::string& extra = "") {
    return std::string(R"({"phone_number_id":")") + kPhoneNumberId + R"(","access_token":")" + kToken +
           R"(","app_secret":")" + kAppSecret + R"(","verify_token":")" + kVerifyToken + "\"" + extra + "}";
}

std::string sign(const std::string& body, const std::string& secret = kAppSecret) {
    return sb::test::sha256_signature(secret, body);
}

using sb::test::Json;

class WhatsAppPlugin : public sb::test::PluginTest<WhatsAppPlugin> {
public:
    static constexpr const char* kPlugin = "whatsapp";
    static std::string open_settings() { return config(); }

protected:
    Json parse_fixture(const std::string& name) { return parse_one(fixture(name + ".json")); }
    // build_send must succeed with the standard URL and headers; returns the body.
    std::string send_body(const std::string& outbound) {
        RequestResult result = send(outbound);
        EXPECT_EQ(result.status, SB_OK) << result.error;
        if (!result.request) throw std::runtime_error("no request submitted");
        EXPECT_EQ(result.request->method, "POST");
        EXPECT_EQ(result.request->url, kSendUrl);
        EXPECT_EQ(result.request->header("Authorization"), std::string("Bearer ") + kToken);
        EXPECT_EQ(result.request->header("Content-Type"), "application/json");
        return result.request->body;
    }

    sb_send_result classify(const std::string& outbound, int status, const std::string& body,
                            const Headers& headers = {}, const std::string& transport_error = "") {
        return instance_->classify(outbound, status, body, headers, transport_error);
    }
};

const std::string kTextOut =
    R"({"v":1,"conversation":{"id":"16315551234"},"content":{"type":"text","text":"Hi"}})";

// Expects the common envelope of an inbound event from the main test number and customer.
void expect_from_customer(const Json& e, const std::string& type = "message") {
    EXPECT_EQ(e.integer("/v"), 1);
    EXPECT_EQ(e.str("/type"), type);
    EXPECT_EQ(e.str("/account_id"), kPhoneNumberId);
    EXPECT_EQ(e.str("/conversation/id"), kCustomer);
    EXPECT_EQ(e.str("/conversation/kind"), "private");
    EXPECT_EQ(e.str("/sender/id"), kCustomer);
    EXPECT_EQ(e.str("/sender/name"), "Kerry Fisher");
    EXPECT_EQ(e.str("/sender/phone"), kCustomer);
}

// ---------------------------------------------------------------------------------------------
// Descriptor, settings, account

TEST_F(WhatsAppPlugin, DescriptorDeclaresIdCapabilitiesAndSecretSettings) {
    const sb_plugin_v1& d = library_->descriptor();
    EXPECT_STREQ(d.id, "whatsapp");
    EXPECT_EQ(d.size, sizeof(sb_plugin_v1));
    EXPECT_EQ(d.capabilities,
              SB_CAP_THREAD_SAFE | SB_CAP_MEDIA_OUT | SB_CAP_MARK_READ | SB_CAP_TYPING_OUT | SB_CAP_MEDIA_IN);
    EXPECT_NE(d.fetch_media, nullptr);
    EXPECT_EQ(d.poll_request, nullptr);
    EXPECT_EQ(d.poll_response, nullptr);
    ASSERT_TRUE(SB_HAS_MEMBER(&d, sb_plugin_v1, account));
    EXPECT_NE(d.account, nullptr);
    Json schema(d.config_schema);
    EXPECT_FALSE(schema.boolean("/additionalProperties"));
    for (const char* secret : {"/properties/access_token/x-secret", "/properties/app_secret/x-secret",
                               "/properties/verify_token/x-secret"}) {
        EXPECT_TRUE(schema.boolean(secret)) << secret;
    }
    EXPECT_FALSE(schema.has("/properties/phone_number_id/x-secret"));
    EXPECT_EQ(schema.str("/properties/api_base/default"), "https://graph.facebook.com/v21.0");
    EXPECT_EQ(schema.str("/required/0"), "phone_number_id");
    EXPECT_EQ(schema.str("/required/1"), "access_token");
}

// account() is not wrapped by the harness: open an instance directly with a minimal host.
void noop_log(sb_host_ctx*, sb_log_level, sb_str) {}
void zero_hmac(sb_str, sb_str, uint8_t out[32]) { std::memset(out, 0, 32); }
int never_equal(sb_str, sb_str) { return 0; }
int64_t zero_now() { return 0; }
int refuse_event(sb_call*, sb_str) { return -1; }
int refuse_request(sb_call*, const sb_http_request*) { return -1; }
int refuse_respond(sb_call*, int32_t, sb_str, sb_str) { return -1; }
int refuse_reason(sb_call*, sb_str) { return -1; }

TEST_F(WhatsAppPlugin, AccountIsThePhoneNumberId) {
    const sb_host_services host = {sizeof(sb_host_services),
                                   SB_ABI_MAJOR,
                                   SB_ABI_MINOR,
                                   noop_log,
                                   zero_hmac,
                                   never_equal,
                                   zero_now,
                                   refuse_event,
                                   refuse_request,
                                   refuse_respond,
                                   refuse_reason};
    const sb_plugin_v1& d = library_->descriptor();
    sb_instance* instance = nullptr;
    sb_error err{};
    err.size = sizeof(err);
    std::string settings = config();
    ASSERT_EQ(d.open(&host, nullptr, {settings.data(), settings.size()}, &instance, &err), SB_OK)
        << err.message;
    sb_str account = d.account(instance);
    EXPECT_EQ(std::string(account.ptr, account.len), kPhoneNumberId);
    d.close(instance);
}

TEST_F(WhatsAppPlugin, OpensWithoutWebhookSecretsButWarns) {
    auto opened = library_->open(R"({"phone_number_id":"1","access_token":"EAAGotherTOKEN1"})");
    ASSERT_EQ(opened.status, SB_OK) << opened.error;
    ASSERT_EQ(opened.logs.size(), 2u);
    EXPECT_EQ(opened.logs[0].level, SB_LOG_WARN);
    EXPECT_NE(opened.logs[0].message.find("app_secret"), std::string::npos);
    EXPECT_NE(opened.logs[1].message.find("verify_token"), std::string::npos);
    // Fail closed: nothing is accepted without the secrets.
    std::string body = fixture("text.json");
    EXPECT_EQ(opened.instance->verify("POST", "/w", {{"X-Hub-Signature-256", sign(body, "")}}, body).verdict,
              SB_VERIFY_UNAUTHORIZED);
    EXPECT_EQ(
        opened.instance->verify("GET", "/w?hub.mode=subscribe&hub.verify_token=&hub.challenge=1", {}, "")
            .verdict,
        SB_VERIFY_FORBIDDEN);
}

TEST_F(WhatsAppPlugin, DoesNotLogAtOpenWhenFullyConfigured) { EXPECT_TRUE(instance_->logs().empty()); }

TEST_F(WhatsAppPlugin, UsesApiBaseWithoutTrailingSlash) {
    auto instance =
        open_ok(config(R"(,"api_base":"http://127.0.0.1:9000/v99.0//","waba_id":"102290129340398")"));
    RequestResult result = instance->build_send(kTextOut);
    ASSERT_EQ(result.status, SB_OK) << result.error;
    EXPECT_EQ(result.request->url, "http://127.0.0.1:9000/v99.0/106540352242922/messages");
}

struct BadConfig {
    const char* settings;
    const char* names;
};

TEST_F(WhatsAppPlugin, RejectsBadSettingsNamingTheKeyWithoutLeakingSecrets) {
    const BadConfig cases[] = {
        {"not json", "settings"},
        {R"(["phone_number_id"])", "object"},
        {R"({})", "phone_number_id"},
        {R"({"phone_number_id":"1"})", "access_token"},
        {R"({"access_token":"TOKENxyz"})", "phone_number_id"},
        {R"({"phone_number_id":1,"access_token":"TOKENxyz"})", "phone_number_id"},
        {R"({"phone_number_id":"12/../34","access_token":"TOKENxyz"})", "phone_number_id"},
        {R"({"phone_number_id":"","access_token":"TOKENxyz"})", "phone_number_id"},
        {R"({"phone_number_id":"1","access_token":""})", "access_token"},
        {R"({"phone_number_id":"1","access_token":"TOKENxyz\r\nX-Evil: 1"})", "access_token"},
        {R"({"phone_number_id":"1","access_token":"TOKENxyz","app_secret":7})", "app_secret"},
        {R"({"phone_number_id":"1","access_token":"TOKENxyz","verify_token":"SECRET xyz"})", "verify_token"},
        {R"({"phone_number_id":"1","access_token":"TOKENxyz","api_base":"ftp://x"})", "api_base"},
        {R"({"phone_number_id":"1","access_token":"TOKENxyz","api_base":"https://a b"})", "api_base"},
        {R"({"phone_number_id":"1","access_token":"TOKENxyz","waba_id":"abc"})", "waba_id"},
        {R"({"phone_number_id":"1","access_token":"TOKENxyz","acces_token":"SECRETxyz"})", "acces_token"},
    };
    for (const BadConfig& c : cases) {
        auto opened = library_->open(c.settings);
        EXPECT_EQ(opened.status, SB_E_INVALID) << c.settings;
        EXPECT_EQ(opened.instance, nullptr);
        EXPECT_NE(opened.error.find(c.names), std::string::npos) << c.settings << " -> " << opened.error;
        for (const char* secret : {"TOKENxyz", "SECRETxyz", "SECRET xyz"}) {
            EXPECT_EQ(opened.error.find(secret), std::string::npos) << opened.error;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// verify

TEST_F(WhatsAppPlugin, AnswersSubscriptionHandshakeWithTheChallenge) {
    auto v = instance_->verify(
        "GET", "/webhooks/wa?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verifyTOKENxyz", {},
        "");
    EXPECT_EQ(v.verdict, SB_VERIFY_RESPONDED);
    ASSERT_TRUE(v.response.has_value());
    EXPECT_EQ(v.response->status, 200);
    EXPECT_EQ(v.response->content_type, "text/plain");
    EXPECT_EQ(v.response->body, "1158201444");
}

TEST_F(WhatsAppPlugin, ForbidsHandshakeWithWrongToken) {
    auto v = instance_->verify("GET", "/w?hub.mode=subscribe&hub.challenge=1&hub.verify_token=verifyTOKENxy",
                               {}, "");
    EXPECT_EQ(v.verdict, SB_VERIFY_FORBIDDEN);
    EXPECT_FALSE(v.response.has_value());
}

TEST_F(WhatsAppPlugin, AcceptsPostSignedWithTheAppSecret) {
    std::string body = fixture("text.json");
    EXPECT_EQ(instance_->verify("POST", "/w", {{"X-Hub-Signature-256", sign(body)}}, body).verdict,
              SB_VERIFY_ACCEPT);
}

TEST_F(WhatsAppPlugin, RejectsPostWithWrongOrMissingSignature) {
    std::string body = fixture("text.json");
    EXPECT_EQ(instance_->verify("POST", "/w", {{"X-Hub-Signature-256", sign(body, "other")}}, body).verdict,
              SB_VERIFY_UNAUTHORIZED);
    EXPECT_EQ(instance_->verify("POST", "/w", {}, body).verdict, SB_VERIFY_UNAUTHORIZED);
    EXPECT_EQ(instance_->verify("POST", "/w", {{"X-Hub-Signature-256", "sha256=nothex"}}, body).verdict,
              SB_VERIFY_UNAUTHORIZED);
    EXPECT_EQ(instance_->verify("POST", "/w", {{"X-Hub-Signature-256", sign(body)}}, body + " ").verdict,
              SB_VERIFY_UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// parse: messages

TEST_F(WhatsAppPlugin, NormalizesTextMessage) {
    Json e = parse_fixture("text");
    expect_from_customer(e);
    EXPECT_EQ(e.str("/id"), wamid(1));
    EXPECT_EQ(e.integer("/timestamp_ms"), 1732540000000);
    EXPECT_EQ(e.str("/content/type"), "text");
    EXPECT_EQ(e.str("/content/text"), "Hello, my order has not arrived");
    EXPECT_FALSE(e.has("/reply_to"));
    EXPECT_FALSE(e.has("/raw"));
}

TEST_F(WhatsAppPlugin, NormalizesImageWithCaptionKeepingMediaId) {
    Json e = parse_fixture("image_with_caption");
    expect_from_customer(e);
    EXPECT_EQ(e.str("/id"), wamid(2));
    EXPECT_EQ(e.str("/content/type"), "image");
    EXPECT_EQ(e.str("/content/media/id"), "1003383421387256");
    EXPECT_EQ(e.str("/content/media/mime"), "image/jpeg");
    EXPECT_EQ(e.str("/content/caption"), "The parcel as delivered");
}

TEST_F(WhatsAppPlugin, NormalizesVoiceNoteAsVoice) {
    Json e = parse_fixture("audio_voice");
    EXPECT_EQ(e.str("/content/type"), "voice");
    EXPECT_EQ(e.str("/content/media/id"), "1468624360545221");
    EXPECT_EQ(e.str("/content/media/mime"), "audio/ogg; codecs=opus");
}

TEST_F(WhatsAppPlugin, NormalizesAudioFileAsAudio) {
    Json e = parse_fixture("audio_file");
    EXPECT_EQ(e.str("/content/type"), "audio");
    EXPECT_EQ(e.str("/content/media/id"), "1468624360545299");
}

TEST_F(WhatsAppPlugin, NormalizesVideo) {
    Json e = parse_fixture("video");
    expect_from_customer(e);
    EXPECT_EQ(e.str("/content/type"), "video");
    EXPECT_EQ(e.str("/content/media/id"), "1527347661368384");
    EXPECT_EQ(e.str("/content/media/mime"), "video/mp4");
    EXPECT_FALSE(e.has("/content/caption"));
}

TEST_F(WhatsAppPlugin, NormalizesDocumentWithFileNameAndCaption) {
    Json e = parse_fixture("document");
    EXPECT_EQ(e.str("/content/type"), "document");
    EXPECT_EQ(e.str("/content/media/id"), "1042373487134987");
    EXPECT_EQ(e.str("/content/media/mime"), "application/pdf");
    EXPECT_EQ(e.str("/content/media/file_name"), "invoice-2024-11.pdf");
    EXPECT_EQ(e.str("/content/caption"), "Invoice");
}

TEST_F(WhatsAppPlugin, NormalizesSticker) {
    Json e = parse_fixture("sticker");
    EXPECT_EQ(e.str("/content/type"), "sticker");
    EXPECT_EQ(e.str("/content/media/id"), "1280467132701338");
    EXPECT_EQ(e.str("/content/media/mime"), "image/webp");
}

TEST_F(WhatsAppPlugin, NormalizesLocationWithNameAndAddress) {
    Json e = parse_fixture("location");
    EXPECT_EQ(e.str("/content/type"), "location");
    EXPECT_DOUBLE_EQ(e.number("/content/latitude"), 37.4843659);
    EXPECT_DOUBLE_EQ(e.number("/content/longitude"), -122.1484376);
    EXPECT_EQ(e.str("/content/name"), "Meta Headquarters");
    EXPECT_EQ(e.str("/content/address"), "1 Hacker Way, Menlo Park, CA 94025");
}

TEST_F(WhatsAppPlugin, NormalizesEverySharedContact) {
    Json e = parse_fixture("contacts");
    EXPECT_EQ(e.str("/content/type"), "contact");
    EXPECT_EQ(e.str("/content/name"), "Ada Lovelace");  // the first card, for readers of one
    EXPECT_EQ(e.str("/content/phone"), "+44 20 7946 0958");
    EXPECT_EQ(e.str("/content/user_id"), "442079460958");
    EXPECT_EQ(e.str("/content/contacts/0/name"), "Ada Lovelace");
    EXPECT_EQ(e.str("/content/contacts/1/name"), "Charles Babbage");
    EXPECT_FALSE(e.has("/raw"));
}

TEST_F(WhatsAppPlugin, NormalizesButtonReplyAsInteractiveWithReplyTo) {
    Json e = parse_fixture("interactive_button_reply");
    expect_from_customer(e);
    EXPECT_EQ(e.str("/content/type"), "interactive");
    EXPECT_EQ(e.str("/content/reply_id"), "track-order");
    EXPECT_EQ(e.str("/content/title"), "Track my order");
    EXPECT_EQ(e.str("/reply_to"), wamid(90));
}

TEST_F(WhatsAppPlugin, NormalizesListReplyAsInteractive) {
    Json e = parse_fixture("interactive_list_reply");
    EXPECT_EQ(e.str("/content/type"), "interactive");
    EXPECT_EQ(e.str("/content/reply_id"), "refund");
    EXPECT_EQ(e.str("/content/title"), "Refund");
    EXPECT_EQ(e.str("/content/description"), "Get your money back");
    EXPECT_EQ(e.str("/reply_to"), wamid(91));
}

TEST_F(WhatsAppPlugin, NormalizesTemplateQuickReplyButtonAsInteractive) {
    Json e = parse_fixture("button");
    EXPECT_EQ(e.str("/content/type"), "interactive");
    EXPECT_EQ(e.str("/content/reply_id"), "STOP_PROMOTIONS");
    EXPECT_EQ(e.str("/content/title"), "Stop promotions");
    EXPECT_EQ(e.str("/reply_to"), wamid(92));
}

TEST_F(WhatsAppPlugin, NormalizesReactionAsReactionEventOnTheReactedMessage) {
    Json e = parse_fixture("reaction");
    expect_from_customer(e, "reaction");
    EXPECT_EQ(e.str("/id"), wamid(93));
    EXPECT_EQ(e.str("/emoji"), "\xF0\x9F\x91\x8D");
    EXPECT_EQ(e.integer("/timestamp_ms"), 1732540000000);
    EXPECT_FALSE(e.has("/content"));
}

TEST_F(WhatsAppPlugin, NormalizesReactionWithoutEmojiAsRemoval) {
    Json e = parse_fixture("reaction_removed");
    EXPECT_EQ(e.str("/type"), "reaction");
    EXPECT_EQ(e.str("/id"), wamid(93));
    EXPECT_EQ(e.str("/emoji"), "");
}

TEST_F(WhatsAppPlugin, CarriesReplyContextAsReplyTo) {
    Json e = parse_fixture("reply_with_context");
    EXPECT_EQ(e.str("/reply_to"), wamid(94));
    EXPECT_EQ(e.str("/content/text"), "Yes, that one");
}

TEST_F(WhatsAppPlugin, ForwardedContextIsNotAReplyButSaysForwarded) {
    Json e = parse_fixture("forwarded");
    EXPECT_FALSE(e.has("/reply_to"));
    EXPECT_EQ(e.str("/content/text"), "Look at this");
    EXPECT_TRUE(e.has("/content/forwarded"));
    EXPECT_FALSE(e.has("/content/forwarded/frequently"));
    Json often = parse_fixture("frequently_forwarded");
    EXPECT_TRUE(often.boolean("/content/forwarded/frequently"));
}

TEST_F(WhatsAppPlugin, ClickToWhatsAppAdReferralTravelsWithTheFirstMessage) {
    Json e = parse_fixture("referral_ad");
    EXPECT_EQ(e.str("/content/type"), "text");
    EXPECT_EQ(e.str("/content/referral/headline"), "Winter jackets -30%");
    EXPECT_EQ(e.str("/content/referral/source_url"), "https://fb.me/3cr4Wqqkv");
    EXPECT_EQ(e.str("/content/referral/source_id"), "120212345678900123");
    EXPECT_EQ(e.str("/content/referral/source_type"), "ad");
    EXPECT_EQ(e.str("/content/referral/media_type"), "image");
}

TEST_F(WhatsAppPlugin, EditsOfTextAndCaptionsEditTheStoredMessage) {
    Json text = parse_fixture("edit_text");
    EXPECT_EQ(text.str("/type"), "edit");
    EXPECT_EQ(text.str("/id"), "wamid.HBgLMTYzMTU1NTEyMzQVAgARGBJPUklHMDAwMDAwMDAwMDAwMQA=");  // the original
    EXPECT_EQ(text.str("/content/type"), "text");
    EXPECT_EQ(text.str("/content/text"), "My order number is B-1042, not B-1024");
    EXPECT_EQ(text.integer("/edited_at_ms"), 1732540100000);
    EXPECT_EQ(text.str("/sender/id"), "16315551234");
    Json caption = parse_fixture("edit_caption");
    EXPECT_EQ(caption.str("/type"), "edit");
    EXPECT_EQ(caption.str("/content/type"), "image");
    EXPECT_EQ(caption.str("/content/caption"), "The receipt, second page");
    EXPECT_EQ(caption.str("/content/media/id"), "1299561914385925");
}

TEST_F(WhatsAppPlugin, ARevokeMarksTheOriginalDeletedInsteadOfAddingAMessage) {
    Json e = parse_fixture("revoke");
    EXPECT_EQ(e.str("/type"), "edit");
    EXPECT_EQ(e.str("/id"), "wamid.HBgLMTYzMTU1NTEyMzQVAgARGBJPUklHMDAwMDAwMDAwMDAwMQA=");
    EXPECT_EQ(e.str("/content/type"), "deleted");
    EXPECT_EQ(e.integer("/edited_at_ms"), 1732540400000);
}

TEST_F(WhatsAppPlugin, ANumberChangeIsASystemNoticeNamingTheNewNumber) {
    Json e = parse_fixture("system_changed_number");
    EXPECT_EQ(e.str("/type"), "message");
    EXPECT_EQ(e.str("/content/type"), "system");
    EXPECT_EQ(e.str("/content/code"), "user_changed_number");
    EXPECT_NE(e.str("/content/text").find("changed their phone number"), std::string::npos);
    EXPECT_EQ(e.str("/content/new_wa_id"), "16315559876");
    EXPECT_FALSE(e.has("/raw"));
    // The notice stays in the old conversation; the contact's phone becomes the new number.
    EXPECT_EQ(e.str("/conversation/id"), "16315551234");
    EXPECT_EQ(e.str("/sender/id"), "16315551234");
    EXPECT_EQ(e.str("/sender/phone"), "16315559876");
}

TEST_F(WhatsAppPlugin, ASecurityCodeChangeIsASystemNotice) {
    Json e = parse_fixture("system_identity_changed");
    EXPECT_EQ(e.str("/type"), "message");
    EXPECT_EQ(e.str("/content/type"), "system");
    EXPECT_EQ(e.str("/content/code"), "customer_identity_changed");
    EXPECT_EQ(e.str("/content/text"), "User A's security code changed.");
    EXPECT_EQ(e.str("/sender/phone"), "16315551234");  // no new number: the phone stays
}

TEST_F(WhatsAppPlugin, BusinessAppEchoesAreStoredAsOutboundMessages) {
    Json e = parse_fixture("smb_message_echo");
    EXPECT_EQ(e.str("/type"), "message");
    EXPECT_EQ(e.str("/direction"), "out");
    EXPECT_EQ(e.str("/conversation/id"), "16315551234");  // the customer's wa_id, without '+'
    EXPECT_EQ(e.str("/account_id"), "106540352242922");
    EXPECT_EQ(e.str("/content/text"), "Hi Kerry, this is Sam from the shop: your jacket ships today.");
    EXPECT_EQ(e.integer("/timestamp_ms"), 1732540200000);
}

TEST_F(WhatsAppPlugin, KeepsTheMediaUrlWhenThePayloadCarriesOne) {
    Json e = parse_fixture("image_with_url");
    EXPECT_EQ(e.str("/content/media/id"), "1299561914385926");
    EXPECT_EQ(e.str("/content/media/url").rfind("https://lookaside.fbsbx.com/", 0), 0u);
}

TEST_F(WhatsAppPlugin, KeepsUnsupportedMessageWithRawJson) {
    Json e = parse_fixture("unsupported");
    expect_from_customer(e);
    EXPECT_EQ(e.str("/id"), wamid(16));
    EXPECT_EQ(e.str("/content/type"), "unsupported");
    EXPECT_EQ(e.str("/content/platform_type"), "unsupported");
    EXPECT_EQ(e.integer("/raw/errors/0/code"), 131051);
    EXPECT_EQ(e.str("/raw/id"), wamid(16));
}

TEST_F(WhatsAppPlugin, NormalizesCatalogOrdersWithEveryItem) {
    Json order = parse_fixture("order");
    EXPECT_EQ(order.str("/content/type"), "order");
    EXPECT_EQ(order.str("/content/catalog_id"), "978469630");
    EXPECT_EQ(order.str("/content/text"), "Please deliver tomorrow");
    EXPECT_EQ(order.str("/content/items/0/product_id"), "sku-1");
    EXPECT_EQ(order.integer("/content/items/0/quantity"), 2);
    EXPECT_DOUBLE_EQ(order.number("/content/items/0/price"), 9.99);
    EXPECT_EQ(order.str("/content/items/0/currency"), "USD");
    EXPECT_EQ(order.str("/content/items/1/product_id"), "sku-7");
    EXPECT_FALSE(order.has("/raw"));
}

TEST_F(WhatsAppPlugin, NormalizesAFlowsAnswerAsFormFieldsWithoutTheFlowToken) {
    Json flow = parse_fixture("interactive_nfm_reply");
    EXPECT_EQ(flow.str("/content/type"), "form_reply");
    EXPECT_EQ(flow.str("/content/name"), "flow");
    EXPECT_EQ(flow.str("/content/body"), "Sent");
    EXPECT_EQ(flow.str("/content/fields/comment_text"), "The courier was early");
    EXPECT_EQ(flow.str("/content/fields/delivery_rating"), "4");
    EXPECT_TRUE(flow.boolean("/content/fields/wants_callback"));
    EXPECT_FALSE(flow.has("/content/fields/flow_token"));
}

TEST_F(WhatsAppPlugin, AFlowAnswerThatIsNotJsonStaysUnsupported) {
    std::string body = fixture("interactive_nfm_reply.json");
    auto at = body.find("\"response_json\": ");
    ASSERT_NE(at, std::string::npos);
    auto end = body.find('\n', at);
    body.replace(at, end - at, "\"response_json\": \"{not json\"");
    Json e = parse_one(body);
    EXPECT_EQ(e.str("/content/type"), "unsupported");
    EXPECT_EQ(e.str("/content/platform_type"), "interactive.nfm_reply");
}

TEST_F(WhatsAppPlugin, KeysConversationOnBsuidWhenNoPhoneIsGiven) {
    Json e = parse_fixture("bsuid_without_phone");
    EXPECT_EQ(e.str("/conversation/id"), "BR.1502576394655843");
    EXPECT_EQ(e.str("/sender/id"), "BR.1502576394655843");
    EXPECT_EQ(e.str("/sender/name"), "Bruno");
    EXPECT_FALSE(e.has("/sender/phone"));
    EXPECT_EQ(e.integer("/timestamp_ms"), 1775000000000);
}

TEST_F(WhatsAppPlugin, KeysConversationOnPhoneWhenBothPhoneAndBsuidAreGiven) {
    // The send API addresses phones; keying on the phone keeps replies sendable.
    Json e = parse_fixture("bsuid_with_phone");
    EXPECT_EQ(e.str("/conversation/id"), kCustomer);
    EXPECT_EQ(e.str("/sender/phone"), kCustomer);
}

TEST_F(WhatsAppPlugin, LogsValueLevelErrorsAndKeepsTheMessage) {
    EventsResult result = instance_->parse(fixture("value_errors.json"));
    ASSERT_EQ(result.status, SB_OK) << result.error;
    ASSERT_EQ(result.events.size(), 1u);
    Json e(result.events[0]);
    EXPECT_EQ(e.str("/content/type"), "unsupported");
    EXPECT_EQ(e.str("/content/platform_type"), "interactive");
    bool logged = false;
    for (const auto& line : instance_->logs()) {
        if (line.level == SB_LOG_WARN && line.message.find("131000") != std::string::npos &&
            line.message.find("Unsupported webhook payload") != std::string::npos)
            logged = true;
    }
    EXPECT_TRUE(logged);
}

// ---------------------------------------------------------------------------------------------
// parse: statuses

TEST_F(WhatsAppPlugin, NormalizesSentDeliveredAndReadStatuses) {
    const struct {
        const char* fixture;
        const char* status;
        std::int64_t at_ms;
    } cases[] = {{"statuses_sent", "sent", 1732540100000},
                 {"statuses_delivered", "delivered", 1732540101000},
                 {"statuses_read", "read", 1732540160000}};
    for (const auto& c : cases) {
        Json e = parse_fixture(c.fixture);
        EXPECT_EQ(e.str("/type"), "status") << c.fixture;
        EXPECT_EQ(e.str("/id"), wamid(50));
        EXPECT_EQ(e.str("/status"), c.status);
        EXPECT_EQ(e.integer("/timestamp_ms"), c.at_ms);
        EXPECT_EQ(e.str("/account_id"), kPhoneNumberId);
        EXPECT_EQ(e.str("/conversation/id"), kCustomer);
        EXPECT_FALSE(e.has("/error"));
        EXPECT_FALSE(e.has("/sender"));
    }
}

TEST_F(WhatsAppPlugin, NormalizesFailedStatusWithCodeAndTitle) {
    Json e = parse_fixture("statuses_failed");
    EXPECT_EQ(e.str("/type"), "status");
    EXPECT_EQ(e.str("/id"), wamid(51));
    EXPECT_EQ(e.str("/status"), "failed");
    EXPECT_EQ(e.str("/error/code"), "131047");
    EXPECT_EQ(
        e.str("/error/message"),
        "Re-engagement message: Message failed to send because more than 24 hours have passed since the "
        "customer last replied to this number.");
}

TEST_F(WhatsAppPlugin, SkipsStatusValuesOutsideTheNormalizedSet) {
    auto events = parse_all(fixture("statuses_unknown_value.json"));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].str("/type"), "ignored");  // "deleted": counted, not a status
    EXPECT_EQ(events[0].str("/kind"), "status.deleted");
    EXPECT_EQ(events[1].str("/status"), "read");
    EXPECT_EQ(events[1].str("/id"), wamid(53));
}

// ---------------------------------------------------------------------------------------------
// parse: batches and routing

TEST_F(WhatsAppPlugin, SplitsMultiEntryBatchIntoOneEventPerItemInOrder) {
    auto events = parse_all(fixture("multi_entry_batch.json"));
    ASSERT_EQ(events.size(), 6u);
    EXPECT_EQ(events[5].str("/type"), "ignored");  // the batch's account_update change
    EXPECT_EQ(events[5].str("/kind"), "account_update");
    events.pop_back();
    EXPECT_EQ(events[0].str("/id"), wamid(60));
    EXPECT_EQ(events[0].str("/content/text"), "first");
    EXPECT_EQ(events[0].integer("/timestamp_ms"), 1732540001000);
    EXPECT_EQ(events[1].str("/id"), wamid(61));
    EXPECT_EQ(events[1].str("/content/text"), "second");
    EXPECT_EQ(events[2].str("/type"), "status");
    EXPECT_EQ(events[2].str("/status"), "delivered");
    EXPECT_EQ(events[3].str("/id"), wamid(54));
    EXPECT_EQ(events[3].str("/status"), "read");
    EXPECT_EQ(events[4].str("/id"), wamid(62));
    EXPECT_EQ(events[4].str("/content/type"), "image");
    EXPECT_EQ(events[4].str("/sender/name"), "Grace Hopper");
    EXPECT_EQ(events[4].str("/conversation/id"), "447700900123");
    for (const Json& e : events) EXPECT_EQ(e.str("/account_id"), kPhoneNumberId);
}

TEST_F(WhatsAppPlugin, NamesTheReceivingNumberOfEachEventAsAccountId) {
    auto events = parse_all(fixture("two_phone_numbers.json"));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].str("/account_id"), kPhoneNumberId);
    EXPECT_EQ(events[0].str("/content/text"), "to the sales number");
    EXPECT_EQ(events[1].str("/account_id"), "109876543210987");
    EXPECT_EQ(events[1].str("/sender/name"), "Grace Hopper");
}

TEST_F(WhatsAppPlugin, IgnoresOtherWebhookFieldsAndSaysSo) {
    EventsResult result = instance_->parse(fixture("account_update.json"));
    EXPECT_EQ(result.status, SB_OK) << result.error;
    ASSERT_EQ(result.events.size(), 1u);
    Json e(result.events[0]);
    EXPECT_EQ(e.str("/type"), "ignored");  // counted by the host, never a message
    EXPECT_EQ(e.str("/kind"), "account_update");
}

// Every messages[].type WhatsApp documents (platforms.md §2.4) lands in one place: content an
// agent can read, a notice, an edit, or a reaction; only WhatsApp's own `unsupported` (a kind
// WhatsApp itself cannot deliver) stays unsupported, with raw.
TEST_F(WhatsAppPlugin, EveryDocumentedMessageTypeHasAPlace) {
    const std::pair<const char*, const char*> fixtures[] = {{"text", "text"},
                                                            {"image_with_caption", "image"},
                                                            {"video", "video"},
                                                            {"audio_voice", "voice"},
                                                            {"audio_file", "audio"},
                                                            {"document", "document"},
                                                            {"sticker", "sticker"},
                                                            {"location", "location"},
                                                            {"contacts", "contact"},
                                                            {"interactive_button_reply", "interactive"},
                                                            {"interactive_list_reply", "interactive"},
                                                            {"interactive_nfm_reply", "form_reply"},
                                                            {"button", "interactive"},
                                                            {"order", "order"},
                                                            {"system_changed_number", "system"},
                                                            {"system_identity_changed", "system"},
                                                            {"edit_text", "text"},
                                                            {"revoke", "deleted"},
                                                            {"referral_ad", "text"}};
    for (auto [name, content] : fixtures) {
        Json e = parse_fixture(name);
        EXPECT_EQ(e.str("/content/type"), content) << name;
    }
    Json welcome =
        parse_one(R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":)"
                  R"("messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":)"
                  R"("106540352242922"},"messages":[{"from":"16315551234","id":"wamid.W",)"
                  R"("timestamp":"1732540000","type":"request_welcome"}]}}]}]})");
    EXPECT_EQ(welcome.str("/content/type"), "system");
    EXPECT_EQ(welcome.str("/content/code"), "chat_opened");
    EXPECT_EQ(parse_fixture("reaction").str("/type"), "reaction");
    EXPECT_EQ(parse_fixture("unsupported").str("/content/type"), "unsupported");
}

TEST_F(WhatsAppPlugin, RejectsOtherProductsWebhook) {
    EventsResult result = instance_->parse(fixture("wrong_object_page.json"));
    EXPECT_EQ(result.status, SB_E_INVALID);
    EXPECT_NE(result.error.find("whatsapp_business_account"), std::string::npos);
}

TEST_F(WhatsAppPlugin, RejectsBodiesMissingWhatEveryEventNeeds) {
    const char* bodies[] = {
        // no entry
        R"({"object":"whatsapp_business_account"})",
        // no phone_number_id
        R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[]}}]}]})",
        // message without id
        R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"from":"1","timestamp":"1","type":"text","text":{"body":"x"}}]}}]}]})",
        // message with a non-numeric timestamp
        R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"from":"1","id":"w","timestamp":"soon","type":"text","text":{"body":"x"}}]}}]}]})",
        // message naming no sender at all
        R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"id":"w","timestamp":"1","type":"text","text":{"body":"x"}}]}}]}]})",
    };
    for (const char* body : bodies) {
        EventsResult result = instance_->parse(body);
        EXPECT_EQ(result.status, SB_E_INVALID) << body;
        EXPECT_FALSE(result.error.empty());
        EXPECT_TRUE(result.events.empty());
    }
}

TEST_F(WhatsAppPlugin, SurvivesHostileBodies) {
    std::string deep = R"({"object":"whatsapp_business_account","entry":)" + std::string(200000, '[');
    std::string huge_text =
        R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"contacts":[{"wa_id":"1"}],"messages":[{"from":"1","id":"w","timestamp":"1","type":"text","text":{"body":")" +
        std::string(4 << 20, 'a') + R"("}}]}}]}]})";
    std::string full = fixture("multi_entry_batch.json");
    const std::string bodies[] = {
        "",
        "{",
        full.substr(0, full.size() / 2),
        deep,
        "\xff\xfe{}",
        R"({"object":"whatsapp_business_account","entry":"x"})",
        R"({"object":"whatsapp_business_account","entry":[1,2]})",
        R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":[]}]}]})",
        R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"contacts":"x","messages":[{"from":"1","id":"w","timestamp":"1","type":"image","image":"x"},{"from":"1","id":"v","timestamp":"1","type":"location","location":{"latitude":"n"}},{"from":"1","id":"u","timestamp":"1","type":"contacts","contacts":[]},{"from":"1","id":"t","timestamp":"1","type":7}],"statuses":[{"id":"s","status":"failed","timestamp":"1","errors":[7]}]}}]}]})",
        R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"from":"1","id":"w","timestamp":"99999999999999999999","type":"text"}]}}]}]})",
        R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"statuses":["x"]}}]}]})",
        huge_text,
    };
    for (const std::string& body : bodies) {
        EventsResult result = instance_->parse(body);
        EXPECT_TRUE(result.status == SB_OK || result.status == SB_E_INVALID) << body.substr(0, 200);
        for (const std::string& event : result.events) EXPECT_NO_THROW(Json{event});
    }
}

TEST_F(WhatsAppPlugin, TurnsIncompleteContentIntoUnsupportedInsteadOfFailingTheBatch) {
    std::string body =
        R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"contacts":[{"wa_id":"5"}],"messages":[{"from":"5","id":"w1","timestamp":"1","type":"image","image":{"mime_type":"image/png"}},{"from":"5","id":"w2","timestamp":"1","type":"reaction","reaction":{"emoji":"x"}}]}}]}]})";
    auto events = parse_all(body);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].str("/content/platform_type"), "image");
    EXPECT_EQ(events[1].str("/type"), "message");
    EXPECT_EQ(events[1].str("/content/platform_type"), "reaction");
}

// ---------------------------------------------------------------------------------------------
// build_send

TEST_F(WhatsAppPlugin, BuildsTextSend) {
    EXPECT_EQ(
        send_body(kTextOut),
        R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551234","type":"text",)"
        R"("text":{"body":"Hi","preview_url":false}})");
}

TEST_F(WhatsAppPlugin, BuildsTextReplyWithContextAndPrefersRecipientId) {
    EXPECT_EQ(
        send_body(R"({"v":1,"conversation":{"id":"16315551234"},"recipient":{"id":"+447700900123"},)"
                  R"("reply_to":"wamid.ABC","content":{"type":"text","text":"Sure"}})"),
        R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"+447700900123",)"
        R"("context":{"message_id":"wamid.ABC"},"type":"text","text":{"body":"Sure","preview_url":false}})");
}

TEST_F(WhatsAppPlugin, BuildsMediaSendsByLink) {
    EXPECT_EQ(
        send_body(R"({"v":1,"conversation":{"id":"16315551234"},"content":{"type":"image",)"
                  R"("url":"https://example.org/a.jpg","caption":"Your parcel"}})"),
        R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551234","type":"image",)"
        R"("image":{"link":"https://example.org/a.jpg","caption":"Your parcel"}})");
    EXPECT_EQ(
        send_body(R"({"v":1,"conversation":{"id":"16315551234"},"content":{"type":"document",)"
                  R"("url":"https://example.org/i.pdf","caption":"Invoice","file_name":"invoice.pdf"}})"),
        R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551234",)"
        R"("type":"document","document":{"link":"https://example.org/i.pdf","caption":"Invoice",)"
        R"("filename":"invoice.pdf"}})");
    EXPECT_EQ(
        send_body(R"({"v":1,"conversation":{"id":"16315551234"},"content":{"type":"audio",)"
                  R"("url":"https://example.org/a.ogg"}})"),
        R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551234","type":"audio",)"
        R"("audio":{"link":"https://example.org/a.ogg"}})");
    EXPECT_EQ(
        send_body(R"({"v":1,"conversation":{"id":"16315551234"},"reply_to":"wamid.Q",)"
                  R"("content":{"type":"video","url":"http://example.org/v.mp4"}})"),
        R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551234",)"
        R"("context":{"message_id":"wamid.Q"},"type":"video","video":{"link":"http://example.org/v.mp4"}})");
}

TEST_F(WhatsAppPlugin, BuildsTemplateSendWithComponentsVerbatim) {
    EXPECT_EQ(send_body(R"({"v":1,"conversation":{"id":"16315551234"},"content":{"type":"template",)"
                        R"("name":"order_update","language":"en_US","components":[{"type":"body",)"
                        R"("parameters":[{"type":"text","text":"#1234"}]}]}})"),
              R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551234",)"
              R"("type":"template","template":{"name":"order_update","language":{"code":"en_US"},)"
              R"("components":[{"type":"body","parameters":[{"type":"text","text":"#1234"}]}]}})");
    EXPECT_EQ(send_body(R"({"v":1,"conversation":{"id":"16315551234"},"content":{"type":"template",)"
                        R"("name":"hello_world","language":{"code":"en_US"}}})"),
              R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551234",)"
              R"("type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}})");
}

TEST_F(WhatsAppPlugin, BuildsMarkReadAndTypingAsReadReceipts) {
    EXPECT_EQ(
        send_body(
            R"({"v":1,"conversation":{"id":"16315551234"},"content":{"type":"mark_read","id":"wamid.IN"}})"),
        R"({"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN"})");
    EXPECT_EQ(
        send_body(R"({"v":1,"conversation":{"id":"16315551234"},"content":{"type":"typing","state":"on",)"
                  R"("message_id":"wamid.IN"}})"),
        R"({"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN",)"
        R"("typing_indicator":{"type":"text"}})");
}

TEST_F(WhatsAppPlugin, RefusesTypingWithoutAMessageIdOrOff) {
    for (
        const char* out :
        {R"({"v":1,"conversation":{"id":"1"},"content":{"type":"typing","state":"on"}})",
         R"({"v":1,"conversation":{"id":"1"},"content":{"type":"typing","state":"off","message_id":"w"}})"}) {
        RequestResult result = send(out);
        EXPECT_EQ(result.status, SB_E_UNSUPPORTED) << out;
        EXPECT_FALSE(result.request.has_value());
        EXPECT_FALSE(result.error.empty());
    }
}

TEST_F(WhatsAppPlugin, AcceptsTextOf4096CharactersAndRefusesLonger) {
    std::string ok_text;
    for (int i = 0; i < 4096; ++i) ok_text += "\xC3\xA9";  // 4096 characters, 8192 bytes
    std::string out = R"({"v":1,"conversation":{"id":"1"},"content":{"type":"text","text":")";
    EXPECT_EQ(send(out + ok_text + "\"}}").status, SB_OK);
    RequestResult result = send(out + ok_text + "x\"}}");
    EXPECT_EQ(result.status, SB_E_INVALID);
    EXPECT_NE(result.error.find("4096"), std::string::npos);
}

TEST_F(WhatsAppPlugin, RefusesSendsItCannotMake) {
    const struct {
        const char* outbound;
        sb_status status;
    } cases[] = {
        {"not json", SB_E_INVALID},
        {R"({"v":2,"conversation":{"id":"1"},"content":{"type":"text","text":"x"}})", SB_E_INVALID},
        {R"({"v":1,"content":{"type":"text","text":"x"}})", SB_E_INVALID},
        {R"({"v":1,"conversation":{"id":"1"}})", SB_E_INVALID},
        {R"({"v":1,"conversation":{"id":"1"},"content":{"type":"text","text":""}})", SB_E_INVALID},
        {R"({"v":1,"conversation":{"id":"1"},"content":{"type":"text","text":5}})", SB_E_INVALID},
        {R"({"v":1,"conversation":{"id":"not a phone"},"content":{"type":"text","text":"x"}})", SB_E_INVALID},
        {R"({"v":1,"conversation":{"id":"1"},"reply_to":7,"content":{"type":"text","text":"x"}})",
         SB_E_INVALID},
        {R"({"v":1,"conversation":{"id":"1"},"content":{"type":"image"}})", SB_E_INVALID},
        {R"({"v":1,"conversation":{"id":"1"},"content":{"type":"image","url":"file:///etc/passwd"}})",
         SB_E_INVALID},
        {R"({"v":1,"conversation":{"id":"1"},"content":{"type":"template","language":"en"}})", SB_E_INVALID},
        {R"({"v":1,"conversation":{"id":"1"},"content":{"type":"template","name":"t"}})", SB_E_INVALID},
        {R"({"v":1,"conversation":{"id":"1"},"content":{"type":"template","name":"t","language":"en","components":{}}})",
         SB_E_INVALID},
        {R"({"v":1,"conversation":{"id":"1"},"content":{"type":"mark_read"}})", SB_E_INVALID},
        {R"({"v":1,"conversation":{"id":"1"},"content":{"type":"sticker","url":"https://x/y.webp"}})",
         SB_E_UNSUPPORTED},
        {R"({"v":1,"conversation":{"id":"1"},"content":{"type":"location","latitude":1,"longitude":2}})",
         SB_E_UNSUPPORTED},
        {R"({"v":1,"conversation":{"id":"1"},"content":{"type":"audio","url":"https://x/a.ogg","caption":"c"}})",
         SB_E_UNSUPPORTED},
        {R"({"v":1,"conversation":{"id":"BR.1502576394655843"},"content":{"type":"text","text":"x"}})",
         SB_E_UNSUPPORTED},
    };
    for (const auto& c : cases) {
        RequestResult result = send(c.outbound);
        EXPECT_EQ(result.status, c.status) << c.outbound << " -> " << result.error;
        EXPECT_FALSE(result.request.has_value());
        EXPECT_FALSE(result.error.empty());
        EXPECT_EQ(result.error.find(kToken), std::string::npos);
    }
}

// ---------------------------------------------------------------------------------------------
// classify_send

TEST_F(WhatsAppPlugin, ClassifiesAcceptedSendWithTheWamid) {
    for (const char* name : {"send_ok.json", "send_ok_template.json"}) {
        sb_send_result r = classify(kTextOut, 200, fixture(name));
        EXPECT_EQ(r.send_class, SB_SEND_OK) << name;
        EXPECT_EQ(std::string(r.platform_id).rfind("wamid.HBgLMTYzMTU1NTEyMzQVAgARGB", 0), 0u)
            << r.platform_id;
        EXPECT_STREQ(r.platform_code, "");
    }
    EXPECT_STREQ(classify(kTextOut, 200, fixture("send_ok.json")).platform_id,
                 "wamid.HBgLMTYzMTU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA");
}

TEST_F(WhatsAppPlugin, ClassifiesReadReceiptSuccessWithoutId) {
    const std::string mark =
        R"({"v":1,"conversation":{"id":"1"},"content":{"type":"mark_read","id":"wamid.IN"}})";
    sb_send_result r = classify(mark, 200, fixture("mark_read_ok.json"));
    EXPECT_EQ(r.send_class, SB_SEND_OK);
    EXPECT_STREQ(r.platform_id, "");
    // A message send answered with only {"success":true} did not produce a message.
    EXPECT_EQ(classify(kTextOut, 200, fixture("mark_read_ok.json")).send_class, SB_SEND_RETRYABLE);
}

TEST_F(WhatsAppPlugin, ClassifiesEachGraphErrorClass) {
    const struct {
        const char* fixture;
        int http;
        int expected;
        const char* code;
    } cases[] = {
        {"error_190_token_expired.json", 401, SB_SEND_AUTH, "190/463"},
        {"error_10_permission.json", 403, SB_SEND_AUTH, "10"},
        {"error_130429_throughput.json", 429, SB_SEND_RATE_LIMITED, "130429"},
        {"error_131056_pair_rate.json", 400, SB_SEND_RATE_LIMITED, "131056"},
        {"error_131047_window.json", 400, SB_SEND_WINDOW_CLOSED, "131047"},
        {"error_131000_generic.json", 500, SB_SEND_RETRYABLE, "131000"},
        {"error_131026_undeliverable.json", 400, SB_SEND_PERMANENT, "131026"},
        {"error_100_invalid_parameter.json", 400, SB_SEND_PERMANENT, "100/2494010"},
        {"error_132001_template_missing.json", 404, SB_SEND_PERMANENT, "132001"},
    };
    for (const auto& c : cases) {
        sb_send_result r = classify(kTextOut, c.http, fixture(c.fixture));
        EXPECT_EQ(r.send_class, c.expected) << c.fixture;
        EXPECT_STREQ(r.platform_code, c.code) << c.fixture;
        EXPECT_STREQ(r.platform_id, "");
        EXPECT_NE(std::string(r.message).find("fbtrace_id AbCdEfGhIjK"), std::string::npos) << r.message;
    }
}

TEST_F(WhatsAppPlugin, TakesRetryAfterForThrottling) {
    sb_send_result r =
        classify(kTextOut, 429, fixture("error_130429_throughput.json"), {{"Retry-After", "12"}});
    EXPECT_EQ(r.send_class, SB_SEND_RATE_LIMITED);
    EXPECT_EQ(r.retry_after_ms, 12000u);
}

TEST_F(WhatsAppPlugin, ClassifiesErrorInA2xxAndNonJson5xxAndTransportFailure) {
    EXPECT_EQ(classify(kTextOut, 200, fixture("error_131047_window.json")).send_class, SB_SEND_WINDOW_CLOSED);
    sb_send_result html = classify(kTextOut, 503, "<html>Service Unavailable</html>");
    EXPECT_EQ(html.send_class, SB_SEND_RETRYABLE);
    EXPECT_STREQ(html.platform_code, "http_503");
    sb_send_result none = classify(kTextOut, 0, "", {}, "timeout after 30000 ms");
    EXPECT_EQ(none.send_class, SB_SEND_RETRYABLE);
    EXPECT_NE(std::string(none.message).find("timeout"), std::string::npos);
}

TEST_F(WhatsAppPlugin, RedactsSecretsQuotedInPlatformErrors) {
    std::string body = std::string(R"({"error":{"message":"Malformed access token )") + kToken +
                       R"(","type":"OAuthException","code":190}})";
    sb_send_result r = classify(kTextOut, 401, body);
    EXPECT_EQ(r.send_class, SB_SEND_AUTH);
    EXPECT_EQ(std::string(r.message).find(kToken), std::string::npos) << r.message;
    EXPECT_NE(std::string(r.message).find("<redacted>"), std::string::npos);
    sb_send_result t = classify(kTextOut, 0, "", {}, std::string("connect failed for token ") + kToken);
    EXPECT_EQ(std::string(t.message).find(kToken), std::string::npos) << t.message;
}

TEST_F(WhatsAppPlugin, ClassifySurvivesHostileResponses) {
    std::string deep(100000, '{');
    for (const std::string& body :
         {std::string(), deep, std::string("\xff"), std::string(R"({"messages":"x"})"),
          std::string(R"({"messages":[{"id":7}]})"), std::string(R"({"messages":[]})"),
          R"({"messages":[{"id":")" + std::string(500, 'w') + "\"}]}"}) {
        sb_send_result r = classify(kTextOut, 200, body);
        EXPECT_GE(r.send_class, SB_SEND_OK);
        EXPECT_LE(r.send_class, SB_SEND_WINDOW_CLOSED);
    }
    EXPECT_EQ(classify("not json", 200, fixture("send_ok.json")).send_class, SB_SEND_OK);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Inbound media (ABI 1.3 fetch_media): GET /{MEDIA_ID} with Bearer → url → GET url with Bearer

namespace {
std::string wa_media(const std::string& state = "", const std::string& extra = "") {
    std::string out =
        R"({"v":1,"content":{"type":"image","media":{"id":"1003383421387256","mime":"image/jpeg")" + extra +
        "}}";
    if (!state.empty()) out += R"(,"state":")" + state + "\"";
    return out + "}";
}
}  // namespace

TEST_F(WhatsAppPlugin, FetchesMediaByIdThenItsUrlWithTheBearerToken) {
    auto first = instance_->fetch_media(wa_media());
    ASSERT_EQ(first.status, SB_OK) << first.error;
    EXPECT_EQ(first.step.action, SB_MEDIA_REQUEST);
    ASSERT_TRUE(first.request);
    EXPECT_EQ(first.request->method, "GET");
    EXPECT_EQ(
        first.request->url,
        std::string("https://graph.facebook.com/v21.0/1003383421387256?phone_number_id=") + kPhoneNumberId);
    EXPECT_EQ(first.request->header("Authorization"), std::string("Bearer ") + kToken);

    const std::string metadata =
        R"({"messaging_product":"whatsapp","url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1003383421387256&ext=1732540300&hash=ATv",)"
        R"("mime_type":"image/jpeg","sha256":"f21576c89573f43bd3915c46d2d76c277a9c06741c99eaf5164be10cd8e3fd18","file_size":"303833","id":"1003383421387256"})";
    auto second = instance_->fetch_media(wa_media(first.state()), 200, metadata);
    ASSERT_EQ(second.status, SB_OK) << second.error;
    EXPECT_EQ(second.step.action, SB_MEDIA_DOWNLOAD);
    ASSERT_TRUE(second.request);
    EXPECT_EQ(second.request->method, "GET");
    EXPECT_EQ(second.request->url,
              "https://lookaside.fbsbx.com/whatsapp_business/attachments/"
              "?mid=1003383421387256&ext=1732540300&hash=ATv");
    EXPECT_EQ(second.request->header("Authorization"), std::string("Bearer ") + kToken);
    EXPECT_EQ(second.step.expected_size, 303833);  // file_size arrives as a string
    EXPECT_STREQ(second.step.sha256, "f21576c89573f43bd3915c46d2d76c277a9c06741c99eaf5164be10cd8e3fd18");
    EXPECT_STREQ(second.step.mime_type, "image/jpeg");
    EXPECT_EQ(second.step.max_bytes, 100LL * 1024 * 1024);
}

TEST_F(WhatsAppPlugin, TheWebhooksBase64DigestIsTheFallbackInHex) {
    // SHA-256 of "abc", as base64 in the webhook.
    const std::string media = wa_media("meta", R"(,"sha256":"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")");
    auto step =
        instance_->fetch_media(media, 200, R"({"url":"https://cdn.example/x","mime_type":"image/jpeg"})");
    ASSERT_EQ(step.status, SB_OK) << step.error;
    EXPECT_STREQ(step.step.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(WhatsAppPlugin, ARefusedDownloadRequeriesTheMediaIdOnceThenFails) {
    auto again = instance_->fetch_media(wa_media("file"), 404, "");
    ASSERT_EQ(again.status, SB_OK) << again.error;
    EXPECT_EQ(again.step.action, SB_MEDIA_REQUEST);
    ASSERT_TRUE(again.request);
    EXPECT_NE(again.request->url.find("/1003383421387256?"), std::string::npos);
    auto gone = instance_->fetch_media(wa_media("file2"), 403, "");
    EXPECT_EQ(gone.step.action, SB_MEDIA_FAILED);
    EXPECT_EQ(gone.reason(), "expired");
}

TEST_F(WhatsAppPlugin, AnUnknownOrExpiredMediaIdFailsWithGraphsMessage) {
    auto step = instance_->fetch_media(
        wa_media("meta"), 400,
        R"({"error":{"message":"Unsupported get request. Object with ID '1003383421387256' does not exist","type":"GraphMethodException","code":100}})");
    EXPECT_EQ(step.step.action, SB_MEDIA_FAILED);
    EXPECT_EQ(step.reason(), "not_found");
    EXPECT_NE(step.message().find("does not exist"), std::string::npos);
    auto auth =
        instance_->fetch_media(wa_media("meta"), 401, R"({"error":{"message":"bad token","code":190}})");
    EXPECT_EQ(auth.reason(), "auth");
}

TEST_F(WhatsAppPlugin, AMediaIdThatIsNoIdIsRefusedBeforeAnyRequest) {
    auto step = instance_->fetch_media(R"({"v":1,"content":{"type":"image","media":{"id":"../me?x"}}})");
    EXPECT_EQ(step.status, SB_E_INVALID);
    EXPECT_FALSE(step.request);
}

// Agents' uploads (ABI 1.3): POST /{PHONE_NUMBER_ID}/media multipart, then the message by id.
TEST_F(WhatsAppPlugin, UploadsAFileThenSendsTheMessageByItsMediaId) {
    const std::string outbound =
        R"({"v":1,"conversation":{"id":"16315551234"},"content":{"type":"document","caption":"invoice",)"
        R"("upload":{"id":"4","mime_type":"application/pdf","size":2000,"file_name":"inv.pdf","sha256":"ff00","placeholder":"{{switchboard-upload:ff00}}"}}})";
    auto upload = send(outbound);
    ASSERT_EQ(upload.status, SB_OK) << upload.error;
    ASSERT_TRUE(upload.request);
    EXPECT_EQ(upload.request->url,
              std::string("https://graph.facebook.com/v21.0/") + kPhoneNumberId + "/media");
    EXPECT_EQ(upload.request->header("Authorization"), std::string("Bearer ") + kToken);
    EXPECT_EQ(upload.request->header("Content-Type"), "multipart/form-data; boundary=switchboard-ff00");
    const std::string& body = upload.request->body;
    EXPECT_NE(body.find("name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"), std::string::npos) << body;
    EXPECT_NE(body.find("name=\"type\"\r\n\r\napplication/pdf\r\n"), std::string::npos);
    EXPECT_NE(body.find("name=\"file\"; filename=\"inv.pdf\"\r\nContent-Type: "
                        "application/pdf\r\n\r\n{{switchboard-upload:ff00}}\r\n"),
              std::string::npos);

    sb_send_result next = classify(outbound, 200, R"({"id":"1166846181421424"})");
    EXPECT_EQ(next.send_class, SB_SEND_CONTINUE) << next.message;
    sb_send_result done = classify(
        outbound, 200,
        R"({"messaging_product":"whatsapp","contacts":[{"input":"16315551234","wa_id":"16315551234"}],"messages":[{"id":"wamid.OUT"}]})");
    EXPECT_EQ(done.send_class, SB_SEND_OK);
    EXPECT_STREQ(done.platform_id, "wamid.OUT");
}

TEST_F(WhatsAppPlugin, RefusesUploadsWhatsAppWouldNotTake) {
    for (
        const char* content :
        {R"({"type":"image","upload":{"mime_type":"image/gif","size":10,"placeholder":"P"}})",
         R"({"type":"image","upload":{"mime_type":"image/jpeg","size":5242881,"placeholder":"P"}})",
         R"({"type":"video","upload":{"mime_type":"video/mp4","size":16777217,"placeholder":"P"}})",
         R"({"type":"document","upload":{"mime_type":"application/pdf","size":104857601,"placeholder":"P"}})"}) {
        auto result =
            send(std::string(R"({"v":1,"conversation":{"id":"16315551234"},"content":)") + content + "}");
        EXPECT_EQ(result.status, SB_E_INVALID) << content;
        EXPECT_FALSE(result.request) << content;
    }
}
