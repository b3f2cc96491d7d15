// A conversation's history, replies and their retries.

#include "api/handlers/support.hpp"
#include "api/replies.hpp"

namespace sb::api {

// --- messages ---

void Api::list_messages(const Call& call) {
    auto id = conversation_id(call);
    if (!id) return;
    auto limit = parse_limit(*call.exchange);
    if (!limit) return bad_request(call, "limit must be 1..200");
    std::int64_t before = 0;
    if (auto text = call.exchange->query("before"); text && !text->empty()) {
        auto value = parse_id(*text);
        if (!value) return bad_request(call, "before must be a message id");
        before = *value;
    }
    on_store(deps_.store, call.exchange,
             [id = *id, limit = *limit, before, principal = call.principal](store::Store& store) {
                 auto conversation = store.conversation(id);
                 if (!conversation || !can_see(*principal, conversation->assignee_id))
                     return http::error_response(404, "not_found", "no such conversation");
                 return http::json_response(200, page_json(store.messages(id, limit, before)));
             });
}

void Api::send_message(const Call& call) {
    auto id = conversation_id(call);
    if (!id) return;
    outbound::SendRequest request;
    request.conversation_id = *id;
    request.agent = call.principal;
    if (auto key = call.exchange->header("Idempotency-Key")) {
        if (key->empty() || key->size() > 255)
            return bad_request(call, "Idempotency-Key must be 1..255 characters");
        request.idempotency_key = std::string(*key);
    }
    // The sending tab's session (hello's session_id): every other session gets message_sent.
    if (auto session = call.exchange->header("X-Switchboard-Session"); session && session->size() <= 64)
        request.origin = std::string(*session);
    request.body = call.exchange->take_body();
    deps_.sender.send(std::move(request), [exchange = call.exchange](outbound::Result result) {
        exchange->respond(reply_response(result));
    });
}

void Api::retry_message(const Call& call) {
    auto id = conversation_id(call);
    if (!id) return;
    auto message_id = parse_id(call.params.at(1));
    if (!message_id) return call.exchange->respond(http::error_response(404, "not_found", "no such message"));
    outbound::SendRequest request;
    request.conversation_id = *id;
    request.agent = call.principal;
    request.retry_of = *message_id;
    deps_.sender.send(std::move(request), [exchange = call.exchange](outbound::Result result) {
        exchange->respond(reply_response(result));
    });
}

}  // namespace sb::api
