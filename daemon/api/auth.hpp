#pragma once
// Who is calling. Agents present a bearer token; the table of active tokens (hashes only)
// lives in memory so authentication never touches the store on an I/O thread. It is loaded at
// start, updated by the API when tokens change, and refreshed periodically (another instance
// sharing the database may have revoked one). auth.bootstrap_admin_token is the way in before
// any agent exists.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "identity/principal.hpp"
#include "store/store.hpp"

namespace sb::api {

using identity::can_see;
using identity::Principal;

class Authenticator {
public:
    // `bootstrap_admin_name`: how the bootstrap admin appears to colleagues (auth.bootstrap_admin_name).
    explicit Authenticator(std::string bootstrap_admin_token,
                           std::string bootstrap_admin_name = "Bootstrap admin");

    // The principal a bearer token stands for, or nullptr (also once the token expired). Never
    // blocks.
    std::shared_ptr<const Principal> authenticate(std::string_view token) const;
    // The ids of tokens that expired by `now_ms` and were not returned before: their open
    // sockets are to be closed.
    std::vector<std::string> newly_expired(std::int64_t now_ms);

    // The token of an "Authorization: Bearer <token>" header value.
    static std::optional<std::string_view> bearer(std::optional<std::string_view> authorization);

    // A reload may change the bootstrap token; sessions already open keep their principal.
    void set_bootstrap_token(std::string token);
    // The bootstrap admin as a colleague (the directory, mentions), while a bootstrap token is set.
    std::optional<store::Agent> bootstrap_agent() const;
    // Replaces the token table (from Store::active_tokens()).
    void load(const std::vector<store::TokenGrant>& grants);
    void grant(const store::TokenGrant& grant);

private:
    mutable std::mutex mutex_;
    std::string bootstrap_token_;
    std::shared_ptr<const Principal> bootstrap_admin_;
    std::unordered_map<std::string, std::shared_ptr<const Principal>> by_hash_;
    std::unordered_set<std::string> expired_;  // token ids newly_expired() returned
};

// Token guessing: failed authentications per source address. Each is counted in a metric and
// logged (at most once a second per address, with the address); an address that fails more
// than `limit` times within one second is refused (429) for `lockout_ms`, also with a right
// token, so a guesser learns nothing while locked out. Thread-safe; bounded memory.
class FailureGuard {
public:
    FailureGuard(int limit, int lockout_ms) : limit_(limit), lockout_ms_(lockout_ms) {}

    // Milliseconds `address` stays locked out, 0 when it may try.
    std::int64_t locked_for(std::string_view address, std::int64_t now_ms);
    // After a failed authentication from `address` on `where` ("api", "websocket").
    void failed(std::string_view address, std::string_view where, std::int64_t now_ms);

private:
    struct Entry {
        std::int64_t window_start_ms = 0;
        int failures = 0;
        std::int64_t locked_until_ms = 0;
        std::int64_t logged_ms = 0;
    };
    static constexpr std::size_t kMaxAddresses = 10'000;

    const int limit_;
    const int lockout_ms_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> by_address_;
};

}  // namespace sb::api
