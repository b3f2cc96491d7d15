#pragma once
// The store: every durable thing Switchboard keeps, behind one interface with two backends
// (SQLite, the embedded default; PostgreSQL). Methods are synchronous and may block: call them
// only from the store's own threads (StoreRunner), never from an I/O thread. Implementations
// are thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "events/normalized.hpp"

namespace sb::store {

// Thrown for failures of the database itself (unreachable, disk full, corrupt). Constraint
// outcomes the caller expects (duplicates, not found) are return values, never exceptions.
class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A webhook request exactly as received and verified; what the inbound queue holds.
struct InboundRequest {
    std::string channel_id;
    std::string method;
    std::string target;
    std::string headers;  // "name: value\n" lines, as received
    std::string body;
    std::int64_t received_ms = 0;
};

struct QueuedInbound {
    std::int64_t id = 0;
    InboundRequest request;
    int attempts = 0;  // including the current claim
};

struct DeadLetter {
    std::int64_t id = 0;
    InboundRequest request;
    std::string reason;
    int attempts = 0;
    std::int64_t failed_ms = 0;
};

// The newest message of a conversation that is not a note, as a list item shows it.
struct LastMessage {
    std::int64_t id = 0;
    std::string direction;
    std::string sender_id;
    std::string sender_name;
    std::string content_json;
    std::int64_t created_ms = 0;
};

// One agent's read position in a conversation, and what came from the customer after it.
struct ReadState {
    std::int64_t last_read_message_id = 0;  // 0 = never read
    std::int64_t unread_count = 0;          // inbound messages after it
};

struct Conversation {
    std::int64_t id = 0;
    std::string channel_id;
    std::string platform_id;  // platform conversation key
    std::string kind;
    std::string title;
    std::string contact_platform_id;
    std::string contact_name;
    std::string contact_username;
    std::string contact_phone;
    // When the customer blocked the business (a notice with reachable false); 0 = they can be
    // written to. Sends are refused while it is set.
    std::int64_t blocked_ms = 0;
    std::string status = "open";  // open | pending | snoozed | resolved
    std::string assignee_id;      // "" = unassigned
    std::int64_t created_ms = 0;
    std::int64_t last_activity_ms = 0;
    std::int64_t snoozed_until_ms = 0;  // with status snoozed: when it reopens
    std::string priority = "none";      // none | low | medium | high | urgent
    std::string assignee_name;          // the assignee's display name
    std::int64_t contact_id = 0;        // the contact (Person) of its identity; 0 = none
    std::string contact_display_name;   // that contact's name, else the identity's
    std::vector<std::string> labels;    // sorted
    std::optional<LastMessage> last_message;
    // The requesting agent's read state, on what is answered to one agent (lists, single
    // reads); nullopt in events, which go to many.
    std::optional<ReadState> read;
};

struct Message {
    std::int64_t id = 0;
    std::int64_t conversation_id = 0;
    std::string channel_id;
    std::string platform_id;  // "" until the platform gave one
    std::string direction;    // in | out
    std::string sender_id;    // platform user id (in) or agent id (out)
    std::string sender_name;
    std::string content_json;  // normalized content object
    std::string reply_to;      // platform message id
    // in: received; out: sent | delivered | read | failed | unknown (the platform may or may not
    // have it) | sending (a retry is on its way)
    std::string status;
    std::string error_code;     // the platform's code, for failed and unknown
    std::string error_message;  // the platform's reason, for failed and unknown
    std::int64_t platform_ts_ms = 0;
    std::int64_t created_ms = 0;
    std::int64_t edited_ms = 0;  // 0 = never edited
    // message | note (an agent's private note, never sent) | system (a notice: the platform's
    // `system` content; never unread, never the list's preview)
    std::string kind = "message";
    // The customers' reactions on it (domain/reactions.hpp): "" = none, else a JSON array.
    std::string reactions_json;
};

// A persistent notification event; `data_json` is the frame's `data` object.
struct Event {
    std::int64_t seq = 0;
    std::string type;  // new_message | message_updated | message_status | ...
    std::int64_t conversation_id = 0;
    std::int64_t created_ms = 0;
    std::string data_json;
    // Who may see it besides admins, encoded as identity::Audience says.
    std::string audience;
    // The WebSocket session whose request caused it ("" = none): that session is not sent it
    // (its HTTP answer was the confirmation; message_sent).
    std::string origin;
};

struct Agent {
    std::string id;
    std::string name;
    std::string role;  // admin | agent
    std::int64_t created_ms = 0;
    // As the agent set it: online | busy | offline (whether a session is connected is the
    // notifier's; auto-assignment picks agents who are both).
    std::string availability = "online";
};

// A label admins define and agents put on conversations.
struct Label {
    std::string name;   // [a-z0-9_-]{1,50}
    std::string color;  // #rrggbb
    std::string description;
    std::int64_t created_ms = 0;
};

struct LabelOutcome {
    enum class Kind { done, no_conversation, no_label } kind = Kind::no_conversation;
    Conversation conversation;   // after the change, when done
    std::optional<Event> event;  // conversation_updated, when the labels changed
};

// A reply an agent picks from the composer's / menu: shared (admins manage it) or one agent's
// personal one. Its text may hold placeholders (domain/canned.hpp).
struct CannedReply {
    std::int64_t id = 0;
    std::string shortcode;  // [a-z0-9_-]{1,32}; unique per scope and owner
    std::string text;       // 1..4000 bytes
    std::string scope;      // shared | personal
    std::string owner_id;   // personal: its agent; "" when shared
    std::int64_t created_ms = 0;
    std::int64_t updated_ms = 0;
};

// What PATCH /canned-replies/{id} asks to change; nullopt = leave it.
struct CannedChange {
    std::optional<std::string> shortcode;
    std::optional<std::string> text;
};

struct CannedOutcome {
    enum class Kind { done, not_found, conflict } kind = Kind::not_found;
    CannedReply reply;  // as stored, when done
};

// A private note as an agent writes it (domain/notes.hpp).
struct NewNote {
    std::int64_t conversation_id = 0;
    std::string author_id;
    std::string author_name;
    std::string text;
    // The colleagues the text mentions (domain::mentioned_agents); those who may not see the
    // conversation are not told.
    std::vector<Agent> mentions;
};

struct NoteOutcome {
    bool found = false;         // false: no such conversation
    Message note;               // as stored, when found
    std::vector<Event> events;  // note_added, then one agent_mentioned per colleague told
};

struct AgentToken {
    std::string id;
    std::string agent_id;
    std::string label;
    std::int64_t created_ms = 0;
    std::int64_t expires_ms = 0;  // 0 = never
};

// An active token, for the authenticator's in-memory table.
struct TokenGrant {
    std::string token_hash;  // hex SHA-256 of the token; the token itself is never stored
    std::string token_id;
    Agent agent;
    std::int64_t expires_ms = 0;  // 0 = never; an expired grant is still listed until revoked
};

struct AssignOutcome {
    enum class Kind { assigned, unchanged, conflict, not_found } kind = Kind::not_found;
    Conversation conversation;  // after the change (or as found, for conflict/unchanged)
    Event event;                // conversation_assigned, when kind == assigned
};

// What PATCH /conversations/{id} asks to change; nullopt = leave it.
struct ConversationChange {
    std::optional<std::string> status;  // open | pending | snoozed | resolved
    std::int64_t snoozed_until_ms = 0;  // with status snoozed (required then), else 0
    std::optional<std::string> priority;
};

struct UpdateOutcome {
    std::optional<Conversation> conversation;  // nullopt: no such conversation
    std::vector<Event> events;                 // conversation_status / conversation_updated, as changed
};

struct StatusOutcome {
    std::optional<Conversation> conversation;  // nullopt: no such conversation
    std::optional<Event> event;                // conversation_status, when the status changed
};

struct ReadOutcome {
    enum class Kind { done, no_conversation, no_message } kind = Kind::no_conversation;
    Conversation conversation;  // with the agent's read state (Conversation::read), when done
};

// What applying one queue row produced, for the notifier.
struct ApplyResult {
    std::vector<Event> events;                           // persistent, in seq order
    std::vector<sb::events::NormalizedEvent> ephemeral;  // typing: never stored
    int duplicates = 0;                                  // messages already stored
    // The row was no longer held under this claim (its lease expired and another worker took
    // it, or it was released): nothing of it was applied.
    bool fenced = false;
};

struct ParsedRow {
    std::int64_t row_id = 0;
    std::string channel_id;
    std::vector<sb::events::NormalizedEvent> events;
    // The fencing token: QueuedInbound::attempts of the claim this row was parsed under. 0
    // applies without the check (rows that never went through claim()).
    int claim = 0;
    // When the webhook arrived (InboundRequest::received_ms): the time its messages carry and
    // the conversation's activity moves to, so a batch keeps the order customers wrote in
    // rather than stamping every row with one instant. 0 = the apply() time.
    std::int64_t received_ms = 0;
};

// What a search looks for (domain::search_terms): every word of `words` begins a word of the
// text (text/words.hpp folds both), or, when `phone` is set, a phone number begins with its
// digits.
struct SearchTerms {
    std::vector<std::string> words;  // folded, letters and digits only; at least one
    std::string phone;               // "" = none; else digits only
};

struct ConversationFilter {
    std::string status;      // "" = any; one status, or several comma-separated
    std::string channel_id;  // "" = any
    std::string assignee;    // "" = any, "unassigned", or an agent id
    std::string visible_to;  // "" = no restriction; an agent id = its own and unassigned ones
    std::string label;       // "" = any; else conversations carrying this label
    std::string priority;    // "" = any
    std::string reader;      // "" = none; an agent id = list items carry its read state
    // nullopt = any; else conversations whose title or contact match, or with a message that does
    std::optional<SearchTerms> search;
};

// A customer as one channel knows them (a Telegram user, a WhatsApp number): what the platform
// tells of them. Each belongs to a contact (Person).
struct Identity {
    std::int64_t id = 0;
    std::string channel_id;
    std::string platform_id;
    std::string name;
    std::string username;
    std::string phone;
    std::int64_t created_ms = 0;
    std::int64_t person_id = 0;  // its contact; 0 until it has one
};

// A contact: the person behind one or more identities. A customer who writes on WhatsApp and
// on Telegram is two contacts until an admin merges them; unmerging restores both.
struct MergedContact {
    std::int64_t id = 0;
    std::string display_name;  // its name, else its first own identity's
};

struct Person {
    std::int64_t id = 0;
    std::string name;          // as an agent set it; "" = its identities'
    std::string display_name;  // `name`, else the first of its identities' names
    std::string email;
    std::string phone;
    std::string company;
    std::string notes;
    std::string attributes_json = "{}";  // {key: value} of the attributes admins define
    std::int64_t merged_into = 0;        // 0 = a contact of its own; else the one it was merged into
    std::int64_t created_ms = 0;
    std::int64_t updated_ms = 0;
    std::vector<Identity> identities;            // oldest first
    std::vector<std::int64_t> conversation_ids;  // those the reader may see, newest first
    std::vector<MergedContact> merged;           // merged into this one; unmerge gives each back
};

// What PATCH /contacts/{id} asks to change; nullopt = leave it.
struct ContactChange {
    std::optional<std::string> name;
    std::optional<std::string> email;
    std::optional<std::string> phone;
    std::optional<std::string> company;
    std::optional<std::string> notes;
    // "" = none; else a JSON object: key → a value of the attribute's type, or null to remove it
    std::string attributes_json;
};

// A custom attribute of contacts, which admins define.
struct ContactAttribute {
    std::string key;   // [a-z0-9_-]{1,50}
    std::string type;  // string | number | boolean | date
    std::string label;
    std::int64_t created_ms = 0;
};

struct ContactOutcome {
    std::optional<Person> contact;  // nullopt: no such contact (or not one the caller may see)
    std::optional<Event> event;     // contact_updated, when something changed
};

struct MergeOutcome {
    enum class Kind { done, not_found, conflict } kind = Kind::not_found;
    std::string reason;         // conflict: why
    Person contact;             // done: the contact as it is now (merge: the one kept)
    std::vector<Event> events;  // contact_updated for each contact that changed
};

// Two contacts that may be one person: their identities share a phone number.
struct MergeSuggestion {
    std::int64_t contact_id = 0;
    std::int64_t other_id = 0;
    std::string phone;  // the digits they share
};

struct SearchRequest {
    std::string type = "messages";  // messages | conversations | contacts
    SearchTerms terms;
    std::string channel_id;  // "" = any
    std::string status;      // "" = any; the conversation's status
    std::string visible_to;  // as ConversationFilter: "" = everything; an agent: its own and unassigned
    int limit = 20;
    std::string cursor;  // "" = the first page; else a next_cursor of the same search
};

// A piece of a search hit's snippet; `match` marks a word the search matched.
struct SnippetPart {
    std::string text;
    bool match = false;
};

// One result of search(), ranked by relevance, then recency.
struct SearchHit {
    std::optional<Message> message;            // messages: the message or note found
    std::optional<Conversation> conversation;  // messages: its conversation; conversations: the one found
    std::optional<Person> contact;             // contacts: the one found
    std::vector<SnippetPart> snippet;          // domain::highlight fills it
};

// Conversations per status, for the filter tabs of an inbox.
struct StatusCounts {
    std::int64_t open = 0;
    std::int64_t pending = 0;
    std::int64_t snoozed = 0;
    std::int64_t resolved = 0;
};

// mine: assigned to the filter's reader; unassigned; all: everything the filter's visible_to
// may see (for an agent its own and the unassigned ones, for an admin every conversation).
struct ConversationCounts {
    StatusCounts mine;
    StatusCounts unassigned;
    StatusCounts all;
};

template <typename T>
struct Page {
    std::vector<T> items;
    std::string next_cursor;  // "" = no more
};

struct OutboundMessage {
    std::int64_t conversation_id = 0;
    std::string sender_id;  // the agent
    std::string sender_name;
    std::string content_json;
    std::string reply_to;
    std::string platform_id;
    std::string status;  // sent | unknown (the platform may or may not have it) | failed
    std::string error_code;
    std::string error_message;
    // The outbound request's id (stable across the host's retries). An echo that names it
    // (NormalizedEvent::outbound_id) completes this row instead of becoming a second one.
    std::string outbound_id;
    // "" = none; unique per (sender, conversation). Storing the message completes the key's
    // claim (claim_idempotency_key) in the same transaction.
    std::string idempotency_key;
    // Storing a new row appends message_sent for whoever sees the conversation, except the
    // session `origin` (realtime.outbound_events: others).
    bool announce = false;
    std::string origin;
};

// What claim_idempotency_key() found for an Idempotency-Key.
struct KeyClaim {
    enum class State {
        claimed,      // the caller holds it now: send, then store (completes it) or release it
        in_progress,  // another request holds it (since `claimed_ms`)
        mismatch,     // used before for a different request
        done,         // completed: `message` is what that request stored
    } state = State::claimed;
    std::optional<Message> message;  // with done
    std::int64_t claimed_ms = 0;     // with in_progress
};

// What claim_retry() found for a message.
struct RetryClaim {
    enum class State {
        claimed,        // now `sending`; `message` is as it was (failed or unknown)
        not_found,      // no outbound message with this id in this conversation
        not_retryable,  // neither failed nor unknown (nor a retry abandoned long ago); `message` as it is
    } state = State::not_found;
    std::optional<Message> message;
};

// One message of insert_outbound_batch().
struct OutboundResult {
    std::optional<Message> message;  // nullopt: not stored, `error` says why
    bool created = false;            // false: an earlier message with the same idempotency key
    std::string error;
    std::optional<Event> event;  // message_sent, when created and announced
};

// A file: the bytes of an inbound message's media (fetched by the media worker) or an agent's
// upload. The bytes live in the blob store under `sha256`; this is what is known about them.
struct MediaRecord {
    std::int64_t id = 0;
    std::string origin = "inbound";  // inbound | upload
    std::int64_t message_id = 0;     // inbound: its message
    std::int64_t conversation_id = 0;
    std::string channel_id;
    std::string state = "pending";  // pending | ready | failed
    std::string error;              // failed: a reason code (too_large, not_found, ...)
    std::string error_message;      // failed: for agents; pending: the last attempt's failure
    std::string mime_type;
    std::int64_t size = -1;  // -1 = not known yet
    std::string file_name;
    std::string sha256;       // lower-case hex of the stored bytes; "" until ready
    std::string source_json;  // inbound: {"v":1,"content":{…}} as the plugin emitted it
    std::string uploaded_by;  // upload: the agent
    int attempts = 0;
    std::int64_t next_attempt_ms = 0;
    std::int64_t created_ms = 0;
    std::int64_t updated_ms = 0;
};

// What one round of retention deleted (Store::expire_media).
struct ExpiredMedia {
    std::vector<MediaRecord> deleted;
    std::vector<Event> events;              // message_updated, one per message still there
    std::vector<std::string> unreferenced;  // digests no remaining file names
};

class Store {
public:
    virtual ~Store() = default;

