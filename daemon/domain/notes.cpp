#include "domain/notes.hpp"

#include <cctype>
#include <stdexcept>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "identity/principal.hpp"
#include "store/json.hpp"

namespace sb::domain {
namespace {

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

// The length of the mention of `handle` at `at` (just after an "@"), 0 when there is none.
std::size_t mention_at(std::string_view text, std::size_t at, std::string_view handle) {
    if (handle.empty() || text.size() - at < handle.size()) return 0;
    if (!equal_ignoring_case(text.substr(at, handle.size()), handle)) return 0;
    const std::size_t end = at + handle.size();
    return end == text.size() || !word_char(text[end]) ? handle.size() : 0;
}

std::string trimmed(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(first, last - first + 1));
}

// A note's content: {"type":"text","text":…,"mentions":[agent ids]}.
std::string note_content(const std::string& text, const std::vector<store::Agent>& mentions) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("type");
    w.String("text");
    w.Key("text");
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    w.Key("mentions");
    w.StartArray();
    for (const auto& agent : mentions) w.String(agent.id);
    w.EndArray();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace

std::vector<store::Agent> mentioned_agents(std::string_view text, const std::vector<store::Agent>& agents,
                                           std::string_view author_id) {
    std::vector<bool> mentioned(agents.size(), false);
    for (std::size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
        if (at > 0 && word_char(text[at - 1])) continue;  // an e-mail address, not a mention
        std::size_t best = 0, who = agents.size();
        for (std::size_t i = 0; i < agents.size(); ++i) {
            const std::size_t n =
                std::max(mention_at(text, at + 1, agents[i].id), mention_at(text, at + 1, agents[i].name));
            if (n > best) best = n, who = i;
        }
        if (who < agents.size()) mentioned[who] = true;
    }
    std::vector<store::Agent> out;
    for (std::size_t i = 0; i < agents.size(); ++i)
        if (mentioned[i] && agents[i].id != author_id) out.push_back(agents[i]);
    return out;
}

store::NoteOutcome add_note(Statements& st, const store::NewNote& note, std::int64_t now_ms) {
    const std::string text = trimmed(note.text);
    if (text.empty()) throw std::invalid_argument("a note needs text");
    if (text.size() > kNoteLimit)
        throw std::invalid_argument(fmt::format("a note is at most {} bytes", kNoteLimit));
    store::NoteOutcome out;
    const auto assignee = st.lock_assignee(note.conversation_id);
    if (!assignee) return out;
    const auto conversation = st.conversation(note.conversation_id);
    // Only colleagues who may open the conversation are told: admins, its assignee, or anyone
    // while it is unassigned.
    std::vector<store::Agent> told;
    for (const auto& agent : note.mentions) {
        if (identity::can_see(identity::Principal{agent.id, agent.name, agent.role, "", 0}, *assignee))
            told.push_back(agent);
    }
    store::Message m;
    m.conversation_id = note.conversation_id;
    m.channel_id = conversation->channel_id;
    m.direction = "out";
    m.sender_id = note.author_id;
    m.sender_name = note.author_name;
    m.content_json = note_content(text, told);
    m.status = "stored";  // never sent: there is no platform status to have
    m.created_ms = now_ms;
    m.kind = "note";
    m.id = *st.insert_message(m);  // no platform id: nothing to be a duplicate of
    out.found = true;
    out.events.push_back(st.append_event("note_added", m.conversation_id,
                                         store::new_message_data(*conversation, m), now_ms,
                                         identity::Audience::of_conversation(*assignee)));
    for (const auto& agent : told)
        out.events.push_back(st.append_event("agent_mentioned", m.conversation_id,
                                             store::mention_data(*conversation, m, agent.id), now_ms,
                                             agent.id));
    out.note = std::move(m);
    return out;
}

}  // namespace sb::domain
