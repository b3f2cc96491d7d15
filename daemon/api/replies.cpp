#include "api/replies.hpp"

#include <string>

#include "store/json.hpp"

namespace sb::api {
namespace {

using Outcome = outbound::Result::Outcome;
using Refusal = outbound::Result::Refusal;

int refusal_status(Refusal refusal) {
    switch (refusal) {
        case Refusal::rate_limited:
            return 429;
        case Refusal::window_closed:
        case Refusal::rejected:
            return 422;
        case Refusal::credentials:
        case Refusal::unavailable:
            break;
    }
    return 502;
}

int error_status(const outbound::Result& result) {
    switch (result.outcome) {
        case Outcome::invalid:
            return 400;
        case Outcome::not_found:
            return 404;
        case Outcome::conflict:
            return 409;
        case Outcome::rejected:
            return 422;
        case Outcome::refused:
            return refusal_status(result.refusal);
        case Outcome::paced_out:
            return 429;
        case Outcome::not_stored:
            return 500;
        case Outcome::unavailable:
            return 503;
        case Outcome::unknown:
            return 504;
        case Outcome::sent:
        case Outcome::nothing_sent:
            break;
    }
    return 500;
}

}  // namespace

http::Response reply_response(const outbound::Result& result) {
    http::Response response;
    if (result.outcome == Outcome::nothing_sent) {
        response.status = 204;
        response.content_type.clear();
    } else if (result.outcome == Outcome::sent && result.stored) {
        response = http::json_response(result.created ? 201 : 200, store::to_json(*result.stored));
    } else {
        response = http::error_response(error_status(result), result.code, result.message, result.detail);
    }
    if (result.retry_after_s > 0)
        response.headers.emplace_back("Retry-After", std::to_string(result.retry_after_s));
    if (result.replayed) response.headers.emplace_back("Idempotent-Replayed", "true");
    return response;
}

}  // namespace sb::api