    // Creates or upgrades the schema. Refuses (StoreError) a schema newer than this binary.
    virtual void migrate() = 0;

    // --- inbound queue ---
    // Appends all requests in one transaction (group commit); returns their row ids in order.
    virtual std::vector<std::int64_t> enqueue(std::span<const InboundRequest> requests) = 0;
    // A store only this process uses (SQLite) can hand committed rows to the processor in
    // memory: enqueue_claimed() appends them as enqueue() does (durable on return), but already
    // claimed by this process (attempts 1, a lease until now_ms + lease_ms), so that nobody
    // claims them back while the processor applies them under that claim (ParsedRow::claim =
    // 1). A crash leaves them claimed; recover_claims() at the next start queues them again.
    virtual bool enqueues_claimed() const { return false; }
    virtual std::vector<std::int64_t> enqueue_claimed(std::span<const InboundRequest> requests,
                                                      std::int64_t now_ms, std::int64_t lease_ms) {
        (void)requests;
        (void)now_ms;
        (void)lease_ms;
        throw StoreError("enqueue_claimed is not implemented by this store");
    }
    // Claims up to `limit` rows that are queued and due, or whose lease expired, oldest first;
    // each claim increments attempts and holds a lease until now_ms + lease_ms. A channel with
    // rows under a live lease is passed over: one worker at a time holds a channel's rows, so
    // a chat's messages are applied in arrival order however many instances share the queue.
    virtual std::vector<QueuedInbound> claim(int limit, std::int64_t now_ms, std::int64_t lease_ms) = 0;
    // In one transaction per call: stores what each parsed row produced (dedupe on
    // (channel, platform message id); contact and conversation upserted; a new customer
    // message reopens a resolved conversation), appends the events, and removes the rows
    // from the queue. Results are in the order of `rows`. A row whose claim is no longer the
    // current one (ParsedRow::claim), or whose lease ran out by `now_ms`, is left alone and
    // reported `fenced`; ParsedRows that share
    // a queue row must be adjacent, in one call.
    virtual std::vector<ApplyResult> apply(std::span<const ParsedRow> rows, std::int64_t now_ms) = 0;
    // At start-up of the only process that uses this store: rows a previous, crashed process
    // had claimed are queued again at once instead of waiting out their lease. Stores shared
    // by several processes (PostgreSQL) keep the leases and do nothing here.
    virtual void recover_claims() {}
    // Gives a claimed row back for a later attempt (transient failure). With `claim` (the
    // claim's attempts, as ParsedRow::claim) only while that claim is current: a worker whose
    // lease ran out cannot take back a row another worker holds. 0 = unchecked.
    virtual void release(std::int64_t row_id, std::int64_t available_at_ms, std::string_view error,
                         int claim = 0) = 0;
    // Moves a row to the dead-letter state with the reason; its raw request is kept. `claim`
    // as for release().
    virtual void dead_letter(std::int64_t row_id, std::string_view reason, std::int64_t now_ms,
                             int claim = 0) = 0;
    // Records a dead letter that never was a queue row of its own (e.g. an event of a shared
    // webhook for an account no channel serves). Backends may do it in one statement.
    virtual void add_dead_letter(const InboundRequest& request, std::string_view reason,
                                 std::int64_t now_ms) {
        auto ids = enqueue(std::span<const InboundRequest>(&request, 1));
        dead_letter(ids.front(), reason, now_ms);
    }
    virtual std::vector<DeadLetter> dead_letters(int limit) = 0;
    // Puts a dead letter back in the queue, due now, with its attempts reset. False when no
    // dead letter has this id.
    virtual bool replay_dead_letter(std::int64_t row_id, std::int64_t now_ms) {
        (void)row_id;
        (void)now_ms;
        throw StoreError("replaying dead letters is not implemented by this store");
    }
    virtual std::int64_t queue_depth() = 0;
    // received_ms of the oldest row still waiting (queued or claimed); 0 when none.
    virtual std::int64_t oldest_queued_ms() = 0;

