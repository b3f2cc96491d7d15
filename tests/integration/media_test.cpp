// Inbound media end to end (issue 16): the real switchboardd with fake Telegram and Graph (WhatsApp,
// Messenger, Instagram) APIs on loopback that serve real bytes behind their real auth (the bot
// token in the file path; Bearer on the WhatsApp CDN URL; Meta's signed, expiring CDN links). A
// message with a file is stored at once; the media worker fetches the file afterwards, and GET
// /api/v1/media/{id} serves it with its conversation's visibility. Agents' uploads (raw and
// multipart/form-data) reach each platform as its own form; retention deletes old files.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/http_test_client.hpp"
#include "support/json_view.hpp"
#include "support/process.hpp"
#include "support/signing.hpp"
#include "support/test_database.hpp"
#include "support/wait.hpp"

namespace sb::test {
namespace {

using namespace std::chrono_literals;

constexpr char kAdminToken[] = "test-admin-token-0123456789";
constexpr char kBotToken[] = "123456:TEST";
constexpr char kSecret[] = "s3cret";
constexpr char kAppSecret[] = "wa-app-secret";
constexpr char kWaToken[] = "wa-token";
constexpr char kPhoneNumberId[] = "106540352242922";
constexpr char kPageId[] = "1234567890";
constexpr char kIgAccountId[] = "17841400000000001";
constexpr char kIgToken[] = "ig-token";
constexpr auto kWait = 20s;

std::string digest(std::string_view data, bool base64 = false) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(data.data(), data.size(), out, &length, EVP_sha256(), nullptr);
    if (base64) {
        unsigned char encoded[64];
        int n = EVP_EncodeBlock(encoded, out, static_cast<int>(length));
        return std::string(reinterpret_cast<char*>(encoded), static_cast<std::size_t>(n));
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned i = 0; i < length; ++i) {
        hex += kHex[out[i] >> 4];
        hex += kHex[out[i] & 15];
    }
    return hex;
}

// `size` bytes that start with `magic` (a JPEG, PDF or Ogg signature) and go on pseudo-randomly.
std::string file_bytes(std::string_view magic, std::size_t size, unsigned seed = 1) {
    std::string out(magic);
    std::mt19937 random(seed);
    out.reserve(size);
    while (out.size() < size) out.push_back(static_cast<char>(random() & 0xFF));
    out.resize(size);
    return out;
}

const std::string kJpegMagic("\xFF\xD8\xFF\xE0\x00\x10JFIF", 10);
const std::string kOggMagic("OggS\x00\x02", 6);
const std::string kM4aMagic(
    "\x00\x00\x00\x20"
    "ftypM4A ",
    12);  // an ISO BMFF audio file (Instagram voice)
const std::string kPdfMagic = "%PDF-1.7\n";

std::int64_t unix_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// What Meta's CDN signs into a link (oh=) for a path and its expiry (oe=, Unix seconds).
std::string cdn_signature(const std::string& path, std::int64_t expires) {
    return digest(path + "|" + std::to_string(expires)).substr(0, 16);
}

// The value of `name` in a target's query string.
std::string query_value(const std::string& target, const std::string& name) {
    const auto q = target.find('?');
    if (q == std::string::npos) return {};
    std::string_view rest = std::string_view(target).substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        if (pair.substr(0, name.size() + 1) == name + "=") return std::string(pair.substr(name.size() + 1));
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
    }
    return {};
}

// A multipart/form-data body with `fields` and one file part named `file`.
std::string form_body(const std::string& boundary,
                      const std::vector<std::pair<std::string, std::string>>& fields,
                      const std::string& file_name, const std::string& type, const std::string& bytes) {
    std::string body;
    for (const auto& [name, value] : fields)
        body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" +
                value + "\r\n";
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + file_name +
            "\"\r\n";
    if (!type.empty()) body += "Content-Type: " + type + "\r\n";
    body += "\r\n" + bytes + "\r\n--" + boundary + "--\r\n";
    return body;
}

