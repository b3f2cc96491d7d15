#include "plugin_host/channel.hpp"

#include <cstring>

#include <spdlog/spdlog.h>

#include "plugin_host/host_services.hpp"

namespace sb::plugin_host {
namespace {

sb_str str(std::string_view s) { return sb_str{s.data(), s.size()}; }

// Borrowed header views for one call; `storage` must outlive the call.
std::vector<sb_header> to_abi(const std::vector<HeaderView>& headers) {
    std::vector<sb_header> out;
    out.reserve(headers.size());
    for (const auto& [name, value] : headers) out.push_back(sb_header{str(name), str(value)});
    return out;
}

std::vector<sb_header> to_abi(const http_client::Headers& headers) {
    std::vector<sb_header> out;
    out.reserve(headers.size());
    for (const auto& [name, value] : headers) out.push_back(sb_header{str(name), str(value)});
    return out;
}

sb_http_response to_abi(const http_client::Response& response, const std::vector<sb_header>& headers) {
    sb_http_response out{};
    out.size = sizeof(sb_http_response);
    out.status = response.status;
    out.headers = headers.data();
    out.header_count = headers.size();
    out.body = str(response.body);
    out.transport_error = str(response.transport_error);
    return out;
}

sb_error make_error() {
    sb_error err{};
    err.size = sizeof(sb_error);
    return err;
}

// A plugin's fixed-size buffer as a string, never reading past its end.
template <std::size_t N>
std::string bounded(const char (&buffer)[N]) {
    return std::string(buffer, strnlen(buffer, N));
}

}  // namespace

Channel::Channel(config::ChannelConfig config, std::shared_ptr<const Plugin> plugin)
    : config_(std::move(config)), plugin_(std::move(plugin)) {
    host_ctx_.channel_id = config_.id;
}

std::shared_ptr<Channel> Channel::open(const config::ChannelConfig& config,
                                       std::shared_ptr<const Plugin> plugin) {
    std::shared_ptr<Channel> channel(new Channel(config, std::move(plugin)));
    if (config.receive == "long_poll" && !channel->plugin_->has(SB_CAP_LONG_POLL)) {
        channel->failure_ = "plugin '" + config.plugin + "' does not support receive: long_poll";
        spdlog::error("channel failed channel={} reason=\"{}\"", config.id, channel->failure_);
        return channel;
    }
    sb_error err = make_error();
    sb_instance* instance = nullptr;
    sb_status status = channel->plugin_->descriptor().open(host_services(), &channel->host_ctx_,
                                                           str(config.settings_json), &instance, &err);
    if (status != SB_OK || instance == nullptr) {
        channel->failure_ = "plugin refused the settings: " + bounded(err.message);
        spdlog::error("channel failed channel={} plugin={} reason=\"{}\"", config.id, config.plugin,
                      channel->failure_);
        return channel;
    }
    channel->instance_ = instance;
    const auto& d = channel->plugin_->descriptor();
    if (SB_HAS_MEMBER(&d, sb_plugin_v1, account) && d.account != nullptr) {
        sb_str account = d.account(instance);
        if (account.ptr != nullptr) channel->account_.assign(account.ptr, account.len);
    }
    spdlog::info("channel ready channel={} plugin={} receive={}", config.id, config.plugin, config.receive);
    return channel;
}

std::shared_ptr<Channel> Channel::failed(const config::ChannelConfig& config, std::string reason) {
    std::shared_ptr<Channel> channel(new Channel(config, nullptr));
    channel->failure_ = std::move(reason);
    return channel;
}

void Channel::set_auth_failure(std::string reason) {
    std::lock_guard lock(health_mutex_);
    if (auth_failure_.empty()) spdlog::error("channel unhealthy channel={} reason=\"{}\"", id(), reason);
    auth_failure_ = std::move(reason);
}

void Channel::clear_auth_failure() {
    std::lock_guard lock(health_mutex_);
    if (!auth_failure_.empty()) spdlog::info("channel healthy again channel={}", id());
    auth_failure_.clear();
}

std::string Channel::auth_failure() const {
    std::lock_guard lock(health_mutex_);
    return auth_failure_;
}

Channel::~Channel() {
    if (instance_ != nullptr) plugin_->descriptor().close(instance_);
}

std::unique_lock<std::mutex> Channel::guard() {
    if (plugin_ && plugin_->has(SB_CAP_THREAD_SAFE)) return {};
    return std::unique_lock(mutex_);
}

VerifyOutcome Channel::verify(std::string_view method, std::string_view target,
                              const std::vector<HeaderView>& headers, std::string_view body) {
    VerifyOutcome out;
    if (!ready()) return out;
    auto abi_headers = to_abi(headers);
    sb_http_request request{};
    request.size = sizeof(sb_http_request);
    request.method = str(method);
    request.target = str(target);
    request.headers = abi_headers.data();
    request.header_count = abi_headers.size();
    request.body = str(body);
    sb_call::Answer answer;
    sb_call call;
    call.answer = &answer;
    call.reason = &out.reason;
    auto lock = guard();
    out.verdict = plugin_->descriptor().verify(instance_, &call, &request);
    if (out.verdict == SB_VERIFY_RESPONDED) {
        if (!answer.set) {
            // The plugin broke its contract: answer conservatively rather than store.
            out.verdict = SB_VERIFY_FORBIDDEN;
            return out;
        }
        out.status = answer.status;
        out.content_type = std::move(answer.content_type);
        out.body = std::move(answer.body);
    }
    return out;
}

ParseOutcome Channel::parse(const store::InboundRequest& stored) {
    ParseOutcome out;
    if (!ready()) {
        out.error = "channel is not ready: " + failure_;
        return out;
    }
    auto headers = decode_headers(stored.headers);
    auto abi_headers = to_abi(headers);
    sb_http_request request{};
    request.size = sizeof(sb_http_request);
    request.method = str(stored.method);
    request.target = str(stored.target);
    request.headers = abi_headers.data();
    request.header_count = abi_headers.size();
    request.body = str(stored.body);
    sb_call call;
    call.events = &out.events;
    call.follow_ups = &out.follow_ups;
    sb_error err = make_error();
    auto lock = guard();
    sb_status status = plugin_->descriptor().parse(instance_, &call, &request, &err);
    out.ok = status == SB_OK;
    if (!out.ok) {
        out.error = bounded(err.message);
        if (out.error.empty())
            out.error = "plugin could not parse the request (status " + std::to_string(status) + ")";
        out.events.clear();
        out.follow_ups.clear();
    }
    return out;
}

BuildOutcome Channel::build_send(std::string_view outbound_json) {
    BuildOutcome out;
    if (!ready()) {
        out.error = "channel is not ready: " + failure_;
        return out;
    }
    std::optional<http_client::Request> request;
    sb_call call;
    call.request = &request;
    sb_error err = make_error();
    auto lock = guard();
    out.status = plugin_->descriptor().build_send(instance_, &call, str(outbound_json), &err);
    if (out.status == SB_OK && !request) {
        out.status = SB_E_INTERNAL;
        out.error = "plugin returned OK from build_send without submitting a request";
    } else if (out.status != SB_OK) {
        out.error = bounded(err.message);
    } else {
        out.request = std::move(*request);
    }
    return out;
}

SendOutcome Channel::classify_send(std::string_view outbound_json, const http_client::Response& response) {
    SendOutcome out;
    if (!ready()) {
        out.message = "channel is not ready: " + failure_;
        return out;
    }
    auto headers = to_abi(response.headers);
    sb_http_response abi_response = to_abi(response, headers);
    sb_send_result result{};
    result.size = sizeof(sb_send_result);
    result.send_class = SB_SEND_PERMANENT;
    std::optional<http_client::Request> next;
    sb_call call;
    call.request = &next;
    {
        auto lock = guard();
        plugin_->descriptor().classify_send(instance_, &call, str(outbound_json), &abi_response, &result);
    }
    out.send_class = static_cast<sb_send_class>(result.send_class);
    out.retry_after_ms = result.retry_after_ms;
    out.platform_id = bounded(result.platform_id);
    out.platform_code = bounded(result.platform_code);
    out.message = bounded(result.message);
    if (out.send_class == SB_SEND_CONTINUE) {
        if (!next) {
            out.send_class = SB_SEND_PERMANENT;
            out.message = "plugin asked to continue a send without submitting the next request";
        }
        out.next = std::move(next);
    } else if (out.send_class < SB_SEND_OK || out.send_class > SB_SEND_CONTINUE) {
        out.send_class = SB_SEND_PERMANENT;
        out.message = "plugin returned an unknown send class";
    }
    return out;
}

BuildOutcome Channel::poll_request() {
    BuildOutcome out;
    if (!ready() || !has(SB_CAP_LONG_POLL)) {
        out.error = "channel cannot long-poll";
        return out;
    }
    std::optional<http_client::Request> request;
    sb_call call;
    call.request = &request;
    sb_error err = make_error();
    auto lock = guard();
    out.status = plugin_->descriptor().poll_request(instance_, &call, &err);
    if (out.status == SB_OK && request)
        out.request = std::move(*request);
    else if (out.status == SB_OK)
        out.status = SB_E_INTERNAL, out.error = "plugin returned OK from poll_request without a request";
    else
        out.error = bounded(err.message);
    return out;
}

ParseOutcome Channel::poll_response(const http_client::Response& response) {
    ParseOutcome out;
    if (!ready() || !has(SB_CAP_LONG_POLL)) {
        out.error = "channel cannot long-poll";
        return out;
    }
    auto headers = to_abi(response.headers);
    sb_http_response abi_response = to_abi(response, headers);
    sb_call call;
    call.events = &out.events;
    sb_error err = make_error();
    auto lock = guard();
    sb_status status = plugin_->descriptor().poll_response(instance_, &call, &abi_response, &err);
    out.ok = status == SB_OK;
    if (!out.ok) out.error = bounded(err.message);
    return out;
}

bool Channel::fetches_media() const {
    if (!ready() || !plugin_->has(SB_CAP_MEDIA_IN)) return false;
    const auto& d = plugin_->descriptor();
    return SB_HAS_MEMBER(&d, sb_plugin_v1, fetch_media) && d.fetch_media != nullptr;
}

MediaStepOutcome Channel::fetch_media(std::string_view media_json, const http_client::Response* previous) {
    MediaStepOutcome out;
    if (!fetches_media()) {
        out.error = "plugin does not fetch media";
        return out;
    }
    std::vector<sb_header> headers;
    sb_http_response abi_response{};
    if (previous != nullptr) {
        headers = to_abi(previous->headers);
        abi_response = to_abi(*previous, headers);
    }
    sb_media_step step{};
    step.size = sizeof(sb_media_step);
    step.action = SB_MEDIA_FAILED;
    step.expected_size = -1;
    std::optional<http_client::Request> request;
    sb_call call;
    call.request = &request;
    sb_error err = make_error();
    {
        auto lock = guard();
        out.status = plugin_->descriptor().fetch_media(
            instance_, &call, str(media_json), previous != nullptr ? &abi_response : nullptr, &step, &err);
    }
    if (out.status != SB_OK) {
        out.error = bounded(err.message);
        if (out.error.empty())
            out.error = "plugin could not fetch the media (status " + std::to_string(out.status) + ")";
        return out;
    }
    out.action = static_cast<sb_media_action>(step.action);
    out.max_bytes = step.max_bytes;
    out.expected_size = step.expected_size;
    out.state = bounded(step.state);
    out.reason = bounded(step.reason);
    out.message = bounded(step.message);
    out.mime_type = bounded(step.mime_type);
    out.file_name = bounded(step.file_name);
    out.sha256 = bounded(step.sha256);
    const bool needs_request = out.action == SB_MEDIA_REQUEST || out.action == SB_MEDIA_DOWNLOAD;
    if (out.action < SB_MEDIA_REQUEST || out.action > SB_MEDIA_SKIP) {
        out.status = SB_E_INTERNAL;
        out.error = "plugin returned an unknown media action";
    } else if (needs_request && !request) {
        out.status = SB_E_INTERNAL;
        out.error = "plugin asked for a media request without submitting one";
    } else if (needs_request) {
        out.request = std::move(request);
    }
    return out;
}

std::string encode_headers(const std::vector<HeaderView>& headers) {
    std::string out;
    for (const auto& [name, value] : headers) {
        out.append(name);
        out.append(": ");
        out.append(value);
        out.push_back('\n');
    }
    return out;
}

std::vector<HeaderView> decode_headers(std::string_view encoded) {
    std::vector<HeaderView> out;
    while (!encoded.empty()) {
        auto eol = encoded.find('\n');
        std::string_view line = encoded.substr(0, eol);
        encoded = eol == std::string_view::npos ? std::string_view() : encoded.substr(eol + 1);
        auto colon = line.find(": ");
        if (colon == std::string_view::npos) continue;
        out.emplace_back(line.substr(0, colon), line.substr(colon + 2));
    }
    return out;
}

}  // namespace sb::plugin_host
