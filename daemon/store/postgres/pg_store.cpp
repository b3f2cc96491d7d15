// The production store: PostgreSQL through libpqxx, shared by any number of daemons.
//
// A fixed pool of connections, each with every statement below prepared on it (libpqxx
// registers them lazily, on first use). A call checks a connection out, blocking while all are
// busy, and gives it back when done. A connection that broke is dropped and made anew on a
// later checkout, so the store recovers by itself when the database returns. Behaviour is the
// SQLite backend's, statement for statement (sqlite_store.cpp); what differs is said where it
// differs: queue claims skip rows other instances hold (FOR UPDATE SKIP LOCKED), and event
// sequence numbers may become visible out of order (events_after).

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <type_traits>
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
#include "store/postgres/event_log.hpp"
#include "store/postgres/schema.hpp"
#include "store/rules.hpp"
#include "store/store.hpp"

namespace sb::store {
namespace {

// A statement and the name it is prepared under, which error messages also give.
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
#define SB_CONVERSATION_COLUMNS                                                                             \
    "c.id, c.channel_id, c.platform_id, c.kind, c.title, ct.platform_id, ct.name, ct.username, "            \
    "c.status, c.assignee_id, c.created_ms, c.last_activity_ms, c.snoozed_until_ms, c.priority, "           \
    "a.name, (SELECT string_agg(l.label, ',') FROM conversation_labels l WHERE l.conversation_id = c.id), " \
    "lm.id, lm.direction, lm.sender_id, lm.sender_name, lm.content_json, lm.created_ms, c.blocked_ms, "     \
    "ct.phone, coalesce(ct.person_id, 0), coalesce(nullif(p.name, ''), ct.name, '')"
#define SB_CONVERSATION_JOINS                                                                    \
    " LEFT JOIN contacts ct ON ct.id = c.contact_id LEFT JOIN agents a ON a.id = c.assignee_id " \
    "LEFT JOIN messages lm ON lm.id = c.last_message_id LEFT JOIN people p ON p.id = ct.person_id "
#define SB_CONVERSATION_FROM " FROM conversations c" SB_CONVERSATION_JOINS
// The reader's read state (AGENT: its parameter; "" = none): its position and the customer's
// messages after it, counted in messages_inbound. Subqueries, not a LEFT JOIN of
// conversation_reads: as a seventh relation of the join it doubled the planning of every list
// statement (≈ 2 ms → 1 ms in EXPLAIN at 100k conversations, more than executing the page);
// the price is a second primary-key look-up per row.
#define SB_READ_POSITION(AGENT)                                                                \
    "(SELECT r.last_read_message_id FROM conversation_reads r WHERE r.conversation_id = c.id " \
    "AND r.agent_id = " AGENT "::text)"
#define SB_READER_COLUMNS(AGENT) \
    ", " SB_READ_POSITION(AGENT) ", (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id " \
                                 "AND m.direction = 'in' AND m.kind = 'message' AND m.id > coalesce(" \
        SB_READ_POSITION(AGENT) ", 0))"

// --- schema (run as plain SQL: DDL cannot be prepared) ---
constexpr Sql kLockMigrations{"lock_migrations", "SELECT pg_advisory_xact_lock($1)"};
constexpr Sql kCreateSchemaVersion{
    "create_schema_version",
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"};
constexpr Sql kSchemaVersion{"schema_version", "SELECT coalesce(max(version), 0) FROM schema_version"};
constexpr Sql kRecordVersion{"record_version", "INSERT INTO schema_version (version) VALUES ($1)"};

// --- inbound queue ---
constexpr Sql kEnqueue{"enqueue",
                       "INSERT INTO inbound_queue (channel_id, method, target, headers, body, received_ms, "
                       "available_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id"};
// SKIP LOCKED: rows another instance is claiming right now are passed over instead of waited
// for. A row whose claim committed meanwhile is re-checked against the WHERE clause when
// locked, and its fresh lease excludes it. `state <> 'dead'` lets the planner walk the
// partial index inbound_queue_live.
constexpr Sql kClaim{
    "claim",
    "UPDATE inbound_queue SET state = 'claimed', attempts = attempts + 1, lease_until_ms = $2 "
    "WHERE id IN (SELECT id FROM inbound_queue q WHERE state <> 'dead' AND "
    "((state = 'queued' AND available_at_ms <= $1) OR (state = 'claimed' AND lease_until_ms < $1)) "
    "AND NOT EXISTS (SELECT 1 FROM inbound_queue o WHERE o.state = 'claimed' "
    "AND o.channel_id = q.channel_id AND o.lease_until_ms >= $1) "
    "ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) "
    "RETURNING " SB_QUEUE_COLUMNS};
// Taken before kClaim in its transaction: claims of all instances run one at a time, so each
// sees the others' committed leases and two never take rows of one channel at once. (The
// UPDATE's snapshot is taken after the lock is granted.) Two int4 keys, as for idempotency.
constexpr Sql kLockClaims{"lock_claims",
                          "SELECT pg_advisory_xact_lock(hashtext('switchboard'), hashtext('claim'))"};
// $4: the claim (attempts) the caller holds; 0 = unchecked.
constexpr Sql kRelease{"release",
                       "UPDATE inbound_queue SET state = 'queued', available_at_ms = $2, lease_until_ms = 0, "
                       "last_error = $3 WHERE id = $1 AND state <> 'dead' "
                       "AND ($4 = 0 OR (state = 'claimed' AND attempts = $4))"};
constexpr Sql kDeadLetter{
    "dead_letter",
    "UPDATE inbound_queue SET state = 'dead', last_error = $2, failed_ms = $3, "
    "lease_until_ms = 0 WHERE id = $1 AND ($4 = 0 OR (state = 'claimed' AND attempts = $4))"};
constexpr Sql kDeadLetters{"dead_letters", "SELECT " SB_QUEUE_COLUMNS
                                           ", last_error, failed_ms FROM inbound_queue "
                                           "WHERE state = 'dead' ORDER BY id LIMIT $1"};
constexpr Sql kReplayDeadLetter{
    "replay_dead_letter",
    "UPDATE inbound_queue SET state = 'queued', attempts = 0, available_at_ms = $2, "
    "lease_until_ms = 0, failed_ms = 0 WHERE id = $1 AND state = 'dead'"};
constexpr Sql kQueueDepth{"queue_depth", "SELECT count(*) FROM inbound_queue WHERE state <> 'dead'"};
constexpr Sql kOldestQueued{"oldest_queued",
                            "SELECT coalesce((SELECT received_ms FROM inbound_queue WHERE state <> 'dead' "
                            "ORDER BY id LIMIT 1), 0)"};
// The fence: only the current claim ($2 = its attempts), within its lease ($3 = now), may
// consume the row; 0 = unchecked. Run before the row's events are applied: it also locks the
// row, so a worker that took the row over meanwhile and this one cannot both apply it.
constexpr Sql kTakeQueueRow{"take_queue_row",
                            "DELETE FROM inbound_queue WHERE id = $1 "
                            "AND ($2 = 0 OR (state = 'claimed' AND attempts = $2 AND lease_until_ms >= $3))"};
// The channels an apply() writes to, locked up front in one order (sorted): two transactions
// whose batches touch the same conversations and contacts (a takeover, events routed to
// another channel) wait for each other instead of deadlocking. One lock per channel, so a
// large batch never fills the server's lock table. $1: the channel ids, newline-separated; a
// hash collision only serializes.
constexpr Sql kLockApplyKeys{
    "lock_apply_keys",
    "SELECT count(pg_advisory_xact_lock(h1, h2)) FROM (SELECT DISTINCT hashtext('switchboard') AS h1, "
    "hashtext(k) AS h2 FROM unnest(string_to_array($1::text, E'\\n')) AS k ORDER BY 1, 2) AS s"};

// --- apply ---
// Empty strings mean "not given" and never overwrite what is known.
constexpr Sql kUpsertContact{
    "upsert_contact",
    "INSERT INTO contacts AS t (channel_id, platform_id, name, username, phone, created_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel_id, platform_id) DO UPDATE SET "
    "name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE t.name END, "
    "username = CASE WHEN excluded.username <> '' THEN excluded.username ELSE t.username END, "
    "phone = CASE WHEN excluded.phone <> '' THEN excluded.phone ELSE t.phone END "
    "RETURNING id, channel_id, platform_id, name, username, phone, created_ms, coalesce(person_id, 0), "
    "search_text"};
// The first customer who writes becomes the conversation's contact.
constexpr Sql kUpsertConversation{
    "upsert_conversation",
    "INSERT INTO conversations AS t (channel_id, platform_id, kind, title, contact_id, created_ms, "
    "last_activity_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (channel_id, platform_id) DO UPDATE SET "
    "kind = CASE WHEN excluded.kind <> '' THEN excluded.kind ELSE t.kind END, "
    "title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE t.title END, "
    "contact_id = coalesce(t.contact_id, excluded.contact_id) "
    "RETURNING id, status, title, coalesce(contact_id, 0), search_text"};
// What a contact and a conversation are found by (domain/search.hpp).
constexpr Sql kSetContactSearchText{"set_contact_search_text",
                                    "UPDATE contacts SET search_text = $2 WHERE id = $1"};
constexpr Sql kSetConversationSearchText{"set_conversation_search_text",
                                         "UPDATE conversations SET search_text = $2 WHERE id = $1"};
constexpr Sql kInsertMessage{
    "insert_message",
    "INSERT INTO messages (conversation_id, channel_id, platform_id, direction, sender_id, "
    "sender_name, content_json, reply_to, status, platform_ts_ms, created_ms, kind, search_text) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
    "ON CONFLICT (channel_id, platform_id) DO NOTHING RETURNING id"};
// $3: the message just stored (NULL: none, or a note): the newest becomes the last message
// (greatest() passes over NULLs).
constexpr Sql kTouchConversation{
    "touch_conversation",
    "UPDATE conversations SET last_activity_ms = greatest(last_activity_ms, $2), "
    "last_message_id = greatest(last_message_id, $3::bigint) WHERE id = $1"};
constexpr Sql kUpdateMessageContent{
    "update_message_content",
    "UPDATE messages SET content_json = $2, edited_ms = $3, search_text = $4 WHERE id = $1"};
constexpr Sql kUpdateMessageReactions{"update_message_reactions",
                                      "UPDATE messages SET reactions_json = $2 WHERE id = $1"};
constexpr Sql kUpdateMessageStatus{"update_message_status",
                                   "UPDATE messages SET status = $2, error_code = $3 WHERE id = $1"};
// The audience is the conversation's assignee at the time ('' while unassigned), unless given.
constexpr Sql kInsertEvent{
    "insert_event",
    "INSERT INTO events (type, conversation_id, created_ms, data_json, audience, origin) "
    "VALUES ($1, $2, $3, $4, coalesce($5::text, (SELECT assignee_id FROM conversations "
    "WHERE id = $2), ''), $6) RETURNING seq, audience"};

// --- media (issue 16) ---
#define SB_MEDIA_COLUMNS                                                                              \
    "id, origin, coalesce(message_id, 0), conversation_id, channel_id, state, error, error_message, " \
    "mime_type, size, file_name, sha256, source_json, uploaded_by, attempts, next_attempt_ms, "       \
    "created_ms, updated_ms"
constexpr Sql kInsertMedia{
    "insert_media",
    "INSERT INTO media (origin, message_id, conversation_id, channel_id, state, mime_type, size, file_name, "
    "sha256, source_json, uploaded_by, next_attempt_ms, created_ms, updated_ms) "
    "VALUES ($1, nullif($2::bigint, 0), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) "
    "ON CONFLICT DO NOTHING RETURNING " SB_MEDIA_COLUMNS};
constexpr Sql kMediaById{"media_by_id", "SELECT " SB_MEDIA_COLUMNS " FROM media WHERE id = $1"};
// SKIP LOCKED: instances sharing the database claim different rows.
constexpr Sql kClaimMedia{
    "claim_media",
    "UPDATE media SET attempts = attempts + 1, next_attempt_ms = $2 WHERE id IN "
    "(SELECT id FROM media WHERE state = 'pending' AND next_attempt_ms <= $1 "
    "ORDER BY next_attempt_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING " SB_MEDIA_COLUMNS};
constexpr Sql kRetryMedia{"retry_media",
                          "UPDATE media SET next_attempt_ms = $2, error_message = $3 "
                          "WHERE id = $1 AND state = 'pending'"};
constexpr Sql kSettleMedia{
    "settle_media",
    "UPDATE media SET state = $2, error = $3, error_message = $4, mime_type = $5, size = $6, "
    "file_name = $7, sha256 = $8, updated_ms = $9 WHERE id = $1"};

// SKIP LOCKED: instances running retention at once take different rows.
constexpr Sql kExpiredMedia{"settled_media_before",
                            "SELECT " SB_MEDIA_COLUMNS
                            " FROM media WHERE created_ms < $1 AND state <> 'pending' "
                            "ORDER BY created_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED"};
constexpr Sql kDeleteMedia{"delete_media", "DELETE FROM media WHERE id = $1"};
constexpr Sql kMediaNamingSha{"media_naming_sha256", "SELECT 1 FROM media WHERE sha256 = $1 LIMIT 1"};

// --- conversations and messages ---
constexpr Sql kConversationById{"conversation_by_id",
                                "SELECT " SB_CONVERSATION_COLUMNS SB_CONVERSATION_FROM "WHERE c.id = $1"};
constexpr Sql kConversationByPlatformId{"conversation_by_platform_id",
                                        "SELECT " SB_CONVERSATION_COLUMNS SB_CONVERSATION_FROM
                                        "WHERE c.channel_id = $1 AND c.platform_id = $2"};
// The list filters every list statement applies, with the same parameters: $3 one status
// ('' = not one), $4 channel, $6 visible_to ('' = everything; an agent: its own and the
// unassigned ones), $7 several statuses as ",a,b," ('' = not several), $8 label, $9 priority.
#define SB_LIST_FILTERS                                                                                 \
    "AND ($3::text = '' OR c.status = $3::text) AND ($4::text = '' OR c.channel_id = $4::text) "        \
    "AND ($6::text = '' OR c.assignee_id IS NULL OR c.assignee_id = $6::text) "                         \
    "AND ($7::text = '' OR strpos($7::text, ',' || c.status || ',') > 0) "                              \
    "AND ($9::text = '' OR c.priority = $9::text) "                                                     \
    "AND ($8::text = '' OR EXISTS (SELECT 1 FROM conversation_labels l WHERE l.conversation_id = c.id " \
    "AND l.label = $8::text)) "
// Keyset pagination with no assignee or visibility restriction (an admin's lists): the
// row-value comparison lets the planner seek conversations_activity. $1, $2 the cursor; $5
// the limit; $10 the reader.
constexpr Sql kConversationsPage{
    "conversations_page", "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS("$10") SB_CONVERSATION_FROM
    "WHERE (c.last_activity_ms, c.id) < ($1::bigint, $2::bigint) " SB_LIST_FILTERS
    "ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT $5"};
// assignee=<agent> ($11) and assignee=unassigned seek conversations_assignee_activity instead of
// walking the whole activity index for the few rows that match.
constexpr Sql kConversationsAssignedTo{
    "conversations_assigned_to",
    "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS("$10") SB_CONVERSATION_FROM
    "WHERE c.assignee_id = $11::text AND (c.last_activity_ms, c.id) < ($1::bigint, "
    "$2::bigint) " SB_LIST_FILTERS "ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT $5"};
// "ORDER BY c.assignee_id, …": the same order, since every row has the same assignee (NULL),
// but PostgreSQL takes the order of conversations_assignee_activity only from an ORDER BY that
// names its leading column (IS NULL, unlike =, does not make a column constant for the
// planner); without it the planner walks conversations_activity filtering, which crosses every
// assigned conversation when few are unassigned.
constexpr Sql kConversationsUnassigned{
    "conversations_unassigned",
    "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS("$10") SB_CONVERSATION_FROM
    "WHERE c.assignee_id IS NULL AND (c.last_activity_ms, c.id) < ($1::bigint, $2::bigint) " SB_LIST_FILTERS
    "ORDER BY c.assignee_id, c.last_activity_ms DESC, c.id DESC LIMIT $5"};
// An agent's view (visible_to, no assignee filter): its own conversations and the unassigned
// ones, as two index seeks merged; the page's rows are then joined for what a list item shows.
// ORDER is the seek's leading columns, constant on each side (assignee, and status where one
// is asked for): see kConversationsUnassigned. Without them the unassigned side with
// status=open walked all 100,000 conversations of sb-bench-list (none is unassigned and
// open there): 200 ms instead of an empty seek.
#define SB_VISIBLE_SIDE(ASSIGNEE, STATUS, ORDER)                                                    \
    "(SELECT c.id, c.last_activity_ms FROM conversations c WHERE " ASSIGNEE " " STATUS              \
    " AND (c.last_activity_ms, c.id) < ($1::bigint, $2::bigint) " SB_LIST_FILTERS "ORDER BY " ORDER \
    "c.last_activity_ms DESC, c.id DESC LIMIT $5)"
#define SB_VISIBLE_PAGE(STATUS, ORDER) \
    "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS("$10")                                              \
    " FROM (" SB_VISIBLE_SIDE("c.assignee_id IS NULL", STATUS, ORDER) " UNION ALL " SB_VISIBLE_SIDE( \
        "c.assignee_id = $6::text", STATUS,                                                          \
        ORDER) ") v JOIN conversations c ON c.id = v.id" SB_CONVERSATION_JOINS                       \
        "ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT $5"
constexpr Sql kConversationsVisible{"conversations_visible",
                                    SB_VISIBLE_PAGE("AND $3::text = ''", "c.assignee_id, ")};
constexpr Sql kConversationsVisibleWithStatus{
    "conversations_visible_status", SB_VISIBLE_PAGE("AND c.status = $3::text", "c.assignee_id, c.status, ")};
constexpr Sql kConversationForReader{"conversation_for_reader",
                                     "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS("$2")
                                         SB_CONVERSATION_FROM "WHERE c.id = $1"};
// --- labels ---
constexpr Sql kLabels{"labels", "SELECT name, color, description, created_ms FROM labels ORDER BY name"};
constexpr Sql kInsertLabel{
    "insert_label",
    "INSERT INTO labels (name, color, description, created_ms) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (name) DO NOTHING RETURNING name"};
constexpr Sql kUpdateLabel{
    "update_label",
    "UPDATE labels SET color = coalesce($2, color), description = coalesce($3, description) "
    "WHERE name = $1 RETURNING name, color, description, created_ms"};
constexpr Sql kDeleteConversationLabels{"delete_conversation_labels",
                                        "DELETE FROM conversation_labels WHERE label = $1"};
constexpr Sql kDeleteLabel{"delete_label", "DELETE FROM labels WHERE name = $1"};
constexpr Sql kLabelExists{"label_exists", "SELECT 1 FROM labels WHERE name = $1"};
constexpr Sql kAddLabel{"add_label",
                        "INSERT INTO conversation_labels (conversation_id, label) VALUES ($1, $2) "
                        "ON CONFLICT DO NOTHING"};
constexpr Sql kRemoveLabel{"remove_label",
                           "DELETE FROM conversation_labels WHERE conversation_id = $1 AND label = $2"};

// --- canned replies ---
#define SB_CANNED_COLUMNS "id, shortcode, text, scope, owner_id, created_ms, updated_ms"
// $1..$2 the prefix's range (domain::canned_prefix_end; the column compares byte-wise, COLLATE
// "C"), $3 whose personal ones; a personal one sorts before the shared one of the same shortcode.
constexpr Sql kCannedReplies{"canned_replies",
                             "SELECT " SB_CANNED_COLUMNS
                             " FROM canned_replies WHERE shortcode >= $1 AND shortcode < $2 AND "
                             "(scope = 'shared' OR owner_id = $3) ORDER BY shortcode, scope, id"};
constexpr Sql kCannedReply{"canned_reply", "SELECT " SB_CANNED_COLUMNS " FROM canned_replies WHERE id = $1"};
constexpr Sql kLockCannedReply{"lock_canned_reply",
                               "SELECT " SB_CANNED_COLUMNS " FROM canned_replies WHERE id = $1 FOR UPDATE"};
constexpr Sql kInsertCannedReply{
    "insert_canned_reply",
    "INSERT INTO canned_replies (shortcode, text, scope, owner_id, created_ms, updated_ms) "
    "VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING RETURNING id"};
constexpr Sql kCannedShortcodeTaken{
    "canned_shortcode_taken",
    "SELECT 1 FROM canned_replies WHERE scope = $1 AND owner_id = $2 AND shortcode = $3 AND id <> $4"};
constexpr Sql kSaveCannedReply{
    "save_canned_reply",
    "UPDATE canned_replies SET shortcode = $2, text = $3, updated_ms = $4 WHERE id = $1"};
constexpr Sql kDeleteCannedReply{"delete_canned_reply", "DELETE FROM canned_replies WHERE id = $1"};

// --- read state ---
constexpr Sql kMessageIn{"message_in", "SELECT 1 FROM messages WHERE id = $2 AND conversation_id = $1"};
// $2: below this id (the newest overall: the largest id there is).
constexpr Sql kNewestMessage{"newest_message",
                             "SELECT id FROM messages WHERE conversation_id = $1 AND id < $2 "
                             "ORDER BY id DESC LIMIT 1"};
constexpr Sql kNewestInbound{"newest_inbound",
                             "SELECT id FROM messages WHERE conversation_id = $1 AND direction = 'in' "
                             "AND kind = 'message' AND id < $2 ORDER BY id DESC LIMIT 1"};
constexpr Sql kReadPosition{"read_position",
                            "SELECT last_read_message_id FROM conversation_reads "
                            "WHERE conversation_id = $1 AND agent_id = $2"};
constexpr Sql kSetReadPosition{
    "set_read_position",
    "INSERT INTO conversation_reads (conversation_id, agent_id, last_read_message_id, updated_ms) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id, agent_id) DO UPDATE SET "
    "last_read_message_id = excluded.last_read_message_id, updated_ms = excluded.updated_ms"};
// Per assignee and status, for the filter tabs (ConversationFilter's channel, label, priority).
constexpr Sql kConversationCounts{
    "conversation_counts",
    "SELECT coalesce(c.assignee_id, ''), c.status, count(*) FROM conversations c "
    "WHERE ($1::text = '' OR c.channel_id = $1::text) "
    "AND ($2::text = '' OR c.assignee_id IS NULL OR c.assignee_id = $2::text) "
    "AND ($4::text = '' OR c.priority = $4::text) AND ($3::text = '' OR EXISTS (SELECT 1 FROM "
    "conversation_labels l WHERE l.conversation_id = c.id AND l.label = $3::text)) "
    "GROUP BY c.assignee_id, c.status"};
constexpr Sql kConversationChannel{"conversation_channel",
                                   "SELECT channel_id FROM conversations WHERE id = $1"};
constexpr Sql kSetConversationStatus{
    "set_conversation_status", "UPDATE conversations SET status = $2, snoozed_until_ms = $3 WHERE id = $1"};
constexpr Sql kSetPriority{"set_priority", "UPDATE conversations SET priority = $2 WHERE id = $1"};
constexpr Sql kSetBlocked{"set_blocked", "UPDATE conversations SET blocked_ms = $2 WHERE id = $1"};
// SKIP LOCKED: instances waking snoozed conversations at once take different ones.
constexpr Sql kSnoozedDue{"snoozed_due",
                          "SELECT id FROM conversations WHERE status = 'snoozed' AND snoozed_until_ms <= $1 "
                          "ORDER BY snoozed_until_ms LIMIT $2 FOR UPDATE SKIP LOCKED"};
constexpr Sql kAssignConversation{"assign_conversation",
                                  "UPDATE conversations SET assignee_id = $2 WHERE id = $1"};
constexpr Sql kMessagesPage{"messages_page", "SELECT " SB_MESSAGE_COLUMNS
                                             " FROM messages WHERE conversation_id = $1 AND id < $2 "
                                             "ORDER BY id DESC LIMIT $3"};
constexpr Sql kMessageByPlatformId{"message_by_platform_id",
                                   "SELECT " SB_MESSAGE_COLUMNS
                                   " FROM messages WHERE channel_id = $1 AND platform_id = $2"};
// Watermark receipts: what we sent in one conversation up to a time and is not yet read.
constexpr Sql kOutboundUpTo{"outbound_up_to",
                            "SELECT " SB_MESSAGE_COLUMNS
                            " FROM messages WHERE direction = 'out' AND kind = 'message' "
                            "AND created_ms <= $3 AND status NOT IN ('read', 'failed') AND conversation_id = "
                            "(SELECT id FROM conversations WHERE channel_id = $1 AND platform_id = $2) "
                            "ORDER BY id DESC LIMIT 500"};
constexpr Sql kMessageByIdempotencyKey{
    "message_by_idempotency_key",
    "SELECT " SB_MESSAGE_COLUMNS
    " FROM messages WHERE sender_id = $1 AND conversation_id = $2 AND idempotency_key = $3"};
// A concurrent claim of the same key waits on the primary key until the first commits, then
// does nothing: exactly one caller gets the row back.
constexpr Sql kClaimIdempotencyKey{
    "claim_idempotency_key",
    "INSERT INTO idempotency_keys (sender_id, conversation_id, idem_key, request_hash, state, created_ms) "
    "VALUES ($1, $2, $3, $4, 'in_progress', $5) ON CONFLICT DO NOTHING RETURNING created_ms"};
constexpr Sql kIdempotencyKey{"idempotency_key",
                              "SELECT request_hash, state, message_id, created_ms FROM idempotency_keys "
                              "WHERE sender_id = $1 AND conversation_id = $2 AND idem_key = $3"};
constexpr Sql kCompleteIdempotencyKey{"complete_idempotency_key",
                                      "UPDATE idempotency_keys SET state = 'done', message_id = $4 "
                                      "WHERE sender_id = $1 AND conversation_id = $2 AND idem_key = $3"};
constexpr Sql kReleaseIdempotencyKey{
    "release_idempotency_key",
    "DELETE FROM idempotency_keys WHERE sender_id = $1 AND conversation_id = $2 "
    "AND idem_key = $3 AND state = 'in_progress'"};
constexpr Sql kMessageById{"message_by_id", "SELECT " SB_MESSAGE_COLUMNS " FROM messages WHERE id = $1"};
// FOR UPDATE: two retries of one message take turns from the read of its status to the write.
constexpr Sql kOutboundInConversation{
    "outbound_in_conversation", "SELECT " SB_MESSAGE_COLUMNS
                                ", attempted_ms FROM messages "
                                "WHERE id = $1 AND conversation_id = $2 AND direction = 'out' FOR UPDATE"};
constexpr Sql kMarkSending{"mark_sending",
                           "UPDATE messages SET status = 'sending', attempted_ms = $2 WHERE id = $1"};
constexpr Sql kSettleRetry{"settle_retry",
                           "UPDATE messages SET platform_id = coalesce($2, platform_id), status = $3, "
                           "error_code = $4, error_message = $5 WHERE id = $1 RETURNING " SB_MESSAGE_COLUMNS};
// Serializes sends that carry the same (sender, key) from the look-up to the insert, across
// all instances, as BEGIN IMMEDIATE does for SQLite. A hash collision only serializes two
// unrelated sends. Two int4 keys: a key space apart from kMigrationLockKey's.
constexpr Sql kLockIdempotencyKey{"lock_idempotency_key",
                                  "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))"};
// If the platform's echo of this very message arrived first (same platform id), the agent's
// send takes the stored row over instead of failing on the dedupe key.
constexpr Sql kInsertOutbound{
    "insert_outbound",
    "INSERT INTO messages (conversation_id, channel_id, platform_id, direction, sender_id, "
    "sender_name, content_json, reply_to, status, error_code, created_ms, idempotency_key, error_message, "
    "outbound_id, search_text) "
    "VALUES ($1, $2, $3, 'out', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
    "ON CONFLICT (channel_id, platform_id) DO UPDATE SET sender_id = excluded.sender_id, "
    "sender_name = excluded.sender_name, idempotency_key = excluded.idempotency_key "
    "RETURNING " SB_MESSAGE_COLUMNS};
// The echo of a send whose answer was lost: the row it stored (by outbound id) gets the
// platform's id and status sent.
constexpr Sql kCompleteByOutboundId{"complete_by_outbound_id",
                                    "UPDATE messages SET platform_id = $3, status = 'sent', error_code = '', "
                                    "error_message = '' "
                                    "WHERE channel_id = $1 AND outbound_id = $2 AND platform_id IS NULL "
                                    "RETURNING " SB_MESSAGE_COLUMNS};

// --- events ---
constexpr Sql kEventsAfter{"events_after",
                           "SELECT seq, type, conversation_id, created_ms, data_json, audience, origin "
                           "FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"};
// The newest stored event; once every event is pruned, the sequence's high-water mark, so
// numbers still never go back. Not the sequence alone: it also counts seqs taken by
// transactions still in flight (or rolled back), and a reader starting there would skip them.
constexpr Sql kLastSeq{"last_seq",
                       "SELECT coalesce((SELECT max(seq) FROM events), "
                       "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_seq_seq))"};

constexpr Sql kFirstSeq{"first_seq", "SELECT coalesce(min(seq), 0) FROM events"};
// The fan-out's reads (event_log.hpp), run unprepared on its own connections.
constexpr Sql kEventSeqsBetween{"event_seqs_between", "SELECT seq FROM events WHERE seq > $1 AND seq <= $2"};
constexpr Sql kEventsWithSeqs{"events_with_seqs",
                              "SELECT seq, type, conversation_id, created_ms, data_json, audience, origin "
                              "FROM events WHERE seq = ANY($1::bigint[]) ORDER BY seq"};
constexpr Sql kNotify{"notify", "SELECT pg_notify($1, $2)"};
constexpr Sql kPruneEvents{"prune_events", "DELETE FROM events WHERE created_ms < $1"};

// --- agents ---
constexpr Sql kInsertAgent{"insert_agent",
                           "INSERT INTO agents (id, name, role, created_ms) VALUES ($1, $2, $3, $4)"};
constexpr Sql kAgents{"agents",
                      "SELECT id, name, role, created_ms, availability FROM agents WHERE deleted_ms = 0 "
                      "ORDER BY created_ms, id"};
constexpr Sql kSetAvailability{"set_availability",
                               "UPDATE agents SET availability = $2 WHERE id = $1 AND deleted_ms = 0"};
constexpr Sql kAgentById{"agent_by_id",
                         "SELECT id, name, role, created_ms FROM agents WHERE id = $1 AND deleted_ms = 0"};
constexpr Sql kDeleteAgent{"delete_agent",
                           "UPDATE agents SET deleted_ms = $2 WHERE id = $1 AND deleted_ms = 0"};
constexpr Sql kRevokeAgentTokens{
    "revoke_agent_tokens", "UPDATE agent_tokens SET revoked_ms = $2 WHERE agent_id = $1 AND revoked_ms = 0"};
constexpr Sql kAssignedTo{"assigned_to", "SELECT id FROM conversations WHERE assignee_id = $1 ORDER BY id"};
constexpr Sql kInsertToken{
    "insert_token",
    "INSERT INTO agent_tokens (id, agent_id, token_hash, label, created_ms, expires_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6)"};
constexpr Sql kRevokeToken{
    "revoke_token",
    "UPDATE agent_tokens SET revoked_ms = $3 WHERE id = $2 AND agent_id = $1 AND revoked_ms = 0"};
constexpr Sql kActiveTokens{
    "active_tokens",
    "SELECT t.token_hash, t.id, a.id, a.name, a.role, a.created_ms, t.expires_ms FROM agent_tokens t "
    "JOIN agents a ON a.id = t.agent_id WHERE t.revoked_ms = 0 AND a.deleted_ms = 0"};
// FOR UPDATE: two instances assigning one conversation at once take turns from the read of
// the current assignee to the write, so exactly one of two "take it if unassigned" wins (the
// lock SQLite's BEGIN IMMEDIATE gives).
constexpr Sql kAssigneeOfForUpdate{
    "assignee_of_for_update", "SELECT coalesce(assignee_id, '') FROM conversations WHERE id = $1 FOR UPDATE"};
constexpr Sql kOpenCounts{"open_counts",
                          "SELECT assignee_id, count(*) FROM conversations WHERE assignee_id IS NOT NULL "
                          "AND status = 'open' GROUP BY assignee_id"};

// --- search (issue 15): $1 the tsquery (tsquery_text), $2 visible_to, $3 channel, $4 status, $5
// the limit, $6 the offset; best match first (ts_rank), then newest.
#define SB_SEARCH_FILTERS                                                       \
    "AND ($2::text = '' OR c.assignee_id IS NULL OR c.assignee_id = $2::text) " \
    "AND ($3::text = '' OR c.channel_id = $3::text) AND ($4::text = '' OR c.status = $4::text) "
// Only the newest SB_SEARCH_CANDIDATES matches the searcher may see are ranked (as in the SQLite
// store, whose comment says why that number): for a word in many messages the planner walks
// messages newest first (their primary key backwards) and stops there, instead of fetching and
// ranking every match the GIN index finds; a rare word still starts from the index.
#define SB_SEARCH_CANDIDATES "1201"
constexpr Sql kSearchMessages{
    "search_messages",
    "SELECT x.id FROM (SELECT m.id, m.search_vector FROM messages m JOIN conversations c ON c.id = "
    "m.conversation_id, to_tsquery('simple', $1::text) q WHERE m.search_vector @@ q " SB_SEARCH_FILTERS
    "ORDER BY m.id DESC LIMIT " SB_SEARCH_CANDIDATES
    ") x, to_tsquery('simple', $1::text) q "
    "ORDER BY ts_rank(x.search_vector, q) DESC, x.id DESC LIMIT $5 OFFSET $6"};
constexpr Sql kSearchConversations{
    "search_conversations",
    "SELECT c.id FROM conversations c, to_tsquery('simple', $1::text) q WHERE c.search_vector @@ "
    "q " SB_SEARCH_FILTERS
    "ORDER BY ts_rank(c.search_vector, q) DESC, c.last_activity_ms DESC, c.id DESC "
    "LIMIT $5 OFFSET $6"};
#define SB_CONTACT_COLUMNS \
    "ct.id, ct.channel_id, ct.platform_id, ct.name, ct.username, ct.phone, ct.created_ms"
// Contacts (people) of their own with a conversation the searcher may see.
constexpr Sql kSearchContacts{
    "search_contacts",
    "SELECT p.id FROM people p, to_tsquery('simple', $1::text) q WHERE p.search_vector @@ q "
    "AND p.merged_into IS NULL AND EXISTS (SELECT 1 FROM contacts ct JOIN conversations c ON c.contact_id = "
    "ct.id "
    "WHERE ct.person_id = p.id " SB_SEARCH_FILTERS
    ") ORDER BY ts_rank(p.search_vector, q) DESC, p.id DESC "
    "LIMIT $5 OFFSET $6"};
// The list with q= ($12), in the list's order; $11 the assignee filter ("" any, "unassigned", an
// id). As in the SQLite store (which says why): when the query matches at most
// Tuning::list_match_bound messages (2,000 here) the matching conversations are collected ($12,
// an array of their ids) and only those are listed; otherwise the list is walked in its order,
// testing each conversation ($12, a tsquery, made once; OFFSET 0 keeps the planner from turning
// the EXISTS into a hashed subplan of every matching message, which is the 1.2 s plan again).
constexpr Sql kConversationsAmong{
    "conversations_among", "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS("$10") SB_CONVERSATION_FROM
    "WHERE (c.last_activity_ms, c.id) < ($1::bigint, $2::bigint) " SB_LIST_FILTERS
    "AND ($11::text = '' OR ($11::text = 'unassigned' AND c.assignee_id IS NULL) OR c.assignee_id "
    "= $11::text) AND c.id = ANY ($12::bigint[]) "
    "ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT $5"};
constexpr Sql kConversationsMatching{
    "conversations_matching", "SELECT " SB_CONVERSATION_COLUMNS SB_READER_COLUMNS("$10") SB_CONVERSATION_FROM
    " CROSS JOIN to_tsquery('simple', $12::text) q "
    "WHERE (c.last_activity_ms, c.id) < ($1::bigint, $2::bigint) " SB_LIST_FILTERS
    "AND ($11::text = '' OR ($11::text = 'unassigned' AND c.assignee_id IS NULL) OR c.assignee_id "
    "= $11::text) "
    "AND (c.search_vector @@ q OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id "
    "AND m.search_vector @@ q OFFSET 0)) "
    "ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT $5"};
// $1 a tsquery, $2 how many to count at most.
constexpr Sql kCountMessageMatches{
    "count_message_matches",
    "SELECT count(*) FROM (SELECT 1 FROM messages WHERE search_vector @@ to_tsquery('simple', $1::text) "
    "LIMIT $2) x"};
constexpr Sql kMessageMatchConversations{
    "message_match_conversations",
    "SELECT DISTINCT conversation_id FROM messages WHERE search_vector @@ to_tsquery('simple', $1::text)"};
constexpr Sql kConversationMatches{
    "conversation_matches",
    "SELECT id FROM conversations WHERE search_vector @@ to_tsquery('simple', $1::text) LIMIT $2"};
// Migration 13 indexes the rows stored before it, a batch at a time ($1: after this id).
constexpr Sql kUnindexedMessages{
    "unindexed_messages", "SELECT id, content_json FROM messages WHERE id > $1 ORDER BY id LIMIT 1000"};
constexpr Sql kUnindexedContacts{"unindexed_contacts",
                                 "SELECT " SB_CONTACT_COLUMNS
                                 " FROM contacts ct WHERE ct.id > $1 ORDER BY ct.id LIMIT 1000"};
constexpr Sql kUnindexedConversations{
    "unindexed_conversations",
    "SELECT c.id, c.title, coalesce(ct.name, ''), coalesce(ct.username, ''), coalesce(ct.phone, '') "
    "FROM conversations c LEFT JOIN contacts ct ON ct.id = c.contact_id WHERE c.id > $1 ORDER BY c.id LIMIT "
    "1000"};
// $1: [{"id":…,"t":"…"}, …]
constexpr Sql kIndexMessages{
    "index_messages",
    "UPDATE messages m SET search_text = v.t FROM json_to_recordset($1::json) AS v(id bigint, t text) "
    "WHERE m.id = v.id"};
constexpr Sql kIndexContacts{
    "index_contacts",
    "UPDATE contacts ct SET search_text = v.t FROM json_to_recordset($1::json) AS v(id bigint, t text) "
    "WHERE ct.id = v.id"};
constexpr Sql kIndexConversations{
    "index_conversations",
    "UPDATE conversations c SET search_text = v.t FROM json_to_recordset($1::json) AS v(id bigint, t text) "
    "WHERE c.id = v.id"};
#undef SB_SEARCH_CANDIDATES
#undef SB_SEARCH_FILTERS
#undef SB_CONTACT_COLUMNS

// --- contacts (domain/contacts.hpp) ---
#define SB_IDENTITY_COLUMNS                                                                 \
    "ct.id, ct.channel_id, ct.platform_id, ct.name, ct.username, ct.phone, ct.created_ms, " \
    "coalesce(ct.person_id, 0)"
#define SB_PERSON_COLUMNS                                                                             \
    "id, name, email, phone, company, notes, attributes_json, coalesce(merged_into, 0), created_ms, " \
    "updated_ms"
constexpr Sql kInsertPerson{"insert_person",
                            "INSERT INTO people (created_ms, updated_ms) VALUES ($1, $1) RETURNING id"};
constexpr Sql kSetIdentityPerson{
    "set_identity_person",
    "UPDATE contacts SET person_id = $2, first_person_id = coalesce(first_person_id, $2) WHERE id = $1"};
constexpr Sql kSetIdentityPhoneDigits{"set_identity_phone_digits",
                                      "UPDATE contacts SET phone_digits = $2 WHERE id = $1"};
constexpr Sql kLockPerson{"lock_person", "SELECT " SB_PERSON_COLUMNS " FROM people WHERE id = $1 FOR UPDATE"};
constexpr Sql kSavePerson{"save_person",
                          "UPDATE people SET name = $2, email = $3, phone = $4, company = $5, notes = $6, "
                          "attributes_json = $7, merged_into = nullif($8::bigint, 0), updated_ms = $9, "
                          "search_text = $10 WHERE id = $1"};
constexpr Sql kIdentitiesOf{"identities_of", "SELECT " SB_IDENTITY_COLUMNS
                                             " FROM contacts ct WHERE ct.person_id = $1 ORDER BY ct.id"};
constexpr Sql kIdentitiesFirstOf{"identities_first_of",
                                 "SELECT " SB_IDENTITY_COLUMNS
                                 " FROM contacts ct WHERE ct.first_person_id = $1 ORDER BY ct.id"};
constexpr Sql kMergedInto{"merged_into", "SELECT id FROM people WHERE merged_into = $1"};
constexpr Sql kPersonConversations{
    "person_conversations",
    "SELECT c.id, coalesce(c.assignee_id, '') FROM conversations c JOIN contacts ct ON ct.id = c.contact_id "
    "WHERE ct.person_id = $1 ORDER BY c.last_activity_ms DESC, c.id DESC"};
// $1 visible_to ('' = any), $2 below this id, $3 the limit.
constexpr Sql kVisiblePeople{
    "visible_people",
    "SELECT p.id FROM people p WHERE p.merged_into IS NULL AND p.id < $2 AND EXISTS (SELECT 1 FROM contacts "
    "ct "
    "JOIN conversations c ON c.contact_id = ct.id WHERE ct.person_id = p.id AND ($1::text = '' "
    "OR c.assignee_id IS NULL OR c.assignee_id = $1::text)) ORDER BY p.id DESC LIMIT $3"};
constexpr Sql kPeopleSharingAPhone{
    "people_sharing_a_phone",
    "SELECT a.person_id, b.person_id, min(a.phone_digits) FROM contacts a JOIN contacts b "
    "ON b.phone_digits = a.phone_digits AND b.person_id > a.person_id "
    "WHERE a.phone_digits <> '' AND length(a.phone_digits) >= 7 GROUP BY a.person_id, b.person_id "
    "ORDER BY a.person_id, b.person_id LIMIT $1"};
constexpr Sql kContactAttributes{"contact_attributes",
                                 "SELECT key, type, label, created_ms FROM contact_attributes ORDER BY key"};
constexpr Sql kInsertContactAttribute{"insert_contact_attribute",
                                      "INSERT INTO contact_attributes (key, type, label, created_ms) "
                                      "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING key"};
constexpr Sql kDeleteContactAttribute{"delete_contact_attribute",
                                      "DELETE FROM contact_attributes WHERE key = $1 RETURNING key"};
#undef SB_IDENTITY_COLUMNS
#undef SB_PERSON_COLUMNS

#undef SB_QUEUE_COLUMNS
#undef SB_CANNED_COLUMNS
#undef SB_MESSAGE_COLUMNS
#undef SB_CONVERSATION_COLUMNS
#undef SB_CONVERSATION_FROM
#undef SB_CONVERSATION_JOINS
#undef SB_READER_COLUMNS
#undef SB_READ_POSITION

#undef SB_LIST_FILTERS
#undef SB_VISIBLE_SIDE
#undef SB_VISIBLE_PAGE

// Prepared on every connection of the pool.
constexpr std::array kPrepared{
    &kSchemaVersion,
    &kRecordVersion,
    &kEnqueue,
    &kClaim,
    &kRelease,
    &kDeadLetter,
    &kDeadLetters,
    &kReplayDeadLetter,
    &kQueueDepth,
    &kOldestQueued,
    &kTakeQueueRow,
    &kLockClaims,
    &kLockApplyKeys,
    &kUpsertContact,
    &kUpsertConversation,
    &kInsertMessage,
    &kTouchConversation,
    &kUpdateMessageContent,
    &kUpdateMessageStatus,
    &kUpdateMessageReactions,
    &kInsertEvent,
    &kConversationById,
    &kConversationByPlatformId,
    &kConversationsPage,
    &kConversationsAssignedTo,
    &kConversationsUnassigned,
    &kConversationsVisible,
    &kConversationsVisibleWithStatus,
    &kConversationForReader,
    &kSetContactSearchText,
    &kSetConversationSearchText,
    &kSearchMessages,
    &kSearchConversations,
    &kSearchContacts,
    &kInsertPerson,
    &kSetIdentityPerson,
    &kSetIdentityPhoneDigits,
    &kLockPerson,
    &kSavePerson,
    &kIdentitiesOf,
    &kIdentitiesFirstOf,
    &kMergedInto,
    &kPersonConversations,
    &kVisiblePeople,
    &kPeopleSharingAPhone,
    &kContactAttributes,
    &kInsertContactAttribute,
    &kDeleteContactAttribute,
    &kConversationsMatching,
    &kConversationsAmong,
    &kCountMessageMatches,
    &kMessageMatchConversations,
    &kConversationMatches,
    &kConversationCounts,
    &kMessageIn,
    &kLabels,
    &kInsertLabel,
    &kUpdateLabel,
    &kDeleteConversationLabels,
    &kDeleteLabel,
    &kLabelExists,
    &kAddLabel,
    &kRemoveLabel,
    &kCannedReplies,
    &kCannedReply,
    &kLockCannedReply,
    &kInsertCannedReply,
    &kCannedShortcodeTaken,
    &kSaveCannedReply,
    &kDeleteCannedReply,
    &kNewestMessage,
    &kNewestInbound,
    &kReadPosition,
    &kSetReadPosition,
    &kConversationChannel,
    &kSetConversationStatus,
    &kSetPriority,
    &kSetBlocked,
    &kSnoozedDue,
    &kAssignConversation,
    &kMessagesPage,
    &kMessageByPlatformId,
    &kOutboundUpTo,
    &kMessageByIdempotencyKey,
    &kClaimIdempotencyKey,
    &kIdempotencyKey,
    &kCompleteIdempotencyKey,
    &kReleaseIdempotencyKey,
    &kMessageById,
    &kOutboundInConversation,
    &kMarkSending,
    &kSettleRetry,
    &kLockIdempotencyKey,
    &kInsertOutbound,
    &kCompleteByOutboundId,
    &kEventsAfter,
    &kLastSeq,
    &kFirstSeq,
    &kPruneEvents,
    &kInsertAgent,
    &kAgents,
    &kSetAvailability,
    &kAgentById,
    &kDeleteAgent,
    &kRevokeAgentTokens,
    &kAssignedTo,
    &kInsertToken,
    &kRevokeToken,
    &kActiveTokens,
    &kAssigneeOfForUpdate,
    &kOpenCounts,
    &kInsertMedia,
    &kMediaById,
    &kClaimMedia,
    &kRetryMedia,
    &kSettleMedia,
    &kExpiredMedia,
    &kDeleteMedia,
    &kMediaNamingSha,
};

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();

// --- errors ---

// A StoreError that also says what became of the connection and whether the work may simply
// be run again on another connection: the database rolled it back (a lost connection before
// COMMIT, a deadlock) rather than leaving its outcome unknown.
class PgError : public StoreError {
public:
    PgError(const std::string& what, bool broken, bool retryable)
        : StoreError(what), broken_(broken), retryable_(retryable) {}
    bool broken() const { return broken_; }
    bool retryable() const { return retryable_; }

private:
    bool broken_;
    bool retryable_;
};

// libpq's and the server's messages span lines ("…failed: …\n\tIs the server running…"); a log
// line and an error answer want one.
std::string one_line(std::string_view text) {
    std::string line;
    bool space = false;
    for (char c : text) {
        if (c == '\n' || c == '\t' || c == ' ') {
            space = !line.empty();
            continue;
        }
        if (space) line += ' ';
        space = false;
        line += c;
    }
    return line;
}

// Turns the libpqxx exception in flight into a PgError naming `what` (a statement, "begin",
// "commit"). The message is libpq's or the server's: neither ever repeats the DSN's password.
[[noreturn]] void rethrow_as_store_error(const char* what, const pqxx::connection_base& conn) {
    const bool open = conn.is_open();
    try {
        throw;
    } catch (const pqxx::in_doubt_error& e) {
        throw PgError(fmt::format("PostgreSQL {}: connection lost during COMMIT, outcome unknown: {}", what,
                                  one_line(e.what())),
                      true, false);
    } catch (const pqxx::broken_connection& e) {
        throw PgError(fmt::format("PostgreSQL {}: connection lost: {}", what, one_line(e.what())), true,
                      true);
    } catch (const pqxx::sql_error& e) {
        const std::string& state = e.sqlstate();
        // 08: connection exception; 57P: the server is shutting down or killed this backend.
        const bool broken = !open || state.starts_with("08") || state.starts_with("57P");
        // 40P01 deadlock, 40001 serialization failure: the server rolled the transaction back.
        const bool retryable = broken || state == "40P01" || state == "40001";
        throw PgError(fmt::format("PostgreSQL {}: {}{}", what, one_line(e.what()),
                                  state.empty() ? "" : fmt::format(" (SQLSTATE {})", state)),
                      broken, retryable);
    } catch (const pqxx::failure& e) {
        throw PgError(fmt::format("PostgreSQL {}: {}", what, one_line(e.what())), !open, !open);
    }
}

// Runs one prepared statement; a failure becomes a StoreError naming it.
template <typename... Args>
pqxx::result exec(pqxx::transaction_base& tx, const Sql& sql, Args&&... args) {
    try {
        return tx.exec_prepared(sql.name, std::forward<Args>(args)...);
    } catch (const pqxx::failure&) {
        rethrow_as_store_error(sql.name, tx.conn());
    }
}

// "" as SQL NULL: for columns where NULL means "none" and must not collide in a UNIQUE
// constraint (platform_id, idempotency_key, assignee_id). libpqxx sends a null pointer as NULL.
const char* or_null(const std::string& value) { return value.empty() ? nullptr : value.c_str(); }

// bytea travels as a binary parameter: no escaping, any bytes.
pqxx::binarystring as_bytea(const std::string& value) {
    return pqxx::binarystring(value.data(), value.size());
}

// --- record readers, one per column list above ---

std::int64_t integer(const pqxx::field& f) { return f.is_null() ? 0 : f.as<std::int64_t>(); }
// NULL reads as "".
std::string text(const pqxx::field& f) {
    return f.is_null() ? std::string() : std::string(f.c_str(), f.size());
}

// SB_IDENTITY_COLUMNS; `with_person` false for rows read before migration 14 (no person_id).
Identity read_identity(const pqxx::row& r, bool with_person = true) {
    return Identity{integer(r[0]), text(r[1]), text(r[2]),    text(r[3]),
                    text(r[4]),    text(r[5]), integer(r[6]), with_person ? integer(r[7]) : 0};
}

// The events columns of kEventsAfter and kEventsWithSeqs.
Event read_event(const pqxx::row& r) {
    return Event{integer(r[0]), text(r[1]), integer(r[2]), integer(r[3]), text(r[4]), text(r[5]), text(r[6])};
}

Person read_person(const pqxx::row& r) {
    Person p;
    p.id = integer(r[0]);
    p.name = text(r[1]);
    p.email = text(r[2]);
    p.phone = text(r[3]);
    p.company = text(r[4]);
    p.notes = text(r[5]);
    p.attributes_json = text(r[6]);
    p.merged_into = integer(r[7]);
    p.created_ms = integer(r[8]);
    p.updated_ms = integer(r[9]);
    return p;
}

// SearchTerms as a tsquery: 'word':* terms (a one-character word as itself) joined by &.
std::string tsquery_text(const SearchTerms& terms) {
    return search_query(
        terms,
        [](const std::string& w) {
            return match_as_prefix(w) ? fmt::format("'{}':*", w) : fmt::format("'{}'", w);
        },
        " & ", " | ");
}

CannedReply read_canned(const pqxx::row& r) {
    return CannedReply{integer(r[0]), text(r[1]),    text(r[2]),   text(r[3]),
                       text(r[4]),    integer(r[5]), integer(r[6])};
}

QueuedInbound read_queued(const pqxx::row& r) {
    QueuedInbound row;
    row.id = integer(r[0]);
    row.request.channel_id = text(r[1]);
    row.request.method = text(r[2]);
    row.request.target = text(r[3]);
    row.request.headers = text(r[4]);
    row.request.body = pqxx::binarystring(r[5]).str();
    row.request.received_ms = integer(r[6]);
    row.attempts = static_cast<int>(integer(r[7]));
    return row;
}

Message read_message(const pqxx::row& r) {
    Message m;
    m.id = integer(r[0]);
    m.conversation_id = integer(r[1]);
    m.channel_id = text(r[2]);
    m.platform_id = text(r[3]);
    m.direction = text(r[4]);
    m.sender_id = text(r[5]);
    m.sender_name = text(r[6]);
    m.content_json = text(r[7]);
    m.reply_to = text(r[8]);
    m.status = text(r[9]);
    m.error_code = text(r[10]);
    m.platform_ts_ms = integer(r[11]);
    m.created_ms = integer(r[12]);
    m.edited_ms = integer(r[13]);
    m.error_message = text(r[14]);
    m.kind = text(r[15]);
    m.reactions_json = text(r[16]);
    return m;
}

MediaRecord read_media(const pqxx::row& r) {
    MediaRecord m;
    m.id = integer(r[0]);
    m.origin = text(r[1]);
    m.message_id = integer(r[2]);
    m.conversation_id = integer(r[3]);
    m.channel_id = text(r[4]);
    m.state = text(r[5]);
    m.error = text(r[6]);
    m.error_message = text(r[7]);
    m.mime_type = text(r[8]);
    m.size = integer(r[9]);
    m.file_name = text(r[10]);
    m.sha256 = text(r[11]);
    m.source_json = text(r[12]);
    m.uploaded_by = text(r[13]);
    m.attempts = static_cast<int>(integer(r[14]));
    m.next_attempt_ms = integer(r[15]);
    m.created_ms = integer(r[16]);
    m.updated_ms = integer(r[17]);
    return m;
}

Conversation read_conversation(const pqxx::row& r) {
    Conversation c;
    c.id = integer(r[0]);
    c.channel_id = text(r[1]);
    c.platform_id = text(r[2]);
    c.kind = text(r[3]);
    c.title = text(r[4]);
    c.contact_platform_id = text(r[5]);
    c.contact_name = text(r[6]);
    c.contact_username = text(r[7]);
    c.status = text(r[8]);
    c.assignee_id = text(r[9]);
    c.created_ms = integer(r[10]);
    c.last_activity_ms = integer(r[11]);
    c.snoozed_until_ms = integer(r[12]);
    c.priority = text(r[13]);
    c.assignee_name = text(r[14]);
    c.labels = split_labels(text(r[15]));
    if (!r[16].is_null())
        c.last_message =
            LastMessage{integer(r[16]), text(r[17]), text(r[18]), text(r[19]), text(r[20]), integer(r[21])};
    c.blocked_ms = integer(r[22]);
    c.contact_phone = text(r[23]);
    c.contact_id = integer(r[24]);
    c.contact_display_name = text(r[25]);
    return c;
}

// A conversation with SB_READER_COLUMNS after it.
Conversation read_conversation_for_reader(const pqxx::row& r) {
    Conversation c = read_conversation(r);
    c.read = ReadState{integer(r[26]), integer(r[27])};
    return c;
}

// --- the pool ---

// `size` connections, made lazily. checkout() blocks while all are in use. A connection given
// back broken is dropped, and so is every idle one: a lost connection usually means the server
// restarted or the network went, and their sockets are dead too. Empty slots reconnect at the
// next checkout, so the pool heals once the database is back.
class ConnectionPool {
public:
    using Connection = std::unique_ptr<pqxx::connection>;

    class Lease {
    public:
        Lease(ConnectionPool& pool, Connection conn, bool fresh)
            : pool_(&pool), conn_(std::move(conn)), fresh_(fresh) {}
        Lease(Lease&& other) noexcept
            : pool_(std::exchange(other.pool_, nullptr)),
              conn_(std::move(other.conn_)),
              fresh_(other.fresh_),
              broken_(other.broken_) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (pool_) pool_->give_back(std::move(conn_), broken_);
        }

        pqxx::connection& operator*() const { return *conn_; }
        // Made for this checkout, not taken from the idle set.
        bool fresh() const { return fresh_; }
        void mark_broken() { broken_ = true; }

    private:
        ConnectionPool* pool_;
        Connection conn_;
        bool fresh_;
        bool broken_ = false;
    };

    ConnectionPool(std::string dsn, int size) : dsn_(std::move(dsn)) {
        if (size < 1) throw StoreError(fmt::format("PostgreSQL pool size must be at least 1, got {}", size));
        idle_.resize(static_cast<std::size_t>(size));
        // Fail fast at start-up on a wrong DSN or an unreachable server.
        idle_.back() = connect();
    }

    Lease checkout() {
        Connection conn;
        {
            std::unique_lock lock(mutex_);
            available_.wait(lock, [this] { return !idle_.empty(); });
            conn = std::move(idle_.back());
            idle_.pop_back();
        }
        if (conn && conn->is_open()) return Lease(*this, std::move(conn), false);
        conn.reset();
        try {
            conn = connect();
        } catch (...) {
            give_back(nullptr, false);  // the slot stays, empty, for the next try
            throw;
        }
        return Lease(*this, std::move(conn), true);
    }

private:
    Connection connect() {
        try {
            auto conn = std::make_unique<pqxx::connection>(dsn_);
            // No NOTICEs on stderr (CREATE TABLE IF NOT EXISTS on every migrate()).
            pqxx::nontransaction tx(*conn);
            tx.exec("SET client_min_messages = warning");
            for (const Sql* sql : kPrepared) conn->prepare(sql->name, sql->text);
            return conn;
        } catch (const pqxx::failure& e) {
            // libpq's message names the host or socket; the DSN itself may hold a password.
            throw StoreError(fmt::format("PostgreSQL connect: {}", one_line(e.what())));
        }
    }

    void give_back(Connection conn, bool broken) {
        std::vector<Connection> dropped;
        {
            std::lock_guard lock(mutex_);
            if (broken) {
                for (auto& idle : idle_) dropped.push_back(std::move(idle));
                dropped.push_back(std::move(conn));
            }
            idle_.push_back(std::move(conn));
        }
        available_.notify_one();
        // `dropped` closes its sockets here, outside the lock.
    }

    std::string dsn_;
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<Connection> idle_;  // nullptr: a slot whose connection is to be made
};

class PgStore final : public Store {
public:
    PgStore(const std::string& dsn, int pool_size, Tuning tuning)
        : pool_(dsn, pool_size),
          list_match_bound_(tuning.list_match_bound > 0 ? tuning.list_match_bound : 2'000) {}

    void migrate() override {
        transact([](pqxx::work& tx) {
            // The lock comes first, even before schema_version exists: a second daemon starting
            // at the same moment waits here, then finds the work done.
            plain(tx, kLockMigrations, pg_schema::kMigrationLockKey);
            plain(tx, kCreateSchemaVersion);
            const std::int64_t current = integer(exec(tx, kSchemaVersion).at(0)[0]);
            if (current > pg_schema::kLatestVersion)
                throw StoreError(
                    fmt::format("PostgreSQL database {}: database schema version {} is newer than this "
                                "switchboardd supports ({}); upgrade switchboardd",
                                tx.conn().dbname(), current, pg_schema::kLatestVersion));
            for (const auto& migration : pg_schema::kMigrations) {
                if (migration.version <= current) continue;
                plain(tx, Sql{"migration", migration.sql});
                if (migration.version == pg_schema::kSearchMigration) index_stored_rows(tx);
                exec(tx, kRecordVersion, migration.version);
            }
            return 0;
        });
    }

    // --- inbound queue ---

    std::vector<std::int64_t> enqueue(std::span<const InboundRequest> requests) override {
        return transact([&](pqxx::work& tx) {
            std::vector<std::int64_t> ids;
            ids.reserve(requests.size());
            for (const auto& r : requests)
                ids.push_back(integer(exec(tx, kEnqueue, r.channel_id, r.method, r.target, r.headers,
                                           as_bytea(r.body), r.received_ms)
                                          .at(0)[0]));
            return ids;
        });
    }

    std::vector<QueuedInbound> claim(int limit, std::int64_t now_ms, std::int64_t lease_ms) override {
        if (limit < 1) return {};
        // A transaction, not autocommit: a connection lost mid-statement then rolls the claim
        // back for certain, and the call may be retried on another connection.
        auto rows = transact([&](pqxx::work& tx) {
            std::vector<QueuedInbound> rows;
            // kClaim must see the leases other instances committed while we waited for the lock:
            // a statement snapshot, whatever the server's default_transaction_isolation says.
            tx.exec0("SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
            exec(tx, kLockClaims);
            for (const auto& r : exec(tx, kClaim, now_ms, now_ms + lease_ms, limit))
                rows.push_back(read_queued(r));
            return rows;
        });
        // RETURNING gives no order guarantee.
        std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
        return rows;
    }

    std::vector<ApplyResult> apply(std::span<const ParsedRow> rows, std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            std::vector<ApplyResult> results(rows.size());
            DomainSql statements(tx);
            if (auto keys = lock_keys(rows); !keys.empty()) exec(tx, kLockApplyKeys, keys);
            std::int64_t taken = 0;  // ParsedRows of one queue row are adjacent and share its fate
            bool fenced = false;
            for (std::size_t i = 0; i < rows.size(); ++i) {
                const ParsedRow& row = rows[i];
                if (row.row_id != taken) {
                    taken = row.row_id;
                    const auto taken_rows =
                        exec(tx, kTakeQueueRow, row.row_id, row.claim, now_ms).affected_rows();
                    fenced = row.claim != 0 && taken_rows == 0;
                }
                results[i].fenced = fenced;
                if (fenced) continue;
                for (const auto& ev : row.events)
                    domain::apply_event(statements, row.channel_id, ev,
                                        row.received_ms ? row.received_ms : now_ms, results[i]);
            }
            return results;
        });
    }