long rss_peak_kb(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

class MediaTest : public ::testing::Test {
protected:
    void SetUp() override {
        telegram_.set_handler([this](const HttpRequest& r) { return telegram(r); });
        graph_.set_handler([this](const HttpRequest& r) { return graph(r); });
    }
    void TearDown() override {
        if (HasFailure()) daemon_.dump_logs(std::cerr);
    }

    std::string config(const std::string& extra = {}) const {
        std::string yaml;
        yaml += "server: { listen: \"127.0.0.1:0\", threads: 2 }\n";
        yaml += storage_.empty() ? "storage: { backend: sqlite, sqlite: { path: \"" +
                                       daemon_.db_path().string() + "\" } }\n"
                                 : storage_;
        yaml += "plugins: { dir: \"" SB_PLUGIN_DIR "\" }\n";
        yaml += std::string("auth: { bootstrap_admin_token: \"") + kAdminToken + "\" }\n";
        yaml += "media: { dir: \"" + (daemon_.dir() / "media").string() + "\"" + extra + " }\n";
        yaml += "channels:\n";
        yaml += "  - id: tg\n    plugin: telegram\n";
        yaml += std::string("    settings: { bot_token: \"") + kBotToken + "\", secret_token: \"" + kSecret +
                "\", api_base: \"" + telegram_.base_url() + "\" }\n";
        yaml += "  - id: wa\n    plugin: whatsapp\n";
        yaml += std::string("    settings: { phone_number_id: \"") + kPhoneNumberId + "\", access_token: \"" +
                kWaToken + "\", app_secret: \"" + kAppSecret + "\", api_base: \"" + graph_.base_url() +
                "/v21.0\" }\n";
        yaml += "  - id: fb\n    plugin: messenger\n";
        yaml += std::string("    settings: { page_id: \"") + kPageId +
                "\", page_access_token: \"fb-token\", verify_token: \"vt\", app_secret: \"" + kAppSecret +
                "\", api_base: \"" + graph_.base_url() + "/v21.0\" }\n";
        yaml += "  - id: ig\n    plugin: instagram\n";
        yaml += std::string("    settings: { ig_account_id: \"") + kIgAccountId + "\", access_token: \"" +
                kIgToken + "\", verify_token: \"vt\", app_secret: \"" + kAppSecret + "\", api_base: \"" +
                graph_.base_url() + "/v21.0\" }\n";
        return yaml;
    }

    // --- the fake Telegram: getFile by file_id, the file behind the bot token path ---
    struct TgFile {
        std::string path;
        std::string bytes;
        int failures_left = 0;  // the file URL answers 500 this many times first
    };
    HttpResponse telegram(const HttpRequest& r) {
        std::lock_guard lock(mutex_);
        const std::string bot = std::string("/bot") + kBotToken;
        if (r.path() == bot + "/getFile") {
            Json body(r.body);
            auto it = tg_files_.find(body.str("/file_id"));
            if (it == tg_files_.end()) {
                HttpResponse res;
                res.status = 400;
                res.body = R"({"ok":false,"error_code":400,"description":"Bad Request: invalid file_id"})";
                return res;
            }
            HttpResponse res;
            res.body = R"({"ok":true,"result":{"file_id":")" + it->first +
                       R"(","file_unique_id":"u","file_size":)" + std::to_string(it->second.bytes.size()) +
                       R"(,"file_path":")" + it->second.path + "\"}}";
            return res;
        }
        for (const char* method : {"/sendPhoto", "/sendDocument", "/sendVoice"}) {
            if (r.path() != bot + method) continue;
            HttpResponse res;
            res.body =
                R"({"ok":true,"result":{"message_id":9001,"chat":{"id":777,"type":"private"},"date":1732540001}})";
            return res;
        }
        const std::string file_prefix = std::string("/file/bot") + kBotToken + "/";
        for (auto& [id, file] : tg_files_) {
            if (r.path() != file_prefix + file.path) continue;
            HttpResponse res;
            if (file.failures_left > 0) {
                --file.failures_left;
                res.status = 500;
                res.body = "busy";
                return res;
            }
            res.content_type = "application/octet-stream";
            res.body = file.bytes;
            return res;
        }
        HttpResponse res;
        res.status = 404;
        res.body = R"({"ok":false,"error_code":404,"description":"Not Found"})";
        return res;
    }

    // --- the fake Graph API: the media object by id, the bytes behind Bearer on the CDN ---
    struct WaMedia {
        std::string mime;
        std::string bytes;
        std::string sha256_hex;  // what the metadata claims
        int expired_urls = 0;    // the first N URLs handed out answer 404 (expired)
        int fetches_503 = 0;     // the CDN answers 503 this many times (restart test)
    };
    HttpResponse graph(const HttpRequest& r) {
        std::lock_guard lock(mutex_);
        HttpResponse res;
        if (auto file = cdn_.find(r.path()); file != cdn_.end()) {
            // Meta's CDN (Messenger and Instagram attachments): the link's own signature and
            // expiry are its only credentials; one that is expired or tampered with is 403.
            const std::string expires = query_value(r.target, "oe");
            const bool valid = !r.header("Authorization") && !expires.empty() &&
                               std::stoll(expires) >= unix_seconds() &&
                               query_value(r.target, "oh") == cdn_signature(r.path(), std::stoll(expires));
            res.status = valid ? 200 : 403;
            res.content_type = valid ? file->second.first : "text/plain";
            res.body = valid ? file->second.second : "URL signature expired";
            return res;
        }
        if (r.path() == "/v21.0/me/messages") {
            // Instagram's Send API (both login flavours document /me/messages).
            if (r.header("Authorization").value_or("") != std::string("Bearer ") + kIgToken) {
                res.status = 401;
                res.body =
                    R"({"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}})";
                return res;
            }
            res.body = R"({"recipient_id":"IGSID-1","message_id":"ig_out_1"})";
            return res;
        }
        if (r.path().rfind("/fbcdn/", 0) == 0) {
            // Messenger's CDN: signed links, no credentials; an expired one answers 403.
            if (r.path() == "/fbcdn/expired.jpg" || r.header("Authorization")) {
                res.status = 403;
                res.body = "URL signature expired";
                return res;
            }
            res.content_type = "image/jpeg";
            res.body = fb_bytes_;
            return res;
        }
        if (r.path() == "/v21.0/" + std::string(kPageId) + "/messages") {
            if (r.header("Authorization").value_or("") != "Bearer fb-token") {
                res.status = 401;
                return res;
            }
            res.body = R"({"recipient_id":"PSID-1","message_id":"m_out_1"})";
            return res;
        }
        if (r.header("Authorization").value_or("") != std::string("Bearer ") + kWaToken) {
            res.status = 401;
            res.body =
                R"({"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}})";
            return res;
        }
        const std::string path = r.path();
        if (path == "/v21.0/" + std::string(kPhoneNumberId) + "/media") {
            res.body = R"({"id":"MEDIA-9"})";
            return res;
        }
        if (path == "/v21.0/" + std::string(kPhoneNumberId) + "/messages") {
            res.body =
                R"({"messaging_product":"whatsapp","contacts":[{"input":"16315551234","wa_id":"16315551234"}],"messages":[{"id":"wamid.SENT"}]})";
            return res;
        }
        if (path.rfind("/v21.0/", 0) == 0) {
            auto it = wa_media_.find(path.substr(7));
            if (it == wa_media_.end()) {
                res.status = 400;
                res.body =
                    R"({"error":{"message":"Unsupported get request.","type":"GraphMethodException","code":100}})";
                return res;
            }
            const int serial = ++url_serial_;
            res.body = R"({"messaging_product":"whatsapp","url":")" + graph_.base_url() + "/cdn/" +
                       it->first + "/" + std::to_string(serial) + R"(","mime_type":")" + it->second.mime +
                       R"(","sha256":")" + it->second.sha256_hex + R"(","file_size":")" +
                       std::to_string(it->second.bytes.size()) + R"(","id":")" + it->first + "\"}";
            return res;
        }
        if (path.rfind("/cdn/", 0) == 0) {
            const std::string rest = path.substr(5);
            auto it = wa_media_.find(rest.substr(0, rest.find('/')));
            if (it == wa_media_.end()) {
                res.status = 404;
                return res;
            }
            if (it->second.fetches_503 > 0) {
                --it->second.fetches_503;
                res.status = 503;
                return res;
            }
            if (it->second.expired_urls > 0) {
                --it->second.expired_urls;
                res.status = 404;
                res.body = "URL signature expired";
                return res;
            }
            res.content_type = it->second.mime;
            res.body = it->second.bytes;
            return res;
        }
        res.status = 404;
        return res;
    }

    HeaderList bearer(const std::string& token = kAdminToken) const {
        return {{"Authorization", "Bearer " + token}};
    }
    HttpResult api_get(const std::string& target, const std::string& token = kAdminToken,
                       HeaderList extra = {}) {
        HeaderList headers = bearer(token);
        for (auto& h : extra) headers.push_back(h);
        return HttpClient(daemon_.port(), headers, 60s).get(target);
    }

    HttpResult post_telegram(const std::string& update) {
        return HttpClient(daemon_.port())
            .post_json("/webhooks/tg", update, {{"X-Telegram-Bot-Api-Secret-Token", kSecret}});
    }
    HttpResult post_whatsapp(const std::string& body) {
        return HttpClient(daemon_.port())
            .post_json("/webhooks/wa", body, {{"X-Hub-Signature-256", sha256_signature(kAppSecret, body)}});
    }

    // A Telegram update with `file_field` (photo as a PhotoSize array, or document/voice).
    static std::string telegram_update(int update_id, int message_id, const std::string& kind,
                                       const std::string& file_id, std::size_t size,
                                       const std::string& mime = "") {
        std::string file = R"({"file_id":")" + file_id + R"(","file_unique_id":"u)" + file_id +
                           R"(","file_size":)" + std::to_string(size);
        if (!mime.empty()) file += R"(,"mime_type":")" + mime + "\"";
        if (kind == "photo") file += R"(,"width":800,"height":600)";
        if (kind == "document") file += R"(,"file_name":"invoice 2026 – März.pdf")";
        if (kind == "voice") file += R"(,"duration":3)";
        file += "}";
        if (kind == "photo") file = "[" + file + "]";
        return R"({"update_id":)" + std::to_string(update_id) + R"(,"message":{"message_id":)" +
               std::to_string(message_id) +
               R"(,"from":{"id":777,"is_bot":false,"first_name":"Ada"},"chat":{"id":777,"first_name":"Ada","type":"private"},"date":1732540000,")" +
               kind + "\":" + file + "}}";
    }

    static std::string whatsapp_webhook(const std::string& wamid, const std::string& type,
                                        const std::string& media_id, const std::string& mime,
                                        const std::string& sha256, const std::string& from = "16315551234") {
        std::string media =
            R"({"mime_type":")" + mime + R"(","sha256":")" + sha256 + R"(","id":")" + media_id + "\"";
        if (type == "document") media += R"(,"filename":"report.pdf")";
        if (type == "audio") media += R"(,"voice":true)";
        media += "}";
        return R"({"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":")" +
               std::string(kPhoneNumberId) + R"("},"contacts":[{"profile":{"name":"Kerry"},"wa_id":")" +
               from + R"("}],"messages":[{"from":")" + from + R"(","id":")" + wamid +
               R"(","timestamp":"1732540000","type":")" + type + "\",\"" + type + "\":" + media +
               "}]},\"field\":\"messages\"}]}]}";
    }

    // The newest message of the only conversation of `channel`, once its media left pending.
    std::optional<Json> settled_message(const std::string& channel,
                                        std::chrono::milliseconds timeout = kWait) {
        std::optional<Json> found;
        wait_until(
            [&] {
                auto list = api_get("/api/v1/conversations?channel=" + channel);
                if (list.status != 200) return false;
                Json conversations(list.body);
                if (!conversations.has("/items/0/id")) return false;
                auto messages = api_get("/api/v1/conversations/" + conversations.str("/items/0/id") +
                                        "/messages?limit=1");
                if (messages.status != 200) return false;
                Json m(messages.body);
                const std::string state = m.str("/items/0/content/media/state");
                if (state != "ready" && state != "failed") return false;
                found.emplace(messages.body);
                return true;
            },
            timeout, 100ms);
        return found;
    }

    HttpResult post_messenger(const std::string& mid, const std::string& url) {
        const std::string body =
            std::string(R"({"object":"page","entry":[{"id":")") + kPageId +
            R"(","time":1732540000000,"messaging":[{"sender":{"id":"PSID-1"},"recipient":{"id":")" + kPageId +
            R"("},"timestamp":1732540000000,"message":{"mid":")" + mid +
            R"(","attachments":[{"type":"image","payload":{"url":")" + url + R"("}}]}}]}]})";
        return HttpClient(daemon_.port())
            .post_json("/webhooks/fb", body, {{"X-Hub-Signature-256", sha256_signature(kAppSecret, body)}});
    }

    // A link to `bytes` on the fake Meta CDN under `path`, signed and valid for an hour (or
    // expired a minute ago).
    std::string cdn_link(const std::string& path, const std::string& type, const std::string& bytes,
                         bool expired = false) {
        const std::int64_t expires = unix_seconds() + (expired ? -60 : 3600);
        {
            std::lock_guard lock(mutex_);
            cdn_[path] = {type, bytes};
        }
        return graph_.base_url() + path + "?_nc_cat=1&oh=" + cdn_signature(path, expires) +
               "&oe=" + std::to_string(expires);
    }

    // A Messenger (`object` page) or Instagram (`object` instagram) message with one attachment.
    HttpResult post_meta(const std::string& channel, const std::string& mid, const std::string& type,
                         const std::string& url) {
        const bool instagram = channel == "ig";
        const std::string account = instagram ? kIgAccountId : kPageId;
        const std::string sender = instagram ? "IGSID-1" : "PSID-1";
        const std::string body =
            std::string(R"({"object":")") + (instagram ? "instagram" : "page") + R"(","entry":[{"id":")" +
            account + R"(","time":1732540000000,"messaging":[{"sender":{"id":")" + sender +
            R"("},"recipient":{"id":")" + account + R"("},"timestamp":1732540000000,"message":{"mid":")" +
            mid + R"(","attachments":[{"type":")" + type + R"(","payload":{"url":")" + url + R"("}}]}}]}]})";
        return HttpClient(daemon_.port())
            .post_json("/webhooks/" + channel, body,
                       {{"X-Hub-Signature-256", sha256_signature(kAppSecret, body)}});
    }

    // The settled media of the message of content type `type` in `channel`'s conversation.
    struct SettledMedia {
        std::string state, id, url, mime_type, file_name, error, type;
        std::int64_t size = 0;
    };
    std::optional<SettledMedia> settled_media_of(const std::string& channel, const std::string& type) {
        std::optional<SettledMedia> found;
        wait_until(
            [&] {
                Json list(api_get("/api/v1/conversations?channel=" + channel).body);
                if (!list.has("/items/0/id")) return false;
                Json messages(
                    api_get("/api/v1/conversations/" + list.str("/items/0/id") + "/messages?limit=20").body);
                for (int i = 0; i < 20; ++i) {
                    const std::string at = "/items/" + std::to_string(i);
                    auto field = [&](const char* name) {
                        return messages.str((at + "/content/" + name).c_str());
                    };
                    if (!messages.has(at.c_str())) break;
                    if (field("type") != type) continue;
                    const std::string state = field("media/state");
                    if (state != "ready" && state != "failed") return false;
                    SettledMedia m{state,
                                   field("media/id"),
                                   field("media/url"),
                                   field("media/mime_type"),
                                   field("media/file_name"),
                                   field("media/error"),
                                   field("type")};
                    if (const auto* size = messages.at((at + "/content/media/size").c_str());
                        size && size->IsInt64())
                        m.size = size->GetInt64();
                    found = m;
                    return true;
                }
                return false;
            },
            kWait, 100ms);
        return found;
    }

    // An upload's answer (201) names `bytes` with `mime` and `name`; its id.
    static std::string expect_upload_of(const HttpResult& answer, const std::string& mime,
                                        const std::string& name, const std::string& bytes) {
        Json u(answer.body);
        EXPECT_EQ(u.str("/mime_type"), mime);
        EXPECT_EQ(u.str("/file_name"), name);
        EXPECT_EQ(u.integer("/size"), static_cast<std::int64_t>(bytes.size()));
        EXPECT_EQ(u.str("/sha256"), digest(bytes));
        return u.str("/id");
    }

    HttpResult upload_form(const std::string& body, const std::string& boundary,
                           const std::string& token = kAdminToken) {
        return HttpClient(daemon_.port(), bearer(token), 60s)
            .request("POST", "/api/v1/media", body,
                     {{"Content-Type", "multipart/form-data; boundary=" + boundary}});
    }

    // The conversation an inbound text on `channel` creates; its id.
    std::string conversation_of_text(const std::string& channel) {
        HttpResult posted;
        if (channel == "tg") {
            posted = post_telegram(
                R"({"update_id":5,"message":{"message_id":5,"from":{"id":777,"is_bot":false,"first_name":"Ada"},"chat":{"id":777,"first_name":"Ada","type":"private"},"date":1732540000,"text":"hi"}})");
        } else {
            const std::string body =
                std::string(
                    R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":")") +
                kPhoneNumberId +
                R"("},"contacts":[{"profile":{"name":"Kerry"},"wa_id":"16315551234"}],"messages":[{"from":"16315551234","id":"wamid.T","timestamp":"1732540000","type":"text","text":{"body":"hi"}}]},"field":"messages"}]}]})";
            posted = post_whatsapp(body);
        }
        EXPECT_EQ(posted.status, 200);
        std::string id;
        wait_until(
            [&] {
                Json list(api_get("/api/v1/conversations?channel=" + channel).body);
                id = list.has("/items/0/id") ? list.str("/items/0/id") : "";
                return !id.empty();
            },
            kWait, 50ms);
        return id;
    }

    HttpResult upload(const std::string& bytes, const std::string& type, const std::string& name,
                      const std::string& token = kAdminToken) {
        return HttpClient(daemon_.port(), bearer(token), 60s)
            .request("POST", "/api/v1/uploads", bytes, {{"Content-Type", type}, {"X-File-Name", name}});
    }

    HttpResult send_content(const std::string& conversation, const std::string& content) {
        return HttpClient(daemon_.port(), bearer(), 60s)
            .post_json("/api/v1/conversations/" + conversation + "/messages",
                       R"({"content":)" + content + "}");
    }

    void expect_fifty_megabytes_streamed(const std::string& yaml);

    std::string storage_;  // the config's storage line; "" = SQLite in the daemon's dir
    std::string fb_bytes_;
    std::map<std::string, std::pair<std::string, std::string>> cdn_;  // signed CDN path → type, bytes
    std::mutex mutex_;
    std::map<std::string, TgFile> tg_files_;
    std::map<std::string, WaMedia> wa_media_;
    int url_serial_ = 0;
    FakeHttpServer telegram_;
    FakeHttpServer graph_;
    Daemon daemon_{SB_DAEMON_PATH};
};

