// The embedded store: one SQLite file in WAL mode.
//
// One connection, guarded by one mutex: SQLite admits a single writer anyway, and the
// inbound path batches its work (group commit in enqueue(), one transaction per apply()), so
// the lock is taken a few times per batch, not per message. Only enqueue() and the writes an
// answer promises (replies, agents' changes) pay an fsync (synchronous = FULL); claim, apply,
// release and dead-letter run at NORMAL, covered by the raw webhook's own fsync. WAL
// checkpoints run on a second connection of their own (Checkpointer). Every statement is a
// named constant below and is prepared once, then reused from a cache.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "domain/agents.hpp"
#include "domain/canned.hpp"
#include "domain/contacts.hpp"
#include "domain/conversations.hpp"
#include "domain/inbound.hpp"
#include "domain/labels.hpp"
#include "domain/media.hpp"
#include "domain/notes.hpp"
#include "domain/read_state.hpp"
#include "domain/search.hpp"
#include "store/json.hpp"
#include "store/rules.hpp"
#include "store/sqlite/schema.hpp"
#include "store/store.hpp"

namespace sb::store {
namespace {

// A statement and the name that error messages give it.
struct Sql {
    const char* name;
    const char* text;
};

// Column lists shared by the statements that read whole records (one reader per record below).
#define SB_QUEUE_COLUMNS "id, channel_id, method, target, headers, body, received_ms, attempts"
#define SB_MESSAGE_COLUMNS                                                                            \
    "id, conversation_id, channel_id, platform_id, direction, sender_id, sender_name, content_json, " \
    "reply_to, status, error_code, platform_ts_ms, created_ms, edited_ms, error_message, kind, "      \
    "reactions_json"
// The index of the first column a statement selects after SB_MESSAGE_COLUMNS.
constexpr int kAfterMessageColumns = 17;
// A conversation as a list item shows it: its contact, its assignee's name, its labels and
// its last message (by the denormalized last_message_id: one primary-key look-up).
#define SB_CONVERSATION_COLUMNS                                                                          \
    "c.id, c.channel_id, c.platform_id, c.kind, c.title, ct.platform_id, ct.name, ct.username, "         \
    "c.status, c.assignee_id, c.created_ms, c.last_activity_ms, c.snoozed_until_ms, c.priority, "        \
    "a.name, (SELECT group_concat(l.label) FROM conversation_labels l WHERE l.conversation_id = c.id), " \
    "lm.id, lm.direction, lm.sender_id, lm.sender_name, lm.content_json, lm.created_ms, c.blocked_ms, "  \
    "ct.phone, coalesce(ct.person_id, 0), coalesce(nullif(p.name, ''), ct.name, '')"
#define SB_CONVERSATION_JOINS                                                                    \
    " LEFT JOIN contacts ct ON ct.id = c.contact_id LEFT JOIN agents a ON a.id = c.assignee_id " \
    "LEFT JOIN messages lm ON lm.id = c.last_message_id LEFT JOIN people p ON p.id = ct.person_id "
#define SB_CONVERSATION_FROM " FROM conversations c" SB_CONVERSATION_JOINS
// The reader's read state (AGENT: its parameter; "" = none): its position and the customer's
// messages after it, counted in messages_inbound.
#define SB_READER_COLUMNS                                                                        \
    ", r.last_read_message_id, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id " \
    "AND m.direction = 'in' AND m.kind = 'message' AND m.id > coalesce(r.last_read_message_id, 0))"
#define SB_READER_JOIN(AGENT) \
    " LEFT JOIN conversation_reads r ON r.conversation_id = c.id AND r.agent_id = " AGENT " "

constexpr Sql kBegin{"begin", "BEGIN IMMEDIATE"};
constexpr Sql kCommit{"commit", "COMMIT"};
constexpr Sql kSyncNormal{"sync_normal", "PRAGMA synchronous = NORMAL"};
constexpr Sql kSyncFull{"sync_full", "PRAGMA synchronous = FULL"};  // what the connection runs with
constexpr Sql kUserVersion{"user_version", "PRAGMA user_version"};
constexpr Sql kForeignKeyCheck{"foreign_key_check", "PRAGMA foreign_key_check"};

// --- inbound queue ---
constexpr Sql kEnqueue{"enqueue",
                       "INSERT INTO inbound_queue (channel_id, method, target, headers, body, received_ms, "
                       "available_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"};
// The same, already claimed by the caller (attempts 1, a lease until ?7): the processor takes
// these rows from memory and consumes them under that claim (enqueue_claimed()).
constexpr Sql kEnqueueClaimed{"enqueue_claimed",
                              "INSERT INTO inbound_queue (channel_id, method, target, headers, body, "
                              "received_ms, available_at_ms, state, attempts, lease_until_ms) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 'claimed', 1, ?7)"};
// `state <> 'dead'` is spelled out so the planner can walk the partial index inbound_queue_live.
constexpr Sql kClaim{
    "claim",
    "UPDATE inbound_queue SET state = 'claimed', attempts = attempts + 1, lease_until_ms = ?2 "
    "WHERE id IN (SELECT id FROM inbound_queue q WHERE state <> 'dead' AND "
    "((state = 'queued' AND available_at_ms <= ?1) OR (state = 'claimed' AND lease_until_ms < ?1)) "
    "AND NOT EXISTS (SELECT 1 FROM inbound_queue o WHERE o.state = 'claimed' "
    "AND o.channel_id = q.channel_id AND o.lease_until_ms >= ?1) "
    "ORDER BY id LIMIT ?3) "
    "RETURNING " SB_QUEUE_COLUMNS};
// ?4 / ?4: the claim (attempts) the caller holds; 0 = unchecked.
constexpr Sql kRelease{"release",
                       "UPDATE inbound_queue SET state = 'queued', available_at_ms = ?2, lease_until_ms = 0, "
                       "last_error = ?3 WHERE id = ?1 AND state <> 'dead' "
                       "AND (?4 = 0 OR (state = 'claimed' AND attempts = ?4))"};
constexpr Sql kDeadLetter{
    "dead_letter",
    "UPDATE inbound_queue SET state = 'dead', last_error = ?2, failed_ms = ?3, "
    "lease_until_ms = 0 WHERE id = ?1 AND (?4 = 0 OR (state = 'claimed' AND attempts = ?4))"};
constexpr Sql kDeadLetters{"dead_letters", "SELECT " SB_QUEUE_COLUMNS
                                           ", last_error, failed_ms FROM inbound_queue "
                                           "WHERE state = 'dead' ORDER BY id LIMIT ?1"};
constexpr Sql kReplayDeadLetter{
    "replay_dead_letter",
    "UPDATE inbound_queue SET state = 'queued', attempts = 0, available_at_ms = ?2, "
    "lease_until_ms = 0, failed_ms = 0 WHERE id = ?1 AND state = 'dead'"};
// The oldest live row by id: rows are appended in arrival order, so this is the oldest.
constexpr Sql kOldestQueued{"oldest_queued",
                            "SELECT coalesce((SELECT received_ms FROM inbound_queue WHERE state <> 'dead' "
                            "ORDER BY id LIMIT 1), 0)"};
constexpr Sql kRecoverClaims{
    "recover_claims",
    "UPDATE inbound_queue SET state = 'queued', lease_until_ms = 0 WHERE state = 'claimed'"};
constexpr Sql kQueueDepth{"queue_depth", "SELECT count(*) FROM inbound_queue WHERE state <> 'dead'"};
// The fence: only the current claim (?2 = its attempts), within its lease (?3 = now), may
// consume the row; 0 = unchecked.
constexpr Sql kTakeQueueRow{"take_queue_row",
                            "DELETE FROM inbound_queue WHERE id = ?1 "
                            "AND (?2 = 0 OR (state = 'claimed' AND attempts = ?2 AND lease_until_ms >= ?3))"};

// --- apply ---
// Empty strings mean "not given" and never overwrite what is known.
constexpr Sql kUpsertContact{
    "upsert_contact",
    "INSERT INTO contacts (channel_id, platform_id, name, username, phone, created_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (channel_id, platform_id) DO UPDATE SET "
    "name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE name END, "
    "username = CASE WHEN excluded.username <> '' THEN excluded.username ELSE username END, "
    "phone = CASE WHEN excluded.phone <> '' THEN excluded.phone ELSE phone END "
    "RETURNING id, channel_id, platform_id, name, username, phone, created_ms, coalesce(person_id, 0), "
    "search_text"};
// The first customer who writes becomes the conversation's contact.
constexpr Sql kUpsertConversation{
    "upsert_conversation",
    "INSERT INTO conversations (channel_id, platform_id, kind, title, contact_id, created_ms, "
    "last_activity_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (channel_id, platform_id) DO UPDATE SET "
    "kind = CASE WHEN excluded.kind <> '' THEN excluded.kind ELSE kind END, "
    "title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE title END, "
    "contact_id = coalesce(contact_id, excluded.contact_id) "
    "RETURNING id, status, title, coalesce(contact_id, 0), search_text"};
// What a contact and a conversation are found by (domain/search.hpp); the FTS5 triggers follow.
constexpr Sql kSetContactSearchText{"set_contact_search_text",
                                    "UPDATE contacts SET search_text = coalesce(?2, '') WHERE id = ?1"};
constexpr Sql kSetConversationSearchText{
    "set_conversation_search_text", "UPDATE conversations SET search_text = coalesce(?2, '') WHERE id = ?1"};
constexpr Sql kInsertMessage{
    "insert_message",
    "INSERT INTO messages (conversation_id, channel_id, platform_id, direction, sender_id, "
    "sender_name, content_json, reply_to, status, platform_ts_ms, created_ms, kind, search_text) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, coalesce(?13, '')) "
    "ON CONFLICT (channel_id, platform_id) DO NOTHING RETURNING id"};
// ?3: the message just stored (NULL: none, or a note): the newest becomes the last message.
constexpr Sql kTouchConversation{
    "touch_conversation",
    "UPDATE conversations SET last_activity_ms = max(last_activity_ms, ?2), "
    "last_message_id = CASE WHEN ?3 IS NULL THEN last_message_id WHEN last_message_id IS NULL THEN ?3 "
    "ELSE max(last_message_id, ?3) END WHERE id = ?1"};
constexpr Sql kUpdateMessageContent{
    "update_message_content",
    "UPDATE messages SET content_json = ?2, edited_ms = ?3, search_text = coalesce(?4, '') WHERE id = ?1"};
constexpr Sql kUpdateMessageReactions{"update_message_reactions",
                                      "UPDATE messages SET reactions_json = coalesce(?2, '') WHERE id = ?1"};
constexpr Sql kUpdateMessageStatus{"update_message_status",
                                   "UPDATE messages SET status = ?2, error_code = ?3 WHERE id = ?1"};
// The audience is the conversation's assignee at the time ('' while unassigned), unless given.
constexpr Sql kInsertEvent{
    "insert_event",
    "INSERT INTO events (type, conversation_id, created_ms, data_json, audience, origin) "
    "VALUES (?1, ?2, ?3, ?4, coalesce(?5, (SELECT assignee_id FROM conversations "
    "WHERE id = ?2), ''), coalesce(?6, '')) RETURNING seq, audience"};

// --- media (issue 16) ---
#define SB_MEDIA_COLUMNS                                                                              \
    "id, origin, coalesce(message_id, 0), conversation_id, channel_id, state, error, error_message, " \
    "mime_type, size, file_name, sha256, source_json, uploaded_by, attempts, next_attempt_ms, "       \
    "created_ms, updated_ms"
constexpr Sql kInsertMedia{
    "insert_media",
    "INSERT INTO media (origin, message_id, conversation_id, channel_id, state, error, error_message, "
    "mime_type, size, file_name, sha256, source_json, uploaded_by, next_attempt_ms, created_ms, updated_ms) "
    "VALUES (?1, nullif(?2, 0), ?3, ?4, ?5, '', '', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13) "
    "ON CONFLICT DO NOTHING RETURNING " SB_MEDIA_COLUMNS};
constexpr Sql kMediaById{"media_by_id", "SELECT " SB_MEDIA_COLUMNS " FROM media WHERE id = ?1"};
constexpr Sql kClaimMedia{"claim_media",
                          "UPDATE media SET attempts = attempts + 1, next_attempt_ms = ?2 WHERE id IN "
                          "(SELECT id FROM media WHERE state = 'pending' AND next_attempt_ms <= ?1 "
                          "ORDER BY next_attempt_ms, id LIMIT ?3) RETURNING " SB_MEDIA_COLUMNS};
constexpr Sql kRetryMedia{"retry_media",
                          "UPDATE media SET next_attempt_ms = ?2, error_message = ?3 "
                          "WHERE id = ?1 AND state = 'pending'"};
constexpr Sql kRecoverMedia{
    "recover_media",
    "UPDATE media SET next_attempt_ms = ?1 WHERE state = 'pending' AND next_attempt_ms > ?1"};
constexpr Sql kSettleMedia{
    "settle_media",
    "UPDATE media SET state = ?2, error = ?3, error_message = ?4, mime_type = ?5, size = ?6, "
    "file_name = ?7, sha256 = ?8, updated_ms = ?9 WHERE id = ?1"};

constexpr Sql kExpiredMedia{"settled_media_before",
                            "SELECT " SB_MEDIA_COLUMNS
                            " FROM media WHERE created_ms < ?1 AND state <> 'pending' "
                            "ORDER BY created_ms, id LIMIT ?2"};
constexpr Sql kDeleteMedia{"delete_media", "DELETE FROM media WHERE id = ?1"};
constexpr Sql kMediaNamingSha{"media_naming_sha256", "SELECT 1 FROM media WHERE sha256 = ?1 LIMIT 1"};

// --- conversations and messages ---
constexpr Sql kConversationById{"conversation_by_id",
                                "SELECT " SB_CONVERSATION_COLUMNS SB_CONVERSATION_FROM "WHERE c.id = ?1"};
constexpr Sql kConversationByPlatformId{"conversation_by_platform_id",
                                        "SELECT " SB_CONVERSATION_COLUMNS SB_CONVERSATION_FROM
                                        "WHERE c.channel_id = ?1 AND c.platform_id = ?2"};
// The list filters every list statement applies, with the same parameters: ?3 one status
// ('' = not one), ?4 channel, ?6 visible_to ('' = everything; an agent: its own and the
// unassigned ones), ?7 several statuses as ",a,b," ('' = not several), ?8 label, ?9 priority.
#define SB_LIST_FILTERS                                                                               \
    "AND (?3 = '' OR c.status = ?3) AND (?4 = '' OR c.channel_id = ?4) "                              \
    "AND (?6 = '' OR c.assignee_id IS NULL OR c.assignee_id = ?6) "                                   \
    "AND (?7 = '' OR instr(?7, ',' || c.status || ',') > 0) AND (?9 = '' OR c.priority = ?9) "        \
    "AND (?8 = '' OR EXISTS (SELECT 1 FROM conversation_labels l WHERE l.conversation_id = c.id AND " \
    "l.label = ?8)) "
// Keyset pagination with no assignee or visibility restriction (an admin's lists): the
// row-value comparison lets the planner seek conversations_activity. ?1, ?2 the cursor; ?5
// the limit; ?10 the reader.
constexpr Sql kConversationsPage{
    "conversations_page",
    "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS SB_CONVERSATION_FROM SB_READER_JOIN(
        "?10") "WHERE (c.last_activity_ms, c.id) < (?1, ?2) " SB_LIST_FILTERS
               "ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT ?5"};
// assignee=<agent> (?11) and assignee=unassigned seek conversations_assignee_activity instead of
// walking the whole activity index for the few rows that match.
constexpr Sql kConversationsAssignedTo{
    "conversations_assigned_to",
    "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS SB_CONVERSATION_FROM SB_READER_JOIN(
        "?10") "WHERE c.assignee_id = ?11 AND (c.last_activity_ms, c.id) < (?1, ?2) " SB_LIST_FILTERS
               "ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT ?5"};
