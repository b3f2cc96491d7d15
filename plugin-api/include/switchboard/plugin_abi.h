/*
 * Switchboard channel-plugin ABI, version 1.
 *
 * Pure C. This header is the only thing a plugin and the host share: no C++ types, no
 * exceptions and no allocator cross it, so a plugin built with another compiler or standard
 * library (or in another language) keeps loading.
 *
 * The model is sans-I/O: a plugin never opens a socket or starts a thread. It translates.
 * The host moves the bytes and calls the plugin to
 *   - verify an incoming webhook request        (sb_plugin_v1::verify),
 *   - parse a stored webhook into normalized events (sb_plugin_v1::parse),
 *   - build the HTTP request for an outbound message (sb_plugin_v1::build_send),
 *   - classify the platform's answer to it       (sb_plugin_v1::classify_send),
 *   - optionally build and read long-poll requests (poll_request / poll_response),
 *   - optionally (minor 3) build the requests that fetch an inbound file (fetch_media).
 *
 * Ownership, everywhere:
 *   - Every pointer the host passes in (sb_str, request/response views, config) is borrowed
 *     for the duration of the call only. Copy what you need to keep.
 *   - Every pointer the plugin passes to a host service is borrowed for the duration of that
 *     service call only: the host copies. Nothing allocated on one side is freed on the other.
 *   - Caller-owned fixed buffers (sb_error, sb_send_result) are always NUL-terminated by the
 *     writer; truncate, never overflow.
 *
 * Versioning: the ABI major is part of the entry symbol's name (sb_plugin_entry_v1). Minor
 * versions only append members at the end of a struct; every struct starts with its `size`,
 * and a reader checks `size` (SB_HAS_MEMBER) before touching a member a newer minor added.
 * share/doc/switchboard/ABI.md (under the SDK's prefix) says which minor added which member.
 */
#ifndef SWITCHBOARD_PLUGIN_ABI_H
#define SWITCHBOARD_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#define SB_ABI_MAJOR 1
#define SB_ABI_MINOR 3
/* 'SBPL' in ASCII: the first member of every plugin descriptor. */
#define SB_PLUGIN_MAGIC 0x5342504Cu

/* True when a struct read through pointer `p` of type `type` is large enough to hold `member`
 * (the writer was built against a minor that had it). */
#define SB_HAS_MEMBER(p, type, member) \
    ((p) != NULL && (p)->size >= offsetof(type, member) + sizeof(((type*)0)->member))

#if defined(_WIN32)
#define SB_EXPORT __declspec(dllexport)
#else
#define SB_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A UTF-8 byte range, not NUL-terminated, borrowed. {NULL, 0} is the empty string. */
typedef struct sb_str {
    const char* ptr;
    size_t len;
} sb_str;

typedef struct sb_header {
    sb_str name; /* as received; compare case-insensitively */
    sb_str value;
} sb_header;

/* Opaque handles. The host never dereferences sb_instance; the plugin never dereferences
 * sb_host_ctx or sb_call. */
typedef struct sb_instance sb_instance; /* plugin-owned, one per configured channel */
typedef struct sb_host_ctx sb_host_ctx; /* host-owned, one per instance, valid until close */
typedef struct sb_call sb_call;         /* host-owned, valid for one plugin call only */

/* Return codes of plugin functions. */
typedef enum sb_status {
    SB_OK = 0,
    SB_E_INVALID = -1,     /* input cannot be understood (bad config, malformed payload) */
    SB_E_UNSUPPORTED = -2, /* the plugin does not do this (content type, capability) */
    SB_E_INTERNAL = -3     /* a bug or resource failure inside the plugin */
} sb_status;

/* Caller-owned error detail, filled by the plugin when it returns an error. */
typedef struct sb_error {
    uint32_t size;
    char message[256]; /* NUL-terminated, human-readable, never contains a secret */
} sb_error;

typedef enum sb_log_level {
    SB_LOG_DEBUG = 0,
    SB_LOG_INFO = 1,
    SB_LOG_WARN = 2,
    SB_LOG_ERROR = 3
} sb_log_level;

/* An HTTP request. As input (verify, parse) it is the webhook request as received: `method`,
 * `target` (path and query, e.g. "/webhooks/tg?x=1"), headers and the raw body.
 * As output (build_send, poll_request) it describes the request the host should send:
 * `target` is then an absolute URL ("https://api.telegram.org/bot<token>/sendMessage"). */
