#include "api/auth.hpp"

#include <openssl/crypto.h>

#include <cctype>

#include "util/random.hpp"

namespace sb::api {

Authenticator::Authenticator(std::string bootstrap_admin_token)
    : bootstrap_token_(std::move(bootstrap_admin_token)),
      bootstrap_admin_(
          std::make_shared<const Principal>(Principal{"admin", "Bootstrap admin", "admin", ""})) {}

void Authenticator::set_bootstrap_token(std::string token) {
    std::lock_guard lock(mutex_);
    bootstrap_token_ = std::move(token);
}

void Authenticator::load(const std::vector<store::TokenGrant>& grants) {
    std::unordered_map<std::string, std::shared_ptr<const Principal>> table;
    for (const auto& g : grants)
        table.emplace(g.token_hash, std::make_shared<const Principal>(
                                        Principal{g.agent.id, g.agent.name, g.agent.role, g.token_id}));
    std::lock_guard lock(mutex_);
    by_hash_.swap(table);
}

void Authenticator::grant(const store::TokenGrant& g) {
    auto principal =
        std::make_shared<const Principal>(Principal{g.agent.id, g.agent.name, g.agent.role, g.token_id});
    std::lock_guard lock(mutex_);
    by_hash_[g.token_hash] = std::move(principal);
}

std::shared_ptr<const Principal> Authenticator::authenticate(std::string_view token) const {
    if (token.empty()) return nullptr;
    // Agent tokens are looked up by hash, so the comparison never runs over the secret itself.
    std::string hash = token.starts_with("sbt_") ? util::sha256_hex(token) : std::string();
    std::lock_guard lock(mutex_);
    if (!hash.empty()) {
        auto it = by_hash_.find(hash);
        if (it != by_hash_.end()) return it->second;
    }
    if (bootstrap_token_.empty() || token.size() != bootstrap_token_.size()) return nullptr;
    if (CRYPTO_memcmp(token.data(), bootstrap_token_.data(), token.size()) != 0) return nullptr;
    return bootstrap_admin_;
}

std::optional<std::string_view> Authenticator::bearer(std::optional<std::string_view> authorization) {
    if (!authorization) return std::nullopt;
    std::string_view value = *authorization;
    constexpr std::string_view kScheme = "Bearer ";
    if (value.size() <= kScheme.size()) return std::nullopt;
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(value[i])) !=
            std::tolower(static_cast<unsigned char>(kScheme[i])))
            return std::nullopt;
    }
    value.remove_prefix(kScheme.size());
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    return value;
}

}  // namespace sb::api