constexpr Sql kConversationsUnassigned{
    "conversations_unassigned",
    "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS SB_CONVERSATION_FROM SB_READER_JOIN(
        "?10") "WHERE c.assignee_id IS NULL AND (c.last_activity_ms, c.id) < (?1, ?2) " SB_LIST_FILTERS
               "ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT ?5"};
// An agent's view (visible_to, no assignee filter): its own conversations and the unassigned
// ones, as two index seeks merged, instead of one walk of the activity index that filters out
// everybody else's. The page's rows are then joined for what a list item shows.
#define SB_VISIBLE_SIDE(ASSIGNEE, STATUS)                                                            \
    "SELECT * FROM (SELECT c.id, c.last_activity_ms FROM conversations c WHERE " ASSIGNEE " " STATUS \
    " AND (c.last_activity_ms, c.id) < (?1, ?2) " SB_LIST_FILTERS                                    \
    "ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT ?5)"
#define SB_VISIBLE_PAGE(STATUS)                                                                       \
    "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS                                               \
    " FROM (" SB_VISIBLE_SIDE("c.assignee_id IS NULL", STATUS) " UNION ALL " SB_VISIBLE_SIDE(         \
        "c.assignee_id = ?6", STATUS) ") v JOIN conversations c ON c.id = v.id" SB_CONVERSATION_JOINS \
        SB_READER_JOIN("?10") "ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT ?5"
constexpr Sql kConversationsVisible{"conversations_visible", SB_VISIBLE_PAGE("AND ?3 = ''")};
constexpr Sql kConversationsVisibleWithStatus{"conversations_visible_status",
                                              SB_VISIBLE_PAGE("AND c.status = ?3")};
constexpr Sql kConversationForReader{
    "conversation_for_reader",
    "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS SB_CONVERSATION_FROM SB_READER_JOIN(
        "?2") "WHERE c.id = ?1"};
// --- labels ---
constexpr Sql kLabels{"labels", "SELECT name, color, description, created_ms FROM labels ORDER BY name"};
constexpr Sql kInsertLabel{
    "insert_label",
    "INSERT INTO labels (name, color, description, created_ms) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (name) DO NOTHING RETURNING name"};
constexpr Sql kUpdateLabel{
    "update_label",
    "UPDATE labels SET color = coalesce(?2, color), description = coalesce(?3, description) "
    "WHERE name = ?1 RETURNING name, color, description, created_ms"};
constexpr Sql kDeleteConversationLabels{"delete_conversation_labels",
                                        "DELETE FROM conversation_labels WHERE label = ?1"};
constexpr Sql kDeleteLabel{"delete_label", "DELETE FROM labels WHERE name = ?1"};
constexpr Sql kLabelExists{"label_exists", "SELECT 1 FROM labels WHERE name = ?1"};
constexpr Sql kAddLabel{"add_label",
                        "INSERT INTO conversation_labels (conversation_id, label) VALUES (?1, ?2) "
                        "ON CONFLICT DO NOTHING"};
constexpr Sql kRemoveLabel{"remove_label",
                           "DELETE FROM conversation_labels WHERE conversation_id = ?1 AND label = ?2"};

// --- canned replies ---
#define SB_CANNED_COLUMNS "id, shortcode, text, scope, owner_id, created_ms, updated_ms"
// ?1..?2 the prefix's range (domain::canned_prefix_end), ?3 whose personal ones; a personal one
// sorts before the shared one of the same shortcode ('personal' < 'shared').
constexpr Sql kCannedReplies{"canned_replies",
                             "SELECT " SB_CANNED_COLUMNS
                             " FROM canned_replies WHERE shortcode >= ?1 AND shortcode < ?2 AND "
                             "(scope = 'shared' OR owner_id = ?3) ORDER BY shortcode, scope, id"};
constexpr Sql kCannedReply{"canned_reply", "SELECT " SB_CANNED_COLUMNS " FROM canned_replies WHERE id = ?1"};
constexpr Sql kInsertCannedReply{
    "insert_canned_reply",
    "INSERT INTO canned_replies (shortcode, text, scope, owner_id, created_ms, updated_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT DO NOTHING RETURNING id"};
constexpr Sql kCannedShortcodeTaken{
    "canned_shortcode_taken",
    "SELECT 1 FROM canned_replies WHERE scope = ?1 AND owner_id = ?2 AND shortcode = ?3 AND id <> ?4"};
constexpr Sql kSaveCannedReply{
    "save_canned_reply",
    "UPDATE canned_replies SET shortcode = ?2, text = ?3, updated_ms = ?4 WHERE id = ?1"};
constexpr Sql kDeleteCannedReply{"delete_canned_reply", "DELETE FROM canned_replies WHERE id = ?1"};

// --- read state ---
constexpr Sql kMessageIn{"message_in", "SELECT 1 FROM messages WHERE id = ?2 AND conversation_id = ?1"};
// ?2: below this id (the newest overall: the largest id there is).
constexpr Sql kNewestMessage{"newest_message",
                             "SELECT id FROM messages WHERE conversation_id = ?1 AND id < ?2 "
                             "ORDER BY id DESC LIMIT 1"};
constexpr Sql kNewestInbound{"newest_inbound",
                             "SELECT id FROM messages WHERE conversation_id = ?1 AND direction = 'in' "
                             "AND kind = 'message' AND id < ?2 ORDER BY id DESC LIMIT 1"};
constexpr Sql kReadPosition{"read_position",
                            "SELECT last_read_message_id FROM conversation_reads "
                            "WHERE conversation_id = ?1 AND agent_id = ?2"};
constexpr Sql kSetReadPosition{
    "set_read_position",
    "INSERT INTO conversation_reads (conversation_id, agent_id, last_read_message_id, updated_ms) "
    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (conversation_id, agent_id) DO UPDATE SET "
    "last_read_message_id = excluded.last_read_message_id, updated_ms = excluded.updated_ms"};
// Per assignee and status, for the filter tabs (ConversationFilter's channel, label, priority).
constexpr Sql kConversationCounts{
    "conversation_counts",
    "SELECT coalesce(c.assignee_id, ''), c.status, count(*) FROM conversations c "
    "WHERE (?4 = '' OR c.channel_id = ?4) AND (?6 = '' OR c.assignee_id IS NULL OR c.assignee_id = ?6) "
    "AND (?9 = '' OR c.priority = ?9) AND (?8 = '' OR EXISTS (SELECT 1 FROM conversation_labels l "
    "WHERE l.conversation_id = c.id AND l.label = ?8)) GROUP BY c.assignee_id, c.status"};
constexpr Sql kConversationChannel{"conversation_channel",
                                   "SELECT channel_id FROM conversations WHERE id = ?1"};
constexpr Sql kSetConversationStatus{
    "set_conversation_status", "UPDATE conversations SET status = ?2, snoozed_until_ms = ?3 WHERE id = ?1"};
constexpr Sql kSetPriority{"set_priority", "UPDATE conversations SET priority = ?2 WHERE id = ?1"};
constexpr Sql kSetBlocked{"set_blocked", "UPDATE conversations SET blocked_ms = ?2 WHERE id = ?1"};
// conversations_snoozed holds only the snoozed ones, by time.
constexpr Sql kSnoozedDue{"snoozed_due",
                          "SELECT id FROM conversations WHERE status = 'snoozed' AND snoozed_until_ms <= ?1 "
                          "ORDER BY snoozed_until_ms LIMIT ?2"};
constexpr Sql kAssignConversation{"assign_conversation",
                                  "UPDATE conversations SET assignee_id = ?2 WHERE id = ?1"};
constexpr Sql kMessagesPage{"messages_page", "SELECT " SB_MESSAGE_COLUMNS
                                             " FROM messages WHERE conversation_id = ?1 AND id < ?2 "
                                             "ORDER BY id DESC LIMIT ?3"};
constexpr Sql kMessageByPlatformId{"message_by_platform_id",
                                   "SELECT " SB_MESSAGE_COLUMNS
                                   " FROM messages WHERE channel_id = ?1 AND platform_id = ?2"};
// Watermark receipts: what we sent in one conversation up to a time and is not yet read.
constexpr Sql kOutboundUpTo{"outbound_up_to",
                            "SELECT " SB_MESSAGE_COLUMNS
                            " FROM messages WHERE direction = 'out' AND kind = 'message' "
                            "AND created_ms <= ?3 AND status NOT IN ('read', 'failed') AND conversation_id = "
                            "(SELECT id FROM conversations WHERE channel_id = ?1 AND platform_id = ?2) "
                            "ORDER BY id DESC LIMIT 500"};
constexpr Sql kMessageByIdempotencyKey{
    "message_by_idempotency_key",
    "SELECT " SB_MESSAGE_COLUMNS
    " FROM messages WHERE sender_id = ?1 AND conversation_id = ?2 AND idempotency_key = ?3"};
constexpr Sql kClaimIdempotencyKey{
    "claim_idempotency_key",
    "INSERT INTO idempotency_keys (sender_id, conversation_id, idem_key, request_hash, state, created_ms) "
    "VALUES (?1, ?2, ?3, ?4, 'in_progress', ?5) ON CONFLICT DO NOTHING"};
constexpr Sql kIdempotencyKey{"idempotency_key",
                              "SELECT request_hash, state, message_id, created_ms FROM idempotency_keys "
                              "WHERE sender_id = ?1 AND conversation_id = ?2 AND idem_key = ?3"};
constexpr Sql kCompleteIdempotencyKey{"complete_idempotency_key",
                                      "UPDATE idempotency_keys SET state = 'done', message_id = ?4 "
                                      "WHERE sender_id = ?1 AND conversation_id = ?2 AND idem_key = ?3"};
constexpr Sql kReleaseIdempotencyKey{
    "release_idempotency_key",
    "DELETE FROM idempotency_keys WHERE sender_id = ?1 AND conversation_id = ?2 "
    "AND idem_key = ?3 AND state = 'in_progress'"};
constexpr Sql kMessageById{"message_by_id", "SELECT " SB_MESSAGE_COLUMNS " FROM messages WHERE id = ?1"};
constexpr Sql kOutboundInConversation{"outbound_in_conversation",
                                      "SELECT " SB_MESSAGE_COLUMNS
                                      ", attempted_ms FROM messages "
                                      "WHERE id = ?1 AND conversation_id = ?2 AND direction = 'out'"};
constexpr Sql kMarkSending{"mark_sending",
                           "UPDATE messages SET status = 'sending', attempted_ms = ?2 WHERE id = ?1"};
constexpr Sql kSettleRetry{"settle_retry",
                           "UPDATE messages SET platform_id = coalesce(?2, platform_id), status = ?3, "
                           "error_code = ?4, error_message = ?5 WHERE id = ?1 RETURNING " SB_MESSAGE_COLUMNS};
// If the platform's echo of this very message arrived first (same platform id), the agent's
// send takes the stored row over instead of failing on the dedupe key.
constexpr Sql kInsertOutbound{
    "insert_outbound",
    "INSERT INTO messages (conversation_id, channel_id, platform_id, direction, sender_id, "
    "sender_name, content_json, reply_to, status, error_code, created_ms, idempotency_key, error_message, "
    "outbound_id, search_text) "
    "VALUES (?1, ?2, ?3, 'out', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, coalesce(?14, '')) "
    "ON CONFLICT (channel_id, platform_id) DO UPDATE SET sender_id = excluded.sender_id, "
    "sender_name = excluded.sender_name, idempotency_key = excluded.idempotency_key "
    "RETURNING " SB_MESSAGE_COLUMNS};

// The echo of a send whose answer was lost: the row it stored (by outbound id) gets the
// platform's id and status sent.
constexpr Sql kCompleteByOutboundId{"complete_by_outbound_id",
                                    "UPDATE messages SET platform_id = ?3, status = 'sent', error_code = '', "
                                    "error_message = '' "
                                    "WHERE channel_id = ?1 AND outbound_id = ?2 AND platform_id IS NULL "
                                    "RETURNING " SB_MESSAGE_COLUMNS};

// --- events ---
constexpr Sql kEventsAfter{"events_after",
                           "SELECT seq, type, conversation_id, created_ms, data_json, audience, origin "
                           "FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"};
constexpr Sql kPruneEvents{"prune_events", "DELETE FROM events WHERE created_ms < ?1"};
constexpr Sql kFirstSeq{"first_seq", "SELECT coalesce(min(seq), 0) FROM events"};

// --- agents ---
constexpr Sql kInsertAgent{"insert_agent",
                           "INSERT INTO agents (id, name, role, created_ms) VALUES (?1, ?2, ?3, ?4)"};
