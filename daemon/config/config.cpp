#include "config/config.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <span>
#include <sstream>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace sb::config {
namespace {

using KeyList = std::span<const std::string_view>;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::array<std::string_view, 12> kTopKeys = {"server",   "storage", "plugins",  "auth",
                                                       "channels", "inbound", "outbound", "assignment",
                                                       "realtime", "console", "log",      "media"};
constexpr std::array<std::string_view, 2> kConsoleKeys = {"enabled", "dir"};
constexpr std::array<std::string_view, 2> kBooleans = {"true", "false"};
constexpr std::array<std::string_view, 9> kMediaKeys = {
    "enabled",         "dir",   "max_file_mb",   "max_in_flight", "upload_limit_mb", "max_attempts",
    "retry_window_ms", "store", "retention_days"};
constexpr std::array<std::string_view, 2> kBlobStores = {"local", "postgres"};
constexpr std::array<std::string_view, 4> kRealtimeKeys = {"ping_interval_ms", "queue_limit",
                                                           "retention_hours", "outbound_events"};
constexpr std::array<std::string_view, 2> kOutboundEvents = {"others", "none"};
constexpr std::array<std::string_view, 3> kAssignmentKeys = {"mode", "capacity", "offline_grace_ms"};
constexpr std::array<std::string_view, 2> kAssignmentModes = {"manual", "auto"};
constexpr std::array<std::string_view, 13> kServerKeys = {"listen",
                                                          "threads",
                                                          "webhook_body_limit",
                                                          "api_body_limit",
                                                          "header_timeout_ms",
                                                          "idle_timeout_ms",
                                                          "cors_origins",
                                                          "shutdown_timeout_ms",
                                                          "auth_failure_limit",
                                                          "auth_lockout_ms",
                                                          "max_connections",
                                                          "max_connections_per_address",
                                                          "webhook_memory_limit"};
constexpr std::array<std::string_view, 3> kStorageKeys = {"backend", "sqlite", "postgres"};
constexpr std::array<std::string_view, 1> kSqliteKeys = {"path"};
constexpr std::array<std::string_view, 2> kPostgresKeys = {"dsn", "pool_size"};
constexpr std::array<std::string_view, 1> kPluginsKeys = {"dir"};
constexpr std::array<std::string_view, 2> kAuthKeys = {"bootstrap_admin_token", "bootstrap_admin_name"};
constexpr std::array<std::string_view, 6> kChannelKeys = {"id",       "plugin",     "receive",
                                                          "settings", "rate_limit", "templates"};
constexpr std::array<std::string_view, 4> kTemplateKeys = {"name", "language", "text", "parameters"};
constexpr std::array<std::string_view, 3> kRateLimitKeys = {"per_second", "recipient_interval_ms",
                                                            "group_interval_ms"};
constexpr std::array<std::string_view, 3> kInboundKeys = {"batch_size", "max_attempts", "lease_ms"};
constexpr std::array<std::string_view, 5> kOutboundKeys = {"timeout_ms", "deadline_ms", "max_attempts",
                                                           "max_retry_after_ms", "ca_file"};
constexpr std::array<std::string_view, 1> kLogKeys = {"level"};

constexpr std::array<std::string_view, 2> kBackends = {"sqlite", "postgres"};
constexpr std::array<std::string_view, 2> kReceiveModes = {"webhook", "long_poll"};
constexpr std::array<std::string_view, 5> kLogLevels = {"trace", "debug", "info", "warn", "error"};

constexpr std::size_t kMinAdminTokenLength = 16;
constexpr int kMaxInt = std::numeric_limits<int>::max();

// Where a value sits in the file, for messages: "channels[1].settings.bot_token" and its line.
struct Where {
    std::string path;
    int line = 0;

    Where key(std::string_view name, int key_line) const {
        return {path.empty() ? std::string(name) : fmt::format("{}.{}", path, name), key_line};
    }
    Where index(std::size_t i, int item_line) const { return {fmt::format("{}[{}]", path, i), item_line}; }
};

// yaml-cpp marks are 0-based and -1 when unknown; messages use 1-based lines and 0 for unknown.
int line_of(const YAML::Mark& mark) { return mark.line < 0 ? 0 : mark.line + 1; }
int line_of(const YAML::Node& node) { return line_of(node.Mark()); }

std::string_view describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Scalar:
            return "a scalar";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            break;
    }
    return "no value";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// " (did you mean `listen`?)" when a candidate is within two edits of `word`, else "".
std::string did_you_mean(std::string_view word, KeyList candidates) {
    constexpr std::size_t kMaxDistance = 2;
    std::string_view best;
    std::size_t best_distance = kMaxDistance + 1;
    for (std::string_view candidate : candidates) {
        const std::size_t d = edit_distance(word, candidate);
        if (d < best_distance) {
            best = candidate;
            best_distance = d;
        }
    }
    return best.empty() ? std::string() : fmt::format(" (did you mean `{}`?)", best);
}

std::string join(KeyList words) {
    std::string out;
    for (std::string_view w : words) {
        if (!out.empty()) out += ", ";
        out += w;
    }
    return out;
}

bool is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

bool is_env_name(std::string_view name) {
    return !name.empty() && is_name_start(name.front()) &&
           std::all_of(name.begin(), name.end(), is_name_char);
}

// [a-z0-9_-]{1,max}: channel ids end up in URLs and plugin ids in file names.
bool is_identifier(std::string_view s, std::size_t max) {
    return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
    });
}

bool all_digits(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_digit); }

