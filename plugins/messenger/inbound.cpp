#include "inbound.hpp"

#include <algorithm>
#include <iterator>
#include <optional>

#include "json.hpp"

namespace sb::messaging {

namespace {

using meta::decimal;
using meta::find_array;
using meta::find_bool;
using meta::find_member;
using meta::find_number;
using meta::find_object;
using meta::find_string;
using meta::InvalidInput;
using meta::JsonWriter;
using meta::Value;
using meta::write_int;
using meta::write_string;

// Conversation and sender of items that name no customer (e.g. entry.changes[]). Not a number,
// so it never collides with a PSID / IGSID.
constexpr std::string_view kUnroutedId = "unrouted";

// Messenger timestamps are milliseconds (platforms.md §3.2); Instagram's are said to be too, but
// sample payloads vary (§4.3, §7). A value below this (3 March 1973 in ms) can only be seconds.
constexpr std::int64_t kSecondsCutoff = 100'000'000'000;

// The app id of a Page's own inbox in the handover protocol (Meta's documented constant).
constexpr std::string_view kPageInboxAppId = "263902037430900";

// Members of a messaging item that are not its event.
constexpr std::string_view kItemEnvelopeKeys[] = {"sender", "recipient", "timestamp"};
// Members of `message` that describe it rather than carry its content.
constexpr std::string_view kMessageMetadataKeys[] = {"mid",         "seq",          "is_echo", "app_id",
                                                     "metadata",    "reply_to",     "text",    "attachments",
                                                     "quick_reply", "is_self_reply"};

std::string finish(rapidjson::StringBuffer& buffer) { return {buffer.GetString(), buffer.GetSize()}; }

// A Graph id: JSON string (the documented form) or integer, non-empty.
std::optional<std::string> id_text(const Value* value) {
    if (value == nullptr) return std::nullopt;
    if (value->IsString()) {
        if (value->GetStringLength() == 0) return std::nullopt;
        return std::string(value->GetString(), value->GetStringLength());
    }
    return meta::integer_text(*value);
}

// A party's id; a sender known only by `user_ref` (the website chat plugin, §3.4) is
// "user_ref:<ref>", which build_send turns back into recipient.user_ref.
std::optional<std::string> party_id(const Value& item, const char* key) {
    const Value* party = find_object(item, key);
    if (party == nullptr) return std::nullopt;
    if (auto id = id_text(find_member(*party, "id"))) return id;
    if (auto ref = id_text(find_member(*party, "user_ref"))) return std::string(kUserRefPrefix) + *ref;
    return std::nullopt;
}

// Milliseconds from an integer or decimal-string time; nullopt when absent or unusable.
std::optional<std::int64_t> time_ms(const Value* value) {
    std::optional<std::int64_t> raw;
    if (value != nullptr && value->IsInt64()) {
        raw = value->GetInt64();
    } else if (value != nullptr && value->IsString()) {
        raw = meta::parse_decimal({value->GetString(), value->GetStringLength()});
    }
    if (!raw || *raw <= 0) return std::nullopt;
    return *raw < kSecondsCutoff ? *raw * 1000 : *raw;
}

std::string_view first_key_not_in(const Value& object, const std::string_view* begin,
                                  const std::string_view* end, std::string_view fallback) {
    if (!object.IsObject()) return fallback;
    for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
        std::string_view key(it->name.GetString(), it->name.GetStringLength());
        if (std::find(begin, end, key) == end) return key;
    }
    return fallback;
}

// One messaging item with what every event made from it shares.
struct Item {
    const Value& json;
    std::string path;        // "entry[0].messaging[1]", for error messages
    std::string account_id;  // entry.id
    std::string customer;    // the conversation: the PSID / IGSID on the other side
    std::string sender;      // sender.id (the account itself for echoes)
    std::int64_t timestamp_ms = 0;
};

void begin_event(JsonWriter& w, const Item& item, std::string_view type) {
    w.StartObject();
    write_int(w, "v", 1);
    write_string(w, "type", type);
    write_string(w, "account_id", item.account_id);
    w.Key("conversation");
    w.StartObject();
    write_string(w, "id", item.customer);
    write_string(w, "kind", "private");
    w.EndObject();
    write_int(w, "timestamp_ms", item.timestamp_ms);
}

void write_sender(JsonWriter& w, const Item& item) {
    w.Key("sender");
    w.StartObject();
    write_string(w, "id", item.sender);
    w.EndObject();
}

void write_raw(JsonWriter& w, const Item& item) {
    w.Key("raw");
    item.json.Accept(w);
}

void write_unsupported_content(JsonWriter& w, std::string_view platform_type) {
    w.Key("content");
    w.StartObject();
    write_string(w, "type", "unsupported");
    write_string(w, "platform_type", platform_type);
    w.EndObject();
}

struct MessageHeader {
    std::string_view id;
    bool echo = false;
    std::optional<std::string_view> reply_to;
    // An echo's message.metadata: the outbound id build_send put there (our own sends only).
    std::optional<std::string_view> outbound_id;
};

void begin_message(JsonWriter& w, const Item& item, const MessageHeader& header) {
    begin_event(w, item, "message");
    write_string(w, "id", header.id);
    write_sender(w, item);
    if (header.echo) write_string(w, "direction", "out");
    if (header.echo && header.outbound_id && !header.outbound_id->empty())
        write_string(w, "outbound_id", *header.outbound_id);
    if (header.reply_to) write_string(w, "reply_to", *header.reply_to);
}

// A message item of a kind this plugin does not translate, kept whole.
std::string unsupported_item_event(const Item& item, std::string_view kind) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    // Items without a mid are keyed by what Meta documents as unique for them (§1.3).
    std::string id = std::string(kind) + ":" + item.customer + ":" + decimal(item.timestamp_ms);
    begin_message(w, item, MessageHeader{id, false, std::nullopt, std::nullopt});
    write_unsupported_content(w, kind);
    write_raw(w, item);
    w.EndObject();
    return finish(buffer);
}

