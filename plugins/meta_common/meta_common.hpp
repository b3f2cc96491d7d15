#pragma once
// What Meta's three messaging products (WhatsApp Cloud API, Messenger, Instagram) have in
// common, as a small static library linked into each of their plugins (never the daemon):
// the webhook subscription handshake, X-Hub-Signature-256, and Graph API error bodies.
// Facts: shared/research/platforms.md §1.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <switchboard/plugin.hpp>

namespace sb::meta {

// verify() for a Meta webhook request, complete:
//  - GET with hub.mode=subscribe and hub.verify_token == verify_token (constant time)
//    → host->respond(200, "text/plain", <raw hub.challenge, percent-decoded>) and SB_VERIFY_RESPONDED;
//    any other GET → SB_VERIFY_FORBIDDEN (403).
//  - POST: X-Hub-Signature-256 "sha256=<64 hex>" == HMAC-SHA256(app_secret, raw body), compared in
//    constant time (hex case-insensitive) → SB_VERIFY_ACCEPT; header missing → SB_VERIFY_UNAUTHORIZED;
//    malformed or wrong → SB_VERIFY_UNAUTHORIZED (401, nothing stored).
//  - other methods → SB_VERIFY_BAD_REQUEST.
// Never throws: whatever goes wrong is SB_VERIFY_BAD_REQUEST.
sb_verdict verify_webhook(const switchboard::Host& host, const switchboard::Request& request,
                          switchboard::Call& call, std::string_view app_secret,
                          std::string_view verify_token);

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

// The result of a failed Graph API send (HTTP status != 2xx, or a 2xx carrying "error" or
// lacking the expected success fields). Known codes decide first, then the HTTP status:
//  - SB_SEND_RATE_LIMITED: 4, 17, 32, 613 (Graph throttling), 80007, 130429, 131048, 131056;
//    or no known code and HTTP 429.
//  - SB_SEND_WINDOW_CLOSED: 131047 and 470 (WhatsApp re-engagement), 10 with subcode 2018278
//    (Messenger, outside the allowed window).
//  - SB_SEND_AUTH: 190 (any subcode), 0, 3, 10 (other subcodes but 1893063), 102, 200-299;
//    or no known code and HTTP 401.
//  - SB_SEND_RETRYABLE: 1, 2, 1200, 131000, 131016; or no known code and HTTP 5xx (also a
//    non-JSON 5xx, a 2xx without the expected result, and a transport failure, status 0).
//  - SB_SEND_PERMANENT: everything else (e.g. 100, 131026, 131049, 132001, 551, 10/1893063).
// retry_after_ms comes from a Retry-After header (delta-seconds) for RATE_LIMITED/RETRYABLE.
// platform_code = "<code>" or "<code>/<subcode>" ("http_<status>" without a Graph error body,
// empty for a transport failure); message = the error message (+ ": " details) and the
// fbtrace_id (the host truncates what does not fit). Facts: platforms.md 1.4, 2.10, 3.7; 17/32/102 from
// Meta's Graph API error-handling and rate-limiting guides. platform_id is always empty. Never throws: an
// internal failure is SB_SEND_RETRYABLE.
switchboard::SendResult classify_graph_failure(const switchboard::Response& response);

// What a Meta plugin's classify_send reports when it cannot classify (Instance::unclassified):
// the outcome is unknown, and for a customer reply a possible duplicate is better than a loss.
switchboard::SendResult unclassified(std::string_view why);

}  // namespace sb::meta