typedef struct sb_http_request {
    uint32_t size;
    sb_str method;
    sb_str target;
    const sb_header* headers;
    size_t header_count;
    sb_str body;
    uint32_t timeout_ms; /* output only: 0 = host default */
} sb_http_request;

/* The platform's answer to a request built by the plugin. `status` is 0 when no HTTP
 * response arrived (connect failure, timeout); `transport_error` then says why. */
typedef struct sb_http_response {
    uint32_t size;
    int32_t status;
    const sb_header* headers;
    size_t header_count;
    sb_str body;
    sb_str transport_error;
} sb_http_response;

/* Verdict of verify(). */
typedef enum sb_verdict {
    SB_VERIFY_ACCEPT = 0,       /* authentic: the host stores the raw request and answers 200 */
    SB_VERIFY_UNAUTHORIZED = 1, /* missing or wrong credentials: 401, nothing stored */
    SB_VERIFY_FORBIDDEN = 2,    /* credentials present but refused: 403, nothing stored */
    SB_VERIFY_BAD_REQUEST = 3,  /* not a request this channel understands: 400, nothing stored */
    SB_VERIFY_RESPONDED = 4     /* the plugin answered itself through host->respond (e.g. a
                                   subscription handshake); nothing stored */
} sb_verdict;

/* Class of a send result (classify_send). */
typedef enum sb_send_class {
    SB_SEND_OK = 0,            /* accepted; platform_id holds the platform's message id */
    SB_SEND_RETRYABLE = 1,     /* transient (5xx, timeout): the same request may be retried */
    SB_SEND_RATE_LIMITED = 2,  /* throttled; retry_after_ms when the platform said */
    SB_SEND_PERMANENT = 3,     /* will never succeed as is (blocked, bad recipient, invalid) */
    SB_SEND_AUTH = 4,          /* the channel's credentials are invalid or expired */
    SB_SEND_WINDOW_CLOSED = 5, /* outside the platform's customer-service window */
    SB_SEND_CONTINUE = 6       /* step of a multi-step send: the plugin submitted the next
                                  request through host->submit_request; the host sends it
                                  and calls classify_send again with its response */
} sb_send_class;

/* Caller-owned result of classify_send. */
typedef struct sb_send_result {
    uint32_t size;
    int32_t send_class;      /* sb_send_class */
    uint32_t retry_after_ms; /* SB_SEND_RATE_LIMITED / RETRYABLE: 0 = not given */
    char platform_id[128];   /* SB_SEND_OK: the platform's id of the sent message */
    char platform_code[64];  /* errors: the platform's own error code, as text */
    char message[256];       /* errors: the platform's description */
} sb_send_result;

/* Services the host offers. Every function is thread-safe and never calls back into the
 * plugin. Passed to open(); valid until close() returns. */
typedef struct sb_host_services {
    uint32_t size;
    uint16_t abi_major;
    uint16_t abi_minor;

    /* Log one line for this instance. The host adds the channel id. Never log secrets. */
    void (*log)(sb_host_ctx* ctx, sb_log_level level, sb_str message);

    /* HMAC-SHA256(key, data) into out[32]. */
    void (*hmac_sha256)(sb_str key, sb_str data, uint8_t out[32]);

    /* 1 when a and b are equal, 0 otherwise, in time independent of where they differ. */
    int (*constant_time_equal)(sb_str a, sb_str b);

    /* Milliseconds since the Unix epoch (the host may inject a clock in tests). */
    int64_t (*now_ms)(void);

    /* parse(): emit one normalized event (a UTF-8 JSON object, share/doc/switchboard/
     * normalized-events.md).
     * poll_response(): hand over one raw update to be queued exactly like a webhook body.
     * Returns 0, or -1 when the call does not take events. */
    int (*emit_event)(sb_call* call, sb_str json);

    /* build_send(), poll_request(), classify_send() with SB_SEND_CONTINUE: the request the
     * host should send. Returns 0, or -1 when the call does not take a request.
     * parse() (host minor >= 1): a follow-up request, any number per call, that the host sends
     * in order once the parsed events are stored (e.g. acknowledging a button press); its
     * response is logged, never given to the plugin, and a row processed twice may send it
     * twice. A minor-0 host returns -1: treat follow-ups as best effort. */
    int (*submit_request)(sb_call* call, const sb_http_request* request);

    /* verify() returning SB_VERIFY_RESPONDED: the response to send. Returns 0 or -1. */
    int (*respond)(sb_call* call, int32_t status, sb_str content_type, sb_str body);

    /* --- minor 2 --- (check SB_HAS_MEMBER(host, sb_host_services, refuse_reason) first) */

    /* verify() returning UNAUTHORIZED, FORBIDDEN or BAD_REQUEST: why, in one line for the
     * operator's log ("X-Hub-Signature-256 does not match the body"). Never a secret, never
     * the expected value; the host copies it, logs it with the verdict and does not send it to
     * the caller. The last call wins. Returns 0, or -1 when the call is not a verify(). */
    int (*refuse_reason)(sb_call* call, sb_str reason);
} sb_host_services;

