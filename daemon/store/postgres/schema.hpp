#pragma once
// The PostgreSQL schema as an ordered list of migrations: the same tables and meanings as
// store/sqlite/schema.hpp, in PostgreSQL's types. The table schema_version holds one row per
// migration applied; migrate() applies the rest in one transaction under an advisory lock, so
// daemons starting together do not race. Never edit a migration that has shipped: append a
// new one.

#include <array>
#include <cstdint>

namespace sb::store::pg_schema {

struct Migration {
    int version;
    const char* sql;
};

// The key of the transaction-level advisory lock migrate() holds ("swbdmigr" in ASCII). The
// one-bigint key space is ours alone; pg_store.cpp uses the two-int4 space for other locks.
inline constexpr std::int64_t kMigrationLockKey = 0x73776264'6d696772;

inline constexpr std::array kMigrations{
    Migration{1, R"sql(
CREATE TABLE inbound_queue (
    id              BIGSERIAL PRIMARY KEY,
    channel_id      TEXT    NOT NULL,
    method          TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    headers         TEXT    NOT NULL,
    body            BYTEA   NOT NULL,
    received_ms     BIGINT  NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'claimed', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    available_at_ms BIGINT  NOT NULL,
    lease_until_ms  BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    failed_ms       BIGINT  NOT NULL DEFAULT 0
);
-- Live rows only, so that dead letters piling up never slow down claim() or queue_depth().
CREATE INDEX inbound_queue_live ON inbound_queue (id) WHERE state <> 'dead';

CREATE TABLE contacts (
    id          BIGSERIAL PRIMARY KEY,
    channel_id  TEXT   NOT NULL,
    platform_id TEXT   NOT NULL,
    name        TEXT   NOT NULL DEFAULT '',
    username    TEXT   NOT NULL DEFAULT '',
    phone       TEXT   NOT NULL DEFAULT '',
    created_ms  BIGINT NOT NULL,
    UNIQUE (channel_id, platform_id)
);

CREATE TABLE conversations (
    id               BIGSERIAL PRIMARY KEY,
    channel_id       TEXT   NOT NULL,
    platform_id      TEXT   NOT NULL,
    kind             TEXT   NOT NULL DEFAULT '',
    title            TEXT   NOT NULL DEFAULT '',
    contact_id       BIGINT REFERENCES contacts (id),
    status           TEXT   NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    assignee_id      TEXT,  -- NULL = unassigned
    created_ms       BIGINT NOT NULL,
    last_activity_ms BIGINT NOT NULL,
    UNIQUE (channel_id, platform_id)
);
CREATE INDEX conversations_activity ON conversations (last_activity_ms DESC, id DESC);

CREATE TABLE messages (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id),
    channel_id      TEXT    NOT NULL,
    platform_id     TEXT,   -- NULL for an outbound send that failed before the platform gave an id
    direction       TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    sender_id       TEXT    NOT NULL,
    sender_name     TEXT    NOT NULL DEFAULT '',
    content_json    TEXT    NOT NULL,
    reply_to        TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,
    error_code      TEXT    NOT NULL DEFAULT '',
    platform_ts_ms  BIGINT  NOT NULL DEFAULT 0,
    created_ms      BIGINT  NOT NULL,
    edited_ms       BIGINT  NOT NULL DEFAULT 0,
    idempotency_key TEXT,
    UNIQUE (channel_id, platform_id)   -- the dedupe key; NULLs are distinct
);
CREATE UNIQUE INDEX messages_idempotency ON messages (sender_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_conversation ON messages (conversation_id, id);

-- seq comes from a sequence: never reused, but taken before commit, so seqs become visible
-- out of order across concurrent transactions (the "outbox gap", DESIGN §4).
CREATE TABLE events (
    seq             BIGSERIAL PRIMARY KEY,
    type            TEXT   NOT NULL,
    conversation_id BIGINT NOT NULL DEFAULT 0,
    created_ms      BIGINT NOT NULL,
    data_json       TEXT   NOT NULL
);
)sql"},
    Migration{2, R"sql(
CREATE TABLE agents (
    id          TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL,
    role        TEXT   NOT NULL CHECK (role IN ('admin', 'agent')),
    created_ms  BIGINT NOT NULL,
    deleted_ms  BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE agent_tokens (
    id          TEXT   PRIMARY KEY,
    agent_id    TEXT   NOT NULL REFERENCES agents (id),
    token_hash  TEXT   NOT NULL UNIQUE,   -- hex SHA-256; the token itself is never stored
    label       TEXT   NOT NULL DEFAULT '',
    created_ms  BIGINT NOT NULL,
    revoked_ms  BIGINT NOT NULL DEFAULT 0
);
-- Who may see an event besides admins: '' = every agent, else comma-separated agent ids.
ALTER TABLE events ADD COLUMN audience TEXT NOT NULL DEFAULT '';
CREATE INDEX conversations_assignee ON conversations (assignee_id, status);
)sql"},
    Migration{3, R"sql(
-- assignee=<agent>|unassigned lists seek this instead of filtering the activity index.
CREATE INDEX conversations_assignee_activity
    ON conversations (assignee_id, last_activity_ms DESC, id DESC);
-- claim() passes over the channels whose rows are held under a live lease.
CREATE INDEX inbound_queue_claimed ON inbound_queue (channel_id, lease_until_ms) WHERE state = 'claimed';
)sql"},
    Migration{4, R"sql(
-- An agent's own view with a status filter ("my open conversations and the unassigned open
-- ones"): two seeks, one per assignee side, already in activity order.
CREATE INDEX conversations_assignee_status_activity
    ON conversations (assignee_id, status, last_activity_ms DESC, id DESC);
)sql"},
    Migration{5, R"sql(
-- An Idempotency-Key is claimed before the platform is called, so that concurrent repeats
-- send once; it is scoped to the sender and the conversation.
CREATE TABLE idempotency_keys (
    sender_id       TEXT   NOT NULL,
    conversation_id BIGINT NOT NULL,
    idem_key        TEXT   NOT NULL,
    request_hash    TEXT   NOT NULL DEFAULT '',  -- '' = not known (keys stored before this table)
    state           TEXT   NOT NULL CHECK (state IN ('in_progress', 'done')),
    message_id      BIGINT,                      -- with done: the message the request stored
    created_ms      BIGINT NOT NULL,
    PRIMARY KEY (sender_id, conversation_id, idem_key)
);
INSERT INTO idempotency_keys (sender_id, conversation_id, idem_key, state, message_id, created_ms)
    SELECT sender_id, conversation_id, idempotency_key, 'done', id, created_ms
    FROM messages WHERE idempotency_key IS NOT NULL;
DROP INDEX messages_idempotency;
CREATE UNIQUE INDEX messages_idempotency ON messages (sender_id, conversation_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
)sql"},
    Migration{6, R"sql(
-- A send the platform refused is kept as failed with the platform's reason; a retry marks the
-- row sending (attempted_ms: when) so that concurrent retries send once.
ALTER TABLE messages ADD COLUMN error_message TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN attempted_ms BIGINT NOT NULL DEFAULT 0;
-- 0 = the token never expires.
ALTER TABLE agent_tokens ADD COLUMN expires_ms BIGINT NOT NULL DEFAULT 0;
)sql"},
    Migration{7, R"sql(
-- The id of the outbound request that stored the row: a platform that echoes it back (Messenger's
-- message.metadata) lets a send whose answer was lost (status unknown) be completed by its echo.
ALTER TABLE messages ADD COLUMN outbound_id TEXT;
CREATE UNIQUE INDEX messages_outbound_id ON messages (channel_id, outbound_id) WHERE outbound_id IS NOT NULL;
)sql"},
    Migration{8, R"sql(
-- The inbox (issue 14): the statuses pending and snoozed, snooze time, priority, and the newest
-- message that is not a note (kept in the transaction that stores a message, so that a list page
-- reads its previews by primary key instead of searching the history).
ALTER TABLE conversations DROP CONSTRAINT conversations_status_check;
ALTER TABLE conversations ADD CONSTRAINT conversations_status_check
    CHECK (status IN ('open', 'pending', 'snoozed', 'resolved'));
ALTER TABLE conversations
    ADD COLUMN snoozed_until_ms BIGINT NOT NULL DEFAULT 0,  -- with status snoozed: when it reopens
    ADD COLUMN priority TEXT NOT NULL DEFAULT 'none'
        CHECK (priority IN ('none', 'low', 'medium', 'high', 'urgent')),
    ADD COLUMN last_message_id BIGINT;
UPDATE conversations c SET last_message_id = (SELECT max(m.id) FROM messages m WHERE m.conversation_id = c.id);
-- The snooze timer's look-up: the next conversation due to wake.
CREATE INDEX conversations_snoozed ON conversations (snoozed_until_ms) WHERE status = 'snoozed';

-- Private notes live in the history with the messages; they are never sent to a platform.
-- message: the customer's or an agent's; note: an agent's private note (never sent); system: a
-- notice of something that happened in the conversation (the customer blocked the bot, changed
-- number, …), never unread.
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message' CHECK (kind IN ('message', 'note', 'system'));
-- Unread counts: the customer's messages after a read position, counted in the index alone.
CREATE INDEX messages_inbound ON messages (conversation_id, id) WHERE direction = 'in' AND kind = 'message';

-- Each agent's read position per conversation.
CREATE TABLE conversation_reads (
    conversation_id      BIGINT NOT NULL REFERENCES conversations (id),
    agent_id             TEXT   NOT NULL,
    last_read_message_id BIGINT NOT NULL,
    updated_ms           BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, agent_id)
);

CREATE TABLE labels (
    name        TEXT   PRIMARY KEY,  -- [a-z0-9_-]{1,50}
    color       TEXT   NOT NULL,     -- #rrggbb
    description TEXT   NOT NULL DEFAULT '',
    created_ms  BIGINT NOT NULL
);
CREATE TABLE conversation_labels (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    label           TEXT   NOT NULL REFERENCES labels (name) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, label)
);
CREATE INDEX conversation_labels_label ON conversation_labels (label, conversation_id);
)sql"},
    Migration{9, R"sql(
-- Files (issue 16): an inbound message's media, fetched by the media worker after the message is
-- stored, and agents' uploads. The bytes are in the blob store under sha256.
CREATE TABLE media (
    id              BIGSERIAL PRIMARY KEY,
    origin          TEXT    NOT NULL CHECK (origin IN ('inbound', 'upload')),
    message_id      BIGINT  REFERENCES messages (id),
    conversation_id BIGINT  NOT NULL DEFAULT 0,
    channel_id      TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'ready', 'failed')),
    error           TEXT    NOT NULL DEFAULT '',
    error_message   TEXT    NOT NULL DEFAULT '',
    mime_type       TEXT    NOT NULL DEFAULT '',
    size            BIGINT  NOT NULL DEFAULT -1,
    file_name       TEXT    NOT NULL DEFAULT '',
    sha256          TEXT    NOT NULL DEFAULT '',
    source_json     TEXT    NOT NULL DEFAULT '',
    uploaded_by     TEXT    NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT  NOT NULL DEFAULT 0,
    created_ms      BIGINT  NOT NULL,
    updated_ms      BIGINT  NOT NULL
);
CREATE UNIQUE INDEX media_message ON media (message_id) WHERE origin = 'inbound';
CREATE INDEX media_pending ON media (next_attempt_ms, id) WHERE state = 'pending';
)sql"},
    Migration{10, R"sql(
-- Canned replies (issue 14): shared ones, which admins manage (owner_id ''), and each agent's
-- personal ones. A shortcode is unique per scope and owner: a personal one may shadow a shared
-- one.
-- Byte order (COLLATE "C"), as SQLite compares: the prefix range and the list order must not
-- depend on the server's locale, which would sort '-' and '_' out of place.
CREATE TABLE canned_replies (
    id         BIGSERIAL PRIMARY KEY,
    shortcode  TEXT    COLLATE "C" NOT NULL,  -- [a-z0-9_-]{1,32}
    text       TEXT    NOT NULL,
    scope      TEXT    NOT NULL CHECK (scope IN ('shared', 'personal')),
    owner_id   TEXT    NOT NULL DEFAULT '',
    created_ms BIGINT  NOT NULL,
    updated_ms BIGINT  NOT NULL,
    CHECK ((scope = 'shared') = (owner_id = ''))
);
CREATE UNIQUE INDEX canned_replies_shortcode ON canned_replies (scope, owner_id, shortcode);
-- The composer's / menu looks shortcodes up by prefix (a range on this index).
CREATE INDEX canned_replies_prefix ON canned_replies (shortcode);
)sql"},
    Migration{11, R"sql(
-- Colleagues and live replies (issue 14): an agent's availability as it sets it (online, busy,
-- offline; combined with whether a session is connected), and the WebSocket session an event
-- came from, which is not sent it (message_sent: the sending tab has its HTTP answer).
ALTER TABLE agents ADD COLUMN availability TEXT NOT NULL DEFAULT 'online'
    CHECK (availability IN ('online', 'busy', 'offline'));
