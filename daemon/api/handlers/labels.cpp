// Labels: admins define them, agents put them on the conversations they see.

#include "api/handlers/support.hpp"
#include "util/time.hpp"

namespace sb::api {

// --- labels ---

void Api::list_labels(const Call& call) {
    on_store(deps_.store, call.exchange, [](store::Store& store) {
        std::string out = "{\"items\":[";
        bool first = true;
        for (const auto& label : store.labels()) {
            if (!first) out += ',';
            first = false;
            out += store::to_json(label);
        }
        return http::json_response(200, out + "]}");
    });
}

void Api::create_label(const Call& call) {
    auto doc = json_body(call);
    if (!doc) return;
    std::optional<std::string> name, color, description;
    if (!optional_string(*doc, "name", name) || !optional_string(*doc, "color", color) ||
        !optional_string(*doc, "description", description) || !name || !color)
        return bad_request(call,
                           "body must be {\"name\":\"…\",\"color\":\"#rrggbb\",\"description\"?:\"…\"}");
    store::Label label{*name, *color, description.value_or(""), 0};
    on_store(deps_.store, call.exchange, [label, clock = deps_.clock](store::Store& store) {
        auto created = store.create_label(label, clock->now_ms());
        if (!created) return http::error_response(409, "conflict", "a label of that name exists");
        return http::json_response(201, store::to_json(*created));
    });
}

void Api::update_label(const Call& call) {
    auto doc = json_body(call);
    if (!doc) return;
    std::optional<std::string> color, description;
    if (!optional_string(*doc, "color", color) || !optional_string(*doc, "description", description) ||
        (!color && !description))
        return bad_request(call, "body must carry color (#rrggbb) and/or description");
    on_store(deps_.store, call.exchange,
             [name = std::string(call.params.at(0)), color, description](store::Store& store) {
                 auto updated = store.update_label(name, color, description);
                 if (!updated) return http::error_response(404, "not_found", "no such label");
                 return http::json_response(200, store::to_json(*updated));
             });
}

void Api::delete_label(const Call& call) {
    on_store(deps_.store, call.exchange, [name = std::string(call.params.at(0))](store::Store& store) {
        if (!store.delete_label(name)) return http::error_response(404, "not_found", "no such label");
        return no_content();
    });
}

void Api::add_conversation_label(const Call& call) {
    auto doc = json_body(call);
    if (!doc) return;
    std::optional<std::string> name;
    if (!optional_string(*doc, "name", name) || !name)
        return bad_request(call, "body must be {\"name\":\"…\"}");
    change_conversation_label(call, *name, true);
}

void Api::remove_conversation_label(const Call& call) {
    change_conversation_label(call, std::string(call.params.at(1)), false);
}

void Api::change_conversation_label(const Call& call, std::string label, bool add) {
    auto id = conversation_id(call);
    if (!id) return;
    on_store(
        deps_.store, call.exchange,
        [this, id = *id, label = std::move(label), add, principal = call.principal](store::Store& store) {
            auto conversation = store.conversation(id);
            if (!conversation || !can_see(*principal, conversation->assignee_id))
                return http::error_response(404, "not_found", "no such conversation");
            auto outcome =
                store.label_conversation(id, label, add, principal->agent_id, deps_.clock->now_ms());
            if (outcome.kind == store::LabelOutcome::Kind::no_conversation)
                return http::error_response(404, "not_found", "no such conversation");
            if (outcome.kind == store::LabelOutcome::Kind::no_label)
                return http::error_response(404, "not_found", "no such label");
            if (outcome.event) deps_.notifier.publish(*outcome.event);
            auto answer = store.conversation_for(id, principal->agent_id);
            return http::json_response(200, store::to_json(answer ? *answer : outcome.conversation));
        });
}

}  // namespace sb::api
