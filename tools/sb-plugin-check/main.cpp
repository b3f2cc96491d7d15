// sb-plugin-check: the conformance kit for Switchboard channel plugins.
//
//   sb-plugin-check PLUGIN.so [--fixtures DIR] [--config JSON|FILE] [--bodies DIR]...
//                   [--allow-skips] [--print-events] [--json]
//
// Loads the plugin with the daemon's own loader (sb::plugin_host::load_plugin) and calls it the
// way the daemon does (sb::plugin_host::Channel, the real host services), then reports one line
// per check. Every call into a plugin instance runs in a forked child, so a plugin that crashes
// or hangs fails that check instead of killing the kit. Exit status: 0 all checks passed, 1 a
// check failed or one was skipped without --allow-skips, 2 usage error. `--help` describes the
// fixtures layout (also in docs/plugin-guide.md).

#include <dirent.h>
#include <dlfcn.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <switchboard/plugin.hpp>

#include "events/normalized.hpp"
#include "json_schema.hpp"
#include "plugin_host/channel.hpp"
#include "plugin_host/loader.hpp"
#include "plugin_host/webhook_signing.hpp"

namespace sb::plugin_check {
namespace {

namespace fs = std::filesystem;
using plugin_host::Channel;
using plugin_host::HeaderView;

constexpr int kChildTimeoutS = 30;
constexpr int kOpenCloseRounds = 100;

// ---- Report --------------------------------------------------------------------------------

enum class Result { pass, fail, skip };

struct Check {
    std::string name;
    Result result;
    std::string detail;
};

std::vector<Check> g_checks;

void record(std::string name, Result result, std::string detail = {}) {
    g_checks.push_back({std::move(name), result, std::move(detail)});
}
void expect(std::string name, bool ok, std::string detail = {}) {
    record(std::move(name), ok ? Result::pass : Result::fail, std::move(detail));
}

const char* label(Result r) { return r == Result::pass ? "pass" : r == Result::fail ? "fail" : "skip"; }

// ---- What the plugin said ------------------------------------------------------------------

// Log lines (the real host services log through spdlog) land here.
std::ostringstream g_log;
// Every error message and send-result message a plugin produced, for the secrets check.
std::string g_said;
// Values of x-secret settings in the good config: name → value.
std::vector<std::pair<std::string, std::string>> g_secrets;
// --print-events: show what parse emitted for each fixture and body.
bool g_print_events = false;
// --allow-skips: a skipped check does not fail the run.
bool g_allow_skips = false;

// Writes `events` (what parse emitted for `source`) to stdout, one JSON document a line. Runs in
// a child: flushed before the child _exits.
void print_events(const std::string& source, const std::vector<std::string>& events) {
    if (!g_print_events) return;
    std::cout << "events of " << source << " (" << events.size() << "):\n";
    for (const auto& e : events) std::cout << "  " << e << "\n";
    std::cout.flush();
}

void note(std::string_view text) {
    g_said.append(text);
    g_said.push_back('\n');
}

// ---- Children ------------------------------------------------------------------------------

struct ChildResult {
    bool ok = false;
    std::string detail;
};

std::string signal_name(int sig) {
    const char* name = strsignal(sig);
    return "signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
}

// Runs `body` in a forked child. `body` returns "" (pass) or why it failed. The child sends
// that, its new log lines and what the plugin said back through a pipe, then _exits.
ChildResult in_child(const std::function<std::string()>& body) {
    int fds[2];
    if (pipe(fds) != 0) return {false, "pipe failed"};
    std::cout.flush();
    std::cerr.flush();
    const std::size_t log_mark = g_log.str().size();
    const std::size_t said_mark = g_said.size();
    pid_t pid = fork();
    if (pid < 0) return {false, "fork failed"};
    if (pid == 0) {
        close(fds[0]);
        alarm(kChildTimeoutS);
        std::string verdict;
        try {
            verdict = body();
        } catch (const std::exception& e) {
            verdict = std::string("the check itself threw: ") + e.what();
        }
        std::string message = (verdict.empty() ? "P" : "F") + verdict + '\x1e' +
                              g_log.str().substr(log_mark) + '\x1e' + g_said.substr(said_mark);
        for (std::size_t off = 0; off < message.size();) {
            ssize_t n = write(fds[1], message.data() + off, message.size() - off);
            if (n <= 0) break;
            off += static_cast<std::size_t>(n);
        }
        _exit(0);
    }
    close(fds[1]);
    std::string message;
    char buffer[65536];
    for (;;) {
        ssize_t n = read(fds[0], buffer, sizeof buffer);
        if (n <= 0) break;
        message.append(buffer, static_cast<std::size_t>(n));
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        return {false, sig == SIGALRM ? "no answer within " + std::to_string(kChildTimeoutS) + " s"
                                      : "the plugin crashed: " + signal_name(sig)};
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || message.empty())
        return {false, "the plugin crashed or ended the process (exit status " +
                           std::to_string(WEXITSTATUS(status)) + ")"};
    auto first = message.find('\x1e');
    auto second = message.find('\x1e', first + 1);
    g_log << message.substr(first + 1, second - first - 1);
    g_said += message.substr(second + 1);
    return {message[0] == 'P', message.substr(1, first - 1)};
}

void expect_in_child(std::string name, const std::function<std::string()>& body) {
    ChildResult r = in_child(body);
    expect(std::move(name), r.ok, r.detail);
}

// ---- Helpers -------------------------------------------------------------------------------

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<fs::path> json_files(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return out;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().extension() == ".json") out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
}

int task_count() {
    int n = 0;
    if (DIR* d = opendir("/proc/self/task")) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') ++n;
        closedir(d);
    }
    return n;
}

