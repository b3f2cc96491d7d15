#include "domain/inbound.hpp"

#include <fmt/format.h>

#include "domain/contacts.hpp"
#include "domain/conversations.hpp"
#include "domain/media.hpp"
#include "domain/reactions.hpp"
#include "domain/search.hpp"
#include "store/json.hpp"
#include "store/rules.hpp"

namespace sb::domain {
namespace {

using sb::events::NormalizedEvent;
using store::ApplyResult;
using store::Message;

void append(Statements& st, std::string_view type, std::int64_t conversation_id, const std::string& data,
            std::int64_t now_ms, ApplyResult& result) {
    result.events.push_back(st.append_event(type, conversation_id, data, now_ms, std::nullopt));
}

void apply_message(Statements& st, const std::string& channel_id, const NormalizedEvent& ev,
                   std::int64_t now_ms, ApplyResult& result) {
    const bool incoming = !ev.outgoing;
    // A message we sent from another tool comes from the business, not a customer: it makes
    // no contact and does not reopen the conversation.
    std::optional<StoredIdentity> contact;
    if (incoming) {
        contact = st.upsert_contact(channel_id, ev.sender, now_ms);
        keep_contact(st, *contact, now_ms);
    }
    const auto stored = st.upsert_conversation(
        channel_id, ev, contact ? std::optional(contact->contact.id) : std::nullopt, now_ms);
    keep_findable(st, stored, contact ? &*contact : nullptr);
    const auto conversation_id = stored.id;
    const auto& status_before = stored.status_before;
    if (!incoming && !ev.outbound_id.empty()) {
        // The echo of a send whose answer was lost: complete that row, not a second one.
        if (auto completed = st.complete_outbound(channel_id, ev.outbound_id, ev.message_id)) {
            append(st, "message_status", completed->conversation_id, store::message_data(*completed), now_ms,
                   result);
            return;
        }
    }
    Message m;
    m.conversation_id = conversation_id;
    m.channel_id = channel_id;
    m.platform_id = ev.message_id;
    m.direction = incoming ? "in" : "out";
    m.sender_id = ev.sender.id;
    m.sender_name = ev.sender.name;
    m.content_json = ev.content_json;
    m.reply_to = ev.reply_to;
    m.status = incoming ? "received" : "sent";
    m.platform_ts_ms = ev.timestamp_ms;
    m.created_ms = now_ms;
    // Something that happened rather than something written: a notice in the history, which
    // neither counts as unread nor becomes the conversation's preview.
    const bool notice = ev.content_type == "system";
    if (notice) m.kind = "system";
    auto id = st.insert_message(m);
    if (!id) {  // the dedupe key matched: stored before, by an earlier delivery
        ++result.duplicates;
        return;
    }
    m.id = *id;
    st.touch_conversation(conversation_id, now_ms, notice ? 0 : m.id);  // 0: the preview stays
    // After the dedupe: a redelivered "blocked" cannot undo a later "unblocked".
    if (notice && ev.reachable)
        st.set_blocked(conversation_id, *ev.reachable ? 0 : (ev.timestamp_ms > 0 ? ev.timestamp_ms : now_ms));
    std::optional<store::Event> reopened;
    // A notice is not the customer writing: a resolved conversation stays resolved.
    if (incoming && !notice) reopened = reopen_for_customer(st, conversation_id, status_before, now_ms);
    auto conversation = st.conversation(conversation_id);
    if (!conversation)
        throw store::StoreError(
            fmt::format("conversation {} vanished while its message was stored", conversation_id));
    append(st, "new_message", conversation_id, store::new_message_data(*conversation, m), now_ms, result);
    // After new_message, so that a client sees the message first and then why it reopened.
    if (reopened) result.events.push_back(std::move(*reopened));
}

// An update about a message that was never stored here (sent before the channel was connected,
// by another tool on the same account, or pruned) changes nothing, but is never dropped in
// silence: it is counted as an ignored update of `kind` (switchboard_ignored_updates_total).
void ignore_unknown(const NormalizedEvent& ev, std::string_view kind, ApplyResult& result) {
    NormalizedEvent ignored;
    ignored.type = sb::events::EventType::ignored;
    ignored.conversation_id = ev.conversation_id;
    ignored.message_id = ev.message_id;
    ignored.ignored_kind = std::string(kind);
    result.ephemeral.push_back(std::move(ignored));
}

// An edit of a message we never stored is not applied: there is nothing for an agent to update,
// and inventing the original from its edit would show a message out of order.
void apply_edit(Statements& st, const std::string& channel_id, const NormalizedEvent& ev, std::int64_t now_ms,
                ApplyResult& result) {
    auto m = st.message_by_platform_id(channel_id, ev.message_id);
    if (!m) return ignore_unknown(ev, "edit_of_unknown_message", result);
    const std::int64_t edited_ms =
        ev.edited_at_ms ? ev.edited_at_ms : (ev.timestamp_ms ? ev.timestamp_ms : now_ms);
    // A file the host fetched stays (domain/media.hpp): the edit changes the caption, not the file.
    const std::string content = with_media_of(ev.content_json, m->content_json);
    // A redelivered edit changes nothing; an older edit arriving late must not undo a newer one.
    if (m->content_json == content || edited_ms < m->edited_ms) return;
    m->content_json = content;
    m->edited_ms = edited_ms;
    st.update_message_content(*m);
    append(st, "message_updated", m->conversation_id, store::message_data(*m), now_ms, result);
}

void update_status(Statements& st, Message& m, const NormalizedEvent& ev, std::int64_t now_ms,
                   ApplyResult& result) {
    const int rank = store::status_rank(ev.status);
    const bool failed = ev.status == "failed";
    const int current = store::status_rank(m.status);
    // A repeated failure matters only if it names another error.
    const bool changed = rank > current || (failed && rank == current && m.error_code != ev.error_code);
    if (!changed) return;
    m.status = ev.status;
    m.error_code = failed ? ev.error_code : std::string();
    st.update_message_status(m);
    append(st, "message_status", m.conversation_id, store::message_data(m), now_ms, result);
}

void apply_status(Statements& st, const std::string& channel_id, const NormalizedEvent& ev,
                  std::int64_t now_ms, ApplyResult& result) {
    if (store::status_rank(ev.status) == 0) return;
    if (ev.message_id.empty() && ev.watermark_ms > 0) {
        // A read/delivery watermark covers every message up to it, oldest first.
        auto sent = st.outbound_up_to(channel_id, ev.conversation_id, ev.watermark_ms);
        for (auto it = sent.rbegin(); it != sent.rend(); ++it) update_status(st, *it, ev, now_ms, result);
        return;
    }
    auto m = st.message_by_platform_id(channel_id, ev.message_id);
    if (!m || m->direction != "out") return ignore_unknown(ev, "status_of_unknown_message", result);
    update_status(st, *m, ev, now_ms, result);
}

// A reaction is kept on its message, which the history shows; a redelivered one (nothing
// changes) makes no second frame.
void apply_reaction(Statements& st, const std::string& channel_id, const NormalizedEvent& ev,
                    std::int64_t now_ms, ApplyResult& result) {
    auto m = st.message_by_platform_id(channel_id, ev.message_id);
    if (!m) return ignore_unknown(ev, "reaction_to_unknown_message", result);
    auto reactions = react(m->reactions_json, ev.sender, ev.emoji, now_ms);
    if (!reactions) return;
    m->reactions_json = std::move(*reactions);
    st.update_message_reactions(*m);
    append(st, "message_reaction", m->conversation_id, store::reaction_data(*m, ev), now_ms, result);
}

}  // namespace

void apply_event(Statements& statements, const std::string& channel_id, const NormalizedEvent& ev,
                 std::int64_t now_ms, ApplyResult& result) {
    using sb::events::EventType;
    switch (ev.type) {
        case EventType::message:
            apply_message(statements, channel_id, ev, now_ms, result);
            return;
        case EventType::edit:
            apply_edit(statements, channel_id, ev, now_ms, result);
            return;
        case EventType::status:
            apply_status(statements, channel_id, ev, now_ms, result);
            return;
        case EventType::reaction:
            apply_reaction(statements, channel_id, ev, now_ms, result);
            return;
        case EventType::typing:
        case EventType::ignored:  // counted by the caller, never stored
            result.ephemeral.push_back(ev);
            return;
    }
}

}  // namespace sb::domain