    void release(std::int64_t row_id, std::int64_t available_at_ms, std::string_view error,
                 int claim = 0) override {
        autocommit([&](pqxx::nontransaction& tx) {
            return exec(tx, kRelease, row_id, available_at_ms, std::string(error), claim);
        });
    }

    void dead_letter(std::int64_t row_id, std::string_view reason, std::int64_t now_ms,
                     int claim = 0) override {
        autocommit([&](pqxx::nontransaction& tx) {
            return exec(tx, kDeadLetter, row_id, std::string(reason), now_ms, claim);
        });
    }

    std::vector<DeadLetter> dead_letters(int limit) override {
        if (limit < 1) return {};
        return autocommit([&](pqxx::nontransaction& tx) {
            std::vector<DeadLetter> letters;
            for (const auto& r : exec(tx, kDeadLetters, limit)) {
                QueuedInbound row = read_queued(r);
                letters.push_back(
                    DeadLetter{row.id, std::move(row.request), text(r[8]), row.attempts, integer(r[9])});
            }
            return letters;
        });
    }

    bool replay_dead_letter(std::int64_t row_id, std::int64_t now_ms) override {
        // A transaction, so that a retry after a lost connection cannot answer "no such dead
        // letter" for a replay that did commit.
        return transact(
            [&](pqxx::work& tx) { return exec(tx, kReplayDeadLetter, row_id, now_ms).affected_rows() > 0; });
    }

