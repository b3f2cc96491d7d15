// The Telegram plugin, tested through the real telegram.so and the C ABI (plugin_harness):
// fixtures in tests/fixtures/telegram are realistic Bot API payloads, one case per file.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <memory>
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

namespace {

using sb::test::EventsResult;
using sb::test::Headers;
using sb::test::PluginInstance;
using sb::test::PluginLibrary;
using sb::test::RequestResult;

constexpr const char* kToken = "123456:TEST-token_abc";
constexpr const char* kSecret = "s3cr3t-Webhook_token";
constexpr const char* kApi = "https://api.telegram.org/bot123456:TEST-token_abc/";
constexpr std::int64_t kNowMs = 1732549999123;

std::string fixture(const std::string& name) { return sb::test::read_fixture("telegram", name); }

std::string config(const std::string& extra = "") {
    return std::string(R"({"bot_token":")") + kToken + R"(","secret_token":")" + kSecret +
           R"(","api_base":"https://api.telegram.org")" + extra + "}";
}

using sb::test::Json;

class TelegramPlugin : public sb::test::PluginTest<TelegramPlugin> {
public:
    static constexpr const char* kPlugin = "telegram";
    static constexpr std::int64_t kFakeNowMs = kNowMs;
    static std::string open_settings() { return config(); }

protected:
    Json parse_fixture(const std::string& name) { return parse_one(fixture(name)); }
};

// ---------------------------------------------------------------------------------------------
// Descriptor and settings

TEST_F(TelegramPlugin, DescriptorDeclaresIdCapabilitiesAndSecretSettings) {
    const sb_plugin_v1& d = library_->descriptor();
    EXPECT_STREQ(d.id, "telegram");
    EXPECT_EQ(d.abi_major, SB_ABI_MAJOR);
    EXPECT_EQ(d.size, sizeof(sb_plugin_v1));
    EXPECT_EQ(d.capabilities,
              SB_CAP_THREAD_SAFE | SB_CAP_LONG_POLL | SB_CAP_MEDIA_OUT | SB_CAP_TYPING_OUT | SB_CAP_MEDIA_IN);
    ASSERT_TRUE(SB_HAS_MEMBER(&d, sb_plugin_v1, fetch_media));
    EXPECT_NE(d.fetch_media, nullptr);
    ASSERT_NE(d.poll_request, nullptr);
    ASSERT_NE(d.poll_response, nullptr);
    Json schema(d.config_schema);
    EXPECT_EQ(schema.str("/type"), "object");
    EXPECT_FALSE(schema.boolean("/additionalProperties"));
    EXPECT_TRUE(schema.boolean("/properties/bot_token/x-secret"));
    EXPECT_TRUE(schema.boolean("/properties/secret_token/x-secret"));
    EXPECT_FALSE(schema.has("/properties/api_base/x-secret"));
    EXPECT_EQ(schema.str("/required/0"), "bot_token");
}

TEST_F(TelegramPlugin, OpensWithOnlyBotTokenUsingDefaultApiBase) {
    auto opened = library_->open(R"({"bot_token":"123456:TEST-token_abc"})");
    ASSERT_EQ(opened.status, SB_OK) << opened.error;
    RequestResult poll = opened.instance->poll_request();
    ASSERT_EQ(poll.status, SB_OK) << poll.error;
    EXPECT_EQ(poll.request->url, std::string(kApi) + "getUpdates");
}

TEST_F(TelegramPlugin, WarnsAtOpenWhenSecretTokenIsMissingOrEmpty) {
    for (const char* settings : {R"({"bot_token":"123456:TEST-token_abc"})",
                                 R"({"bot_token":"123456:TEST-token_abc","secret_token":""})"}) {
        auto opened = library_->open(settings);
        ASSERT_EQ(opened.status, SB_OK) << opened.error;
        ASSERT_EQ(opened.logs.size(), 1u) << settings;
        EXPECT_EQ(opened.logs[0].level, SB_LOG_WARN);
        EXPECT_NE(opened.logs[0].message.find("without authentication"), std::string::npos);
        EXPECT_EQ(opened.logs[0].message.find(kToken), std::string::npos);
    }
}

TEST_F(TelegramPlugin, DoesNotWarnWhenSecretTokenIsSet) { EXPECT_TRUE(instance_->logs().empty()); }

