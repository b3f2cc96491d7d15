#pragma once
// Webhooks as the platforms send them, for `switchboardctl simulate-inbound`: the body a
// customer's text message produces on each platform, with the authentication header the
// channel's plugin checks (platforms.md §1.2, §5.1). Pure: no I/O, the clock is a parameter.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sb::ctl {

struct CustomerText {
    std::string from_id;    // platform user id, digits; empty = a per-platform default
    std::string from_name;  // display name, where the platform sends one (Telegram, WhatsApp)
    std::string text;
};

struct SimulatedWebhook {
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string message_id;  // the platform message id it carries, for messages
};

// Builds the webhook `plugin` ("telegram", "whatsapp", "messenger", "instagram") receives for
// `message`, from the channel's `settings_json` (its secrets and account ids). `now_us` makes
// the update and message ids unique per call. Throws std::invalid_argument naming the
// missing setting or the unknown plugin.
SimulatedWebhook build_webhook(const std::string& plugin, const std::string& settings_json,
                               const CustomerText& message, std::int64_t now_us);

// "sha256=<hex HMAC-SHA256(secret, body)>", the X-Hub-Signature-256 value.
std::string meta_signature(const std::string& app_secret, const std::string& body);

// A webhook fixture in the conformance kit's format (docs/plugin-guide.md, "Fixtures
// directory"): {"request":{"method","target","headers":{…},"body":"<raw body>"},…}. Only the
// request is read. The target's query string is kept; its path is replaced by the channel's
// webhook path. Throws std::invalid_argument saying what is wrong with the file.
struct FixtureRequest {
    std::string method = "POST";
    std::string query;  // "" or "?…"
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};
FixtureRequest read_fixture(const std::string& text);

}  // namespace sb::ctl
