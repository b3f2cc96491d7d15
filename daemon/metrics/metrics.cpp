#include "metrics/metrics.hpp"

#include <fmt/format.h>

namespace sb::metrics {
namespace {

// Label values are escaped as the exposition format requires.
std::string escape(const std::string& value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\' || c == '"')
            out += '\\', out += c;
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

}  // namespace

void Histogram::observe(double seconds) {
    std::size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(static_cast<std::uint64_t>(seconds > 0 ? seconds * 1e6 : 0),
                          std::memory_order_relaxed);
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
    out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBounds[i], cumulative);
    }
    cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
    out += fmt::format("{}_sum {}\n", name, sum_micros_.load(std::memory_order_relaxed) / 1e6);
    out += fmt::format("{}_count {}\n", name, count_.load(std::memory_order_relaxed));
}

Counter& CounterFamily::with(const std::vector<std::string>& label_values) {
    std::lock_guard lock(mutex_);
    auto& slot = counters_[label_values];
    if (!slot) slot = std::make_unique<Counter>();
    return *slot;
}

void CounterFamily::render(std::string& out) const {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name_, help_, name_);
    std::lock_guard lock(mutex_);
    for (const auto& [values, counter] : counters_) {
        std::string labels;
        for (std::size_t i = 0; i < label_names_.size() && i < values.size(); ++i) {
            if (i) labels += ',';
            labels += fmt::format("{}=\"{}\"", label_names_[i], escape(values[i]));
        }
        out += fmt::format("{}{{{}}} {}\n", name_, labels, counter->value());
    }
}

Registry& registry() {
    static Registry instance;
    return instance;
}

std::string render() {
    Registry& r = registry();
    std::string out;
    out.reserve(4096);
    for (const CounterFamily* family :
         {&r.webhooks_received, &r.webhooks_rejected, &r.messages_stored, &r.duplicates, &r.ignored_updates,
          &r.dead_letters, &r.outbound_sends, &r.plugin_refusals, &r.store_errors, &r.auth_failures,
          &r.connections_refused, &r.requests_refused})
        family->render(out);
    out += fmt::format(
        "# HELP switchboard_websocket_frames_total Frames queued to agent WebSockets\n"
        "# TYPE switchboard_websocket_frames_total counter\n"
        "switchboard_websocket_frames_total {}\n",
        r.ws_frames.value());
    if (r.ws_connections)
        out += fmt::format(
            "# HELP switchboard_websocket_connections Open agent WebSockets\n"
            "# TYPE switchboard_websocket_connections gauge\n"
            "switchboard_websocket_connections {}\n",
            r.ws_connections());
    if (r.queue_depth)
        out += fmt::format(
            "# HELP switchboard_inbound_queue_depth Webhooks stored and not yet processed\n"
            "# TYPE switchboard_inbound_queue_depth gauge\n"
            "switchboard_inbound_queue_depth {}\n",
            r.queue_depth());
    if (r.oldest_queued_age)
        out += fmt::format(
            "# HELP switchboard_inbound_queue_oldest_age_seconds Age of the oldest webhook waiting\n"
            "# TYPE switchboard_inbound_queue_oldest_age_seconds gauge\n"
            "switchboard_inbound_queue_oldest_age_seconds {}\n",
            r.oldest_queued_age());
    r.processing_latency.render(out, "switchboard_processing_latency_seconds",
                                "Webhook accepted to event pushed to agents");
    r.outbound_latency.render(out, "switchboard_outbound_latency_seconds",
                              "Agent send request to platform answer");
    return out;
}

}  // namespace sb::metrics
