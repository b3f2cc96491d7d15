#include "api/uploads.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <switchboard/plugin.hpp>

#include "http/multipart.hpp"

namespace sb::api {
namespace {

// A body is read this much at a time: one piece in memory, whatever the file's size.
constexpr std::size_t kPiece = media::kBlobReadChunk;

std::string too_large(std::size_t limit) {
    return fmt::format("the file exceeds the upload limit of {} bytes (media.upload_limit_mb)", limit);
}

// The bytes of one file on their way to a writer, with their digest; `limit` is checked before
// a byte over it is written.
class FileBytes {
public:
    FileBytes(media::BlobStore& blobs, std::size_t limit) : writer_(blobs.create()), limit_(limit) {}

    bool add(std::string_view bytes) {
        if (bytes.size() > limit_ - std::min<std::uint64_t>(limit_, digest_.size())) return false;
        digest_.update(bytes);
        writer_->write(bytes);
        return true;
    }
    std::uint64_t size() const { return digest_.size(); }

    WrittenUpload finish(WrittenUpload out) {
        out.bytes.size = digest_.size();
        out.bytes.head = digest_.head();
        out.bytes.sha256 = digest_.finish();
        out.writer = std::move(writer_);
        return out;
    }

private:
    media::ContentDigest digest_;
    std::unique_ptr<media::BlobWriter> writer_;
    std::size_t limit_;
};

WrittenUpload refused(WrittenUpload::Status status, std::string error) {
    WrittenUpload out;
    out.status = status;
    out.error = std::move(error);
    return out;
}

// The form's parts: the one named `file` goes to the blob store, the others are read past.
class FormSink final : public http::MultipartSink {
public:
    FormSink(media::BlobStore& blobs, std::size_t limit) : blobs_(blobs), limit_(limit) {}

    bool on_part(const http::MultipartPart& part) override {
        in_file_ = part.name == "file";
        if (!in_file_) return true;
        if (file_) return refuse(WrittenUpload::Status::kMalformed, "the form has two parts named \"file\"");
        file_.emplace(blobs_, limit_);
        result_.file_name = part.filename;
        result_.content_type = part.content_type;
        return true;
    }
    bool on_data(std::string_view bytes) override {
        if (!in_file_ || file_->add(bytes)) return true;
        return refuse(WrittenUpload::Status::kTooLarge, too_large(limit_));
    }
    bool on_part_end() override {
        in_file_ = false;
        return true;
    }

    bool refuse(WrittenUpload::Status status, std::string error) {
        result_.status = status;
        result_.error = std::move(error);
        return false;
    }
    WrittenUpload finish() {
        if (result_.status != WrittenUpload::Status::kWritten) return refused(result_.status, result_.error);
        if (!file_) return refused(WrittenUpload::Status::kMalformed, "the form has no part named \"file\"");
        if (file_->size() == 0) return refused(WrittenUpload::Status::kEmpty, "the form's file is empty");
        return file_->finish(std::move(result_));
    }

private:
    media::BlobStore& blobs_;
    std::size_t limit_;
    std::optional<FileBytes> file_;
    bool in_file_ = false;
    WrittenUpload result_;
};

}  // namespace

BodyReader read_file(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(fmt::format("cannot read the upload: {}", std::strerror(errno)));
    auto owned = std::shared_ptr<int>(new int(fd), [](int* p) {
        ::close(*p);
        delete p;
    });
    return [owned](char* buffer, std::size_t size) -> std::size_t {
        for (;;) {
            const ssize_t n = ::read(*owned, buffer, size);
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno != EINTR)
                throw std::runtime_error(fmt::format("cannot read the upload: {}", std::strerror(errno)));
        }
    };
}

BodyReader read_memory(std::string_view bytes) {
    return [bytes](char* buffer, std::size_t size) mutable -> std::size_t {
        const std::size_t n = std::min(size, bytes.size());
        std::memcpy(buffer, bytes.data(), n);
        bytes.remove_prefix(n);
        return n;
    };
}

WrittenUpload write_raw_upload(media::BlobStore& blobs, const BodyReader& body, std::size_t limit) {
    FileBytes file(blobs, limit);
    std::string piece(kPiece, '\0');
    while (const std::size_t n = body(piece.data(), piece.size())) {
        if (!file.add(std::string_view(piece.data(), n)))
            return refused(WrittenUpload::Status::kTooLarge, too_large(limit));
    }
    if (file.size() == 0) return refused(WrittenUpload::Status::kEmpty, "the body is the file; it is empty");
    return file.finish({});
}

WrittenUpload write_form_upload(media::BlobStore& blobs, const BodyReader& body, std::string_view boundary,
                                std::size_t limit) {
    http::MultipartReader reader{std::string(boundary)};
    FormSink sink(blobs, limit);
    std::string piece(kPiece, '\0');
    auto status = http::MultipartReader::Status::kOk;
    while (status == http::MultipartReader::Status::kOk) {
        const std::size_t n = body(piece.data(), piece.size());
        status = n == 0 ? reader.finish() : reader.feed(std::string_view(piece.data(), n), sink);
    }
    if (status == http::MultipartReader::Status::kInvalid)
        return refused(WrittenUpload::Status::kMalformed, "malformed multipart/form-data: " + reader.error());
    return sink.finish();
}

bool is_valid_file_name(std::string_view name) {
    return name.size() <= 255 && switchboard::is_valid_utf8(name) &&
           name.find_first_of(std::string_view("/\\\0\r\n", 5)) == std::string_view::npos;
}

}  // namespace sb::api
