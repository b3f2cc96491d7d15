#include "http/server.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>

#include "metrics/metrics.hpp"
#include "util/random.hpp"
#include "util/time.hpp"

namespace sb::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

Response error_response(int status, std::string_view code, std::string_view message, std::string_view extra) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("error");
    w.StartObject();
    w.Key("code");
    w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
    w.Key("message");
    w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
    w.EndObject();
    w.EndObject();
    std::string body(buffer.GetString(), buffer.GetSize());
    if (!extra.empty()) body.insert(body.size() - 2, std::string(",") + std::string(extra));
    return json_response(status, std::move(body));
}

Response json_response(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

namespace {

// Expected endings of a connection: not worth a log line.
bool is_quiet(beast::error_code ec) {
    return ec == net::error::operation_aborted || ec == bhttp::error::end_of_stream ||
           ec == net::error::eof || ec == net::error::connection_reset || ec == beast::error::timeout ||
           ec == websocket::error::closed || ec == net::error::broken_pipe || ec == net::error::not_connected;
}

void fail(beast::error_code ec, const char* where) {
    if (is_quiet(ec)) return;
    spdlog::debug("http {} error=\"{}\"", where, ec.message());
}

}  // namespace

class ConnectionSlot;

namespace {

// An upload's body on disk (ServerOptions::upload_spool_dir), removed when the last holder (the
// session while it reads, then the exchange) lets it go, whether or not the request completed.
struct SpooledFile {
    explicit SpooledFile(std::filesystem::path p) : path(std::move(p)) {}
    ~SpooledFile() {
        std::error_code ec;
        std::filesystem::remove(path, ec);
    }
    SpooledFile(const SpooledFile&) = delete;
    SpooledFile& operator=(const SpooledFile&) = delete;
    std::filesystem::path path;
};

// server.max_connections 0: what the open-file limit leaves after the reserve.
std::size_t connection_limit(std::size_t configured) {
    if (configured != 0) return configured;
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == RLIM_INFINITY) return 100'000;
    return files.rlim_cur > 2 * kReservedDescriptors ? files.rlim_cur - kReservedDescriptors
                                                     : files.rlim_cur / 2;
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
    Impl(net::io_context& io, ServerOptions o, Handler h, WsHandlers w)
        : io(io),
          options(std::move(o)),
          handler(std::move(h)),
          ws(std::move(w)),
          acceptor(net::make_strand(io)),
          max_connections(connection_limit(options.max_connections)),
          spare_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}
    ~Impl() {
        if (spare_fd >= 0) ::close(spare_fd);
    }

    void do_accept();
    void on_accept(beast::error_code ec, tcp::socket socket);

    // Takes a connection slot for `address`; nullptr (and the reason) when a limit is reached.
    std::unique_ptr<ConnectionSlot> admit(const net::ip::address& address, const char*& refused);
    void release(const net::ip::address& address);
    // Out of descriptors: drops the spare one, takes the waiting connection off the backlog
    // and answers it 503, then takes the spare again, so the listener never spins on EMFILE.
    void shed_one();

    net::io_context& io;
    ServerOptions options;
    Handler handler;
    WsHandlers ws;
    tcp::acceptor acceptor;
    std::atomic<std::uint64_t> next_ws_id{1};
    std::atomic<bool> accepting{true};
    std::atomic<std::size_t> in_flight{0};
    std::atomic<std::size_t> webhook_bytes{0};  // reserved by webhook bodies being read or handled

    std::size_t max_connections = 0;  // resolved from options at construction
    std::mutex connections_mutex;
    std::size_t connections = 0;
    std::unordered_map<net::ip::address, std::size_t> per_address;  // only with a per-address limit
    std::int64_t refused_logged_ms = 0;
    int spare_fd = -1;  // /dev/null, given up to accept one connection when out of descriptors
};

// One admitted connection; released when the session (HTTP, then WebSocket) ends.
class ConnectionSlot {
public:
    ConnectionSlot(std::shared_ptr<Server::Impl> server, net::ip::address address)
        : server_(std::move(server)), address_(address) {}
    ~ConnectionSlot() { server_->release(address_); }
    ConnectionSlot(const ConnectionSlot&) = delete;
    ConnectionSlot& operator=(const ConnectionSlot&) = delete;

private:
    std::shared_ptr<Server::Impl> server_;
    net::ip::address address_;
};

