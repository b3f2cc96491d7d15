#include "api/rest.hpp"

#include <cctype>
#include <charconv>
#include <map>

#include <rapidjson/document.h>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <switchboard/json.hpp>
#include <switchboard/plugin.hpp>

#include "api/replies.hpp"
#include "api/uploads.hpp"
#include "domain/agents.hpp"
#include "domain/canned.hpp"
#include "domain/notes.hpp"
#include "domain/search.hpp"
#include "http/multipart.hpp"
#include "metrics/metrics.hpp"
#include "store/json.hpp"
#include "util/random.hpp"
#include "util/time.hpp"

namespace sb::api {
namespace {

using ExchangePtr = std::shared_ptr<http::Exchange>;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Splits "/a/b/c" into {"a","b","c"}.
std::vector<std::string_view> segments(std::string_view path) {
    std::vector<std::string_view> out;
    while (!path.empty()) {
        if (path.front() == '/') {
            path.remove_prefix(1);
            continue;
        }
        auto end = path.find('/');
        out.push_back(path.substr(0, end));
        path = end == std::string_view::npos ? std::string_view() : path.substr(end);
    }
    return out;
}

// Canonical decimal ids only: "01" is not conversation 1 (docs/openapi.yaml: ^[1-9][0-9]*$).
std::optional<std::int64_t> parse_id(std::string_view text) {
    if (text.empty() || text.front() == '0') return std::nullopt;
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value <= 0) return std::nullopt;
    return value;
}

// ?limit= within [1, 200], default 50; nullopt when malformed.
std::optional<int> parse_limit(const http::Exchange& exchange) {
    auto text = exchange.query("limit");
    if (!text) return 50;
    auto value = parse_id(*text);
    if (!value || *value > 200) return std::nullopt;
    return static_cast<int>(*value);
}

template <typename T>
std::string page_json(const store::Page<T>& page) {
    std::string out = "{\"items\":[";
    for (std::size_t i = 0; i < page.items.size(); ++i) {
        if (i) out += ',';
        out += store::to_json(page.items[i]);
    }
    out += "],\"next_cursor\":";
    if (page.next_cursor.empty()) {
        out += "null";
    } else {
        out += '"';
        out += page.next_cursor;  // cursors are [0-9_] only
        out += '"';
    }
    out += '}';
    return out;
}

// ready: loaded and accepted by the platform; unhealthy: its credentials were refused;
// failed: the plugin or its settings were refused at start.
const char* channel_state(const plugin_host::Channel& channel) {
    if (!channel.ready()) return "failed";
    return channel.auth_failure().empty() ? "ready" : "unhealthy";
}

std::string dead_letters_json(const std::vector<store::DeadLetter>& letters) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("items");
    w.StartArray();
    for (const auto& letter : letters) {
        w.StartObject();
        w.Key("id");
        w.String(std::to_string(letter.id));
        w.Key("channel_id");
        w.String(letter.request.channel_id);
        w.Key("reason");
        w.String(letter.reason);
        w.Key("attempts");
        w.Int(letter.attempts);
        w.Key("failed_at");
        w.String(util::rfc3339(letter.failed_ms));
        w.Key("received_at");
        w.String(util::rfc3339(letter.request.received_ms));
        // A preview only: bodies can be megabytes and need not be valid UTF-8.
        std::string preview = letter.request.body.substr(0, 200);
        while (!preview.empty() && (static_cast<unsigned char>(preview.back()) & 0xC0) == 0x80)
            preview.pop_back();
        if (!preview.empty() && static_cast<unsigned char>(preview.back()) >= 0xC0) preview.pop_back();
        w.Key("body_preview");
        w.String(preview);
        w.Key("body_bytes");
        w.Uint64(letter.request.body.size());
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

bool is_status(std::string_view s) {
    return s == "open" || s == "pending" || s == "snoozed" || s == "resolved";
}

bool is_priority(std::string_view p) {
    return p == "none" || p == "low" || p == "medium" || p == "high" || p == "urgent";
}

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

http::Response store_unavailable(const std::exception& e) {
    spdlog::error("store error=\"{}\"", e.what());
    return http::error_response(503, "store_unavailable", "the store is unavailable; retry later");
}

// Runs `work` on a store thread and answers with what it returns; store failures are 503.
template <typename F>
void on_store(store::StoreRunner& runner, const ExchangePtr& exchange, F work) {
    runner.post([exchange, work = std::move(work)](store::Store& store) mutable {
        try {
            exchange->respond(work(store));
        } catch (const std::invalid_argument& e) {
            exchange->respond(http::error_response(400, "bad_request", e.what()));
        } catch (const std::exception& e) {
            metrics::registry().store_errors.with({"api"}).inc();
            exchange->respond(store_unavailable(e));
        }
    });
}

// The bits of dispatch that are not routes: matching, CORS and the token check.

// Matches "/a/{x}/c" against path segments; on success `params` holds the {…} segments.
bool matches(std::string_view pattern, const std::vector<std::string_view>& parts,
             std::vector<std::string_view>& params) {
    params.clear();
    std::size_t i = 0;
    for (auto segment : segments(pattern)) {
        if (i == parts.size()) return false;
        if (segment.front() == '{')
            params.push_back(parts[i]);
        else if (segment != parts[i])
            return false;
        ++i;
    }
    return i == parts.size();
}

// Wraps an exchange so every answer carries the CORS headers of an allowed origin.
class CorsExchange : public http::Exchange {
public:
    CorsExchange(ExchangePtr inner, std::string origin)
        : inner_(std::move(inner)), origin_(std::move(origin)) {}
    std::string_view method() const override { return inner_->method(); }
    std::string_view target() const override { return inner_->target(); }
    std::string_view path() const override { return inner_->path(); }
    std::optional<std::string> query(std::string_view n) const override { return inner_->query(n); }
    std::optional<std::string_view> header(std::string_view n) const override { return inner_->header(n); }
    std::vector<std::pair<std::string_view, std::string_view>> headers() const override {
        return inner_->headers();
    }
    const std::string& body() const override { return inner_->body(); }
    std::string take_body() override { return inner_->take_body(); }
    std::optional<std::filesystem::path> body_file() const override { return inner_->body_file(); }
    std::string_view remote_address() const override { return inner_->remote_address(); }
    void respond(http::Response response) override {
        response.headers.emplace_back("Access-Control-Allow-Origin", origin_);
        response.headers.emplace_back("Vary", "Origin");
        response.headers.emplace_back("Access-Control-Expose-Headers",
                                      "Content-Disposition, Content-Range, ETag");
        inner_->respond(std::move(response));
    }

private:
    ExchangePtr inner_;
    std::string origin_;
};

// The request's Origin is the host it was sent to (the page came from this daemon, e.g. the
// console at /): "http(s)://" + the Host header.
bool same_origin(const http::Exchange& exchange) {
    auto origin = exchange.header("Origin");
    auto host = exchange.header("Host");
    if (!origin || !host || host->empty()) return false;
    std::string_view rest = *origin;
    if (rest.starts_with("https://"))
        rest.remove_prefix(8);
    else if (rest.starts_with("http://"))
        rest.remove_prefix(7);
    else
        return false;
    if (rest.size() != host->size()) return false;
    for (std::size_t i = 0; i < rest.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(rest[i])) !=
            std::tolower(static_cast<unsigned char>((*host)[i])))
            return false;
    }
    return true;
}

