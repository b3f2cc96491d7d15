#include "notifier/notifier.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <chrono>

#include <switchboard/json.hpp>

#include "metrics/metrics.hpp"
#include "util/random.hpp"
#include "util/time.hpp"

namespace sb::notifier {
namespace {

constexpr int kReplayBatch = 500;
// After a replay, seqs this far below its end that it did not see may still commit (the
// outbox gap), for this long; live delivery sends them then.
constexpr std::int64_t kGapSeqs = 1024;
constexpr std::int64_t kGapMs = 30'000;

std::shared_ptr<const std::string> event_frame(const store::Event& event) {
    return std::make_shared<const std::string>(
        frame(event.type, event.seq, event.created_ms, event.data_json));
}

std::shared_ptr<const std::string> hello(const identity::Principal& principal, std::int64_t last_seq,
                                         const std::string& session_id, std::int64_t now_ms) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("agent_id");
    w.String(principal.agent_id);
    w.Key("role");
    w.String(principal.role);
    w.Key("last_seq");
    w.Int64(last_seq);
    w.Key("session_id");
    w.String(session_id);
    w.EndObject();
    return std::make_shared<const std::string>(
        frame("hello", 0, now_ms, std::string_view(buffer.GetString(), buffer.GetSize())));
}

}  // namespace

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

bool Notifier::visible(const Subscriber& s, const store::Event& event) {
    if (!event.origin.empty() && event.origin == s.token) return false;  // its HTTP answer said it
    return identity::Audience::includes(event.audience, *s.principal);
}

bool Notifier::replayed(Subscriber& s, std::int64_t seq) const {
    if (seq > s.replayed_up_to) return false;
    if (s.replay_seen_until_ms == 0) return true;
    if (clock_.now_ms() > s.replay_seen_until_ms) {
        s.replay_seen.clear();
        s.replay_seen_until_ms = 0;
        return true;
    }
    // At or below after_seq the client said it has everything.
    return seq <= s.replay_after || seq <= s.replayed_up_to - kGapSeqs || s.replay_seen.contains(seq);
}

std::size_t Notifier::sessions_of(const std::string& agent_id, std::uint64_t except) const {
    std::size_t n = 0;
    for (const auto& [id, subscriber] : subscribers_)
        if (id != except && subscriber.principal->agent_id == agent_id) ++n;
    return n;
}

void Notifier::load_availability(const std::vector<store::Agent>& agents) {
    std::lock_guard lock(mutex_);
    for (const auto& agent : agents) availability_[agent.id] = agent.availability;
}

void Notifier::set_availability(const std::string& agent_id, const std::string& availability) {
    std::string data;
    {
        std::lock_guard lock(mutex_);
        availability_[agent_id] = availability;
        data = presence_json_locked(agent_id);
    }
    publish_to_all("agent_presence", data);
    if (availability_hook_) availability_hook_(agent_id, availability);
}

Notifier::Presence Notifier::presence(const std::string& agent_id) const {
    std::lock_guard lock(mutex_);
    return presence_locked(agent_id);
}

Notifier::Presence Notifier::presence_locked(const std::string& agent_id) const {
    auto it = availability_.find(agent_id);
    return Presence{it == availability_.end() ? "online" : it->second, sessions_of(agent_id, 0) > 0};
}

std::string Notifier::presence_json(const std::string& agent_id) const {
    std::lock_guard lock(mutex_);
    return presence_json_locked(agent_id);
}

