#pragma once
// switchboardctl's connection to a daemon: one synchronous HTTP request at a time, or one
// WebSocket read loop. A command-line tool does one thing and exits, so blocking calls on a
// private io_context are the simplest correct shape. Beast stays in api_client.cpp.

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sb::ctl {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
    int status = 0;
    std::string content_type;
    std::string retry_after;  // the Retry-After header of a 429/503, if any
    std::string body;
};

// The daemon could not be reached or did not speak HTTP (not an error status: those are
// answers and come back in HttpResponse).
class TransportError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class ApiClient {
public:
    // `base_url`: http://host:port or https://host:port, optionally with a path prefix (a
    // reverse proxy's mount point). `token` goes into `Authorization: Bearer` when not empty.
    // Throws std::invalid_argument when the URL is not one of those.
    ApiClient(const std::string& base_url, std::string token);
    ~ApiClient();
    ApiClient(const ApiClient&) = delete;
    ApiClient& operator=(const ApiClient&) = delete;

    // Sends one request to `target` (a path plus query, below the base URL). `body`, when set,
    // is sent as application/json unless `headers` name another Content-Type.
    HttpResponse request(const std::string& method, const std::string& target,
                         const std::optional<std::string>& body = std::nullopt, const Headers& headers = {},
                         bool authorize = true);

    // Opens a WebSocket to `target` (ws:// or wss:// matching the base URL) and calls `on_frame`
    // with each text frame until the server closes the connection (returns its close reason) or
    // `on_frame` returns false. Throws TransportError when the upgrade fails, with the server's
    // HTTP answer in the message.
    std::string stream(const std::string& target, const std::function<bool(const std::string&)>& on_frame);

    // The base URL as given, for messages.
    const std::string& base_url() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// Percent-encodes a query parameter value.
std::string url_encode(const std::string& value);

}  // namespace sb::ctl
