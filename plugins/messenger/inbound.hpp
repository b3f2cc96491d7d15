#pragma once
// Inbound translation: one Messenger or Instagram webhook body (`entry[].messaging[]`,
// platforms.md §3.2-3.3, §4.2-4.3) into normalized events (docs/normalized-events.md).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "messaging_common.hpp"

namespace sb::messaging {

// Normalized events for every item of every entry in `body`, in order; each carries
// "account_id" = its entry's id (the Page / Instagram account that received it).
//  - message → one `message` event per piece: the text (or quick reply, as `interactive`) with
//    id = mid, then each attachment with id = mid, or "<mid>#<n>" when an earlier piece took
//    the mid. Echoes (is_echo) have "direction":"out" and the customer (recipient) as
//    conversation. A message with nothing translatable is `unsupported` with the item as raw.
//    is_deleted (an unsent message) → an `edit` of that mid to unsupported "deleted".
//  - postback → `message` with `interactive` content; reaction → `reaction`;
//  - read.mid / delivery.mids[] → one `status` (read / delivered) per message id. Receipts that
//    carry only a watermark name no message and yield nothing (the host updates statuses by
//    platform message id).
//  - message_edit {mid, text} → `edit`; any other item, and entry.changes[], → `message`
//    with `unsupported` content and the item as raw, never dropped.
// Throws switchboard::InvalidInput when the body is not a webhook of `product` or a translated
// object lacks a required field. `now_ms` stamps items that carry no time.
std::vector<std::string> normalize_webhook(const Product& product, std::string_view body,
                                           std::int64_t now_ms);

}  // namespace sb::messaging