    std::int64_t queue_depth() override {
        return autocommit([](pqxx::nontransaction& tx) { return integer(exec(tx, kQueueDepth).at(0)[0]); });
    }

    std::int64_t oldest_queued_ms() override {
        return autocommit([](pqxx::nontransaction& tx) { return integer(exec(tx, kOldestQueued).at(0)[0]); });
    }

    // --- conversations and messages ---

    std::optional<Conversation> conversation(std::int64_t id) override {
        return autocommit([&](pqxx::nontransaction& tx) { return conversation_by_id(tx, id); });
    }

    std::optional<Conversation> conversation_by_platform_id(std::string_view channel_id,
                                                            std::string_view platform_id) override {
        return autocommit([&](pqxx::nontransaction& tx) -> std::optional<Conversation> {
            auto r = exec(tx, kConversationByPlatformId, std::string(channel_id), std::string(platform_id));
            if (r.empty()) return std::nullopt;
            return read_conversation(r[0]);
        });
    }

    Page<Conversation> conversations(const ConversationFilter& filter, int limit,
                                     std::string_view cursor) override {
        require_positive_limit(limit);
        auto [activity, id] =
            cursor.empty() ? std::pair{kMaxInt64, kMaxInt64} : parse_conversation_cursor(cursor);
        Page<Conversation> page;
        const auto [status, statuses] = status_params(filter.status);
        page.items = autocommit([&](pqxx::nontransaction& tx) {
            std::vector<Conversation> items;
            const bool agents_view = filter.assignee.empty() && !filter.visible_to.empty();
            // One more than asked tells whether another page exists.
            pqxx::result rows;
            if (filter.search) {
                const std::string query = tsquery_text(*filter.search);
                const auto among = matching_conversations(tx, query);
                rows = exec(tx, among ? kConversationsAmong : kConversationsMatching, activity, id, status,
                            filter.channel_id, limit + 1, filter.visible_to, statuses, filter.label,
                            filter.priority, filter.reader, filter.assignee, among ? *among : query);
            } else if (!filter.assignee.empty() && filter.assignee != "unassigned")
                rows = exec(tx, kConversationsAssignedTo, activity, id, status, filter.channel_id, limit + 1,
                            filter.visible_to, statuses, filter.label, filter.priority, filter.reader,
                            filter.assignee);
            else
                rows = exec(tx,
                            agents_view && status.empty() ? kConversationsVisible
                            : agents_view                 ? kConversationsVisibleWithStatus
                            : filter.assignee.empty()     ? kConversationsPage
                                                          : kConversationsUnassigned,
                            activity, id, status, filter.channel_id, limit + 1, filter.visible_to, statuses,
                            filter.label, filter.priority, filter.reader);
            for (const auto& r : rows) items.push_back(read_conversation_for_reader(r));
            if (filter.reader.empty())
                for (auto& c : items) c.read.reset();
            return items;
        });
        if (page.items.size() > static_cast<std::size_t>(limit)) {
            page.items.pop_back();
            page.next_cursor = conversation_cursor(page.items.back());
        }
        return page;
    }