TEST_F(MediaTest, TelegramPhotoIsFetchedAfterTheMessageAndServedWithRanges) {
    const std::string bytes = file_bytes(kJpegMagic, 300'000);
    tg_files_["PHOTO1"] = {"photos/file_1.jpg", bytes};
    daemon_.start(config());

    WebSocketClient ws;
    ASSERT_EQ(ws.connect(daemon_.port(), "/api/v1/ws", bearer()).status, 101);
    ASSERT_TRUE(ws.read_frame(kWait));  // hello

    ASSERT_EQ(post_telegram(telegram_update(1, 42, "photo", "PHOTO1", bytes.size())).status, 200);
    auto message = settled_message("tg");
    ASSERT_TRUE(message) << "the photo never left pending";
    EXPECT_EQ(message->str("/items/0/content/type"), "image");
    EXPECT_EQ(message->str("/items/0/content/media/state"), "ready");
    EXPECT_EQ(message->str("/items/0/content/media/mime_type"),
              "image/jpeg");  // sniffed: the platform gave none
    EXPECT_EQ(message->integer("/items/0/content/media/size"), static_cast<std::int64_t>(bytes.size()));
    EXPECT_EQ(message->str("/items/0/content/media/sha256"), digest(bytes));
    EXPECT_EQ(message->str("/items/0/content/media/platform_id"),
              "PHOTO1");  // the platform's reference stays
    EXPECT_EQ(message->str("/items/0/content/media/file_name"), "file_1.jpg");
    const std::string url = message->str("/items/0/content/media/url");
    EXPECT_EQ(url, "/api/v1/media/" + message->str("/items/0/content/media/id"));

    // new_message (the platform's reference), then message_updated pending, then ready.
    std::vector<std::string> states;
    for (int i = 0; i < 5 && (states.empty() || states.back() != "ready"); ++i) {
        auto frame = ws.read_frame(kWait);
        if (!frame) break;
        Json f(*frame);
        if (f.str("/type") != "message_updated") continue;
        states.push_back(f.str("/data/message/content/media/state"));
        EXPECT_EQ(f.str("/data/message/content/media/id"), message->str("/items/0/content/media/id"));
    }
    EXPECT_EQ(states, (std::vector<std::string>{"pending", "ready"}));

    auto whole = api_get(url);
    ASSERT_EQ(whole.status, 200) << whole.body;
    EXPECT_TRUE(whole.body == bytes) << "served bytes differ";
    EXPECT_EQ(whole.header("Content-Type").value_or(""), "image/jpeg");
    EXPECT_EQ(whole.header("X-Content-Type-Options").value_or(""), "nosniff");
    EXPECT_EQ(whole.header("Content-Security-Policy").value_or(""), "sandbox");
    EXPECT_EQ(whole.header("Accept-Ranges").value_or(""), "bytes");
    EXPECT_EQ(whole.header("Content-Disposition").value_or("").rfind("inline;", 0), 0u);
    EXPECT_EQ(whole.header("ETag").value_or(""), "\"" + digest(bytes) + "\"");

    auto part = api_get(url, kAdminToken, {{"Range", "bytes=100-199"}});
    ASSERT_EQ(part.status, 206);
    EXPECT_TRUE(part.body == bytes.substr(100, 100));
    EXPECT_EQ(part.header("Content-Range").value_or(""), "bytes 100-199/" + std::to_string(bytes.size()));
    auto tail = api_get(url, kAdminToken, {{"Range", "bytes=-10"}});
    ASSERT_EQ(tail.status, 206);
    EXPECT_TRUE(tail.body == bytes.substr(bytes.size() - 10));
    auto beyond = api_get(url, kAdminToken, {{"Range", "bytes=999999999-"}});
    EXPECT_EQ(beyond.status, 416);
    EXPECT_EQ(beyond.header("Content-Range").value_or(""), "bytes */" + std::to_string(bytes.size()));
    auto cached = api_get(url, kAdminToken, {{"If-None-Match", "\"" + digest(bytes) + "\""}});
    EXPECT_EQ(cached.status, 304);
    EXPECT_TRUE(cached.body.empty());

    EXPECT_EQ(api_get("/api/v1/media/999999").status, 404);
    EXPECT_EQ(HttpClient(daemon_.port()).get(url).status, 401);
}

TEST_F(MediaTest, TelegramDocumentAndVoiceNoteKeepTheirNamesAndTypes) {
    const std::string pdf = file_bytes("%PDF-1.7\n", 50'000, 2);
    const std::string ogg = file_bytes("OggS\x00\x02", 20'000, 3);
    tg_files_["DOC1"] = {"documents/file_2", pdf};
    tg_files_["VOICE1"] = {"voice/file_3.oga", ogg};
    daemon_.start(config());
    ASSERT_EQ(post_telegram(telegram_update(1, 1, "document", "DOC1", pdf.size(), "application/pdf")).status,
              200);
    auto doc = settled_message("tg");
    ASSERT_TRUE(doc);
    EXPECT_EQ(doc->str("/items/0/content/media/state"), "ready");
    auto served = api_get(doc->str("/items/0/content/media/url"));
    ASSERT_EQ(served.status, 200);
    EXPECT_TRUE(served.body == pdf);
    EXPECT_EQ(served.header("Content-Type").value_or(""), "application/pdf");
    // Not inline, and the UTF-8 name survives percent-encoded next to a safe ASCII fallback.
    const std::string disposition = served.header("Content-Disposition").value_or("");
    EXPECT_EQ(disposition.rfind("attachment;", 0), 0u) << disposition;
    EXPECT_NE(disposition.find("filename*=UTF-8''invoice%202026%20%E2%80%93%20M%C3%A4rz.pdf"),
              std::string::npos)
        << disposition;

    ASSERT_EQ(post_telegram(telegram_update(2, 2, "voice", "VOICE1", ogg.size(), "audio/ogg")).status, 200);
    std::optional<Json> voice;
    wait_until(
        [&] {
            voice = settled_message("tg", 1s);
            return voice && voice->str("/items/0/content/type") == "voice";
        },
        kWait, 100ms);
    ASSERT_TRUE(voice);
    EXPECT_EQ(voice->str("/items/0/content/media/state"), "ready");
    EXPECT_EQ(voice->str("/items/0/content/media/mime_type"), "audio/ogg");
    auto audio = api_get(voice->str("/items/0/content/media/url"));
    EXPECT_TRUE(audio.body == ogg);
}

TEST_F(MediaTest, TelegramFileOverTwentyMegabytesFailsTooLargeWithoutADownload) {
    daemon_.start(config());
    ASSERT_EQ(post_telegram(telegram_update(1, 1, "document", "BIG", 30u << 20, "application/pdf")).status,
              200);
    auto message = settled_message("tg");
    ASSERT_TRUE(message);
    EXPECT_EQ(message->str("/items/0/content/media/state"), "failed");
    EXPECT_EQ(message->str("/items/0/content/media/error"), "too_large");
    EXPECT_NE(message->str("/items/0/content/media/error_message").find(std::to_string(30u << 20)),
              std::string::npos);
    EXPECT_FALSE(message->has("/items/0/content/media/url"));
    for (const auto& r : telegram_.requests()) EXPECT_EQ(r.path().find("getFile"), std::string::npos);
    EXPECT_EQ(api_get("/api/v1/media/" + message->str("/items/0/content/media/id")).status, 409);
}

TEST_F(MediaTest, TelegramUnknownFileFailsNotFound) {
    daemon_.start(config());
    ASSERT_EQ(post_telegram(telegram_update(1, 1, "photo", "GONE", 1000)).status, 200);
    auto message = settled_message("tg");
    ASSERT_TRUE(message);
    EXPECT_EQ(message->str("/items/0/content/media/state"), "failed");
    EXPECT_EQ(message->str("/items/0/content/media/error"), "not_found");
}

TEST_F(MediaTest, ServerErrorsAreRetriedWithBackoffUntilReady) {
    const std::string bytes = file_bytes(kJpegMagic, 5000, 4);
    tg_files_["FLAKY"] = {"photos/flaky.jpg", bytes, 2};
    daemon_.start(config());
    ASSERT_EQ(post_telegram(telegram_update(1, 1, "photo", "FLAKY", bytes.size())).status, 200);
    auto message = settled_message("tg");
    ASSERT_TRUE(message);
    EXPECT_EQ(message->str("/items/0/content/media/state"), "ready");
    int downloads = 0;
    for (const auto& r : telegram_.requests())
        if (r.path().find("/file/bot") == 0) ++downloads;
    EXPECT_EQ(downloads, 3);  // 500, 500, 200
    EXPECT_TRUE(api_get(message->str("/items/0/content/media/url")).body == bytes);
}

TEST_F(MediaTest, WhatsAppMediaNeedsBearerOnTheCdnAndAnExpiredUrlIsRequeried) {
    const std::string bytes = file_bytes(kJpegMagic, 120'000, 5);
    wa_media_["1003383421387256"] = {"image/jpeg", bytes, digest(bytes), 1};
    daemon_.start(config());
    // The webhook's digest is base64, the metadata's hex: both name the same bytes.
    ASSERT_EQ(post_whatsapp(
                  whatsapp_webhook("wamid.A", "image", "1003383421387256", "image/jpeg", digest(bytes, true)))
                  .status,
              200);
    auto message = settled_message("wa");
    ASSERT_TRUE(message);
    EXPECT_EQ(message->str("/items/0/content/media/state"), "ready")
        << message->str("/items/0/content/media/error_message");
    EXPECT_EQ(message->str("/items/0/content/media/sha256"), digest(bytes));
    auto served = api_get(message->str("/items/0/content/media/url"));
    EXPECT_TRUE(served.body == bytes);
    int metadata = 0, cdn = 0;
    for (const auto& r : graph_.requests()) {
        EXPECT_EQ(r.header("Authorization").value_or(""), std::string("Bearer ") + kWaToken) << r.target;
        if (r.path() == "/v21.0/1003383421387256") {
            ++metadata;
            EXPECT_NE(r.target.find("phone_number_id=" + std::string(kPhoneNumberId)), std::string::npos);
        }
        if (r.path().rfind("/cdn/", 0) == 0) ++cdn;
    }
    EXPECT_EQ(metadata, 2);  // the first URL had expired: asked again
    EXPECT_EQ(cdn, 2);
}

TEST_F(MediaTest, WhatsAppBytesThatDoNotMatchTheirSha256Fail) {
    const std::string bytes = file_bytes("%PDF-1.4\n", 10'000, 6);
    wa_media_["555"] = {"application/pdf", bytes, digest("something else")};
    daemon_.start(config());
    ASSERT_EQ(post_whatsapp(whatsapp_webhook("wamid.B", "document", "555", "application/pdf", "")).status,
              200);
    auto message = settled_message("wa");
    ASSERT_TRUE(message);
    EXPECT_EQ(message->str("/items/0/content/media/state"), "failed");
    EXPECT_EQ(message->str("/items/0/content/media/error"), "sha256_mismatch");
    EXPECT_EQ(message->str("/items/0/content/media/file_name"), "report.pdf");
}

TEST_F(MediaTest, AFileClaimingToBeAnImageThatIsHtmlIsStoredAsOctetStream) {
    const std::string html = "<!DOCTYPE html><html><script>alert(1)</script></html>";
    wa_media_["666"] = {"image/jpeg", html, digest(html)};
    daemon_.start(config());
    ASSERT_EQ(post_whatsapp(whatsapp_webhook("wamid.C", "image", "666", "image/jpeg", "")).status, 200);
    auto message = settled_message("wa");
    ASSERT_TRUE(message);
    EXPECT_EQ(message->str("/items/0/content/media/state"), "ready");
    EXPECT_EQ(message->str("/items/0/content/media/mime_type"), "application/octet-stream");
    auto served = api_get(message->str("/items/0/content/media/url"));
    EXPECT_EQ(served.header("Content-Type").value_or(""), "application/octet-stream");
    EXPECT_EQ(served.header("Content-Disposition").value_or("").rfind("attachment;", 0), 0u);
}

TEST_F(MediaTest, PendingMediaResumesAfterARestart) {
    const std::string bytes = file_bytes(kJpegMagic, 8000, 7);
    wa_media_["777"] = {"image/jpeg", bytes, digest(bytes), 0, 1000};  // the CDN is down
    daemon_.start(config());
    ASSERT_EQ(post_whatsapp(whatsapp_webhook("wamid.D", "image", "777", "image/jpeg", "")).status, 200);
    ASSERT_TRUE(
        graph_.wait_for_request([](const HttpRequest& r) { return r.path().rfind("/cdn/", 0) == 0; }, kWait));
    auto list = api_get("/api/v1/conversations?channel=wa");
    Json conversations(list.body);
    auto messages =
        api_get("/api/v1/conversations/" + conversations.str("/items/0/id") + "/messages?limit=1");
    EXPECT_EQ(Json(messages.body).str("/items/0/content/media/state"), "pending");

    daemon_.kill(SIGKILL);
    {
        std::lock_guard lock(mutex_);
        wa_media_["777"].fetches_503 = 0;  // back up while the daemon is down
    }
    daemon_.restart();
    auto message = settled_message("wa");
    ASSERT_TRUE(message);
    EXPECT_EQ(message->str("/items/0/content/media/state"), "ready");
    EXPECT_TRUE(api_get(message->str("/items/0/content/media/url")).body == bytes);
}

TEST_F(MediaTest, AnAgentWhoMayNotSeeTheConversationGetsNotFound) {
    const std::string bytes = file_bytes(kJpegMagic, 4000, 8);
    tg_files_["SEEN"] = {"photos/seen.jpg", bytes};
    daemon_.start(config());
    std::map<std::string, std::pair<std::string, std::string>> agents;  // name → id, token
    for (const char* name : {"alice", "bob"}) {
        auto created =
            HttpClient(daemon_.port(), bearer())
                .post_json("/api/v1/agents", std::string(R"({"name":")") + name + R"(","role":"agent"})");
        ASSERT_EQ(created.status, 201) << created.body;
        const std::string id = Json(created.body).str("/id");
        auto token = HttpClient(daemon_.port(), bearer()).post_json("/api/v1/agents/" + id + "/tokens", "{}");
        ASSERT_EQ(token.status, 201);
        agents[name] = {id, Json(token.body).str("/token")};
    }
    ASSERT_EQ(post_telegram(telegram_update(1, 1, "photo", "SEEN", bytes.size())).status, 200);
    auto message = settled_message("tg");
    ASSERT_TRUE(message);
    const std::string url = message->str("/items/0/content/media/url");
    const std::string conversation = message->str("/items/0/conversation_id");
    // Unassigned: every agent sees it.
    EXPECT_EQ(api_get(url, agents["bob"].second).status, 200);
    auto assigned = HttpClient(daemon_.port(), bearer())
                        .post_json("/api/v1/conversations/" + conversation + "/assignment",
                                   R"({"agent_id":")" + agents["alice"].first + "\"}");
    ASSERT_EQ(assigned.status, 200) << assigned.body;
    EXPECT_EQ(api_get(url, agents["alice"].second).status, 200);
    auto refused = api_get(url, agents["bob"].second);
    EXPECT_EQ(refused.status, 404);
    EXPECT_TRUE(refused.body.find("image") == std::string::npos);
}

// A 50 MB WhatsApp document fetched, stored and served by a daemon started on `yaml`: the peak
// RSS grows by far less than the file.
void MediaTest::expect_fifty_megabytes_streamed(const std::string& yaml) {
    const std::string bytes = file_bytes("%PDF-1.5\n", 50u << 20, 9);
    wa_media_["888"] = {"application/pdf", bytes, digest(bytes)};
    daemon_.start(yaml);
    // Warm up: one small file through the same paths, so that first-use allocations are not counted.
    const std::string small = file_bytes("%PDF-1.5\n", 1000, 10);
    wa_media_["889"] = {"application/pdf", small, digest(small)};
    ASSERT_EQ(
        post_whatsapp(whatsapp_webhook("wamid.W", "document", "889", "application/pdf", "", "111")).status,
        200);
    std::optional<Json> warm;
    wait_until(
        [&] {
            auto list = api_get("/api/v1/conversations?channel=wa");
            if (!Json(list.body).has("/items/0/id")) return false;
            auto m =
                api_get("/api/v1/conversations/" + Json(list.body).str("/items/0/id") + "/messages?limit=1");
            return Json(m.body).str("/items/0/content/media/state") == "ready";
        },
        kWait, 100ms);
    const long before = rss_peak_kb(daemon_.process().pid());
    ASSERT_GT(before, 0);

    ASSERT_EQ(
        post_whatsapp(whatsapp_webhook("wamid.E", "document", "888", "application/pdf", "", "222")).status,
        200);
    std::optional<Json> message;
    wait_until(
        [&] {
            auto list = api_get("/api/v1/conversations?channel=wa");
            Json conversations(list.body);
            for (int i = 0; i < 2; ++i) {
                std::string pointer = "/items/" + std::to_string(i);
                if (conversations.str((pointer + "/contact/platform_id").c_str()) != "222") continue;
                auto m = api_get("/api/v1/conversations/" + conversations.str((pointer + "/id").c_str()) +
                                 "/messages?limit=1");
                Json j(m.body);
                if (j.str("/items/0/content/media/state") == "ready" ||
                    j.str("/items/0/content/media/state") == "failed") {
                    message.emplace(m.body);
                    return true;
                }
            }
            return false;
        },
        60s, 200ms);
    ASSERT_TRUE(message);
    ASSERT_EQ(message->str("/items/0/content/media/state"), "ready")
        << message->str("/items/0/content/media/error_message");
    EXPECT_EQ(message->integer("/items/0/content/media/size"), static_cast<std::int64_t>(bytes.size()));
    auto served = api_get(message->str("/items/0/content/media/url"));
    ASSERT_EQ(served.status, 200);
    EXPECT_EQ(digest(served.body), digest(bytes));
    const long after = rss_peak_kb(daemon_.process().pid());
    // Fetched, hashed and served in 64 KiB pieces: the peak grows by far less than the file.
    EXPECT_LT(after - before, 8 * 1024) << "peak RSS grew from " << before << " kB to " << after << " kB";
}

TEST_F(MediaTest, AFiftyMegabyteFileIsStreamedWithoutTheDaemonGrowing) {
    expect_fifty_megabytes_streamed(config());
}

// The same through the PostgreSQL blob store (chunked rows): a writer sends 256 KiB rows, a
// reader asks for them a piece at a time.
TEST_F(MediaTest, AFiftyMegabyteFileIsStreamedThroughPostgresWithoutTheDaemonGrowing) {
    const std::string admin = test_pg_admin_dsn();
    if (admin.empty())
        GTEST_SKIP() << "SB_TEST_PG_DSN is not set: PostgreSQL cases skipped (run under tools/with-postgres)";
    TestDatabase db(admin);
    storage_ = "storage: { backend: postgres, postgres: { dsn: \"" + db.dsn() + "\", pool_size: 4 } }\n";
    expect_fifty_megabytes_streamed(config(", store: postgres"));
    daemon_.kill(SIGTERM);  // before the database goes
    EXPECT_EQ(db.scalar("SELECT count(*) FROM media_blobs"), 2) << "both files in the database";
    EXPECT_GE(db.scalar("SELECT count(*) FROM media_blob_chunks"), 200);
}

TEST_F(MediaTest, MessengerAttachmentsComeFromTheSignedCdnLinkWithoutCredentials) {
    fb_bytes_ = file_bytes(kJpegMagic, 64'000, 11);
    daemon_.start(config());
    ASSERT_EQ(post_messenger("m_1", graph_.base_url() + "/fbcdn/photo.jpg?oh=sig&oe=6750").status, 200);
    auto message = settled_message("fb");
    ASSERT_TRUE(message);
    EXPECT_EQ(message->str("/items/0/content/media/state"), "ready")
        << message->str("/items/0/content/media/error_message");
    EXPECT_EQ(message->str("/items/0/content/media/platform_url"),
              graph_.base_url() + "/fbcdn/photo.jpg?oh=sig&oe=6750");
    EXPECT_TRUE(api_get(message->str("/items/0/content/media/url")).body == fb_bytes_);
    auto fetch =
        graph_.wait_for_request([](const HttpRequest& r) { return r.path() == "/fbcdn/photo.jpg"; }, kWait);
    ASSERT_TRUE(fetch);
    EXPECT_FALSE(fetch->header("Authorization")) << "no token goes to the CDN";
}

TEST_F(MediaTest, AnExpiredMessengerLinkFailsExpired) {
    daemon_.start(config());
    ASSERT_EQ(post_messenger("m_2", graph_.base_url() + "/fbcdn/expired.jpg").status, 200);
    auto message = settled_message("fb");
    ASSERT_TRUE(message);
    EXPECT_EQ(message->str("/items/0/content/media/state"), "failed");
    EXPECT_EQ(message->str("/items/0/content/media/error"), "expired");
}

TEST_F(MediaTest, AnUploadIsSentToTelegramAsTheBotApisMultipartForm) {
    daemon_.start(config());
    const std::string conversation = conversation_of_text("tg");
    const std::string bytes = file_bytes(kJpegMagic, 200'000, 12);
    auto uploaded = upload(bytes, "image/jpeg", "re%C3%A7u.jpg");
    ASSERT_EQ(uploaded.status, 201) << uploaded.body;
    Json u(uploaded.body);
    EXPECT_EQ(u.str("/mime_type"), "image/jpeg");
    EXPECT_EQ(u.integer("/size"), 200'000);
    EXPECT_EQ(u.str("/file_name"), "re\xC3\xA7u.jpg");
    EXPECT_EQ(u.str("/sha256"), digest(bytes));

    auto sent = send_content(
        conversation, R"({"type":"image","upload_id":")" + u.str("/id") + R"(","caption":"your receipt"})");
    ASSERT_EQ(sent.status, 201) << sent.body;
    Json m(sent.body);
    EXPECT_EQ(m.str("/platform_id"), "777:9001");
    EXPECT_EQ(m.str("/content/media/state"), "ready");
    EXPECT_EQ(m.str("/content/media/url"), "/api/v1/media/" + u.str("/id"));
    auto call = telegram_.wait_for_request(
        [](const HttpRequest& r) { return r.path() == std::string("/bot") + kBotToken + "/sendPhoto"; },
        kWait);
    ASSERT_TRUE(call);
    const std::string type = call->header("Content-Type").value_or("");
    ASSERT_EQ(type.rfind("multipart/form-data; boundary=", 0), 0u) << type;
    const std::string boundary = "--" + type.substr(type.find('=') + 1);
    const std::string& body = call->body;
    EXPECT_NE(body.find(boundary + "\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n777\r\n"),
              std::string::npos)
        << body.substr(0, 400);
    EXPECT_NE(body.find("name=\"caption\"\r\n\r\nyour receipt\r\n"), std::string::npos);
    const std::string part =
        "name=\"photo\"; filename=\"re\xC3\xA7u.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n";
    auto at = body.find(part);
    ASSERT_NE(at, std::string::npos);
    EXPECT_TRUE(body.compare(at + part.size(), bytes.size(), bytes) == 0)
        << "the file part is not the upload's bytes";
    EXPECT_NE(body.find(boundary + "--\r\n"), std::string::npos);
    // The history shows it, and the file is there to open.
    Json history(api_get("/api/v1/conversations/" + conversation + "/messages?limit=1").body);
    EXPECT_EQ(history.str("/items/0/content/media/url"), "/api/v1/media/" + u.str("/id"));
    EXPECT_TRUE(api_get("/api/v1/media/" + u.str("/id")).body == bytes);
}

TEST_F(MediaTest, AnOversizedOrWrongTypeUploadIsRefusedBeforeAnyPlatformCall) {
    daemon_.start(config());
    const std::string conversation = conversation_of_text("tg");
    auto big = upload(file_bytes(kJpegMagic, 11u << 20, 13), "image/jpeg", "big.jpg");
    ASSERT_EQ(big.status, 201) << big.body;
    auto refused =
        send_content(conversation, R"({"type":"image","upload_id":")" + Json(big.body).str("/id") + "\"}");
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_NE(refused.body.find("10 MB"), std::string::npos) << refused.body;
    auto pdf = upload(file_bytes("%PDF-1.4\n", 1000, 14), "application/pdf", "a.pdf");
    auto wrong =
        send_content(conversation, R"({"type":"image","upload_id":")" + Json(pdf.body).str("/id") + "\"}");
    EXPECT_EQ(wrong.status, 400) << wrong.body;
    auto unknown = send_content(conversation, R"({"type":"image","upload_id":"99999"})");
    EXPECT_EQ(unknown.status, 400);
    for (const auto& r : telegram_.requests()) EXPECT_EQ(r.path().find("sendPhoto"), std::string::npos);
    // Uploads beyond media.upload_limit_mb (25) are 413 before their body is read.
    auto too_big = upload(std::string(26u << 20, 'x'), "application/octet-stream", "x.bin");
    EXPECT_EQ(too_big.status, 413);
    EXPECT_EQ(upload("", "image/jpeg", "empty.jpg").status, 400);
    EXPECT_EQ(upload("abc", "text/plain", "a%2Fb.txt").status, 400) << "a path is no file name";
}

TEST_F(MediaTest, AnUploadIsSentToWhatsAppByMediaIdAfterItsMultipartUpload) {
    daemon_.start(config());
    const std::string conversation = conversation_of_text("wa");
    const std::string png = file_bytes("\x89PNG\r\n\x1A\n", 30'000, 15);
    auto uploaded = upload(png, "image/png", "chart.png");
    ASSERT_EQ(uploaded.status, 201) << uploaded.body;
    auto sent =
        send_content(conversation, R"({"type":"image","upload_id":")" + Json(uploaded.body).str("/id") +
                                       R"(","caption":"the chart"})");
    ASSERT_EQ(sent.status, 201) << sent.body;
    EXPECT_EQ(Json(sent.body).str("/platform_id"), "wamid.SENT");
    auto media = graph_.wait_for_request(
        [](const HttpRequest& r) { return r.path() == "/v21.0/" + std::string(kPhoneNumberId) + "/media"; },
        kWait);
    ASSERT_TRUE(media);
    EXPECT_EQ(media->header("Authorization").value_or(""), std::string("Bearer ") + kWaToken);
    EXPECT_NE(media->body.find("name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"), std::string::npos);
    EXPECT_NE(media->body.find("name=\"type\"\r\n\r\nimage/png\r\n"), std::string::npos);
    const std::string part = "name=\"file\"; filename=\"chart.png\"\r\nContent-Type: image/png\r\n\r\n";
    auto at = media->body.find(part);
    ASSERT_NE(at, std::string::npos);
    EXPECT_TRUE(media->body.compare(at + part.size(), png.size(), png) == 0);
    auto message = graph_.wait_for_request(
        [](const HttpRequest& r) {
            return r.path() == "/v21.0/" + std::string(kPhoneNumberId) + "/messages";
        },
        kWait);
    ASSERT_TRUE(message);
    Json body(message->body);
    EXPECT_EQ(body.str("/type"), "image");
    EXPECT_EQ(body.str("/image/id"), "MEDIA-9");
    EXPECT_EQ(body.str("/image/caption"), "the chart");
    EXPECT_FALSE(body.has("/image/link"));
    // An image WhatsApp does not take (a PDF) is refused before the upload.
    auto pdf = upload(file_bytes("%PDF-1.4\n", 1000, 16), "application/pdf", "a.pdf");
    auto wrong =
        send_content(conversation, R"({"type":"image","upload_id":")" + Json(pdf.body).str("/id") + "\"}");
    EXPECT_EQ(wrong.status, 400) << wrong.body;
}

TEST_F(MediaTest, AnUploadIsSentToMessengerAsTheSendApisMultipartForm) {
    fb_bytes_ = file_bytes(kJpegMagic, 1000, 18);
    daemon_.start(config());
    ASSERT_EQ(post_messenger("m_in", graph_.base_url() + "/fbcdn/in.jpg").status, 200);
    ASSERT_TRUE(settled_message("fb"));
    const std::string conversation =
        Json(api_get("/api/v1/conversations?channel=fb").body).str("/items/0/id");
    const std::string pdf = file_bytes("%PDF-1.4\n", 40'000, 19);
    auto uploaded = upload(pdf, "application/pdf", "terms.pdf");
    ASSERT_EQ(uploaded.status, 201);
    auto sent = send_content(conversation,
                             R"({"type":"document","upload_id":")" + Json(uploaded.body).str("/id") + "\"}");
    ASSERT_EQ(sent.status, 201) << sent.body;
    EXPECT_EQ(Json(sent.body).str("/platform_id"), "m_out_1");
    auto call = graph_.wait_for_request(
        [](const HttpRequest& r) { return r.path() == "/v21.0/" + std::string(kPageId) + "/messages"; },
        kWait);
    ASSERT_TRUE(call);
    EXPECT_NE(call->body.find("name=\"recipient\"\r\n\r\n{\"id\":\"PSID-1\"}\r\n"), std::string::npos);
    const std::string part =
        "name=\"filedata\"; filename=\"terms.pdf\"\r\nContent-Type: application/pdf\r\n\r\n";
    auto at = call->body.find(part);
    ASSERT_NE(at, std::string::npos);
    EXPECT_TRUE(call->body.compare(at + part.size(), pdf.size(), pdf) == 0);
}

TEST_F(MediaTest, AnUploadIsOnlyItsUploadersToSendAndRead) {
    daemon_.start(config());
    const std::string conversation = conversation_of_text("tg");
    auto created =
        HttpClient(daemon_.port(), bearer()).post_json("/api/v1/agents", R"({"name":"eve","role":"agent"})");
    const std::string eve = Json(created.body).str("/id");
    auto token =
        Json(HttpClient(daemon_.port(), bearer()).post_json("/api/v1/agents/" + eve + "/tokens", "{}").body)
            .str("/token");
    auto mine = upload(file_bytes(kJpegMagic, 1000, 17), "image/jpeg", "a.jpg");
    const std::string id = Json(mine.body).str("/id");
    EXPECT_EQ(api_get("/api/v1/media/" + id, token).status, 404);
    auto sent = HttpClient(daemon_.port(), bearer(token))
                    .post_json("/api/v1/conversations/" + conversation + "/messages",
                               R"({"content":{"type":"image","upload_id":")" + id + "\"}}");
    EXPECT_EQ(sent.status, 400) << sent.body;
}

// Instagram attachments are signed CDN links like Messenger's: an image, a voice note (audio,
// an M4A) and a PDF each become ready and are served byte for byte; an expired link fails.
TEST_F(MediaTest, InstagramImageVoiceNoteAndPdfFromSignedCdnLinksAreServedByteForByte) {
    const std::string jpeg = file_bytes(kJpegMagic, 150'000, 30);
    const std::string m4a = file_bytes(kM4aMagic, 40'000, 31);
    const std::string pdf = file_bytes(kPdfMagic, 70'000, 32);
    daemon_.start(config());
    ASSERT_EQ(
        post_meta("ig", "ig_m_1", "image", cdn_link("/igcdn/t51.2885-15/photo_n.jpg", "image/jpeg", jpeg))
            .status,
        200);
    ASSERT_EQ(
        post_meta("ig", "ig_m_2", "audio", cdn_link("/igcdn/o1/v/t2/audioclip-1_n.mp4", "audio/mp4", m4a))
            .status,
        200);
    ASSERT_EQ(post_meta("ig", "ig_m_3", "file",
                        cdn_link("/igcdn/v/t59.2708-21/4_5_n.pdf/Order%20B-1042.pdf", "application/pdf", pdf))
                  .status,
              200);
    const std::map<std::string, std::tuple<std::string, std::string, std::string>> expected = {
        {"image", {jpeg, "image/jpeg", "inline;"}},
        {"audio", {m4a, "audio/mp4", "inline;"}},
        {"document", {pdf, "application/pdf", "attachment;"}},
    };
    for (const auto& [type, want] : expected) {
        const auto& [bytes, mime, disposition] = want;
        auto media = settled_media_of("ig", type);
        ASSERT_TRUE(media) << type << " never settled";
        EXPECT_EQ(media->state, "ready") << type << ": " << media->error;
        EXPECT_EQ(media->mime_type, mime) << type;
        EXPECT_EQ(media->size, static_cast<std::int64_t>(bytes.size())) << type;
        auto served = api_get(media->url);
        ASSERT_EQ(served.status, 200) << type;
        EXPECT_TRUE(served.body == bytes) << type << ": served bytes differ";
        EXPECT_EQ(served.header("Content-Type").value_or(""), mime) << type;
        EXPECT_EQ(served.header("Content-Disposition").value_or("").rfind(disposition, 0), 0u) << type;
    }
    EXPECT_EQ(settled_media_of("ig", "document")->file_name, "Order B-1042.pdf") << "named by its link";
    for (const auto& r : graph_.requests()) {
        if (r.path().rfind("/igcdn/", 0) != 0) continue;
        EXPECT_FALSE(r.header("Authorization")) << "no token goes to the CDN";
    }

    // A link past its oe= is refused by the CDN: the file is expired, not retried.
    ASSERT_EQ(
        post_meta("ig", "ig_m_4", "video", cdn_link("/igcdn/v/old_n.mp4", "video/mp4", m4a, true)).status,
        200);
    auto expired = settled_media_of("ig", "video");
    ASSERT_TRUE(expired);
    EXPECT_EQ(expired->state, "failed");
    EXPECT_EQ(expired->error, "expired");
}

// A form upload (POST /api/v1/media) sent to Instagram reaches its Send API as the platform's own
// multipart form: recipient and message (the attachment's type) as fields, the file in filedata.
TEST_F(MediaTest, AFormUploadIsSentToInstagramAsTheSendApisMultipartForm) {
    daemon_.start(config());
    ASSERT_EQ(post_meta("ig", "ig_in", "image",
                        cdn_link("/igcdn/in_n.jpg", "image/jpeg", file_bytes(kJpegMagic, 900, 33)))
                  .status,
              200);
    ASSERT_TRUE(settled_media_of("ig", "image"));
    const std::string conversation =
        Json(api_get("/api/v1/conversations?channel=ig").body).str("/items/0/id");
    const std::string pdf = file_bytes(kPdfMagic, 120'000, 34);
    auto uploaded = upload_form(
        form_body("sbForm42", {{"note", "ignored"}}, "terms.pdf", "application/pdf", pdf), "sbForm42");
    ASSERT_EQ(uploaded.status, 201) << uploaded.body;
    const std::string id = expect_upload_of(uploaded, "application/pdf", "terms.pdf", pdf);

    auto sent = send_content(conversation, R"({"type":"document","upload_id":")" + id + "\"}");
    ASSERT_EQ(sent.status, 201) << sent.body;
    EXPECT_EQ(Json(sent.body).str("/platform_id"), "ig_out_1");
    auto call =
        graph_.wait_for_request([](const HttpRequest& r) { return r.path() == "/v21.0/me/messages"; }, kWait);
    ASSERT_TRUE(call);
    EXPECT_EQ(call->header("Authorization").value_or(""), std::string("Bearer ") + kIgToken);
    const std::string type = call->header("Content-Type").value_or("");
    ASSERT_EQ(type.rfind("multipart/form-data; boundary=", 0), 0u) << type;
    const std::string& body = call->body;
    EXPECT_NE(body.find("name=\"recipient\"\r\n\r\n{\"id\":\"IGSID-1\"}\r\n"), std::string::npos)
        << body.substr(0, 600);
    EXPECT_NE(body.find(R"(name="message")"
                        "\r\n\r\n"
                        R"({"attachment":{"type":"file","payload":{"is_reusable":false}})"),
              std::string::npos)
        << body.substr(0, 600);
    EXPECT_EQ(body.find("messaging_type"), std::string::npos) << "Instagram's documented form has none";
    const std::string part =
        "name=\"filedata\"; filename=\"terms.pdf\"\r\nContent-Type: application/pdf\r\n\r\n";
    auto at = body.find(part);
    ASSERT_NE(at, std::string::npos) << body.substr(0, 600);
    EXPECT_TRUE(body.compare(at + part.size(), pdf.size(), pdf) == 0)
        << "the file part is not the upload's bytes";
    Json history(api_get("/api/v1/conversations/" + conversation + "/messages?limit=1").body);
    EXPECT_EQ(history.str("/items/0/content/media/url"), "/api/v1/media/" + id);
    EXPECT_TRUE(api_get("/api/v1/media/" + id).body == pdf);
}

// A WhatsApp voice note (audio with voice:true, Opus in Ogg) and a PDF document: ready, served
// byte for byte, the document's name kept.
TEST_F(MediaTest, WhatsAppVoiceNoteAndPdfDocumentAreReadyWithTheirNames) {
    const std::string ogg = file_bytes(kOggMagic, 25'000, 35);
    const std::string pdf = file_bytes(kPdfMagic, 90'000, 36);
    wa_media_["9001"] = {"audio/ogg; codecs=opus", ogg, digest(ogg)};
    wa_media_["9002"] = {"application/pdf", pdf, digest(pdf)};
    daemon_.start(config());
    ASSERT_EQ(post_whatsapp(
                  whatsapp_webhook("wamid.V", "audio", "9001", "audio/ogg; codecs=opus", digest(ogg, true)))
                  .status,
              200);
    auto voice = settled_media_of("wa", "voice");
    ASSERT_TRUE(voice) << "a push-to-talk note is content type voice";
    EXPECT_EQ(voice->state, "ready") << voice->error;
    EXPECT_EQ(voice->mime_type, "audio/ogg") << "the codecs parameter is dropped, the type kept";
    auto heard = api_get(voice->url);
    ASSERT_EQ(heard.status, 200);
    EXPECT_TRUE(heard.body == ogg);
    EXPECT_EQ(heard.header("Content-Type").value_or(""), "audio/ogg");
    EXPECT_EQ(heard.header("Content-Disposition").value_or("").rfind("inline;", 0), 0u);
    auto range = api_get(voice->url, kAdminToken, {{"Range", "bytes=1000-1999"}});
    EXPECT_EQ(range.status, 206);
    EXPECT_TRUE(range.body == ogg.substr(1000, 1000)) << "seeking in a voice note";

    ASSERT_EQ(
        post_whatsapp(whatsapp_webhook("wamid.P", "document", "9002", "application/pdf", digest(pdf, true)))
            .status,
        200);
    auto document = settled_media_of("wa", "document");
    ASSERT_TRUE(document);
    EXPECT_EQ(document->state, "ready") << document->error;
    EXPECT_EQ(document->file_name, "report.pdf");
    auto read = api_get(document->url);
    ASSERT_EQ(read.status, 200);
    EXPECT_TRUE(read.body == pdf);
    EXPECT_EQ(read.header("Content-Type").value_or(""), "application/pdf");
    const std::string disposition = read.header("Content-Disposition").value_or("");
    EXPECT_EQ(disposition.rfind("attachment;", 0), 0u) << disposition;
    EXPECT_NE(disposition.find("filename=\"report.pdf\""), std::string::npos) << disposition;
}

// Messenger audio and file attachments, from signed CDN links: ready, served byte for byte.
TEST_F(MediaTest, MessengerAudioAndPdfFileAreReadyAndServedByteForByte) {
    const std::string m4a = file_bytes(kM4aMagic, 30'000, 37);
    const std::string pdf = file_bytes(kPdfMagic, 60'000, 38);
    daemon_.start(config());
    ASSERT_EQ(post_meta("fb", "m_audio", "audio",
                        cdn_link("/fbcdn/v/t59.3654-21/audioclip_n.mp4", "audio/mp4", m4a))
                  .status,
              200);
    ASSERT_EQ(
        post_meta("fb", "m_file", "file",
                  cdn_link("/fbcdn/v/t59.2708-21/7_8_n.pdf/Rechnung%20M%C3%A4rz.pdf", "application/pdf", pdf))
            .status,
        200);
    auto audio = settled_media_of("fb", "audio");
    ASSERT_TRUE(audio);
    EXPECT_EQ(audio->state, "ready") << audio->error;
    EXPECT_EQ(audio->mime_type, "audio/mp4");
    EXPECT_TRUE(api_get(audio->url).body == m4a);
    auto file = settled_media_of("fb", "document");
    ASSERT_TRUE(file);
    EXPECT_EQ(file->state, "ready") << file->error;
    EXPECT_EQ(file->mime_type, "application/pdf");
    EXPECT_EQ(file->file_name, "Rechnung M\xC3\xA4rz.pdf");
    auto served = api_get(file->url);
    ASSERT_EQ(served.status, 200);
    EXPECT_TRUE(served.body == pdf);
    EXPECT_NE(
        served.header("Content-Disposition").value_or("").find("filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf"),
        std::string::npos)
        << served.header("Content-Disposition").value_or("");
}

// POST /api/v1/media: the form's file part, its name and type from the part's headers, stored as
// the raw upload stores it; what is not such a form is refused with the reason.
TEST_F(MediaTest, AFormUploadStoresItsFilePartAndRefusesWhatIsNotAForm) {
    daemon_.start(config(", upload_limit_mb: 1"));
    const std::string pdf = file_bytes(kPdfMagic, 300'000, 39);
    // A browser's FormData: a boundary of its own, a caption field before the file.
    const std::string boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    auto stored = upload_form(
        form_body(boundary, {{"caption", "see attached"}}, "re\xC3\xA7u.pdf", "application/pdf", pdf),
        boundary);
    ASSERT_EQ(stored.status, 201) << stored.body;
    const std::string id = expect_upload_of(stored, "application/pdf", "re\xC3\xA7u.pdf", pdf);
    auto served = api_get("/api/v1/media/" + id);
    ASSERT_EQ(served.status, 200);
    EXPECT_TRUE(served.body == pdf);
    // No Content-Type on the part: the bytes say what it is.
    auto untyped = upload_form(form_body("b1", {}, "x.jpg", "", file_bytes(kJpegMagic, 2000, 40)), "b1");
    ASSERT_EQ(untyped.status, 201) << untyped.body;
    EXPECT_EQ(Json(untyped.body).str("/mime_type"), "image/jpeg");
    // The same bytes as the raw endpoint's: stored once, the same digest.
    auto raw = upload(pdf, "application/pdf", "raw.pdf");
    ASSERT_EQ(raw.status, 201) << raw.body;
    EXPECT_EQ(Json(raw.body).str("/sha256"), digest(pdf));

    auto refused = [&](const std::string& body, const std::string& content_type) {
        return HttpClient(daemon_.port(), bearer(), 60s)
            .request("POST", "/api/v1/media", body, {{"Content-Type", content_type}});
    };
    const std::string good = form_body("b2", {}, "a.pdf", "application/pdf", pdf.substr(0, 1000));
    auto no_boundary = refused(good, "multipart/form-data");
    EXPECT_EQ(no_boundary.status, 400);
    EXPECT_NE(no_boundary.body.find("boundary"), std::string::npos) << no_boundary.body;
    EXPECT_EQ(refused(good, "application/pdf").status, 400) << "not a form at all";
    auto early = upload_form(good.substr(0, good.size() - 20), "b2");
    EXPECT_EQ(early.status, 400);
    EXPECT_NE(early.body.find("ends before the closing boundary"), std::string::npos) << early.body;
    auto wrong_boundary = upload_form(good, "b3");
    EXPECT_EQ(wrong_boundary.status, 400) << wrong_boundary.body;
    auto no_file =
        upload_form("--b4\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nhi\r\n--b4--\r\n", "b4");
    EXPECT_EQ(no_file.status, 400);
    EXPECT_NE(no_file.body.find("no part named \\\"file\\\""), std::string::npos) << no_file.body;
    EXPECT_EQ(upload_form(form_body("b5", {}, "empty.pdf", "application/pdf", ""), "b5").status, 400);
    EXPECT_EQ(upload_form(form_body("b6", {}, "a/b.pdf", "application/pdf", "x"), "b6").status, 400)
        << "a path is no name";
    // Over media.upload_limit_mb (1 here): the file part is cut off at the limit, or the whole
    // body refused before it is read when its length says so.
    auto over = upload_form(
        form_body("b7", {}, "big.bin", "application/octet-stream", std::string((1u << 20) + 1, 'x')), "b7");
    EXPECT_EQ(over.status, 413) << over.body;
    EXPECT_EQ(upload_form(form_body("b8", {}, "big.bin", "", std::string(2u << 20, 'x')), "b8").status, 413);
    EXPECT_EQ(upload_form(form_body("b9", {}, "max.bin", "", std::string(1u << 20, 'y')), "b9").status, 201)
        << "exactly the limit is allowed";
    // curl sends a large form with Expect: 100-continue and waits for the go-ahead.
    const std::string expecting = form_body("b10", {}, "c.pdf", "application/pdf", pdf.substr(0, 5000));
    auto answer = HttpClient(daemon_.port())
                      .raw("POST /api/v1/media HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                           std::string(kAdminToken) +
                           "\r\nContent-Type: multipart/form-data; boundary=b10\r\nExpect: 100-continue\r\n"
                           "Connection: close\r\nContent-Length: " +
                           std::to_string(expecting.size()) + "\r\n\r\n" + expecting);
    EXPECT_EQ(answer.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201", 0), 0u) << answer.substr(0, 300);
    // Each exchange removes its spooled body when it goes, just after its answer.
    EXPECT_TRUE(
        wait_until([&] { return std::filesystem::is_empty(daemon_.dir() / "media" / "uploads"); }, 5s, 50ms))
        << "spooled bodies are left in media.dir/uploads";
}

// The form's file goes to disk as it arrives and from there to the blob store a piece at a
// time: a 20 MB upload does not grow the daemon by anything like 20 MB.
TEST_F(MediaTest, ATwentyMegabyteFormUploadIsStreamedWithoutTheDaemonGrowing) {
    daemon_.start(config());
    ASSERT_EQ(upload_form(form_body("w", {}, "warm.bin", "", file_bytes(kPdfMagic, 100'000, 41)), "w").status,
              201);
    const long before = rss_peak_kb(daemon_.process().pid());
    ASSERT_GT(before, 0);
    const std::string big = file_bytes(kPdfMagic, 20u << 20, 42);
    auto stored = upload_form(form_body("big", {}, "big.pdf", "application/pdf", big), "big");
    ASSERT_EQ(stored.status, 201) << stored.body;
    EXPECT_EQ(Json(stored.body).str("/sha256"), digest(big));
    const long after = rss_peak_kb(daemon_.process().pid());
    EXPECT_LT(after - before, 8 * 1024) << "peak RSS grew from " << before << " kB to " << after << " kB";
}

// media.retention_days: a file that arrived more than that many days ago goes (its message keeps
// the media object as "deleted", GET answers 404, the bytes leave the store) while a newer one
// stays. "Arrived" is the media row's created_ms (Worker::apply_retention); the test makes one
// file 40 days old by moving that time back in the database while the daemon is stopped, and the
// pass that runs at start deletes it: no clock of the daemon's is faked and nobody waits days.
TEST_F(MediaTest, RetentionDeletesFilesOlderThanRetentionDaysAndKeepsNewerOnes) {
    const std::string old_bytes = file_bytes(kJpegMagic, 30'000, 43),
                      new_bytes = file_bytes(kJpegMagic, 31'000, 44);
    tg_files_["OLD"] = {"photos/old.jpg", old_bytes};
    tg_files_["NEW"] = {"photos/new.jpg", new_bytes};
    daemon_.start(config(", retention_days: 30"));
    ASSERT_EQ(post_telegram(telegram_update(1, 1, "photo", "OLD", old_bytes.size())).status, 200);
    auto old_message = settled_message("tg");
    ASSERT_TRUE(old_message);
    const std::string old_id = old_message->str("/items/0/content/media/id");
    ASSERT_EQ(post_telegram(telegram_update(2, 2, "photo", "NEW", new_bytes.size())).status, 200);
    std::optional<Json> new_message;
    wait_until(
        [&] {
            new_message = settled_message("tg", 1s);
            return new_message && new_message->str("/items/0/content/media/id") != old_id;
        },
        kWait, 100ms);
    ASSERT_TRUE(new_message);
    const std::string new_id = new_message->str("/items/0/content/media/id");
    ASSERT_EQ(api_get("/api/v1/media/" + old_id).status, 200)
        << "retention ran at start: nothing was old then";
    auto blob_path = [&](const std::string& bytes) {
        const std::string sha256 = digest(bytes);
        return daemon_.dir() / "media" / sha256.substr(0, 2) / sha256.substr(2, 2) / sha256;
    };
    ASSERT_TRUE(std::filesystem::exists(blob_path(old_bytes)));

    daemon_.kill(SIGTERM);
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(daemon_.db_path().c_str(), &db), SQLITE_OK);
        const std::string sql =
            "UPDATE media SET created_ms = created_ms - 40 * 86400000 WHERE id = " + old_id;
        char* error = nullptr;
        const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
        const int changed = sqlite3_changes(db);
        sqlite3_close(db);
        ASSERT_EQ(rc, SQLITE_OK) << (error ? error : "");
        ASSERT_EQ(changed, 1);
    }
    daemon_.restart();

    std::string old_state;
    wait_until(
        [&] {
            auto conversation = Json(api_get("/api/v1/conversations?channel=tg").body).str("/items/0/id");
            Json messages(api_get("/api/v1/conversations/" + conversation + "/messages?limit=2").body);
            for (int i = 0; i < 2; ++i) {
                const std::string at = "/items/" + std::to_string(i) + "/content/media/";
                if (messages.str((at + "id").c_str()) == old_id)
                    old_state = messages.str((at + "state").c_str());
            }
            return old_state == "deleted";
        },
        kWait, 100ms);
    EXPECT_EQ(old_state, "deleted");
    EXPECT_EQ(api_get("/api/v1/media/" + old_id).status, 404);
    EXPECT_FALSE(std::filesystem::exists(blob_path(old_bytes))) << "the old file's bytes are still stored";
    auto kept = api_get("/api/v1/media/" + new_id);
    ASSERT_EQ(kept.status, 200);
    EXPECT_TRUE(kept.body == new_bytes);
    EXPECT_TRUE(std::filesystem::exists(blob_path(new_bytes)));
    Json newest(
        api_get("/api/v1/conversations/" + new_message->str("/items/0/conversation_id") + "/messages?limit=1")
            .body);
    EXPECT_EQ(newest.str("/items/0/content/media/state"), "ready");
}

}  // namespace
}  // namespace sb::test