// "host:port" or "[v6]:port"; returns an explanation on failure.
std::optional<std::string> parse_listen(std::string_view text, ServerConfig& out) {
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos || text.substr(close + 1, 1) != ":")
            return "expected \"[address]:port\" for an IPv6 address, e.g. \"[::1]:8080\"";
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        const std::string_view address = host.substr(0, host.find('%'));  // a zone id may follow '%'
        const bool looks_v6 = address.find(':') != std::string_view::npos &&
                              std::all_of(address.begin(), address.end(), [](char c) {
                                  return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
                              });
        if (!looks_v6) return fmt::format("`{}` is not an IPv6 address", host);
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return fmt::format("`{}` is not host:port, e.g. \"127.0.0.1:8080\" (port 0 picks a free port)",
                               text);
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return fmt::format("`{}`: an IPv6 address goes in brackets, e.g. \"[::1]:8080\"", text);
        if (host.empty()) return "the host is empty; use \"0.0.0.0:PORT\" to listen on every IPv4 address";
        const bool valid_host = std::all_of(host.begin(), host.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
        });
        if (!valid_host) return fmt::format("`{}` is not a valid host name or address", host);
    }
    unsigned value = 0;
    if (!all_digits(port) || port.size() > 5 ||
        std::from_chars(port.data(), port.data() + port.size(), value).ec != std::errc() ||
        value > std::numeric_limits<std::uint16_t>::max())
        return fmt::format("port `{}` is not a number from 0 to 65535", port);
    out.listen_host = std::string(host);
    out.listen_port = static_cast<std::uint16_t>(value);
    return std::nullopt;
}

// A plain YAML scalar in a plugin's settings is typed as by the YAML 1.2 core schema, except that
// integers with leading zeros, hex and octal stay strings: ids like "0042" must not lose digits.
bool write_typed_plain_scalar(JsonWriter& out, const std::string& raw) {
    if (raw == "true" || raw == "True" || raw == "TRUE" || raw == "false" || raw == "False" ||
        raw == "FALSE") {
        out.Bool(raw.front() == 't' || raw.front() == 'T');
        return true;
    }

    std::string_view s = raw;
    if (s.starts_with('+')) s.remove_prefix(1);
    const std::string_view unsigned_part = s.starts_with('-') ? s.substr(1) : s;
    if (all_digits(unsigned_part)) {
        if (unsigned_part.size() > 1 && unsigned_part.front() == '0') return false;
        std::int64_t i = 0;
        if (std::from_chars(s.data(), s.data() + s.size(), i).ec == std::errc()) {
            out.Int64(i);
            return true;
        }
        std::uint64_t u = 0;
        if (std::from_chars(s.data(), s.data() + s.size(), u).ec == std::errc()) {
            out.Uint64(u);
            return true;
        }
        return false;  // too big for JSON readers to hold exactly: keep the digits
    }

    // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    std::size_t pos = s.starts_with('-') ? 1 : 0;
    const auto digits = [&] {
        const std::size_t start = pos;
        while (pos < s.size() && is_digit(s[pos])) ++pos;
        return pos - start;
    };
    std::size_t mantissa = digits();
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        mantissa += digits();
    }
    if (mantissa == 0) return false;
    if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
        ++pos;
        if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) ++pos;
        if (digits() == 0) return false;
    }
    if (pos != s.size()) return false;
    double d = 0;
    const char* first = s.data();
    if (s.size() > 1 && s[0] == '-' && s[1] == '.') {
        // from_chars wants a digit before the point only when a sign precedes it; spell it out.
        const std::string padded = fmt::format("-0{}", s.substr(1));
        if (std::from_chars(padded.data(), padded.data() + padded.size(), d).ec != std::errc()) return false;
    } else if (std::from_chars(first, first + s.size(), d).ec != std::errc()) {
        return false;
    }
    if (!std::isfinite(d)) return false;
    out.Double(d);
    return true;
}

class Loader {
public:
    explicit Loader(const EnvLookup& env) : env_(env) {}

    Config load(const YAML::Node& root);
    void problem(const Where& where, std::string message) {
        problems_.push_back({where.path, where.line, std::move(message)});
    }
    std::vector<Problem> take_problems() { return std::move(problems_); }

private:
    template <class OnKey>
    void each_key(const YAML::Node& map, const Where& where, KeyList known, OnKey&& on_key);
    void missing(const Where& parent, std::string_view key, std::string_view what);

    std::optional<std::string> expand(std::string_view raw, const Where& where);
    std::optional<std::string> scalar(const YAML::Node& value, const Where& where, std::string_view expected);
    std::optional<std::string> read_string(const YAML::Node& value, const Where& where);
    void read_nonempty(const YAML::Node& value, const Where& where, std::string& out);
    void read_plugin_dirs(const YAML::Node& value, const Where& where, std::vector<std::string>& out);
    void read_int(const YAML::Node& value, const Where& where, int min, int max, int& out);
    void read_byte_size(const YAML::Node& value, const Where& where, std::size_t& out);
    void read_choice(const YAML::Node& value, const Where& where, KeyList choices, std::string& out);

    void read_server(const YAML::Node& node, const Where& where, ServerConfig& out);
    void read_cors_origins(const YAML::Node& node, const Where& where, std::vector<std::string>& out);
    void read_storage(const YAML::Node& node, const Where& where, StorageConfig& out);
    void read_auth(const YAML::Node& node, const Where& where, std::string& token, std::string& name);
    void read_channels(const YAML::Node& node, const Where& where, std::vector<ChannelConfig>& out);
    void read_templates(const YAML::Node& node, const Where& where, std::vector<TemplateConfig>& out);
    std::string settings_json(const YAML::Node& node, const Where& where);
    void write_json(JsonWriter& out, const YAML::Node& node, const Where& where);

