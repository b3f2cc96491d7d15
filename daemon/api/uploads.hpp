#pragma once
// An agent's file on its way into the blob store (POST /api/v1/uploads, raw; POST
// /api/v1/media, multipart/form-data): the body is read a piece at a time — from the file the
// server spooled it to, or from memory — its digest taken on the way, and written to a blob
// writer that is left uncommitted, so the caller commits it under the digest's hold together
// with the row that names it (media::BlobStore::hold). Never more than one piece in memory.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "media/blob_store.hpp"

namespace sb::api {

// Up to `size` next bytes of a body into `buffer`; 0 at its end. Throws when it cannot read.
using BodyReader = std::function<std::size_t(char* buffer, std::size_t size)>;
BodyReader read_file(const std::filesystem::path& path);  // throws when it cannot be opened
BodyReader read_memory(std::string_view bytes);           // `bytes` must outlive the reader

struct WrittenUpload {
    enum class Status {
        kWritten,    // `writer` holds the bytes, uncommitted
        kEmpty,      // no bytes (400)
        kTooLarge,   // more than the limit (413)
        kMalformed,  // not a form with one file part named `file` (400)
    };
    Status status = Status::kWritten;
    std::string error;  // what to tell the client, for any status but kWritten
    std::unique_ptr<media::BlobWriter> writer;
    media::StoredBytes bytes;  // digest, size and first bytes of what `writer` holds
    // The form's part: its filename (nullopt: none given) and Content-Type. Raw: unset.
    std::optional<std::string> file_name;
    std::string content_type;
};

// The body is the file.
WrittenUpload write_raw_upload(media::BlobStore& blobs, const BodyReader& body, std::size_t limit);

// The body is multipart/form-data with `boundary` (http::multipart_boundary): the part named
// `file` is the file; other fields are read past and ignored; a second `file` part, or none,
// is kMalformed.
WrittenUpload write_form_upload(media::BlobStore& blobs, const BodyReader& body, std::string_view boundary,
                                std::size_t limit);

// A file name as an agent may give one (X-File-Name, a part's filename): at most 255 bytes of
// UTF-8, no "/", "\", NUL, CR or LF.
bool is_valid_file_name(std::string_view name);

}  // namespace sb::api
