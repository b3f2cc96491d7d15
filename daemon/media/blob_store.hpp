#pragma once
// Where the bytes of files live, behind one small interface so that another backend (an
// S3-compatible store) can be added without touching its callers. New bytes are streamed into
// a staging file first, then committed under their SHA-256: the same file twice is stored once.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace sb::media {

class BlobStore {
public:
    virtual ~BlobStore() = default;
    // A new, unique local path to stream bytes into; the caller removes it if it gives up.
    virtual std::filesystem::path staging_path() = 0;
    // Moves a staged file in under `sha256` (lower-case hex); a digest stored before keeps its
    // copy and the staged file is removed.
    virtual void commit(const std::filesystem::path& staged, const std::string& sha256) = 0;
    // A local file holding the bytes of `sha256`, or nullopt when there is none.
    virtual std::optional<std::filesystem::path> locate(const std::string& sha256) = 0;
};

// Content-addressed files under `dir`: <dir>/ab/cd/<sha256>, staging under <dir>/tmp (cleared
// at start: what a previous process left half-written there is garbage).
std::unique_ptr<BlobStore> open_local_blob_store(const std::filesystem::path& dir);

// The SHA-256 (lower-case hex) of a file and its first bytes, read in small chunks.
struct FileDigest {
    std::string sha256;
    std::uint64_t size = 0;
    std::string head;  // up to 512 bytes, for sniffing
};
std::optional<FileDigest> digest_file(const std::filesystem::path& path);

// The MIME type to store: `claimed` (the platform's or uploader's, parameters dropped and
// lower-cased) when the first bytes agree with it or it has no known signature; what the bytes
// are when nothing (or application/octet-stream) was claimed; application/octet-stream when they contradict
// it (a "JPEG" that is an HTML page) or nothing is known.
std::string checked_mime_type(std::string_view claimed, std::string_view head);

}  // namespace sb::media
