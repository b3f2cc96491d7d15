#pragma once
// What each switchboardctl subcommand does, apart from its command line (main.cpp). Every
// function prints its result on stdout, problems on stderr, and returns the exit code:
// 0 done, 1 the daemon refused or could not be reached (or the config has problems).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sb::ctl {

struct Globals {
    std::string url = "http://127.0.0.1:8080";
    bool url_given = false;  // --url or SWITCHBOARD_URL, rather than the default
    std::string token;
    bool json = false;  // print the daemon's JSON as it came
};

int check_config(const std::string& file);

struct ConversationQuery {
    std::string status;    // open | pending | snoozed | resolved, or several comma-separated
    std::string channel;   // channel id
    std::string assignee;  // me | unassigned | agent id
    std::string label;     // a label name
    std::string priority;  // none | low | medium | high | urgent
    int limit = 0;         // 0 = the daemon's default
    std::string cursor;
};
int conversations_list(const Globals& g, const ConversationQuery& query);
// The counts per status for the inbox's tabs (mine, unassigned, all); channel, label and
// priority of `query` filter them.
int conversations_counts(const Globals& g, const ConversationQuery& query);

// PATCH the conversation's status ("open" | "pending" | "resolved").
int set_status(const Globals& g, const std::string& conversation, const std::string& status);
// PATCH it snoozed until `until`: an RFC 3339 time, or a duration from now such as 30m, 2h,
// 1d or 1h30m (s, m, h, d, w), turned into a time here.
int snooze(const Globals& g, const std::string& conversation, const std::string& until);
// PATCH its priority (none | low | medium | high | urgent).
int set_priority(const Globals& g, const std::string& conversation, const std::string& priority);
// Mark it read for the caller (up to `message_id`, "" = the newest message).
int mark_read(const Globals& g, const std::string& conversation, const std::string& message_id);
// Put labels on the conversation and take others off, in that order; prints the conversation.
int label_conversation(const Globals& g, const std::string& conversation, const std::vector<std::string>& add,
                       const std::vector<std::string>& remove);
// A private note for the team, never sent to the platform; prints it and whom it mentioned.
int add_note(const Globals& g, const std::string& conversation, const std::string& text);

int send_message(const Globals& g, const std::string& conversation, const std::string& text,
                 const std::string& reply_to, const std::string& idempotency_key);

int watch(const Globals& g, std::optional<std::int64_t> after_seq);

struct SimulateOptions {
    std::string config_file;
    std::string channel;
    std::string text;
    std::string fixture_file;  // instead of text: a kit fixture, for any plugin
    std::string from_id;
    std::string from_name;
};
int simulate_inbound(const Globals& g, const SimulateOptions& options);

int dead_letters_list(const Globals& g);
int dead_letters_replay(const Globals& g, const std::string& id);

int agents_list(const Globals& g);
int agents_create(const Globals& g, const std::string& name, const std::string& role);
int agents_token(const Globals& g, const std::string& agent_id);

// The caller as the daemon knows it; set its availability (online | busy | offline).
int me(const Globals& g);
int set_availability(const Globals& g, const std::string& availability);

// Contacts: list (q = a search), show one, and (admins) merge `other` into `id` or unmerge `id`.
int contacts_list(const Globals& g, const std::string& q, int limit, const std::string& cursor);
int contacts_show(const Globals& g, const std::string& id);
int contacts_merge(const Globals& g, const std::string& id, const std::string& other);
int contacts_unmerge(const Globals& g, const std::string& id);
// Search messages, conversations or contacts (type).
int search(const Globals& g, const std::string& q, const std::string& type, int limit,
           const std::string& cursor);

// Labels: every token lists them; admins add (color "#rrggbb"), edit and remove them.
int labels_list(const Globals& g);
int labels_add(const Globals& g, const std::string& name, const std::string& color,
               const std::optional<std::string>& description);
int labels_edit(const Globals& g, const std::string& name, const std::optional<std::string>& color,
                const std::optional<std::string>& description);
int labels_rm(const Globals& g, const std::string& name);

// Canned replies: the caller's (shared and its personal ones), by shortcode prefix and rendered
// for a conversation when one is given ("" = none); add (scope shared | personal), edit, rm.
int canned_list(const Globals& g, const std::string& prefix, const std::string& conversation);
int canned_add(const Globals& g, const std::string& shortcode, const std::string& text,
               const std::string& scope);
int canned_edit(const Globals& g, const std::string& id, const std::optional<std::string>& shortcode,
                const std::optional<std::string>& text);
int canned_rm(const Globals& g, const std::string& id);

}  // namespace sb::ctl
