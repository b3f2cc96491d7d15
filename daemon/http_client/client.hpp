#pragma once
// The daemon's own HTTP client for platform APIs: asynchronous, TLS-capable (system CA
// store, SNI, host name verification), with a keep-alive connection pool per origin and a
// per-request timeout. Plugins describe requests; this is what sends them.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace sb::http_client {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
    std::string method = "POST";
    std::string url;  // absolute http:// or https:// URL
    Headers headers;
    std::string body;
    int timeout_ms = 0;  // 0 = the client's default
};

struct Response {
    int status = 0;  // 0 = no HTTP response (see transport_error)
    Headers headers;
    std::string body;
    std::string transport_error;
    // With a transport error: false when the request certainly never reached the server
    // (resolve, connect or TLS handshake failed, or nothing of it could be written), true when
    // it may have (it was written, then the connection failed, closed or timed out before a
    // whole response arrived). A request that may have arrived must not be sent again blindly.
    bool maybe_delivered = false;
};

// What download() did: a 2xx answer's body is in the file; any other's (up to 64 KiB) is in
// `body` and the file is left empty.
struct DownloadResult {
    int status = 0;  // 0 = no HTTP response (see transport_error)
    Headers headers;
    std::string body;  // non-2xx only
    std::string transport_error;
    bool too_large = false;   // the body went over max_bytes (the file holds a part: discard it)
    std::uint64_t bytes = 0;  // written to the file
};

struct Options {
    int default_timeout_ms = 10'000;
    int max_idle_per_origin = 64;
    // PEM file of certificates trusted besides the system's (a private CA, a TLS-inspecting
    // proxy, tests); "" = the system's only.
    std::string ca_file;
};

class Client {
public:
    Client(boost::asio::io_context& io, Options options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Sends `request`; `done` runs exactly once, on an I/O thread, with the response or a
    // transport error. A pooled keep-alive connection is checked before reuse (one the server
    // closed meanwhile is dropped); a request whose write to a reused connection fails at once
    // because the server had reset it is sent once more on a fresh connection. Nothing that
    // may have reached the server is ever sent again here.
    void send(Request request, std::function<void(Response)> done);
    // Sends `request` and streams a 2xx answer's body into the file at `path` (created or
    // truncated) as it arrives, never holding it whole: at most `max_bytes` (a larger
    // Content-Length, or more bytes, stop it with too_large). `request.timeout_ms` bounds each
    // read and write, not the whole transfer. Never retried here.
    void download(Request request, std::string path, std::uint64_t max_bytes,
                  std::function<void(DownloadResult)> done);

    struct Impl;  // opaque; public so the implementation's request type can name it

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace sb::http_client
