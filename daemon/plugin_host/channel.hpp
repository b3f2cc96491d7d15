#pragma once
// A configured channel: one plugin instance and everything the host asks of it, in C++
// terms. All plugin calls go through here, so ABI details (borrowed views, host-owned
// outputs, serialization of non-thread-safe plugins) live in one place.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <switchboard/plugin_abi.h>

#include "config/config.hpp"
#include "http_client/client.hpp"
#include "plugin_host/loader.hpp"
#include "store/store.hpp"

struct sb_host_ctx {
    std::string channel_id;
};

namespace sb::plugin_host {

using HeaderView = std::pair<std::string_view, std::string_view>;

struct VerifyOutcome {
    sb_verdict verdict = SB_VERIFY_FORBIDDEN;
    // SB_VERIFY_RESPONDED: the plugin's own answer.
    int status = 200;
    std::string content_type;
    std::string body;
    // A refusal: why, as the plugin said (refuse_reason, ABI 1.2); empty when it did not.
    std::string reason;
};

struct ParseOutcome {
    bool ok = false;
    std::vector<std::string> events;  // normalized-event JSON documents, or raw updates (poll)
    std::string error;
    // parse(): requests to send once the events are stored (ABI 1.1 follow-ups).
    std::vector<http_client::Request> follow_ups;
};

struct BuildOutcome {
    sb_status status = SB_E_INTERNAL;
    http_client::Request request;
    std::string error;
};

struct SendOutcome {
    sb_send_class send_class = SB_SEND_PERMANENT;
    std::uint32_t retry_after_ms = 0;
    std::string platform_id;
    std::string platform_code;
    std::string message;
    std::optional<http_client::Request> next;  // SB_SEND_CONTINUE
};

// One step of fetching an inbound file (ABI 1.3 fetch_media).
struct MediaStepOutcome {
    sb_status status = SB_E_INTERNAL;
    std::string error;  // status != SB_OK
    sb_media_action action = SB_MEDIA_FAILED;
    std::int64_t max_bytes = 0;
    std::int64_t expected_size = -1;
    std::string state;
    std::string reason;
    std::string message;
    std::string mime_type;
    std::string file_name;
    std::string sha256;
    std::optional<http_client::Request> request;  // REQUEST / DOWNLOAD: what to send
};

class Channel {
public:
    // Opens the plugin instance; a refusal by the plugin leaves the channel failed with the reason.
    static std::shared_ptr<Channel> open(const config::ChannelConfig& config,
                                         std::shared_ptr<const Plugin> plugin);
    // A channel that could not get a plugin at all.
    static std::shared_ptr<Channel> failed(const config::ChannelConfig& config, std::string reason);
    ~Channel();
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    const std::string& id() const { return config_.id; }
    const std::string& plugin_id() const { return config_.plugin; }
    const config::ChannelConfig& config() const { return config_; }
    bool ready() const { return instance_ != nullptr; }
    const std::string& failure() const { return failure_; }
    bool has(std::uint64_t capability) const { return plugin_ && plugin_->has(capability); }
    bool long_poll() const { return config_.receive == "long_poll"; }
    // The platform account this channel serves ("" when the plugin does not say).
    const std::string& account() const { return account_; }

    // Health learnt from the platform's answers: the credentials were refused (until a send
    // succeeds again). A channel can be ready (loaded, configured) and unhealthy.
    void set_auth_failure(std::string reason);
    void clear_auth_failure();
    std::string auth_failure() const;

    VerifyOutcome verify(std::string_view method, std::string_view target,
                         const std::vector<HeaderView>& headers, std::string_view body);
    ParseOutcome parse(const store::InboundRequest& request);
    BuildOutcome build_send(std::string_view outbound_json);
    SendOutcome classify_send(std::string_view outbound_json, const http_client::Response& response);
    BuildOutcome poll_request();
    ParseOutcome poll_response(const http_client::Response& response);
    // True when the plugin fetches inbound files (ABI 1.3, SB_CAP_MEDIA_IN, fetch_media set).
    bool fetches_media() const;
    // One fetch step; `previous` nullptr on the first.
    MediaStepOutcome fetch_media(std::string_view media_json, const http_client::Response* previous);

private:
    Channel(config::ChannelConfig config, std::shared_ptr<const Plugin> plugin);
    // Calls on an instance are serialized unless the plugin says it is thread-safe.
    std::unique_lock<std::mutex> guard();

    config::ChannelConfig config_;
    std::shared_ptr<const Plugin> plugin_;
    sb_host_ctx host_ctx_;
    sb_instance* instance_ = nullptr;
    std::string failure_;
    std::string account_;
    std::mutex mutex_;
    mutable std::mutex health_mutex_;
    std::string auth_failure_;
};

// The channels of one configuration, by id. Immutable once built.
class ChannelRegistry {
public:
    void add(std::shared_ptr<Channel> channel) { channels_[channel->id()] = std::move(channel); }
    std::shared_ptr<Channel> find(std::string_view id) const {
        auto it = channels_.find(std::string(id));
        return it == channels_.end() ? nullptr : it->second;
    }
    const std::map<std::string, std::shared_ptr<Channel>>& all() const { return channels_; }
    // The ready channel of this plugin serving this platform account, or nullptr.
    std::shared_ptr<Channel> find_by_account(std::string_view plugin_id, std::string_view account) const {
        for (const auto& [id, channel] : channels_) {
            if (channel->ready() && channel->plugin_id() == plugin_id && channel->account() == account)
                return channel;
        }
        return nullptr;
    }

private:
    std::map<std::string, std::shared_ptr<Channel>> channels_;
};

// The channels in force. A reload (SIGHUP) replaces the whole set at once; every operation
// looks a channel up once and keeps that shared_ptr, so work in flight finishes on the channel
// it started with while new work sees the new set.
class LiveChannels {
public:
    explicit LiveChannels(std::shared_ptr<const ChannelRegistry> initial) : current_(std::move(initial)) {}

    std::shared_ptr<const ChannelRegistry> snapshot() const {
        std::lock_guard lock(mutex_);
        return current_;
    }
    void replace(std::shared_ptr<const ChannelRegistry> next) {
        std::lock_guard lock(mutex_);
        current_ = std::move(next);
    }
    std::shared_ptr<Channel> find(std::string_view id) const { return snapshot()->find(id); }
    std::shared_ptr<Channel> find_by_account(std::string_view plugin_id, std::string_view account) const {
        return snapshot()->find_by_account(plugin_id, account);
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const ChannelRegistry> current_;
};

// "name: value\n" lines, the stored form of webhook headers.
std::string encode_headers(const std::vector<HeaderView>& headers);
std::vector<HeaderView> decode_headers(std::string_view encoded);

}  // namespace sb::plugin_host
