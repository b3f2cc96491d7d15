#pragma once
// The daemon's configuration: one YAML file (etc/switchboard.yaml), DESIGN §5. Validated as a
// whole before anything starts: unknown keys, wrong types and bad values are all reported at
// once, each naming its key path and line.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sb::config {

struct ServerConfig {
    std::string listen_host = "127.0.0.1";
    std::uint16_t listen_port = 8080;           // 0 = pick a free port and log it
    int threads = 0;                            // 0 = number of cores
    std::size_t webhook_body_limit = 8u << 20;  // Meta batches reach a few MB
    std::size_t api_body_limit = 1u << 20;
    int header_timeout_ms = 10'000;    // time allowed to send the request header
    int idle_timeout_ms = 60'000;      // keep-alive connection with nothing to read
    int shutdown_timeout_ms = 10'000;  // SIGTERM: time allowed to answer what is in flight
    std::vector<std::string> cors_origins;
    int max_connections = 0;              // open at once; 0 = the open-file limit less a reserve
    int max_connections_per_address = 0;  // 0 = none (behind a proxy all share its address)
    int auth_failure_limit = 20;          // wrong tokens per second from one address, then…
    int auth_lockout_ms = 10'000;         // …429 for this long
    // Webhook bodies held in memory at once, before they are verified, across all requests; a
    // request that would go over is answered 503 before its body is read.
    std::size_t webhook_memory_limit = 256u << 20;
};

struct StorageConfig {
    std::string backend = "sqlite";  // sqlite | postgres
    std::string sqlite_path = "./var/switchboard.db";
    std::string postgres_dsn;
    int postgres_pool_size = 8;
};

// How fast the daemon lets replies out on one channel, so that the platform's own limits are
// met by waiting (within the send's deadline) rather than by refusals. -1 = the plugin's
// default (outbound/rate_limit.hpp); 0 = no limit.
struct RateLimitConfig {
    int per_second = -1;             // messages per second on the whole channel (bot, number, page)
    int recipient_interval_ms = -1;  // between two messages to one private chat
    int group_interval_ms = -1;      // between two messages to one group chat
};

// A message template the platform approved (WhatsApp's, for writing outside its 24-hour
// window), offered to agents as the channel's (GET /api/v1/channels). The platform keeps the
// template itself; this says which ones the team uses and what they say.
struct TemplateConfig {
    std::string name;      // as the platform knows it, e.g. order_update
    std::string language;  // its language code, e.g. en_US
    std::string text;      // its body as the agent sees it, {{1}}… where the parameters go
    int parameters = 0;    // how many body parameters it takes; default: the highest {{n}} in text
};

struct ChannelConfig {
    std::string id;                   // [a-z0-9_-]{1,64}; the URL's {channel_id}
    std::string plugin;               // plugin id (file <plugins.dir>/<plugin>.so)
    std::string receive = "webhook";  // webhook | long_poll
    std::string settings_json;        // `settings` as a JSON object, ${VAR} expanded
    RateLimitConfig rate_limit;
    std::vector<TemplateConfig> templates;
    int line = 0;  // where the entry starts, for messages
};

struct InboundConfig {
    int batch_size = 256;  // rows claimed and applied per transaction
    int max_attempts = 5;  // then dead letter
    int lease_ms = 10'000;
};

struct OutboundConfig {
    int timeout_ms = 10'000;         // per platform request
    int deadline_ms = 10'000;        // a whole send, retries included; then the agent is answered
    int max_attempts = 3;            // on retryable / rate-limited answers
    int max_retry_after_ms = 2'000;  // longer waits go back to the agent as 429
    std::string ca_file;             // extra trusted certificates (PEM); "" = the system's only
};

struct AssignmentConfig {
    std::string mode = "manual";     // manual | auto
    int capacity = 10;               // open conversations per agent in auto mode
    int offline_grace_ms = 300'000;  // then an offline agent's conversations are reassigned
};

struct RealtimeConfig {
    int ping_interval_ms = 25'000;  // server pings; no answer within another interval closes
    int queue_limit = 4096;         // frames queued per WebSocket before it is closed (1008)
    std::int64_t retention_ms = 7LL * 24 * 3'600'000;  // `retention_hours`: events kept for resume
    // others: a stored reply is message_sent to every session that sees its conversation but
    // the one that sent it; none: to nobody (the seed's rule alone).
    std::string outbound_events = "others";
};

struct ConsoleConfig {
    bool enabled = true;                       // serve the agent console at /
    std::string dir = "./build/console/dist";  // the built console (index.html, <version>/…)
};

// Files (issue 16): inbound media and uploads, their bytes in `store` (`dir` or PostgreSQL).
struct MediaConfig {
    bool enabled = true;
    std::string dir;                            // "" = "media" next to the SQLite file (./var/media)
    std::int64_t max_file_bytes = 100LL << 20;  // `max_file_mb`; plugins may say less (platform maxima)
    int max_in_flight = 4;                      // downloads at once, per process
    std::size_t upload_limit = 25u << 20;       // `upload_limit_mb`: POST /api/v1/uploads
    int max_attempts = 8;                       // fetch attempts (network errors, 5xx), then failed
    int retry_window_ms = 3'600'000;            // retries stop this long after the message arrived
    std::string store = "local";                // where the bytes live: local (dir) | postgres
    int retention_days = 0;                     // media of messages older than this is deleted; 0 = kept
};

struct Config {
    ServerConfig server;
    StorageConfig storage;
    // plugins.dir: one directory or a list of them, searched in order for <id>.so (the first
    // that has the file wins). plugins_dir is the first of plugin_dirs.
    std::string plugins_dir = "./build/plugins";
    std::vector<std::string> plugin_dirs{"./build/plugins"};
    std::string bootstrap_admin_token;
    std::string bootstrap_admin_name = "Bootstrap admin";  // how colleagues see it (directory, mentions)
    std::vector<ChannelConfig> channels;
    InboundConfig inbound;
    OutboundConfig outbound;
    AssignmentConfig assignment;
    RealtimeConfig realtime;
    ConsoleConfig console;
    MediaConfig media;
    std::string log_level = "info";  // trace | debug | info | warn | error
};

struct Problem {
    std::string path;  // "channels[1].settings.bot_token", "server.listen"
    int line = 0;      // 1-based; 0 = unknown (e.g. a missing key)
    std::string message;
};

class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string source, std::vector<Problem> problems);
    const std::vector<Problem>& problems() const { return problems_; }

private:
    std::vector<Problem> problems_;
};

// Looks up an environment variable for ${VAR} expansion.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup process_environment();

// Parses and validates; throws ConfigError listing every problem found.
Config load_file(const std::string& path, const EnvLookup& env = process_environment());
Config load_string(std::string_view yaml, const std::string& source_name,
                   const EnvLookup& env = process_environment());

}  // namespace sb::config