std::string to_json(const rapidjson::Value& v) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    v.Accept(w);
    return {buffer.GetString(), buffer.GetSize()};
}

std::string clip(std::string_view s, std::size_t n = 160) {
    return s.size() <= n ? std::string(s) : std::string(s.substr(0, n)) + "...";
}

// ---- The plugin under test -----------------------------------------------------------------

struct Subject {
    std::shared_ptr<const plugin_host::Plugin> plugin;
    std::string good_config;  // "" = none given
    const JsonSchema* event_schema = nullptr;

    std::shared_ptr<Channel> open(const std::string& settings) const {
        config::ChannelConfig config;
        config.id = "check";
        config.plugin = plugin->id();
        config.settings_json = settings;
        auto channel = Channel::open(config, plugin);
        if (!channel->ready()) note(channel->failure());
        return channel;
    }

    // "" when every event is accepted by the host's reader (and, with `schema`, the schema).
    std::string check_events(const std::vector<std::string>& events, bool schema) const {
        for (std::size_t i = 0; i < events.size(); ++i) {
            events::ParseError error;
            if (!events::read_event(events[i], error))
                return "event " + std::to_string(i) + " refused by the host's reader: " + error.message +
                       ": " + clip(events[i]);
            if (schema && event_schema != nullptr) {
                if (std::string e = event_schema->validate(events[i]); !e.empty())
                    return "event " + std::to_string(i) + " violates normalized-events.schema.json: " + e +
                           ": " + clip(events[i]);
            }
        }
        return {};
    }

    plugin_host::ParseOutcome parse(Channel& channel, std::string_view body,
                                    const std::string& headers = {}) const {
        store::InboundRequest request;
        request.channel_id = "check";
        request.method = "POST";
        request.target = "/webhooks/check";
        request.headers = headers;
        request.body = body;
        auto out = channel.parse(request);
        if (!out.ok) note(out.error);
        return out;
    }
};

// ---- Descriptor ----------------------------------------------------------------------------

void check_descriptor(const Subject& s, const std::string& path) {
    const sb_plugin_v1& d = s.plugin->descriptor();
    expect("descriptor.magic", d.magic == SB_PLUGIN_MAGIC);
    constexpr std::size_t kV10Size = offsetof(sb_plugin_v1, account) + sizeof(void*);
    expect("descriptor.size", d.size >= kV10Size,
           "size " + std::to_string(d.size) + ", v1.0 needs " + std::to_string(kV10Size));
    expect("descriptor.abi_version",
           d.abi_major == SB_ABI_MAJOR && d.min_host_minor <= SB_ABI_MINOR && d.min_host_minor <= d.abi_minor,
           "built for " + std::to_string(d.abi_major) + "." + std::to_string(d.abi_minor) +
               ", needs host minor " + std::to_string(d.min_host_minor) + "; host is " +
               std::to_string(SB_ABI_MAJOR) + "." + std::to_string(SB_ABI_MINOR));
    std::string missing;
    for (auto [name, present] : {std::pair{"open", d.open != nullptr},
                                 {"close", d.close != nullptr},
                                 {"verify", d.verify != nullptr},
                                 {"parse", d.parse != nullptr},
                                 {"build_send", d.build_send != nullptr},
                                 {"classify_send", d.classify_send != nullptr}})
        if (!present) missing += std::string(missing.empty() ? "" : ", ") + name;
    expect("descriptor.mandatory_functions", missing.empty(), missing.empty() ? "" : "missing: " + missing);
    bool poll = (d.capabilities & SB_CAP_LONG_POLL) != 0;
    bool media_in = (d.capabilities & SB_CAP_MEDIA_IN) != 0;
    expect("descriptor.capabilities",
           (d.capabilities & ~std::uint64_t(0x7F)) == 0 &&
               (!poll || (d.poll_request != nullptr && d.poll_response != nullptr)) &&
               (!media_in || (SB_HAS_MEMBER(&d, sb_plugin_v1, fetch_media) && d.fetch_media != nullptr)),
           "capabilities " + std::to_string(d.capabilities) +
               " (known bits 0x7f; SB_CAP_LONG_POLL needs poll_request and poll_response, SB_CAP_MEDIA_IN "
               "needs fetch_media)");
    static const std::regex kId("[a-z0-9_-]{1,32}");
    bool id_ok = d.id != nullptr && std::regex_match(d.id, kId);
    expect("descriptor.id", id_ok, "id must match [a-z0-9_-]{1,32}");
    expect("descriptor.id_matches_file", id_ok && fs::path(path).filename() == std::string(d.id) + ".so",
           "the daemon loads <plugins.dir>/<id>.so; file is " + fs::path(path).filename().string());
    static const std::regex kSemver("[0-9]+\\.[0-9]+\\.[0-9]+([-+].*)?");
    expect("descriptor.version", d.version != nullptr && std::regex_match(d.version, kSemver),
           "version must be a semantic version (1.2.3)");
    expect("descriptor.description", d.description != nullptr && d.description[0] != '\0');
    rapidjson::Document schema;
    bool schema_ok = false;
    if (d.config_schema != nullptr) {
        schema.Parse(d.config_schema);
        schema_ok = !schema.HasParseError() && schema.IsObject() && schema.HasMember("type") &&
                    schema["type"].IsString() && std::string(schema["type"].GetString()) == "object";
    }
    expect("descriptor.config_schema", schema_ok, "config_schema must be a JSON Schema of an object");
}

