#include "meta_common.hpp"

#include <algorithm>
#include <cstring>
#include <exception>

#include "json.hpp"

namespace sb::meta {

namespace {

constexpr std::string_view kSignatureHeader = "X-Hub-Signature-256";
constexpr std::string_view kSignaturePrefix = "sha256=";
constexpr std::size_t kDigestSize = 32;
// Retry-After values beyond a day are not a sane back-off.
constexpr std::int64_t kMaxRetryAfterS = 24 * 3600;

std::string_view view(sb_str s) {
    return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}
sb_str to_sb_str(std::string_view s) { return {s.data(), s.size()}; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

const sb_header* find_header(const sb_header* headers, std::size_t count, std::string_view name) {
    if (headers == nullptr) return nullptr;
    for (std::size_t i = 0; i < count; ++i) {
        if (iequals(view(headers[i].name), name)) return &headers[i];
    }
    return nullptr;
}

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

sb_verdict verify_handshake(const sb_host_services* host, sb_call* call, const sb_http_request* request,
                            std::string_view verify_token) {
    // Without a configured token no handshake can succeed: an empty hub.verify_token must not
    // match an empty setting.
    if (verify_token.empty()) return SB_VERIFY_FORBIDDEN;
    auto hub = read_handshake(view(request->target));
    if (!hub || hub->mode != "subscribe" || !hub->verify_token || !hub->challenge) return SB_VERIFY_FORBIDDEN;
    if (host->constant_time_equal(to_sb_str(*hub->verify_token), to_sb_str(verify_token)) == 0) {
        return SB_VERIFY_FORBIDDEN;
    }
    if (host->respond(call, 200, to_sb_str("text/plain"), to_sb_str(*hub->challenge)) != 0) {
        return SB_VERIFY_BAD_REQUEST;
    }
    return SB_VERIFY_RESPONDED;
}

sb_verdict verify_signature(const sb_host_services* host, const sb_http_request* request,
                            std::string_view app_secret) {
    // Fail closed: without an app secret nothing can be authenticated.
    if (app_secret.empty()) return SB_VERIFY_UNAUTHORIZED;
    const sb_header* header = find_header(request->headers, request->header_count, kSignatureHeader);
    if (header == nullptr) return SB_VERIFY_UNAUTHORIZED;
    std::string_view value = view(header->value);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    if (value.size() != kSignaturePrefix.size() + 2 * kDigestSize ||
        !iequals(value.substr(0, kSignaturePrefix.size()), kSignaturePrefix)) {
        return SB_VERIFY_UNAUTHORIZED;
    }
    value.remove_prefix(kSignaturePrefix.size());
    std::uint8_t given[kDigestSize];
    for (std::size_t i = 0; i < kDigestSize; ++i) {
        int high = hex_value(value[2 * i]);
        int low = hex_value(value[2 * i + 1]);
        if (high < 0 || low < 0) return SB_VERIFY_UNAUTHORIZED;
        given[i] = static_cast<std::uint8_t>(high * 16 + low);
    }
    std::uint8_t expected[kDigestSize];
    // Over the raw body bytes exactly as received (platforms.md 1.2).
    host->hmac_sha256(to_sb_str(app_secret), request->body, expected);
    sb_str a{reinterpret_cast<const char*>(given), kDigestSize};
    sb_str b{reinterpret_cast<const char*>(expected), kDigestSize};
    return host->constant_time_equal(a, b) != 0 ? SB_VERIFY_ACCEPT : SB_VERIFY_UNAUTHORIZED;
}

std::uint32_t retry_after_ms(const sb_http_response* response) {
    const sb_header* header = find_header(response->headers, response->header_count, "Retry-After");
    if (header == nullptr) return 0;
    std::string_view value = view(header->value);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    // Delta-seconds only; an HTTP-date leaves the back-off to the host.
    auto seconds = parse_decimal(value);
    if (!seconds) return 0;
    return static_cast<std::uint32_t>(std::min(*seconds, kMaxRetryAfterS) * 1000);
}

bool is_success(int status) { return status >= 200 && status <= 299; }

int class_for_status(int status) {
    if (status == 429) return SB_SEND_RATE_LIMITED;
    if (status == 401) return SB_SEND_AUTH;
    if (status >= 500 || status == 0) return SB_SEND_RETRYABLE;
    // A 2xx without the expected result is most likely not Meta answering (a proxy), so the
    // message was probably not sent: retrying risks a duplicate, giving up loses it.
    if (is_success(status)) return SB_SEND_RETRYABLE;
    return SB_SEND_PERMANENT;
}

// The class a Graph error code decides on its own, or -1 when the HTTP status should.
int class_for_code(int code, int subcode) {
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
    return -1;
}

void fill(sb_send_result* result, int send_class, std::uint32_t retry_ms, std::string_view code,
          std::string_view message) {
    result->send_class = send_class;
    result->retry_after_ms =
        send_class == SB_SEND_RATE_LIMITED || send_class == SB_SEND_RETRYABLE ? retry_ms : 0;
    if (SB_HAS_MEMBER(result, sb_send_result, platform_id))
        copy_bounded(result->platform_id, sizeof(result->platform_id), "");
    if (SB_HAS_MEMBER(result, sb_send_result, platform_code))
        copy_bounded(result->platform_code, sizeof(result->platform_code), code);
    if (SB_HAS_MEMBER(result, sb_send_result, message))
        copy_bounded(result->message, sizeof(result->message), message);
}

}  // namespace

sb_verdict verify_webhook(const sb_host_services* host, sb_call* call, const sb_http_request* request,
                          std::string_view app_secret, std::string_view verify_token) {
    try {
        if (host == nullptr || !SB_HAS_MEMBER(request, sb_http_request, body)) return SB_VERIFY_BAD_REQUEST;
        std::string_view method = view(request->method);
        if (method == "GET") return verify_handshake(host, call, request, verify_token);
        if (method == "POST") return verify_signature(host, request, app_secret);
        return SB_VERIFY_BAD_REQUEST;
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

void classify_graph_failure(const sb_http_response* response, sb_send_result* result) {
    if (!SB_HAS_MEMBER(result, sb_send_result, send_class)) return;
    try {
        if (!SB_HAS_MEMBER(response, sb_http_response, transport_error)) {
            fill(result, SB_SEND_RETRYABLE, 0, "", "no response to classify");
            return;
        }
        if (response->status == 0) {
            std::string text = "no response from the Graph API";
            if (std::string_view why = view(response->transport_error); !why.empty()) {
                text += ": ";
                text += why;
            }
            fill(result, SB_SEND_RETRYABLE, 0, "", text);
            return;
        }
        const int status = response->status;
        const std::uint32_t retry_ms = retry_after_ms(response);
        std::optional<GraphError> error = parse_graph_error(view(response->body));
        if (!error) {
            std::string text = "HTTP " + decimal(status) +
                               (is_success(status) ? " without the expected Graph API result"
                                                   : " without a Graph API error body");
            fill(result, class_for_status(status), retry_ms, "http_" + decimal(status), text);
            return;
        }
        int send_class = class_for_code(error->code, error->subcode);
        if (send_class < 0) send_class = is_success(status) ? SB_SEND_PERMANENT : class_for_status(status);
        std::string code = decimal(error->code);
        if (error->subcode != 0) {
            code += '/';  // not `"/" + decimal(...)`: GCC 12 -O3's false -Werror=restrict (PR 105651)
            code += decimal(error->subcode);
        }
        std::string text = error->message.empty() ? "Graph API error " + code : error->message;
        if (!error->details.empty() && error->details != error->message) text += ": " + error->details;
        if (!error->fbtrace_id.empty()) text += " (fbtrace_id " + error->fbtrace_id + ")";
        fill(result, send_class, retry_ms, code, text);
    } catch (...) {
        // Unknown outcome: retrying may duplicate, giving up may lose the reply; retry.
        fill(result, SB_SEND_RETRYABLE, 0, "", "internal error while classifying the response");
    }
}

void copy_bounded(char* dest, std::size_t size, std::string_view text) {
    if (dest == nullptr || size == 0) return;
    std::size_t n = std::min(text.size(), size - 1);
    if (n < text.size()) {
        // Do not cut a multi-byte character: back up to the start of the one that would be cut.
        while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    }
    if (n > 0) std::memcpy(dest, text.data(), n);  // an empty view may have a null data()
    dest[n] = '\0';
}

}  // namespace sb::meta
