#pragma once
// The HTTP/1.1 + WebSocket server (Boost.Beast). Its face has no Beast types: a request is an
// Exchange that a handler answers once, from any thread, whenever its work is done; an
// upgraded connection is a WsSession that takes shared, pre-serialized frames.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "identity/principal.hpp"

namespace boost::asio {
class io_context;
}

namespace sb::http {

// A body too large to hold, pulled a piece at a time as the connection takes it: the next
// piece is asked for only once the previous one is written, so at most one is in memory per
// connection, however slow the reader.
class BodySource {
public:
    virtual ~BodySource() = default;
    // Asks for the next bytes; `done` runs exactly once, on any thread, with at least one byte,
    // or with "" when the source failed (the connection is then closed: the client sees a
    // short body, never a wrong one). Never called again after the promised length.
    virtual void pull(std::function<void(std::string)> done) = 0;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    // Instead of `body`: `stream_length` bytes from `stream` (Content-Length is that length).
    std::shared_ptr<BodySource> stream;
    std::uint64_t stream_length = 0;
};

// {"error":{"code":…,"message":…}} with `status`; `extra` members (already-serialized JSON
// object members, e.g. "\"platform_code\":\"429\"") are added inside "error".
Response error_response(int status, std::string_view code, std::string_view message,
                        std::string_view extra = {});
Response json_response(int status, std::string body);

// One request, answered exactly once with respond() (thread-safe; later calls are ignored).
class Exchange {
public:
    virtual ~Exchange() = default;
    virtual std::string_view method() const = 0;
    virtual std::string_view target() const = 0;                                // path + query, as received
    virtual std::string_view path() const = 0;                                  // without the query
    virtual std::optional<std::string> query(std::string_view name) const = 0;  // percent-decoded
    virtual std::optional<std::string_view> header(std::string_view name) const = 0;
    virtual std::vector<std::pair<std::string_view, std::string_view>> headers() const = 0;
    virtual const std::string& body() const = 0;
    virtual std::string take_body() = 0;
    // An upload's body (ServerOptions::upload_paths), written to this file as it arrived instead
    // of held in body(), which is then empty; the file is removed with the exchange. nullopt for
    // every other request, and for uploads when the server has no upload_spool_dir.
    // (A default, so that an exchange held in memory, a test's, needs nothing; a wrapper around
    // another exchange must forward it.)
    virtual std::optional<std::filesystem::path> body_file() const { return std::nullopt; }
    // The peer's IP address ("127.0.0.1", "::1"), for limits and logs; "" when unknown.
    virtual std::string_view remote_address() const = 0;
    virtual void respond(Response response) = 0;
};

// An accepted WebSocket connection.
class WsSession {
public:
    virtual ~WsSession() = default;
    virtual std::uint64_t id() const = 0;
    // Queues a text frame. Returns false when the session is closed or its outgoing queue is
    // full; a full queue closes the session (1008, "slow consumer: resume from your last seq").
    virtual bool send(std::shared_ptr<const std::string> frame) = 0;
    virtual void close(std::uint16_t code, std::string reason) = 0;
    // Frames queued and not yet written, and the most the queue may hold.
    virtual std::size_t queued() const = 0;
    virtual std::size_t queue_limit() const = 0;
    virtual bool is_closed() const = 0;
    // Runs `resume` once, on the session's own executor, when its queue has drained to a
    // quarter of the limit (at once if it already has); dropped if the session closes first.
    // A producer with much to send (a replay) pauses on this instead of blocking its thread.
    virtual void when_drained(std::function<void()> resume) = 0;
};

// What an accepted upgrade carries to on_open: who opened the socket and the event sequence
// number it asked to resume after (?after_seq=).
struct WsGrant {
    std::shared_ptr<const identity::Principal> principal;
    std::optional<std::int64_t> after_seq;
};

struct WsHandlers {
    // Decides on an upgrade request. nullopt = accept (with `grant` filled in); a Response =
    // refuse with it.
    std::function<std::optional<Response>(Exchange& upgrade, WsGrant& grant)> authorize;
    std::function<void(const std::shared_ptr<WsSession>&, WsGrant grant)> on_open;
    std::function<void(const std::shared_ptr<WsSession>&, std::string_view text)> on_message;
    std::function<void(const std::shared_ptr<WsSession>&)> on_close;
};

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    std::size_t webhook_body_limit = 8u << 20;  // paths under /webhooks/
    std::size_t api_body_limit = 1u << 20;      // everything else
    std::size_t upload_body_limit = 25u << 20;  // POST to an upload path (media.upload_limit)
    std::vector<std::string> upload_paths = {"/api/v1/uploads"};
    // Where an upload's body is spooled as it arrives (Exchange::body_file), so that a file is
    // never held whole in memory; empty = held in memory like any other body. Files over an hour
    // old (left by a process that died) are removed when the server starts listening.
    std::filesystem::path upload_spool_dir;
    int header_timeout_ms = 10'000;
    int body_timeout_ms = 30'000;
    int idle_timeout_ms = 60'000;
    std::string ws_path = "/api/v1/ws";
    std::size_t ws_queue_limit = 4096;  // frames queued per WebSocket session
    int ws_ping_interval_ms = 25'000;   // a ping after this much silence; closed after twice it
    // Connections (HTTP and WebSocket) open at once, before any authentication; one more is
    // answered 503 and closed. 0 = the open-file limit less kReservedDescriptors. Per address:
    // 0 = no limit of its own (behind a reverse proxy every connection has its address).
    std::size_t max_connections = 0;
    std::size_t max_connections_per_address = 0;
    // Webhook bodies (unauthenticated until the handler verifies them) held in memory at once,
    // across all connections: each request reserves its Content-Length (chunked: the whole
    // webhook_body_limit) before its body is read, until its exchange is gone; one that would
    // go over is answered 503 with Retry-After. 0 = no limit.
    std::size_t webhook_memory_limit = 256u << 20;
};

// Descriptors kept for the store, plugins, outbound requests and the listener itself when the
// connection limit is derived from the open-file limit.
inline constexpr std::size_t kReservedDescriptors = 256;

class Server {
public:
    using Handler = std::function<void(std::shared_ptr<Exchange>)>;

    Server(boost::asio::io_context& io, ServerOptions options, Handler handler, WsHandlers ws);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and starts accepting; throws std::system_error naming the address on failure.
    void listen();
    std::uint16_t port() const;
    // Requests read and not yet answered.
    std::size_t in_flight() const;
    // Stops accepting new connections (open ones finish what they are doing).
    void stop_accepting();

    struct Impl;  // opaque; public so the implementation's session types can name it

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace sb::http
