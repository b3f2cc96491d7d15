/**
 * @file switchboard/plugin.hpp
 * @brief Header-only C++17 convenience layer over the Switchboard plugin C ABI (plugin_abi.h).
 *
 * Nothing here crosses the ABI: the host still sees only the C descriptor from plugin_abi.h.
 * This header gives a plugin author
 *   - string views over the borrowed `sb_str` buffers (view(), to_sb_str()),
 *   - typed wrappers of the host services (Host, Call) and of requests/responses,
 *   - a base class (Instance) whose virtual functions are the plugin's entry points; the
 *     generated C trampolines catch every exception and turn it into a status code, a
 *     verdict or a send class with a message, so no exception ever reaches the host,
 *   - safe bounded copies into the ABI's fixed buffers (copy_bounded()),
 *   - a small JSON writer for normalized events (JsonWriter),
 *   - SWITCHBOARD_PLUGIN(), which defines the static descriptor and the exported entry point.
 *
 * Minimal plugin:
 * @code
 *   #include <switchboard/plugin.hpp>
 *   class Echo : public switchboard::Instance {
 *   public:
 *       Echo(const switchboard::Host& host, std::string_view settings) : Instance(host) { ... }
 *       sb_verdict verify(const switchboard::Request& r, switchboard::Call& call) override { ... }
 *       void parse(const switchboard::Request& r, switchboard::Call& call) override { ... }
 *       void build_send(std::string_view outbound, switchboard::Call& call) override { ... }
 *       switchboard::SendResult classify_send(std::string_view outbound, const switchboard::Response& r,
 *                                             switchboard::Call& call) override { ... }
 *   };
 *   SWITCHBOARD_PLUGIN(Echo, "echo", "1.0.0", "Echoes", kSchema, SB_CAP_THREAD_SAFE)
 * @endcode
 *
 * The header uses only the C++17 standard library and is self-contained: no Boost, no JSON
 * parser. Parse JSON with whatever library you like; write events with JsonWriter.
 */
#pragma once

#include <switchboard/plugin_abi.h>
#include <switchboard/errors.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace switchboard {

// ---- Strings -------------------------------------------------------------------------------

/// A view of a borrowed host string. Valid only as long as the buffer it views: for the
/// arguments of a plugin call, until that call returns. {NULL, n} is the empty view.
inline std::string_view view(sb_str s) noexcept {
    return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}

/// An `sb_str` viewing `s`. The caller keeps `s` alive for as long as the host may read it
/// (host services copy what they keep, so "until the service call returns").
inline sb_str to_sb_str(std::string_view s) noexcept { return sb_str{s.data(), s.size()}; }

/// ASCII case-insensitive equality (HTTP header names).
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
        char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
        if (x != y) return false;
    }
    return true;
}

/// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
inline bool is_valid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (s.size() - i <= n) return false;  // truncated sequence
        for (std::size_t k = 1; k <= n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

/// Copies `text` into the caller-owned array `out` of `size` bytes: truncated to size-1 bytes
/// on a UTF-8 character boundary, always NUL-terminated. Never writes past `out + size`.
/// Does nothing when `out` is NULL or `size` is 0.
inline void copy_bounded(char* out, std::size_t size, std::string_view text) noexcept {
    if (out == nullptr || size == 0) return;
    std::size_t n = text.size() < size - 1 ? text.size() : size - 1;
    if (n < text.size()) {
        // Step back over continuation bytes so a multi-byte character is never cut in half.
        while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    }
    if (n > 0) std::memcpy(out, text.data(), n);
    out[n] = '\0';
}

/// copy_bounded() into a fixed array such as sb_error::message or sb_send_result::platform_id.
template <std::size_t N>
void copy_bounded(char (&out)[N], std::string_view text) noexcept {
    copy_bounded(out, N, text);
}

/// Decimal text of an integer of any width and signedness. Used instead of std::to_string,
/// whose libstdc++ helpers would become (unique, default-visibility) symbols of the plugin.
template <class Int, std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
std::string decimal(Int value) {
    using Unsigned = std::make_unsigned_t<Int>;
    bool negative = false;
    Unsigned magnitude = static_cast<Unsigned>(value);
    if constexpr (std::is_signed_v<Int>) {
        negative = value < 0;
        // Negated in unsigned arithmetic: -INT64_MIN does not fit in int64.
        if (negative) magnitude = static_cast<Unsigned>(Unsigned(0) - magnitude);
    }
    char buffer[24];
    char* end = buffer + sizeof buffer;
    char* p = end;
    do {
        *--p = static_cast<char>('0' + magnitude % 10);
        magnitude = static_cast<Unsigned>(magnitude / 10);
    } while (magnitude != 0);
    if (negative) *--p = '-';
    return std::string(p, static_cast<std::size_t>(end - p));
}

/// Lower-case hexadecimal of `bytes`.
inline std::string hex(const std::uint8_t* bytes, std::size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        out.push_back(kDigits[bytes[i] >> 4]);
        out.push_back(kDigits[bytes[i] & 15]);
    }
    return out;
}

