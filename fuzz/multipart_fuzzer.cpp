// The multipart/form-data reader (sb::http::MultipartReader) on arbitrary bodies. The first
// byte picks the piece size the body is fed in (1 to 256); the rest is the body, whose boundary
// is "sbfuzz". The same body read whole and read in pieces must give the same answer and the same
// parts byte for byte (a delimiter split across two pieces is found all the same), no part's
// bytes may hold a delimiter, and a refusal must say why. Anything else is a finding.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/multipart.hpp"

namespace {

constexpr std::string_view kBoundary = "sbfuzz";

struct Parts final : sb::http::MultipartSink {
    std::vector<std::string> seen;  // name, filename, type and bytes of each part, in order
    bool on_part(const sb::http::MultipartPart& part) override {
        seen.push_back(part.name + '\0' + part.filename.value_or("<none>") + '\0' + part.content_type + '\0');
        return true;
    }
    bool on_data(std::string_view bytes) override {
        if (seen.empty() || bytes.empty()) __builtin_trap();  // data outside a part, or an empty piece
        seen.back().append(bytes);
        return true;
    }
    bool on_part_end() override { return true; }
};

sb::http::MultipartReader::Status read(std::string_view body, std::size_t piece, Parts& parts,
                                       std::string& error) {
    sb::http::MultipartReader reader{std::string(kBoundary)};
    auto status = sb::http::MultipartReader::Status::kOk;
    for (std::size_t at = 0; at < body.size() && status == sb::http::MultipartReader::Status::kOk;
         at += piece)
        status = reader.feed(body.substr(at, piece), parts);
    if (status == sb::http::MultipartReader::Status::kOk) status = reader.finish();
    error = reader.error();
    return status;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t piece = static_cast<std::size_t>(data[0]) + 1;
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    Parts whole, pieces;
    std::string whole_error, pieces_error;
    const auto a = read(body, body.size() + 1, whole, whole_error);
    const auto b = read(body, piece, pieces, pieces_error);
    if (a != b || whole.seen != pieces.seen) __builtin_trap();
    if (a == sb::http::MultipartReader::Status::kInvalid && whole_error.empty()) __builtin_trap();
    const std::string delimiter = "\r\n--" + std::string(kBoundary);
    for (const auto& part : whole.seen)
        if (part.find(delimiter) != std::string::npos) __builtin_trap();
    (void)sb::http::multipart_boundary(body.substr(0, 200));
    return 0;
}
