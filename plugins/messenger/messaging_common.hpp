#pragma once
// The Messenger Platform's messaging model, shared by the Messenger and Instagram plugins: both
// products deliver `entry[].messaging[]` webhooks of the same shape and take the same Send API
// body (platforms.md §3, §4). A plugin describes its product in a Product and puts the
// functions below into its sb_plugin_v1 descriptor; everything else is common.
//
// Built once as the static library sb_meta_messaging and linked into messenger.so and
// instagram.so (never into the daemon).

#include <switchboard/plugin_abi.h>

#include <cstddef>
#include <string_view>

namespace sb::messaging {

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
};

// The descriptor functions. open_instance() takes the product; the instance keeps a pointer to
// it, so `product` must outlive every instance (a static constant of the plugin).
sb_status open_instance(const Product& product, const sb_host_services* host, sb_host_ctx* ctx,
                        sb_str config_json, sb_instance** out, sb_error* err);
void close_instance(sb_instance* instance);
sb_verdict verify(sb_instance* instance, sb_call* call, const sb_http_request* request);
sb_status parse(sb_instance* instance, sb_call* call, const sb_http_request* request, sb_error* err);
sb_status build_send(sb_instance* instance, sb_call* call, sb_str outbound_json, sb_error* err);
void classify_send(sb_instance* instance, sb_call* call, sb_str outbound_json,
                   const sb_http_response* response, sb_send_result* result);
sb_str account(sb_instance* instance);

}  // namespace sb::messaging
