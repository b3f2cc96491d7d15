// The HTTP server's upload paths (ServerOptions::upload_paths): a body is spooled to a file as it
// arrives (Exchange::body_file) and removed with the exchange; it may take as long as it keeps
// coming, each piece within body_timeout_ms of the one before, and a stalled one is dropped; stale
// spool files go at start. A real Server on loopback with a short body timeout and a raw client.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "http/server.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// What the handler saw of the last request.
struct Seen {
    std::string path;
    std::optional<std::string> file_bytes;  // the spooled body, read while the exchange lived
    std::string memory_body;
};

class HttpUpload : public ::testing::Test {
protected:
    void SetUp() override {
        static std::atomic<int> counter{0};
        spool_ = fs::temp_directory_path() /
                 ("sb-http-upload-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(spool_);
    }
    void TearDown() override {
        if (server_) server_->stop_accepting();
        io_.stop();
        if (thread_.joinable()) thread_.join();
        server_.reset();
        std::error_code ec;
        fs::remove_all(spool_, ec);
    }

    void start() {
        sb::http::ServerOptions options;
        options.port = 0;
        options.body_timeout_ms = 400;
        options.upload_paths = {"/up"};
        options.upload_spool_dir = spool_;
        server_ = std::make_unique<sb::http::Server>(
            io_, options,
            [this](std::shared_ptr<sb::http::Exchange> exchange) {
                Seen seen;
                seen.path = std::string(exchange->path());
                if (auto file = exchange->body_file()) {
                    std::ifstream in(*file, std::ios::binary);
                    std::ostringstream bytes;
                    bytes << in.rdbuf();
                    seen.file_bytes = bytes.str();
                }
                seen.memory_body = exchange->body();
                {
                    std::lock_guard lock(mutex_);
                    seen_ = seen;
                    ++requests_;
                }
                exchange->respond(sb::http::json_response(200, "{}"));
            },
            sb::http::WsHandlers{});
        server_->listen();
        thread_ = std::thread([this] { io_.run(); });
    }

    // A connection to the server.
    int connect_client() {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(server_->port());
        ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
        EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
        timeval timeout{3, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        return fd;
    }
    static void send_all(int fd, const std::string& bytes) {
        EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
    }
    // Everything the server sends until it closes (or 3 s of silence).
    static std::string read_to_close(int fd) {
        std::string out;
        char buffer[4096];
        for (;;) {
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n <= 0) break;
            out.append(buffer, static_cast<std::size_t>(n));
        }
        return out;
    }
    static std::string post(const std::string& path, std::size_t length) {
        return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: " +
               std::to_string(length) + "\r\n\r\n";
    }
    // The spool holds nothing, within a second (an exchange goes just after its answer).
    bool spool_is_empty() const {
        for (int i = 0; i < 100; ++i) {
            if (!fs::exists(spool_) || fs::is_empty(spool_)) return true;
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }

    fs::path spool_;
    boost::asio::io_context io_;
    std::unique_ptr<sb::http::Server> server_;
    std::thread thread_;
    std::mutex mutex_;
    Seen seen_;
    int requests_ = 0;
};

TEST_F(HttpUpload, AnUploadThatKeepsComingIsSpooledWholeHoweverLongItTakes) {
    start();
    std::string body;
    for (int i = 0; i < 8; ++i) body += std::string(100, static_cast<char>('a' + i));
    const int fd = connect_client();
    send_all(fd, post("/up", body.size()));
    // 8 pieces 150 ms apart: 1.2 s in all, three times the body timeout, never 400 ms of silence.
    for (std::size_t at = 0; at < body.size(); at += 100) {
        std::this_thread::sleep_for(150ms);
        send_all(fd, body.substr(at, 100));
    }
    const std::string answer = read_to_close(fd);
    ::close(fd);
    EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
    std::lock_guard lock(mutex_);
    ASSERT_EQ(requests_, 1);
    ASSERT_TRUE(seen_.file_bytes) << "the upload was not spooled";
    EXPECT_EQ(*seen_.file_bytes, body);
    EXPECT_TRUE(seen_.memory_body.empty()) << "the upload was held in memory too";
    EXPECT_TRUE(spool_is_empty()) << "the spooled body outlived its exchange";
}

TEST_F(HttpUpload, AnUploadThatStallsIsDroppedWithWhatArrivedOfIt) {
    start();
    const int fd = connect_client();
    send_all(fd, post("/up", 1000) + std::string(300, 'x'));
    const auto started = std::chrono::steady_clock::now();
    const std::string answer = read_to_close(fd);  // the server closes after 400 ms of silence
    const auto waited = std::chrono::steady_clock::now() - started;
    ::close(fd);
    EXPECT_LT(waited, 2500ms) << "the stalled upload was not dropped";
    EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
    std::lock_guard lock(mutex_);
    EXPECT_EQ(requests_, 0) << "a half upload reached the handler";
    EXPECT_TRUE(spool_is_empty()) << "what arrived of the stalled upload was left on disk";
}

TEST_F(HttpUpload, OtherBodiesAndEmptyUploadsAreReadAsBefore) {
    start();
    int fd = connect_client();
    send_all(fd, post("/other", 5) + "hello");
    EXPECT_EQ(read_to_close(fd).rfind("HTTP/1.1 200", 0), 0u);
    ::close(fd);
    {
        std::lock_guard lock(mutex_);
        EXPECT_FALSE(seen_.file_bytes);
        EXPECT_EQ(seen_.memory_body, "hello");
    }
    fd = connect_client();
    send_all(fd, post("/up", 0));
    EXPECT_EQ(read_to_close(fd).rfind("HTTP/1.1 200", 0), 0u) << "an empty upload is answered at once";
    ::close(fd);
    std::lock_guard lock(mutex_);
    ASSERT_TRUE(seen_.file_bytes);
    EXPECT_EQ(*seen_.file_bytes, "");
}

TEST_F(HttpUpload, StaleSpoolFilesGoAtStartAndRecentOnesStay) {
    fs::create_directories(spool_);
    std::ofstream(spool_ / "old.body") << "left by a process that died";
    std::ofstream(spool_ / "recent.body") << "another instance's upload in progress";
    fs::last_write_time(spool_ / "old.body", fs::file_time_type::clock::now() - std::chrono::hours(2));
    start();
    EXPECT_FALSE(fs::exists(spool_ / "old.body"));
    EXPECT_TRUE(fs::exists(spool_ / "recent.body"));
}

}  // namespace
