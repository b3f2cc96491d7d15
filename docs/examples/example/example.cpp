// The plugin guide's worked example ("Sans-I/O: a worked example" in plugin-guide.md, installed
// in share/doc/switchboard/): a made-up platform whose webhooks carry
// {"msg":{"id","chat","from","text","ts"}}, signed with X-Example-Signature =
// base64(HMAC-SHA256(secret, body)), and whose send API takes {"chat","text"} and answers
// {"id"}. A test builds it from the installed SDK alone.
#include <switchboard/json.hpp>
#include <switchboard/plugin.hpp>

#include <string>
#include <string_view>

namespace {

using namespace switchboard::json;  // parse_untrusted, find_object, find_string, find_int
using switchboard::InvalidInput;
using switchboard::Unsupported;

// The channel's settings, as JSON Schema: the host never shows "x-secret" values.
constexpr char kSchema[] = R"({
  "type": "object", "additionalProperties": false, "required": ["secret", "api_base"],
  "properties": {
    "secret": {"type": "string", "minLength": 1, "x-secret": true},
    "api_base": {"type": "string", "pattern": "^https?://"}
  }
})";

std::string required_string(const Value& object, const char* key, const std::string& where) {
    auto value = find_string(object, key);
    if (!value || value->empty()) throw InvalidInput(where + "." + key + " must be a non-empty string");
    return std::string(*value);
}

class Example final : public switchboard::Instance {
public:
    // open(): parse settings; throw InvalidInput naming the key (never quoting a secret).
    Example(const switchboard::Host& host, std::string_view settings) : Instance(host) {
        rapidjson::Document doc;
        parse_untrusted(doc, settings, "settings");  // depth, size, UTF-8: the SDK's one reader
        if (!doc.IsObject()) throw InvalidInput("settings must be an object");
        for (const auto& m : doc.GetObject()) {
            std::string_view key = string_of(m.name);
            if (key != "secret" && key != "api_base") throw InvalidInput("settings has an unknown key");
        }
        secret_ = required_string(doc, "secret", "settings");
        api_base_ = required_string(doc, "api_base", "settings");
        add_secret(secret_);  // redacted from every log line and error message
    }
    // 1. The host received POST /webhooks/<channel>; may it be stored?
    sb_verdict verify(const switchboard::Request& r, switchboard::Call& call) override {
        if (r.method() != "POST") return call.refuse(SB_VERIFY_BAD_REQUEST, "not a POST");
        auto sig = r.header("X-Example-Signature");
        if (!sig) return call.refuse(SB_VERIFY_UNAUTHORIZED, "no X-Example-Signature header");
        if (!host().constant_time_equal(*sig, host().hmac_sha256_base64(secret_, r.body())))
            return call.refuse(SB_VERIFY_UNAUTHORIZED, "X-Example-Signature does not match the body");
        return SB_VERIFY_ACCEPT;
    }
    // 2. Later, on a worker: turn the stored body into normalized events.
    void parse(const switchboard::Request& r, switchboard::Call& call) override {
        rapidjson::Document doc;
        parse_untrusted(doc, r.body(), "body");  // throws InvalidInput → dead-lettered with the message
        const Value* msg = find_object(doc, "msg");
        if (msg == nullptr) throw InvalidInput("body.msg must be an object");
        auto ts = find_int(*msg, "ts");
        if (!ts) throw InvalidInput("body.msg.ts must be an integer");
        switchboard::JsonWriter w;
        // clang-format off
        w.begin_object().key("v").integer(1).key("type").string("message")
            .key("id").string(required_string(*msg, "id", "msg"))
            .key("conversation").begin_object().key("id").string(required_string(*msg, "chat", "msg")).end_object()
            .key("sender").begin_object().key("id").string(required_string(*msg, "from", "msg")).end_object()
            .key("timestamp_ms").integer(*ts * 1000)
            .key("content").begin_object().key("type").string("text")
                .key("text").string(find_string(*msg, "text").value_or("")).end_object()
            .end_object();
        // clang-format on
        call.emit(w.str());
    }
    // 3. An agent replied: describe the HTTP request; the host sends it (and resends these
    //    same bytes on a retry, so the outbound id is a fine idempotency key).
    void build_send(std::string_view outbound, switchboard::Call& call) override {
        rapidjson::Document doc;
        parse_untrusted(doc, outbound, "outbound request");
        const Value* content = find_object(doc, "content");
        const Value* conversation = find_object(doc, "conversation");
        if (content == nullptr || conversation == nullptr)
            throw InvalidInput("outbound request is incomplete");
        if (find_string(*content, "type") != "text") throw Unsupported("this platform takes text only");
        switchboard::JsonWriter body;
        body.begin_object()
            .key("chat")
            .string(required_string(*conversation, "id", "conversation"))
            .key("text")
            .string(required_string(*content, "text", "content"))
            .end_object();
        switchboard::OutgoingRequest req;
        req.url = api_base_ + "/send";
        req.headers = {{"Content-Type", "application/json"}};
        if (auto id = find_string(doc, "id")) req.headers.emplace_back("Idempotency-Key", std::string(*id));
        req.body = body.take();
        call.submit(req);
    }
    // 4. The platform answered (or did not: status 0): what happened?
    switchboard::SendResult classify_send(std::string_view, const switchboard::Response& r,
                                          switchboard::Call&) override {
        if (r.status() == 0)
            return switchboard::SendResult::error(SB_SEND_RETRYABLE, "transport",
                                                  std::string(r.transport_error()));
        if (r.status() == 429)
            return switchboard::SendResult::error(SB_SEND_RATE_LIMITED, "http_429", "slow down");
        if (r.status() >= 500)  // not taken: the host may retry it
            return switchboard::SendResult::error(
                SB_SEND_RETRYABLE, "http_" + switchboard::decimal(r.status()), "platform unavailable");
        rapidjson::Document doc;
        // json::parse returns why it failed, or nothing when it parsed.
        if (r.status() == 200 && !switchboard::json::parse(doc, r.body(), "answer"))
            if (auto id = find_string(doc, "id")) return switchboard::SendResult::ok(std::string(*id));
        return switchboard::SendResult::error(SB_SEND_PERMANENT, "http_" + switchboard::decimal(r.status()),
                                              "refused");
    }

private:
    std::string secret_;
    std::string api_base_;
};

}  // namespace

SWITCHBOARD_PLUGIN(Example, "example", "1.0.0", "Example platform", kSchema, SB_CAP_THREAD_SAFE)
