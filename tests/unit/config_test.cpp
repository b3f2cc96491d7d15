#include "config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

// gmock is not linked; gtest's own substring assertions give the same messages.
#define EXPECT_CONTAINS(haystack, needle) EXPECT_PRED_FORMAT2(::testing::IsSubstring, needle, haystack)
#define EXPECT_NOT_CONTAINS(haystack, needle) EXPECT_PRED_FORMAT2(::testing::IsNotSubstring, needle, haystack)

namespace sb::config {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        const auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

const EnvLookup kNoEnv = env_of({});

// The smallest config that loads: everything else has a default.
constexpr std::string_view kMinimal = R"(
auth: { bootstrap_admin_token: "0123456789abcdef" }
channels: []
)";

Config load(std::string_view yaml, const EnvLookup& env = kNoEnv) {
    return load_string(yaml, "test.yaml", env);
}

// The problems a config is rejected with; none (and a test failure) if it loads.
std::vector<Problem> problems_of(std::string_view yaml, const EnvLookup& env = kNoEnv) {
    try {
        load(yaml, env);
    } catch (const ConfigError& e) {
        return e.problems();
    }
    ADD_FAILURE() << "expected a ConfigError for:\n" << yaml;
    return {};
}

// The only problem a config is rejected with.
Problem problem_of(std::string_view yaml, const EnvLookup& env = kNoEnv) {
    std::vector<Problem> problems = problems_of(yaml, env);
    EXPECT_EQ(problems.size(), 1u);
    if (problems.empty()) return {};
    return problems.front();
}

std::string with_minimal(std::string_view extra) { return std::string(kMinimal) + std::string(extra); }

TEST(ConfigTest, LoadsEveryKeyOfAFullConfig) {
    const Config c = load(R"(
server:
  listen: "0.0.0.0:9090"
  threads: 4
  webhook_body_limit: "4MiB"
  api_body_limit: 65536
  header_timeout_ms: 5000
  idle_timeout_ms: 30000
  cors_origins: ["https://app.example.com", "http://localhost:3000"]
storage:
  backend: postgres
  sqlite: { path: "/var/lib/sb/sb.db" }
  postgres: { dsn: "postgresql://sb@db/sb", pool_size: 16 }
plugins:
  dir: "/usr/lib/switchboard/plugins"
auth:
  bootstrap_admin_token: "abcdefghijklmnopqrstuvwxyz"
channels:
  - id: tg-support
    plugin: telegram
    receive: long_poll
    settings: { bot_token: "123:abc" }
  - id: wa_main
    plugin: whatsapp
inbound: { batch_size: 100, max_attempts: 7, lease_ms: 15000 }
outbound: { timeout_ms: 2500, max_attempts: 4, max_retry_after_ms: 0 }
log: { level: debug }
)");
    EXPECT_EQ(c.server.listen_host, "0.0.0.0");
    EXPECT_EQ(c.server.listen_port, 9090);
    EXPECT_EQ(c.server.threads, 4);
    EXPECT_EQ(c.server.webhook_body_limit, 4u << 20);
    EXPECT_EQ(c.server.api_body_limit, 65536u);
    EXPECT_EQ(c.server.header_timeout_ms, 5000);
    EXPECT_EQ(c.server.idle_timeout_ms, 30000);
    EXPECT_EQ(c.server.cors_origins,
              (std::vector<std::string>{"https://app.example.com", "http://localhost:3000"}));
    EXPECT_EQ(c.storage.backend, "postgres");
    EXPECT_EQ(c.storage.sqlite_path, "/var/lib/sb/sb.db");
    EXPECT_EQ(c.storage.postgres_dsn, "postgresql://sb@db/sb");
    EXPECT_EQ(c.storage.postgres_pool_size, 16);
    EXPECT_EQ(c.plugins_dir, "/usr/lib/switchboard/plugins");
    EXPECT_EQ(c.bootstrap_admin_token, "abcdefghijklmnopqrstuvwxyz");
    ASSERT_EQ(c.channels.size(), 2u);
    EXPECT_EQ(c.channels[0].id, "tg-support");
    EXPECT_EQ(c.channels[0].plugin, "telegram");
    EXPECT_EQ(c.channels[0].receive, "long_poll");
    EXPECT_EQ(c.channels[0].settings_json, R"({"bot_token":"123:abc"})");
    EXPECT_EQ(c.channels[0].line, 19);
    EXPECT_EQ(c.channels[1].id, "wa_main");
    EXPECT_EQ(c.channels[1].plugin, "whatsapp");
    EXPECT_EQ(c.channels[1].receive, "webhook");
    EXPECT_EQ(c.channels[1].settings_json, "{}");
    EXPECT_EQ(c.channels[1].line, 23);
    EXPECT_EQ(c.inbound.batch_size, 100);
    EXPECT_EQ(c.inbound.max_attempts, 7);
    EXPECT_EQ(c.inbound.lease_ms, 15000);
    EXPECT_EQ(c.outbound.timeout_ms, 2500);
    EXPECT_EQ(c.outbound.max_attempts, 4);
    EXPECT_EQ(c.outbound.max_retry_after_ms, 0);
    EXPECT_EQ(c.log_level, "debug");
}

