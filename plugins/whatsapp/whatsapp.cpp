// WhatsApp Business Cloud API channel plugin on the SDK's switchboard::Instance. Translation
// lives in config.cpp, inbound.cpp and outbound.cpp, the Meta mechanics shared with Messenger and
// Instagram in plugins/meta_common; the SDK's trampolines turn every exception into a status code
// and redact the registered secrets from anything the host may log or show.

#include <switchboard/plugin.hpp>

#include <string>
#include <string_view>

#include "config.hpp"
#include "inbound.hpp"
#include "media.hpp"
#include "meta_common.hpp"
#include "outbound.hpp"

namespace sb::whatsapp {
namespace {

using switchboard::Call;
using switchboard::Host;
using switchboard::Request;
using switchboard::Response;
using switchboard::SendResult;

// One channel: immutable after construction, so calls may run concurrently (SB_CAP_THREAD_SAFE).
class WhatsApp final : public switchboard::Instance {
public:
    WhatsApp(const Host& host, std::string_view settings_json)
        : Instance(host), settings_(parse_settings(settings_json)) {
        // Graph error messages or transport errors could quote one of them.
        add_secret(settings_.access_token);
        add_secret(settings_.app_secret);
        add_secret(settings_.verify_token);
        // Legitimate when another channel of the same Meta app receives the webhooks and the
        // host routes this number's events here by account id; worth a line either way.
        if (settings_.app_secret.empty()) {
            log(SB_LOG_WARN,
                "app_secret is not set: webhook POSTs to this channel's URL are refused; its events must "
                "arrive through another channel of the same Meta app");
        }
        if (settings_.verify_token.empty()) {
            log(SB_LOG_INFO,
                "verify_token is not set: the subscription handshake on this channel's URL is refused");
        }
    }

    sb_verdict verify(const Request& request, Call& call) override {
        return sb::meta::verify_webhook(host(), request, call, settings_.app_secret, settings_.verify_token);
    }

    void parse(const Request& request, Call& call) override {
        Normalized normalized = normalize_webhook(request.body());
        for (const LogLine& line : normalized.logs) log(line.level, line.message);
        for (const std::string& event : normalized.events) call.emit(event);
    }

    void build_send(std::string_view outbound_json, Call& call) override {
        ApiRequest api = build_send_request(settings_, outbound_json);
        switchboard::OutgoingRequest request;
        request.url = std::move(api.url);
        request.headers = {{"Authorization", "Bearer " + settings_.access_token},
                           {"Content-Type", api.content_type}};
        request.body = std::move(api.body);
        call.submit(request);
    }

    SendResult classify_send(std::string_view outbound_json, const Response& response, Call& call) override {
        // An upload's answer ({"id"}): the message itself goes next, by that media id.
        if (auto media_id = uploaded_media_id(outbound_json, response)) {
            ApiRequest api = build_send_by_media_id(settings_, outbound_json, *media_id);
            switchboard::OutgoingRequest request;
            request.url = std::move(api.url);
            request.headers = {{"Authorization", "Bearer " + settings_.access_token},
                               {"Content-Type", "application/json"}};
            request.body = std::move(api.body);
            call.submit(request);
            return SendResult{SB_SEND_CONTINUE, 0, {}, {}, {}};
        }
        return classify_send_response(outbound_json, response);
    }
    SendResult unclassified(std::string_view why) const override { return sb::meta::unclassified(why); }

    std::string_view account() const noexcept override { return settings_.phone_number_id; }

    switchboard::MediaStep fetch_media(std::string_view media_json, const Response* previous,
                                       Call& call) override {
        std::optional<switchboard::OutgoingRequest> next;
        switchboard::MediaStep step = media_step(settings_, media_json, previous, next);
        if (next) call.submit(*next);
        return step;
    }

private:
    const Settings settings_;
};

}  // namespace
}  // namespace sb::whatsapp

SWITCHBOARD_PLUGIN(sb::whatsapp::WhatsApp, "whatsapp", "0.1.0",
                   "WhatsApp Business Cloud API: signed webhooks, messages and statuses, text/media/template "
                   "sends, read receipts with typing, inbound media downloads",
                   sb::whatsapp::kConfigSchema,
                   SB_CAP_THREAD_SAFE | SB_CAP_MEDIA_OUT | SB_CAP_MARK_READ | SB_CAP_TYPING_OUT | SB_CAP_MEDIA_IN)