namespace {

constexpr std::string_view kBusy =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
    "Retry-After: 1\r\nContent-Length: 79\r\n\r\n"
    "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"too many open connections\"}}";

// A refused connection gets its 503 without waiting: one non-blocking write, then closed.
void refuse_now(tcp::socket& socket) {
    beast::error_code ec;
    socket.non_blocking(true, ec);
    socket.write_some(net::buffer(kBusy.data(), kBusy.size()), ec);
    socket.close(ec);
}

}  // namespace

namespace {

using Request = bhttp::request<bhttp::string_body>;

class HttpSession;

// A session's outgoing frames, oldest first. Holds no memory while empty (a std::deque keeps a
// map and a 512-byte node even then, per idle session).
class FrameQueue {
public:
    using Frame = std::shared_ptr<const std::string>;
    std::size_t size() const { return items_.size() - head_; }
    bool empty() const { return size() == 0; }
    const Frame& front() const { return items_[head_]; }
    void push_back(Frame frame) { items_.push_back(std::move(frame)); }
    void pop_front() {
        items_[head_++].reset();
        if (head_ == items_.size()) clear();
    }
    void pop_back() {
        items_.pop_back();
        if (head_ == items_.size()) clear();
    }
    void clear() {
        std::vector<Frame>().swap(items_);
        head_ = 0;
    }

private:
    std::vector<Frame> items_;
    std::size_t head_ = 0;
};

// What an idle session's pending read may hold: client frames are small (resume, ping), and a
// larger message is read on in steps of this size.
constexpr std::size_t kWsReadChunk = 256;

class WsSessionImpl : public WsSession, public std::enable_shared_from_this<WsSessionImpl> {
public:
    WsSessionImpl(beast::tcp_stream&& stream, std::shared_ptr<Server::Impl> server, WsGrant grant,
                  std::unique_ptr<ConnectionSlot> slot)
        : ws_(std::move(stream)),
          server_(std::move(server)),
          grant_(std::move(grant)),
          slot_(std::move(slot)),
          id_(server_->next_ws_id++) {}

    std::uint64_t id() const override { return id_; }
    std::size_t queued() const override { return queued_.load(std::memory_order_relaxed); }
    std::size_t queue_limit() const override { return server_->options.ws_queue_limit; }
    bool is_closed() const override { return closed_.load(std::memory_order_relaxed); }

    bool send(std::shared_ptr<const std::string> frame) override {
        if (closed_.load(std::memory_order_relaxed)) return false;
        if (queued_.fetch_add(1, std::memory_order_relaxed) >= server_->options.ws_queue_limit) {
            queued_.fetch_sub(1, std::memory_order_relaxed);
            close(1008, "slow consumer: reconnect and resume from your last seq");
            return false;
        }
        net::post(ws_.get_executor(), [self = shared_from_this(), frame = std::move(frame)]() mutable {
            self->enqueue(std::move(frame));
        });
        return true;
    }

    void when_drained(std::function<void()> resume) override {
        net::post(ws_.get_executor(), [self = shared_from_this(), resume = std::move(resume)]() mutable {
            if (self->closing_ || self->closed_.load(std::memory_order_relaxed)) return;
            if (self->drained()) return resume();
            self->on_drained_ = std::move(resume);
        });
    }

    void close(std::uint16_t code, std::string reason) override {
        if (closed_.exchange(true)) return;
        net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
            self->closing_ = true;
            self->on_drained_ = nullptr;
            // Drop what is queued, but not the frame being written: its bytes are in flight.
            while (self->queue_.size() > (self->writing_ ? 1u : 0u)) {
                self->queue_.pop_back();
                self->queued_.fetch_sub(1, std::memory_order_relaxed);
            }
            if (self->writing_) {
                // Close after the frame in flight; a close frame may not overlap a write.
                self->close_code_ = code;
                self->close_reason_ = reason;
                return;
            }
            self->do_close(code, reason);
        });
    }

    void run(Request request) {
        // Beast pings once half the idle timeout passed in silence and closes the session when
        // the whole timeout passes without a pong or any other frame.
        ws_.set_option(websocket::stream_base::timeout{
            std::chrono::seconds(30), std::chrono::milliseconds(2 * server_->options.ws_ping_interval_ms),
            true});
        ws_.set_option(websocket::stream_base::decorator(
            [](websocket::response_type& res) { res.set(bhttp::field::server, "switchboard"); }));
        ws_.read_message_max(64 * 1024);
        request_ = std::move(request);
        ws_.async_accept(request_, beast::bind_front_handler(&WsSessionImpl::on_accept, shared_from_this()));
    }