    std::optional<Conversation> conversation_for(std::int64_t id, std::string_view reader) override {
        const std::string agent(reader);
        return autocommit([&](pqxx::nontransaction& tx) -> std::optional<Conversation> {
            auto r = exec(tx, kConversationForReader, id, agent);
            if (r.empty()) return std::nullopt;
            return read_conversation_for_reader(r[0]);
        });
    }

    Page<SearchHit> search(const SearchRequest& request) override {
        require_search_type(request.type);
        require_positive_limit(request.limit);
        const std::int64_t offset = parse_search_cursor(request.cursor);
        const std::string query = tsquery_text(request.terms);
        Page<SearchHit> page;
        page.items = autocommit([&](pqxx::nontransaction& tx) {
            std::vector<SearchHit> hits;
            const Sql& statement = request.type == "messages"        ? kSearchMessages
                                   : request.type == "conversations" ? kSearchConversations
                                                                     : kSearchContacts;
            // One more than asked tells whether another page exists.
            const auto rows = exec(tx, statement, query, request.visible_to, request.channel_id,
                                   request.status, request.limit + 1, offset);
            page.next_cursor = next_search_cursor(offset, rows.size(), request.limit);
            for (const auto& r : rows) {
                if (hits.size() == static_cast<std::size_t>(request.limit)) break;
                SearchHit hit;
                if (request.type == "messages") {
                    auto m = exec(tx, kMessageById, integer(r[0]));
                    if (m.empty()) continue;
                    hit.message = read_message(m[0]);
                    hit.conversation = conversation_by_id(tx, hit.message->conversation_id);
                } else if (request.type == "conversations") {
                    hit.conversation = conversation_by_id(tx, integer(r[0]));
                } else {
                    DomainSql statements(tx);
                    hit.contact = domain::contact(statements, integer(r[0]), request.visible_to);
                    if (!hit.contact) continue;
                }
                hits.push_back(std::move(hit));
            }
            return hits;
        });
        return page;
    }

