#include "domain/labels.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "domain/names.hpp"
#include "identity/principal.hpp"
#include "store/json.hpp"

namespace sb::domain {

std::string label_name(std::string_view name) { return lower_name(name, 50, "a label name"); }

void check_label_color(std::string_view color) {
    const bool valid = color.size() == 7 && color[0] == '#' &&
                       color.substr(1).find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
    if (!valid) throw std::invalid_argument(fmt::format("a label color is #rrggbb, got \"{}\"", color));
}

store::LabelOutcome label_conversation(Statements& st, std::int64_t conversation_id, std::string_view label,
                                       bool add, std::string_view changed_by, std::int64_t now_ms) {
    const std::string name = label_name(label);
    store::LabelOutcome out;
    if (!st.lock_assignee(conversation_id)) return out;
    if (!st.label_exists(name)) {
        out.kind = store::LabelOutcome::Kind::no_label;
        return out;
    }
    const bool changed = add ? st.add_label(conversation_id, name) : st.remove_label(conversation_id, name);
    out.conversation = *st.conversation(conversation_id);
    out.kind = store::LabelOutcome::Kind::done;
    if (changed)
        out.event = st.append_event("conversation_updated", conversation_id,
                                    store::updated_data(out.conversation, changed_by, {"labels"}), now_ms,
                                    identity::Audience::of_conversation(out.conversation.assignee_id));
    return out;
}

}  // namespace sb::domain
