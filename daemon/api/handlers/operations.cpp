// Health, readiness, metrics, the console's files and the webhook entry point.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "api/handlers/support.hpp"
#include "metrics/metrics.hpp"

namespace sb::api {

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

}  // namespace sb::api