    ConversationCounts conversation_counts(const ConversationFilter& filter) override {
        return autocommit([&](pqxx::nontransaction& tx) {
            ConversationCounts counts;
            for (const auto& r : exec(tx, kConversationCounts, filter.channel_id, filter.visible_to,
                                      filter.label, filter.priority))
                add_count(counts, filter, text(r[0]), text(r[1]), integer(r[2]));
            return counts;
        });
    }

    // --- contacts ---

    Page<Person> contacts(std::string_view visible_to, int limit, std::string_view cursor) override {
        return autocommit([&](pqxx::nontransaction& tx) {
            DomainSql statements(tx);
            return domain::contacts(statements, visible_to, limit, cursor);
        });
    }
    std::optional<Person> contact(std::int64_t id, std::string_view visible_to) override {
        return autocommit([&](pqxx::nontransaction& tx) {
            DomainSql statements(tx);
            return domain::contact(statements, id, visible_to);
        });
    }
    ContactOutcome update_contact(std::int64_t id, const ContactChange& change, std::string_view visible_to,
                                  std::string_view changed_by, std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::update_contact(statements, id, change, visible_to, changed_by, now_ms);
        });
    }
    MergeOutcome merge_contacts(std::int64_t into, std::int64_t from, std::string_view changed_by,
                                std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::merge_contacts(statements, into, from, changed_by, now_ms);
        });
    }
    MergeOutcome unmerge_contact(std::int64_t id, std::string_view changed_by, std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::unmerge_contact(statements, id, changed_by, now_ms);
        });
    }
    std::vector<MergeSuggestion> merge_suggestions(int limit) override {
        return autocommit([&](pqxx::nontransaction& tx) {
            DomainSql statements(tx);
            return domain::merge_suggestions(statements, limit);
        });
    }
    std::vector<ContactAttribute> contact_attributes() override {
        return autocommit([&](pqxx::nontransaction& tx) {
            DomainSql statements(tx);
            return statements.contact_attributes();
        });
    }
    std::optional<ContactAttribute> define_contact_attribute(const ContactAttribute& attribute,
                                                             std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::define_contact_attribute(statements, attribute, now_ms);
        });
    }
    bool delete_contact_attribute(std::string_view key) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return statements.delete_contact_attribute(key);
        });
    }

    Page<Message> messages(std::int64_t conversation_id, int limit, std::int64_t before_id) override {
        require_positive_limit(limit);
        Page<Message> page;
        page.items = autocommit([&](pqxx::nontransaction& tx) {
            std::vector<Message> items;
            for (const auto& r :
                 exec(tx, kMessagesPage, conversation_id, before_id > 0 ? before_id : kMaxInt64, limit + 1))
                items.push_back(read_message(r));
            return items;
        });
        if (page.items.size() > static_cast<std::size_t>(limit)) {
            page.items.pop_back();
            page.next_cursor = std::to_string(page.items.back().id);
        }
        return page;
    }

    std::optional<Message> message_by_platform_id(std::string_view channel_id,
                                                  std::string_view platform_id) override {
        return autocommit([&](pqxx::nontransaction& tx) {
            return message_by_platform_id(tx, std::string(channel_id), std::string(platform_id));
        });
    }

    // --- media (issue 16) ---

    std::optional<MediaRecord> add_media(const MediaRecord& media,
                                         const std::function<std::string(const MediaRecord&)>& content_for,
                                         std::optional<Event>* event) override {
        std::optional<Event> updated;
        auto added = transact([&](pqxx::work& tx) -> std::optional<MediaRecord> {
            if (exec(tx, kMessageById, media.message_id).empty()) return std::nullopt;
            auto added = insert_media(tx, media);
            if (!added) return std::nullopt;
            DomainSql statements(tx);
            updated =
                domain::media_settled(statements, media.message_id, content_for(*added), media.created_ms);
            return added;
        });
        if (event != nullptr) *event = std::move(updated);
        return added;
    }

    MediaRecord add_upload(const MediaRecord& upload) override {
        auto added = transact([&](pqxx::work& tx) { return insert_media(tx, upload); });
        if (!added) throw StoreError("PostgreSQL insert_media: the upload was not stored");
        return *added;
    }

    std::optional<MediaRecord> media(std::int64_t id) override {
        return autocommit([&](pqxx::nontransaction& tx) -> std::optional<MediaRecord> {
            auto r = exec(tx, kMediaById, id);
            if (r.empty()) return std::nullopt;
            return read_media(r[0]);
        });
    }

    std::vector<MediaRecord> claim_media(std::int64_t now_ms, std::int64_t lease_ms, int limit) override {
        return transact([&](pqxx::work& tx) {
            std::vector<MediaRecord> out;
            for (const auto& row : exec(tx, kClaimMedia, now_ms, now_ms + lease_ms, limit))
                out.push_back(read_media(row));
            std::sort(out.begin(), out.end(), [](const MediaRecord& a, const MediaRecord& b) {
                return a.next_attempt_ms != b.next_attempt_ms ? a.next_attempt_ms < b.next_attempt_ms
                                                              : a.id < b.id;
            });
            return out;
        });
    }

    void retry_media(std::int64_t id, std::int64_t next_attempt_ms, std::string_view error_message) override {
        transact([&](pqxx::work& tx) {
            exec(tx, kRetryMedia, id, next_attempt_ms, std::string(error_message));
            return 0;
        });
    }

    std::optional<Event> settle_media(const MediaRecord& m, std::string_view content_json,
                                      std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) -> std::optional<Event> {
            exec(tx, kSettleMedia, m.id, m.state, m.error, m.error_message, m.mime_type, m.size, m.file_name,
                 m.sha256, now_ms);
            if (m.message_id == 0) return std::nullopt;
            DomainSql statements(tx);
            return domain::media_settled(statements, m.message_id, std::string(content_json), now_ms);
        });
    }

    ExpiredMedia expire_media(std::int64_t before_ms, int limit,
                              const std::function<std::string(const MediaRecord&)>& content_for,
                              std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::expire_media(statements, before_ms, limit, content_for, now_ms);
        });
    }

    bool media_names(std::string_view sha256) override {
        return autocommit([&](pqxx::nontransaction& tx) {
            return !exec(tx, kMediaNamingSha, std::string(sha256)).empty();
        });
    }

    std::pair<Message, bool> insert_outbound(const OutboundMessage& m, std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) { return insert_outbound_in(tx, m, now_ms); });
    }

    // One transaction for the batch, in conversation order (concurrent batches then lock the
    // conversations they share in the same order). A deadlock or other failure fails the batch;
    // the caller retries its messages one by one.
    std::vector<OutboundResult> insert_outbound_batch(std::span<const OutboundMessage> messages,
                                                      std::int64_t now_ms) override {
        std::vector<std::size_t> order(messages.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return messages[a].conversation_id < messages[b].conversation_id;
        });
        return transact([&](pqxx::work& tx) {
            std::vector<OutboundResult> results(messages.size());
            for (std::size_t i : order) {
                try {
                    auto [stored, created] = insert_outbound_in(tx, messages[i], now_ms);
                    if (created && messages[i].announce) {
                        DomainSql statements(tx);
                        results[i].event =
                            domain::announce_sent(statements, stored, messages[i].origin, now_ms);
                    }
                    results[i].message = std::move(stored);
                    results[i].created = created;
                } catch (const std::invalid_argument& e) {  // a look-up found nothing: tx still good
                    results[i].error = e.what();
                }
            }
            return results;
        });
    }

    std::optional<Message> outbound_by_idempotency_key(std::string_view sender_id,
                                                       std::int64_t conversation_id,
                                                       std::string_view key) override {
        return autocommit([&](pqxx::nontransaction& tx) {
            return outbound_by_idempotency_key(tx, std::string(sender_id), conversation_id, std::string(key));
        });
    }

    KeyClaim claim_idempotency_key(std::string_view sender_id, std::int64_t conversation_id,
                                   std::string_view key, std::string_view request_hash,
                                   std::int64_t now_ms) override {
        const std::string sender(sender_id), idem(key), hash(request_hash);
        return transact([&](pqxx::work& tx) {
            KeyClaim claim;
            if (!exec(tx, kClaimIdempotencyKey, sender, conversation_id, idem, hash, now_ms).empty())
                return claim;
            auto r = exec(tx, kIdempotencyKey, sender, conversation_id, idem);
            if (r.empty()) throw StoreError("idempotency key vanished while being claimed");
            const std::string stored_hash = text(r[0][0]);
            if (!stored_hash.empty() && stored_hash != hash) {
                claim.state = KeyClaim::State::mismatch;
            } else if (text(r[0][1]) == "in_progress") {
                claim.state = KeyClaim::State::in_progress;
                claim.claimed_ms = integer(r[0][3]);
            } else {
                claim.state = KeyClaim::State::done;
                auto m = exec(tx, kMessageById, integer(r[0][2]));
                if (!m.empty()) claim.message = read_message(m[0]);
            }
            return claim;
        });
    }

    RetryClaim claim_retry(std::int64_t conversation_id, std::int64_t message_id, std::int64_t now_ms,
                           std::int64_t stale_before_ms) override {
        return transact([&](pqxx::work& tx) {
            RetryClaim claim;
            auto r = exec(tx, kOutboundInConversation, message_id, conversation_id);
            if (r.empty()) return claim;
            claim.message = read_message(r[0]);
            claim.state = retryable(*claim.message, integer(r[0][kAfterMessageColumns]), stale_before_ms)
                              ? RetryClaim::State::claimed
                              : RetryClaim::State::not_retryable;
            if (claim.state == RetryClaim::State::claimed) exec(tx, kMarkSending, message_id, now_ms);
            return claim;
        });
    }

    std::optional<Message> settle_retry(std::int64_t message_id, const OutboundMessage& outcome) override {
        return autocommit([&](pqxx::nontransaction& tx) -> std::optional<Message> {
            auto r = exec(tx, kSettleRetry, message_id, or_null(outcome.platform_id), outcome.status,
                          outcome.error_code, outcome.error_message);
            if (r.empty()) return std::nullopt;
            return read_message(r[0]);
        });
    }

    void release_idempotency_key(std::string_view sender_id, std::int64_t conversation_id,
                                 std::string_view key) override {
        autocommit([&](pqxx::nontransaction& tx) {
            exec(tx, kReleaseIdempotencyKey, std::string(sender_id), conversation_id, std::string(key));
            return 0;
        });
    }

    StatusOutcome change_status(std::int64_t id, std::string_view status, std::string_view changed_by,
                                std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::change_status(statements, id, status, changed_by, now_ms);
        });
    }

    std::vector<Label> labels() override {
        return autocommit([](pqxx::nontransaction& tx) {
            std::vector<Label> out;
            for (const auto& r : exec(tx, kLabels))
                out.push_back(Label{text(r[0]), text(r[1]), text(r[2]), integer(r[3])});
            return out;
        });
    }

    std::optional<Label> create_label(const Label& label, std::int64_t now_ms) override {
        Label created{domain::label_name(label.name), label.color, label.description, now_ms};
        domain::check_label_color(created.color);
        return transact([&](pqxx::work& tx) -> std::optional<Label> {
            if (exec(tx, kInsertLabel, created.name, created.color, created.description, now_ms).empty())
                return std::nullopt;
            return created;
        });
    }

    std::optional<Label> update_label(std::string_view name, const std::optional<std::string>& color,
                                      const std::optional<std::string>& description) override {
        if (color) domain::check_label_color(*color);
        return transact([&](pqxx::work& tx) -> std::optional<Label> {
            auto r = exec(tx, kUpdateLabel, domain::label_name(name), color ? color->c_str() : nullptr,
                          description ? description->c_str() : nullptr);
            if (r.empty()) return std::nullopt;
            return Label{text(r[0][0]), text(r[0][1]), text(r[0][2]), integer(r[0][3])};
        });
    }

    bool delete_label(std::string_view name) override {
        const std::string label = domain::label_name(name);
        return transact([&](pqxx::work& tx) {
            exec(tx, kDeleteConversationLabels, label);
            return exec(tx, kDeleteLabel, label).affected_rows() > 0;
        });
    }

    LabelOutcome label_conversation(std::int64_t conversation_id, std::string_view label, bool add,
                                    std::string_view changed_by, std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::label_conversation(statements, conversation_id, label, add, changed_by, now_ms);
        });
    }

    std::vector<CannedReply> canned_replies(std::string_view owner_id, std::string_view prefix) override {
        const std::string from = domain::canned_prefix(prefix), to = domain::canned_prefix_end(from);
        return autocommit([&](pqxx::nontransaction& tx) {
            std::vector<CannedReply> out;
            for (const auto& r : exec(tx, kCannedReplies, from, to, std::string(owner_id)))
                out.push_back(read_canned(r));
            return out;
        });
    }

    std::optional<CannedReply> canned_reply(std::int64_t id) override {
        return autocommit([&](pqxx::nontransaction& tx) -> std::optional<CannedReply> {
            auto r = exec(tx, kCannedReply, id);
            if (r.empty()) return std::nullopt;
            return read_canned(r[0]);
        });
    }

    std::optional<CannedReply> create_canned_reply(const CannedReply& reply, std::int64_t now_ms) override {
        CannedReply created = domain::new_canned_reply(reply, now_ms);
        return transact([&](pqxx::work& tx) -> std::optional<CannedReply> {
            auto r = exec(tx, kInsertCannedReply, created.shortcode, created.text, created.scope,
                          created.owner_id, now_ms);
            if (r.empty()) return std::nullopt;
            CannedReply stored = created;
            stored.id = integer(r[0][0]);
            return stored;
        });
    }

    CannedOutcome update_canned_reply(std::int64_t id, const CannedChange& change,
                                      std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::update_canned_reply(statements, id, change, now_ms);
        });
    }

    bool delete_canned_reply(std::int64_t id) override {
        return transact([&](pqxx::work& tx) { return exec(tx, kDeleteCannedReply, id).affected_rows() > 0; });
    }

    NoteOutcome add_note(const NewNote& note, std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::add_note(statements, note, now_ms);
        });
    }

    ReadOutcome mark_read(std::int64_t conversation_id, std::string_view agent_id, std::int64_t message_id,
                          std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::mark_read(statements, conversation_id, agent_id, message_id, now_ms);
        });
    }

    ReadOutcome mark_unread(std::int64_t conversation_id, std::string_view agent_id,
                            std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::mark_unread(statements, conversation_id, agent_id, now_ms);
        });
    }

    UpdateOutcome update_conversation(std::int64_t id, const ConversationChange& change,
                                      std::string_view changed_by, std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::update(statements, id, change, changed_by, now_ms);
        });
    }

    std::vector<Event> wake_snoozed(std::int64_t now_ms, int limit) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::wake_snoozed(statements, now_ms, limit);
        });
    }

    std::optional<Conversation> assign_conversation(std::int64_t id, std::string_view agent_id) override {
        const std::string agent(agent_id);
        return autocommit([&](pqxx::nontransaction& tx) {
            exec(tx, kAssignConversation, id, or_null(agent));
            return conversation_by_id(tx, id);
        });
    }

    // --- events ---

    // Sequence values are taken when an event is inserted, not when its transaction commits.
    // With several writers (pool connections, other instances) a reader can therefore see seq
    // 11 before 10 commits: the result is in seq order but need not be contiguous, and an
    // older seq may still appear after a newer one was returned. A reader must not assume
    // contiguity or treat the highest seq it saw as "everything below is done"; the reader
    // that closes the gap (re-reading recent seqs for a while) belongs to the multi-instance
    // fan-out, not here.
    std::vector<Event> events_after(std::int64_t after_seq, int limit) override {
        if (limit < 1) return {};
        return autocommit([&](pqxx::nontransaction& tx) {
            std::vector<Event> events;
            for (const auto& r : exec(tx, kEventsAfter, after_seq, limit)) events.push_back(read_event(r));
            return events;
        });
    }

    std::int64_t last_seq() override {
        return autocommit([](pqxx::nontransaction& tx) { return integer(exec(tx, kLastSeq).at(0)[0]); });
    }

    std::int64_t prune_events(std::int64_t before_ms) override {
        return transact([&](pqxx::work& tx) {
            return static_cast<std::int64_t>(exec(tx, kPruneEvents, before_ms).affected_rows());
        });
    }

    std::int64_t first_seq() override {
        return autocommit([](pqxx::nontransaction& tx) { return integer(exec(tx, kFirstSeq).at(0)[0]); });
    }

    // --- agents ---

    Agent create_agent(std::string_view name, std::string_view role, std::int64_t now_ms) override {
        Agent agent = domain::new_agent(name, role, now_ms);
        // A transaction, not autocommit: a retry after a lost connection must not fail on an
        // insert that did commit.
        transact(
            [&](pqxx::work& tx) { return exec(tx, kInsertAgent, agent.id, agent.name, agent.role, now_ms); });
        return agent;
    }

    std::vector<Agent> agents() override {
        return autocommit([](pqxx::nontransaction& tx) {
            std::vector<Agent> out;
            for (const auto& r : exec(tx, kAgents))
                out.push_back(Agent{text(r[0]), text(r[1]), text(r[2]), integer(r[3]), text(r[4])});
            return out;
        });
    }

    bool set_availability(std::string_view agent_id, std::string_view availability) override {
        domain::check_availability(availability);
        return autocommit([&](pqxx::nontransaction& tx) {
            return exec(tx, kSetAvailability, std::string(agent_id), std::string(availability))
                       .affected_rows() > 0;
        });
    }

    std::optional<std::vector<Event>> delete_agent(std::string_view id, std::string_view deleted_by,
                                                   std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::delete_agent(statements, id, deleted_by, now_ms);
        });
    }

    std::optional<AgentToken> add_token(std::string_view agent_id, std::string_view token_hash,
                                        std::string_view label, std::int64_t now_ms,
                                        std::int64_t expires_ms) override {
        const AgentToken token = domain::new_token(agent_id, label, now_ms, expires_ms);
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::add_token(statements, token, token_hash);
        });
    }

    bool revoke_token(std::string_view agent_id, std::string_view token_id, std::int64_t now_ms) override {
        return autocommit([&](pqxx::nontransaction& tx) {
            return exec(tx, kRevokeToken, std::string(agent_id), std::string(token_id), now_ms)
                       .affected_rows() > 0;
        });
    }

    std::vector<TokenGrant> active_tokens() override {
        return autocommit([](pqxx::nontransaction& tx) {
            std::vector<TokenGrant> out;
            for (const auto& r : exec(tx, kActiveTokens))
                out.push_back(TokenGrant{text(r[0]), text(r[1]),
                                         Agent{text(r[2]), text(r[3]), text(r[4]), integer(r[5])},
                                         integer(r[6])});
            return out;
        });
    }

    AssignOutcome assign(std::int64_t conversation_id, std::string_view agent_id,
                         std::optional<std::string> expected, std::string_view assigned_by,
                         std::int64_t now_ms) override {
        return transact([&](pqxx::work& tx) {
            DomainSql statements(tx);
            return domain::assign(statements, conversation_id, agent_id, expected, assigned_by, now_ms);
        });
    }

    std::vector<std::pair<std::string, int>> open_counts() override {
        return autocommit([](pqxx::nontransaction& tx) {
            std::vector<std::pair<std::string, int>> out;
            for (const auto& r : exec(tx, kOpenCounts))
                out.emplace_back(text(r[0]), static_cast<int>(integer(r[1])));
            return out;
        });
    }

