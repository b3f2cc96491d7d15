#pragma once
// Routes every HTTP request: health, webhooks, the agent REST API (/api/v1) and the agent
// WebSocket. Authentication happens here, once, before any /api/v1 handler runs.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/auth.hpp"
#include "http/server.hpp"
#include "notifier/notifier.hpp"
#include "outbound/sender.hpp"
#include "plugin_host/channel.hpp"
#include "store/runner.hpp"
#include "webhook/ingest.hpp"

namespace sb::api {

struct ApiDeps {
    Authenticator& auth;
    const plugin_host::LiveChannels& channels;
    store::StoreRunner& store;
    webhook::WebhookEndpoint& webhooks;
    outbound::Sender& sender;
    notifier::Notifier& notifier;
    std::vector<std::string> cors_origins;
    std::function<bool()> store_healthy;
    std::function<void()> on_requeued;  // a dead letter went back to the queue
    std::function<void()> on_capacity_changed;  // a conversation was resolved or changed hands
};

class Api {
public:
    explicit Api(ApiDeps deps) : deps_(std::move(deps)) {}

    void handle(std::shared_ptr<http::Exchange> exchange);
    http::WsHandlers ws_handlers();

private:
    void handle_api(const std::shared_ptr<http::Exchange>& exchange, std::shared_ptr<const Principal> principal);
    void handle_agents(const std::shared_ptr<http::Exchange>& exchange, const Principal& principal,
                       const std::vector<std::string_view>& parts);
    void patch_conversation(const std::shared_ptr<http::Exchange>& exchange, std::shared_ptr<const Principal> principal,
                            std::int64_t id);
    void assign_conversation(const std::shared_ptr<http::Exchange>& exchange,
                             std::shared_ptr<const Principal> principal, std::int64_t id);
    std::optional<std::string> allowed_origin(const http::Exchange& exchange) const;

    ApiDeps deps_;
};

}  // namespace sb::api