private:
    void on_accept(beast::error_code ec) {
        request_ = {};
        if (ec) return fail(ec, "ws accept");
        open_ = true;
        if (server_->ws.on_open) server_->ws.on_open(shared_from_this(), std::move(grant_));
        do_read();
    }

    // read_some with a small limit, not read: Beast's whole-message read prepares 1.5 KiB of
    // buffer the moment it starts, and an idle session spends its life in that read.
    void do_read() {
        ws_.async_read_some(buffer_, kWsReadChunk,
                            beast::bind_front_handler(&WsSessionImpl::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec) {
            fail(ec, "ws read");
            return finish();
        }
        if (!ws_.is_message_done()) return do_read();  // read_message_max bounds the total
        if (server_->ws.on_message && ws_.got_text()) {
            auto data = buffer_.cdata();
            server_->ws.on_message(shared_from_this(),
                                   std::string_view(static_cast<const char*>(data.data()), data.size()));
        }
        buffer_.consume(buffer_.size());
        // Give the buffer's memory back between messages: idle sessions must stay small.
        buffer_.shrink_to_fit();
        do_read();
    }

    void enqueue(std::shared_ptr<const std::string> frame) {
        if (closing_) {
            queued_.fetch_sub(1, std::memory_order_relaxed);
            return;
        }
        queue_.push_back(std::move(frame));
        if (!writing_) do_write();
    }

    void do_write() {
        writing_ = true;
        ws_.text(true);
        ws_.async_write(net::buffer(*queue_.front()),
                        beast::bind_front_handler(&WsSessionImpl::on_write, shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t) {
        writing_ = false;
        queued_.fetch_sub(1, std::memory_order_relaxed);
        if (ec) {
            fail(ec, "ws write");
            queue_.clear();
            return;
        }
        if (!queue_.empty()) queue_.pop_front();
        if (closing_) {
            if (close_code_ != 0) do_close(close_code_, close_reason_);
            return;
        }
        if (!queue_.empty()) do_write();
        if (on_drained_ && drained()) std::exchange(on_drained_, nullptr)();
    }

    bool drained() const {
        return queued_.load(std::memory_order_relaxed) <= server_->options.ws_queue_limit / 4;
    }

    void do_close(std::uint16_t code, const std::string& reason) {
        close_code_ = 0;
        ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason),
                        [self = shared_from_this()](beast::error_code ec) { fail(ec, "ws close"); });
    }

    void finish() {
        closed_ = true;
        on_drained_ = nullptr;
        if (open_ && server_->ws.on_close) server_->ws.on_close(shared_from_this());
        open_ = false;
    }

    websocket::stream<beast::tcp_stream> ws_;
    beast::flat_buffer buffer_;
    std::shared_ptr<Server::Impl> server_;
    WsGrant grant_;  // handed to on_open, then empty
    std::unique_ptr<ConnectionSlot> slot_;
    Request request_;
    std::uint64_t id_;
    FrameQueue queue_;
    std::atomic<std::size_t> queued_{0};
    std::atomic<bool> closed_{false};
    bool writing_ = false;
    bool closing_ = false;
    bool open_ = false;
    std::uint16_t close_code_ = 0;
    std::string close_reason_;
    std::function<void()> on_drained_;  // a paused producer's continuation (when_drained)
};

class ExchangeImpl;

