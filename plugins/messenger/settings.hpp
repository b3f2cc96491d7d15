#pragma once
// A Messenger or Instagram channel's `settings` object: parsing and validation.

#include <string>
#include <string_view>

namespace sb::messaging {

struct Product;  // messaging_common.hpp

struct Settings {
    std::string account_id;    // Page id / Instagram account id: digits only (it goes into URLs)
    std::string access_token;  // secret: only ever put into the Authorization header
    std::string app_secret;    // secret: HMAC key of X-Hub-Signature-256
    std::string verify_token;  // secret: the subscription handshake's hub.verify_token
    std::string api_base = "https://graph.facebook.com/v21.0";  // no trailing slash
};

// Parses and validates the settings of `product`. Throws switchboard::InvalidInput with a message
// that names the offending key and never contains a secret value.
Settings parse_settings(const Product& product, std::string_view json);

}  // namespace sb::messaging
