#pragma once
// Inbound: the user's system posts normalized events (docs/normalized-events.md) to
// /webhooks/{channel_id}; this validates them against the documented schema and re-writes
// each as a canonical event for the host.

#include <string>
#include <string_view>
#include <vector>

namespace api_channel {

// Most events one webhook body may carry ({"events":[...]}).
inline constexpr std::size_t kMaxBatch = 1000;

// Reads a webhook body: ONE event object, or {"events":[event, ...]}. Every event is checked
// before any is returned, so a body is taken whole or refused whole. Throws
// switchboard::InvalidInput naming the first offending field ("events[2].content.text must be
// a string").
std::vector<std::string> read_events(std::string_view body);

}  // namespace api_channel