// A body of `length` bytes of an open file from `offset`, read 64 KiB at a time as the
// serializer asks for them (single-range responses of GET /api/v1/media/{id}).
class HttpSession : public std::enable_shared_from_this<HttpSession> {
public:
    HttpSession(tcp::socket&& socket, std::shared_ptr<Server::Impl> server,
                std::unique_ptr<ConnectionSlot> slot)
        : stream_(std::move(socket)), server_(std::move(server)), slot_(std::move(slot)) {}

    void run() {
        net::dispatch(stream_.get_executor(),
                      beast::bind_front_handler(&HttpSession::do_read, shared_from_this()));
    }

    // Called (through the exchange) from any thread.
    void respond(Response response, unsigned version, bool keep_alive);

private:
    void do_read() {
        memory_hold_.reset();  // a request the session answered itself (rejected) is done with
        header_parser_.emplace();
        header_parser_->header_limit(16 * 1024);
        // The header parser must not judge Content-Length by its own default limit (1 MiB): the
        // per-path limit is checked once the target is known (on_read_header answers 413).
        header_parser_->body_limit(boost::none);
        // The first request gets the header timeout; a kept-alive connection may idle longer
        // between requests, but once bytes arrive the header must complete in time.
        stream_.expires_after(std::chrono::milliseconds(first_request_ ? server_->options.header_timeout_ms
                                                                       : server_->options.idle_timeout_ms));
        first_request_ = false;
        bhttp::async_read_header(stream_, buffer_, *header_parser_,
                                 beast::bind_front_handler(&HttpSession::on_read_header, shared_from_this()));
    }

