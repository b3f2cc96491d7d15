// A deliberately broken plugin, built with the SDK, proving that sb-plugin-check catches what
// it claims to: it accepts any settings (even empty ones), logs its secret, crashes on an empty
// webhook body, emits an event the host's reader refuses, claims media it cannot build, and
// declares a webhook signature (x-webhook-signature) that its verify() does not check.
#include <switchboard/plugin.hpp>

#include <string>
#include <string_view>

namespace {

constexpr char kSchema[] = R"({"type":"object","required":["token"],
  "x-webhook-signature":{"header":"X-Broken-Signature","scheme":"hmac-sha256-hex","secret_setting":"token"},
  "properties":{"token":{"type":"string","x-secret":true}}})";

class Broken final : public switchboard::Instance {
public:
    Broken(const switchboard::Host& host, std::string_view settings) : Instance(host), settings_(settings) {
        host.log(SB_LOG_INFO, "opened with settings " + settings_);  // leaks the token
    }
    sb_verdict verify(const switchboard::Request&, switchboard::Call&) override { return SB_VERIFY_ACCEPT; }
    void parse(const switchboard::Request& request, switchboard::Call& call) override {
        if (request.body().empty()) {
            volatile int* nowhere = nullptr;
            *nowhere = 1;  // crashes on hostile input
        }
        call.emit(R"({"v":1,"type":"message"})");  // invalid: no id, conversation, content
    }
    void build_send(std::string_view outbound, switchboard::Call& call) override {
        if (outbound.find("\"image\"") != std::string_view::npos) throw switchboard::Unsupported("no media");
        switchboard::OutgoingRequest r;
        r.url = "https://example.com/send";
        r.body = std::string(outbound);
        call.submit(r);
    }
    switchboard::SendResult classify_send(std::string_view, const switchboard::Response& response,
                                          switchboard::Call&) override {
        return switchboard::SendResult::ok(std::string(response.body().substr(0, 10)));
    }

private:
    std::string settings_;
};

}  // namespace

SWITCHBOARD_PLUGIN(Broken, "broken", "0.0.1", "Deliberately broken", kSchema,
                   SB_CAP_THREAD_SAFE | SB_CAP_MEDIA_OUT)
