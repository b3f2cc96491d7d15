// The Meta helper library (plugins/meta_common), tested directly through the SDK's wrappers with a small host
// services table whose HMAC and constant-time compare come from OpenSSL, as the daemon's do.

#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "meta_common.hpp"

// The host's side of the opaque per-call handle, as this test defines it.
struct sb_call {
    bool takes_respond = true;
    std::optional<std::int32_t> status;
    std::string content_type;
    std::string body;
    std::string reason;  // host->refuse_reason (ABI 1.2)
};

namespace {

std::string copy(sb_str s) { return s.ptr == nullptr ? std::string() : std::string(s.ptr, s.len); }
sb_str view(std::string_view s) { return {s.data(), s.size()}; }

void host_hmac_sha256(sb_str key, sb_str data, uint8_t out[32]) {
    unsigned int length = 32;
    HMAC(EVP_sha256(), key.ptr, static_cast<int>(key.len), reinterpret_cast<const unsigned char*>(data.ptr),
         data.len, out, &length);
}

int host_constant_time_equal(sb_str a, sb_str b) {
    if (a.len != b.len) return 0;
    if (a.len == 0) return 1;
    return CRYPTO_memcmp(a.ptr, b.ptr, a.len) == 0 ? 1 : 0;
}

int host_respond(sb_call* call, int32_t status, sb_str content_type, sb_str body) {
    if (call == nullptr || !call->takes_respond) return -1;
    call->status = status;
    call->content_type = copy(content_type);
    call->body = copy(body);
    return 0;
}

int host_refuse_reason(sb_call* call, sb_str reason) {
    if (call == nullptr) return -1;
    call->reason = copy(reason);
    return 0;
}

const sb_host_services kHost = {
    sizeof(sb_host_services), SB_ABI_MAJOR, SB_ABI_MINOR, nullptr, host_hmac_sha256,
    host_constant_time_equal, nullptr,      nullptr,      nullptr, host_respond,
    host_refuse_reason,
};

// A host of ABI 1.1, whose table ends before refuse_reason.
sb_host_services minor_one_host() {
    sb_host_services host = kHost;
    host.size = offsetof(sb_host_services, refuse_reason);
    host.abi_minor = 1;
    host.refuse_reason = nullptr;
    return host;
}

constexpr std::string_view kAppSecret = "app-secret-0123";
constexpr std::string_view kVerifyToken = "my verify/token&1";

std::string hex(const std::uint8_t* bytes, std::size_t n, bool upper = false) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[bytes[i] >> 4];
        out += digits[bytes[i] & 15];
    }
    return out;
}

std::string signature(std::string_view body, std::string_view secret = kAppSecret, bool upper = false) {
    std::uint8_t digest[32];
    host_hmac_sha256(view(secret), view(body), digest);
    return "sha256=" + hex(digest, 32, upper);
}

struct Verified {
    sb_verdict verdict;
    sb_call call;
};

Verified verify(std::string_view method, std::string_view target, std::vector<sb_header> headers = {},
                std::string_view body = {}, std::string_view verify_token = kVerifyToken,
                std::string_view app_secret = kAppSecret, const sb_host_services* services = &kHost) {
    sb_http_request request{};
    request.size = sizeof(request);
    request.method = view(method);
    request.target = view(target);
    request.headers = headers.data();
    request.header_count = headers.size();
    request.body = view(body);
    Verified out{SB_VERIFY_BAD_REQUEST, {}};
    switchboard::Host host(services, nullptr);
    switchboard::Call call(host, &out.call);
    out.verdict =
        sb::meta::verify_webhook(host, switchboard::Request(request), call, app_secret, verify_token);
    return out;
}

Verified post(std::string_view body, const std::string& signature_value,
              std::string_view header_name = "X-Hub-Signature-256") {
    return verify("POST", "/webhooks/wa", {{view(header_name), view(signature_value)}}, body);
}

// ---------------------------------------------------------------------------------------------
// Subscription handshake

