#include "media.hpp"

#include "meta_common.hpp"
#include "json.hpp"

namespace sb::whatsapp {
namespace {

using namespace sb::meta;
using switchboard::MediaStep;
using switchboard::OutgoingRequest;

struct MediaInfo {
    std::string id;
    std::string mime;
    std::string file_name;
    std::string sha256;
    std::string state;
};

MediaInfo read_media(std::string_view media_json) {
    rapidjson::Document doc;
    parse_untrusted(doc, media_json, "media request");
    const Value* content = find_object(doc, "content");
    const Value* media = content != nullptr ? find_object(*content, "media") : nullptr;
    auto id = media != nullptr ? find_string(*media, "id") : std::nullopt;
    if (!id || id->empty()) throw InvalidInput("content.media.id (the media id) is missing");
    for (char c : *id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-'))
            throw InvalidInput("content.media.id is not a WhatsApp media id");
    MediaInfo info;
    info.id = std::string(*id);
    info.mime = std::string(find_string(*media, "mime").value_or(""));
    info.file_name = std::string(find_string(*media, "file_name").value_or(""));
    info.sha256 = sha256_hex(find_string(*media, "sha256").value_or(""));
    info.state = std::string(find_string(doc, "state").value_or(""));
    return info;
}

OutgoingRequest bearer_get(const Settings& settings, std::string url) {
    OutgoingRequest r;
    r.method = "GET";
    r.url = std::move(url);
    r.headers = {{"Authorization", "Bearer " + settings.access_token}};
    return r;
}

OutgoingRequest query_media(const Settings& settings, const MediaInfo& info) {
    return bearer_get(settings, settings.api_base + "/" + info.id + "?phone_number_id=" + settings.phone_number_id);
}

std::string graph_message(const switchboard::Response& r) {
    rapidjson::Document doc;
    doc.Parse(r.body().data(), r.body().size());
    if (!doc.HasParseError() && doc.IsObject()) {
        if (const Value* error = find_object(doc, "error"))
            if (auto message = find_string(*error, "message")) return "Graph API: " + std::string(*message);
    }
    return "Graph API answered HTTP " + decimal(r.status());
}

MediaStep read_metadata(const Settings& settings, const MediaInfo& info, const switchboard::Response& r,
                        bool second, std::optional<OutgoingRequest>& next) {
    if (r.status() == 401) return MediaStep::failed("auth", "the access token was refused");
    rapidjson::Document doc;
    doc.Parse(r.body().data(), r.body().size());
    if (r.status() != 200 || doc.HasParseError() || !doc.IsObject())
        // A media id older than 7 days (or never ours) is gone for good.
        return MediaStep::failed("not_found", graph_message(r));
    auto url = find_string(doc, "url");
    if (!url || !(url->substr(0, 8) == "https://" || url->substr(0, 7) == "http://"))
        return MediaStep::failed("not_found", "the media object has no download url");
    MediaStep step = MediaStep::download(second ? "file2" : "file");
    step.max_bytes = kMaxMediaBytes;
    step.mime_type = std::string(find_string(doc, "mime_type").value_or(info.mime));
    step.file_name = info.file_name;
    // The metadata's digest is of the bytes at `url`; the webhook's is the fallback.
    std::string digest = sha256_hex(find_string(doc, "sha256").value_or(""));
    step.sha256 = digest.empty() ? info.sha256 : digest;
    if (const Value* size = find_member(doc, "file_size")) {
        // file_size may be a number or a string.
        if (size->IsInt64()) step.expected_size = size->GetInt64();
        else if (size->IsString()) step.expected_size = parse_decimal(size->GetString()).value_or(-1);
    }
    if (step.expected_size > kMaxMediaBytes)
        return MediaStep::failed("too_large", "the file is " + decimal(step.expected_size) + " bytes");
    next = bearer_get(settings, std::string(*url));
    return step;
}

}  // namespace

std::string sha256_hex(std::string_view digest) {
    auto is_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); };
    if (digest.size() == 64) {
        std::string out;
        for (char c : digest) {
            if (!is_hex(c)) {
                out.clear();
                break;
            }
            out.push_back(c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c);
        }
        if (!out.empty()) return out;
    }
    if (auto bytes = switchboard::base64_decode(digest); bytes && bytes->size() == 32)
        return switchboard::hex(reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size());
    return {};
}

MediaStep media_step(const Settings& settings, std::string_view media_json, const switchboard::Response* previous,
                     std::optional<OutgoingRequest>& next) {
    MediaInfo info = read_media(media_json);
    if (previous == nullptr) {
        next = query_media(settings, info);
        return MediaStep::request("meta");
    }
    if (info.state == "meta" || info.state == "meta2")
        return read_metadata(settings, info, *previous, info.state == "meta2", next);
    if (info.state == "file") {
        // The URL lives about five minutes: a refused download asks for a fresh one, once.
        next = query_media(settings, info);
        return MediaStep::request("meta2");
    }
    return MediaStep::failed(previous->status() == 404 ? "not_found" : "expired",
                             "the media download answered HTTP " + decimal(previous->status()));
}

}  // namespace sb::whatsapp