    void on_read_header(beast::error_code ec, std::size_t) {
        if (ec) {
            if (ec == bhttp::error::end_of_stream || is_quiet(ec)) return close();
            return reject(error_response(400, "bad_request", "malformed HTTP request: " + ec.message()));
        }
        const auto& header = header_parser_->get();
        std::string_view target = header.target();
        const bool webhook = target.starts_with("/webhooks/");
        const std::string_view path = target.substr(0, target.find('?'));
        const auto& uploads = server_->options.upload_paths;
        const bool upload = header.method() == bhttp::verb::post &&
                            std::find(uploads.begin(), uploads.end(), path) != uploads.end();
        const std::size_t limit = webhook  ? server_->options.webhook_body_limit
                                  : upload ? server_->options.upload_body_limit
                                           : server_->options.api_body_limit;
        version_ = header.version();
        // RFC 9112 §6.3: a Transfer-Encoding other than one final "chunked" cannot be framed
        // safely (request smuggling); §3.2: HTTP/1.1 requires Host.
        if (auto [first, last] = header.equal_range(bhttp::field::transfer_encoding); first != last) {
            if (std::next(first) != last || !beast::iequals(first->value(), "chunked"))
                return reject(error_response(501, "not_implemented",
                                             "only \"Transfer-Encoding: chunked\" is supported"));
        }
        if (version_ >= 11 && header.find(bhttp::field::host) == header.end())
            return reject(error_response(400, "bad_request", "HTTP/1.1 request without Host"));
        if (auto length = header_parser_->content_length(); length && *length > limit) {
            return reject(error_response(
                413, "payload_too_large",
                fmt::format("request body of {} bytes exceeds the limit of {} bytes", *length, limit)));
        }
        if (webhook && !reserve_webhook_memory(header_parser_->content_length().value_or(limit))) {
            metrics::registry().requests_refused.with({"webhook_memory"}).inc();
            auto busy = error_response(503, "busy", "too many webhook bytes in flight; retry later");
            busy.headers.emplace_back("Retry-After", "1");
            return reject(std::move(busy));
        }
        body_limit_ = limit;
        // Asked before the header moves into the body's parser (of one type or the other).
        const auto expect = header.find(bhttp::field::expect);
        const bool expects_continue =
            expect != header.end() && beast::iequals(expect->value(), "100-continue");
        if (upload && !server_->options.upload_spool_dir.empty()) {
            // The file goes to disk as it arrives: an upload is never held whole in memory.
            file_parser_.emplace(std::move(*header_parser_));
            header_parser_.reset();
            file_parser_->body_limit(limit);
            spooled_ = std::make_shared<SpooledFile>(server_->options.upload_spool_dir /
                                                     (util::random_hex(16) + ".body"));
            beast::error_code open_ec;
            file_parser_->get().body().open(spooled_->path.c_str(), beast::file_mode::write_new, open_ec);
            if (open_ec) {
                spdlog::error("http cannot spool an upload path={} error=\"{}\"", spooled_->path.string(),
                              open_ec.message());
                file_parser_.reset();
                spooled_.reset();
                return reject(error_response(500, "internal", "the upload cannot be written to disk"));
            }
        } else {
            parser_.emplace(std::move(*header_parser_));
            header_parser_.reset();
            parser_->body_limit(limit);
        }
        stream_.expires_after(std::chrono::milliseconds(server_->options.body_timeout_ms));
        if (expects_continue) {
            // The client waits for this before it sends the body (curl does, for large posts).
            static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            return net::async_write(stream_, net::buffer(kContinue),
                                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                        if (ec) return fail(ec, "write 100-continue");
                                        self->read_body();
                                    });
        }
        read_body();
    }

    void read_body() {
        if (file_parser_) return read_file();
        bhttp::async_read(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&HttpSession::on_read_body, shared_from_this()));
    }

    // An upload's body a piece at a time, each within body_timeout_ms of the one before: a large
    // file on a slow link takes as long as it needs, a stalled one is dropped.
    void read_file() {
        if (file_parser_->is_done()) return on_read_file({}, 0);  // nothing (more) to read: Content-Length 0
        stream_.expires_after(std::chrono::milliseconds(server_->options.body_timeout_ms));
        bhttp::async_read_some(stream_, buffer_, *file_parser_,
                               beast::bind_front_handler(&HttpSession::on_read_file, shared_from_this()));
    }

    // An upload's body is on disk: the exchange has its headers and the file.
    void on_read_file(beast::error_code ec, std::size_t n) {
        if (ec) {
            file_parser_.reset();
            spooled_.reset();  // what arrived of it goes
            return on_read_body(ec, n);
        }
        if (!file_parser_->is_done()) return read_file();
        stream_.expires_never();
        auto message = file_parser_->release();
        file_parser_.reset();
        message.body().close();
        Request request(std::move(message.base()));
        dispatch(std::move(request), std::move(spooled_));
    }

    void on_read_body(beast::error_code ec, std::size_t) {
        if (ec == bhttp::error::body_limit) {
            return reject(
                error_response(413, "payload_too_large",
                               fmt::format("request body exceeds the limit of {} bytes", body_limit_)));
        }
        if (ec) {
            if (is_quiet(ec)) return close();
            return reject(error_response(400, "bad_request", "malformed HTTP request: " + ec.message()));
        }
        stream_.expires_never();
        Request request = parser_->release();
        parser_.reset();
        if (websocket::is_upgrade(request)) return upgrade(std::move(request));
        dispatch(std::move(request));
    }

    void dispatch(Request request, std::shared_ptr<SpooledFile> spooled = nullptr);
    void upgrade(Request request);

    // Read when an exchange is made rather than kept: an idle connection stays small.
    std::string remote() const {
        beast::error_code ec;
        auto endpoint = stream_.socket().remote_endpoint(ec);
        return ec ? std::string() : endpoint.address().to_string();
    }

    // Webhook bodies before verification are anyone's: the process holds at most
    // webhook_memory_limit of them. The reservation lives as long as the request's exchange.
    bool reserve_webhook_memory(std::size_t bytes) {
        const std::size_t budget = server_->options.webhook_memory_limit;
        if (budget == 0) return true;
        auto& used = server_->webhook_bytes;
        std::size_t now = used.load();
        do {
            if (now + bytes > budget) return false;
        } while (!used.compare_exchange_weak(now, now + bytes));
        memory_hold_ = std::shared_ptr<void>(
            nullptr, [server = server_, bytes](void*) { server->webhook_bytes.fetch_sub(bytes); });
        return true;
    }

    // Answers an unreadable request and closes: the rest of the stream cannot be trusted.
    void reject(Response response) {
        spdlog::debug("http rejected status={} body={}", response.status, response.body);
        write(std::move(response), version_ ? version_ : 11, false);
    }

    void write(Response response, unsigned version, bool keep_alive) {
        if (response.stream) return write_stream(std::move(response), version, keep_alive);
        auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
            static_cast<bhttp::status>(response.status), version);
        res->set(bhttp::field::server, "switchboard");
        if (!response.content_type.empty()) res->set(bhttp::field::content_type, response.content_type);
        for (auto& [name, value] : response.headers) res->set(name, value);
        res->body() = std::move(response.body);
        res->keep_alive(keep_alive);
        res->prepare_payload();
        stream_.expires_after(std::chrono::milliseconds(server_->options.body_timeout_ms));
        bhttp::async_write(stream_, *res,
                           [self = shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
                               if (ec) return fail(ec, "write");
                               if (!keep_alive) return self->close();
                               self->do_read();
                           });
    }

    // The header, then the body piece by piece from its source. The timeout is per write: a
    // slow reader of a large file is fine while it reads.
    void write_stream(Response response, unsigned version, bool keep_alive) {
        auto res = std::make_shared<bhttp::response<bhttp::empty_body>>(
            static_cast<bhttp::status>(response.status), version);
        res->set(bhttp::field::server, "switchboard");
        if (!response.content_type.empty()) res->set(bhttp::field::content_type, response.content_type);
        for (auto& [name, value] : response.headers) res->set(name, value);
        res->content_length(response.stream_length);
        res->keep_alive(keep_alive);
        auto serializer = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*res);
        stream_.expires_after(std::chrono::milliseconds(server_->options.body_timeout_ms));
        bhttp::async_write_header(
            stream_, *serializer,
            [self = shared_from_this(), res, serializer, source = std::move(response.stream),
             length = response.stream_length, keep_alive](beast::error_code ec, std::size_t) {
                if (ec) return fail(ec, "write header");
                self->pump(source, length, keep_alive);
            });
    }

    void pump(std::shared_ptr<BodySource> source, std::uint64_t remaining, bool keep_alive) {
        if (remaining == 0) {
            if (!keep_alive) return close();
            return do_read();
        }
        source->pull([self = shared_from_this(), source, remaining, keep_alive](std::string piece) mutable {
            net::post(self->stream_.get_executor(),
                      [self, source = std::move(source), remaining, keep_alive,
                       piece = std::make_shared<std::string>(std::move(piece))] {
                          if (piece->empty() || piece->size() > remaining) {
                              spdlog::error("http a streamed body ended early remaining={}", remaining);
                              beast::error_code ignored;
                              self->stream_.socket().close(ignored);  // a short body, never a wrong one
                              return;
                          }
                          self->stream_.expires_after(
                              std::chrono::milliseconds(self->server_->options.body_timeout_ms));
                          net::async_write(self->stream_, net::buffer(*piece),
                                           [self, source, piece, left = remaining - piece->size(),
                                            keep_alive](beast::error_code ec, std::size_t) {
                                               if (ec) return fail(ec, "write stream");
                                               self->pump(source, left, keep_alive);
                                           });
                      });
        });
    }

    void close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::shared_ptr<Server::Impl> server_;
    std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    std::optional<bhttp::request_parser<bhttp::file_body>> file_parser_;  // an upload's body
    std::shared_ptr<SpooledFile> spooled_;                                // file_parser_'s file
    std::size_t body_limit_ = 0;
    unsigned version_ = 11;
    bool first_request_ = true;
    std::unique_ptr<ConnectionSlot> slot_;  // this connection's place under the limits
    std::shared_ptr<void> memory_hold_;     // the webhook bytes this request reserved
};