TEST(ConfigTest, AppliesDefaultsWhenOptionalKeysAreAbsent) {
    const Config c = load(kMinimal);
    const Config defaults;
    EXPECT_EQ(c.server.listen_host, "127.0.0.1");
    EXPECT_EQ(c.server.listen_port, 8080);
    EXPECT_EQ(c.server.threads, 0);
    EXPECT_EQ(c.server.webhook_body_limit, 8u << 20);
    EXPECT_EQ(c.server.api_body_limit, 1u << 20);
    EXPECT_EQ(c.server.header_timeout_ms, defaults.server.header_timeout_ms);
    EXPECT_EQ(c.server.idle_timeout_ms, defaults.server.idle_timeout_ms);
    EXPECT_TRUE(c.server.cors_origins.empty());
    EXPECT_EQ(c.storage.backend, "sqlite");
    EXPECT_EQ(c.storage.sqlite_path, "./var/switchboard.db");
    EXPECT_EQ(c.storage.postgres_pool_size, 8);
    EXPECT_EQ(c.plugins_dir, "./build/plugins");
    EXPECT_TRUE(c.channels.empty());
    EXPECT_EQ(c.inbound.batch_size, 256);
    EXPECT_EQ(c.inbound.max_attempts, 5);
    EXPECT_EQ(c.inbound.lease_ms, 10'000);
    EXPECT_EQ(c.outbound.timeout_ms, 10'000);
    EXPECT_EQ(c.outbound.max_attempts, 3);
    EXPECT_EQ(c.outbound.max_retry_after_ms, 2'000);
    EXPECT_EQ(c.log_level, "info");
}

TEST(ConfigTest, PluginsDirTakesOneDirectoryOrASearchPath) {
    const Config one = load(with_minimal("plugins:\n  dir: /opt/sb/plugins\n"));
    EXPECT_EQ(one.plugin_dirs, (std::vector<std::string>{"/opt/sb/plugins"}));
    EXPECT_EQ(one.plugins_dir, "/opt/sb/plugins");
    const Config list =
        load(with_minimal("plugins:\n  dir: [/opt/acme/plugins, /usr/lib/switchboard/plugins]\n"));
    EXPECT_EQ(list.plugin_dirs,
              (std::vector<std::string>{"/opt/acme/plugins", "/usr/lib/switchboard/plugins"}));
    EXPECT_EQ(list.plugins_dir, "/opt/acme/plugins");
    EXPECT_THROW(load(with_minimal("plugins:\n  dir: []\n")), ConfigError);
    EXPECT_THROW(load(with_minimal("plugins:\n  dir: [/a, \"\"]\n")), ConfigError);
}

TEST(ConfigTest, TreatsAnEmptySectionAsAllDefaults) {
    const Config c = load(with_minimal("server:\nlog:\n"));
    EXPECT_EQ(c.server.listen_port, 8080);
    EXPECT_EQ(c.log_level, "info");
}

TEST(ConfigTest, ExpandsVariablesAndDefaultsEverywhereIncludingSettings) {
    const EnvLookup env =
        env_of({{"ADMIN", "from-the-environment-123"}, {"PORT", "7000"}, {"TOKEN", "tok-42"}, {"EMPTY", ""}});
    const Config c = load(R"(
server: { listen: "127.0.0.1:${PORT}", threads: "${THREADS:-3}" }
auth: { bootstrap_admin_token: "${ADMIN}" }
channels:
  - id: ${CHANNEL:-tg-default}
    plugin: telegram
    settings:
      bot_token: ${TOKEN}
      api_base: "${API_BASE:-http://127.0.0.1:9999}"
      empty_gets_default: "${EMPTY:-fallback}"
      price: "$$5 and $9"
      nested: { list: ["${TOKEN}-a", "x${MISSING:-}y"] }
)",
                          env);
    EXPECT_EQ(c.server.listen_port, 7000);
    EXPECT_EQ(c.server.threads, 3);
    EXPECT_EQ(c.bootstrap_admin_token, "from-the-environment-123");
    ASSERT_EQ(c.channels.size(), 1u);
    EXPECT_EQ(c.channels[0].id, "tg-default");
    EXPECT_EQ(c.channels[0].settings_json,
              R"({"bot_token":"tok-42","api_base":"http://127.0.0.1:9999","empty_gets_default":"fallback",)"
              R"("price":"$5 and $9","nested":{"list":["tok-42-a","xy"]}})");
}

TEST(ConfigTest, ExpandedValuesInSettingsStayStrings) {
    const Config c = load(R"(auth: { bootstrap_admin_token: "0123456789abcdef" }
channels:
  - id: a
    plugin: p
    settings:
      port: ${PORT}
      flag: ${FLAG:-true}
)",
                          env_of({{"PORT", "8443"}}));
    ASSERT_EQ(c.channels.size(), 1u);
    EXPECT_EQ(c.channels[0].settings_json, R"({"port":"8443","flag":"true"})");
}

TEST(ConfigTest, UndefinedVariableIsReportedWithItsNameKeyPathAndLine) {
    const std::string yaml = R"(auth: { bootstrap_admin_token: "0123456789abcdef" }
channels:
  - id: tg
    plugin: telegram
    settings:
      bot_token: "${TG_BOT_TOKEN}"
)";
    const Problem p = problem_of(yaml);
    EXPECT_EQ(p.path, "channels[0].settings.bot_token");
    EXPECT_EQ(p.line, 6);
    EXPECT_CONTAINS(p.message, "TG_BOT_TOKEN");
    try {
        load(yaml);
    } catch (const ConfigError& e) {
        EXPECT_CONTAINS(std::string(e.what()), "test.yaml:6: channels[0].settings.bot_token: ");
        EXPECT_CONTAINS(std::string(e.what()), "TG_BOT_TOKEN");
    }
}