TEST(MetaHandshake, AnswersChallengeWhenVerifyTokenMatches) {
    auto v = verify("GET",
                    "/webhooks/wa?hub.mode=subscribe&hub.verify_token=my%20verify%2Ftoken%261"
                    "&hub.challenge=1158201444");
    EXPECT_EQ(v.verdict, SB_VERIFY_RESPONDED);
    ASSERT_TRUE(v.call.status.has_value());
    EXPECT_EQ(*v.call.status, 200);
    EXPECT_EQ(v.call.content_type, "text/plain");
    EXPECT_EQ(v.call.body, "1158201444");
}

TEST(MetaHandshake, ReturnsPercentDecodedChallengeVerbatim) {
    auto v = verify(
        "GET", "/w?hub.challenge=a%2Bb%3Dc%20d&hub.mode=subscribe&hub.verify_token=my+verify%2Ftoken%261");
    EXPECT_EQ(v.verdict, SB_VERIFY_RESPONDED);
    EXPECT_EQ(v.call.body, "a+b=c d");
}

TEST(MetaHandshake, ForbidsWrongVerifyToken) {
    auto v = verify("GET", "/w?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1");
    EXPECT_EQ(v.verdict, SB_VERIFY_FORBIDDEN);
    EXPECT_FALSE(v.call.status.has_value());
}

TEST(MetaHandshake, ForbidsMissingParameters) {
    for (const char* target :
         {"/w", "/w?", "/w?hub.mode=subscribe&hub.challenge=1",
          "/w?hub.mode=subscribe&hub.verify_token=my%20verify%2Ftoken%261",
          "/w?hub.verify_token=my%20verify%2Ftoken%261&hub.challenge=1",
          "/w?hub.mode=unsubscribe&hub.verify_token=my%20verify%2Ftoken%261&hub.challenge=1"}) {
        auto v = verify("GET", target);
        EXPECT_EQ(v.verdict, SB_VERIFY_FORBIDDEN) << target;
        EXPECT_FALSE(v.call.status.has_value()) << target;
    }
}

TEST(MetaHandshake, ForbidsBrokenPercentEncoding) {
    auto v =
        verify("GET", "/w?hub.mode=subscribe&hub.verify_token=my%20verify%2Ftoken%261&hub.challenge=%zz");
    EXPECT_EQ(v.verdict, SB_VERIFY_FORBIDDEN);
    v = verify("GET", "/w?hub.mode=subscribe&hub.verify_token=my%20verify%2Ftoken%261&hub.challenge=1%2");
    EXPECT_EQ(v.verdict, SB_VERIFY_FORBIDDEN);
}

TEST(MetaHandshake, ForbidsEverythingWhenNoVerifyTokenIsConfigured) {
    auto v = verify("GET", "/w?hub.mode=subscribe&hub.verify_token=&hub.challenge=1", {}, {}, "");
    EXPECT_EQ(v.verdict, SB_VERIFY_FORBIDDEN);
}

TEST(MetaHandshake, RefusesOtherMethods) {
    EXPECT_EQ(verify("PUT", "/w").verdict, SB_VERIFY_BAD_REQUEST);
    EXPECT_EQ(verify("", "/w").verdict, SB_VERIFY_BAD_REQUEST);
}

// ---------------------------------------------------------------------------------------------
// X-Hub-Signature-256

constexpr std::string_view kBody = R"({"object":"whatsapp_business_account","entry":[]})";

TEST(MetaSignature, AcceptsCorrectSignature) {
    EXPECT_EQ(post(kBody, signature(kBody)).verdict, SB_VERIFY_ACCEPT);
}

TEST(MetaSignature, SaysWhyASignatureIsRefused) {
    const std::string body = R"({"object":"whatsapp_business_account"})";
    auto wrong = post(body, signature(body, "another-secret"));
    EXPECT_EQ(wrong.verdict, SB_VERIFY_UNAUTHORIZED);
    EXPECT_EQ(wrong.call.reason, "X-Hub-Signature-256 does not match the body (check app_secret)");
    auto malformed = post(body, "sha1=abc");
    EXPECT_EQ(malformed.call.reason, "X-Hub-Signature-256 is not sha256=<64 hex digits>");
    auto missing = verify("POST", "/webhooks/wa", {}, body);
    EXPECT_EQ(missing.call.reason, "no X-Hub-Signature-256 header");
    auto good = post(body, signature(body));
    EXPECT_EQ(good.verdict, SB_VERIFY_ACCEPT);
    EXPECT_EQ(good.call.reason, "");
}

