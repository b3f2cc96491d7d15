#pragma once
// Words as search compares them, one rule for both engines (the SQLite store's FTS5 tables and
// the PostgreSQL store's tsvectors index what this returns, already folded): ICU's compatibility
// decomposition (NFKD), Unicode default case folding, and no nonspacing marks, so "Café",
// "CAFE" and "café" are the word "cafe", "Ｂ１０４２" is "b1042", "Привет" is "привет" and
// "مَرْحَبًا" is "مرحبا". A word is a run of letters, marks and digits; each Han, Hiragana and
// Katakana character is a word of its own, since those scripts do not put spaces between words
// (a search for 世界 then finds 你好世界).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sb::text {

struct Word {
    std::string folded;     // never empty; letters and digits only
    std::size_t begin = 0;  // the bytes of `text` it came from (several words may share them)
    std::size_t end = 0;
};

// The words of UTF-8 `text` in order; malformed bytes separate words.
std::vector<Word> words(std::string_view text);

// The folded words of `text` joined by single spaces: what an index is given.
std::string folded(std::string_view text);

// The digits of each phone number written in `text` with separators ("+49 151-1234 5678",
// "(030) 123 4567"): 7..15 digits, optionally after "+", with spaces, dashes, dots, slashes
// or parentheses between them. Numbers written as one run of digits are words already.
std::vector<std::string> phone_numbers(std::string_view text);

}  // namespace sb::text
