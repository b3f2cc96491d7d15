// Telegram Bot API channel plugin: the C ABI face (switchboard/plugin_abi.h). Translation lives
// in config.cpp, inbound.cpp and outbound.cpp; this file adapts it to the ABI, turns every
// exception into a status code and keeps secrets out of anything the host may log.

#include <switchboard/plugin_abi.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config.hpp"
#include "inbound.hpp"
#include "json_util.hpp"
#include "outbound.hpp"

// The plugin's per-channel state. Immutable after open() except the poll offset, so calls may
// run concurrently (SB_CAP_THREAD_SAFE).
struct sb_instance {
    const sb_host_services* host = nullptr;
    sb_host_ctx* ctx = nullptr;
    sb::telegram::Settings settings;
    // Next getUpdates offset: max(update_id)+1 of everything handed to the host so far.
    std::atomic<std::int64_t> next_offset{0};
};

namespace sb::telegram {
namespace {

constexpr std::string_view kSecretHeader = "X-Telegram-Bot-Api-Secret-Token";
constexpr std::string_view kRedacted = "<redacted>";

std::string_view view(sb_str s) {
    return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}
sb_str to_sb_str(std::string_view s) { return {s.data(), s.size()}; }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) {
                   return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
               };
               return lower(x) == lower(y);
           });
}

const sb_header* find_header(const sb_header* headers, std::size_t count, std::string_view name) {
    if (headers == nullptr) return nullptr;
    for (std::size_t i = 0; i < count; ++i) {
        if (iequals(view(headers[i].name), name)) return &headers[i];
    }
    return nullptr;
}

// Text from outside the plugin (platform descriptions, transport errors) may quote a URL and
// with it the bot token; scrub both secrets before the text leaves the plugin.
std::string redact(std::string text, const sb_instance* instance) {
    if (instance == nullptr) return text;
    for (const std::string* secret : {&instance->settings.bot_token, &instance->settings.secret_token}) {
        if (secret->empty()) continue;
        for (auto pos = text.find(*secret); pos != std::string::npos; pos = text.find(*secret, pos)) {
            text.replace(pos, secret->size(), kRedacted);
            pos += kRedacted.size();
        }
    }
    return text;
}

// Copies `text` into a fixed caller-owned array: truncated on a UTF-8 character boundary,
// always NUL-terminated.
template <std::size_t N>
void copy_text(char (&out)[N], std::string_view text) {
    std::size_t n = std::min(text.size(), N - 1);
    if (n < text.size()) {
        while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    }
    if (n > 0) std::memcpy(out, text.data(), n);  // an empty view may have a null data()
    out[n] = '\0';
}

// noexcept: called from the catch handlers of guarded().
void set_error(sb_error* err, std::string_view message, const sb_instance* instance = nullptr,
               std::string_view prefix = {}) noexcept {
    if (!SB_HAS_MEMBER(err, sb_error, message)) return;
    try {
        copy_text(err->message, redact(std::string(prefix) + std::string(message), instance));
    } catch (...) {
        copy_text(err->message, "error (no memory for its description)");
    }
}

void log_line(const sb_instance* instance, sb_log_level level, std::string_view message) {
    const sb_host_services* host = instance->host;
    if (SB_HAS_MEMBER(host, sb_host_services, log) && host->log != nullptr) {
        std::string text = redact(std::string(message), instance);
        host->log(instance->ctx, level, to_sb_str(text));
    }
}

// Runs `body` (returning sb_status) so that no exception crosses the ABI.
template <class Body>
sb_status guarded(sb_error* err, const sb_instance* instance, Body&& body) noexcept {
    try {
        return body();
    } catch (const InvalidInput& e) {
        set_error(err, e.what(), instance);
        return SB_E_INVALID;
    } catch (const Unsupported& e) {
        set_error(err, e.what(), instance);
        return SB_E_UNSUPPORTED;
    } catch (const std::bad_alloc&) {
        set_error(err, "out of memory");
        return SB_E_INTERNAL;
    } catch (const std::exception& e) {
        set_error(err, e.what(), instance, "internal error: ");
        return SB_E_INTERNAL;
    } catch (...) {
        set_error(err, "internal error");
        return SB_E_INTERNAL;
    }
}

