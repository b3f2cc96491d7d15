// Conversations: the inbox list and its counts, one conversation, its changes (status, priority,
// snooze, assignment), notes, read state and typing.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/handlers/support.hpp"
#include "api/replies.hpp"
#include "domain/notes.hpp"
#include "domain/search.hpp"
#include "metrics/metrics.hpp"
#include "util/time.hpp"

namespace sb::api {

namespace {

std::string counts_json(const store::ConversationCounts& counts) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    auto bucket = [&](const char* name, const store::StatusCounts& c) {
        w.Key(name);
        w.StartObject();
        w.Key("open");
        w.Int64(c.open);
        w.Key("pending");
        w.Int64(c.pending);
        w.Key("snoozed");
        w.Int64(c.snoozed);
        w.Key("resolved");
        w.Int64(c.resolved);
        w.EndObject();
    };
    w.StartObject();
    bucket("mine", counts.mine);
    bucket("unassigned", counts.unassigned);
    bucket("all", counts.all);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace

// --- conversations ---

void Api::list_conversations(const Call& call) {
    const auto& exchange = *call.exchange;
    auto limit = parse_limit(exchange);
    if (!limit) return bad_request(call, "limit must be 1..200");
    auto filter = list_filter(call);
    if (!filter) return;
    filter->status = exchange.query("status").value_or("");
    for (std::string_view rest = filter->status; !rest.empty();) {
        auto comma = rest.find(',');
        if (!is_status(rest.substr(0, comma)))
            return bad_request(call,
                               "status must be open, pending, snoozed or resolved, or several of them "
                               "comma-separated");
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (comma != std::string_view::npos && rest.empty())
            return bad_request(call, "status ends with a comma");
    }
    filter->assignee = exchange.query("assignee").value_or("");
    if (filter->assignee == "me") filter->assignee = call.principal->agent_id;
    if (exchange.query("search")) return bad_request(call, "the list's search parameter is q");
    if (auto q = exchange.query("q"); q && !q->empty()) {
        try {
            filter->search = domain::search_terms(*q);
        } catch (const std::invalid_argument& e) {
            return bad_request(call, e.what());
        }
    }
    auto cursor = exchange.query("cursor").value_or("");
    on_store(deps_.store, call.exchange,
             [filter = *filter, limit = *limit, cursor, principal = call.principal](store::Store& store) {
                 auto page = store.conversations(filter, limit, cursor);
                 // Belt and braces: never list what this principal may not see.
                 std::erase_if(page.items, [&](const store::Conversation& c) {
                     return !can_see(*principal, c.assignee_id);
                 });
                 return http::json_response(200, page_json(page));
             });
}

// The filters the list and the counts share (channel, label, priority), who may see what and
// whose read state list items carry; answers 400 itself for a malformed one.
std::optional<store::ConversationFilter> Api::list_filter(const Call& call) {
    const auto& exchange = *call.exchange;
    store::ConversationFilter filter;
    filter.channel_id = exchange.query("channel").value_or("");
    filter.label = exchange.query("label").value_or("");
    filter.priority = exchange.query("priority").value_or("");
    if (!filter.priority.empty() && !is_priority(filter.priority)) {
        bad_request(call, "priority must be none, low, medium, high or urgent");
        return std::nullopt;
    }
    if (!call.principal->admin()) filter.visible_to = call.principal->agent_id;
    filter.reader = call.principal->agent_id;
    return filter;
}

void Api::conversation_counts(const Call& call) {
    auto filter = list_filter(call);
    if (!filter) return;
    on_store(deps_.store, call.exchange, [filter = *filter](store::Store& store) {
        return http::json_response(200, counts_json(store.conversation_counts(filter)));
    });
}

void Api::get_conversation(const Call& call) {
    auto id = conversation_id(call);
    if (!id) return;
    on_store(deps_.store, call.exchange, [id = *id, principal = call.principal](store::Store& store) {
        auto conversation = store.conversation_for(id, principal->agent_id);
        if (!conversation || !can_see(*principal, conversation->assignee_id))
            return http::error_response(404, "not_found", "no such conversation");
        return http::json_response(200, store::to_json(*conversation));
    });
}

void Api::patch_conversation(const Call& call) {
    auto id = conversation_id(call);
    if (!id) return;
    auto doc = json_body(call);
    if (!doc) return;
    // The values are checked by the rule (domain::update): an invalid one is 400 from there.
    store::ConversationChange change;
    auto string_member = [&](const char* name) -> std::optional<std::string> {
        auto it = doc->FindMember(name);
        if (it == doc->MemberEnd() || !it->value.IsString()) return std::nullopt;
        return std::string(it->value.GetString(), it->value.GetStringLength());
    };
    for (const char* name : {"status", "priority", "snoozed_until"})
        if (auto it = doc->FindMember(name);
            it != doc->MemberEnd() && !it->value.IsString() &&
            !(it->value.IsNull() && std::string_view(name) == "snoozed_until"))
            return bad_request(call, fmt::format("{} must be a string", name));
    change.status = string_member("status");
    change.priority = string_member("priority");
    if (auto until = string_member("snoozed_until")) {
        auto parsed = util::parse_rfc3339(*until);
        if (!parsed) return bad_request(call, "snoozed_until must be an RFC 3339 date-time");
        change.snoozed_until_ms = *parsed;
    }
    if (!change.status && !change.priority)
        return bad_request(call,
                           "body must carry status (open, pending, snoozed with snoozed_until, resolved) "
                           "and/or priority (none, low, medium, high, urgent)");
    on_store(deps_.store, call.exchange,
             [this, id = *id, change, principal = call.principal](store::Store& store) {
                 auto conversation = store.conversation(id);
                 if (!conversation || !can_see(*principal, conversation->assignee_id))
                     return http::error_response(404, "not_found", "no such conversation");
                 auto outcome =
                     store.update_conversation(id, change, principal->agent_id, deps_.clock->now_ms());
                 if (!outcome.conversation)
                     return http::error_response(404, "not_found", "no such conversation");
                 // Every device of whoever sees it learns of the change (a resolve on the
                 // phone closes it on the desktop too).
                 for (const auto& event : outcome.events) deps_.notifier.publish(event);
                 if (!outcome.events.empty() && deps_.on_capacity_changed) deps_.on_capacity_changed();
                 auto answer = store.conversation_for(id, principal->agent_id);
                 return http::json_response(200, store::to_json(answer ? *answer : *outcome.conversation));
             });
}

void Api::assign_conversation(const Call& call) {
    auto id = conversation_id(call);
    if (!id) return;
    auto doc = json_body(call);
    if (!doc) return;
    if (!doc->HasMember("agent_id") || !((*doc)["agent_id"].IsString() || (*doc)["agent_id"].IsNull()))
        return bad_request(call, "body must be {\"agent_id\": an agent id or null}");
    std::string target = (*doc)["agent_id"].IsNull() ? "" : (*doc)["agent_id"].GetString();
    on_store(deps_.store, call.exchange,
             [this, id = *id, target, principal = call.principal](store::Store& store) {
                 auto conversation = store.conversation(id);
                 // A conversation the agent may not see does not exist for it, also when it tries
                 // to take it: the answer never tells who holds it.
                 if (!conversation || !can_see(*principal, conversation->assignee_id))
                     return http::error_response(404, "not_found", "no such conversation");
                 // Admins assign anyone. An agent takes an unassigned conversation or hands back its own;
                 // the expected current assignee makes either atomic against a concurrent change.
                 std::optional<std::string> expected;
                 if (!principal->admin()) {
                     if (target == principal->agent_id)
                         expected = "";
                     else if (target.empty())
                         expected = principal->agent_id;
                     else
                         return http::error_response(403, "forbidden",
                                                     "agents can take or hand back conversations only");
                 }
                 auto outcome =
                     store.assign(id, target, expected, principal->agent_id, deps_.clock->now_ms());
                 switch (outcome.kind) {
                     case store::AssignOutcome::Kind::not_found:
                         return http::error_response(404, "not_found", "no such conversation");
                     case store::AssignOutcome::Kind::conflict:
                         // Lost a race inside the store: the holder is named only to whoever may see it.
                         if (!can_see(*principal, outcome.conversation.assignee_id))
                             return http::error_response(409, "conflict",
                                                         "the conversation was assigned meanwhile");
                         return http::error_response(
                             409, "conflict", "the conversation was assigned meanwhile",
                             "\"assignee_id\":\"" + outcome.conversation.assignee_id + "\"");
                     case store::AssignOutcome::Kind::assigned:
                         deps_.notifier.publish(outcome.event);
                         if (deps_.on_capacity_changed) deps_.on_capacity_changed();
                         [[fallthrough]];
                     case store::AssignOutcome::Kind::unchanged:
                         break;
                 }
                 return http::json_response(200, store::to_json(outcome.conversation));
             });
}

void Api::send_typing(const Call& call) { forward_action(call, outbound::SendRequest::Kind::typing); }

// A private note: stored and pushed to the team, never sent to the platform (domain/notes.hpp).
void Api::add_note(const Call& call) {
    auto id = conversation_id(call);
    if (!id) return;
    auto doc = json_body(call);
    if (!doc) return;
    auto text = doc->FindMember("text");
    if (text == doc->MemberEnd() || !text->value.IsString())
        return bad_request(call, "body must be {\"text\":\"…\"}");
    store::NewNote note;
    note.conversation_id = *id;
    note.author_id = call.principal->agent_id;
    note.author_name = call.principal->name;
    note.text.assign(text->value.GetString(), text->value.GetStringLength());
    on_store(deps_.store, call.exchange,
             [this, note = std::move(note), principal = call.principal](store::Store& store) mutable {
                 auto conversation = store.conversation(note.conversation_id);
                 if (!conversation || !can_see(*principal, conversation->assignee_id))
                     return http::error_response(404, "not_found", "no such conversation");
                 if (note.text.find('@') != std::string::npos)
                     note.mentions = domain::mentioned_agents(note.text, team(store), note.author_id);
                 auto outcome = store.add_note(note, deps_.clock->now_ms());
                 if (!outcome.found) return http::error_response(404, "not_found", "no such conversation");
                 for (const auto& event : outcome.events) deps_.notifier.publish(event);
                 return http::json_response(201, store::to_json(outcome.note));
             });
}

void Api::mark_read(const Call& call) { move_read_position(call, true); }

void Api::mark_unread(const Call& call) { move_read_position(call, false); }

// The local read state is what the agent asked for: it is recorded whatever the platform says.
// A read is then also marked on the platform where the channel can; a channel that cannot, or
// a platform that refuses or fails, is logged and does not fail the request.
void Api::move_read_position(const Call& call, bool read) {
    auto id = conversation_id(call);
    if (!id) return;
    std::int64_t message_id = 0;
    if (read && !call.exchange->body().empty()) {
        auto doc = json_body(call);
        if (!doc) return;
        if (auto it = doc->FindMember("message_id"); it != doc->MemberEnd()) {
            auto parsed = it->value.IsString() ? parse_id(it->value.GetString()) : std::nullopt;
            if (!parsed) return bad_request(call, "message_id must be a message id");
            message_id = *parsed;
        }
    }
    deps_.store.post([this, call, id = *id, message_id, read](store::Store& store) {
        const auto& principal = *call.principal;
        store::ReadOutcome outcome;
        try {
            auto conversation = store.conversation(id);
            if (!conversation || !can_see(principal, conversation->assignee_id))
                return call.exchange->respond(http::error_response(404, "not_found", "no such conversation"));
            outcome = read ? store.mark_read(id, principal.agent_id, message_id, deps_.clock->now_ms())
                           : store.mark_unread(id, principal.agent_id, deps_.clock->now_ms());
        } catch (const std::exception& e) {
            metrics::registry().store_errors.with({"api"}).inc();
            return call.exchange->respond(store_unavailable(e));
        }
        if (outcome.kind == store::ReadOutcome::Kind::no_conversation)
            return call.exchange->respond(http::error_response(404, "not_found", "no such conversation"));
        if (outcome.kind == store::ReadOutcome::Kind::no_message)
            return call.exchange->respond(
                http::error_response(400, "bad_request", "message_id is not a message of this conversation"));
        // Every session of this agent (its other tabs and devices) clears or sets the badge.
        deps_.notifier.publish_to_agent(principal.agent_id, "conversation_read",
                                        store::read_data(outcome.conversation, principal.agent_id));
        if (!read) return call.exchange->respond(no_content());
        outbound::SendRequest request;
        request.kind = outbound::SendRequest::Kind::mark_read;
        request.conversation_id = id;
        request.agent = call.principal;
        deps_.sender.send(std::move(request), [exchange = call.exchange, id](outbound::Result result) {
            auto response = reply_response(result);
            if (response.status >= 300)
                spdlog::info("read not marked on the platform conversation={} status={} answer={}", id,
                             response.status, response.body);
            exchange->respond(no_content());
        });
    });
}

// Typing and read receipts go to the platform through the sender; nothing is stored.
void Api::forward_action(const Call& call, outbound::SendRequest::Kind kind) {
    auto id = conversation_id(call);
    if (!id) return;
    outbound::SendRequest request;
    request.kind = kind;
    request.conversation_id = *id;
    request.agent = call.principal;
    request.body = call.exchange->take_body();
    deps_.sender.send(std::move(request), [exchange = call.exchange](outbound::Result result) {
        exchange->respond(reply_response(result));
    });
}

}  // namespace sb::api