/// Standard base64 (RFC 4648 §4, with '=' padding) of `bytes`: how LINE and Shopify carry an
/// HMAC signature, and how HTTP Basic credentials are written.
inline std::string base64(const std::uint8_t* bytes, std::size_t size) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((size + 2) / 3 * 4);
    for (std::size_t i = 0; i < size; i += 3) {
        const std::uint32_t n = std::uint32_t(bytes[i]) << 16 |
                                (i + 1 < size ? std::uint32_t(bytes[i + 1]) << 8 : 0) |
                                (i + 2 < size ? std::uint32_t(bytes[i + 2]) : 0);
        out.push_back(kAlphabet[n >> 18 & 63]);
        out.push_back(kAlphabet[n >> 12 & 63]);
        out.push_back(i + 1 < size ? kAlphabet[n >> 6 & 63] : '=');
        out.push_back(i + 2 < size ? kAlphabet[n & 63] : '=');
    }
    return out;
}
inline std::string base64(std::string_view bytes) {
    return base64(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

/// The bytes of standard base64 `text` (padding required, no whitespace), or nullopt when
/// `text` is not that: for signatures and payload fields that arrive base64-encoded.
inline std::optional<std::string> base64_decode(std::string_view text) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
        if (pad == 1 && text[i + 2] == '=') return std::nullopt;  // "x=y=" is not padding
        std::uint32_t n = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const int v = k >= 4 - static_cast<std::size_t>(pad) ? 0 : value(text[i + k]);
            if (v < 0) return std::nullopt;
            n = n << 6 | static_cast<std::uint32_t>(v);
        }
        out.push_back(static_cast<char>(n >> 16 & 255));
        if (pad < 2) out.push_back(static_cast<char>(n >> 8 & 255));
        if (pad < 1) out.push_back(static_cast<char>(n & 255));
    }
    return out;
}

// ---- Names ---------------------------------------------------------------------------------

/// The name of a verdict as logs and tools print it ("accept", "unauthorized", ...); "?" for a
/// value no minor defines.
inline const char* name(sb_verdict verdict) noexcept {
    static constexpr const char* kNames[] = {"accept", "unauthorized", "forbidden", "bad_request",
                                             "responded"};
    auto i = static_cast<std::size_t>(verdict);
    return i < sizeof kNames / sizeof *kNames ? kNames[i] : "?";
}
/// The name of a send class ("ok", "retryable", "rate_limited", ...); "?" for an unknown value.
inline const char* name(sb_send_class send_class) noexcept {
    static constexpr const char* kNames[] = {"ok",   "retryable",     "rate_limited", "permanent",
                                             "auth", "window_closed", "continue"};
    auto i = static_cast<std::size_t>(send_class);
    return i < sizeof kNames / sizeof *kNames ? kNames[i] : "?";
}
/// The name of a status ("ok", "invalid", "unsupported", "internal"); "?" for an unknown value.
inline const char* name(sb_status status) noexcept {
    switch (status) {
        case SB_OK:
            return "ok";
        case SB_E_INVALID:
            return "invalid";
        case SB_E_UNSUPPORTED:
            return "unsupported";
        case SB_E_INTERNAL:
            return "internal";
    }
    return "?";
}

// ---- Errors --------------------------------------------------------------------------------

/// Writes `message` into a caller-owned sb_error (if it is large enough to have `message`),
/// bounded and NUL-terminated.
inline void set_error(sb_error* err, std::string_view message) noexcept {
    if (SB_HAS_MEMBER(err, sb_error, message)) copy_bounded(err->message, message);
}

// ---- JSON writer ---------------------------------------------------------------------------

/// A small streaming JSON writer for normalized events (share/doc/switchboard/normalized-events.md). It
/// writes compact JSON into a std::string, inserts commas itself and escapes strings correctly (quote,
/// backslash, control characters as \\u00XX, and invalid UTF-8 replaced with U+FFFD so that the output is
/// always valid UTF-8 JSON the host accepts). Misuse (a value where a key is expected, unbalanced ends)
/// throws std::logic_error: a bug, reported as SB_E_INTERNAL.
///
/// @code
///   switchboard::JsonWriter w;
///   w.begin_object().key("v").integer(1).key("type").string("typing")
///    .key("state").string("on").end_object();
///   call.emit(w.str());
/// @endcode
class JsonWriter {
public:
    JsonWriter& begin_object() {
        before_value();
        out_.push_back('{');
        stack_.push_back(Frame{true, true, false});
        return *this;
    }
    JsonWriter& end_object() {
        if (stack_.empty() || !stack_.back().object || stack_.back().has_key)
            throw std::logic_error("JsonWriter: end_object without a matching begin_object");
        stack_.pop_back();
        out_.push_back('}');
        return *this;
    }
    JsonWriter& begin_array() {
        before_value();
        out_.push_back('[');
        stack_.push_back(Frame{false, true, false});
        return *this;
    }
    JsonWriter& end_array() {
        if (stack_.empty() || stack_.back().object)
            throw std::logic_error("JsonWriter: end_array without a matching begin_array");
        stack_.pop_back();
        out_.push_back(']');
        return *this;
    }
    /// The next member's name; must be followed by exactly one value.
    JsonWriter& key(std::string_view name) {
        if (stack_.empty() || !stack_.back().object || stack_.back().has_key)
            throw std::logic_error("JsonWriter: key outside an object or after another key");
        if (!stack_.back().first) out_.push_back(',');
        stack_.back().first = false;
        stack_.back().has_key = true;
        append_string(name);
        out_.push_back(':');
        return *this;
    }
    JsonWriter& string(std::string_view value) {
        before_value();
        append_string(value);
        return *this;
    }
    JsonWriter& integer(std::int64_t value) {
        before_value();
        out_ += decimal(value);
        return *this;
    }
    /// A finite number; NaN and infinities have no JSON form and throw InvalidInput.
    JsonWriter& number(double value) {
        if (!std::isfinite(value)) throw InvalidInput("a number is not finite");
        before_value();
        char buffer[32];
        int n = std::snprintf(buffer, sizeof buffer, "%.17g", value);
        for (int i = 0; i < n; ++i) out_.push_back(buffer[i] == ',' ? '.' : buffer[i]);  // any locale
        return *this;
    }
    JsonWriter& boolean(bool value) {
        before_value();
        out_ += value ? "true" : "false";
        return *this;
    }
    JsonWriter& null() {
        before_value();
        out_ += "null";
        return *this;
    }
    /// Inserts `json` as one value without checking it: only for text that is already a
    /// valid JSON value (e.g. serialized by a JSON library).
    JsonWriter& raw(std::string_view json) {
        before_value();
        out_.append(json.data(), json.size());
        return *this;
    }