// CORS preflight: answered without a token, and only for configured origins.
http::Response preflight(const std::optional<std::string>& origin) {
    if (!origin) return http::error_response(403, "origin_not_allowed", "origin not allowed");
    http::Response response;
    response.status = 204;
    response.content_type.clear();
    response.headers = {{"Access-Control-Allow-Origin", *origin},
                        {"Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE, OPTIONS"},
                        {"Access-Control-Allow-Headers",
                         "Authorization, Content-Type, Idempotency-Key, Range, If-None-Match, X-File-Name, "
                         "X-Switchboard-Session"},
                        {"Access-Control-Max-Age", "600"},
                        {"Vary", "Origin"}};
    return response;
}

http::Response no_content() {
    http::Response response;
    response.status = 204;
    response.content_type.clear();
    return response;
}

void bad_request(const Call& call, std::string_view message) {
    call.exchange->respond(http::error_response(400, "bad_request", message));
}

// The body as a JSON object. Answers 400 invalid_json itself, and returns nothing, when it is
// not one: hostile nesting and invalid UTF-8 included (the SDK's bounded, iterative reader).
std::optional<rapidjson::Document> json_body(const Call& call) {
    rapidjson::Document doc;
    if (auto error = switchboard::json::parse(doc, call.exchange->body(), "request body")) {
        call.exchange->respond(http::error_response(400, "invalid_json", *error));
        return std::nullopt;
    }
    if (!doc.IsObject()) {
        call.exchange->respond(http::error_response(400, "invalid_json", "request body: not a JSON object"));
        return std::nullopt;
    }
    return doc;
}

// The {id} of /conversations/{id}/…; answers 404 itself when it is not an id.
std::optional<std::int64_t> conversation_id(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id) call.exchange->respond(http::error_response(404, "not_found", "no such conversation"));
    return id;
}

}  // namespace