// entry() returns the same pointer twice and starts no threads.
void check_entry(const Subject& s, const std::string& path, int tasks_before_load) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    auto entry =
        handle ? reinterpret_cast<sb_plugin_entry_v1_fn>(dlsym(handle, SB_PLUGIN_ENTRY_V1_SYMBOL)) : nullptr;
    if (entry == nullptr) {
        expect("entry.same_pointer", false, "could not find sb_plugin_entry_v1 again");
    } else {
        const sb_plugin_v1* a = entry();
        const sb_plugin_v1* b = entry();
        expect("entry.same_pointer", a == b && a == &s.plugin->descriptor(),
               "entry() must return one static descriptor");
    }
    if (handle) dlclose(handle);  // drops only the reference taken above
    int after = task_count();
    expect(
        "entry.no_threads", after == tasks_before_load,
        std::to_string(tasks_before_load) + " threads before loading, " + std::to_string(after) + " after");
}

// ---- Lifecycle -----------------------------------------------------------------------------

// Settings that violate the plugin's own schema, derived from it and the good config.
std::vector<std::pair<std::string, std::string>> schema_violations(const sb_plugin_v1& d,
                                                                   const std::string& good) {
    std::vector<std::pair<std::string, std::string>> out;
    rapidjson::Document schema;
    schema.Parse(d.config_schema ? d.config_schema : "");
    if (schema.HasParseError() || !schema.IsObject()) return out;
    if (auto r = schema.FindMember("required");
        r != schema.MemberEnd() && r->value.IsArray() && !r->value.Empty())
        out.emplace_back("required settings missing", "{}");
    rapidjson::Document base;
    base.Parse(good.c_str(), good.size());
    if (base.HasParseError() || !base.IsObject()) return out;
    auto props = schema.FindMember("properties");
    if (props != schema.MemberEnd() && props->value.IsObject()) {
        for (const auto& p : props->value.GetObject()) {
            auto type = p.value.FindMember("type");
            if (type == p.value.MemberEnd() || !type->value.IsString()) continue;
            std::string t = type->value.GetString();
            rapidjson::Document doc;
            doc.CopyFrom(base, doc.GetAllocator());
            rapidjson::Value wrong;
            if (t == "string")
                wrong.SetInt(12345);
            else
                wrong.SetString(("not-a-" + t).c_str(), doc.GetAllocator());
            doc.RemoveMember(p.name.GetString());
            doc.AddMember(rapidjson::Value(p.name, doc.GetAllocator()), wrong, doc.GetAllocator());
            out.emplace_back(std::string(p.name.GetString()) + " of the wrong type", to_json(doc));
        }
    }
    if (auto extra = schema.FindMember("additionalProperties");
        extra != schema.MemberEnd() && extra->value.IsFalse()) {
        rapidjson::Document doc;
        doc.CopyFrom(base, doc.GetAllocator());
        doc.AddMember("sb_check_unknown_setting", 1, doc.GetAllocator());
        out.emplace_back("an unknown setting", to_json(doc));
    }
    return out;
}

void check_lifecycle(const Subject& s) {
    for (auto [name, settings] : std::vector<std::pair<std::string, std::string>>{
             {"open.rejects_empty_config", ""},
             {"open.rejects_malformed_config", "{\"unterminated\": "},
             {"open.rejects_non_object_config", "[]"}}) {
        expect_in_child(name, [&, settings = settings] {
            auto channel = s.open(settings);
            if (channel->ready())
                return std::string("open() accepted ") + (settings.empty() ? "\"\"" : settings);
            if (channel->failure() == "plugin refused the settings: ") return std::string("no error message");
            return std::string();
        });
    }
    if (s.good_config.empty()) {
        record("open_close.good_config_100x", Result::skip,
               "no good config (--config or <fixtures>/config.json)");
        record("open.rejects_schema_violations", Result::skip, "no good config to derive violations from");
        return;
    }
    auto violations = schema_violations(s.plugin->descriptor(), s.good_config);
    expect_in_child("open.rejects_schema_violations", [&] {
        std::string accepted;
        for (const auto& [what, settings] : violations) {
            if (s.open(settings)->ready())
                accepted += (accepted.empty() ? "" : "; ") + what + ": " + clip(settings, 80);
        }
        return accepted.empty() ? std::string() : "accepted settings that violate its schema: " + accepted;
    });
    expect_in_child("open_close.good_config_100x", [&] {
        int before = task_count();
        for (int i = 0; i < kOpenCloseRounds; ++i) {
            auto channel = s.open(s.good_config);
            if (!channel->ready()) return "round " + std::to_string(i) + ": " + channel->failure();
        }
        int after = task_count();
        if (after != before)
            return "threads went from " + std::to_string(before) + " to " + std::to_string(after) +
                   " (plugins must not start threads)";
        return std::string();
    });
}

// ---- Webhook fixtures ----------------------------------------------------------------------