TEST(ConfigTest, UnusedStorageBackendMayNameUnsetVariables) {
    // DESIGN §5's example keeps a postgres dsn next to `backend: sqlite`.
    const Config c = load(with_minimal(R"(storage:
  backend: sqlite
  postgres: { dsn: "${SWITCHBOARD_PG_DSN}" }
)"));
    EXPECT_EQ(c.storage.backend, "sqlite");
    EXPECT_TRUE(c.storage.postgres_dsn.empty());

    const Problem p = problem_of(with_minimal(R"(storage:
  backend: postgres
  postgres: { dsn: "${SWITCHBOARD_PG_DSN}" }
)"));
    EXPECT_EQ(p.path, "storage.postgres.dsn");
    EXPECT_CONTAINS(p.message, "SWITCHBOARD_PG_DSN");
}

TEST(ConfigTest, PostgresBackendRequiresADsn) {
    const Problem p = problem_of(with_minimal("storage: { backend: postgres }\n"));
    EXPECT_EQ(p.path, "storage.postgres.dsn");
    EXPECT_EQ(p.line, 4);
    EXPECT_CONTAINS(p.message, "required");
}

TEST(ConfigTest, RefusesASelfReferencingAliasWithItsLine) {
    const Problem p = problem_of(with_minimal("server: &loop\n  threads: 2\n  extra: *loop\n"));
    EXPECT_EQ(p.line, 6);
    EXPECT_CONTAINS(p.message, "refers to a node that contains it");
}

TEST(ConfigTest, RefusesAnAliasBombBeforeExpandingIt) {
    // Ten levels of ten aliases each would be 10^10 nodes once expanded.
    std::string yaml(kMinimal);
    yaml += "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for (int i = 1; i < 10; ++i) {
        yaml += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int j = 0; j < 10; ++j) yaml += std::string(j ? ", " : "") + "*a" + std::to_string(i - 1);
        yaml += "]\n";
    }
    const auto problems = problems_of(yaml);
    ASSERT_FALSE(problems.empty());
    EXPECT_CONTAINS(problems.front().message, "alias");
}

// Found by fuzz/config_fuzzer.cpp: yaml-cpp 0.7 reports an empty document at a token that cannot
// start a node forever (jbeder/yaml-cpp#1040); load_string hung with its memory growing.
TEST(ConfigTest, RefusesAStrayCommaInsteadOfHanging) {
    for (std::string_view yaml :
         {std::string_view(","), std::string_view(",a"), std::string_view(",t4\xe2on\":\"12\x12:abc\"}")}) {
        const Problem p = problem_of(yaml);
        EXPECT_EQ(p.line, 1) << yaml;
        EXPECT_CONTAINS(p.message, "YAML syntax error: unexpected `,`");
    }
    const Problem later = problem_of(with_minimal("---\n,\n"));
    EXPECT_EQ(later.line, 5);
    EXPECT_CONTAINS(later.message, "unexpected `,`");
}

TEST(ConfigTest, AcceptsAPlainAliasOfASetting) {
    auto config = load(R"(
auth: { bootstrap_admin_token: &token "0123456789abcdef" }
server: { threads: &n 3 }
inbound: { batch_size: *n }
channels: []
)");
    EXPECT_EQ(config.server.threads, 3);
    EXPECT_EQ(config.inbound.batch_size, 3);
}

TEST(ConfigTest, RejectsUnknownTopLevelKey) {
    const Problem p = problem_of(with_minimal("sever:\n  listen: \"127.0.0.1:1\"\n"));
    EXPECT_EQ(p.path, "sever");
    EXPECT_EQ(p.line, 4);
    EXPECT_CONTAINS(p.message, "unknown key");
    EXPECT_CONTAINS(p.message, "did you mean `server`?");
}

