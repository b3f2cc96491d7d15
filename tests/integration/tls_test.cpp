// The outbound TLS path, on the real daemon: every platform is HTTPS in production, so a reply
// must reach a fake Bot API that speaks TLS with a certificate the daemon verifies (chain,
// host name, SNI), and must be refused, with a clear error for the agent and nothing sent,
// when the certificate is not trusted or names another host. The certificates are made for
// the run (support/test_pki); `outbound.ca_file` tells the daemon to trust the test CA.

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>

#include "support/fake_http_server.hpp"
#include "support/http_test_client.hpp"
#include "support/json_view.hpp"
#include "support/process.hpp"
#include "support/test_pki.hpp"
#include "support/wait.hpp"

namespace sb::test {
namespace {

using namespace std::chrono_literals;

constexpr char kAdminToken[] = "tls-admin-token-0123456789";
constexpr char kSecret[] = "tls-webhook-secret";
constexpr char kSendBody[] = R"({"content":{"type":"text","text":"over TLS"}})";

std::string update(int id, long chat, const std::string& text) {
    return "{\"update_id\":" + std::to_string(id) + ",\"message\":{\"message_id\":" + std::to_string(id) +
           ",\"from\":{\"id\":" + std::to_string(chat) +
           ",\"is_bot\":false,\"first_name\":\"Ada\"},\"chat\":{\"id\":" + std::to_string(chat) +
           ",\"type\":\"private\"},\"date\":1732540000,\"text\":\"" + text + "\"}}";
}

class TlsTest : public ::testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) daemon_.dump_logs(std::cerr);
    }

    // The CA's certificate in a file of the daemon's directory, as an operator would keep it.
    std::string write_ca() {
        const auto path = daemon_.dir() / "test-ca.pem";
        std::ofstream(path) << pki_.ca_pem;
        return path.string();
    }

    std::string config(const std::string& api_base, const std::string& ca_file) const {
        std::string yaml;
        yaml += "server: { listen: \"127.0.0.1:0\", threads: 2 }\n";
        yaml += "storage: { backend: sqlite, sqlite: { path: \"" + daemon_.db_path().string() + "\" } }\n";
        yaml += "plugins: { dir: \"" SB_PLUGIN_DIR "\" }\n";
        yaml += std::string("auth: { bootstrap_admin_token: \"") + kAdminToken + "\" }\n";
        if (!ca_file.empty()) yaml += "outbound: { ca_file: \"" + ca_file + "\", max_attempts: 1 }\n";
        if (ca_file.empty()) yaml += "outbound: { max_attempts: 1 }\n";
        yaml += "channels:\n  - id: tg\n    plugin: telegram\n";
        yaml += std::string("    settings: { bot_token: \"1:T\", secret_token: \"") + kSecret +
                "\", api_base: \"" + api_base + "\" }\n";
        return yaml;
    }

    // A customer message arrives; returns the conversation the agent answers in.
    std::string conversation() {
        auto r = HttpClient(daemon_.port())
                     .post_json("/webhooks/tg", update(1, 4242, "hello"),
                                {{"X-Telegram-Bot-Api-Secret-Token", kSecret}});
        EXPECT_EQ(r.status, 200) << r.body;
        std::string id;
        const bool stored = wait_until([&] {
            Json list(admin().get("/api/v1/conversations").body);
            if (list.size("/items") > 0) id = list.str("/items/0/id");
            return !id.empty();
        });
        EXPECT_TRUE(stored) << "the customer message was never stored";
        return id;
    }

    HttpClient admin() const {
        return HttpClient(daemon_.port(), {{"Authorization", std::string("Bearer ") + kAdminToken}});
    }

    HttpResult reply(const std::string& conversation) {
        return admin().post_json("/api/v1/conversations/" + conversation + "/messages", kSendBody);
    }

    TestPki pki_ = make_test_pki("localhost");
    Daemon daemon_{SB_DAEMON_PATH};
};

