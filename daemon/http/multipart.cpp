#include "http/multipart.hpp"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

namespace sb::http {
namespace {

// Pieces are looked at this much at a time, so what is kept between calls does not grow with
// the piece a caller hands over.
constexpr std::size_t kSlice = 16 * 1024;
// Spaces and tabs between a delimiter and its CRLF (RFC 2046's transport-padding), at most.
constexpr std::size_t kMaxPadding = 256;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

// RFC 9110 §5.6.2 tchar.
bool is_token_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// `; name=value` pairs (value a token or a quoted string with \-escapes, RFC 9110 §5.6.6),
// names lower-cased; nullopt when they are malformed or a name repeats (which one would count?).
std::optional<std::vector<std::pair<std::string, std::string>>> parse_parameters(std::string_view text) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t i = 0;
    auto skip_space = [&] {
        while (i < text.size() && is_space(text[i])) ++i;
    };
    for (;;) {
        skip_space();
        if (i == text.size()) return out;
        if (text[i] != ';') return std::nullopt;
        ++i;
        skip_space();
        if (i == text.size()) return out;  // a trailing ";" is common and harmless
        const std::size_t name_start = i;
        while (i < text.size() && is_token_char(text[i])) ++i;
        if (i == name_start) return std::nullopt;
        std::string name = lower(text.substr(name_start, i - name_start));
        skip_space();
        if (i == text.size() || text[i] != '=') return std::nullopt;
        ++i;
        skip_space();
        std::string value;
        if (i < text.size() && text[i] == '"') {
            ++i;
            bool closed = false;
            while (i < text.size()) {
                const char c = text[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\') {
                    if (i == text.size()) return std::nullopt;
                    value.push_back(text[i++]);
                } else {
                    value.push_back(c);
                }
            }
            if (!closed) return std::nullopt;
        } else {
            const std::size_t value_start = i;
            while (i < text.size() && text[i] != ';' && !is_space(text[i])) {
                if (static_cast<unsigned char>(text[i]) < 0x21 || text[i] == '"') return std::nullopt;
                ++i;
            }
            value = std::string(text.substr(value_start, i - value_start));
        }
        for (const auto& [seen, ignored] : out)
            if (seen == name) return std::nullopt;
        out.emplace_back(std::move(name), std::move(value));
    }
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 8187 ext-value: UTF-8''percent-encoded (the only charset it requires); nullopt otherwise.
std::optional<std::string> decode_ext_value(std::string_view text) {
    const auto quote = text.find('\'');
    if (quote == std::string_view::npos || !iequals(text.substr(0, quote), "utf-8")) return std::nullopt;
    const auto language_end = text.find('\'', quote + 1);
    if (language_end == std::string_view::npos) return std::nullopt;
    std::string out;
    for (std::size_t i = language_end + 1; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        const int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
    return out;
}

// RFC 2046 §5.1.1 bchars: what a boundary may be made of (a space, but not last).
bool valid_boundary(std::string_view boundary) {
    if (boundary.empty() || boundary.size() > 70 || boundary.back() == ' ') return false;
    return std::all_of(boundary.begin(), boundary.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) ||
               std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
    });
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
    const auto semicolon = content_type.find(';');
    if (!iequals(trim(content_type.substr(0, semicolon)), "multipart/form-data")) return std::nullopt;
    if (semicolon == std::string_view::npos) return std::nullopt;
    auto parameters = parse_parameters(content_type.substr(semicolon));
    if (!parameters) return std::nullopt;
    for (auto& [name, value] : *parameters)
        if (name == "boundary") return valid_boundary(value) ? std::optional(std::move(value)) : std::nullopt;
    return std::nullopt;
}

// The delimiter is CRLF "--" boundary, and the CRLF belongs to it (RFC 2046: "the CRLF
// preceding the boundary delimiter line is conceptually attached to the boundary"), so a part's
// bytes end before it. A body may open with the delimiter itself, without a CRLF: starting
// from a CRLF of our own makes that the same case as every other delimiter.
MultipartReader::MultipartReader(std::string boundary) : delimiter_("\r\n--" + boundary), pending_("\r\n") {}

MultipartReader::Status MultipartReader::fail(std::string why) {
    error_ = std::move(why);
    pending_.clear();
    return status_ = Status::kInvalid;
}

MultipartReader::Status MultipartReader::feed(std::string_view bytes, MultipartSink& sink) {
    while (status_ == Status::kOk && !bytes.empty()) {
        const std::size_t take = std::min(bytes.size(), kSlice);
        if (state_ == State::kEpilogue) return status_;
        pending_.append(bytes.substr(0, take));
        bytes.remove_prefix(take);
        status_ = run(sink);
    }
    return status_;
}

MultipartReader::Status MultipartReader::finish() {
    if (status_ == Status::kOk) return fail("the body ends before the closing boundary");
    return status_;
}

MultipartReader::Status MultipartReader::run(MultipartSink& sink) {
    for (;;) {
        switch (state_) {
            case State::kPreamble: {
                const auto at = pending_.find(delimiter_);
                if (at == std::string::npos) {
                    // The preamble is ignored; only its last bytes may begin a delimiter.
                    const std::size_t keep = std::min(pending_.size(), delimiter_.size() - 1);
                    pending_.erase(0, pending_.size() - keep);
                    return Status::kOk;
                }
                pending_.erase(0, at + delimiter_.size());
                state_ = State::kAfterDelimiter;
                break;
            }
            case State::kAfterDelimiter: {
                // "--" closes the body; otherwise padding and CRLF open a part.
                if (pending_.empty() || pending_ == "-") return Status::kOk;
                if (pending_.starts_with("--")) {
                    pending_.clear();
                    state_ = State::kEpilogue;
                    return Status::kDone;
                }
                std::size_t padding = 0;
                while (padding < pending_.size() && is_space(pending_[padding])) ++padding;
                if (padding > kMaxPadding) return fail("a boundary line is padded with too many spaces");
                const std::string_view rest = std::string_view(pending_).substr(padding);
                if (rest.empty() || rest == "\r") return Status::kOk;
                if (!rest.starts_with("\r\n"))
                    return fail("a boundary is followed by other text on its line (does a part contain it?)");
                pending_.erase(0, padding + 2);
                if (++parts_ > kMaxParts) return fail("the body has more than 64 parts");
                state_ = State::kHeaders;
                break;
            }
            case State::kHeaders: {
                // A part without headers opens with the blank line itself.
                std::size_t block_end = 0, skip = 2;
                if (!pending_.starts_with("\r\n")) {
                    const auto at = pending_.find("\r\n\r\n");
                    if (at == std::string::npos) {
                        if (pending_.size() > kMaxPartHeaderBytes + 3)
                            return fail("a part's headers exceed 8 KiB");
                        return Status::kOk;
                    }
                    if (at > kMaxPartHeaderBytes) return fail("a part's headers exceed 8 KiB");
                    block_end = at;
                    skip = 4;
                }
                MultipartPart part;
                if (!parse_headers(std::string_view(pending_).substr(0, block_end), part))
                    return status_ == Status::kInvalid ? status_ : fail("a part's headers are malformed");
                pending_.erase(0, block_end + skip);
                if (!sink.on_part(part)) return Status::kStopped;
                state_ = State::kBody;
                break;
            }
            case State::kBody: {
                const auto at = pending_.find(delimiter_);
                if (at == std::string::npos) {
                    // Everything but what may be the start of a delimiter is the part's.
                    const std::size_t keep = std::min(pending_.size(), delimiter_.size() - 1);
                    const std::size_t give = pending_.size() - keep;
                    if (give > 0) {
                        if (!sink.on_data(std::string_view(pending_).substr(0, give)))
                            return Status::kStopped;
                        pending_.erase(0, give);
                    }
                    return Status::kOk;
                }
                if (at > 0 && !sink.on_data(std::string_view(pending_).substr(0, at)))
                    return Status::kStopped;
                if (!sink.on_part_end()) return Status::kStopped;
                pending_.erase(0, at + delimiter_.size());
                state_ = State::kAfterDelimiter;
                break;
            }
            case State::kEpilogue:
                pending_.clear();
                return Status::kDone;
        }
    }
}

// The header block of one part (CRLF-separated lines; a line that starts with a space or tab
// continues the one before, RFC 5322's folding, which some clients still send).
bool MultipartReader::parse_headers(std::string_view block, MultipartPart& part) {
    std::vector<std::pair<std::string, std::string>> fields;
    while (!block.empty()) {
        const auto end = block.find("\r\n");
        std::string_view line = block.substr(0, end);
        block = end == std::string_view::npos ? std::string_view() : block.substr(end + 2);
        if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
            fail("a part's header has a bare CR, LF or NUL");
            return false;
        }
        if (!line.empty() && is_space(line.front())) {
            if (fields.empty()) return false;
            fields.back().second.append(" ").append(trim(line));
            continue;
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return false;
        const std::string_view name = line.substr(0, colon);
        if (!std::all_of(name.begin(), name.end(), is_token_char)) return false;
        fields.emplace_back(lower(name), std::string(trim(line.substr(colon + 1))));
    }
    bool has_disposition = false, has_type = false;
    for (const auto& [name, value] : fields) {
        if (name == "content-type") {
            if (has_type) {
                fail("a part has two Content-Type headers");
                return false;
            }
            has_type = true;
            if (!value.empty()) part.content_type = value;
        } else if (name == "content-disposition") {
            if (has_disposition) {
                fail("a part has two Content-Disposition headers");
                return false;
            }
            has_disposition = true;
            const auto semicolon = value.find(';');
            if (!iequals(trim(std::string_view(value).substr(0, semicolon)), "form-data")) {
                fail("a part's Content-Disposition is not form-data");
                return false;
            }
            auto parameters =
                semicolon == std::string::npos
                    ? std::optional<std::vector<std::pair<std::string, std::string>>>(std::in_place)
                    : parse_parameters(std::string_view(value).substr(semicolon));
            if (!parameters) {
                fail("a part's Content-Disposition parameters are malformed");
                return false;
            }
            bool has_name = false;
            std::optional<std::string> extended;
            for (auto& [key, text] : *parameters) {
                if (key == "name") {
                    has_name = true;
                    part.name = std::move(text);
                } else if (key == "filename") {
                    if (!part.filename) part.filename = std::move(text);
                } else if (key == "filename*") {
                    extended = decode_ext_value(text);
                    if (!extended) {
                        fail("a part's filename* is not UTF-8''percent-encoded");
                        return false;
                    }
                }
            }
            // RFC 6266 §4.3: filename* wins where both are given.
            if (extended) part.filename = std::move(extended);
            if (!has_name) {
                fail("a part's Content-Disposition has no name");
                return false;
            }
        }
    }
    if (!has_disposition) {
        fail("a part has no Content-Disposition: form-data header");
        return false;
    }
    return true;
}

}  // namespace sb::http
