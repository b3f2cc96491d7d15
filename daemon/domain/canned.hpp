#pragma once
// Canned replies: what a shortcode and a text may be, who may see and change which reply, and
// the placeholders a reply's text is rendered with for one conversation, once for every store
// backend and the API.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "domain/statements.hpp"
#include "identity/principal.hpp"
#include "store/store.hpp"

namespace sb::domain {

inline constexpr std::size_t kShortcodeLimit = 32;
inline constexpr std::size_t kCannedTextLimit = 4000;  // bytes

// The shortcode lower-cased, or std::invalid_argument unless it is then 1..kShortcodeLimit of
// a-z, 0-9, _ and -.
std::string canned_shortcode(std::string_view shortcode);
// A prefix to look shortcodes up by: "" (all), or what canned_shortcode() accepts.
std::string canned_prefix(std::string_view prefix);
// The end of the range of shortcodes that start with `prefix` (a valid one): every such
// shortcode sorts below it, byte-wise.
std::string canned_prefix_end(std::string_view prefix);
// std::invalid_argument unless `text` is 1..kCannedTextLimit bytes.
void check_canned_text(std::string_view text);

// The reply as it is stored: its shortcode lower-cased, created and updated at `now_ms`.
// std::invalid_argument for a shortcode or text the rules above refuse, a scope that is neither
// shared nor personal, or an owner that does not fit it (a personal reply has one, a shared one
// none).
store::CannedReply new_canned_reply(const store::CannedReply& draft, std::int64_t now_ms);

// What a principal may do with a reply. Admins manage the shared ones and agents use them; a
// personal reply is its owner's alone, hidden from everyone else (admins included). A reply yet
// to be created asks the same with its scope and owner: write means it may be created.
enum class CannedAccess { hidden, read, write };
CannedAccess canned_access(const identity::Principal& principal, const store::CannedReply& reply);

// Applies `change` in the caller's transaction: not_found without such a reply, conflict when
// the new shortcode is another reply's of the same scope and owner; otherwise updated at
// `now_ms`. A shortcode or text the rules refuse is std::invalid_argument, before anything
// changes.
store::CannedOutcome update_canned_reply(Statements& statements, std::int64_t id,
                                         const store::CannedChange& change, std::int64_t now_ms);

// What the placeholders stand for in one conversation; "" = not known.
struct CannedContext {
    std::string contact_name;
    std::string agent_name;
    std::string conversation_id;
    std::string channel_id;
};

// The conversation's contact and channel, and the agent who is answering.
CannedContext canned_context(const store::Conversation& conversation, const identity::Principal& agent);

// `text` with {{contact.name}}, {{contact.first_name}} (the name up to its first space),
// {{agent.name}}, {{conversation.id}} and {{channel.id}} replaced by their values, "" for a
// value that is not known. Spaces inside the braces are allowed ({{ contact.name }}); anything
// else in double braces stays as written.
std::string render_canned(std::string_view text, const CannedContext& context);

}  // namespace sb::domain
