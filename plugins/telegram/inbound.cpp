#include "inbound.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>

#include "json_util.hpp"

namespace sb::telegram {

namespace {

// Used as conversation and sender id for updates that name no chat and no user (e.g. `poll`).
// Not a number, so it never collides with a Telegram chat id.
constexpr std::string_view kUnroutedId = "unrouted";

// Message members that describe the message rather than carry its content: skipped when
// naming the platform_type of a message whose content the plugin does not know.
constexpr std::string_view kMessageMetadataKeys[] = {"message_id",
                                                     "message_thread_id",
                                                     "direct_messages_topic",
                                                     "from",
                                                     "sender_chat",
                                                     "sender_boost_count",
                                                     "sender_business_bot",
                                                     "date",
                                                     "business_connection_id",
                                                     "chat",
                                                     "forward_origin",
                                                     "forward_from",
                                                     "forward_from_chat",
                                                     "forward_from_message_id",
                                                     "forward_signature",
                                                     "forward_sender_name",
                                                     "forward_date",
                                                     "is_topic_message",
                                                     "is_automatic_forward",
                                                     "reply_to_message",
                                                     "external_reply",
                                                     "quote",
                                                     "reply_to_story",
                                                     "reply_to_checklist_task_id",
                                                     "via_bot",
                                                     "edit_date",
                                                     "has_protected_content",
                                                     "is_from_offline",
                                                     "is_paid_post",
                                                     "media_group_id",
                                                     "author_signature",
                                                     "paid_star_count",
                                                     "entities",
                                                     "caption",
                                                     "caption_entities",
                                                     "link_preview_options",
                                                     "effect_id",
                                                     "show_caption_above_media",
                                                     "has_media_spoiler",
                                                     "reply_markup",
                                                     "suggested_post_info",
                                                     "paid_message_price_changed"};

std::string_view member_name(const rapidjson::Value::ConstMemberIterator& it) {
    return {it->name.GetString(), it->name.GetStringLength()};
}

std::string full_name(const Value& object) {
    std::string name(find_string(object, "first_name").value_or(""));
    if (auto last = find_string(object, "last_name"); last && !last->empty()) {
        if (!name.empty()) name += ' ';
        name += *last;
    }
    return name;
}

std::string require_integer(const Value& object, const char* key, const std::string& path) {
    const Value* v = find_member(object, key);
    std::optional<std::string> text = v != nullptr ? integer_text(*v) : std::nullopt;
    if (!text) throw InvalidInput(path + "." + key + " must be an integer");
    return *text;
}

const Value& require_object(const Value& object, const char* key, const std::string& path) {
    const Value* v = find_object(object, key);
    if (v == nullptr) throw InvalidInput(path + "." + key + " must be an object");
    return *v;
}

// Seconds (Telegram) to milliseconds (normalized events).
std::int64_t seconds_to_ms(std::int64_t seconds) {
    constexpr std::int64_t kMaxSeconds = INT64_MAX / 1000;
    if (seconds > kMaxSeconds || seconds < -kMaxSeconds) throw InvalidInput("timestamp out of range");
    return seconds * 1000;
}

// Writes "conversation": {id, kind, title} for a Telegram Chat; returns the chat id.
std::string write_conversation(JsonWriter& w, const Value& chat, const std::string& path) {
    std::string id = require_integer(chat, "id", path);
    w.Key("conversation");
    w.StartObject();
    write_string(w, "id", id);
    std::string_view type = find_string(chat, "type").value_or("");
    std::string_view kind = type == "private"                           ? "private"
                            : (type == "group" || type == "supergroup") ? "group"
                            : type == "channel"                         ? "channel"
                                                                        : "";
    if (!kind.empty()) write_string(w, "kind", kind);
    if (kind == "group" || kind == "channel") {
        if (auto title = find_string(chat, "title")) write_string(w, "title", *title);
    }
    w.EndObject();
    return id;
}

// Writes "sender" from a User object; false (nothing written) when it has no integer id.
// `phone`: the user's own number when the update gives it (a contact card of themselves).
bool write_user(JsonWriter& w, const Value* user, std::optional<std::string_view> phone = std::nullopt) {
    if (user == nullptr) return false;
    const Value* id_value = find_member(*user, "id");
    std::optional<std::string> id = id_value != nullptr ? integer_text(*id_value) : std::nullopt;
    if (!id) return false;
    w.Key("sender");
    w.StartObject();
    write_string(w, "id", *id);
    if (std::string name = full_name(*user); !name.empty()) write_string(w, "name", name);
    if (auto username = find_string(*user, "username")) write_string(w, "username", *username);
    if (phone && !phone->empty()) write_string(w, "phone", *phone);
    w.EndObject();
    return true;
}

// The sender's own phone number: a contact card whose user_id is the sender's (what a
// "share my number" keyboard button sends). A card of somebody else says nothing of the sender.
std::optional<std::string_view> own_phone(const Value& message) {
    const Value* contact = find_object(message, "contact");
    const Value* from = find_object(message, "from");
    if (contact == nullptr || from == nullptr) return std::nullopt;
    const Value* card_user = find_member(*contact, "user_id");
    const Value* from_id = find_member(*from, "id");
    if (card_user == nullptr || from_id == nullptr) return std::nullopt;
    auto card_id = integer_text(*card_user);
    auto sender_id = integer_text(*from_id);
    if (!card_id || !sender_id || *card_id != *sender_id) return std::nullopt;
    return find_string(*contact, "phone_number");
}

// Writes "sender" from a Chat object (channel posts, anonymous group admins).
bool write_chat_as_sender(JsonWriter& w, const Value* chat) {
    if (chat == nullptr) return false;
    const Value* id_value = find_member(*chat, "id");
    std::optional<std::string> id = id_value != nullptr ? integer_text(*id_value) : std::nullopt;
    if (!id) return false;
    w.Key("sender");
    w.StartObject();
    write_string(w, "id", *id);
    std::string name(find_string(*chat, "title").value_or(""));
    if (name.empty()) name = full_name(*chat);
    if (!name.empty()) write_string(w, "name", name);
    if (auto username = find_string(*chat, "username")) write_string(w, "username", *username);
    w.EndObject();
    return true;
}

void write_sentinel_sender(JsonWriter& w) {
    w.Key("sender");
    w.StartObject();
    write_string(w, "id", kUnroutedId);
    w.EndObject();
}

// Writes "media": {...} for a Telegram file object (PhotoSize, Document, Voice, ...).
void write_media(JsonWriter& w, const Value& file, const std::string& path) {
    auto file_id = find_string(file, "file_id");
    if (!file_id) throw InvalidInput(path + ".file_id must be a string");
    w.Key("media");
    w.StartObject();
    write_string(w, "id", *file_id);
    if (auto mime = find_string(file, "mime_type")) write_string(w, "mime", *mime);
    if (auto size = find_int(file, "file_size")) write_int(w, "size", *size);
    if (auto width = find_int(file, "width")) write_int(w, "width", *width);
    if (auto height = find_int(file, "height")) write_int(w, "height", *height);
    // video_note is square: its side is `length`.
    if (auto length = find_int(file, "length"); length && !find_member(file, "width")) {
        write_int(w, "width", *length);
        write_int(w, "height", *length);
    }
    if (auto duration = find_int(file, "duration")) write_int(w, "duration_s", *duration);
    if (auto name = find_string(file, "file_name")) write_string(w, "file_name", *name);
    w.EndObject();
}

// The largest PhotoSize of a `photo` array: by width*height, the later one on a tie (Telegram
// lists sizes smallest first, so the last is the largest when dimensions are missing).
const Value& largest_photo(const Value& sizes, const std::string& path) {
    const Value* best = nullptr;
    std::int64_t best_area = -1;
    for (const Value& size : sizes.GetArray()) {
        if (!find_string(size, "file_id")) continue;
        std::int64_t width = std::max<std::int64_t>(find_int(size, "width").value_or(0), 0);
        std::int64_t height = std::max<std::int64_t>(find_int(size, "height").value_or(0), 0);
        // Telegram photos are at most a few thousand pixels a side; clamp so hostile values
        // cannot overflow the product.
        constexpr std::int64_t kMaxSide = 1 << 30;
        std::int64_t area = std::min(width, kMaxSide) * std::min(height, kMaxSide);
        if (area >= best_area) {
            best = &size;
            best_area = area;
        }
    }
    if (best == nullptr) throw InvalidInput(path + ".photo has no PhotoSize with a file_id");
    return *best;
}

void write_caption(JsonWriter& w, const Value& message) {
    if (auto caption = find_string(message, "caption")) write_string(w, "caption", *caption);
}

void write_location_fields(JsonWriter& w, const Value& location, const Value* venue,
                           const std::string& path) {
    auto latitude = find_number(location, "latitude");
    auto longitude = find_number(location, "longitude");
    if (!latitude || !longitude) throw InvalidInput(path + " must have numeric latitude and longitude");
    write_string(w, "type", "location");
    w.Key("latitude");
    w.Double(*latitude);
    w.Key("longitude");
    w.Double(*longitude);
    if (venue != nullptr) {
        if (auto title = find_string(*venue, "title")) write_string(w, "name", *title);
        if (auto address = find_string(*venue, "address")) write_string(w, "address", *address);
    }
}

void write_unsupported_content(JsonWriter& w, std::string_view platform_type) {
    w.Key("content");
    w.StartObject();
    write_string(w, "type", "unsupported");
    write_string(w, "platform_type", platform_type);
    w.EndObject();
}

// The member of `message` that holds its (unknown) content: the first that is not metadata;
// nullopt when there is none.
std::optional<std::string_view> content_key(const Value& message) {
    for (auto it = message.MemberBegin(); it != message.MemberEnd(); ++it) {
        std::string_view key = member_name(it);
        if (std::find(std::begin(kMessageMetadataKeys), std::end(kMessageMetadataKeys), key) ==
            std::end(kMessageMetadataKeys)) {
            return key;
        }
    }
    return std::nullopt;
}

// A Poll object (in a message, or a `poll` update): question, options with their counts.
void write_poll_fields(JsonWriter& w, const Value& poll, const std::string& path) {
    auto question = find_string(poll, "question");
    const Value* options = find_array(poll, "options");
    if (!question || options == nullptr) throw InvalidInput(path + " must have a question and options");
    write_string(w, "type", "poll");
    if (auto id = find_string(poll, "id")) write_string(w, "poll_id", *id);
    write_string(w, "question", *question);
    w.Key("options");
    w.StartArray();
    for (const Value& option : options->GetArray()) {
        w.StartObject();
        write_string(w, "text", find_string(option, "text").value_or(""));
        if (auto count = find_int(option, "voter_count")) write_int(w, "voter_count", *count);
        w.EndObject();
    }
    w.EndArray();
    if (auto multiple = find_bool(poll, "allows_multiple_answers")) {
        w.Key("multiple_answers");
        w.Bool(*multiple);
    }
    if (auto anonymous = find_bool(poll, "is_anonymous")) {
        w.Key("anonymous");
        w.Bool(*anonymous);
    }
}

// forward_origin (MessageOrigin): who the forwarded message came from (Bot API 7.0+).
void write_forwarded(JsonWriter& w, const Value& message) {
    const Value* origin = find_object(message, "forward_origin");
    if (origin == nullptr) return;
    std::string_view type = find_string(*origin, "type").value_or("");
    const Value* party = type == "user"      ? find_object(*origin, "sender_user")
                         : type == "chat"    ? find_object(*origin, "sender_chat")
                         : type == "channel" ? find_object(*origin, "chat")
                                             : nullptr;
    w.Key("forwarded");
    w.StartObject();
    if (type == "user" || type == "hidden_user" || type == "chat" || type == "channel")
        write_string(w, "kind", type);
    if (party != nullptr) {
        w.Key("from");
        w.StartObject();
        if (const Value* id = find_member(*party, "id"))
            if (auto text = integer_text(*id)) write_string(w, "id", *text);
        std::string name(find_string(*party, "title").value_or(""));
        if (name.empty()) name = full_name(*party);
        if (!name.empty()) write_string(w, "name", name);
        if (auto username = find_string(*party, "username")) write_string(w, "username", *username);
        w.EndObject();
    } else if (auto name = find_string(*origin, "sender_user_name")) {
        w.Key("from");
        w.StartObject();
        write_string(w, "name", *name);
        w.EndObject();
    }
    if (auto date = find_int(*origin, "date"); date && *date > 0)
        write_int(w, "date_ms", seconds_to_ms(*date));
    w.EndObject();
}

// The fields of "content" for a Message (type first); false when the content is unsupported
// (the caller then adds `raw`). Order matters where Telegram sets two fields for backward
// compatibility: an animation also carries `document`, a venue also carries `location`.
bool write_message_content_fields(JsonWriter& w, const Value& message, const std::string& path) {
    if (const Value* text = find_member(message, "text")) {
        if (!text->IsString()) throw InvalidInput(path + ".text must be a string");
        write_string(w, "type", "text");
        write_string(w, "text", {text->GetString(), text->GetStringLength()});
        return true;
    }
    // Animations (GIFs, silent MP4s) are delivered by Telegram as MP4 video: normalized as
    // video so agents' clients play them inline.
    if (const Value* animation = find_object(message, "animation")) {
        write_string(w, "type", "video");
        write_media(w, *animation, path + ".animation");
        write_caption(w, message);
        return true;
    }
    if (const Value* photo = find_array(message, "photo")) {
        write_string(w, "type", "image");
        write_media(w, largest_photo(*photo, path), path + ".photo[]");
        write_caption(w, message);
        return true;
    }
    struct MediaKind {
        const char* key;
        std::string_view type;
    };
    static constexpr std::array<MediaKind, 6> kMediaKinds = {{{"video", "video"},
                                                              {"video_note", "video"},
                                                              {"voice", "voice"},
                                                              {"audio", "audio"},
                                                              {"document", "document"},
                                                              {"sticker", "sticker"}}};
    for (const MediaKind& kind : kMediaKinds) {
        const Value* file = find_object(message, kind.key);
        if (file == nullptr) continue;
        write_string(w, "type", kind.type);
        write_media(w, *file, path + "." + kind.key);
        write_caption(w, message);
        if (kind.type == "sticker") {
            if (auto emoji = find_string(*file, "emoji")) write_string(w, "emoji", *emoji);
        }
        if (kind.type == "audio") {  // a music file: what a player shows
            if (auto title = find_string(*file, "title")) write_string(w, "title", *title);
            if (auto performer = find_string(*file, "performer")) write_string(w, "performer", *performer);
        }
        return true;
    }
    if (const Value* venue = find_object(message, "venue")) {
        const Value* location = find_object(*venue, "location");
        if (location == nullptr) throw InvalidInput(path + ".venue.location must be an object");
        write_location_fields(w, *location, venue, path + ".venue.location");
        return true;
    }
    if (const Value* location = find_object(message, "location")) {
        write_location_fields(w, *location, nullptr, path + ".location");
        return true;
    }
    if (const Value* contact = find_object(message, "contact")) {
        write_string(w, "type", "contact");
        write_string(w, "name", full_name(*contact));
        if (auto phone = find_string(*contact, "phone_number")) write_string(w, "phone", *phone);
        if (const Value* user_id = find_member(*contact, "user_id")) {
            if (auto id = integer_text(*user_id)) write_string(w, "user_id", *id);
        }
        return true;
    }
    if (const Value* poll = find_object(message, "poll")) {
        write_poll_fields(w, *poll, path + ".poll");
        return true;
    }
    if (const Value* dice = find_object(message, "dice")) {
        auto emoji = find_string(*dice, "emoji");
        auto value = find_int(*dice, "value");
        if (!emoji || !value) throw InvalidInput(path + ".dice must have an emoji and an integer value");
        write_string(w, "type", "dice");
        write_string(w, "emoji", *emoji);
        write_int(w, "value", *value);
        return true;
    }
    write_string(w, "type", "unsupported");
    write_string(w, "platform_type", content_key(message).value_or("unknown"));
    return false;
}

// Service messages: something happened in the chat, nobody wrote it. A `system` notice with a
// stable code and a line an agent can read.
struct ServiceKind {
    const char* key;
    const char* code;
    const char* text;
};
constexpr ServiceKind kServiceMessages[] = {
    {"pinned_message", "pinned_message", "pinned a message"},
    {"new_chat_members", "members_joined", "added members to the group"},
    {"left_chat_member", "member_left", "a member left the group"},
    {"new_chat_title", "title_changed", "changed the group's title"},
    {"new_chat_photo", "photo_changed", "changed the group's photo"},
    {"delete_chat_photo", "photo_removed", "removed the group's photo"},
    {"group_chat_created", "group_created", "created the group"},
    {"supergroup_chat_created", "group_created", "created the group"},
    {"channel_chat_created", "channel_created", "created the channel"},
    {"migrate_to_chat_id", "group_migrated", "the group was upgraded to a supergroup"},
    {"migrate_from_chat_id", "group_migrated", "the group was upgraded to a supergroup"},
    {"message_auto_delete_timer_changed", "auto_delete_changed", "changed the auto-delete timer"},
    {"video_chat_scheduled", "video_chat_scheduled", "scheduled a video chat"},
    {"video_chat_started", "video_chat_started", "started a video chat"},
    {"video_chat_ended", "video_chat_ended", "ended a video chat"},
    {"video_chat_participants_invited", "video_chat_invited", "invited people to a video chat"},
    {"write_access_allowed", "write_access_allowed", "allowed the bot to write"},
    {"forum_topic_created", "topic_created", "created a topic"},
    {"forum_topic_closed", "topic_closed", "closed a topic"},
    {"forum_topic_reopened", "topic_reopened", "reopened a topic"},
    {"boost_added", "boost_added", "boosted the chat"},
    {"forum_topic_edited", "topic_edited", "edited a topic"},
    {"general_forum_topic_hidden", "topic_hidden", "hid the General topic"},
    {"general_forum_topic_unhidden", "topic_unhidden", "showed the General topic again"},
    {"chat_background_set", "background_changed", "changed the chat's background"},
    {"connected_website", "website_connected", "logged in on a website through the bot"},
    {"proximity_alert_triggered", "proximity_alert", "came near another user sharing a live location"},
    {"successful_payment", "payment_succeeded", "paid an invoice"},
    {"refunded_payment", "payment_refunded", "was refunded a payment"},
    {"giveaway_created", "giveaway_created", "started a giveaway"},
    {"giveaway_completed", "giveaway_completed", "a giveaway ended"},
};

void write_system_fields(JsonWriter& w, std::string_view code, std::string_view text) {
    write_string(w, "type", "system");
    write_string(w, "code", code);
    write_string(w, "text", text);
}

bool write_message_content(JsonWriter& w, const Value& message, const std::string& path) {
    w.Key("content");
    w.StartObject();
    for (const ServiceKind& kind : kServiceMessages) {
        if (find_member(message, kind.key) == nullptr) continue;
        std::string text = kind.text;
        if (kind.key == std::string_view("new_chat_title"))
            if (auto title = find_string(message, "new_chat_title")) text += ": " + std::string(*title);
        write_system_fields(w, kind.code, text);
        w.EndObject();
        return true;
    }
    bool known = write_message_content_fields(w, message, path);
    write_forwarded(w, message);
    w.EndObject();
    return known;
}

void write_raw(JsonWriter& w, const Value& update) {
    w.Key("raw");
    update.Accept(w);
}

std::string finish(rapidjson::StringBuffer& buffer) { return {buffer.GetString(), buffer.GetSize()}; }

// message / channel_post (edit = false) and edited_message / edited_channel_post (edit = true).
std::string message_event(const Value& update, const Value& message, const std::string& path, bool edit,
                          std::int64_t now_ms) {
    const Value& chat = require_object(message, "chat", path);
    std::string message_id = require_integer(message, "message_id", path);
    auto date = find_int(message, "date");
    if (!date) throw InvalidInput(path + ".date must be an integer");
    // Nothing in it (no text, media or service field): nothing anyone wrote, so no message;
    // counted as `<update>.empty`.
    if (!content_key(message)) return switchboard::ignored_event(path + ".empty", now_ms);

    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    write_int(w, "v", 1);
    write_string(w, "type", edit ? "edit" : "message");
    std::string chat_id = write_conversation(w, chat, path + ".chat");
    write_string(w, "id", chat_id + ":" + message_id);
    if (!write_user(w, find_object(message, "from"), own_phone(message)) &&
        !write_chat_as_sender(w, find_object(message, "sender_chat")) && !write_chat_as_sender(w, &chat)) {
        write_sentinel_sender(w);
    }
    if (edit) {
        // An edit happened at edit_date; the original date is the fallback when it is absent.
        std::int64_t edited_at_ms = seconds_to_ms(find_int(message, "edit_date").value_or(*date));
        write_int(w, "timestamp_ms", edited_at_ms);
        write_int(w, "edited_at_ms", edited_at_ms);
    } else {
        write_int(w, "timestamp_ms", seconds_to_ms(*date));
    }
    if (const Value* replied = find_object(message, "reply_to_message")) {
        const Value* replied_id = find_member(*replied, "message_id");
        if (auto id = replied_id != nullptr ? integer_text(*replied_id) : std::nullopt) {
            std::string replied_chat = chat_id;
            if (const Value* other_chat = find_object(*replied, "chat")) {
                const Value* other_id = find_member(*other_chat, "id");
                if (auto text = other_id != nullptr ? integer_text(*other_id) : std::nullopt)
                    replied_chat = *text;
            }
            write_string(w, "reply_to", replied_chat + ":" + *id);
        }
    }
    if (!write_message_content(w, message, path)) write_raw(w, update);
    w.EndObject();
    return finish(buffer);
}

// The text of the inline button whose callback_data is `data`, if the message still shows it.
std::optional<std::string_view> button_title(const Value* message, std::string_view data) {
    if (message == nullptr) return std::nullopt;
    const Value* markup = find_object(*message, "reply_markup");
    const Value* rows = markup != nullptr ? find_array(*markup, "inline_keyboard") : nullptr;
    if (rows == nullptr) return std::nullopt;
    for (const Value& row : rows->GetArray()) {
        if (!row.IsArray()) continue;
        for (const Value& button : row.GetArray()) {
            if (find_string(button, "callback_data") == data) return find_string(button, "text");
        }
    }
    return std::nullopt;
}

std::string callback_event(const Value& update, const Value& query, std::int64_t now_ms) {
    auto query_id = find_string(query, "id");
    if (!query_id) throw InvalidInput("callback_query.id must be a string");
    const Value* message = find_object(query, "message");
    const Value* chat = message != nullptr ? find_object(*message, "chat") : nullptr;
    const Value* from = find_object(query, "from");

    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    write_int(w, "v", 1);
    write_string(w, "type", "message");
    write_string(w, "id", "cb:" + std::string(*query_id));
    std::string chat_id;
    if (chat != nullptr) {
        chat_id = write_conversation(w, *chat, "callback_query.message.chat");
    } else {
        // A button on an inline-mode message has no chat: the tapping user's private chat.
        const Value* from_id = from != nullptr ? find_member(*from, "id") : nullptr;
        auto id = from_id != nullptr ? integer_text(*from_id) : std::nullopt;
        if (!id) throw InvalidInput("callback_query has neither message.chat nor from.id");
        w.Key("conversation");
        w.StartObject();
        write_string(w, "id", *id);
        write_string(w, "kind", "private");
        w.EndObject();
    }
    if (!write_user(w, from)) write_sentinel_sender(w);
    // A tap carries no time of its own (message.date is when the keyboard was sent).
    write_int(w, "timestamp_ms", now_ms);
    if (chat != nullptr) {
        const Value* message_id = find_member(*message, "message_id");
        if (auto id = message_id != nullptr ? integer_text(*message_id) : std::nullopt) {
            write_string(w, "reply_to", chat_id + ":" + *id);
        }
    }
    auto data = find_string(query, "data");
    if (data) {
        w.Key("content");
        w.StartObject();
        write_string(w, "type", "interactive");
        write_string(w, "reply_id", *data);
        if (auto title = button_title(message, *data)) write_string(w, "title", *title);
        w.EndObject();
    } else {
        // game_short_name taps: no callback data to hand over.
        write_unsupported_content(w, "callback_query");
        write_raw(w, update);
    }
    w.EndObject();
    return finish(buffer);
}

// An update that is not a message: a `system` notice when `system_text` is given, otherwise
// (a kind this plugin does not know) `unsupported` with the update as raw. Routed to the chat
// or user it names, if any.
std::string unsupported_update_event(const Value& update, std::string_view update_id, std::string_view key,
                                     const Value* payload, std::int64_t now_ms,
                                     std::string_view system_text = {}) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    write_int(w, "v", 1);
    write_string(w, "type", "message");
    write_string(w, "id", "update:" + std::string(update_id));
    const Value* chat = payload != nullptr ? find_object(*payload, "chat") : nullptr;
    const Value* user = nullptr;
    if (payload != nullptr) {
        user = find_object(*payload, "from");
        if (user == nullptr) user = find_object(*payload, "user");
    }
    const Value* chat_id = chat != nullptr ? find_member(*chat, "id") : nullptr;
    const Value* user_id = user != nullptr ? find_member(*user, "id") : nullptr;
    if (chat_id != nullptr && integer_text(*chat_id)) {
        write_conversation(w, *chat, std::string(key) + ".chat");
    } else if (user_id != nullptr && integer_text(*user_id)) {
        w.Key("conversation");
        w.StartObject();
        write_string(w, "id", *integer_text(*user_id));
        write_string(w, "kind", "private");
        w.EndObject();
    } else {
        w.Key("conversation");
        w.StartObject();
        write_string(w, "id", kUnroutedId);
        w.EndObject();
    }
    if (!write_user(w, user) && !write_chat_as_sender(w, chat)) write_sentinel_sender(w);
    std::optional<std::int64_t> date = payload != nullptr ? find_int(*payload, "date") : std::nullopt;
    write_int(w, "timestamp_ms", date && *date > 0 ? seconds_to_ms(*date) : now_ms);
    if (system_text.empty()) {
        write_unsupported_content(w, key);
    } else {
        w.Key("content");
        w.StartObject();
        write_string(w, "type", "system");
        write_string(w, "code", key);
        write_string(w, "text", system_text);
        w.EndObject();
    }
    write_raw(w, update);
    w.EndObject();
    return finish(buffer);
}

// message_reaction (MessageReactionUpdated): a user changed their reaction to a message. One
// reaction per user and message in the normalized model: the first of new_reaction (none =
// removed). Custom emoji are named by id; paid reactions are Telegram's star.
std::string reaction_event(const Value& reaction, const std::string& path) {
    const Value& chat = require_object(reaction, "chat", path);
    std::string message_id = require_integer(reaction, "message_id", path);
    auto date = find_int(reaction, "date");
    if (!date) throw InvalidInput(path + ".date must be an integer");
    std::string emoji;
    if (const Value* now = find_array(reaction, "new_reaction"); now != nullptr && !now->Empty()) {
        const Value& first = (*now)[0];
        std::string_view type = find_string(first, "type").value_or("");
        if (type == "emoji")
            emoji = find_string(first, "emoji").value_or("");
        else if (type == "custom_emoji")
            emoji = "custom_emoji:" + std::string(find_string(first, "custom_emoji_id").value_or(""));
        else if (type == "paid")
            emoji = "\u2b50";
    }
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    write_int(w, "v", 1);
    write_string(w, "type", "reaction");
    std::string chat_id = write_conversation(w, chat, path + ".chat");
    write_string(w, "id", chat_id + ":" + message_id);
    if (!write_user(w, find_object(reaction, "user")) &&
        !write_chat_as_sender(w, find_object(reaction, "actor_chat")))
        write_sentinel_sender(w);
    write_int(w, "timestamp_ms", seconds_to_ms(*date));
    write_string(w, "emoji", emoji);
    w.EndObject();
    return finish(buffer);
}

// poll_answer: a user voted (option_ids empty = retracted the vote) in a non-anonymous poll the
// bot sent. It names the voter, not the chat: the voter's private chat is the conversation.
std::string poll_answer_event(const Value& answer, std::string_view update_id, std::int64_t now_ms) {
    auto poll_id = find_string(answer, "poll_id");
    const Value* options = find_array(answer, "option_ids");
    if (!poll_id || options == nullptr) throw InvalidInput("poll_answer must have poll_id and option_ids");
    const Value* user = find_object(answer, "user");
    const Value* voter_chat = find_object(answer, "voter_chat");
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    write_int(w, "v", 1);
    write_string(w, "type", "message");
    write_string(w, "id", "update:" + std::string(update_id));
    if (voter_chat != nullptr) {
        write_conversation(w, *voter_chat, "poll_answer.voter_chat");
    } else {
        const Value* user_id = user != nullptr ? find_member(*user, "id") : nullptr;
        auto id = user_id != nullptr ? integer_text(*user_id) : std::nullopt;
        if (!id) throw InvalidInput("poll_answer names neither user.id nor voter_chat");
        w.Key("conversation");
        w.StartObject();
        write_string(w, "id", *id);
        write_string(w, "kind", "private");
        w.EndObject();
    }
    if (!write_user(w, user) && !write_chat_as_sender(w, voter_chat)) write_sentinel_sender(w);
    write_int(w, "timestamp_ms", now_ms);  // an answer carries no time of its own
    w.Key("content");
    w.StartObject();
    write_string(w, "type", "poll_answer");
    write_string(w, "poll_id", *poll_id);
    w.Key("option_ids");
    w.StartArray();
    for (const Value& option : options->GetArray())
        if (option.IsInt()) w.Int(option.GetInt());
    w.EndArray();
    w.EndObject();
    w.EndObject();
    return finish(buffer);
}

// my_chat_member: the bot's own membership changed. In a private chat, "kicked" is the customer
// blocking the bot (sends fail until they unblock it), "member" is them starting it again.
std::string membership_event(const Value& update, const Value& change, std::string_view update_id) {
    const Value& chat = require_object(change, "chat", "my_chat_member");
    auto date = find_int(change, "date");
    if (!date) throw InvalidInput("my_chat_member.date must be an integer");
    const Value* now = find_object(change, "new_chat_member");
    std::string_view status = now != nullptr ? find_string(*now, "status").value_or("") : "";
    std::string_view code = status == "kicked"          ? "blocked"
                            : status == "member"        ? "unblocked"
                            : status == "left"          ? "bot_removed"
                            : status == "administrator" ? "bot_promoted"
                            : status == "restricted"    ? "bot_restricted"
                                                        : "membership_changed";
    std::string_view text = code == "blocked" ? "blocked the bot: messages to this chat fail until unblocked"
                            : code == "unblocked"      ? "started the bot again"
                            : code == "bot_removed"    ? "removed the bot from the chat"
                            : code == "bot_promoted"   ? "made the bot an administrator"
                            : code == "bot_restricted" ? "restricted the bot"
                                                       : "changed the bot's membership";
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    write_int(w, "v", 1);
    write_string(w, "type", "message");
    write_string(w, "id", "update:" + std::string(update_id));
    write_conversation(w, chat, "my_chat_member.chat");
    if (!write_user(w, find_object(change, "from")) && !write_chat_as_sender(w, &chat))
        write_sentinel_sender(w);
    write_int(w, "timestamp_ms", seconds_to_ms(*date));
    w.Key("content");
    w.StartObject();
    write_system_fields(w, code, text);
    // Whether the bot can write to the chat now: the host refuses sends while it cannot,
    // rather than have Telegram answer each with 403.
    if (status == "kicked" || status == "left") {
        w.Key("reachable");
        w.Bool(false);
    } else if (status == "member" || status == "administrator") {
        w.Key("reachable");
        w.Bool(true);
    }
    w.EndObject();
    write_raw(w, update);
    w.EndObject();
    return finish(buffer);
}

// Updates that tell of something in a chat rather than carry what someone wrote: a notice in
// the chat they name (or the user's private chat). code = the update's kind.
struct SystemUpdate {
    std::string_view key;
    std::string_view text;
};
constexpr SystemUpdate kSystemUpdates[] = {
    {"chat_member", "a member's status in the chat changed"},
    {"chat_join_request", "asked to join the chat"},
    {"chat_boost", "boosted the chat"},
    {"removed_chat_boost", "removed a boost from the chat"},
    {"purchased_paid_media", "bought paid media"},
    {"shipping_query", "asked for shipping options (an invoice with flexible pricing)"},
    {"pre_checkout_query", "is about to pay an invoice"},
};

// deleted_business_messages: the customer deleted messages in a business chat.
void deleted_business_events(const Value& deleted, std::int64_t now_ms, std::vector<std::string>& out) {
    const Value& chat = require_object(deleted, "chat", "deleted_business_messages");
    const Value* ids = find_array(deleted, "message_ids");
    if (ids == nullptr) throw InvalidInput("deleted_business_messages.message_ids must be an array");
    for (const Value& id : ids->GetArray()) {
        auto text = integer_text(id);
        if (!text) continue;
        rapidjson::StringBuffer buffer;
        JsonWriter w(buffer);
        w.StartObject();
        write_int(w, "v", 1);
        write_string(w, "type", "edit");
        std::string chat_id = write_conversation(w, chat, "deleted_business_messages.chat");
        write_string(w, "id", chat_id + ":" + *text);
        write_int(w, "timestamp_ms", now_ms);
        write_int(w, "edited_at_ms", now_ms);
        w.Key("content");
        w.StartObject();
        write_string(w, "type", "deleted");
        w.EndObject();
        w.EndObject();
        out.push_back(finish(buffer));
    }
}

// Updates with nothing for an agent, dropped by design (docs/plugin-guide.md lists them per
// plugin) and counted by the host: inline-mode queries (the bot answers them itself, they are
// not a conversation), anonymous reaction counts, poll state changes (the counts arrive with
// the poll when it is shown; single votes come as poll_answer), and business_connection (the
// account owner connecting the bot: an operator's matter, not a conversation).
constexpr std::string_view kIgnoredUpdates[] = {"inline_query", "chosen_inline_result",
                                                "message_reaction_count", "poll", "business_connection"};

}  // namespace

