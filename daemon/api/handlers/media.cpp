// Media (issue 16): serving stored files with ranges and validators, and agents' uploads.

#include <charconv>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <switchboard/plugin.hpp>

#include "api/handlers/support.hpp"
#include "api/uploads.hpp"
#include "http/multipart.hpp"
#include "util/time.hpp"

namespace sb::api {

// --- media (issue 16) ---

namespace {

// What a Range header asks of a file of `size` bytes: nullopt = the whole file (no header, or
// several ranges, which are answered whole as RFC 9110 §14.2 allows); {0, 0} with ok=false =
// unsatisfiable (416).
struct ByteRange {
    bool ok = true;
    std::uint64_t first = 0;
    std::uint64_t length = 0;
};

std::optional<ByteRange> parse_range(std::optional<std::string_view> header, std::uint64_t size) {
    if (!header) return std::nullopt;
    std::string_view text = *header;
    if (!text.starts_with("bytes=") || text.find(',') != std::string_view::npos) return std::nullopt;
    text.remove_prefix(6);
    auto dash = text.find('-');
    if (dash == std::string_view::npos) return ByteRange{false};
    auto number = [](std::string_view digits) -> std::optional<std::uint64_t> {
        std::uint64_t value = 0;
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
        return value;
    };
    std::string_view from = text.substr(0, dash), to = text.substr(dash + 1);
    if (from.empty()) {  // the last N bytes
        auto suffix = number(to);
        if (!suffix || *suffix == 0 || size == 0) return ByteRange{false};
        const std::uint64_t n = std::min(*suffix, size);
        return ByteRange{true, size - n, n};
    }
    auto first = number(from);
    if (!first || *first >= size) return ByteRange{false};
    std::uint64_t last = size - 1;
    if (!to.empty()) {
        auto given = number(to);
        if (!given || *given < *first) return ByteRange{false};
        last = std::min(*given, size - 1);
    }
    return ByteRange{true, *first, last - *first + 1};
}

// Content-Disposition with a safe file name (RFC 6266): an ASCII fallback with everything
// doubtful replaced, and the UTF-8 name percent-encoded in filename*.
std::string disposition(std::string_view mime_type, std::string_view file_name, std::int64_t id) {
    const bool inline_type = (mime_type.starts_with("image/") && mime_type != "image/svg+xml") ||
                             mime_type.starts_with("audio/") || mime_type.starts_with("video/");
    std::string name = file_name.empty() ? "file-" + std::to_string(id) : std::string(file_name);
    std::string ascii, encoded;
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : name) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                           c == '.' || c == '-' || c == '_';
        ascii.push_back(plain || c == ' ' ? static_cast<char>(c) : '_');
        if (plain) {
            encoded.push_back(static_cast<char>(c));
        } else {
            encoded.push_back('%');
            encoded.push_back(kHex[c >> 4]);
            encoded.push_back(kHex[c & 15]);
        }
    }
    return fmt::format("{}; filename=\"{}\"; filename*=UTF-8''{}", inline_type ? "inline" : "attachment",
                       ascii, encoded);
}

// A file's bytes as a response body: each piece read on a store thread (a blob store may block),
// the next asked for only once the previous one is written.
class BlobBody final : public http::BodySource {
public:
    BlobBody(store::StoreRunner& runner, std::shared_ptr<media::BlobReader> reader, std::uint64_t offset,
             std::uint64_t length)
        : runner_(runner), reader_(std::move(reader)), offset_(offset), remaining_(length) {}

    void pull(std::function<void(std::string)> done) override {
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, media::kBlobReadChunk));
        const std::uint64_t at = offset_;
        offset_ += want;
        remaining_ -= want;
        runner_.post([reader = reader_, at, want, done = std::move(done)](store::Store&) {
            std::string piece;
            try {
                piece = reader->read(at, want);
            } catch (const std::exception& e) {
                spdlog::error("media read failed error=\"{}\"", e.what());
            }
            if (piece.size() != want) piece.clear();  // the connection closes: a short body
            done(std::move(piece));
        });
    }

private:
    store::StoreRunner& runner_;
    std::shared_ptr<media::BlobReader> reader_;
    std::uint64_t offset_;
    std::uint64_t remaining_;
};

}  // namespace