    // --- conversations and messages ---
    virtual std::optional<Conversation> conversation(std::int64_t id) = 0;
    virtual std::optional<Conversation> conversation_by_platform_id(std::string_view channel_id,
                                                                    std::string_view platform_id) = 0;
    // Ordered by last activity, newest first (keyset cursor). A cursor this store did not hand
    // out, or a limit < 1, is std::invalid_argument (the API answers 400).
    virtual Page<Conversation> conversations(const ConversationFilter& filter, int limit,
                                             std::string_view cursor) = 0;
    // The conversation with `reader`'s read state (Conversation::read).
    virtual std::optional<Conversation> conversation_for(std::int64_t id, std::string_view reader) = 0;
    // Counts per status of what `filter` selects (its channel, label and priority; status and
    // assignee are the counts' own dimensions and ignored); mine = assigned to filter.reader.
    virtual ConversationCounts conversation_counts(const ConversationFilter& filter) = 0;
    // Full-text search (domain/search.hpp): messages and notes, conversations (title and
    // contact) or contacts (name, username, phone) that request.visible_to may see, best match
    // first, then newest. A cursor this store did not hand out, or a limit < 1, is
    // std::invalid_argument.
    virtual Page<SearchHit> search(const SearchRequest& request) = 0;

    // --- contacts (domain/contacts.hpp) ---
    // `visible_to` as ConversationFilter's: an agent sees a contact when it sees one of its
    // conversations. The list is newest first (keyset cursor); a merged contact is not listed.
    virtual Page<Person> contacts(std::string_view visible_to, int limit, std::string_view cursor) = 0;
    // With its identities and the conversations `visible_to` may see; a merged contact is
    // answered as the one it was merged into.
    virtual std::optional<Person> contact(std::int64_t id, std::string_view visible_to) = 0;
    // std::invalid_argument for a value the rules refuse (an attribute not defined, or of
    // another type).
    virtual ContactOutcome update_contact(std::int64_t id, const ContactChange& change,
                                          std::string_view visible_to, std::string_view changed_by,
                                          std::int64_t now_ms) = 0;
    // `from`'s identities and conversations move to `into`; `from` is kept, for unmerge.
    virtual MergeOutcome merge_contacts(std::int64_t into, std::int64_t from, std::string_view changed_by,
                                        std::int64_t now_ms) = 0;
    // A merged contact takes back its own identities (and those merged into it).
    virtual MergeOutcome unmerge_contact(std::int64_t id, std::string_view changed_by,
                                         std::int64_t now_ms) = 0;
    virtual std::vector<MergeSuggestion> merge_suggestions(int limit) = 0;
    virtual std::vector<ContactAttribute> contact_attributes() = 0;
    // nullopt: the key is taken. std::invalid_argument for a malformed key or type.
    virtual std::optional<ContactAttribute> define_contact_attribute(const ContactAttribute& attribute,
                                                                     std::int64_t now_ms) = 0;
    virtual bool delete_contact_attribute(std::string_view key) = 0;
    // Newest first; `before_id` 0 = from the newest.
    virtual Page<Message> messages(std::int64_t conversation_id, int limit, std::int64_t before_id) = 0;
    virtual std::optional<Message> message_by_platform_id(std::string_view channel_id,
                                                          std::string_view platform_id) = 0;
    // Stores an agent's message after the send attempt. When idempotency_key is set and a
    // message with the same (sender, conversation, key) exists, returns that one instead
    // (second = false).
    virtual std::pair<Message, bool> insert_outbound(const OutboundMessage& message, std::int64_t now_ms) = 0;
    virtual std::optional<Message> outbound_by_idempotency_key(std::string_view sender_id,
                                                               std::int64_t conversation_id,
                                                               std::string_view key) = 0;
    // Takes an Idempotency-Key before the send, atomically across requests and instances:
    // exactly one of several concurrent callers gets `claimed`. `request_hash` identifies the
    // request (a repeat with another one is `mismatch`).
    virtual KeyClaim claim_idempotency_key(std::string_view sender_id, std::int64_t conversation_id,
                                           std::string_view key, std::string_view request_hash,
                                           std::int64_t now_ms) = 0;
    // Gives back a claim whose request stored nothing (it certainly did not reach the
    // platform), so the same key may be tried again. A completed key is left as it is.
    virtual void release_idempotency_key(std::string_view sender_id, std::int64_t conversation_id,
                                         std::string_view key) = 0;
    // Several agents' messages at once (group commit: one transaction, one fsync, where the
    // backend can). A message whose conversation is gone fails alone; a failing store fails
    // them all. Results are in the order of `messages`.
    virtual std::vector<OutboundResult> insert_outbound_batch(std::span<const OutboundMessage> messages,
                                                              std::int64_t now_ms) {
        std::vector<OutboundResult> results(messages.size());
        for (std::size_t i = 0; i < messages.size(); ++i) {
            try {
                auto [stored, created] = insert_outbound(messages[i], now_ms);
                results[i].message = std::move(stored);
                results[i].created = created;
            } catch (const std::exception& e) {
                results[i].error = e.what();
            }
        }
        return results;
    }
    // Takes an outbound message for a resend: atomically, only a `failed` or `unknown` one (or
    // one left `sending` by a retry that began before `stale_before_ms`, whose daemon stopped),
    // which becomes `sending` so that concurrent retries send once.
    virtual RetryClaim claim_retry(std::int64_t conversation_id, std::int64_t message_id, std::int64_t now_ms,
                                   std::int64_t stale_before_ms) {
        (void)conversation_id, (void)message_id, (void)now_ms, (void)stale_before_ms;
        throw StoreError("retrying messages is not implemented by this store");
    }
    // Records the outcome of a claimed retry on the same row: `outcome`'s platform_id, status,
    // error_code and error_message. Returns the row, nullopt when it is gone.
    virtual std::optional<Message> settle_retry(std::int64_t message_id, const OutboundMessage& outcome) {
        (void)message_id, (void)outcome;
        throw StoreError("retrying messages is not implemented by this store");
    }
    // Assigns a conversation to an agent ("" = unassign). Returns the updated conversation, or
    // nullopt when it does not exist. Appends no event: the caller owns conversation_assigned.
    virtual std::optional<Conversation> assign_conversation(std::int64_t id, std::string_view agent_id) = 0;

