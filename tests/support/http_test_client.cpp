#include "support/http_test_client.hpp"

#include <strings.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>

namespace sb::test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

tcp::endpoint loopback(std::uint16_t port) { return {net::ip::make_address_v4("127.0.0.1"), port}; }

std::string host_field(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// Starts one asynchronous operation and runs the io_context until it completes. The stream's
// own deadline (tcp_stream::expires_at) bounds it, so this cannot hang.
template <typename Start>
beast::error_code run_one_op(net::io_context& ioc, Start&& start) {
    beast::error_code result;
    bool done = false;
    start([&](beast::error_code ec, auto&&...) {
        result = ec;
        done = true;
    });
    ioc.restart();
    while (!done && ioc.run_one() > 0) {
    }
    return result;
}

template <typename Fields>
HeaderList to_header_list(const Fields& fields) {
    HeaderList out;
    for (const auto& field : fields)
        out.emplace_back(std::string(field.name_string()), std::string(field.value()));
    return out;
}

}  // namespace

std::optional<std::string> header_value(const HeaderList& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (key.size() == name.size() && ::strncasecmp(key.data(), name.data(), name.size()) == 0)
            return value;
    }
    return std::nullopt;
}

struct HttpClient::Impl {
    std::uint16_t port;
    HeaderList default_headers;
    std::chrono::milliseconds timeout;
};

HttpClient::HttpClient(std::uint16_t port, HeaderList default_headers, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(Impl{port, std::move(default_headers), timeout})) {}

HttpClient::~HttpClient() = default;

HttpResult HttpClient::request(std::string_view method, std::string_view target, std::string_view body,
                               const HeaderList& headers) {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    const auto deadline = Clock::now() + impl_->timeout;
    HttpResult result;
    auto failed = [&](std::string_view step, beast::error_code ec) {
        result.error = std::string(step) + ": " + ec.message();
        return result;
    };

    stream.expires_at(deadline);
    if (auto ec =
            run_one_op(ioc, [&](auto handler) { stream.async_connect(loopback(impl_->port), handler); }))
        return failed("connect", ec);

    http::request<http::string_body> req;
    req.method_string(beast::string_view(method.data(), method.size()));
    req.target(beast::string_view(target.data(), target.size()));
    req.version(11);
    req.set(http::field::host, host_field(impl_->port));
    req.set(http::field::user_agent, "sb-integration-test");
    // Per-call headers replace default ones of the same name.
    for (const auto& [name, value] : impl_->default_headers) req.set(name, value);
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = std::string(body);
    req.prepare_payload();

    // Read while writing: a server may answer early (413 after the header) and close without
    // reading the rest of the body, which would fail a write-then-read client.
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    beast::error_code write_ec;
    beast::error_code read_ec;
    bool read_done = false;
    stream.expires_at(deadline);
    http::async_write(stream, req, [&](beast::error_code ec, std::size_t) { write_ec = ec; });
    http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
        read_ec = ec;
        read_done = true;
    });
    ioc.restart();
    while (!read_done && ioc.run_one() > 0) {
    }
    // The write may still be pending if the server answered before reading everything; end
    // it here so no handler outlives this frame.
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
    ioc.run();
    if (read_ec) return failed(write_ec ? "write" : "read", write_ec ? write_ec : read_ec);

    const auto& res = parser.get();
    result.status = static_cast<int>(res.result_int());
    result.headers = to_header_list(res.base());
    result.body = res.body();
    return result;
}

HttpResult HttpClient::post_json(std::string_view target, std::string_view body, const HeaderList& headers) {
    HeaderList all{{"Content-Type", "application/json"}};
    all.insert(all.end(), headers.begin(), headers.end());
    return request("POST", target, body, all);
}

std::string HttpClient::raw(std::string_view bytes) {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    const auto deadline = Clock::now() + impl_->timeout;
    stream.expires_at(deadline);
    if (run_one_op(ioc, [&](auto handler) { stream.async_connect(loopback(impl_->port), handler); }))
        return {};
    stream.expires_at(deadline);
    // A server may answer and close before it read everything; keep what it sent anyway.
    run_one_op(ioc, [&](auto handler) {
        net::async_write(stream, net::buffer(bytes.data(), bytes.size()), handler);
    });

    std::string received;
    char chunk[4096];
    for (;;) {
        std::size_t n = 0;
        stream.expires_at(deadline);
        beast::error_code ec = run_one_op(ioc, [&](auto handler) {
            stream.async_read_some(net::buffer(chunk),
                                   [&n, handler](beast::error_code e, std::size_t got) mutable {
                                       n = got;
                                       handler(e);
                                   });
        });
        received.append(chunk, n);
        if (ec) break;
    }
    return received;
}

