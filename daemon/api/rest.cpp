#include "api/rest.hpp"

#include <charconv>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include "metrics/metrics.hpp"
#include "store/json.hpp"
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

std::optional<std::int64_t> parse_id(std::string_view text) {
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
        while (!preview.empty() && (static_cast<unsigned char>(preview.back()) & 0xC0) == 0x80) preview.pop_back();
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

}  // namespace

std::optional<std::string> Api::allowed_origin(const http::Exchange& exchange) const {
    auto origin = exchange.header("Origin");
    if (!origin) return std::nullopt;
    for (const auto& allowed : deps_.cors_origins) {
        if (allowed == "*" || allowed == *origin) return std::string(*origin);
    }
    return std::nullopt;
}

void Api::handle(std::shared_ptr<http::Exchange> exchange) {
    const std::string_view path = exchange->path();
    const std::string_view method = exchange->method();
    auto parts = segments(path);

    if (parts.size() == 1 && parts[0] == "healthz" && method == "GET")
        return exchange->respond(http::json_response(200, R"({"status":"ok"})"));

    if (parts.size() == 1 && parts[0] == "readyz" && method == "GET") {
        bool store_ok = !deps_.store_healthy || deps_.store_healthy();
        rapidjson::StringBuffer buffer;
        Writer w(buffer);
        w.StartObject();
        w.Key("status");
        w.String(store_ok ? "ready" : "not_ready");
        w.Key("store");
        w.String(store_ok ? "ok" : "unavailable");
        w.Key("channels");
        w.StartObject();
        const auto channels = deps_.channels.snapshot();  // held: the loop borrows from it
        for (const auto& [id, channel] : channels->all()) {
            w.Key(id.c_str());
            w.String(channel_state(*channel));
        }
        w.EndObject();
        w.EndObject();
        return exchange->respond(http::json_response(store_ok ? 200 : 503, buffer.GetString()));
    }

    if (parts.size() == 1 && parts[0] == "metrics" && method == "GET") {
        // Rendered on a store thread: the queue depth gauge reads the database.
        return deps_.store.post([exchange](store::Store&) {
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

    if (parts.size() == 2 && parts[0] == "webhooks") {
        if (method != "POST" && method != "GET")
            return exchange->respond(http::error_response(405, "method_not_allowed", "use POST (or GET for handshakes)"));
        return deps_.webhooks.handle(exchange, parts[1]);
    }

    if (parts.size() >= 2 && parts[0] == "api" && parts[1] == "v1") {
        auto origin = allowed_origin(*exchange);
        if (method == "OPTIONS") {
            // CORS preflight: answered without a token, and only for configured origins.
            if (!origin) return exchange->respond(http::error_response(403, "origin_not_allowed", "origin not allowed"));
            http::Response response;
            response.status = 204;
            response.content_type.clear();
            response.headers = {{"Access-Control-Allow-Origin", *origin},
                                {"Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE, OPTIONS"},
                                {"Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key"},
                                {"Access-Control-Max-Age", "600"},
                                {"Vary", "Origin"}};
            return exchange->respond(std::move(response));
        }
        auto token = Authenticator::bearer(exchange->header("Authorization"));
        auto principal = token ? deps_.auth.authenticate(*token) : nullptr;
        if (!principal) {
            auto response = http::error_response(401, "unauthorized", "a valid bearer token is required");
            response.headers.emplace_back("WWW-Authenticate", "Bearer");
            if (origin) response.headers.emplace_back("Access-Control-Allow-Origin", *origin);
            return exchange->respond(std::move(response));
        }
        if (origin) {
            // Wrap the exchange so every answer carries the CORS header.
            struct CorsExchange : http::Exchange {
                CorsExchange(ExchangePtr inner, std::string origin) : inner(std::move(inner)), origin(std::move(origin)) {}
                std::string_view method() const override { return inner->method(); }
                std::string_view target() const override { return inner->target(); }
                std::string_view path() const override { return inner->path(); }
                std::optional<std::string> query(std::string_view n) const override { return inner->query(n); }
                std::optional<std::string_view> header(std::string_view n) const override { return inner->header(n); }
                std::vector<std::pair<std::string_view, std::string_view>> headers() const override {
                    return inner->headers();
                }
                const std::string& body() const override { return inner->body(); }
                std::string take_body() override { return inner->take_body(); }
                void respond(http::Response response) override {
                    response.headers.emplace_back("Access-Control-Allow-Origin", origin);
                    response.headers.emplace_back("Vary", "Origin");
                    inner->respond(std::move(response));
                }
                ExchangePtr inner;
                std::string origin;
            };
            return handle_api(std::make_shared<CorsExchange>(exchange, *origin), std::move(principal));
        }
        return handle_api(exchange, std::move(principal));
    }

    exchange->respond(http::error_response(404, "not_found", "no such endpoint"));
}

void Api::handle_api(const ExchangePtr& exchange, std::shared_ptr<const Principal> principal) {
    auto parts = segments(exchange->path());
    const std::string_view method = exchange->method();
    parts.erase(parts.begin(), parts.begin() + 2);  // "api", "v1"
    auto not_allowed = [&] {
        exchange->respond(http::error_response(405, "method_not_allowed", "method not allowed on this endpoint"));
    };

    if (parts.size() == 1 && parts[0] == "me") {
        if (method != "GET") return not_allowed();
        rapidjson::StringBuffer buffer;
        Writer w(buffer);
        w.StartObject();
        w.Key("id");
        w.String(principal->agent_id);
        w.Key("name");
        w.String(principal->name);
        w.Key("role");
        w.String(principal->role);
        w.EndObject();
        return exchange->respond(http::json_response(200, buffer.GetString()));
    }

    if (parts.size() == 1 && parts[0] == "channels") {
        if (method != "GET") return not_allowed();
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
        return exchange->respond(http::json_response(200, buffer.GetString()));
    }

    if (!parts.empty() && parts[0] == "dead-letters") {
        if (!principal->admin())
            return exchange->respond(http::error_response(403, "forbidden", "dead letters are for admins"));
        if (parts.size() == 1) {
            if (method != "GET") return not_allowed();
            auto limit = parse_limit(*exchange);
            if (!limit) return exchange->respond(http::error_response(400, "bad_request", "limit must be 1..200"));
            return on_store(deps_.store, exchange, [limit = *limit](store::Store& store) {
                return http::json_response(200, dead_letters_json(store.dead_letters(limit)));
            });
        }
        auto id = parse_id(parts[1]);
        if (parts.size() == 3 && parts[2] == "replay" && id) {
            if (method != "POST") return not_allowed();
            return on_store(deps_.store, exchange, [this, id = *id](store::Store& store) {
                if (!store.replay_dead_letter(id, util::now_ms()))
                    return http::error_response(404, "not_found", "no such dead letter");
                spdlog::info("dead letter replayed row={}", id);
                if (deps_.on_requeued) deps_.on_requeued();
                return http::json_response(202, R"({"status":"requeued"})");
            });
        }
        return exchange->respond(http::error_response(404, "not_found", "no such endpoint"));
    }

    if (!parts.empty() && parts[0] == "conversations") {
        if (parts.size() == 1) {
            if (method != "GET") return not_allowed();
            auto limit = parse_limit(*exchange);
            if (!limit) return exchange->respond(http::error_response(400, "bad_request", "limit must be 1..200"));
            store::ConversationFilter filter;
            filter.status = exchange->query("status").value_or("");
            filter.channel_id = exchange->query("channel").value_or("");
            filter.assignee = exchange->query("assignee").value_or("");
            if (filter.assignee == "me") filter.assignee = principal->agent_id;
            if (!filter.status.empty() && filter.status != "open" && filter.status != "resolved")
                return exchange->respond(http::error_response(400, "bad_request", "status must be open or resolved"));
            auto cursor = exchange->query("cursor").value_or("");
            return on_store(deps_.store, exchange, [filter, limit = *limit, cursor](store::Store& store) {
                return http::json_response(200, page_json(store.conversations(filter, limit, cursor)));
            });
        }
        auto id = parse_id(parts[1]);
        if (!id) return exchange->respond(http::error_response(404, "not_found", "no such conversation"));
        if (parts.size() == 2) {
            if (method != "GET") return not_allowed();
            return on_store(deps_.store, exchange, [id = *id](store::Store& store) {
                auto conversation = store.conversation(id);
                if (!conversation) return http::error_response(404, "not_found", "no such conversation");
                return http::json_response(200, store::to_json(*conversation));
            });
        }
        if (parts.size() == 3 && parts[2] == "messages") {
            if (method == "GET") {
                auto limit = parse_limit(*exchange);
                if (!limit) return exchange->respond(http::error_response(400, "bad_request", "limit must be 1..200"));
                std::int64_t before = 0;
                if (auto text = exchange->query("before"); text && !text->empty()) {
                    auto value = parse_id(*text);
                    if (!value)
                        return exchange->respond(http::error_response(400, "bad_request", "before must be a message id"));
                    before = *value;
                }
                return on_store(deps_.store, exchange, [id = *id, limit = *limit, before](store::Store& store) {
                    if (!store.conversation(id)) return http::error_response(404, "not_found", "no such conversation");
                    return http::json_response(200, page_json(store.messages(id, limit, before)));
                });
            }
            if (method == "POST") {
                outbound::SendRequest request;
                request.conversation_id = *id;
                request.agent = std::move(principal);
                request.body = exchange->take_body();
                if (auto key = exchange->header("Idempotency-Key")) {
                    if (key->empty() || key->size() > 255)
                        return exchange->respond(
                            http::error_response(400, "bad_request", "Idempotency-Key must be 1..255 characters"));
                    request.idempotency_key = std::string(*key);
                }
                return deps_.sender.send(std::move(request),
                                         [exchange](http::Response response) { exchange->respond(std::move(response)); });
            }
            return not_allowed();
        }
    }

    exchange->respond(http::error_response(404, "not_found", "no such endpoint"));
}

http::WsHandlers Api::ws_handlers() {
    http::WsHandlers handlers;
    handlers.authorize = [this](http::Exchange& upgrade, std::shared_ptr<void>& principal_out) -> std::optional<http::Response> {
        // Browsers cannot set headers on a WebSocket: the token may come in the query.
        std::optional<std::string> token;
        if (auto bearer = Authenticator::bearer(upgrade.header("Authorization")))
            token = std::string(*bearer);
        else
            token = upgrade.query("access_token");
        auto principal = token ? deps_.auth.authenticate(*token) : nullptr;
        if (!principal) return http::error_response(401, "unauthorized", "a valid token is required");
        principal_out = std::const_pointer_cast<Principal>(principal);
        return std::nullopt;
    };
    handlers.on_open = [this](const std::shared_ptr<http::WsSession>& session, std::shared_ptr<void> principal) {
        auto agent = std::static_pointer_cast<const Principal>(principal);
        // hello first, then live events: attach after queuing it keeps the order.
        session->send(deps_.notifier.hello(*agent));
        deps_.notifier.attach(session, agent);
    };
    handlers.on_message = [](const std::shared_ptr<http::WsSession>&, std::string_view) {
        // Client frames (resume, ping) are handled by the real-time issue's protocol.
    };
    handlers.on_close = [this](const std::shared_ptr<http::WsSession>& session) { deps_.notifier.detach(*session); };
    return handlers;
}

}  // namespace sb::api