    // --- events ---
    virtual std::vector<Event> events_after(std::int64_t after_seq, int limit) = 0;
    virtual std::int64_t last_seq() = 0;
    // Removes events older than `before_ms` (the resume window); returns how many.
    virtual std::int64_t prune_events(std::int64_t before_ms) {
        (void)before_ms;
        return 0;
    }
    // The oldest seq still kept (0 when none): resuming from before it needs a resync.
    virtual std::int64_t first_seq() { throw StoreError("first_seq is not implemented by this store"); }

    // --- agents and assignment (defaults throw until a backend implements them) ---
    virtual Agent create_agent(std::string_view name, std::string_view role, std::int64_t now_ms) {
        (void)name, (void)role, (void)now_ms;
        throw StoreError("agents are not implemented by this store");
    }
    virtual std::vector<Agent> agents() { throw StoreError("agents are not implemented by this store"); }
    // Sets an agent's availability (online | busy | offline, else std::invalid_argument);
    // false when there is no such agent.
    virtual bool set_availability(std::string_view agent_id, std::string_view availability) {
        (void)agent_id, (void)availability;
        throw StoreError("agents are not implemented by this store");
    }
    // Deletes the agent and revokes its tokens; its conversations become unassigned, with their
    // conversation_assigned events (by `deleted_by`). nullopt: no such agent.
    virtual std::optional<std::vector<Event>> delete_agent(std::string_view id, std::string_view deleted_by,
                                                           std::int64_t now_ms) {
        (void)id, (void)deleted_by, (void)now_ms;
        throw StoreError("agents are not implemented by this store");
    }
    // `expires_ms` 0 = never expires.
    virtual std::optional<AgentToken> add_token(std::string_view agent_id, std::string_view token_hash,
                                                std::string_view label, std::int64_t now_ms,
                                                std::int64_t expires_ms) {
        (void)agent_id, (void)token_hash, (void)label, (void)now_ms, (void)expires_ms;
        throw StoreError("agents are not implemented by this store");
    }
    virtual bool revoke_token(std::string_view agent_id, std::string_view token_id, std::int64_t now_ms) {
        (void)agent_id, (void)token_id, (void)now_ms;
        throw StoreError("agents are not implemented by this store");
    }
    virtual std::vector<TokenGrant> active_tokens() { return {}; }
    // Sets the assignee ("" = unassigned) and appends conversation_assigned, atomically. With
    // `expected` set, only when the current assignee is *expected ("" = unassigned): two
    // agents taking the same conversation → one assigned, the other conflict.
    virtual AssignOutcome assign(std::int64_t conversation_id, std::string_view agent_id,
                                 std::optional<std::string> expected, std::string_view assigned_by,
                                 std::int64_t now_ms) {
        (void)conversation_id, (void)agent_id, (void)expected, (void)assigned_by, (void)now_ms;
        throw StoreError("assignment is not implemented by this store");
    }
    // Sets the status (snoozed needs update_conversation; anything else but a status is
    // std::invalid_argument) and, when
    // it changed, appends conversation_status for whoever sees the conversation, atomically.
    virtual StatusOutcome change_status(std::int64_t conversation_id, std::string_view status,
                                        std::string_view changed_by, std::int64_t now_ms) {
        (void)conversation_id, (void)status, (void)changed_by, (void)now_ms;
        throw StoreError("conversation_status is not implemented by this store");
    }
    // --- read state ---
    // Records `agent_id`'s read position: `message_id` (0 = the newest message). A position
    // never moves back by a read (an older tab's read of an earlier message changes nothing);
    // mark_unread() moves it back.
    virtual ReadOutcome mark_read(std::int64_t conversation_id, std::string_view agent_id,
                                  std::int64_t message_id, std::int64_t now_ms) = 0;
    // Moves the position to just before the customer's newest message (unread_count >= 1 when
    // there is one).
    virtual ReadOutcome mark_unread(std::int64_t conversation_id, std::string_view agent_id,
                                    std::int64_t now_ms) = 0;

