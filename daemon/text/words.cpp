#include "text/words.hpp"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <limits>

namespace sb::text {
namespace {

enum class Kind { separator, word, single };

bool is_ascii_alnum(std::uint32_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Han, Hiragana and Katakana characters are words of their own.
bool single_character_word(UChar32 c) {
    if (u_hasBinaryProperty(c, UCHAR_IDEOGRAPHIC)) return true;
    UErrorCode error = U_ZERO_ERROR;
    const UScriptCode script = uscript_getScript(c, &error);
    return U_SUCCESS(error) &&
           (script == USCRIPT_HAN || script == USCRIPT_HIRAGANA || script == USCRIPT_KATAKANA);
}

Kind kind_of(UChar32 c) {
    if (c < 0) return Kind::separator;  // a malformed sequence
    if (c < 0x80) return is_ascii_alnum(static_cast<std::uint32_t>(c)) ? Kind::word : Kind::separator;
    if (single_character_word(c)) return Kind::single;
    return (U_GET_GC_MASK(c) & (U_GC_L_MASK | U_GC_M_MASK | U_GC_N_MASK)) ? Kind::word : Kind::separator;
}

// Runs an ICU transformation into `out`, growing it once if the first guess was short.
template <typename Transform>
void transform_into(std::u16string& out, std::int32_t guess, Transform&& transform) {
    out.resize(static_cast<std::size_t>(guess));
    UErrorCode error = U_ZERO_ERROR;
    std::int32_t length = transform(out.data(), guess, &error);
    if (error == U_BUFFER_OVERFLOW_ERROR) {
        out.resize(static_cast<std::size_t>(length));
        error = U_ZERO_ERROR;
        length = transform(out.data(), length, &error);
    }
    out.resize(U_SUCCESS(error) ? static_cast<std::size_t>(length) : 0);
}

class Folder {
public:
    explicit Folder(std::vector<Word>& out) : out_(out) {}

    // The run [begin, end) of `text`: letters, marks and digits.
    void add_run(std::string_view text, std::size_t begin, std::size_t end, bool ascii) {
        if (ascii) {
            Word w{std::string(text.substr(begin, end - begin)), begin, end};
            for (char& c : w.folded)
                if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            out_.push_back(std::move(w));
            return;
        }
        fold(text.substr(begin, end - begin));
        // NFKD, folding and the marks removed may split a run in several words, or leave none.
        std::string word;
        auto flush = [&] {
            if (!word.empty()) out_.push_back(Word{std::move(word), begin, end});
            word.clear();
        };
        for (std::size_t i = 0; i < folded_.size();) {
            UChar32 c;
            U16_NEXT(folded_.data(), i, folded_.size(), c);
            const auto mask = U_GET_GC_MASK(c);
            if (mask & (U_GC_MN_MASK | U_GC_ME_MASK)) continue;  // the diacritics
            if (single_character_word(c)) {
                flush();
                append(word, c);
                flush();
            } else if (mask & (U_GC_L_MASK | U_GC_MC_MASK | U_GC_N_MASK)) {
                append(word, c);
            } else {
                flush();
            }
        }
        flush();
    }

private:
    void fold(std::string_view run) {
        const auto size = static_cast<std::int32_t>(run.size());
        transform_into(utf16_, size + 1, [&](UChar* dst, std::int32_t capacity, UErrorCode* error) {
            std::int32_t length = 0;
            u_strFromUTF8WithSub(dst, capacity, &length, run.data(), size, 0xFFFD, nullptr, error);
            return length;
        });
        UErrorCode error = U_ZERO_ERROR;
        const UNormalizer2* nfkd = unorm2_getNFKDInstance(&error);
        if (U_FAILURE(error)) {
            folded_.clear();
            return;
        }
        const auto length = static_cast<std::int32_t>(utf16_.size());
        transform_into(decomposed_, length * 2 + 8, [&](UChar* dst, std::int32_t capacity, UErrorCode* e) {
            return unorm2_normalize(nfkd, utf16_.data(), length, dst, capacity, e);
        });
        const auto decomposed_length = static_cast<std::int32_t>(decomposed_.size());
        transform_into(folded_, decomposed_length + 8, [&](UChar* dst, std::int32_t capacity, UErrorCode* e) {
            return u_strFoldCase(dst, capacity, decomposed_.data(), decomposed_length, U_FOLD_CASE_DEFAULT,
                                 e);
        });
    }

    static void append(std::string& utf8, UChar32 c) {
        char buffer[U8_MAX_LENGTH];
        std::size_t length = 0;
        U8_APPEND_UNSAFE(buffer, length, c);
        utf8.append(buffer, length);
    }

    std::vector<Word>& out_;
    std::u16string utf16_;
    std::u16string decomposed_;
    std::u16string folded_;
};

}  // namespace

std::vector<Word> words(std::string_view text) {
    if (text.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        text = text.substr(0, static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()));
    std::vector<Word> out;
    Folder folder(out);
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
    const auto length = static_cast<std::int32_t>(text.size());
    std::int32_t run_begin = -1;
    bool ascii = true;
    for (std::int32_t i = 0; i < length;) {
        const std::int32_t at = i;
        UChar32 c;
        U8_NEXT(bytes, i, length, c);
        const Kind kind = kind_of(c);
        if (kind == Kind::word) {
            if (run_begin < 0) {
                run_begin = at;
                ascii = true;
            }
            ascii = ascii && c < 0x80;
            continue;
        }
        if (run_begin >= 0)
            folder.add_run(text, static_cast<std::size_t>(run_begin), static_cast<std::size_t>(at), ascii);
        run_begin = -1;
        if (kind == Kind::single)
            folder.add_run(text, static_cast<std::size_t>(at), static_cast<std::size_t>(i), false);
    }
    if (run_begin >= 0) folder.add_run(text, static_cast<std::size_t>(run_begin), text.size(), ascii);
    return out;
}

std::string folded(std::string_view text) {
    std::string joined;
    for (const auto& w : words(text)) {
        if (!joined.empty()) joined += ' ';
        joined += w.folded;
    }
    return joined;
}

std::vector<std::string> phone_numbers(std::string_view text) {
    constexpr std::size_t kMinDigits = 7;
    constexpr std::size_t kMaxDigits = 15;  // E.164
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    auto separator = [](char c) {
        return c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')';
    };
    auto word_byte = [&](char c) { return is_ascii_alnum(static_cast<unsigned char>(c)); };
    std::vector<std::string> numbers;
    std::size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        const bool starts = (digit(c) || c == '+' || c == '(') && (i == 0 || !word_byte(text[i - 1]));
        if (!starts) {
            ++i;
            continue;
        }
        std::string digits;
        bool written_with_separators = c == '+';
        std::size_t end = i;  // just after the last digit
        std::size_t separators_in_a_row = 0;
        for (std::size_t j = (c == '+') ? i + 1 : i; j < text.size(); ++j) {
            if (digit(text[j])) {
                // A separator counts only between digits (not one after the number).
                if (separators_in_a_row > 0 && !digits.empty()) written_with_separators = true;
                digits += text[j];
                end = j + 1;
                separators_in_a_row = 0;
            } else if (!separator(text[j]) || ++separators_in_a_row > 2) {
                break;
            }
        }
        const bool whole = end == text.size() || !word_byte(text[end]);
        if (written_with_separators && whole && digits.size() >= kMinDigits && digits.size() <= kMaxDigits)
            numbers.push_back(std::move(digits));
        i = end > i ? end : i + 1;
    }
    return numbers;
}

}  // namespace sb::text
