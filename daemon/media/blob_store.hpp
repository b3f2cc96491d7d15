#pragma once
// Where the bytes of files live, behind one small interface so that another backend can be
// added without touching its callers (the media worker, the upload and media handlers, the
// sender). Bytes go in through a streaming writer and come out through a reader that knows its
// size and reads any range: no caller sees a path, a descriptor or a connection.
//
// Why an S3-compatible store fits as a third backend: create() maps to CreateMultipartUpload
// under a staging key, write() buffers to the 5 MiB part size and sends UploadPart, commit()
// is CompleteMultipartUpload then a server-side CopyObject to the digest's key (a no-op when
// HeadObject finds it: deduplicated) and abort() is AbortMultipartUpload; open() is HeadObject
// (the size) and read(offset, length) a GetObject with `Range: bytes=offset-(offset+length-1)`;
// remove() is DeleteObject. Nothing here needs a rename, a seek or a transaction the object
// store lacks, and every call is allowed to block (callers never make one on an I/O thread).
//
// Every call may block and may throw std::runtime_error when the backend fails; callers run
// them on the media worker's thread or the store's threads, never on an I/O thread.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace sb::media {

// Bytes on their way in. Nothing is visible to readers before commit(); a writer destroyed
// without commit() is aborted.
class BlobWriter {
public:
    virtual ~BlobWriter() = default;
    // Appends `bytes`. Throws when they cannot be kept.
    virtual void write(std::string_view bytes) = 0;
    // Makes what was written readable under `sha256` (lower-case hex, computed by the caller
    // as the bytes went by: ContentDigest). When the digest is stored already, that copy is kept
    // and this one dropped: the same file twice is stored once. Throws when it cannot be kept.
    virtual void commit(const std::string& sha256) = 0;
    // Drops what was written; it is never seen. Safe after a failed write or commit.
    virtual void abort() noexcept = 0;
};

// The stored bytes of one digest, read in ranges (a Range request, a chunk of a stream).
class BlobReader {
public:
    virtual ~BlobReader() = default;
    virtual std::uint64_t size() const = 0;
    // Up to `length` bytes from `offset`: fewer only where the blob ends, "" at or after its
    // end. Throws when stored bytes cannot be read.
    virtual std::string read(std::uint64_t offset, std::size_t length) = 0;
};

// While it lives, nobody else holds the same digest (BlobStore::hold).
class BlobHold {
public:
    virtual ~BlobHold() = default;
};

class BlobStore {
public:
    virtual ~BlobStore() = default;
    virtual std::unique_ptr<BlobWriter> create() = 0;
    // The bytes of `sha256`, or nullptr when there are none (or it is not a digest).
    virtual std::unique_ptr<BlobReader> open(const std::string& sha256) = 0;
    // Deletes the bytes of `sha256`; false when there were none.
    virtual bool remove(const std::string& sha256) = 0;
    // Waits until no other hold of `sha256` lives — in this process, and in the others that
    // share the backend (the directory, the database) — and holds it until the result is gone.
    // Bytes are shared by digest, so whoever names them takes it from commit() until the row
    // naming them is stored, and retention from its last look for such rows through remove():
    // without it, retention could delete the bytes that an upload or a download of the same file
    // had just been deduplicated against, before its row named them, and the new file would lose
    // its bytes. A hold is short (one commit and one row) and never nested.
    virtual std::unique_ptr<BlobHold> hold(const std::string& sha256) = 0;
};

// Content-addressed files under `dir`: <dir>/ab/cd/<sha256>, writers' files under <dir>/tmp
// (cleared at start: what a previous process left half-written there is garbage).
std::unique_ptr<BlobStore> open_local_blob_store(const std::filesystem::path& dir);

// Chunked rows in PostgreSQL (media_blobs and media_blob_chunks, migration 16): instances that
// share the database share the files, with no shared disk. `url` is storage.postgres.url; at
// most `connections` connections are kept open (readers and writers beyond it wait).
std::unique_ptr<BlobStore> open_postgres_blob_store(const std::string& url, int connections);

// The bytes of a blob a reader serves in one piece: a GET streams, a read never asks for more.
inline constexpr std::size_t kBlobReadChunk = 256 * 1024;

// True when `text` is 64 lower-case hex digits.
bool is_sha256_hex(std::string_view text);

// The SHA-256 (lower-case hex), size and first bytes of what went through update().
class ContentDigest {
public:
    ContentDigest();
    ~ContentDigest();
    ContentDigest(const ContentDigest&) = delete;
    ContentDigest& operator=(const ContentDigest&) = delete;
    void update(std::string_view bytes);
    // Once, after the last update().
    std::string finish();
    std::uint64_t size() const { return size_; }
    const std::string& head() const { return head_; }  // up to 512 bytes, for sniffing

private:
    struct Ctx;
    std::unique_ptr<Ctx> ctx_;
    std::uint64_t size_ = 0;
    std::string head_;
};

// Bytes already in memory into `blobs` (the benchmarks' files), in kBlobReadChunk pieces,
// committed under their digest without a hold: whoever then stores a row naming them takes one
// (BlobStore::hold). StoredBytes is also what an upload's writer reports (api/uploads.hpp).
struct StoredBytes {
    std::string sha256;
    std::uint64_t size = 0;
    std::string head;  // up to 512 bytes, for sniffing
};
StoredBytes store_bytes(BlobStore& blobs, std::string_view bytes);

// The MIME type to store: `claimed` (the platform's or uploader's, parameters dropped and
// lower-cased) when the first bytes agree with it or it has no known signature; what the bytes
// are when nothing (or application/octet-stream) was claimed; application/octet-stream when they contradict
// it (a "JPEG" that is an HTML page) or nothing is known.
std::string checked_mime_type(std::string_view claimed, std::string_view head);

}  // namespace sb::media
