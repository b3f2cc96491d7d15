#include "media/blob_store.hpp"

#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <fstream>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "util/random.hpp"

namespace sb::media {
namespace {

namespace fs = std::filesystem;

class LocalBlobStore final : public BlobStore {
public:
    explicit LocalBlobStore(fs::path dir) : dir_(std::move(dir)) {
        std::error_code ec;
        fs::remove_all(dir_ / "tmp", ec);
        fs::create_directories(dir_ / "tmp", ec);
        if (ec) throw std::runtime_error(fmt::format("media.dir {}: {}", dir_.string(), ec.message()));
    }

    fs::path staging_path() override { return dir_ / "tmp" / (util::random_hex(16) + ".part"); }

    void commit(const fs::path& staged, const std::string& sha256) override {
        const fs::path target = path_of(sha256);
        std::error_code ec;
        if (fs::exists(target, ec)) {
            fs::remove(staged, ec);
            return;
        }
        fs::create_directories(target.parent_path(), ec);
        fs::rename(staged, target, ec);  // same file system: atomic
        if (ec) throw std::runtime_error(fmt::format("media.dir: cannot store a file: {}", ec.message()));
    }

    std::optional<fs::path> locate(const std::string& sha256) override {
        if (sha256.size() != 64 || sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
            return std::nullopt;
        fs::path path = path_of(sha256);
        std::error_code ec;
        if (!fs::is_regular_file(path, ec)) return std::nullopt;
        return path;
    }

private:
    fs::path path_of(const std::string& sha256) const {
        return dir_ / sha256.substr(0, 2) / sha256.substr(2, 2) / sha256;
    }

    fs::path dir_;
};

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

// The type the first bytes show, "" when none of the signatures below.
std::string sniff(std::string_view head) {
    if (starts_with(head, "\xFF\xD8\xFF")) return "image/jpeg";
    if (starts_with(head, "\x89PNG\r\n\x1A\n")) return "image/png";
    if (starts_with(head, "GIF87a") || starts_with(head, "GIF89a")) return "image/gif";
    if (starts_with(head, "RIFF") && head.substr(8, 4) == "WEBP") return "image/webp";
    if (starts_with(head, "%PDF-")) return "application/pdf";
    if (starts_with(head, "OggS")) return "audio/ogg";
    if (head.substr(4, 4) == "ftyp") return "video/mp4";
    if (starts_with(head, "ID3") || (head.size() > 1 && static_cast<unsigned char>(head[0]) == 0xFF &&
                                     (static_cast<unsigned char>(head[1]) & 0xE0) == 0xE0))
        return "audio/mpeg";
    if (starts_with(head, "PK\x03\x04")) return "application/zip";
    return {};
}

// Markup a browser would render: never stored under a type that would let it.
bool looks_like_markup(std::string_view head) {
    auto begin = head.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
    if (begin == std::string_view::npos) return false;
    std::string lower;
    for (char c : head.substr(begin, 64))
        lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    return starts_with(lower, "<!doctype") || starts_with(lower, "<html") || starts_with(lower, "<svg") ||
           starts_with(lower, "<?xml") || starts_with(lower, "<script") || starts_with(lower, "<head") ||
           starts_with(lower, "<body");
}

}  // namespace

std::unique_ptr<BlobStore> open_local_blob_store(const fs::path& dir) {
    return std::make_unique<LocalBlobStore>(dir);
}

std::optional<FileDigest> digest_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return std::nullopt;
    FileDigest out;
    std::array<char, 64 * 1024> buffer;
    while (in) {
        in.read(buffer.data(), buffer.size());
        const auto n = static_cast<std::size_t>(in.gcount());
        if (n == 0) break;
        if (out.head.size() < 512)
            out.head.append(buffer.data(), std::min<std::size_t>(n, 512 - out.head.size()));
        EVP_DigestUpdate(ctx.get(), buffer.data(), n);
        out.size += n;
    }
    if (in.bad()) return std::nullopt;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &length);
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < length; ++i) {
        out.sha256.push_back(kHex[digest[i] >> 4]);
        out.sha256.push_back(kHex[digest[i] & 15]);
    }
    return out;
}

std::string checked_mime_type(std::string_view claimed, std::string_view head) {
    std::string type;
    for (char c : claimed.substr(0, claimed.find(';'))) {
        if (c == ' ' || c == '\t') continue;
        type.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    }
    // "Some bytes" says nothing: what the bytes are decides.
    if (type == "application/octet-stream" || type == "binary/octet-stream") type.clear();
    const bool well_formed =
        !type.empty() && type.find('/') != std::string::npos && type.size() < 128 &&
        type.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-/") == std::string::npos;
    const std::string seen = sniff(head);
    if (!well_formed) return seen.empty() ? "application/octet-stream" : seen;
    if (looks_like_markup(head) && !starts_with(type, "text/plain")) return "application/octet-stream";
    if (!seen.empty()) {
        // A family the bytes do not match: what was claimed is not what arrived.
        const bool same_family =
            type == seen ||
            (seen == "video/mp4" && (starts_with(type, "video/") || starts_with(type, "audio/"))) ||
            (seen == "audio/ogg" &&
             (type == "application/ogg" || type == "video/ogg" || type == "audio/opus")) ||
            (seen == "audio/mpeg" && type == "audio/mp3") ||
            (seen == "application/zip" && starts_with(type, "application/"));
        return same_family ? type : "application/octet-stream";
    }
    // Claimed as one of the types with a signature, yet without it.
    static constexpr std::string_view kSigned[] = {"image/jpeg", "image/png",       "image/gif",
                                                   "image/webp", "application/pdf", "audio/ogg"};
    for (auto s : kSigned)
        if (type == s) return "application/octet-stream";
    return type;
}

}  // namespace sb::media