std::string Notifier::presence_json_locked(const std::string& agent_id) const {
    const Presence p = presence_locked(agent_id);
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("agent_id");
    w.String(agent_id);
    w.Key("availability");
    w.String(p.availability);
    w.Key("connected");
    w.Bool(p.connected);
    w.Key("presence");
    w.String(p.shown());
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

void Notifier::publish_to_all(std::string_view type, std::string_view data_json, std::uint64_t except) {
    auto bytes = std::make_shared<const std::string>(frame(type, 0, clock_.now_ms(), data_json));
    std::size_t sent = 0;
    std::lock_guard lock(mutex_);
    for (auto& [id, subscriber] : subscribers_) {
        if (id == except) continue;
        subscriber.session->send(bytes);
        ++sent;
    }
    metrics::registry().ws_frames.inc(sent);
}

void Notifier::attach(const std::shared_ptr<http::WsSession>& session,
                      std::shared_ptr<const identity::Principal> principal,
                      std::optional<std::int64_t> after_seq) {
    bool came_online = false;
    bool first = false;
    std::string presence;
    std::string agent_id = principal->agent_id;
    {
        std::lock_guard lock(mutex_);
        Subscriber subscriber;
        // 56 bits: no credential (it only keeps frames from its own session), and 14 characters
        // stay inside std::string's own buffer, so an idle socket allocates nothing for it.
        subscriber.token = util::random_hex(7);
        // hello first: queued under the lock so no live event can overtake it.
        session->send(hello(*principal, last_seq_.load(), subscriber.token, clock_.now_ms()));
        first = sessions_of(agent_id, session->id()) == 0;
        came_online = !principal->token_id.empty() && first;
        subscriber.session = session;
        subscriber.principal = std::move(principal);
        subscribers_[session->id()] = std::move(subscriber);
        if (first) presence = presence_json_locked(agent_id);
    }
    if (after_seq) start_replay(session->id(), *after_seq);
    // Not to the session that connected: it learns presence from GET /api/v1/agents.
    if (first) publish_to_all("agent_presence", presence, session->id());
    if (came_online && presence_hook_) presence_hook_(agent_id, true);
}

void Notifier::detach(const http::WsSession& session) {
    bool went_offline = false;
    bool last = false;
    std::string agent_id, presence;
    {
        std::lock_guard lock(mutex_);
        auto it = subscribers_.find(session.id());
        if (it == subscribers_.end()) return;
        agent_id = it->second.principal->agent_id;
        last = sessions_of(agent_id, session.id()) == 0;
        went_offline = !it->second.principal->token_id.empty() && last;
        subscribers_.erase(it);
        if (last) presence = presence_json_locked(agent_id);
    }
    if (last) publish_to_all("agent_presence", presence);
    if (went_offline && presence_hook_) presence_hook_(agent_id, false);
}

void Notifier::on_client_frame(const std::shared_ptr<http::WsSession>& session, std::string_view text) {
    rapidjson::Document doc;
    if (switchboard::json::parse(doc, text, "frame") || !doc.IsObject() || !doc.HasMember("type") ||
        !doc["type"].IsString()) {
        session->send(std::make_shared<const std::string>(
            frame("error", 0, clock_.now_ms(),
                  R"({"code":"bad_frame","message":"frames are JSON objects with a type"})")));
        return;
    }
    std::string_view type = doc["type"].GetString();
    if (type == "resume") {
        if (!doc.HasMember("after_seq") || !doc["after_seq"].IsInt64() || doc["after_seq"].GetInt64() < 0) {
            session->send(std::make_shared<const std::string>(
                frame("error", 0, clock_.now_ms(),
                      R"({"code":"bad_frame","message":"resume needs after_seq >= 0"})")));
            return;
        }
        start_replay(session->id(), doc["after_seq"].GetInt64());
    } else if (type == "ping") {
        session->send(std::make_shared<const std::string>(frame("pong", 0, clock_.now_ms(), "{}")));
    } else {
        session->send(std::make_shared<const std::string>(frame(
            "error", 0, clock_.now_ms(), R"({"code":"unknown_frame","message":"unknown frame type"})")));
    }
}

void Notifier::start_replay(std::uint64_t session_id, std::int64_t after_seq) {
    auto replay = std::make_shared<Replay>();
    replay->session_id = session_id;
    replay->after_seq = after_seq;
    replay->cursor = after_seq;
    {
        std::lock_guard lock(mutex_);
        auto it = subscribers_.find(session_id);
        if (it == subscribers_.end()) return;
        // A later resume supersedes one still running: the older one stops at its next step.
        replay->generation = ++it->second.replay_generation;
        it->second.replaying = true;
        it->second.held.clear();
        replay->session = it->second.session;
        replay->principal = it->second.principal;
        replay->token = it->second.token;
    }
    store_.post([this, replay](store::Store& store) { replay_step(store, replay); });
}

bool Notifier::replay_current(const Replay& replay) {
    std::lock_guard lock(mutex_);
    auto it = subscribers_.find(replay.session_id);
    return it != subscribers_.end() && it->second.replay_generation == replay.generation;
}

// On a store thread: sends what fits in the session's queue, then either finishes or pauses
// until the queue drains (when_drained). It never waits on the client: a session that stops
// reading holds up only its own replay, never a store thread that every request shares.
void Notifier::replay_step(store::Store& store, const std::shared_ptr<Replay>& replay) {
    if (replay->session->is_closed() || !replay_current(*replay)) return;
    auto& session = *replay->session;
    try {
        if (!replay->started) {
            replay->started = true;
            std::int64_t first = store.first_seq();
            std::int64_t last = store.last_seq();
            if ((first > 0 && replay->after_seq < first - 1) || replay->after_seq > last) {
                // Older than what is kept (or from another database): the client reloads.
                session.send(std::make_shared<const std::string>(
                    frame("resync_required", 0, clock_.now_ms(),
                          fmt::format(R"({{"after_seq":{},"oldest_seq":{},"last_seq":{}}})",
                                      replay->after_seq, first, last))));
                replay->cursor = last;
                replay->resynced = true;
                return finish_replay(*replay);
            }
        }
        Subscriber probe;
        probe.session = replay->session;
        probe.principal = replay->principal;
        probe.token = replay->token;
        for (;;) {
            if (session.queued() * 2 > session.queue_limit()) {
                // Paced by the session's own queue, so a resuming client is not closed as a slow
                // consumer by its own backlog; resumed on a store thread once it drained.
                session.when_drained([this, replay] {
                    store_.post([this, replay](store::Store& s) { replay_step(s, replay); });
                });
                return;
            }
            const int batch =
                std::clamp(static_cast<int>(session.queue_limit() / 2 - session.queued()), 1, kReplayBatch);
            auto events = store.events_after(replay->cursor, batch);
            for (const auto& event : events) {
                if (visible(probe, event)) session.send(event_frame(event));
                replay->cursor = event.seq;
                replay->seen.push_back(event.seq);
            }
            if (static_cast<int>(events.size()) < batch) break;
        }
    } catch (const std::exception& e) {
        spdlog::error("resume failed session={} error=\"{}\"", replay->session_id, e.what());
        session.close(1011, "resume failed: the store is unavailable; reconnect and resume again");
        return;
    }
    finish_replay(*replay);
}

// Hands over to live delivery: what arrived meanwhile and the replay did not send.
void Notifier::finish_replay(Replay& replay) {
    std::lock_guard lock(mutex_);
    auto it = subscribers_.find(replay.session_id);
    if (it == subscribers_.end() || it->second.replay_generation != replay.generation) return;
    Subscriber& s = it->second;
    s.replayed_up_to = replay.cursor;
    s.replay_seen.clear();
    s.replay_seen_until_ms = 0;
    if (!replay.resynced && replay.cursor > replay.after_seq) {
        s.replay_seen_until_ms = clock_.now_ms() + kGapMs;
        s.replay_after = replay.after_seq;
        for (auto seq : replay.seen)
            if (seq > replay.cursor - kGapSeqs) s.replay_seen.insert(seq);
    }
    for (auto& [event, bytes] : s.held) {
        if (!replayed(s, event.seq)) s.session->send(bytes);
    }
    s.held.clear();
    s.replaying = false;
}

bool SeqWindow::insert(std::int64_t seq) {
    if (seq <= high_ - kWindow) return false;
    auto bit = [this](std::int64_t s) -> std::pair<std::uint64_t&, std::uint64_t> {
        const auto index = static_cast<std::uint64_t>(s) % static_cast<std::uint64_t>(kWindow);
        return {bits_[index / 64], std::uint64_t{1} << (index % 64)};
    };
    if (seq > high_) {
        // The window slides: the slots of the seqs it now covers held seqs kWindow older.
        if (seq - high_ >= kWindow) {
            std::fill(bits_.begin(), bits_.end(), 0);
        } else {
            for (std::int64_t s = high_ + 1; s <= seq; ++s) {
                auto [word, mask] = bit(s);
                word &= ~mask;
            }
        }
        high_ = seq;
    }
    auto [word, mask] = bit(seq);
    if ((word & mask) != 0) return false;
    word |= mask;
    return true;
}

bool Notifier::first_publication(std::int64_t seq) {
    std::lock_guard lock(published_mutex_);
    return published_.insert(seq);
}

bool Notifier::publish(const store::Event& event) {
    const bool fresh = publish_remote(event);
    // Even when the fan-out read it back first: other instances learn of it from our NOTIFY.
    if (commit_hook_) commit_hook_(event.seq);
    return fresh;
}

bool Notifier::publish_remote(const store::Event& event) {
    if (event.seq > 0 && !first_publication(event.seq)) return false;
    std::int64_t seen = last_seq_.load();
    while (event.seq > seen && !last_seq_.compare_exchange_weak(seen, event.seq)) {
    }
    deliver(event_frame(event), &event);
    if (event_hook_) event_hook_(event);
    return true;
}

void Notifier::publish_typing(const std::string& channel_id, const std::string& platform_conversation_id,
                              std::int64_t conversation_id, const std::string& audience,
                              const std::string& state) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("conversation_id");
    if (conversation_id > 0)
        w.String(std::to_string(conversation_id));
    else
        w.Null();
    w.Key("channel_id");
    w.String(channel_id);
    w.Key("platform_conversation_id");
    w.String(platform_conversation_id);
    w.Key("state");
    w.String(state);
    w.EndObject();
    deliver(
        std::make_shared<const std::string>(frame("typing_indicator", 0, clock_.now_ms(),
                                                  std::string_view(buffer.GetString(), buffer.GetSize()))),
        nullptr, &audience);
}