constexpr Sql kAgents{"agents",
                      "SELECT id, name, role, created_ms, availability FROM agents WHERE deleted_ms = 0 "
                      "ORDER BY created_ms, id"};
constexpr Sql kSetAvailability{"set_availability",
                               "UPDATE agents SET availability = ?2 WHERE id = ?1 AND deleted_ms = 0"};
constexpr Sql kAgentById{"agent_by_id",
                         "SELECT id, name, role, created_ms FROM agents WHERE id = ?1 AND deleted_ms = 0"};
constexpr Sql kDeleteAgent{"delete_agent",
                           "UPDATE agents SET deleted_ms = ?2 WHERE id = ?1 AND deleted_ms = 0"};
constexpr Sql kRevokeAgentTokens{
    "revoke_agent_tokens", "UPDATE agent_tokens SET revoked_ms = ?2 WHERE agent_id = ?1 AND revoked_ms = 0"};
constexpr Sql kAssignedTo{"assigned_to", "SELECT id FROM conversations WHERE assignee_id = ?1 ORDER BY id"};
constexpr Sql kInsertToken{
    "insert_token",
    "INSERT INTO agent_tokens (id, agent_id, token_hash, label, created_ms, expires_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"};
constexpr Sql kRevokeToken{
    "revoke_token",
    "UPDATE agent_tokens SET revoked_ms = ?3 WHERE id = ?2 AND agent_id = ?1 AND revoked_ms = 0"};
constexpr Sql kActiveTokens{
    "active_tokens",
    "SELECT t.token_hash, t.id, a.id, a.name, a.role, a.created_ms, t.expires_ms FROM agent_tokens t "
    "JOIN agents a ON a.id = t.agent_id WHERE t.revoked_ms = 0 AND a.deleted_ms = 0"};
constexpr Sql kAssigneeOf{"assignee_of", "SELECT coalesce(assignee_id, '') FROM conversations WHERE id = ?1"};
constexpr Sql kOpenCounts{"open_counts",
                          "SELECT assignee_id, count(*) FROM conversations WHERE assignee_id IS NOT NULL "
                          "AND status = 'open' GROUP BY assignee_id"};
// sqlite_sequence keeps the highest seq ever issued, even once old events are pruned.
constexpr Sql kLastSeq{"last_seq",
                       "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)"};

#undef SB_QUEUE_COLUMNS
#undef SB_CANNED_COLUMNS
// --- search (issue 15): ?1 the FTS5 query (fts5_match_locked), ?2 visible_to, ?3 channel, ?4 status,
// ?5 the limit, ?6 the offset; best match first (sb_rank for messages, bm25 for the rest), then
// newest.
#define SB_SEARCH_FILTERS                                                                              \
    "AND (?2 = '' OR c.assignee_id IS NULL OR c.assignee_id = ?2) AND (?3 = '' OR c.channel_id = ?3) " \
    "AND (?4 = '' OR c.status = ?4) "
// Only the newest SB_SEARCH_CANDIDATES matches the searcher may see are ranked: FTS5 walks its
// doclist newest first and stops there, so a word in most messages costs little more than a
// rare one (ranking all of them computed bm25 for, and looked up, every match: 2.3 s for
// "order", in a fifth of 1M messages; bench/search_bench.cpp). The cap is the deepest row a
// page can reach (kMaxSearchOffset + the API's largest limit, 200, + the one that tells a next
// page exists), so pages and cursors are the same as without it; only a word with more visible
// matches than that is ranked among its newest ones, not among all.
#define SB_SEARCH_CANDIDATES "1201"
constexpr Sql kSearchMessages{
    "search_messages",
    "SELECT id FROM (SELECT m.id, sb_rank(message_search) AS rank FROM message_search s JOIN messages m ON "
    "m.id = s.rowid "
    "JOIN conversations c ON c.id = m.conversation_id WHERE message_search MATCH ?1 " SB_SEARCH_FILTERS
    "ORDER BY s.rowid DESC LIMIT " SB_SEARCH_CANDIDATES ") ORDER BY rank, id DESC LIMIT ?5 OFFSET ?6"};
constexpr Sql kSearchConversations{
    "search_conversations",
    "SELECT c.id FROM conversation_search s JOIN conversations c ON c.id = s.rowid "
    "WHERE conversation_search MATCH ?1 " SB_SEARCH_FILTERS
    "ORDER BY s.rank, c.last_activity_ms DESC, c.id DESC LIMIT ?5 OFFSET ?6"};
// Contacts (people) of their own with a conversation the searcher may see.
constexpr Sql kSearchContacts{
    "search_contacts",
    "SELECT p.id FROM person_search s JOIN people p ON p.id = s.rowid WHERE person_search MATCH ?1 "
    "AND p.merged_into IS NULL AND EXISTS (SELECT 1 FROM contacts ct JOIN conversations c ON c.contact_id = "
    "ct.id "
    "WHERE ct.person_id = p.id " SB_SEARCH_FILTERS ") ORDER BY s.rank, p.id DESC LIMIT ?5 OFFSET ?6"};
// The list with q= (?12, an FTS5 query), in the list's order; ?11 the assignee filter ("" any,
// "unassigned", an id). No one statement serves both a rare and a common word (at 1M messages:
// collecting the conversation of each of the 195,693 "order" messages takes 1.2 s; testing each
// conversation in list order for a match visits all 100,000 for a rare word), so the store counts
// the matches first, at most Tuning::list_match_bound of them (10,000 here) (FTS5 stops there):
// - fewer: the matching conversations are collected (?12, a JSON array of their ids) and only
//   those are listed (primary-key lookups, then sorted; the columns, unread counts among them,
//   only for the page: SQLite computes a row's columns before it sorts);
constexpr Sql kConversationsAmong{
    "conversations_among",
    "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS
    " FROM (SELECT c.id FROM conversations c "
    "WHERE (c.last_activity_ms, c.id) < (?1, ?2) " SB_LIST_FILTERS
    "AND (?11 = '' OR (?11 = 'unassigned' AND c.assignee_id IS NULL) OR c.assignee_id = ?11) "
    "AND c.id IN (SELECT value FROM json_each(?12)) ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT ?5) "
    "page "
    "JOIN conversations c ON c.id = page.id" SB_CONVERSATION_JOINS SB_READER_JOIN(
        "?10") "ORDER BY c.last_activity_ms DESC, c.id DESC"};
// - more: the conversations are walked in list order and each is tested (its messages, one FTS5
//   lookup by rowid each, then its title and contact) until the page is full, which a common
//   word fills after a few dozen.
constexpr Sql kConversationsMatching{
    "conversations_matching",
    "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS SB_CONVERSATION_FROM SB_READER_JOIN(
        "?10") "WHERE (c.last_activity_ms, c.id) < (?1, ?2) " SB_LIST_FILTERS
               "AND (?11 = '' OR (?11 = 'unassigned' AND c.assignee_id IS NULL) OR c.assignee_id = ?11) "
               "AND (EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND EXISTS (SELECT 1 "
               "FROM "
               "message_search s WHERE s.rowid = m.id AND message_search MATCH ?12)) OR EXISTS (SELECT 1 "
               "FROM "
               "conversation_search s WHERE s.rowid = c.id AND conversation_search MATCH ?12)) "
               "ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT ?5"};
// ?1 an FTS5 query, ?2 how many to count at most.
constexpr Sql kCountMessageMatches{
    "count_message_matches",
    "SELECT count(*) FROM (SELECT 1 FROM message_search WHERE message_search MATCH ?1 LIMIT ?2)"};
constexpr Sql kMessageMatchConversations{
    "message_match_conversations",
    "SELECT DISTINCT m.conversation_id FROM message_search s JOIN messages m ON m.id = s.rowid "
    "WHERE message_search MATCH ?1"};
constexpr Sql kConversationMatches{
    "conversation_matches",
    "SELECT rowid FROM conversation_search WHERE conversation_search MATCH ?1 LIMIT ?2"};
// The indexed words that begin with ?1 (?2 = ?1 followed by 0xFF, which UTF-8 never holds), at
// most ?3.
constexpr Sql kVocabularyRange{
    "vocabulary_range",
    "SELECT term FROM search_vocabulary WHERE term >= ?1 AND term < ?2 ORDER BY term LIMIT ?3"};

#undef SB_SEARCH_FILTERS
#undef SB_SEARCH_CANDIDATES

// --- contacts (domain/contacts.hpp) ---
#define SB_IDENTITY_COLUMNS                                                                 \
    "ct.id, ct.channel_id, ct.platform_id, ct.name, ct.username, ct.phone, ct.created_ms, " \
    "coalesce(ct.person_id, 0)"
#define SB_PERSON_COLUMNS                                                                             \
    "id, name, email, phone, company, notes, attributes_json, coalesce(merged_into, 0), created_ms, " \
    "updated_ms"
constexpr Sql kInsertPerson{"insert_person",
                            "INSERT INTO people (created_ms, updated_ms) VALUES (?1, ?1) RETURNING id"};
constexpr Sql kSetIdentityPerson{
    "set_identity_person",
    "UPDATE contacts SET person_id = ?2, first_person_id = coalesce(first_person_id, ?2) WHERE id = ?1"};
constexpr Sql kSetIdentityPhoneDigits{"set_identity_phone_digits",
                                      "UPDATE contacts SET phone_digits = coalesce(?2, '') WHERE id = ?1"};
constexpr Sql kPersonById{"person_by_id", "SELECT " SB_PERSON_COLUMNS " FROM people WHERE id = ?1"};
constexpr Sql kSavePerson{
    "save_person",
    "UPDATE people SET name = coalesce(?2, ''), email = coalesce(?3, ''), phone = coalesce(?4, ''), "
    "company = coalesce(?5, ''), notes = coalesce(?6, ''), attributes_json = coalesce(?7, '{}'), "
    "merged_into = nullif(?8, 0), updated_ms = ?9, search_text = coalesce(?10, '') WHERE id = ?1"};
constexpr Sql kIdentitiesOf{"identities_of", "SELECT " SB_IDENTITY_COLUMNS
                                             " FROM contacts ct WHERE ct.person_id = ?1 ORDER BY ct.id"};
constexpr Sql kIdentitiesFirstOf{"identities_first_of",
                                 "SELECT " SB_IDENTITY_COLUMNS
                                 " FROM contacts ct WHERE ct.first_person_id = ?1 ORDER BY ct.id"};
constexpr Sql kMergedInto{"merged_into", "SELECT id FROM people WHERE merged_into = ?1"};
constexpr Sql kPersonConversations{
    "person_conversations",
    "SELECT c.id, coalesce(c.assignee_id, '') FROM conversations c JOIN contacts ct ON ct.id = c.contact_id "
    "WHERE ct.person_id = ?1 ORDER BY c.last_activity_ms DESC, c.id DESC"};
// ?1 visible_to ('' = any), ?2 below this id, ?3 the limit.
constexpr Sql kVisiblePeople{
    "visible_people",
    "SELECT p.id FROM people p WHERE p.merged_into IS NULL AND p.id < ?2 AND EXISTS (SELECT 1 FROM contacts "
    "ct "
    "JOIN conversations c ON c.contact_id = ct.id WHERE ct.person_id = p.id AND (coalesce(?1, '') = '' "
    "OR c.assignee_id IS NULL OR c.assignee_id = ?1)) ORDER BY p.id DESC LIMIT ?3"};
constexpr Sql kPeopleSharingAPhone{
    "people_sharing_a_phone",
    "SELECT a.person_id, b.person_id, min(a.phone_digits) FROM contacts a JOIN contacts b "
    "ON b.phone_digits = a.phone_digits AND b.person_id > a.person_id "
    "WHERE a.phone_digits <> '' AND length(a.phone_digits) >= 7 GROUP BY a.person_id, b.person_id "
    "ORDER BY a.person_id, b.person_id LIMIT ?1"};
constexpr Sql kContactAttributes{"contact_attributes",
                                 "SELECT key, type, label, created_ms FROM contact_attributes ORDER BY key"};
constexpr Sql kInsertContactAttribute{
    "insert_contact_attribute",
    "INSERT INTO contact_attributes (key, type, label, created_ms) "
    "VALUES (?1, ?2, coalesce(?3, ''), ?4) ON CONFLICT DO NOTHING RETURNING key"};
constexpr Sql kDeleteContactAttribute{"delete_contact_attribute",
                                      "DELETE FROM contact_attributes WHERE key = ?1"};
#undef SB_IDENTITY_COLUMNS
#undef SB_PERSON_COLUMNS
#undef SB_MESSAGE_COLUMNS
#undef SB_CONVERSATION_COLUMNS
#undef SB_CONVERSATION_FROM
#undef SB_CONVERSATION_JOINS
#undef SB_READER_COLUMNS
#undef SB_READER_JOIN
#undef SB_LIST_FILTERS
#undef SB_VISIBLE_SIDE
#undef SB_VISIBLE_PAGE

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
// Long enough to ride out a checkpoint or another process (the sqlite3 shell, a backup)
// holding the lock; short enough that a stuck lock surfaces as an error.
constexpr int kBusyTimeoutMs = 5000;

struct CloseDb {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct FinalizeStmt {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;

// WAL checkpoints on a thread and a connection of their own. SQLite's auto-checkpoint runs in
// the commit that takes the log past its threshold: it copies the log into the database and
// fsyncs it inside that commit, with mutex_ held, so the webhooks of that batch wait for it.
// The writer's WAL hook (wal_grew, replacing the auto-checkpoint) only tells this thread how
// long the log is. A PASSIVE checkpoint never blocks the writer; the writer starts the log
// over once a checkpoint has caught up. Under a load that never lets it catch up the log
// would grow without end, so past kRestartFrames a RESTART waits for the writer and resets it.
class Checkpointer {
public:
    static constexpr int kCheckpointFrames = 1000;  // SQLite's own auto-checkpoint threshold
    static constexpr int kRestartFrames = 20'000;   // ≈ 80 MiB of 4 KiB pages