    const EnvLookup& env_;
    // Set while reading the storage backend that is not in use: its variables may be unset.
    bool unset_env_allowed_ = false;
    std::vector<Problem> problems_;
};

// Hands each key of a mapping to on_key(name, value, where), in file order. Keys outside `known`
// are problems unless `known` is empty (a plugin's settings take any key); so are repeated keys.
// An empty section (`server:`) is an empty mapping.
template <class OnKey>
void Loader::each_key(const YAML::Node& map, const Where& where, KeyList known, OnKey&& on_key) {
    if (map.IsNull()) return;
    if (!map.IsMap()) {
        problem(where, fmt::format("expected a mapping, got {}", describe(map)));
        return;
    }
    std::unordered_map<std::string, int> seen;  // key -> line of its first use
    for (const auto& entry : map) {
        const YAML::Node& key = entry.first;
        if (!key.IsScalar()) {
            problem({where.path, line_of(key)}, "keys must be plain strings");
            continue;
        }
        const Where at = where.key(key.Scalar(), line_of(key));
        if (const auto [first, fresh] = seen.emplace(key.Scalar(), at.line); !fresh) {
            problem(at, fmt::format("duplicate key (first on line {})", first->second));
            continue;
        }
        if (!known.empty() && std::find(known.begin(), known.end(), key.Scalar()) == known.end()) {
            const std::string hint = did_you_mean(key.Scalar(), known);
            problem(at, hint.empty() ? fmt::format("unknown key; expected one of {}", join(known))
                                     : "unknown key" + hint);
            continue;
        }
        on_key(std::string_view(key.Scalar()), entry.second, at);
    }
}

void Loader::missing(const Where& parent, std::string_view key, std::string_view what) {
    problem(parent.key(key, parent.line), fmt::format("is required ({})", what));
}

// ${VAR} and ${VAR:-default} (default also when VAR is empty, as in the shell); $$ is a literal $.
// A `$` before anything else is kept, so passwords like "pa$s" need no escaping.
std::optional<std::string> Loader::expand(std::string_view raw, const Where& where) {
    std::string out;
    out.reserve(raw.size());
    bool ok = true;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const char next = i + 1 < raw.size() ? raw[i + 1] : '\0';
        if (raw[i] != '$' || (next != '$' && next != '{')) {
            out += raw[i];
            continue;
        }
        if (next == '$') {
            out += '$';
            ++i;
            continue;
        }
        const std::size_t close = raw.find('}', i + 2);
        if (close == std::string_view::npos) {
            problem(where, "unterminated `${` (write `$$` for a literal `$`)");
            return std::nullopt;
        }
        const std::string_view body = raw.substr(i + 2, close - i - 2);
        const std::size_t separator = body.find(":-");
        const std::string_view name = body.substr(0, separator);
        i = close;
        if (!is_env_name(name)) {
            problem(where, fmt::format("`${{{}}}` is not a variable reference: names are letters, digits and "
                                       "`_` (write `$$` for a literal `$`)",
                                       body));
            ok = false;
            continue;
        }
        std::optional<std::string> value = env_ ? env_(name) : std::nullopt;
        if (separator != std::string_view::npos && (!value || value->empty()))
            value = std::string(body.substr(separator + 2));
        if (!value) {
            if (!unset_env_allowed_)
                problem(where, fmt::format("environment variable `{}` is not set (set it, or give a default: "
                                           "`${{{}:-default}}`)",
                                           name, name));
            ok = false;
            continue;
        }
        out += *value;
    }
    if (!ok) return std::nullopt;
    return out;
}

// The expanded text of a scalar; anything else is a problem "expected <expected>, got a list".
std::optional<std::string> Loader::scalar(const YAML::Node& value, const Where& where,
                                          std::string_view expected) {
    if (!value.IsScalar()) {
        problem(where, fmt::format("expected {}, got {}", expected, describe(value)));
        return std::nullopt;
    }
    return expand(value.Scalar(), where);
}

std::optional<std::string> Loader::read_string(const YAML::Node& value, const Where& where) {
    return scalar(value, where, "a string");
}

void Loader::read_nonempty(const YAML::Node& value, const Where& where, std::string& out) {
    std::optional<std::string> text = read_string(value, where);
    if (!text) return;
    if (text->empty()) {
        problem(where, "must not be empty");
        return;
    }
    out = std::move(*text);
}

// plugins.dir: one directory, or a list of them (a search path, first match wins).
void Loader::read_plugin_dirs(const YAML::Node& value, const Where& where, std::vector<std::string>& out) {
    std::vector<std::string> dirs;
    if (!value.IsSequence()) {
        std::string dir;
        read_nonempty(value, where, dir);
        if (!dir.empty()) dirs.push_back(std::move(dir));
    } else {
        if (value.size() == 0) problem(where, "expected at least one directory");
        for (std::size_t i = 0; i < value.size(); ++i) {
            std::string dir;
            read_nonempty(value[i], where.index(i, line_of(value[i])), dir);
            if (!dir.empty()) dirs.push_back(std::move(dir));
        }
    }
    if (!dirs.empty()) out = std::move(dirs);
}

