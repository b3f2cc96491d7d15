#pragma once
// What the domain rules need from a store backend: the statements of one transaction. Each
// backend implements Statements in its own SQL dialect on its own transaction (store/sqlite/,
// store/postgres/) and calls the rules (domain/inbound.hpp, domain/conversations.hpp) inside
// it, so that a rule is written once and only the SQL differs between the backends.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/normalized.hpp"
#include "store/store.hpp"

namespace sb::domain {

// A contact as an upsert left it, and what it is found by now (domain/search.hpp).
struct StoredIdentity {
    store::Identity contact;
    std::string search_text;
};
// A conversation as an upsert left it.
struct StoredConversation {
    std::int64_t id = 0;
    std::string status_before;  // its status before this event
    std::string title;
    std::int64_t contact_id = 0;  // 0 = none
    std::string search_text;
};

// The statements of one transaction of one backend. Methods throw store::StoreError for
// failures of the database; nothing else is an exception.
class Statements {
public:
    virtual ~Statements() = default;

    // --- inbound: a customer's platform events ---

    // The contact, created or refreshed from `sender`.
    virtual StoredIdentity upsert_contact(std::string_view channel_id, const sb::events::Party& sender,
                                          std::int64_t now_ms) = 0;
    // The conversation, created or refreshed (kind, title; the contact when it has none).
    virtual StoredConversation upsert_conversation(std::string_view channel_id,
                                                   const sb::events::NormalizedEvent& ev,
                                                   std::optional<std::int64_t> contact_id,
                                                   std::int64_t now_ms) = 0;
    // What a contact or conversation is found by (domain/search.hpp). The store writes a
    // message's own search text itself, from its content, wherever it stores the content.
    virtual void set_contact_search_text(std::int64_t contact_id, std::string_view text) = 0;
    virtual void set_conversation_search_text(std::int64_t conversation_id, std::string_view text) = 0;
    // The new message's id, or nullopt when (channel, platform id) was stored before.
    virtual std::optional<std::int64_t> insert_message(const store::Message& message) = 0;
    // The echo of a send whose answer was lost names its outbound id: the row stored with that
    // id and no platform id yet gets `platform_id` and status sent; nullopt when there is none.
    virtual std::optional<store::Message> complete_outbound(std::string_view channel_id,
                                                            std::string_view outbound_id,
                                                            std::string_view platform_id) = 0;
    // Last activity = now; `message_id` (0 = none) is the message just stored: the newest
    // becomes its last message.
    virtual void touch_conversation(std::int64_t conversation_id, std::int64_t now_ms,
                                    std::int64_t message_id) = 0;
    virtual std::optional<store::Conversation> conversation(std::int64_t id) = 0;
    virtual std::optional<store::Message> message_by_platform_id(std::string_view channel_id,
                                                                 std::string_view platform_id) = 0;
    // The messages we sent in a platform conversation up to `watermark_ms`, newest first.
    virtual std::vector<store::Message> outbound_up_to(std::string_view channel_id,
                                                       std::string_view conversation_platform_id,
                                                       std::int64_t watermark_ms) = 0;
    virtual void update_message_content(const store::Message& message) = 0;
    virtual std::optional<store::Message> message_by_id(std::int64_t message_id) = 0;
    virtual void update_message_status(const store::Message& message) = 0;
    // Stores message.reactions_json.
    virtual void update_message_reactions(const store::Message& message) = 0;

    // --- conversations: assignment and status ---
    // The conversation's assignee ("" = unassigned), its row locked until the transaction
    // ends; nullopt when there is no such conversation.
    virtual std::optional<std::string> lock_assignee(std::int64_t conversation_id) = 0;
    virtual bool agent_exists(std::string_view agent_id) = 0;
    // Marks the agent deleted; false when there is no such undeleted agent.
    virtual bool delete_agent(std::string_view agent_id, std::int64_t now_ms) = 0;
    virtual void revoke_agent_tokens(std::string_view agent_id, std::int64_t now_ms) = 0;
    virtual void insert_token(const store::AgentToken& token, std::string_view token_hash) = 0;
    // The conversations assigned to `agent_id`.
    virtual std::vector<std::int64_t> assigned_to(std::string_view agent_id) = 0;
    virtual void set_assignee(std::int64_t conversation_id, std::string_view agent_id) = 0;
    // The status and its snooze time (0 unless snoozed).
    virtual void set_status(std::int64_t conversation_id, std::string_view status,
                            std::int64_t snoozed_until_ms) = 0;
    virtual void set_priority(std::int64_t conversation_id, std::string_view priority) = 0;
    // Since when the customer can no longer be written to (0 = they can).
    virtual void set_blocked(std::int64_t conversation_id, std::int64_t blocked_ms) = 0;
    // Snoozed conversations due by `now_ms`, oldest due first, their rows locked (other
    // instances pass over them); at most `limit`.
    virtual std::vector<std::int64_t> snoozed_due(std::int64_t now_ms, int limit) = 0;

