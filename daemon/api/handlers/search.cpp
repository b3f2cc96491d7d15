// Search over messages, conversations and contacts.

#include "domain/search.hpp"
#include "api/handlers/support.hpp"

namespace sb::api {

// --- search ---

void Api::search(const Call& call) {
    const auto& exchange = *call.exchange;
    auto limit = parse_limit(exchange);
    if (!limit) return bad_request(call, "limit must be 1..200");
    store::SearchRequest request;
    try {
        request.terms = domain::search_terms(exchange.query("q").value_or(""));
    } catch (const std::invalid_argument& e) {
        return bad_request(call, e.what());
    }
    // An unknown type is the store's std::invalid_argument: 400 (store/rules.hpp, one rule).
    request.type = exchange.query("type").value_or("messages");
    request.channel_id = exchange.query("channel").value_or("");
    request.status = exchange.query("status").value_or("");
    if (!request.status.empty() && !is_status(request.status))
        return bad_request(call, "status must be open, pending, snoozed or resolved");
    if (!call.principal->admin()) request.visible_to = call.principal->agent_id;
    request.limit = *limit;
    request.cursor = exchange.query("cursor").value_or("");
    on_store(deps_.store, call.exchange, [request, principal = call.principal](store::Store& store) {
        auto page = store.search(request);
        // Belt and braces: never show what this principal may not see.
        std::erase_if(page.items, [&](const store::SearchHit& hit) {
            return hit.conversation && !can_see(*principal, hit.conversation->assignee_id);
        });
        domain::highlight(page.items, request.terms);
        return http::json_response(200, page_json(page));
    });
}

}  // namespace sb::api