// A story the message answers (Instagram story replies, reply_to.story {id, url}): part of
// the content, so an agent sees what the customer is talking about.
void write_story(JsonWriter& w, const Value* story) {
    if (story == nullptr) return;
    w.Key("story");
    w.StartObject();
    if (auto id = id_text(find_member(*story, "id"))) write_string(w, "id", *id);
    if (auto url = find_string(*story, "url"); url && !url->empty()) write_string(w, "url", *url);
    w.EndObject();
}

// A link the customer shared rather than a file: posts, reels, stories, link previews. The
// media behind the URL is the platform's (a story mention's may not be stored, §4.3), so it is
// content with a URL, not media to download.
bool write_share_fields(JsonWriter& w, std::string_view type, const Value& attachment, const Value* payload) {
    auto field = [&](const char* key) -> std::optional<std::string_view> {
        for (const Value* where : {payload, &attachment}) {
            if (where == nullptr) continue;
            if (auto value = find_string(*where, key); value && !value->empty()) return value;
        }
        return std::nullopt;
    };
    auto url = field("url");
    if (!url) url = field("URL");  // Messenger's fallback names it in capitals
    auto title = field("title");
    std::optional<std::string> media_id;
    for (const char* key : {"reel_video_id", "ig_post_media_id", "id"})
        if (!media_id && payload != nullptr) media_id = id_text(find_member(*payload, key));
    if (!url && !title && !media_id) return false;
    write_string(w, "type", type == "story_mention" ? "story_mention" : "share");
    if (url) write_string(w, "url", *url);
    if (title) write_string(w, "title", *title);
    if (media_id) write_string(w, "media_id", *media_id);
    write_string(w, "platform_type", type);
    return true;
}

