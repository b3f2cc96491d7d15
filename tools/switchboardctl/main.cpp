// switchboardctl: the operator's command line for a running Switchboard daemon.
//   switchboardctl check-config FILE
//   switchboardctl conversations list [--status S[,S…]] [--channel ID] [--assignee A] [--label L]
//                  [--priority P] [--limit N] [--cursor C] | counts [--channel ID] [--label L] [--priority P]
//   switchboardctl conversations resolve|reopen|pending CONVERSATION | snooze CONVERSATION --until T
//                  | priority CONVERSATION P | read CONVERSATION | label CONVERSATION [--add L] [--remove L]
//   switchboardctl send CONVERSATION TEXT [--reply-to ID]
//   switchboardctl note CONVERSATION TEXT
//   switchboardctl watch [--after-seq N]
//   switchboardctl simulate-inbound --config FILE --channel ID (--text TEXT | --fixture FILE)
//   switchboardctl dead-letters list | replay ID
//   switchboardctl agents list | create NAME [--role R] | token AGENT_ID
//   switchboardctl me [availability online|busy|offline]
//   switchboardctl labels list | add NAME --color C [--description D] | edit NAME [--color C]
//                  [--description D] | rm NAME
//   switchboardctl canned list [--prefix P] [--conversation ID] | add SHORTCODE TEXT [--scope S]
//                  | edit ID [--shortcode S] [--text T] | rm ID
// Global: --url (SWITCHBOARD_URL), --token (SWITCHBOARD_TOKEN), --json.