    Checkpointer(const std::string& path, int busy_timeout_ms) {
        sqlite3* raw = nullptr;
        int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
        db_.reset(raw);
        if (rc != SQLITE_OK)
            throw StoreError(fmt::format("cannot open SQLite database {} for checkpoints: {}", path,
                                         raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
        sqlite3_busy_timeout(db_.get(), busy_timeout_ms);
        // A connection learns that the file is in WAL mode when it first reads it; until then a
        // checkpoint is a no-op that reports success.
        if (sqlite3_exec(db_.get(), "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr) != SQLITE_OK)
            throw StoreError(fmt::format("cannot open SQLite database {} for checkpoints: {}", path,
                                         sqlite3_errmsg(db_.get())));
        thread_ = std::thread([this] { run(); });
    }
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;
    ~Checkpointer() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }

    // From the writer's commit (sqlite3_wal_hook): the log now holds `frames` frames.
    void wal_grew(int frames) {
        {
            std::lock_guard lock(mutex_);
            frames_ = frames;
            if (frames_ < kCheckpointFrames) return;
        }
        wake_.notify_one();
    }

private:
    void run() {
        for (;;) {
            int mode = SQLITE_CHECKPOINT_PASSIVE;
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return stopping_ || frames_ >= kCheckpointFrames; });
                if (stopping_) return;
                if (frames_ >= kRestartFrames) mode = SQLITE_CHECKPOINT_RESTART;
                frames_ = 0;
            }
            // A failure (the disk, a lock held by another process) is retried after the next
            // commit's hook; meanwhile the log only grows.
            sqlite3_wal_checkpoint_v2(db_.get(), nullptr, mode, nullptr, nullptr);
        }
    }

    DbHandle db_;
    std::mutex mutex_;
    std::condition_variable wake_;
    int frames_ = 0;
    bool stopping_ = false;
    std::thread thread_;
};
using StmtHandle = std::unique_ptr<sqlite3_stmt, FinalizeStmt>;

[[noreturn]] void fail(sqlite3* db, const char* what) {
    throw StoreError(fmt::format("SQLite {}: {}", what, sqlite3_errmsg(db)));
}

// One use of a cached prepared statement: binds, steps, reads columns, and resets the
// statement when it goes out of scope. Bound strings are not copied (SQLITE_STATIC), so they
// must outlive the Query; binding a temporary std::string is therefore refused at compile time.
class Query {
public:
    Query(sqlite3* db, sqlite3_stmt* stmt, const Sql& sql) : db_(db), stmt_(stmt), sql_(sql) {}
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;
    ~Query() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }

    Query& bind(int index, std::int64_t value) {
        check(sqlite3_bind_int64(stmt_, index, value));
        return *this;
    }
    Query& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    Query& bind(int index, bool value) { return bind(index, static_cast<std::int64_t>(value ? 1 : 0)); }
    Query& bind(int index, std::string_view value) {
        check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8));
        return *this;
    }
    Query& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
    Query& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
    Query& bind(int index, std::string&& value) = delete;
    // "" is stored as NULL: for columns where NULL means "none" and must not collide in a
    // UNIQUE constraint (platform_id, idempotency_key, assignee_id).
    Query& bind_or_null(int index, std::string_view value) {
        if (value.empty()) {
            check(sqlite3_bind_null(stmt_, index));
            return *this;
        }
        return bind(index, value);
    }
    Query& bind_blob(int index, std::string_view value) {
        check(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_STATIC));
        return *this;
    }

    // Advances to the next row; false when there are no more.
    bool step() {
        int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail();
    }
    // Runs a statement to completion, ignoring any rows.
    void run() {
        while (step()) {
        }
    }
    int changes() const { return sqlite3_changes(db_); }

    std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
    // NULL reads as "".
    std::string text(int column) const {
        const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
        if (data == nullptr) return {};
        return {data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
    }
    std::string blob(int column) const {
        const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
        if (data == nullptr) return {};
        return {data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
    }

private:
    void check(int rc) {
        if (rc != SQLITE_OK) fail();
    }
    [[noreturn]] void fail() { sb::store::fail(db_, sql_.name); }

    sqlite3* db_;
    sqlite3_stmt* stmt_;
    const Sql& sql_;
};

// --- record readers, one per column list above ---

Identity read_identity(const Query& q) {
    return Identity{q.integer(0), q.text(1), q.text(2),    q.text(3),
                    q.text(4),    q.text(5), q.integer(6), q.integer(7)};
}

Person read_person(const Query& q) {
    Person p;
    p.id = q.integer(0);
    p.name = q.text(1);
    p.email = q.text(2);
    p.phone = q.text(3);
    p.company = q.text(4);
    p.notes = q.text(5);
    p.attributes_json = q.text(6);
    p.merged_into = q.integer(7);
    p.created_ms = q.integer(8);
    p.updated_ms = q.integer(9);
    return p;
}

// A word as an FTS5 phrase ("word"; the words are letters and digits only).
std::string fts5_phrase(std::string_view word) { return fmt::format("\"{}\"", word); }

// How a search orders the messages it ranks: Okapi BM25 (k1 = 1.2, b = 0.75, as FTS5's bm25())
// without the inverse document frequency. FTS5's bm25() counts, once per query, the rows holding
// each phrase by reading every posting of it (+25 ms for "order" at 1M messages, +35 ms for
// "the"); a search ranks only its newest candidates (SB_SEARCH_CANDIDATES), every one of which
// holds every word, so what orders them is how often and how densely they hold the words.
// Lower is better, as with bm25().
void sb_rank(const Fts5ExtensionApi* api, Fts5Context* fts, sqlite3_context* ctx, int, sqlite3_value**) {
    constexpr double k1 = 1.2;
    constexpr double b = 0.75;
    const int phrases = api->xPhraseCount(fts);
    int instances = 0;
    sqlite3_int64 rows = 0;
    sqlite3_int64 total = 0;
    int length = 0;
    if (api->xInstCount(fts, &instances) != SQLITE_OK || api->xRowCount(fts, &rows) != SQLITE_OK ||
        api->xColumnTotalSize(fts, 0, &total) != SQLITE_OK ||
        api->xColumnSize(fts, 0, &length) != SQLITE_OK) {
        sqlite3_result_error(ctx, "sb_rank: the row's statistics are unreadable", -1);
        return;
    }
    std::vector<int> frequency(static_cast<std::size_t>(std::max(phrases, 0)), 0);
    for (int i = 0; i < instances; ++i) {
        int phrase = 0;
        int column = 0;
        int offset = 0;
        if (api->xInst(fts, i, &phrase, &column, &offset) == SQLITE_OK && phrase >= 0 && phrase < phrases)
            ++frequency[static_cast<std::size_t>(phrase)];
    }
    const double average = rows > 0 ? static_cast<double>(total) / static_cast<double>(rows) : 1.0;
    const double norm = k1 * (1.0 - b + b * static_cast<double>(length) / std::max(average, 1.0));
    double score = 0;
    for (const int tf : frequency) score += tf * (k1 + 1.0) / (tf + norm);
    sqlite3_result_double(ctx, -score);
}

// FTS5's extension interface of `db` (https://sqlite.org/fts5.html#extending_fts5), or null.
fts5_api* fts5_api_of(sqlite3* db) {
    fts5_api* api = nullptr;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, nullptr) != SQLITE_OK) return nullptr;
    sqlite3_bind_pointer(stmt, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
    sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return api;
}

// The SQL functions migration 13 indexes the rows stored before it with: the store's own rules
// (domain/search.hpp), so that old rows are found as new ones are.
std::string_view text_argument(sqlite3_value* value) {
    const auto* data = reinterpret_cast<const char*>(sqlite3_value_text(value));
    if (data == nullptr) return {};
    return {data, static_cast<std::size_t>(sqlite3_value_bytes(value))};
}