TEST_F(TelegramPlugin, StripsTrailingSlashFromApiBase) {
    auto instance = open_ok(R"({"bot_token":"1:x","secret_token":"s","api_base":"http://127.0.0.1:8081//"})");
    RequestResult result =
        instance->build_send(R"({"v":1,"conversation":{"id":"5"},"content":{"type":"text","text":"hi"}})");
    ASSERT_EQ(result.status, SB_OK) << result.error;
    EXPECT_EQ(result.request->url, "http://127.0.0.1:8081/bot1:x/sendMessage");
}

struct BadConfig {
    const char* settings;
    const char* names;  // what the error message must mention
};

TEST_F(TelegramPlugin, RejectsBadSettingsNamingTheKeyWithoutLeakingSecrets) {
    // Secret values are distinctive so a leak into the message or the logs is detectable.
    const BadConfig cases[] = {
        {R"(not json)", "settings"},
        {R"(["bot_token"])", "object"},
        {R"({})", "bot_token"},
        {R"({"secret_token":"SECRETxyz"})", "bot_token"},
        {R"({"bot_token":42})", "bot_token"},
        {R"({"bot_token":""})", "bot_token"},
        {R"({"bot_token":"99:TOKENxyz/../admin"})", "bot_token"},
        {R"({"bot_token":"99:TOKENxyz","secret_token":7})", "secret_token"},
        {R"({"bot_token":"99:TOKENxyz","secret_token":"SECRET xyz with spaces"})", "secret_token"},
        {R"({"bot_token":"99:TOKENxyz","api_base":true})", "api_base"},
        {R"({"bot_token":"99:TOKENxyz","api_base":"ftp://example.org"})", "api_base"},
        {R"({"bot_token":"99:TOKENxyz","poll_timeout_s":"25"})", "poll_timeout_s"},
        {R"({"bot_token":"99:TOKENxyz","poll_timeout_s":-1})", "poll_timeout_s"},
        {R"({"bot_token":"99:TOKENxyz","poll_timeout_s":2.5})", "poll_timeout_s"},
        {R"({"bot_token":"99:TOKENxyz","bot_tokn":"SECRETxyz"})", "bot_tokn"},
    };
    for (const BadConfig& c : cases) {
        auto opened = library_->open(c.settings);
        EXPECT_EQ(opened.status, SB_E_INVALID) << c.settings;
        EXPECT_EQ(opened.instance, nullptr);
        EXPECT_NE(opened.error.find(c.names), std::string::npos) << c.settings << " -> " << opened.error;
        for (const char* secret : {"TOKENxyz", "SECRETxyz", "SECRET xyz"}) {
            EXPECT_EQ(opened.error.find(secret), std::string::npos) << opened.error;
            for (const auto& line : opened.logs) EXPECT_EQ(line.message.find(secret), std::string::npos);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// verify

TEST_F(TelegramPlugin, AcceptsWebhookWithCorrectSecretTokenInAnyHeaderCase) {
    for (const char* name : {"X-Telegram-Bot-Api-Secret-Token", "x-telegram-bot-api-secret-token"}) {
        auto result =
            instance_->verify("POST", "/webhooks/tg", {{"Content-Type", "application/json"}, {name, kSecret}},
                              fixture("text_private.json"));
        EXPECT_EQ(result.verdict, SB_VERIFY_ACCEPT) << name;
        EXPECT_FALSE(result.response.has_value());
    }
}

TEST_F(TelegramPlugin, RejectsWebhookWithWrongSecretTokenAsForbidden) {
    auto wrong = instance_->verify("POST", "/webhooks/tg",
                                   {{"X-Telegram-Bot-Api-Secret-Token", "s3cr3t-Webhook_tokeN"}}, "{}");
    EXPECT_EQ(wrong.verdict, SB_VERIFY_FORBIDDEN);
    auto prefix =
        instance_->verify("POST", "/webhooks/tg", {{"X-Telegram-Bot-Api-Secret-Token", "s3cr3t"}}, "{}");
    EXPECT_EQ(prefix.verdict, SB_VERIFY_FORBIDDEN);
    auto empty = instance_->verify("POST", "/webhooks/tg", {{"X-Telegram-Bot-Api-Secret-Token", ""}}, "{}");
    EXPECT_EQ(empty.verdict, SB_VERIFY_FORBIDDEN);
}

TEST_F(TelegramPlugin, RejectsWebhookWithoutSecretTokenAsUnauthorized) {
    auto result = instance_->verify("POST", "/webhooks/tg", {{"Content-Type", "application/json"}}, "{}");
    EXPECT_EQ(result.verdict, SB_VERIFY_UNAUTHORIZED);
}

TEST_F(TelegramPlugin, SaysWhyItRefusedAWebhookWithoutQuotingTheSecret) {
    auto wrong =
        instance_->verify("POST", "/webhooks/tg", {{"X-Telegram-Bot-Api-Secret-Token", "nope"}}, "{}");
    ASSERT_TRUE(wrong.reason.has_value());
    EXPECT_EQ(*wrong.reason, "X-Telegram-Bot-Api-Secret-Token does not match secret_token");
    auto missing = instance_->verify("POST", "/webhooks/tg", {}, "{}");
    ASSERT_TRUE(missing.reason.has_value());
    EXPECT_EQ(*missing.reason, "no X-Telegram-Bot-Api-Secret-Token header");
    for (const auto& reason : {*wrong.reason, *missing.reason})
        EXPECT_EQ(reason.find(kSecret), std::string::npos);
    auto accepted =
        instance_->verify("POST", "/webhooks/tg", {{"X-Telegram-Bot-Api-Secret-Token", kSecret}}, "{}");
    EXPECT_EQ(accepted.verdict, SB_VERIFY_ACCEPT);
    EXPECT_FALSE(accepted.reason.has_value()) << "an accepted request has nothing to explain";
}

TEST_F(TelegramPlugin, RejectsNonPostWebhookAsBadRequest) {
    auto result =
        instance_->verify("GET", "/webhooks/tg", {{"X-Telegram-Bot-Api-Secret-Token", kSecret}}, "");
    EXPECT_EQ(result.verdict, SB_VERIFY_BAD_REQUEST);
}

TEST_F(TelegramPlugin, VerifyDoesNotLookAtTheBody) {
    auto result = instance_->verify("POST", "/webhooks/tg", {{"X-Telegram-Bot-Api-Secret-Token", kSecret}},
                                    "\xff not json");
    EXPECT_EQ(result.verdict, SB_VERIFY_ACCEPT);
}

TEST_F(TelegramPlugin, AcceptsEveryPostWhenNoSecretTokenIsConfigured) {
    auto instance = open_ok(R"({"bot_token":"1:x"})");
    EXPECT_EQ(instance->verify("POST", "/webhooks/tg", {}, "{}").verdict, SB_VERIFY_ACCEPT);
    EXPECT_EQ(instance->verify("PUT", "/webhooks/tg", {}, "{}").verdict, SB_VERIFY_BAD_REQUEST);
}

// ---------------------------------------------------------------------------------------------
// parse: fixtures

TEST_F(TelegramPlugin, NormalizesPrivateTextMessage) {
    Json e = parse_fixture("text_private.json");
    EXPECT_EQ(e.integer("/v"), 1);
    EXPECT_EQ(e.str("/type"), "message");
    EXPECT_EQ(e.str("/id"), "123456789:42");
    EXPECT_EQ(e.str("/conversation/id"), "123456789");
    EXPECT_EQ(e.str("/conversation/kind"), "private");
    EXPECT_FALSE(e.has("/conversation/title"));
    EXPECT_EQ(e.str("/sender/id"), "123456789");
    EXPECT_EQ(e.str("/sender/name"), "Ada Lovelace");
    EXPECT_EQ(e.str("/sender/username"), "ada");
    EXPECT_EQ(e.integer("/timestamp_ms"), 1732540000000);
    EXPECT_EQ(e.str("/content/type"), "text");
    EXPECT_EQ(e.str("/content/text"), "Hello, my order has not arrived 📦");
    EXPECT_FALSE(e.has("/reply_to"));
    EXPECT_FALSE(e.has("/raw"));
}

TEST_F(TelegramPlugin, PicksLargestPhotoSizeAndKeepsCaption) {
    Json e = parse_fixture("photo_with_caption.json");
    EXPECT_EQ(e.str("/id"), "123456789:43");
    EXPECT_EQ(e.str("/content/type"), "image");
    EXPECT_EQ(e.str("/content/media/id"), "AgACAgQAAxkBAAIBK2dE-large");
    EXPECT_EQ(e.integer("/content/media/width"), 1280);
    EXPECT_EQ(e.integer("/content/media/height"), 960);
    EXPECT_EQ(e.integer("/content/media/size"), 80713);
    EXPECT_EQ(e.str("/content/caption"), "The box arrived damaged");
}

TEST_F(TelegramPlugin, PicksLargestPhotoSizeByAreaEvenWhenNotLast) {
    Json e = parse_one(R"({"update_id":1,"message":{"message_id":2,"date":3,"chat":{"id":4,"type":"private"},
        "photo":[{"file_id":"big","width":1280,"height":960},{"file_id":"small","width":90,"height":67}]}})");
    EXPECT_EQ(e.str("/content/media/id"), "big");
}

TEST_F(TelegramPlugin, NormalizesDocumentWithFileNameMimeAndSize) {
    Json e = parse_fixture("document.json");
    EXPECT_EQ(e.str("/content/type"), "document");
    EXPECT_EQ(e.str("/content/media/id"), "BQACAgQAAxkBAAIBLGdE-invoice");
    EXPECT_EQ(e.str("/content/media/file_name"), "invoice-2024-117.pdf");
    EXPECT_EQ(e.str("/content/media/mime"), "application/pdf");
    EXPECT_EQ(e.integer("/content/media/size"), 183245);
    EXPECT_EQ(e.str("/content/caption"), "Here is the invoice");
}

TEST_F(TelegramPlugin, NormalizesVoiceWithDuration) {
    Json e = parse_fixture("voice.json");
    EXPECT_EQ(e.str("/content/type"), "voice");
    EXPECT_EQ(e.str("/content/media/id"), "AwACAgQAAxkBAAIBLWdE-voice");
    EXPECT_EQ(e.str("/content/media/mime"), "audio/ogg");
    EXPECT_EQ(e.integer("/content/media/duration_s"), 7);
    EXPECT_EQ(e.integer("/content/media/size"), 28731);
    EXPECT_EQ(e.str("/sender/name"), "Ada");  // no last_name: no trailing space
}

TEST_F(TelegramPlugin, NormalizesAudio) {
    Json e = parse_fixture("audio.json");
    EXPECT_EQ(e.str("/content/type"), "audio");
    EXPECT_EQ(e.str("/content/media/id"), "CQACAgQAAxkBAAIBLmdE-audio");
    EXPECT_EQ(e.str("/content/media/file_name"), "hold-music.mp3");
    EXPECT_EQ(e.str("/content/media/mime"), "audio/mpeg");
    EXPECT_EQ(e.integer("/content/media/duration_s"), 184);
    EXPECT_EQ(e.str("/content/title"), "Hold music");  // what a player shows
    EXPECT_EQ(e.str("/content/performer"), "Switchboard");
    EXPECT_FALSE(e.has("/sender/username"));
}

TEST_F(TelegramPlugin, NormalizesVideoWithDimensionsAndCaption) {
    Json e = parse_fixture("video.json");
    EXPECT_EQ(e.str("/content/type"), "video");
    EXPECT_EQ(e.str("/content/media/id"), "BAACAgQAAxkBAAIBL2dE-video");
    EXPECT_EQ(e.integer("/content/media/width"), 1920);
    EXPECT_EQ(e.integer("/content/media/height"), 1080);
    EXPECT_EQ(e.integer("/content/media/duration_s"), 12);
    EXPECT_EQ(e.str("/content/caption"), "Look at the corner");
}

TEST_F(TelegramPlugin, NormalizesVideoNoteAsSquareVideo) {
    Json e = parse_fixture("video_note.json");
    EXPECT_EQ(e.str("/content/type"), "video");
    EXPECT_EQ(e.str("/content/media/id"), "DQACAgQAAxkBAAIBMGdE-vnote");
    EXPECT_EQ(e.integer("/content/media/width"), 384);
    EXPECT_EQ(e.integer("/content/media/height"), 384);
    EXPECT_EQ(e.integer("/content/media/duration_s"), 9);
}

TEST_F(TelegramPlugin, NormalizesAnimationAsVideoNotAsItsCompatibilityDocument) {
    Json e = parse_fixture("animation.json");
    EXPECT_EQ(e.str("/content/type"), "video");
    EXPECT_EQ(e.str("/content/media/id"), "CgACAgQAAxkBAAIBMWdE-anim");
    EXPECT_EQ(e.str("/content/media/mime"), "video/mp4");
    EXPECT_EQ(e.integer("/content/media/width"), 480);
}

TEST_F(TelegramPlugin, NormalizesStickerWithEmoji) {
    Json e = parse_fixture("sticker.json");
    EXPECT_EQ(e.str("/content/type"), "sticker");
    EXPECT_EQ(e.str("/content/media/id"), "CAACAgIAAxkBAAIBMmdE-sticker");
    EXPECT_EQ(e.str("/content/emoji"), "👍");
    EXPECT_EQ(e.integer("/content/media/width"), 512);
}

TEST_F(TelegramPlugin, NormalizesLocation) {
    Json e = parse_fixture("location.json");
    EXPECT_EQ(e.str("/content/type"), "location");
    EXPECT_DOUBLE_EQ(e.number("/content/latitude"), 51.507351);
    EXPECT_DOUBLE_EQ(e.number("/content/longitude"), -0.127758);
    EXPECT_FALSE(e.has("/content/name"));
}

TEST_F(TelegramPlugin, NormalizesVenueAsLocationWithNameAndAddress) {
    Json e = parse_fixture("venue.json");
    EXPECT_EQ(e.str("/content/type"), "location");
    EXPECT_DOUBLE_EQ(e.number("/content/latitude"), 48.858844);
    EXPECT_DOUBLE_EQ(e.number("/content/longitude"), 2.294351);
    EXPECT_EQ(e.str("/content/name"), "Eiffel Tower");
    EXPECT_EQ(e.str("/content/address"), "Champ de Mars, 5 Av. Anatole France, 75007 Paris");
}

TEST_F(TelegramPlugin, NormalizesContact) {
    Json e = parse_fixture("contact.json");
    EXPECT_EQ(e.str("/content/type"), "contact");
    EXPECT_EQ(e.str("/content/name"), "Charles Babbage");
    EXPECT_EQ(e.str("/content/phone"), "+447700900123");
    EXPECT_EQ(e.str("/content/user_id"), "987654321");
    // Somebody else's card says nothing of the sender's own number.
    EXPECT_FALSE(e.has("/sender/phone"));
}

TEST_F(TelegramPlugin, ACardOfTheSendersOwnNumberGivesTheSenderItsPhone) {
    // What a "share my phone number" keyboard button sends: the card's user_id is the sender's.
    Json e = parse_fixture("contact_own.json");
    EXPECT_EQ(e.str("/content/type"), "contact");
    EXPECT_EQ(e.str("/sender/id"), "123456789");
    EXPECT_EQ(e.str("/sender/phone"), "447700900456");
}

TEST_F(TelegramPlugin, MapsReplyToMessageToPlatformId) {
    Json e = parse_fixture("reply_to_message.json");
    EXPECT_EQ(e.str("/id"), "123456789:55");
    EXPECT_EQ(e.str("/reply_to"), "123456789:54");
    EXPECT_EQ(e.str("/content/text"), "It is 4711");
}

TEST_F(TelegramPlugin, NormalizesEditedMessageAsEditWithEditTime) {
    Json e = parse_fixture("edited_message.json");
    EXPECT_EQ(e.str("/type"), "edit");
    EXPECT_EQ(e.str("/id"), "123456789:42");  // the id of the message that changed
    EXPECT_EQ(e.integer("/edited_at_ms"), 1732540095000);
    EXPECT_EQ(e.integer("/timestamp_ms"), 1732540095000);
    EXPECT_EQ(e.str("/content/type"), "text");
    EXPECT_EQ(e.str("/content/text"), "Hello, my order #4711 has not arrived");
    EXPECT_EQ(e.str("/sender/id"), "123456789");
}

TEST_F(TelegramPlugin, NormalizesSupergroupMessageAsGroupWithTitle) {
    Json e = parse_fixture("group_message.json");
    EXPECT_EQ(e.str("/id"), "-1001234567890:1207");
    EXPECT_EQ(e.str("/conversation/id"), "-1001234567890");
    EXPECT_EQ(e.str("/conversation/kind"), "group");
    EXPECT_EQ(e.str("/conversation/title"), "Acme Resellers");
    EXPECT_EQ(e.str("/sender/id"), "555000111");
    EXPECT_EQ(e.str("/sender/name"), "Grace Hopper");
    EXPECT_EQ(e.str("/sender/username"), "amazing_grace");
}

TEST_F(TelegramPlugin, NormalizesChannelPostAsMessageFromTheChannel) {
    Json e = parse_fixture("channel_post.json");
    EXPECT_EQ(e.str("/type"), "message");
    EXPECT_EQ(e.str("/id"), "-1009876543210:310");
    EXPECT_EQ(e.str("/conversation/kind"), "channel");
    EXPECT_EQ(e.str("/conversation/title"), "Acme Status");
    EXPECT_EQ(e.str("/sender/id"), "-1009876543210");
    EXPECT_EQ(e.str("/sender/name"), "Acme Status");
    EXPECT_EQ(e.str("/content/text"), "Scheduled maintenance tonight 22:00 UTC");
}

TEST_F(TelegramPlugin, NormalizesEditedChannelPostAsEdit) {
    Json e = parse_fixture("edited_channel_post.json");
    EXPECT_EQ(e.str("/type"), "edit");
    EXPECT_EQ(e.str("/id"), "-1009876543210:310");
    EXPECT_EQ(e.integer("/edited_at_ms"), 1732541460000);
    EXPECT_EQ(e.str("/content/text"), "Scheduled maintenance tonight 23:00 UTC");
}

TEST_F(TelegramPlugin, NormalizesCallbackQueryAsInteractiveWithButtonTitle) {
    Json e = parse_fixture("callback_query.json");
    EXPECT_EQ(e.str("/type"), "message");
    EXPECT_EQ(e.str("/id"), "cb:4382bfdwdsb323b2d9");
    EXPECT_EQ(e.str("/conversation/id"), "123456789");
    EXPECT_EQ(e.str("/conversation/kind"), "private");
    EXPECT_EQ(e.str("/sender/id"), "123456789");
    EXPECT_EQ(e.str("/sender/name"), "Ada Lovelace");
    EXPECT_EQ(e.str("/content/type"), "interactive");
    EXPECT_EQ(e.str("/content/reply_id"), "csat:no");
    EXPECT_EQ(e.str("/content/title"), "No");
    EXPECT_EQ(e.str("/reply_to"), "123456789:60");  // the message that carried the keyboard
    EXPECT_EQ(e.integer("/timestamp_ms"), kNowMs);  // a tap has no date of its own
}

// The tap is answered (ABI 1.1 follow-up) so the button stops spinning; nothing else is.
TEST_F(TelegramPlugin, CallbackQueryAsksTheHostToAnswerItOnceStored) {
    EventsResult tap = instance_->parse(fixture("callback_query.json"));
    ASSERT_EQ(tap.status, SB_OK) << tap.error;
    ASSERT_EQ(tap.follow_ups.size(), 1u);
    const sb::test::CapturedRequest& answer = tap.follow_ups[0];
    EXPECT_EQ(answer.method, "POST");
    EXPECT_EQ(answer.url, std::string("https://api.telegram.org/bot") + kToken + "/answerCallbackQuery");
    EXPECT_EQ(answer.header("Content-Type"), "application/json");
    EXPECT_EQ(Json(answer.body).str("/callback_query_id"), "4382bfdwdsb323b2d9");
    EXPECT_EQ(Json(answer.body).members(""), 1u) << "no text: the tap is acknowledged silently";

    for (const char* plain : {"text_private.json", "edited_message.json", "photo_with_caption.json"}) {
        EventsResult other = instance_->parse(fixture(plain));
        ASSERT_EQ(other.status, SB_OK) << plain << ": " << other.error;
        EXPECT_TRUE(other.follow_ups.empty()) << plain;
    }
    // A message whose text merely mentions "callback_query" is not a tap.
    EventsResult mention = instance_->parse(
        R"({"update_id":9,"message":{"message_id":1,"from":{"id":1,"first_name":"A"},"chat":{"id":1,"type":"private"},)"
        R"("date":1732540000,"text":"\"callback_query\""}})");
    ASSERT_EQ(mention.status, SB_OK) << mention.error;
    EXPECT_TRUE(mention.follow_ups.empty());
}

TEST_F(TelegramPlugin, CallbackQueryWithoutMessageUsesTheTappingUsersChat) {
    Json e = parse_one(R"({"update_id":7,"callback_query":{"id":"77","from":{"id":31337,"first_name":"Eve"},
        "inline_message_id":"AAAA","chat_instance":"1","data":"ok"}})");
    EXPECT_EQ(e.str("/id"), "cb:77");
    EXPECT_EQ(e.str("/conversation/id"), "31337");
    EXPECT_EQ(e.str("/conversation/kind"), "private");
    EXPECT_EQ(e.str("/content/reply_id"), "ok");
    EXPECT_FALSE(e.has("/content/title"));
    EXPECT_FALSE(e.has("/reply_to"));
}

