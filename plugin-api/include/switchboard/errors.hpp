#pragma once
/// @file switchboard/errors.hpp
/// @brief The two exception types plugin code throws for input it cannot use. Included by
/// plugin.hpp (whose trampolines turn them into status codes) and by json.hpp (whose
/// parse_untrusted() throws InvalidInput). Standard library only.

#include <stdexcept>

namespace switchboard {

/// Thrown by plugin code for input that can never be used (bad settings, malformed payload,
/// invalid outbound request). The trampolines return SB_E_INVALID with what() as the message.
/// The message must name the offending field and must not contain a secret.
class InvalidInput : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Thrown for a request the plugin understands but cannot carry out (a content type the
/// platform has no way to send): SB_E_UNSUPPORTED.
class Unsupported : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace switchboard
