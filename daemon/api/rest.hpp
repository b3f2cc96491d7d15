#pragma once
// Routes every HTTP request: health, webhooks, the agent REST API (/api/v1) and the agent
// WebSocket. One table (routes()) says what the daemon serves; dispatch reads it, and
// docs/openapi.yaml is checked against it. Authentication happens here, once, before any
// /api/v1 handler runs. The handlers are members of Api, defined in api/handlers/<resource>.cpp
// on what api/handlers/support.hpp shares (reading requests, answering from a store thread).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/auth.hpp"
#include "console/console.hpp"
#include "http/server.hpp"
#include "media/blob_store.hpp"
#include "notifier/notifier.hpp"
#include "outbound/sender.hpp"
#include "plugin_host/channel.hpp"
#include "store/runner.hpp"
#include "util/clock.hpp"
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
    std::function<void()> on_requeued;          // a dead letter went back to the queue
    std::function<void()> on_capacity_changed;  // a conversation was resolved or changed hands
    int auth_failure_limit = 20;                // server.auth_failure_limit
    int auth_lockout_ms = 10'000;               // server.auth_lockout_ms
    const console::Files* console = nullptr;    // the agent console at / (nullptr: not served)
    media::BlobStore* blobs = nullptr;          // nullptr: media.enabled is false
    std::size_t upload_limit = 25u << 20;       // media.upload_limit_mb
    // What stamps agents' changes, tokens' expiry and lockouts (tests pass a ManualClock).
    const util::Clock* clock = &util::Clock::system();
};

// Who may call a route. Everything under /api/v1 needs a token; the rest is open (webhooks
// are authenticated by their channel's plugin instead).
enum class Access { open, agent, admin };

// A request matched to a route: who calls (nullptr on open routes) and the path's {parameters}
// in the pattern's order (views into the exchange's path).
struct Call {
    std::shared_ptr<http::Exchange> exchange;
    std::shared_ptr<const Principal> principal;
    std::vector<std::string_view> params;
};

class Api;

struct Route {
    std::string_view method;
    std::string_view pattern;  // e.g. "/api/v1/conversations/{id}/messages"; {name} is one segment
    Access access;
    void (Api::*handler)(const Call&);
};

// Every endpoint the daemon serves, in dispatch order. A path that matches with another method
// is 405; no match is 404.
const std::vector<Route>& routes();

class Api {
public:
    explicit Api(ApiDeps deps)
        : deps_(std::move(deps)), failures_(deps_.auth_failure_limit, deps_.auth_lockout_ms) {}

    void handle(std::shared_ptr<http::Exchange> exchange);
    http::WsHandlers ws_handlers();

private:
    friend const std::vector<Route>& routes();

    void healthz(const Call& call);
    void readyz(const Call& call);
    void metrics(const Call& call);
    void webhook(const Call& call);
    void websocket_without_upgrade(const Call& call);
    void console_index(const Call& call);
    void console_asset(const Call& call);
    void me(const Call& call);
    void list_channels(const Call& call);
    void update_me(const Call& call);
    void list_agents(const Call& call);
    void create_agent(const Call& call);
    void delete_agent(const Call& call);
    void create_token(const Call& call);
    void revoke_token(const Call& call);
    void list_dead_letters(const Call& call);
    void replay_dead_letter(const Call& call);
    void list_labels(const Call& call);
    void create_label(const Call& call);
    void update_label(const Call& call);
    void delete_label(const Call& call);
    void add_conversation_label(const Call& call);
    void remove_conversation_label(const Call& call);
    void change_conversation_label(const Call& call, std::string label, bool add);
    void list_canned_replies(const Call& call);
    void create_canned_reply(const Call& call);
    void update_canned_reply(const Call& call);
    void delete_canned_reply(const Call& call);
    void search(const Call& call);
    void list_contacts(const Call& call);
    void get_contact(const Call& call);
    void patch_contact(const Call& call);
    void merge_contact(const Call& call);
    void unmerge_contact(const Call& call);
    void merge_suggestions(const Call& call);
    void list_contact_attributes(const Call& call);
    void create_contact_attribute(const Call& call);
    void delete_contact_attribute(const Call& call);
    void list_conversations(const Call& call);
    void conversation_counts(const Call& call);
    std::optional<store::ConversationFilter> list_filter(const Call& call);
    void get_conversation(const Call& call);
    void patch_conversation(const Call& call);
    void assign_conversation(const Call& call);
    void send_typing(const Call& call);
    void add_note(const Call& call);
    void mark_read(const Call& call);
    void mark_unread(const Call& call);
    // Records the caller's read position (read or unread) and tells its sessions.
    void move_read_position(const Call& call, bool read);
    void list_messages(const Call& call);
    void send_message(const Call& call);
    void retry_message(const Call& call);
    void get_media(const Call& call);
    void create_upload(const Call& call);
    void create_media_upload(const Call& call);

    void forward_action(const Call& call, outbound::SendRequest::Kind kind);
    std::optional<std::string> allowed_origin(const http::Exchange& exchange) const;
    // Every agent a colleague may name: the store's, and the bootstrap admin while it has a token.
    std::vector<store::Agent> team(store::Store& store) const;
    std::string me_json(const Principal& principal) const;

    // The token check of a request or upgrade: the principal, or the refusal (401, or 429 for
    // an address locked out by failures_).
    std::variant<std::shared_ptr<const Principal>, http::Response> authenticate(
        const http::Exchange& exchange, std::optional<std::string_view> token, std::string_view where);

    ApiDeps deps_;
    FailureGuard failures_;
};

}  // namespace sb::api