/* Capability bits (sb_plugin_v1::capabilities). */
#define SB_CAP_THREAD_SAFE                                                                  \
    ((uint64_t)1 << 0)                       /* calls on one instance may run concurrently; \
                                                without it the host serializes them */
#define SB_CAP_LONG_POLL ((uint64_t)1 << 1)  /* poll_request/poll_response implemented */
#define SB_CAP_MEDIA_OUT ((uint64_t)1 << 2)  /* build_send takes media content by URL */
#define SB_CAP_TYPING_OUT ((uint64_t)1 << 3) /* build_send takes {"type":"typing"} */
#define SB_CAP_MARK_READ ((uint64_t)1 << 4)  /* build_send takes {"type":"mark_read"} */
#define SB_CAP_TYPING_IN ((uint64_t)1 << 5)  /* parse may emit typing events */
#define SB_CAP_MEDIA_IN ((uint64_t)1 << 6)   /* minor 3: fetch_media implemented */

/* What fetch_media() decided (minor 3). */
typedef enum sb_media_action {
    SB_MEDIA_REQUEST = 0,  /* a metadata request was submitted (host->submit_request): the host
                              sends it and calls fetch_media again with its response */
    SB_MEDIA_DOWNLOAD = 1, /* the submitted request's response body is the file: the host
                              streams it to storage, checks max_bytes and sha256 */
    SB_MEDIA_FAILED = 2,   /* never: `reason` (too_large, not_found, expired, ...) and `message` */
    SB_MEDIA_RETRY = 3,    /* transient: the host tries the whole chain again later */
    SB_MEDIA_SKIP = 4      /* nothing to fetch or keep (e.g. an Instagram story mention, whose
                              media must not be stored): the link stays in the content only */
} sb_media_action;

/* Caller-owned result of one fetch_media() step (minor 3). The host zeroes it and sets `size`
 * before each call; the plugin fills what it knows. Every string is NUL-terminated. */
typedef struct sb_media_step {
    uint32_t size;
    int32_t action;         /* sb_media_action */
    int64_t max_bytes;      /* DOWNLOAD: the platform's limit for this file (0 = host default) */
    int64_t expected_size;  /* DOWNLOAD: the size the platform announced, or -1 */
    char state[256];        /* REQUEST / DOWNLOAD: handed back as "state" in the next call's
                               media_json, so the plugin knows which response it reads */
    char reason[64];        /* FAILED / RETRY: a short code ("too_large", "not_found", ...) */
    char message[256];      /* FAILED / RETRY: for agents and logs; never a secret */
    char mime_type[128];    /* what the platform says the file is ("" = unknown) */
    char file_name[256];    /* the platform's file name ("" = none) */
    char sha256[65];        /* lower-case hex digest the platform gives for the bytes ("" = none) */
} sb_media_step;

/* The plugin descriptor: `static const`, returned by the entry point, valid while the
 * library is loaded. Members marked mandatory must be non-NULL. */
