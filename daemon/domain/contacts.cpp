#include "domain/contacts.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "domain/names.hpp"
#include "domain/search.hpp"
#include "identity/principal.hpp"
#include "store/json.hpp"
#include "store/rules.hpp"
#include "util/time.hpp"

namespace sb::domain {
namespace {

using store::Person;

// Merges are chains at most this long; a longer one is a broken invariant, not a loop forever.
constexpr int kMaxMergeDepth = 64;

// The contact `id` resolves to: itself, or the one it was (transitively) merged into.
std::optional<Person> root(Statements& st, std::int64_t id) {
    auto p = st.lock_person(id);
    for (int depth = 0; p && p->merged_into != 0; ++depth) {
        if (depth == kMaxMergeDepth)
            throw store::StoreError(fmt::format("contact {}: merged more than {} deep", id, kMaxMergeDepth));
        p = st.lock_person(p->merged_into);
    }
    return p;
}

// A contact's name as shown: the one an agent set, else the first of its identities' names.
std::string display_name(const std::string& name, const std::vector<store::Identity>& identities) {
    if (!name.empty()) return name;
    for (const auto& i : identities)
        if (!i.name.empty()) return i.name;
    return {};
}

// The contact's identities, display name, the conversations `visible_to` may see and the
// contacts merged into it.
void fill(Statements& st, Person& p, std::string_view visible_to) {
    p.identities = st.identities(p.id, false);
    p.display_name = display_name(p.name, p.identities);
    p.conversation_ids.clear();
    for (const auto& [id, assignee] : st.person_conversations(p.id))
        if (visible_to.empty() || assignee.empty() || assignee == visible_to)
            p.conversation_ids.push_back(id);
    p.merged.clear();
    for (auto id : st.merged_into(p.id)) {
        const auto other = st.lock_person(id);
        p.merged.push_back({id, display_name(other ? other->name : std::string(), st.identities(id, true))});
    }
}

void refresh_search_text(Statements& st, Person& p) {
    p.identities = st.identities(p.id, false);
    st.save_person(p, person_search_text(p));
}

// contact_updated for whoever sees one of the contact's conversations.
store::Event updated_event(Statements& st, const Person& p, std::string_view changed_by, std::int64_t now_ms,
                           std::int64_t merged_from = 0) {
    std::vector<std::string> assignees;
    for (auto& [id, assignee] : st.person_conversations(p.id)) assignees.push_back(assignee);
    return st.append_event("contact_updated", 0, store::contact_updated_data(p, changed_by, merged_from),
                           now_ms, identity::Audience::of_conversations(assignees));
}

void check_length(const std::optional<std::string>& value, std::string_view what, std::size_t max) {
    if (value && value->size() > max)
        throw std::invalid_argument(fmt::format("{} is at most {} bytes, got {}", what, max, value->size()));
}

bool is_date(std::string_view s) {
    // YYYY-MM-DD, or a whole RFC 3339 date-time.
    if (s.size() == 10) return util::parse_rfc3339(fmt::format("{}T00:00:00Z", s)).has_value();
    return util::parse_rfc3339(s).has_value();
}

// `current` with `change` (an object of key → value or null) applied; invalid_argument for an
// attribute that is not defined or a value not of its type.
std::string with_attributes(Statements& st, const std::string& current, const std::string& change) {
    rapidjson::Document patch;
    patch.Parse(change.data(), change.size());
    if (patch.HasParseError() || !patch.IsObject())
        throw std::invalid_argument("attributes must be an object");
    rapidjson::Document doc;
    doc.Parse(current.data(), current.size());
    if (doc.HasParseError() || !doc.IsObject()) doc.SetObject();
    const auto defined = st.contact_attributes();
    for (auto& m : patch.GetObject()) {
        const std::string key(m.name.GetString(), m.name.GetStringLength());
        if (m.value.IsNull()) {  // removes it, defined or not
            if (auto existing = doc.FindMember(key.c_str()); existing != doc.MemberEnd())
                doc.EraseMember(existing);
            continue;
        }
        auto it = std::find_if(defined.begin(), defined.end(), [&](const auto& a) { return a.key == key; });
        if (it == defined.end())
            throw std::invalid_argument(fmt::format(
                "attribute \"{}\" is not defined (an admin defines it: POST /api/v1/contact-attributes)",
                key));
        const bool fits = (it->type == "string" && m.value.IsString()) ||
                          (it->type == "number" && m.value.IsNumber()) ||
                          (it->type == "boolean" && m.value.IsBool()) ||
                          (it->type == "date" && m.value.IsString() &&
                           is_date({m.value.GetString(), m.value.GetStringLength()}));
        if (!fits)
            throw std::invalid_argument(fmt::format("attribute \"{}\" is a {}{}", key, it->type,
                                                    it->type == "date" ? " (YYYY-MM-DD or RFC 3339)" : ""));
        // In place when it is there, so that setting a value again changes nothing.
        if (auto existing = doc.FindMember(key.c_str()); existing != doc.MemberEnd()) {
            existing->value.CopyFrom(m.value, doc.GetAllocator());
            continue;
        }
        rapidjson::Value name(key.c_str(), static_cast<rapidjson::SizeType>(key.size()), doc.GetAllocator());
        rapidjson::Value value(m.value, doc.GetAllocator());
        doc.AddMember(name, value, doc.GetAllocator());
    }
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    doc.Accept(w);
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace

void keep_contact(Statements& st, StoredIdentity& stored, std::int64_t now_ms) {
    auto& identity = stored.contact;
    const bool new_contact = identity.person_id == 0;
    if (new_contact) {
        identity.person_id = st.insert_person(now_ms);
        st.set_identity_person(identity.id, identity.person_id);
    }
    const auto text = contact_search_text(identity);
    if (text == stored.search_text && !new_contact) return;
    st.set_contact_search_text(identity.id, text);
    st.set_identity_phone_digits(identity.id, phone_digits(identity.phone));
    if (auto p = st.lock_person(identity.person_id)) refresh_search_text(st, *p);
}

std::optional<Person> contact(Statements& st, std::int64_t id, std::string_view visible_to) {
    auto p = root(st, id);
    if (!p) return std::nullopt;
    fill(st, *p, visible_to);
    if (!visible_to.empty() && p->conversation_ids.empty()) return std::nullopt;
    return p;
}

store::Page<Person> contacts(Statements& st, std::string_view visible_to, int limit,
                             std::string_view cursor) {
    store::require_positive_limit(limit);
    std::int64_t before = 0;
    if (!cursor.empty() && !store::parse_int64(cursor, before))
        throw std::invalid_argument(fmt::format("malformed contact cursor \"{}\"", cursor));
    store::Page<Person> page;
    const auto ids = st.visible_people(visible_to, before, limit + 1);
    for (std::size_t i = 0; i < ids.size() && i < static_cast<std::size_t>(limit); ++i)
        if (auto p = contact(st, ids[i], visible_to)) page.items.push_back(std::move(*p));
    if (ids.size() > static_cast<std::size_t>(limit)) page.next_cursor = std::to_string(ids[ids.size() - 2]);
    return page;
}

store::ContactOutcome update_contact(Statements& st, std::int64_t id, const store::ContactChange& change,
                                     std::string_view visible_to, std::string_view changed_by,
                                     std::int64_t now_ms) {
    check_length(change.name, "name", kMaxContactName);
    check_length(change.company, "company", kMaxContactName);
    check_length(change.phone, "phone", 50);
    check_length(change.email, "email", 254);
    check_length(change.notes, "notes", kMaxContactNotes);
    if (change.email && !change.email->empty() && change.email->find('@') == std::string::npos)
        throw std::invalid_argument(
            fmt::format("email must be an e-mail address, got \"{}\"", *change.email));
    store::ContactOutcome out;
    auto p = contact(st, id, visible_to);
    if (!p) return out;
    Person before = *p;
    auto set = [](std::string& field, const std::optional<std::string>& value) {
        if (value) field = *value;
    };
    set(p->name, change.name);
    set(p->email, change.email);
    set(p->phone, change.phone);
    set(p->company, change.company);
    set(p->notes, change.notes);
    if (!change.attributes_json.empty())
        p->attributes_json = with_attributes(st, p->attributes_json, change.attributes_json);
    const bool changed = p->name != before.name || p->email != before.email || p->phone != before.phone ||
                         p->company != before.company || p->notes != before.notes ||
                         p->attributes_json != before.attributes_json;
    if (changed) {
        p->updated_ms = now_ms;
        st.save_person(*p, person_search_text(*p));
        fill(st, *p, visible_to);
        out.event = updated_event(st, *p, changed_by, now_ms);
    }
    out.contact = std::move(p);
    return out;
}

store::MergeOutcome merge_contacts(Statements& st, std::int64_t into, std::int64_t from,
                                   std::string_view changed_by, std::int64_t now_ms) {
    store::MergeOutcome out;
    auto kept = st.lock_person(into);
    auto merged = st.lock_person(from);
    if (!kept || !merged) return out;
    out.kind = store::MergeOutcome::Kind::conflict;
    if (into == from) {
        out.reason = "a contact cannot be merged into itself";
        return out;
    }
    for (const auto* p : {&*kept, &*merged})
        if (p->merged_into != 0) {
            out.reason =
                fmt::format("contact {} was merged into contact {}; merge that one", p->id, p->merged_into);
            return out;
        }
    for (const auto& identity : st.identities(from, false)) st.set_identity_person(identity.id, into);
    merged->merged_into = into;
    merged->updated_ms = now_ms;
    refresh_search_text(st, *merged);
    kept->updated_ms = now_ms;
    refresh_search_text(st, *kept);
    fill(st, *kept, "");
    out.kind = store::MergeOutcome::Kind::done;
    out.events.push_back(updated_event(st, *kept, changed_by, now_ms, from));
    out.contact = std::move(*kept);
    return out;
}

store::MergeOutcome unmerge_contact(Statements& st, std::int64_t id, std::string_view changed_by,
                                    std::int64_t now_ms) {
    store::MergeOutcome out;
    auto p = st.lock_person(id);
    if (!p) return out;
    if (p->merged_into == 0) {
        out.kind = store::MergeOutcome::Kind::conflict;
        out.reason = fmt::format("contact {} is not merged into another", id);
        return out;
    }
    auto kept = root(st, id);
    // `id` and the contacts merged into it take back the identities first given to them.
    std::set<std::int64_t> family{id};
    std::vector<std::int64_t> todo{id};
    while (!todo.empty()) {
        const auto next = todo.back();
        todo.pop_back();
        for (auto m : st.merged_into(next))
            if (family.insert(m).second) todo.push_back(m);
    }
    for (auto member : family)
        for (const auto& identity : st.identities(member, true))
            if (identity.person_id == kept->id) st.set_identity_person(identity.id, id);
    p->merged_into = 0;
    p->updated_ms = now_ms;
    refresh_search_text(st, *p);
    kept->updated_ms = now_ms;
    refresh_search_text(st, *kept);
    fill(st, *kept, "");
    fill(st, *p, "");
    out.events.push_back(updated_event(st, *kept, changed_by, now_ms));
    out.events.push_back(updated_event(st, *p, changed_by, now_ms));
    out.kind = store::MergeOutcome::Kind::done;
    out.contact = std::move(*p);
    return out;
}

std::vector<store::MergeSuggestion> merge_suggestions(Statements& st, int limit) {
    store::require_positive_limit(limit);
    return st.people_sharing_a_phone(limit);
}

std::optional<store::ContactAttribute> define_contact_attribute(Statements& st,
                                                                store::ContactAttribute attribute,
                                                                std::int64_t now_ms) {
    attribute.key = lower_name(attribute.key, 50, "an attribute key");
    const auto& t = attribute.type;
    if (t != "string" && t != "number" && t != "boolean" && t != "date")
        throw std::invalid_argument(
            fmt::format("an attribute type is string, number, boolean or date, got \"{}\"", t));
    if (attribute.label.size() > kMaxContactName)
        throw std::invalid_argument(fmt::format("label is at most {} bytes", kMaxContactName));
    attribute.created_ms = now_ms;
    if (!st.insert_contact_attribute(attribute)) return std::nullopt;
    return attribute;
}

}  // namespace sb::domain