struct WebSocketClient::Impl {
    net::io_context ioc;
    websocket::stream<beast::tcp_stream> ws{ioc};
    beast::flat_buffer buffer;
    std::deque<std::string> frames;
    bool connected = false;
    bool closed = false;
    std::string close_reason;

    void do_read() {
        ws.async_read(buffer, [this](beast::error_code ec, std::size_t) { on_read(ec); });
    }

    void on_read(beast::error_code ec) {
        if (ec) {
            closed = true;
            if (ec == websocket::error::closed)
                close_reason = "closed by server (code " + std::to_string(ws.reason().code) +
                               "): " + std::string(ws.reason().reason.c_str());
            else
                close_reason = ec.message();
            return;
        }
        frames.push_back(beast::buffers_to_string(buffer.data()));
        buffer.consume(buffer.size());
        do_read();
    }

    // Runs completion handlers until `done()` holds, the deadline passes, or nothing is left
    // to wait for.
    template <typename Done>
    void run_until(Done done, Clock::time_point deadline) {
        while (!done()) {
            if (ioc.stopped()) ioc.restart();
            if (ioc.run_one_until(deadline) == 0) break;
        }
    }
};

WebSocketClient::WebSocketClient() : impl_(std::make_unique<Impl>()) {}

WebSocketClient::~WebSocketClient() { drop(); }

HttpResult WebSocketClient::connect(std::uint16_t port, std::string_view target, const HeaderList& headers,
                                    std::chrono::milliseconds timeout) {
    auto& ws = impl_->ws;
    HttpResult result;
    const auto deadline = Clock::now() + timeout;
    beast::get_lowest_layer(ws).expires_at(deadline);
    if (auto ec = run_one_op(impl_->ioc, [&](auto handler) {
            beast::get_lowest_layer(ws).async_connect(loopback(port), handler);
        })) {
        result.error = "connect: " + ec.message();
        return result;
    }

    ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
        req.set(http::field::user_agent, "sb-integration-test");
        for (const auto& [name, value] : headers) req.set(name, value);
    }));
    websocket::response_type res;
    beast::get_lowest_layer(ws).expires_at(deadline);
    beast::error_code ec = run_one_op(impl_->ioc, [&](auto handler) {
        ws.async_handshake(res, host_field(port), beast::string_view(target.data(), target.size()), handler);
    });
    // A refused upgrade still carries the server's answer (status, headers, body).
    result.status = static_cast<int>(res.result_int());
    result.headers = to_header_list(res.base());
    result.body = res.body();
    if (ec) {
        if (ec != websocket::error::upgrade_declined || result.status == 0)
            result.error = "handshake: " + ec.message();
        beast::error_code ignored;
        beast::get_lowest_layer(ws).socket().close(ignored);
        return result;
    }
    // From here the WebSocket layer owns timeouts; each read below has its own deadline.
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    impl_->connected = true;
    impl_->do_read();
    return result;
}

bool WebSocketClient::connected() const { return impl_->connected && !impl_->closed; }

bool WebSocketClient::closed() const { return impl_->closed; }

std::string WebSocketClient::close_reason() const { return impl_->close_reason; }

std::optional<std::string> WebSocketClient::read_frame(std::chrono::milliseconds timeout) {
    impl_->run_until([&] { return !impl_->frames.empty() || impl_->closed; }, Clock::now() + timeout);
    if (impl_->frames.empty()) return std::nullopt;
    std::string frame = std::move(impl_->frames.front());
    impl_->frames.pop_front();
    return frame;
}

bool WebSocketClient::no_frame_within(std::chrono::milliseconds window) {
    const auto deadline = Clock::now() + window;
    impl_->run_until([&] { return !impl_->frames.empty() || Clock::now() >= deadline; }, deadline);
    return impl_->frames.empty();
}

bool WebSocketClient::send_text(std::string_view text, std::chrono::milliseconds timeout) {
    if (!connected()) return false;
    bool done = false;
    beast::error_code result;
    impl_->ws.text(true);
    impl_->ws.async_write(net::buffer(text.data(), text.size()), [&](beast::error_code ec, std::size_t) {
        result = ec;
        done = true;
    });
    impl_->run_until([&] { return done; }, Clock::now() + timeout);
    // A write still pending must not outlive `done` and `result`: abort it now.
    if (!done) drop();
    return done && !result;
}

void WebSocketClient::drop() {
    beast::error_code ignored;
    beast::get_lowest_layer(impl_->ws).socket().close(ignored);
    // Let the pending read finish (operation_aborted) so no handler outlives this object.
    impl_->ioc.restart();
    impl_->ioc.poll();
    impl_->connected = false;
}

}  // namespace sb::test
