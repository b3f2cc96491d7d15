#pragma once
// Inbound media (ABI 1.3 fetch_media): GET {api_base}/{MEDIA_ID}?phone_number_id= with the
// Bearer token → {"url","mime_type","sha256","file_size"} → GET url with the same Bearer token.
// The URL is valid about five minutes: a download refused as expired re-queries the id once.

#include <switchboard/plugin.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "config.hpp"

namespace sb::whatsapp {

// The largest file the Cloud API carries (documents, 100 MB).
constexpr std::int64_t kMaxMediaBytes = 100LL * 1024 * 1024;

switchboard::MediaStep media_step(const Settings& settings, std::string_view media_json,
                                  const switchboard::Response* previous,
                                  std::optional<switchboard::OutgoingRequest>& next);

// The lower-case hex form of a SHA-256 given as hex or as base64 (WhatsApp webhooks use both
// forms); "" when it is neither.
std::string sha256_hex(std::string_view digest);

}  // namespace sb::whatsapp