class ExchangeImpl : public Exchange {
public:
    ExchangeImpl(std::shared_ptr<HttpSession> session, Request request, std::atomic<std::size_t>* in_flight,
                 std::string remote)
        : session_(std::move(session)),
          request_(std::move(request)),
          in_flight_(in_flight),
          remote_(std::move(remote)) {
        if (in_flight_) in_flight_->fetch_add(1);
        auto parsed = boost::urls::parse_origin_form(request_.target());
        if (parsed) url_ = *parsed;
    }

    ~ExchangeImpl() override {
        if (!responded_.load() && session_) {
            // A handler dropped the request: answer rather than leave the client hanging.
            spdlog::error("http handler dropped a request without answering path={}", path());
            respond(error_response(500, "internal", "the request was not answered"));
        }
        if (in_flight_) in_flight_->fetch_sub(1);
    }

    bool parsed() const { return url_.has_value(); }
    // Kept until the exchange is gone (a webhook body's memory reservation).
    void hold(std::shared_ptr<void> reservation) { hold_ = std::move(reservation); }
    std::string_view method() const override { return request_.method_string(); }
    std::string_view remote_address() const override { return remote_; }
    std::string_view target() const override { return request_.target(); }
    std::string_view path() const override {
        return url_ ? std::string_view(url_->encoded_path()) : std::string_view(request_.target());
    }
    std::optional<std::string> query(std::string_view name) const override {
        if (!url_) return std::nullopt;
        auto params = url_->params();
        auto it = params.find(name);
        if (it == params.end()) return std::nullopt;
        return std::string((*it).value);
    }
    std::optional<std::string_view> header(std::string_view name) const override {
        auto it = request_.find(name);
        if (it == request_.end()) return std::nullopt;
        return it->value();
    }
    std::vector<std::pair<std::string_view, std::string_view>> headers() const override {
        std::vector<std::pair<std::string_view, std::string_view>> out;
        for (const auto& field : request_) out.emplace_back(field.name_string(), field.value());
        return out;
    }
    const std::string& body() const override { return request_.body(); }
    std::string take_body() override { return std::move(request_.body()); }
    std::optional<std::filesystem::path> body_file() const override {
        if (!spooled_) return std::nullopt;
        return spooled_->path;
    }
    void set_spooled(std::shared_ptr<SpooledFile> spooled) { spooled_ = std::move(spooled); }