    // Changes status (with its snooze time) and priority at once, appending conversation_status
    // for a status change and conversation_updated for a priority change. A status or priority
    // a conversation may not have, or a snooze that is not in the future, is
    // std::invalid_argument, before anything changes.
    virtual UpdateOutcome update_conversation(std::int64_t conversation_id, const ConversationChange& change,
                                              std::string_view changed_by, std::int64_t now_ms) = 0;
    // Reopens up to `limit` snoozed conversations whose time has come (snoozed_until <= now),
    // each with conversation_status changed_by "snooze"; returns those events. Instances
    // sharing a store wake each conversation once.
    virtual std::vector<Event> wake_snoozed(std::int64_t now_ms, int limit) = 0;

    // --- labels ---
    virtual std::vector<Label> labels() = 0;  // by name
    // nullopt: a label of that name exists. The name is lower-cased; a name or colour the
    // rule refuses (domain/labels.hpp) is std::invalid_argument.
    virtual std::optional<Label> create_label(const Label& label, std::int64_t now_ms) = 0;
    // Changes what is given; nullopt: no such label.
    virtual std::optional<Label> update_label(std::string_view name, const std::optional<std::string>& color,
                                              const std::optional<std::string>& description) = 0;
    // Removes it from every conversation too; false: no such label.
    virtual bool delete_label(std::string_view name) = 0;
    // Puts the label on the conversation (`add`) or takes it off, appending conversation_updated
    // when that changed something.
    virtual LabelOutcome label_conversation(std::int64_t conversation_id, std::string_view label, bool add,
                                            std::string_view changed_by, std::int64_t now_ms) = 0;

