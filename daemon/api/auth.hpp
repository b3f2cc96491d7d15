#pragma once
// Who is calling. Today one principal exists, the bootstrap admin of auth.bootstrap_admin_token;
// agents with their own tokens and roles extend authenticate() without changing its callers.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace sb::api {

struct Principal {
    std::string agent_id;
    std::string name;
    std::string role;  // admin | agent
    bool admin() const { return role == "admin"; }
};

class Authenticator {
public:
    explicit Authenticator(std::string bootstrap_admin_token);

    // The principal a bearer token stands for, or nullptr. Constant-time in the token.
    std::shared_ptr<const Principal> authenticate(std::string_view token) const;

    // The token of an "Authorization: Bearer <token>" header value.
    static std::optional<std::string_view> bearer(std::optional<std::string_view> authorization);

    // A reload may change the bootstrap token; sessions already open keep their principal.
    void set_bootstrap_token(std::string token);

private:
    mutable std::mutex mutex_;
    std::string bootstrap_token_;
    std::shared_ptr<const Principal> bootstrap_admin_;
};

}  // namespace sb::api