// The bytes of a file, to whoever may see its conversation (an upload: to its uploader);
// 404 for everyone else, as for the conversation itself.
void Api::get_media(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id || deps_.blobs == nullptr)
        return call.exchange->respond(http::error_response(404, "not_found", "no such media"));
    std::optional<std::string> range;
    if (auto header = call.exchange->header("Range")) range = std::string(*header);
    std::optional<std::string> if_none_match;
    if (auto header = call.exchange->header("If-None-Match")) if_none_match = std::string(*header);
    on_store(
        deps_.store, call.exchange,
        [this, id = *id, range, if_none_match, principal = call.principal](store::Store& store) {
            auto media = store.media(id);
            bool visible = false;
            if (media && media->origin == "upload") {
                visible = principal->admin() || media->uploaded_by == principal->agent_id;
            } else if (media) {
                auto conversation = store.conversation(media->conversation_id);
                visible = conversation && can_see(*principal, conversation->assignee_id);
            }
            if (!visible) return http::error_response(404, "not_found", "no such media");
            if (media->state != "ready")
                return http::error_response(409, "media_not_ready",
                                            fmt::format("the file is {}", media->state),
                                            fmt::format("\"state\":\"{}\"", media->state));
            std::shared_ptr<media::BlobReader> reader = deps_.blobs->open(media->sha256);
            if (!reader) return http::error_response(404, "not_found", "the file's bytes are gone");
            const std::uint64_t size = reader->size();
            const std::string etag = "\"" + media->sha256 + "\"";
            http::Response response;
            response.content_type = media->mime_type.empty() ? "application/octet-stream" : media->mime_type;
            response.headers = {
                {"ETag", etag},
                {"Cache-Control", "private, max-age=86400"},
                {"X-Content-Type-Options", "nosniff"},
                // An uploaded HTML or SVG never runs as the console's origin.
                {"Content-Security-Policy", "sandbox"},
                {"Accept-Ranges", "bytes"},
                {"Content-Disposition", disposition(response.content_type, media->file_name, media->id)},
            };
            if (if_none_match && (*if_none_match == etag || *if_none_match == "*")) {
                response.status = 304;
                response.content_type.clear();
                return response;
            }
            std::uint64_t first = 0, length = size;
            if (auto wanted =
                    parse_range(range ? std::optional<std::string_view>(*range) : std::nullopt, size)) {
                if (!wanted->ok) {
                    auto refused = http::error_response(416, "range_not_satisfiable",
                                                        fmt::format("the file has {} bytes", size));
                    refused.headers.emplace_back("Content-Range", fmt::format("bytes */{}", size));
                    return refused;
                }
                response.status = 206;
                first = wanted->first;
                length = wanted->length;
                response.headers.emplace_back(
                    "Content-Range",
                    fmt::format("bytes {}-{}/{}", wanted->first, wanted->first + wanted->length - 1, size));
            }
            if (length == 0) return response;
            response.stream = std::make_shared<BlobBody>(deps_.store, std::move(reader), first, length);
            response.stream_length = length;
            return response;
        });
}

