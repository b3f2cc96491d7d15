// The multipart/form-data reader (http/multipart.hpp) and the upload writers on it
// (api/uploads.hpp): RFC 2046's framing fed in pieces split anywhere, bodies that end early or
// lie about their framing, and a form's file going to a blob store with its limit.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "api/uploads.hpp"
#include "http/multipart.hpp"
#include "media/blob_store.hpp"

namespace {

using sb::http::MultipartReader;
using Status = MultipartReader::Status;

// What a sink saw: one entry per part, its bytes joined.
struct SeenPart {
    sb::http::MultipartPart part;
    std::string bytes;
    bool ended = false;
};

class RecordingSink final : public sb::http::MultipartSink {
public:
    bool on_part(const sb::http::MultipartPart& part) override {
        parts.push_back({part, {}, false});
        return true;
    }
    bool on_data(std::string_view bytes) override {
        EXPECT_FALSE(parts.empty());
        EXPECT_FALSE(bytes.empty()) << "no empty pieces";
        parts.back().bytes.append(bytes);
        return true;
    }
    bool on_part_end() override {
        parts.back().ended = true;
        return true;
    }
    std::vector<SeenPart> parts;
};

const std::string kBoundary = "----sbBoundary7MA4YWxkTrZu0gW";

// The body in pieces of `piece` bytes; the final status and what the sink saw.
Status parse(const std::string& body, std::size_t piece, RecordingSink& sink, std::string* error = nullptr,
             const std::string& boundary = kBoundary) {
    MultipartReader reader(boundary);
    Status status = Status::kOk;
    for (std::size_t at = 0; at < body.size() && status == Status::kOk; at += piece)
        status = reader.feed(std::string_view(body).substr(at, piece), sink);
    if (status == Status::kOk) status = reader.finish();
    if (error) *error = reader.error();
    return status;
}

// Bytes that look like framing without being it: CRLFs, dashes, the boundary less its last
// character, a NUL.
std::string tricky_bytes() {
    std::string out = "\r\n--\r\n\r\n--" + kBoundary.substr(0, kBoundary.size() - 1) + "X\r\n";
    out += std::string("\0\xFF\r", 3);
    for (int i = 0; i < 3000; ++i) out.push_back(static_cast<char>((i * 37) & 0xFF));
    out += "\r\n-";
    return out;
}

std::string form(const std::string& file) {
    return "preamble to ignore\r\n--" + kBoundary +
           "\r\n"
           "Content-Disposition: form-data; name=\"caption\"\r\n"
           "\r\n"
           "hello\r\n"
           "--" +
           kBoundary +
           "\r\n"
           "Content-Disposition: form-data; name=\"file\"; filename=\"receipt 1.pdf\"\r\n"
           "Content-Type: application/pdf\r\n"
           "\r\n" +
           file + "\r\n--" + kBoundary + "--\r\nepilogue to ignore";
}

TEST(Multipart, AFormsFieldsAndFileArriveWithTheirHeadersAndExactBytes) {
    RecordingSink sink;
    const std::string file = tricky_bytes();
    ASSERT_EQ(parse(form(file), 1 << 20, sink), Status::kDone);
    ASSERT_EQ(sink.parts.size(), 2u);
    EXPECT_EQ(sink.parts[0].part.name, "caption");
    EXPECT_FALSE(sink.parts[0].part.filename);
    EXPECT_EQ(sink.parts[0].part.content_type, "") << "none given";
    EXPECT_EQ(sink.parts[0].bytes, "hello");
    EXPECT_EQ(sink.parts[1].part.name, "file");
    EXPECT_EQ(sink.parts[1].part.filename.value_or("<none>"), "receipt 1.pdf");
    EXPECT_EQ(sink.parts[1].part.content_type, "application/pdf");
    EXPECT_TRUE(sink.parts[1].bytes == file) << "the part's bytes changed";
    EXPECT_TRUE(sink.parts[0].ended && sink.parts[1].ended);
}

TEST(Multipart, EverySplitOfTheBodyGivesTheSameParts) {
    const std::string file = tricky_bytes();
    const std::string body = form(file);
    for (std::size_t piece : {1u, 2u, 3u, 5u, 7u, 31u, 32u, 33u, 64u, 100u, 4096u}) {
        RecordingSink sink;
        ASSERT_EQ(parse(body, piece, sink), Status::kDone) << "pieces of " << piece;
        ASSERT_EQ(sink.parts.size(), 2u) << "pieces of " << piece;
        EXPECT_EQ(sink.parts[0].bytes, "hello") << "pieces of " << piece;
        EXPECT_TRUE(sink.parts[1].bytes == file) << "pieces of " << piece;
        EXPECT_EQ(sink.parts[1].part.filename.value_or(""), "receipt 1.pdf");
    }
}

TEST(Multipart, ABodyThatEndsBeforeTheClosingBoundaryIsRefused) {
    const std::string body = form("some file bytes");
    for (std::size_t cut : {0u, 10u, 60u, 140u, 200u}) {
        ASSERT_LT(cut, body.size());
        RecordingSink sink;
        std::string error;
        EXPECT_EQ(parse(body.substr(0, cut), 7, sink, &error), Status::kInvalid) << "cut at " << cut;
        EXPECT_NE(error.find("ends before the closing boundary"), std::string::npos) << error;
    }
    // Cut inside the closing delimiter itself.
    const auto close = body.rfind("--" + kBoundary + "--");
    RecordingSink sink;
    EXPECT_EQ(parse(body.substr(0, close + 10), 3, sink), Status::kInvalid);
}

TEST(Multipart, ADelimiterAtTheStartNeedsNoPreambleAndPaddingIsAllowed) {
    const std::string body = "--" + kBoundary +
                             " \t\r\nContent-Disposition: form-data; name=file\r\n\r\nabc\r\n--" + kBoundary +
                             "--";
    RecordingSink sink;
    ASSERT_EQ(parse(body, 4, sink), Status::kDone);
    ASSERT_EQ(sink.parts.size(), 1u);
    EXPECT_EQ(sink.parts[0].part.name, "file") << "a token as well as a quoted string";
    EXPECT_EQ(sink.parts[0].bytes, "abc");
}

TEST(Multipart, LineFeedsWithoutCarriageReturnsAreNotDelimiters) {
    const std::string body =
        "--" + kBoundary + "\nContent-Disposition: form-data; name=\"file\"\n\nabc\n--" + kBoundary + "--\n";
    RecordingSink sink;
    EXPECT_EQ(parse(body, 1 << 10, sink), Status::kInvalid);
    EXPECT_TRUE(sink.parts.empty());
}

TEST(Multipart, TheBoundaryInsideAPartsLineIsRefused) {
    const std::string body = "--" + kBoundary +
                             "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--" +
                             kBoundary + "tail\r\n--" + kBoundary + "--";
    RecordingSink sink;
    std::string error;
    EXPECT_EQ(parse(body, 1 << 10, sink, &error), Status::kInvalid);
    EXPECT_NE(error.find("boundary is followed by other text"), std::string::npos) << error;
}

TEST(Multipart, PartHeadersThatAreMissingOrMalformedAreRefused) {
    auto with_headers = [](const std::string& headers) {
        return "--" + kBoundary + "\r\n" + headers + "\r\n\r\nabc\r\n--" + kBoundary + "--";
    };
    for (const std::string& headers : {
             std::string("Content-Type: text/plain"),                                // no disposition
             std::string("Content-Disposition: attachment; name=\"file\""),          // not form-data
             std::string("Content-Disposition: form-data; filename=\"a.txt\""),      // no name
             std::string("Content-Disposition: form-data; name=\"file"),             // unclosed quote
             std::string("Content-Disposition: form-data; name=\"a\"; name=\"b\""),  // repeated
             std::string("Content-Disposition: form-data; name=\"file\"; filename*=latin1''x"),
             std::string(
                 "Content-Disposition: form-data; name=\"a\"\r\nContent-Disposition: form-data; name=\"b\""),
             std::string("no colon here"),
         }) {
        RecordingSink sink;
        EXPECT_EQ(parse(with_headers(headers), 1 << 10, sink), Status::kInvalid) << headers;
        EXPECT_TRUE(sink.parts.empty()) << headers;
    }
}

TEST(Multipart, FilenameParametersAreUnquotedAndTheExtendedOneWins) {
    const std::string body =
        "--" + kBoundary +
        "\r\ncontent-disposition: FORM-DATA; name=\"file\"; filename=\"a \\\"quoted\\\" name.txt\"\r\n\r\n"
        "x\r\n--" +
        kBoundary +
        "\r\nContent-Disposition: form-data; name=\"other\"; filename=\"plain.txt\";\r\n"
        " filename*=UTF-8''M%C3%A4rz.txt\r\n\r\ny\r\n--" +
        kBoundary + "--";
    RecordingSink sink;
    ASSERT_EQ(parse(body, 9, sink), Status::kDone);
    ASSERT_EQ(sink.parts.size(), 2u);
    EXPECT_EQ(sink.parts[0].part.filename.value_or(""), "a \"quoted\" name.txt");
    EXPECT_EQ(sink.parts[1].part.filename.value_or(""), "M\xC3\xA4rz.txt") << "folded line, RFC 8187 value";
}

TEST(Multipart, HostileSizesAreRefusedWithoutBeingHeld) {
    // Part headers that never end.
    {
        std::string body = "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"file\"\r\nX-Pad: ";
        body += std::string(1 << 20, 'a');
        RecordingSink sink;
        std::string error;
        EXPECT_EQ(parse(body, 64 * 1024, sink, &error), Status::kInvalid);
        EXPECT_NE(error.find("8 KiB"), std::string::npos) << error;
    }
    // More parts than a form has.
    {
        std::string body;
        for (int i = 0; i <= sb::http::kMaxParts; ++i)
            body += "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"f" + std::to_string(i) +
                    "\"\r\n\r\nv\r\n";
        body += "--" + kBoundary + "--";
        RecordingSink sink;
        EXPECT_EQ(parse(body, 1 << 20, sink), Status::kInvalid);
    }
    // Padding without end after a delimiter.
    {
        std::string body = "--" + kBoundary + std::string(100'000, ' ');
        RecordingSink sink;
        EXPECT_EQ(parse(body, 1 << 20, sink), Status::kInvalid);
    }
    // A large preamble and a large part are fine: they are passed on, never kept.
    {
        const std::string big(3 << 20, 'z');
        const std::string body = big + "\r\n--" + kBoundary +
                                 "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n" + big +
                                 "\r\n--" + kBoundary + "--";
        RecordingSink sink;
        ASSERT_EQ(parse(body, 1 << 20, sink), Status::kDone);
        ASSERT_EQ(sink.parts.size(), 1u);
        EXPECT_EQ(sink.parts[0].bytes.size(), big.size());
    }
}

TEST(Multipart, TheBoundaryComesFromTheContentType) {
    using sb::http::multipart_boundary;
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc").value_or(""), "abc");
    EXPECT_EQ(multipart_boundary("Multipart/Form-Data;BOUNDARY=\"a b:c\"").value_or(""), "a b:c");
    EXPECT_EQ(multipart_boundary("multipart/form-data; charset=utf-8; boundary=x-y").value_or(""), "x-y");
    EXPECT_FALSE(multipart_boundary("multipart/form-data"));
    EXPECT_FALSE(multipart_boundary("multipart/mixed; boundary=abc"));
    EXPECT_FALSE(multipart_boundary("application/json"));
    EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary="));
    EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a'))) << "over 70";
    EXPECT_TRUE(multipart_boundary("multipart/form-data; boundary=" + std::string(70, 'a')));
    EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"ends with space \""));
    EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"a\"; boundary=\"b\"")) << "which one?";
}

