// The ABI adapter shared by the Messenger and Instagram plugins: turns every exception into a
// status code and keeps secrets out of anything the host may show or log. Translation lives in
// settings.cpp, inbound.cpp and outbound.cpp; what Meta's products share in meta_common.

#include "messaging_common.hpp"

#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include "inbound.hpp"
#include "json.hpp"
#include "meta_common.hpp"
#include "outbound.hpp"
#include "settings.hpp"

// The plugin's per-channel state, immutable after open(): calls may run concurrently
// (SB_CAP_THREAD_SAFE).
struct sb_instance {
    const sb_host_services* host = nullptr;
    sb_host_ctx* ctx = nullptr;
    const sb::messaging::Product* product = nullptr;
    sb::messaging::Settings settings;
    std::string authorization;  // "Bearer <access_token>"
};

namespace sb::messaging {

namespace {

constexpr std::string_view kRedacted = "<redacted>";

std::string_view view(sb_str s) {
    return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}
sb_str to_sb_str(std::string_view s) { return {s.data(), s.size()}; }

// Text from outside the plugin (platform descriptions, transport errors) could quote a secret;
// scrub every secret before the text leaves the plugin.
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
        meta::copy_bounded(err->message, sizeof(err->message),
                           redact(std::string(prefix) + std::string(message), instance));
    } catch (...) {
        meta::copy_bounded(err->message, sizeof(err->message), "error (no memory for its description)");
    }
}

// Runs `body` (returning sb_status) so that no exception crosses the ABI.
template <class Body>
sb_status guarded(sb_error* err, const sb_instance* instance, Body&& body) noexcept {
    try {
        return body();
    } catch (const meta::InvalidInput& e) {
        set_error(err, e.what(), instance);
        return SB_E_INVALID;
    } catch (const meta::Unsupported& e) {
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

}  // namespace

sb_status open_instance(const Product& product, const sb_host_services* host, sb_host_ctx* ctx,
                        sb_str config_json, sb_instance** out, sb_error* err) {
    return guarded(err, nullptr, [&]() -> sb_status {
        if (out == nullptr || !usable_host(host))
            throw meta::InvalidInput("host services missing or of another ABI major");
        auto instance = std::make_unique<sb_instance>();
        instance->host = host;
        instance->ctx = ctx;
        instance->product = &product;
        instance->settings = parse_settings(product, view(config_json));
        instance->authorization = "Bearer " + instance->settings.access_token;
        *out = instance.release();
        return SB_OK;
    });
}

void close_instance(sb_instance* instance) { delete instance; }

sb_verdict verify(sb_instance* instance, sb_call* call, const sb_http_request* request) {
    try {
        if (instance == nullptr || !SB_HAS_MEMBER(request, sb_http_request, body))
            return SB_VERIFY_BAD_REQUEST;
        return meta::verify_webhook(instance->host, call, request, instance->settings.app_secret,
                                    instance->settings.verify_token);
    } catch (...) {
        return SB_VERIFY_BAD_REQUEST;
    }
}

sb_status parse(sb_instance* instance, sb_call* call, const sb_http_request* request, sb_error* err) {
    return guarded(err, instance, [&]() -> sb_status {
        if (instance == nullptr || !SB_HAS_MEMBER(request, sb_http_request, body)) {
            throw meta::InvalidInput("no request to parse");
        }
        // Translate everything before handing anything over: a body that fails half-way is
        // dead-lettered whole, never half-applied.
        for (const std::string& event :
             normalize_webhook(*instance->product, view(request->body), instance->host->now_ms())) {
            if (instance->host->emit_event(call, to_sb_str(event)) != 0)
                throw std::runtime_error("host refused an event");
        }
        return SB_OK;
    });
}

sb_status build_send(sb_instance* instance, sb_call* call, sb_str outbound_json, sb_error* err) {
    return guarded(err, instance, [&]() -> sb_status {
        if (instance == nullptr) throw meta::InvalidInput("no instance");
        ApiRequest api = build_send_request(*instance->product, instance->settings, view(outbound_json));
        // Bearer rather than the access_token query parameter (both accepted, §3.4): the token
        // stays out of URLs, which travel into logs far more often than headers.
        const sb_header headers[] = {{to_sb_str("Content-Type"), to_sb_str("application/json")},
                                     {to_sb_str("Authorization"), to_sb_str(instance->authorization)}};
        sb_http_request request{};
        request.size = sizeof(request);
        request.method = to_sb_str("POST");
        request.target = to_sb_str(api.url);
        request.headers = headers;
        request.header_count = std::size(headers);
        request.body = to_sb_str(api.body);
        if (instance->host->submit_request(call, &request) != 0)
            throw std::runtime_error("host refused the request");
        return SB_OK;
    });
}

void classify_send(sb_instance* instance, sb_call*, sb_str, const sb_http_response* response,
                   sb_send_result* result) {
    if (!SB_HAS_MEMBER(result, sb_send_result, message)) return;
    try {
        result->retry_after_ms = 0;
        meta::copy_bounded(result->platform_id, sizeof(result->platform_id), "");
        meta::copy_bounded(result->platform_code, sizeof(result->platform_code), "");
        meta::copy_bounded(result->message, sizeof(result->message), "");
        std::optional<std::string> sent;
        if (SB_HAS_MEMBER(response, sb_http_response, transport_error)) {
            sent = read_send_success(response->status, view(response->body));
        }
        if (sent) {
            result->send_class = SB_SEND_OK;
            meta::copy_bounded(result->platform_id, sizeof(result->platform_id), *sent);
            return;
        }
        if (!SB_HAS_MEMBER(response, sb_http_response, transport_error)) {
            result->send_class = SB_SEND_RETRYABLE;
            meta::copy_bounded(result->message, sizeof(result->message), "no response given to classify");
            return;
        }
        meta::classify_graph_failure(response, result);
        std::string message = redact(std::string(result->message), instance);
        meta::copy_bounded(result->message, sizeof(result->message), message);
    } catch (...) {
        // Unknown outcome: a retry may duplicate, giving up may lose the reply; retry.
        result->send_class = SB_SEND_RETRYABLE;
        result->retry_after_ms = 0;
        meta::copy_bounded(result->platform_id, sizeof(result->platform_id), "");
        meta::copy_bounded(result->platform_code, sizeof(result->platform_code), "");
        meta::copy_bounded(result->message, sizeof(result->message),
                           "internal error while classifying the response");
    }
}

sb_str account(sb_instance* instance) {
    if (instance == nullptr) return {nullptr, 0};
    return to_sb_str(instance->settings.account_id);
}

}  // namespace sb::messaging