// Quoted numbers are accepted: a `${VAR}` in a flow mapping has to be quoted.
void Loader::read_int(const YAML::Node& value, const Where& where, int min, int max, int& out) {
    const std::optional<std::string> text = scalar(value, where, "an integer");
    if (!text) return;
    long long n = 0;
    const char* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, n);
    if (text->empty() || ec == std::errc::invalid_argument || ptr != end) {
        problem(where, fmt::format("expected an integer, got `{}`", *text));
        return;
    }
    if (ec == std::errc::result_out_of_range || n < min || n > max) {
        if (max == kMaxInt && min == 0)
            problem(where, fmt::format("must be 0 or more, got {}", *text));
        else if (max == kMaxInt)
            problem(where, fmt::format("must be at least {}, got {}", min, *text));
        else
            problem(where, fmt::format("must be from {} to {}, got {}", min, max, *text));
        return;
    }
    out = static_cast<int>(n);
}

// Bytes: an integer, or a string with a binary suffix such as "8MiB" or "512 KiB".
void Loader::read_byte_size(const YAML::Node& value, const Where& where, std::size_t& out) {
    const std::optional<std::string> text = scalar(value, where, "a size in bytes");
    if (!text) return;
    const std::string_view s = *text;
    const std::size_t digits_end = std::min(s.find_first_not_of("0123456789"), s.size());
    std::string_view unit = s.substr(digits_end);
    while (unit.starts_with(' ')) unit.remove_prefix(1);
    std::size_t multiplier = 0;
    if (unit.empty() || unit == "B")
        multiplier = 1;
    else if (unit == "KiB")
        multiplier = std::size_t{1} << 10;
    else if (unit == "MiB")
        multiplier = std::size_t{1} << 20;
    else if (unit == "GiB")
        multiplier = std::size_t{1} << 30;
    std::size_t n = 0;
    if (digits_end == 0 || multiplier == 0 ||
        std::from_chars(s.data(), s.data() + digits_end, n).ec != std::errc() ||
        n > std::numeric_limits<std::size_t>::max() / multiplier) {
        problem(where, fmt::format("expected a size in bytes such as 1048576 or \"8MiB\" (suffixes KiB, MiB, "
                                   "GiB), got `{}`",
                                   s));
        return;
    }
    if (n == 0) {
        problem(where, "must be greater than 0");
        return;
    }
    out = n * multiplier;
}

void Loader::read_choice(const YAML::Node& value, const Where& where, KeyList choices, std::string& out) {
    std::optional<std::string> text = scalar(value, where, fmt::format("one of {}", join(choices)));
    if (!text) return;
    if (std::find(choices.begin(), choices.end(), *text) == choices.end()) {
        problem(where,
                fmt::format("`{}` is not one of {}{}", *text, join(choices), did_you_mean(*text, choices)));
        return;
    }
    out = std::move(*text);
}

void Loader::read_server(const YAML::Node& node, const Where& where, ServerConfig& out) {
    each_key(node, where, kServerKeys, [&](std::string_view key, const YAML::Node& value, const Where& at) {
        if (key == "listen") {
            if (const std::optional<std::string> text = read_string(value, at)) {
                if (std::optional<std::string> why = parse_listen(*text, out)) problem(at, std::move(*why));
            }
        } else if (key == "threads") {
            read_int(value, at, 0, kMaxInt, out.threads);
        } else if (key == "webhook_body_limit") {
            read_byte_size(value, at, out.webhook_body_limit);
        } else if (key == "webhook_memory_limit") {
            read_byte_size(value, at, out.webhook_memory_limit);
        } else if (key == "api_body_limit") {
            read_byte_size(value, at, out.api_body_limit);
        } else if (key == "header_timeout_ms") {
            read_int(value, at, 1, kMaxInt, out.header_timeout_ms);
        } else if (key == "idle_timeout_ms") {
            read_int(value, at, 1, kMaxInt, out.idle_timeout_ms);
        } else if (key == "shutdown_timeout_ms") {
            read_int(value, at, 1, kMaxInt, out.shutdown_timeout_ms);
        } else if (key == "max_connections") {
            read_int(value, at, 0, kMaxInt, out.max_connections);
        } else if (key == "max_connections_per_address") {
            read_int(value, at, 0, kMaxInt, out.max_connections_per_address);
        } else if (key == "auth_failure_limit") {
            read_int(value, at, 1, kMaxInt, out.auth_failure_limit);
        } else if (key == "auth_lockout_ms") {
            read_int(value, at, 1, kMaxInt, out.auth_lockout_ms);
        } else if (key == "cors_origins") {
            read_cors_origins(value, at, out.cors_origins);
        }
    });
}

void Loader::read_cors_origins(const YAML::Node& node, const Where& where, std::vector<std::string>& out) {
    if (!node.IsSequence()) {
        problem(where, fmt::format("expected a list of origins such as [\"https://app.example.com\"], got {}",
                                   describe(node)));
        return;
    }
    for (std::size_t i = 0; i < node.size(); ++i) {
        const YAML::Node item = node[i];
        const Where at = where.index(i, line_of(item));
        std::optional<std::string> origin = read_string(item, at);
        if (!origin) continue;
        // A browser's Origin header is scheme://host[:port] and never has a path, so
        // "https://app.example.com/" would silently match nothing.
        const std::size_t scheme_end = origin->find("://");
        const bool valid = *origin == "*" || (scheme_end != std::string::npos && scheme_end > 0 &&
                                              origin->size() > scheme_end + 3 &&
                                              origin->find('/', scheme_end + 3) == std::string::npos);
        if (!valid) {
            problem(at,
                    fmt::format("`{}` is not an origin: expected scheme://host[:port] with no path, or \"*\"",
                                *origin));
            continue;
        }
        out.push_back(std::move(*origin));
    }
}