sb_verdict verdict_named(const std::string& name) {
    if (name == "accept") return SB_VERIFY_ACCEPT;
    if (name == "unauthorized") return SB_VERIFY_UNAUTHORIZED;
    if (name == "forbidden") return SB_VERIFY_FORBIDDEN;
    if (name == "bad_request") return SB_VERIFY_BAD_REQUEST;
    if (name == "responded") return SB_VERIFY_RESPONDED;
    throw std::runtime_error("unknown expect '" + name + "'");
}

// <fixtures>/webhooks/NAME.json:
//   {"request":{"method","target","headers":{name:value},"body":"raw body"},
//    "expect":"accept|unauthorized|forbidden|bad_request",
//    "parse":"ok|invalid" (accepted requests; default ok), "events":N (optional count)}
struct WebhookFixture {
    std::string method, target, body;
    std::vector<std::pair<std::string, std::string>> headers;
    sb_verdict expect = SB_VERIFY_ACCEPT;
    bool parse_ok = true;
    std::optional<unsigned> events;
};

// Throws std::runtime_error saying what is wrong with the file.
WebhookFixture read_webhook_fixture(const fs::path& file) {
    rapidjson::Document f;
    std::string text = read_file(file);
    f.Parse(text.c_str(), text.size());
    if (f.HasParseError() || !f.IsObject() || !f.HasMember("request") || !f["request"].IsObject() ||
        !f.HasMember("expect") || !f["expect"].IsString())
        throw std::runtime_error("fixture is not {\"request\":{...},\"expect\":\"...\"}");
    const auto& r = f["request"];
    auto str = [&](const char* key, const char* fallback) {
        return r.HasMember(key) && r[key].IsString()
                   ? std::string(r[key].GetString(), r[key].GetStringLength())
                   : std::string(fallback);
    };
    WebhookFixture out;
    out.method = str("method", "POST");
    out.target = str("target", "/webhooks/check");
    out.body = str("body", "");
    if (r.HasMember("headers") && r["headers"].IsObject())
        for (const auto& h : r["headers"].GetObject())
            if (h.value.IsString()) out.headers.emplace_back(h.name.GetString(), h.value.GetString());
    out.expect = verdict_named(f["expect"].GetString());
    out.parse_ok =
        !(f.HasMember("parse") && f["parse"].IsString() && std::string(f["parse"].GetString()) == "invalid");
    if (f.HasMember("events") && f["events"].IsUint()) out.events = f["events"].GetUint();
    return out;
}

void check_webhook_fixtures(const Subject& s, const fs::path& fixtures) {
    auto files = json_files(fixtures / "webhooks");
    if (files.empty()) {
        record("verify.fixtures", Result::skip, "no <fixtures>/webhooks/*.json");
        return;
    }
    for (const auto& file : files) {
        const std::string name = file.stem().string();
        expect_in_child("webhook." + name, [&]() -> std::string {
            WebhookFixture f = read_webhook_fixture(file);
            std::vector<HeaderView> headers(f.headers.begin(), f.headers.end());
            auto channel = s.open(s.good_config);
            if (!channel->ready()) return "open failed: " + channel->failure();
            auto got = channel->verify(f.method, f.target, headers, f.body);
            if (got.verdict != f.expect)
                return std::string("verify gave ") + switchboard::name(got.verdict) +
                       (got.reason.empty() ? "" : " (" + got.reason + ")") + ", fixture expects " +
                       switchboard::name(f.expect);
            if (f.expect != SB_VERIFY_ACCEPT) return {};

            auto parsed = s.parse(*channel, f.body, plugin_host::encode_headers(headers));
            if (!f.parse_ok)
                return parsed.ok ? "parse accepted a body the fixture says is invalid" : std::string();
            if (!parsed.ok) return "parse failed: " + parsed.error;
            print_events("webhook." + name, parsed.events);
            if (f.events && parsed.events.size() != *f.events)
                return "parse emitted " + std::to_string(parsed.events.size()) + " events, fixture expects " +
                       std::to_string(*f.events);
            return s.check_events(parsed.events, true);
        });
    }
}

// The good settings with `key`'s string value changed: a secret the platform did not use.
std::string with_other_secret(const std::string& settings_json, const std::string& key) {
    rapidjson::Document d;
    d.Parse(settings_json.c_str(), settings_json.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember(key.c_str()) || !d[key.c_str()].IsString())
        return {};
    std::string changed = std::string(d[key.c_str()].GetString()) + "-not-the-platforms";
    d[key.c_str()].SetString(changed.c_str(), static_cast<rapidjson::SizeType>(changed.size()),
                             d.GetAllocator());
    rapidjson::StringBuffer out;
    rapidjson::Writer<rapidjson::StringBuffer> w(out);
    d.Accept(w);
    return out.GetString();
}