const std::vector<Route>& routes() {
    using enum Access;
    static const std::vector<Route> table{
        {"GET", "/healthz", open, &Api::healthz},
        {"GET", "/readyz", open, &Api::readyz},
        {"GET", "/metrics", open, &Api::metrics},
        {"GET", "/", open, &Api::console_index},
        {"GET", "/console/{version}/{file}", open, &Api::console_asset},
        {"POST", "/webhooks/{channel_id}", open, &Api::webhook},
        {"GET", "/webhooks/{channel_id}", open, &Api::webhook},  // subscription handshakes
        // The upgrade itself is taken by the HTTP server before dispatch (ServerOptions::ws_path).
        {"GET", "/api/v1/ws", agent, &Api::websocket_without_upgrade},
        {"GET", "/api/v1/me", agent, &Api::me},
        {"PATCH", "/api/v1/me", agent, &Api::update_me},
        {"GET", "/api/v1/channels", agent, &Api::list_channels},
        {"GET", "/api/v1/agents", agent, &Api::list_agents},
        {"POST", "/api/v1/agents", admin, &Api::create_agent},
        {"DELETE", "/api/v1/agents/{agent_id}", admin, &Api::delete_agent},
        {"POST", "/api/v1/agents/{agent_id}/tokens", admin, &Api::create_token},
        {"DELETE", "/api/v1/agents/{agent_id}/tokens/{token_id}", admin, &Api::revoke_token},
        {"GET", "/api/v1/dead-letters", admin, &Api::list_dead_letters},
        {"POST", "/api/v1/dead-letters/{id}/replay", admin, &Api::replay_dead_letter},
        {"GET", "/api/v1/labels", agent, &Api::list_labels},
        {"POST", "/api/v1/labels", admin, &Api::create_label},
        {"PATCH", "/api/v1/labels/{name}", admin, &Api::update_label},
        {"DELETE", "/api/v1/labels/{name}", admin, &Api::delete_label},
        {"GET", "/api/v1/canned-replies", agent, &Api::list_canned_replies},
        {"POST", "/api/v1/canned-replies", agent, &Api::create_canned_reply},
        {"PATCH", "/api/v1/canned-replies/{id}", agent, &Api::update_canned_reply},
        {"DELETE", "/api/v1/canned-replies/{id}", agent, &Api::delete_canned_reply},
        {"GET", "/api/v1/search", agent, &Api::search},
        {"GET", "/api/v1/contacts", agent, &Api::list_contacts},
        {"GET", "/api/v1/contacts/merge-suggestions", admin, &Api::merge_suggestions},
        {"GET", "/api/v1/contacts/{id}", agent, &Api::get_contact},
        {"PATCH", "/api/v1/contacts/{id}", agent, &Api::patch_contact},
        {"POST", "/api/v1/contacts/{id}/merge", admin, &Api::merge_contact},
        {"POST", "/api/v1/contacts/{id}/unmerge", admin, &Api::unmerge_contact},
        {"GET", "/api/v1/contact-attributes", agent, &Api::list_contact_attributes},
        {"POST", "/api/v1/contact-attributes", admin, &Api::create_contact_attribute},
        {"DELETE", "/api/v1/contact-attributes/{key}", admin, &Api::delete_contact_attribute},
        {"GET", "/api/v1/conversations", agent, &Api::list_conversations},
        {"GET", "/api/v1/conversations/counts", agent, &Api::conversation_counts},
        {"GET", "/api/v1/conversations/{id}", agent, &Api::get_conversation},
        {"PATCH", "/api/v1/conversations/{id}", agent, &Api::patch_conversation},
        {"POST", "/api/v1/conversations/{id}/assignment", agent, &Api::assign_conversation},
        {"POST", "/api/v1/conversations/{id}/labels", agent, &Api::add_conversation_label},
        {"DELETE", "/api/v1/conversations/{id}/labels/{name}", agent, &Api::remove_conversation_label},
        {"POST", "/api/v1/conversations/{id}/typing", agent, &Api::send_typing},
        {"POST", "/api/v1/conversations/{id}/notes", agent, &Api::add_note},
        {"POST", "/api/v1/conversations/{id}/read", agent, &Api::mark_read},
        {"POST", "/api/v1/conversations/{id}/unread", agent, &Api::mark_unread},
        {"GET", "/api/v1/conversations/{id}/messages", agent, &Api::list_messages},
        {"POST", "/api/v1/conversations/{id}/messages", agent, &Api::send_message},
        {"POST", "/api/v1/conversations/{id}/messages/{message_id}/retry", agent, &Api::retry_message},
        {"GET", "/api/v1/media/{id}", agent, &Api::get_media},
        {"POST", "/api/v1/uploads", agent, &Api::create_upload},
        {"POST", "/api/v1/media", agent, &Api::create_media_upload},
    };
    return table;
}

std::optional<std::string> Api::allowed_origin(const http::Exchange& exchange) const {
    auto origin = exchange.header("Origin");
    if (!origin) return std::nullopt;
    for (const auto& allowed : deps_.cors_origins) {
        if (allowed == "*" || allowed == *origin) return std::string(*origin);
    }
    return std::nullopt;
}

std::variant<std::shared_ptr<const Principal>, http::Response> Api::authenticate(
    const http::Exchange& exchange, std::optional<std::string_view> token, std::string_view where) {
    const std::int64_t now = util::now_ms();
    if (auto locked = failures_.locked_for(exchange.remote_address(), now); locked > 0) {
        auto response = http::error_response(429, "too_many_failures",
                                             "too many failed authentications from this address; wait");
        response.headers.emplace_back("Retry-After", std::to_string((locked + 999) / 1000));
        return response;
    }
    if (auto principal = token ? deps_.auth.authenticate(*token) : nullptr) return principal;
    failures_.failed(exchange.remote_address(), where, now);
    auto response = http::error_response(401, "unauthorized", "a valid bearer token is required");
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return response;
}