TEST(ConfigTest, RejectsUnknownNestedKeyWithDidYouMean) {
    const Problem p = problem_of(with_minimal("server:\n  threads: 1\n  listn: \"127.0.0.1:1\"\n"));
    EXPECT_EQ(p.path, "server.listn");
    EXPECT_EQ(p.line, 6);
    EXPECT_CONTAINS(p.message, "did you mean `listen`?");
}

TEST(ConfigTest, UnknownKeyFarFromAnyKnownKeyListsTheKnownKeys) {
    const Problem p = problem_of(with_minimal("log: { verbosity: 3 }\n"));
    EXPECT_EQ(p.path, "log.verbosity");
    EXPECT_NOT_CONTAINS(p.message, "did you mean");
    EXPECT_CONTAINS(p.message, "level");
}

TEST(ConfigTest, RejectsUnknownKeyInAChannelButNotInItsSettings) {
    const Problem p = problem_of(R"(auth: { bootstrap_admin_token: "0123456789abcdef" }
channels:
  - id: a
    plugin: p
    setings: { x: 1 }
  - id: b
    plugin: p
    settings: { anything_goes: 1 }
)");
    EXPECT_EQ(p.path, "channels[0].setings");
    EXPECT_EQ(p.line, 5);
    EXPECT_CONTAINS(p.message, "did you mean `settings`?");
}

TEST(ConfigTest, RejectsRepeatedKey) {
    const Problem p = problem_of(with_minimal("log: { level: info, level: debug }\n"));
    EXPECT_EQ(p.path, "log.level");
    EXPECT_CONTAINS(p.message, "duplicate key");

    const Problem in_settings = problem_of(R"(auth: { bootstrap_admin_token: "0123456789abcdef" }
channels:
  - id: a
    plugin: p
    settings:
      token: one
      token: two
)");
    EXPECT_EQ(in_settings.path, "channels[0].settings.token");
    EXPECT_EQ(in_settings.line, 7);
    EXPECT_CONTAINS(in_settings.message, "first on line 6");
}

TEST(ConfigTest, RejectsWrongType) {
    const Problem p = problem_of(with_minimal("server:\n  threads: \"two\"\n"));
    EXPECT_EQ(p.path, "server.threads");
    EXPECT_EQ(p.line, 5);
    EXPECT_CONTAINS(p.message, "integer");
    EXPECT_CONTAINS(p.message, "two");

    // plugins.dir takes a string or a list of them (a search path), not a mapping.
    const Problem mapping = problem_of(with_minimal("plugins: { dir: { a: b } }\n"));
    EXPECT_EQ(mapping.path, "plugins.dir");
    EXPECT_CONTAINS(mapping.message, "expected a string, got a");

    const Problem section = problem_of(with_minimal("server: 8080\n"));
    EXPECT_EQ(section.path, "server");
    EXPECT_CONTAINS(section.message, "expected a mapping");
}

