#pragma once
// An agent's reply, from the REST request to the platform and back: the plugin builds the
// platform request, the rate limiter gives it a slot within the send's deadline, the host
// client sends it (retrying short rate-limit waits and what certainly did not reach the
// platform), the plugin classifies the answer, and the message is stored — sent with its
// platform id, failed with the platform's code and reason, or unknown — before the agent is
// answered with a Result (the API picks the HTTP status). Errors come back to the agent, never
// as WebSocket events.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "http_client/client.hpp"
#include "identity/principal.hpp"
#include "media/blob_store.hpp"
#include "outbound/rate_limit.hpp"
#include "outbound/result.hpp"
#include "plugin_host/channel.hpp"
#include "store/runner.hpp"
#include "util/clock.hpp"

namespace boost::asio {
class io_context;
}

namespace sb::outbound {

struct SendRequest {
    // message: a stored agent message. typing / mark_read: an action forwarded to the
    // platform where the channel can, never stored.
    enum class Kind { message, typing, mark_read } kind = Kind::message;
    std::int64_t conversation_id = 0;
    std::shared_ptr<const identity::Principal> agent;
    std::string body;             // the agent's JSON: {"content":{…},"reply_to":…}
    std::string idempotency_key;  // "" = none
    // A stored message to send again (POST …/messages/{id}/retry): only a failed or unknown one,
    // whose row is updated with the outcome. `body` and `idempotency_key` are then unused.
    std::int64_t retry_of = 0;
    // The agent's WebSocket session that sent it (X-Switchboard-Session), which message_sent
    // skips; "" = none.
    std::string origin;
};

// Group commit for sent messages: what concurrent replies want stored waits while one batch
// is written (Store::insert_outbound_batch: one transaction, one fsync), then goes in the
// next one. At most one batch is in flight, on a store thread.
class Recorder {
public:
    using Done = std::function<void(store::OutboundResult)>;
    Recorder(store::StoreRunner& store, const util::Clock& clock) : store_(store), clock_(clock) {}

    // `done` runs once, on a store thread.
    void record(store::OutboundMessage message, Done done);

private:
    struct Pending {
        store::OutboundMessage message;
        Done done;
    };
    void drain(store::Store& store);

    store::StoreRunner& store_;
    const util::Clock& clock_;
    std::mutex mutex_;
    std::vector<Pending> pending_;
    bool busy_ = false;  // a drain is queued or running
};

class Sender {
public:
    Sender(boost::asio::io_context& io, store::StoreRunner& store, const plugin_host::LiveChannels& channels,
           http_client::Client& client, config::OutboundConfig config,
           const util::Clock& clock = util::Clock::system())
        : io_(io),
          store_(store),
          channels_(channels),
          client_(client),
          config_(config),
          clock_(clock),
          recorder_(store, clock) {}

    // `done` runs once, on any thread, with what became of the request (the API answers the
    // agent with it: api/replies.hpp).
    void send(SendRequest request, std::function<void(Result)> done);
    // Where uploads' bytes are (content {"upload_id"}); without it uploads cannot be sent.
    void set_blobs(media::BlobStore* blobs) { blobs_ = blobs; }
    // Where a stored reply's message_sent goes (the notifier); unset: replies announce nothing
    // (realtime.outbound_events: none). Called on a store thread.
    void set_announcer(std::function<void(const store::Event&)> announce) { announce_ = std::move(announce); }

private:
    friend class Attempt;
    boost::asio::io_context& io_;
    store::StoreRunner& store_;
    const plugin_host::LiveChannels& channels_;
    http_client::Client& client_;
    config::OutboundConfig config_;
    const util::Clock& clock_;  // claims' and stored messages' times
    Recorder recorder_;
    RateLimiter limiter_;
    media::BlobStore* blobs_ = nullptr;
    std::function<void(const store::Event&)> announce_;
};

}  // namespace sb::outbound
