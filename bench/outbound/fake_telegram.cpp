// sb-bench-fake-telegram: an instant Telegram Bot API for the outbound benchmark. Every
// request (sendMessage or any other method) is answered at once with a successful Message,
// echoing the chat id of the request, on keep-alive connections served by --threads threads.

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <ctime>
#include <memory>
#include <thread>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

std::atomic<std::int64_t> g_message_id{1000};
std::atomic<std::uint64_t> g_requests{0};

// The value of "chat_id" in a JSON or form body, digits (and a sign) only; "1" when absent.
std::string chat_id_of(std::string_view body) {
    auto pos = body.find("chat_id");
    if (pos == std::string_view::npos) return "1";
    pos += 7;
    while (pos < body.size() &&
           (body[pos] == '"' || body[pos] == ':' || body[pos] == '=' || body[pos] == ' '))
        ++pos;
    auto end = pos;
    while (end < body.size() && (std::isdigit(static_cast<unsigned char>(body[end])) || body[end] == '-'))
        ++end;
    return end > pos ? std::string(body.substr(pos, end - pos)) : std::string("1");
}

class Session : public std::enable_shared_from_this<Session> {
public:
    explicit Session(tcp::socket socket) : stream_(std::move(socket)) {}

    void do_read() {
        request_ = {};
        http::async_read(stream_, buffer_, request_,
                         beast::bind_front_handler(&Session::on_read, shared_from_this()));
    }

private:
    void on_read(beast::error_code ec, std::size_t) {
        if (ec) return;
        ++g_requests;
        response_ = {};
        response_.version(request_.version());
        response_.result(http::status::ok);
        response_.set(http::field::content_type, "application/json");
        response_.keep_alive(request_.keep_alive());
        response_.body() =
            fmt::format(R"({{"ok":true,"result":{{"message_id":{},)"
                        R"("from":{{"id":123456,"is_bot":true,"first_name":"Bench"}},)"
                        R"("chat":{{"id":{},"type":"private"}},"date":{}}}}})",
                        g_message_id++, chat_id_of(request_.body()), static_cast<long>(std::time(nullptr)));
        response_.prepare_payload();
        http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec || !self->response_.keep_alive()) return;
            self->do_read();
        });
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> request_;
    http::response<http::string_body> response_;
};

class Listener : public std::enable_shared_from_this<Listener> {
public:
    Listener(net::io_context& io, tcp::endpoint endpoint) : io_(io), acceptor_(io) {
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen(net::socket_base::max_listen_connections);
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    void do_accept() {
        acceptor_.async_accept(net::make_strand(io_),
                               [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
                                   if (!ec) {
                                       s.set_option(tcp::no_delay(true), ec);
                                       std::make_shared<Session>(std::move(s))->do_read();
                                   }
                                   self->do_accept();
                               });
    }

private:
    net::io_context& io_;
    tcp::acceptor acceptor_;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"An instant fake Telegram Bot API: every method succeeds at once"};
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    int threads = 1;
    app.add_option("--host", host, "address to listen on");
    app.add_option("--port", port, "port; 0 picks one (printed on stdout)");
    app.add_option("--threads", threads, "I/O threads")->check(CLI::Range(1, 64));
    CLI11_PARSE(app, argc, argv);

    net::io_context io(threads);
    auto listener = std::make_shared<Listener>(io, tcp::endpoint(net::ip::make_address(host), port));
    listener->do_accept();
    fmt::print("listening on http://{}:{}\n", host, listener->port());
    std::fflush(stdout);
    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) {
        fmt::print("answered {} requests\n", g_requests.load());
        std::fflush(stdout);
        io.stop();
    });
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();
    return 0;
}
