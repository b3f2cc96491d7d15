#pragma once
// What a file's final state does to its message (issue 16): the message's content, which
// carries the media object, is rewritten and message_updated goes to whoever sees the
// conversation. Written once over the backends' statements.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "domain/statements.hpp"

namespace sb::domain {

// `content_json` with its "media" member set to the one of `media_from` when that is the host's
// media object (it has a "state"), else `content_json` unchanged: an edit (a new caption) keeps the
// fetched file, and a file fetched after an edit keeps the edit.
// Without `add`, content that has no "media" (an unsent message, a text) stays without.
std::string with_media_of(const std::string& content_json, const std::string& media_from, bool add = false);

// nullopt when the message is gone.
std::optional<store::Event> media_settled(Statements& statements, std::int64_t message_id,
                                          const std::string& content_json, std::int64_t now_ms);

// Retention (store::Store::expire_media): settled files created before `before_ms` go, up to
// `limit`; an inbound file's message keeps `content_for(file)` as its media object, announced as
// settle does; the digests nothing names any more are returned for the blob store.
store::ExpiredMedia expire_media(Statements& statements, std::int64_t before_ms, int limit,
                                 const std::function<std::string(const store::MediaRecord&)>& content_for,
                                 std::int64_t now_ms);

}  // namespace sb::domain
