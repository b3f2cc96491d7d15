// Facebook Messenger channel plugin (platforms.md §1, §3): a Page's conversations through the
// Messenger Platform webhooks and the Send API. The translation is shared with the Instagram
// plugin (messaging_common.hpp); this file says what is Messenger's own.

#include <switchboard/plugin.hpp>

#include "messaging_common.hpp"

namespace sb::messenger {
namespace {

constexpr char kConfigSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Messenger channel settings",
  "type": "object",
  "additionalProperties": false,
  "x-webhook-signature": {"header": "X-Hub-Signature-256", "scheme": "hmac-sha256-hex", "prefix": "sha256=",
                          "secret_setting": "app_secret"},
  "required": ["page_id", "page_access_token", "app_secret", "verify_token"],
  "properties": {
    "page_id": {
      "type": "string", "pattern": "^[0-9]{1,32}$",
      "description": "The Facebook Page's id: webhook entries for it are routed to this channel"
    },
    "page_access_token": {
      "type": "string", "minLength": 1, "x-secret": true,
      "description": "Page access token with pages_messaging, sent as Authorization: Bearer"
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
      "description": "Graph API base URL with version (a test fake, or another version)"
    }
  }
})json";

// Sends go to /{PAGE_ID}/messages, the documented form (§3.4); /me/messages would send as
// whichever Page the token belongs to, so a token for another Page would go unnoticed.
constexpr messaging::Product kMessenger = {
    "Messenger", "page", "page_id", "Page id", "page_access_token", messaging::SendPath::kAccount,
    true,  // messaging_type RESPONSE: replies inside the standard 24 h window (§3.5)
    2000,  // text limit (§3.4)
};

class Messenger final : public messaging::Channel {
public:
    Messenger(const switchboard::Host& host, std::string_view settings_json)
        : Channel(kMessenger, host, settings_json) {}
};

}  // namespace
}  // namespace sb::messenger

SWITCHBOARD_PLUGIN(sb::messenger::Messenger, "messenger", "0.1.0",
                   "Facebook Messenger: Page webhooks, text and media by URL, typing and mark-seen",
                   sb::messenger::kConfigSchema,
                   SB_CAP_THREAD_SAFE | SB_CAP_MEDIA_OUT | SB_CAP_TYPING_OUT | SB_CAP_MARK_READ |
                       SB_CAP_MEDIA_IN)
