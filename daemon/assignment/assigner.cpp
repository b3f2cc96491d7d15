#include "assignment/assigner.hpp"

#include <algorithm>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "util/time.hpp"

namespace sb::assignment {

Assigner::Assigner(boost::asio::io_context& io, store::StoreRunner& store, notifier::Notifier& notifier,
                   config::AssignmentConfig config)
    : io_(io), store_(store), notifier_(notifier), config_(std::move(config)) {}

void Assigner::start() {
    if (!enabled()) return;
    store_.post([this](store::Store& store) {
        std::vector<std::int64_t> ids;
        store::ConversationFilter filter;
        filter.status = "open";
        filter.assignee = "unassigned";
        std::string cursor;
        do {
            auto page = store.conversations(filter, 200, cursor);
            for (const auto& c : page.items) ids.push_back(c.id);
            cursor = page.next_cursor;
        } while (!cursor.empty());
        std::reverse(ids.begin(), ids.end());  // pages are newest first; the queue is oldest first
        {
            std::lock_guard lock(mutex_);
            for (auto id : ids)
                if (queued_.insert(id).second) waiting_.push_back(id);
        }
        spdlog::info("auto-assignment started waiting={}", ids.size());
        drain_on_store(store);
    });
}

void Assigner::on_event(const store::Event& event) {
    if (!enabled() || event.type != "new_message" || !event.audience.empty()) return;
    {
        std::lock_guard lock(mutex_);
        if (!queued_.insert(event.conversation_id).second) return;
        waiting_.push_back(event.conversation_id);
    }
    drain();
}

void Assigner::on_presence(const std::string& agent_id, bool online) {
    if (!enabled()) return;
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(mutex_);
        generation = ++offline_generation_[agent_id];
        if (online)
            online_.insert(agent_id);
        else
            online_.erase(agent_id);
    }
    if (online) return drain();
    // Offline: give the agent the grace period to come back before taking its work away.
    auto timer =
        std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(config_.offline_grace_ms));
    timer->async_wait([this, timer, agent_id, generation](boost::system::error_code ec) {
        if (ec) return;
        {
            std::lock_guard lock(mutex_);
            if (offline_generation_[agent_id] != generation || online_.contains(agent_id)) return;
        }
        reassign_if_still_offline(agent_id);
    });
}

void Assigner::on_availability(const std::string& agent_id, const std::string& availability) {
    if (!enabled()) return;
    {
        std::lock_guard lock(mutex_);
        if (availability == "online")
            unavailable_.erase(agent_id);
        else
            unavailable_.insert(agent_id);
    }
    if (availability == "online") drain();
}

void Assigner::reassign_if_still_offline(const std::string& agent_id) {
    store_.post([this, agent_id](store::Store& store) {
        store::ConversationFilter filter;
        filter.status = "open";
        filter.assignee = agent_id;
        std::vector<std::int64_t> ids;
        std::string cursor;
        do {
            auto page = store.conversations(filter, 200, cursor);
            for (const auto& c : page.items) ids.push_back(c.id);
            cursor = page.next_cursor;
        } while (!cursor.empty());
        std::reverse(ids.begin(), ids.end());
        for (auto id : ids) {
            {
                std::lock_guard lock(mutex_);
                if (online_.contains(agent_id)) return;  // came back meanwhile
            }
            auto outcome = store.assign(id, "", agent_id, "auto", util::now_ms());
            if (outcome.kind != store::AssignOutcome::Kind::assigned) continue;
            notifier_.publish(outcome.event);
            std::lock_guard lock(mutex_);
            if (queued_.insert(id).second) waiting_.push_back(id);
        }
        if (!ids.empty())
            spdlog::info("auto-assignment: agent {} offline, {} conversation(s) requeued", agent_id,
                         ids.size());
        drain_on_store(store);
    });
}

void Assigner::drain() {
    if (!enabled()) return;
    store_.post([this](store::Store& store) { drain_on_store(store); });
}

void Assigner::drain_on_store(store::Store& store) {
    {
        // One drain at a time; a request arriving meanwhile makes the running one go again.
        std::lock_guard lock(mutex_);
        if (draining_) {
            drain_again_ = true;
            return;
        }
        draining_ = true;
    }
    for (;;) {
        try {
            std::map<std::string, int> load;
            std::vector<std::string> online;
            {
                std::lock_guard lock(mutex_);
                for (const auto& id : online_)
                    if (!unavailable_.contains(id)) online.push_back(id);
            }
            for (const auto& id : online) load[id] = 0;
            for (const auto& [agent, count] : store.open_counts())
                if (load.contains(agent)) load[agent] = count;
            for (;;) {
                std::int64_t conversation = 0;
                {
                    std::lock_guard lock(mutex_);
                    if (waiting_.empty()) break;
                    conversation = waiting_.front();
                }
                // Least loaded; ties go to the smallest id, so the choice is deterministic.
                auto best = std::min_element(load.begin(), load.end(), [](const auto& a, const auto& b) {
                    return a.second < b.second;
                });
                if (best == load.end() || best->second >= config_.capacity) break;  // nobody has room
                auto outcome = store.assign(conversation, best->first, std::string(), "auto", util::now_ms());
                {
                    std::lock_guard lock(mutex_);
                    waiting_.pop_front();
                    queued_.erase(conversation);
                }
                if (outcome.kind == store::AssignOutcome::Kind::assigned) {
                    ++best->second;
                    notifier_.publish(outcome.event);
                    spdlog::info("auto-assigned conversation={} agent={}", conversation, best->first);
                }
                // conflict: someone took it by hand meanwhile; not_found: gone. Either way, next.
            }
        } catch (const std::exception& e) {
            spdlog::error("auto-assignment failed error=\"{}\"", e.what());
        }
        std::lock_guard lock(mutex_);
        if (!drain_again_) {
            draining_ = false;
            return;
        }
        drain_again_ = false;
    }
}

std::size_t Assigner::waiting() const {
    std::lock_guard lock(mutex_);
    return waiting_.size();
}

}  // namespace sb::assignment
