#pragma once
// Fans notification events out to agents' WebSocket sessions. Each live event is serialized
// once and the same bytes are shared by every recipient that may see it (admins see all; an
// agent sees its own and unassigned conversations). A session that resumes from a seq first
// gets what it missed from the store, in order, then live events, with nothing twice.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/server.hpp"
#include "identity/principal.hpp"
#include "store/runner.hpp"
#include "store/store.hpp"
#include "util/clock.hpp"

namespace sb::notifier {

// Which seqs were published, one bit each over the newest kWindow seqs (512 KiB): a repeat
// (local publish and the fan-out reading the same event back) is refused, while a late seq of
// the outbox gap is still let through however many newer ones went out meanwhile (4M seqs:
// minutes of traffic, longer than the fan-out waits for a gap). A seq older than the window
// counts as seen. Not thread-safe.
class SeqWindow {
public:
    static constexpr std::int64_t kWindow = std::int64_t{1} << 22;
    // True the first time `seq` is seen.
    bool insert(std::int64_t seq);

private:
    std::vector<std::uint64_t> bits_ = std::vector<std::uint64_t>(kWindow / 64);
    std::int64_t high_ = 0;  // the newest seq seen
};

class Notifier {
public:
    // `clock` stamps frames and times the replay's gap window.
    Notifier(store::StoreRunner& store, std::int64_t last_seq,
             const util::Clock& clock = util::Clock::system())
        : store_(store), clock_(clock), last_seq_(last_seq) {}

    // Sends hello, then (with after_seq) replays missed events before live ones flow.
    void attach(const std::shared_ptr<http::WsSession>& session,
                std::shared_ptr<const identity::Principal> principal, std::optional<std::int64_t> after_seq);
    void detach(const http::WsSession& session);
    // A client frame: {"type":"resume","after_seq":N} or {"type":"ping"}.
    void on_client_frame(const std::shared_ptr<http::WsSession>& session, std::string_view text);

    // A persistent event, already committed with its seq, by this instance: delivered at once,
    // then the commit hook is told (the multi-instance fan-out). Returns false, doing nothing,
    // when this seq was published already.
    bool publish(const store::Event& event);
    // The same, for an event read back from the shared store (another instance committed it,
    // or this one and the local publish has not happened yet): no commit hook. An event both
    // published locally and read back is delivered once.
    bool publish_remote(const store::Event& event);
    // An ephemeral typing indicator (no seq, never replayed).
    // `conversation_id` 0 when the conversation is not stored yet; `audience` as for events.
    void publish_typing(const std::string& channel_id, const std::string& platform_conversation_id,
                        std::int64_t conversation_id, const std::string& audience, const std::string& state);

    // An ephemeral frame (no seq, never replayed) for every session of one agent only, admins'
    // included: what is that agent's own (its read state, conversation_read).
    void publish_to_agent(const std::string& agent_id, std::string_view type, std::string_view data_json);

    // Hooks, set before serving: every published persistent event; an agent's first session
    // opened / last session closed (agents with their own tokens only).
    void set_event_hook(std::function<void(const store::Event&)> hook) { event_hook_ = std::move(hook); }
    // Called after a local publish with its seq (not under any lock).
    void set_commit_hook(std::function<void(std::int64_t seq)> hook) { commit_hook_ = std::move(hook); }
    void set_presence_hook(std::function<void(const std::string& agent_id, bool online)> hook) {
        presence_hook_ = std::move(hook);
    }

    // --- presence: availability (as each agent sets it) and whether a session is connected ---
    // At start, from the store; agents not named are online. Held per instance: another
    // instance learns a change when its agents reconnect or set it there.
    void load_availability(const std::vector<store::Agent>& agents);
    // An agent set its availability: agent_presence to every session, then the hook.
    void set_availability(const std::string& agent_id, const std::string& availability);
    struct Presence {
        std::string availability;  // as the agent set it
        bool connected = false;    // a session of it is open on this instance
        // What colleagues are shown: the availability while connected, else offline.
        std::string shown() const { return connected ? availability : "offline"; }
    };
    Presence presence(const std::string& agent_id) const;
    // {"agent_id","availability","connected","presence"} (the agent_presence frame's data).
    std::string presence_json(const std::string& agent_id) const;
    void set_availability_hook(std::function<void(const std::string& agent_id, const std::string&)> hook) {
        availability_hook_ = std::move(hook);
    }

