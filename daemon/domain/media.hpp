#pragma once
// What a file's final state does to its message (issue 16): the message's content, which
// carries the media object, is rewritten and message_updated goes to whoever sees the
// conversation. Written once over the backends' statements.

#include <cstdint>
#include <optional>
#include <string>

#include "domain/statements.hpp"

namespace sb::domain {

// nullopt when the message is gone.
std::optional<store::Event> media_settled(Statements& statements, std::int64_t message_id,
                                          const std::string& content_json, std::int64_t now_ms);

}  // namespace sb::domain
