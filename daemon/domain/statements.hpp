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

// The statements of one transaction of one backend. Methods throw store::StoreError for
// failures of the database; nothing else is an exception.
class Statements {
public:
    virtual ~Statements() = default;

    // --- inbound: a customer's platform events ---

    // The contact's row id, created or refreshed from `sender`.
    virtual std::int64_t upsert_contact(std::string_view channel_id, const sb::events::Party& sender,
                                        std::int64_t now_ms) = 0;
    // The conversation's row id and its status before this event, created or refreshed (kind,
    // title; the contact when given).
    virtual std::pair<std::int64_t, std::string> upsert_conversation(std::string_view channel_id,
                                                                     const sb::events::NormalizedEvent& ev,
                                                                     std::optional<std::int64_t> contact_id,
                                                                     std::int64_t now_ms) = 0;
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
