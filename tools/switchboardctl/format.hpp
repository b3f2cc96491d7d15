#pragma once
// Human-readable renderings of the daemon's JSON answers (DESIGN §5 shapes). Each takes the
// raw body and falls back to printing it as is when it is not the expected shape, so a newer
// daemon never makes the tool fail to show an answer.

#include <string>

#include "api_client.hpp"

namespace sb::ctl::format {

// "HTTP 404 not_found: no such endpoint" (+ platform code, Retry-After) for an error answer.
std::string error(const HttpResponse& response);

// A table of {"items":[conversation…],"next_cursor":…} (status and snooze time, priority,
// contact, assignee, labels, the caller's unread count, last activity, the last message's
// preview), with the cursor for the next page.
std::string conversation_page(const std::string& body);

// {"mine":{"open":n,…},"unassigned":{…},"all":{…}} as a table, a row a scope.
std::string conversation_counts(const std::string& body);

// One conversation ({"id","channel_id","status",…}) as a sentence.
std::string conversation(const std::string& body);

// One stored message or note ({"id","conversation_id","kind","content",…}) as a sentence, with
// the colleagues a note mentioned (content.mentions).
std::string stored_message(const std::string& body);

// One WebSocket frame as one line: time, type, conversation, sender, text.
std::string frame(const std::string& text);

// A table of {"items":[dead letter…]}.
std::string dead_letters(const std::string& body);

// A table of {"items":[agent…]} (the directory, with availability, presence, connected and
// open conversations), one agent, or a fresh token.
std::string agents(const std::string& body);
std::string agent(const std::string& body);
std::string token(const std::string& body);

// The caller ({"id","name","role","availability","presence","connected"}) as a sentence.
std::string me(const std::string& body);

// A table of {"items":[label…]}, or one label ({"name","color","description"}).
std::string labels(const std::string& body);
// Contacts: a table of a list; one contact with its identities and attributes.
std::string contacts(const std::string& body);
std::string contact(const std::string& body);
// Search results, the matched words in [brackets].
std::string search_hits(const std::string& body);
std::string label(const std::string& body);

// A table of {"items":[canned reply…]} (with each one's rendered text when it has one), or one
// canned reply.
std::string canned_replies(const std::string& body);
std::string canned_reply(const std::string& body);

}  // namespace sb::ctl::format