TEST(MetaSignature, RefusesAlikeOnAMinorOneHostThatTakesNoReason) {
    const sb_host_services old_host = minor_one_host();
    const std::string body = "{}";
    auto wrong = verify("POST", "/w", {{view("X-Hub-Signature-256"), view(signature(body, "x"))}}, body,
                        kVerifyToken, kAppSecret, &old_host);
    EXPECT_EQ(wrong.verdict, SB_VERIFY_UNAUTHORIZED);
    EXPECT_EQ(wrong.call.reason, "") << "a 1.1 host has no refuse_reason to call";
}

TEST(MetaSignature, AcceptsUppercaseHexAndLowercaseHeaderName) {
    EXPECT_EQ(post(kBody, signature(kBody, kAppSecret, true), "x-hub-signature-256").verdict,
              SB_VERIFY_ACCEPT);
}

TEST(MetaSignature, RejectsSignatureByAnotherSecret) {
    EXPECT_EQ(post(kBody, signature(kBody, "other-secret")).verdict, SB_VERIFY_UNAUTHORIZED);
}

TEST(MetaSignature, RejectsSignatureOfDifferentBytes) {
    // Re-serialised JSON (here: one space) is not the body Meta signed.
    std::string reserialised = R"({"object": "whatsapp_business_account","entry":[]})";
    EXPECT_EQ(post(reserialised, signature(kBody)).verdict, SB_VERIFY_UNAUTHORIZED);
}

TEST(MetaSignature, RejectsMissingHeader) {
    EXPECT_EQ(verify("POST", "/w", {}, kBody).verdict, SB_VERIFY_UNAUTHORIZED);
    // The legacy SHA-1 header alone is not enough.
    EXPECT_EQ(post(kBody, "sha1=0123456789abcdef0123456789abcdef01234567", "X-Hub-Signature").verdict,
              SB_VERIFY_UNAUTHORIZED);
}

TEST(MetaSignature, RejectsMalformedHeaders) {
    std::string good = signature(kBody);
    std::string digest = good.substr(7);
    for (const std::string& value :
         {std::string(), std::string("sha256="), digest, "sha1=" + digest, good.substr(0, good.size() - 1),
          good + "0", "sha256=" + digest.substr(0, 62) + "zz", "sha256=" + std::string(64, ' ')}) {
        EXPECT_EQ(post(kBody, value).verdict, SB_VERIFY_UNAUTHORIZED) << value;
    }
}

TEST(MetaSignature, RejectsEverythingWhenNoAppSecretIsConfigured) {
    std::vector<sb_header> headers = {{view("X-Hub-Signature-256"), view(signature(kBody, ""))}};
    std::string sig = signature(kBody, "");
    headers[0].value = view(sig);
    EXPECT_EQ(verify("POST", "/w", headers, kBody, kVerifyToken, "").verdict, SB_VERIFY_UNAUTHORIZED);
}

TEST(MetaSignature, SignsTheEmptyBody) { EXPECT_EQ(post("", signature("")).verdict, SB_VERIFY_ACCEPT); }

// ---------------------------------------------------------------------------------------------
// Graph error classification

