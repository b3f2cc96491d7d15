#pragma once
// Child processes for process-level tests. A Process runs a program with its stdout and
// stderr in a log file that the test can wait on; a Daemon runs the real switchboardd on a
// generated config inside its own temp dir and reads back the port it chose.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::test {

// A fresh directory made with mkdtemp under $TMPDIR (or /tmp). Removed with everything in it
// on destruction, unless SB_KEEP_TEST_DIRS is set, so a failing run can be inspected.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    // Writes (truncating) `name` inside the directory and returns its full path.
    std::filesystem::path write_file(std::string_view name, std::string_view content) const;

private:
    std::filesystem::path path_;
};

// Reads a whole file; "" when it does not exist.
std::string read_file(const std::filesystem::path& path);

class Process {
public:
    struct Options {
        std::string program;                                   // path to the executable
        std::vector<std::string> args;                         // argv[1..]
        std::vector<std::pair<std::string, std::string>> env;  // added to, or replacing, ours
        std::filesystem::path log_path;                        // stdout + stderr (truncated)
    };

    // Starts the program. Its stdin is /dev/null; on Linux it gets SIGKILL if the test
    // process dies, so a crashed test leaves no daemon behind. Throws std::system_error when
    // the fork fails; an exec failure shows up as exit code 127 with the reason in the log.
    explicit Process(Options options);
    // Kills (SIGKILL) and reaps the child if it still runs.
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    const std::filesystem::path& log_path() const { return options_.log_path; }
    std::string log() const { return read_file(options_.log_path); }

    bool running();
    // Polls the log until `pattern` matches somewhere in it. Returns the match and its
    // groups ([0] = whole match), or nullopt on timeout or when the process exited first.
    std::optional<std::vector<std::string>> wait_for_log(const std::regex& pattern,
                                                         std::chrono::milliseconds timeout);
    void signal(int sig);
    // Waits for the child to end: its exit code, or 128 + signal number when a signal ended
    // it (the shell's convention); nullopt if it still runs after `timeout`.
    std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
    // SIGTERM, then SIGKILL if it has not exited within `grace`. Returns the exit status as
    // wait_for_exit does.
    int stop(std::chrono::milliseconds grace);

    struct RunResult {
        std::optional<int> exit_code;  // nullopt: killed after the timeout
        std::string output;            // stdout + stderr
    };
    // Runs a program to completion (killing it after `timeout`).
    static RunResult run(Options options, std::chrono::milliseconds timeout);

private:
    // Reaps without blocking; true once the exit status is known.
    bool reap();

    Options options_;
    pid_t pid_ = -1;
    std::optional<int> exit_code_;
};

// The real switchboardd, one per test: owns a temp dir holding its config, its SQLite file
// and one log file per run, so restart() finds the same database.
class Daemon {
public:
    // `binary` is the switchboardd to run (tests pass the SB_DAEMON_PATH compile definition).
    explicit Daemon(std::filesystem::path binary);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    const std::filesystem::path& dir() const { return dir_.path(); }
    std::filesystem::path db_path() const { return dir_.path() / "sb.db"; }
    std::filesystem::path config_path() const { return dir_.path() / "config.yaml"; }
    const std::filesystem::path& binary() const { return binary_; }

    // Writes config.yaml and runs `switchboardd --config <it>`, waiting for the
    // "listening on http://127.0.0.1:PORT" line. Throws std::runtime_error carrying the log
    // when the daemon exits or stays silent for `timeout`.
    void start(std::string_view config_yaml, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Stops the running daemon (if any) with SIGTERM, then starts it again on the same config,
    // directory and database.
    void restart(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Sends `sig` and waits for the process to end; returns its exit status (see Process).
    int kill(int sig);

    bool running();
    std::uint16_t port() const { return port_; }
    std::string base_url() const;  // "http://127.0.0.1:PORT"
    Process& process() { return *process_; }
    std::string log() const;  // the current (last) run's log

    // Every run's log, each under a header naming its file; tests call this on failure.
    void dump_logs(std::ostream& out) const;

    // `switchboardd --check-config FILE` on a config written into this daemon's dir as `name`.
    Process::RunResult check_config(std::string_view config_yaml, std::string_view name = "check.yaml");

private:
    void launch(std::chrono::milliseconds timeout);

    std::filesystem::path binary_;
    TempDir dir_;
    std::unique_ptr<Process> process_;
    std::vector<std::filesystem::path> logs_;
    std::uint16_t port_ = 0;
};

}  // namespace sb::test
