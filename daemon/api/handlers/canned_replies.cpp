// Canned replies, shared and personal, with their placeholders rendered for a conversation.

#include "api/handlers/support.hpp"
#include "domain/canned.hpp"
#include "util/time.hpp"

namespace sb::api {

// --- canned replies ---

namespace {

http::Response no_canned_reply() { return http::error_response(404, "not_found", "no such canned reply"); }
http::Response canned_conflict() {
    return http::error_response(409, "conflict", "a canned reply with that shortcode exists in that scope");
}

// The refusal of a change to reply `id` by `principal`, nullopt when it may: 404 for what it may
// not see (another agent's personal reply, also for admins), 403 for a shared one it may only use.
std::optional<http::Response> refuse_change(store::Store& store, const Principal& principal,
                                            std::int64_t id) {
    auto reply = store.canned_reply(id);
    const auto access = reply ? domain::canned_access(principal, *reply) : domain::CannedAccess::hidden;
    if (access == domain::CannedAccess::hidden) return no_canned_reply();
    if (access == domain::CannedAccess::read)
        return http::error_response(403, "forbidden", "only admins change shared canned replies");
    return std::nullopt;
}

}  // namespace

// The caller's canned replies (shared and its personal ones), rendered for a conversation it sees
// when one is named.
void Api::list_canned_replies(const Call& call) {
    const auto& exchange = *call.exchange;
    std::optional<std::int64_t> conversation;
    if (auto id = exchange.query("conversation_id"); id && !id->empty()) {
        conversation = parse_id(*id);
        if (!conversation)
            return call.exchange->respond(http::error_response(404, "not_found", "no such conversation"));
    }
    on_store(deps_.store, call.exchange,
             [prefix = exchange.query("prefix").value_or(""), conversation,
              principal = call.principal](store::Store& store) {
                 std::optional<domain::CannedContext> context;
                 if (conversation) {
                     auto c = store.conversation(*conversation);
                     if (!c || !can_see(*principal, c->assignee_id))
                         return http::error_response(404, "not_found", "no such conversation");
                     context = domain::canned_context(*c, *principal);
                 }
                 std::string out = "{\"items\":[";
                 bool first = true;
                 for (const auto& reply : store.canned_replies(principal->agent_id, prefix)) {
                     if (!first) out += ',';
                     first = false;
                     std::optional<std::string> rendered;
                     if (context) rendered = domain::render_canned(reply.text, *context);
                     out += store::to_json(reply, rendered);
                 }
                 return http::json_response(200, out + "]}");
             });
}

void Api::create_canned_reply(const Call& call) {
    auto doc = json_body(call);
    if (!doc) return;
    std::optional<std::string> shortcode, text, scope;
    if (!optional_string(*doc, "shortcode", shortcode) || !optional_string(*doc, "text", text) ||
        !optional_string(*doc, "scope", scope) || !shortcode || !text || !scope)
        return bad_request(
            call, "body must be {\"shortcode\":\"…\",\"text\":\"…\",\"scope\":\"shared\"|\"personal\"}");
    const std::string owner = *scope == "personal" ? call.principal->agent_id : "";
    store::CannedReply draft{0, *shortcode, *text, *scope, owner, 0, 0};
    on_store(deps_.store, call.exchange,
             [draft, principal = call.principal, clock = deps_.clock](store::Store& store) {
                 const std::int64_t now = clock->now_ms();
                 // The rules first: a malformed reply is 400 whoever asks.
                 auto reply = domain::new_canned_reply(draft, now);
                 if (domain::canned_access(*principal, reply) != domain::CannedAccess::write)
                     return http::error_response(403, "forbidden",
                                                 "only admins create shared canned replies");
                 auto created = store.create_canned_reply(reply, now);
                 if (!created) return canned_conflict();
                 return http::json_response(201, store::to_json(*created));
             });
}

void Api::update_canned_reply(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id) return call.exchange->respond(no_canned_reply());
    auto doc = json_body(call);
    if (!doc) return;
    store::CannedChange change;
    if (!optional_string(*doc, "shortcode", change.shortcode) ||
        !optional_string(*doc, "text", change.text) || (!change.shortcode && !change.text))
        return bad_request(call, "body must carry shortcode and/or text");
    on_store(deps_.store, call.exchange,
             [id = *id, change, principal = call.principal, clock = deps_.clock](store::Store& store) {
                 if (auto refusal = refuse_change(store, *principal, id)) return std::move(*refusal);
                 auto outcome = store.update_canned_reply(id, change, clock->now_ms());
                 if (outcome.kind == store::CannedOutcome::Kind::not_found) return no_canned_reply();
                 if (outcome.kind == store::CannedOutcome::Kind::conflict) return canned_conflict();
                 return http::json_response(200, store::to_json(outcome.reply));
             });
}

void Api::delete_canned_reply(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id) return call.exchange->respond(no_canned_reply());
    on_store(deps_.store, call.exchange, [id = *id, principal = call.principal](store::Store& store) {
        if (auto refusal = refuse_change(store, *principal, id)) return std::move(*refusal);
        if (!store.delete_canned_reply(id)) return no_canned_reply();
        return no_content();
    });
}

}  // namespace sb::api