void Api::handle(std::shared_ptr<http::Exchange> exchange) {
    const auto parts = segments(exchange->path());
    const std::string_view method = exchange->method();

    // Everything under /api/v1 is the agents' side: CORS applies, and a token is needed before
    // anything else is said — even "no such endpoint".
    std::shared_ptr<const Principal> principal;
    if (parts.size() >= 2 && parts[0] == "api" && parts[1] == "v1") {
        auto origin = allowed_origin(*exchange);
        if (method == "OPTIONS") return exchange->respond(preflight(origin));
        auto checked =
            authenticate(*exchange, Authenticator::bearer(exchange->header("Authorization")), "api");
        if (auto* refusal = std::get_if<http::Response>(&checked)) {
            if (origin) refusal->headers.emplace_back("Access-Control-Allow-Origin", *origin);
            return exchange->respond(std::move(*refusal));
        }
        principal = std::get<std::shared_ptr<const Principal>>(std::move(checked));
        if (origin) exchange = std::make_shared<CorsExchange>(std::move(exchange), *origin);
    }

    const Route* found = nullptr;    // method and path match
    const Route* on_path = nullptr;  // the path matches, with another method
    std::string allow;
    std::vector<std::string_view> params;
    for (const auto& route : routes()) {
        if (!matches(route.pattern, parts, params)) continue;
        if (route.method == method) {
            found = &route;
            break;
        }
        on_path = &route;
        allow += allow.empty() ? "" : ", ";
        allow += route.method;
    }
    const Route* route = found ? found : on_path;
    if (!route) return exchange->respond(http::error_response(404, "not_found", "no such endpoint"));
    // Forbidden before "method not allowed": an agent learns nothing about admin endpoints.
    if (route->access == Access::admin && !principal->admin())
        return exchange->respond(http::error_response(403, "forbidden", "this endpoint is for admins"));
    if (!found) {
        auto response = http::error_response(405, "method_not_allowed", "use " + allow);
        response.headers.emplace_back("Allow", allow);
        return exchange->respond(std::move(response));
    }
    (this->*found->handler)(Call{std::move(exchange), std::move(principal), std::move(params)});
}

// --- health and operations ---

void Api::healthz(const Call& call) {
    call.exchange->respond(http::json_response(200, R"({"status":"ok"})"));
}

void Api::readyz(const Call& call) {
    const bool store_ok = !deps_.store_healthy || deps_.store_healthy();
    const auto channels = deps_.channels.snapshot();  // held: the loop borrows from it
    // Not ready either when every configured channel failed: such an instance can neither take
    // a webhook nor send a reply, so a load balancer should send traffic elsewhere.
    bool channel_ok = channels->all().empty();
    for (const auto& [id, channel] : channels->all()) channel_ok = channel_ok || channel->ready();
    const bool ready = store_ok && channel_ok;
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("status");
    w.String(ready ? "ready" : "not_ready");
    w.Key("store");
    w.String(store_ok ? "ok" : "unavailable");
    w.Key("channels");
    w.StartObject();
    for (const auto& [id, channel] : channels->all()) {
        w.Key(id.c_str());
        w.String(channel_state(*channel));
    }
    w.EndObject();
    w.EndObject();
    call.exchange->respond(http::json_response(ready ? 200 : 503, buffer.GetString()));
}

void Api::metrics(const Call& call) {
    // Rendered on a store thread: the queue depth gauge reads the database.
    deps_.store.post([exchange = call.exchange](store::Store&) {
        http::Response response;
        response.content_type = "text/plain; version=0.0.4; charset=utf-8";
        try {
            response.body = metrics::render();
        } catch (const std::exception& e) {
            response.status = 503;
            response.body = std::string("# metrics unavailable: ") + e.what() + "\n";
        }
        exchange->respond(std::move(response));
    });
}

// --- the agent console (daemon/console) ---

void Api::console_index(const Call& call) {
    if (!deps_.console)
        return call.exchange->respond(http::error_response(404, "not_found", "no console here"));
    call.exchange->respond(deps_.console->index(call.exchange->header("If-None-Match")));
}

void Api::console_asset(const Call& call) {
    if (!deps_.console)
        return call.exchange->respond(http::error_response(404, "not_found", "no console here"));
    call.exchange->respond(
        deps_.console->asset(call.params.at(0), call.params.at(1), call.exchange->header("If-None-Match")));
}

void Api::webhook(const Call& call) { deps_.webhooks.handle(call.exchange, call.params.at(0)); }

void Api::websocket_without_upgrade(const Call& call) {
    call.exchange->respond(http::error_response(404, "not_found", "this endpoint takes a WebSocket upgrade"));
}