void Loader::read_storage(const YAML::Node& node, const Where& where, StorageConfig& out) {
    struct Section {
        YAML::Node node;
        Where where;
    };
    std::optional<Section> sqlite;
    std::optional<Section> postgres;
    int backend_line = where.line;
    each_key(node, where, kStorageKeys, [&](std::string_view key, const YAML::Node& value, const Where& at) {
        if (key == "backend") {
            read_choice(value, at, kBackends, out.backend);
            backend_line = at.line;
        } else if (key == "sqlite") {
            sqlite = Section{value, at};
        } else if (key == "postgres") {
            postgres = Section{value, at};
        }
    });

    // Both sections may sit in one file (DESIGN §5's example keeps a postgres dsn next to
    // `backend: sqlite`); only the backend in use needs its variables set.
    if (sqlite) {
        unset_env_allowed_ = out.backend != "sqlite";
        each_key(sqlite->node, sqlite->where, kSqliteKeys,
                 [&](std::string_view, const YAML::Node& value, const Where& at) {
                     read_nonempty(value, at, out.sqlite_path);
                 });
    }
    bool dsn_unresolved = false;  // already reported, or its variable is unset
    if (postgres) {
        unset_env_allowed_ = out.backend != "postgres";
        each_key(postgres->node, postgres->where, kPostgresKeys,
                 [&](std::string_view key, const YAML::Node& value, const Where& at) {
                     if (key == "dsn") {
                         std::optional<std::string> dsn = read_string(value, at);
                         dsn_unresolved = !dsn;
                         out.postgres_dsn = dsn.value_or(std::string());
                     } else if (key == "pool_size") {
                         read_int(value, at, 1, kMaxInt, out.postgres_pool_size);
                     }
                 });
    }
    unset_env_allowed_ = false;

    if (out.backend == "postgres" && out.postgres_dsn.empty() && !dsn_unresolved) {
        const Where at = postgres ? postgres->where.key("dsn", postgres->where.line)
                                  : Where{"storage.postgres.dsn", backend_line};
        problem(at, "is required when storage.backend is postgres, e.g. \"postgresql://user@host/db\"");
    }
}

void Loader::read_auth(const YAML::Node& node, const Where& where, std::string& token, std::string& name) {
    bool given = false;
    each_key(node, where, kAuthKeys, [&](std::string_view key, const YAML::Node& value, const Where& at) {
        const std::optional<std::string> text = read_string(value, at);
        if (key == "bootstrap_admin_name") {
            if (text && (text->empty() || text->size() > 100))
                problem(at, fmt::format("must be 1..100 characters, got {}", text->size()));
            else if (text)
                name = *text;
            return;
        }
        given = true;
        if (!text) return;
        if (text->size() < kMinAdminTokenLength) {
            // The token itself is a secret: say how long it is, never what it is.
            problem(at, fmt::format("must be at least {} characters, got {} (generate one with `openssl rand "
                                    "-hex 32`)",
                                    kMinAdminTokenLength, text->size()));
            return;
        }
        token = *text;
    });
    if (!given && (node.IsMap() || node.IsNull()))
        missing(where, "bootstrap_admin_token", "the first admin's API token, at least 16 characters");
}

