#include "api/auth.hpp"

#include <openssl/crypto.h>

#include <cctype>

namespace sb::api {

Authenticator::Authenticator(std::string bootstrap_admin_token)
    : bootstrap_token_(std::move(bootstrap_admin_token)),
      bootstrap_admin_(std::make_shared<const Principal>(Principal{"admin", "Bootstrap admin", "admin"})) {}

void Authenticator::set_bootstrap_token(std::string token) {
    std::lock_guard lock(mutex_);
    bootstrap_token_ = std::move(token);
}

std::shared_ptr<const Principal> Authenticator::authenticate(std::string_view token) const {
    std::lock_guard lock(mutex_);
    if (token.empty() || bootstrap_token_.empty() || token.size() != bootstrap_token_.size()) return nullptr;
    if (CRYPTO_memcmp(token.data(), bootstrap_token_.data(), token.size()) != 0) return nullptr;
    return bootstrap_admin_;
}

std::optional<std::string_view> Authenticator::bearer(std::optional<std::string_view> authorization) {
    if (!authorization) return std::nullopt;
    std::string_view value = *authorization;
    constexpr std::string_view kScheme = "Bearer ";
    if (value.size() <= kScheme.size()) return std::nullopt;
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(value[i])) != std::tolower(static_cast<unsigned char>(kScheme[i])))
            return std::nullopt;
    }
    value.remove_prefix(kScheme.size());
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    return value;
}

}  // namespace sb::api
