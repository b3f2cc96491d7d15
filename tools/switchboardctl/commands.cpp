#include "commands.hpp"

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "api_client.hpp"
#include "config/config.hpp"
#include "format.hpp"
#include "plugin_host/loader.hpp"
#include "plugin_host/webhook_signing.hpp"
#include "util/time.hpp"
#include "webhook_sim.hpp"

namespace sb::ctl {
namespace {

bool ok(const HttpResponse& r) { return r.status >= 200 && r.status < 300; }

std::string read_whole_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::invalid_argument("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The request a fixture file describes, for the channel's plugin: signed as the plugin's
// settings schema says (x-webhook-signature), with the channel's own secret.
FixtureRequest signed_fixture(const config::Config& config, const config::ChannelConfig& channel,
                              const std::string& fixture_file) {
    FixtureRequest request = read_fixture(read_whole_file(fixture_file));
    plugin_host::PluginRegistry plugins(config.plugin_dirs);
    std::string error;
    auto plugin = plugins.get(channel.plugin, error);
    if (!plugin) throw std::invalid_argument(error);
    const char* schema = plugin->descriptor().config_schema;
    auto signing = plugin_host::webhook_signing_of(schema ? schema : "{}");
    if (!signing) {
        std::cerr << fmt::format(
            "switchboardctl: the {} plugin declares no x-webhook-signature: the fixture's "
            "headers are sent as they are\n",
            channel.plugin);
        return request;
    }
    plugin_host::replace_signature(request.headers, *signing,
                                   plugin_host::sign_webhook(*signing, channel.settings_json, request.body));
    return request;
}

// Prints a failed answer on stderr with a hint where the fix is on the caller's side.
int report_failure(const Globals& g, const HttpResponse& r, const std::string& what) {
    if (g.json && !r.body.empty()) std::cout << r.body << '\n';
    std::cerr << "switchboardctl: " << what << ": " << format::error(r) << '\n';
    if (r.status == 401 && g.token.empty())
        std::cerr << "switchboardctl: no token given: pass --token or set SWITCHBOARD_TOKEN\n";
    return 1;
}

struct Request {
    std::string method;
    std::string target;
    std::optional<std::string> body;
    Headers headers;
};

// Runs API calls in order, stopping at the first one refused, and prints the last answer with
// `render` (or raw with --json).
template <typename Render>
int call_all(const Globals& g, const std::vector<Request>& requests, Render render) {
    try {
        ApiClient client(g.url, g.token);
        HttpResponse response;
        for (const auto& r : requests) {
            response = client.request(r.method, r.target, r.body, r.headers);
            if (!ok(response)) return report_failure(g, response, r.method + " " + r.target);
        }
        if (g.json)
            std::cout << response.body << '\n';
        else
            std::cout << render(response.body);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "switchboardctl: " << e.what() << '\n';
        return 1;
    }
}

template <typename Render>
int call(const Globals& g, const std::string& method, const std::string& target,
         const std::optional<std::string>& body, const Headers& headers, Render render) {
    return call_all(g, {{method, target, body, headers}}, render);
}

// /api/v1/{collection}/{id}, and `tail` below it.
std::string api_path(const char* collection, const std::string& id, const std::string& tail = "") {
    return fmt::format("/api/v1/{}/{}{}", collection, url_encode(id), tail);
}

std::string conversation_path(const std::string& id, const std::string& tail = "") {
    return api_path("conversations", id, tail);
}

void add_query(std::string& target, const char* name, const std::string& value) {
    if (value.empty()) return;
    target += target.find('?') == std::string::npos ? '?' : '&';
    target += name;
    target += '=';
    target += url_encode(value);
}

using Fields = std::vector<std::pair<const char*, std::string>>;

std::string json_object(const Fields& fields) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    for (const auto& [key, value] : fields) {
        w.Key(key);
        w.String(value);
    }
    w.EndObject();
    return buffer.GetString();
}

// PATCHes the members the caller gave (of `maybe`); none is a usage error, `hint` says which.
template <typename Render>
int patch_given(const Globals& g, const std::string& target,
                std::initializer_list<std::pair<const char*, std::optional<std::string>>> maybe,
                const char* hint, Render render) {
    Fields fields;
    for (const auto& [key, value] : maybe)
        if (value) fields.emplace_back(key, *value);
    if (fields.empty()) {
        std::cerr << "switchboardctl: " << hint << '\n';
        return 1;
    }
    return call(g, "PATCH", target, json_object(fields), {}, render);
}

// DELETE /api/v1/{collection}/{id}, reported as "{what} {id} deleted".
int delete_item(const Globals& g, const char* collection, const std::string& id, const char* what) {
    return call(g, "DELETE", api_path(collection, id), std::nullopt, {},
                [&](const std::string&) { return fmt::format("{} {} deleted\n", what, id); });
}

// A snooze's end as epoch ms: an RFC 3339 time as it is, or a duration ("30m", "2h", "1d",
// "1h30m"; units s, m, h, d, w) after `now_ms`; nullopt for anything else.
std::optional<std::int64_t> snooze_end_ms(const std::string& until, std::int64_t now_ms) {
    if (auto at = util::parse_rfc3339(until)) return at;
    constexpr std::int64_t kMaxMs = std::int64_t{100} * 366 * 86'400'000;  // a century is plenty
    std::int64_t total = 0;
    std::size_t i = 0;
    if (until.empty()) return std::nullopt;
    while (i < until.size()) {
        std::int64_t n = 0;
        std::size_t digits = 0;
        for (; i < until.size() && until[i] >= '0' && until[i] <= '9' && digits < 9; ++i, ++digits)
            n = n * 10 + (until[i] - '0');
        if (digits == 0 || i == until.size()) return std::nullopt;
        std::int64_t unit_ms = 0;
        switch (until[i++]) {
            case 's':
                unit_ms = 1000;
                break;
            case 'm':
                unit_ms = 60'000;
                break;
            case 'h':
                unit_ms = 3'600'000;
                break;
            case 'd':
                unit_ms = 86'400'000;
                break;
            case 'w':
                unit_ms = 7 * 86'400'000LL;
                break;
            default:
                return std::nullopt;
        }
        total += n * unit_ms;
        if (total > kMaxMs) return std::nullopt;
    }
    return now_ms + total;
}

// The daemon's own address from its config, for commands that read the config anyway.
std::string url_from_listen(const config::ServerConfig& server) {
    if (server.listen_port == 0)
        throw std::invalid_argument(
            "the config's server.listen uses port 0 (picked at start): pass the daemon's --url");
    std::string host = server.listen_host;
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return fmt::format("http://{}:{}", host, server.listen_port);
}

}  // namespace

int check_config(const std::string& file) {
    try {
        config::Config config = config::load_file(file);
        std::cout << file << ": OK (" << config.channels.size() << " channel"
                  << (config.channels.size() == 1 ? "" : "s") << ")\n";
        return 0;
    } catch (const config::ConfigError& e) {
        std::cerr << e.what() << '\n';
        std::cerr << file << ": " << e.problems().size() << " problem"
                  << (e.problems().size() == 1 ? "" : "s") << '\n';
        return 1;
    }
}

int conversations_list(const Globals& g, const ConversationQuery& query) {
    std::string target = "/api/v1/conversations";
    add_query(target, "status", query.status);
    add_query(target, "channel", query.channel);
    add_query(target, "assignee", query.assignee);
    add_query(target, "label", query.label);
    add_query(target, "priority", query.priority);
    if (query.limit > 0) add_query(target, "limit", std::to_string(query.limit));
    add_query(target, "cursor", query.cursor);
    return call(g, "GET", target, std::nullopt, {}, format::conversation_page);
}

int conversations_counts(const Globals& g, const ConversationQuery& query) {
    std::string target = "/api/v1/conversations/counts";
    add_query(target, "channel", query.channel);
    add_query(target, "label", query.label);
    add_query(target, "priority", query.priority);
    return call(g, "GET", target, std::nullopt, {}, format::conversation_counts);
}

int set_status(const Globals& g, const std::string& conversation, const std::string& status) {
    return call(g, "PATCH", conversation_path(conversation), json_object({{"status", status}}), {},
                format::conversation);
}

int snooze(const Globals& g, const std::string& conversation, const std::string& until) {
    auto end_ms = snooze_end_ms(until, util::now_ms());
    if (!end_ms) {
        std::cerr << fmt::format(
            "switchboardctl: --until \"{}\" is neither an RFC 3339 time (2030-01-31T09:00:00Z) nor a "
            "duration (30m, 2h, 1d, 1h30m)\n",
            until);
        return 1;
    }
    return call(g, "PATCH", conversation_path(conversation),
                json_object({{"status", "snoozed"}, {"snoozed_until", util::rfc3339(*end_ms)}}), {},
                format::conversation);
}

int set_priority(const Globals& g, const std::string& conversation, const std::string& priority) {
    return call(g, "PATCH", conversation_path(conversation), json_object({{"priority", priority}}), {},
                format::conversation);
}

int mark_read(const Globals& g, const std::string& conversation, const std::string& message_id) {
    Fields fields;
    if (!message_id.empty()) fields.emplace_back("message_id", message_id);
    return call(g, "POST", conversation_path(conversation, "/read"), json_object(fields), {},
                [&](const std::string&) { return fmt::format("conversation {} read\n", conversation); });
}

int label_conversation(const Globals& g, const std::string& conversation, const std::vector<std::string>& add,
                       const std::vector<std::string>& remove) {
    if (add.empty() && remove.empty()) {
        std::cerr << "switchboardctl: give --add and/or --remove\n";
        return 1;
    }
    std::vector<Request> requests;
    for (const auto& name : add)
        requests.push_back(
            {"POST", conversation_path(conversation, "/labels"), json_object({{"name", name}}), {}});
    for (const auto& name : remove)
        requests.push_back({"DELETE",
                            conversation_path(conversation, fmt::format("/labels/{}", url_encode(name))),
                            std::nullopt,
                            {}});
    return call_all(g, requests, format::conversation);
}

int add_note(const Globals& g, const std::string& conversation, const std::string& text) {
    return call(g, "POST", conversation_path(conversation, "/notes"), json_object({{"text", text}}), {},
                format::stored_message);
}

int send_message(const Globals& g, const std::string& conversation, const std::string& text,
                 const std::string& reply_to, const std::string& idempotency_key) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("content");
    w.StartObject();
    w.Key("type");
    w.String("text");
    w.Key("text");
    w.String(text);
    w.EndObject();
    if (!reply_to.empty()) {
        w.Key("reply_to");
        w.String(reply_to);
    }
    w.EndObject();
    Headers headers;
    if (!idempotency_key.empty()) headers.emplace_back("Idempotency-Key", idempotency_key);
    return call(g, "POST", conversation_path(conversation, "/messages"), std::string(buffer.GetString()),
                headers, format::stored_message);
}

