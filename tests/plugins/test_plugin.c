/* A minimal channel plugin in plain C, compiled once per VARIANT_* to produce the loader's
 * negative fixtures. VARIANT_GOOD is a correct plugin: verify accepts a request carrying the
 * header "X-Test: ok", parse emits the body as one text message. */
#include <stdio.h>
#include <string.h>

#include <switchboard/plugin_abi.h>

struct sb_instance {
    const sb_host_services *host;
    sb_host_ctx *ctx;
};
__attribute__((unused)) static struct sb_instance g_instance;

static sb_status test_open(const sb_host_services *host, sb_host_ctx *ctx, sb_str config, sb_instance **out,
                           sb_error *err) {
    (void)config;
#if defined(VARIANT_OPEN_FAILS)
    snprintf(err->message, sizeof err->message, "settings.api_key is required");
    (void)host;
    (void)ctx;
    (void)out;
    return SB_E_INVALID;
#else
    (void)err;
    g_instance.host = host;
    g_instance.ctx = ctx;
    *out = &g_instance;
    return SB_OK;
#endif
}

static void test_close(sb_instance *instance) { (void)instance; }

static sb_verdict test_verify(sb_instance *instance, sb_call *call, const sb_http_request *request) {
    (void)instance;
    (void)call;
    for (size_t i = 0; i < request->header_count; ++i) {
        const sb_header *h = &request->headers[i];
        if (h->name.len == 6 && strncmp(h->name.ptr, "X-Test", 6) == 0)
            return (h->value.len == 2 && strncmp(h->value.ptr, "ok", 2) == 0) ? SB_VERIFY_ACCEPT
                                                                               : SB_VERIFY_FORBIDDEN;
    }
    return SB_VERIFY_UNAUTHORIZED;
}

__attribute__((unused)) static sb_status test_parse(sb_instance *instance, sb_call *call, const sb_http_request *request, sb_error *err) {
    char json[512];
    if (request->body.len == 0 || request->body.len > 200 || memchr(request->body.ptr, '"', request->body.len)) {
        snprintf(err->message, sizeof err->message, "body must be 1..200 characters without quotes");
        return SB_E_INVALID;
    }
    int n = snprintf(json, sizeof json,
                     "{\"v\":1,\"type\":\"message\",\"id\":\"m-%.*s\",\"conversation\":{\"id\":\"c1\"},"
                     "\"sender\":{\"id\":\"u1\",\"name\":\"Test User\"},\"timestamp_ms\":1700000000000,"
                     "\"content\":{\"type\":\"text\",\"text\":\"%.*s\"}}",
                     (int)request->body.len, request->body.ptr, (int)request->body.len, request->body.ptr);
    sb_str event = {json, (size_t)n};
    instance->host->emit_event(call, event);
    return SB_OK;
}

static sb_status test_build_send(sb_instance *instance, sb_call *call, sb_str outbound, sb_error *err) {
    (void)err;
    sb_http_request request;
    memset(&request, 0, sizeof request);
    request.size = sizeof request;
    request.method.ptr = "POST";
    request.method.len = 4;
    request.target.ptr = "http://127.0.0.1:9/send";
    request.target.len = strlen(request.target.ptr);
    request.body = outbound;
    return instance->host->submit_request(call, &request) == 0 ? SB_OK : SB_E_INTERNAL;
}

static void test_classify(sb_instance *instance, sb_call *call, sb_str outbound, const sb_http_response *response,
                          sb_send_result *result) {
    (void)instance;
    (void)call;
    (void)outbound;
    result->send_class = response->status == 200 ? SB_SEND_OK : SB_SEND_PERMANENT;
    snprintf(result->platform_id, sizeof result->platform_id, "sent-1");
}

static sb_str test_account(sb_instance *instance) {
    (void)instance;
    sb_str account = {"acct-1", 6};
    return account;
}

static const sb_plugin_v1 kDescriptor = {
#if defined(VARIANT_BAD_MAGIC)
    0xDEADBEEFu,
#else
    SB_PLUGIN_MAGIC,
#endif
#if defined(VARIANT_SMALL_DESCRIPTOR)
    16,
#elif defined(VARIANT_MINOR2)
    offsetof(sb_plugin_v1, fetch_media), /* built against ABI 1.2: no fetch_media member */
#else
    sizeof(sb_plugin_v1),
#endif
#if defined(VARIANT_WRONG_MAJOR)
    2,
#else
    SB_ABI_MAJOR,
#endif
#if defined(VARIANT_MINOR2)
    2,
#else
    SB_ABI_MINOR,
#endif
#if defined(VARIANT_NEWER_MINOR)
    SB_ABI_MINOR + 1,
#else
    0,
#endif
    0,
    PLUGIN_ID,
    "1.0.0",
    "test plugin (" PLUGIN_ID ")",
    "{\"type\":\"object\"}",
#if defined(VARIANT_BAD_LONG_POLL)
    SB_CAP_LONG_POLL, /* claims long polling without the functions */
#else
    0,
#endif
    test_open,
    test_close,
    test_verify,
#if defined(VARIANT_MISSING_PARSE)
    NULL,
#else
    test_parse,
#endif
    test_build_send,
    test_classify,
    NULL,
    NULL,
    test_account,
    NULL, /* fetch_media (ABI 1.3): this plugin fetches no media */
};

#if defined(VARIANT_NO_ENTRY)
SB_EXPORT const sb_plugin_v1 *plugin_entry(void) { return &kDescriptor; }
#elif defined(VARIANT_ABI_V2)
SB_EXPORT const sb_plugin_v1 *sb_plugin_entry_v2(void) { return &kDescriptor; }
#else
SB_EXPORT const sb_plugin_v1 *sb_plugin_entry_v1(void) { return &kDescriptor; }
#endif
