#pragma once
// The SQLite schema as an ordered list of migrations. The database's `PRAGMA user_version` is
// the number of the last migration applied; migrate() applies the rest in one transaction.
// Never edit a migration that has shipped: append a new one.

#include <array>

namespace sb::store::sqlite_schema {

struct Migration {
    int version;
    const char* sql;
    // Run after `sql` by the store's own connection: it may call the store's SQL functions
    // (sqlite_store.cpp), which a plain sqlite3 connection (a test building an old schema) lacks.
    const char* after = nullptr;
};

// An FTS5 table's triggers on the search_text of the table whose rows it indexes.
#define SB_SEARCH_TRIGGERS(TABLE, INDEX)                                                 \
    "CREATE TRIGGER " TABLE "_search_insert AFTER INSERT ON " TABLE                      \
    " WHEN new.search_text <> '' BEGIN "                                                 \
    "INSERT INTO " INDEX                                                                 \
    " (rowid, search_text) VALUES (new.id, new.search_text); END;\n"                     \
    "CREATE TRIGGER " TABLE "_search_update AFTER UPDATE OF search_text ON " TABLE       \
    " WHEN old.search_text <> new.search_text BEGIN "                                    \
    "INSERT INTO " INDEX " (" INDEX                                                      \
    ", rowid, search_text) SELECT 'delete', old.id, old.search_text "                    \
    "WHERE old.search_text <> ''; "                                                      \
    "INSERT INTO " INDEX                                                                 \
    " (rowid, search_text) SELECT new.id, new.search_text WHERE new.search_text <> ''; " \
    "END;\n"                                                                             \
    "CREATE TRIGGER " TABLE "_search_delete AFTER DELETE ON " TABLE                      \
    " WHEN old.search_text <> '' BEGIN "                                                 \
    "INSERT INTO " INDEX " (" INDEX                                                      \
    ", rowid, search_text) VALUES ('delete', old.id, old.search_text); END;\n"

// The triggers that add the words of a table's search_text to search_vocabulary (migration 16).
#define SB_VOCABULARY_TRIGGERS(TABLE)                                                                \
    "CREATE TRIGGER " TABLE "_vocabulary_insert AFTER INSERT ON " TABLE                              \
    " WHEN new.search_text <> '' BEGIN INSERT OR IGNORE INTO search_vocabulary (term) SELECT value " \
    "FROM json_each('[\"' || replace(new.search_text, ' ', '\",\"') || '\"]'); END;\n"               \
    "CREATE TRIGGER " TABLE "_vocabulary_update AFTER UPDATE OF search_text ON " TABLE               \
    " WHEN new.search_text <> '' AND new.search_text <> old.search_text BEGIN INSERT OR IGNORE "     \
    "INTO search_vocabulary (term) SELECT value FROM json_each('[\"' || replace(new.search_text, "   \
    "' ', '\",\"') || '\"]'); END;\n"

inline constexpr std::array kMigrations{
    Migration{1, R"sql(
CREATE TABLE inbound_queue (
    id              INTEGER PRIMARY KEY,
    channel_id      TEXT    NOT NULL,
    method          TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    headers         TEXT    NOT NULL,
    body            BLOB    NOT NULL,
    received_ms     INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'claimed', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    available_at_ms INTEGER NOT NULL,
    lease_until_ms  INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    failed_ms       INTEGER NOT NULL DEFAULT 0
);
-- Live rows only, so that dead letters piling up never slow down claim() or queue_depth().
CREATE INDEX inbound_queue_live ON inbound_queue (id) WHERE state <> 'dead';

CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    channel_id  TEXT    NOT NULL,
    platform_id TEXT    NOT NULL,
    name        TEXT    NOT NULL DEFAULT '',
    username    TEXT    NOT NULL DEFAULT '',
    phone       TEXT    NOT NULL DEFAULT '',
    created_ms  INTEGER NOT NULL,
    UNIQUE (channel_id, platform_id)
);

CREATE TABLE conversations (
    id               INTEGER PRIMARY KEY,
    channel_id       TEXT    NOT NULL,
    platform_id      TEXT    NOT NULL,
    kind             TEXT    NOT NULL DEFAULT '',
    title            TEXT    NOT NULL DEFAULT '',
    contact_id       INTEGER REFERENCES contacts (id),
    status           TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    assignee_id      TEXT,   -- NULL = unassigned
    created_ms       INTEGER NOT NULL,
    last_activity_ms INTEGER NOT NULL,
    UNIQUE (channel_id, platform_id)
);
CREATE INDEX conversations_activity ON conversations (last_activity_ms DESC, id DESC);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    channel_id      TEXT    NOT NULL,
    platform_id     TEXT,   -- NULL for an outbound send that failed before the platform gave an id
    direction       TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    sender_id       TEXT    NOT NULL,
    sender_name     TEXT    NOT NULL DEFAULT '',
    content_json    TEXT    NOT NULL,
    reply_to        TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,
    error_code      TEXT    NOT NULL DEFAULT '',
    platform_ts_ms  INTEGER NOT NULL DEFAULT 0,
    created_ms      INTEGER NOT NULL,
    edited_ms       INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT,
    UNIQUE (channel_id, platform_id)   -- the dedupe key; NULLs are distinct
);
CREATE UNIQUE INDEX messages_idempotency ON messages (sender_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_conversation ON messages (conversation_id, id);

CREATE TABLE events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after pruning
    type            TEXT    NOT NULL,
    conversation_id INTEGER NOT NULL DEFAULT 0,
    created_ms      INTEGER NOT NULL,
    data_json       TEXT    NOT NULL
);
)sql"},
    Migration{2, R"sql(
CREATE TABLE agents (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'agent')),
    created_ms  INTEGER NOT NULL,
    deleted_ms  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE agent_tokens (
    id          TEXT    PRIMARY KEY,
    agent_id    TEXT    NOT NULL REFERENCES agents (id),
    token_hash  TEXT    NOT NULL UNIQUE,   -- hex SHA-256; the token itself is never stored
    label       TEXT    NOT NULL DEFAULT '',
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER NOT NULL DEFAULT 0
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
    sender_id       TEXT    NOT NULL,
    conversation_id INTEGER NOT NULL,
    idem_key        TEXT    NOT NULL,
    request_hash    TEXT    NOT NULL DEFAULT '',  -- '' = not known (keys stored before this table)
    state           TEXT    NOT NULL CHECK (state IN ('in_progress', 'done')),
    message_id      INTEGER,                      -- with done: the message the request stored
    created_ms      INTEGER NOT NULL,
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
ALTER TABLE messages ADD COLUMN attempted_ms INTEGER NOT NULL DEFAULT 0;
-- 0 = the token never expires.
ALTER TABLE agent_tokens ADD COLUMN expires_ms INTEGER NOT NULL DEFAULT 0;
)sql"},
    Migration{7, R"sql(
-- The id of the outbound request that stored the row: a platform that echoes it back (Messenger's
-- message.metadata) lets a send whose answer was lost (status unknown) be completed by its echo.
ALTER TABLE messages ADD COLUMN outbound_id TEXT;
CREATE UNIQUE INDEX messages_outbound_id ON messages (channel_id, outbound_id) WHERE outbound_id IS NOT NULL;
)sql"},
    Migration{8, R"sql(
-- The inbox (issue 14). SQLite cannot alter a CHECK constraint, so conversations is rebuilt
-- for the statuses pending and snoozed (the twelve steps of "Making Other Kinds Of Table Schema
-- Changes": migrate() runs this with foreign keys off and checks them before it commits).
CREATE TABLE conversations_v8 (
    id               INTEGER PRIMARY KEY,
    channel_id       TEXT    NOT NULL,
    platform_id      TEXT    NOT NULL,
    kind             TEXT    NOT NULL DEFAULT '',
    title            TEXT    NOT NULL DEFAULT '',
    contact_id       INTEGER REFERENCES contacts (id),
    status           TEXT    NOT NULL DEFAULT 'open'
                             CHECK (status IN ('open', 'pending', 'snoozed', 'resolved')),
    assignee_id      TEXT,   -- NULL = unassigned
    created_ms       INTEGER NOT NULL,
    last_activity_ms INTEGER NOT NULL,
    snoozed_until_ms INTEGER NOT NULL DEFAULT 0,  -- with status snoozed: when it reopens
    priority         TEXT    NOT NULL DEFAULT 'none'
                             CHECK (priority IN ('none', 'low', 'medium', 'high', 'urgent')),
    -- The newest message that is not a note, kept in the transaction that stores a message, so
    -- that a list page reads its previews by primary key instead of searching the history.
    last_message_id  INTEGER,
    UNIQUE (channel_id, platform_id)
);
INSERT INTO conversations_v8 (id, channel_id, platform_id, kind, title, contact_id, status, assignee_id,
                              created_ms, last_activity_ms, last_message_id)
    SELECT id, channel_id, platform_id, kind, title, contact_id, status, assignee_id, created_ms,
           last_activity_ms, (SELECT max(m.id) FROM messages m WHERE m.conversation_id = conversations.id)
    FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_v8 RENAME TO conversations;
CREATE INDEX conversations_activity ON conversations (last_activity_ms DESC, id DESC);
CREATE INDEX conversations_assignee ON conversations (assignee_id, status);
CREATE INDEX conversations_assignee_activity
    ON conversations (assignee_id, last_activity_ms DESC, id DESC);
CREATE INDEX conversations_assignee_status_activity
    ON conversations (assignee_id, status, last_activity_ms DESC, id DESC);
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
    conversation_id      INTEGER NOT NULL REFERENCES conversations (id),
    agent_id             TEXT    NOT NULL,
    last_read_message_id INTEGER NOT NULL,
    updated_ms           INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, agent_id)
);