void Notifier::publish_to_agent(const std::string& agent_id, std::string_view type,
                                std::string_view data_json) {
    auto bytes = std::make_shared<const std::string>(frame(type, 0, clock_.now_ms(), data_json));
    std::size_t sent = 0;
    std::lock_guard lock(mutex_);
    for (auto& [id, subscriber] : subscribers_) {
        if (subscriber.principal->agent_id != agent_id) continue;
        subscriber.session->send(bytes);
        ++sent;
    }
    metrics::registry().ws_frames.inc(sent);
}

void Notifier::deliver(const std::shared_ptr<const std::string>& bytes, const store::Event* event,
                       const std::string* audience) {
    // Sending only queues onto each session's strand, so holding the lock here is short and
    // keeps delivery ordered against attach/replay hand-over.
    std::size_t sent = 0;
    std::lock_guard lock(mutex_);
    for (auto& [id, subscriber] : subscribers_) {
        if (event != nullptr) {
            if (!visible(subscriber, *event)) continue;
            if (subscriber.replaying) {
                // Held for the hand-over, as much as the session's queue may hold: a replay
                // paused by a client that does not read must not grow the daemon's memory.
                if (subscriber.held.size() >= subscriber.session->queue_limit()) {
                    subscriber.session->close(1008, "slow consumer: reconnect and resume from your last seq");
                    continue;
                }
                subscriber.held.emplace_back(*event, bytes);
                continue;
            }
            if (replayed(subscriber, event->seq)) continue;
        } else if (audience != nullptr && !identity::Audience::includes(*audience, *subscriber.principal)) {
            continue;  // ephemeral, but seen only by whoever sees the conversation
        }
        subscriber.session->send(bytes);
        ++sent;
    }
    metrics::registry().ws_frames.inc(sent);
}

std::size_t Notifier::connections() const {
    std::lock_guard lock(mutex_);
    return subscribers_.size();
}

void Notifier::close_all(std::uint16_t code, const std::string& reason) {
    std::lock_guard lock(mutex_);
    for (auto& [id, subscriber] : subscribers_) subscriber.session->close(code, reason);
}

void Notifier::close_agent(const std::string& agent_id, const std::string& reason) {
    std::lock_guard lock(mutex_);
    for (auto& [id, subscriber] : subscribers_)
        if (subscriber.principal->agent_id == agent_id) subscriber.session->close(1008, reason);
}

void Notifier::close_token(const std::string& token_id, const std::string& reason) {
    std::lock_guard lock(mutex_);
    for (auto& [id, subscriber] : subscribers_)
        if (!token_id.empty() && subscriber.principal->token_id == token_id)
            subscriber.session->close(1008, reason);
}

}  // namespace sb::notifier