TEST_F(TelegramPlugin, IgnoresUpdatesWithNothingForAnAgentAndSaysSo) {
    // Counted by the host (switchboard_ignored_updates_total), never a customer message.
    for (auto [name, kind] :
         {std::pair{"poll_update.json", "poll"}, std::pair{"inline_query.json", "inline_query"},
          std::pair{"chosen_inline_result.json", "chosen_inline_result"},
          std::pair{"message_reaction_count.json", "message_reaction_count"}}) {
        Json e = parse_fixture(name);
        EXPECT_EQ(e.str("/type"), "ignored") << name;
        EXPECT_EQ(e.str("/kind"), kind) << name;
        EXPECT_EQ(e.integer("/timestamp_ms"), kNowMs) << name;
        EXPECT_FALSE(e.has("/content")) << name;
    }
}

TEST_F(TelegramPlugin, ReactionUpdateReactsToTheStoredMessage) {
    Json e = parse_fixture("message_reaction.json");
    EXPECT_EQ(e.str("/type"), "reaction");
    EXPECT_EQ(e.str("/id"), "123456789:42");  // the reacted-to message, as message events name it
    EXPECT_EQ(e.str("/conversation/id"), "123456789");
    EXPECT_EQ(e.str("/sender/id"), "123456789");
    EXPECT_EQ(e.str("/emoji"), "\xF0\x9F\x91\x8D");
    EXPECT_EQ(e.integer("/timestamp_ms"), 1732540600000);
    Json removed = parse_fixture("message_reaction_removed.json");
    EXPECT_EQ(removed.str("/type"), "reaction");
    EXPECT_EQ(removed.str("/emoji"), "");  // the customer took the reaction back
}

TEST_F(TelegramPlugin, NormalizesPollAndTheCustomersAnswer) {
    Json poll = parse_fixture("poll_message.json");
    EXPECT_EQ(poll.str("/content/type"), "poll");
    EXPECT_EQ(poll.str("/content/question"), "Which delivery slot suits you?");
    EXPECT_EQ(poll.str("/content/poll_id"), "5436011462591348737");
    EXPECT_EQ(poll.str("/content/options/1/text"), "Afternoon");
    EXPECT_EQ(poll.integer("/content/options/0/voter_count"), 0);
    EXPECT_TRUE(poll.boolean("/content/multiple_answers"));
    EXPECT_FALSE(poll.boolean("/content/anonymous"));
    EXPECT_FALSE(poll.has("/raw"));

    Json answer = parse_fixture("poll_answer.json");
    EXPECT_EQ(answer.str("/type"), "message");
    EXPECT_EQ(answer.str("/id"), "update:912345034");
    EXPECT_EQ(answer.str("/conversation/id"), "123456789");  // the voter's private chat
    EXPECT_EQ(answer.str("/sender/name"), "Ada Lovelace");
    EXPECT_EQ(answer.str("/content/type"), "poll_answer");
    EXPECT_EQ(answer.str("/content/poll_id"), "5436011462591348737");
    EXPECT_EQ(answer.integer("/content/option_ids/0"), 1);
}

TEST_F(TelegramPlugin, NormalizesDice) {
    Json e = parse_fixture("dice.json");
    EXPECT_EQ(e.str("/id"), "123456789:61");
    EXPECT_EQ(e.str("/content/type"), "dice");
    EXPECT_EQ(e.str("/content/emoji"), "\xF0\x9F\x8E\xB2");
    EXPECT_EQ(e.integer("/content/value"), 4);
    EXPECT_FALSE(e.has("/raw"));
}

