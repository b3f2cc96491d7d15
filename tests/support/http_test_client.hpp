#pragma once
// Clients a test uses to play the agent (and the platform posting webhooks): a synchronous
// HTTP/1.1 client, a raw-bytes mode for malformed requests, and a WebSocket client. All talk
// to 127.0.0.1 only, and every call has a deadline so a hung daemon fails a test instead of
// hanging it. Beast stays in the .cpp.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::test {

// HTTP header fields in the order they were sent; names keep their spelling.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Value of the first field named `name` (case-insensitive); nullopt when absent.
std::optional<std::string> header_value(const HeaderList& headers, std::string_view name);

struct HttpResult {
    int status = 0;  // 0 = no response; `error` says why
    HeaderList headers;
    std::string body;
    std::string error;  // transport failure (refused, reset, timeout), "" otherwise

    std::optional<std::string> header(std::string_view name) const { return header_value(headers, name); }
};

// One request per connection: a test sees exactly what one request did, with no retry on a
// stale keep-alive connection to blur it. Safe to use one client from one thread at a time;
// make one per thread for concurrent posting.
class HttpClient {
public:
    // `default_headers` go on every request (e.g. Authorization); per-call ones are added.
    explicit HttpClient(std::uint16_t port, HeaderList default_headers = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    HttpResult request(std::string_view method, std::string_view target, std::string_view body = {},
                       const HeaderList& headers = {});
    HttpResult get(std::string_view target, const HeaderList& headers = {}) {
        return request("GET", target, {}, headers);
    }
    // POST with Content-Type: application/json unless `headers` names another.
    HttpResult post_json(std::string_view target, std::string_view body, const HeaderList& headers = {});

    // Writes `bytes` as they are on a fresh connection, then returns everything the server sent
    // until it closed the connection or the timeout passed (then whatever had arrived).
    std::string raw(std::string_view bytes);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// An agent's WebSocket connection. Frames are read in the background of the calls below (no
// thread of its own: the io_context runs only inside them), so a frame that arrives while the
// test does something else waits in a queue.
class WebSocketClient {
public:
    WebSocketClient();
    ~WebSocketClient();
    WebSocketClient(const WebSocketClient&) = delete;
    WebSocketClient& operator=(const WebSocketClient&) = delete;

    // Opens a connection and asks for the upgrade on GET `target` (e.g. "/api/v1/ws" or
    // "/api/v1/ws?access_token=..."). Returns the server's answer: status 101 when connected;
    // a refusal's status, headers and body otherwise (then connected() is false); status 0
    // with `error` on a transport failure.
    HttpResult connect(std::uint16_t port, std::string_view target, const HeaderList& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
    bool connected() const;
    // True once the server closed the connection or it failed; the reason is in close_reason().
    bool closed() const;
    std::string close_reason() const;

    // Next text or binary frame, waiting at most `timeout`; nullopt on timeout or close.
    std::optional<std::string> read_frame(std::chrono::milliseconds timeout);
    // True when no frame arrives within `window`. A frame that does arrive stays queued.
    bool no_frame_within(std::chrono::milliseconds window);
    // Sends one text frame; false if it could not be written within the timeout.
    bool send_text(std::string_view text, std::chrono::milliseconds timeout = std::chrono::seconds(5));
    // Closes the TCP connection without a close handshake (what a vanished client does).
    void drop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sb::test
