// Contacts: people across channels, their attributes, merges and merge suggestions.

#include "api/handlers/support.hpp"
#include "domain/search.hpp"
#include "util/time.hpp"

namespace sb::api {

// --- contacts ---

namespace {

std::string contact_attribute_json(const store::ContactAttribute& a) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("key");
    w.String(a.key);
    w.Key("type");
    w.String(a.type);
    w.Key("label");
    w.String(a.label);
    w.Key("created_at");
    w.String(util::rfc3339(a.created_ms));
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

http::Response no_contact() { return http::error_response(404, "not_found", "no such contact"); }

http::Response merge_answer(const store::MergeOutcome& outcome, notifier::Notifier& notifier) {
    using Kind = store::MergeOutcome::Kind;
    if (outcome.kind == Kind::not_found) return no_contact();
    if (outcome.kind == Kind::conflict) return http::error_response(409, "conflict", outcome.reason);
    for (const auto& event : outcome.events) notifier.publish(event);
    return http::json_response(200, store::to_json(outcome.contact));
}

}  // namespace

void Api::list_contacts(const Call& call) {
    const auto& exchange = *call.exchange;
    auto limit = parse_limit(exchange);
    if (!limit) return bad_request(call, "limit must be 1..200");
    const std::string visible_to = call.principal->admin() ? "" : call.principal->agent_id;
    auto cursor = exchange.query("cursor").value_or("");
    std::optional<store::SearchRequest> search;
    if (auto q = exchange.query("q"); q && !q->empty()) {
        search.emplace();
        try {
            search->terms = domain::search_terms(*q);
        } catch (const std::invalid_argument& e) {
            return bad_request(call, e.what());
        }
        search->type = "contacts";
        search->visible_to = visible_to;
        search->limit = *limit;
        search->cursor = cursor;
    }
    on_store(deps_.store, call.exchange, [search, visible_to, limit = *limit, cursor](store::Store& store) {
        store::Page<store::Person> page;
        if (search) {  // ranked, as /search?type=contacts
            auto hits = store.search(*search);
            for (auto& hit : hits.items)
                if (hit.contact) page.items.push_back(std::move(*hit.contact));
            page.next_cursor = hits.next_cursor;
        } else {
            page = store.contacts(visible_to, limit, cursor);
        }
        return http::json_response(200, page_json(page));
    });
}

void Api::get_contact(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id) return call.exchange->respond(no_contact());
    const std::string visible_to = call.principal->admin() ? "" : call.principal->agent_id;
    on_store(deps_.store, call.exchange, [id = *id, visible_to](store::Store& store) {
        auto contact = store.contact(id, visible_to);
        if (!contact) return no_contact();
        return http::json_response(200, store::to_json(*contact));
    });
}

void Api::patch_contact(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id) return call.exchange->respond(no_contact());
    auto doc = json_body(call);
    if (!doc) return;
    store::ContactChange change;
    if (!optional_string(*doc, "name", change.name) || !optional_string(*doc, "email", change.email) ||
        !optional_string(*doc, "phone", change.phone) || !optional_string(*doc, "company", change.company) ||
        !optional_string(*doc, "notes", change.notes))
        return bad_request(call, "name, email, phone, company and notes are strings");
    if (auto it = doc->FindMember("attributes"); it != doc->MemberEnd()) {
        if (!it->value.IsObject()) return bad_request(call, "attributes must be an object");
        rapidjson::StringBuffer buffer;
        Writer w(buffer);
        it->value.Accept(w);
        change.attributes_json.assign(buffer.GetString(), buffer.GetSize());
    }
    if (!change.name && !change.email && !change.phone && !change.company && !change.notes &&
        change.attributes_json.empty())
        return bad_request(call, "body must carry name, email, phone, company, notes and/or attributes");
    const std::string visible_to = call.principal->admin() ? "" : call.principal->agent_id;
    on_store(deps_.store, call.exchange,
             [this, id = *id, change, visible_to, principal = call.principal](store::Store& store) {
                 auto outcome =
                     store.update_contact(id, change, visible_to, principal->agent_id, deps_.clock->now_ms());
                 if (!outcome.contact) return no_contact();
                 if (outcome.event) deps_.notifier.publish(*outcome.event);
                 return http::json_response(200, store::to_json(*outcome.contact));
             });
}

