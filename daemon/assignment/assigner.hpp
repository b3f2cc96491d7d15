#pragma once
// Auto-assignment (assignment.mode: auto). A conversation waiting for an agent goes to the
// online agent (one with an open WebSocket whose availability is `online`) holding the fewest open
// conversations, below the capacity; when nobody has room it waits in a FIFO queue, drained whenever an agent
// comes online, frees capacity or a conversation is resolved. An agent offline longer than the grace period
// has its open conversations put back in the queue.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "config/config.hpp"
#include "notifier/notifier.hpp"
#include "store/runner.hpp"

namespace boost::asio {
class io_context;
}

namespace sb::assignment {

class Assigner {
public:
    Assigner(boost::asio::io_context& io, store::StoreRunner& store, notifier::Notifier& notifier,
             config::AssignmentConfig config);

    bool enabled() const { return config_.mode == "auto"; }
    // Queues every unassigned open conversation, oldest activity first (after a restart).
    void start();
    // A persistent event was published: new customer messages in unassigned conversations wait.
    void on_event(const store::Event& event);
    // Presence from the notifier: the first session of an agent opened / the last one closed.
    void on_presence(const std::string& agent_id, bool online);
    // The availability an agent set (PATCH /api/v1/me): only `online` agents get new
    // conversations; busy or offline ones keep what they have.
    void on_availability(const std::string& agent_id, const std::string& availability);
    // Capacity may have freed (resolved, reassigned, unassigned).
    void capacity_changed() { drain(); }
    std::size_t waiting() const;

private:
    void drain();
    void drain_on_store(store::Store& store);
    void reassign_if_still_offline(const std::string& agent_id);

    boost::asio::io_context& io_;
    store::StoreRunner& store_;
    notifier::Notifier& notifier_;
    config::AssignmentConfig config_;
    mutable std::mutex mutex_;
    std::deque<std::int64_t> waiting_;  // conversation ids, first come first served
    std::set<std::int64_t> queued_;
    std::set<std::string> online_;
    std::set<std::string> unavailable_;                        // set themselves busy or offline
    std::map<std::string, std::uint64_t> offline_generation_;  // cancels stale grace timers
    bool draining_ = false;
    bool drain_again_ = false;
};

}  // namespace sb::assignment