    // --- read state ---
    virtual std::optional<store::Conversation> conversation_for(std::int64_t id, std::string_view reader) = 0;
    // Whether `message_id` is a message (or note) of the conversation.
    virtual bool message_in(std::int64_t conversation_id, std::int64_t message_id) = 0;
    // The newest message id of the conversation (notes included; `inbound_only`: the customer's
    // messages only) below `below` (0 = no bound); 0 when there is none.
    virtual std::int64_t newest_message(std::int64_t conversation_id, bool inbound_only,
                                        std::int64_t below) = 0;
    // The agent's read position (0 = never read), and its change.
    virtual std::int64_t read_position(std::int64_t conversation_id, std::string_view agent_id) = 0;
    virtual void set_read_position(std::int64_t conversation_id, std::string_view agent_id,
                                   std::int64_t message_id, std::int64_t now_ms) = 0;

    // --- labels ---
    virtual bool label_exists(std::string_view name) = 0;
    // True when it changed something (the label was not there / was there).
    virtual bool add_label(std::int64_t conversation_id, std::string_view name) = 0;
    virtual bool remove_label(std::int64_t conversation_id, std::string_view name) = 0;

    // --- canned replies ---
    // The reply, its row locked until the transaction ends; nullopt when there is none.
    virtual std::optional<store::CannedReply> lock_canned_reply(std::int64_t id) = 0;
    // Whether a reply other than `reply` (its id) has its scope, owner and shortcode.
    virtual bool canned_shortcode_taken(const store::CannedReply& reply) = 0;
    // Stores the reply's shortcode, text and updated_ms.
    virtual void save_canned_reply(const store::CannedReply& reply) = 0;

    // --- contacts (domain/contacts.hpp) ---
    virtual std::int64_t insert_person(std::int64_t now_ms) = 0;
    // The identity now belongs to `person_id` (and was first given to it, when it had no contact).
    virtual void set_identity_person(std::int64_t identity_id, std::int64_t person_id) = 0;
    // The digits of its phone number, for merge suggestions.
    virtual void set_identity_phone_digits(std::int64_t identity_id, std::string_view digits) = 0;
    // The contact's own fields (no identities, no conversations), its row locked until the
    // transaction ends; nullopt when there is none.
    virtual std::optional<store::Person> lock_person(std::int64_t id) = 0;
    // Stores the fields, merged_into and updated_ms, and what it is found by.
    virtual void save_person(const store::Person& person, std::string_view search_text) = 0;
    // The identities that belong to the contact now (`first`: those first given to it), oldest first.
    virtual std::vector<store::Identity> identities(std::int64_t person_id, bool first) = 0;
    // The contacts merged into `person_id`.
    virtual std::vector<std::int64_t> merged_into(std::int64_t person_id) = 0;
    // The conversations of the contact's identities: (id, assignee "" = unassigned), newest first.
    virtual std::vector<std::pair<std::int64_t, std::string>> person_conversations(
        std::int64_t person_id) = 0;
    // Contacts of their own (not merged) below `before_id` (0 = from the newest) with a
    // conversation `visible_to` may see ("" = any), newest first; at most `limit`.
    virtual std::vector<std::int64_t> visible_people(std::string_view visible_to, std::int64_t before_id,
                                                     int limit) = 0;
    // Pairs of contacts of their own whose identities share phone digits: (lower id, higher id, digits).
    virtual std::vector<store::MergeSuggestion> people_sharing_a_phone(int limit) = 0;
    virtual std::vector<store::ContactAttribute> contact_attributes() = 0;
    virtual bool insert_contact_attribute(const store::ContactAttribute& attribute) = 0;
    virtual bool delete_contact_attribute(std::string_view key) = 0;

    // --- media retention (domain/media.hpp expire_media) ---
    // Up to `limit` settled files (ready or failed) created before `before_ms`, oldest first,
    // held by this transaction (PostgreSQL: rows another instance holds are skipped).
    virtual std::vector<store::MediaRecord> settled_media_before(std::int64_t before_ms, int limit) = 0;
    virtual void delete_media(std::int64_t id) = 0;
    // Whether any file still names `sha256`.
    virtual bool media_names(std::string_view sha256) = 0;

    // --- events ---
    // Appends a persistent event for `audience` (identity::Audience's encoding); nullopt =
    // whoever sees the conversation now (its assignee, or every agent while unassigned).
    // `origin`: the WebSocket session that caused it, which is not sent it (store::Event).
    virtual store::Event append_event(std::string_view type, std::int64_t conversation_id,
                                      const std::string& data_json, std::int64_t now_ms,
                                      const std::optional<std::string>& audience,
                                      std::string_view origin) = 0;
    store::Event append_event(std::string_view type, std::int64_t conversation_id,
                              const std::string& data_json, std::int64_t now_ms,
                              const std::optional<std::string>& audience) {
        return append_event(type, conversation_id, data_json, now_ms, audience, {});
    }
};

}  // namespace sb::domain