// --- who am I, channels ---

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
    const auto presence = deps_.notifier.presence(principal.agent_id);
    w.Key("availability");
    w.String(presence.availability);
    w.Key("presence");
    w.String(presence.shown());
    w.Key("connected");
    w.Bool(presence.connected);
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
            w.Key("availability");
            w.String(presence.availability);
            w.Key("presence");
            w.String(presence.shown());
            w.Key("connected");
            w.Bool(presence.connected);
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
    on_store(deps_.store, call.exchange, [name, role](store::Store& store) {
        return http::json_response(201, store::to_json(store.create_agent(name, role, util::now_ms())));
    });
}

void Api::delete_agent(const Call& call) {
    on_store(deps_.store, call.exchange,
             [this, agent_id = std::string(call.params.at(0)),
              by = call.principal->agent_id](store::Store& store) {
                 auto unassigned = store.delete_agent(agent_id, by, util::now_ms());
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
            if (*parsed <= util::now_ms()) return bad_request(call, "expires_at must be in the future");
            expires_ms = *parsed;
        }
    }
    on_store(deps_.store, call.exchange,
             [this, agent_id = std::string(call.params.at(0)), label, expires_ms](store::Store& store) {
                 // The token is shown once, here; only its hash is kept.
                 std::string token = util::new_token();
                 std::string hash = util::sha256_hex(token);
                 auto created = store.add_token(agent_id, hash, label, util::now_ms(), expires_ms);
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
                 if (!store.revoke_token(agent_id, token_id, util::now_ms()))
                     return http::error_response(404, "not_found", "no such token");
                 deps_.auth.load(store.active_tokens());
                 deps_.notifier.close_token(token_id, "token revoked");
                 return no_content();
             });
}

// --- dead letters (admin) ---

void Api::list_dead_letters(const Call& call) {
    auto limit = parse_limit(*call.exchange);
    if (!limit) return bad_request(call, "limit must be 1..200");
    on_store(deps_.store, call.exchange, [limit = *limit](store::Store& store) {
        return http::json_response(200, dead_letters_json(store.dead_letters(limit)));
    });
}

void Api::replay_dead_letter(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id) return call.exchange->respond(http::error_response(404, "not_found", "no such dead letter"));
    on_store(deps_.store, call.exchange, [this, id = *id](store::Store& store) {
        if (!store.replay_dead_letter(id, util::now_ms()))
            return http::error_response(404, "not_found", "no such dead letter");
        spdlog::info("dead letter replayed row={}", id);
        if (deps_.on_requeued) deps_.on_requeued();
        return http::json_response(202, R"({"status":"requeued"})");
    });
}

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

namespace {

// A string member, nullopt when absent; false when present but not a string.
bool optional_string(const rapidjson::Document& doc, const char* name, std::optional<std::string>& out) {
    auto it = doc.FindMember(name);
    if (it == doc.MemberEnd()) return true;
    if (!it->value.IsString()) return false;
    out = std::string(it->value.GetString(), it->value.GetStringLength());
    return true;
}

}  // namespace

