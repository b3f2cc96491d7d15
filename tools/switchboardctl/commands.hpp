#pragma once
// What each switchboardctl subcommand does, apart from its command line (main.cpp). Every
// function prints its result on stdout, problems on stderr, and returns the exit code:
// 0 done, 1 the daemon refused or could not be reached (or the config has problems).

#include <cstdint>
#include <optional>
#include <string>

namespace sb::ctl {

struct Globals {
    std::string url = "http://127.0.0.1:8080";
    bool url_given = false;  // --url or SWITCHBOARD_URL, rather than the default
    std::string token;
    bool json = false;  // print the daemon's JSON as it came
};

int check_config(const std::string& file);

struct ConversationQuery {
    std::string status;    // open | resolved
    std::string channel;   // channel id
    std::string assignee;  // me | unassigned | agent id
    int limit = 0;         // 0 = the daemon's default
    std::string cursor;
};
int conversations_list(const Globals& g, const ConversationQuery& query);

// PATCH the conversation's status ("open" | "resolved").
int set_status(const Globals& g, const std::string& conversation, const std::string& status);
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

// Canned replies: the caller's (shared and its personal ones), by shortcode prefix and rendered
// for a conversation when one is given ("" = none); add (scope shared | personal), edit, rm.
int canned_list(const Globals& g, const std::string& prefix, const std::string& conversation);
int canned_add(const Globals& g, const std::string& shortcode, const std::string& text,
               const std::string& scope);
int canned_edit(const Globals& g, const std::string& id, const std::optional<std::string>& shortcode,
                const std::optional<std::string>& text);
int canned_rm(const Globals& g, const std::string& id);

}  // namespace sb::ctl
