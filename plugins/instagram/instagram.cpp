// Instagram messaging channel plugin (platforms.md §1, §4): an Instagram professional account's
// direct messages, through either flavour of the API (Messenger API for Instagram with a Page
// token on graph.facebook.com, or Instagram API with Instagram Login on graph.instagram.com).
// The translation is shared with the Messenger plugin (messaging_common.hpp).

#include <switchboard/plugin.hpp>

#include "messaging_common.hpp"

namespace sb::instagram {
namespace {

constexpr char kConfigSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Instagram channel settings",
  "type": "object",
  "additionalProperties": false,
  "x-webhook-signature": {"header": "X-Hub-Signature-256", "scheme": "hmac-sha256-hex", "prefix": "sha256=",
                          "secret_setting": "app_secret"},
  "required": ["ig_account_id", "access_token", "app_secret", "verify_token"],
  "properties": {
    "ig_account_id": {
      "type": "string", "pattern": "^[0-9]{1,32}$",
      "description": "The Instagram professional account's id (webhook entry.id): its entries are routed to this channel"
    },
    "access_token": {
      "type": "string", "minLength": 1, "x-secret": true,
      "description": "Page access token (Facebook Login) or Instagram user access token (Instagram Login), sent as Authorization: Bearer"
    },
    "app_secret": {
      "type": "string", "minLength": 1, "x-secret": true,
      "description": "The Meta app's App Secret: webhook POSTs must carry X-Hub-Signature-256 made with it"
    },
    "verify_token": {
      "type": "string", "minLength": 1, "x-secret": true,
      "description": "The Verify Token entered in the App Dashboard for the subscription handshake"
    },
    "api_base": {
      "type": "string", "pattern": "^https?://", "default": "https://graph.facebook.com/v21.0",
      "description": "Graph API base URL with version: https://graph.facebook.com/vXX.X (Facebook Login) or https://graph.instagram.com/vXX.X (Instagram Login)"
    }
  }
})json";

// Sends go to /me/messages: the one path both flavours document working with their token (the
// Page for a Page token, the account for an Instagram token; §4.1, §4.4). /{id}/messages would
// need the Page id with Facebook Login but the account id with Instagram Login.
constexpr messaging::Product kInstagram = {
    "Instagram",
    "instagram",
    "ig_account_id",
    "Instagram account id",
    "access_token",
    messaging::SendPath::kMe,
    false,              // the documented body has no messaging_type (§4.4)
    1000,               // text limit (§4.4)
    8LL * 1024 * 1024,  // images 8 MB; video, audio and files 25 MB (§4.4)
    // Meta's attachment upload guide: "Media file names containing non-ASCII characters (such as
    // Chinese characters) are not supported for attachment uploads."
    true,
};

class Instagram final : public messaging::Channel {
public:
    Instagram(const switchboard::Host& host, std::string_view settings_json)
        : Channel(kInstagram, host, settings_json) {}
};

}  // namespace
}  // namespace sb::instagram

SWITCHBOARD_PLUGIN(sb::instagram::Instagram, "instagram", "0.1.0",
                   "Instagram messaging: account webhooks, text and media by URL, typing and mark-seen",
                   sb::instagram::kConfigSchema,
                   SB_CAP_THREAD_SAFE | SB_CAP_MEDIA_OUT | SB_CAP_TYPING_OUT | SB_CAP_MARK_READ |
                       SB_CAP_MEDIA_IN)
