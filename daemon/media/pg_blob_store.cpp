// The PostgreSQL blob store: a file is a row of media_blobs naming its digest and size, and its
// bytes are rows of media_blob_chunks of kChunkBytes each (the last one shorter). Chunked rows
// rather than large objects: a chunk is a plain row, so it is deleted with its blob by a DELETE
// (a large object outlives a deleted row unless something unlinks it), replicated, dumped and
// restored like every other table, and read in ranges by seq (docs/benchmarks.md has both
// measured).

#include <pqxx/pqxx>

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "media/blob_store.hpp"
#include "util/time.hpp"

namespace sb::media {
namespace {

// The bytes of one row: large enough that a 50 MB file is 200 rows, small enough that a
// ranged read fetches little it does not need. TOAST stores each out of line, uncompressed
// (the column's storage is EXTERNAL: media is compressed already).
constexpr std::size_t kChunkBytes = 256 * 1024;

struct Sql {
    const char* name;
    const char* text;
};
constexpr Sql kNextBlobId{"blob_next_id", "SELECT nextval('media_blob_ids')"};
constexpr Sql kInsertChunk{"blob_insert_chunk",
                           "INSERT INTO media_blob_chunks (blob_id, seq, bytes) VALUES ($1, $2, $3)"};
// A digest stored before wins: this writer's chunks are rolled back with its transaction.
constexpr Sql kInsertBlob{"blob_insert",
                          "INSERT INTO media_blobs (sha256, blob_id, size, chunk_size, created_ms) "
                          "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING"};
constexpr Sql kBlobBySha{"blob_by_sha256",
                         "SELECT blob_id, size, chunk_size FROM media_blobs WHERE sha256 = $1"};
constexpr Sql kChunks{"blob_chunks",
                      "SELECT seq, bytes FROM media_blob_chunks WHERE blob_id = $1 AND seq BETWEEN $2 AND $3 "
                      "ORDER BY seq"};
constexpr Sql kDeleteBlob{"blob_delete", "DELETE FROM media_blobs WHERE sha256 = $1 RETURNING blob_id"};
constexpr Sql kDeleteChunks{"blob_delete_chunks", "DELETE FROM media_blob_chunks WHERE blob_id = $1"};
// Session-level, so that it outlives the transactions of the hold (the blob's and the row's).
constexpr Sql kLockDigest{"blob_lock_digest",
                          "SELECT pg_advisory_lock(hashtext('switchboard-blob'), hashtext($1))"};
constexpr Sql kUnlockDigest{"blob_unlock_digest",
                            "SELECT pg_advisory_unlock(hashtext('switchboard-blob'), hashtext($1))"};
constexpr const Sql* kPrepared[] = {&kLockDigest, &kUnlockDigest, &kNextBlobId, &kInsertChunk, &kInsertBlob,
                                    &kBlobBySha,  &kChunks,       &kDeleteBlob, &kDeleteChunks};

// A few connections of the blob store's own, apart from the store's: a slow download being
// served holds one for a chunk at a time only, a writer for the whole write.
class Pool {
public:
    Pool(std::string url, int max) : url_(std::move(url)), max_(std::max(1, max)) { release(connect()); }

    class Lease {
    public:
        Lease(Pool& pool, std::unique_ptr<pqxx::connection> conn) : pool_(&pool), conn_(std::move(conn)) {}
        ~Lease() {
            if (conn_) pool_->release(std::move(conn_));
        }
        Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        pqxx::connection& operator*() { return *conn_; }

    private:
        Pool* pool_;
        std::unique_ptr<pqxx::connection> conn_;
    };

    Lease acquire() {
        std::unique_lock lock(mutex_);
        freed_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
        if (!idle_.empty()) {
            auto conn = std::move(idle_.back());
            idle_.pop_back();
            return Lease(*this, std::move(conn));
        }
        ++open_;
        lock.unlock();
        try {
            return Lease(*this, connect());
        } catch (...) {
            std::lock_guard relock(mutex_);
            --open_;
            freed_.notify_one();
            throw;
        }
    }

private:
    std::unique_ptr<pqxx::connection> connect() {
        auto conn = std::make_unique<pqxx::connection>(url_);
        for (const Sql* sql : kPrepared) conn->prepare(sql->name, sql->text);
        return conn;
    }