sb_send_result classify(std::int32_t status, std::string_view body, std::vector<sb_header> headers = {},
                        std::string_view transport_error = {}) {
    sb_http_response response{};
    response.size = sizeof(response);
    response.status = status;
    response.headers = headers.data();
    response.header_count = headers.size();
    response.body = view(body);
    response.transport_error = view(transport_error);
    sb_send_result result{};
    result.size = sizeof(result);
    result.send_class = -1;
    std::memset(result.platform_id, 'X', sizeof(result.platform_id));
    std::memset(result.platform_code, 'X', sizeof(result.platform_code));
    std::memset(result.message, 'X', sizeof(result.message));
    result.retry_after_ms = 12345;
    switchboard::write_send_result(sb::meta::classify_graph_failure(switchboard::Response(response)),
                                   &result);
    EXPECT_NE(std::memchr(result.platform_id, 0, sizeof(result.platform_id)), nullptr);
    EXPECT_NE(std::memchr(result.platform_code, 0, sizeof(result.platform_code)), nullptr);
    EXPECT_NE(std::memchr(result.message, 0, sizeof(result.message)), nullptr);
    return result;
}

std::string graph_error(int code, int subcode = 0, std::string_view message = "An error",
                        std::string_view details = "") {
    std::string body = R"({"error":{"message":")" + std::string(message) +
                       R"(","type":"OAuthException","code":)" + std::to_string(code);
    if (subcode != 0) body += R"(,"error_subcode":)" + std::to_string(subcode);
    if (!details.empty())
        body += R"(,"error_data":{"messaging_product":"whatsapp","details":")" + std::string(details) + "\"}";
    body += R"(,"fbtrace_id":"AbCdEf123"}})";
    return body;
}

struct CodeCase {
    int http;
    int code;
    int subcode;
    int expected;
};

TEST(MetaClassify, ClassifiesEachCodeFamily) {
    const CodeCase cases[] = {
        // throttling
        {400, 4, 0, SB_SEND_RATE_LIMITED},
        {400, 17, 0, SB_SEND_RATE_LIMITED},
        {400, 32, 0, SB_SEND_RATE_LIMITED},
        {400, 613, 0, SB_SEND_RATE_LIMITED},
        {400, 80007, 0, SB_SEND_RATE_LIMITED},
        {429, 130429, 0, SB_SEND_RATE_LIMITED},
        {400, 131048, 0, SB_SEND_RATE_LIMITED},
        {400, 131056, 0, SB_SEND_RATE_LIMITED},
        {400, 4, 2018022, SB_SEND_RATE_LIMITED},
        // auth
        {401, 190, 0, SB_SEND_AUTH},
        {400, 190, 463, SB_SEND_AUTH},
        {400, 190, 467, SB_SEND_AUTH},
        {401, 0, 0, SB_SEND_AUTH},
        {500, 3, 0, SB_SEND_AUTH},
        {403, 10, 0, SB_SEND_AUTH},
        {400, 102, 0, SB_SEND_AUTH},
        {403, 200, 0, SB_SEND_AUTH},
        {403, 299, 0, SB_SEND_AUTH},
        // window
        {400, 131047, 0, SB_SEND_WINDOW_CLOSED},
        {400, 470, 0, SB_SEND_WINDOW_CLOSED},
        {400, 10, 2018278, SB_SEND_WINDOW_CLOSED},
        // retryable
        {500, 1, 0, SB_SEND_RETRYABLE},
        {400, 2, 0, SB_SEND_RETRYABLE},
        {400, 1200, 0, SB_SEND_RETRYABLE},
        {500, 131000, 0, SB_SEND_RETRYABLE},
        {503, 131016, 0, SB_SEND_RETRYABLE},
        {502, 99999, 0, SB_SEND_RETRYABLE},
        // permanent
        {400, 100, 0, SB_SEND_PERMANENT},
        {400, 131026, 0, SB_SEND_PERMANENT},
        {400, 131049, 0, SB_SEND_PERMANENT},
        {400, 131051, 0, SB_SEND_PERMANENT},
        {400, 132001, 0, SB_SEND_PERMANENT},
        {400, 130472, 0, SB_SEND_PERMANENT},
        {400, 368, 0, SB_SEND_PERMANENT},
        {400, 551, 1545041, SB_SEND_PERMANENT},
        {400, 10, 1893063, SB_SEND_PERMANENT},
        {400, 100, 2018001, SB_SEND_PERMANENT},
        // unknown code: the HTTP status decides
        {429, 99999, 0, SB_SEND_RATE_LIMITED},
        {401, 99999, 0, SB_SEND_AUTH},
        {404, 99999, 0, SB_SEND_PERMANENT},
    };
    for (const CodeCase& c : cases) {
        sb_send_result r = classify(c.http, graph_error(c.code, c.subcode));
        EXPECT_EQ(r.send_class, c.expected) << "HTTP " << c.http << " code " << c.code << "/" << c.subcode;
        std::string code = std::to_string(c.code);
        if (c.subcode != 0) {
            code += '/';  // appended: `"/" + std::to_string()` trips GCC 12 -O3's false -Werror=restrict
            code += std::to_string(c.subcode);
        }
        EXPECT_EQ(std::string(r.platform_code), code);
        EXPECT_STREQ(r.platform_id, "");
    }
}