// A plugin whose settings schema declares how its webhooks are signed (x-webhook-signature,
// which switchboardctl simulate-inbound signs with) must verify what is signed that way: each
// accepted fixture, re-signed with the good settings, is still accepted, and signed with
// another secret is not.
void check_declared_signing(const Subject& s, const fs::path& fixtures) {
    const char* schema = s.plugin->descriptor().config_schema;
    std::optional<plugin_host::WebhookSigning> signing;
    try {
        signing = plugin_host::webhook_signing_of(schema ? schema : "{}");
    } catch (const std::invalid_argument& e) {
        record("signature.declaration", Result::fail, e.what());
        return;
    }
    if (!signing) return;
    record("signature.declaration", Result::pass,
           signing->header + (fixtures.empty() ? " (pass --fixtures to check it against verify)" : ""));
    if (fixtures.empty()) return;
    if (s.good_config.empty()) {
        record("signature.declared_scheme", Result::skip,
               "no good config (--config or <fixtures>/config.json)");
        return;
    }
    std::vector<fs::path> accepted;
    for (const auto& file : json_files(fixtures / "webhooks")) try {
            if (read_webhook_fixture(file).expect == SB_VERIFY_ACCEPT) accepted.push_back(file);
        } catch (const std::exception&) {  // reported by check_webhook_fixtures
        }
    if (accepted.empty()) {
        record("signature.declared_scheme", Result::skip,
               "no accepted <fixtures>/webhooks/*.json to re-sign");
        return;
    }
    const std::string other = with_other_secret(s.good_config, signing->secret_setting);
    for (const auto& file : accepted) {
        expect_in_child("signature.declared_scheme." + file.stem().string(), [&]() -> std::string {
            WebhookFixture f = read_webhook_fixture(file);
            auto verdict_when_signed_with = [&](const std::string& settings) {
                auto signature = plugin_host::sign_webhook(*signing, settings, f.body);
                auto headers = f.headers;
                plugin_host::replace_signature(headers, *signing, signature);
                std::vector<HeaderView> views(headers.begin(), headers.end());
                auto channel = s.open(s.good_config);
                return channel->ready() ? channel->verify(f.method, f.target, views, f.body).verdict
                                        : SB_VERIFY_BAD_REQUEST;
            };
            if (auto got = verdict_when_signed_with(s.good_config); got != SB_VERIFY_ACCEPT)
                return std::string("signed as x-webhook-signature declares, verify gave ") +
                       switchboard::name(got);
            if (!other.empty())
                if (auto got = verdict_when_signed_with(other); got == SB_VERIFY_ACCEPT)
                    return "signed with another " + signing->secret_setting + ", verify still accepted it";
            return {};
        });
    }
}

// Every *.json in a --bodies directory is a raw platform payload: parse must not crash, and
// whatever it emits with SB_OK must be valid events.
void check_bodies(const Subject& s, const fs::path& dir) {
    auto files = json_files(dir);
    if (files.empty()) {
        record("parse.bodies " + dir.string(), Result::skip, "no *.json");
        return;
    }
    expect_in_child("parse.bodies " + dir.filename().string(), [&]() -> std::string {
        auto channel = s.open(s.good_config);
        if (!channel->ready()) return "open failed: " + channel->failure();
        std::size_t parsed = 0;
        for (const auto& file : files) {
            auto out = s.parse(*channel, read_file(file));
            if (!out.ok) continue;
            ++parsed;
            print_events(file.filename().string(), out.events);
            if (std::string e = s.check_events(out.events, true); !e.empty())
                return file.filename().string() + ": " + e;
        }
        if (parsed == 0) return "none of the " + std::to_string(files.size()) + " bodies parsed";
        return {};
    });
}

// ---- Hostile input -------------------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> hostile_bodies() {
    std::vector<std::pair<std::string, std::string>> out;
    out.emplace_back("empty", "");
    out.emplace_back("truncated", R"({"v":1,"type":"message","conversation":{"id":"1"},"sender":{"id)");
    out.emplace_back("huge_string", "{\"text\":\"" + std::string(1 << 20, 'a') + "\"}");
    out.emplace_back("huge_key", "{\"" + std::string(1 << 20, 'k') + "\":1}");
    out.emplace_back("deep_arrays", std::string(100000, '[') + std::string(100000, ']'));
    out.emplace_back("deep_objects", [] {
        std::string s;
        for (int i = 0; i < 100000; ++i) s += "{\"a\":";
        s += "1";
        s += std::string(100000, '}');
        return s;
    }());
    out.emplace_back("wrong_types",
                     R"({"v":"1","type":5,"id":[],"conversation":"x","sender":7,"timestamp_ms":"now",)"
                     R"("content":{"type":["text"],"text":{}},"events":{"a":1},"entry":"x","message":[],)"
                     R"("update_id":"x","object":42})");
    out.emplace_back("wrong_root_types", "[1,2,3]");
    out.emplace_back("number_root", "1e999999");
    out.emplace_back("null_root", "null");
    out.emplace_back("invalid_utf8", "{\"text\":\"\xff\xfe\xc0\xaf\xed\xa0\x80\"}");
    out.emplace_back("nul_bytes", std::string("{\"text\":\"a\0b\"}", 14));
    out.emplace_back("batch_of_junk", R"({"events":[1,"x",null,{},[]]})");
    return out;
}

