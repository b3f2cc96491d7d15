#pragma once
// The agent's HTTP answer for what became of a reply, typing or read receipt (outbound::Result):
// the one place the sender's outcomes become status codes.

#include "http/server.hpp"
#include "outbound/result.hpp"

namespace sb::api {

// sent → 201 (a new row) or 200 (a resend, a replay) with the stored message; nothing_sent → 204;
// invalid 400, not_found 404, conflict 409, rejected 422, paced_out 429, not_stored 500,
// unavailable 503, unknown 504; refused by the platform: rate_limited 429, credentials 502,
// window_closed and rejected 422, unavailable 502. retry_after_s > 0 adds Retry-After, a replay
// Idempotent-Replayed.
http::Response reply_response(const outbound::Result& result);

}  // namespace sb::api