namespace {

// A written upload committed under its digest's hold, with the row naming it stored before the
// hold goes (retention then never deletes the bytes it was deduplicated against), and the
// answer: 201 {"id","mime_type","size","file_name","sha256"} — mime_type as in a message's
// content.media.
http::Response stored_upload(store::Store& store, media::BlobStore& blobs, WrittenUpload written,
                             const std::string& file_name, const std::string& claimed_type,
                             const std::string& agent_id, std::int64_t now_ms) {
    using Status = WrittenUpload::Status;
    if (written.status == Status::kTooLarge)
        return http::error_response(413, "payload_too_large", written.error);
    if (written.status != Status::kWritten) return http::error_response(400, "bad_request", written.error);
    store::MediaRecord upload;
    upload.origin = "upload";
    upload.state = "ready";
    upload.mime_type = media::checked_mime_type(claimed_type, written.bytes.head);
    upload.size = static_cast<std::int64_t>(written.bytes.size);
    upload.file_name = file_name;
    upload.sha256 = written.bytes.sha256;
    upload.uploaded_by = agent_id;
    upload.created_ms = now_ms;
    store::MediaRecord stored;
    {
        auto hold = blobs.hold(upload.sha256);
        written.writer->commit(upload.sha256);
        stored = store.add_upload(upload);
    }
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("id");
    w.String(std::to_string(stored.id));
    w.Key("mime_type");
    w.String(stored.mime_type);
    w.Key("size");
    w.Int64(stored.size);
    w.Key("file_name");
    if (stored.file_name.empty())
        w.Null();
    else
        w.String(stored.file_name);
    w.Key("sha256");
    w.String(stored.sha256);
    w.EndObject();
    return http::json_response(201, buffer.GetString());
}

// The body as the server kept it: spooled to a file (an upload path), or in memory.
struct UploadBody {
    std::optional<std::filesystem::path> file;
    std::string memory;
    BodyReader reader() const { return file ? read_file(*file) : read_memory(memory); }
};

UploadBody take_upload_body(const Call& call) {
    UploadBody body;
    body.file = call.exchange->body_file();
    if (!body.file) body.memory = call.exchange->take_body();
    return body;
}

}  // namespace

// An agent's file for a later send ({"content":{"type":…,"upload_id":…}}): the raw body, its
// type in Content-Type, its name in X-File-Name (percent-encoded UTF-8).
void Api::create_upload(const Call& call) {
    if (deps_.blobs == nullptr)
        return call.exchange->respond(
            http::error_response(404, "not_found", "media is disabled (media.enabled)"));
    std::string name;
    if (auto header = call.exchange->header("X-File-Name")) {
        std::string_view text = *header;
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '%' && i + 2 < text.size()) {
                unsigned value = 0;
                auto [ptr, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
                if (ec != std::errc() || ptr != text.data() + i + 3)
                    return bad_request(call, "X-File-Name must be percent-encoded UTF-8");
                name.push_back(static_cast<char>(value));
                i += 2;
            } else {
                name.push_back(text[i]);
            }
        }
        if (!is_valid_file_name(name))
            return bad_request(
                call, "X-File-Name must be a file name of at most 255 bytes of UTF-8, without / or \\");
    }
    const std::string claimed(call.exchange->header("Content-Type").value_or("application/octet-stream"));
    on_store(deps_.store, call.exchange,
             [this, body = take_upload_body(call), name, claimed,
              principal = call.principal](store::Store& store) {
                 auto written = write_raw_upload(*deps_.blobs, body.reader(), deps_.upload_limit);
                 return stored_upload(store, *deps_.blobs, std::move(written), name, claimed,
                                      principal->agent_id, deps_.clock->now_ms());
             });
}

// The same as a form (multipart/form-data, RFC 7578), as a browser's <form> or FormData sends
// it: the part named `file` is the file, its name and type from the part's Content-Disposition
// filename and Content-Type.
void Api::create_media_upload(const Call& call) {
    if (deps_.blobs == nullptr)
        return call.exchange->respond(
            http::error_response(404, "not_found", "media is disabled (media.enabled)"));
    const auto boundary = http::multipart_boundary(call.exchange->header("Content-Type").value_or(""));
    if (!boundary)
        return bad_request(call,
                           "the body must be multipart/form-data with a boundary (RFC 7578), its file "
                           "in a part named \"file\"");
    on_store(deps_.store, call.exchange,
             [this, body = take_upload_body(call), boundary = *boundary,
              principal = call.principal](store::Store& store) {
                 auto written = write_form_upload(*deps_.blobs, body.reader(), boundary, deps_.upload_limit);
                 const std::string name = written.file_name.value_or("");
                 if (written.status == WrittenUpload::Status::kWritten && !is_valid_file_name(name))
                     return http::error_response(
                         400, "bad_request",
                         "the file part's filename must be at most 255 bytes of UTF-8, without / or \\");
                 const std::string claimed =
                     written.content_type.empty() ? "application/octet-stream" : written.content_type;
                 return stored_upload(store, *deps_.blobs, std::move(written), name, claimed,
                                      principal->agent_id, deps_.clock->now_ms());
             });
}

}  // namespace sb::api