    /// True when exactly one complete top-level value has been written.
    bool complete() const noexcept { return stack_.empty() && !out_.empty(); }
    /// The JSON written so far.
    const std::string& str() const noexcept { return out_; }
    /// Moves the JSON out and resets the writer.
    std::string take() {
        std::string out = std::move(out_);
        out_.clear();
        stack_.clear();
        return out;
    }

private:
    struct Frame {
        bool object;
        bool first;
        bool has_key;
    };

    void before_value() {
        if (stack_.empty()) {
            if (!out_.empty()) throw std::logic_error("JsonWriter: a second top-level value");
            return;
        }
        Frame& f = stack_.back();
        if (f.object) {
            if (!f.has_key) throw std::logic_error("JsonWriter: a value in an object needs a key first");
            f.has_key = false;
        } else {
            if (!f.first) out_.push_back(',');
            f.first = false;
        }
    }

    void append_string(std::string_view s) {
        static constexpr char kHex[] = "0123456789abcdef";
        out_.push_back('"');
        std::size_t i = 0;
        while (i < s.size()) {
            auto c = static_cast<unsigned char>(s[i]);
            if (c < 0x80) {
                switch (c) {
                    case '"':
                        out_ += "\\\"";
                        break;
                    case '\\':
                        out_ += "\\\\";
                        break;
                    case '\n':
                        out_ += "\\n";
                        break;
                    case '\r':
                        out_ += "\\r";
                        break;
                    case '\t':
                        out_ += "\\t";
                        break;
                    case '\b':
                        out_ += "\\b";
                        break;
                    case '\f':
                        out_ += "\\f";
                        break;
                    default:
                        if (c < 0x20 || c == 0x7F) {
                            out_ += "\\u00";
                            out_.push_back(kHex[c >> 4]);
                            out_.push_back(kHex[c & 15]);
                        } else {
                            out_.push_back(static_cast<char>(c));
                        }
                }
                ++i;
                continue;
            }
            std::size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
            if (n != 0 && i + n <= s.size() && is_valid_utf8(s.substr(i, n))) {
                out_.append(s.data() + i, n);
                i += n;
            } else {
                out_ += "\xEF\xBF\xBD";  // U+FFFD for each byte that starts no valid character
                ++i;
            }
        }
        out_.push_back('"');
    }

    std::string out_;
    std::vector<Frame> stack_;
};

/// The `ignored` event (normalized-events.md): an update this plugin drops by design, which the
/// host counts in switchboard_ignored_updates_total{channel,kind} and never stores. `kind` is
/// what the platform calls the update; characters a kind may not hold (anything but a-z, 0-9,
/// '_' and '.') are left out, and it is cut to 64 ("unknown" when nothing is left).
inline std::string ignored_event(std::string_view kind, std::int64_t timestamp_ms) {
    std::string clean;
    for (char c : kind.substr(0, 64))
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.') clean.push_back(c);
    if (clean.empty()) clean = "unknown";
    JsonWriter w;
    w.begin_object().key("v").integer(1).key("type").string("ignored").key("kind").string(clean);
    w.key("timestamp_ms").integer(timestamp_ms).end_object();
    return w.str();
}

// ---- Host services -------------------------------------------------------------------------

/// The host's services for one instance (sb_host_services + the instance's sb_host_ctx).
/// Copyable and cheap. Valid from open() until close() returns; every function is thread-safe
/// and may be called from whatever thread is running a plugin call.
class Host {
public:
    Host(const sb_host_services* services, sb_host_ctx* ctx) noexcept : services_(services), ctx_(ctx) {}

    /// True when the table is of this ABI major and has every v1.0 member.
    bool usable() const noexcept {
        return SB_HAS_MEMBER(services_, sb_host_services, respond) && services_->abi_major == SB_ABI_MAJOR;
    }
    /// The host's ABI minor (what SB_HAS_MEMBER checks on newer members are about).
    std::uint16_t abi_minor() const noexcept { return services_->abi_minor; }