bool usable_host(const sb_host_services* host) {
    return SB_HAS_MEMBER(host, sb_host_services, respond) && host->abi_major == SB_ABI_MAJOR;
}

// The ABI request for a Bot API call (views into `api`, which must outlive it).
sb_http_request api_request(const ApiRequest& api) {
    static const sb_header kJsonHeader = {{"Content-Type", 12}, {"application/json", 16}};
    sb_http_request request{};
    request.size = sizeof(request);
    request.method = to_sb_str("POST");
    request.target = to_sb_str(api.url);
    request.headers = &kJsonHeader;
    request.header_count = 1;
    request.body = to_sb_str(api.body);
    request.timeout_ms = api.timeout_ms;
    return request;
}

sb_status submit(sb_instance* instance, sb_call* call, const ApiRequest& api) {
    sb_http_request request = api_request(api);
    if (instance->host->submit_request(call, &request) != 0)
        throw std::runtime_error("host refused the request");
    return SB_OK;
}

sb_status plugin_open(const sb_host_services* host, sb_host_ctx* ctx, sb_str config_json, sb_instance** out,
                      sb_error* err) {
    return guarded(err, nullptr, [&]() -> sb_status {
        if (out == nullptr || !usable_host(host))
            throw InvalidInput("host services missing or of another ABI major");
        auto instance = std::make_unique<sb_instance>();
        instance->host = host;
        instance->ctx = ctx;
        instance->settings = parse_settings(view(config_json));
        if (instance->settings.secret_token.empty()) {
            log_line(
                instance.get(), SB_LOG_WARN,
                "secret_token is not set: webhook requests are accepted without authentication; set it here "
                "and in setWebhook");
        }
        *out = instance.release();
        return SB_OK;
    });
}

void plugin_close(sb_instance* instance) { delete instance; }

// Telegram authenticates webhooks with a shared secret in a header (no body signature), so the
// body is not read here. Missing header: 401 (no credentials). Wrong value: 403 (credentials
// refused). With no secret_token configured every POST is accepted (open() warned).
sb_verdict plugin_verify(sb_instance* instance, sb_call*, const sb_http_request* request) {
    try {
        if (instance == nullptr || !SB_HAS_MEMBER(request, sb_http_request, body))
            return SB_VERIFY_BAD_REQUEST;
        if (view(request->method) != "POST") return SB_VERIFY_BAD_REQUEST;
        const std::string& expected = instance->settings.secret_token;
        if (expected.empty()) return SB_VERIFY_ACCEPT;
        const sb_header* header = find_header(request->headers, request->header_count, kSecretHeader);
        if (header == nullptr) return SB_VERIFY_UNAUTHORIZED;
        return instance->host->constant_time_equal(header->value, to_sb_str(expected)) != 0
                   ? SB_VERIFY_ACCEPT
                   : SB_VERIFY_FORBIDDEN;
    } catch (...) {
        return SB_VERIFY_BAD_REQUEST;
    }
}

sb_status plugin_parse(sb_instance* instance, sb_call* call, const sb_http_request* request, sb_error* err) {
    return guarded(err, instance, [&]() -> sb_status {
        if (instance == nullptr || !SB_HAS_MEMBER(request, sb_http_request, body)) {
            throw InvalidInput("no request to parse");
        }
        std::optional<std::string> query_id;
        for (const std::string& event :
             normalize_update(view(request->body), instance->host->now_ms(), &query_id)) {
            if (instance->host->emit_event(call, to_sb_str(event)) != 0) {
                throw std::runtime_error("host refused an event");
            }
        }
        // A tapped inline button spins on the customer's screen until it is answered: ask the
        // host (ABI 1.1) to answer once the tap is stored. A 1.0 host cannot; the tap still
        // reaches the agent, the spinner just times out.
        if (query_id && instance->host->abi_minor >= 1) {
            ApiRequest answer = answer_callback_request(instance->settings, *query_id);
            sb_http_request follow_up = api_request(answer);
            if (instance->host->submit_request(call, &follow_up) != 0)
                log_line(instance, SB_LOG_DEBUG, "host did not take the answerCallbackQuery follow-up");
        }
        return SB_OK;
    });
}