// Writes "content" for one attachment; returns false when it is unsupported (the caller adds
// raw). Inbound media come as a CDN URL (§3.9); a sticker also names its sticker_id.
bool write_attachment_content(JsonWriter& w, const Value& attachment, const Value* story) {
    std::string_view type = find_string(attachment, "type").value_or("");
    const Value* payload = find_object(attachment, "payload");
    std::optional<std::string_view> url = payload != nullptr ? find_string(*payload, "url") : std::nullopt;
    std::optional<std::string> sticker_id =
        payload != nullptr ? id_text(find_member(*payload, "sticker_id")) : std::nullopt;
    if (url && url->empty()) url.reset();

    w.Key("content");
    w.StartObject();
    bool known = true;
    const Value* coordinates = payload != nullptr ? find_object(*payload, "coordinates") : nullptr;
    std::string_view normalized;
    if (type == "image") {
        normalized = sticker_id ? "sticker" : "image";  // legacy sticker form (§3.3)
    } else if (type == "sticker" || type == "audio" || type == "video") {
        normalized = type;
    } else if (type == "file") {
        normalized = "document";
    }
    if (!normalized.empty() && (url || sticker_id)) {
        write_string(w, "type", normalized);
        w.Key("media");
        w.StartObject();
        if (sticker_id) write_string(w, "id", *sticker_id);
        if (url) write_string(w, "url", *url);
        w.EndObject();
    } else if (type == "location" && coordinates != nullptr && find_number(*coordinates, "lat") &&
               find_number(*coordinates, "long")) {
        write_string(w, "type", "location");
        w.Key("latitude");
        w.Double(*find_number(*coordinates, "lat"));
        w.Key("longitude");
        w.Double(*find_number(*coordinates, "long"));
        if (auto title = find_string(attachment, "title"); title && !title->empty())
            write_string(w, "name", *title);
    } else if ((type == "fallback" || type == "share" || type == "story_mention" || type == "reel" ||
                type == "ig_reel" || type == "ig_story" || type == "ig_post" || type == "post") &&
               write_share_fields(w, type, attachment, payload)) {
    } else {
        write_string(w, "type", "unsupported");
        write_string(w, "platform_type", type.empty() ? std::string_view("attachment") : type);
        known = false;
    }
    write_story(w, story);
    w.EndObject();
    return known;
}

bool is_legacy_sticker_image(const Value& attachment) {
    const Value* payload = find_object(attachment, "payload");
    return find_string(attachment, "type") == "image" && payload != nullptr &&
           find_member(*payload, "sticker_id") != nullptr;
}

// An unsent message (Instagram `is_deleted`, §4.3): its stored content is replaced.
std::string deleted_event(const Item& item, std::string_view mid) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    begin_event(w, item, "edit");
    write_string(w, "id", mid);
    write_sender(w, item);
    write_int(w, "edited_at_ms", item.timestamp_ms);
    w.Key("content");
    w.StartObject();
    write_string(w, "type", "deleted");
    w.EndObject();
    w.EndObject();
    return finish(buffer);
}

