#pragma once
// The Messenger Platform's messaging model, shared by the Messenger and Instagram plugins: both
// products deliver `entry[].messaging[]` webhooks of the same shape and take the same Send API
// body (platforms.md §3, §4). A plugin describes its product in a Product and derives its
// instance type from Channel; everything else is common.
//
// Built once as the static library sb_meta_messaging and linked into messenger.so and
// instagram.so (never into the daemon).

#include <switchboard/plugin.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "settings.hpp"

namespace sb::messaging {

// The conversation key of a customer known only by a `user_ref` (the website chat plugin):
// "user_ref:<ref>". The Send API addresses them as recipient.user_ref (platforms.md §3.4).
inline constexpr std::string_view kUserRefPrefix = "user_ref:";

// Where build_send posts: {api_base}/{account_id}/messages or {api_base}/me/messages.
enum class SendPath { kAccount, kMe };

// What differs between the products that share this code.
struct Product {
    std::string_view name;          // "Messenger", for messages
    std::string_view object;        // the webhook body's "object" ("page", "instagram")
    std::string_view account_key;   // settings key of the account id ("page_id")
    std::string_view account_noun;  // "Page id", for messages
    std::string_view token_key;     // settings key of the access token ("page_access_token")
    SendPath send_path = SendPath::kAccount;
    bool send_messaging_type = true;  // write "messaging_type":"RESPONSE" into message sends
    std::size_t max_text_chars = 0;   // longest text message, in Unicode characters
    std::int64_t max_image_bytes = 25LL * 1024 * 1024;  // an uploaded image (other files: 25 MB)
    bool ascii_file_names = false;  // an upload's filedata name must be ASCII (Instagram, §4.4)
};

// One channel of `product`, on the SDK's Instance: immutable after construction, so calls may
// run concurrently (SB_CAP_THREAD_SAFE). A plugin's instance type is a Channel whose
// constructor has the SDK's (Host, settings) shape and names its Product, a static constant.
class Channel : public switchboard::Instance {
public:
    Channel(const Product& product, const switchboard::Host& host, std::string_view settings_json);

    sb_verdict verify(const switchboard::Request& request, switchboard::Call& call) override;
    void parse(const switchboard::Request& request, switchboard::Call& call) override;
    void build_send(std::string_view outbound_json, switchboard::Call& call) override;
    switchboard::SendResult classify_send(std::string_view outbound_json,
                                          const switchboard::Response& response,
                                          switchboard::Call& call) override;
    switchboard::SendResult unclassified(std::string_view why) const override;
    std::string_view account() const noexcept override { return settings_.account_id; }
    // Inbound attachments are signed, expiring CDN links (payload.url) fetched without
    // credentials, at once; a refused link is expired for good.
    switchboard::MediaStep fetch_media(std::string_view media_json, const switchboard::Response* previous,
                                       switchboard::Call& call) override;

private:
    const Product& product_;
    const Settings settings_;
    const std::string authorization_;  // "Bearer <access_token>"
};

}  // namespace sb::messaging