typedef struct sb_plugin_v1 {
    uint32_t magic;          /* SB_PLUGIN_MAGIC */
    uint32_t size;           /* sizeof(sb_plugin_v1) as the plugin was built */
    uint16_t abi_major;      /* SB_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor;      /* SB_ABI_MINOR the plugin was built against */
    uint16_t min_host_minor; /* oldest host minor this plugin works with */
    uint16_t reserved;
    const char* id;            /* [a-z0-9_-]{1,32}: the name channels use in `plugin:` */
    const char* version;       /* the plugin's own semantic version */
    const char* description;   /* one line */
    const char* config_schema; /* JSON Schema of the channel `settings` object; properties
                                  with "x-secret": true are redacted by the host */
    uint64_t capabilities;     /* SB_CAP_* */

    /* Mandatory. Create the instance for one channel from its settings (a JSON object).
     * Called from one host thread at start-up or reload. On error fill `err` and return
     * SB_E_INVALID; *out is then ignored. */
    sb_status (*open)(const sb_host_services* host, sb_host_ctx* ctx, sb_str config_json, sb_instance** out,
                      sb_error* err);

    /* Mandatory. Destroy the instance. No call on it is in flight or follows. */
    void (*close)(sb_instance* instance);

    /* Mandatory. Is this incoming webhook request authentic? Pure: no side effects besides
     * host->respond for SB_VERIFY_RESPONDED. Called on a host I/O thread: must be fast. */
    sb_verdict (*verify)(sb_instance* instance, sb_call* call, const sb_http_request* request);

    /* Mandatory. Translate a stored webhook request (as verify accepted it) into zero or more
     * normalized events through host->emit_event. SB_E_INVALID = the body can never be
     * parsed: the host dead-letters it with err->message. */
    sb_status (*parse)(sb_instance* instance, sb_call* call, const sb_http_request* request, sb_error* err);

    /* Mandatory. Build the platform request for one normalized outbound request (JSON,
     * share/doc/switchboard/normalized-events.md) and hand it to host->submit_request. SB_E_UNSUPPORTED for a
     * content type the platform or plugin cannot send. */
    sb_status (*build_send)(sb_instance* instance, sb_call* call, sb_str outbound_json, sb_error* err);

    /* Mandatory. Classify the platform's response to a request from build_send (or from an
     * earlier SB_SEND_CONTINUE step of the same send) into `result`. */
    void (*classify_send)(sb_instance* instance, sb_call* call, sb_str outbound_json,
                          const sb_http_response* response, sb_send_result* result);

    /* Optional, with SB_CAP_LONG_POLL: submit the next long-poll request. */
    sb_status (*poll_request)(sb_instance* instance, sb_call* call, sb_error* err);

    /* Optional, with SB_CAP_LONG_POLL: read a long-poll response; hand each raw update to
     * host->emit_event (it is queued like a webhook body) and advance the poll position.
     * Returns SB_OK, or SB_E_INVALID for an unusable response (the host backs off). */
    sb_status (*poll_response)(sb_instance* instance, sb_call* call, const sb_http_response* response,
                               sb_error* err);

    /* Optional. The platform account this instance serves (WhatsApp phone_number_id, Page id,
     * Instagram account id), or {NULL, 0}. Platforms that send one app's webhooks for many
     * accounts to one URL put the receiving account in each event's "account_id"; the host
     * routes the event to the channel whose account() matches. The returned view stays valid
     * until close(). */
    sb_str (*account)(sb_instance* instance);

    /* --- minor 3 --- (a host checks SB_HAS_MEMBER(plugin, sb_plugin_v1, fetch_media) first) */

    /* Optional, with SB_CAP_MEDIA_IN: one step of fetching the file of an inbound message.
     * `media_json` is {"v":1,"content":{...the content object parse() emitted...},
     * "state":"<step->state of the previous step>"?}; `response` is NULL on the first call,
     * then the answer to the request the previous step submitted (for a DOWNLOAD step only
     * when it was not a 2xx; its body is then at most 64 KiB). Transport errors, 429 and 5xx
     * never reach the plugin: the host retries them itself with backoff. Submit the next
     * request with host->submit_request and fill `step`. */
    sb_status (*fetch_media)(sb_instance* instance, sb_call* call, sb_str media_json,
                             const sb_http_response* response, sb_media_step* step, sb_error* err);
} sb_plugin_v1;

/* The entry point every plugin exports (and nothing else). Side-effect free; returns the
 * same static descriptor on every call. */
typedef const sb_plugin_v1* (*sb_plugin_entry_v1_fn)(void);
#define SB_PLUGIN_ENTRY_V1_SYMBOL "sb_plugin_entry_v1"

#ifdef __cplusplus
}
#endif

#endif /* SWITCHBOARD_PLUGIN_ABI_H */