TEST(ConfigTest, RejectsOutOfRangeNumbers) {
    const std::vector<Problem> problems =
        problems_of(with_minimal(R"(server: { threads: -1, idle_timeout_ms: 0 }
inbound: { batch_size: 10001, max_attempts: 0 }
outbound: { max_retry_after_ms: -5, timeout_ms: 99999999999 }
)"));
    ASSERT_EQ(problems.size(), 6u);
    EXPECT_EQ(problems[0].path, "server.threads");
    EXPECT_EQ(problems[1].path, "server.idle_timeout_ms");
    EXPECT_EQ(problems[2].path, "inbound.batch_size");
    EXPECT_CONTAINS(problems[2].message, "from 1 to 10000");
    EXPECT_EQ(problems[3].path, "inbound.max_attempts");
    EXPECT_EQ(problems[4].path, "outbound.max_retry_after_ms");
    EXPECT_EQ(problems[5].path, "outbound.timeout_ms");
    EXPECT_EQ(problems[5].line, 6);
}

TEST(ConfigTest, RejectsUnknownEnumValueWithHint) {
    const Problem p = problem_of(with_minimal("log: { level: warnn }\n"));
    EXPECT_EQ(p.path, "log.level");
    EXPECT_CONTAINS(p.message, "did you mean `warn`?");
    const Problem backend = problem_of(with_minimal("storage: { backend: mysql }\n"));
    EXPECT_EQ(backend.path, "storage.backend");
    EXPECT_CONTAINS(backend.message, "sqlite, postgres");
}

TEST(ConfigTest, RejectsListenWithoutPort) {
    const Problem p = problem_of(with_minimal("server: { listen: localhost }\n"));
    EXPECT_EQ(p.path, "server.listen");
    EXPECT_EQ(p.line, 4);
    EXPECT_CONTAINS(p.message, "host:port");
}

TEST(ConfigTest, RejectsListenPortOutOfRange) {
    const Problem p = problem_of(with_minimal("server: { listen: \"1.2.3.4:99999\" }\n"));
    EXPECT_EQ(p.path, "server.listen");
    EXPECT_CONTAINS(p.message, "99999");
}

TEST(ConfigTest, RejectsUnbracketedIpv6Listen) {
    const Problem p = problem_of(with_minimal("server: { listen: \"::1:80\" }\n"));
    EXPECT_CONTAINS(p.message, "brackets");
}

TEST(ConfigTest, AcceptsBracketedIpv6ListenAndPortZero) {
    const Config v6 = load(with_minimal("server: { listen: \"[::1]:80\" }\n"));
    EXPECT_EQ(v6.server.listen_host, "::1");
    EXPECT_EQ(v6.server.listen_port, 80);
    const Config any = load(with_minimal("server: { listen: \"localhost:0\" }\n"));
    EXPECT_EQ(any.server.listen_host, "localhost");
    EXPECT_EQ(any.server.listen_port, 0);
}

TEST(ConfigTest, RejectsDuplicateChannelId) {
    const Problem p = problem_of(R"(auth: { bootstrap_admin_token: "0123456789abcdef" }
channels:
  - id: support
    plugin: telegram
  - id: support
    plugin: whatsapp
)");
    EXPECT_EQ(p.path, "channels[1].id");
    EXPECT_EQ(p.line, 5);
    EXPECT_CONTAINS(p.message, "duplicate channel id `support` (first on line 3)");
}

TEST(ConfigTest, RejectsChannelIdWithBadCharacters) {
    const Problem p = problem_of(R"(auth: { bootstrap_admin_token: "0123456789abcdef" }
channels:
  - { id: "Support Team", plugin: telegram }
)");
    EXPECT_EQ(p.path, "channels[0].id");
    EXPECT_EQ(p.line, 3);
    EXPECT_CONTAINS(p.message, "a-z, 0-9");

    const Problem long_id = problem_of(R"(auth: { bootstrap_admin_token: "0123456789abcdef" }
channels: [ { id: )" + std::string(65, 'a') +
                                       ", plugin: p } ]\n");
    EXPECT_EQ(long_id.path, "channels[0].id");
}

TEST(ConfigTest, RequiresChannelIdAndPlugin) {
    const std::vector<Problem> problems = problems_of(R"(auth: { bootstrap_admin_token: "0123456789abcdef" }
channels:
  - receive: webhook
)");
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0].path, "channels[0].id");
    EXPECT_EQ(problems[0].line, 3);
    EXPECT_EQ(problems[1].path, "channels[0].plugin");
}

TEST(ConfigTest, RequiresChannelsList) {
    const Problem p = problem_of("auth: { bootstrap_admin_token: \"0123456789abcdef\" }\n");
    EXPECT_EQ(p.path, "channels");
    EXPECT_CONTAINS(p.message, "required");
}

TEST(ConfigTest, RequiresBootstrapAdminToken) {
    const Problem p = problem_of("channels: []\n");
    EXPECT_EQ(p.path, "auth.bootstrap_admin_token");
    EXPECT_EQ(p.line, 0);
    EXPECT_CONTAINS(p.message, "required");

    const Problem empty_auth = problem_of("auth: {}\nchannels: []\n");
    EXPECT_EQ(empty_auth.path, "auth.bootstrap_admin_token");
    EXPECT_EQ(empty_auth.line, 1);
}

TEST(ConfigTest, RejectsShortAdminTokenWithoutRevealingIt) {
    const Problem p = problem_of("auth: { bootstrap_admin_token: \"s3cr3t-short\" }\nchannels: []\n");
    EXPECT_EQ(p.path, "auth.bootstrap_admin_token");
    EXPECT_EQ(p.line, 1);
    EXPECT_CONTAINS(p.message, "at least 16");
    EXPECT_NOT_CONTAINS(p.message, "s3cr3t");
}

TEST(ConfigTest, ReportsEveryProblemAtOnce) {
    const std::string yaml = R"(server:
  listen: localhost
  threads: many
  listn: x
auth: { bootstrap_admin_token: short }
channels:
  - id: Bad!
    plugin: telegram
  - id: ok
    plugin: telegram
    receive: push
log: { level: loud }
)";
    const std::vector<Problem> problems = problems_of(yaml);
    ASSERT_EQ(problems.size(), 7u);
    const std::vector<std::pair<std::string, int>> expected = {
        {"server.listen", 2},  {"server.threads", 3},
        {"server.listn", 4},   {"auth.bootstrap_admin_token", 5},
        {"channels[0].id", 7}, {"channels[1].receive", 11},
        {"log.level", 12}};
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(problems[i].path, expected[i].first) << i;
        EXPECT_EQ(problems[i].line, expected[i].second) << i;
    }
    try {
        load(yaml);
    } catch (const ConfigError& e) {
        const std::string what = e.what();
        EXPECT_EQ(std::count(what.begin(), what.end(), '\n'), 6);
        EXPECT_CONTAINS(what, "test.yaml:2: server.listen: ");
        EXPECT_CONTAINS(what, "test.yaml:12: log.level: ");
    }
}