// --- the upload writers on a local blob store ---

class MultipartUpload : public ::testing::Test {
protected:
    void SetUp() override {
        static std::atomic<int> counter{0};
        dir_ = std::filesystem::temp_directory_path() /
               ("sb-multipart-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(dir_);
        blobs_ = sb::media::open_local_blob_store(dir_);
    }
    void TearDown() override {
        blobs_.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    sb::api::WrittenUpload write_form(const std::string& body, std::size_t limit = 1 << 20) {
        return sb::api::write_form_upload(*blobs_, sb::api::read_memory(body), kBoundary, limit);
    }

    std::filesystem::path dir_;
    std::unique_ptr<sb::media::BlobStore> blobs_;
};

TEST_F(MultipartUpload, TheFilePartIsWrittenWithItsNameTypeAndDigest) {
    const std::string file = tricky_bytes();
    auto written = write_form(form(file));
    ASSERT_EQ(written.status, sb::api::WrittenUpload::Status::kWritten) << written.error;
    EXPECT_EQ(written.file_name.value_or(""), "receipt 1.pdf");
    EXPECT_EQ(written.content_type, "application/pdf");
    EXPECT_EQ(written.bytes.size, file.size());
    sb::media::ContentDigest digest;
    digest.update(file);
    const std::string sha256 = digest.finish();
    EXPECT_EQ(written.bytes.sha256, sha256);
    EXPECT_FALSE(blobs_->open(sha256)) << "not committed: that is the caller's, under the hold";
    written.writer->commit(sha256);
    auto reader = blobs_->open(sha256);
    ASSERT_TRUE(reader);
    EXPECT_TRUE(reader->read(0, file.size()) == file);
}

TEST_F(MultipartUpload, AFileOverTheLimitIsTooLargeAndLeavesNothing) {
    const std::string file(5000, 'q');
    EXPECT_EQ(write_form(form(file), 4999).status, sb::api::WrittenUpload::Status::kTooLarge);
    EXPECT_EQ(write_form(form(file), 5000).status, sb::api::WrittenUpload::Status::kWritten);
    EXPECT_TRUE(std::filesystem::is_empty(dir_ / "tmp")) << "the refused writer was aborted";
}

TEST_F(MultipartUpload, AFormWithoutOneNonEmptyFilePartIsRefused) {
    using S = sb::api::WrittenUpload::Status;
    const std::string field_only = "--" + kBoundary +
                                   "\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nhi\r\n--" +
                                   kBoundary + "--";
    EXPECT_EQ(write_form(field_only).status, S::kMalformed);
    const std::string empty_file =
        "--" + kBoundary +
        "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"e.txt\"\r\n\r\n\r\n--" + kBoundary +
        "--";
    EXPECT_EQ(write_form(empty_file).status, S::kEmpty);
    const std::string part =
        "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n";
    auto twice = write_form(part + part + "--" + kBoundary + "--");
    EXPECT_EQ(twice.status, S::kMalformed);
    EXPECT_NE(twice.error.find("two parts"), std::string::npos) << twice.error;
    auto truncated = write_form(part);
    EXPECT_EQ(truncated.status, S::kMalformed);
    EXPECT_NE(truncated.error.find("ends before the closing boundary"), std::string::npos) << truncated.error;
}

TEST_F(MultipartUpload, ARawBodyIsTheFileWithinTheLimit) {
    using S = sb::api::WrittenUpload::Status;
    const std::string file(300'000, 'r');  // over one read piece
    auto written = sb::api::write_raw_upload(*blobs_, sb::api::read_memory(file), file.size());
    ASSERT_EQ(written.status, S::kWritten);
    EXPECT_EQ(written.bytes.size, file.size());
    EXPECT_EQ(sb::api::write_raw_upload(*blobs_, sb::api::read_memory(file), file.size() - 1).status,
              S::kTooLarge);
    EXPECT_EQ(sb::api::write_raw_upload(*blobs_, sb::api::read_memory(""), 10).status, S::kEmpty);
}

TEST(UploadFileName, NamesWithPathsControlCharactersOrBadUtf8AreRefused) {
    EXPECT_TRUE(sb::api::is_valid_file_name("re\xC3\xA7u.jpg"));
    EXPECT_TRUE(sb::api::is_valid_file_name(std::string(255, 'a')));
    EXPECT_FALSE(sb::api::is_valid_file_name(std::string(256, 'a')));
    EXPECT_FALSE(sb::api::is_valid_file_name("a/b"));
    EXPECT_FALSE(sb::api::is_valid_file_name("C:\\x\\y.pdf"));
    EXPECT_FALSE(sb::api::is_valid_file_name("a\r\nb"));
    EXPECT_FALSE(sb::api::is_valid_file_name("\xC3("));
}

}  // namespace