TEST(MetaClassify, MessageCarriesDescriptionDetailsAndTraceId) {
    sb_send_result r =
        classify(400, graph_error(131047, 0, "Re-engagement message",
                                  "Message failed to send because more than 24 hours have passed"));
    EXPECT_EQ(r.send_class, SB_SEND_WINDOW_CLOSED);
    EXPECT_STREQ(r.message,
                 "Re-engagement message: Message failed to send because more than 24 hours have passed "
                 "(fbtrace_id AbCdEf123)");
    EXPECT_EQ(r.retry_after_ms, 0u);
}

TEST(MetaClassify, TakesRetryAfterHeaderForThrottling) {
    sb_send_result r = classify(429, graph_error(130429), {{view("retry-after"), view(" 30 ")}});
    EXPECT_EQ(r.send_class, SB_SEND_RATE_LIMITED);
    EXPECT_EQ(r.retry_after_ms, 30000u);
}

TEST(MetaClassify, IgnoresUnusableRetryAfter) {
    for (std::string_view value : {"soon", "-5", "Wed, 21 Oct 2015 07:28:00 GMT", ""}) {
        sb_send_result r = classify(429, graph_error(4), {{view("Retry-After"), view(value)}});
        EXPECT_EQ(r.send_class, SB_SEND_RATE_LIMITED);
        EXPECT_EQ(r.retry_after_ms, 0u) << value;
    }
}

TEST(MetaClassify, CapsHugeRetryAfterAtOneDay) {
    sb_send_result r = classify(429, graph_error(4), {{view("Retry-After"), view("99999999999999")}});
    EXPECT_EQ(r.retry_after_ms, 24u * 3600 * 1000);
}

TEST(MetaClassify, RetryAfterDoesNotApplyToPermanentErrors) {
    sb_send_result r = classify(400, graph_error(100), {{view("Retry-After"), view("30")}});
    EXPECT_EQ(r.send_class, SB_SEND_PERMANENT);
    EXPECT_EQ(r.retry_after_ms, 0u);
}

TEST(MetaClassify, ClassifiesErrorBodyInA2xxByItsCode) {
    EXPECT_EQ(classify(200, graph_error(190)).send_class, SB_SEND_AUTH);
    sb_send_result r = classify(200, graph_error(99999));
    EXPECT_EQ(r.send_class, SB_SEND_PERMANENT);
    EXPECT_STREQ(r.platform_code, "99999");
}

TEST(MetaClassify, Treats2xxWithoutResultAsRetryable) {
    sb_send_result r = classify(200, R"({"unexpected":true})");
    EXPECT_EQ(r.send_class, SB_SEND_RETRYABLE);
    EXPECT_STREQ(r.platform_code, "http_200");
}

TEST(MetaClassify, ClassifiesNonJsonBodiesByHttpStatus) {
    sb_send_result r = classify(502, "<html>Bad Gateway</html>", {{view("Retry-After"), view("7")}});
    EXPECT_EQ(r.send_class, SB_SEND_RETRYABLE);
    EXPECT_EQ(r.retry_after_ms, 7000u);
    EXPECT_STREQ(r.platform_code, "http_502");
    EXPECT_STREQ(r.message, "HTTP 502 without a Graph API error body");
    EXPECT_EQ(classify(429, "").send_class, SB_SEND_RATE_LIMITED);
    EXPECT_EQ(classify(401, "nope").send_class, SB_SEND_AUTH);
    EXPECT_EQ(classify(404, "not found").send_class, SB_SEND_PERMANENT);
    EXPECT_EQ(classify(400, R"({"error":"not an object"})").send_class, SB_SEND_PERMANENT);
}

