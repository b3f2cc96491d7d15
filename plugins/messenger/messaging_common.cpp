// The instance shared by the Messenger and Instagram plugins, on the SDK's switchboard::Instance
// (whose trampolines turn every exception into a status code and redact the registered secrets).
// Translation lives in settings.cpp, inbound.cpp and outbound.cpp; what Meta's products share in
// meta_common.

#include "messaging_common.hpp"

#include <string>

#include "inbound.hpp"
#include "json.hpp"
#include "meta_common.hpp"
#include "outbound.hpp"

namespace sb::messaging {

using switchboard::Call;
using switchboard::Request;
using switchboard::Response;
using switchboard::SendResult;

Channel::Channel(const Product& product, const switchboard::Host& host, std::string_view settings_json)
    : Instance(host),
      product_(product),
      settings_(parse_settings(product, settings_json)),
      authorization_("Bearer " + settings_.access_token) {
    // Platform descriptions and transport errors could quote one of them.
    add_secret(settings_.access_token);
    add_secret(settings_.app_secret);
    add_secret(settings_.verify_token);
}

sb_verdict Channel::verify(const Request& request, Call& call) {
    return meta::verify_webhook(host(), request, call, settings_.app_secret, settings_.verify_token);
}

void Channel::parse(const Request& request, Call& call) {
    // Translate everything before handing anything over: a body that fails half-way is
    // dead-lettered whole, never half-applied.
    for (const std::string& event : normalize_webhook(product_, request.body(), host().now_ms()))
        call.emit(event);
}

void Channel::build_send(std::string_view outbound_json, Call& call) {
    ApiRequest api = build_send_request(product_, settings_, outbound_json);
    switchboard::OutgoingRequest request;
    request.url = std::move(api.url);
    // Bearer rather than the access_token query parameter (both accepted, §3.4): the token
    // stays out of URLs, which travel into logs far more often than headers.
    request.headers = {{"Content-Type", api.content_type}, {"Authorization", authorization_}};
    request.body = std::move(api.body);
    call.submit(request);
}

SendResult Channel::classify_send(std::string_view, const Response& response, Call&) {
    if (std::optional<std::string> sent = read_send_success(response.status(), response.body()))
        return SendResult::ok(std::move(*sent));
    return meta::classify_graph_failure(response);
}

SendResult Channel::unclassified(std::string_view why) const { return meta::unclassified(why); }

// Attachments are at most 25 MB on both products (platforms.md §3.9, §4.4).
constexpr std::int64_t kMaxAttachmentBytes = 25LL * 1024 * 1024;

switchboard::MediaStep Channel::fetch_media(std::string_view media_json, const Response* previous, Call& call) {
    using switchboard::MediaStep;
    if (previous != nullptr)
        return MediaStep::failed(previous->status() == 404 ? "not_found" : "expired",
                                 std::string(product_.name) + "'s CDN answered HTTP " +
                                     sb::meta::decimal(previous->status()) + " (signed links expire)");
    rapidjson::Document doc;
    sb::meta::parse_untrusted(doc, media_json, "media request");
    const auto* content = sb::meta::find_object(doc, "content");
    const auto* media = content != nullptr ? sb::meta::find_object(*content, "media") : nullptr;
    auto url = media != nullptr ? sb::meta::find_string(*media, "url") : std::nullopt;
    if (!url || !(url->substr(0, 8) == "https://" || url->substr(0, 7) == "http://"))
        return MediaStep::failed("not_found", "the attachment has no CDN link");
    switchboard::OutgoingRequest download;
    download.method = "GET";
    download.url = std::string(*url);
    call.submit(download);
    MediaStep step = MediaStep::download("file");
    step.max_bytes = kMaxAttachmentBytes;
    return step;
}

}  // namespace sb::messaging
