#include "domain/canned.hpp"

#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "domain/names.hpp"

namespace sb::domain {

std::string canned_shortcode(std::string_view shortcode) {
    return lower_name(shortcode, kShortcodeLimit, "a shortcode");
}

std::string canned_prefix(std::string_view prefix) {
    return prefix.empty() ? std::string() : lower_name(prefix, kShortcodeLimit, "a shortcode prefix");
}

std::string canned_prefix_end(std::string_view prefix) {
    // '~' sorts after every character a shortcode may have (kNameCharacters).
    static_assert('~' > 'z' && '~' > '_' && '~' > '9' && '~' > '-');
    return std::string(prefix) + '~';
}

void check_canned_text(std::string_view text) {
    if (text.empty() || text.size() > kCannedTextLimit)
        throw std::invalid_argument(
            fmt::format("a canned reply's text is 1..{} bytes, got {}", kCannedTextLimit, text.size()));
}

store::CannedReply new_canned_reply(const store::CannedReply& draft, std::int64_t now_ms) {
    store::CannedReply reply = draft;
    reply.shortcode = canned_shortcode(draft.shortcode);
    check_canned_text(reply.text);
    if (reply.scope != "shared" && reply.scope != "personal")
        throw std::invalid_argument(fmt::format("scope is shared or personal, got \"{}\"", reply.scope));
    if ((reply.scope == "shared") != reply.owner_id.empty())
        throw std::invalid_argument("a personal canned reply has an owner and a shared one none");
    reply.created_ms = reply.updated_ms = now_ms;
    return reply;
}

CannedAccess canned_access(const identity::Principal& principal, const store::CannedReply& reply) {
    if (reply.scope == "shared") return principal.admin() ? CannedAccess::write : CannedAccess::read;
    return reply.owner_id == principal.agent_id ? CannedAccess::write : CannedAccess::hidden;
}

store::CannedOutcome update_canned_reply(Statements& st, std::int64_t id, const store::CannedChange& change,
                                         std::int64_t now_ms) {
    std::optional<std::string> shortcode;
    if (change.shortcode) shortcode = canned_shortcode(*change.shortcode);
    if (change.text) check_canned_text(*change.text);
    store::CannedOutcome out;
    auto current = st.lock_canned_reply(id);
    if (!current) return out;
    store::CannedReply updated = *current;
    if (shortcode) updated.shortcode = *shortcode;
    if (change.text) updated.text = *change.text;
    if (updated.shortcode != current->shortcode && st.canned_shortcode_taken(updated)) {
        out.kind = store::CannedOutcome::Kind::conflict;
        return out;
    }
    updated.updated_ms = now_ms;
    st.save_canned_reply(updated);
    out.kind = store::CannedOutcome::Kind::done;
    out.reply = std::move(updated);
    return out;
}

CannedContext canned_context(const store::Conversation& conversation, const identity::Principal& agent) {
    return CannedContext{conversation.contact_name, agent.name, std::to_string(conversation.id),
                         conversation.channel_id};
}

namespace {

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

// The value of placeholder `name`; nullopt when it is not one.
std::optional<std::string_view> value_of(std::string_view name, const CannedContext& c) {
    if (name == "contact.name") return c.contact_name;
    if (name == "contact.first_name") {
        std::string_view full = trimmed(c.contact_name);
        return full.substr(0, full.find(' '));
    }
    if (name == "agent.name") return c.agent_name;
    if (name == "conversation.id") return c.conversation_id;
    if (name == "channel.id") return c.channel_id;
    return std::nullopt;
}

}  // namespace

std::string render_canned(std::string_view text, const CannedContext& context) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        if (text.substr(i, 2) == "{{") {
            const auto close = text.find("}}", i + 2);
            if (close != std::string_view::npos) {
                if (auto value = value_of(trimmed(text.substr(i + 2, close - i - 2)), context)) {
                    out += *value;
                    i = close + 2;
                    continue;
                }
            }
        }
        // Not a placeholder: one character as written, so that "{{{contact.name}}}" still finds
        // the placeholder inside.
        out += text[i++];
    }
    return out;
}

}  // namespace sb::domain