    // --- canned replies ---
    // The shared ones and `owner_id`'s personal ones whose shortcode starts with `prefix` ("" =
    // all), by shortcode, a personal one before the shared one it shadows. A prefix that is no
    // shortcode's start (domain::canned_prefix) is std::invalid_argument.
    virtual std::vector<CannedReply> canned_replies(std::string_view owner_id, std::string_view prefix) = 0;
    virtual std::optional<CannedReply> canned_reply(std::int64_t id) = 0;
    // nullopt: its scope and owner have that shortcode already. What the rules refuse
    // (domain::new_canned_reply) is std::invalid_argument.
    virtual std::optional<CannedReply> create_canned_reply(const CannedReply& reply, std::int64_t now_ms) = 0;
    // Changes what is given (domain::update_canned_reply: the rules, the conflict).
    virtual CannedOutcome update_canned_reply(std::int64_t id, const CannedChange& change,
                                              std::int64_t now_ms) = 0;
    // false: no such reply.
    virtual bool delete_canned_reply(std::int64_t id) = 0;

    // --- notes ---
    // Stores a private note (never sent to the platform) with its events, atomically
    // (domain::add_note: the rules and what is std::invalid_argument).
    virtual NoteOutcome add_note(const NewNote& note, std::int64_t now_ms) = 0;

