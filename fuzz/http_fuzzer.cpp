// The HTTP request parser, driven the way daemon/http/server.cpp's HttpSession drives it, on one
// connection's bytes (pipelined requests included): a header-only parser (16 KiB header
// limit, no body limit of its own), the checks of on_read_header (Transfer-Encoding, Host,
// Content-Length against the path's limit), then a string_body parser taking over with the
// body limit, then what an exchange reads of the request (the target as an origin-form URL, its
// query parameters, the headers, the WebSocket upgrade test). The first input byte sets how
// many bytes each read delivers, so requests also arrive split at every place.
//
// Beast's own BOOST_ASSERTs stay on (BOOST_ENABLE_ASSERT_HANDLER, handled below), but for one
// that is wrong in Boost 1.81: see assertion_failed.

#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <string_view>

namespace boost {

// BOOST_ASSERT failures in this target. One is known to be wrong, and ignored: after the final
// chunk's "0\r\n" has arrived, basic_parser::parse_chunk_header asserts that the next call has
// at least 5 bytes, when one more byte (4) is a legal read; the code after the assertion handles
// it (boostorg/beast#2861, fixed upstream in 2024). Release builds (NDEBUG), the daemon's, never
// check it.
void assertion_failed(char const* expr, char const* function, char const* file, long line) {
    if (std::string_view(expr) == "n >= 5" &&
        std::string_view(function).find("parse_chunk_header") != std::string_view::npos)
        return;
    std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
    std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
    std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
    std::abort();
}

}  // namespace boost

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// Smaller than the daemon's defaults (8 MiB / 1 MiB) so that inputs of fuzzing size reach
// the 413 paths too.
constexpr std::size_t kWebhookBodyLimit = 4096;
constexpr std::size_t kApiBodyLimit = 1024;

// The bytes of one connection, delivered `chunk` bytes per read as a socket would.
class Connection {
public:
    Connection(std::string_view bytes, std::size_t chunk) : bytes_(bytes), chunk_(chunk) {}

    // Feeds `parser` until `done(parser)`; false when the connection ends first (an error, or
    // EOF: a partial message is an error too, as in Beast's read).
    template <class Parser, class Done>
    bool read(Parser& parser, Done done) {
        while (!done(parser)) {
            const std::string_view ready = bytes_.substr(used_, available_ - used_);
            beast::error_code ec = bhttp::error::need_more;
            if (!ready.empty()) used_ += parser.put(boost::asio::buffer(ready.data(), ready.size()), ec);
            if (ec == bhttp::error::need_more) {
                if (available_ == bytes_.size()) {         // the peer closed
                    if (!parser.got_some()) return false;  // end_of_stream
                    parser.put_eof(ec);
                    return !ec && done(parser);
                }
                available_ = std::min(bytes_.size(), available_ + chunk_);
                continue;
            }
            if (ec) return false;  // 400 (413 for body_limit) and close
        }
        return true;
    }

private:
    std::string_view bytes_;
    std::size_t chunk_;
    std::size_t used_ = 0;
    std::size_t available_ = 0;
};

// What HttpSession::on_read_header refuses before reading a body.
bool header_acceptable(const bhttp::request_parser<bhttp::empty_body>& parser, std::size_t limit) {
    const auto& header = parser.get();
    if (auto [first, last] = header.equal_range(bhttp::field::transfer_encoding); first != last) {
        if (std::next(first) != last || !beast::iequals(first->value(), "chunked")) return false;  // 501
    }
    if (header.version() >= 11 && header.find(bhttp::field::host) == header.end()) return false;  // 400
    if (auto length = parser.content_length(); length && *length > limit) return false;           // 413
    return true;
}

// What an exchange reads of a request before a handler sees it.
void read_like_an_exchange(const bhttp::request<bhttp::string_body>& request) {
    volatile std::size_t seen = 0;
    if (beast::websocket::is_upgrade(request)) seen = seen + 1;
    auto url = boost::urls::parse_origin_form(request.target());
    if (url) {
        seen = seen + url->encoded_path().size();
        auto params = url->params();
        for (const auto& param : params) seen = seen + param.key.size() + param.value.size();
        for (std::string_view name : {"hub.mode", "hub.verify_token", "hub.challenge", "after_seq", "token"})
            if (auto it = params.find(name); it != params.end()) seen = seen + (*it).value.size();
    }
    for (const auto& field : request) seen = seen + field.name_string().size() + field.value().size();
    seen = seen + request.method_string().size() + request.body().size() + (request.keep_alive() ? 1 : 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t chunk = data[0] == 0 ? size : data[0];
    Connection connection(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), chunk);

    for (;;) {  // one request after another while the connection is kept alive
        std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser;
        header_parser.emplace();
        header_parser->header_limit(16 * 1024);
        header_parser->body_limit(boost::none);
        if (!connection.read(*header_parser, [](const auto& p) { return p.is_header_done(); })) return 0;

        const bool webhook = header_parser->get().target().starts_with("/webhooks/");
        const std::size_t limit = webhook ? kWebhookBodyLimit : kApiBodyLimit;
        if (!header_acceptable(*header_parser, limit)) return 0;

        bhttp::request_parser<bhttp::string_body> parser(std::move(*header_parser));
        header_parser.reset();
        parser.body_limit(limit);
        if (!connection.read(parser, [](const auto& p) { return p.is_done(); })) return 0;

        bhttp::request<bhttp::string_body> request = parser.release();
        if (request.body().size() > limit) __builtin_trap();  // the limit must hold for chunked bodies too
        read_like_an_exchange(request);
        if (beast::websocket::is_upgrade(request) || !request.keep_alive()) return 0;
    }
}
