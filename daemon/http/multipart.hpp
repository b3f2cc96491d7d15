#pragma once
// A multipart/form-data body (RFC 7578 over RFC 2046 §5.1.1), read as it arrives: the caller
// feeds pieces of any size, split anywhere (a delimiter may straddle two pieces), and the
// parser hands each part's headers and then its bytes to a sink without holding a part whole.
// What it keeps between pieces is bounded by a delimiter's length and kMaxPartHeaderBytes,
// whatever the body says, so a hostile body cannot make it grow.
//
// No Beast or Asio here: the fuzz target (fuzz/multipart_fuzzer.cpp) builds this file alone.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sb::http {

// One part's headers as RFC 7578 §4.2 defines them: Content-Disposition's `name` and
// `filename` (absent when the part is a plain field; `filename*`, RFC 8187, wins where both
// are given), and Content-Type as sent ("" when the part has none: RFC 7578 §4.4 makes that
// text/plain for a field, but a file without a type is better judged by its bytes).
struct MultipartPart {
    std::string name;
    std::optional<std::string> filename;
    std::string content_type;
};

// Receives what the parser finds, in order: on_part, on_data any number of times, on_part_end,
// for each part. A sink that returns false stops the parse (MultipartReader::feed then answers
// kStopped; the sink knows why).
class MultipartSink {
public:
    virtual ~MultipartSink() = default;
    virtual bool on_part(const MultipartPart& part) = 0;
    virtual bool on_data(std::string_view bytes) = 0;
    virtual bool on_part_end() = 0;
};

// The part headers of one part, at most (a browser sends fewer than 300 bytes).
inline constexpr std::size_t kMaxPartHeaderBytes = 8 * 1024;
// Parts in one body, at most: a form with a file has a handful.
inline constexpr int kMaxParts = 64;

// The boundary of a `Content-Type: multipart/form-data; boundary=…` header value (the
// parameter as a token or a quoted string, RFC 2046 §5.1.1: 1 to 70 characters), or nullopt
// when the type is another one or the boundary is missing or not one RFC 2046 allows.
std::optional<std::string> multipart_boundary(std::string_view content_type);

class MultipartReader {
public:
    enum class Status {
        kOk,       // more may come: feed the next piece (or finish())
        kDone,     // the closing delimiter was read; what follows is the epilogue, ignored
        kStopped,  // the sink said stop
        kInvalid,  // the body is not multipart as RFC 2046 frames it: error() says how
    };

    explicit MultipartReader(std::string boundary);

    // The next bytes of the body. Once it returns anything but kOk, it returns that again.
    Status feed(std::string_view bytes, MultipartSink& sink);
    // The body has ended: kDone when the closing delimiter came, else kInvalid ("ends before
    // the closing boundary"), or what feed() had answered.
    Status finish();
    // Why the body was refused (kInvalid), in words for a 400 answer.
    const std::string& error() const { return error_; }

private:
    enum class State { kPreamble, kAfterDelimiter, kHeaders, kBody, kEpilogue };
    Status run(MultipartSink& sink);
    Status fail(std::string why);
    bool parse_headers(std::string_view block, MultipartPart& part);

    std::string delimiter_;  // CRLF "--" boundary
    std::string pending_;    // bytes seen but not yet handed on: at most a delimiter or a header block
    State state_ = State::kPreamble;
    Status status_ = Status::kOk;
    int parts_ = 0;
    std::string error_;
};

}  // namespace sb::http
