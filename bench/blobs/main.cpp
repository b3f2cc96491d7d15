// sb-bench-blobs (issue 16): write and read throughput of one file through each blob store —
// the local directory and PostgreSQL's chunked rows (media.store) — and, for the choice between
// them, the same file as a PostgreSQL large object. Writes go in 256 KiB pieces as the media
// worker writes a spooled download; reads come back in 256 KiB ranges as GET /api/v1/media
// serves them. Each case runs --runs times; the best and the median are printed.
//
//   sb-bench-blobs --mb 50 --dir /var/tmp/sb-blobs --pg "host=/tmp/sb-pg.X dbname=bench"

#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "media/blob_store.hpp"
#include "store/store.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kPiece = sb::media::kBlobReadChunk;

double seconds_of(const std::function<void()>& work) {
    const auto start = Clock::now();
    work();
    return std::chrono::duration<double>(Clock::now() - start).count();
}

void report(const std::string& what, std::size_t bytes, std::vector<double> times) {
    std::sort(times.begin(), times.end());
    const double mb = static_cast<double>(bytes) / (1024.0 * 1024.0);
    fmt::print("{:<34} best {:7.1f} MiB/s ({:6.3f} s)   median {:7.1f} MiB/s\n", what, mb / times.front(),
               times.front(), mb / times[times.size() / 2]);
}

void bench_store(const std::string& name, sb::media::BlobStore& blobs, const std::string& bytes, int runs) {
    std::vector<double> writes, reads;
    std::string sha256;
    for (int run = 0; run < runs; ++run) {
        // A fresh digest each run (the last byte differs), so nothing is deduplicated away.
        std::string data = bytes;
        data.back() = static_cast<char>(run);
        writes.push_back(seconds_of([&] { sha256 = sb::media::store_bytes(blobs, data).sha256; }));
        reads.push_back(seconds_of([&] {
            auto reader = blobs.open(sha256);
            std::size_t got = 0;
            while (got < reader->size()) got += reader->read(got, kPiece).size();
            if (got != data.size()) throw std::runtime_error("short read");
        }));
        blobs.remove(sha256);
    }
    report(name + " write", bytes.size(), writes);
    report(name + " read (256 KiB ranges)", bytes.size(), reads);
}

// The alternative not taken: one large object per file, written and read in 256 KiB pieces.
void bench_large_object(const std::string& dsn, const std::string& bytes, int runs) {
    pqxx::connection conn(dsn);
    std::vector<double> writes, reads;
    for (int run = 0; run < runs; ++run) {
        pqxx::oid oid = 0;
        writes.push_back(seconds_of([&] {
            pqxx::work tx(conn);
            pqxx::largeobjectaccess lo(tx);
            for (std::size_t at = 0; at < bytes.size(); at += kPiece)
                lo.write(bytes.data() + at, std::min(kPiece, bytes.size() - at));
            oid = lo.id();
            tx.commit();
        }));
        reads.push_back(seconds_of([&] {
            pqxx::work tx(conn);
            pqxx::largeobjectaccess lo(tx, oid, std::ios::in);
            std::string piece(kPiece, '\0');
            std::size_t got = 0;
            for (;;) {
                const auto n = lo.read(piece.data(), piece.size());
                if (n <= 0) break;
                got += static_cast<std::size_t>(n);
            }
            if (got != bytes.size()) throw std::runtime_error("short large object read");
            tx.commit();
        }));
        pqxx::work tx(conn);
        pqxx::largeobject(oid).remove(tx);
        tx.commit();
    }
    report("postgres large object write", bytes.size(), writes);
    report("postgres large object read", bytes.size(), reads);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Blob store throughput (issue 16)"};
    int mb = 50, runs = 5;
    std::string dir = "/var/tmp/sb-bench-blobs", dsn;
    app.add_option("--mb", mb, "file size in MiB");
    app.add_option("--runs", runs, "runs per case");
    app.add_option("--dir", dir, "directory of the local store");
    app.add_option("--pg", dsn, "PostgreSQL DSN (migrated here); empty = local only");
    CLI11_PARSE(app, argc, argv);

    std::string bytes(static_cast<std::size_t>(mb) << 20, '\0');
    std::mt19937_64 random(1);
    for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
        const auto v = random();
        std::memcpy(bytes.data() + i, &v, 8);
    }
    fmt::print("{} MiB, {} runs per case\n", mb, runs);
    std::filesystem::remove_all(dir);
    auto local = sb::media::open_local_blob_store(dir);
    bench_store("local", *local, bytes, runs);
    if (!dsn.empty()) {
        sb::store::open_postgres(dsn, 1)->migrate();
        auto pg = sb::media::open_postgres_blob_store(dsn, 2);
        bench_store("postgres chunks", *pg, bytes, runs);
        bench_large_object(dsn, bytes, runs);
    }
    std::filesystem::remove_all(dir);
}