template <typename Compute>
void search_text_function(sqlite3_context* ctx, int argc, sqlite3_value** argv, Compute&& compute) {
    try {
        std::vector<std::string_view> args;
        for (int i = 0; i < argc; ++i) args.push_back(text_argument(argv[i]));
        const std::string text = compute(args);
        sqlite3_result_text64(ctx, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    } catch (const std::exception& e) {
        sqlite3_result_error(ctx, e.what(), -1);
    }
}

void register_search_functions(sqlite3* db) {
    fts5_api* fts5 = fts5_api_of(db);
    if (fts5 == nullptr || fts5->iVersion < 2 ||
        fts5->xCreateFunction(fts5, "sb_rank", nullptr, &sb_rank, nullptr) != SQLITE_OK)
        throw StoreError("SQLite was built without FTS5 (search needs it)");
    constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    sqlite3_create_function_v2(
        db, "sb_message_search_text", 1, kFlags, nullptr,
        [](sqlite3_context* ctx, int argc, sqlite3_value** argv) {
            search_text_function(ctx, argc, argv,
                                 [](const auto& a) { return domain::message_search_text(a[0]); });
        },
        nullptr, nullptr, nullptr);
    sqlite3_create_function_v2(
        db, "sb_contact_search_text", 3, kFlags, nullptr,
        [](sqlite3_context* ctx, int argc, sqlite3_value** argv) {
            search_text_function(ctx, argc, argv, [](const auto& a) {
                return domain::contact_search_text(
                    Identity{0, "", "", std::string(a[0]), std::string(a[1]), std::string(a[2]), 0, 0});
            });
        },
        nullptr, nullptr, nullptr);
    sqlite3_create_function_v2(
        db, "sb_conversation_search_text", 4, kFlags, nullptr,
        [](sqlite3_context* ctx, int argc, sqlite3_value** argv) {
            search_text_function(ctx, argc, argv, [](const auto& a) {
                return domain::conversation_search_text(
                    a[0], Identity{0, "", "", std::string(a[1]), std::string(a[2]), std::string(a[3]), 0, 0});
            });
        },
        nullptr, nullptr, nullptr);
    sqlite3_create_function_v2(
        db, "sb_phone_digits", 1, kFlags, nullptr,
        [](sqlite3_context* ctx, int argc, sqlite3_value** argv) {
            search_text_function(ctx, argc, argv, [](const auto& a) { return domain::phone_digits(a[0]); });
        },
        nullptr, nullptr, nullptr);
}

CannedReply read_canned(const Query& q) {
    return CannedReply{q.integer(0), q.text(1), q.text(2), q.text(3), q.text(4), q.integer(5), q.integer(6)};
}

QueuedInbound read_queued(const Query& q) {
    QueuedInbound row;
    row.id = q.integer(0);
    row.request.channel_id = q.text(1);
    row.request.method = q.text(2);
    row.request.target = q.text(3);
    row.request.headers = q.text(4);
    row.request.body = q.blob(5);
    row.request.received_ms = q.integer(6);
    row.attempts = static_cast<int>(q.integer(7));
    return row;
}

Message read_message(const Query& q) {
    Message m;
    m.id = q.integer(0);
    m.conversation_id = q.integer(1);
    m.channel_id = q.text(2);
    m.platform_id = q.text(3);
    m.direction = q.text(4);
    m.sender_id = q.text(5);
    m.sender_name = q.text(6);
    m.content_json = q.text(7);
    m.reply_to = q.text(8);
    m.status = q.text(9);
    m.error_code = q.text(10);
    m.platform_ts_ms = q.integer(11);
    m.created_ms = q.integer(12);
    m.edited_ms = q.integer(13);
    m.error_message = q.text(14);
    m.kind = q.text(15);
    m.reactions_json = q.text(16);
    return m;
}

Conversation read_conversation(const Query& q) {
    Conversation c;
    c.id = q.integer(0);
    c.channel_id = q.text(1);
    c.platform_id = q.text(2);
    c.kind = q.text(3);
    c.title = q.text(4);
    c.contact_platform_id = q.text(5);
    c.contact_name = q.text(6);
    c.contact_username = q.text(7);
    c.status = q.text(8);
    c.assignee_id = q.text(9);
    c.created_ms = q.integer(10);
    c.last_activity_ms = q.integer(11);
    c.snoozed_until_ms = q.integer(12);
    c.priority = q.text(13);
    c.assignee_name = q.text(14);
    c.labels = split_labels(q.text(15));
    if (q.integer(16) != 0)
        c.last_message =
            LastMessage{q.integer(16), q.text(17), q.text(18), q.text(19), q.text(20), q.integer(21)};
    c.blocked_ms = q.integer(22);
    c.contact_phone = q.text(23);
    c.contact_id = q.integer(24);
    c.contact_display_name = q.text(25);
    return c;
}

// A conversation with SB_READER_COLUMNS after it.
Conversation read_conversation_for_reader(const Query& q) {
    Conversation c = read_conversation(q);
    c.read = ReadState{q.integer(26), q.integer(27)};
    return c;
}

MediaRecord read_media(const Query& q) {
    MediaRecord m;
    m.id = q.integer(0);
    m.origin = q.text(1);
    m.message_id = q.integer(2);
    m.conversation_id = q.integer(3);
    m.channel_id = q.text(4);
    m.state = q.text(5);
    m.error = q.text(6);
    m.error_message = q.text(7);
    m.mime_type = q.text(8);
    m.size = q.integer(9);
    m.file_name = q.text(10);
    m.sha256 = q.text(11);
    m.source_json = q.text(12);
    m.uploaded_by = q.text(13);
    m.attempts = static_cast<int>(q.integer(14));
    m.next_attempt_ms = q.integer(15);
    m.created_ms = q.integer(16);
    m.updated_ms = q.integer(17);
    return m;
}

class SqliteStore final : public Store {
public:
    SqliteStore(std::string path, Tuning tuning)
        : path_(std::move(path)),
          list_match_bound_(tuning.list_match_bound > 0 ? tuning.list_match_bound : 10'000) {
        auto dir = std::filesystem::path(path_).parent_path();
        std::error_code ec;
        if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
            throw StoreError(fmt::format("cannot open SQLite database {}: directory {} does not exist", path_,
                                         dir.string()));
        sqlite3* raw = nullptr;
        // NOMUTEX: mutex_ below already serializes every use of the connection.
        int rc = sqlite3_open_v2(path_.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
        db_.reset(raw);
        if (rc != SQLITE_OK)
            throw StoreError(fmt::format("cannot open SQLite database {}: {}", path_,
                                         raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
        sqlite3_extended_result_codes(db_.get(), 1);
        sqlite3_busy_timeout(db_.get(), kBusyTimeoutMs);
        // synchronous=FULL: a commit is fsynced before enqueue() returns, so a webhook we
        // answered 200 survives power loss, not just a crash. Group commit pays for the fsync.
        exec_setup("PRAGMA journal_mode = WAL");
        exec_setup("PRAGMA synchronous = FULL");
        exec_setup("PRAGMA foreign_keys = ON");
        register_search_functions(db_.get());
        checkpointer_ = std::make_unique<Checkpointer>(path_, kBusyTimeoutMs);
        sqlite3_wal_hook(
            db_.get(),
            [](void* checkpointer, sqlite3*, const char*, int frames) {
                static_cast<Checkpointer*>(checkpointer)->wal_grew(frames);
                return SQLITE_OK;
            },
            checkpointer_.get());
    }

    void migrate() override {
        std::lock_guard lock(mutex_);
        // A migration may rebuild a table others refer to (8: conversations), which SQLite
        // allows only with foreign keys off; they are checked before the commit instead. The
        // pragma is a no-op inside a transaction, so it goes around it.
        exec_setup("PRAGMA foreign_keys = OFF");
        struct ForeignKeysBackOn {
            SqliteStore& store;
            ~ForeignKeysBackOn() {
                sqlite3_exec(store.db_.get(), "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr);
            }
        } back_on{*this};
        Transaction tx(*this);
        std::int64_t current = 0;
        {
            Query q = query(kUserVersion);
            if (q.step()) current = q.integer(0);
        }
        if (current > sqlite_schema::kLatestVersion)
            throw StoreError(
                fmt::format("{}: database schema version {} is newer than this switchboardd supports "
                            "({}); upgrade switchboardd",
                            path_, current, sqlite_schema::kLatestVersion));
        for (const auto& migration : sqlite_schema::kMigrations) {
            if (migration.version <= current) continue;
            exec(migration.sql, fmt::format("migration {}", migration.version));
            if (migration.after)
                exec(migration.after, fmt::format("migration {}, its data", migration.version));
            exec(fmt::format("PRAGMA user_version = {}", migration.version), "set user_version");
        }
        {
            Query q = query(kForeignKeyCheck);
            if (q.step())
                throw StoreError(fmt::format("{}: the migration left a broken reference in table {} (row {})",
                                             path_, q.text(0), q.integer(1)));
        }
        tx.commit();
    }

    // --- inbound queue ---

    std::vector<std::int64_t> enqueue(std::span<const InboundRequest> requests) override {
        return append(requests, kEnqueue, 0);
    }

    bool enqueues_claimed() const override { return true; }

    std::vector<std::int64_t> enqueue_claimed(std::span<const InboundRequest> requests, std::int64_t now_ms,
                                              std::int64_t lease_ms) override {
        return append(requests, kEnqueueClaimed, now_ms + lease_ms);
    }

    std::vector<QueuedInbound> claim(int limit, std::int64_t now_ms, std::int64_t lease_ms) override {
        std::vector<QueuedInbound> rows;
        if (limit < 1) return rows;
        std::lock_guard lock(mutex_);
        // A claim need not survive power loss: this single process requeues every claim at start
        // (recover_claims), so its commit skips the fsync. The next FULL commit syncs it anyway.
        Relaxed relaxed(*this);
        Transaction tx(*this);
        {
            Query q = query(kClaim);
            q.bind(1, now_ms).bind(2, now_ms + lease_ms).bind(3, limit);
            while (q.step()) rows.push_back(read_queued(q));
        }
        tx.commit();
        // RETURNING gives no order guarantee.
        std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
        return rows;
    }

    std::vector<ApplyResult> apply(std::span<const ParsedRow> rows, std::int64_t now_ms) override {
        std::vector<ApplyResult> results(rows.size());
        std::lock_guard lock(mutex_);
        // The raw webhooks are durable already (enqueue was FULL). This commit is atomic after a
        // crash; a power loss may drop it whole, rows and results together, and then the rows are
        // applied again. The next FULL commit (the next enqueue, milliseconds later under load)
        // syncs it with its own fsync.
        Relaxed relaxed(*this);
        Transaction tx(*this);
        DomainSql statements(*this);
        std::int64_t taken = 0;  // ParsedRows of one queue row are adjacent and share its fate
        bool fenced = false;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const ParsedRow& row = rows[i];
            if (row.row_id != taken) {
                Query q = query(kTakeQueueRow);
                q.bind(1, row.row_id).bind(2, row.claim).bind(3, now_ms).run();
                taken = row.row_id;
                fenced = row.claim != 0 && q.changes() == 0;
            }
            results[i].fenced = fenced;
            if (fenced) continue;
            for (const auto& ev : row.events)
                domain::apply_event(statements, row.channel_id, ev,
                                    row.received_ms ? row.received_ms : now_ms, results[i]);
        }
        tx.commit();
        return results;
    }

    void release(std::int64_t row_id, std::int64_t available_at_ms, std::string_view error,
                 int claim = 0) override {
        std::lock_guard lock(mutex_);
        Relaxed relaxed(*this);  // as apply(): the row is durable, losing this only retries it sooner
        Query q = query(kRelease);
        q.bind(1, row_id).bind(2, available_at_ms).bind(3, error).bind(4, claim).run();
    }

    void dead_letter(std::int64_t row_id, std::string_view reason, std::int64_t now_ms,
                     int claim = 0) override {
        std::lock_guard lock(mutex_);
        Relaxed relaxed(*this);  // as apply(): lost on power loss, the row is only tried again
        Query q = query(kDeadLetter);
        q.bind(1, row_id).bind(2, reason).bind(3, now_ms).bind(4, claim).run();
    }

    std::vector<DeadLetter> dead_letters(int limit) override {
        std::vector<DeadLetter> letters;
        if (limit < 1) return letters;
        std::lock_guard lock(mutex_);
        Query q = query(kDeadLetters);
        q.bind(1, limit);
        while (q.step()) {
            QueuedInbound row = read_queued(q);
            letters.push_back(
                DeadLetter{row.id, std::move(row.request), q.text(8), row.attempts, q.integer(9)});
        }
        return letters;
    }

    std::int64_t oldest_queued_ms() override {
        std::lock_guard lock(mutex_);
        Query q = query(kOldestQueued);
        return q.step() ? q.integer(0) : 0;
    }

    void recover_claims() override {
        std::lock_guard lock(mutex_);
        query(kRecoverClaims).run();
    }

    bool replay_dead_letter(std::int64_t row_id, std::int64_t now_ms) override {
        std::lock_guard lock(mutex_);
        Query q = query(kReplayDeadLetter);
        q.bind(1, row_id).bind(2, now_ms).run();
        return q.changes() > 0;
    }

    std::int64_t queue_depth() override {
        std::lock_guard lock(mutex_);
        Query q = query(kQueueDepth);
        return q.step() ? q.integer(0) : 0;
    }

    // --- conversations and messages ---

    std::optional<Conversation> conversation(std::int64_t id) override {
        std::lock_guard lock(mutex_);
        return conversation_locked(id);
    }

    std::optional<Conversation> conversation_by_platform_id(std::string_view channel_id,
                                                            std::string_view platform_id) override {
        std::lock_guard lock(mutex_);
        Query q = query(kConversationByPlatformId);
        q.bind(1, channel_id).bind(2, platform_id);
        if (!q.step()) return std::nullopt;
        return read_conversation(q);
    }

    Page<Conversation> conversations(const ConversationFilter& filter, int limit,
                                     std::string_view cursor) override {
        require_positive_limit(limit);
        auto [activity, id] =
            cursor.empty() ? std::pair{kMaxInt64, kMaxInt64} : parse_conversation_cursor(cursor);
        Page<Conversation> page;
        const auto [status, statuses] = status_params(filter.status);
        std::lock_guard lock(mutex_);
        {
            const bool matching = filter.search.has_value();
            const bool assigned_to = !matching && !filter.assignee.empty() && filter.assignee != "unassigned";
            const bool agents_view = filter.assignee.empty() && !filter.visible_to.empty();
            std::string match;
            std::optional<std::string> among;  // the matching conversations, when they are few
            if (matching) {
                match = fts5_match_locked(*filter.search);
                among = matching_conversations_locked(match);
            }
            Query q = query(among                             ? kConversationsAmong
                            : matching                        ? kConversationsMatching
                            : assigned_to                     ? kConversationsAssignedTo
                            : filter.assignee == "unassigned" ? kConversationsUnassigned
                            : agents_view && status.empty()   ? kConversationsVisible
                            : agents_view                     ? kConversationsVisibleWithStatus
                                                              : kConversationsPage);
            // limit + 1: is there another page?
            q.bind(1, activity).bind(2, id).bind(3, status).bind(4, filter.channel_id).bind(5, limit + 1);
            q.bind(6, filter.visible_to).bind(7, statuses).bind(8, filter.label).bind(9, filter.priority);
            q.bind(10, filter.reader);
            if (assigned_to || matching) q.bind(11, filter.assignee);
            if (matching) q.bind(12, among ? *among : match);
            while (q.step()) page.items.push_back(read_conversation_for_reader(q));
        }
        if (filter.reader.empty())
            for (auto& c : page.items) c.read.reset();
        if (page.items.size() > static_cast<std::size_t>(limit)) {
            page.items.pop_back();
            page.next_cursor = conversation_cursor(page.items.back());
        }
        return page;
    }

    std::optional<Conversation> conversation_for(std::int64_t id, std::string_view reader) override {
        std::lock_guard lock(mutex_);
        return conversation_for_locked(id, reader);
    }

    std::vector<Label> labels() override {
        std::vector<Label> out;
        std::lock_guard lock(mutex_);
        Query q = query(kLabels);
        while (q.step()) out.push_back(Label{q.text(0), q.text(1), q.text(2), q.integer(3)});
        return out;
    }

    std::optional<Label> create_label(const Label& label, std::int64_t now_ms) override {
        Label created{domain::label_name(label.name), label.color, label.description, now_ms};
        domain::check_label_color(created.color);
        std::lock_guard lock(mutex_);
        Query q = query(kInsertLabel);
        q.bind(1, created.name).bind(2, created.color).bind(3, created.description).bind(4, now_ms);
        if (!q.step()) return std::nullopt;
        return created;
    }

    std::optional<Label> update_label(std::string_view name, const std::optional<std::string>& color,
                                      const std::optional<std::string>& description) override {
        if (color) domain::check_label_color(*color);
        const std::string label = domain::label_name(name);
        std::lock_guard lock(mutex_);
        Query q = query(kUpdateLabel);
        q.bind(1, label);
        if (color) q.bind(2, *color);
        if (description) q.bind(3, *description);
        if (!q.step()) return std::nullopt;
        return Label{q.text(0), q.text(1), q.text(2), q.integer(3)};
    }

    bool delete_label(std::string_view name) override {
        const std::string label = domain::label_name(name);
        std::lock_guard lock(mutex_);
        Transaction tx(*this);
        query(kDeleteConversationLabels).bind(1, label).run();
        Query q = query(kDeleteLabel);
        q.bind(1, label).run();
        const bool deleted = q.changes() > 0;
        tx.commit();
        return deleted;
    }

    LabelOutcome label_conversation(std::int64_t conversation_id, std::string_view label, bool add,
                                    std::string_view changed_by, std::int64_t now_ms) override {
        return in_transaction([&](DomainSql& statements) {
            return domain::label_conversation(statements, conversation_id, label, add, changed_by, now_ms);
        });
    }

    std::vector<CannedReply> canned_replies(std::string_view owner_id, std::string_view prefix) override {
        const std::string from = domain::canned_prefix(prefix), to = domain::canned_prefix_end(from);
        std::vector<CannedReply> out;
        std::lock_guard lock(mutex_);
        Query q = query(kCannedReplies);
        q.bind(1, from).bind(2, to).bind(3, owner_id);
        while (q.step()) out.push_back(read_canned(q));
        return out;
    }

    std::optional<CannedReply> canned_reply(std::int64_t id) override {
        std::lock_guard lock(mutex_);
        Query q = query(kCannedReply);
        q.bind(1, id);
        if (!q.step()) return std::nullopt;
        return read_canned(q);
    }

    std::optional<CannedReply> create_canned_reply(const CannedReply& reply, std::int64_t now_ms) override {
        CannedReply created = domain::new_canned_reply(reply, now_ms);
        std::lock_guard lock(mutex_);
        Query q = query(kInsertCannedReply);
        q.bind(1, created.shortcode).bind(2, created.text).bind(3, created.scope).bind(4, created.owner_id);
        q.bind(5, now_ms);
        if (!q.step()) return std::nullopt;
        created.id = q.integer(0);
        return created;
    }

    CannedOutcome update_canned_reply(std::int64_t id, const CannedChange& change,
                                      std::int64_t now_ms) override {
        return in_transaction([&](DomainSql& statements) {
            return domain::update_canned_reply(statements, id, change, now_ms);
        });
    }

    bool delete_canned_reply(std::int64_t id) override {
        std::lock_guard lock(mutex_);
        Query q = query(kDeleteCannedReply);
        q.bind(1, id).run();
        return q.changes() > 0;
    }

    NoteOutcome add_note(const NewNote& note, std::int64_t now_ms) override {
        return in_transaction(
            [&](DomainSql& statements) { return domain::add_note(statements, note, now_ms); });
    }

    ReadOutcome mark_read(std::int64_t conversation_id, std::string_view agent_id, std::int64_t message_id,
                          std::int64_t now_ms) override {
        return in_transaction([&](DomainSql& statements) {
            return domain::mark_read(statements, conversation_id, agent_id, message_id, now_ms);
        });
    }

    ReadOutcome mark_unread(std::int64_t conversation_id, std::string_view agent_id,
                            std::int64_t now_ms) override {
        return in_transaction([&](DomainSql& statements) {
            return domain::mark_unread(statements, conversation_id, agent_id, now_ms);
        });
    }

    ConversationCounts conversation_counts(const ConversationFilter& filter) override {
        ConversationCounts counts;
        std::lock_guard lock(mutex_);
        Query q = query(kConversationCounts);
        q.bind(4, filter.channel_id)
            .bind(6, filter.visible_to)
            .bind(8, filter.label)
            .bind(9, filter.priority);
        while (q.step()) add_count(counts, filter, q.text(0), q.text(1), q.integer(2));
        return counts;
    }

    Page<SearchHit> search(const SearchRequest& request) override {
        require_search_type(request.type);
        require_positive_limit(request.limit);
        const std::int64_t offset = parse_search_cursor(request.cursor);
        auto bind_filters = [&](Query& q) {
            q.bind(2, request.visible_to).bind(3, request.channel_id).bind(4, request.status);
        };
        std::vector<SearchHit> hits;
        std::lock_guard lock(mutex_);
        const std::string match = fts5_match_locked(request.terms);
        {
            Query q = query(request.type == "messages"        ? kSearchMessages
                            : request.type == "conversations" ? kSearchConversations
                                                              : kSearchContacts);
            q.bind(1, match);
            bind_filters(q);
            q.bind(5, request.limit + 1).bind(6, offset);  // one more: is there another page?
            while (q.step()) {
                SearchHit hit;
                if (request.type == "messages") {
                    Query m = query(kMessageById);
                    m.bind(1, q.integer(0));
                    if (m.step()) hit.message = read_message(m);
                } else if (request.type == "conversations") {
                    hit.conversation = conversation_locked(q.integer(0));
                } else {
                    hit.contact = Person{};
                    hit.contact->id = q.integer(0);
                }
                hits.push_back(std::move(hit));
            }
        }
        const auto next = next_search_cursor(offset, hits.size(), request.limit);
        if (hits.size() > static_cast<std::size_t>(request.limit)) hits.pop_back();
        DomainSql statements(*this);
        for (auto& hit : hits) {
            if (hit.message) hit.conversation = conversation_locked(hit.message->conversation_id);
            if (hit.contact) hit.contact = domain::contact(statements, hit.contact->id, request.visible_to);
        }
        std::erase_if(hits, [](const SearchHit& h) { return !h.message && !h.conversation && !h.contact; });
        return {std::move(hits), next};
    }

    // --- contacts ---

    Page<Person> contacts(std::string_view visible_to, int limit, std::string_view cursor) override {
        std::lock_guard lock(mutex_);
        DomainSql statements(*this);
        return domain::contacts(statements, visible_to, limit, cursor);
    }
    std::optional<Person> contact(std::int64_t id, std::string_view visible_to) override {
        std::lock_guard lock(mutex_);
        DomainSql statements(*this);
        return domain::contact(statements, id, visible_to);
    }
    ContactOutcome update_contact(std::int64_t id, const ContactChange& change, std::string_view visible_to,
                                  std::string_view changed_by, std::int64_t now_ms) override {
        return in_transaction([&](DomainSql& statements) {
            return domain::update_contact(statements, id, change, visible_to, changed_by, now_ms);
        });
    }
    MergeOutcome merge_contacts(std::int64_t into, std::int64_t from, std::string_view changed_by,
                                std::int64_t now_ms) override {
        return in_transaction([&](DomainSql& statements) {
            return domain::merge_contacts(statements, into, from, changed_by, now_ms);
        });
    }
    MergeOutcome unmerge_contact(std::int64_t id, std::string_view changed_by, std::int64_t now_ms) override {
        return in_transaction([&](DomainSql& statements) {
            return domain::unmerge_contact(statements, id, changed_by, now_ms);
        });
    }
    std::vector<MergeSuggestion> merge_suggestions(int limit) override {
        std::lock_guard lock(mutex_);
        DomainSql statements(*this);
        return domain::merge_suggestions(statements, limit);
    }
    std::vector<ContactAttribute> contact_attributes() override {
        std::lock_guard lock(mutex_);
        DomainSql statements(*this);
        return statements.contact_attributes();
    }
    std::optional<ContactAttribute> define_contact_attribute(const ContactAttribute& attribute,
                                                             std::int64_t now_ms) override {
        return in_transaction([&](DomainSql& statements) {
            return domain::define_contact_attribute(statements, attribute, now_ms);
        });
    }
    bool delete_contact_attribute(std::string_view key) override {
        return in_transaction(
            [&](DomainSql& statements) { return statements.delete_contact_attribute(key); });
    }

    Page<Message> messages(std::int64_t conversation_id, int limit, std::int64_t before_id) override {
        require_positive_limit(limit);
        Page<Message> page;
        std::lock_guard lock(mutex_);
        {
            Query q = query(kMessagesPage);
            q.bind(1, conversation_id).bind(2, before_id > 0 ? before_id : kMaxInt64).bind(3, limit + 1);
            while (q.step()) page.items.push_back(read_message(q));
        }
        if (page.items.size() > static_cast<std::size_t>(limit)) {
            page.items.pop_back();
            page.next_cursor = std::to_string(page.items.back().id);
        }
        return page;
    }

    std::optional<Message> message_by_platform_id(std::string_view channel_id,
                                                  std::string_view platform_id) override {
        std::lock_guard lock(mutex_);
        return message_by_platform_id_locked(channel_id, platform_id);
    }

    // --- media (issue 16) ---

    std::optional<MediaRecord> add_media(const MediaRecord& media,
                                         const std::function<std::string(const MediaRecord&)>& content_for,
                                         std::optional<Event>* event) override {
        std::lock_guard lock(mutex_);
        Transaction tx(*this);
        {
            Query m = query(kMessageById);
            m.bind(1, media.message_id);
            if (!m.step()) return std::nullopt;
        }
        auto added = insert_media_locked(media);
        if (!added) return std::nullopt;
        DomainSql statements(*this);
        auto updated =
            domain::media_settled(statements, media.message_id, content_for(*added), media.created_ms);
        tx.commit();
        if (event != nullptr) *event = std::move(updated);
        return added;
    }

    MediaRecord add_upload(const MediaRecord& upload) override {
        std::lock_guard lock(mutex_);
        auto added = insert_media_locked(upload);
        if (!added) throw StoreError("SQLite insert_media: the upload was not stored");
        return *added;
    }

    std::optional<MediaRecord> media(std::int64_t id) override {
        std::lock_guard lock(mutex_);
        Query q = query(kMediaById);
        q.bind(1, id);
        if (!q.step()) return std::nullopt;
        return read_media(q);
    }

    std::vector<MediaRecord> claim_media(std::int64_t now_ms, std::int64_t lease_ms, int limit) override {
        std::lock_guard lock(mutex_);
        std::vector<MediaRecord> out;
        Query q = query(kClaimMedia);
        q.bind(1, now_ms).bind(2, now_ms + lease_ms).bind(3, limit);
        while (q.step()) out.push_back(read_media(q));
        return out;
    }

    void recover_media(std::int64_t now_ms) override {
        std::lock_guard lock(mutex_);
        query(kRecoverMedia).bind(1, now_ms).run();
    }

    void retry_media(std::int64_t id, std::int64_t next_attempt_ms, std::string_view error_message) override {
        std::lock_guard lock(mutex_);
        query(kRetryMedia).bind(1, id).bind(2, next_attempt_ms).bind(3, error_message).run();
    }

    std::optional<Event> settle_media(const MediaRecord& m, std::string_view content_json,
                                      std::int64_t now_ms) override {
        std::lock_guard lock(mutex_);
        Transaction tx(*this);
        query(kSettleMedia)
            .bind(1, m.id)
            .bind(2, m.state)
            .bind(3, m.error)
            .bind(4, m.error_message)
            .bind(5, m.mime_type)
            .bind(6, m.size)
            .bind(7, m.file_name)
            .bind(8, m.sha256)
            .bind(9, now_ms)
            .run();
        std::optional<Event> event;
        if (m.message_id != 0) {
            DomainSql statements(*this);
            event = domain::media_settled(statements, m.message_id, std::string(content_json), now_ms);
        }
        tx.commit();
        return event;
    }

    ExpiredMedia expire_media(std::int64_t before_ms, int limit,
                              const std::function<std::string(const MediaRecord&)>& content_for,
                              std::int64_t now_ms) override {
        return in_transaction([&](DomainSql& statements) {
            return domain::expire_media(statements, before_ms, limit, content_for, now_ms);
        });
    }

    bool media_names(std::string_view sha256) override {
        std::lock_guard lock(mutex_);
        Query q = query(kMediaNamingSha);
        q.bind(1, sha256);
        return q.step();
    }

    std::pair<Message, bool> insert_outbound(const OutboundMessage& m, std::int64_t now_ms) override {
        std::lock_guard lock(mutex_);
        // IMMEDIATE holds the write lock from the look-up to the insert, so two sends with one
        // key cannot both insert.
        Transaction tx(*this);
        auto result = insert_outbound_locked(m, now_ms);
        tx.commit();
        return result;
    }

    std::vector<OutboundResult> insert_outbound_batch(std::span<const OutboundMessage> messages,
                                                      std::int64_t now_ms) override {
        std::vector<OutboundResult> results(messages.size());
        std::lock_guard lock(mutex_);
        Transaction tx(*this);
        for (std::size_t i = 0; i < messages.size(); ++i) {
            try {
                auto [stored, created] = insert_outbound_locked(messages[i], now_ms);
                if (created && messages[i].announce) {
                    DomainSql statements(*this);
                    results[i].event = domain::announce_sent(statements, stored, messages[i].origin, now_ms);
                }
                results[i].message = std::move(stored);
                results[i].created = created;
            } catch (const std::invalid_argument& e) {  // nothing was written for it
                results[i].error = e.what();
            }
        }
        tx.commit();
        return results;
    }

    std::optional<Message> outbound_by_idempotency_key(std::string_view sender_id,
                                                       std::int64_t conversation_id,
                                                       std::string_view key) override {
        std::lock_guard lock(mutex_);
        return outbound_by_idempotency_key_locked(sender_id, conversation_id, key);
    }

    KeyClaim claim_idempotency_key(std::string_view sender_id, std::int64_t conversation_id,
                                   std::string_view key, std::string_view request_hash,
                                   std::int64_t now_ms) override {
        std::lock_guard lock(mutex_);
        // A claim must survive a crash of this process, which a WAL commit does without the
        // fsync; the message that completes it is committed with FULL.
        Relaxed relaxed(*this);
        Transaction tx(*this);
        Query insert = query(kClaimIdempotencyKey);
        insert.bind(1, sender_id)
            .bind(2, conversation_id)
            .bind(3, key)
            .bind(4, request_hash)
            .bind(5, now_ms)
            .run();
        KeyClaim claim;
        if (insert.changes() == 0) {
            Query q = query(kIdempotencyKey);
            q.bind(1, sender_id).bind(2, conversation_id).bind(3, key);
            if (!q.step()) fail(db_.get(), kIdempotencyKey.name);
            const std::string stored_hash = q.text(0);
            if (!stored_hash.empty() && stored_hash != request_hash) {
                claim.state = KeyClaim::State::mismatch;
            } else if (q.text(1) == "in_progress") {
                claim.state = KeyClaim::State::in_progress;
                claim.claimed_ms = q.integer(3);
            } else {
                claim.state = KeyClaim::State::done;
                Query m = query(kMessageById);
                m.bind(1, q.integer(2));
                if (m.step()) claim.message = read_message(m);
            }
        }
        tx.commit();
        return claim;
    }

    void release_idempotency_key(std::string_view sender_id, std::int64_t conversation_id,
                                 std::string_view key) override {
        std::lock_guard lock(mutex_);
        Relaxed relaxed(*this);
        query(kReleaseIdempotencyKey).bind(1, sender_id).bind(2, conversation_id).bind(3, key).run();
    }

    RetryClaim claim_retry(std::int64_t conversation_id, std::int64_t message_id, std::int64_t now_ms,
                           std::int64_t stale_before_ms) override {
        std::lock_guard lock(mutex_);
        Transaction tx(*this);
        RetryClaim claim;
        std::int64_t attempted_ms = 0;
        {
            Query q = query(kOutboundInConversation);
            q.bind(1, message_id).bind(2, conversation_id);
            if (!q.step()) return claim;
            claim.message = read_message(q);
            attempted_ms = q.integer(kAfterMessageColumns);
        }
        claim.state = retryable(*claim.message, attempted_ms, stale_before_ms)
                          ? RetryClaim::State::claimed
                          : RetryClaim::State::not_retryable;
        if (claim.state == RetryClaim::State::claimed)
            query(kMarkSending).bind(1, message_id).bind(2, now_ms).run();
        tx.commit();
        return claim;
    }

    std::optional<Message> settle_retry(std::int64_t message_id, const OutboundMessage& outcome) override {
        std::lock_guard lock(mutex_);
        Query q = query(kSettleRetry);
        q.bind(1, message_id).bind_or_null(2, outcome.platform_id).bind(3, outcome.status);
        q.bind(4, outcome.error_code).bind(5, outcome.error_message);
        if (!q.step()) return std::nullopt;
        return read_message(q);
    }

    StatusOutcome change_status(std::int64_t id, std::string_view status, std::string_view changed_by,
                                std::int64_t now_ms) override {
        return in_transaction([&](DomainSql& statements) {
            return domain::change_status(statements, id, status, changed_by, now_ms);
        });
    }

    UpdateOutcome update_conversation(std::int64_t id, const ConversationChange& change,
                                      std::string_view changed_by, std::int64_t now_ms) override {
        return in_transaction([&](DomainSql& statements) {
            return domain::update(statements, id, change, changed_by, now_ms);
        });
    }

    std::vector<Event> wake_snoozed(std::int64_t now_ms, int limit) override {
        return in_transaction(
            [&](DomainSql& statements) { return domain::wake_snoozed(statements, now_ms, limit); });
    }

    std::optional<Conversation> assign_conversation(std::int64_t id, std::string_view agent_id) override {
        std::lock_guard lock(mutex_);
        Query q = query(kAssignConversation);
        q.bind(1, id).bind_or_null(2, agent_id).run();
        return conversation_locked(id);
    }

    // --- events ---

    std::vector<Event> events_after(std::int64_t after_seq, int limit) override {
        std::vector<Event> events;
        if (limit < 1) return events;
        std::lock_guard lock(mutex_);
        Query q = query(kEventsAfter);
        q.bind(1, after_seq).bind(2, limit);
        while (q.step())
            events.push_back(
                Event{q.integer(0), q.text(1), q.integer(2), q.integer(3), q.text(4), q.text(5), q.text(6)});
        return events;
    }

    std::int64_t prune_events(std::int64_t before_ms) override {
        std::lock_guard lock(mutex_);
        Query q = query(kPruneEvents);
        q.bind(1, before_ms).run();
        return q.changes();
    }

    std::int64_t first_seq() override {
        std::lock_guard lock(mutex_);
        Query q = query(kFirstSeq);
        return q.step() ? q.integer(0) : 0;
    }

    // --- agents ---

    Agent create_agent(std::string_view name, std::string_view role, std::int64_t now_ms) override {
        Agent agent = domain::new_agent(name, role, now_ms);
        std::lock_guard lock(mutex_);
        Query q = query(kInsertAgent);
        q.bind(1, agent.id).bind(2, agent.name).bind(3, agent.role).bind(4, now_ms).run();
        return agent;
    }

    std::vector<Agent> agents() override {
        std::vector<Agent> out;
        std::lock_guard lock(mutex_);
        Query q = query(kAgents);
        while (q.step()) out.push_back(Agent{q.text(0), q.text(1), q.text(2), q.integer(3), q.text(4)});
        return out;
    }

    bool set_availability(std::string_view agent_id, std::string_view availability) override {
        domain::check_availability(availability);
        std::lock_guard lock(mutex_);
        query(kSetAvailability).bind(1, agent_id).bind(2, availability).run();
        return sqlite3_changes(db_.get()) > 0;
    }

    std::optional<std::vector<Event>> delete_agent(std::string_view id, std::string_view deleted_by,
                                                   std::int64_t now_ms) override {
        std::lock_guard lock(mutex_);
        Transaction tx(*this);
        DomainSql statements(*this);
        auto events = domain::delete_agent(statements, id, deleted_by, now_ms);
        if (events) tx.commit();
        return events;
    }

    std::optional<AgentToken> add_token(std::string_view agent_id, std::string_view token_hash,
                                        std::string_view label, std::int64_t now_ms,
                                        std::int64_t expires_ms) override {
        std::lock_guard lock(mutex_);
        DomainSql statements(*this);
        return domain::add_token(statements, domain::new_token(agent_id, label, now_ms, expires_ms),
                                 token_hash);
    }

    bool revoke_token(std::string_view agent_id, std::string_view token_id, std::int64_t now_ms) override {
        std::lock_guard lock(mutex_);
        Query q = query(kRevokeToken);
        q.bind(1, agent_id).bind(2, token_id).bind(3, now_ms).run();
        return q.changes() > 0;
    }

    std::vector<TokenGrant> active_tokens() override {
        std::vector<TokenGrant> out;
        std::lock_guard lock(mutex_);
        Query q = query(kActiveTokens);
        while (q.step())
            out.push_back(TokenGrant{q.text(0), q.text(1),
                                     Agent{q.text(2), q.text(3), q.text(4), q.integer(5)}, q.integer(6)});
        return out;
    }

    AssignOutcome assign(std::int64_t conversation_id, std::string_view agent_id,
                         std::optional<std::string> expected, std::string_view assigned_by,
                         std::int64_t now_ms) override {
        std::lock_guard lock(mutex_);
        Transaction tx(*this);
        DomainSql statements(*this);
        auto out = domain::assign(statements, conversation_id, agent_id, expected, assigned_by, now_ms);
        if (out.kind == AssignOutcome::Kind::assigned) tx.commit();
        return out;
    }

    std::vector<std::pair<std::string, int>> open_counts() override {
        std::vector<std::pair<std::string, int>> out;
        std::lock_guard lock(mutex_);
        Query q = query(kOpenCounts);
        while (q.step()) out.emplace_back(q.text(0), static_cast<int>(q.integer(1)));
        return out;
    }

    std::int64_t last_seq() override {
        std::lock_guard lock(mutex_);
        Query q = query(kLastSeq);
        return q.step() ? q.integer(0) : 0;
    }

private:
    // In the caller's transaction, with mutex_ held. A conversation that does not exist is
    // std::invalid_argument, before anything is written.
    std::pair<Message, bool> insert_outbound_locked(const OutboundMessage& m, std::int64_t now_ms) {
        if (!m.idempotency_key.empty()) {
            if (auto existing =
                    outbound_by_idempotency_key_locked(m.sender_id, m.conversation_id, m.idempotency_key))
                return {std::move(*existing), false};
        }
        std::string channel_id;
        {
            Query q = query(kConversationChannel);
            q.bind(1, m.conversation_id);
            if (!q.step())
                throw std::invalid_argument(fmt::format("conversation {} does not exist", m.conversation_id));
            channel_id = q.text(0);
        }
        Message stored;
        {
            Query q = query(kInsertOutbound);
            q.bind(1, m.conversation_id)
                .bind(2, channel_id)
                .bind_or_null(3, m.platform_id)
                .bind(4, m.sender_id);
            q.bind(5, m.sender_name).bind(6, m.content_json).bind(7, m.reply_to);
            q.bind(8, m.status.empty() ? std::string_view("sent") : std::string_view(m.status));
            q.bind(9, m.error_code).bind(10, now_ms).bind_or_null(11, m.idempotency_key);
            q.bind(12, m.error_message);
            q.bind_or_null(13, m.outbound_id);
            const std::string search_text = domain::message_search_text(m.content_json);
            q.bind(14, search_text);
            if (!q.step()) fail(db_.get(), kInsertOutbound.name);
            stored = read_message(q);
        }
        if (!m.idempotency_key.empty()) {
            query(kCompleteIdempotencyKey)
                .bind(1, m.sender_id)
                .bind(2, m.conversation_id)
                .bind(3, m.idempotency_key)
                .bind(4, stored.id)
                .run();
        }
        {
            Query q = query(kTouchConversation);
            q.bind(1, m.conversation_id).bind(2, now_ms).bind(3, stored.id).run();
        }
        return {std::move(stored), true};
    }

    // One FULL transaction of INSERTs (`sql`: kEnqueue or kEnqueueClaimed with its lease ?7).
    std::vector<std::int64_t> append(std::span<const InboundRequest> requests, const Sql& sql,
                                     std::int64_t lease_until_ms) {
        std::vector<std::int64_t> ids;
        ids.reserve(requests.size());
        std::lock_guard lock(mutex_);
        Transaction tx(*this);
        for (const auto& r : requests) {
            Query q = query(sql);
            q.bind(1, r.channel_id)
                .bind(2, r.method)
                .bind(3, r.target)
                .bind(4, r.headers)
                .bind_blob(5, r.body);
            q.bind(6, r.received_ms);
            if (lease_until_ms != 0) q.bind(7, lease_until_ms);
            q.run();
            ids.push_back(sqlite3_last_insert_rowid(db_.get()));
        }
        tx.commit();
        return ids;
    }

    // synchronous = NORMAL while it lives (WAL: a commit is durable after a process crash, and
    // after a power loss once a later FULL commit or checkpoint synced the log), FULL again after.
    class Relaxed {
    public:
        explicit Relaxed(SqliteStore& store) : store_(store) { store_.query(kSyncNormal).run(); }
        Relaxed(const Relaxed&) = delete;
        Relaxed& operator=(const Relaxed&) = delete;
        ~Relaxed() {  // never throws: a failure here leaves NORMAL, which the next FULL commit covers
            sqlite3_exec(store_.db_.get(), kSyncFull.text, nullptr, nullptr, nullptr);
        }

    private:
        SqliteStore& store_;
    };

    // BEGIN IMMEDIATE … COMMIT; rolls back if destroyed before commit() (an exception).
    // Runs a domain rule on this connection's statements in one write transaction, committed
    // when the rule returns (rolled back when it throws).
    class DomainSql;
    template <typename Rule>
    std::invoke_result_t<Rule&, DomainSql&> in_transaction(Rule&& rule) {
        std::lock_guard lock(mutex_);
        Transaction tx(*this);
        DomainSql statements(*this);
        auto out = rule(statements);
        tx.commit();
        return out;
    }

    class Transaction {
    public:
        explicit Transaction(SqliteStore& store) : store_(store) { store_.query(kBegin).run(); }
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;
        ~Transaction() {
            if (!sqlite3_get_autocommit(store_.db_.get()))
                sqlite3_exec(store_.db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        }
        void commit() { store_.query(kCommit).run(); }

    private:
        SqliteStore& store_;
    };

    // The cached statement for `sql`, prepared on first use. SQLite re-prepares it by itself
    // if the schema changes (migrate()).
    // SearchTerms as an FTS5 query, every word a term and the terms an AND (rules.hpp): a word of
    // one character as itself; of two or three as a prefix ("ord"*, which the prefix indexes
    // serve); a longer one as the indexed words it begins, an OR ("order" OR "orders"), when
    // there are at most kMaxExpansion of them (see migration 16), else as a prefix.
    std::string fts5_match_locked(const SearchTerms& terms) {
        constexpr int kMaxExpansion = 32;
        return search_query(
            terms,
            [&](const std::string& w) {
                if (!match_as_prefix(w)) return fts5_phrase(w);
                if (utf8_characters(w) <= 3) return fts5_phrase(w) + "*";
                Query q = query(kVocabularyRange);
                const std::string end = w + '\xff';
                q.bind(1, w).bind(2, end).bind(3, kMaxExpansion + 1);
                std::vector<std::string> words;
                while (q.step()) words.push_back(q.text(0));
                if (words.size() > static_cast<std::size_t>(kMaxExpansion)) return fts5_phrase(w) + "*";
                if (words.empty()) return fts5_phrase(w);  // no row holds a word beginning with it
                std::string either = "(";
                for (const auto& word : words) {
                    if (either.size() > 1) either += " OR ";
                    either += fts5_phrase(word);
                }
                return either + ')';
            },
            " AND ", " OR ");
    }

    // For the list with q=: the conversations an FTS5 query matches (by their title and contact,
    // or by a message) as a JSON array of ids, or nullopt when it matches more than
    // list_match_bound_ messages or ten times as many conversations (see kConversationsAmong).
    std::optional<std::string> matching_conversations_locked(const std::string& match) {
        Query count = query(kCountMessageMatches);
        count.bind(1, match).bind(2, list_match_bound_ + 1);
        if (!count.step() || count.integer(0) > list_match_bound_) return std::nullopt;
        std::string ids = "[";
        auto add = [&](std::int64_t id) {
            if (ids.size() > 1) ids += ',';
            ids += std::to_string(id);
        };
        // Conversations are matched by their own index (no message to look up per match), so ten
        // times as many are collected before walking pays.
        const int conversation_bound = 10 * list_match_bound_;
        Query conversations = query(kConversationMatches);
        conversations.bind(1, match).bind(2, conversation_bound + 1);
        int matched = 0;
        while (conversations.step()) {
            if (++matched > conversation_bound) return std::nullopt;
            add(conversations.integer(0));
        }
        Query messages = query(kMessageMatchConversations);
        messages.bind(1, match);
        while (messages.step()) add(messages.integer(0));
        return ids + ']';
    }

    Query query(const Sql& sql) {
        auto it = statements_.find(&sql);
        if (it == statements_.end()) {
            sqlite3_stmt* raw = nullptr;
            if (sqlite3_prepare_v3(db_.get(), sql.text, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) !=
                SQLITE_OK)
                fail(db_.get(), sql.name);
            it = statements_.emplace(&sql, StmtHandle(raw)).first;
        }
        return Query(db_.get(), it->second.get(), sql);
    }

    void exec(const std::string& sql, std::string_view what) {
        char* error = nullptr;
        if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
            std::string message = error ? error : sqlite3_errmsg(db_.get());
            sqlite3_free(error);
            throw StoreError(fmt::format("SQLite {} on {}: {}", what, path_, message));
        }
    }
    void exec_setup(const char* pragma) { exec(pragma, pragma); }

    std::optional<Conversation> conversation_locked(std::int64_t id) {
        Query q = query(kConversationById);
        q.bind(1, id);
        if (!q.step()) return std::nullopt;
        return read_conversation(q);
    }

    std::optional<Conversation> conversation_for_locked(std::int64_t id, std::string_view reader) {
        Query q = query(kConversationForReader);
        q.bind(1, id).bind(2, reader);
        if (!q.step()) return std::nullopt;
        return read_conversation_for_reader(q);
    }
    std::optional<MediaRecord> insert_media_locked(const MediaRecord& media) {
        Query q = query(kInsertMedia);
        q.bind(1, media.origin)
            .bind(2, media.message_id)
            .bind(3, media.conversation_id)
            .bind(4, media.channel_id)
            .bind(5, media.state)
            .bind(6, media.mime_type)
            .bind(7, media.size)
            .bind(8, media.file_name)
            .bind(9, media.sha256)
            .bind(10, media.source_json)
            .bind(11, media.uploaded_by)
            .bind(12, media.next_attempt_ms)
            .bind(13, media.created_ms);
        if (!q.step()) return std::nullopt;
        return read_media(q);
    }

    std::optional<Message> message_by_platform_id_locked(std::string_view channel_id,
                                                         std::string_view platform_id) {
        Query q = query(kMessageByPlatformId);
        q.bind(1, channel_id).bind(2, platform_id);
        if (!q.step()) return std::nullopt;
        return read_message(q);
    }

    std::optional<Message> outbound_by_idempotency_key_locked(std::string_view sender_id,
                                                              std::int64_t conversation_id,
                                                              std::string_view key) {
        Query q = query(kMessageByIdempotencyKey);
        q.bind(1, sender_id).bind(2, conversation_id).bind(3, key);
        if (!q.step()) return std::nullopt;
        return read_message(q);
    }

    // The domain rules' statements (domain/statements.hpp) on this connection, inside the
    // caller's transaction and under its lock.
    class DomainSql final : public domain::Statements {
    public:
        explicit DomainSql(SqliteStore& store) : s_(store) {}

        domain::StoredIdentity upsert_contact(std::string_view channel_id, const sb::events::Party& sender,
                                              std::int64_t now_ms) override {
            Query q = s_.query(kUpsertContact);
            q.bind(1, channel_id).bind(2, sender.id).bind(3, sender.name).bind(4, sender.username);
            q.bind(5, sender.phone).bind(6, now_ms);
            if (!q.step()) fail(s_.db_.get(), kUpsertContact.name);
            return {read_identity(q), q.text(8)};
        }
        domain::StoredConversation upsert_conversation(std::string_view channel_id,
                                                       const sb::events::NormalizedEvent& ev,
                                                       std::optional<std::int64_t> contact_id,
                                                       std::int64_t now_ms) override {
            Query q = s_.query(kUpsertConversation);
            q.bind(1, channel_id).bind(2, ev.conversation_id).bind(3, ev.conversation_kind);
            q.bind(4, ev.conversation_title).bind(6, now_ms);
            if (contact_id) q.bind(5, *contact_id);  // else stays NULL
            if (!q.step()) fail(s_.db_.get(), kUpsertConversation.name);
            return {q.integer(0), q.text(1), q.text(2), q.integer(3), q.text(4)};
        }
        void set_contact_search_text(std::int64_t contact_id, std::string_view text) override {
            s_.query(kSetContactSearchText).bind(1, contact_id).bind(2, text).run();
        }
        void set_conversation_search_text(std::int64_t conversation_id, std::string_view text) override {
            s_.query(kSetConversationSearchText).bind(1, conversation_id).bind(2, text).run();
        }
        std::int64_t insert_person(std::int64_t now_ms) override {
            Query q = s_.query(kInsertPerson);
            q.bind(1, now_ms);
            if (!q.step()) fail(s_.db_.get(), kInsertPerson.name);
            return q.integer(0);
        }
        void set_identity_person(std::int64_t identity_id, std::int64_t person_id) override {
            s_.query(kSetIdentityPerson).bind(1, identity_id).bind(2, person_id).run();
        }
        void set_identity_phone_digits(std::int64_t identity_id, std::string_view digits) override {
            s_.query(kSetIdentityPhoneDigits).bind(1, identity_id).bind(2, digits).run();
        }
        std::optional<Person> lock_person(std::int64_t id) override {  // the one writer holds every row
            Query q = s_.query(kPersonById);
            q.bind(1, id);
            if (!q.step()) return std::nullopt;
            return read_person(q);
        }
        void save_person(const Person& p, std::string_view search_text) override {
            Query q = s_.query(kSavePerson);
            q.bind(1, p.id)
                .bind(2, p.name)
                .bind(3, p.email)
                .bind(4, p.phone)
                .bind(5, p.company)
                .bind(6, p.notes);
            q.bind(7, p.attributes_json)
                .bind(8, p.merged_into)
                .bind(9, p.updated_ms)
                .bind(10, search_text)
                .run();
        }
        std::vector<Identity> identities(std::int64_t person_id, bool first) override {
            std::vector<Identity> out;
            Query q = s_.query(first ? kIdentitiesFirstOf : kIdentitiesOf);
            q.bind(1, person_id);
            while (q.step()) out.push_back(read_identity(q));
            return out;
        }
        std::vector<std::int64_t> merged_into(std::int64_t person_id) override {
            std::vector<std::int64_t> out;
            Query q = s_.query(kMergedInto);
            q.bind(1, person_id);
            while (q.step()) out.push_back(q.integer(0));
            return out;
        }
        std::vector<std::pair<std::int64_t, std::string>> person_conversations(
            std::int64_t person_id) override {
            std::vector<std::pair<std::int64_t, std::string>> out;
            Query q = s_.query(kPersonConversations);
            q.bind(1, person_id);
            while (q.step()) out.emplace_back(q.integer(0), q.text(1));
            return out;
        }
        std::vector<std::int64_t> visible_people(std::string_view visible_to, std::int64_t before_id,
                                                 int limit) override {
            std::vector<std::int64_t> out;
            Query q = s_.query(kVisiblePeople);
            q.bind(1, visible_to).bind(2, before_id == 0 ? kMaxInt64 : before_id).bind(3, limit);
            while (q.step()) out.push_back(q.integer(0));
            return out;
        }
        std::vector<MergeSuggestion> people_sharing_a_phone(int limit) override {
            std::vector<MergeSuggestion> out;
            Query q = s_.query(kPeopleSharingAPhone);
            q.bind(1, limit);
            while (q.step()) out.push_back({q.integer(0), q.integer(1), q.text(2)});
            return out;
        }
        std::vector<ContactAttribute> contact_attributes() override {
            std::vector<ContactAttribute> out;
            Query q = s_.query(kContactAttributes);
            while (q.step()) out.push_back({q.text(0), q.text(1), q.text(2), q.integer(3)});
            return out;
        }
        bool insert_contact_attribute(const ContactAttribute& a) override {
            Query q = s_.query(kInsertContactAttribute);
            q.bind(1, a.key).bind(2, a.type).bind(3, a.label).bind(4, a.created_ms);
            return q.step();
        }
        bool delete_contact_attribute(std::string_view key) override {
            Query q = s_.query(kDeleteContactAttribute);
            q.bind(1, key).run();
            return q.changes() > 0;
        }
        std::optional<std::int64_t> insert_message(const Message& m) override {
            Query q = s_.query(kInsertMessage);
            q.bind(1, m.conversation_id)
                .bind(2, m.channel_id)
                .bind_or_null(3, m.platform_id)
                .bind(4, m.direction);
            q.bind(5, m.sender_id).bind(6, m.sender_name).bind(7, m.content_json).bind(8, m.reply_to);
            q.bind(9, m.status).bind(10, m.platform_ts_ms).bind(11, m.created_ms).bind(12, m.kind);
            const std::string search_text = domain::message_search_text(m.content_json);
            q.bind(13, search_text);
            if (!q.step()) return std::nullopt;
            return q.integer(0);
        }
        std::optional<Message> complete_outbound(std::string_view channel_id, std::string_view outbound_id,
                                                 std::string_view platform_id) override {
            Query q = s_.query(kCompleteByOutboundId);
            q.bind(1, channel_id).bind(2, outbound_id).bind(3, platform_id);
            if (!q.step()) return std::nullopt;
            return read_message(q);
        }
        void touch_conversation(std::int64_t conversation_id, std::int64_t now_ms,
                                std::int64_t message_id) override {
            Query q = s_.query(kTouchConversation);
            q.bind(1, conversation_id).bind(2, now_ms);
            if (message_id != 0) q.bind(3, message_id);  // else NULL
            q.run();
        }
        std::optional<Conversation> conversation(std::int64_t id) override {
            return s_.conversation_locked(id);
        }
        std::optional<Message> message_by_platform_id(std::string_view channel_id,
                                                      std::string_view platform_id) override {
            return s_.message_by_platform_id_locked(channel_id, platform_id);
        }
        std::vector<MediaRecord> settled_media_before(std::int64_t before_ms, int limit) override {
            std::vector<MediaRecord> out;
            Query q = s_.query(kExpiredMedia);
            q.bind(1, before_ms).bind(2, limit);
            while (q.step()) out.push_back(read_media(q));
            return out;
        }
        void delete_media(std::int64_t id) override { s_.query(kDeleteMedia).bind(1, id).run(); }
        bool media_names(std::string_view sha256) override {
            Query q = s_.query(kMediaNamingSha);
            q.bind(1, sha256);
            return q.step();
        }
        std::optional<Message> message_by_id(std::int64_t message_id) override {
            Query q = s_.query(kMessageById);
            q.bind(1, message_id);
            if (!q.step()) return std::nullopt;
            return read_message(q);
        }
        std::vector<Message> outbound_up_to(std::string_view channel_id,
                                            std::string_view conversation_platform_id,
                                            std::int64_t watermark_ms) override {
            std::vector<Message> sent;
            Query q = s_.query(kOutboundUpTo);
            q.bind(1, channel_id).bind(2, conversation_platform_id).bind(3, watermark_ms);
            while (q.step()) sent.push_back(read_message(q));
            return sent;
        }
        void update_message_content(const Message& m) override {
            Query q = s_.query(kUpdateMessageContent);
            const std::string search_text = domain::message_search_text(m.content_json);
            q.bind(1, m.id).bind(2, m.content_json).bind(3, m.edited_ms).bind(4, search_text).run();
        }
        void update_message_status(const Message& m) override {
            Query q = s_.query(kUpdateMessageStatus);
            q.bind(1, m.id).bind(2, m.status).bind(3, m.error_code).run();
        }
        void update_message_reactions(const Message& m) override {
            Query q = s_.query(kUpdateMessageReactions);
            q.bind(1, m.id).bind(2, m.reactions_json).run();
        }
        std::optional<std::string> lock_assignee(std::int64_t conversation_id) override {
            Query q = s_.query(kAssigneeOf);  // the connection's one writer holds every row
            q.bind(1, conversation_id);
            if (!q.step()) return std::nullopt;
            return q.text(0);
        }
        bool agent_exists(std::string_view agent_id) override {
            Query q = s_.query(kAgentById);
            q.bind(1, agent_id);
            return q.step();
        }
        bool delete_agent(std::string_view agent_id, std::int64_t now_ms) override {
            Query q = s_.query(kDeleteAgent);
            q.bind(1, agent_id).bind(2, now_ms).run();
            return q.changes() > 0;
        }
        void revoke_agent_tokens(std::string_view agent_id, std::int64_t now_ms) override {
            s_.query(kRevokeAgentTokens).bind(1, agent_id).bind(2, now_ms).run();
        }
        void insert_token(const AgentToken& token, std::string_view token_hash) override {
            Query q = s_.query(kInsertToken);
            q.bind(1, token.id).bind(2, token.agent_id).bind(3, token_hash).bind(4, token.label);
            q.bind(5, token.created_ms).bind(6, token.expires_ms).run();
        }
        std::vector<std::int64_t> assigned_to(std::string_view agent_id) override {
            std::vector<std::int64_t> out;
            Query q = s_.query(kAssignedTo);
            q.bind(1, agent_id);
            while (q.step()) out.push_back(q.integer(0));
            return out;
        }
        void set_assignee(std::int64_t conversation_id, std::string_view agent_id) override {
            s_.query(kAssignConversation).bind(1, conversation_id).bind_or_null(2, agent_id).run();
        }
        void set_status(std::int64_t conversation_id, std::string_view status,
                        std::int64_t snoozed_until_ms) override {
            s_.query(kSetConversationStatus)
                .bind(1, conversation_id)
                .bind(2, status)
                .bind(3, snoozed_until_ms)
                .run();
        }
        void set_priority(std::int64_t conversation_id, std::string_view priority) override {
            s_.query(kSetPriority).bind(1, conversation_id).bind(2, priority).run();
        }
        void set_blocked(std::int64_t conversation_id, std::int64_t blocked_ms) override {
            s_.query(kSetBlocked).bind(1, conversation_id).bind(2, blocked_ms).run();
        }
        std::vector<std::int64_t> snoozed_due(std::int64_t now_ms, int limit) override {
            std::vector<std::int64_t> ids;
            Query q = s_.query(kSnoozedDue);  // the connection's one writer holds every row
            q.bind(1, now_ms).bind(2, limit);
            while (q.step()) ids.push_back(q.integer(0));
            return ids;
        }
        std::optional<Conversation> conversation_for(std::int64_t id, std::string_view reader) override {
            return s_.conversation_for_locked(id, reader);
        }
        bool label_exists(std::string_view name) override {
            Query q = s_.query(kLabelExists);
            q.bind(1, name);
            return q.step();
        }
        bool add_label(std::int64_t conversation_id, std::string_view name) override {
            Query q = s_.query(kAddLabel);
            q.bind(1, conversation_id).bind(2, name).run();
            return q.changes() > 0;
        }
        bool remove_label(std::int64_t conversation_id, std::string_view name) override {
            Query q = s_.query(kRemoveLabel);
            q.bind(1, conversation_id).bind(2, name).run();
            return q.changes() > 0;
        }
        bool message_in(std::int64_t conversation_id, std::int64_t message_id) override {
            Query q = s_.query(kMessageIn);
            q.bind(1, conversation_id).bind(2, message_id);
            return q.step();
        }
        std::int64_t newest_message(std::int64_t conversation_id, bool inbound_only,
                                    std::int64_t below) override {
            Query q = s_.query(inbound_only ? kNewestInbound : kNewestMessage);
            q.bind(1, conversation_id).bind(2, below != 0 ? below : kMaxInt64);
            return q.step() ? q.integer(0) : 0;
        }
        std::int64_t read_position(std::int64_t conversation_id, std::string_view agent_id) override {
            Query q = s_.query(kReadPosition);
            q.bind(1, conversation_id).bind(2, agent_id);
            return q.step() ? q.integer(0) : 0;
        }
        void set_read_position(std::int64_t conversation_id, std::string_view agent_id,
                               std::int64_t message_id, std::int64_t now_ms) override {
            Query q = s_.query(kSetReadPosition);
            q.bind(1, conversation_id).bind(2, agent_id).bind(3, message_id).bind(4, now_ms).run();
        }
        // The store's mutex and the caller's transaction hold every other writer off already.
        std::optional<CannedReply> lock_canned_reply(std::int64_t id) override {
            Query q = s_.query(kCannedReply);
            q.bind(1, id);
            if (!q.step()) return std::nullopt;
            return read_canned(q);
        }
        bool canned_shortcode_taken(const CannedReply& reply) override {
            Query q = s_.query(kCannedShortcodeTaken);
            q.bind(1, reply.scope).bind(2, reply.owner_id).bind(3, reply.shortcode).bind(4, reply.id);
            return q.step();
        }
        void save_canned_reply(const CannedReply& reply) override {
            Query q = s_.query(kSaveCannedReply);
            q.bind(1, reply.id).bind(2, reply.shortcode).bind(3, reply.text).bind(4, reply.updated_ms).run();
        }
        using Statements::append_event;
        Event append_event(std::string_view type, std::int64_t conversation_id, const std::string& data,
                           std::int64_t now_ms, const std::optional<std::string>& audience,
                           std::string_view origin) override {
            Query q = s_.query(kInsertEvent);
            q.bind(1, type).bind(2, conversation_id).bind(3, now_ms).bind(4, data);
            if (audience)
                q.bind(5, *audience);
            else
                q.bind_or_null(5, std::string_view());
            q.bind(6, origin);
            if (!q.step()) fail(s_.db_.get(), kInsertEvent.name);
            return Event{q.integer(0), std::string(type), conversation_id,    now_ms,
                         data,         q.text(1),         std::string(origin)};
        }

    private:
        SqliteStore& s_;
    };
    std::string path_;
    int list_match_bound_;
    std::mutex mutex_;
    // Before db_: the connection's WAL hook points at it until the connection is closed.
    std::unique_ptr<Checkpointer> checkpointer_;
    DbHandle db_;
    // Declared after db_ so the statements are finalized before the connection closes.
    std::unordered_map<const Sql*, StmtHandle> statements_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite(const std::string& path, Tuning tuning) {
    return std::make_unique<SqliteStore>(path, tuning);
}

}  // namespace sb::store
