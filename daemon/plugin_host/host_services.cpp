#include "plugin_host/host_services.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string_view>

#include <spdlog/spdlog.h>

#include "plugin_host/channel.hpp"
#include "util/time.hpp"

namespace sb::plugin_host {
namespace {

std::string_view view(sb_str s) { return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view(); }

void log(sb_host_ctx* ctx, sb_log_level level, sb_str message) {
    auto lvl = level == SB_LOG_DEBUG  ? spdlog::level::debug
               : level == SB_LOG_INFO ? spdlog::level::info
               : level == SB_LOG_WARN ? spdlog::level::warn
                                      : spdlog::level::err;
    spdlog::log(lvl, "plugin channel={} {}", ctx ? ctx->channel_id : std::string("?"), view(message));
}

void hmac_sha256(sb_str key, sb_str data, uint8_t out[32]) {
    unsigned int len = 32;
    HMAC(EVP_sha256(), key.ptr ? key.ptr : "", static_cast<int>(key.len),
         reinterpret_cast<const unsigned char*>(data.ptr ? data.ptr : ""), data.len, out, &len);
}

int constant_time_equal(sb_str a, sb_str b) {
    if (a.len != b.len) return 0;
    if (a.len == 0) return 1;
    return CRYPTO_memcmp(a.ptr, b.ptr, a.len) == 0 ? 1 : 0;
}

int64_t now_ms() { return util::now_ms(); }

int emit_event(sb_call* call, sb_str json) {
    if (call == nullptr || call->events == nullptr) return -1;
    call->events->emplace_back(view(json));
    return 0;
}

int submit_request(sb_call* call, const sb_http_request* request) {
    if (call == nullptr || request == nullptr || (call->request == nullptr && call->follow_ups == nullptr))
        return -1;
    http_client::Request out;
    out.method = view(request->method);
    out.url = view(request->target);
    out.body = view(request->body);
    for (size_t i = 0; i < request->header_count; ++i)
        out.headers.emplace_back(view(request->headers[i].name), view(request->headers[i].value));
    if (SB_HAS_MEMBER(request, sb_http_request, timeout_ms))
        out.timeout_ms = static_cast<int>(request->timeout_ms);
    if (call->request != nullptr)
        *call->request = std::move(out);
    else
        call->follow_ups->push_back(std::move(out));
    return 0;
}

int respond(sb_call* call, int32_t status, sb_str content_type, sb_str body) {
    if (call == nullptr || call->answer == nullptr || status < 100 || status > 599) return -1;
    call->answer->set = true;
    call->answer->status = status;
    call->answer->content_type = view(content_type);
    call->answer->body = view(body);
    return 0;
}

int refuse_reason(sb_call* call, sb_str reason) {
    if (call == nullptr || call->reason == nullptr) return -1;
    // One log line: a plugin's reason is shown, not trusted to be short or single-line.
    std::string_view text = view(reason).substr(0, 200);
    call->reason->assign(text);
    for (char& c : *call->reason)
        if (c == '\n' || c == '\r' || c == '"') c = ' ';
    return 0;
}

const sb_host_services kServices = {
    sizeof(sb_host_services),
    SB_ABI_MAJOR,
    SB_ABI_MINOR,
    log,
    hmac_sha256,
    constant_time_equal,
    now_ms,
    emit_event,
    submit_request,
    respond,
    refuse_reason,
};

}  // namespace

const sb_host_services* host_services() { return &kServices; }

}  // namespace sb::plugin_host
