#pragma once
// Outbound: the normalized outbound request goes to the user's callback_url as it is, signed;
// the callback's answer is classified into a send result.

#include <optional>
#include <string>
#include <string_view>

#include <switchboard/plugin.hpp>

namespace api_channel {

// Content types this channel sends (the capabilities: text, media by URL, typing).
// Checks the outbound request and returns its content type. Throws InvalidInput naming the
// field, or Unsupported for a content type the channel does not carry (template, mark_read).
std::string check_outbound(std::string_view outbound_json);

// Classifies the callback's answer: 2xx with {"id":"..."} → OK; 429 → rate limited (Retry-After
// seconds); 401/403 → auth; 5xx or no response → retryable; any other status → permanent.
// `needs_id`: a message needs the id back; typing does not.
switchboard::SendResult classify_callback(int status, std::string_view body, std::string_view transport_error,
                                          std::optional<std::string_view> retry_after, bool needs_id);

}  // namespace api_channel
