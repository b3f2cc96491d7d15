#pragma once
// What Meta's three messaging products (WhatsApp Cloud API, Messenger, Instagram) have in
// common, as a small static library linked into each of their plugins (never the daemon):
// the webhook subscription handshake, X-Hub-Signature-256, and Graph API error bodies.
// Facts: shared/research/platforms.md §1.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <switchboard/plugin_abi.h>

namespace sb::meta {

// verify() for a Meta webhook request, complete:
//  - GET with hub.mode=subscribe and hub.verify_token == verify_token (constant time)
//    → host->respond(200, "text/plain", <raw hub.challenge, percent-decoded>) and SB_VERIFY_RESPONDED;
//    any other GET → SB_VERIFY_FORBIDDEN (403).
//  - POST: X-Hub-Signature-256 "sha256=<64 hex>" == HMAC-SHA256(app_secret, raw body), compared in
//    constant time (hex case-insensitive) → SB_VERIFY_ACCEPT; header missing → SB_VERIFY_UNAUTHORIZED;
//    malformed or wrong → SB_VERIFY_UNAUTHORIZED (401, nothing stored).
//  - other methods → SB_VERIFY_BAD_REQUEST.
sb_verdict verify_webhook(const sb_host_services* host, sb_call* call, const sb_http_request* request,
                          std::string_view app_secret, std::string_view verify_token);

// A Graph API error body {"error":{message,type,code,error_subcode,error_data.details,fbtrace_id}}.
struct GraphError {
    int code = 0;
    int subcode = 0;
    std::string message;
    std::string type;
    std::string details;
    std::string fbtrace_id;
};
std::optional<GraphError> parse_graph_error(std::string_view body);

// Fills `result` for a failed Graph API send (HTTP status != 2xx, or a 2xx carrying "error"):
// class from code/subcode/status — throttling codes (4, 17, 32, 613, 80007, 130429, 131048,
// 131056, …) → SB_SEND_RATE_LIMITED (retry_after_ms from a Retry-After header when present);
// 190 and other OAuth/permission codes (10, 102, 200-299 permission family, 463, 467) →
// SB_SEND_AUTH; outside the customer-service window (WhatsApp 131047, Messenger 10 with subcode
// 2018278, 551 …) → SB_SEND_WINDOW_CLOSED; 1, 2, 131000, 131016 and any 5xx → SB_SEND_RETRYABLE;
// everything else → SB_SEND_PERMANENT. platform_code = "<code>" or "<code>/<subcode>", message =
// the error message (+ details). A transport failure (status 0) → SB_SEND_RETRYABLE.
void classify_graph_failure(const sb_http_response* response, sb_send_result* result);

// Copies into a fixed plugin→host buffer, truncating at a UTF-8 boundary, always NUL-terminated.
void copy_bounded(char* dest, std::size_t size, std::string_view text);

}  // namespace sb::meta
