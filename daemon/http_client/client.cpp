#include "http_client/client.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <optional>
#include <variant>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

namespace sb::http_client {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

namespace {

struct Origin {
    bool tls = false;
    std::string host;
    std::string port;
    std::string key() const { return fmt::format("{}://{}:{}", tls ? "https" : "http", host, port); }
    // RFC 9110 §7.2: the port is part of Host unless it is the scheme's default.
    std::string host_header() const { return port == (tls ? "443" : "80") ? host : host + ":" + port; }
};

struct Target {
    Origin origin;
    std::string path;  // origin-form: path + query
};

std::optional<Target> parse_target(const std::string& url, std::string& error) {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) {
        error = "invalid URL";
        return std::nullopt;
    }
    Target t;
    auto scheme = parsed->scheme();
    if (scheme == "https")
        t.origin.tls = true;
    else if (scheme != "http") {
        error = "unsupported URL scheme '" + std::string(scheme) + "'";
        return std::nullopt;
    }
    t.origin.host = parsed->host();
    if (t.origin.host.empty()) {
        error = "URL has no host";
        return std::nullopt;
    }
    t.origin.port = parsed->has_port() ? std::string(parsed->port()) : (t.origin.tls ? "443" : "80");
    t.path = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
    if (parsed->has_query()) t.path += "?" + std::string(parsed->encoded_query());
    return t;
}

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection to one origin: plain or TLS, reused while the server keeps it alive.
struct Connection {
    Origin origin;
    std::variant<std::unique_ptr<PlainStream>, std::unique_ptr<TlsStream>> stream;
    beast::flat_buffer buffer;