    /// Logs one line; the host adds the channel id. Prefer Instance::log(), which redacts the
    /// instance's secrets first. The host copies `message`.
    void log(sb_log_level level, std::string_view message) const noexcept {
        if (services_->log != nullptr) services_->log(ctx_, level, to_sb_str(message));
    }
    /// HMAC-SHA256(key, data).
    std::array<std::uint8_t, 32> hmac_sha256(std::string_view key, std::string_view data) const noexcept {
        std::array<std::uint8_t, 32> out{};
        services_->hmac_sha256(to_sb_str(key), to_sb_str(data), out.data());
        return out;
    }
    /// Lower-case hex of HMAC-SHA256(key, data): the usual "sha256=<hex>" signature payload.
    std::string hmac_sha256_hex(std::string_view key, std::string_view data) const {
        auto mac = hmac_sha256(key, data);
        return hex(mac.data(), mac.size());
    }
    /// Standard base64 of HMAC-SHA256(key, data): LINE's x-line-signature and Shopify's
    /// X-Shopify-Hmac-Sha256 (over the raw body). Slack's v0= signature is hex
    /// (hmac_sha256_hex); Twilio's X-Twilio-Signature is HMAC-SHA1, which the host does not offer.
    std::string hmac_sha256_base64(std::string_view key, std::string_view data) const {
        auto mac = hmac_sha256(key, data);
        return base64(mac.data(), mac.size());
    }
    /// Equality in time independent of where `a` and `b` differ (compare secrets with this).
    bool constant_time_equal(std::string_view a, std::string_view b) const noexcept {
        return services_->constant_time_equal(to_sb_str(a), to_sb_str(b)) != 0;
    }
    /// Milliseconds since the Unix epoch (the host's clock; tests may inject one).
    std::int64_t now_ms() const noexcept { return services_->now_ms(); }

    const sb_host_services* services() const noexcept { return services_; }
    sb_host_ctx* context() const noexcept { return ctx_; }

private:
    const sb_host_services* services_;
    sb_host_ctx* ctx_;
};

/// One HTTP request the plugin asks the host to send (build_send, poll_request, a
/// SB_SEND_CONTINUE step). `url` is absolute. Owned by the plugin; the host copies it.
struct OutgoingRequest {
    std::string method = "POST";
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::uint32_t timeout_ms = 0;  ///< 0 = the host's default
};

/// The host-owned state of one plugin call (sb_call), valid until the call returns. Which of
/// its functions the current call takes is fixed by the ABI: emit() in parse() and
/// poll_response(), submit() in build_send(), poll_request() and classify_send(), respond()
/// in verify(). Using one the call does not take throws std::logic_error (a plugin bug).
class Call {
public:
    Call(const Host& host, sb_call* call) noexcept : host_(host), call_(call) {}

    /// Hands one normalized event (a JSON object, share/doc/switchboard/normalized-events.md) to the host,
    /// which copies it. In poll_response(): one raw update, queued like a webhook body.
    void emit(std::string_view json) {
        if (host_.services()->emit_event(call_, to_sb_str(json)) != 0)
            throw std::logic_error("the host does not take events in this call");
    }
    /// Hands the request to send to the host, which copies it.
    void submit(const OutgoingRequest& request) {
        if (submit_request(request) != 0)
            throw std::logic_error("the host does not take a request in this call");
    }
    /// parse() only (host ABI 1.1): a follow-up request the host sends once the parsed events
    /// are stored (e.g. acknowledging a button press); its answer is not given back. False when
    /// the host cannot (a 1.0 host): treat follow-ups as best effort.
    bool follow_up(const OutgoingRequest& request) {
        return host_.services()->abi_minor >= 1 && submit_request(request) == 0;
    }
    /// verify(): records why the request is refused and returns `verdict`, so that a refusal
    /// reads as one statement:
    ///   return call.refuse(SB_VERIFY_FORBIDDEN, "X-Example-Signature does not match the body");
    /// The host (ABI 1.2) logs the reason with the verdict and never sends it to the caller; an
    /// older host has no place for it and only the verdict counts. Never put a secret or the
    /// expected value in `reason`.
    sb_verdict refuse(sb_verdict verdict, std::string_view reason) const noexcept {
        const sb_host_services* s = host_.services();
        if (SB_HAS_MEMBER(s, sb_host_services, refuse_reason) && s->refuse_reason != nullptr)
            s->refuse_reason(call_, to_sb_str(reason));
        return verdict;
    }
    /// verify(): the plugin's own HTTP answer; return SB_VERIFY_RESPONDED afterwards.
    void respond(int status, std::string_view content_type, std::string_view body) {
        if (host_.services()->respond(call_, status, to_sb_str(content_type), to_sb_str(body)) != 0)
            throw std::logic_error("the host does not take a response in this call");
    }

private:
    int submit_request(const OutgoingRequest& request) {
        std::vector<sb_header> headers;
        headers.reserve(request.headers.size());
        for (const auto& [name, value] : request.headers)
            headers.push_back(sb_header{to_sb_str(name), to_sb_str(value)});
        sb_http_request r{};
        r.size = sizeof r;
        r.method = to_sb_str(request.method);
        r.target = to_sb_str(request.url);
        r.headers = headers.data();
        r.header_count = headers.size();
        r.body = to_sb_str(request.body);
        r.timeout_ms = request.timeout_ms;
        return host_.services()->submit_request(call_, &r);
    }

    Host host_;
    sb_call* call_;
};

