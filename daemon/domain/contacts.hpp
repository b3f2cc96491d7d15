#pragma once
// Contacts (issue 15): a contact is a person, an identity that person on one channel. A new
// identity gets a contact of its own; an admin merges two contacts that are one person (a
// customer on WhatsApp and on Telegram) and may unmerge them again, each taking back the
// identities first given to it. An agent sees a contact when it sees one of its conversations.
// The rules once, over the statements of either store (domain/statements.hpp).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/statements.hpp"
#include "store/store.hpp"

namespace sb::domain {

inline constexpr std::size_t kMaxContactName = 200;
inline constexpr std::size_t kMaxContactNotes = 10'000;

// After an identity's upsert: gives a new identity a contact of its own, and keeps what the
// identity and its contact are found by (and the identity's phone digits) when it changed.
void keep_contact(Statements& st, StoredIdentity& identity, std::int64_t now_ms);

// The contact (a merged one answered as the one it was merged into), with its identities and
// the conversations `visible_to` may see ("" = all); nullopt when there is none, or when
// `visible_to` sees none of its conversations.
std::optional<store::Person> contact(Statements& st, std::int64_t id, std::string_view visible_to);
store::Page<store::Person> contacts(Statements& st, std::string_view visible_to, int limit,
                                    std::string_view cursor);
store::ContactOutcome update_contact(Statements& st, std::int64_t id, const store::ContactChange& change,
                                     std::string_view visible_to, std::string_view changed_by,
                                     std::int64_t now_ms);
store::MergeOutcome merge_contacts(Statements& st, std::int64_t into, std::int64_t from,
                                   std::string_view changed_by, std::int64_t now_ms);
store::MergeOutcome unmerge_contact(Statements& st, std::int64_t id, std::string_view changed_by,
                                    std::int64_t now_ms);
std::vector<store::MergeSuggestion> merge_suggestions(Statements& st, int limit);
// std::invalid_argument for a key that is not 1..50 of a-z 0-9 _ - or a type that is not
// string, number, boolean or date; nullopt when the key is taken.
std::optional<store::ContactAttribute> define_contact_attribute(Statements& st,
                                                                store::ContactAttribute attribute,
                                                                std::int64_t now_ms);

}  // namespace sb::domain
