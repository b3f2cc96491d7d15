#pragma once
// Search (issue 15), the rules both stores share: what a message, a conversation and a contact
// are found by, how a query becomes SearchTerms, and the snippet a hit shows. The engines (the
// SQLite store's FTS5 tables, the PostgreSQL store's tsvectors) only match and rank: both are
// given text already folded by text/words.hpp, so that they find the same things.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "domain/statements.hpp"
#include "store/store.hpp"

namespace sb::domain {

inline constexpr std::size_t kMaxSearchWords = 16;
inline constexpr std::size_t kMaxSearchQueryBytes = 500;

// The words of `q`, each to begin a word of what is found ("ord" finds "order", "cafe" finds
// "Café"). A query written as a phone number ("+49 151-1234", "4915112") also finds a phone
// number that begins with its digits, however it was written. std::invalid_argument when `q`
// has no letter or digit, more than kMaxSearchWords words or more than kMaxSearchQueryBytes.
store::SearchTerms search_terms(std::string_view q);

// What a message is found by: the folded words of its text (message_text), and the digits of
// the phone numbers in it and in its shared contacts.
std::string message_search_text(std::string_view content_json);
// A message's text as a search hit shows it: its text or caption, and the names, titles,
// addresses, poll options, file names and form answers its content carries, joined by " · ".
std::string message_text(std::string_view content_json);
// An identity is found by its name, username and phone number.
std::string contact_search_text(const store::Identity& contact);
// A contact by its own fields and every identity's name, username and phone number.
std::string person_search_text(const store::Person& person);
// The digits of a phone number as written ("+49 151-1234" → "491511234").
std::string phone_digits(std::string_view phone);
// A conversation by its title and its contact.
std::string conversation_search_text(std::string_view title, const store::Identity& contact);

// After the upserts of an inbound event: stores what the conversation is found by, where it
// changed. A conversation whose identity is somebody else (a group's first writer) is left as
// it is. (The identity's own: domain::keep_contact.)
void keep_findable(Statements& st, const StoredConversation& conversation, const StoredIdentity* contact);

// Up to kSnippetWords words of `text` around its first match, with "…" where it was cut; each
// word the terms match is a part of its own with `match` set.
inline constexpr std::size_t kSnippetWords = 24;
std::vector<store::SnippetPart> snippet(std::string_view text, const store::SearchTerms& terms);
// Sets each hit's snippet: the message's text, or the conversation's or contact's name.
void highlight(std::vector<store::SearchHit>& hits, const store::SearchTerms& terms);

}  // namespace sb::domain