void Api::create_label(const Call& call) {
    auto doc = json_body(call);
    if (!doc) return;
    std::optional<std::string> name, color, description;
    if (!optional_string(*doc, "name", name) || !optional_string(*doc, "color", color) ||
        !optional_string(*doc, "description", description) || !name || !color)
        return bad_request(call,
                           "body must be {\"name\":\"…\",\"color\":\"#rrggbb\",\"description\"?:\"…\"}");
    store::Label label{*name, *color, description.value_or(""), 0};
    on_store(deps_.store, call.exchange, [label](store::Store& store) {
        auto created = store.create_label(label, util::now_ms());
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
            auto outcome = store.label_conversation(id, label, add, principal->agent_id, util::now_ms());
            if (outcome.kind == store::LabelOutcome::Kind::no_conversation)
                return http::error_response(404, "not_found", "no such conversation");
            if (outcome.kind == store::LabelOutcome::Kind::no_label)
                return http::error_response(404, "not_found", "no such label");
            if (outcome.event) deps_.notifier.publish(*outcome.event);
            auto answer = store.conversation_for(id, principal->agent_id);
            return http::json_response(200, store::to_json(answer ? *answer : outcome.conversation));
        });
}

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
    on_store(deps_.store, call.exchange, [draft, principal = call.principal](store::Store& store) {
        const std::int64_t now = util::now_ms();
        // The rules first: a malformed reply is 400 whoever asks.
        auto reply = domain::new_canned_reply(draft, now);
        if (domain::canned_access(*principal, reply) != domain::CannedAccess::write)
            return http::error_response(403, "forbidden", "only admins create shared canned replies");
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
    on_store(deps_.store, call.exchange, [id = *id, change, principal = call.principal](store::Store& store) {
        if (auto refusal = refuse_change(store, *principal, id)) return std::move(*refusal);
        auto outcome = store.update_canned_reply(id, change, util::now_ms());
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
                     store.update_contact(id, change, visible_to, principal->agent_id, util::now_ms());
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
                 return merge_answer(store.merge_contacts(into, from, principal->agent_id, util::now_ms()),
                                     deps_.notifier);
             });
}

void Api::unmerge_contact(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id) return call.exchange->respond(no_contact());
    on_store(deps_.store, call.exchange, [this, id = *id, principal = call.principal](store::Store& store) {
        return merge_answer(store.unmerge_contact(id, principal->agent_id, util::now_ms()), deps_.notifier);
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
    on_store(deps_.store, call.exchange, [attribute](store::Store& store) {
        auto created = store.define_contact_attribute(attribute, util::now_ms());
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
                 auto outcome = store.update_conversation(id, change, principal->agent_id, util::now_ms());
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
                 auto outcome = store.assign(id, target, expected, principal->agent_id, util::now_ms());
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
                 auto outcome = store.add_note(note, util::now_ms());
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
            outcome = read ? store.mark_read(id, principal.agent_id, message_id, util::now_ms())
                           : store.mark_unread(id, principal.agent_id, util::now_ms());
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

// --- media (issue 16) ---

namespace {

// What a Range header asks of a file of `size` bytes: nullopt = the whole file (no header, or
// several ranges, which are answered whole as RFC 9110 §14.2 allows); {0, 0} with ok=false =
// unsatisfiable (416).
struct ByteRange {
    bool ok = true;
    std::uint64_t first = 0;
    std::uint64_t length = 0;
};

std::optional<ByteRange> parse_range(std::optional<std::string_view> header, std::uint64_t size) {
    if (!header) return std::nullopt;
    std::string_view text = *header;
    if (!text.starts_with("bytes=") || text.find(',') != std::string_view::npos) return std::nullopt;
    text.remove_prefix(6);
    auto dash = text.find('-');
    if (dash == std::string_view::npos) return ByteRange{false};
    auto number = [](std::string_view digits) -> std::optional<std::uint64_t> {
        std::uint64_t value = 0;
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
        return value;
    };
    std::string_view from = text.substr(0, dash), to = text.substr(dash + 1);
    if (from.empty()) {  // the last N bytes
        auto suffix = number(to);
        if (!suffix || *suffix == 0 || size == 0) return ByteRange{false};
        const std::uint64_t n = std::min(*suffix, size);
        return ByteRange{true, size - n, n};
    }
    auto first = number(from);
    if (!first || *first >= size) return ByteRange{false};
    std::uint64_t last = size - 1;
    if (!to.empty()) {
        auto given = number(to);
        if (!given || *given < *first) return ByteRange{false};
        last = std::min(*given, size - 1);
    }
    return ByteRange{true, *first, last - *first + 1};
}

// Content-Disposition with a safe file name (RFC 6266): an ASCII fallback with everything
// doubtful replaced, and the UTF-8 name percent-encoded in filename*.
std::string disposition(std::string_view mime_type, std::string_view file_name, std::int64_t id) {
    const bool inline_type = (mime_type.starts_with("image/") && mime_type != "image/svg+xml") ||
                             mime_type.starts_with("audio/") || mime_type.starts_with("video/");
    std::string name = file_name.empty() ? "file-" + std::to_string(id) : std::string(file_name);
    std::string ascii, encoded;
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : name) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                           c == '.' || c == '-' || c == '_';
        ascii.push_back(plain || c == ' ' ? static_cast<char>(c) : '_');
        if (plain) {
            encoded.push_back(static_cast<char>(c));
        } else {
            encoded.push_back('%');
            encoded.push_back(kHex[c >> 4]);
            encoded.push_back(kHex[c & 15]);
        }
    }
    return fmt::format("{}; filename=\"{}\"; filename*=UTF-8''{}", inline_type ? "inline" : "attachment",
                       ascii, encoded);
}

// A file's bytes as a response body: each piece read on a store thread (a blob store may block),
// the next asked for only once the previous one is written.
class BlobBody final : public http::BodySource {
public:
    BlobBody(store::StoreRunner& runner, std::shared_ptr<media::BlobReader> reader, std::uint64_t offset,
             std::uint64_t length)
        : runner_(runner), reader_(std::move(reader)), offset_(offset), remaining_(length) {}

    void pull(std::function<void(std::string)> done) override {
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, media::kBlobReadChunk));
        const std::uint64_t at = offset_;
        offset_ += want;
        remaining_ -= want;
        runner_.post([reader = reader_, at, want, done = std::move(done)](store::Store&) {
            std::string piece;
            try {
                piece = reader->read(at, want);
            } catch (const std::exception& e) {
                spdlog::error("media read failed error=\"{}\"", e.what());
            }
            if (piece.size() != want) piece.clear();  // the connection closes: a short body
            done(std::move(piece));
        });
    }

private:
    store::StoreRunner& runner_;
    std::shared_ptr<media::BlobReader> reader_;
    std::uint64_t offset_;
    std::uint64_t remaining_;
};

}  // namespace

// The bytes of a file, to whoever may see its conversation (an upload: to its uploader);
// 404 for everyone else, as for the conversation itself.
void Api::get_media(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id || deps_.blobs == nullptr)
        return call.exchange->respond(http::error_response(404, "not_found", "no such media"));
    std::optional<std::string> range;
    if (auto header = call.exchange->header("Range")) range = std::string(*header);
    std::optional<std::string> if_none_match;
    if (auto header = call.exchange->header("If-None-Match")) if_none_match = std::string(*header);
    on_store(
        deps_.store, call.exchange,
        [this, id = *id, range, if_none_match, principal = call.principal](store::Store& store) {
            auto media = store.media(id);
            bool visible = false;
            if (media && media->origin == "upload") {
                visible = principal->admin() || media->uploaded_by == principal->agent_id;
            } else if (media) {
                auto conversation = store.conversation(media->conversation_id);
                visible = conversation && can_see(*principal, conversation->assignee_id);
            }
            if (!visible) return http::error_response(404, "not_found", "no such media");
            if (media->state != "ready")
                return http::error_response(409, "media_not_ready",
                                            fmt::format("the file is {}", media->state),
                                            fmt::format("\"state\":\"{}\"", media->state));
            std::shared_ptr<media::BlobReader> reader = deps_.blobs->open(media->sha256);
            if (!reader) return http::error_response(404, "not_found", "the file's bytes are gone");
            const std::uint64_t size = reader->size();
            const std::string etag = "\"" + media->sha256 + "\"";
            http::Response response;
            response.content_type = media->mime_type.empty() ? "application/octet-stream" : media->mime_type;
            response.headers = {
                {"ETag", etag},
                {"Cache-Control", "private, max-age=86400"},
                {"X-Content-Type-Options", "nosniff"},
                // An uploaded HTML or SVG never runs as the console's origin.
                {"Content-Security-Policy", "sandbox"},
                {"Accept-Ranges", "bytes"},
                {"Content-Disposition", disposition(response.content_type, media->file_name, media->id)},
            };
            if (if_none_match && (*if_none_match == etag || *if_none_match == "*")) {
                response.status = 304;
                response.content_type.clear();
                return response;
            }
            std::uint64_t first = 0, length = size;
            if (auto wanted =
                    parse_range(range ? std::optional<std::string_view>(*range) : std::nullopt, size)) {
                if (!wanted->ok) {
                    auto refused = http::error_response(416, "range_not_satisfiable",
                                                        fmt::format("the file has {} bytes", size));
                    refused.headers.emplace_back("Content-Range", fmt::format("bytes */{}", size));
                    return refused;
                }
                response.status = 206;
                first = wanted->first;
                length = wanted->length;
                response.headers.emplace_back(
                    "Content-Range",
                    fmt::format("bytes {}-{}/{}", wanted->first, wanted->first + wanted->length - 1, size));
            }
            if (length == 0) return response;
            response.stream = std::make_shared<BlobBody>(deps_.store, std::move(reader), first, length);
            response.stream_length = length;
            return response;
        });
}