TEST_F(TlsTest, ReplyReachesAnHttpsPlatformWhoseCertificateTheConfiguredCaVouchesFor) {
    FakeHttpServer telegram(FakeHttpServer::Tls{pki_.cert_pem, pki_.key_pem, "localhost"});
    telegram.set_handler([](const HttpRequest&) {
        HttpResponse res;
        res.body =
            R"({"ok":true,"result":{"message_id":777,"date":1732540001,"chat":{"id":4242,"type":"private"},)"
            R"("text":"over TLS"}})";
        return res;
    });
    ASSERT_EQ(telegram.base_url().rfind("https://localhost:", 0), 0u) << telegram.base_url();
    daemon_.start(config(telegram.base_url(), write_ca()));

    const std::string id = conversation();
    auto sent = reply(id);
    ASSERT_EQ(sent.status, 201) << sent.body;
    EXPECT_EQ(Json(sent.body).str("/platform_id"), "4242:777") << sent.body;
    auto requests = telegram.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].path(), "/bot1:T/sendMessage");
    EXPECT_NE(requests[0].body.find("over TLS"), std::string::npos) << requests[0].body;
    EXPECT_EQ(requests[0].header("Host"), "localhost:" + std::to_string(telegram.port()));
    EXPECT_EQ(telegram.handshake_failures(), 0u);

    // The pooled TLS connection is reused for the next reply.
    ASSERT_EQ(reply(id).status, 201);
    EXPECT_EQ(telegram.request_count(), 2u);
    EXPECT_EQ(telegram.connection_count(), 1u);
}

TEST_F(TlsTest, UntrustedCertificateIsRefusedAndTheAgentToldNothingWasSent) {
    FakeHttpServer telegram(FakeHttpServer::Tls{pki_.cert_pem, pki_.key_pem, "localhost"});
    daemon_.start(config(telegram.base_url(), ""));  // the system's CAs only

    auto sent = reply(conversation());
    EXPECT_EQ(sent.status, 502) << sent.body;
    Json error(sent.body);
    EXPECT_EQ(error.str("/error/code"), "platform_unavailable") << sent.body;
    EXPECT_NE(error.str("/error/platform_message").find("certificate verify failed"), std::string::npos)
        << sent.body;
    // The daemon aborts the handshake and answers the agent at once; the fake server's thread
    // notices the aborted handshake when it gets to run, which may be after that answer.
    EXPECT_TRUE(wait_until([&] { return telegram.handshake_failures() >= 1; }))
        << "the fake server never saw the refused handshake";
    EXPECT_EQ(telegram.request_count(), 0u) << "a request went to a server we could not verify";
}

TEST_F(TlsTest, CertificateForAnotherHostIsRefused) {
    // Trusted chain, but the certificate names "localhost" and the channel calls 127.0.0.1.
    FakeHttpServer telegram(FakeHttpServer::Tls{pki_.cert_pem, pki_.key_pem, "127.0.0.1"});
    daemon_.start(config(telegram.base_url(), write_ca()));

    auto sent = reply(conversation());
    EXPECT_EQ(sent.status, 502) << sent.body;
    EXPECT_NE(Json(sent.body).str("/error/platform_message").find("certificate verify failed"),
              std::string::npos)
        << sent.body;
    EXPECT_EQ(telegram.request_count(), 0u);
}

TEST_F(TlsTest, UnreadableOrInvalidCaFileStopsTheDaemonWithItsName) {
    const std::string missing = (daemon_.dir() / "no-such-ca.pem").string();
    auto checked = daemon_.check_config(config("https://localhost:1", missing), "missing-ca.yaml");
    ASSERT_TRUE(checked.exit_code) << "--check-config hung";
    EXPECT_NE(*checked.exit_code, 0) << checked.output;
    EXPECT_NE(checked.output.find("ca_file"), std::string::npos) << checked.output;
    EXPECT_NE(checked.output.find(missing), std::string::npos) << checked.output;

    // Readable but not PEM: refused at start, naming the file.
    const auto garbage = daemon_.dir() / "garbage.pem";
    std::ofstream(garbage) << "not a certificate\n";
    EXPECT_THROW(daemon_.start(config("https://localhost:1", garbage.string()), 5s), std::exception);
    EXPECT_NE(daemon_.log().find("garbage.pem"), std::string::npos) << daemon_.log();
}

}  // namespace
}  // namespace sb::test
