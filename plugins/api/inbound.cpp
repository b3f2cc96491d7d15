#include "inbound.hpp"

#include <initializer_list>

#include "json.hpp"

namespace api_channel {
namespace {

using switchboard::InvalidInput;

// Where a field sits, for messages that name it: "events[2].content.text", "sender.id".
class Where {
public:
    explicit Where(std::string path = {}) : path_(std::move(path)) {}
    Where in(const char* key) const { return Where(name(key)); }
    [[noreturn]] void fail(const char* key, const char* problem) const {
        throw InvalidInput(name(key) + " " + problem);
    }
    [[noreturn]] void fail_self(const char* problem) const {
        throw InvalidInput((path_.empty() ? std::string("event") : path_) + " " + problem);
    }

private:
    std::string name(const char* key) const { return path_.empty() ? std::string(key) : path_ + "." + key; }
    std::string path_;
};

const Value& required(const Value& object, const char* key, const Where& where) {
    const Value* v = member(object, key);
    if (v == nullptr) where.fail(key, "is required");
    return *v;
}

std::string_view required_string(const Value& object, const char* key, const Where& where) {
    const Value& v = required(object, key, where);
    if (!v.IsString()) where.fail(key, "must be a string");
    if (v.GetStringLength() == 0) where.fail(key, "must not be empty");
    return string_of(v);
}

void optional_string(const Value& object, const char* key, const Where& where) {
    const Value* v = member(object, key);
    if (v != nullptr && !v->IsString()) where.fail(key, "must be a string");
}

void optional_integer(const Value& object, const char* key, const Where& where) {
    const Value* v = member(object, key);
    if (v != nullptr && !v->IsInt64()) where.fail(key, "must be an integer");
}

void optional_number(const Value& object, const char* key, const Where& where) {
    const Value* v = member(object, key);
    if (v != nullptr && !v->IsNumber()) where.fail(key, "must be a number");
}

void required_number(const Value& object, const char* key, const Where& where) {
    if (!required(object, key, where).IsNumber()) where.fail(key, "must be a number");
}

void one_of(const Value& object, const char* key, std::initializer_list<std::string_view> allowed,
            const char* problem, const Where& where, bool is_required) {
    const Value* v = member(object, key);
    if (v == nullptr) {
        if (is_required) where.fail(key, "is required");
        return;
    }
    if (!v->IsString()) where.fail(key, "must be a string");
    for (std::string_view a : allowed)
        if (string_of(*v) == a) return;
    where.fail(key, problem);
}

const Value& object_member(const Value& object, const char* key, const Where& where) {
    const Value& v = required(object, key, where);
    if (!v.IsObject()) where.fail(key, "must be an object");
    return v;
}

void check_party(const Value& event, bool is_required, const Where& where) {
    const Value* sender = member(event, "sender");
    if (sender == nullptr) {
        if (is_required) where.fail("sender", "is required");
        return;
    }
    if (!sender->IsObject()) where.fail("sender", "must be an object");
    Where in = where.in("sender");
    required_string(*sender, "id", in);
    for (const char* key : {"name", "username", "phone"}) optional_string(*sender, key, in);
}

void check_content(const Value& event, const Where& where) {
    const Value& content = object_member(event, "content", where);
    Where in = where.in("content");
    std::string_view type = required_string(content, "type", in);
    optional_string(content, "caption", in);
    if (type == "text") {
        if (!required(content, "text", in).IsString()) in.fail("text", "must be a string");
    } else if (type == "image" || type == "audio" || type == "voice" || type == "video" ||
               type == "document" || type == "sticker") {
        const Value& media = object_member(content, "media", in);
        Where m = in.in("media");
        for (const char* key : {"id", "url", "mime", "file_name"}) optional_string(media, key, m);
        for (const char* key : {"size", "width", "height"}) optional_integer(media, key, m);
        optional_number(media, "duration_s", m);
        optional_string(content, "emoji", in);
    } else if (type == "location") {
        required_number(content, "latitude", in);
        required_number(content, "longitude", in);
        optional_string(content, "name", in);
        optional_string(content, "address", in);
    } else if (type == "contact") {
        required_string(content, "name", in);
        optional_string(content, "phone", in);
        optional_string(content, "user_id", in);
    } else if (type == "interactive") {
        required_string(content, "reply_id", in);
        optional_string(content, "title", in);
    } else if (type == "unsupported") {
        required_string(content, "platform_type", in);
    } else {
        in.fail("type",
                "must be text, image, audio, voice, video, document, sticker, location, contact, "
                "interactive or unsupported");
    }
}

void check_event(const Value& event, const Where& where) {
    if (!event.IsObject()) where.fail_self("must be a JSON object");
    const Value& v = required(event, "v", where);
    if (!v.IsInt() || v.GetInt() != 1) where.fail("v", "must be 1");
    one_of(event, "type", {"message", "edit", "status", "typing", "reaction"},
           "must be message, edit, status, typing or reaction", where, true);
    std::string_view type = string_of(event["type"]);

    const Value& conversation = object_member(event, "conversation", where);
    Where c = where.in("conversation");
    required_string(conversation, "id", c);
    one_of(conversation, "kind", {"private", "group", "channel"}, "must be private, group or channel", c,
           false);
    optional_string(conversation, "title", c);

    if (!required(event, "timestamp_ms", where).IsInt64()) where.fail("timestamp_ms", "must be an integer");
    // One channel is one account of the user's system: there is nothing to route by.
    if (member(event, "account_id") != nullptr)
        where.fail("account_id", "is not accepted on the api channel (it serves one account)");

    if (type == "message") {
        check_party(event, true, where);
        required_string(event, "id", where);
        one_of(event, "direction", {"in", "out"}, "must be in or out", where, false);
        optional_string(event, "reply_to", where);
        check_content(event, where);
    } else if (type == "edit") {
        check_party(event, true, where);
        required_string(event, "id", where);
        check_content(event, where);
        optional_integer(event, "edited_at_ms", where);
    } else if (type == "status") {
        required_string(event, "id", where);
        one_of(event, "status", {"sent", "delivered", "read", "failed"},
               "must be sent, delivered, read or failed", where, true);
        if (const Value* error = member(event, "error")) {
            if (!error->IsObject()) where.fail("error", "must be an object");
            Where e = where.in("error");
            optional_string(*error, "code", e);
            optional_string(*error, "message", e);
        }
    } else if (type == "typing") {
        check_party(event, true, where);
        one_of(event, "state", {"on", "off"}, "must be on or off", where, true);
    } else {  // reaction
        check_party(event, true, where);
        required_string(event, "id", where);
        if (!required(event, "emoji", where).IsString()) where.fail("emoji", "must be a string");
    }
}

// Writes `value` through the SDK's writer. Recursion is bounded by kMaxDepth (checked before
// parsing).
void write(switchboard::JsonWriter& w, const Value& value) {
    switch (value.GetType()) {
        case rapidjson::kNullType:
            w.null();
            break;
        case rapidjson::kFalseType:
            w.boolean(false);
            break;
        case rapidjson::kTrueType:
            w.boolean(true);
            break;
        case rapidjson::kStringType:
            w.string(string_of(value));
            break;
        case rapidjson::kNumberType:
            if (value.IsInt64()) {
                w.integer(value.GetInt64());
            } else if (value.IsUint64()) {
                std::uint64_t u = value.GetUint64();
                w.raw(switchboard::decimal(static_cast<std::int64_t>(u / 10)) +
                      static_cast<char>('0' + u % 10));
            } else {
                w.number(value.GetDouble());
            }
            break;
        case rapidjson::kObjectType:
            w.begin_object();
            for (const auto& m : value.GetObject()) {
                w.key(string_of(m.name));
                write(w, m.value);
            }
            w.end_object();
            break;
        case rapidjson::kArrayType:
            w.begin_array();
            for (const auto& item : value.GetArray()) write(w, item);
            w.end_array();
            break;
    }
}

std::string canonical(const Value& event) {
    switchboard::JsonWriter w;
    write(w, event);
    return w.take();
}

}  // namespace

std::vector<std::string> read_events(std::string_view body) {
    rapidjson::Document doc;
    parse_untrusted(doc, body, "body");
    if (!doc.IsObject()) throw InvalidInput("body must be a JSON object: one event or {\"events\":[...]}");
    std::vector<std::string> out;
    const Value* batch = member(doc, "events");
    if (batch == nullptr) {
        check_event(doc, Where());
        out.push_back(canonical(doc));
        return out;
    }
    if (!batch->IsArray()) throw InvalidInput("events must be an array");
    if (batch->Size() > kMaxBatch)
        throw InvalidInput("events has more than " + switchboard::decimal(kMaxBatch) + " items");
    for (rapidjson::SizeType i = 0; i < batch->Size(); ++i)
        check_event((*batch)[i], Where("events[" + switchboard::decimal(i) + "]"));
    out.reserve(batch->Size());
    for (const auto& event : batch->GetArray()) out.push_back(canonical(event));
    return out;
}

}  // namespace api_channel
