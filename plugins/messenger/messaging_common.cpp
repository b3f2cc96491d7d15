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

namespace {

// A file attachment's CDN link ends with the name the customer's file had
// (…/123_456_n.pdf/Invoice%20May.pdf?_nc_cat=…): its last path segment, percent-decoded, when it
// looks like a file name (has an extension, no separators or control characters); "" otherwise.
std::string file_name_of(std::string_view url) {
    url = url.substr(0, url.find_first_of("?#"));
    const auto slash = url.rfind('/');
    if (slash == std::string_view::npos) return {};
    const std::string_view segment = url.substr(slash + 1);
    const auto hex = [](char h) {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
    };
    std::string name;
    for (std::size_t i = 0; i < segment.size(); ++i) {
        if (segment[i] != '%') {
            name.push_back(segment[i]);
            continue;
        }
        if (i + 2 >= segment.size()) return {};
        const int high = hex(segment[i + 1]), low = hex(segment[i + 2]);
        if (high < 0 || low < 0) return {};
        name.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
    const auto dot = name.rfind('.');
    if (name.empty() || name.size() > 255 || dot == std::string::npos || dot == 0 || dot + 1 == name.size())
        return {};
    for (const unsigned char c : name)
        if (c < 0x20 || c == 0x7F || c == '/' || c == '\\') return {};
    return name;
}

}  // namespace

switchboard::MediaStep Channel::fetch_media(std::string_view media_json, const Response* previous,
                                            Call& call) {
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
    // A document's name is only in its link (the webhook gives none); images, audio and video
    // are named by the host.
    if (sb::meta::find_string(*content, "type") == "document") step.file_name = file_name_of(*url);
    return step;
}

}  // namespace sb::messaging
