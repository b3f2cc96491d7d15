#pragma once
// Private notes: an agent's text in a conversation's history for the team alone. A note is
// never sent to the platform, never the list's preview and never unread; whoever sees the
// conversation sees it (note_added), and a colleague it mentions (@name or @id) is told
// (agent_mentioned, for that agent alone).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "domain/statements.hpp"
#include "store/store.hpp"

namespace sb::domain {

// A note's text is 1..kNoteLimit bytes once surrounding white space is trimmed.
inline constexpr std::size_t kNoteLimit = 10'000;

// The agents `text` mentions, in the order of `agents`, the author left out: "@" followed by
// an agent's id or name (either case) and then anything but a letter, a digit or "_". Of two
// names where one begins the other ("@Ann" and "@Anna …"), the longer match wins.
std::vector<store::Agent> mentioned_agents(std::string_view text, const std::vector<store::Agent>& agents,
                                           std::string_view author_id);

// Stores the note and appends note_added (for whoever sees the conversation) and one
// agent_mentioned per mentioned agent who may see the conversation. `text` that is empty or
// longer than kNoteLimit is std::invalid_argument.
store::NoteOutcome add_note(Statements& statements, const store::NewNote& note, std::int64_t now_ms);

}  // namespace sb::domain
