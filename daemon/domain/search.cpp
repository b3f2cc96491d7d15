#include "domain/search.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "text/words.hpp"

namespace sb::domain {
namespace {

// The content fields a person reads (docs/normalized-events.md, Content), and those that hold
// a phone number.
constexpr std::array<std::string_view, 12> kTextFields{
    "text", "caption",   "name",        "address",  "title",     "question",
    "body", "file_name", "description", "headline", "performer", "formatted_name"};
constexpr std::array<std::string_view, 3> kPhoneFields{"phone", "wa_id", "new_wa_id"};

bool one_of(std::string_view key, auto const& names) {
    return std::find(names.begin(), names.end(), key) != names.end();
}

struct Collected {
    std::vector<std::string> texts;
    std::vector<std::string> phones;
};

// Walks the content: strings under the fields above, in any nested object or array (shared
// contacts, poll options, media), and every string of a form's answers.
void collect(const rapidjson::Value& value, std::string_view key, bool every_string, Collected& out) {
    if (value.IsString()) {
        std::string s(value.GetString(), value.GetStringLength());
        if (s.empty()) return;
        if (one_of(key, kPhoneFields))
            out.phones.push_back(std::move(s));
        else if (every_string || one_of(key, kTextFields))
            out.texts.push_back(std::move(s));
    } else if (value.IsObject()) {
        for (const auto& m : value.GetObject()) {
            const std::string_view name(m.name.GetString(), m.name.GetStringLength());
            if (name == "raw" || name == "type" || name == "url" || name == "platform_url") continue;
            collect(m.value, name, every_string || name == "fields", out);
        }
    } else if (value.IsArray()) {
        for (const auto& element : value.GetArray()) collect(element, key, every_string, out);
    }
}

Collected collect(std::string_view content_json) {
    Collected out;
    rapidjson::Document doc;
    doc.Parse(content_json.data(), content_json.size());
    if (!doc.HasParseError() && doc.IsObject()) collect(doc, "", false, out);
    return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string joined;
    for (const auto& part : parts) {
        if (part.empty()) continue;
        if (!joined.empty()) joined += separator;
        joined += part;
    }
    return joined;
}

// The folded words of `texts`, then the digits of every phone number in `texts` and `phones`.
std::string index_text(const std::vector<std::string>& texts, const std::vector<std::string>& phones) {
    std::string index;
    auto add = [&](std::string_view words) {
        if (words.empty()) return;
        if (!index.empty()) index += ' ';
        index += words;
    };
    for (const auto& t : texts) {
        add(text::folded(t));
        for (const auto& digits : text::phone_numbers(t)) add(digits);
    }
    for (const auto& p : phones) {
        add(text::folded(p));
        add(phone_digits(p));
    }
    return index;
}

bool matches(std::string_view folded_word, const store::SearchTerms& terms) {
    return std::any_of(terms.words.begin(), terms.words.end(),
                       [&](const std::string& term) { return folded_word.starts_with(term); });
}

}  // namespace

store::SearchTerms search_terms(std::string_view q) {
    if (q.size() > kMaxSearchQueryBytes)
        throw std::invalid_argument(
            fmt::format("q is at most {} bytes, got {}", kMaxSearchQueryBytes, q.size()));
    store::SearchTerms terms;
    for (auto& w : text::words(q))
        if (std::find(terms.words.begin(), terms.words.end(), w.folded) == terms.words.end())
            terms.words.push_back(std::move(w.folded));
    if (terms.words.empty()) throw std::invalid_argument("q has no letter or digit to search for");
    if (terms.words.size() > kMaxSearchWords)
        throw std::invalid_argument(
            fmt::format("q has {} words; a search takes at most {}", terms.words.size(), kMaxSearchWords));
    // Written like a phone number: digits with nothing but +, spaces, dashes, dots and brackets.
    std::string digits;
    bool phone_like = true;
    for (char c : q) {
        if (c >= '0' && c <= '9')
            digits += c;
        else if (c != '+' && c != ' ' && c != '-' && c != '.' && c != '(' && c != ')' && c != '/')
            phone_like = false;
    }
    constexpr std::size_t kMinPhoneDigits = 3;
    if (phone_like && digits.size() >= kMinPhoneDigits && terms.words.size() > 1) terms.phone = digits;
    return terms;
}

std::string message_search_text(std::string_view content_json) {
    const auto c = collect(content_json);
    return index_text(c.texts, c.phones);
}

std::string message_text(std::string_view content_json) {
    return join(collect(content_json).texts, " \u00b7 ");
}

std::string contact_search_text(const store::Identity& contact) {
    return index_text({contact.name, contact.username}, {contact.phone});
}

std::string phone_digits(std::string_view phone) {
    std::string digits;
    for (char c : phone)
        if (c >= '0' && c <= '9') digits += c;
    return digits;
}

std::string person_search_text(const store::Person& person) {
    std::vector<std::string> texts{person.name, person.email, person.company};
    std::vector<std::string> phones{person.phone};
    for (const auto& i : person.identities) {
        texts.push_back(i.name);
        texts.push_back(i.username);
        phones.push_back(i.phone);
    }
    return index_text(texts, phones);
}

std::string conversation_search_text(std::string_view title, const store::Identity& contact) {
    std::vector<std::string> texts{std::string(title)};
    if (contact.name != title) texts.push_back(contact.name);
    texts.push_back(contact.username);
    return index_text(texts, {contact.phone});
}

void keep_findable(Statements& st, const StoredConversation& conversation, const StoredIdentity* contact) {
    std::string text;
    if (conversation.contact_id == 0)
        text = conversation_search_text(conversation.title, {});
    else if (contact && conversation.contact_id == contact->contact.id)
        text = conversation_search_text(conversation.title, contact->contact);
    else
        return;
    if (text != conversation.search_text) st.set_conversation_search_text(conversation.id, text);
}

std::vector<store::SnippetPart> snippet(std::string_view text, const store::SearchTerms& terms) {
    const auto words = text::words(text);
    std::size_t first = 0;  // the first word matched (the text's start when none is)
    while (first < words.size() && !matches(words[first].folded, terms)) ++first;
    if (first == words.size()) first = 0;
    constexpr std::size_t kBefore = 6;
    const std::size_t from = first > kBefore ? first - kBefore : 0;
    const std::size_t to = std::min(words.size(), from + kSnippetWords);  // one past the last word shown

    std::vector<store::SnippetPart> parts;
    auto add = [&](std::string_view piece, bool match) {
        if (piece.empty()) return;
        if (!parts.empty() && parts.back().match == match)
            parts.back().text += piece;
        else
            parts.push_back({std::string(piece), match});
    };
    if (words.empty()) {
        add(text.substr(0, std::min<std::size_t>(text.size(), 160)), false);
        return parts;
    }
    std::size_t at = from == 0 ? 0 : words[from].begin;
    if (from > 0) add("\u2026", false);
    for (std::size_t i = from; i < to; ++i) {
        const auto& w = words[i];
        if (w.begin < at) continue;  // a second word of the same run, already shown
        add(text.substr(at, w.begin - at), false);
        // Several words may share one run of the text: it is a match when any of them is.
        bool match = false;
        for (std::size_t j = i; j < words.size() && words[j].begin == w.begin; ++j)
            match = match || matches(words[j].folded, terms);
        add(text.substr(w.begin, w.end - w.begin), match);
        at = w.end;
    }
    if (to == words.size())
        add(text.substr(at), false);
    else
        add("\u2026", false);
    return parts;
}

namespace {

// A contact as its hit shows it: its name, e-mail, company and phone, and what its identities
// add (another name, usernames, phone numbers).
std::string contact_text(const store::Person& p) {
    std::vector<std::string> parts{p.display_name, p.email, p.company, p.phone};
    auto add = [&](const std::string& part) {
        if (!part.empty() && std::find(parts.begin(), parts.end(), part) == parts.end())
            parts.push_back(part);
    };
    for (const auto& i : p.identities) {
        add(i.name);
        add(i.username);
        add(i.phone);
    }
    return join(parts, " \u00b7 ");
}

}  // namespace

void highlight(std::vector<store::SearchHit>& hits, const store::SearchTerms& terms) {
    for (auto& hit : hits) {
        std::string shown;
        if (hit.message)
            shown = message_text(hit.message->content_json);
        else if (hit.contact)
            shown = contact_text(*hit.contact);
        else if (hit.conversation)
            shown = join(
                {hit.conversation->title,
                 hit.conversation->contact_name == hit.conversation->title ? std::string()
                                                                           : hit.conversation->contact_name,
                 hit.conversation->contact_username},
                " \u00b7 ");
        hit.snippet = snippet(shown, terms);
    }
}

}  // namespace sb::domain
