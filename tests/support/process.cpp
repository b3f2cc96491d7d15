#include "support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "support/wait.hpp"

extern char** environ;

namespace sb::test {
namespace {

// How often waits look again: short enough not to slow tests, long enough not to spin.
constexpr auto kPollInterval = std::chrono::milliseconds(10);

std::vector<std::string> merged_environment(const std::vector<std::pair<std::string, std::string>>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string_view entry(*e);
        std::string_view name = entry.substr(0, entry.find('='));
        bool replaced = false;
        for (const auto& [key, value] : extra) replaced = replaced || key == name;
        if (!replaced) env.emplace_back(entry);
    }
    for (const auto& [key, value] : extra) env.push_back(key + "=" + value);
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

int decode_wait_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/sb-it-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr)
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    path_ = pattern;
}

TempDir::~TempDir() {
    if (std::getenv("SB_KEEP_TEST_DIRS") != nullptr) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path TempDir::write_file(std::string_view name, std::string_view content) const {
    std::filesystem::path file = path_ / name;
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("cannot write " + file.string());
    return file;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

Process::Process(Options options) : options_(std::move(options)) {
    // Everything the child needs is prepared before fork: between fork and exec a
    // multi-threaded parent's child may only make async-signal-safe calls.
    std::vector<std::string> argv_strings{options_.program};
    argv_strings.insert(argv_strings.end(), options_.args.begin(), options_.args.end());
    std::vector<std::string> env_strings = merged_environment(options_.env);
    std::vector<char*> argv = c_strings(argv_strings);
    std::vector<char*> envp = c_strings(env_strings);
    std::string log = options_.log_path.string();
    const pid_t parent = ::getpid();

    pid_ = ::fork();
    if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid_ == 0) {
        // A test that crashes must not leave a daemon holding ports and files.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(126);
        int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (out < 0 || in < 0) ::_exit(125);
        ::dup2(in, STDIN_FILENO);
        ::dup2(out, STDOUT_FILENO);
        ::dup2(out, STDERR_FILENO);
        ::execve(argv[0], argv.data(), envp.data());
        const char message[] = "exec failed: ";
        (void)!::write(STDERR_FILENO, message, sizeof message - 1);
        const char* reason = ::strerror(errno);  // not async-signal-safe in theory; best effort
        (void)!::write(STDERR_FILENO, reason, ::strlen(reason));
        ::_exit(127);
    }
}

Process::~Process() {
    if (!reap()) {
        ::kill(pid_, SIGKILL);
        wait_for_exit(std::chrono::seconds(10));
    }
}

bool Process::reap() {
    if (exit_code_) return true;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        exit_code_ = decode_wait_status(status);
        return true;
    }
    if (r < 0 && errno == ECHILD) {  // someone else reaped it; treat as gone
        exit_code_ = -1;
        return true;
    }
    return false;
}

bool Process::running() { return !reap(); }

std::optional<std::vector<std::string>> Process::wait_for_log(const std::regex& pattern,
                                                              std::chrono::milliseconds timeout) {
    std::optional<std::vector<std::string>> groups;
    wait_until(
        [&] {
            // Check for exit before reading, so the last read sees everything the child wrote.
            const bool exited = reap();
            const std::string text = log();
            std::smatch match;
            if (std::regex_search(text, match, pattern)) {
                groups.emplace();
                for (const auto& group : match) groups->push_back(group.str());
            }
            return groups || exited;
        },
        timeout, kPollInterval);
    return groups;
}

void Process::signal(int sig) {
    if (!reap()) ::kill(pid_, sig);
}

std::optional<int> Process::wait_for_exit(std::chrono::milliseconds timeout) {
    if (!wait_until([&] { return reap(); }, timeout, kPollInterval)) return std::nullopt;
    return exit_code_;
}

int Process::stop(std::chrono::milliseconds grace) {
    signal(SIGTERM);
    if (auto code = wait_for_exit(grace)) return *code;
    signal(SIGKILL);
    return wait_for_exit(std::chrono::seconds(10)).value_or(-1);
}

Process::RunResult Process::run(Options options, std::chrono::milliseconds timeout) {
    Process process(std::move(options));
    RunResult result;
    result.exit_code = process.wait_for_exit(timeout);
    if (!result.exit_code) {
        process.signal(SIGKILL);
        process.wait_for_exit(std::chrono::seconds(10));
    }
    result.output = process.log();
    return result;
}

Daemon::Daemon(std::filesystem::path binary) : binary_(std::move(binary)) {}

Daemon::~Daemon() = default;

void Daemon::start(std::string_view config_yaml, std::chrono::milliseconds timeout) {
    dir_.write_file(config_path().filename().string(), config_yaml);
    launch(timeout);
}

void Daemon::restart(std::chrono::milliseconds timeout) {
    if (process_ && process_->running()) process_->stop(std::chrono::seconds(10));
    launch(timeout);
}

void Daemon::launch(std::chrono::milliseconds timeout) {
    process_.reset();
    port_ = 0;
    logs_.push_back(dir_.path() / ("daemon-" + std::to_string(logs_.size() + 1) + ".log"));
    process_ = std::make_unique<Process>(Process::Options{
        .program = binary_.string(),
        .args = {"--config", config_path().string()},
        .env = {},
        .log_path = logs_.back(),
    });
    static const std::regex kListening(R"(listening on http://127\.0\.0\.1:(\d+))");
    auto match = process_->wait_for_log(kListening, timeout);
    if (!match) {
        std::string why = process_->running() ? "did not log 'listening on http://127.0.0.1:PORT' within " +
                                                    std::to_string(timeout.count()) + " ms"
                                              : "exited with status " +
                                                    std::to_string(process_->wait_for_exit({}).value_or(-1)) +
                                                    " before listening";
        throw std::runtime_error("switchboardd " + why + "; log " + logs_.back().string() + ":\n" +
                                 process_->log());
    }
    port_ = static_cast<std::uint16_t>(std::stoi((*match)[1]));
}

int Daemon::kill(int sig) {
    if (!process_) return -1;
    process_->signal(sig);
    return process_->wait_for_exit(std::chrono::seconds(15)).value_or(-1);
}

bool Daemon::running() { return process_ && process_->running(); }

std::string Daemon::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string Daemon::log() const { return process_ ? process_->log() : std::string(); }

void Daemon::dump_logs(std::ostream& out) const {
    for (const auto& path : logs_) {
        out << "----- " << path.string() << " -----\n" << read_file(path);
        out << "----- end of " << path.filename().string() << " -----\n";
    }
    out.flush();
}

Process::RunResult Daemon::check_config(std::string_view config_yaml, std::string_view name) {
    std::filesystem::path file = dir_.write_file(name, config_yaml);
    logs_.push_back(dir_.path() / ("check-config-" + std::to_string(logs_.size() + 1) + ".log"));
    return Process::run(
        Process::Options{
            .program = binary_.string(),
            .args = {"--check-config", file.string()},
            .env = {},
            .log_path = logs_.back(),
        },
        std::chrono::seconds(10));
}

}  // namespace sb::test