    std::int64_t last_seq() const { return last_seq_.load(); }
    std::size_t connections() const;
    // Closes every session (shutdown: 1001 "going away").
    void close_all(std::uint16_t code, const std::string& reason);
    // Closes the sessions of an agent, or of one token (revocation).
    void close_agent(const std::string& agent_id, const std::string& reason);
    void close_token(const std::string& token_id, const std::string& reason);

private:
    struct Subscriber {
        std::shared_ptr<http::WsSession> session;
        std::shared_ptr<const identity::Principal> principal;
        // Random, told in hello as session_id: a request naming it (X-Switchboard-Session) is
        // this session's, and the events it causes (store::Event::origin) are not sent here.
        std::string token;
        bool replaying = false;
        std::uint64_t replay_generation = 0;  // of the replay running or last run
        std::int64_t replayed_up_to = 0;      // live events at or below it were sent by the replay…
        // …except, for a while after the replay, seqs just below it that the replay did not
        // see (their transactions committed later: the outbox gap). These are the seqs the
        // replay did see in that range; emptied once the gap must have closed.
        std::set<std::int64_t> replay_seen;
        std::int64_t replay_seen_until_ms = 0;
        std::int64_t replay_after = 0;  // the replay's after_seq
        std::vector<std::pair<store::Event, std::shared_ptr<const std::string>>> held;  // live, during replay
    };
    static bool visible(const Subscriber& s, const store::Event& event);
    // True when the replay already sent (or deliberately skipped) `seq` to this subscriber.
    bool replayed(Subscriber& s, std::int64_t seq) const;  // reads the clock
    // Remembers `seq` as published; false when it was already (or is below what is remembered).
    bool first_publication(std::int64_t seq);
    // One resume's replay, carried from step to step (see replay_step).
    struct Replay {
        std::uint64_t session_id = 0;
        std::uint64_t generation = 0;
        std::shared_ptr<http::WsSession> session;
        std::shared_ptr<const identity::Principal> principal;
        std::string token;
        std::int64_t after_seq = 0;
        std::int64_t cursor = 0;
        std::vector<std::int64_t> seen;  // every seq the replay read, visible or not
        bool started = false;
        bool resynced = false;
    };
    void start_replay(std::uint64_t session_id, std::int64_t after_seq);
    void replay_step(store::Store& store, const std::shared_ptr<Replay>& replay);
    bool replay_current(const Replay& replay);
    void finish_replay(Replay& replay);
    void deliver(const std::shared_ptr<const std::string>& frame, const store::Event* event,
                 const std::string* audience = nullptr);

    // Sessions of `agent_id` other than `except`; call with the lock held.
    std::size_t sessions_of(const std::string& agent_id, std::uint64_t except) const;

    store::StoreRunner& store_;
    const util::Clock& clock_;
    std::function<void(const store::Event&)> event_hook_;
    std::function<void(const std::string&, bool)> presence_hook_;
    std::function<void(const std::string&, const std::string&)> availability_hook_;
    // An ephemeral frame for every session but `except` (a session id; 0 = none).
    void publish_to_all(std::string_view type, std::string_view data_json, std::uint64_t except = 0);
    Presence presence_locked(const std::string& agent_id) const;
    std::string presence_json_locked(const std::string& agent_id) const;
    std::unordered_map<std::string, std::string> availability_;  // under mutex_; absent = online
    std::function<void(std::int64_t)> commit_hook_;
    std::mutex published_mutex_;
    SeqWindow published_;
    mutable std::mutex mutex_;
    std::unordered_map<std::uint64_t, Subscriber> subscribers_;
    std::atomic<std::int64_t> last_seq_;
};

// {"type":…,"seq":…,"at":…,"data":…} — the one writer of server frames.
std::string frame(std::string_view type, std::int64_t seq, std::int64_t at_ms, std::string_view data_json);

}  // namespace sb::notifier