/// Read-only view of a borrowed sb_http_request (a webhook as received). Valid during the
/// plugin call only; copy what you keep.
class Request {
public:
    explicit Request(const sb_http_request& r) noexcept : r_(r) {}
    std::string_view method() const noexcept { return view(r_.method); }
    /// Path and query as received, e.g. "/webhooks/api?x=1".
    std::string_view target() const noexcept { return view(r_.target); }
    std::string_view body() const noexcept { return view(r_.body); }
    /// The first header called `name` (case-insensitive).
    std::optional<std::string_view> header(std::string_view name) const noexcept {
        for (std::size_t i = 0; r_.headers != nullptr && i < r_.header_count; ++i)
            if (iequals(view(r_.headers[i].name), name)) return view(r_.headers[i].value);
        return std::nullopt;
    }
    const sb_http_request& raw() const noexcept { return r_; }

private:
    const sb_http_request& r_;
};

/// Read-only view of a borrowed sb_http_response (the platform's answer). Valid during the
/// plugin call only.
class Response {
public:
    explicit Response(const sb_http_response& r) noexcept : r_(r) {}
    /// HTTP status; 0 when no response arrived (transport_error() says why).
    int status() const noexcept { return r_.status; }
    std::string_view body() const noexcept { return view(r_.body); }
    std::string_view transport_error() const noexcept { return view(r_.transport_error); }
    std::optional<std::string_view> header(std::string_view name) const noexcept {
        for (std::size_t i = 0; r_.headers != nullptr && i < r_.header_count; ++i)
            if (iequals(view(r_.headers[i].name), name)) return view(r_.headers[i].value);
        return std::nullopt;
    }
    const sb_http_response& raw() const noexcept { return r_; }

private:
    const sb_http_response& r_;
};

/// What classify_send() decided; the trampoline copies it into the host's sb_send_result
/// (bounded, redacted).
struct SendResult {
    sb_send_class send_class = SB_SEND_PERMANENT;
    std::uint32_t retry_after_ms = 0;
    std::string platform_id;    ///< SB_SEND_OK: the platform's message id (max 127 bytes)
    std::string platform_code;  ///< errors: the platform's own code ("http_404" when none)
    std::string message;        ///< errors: the platform's description; never a secret

    static SendResult ok(std::string id) { return {SB_SEND_OK, 0, std::move(id), {}, {}}; }
    static SendResult error(sb_send_class c, std::string code, std::string message,
                            std::uint32_t retry_ms = 0) {
        return {c, retry_ms, {}, std::move(code), std::move(message)};
    }
};

/// Copies `r` into the caller-owned `out` (bounded, NUL-terminated; nothing when `out` is too
/// small to have `message`). The trampoline calls it after redacting; tests of code that
/// returns a SendResult may call it to see what the host would.
inline void write_send_result(const SendResult& r, sb_send_result* out) noexcept {
    if (!SB_HAS_MEMBER(out, sb_send_result, message)) return;
    out->send_class = r.send_class;
    out->retry_after_ms = r.retry_after_ms;
    copy_bounded(out->platform_id, r.platform_id);
    copy_bounded(out->platform_code, r.platform_code);
    copy_bounded(out->message, r.message);
}

/// One step of fetching an inbound file (fetch_media(), ABI 1.3); the trampoline copies it into
/// the host's sb_media_step (bounded, redacted).
struct MediaStep {
    sb_media_action action = SB_MEDIA_FAILED;
    std::int64_t max_bytes = 0;       ///< DOWNLOAD: the platform's limit (0 = the host's)
    std::int64_t expected_size = -1;  ///< DOWNLOAD: the announced size, -1 = unknown
    std::string state;                ///< REQUEST/DOWNLOAD: given back as "state" in the next call
    std::string reason;               ///< FAILED/RETRY: short code ("too_large", "not_found", ...)
    std::string message;              ///< FAILED/RETRY: human-readable, never a secret
    std::string mime_type;            ///< the platform's MIME type, "" = unknown
    std::string file_name;            ///< the platform's file name, "" = none
    std::string sha256;               ///< lower-case hex digest the platform gives, "" = none

    /// A metadata request was call.submit()ted; its response comes back with `state`.
    static MediaStep request(std::string state) {
        MediaStep s;
        s.action = SB_MEDIA_REQUEST;
        s.state = std::move(state);
        return s;
    }
    /// The call.submit()ted request's response body is the file.
    static MediaStep download(std::string state) {
        MediaStep s;
        s.action = SB_MEDIA_DOWNLOAD;
        s.state = std::move(state);
        return s;
    }
    static MediaStep failed(std::string reason, std::string message) {
        MediaStep s;
        s.action = SB_MEDIA_FAILED;
        s.reason = std::move(reason);
        s.message = std::move(message);
        return s;
    }
    static MediaStep retry(std::string reason, std::string message) {
        MediaStep s = failed(std::move(reason), std::move(message));
        s.action = SB_MEDIA_RETRY;
        return s;
    }
    /// Nothing to fetch or keep (an Instagram story mention: the link only).
    static MediaStep skip() {
        MediaStep s;
        s.action = SB_MEDIA_SKIP;
        return s;
    }
};