    beast::tcp_stream& tcp() {
        if (auto* plain = std::get_if<0>(&stream)) return **plain;
        return beast::get_lowest_layer(*std::get<1>(stream));
    }
    template <typename F>
    void with_stream(F&& f) {
        if (auto* plain = std::get_if<0>(&stream))
            f(**plain);
        else
            f(*std::get<1>(stream));
    }
};

}  // namespace

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
    Impl(net::io_context& io, Options options) : io(io), options(options), tls(ssl::context::tls_client) {
        tls.set_default_verify_paths();
        if (!options.ca_file.empty()) {
            boost::system::error_code ec;
            tls.load_verify_file(options.ca_file, ec);
            if (ec)
                throw std::runtime_error(fmt::format("outbound.ca_file {}: cannot load certificates: {}",
                                                     options.ca_file, ec.message()));
        }
        tls.set_verify_mode(ssl::verify_peer);
        tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    }

    std::unique_ptr<Connection> take_idle(const std::string& key) {
        std::lock_guard lock(mutex);
        auto it = idle.find(key);
        while (it != idle.end() && !it->second.empty()) {
            auto conn = std::move(it->second.back());
            it->second.pop_back();
            if (still_open(*conn)) return conn;
        }
        return nullptr;
    }

    // An idle connection the server closed (FIN: a zero-byte read) or wrote to unasked is no
    // use: a request written to it might be read and answered by nobody, and then its fate
    // would be unknown. Peeking without blocking tells, before anything is written.
    static bool still_open(Connection& conn) {
        char byte = 0;
        const ssize_t n = ::recv(conn.tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

    void give_back(std::unique_ptr<Connection> conn) {
        std::lock_guard lock(mutex);
        auto& list = idle[conn->origin.key()];
        if (static_cast<int>(list.size()) < options.max_idle_per_origin) list.push_back(std::move(conn));
    }

    net::io_context& io;
    Options options;
    ssl::context tls;
    std::mutex mutex;
    std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;
};

namespace {

// One request from start to finish: connect (or reuse), write, read, hand back.
class Exchange : public std::enable_shared_from_this<Exchange> {
public:
    // A download (Client::download): where a 2xx body goes and what becomes of it.
    struct Download {
        std::string path;
        std::uint64_t max_bytes = 0;
        std::function<void(DownloadResult)> done;
    };

    Exchange(std::shared_ptr<Client::Impl> client, Target target, Request request,
             std::function<void(Response)> done, std::optional<Download> download = std::nullopt)
        : client_(std::move(client)),
          target_(std::move(target)),
          done_(std::move(done)),
          download_(std::move(download)),
          resolver_(net::make_strand(client_->io)) {
        timeout_ = std::chrono::milliseconds(request.timeout_ms > 0 ? request.timeout_ms
                                                                    : client_->options.default_timeout_ms);
        request_.method_string(request.method);
        request_.target(target_.path);
        request_.version(11);
        request_.set(bhttp::field::host, target_.origin.host_header());
        request_.set(bhttp::field::user_agent, "switchboard/" SWITCHBOARD_VERSION);
        for (auto& [name, value] : request.headers) request_.set(name, value);
        request_.body() = std::move(request.body);
        request_.keep_alive(true);
        request_.prepare_payload();
    }

    void start() {
        if (auto conn = client_->take_idle(target_.origin.key())) {
            reused_ = true;
            conn_ = std::move(conn);
            return do_write();
        }
        connect();
    }

private:
    void connect() {
        reused_ = false;
        conn_ = std::make_unique<Connection>();
        conn_->origin = target_.origin;
        auto executor = resolver_.get_executor();
        if (target_.origin.tls) {
            conn_->stream = std::make_unique<TlsStream>(executor, client_->tls);
            auto& tls = *std::get<1>(conn_->stream);
            if (!SSL_set_tlsext_host_name(tls.native_handle(), target_.origin.host.c_str()))
                return finish_error("cannot set TLS server name");
            tls.set_verify_callback(ssl::host_name_verification(target_.origin.host));
        } else {
            conn_->stream = std::make_unique<PlainStream>(executor);
        }
        conn_->tcp().expires_after(timeout_);
        resolver_.async_resolve(target_.origin.host, target_.origin.port,
                                beast::bind_front_handler(&Exchange::on_resolve, shared_from_this()));
    }

    void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
        if (ec) return finish_error("resolve " + target_.origin.host + ": " + ec.message());
        conn_->tcp().expires_after(timeout_);
        conn_->tcp().async_connect(results,
                                   beast::bind_front_handler(&Exchange::on_connect, shared_from_this()));
    }

    void on_connect(beast::error_code ec, const tcp::endpoint&) {
        if (ec) return finish_error("connect " + target_.origin.key() + ": " + ec.message());
        conn_->tcp().socket().set_option(tcp::no_delay(true), ec);
        if (!target_.origin.tls) return do_write();
        std::get<1>(conn_->stream)
            ->async_handshake(ssl::stream_base::client,
                              beast::bind_front_handler(&Exchange::on_handshake, shared_from_this()));
    }

    void on_handshake(beast::error_code ec) {
        if (ec) return finish_error("TLS handshake with " + target_.origin.key() + ": " + ec.message());
        do_write();
    }

    void do_write() {
        written_ = true;
        conn_->tcp().expires_after(timeout_);
        conn_->with_stream([&](auto& stream) {
            bhttp::async_write(stream, request_,
                               beast::bind_front_handler(&Exchange::on_write, shared_from_this()));
        });
    }

    void on_write(beast::error_code ec, std::size_t) {
        if (ec) {
            // The server reset a reused connection before it took any of the request: it never
            // arrived, so one more try on a fresh connection is safe.
            if (reused_ && (ec == net::error::connection_reset || ec == net::error::broken_pipe)) {
                written_ = false;
                conn_.reset();
                return connect();
            }
            return fail_after_write("write", ec);
        }
        if (download_) return read_download_header();
        parser_.emplace();
        parser_->body_limit(64u << 20);
        conn_->with_stream([&](auto& stream) {
            bhttp::async_read(stream, conn_->buffer, *parser_,
                              beast::bind_front_handler(&Exchange::on_read, shared_from_this()));
        });
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec) return fail_after_write("read", ec);
        auto response = parser_->release();
        Response out;
        out.status = static_cast<int>(response.result_int());
        for (const auto& field : response) out.headers.emplace_back(field.name_string(), field.value());
        out.body = std::move(response.body());
        if (response.keep_alive()) {
            conn_->tcp().expires_never();
            client_->give_back(std::move(conn_));
        }
        finish(std::move(out));
    }

    // --- download: the header first, then the body to the file (2xx) or to memory ---
    void read_download_header() {
        header_parser_.emplace();
        header_parser_->body_limit(boost::none);
        conn_->tcp().expires_after(timeout_);
        conn_->with_stream([&](auto& stream) {
            bhttp::async_read_header(
                stream, conn_->buffer, *header_parser_,
                beast::bind_front_handler(&Exchange::on_download_header, shared_from_this()));
        });
    }

    void on_download_header(beast::error_code ec, std::size_t) {
        if (ec) return fail_after_write("read", ec);
        const int status = static_cast<int>(header_parser_->get().result_int());
        if (status < 200 || status > 299) {
            parser_.emplace(std::move(*header_parser_));
            header_parser_.reset();
            parser_->body_limit(64u << 10);
            conn_->tcp().expires_after(timeout_);
            return conn_->with_stream([&](auto& stream) {
                bhttp::async_read(
                    stream, conn_->buffer, *parser_,
                    beast::bind_front_handler(&Exchange::on_download_error_body, shared_from_this()));
            });
        }
        if (auto length = header_parser_->content_length(); length && *length > download_->max_bytes) {
            DownloadResult out = head_of(header_parser_->get());
            out.too_large = true;
            conn_.reset();
            return finish_download(std::move(out));
        }
        file_parser_.emplace(std::move(*header_parser_));
        header_parser_.reset();
        file_parser_->body_limit(download_->max_bytes);
        beast::error_code open_ec;
        file_parser_->get().body().open(download_->path.c_str(), beast::file_mode::write, open_ec);
        if (open_ec) {
            conn_.reset();
            DownloadResult out;
            out.transport_error = "cannot write the download: " + open_ec.message();
            return finish_download(std::move(out));
        }
        read_download_chunk();
    }

    // Chunk by chunk (async_read_some), so that the timeout bounds the wait for each piece and
    // not the whole transfer of a large file.
    void read_download_chunk() {
        conn_->tcp().expires_after(timeout_);
        conn_->with_stream([&](auto& stream) {
            bhttp::async_read_some(
                stream, conn_->buffer, *file_parser_,
                beast::bind_front_handler(&Exchange::on_download_chunk, shared_from_this()));
        });
    }

    void on_download_chunk(beast::error_code ec, std::size_t) {
        if (ec == bhttp::error::body_limit) {
            DownloadResult out = head_of(file_parser_->get());
            out.too_large = true;
            file_parser_->get().body().close();
            conn_.reset();
            return finish_download(std::move(out));
        }
        if (ec) {
            file_parser_->get().body().close();
            return fail_after_write("read", ec);
        }
        if (!file_parser_->is_done()) return read_download_chunk();
        auto& message = file_parser_->get();
        DownloadResult out = head_of(message);
        beast::error_code size_ec;
        out.bytes = message.body().file().size(size_ec);  // the cached size is the one at open
        message.body().close();
        if (message.keep_alive()) {
            conn_->tcp().expires_never();
            client_->give_back(std::move(conn_));
        } else {
            conn_.reset();
        }
        finish_download(std::move(out));
    }

    void on_download_error_body(beast::error_code ec, std::size_t) {
        if (ec && ec != bhttp::error::body_limit) return fail_after_write("read", ec);
        DownloadResult out = head_of(parser_->get());
        if (!ec) out.body = std::move(parser_->get().body());
        if (!ec && parser_->get().keep_alive()) {
            conn_->tcp().expires_never();
            client_->give_back(std::move(conn_));
        } else {
            conn_.reset();
        }
        finish_download(std::move(out));
    }

    template <typename Message>
    static DownloadResult head_of(const Message& message) {
        DownloadResult out;
        out.status = static_cast<int>(message.result_int());
        for (const auto& field : message) out.headers.emplace_back(field.name_string(), field.value());
        return out;
    }

    void finish_download(DownloadResult result) {
        if (!download_ || !download_->done) return;
        auto done = std::move(download_->done);
        download_->done = nullptr;
        done(std::move(result));
    }

    // Once the request was written, a failure leaves its fate unknown: the server may have
    // acted on it and then closed, reset or stalled before answering. Never retried here.
    void fail_after_write(const char* where, beast::error_code ec) {
        finish_error(fmt::format("{} {}: {}", where, target_.origin.key(),
                                 ec == beast::error::timeout ? "timed out" : ec.message()));
    }

    void finish_error(std::string error) {
        conn_.reset();
        if (download_) {
            DownloadResult out;
            out.transport_error = std::move(error);
            return finish_download(std::move(out));
        }
        Response out;
        out.transport_error = std::move(error);
        out.maybe_delivered = written_;
        finish(std::move(out));
    }

    void finish(Response response) {
        if (!done_) return;
        auto done = std::move(done_);
        done_ = nullptr;
        done(std::move(response));
    }

    std::shared_ptr<Client::Impl> client_;
    Target target_;
    std::function<void(Response)> done_;
    std::optional<Download> download_;
    tcp::resolver resolver_;
    std::unique_ptr<Connection> conn_;
    bhttp::request<bhttp::string_body> request_;
    std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
    std::optional<bhttp::response_parser<bhttp::empty_body>> header_parser_;
    std::optional<bhttp::response_parser<bhttp::file_body>> file_parser_;
    std::chrono::milliseconds timeout_{0};
    bool reused_ = false;
    bool written_ = false;  // a write of the request began on the current connection
};

}  // namespace

void Client::download(Request request, std::string path, std::uint64_t max_bytes,
                      std::function<void(DownloadResult)> done) {
    std::string error;
    auto target = parse_target(request.url, error);
    if (!target) {
        DownloadResult out;
        out.transport_error = error;
        net::post(impl_->io,
                  [done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
        return;
    }
    Exchange::Download d{std::move(path), max_bytes, std::move(done)};
    std::make_shared<Exchange>(impl_, std::move(*target), std::move(request), nullptr, std::move(d))->start();
}

Client::Client(net::io_context& io, Options options) : impl_(std::make_shared<Impl>(io, options)) {}

Client::~Client() = default;

void Client::send(Request request, std::function<void(Response)> done) {
    std::string error;
    auto target = parse_target(request.url, error);
    if (!target) {
        Response out;
        out.transport_error = error;  // never echo the URL: it may carry a token
        net::post(impl_->io,
                  [done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
        return;
    }
    std::make_shared<Exchange>(impl_, std::move(*target), std::move(request), std::move(done))->start();
}

}  // namespace sb::http_client
