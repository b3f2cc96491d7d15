#pragma once
// Outbound translation: a normalized outbound request into a Cloud API call
// (platforms.md 2.7, 2.8), and the API's answer into a send result.

#include <switchboard/plugin.hpp>

#include <string>
#include <string_view>

#include <optional>

#include "config.hpp"

namespace sb::whatsapp {

struct ApiRequest {
    std::string url;
    std::string body;  // JSON, or multipart for an upload
    std::string content_type = "application/json";
};

// POST {api_base}/{phone_number_id}/messages for one outbound request:
//  - text {"text"} (≤ 4096 characters), image/document/audio/video by {"url","caption"?}
//    (document also "file_name"), template {"name","language","components"?}: to the
//    customer (recipient.id, else conversation.id), quoting reply_to when given;
//  - mark_read {"id"}; typing {"state":"on","message_id"} (WhatsApp shows typing only while
//    marking an inbound message read).
// Throws switchboard::InvalidInput for a request that can never be sent and switchboard::Unsupported
// for one WhatsApp or this plugin cannot carry out (other content types, typing without a
// message id or "off", a caption on audio, a recipient that is a business-scoped user id).
//  - content with "upload" (an agent's file, ABI 1.3): POST {api_base}/{phone_number_id}/media as
//    multipart (messaging_product, type, file), checked against WhatsApp's limits first (image
//    jpeg/png 5 MB, video and audio 16 MB, document 100 MB); the message then goes by media id
//    (build_send_by_media_id) once classify_send has the upload's {"id"}.
ApiRequest build_send_request(const Settings& settings, std::string_view outbound_json);
ApiRequest build_send_by_media_id(const Settings& settings, std::string_view outbound_json,
                                  std::string_view media_id);
// The media id of a 2xx answer to the upload (no "messages" in it), or nullopt.
std::optional<std::string> uploaded_media_id(std::string_view outbound_json, const switchboard::Response& response);

// The send result for the answer to a build_send_request() request: 2xx with messages[0].id
// → SB_SEND_OK with the wamid (mark_read/typing: {"success":true} → SB_SEND_OK, no id);
// anything else through sb::meta::classify_graph_failure.
switchboard::SendResult classify_send_response(std::string_view outbound_json,
                                               const switchboard::Response& response);

}  // namespace sb::whatsapp
