// The blob store contract (issue 16): every backend behind media::BlobStore passes this suite
// unchanged — the local directory and PostgreSQL's chunked rows. Then retention
// (media::expire_media) on both stores, each with its own blob backend. PostgreSQL runs when
// SB_TEST_PG_DSN names a database whose role may CREATE DATABASE (tools/with-postgres); without
// it its cases are skipped.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <unistd.h>
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "media/blob_store.hpp"
#include "media/worker.hpp"
#include "store/store.hpp"

namespace {

namespace fs = std::filesystem;
using sb::media::BlobStore;

constexpr const char* kNoPostgres =
    "SB_TEST_PG_DSN is not set: PostgreSQL cases skipped (run under tools/with-postgres)";

std::string pg_admin_dsn() {
    const char* dsn = std::getenv("SB_TEST_PG_DSN");
    return dsn ? dsn : "";
}

void pg_exec(const std::string& dsn, const std::string& sql) {
    pqxx::connection conn(dsn);
    pqxx::nontransaction tx(conn);
    tx.exec(sql);
}

std::int64_t pg_scalar(const std::string& dsn, const std::string& sql) {
    pqxx::connection conn(dsn);
    pqxx::nontransaction tx(conn);
    return tx.exec(sql).at(0)[0].as<std::int64_t>();
}

// A directory, and for PostgreSQL a database, of each test's own; both removed afterwards.
class Scratch {
public:
    Scratch() {
        static std::atomic<int> counter{0};
        const std::string name =
            "sb-blob-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        dir_ = fs::temp_directory_path() / name;
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        database_ = "sbtest_blob_" + std::to_string(::getpid()) + "_" + std::to_string(counter.load());
    }
    ~Scratch() {
        if (created_) {
            try {
                pg_exec(pg_admin_dsn(), "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
            } catch (const std::exception&) {
            }
        }
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

    const fs::path& dir() const { return dir_; }
    // A fresh database with the store's schema (migration 16 makes the blob tables).
    std::string database() {
        if (!created_) {
            pg_exec(pg_admin_dsn(), "CREATE DATABASE " + database_);
            created_ = true;
        }
        return pg_admin_dsn() + " dbname=" + database_;
    }

private:
    fs::path dir_;
    std::string database_;
    bool created_ = false;
};

// One backend: how to open it in a scratch place, and what it keeps of unfinished writes.
struct Backend {
    std::string name;
    bool needs_postgres = false;
    // The store (migrated) and the blob store that go together.
    std::function<std::unique_ptr<sb::store::Store>(Scratch&)> open_store;
    std::function<std::unique_ptr<BlobStore>(Scratch&)> open_blobs;
    // How many pieces of unfinished or aborted writes the backend holds.
    std::function<std::int64_t(Scratch&)> leftovers;
};

Backend local_backend() {
    return Backend{
        "Local",
        false,
        [](Scratch& s) {
            auto store = sb::store::open_sqlite((s.dir() / "sb.db").string());
            store->migrate();
            return store;
        },
        [](Scratch& s) { return sb::media::open_local_blob_store(s.dir() / "media"); },
        [](Scratch& s) {
            std::int64_t n = 0;
            for (const auto& entry : fs::directory_iterator(s.dir() / "media" / "tmp")) {
                (void)entry;
                ++n;
            }
            return n;
        },
    };
}

Backend postgres_backend() {
    return Backend{
        "Postgres",
        true,
        [](Scratch& s) {
            auto store = sb::store::open_postgres(s.database(), 2);
            store->migrate();
            return store;
        },
        [](Scratch& s) {
            // The blob tables come with the store's migrations.
            sb::store::open_postgres(s.database(), 1)->migrate();
            return sb::media::open_postgres_blob_store(s.database(), 2);
        },
        [](Scratch& s) {
            return pg_scalar(s.database(),
                             "SELECT count(*) FROM media_blob_chunks c WHERE NOT EXISTS "
                             "(SELECT 1 FROM media_blobs b WHERE b.blob_id = c.blob_id)");
        },
    };
}

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) { return info.param.name; }

// `size` pseudo-random bytes.
std::string some_bytes(std::size_t size, unsigned seed) {
    std::mt19937 random(seed);
    std::string out;
    out.reserve(size);
    while (out.size() < size) out.push_back(static_cast<char>(random() & 0xFF));
    return out;
}

// Writes `bytes` in pieces of `piece` and commits them; their digest.
std::string put(BlobStore& blobs, const std::string& bytes, std::size_t piece = 100'000) {
    sb::media::ContentDigest digest;
    auto writer = blobs.create();
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
        const std::string_view part = std::string_view(bytes).substr(at, piece);
        digest.update(part);
        writer->write(part);
    }
    const std::string sha256 = digest.finish();
    writer->commit(sha256);
    return sha256;
}

std::string read_all(sb::media::BlobReader& reader) {
    std::string out;
    while (out.size() < reader.size()) {
        auto piece = reader.read(out.size(), 70'000);
        if (piece.empty()) break;
        out += piece;
    }
    return out;
}

class BlobStoreContract : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        if (GetParam().needs_postgres && pg_admin_dsn().empty()) GTEST_SKIP() << kNoPostgres;
        blobs_ = GetParam().open_blobs(scratch_);
    }
    void TearDown() override { blobs_.reset(); }