TEST(ConfigTest, ReportsYamlSyntaxErrorWithLine) {
    const Problem p =
        problem_of("auth:\n  bootstrap_admin_token: \"0123456789abcdef\"\nchannels: [\n  a: b: c\n");
    EXPECT_EQ(p.line, 4);
    EXPECT_CONTAINS(p.message, "YAML syntax error");

    const Problem bad_indent = problem_of("server:\n  listen: \"a:1\"\n threads: 2\n");
    EXPECT_EQ(bad_indent.line, 3);
}

TEST(ConfigTest, RejectsATopLevelThatIsNotAMapping) {
    const Problem p = problem_of("- just\n- a list\n");
    EXPECT_EQ(p.path, "");
    EXPECT_CONTAINS(p.message, "top level");
}

TEST(ConfigTest, ConvertsSettingsToTypedJson) {
    const Config c = load(R"(auth: { bootstrap_admin_token: "0123456789abcdef" }
channels:
  - id: typed
    plugin: p
    settings:
      int: 42
      negative: -7
      float: 1.5
      exp: 1e3
      yes_bool: true
      no_bool: False
      nothing: null
      tilde: ~
      empty:
      quoted_int: "42"
      single_quoted_bool: 'true'
      leading_zero: 0042
      tagged: !!str 12
      word: hello
      block: |
        two
        lines
      list: [1, "1", a, [true]]
      nested:
        deeper: { n: 0, s: "x" }
)");
    ASSERT_EQ(c.channels.size(), 1u);
    EXPECT_EQ(c.channels[0].settings_json,
              R"({"int":42,"negative":-7,"float":1.5,"exp":1000.0,"yes_bool":true,"no_bool":false,)"
              R"("nothing":null,"tilde":null,"empty":null,"quoted_int":"42","single_quoted_bool":"true",)"
              R"("leading_zero":"0042","tagged":"12","word":"hello","block":"two\nlines\n",)"
              R"("list":[1,"1","a",[true]],"nested":{"deeper":{"n":0,"s":"x"}}})");
}

TEST(ConfigTest, RejectsSettingsThatAreNotAMapping) {
    const Problem p = problem_of(R"(auth: { bootstrap_admin_token: "0123456789abcdef" }
channels:
  - { id: a, plugin: p, settings: [1, 2] }
)");
    EXPECT_EQ(p.path, "channels[0].settings");
    EXPECT_CONTAINS(p.message, "mapping");
}

TEST(ConfigTest, ParsesBodyLimitSuffixes) {
    const Config c =
        load(with_minimal("server: { webhook_body_limit: \"8MiB\", api_body_limit: 512 KiB }\n"));
    EXPECT_EQ(c.server.webhook_body_limit, 8u * 1024 * 1024);
    EXPECT_EQ(c.server.api_body_limit, 512u * 1024);
    const Config g = load(with_minimal("server: { webhook_body_limit: 1GiB, api_body_limit: \"2048\" }\n"));
    EXPECT_EQ(g.server.webhook_body_limit, std::size_t{1} << 30);
    EXPECT_EQ(g.server.api_body_limit, 2048u);

    const std::vector<Problem> problems =
        problems_of(with_minimal("server: { webhook_body_limit: 8MB, api_body_limit: 0 }\n"));
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0].path, "server.webhook_body_limit");
    EXPECT_CONTAINS(problems[0].message, "MiB");
    EXPECT_EQ(problems[1].path, "server.api_body_limit");
}

TEST(ConfigTest, RejectsCorsOriginWithAPath) {
    const Problem p = problem_of(
        with_minimal("server: { cors_origins: [\"https://ok.example\", \"https://app.example/\"] }\n"));
    EXPECT_EQ(p.path, "server.cors_origins[1]");
    EXPECT_CONTAINS(p.message, "no path");
}

TEST(ConfigTest, LoadFileReportsAMissingFile) {
    const std::string path = "/nonexistent-dir/switchboard.yaml";
    try {
        load_file(path, kNoEnv);
        FAIL() << "expected ConfigError";
    } catch (const ConfigError& e) {
        ASSERT_EQ(e.problems().size(), 1u);
        EXPECT_CONTAINS(e.problems()[0].message, path);
        EXPECT_CONTAINS(e.problems()[0].message, "No such file or directory");
        EXPECT_CONTAINS(std::string(e.what()), path);
    }
}

