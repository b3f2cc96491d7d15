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

// Runs one API call and prints its answer with `render` (or raw with --json).
template <typename Render>
int call(const Globals& g, const std::string& method, const std::string& target,
         const std::optional<std::string>& body, const Headers& headers, Render render) {
    try {
        ApiClient client(g.url, g.token);
        HttpResponse response = client.request(method, target, body, headers);
        if (!ok(response)) return report_failure(g, response, method + " " + target);
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

void add_query(std::string& target, const char* name, const std::string& value) {
    if (value.empty()) return;
    target += target.find('?') == std::string::npos ? '?' : '&';
    target += name;
    target += '=';
    target += url_encode(value);
}

std::string json_object(const std::vector<std::pair<const char*, std::string>>& fields) {
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
    if (query.limit > 0) add_query(target, "limit", std::to_string(query.limit));
    add_query(target, "cursor", query.cursor);
    return call(g, "GET", target, std::nullopt, {}, format::conversation_page);
}

int set_status(const Globals& g, const std::string& conversation, const std::string& status) {
    return call(g, "PATCH", "/api/v1/conversations/" + url_encode(conversation),
                std::string(R"({"status":")") + status + "\"}", {}, format::conversation);
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
    return call(g, "POST", "/api/v1/conversations/" + url_encode(conversation) + "/messages",
                std::string(buffer.GetString()), headers, format::stored_message);
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
        std::string target = "/webhooks/" + url_encode(channel->id);
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
    return call(g, "POST", "/api/v1/dead-letters/" + url_encode(id) + "/replay", std::string("{}"), {},
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
    int rc = agents_call(g, "POST", "/api/v1/agents/" + url_encode(agent_id) + "/tokens", std::string("{}"),
                         format::token);
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
    std::vector<std::pair<const char*, std::string>> fields;
    if (shortcode) fields.emplace_back("shortcode", *shortcode);
    if (text) fields.emplace_back("text", *text);
    if (fields.empty()) {
        std::cerr << "switchboardctl: give --shortcode and/or --text\n";
        return 1;
    }
    return call(g, "PATCH", "/api/v1/canned-replies/" + url_encode(id), json_object(fields), {},
                format::canned_reply);
}

int canned_rm(const Globals& g, const std::string& id) {
    return call(g, "DELETE", "/api/v1/canned-replies/" + url_encode(id), std::nullopt, {},
                [&](const std::string&) { return "canned reply " + id + " deleted\n"; });
}

}  // namespace sb::ctl