    // Open conversations per assignee (for least-loaded auto-assignment).
    virtual std::vector<std::pair<std::string, int>> open_counts() { return {}; }

    // --- media (issue 16; defaults throw until a backend implements them) ---
    // An inbound message's media, pending, the message's content rewritten to what
    // `content_for` gives from the stored row (which names the media's id), and message_updated
    // (into `*event` when given, for the caller to publish), in one transaction. nullopt when the
    // message already has its media (a redelivery) or is gone.
    virtual std::optional<MediaRecord> add_media(
        const MediaRecord& media, const std::function<std::string(const MediaRecord&)>& content_for,
        std::optional<Event>* event = nullptr) {
        (void)media, (void)content_for, (void)event;
        throw StoreError("media is not implemented by this store");
    }
    // An agent's upload, ready (its bytes are stored already).
    virtual MediaRecord add_upload(const MediaRecord& upload) {
        (void)upload;
        throw StoreError("media is not implemented by this store");
    }
    virtual std::optional<MediaRecord> media(std::int64_t id) {
        (void)id;
        throw StoreError("media is not implemented by this store");
    }
    // Up to `limit` pending media due by `now_ms`, oldest first; each claim counts an attempt
    // and holds the row until now_ms + lease_ms (a worker that dies lets it come back).
    virtual std::vector<MediaRecord> claim_media(std::int64_t now_ms, std::int64_t lease_ms, int limit) {
        (void)now_ms, (void)lease_ms, (void)limit;
        throw StoreError("media is not implemented by this store");
    }
    // At start-up of the only process that uses this store: media a previous process had
    // claimed is due again at once instead of after its lease (as recover_claims()).
    virtual void recover_media(std::int64_t now_ms) { (void)now_ms; }
    // A transient failure: still pending, tried again at `next_attempt_ms`.
    virtual void retry_media(std::int64_t id, std::int64_t next_attempt_ms, std::string_view error_message) {
        (void)id, (void)next_attempt_ms, (void)error_message;
        throw StoreError("media is not implemented by this store");
    }
    // Records the final state of `media` (ready or failed, with what is known) and its message's
    // content rewritten to `content_json`, and appends message_updated, in one transaction. The
    // event, or nullopt when the media has no message (or it is gone).
    virtual std::optional<Event> settle_media(const MediaRecord& media, std::string_view content_json,
                                              std::int64_t now_ms) {
        (void)media, (void)content_json, (void)now_ms;
        throw StoreError("media is not implemented by this store");
    }
    // Retention (media.retention_days), in one transaction: up to `limit` files created before
    // `before_ms` that are settled (ready or failed; uploads too), oldest first, are deleted.
    // An inbound one's message keeps its media object as `content_for(row)` says (the caller's
    // "deleted" object) with message_updated, like settle_media. `unreferenced` names the digests
    // of deleted rows that no remaining row names: their bytes may go from the blob store.
    virtual ExpiredMedia expire_media(std::int64_t before_ms, int limit,
                                      const std::function<std::string(const MediaRecord&)>& content_for,
                                      std::int64_t now_ms) {
        (void)before_ms, (void)limit, (void)content_for, (void)now_ms;
        throw StoreError("media is not implemented by this store");
    }
    // True when a file (an inbound one in any state, an upload) names the bytes of `sha256`:
    // retention asks again, under the blob store's hold, before it deletes them.
    virtual bool media_names(std::string_view sha256) {
        (void)sha256;
        throw StoreError("media is not implemented by this store");
    }
};

// Where a store switches between its plans for one request. The defaults are what the
// benchmarks chose (docs/benchmarks.md, "Search at 1M messages"); tests lower them to reach
// every plan with a handful of rows. Results never depend on them, only the cost does.
struct Tuning {
    // The list with q= collects the matching conversations when a query matches at most this
    // many messages, and otherwise walks the list testing each conversation.
    int list_match_bound = 0;  // 0 = the store's own default
};

// Opens (creating the file if needed) the SQLite database at `path`; its directory must exist.
// Does not create the schema: call migrate(). Throws StoreError naming the path on failure.
std::unique_ptr<Store> open_sqlite(const std::string& path, Tuning tuning = {});

// Connects to PostgreSQL with a libpq `dsn` ("host=… dbname=…" or "postgresql://…") through a
// pool of `pool_size` connections. Does not create the schema: call migrate(). Throws
// StoreError when the first connection fails; messages never repeat the DSN's password.
std::unique_ptr<Store> open_postgres(const std::string& dsn, int pool_size, Tuning tuning = {});

}  // namespace sb::store