void check_hostile_parse(const Subject& s) {
    for (const auto& [name, body] : hostile_bodies()) {
        expect_in_child("parse.hostile." + name, [&, body = body]() -> std::string {
            auto channel = s.open(s.good_config.empty() ? "{}" : s.good_config);
            if (!channel->ready()) return {};  // nothing to call; lifecycle checks report this
            auto out = s.parse(*channel, body);
            if (out.ok) return s.check_events(out.events, false);
            if (out.error.empty()) return "refused without a message";
            return {};
        });
    }
    // verify runs on the daemon's I/O threads: whatever it decides, it must not crash or hang.
    expect_in_child("verify.hostile", [&]() -> std::string {
        auto channel = s.open(s.good_config.empty() ? "{}" : s.good_config);
        if (!channel->ready()) return {};
        std::vector<HeaderView> none;
        std::vector<HeaderView> junk{
            {"", ""}, {"X-Hub-Signature-256", "sha256="}, {"X-Switchboard-Signature", "\xff"}};
        for (const auto& [name, body] : hostile_bodies()) {
            channel->verify("POST", "/webhooks/check", none, body);
            channel->verify("GET", "/webhooks/check?hub.mode=subscribe", junk, body);
        }
        return {};
    });
}

// ---- Outbound ------------------------------------------------------------------------------

std::string outbound(const std::string& content) {
    return R"({"v":1,"conversation":{"id":"123456789"},"recipient":{"id":"123456789"},"content":)" + content +
           "}";
}