#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
    using namespace sb::ctl;
    CLI::App app{"switchboardctl: talk to a running Switchboard daemon over its REST and WebSocket API"};
    app.set_version_flag("--version", std::string("switchboardctl ") + SWITCHBOARD_VERSION);
    app.require_subcommand(1);
    // Global options may also follow the subcommand: `switchboardctl watch --json`.
    app.fallthrough();

    Globals g;
    auto* url_option = app.add_option("--url", g.url, "The daemon's base URL")
                           ->envname("SWITCHBOARD_URL")
                           ->capture_default_str();
    app.add_option("--token", g.token, "API token (Authorization: Bearer)")->envname("SWITCHBOARD_TOKEN");
    app.add_flag("--json", g.json, "Print the daemon's JSON answers as they come");

    std::function<int()> run;

    std::string config_file;
    auto* check = app.add_subcommand("check-config", "Validate a daemon config file; print every problem");
    check->add_option("FILE", config_file, "Configuration file (YAML)")->required();
    check->callback([&] { run = [&] { return check_config(config_file); }; });

    auto* conversations = app.add_subcommand("conversations", "Conversations");
    conversations->require_subcommand(1);
    ConversationQuery query;
    const auto statuses = [](const std::string& value) -> std::string {
        std::string_view rest = value;
        for (;;) {
            auto comma = rest.find(',');
            auto status = rest.substr(0, comma);
            if (status != "open" && status != "pending" && status != "snoozed" && status != "resolved")
                return fmt::format("\"{}\" is not open, pending, snoozed or resolved", status);
            if (comma == std::string_view::npos) return {};
            rest.remove_prefix(comma + 1);
        }
    };
    const auto priorities = CLI::IsMember({"none", "low", "medium", "high", "urgent"});
    auto* list = conversations->add_subcommand("list", "List conversations, most recently active first");
    list->add_option("--status", query.status,
                     "open | pending | snoozed | resolved, or several: open,pending")
        ->check(statuses);
    list->add_option("--channel", query.channel, "Only this channel's conversations");
    list->add_option("--assignee", query.assignee, "me | unassigned | an agent id");
    list->add_option("--label", query.label, "Only conversations with this label");
    list->add_option("--priority", query.priority, "none | low | medium | high | urgent")->check(priorities);
    list->add_option("--limit", query.limit, "At most this many (1..200)")->check(CLI::Range(1, 200));
    list->add_option("--cursor", query.cursor, "Continue after a previous page (its next_cursor)");
    list->callback([&] { run = [&] { return conversations_list(g, query); }; });
    auto* counts = conversations->add_subcommand(
        "counts", "How many conversations are open, pending, snoozed and resolved: yours, unassigned, all");
    counts->add_option("--channel", query.channel, "Only this channel's conversations");
    counts->add_option("--label", query.label, "Only conversations with this label");
    counts->add_option("--priority", query.priority, "none | low | medium | high | urgent")
        ->check(priorities);
    counts->callback([&] { run = [&] { return conversations_counts(g, query); }; });
    std::string target_conversation;
    auto conversation_action = [&](const char* name, const char* what) {
        auto* sub = conversations->add_subcommand(name, what);
        sub->add_option("CONVERSATION", target_conversation, "Conversation id")->required();
        return sub;
    };
    for (auto [name, status, what] :
         {std::tuple{"resolve", "resolved", "Mark a conversation resolved"},
          std::tuple{"reopen", "open", "Open a conversation again"},
          std::tuple{"pending", "pending", "Mark a conversation pending: waiting on the customer"}}) {
        conversation_action(name, what)->callback([&, status = std::string(status)] {
            run = [&, status] { return set_status(g, target_conversation, status); };
        });
    }
    std::string snooze_until;
    auto* snooze_cmd =
        conversation_action("snooze", "Snooze a conversation: it reopens by itself at --until");
    snooze_cmd
        ->add_option("--until", snooze_until,
                     "An RFC 3339 time (2030-01-31T09:00:00Z) or a duration from now: 30m, 2h, 1d, 1h30m")
        ->required();
    snooze_cmd->callback([&] { run = [&] { return snooze(g, target_conversation, snooze_until); }; });
    std::string priority;
    auto* priority_cmd = conversation_action("priority", "Set a conversation's priority");
    priority_cmd->add_option("PRIORITY", priority, "none | low | medium | high | urgent")
        ->required()
        ->check(priorities);
    priority_cmd->callback([&] { run = [&] { return set_priority(g, target_conversation, priority); }; });
    std::string read_up_to;
    auto* read_cmd = conversation_action("read", "Mark a conversation read (for you)");
    read_cmd->add_option("--message", read_up_to, "Read up to this message id (default: the newest)");
    read_cmd->callback([&] { run = [&] { return mark_read(g, target_conversation, read_up_to); }; });
    std::vector<std::string> labels_on, labels_off;
    auto* label_cmd = conversation_action("label", "Put labels on a conversation and take others off");
    label_cmd->add_option("--add", labels_on, "A label to put on (repeat for more)");
    label_cmd->add_option("--remove", labels_off, "A label to take off (repeat for more)");
    label_cmd->callback(
        [&] { run = [&] { return label_conversation(g, target_conversation, labels_on, labels_off); }; });

    std::string conversation, text, reply_to, idempotency_key;
    auto* send = app.add_subcommand("send", "Send a text message into a conversation as an agent");
    send->add_option("CONVERSATION", conversation, "Conversation id")->required();
    send->add_option("TEXT", text, "Message text")->required();
    send->add_option("--reply-to", reply_to, "Platform id of the message this answers");
    send->add_option("--idempotency-key", idempotency_key, "Repeat a send safely: the same key sends once");
    send->callback(
        [&] { run = [&] { return send_message(g, conversation, text, reply_to, idempotency_key); }; });

    std::string note_conversation, note_text;
    auto* note = app.add_subcommand("note", "Write a private note for the team (never sent to the customer)");
    note->add_option("CONVERSATION", note_conversation, "Conversation id")->required();
    note->add_option("TEXT", note_text, "The note; @name or @id mentions a colleague")->required();
    note->callback([&] { run = [&] { return add_note(g, note_conversation, note_text); }; });

    std::optional<std::int64_t> after_seq;
    auto* watch_cmd =
        app.add_subcommand("watch", "Print the agents' event stream, one line per event, until Ctrl-C");
    watch_cmd->add_option("--after-seq", after_seq, "First replay the events after this sequence number");
    watch_cmd->callback([&] { run = [&] { return watch(g, after_seq); }; });

    SimulateOptions sim;
    auto* simulate = app.add_subcommand("simulate-inbound",
                                        "POST a correctly signed webhook, as the channel's platform would: "
                                        "a customer's text message, or a fixture file for any plugin");
    simulate
        ->add_option("--config", sim.config_file,
                     "The daemon's config file (for the channel's plugin and secrets)")
        ->required();
    simulate->add_option("--channel", sim.channel, "Channel id")->required();
    auto* text_option = simulate->add_option(
        "--text", sim.text, "What the customer writes (telegram, whatsapp, messenger, instagram)");
    auto* fixture_option =
        simulate
            ->add_option("--fixture", sim.fixture_file,
                         "A webhook fixture in the conformance kit's format, for any plugin: its request is "
                         "posted to the channel, signed with the channel's secret where the plugin's schema "
                         "declares how (x-webhook-signature)")
            ->check(CLI::ExistingFile);
    text_option->excludes(fixture_option);
    simulate->add_option("--from-id", sim.from_id, "The customer's platform user id (digits)");
    simulate->add_option("--from-name", sim.from_name, "The customer's display name (Telegram, WhatsApp)");
    simulate->footer(
        "Give --text or --fixture. Without --url or SWITCHBOARD_URL the webhook goes to the config's "
        "server.listen address.");
    simulate->callback([&] { run = [&] { return simulate_inbound(g, sim); }; });

    std::string dead_letter_id;
    auto* dead = app.add_subcommand("dead-letters", "Webhooks that could not be processed");
    dead->require_subcommand(1);
    dead->add_subcommand("list", "List dead letters")->callback([&] {
        run = [&] { return dead_letters_list(g); };
    });
    auto* replay = dead->add_subcommand("replay", "Put a dead letter back into the inbound queue");
    replay->add_option("ID", dead_letter_id, "Dead letter id")->required();
    replay->callback([&] { run = [&] { return dead_letters_replay(g, dead_letter_id); }; });

    std::string agent_name, agent_role = "agent", agent_id;
    auto* agents = app.add_subcommand("agents", "Agents, their presence and API tokens");
    agents->require_subcommand(1);
    agents
        ->add_subcommand("list",
                         "The directory: every agent, its availability, presence and open conversations")
        ->callback([&] { run = [&] { return agents_list(g); }; });
    auto* create = agents->add_subcommand("create", "Create an agent (admin)");
    create->add_option("NAME", agent_name, "Display name")->required();
    create->add_option("--role", agent_role, "agent | admin")
        ->check(CLI::IsMember({"agent", "admin"}))
        ->capture_default_str();
    create->callback([&] { run = [&] { return agents_create(g, agent_name, agent_role); }; });
    auto* token = agents->add_subcommand("token", "Issue a new API token for an agent (admin; shown once)");
    token->add_option("AGENT_ID", agent_id, "Agent id")->required();
    token->callback([&] { run = [&] { return agents_token(g, agent_id); }; });

    std::string canned_prefix, canned_conversation, canned_shortcode, canned_text, canned_id;
    std::string canned_scope = "personal";
    std::optional<std::string> new_shortcode, new_text;
    auto* canned = app.add_subcommand("canned", "Canned replies: shared (admins) and your personal ones");
    canned->require_subcommand(1);
    auto* canned_ls = canned->add_subcommand("list", "List the canned replies you may use, by shortcode");
    canned_ls->add_option("--prefix", canned_prefix, "Only shortcodes that start with this");
    canned_ls->add_option("--conversation", canned_conversation,
                          "Show each reply rendered for this conversation (its placeholders filled in)");
    canned_ls->callback([&] { run = [&] { return canned_list(g, canned_prefix, canned_conversation); }; });
    auto* canned_new = canned->add_subcommand("add", "Add a canned reply");
    canned_new->add_option("SHORTCODE", canned_shortcode, "1..32 of a-z, 0-9, _ and -")->required();
    canned_new
        ->add_option("TEXT", canned_text, "The reply; {{contact.name}}, {{agent.name}}, … are filled in")
        ->required();
    canned_new->add_option("--scope", canned_scope, "personal (yours) | shared (admins)")
        ->check(CLI::IsMember({"personal", "shared"}))
        ->capture_default_str();
    canned_new->callback(
        [&] { run = [&] { return canned_add(g, canned_shortcode, canned_text, canned_scope); }; });
    auto* canned_change = canned->add_subcommand("edit", "Change a canned reply's shortcode and/or text");
    canned_change->add_option("ID", canned_id, "Canned reply id")->required();
    canned_change->add_option("--shortcode", new_shortcode, "The new shortcode");
    canned_change->add_option("--text", new_text, "The new text");
    canned_change->callback(
        [&] { run = [&] { return canned_edit(g, canned_id, new_shortcode, new_text); }; });
    auto* canned_remove = canned->add_subcommand("rm", "Delete a canned reply");
    canned_remove->add_option("ID", canned_id, "Canned reply id")->required();
    canned_remove->callback([&] { run = [&] { return canned_rm(g, canned_id); }; });

    std::string availability;
    auto* me_cmd = app.add_subcommand("me", "Who the token belongs to, with its availability and presence");
    auto* availability_cmd = me_cmd->add_subcommand("availability", "Set your availability");
    availability_cmd->add_option("AVAILABILITY", availability, "online | busy | offline")
        ->required()
        ->check(CLI::IsMember({"online", "busy", "offline"}));
    // One callback for `me` and `me availability` (CLI11 runs the parent's after the child's).
    me_cmd->callback([&] {
        run = [&] { return availability_cmd->parsed() ? set_availability(g, availability) : me(g); };
    });

    std::string label_name;
    std::optional<std::string> label_color, label_description;
    auto* labels = app.add_subcommand("labels", "Labels for conversations (admins define them)");
    labels->require_subcommand(1);
    labels->add_subcommand("list", "List the labels")->callback([&] {
        run = [&] { return labels_list(g); };
    });
    auto* label_new = labels->add_subcommand("add", "Define a label (admin)");
    label_new->add_option("NAME", label_name, "1..50 of a-z, 0-9, _ and - (lower-cased)")->required();
    label_new->add_option("--color", label_color, "#rrggbb")->required();
    label_new->add_option("--description", label_description, "What the label means");
    label_new->callback([&] {
        run = [&] { return labels_add(g, label_name, label_color.value_or(""), label_description); };
    });
    auto* label_change = labels->add_subcommand("edit", "Change a label's color and/or description (admin)");
    label_change->add_option("NAME", label_name, "The label")->required();
    label_change->add_option("--color", label_color, "#rrggbb");
    label_change->add_option("--description", label_description, "What the label means");
    label_change->callback(
        [&] { run = [&] { return labels_edit(g, label_name, label_color, label_description); }; });
    auto* label_remove =
        labels->add_subcommand("rm", "Delete a label; it comes off every conversation (admin)");
    label_remove->add_option("NAME", label_name, "The label")->required();
    label_remove->callback([&] { run = [&] { return labels_rm(g, label_name); }; });

    std::string contact_id, other_contact, search_q, search_type = "messages", search_cursor;
    int search_limit = 0;
    auto* contacts =
        app.add_subcommand("contacts", "Contacts: the people behind conversations on every channel");
    contacts->require_subcommand(1);
    auto* contacts_ls = contacts->add_subcommand("list", "List the contacts you may see, newest first");
    contacts_ls->add_option("--q", search_q, "Only those matching this search (name, phone, e-mail, ...)");
    contacts_ls->add_option("--limit", search_limit, "How many (1..200)");
    contacts_ls->add_option("--cursor", search_cursor, "The next page, as the last list printed it");
    contacts_ls->callback(
        [&] { run = [&] { return contacts_list(g, search_q, search_limit, search_cursor); }; });
    auto* contacts_one = contacts->add_subcommand("show", "A contact, its identities and conversations");
    contacts_one->add_option("ID", contact_id, "The contact")->required();
    contacts_one->callback([&] { run = [&] { return contacts_show(g, contact_id); }; });
    auto* contacts_merge_cmd = contacts->add_subcommand(
        "merge", "Merge contact OTHER into ID: one person (admin; unmerge undoes it)");
    contacts_merge_cmd->add_option("ID", contact_id, "The contact kept")->required();
    contacts_merge_cmd->add_option("OTHER", other_contact, "The contact merged into it")->required();
    contacts_merge_cmd->callback([&] { run = [&] { return contacts_merge(g, contact_id, other_contact); }; });
    auto* contacts_unmerge_cmd =
        contacts->add_subcommand("unmerge", "Give a merged contact its own identities back (admin)");
    contacts_unmerge_cmd->add_option("ID", contact_id, "The merged contact")->required();
    contacts_unmerge_cmd->callback([&] { run = [&] { return contacts_unmerge(g, contact_id); }; });

    auto* search_cmd =
        app.add_subcommand("search", "Search what you may see: messages, conversations or contacts");
    search_cmd->add_option("QUERY", search_q, "Words (each a prefix: ord finds order) or a phone number")
        ->required();
    search_cmd->add_option("--type", search_type, "messages (default), conversations or contacts")
        ->check(CLI::IsMember({"messages", "conversations", "contacts"}));
    search_cmd->add_option("--limit", search_limit, "How many (1..200)");
    search_cmd->add_option("--cursor", search_cursor, "The next page, as the last search printed it");
    search_cmd->callback(
        [&] { run = [&] { return search(g, search_q, search_type, search_limit, search_cursor); }; });

    CLI11_PARSE(app, argc, argv);
    g.url_given = url_option->count() > 0 || std::getenv("SWITCHBOARD_URL") != nullptr;
    return run ? run() : 2;
}
