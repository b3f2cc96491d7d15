#include "notifier/notifier.hpp"

#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "metrics/metrics.hpp"
#include "util/time.hpp"

namespace sb::notifier {

std::string frame(std::string_view type, std::int64_t seq, std::int64_t at_ms, std::string_view data_json) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("type");
    w.String(type.data(), static_cast<rapidjson::SizeType>(type.size()));
    if (seq > 0) {
        w.Key("seq");
        w.Int64(seq);
    }
    w.Key("at");
    std::string at = util::rfc3339(at_ms);
    w.String(at.data(), static_cast<rapidjson::SizeType>(at.size()));
    w.Key("data");
    w.RawValue(data_json.data(), data_json.size(), rapidjson::kObjectType);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

void Notifier::attach(const std::shared_ptr<http::WsSession>& session, std::shared_ptr<const api::Principal> principal) {
    std::lock_guard lock(mutex_);
    subscribers_[session->id()] = Subscriber{session, std::move(principal)};
}

void Notifier::detach(const http::WsSession& session) {
    std::lock_guard lock(mutex_);
    subscribers_.erase(session.id());
}

void Notifier::publish(const store::Event& event) {
    auto bytes = std::make_shared<const std::string>(frame(event.type, event.seq, event.created_ms, event.data_json));
    std::int64_t seen = last_seq_.load();
    while (event.seq > seen && !last_seq_.compare_exchange_weak(seen, event.seq)) {
    }
    deliver(bytes);
}

void Notifier::publish_typing(const std::string& channel_id, const std::string& platform_conversation_id,
                              const std::string& state) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("channel_id");
    w.String(channel_id);
    w.Key("platform_conversation_id");
    w.String(platform_conversation_id);
    w.Key("state");
    w.String(state);
    w.EndObject();
    deliver(std::make_shared<const std::string>(
        frame("typing_indicator", 0, util::now_ms(), std::string_view(buffer.GetString(), buffer.GetSize()))));
}

std::shared_ptr<const std::string> Notifier::hello(const api::Principal& principal) const {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("agent_id");
    w.String(principal.agent_id);
    w.Key("role");
    w.String(principal.role);
    w.Key("last_seq");
    w.Int64(last_seq_.load());
    w.EndObject();
    return std::make_shared<const std::string>(
        frame("hello", 0, util::now_ms(), std::string_view(buffer.GetString(), buffer.GetSize())));
}

void Notifier::close_all(std::uint16_t code, const std::string& reason) {
    std::vector<std::shared_ptr<http::WsSession>> sessions;
    {
        std::lock_guard lock(mutex_);
        for (auto& [id, subscriber] : subscribers_) sessions.push_back(subscriber.session);
    }
    for (auto& session : sessions) session->close(code, reason);
}

std::size_t Notifier::connections() const {
    std::lock_guard lock(mutex_);
    return subscribers_.size();
}

void Notifier::deliver(const std::shared_ptr<const std::string>& bytes) {
    // Copy the recipients out so a slow send never holds the lock. Every principal today is
    // the bootstrap admin, who sees everything; per-agent visibility filters here.
    std::vector<std::shared_ptr<http::WsSession>> recipients;
    {
        std::lock_guard lock(mutex_);
        recipients.reserve(subscribers_.size());
        for (auto& [id, subscriber] : subscribers_) recipients.push_back(subscriber.session);
    }
    for (auto& session : recipients) session->send(bytes);
    metrics::registry().ws_frames.inc(recipients.size());
}

}  // namespace sb::notifier
