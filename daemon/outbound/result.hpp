#pragma once
// What became of an agent's reply, in the sender's terms: the API maps each outcome to its
// HTTP status (api/replies.hpp); nothing here knows HTTP.

#include <optional>
#include <string>
#include <utility>

#include "store/store.hpp"

namespace sb::outbound {

struct Result {
    enum class Outcome {
        sent,          // stored with the platform's answer (`stored`; `created` false for a resend)
        nothing_sent,  // an action (typing, read) that had nothing to tell the platform
        invalid,       // the request itself is malformed: body, content
        not_found,     // no such conversation or message (or not visible to the agent)
        conflict,      // not now: the customer blocked the channel, it is being sent, not retryable
        rejected,      // cannot be done as asked: the channel cannot, the key names another message
        refused,       // the platform refused it: `refusal` says how
        paced_out,     // our own rate limit left no slot within the deadline; nothing was sent
        unknown,       // the platform's answer was lost: it may or may not have been delivered
        unavailable,   // the store, the channel or the upload's bytes are not there now
        not_stored,    // sent, but the store did not take the outcome
    };
    // How the platform refused (with Outcome::refused).
    enum class Refusal { rate_limited, credentials, window_closed, rejected, unavailable };

    Outcome outcome = Outcome::sent;
    Refusal refusal = Refusal::unavailable;
    std::string code;     // the error's code for the agent ("window_closed"); "" with sent
    std::string message;  // the error's explanation for the agent
    std::string detail;   // more members of the error object, as JSON ("\"platform_code\":…")
    std::optional<store::Message> stored;  // with sent
    bool created = false;                  // with sent: a new row (not a resend or a replay)
    bool replayed = false;                 // the answer of an earlier request with this key
    int retry_after_s = 0;                 // > 0: when the agent may try again

    static Result error(Outcome outcome, std::string code, std::string message, std::string detail = "") {
        Result result;
        result.outcome = outcome;
        result.code = std::move(code);
        result.message = std::move(message);
        result.detail = std::move(detail);
        return result;
    }
};

}  // namespace sb::outbound