    void release(std::unique_ptr<pqxx::connection> conn) {
        std::lock_guard lock(mutex_);
        if (conn->is_open()) {
            idle_.push_back(std::move(conn));
        } else {
            --open_;  // broken: the next acquire opens a fresh one
        }
        freed_.notify_one();
    }

    std::string url_;
    int max_;
    std::mutex mutex_;
    std::condition_variable freed_;
    std::vector<std::unique_ptr<pqxx::connection>> idle_;
    int open_ = 1;  // the first, opened by the constructor
};

std::runtime_error blob_error(const char* what, const std::exception& e) {
    return std::runtime_error(fmt::format("PostgreSQL blob store: {}: {}", what, e.what()));
}

// One transaction from the first chunk to commit: nobody sees a chunk before its blob row, and
// a writer that dies (or a process that does) leaves nothing behind.
class PgWriter final : public BlobWriter {
public:
    explicit PgWriter(Pool& pool) : lease_(pool.acquire()) {
        try {
            tx_ = std::make_unique<pqxx::work>(*lease_);
            blob_id_ = tx_->exec_prepared(kNextBlobId.name)[0][0].as<std::int64_t>();
        } catch (const std::exception& e) {
            abort();
            throw blob_error("cannot begin a file", e);
        }
        pending_.reserve(kChunkBytes);
    }
    ~PgWriter() override { abort(); }

    void write(std::string_view bytes) override {
        if (!tx_) throw std::runtime_error("PostgreSQL blob store: write after commit or abort");
        size_ += bytes.size();
        while (!bytes.empty()) {
            const std::size_t take = std::min(bytes.size(), kChunkBytes - pending_.size());
            pending_.append(bytes.substr(0, take));
            bytes.remove_prefix(take);
            if (pending_.size() == kChunkBytes) flush();
        }
    }

    void commit(const std::string& sha256) override {
        if (!tx_) throw std::runtime_error("PostgreSQL blob store: commit after commit or abort");
        if (!is_sha256_hex(sha256))
            throw std::runtime_error("PostgreSQL blob store: not a digest: " + sha256);
        try {
            if (!pending_.empty()) flush();
            auto inserted =
                tx_->exec_prepared(kInsertBlob.name, sha256, blob_id_, static_cast<std::int64_t>(size_),
                                   static_cast<int>(kChunkBytes), util::now_ms());
            if (inserted.affected_rows() == 0) return abort();  // stored before: keep that copy
            tx_->commit();
            tx_.reset();
        } catch (const std::exception& e) {
            abort();
            throw blob_error("cannot store a file", e);
        }
    }

    void abort() noexcept override {
        if (!tx_) return;
        try {
            tx_->abort();
        } catch (...) {
            // The connection broke: its transaction is gone with it.
        }
        tx_.reset();
    }

private:
    void flush() {
        try {
            tx_->exec_prepared(kInsertChunk.name, blob_id_, seq_++,
                               pqxx::binarystring(pending_.data(), pending_.size()));
        } catch (const std::exception& e) {
            abort();
            throw blob_error("cannot write a file", e);
        }
        pending_.clear();
    }

    Pool::Lease lease_;
    std::unique_ptr<pqxx::work> tx_;
    std::int64_t blob_id_ = 0;
    int seq_ = 0;
    std::uint64_t size_ = 0;
    std::string pending_;
};

class PgReader final : public BlobReader {
public:
    PgReader(Pool& pool, std::int64_t blob_id, std::uint64_t size, std::uint64_t chunk_size)
        : pool_(pool), blob_id_(blob_id), size_(size), chunk_size_(chunk_size) {}
    std::uint64_t size() const override { return size_; }

