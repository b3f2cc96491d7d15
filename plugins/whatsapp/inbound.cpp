#include "inbound.hpp"

#include <cstdint>
#include <optional>

#include "json.hpp"

namespace sb::whatsapp {

namespace {

using sb::meta::find_array;
using sb::meta::find_bool;
using sb::meta::find_int;
using sb::meta::find_member;
using sb::meta::find_number;
using sb::meta::find_object;
using sb::meta::find_string;
using sb::meta::JsonWriter;
using sb::meta::Value;
using sb::meta::write_int;
using sb::meta::write_string;
using switchboard::InvalidInput;

// Conversation of a status receipt that names no recipient (BSUID-only users, [U] field
// names). Status events are matched to the sent message by id; the conversation is unused.
constexpr std::string_view kUnknownRecipient = "unknown";

std::string index_path(std::string_view base, std::size_t i) {
    return std::string(base) + "[" + sb::meta::decimal(static_cast<std::uint64_t>(i)) + "]";
}

// WhatsApp timestamps are strings of Unix seconds (platforms.md 2.3); integers are tolerated.
std::int64_t timestamp_ms(const Value& object, const std::string& path) {
    std::optional<std::int64_t> seconds;
    if (auto text = find_string(object, "timestamp")) {
        seconds = sb::meta::parse_decimal(*text);
    } else if (auto number = find_int(object, "timestamp"); number && *number >= 0) {
        seconds = number;
    }
    constexpr std::int64_t kMaxSeconds = INT64_MAX / 1000;
    if (!seconds || *seconds > kMaxSeconds) {
        throw InvalidInput(path + ".timestamp must be Unix seconds (a string of digits)");
    }
    return *seconds * 1000;
}

std::string_view nonempty(std::optional<std::string_view> text) { return text.value_or(""); }

struct Contact {
    std::string_view wa_id;
    std::string_view user_id;  // BSUID (platforms.md 2.9)
    std::string_view name;
};

std::vector<Contact> read_contacts(const Value& value) {
    std::vector<Contact> contacts;
    const Value* list = find_array(value, "contacts");
    if (list == nullptr) return contacts;
    for (const Value& c : list->GetArray()) {
        Contact contact;
        contact.wa_id = nonempty(find_string(c, "wa_id"));
        contact.user_id = nonempty(find_string(c, "user_id"));
        if (const Value* profile = find_object(c, "profile"))
            contact.name = nonempty(find_string(*profile, "name"));
        contacts.push_back(contact);
    }
    return contacts;
}

// Who sent a message. The conversation key is the user's wa_id whenever WhatsApp gives one,
// because that is what the send API's `to` takes; the BSUID only when no phone is known.
struct Sender {
    std::string_view id;
    std::string_view name;
    std::string_view phone;
};

std::optional<Sender> identify(const Value& message, const std::vector<Contact>& contacts) {
    std::string_view from = nonempty(find_string(message, "from"));
    const Contact* contact = nullptr;
    for (const Contact& c : contacts) {
        if (!from.empty() && c.wa_id == from) contact = &c;
    }
    // Without `from` (phone withheld), a value carries the one contact who wrote.
    if (contact == nullptr && from.empty() && contacts.size() == 1) contact = &contacts.front();
    Sender sender;
    sender.phone = !from.empty() ? from : contact != nullptr ? contact->wa_id : std::string_view();
    sender.id = !sender.phone.empty() ? sender.phone
                : contact != nullptr  ? contact->user_id
                                      : std::string_view();
    if (contact != nullptr) sender.name = contact->name;
    if (sender.id.empty()) return std::nullopt;
    return sender;
}

class EventWriter {
public:
    EventWriter(std::string_view type, std::string_view account_id, std::string_view conversation_id,
                std::int64_t timestamp_ms)
        : w_(buffer_) {
        w_.StartObject();
        write_int(w_, "v", 1);
        write_string(w_, "type", type);
        write_string(w_, "account_id", account_id);
        w_.Key("conversation");
        w_.StartObject();
        write_string(w_, "id", conversation_id);
        write_string(w_, "kind", "private");
        w_.EndObject();
        write_int(w_, "timestamp_ms", timestamp_ms);
    }
    JsonWriter& w() { return w_; }
    std::string finish() {
        w_.EndObject();
        return {buffer_.GetString(), buffer_.GetSize()};
    }

private:
    rapidjson::StringBuffer buffer_;
    JsonWriter w_;
};

void write_sender(JsonWriter& w, const Sender& sender) {
    w.Key("sender");
    w.StartObject();
    write_string(w, "id", sender.id);
    if (!sender.name.empty()) write_string(w, "name", sender.name);
    if (!sender.phone.empty()) write_string(w, "phone", sender.phone);
    w.EndObject();
}

// A contact card's display name: formatted_name, else first + last.
std::string card_name(const Value& card) {
    const Value* name_object = find_object(card, "name");
    if (name_object == nullptr) return {};
    std::string name(nonempty(find_string(*name_object, "formatted_name")));
    if (name.empty()) {
        name = nonempty(find_string(*name_object, "first_name"));
        if (auto last = find_string(*name_object, "last_name"); last && !last->empty()) {
            if (!name.empty()) name += ' ';
            name += *last;
        }
    }
    return name;
}

struct Card {
    std::string name;
    std::string_view phone;
    std::string_view wa_id;
};

std::optional<Card> read_card(const Value& card) {
    Card out{card_name(card), {}, {}};
    if (const Value* phones = find_array(card, "phones"); phones != nullptr && !phones->Empty()) {
        out.phone = nonempty(find_string((*phones)[0], "phone"));
        out.wa_id = nonempty(find_string((*phones)[0], "wa_id"));
    }
    if (out.name.empty() && out.phone.empty()) return std::nullopt;
    if (out.name.empty()) out.name = std::string(out.phone);
    return out;
}

void write_card_fields(JsonWriter& w, const Card& card) {
    write_string(w, "name", card.name);
    if (!card.phone.empty()) write_string(w, "phone", card.phone);
    if (!card.wa_id.empty()) write_string(w, "user_id", card.wa_id);
}

// A Flow's answer: response_json is a JSON string of the form's fields; flow_token is the
// business's own correlation value, not something the customer answered.
bool write_form_reply_fields(JsonWriter& w, const Value& reply) {
    auto response = find_string(reply, "response_json");
    if (!response) return false;
    rapidjson::Document fields;
    try {
        sb::meta::parse_untrusted(fields, *response, "nfm_reply.response_json");
    } catch (const InvalidInput&) {
        return false;
    }
    if (!fields.IsObject()) return false;
    write_string(w, "type", "form_reply");
    if (auto name = find_string(reply, "name")) write_string(w, "name", *name);
    if (auto body = find_string(reply, "body")) write_string(w, "body", *body);
    w.Key("fields");
    w.StartObject();
    for (const auto& field : fields.GetObject()) {
        if (std::string_view(field.name.GetString(), field.name.GetStringLength()) == "flow_token") continue;
        w.Key(field.name.GetString(), field.name.GetStringLength());
        field.value.Accept(w);
    }
    w.EndObject();
    return true;
}

// The fields of "content" (type first) for a message of `type`; false when the content is not
// translatable, before anything is written.
bool write_content_fields(JsonWriter& w, std::string_view type, const Value& message) {
    if (type == "text") {
        const Value* text = find_object(message, "text");
        auto body = text != nullptr ? find_string(*text, "body") : std::nullopt;
        if (!body) return false;
        write_string(w, "type", "text");
        write_string(w, "text", *body);
        return true;
    }
    if (type == "image" || type == "video" || type == "audio" || type == "document" || type == "sticker") {
        const Value* media = find_object(message, std::string(type).c_str());
        auto id = media != nullptr ? find_string(*media, "id") : std::nullopt;
        if (!id || id->empty()) return false;
        // A push-to-talk note is audio with voice:true (platforms.md 2.4).
        std::string_view kind =
            type == "audio" && find_bool(*media, "voice").value_or(false) ? "voice" : type;
        write_string(w, "type", kind);
        w.Key("media");
        w.StartObject();
        write_string(w, "id", *id);
        if (auto mime = find_string(*media, "mime_type")) write_string(w, "mime", *mime);
        if (auto name = find_string(*media, "filename")) write_string(w, "file_name", *name);
        if (auto url = find_string(*media, "url"); url && !url->empty()) write_string(w, "url", *url);
        if (auto digest = find_string(*media, "sha256")) write_string(w, "sha256", *digest);
        w.EndObject();
        if (auto caption = find_string(*media, "caption")) write_string(w, "caption", *caption);
        return true;
    }
    if (type == "location") {
        const Value* location = find_object(message, "location");
        if (location == nullptr) return false;
        auto latitude = find_number(*location, "latitude");
        auto longitude = find_number(*location, "longitude");
        if (!latitude || !longitude) return false;
        write_string(w, "type", "location");
        w.Key("latitude");
        w.Double(*latitude);
        w.Key("longitude");
        w.Double(*longitude);
        if (auto name = find_string(*location, "name")) write_string(w, "name", *name);
        if (auto address = find_string(*location, "address")) write_string(w, "address", *address);
        return true;
    }
    if (type == "contacts") {
        const Value* list = find_array(message, "contacts");
        if (list == nullptr) return false;
        std::vector<Card> cards;
        for (const Value& card : list->GetArray())
            if (auto read = read_card(card)) cards.push_back(std::move(*read));
        if (cards.empty()) return false;
        write_string(w, "type", "contact");
        write_card_fields(w, cards.front());
        if (cards.size() > 1) {  // every card the customer shared, not just the first
            w.Key("contacts");
            w.StartArray();
            for (const Card& card : cards) {
                w.StartObject();
                write_card_fields(w, card);
                w.EndObject();
            }
            w.EndArray();
        }
        return true;
    }
    if (type == "order") {
        const Value* order = find_object(message, "order");
        const Value* items = order != nullptr ? find_array(*order, "product_items") : nullptr;
        if (items == nullptr) return false;
        write_string(w, "type", "order");
        if (auto catalog = find_string(*order, "catalog_id")) write_string(w, "catalog_id", *catalog);
        if (auto text = find_string(*order, "text"); text && !text->empty()) write_string(w, "text", *text);
        w.Key("items");
        w.StartArray();
        for (const Value& item : items->GetArray()) {
            w.StartObject();
            write_string(w, "product_id", nonempty(find_string(item, "product_retailer_id")));
            write_int(w, "quantity", find_int(item, "quantity").value_or(0));
            if (auto price = find_number(item, "item_price")) {
                w.Key("price");
                w.Double(*price);
            }
            if (auto currency = find_string(item, "currency")) write_string(w, "currency", *currency);
            w.EndObject();
        }
        w.EndArray();
        return true;
    }
    if (type == "interactive") {
        const Value* interactive = find_object(message, "interactive");
        if (interactive == nullptr) return false;
        std::string_view kind = nonempty(find_string(*interactive, "type"));
        if (kind == "nfm_reply") {
            const Value* reply = find_object(*interactive, "nfm_reply");
            return reply != nullptr && write_form_reply_fields(w, *reply);
        }
        if (kind != "button_reply" && kind != "list_reply") return false;
        const Value* reply = find_object(*interactive, std::string(kind).c_str());
        if (reply == nullptr) return false;
        std::string_view reply_id = nonempty(find_string(*reply, "id"));
        if (reply_id.empty()) return false;
        write_string(w, "type", "interactive");
        write_string(w, "reply_id", reply_id);
        if (auto title = find_string(*reply, "title"); title && !title->empty())
            write_string(w, "title", *title);
        if (auto description = find_string(*reply, "description"); description && !description->empty())
            write_string(w, "description", *description);
        return true;
    }
    if (type == "system") {
        // Not written by the customer: a number or identity change, as a notice (platforms.md 2.4).
        const Value* system = find_object(message, "system");
        if (system == nullptr) return false;
        std::string_view kind = nonempty(find_string(*system, "type"));
        if (kind == "customer_changed_number") kind = "user_changed_number";  // the older name
        if (kind.empty()) kind = "system";
        std::string text(nonempty(find_string(*system, "body")));
        if (text.empty())
            text = kind == "user_changed_number"         ? "the customer changed their phone number"
                   : kind == "customer_identity_changed" ? "the customer's security code changed"
                                                         : "a change on the customer's account";
        write_string(w, "type", "system");
        write_string(w, "code", kind);
        write_string(w, "text", text);
        for (const char* key : {"wa_id", "new_wa_id"})
            if (auto value = find_string(*system, key); value && !value->empty())
                write_string(w, key, *value);
        return true;
    }
    if (type == "request_welcome") {
        // The customer opened the chat for the first time (no text): a notice, so the
        // business can greet them within the window it opens.
        write_string(w, "type", "system");
        write_string(w, "code", "chat_opened");
        write_string(w, "text", "opened the chat");
        return true;
    }
    if (type == "button") {
        // A quick-reply button of a template (platforms.md 2.4).
        const Value* button = find_object(message, "button");
        if (button == nullptr) return false;
        std::string_view title = nonempty(find_string(*button, "text"));
        std::string_view reply_id = nonempty(find_string(*button, "payload"));
        if (reply_id.empty()) reply_id = title;
        if (reply_id.empty()) return false;
        write_string(w, "type", "interactive");
        write_string(w, "reply_id", reply_id);
        if (!title.empty()) write_string(w, "title", title);
        return true;
    }
    return false;
}

// platform_type for a message whose content is not translated: its `type`, refined for
// interactive kinds ("interactive.nfm_reply").
std::string platform_type_of(std::string_view type, const Value& message) {
    if (type.empty()) return "unknown";
    std::string out(type);
    if (type == "interactive") {
        const Value* interactive = find_object(message, "interactive");
        if (auto kind = interactive != nullptr ? find_string(*interactive, "type") : std::nullopt) {
            out += ".";
            out += *kind;
        }
    }
    return out;
}

// What a message says about where it came from: forwarded (context.forwarded /
// frequently_forwarded) and the click-to-WhatsApp ad that opened the chat (referral).
void write_context_fields(JsonWriter& w, const Value& message) {
    if (const Value* context = find_object(message, "context")) {
        bool frequently = find_bool(*context, "frequently_forwarded").value_or(false);
        if (frequently || find_bool(*context, "forwarded").value_or(false)) {
            w.Key("forwarded");
            w.StartObject();
            if (frequently) {
                w.Key("frequently");
                w.Bool(true);
            }
            w.EndObject();
        }
    }
    if (const Value* referral = find_object(message, "referral")) {
        w.Key("referral");
        w.StartObject();
        for (const char* key : {"source_url", "source_id", "source_type", "headline", "body", "media_type"})
            if (auto value = find_string(*referral, key); value && !value->empty())
                write_string(w, key, *value);
        w.EndObject();
    }
}

// Writes "content" for a message, or unsupported content and "raw" when it is not translatable.
void write_message_content(JsonWriter& w, std::string_view type, const Value& message) {
    w.Key("content");
    w.StartObject();
    bool known = write_content_fields(w, type, message);
    if (!known) {
        write_string(w, "type", "unsupported");
        write_string(w, "platform_type", platform_type_of(type, message));
    }
    write_context_fields(w, message);
    w.EndObject();
    if (!known) {
        w.Key("raw");
        message.Accept(w);
    }
}

std::string normalize_message(const Value& message, std::string_view account_id,
                              const std::vector<Contact>& contacts, const std::string& path) {
    if (!message.IsObject()) throw InvalidInput(path + " must be an object");
    std::string_view id = nonempty(find_string(message, "id"));
    if (id.empty()) throw InvalidInput(path + ".id must be a non-empty string");
    std::int64_t at_ms = timestamp_ms(message, path);
    auto sender = identify(message, contacts);
    if (!sender)
        throw InvalidInput(path + " names no sender (no from, contacts[].wa_id or contacts[].user_id)");
    std::string_view type = nonempty(find_string(message, "type"));

    if (type == "reaction") {
        const Value* reaction = find_object(message, "reaction");
        std::string_view target = reaction != nullptr ? nonempty(find_string(*reaction, "message_id")) : "";
        if (!target.empty()) {
            EventWriter event("reaction", account_id, sender->id, at_ms);
            JsonWriter& w = event.w();
            write_string(w, "id", target);
            write_sender(w, *sender);
            // Removal: emoji empty or absent (platforms.md 2.4).
            write_string(w, "emoji", nonempty(find_string(*reaction, "emoji")));
            return event.finish();
        }
        // A reaction naming no message cannot update anything: kept as unsupported below.
    }
    if (type == "edit") {
        // The customer edited a message or a caption: an edit of the stored message.
        const Value* edit = find_object(message, "edit");
        std::string_view original =
            edit != nullptr ? nonempty(find_string(*edit, "original_message_id")) : "";
        const Value* edited = edit != nullptr ? find_object(*edit, "message") : nullptr;
        std::string_view edited_type = edited != nullptr ? nonempty(find_string(*edited, "type")) : "";
        if (!original.empty() && edited != nullptr && !edited_type.empty()) {
            EventWriter event("edit", account_id, sender->id, at_ms);
            JsonWriter& w = event.w();
            write_string(w, "id", original);
            write_sender(w, *sender);
            write_int(w, "edited_at_ms", at_ms);
            write_message_content(w, edited_type, *edited);
            return event.finish();
        }
    }

    if (type == "revoke") {
        // The customer deleted a message for everyone: the stored one becomes "deleted".
        const Value* revoke = find_object(message, "revoke");
        std::string_view original =
            revoke != nullptr ? nonempty(find_string(*revoke, "original_message_id")) : "";
        if (!original.empty()) {
            EventWriter event("edit", account_id, sender->id, at_ms);
            JsonWriter& w = event.w();
            write_string(w, "id", original);
            write_sender(w, *sender);
            write_int(w, "edited_at_ms", at_ms);
            w.Key("content");
            w.StartObject();
            write_string(w, "type", "deleted");
            w.EndObject();
            return event.finish();
        }
    }

    EventWriter event("message", account_id, sender->id, at_ms);
    JsonWriter& w = event.w();
    write_string(w, "id", id);
    Sender from = *sender;
    if (type == "system") {
        // A number change: the contact's phone is the new number from now on (the
        // conversation keeps its key; the customer's next message comes from new_wa_id).
        const Value* system = find_object(message, "system");
        if (std::string_view now = system != nullptr ? nonempty(find_string(*system, "new_wa_id")) : "";
            !now.empty())
            from.phone = now;
    }
    write_sender(w, from);
    if (const Value* context = find_object(message, "context")) {
        if (auto replied = find_string(*context, "id"); replied && !replied->empty()) {
            write_string(w, "reply_to", *replied);
        }
    }
    write_message_content(w, type, message);
    return event.finish();
}

// smb_message_echoes: a message the business sent from the WhatsApp Business app on the same
// number (coexistence). Stored as the business's own outbound message in the customer's chat.
std::string normalize_echo(const Value& echo, std::string_view account_id, const std::string& path) {
    if (!echo.IsObject()) throw InvalidInput(path + " must be an object");
    std::string_view id = nonempty(find_string(echo, "id"));
    if (id.empty()) throw InvalidInput(path + ".id must be a non-empty string");
    std::string_view to = nonempty(find_string(echo, "to"));
    if (!to.empty() && to.front() == '+') to.remove_prefix(1);  // wa_ids carry no '+'
    if (to.empty()) throw InvalidInput(path + ".to must name the customer");
    std::int64_t at_ms = timestamp_ms(echo, path);
    EventWriter event("message", account_id, to, at_ms);
    JsonWriter& w = event.w();
    write_string(w, "id", id);
    write_string(w, "direction", "out");
    w.Key("sender");
    w.StartObject();
    write_string(w, "id", account_id);
    if (auto from = find_string(echo, "from"); from && !from->empty()) write_string(w, "phone", *from);
    w.EndObject();
    write_message_content(w, nonempty(find_string(echo, "type")), echo);
    return event.finish();
}

std::optional<std::string> normalize_status(const Value& status, std::string_view account_id,
                                            const std::string& path, std::vector<LogLine>& logs) {
    if (!status.IsObject()) throw InvalidInput(path + " must be an object");
    std::string_view id = nonempty(find_string(status, "id"));
    if (id.empty()) throw InvalidInput(path + ".id must be a non-empty string");
    std::string_view state = nonempty(find_string(status, "status"));
    if (state != "sent" && state != "delivered" && state != "read" && state != "failed") {
        // "deleted", "warning" and newer states: no normalized status; counted as ignored.
        logs.push_back({SB_LOG_DEBUG, "skipped status \"" + std::string(state.substr(0, 32)) + "\" of " +
                                          std::string(id.substr(0, 128)) + ": not a normalized status"});
        return switchboard::ignored_event("status." + std::string(state), timestamp_ms(status, path));
    }
    std::int64_t at_ms = timestamp_ms(status, path);
    std::string_view recipient = nonempty(find_string(status, "recipient_id"));
    EventWriter event("status", account_id, recipient.empty() ? kUnknownRecipient : recipient, at_ms);
    JsonWriter& w = event.w();
    write_string(w, "id", id);
    write_string(w, "status", state);
    if (state == "failed") {
        // Many send failures are reported only here, after a 200 (platforms.md 2.5).
        const Value* errors = find_array(status, "errors");
        if (errors != nullptr && !errors->Empty() && (*errors)[0].IsObject()) {
            const Value& error = (*errors)[0];
            const Value* code = find_member(error, "code");
            std::string code_text = code != nullptr ? sb::meta::integer_text(*code).value_or("") : "";
            if (code_text.empty()) code_text = nonempty(find_string(error, "code"));
            std::string message(nonempty(find_string(error, "title")));
            if (message.empty()) message = nonempty(find_string(error, "message"));
            if (const Value* data = find_object(error, "error_data")) {
                if (auto details = find_string(*data, "details");
                    details && !details->empty() && *details != message) {
                    message += message.empty() ? "" : ": ";
                    message += *details;
                }
            }
            w.Key("error");
            w.StartObject();
            write_string(w, "code", code_text);
            write_string(w, "message", message);
            w.EndObject();
        }
    }
    return event.finish();
}

void log_value_errors(const Value& value, std::string_view account_id, std::vector<LogLine>& logs) {
    const Value* errors = find_array(value, "errors");
    if (errors == nullptr) return;
    for (const Value& error : errors->GetArray()) {
        const Value* code = find_member(error, "code");
        std::string text = "webhook reported an error for phone_number_id " + std::string(account_id) +
                           ": code " + (code != nullptr ? sb::meta::integer_text(*code).value_or("?") : "?") +
                           " " + std::string(nonempty(find_string(error, "title")).substr(0, 200));
        if (const Value* data = find_object(error, "error_data")) {
            if (auto details = find_string(*data, "details"))
                text += " (" + std::string(details->substr(0, 300)) + ")";
        }
        logs.push_back({SB_LOG_WARN, text});
    }
}

}  // namespace

Normalized normalize_webhook(std::string_view body) {
    rapidjson::Document doc;
    sb::meta::parse_untrusted(doc, body, "webhook body");
    if (!doc.IsObject()) throw InvalidInput("webhook body must be a JSON object");
    std::string_view object = nonempty(find_string(doc, "object"));
    if (object != "whatsapp_business_account") {
        throw InvalidInput("webhook object is \"" + std::string(object.substr(0, 64)) +
                           "\", expected \"whatsapp_business_account\"");
    }
    const Value* entries = find_array(doc, "entry");
    if (entries == nullptr) throw InvalidInput("webhook body has no entry array");

    Normalized out;
    for (rapidjson::SizeType e = 0; e < entries->Size(); ++e) {
        const Value& entry = (*entries)[e];
        std::string entry_path = index_path("entry", e);
        if (!entry.IsObject()) throw InvalidInput(entry_path + " must be an object");
        const Value* changes = find_array(entry, "changes");
        if (changes == nullptr) throw InvalidInput(entry_path + ".changes must be an array");
        for (rapidjson::SizeType c = 0; c < changes->Size(); ++c) {
            const Value& change = (*changes)[c];
            std::string path = index_path(entry_path + ".changes", c);
            if (!change.IsObject()) throw InvalidInput(path + " must be an object");
            std::string_view field = nonempty(find_string(change, "field"));
            if (field != "messages" && field != "smb_message_echoes") {
                // Account, template and other notifications: not conversations. Counted by the
                // host as ignored, by field name.
                out.events.push_back(switchboard::ignored_event(field, 0));
                continue;
            }
            const Value* value = find_object(change, "value");
            if (value == nullptr) throw InvalidInput(path + ".value must be an object");
            const Value* metadata = find_object(*value, "metadata");
            std::string_view account_id =
                metadata != nullptr ? nonempty(find_string(*metadata, "phone_number_id")) : "";
            if (account_id.empty())
                throw InvalidInput(path + ".value.metadata.phone_number_id must be a string");

            if (const Value* echoes = find_array(*value, "message_echoes")) {
                for (rapidjson::SizeType m = 0; m < echoes->Size(); ++m)
                    out.events.push_back(normalize_echo((*echoes)[m], account_id,
                                                        index_path(path + ".value.message_echoes", m)));
            }
            std::vector<Contact> contacts = read_contacts(*value);
            if (const Value* messages = find_array(*value, "messages")) {
                for (rapidjson::SizeType m = 0; m < messages->Size(); ++m) {
                    out.events.push_back(normalize_message((*messages)[m], account_id, contacts,
                                                           index_path(path + ".value.messages", m)));
                }
            }
            if (const Value* statuses = find_array(*value, "statuses")) {
                for (rapidjson::SizeType s = 0; s < statuses->Size(); ++s) {
                    if (auto event = normalize_status((*statuses)[s], account_id,
                                                      index_path(path + ".value.statuses", s), out.logs)) {
                        out.events.push_back(std::move(*event));
                    }
                }
            }
            // Not tied to a message (platforms.md 2.6): nothing to store, but an operator
            // should see them.
            log_value_errors(*value, account_id, out.logs);
        }
    }
    return out;
}

}  // namespace sb::whatsapp
