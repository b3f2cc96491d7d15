#pragma once
// Fans notification events out to agents' WebSocket sessions. Each event is serialized once
// and the same bytes are shared by every recipient.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/auth.hpp"
#include "http/server.hpp"
#include "store/store.hpp"

namespace sb::notifier {

class Notifier {
public:
    explicit Notifier(std::int64_t last_seq) : last_seq_(last_seq) {}

    void attach(const std::shared_ptr<http::WsSession>& session, std::shared_ptr<const api::Principal> principal);
    void detach(const http::WsSession& session);

    // A persistent event, already committed with its seq.
    void publish(const store::Event& event);
    // An ephemeral typing indicator (no seq, never replayed).
    void publish_typing(const std::string& channel_id, const std::string& platform_conversation_id,
                        const std::string& state);

    // The first frame of every session: who it is and where the stream stands.
    std::shared_ptr<const std::string> hello(const api::Principal& principal) const;

    std::int64_t last_seq() const { return last_seq_.load(); }
    std::size_t connections() const;
    // Closes every session (shutdown: 1001 "going away").
    void close_all(std::uint16_t code, const std::string& reason);

private:
    void deliver(const std::shared_ptr<const std::string>& frame);

    struct Subscriber {
        std::shared_ptr<http::WsSession> session;
        std::shared_ptr<const api::Principal> principal;
    };
    mutable std::mutex mutex_;
    std::unordered_map<std::uint64_t, Subscriber> subscribers_;
    std::atomic<std::int64_t> last_seq_;
};

// {"type":…,"seq":…,"at":…,"data":…} — the one writer of server frames.
std::string frame(std::string_view type, std::int64_t seq, std::int64_t at_ms, std::string_view data_json);

}  // namespace sb::notifier