TEST_F(TelegramPlugin, ForwardedMessagesSayWhereTheyCameFrom) {
    Json user = parse_fixture("forwarded_from_user.json");
    EXPECT_EQ(user.str("/content/type"), "text");
    EXPECT_EQ(user.str("/content/forwarded/kind"), "user");
    EXPECT_EQ(user.str("/content/forwarded/from/id"), "987654321");
    EXPECT_EQ(user.str("/content/forwarded/from/name"), "Charles Babbage");
    EXPECT_EQ(user.str("/content/forwarded/from/username"), "cbabbage");
    EXPECT_EQ(user.integer("/content/forwarded/date_ms"), 1732450000000);
    EXPECT_EQ(user.str("/sender/id"), "123456789");  // the customer who forwarded it

    Json hidden = parse_fixture("forwarded_hidden_user.json");
    EXPECT_EQ(hidden.str("/content/type"), "image");
    EXPECT_EQ(hidden.str("/content/caption"), "She got the same error");
    EXPECT_EQ(hidden.str("/content/forwarded/kind"), "hidden_user");
    EXPECT_EQ(hidden.str("/content/forwarded/from/name"), "Mary Somerville");
    EXPECT_FALSE(hidden.has("/content/forwarded/from/id"));

    Json channel = parse_fixture("forwarded_channel.json");
    EXPECT_EQ(channel.str("/content/forwarded/kind"), "channel");
    EXPECT_EQ(channel.str("/content/forwarded/from/name"), "Switchboard status");
    EXPECT_EQ(channel.str("/content/forwarded/from/id"), "-1009876543210");
}

TEST_F(TelegramPlugin, RoutesUpdateNoticesToTheChatTheyName) {
    Json e = parse_fixture("chat_join_request.json");
    EXPECT_EQ(e.str("/id"), "update:912345043");
    EXPECT_EQ(e.str("/content/type"), "system");
    EXPECT_EQ(e.str("/content/code"), "chat_join_request");
    EXPECT_EQ(e.str("/conversation/id"), "-1001234567890");
    EXPECT_EQ(e.str("/sender/id"), "555000111");
    EXPECT_EQ(e.integer("/timestamp_ms"), 1732541600000);
    EXPECT_EQ(e.integer("/raw/chat_join_request/user_chat_id"), 555000111);
}

TEST_F(TelegramPlugin, KeepsAnUpdateKindItDoesNotKnowAsUnsupportedWithRaw) {
    // A kind newer than this plugin: kept whole, routed to the user it names.
    Json e = parse_one(R"({"update_id":912345090,"guest_message":{"from":{"id":42,"is_bot":false,)"
                       R"("first_name":"Kim"},"date":1732541700,"text":"hi"}})");
    EXPECT_EQ(e.str("/content/type"), "unsupported");
    EXPECT_EQ(e.str("/content/platform_type"), "guest_message");
    EXPECT_EQ(e.str("/conversation/id"), "42");
    EXPECT_EQ(e.str("/raw/guest_message/text"), "hi");
}

// Every Update kind the Bot API documents (platforms.md §5.2) lands in exactly one place: an
// event an agent sees, a system notice, or a documented ignore. None is dropped in silence and
// none becomes a fake customer message.
TEST_F(TelegramPlugin, EveryDocumentedUpdateKindHasAPlace) {
    const std::string chat = R"("chat":{"id":777,"type":"private","first_name":"Ada"})";
    const std::string user = R"("from":{"id":777,"is_bot":false,"first_name":"Ada"})";
    const std::string msg = R"({"message_id":5,)" + user + "," + chat + R"(,"date":1732540000,"text":"hi"})";
    struct Case {
        std::string kind, payload, type, content;  // content type, or "" for none
    };
    const std::vector<Case> cases = {
        {"message", msg, "message", "text"},
        {"edited_message", msg, "edit", "text"},
        {"channel_post", msg, "message", "text"},
        {"edited_channel_post", msg, "edit", "text"},
        {"business_message", msg, "message", "text"},
        {"edited_business_message", msg, "edit", "text"},
        {"business_connection",
         R"({"id":"bc1","user":{"id":777,"is_bot":false,"first_name":"Ada"},)"
         R"("user_chat_id":777,"date":1732540000,"is_enabled":true})",
         "ignored", ""},
        {"deleted_business_messages", R"({"business_connection_id":"bc1",)" + chat + R"(,"message_ids":[5]})",
         "edit", "deleted"},
        {"message_reaction",
         R"({)" + chat +
             R"(,"message_id":5,"user":{"id":777,"is_bot":false,"first_name":"Ada"},)"
             R"("date":1732540000,"old_reaction":[],"new_reaction":[]})",
         "reaction", ""},
        {"message_reaction_count", R"({)" + chat + R"(,"message_id":5,"date":1732540000,"reactions":[]})",
         "ignored", ""},
        {"inline_query", R"({"id":"1",)" + user + R"(,"query":"q","offset":""})", "ignored", ""},
        {"chosen_inline_result", R"({"result_id":"r",)" + user + R"(,"query":"q"})", "ignored", ""},
        {"callback_query", R"({"id":"c1",)" + user + R"(,"chat_instance":"1","data":"yes"})", "message",
         "interactive"},
        {"shipping_query", R"({"id":"s1",)" + user + R"(,"invoice_payload":"p","shipping_address":{}})",
         "message", "system"},
        {"pre_checkout_query",
         R"({"id":"p1",)" + user +
             R"(,"currency":"EUR","total_amount":100,)"
             R"("invoice_payload":"p"})",
         "message", "system"},
        {"purchased_paid_media", R"({)" + user + R"(,"paid_media_payload":"p"})", "message", "system"},
        {"poll",
         R"({"id":"9","question":"?","options":[],"total_voter_count":0,"is_closed":true,)"
         R"("is_anonymous":true,"type":"regular","allows_multiple_answers":false})",
         "ignored", ""},
        {"poll_answer",
         R"({"poll_id":"9","user":{"id":777,"is_bot":false,"first_name":"Ada"},"option_ids":[0]})", "message",
         "poll_answer"},
        {"my_chat_member",
         R"({)" + chat + "," + user +
             R"(,"date":1732540000,"old_chat_member":{"status":"member",)"
             R"("user":{"id":1,"is_bot":true,"first_name":"B"}},"new_chat_member":{"status":"kicked",)"
             R"("user":{"id":1,"is_bot":true,"first_name":"B"},"until_date":0}})",
         "message", "system"},
        {"chat_member",
         R"({)" + chat + "," + user +
             R"(,"date":1732540000,"old_chat_member":{"status":"member",)"
             R"("user":{"id":2,"is_bot":false,"first_name":"C"}},"new_chat_member":{"status":"left",)"
             R"("user":{"id":2,"is_bot":false,"first_name":"C"}}})",
         "message", "system"},
        {"chat_join_request", R"({)" + chat + "," + user + R"(,"user_chat_id":777,"date":1732540000})",
         "message", "system"},
        {"chat_boost",
         R"({)" + chat +
             R"(,"boost":{"boost_id":"b","add_date":1,"expiration_date":2,)"
             R"("source":{"source":"premium","user":{"id":777,"is_bot":false,"first_name":"Ada"}}}})",
         "message", "system"},
        {"removed_chat_boost",
         R"({)" + chat +
             R"(,"boost_id":"b","remove_date":1,)"
             R"("source":{"source":"premium","user":{"id":777,"is_bot":false,"first_name":"Ada"}}})",
         "message", "system"},
    };
    for (const Case& c : cases) {
        EventsResult result = instance_->parse(R"({"update_id":1,")" + c.kind + R"(":)" + c.payload + "}");
        ASSERT_EQ(result.status, SB_OK) << c.kind << ": " << result.error;
        ASSERT_EQ(result.events.size(), 1u) << c.kind;
        Json e(result.events[0]);
        EXPECT_EQ(e.str("/type"), c.type) << c.kind << ": " << result.events[0];
        if (!c.content.empty()) {
            EXPECT_EQ(e.str("/content/type"), c.content) << c.kind;
        }
        if (c.type == "ignored") {
            EXPECT_EQ(e.str("/kind"), c.kind);
        }
        EXPECT_NE(e.str("/content/type"), "unsupported") << c.kind << " has no place of its own";
    }
}

TEST_F(TelegramPlugin, BlockingAndUnblockingTheBotAreSystemNoticesNotMessages) {
    Json blocked = parse_fixture("my_chat_member_blocked.json");
    EXPECT_EQ(blocked.str("/id"), "update:912345018");
    EXPECT_EQ(blocked.str("/conversation/id"), "123456789");
    EXPECT_EQ(blocked.str("/content/type"), "system");
    EXPECT_EQ(blocked.str("/content/code"), "blocked");
    EXPECT_NE(blocked.str("/content/text").find("blocked the bot"), std::string::npos);
    EXPECT_EQ(blocked.integer("/timestamp_ms"), 1732541200000);
    EXPECT_EQ(blocked.str("/raw/my_chat_member/new_chat_member/status"), "kicked");
    EXPECT_FALSE(blocked.boolean("/content/reachable")) << "the host must learn that sends will fail";
    Json unblocked = parse_fixture("my_chat_member_unblocked.json");
    EXPECT_EQ(unblocked.str("/content/code"), "unblocked");
    EXPECT_TRUE(unblocked.boolean("/content/reachable"));
}

TEST_F(TelegramPlugin, AMessageWithNothingInItIsAnIgnoreNotACustomerMessage) {
    Json e = parse_fixture("empty_message.json");
    EXPECT_EQ(e.str("/type"), "ignored");
    EXPECT_EQ(e.str("/kind"), "message.empty");
    EXPECT_FALSE(e.has("/content"));
    Json edit = parse_one(R"({"update_id":3,"edited_channel_post":{"message_id":4,"date":5,"edit_date":6,)"
                          R"("chat":{"id":-100,"type":"channel","title":"News"}}})");
    EXPECT_EQ(edit.str("/type"), "ignored");
    EXPECT_EQ(edit.str("/kind"), "edited_channel_post.empty");
    // Metadata alone (a reply, a forward origin) is still nothing anyone wrote...
    Json reply =
        parse_one(R"({"update_id":3,"message":{"message_id":4,"date":5,"chat":{"id":6,"type":"private"},)"
                  R"("reply_to_message":{"message_id":3,"date":4,"chat":{"id":6,"type":"private"}}}})");
    EXPECT_EQ(reply.str("/type"), "ignored");
    // ...but a field the plugin does not know is content it cannot show: kept with raw.
    Json unknown =
        parse_one(R"({"update_id":3,"message":{"message_id":4,"date":5,"chat":{"id":6,"type":"private"},)"
                  R"("hologram":{"id":"h1"}}})");
    EXPECT_EQ(unknown.str("/content/type"), "unsupported");
    EXPECT_EQ(unknown.str("/content/platform_type"), "hologram");
}