void check_build_send(const Subject& s) {
    if (s.good_config.empty()) {
        record("build_send", Result::skip, "no good config");
        return;
    }
    const auto caps = s.plugin->descriptor().capabilities;
    std::vector<std::pair<std::string, std::string>> claimed{
        {"text", R"({"type":"text","text":"Hello from sb-plugin-check"})"}};
    if (caps & SB_CAP_MEDIA_OUT)
        for (const char* type : {"image", "document", "audio", "video"})
            claimed.emplace_back(
                type, std::string(R"({"type":")") + type + R"(","url":"https://example.com/f.bin"})");
    if (caps & SB_CAP_TYPING_OUT)
        claimed.emplace_back("typing", R"({"type":"typing","state":"on","message_id":"m1"})");
    if (caps & SB_CAP_MARK_READ) claimed.emplace_back("mark_read", R"({"type":"mark_read","id":"m1"})");

    for (const auto& [type, content] : claimed) {
        expect_in_child("build_send." + type, [&, content = content]() -> std::string {
            auto channel = s.open(s.good_config);
            if (!channel->ready()) return "open failed: " + channel->failure();
            auto out = channel->build_send(outbound(content));
            if (out.status != SB_OK) {
                note(out.error);
                return "build_send returned " + std::to_string(out.status) + ": " + out.error;
            }
            const auto& r = out.request;
            if (r.method.empty()) return "request has no method";
            if (r.url.rfind("http://", 0) != 0 && r.url.rfind("https://", 0) != 0)
                return "request target is not an absolute http(s) URL";
            // The platform's answers must be classifiable without crashing; a missing answer
            // (status 0) is transient by the ABI's definition.
            http_client::Response none;
            none.transport_error = "connection refused";
            auto res = channel->classify_send(outbound(content), none);
            note(res.message);
            if (res.send_class != SB_SEND_RETRYABLE)
                return std::string("classify_send of a transport failure gave class ") +
                       switchboard::name(static_cast<sb_send_class>(res.send_class)) +
                       ", expected SB_SEND_RETRYABLE";
            http_client::Response down;
            down.status = 503;
            down.body = "<html>Service Unavailable</html>";
            res = channel->classify_send(outbound(content), down);
            note(res.message);
            if (res.send_class != SB_SEND_RETRYABLE && res.send_class != SB_SEND_RATE_LIMITED)
                return std::string("classify_send of HTTP 503 gave class ") +
                       switchboard::name(static_cast<sb_send_class>(res.send_class)) + ", expected retryable";
            return {};
        });
    }
    expect_in_child("build_send.refuses_unknown_content", [&]() -> std::string {
        auto channel = s.open(s.good_config);
        if (!channel->ready()) return "open failed: " + channel->failure();
        auto out = channel->build_send(outbound(R"({"type":"hologram","data":"x"})"));
        note(out.error);
        if (out.status == SB_OK) return "build_send accepted content type 'hologram'";
        if (out.status != SB_E_UNSUPPORTED && out.status != SB_E_INVALID)
            return "build_send returned " + std::to_string(out.status) + " (expected SB_E_UNSUPPORTED)";
        return {};
    });
    expect_in_child("build_send.hostile", [&]() -> std::string {
        auto channel = s.open(s.good_config);
        if (!channel->ready()) return "open failed: " + channel->failure();
        for (const auto& [name, body] : hostile_bodies()) {
            auto out = channel->build_send(body);
            note(out.error);
            if (out.status == SB_OK) return "build_send accepted hostile input '" + name + "'";
        }
        return {};
    });
    expect_in_child("classify_send.hostile", [&]() -> std::string {
        auto channel = s.open(s.good_config);
        if (!channel->ready()) return "open failed: " + channel->failure();
        const auto bodies = hostile_bodies();
        for (int status : {0, 200, 201, 400, 429, 500, 999, -1}) {
            for (const auto& [name, body] : bodies) {
                // The megabyte bodies with a success, a throttle and an error status only: they
                // test the body parser, which the status does not change, and eight times over
                // they took the check past its time limit under the sanitizers on a busy machine.
                constexpr std::size_t kLargeBody = 64 * 1024;
                if (body.size() > kLargeBody && status != 200 && status != 429 && status != 500) continue;
                http_client::Response r;
                r.status = status;
                r.body = body;
                r.headers = {{"Retry-After", "\xff"}};
                auto res = channel->classify_send(outbound(R"({"type":"text","text":"x"})"), r);
                note(res.message);
                if (res.send_class == SB_SEND_OK && status != 200 && status != 201)
                    return "HTTP " + std::to_string(status) + " with body '" + name + "' classified as OK";
            }
        }
        return {};
    });
}

// ---- Secrets -------------------------------------------------------------------------------

void collect_secrets(const Subject& s) {
    rapidjson::Document schema, config;
    const char* text = s.plugin->descriptor().config_schema;
    schema.Parse(text ? text : "");
    config.Parse(s.good_config.c_str(), s.good_config.size());
    if (schema.HasParseError() || !schema.IsObject() || config.HasParseError() || !config.IsObject()) return;
    auto props = schema.FindMember("properties");
    if (props == schema.MemberEnd() || !props->value.IsObject()) return;
    for (const auto& p : props->value.GetObject()) {
        auto secret = p.value.FindMember("x-secret");
        if (secret == p.value.MemberEnd() || !secret->value.IsTrue()) continue;
        auto value = config.FindMember(p.name);
        if (value != config.MemberEnd() && value->value.IsString() && value->value.GetStringLength() >= 4)
            g_secrets.emplace_back(p.name.GetString(), value->value.GetString());
    }
}

// Provokes errors that would most likely quote a secret: platform answers echoing it, a
// transport error naming a URL with it, settings with an unknown key next to it.
void provoke_secret_leaks(const Subject& s) {
    if (g_secrets.empty()) return;
    expect_in_child("secrets.provoked_errors_run", [&]() -> std::string {
        std::string all;
        for (const auto& [name, value] : g_secrets) all += value + " ";
        rapidjson::Document config;
        config.Parse(s.good_config.c_str(), s.good_config.size());
        config.AddMember("sb_check_unknown_setting", rapidjson::Value(all.c_str(), config.GetAllocator()),
                         config.GetAllocator());
        s.open(to_json(config));
        auto channel = s.open(s.good_config);
        if (!channel->ready()) return "open failed: " + channel->failure();
        rapidjson::Document echo(rapidjson::kObjectType);
        rapidjson::Value error(rapidjson::kObjectType);
        error.AddMember("message", rapidjson::Value(all.c_str(), echo.GetAllocator()), echo.GetAllocator());
        error.AddMember("code", 190, echo.GetAllocator());
        echo.AddMember("error", error, echo.GetAllocator());
        echo.AddMember("description", rapidjson::Value(all.c_str(), echo.GetAllocator()),
                       echo.GetAllocator());
        echo.AddMember("ok", false, echo.GetAllocator());
        echo.AddMember("error_code", 401, echo.GetAllocator());
        for (int status : {0, 400, 401, 500}) {
            http_client::Response r;
            r.status = status;
            r.body = to_json(echo);
            if (status == 0) r.transport_error = "connect to https://example.com/" + all + " failed";
            note(channel->classify_send(outbound(R"({"type":"text","text":"x"})"), r).message);
        }
        s.parse(*channel, "{\"unknown\":\"" + all + "\"");
        return {};
    });
}

void check_secrets(const Subject& s) {
    if (s.good_config.empty()) {
        record("secrets.not_in_logs_or_errors", Result::skip,
               "no good config (--config or <fixtures>/config.json) to take secret values from");
        return;
    }
    if (g_secrets.empty()) {
        record("secrets.not_in_logs_or_errors", Result::skip, "no x-secret setting in the good config");
        return;
    }
    std::string everything = g_log.str() + "\n" + g_said;
    std::string leaked;
    for (const auto& [name, value] : g_secrets) {
        if (everything.find(value) != std::string::npos) leaked += (leaked.empty() ? "" : ", ") + name;
    }
    expect("secrets.not_in_logs_or_errors", leaked.empty(),
           leaked.empty() ? "" : "the value of " + leaked + " appeared in a log line or error message");
}

// ---- Output --------------------------------------------------------------------------------

void print_human(const std::string& path, const Subject* s) {
    if (s != nullptr) {
        const auto& d = s->plugin->descriptor();
        std::cout << "sb-plugin-check " << path << ": plugin " << d.id << " " << d.version << ", ABI "
                  << d.abi_major << "." << d.abi_minor << " (host ABI " << SB_ABI_MAJOR << "." << SB_ABI_MINOR
                  << ")\n";
    }
    int counts[3] = {0, 0, 0};
    for (const auto& c : g_checks) {
        ++counts[static_cast<int>(c.result)];
        std::cout << (c.result == Result::pass   ? "PASS "
                      : c.result == Result::fail ? "FAIL "
                                                 : "SKIP ")
                  << c.name;
        if (!c.detail.empty() && c.result != Result::pass) std::cout << " — " << c.detail;
        std::cout << "\n";
    }
    std::cout << counts[0] << " passed, " << counts[1] << " failed, " << counts[2] << " skipped\n";
    if (counts[2] > 0 && !g_allow_skips)
        std::cout << "a skipped check is not a pass: give what it needs, or --allow-skips\n";
}

void print_json(const std::string& path, const Subject* s) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("plugin_path");
    w.String(path.c_str());
    if (s != nullptr) {
        const auto& d = s->plugin->descriptor();
        w.Key("id");
        w.String(d.id);
        w.Key("version");
        w.String(d.version);
        w.Key("abi");
        w.String((std::to_string(d.abi_major) + "." + std::to_string(d.abi_minor)).c_str());
    }
    w.Key("host_abi");
    w.String((std::to_string(SB_ABI_MAJOR) + "." + std::to_string(SB_ABI_MINOR)).c_str());
    bool passed = true;
    w.Key("checks");
    w.StartArray();
    for (const auto& c : g_checks) {
        passed = passed && c.result != Result::fail && (c.result != Result::skip || g_allow_skips);
        w.StartObject();
        w.Key("name");
        w.String(c.name.c_str());
        w.Key("result");
        w.String(label(c.result));
        w.Key("detail");
        w.String(c.detail.c_str(), static_cast<rapidjson::SizeType>(c.detail.size()));
        w.EndObject();
    }
    w.EndArray();
    w.Key("passed");
    w.Bool(passed);
    w.EndObject();
    std::cout << buffer.GetString() << "\n";
}

constexpr const char kUsage[] =
    "usage: sb-plugin-check PLUGIN.so [--fixtures DIR] [--config JSON|FILE] [--bodies DIR]...\n"
    "                      [--allow-skips] [--print-events] [--json]\n";

constexpr const char kHelp[] = R"(
Checks a Switchboard channel plugin against the plugin contract (docs/plugin-guide.md):
the descriptor, open/close, settings validation, verify and parse of your fixtures, hostile
bodies, build_send for every content type the capabilities claim, classify_send, secrets.
Every call into the plugin runs in a forked child, so a crash or hang fails one check.

  --config JSON|FILE  good channel settings (a JSON object, or a file holding one)
  --fixtures DIR      a fixtures directory (below); DIR/config.json is the good config
                      unless --config is given
  --bodies DIR        raw platform payloads (*.json): parse must not crash and whatever it
                      emits must be valid events (repeatable)
  --allow-skips       exit 0 even when checks were skipped (without it a skip fails)
  --print-events      print the events parse emits for each fixture and body
  --json              one JSON report instead of lines
  -h, --help          this text

Fixtures directory:
  DIR/config.json          the good settings object
  DIR/webhooks/NAME.json   one webhook request and what verify and parse must make of it:
    {"request": {"method": "POST", "target": "/webhooks/x?a=b",
                 "headers": {"Name": "value"}, "body": "the raw body, as a JSON string"},
     "expect": "accept" | "unauthorized" | "forbidden" | "bad_request" | "responded",
     "parse": "ok" | "invalid",       (accepted requests; default ok)
     "events": N}                     (optional: how many events parse must emit)
  An accepted request's events are checked against the event schema
  (share/switchboard/normalized-events.schema.json).

Exit status: 0 every check passed (or was skipped, with --allow-skips), 1 a check failed or
was skipped, 2 usage error.
)";

