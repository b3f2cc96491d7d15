#pragma once
// Process metrics in the Prometheus text format (/metrics). Counters and histograms are
// lock-free on the hot path once their label set exists; a label set is created on first use.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sb::metrics {

class Counter {
public:
    void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

// Latency in seconds, with fixed buckets from 100 µs to 10 s.
class Histogram {
public:
    static constexpr std::array<double, 14> kBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                    0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   10.0};
    void observe(double seconds);
    void render(std::string& out, const std::string& name, const std::string& labels) const;

private:
    std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_micros_{0};
};

// A family of counters by label values, e.g. webhooks_rejected_total{channel,reason}.
class CounterFamily {
public:
    CounterFamily(std::string name, std::string help, std::vector<std::string> label_names)
        : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}
    Counter& with(const std::vector<std::string>& label_values);
    void render(std::string& out) const;

private:
    std::string name_, help_;
    std::vector<std::string> label_names_;
    mutable std::mutex mutex_;
    std::map<std::vector<std::string>, std::unique_ptr<Counter>> counters_;
};

// Everything the daemon counts. One instance per process (registry()).
struct Registry {
    CounterFamily webhooks_received{
        "switchboard_webhooks_received_total", "Webhook requests accepted and durably queued", {"channel"}};
    CounterFamily webhooks_rejected{
        "switchboard_webhooks_rejected_total", "Webhook requests refused, by reason", {"channel", "reason"}};
    CounterFamily messages_stored{"switchboard_inbound_events_applied_total",
                                  "Inbound events stored (duplicates excluded)",
                                  {"channel"}};
    CounterFamily duplicates{
        "switchboard_inbound_duplicates_total", "Inbound messages already stored", {"channel"}};
    CounterFamily ignored_updates{"switchboard_ignored_updates_total",
                                  "Platform updates a plugin drops by design (its docs list them), by kind",
                                  {"channel", "kind"}};
    CounterFamily dead_letters{
        "switchboard_dead_letters_total", "Queue rows moved to dead letter", {"channel"}};
    CounterFamily outbound_sends{
        "switchboard_outbound_sends_total", "Agent messages sent, by result class", {"channel", "result"}};
    CounterFamily plugin_refusals{
        "switchboard_plugin_refusals_total", "Plugins the loader refused", {"plugin"}};
    CounterFamily store_errors{"switchboard_store_errors_total", "Failed store operations", {"operation"}};
    CounterFamily connections_refused{"switchboard_connections_refused_total",
                                      "Connections answered 503 and closed before any request, by reason",
                                      {"reason"}};
    CounterFamily requests_refused{"switchboard_requests_refused_total",
                                   "Requests answered 503 before their body was read, by reason",
                                   {"reason"}};
    CounterFamily auth_failures{
        "switchboard_auth_failures_total", "Requests with a missing or wrong token, by where", {"on"}};
    Counter ws_frames;
    Histogram processing_latency;  // webhook accepted → event pushed to agents
    Histogram outbound_latency;    // agent request → platform answered

    // Gauges are read when /metrics is scraped.
    std::function<std::int64_t()> ws_connections;
    std::function<std::int64_t()> queue_depth;  // may block: called from a store thread
    std::function<double()> oldest_queued_age;  // seconds; may block likewise
};

Registry& registry();

// The whole exposition, gauges included.
std::string render();

}  // namespace sb::metrics