TEST_F(TelegramPlugin, APaymentIsANoticeInTheChat) {
    Json e = parse_fixture("successful_payment.json");
    EXPECT_EQ(e.str("/type"), "message");
    EXPECT_EQ(e.str("/id"), "123456789:81");
    EXPECT_EQ(e.str("/content/type"), "system");
    EXPECT_EQ(e.str("/content/code"), "payment_succeeded");
    EXPECT_EQ(e.str("/content/text"), "paid an invoice");
}

TEST_F(TelegramPlugin, ServiceMessagesAreSystemNotices) {
    Json pinned = parse_fixture("pinned_message.json");
    EXPECT_EQ(pinned.str("/type"), "message");
    EXPECT_EQ(pinned.str("/id"), "-1001234567890:70");
    EXPECT_EQ(pinned.str("/content/type"), "system");
    EXPECT_EQ(pinned.str("/content/code"), "pinned_message");
    EXPECT_FALSE(pinned.has("/content/text/0"));
    Json video = parse_fixture("video_chat_started.json");
    EXPECT_EQ(video.str("/content/code"), "video_chat_started");
    EXPECT_EQ(video.str("/content/text"), "started a video chat");
}

TEST_F(TelegramPlugin, EveryFixtureUpdateYieldsExactlyOneEvent) {
    for (const char* name : {"text_private.json",
                             "photo_with_caption.json",
                             "document.json",
                             "voice.json",
                             "audio.json",
                             "video.json",
                             "video_note.json",
                             "animation.json",
                             "sticker.json",
                             "location.json",
                             "venue.json",
                             "contact.json",
                             "contact_own.json",
                             "reply_to_message.json",
                             "edited_message.json",
                             "callback_query.json",
                             "dice.json",
                             "poll_message.json",
                             "poll_answer.json",
                             "message_reaction.json",
                             "forwarded_from_user.json",
                             "forwarded_hidden_user.json",
                             "forwarded_channel.json",
                             "my_chat_member_blocked.json",
                             "my_chat_member_unblocked.json",
                             "pinned_message.json",
                             "video_chat_started.json",
                             "chat_join_request.json",
                             "successful_payment.json",
                             "group_message.json",
                             "channel_post.json",
                             "edited_channel_post.json"}) {
        EventsResult result = instance_->parse(fixture(name));
        EXPECT_EQ(result.status, SB_OK) << name << ": " << result.error;
        ASSERT_EQ(result.events.size(), 1u) << name;
        Json e(result.events[0]);
        EXPECT_TRUE(e.has("/sender/id")) << name;
        EXPECT_TRUE(e.has("/conversation/id")) << name;
        EXPECT_TRUE(e.has("/timestamp_ms")) << name;
    }
}

// ---------------------------------------------------------------------------------------------
// parse: hostile and malformed input

TEST_F(TelegramPlugin, RejectsBodiesThatAreNotUpdates) {
    const std::pair<std::string, const char*> cases[] = {
        {"", "empty"},
        {"{\"update_id\":1,\"message\":{\"message_id\":2", "invalid JSON"},
        {"[1,2,3]", "object"},
        {"\"update\"", "object"},
        {"42", "object"},
        {"{\"message\":{}}", "update_id"},
        {"{\"update_id\":\"1\"}", "update_id"},
        {"{\"update_id\":1.5}", "update_id"},
        {"{\"update_id\":1} trailing", "invalid JSON"},
        {"{\"update_id\":1,\"message\":NaN}", "invalid JSON"},
    };
    for (const auto& [body, mentions] : cases) {
        EventsResult result = instance_->parse(body);
        EXPECT_EQ(result.status, SB_E_INVALID) << body;
        EXPECT_TRUE(result.events.empty()) << body;
        EXPECT_NE(result.error.find(mentions), std::string::npos) << body << " -> " << result.error;
    }
}

TEST_F(TelegramPlugin, RejectsDeeplyNestedJsonWithoutCrashing) {
    std::string arrays = std::string(10000, '[') + std::string(10000, ']');
    EventsResult bare = instance_->parse(arrays);
    EXPECT_EQ(bare.status, SB_E_INVALID);
    std::string inside = "{\"update_id\":5,\"poll\":" + arrays + "}";
    EventsResult nested = instance_->parse(inside);
    EXPECT_EQ(nested.status, SB_E_INVALID);
    EXPECT_NE(nested.error.find("nested"), std::string::npos) << nested.error;
    // Unbalanced: only openers.
    EXPECT_EQ(instance_->parse(std::string(100000, '{')).status, SB_E_INVALID);
}

TEST_F(TelegramPlugin, RejectsInvalidUtf8) {
    std::string body =
        "{\"update_id\":1,\"message\":{\"message_id\":2,\"date\":3,\"chat\":{\"id\":4},\"text\":\"\xc3\x28\"}"
        "}";
    EventsResult result = instance_->parse(body);
    EXPECT_EQ(result.status, SB_E_INVALID);
    EXPECT_TRUE(result.events.empty());
    std::string overlong = "{\"update_id\":1,\"poll\":\"\xc0\xaf\"}";
    EXPECT_EQ(instance_->parse(overlong).status, SB_E_INVALID);
}

TEST_F(TelegramPlugin, RejectsMessagesWithMistypedRequiredFields) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"update_id":1,"message":"hello"})", "message must be an object"},
        {R"({"update_id":1,"message":{"message_id":2,"date":3,"chat":{"id":"4"},"text":"x"}})", "chat.id"},
        {R"({"update_id":1,"message":{"message_id":"2","date":3,"chat":{"id":4},"text":"x"}})", "message_id"},
        {R"({"update_id":1,"message":{"message_id":2,"date":"3","chat":{"id":4},"text":"x"}})", "date"},
        {R"({"update_id":1,"message":{"message_id":2,"date":3,"chat":[],"text":"x"}})", "chat"},
        {R"({"update_id":1,"message":{"message_id":2,"date":3,"chat":{"id":4},"text":17}})", "text"},
        {R"({"update_id":1,"message":{"message_id":2,"date":3,"chat":{"id":4},"photo":[1,"a",null]}})",
         "photo"},
        {R"({"update_id":1,"message":{"message_id":2,"date":3,"chat":{"id":4},"document":{"file_id":9}}})",
         "file_id"},
        {R"({"update_id":1,"message":{"message_id":2,"date":3,"chat":{"id":4},"location":{"latitude":"x"}}})",
         "latitude"},
        {R"({"update_id":1,"callback_query":{"id":5,"data":"x"}})", "callback_query.id"},
        {R"({"update_id":1,"message":{"message_id":2,"date":9223372036854775807,"chat":{"id":4},"text":"x"}})",
         "timestamp"},
    };
    for (const auto& [body, mentions] : cases) {
        EventsResult result = instance_->parse(body);
        EXPECT_EQ(result.status, SB_E_INVALID) << body;
        EXPECT_NE(result.error.find(mentions), std::string::npos) << body << " -> " << result.error;
    }
}

TEST_F(TelegramPlugin, IgnoresMistypedOptionalFields) {
    Json e =
        parse_one(R"({"update_id":1,"message":{"message_id":2,"date":3,"chat":{"id":4,"type":7,"title":[]},
        "from":{"id":"not a number","first_name":5},"text":"hi","reply_to_message":{"message_id":"x"}}})");
    EXPECT_EQ(e.str("/content/text"), "hi");
    EXPECT_FALSE(e.has("/conversation/kind"));
    EXPECT_EQ(e.str("/sender/id"), "4");  // the unusable `from` falls back to the chat
    EXPECT_FALSE(e.has("/reply_to"));
}

TEST_F(TelegramPlugin, KeepsUnknownUpdateWithNonObjectPayloadAsUnsupported) {
    Json e = parse_one(R"({"update_id":9,"future_update":[1,2,3]})");
    EXPECT_EQ(e.str("/id"), "update:9");
    EXPECT_EQ(e.str("/content/platform_type"), "future_update");
    EXPECT_EQ(e.integer("/raw/future_update/2"), 3);
}

TEST_F(TelegramPlugin, ParsesHugeTextAndEmbeddedNulIntact) {
    std::string text(4 * 1024 * 1024, 'a');
    Json big = parse_one(R"({"update_id":1,"message":{"message_id":2,"date":3,"chat":{"id":4},"text":")" +
                         text + "\"}}");
    EXPECT_EQ(big.str("/content/text").size(), text.size());
    Json nul =
        parse_one(R"({"update_id":1,"message":{"message_id":2,"date":3,"chat":{"id":4},"text":"a\u0000b"}})");
    EXPECT_EQ(nul.str("/content/text"), std::string("a\0b", 3));
}

TEST_F(TelegramPlugin, ParsesConcurrentlyFromSeveralThreads) {
    std::string body = fixture("photo_with_caption.json");
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                EventsResult result = instance_->parse(body);
                if (result.status == SB_OK && result.events.size() == 1) ++good;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(good.load(), 800);
}

// ---------------------------------------------------------------------------------------------
// build_send