void message_events(const Item& item, const Value& message, std::vector<std::string>& out) {
    const std::string path = item.path + ".message";
    if (!message.IsObject()) throw InvalidInput(path + " must be an object");
    auto mid = find_string(message, "mid");
    if (!mid || mid->empty()) throw InvalidInput(path + ".mid must be a non-empty string");
    if (find_bool(message, "is_deleted").value_or(false)) {
        out.push_back(deleted_event(item, *mid));
        return;
    }
    const Value* text = find_member(message, "text");
    if (text != nullptr && !text->IsString()) throw InvalidInput(path + ".text must be a string");
    const bool has_text = text != nullptr && text->GetStringLength() > 0;

    MessageHeader header{*mid, find_bool(message, "is_echo").value_or(false), std::nullopt,
                         find_string(message, "metadata")};
    const Value* reply_to = find_object(message, "reply_to");
    if (reply_to != nullptr) {
        if (auto replied = find_string(*reply_to, "mid"); replied && !replied->empty())
            header.reply_to = replied;
    }
    // A story reply answers a story, not a message: no reply_to, and the story (its id and
    // URL) goes into the content.
    const Value* story = reply_to != nullptr ? find_object(*reply_to, "story") : nullptr;

    // The pieces that become events: attachments, minus the ones that repeat something.
    std::vector<const Value*> attachments;
    if (const Value* list = find_array(message, "attachments")) {
        const bool has_sticker = std::any_of(
            list->Begin(), list->End(), [](const Value& a) { return find_string(a, "type") == "sticker"; });
        for (const Value& attachment : list->GetArray()) {
            std::string_view type = find_string(attachment, "type").value_or("");
            // `fallback` next to text is the preview of a link the text already holds (§3.3).
            if (has_text && type == "fallback") continue;
            // During the sticker transition a sticker comes twice, as `sticker` and as a legacy
            // `image` with payload.sticker_id (§3.3): keep the new form.
            if (has_sticker && is_legacy_sticker_image(attachment)) continue;
            attachments.push_back(&attachment);
        }
    }

    int pieces = 0;
    auto piece_id = [&]() {
        return pieces == 0 ? std::string(*mid) : std::string(*mid) + "#" + decimal(pieces);
    };
    if (has_text) {
        rapidjson::StringBuffer buffer;
        JsonWriter w(buffer);
        begin_message(w, item, header);
        std::string_view body(text->GetString(), text->GetStringLength());
        const Value* quick_reply = find_object(message, "quick_reply");
        auto payload = quick_reply != nullptr ? find_string(*quick_reply, "payload") : std::nullopt;
        w.Key("content");
        w.StartObject();
        if (payload) {
            // A tap on a quick reply the business offered: its payload and its title.
            write_string(w, "type", "interactive");
            write_string(w, "reply_id", *payload);
            write_string(w, "title", body);
        } else {
            write_string(w, "type", "text");
            write_string(w, "text", body);
        }
        write_story(w, story);
        w.EndObject();
        w.EndObject();
        out.push_back(finish(buffer));
        ++pieces;
    }
    for (const Value* attachment : attachments) {
        rapidjson::StringBuffer buffer;
        JsonWriter w(buffer);
        std::string id = piece_id();
        MessageHeader piece_header = header;
        piece_header.id = id;
        if (pieces > 0) {
            // The first piece carries the reply, and the outbound id: it completes the stored row.
            piece_header.reply_to.reset();
            piece_header.outbound_id.reset();
        }
        begin_message(w, item, piece_header);
        if (!write_attachment_content(w, *attachment, pieces == 0 ? story : nullptr)) write_raw(w, item);
        w.EndObject();
        out.push_back(finish(buffer));
        ++pieces;
    }
    if (pieces == 0) {
        rapidjson::StringBuffer buffer;
        JsonWriter w(buffer);
        begin_message(w, item, header);
        write_unsupported_content(w, first_key_not_in(message, std::begin(kMessageMetadataKeys),
                                                      std::end(kMessageMetadataKeys), "message"));
        write_raw(w, item);
        w.EndObject();
        out.push_back(finish(buffer));
    }
}

// A tap on a postback button, Get Started or the persistent menu (§3.3).
std::string postback_event(const Item& item, const Value& postback) {
    std::optional<std::string_view> mid = find_string(postback, "mid");
    std::string id = mid && !mid->empty() ? std::string(*mid)
                                          : "postback:" + item.customer + ":" + decimal(item.timestamp_ms);
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    begin_message(w, item, MessageHeader{id, false, std::nullopt, std::nullopt});
    w.Key("content");
    w.StartObject();
    write_string(w, "type", "interactive");
    // The payload goes only to the app that sent the button (§3.3); another app sees the title.
    write_string(w, "reply_id", find_string(postback, "payload").value_or(""));
    if (auto title = find_string(postback, "title")) write_string(w, "title", *title);
    if (const Value* referral = find_object(postback, "referral")) {
        // Get Started from an m.me link or an ad: where the conversation came from.
        w.Key("referral");
        w.StartObject();
        if (auto ref = find_string(*referral, "ref"); ref && !ref->empty()) write_string(w, "ref", *ref);
        if (auto source = find_string(*referral, "source"); source && !source->empty())
            write_string(w, "source_type", *source);
        if (auto ad = id_text(find_member(*referral, "ad_id"))) write_string(w, "source_id", *ad);
        w.EndObject();
    }
    w.EndObject();
    w.EndObject();
    return finish(buffer);
}

