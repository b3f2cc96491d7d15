#include "meta_common.hpp"

#include <algorithm>
#include <charconv>

#include "json.hpp"

namespace sb::meta {

using switchboard::Host;
using switchboard::iequals;
using switchboard::Request;
using switchboard::Response;
using switchboard::SendResult;

namespace {

constexpr std::string_view kSignatureHeader = "X-Hub-Signature-256";
constexpr std::string_view kSignaturePrefix = "sha256=";
constexpr std::size_t kDigestSize = 32;
// Retry-After values beyond a day are not a sane back-off.
constexpr std::int64_t kMaxRetryAfterS = 24 * 3600;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// Percent-decodes one query component ('+' is a space, as in form encoding). nullopt for a
// broken escape.
std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            int high = hex_value(text[i + 1]);
            int low = hex_value(text[i + 2]);
            if (high < 0 || low < 0) return std::nullopt;
            out += static_cast<char>(high * 16 + low);
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

struct Handshake {
    std::optional<std::string> mode;
    std::optional<std::string> verify_token;
    std::optional<std::string> challenge;
};

// The hub.* parameters of a request target ("/webhooks/wa?hub.mode=subscribe&..."); the first
// occurrence of each wins. nullopt when a parameter is badly encoded.
std::optional<Handshake> read_handshake(std::string_view target) {
    Handshake out;
    auto question = target.find('?');
    if (question == std::string_view::npos) return out;
    std::string_view query = target.substr(question + 1);
    if (auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq));
        auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
        if (!key || !value) return std::nullopt;
        std::optional<std::string>* slot = *key == "hub.mode"           ? &out.mode
                                           : *key == "hub.verify_token" ? &out.verify_token
                                           : *key == "hub.challenge"    ? &out.challenge
                                                                        : nullptr;
        if (slot != nullptr && !*slot) *slot = std::move(*value);
    }
    return out;
}

sb_verdict verify_handshake(const Host& host, const Request& request, switchboard::Call& call,
                            std::string_view verify_token) {
    // Without a configured token no handshake can succeed: an empty hub.verify_token must not
    // match an empty setting.
    if (verify_token.empty())
        return call.refuse(SB_VERIFY_FORBIDDEN, "handshake refused: no verify_token is set");
    auto hub = read_handshake(request.target());
    if (!hub || hub->mode != "subscribe" || !hub->verify_token || !hub->challenge)
        return call.refuse(SB_VERIFY_FORBIDDEN, "a GET that is not a hub.mode=subscribe handshake");
    if (!host.constant_time_equal(*hub->verify_token, verify_token))
        return call.refuse(SB_VERIFY_FORBIDDEN,
                           "handshake refused: hub.verify_token does not match verify_token");
    call.respond(200, "text/plain", *hub->challenge);
    return SB_VERIFY_RESPONDED;
}

sb_verdict verify_signature(const Host& host, const Request& request, switchboard::Call& call,
                            std::string_view app_secret) {
    // Fail closed: without an app secret nothing can be authenticated.
    if (app_secret.empty())
        return call.refuse(SB_VERIFY_UNAUTHORIZED, "no app_secret is set to check signatures with");
    std::optional<std::string_view> header = request.header(kSignatureHeader);
    if (!header) return call.refuse(SB_VERIFY_UNAUTHORIZED, "no X-Hub-Signature-256 header");
    std::string_view value = *header;
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    if (value.size() != kSignaturePrefix.size() + 2 * kDigestSize ||
        !iequals(value.substr(0, kSignaturePrefix.size()), kSignaturePrefix)) {
        return call.refuse(SB_VERIFY_UNAUTHORIZED, "X-Hub-Signature-256 is not sha256=<64 hex digits>");
    }
    value.remove_prefix(kSignaturePrefix.size());
    char given[kDigestSize];
    for (std::size_t i = 0; i < kDigestSize; ++i) {
        int high = hex_value(value[2 * i]);
        int low = hex_value(value[2 * i + 1]);
        if (high < 0 || low < 0)
            return call.refuse(SB_VERIFY_UNAUTHORIZED, "X-Hub-Signature-256 is not sha256=<64 hex digits>");
        given[i] = static_cast<char>(high * 16 + low);
    }
    // Over the raw body bytes exactly as received (platforms.md 1.2).
    auto expected = host.hmac_sha256(app_secret, request.body());
    if (!host.constant_time_equal(
            std::string_view(given, kDigestSize),
            std::string_view(reinterpret_cast<const char*>(expected.data()), kDigestSize)))
        return call.refuse(SB_VERIFY_UNAUTHORIZED,
                           "X-Hub-Signature-256 does not match the body (check app_secret)");
    return SB_VERIFY_ACCEPT;
}

std::uint32_t retry_after_ms(const Response& response) {
    std::optional<std::string_view> header = response.header("Retry-After");
    if (!header) return 0;
    std::string_view value = *header;
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    // Delta-seconds only; an HTTP-date leaves the back-off to the host.
    auto seconds = parse_decimal(value);
    if (!seconds) return 0;
    return static_cast<std::uint32_t>(std::min(*seconds, kMaxRetryAfterS) * 1000);
}

bool is_success(int status) { return status >= 200 && status <= 299; }

sb_send_class class_for_status(int status) {
    if (status == 429) return SB_SEND_RATE_LIMITED;
    if (status == 401) return SB_SEND_AUTH;
    if (status >= 500 || status == 0) return SB_SEND_RETRYABLE;
    // A 2xx without the expected result is most likely not Meta answering (a proxy), so the
    // message was probably not sent: retrying risks a duplicate, giving up loses it.
    if (is_success(status)) return SB_SEND_RETRYABLE;
    return SB_SEND_PERMANENT;
}