void Loader::read_channels(const YAML::Node& node, const Where& where, std::vector<ChannelConfig>& out) {
    if (!node.IsSequence()) {
        problem(where,
                fmt::format("expected a list of channels (`channels: []` for none), got {}", describe(node)));
        return;
    }
    std::unordered_map<std::string, int> id_lines;
    for (std::size_t i = 0; i < node.size(); ++i) {
        const YAML::Node item = node[i];
        const Where at = where.index(i, line_of(item));
        if (!item.IsMap()) {
            problem(at,
                    fmt::format("expected a mapping with id, plugin and settings, got {}", describe(item)));
            continue;
        }
        ChannelConfig channel;
        channel.line = at.line;
        channel.settings_json = "{}";
        bool has_id = false;
        bool has_plugin = false;
        Where id_at;
        each_key(
            item, at, kChannelKeys, [&](std::string_view key, const YAML::Node& value, const Where& key_at) {
                if (key == "id") {
                    has_id = true;
                    id_at = key_at;
                    if (std::optional<std::string> id = read_string(value, key_at)) {
                        if (is_identifier(*id, 64))
                            channel.id = std::move(*id);
                        else
                            problem(key_at,
                                    fmt::format("`{}` is not a channel id: 1 to 64 characters of a-z, 0-9, "
                                                "`_` and `-`",
                                                *id));
                    }
                } else if (key == "plugin") {
                    has_plugin = true;
                    if (std::optional<std::string> plugin = read_string(value, key_at)) {
                        if (is_identifier(*plugin, 32))
                            channel.plugin = std::move(*plugin);
                        else
                            problem(key_at,
                                    fmt::format("`{}` is not a plugin id: 1 to 32 characters of a-z, 0-9, "
                                                "`_` and `-`",
                                                *plugin));
                    }
                } else if (key == "receive") {
                    read_choice(value, key_at, kReceiveModes, channel.receive);
                } else if (key == "settings") {
                    channel.settings_json = settings_json(value, key_at);
                } else if (key == "rate_limit") {
                    auto& limit = channel.rate_limit;
                    each_key(value, key_at, kRateLimitKeys,
                             [&](std::string_view name, const YAML::Node& v, const Where& v_at) {
                                 if (name == "per_second") read_int(v, v_at, 0, 1'000'000, limit.per_second);
                                 if (name == "recipient_interval_ms")
                                     read_int(v, v_at, 0, 600'000, limit.recipient_interval_ms);
                                 if (name == "group_interval_ms")
                                     read_int(v, v_at, 0, 600'000, limit.group_interval_ms);
                             });
                } else if (key == "templates") {
                    read_templates(value, key_at, channel.templates);
                }
            });
        if (!has_id) missing(at, "id", "the channel's name in URLs, e.g. tg-support");
        if (!has_plugin) missing(at, "plugin", "the plugin that speaks to the platform, e.g. telegram");
        if (!channel.id.empty()) {
            if (const auto [first, fresh] = id_lines.emplace(channel.id, id_at.line); !fresh)
                problem(id_at, fmt::format("duplicate channel id `{}` (first on line {})", channel.id,
                                           first->second));
        }
        out.push_back(std::move(channel));
    }
}

namespace {

// The highest n of the {{n}} placeholders in a template's text (0: none).
int highest_placeholder(std::string_view text) {
    int highest = 0;
    for (auto open = text.find("{{"); open != std::string_view::npos; open = text.find("{{", open + 2)) {
        auto close = text.find("}}", open + 2);
        if (close == std::string_view::npos) break;
        int n = 0;
        auto digits = text.substr(open + 2, close - open - 2);
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec == std::errc() && ptr == digits.data() + digits.size()) highest = std::max(highest, n);
    }
    return highest;
}

}  // namespace

void Loader::read_templates(const YAML::Node& node, const Where& where, std::vector<TemplateConfig>& out) {
    if (!node.IsSequence()) {
        problem(where, fmt::format("expected a list of templates, got {}", describe(node)));
        return;
    }
    for (std::size_t i = 0; i < node.size(); ++i) {
        const YAML::Node item = node[i];
        const Where at = where.index(i, line_of(item));
        if (!item.IsMap()) {
            problem(at, fmt::format("expected a mapping with name and language, got {}", describe(item)));
            continue;
        }
        TemplateConfig t;
        int parameters = -1;
        bool has_name = false;
        bool has_language = false;
        each_key(item, at, kTemplateKeys,
                 [&](std::string_view key, const YAML::Node& value, const Where& key_at) {
                     has_name = has_name || key == "name";
                     has_language = has_language || key == "language";
                     if (key == "name") read_nonempty(value, key_at, t.name);
                     if (key == "language") read_nonempty(value, key_at, t.language);
                     if (key == "text") t.text = read_string(value, key_at).value_or("");
                     if (key == "parameters") read_int(value, key_at, 0, 100, parameters);
                 });
        if (!has_name) missing(at, "name", "the template's name at the platform, e.g. order_update");
        if (!has_language) missing(at, "language", "the template's language code, e.g. en_US");
        t.parameters = parameters >= 0 ? parameters : highest_placeholder(t.text);
        out.push_back(std::move(t));
    }
}

std::string Loader::settings_json(const YAML::Node& node, const Where& where) {
    if (node.IsNull()) return "{}";
    if (!node.IsMap()) {
        problem(where, fmt::format("expected a mapping of the plugin's settings, got {}", describe(node)));
        return "{}";
    }
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    write_json(writer, node, where);
    return {buffer.GetString(), buffer.GetSize()};
}

// Settings belong to the plugin, so any key is allowed; values keep their YAML shape and type.
void Loader::write_json(JsonWriter& out, const YAML::Node& node, const Where& where) {
    switch (node.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            out.Null();
            return;
        case YAML::NodeType::Scalar: {
            // Tag "?" is a plain scalar; quoted and block scalars ("!") and explicit tags stay strings,
            // and so does anything with ${VAR} in it, which never looks like a number.
            if (node.Tag() == "?" && write_typed_plain_scalar(out, node.Scalar())) return;
            const std::string text = expand(node.Scalar(), where).value_or(std::string());
            out.String(text.data(), static_cast<rapidjson::SizeType>(text.size()), true);
            return;
        }
        case YAML::NodeType::Sequence:
            out.StartArray();
            for (std::size_t i = 0; i < node.size(); ++i) {
                const YAML::Node item = node[i];
                write_json(out, item, where.index(i, line_of(item)));
            }
            out.EndArray();
            return;
        case YAML::NodeType::Map:
            out.StartObject();
            each_key(node, where, {}, [&](std::string_view key, const YAML::Node& value, const Where& at) {
                out.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()), true);
                write_json(out, value, at);
            });
            out.EndObject();
            return;
    }
}

