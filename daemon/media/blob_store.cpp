#include "media/blob_store.hpp"

#include <openssl/evp.h>

#include <stdexcept>
#include <string_view>

namespace sb::media {
namespace {

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

bool is_sha256_hex(std::string_view text) {
    return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

struct ContentDigest::Ctx {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md{EVP_MD_CTX_new(), EVP_MD_CTX_free};
};

ContentDigest::ContentDigest() : ctx_(std::make_unique<Ctx>()) {
    if (!ctx_->md || EVP_DigestInit_ex(ctx_->md.get(), EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 is not available");
}

ContentDigest::~ContentDigest() = default;

void ContentDigest::update(std::string_view bytes) {
    if (head_.size() < 512) head_.append(bytes.substr(0, 512 - head_.size()));
    EVP_DigestUpdate(ctx_->md.get(), bytes.data(), bytes.size());
    size_ += bytes.size();
}

std::string ContentDigest::finish() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_->md.get(), digest, &length);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 15]);
    }
    return out;
}

StoredBytes store_bytes(BlobStore& blobs, std::string_view bytes) {
    ContentDigest digest;
    auto writer = blobs.create();
    for (std::size_t at = 0; at < bytes.size(); at += kBlobReadChunk) {
        const std::string_view piece = bytes.substr(at, kBlobReadChunk);
        digest.update(piece);
        writer->write(piece);
    }
    StoredBytes out{digest.finish(), digest.size(), digest.head()};
    writer->commit(out.sha256);
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