namespace {

// A written upload committed under its digest's hold, with the row naming it stored before the
// hold goes (retention then never deletes the bytes it was deduplicated against), and the
// answer: 201 {"id","mime_type","size","file_name","sha256"} — mime_type as in a message's
// content.media.
http::Response stored_upload(store::Store& store, media::BlobStore& blobs, WrittenUpload written,
                             const std::string& file_name, const std::string& claimed_type,
                             const std::string& agent_id) {
    using Status = WrittenUpload::Status;
    if (written.status == Status::kTooLarge)
        return http::error_response(413, "payload_too_large", written.error);
    if (written.status != Status::kWritten) return http::error_response(400, "bad_request", written.error);
    store::MediaRecord upload;
    upload.origin = "upload";
    upload.state = "ready";
    upload.mime_type = media::checked_mime_type(claimed_type, written.bytes.head);
    upload.size = static_cast<std::int64_t>(written.bytes.size);
    upload.file_name = file_name;
    upload.sha256 = written.bytes.sha256;
    upload.uploaded_by = agent_id;
    upload.created_ms = util::now_ms();
    store::MediaRecord stored;
    {
        auto hold = blobs.hold(upload.sha256);
        written.writer->commit(upload.sha256);
        stored = store.add_upload(upload);
    }
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("id");
    w.String(std::to_string(stored.id));
    w.Key("mime_type");
    w.String(stored.mime_type);
    w.Key("size");
    w.Int64(stored.size);
    w.Key("file_name");
    if (stored.file_name.empty())
        w.Null();
    else
        w.String(stored.file_name);
    w.Key("sha256");
    w.String(stored.sha256);
    w.EndObject();
    return http::json_response(201, buffer.GetString());
}

// The body as the server kept it: spooled to a file (an upload path), or in memory.
struct UploadBody {
    std::optional<std::filesystem::path> file;
    std::string memory;
    BodyReader reader() const { return file ? read_file(*file) : read_memory(memory); }
};

UploadBody take_upload_body(const Call& call) {
    UploadBody body;
    body.file = call.exchange->body_file();
    if (!body.file) body.memory = call.exchange->take_body();
    return body;
}

}  // namespace