TEST_F(TelegramPlugin, BuildsSendMessageWithNumericChatId) {
    RequestResult r = send(
        R"({"v":1,"conversation":{"id":"123456789"},"content":{"type":"text","text":"Sorry to hear that — let me check."}})");
    ASSERT_EQ(r.status, SB_OK) << r.error;
    ASSERT_TRUE(r.request);
    EXPECT_EQ(r.request->method, "POST");
    EXPECT_EQ(r.request->url, std::string(kApi) + "sendMessage");
    EXPECT_EQ(r.request->header("content-type"), "application/json");
    Json body(r.request->body);
    ASSERT_TRUE(body.at("/chat_id")->IsInt64());
    EXPECT_EQ(body.integer("/chat_id"), 123456789);
    EXPECT_EQ(body.str("/text"), "Sorry to hear that — let me check.");
    EXPECT_FALSE(body.has("/reply_parameters"));
}

TEST_F(TelegramPlugin, SendsSupergroupChatIdAsNumberAndUsernameAsString) {
    RequestResult group =
        send(R"({"v":1,"conversation":{"id":"-1001234567890"},"content":{"type":"text","text":"hi"}})");
    ASSERT_EQ(group.status, SB_OK) << group.error;
    EXPECT_EQ(Json(group.request->body).integer("/chat_id"), -1001234567890);
    RequestResult channel =
        send(R"({"v":1,"conversation":{"id":"@acme_status"},"content":{"type":"text","text":"hi"}})");
    ASSERT_EQ(channel.status, SB_OK) << channel.error;
    EXPECT_EQ(Json(channel.request->body).str("/chat_id"), "@acme_status");
}

TEST_F(TelegramPlugin, BuildsReplyParametersFromReplyTo) {
    RequestResult r = send(
        R"({"v":1,"conversation":{"id":"123456789"},"reply_to":"123456789:42","content":{"type":"text","text":"On it"}})");
    ASSERT_EQ(r.status, SB_OK) << r.error;
    Json body(r.request->body);
    EXPECT_EQ(body.integer("/reply_parameters/message_id"), 42);
    EXPECT_TRUE(body.boolean("/reply_parameters/allow_sending_without_reply"));
    RequestResult group = send(
        R"({"v":1,"conversation":{"id":"-1001234567890"},"reply_to":"-1001234567890:1207","content":{"type":"text","text":"On it"}})");
    ASSERT_EQ(group.status, SB_OK) << group.error;
    EXPECT_EQ(Json(group.request->body).integer("/reply_parameters/message_id"), 1207);
}

TEST_F(TelegramPlugin, SendsWithoutQuoteWhenReplyingToAButtonTap) {
    RequestResult r = send(
        R"({"v":1,"conversation":{"id":"123456789"},"reply_to":"cb:4382bfdwdsb323b2d9","content":{"type":"text","text":"Connecting you"}})");
    ASSERT_EQ(r.status, SB_OK) << r.error;
    EXPECT_FALSE(Json(r.request->body).has("/reply_parameters"));
}

TEST_F(TelegramPlugin, RejectsMalformedReplyTo) {
    for (const char* reply_to : {"\"42\"", "\"123:abc\"", "\"123:\"", "42"}) {
        RequestResult r = send(std::string(R"({"v":1,"conversation":{"id":"1"},"reply_to":)") + reply_to +
                               R"(,"content":{"type":"text","text":"x"}})");
        EXPECT_EQ(r.status, SB_E_INVALID) << reply_to;
        EXPECT_NE(r.error.find("reply_to"), std::string::npos) << r.error;
        EXPECT_FALSE(r.request);
    }
}

TEST_F(TelegramPlugin, BuildsSendPhotoByUrlWithCaption) {
    RequestResult r = send(
        R"({"v":1,"conversation":{"id":"123456789"},"reply_to":"123456789:43","content":{"type":"image","url":"https://cdn.example.com/label.png","caption":"Your return label"}})");
    ASSERT_EQ(r.status, SB_OK) << r.error;
    EXPECT_EQ(r.request->url, std::string(kApi) + "sendPhoto");
    Json body(r.request->body);
    EXPECT_EQ(body.integer("/chat_id"), 123456789);
    EXPECT_EQ(body.str("/photo"), "https://cdn.example.com/label.png");
    EXPECT_EQ(body.str("/caption"), "Your return label");
    EXPECT_EQ(body.integer("/reply_parameters/message_id"), 43);
}

TEST_F(TelegramPlugin, BuildsSendDocumentAudioAndVideoByUrl) {
    const std::tuple<const char*, const char*, const char*> cases[] = {
        {"document", "sendDocument", "document"},
        {"audio", "sendAudio", "audio"},
        {"video", "sendVideo", "video"}};
    for (const auto& [type, method, field] : cases) {
        RequestResult r = send(std::string(R"({"v":1,"conversation":{"id":"5"},"content":{"type":")") + type +
                               R"(","url":"https://cdn.example.com/f"}})");
        ASSERT_EQ(r.status, SB_OK) << type << ": " << r.error;
        EXPECT_EQ(r.request->url, std::string(kApi) + method);
        Json body(r.request->body);
        EXPECT_EQ(body.str((std::string("/") + field).c_str()), "https://cdn.example.com/f");
        EXPECT_FALSE(body.has("/caption"));
    }
}

TEST_F(TelegramPlugin, RejectsMediaWithoutUrlOrWithTooLongCaption) {
    EXPECT_EQ(send(R"({"v":1,"conversation":{"id":"5"},"content":{"type":"image"}})").status, SB_E_INVALID);
    std::string caption(1025, 'c');
    RequestResult r =
        send(R"({"v":1,"conversation":{"id":"5"},"content":{"type":"image","url":"https://x/y","caption":")" +
             caption + "\"}}");
    EXPECT_EQ(r.status, SB_E_INVALID);
    EXPECT_NE(r.error.find("caption"), std::string::npos) << r.error;
}

TEST_F(TelegramPlugin, BuildsSendChatActionForTypingOn) {
    RequestResult r =
        send(R"({"v":1,"conversation":{"id":"123456789"},"content":{"type":"typing","state":"on"}})");
    ASSERT_EQ(r.status, SB_OK) << r.error;
    EXPECT_EQ(r.request->url, std::string(kApi) + "sendChatAction");
    Json body(r.request->body);
    EXPECT_EQ(body.integer("/chat_id"), 123456789);
    EXPECT_EQ(body.str("/action"), "typing");
}

TEST_F(TelegramPlugin, TypingOffIsUnsupportedBecauseTelegramHasNoStopAction) {
    RequestResult r =
        send(R"({"v":1,"conversation":{"id":"123456789"},"content":{"type":"typing","state":"off"}})");
    EXPECT_EQ(r.status, SB_E_UNSUPPORTED);
    EXPECT_FALSE(r.request);
}

TEST_F(TelegramPlugin, RejectsContentTypesTelegramSendCannotCarry) {
    for (const char* content :
         {R"({"type":"location","latitude":1,"longitude":2})", R"({"type":"mark_read","id":"1:2"})",
          R"({"type":"sticker","url":"https://x"})", R"({"type":"hologram"})"}) {
        RequestResult r = send(std::string(R"({"v":1,"conversation":{"id":"5"},"content":)") + content + "}");
        EXPECT_EQ(r.status, SB_E_UNSUPPORTED) << content;
        EXPECT_FALSE(r.request);
        EXPECT_FALSE(r.error.empty());
    }
}

TEST_F(TelegramPlugin, RejectsEmptyText) {
    RequestResult r = send(R"({"v":1,"conversation":{"id":"5"},"content":{"type":"text","text":""}})");
    EXPECT_EQ(r.status, SB_E_INVALID);
    EXPECT_NE(r.error.find("empty"), std::string::npos) << r.error;
    EXPECT_FALSE(r.request);
}

TEST_F(TelegramPlugin, AcceptsTextOf4096UnitsAndRejectsLonger) {
    auto with_text = [](const std::string& text) {
        return R"({"v":1,"conversation":{"id":"5"},"content":{"type":"text","text":")" + text + "\"}}";
    };
    EXPECT_EQ(send(with_text(std::string(4096, 'x'))).status, SB_OK);
    RequestResult r = send(with_text(std::string(4097, 'x')));
    EXPECT_EQ(r.status, SB_E_INVALID);
    EXPECT_NE(r.error.find("4096"), std::string::npos) << r.error;
    // 2048 emoji are 4096 UTF-16 code units (Telegram's unit); one more is too long.
    std::string emoji;
    for (int i = 0; i < 2048; ++i) emoji += "😀";
    EXPECT_EQ(send(with_text(emoji)).status, SB_OK);
    EXPECT_EQ(send(with_text(emoji + "😀")).status, SB_E_INVALID);
    // 4096 two-byte characters are 4096 units, though 8192 bytes.
    std::string accents;
    for (int i = 0; i < 4096; ++i) accents += "é";
    EXPECT_EQ(send(with_text(accents)).status, SB_OK);
}

