#pragma once
// A fake platform API (Telegram Bot API, Graph API, ...) on 127.0.0.1 and a port the kernel
// picks. It speaks real HTTP/1.1 over real sockets, keeps connections alive as the daemon's
// pooled client expects, records every request, and answers each from a handler the test
// programs. One thread per connection, so a handler may block (a long poll) without stalling
// the daemon's other requests.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_test_client.hpp"

namespace sb::test {

struct HttpRequest {
    std::string method;  // "POST"
    std::string target;  // "/bot123456:TEST/sendMessage?x=y", as sent
    HeaderList headers;
    std::string body;

    std::optional<std::string> header(std::string_view name) const { return header_value(headers, name); }
    // The target without its query string.
    std::string path() const { return target.substr(0, target.find('?')); }
};

struct HttpResponse {
    int status = 200;
    std::string body = R"({"ok":true,"result":true})";
    std::string content_type = "application/json";
    HeaderList headers;  // extra fields, e.g. Retry-After
    // How the answer goes out, for faults a real platform (or the network) produces after it
    // read the request: none = the response above; close = the connection closed, no answer;
    // reset = a TCP reset, no answer; raw = `raw` written as it is, then the connection closed.
    enum class Fault { none, close, reset, raw } fault = Fault::none;
    std::string raw;
};

class FakeHttpServer {
public:
    // Called on the connection's thread, possibly from several connections at once. An
    // exception becomes a 500.
    using Handler = std::function<HttpResponse(const HttpRequest&)>;

    // Listens before returning; answers every request with the default HttpResponse until a
    // handler is set.
    FakeHttpServer();
    // The same over TLS, presenting `cert_pem` (with its `key_pem`); base_url() then names
    // `host`, which must be what the certificate is for and resolve to 127.0.0.1.
    struct Tls {
        std::string cert_pem;
        std::string key_pem;
        std::string host = "localhost";
    };
    explicit FakeHttpServer(Tls tls);
    // Closes the listener and every connection, then joins their threads (a handler that
    // blocks delays this: keep handler waits bounded).
    ~FakeHttpServer();
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    std::uint16_t port() const;
    std::string base_url() const;  // "http://127.0.0.1:PORT" ("https://HOST:PORT" with TLS)

    void set_handler(Handler handler);

    std::vector<HttpRequest> requests() const;
    std::size_t request_count() const;
    // Connections accepted so far (a keep-alive client opens few).
    std::size_t connection_count() const;
    // TLS connections whose handshake failed (e.g. the client refused our certificate).
    std::size_t handshake_failures() const;
    // True once at least `n` requests were received within `timeout`.
    bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;
    // The first recorded request matching `predicate`, waiting up to `timeout` for one.
    std::optional<HttpRequest> wait_for_request(const std::function<bool(const HttpRequest&)>& predicate,
                                                std::chrono::milliseconds timeout) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sb::test