private:
    // Runs `work` with a pooled connection. When the connection broke before anything could
    // have committed, or the server rolled the work back (deadlock), runs it once more on
    // another connection; a second failure, a failure on a connection made for this very call
    // (the database is likely down), or a COMMIT whose outcome is unknown is the caller's.
    template <typename Work>
    auto with_connection(Work&& work) -> std::invoke_result_t<Work&, pqxx::connection&> {
        for (int attempt = 0;; ++attempt) {
            ConnectionPool::Lease lease = pool_.checkout();
            try {
                return work(*lease);
            } catch (const PgError& e) {
                if (e.broken()) lease.mark_broken();
                const bool retry = e.retryable() && attempt == 0 && (!e.broken() || !lease.fresh());
                if (!retry) throw;
            }
        }
    }

    // One transaction (BEGIN … COMMIT); rolled back if `work` throws.
    template <typename Work>
    auto transact(Work&& work) -> std::invoke_result_t<Work&, pqxx::work&> {
        return with_connection([&](pqxx::connection& conn) {
            std::optional<pqxx::work> tx;
            try {
                tx.emplace(conn);
            } catch (const pqxx::failure&) {
                rethrow_as_store_error("begin", conn);
            }
            auto result = work(*tx);
            try {
                tx->commit();
            } catch (const pqxx::failure&) {
                rethrow_as_store_error("commit", conn);
            }
            return result;
        });
    }

    // Statements run one by one in autocommit: for reads and idempotent writes only, since
    // with_connection() may run them again after a lost connection.
    template <typename Work>
    auto autocommit(Work&& work) -> std::invoke_result_t<Work&, pqxx::nontransaction&> {
        return with_connection([&](pqxx::connection& conn) {
            pqxx::nontransaction tx(conn);
            return work(tx);
        });
    }

    // A statement that is not prepared (DDL, or run once per migrate()).
    template <typename... Args>
    static pqxx::result plain(pqxx::transaction_base& tx, const Sql& sql, Args&&... args) {
        try {
            // Without parameters through the simple protocol: a migration is several statements.
            if constexpr (sizeof...(Args) == 0)
                return tx.exec(sql.text);
            else
                return tx.exec_params(sql.text, std::forward<Args>(args)...);
        } catch (const pqxx::failure&) {
            rethrow_as_store_error(sql.name, tx.conn());
        }
    }

    // After migration 13's SQL: the rows stored before it get what they are found by
    // (domain/search.hpp), a thousand at a time.
    static void index_stored_rows(pqxx::transaction_base& tx) {
        auto in_batches = [&](const Sql& select, const Sql& update, auto&& search_text_of) {
            for (std::int64_t after = 0;;) {
                const auto rows = plain(tx, select, after);
                if (rows.empty()) return;
                rapidjson::StringBuffer buffer;
                rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
                w.StartArray();
                for (const auto& r : rows) {
                    const std::string t = search_text_of(r);
                    w.StartObject();
                    w.Key("id");
                    w.Int64(integer(r[0]));
                    w.Key("t");
                    w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
                    w.EndObject();
                }
                w.EndArray();
                plain(tx, update, std::string(buffer.GetString(), buffer.GetSize()));
                after = integer(rows[rows.size() - 1][0]);
            }
        };
        in_batches(kUnindexedMessages, kIndexMessages,
                   [](const pqxx::row& r) { return domain::message_search_text(text(r[1])); });
        in_batches(kUnindexedContacts, kIndexContacts,
                   [](const pqxx::row& r) { return domain::contact_search_text(read_identity(r, false)); });
        in_batches(kUnindexedConversations, kIndexConversations, [](const pqxx::row& r) {
            Identity contact;
            contact.name = text(r[2]);
            contact.username = text(r[3]);
            contact.phone = text(r[4]);
            return domain::conversation_search_text(text(r[1]), contact);
        });
    }

    static std::optional<Conversation> conversation_by_id(pqxx::transaction_base& tx, std::int64_t id) {
        auto r = exec(tx, kConversationById, id);
        if (r.empty()) return std::nullopt;
        return read_conversation(r[0]);
    }

    static std::optional<MediaRecord> insert_media(pqxx::transaction_base& tx, const MediaRecord& m) {
        auto r = exec(tx, kInsertMedia, m.origin, m.message_id, m.conversation_id, m.channel_id, m.state,
                      m.mime_type, m.size, m.file_name, m.sha256, m.source_json, m.uploaded_by,
                      m.next_attempt_ms, m.created_ms);
        if (r.empty()) return std::nullopt;
        return read_media(r[0]);
    }

    static std::optional<Message> message_by_platform_id(pqxx::transaction_base& tx,
                                                         const std::string& channel_id,
                                                         const std::string& platform_id) {
        auto r = exec(tx, kMessageByPlatformId, channel_id, platform_id);
        if (r.empty()) return std::nullopt;
        return read_message(r[0]);
    }

    static std::optional<Message> outbound_by_idempotency_key(pqxx::transaction_base& tx,
                                                              const std::string& sender_id,
                                                              std::int64_t conversation_id,
                                                              const std::string& key) {
        auto r = exec(tx, kMessageByIdempotencyKey, sender_id, conversation_id, key);
        if (r.empty()) return std::nullopt;
        return read_message(r[0]);
    }

    // insert_outbound() inside the caller's transaction. A conversation that does not exist is
    // std::invalid_argument, found by a look-up before anything is written.
    static std::pair<Message, bool> insert_outbound_in(pqxx::work& tx, const OutboundMessage& m,
                                                       std::int64_t now_ms) {
        if (!m.idempotency_key.empty()) {
            exec(tx, kLockIdempotencyKey, m.sender_id, m.idempotency_key);
            if (auto existing =
                    outbound_by_idempotency_key(tx, m.sender_id, m.conversation_id, m.idempotency_key))
                return {std::move(*existing), false};
        }
        auto channel = exec(tx, kConversationChannel, m.conversation_id);
        if (channel.empty())
            throw std::invalid_argument(fmt::format("conversation {} does not exist", m.conversation_id));
        const std::string channel_id = text(channel[0][0]);
        const std::string status = m.status.empty() ? std::string("sent") : m.status;
        Message stored =
            read_message(exec(tx, kInsertOutbound, m.conversation_id, channel_id, or_null(m.platform_id),
                              m.sender_id, m.sender_name, m.content_json, m.reply_to, status, m.error_code,
                              now_ms, or_null(m.idempotency_key), m.error_message, or_null(m.outbound_id),
                              domain::message_search_text(m.content_json))
                             .at(0));
        if (!m.idempotency_key.empty())
            exec(tx, kCompleteIdempotencyKey, m.sender_id, m.conversation_id, m.idempotency_key, stored.id);
        exec(tx, kTouchConversation, m.conversation_id, now_ms, stored.id);
        return {std::move(stored), true};
    }

    // kLockApplyKeys's argument: the distinct channels the rows write to.
    static std::string lock_keys(std::span<const ParsedRow> rows) {
        std::vector<std::string> channels;
        for (const auto& row : rows)
            if (!row.events.empty()) channels.push_back(row.channel_id);
        std::sort(channels.begin(), channels.end());
        channels.erase(std::unique(channels.begin(), channels.end()), channels.end());
        std::string keys;
        for (const auto& channel : channels) {
            if (!keys.empty()) keys += '\n';
            keys += channel;
        }
        return keys;
    }

    // The domain rules' statements (domain/statements.hpp) inside the caller's transaction.
    class DomainSql final : public domain::Statements {
    public:
        explicit DomainSql(pqxx::transaction_base& tx) : tx_(tx) {}

        domain::StoredIdentity upsert_contact(std::string_view channel_id, const sb::events::Party& sender,
                                              std::int64_t now_ms) override {
            auto row = exec(tx_, kUpsertContact, std::string(channel_id), sender.id, sender.name,
                            sender.username, sender.phone, now_ms)
                           .at(0);
            return {read_identity(row), text(row[8])};
        }
        domain::StoredConversation upsert_conversation(std::string_view channel_id,
                                                       const sb::events::NormalizedEvent& ev,
                                                       std::optional<std::int64_t> contact_id,
                                                       std::int64_t now_ms) override {
            const std::string contact =
                contact_id ? std::to_string(*contact_id) : std::string();  // "" = NULL
            auto row = exec(tx_, kUpsertConversation, std::string(channel_id), ev.conversation_id,
                            ev.conversation_kind, ev.conversation_title, or_null(contact), now_ms)
                           .at(0);
            return {integer(row[0]), text(row[1]), text(row[2]), integer(row[3]), text(row[4])};
        }
        void set_contact_search_text(std::int64_t contact_id, std::string_view text) override {
            exec(tx_, kSetContactSearchText, contact_id, std::string(text));
        }
        void set_conversation_search_text(std::int64_t conversation_id, std::string_view text) override {
            exec(tx_, kSetConversationSearchText, conversation_id, std::string(text));
        }
        std::int64_t insert_person(std::int64_t now_ms) override {
            return integer(exec(tx_, kInsertPerson, now_ms).at(0)[0]);
        }
        void set_identity_person(std::int64_t identity_id, std::int64_t person_id) override {
            exec(tx_, kSetIdentityPerson, identity_id, person_id);
        }
        void set_identity_phone_digits(std::int64_t identity_id, std::string_view digits) override {
            exec(tx_, kSetIdentityPhoneDigits, identity_id, std::string(digits));
        }
        std::optional<Person> lock_person(std::int64_t id) override {
            auto r = exec(tx_, kLockPerson, id);
            if (r.empty()) return std::nullopt;
            return read_person(r[0]);
        }
        void save_person(const Person& p, std::string_view search_text) override {
            exec(tx_, kSavePerson, p.id, p.name, p.email, p.phone, p.company, p.notes, p.attributes_json,
                 p.merged_into, p.updated_ms, std::string(search_text));
        }
        std::vector<Identity> identities(std::int64_t person_id, bool first) override {
            std::vector<Identity> out;
            for (const auto& r : exec(tx_, first ? kIdentitiesFirstOf : kIdentitiesOf, person_id))
                out.push_back(read_identity(r));
            return out;
        }
        std::vector<std::int64_t> merged_into(std::int64_t person_id) override {
            std::vector<std::int64_t> out;
            for (const auto& r : exec(tx_, kMergedInto, person_id)) out.push_back(integer(r[0]));
            return out;
        }
        std::vector<std::pair<std::int64_t, std::string>> person_conversations(
            std::int64_t person_id) override {
            std::vector<std::pair<std::int64_t, std::string>> out;
            for (const auto& r : exec(tx_, kPersonConversations, person_id))
                out.emplace_back(integer(r[0]), text(r[1]));
            return out;
        }
        std::vector<std::int64_t> visible_people(std::string_view visible_to, std::int64_t before_id,
                                                 int limit) override {
            std::vector<std::int64_t> out;
            for (const auto& r : exec(tx_, kVisiblePeople, std::string(visible_to),
                                      before_id == 0 ? kMaxInt64 : before_id, limit))
                out.push_back(integer(r[0]));
            return out;
        }
        std::vector<MergeSuggestion> people_sharing_a_phone(int limit) override {
            std::vector<MergeSuggestion> out;
            for (const auto& r : exec(tx_, kPeopleSharingAPhone, limit))
                out.push_back({integer(r[0]), integer(r[1]), text(r[2])});
            return out;
        }
        std::vector<ContactAttribute> contact_attributes() override {
            std::vector<ContactAttribute> out;
            for (const auto& r : exec(tx_, kContactAttributes))
                out.push_back({text(r[0]), text(r[1]), text(r[2]), integer(r[3])});
            return out;
        }
        bool insert_contact_attribute(const ContactAttribute& a) override {
            return !exec(tx_, kInsertContactAttribute, a.key, a.type, a.label, a.created_ms).empty();
        }
        bool delete_contact_attribute(std::string_view key) override {
            return !exec(tx_, kDeleteContactAttribute, std::string(key)).empty();
        }
        std::optional<std::int64_t> insert_message(const Message& m) override {
            auto inserted =
                exec(tx_, kInsertMessage, m.conversation_id, m.channel_id, or_null(m.platform_id),
                     m.direction, m.sender_id, m.sender_name, m.content_json, m.reply_to, m.status,
                     m.platform_ts_ms, m.created_ms, m.kind, domain::message_search_text(m.content_json));
            if (inserted.empty()) return std::nullopt;
            return integer(inserted[0][0]);
        }
        std::optional<Message> complete_outbound(std::string_view channel_id, std::string_view outbound_id,
                                                 std::string_view platform_id) override {
            auto completed = exec(tx_, kCompleteByOutboundId, std::string(channel_id),
                                  std::string(outbound_id), std::string(platform_id));
            if (completed.empty()) return std::nullopt;
            return read_message(completed[0]);
        }
        void touch_conversation(std::int64_t conversation_id, std::int64_t now_ms,
                                std::int64_t message_id) override {
            const std::string id = message_id != 0 ? std::to_string(message_id) : std::string();  // "" = NULL
            exec(tx_, kTouchConversation, conversation_id, now_ms, or_null(id));
        }
        std::optional<Conversation> conversation(std::int64_t id) override {
            return conversation_by_id(tx_, id);
        }
        std::optional<Message> message_by_platform_id(std::string_view channel_id,
                                                      std::string_view platform_id) override {
            return PgStore::message_by_platform_id(tx_, std::string(channel_id), std::string(platform_id));
        }
        std::vector<MediaRecord> settled_media_before(std::int64_t before_ms, int limit) override {
            std::vector<MediaRecord> out;
            for (const auto& row : exec(tx_, kExpiredMedia, before_ms, limit)) out.push_back(read_media(row));
            return out;
        }
        void delete_media(std::int64_t id) override { exec(tx_, kDeleteMedia, id); }
        bool media_names(std::string_view sha256) override {
            return !exec(tx_, kMediaNamingSha, std::string(sha256)).empty();
        }
        std::optional<Message> message_by_id(std::int64_t message_id) override {
            auto r = exec(tx_, kMessageById, message_id);
            if (r.empty()) return std::nullopt;
            return read_message(r[0]);
        }
        std::vector<Message> outbound_up_to(std::string_view channel_id,
                                            std::string_view conversation_platform_id,
                                            std::int64_t watermark_ms) override {
            std::vector<Message> sent;
            for (const auto& row : exec(tx_, kOutboundUpTo, std::string(channel_id),
                                        std::string(conversation_platform_id), watermark_ms))
                sent.push_back(read_message(row));
            return sent;
        }
        void update_message_content(const Message& m) override {
            exec(tx_, kUpdateMessageContent, m.id, m.content_json, m.edited_ms,
                 domain::message_search_text(m.content_json));
        }
        void update_message_status(const Message& m) override {
            exec(tx_, kUpdateMessageStatus, m.id, m.status, m.error_code);
        }
        void update_message_reactions(const Message& m) override {
            exec(tx_, kUpdateMessageReactions, m.id, m.reactions_json);
        }
        std::optional<std::string> lock_assignee(std::int64_t conversation_id) override {
            auto found = exec(tx_, kAssigneeOfForUpdate, conversation_id);
            if (found.empty()) return std::nullopt;
            return text(found[0][0]);
        }
        std::vector<std::int64_t> assigned_to(std::string_view agent_id) override {
            std::vector<std::int64_t> out;
            for (const auto& r : exec(tx_, kAssignedTo, std::string(agent_id))) out.push_back(integer(r[0]));
            return out;
        }
        bool agent_exists(std::string_view agent_id) override {
            return !exec(tx_, kAgentById, std::string(agent_id)).empty();
        }
        bool delete_agent(std::string_view agent_id, std::int64_t now_ms) override {
            return exec(tx_, kDeleteAgent, std::string(agent_id), now_ms).affected_rows() > 0;
        }
        void revoke_agent_tokens(std::string_view agent_id, std::int64_t now_ms) override {
            exec(tx_, kRevokeAgentTokens, std::string(agent_id), now_ms);
        }
        void insert_token(const AgentToken& token, std::string_view token_hash) override {
            exec(tx_, kInsertToken, token.id, token.agent_id, std::string(token_hash), token.label,
                 token.created_ms, token.expires_ms);
        }
        void set_assignee(std::int64_t conversation_id, std::string_view agent_id) override {
            const std::string agent(agent_id);
            exec(tx_, kAssignConversation, conversation_id, or_null(agent));
        }
        void set_status(std::int64_t conversation_id, std::string_view status,
                        std::int64_t snoozed_until_ms) override {
            exec(tx_, kSetConversationStatus, conversation_id, std::string(status), snoozed_until_ms);
        }
        void set_priority(std::int64_t conversation_id, std::string_view priority) override {
            exec(tx_, kSetPriority, conversation_id, std::string(priority));
        }
        void set_blocked(std::int64_t conversation_id, std::int64_t blocked_ms) override {
            exec(tx_, kSetBlocked, conversation_id, blocked_ms);
        }
        std::vector<std::int64_t> snoozed_due(std::int64_t now_ms, int limit) override {
            std::vector<std::int64_t> ids;
            for (const auto& r : exec(tx_, kSnoozedDue, now_ms, limit)) ids.push_back(integer(r[0]));
            return ids;
        }
        std::optional<Conversation> conversation_for(std::int64_t id, std::string_view reader) override {
            auto r = exec(tx_, kConversationForReader, id, std::string(reader));
            if (r.empty()) return std::nullopt;
            return read_conversation_for_reader(r[0]);
        }
        bool label_exists(std::string_view name) override {
            return !exec(tx_, kLabelExists, std::string(name)).empty();
        }
        bool add_label(std::int64_t conversation_id, std::string_view name) override {
            return exec(tx_, kAddLabel, conversation_id, std::string(name)).affected_rows() > 0;
        }
        bool remove_label(std::int64_t conversation_id, std::string_view name) override {
            return exec(tx_, kRemoveLabel, conversation_id, std::string(name)).affected_rows() > 0;
        }
        bool message_in(std::int64_t conversation_id, std::int64_t message_id) override {
            return !exec(tx_, kMessageIn, conversation_id, message_id).empty();
        }
        std::int64_t newest_message(std::int64_t conversation_id, bool inbound_only,
                                    std::int64_t below) override {
            auto r = exec(tx_, inbound_only ? kNewestInbound : kNewestMessage, conversation_id,
                          below != 0 ? below : kMaxInt64);
            return r.empty() ? 0 : integer(r[0][0]);
        }
        std::int64_t read_position(std::int64_t conversation_id, std::string_view agent_id) override {
            auto r = exec(tx_, kReadPosition, conversation_id, std::string(agent_id));
            return r.empty() ? 0 : integer(r[0][0]);
        }
        void set_read_position(std::int64_t conversation_id, std::string_view agent_id,
                               std::int64_t message_id, std::int64_t now_ms) override {
            exec(tx_, kSetReadPosition, conversation_id, std::string(agent_id), message_id, now_ms);
        }
        std::optional<CannedReply> lock_canned_reply(std::int64_t id) override {
            auto r = exec(tx_, kLockCannedReply, id);
            if (r.empty()) return std::nullopt;
            return read_canned(r[0]);
        }
        bool canned_shortcode_taken(const CannedReply& reply) override {
            return !exec(tx_, kCannedShortcodeTaken, reply.scope, reply.owner_id, reply.shortcode, reply.id)
                        .empty();
        }
        void save_canned_reply(const CannedReply& reply) override {
            exec(tx_, kSaveCannedReply, reply.id, reply.shortcode, reply.text, reply.updated_ms);
        }
        using Statements::append_event;
        Event append_event(std::string_view type, std::int64_t conversation_id, const std::string& data,
                           std::int64_t now_ms, const std::optional<std::string>& audience,
                           std::string_view origin) override {
            const std::string type_text(type);
            // NULL: the conversation's assignee now (kInsertEvent).
            const char* audience_or_null = audience ? audience->c_str() : nullptr;
            auto r = exec(tx_, kInsertEvent, type_text, conversation_id, now_ms, data, audience_or_null,
                          std::string(origin))
                         .at(0);
            return Event{integer(r[0]), type_text,  conversation_id,    now_ms,
                         data,          text(r[1]), std::string(origin)};
        }

    private:
        pqxx::transaction_base& tx_;
    };

    // For the list with q=: the conversations a tsquery matches (by their title and contact, or
    // by a message) as an array literal of ids, or nullopt when it matches more than
    // list_match_bound_ messages or ten times as many conversations (see kConversationsAmong).
    std::optional<std::string> matching_conversations(pqxx::transaction_base& tx, const std::string& query) {
        if (integer(exec(tx, kCountMessageMatches, query, list_match_bound_ + 1).at(0)[0]) >
            list_match_bound_)
            return std::nullopt;
        // Conversations are matched by a column of their own (no message to look up per match), so
        // ten times as many are collected before walking pays.
        const int conversation_bound = 10 * list_match_bound_;
        const auto conversations = exec(tx, kConversationMatches, query, conversation_bound + 1);
        if (conversations.size() > static_cast<std::size_t>(conversation_bound)) return std::nullopt;
        std::string ids = "{";
        auto add = [&](const pqxx::row& r) {
            if (ids.size() > 1) ids += ',';
            ids += r[0].c_str();
        };
        for (const auto& r : conversations) add(r);
        for (const auto& r : exec(tx, kMessageMatchConversations, query)) add(r);
        return ids + '}';
    }

    ConnectionPool pool_;
    int list_match_bound_;
};

}  // namespace