TEST(ConfigTest, LoadFileNamesTheFileInEachProblemLine) {
    const std::filesystem::path dir =
        std::filesystem::path(::testing::TempDir()) / ("sb-config-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "bad.yaml").string();
    {
        std::FILE* f = std::fopen(path.c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs(
            "channels: []\nauth: { bootstrap_admin_token: \"0123456789abcdef\" }\nlog: { levl: info }\n", f);
        std::fclose(f);
    }
    try {
        load_file(path, kNoEnv);
        ADD_FAILURE() << "expected ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), path + ":3: log.levl: unknown key (did you mean `level`?)");
    }
    std::filesystem::remove_all(dir);
}

TEST(ConfigTest, ExampleConfigLoadsWithAnEmptyEnvironment) {
    const Config c = load_file(SB_FIXTURE_DIR "/../../etc/switchboard.yaml", kNoEnv);
    EXPECT_EQ(c.server.listen_host, "127.0.0.1");
    EXPECT_EQ(c.server.listen_port, 8080);
    EXPECT_EQ(c.server.threads, 2);
    EXPECT_EQ(c.storage.backend, "sqlite");
    EXPECT_EQ(c.storage.sqlite_path, "./var/switchboard.db");
    EXPECT_EQ(c.plugins_dir, "./build/plugins");
    EXPECT_EQ(c.bootstrap_admin_token, "change-me-admin-token");
    ASSERT_EQ(c.channels.size(), 1u);
    EXPECT_EQ(c.channels[0].id, "tg-support");
    EXPECT_EQ(c.channels[0].plugin, "telegram");
    EXPECT_EQ(c.channels[0].settings_json, R"({"bot_token":"123456:demo-token","secret_token":"demo-secret",)"
                                           R"("api_base":"https://api.telegram.org"})");
}

TEST(ConfigTest, ExampleConfigTakesSecretsFromTheEnvironment) {
    const Config c = load_file(SB_FIXTURE_DIR "/../../etc/switchboard.yaml",
                               env_of({{"SWITCHBOARD_ADMIN_TOKEN", "a-real-admin-token-0000"},
                                       {"TG_API_BASE", "http://127.0.0.1:4567"}}));
    EXPECT_EQ(c.bootstrap_admin_token, "a-real-admin-token-0000");
    ASSERT_EQ(c.channels.size(), 1u);
    EXPECT_CONTAINS(c.channels[0].settings_json, R"("api_base":"http://127.0.0.1:4567")");
}

TEST(ConfigTest, ReadsTheAssignmentSection) {
    const Config c = load(with_minimal("assignment: { mode: auto, capacity: 3, offline_grace_ms: 1000 }\n"));
    EXPECT_EQ(c.assignment.mode, "auto");
    EXPECT_EQ(c.assignment.capacity, 3);
    EXPECT_EQ(c.assignment.offline_grace_ms, 1000);
    EXPECT_EQ(Config{}.assignment.mode, "manual") << "manual unless asked";
    auto problems = problems_of(with_minimal("assignment: { mode: roundrobin, capacity: 0 }\n"));
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0].path, "assignment.mode");
    EXPECT_EQ(problems[1].path, "assignment.capacity");
}

TEST(ConfigTest, ReadsTheConsoleSection) {
    const Config c = load(with_minimal("console: { enabled: false, dir: /opt/console }\n"));
    EXPECT_FALSE(c.console.enabled);
    EXPECT_EQ(c.console.dir, "/opt/console");
    EXPECT_TRUE(Config{}.console.enabled) << "served unless turned off";
    EXPECT_TRUE(load(with_minimal("console: { enabled: true }\n")).console.enabled);
    auto problems = problems_of(with_minimal("console: { enabled: maybe, dir: \"\" }\n"));
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0].path, "console.enabled");
    EXPECT_EQ(problems[1].path, "console.dir");
}

TEST(ConfigTest, RepliesAreAnnouncedToOtherSessionsUnlessTurnedOff) {
    EXPECT_EQ(load(with_minimal("")).realtime.outbound_events, "others");
    EXPECT_EQ(load(with_minimal("realtime: { outbound_events: none }\n")).realtime.outbound_events, "none");
    auto problems = problems_of(with_minimal("realtime: { outbound_events: everyone }\n"));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].path, "realtime.outbound_events");
}

TEST(ConfigTest, TheBootstrapAdminHasAConfigurableName) {
    EXPECT_EQ(load(with_minimal("")).bootstrap_admin_name, "Bootstrap admin");
    const Config c =
        load(R"(auth: { bootstrap_admin_token: "0123456789abcdef", bootstrap_admin_name: "Ops desk" }
channels: []
)");
    EXPECT_EQ(c.bootstrap_admin_name, "Ops desk");
    EXPECT_EQ(c.bootstrap_admin_token, "0123456789abcdef");
    auto problems =
        problems_of(R"(auth: { bootstrap_admin_token: "0123456789abcdef", bootstrap_admin_name: "" }
channels: []
)");
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].path, "auth.bootstrap_admin_name");
}

