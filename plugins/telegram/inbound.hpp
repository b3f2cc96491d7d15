#pragma once
// Inbound translation: one Telegram `Update` (a webhook body or one element of getUpdates)
// into normalized events (docs/normalized-events.md).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::telegram {

// Normalized events for the Update in `body`, each a JSON object. Every update yields exactly
// one event: types and contents the plugin does not translate become content
// {"type":"unsupported"} with the whole update in `raw`, never dropped. `now_ms` stamps events
// Telegram gives no time for (button taps). Throws InvalidInput when the body is not an Update
// (not JSON, not an object, no update_id) or a translated object lacks a required field.
// With `callback_query_id`, it receives the id of a tapped inline button's callback_query (what
// answerCallbackQuery needs so that the button stops spinning), or nullopt for other updates.
std::vector<std::string> normalize_update(std::string_view body, std::int64_t now_ms,
                                          std::optional<std::string>* callback_query_id = nullptr);

}  // namespace sb::telegram