TEST(MetaClassify, TreatsTransportFailureAsRetryable) {
    sb_send_result r = classify(0, "", {}, "connect: connection refused");
    EXPECT_EQ(r.send_class, SB_SEND_RETRYABLE);
    EXPECT_STREQ(r.platform_code, "");
    EXPECT_STREQ(r.message, "no response from the Graph API: connect: connection refused");
}

TEST(MetaClassify, TruncatesLongMessagesWithinTheBuffer) {
    sb_send_result r = classify(400, graph_error(100, 0, std::string(1000, 'm')));
    EXPECT_EQ(std::strlen(r.message), sizeof(r.message) - 1);
}

TEST(MetaClassify, SurvivesHostileBodies) {
    std::string deep(100000, '[');
    for (const std::string& body :
         {deep, std::string("{\"error\":{\"code\":\"190\"}}"), std::string("{\"error\":{\"code\":1e400}}"),
          std::string("\xff\xfe"), std::string(R"({"error":{"code":-5,"error_subcode":99999999999}})")}) {
        sb_send_result r = classify(400, body);
        EXPECT_GE(r.send_class, SB_SEND_RETRYABLE);
    }
}

TEST(MetaParseGraphError, ReadsEveryField) {
    auto e = sb::meta::parse_graph_error(
        R"({"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,)"
        R"("error_subcode":1234567,"error_data":{"messaging_product":"whatsapp","details":"d"},)"
        R"("error_user_title":"t","error_user_msg":"u","fbtrace_id":"BLBz/WZt8dN"}})");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->code, 190);
    EXPECT_EQ(e->subcode, 1234567);
    EXPECT_EQ(e->message, "Invalid OAuth access token.");
    EXPECT_EQ(e->type, "OAuthException");
    EXPECT_EQ(e->details, "d");
    EXPECT_EQ(e->fbtrace_id, "BLBz/WZt8dN");
    EXPECT_FALSE(sb::meta::parse_graph_error(R"({"messages":[{"id":"wamid.x"}]})").has_value());
    EXPECT_FALSE(sb::meta::parse_graph_error("not json").has_value());
}

// ---------------------------------------------------------------------------------------------
// copy_bounded

TEST(MetaCopyBounded, CopiesShortTextWhole) {
    char out[8];
    switchboard::copy_bounded(out, sizeof(out), "abc");
    EXPECT_STREQ(out, "abc");
}

TEST(MetaCopyBounded, TruncatesAtUtf8Boundary) {
    char out[6];
    // "ab" + "é" (2 bytes) + "€" (3 bytes): 5 bytes fit, but the 5th starts a 3-byte "€".
    switchboard::copy_bounded(out, sizeof(out), "ab\xc3\xa9\xe2\x82\xac");
    EXPECT_STREQ(out, "ab\xc3\xa9");
    char tiny[3];
    switchboard::copy_bounded(tiny, sizeof(tiny), "\xe2\x82\xac");
    EXPECT_STREQ(tiny, "");
}

TEST(MetaCopyBounded, TruncatesAsciiToSizeMinusOne) {
    char out[4];
    switchboard::copy_bounded(out, sizeof(out), "abcdef");
    EXPECT_STREQ(out, "abc");
}

TEST(MetaCopyBounded, IgnoresZeroSizedBuffer) {
    char out[1] = {'Z'};
    switchboard::copy_bounded(out, 0, "abc");
    EXPECT_EQ(out[0], 'Z');
    switchboard::copy_bounded(out, 1, "abc");
    EXPECT_EQ(out[0], '\0');
}

}  // namespace