/// Copies `s` into the caller-owned `out` (bounded, NUL-terminated; nothing when `out` is too
/// small to have `sha256`).
inline void write_media_step(const MediaStep& s, sb_media_step* out) noexcept {
    if (!SB_HAS_MEMBER(out, sb_media_step, sha256)) return;
    out->action = s.action;
    out->max_bytes = s.max_bytes;
    out->expected_size = s.expected_size;
    copy_bounded(out->state, s.state);
    copy_bounded(out->reason, s.reason);
    copy_bounded(out->message, s.message);
    copy_bounded(out->mime_type, s.mime_type);
    copy_bounded(out->file_name, s.file_name);
    copy_bounded(out->sha256, s.sha256);
}

/// A multipart/form-data body (RFC 7578) for sending an agent's upload (ABI 1.3): the outbound
/// content carries "upload":{"id","mime_type","size","file_name","sha256","placeholder"}; put
/// `placeholder` as the file part's bytes and the host puts the upload's bytes there before it
/// sends the request (the plugin never holds the file).
class MultipartBody {
public:
    /// `boundary_seed`: something unique to the file, e.g. its sha256.
    explicit MultipartBody(std::string_view boundary_seed)
        : boundary_("switchboard-" + std::string(boundary_seed.substr(0, 48))) {}
    MultipartBody& field(std::string_view name, std::string_view value) {
        begin_part(name);
        body_ += "\r\n\r\n";  // the end of the part's header, then an empty line
        body_.append(value.data(), value.size());
        body_ += "\r\n";
        return *this;
    }
    MultipartBody& file(std::string_view name, std::string_view file_name, std::string_view content_type,
                        std::string_view placeholder) {
        begin_part(name);
        body_ += "; filename=\"" + escaped(file_name) + "\"\r\nContent-Type: ";
        body_ += content_type.empty() ? std::string_view("application/octet-stream") : content_type;
        body_ += "\r\n\r\n";
        body_.append(placeholder.data(), placeholder.size());
        body_ += "\r\n";
        return *this;
    }
    /// The request's Content-Type header.
    std::string content_type() const { return "multipart/form-data; boundary=" + boundary_; }
    /// The body, closed; the builder is empty afterwards.
    std::string finish() {
        body_ += "--" + boundary_ + "--\r\n";
        return std::move(body_);
    }

private:
    void begin_part(std::string_view name) {
        body_ += "--" + boundary_ + "\r\nContent-Disposition: form-data; name=\"" + escaped(name) + "\"";
    }
    // Quotes and line breaks in a name are percent-encoded (the HTML form encoding).
    static std::string escaped(std::string_view text) {
        std::string out;
        for (char c : text) {
            if (c == '"')
                out += "%22";
            else if (c == '\r')
                out += "%0D";
            else if (c == '\n')
                out += "%0A";
            else
                out.push_back(c);
        }
        return out;
    }

    std::string boundary_;
    std::string body_;
};

// ---- Instance ------------------------------------------------------------------------------

/// Base class of a plugin's per-channel instance. Derive from it, give the derived class a
/// constructor `(const Host&, std::string_view settings_json)` and override the pure virtual
/// functions; SWITCHBOARD_PLUGIN() generates the C entry points that call them.
///
/// Every override may throw: InvalidInput → SB_E_INVALID, Unsupported → SB_E_UNSUPPORTED,
/// anything else → SB_E_INTERNAL (in verify(): SB_VERIFY_BAD_REQUEST; in classify_send():
/// SB_SEND_PERMANENT), with the exception's message (secrets registered with add_secret()
/// redacted) in the host's error buffer.
///
/// Threads: the constructor and the destructor run on one host thread (start-up, reload);
/// no other call on the instance is in flight then. The other functions run on host threads
/// (I/O threads for verify(), worker threads for the rest); concurrently with each other only
/// when the descriptor has SB_CAP_THREAD_SAFE, otherwise the host serializes them.
class Instance {
public:
    explicit Instance(const Host& host) noexcept : host_(host) {}
    virtual ~Instance() = default;
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    /// Is this webhook request authentic? Fast and pure (an I/O thread waits); no events.
    virtual sb_verdict verify(const Request& request, Call& call) = 0;
    /// Turns an accepted (and stored) webhook into zero or more events with call.emit().
    /// Throw InvalidInput for a body that can never be parsed: the host dead-letters it.
    virtual void parse(const Request& request, Call& call) = 0;
    /// Builds the platform request for one normalized outbound request and call.submit()s it.
    virtual void build_send(std::string_view outbound_json, Call& call) = 0;
    /// Classifies the platform's answer to a request from build_send().
    virtual SendResult classify_send(std::string_view outbound_json, const Response& response,
                                     Call& call) = 0;
    /// SB_CAP_LONG_POLL only: submit the next long-poll request.
    virtual void poll_request(Call&) { throw Unsupported("this plugin does not long-poll"); }
    /// SB_CAP_LONG_POLL only: emit each raw update of a long-poll response.
    virtual void poll_response(const Response&, Call&) {
        throw Unsupported("this plugin does not long-poll");
    }
    /// What classify_send() reports when it could not classify: it threw (`why` is what()), or
    /// the host gave no usable response. The default, SB_SEND_PERMANENT, reports the failure
    /// rather than retrying blindly; a plugin for a platform where a lost reply is worse than a
    /// possible duplicate returns SB_SEND_RETRYABLE. Must not throw.
    virtual SendResult unclassified(std::string_view why) const {
        return SendResult::error(SB_SEND_PERMANENT, "plugin_error",
                                 std::string("could not classify the response: ").append(why));
    }
    /// The platform account this instance serves, or "" (see sb_plugin_v1::account). The
    /// returned view must stay valid until the instance is destroyed (return a member).
    virtual std::string_view account() const noexcept { return {}; }
    /// SB_CAP_MEDIA_IN only (ABI 1.3): one step of fetching an inbound file. `media_json` is
    /// {"v":1,"content":{…},"state":"…"?}; `previous` is nullptr on the first step, else the
    /// answer to the request the previous step submitted (a DOWNLOAD's only when not 2xx).
    virtual MediaStep fetch_media(std::string_view media_json, const Response* previous, Call& call) {
        (void)media_json, (void)previous, (void)call;
        throw Unsupported("this plugin does not fetch media");
    }

