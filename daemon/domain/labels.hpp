#pragma once
// Labels: what a label may be called and coloured, and putting one on a conversation or taking
// it off, with its conversation_updated event, for every store backend.

#include <cstdint>
#include <string>
#include <string_view>

#include "domain/statements.hpp"
#include "store/store.hpp"

namespace sb::domain {

// The name lower-cased, or std::invalid_argument unless it is then 1..50 of [a-z0-9_-].
std::string label_name(std::string_view name);
// std::invalid_argument unless `color` is #rrggbb (hex digits, either case).
void check_label_color(std::string_view color);

store::LabelOutcome label_conversation(Statements& statements, std::int64_t conversation_id,
                                       std::string_view label, bool add, std::string_view changed_by,
                                       std::int64_t now_ms);

}  // namespace sb::domain