int usage() {
    std::cerr << kUsage << "sb-plugin-check --help describes the options and the fixtures.\n";
    return 2;
}

int run(int argc, char** argv) {
    std::string path, config_arg;
    fs::path fixtures;
    std::vector<fs::path> bodies;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
            return argv[++i];
        };
        if (a == "--json")
            json = true;
        else if (a == "--allow-skips")
            g_allow_skips = true;
        else if (a == "--print-events")
            g_print_events = true;
        else if (a == "--fixtures")
            fixtures = next();
        else if (a == "--config")
            config_arg = next();
        else if (a == "--bodies")
            bodies.emplace_back(next());
        else if (a == "-h" || a == "--help") {
            std::cout << kUsage << kHelp;
            return 0;
        } else if (!a.empty() && a[0] != '-' && path.empty())
            path = a;
        else
            return usage();
    }
    if (path.empty()) return usage();

    // The real host services log through spdlog: capture every line for the secrets check.
    auto logger =
        std::make_shared<spdlog::logger>("check", std::make_shared<spdlog::sinks::ostream_sink_st>(g_log));
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);

    static const JsonSchema schema(builtin_event_schema());
    Subject s;
    s.event_schema = &schema;
    if (!config_arg.empty())
        s.good_config = config_arg.front() == '{' ? config_arg : read_file(config_arg);
    else if (!fixtures.empty() && fs::exists(fixtures / "config.json"))
        s.good_config = read_file(fixtures / "config.json");

    const int tasks_before = task_count();
    std::string error;
    s.plugin = plugin_host::load_plugin(path, error);
    expect("loader.accepts", s.plugin != nullptr, error);
    if (!s.plugin) {
        json ? print_json(path, nullptr) : print_human(path, nullptr);
        return 1;
    }
    check_descriptor(s, path);
    check_entry(s, path, tasks_before);
    collect_secrets(s);
    check_lifecycle(s);
    if (!fixtures.empty()) check_webhook_fixtures(s, fixtures);
    check_declared_signing(s, fixtures);
    for (const auto& dir : bodies) check_bodies(s, dir);
    check_hostile_parse(s);
    check_build_send(s);
    provoke_secret_leaks(s);
    check_secrets(s);

    json ? print_json(path, &s) : print_human(path, &s);
    return std::any_of(g_checks.begin(), g_checks.end(),
                       [](const Check& c) {
                           return c.result == Result::fail || (c.result == Result::skip && !g_allow_skips);
                       })
               ? 1
               : 0;
}

}  // namespace
}  // namespace sb::plugin_check

int main(int argc, char** argv) {
    try {
        return sb::plugin_check::run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "sb-plugin-check: " << e.what() << "\n";
        return 2;
    }
}
