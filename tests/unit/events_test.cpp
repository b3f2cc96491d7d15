// The host's reader of normalized events (docs/normalized-events.md): what a plugin emits is
// checked field by field before anything is stored.

#include <gtest/gtest.h>

#include "events/normalized.hpp"

namespace {

using sb::events::EventType;
using sb::events::ParseError;
using sb::events::read_event;

constexpr const char* kMessage =
    R"({"v":1,"type":"message","id":"777:42","conversation":{"id":"777","kind":"private"},)"
    R"("sender":{"id":"777","name":"Ada Lovelace","username":"ada"},"timestamp_ms":1732540000000,)"
    R"("reply_to":"777:41","content":{"type":"text","text":"Hello"},"future_field":{"x":1}})";

TEST(NormalizedEvents, ReadsAMessageAndIgnoresUnknownFields) {
    ParseError error;
    auto event = read_event(kMessage, error);
    ASSERT_TRUE(event) << error.message;
    EXPECT_EQ(event->type, EventType::message);
    EXPECT_EQ(event->message_id, "777:42");
    EXPECT_EQ(event->conversation_id, "777");
    EXPECT_EQ(event->conversation_kind, "private");
    EXPECT_EQ(event->sender.name, "Ada Lovelace");
    EXPECT_EQ(event->sender.username, "ada");
    EXPECT_EQ(event->timestamp_ms, 1732540000000);
    EXPECT_EQ(event->reply_to, "777:41");
    EXPECT_EQ(event->content_type, "text");
    EXPECT_EQ(event->content_json, R"({"type":"text","text":"Hello"})");
    EXPECT_FALSE(event->outgoing);
}

TEST(NormalizedEvents, KeepsRawForUnsupportedContent) {
    ParseError error;
    auto event = read_event(
        R"({"v":1,"type":"message","id":"u:1","conversation":{"id":"1"},"sender":{"id":"1"},"timestamp_ms":1,)"
        R"("content":{"type":"unsupported","platform_type":"poll"},"raw":{"update_id":1,"poll":{}}})",
        error);
    ASSERT_TRUE(event) << error.message;
    EXPECT_EQ(event->content_type, "unsupported");
    EXPECT_EQ(event->raw_json, R"({"update_id":1,"poll":{}})");
    EXPECT_EQ(event->content_json,
              R"({"type":"unsupported","platform_type":"poll","raw":{"update_id":1,"poll":{}}})")
        << "the raw update must be stored with the message, not dropped";
}

TEST(NormalizedEvents, ReadsEditStatusTypingAndReaction) {
    ParseError error;
    auto edit = read_event(
        R"({"v":1,"type":"edit","id":"1:2","conversation":{"id":"1"},"timestamp_ms":5,"edited_at_ms":9,)"
        R"("content":{"type":"text","text":"fixed"}})",
        error);
    ASSERT_TRUE(edit) << error.message;
    EXPECT_EQ(edit->edited_at_ms, 9);

    auto status = read_event(
        R"({"v":1,"type":"status","id":"wamid.1","conversation":{"id":"1"},"timestamp_ms":5,"status":"failed",)"
        R"("error":{"code":"131047","message":"Re-engagement message"}})",
        error);
    ASSERT_TRUE(status) << error.message;
    EXPECT_EQ(status->status, "failed");
    EXPECT_EQ(status->error_code, "131047");

    auto typing = read_event(
        R"({"v":1,"type":"typing","conversation":{"id":"1"},"timestamp_ms":5,"state":"on"})", error);
    ASSERT_TRUE(typing) << error.message;
    EXPECT_EQ(typing->typing_state, "on");

    auto reaction = read_event(
        R"({"v":1,"type":"reaction","id":"1:2","conversation":{"id":"1"},"sender":{"id":"1"},"timestamp_ms":5,"emoji":"👍"})",
        error);
    ASSERT_TRUE(reaction) << error.message;
    EXPECT_EQ(reaction->emoji, "👍");
}

TEST(NormalizedEvents, ReadsAWatermarkStatusWithoutAnId) {
    ParseError error;
    auto event = read_event(
        R"({"v":1,"type":"status","conversation":{"id":"psid"},"timestamp_ms":5,"status":"read","watermark_ms":42})",
        error);
    ASSERT_TRUE(event) << error.message;
    EXPECT_EQ(event->watermark_ms, 42);
    EXPECT_TRUE(event->message_id.empty());
    EXPECT_FALSE(read_event(
        R"({"v":1,"type":"status","conversation":{"id":"p"},"timestamp_ms":5,"status":"read"})", error))
        << "a status names a message or a watermark";
    EXPECT_NE(error.message.find("id is required"), std::string::npos) << error.message;
}

struct BadEvent {
    const char* json;
    const char* names;  // what the error message must mention
};

class RejectsBadEvents : public ::testing::TestWithParam<BadEvent> {};

TEST_P(RejectsBadEvents, NamingTheProblem) {
    ParseError error;
    auto event = read_event(GetParam().json, error);
    EXPECT_FALSE(event);
    EXPECT_NE(error.message.find(GetParam().names), std::string::npos) << error.message;
}

INSTANTIATE_TEST_SUITE_P(
    NormalizedEvents, RejectsBadEvents,
    ::testing::Values(
        BadEvent{"{not json", "not valid JSON"}, BadEvent{"[]", "must be a JSON object"},
        BadEvent{R"({"v":2,"type":"message"})", "v must be 1"},
        BadEvent{R"({"v":1,"type":"shout","conversation":{"id":"1"},"timestamp_ms":1})",
                 "unknown event type"},
        BadEvent{R"({"v":1,"type":"message","timestamp_ms":1})", "conversation"},
        BadEvent{R"({"v":1,"type":"message","conversation":{"id":"1"},"timestamp_ms":"x"})", "timestamp_ms"},
        BadEvent{R"({"v":1,"type":"message","conversation":{"id":"1"},"timestamp_ms":1,"sender":{"id":"1"},)"
                 R"("content":{"type":"text"}})",
                 "id is required"},
        BadEvent{R"({"v":1,"type":"message","id":"1","conversation":{"id":"1"},"timestamp_ms":1,)"
                 R"("sender":{"id":5},"content":{"type":"text"}})",
                 "sender.id must be a string"},
        BadEvent{R"({"v":1,"type":"message","id":"1","conversation":{"id":"1"},"timestamp_ms":1,)"
                 R"("sender":{"id":"1"},"content":"hi"})",
                 "content must be an object"},
        BadEvent{
            R"({"v":1,"type":"status","id":"1","conversation":{"id":"1"},"timestamp_ms":1,"status":"lost"})",
            "status must be"},
        BadEvent{R"({"v":1,"type":"typing","conversation":{"id":"1"},"timestamp_ms":1,"state":"maybe"})",
                 "state"},
        BadEvent{"{\"v\":1,\"type\":\"message\",\"id\":\"\xff\"}", "not valid JSON"}));

}  // namespace

