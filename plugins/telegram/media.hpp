#pragma once
// Inbound media (ABI 1.3 fetch_media): getFile(file_id) → file_path → GET
// {api_base}/file/bot<token>/<file_path>. Bots download at most 20 MB; a larger file is failed
// as too_large before anything is asked.

#include <switchboard/plugin.hpp>

#include <optional>
#include <string_view>

#include "config.hpp"

namespace sb::telegram {

// Bot API cloud servers serve bots files up to this size (getFile answers "file is too big").
constexpr std::int64_t kMaxDownloadBytes = 20LL * 1024 * 1024;

// One step: `previous` is the answer to the request of the step named `state` in media_json.
// The next request, if any, goes into `next`.
switchboard::MediaStep media_step(const Settings& settings, std::string_view media_json,
                                  const switchboard::Response* previous,
                                  std::optional<switchboard::OutgoingRequest>& next);

}  // namespace sb::telegram