std::string reaction_event(const Item& item, const Value& reaction) {
    auto mid = find_string(reaction, "mid");
    if (!mid || mid->empty()) throw InvalidInput(item.path + ".reaction.mid must be a non-empty string");
    std::string_view emoji;
    if (find_string(reaction, "action") != "unreact") {
        // `emoji` is the character; `reaction` names it (love, like, ...) and stands in for it.
        emoji = find_string(reaction, "emoji").value_or(find_string(reaction, "reaction").value_or(""));
    }
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    begin_event(w, item, "reaction");
    write_string(w, "id", *mid);
    write_sender(w, item);
    write_string(w, "emoji", emoji);
    w.EndObject();
    return finish(buffer);
}

std::string status_event(const Item& item, std::string_view id, std::string_view status) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    begin_event(w, item, "status");
    write_string(w, "id", id);
    write_string(w, "status", status);
    w.EndObject();
    return finish(buffer);
}

// A receipt that names no message: everything the page sent in this conversation up to
// `watermark_ms` reached `status` (docs/normalized-events.md, status with watermark_ms).
std::string watermark_event(const Item& item, std::int64_t watermark_ms, std::string_view status) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    begin_event(w, item, "status");
    write_string(w, "status", status);
    write_int(w, "watermark_ms", watermark_ms);
    w.EndObject();
    return finish(buffer);
}

std::string edit_event(const Item& item, std::string_view mid, std::string_view text) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    begin_event(w, item, "edit");
    write_string(w, "id", mid);
    write_sender(w, item);
    write_int(w, "edited_at_ms", item.timestamp_ms);
    w.Key("content");
    w.StartObject();
    write_string(w, "type", "text");
    write_string(w, "text", text);
    w.EndObject();
    w.EndObject();
    return finish(buffer);
}

// Items that are not something the customer wrote (§3.3): a referral (the customer came back
// through an m.me link or an ad), an opt-in, account linking. A `system` notice each.
struct Notice {
    std::string_view key;
    std::string code;
    std::string text;
};

std::optional<Notice> system_notice(const Value& json) {
    if (const Value* referral = find_object(json, "referral")) {
        std::string text = "opened the conversation from a link or an ad";
        if (auto ref = find_string(*referral, "ref"); ref && !ref->empty())
            text += " (ref " + std::string(*ref) + ")";
        return Notice{"referral", "referral", text};
    }
    if (const Value* optin = find_object(json, "optin")) {
        std::string_view type = find_string(*optin, "type").value_or("");
        return Notice{"optin", "optin",
                      type == "notification_messages" ? "opted in to notification messages"
                                                      : "opted in through a plugin or checkbox"};
    }
    if (const Value* linking = find_object(json, "account_linking")) {
        bool linked = find_string(*linking, "status") == "linked";
        return Notice{"account_linking", linked ? "account_linked" : "account_unlinked",
                      linked ? "linked their account" : "unlinked their account"};
    }
    // The handover protocol (§3.1): which app answers the customer changed, or is asked to.
    // While another app (the Page inbox, a bot) owns the thread, this one's sends are refused,
    // so an agent needs to see it in the conversation.
    auto app = [](const Value& object, const char* key) {
        std::optional<std::string> id = id_text(find_member(object, key));
        std::string name = !id ? "another app" : *id == kPageInboxAppId ? "the Page inbox" : "app ";
        if (id && *id != kPageInboxAppId) name += *id;
        return name;
    };
    if (const Value* pass = find_object(json, "pass_thread_control")) {
        std::string text = "the conversation was passed to ";
        text += app(*pass, "new_owner_app_id");
        return Notice{"pass_thread_control", "handover_passed", text};
    }
    if (const Value* take = find_object(json, "take_thread_control")) {
        std::string text = app(*take, "new_owner_app_id");
        text += " took the conversation over from ";
        text += app(*take, "previous_owner_app_id");
        return Notice{"take_thread_control", "handover_taken", text};
    }
    if (const Value* request = find_object(json, "request_thread_control")) {
        std::string text = app(*request, "requested_owner_app_id");
        text += " asked to take the conversation over";
        return Notice{"request_thread_control", "handover_requested", text};
    }
    return std::nullopt;
}