ALTER TABLE events ADD COLUMN origin TEXT NOT NULL DEFAULT '';
)sql"},
    Migration{12, R"sql(
-- Reactions on the message they belong to (issue 14), so that the history shows them:
-- '' = none, else a JSON array written by domain::react.
ALTER TABLE messages ADD COLUMN reactions_json TEXT NOT NULL DEFAULT '';
)sql"},
    Migration{13, R"sql(
-- Search (issue 15). search_text is what a row is found by: its words as text/words.hpp folds
-- them (case, compatibility forms and diacritics gone, each Han/kana character a word) and the
-- digits of its phone numbers, written by the store in the transaction that writes the row
-- (domain/search.hpp). The text is folded already, so the 'simple' configuration (no stop words,
-- no stemming) only splits it, whatever the database's locale; a generated tsvector and a GIN
-- index make it searchable. Rows stored before are indexed by migrate() after this SQL.
ALTER TABLE messages ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED;
CREATE INDEX messages_search ON messages USING gin (search_vector);
ALTER TABLE contacts ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED;
CREATE INDEX contacts_search ON contacts USING gin (search_vector);
ALTER TABLE conversations ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED;
CREATE INDEX conversations_search ON conversations USING gin (search_vector);
-- A contact's conversations, for contact search results.
CREATE INDEX conversations_contact ON conversations (contact_id, last_activity_ms DESC);
)sql"},
    Migration{14, R"sql(
-- Contacts (issue 15): a contact is a person; the contacts table holds identities, that person
-- on one channel. Each identity belongs to a contact (person_id) and remembers the one it was
-- first given (first_person_id), so that a merge can be undone. Every existing identity becomes
-- a contact of its own, with its id.
CREATE TABLE people (
    id              BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name            TEXT    NOT NULL DEFAULT '',  -- as an agent set it; '' = its identities'
    email           TEXT    NOT NULL DEFAULT '',
    phone           TEXT    NOT NULL DEFAULT '',
    company         TEXT    NOT NULL DEFAULT '',
    notes           TEXT    NOT NULL DEFAULT '',
    attributes_json TEXT    NOT NULL DEFAULT '{}',
    merged_into     BIGINT  REFERENCES people (id),  -- NULL = a contact of its own
    created_ms      BIGINT  NOT NULL,
    updated_ms      BIGINT  NOT NULL,
    search_text     TEXT    NOT NULL DEFAULT '',
    search_vector   tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED
);
CREATE INDEX people_search ON people USING gin (search_vector);
CREATE INDEX people_merged_into ON people (merged_into) WHERE merged_into IS NOT NULL;
ALTER TABLE contacts ADD COLUMN person_id BIGINT REFERENCES people (id);
ALTER TABLE contacts ADD COLUMN first_person_id BIGINT REFERENCES people (id);
-- The digits of the identity's phone number, for merge suggestions.
ALTER TABLE contacts ADD COLUMN phone_digits TEXT NOT NULL DEFAULT '';
INSERT INTO people (id, created_ms, updated_ms, search_text)
    SELECT id, created_ms, created_ms, search_text FROM contacts;
SELECT setval(pg_get_serial_sequence('people', 'id'), coalesce((SELECT max(id) FROM people), 0) + 1, false);
UPDATE contacts SET person_id = id, first_person_id = id,
    phone_digits = regexp_replace(phone, '[^0-9]', '', 'g');
CREATE INDEX contacts_person ON contacts (person_id);
CREATE INDEX contacts_first_person ON contacts (first_person_id);
CREATE INDEX contacts_phone_digits ON contacts (phone_digits) WHERE phone_digits <> '';
-- Contacts are found as people now, not identity by identity.
DROP INDEX contacts_search;
-- The custom attributes of contacts, which admins define.
CREATE TABLE contact_attributes (
    key        TEXT    COLLATE "C" PRIMARY KEY,  -- [a-z0-9_-]{1,50}
    type       TEXT    NOT NULL CHECK (type IN ('string', 'number', 'boolean', 'date')),
    label      TEXT    NOT NULL DEFAULT '',
    created_ms BIGINT  NOT NULL
);
)sql"},
    Migration{15, R"sql(
-- Whether the business can still write to the customer (issue 17): when the customer blocked
-- it (a `system` notice with reachable false), in ms; 0 = reachable. Sends are refused while set.
ALTER TABLE conversations ADD COLUMN blocked_ms BIGINT NOT NULL DEFAULT 0;
)sql"},
    Migration{16, R"sql(
-- The bytes of files when media.store is postgres (issue 16): instances sharing this database
-- share the files, with no shared disk. A blob is a row naming its digest; its bytes are chunks
-- of chunk_size bytes (the last shorter), written in the writer's one transaction and found by
-- (blob_id, seq), so a ranged read fetches only the chunks it covers.
CREATE SEQUENCE media_blob_ids;
CREATE TABLE media_blobs (
    sha256     TEXT    COLLATE "C" PRIMARY KEY,  -- lower-case hex
    blob_id    BIGINT  NOT NULL UNIQUE,
    size       BIGINT  NOT NULL,
    chunk_size INTEGER NOT NULL,
    created_ms BIGINT  NOT NULL
);
CREATE TABLE media_blob_chunks (
    blob_id BIGINT  NOT NULL,
    seq     INTEGER NOT NULL,
    bytes   BYTEA   NOT NULL,
    PRIMARY KEY (blob_id, seq)
);
-- Media is compressed already: stored out of line as it is, not run through pglz first.
ALTER TABLE media_blob_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;
-- Retention (media.retention_days) finds the files of old messages and whether a digest is
-- still referenced.
CREATE INDEX media_sha256 ON media (sha256) WHERE sha256 <> '';
CREATE INDEX media_created ON media (created_ms);
)sql"},
};

// The migration after whose SQL migrate() indexes the rows stored before it.
inline constexpr int kSearchMigration = 13;

inline constexpr int kLatestVersion = kMigrations.back().version;

}  // namespace sb::store::pg_schema
