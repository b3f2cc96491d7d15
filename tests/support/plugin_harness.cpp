#include "support/plugin_harness.hpp"

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>

// The host's side of the opaque ABI handles, as this harness defines them.
struct sb_host_ctx {
    mutable std::mutex mutex;
    std::vector<sb::test::LogLine> logs;
};

// What one plugin call may hand back; `takes_*` says which host services the call accepts.
struct sb_call {
    bool takes_events = false;
    bool takes_request = false;
    bool takes_respond = false;
    bool takes_follow_ups = false;  // parse(): any number of follow-up requests (ABI 1.1)
    std::vector<std::string> events;
    std::optional<sb::test::CapturedRequest> request;
    std::vector<sb::test::CapturedRequest> follow_ups;
    std::optional<sb::test::CapturedResponse> response;
    std::optional<std::string> refuse_reason;  // verify() only (ABI 1.2)
};

namespace sb::test {

namespace {

std::atomic<std::int64_t> g_fake_now_ms{0};

std::string copy(sb_str s) { return s.ptr == nullptr ? std::string() : std::string(s.ptr, s.len); }
sb_str view(std::string_view s) { return {s.data(), s.size()}; }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

void host_log(sb_host_ctx* ctx, sb_log_level level, sb_str message) {
    std::lock_guard lock(ctx->mutex);
    ctx->logs.push_back({level, copy(message)});
}

void host_hmac_sha256(sb_str key, sb_str data, uint8_t out[32]) {
    unsigned int length = 32;
    HMAC(EVP_sha256(), key.ptr, static_cast<int>(key.len), reinterpret_cast<const unsigned char*>(data.ptr),
         data.len, out, &length);
}

int host_constant_time_equal(sb_str a, sb_str b) {
    if (a.len != b.len) return 0;
    if (a.len == 0) return 1;
    return CRYPTO_memcmp(a.ptr, b.ptr, a.len) == 0 ? 1 : 0;
}

int64_t host_now_ms() {
    if (std::int64_t fake = g_fake_now_ms.load(); fake != 0) return fake;
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int host_emit_event(sb_call* call, sb_str json) {
    if (call == nullptr || !call->takes_events) return -1;
    call->events.push_back(copy(json));
    return 0;
}

int host_submit_request(sb_call* call, const sb_http_request* request) {
    if (call == nullptr || request == nullptr) return -1;
    if (!call->takes_follow_ups && (!call->takes_request || call->request)) return -1;
    CapturedRequest captured;
    captured.method = copy(request->method);
    captured.url = copy(request->target);
    for (std::size_t i = 0; i < request->header_count; ++i) {
        captured.headers.push_back({copy(request->headers[i].name), copy(request->headers[i].value)});
    }
    captured.body = copy(request->body);
    captured.timeout_ms = request->timeout_ms;
    if (call->takes_follow_ups)
        call->follow_ups.push_back(std::move(captured));
    else
        call->request = std::move(captured);
    return 0;
}

int host_respond(sb_call* call, int32_t status, sb_str content_type, sb_str body) {
    if (call == nullptr || !call->takes_respond) return -1;
    call->response = CapturedResponse{status, copy(content_type), copy(body)};
    return 0;
}

int host_refuse_reason(sb_call* call, sb_str reason) {
    if (call == nullptr || !call->takes_respond) return -1;  // verify() is the call that takes both
    call->refuse_reason = copy(reason);
    return 0;
}

const sb_host_services kHostServices = {
    sizeof(sb_host_services),
    SB_ABI_MAJOR,
    SB_ABI_MINOR,
    host_log,
    host_hmac_sha256,
    host_constant_time_equal,
    host_now_ms,
    host_emit_event,
    host_submit_request,
    host_respond,
    host_refuse_reason,
};

// Keeps sb_header views over `headers` for the duration of one call.
std::vector<sb_header> header_views(const Headers& headers) {
    std::vector<sb_header> views;
    views.reserve(headers.size());
    for (const Header& h : headers) views.push_back({view(h.name), view(h.value)});
    return views;
}

// Caller-owned fixed arrays start full of 'X', so a plugin that forgets the terminator is
// caught by fixed_text() instead of passing on zeroed memory.
template <std::size_t N>
void poison(char (&text)[N]) {
    std::memset(text, 'X', N);
}

sb_error make_error() {
    sb_error err{};
    err.size = sizeof(err);
    poison(err.message);
    return err;
}

// The text of a fixed array the plugin wrote; throws (a test failure) when it is not
// NUL-terminated within the array.
template <std::size_t N>
std::string fixed_text(const char (&text)[N], const char* what) {
    const char* end = std::find(text, text + N, '\0');
    if (end == text + N)
        throw std::logic_error(std::string("plugin left ") + what + " without a NUL terminator");
    return std::string(text, end);
}

}  // namespace

void set_fake_now_ms(std::int64_t now_ms) { g_fake_now_ms.store(now_ms); }

std::optional<std::string> CapturedRequest::header(std::string_view name) const {
    for (const Header& h : headers) {
        if (iequals(h.name, name)) return h.value;
    }
    return std::nullopt;
}

struct PluginInstance::Context : sb_host_ctx {};

PluginLibrary::PluginLibrary(const std::string& path) {
    // RTLD_LOCAL: the plugin's symbols stay private, as in the daemon.
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) throw std::runtime_error("dlopen " + path + ": " + dlerror());
    void* symbol = dlsym(handle_, SB_PLUGIN_ENTRY_V1_SYMBOL);
    if (symbol == nullptr) {
        dlclose(handle_);
        throw std::runtime_error(path + " does not export " SB_PLUGIN_ENTRY_V1_SYMBOL);
    }
    auto entry = reinterpret_cast<sb_plugin_entry_v1_fn>(symbol);
    descriptor_ = entry();
    const sb_plugin_v1* d = descriptor_;
    if (d == nullptr || d->magic != SB_PLUGIN_MAGIC || d->abi_major != SB_ABI_MAJOR ||
        d->size < offsetof(sb_plugin_v1, poll_response) || d->open == nullptr || d->close == nullptr ||
        d->verify == nullptr || d->parse == nullptr || d->build_send == nullptr ||
        d->classify_send == nullptr) {
        dlclose(handle_);
        throw std::runtime_error(path + ": invalid plugin descriptor");
    }
}

PluginLibrary::~PluginLibrary() {
    if (handle_ != nullptr) dlclose(handle_);
}

OpenResult PluginLibrary::open(std::string_view config_json) const {
    OpenResult result;
    auto context = std::make_unique<PluginInstance::Context>();
    sb_error err = make_error();
    sb_instance* instance = nullptr;
    result.status = descriptor_->open(&kHostServices, context.get(), view(config_json), &instance, &err);
    result.logs = context->logs;
    if (result.status == SB_OK) {
        result.instance.reset(new PluginInstance(*descriptor_, std::move(context), instance));
    } else {
        result.error = fixed_text(err.message, "sb_error::message");
    }
    return result;
}

PluginInstance::PluginInstance(const sb_plugin_v1& plugin, std::unique_ptr<Context> context,
                               sb_instance* instance)
    : plugin_(plugin), context_(std::move(context)), instance_(instance) {}

PluginInstance::~PluginInstance() { plugin_.close(instance_); }

VerifyResult PluginInstance::verify(std::string_view method, std::string_view target, const Headers& headers,
                                    std::string_view body) const {
    std::vector<sb_header> views = header_views(headers);
    sb_http_request request{};
    request.size = sizeof(request);
    request.method = view(method);
    request.target = view(target);
    request.headers = views.data();
    request.header_count = views.size();
    request.body = view(body);
    sb_call call;
    call.takes_respond = true;
    VerifyResult result;
    result.verdict = plugin_.verify(instance_, &call, &request);
    result.response = std::move(call.response);
    result.reason = std::move(call.refuse_reason);
    return result;
}

EventsResult PluginInstance::parse(std::string_view body, const Headers& headers) const {
    std::vector<sb_header> views = header_views(headers);
    sb_http_request request{};
    request.size = sizeof(request);
    request.method = view("POST");
    request.target = view("/webhook");
    request.headers = views.data();
    request.header_count = views.size();
    request.body = view(body);
    sb_call call;
    call.takes_events = true;
    call.takes_follow_ups = true;
    sb_error err = make_error();
    EventsResult result;
    result.status = plugin_.parse(instance_, &call, &request, &err);
    if (result.status != SB_OK) result.error = fixed_text(err.message, "sb_error::message");
    result.events = std::move(call.events);
    result.follow_ups = std::move(call.follow_ups);
    return result;
}

RequestResult PluginInstance::build_send(std::string_view outbound_json) const {
    sb_call call;
    call.takes_request = true;
    sb_error err = make_error();
    RequestResult result;
    result.status = plugin_.build_send(instance_, &call, view(outbound_json), &err);
    if (result.status != SB_OK) result.error = fixed_text(err.message, "sb_error::message");
    result.request = std::move(call.request);
    return result;
}

sb_send_result PluginInstance::classify(std::string_view outbound_json, std::int32_t status,
                                        std::string_view body, const Headers& headers,
                                        std::string_view transport_error) const {
    std::vector<sb_header> views = header_views(headers);
    sb_http_response response{};
    response.size = sizeof(response);
    response.status = status;
    response.headers = views.data();
    response.header_count = views.size();
    response.body = view(body);
    response.transport_error = view(transport_error);
    sb_call call;
    call.takes_request = true;  // a multi-step send may submit its next request
    sb_send_result result{};
    result.size = sizeof(result);
    result.send_class = -1;  // so a plugin that fills nothing is caught
    poison(result.platform_id);
    poison(result.platform_code);
    poison(result.message);
    plugin_.classify_send(instance_, &call, view(outbound_json), &response, &result);
    fixed_text(result.platform_id, "sb_send_result::platform_id");
    fixed_text(result.platform_code, "sb_send_result::platform_code");
    fixed_text(result.message, "sb_send_result::message");
    return result;
}

MediaResult PluginInstance::fetch_media(std::string_view media_json, std::optional<std::int32_t> status,
                                        std::string_view body, const Headers& headers) const {
    MediaResult result;
    if (!SB_HAS_MEMBER(&plugin_, sb_plugin_v1, fetch_media) || plugin_.fetch_media == nullptr) {
        result.status = SB_E_UNSUPPORTED;
        result.error = "plugin has no fetch_media";
        return result;
    }
    std::vector<sb_header> views = header_views(headers);
    sb_http_response response{};
    response.size = sizeof(response);
    response.status = status.value_or(0);
    response.headers = views.data();
    response.header_count = views.size();
    response.body = view(body);
    sb_call call;
    call.takes_request = true;
    sb_error err = make_error();
    result.step.size = sizeof(result.step);
    result.step.action = -1;  // so a plugin that fills nothing is caught
    poison(result.step.state);
    poison(result.step.reason);
    poison(result.step.message);
    poison(result.step.mime_type);
    poison(result.step.file_name);
    poison(result.step.sha256);
    result.status =
        plugin_.fetch_media(instance_, &call, view(media_json), status ? &response : nullptr, &result.step, &err);
    if (result.status != SB_OK) {
        result.error = fixed_text(err.message, "sb_error::message");
        return result;
    }
    fixed_text(result.step.state, "sb_media_step::state");
    fixed_text(result.step.reason, "sb_media_step::reason");
    fixed_text(result.step.message, "sb_media_step::message");
    fixed_text(result.step.mime_type, "sb_media_step::mime_type");
    fixed_text(result.step.file_name, "sb_media_step::file_name");
    fixed_text(result.step.sha256, "sb_media_step::sha256");
    result.request = std::move(call.request);
    return result;
}

RequestResult PluginInstance::poll_request() const {
    RequestResult result;
    if (plugin_.poll_request == nullptr) {
        result.status = SB_E_UNSUPPORTED;
        result.error = "plugin has no poll_request";
        return result;
    }
    sb_call call;
    call.takes_request = true;
    sb_error err = make_error();
    result.status = plugin_.poll_request(instance_, &call, &err);
    if (result.status != SB_OK) result.error = fixed_text(err.message, "sb_error::message");
    result.request = std::move(call.request);
    return result;
}

EventsResult PluginInstance::poll_response(std::int32_t status, std::string_view body, const Headers& headers,
                                           std::string_view transport_error) const {
    EventsResult result;
    if (plugin_.poll_response == nullptr) {
        result.status = SB_E_UNSUPPORTED;
        result.error = "plugin has no poll_response";
        return result;
    }
    std::vector<sb_header> views = header_views(headers);
    sb_http_response response{};
    response.size = sizeof(response);
    response.status = status;
    response.headers = views.data();
    response.header_count = views.size();
    response.body = view(body);
    response.transport_error = view(transport_error);
    sb_call call;
    call.takes_events = true;
    sb_error err = make_error();
    result.status = plugin_.poll_response(instance_, &call, &response, &err);
    if (result.status != SB_OK) result.error = fixed_text(err.message, "sb_error::message");
    result.events = std::move(call.events);
    return result;
}

std::vector<LogLine> PluginInstance::logs() const {
    std::lock_guard lock(context_->mutex);
    return context_->logs;
}

}  // namespace sb::test
