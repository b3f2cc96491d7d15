// WhatsApp Business Cloud API channel plugin: the C ABI face (switchboard/plugin_abi.h).
// Translation lives in config.cpp, inbound.cpp and outbound.cpp, the Meta mechanics shared with
// Messenger and Instagram in plugins/meta_common; this file adapts them to the ABI, turns every
// exception into a status code and keeps secrets out of anything the host may log or show.

#include <switchboard/plugin_abi.h>

#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config.hpp"
#include "inbound.hpp"
#include "json.hpp"
#include "meta_common.hpp"
#include "outbound.hpp"

// The plugin's per-channel state: immutable after open(), so calls may run concurrently
// (SB_CAP_THREAD_SAFE).
struct sb_instance {
    const sb_host_services* host = nullptr;
    sb_host_ctx* ctx = nullptr;
    sb::whatsapp::Settings settings;
};

namespace sb::whatsapp {
namespace {

using sb::meta::copy_bounded;
using sb::meta::InvalidInput;
using sb::meta::Unsupported;

constexpr std::string_view kRedacted = "<redacted>";

std::string_view view(sb_str s) {
    return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}
sb_str to_sb_str(std::string_view s) { return {s.data(), s.size()}; }

// Text from outside the plugin (Graph error messages, transport errors) could quote a secret;
// scrub them before the text leaves the plugin.
std::string redact(std::string text, const sb_instance* instance) {
    if (instance == nullptr) return text;
    const Settings& s = instance->settings;
    for (const std::string* secret : {&s.access_token, &s.app_secret, &s.verify_token}) {
        if (secret->empty()) continue;
        for (auto pos = text.find(*secret); pos != std::string::npos; pos = text.find(*secret, pos)) {
            text.replace(pos, secret->size(), kRedacted);
            pos += kRedacted.size();
        }
    }
    return text;
}

// noexcept: called from the catch handlers of guarded().
void set_error(sb_error* err, std::string_view message, const sb_instance* instance = nullptr,
               std::string_view prefix = {}) noexcept {
    if (!SB_HAS_MEMBER(err, sb_error, message)) return;
    try {
        copy_bounded(err->message, sizeof(err->message),
                     redact(std::string(prefix) + std::string(message), instance));
    } catch (...) {
        copy_bounded(err->message, sizeof(err->message), "error (no memory for its description)");
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
    return SB_HAS_MEMBER(host, sb_host_services, respond) && host->abi_major == SB_ABI_MAJOR &&
           host->hmac_sha256 != nullptr && host->constant_time_equal != nullptr &&
           host->emit_event != nullptr && host->submit_request != nullptr && host->respond != nullptr;
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
        // Legitimate when another channel of the same Meta app receives the webhooks and the
        // host routes this number's events here by account id; worth a line either way.
        if (instance->settings.app_secret.empty()) {
            log_line(
                instance.get(), SB_LOG_WARN,
                "app_secret is not set: webhook POSTs to this channel's URL are refused; its events must "
                "arrive through another channel of the same Meta app");
        }
        if (instance->settings.verify_token.empty()) {
            log_line(instance.get(), SB_LOG_INFO,
                     "verify_token is not set: the subscription handshake on this channel's URL is refused");
        }
        *out = instance.release();
        return SB_OK;
    });
}

void plugin_close(sb_instance* instance) { delete instance; }

sb_verdict plugin_verify(sb_instance* instance, sb_call* call, const sb_http_request* request) {
    if (instance == nullptr) return SB_VERIFY_BAD_REQUEST;
    return sb::meta::verify_webhook(instance->host, call, request, instance->settings.app_secret,
                                    instance->settings.verify_token);
}

sb_status plugin_parse(sb_instance* instance, sb_call* call, const sb_http_request* request, sb_error* err) {
    return guarded(err, instance, [&]() -> sb_status {
        if (instance == nullptr || !SB_HAS_MEMBER(request, sb_http_request, body)) {
            throw InvalidInput("no request to parse");
        }
        Normalized normalized = normalize_webhook(view(request->body));
        for (const LogLine& line : normalized.logs) log_line(instance, line.level, line.message);
        for (const std::string& event : normalized.events) {
            if (instance->host->emit_event(call, to_sb_str(event)) != 0) {
                throw std::runtime_error("host refused an event");
            }
        }
        return SB_OK;
    });
}

sb_status plugin_build_send(sb_instance* instance, sb_call* call, sb_str outbound_json, sb_error* err) {
    return guarded(err, instance, [&]() -> sb_status {
        if (instance == nullptr) throw InvalidInput("no instance");
        ApiRequest api = build_send_request(instance->settings, view(outbound_json));
        std::string authorization = "Bearer " + instance->settings.access_token;
        const sb_header headers[] = {
            {to_sb_str("Authorization"), to_sb_str(authorization)},
            {to_sb_str("Content-Type"), to_sb_str("application/json")},
        };
        sb_http_request request{};
        request.size = sizeof(request);
        request.method = to_sb_str("POST");
        request.target = to_sb_str(api.url);
        request.headers = headers;
        request.header_count = 2;
        request.body = to_sb_str(api.body);
        request.timeout_ms = 0;
        if (instance->host->submit_request(call, &request) != 0)
            throw std::runtime_error("host refused the request");
        return SB_OK;
    });
}

void plugin_classify_send(sb_instance* instance, sb_call*, sb_str outbound_json,
                          const sb_http_response* response, sb_send_result* result) {
    if (!SB_HAS_MEMBER(result, sb_send_result, message)) return;
    try {
        if (!SB_HAS_MEMBER(response, sb_http_response, transport_error)) {
            sb::meta::classify_graph_failure(response, result);
        } else {
            classify_send_response(view(outbound_json), response, result);
        }
        std::string message(result->message);
        copy_bounded(result->message, sizeof(result->message), redact(message, instance));
    } catch (...) {
        // Unknown outcome: a retry may duplicate, giving up may lose the reply; retry.
        result->send_class = SB_SEND_RETRYABLE;
        result->retry_after_ms = 0;
        copy_bounded(result->platform_id, sizeof(result->platform_id), "");
        copy_bounded(result->platform_code, sizeof(result->platform_code), "");
        copy_bounded(result->message, sizeof(result->message),
                     "internal error while classifying the response");
    }
}

sb_str plugin_account(sb_instance* instance) {
    if (instance == nullptr) return {nullptr, 0};
    return to_sb_str(instance->settings.phone_number_id);
}

constexpr sb_plugin_v1 kDescriptor = {
    SB_PLUGIN_MAGIC,
    sizeof(sb_plugin_v1),
    SB_ABI_MAJOR,
    SB_ABI_MINOR,
    0,
    0,
    "whatsapp",
    "0.1.0",
    "WhatsApp Business Cloud API: signed webhooks, messages and statuses, text/media/template sends, read "
    "receipts with typing",
    kConfigSchema,
    SB_CAP_THREAD_SAFE | SB_CAP_MEDIA_OUT | SB_CAP_MARK_READ | SB_CAP_TYPING_OUT,
    plugin_open,
    plugin_close,
    plugin_verify,
    plugin_parse,
    plugin_build_send,
    plugin_classify_send,
    nullptr,
    nullptr,
    plugin_account,
};

}  // namespace
}  // namespace sb::whatsapp

extern "C" SB_EXPORT const sb_plugin_v1* sb_plugin_entry_v1(void) { return &sb::whatsapp::kDescriptor; }