Config Loader::load(const YAML::Node& root) {
    Config config;
    const Where top;
    if (!root.IsMap() && !root.IsNull()) {
        problem({"", line_of(root)},
                fmt::format("expected a mapping of sections ({}) at the top level, got {}", join(kTopKeys),
                            describe(root)));
        return config;
    }
    bool has_auth = false;
    bool has_channels = false;
    std::optional<Where> media_store_at;  // media.store, when set
    each_key(root, top, kTopKeys, [&](std::string_view key, const YAML::Node& value, const Where& at) {
        if (key == "server") {
            read_server(value, at, config.server);
        } else if (key == "storage") {
            read_storage(value, at, config.storage);
        } else if (key == "plugins") {
            each_key(value, at, kPluginsKeys,
                     [&](std::string_view, const YAML::Node& dir, const Where& dir_at) {
                         read_plugin_dirs(dir, dir_at, config.plugin_dirs);
                         config.plugins_dir = config.plugin_dirs.front();
                     });
        } else if (key == "auth") {
            has_auth = true;
            read_auth(value, at, config.bootstrap_admin_token, config.bootstrap_admin_name);
        } else if (key == "channels") {
            has_channels = true;
            read_channels(value, at, config.channels);
        } else if (key == "inbound") {
            each_key(value, at, kInboundKeys,
                     [&](std::string_view name, const YAML::Node& v, const Where& v_at) {
                         if (name == "batch_size") read_int(v, v_at, 1, 10'000, config.inbound.batch_size);
                         if (name == "max_attempts")
                             read_int(v, v_at, 1, kMaxInt, config.inbound.max_attempts);
                         if (name == "lease_ms") read_int(v, v_at, 1, kMaxInt, config.inbound.lease_ms);
                     });
        } else if (key == "outbound") {
            each_key(
                value, at, kOutboundKeys, [&](std::string_view name, const YAML::Node& v, const Where& v_at) {
                    if (name == "timeout_ms") read_int(v, v_at, 1, kMaxInt, config.outbound.timeout_ms);
                    if (name == "deadline_ms") read_int(v, v_at, 100, 600'000, config.outbound.deadline_ms);
                    if (name == "max_attempts") read_int(v, v_at, 1, kMaxInt, config.outbound.max_attempts);
                    if (name == "max_retry_after_ms")
                        read_int(v, v_at, 0, kMaxInt, config.outbound.max_retry_after_ms);
                    if (name == "ca_file") {
                        read_nonempty(v, v_at, config.outbound.ca_file);
                        // Said now, with the line, rather than at the first send.
                        if (!config.outbound.ca_file.empty() &&
                            std::unique_ptr<std::FILE, int (*)(std::FILE*)>(
                                std::fopen(config.outbound.ca_file.c_str(), "r"), &std::fclose) == nullptr)
                            problem(v_at, fmt::format("cannot read {}: {}", config.outbound.ca_file,
                                                      std::strerror(errno)));
                    }
                });
        } else if (key == "media") {
            each_key(value, at, kMediaKeys,
                     [&](std::string_view name, const YAML::Node& v, const Where& v_at) {
                         MediaConfig& m = config.media;
                         if (name == "enabled") {
                             if (auto text = read_string(v, v_at)) {
                                 if (*text == "true" || *text == "false")
                                     m.enabled = *text == "true";
                                 else
                                     problem(v_at, "expected true or false");
                             }
                         }
                         if (name == "dir") read_nonempty(v, v_at, m.dir);
                         int mb = 0;
                         if (name == "max_file_mb") {
                             read_int(v, v_at, 1, 4096, mb);
                             if (mb > 0) m.max_file_bytes = std::int64_t{mb} << 20;
                         }
                         if (name == "upload_limit_mb") {
                             read_int(v, v_at, 1, 1024, mb);
                             if (mb > 0) m.upload_limit = std::size_t(mb) << 20;
                         }
                         if (name == "max_in_flight") read_int(v, v_at, 1, 1000, m.max_in_flight);
                         if (name == "max_attempts") read_int(v, v_at, 1, 100, m.max_attempts);
                         if (name == "retry_window_ms") read_int(v, v_at, 1000, kMaxInt, m.retry_window_ms);
                         if (name == "store") {
                             read_choice(v, v_at, kBlobStores, m.store);
                             media_store_at = v_at;
                         }
                         if (name == "retention_days") read_int(v, v_at, 1, 100'000, m.retention_days);
                     });
        } else if (key == "realtime") {
            each_key(value, at, kRealtimeKeys,
                     [&](std::string_view name, const YAML::Node& v, const Where& v_at) {
                         if (name == "ping_interval_ms")
                             read_int(v, v_at, 1000, kMaxInt / 2, config.realtime.ping_interval_ms);
                         if (name == "queue_limit")
                             read_int(v, v_at, 16, 1'000'000, config.realtime.queue_limit);
                         if (name == "retention_hours") {
                             int hours = 0;
                             read_int(v, v_at, 1, 100'000, hours);
                             if (hours > 0) config.realtime.retention_ms = std::int64_t{hours} * 3'600'000;
                         }
                         if (name == "outbound_events")
                             read_choice(v, v_at, kOutboundEvents, config.realtime.outbound_events);
                     });
        } else if (key == "assignment") {
            each_key(value, at, kAssignmentKeys,
                     [&](std::string_view name, const YAML::Node& v, const Where& v_at) {
                         if (name == "mode") read_choice(v, v_at, kAssignmentModes, config.assignment.mode);
                         if (name == "capacity") read_int(v, v_at, 1, 100'000, config.assignment.capacity);
                         if (name == "offline_grace_ms")
                             read_int(v, v_at, 0, kMaxInt, config.assignment.offline_grace_ms);
                     });
        } else if (key == "console") {
            each_key(value, at, kConsoleKeys,
                     [&](std::string_view name, const YAML::Node& v, const Where& v_at) {
                         if (name == "enabled") {
                             std::string flag = config.console.enabled ? "true" : "false";
                             read_choice(v, v_at, kBooleans, flag);
                             config.console.enabled = flag == "true";
                         }
                         if (name == "dir") read_nonempty(v, v_at, config.console.dir);
                     });
        } else if (key == "log") {
            each_key(value, at, kLogKeys,
                     [&](std::string_view, const YAML::Node& level, const Where& level_at) {
                         read_choice(level, level_at, kLogLevels, config.log_level);
                     });
        }
    });
    if (!has_auth)
        missing(top.key("auth", 0), "bootstrap_admin_token",
                "the first admin's API token, at least 16 characters");
    if (!has_channels) missing(top, "channels", "a list of channels; `channels: []` for none");
    // The files' rows live in PostgreSQL's own tables: an SQLite daemon has none to keep them in.
    if (media_store_at && config.media.store == "postgres" && config.storage.backend != "postgres")
        problem(*media_store_at,
                "postgres keeps files in the PostgreSQL store's tables; it needs storage.backend: postgres "
                "(use local with SQLite)");
    return config;
}

std::string format_problems(const std::string& source, const std::vector<Problem>& problems) {
    std::string out;
    for (const Problem& p : problems) {
        if (!out.empty()) out += '\n';
        out += source;
        if (p.line > 0) out += fmt::format(":{}", p.line);
        out += ": ";
        if (!p.path.empty()) out += p.path + ": ";
        out += p.message;
    }
    return out;
}

}  // namespace

ConfigError::ConfigError(std::string source, std::vector<Problem> problems)
    : std::runtime_error(format_problems(source, problems)), problems_(std::move(problems)) {}

EnvLookup process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* value = std::getenv(std::string(name).c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

namespace {

// What yaml-cpp would turn into a hang or an explosion is refused on the parser's events,
// before any node graph exists; the rest of YAML is left as it is.
// - Aliases where they would make the config cyclic or explode it when read: an alias to a
//   collection that contains it, an alias to an anchored collection that itself holds aliases
//   (the "billion laughs" pattern), and more than kMaxAliases in all.
// - A document that starts where the previous one did: yaml-cpp 0.7 does not consume a token
//   that cannot start a node (a leading `,`), and reports the same empty document there
//   forever (jbeder/yaml-cpp#1040); YAML::LoadAll would never return.
class YamlGuard : public YAML::EventHandler {
public:
    static constexpr int kMaxAliases = 64;
    std::optional<Problem> problem;

    explicit YamlGuard(std::string_view yaml) : yaml_(yaml) {}

    void OnDocumentStart(const YAML::Mark& mark) override {
        if (problem) return;
        if (documents_++ > 0 && mark.pos <= last_document_pos_) {
            const char c = static_cast<std::size_t>(mark.pos) < yaml_.size() ? yaml_[mark.pos] : '\0';
            return refuse(mark, c > ' ' && c <= '~' ? fmt::format("YAML syntax error: unexpected `{}`", c)
                                                    : std::string("YAML syntax error: unexpected character"));
        }
        last_document_pos_ = mark.pos;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        open_.push_back({anchor, false});
    }
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        open_.push_back({anchor, false});
    }
    void OnSequenceEnd() override { close(); }
    void OnMapEnd() override { close(); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        if (problem) return;
        if (++aliases_ > kMaxAliases)
            return refuse(mark, fmt::format("more than {} YAML aliases", kMaxAliases));
        for (const auto& open : open_)
            if (open.anchor == anchor) return refuse(mark, "a YAML alias refers to a node that contains it");
        if (nested_.contains(anchor))
            return refuse(mark, "a YAML alias refers to a node that itself holds aliases");
        for (auto& open : open_) open.holds_alias = true;
    }

private:
    struct Open {
        YAML::anchor_t anchor;
        bool holds_alias;
    };
    void close() {
        if (open_.empty()) return;
        if (open_.back().anchor != 0 && open_.back().holds_alias) nested_.insert(open_.back().anchor);
        open_.pop_back();
    }
    void refuse(const YAML::Mark& mark, std::string what) {
        problem = Problem{"", line_of(mark), std::move(what)};
    }

    std::string_view yaml_;
    std::vector<Open> open_;
    std::set<YAML::anchor_t> nested_;
    int aliases_ = 0;
    int documents_ = 0;
    int last_document_pos_ = 0;
};

}  // namespace

Config load_string(std::string_view yaml, const std::string& source_name, const EnvLookup& env) {
    std::vector<YAML::Node> documents;
    try {
        std::istringstream in{std::string(yaml)};
        YAML::Parser parser(in);
        YamlGuard guard(yaml);
        while (!guard.problem && parser.HandleNextDocument(guard)) {
        }
        if (guard.problem) throw ConfigError(source_name, {*guard.problem});
        documents = YAML::LoadAll(std::string(yaml));
    } catch (const YAML::Exception& e) {
        throw ConfigError(source_name, {{"", line_of(e.mark), fmt::format("YAML syntax error: {}", e.msg)}});
    }
    Loader loader(env);
    if (documents.size() > 1)
        loader.problem({"", line_of(documents[1])},
                       fmt::format("expected one YAML document, found {}", documents.size()));
    Config config = loader.load(documents.empty() ? YAML::Node() : documents.front());
    std::vector<Problem> problems = loader.take_problems();
    if (!problems.empty()) throw ConfigError(source_name, std::move(problems));
    return config;
}

Config load_file(const std::string& path, const EnvLookup& env) {
    const auto unreadable = [&](int error) {
        return ConfigError(path, {{"", 0,
                                   fmt::format("cannot read config file `{}`: {}", path,
                                               std::generic_category().message(error))}});
    };
    struct Closer {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };
    const std::unique_ptr<std::FILE, Closer> file(std::fopen(path.c_str(), "rb"));
    if (!file) throw unreadable(errno);
    std::string text;
    std::array<char, 8192> buffer;
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) text.append(buffer.data(), n);
    if (std::ferror(file.get())) throw unreadable(errno);
    return load_string(text, path, env);
}

}  // namespace sb::config