    std::string read(std::uint64_t offset, std::size_t length) override {
        if (offset >= size_ || length == 0) return {};
        const std::uint64_t end = std::min<std::uint64_t>(size_, offset + length);
        const auto first = static_cast<std::int64_t>(offset / chunk_size_);
        const auto last = static_cast<std::int64_t>((end - 1) / chunk_size_);
        std::string out;
        out.reserve(static_cast<std::size_t>(end - offset));
        try {
            auto lease = pool_.acquire();
            pqxx::nontransaction tx(*lease);
            std::int64_t expected = first;
            for (const auto& row : tx.exec_prepared(kChunks.name, blob_id_, first, last)) {
                if (row[0].as<std::int64_t>() != expected) break;
                pqxx::binarystring chunk(row[1]);
                const std::uint64_t chunk_start = static_cast<std::uint64_t>(expected) * chunk_size_;
                const std::uint64_t from = std::max(offset, chunk_start) - chunk_start;
                const std::uint64_t to = std::min<std::uint64_t>(end - chunk_start, chunk.size());
                if (from < to) out.append(chunk.get() + from, chunk.get() + to);
                ++expected;
            }
        } catch (const std::exception& e) {
            throw blob_error("cannot read a file", e);
        }
        if (out.size() != end - offset)
            throw std::runtime_error("PostgreSQL blob store: a file's chunks are missing");
        return out;
    }

private:
    Pool& pool_;
    std::int64_t blob_id_;
    std::uint64_t size_;
    std::uint64_t chunk_size_;
};

// An advisory lock on the digest, taken on a connection of its own (apart from the pool, whose
// connections a holder's writer may be using all of): other instances wait for it in the
// database, this process's other holders for the connection. Holds are short and rare (one per
// stored file and per file retention deletes), so one connection serves them all.
class PgHold final : public BlobHold {
public:
    PgHold(std::unique_lock<std::mutex> lock, pqxx::connection& conn, std::string sha256)
        : lock_(std::move(lock)), conn_(conn), sha256_(std::move(sha256)) {
        pqxx::nontransaction tx(conn_);
        tx.exec_prepared(kLockDigest.name, sha256_);
    }
    ~PgHold() override {
        try {
            pqxx::nontransaction tx(conn_);
            tx.exec_prepared(kUnlockDigest.name, sha256_);
        } catch (...) {
            // A broken connection has released its locks with it; the next hold reconnects.
        }
    }

private:
    std::unique_lock<std::mutex> lock_;
    pqxx::connection& conn_;
    std::string sha256_;
};

class PgBlobStore final : public BlobStore {
public:
    PgBlobStore(const std::string& url, int connections) : url_(url), pool_(url, connections) {}

    std::unique_ptr<BlobWriter> create() override { return std::make_unique<PgWriter>(pool_); }

    std::unique_ptr<BlobReader> open(const std::string& sha256) override {
        if (!is_sha256_hex(sha256)) return nullptr;
        try {
            auto lease = pool_.acquire();
            pqxx::nontransaction tx(*lease);
            auto r = tx.exec_prepared(kBlobBySha.name, sha256);
            if (r.empty()) return nullptr;
            const auto chunk_size = r[0][2].as<std::int64_t>();
            if (chunk_size <= 0) throw std::runtime_error("a blob row has no chunk size");
            return std::make_unique<PgReader>(pool_, r[0][0].as<std::int64_t>(), r[0][1].as<std::uint64_t>(),
                                              static_cast<std::uint64_t>(chunk_size));
        } catch (const std::exception& e) {
            throw blob_error("cannot open a file", e);
        }
    }

    bool remove(const std::string& sha256) override {
        if (!is_sha256_hex(sha256)) return false;
        try {
            auto lease = pool_.acquire();
            pqxx::work tx(*lease);
            auto r = tx.exec_prepared(kDeleteBlob.name, sha256);
            if (r.empty()) return false;
            tx.exec_prepared(kDeleteChunks.name, r[0][0].as<std::int64_t>());
            tx.commit();
            return true;
        } catch (const std::exception& e) {
            throw blob_error("cannot delete a file", e);
        }
    }

    std::unique_ptr<BlobHold> hold(const std::string& sha256) override {
        if (!is_sha256_hex(sha256))
            throw std::runtime_error("PostgreSQL blob store: not a digest: " + sha256);
        std::unique_lock lock(hold_mutex_);
        try {
            if (!hold_conn_ || !hold_conn_->is_open()) {
                hold_conn_ = std::make_unique<pqxx::connection>(url_);
                for (const Sql* sql : kPrepared) hold_conn_->prepare(sql->name, sql->text);
            }
            return std::make_unique<PgHold>(std::move(lock), *hold_conn_, sha256);
        } catch (const std::exception& e) {
            throw blob_error("cannot lock a file", e);
        }
    }

private:
    std::string url_;
    Pool pool_;
    std::mutex hold_mutex_;  // held as long as a PgHold lives
    std::unique_ptr<pqxx::connection> hold_conn_;
};

}  // namespace

std::unique_ptr<BlobStore> open_postgres_blob_store(const std::string& url, int connections) {
    try {
        return std::make_unique<PgBlobStore>(url, connections);
    } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("media.store postgres: cannot connect: {}", e.what()));
    }
}

}  // namespace sb::media