TEST(ConfigTest, MediaSectionHasDefaultsAndChecksEveryKey) {
    const Config defaults = load(with_minimal(""));
    EXPECT_TRUE(defaults.media.enabled);
    EXPECT_EQ(defaults.media.dir, "");
    EXPECT_EQ(defaults.media.max_file_bytes, 100LL << 20);
    EXPECT_EQ(defaults.media.upload_limit, std::size_t{25} << 20);
    EXPECT_EQ(defaults.media.max_in_flight, 4);
    const Config c = load(with_minimal(
        "media: { enabled: false, dir: /srv/media, max_file_mb: 20, max_in_flight: 2, upload_limit_mb: 5,"
        " max_attempts: 3, retry_window_ms: 60000 }\n"));
    EXPECT_FALSE(c.media.enabled);
    EXPECT_EQ(c.media.dir, "/srv/media");
    EXPECT_EQ(c.media.max_file_bytes, 20LL << 20);
    EXPECT_EQ(c.media.max_in_flight, 2);
    EXPECT_EQ(c.media.upload_limit, std::size_t{5} << 20);
    EXPECT_EQ(c.media.max_attempts, 3);
    EXPECT_EQ(c.media.retry_window_ms, 60000);
    EXPECT_THROW(load(with_minimal("media: { enabled: maybe }\n")), ConfigError);
    EXPECT_THROW(load(with_minimal("media: { max_in_flight: 0 }\n")), ConfigError);
    EXPECT_THROW(load(with_minimal("media: { max_file: 3 }\n")), ConfigError);
}

TEST(ConfigTest, MediaStoreIsLocalByDefaultAndPostgresNeedsThePostgresBackend) {
    const Config defaults = load(with_minimal(""));
    EXPECT_EQ(defaults.media.store, "local");
    EXPECT_EQ(defaults.media.retention_days, 0) << "kept forever";
    const Config kept = load(with_minimal("media: { store: local, retention_days: 90 }\n"));
    EXPECT_EQ(kept.media.retention_days, 90);
    const Config shared =
        load(with_minimal("storage: { backend: postgres, postgres: { dsn: \"postgresql://sb@db/sb\" } }\n"
                          "media: { store: postgres }\n"));
    EXPECT_EQ(shared.media.store, "postgres");

    // The embedded store has no tables for files: said at the key, with what to do.
    auto problems = problems_of(with_minimal("media:\n  store: postgres\n"));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].path, "media.store");
    EXPECT_GT(problems[0].line, 0);
    EXPECT_NE(problems[0].message.find("storage.backend: postgres"), std::string::npos)
        << problems[0].message;
    EXPECT_EQ(problems_of(with_minimal("media: { store: s3 }\n")).at(0).path, "media.store");
    EXPECT_EQ(problems_of(with_minimal("media: { retention_days: 0 }\n")).at(0).path, "media.retention_days");
}

constexpr std::string_view kTemplateChannel = R"(
auth: { bootstrap_admin_token: "0123456789abcdef" }
channels:
  - id: wa-support
    plugin: whatsapp
    templates:
)";

TEST(ConfigTest, AChannelListsItsTemplatesWithTheirParametersCountedFromTheText) {
    const Config config = load(std::string(kTemplateChannel) + R"(      - name: order_update
        language: en_US
        text: "Your order {{1}} ships {{3}} via {{2}}"
      - {name: hello, language: de, parameters: 1}
      - {name: plain, language: en}
)");
    ASSERT_EQ(config.channels.at(0).templates.size(), 3u);
    const auto& t = config.channels.at(0).templates;
    EXPECT_EQ(t[0].name, "order_update");
    EXPECT_EQ(t[0].language, "en_US");
    EXPECT_EQ(t[0].text, "Your order {{1}} ships {{3}} via {{2}}");
    EXPECT_EQ(t[0].parameters, 3);
    EXPECT_EQ(t[1].parameters, 1) << "given, with no text to count";
    EXPECT_EQ(t[2].parameters, 0);
    EXPECT_TRUE(load(kMinimal).channels.empty());
}

TEST(ConfigTest, ATemplateNeedsANameAndALanguageAndKnownKeysOnly) {
    const Problem nameless = problem_of(std::string(kTemplateChannel) + "      - {language: en_US}\n");
    EXPECT_EQ(nameless.path, "channels[0].templates[0].name");
    EXPECT_CONTAINS(nameless.message, "order_update");
    const Problem empty = problem_of(std::string(kTemplateChannel) + "      - {name: \"\", language: en}\n");
    EXPECT_EQ(empty.path, "channels[0].templates[0].name");
    const Problem unknown =
        problem_of(std::string(kTemplateChannel) + "      - {name: a, language: en, body: x}\n");
    EXPECT_EQ(unknown.path, "channels[0].templates[0].body");
    EXPECT_CONTAINS(unknown.message, "expected one of name, language, text, parameters");
    const Problem not_a_list = problem_of(std::string(kTemplateChannel) + "      name: a\n");
    EXPECT_EQ(not_a_list.path, "channels[0].templates");
    EXPECT_CONTAINS(
        problem_of(std::string(kTemplateChannel) + "      - {name: a, language: en, parameters: -1}\n")
            .message,
        "0");
}

}  // namespace
}  // namespace sb::config