    void respond(Response response) override {
        if (responded_.exchange(true) || !session_) return;
        session_->respond(std::move(response), request_.version(), request_.keep_alive());
    }

    Request& request() { return request_; }

private:
    std::shared_ptr<HttpSession> session_;
    Request request_;
    std::optional<boost::urls::url_view> url_;
    std::atomic<bool> responded_{false};
    std::shared_ptr<void> hold_;
    std::shared_ptr<SpooledFile> spooled_;
    std::atomic<std::size_t>* in_flight_;
    std::string remote_;
};

void HttpSession::respond(Response response, unsigned version, bool keep_alive) {
    net::dispatch(stream_.get_executor(),
                  [self = shared_from_this(), response = std::move(response), version, keep_alive]() mutable {
                      self->write(std::move(response), version, keep_alive);
                  });
}

void HttpSession::dispatch(Request request, std::shared_ptr<SpooledFile> spooled) {
    auto exchange =
        std::make_shared<ExchangeImpl>(shared_from_this(), std::move(request), &server_->in_flight, remote());
    exchange->hold(std::move(memory_hold_));
    exchange->set_spooled(std::move(spooled));
    if (!exchange->parsed())
        return exchange->respond(error_response(400, "bad_request", "malformed request target"));
    server_->handler(std::move(exchange));
}

void HttpSession::upgrade(Request request) {
    // Decide on the upgrade with a detached exchange so the authorizer sees the usual
    // interface; without a session it never writes.
    ExchangeImpl probe(nullptr, std::move(request), nullptr, remote());
    const unsigned version = probe.request().version();
    if (!probe.parsed() || probe.path() != server_->options.ws_path)
        return write(error_response(404, "not_found", "no WebSocket endpoint here"), version, false);
    WsGrant grant;
    if (server_->ws.authorize) {
        if (auto refusal = server_->ws.authorize(probe, grant))
            return write(std::move(*refusal), version, false);
    }
    auto session =
        std::make_shared<WsSessionImpl>(std::move(stream_), server_, std::move(grant), std::move(slot_));
    session->run(std::move(probe.request()));
}

}  // namespace

void Server::Impl::do_accept() {
    acceptor.async_accept(net::make_strand(io),
                          beast::bind_front_handler(&Impl::on_accept, shared_from_this()));
}

