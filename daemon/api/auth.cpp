#include "api/auth.hpp"

#include <openssl/crypto.h>

#include <cctype>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "metrics/metrics.hpp"
#include "util/random.hpp"
#include "util/time.hpp"

namespace sb::api {

Authenticator::Authenticator(std::string bootstrap_admin_token, std::string bootstrap_admin_name)
    : bootstrap_token_(std::move(bootstrap_admin_token)),
      bootstrap_admin_(std::make_shared<const Principal>(
          Principal{"admin", std::move(bootstrap_admin_name), "admin", ""})) {}

std::optional<store::Agent> Authenticator::bootstrap_agent() const {
    std::lock_guard lock(mutex_);
    if (bootstrap_token_.empty()) return std::nullopt;
    return store::Agent{bootstrap_admin_->agent_id, bootstrap_admin_->name, bootstrap_admin_->role, 0};
}

void Authenticator::set_bootstrap_token(std::string token) {
    std::lock_guard lock(mutex_);
    bootstrap_token_ = std::move(token);
}

namespace {
std::shared_ptr<const Principal> principal_of(const store::TokenGrant& g) {
    return std::make_shared<const Principal>(
        Principal{g.agent.id, g.agent.name, g.agent.role, g.token_id, g.expires_ms});
}
}  // namespace

void Authenticator::load(const std::vector<store::TokenGrant>& grants) {
    std::unordered_map<std::string, std::shared_ptr<const Principal>> table;
    for (const auto& g : grants) table.emplace(g.token_hash, principal_of(g));
    std::lock_guard lock(mutex_);
    by_hash_.swap(table);
}

void Authenticator::grant(const store::TokenGrant& g) {
    auto principal = principal_of(g);
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
        if (it != by_hash_.end()) {
            const auto& principal = it->second;
            if (principal->expires_ms != 0 && principal->expires_ms <= util::now_ms()) return nullptr;
            return principal;
        }
    }
    if (bootstrap_token_.empty() || token.size() != bootstrap_token_.size()) return nullptr;
    if (CRYPTO_memcmp(token.data(), bootstrap_token_.data(), token.size()) != 0) return nullptr;
    return bootstrap_admin_;
}

std::vector<std::string> Authenticator::newly_expired(std::int64_t now_ms) {
    std::vector<std::string> out;
    std::lock_guard lock(mutex_);
    for (const auto& [hash, principal] : by_hash_)
        if (principal->expires_ms != 0 && principal->expires_ms <= now_ms &&
            expired_.insert(principal->token_id).second)
            out.push_back(principal->token_id);
    return out;
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

std::int64_t FailureGuard::locked_for(std::string_view address, std::int64_t now_ms) {
    std::lock_guard lock(mutex_);
    auto it = by_address_.find(std::string(address));
    if (it == by_address_.end() || it->second.locked_until_ms <= now_ms) return 0;
    return it->second.locked_until_ms - now_ms;
}

void FailureGuard::failed(std::string_view address, std::string_view where, std::int64_t now_ms) {
    metrics::registry().auth_failures.with({std::string(where)}).inc();
    std::lock_guard lock(mutex_);
    if (by_address_.size() >= kMaxAddresses) {
        // Forget the addresses that are quiet now; if all are busy, start over rather than grow.
        std::erase_if(by_address_, [&](const auto& item) {
            return item.second.locked_until_ms <= now_ms && now_ms - item.second.window_start_ms > 1000;
        });
        if (by_address_.size() >= kMaxAddresses) by_address_.clear();
    }
    Entry& entry = by_address_[std::string(address)];
    if (now_ms - entry.window_start_ms >= 1000) {
        entry.window_start_ms = now_ms;
        entry.failures = 0;
    }
    ++entry.failures;
    const bool locking = entry.failures > limit_ && entry.locked_until_ms <= now_ms;
    if (locking) entry.locked_until_ms = now_ms + lockout_ms_;
    if (locking || now_ms - entry.logged_ms >= 1000) {
        entry.logged_ms = now_ms;
        spdlog::warn("authentication failed remote={} on={} failures_this_second={}{}", address, where,
                     entry.failures, locking ? fmt::format(" locked_out_ms={}", lockout_ms_) : "");
    }
}

}  // namespace sb::api