CREATE TABLE labels (
    name        TEXT    PRIMARY KEY,  -- [a-z0-9_-]{1,50}
    color       TEXT    NOT NULL,     -- #rrggbb
    description TEXT    NOT NULL DEFAULT '',
    created_ms  INTEGER NOT NULL
);
CREATE TABLE conversation_labels (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    label           TEXT    NOT NULL REFERENCES labels (name) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, label)
);
CREATE INDEX conversation_labels_label ON conversation_labels (label, conversation_id);
)sql"},
    Migration{9, R"sql(
-- Files (issue 16): an inbound message's media, fetched by the media worker after the message is
-- stored, and agents' uploads. The bytes are in the blob store under sha256.
CREATE TABLE media (
    id              INTEGER PRIMARY KEY,
    origin          TEXT    NOT NULL CHECK (origin IN ('inbound', 'upload')),
    message_id      INTEGER REFERENCES messages (id),
    conversation_id INTEGER NOT NULL DEFAULT 0,
    channel_id      TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'ready', 'failed')),
    error           TEXT    NOT NULL DEFAULT '',
    error_message   TEXT    NOT NULL DEFAULT '',
    mime_type       TEXT    NOT NULL DEFAULT '',
    size            INTEGER NOT NULL DEFAULT -1,
    file_name       TEXT    NOT NULL DEFAULT '',
    sha256          TEXT    NOT NULL DEFAULT '',
    source_json     TEXT    NOT NULL DEFAULT '',
    uploaded_by     TEXT    NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
);
CREATE UNIQUE INDEX media_message ON media (message_id) WHERE origin = 'inbound';
CREATE INDEX media_pending ON media (next_attempt_ms, id) WHERE state = 'pending';
)sql"},
    Migration{10, R"sql(
-- Canned replies (issue 14): shared ones, which admins manage (owner_id ''), and each agent's
-- personal ones. A shortcode is unique per scope and owner: a personal one may shadow a shared
-- one.
CREATE TABLE canned_replies (
    id         INTEGER PRIMARY KEY,
    shortcode  TEXT    NOT NULL,  -- [a-z0-9_-]{1,32}
    text       TEXT    NOT NULL,
    scope      TEXT    NOT NULL CHECK (scope IN ('shared', 'personal')),
    owner_id   TEXT    NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
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
    Migration{13,
              R"sql(
-- Search (issue 15). search_text is what a row is found by: its words as text/words.hpp folds
-- them (case, compatibility forms and diacritics gone, each Han/kana character a word) and the
-- digits of its phone numbers, written by the store in the transaction that writes the row
-- (domain/search.hpp). The FTS5 tables index it (external content: the text is kept once, in
-- the row) and triggers keep them in step with it; prefix indexes serve "ord" → "order".
ALTER TABLE messages ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE VIRTUAL TABLE message_search USING fts5(search_text, content = 'messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3');
CREATE VIRTUAL TABLE contact_search USING fts5(search_text, content = 'contacts', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3');
CREATE VIRTUAL TABLE conversation_search USING fts5(search_text, content = 'conversations',
    content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3');
)sql" SB_SEARCH_TRIGGERS("messages", "message_search") SB_SEARCH_TRIGGERS("contacts", "contact_search")
                  SB_SEARCH_TRIGGERS("conversations", "conversation_search") R"sql(
-- A contact's conversations, for contact search results.
CREATE INDEX conversations_contact ON conversations (contact_id, last_activity_ms DESC);
)sql",
              R"sql(
-- The rows stored before: the store's SQL functions fold them as the store does (sqlite_store.cpp).
UPDATE messages SET search_text = sb_message_search_text(content_json);
UPDATE contacts SET search_text = sb_contact_search_text(name, username, phone);
UPDATE conversations SET search_text = coalesce((SELECT sb_conversation_search_text(conversations.title,
    ct.name, ct.username, ct.phone) FROM contacts ct WHERE ct.id = conversations.contact_id),
    sb_conversation_search_text(title, '', '', ''));
)sql"},
    Migration{14, R"sql(
-- Contacts (issue 15): a contact is a person; the contacts table holds identities, that person
-- on one channel. Each identity belongs to a contact (person_id) and remembers the one it was
-- first given (first_person_id), so that a merge can be undone. Every existing identity becomes
-- a contact of its own, with its id.
CREATE TABLE people (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL DEFAULT '',  -- as an agent set it; '' = its identities'
    email           TEXT    NOT NULL DEFAULT '',
    phone           TEXT    NOT NULL DEFAULT '',
    company         TEXT    NOT NULL DEFAULT '',
    notes           TEXT    NOT NULL DEFAULT '',
    attributes_json TEXT    NOT NULL DEFAULT '{}',
    merged_into     INTEGER REFERENCES people (id),  -- NULL = a contact of its own
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    search_text     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX people_merged_into ON people (merged_into) WHERE merged_into IS NOT NULL;
ALTER TABLE contacts ADD COLUMN person_id INTEGER REFERENCES people (id);
ALTER TABLE contacts ADD COLUMN first_person_id INTEGER REFERENCES people (id);
-- The digits of the identity's phone number, for merge suggestions.
ALTER TABLE contacts ADD COLUMN phone_digits TEXT NOT NULL DEFAULT '';
INSERT INTO people (id, created_ms, updated_ms, search_text)
    SELECT id, created_ms, created_ms, search_text FROM contacts;
UPDATE contacts SET person_id = id, first_person_id = id;
CREATE INDEX contacts_person ON contacts (person_id);
CREATE INDEX contacts_first_person ON contacts (first_person_id);
CREATE INDEX contacts_phone_digits ON contacts (phone_digits) WHERE phone_digits <> '';
-- Contacts are found as people now, not identity by identity.
DROP TRIGGER contacts_search_insert;
DROP TRIGGER contacts_search_update;
DROP TRIGGER contacts_search_delete;
DROP TABLE contact_search;
CREATE VIRTUAL TABLE person_search USING fts5(search_text, content = 'people', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3');
INSERT INTO person_search (person_search) VALUES ('rebuild');
)sql" SB_SEARCH_TRIGGERS("people", "person_search") R"sql(
-- The custom attributes of contacts, which admins define.
CREATE TABLE contact_attributes (
    key        TEXT    PRIMARY KEY,  -- [a-z0-9_-]{1,50}
    type       TEXT    NOT NULL CHECK (type IN ('string', 'number', 'boolean', 'date')),
    label      TEXT    NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL
);
)sql",
              "UPDATE contacts SET phone_digits = sb_phone_digits(phone);"},
    Migration{15, R"sql(
-- Whether the business can still write to the customer (issue 17): when the customer blocked
-- it (a `system` notice with reachable false), in ms; 0 = reachable. Sends are refused while set.
ALTER TABLE conversations ADD COLUMN blocked_ms INTEGER NOT NULL DEFAULT 0;
)sql"},
    Migration{16, R"sql(
-- Every word the search indexes hold (issue 15), so that a query word of four or more
-- characters becomes the indexed words it begins ("order" → order OR orders OR ordered): FTS5
-- answers a prefix longer than its prefix indexes (2 and 3) by merging the doclists of all its
-- words in memory on every query, 27 ms for "order"* at 1M messages, where the same words as an
-- OR are read lazily, newest first, and stop at the LIMIT. A word is never removed (one no row
-- holds any more costs one empty OR branch). search_text is folded words joined by single
-- spaces, letters and digits only, so it is a JSON array once quoted.
CREATE TABLE search_vocabulary (term TEXT PRIMARY KEY) WITHOUT ROWID;
)sql" SB_VOCABULARY_TRIGGERS("messages") SB_VOCABULARY_TRIGGERS("conversations")
                      SB_VOCABULARY_TRIGGERS("people") R"sql(
INSERT OR IGNORE INTO search_vocabulary (term)
    SELECT w.value FROM messages, json_each('["' || replace(search_text, ' ', '","') || '"]') w
    WHERE search_text <> '';
INSERT OR IGNORE INTO search_vocabulary (term)
    SELECT w.value FROM conversations, json_each('["' || replace(search_text, ' ', '","') || '"]') w
    WHERE search_text <> '';
INSERT OR IGNORE INTO search_vocabulary (term)
    SELECT w.value FROM people, json_each('["' || replace(search_text, ' ', '","') || '"]') w
    WHERE search_text <> '';
)sql"},
    Migration{17, R"sql(
-- The indexes retention (media.retention_days) looks media up by; SQLite's files are in
-- media.dir (PostgreSQL's migration 16 also adds the tables of its blob store).
CREATE INDEX media_sha256 ON media (sha256) WHERE sha256 <> '';
CREATE INDEX media_created ON media (created_ms);
)sql"},
};

#undef SB_SEARCH_TRIGGERS
#undef SB_VOCABULARY_TRIGGERS

inline constexpr int kLatestVersion = kMigrations.back().version;

}  // namespace sb::store::sqlite_schema
