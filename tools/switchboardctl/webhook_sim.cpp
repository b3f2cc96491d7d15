#include "webhook_sim.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "plugin_host/webhook_signing.hpp"

namespace sb::ctl {
namespace {

// Telegram writes UTF-8 as is; Meta escapes every non-ASCII character (\u00e9), which is
// also why signatures must be computed over the exact bytes (platforms.md §1.2).
using Utf8Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using AsciiWriter = rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::ASCII<>>;

std::string setting(const rapidjson::Document& settings, const std::string& plugin, const char* key) {
    auto it = settings.FindMember(key);
    if (it == settings.MemberEnd() || !it->value.IsString() || it->value.GetStringLength() == 0)
        throw std::invalid_argument(
            fmt::format("the channel's settings.{} is missing or empty; a {} webhook needs it", key, plugin));
    return {it->value.GetString(), it->value.GetStringLength()};
}

bool all_digits(const std::string& s) {
    return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos;
}

// Telegram's ids are integers; keep them within 31 bits like real update and message ids.
// At 10 µs resolution they wrap every ~5.5 hours, so ids of calls in a session never repeat.
std::int64_t small_unique(std::int64_t now_us) { return (now_us / 10) % 2'000'000'000 + 1; }

SimulatedWebhook telegram(const rapidjson::Document& settings, const CustomerText& m, std::int64_t now_us) {
    std::string secret = setting(settings, "telegram", "secret_token");
    std::string from = m.from_id.empty() ? "777000001" : m.from_id;
    std::string name = m.from_name.empty() ? "Ada Lovelace" : m.from_name;
    auto space = name.find(' ');
    std::string first = name.substr(0, space);
    std::string last = space == std::string::npos ? "" : name.substr(space + 1);
    std::int64_t user_id = std::stoll(from);
    std::int64_t id = small_unique(now_us);

    auto person = [&](Utf8Writer& w, bool is_user) {
        w.StartObject();
        w.Key("id");
        w.Int64(user_id);
        if (is_user) {
            w.Key("is_bot");
            w.Bool(false);
        }
        w.Key("first_name");
        w.String(first);
        if (!last.empty()) {
            w.Key("last_name");
            w.String(last);
        }
        if (is_user) {
            w.Key("language_code");
            w.String("en");
        } else {
            w.Key("type");
            w.String("private");
        }
        w.EndObject();
    };
    rapidjson::StringBuffer buffer;
    Utf8Writer w(buffer);
    w.StartObject();
    w.Key("update_id");
    w.Int64(id);
    w.Key("message");
    w.StartObject();
    w.Key("message_id");
    w.Int64(id);
    w.Key("from");
    person(w, true);
    w.Key("chat");
    person(w, false);
    w.Key("date");
    w.Int64(now_us / 1'000'000);
    w.Key("text");
    w.String(m.text);
    w.EndObject();
    w.EndObject();

    SimulatedWebhook out;
    out.body = buffer.GetString();
    out.headers = {{"Content-Type", "application/json"}, {"X-Telegram-Bot-Api-Secret-Token", secret}};
    out.message_id = fmt::format("{}:{}", user_id, id);  // the plugin's "<chat.id>:<message_id>"
    return out;
}

SimulatedWebhook signed_meta(std::string body, const std::string& app_secret, std::string message_id) {
    SimulatedWebhook out;
    out.headers = {{"Content-Type", "application/json"},
                   {"X-Hub-Signature-256", meta_signature(app_secret, body)}};
    out.body = std::move(body);
    out.message_id = std::move(message_id);
    return out;
}

// platforms.md §2.2-2.3: one text message in a whatsapp_business_account envelope.
SimulatedWebhook whatsapp(const rapidjson::Document& settings, const CustomerText& m, std::int64_t now_us) {
    std::string phone_number_id = setting(settings, "whatsapp", "phone_number_id");
    std::string app_secret = setting(settings, "whatsapp", "app_secret");
    std::string from = m.from_id.empty() ? "15551230000" : m.from_id;
    std::string name = m.from_name.empty() ? "Ada Lovelace" : m.from_name;
    std::string wamid = fmt::format("wamid.SIM{:016X}", now_us);

    rapidjson::StringBuffer buffer;
    AsciiWriter w(buffer);
    w.StartObject();
    w.Key("object");
    w.String("whatsapp_business_account");
    w.Key("entry");
    w.StartArray();
    w.StartObject();
    w.Key("id");
    w.String("102290129340398");  // the WABA id; the plugins route by phone_number_id
    w.Key("changes");
    w.StartArray();
    w.StartObject();
    w.Key("value");
    w.StartObject();
    w.Key("messaging_product");
    w.String("whatsapp");
    w.Key("metadata");
    w.StartObject();
    w.Key("display_phone_number");
    w.String("15550001234");
    w.Key("phone_number_id");
    w.String(phone_number_id);
    w.EndObject();
    w.Key("contacts");
    w.StartArray();
    w.StartObject();
    w.Key("profile");
    w.StartObject();
    w.Key("name");
    w.String(name);
    w.EndObject();
    w.Key("wa_id");
    w.String(from);
    w.EndObject();
    w.EndArray();
    w.Key("messages");
    w.StartArray();
    w.StartObject();
    w.Key("from");
    w.String(from);
    w.Key("id");
    w.String(wamid);
    w.Key("timestamp");
    w.String(std::to_string(now_us / 1'000'000));  // a string on WhatsApp
    w.Key("text");
    w.StartObject();
    w.Key("body");
    w.String(m.text);
    w.EndObject();
    w.Key("type");
    w.String("text");
    w.EndObject();
    w.EndArray();
    w.EndObject();
    w.Key("field");
    w.String("messages");
    w.EndObject();
    w.EndArray();
    w.EndObject();
    w.EndArray();
    w.EndObject();
    return signed_meta(buffer.GetString(), app_secret, wamid);
}

// platforms.md §3.2 / §4.2: Messenger and Instagram share the entry[].messaging[] shape.
SimulatedWebhook messaging(const rapidjson::Document& settings, const std::string& plugin, const char* object,
                           const char* account_key, const CustomerText& m, std::int64_t now_us) {
    std::string account = setting(settings, plugin, account_key);
    std::string app_secret = setting(settings, plugin, "app_secret");
    std::string from = m.from_id.empty() ? "7000000000000001" : m.from_id;  // a page/IG-scoped id
    std::int64_t now_ms = now_us / 1000;
    std::string mid = fmt::format("m_SIM{:016X}", now_us);

    rapidjson::StringBuffer buffer;
    AsciiWriter w(buffer);
    auto id_object = [&w](const std::string& id) {
        w.StartObject();
        w.Key("id");
        w.String(id);
        w.EndObject();
    };
    w.StartObject();
    w.Key("object");
    w.String(object);
    w.Key("entry");
    w.StartArray();
    w.StartObject();
    w.Key("time");
    w.Int64(now_ms);
    w.Key("id");
    w.String(account);
    w.Key("messaging");
    w.StartArray();
    w.StartObject();
    w.Key("sender");
    id_object(from);
    w.Key("recipient");
    id_object(account);
    w.Key("timestamp");
    w.Int64(now_ms);
    w.Key("message");
    w.StartObject();
    w.Key("mid");
    w.String(mid);
    w.Key("text");
    w.String(m.text);
    w.EndObject();
    w.EndObject();
    w.EndArray();
    w.EndObject();
    w.EndArray();
    w.EndObject();
    return signed_meta(buffer.GetString(), app_secret, mid);
}

}  // namespace

std::string meta_signature(const std::string& app_secret, const std::string& body) {
    plugin_host::WebhookSigning meta{"X-Hub-Signature-256", "",
                                     plugin_host::WebhookSigning::Scheme::hmac_sha256_hex,
                                     "sha256=", "app_secret"};
    rapidjson::StringBuffer settings;
    rapidjson::Writer<rapidjson::StringBuffer> w(settings);
    w.StartObject();
    w.Key("app_secret");
    w.String(app_secret);
    w.EndObject();
    return plugin_host::sign_webhook(meta, settings.GetString(), body)->second;
}

FixtureRequest read_fixture(const std::string& text) {
    rapidjson::Document f;
    f.Parse(text.data(), text.size());
    if (f.HasParseError() || !f.IsObject()) throw std::invalid_argument("the fixture is not a JSON object");
    auto r = f.FindMember("request");
    if (r == f.MemberEnd() || !r->value.IsObject())
        throw std::invalid_argument("the fixture has no \"request\" object");
    auto string_member = [&](const char* key, std::string& out) {
        auto it = r->value.FindMember(key);
        if (it == r->value.MemberEnd()) return;
        if (!it->value.IsString())
            throw std::invalid_argument(fmt::format("the fixture's request.{} must be a string", key));
        out.assign(it->value.GetString(), it->value.GetStringLength());
    };
    FixtureRequest out;
    std::string target;
    string_member("method", out.method);
    string_member("target", target);
    string_member("body", out.body);
    if (auto q = target.find('?'); q != std::string::npos) out.query = target.substr(q);
    if (auto h = r->value.FindMember("headers"); h != r->value.MemberEnd()) {
        if (!h->value.IsObject())
            throw std::invalid_argument("the fixture's request.headers must be an object of strings");
        for (const auto& header : h->value.GetObject()) {
            if (!header.value.IsString())
                throw std::invalid_argument(
                    fmt::format("the fixture's header {} must be a string", header.name.GetString()));
            out.headers.emplace_back(header.name.GetString(), header.value.GetString());
        }
    }
    return out;
}

SimulatedWebhook build_webhook(const std::string& plugin, const std::string& settings_json,
                               const CustomerText& message, std::int64_t now_us) {
    if (!message.from_id.empty() && !all_digits(message.from_id))
        throw std::invalid_argument("--from-id must be a platform user id: 1 to 18 digits");
    rapidjson::Document settings;
    settings.Parse(settings_json.data(), settings_json.size());
    if (settings.HasParseError() || !settings.IsObject())
        throw std::invalid_argument("the channel's settings are not a JSON object");
    if (plugin == "telegram") return telegram(settings, message, now_us);
    if (plugin == "whatsapp") return whatsapp(settings, message, now_us);
    if (plugin == "messenger") return messaging(settings, plugin, "page", "page_id", message, now_us);
    if (plugin == "instagram")
        return messaging(settings, plugin, "instagram", "ig_account_id", message, now_us);
    throw std::invalid_argument(fmt::format(
        "simulate-inbound knows the telegram, whatsapp, messenger and instagram plugins, not \"{}\"",
        plugin));
}

}  // namespace sb::ctl