int watch(const Globals& g, std::optional<std::int64_t> after_seq) {
    std::string target = "/api/v1/ws";
    if (after_seq) add_query(target, "after_seq", std::to_string(*after_seq));
    try {
        ApiClient client(g.url, g.token);
        std::string reason = client.stream(target, [&](const std::string& frame) {
            // One line per frame, flushed: `watch | grep` and tests read it as it comes.
            std::cout << (g.json ? frame : format::frame(frame)) << std::endl;
            return true;
        });
        std::cerr << "switchboardctl: the daemon closed the stream" << (reason.empty() ? "" : ": " + reason)
                  << '\n';
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "switchboardctl: " << e.what() << '\n';
        if (g.token.empty())
            std::cerr << "switchboardctl: no token given: pass --token or set SWITCHBOARD_TOKEN\n";
        return 1;
    }
}

int simulate_inbound(const Globals& g, const SimulateOptions& options) {
    config::Config config;
    try {
        config = config::load_file(options.config_file);
    } catch (const config::ConfigError& e) {
        std::cerr << e.what() << '\n';
        return 1;
    }
    const config::ChannelConfig* channel = nullptr;
    std::string known;
    for (const auto& c : config.channels) {
        if (c.id == options.channel) channel = &c;
        known += (known.empty() ? "" : ", ") + c.id;
    }
    if (!channel) {
        std::cerr << fmt::format("switchboardctl: {} has no channel \"{}\" (it has: {})\n",
                                 options.config_file, options.channel, known.empty() ? "none" : known);
        return 1;
    }
    try {
        std::string url = g.url_given ? g.url : url_from_listen(config.server);
        ApiClient client(url, "");  // webhooks carry the platform's credentials, never an API token
        std::string target = fmt::format("/webhooks/{}", url_encode(channel->id));
        HttpResponse response;
        std::string method = "POST", what;
        if (!options.fixture_file.empty()) {
            FixtureRequest request = signed_fixture(config, *channel, options.fixture_file);
            target += request.query;
            method = request.method;
            response = client.request(method, target, request.body, request.headers, false);
            what = fmt::format("{} fixture {}", channel->plugin, options.fixture_file);
        } else {
            if (options.text.empty()) throw std::invalid_argument("give --text or --fixture");
            auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
            SimulatedWebhook webhook =
                build_webhook(channel->plugin, channel->settings_json,
                              {options.from_id, options.from_name, options.text}, now_us);
            response = client.request("POST", target, webhook.body, webhook.headers, false);
            what = fmt::format("{} message {}", channel->plugin, webhook.message_id);
        }
        if (g.json) {
            std::cout << response.body << '\n';
        } else {
            std::cout << fmt::format("{} {}{} ({}): HTTP {} {}\n", method, url, target, what, response.status,
                                     response.body);
        }
        if (!ok(response)) {
            std::cerr << "switchboardctl: the daemon refused the webhook: " << format::error(response)
                      << '\n';
            return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "switchboardctl: channel " << channel->id << ": " << e.what() << '\n';
        return 1;
    }
}

int dead_letters_list(const Globals& g) {
    return call(g, "GET", "/api/v1/dead-letters", std::nullopt, {}, format::dead_letters);
}

int dead_letters_replay(const Globals& g, const std::string& id) {
    return call(g, "POST", api_path("dead-letters", id, "/replay"), std::string("{}"), {},
                [&](const std::string&) { return "dead letter " + id + " requeued\n"; });
}

namespace {

// The agents API comes with the agents issue; until the daemon has it, say so plainly.
int agents_call(const Globals& g, const std::string& method, const std::string& target,
                const std::optional<std::string>& body, std::string (*render)(const std::string&)) {
    try {
        ApiClient client(g.url, g.token);
        HttpResponse response = client.request(method, target, body);
        if (response.status == 404 && !g.json) {
            std::cerr << "switchboardctl: " << method << " " << target << ": " << format::error(response)
                      << '\n';
            std::cerr
                << "switchboardctl: this daemon may not serve the agents API (GET/POST /api/v1/agents); "
                   "check its version\n";
            return 1;
        }
        if (!ok(response)) return report_failure(g, response, method + " " + target);
        std::cout << (g.json ? response.body + '\n' : render(response.body));
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "switchboardctl: " << e.what() << '\n';
        return 1;
    }
}

}  // namespace

int agents_list(const Globals& g) {
    return agents_call(g, "GET", "/api/v1/agents", std::nullopt, format::agents);
}

int agents_create(const Globals& g, const std::string& name, const std::string& role) {
    return agents_call(g, "POST", "/api/v1/agents", json_object({{"name", name}, {"role", role}}),
                       format::agent);
}

int agents_token(const Globals& g, const std::string& agent_id) {
    int rc =
        agents_call(g, "POST", api_path("agents", agent_id, "/tokens"), std::string("{}"), format::token);
    if (rc == 0 && !g.json) std::cerr << "switchboardctl: the token is shown only once; store it now\n";
    return rc;
}

int canned_list(const Globals& g, const std::string& prefix, const std::string& conversation) {
    std::string target = "/api/v1/canned-replies";
    add_query(target, "prefix", prefix);
    add_query(target, "conversation_id", conversation);
    return call(g, "GET", target, std::nullopt, {}, format::canned_replies);
}

int canned_add(const Globals& g, const std::string& shortcode, const std::string& text,
               const std::string& scope) {
    return call(g, "POST", "/api/v1/canned-replies",
                json_object({{"shortcode", shortcode}, {"text", text}, {"scope", scope}}), {},
                format::canned_reply);
}

int canned_edit(const Globals& g, const std::string& id, const std::optional<std::string>& shortcode,
                const std::optional<std::string>& text) {
    return patch_given(g, api_path("canned-replies", id), {{"shortcode", shortcode}, {"text", text}},
                       "give --shortcode and/or --text", format::canned_reply);
}

int canned_rm(const Globals& g, const std::string& id) {
    return delete_item(g, "canned-replies", id, "canned reply");
}

int me(const Globals& g) { return call(g, "GET", "/api/v1/me", std::nullopt, {}, format::me); }

int set_availability(const Globals& g, const std::string& availability) {
    return call(g, "PATCH", "/api/v1/me", json_object({{"availability", availability}}), {}, format::me);
}

int contacts_list(const Globals& g, const std::string& q, int limit, const std::string& cursor) {
    std::string target = "/api/v1/contacts";
    add_query(target, "q", q);
    if (limit > 0) add_query(target, "limit", std::to_string(limit));
    add_query(target, "cursor", cursor);
    return call(g, "GET", target, std::nullopt, {}, format::contacts);
}

int contacts_show(const Globals& g, const std::string& id) {
    return call(g, "GET", api_path("contacts", id), std::nullopt, {}, format::contact);
}

int contacts_merge(const Globals& g, const std::string& id, const std::string& other) {
    return call(g, "POST", api_path("contacts", id, "/merge"), json_object({{"contact_id", other}}), {},
                format::contact);
}

int contacts_unmerge(const Globals& g, const std::string& id) {
    return call(g, "POST", api_path("contacts", id, "/unmerge"), std::string("{}"), {}, format::contact);
}

int search(const Globals& g, const std::string& q, const std::string& type, int limit,
           const std::string& cursor) {
    std::string target = "/api/v1/search";
    add_query(target, "q", q);
    add_query(target, "type", type);
    if (limit > 0) add_query(target, "limit", std::to_string(limit));
    add_query(target, "cursor", cursor);
    return call(g, "GET", target, std::nullopt, {}, format::search_hits);
}

int labels_list(const Globals& g) {
    return call(g, "GET", "/api/v1/labels", std::nullopt, {}, format::labels);
}

int labels_add(const Globals& g, const std::string& name, const std::string& color,
               const std::optional<std::string>& description) {
    Fields fields{{"name", name}, {"color", color}};
    if (description) fields.emplace_back("description", *description);
    return call(g, "POST", "/api/v1/labels", json_object(fields), {}, format::label);
}

int labels_edit(const Globals& g, const std::string& name, const std::optional<std::string>& color,
                const std::optional<std::string>& description) {
    return patch_given(g, api_path("labels", name), {{"color", color}, {"description", description}},
                       "give --color and/or --description", format::label);
}

int labels_rm(const Globals& g, const std::string& name) { return delete_item(g, "labels", name, "label"); }

}  // namespace sb::ctl
