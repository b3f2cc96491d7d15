// The embedded blob store: one file per digest under media.dir.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

#include "media/blob_store.hpp"
#include "util/random.hpp"

namespace sb::media {
namespace {

namespace fs = std::filesystem;

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    // Closes now, reporting what close() says (a write-back error shows here).
    bool close() {
        const int fd = fd_;
        fd_ = -1;
        return fd < 0 || ::close(fd) == 0;
    }

private:
    int fd_;
};

class LocalWriter final : public BlobWriter {
public:
    LocalWriter(fs::path staged, fs::path root) : staged_(std::move(staged)), root_(std::move(root)) {
        fd_ = std::make_unique<Fd>(::open(staged_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
        if (fd_->get() < 0)
            throw std::runtime_error(
                fmt::format("media.dir: cannot create a file: {}", std::strerror(errno)));
    }
    ~LocalWriter() override { abort(); }

    void write(std::string_view bytes) override {
        while (!bytes.empty()) {
            const ssize_t n = ::write(fd_->get(), bytes.data(), bytes.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0)
                throw std::runtime_error(
                    fmt::format("media.dir: cannot write a file: {}", std::strerror(errno)));
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    void commit(const std::string& sha256) override {
        if (!is_sha256_hex(sha256)) throw std::runtime_error("media.dir: not a SHA-256 digest: " + sha256);
        if (!fd_->close()) throw std::runtime_error("media.dir: cannot write a file: close failed");
        const fs::path target = root_ / sha256.substr(0, 2) / sha256.substr(2, 2) / sha256;
        std::error_code ec;
        if (fs::exists(target, ec)) return abort();
        fs::create_directories(target.parent_path(), ec);
        fs::rename(staged_, target, ec);  // same file system: atomic
        if (ec) throw std::runtime_error(fmt::format("media.dir: cannot store a file: {}", ec.message()));
        staged_.clear();
    }

    void abort() noexcept override {
        if (fd_) fd_->close();
        if (staged_.empty()) return;
        std::error_code ec;
        fs::remove(staged_, ec);
        staged_.clear();
    }

private:
    fs::path staged_;
    fs::path root_;
    std::unique_ptr<Fd> fd_;
};

class LocalReader final : public BlobReader {
public:
    LocalReader(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
    std::uint64_t size() const override { return size_; }
    std::string read(std::uint64_t offset, std::size_t length) override {
        if (offset >= size_) return {};
        std::string out(static_cast<std::size_t>(std::min<std::uint64_t>(length, size_ - offset)), '\0');
        std::size_t got = 0;
        while (got < out.size()) {
            const ssize_t n =
                ::pread(fd_.get(), out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw std::runtime_error("media.dir: a stored file is shorter than it was");
            got += static_cast<std::size_t>(n);
        }
        return out;
    }

private:
    Fd fd_;
    std::uint64_t size_;
};

// A write lock on one byte of `dir`/locks (the digest's first four hex digits pick which of
// 65536), an open-file-description lock: it excludes other holds in this process as well as in
// the others sharing the directory, and goes when the descriptor is closed, also when a
// process dies holding it.
class LocalHold final : public BlobHold {
public:
    LocalHold(const fs::path& lock_file, const std::string& sha256)
        : fd_(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640)) {
        if (fd_.get() < 0)
            throw std::runtime_error(
                fmt::format("media.dir: cannot open {}: {}", lock_file.string(), std::strerror(errno)));
        struct flock range {};
        range.l_type = F_WRLCK;
        range.l_whence = SEEK_SET;
        range.l_start = static_cast<off_t>(std::stoul(sha256.substr(0, 4), nullptr, 16));
        range.l_len = 1;
        while (::fcntl(fd_.get(), F_OFD_SETLKW, &range) != 0) {
            if (errno != EINTR)
                throw std::runtime_error(
                    fmt::format("media.dir: cannot lock {}: {}", lock_file.string(), std::strerror(errno)));
        }
    }

private:
    Fd fd_;
};

class LocalBlobStore final : public BlobStore {
public:
    explicit LocalBlobStore(fs::path dir) : dir_(std::move(dir)) {
        std::error_code ec;
        fs::remove_all(dir_ / "tmp", ec);
        fs::create_directories(dir_ / "tmp", ec);
        if (ec) throw std::runtime_error(fmt::format("media.dir {}: {}", dir_.string(), ec.message()));
    }

    std::unique_ptr<BlobWriter> create() override {
        return std::make_unique<LocalWriter>(dir_ / "tmp" / (util::random_hex(16) + ".part"), dir_);
    }

    std::unique_ptr<BlobReader> open(const std::string& sha256) override {
        if (!is_sha256_hex(sha256)) return nullptr;
        const int fd = ::open(path_of(sha256).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return nullptr;
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            return nullptr;
        }
        return std::make_unique<LocalReader>(fd, static_cast<std::uint64_t>(st.st_size));
    }

    bool remove(const std::string& sha256) override {
        if (!is_sha256_hex(sha256)) return false;
        std::error_code ec;
        return fs::remove(path_of(sha256), ec);
    }

    std::unique_ptr<BlobHold> hold(const std::string& sha256) override {
        if (!is_sha256_hex(sha256)) throw std::runtime_error("media.dir: not a SHA-256 digest: " + sha256);
        return std::make_unique<LocalHold>(dir_ / "locks", sha256);
    }

private:
    fs::path path_of(const std::string& sha256) const {
        return dir_ / sha256.substr(0, 2) / sha256.substr(2, 2) / sha256;
    }

    fs::path dir_;
};

}  // namespace

std::unique_ptr<BlobStore> open_local_blob_store(const fs::path& dir) {
    return std::make_unique<LocalBlobStore>(dir);
}

}  // namespace sb::media