    const Host& host() const noexcept { return host_; }

    /// Logs through the host after redacting every registered secret.
    void log(sb_log_level level, std::string_view message) const noexcept {
        try {
            host_.log(level, redact(message));
        } catch (...) {
            host_.log(SB_LOG_ERROR, "log line dropped (no memory)");
        }
    }

    /// `text` with every registered secret replaced by "<redacted>".
    std::string redact(std::string_view text) const {
        std::string out(text);
        for (const std::string& secret : secrets_) {
            if (secret.empty()) continue;
            for (auto pos = out.find(secret); pos != std::string::npos; pos = out.find(secret, pos + 10))
                out.replace(pos, secret.size(), "<redacted>");
        }
        return out;
    }

protected:
    /// Registers a value (token, shared secret) that must never leave the plugin in a log line,
    /// error message or send result. Call from the constructor only (not thread-safe).
    void add_secret(std::string secret) { secrets_.push_back(std::move(secret)); }

private:
    Host host_;
    std::vector<std::string> secrets_;
};

namespace detail {

inline Instance* self(sb_instance* p) noexcept { return reinterpret_cast<Instance*>(p); }

// Runs `body` (returning sb_status) so that no exception escapes; errors go into `err`.
template <class Body>
sb_status guarded(sb_error* err, const Instance* instance, Body&& body) noexcept {
    auto message = [&](std::string_view prefix, const char* what) {
        try {
            std::string text = std::string(prefix) + what;
            set_error(err, instance != nullptr ? instance->redact(text) : text);
        } catch (...) {
            set_error(err, "error (no memory for its description)");
        }
    };
    try {
        return body();
    } catch (const InvalidInput& e) {
        message("", e.what());
        return SB_E_INVALID;
    } catch (const Unsupported& e) {
        message("", e.what());
        return SB_E_UNSUPPORTED;
    } catch (const std::bad_alloc&) {
        set_error(err, "out of memory");
        return SB_E_INTERNAL;
    } catch (const std::exception& e) {
        message("internal error: ", e.what());
        return SB_E_INTERNAL;
    } catch (...) {
        set_error(err, "internal error");
        return SB_E_INTERNAL;
    }
}

template <class T>
struct Trampolines {
    static_assert(std::is_base_of_v<Instance, T>,
                  "a plugin instance type must derive from switchboard::Instance");
    static_assert(
        std::is_constructible_v<T, const Host&, std::string_view>,
        "a plugin instance type needs a constructor (const switchboard::Host&, std::string_view settings)");

    static sb_status open(const sb_host_services* services, sb_host_ctx* ctx, sb_str config,
                          sb_instance** out, sb_error* err) noexcept {
        return guarded(err, nullptr, [&]() -> sb_status {
            if (out == nullptr) throw InvalidInput("no place for the instance");
            Host host(services, ctx);
            if (services == nullptr || !host.usable())
                throw InvalidInput("host services missing or of another ABI major");
            Instance* instance = new T(host, view(config));
            *out = reinterpret_cast<sb_instance*>(instance);
            return SB_OK;
        });
    }
    static void close(sb_instance* instance) noexcept { delete self(instance); }

