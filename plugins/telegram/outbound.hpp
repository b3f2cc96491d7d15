#pragma once
// Outbound translation: normalized outbound requests into Bot API calls, the Bot API's answers
// into send results, and the getUpdates long poll.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"

namespace sb::telegram {

// An HTTP request for the host to send. `url` contains the bot token: never log it.
struct ApiRequest {
    std::string url;
    std::string body;              // JSON, sent with Content-Type: application/json
    std::uint32_t timeout_ms = 0;  // 0 = host default
    std::string content_type = "application/json";  // multipart/form-data for uploads
};

// The Bot API call for one normalized outbound request. Throws InvalidInput for a request
// that can never be sent (bad JSON, empty or too long text) and Unsupported for a content type
// Telegram or this plugin cannot send.
ApiRequest build_send_request(const Settings& settings, std::string_view outbound_json);

// answerCallbackQuery for a tapped inline button: acknowledges it without a notification.
ApiRequest answer_callback_request(const Settings& settings, std::string_view callback_query_id);

// What classify_send reports; mirrors sb_send_result without the fixed arrays.
struct SendOutcome {
    int send_class = 0;  // sb_send_class
    std::uint32_t retry_after_ms = 0;
    std::string platform_id;
    std::string platform_code;
    std::string message;
};

// Classifies the Bot API's answer. `status` 0 = no HTTP response (`transport_error` says why);
// `retry_after_header` is the Retry-After header, if any.
SendOutcome classify_send_response(int status, std::string_view body, std::string_view transport_error,
                                   std::optional<std::string_view> retry_after_header);

// getUpdates from `offset`.
ApiRequest build_poll_request(const Settings& settings, std::int64_t offset);

struct PollBatch {
    // Each element of `result`, re-serialized, in order; elements that are not Updates are
    // kept too, so the host dead-letters them instead of their vanishing.
    std::vector<std::string> updates;
    std::vector<std::optional<std::int64_t>> update_ids;  // update_ids[i] belongs to updates[i]
};

// Reads a getUpdates answer. Throws InvalidInput for a transport error, a non-JSON body or
// {"ok":false} (e.g. 409 while a webhook is set), with Telegram's description.
PollBatch read_poll_response(int status, std::string_view body, std::string_view transport_error);

}  // namespace sb::telegram