void Api::merge_contact(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id) return call.exchange->respond(no_contact());
    auto doc = json_body(call);
    if (!doc) return;
    std::optional<std::string> other;
    std::optional<std::int64_t> from;
    if (optional_string(*doc, "contact_id", other) && other) from = parse_id(*other);
    if (!from)
        return bad_request(call, "body must be {\"contact_id\":\"<the contact to merge into this one>\"}");
    on_store(deps_.store, call.exchange,
             [this, into = *id, from = *from, principal = call.principal](store::Store& store) {
                 return merge_answer(
                     store.merge_contacts(into, from, principal->agent_id, deps_.clock->now_ms()),
                     deps_.notifier);
             });
}

void Api::unmerge_contact(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id) return call.exchange->respond(no_contact());
    on_store(deps_.store, call.exchange, [this, id = *id, principal = call.principal](store::Store& store) {
        return merge_answer(store.unmerge_contact(id, principal->agent_id, deps_.clock->now_ms()),
                            deps_.notifier);
    });
}

void Api::merge_suggestions(const Call& call) {
    auto limit = parse_limit(*call.exchange);
    if (!limit) return bad_request(call, "limit must be 1..200");
    on_store(deps_.store, call.exchange, [limit = *limit](store::Store& store) {
        rapidjson::StringBuffer buffer;
        Writer w(buffer);
        w.StartObject();
        w.Key("items");
        w.StartArray();
        for (const auto& s : store.merge_suggestions(limit)) {
            w.StartObject();
            w.Key("contact_ids");
            w.StartArray();
            w.String(std::to_string(s.contact_id));
            w.String(std::to_string(s.other_id));
            w.EndArray();
            w.Key("reason");
            w.String("phone");
            w.Key("phone");
            w.String(s.phone);
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
        return http::json_response(200, std::string(buffer.GetString(), buffer.GetSize()));
    });
}

void Api::list_contact_attributes(const Call& call) {
    on_store(deps_.store, call.exchange, [](store::Store& store) {
        std::string out = "{\"items\":[";
        bool first = true;
        for (const auto& a : store.contact_attributes()) {
            if (!first) out += ',';
            first = false;
            out += contact_attribute_json(a);
        }
        out += "]}";
        return http::json_response(200, out);
    });
}

void Api::create_contact_attribute(const Call& call) {
    auto doc = json_body(call);
    if (!doc) return;
    std::optional<std::string> key, type, label;
    if (!optional_string(*doc, "key", key) || !optional_string(*doc, "type", type) ||
        !optional_string(*doc, "label", label) || !key || !type)
        return bad_request(call,
                           "body must be {\"key\":\"…\",\"type\":\"string\"|\"number\"|\"boolean\"|\"date\","
                           "\"label\"?:\"…\"}");
    store::ContactAttribute attribute{*key, *type, label.value_or(""), 0};
    on_store(deps_.store, call.exchange, [attribute, clock = deps_.clock](store::Store& store) {
        auto created = store.define_contact_attribute(attribute, clock->now_ms());
        if (!created) return http::error_response(409, "conflict", "an attribute with that key exists");
        return http::json_response(201, contact_attribute_json(*created));
    });
}

void Api::delete_contact_attribute(const Call& call) {
    on_store(deps_.store, call.exchange, [key = std::string(call.params.at(0))](store::Store& store) {
        if (!store.delete_contact_attribute(key))
            return http::error_response(404, "not_found", "no such attribute");
        return no_content();
    });
}

}  // namespace sb::api
