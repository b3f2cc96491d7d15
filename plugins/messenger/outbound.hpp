#pragma once
// Outbound translation: a normalized outbound request into a Send API call (platforms.md §3.4,
// §3.6, §4.4, §4.5), and the success half of reading its answer (failures are
// sb::meta::classify_graph_failure's).

#include <optional>
#include <string>
#include <string_view>

#include "messaging_common.hpp"
#include "settings.hpp"

namespace sb::messaging {

// A JSON POST to `url`, authenticated with the channel's access token as a Bearer header.
struct ApiRequest {
    std::string url;
    std::string body;
    std::string content_type = "application/json";  // multipart/form-data for an upload
};

// The Send API call for `outbound_json`: text, media by URL (image, video, audio, document as
// `file`), typing on/off and mark_read as sender actions. Throws switchboard::InvalidInput for a
// request that can never be sent (bad JSON, empty or too long text) and switchboard::Unsupported
// for content the Send API cannot carry (other types, a caption on media).
ApiRequest build_send_request(const Product& product, const Settings& settings,
                              std::string_view outbound_json);

// For a 2xx answer that is a Send API result (a JSON object without "error"): the sent
// message's id, empty for sender actions (their answer has recipient_id only). nullopt for
// anything else, which the caller classifies as a failure.
std::optional<std::string> read_send_success(int status, std::string_view body);

}  // namespace sb::messaging
