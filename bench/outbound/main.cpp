// sb-bench-outbound: agent replies per second (DESIGN §7 "Outbound"). Creates N conversations
// by posting one Telegram webhook from each of N customers, then M concurrent agents POST
// replies to /api/v1/conversations/{id}/messages, round-robin over the conversations, each
// with its own Idempotency-Key (as a console sends them), as fast as the server answers. It
// reads the conversation list as the daemon writes it ({"items"}) or as the Node.js peer
// does ({"data"}), so the same client measures both. The daemon's Telegram
// channel must point its api_base at an instant fake Bot API (sb-bench-fake-telegram), so the
// figure is the daemon's own cost: validate, plugin build_send, HTTP to the platform, plugin
// classify, store, 201.

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <random>
#include <set>
#include <thread>
#include <vector>

#include "common/bench_common.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

struct Answer {
    int status = 0;
    std::string body;
};

// One request on its own connection, for the set-up steps.
Answer exchange(net::io_context& io, const tcp::endpoint& endpoint, const std::string& raw) {
    beast::tcp_stream stream(io);
    stream.connect(endpoint);
    net::write(stream, net::buffer(raw));
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    return {static_cast<int>(response.result_int()), response.body()};
}

}  // namespace

int main(int argc, char** argv) {
    using namespace sb::bench;
    CLI::App app{"Measure agent replies/s through switchboardd to an instant fake platform"};
    std::string url = "http://127.0.0.1:8080";
    std::string channel = "tg-support";
    std::string secret = "demo-secret";
    std::string token = "change-me-admin-token";
    LoadOptions options;
    options.connections = 16;
    int conversations = 50;
    bool idempotency = true;
    app.add_option("--url", url, "the daemon's base URL (http only)");
    app.add_option("--port", options.port, "overrides the URL's port");
    app.add_option("--channel", channel, "a Telegram channel whose api_base is the fake platform");
    app.add_option("--secret", secret, "the channel's secret_token (for the set-up webhook)");
    app.add_option("--token", token, "the agents' API token");
    app.add_option("--agents,--connections,-c", options.connections,
                   "concurrent agents (one connection each)")
        ->check(CLI::Range(1, 10000));
    app.add_option("--duration,-d", options.duration_s, "measured seconds")->check(CLI::PositiveNumber);
    app.add_option("--warmup", options.warmup_s, "seconds sent before measuring")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--conversations", conversations, "conversations the replies go to, round-robin")
        ->check(CLI::Range(1, 200));
    app.add_flag("!--no-idempotency-key", idempotency,
                 "send no Idempotency-Key (default: a unique one each)");
    app.add_option("--rate,-r", options.rate, "replies/s over all agents; 0 = full speed")
        ->check(CLI::NonNegativeNumber);
    CLI11_PARSE(app, argc, argv);

    auto parsed = parse_url(url);
    if (!parsed) {
        fmt::print(stderr, "--url must look like http://host:port\n");
        return 2;
    }
    options.host = parsed->host;
    if (app.count("--port") == 0) options.port = parsed->port;
    const std::string host = fmt::format("{}:{}", options.host, options.port);
    const tcp::endpoint endpoint(net::ip::make_address(options.host), options.port);
    const std::vector<std::pair<std::string, std::string>> auth{{"Authorization", "Bearer " + token},
                                                                {"Content-Type", "application/json"}};

    net::io_context io(1);
    std::vector<std::string> conversation_ids;
    try {
        // Customers write first, so there are conversations to answer.
        std::set<std::string> chats;
        const std::int64_t base_chat =
            5'000'000 + static_cast<std::int64_t>(std::random_device{}() % 1'000'000) * 100;
        for (int i = 0; i < conversations; ++i) {
            TelegramText m;
            m.update_id = fresh_id_base() + 99'000 + i;
            m.message_id = m.update_id;
            m.chat_id = base_chat + i;
            m.text = "I would like a reply, please";
            auto posted = exchange(io, endpoint, telegram_webhook(host, channel, secret, m));
            if (posted.status != 200) {
                fmt::print(stderr, "set-up webhook answered {}: {}\n", posted.status, posted.body);
                return 1;
            }
            chats.insert(std::to_string(m.chat_id));
        }
        for (int attempt = 0; attempt < 100 && conversation_ids.size() < chats.size(); ++attempt) {
            conversation_ids.clear();
            auto list = exchange(
                io, endpoint,
                raw_request("GET", fmt::format("/api/v1/conversations?channel={}&limit=200", channel), host,
                            auth, ""));
            rapidjson::Document doc;
            doc.Parse(list.body.c_str());
            const char* key = doc.IsObject() && doc.HasMember("items") ? "items" : "data";
            if (!doc.HasParseError() && doc.IsObject() && doc.HasMember(key) && doc[key].IsArray()) {
                for (const auto& item : doc[key].GetArray()) {
                    auto text = [&](const char* name) -> std::string {
                        if (!item.HasMember(name)) return {};
                        const auto& v = item[name];
                        return v.IsString() ? v.GetString() : v.IsInt64() ? std::to_string(v.GetInt64()) : "";
                    };
                    std::string chat = text("platform_id");
                    // The peer names the customer (in a private chat, the chat's id) instead.
                    if (chat.empty() && item.HasMember("contact") && item["contact"].IsObject() &&
                        item["contact"].HasMember("platform_user_id") &&
                        item["contact"]["platform_user_id"].IsString())
                        chat = item["contact"]["platform_user_id"].GetString();
                    if (chats.count(chat)) conversation_ids.push_back(text("id"));
                }
            }
            if (conversation_ids.size() < chats.size())
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "set-up failed: {}\n", e.what());
        return 1;
    }
    if (conversation_ids.size() < static_cast<std::size_t>(conversations)) {
        fmt::print(stderr, "only {} of {} set-up webhooks became conversations within 5 s\n",
                   conversation_ids.size(), conversations);
        return 1;
    }

    const std::string run = std::to_string(fresh_id_base());
    auto result = run_load(io, options, [&](std::uint64_t n) {
        const std::string& conversation_id = conversation_ids[n % conversation_ids.size()];
        auto headers = auth;
        if (idempotency) headers.emplace_back("Idempotency-Key", fmt::format("bench-{}-{}", run, n));
        return raw_request(
            "POST", fmt::format("/api/v1/conversations/{}/messages", conversation_id), host, headers,
            fmt::format(R"({{"content":{{"type":"text","text":"Thanks for waiting, reply {}"}}}})", n));
    });
    print_load(fmt::format("outbound replies {} conversations={} idempotency-key={} agents={}", host,
                           conversation_ids.size(), idempotency ? "unique" : "none", options.connections)
                   .c_str(),
               result);
    const std::uint64_t created = result.status.count(201) ? result.status.at(201) : 0;
    fmt::print("  replies stored and sent (201)/s {:.1f}\n",
               static_cast<double>(created) / result.measured_s);
    return created > 0 ? 0 : 1;
}