std::vector<std::string> normalize_update(std::string_view body, std::int64_t now_ms,
                                          std::optional<std::string>* callback_query_id) {
    if (callback_query_id != nullptr) callback_query_id->reset();
    rapidjson::Document doc;
    parse_untrusted(doc, body, "update");
    if (!doc.IsObject()) throw InvalidInput("update must be a JSON object");
    const Value* update_id_value = find_member(doc, "update_id");
    if (update_id_value == nullptr) throw InvalidInput("update.update_id is missing: not a Telegram Update");
    std::optional<std::string> update_id = integer_text(*update_id_value);
    if (!update_id) throw InvalidInput("update.update_id must be an integer");

    // An Update has update_id and at most one other member, the payload.
    std::string_view key = "unknown";
    const Value* payload = nullptr;
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
        if (member_name(it) != "update_id") {
            key = member_name(it);
            payload = &it->value;
            break;
        }
    }

    std::vector<std::string> events;
    std::string path(key);
    auto require_payload_object = [&]() -> const Value& {
        if (!payload->IsObject()) throw InvalidInput("update." + path + " must be an object");
        return *payload;
    };
    if (key == "message" || key == "channel_post" || key == "business_message") {
        events.push_back(message_event(doc, require_payload_object(), path, false, now_ms));
    } else if (key == "edited_message" || key == "edited_channel_post" || key == "edited_business_message") {
        events.push_back(message_event(doc, require_payload_object(), path, true, now_ms));
    } else if (key == "callback_query") {
        const Value& query = require_payload_object();
        events.push_back(callback_event(doc, query, now_ms));  // throws unless the query has an id
        if (callback_query_id != nullptr) *callback_query_id = std::string(*find_string(query, "id"));
    } else if (key == "message_reaction") {
        events.push_back(reaction_event(require_payload_object(), path));
    } else if (key == "my_chat_member") {
        events.push_back(membership_event(doc, require_payload_object(), *update_id));
    } else if (key == "poll_answer") {
        events.push_back(poll_answer_event(require_payload_object(), *update_id, now_ms));
    } else if (key == "deleted_business_messages") {
        deleted_business_events(require_payload_object(), now_ms, events);
    } else if (std::find(std::begin(kIgnoredUpdates), std::end(kIgnoredUpdates), key) !=
               std::end(kIgnoredUpdates)) {
        events.push_back(switchboard::ignored_event(key, now_ms));
    } else if (auto system = std::find_if(std::begin(kSystemUpdates), std::end(kSystemUpdates),
                                          [&](const SystemUpdate& u) { return u.key == key; });
               system != std::end(kSystemUpdates)) {
        events.push_back(unsupported_update_event(doc, *update_id, key, payload, now_ms, system->text));
    } else {
        events.push_back(unsupported_update_event(doc, *update_id, key, payload, now_ms));
    }
    return events;
}

}  // namespace sb::telegram
