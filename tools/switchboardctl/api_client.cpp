#include "api_client.hpp"

#include <cctype>
#include <chrono>

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/url/parse.hpp>

namespace sb::ctl {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr auto kTimeout = std::chrono::seconds(30);
constexpr std::uint64_t kBodyLimit = 64u << 20;
constexpr const char* kUserAgent = "switchboardctl/" SWITCHBOARD_VERSION;

}  // namespace

struct ApiClient::Impl {
    std::string base_url;
    std::string token;
    bool tls = false;
    std::string host;         // for the resolver, without IPv6 brackets
    std::string host_header;  // host[:port] as written in the URL
    std::string port;
    std::string prefix;  // path of the base URL without a trailing '/'
    net::io_context io;
    ssl::context ssl_ctx{ssl::context::tls_client};

    beast::tcp_stream connect() {
        tcp::resolver resolver(io);
        auto endpoints = resolver.resolve(host, port);
        beast::tcp_stream stream(io);
        stream.expires_after(kTimeout);
        stream.connect(endpoints);
        return stream;
    }

    // TLS as the daemon's own client does it: system CA store, SNI, host name verification.
    void secure(beast::ssl_stream<beast::tcp_stream>& stream) {
        if (!SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()))
            throw beast::system_error(
                beast::error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category()));
        stream.set_verify_callback(ssl::host_name_verification(host));
        stream.handshake(ssl::stream_base::client);
    }

    template <typename Stream>
    HttpResponse exchange(Stream& stream, http::request<http::string_body>& request) {
        http::write(stream, request);
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(kBodyLimit);
        http::read(stream, buffer, parser);
        auto& response = parser.get();
        HttpResponse out;
        out.status = static_cast<int>(response.result_int());
        out.content_type = std::string(response[http::field::content_type]);
        out.retry_after = std::string(response[http::field::retry_after]);
        out.body = std::move(response.body());
        return out;
    }

    template <typename Next>
    std::string read_frames(websocket::stream<Next>& ws, const std::string& target,
                            const std::function<bool(const std::string&)>& on_frame) {
        ws.set_option(websocket::stream_base::decorator(
            [](websocket::request_type& request) { request.set(http::field::user_agent, kUserAgent); }));
        websocket::response_type response;
        beast::error_code ec;
        ws.handshake(response, host_header, target, ec);
        if (ec == websocket::error::upgrade_declined)
            throw TransportError(fmt::format("the WebSocket upgrade was refused: HTTP {} {}",
                                             response.result_int(), response.body()));
        if (ec) throw beast::system_error(ec);
        // A watch is idle for as long as nothing happens: no read deadline, but the stream's
        // own ping-based liveness (suggested client settings) still applies.
        beast::get_lowest_layer(ws).expires_never();
        ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
        for (;;) {
            beast::flat_buffer buffer;
            ws.read(buffer, ec);
            if (ec == websocket::error::closed) return std::string(ws.reason().reason.c_str());
            if (ec) throw beast::system_error(ec);
            if (!on_frame(beast::buffers_to_string(buffer.data()))) {
                ws.close(websocket::close_code::normal, ec);
                return {};
            }
        }
    }
};

ApiClient::ApiClient(const std::string& base_url, std::string token) : impl_(std::make_unique<Impl>()) {
    auto parsed = boost::urls::parse_absolute_uri(base_url);
    if (!parsed) throw std::invalid_argument(fmt::format("not a URL: \"{}\"", base_url));
    const auto& url = *parsed;
    if (url.scheme() != "http" && url.scheme() != "https")
        throw std::invalid_argument(
            fmt::format("\"{}\": only http:// and https:// URLs are supported", base_url));
    if (url.has_query() || url.has_fragment() || url.has_userinfo() || url.host_address().empty())
        throw std::invalid_argument(fmt::format(
            "\"{}\": expected scheme://host[:port][/prefix] without user, query or fragment", base_url));
    impl_->base_url = base_url;
    impl_->token = std::move(token);
    impl_->tls = url.scheme() == "https";
    impl_->host = url.host_address();
    impl_->host_header = url.encoded_host_and_port();
    impl_->port = url.has_port() ? std::string(url.port()) : (impl_->tls ? "443" : "80");
    impl_->prefix = url.encoded_path();
    while (!impl_->prefix.empty() && impl_->prefix.back() == '/') impl_->prefix.pop_back();
    if (impl_->tls) {
        impl_->ssl_ctx.set_default_verify_paths();
        impl_->ssl_ctx.set_verify_mode(ssl::verify_peer);
    }
}

ApiClient::~ApiClient() = default;

const std::string& ApiClient::base_url() const { return impl_->base_url; }

HttpResponse ApiClient::request(const std::string& method, const std::string& target,
                                const std::optional<std::string>& body, const Headers& headers,
                                bool authorize) {
    http::request<http::string_body> request;
    request.method_string(method);
    request.target(impl_->prefix + target);
    request.version(11);
    request.set(http::field::host, impl_->host_header);
    request.set(http::field::user_agent, kUserAgent);
    request.set(http::field::accept, "application/json");
    request.set(http::field::connection, "close");
    if (authorize && !impl_->token.empty()) request.set(http::field::authorization, "Bearer " + impl_->token);
    bool has_content_type = false;
    for (const auto& [name, value] : headers) {
        request.set(name, value);
        if (beast::iequals(name, "Content-Type")) has_content_type = true;
    }
    if (body) {
        if (!has_content_type) request.set(http::field::content_type, "application/json");
        request.body() = *body;
        request.prepare_payload();
    }
    try {
        auto tcp_stream = impl_->connect();
        if (!impl_->tls) {
            auto response = impl_->exchange(tcp_stream, request);
            beast::error_code ignored;
            tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
            return response;
        }
        beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(tcp_stream), impl_->ssl_ctx);
        impl_->secure(tls_stream);
        auto response = impl_->exchange(tls_stream, request);
        beast::error_code ignored;
        tls_stream.shutdown(ignored);  // peers often skip close_notify; nothing left to read
        return response;
    } catch (const beast::system_error& e) {
        throw TransportError(fmt::format("{} {}{}: {}", method, impl_->base_url, target, e.code().message()));
    }
}

std::string ApiClient::stream(const std::string& target,
                              const std::function<bool(const std::string&)>& on_frame) {
    // Browsers' way of passing the token (DESIGN §5); the daemon also takes the header.
    std::string full_target = impl_->prefix + target;
    if (!impl_->token.empty())
        full_target += (target.find('?') == std::string::npos ? "?" : "&") +
                       ("access_token=" + url_encode(impl_->token));
    try {
        if (!impl_->tls) {
            websocket::stream<beast::tcp_stream> ws(impl_->connect());
            return impl_->read_frames(ws, full_target, on_frame);
        }
        websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(impl_->connect(), impl_->ssl_ctx);
        impl_->secure(ws.next_layer());
        return impl_->read_frames(ws, full_target, on_frame);
    } catch (const beast::system_error& e) {
        throw TransportError(fmt::format("WebSocket {}{}: {}", impl_->base_url, target, e.code().message()));
    }
}

std::string url_encode(const std::string& value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : value) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

}  // namespace sb::ctl