// Items about the Page rather than a conversation, dropped by design and counted by the host
// (docs/normalized-events.md): app role changes and policy enforcement on the Page (Meta
// also tells the Page's admins of those).
std::optional<std::string_view> ignored_item_kind(const Value& json) {
    if (find_member(json, "app_roles") != nullptr) return "app_roles";
    if (find_member(json, "policy-enforcement") != nullptr ||
        find_member(json, "policy_enforcement") != nullptr)
        return "policy_enforcement";
    return std::nullopt;
}

std::string system_item_event(const Item& item, const Notice& notice) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    std::string id = std::string(notice.key) + ":" + item.customer + ":" + decimal(item.timestamp_ms);
    begin_message(w, item, MessageHeader{id, false, std::nullopt, std::nullopt});
    w.Key("content");
    w.StartObject();
    write_string(w, "type", "system");
    write_string(w, "code", notice.code);
    write_string(w, "text", notice.text);
    w.EndObject();
    write_raw(w, item);
    w.EndObject();
    return finish(buffer);
}

void item_events(const Item& item, std::vector<std::string>& out) {
    const Value& json = item.json;
    if (const Value* message = find_member(json, "message")) {
        message_events(item, *message, out);
    } else if (const Value* postback = find_object(json, "postback")) {
        out.push_back(postback_event(item, *postback));
    } else if (const Value* reaction = find_object(json, "reaction")) {
        out.push_back(reaction_event(item, *reaction));
    } else if (const Value* read = find_object(json, "read")) {
        // Instagram names the message read (§4.3); Messenger gives only a watermark (§3.3).
        if (auto mid = find_string(*read, "mid"); mid && !mid->empty())
            out.push_back(status_event(item, *mid, "read"));
        else if (auto watermark = time_ms(find_member(*read, "watermark")); watermark && *watermark > 0)
            out.push_back(watermark_event(item, *watermark, "read"));
        else  // a receipt that names nothing it covers
            out.push_back(switchboard::ignored_event("read.empty", item.timestamp_ms));
    } else if (const Value* delivery = find_object(json, "delivery")) {
        const Value* mids = find_array(*delivery, "mids");
        const std::size_t before = out.size();
        if (mids != nullptr && !mids->Empty()) {
            for (const Value& mid : mids->GetArray()) {
                if (mid.IsString() && mid.GetStringLength() > 0)
                    out.push_back(status_event(item, {mid.GetString(), mid.GetStringLength()}, "delivered"));
            }
        } else if (auto watermark = time_ms(find_member(*delivery, "watermark"));
                   watermark && *watermark > 0) {
            out.push_back(watermark_event(item, *watermark, "delivered"));
        }
        if (out.size() == before)
            out.push_back(switchboard::ignored_event("delivery.empty", item.timestamp_ms));
    } else if (const Value* edit = find_object(json, "message_edit");
               edit != nullptr && find_string(*edit, "mid").value_or("") != "" &&
               find_string(*edit, "text")) {
        out.push_back(edit_event(item, *find_string(*edit, "mid"), *find_string(*edit, "text")));
    } else if (auto notice = system_notice(json)) {
        out.push_back(system_item_event(item, *notice));
    } else if (auto ignored = ignored_item_kind(json)) {
        out.push_back(switchboard::ignored_event(*ignored, item.timestamp_ms));
    } else {
        out.push_back(unsupported_item_event(item, first_key_not_in(json, std::begin(kItemEnvelopeKeys),
                                                                    std::end(kItemEnvelopeKeys), "unknown")));
    }
}

