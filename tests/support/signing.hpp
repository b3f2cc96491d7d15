#pragma once
// HMAC-SHA256 as the platforms and the api channel sign webhooks, for tests that play the
// platform side: "sha256=" + lowercase hex, the X-Hub-Signature-256 / X-Switchboard-Signature
// form.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <string_view>

namespace sb::test {

// Lowercase hex of HMAC-SHA256(key, body).
inline std::string hmac_sha256_hex(std::string_view key, std::string_view body) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * len);
    for (unsigned i = 0; i < len; ++i) {
        out += kHex[mac[i] >> 4];
        out += kHex[mac[i] & 15];
    }
    return out;
}

// The signature header's value: "sha256=<hex>".
inline std::string sha256_signature(std::string_view key, std::string_view body) {
    return "sha256=" + hmac_sha256_hex(key, body);
}

}  // namespace sb::test