sb_status plugin_build_send(sb_instance* instance, sb_call* call, sb_str outbound_json, sb_error* err) {
    return guarded(err, instance, [&]() -> sb_status {
        if (instance == nullptr) throw InvalidInput("no instance");
        return submit(instance, call, build_send_request(instance->settings, view(outbound_json)));
    });
}

void plugin_classify_send(sb_instance* instance, sb_call*, sb_str, const sb_http_response* response,
                          sb_send_result* result) {
    if (!SB_HAS_MEMBER(result, sb_send_result, message)) return;
    try {
        SendOutcome outcome;
        if (!SB_HAS_MEMBER(response, sb_http_response, transport_error)) {
            outcome.send_class = SB_SEND_RETRYABLE;
            outcome.message = "no response given to classify";
        } else {
            const sb_header* retry_after =
                find_header(response->headers, response->header_count, "Retry-After");
            outcome = classify_send_response(
                response->status, view(response->body), view(response->transport_error),
                retry_after != nullptr ? std::optional(view(retry_after->value)) : std::nullopt);
        }
        result->send_class = outcome.send_class;
        result->retry_after_ms = outcome.retry_after_ms;
        copy_text(result->platform_id, outcome.platform_id);
        copy_text(result->platform_code, outcome.platform_code);
        copy_text(result->message, redact(outcome.message, instance));
    } catch (...) {
        // Unknown outcome: a retry may duplicate, giving up may lose the reply; retry.
        result->send_class = SB_SEND_RETRYABLE;
        result->retry_after_ms = 0;
        copy_text(result->platform_id, "");
        copy_text(result->platform_code, "");
        copy_text(result->message, "internal error while classifying the response");
    }
}

sb_status plugin_poll_request(sb_instance* instance, sb_call* call, sb_error* err) {
    return guarded(err, instance, [&]() -> sb_status {
        if (instance == nullptr) throw InvalidInput("no instance");
        return submit(
            instance, call,
            build_poll_request(instance->settings, instance->next_offset.load(std::memory_order_acquire)));
    });
}

// Moves the offset forward only: concurrent or reordered responses never move it back.
void advance_offset(sb_instance* instance, std::int64_t next) {
    std::int64_t current = instance->next_offset.load(std::memory_order_acquire);
    while (next > current &&
           !instance->next_offset.compare_exchange_weak(current, next, std::memory_order_acq_rel)) {
    }
}

sb_status plugin_poll_response(sb_instance* instance, sb_call* call, const sb_http_response* response,
                               sb_error* err) {
    return guarded(err, instance, [&]() -> sb_status {
        if (instance == nullptr || !SB_HAS_MEMBER(response, sb_http_response, transport_error)) {
            throw InvalidInput("no response to read");
        }
        PollBatch batch =
            read_poll_response(response->status, view(response->body), view(response->transport_error));
        for (std::size_t i = 0; i < batch.updates.size(); ++i) {
            // Confirm (advance past) only what the host has taken: if it refuses one, the next
            // poll fetches it again.
            if (instance->host->emit_event(call, to_sb_str(batch.updates[i])) != 0) {
                throw std::runtime_error("host refused an update");
            }
            if (batch.update_ids[i] && *batch.update_ids[i] < INT64_MAX)
                advance_offset(instance, *batch.update_ids[i] + 1);
        }
        return SB_OK;
    });
}

constexpr sb_plugin_v1 kDescriptor = {
    SB_PLUGIN_MAGIC,
    sizeof(sb_plugin_v1),
    SB_ABI_MAJOR,
    SB_ABI_MINOR,
    0,
    0,
    "telegram",
    "0.1.0",
    "Telegram Bot API: webhooks or getUpdates long polling, text and media by URL, typing",
    kConfigSchema,
    SB_CAP_THREAD_SAFE | SB_CAP_LONG_POLL | SB_CAP_MEDIA_OUT | SB_CAP_TYPING_OUT,
    plugin_open,
    plugin_close,
    plugin_verify,
    plugin_parse,
    plugin_build_send,
    plugin_classify_send,
    plugin_poll_request,
    plugin_poll_response,
    nullptr,  // account: one bot token is one webhook, nothing to route
};

}  // namespace
}  // namespace sb::telegram

extern "C" SB_EXPORT const sb_plugin_v1* sb_plugin_entry_v1(void) { return &sb::telegram::kDescriptor; }