void Server::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec) {
        if (ec == net::error::operation_aborted || !accepting) return;
        spdlog::warn("http accept error=\"{}\"", ec.message());
        if (ec == boost::system::errc::too_many_files_open ||
            ec == boost::system::errc::too_many_files_open_in_system)
            shed_one();
        // Do not spin on a listener that keeps failing.
        auto timer = std::make_shared<net::steady_timer>(io, std::chrono::milliseconds(50));
        timer->async_wait([self = shared_from_this(), timer](beast::error_code) { self->do_accept(); });
        return;
    }
    beast::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    const char* refused = nullptr;
    auto slot = peer_ec ? nullptr : admit(peer.address(), refused);
    if (!slot) {
        metrics::registry().connections_refused.with({refused ? refused : "no_peer"}).inc();
        refuse_now(socket);
        return do_accept();
    }
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<HttpSession>(std::move(socket), shared_from_this(), std::move(slot))->run();
    do_accept();
}

std::unique_ptr<ConnectionSlot> Server::Impl::admit(const net::ip::address& address, const char*& refused) {
    std::lock_guard lock(connections_mutex);
    if (connections >= max_connections) {
        refused = "limit";
    } else if (options.max_connections_per_address != 0 &&
               per_address[address] >= options.max_connections_per_address) {
        refused = "per_address_limit";
    }
    if (refused) {
        const std::int64_t now = util::now_ms();
        if (now - refused_logged_ms >= 1000) {  // one line a second, however many are refused
            refused_logged_ms = now;
            spdlog::warn("connection refused remote={} reason={} open={} limit={} per_address_limit={}",
                         address.to_string(), refused, connections, max_connections,
                         options.max_connections_per_address);
        }
        return nullptr;
    }
    ++connections;
    if (options.max_connections_per_address != 0) ++per_address[address];
    return std::make_unique<ConnectionSlot>(shared_from_this(), address);
}

void Server::Impl::release(const net::ip::address& address) {
    std::lock_guard lock(connections_mutex);
    --connections;
    if (options.max_connections_per_address == 0) return;
    if (auto it = per_address.find(address); it != per_address.end() && --it->second == 0)
        per_address.erase(it);
}

void Server::Impl::shed_one() {
    if (spare_fd >= 0) ::close(spare_fd);
    spare_fd = -1;
    beast::error_code ec;
    tcp::socket waiting(io);
    acceptor.accept(waiting, ec);  // the listener is non-blocking under Asio: returns at once if none
    if (!ec) {
        metrics::registry().connections_refused.with({"out_of_descriptors"}).inc();
        refuse_now(waiting);
    }
    spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

Server::Server(net::io_context& io, ServerOptions options, Handler handler, WsHandlers ws)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler), std::move(ws))) {}

Server::~Server() { stop_accepting(); }

void Server::listen() {
    if (const auto& spool = impl_->options.upload_spool_dir; !spool.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(spool, ec);
        if (ec) throw std::system_error(ec, "cannot create the upload spool " + spool.string());
        // What a process that died left there was never answered. Instances sharing media.dir
        // share the directory, so only what is older than any upload in progress goes: a body
        // arrives within body_timeout_ms and is handled (and removed) right after.
        const auto stale = std::filesystem::file_time_type::clock::now() - std::chrono::hours(1);
        for (const auto& entry : std::filesystem::directory_iterator(spool, ec)) {
            std::error_code entry_ec;
            if (entry.is_regular_file(entry_ec) && entry.last_write_time(entry_ec) < stale && !entry_ec)
                std::filesystem::remove(entry.path(), entry_ec);
        }
    }
    beast::error_code ec;
    auto address = net::ip::make_address(impl_->options.host, ec);
    if (ec) throw std::system_error(ec, "server.listen: bad address '" + impl_->options.host + "'");
    tcp::endpoint endpoint(address, impl_->options.port);
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::system_error(ec, fmt::format("server.listen: cannot listen on {}:{}", impl_->options.host,
                                                impl_->options.port));
    impl_->do_accept();
}

std::uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

std::size_t Server::in_flight() const { return impl_->in_flight.load(); }

void Server::stop_accepting() {
    impl_->accepting = false;
    net::post(impl_->acceptor.get_executor(), [impl = impl_] {
        beast::error_code ec;
        impl->acceptor.close(ec);
    });
}

}  // namespace sb::http