TEST(NormalizedEvents, ReadsAnIgnoredUpdateWithOrWithoutAConversation) {
    ParseError error;
    auto bare = read_event(R"({"v":1,"type":"ignored","kind":"inline_query","timestamp_ms":5})", error);
    ASSERT_TRUE(bare) << error.message;
    EXPECT_EQ(bare->type, EventType::ignored);
    EXPECT_EQ(bare->ignored_kind, "inline_query");
    EXPECT_EQ(bare->conversation_id, "");
    auto routed = read_event(
        R"({"v":1,"type":"ignored","kind":"optin","conversation":{"id":"7"},"timestamp_ms":5,"reason":"x"})", error);
    ASSERT_TRUE(routed) << error.message;
    EXPECT_EQ(routed->conversation_id, "7");
}

TEST(NormalizedEvents, RefusesIgnoredKindsThatWouldBloatTheMetricLabels) {
    ParseError error;
    EXPECT_FALSE(read_event(R"({"v":1,"type":"ignored","timestamp_ms":5})", error));
    EXPECT_NE(error.message.find("kind"), std::string::npos) << error.message;
    EXPECT_FALSE(read_event(R"({"v":1,"type":"ignored","kind":"Inline Query!","timestamp_ms":5})", error));
    EXPECT_NE(error.message.find("a-z"), std::string::npos) << error.message;
    EXPECT_FALSE(read_event(
        std::string(R"({"v":1,"type":"ignored","kind":")") + std::string(65, 'a') + R"(","timestamp_ms":5})", error));
    // Other event types still need their conversation.
    EXPECT_FALSE(read_event(R"({"v":1,"type":"typing","state":"on","sender":{"id":"1"},"timestamp_ms":5})", error));
    EXPECT_NE(error.message.find("conversation"), std::string::npos) << error.message;
}