std::unique_ptr<Store> open_postgres(const std::string& dsn, int pool_size, Tuning tuning) {
    return std::make_unique<PgStore>(dsn, pool_size, tuning);
}

namespace postgres {

std::vector<std::int64_t> event_seqs_between(pqxx::connection_base& conn, std::int64_t after,
                                             std::int64_t up_to) {
    pqxx::nontransaction tx(conn);
    std::vector<std::int64_t> seqs;
    for (const auto& r : tx.exec_params(kEventSeqsBetween.text, after, up_to)) seqs.push_back(integer(r[0]));
    tx.commit();
    return seqs;
}

std::vector<Event> events_with_seqs(pqxx::connection_base& conn, const std::vector<std::int64_t>& seqs) {
    std::string array = "{";
    for (auto seq : seqs) {
        if (array.size() > 1) array += ',';
        array += std::to_string(seq);
    }
    array += '}';
    pqxx::nontransaction tx(conn);
    std::vector<Event> events;
    for (const auto& r : tx.exec_params(kEventsWithSeqs.text, array)) events.push_back(read_event(r));
    tx.commit();
    return events;
}

std::vector<Event> events_after(pqxx::connection_base& conn, std::int64_t after_seq, int limit) {
    pqxx::nontransaction tx(conn);
    std::vector<Event> events;
    for (const auto& r : tx.exec_params(kEventsAfter.text, after_seq, limit)) events.push_back(read_event(r));
    tx.commit();
    return events;
}

void notify(pqxx::connection_base& conn, const std::string& channel, const std::string& payload) {
    pqxx::nontransaction tx(conn);
    tx.exec_params(kNotify.text, channel, payload);
}

}  // namespace postgres

}  // namespace sb::store