    static sb_verdict verify(sb_instance* instance, sb_call* call, const sb_http_request* request) noexcept {
        try {
            if (instance == nullptr || !SB_HAS_MEMBER(request, sb_http_request, body))
                return SB_VERIFY_BAD_REQUEST;
            Call c(self(instance)->host(), call);
            return self(instance)->verify(Request(*request), c);
        } catch (...) {
            return SB_VERIFY_BAD_REQUEST;
        }
    }
    static sb_status parse(sb_instance* instance, sb_call* call, const sb_http_request* request,
                           sb_error* err) noexcept {
        return guarded(err, self(instance), [&]() -> sb_status {
            if (instance == nullptr || !SB_HAS_MEMBER(request, sb_http_request, body))
                throw InvalidInput("no request to parse");
            Call c(self(instance)->host(), call);
            self(instance)->parse(Request(*request), c);
            return SB_OK;
        });
    }
    static sb_status build_send(sb_instance* instance, sb_call* call, sb_str outbound,
                                sb_error* err) noexcept {
        return guarded(err, self(instance), [&]() -> sb_status {
            if (instance == nullptr) throw InvalidInput("no instance");
            Call c(self(instance)->host(), call);
            self(instance)->build_send(view(outbound), c);
            return SB_OK;
        });
    }
    static void classify_send(sb_instance* instance, sb_call* call, sb_str outbound,
                              const sb_http_response* response, sb_send_result* result) noexcept {
        if (!SB_HAS_MEMBER(result, sb_send_result, message)) return;
        const Instance* in = instance != nullptr ? self(instance) : nullptr;
        auto fill = [&](SendResult r) {
            if (in != nullptr) {
                r.platform_code = in->redact(r.platform_code);
                r.message = in->redact(r.message);
            }
            write_send_result(r, result);
        };
        try {
            try {
                if (in == nullptr || !SB_HAS_MEMBER(response, sb_http_response, transport_error))
                    throw InvalidInput("no response to classify");
                Call c(in->host(), call);
                fill(self(instance)->classify_send(view(outbound), Response(*response), c));
            } catch (const std::exception& e) {
                fill(in != nullptr ? in->unclassified(e.what())
                                   : SendResult::error(SB_SEND_PERMANENT, "plugin_error", e.what()));
            }
        } catch (...) {
            result->send_class = SB_SEND_PERMANENT;
            result->retry_after_ms = 0;
            copy_bounded(result->platform_id, "");
            copy_bounded(result->platform_code, "");
            copy_bounded(result->message, "could not classify the response");
        }
    }
    static sb_status poll_request(sb_instance* instance, sb_call* call, sb_error* err) noexcept {
        return guarded(err, self(instance), [&]() -> sb_status {
            if (instance == nullptr) throw InvalidInput("no instance");
            Call c(self(instance)->host(), call);
            self(instance)->poll_request(c);
            return SB_OK;
        });
    }
    static sb_status poll_response(sb_instance* instance, sb_call* call, const sb_http_response* response,
                                   sb_error* err) noexcept {
        return guarded(err, self(instance), [&]() -> sb_status {
            if (instance == nullptr || !SB_HAS_MEMBER(response, sb_http_response, transport_error))
                throw InvalidInput("no response to read");
            Call c(self(instance)->host(), call);
            self(instance)->poll_response(Response(*response), c);
            return SB_OK;
        });
    }
    static sb_status fetch_media(sb_instance* instance, sb_call* call, sb_str media_json,
                                 const sb_http_response* response, sb_media_step* step,
                                 sb_error* err) noexcept {
        return guarded(err, self(instance), [&]() -> sb_status {
            if (instance == nullptr || !SB_HAS_MEMBER(step, sb_media_step, sha256))
                throw InvalidInput("no instance or no place for the step");
            if (response != nullptr && !SB_HAS_MEMBER(response, sb_http_response, transport_error))
                throw InvalidInput("response too small");
            Call c(self(instance)->host(), call);
            std::optional<Response> previous;
            if (response != nullptr) previous.emplace(*response);
            MediaStep s = self(instance)->fetch_media(view(media_json), previous ? &*previous : nullptr, c);
            s.message = self(instance)->redact(s.message);
            write_media_step(s, step);
            return SB_OK;
        });
    }
    static sb_str account(sb_instance* instance) noexcept {
        if (instance == nullptr) return sb_str{nullptr, 0};
        std::string_view a = self(instance)->account();
        return a.empty() ? sb_str{nullptr, 0} : to_sb_str(a);
    }
};

}  // namespace detail

/// The complete v1.0 descriptor for instance type T. Constant: use it to initialize a
/// `static constexpr` (SWITCHBOARD_PLUGIN does). poll_request/poll_response are set only with
/// SB_CAP_LONG_POLL. All strings must be static (string literals or static arrays).
template <class T>
constexpr sb_plugin_v1 make_descriptor(const char* id, const char* version, const char* description,
                                       const char* config_schema, std::uint64_t capabilities) noexcept {
    using D = detail::Trampolines<T>;
    const bool poll = (capabilities & SB_CAP_LONG_POLL) != 0;
    return sb_plugin_v1{SB_PLUGIN_MAGIC,
                        static_cast<std::uint32_t>(sizeof(sb_plugin_v1)),
                        SB_ABI_MAJOR,
                        SB_ABI_MINOR,
                        0,  // min_host_minor: a v1.0 descriptor works with every 1.x host
                        0,
                        id,
                        version,
                        description,
                        config_schema,
                        capabilities,
                        &D::open,
                        &D::close,
                        &D::verify,
                        &D::parse,
                        &D::build_send,
                        &D::classify_send,
                        poll ? &D::poll_request : nullptr,
                        poll ? &D::poll_response : nullptr,
                        &D::account,
                        (capabilities & SB_CAP_MEDIA_IN) != 0 ? &D::fetch_media : nullptr};
}

}  // namespace switchboard

/// Defines the plugin's static descriptor and its one exported symbol, sb_plugin_entry_v1.
/// Use once per plugin, at namespace scope in one .cpp file:
///   SWITCHBOARD_PLUGIN(MyInstance, "myplatform", "1.2.0", "My platform", kSchema, SB_CAP_THREAD_SAFE)
/// `id` must match [a-z0-9_-]{1,32} and the file name (myplatform.so); `schema` is a JSON Schema
/// string (NUL-terminated, static) of the channel's settings.
#define SWITCHBOARD_PLUGIN(Type, id, version, description, schema, capabilities)                  \
    extern "C" SB_EXPORT const sb_plugin_v1* sb_plugin_entry_v1(void) {                           \
        static constexpr sb_plugin_v1 sb_descriptor_ =                                            \
            ::switchboard::make_descriptor<Type>(id, version, description, schema, capabilities); \
        return &sb_descriptor_;                                                                   \
    }
