// Who am I, the channels, and the team: agents, their presence and tokens.

#include <map>

#include "api/handlers/support.hpp"
#include "domain/agents.hpp"
#include "util/random.hpp"
#include "util/time.hpp"

namespace sb::api {

// --- who am I, channels ---

namespace {

// "availability", "presence" and "connected": an agent as colleagues see it (me and the directory).
void write_presence(Writer& w, const notifier::Notifier::Presence& presence) {
    w.Key("availability");
    w.String(presence.availability);
    w.Key("presence");
    w.String(presence.shown());
    w.Key("connected");
    w.Bool(presence.connected);
}

}  // namespace

// {"id","name","role","availability","presence","connected"}: who the token belongs to.
std::string Api::me_json(const Principal& principal) const {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("id");
    w.String(principal.agent_id);
    w.Key("name");
    w.String(principal.name);
    w.Key("role");
    w.String(principal.role);
    write_presence(w, deps_.notifier.presence(principal.agent_id));
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

void Api::me(const Call& call) { call.exchange->respond(http::json_response(200, me_json(*call.principal))); }

// PATCH /api/v1/me {"availability":"online"|"busy"|"offline"}: stored for agents with their
// own tokens, in memory for the bootstrap admin; agent_presence to every session.
void Api::update_me(const Call& call) {
    auto doc = json_body(call);
    if (!doc) return;
    auto field = doc->FindMember("availability");
    if (field == doc->MemberEnd() || !field->value.IsString())
        return bad_request(call, "body must be {\"availability\":\"online\"|\"busy\"|\"offline\"}");
    std::string availability = field->value.GetString();
    on_store(deps_.store, call.exchange,
             [this, availability, principal = call.principal](store::Store& store) {
                 if (principal->token_id.empty()) {
                     domain::check_availability(availability);
                 } else if (!store.set_availability(principal->agent_id, availability)) {
                     return http::error_response(404, "not_found", "the agent is gone");
                 }
                 deps_.notifier.set_availability(principal->agent_id, availability);
                 return http::json_response(200, me_json(*principal));
             });
}

void Api::list_channels(const Call& call) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("items");
    w.StartArray();
    const auto channels = deps_.channels.snapshot();  // held: the loop borrows from it
    for (const auto& [id, channel] : channels->all()) {
        w.StartObject();
        w.Key("id");
        w.String(id);
        w.Key("plugin");
        w.String(channel->plugin_id());
        w.Key("receive");
        w.String(channel->config().receive);
        w.Key("state");
        w.String(channel_state(*channel));
        w.Key("reason");
        std::string reason = channel->ready() ? channel->auth_failure() : channel->failure();
        if (reason.empty())
            w.Null();
        else
            w.String(reason);
        // What an agent may send outside the platform's window (WhatsApp's 24 hours).
        w.Key("templates");
        w.StartArray();
        for (const auto& t : channel->config().templates) {
            w.StartObject();
            w.Key("name");
            w.String(t.name);
            w.Key("language");
            w.String(t.language);
            w.Key("text");
            w.String(t.text);
            w.Key("parameters");
            w.Int(t.parameters);
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    call.exchange->respond(http::json_response(200, buffer.GetString()));
}

// --- agents and tokens (admin) ---

std::vector<store::Agent> Api::team(store::Store& store) const {
    auto agents = store.agents();
    if (auto bootstrap = deps_.auth.bootstrap_agent()) agents.insert(agents.begin(), std::move(*bootstrap));
    return agents;
}

// The directory every agent may read (an assignment menu, @mentions): each colleague with its
// presence and open conversation count.
void Api::list_agents(const Call& call) {
    on_store(deps_.store, call.exchange, [this](store::Store& store) {
        std::map<std::string, int> open;
        for (const auto& [agent, count] : store.open_counts()) open[agent] = count;
        rapidjson::StringBuffer buffer;
        Writer w(buffer);
        w.StartObject();
        w.Key("items");
        w.StartArray();
        for (const auto& agent : team(store)) {
            const auto presence = deps_.notifier.presence(agent.id);
            w.StartObject();
            w.Key("id");
            w.String(agent.id);
            w.Key("name");
            w.String(agent.name);
            w.Key("role");
            w.String(agent.role);
            w.Key("created_at");
            if (agent.created_ms > 0)
                w.String(util::rfc3339(agent.created_ms));
            else
                w.Null();
            write_presence(w, presence);
            w.Key("open_conversations");
            w.Int(open.contains(agent.id) ? open[agent.id] : 0);
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
        return http::json_response(200, std::string(buffer.GetString(), buffer.GetSize()));
    });
}

void Api::create_agent(const Call& call) {
    auto doc = json_body(call);
    if (!doc) return;
    if (!doc->HasMember("name") || !(*doc)["name"].IsString() || (*doc)["name"].GetStringLength() == 0 ||
        (*doc)["name"].GetStringLength() > 200)
        return bad_request(call, "body must be {\"name\": 1..200 characters, \"role\": \"admin\"|\"agent\"}");
    std::string role = "agent";
    if (doc->HasMember("role")) {
        if (!(*doc)["role"].IsString()) return bad_request(call, "role must be admin or agent");
        role = (*doc)["role"].GetString();
    }
    if (role != "admin" && role != "agent") return bad_request(call, "role must be admin or agent");
    std::string name = (*doc)["name"].GetString();
    on_store(deps_.store, call.exchange, [name, role, clock = deps_.clock](store::Store& store) {
        return http::json_response(201, store::to_json(store.create_agent(name, role, clock->now_ms())));
    });
}

void Api::delete_agent(const Call& call) {
    on_store(deps_.store, call.exchange,
             [this, agent_id = std::string(call.params.at(0)),
              by = call.principal->agent_id](store::Store& store) {
                 auto unassigned = store.delete_agent(agent_id, by, deps_.clock->now_ms());
                 if (!unassigned) return http::error_response(404, "not_found", "no such agent");
                 deps_.auth.load(store.active_tokens());
                 deps_.notifier.close_agent(agent_id, "agent deleted");
                 // Open UIs learn who holds those conversations now (nobody), and auto-assignment
                 // takes them again.
                 for (const auto& event : *unassigned) deps_.notifier.publish(event);
                 if (!unassigned->empty() && deps_.on_capacity_changed) deps_.on_capacity_changed();
                 return no_content();
             });
}

void Api::create_token(const Call& call) {
    std::string label;
    std::int64_t expires_ms = 0;
    if (!call.exchange->body().empty()) {
        auto doc = json_body(call);
        if (!doc) return;
        if (doc->HasMember("label")) {
            if (!(*doc)["label"].IsString()) return bad_request(call, "label must be a string");
            label = (*doc)["label"].GetString();
        }
        if (auto at = doc->FindMember("expires_at"); at != doc->MemberEnd() && !at->value.IsNull()) {
            auto parsed = at->value.IsString() ? util::parse_rfc3339(at->value.GetString()) : std::nullopt;
            if (!parsed) return bad_request(call, "expires_at must be an RFC 3339 date-time");
            if (*parsed <= deps_.clock->now_ms())
                return bad_request(call, "expires_at must be in the future");
            expires_ms = *parsed;
        }
    }
    on_store(deps_.store, call.exchange,
             [this, agent_id = std::string(call.params.at(0)), label, expires_ms](store::Store& store) {
                 // The token is shown once, here; only its hash is kept.
                 std::string token = util::new_token();
                 std::string hash = util::sha256_hex(token);
                 auto created = store.add_token(agent_id, hash, label, deps_.clock->now_ms(), expires_ms);
                 if (!created) return http::error_response(404, "not_found", "no such agent");
                 for (const auto& grant : store.active_tokens())
                     if (grant.token_hash == hash) deps_.auth.grant(grant);
                 rapidjson::StringBuffer buffer;
                 Writer w(buffer);
                 w.StartObject();
                 w.Key("id");
                 w.String(created->id);
                 w.Key("agent_id");
                 w.String(created->agent_id);
                 w.Key("label");
                 w.String(created->label);
                 w.Key("token");
                 w.String(token);
                 w.Key("created_at");
                 w.String(util::rfc3339(created->created_ms));
                 w.Key("expires_at");
                 if (created->expires_ms == 0)
                     w.Null();
                 else
                     w.String(util::rfc3339(created->expires_ms));
                 w.EndObject();
                 return http::json_response(201, buffer.GetString());
             });
}

void Api::revoke_token(const Call& call) {
    on_store(deps_.store, call.exchange,
             [this, agent_id = std::string(call.params.at(0)),
              token_id = std::string(call.params.at(1))](store::Store& store) {
                 if (!store.revoke_token(agent_id, token_id, deps_.clock->now_ms()))
                     return http::error_response(404, "not_found", "no such token");
                 deps_.auth.load(store.active_tokens());
                 deps_.notifier.close_token(token_id, "token revoked");
                 return no_content();
             });
}

}  // namespace sb::api