TEST_F(TelegramPlugin, RejectsMalformedOutboundRequests) {
    const char* cases[] = {
        "",
        "not json",
        "[]",
        R"({"v":1,"content":{"type":"text","text":"x"}})",
        R"({"v":1,"conversation":{"id":5},"content":{"type":"text","text":"x"}})",
        R"({"v":1,"conversation":{"id":"5"}})",
        R"({"v":1,"conversation":{"id":"5"},"content":{"type":"text","text":5}})",
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
    R"({"v":1,"conversation":{"id":"123456789"},"content":{"type":"text","text":"hi"}})";

TEST_F(TelegramPlugin, ClassifiesOkWithPlatformIdInInboundForm) {
    sb_send_result r = instance_->classify(kTextOut, 200, fixture("send_ok.json"));
    EXPECT_EQ(r.send_class, SB_SEND_OK);
    EXPECT_STREQ(r.platform_id, "123456789:61");
    EXPECT_EQ(r.retry_after_ms, 0u);
}

TEST_F(TelegramPlugin, ClassifiesChatActionTrueAsOkWithoutId) {
    sb_send_result r = instance_->classify(kTextOut, 200, fixture("send_ok_chat_action.json"));
    EXPECT_EQ(r.send_class, SB_SEND_OK);
    EXPECT_STREQ(r.platform_id, "");
}

TEST_F(TelegramPlugin, ClassifiesTooManyRequestsWithRetryAfter) {
    sb_send_result r = instance_->classify(kTextOut, 429, fixture("error_429.json"));
    EXPECT_EQ(r.send_class, SB_SEND_RATE_LIMITED);
    EXPECT_EQ(r.retry_after_ms, 5000u);
    EXPECT_STREQ(r.platform_code, "429");
    EXPECT_STREQ(r.message, "Too Many Requests: retry after 5");
}

TEST_F(TelegramPlugin, HonoursRetryAfterHeaderWhenParametersAreMissing) {
    sb_send_result r = instance_->classify(
        kTextOut, 429, R"({"ok":false,"error_code":429,"description":"Too Many Requests"})",
        {{"retry-after", "7"}});
    EXPECT_EQ(r.send_class, SB_SEND_RATE_LIMITED);
    EXPECT_EQ(r.retry_after_ms, 7000u);
    sb_send_result plain = instance_->classify(kTextOut, 429, "Too Many Requests", {{"Retry-After", "3"}});
    EXPECT_EQ(plain.send_class, SB_SEND_RATE_LIMITED);
    EXPECT_EQ(plain.retry_after_ms, 3000u);
}

TEST_F(TelegramPlugin, ClassifiesBlockedByUserAsPermanent) {
    sb_send_result r = instance_->classify(kTextOut, 403, fixture("error_403_blocked.json"));
    EXPECT_EQ(r.send_class, SB_SEND_PERMANENT);
    EXPECT_STREQ(r.platform_code, "403");
    EXPECT_STREQ(r.message, "Forbidden: bot was blocked by the user");
}

TEST_F(TelegramPlugin, ClassifiesUnauthorizedAsAuth) {
    sb_send_result r = instance_->classify(kTextOut, 401, fixture("error_401.json"));
    EXPECT_EQ(r.send_class, SB_SEND_AUTH);
    EXPECT_STREQ(r.platform_code, "401");
}

TEST_F(TelegramPlugin, ClassifiesBadRequestAsPermanent) {
    sb_send_result r = instance_->classify(kTextOut, 400, fixture("error_400_chat_not_found.json"));
    EXPECT_EQ(r.send_class, SB_SEND_PERMANENT);
    EXPECT_STREQ(r.platform_code, "400");
    EXPECT_STREQ(r.message, "Bad Request: chat not found");
    sb_send_result migrated = instance_->classify(kTextOut, 400, fixture("error_400_migrated.json"));
    EXPECT_EQ(migrated.send_class, SB_SEND_PERMANENT);
    EXPECT_NE(std::string(migrated.message).find("-1001234567890"), std::string::npos) << migrated.message;
}

TEST_F(TelegramPlugin, ClassifiesServerErrorsAsRetryable) {
    sb_send_result json = instance_->classify(kTextOut, 500, fixture("error_500.json"));
    EXPECT_EQ(json.send_class, SB_SEND_RETRYABLE);
    EXPECT_STREQ(json.platform_code, "500");
    sb_send_result html = instance_->classify(kTextOut, 502, "<html><body>502 Bad Gateway</body></html>");
    EXPECT_EQ(html.send_class, SB_SEND_RETRYABLE);
    EXPECT_STREQ(html.platform_code, "502");
}

TEST_F(TelegramPlugin, ClassifiesTransportErrorAsRetryableWithoutLeakingToken) {
    std::string error = std::string("connection reset while POSTing ") + kApi + "sendMessage";
    sb_send_result r = instance_->classify(kTextOut, 0, "", {}, error);
    EXPECT_EQ(r.send_class, SB_SEND_RETRYABLE);
    EXPECT_NE(std::string(r.message).find("connection reset"), std::string::npos) << r.message;
    EXPECT_EQ(std::string(r.message).find(kToken), std::string::npos) << r.message;
}

TEST_F(TelegramPlugin, ClassifiesGarbageBodiesWithoutCrashing) {
    EXPECT_EQ(instance_->classify(kTextOut, 200, "\x01\x02garbage").send_class, SB_SEND_RETRYABLE);
    EXPECT_EQ(instance_->classify(kTextOut, 200, "").send_class, SB_SEND_RETRYABLE);
    EXPECT_EQ(instance_->classify(kTextOut, 400, R"({"ok":"false"})").send_class, SB_SEND_PERMANENT);
    EXPECT_EQ(instance_->classify(kTextOut, 401, "Unauthorized").send_class, SB_SEND_AUTH);
    sb_send_result weird =
        instance_->classify(kTextOut, 200, R"({"ok":true,"result":{"message_id":"x","chat":[]}})");
    EXPECT_EQ(weird.send_class, SB_SEND_OK);
    EXPECT_STREQ(weird.platform_id, "");
    EXPECT_EQ(instance_->classify(kTextOut, 200, std::string(5000, '[')).send_class, SB_SEND_RETRYABLE);
}

TEST_F(TelegramPlugin, TruncatesLongDescriptionOnACharacterBoundary) {
    std::string description;
    for (int i = 0; i < 300; ++i) description += "é";  // 600 bytes of 2-byte characters
    sb_send_result r = instance_->classify(
        kTextOut, 400, R"({"ok":false,"error_code":400,"description":")" + description + "\"}");
    std::string message = r.message;  // the harness has checked the NUL terminator
    EXPECT_LT(message.size(), sizeof(r.message));
    EXPECT_EQ(message.size() % 2, 0u) << "cut inside a UTF-8 sequence";
    EXPECT_EQ(message, description.substr(0, message.size()));
}

// ---------------------------------------------------------------------------------------------
// long polling

TEST_F(TelegramPlugin, BuildsGetUpdatesRequestFromOffsetZero) {
    RequestResult r = instance_->poll_request();
    ASSERT_EQ(r.status, SB_OK) << r.error;
    EXPECT_EQ(r.request->method, "POST");
    EXPECT_EQ(r.request->url, std::string(kApi) + "getUpdates");
    EXPECT_EQ(r.request->header("Content-Type"), "application/json");
    EXPECT_EQ(r.request->timeout_ms, 35000u);
    Json body(r.request->body);
    EXPECT_EQ(body.integer("/offset"), 0);
    EXPECT_EQ(body.integer("/timeout"), 25);
    std::vector<std::string> allowed;
    for (const auto& v : body.at("/allowed_updates")->GetArray()) allowed.emplace_back(v.GetString());
    // Every kind the plugin gives a place, named (without a list Telegram leaves out
    // message_reaction); none of those it only ignores.
    EXPECT_EQ(allowed, (std::vector<std::string>{
                           "message", "edited_message", "channel_post", "edited_channel_post",
                           "business_message", "edited_business_message", "deleted_business_messages",
                           "message_reaction", "callback_query", "shipping_query", "pre_checkout_query",
                           "purchased_paid_media", "poll_answer", "my_chat_member", "chat_member",
                           "chat_join_request", "chat_boost", "removed_chat_boost"}));
    for (const char* ignored : {"inline_query", "chosen_inline_result", "message_reaction_count", "poll"})
        EXPECT_EQ(std::count(allowed.begin(), allowed.end(), ignored), 0) << ignored;
}

TEST_F(TelegramPlugin, UsesConfiguredPollTimeout) {
    auto instance = open_ok(config(R"(,"poll_timeout_s":5)"));
    RequestResult r = instance->poll_request();
    ASSERT_EQ(r.status, SB_OK) << r.error;
    EXPECT_EQ(Json(r.request->body).integer("/timeout"), 5);
    EXPECT_EQ(r.request->timeout_ms, 15000u);
}

TEST_F(TelegramPlugin, EmitsEachPolledUpdateAndAdvancesOffsetPastTheLast) {
    EventsResult polled = instance_->poll_response(200, fixture("get_updates_ok.json"));
    ASSERT_EQ(polled.status, SB_OK) << polled.error;
    ASSERT_EQ(polled.events.size(), 3u);
    EXPECT_EQ(Json(polled.events[0]).integer("/update_id"), 912345101);
    EXPECT_EQ(Json(polled.events[1]).integer("/update_id"), 912345102);
    EXPECT_EQ(Json(polled.events[2]).integer("/update_id"), 912345103);
    // Each emitted update is a webhook body: parse takes it as is.
    EXPECT_EQ(parse_one(polled.events[0]).str("/content/text"), "Anyone there?");
    EXPECT_EQ(parse_one(polled.events[1]).str("/type"), "edit");
    EXPECT_EQ(parse_one(polled.events[2]).str("/content/reply_id"), "handoff");

    RequestResult next = instance_->poll_request();
    ASSERT_EQ(next.status, SB_OK) << next.error;
    EXPECT_EQ(Json(next.request->body).integer("/offset"), 912345104);
}

TEST_F(TelegramPlugin, KeepsOffsetOnEmptyBatchAndNeverMovesItBack) {
    ASSERT_EQ(instance_->poll_response(200, fixture("get_updates_ok.json")).status, SB_OK);
    EventsResult empty = instance_->poll_response(200, fixture("get_updates_empty.json"));
    EXPECT_EQ(empty.status, SB_OK);
    EXPECT_TRUE(empty.events.empty());
    // A late answer to an older poll re-delivers an earlier update: the offset stays put.
    EventsResult late =
        instance_->poll_response(200, R"({"ok":true,"result":[{"update_id":912345050,"poll":{"id":"1"}}]})");
    EXPECT_EQ(late.status, SB_OK);
    EXPECT_EQ(late.events.size(), 1u);
    EXPECT_EQ(Json(instance_->poll_request().request->body).integer("/offset"), 912345104);
}

TEST_F(TelegramPlugin, ReportsWebhookConflictOnPollWithDescription) {
    EventsResult r = instance_->poll_response(409, fixture("get_updates_conflict_409.json"));
    EXPECT_EQ(r.status, SB_E_INVALID);
    EXPECT_TRUE(r.events.empty());
    EXPECT_NE(r.error.find("409"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("webhook is active"), std::string::npos) << r.error;
    EXPECT_EQ(Json(instance_->poll_request().request->body).integer("/offset"), 0);
}

TEST_F(TelegramPlugin, ReportsUnusablePollResponses) {
    EXPECT_EQ(instance_->poll_response(0, "", {}, "timed out").status, SB_E_INVALID);
    EXPECT_EQ(instance_->poll_response(502, "<html>Bad Gateway</html>").status, SB_E_INVALID);
    EXPECT_EQ(instance_->poll_response(200, R"({"ok":true,"result":{}})").status, SB_E_INVALID);
    EXPECT_EQ(instance_->poll_response(200, R"({"result":[]})").status, SB_E_INVALID);
    EventsResult transport =
        instance_->poll_response(0, "", {}, std::string("connect failed for ") + kApi + "getUpdates");
    EXPECT_EQ(transport.error.find(kToken), std::string::npos) << transport.error;
    EXPECT_EQ(Json(instance_->poll_request().request->body).integer("/offset"), 0);
}

TEST_F(TelegramPlugin, HandsOverPolledElementsWithoutUpdateIdForDeadLettering) {
    EventsResult r = instance_->poll_response(
        200, R"({"ok":true,"result":[{"update_id":10,"poll":{}},{"nope":1},{"update_id":11,"poll":{}}]})");
    ASSERT_EQ(r.status, SB_OK) << r.error;
    ASSERT_EQ(r.events.size(), 3u);
    EXPECT_EQ(instance_->parse(r.events[1]).status, SB_E_INVALID);
    EXPECT_EQ(Json(instance_->poll_request().request->body).integer("/offset"), 12);
}

// ---------------------------------------------------------------------------------------------
// secrets

TEST_F(TelegramPlugin, NeverLogsSecrets) {
    instance_->parse(fixture("text_private.json"));
    instance_->parse("garbage");
    send(kTextOut);
    instance_->classify(kTextOut, 0, "", {}, kApi);
    instance_->poll_response(409, fixture("get_updates_conflict_409.json"));
    for (const auto& line : instance_->logs()) {
        EXPECT_EQ(line.message.find(kToken), std::string::npos) << line.message;
        EXPECT_EQ(line.message.find(kSecret), std::string::npos) << line.message;
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Inbound media (ABI 1.3 fetch_media): getFile → file_path → GET /file/bot<token>/<file_path>

namespace {
std::string media_json(const std::string& media, const std::string& state = "") {
    std::string out = R"({"v":1,"content":{"type":"image","media":)" + media + "}";
    if (!state.empty()) out += R"(,"state":")" + state + "\"";
    return out + "}";
}
}  // namespace

TEST_F(TelegramPlugin, FetchesAFileWithGetFileThenTheBotTokenPath) {
    const std::string media = media_json(R"({"id":"AgACAgQ","size":52000,"mime":"image/jpeg"})");
    auto first = instance_->fetch_media(media);
    ASSERT_EQ(first.status, SB_OK) << first.error;
    EXPECT_EQ(first.step.action, SB_MEDIA_REQUEST);
    ASSERT_TRUE(first.request);
    EXPECT_EQ(first.request->method, "POST");
    EXPECT_EQ(first.request->url, std::string(kApi) + "getFile");
    EXPECT_EQ(first.request->header("Content-Type"), "application/json");
    EXPECT_EQ(Json(first.request->body).str("/file_id"), "AgACAgQ");

    auto second = instance_->fetch_media(
        media_json(R"({"id":"AgACAgQ","size":52000,"mime":"image/jpeg"})", first.state()), 200,
        R"({"ok":true,"result":{"file_id":"AgACAgQ","file_unique_id":"AQAD",)"
        R"("file_size":52000,"file_path":"photos/file_7.jpg"}})");
    ASSERT_EQ(second.status, SB_OK) << second.error;
    EXPECT_EQ(second.step.action, SB_MEDIA_DOWNLOAD);
    ASSERT_TRUE(second.request);
    EXPECT_EQ(second.request->method, "GET");
    EXPECT_EQ(second.request->url,
              "https://api.telegram.org/file/bot123456:TEST-token_abc/photos/file_7.jpg");
    EXPECT_EQ(second.step.max_bytes, 20LL * 1024 * 1024);
    EXPECT_EQ(second.step.expected_size, 52000);
    EXPECT_STREQ(second.step.mime_type, "image/jpeg");
    EXPECT_STREQ(second.step.file_name, "file_7.jpg");
    EXPECT_STREQ(second.step.sha256, "");
}

TEST_F(TelegramPlugin, AFileOverTwentyMegabytesIsTooLargeBeforeAnyRequest) {
    auto step = instance_->fetch_media(media_json(R"({"id":"BIG","size":31457280})"));
    ASSERT_EQ(step.status, SB_OK) << step.error;
    EXPECT_EQ(step.step.action, SB_MEDIA_FAILED);
    EXPECT_EQ(step.reason(), "too_large");
    EXPECT_NE(step.message().find("31457280"), std::string::npos);
    EXPECT_FALSE(step.request);
}

TEST_F(TelegramPlugin, GetFileRefusalsBecomeReasons) {
    auto too_big = instance_->fetch_media(
        media_json(R"({"id":"X"})", "getFile"), 400,
        R"({"ok":false,"error_code":400,"description":"Bad Request: file is too big"})");
    EXPECT_EQ(too_big.step.action, SB_MEDIA_FAILED);
    EXPECT_EQ(too_big.reason(), "too_large");
    auto invalid = instance_->fetch_media(
        media_json(R"({"id":"X"})", "getFile"), 400,
        R"({"ok":false,"error_code":400,"description":"Bad Request: invalid file_id"})");
    EXPECT_EQ(invalid.step.action, SB_MEDIA_FAILED);
    EXPECT_EQ(invalid.reason(), "not_found");
    EXPECT_NE(invalid.message().find("invalid file_id"), std::string::npos);
    EXPECT_EQ(invalid.message().find(kToken), std::string::npos);
}

TEST_F(TelegramPlugin, AnExpiredDownloadLinkAsksGetFileOnceMore) {
    auto again = instance_->fetch_media(media_json(R"({"id":"X"})", "file"), 404, "Not Found");
    ASSERT_EQ(again.status, SB_OK) << again.error;
    EXPECT_EQ(again.step.action, SB_MEDIA_REQUEST);
    ASSERT_TRUE(again.request);
    EXPECT_EQ(again.request->url, std::string(kApi) + "getFile");
    auto gone = instance_->fetch_media(media_json(R"({"id":"X"})", "file2"), 404, "Not Found");
    EXPECT_EQ(gone.step.action, SB_MEDIA_FAILED);
    EXPECT_EQ(gone.reason(), "not_found");
}

TEST_F(TelegramPlugin, FetchingMediaWithoutAFileIdIsInvalid) {
    auto step = instance_->fetch_media(R"({"v":1,"content":{"type":"image","media":{}}})");
    EXPECT_EQ(step.status, SB_E_INVALID);
    EXPECT_NE(step.error.find("file_id"), std::string::npos);
}

// Agents' uploads (ABI 1.3 content "upload"): multipart sendPhoto/sendVoice… with the host's
// placeholder where the bytes go; Telegram's limits checked before anything is sent.
TEST_F(TelegramPlugin, SendsAnUploadAsMultipartWithThePlaceholderForTheBytes) {
    auto result = instance_->build_send(
        R"({"v":1,"conversation":{"id":"777"},"reply_to":"777:42","content":{"type":"voice","caption":"listen",)"
        R"("upload":{"id":"3","mime_type":"audio/ogg","size":5000,"file_name":"note.ogg","sha256":"abc123","placeholder":"{{switchboard-upload:abc123}}"}}})");
    ASSERT_EQ(result.status, SB_OK) << result.error;
    ASSERT_TRUE(result.request);
    EXPECT_EQ(result.request->url, std::string(kApi) + "sendVoice");
    EXPECT_EQ(result.request->header("Content-Type"), "multipart/form-data; boundary=switchboard-abc123");
    const std::string& body = result.request->body;
    EXPECT_NE(
        body.find("--switchboard-abc123\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n777\r\n"),
        std::string::npos)
        << body;
    EXPECT_NE(body.find("name=\"caption\"\r\n\r\nlisten\r\n"), std::string::npos);
    EXPECT_NE(
        body.find(
            "name=\"reply_parameters\"\r\n\r\n{\"message_id\":42,\"allow_sending_without_reply\":true}\r\n"),
        std::string::npos);
    EXPECT_NE(body.find("name=\"voice\"; filename=\"note.ogg\"\r\nContent-Type: "
                        "audio/ogg\r\n\r\n{{switchboard-upload:abc123}}\r\n"),
              std::string::npos);
    EXPECT_EQ(body.substr(body.size() - 26), "\r\n--switchboard-abc123--\r\n");
}

TEST_F(TelegramPlugin, RefusesAnUploadOverTelegramsLimitsBeforeSending) {
    auto photo = instance_->build_send(
        R"({"v":1,"conversation":{"id":"777"},"content":{"type":"image","upload":{"mime_type":"image/jpeg","size":10485761,"placeholder":"P"}}})");
    EXPECT_EQ(photo.status, SB_E_INVALID);
    EXPECT_NE(photo.error.find("10 MB"), std::string::npos) << photo.error;
    auto document = instance_->build_send(
        R"({"v":1,"conversation":{"id":"777"},"content":{"type":"document","upload":{"mime_type":"application/pdf","size":52428801,"placeholder":"P"}}})");
    EXPECT_EQ(document.status, SB_E_INVALID);
    auto not_image = instance_->build_send(
        R"({"v":1,"conversation":{"id":"777"},"content":{"type":"image","upload":{"mime_type":"application/pdf","size":10,"placeholder":"P"}}})");
    EXPECT_EQ(not_image.status, SB_E_INVALID);
}