    Scratch scratch_;
    std::unique_ptr<BlobStore> blobs_;
};

TEST_P(BlobStoreContract, CommittedBytesAreReadBackWholeAndInAnyRange) {
    // Over two 256 KiB chunks, written in pieces that fit no chunk boundary.
    const std::string bytes = some_bytes(600'001, 1);
    const std::string sha256 = put(*blobs_, bytes, 99'999);
    auto reader = blobs_->open(sha256);
    ASSERT_TRUE(reader);
    EXPECT_EQ(reader->size(), bytes.size());
    EXPECT_TRUE(read_all(*reader) == bytes);
    EXPECT_TRUE(reader->read(100, 100) == bytes.substr(100, 100));
    EXPECT_TRUE(reader->read(262'100, 200) == bytes.substr(262'100, 200)) << "across a chunk boundary";
    EXPECT_TRUE(reader->read(0, 600'001) == bytes) << "every chunk at once";
    EXPECT_TRUE(reader->read(600'000, 50) == bytes.substr(600'000)) << "shorter at the end";
    EXPECT_EQ(reader->read(600'001, 10), "");
    EXPECT_EQ(reader->read(10'000'000, 10), "");
}

TEST_P(BlobStoreContract, AnEmptyFileIsStoredAndReadAsEmpty) {
    const std::string sha256 = put(*blobs_, "");
    auto reader = blobs_->open(sha256);
    ASSERT_TRUE(reader);
    EXPECT_EQ(reader->size(), 0u);
    EXPECT_EQ(reader->read(0, 10), "");
}

TEST_P(BlobStoreContract, TheSameBytesTwiceAreStoredOnce) {
    const std::string bytes = some_bytes(300'000, 2);
    const std::string first = put(*blobs_, bytes);
    const std::string second = put(*blobs_, bytes, 7'000);
    EXPECT_EQ(first, second);
    auto reader = blobs_->open(first);
    ASSERT_TRUE(reader);
    EXPECT_TRUE(read_all(*reader) == bytes);
    EXPECT_EQ(GetParam().leftovers(scratch_), 0) << "the second copy was dropped";
    // One copy: removing it once leaves none.
    EXPECT_TRUE(blobs_->remove(first));
    EXPECT_FALSE(blobs_->open(first));
    EXPECT_FALSE(blobs_->remove(first));
}

TEST_P(BlobStoreContract, WritersOfTheSameBytesAtOnceBothCommit) {
    const std::string bytes = some_bytes(400'000, 3);
    std::atomic<int> failures{0};
    std::vector<std::thread> writers;
    for (int i = 0; i < 2; ++i)
        writers.emplace_back([&] {
            try {
                put(*blobs_, bytes);
            } catch (const std::exception&) {
                ++failures;
            }
        });
    for (auto& t : writers) t.join();
    EXPECT_EQ(failures.load(), 0);
    sb::media::ContentDigest digest;
    digest.update(bytes);
    auto reader = blobs_->open(digest.finish());
    ASSERT_TRUE(reader);
    EXPECT_TRUE(read_all(*reader) == bytes);
}

TEST_P(BlobStoreContract, AnAbortedOrAbandonedWriteLeavesNothing) {
    const std::string bytes = some_bytes(500'000, 4);
    sb::media::ContentDigest digest;
    digest.update(bytes);
    const std::string sha256 = digest.finish();
    {
        auto writer = blobs_->create();
        writer->write(bytes);
        writer->abort();
        writer->abort();  // twice is harmless
    }
    {
        auto writer = blobs_->create();
        writer->write(bytes);
        // Destroyed without commit: a download that failed half-way.
    }
    EXPECT_FALSE(blobs_->open(sha256));
    EXPECT_EQ(GetParam().leftovers(scratch_), 0);
}

TEST_P(BlobStoreContract, AMissingDigestIsNotFound) {
    EXPECT_FALSE(blobs_->open(std::string(64, 'a')));
    EXPECT_FALSE(blobs_->remove(std::string(64, 'a')));
    // Not a digest at all (a path, upper case, short): never looked up as one.
    EXPECT_FALSE(blobs_->open("../../etc/passwd"));
    EXPECT_FALSE(blobs_->open(std::string(64, 'A')));
    EXPECT_FALSE(blobs_->open("abc"));
    auto writer = blobs_->create();
    writer->write("x");
    EXPECT_THROW(writer->commit("not-a-digest"), std::runtime_error);
}

TEST_P(BlobStoreContract, ReadersSeeOnlyCommittedBytes) {
    const std::string bytes = some_bytes(1000, 5);
    sb::media::ContentDigest digest;
    digest.update(bytes);
    const std::string sha256 = digest.finish();
    auto writer = blobs_->create();
    writer->write(bytes);
    EXPECT_FALSE(blobs_->open(sha256)) << "written, not committed";
    writer->commit(sha256);
    EXPECT_TRUE(blobs_->open(sha256));
}

TEST_P(BlobStoreContract, AHoldOfADigestWaitsForAnotherInstancesHoldOfIt) {
    // A second instance on the same directory or database: another switchboardd.
    auto other = GetParam().open_blobs(scratch_);
    const std::string sha256 = std::string(64, 'b'), unrelated = "c0de" + std::string(60, 'e');
    auto held = blobs_->hold(sha256);
    // Another digest is not held up by it.
    { auto free = other->hold(unrelated); }
    std::atomic<bool> acquired{false};
    std::thread waiter([&] {
        auto second = other->hold(sha256);
        acquired = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_FALSE(acquired.load()) << "both held the same digest at once";
    held.reset();
    waiter.join();
    EXPECT_TRUE(acquired.load());
    EXPECT_THROW(blobs_->hold("../../etc/passwd"), std::runtime_error);
}

INSTANTIATE_TEST_SUITE_P(Backends, BlobStoreContract, ::testing::Values(local_backend(), postgres_backend()),
                         backend_name);

// --- retention (media.retention_days) on both stores ---

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kNow = 1'732'540'000'000;

class MediaRetention : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        if (GetParam().needs_postgres && pg_admin_dsn().empty()) GTEST_SKIP() << kNoPostgres;
        store_ = GetParam().open_store(scratch_);
        blobs_ = GetParam().open_blobs(scratch_);
    }
    void TearDown() override {
        blobs_.reset();
        store_.reset();
    }

    // An inbound photo message whose file (`bytes`) is ready (or still pending), created at
    // `created_ms`.
    sb::store::MediaRecord photo(const std::string& platform_id, const std::string& bytes,
                                 std::int64_t created_ms, bool ready = true) {
        sb::events::NormalizedEvent ev;
        ev.type = sb::events::EventType::message;
        ev.conversation_id = "100";
        ev.conversation_kind = "private";
        ev.sender.id = "100";
        ev.sender.name = "Ada";
        ev.timestamp_ms = created_ms;
        ev.message_id = platform_id;
        ev.content_type = "image";
        ev.content_json = R"({"type":"image","media":{"id":"F-)" + platform_id + R"("},"caption":"receipt"})";
        std::vector<sb::store::InboundRequest> requests{
            {"tg", "POST", "/webhooks/tg", "content-type: application/json\n", "{}", created_ms}};
        auto ids = store_->enqueue(requests);
        sb::store::ParsedRow row{ids.at(0), "tg", {ev}};
        store_->apply(std::span(&row, 1), created_ms);
        auto message = store_->message_by_platform_id("tg", platform_id);
        EXPECT_TRUE(message);
        sb::store::MediaRecord m;
        m.message_id = message->id;
        m.conversation_id = message->conversation_id;
        m.channel_id = "tg";
        m.source_json = ev.content_json;
        m.created_ms = created_ms;
        m.next_attempt_ms = created_ms;
        auto added = store_->add_media(m, [&](const sb::store::MediaRecord& r) {
            return sb::media::content_with_media(ev.content_json, r);
        });
        EXPECT_TRUE(added);
        m = *added;
        if (!ready) return m;
        m.state = "ready";
        m.mime_type = "image/jpeg";
        m.size = static_cast<std::int64_t>(bytes.size());
        m.sha256 = put(*blobs_, bytes);
        store_->settle_media(m, sb::media::content_with_media(ev.content_json, m), created_ms);
        return m;
    }

    // An agent's recent upload of the bytes `sha256` names.
    static sb::store::MediaRecord upload_of(const std::string& sha256, std::size_t size) {
        sb::store::MediaRecord upload;
        upload.origin = "upload";
        upload.state = "ready";
        upload.mime_type = "image/jpeg";
        upload.size = static_cast<std::int64_t>(size);
        upload.sha256 = sha256;
        upload.uploaded_by = "agent-1";
        upload.created_ms = kNow;
        return upload;
    }

    rapidjson::Document content_of(const std::string& platform_id) {
        rapidjson::Document doc;
        auto message = store_->message_by_platform_id("tg", platform_id);
        doc.Parse(message ? message->content_json.c_str() : "{}");
        return doc;
    }

    Scratch scratch_;
    std::unique_ptr<sb::store::Store> store_;
    std::unique_ptr<BlobStore> blobs_;
};

std::string str_at(const rapidjson::Value& root, const char* pointer) {
    const rapidjson::Value* v = rapidjson::Pointer(pointer).Get(root);
    return v != nullptr && v->IsString() ? v->GetString() : "<none>";
}

TEST_P(MediaRetention, OldFilesGoWithTheirRowsAndTheirBytesOnceNothingElseNamesThem) {
    const std::string shared = some_bytes(300'000, 10), single = some_bytes(1000, 11);
    const auto old_shared = photo("1", shared, kNow - 40 * kDay);
    const auto old_single = photo("2", single, kNow - 35 * kDay);
    const auto new_shared = photo("3", shared, kNow - 1 * kDay);  // the same photo, sent again lately
    ASSERT_EQ(old_shared.sha256, new_shared.sha256);
    const std::int64_t seq_before = store_->last_seq();

    std::vector<sb::store::Event> published;
    const auto deleted = sb::media::expire_media(*store_, *blobs_, kNow - 30 * kDay,
                                                 [&](const sb::store::Event& e) { published.push_back(e); });
    EXPECT_EQ(deleted, 2u);
    // The rows are gone: GET /api/v1/media/{id} finds nothing.
    EXPECT_FALSE(store_->media(old_shared.id));
    EXPECT_FALSE(store_->media(old_single.id));
    EXPECT_TRUE(store_->media(new_shared.id));
    // The messages keep what the file was, marked deleted, without a url; the caption stays.
    auto gone = content_of("1");
    EXPECT_EQ(str_at(gone, "/media/state"), "deleted");
    EXPECT_EQ(str_at(gone, "/media/id"), std::to_string(old_shared.id));
    EXPECT_EQ(str_at(gone, "/media/sha256"), old_shared.sha256);
    EXPECT_EQ(str_at(gone, "/media/platform_id"), "F-1");
    EXPECT_EQ(str_at(gone, "/caption"), "receipt");
    EXPECT_FALSE(rapidjson::Pointer("/media/url").Get(gone));
    EXPECT_EQ(str_at(content_of("3"), "/media/state"), "ready");
    // Announced as message_updated, stored for replay.
    ASSERT_EQ(published.size(), 2u);
    for (const auto& e : published) {
        EXPECT_EQ(e.type, "message_updated");
        EXPECT_GT(e.seq, seq_before);
    }
    // The bytes a newer message still names stay; the others are gone.
    EXPECT_TRUE(blobs_->open(old_shared.sha256));
    EXPECT_FALSE(blobs_->open(old_single.sha256));

    // Nothing more is old enough: a second pass changes nothing.
    EXPECT_EQ(sb::media::expire_media(*store_, *blobs_, kNow - 30 * kDay, [](const sb::store::Event&) {}),
              0u);
    // Once the newer one is old too, its bytes go with it.
    EXPECT_EQ(sb::media::expire_media(*store_, *blobs_, kNow, [](const sb::store::Event&) {}), 1u);
    EXPECT_FALSE(blobs_->open(new_shared.sha256));
    EXPECT_EQ(str_at(content_of("3"), "/media/state"), "deleted");
}

TEST_P(MediaRetention, PendingFilesAndUploadsNamingTheBytesAreKept) {
    const std::string bytes = some_bytes(2000, 12);
    const auto old = photo("1", bytes, kNow - 40 * kDay);
    // An agent uploaded the same bytes lately.
    const auto uploaded = store_->add_upload(upload_of(old.sha256, bytes.size()));
    // And a file still being fetched, as old as the rest.
    const auto waiting = photo("2", "", kNow - 40 * kDay, false);
    EXPECT_EQ(sb::media::expire_media(*store_, *blobs_, kNow - 30 * kDay, [](const sb::store::Event&) {}),
              1u);
    EXPECT_FALSE(store_->media(old.id));
    EXPECT_EQ(store_->media(waiting.id)->state, "pending") << "settled first, then old enough";
    EXPECT_TRUE(store_->media(uploaded.id));
    EXPECT_TRUE(blobs_->open(old.sha256)) << "the upload still names them";
}

// The blob store retention deletes from, with something run just before retention holds a
// digest: what another thread (an upload, a download) could do between retention's transaction
// and its removal of the bytes.
class InterleavedBlobs final : public BlobStore {
public:
    explicit InterleavedBlobs(BlobStore& inner) : inner_(inner) {}
    std::function<void()> before_hold;

    std::unique_ptr<sb::media::BlobWriter> create() override { return inner_.create(); }
    std::unique_ptr<sb::media::BlobReader> open(const std::string& sha256) override {
        return inner_.open(sha256);
    }
    bool remove(const std::string& sha256) override { return inner_.remove(sha256); }
    std::unique_ptr<sb::media::BlobHold> hold(const std::string& sha256) override {
        if (auto once = std::exchange(before_hold, nullptr)) once();
        return inner_.hold(sha256);
    }

private:
    BlobStore& inner_;
};

TEST_P(MediaRetention, AnUploadOfTheSameBytesWhileRetentionDeletesThemKeepsThem) {
    const std::string bytes = some_bytes(5000, 13);
    const auto old = photo("1", bytes, kNow - 40 * kDay);
    InterleavedBlobs blobs(*blobs_);
    std::optional<sb::store::MediaRecord> uploaded;
    // Retention has deleted the old file's row and found nothing else naming its bytes; before
    // it removes them, an agent uploads the same bytes: the writer is deduplicated against the
    // stored copy (its own is dropped) and the upload's row names them, as the upload handler
    // does it (commit and row under the digest's hold).
    blobs.before_hold = [&] {
        EXPECT_FALSE(store_->media(old.id)) << "retention's transaction has run";
        auto writer = blobs_->create();
        writer->write(bytes);
        auto hold = blobs_->hold(old.sha256);
        writer->commit(old.sha256);
        uploaded = store_->add_upload(upload_of(old.sha256, bytes.size()));
    };
    EXPECT_EQ(sb::media::expire_media(*store_, blobs, kNow - 30 * kDay, [](const sb::store::Event&) {}), 1u);
    ASSERT_TRUE(uploaded) << "retention never held the digest before removing its bytes";
    EXPECT_EQ(str_at(content_of("1"), "/media/state"), "deleted");
    ASSERT_TRUE(store_->media(uploaded->id));
    auto reader = blobs_->open(old.sha256);
    ASSERT_TRUE(reader) << "retention deleted the bytes the new upload names";
    EXPECT_TRUE(read_all(*reader) == bytes);
}

TEST_P(MediaRetention, BytesNoRowNamesAfterTheRecheckStillGo) {
    const std::string bytes = some_bytes(3000, 14);
    const auto old = photo("1", bytes, kNow - 40 * kDay);
    InterleavedBlobs blobs(*blobs_);
    bool asked = false;
    blobs.before_hold = [&] { asked = true; };
    EXPECT_EQ(sb::media::expire_media(*store_, blobs, kNow - 30 * kDay, [](const sb::store::Event&) {}), 1u);
    EXPECT_TRUE(asked);
    EXPECT_FALSE(blobs_->open(old.sha256));
}

INSTANTIATE_TEST_SUITE_P(Backends, MediaRetention, ::testing::Values(local_backend(), postgres_backend()),
                         backend_name);

}  // namespace
