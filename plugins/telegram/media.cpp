#include "media.hpp"

#include <string>

#include "json_util.hpp"

namespace sb::telegram {
namespace {

using switchboard::MediaStep;
using switchboard::OutgoingRequest;

struct MediaInfo {
    std::string file_id;
    std::int64_t size = -1;
    std::string mime;
    std::string file_name;
    std::string state;
};

MediaInfo read_media(std::string_view media_json) {
    rapidjson::Document doc;
    parse_untrusted(doc, media_json, "media request");
    const Value* content = find_object(doc, "content");
    const Value* media = content != nullptr ? find_object(*content, "media") : nullptr;
    auto id = media != nullptr ? find_string(*media, "id") : std::nullopt;
    if (!id || id->empty()) throw InvalidInput("content.media.id (the file_id) is missing");
    MediaInfo info;
    info.file_id = std::string(*id);
    info.size = find_int(*media, "size").value_or(-1);
    info.mime = std::string(find_string(*media, "mime").value_or(""));
    info.file_name = std::string(find_string(*media, "file_name").value_or(""));
    info.state = std::string(find_string(doc, "state").value_or(""));
    return info;
}

OutgoingRequest get_file(const Settings& settings, const std::string& file_id) {
    OutgoingRequest r;
    r.method = "POST";
    r.url = settings.api_base + "/bot" + settings.bot_token + "/getFile";
    r.headers = {{"Content-Type", "application/json"}};
    rapidjson::StringBuffer buffer;
    JsonWriter out(buffer);
    out.StartObject();
    write_string(out, "file_id", file_id);
    out.EndObject();
    r.body.assign(buffer.GetString(), buffer.GetSize());
    return r;
}

std::string too_large_message(std::int64_t size) {
    return "the file is " + decimal(size) + " bytes; Telegram lets bots download at most 20 MB";
}

MediaStep read_get_file(const Settings& settings, const MediaInfo& info, const switchboard::Response& r,
                        bool second, std::optional<OutgoingRequest>& next) {
    rapidjson::Document doc;
    doc.Parse(r.body().data(), r.body().size());
    const bool json = !doc.HasParseError() && doc.IsObject();
    std::string description = json ? std::string(find_string(doc, "description").value_or("")) : "";
    if (!json || !find_bool(doc, "ok").value_or(false)) {
        if (description.find("too big") != std::string::npos)
            return MediaStep::failed("too_large", info.size > 0 ? too_large_message(info.size)
                                                                : "Telegram: " + description);
        if (r.status() == 401) return MediaStep::failed("auth", "Telegram refused the bot token");
        return MediaStep::failed("not_found", description.empty()
                                                  ? "getFile answered HTTP " + decimal(r.status())
                                                  : "Telegram: " + description);
    }
    const Value* result = find_object(doc, "result");
    auto path = result != nullptr ? find_string(*result, "file_path") : std::nullopt;
    if (!path || path->empty()) return MediaStep::failed("not_found", "getFile gave no file_path");
    const std::int64_t size = result != nullptr ? find_int(*result, "file_size").value_or(info.size) : info.size;
    if (size > kMaxDownloadBytes) return MediaStep::failed("too_large", too_large_message(size));
    OutgoingRequest download;
    download.method = "GET";
    download.url = settings.api_base + "/file/bot" + settings.bot_token + "/" + std::string(*path);
    next = std::move(download);
    MediaStep step = MediaStep::download(second ? "file2" : "file");
    step.max_bytes = kMaxDownloadBytes;
    step.expected_size = size;
    step.mime_type = info.mime;
    step.file_name = info.file_name;
    if (step.file_name.empty()) {
        // Telegram names photos and voice notes only by their path ("photos/file_3.jpg").
        auto slash = path->rfind('/');
        step.file_name = std::string(slash == std::string_view::npos ? *path : path->substr(slash + 1));
    }
    return step;
}

}  // namespace

MediaStep media_step(const Settings& settings, std::string_view media_json, const switchboard::Response* previous,
                     std::optional<OutgoingRequest>& next) {
    MediaInfo info = read_media(media_json);
    if (previous == nullptr) {
        if (info.size > kMaxDownloadBytes) return MediaStep::failed("too_large", too_large_message(info.size));
        next = get_file(settings, info.file_id);
        return MediaStep::request("getFile");
    }
    if (info.state == "getFile" || info.state == "getFile2")
        return read_get_file(settings, info, *previous, info.state == "getFile2", next);
    if (info.state == "file") {
        // The download link (valid at least an hour) is gone: ask getFile for a new one, once.
        next = get_file(settings, info.file_id);
        return MediaStep::request("getFile2");
    }
    return MediaStep::failed(previous->status() == 404 ? "not_found" : "download_failed",
                             "the file download answered HTTP " + decimal(previous->status()));
}

}  // namespace sb::telegram
