#include "support/fake_http_server.hpp"

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

namespace sb::test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

}  // namespace

struct FakeHttpServer::Impl {
    // Sockets need an io_context, but every call here is blocking: it is never run.
    net::io_context ioc;
    tcp::acceptor acceptor{ioc};
    std::uint16_t port = 0;
    std::thread accept_thread;

    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::vector<HttpRequest> requests;
    Handler handler;
    std::size_t connections = 0;
    std::size_t handshake_failures = 0;
    bool stopping = false;
    std::unique_ptr<ssl::context> tls;  // set: connections speak TLS
    std::string host = "127.0.0.1";
    std::set<int> open_sockets;  // native handles, so the destructor can unblock their reads
    std::vector<std::thread> connection_threads;

    void accept_loop() {
        for (;;) {
            tcp::socket socket(ioc);
            beast::error_code ec;
            acceptor.accept(socket, ec);
            std::lock_guard lock(mutex);
            if (stopping) return;
            if (ec) continue;  // e.g. EMFILE under load; the client will retry
            ++connections;
            open_sockets.insert(socket.native_handle());
            connection_threads.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
        }
    }

    void serve(tcp::socket socket) {
        const int fd = socket.native_handle();
        ssl::context* context = nullptr;
        {
            std::lock_guard lock(mutex);
            context = tls.get();
        }
        if (context == nullptr) {
            exchange(socket);
        } else {
            ssl::stream<tcp::socket&> stream(socket, *context);
            beast::error_code ec;
            stream.handshake(ssl::stream_base::server, ec);
            if (ec) {
                std::lock_guard lock(mutex);
                ++handshake_failures;
            } else {
                exchange(stream);
                stream.shutdown(ec);
            }
        }
        {
            // Unregister before closing, so the destructor never shuts down a reused fd.
            std::lock_guard lock(mutex);
            open_sockets.erase(fd);
        }
        beast::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
    }

    // Requests and answers on one connection until it closes.
    template <typename Stream>
    void exchange(Stream& socket) {
        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(64u << 20);
            beast::error_code ec;
            http::read(socket, buffer, parser, ec);
            if (ec) break;
            const auto& req = parser.get();
            HttpRequest recorded{
                .method = std::string(req.method_string()),
                .target = std::string(req.target()),
                .headers = {},
                .body = req.body(),
            };
            for (const auto& field : req)
                recorded.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));

            Handler current;
            {
                std::lock_guard lock(mutex);
                requests.push_back(recorded);
                current = handler;
            }
            changed.notify_all();

            HttpResponse answer;
            try {
                if (current) answer = current(recorded);
            } catch (const std::exception& e) {
                answer = HttpResponse{};
                answer.status = 500;
                answer.body = std::string("fake server handler threw: ") + e.what();
            }

            if (answer.fault == HttpResponse::Fault::raw) net::write(socket, net::buffer(answer.raw), ec);
            if (answer.fault == HttpResponse::Fault::reset) {
                // SO_LINGER 0: close(2) sends RST instead of FIN.
                beast::get_lowest_layer(socket).set_option(net::socket_base::linger(true, 0), ec);
                beast::get_lowest_layer(socket).close(ec);
            }
            if (answer.fault != HttpResponse::Fault::none) break;

            http::response<http::string_body> res;
            res.version(req.version());
            res.result(static_cast<unsigned>(answer.status));
            res.keep_alive(req.keep_alive());
            res.set(http::field::server, "sb-fake-platform");
            if (!answer.content_type.empty()) res.set(http::field::content_type, answer.content_type);
            for (const auto& [name, value] : answer.headers) res.set(name, value);
            res.body() = std::move(answer.body);
            res.prepare_payload();
            http::write(socket, res, ec);
            if (ec || !res.keep_alive()) break;
        }
    }
};

FakeHttpServer::FakeHttpServer(Tls tls) : FakeHttpServer() {
    auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
    context->use_certificate_chain(net::buffer(tls.cert_pem));
    context->use_private_key(net::buffer(tls.key_pem), ssl::context::pem);
    std::lock_guard lock(impl_->mutex);
    impl_->tls = std::move(context);
    impl_->host = tls.host;
}

FakeHttpServer::FakeHttpServer() : impl_(std::make_unique<Impl>()) {
    tcp::endpoint endpoint(net::ip::make_address_v4("127.0.0.1"), 0);
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.set_option(net::socket_base::reuse_address(true));
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen(net::socket_base::max_listen_connections);
    impl_->port = impl_->acceptor.local_endpoint().port();
    impl_->accept_thread = std::thread([this] { impl_->accept_loop(); });
}

FakeHttpServer::~FakeHttpServer() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
        // shutdown(2) on a listening socket wakes a thread blocked in accept(2) on Linux; on a
        // connection it wakes a blocked read. Closing from another thread would race.
        ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
        for (int fd : impl_->open_sockets) ::shutdown(fd, SHUT_RDWR);
    }
    impl_->accept_thread.join();
    // No new connection threads can appear now that the accept loop has returned.
    for (auto& thread : impl_->connection_threads) thread.join();
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
}

std::uint16_t FakeHttpServer::port() const { return impl_->port; }

std::string FakeHttpServer::base_url() const {
    std::lock_guard lock(impl_->mutex);
    return (impl_->tls ? "https://" : "http://") + impl_->host + ":" + std::to_string(impl_->port);
}

std::size_t FakeHttpServer::handshake_failures() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->handshake_failures;
}

void FakeHttpServer::set_handler(Handler handler) {
    std::lock_guard lock(impl_->mutex);
    impl_->handler = std::move(handler);
}

std::vector<HttpRequest> FakeHttpServer::requests() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->requests;
}

std::size_t FakeHttpServer::request_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->requests.size();
}

std::size_t FakeHttpServer::connection_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->connections;
}

bool FakeHttpServer::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->requests.size() >= n; });
}

std::optional<HttpRequest> FakeHttpServer::wait_for_request(
    const std::function<bool(const HttpRequest&)>& predicate, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    std::optional<HttpRequest> found;
    impl_->changed.wait_for(lock, timeout, [&] {
        for (const auto& request : impl_->requests) {
            if (predicate(request)) {
                found = request;
                return true;
            }
        }
        return false;
    });
    return found;
}

}  // namespace sb::test