// An agent's file for a later send ({"content":{"type":…,"upload_id":…}}): the raw body, its
// type in Content-Type, its name in X-File-Name (percent-encoded UTF-8).
void Api::create_upload(const Call& call) {
    if (deps_.blobs == nullptr)
        return call.exchange->respond(
            http::error_response(404, "not_found", "media is disabled (media.enabled)"));
    std::string name;
    if (auto header = call.exchange->header("X-File-Name")) {
        std::string_view text = *header;
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '%' && i + 2 < text.size()) {
                unsigned value = 0;
                auto [ptr, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
                if (ec != std::errc() || ptr != text.data() + i + 3)
                    return bad_request(call, "X-File-Name must be percent-encoded UTF-8");
                name.push_back(static_cast<char>(value));
                i += 2;
            } else {
                name.push_back(text[i]);
            }
        }
        if (!is_valid_file_name(name))
            return bad_request(
                call, "X-File-Name must be a file name of at most 255 bytes of UTF-8, without / or \\");
    }
    const std::string claimed(call.exchange->header("Content-Type").value_or("application/octet-stream"));
    on_store(deps_.store, call.exchange,
             [this, body = take_upload_body(call), name, claimed,
              principal = call.principal](store::Store& store) {
                 auto written = write_raw_upload(*deps_.blobs, body.reader(), deps_.upload_limit);
                 return stored_upload(store, *deps_.blobs, std::move(written), name, claimed,
                                      principal->agent_id);
             });
}

// The same as a form (multipart/form-data, RFC 7578), as a browser's <form> or FormData sends
// it: the part named `file` is the file, its name and type from the part's Content-Disposition
// filename and Content-Type.
void Api::create_media_upload(const Call& call) {
    if (deps_.blobs == nullptr)
        return call.exchange->respond(
            http::error_response(404, "not_found", "media is disabled (media.enabled)"));
    const auto boundary = http::multipart_boundary(call.exchange->header("Content-Type").value_or(""));
    if (!boundary)
        return bad_request(call,
                           "the body must be multipart/form-data with a boundary (RFC 7578), its file "
                           "in a part named \"file\"");
    on_store(deps_.store, call.exchange,
             [this, body = take_upload_body(call), boundary = *boundary,
              principal = call.principal](store::Store& store) {
                 auto written = write_form_upload(*deps_.blobs, body.reader(), boundary, deps_.upload_limit);
                 const std::string name = written.file_name.value_or("");
                 if (written.status == WrittenUpload::Status::kWritten && !is_valid_file_name(name))
                     return http::error_response(
                         400, "bad_request",
                         "the file part's filename must be at most 255 bytes of UTF-8, without / or \\");
                 const std::string claimed =
                     written.content_type.empty() ? "application/octet-stream" : written.content_type;
                 return stored_upload(store, *deps_.blobs, std::move(written), name, claimed,
                                      principal->agent_id);
             });
}

http::WsHandlers Api::ws_handlers() {
    http::WsHandlers handlers;
    handlers.authorize = [this](http::Exchange& upgrade,
                                http::WsGrant& grant) -> std::optional<http::Response> {
        // Cross-site WebSocket hijacking: a page elsewhere may open a socket with a token it
        // got hold of (the browser sends no CORS preflight for an upgrade). With cors_origins
        // set, a browser's upgrade must come from a listed origin ("null" never is) or from the
        // daemon's own (the console it serves at /); without
        // it, Origin is not checked, as for the REST API (non-browser clients send none).
        if (!deps_.cors_origins.empty()) {
            if (auto origin = upgrade.header("Origin");
                origin && (*origin == "null" || (!allowed_origin(upgrade) && !same_origin(upgrade))))
                return http::error_response(403, "origin_not_allowed",
                                            "this origin may not open the WebSocket");
        }
        // Browsers cannot set headers on a WebSocket: the token may come in the query.
        std::optional<std::string> token;
        if (auto bearer = Authenticator::bearer(upgrade.header("Authorization")))
            token = std::string(*bearer);
        else
            token = upgrade.query("access_token");
        auto checked = authenticate(upgrade, token ? std::optional<std::string_view>(*token) : std::nullopt,
                                    "websocket");
        if (auto* refusal = std::get_if<http::Response>(&checked)) return std::move(*refusal);
        grant.principal = std::get<std::shared_ptr<const Principal>>(std::move(checked));
        if (auto after = upgrade.query("after_seq")) {
            std::int64_t value = -1;
            auto [ptr, ec] = std::from_chars(after->data(), after->data() + after->size(), value);
            if (ec != std::errc() || ptr != after->data() + after->size() || value < 0)
                return http::error_response(400, "bad_request", "after_seq must be a sequence number");
            grant.after_seq = value;
        }
        return std::nullopt;
    };
    handlers.on_open = [this](const std::shared_ptr<http::WsSession>& session, http::WsGrant grant) {
        deps_.notifier.attach(session, std::move(grant.principal), grant.after_seq);
    };
    handlers.on_message = [this](const std::shared_ptr<http::WsSession>& session, std::string_view text) {
        deps_.notifier.on_client_frame(session, text);
    };
    handlers.on_close = [this](const std::shared_ptr<http::WsSession>& session) {
        deps_.notifier.detach(*session);
    };
    return handlers;
}

}  // namespace sb::api