// The class a Graph error code decides on its own, or nullopt when the HTTP status should.
std::optional<sb_send_class> class_for_code(int code, int subcode) {
    switch (code) {
        case 4:       // application-level throttling
        case 17:      // account-level throttling
        case 32:      // page-level throttling
        case 613:     // custom-level throttling
        case 80007:   // WABA rate limit
        case 130429:  // per-number throughput
        case 131048:  // spam rate limit
        case 131056:  // pair rate limit
            return SB_SEND_RATE_LIMITED;
        case 131047:  // re-engagement: more than 24 h since the user's last message
        case 470:     // its legacy On-Prem form
            return SB_SEND_WINDOW_CLOSED;
        case 10:
            if (subcode == 2018278) return SB_SEND_WINDOW_CLOSED;  // Messenger: outside the window
            if (subcode == 1893063) return SB_SEND_PERMANENT;      // Page temporarily restricted
            return SB_SEND_AUTH;                                   // permission denied
        case 0:                                                    // AuthException
        case 3:                                                    // capability / permission of the app
        case 102:                                                  // API session
        case 190:  // access token expired or invalid (subcodes 458-467 included)
            return SB_SEND_AUTH;
        case 1:       // unknown, possibly temporary
        case 2:       // service temporarily unavailable
        case 1200:    // Messenger temporary send failure
        case 131000:  // something went wrong
        case 131016:  // service unavailable
            return SB_SEND_RETRYABLE;
        default:
            break;
    }
    if (code >= 200 && code <= 299) return SB_SEND_AUTH;  // API permission family
    return std::nullopt;
}

SendResult failure(sb_send_class send_class, std::uint32_t retry_ms, std::string code, std::string message) {
    bool backs_off = send_class == SB_SEND_RATE_LIMITED || send_class == SB_SEND_RETRYABLE;
    return SendResult::error(send_class, std::move(code), std::move(message), backs_off ? retry_ms : 0);
}

}  // namespace

sb_verdict verify_webhook(const Host& host, const Request& request, switchboard::Call& call,
                          std::string_view app_secret, std::string_view verify_token) {
    try {
        std::string_view method = request.method();
        if (method == "GET") return verify_handshake(host, request, call, verify_token);
        if (method == "POST") return verify_signature(host, request, call, app_secret);
        return call.refuse(SB_VERIFY_BAD_REQUEST, "neither a GET handshake nor a POST");
    } catch (...) {
        return SB_VERIFY_BAD_REQUEST;
    }
}

std::optional<GraphError> parse_graph_error(std::string_view body) {
    try {
        rapidjson::Document doc;
        parse_untrusted(doc, body, "Graph API response");
        const Value* error = find_object(doc, "error");
        if (error == nullptr) return std::nullopt;
        GraphError out;
        auto small_int = [&](const char* key) {
            auto v = find_int(*error, key);
            return v && *v >= 0 && *v <= INT32_MAX ? static_cast<int>(*v) : 0;
        };
        out.code = small_int("code");
        out.subcode = small_int("error_subcode");
        out.message = find_string(*error, "message").value_or("");
        out.type = find_string(*error, "type").value_or("");
        if (const Value* data = find_object(*error, "error_data")) {
            out.details = find_string(*data, "details").value_or("");
        }
        out.fbtrace_id = find_string(*error, "fbtrace_id").value_or("");
        return out;
    } catch (...) {
        return std::nullopt;
    }
}

SendResult classify_graph_failure(const Response& response) {
    try {
        if (response.status() == 0) {
            std::string text = "no response from the Graph API";
            if (std::string_view why = response.transport_error(); !why.empty()) {
                text += ": ";
                text += why;
            }
            return failure(SB_SEND_RETRYABLE, 0, "", text);
        }
        const int status = response.status();
        const std::uint32_t retry_ms = retry_after_ms(response);
        std::optional<GraphError> error = parse_graph_error(response.body());
        if (!error) {
            std::string text = "HTTP " + decimal(status) +
                               (is_success(status) ? " without the expected Graph API result"
                                                   : " without a Graph API error body");
            return failure(class_for_status(status), retry_ms, "http_" + decimal(status), text);
        }
        sb_send_class send_class =
            class_for_code(error->code, error->subcode)
                .value_or(is_success(status) ? SB_SEND_PERMANENT : class_for_status(status));
        std::string code = decimal(error->code);
        if (error->subcode != 0) {
            code += '/';  // not `"/" + decimal(...)`: GCC 12 -O3's false -Werror=restrict (PR 105651)
            code += decimal(error->subcode);
        }
        std::string text = error->message.empty() ? "Graph API error " + code : error->message;
        if (!error->details.empty() && error->details != error->message) text += ": " + error->details;
        if (!error->fbtrace_id.empty()) text += " (fbtrace_id " + error->fbtrace_id + ")";
        return failure(send_class, retry_ms, code, text);
    } catch (...) {
        return unclassified("internal error while classifying the response");
    }
}

SendResult unclassified(std::string_view) {
    // Unknown outcome: retrying may duplicate, giving up may lose the reply; retry.
    return SendResult::error(SB_SEND_RETRYABLE, "", "internal error while classifying the response");
}

std::optional<std::int64_t> parse_decimal(std::string_view text) {
    if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::size_t utf8_length(std::string_view text) {
    std::size_t points = 0;
    for (char c : text) {
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++points;
    }
    return points;
}

}  // namespace sb::meta
