#pragma once
// Unpredictable identifiers and secrets (OpenSSL's CSPRNG).

#include <cstddef>
#include <string>
#include <string_view>

namespace sb::util {

// `bytes` random bytes as lower-case hex.
std::string random_hex(std::size_t bytes);

// A new API token: "sbt_" + 32 random bytes in base64url (256 bits).
std::string new_token();

// Lower-case hex SHA-256 of `data`: how tokens are stored and looked up.
std::string sha256_hex(std::string_view data);

}  // namespace sb::util
