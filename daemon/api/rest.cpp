// The router: the route table, CORS, the token check and dispatch, and the WebSocket's
// upgrade check. The handlers are in api/handlers/, one file per resource.

#include "api/rest.hpp"

#include <cctype>
#include <charconv>

#include "api/handlers/support.hpp"
#include "util/time.hpp"

namespace sb::api {
namespace {

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
    const std::int64_t now = deps_.clock->now_ms();
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