void entry_events(const Value& entry, const std::string& path, std::int64_t now_ms,
                  std::vector<std::string>& out) {
    if (!entry.IsObject()) throw InvalidInput(path + " must be an object");
    std::optional<std::string> account_id = id_text(find_member(entry, "id"));
    if (!account_id) throw InvalidInput(path + ".id must be a non-empty string");
    const std::int64_t entry_ms = time_ms(find_member(entry, "time")).value_or(now_ms);

    // Events for the thread owner come in messaging[]; with the handover protocol, the other
    // apps get the same events in standby[] (§3.1): either way the customer wrote them.
    for (const char* list_key : {"messaging", "standby"}) {
        const Value* list = find_member(entry, list_key);
        if (list == nullptr) continue;
        const std::string list_path = path + "." + list_key;
        if (!list->IsArray()) throw InvalidInput(list_path + " must be an array");
        std::size_t index = 0;
        for (const Value& json : list->GetArray()) {
            std::string item_path = list_path + "[" + decimal(static_cast<std::uint64_t>(index++)) + "]";
            if (!json.IsObject()) throw InvalidInput(item_path + " must be an object");
            std::optional<std::string> sender = party_id(json, "sender");
            std::optional<std::string> recipient = party_id(json, "recipient");
            const Value* message = find_object(json, "message");
            // Sent by the account itself (an echo of a send by any app or the inbox): the
            // customer is the recipient.
            bool from_account = (message != nullptr && find_bool(*message, "is_echo").value_or(false)) ||
                                sender == account_id;
            std::optional<std::string> customer = from_account ? recipient : sender;
            if (!customer) customer = from_account ? sender : recipient;
            Item item{json,
                      item_path,
                      *account_id,
                      customer.value_or(std::string(kUnroutedId)),
                      sender.value_or(std::string(kUnroutedId)),
                      time_ms(find_member(json, "timestamp")).value_or(entry_ms)};
            item_events(item, out);
        }
    }

    // Instagram comments and mentions come as changes[] (§4.2): not conversations this plugin
    // translates, kept as unsupported so nothing the platform sent vanishes.
    if (const Value* changes = find_array(entry, "changes")) {
        std::size_t index = 0;
        for (const Value& change : changes->GetArray()) {
            std::string field(find_string(change, "field").value_or("change"));
            Item item{change,
                      path + ".changes[" + decimal(static_cast<std::uint64_t>(index)) + "]",
                      *account_id,
                      std::string(kUnroutedId),
                      std::string(kUnroutedId),
                      entry_ms};
            rapidjson::StringBuffer buffer;
            JsonWriter w(buffer);
            std::string id = "change:" + *account_id + ":" + decimal(entry_ms) + ":" +
                             decimal(static_cast<std::uint64_t>(index++));
            begin_message(w, item, MessageHeader{id, false, std::nullopt, std::nullopt});
            write_unsupported_content(w, field);
            write_raw(w, item);
            w.EndObject();
            out.push_back(finish(buffer));
        }
    }
}

}  // namespace

std::vector<std::string> normalize_webhook(const Product& product, std::string_view body,
                                           std::int64_t now_ms) {
    rapidjson::Document doc;
    meta::parse_untrusted(doc, body, "webhook body");
    if (!doc.IsObject()) throw InvalidInput("webhook body must be a JSON object");
    auto object = find_string(doc, "object");
    if (!object) throw InvalidInput("webhook body has no \"object\"");
    if (*object != product.object) {
        throw InvalidInput("webhook object is \"" + std::string(object->substr(0, 32)) + "\"; a " +
                           std::string(product.name) + " channel takes \"" + std::string(product.object) +
                           "\"");
    }
    const Value* entries = find_array(doc, "entry");
    if (entries == nullptr) throw InvalidInput("webhook body has no entry array");
    std::vector<std::string> events;
    std::size_t index = 0;
    for (const Value& entry : entries->GetArray()) {
        entry_events(entry, "entry[" + decimal(static_cast<std::uint64_t>(index++)) + "]", now_ms, events);
    }
    return events;
}

}  // namespace sb::messaging
