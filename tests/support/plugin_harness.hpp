#pragma once
// A tiny host for plugin tests: loads a plugin .so through the C ABI (dlopen +
// sb_plugin_entry_v1), gives it a host services table that records what it is handed, and
// wraps each plugin function in a C++ call that returns what the plugin produced.
//
// Not thread-safe per PluginInstance helper call beyond what the plugin itself allows: each
// helper builds its own sb_call, so concurrent helper calls on one instance are fine when the
// plugin declares SB_CAP_THREAD_SAFE.

#include <switchboard/plugin_abi.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::test {

struct Header {
    std::string name;
    std::string value;
};
using Headers = std::vector<Header>;

// A request a plugin handed to host->submit_request, copied.
struct CapturedRequest {
    std::string method;
    std::string url;  // sb_http_request::target: an absolute URL for outbound requests
    Headers headers;
    std::string body;
    std::uint32_t timeout_ms = 0;

    // The first header called `name` (case-insensitive), if any.
    std::optional<std::string> header(std::string_view name) const;
};

// What a plugin handed to host->respond (verify returning SB_VERIFY_RESPONDED).
struct CapturedResponse {
    std::int32_t status = 0;
    std::string content_type;
    std::string body;
};

struct LogLine {
    sb_log_level level = SB_LOG_INFO;
    std::string message;
};

// parse() and poll_response(): the status, the error message and every emitted JSON string.
struct EventsResult {
    sb_status status = SB_E_INTERNAL;
    std::string error;  // sb_error::message, when status != SB_OK
    std::vector<std::string> events;
    std::vector<CapturedRequest> follow_ups;  // parse(): submit_request calls (ABI 1.1)
};

// build_send() and poll_request(): the status and the submitted request.
struct RequestResult {
    sb_status status = SB_E_INTERNAL;
    std::string error;
    std::optional<CapturedRequest> request;
};

// fetch_media() (ABI 1.3): the status, the step the plugin filled and the request it submitted.
struct MediaResult {
    sb_status status = SB_E_INTERNAL;
    std::string error;
    sb_media_step step{};
    std::optional<CapturedRequest> request;
    std::string state() const { return step.state; }
    std::string reason() const { return step.reason; }
    std::string message() const { return step.message; }
};

struct VerifyResult {
    sb_verdict verdict = SB_VERIFY_BAD_REQUEST;
    std::optional<CapturedResponse> response;
    std::optional<std::string> reason;  // what the plugin gave host->refuse_reason (ABI 1.2)
};

// host->now_ms takes no context, so the fake clock is process-wide. 0 = the real clock.
void set_fake_now_ms(std::int64_t now_ms);

class PluginInstance;

struct OpenResult {
    sb_status status = SB_E_INTERNAL;
    std::string error;
    std::vector<LogLine> logs;                 // lines logged during open()
    std::unique_ptr<PluginInstance> instance;  // set when status == SB_OK
};

// A loaded plugin library. Instances opened from it must be destroyed before it is.
class PluginLibrary {
public:
    // Loads `path` and checks the descriptor (magic, ABI major, mandatory functions). Throws
    // std::runtime_error with the reason on failure.
    explicit PluginLibrary(const std::string& path);
    ~PluginLibrary();
    PluginLibrary(const PluginLibrary&) = delete;
    PluginLibrary& operator=(const PluginLibrary&) = delete;

    const sb_plugin_v1& descriptor() const { return *descriptor_; }

    OpenResult open(std::string_view config_json) const;

private:
    void* handle_ = nullptr;
    const sb_plugin_v1* descriptor_ = nullptr;
};

// One open plugin instance; close()d on destruction.
class PluginInstance {
public:
    ~PluginInstance();
    PluginInstance(const PluginInstance&) = delete;
    PluginInstance& operator=(const PluginInstance&) = delete;

    VerifyResult verify(std::string_view method, std::string_view target, const Headers& headers,
                        std::string_view body) const;
    EventsResult parse(std::string_view body, const Headers& headers = {}) const;
    RequestResult build_send(std::string_view outbound_json) const;
    sb_send_result classify(std::string_view outbound_json, std::int32_t status, std::string_view body,
                            const Headers& headers = {}, std::string_view transport_error = {}) const;
    RequestResult poll_request() const;
    EventsResult poll_response(std::int32_t status, std::string_view body, const Headers& headers = {},
                               std::string_view transport_error = {}) const;

    // One fetch_media step: the first when `status` is nullopt, else with that answer.
    MediaResult fetch_media(std::string_view media_json, std::optional<std::int32_t> status = std::nullopt,
                            std::string_view body = {}, const Headers& headers = {}) const;

    // Every line the plugin logged through this instance's context, open() included.
    std::vector<LogLine> logs() const;

private:
    friend class PluginLibrary;
    struct Context;
    PluginInstance(const sb_plugin_v1& plugin, std::unique_ptr<Context> context, sb_instance* instance);

    const sb_plugin_v1& plugin_;
    std::unique_ptr<Context> context_;
    sb_instance* instance_;
};

}  // namespace sb::test
