#include "log/log.hpp"

#include <cstdlib>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace sb::log {
namespace {

// sd-daemon(3) priority prefixes: journald maps them to the entry's PRIORITY.
class JournalPriorityFlag : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        static constexpr std::string_view kPrefixes[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
        auto prefix = kPrefixes[static_cast<int>(msg.level)];
        dest.append(prefix.data(), prefix.data() + prefix.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JournalPriorityFlag>();
    }
};

}  // namespace

void init(std::string_view level) {
    auto logger =
        std::make_shared<spdlog::logger>("switchboard", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    if (std::getenv("JOURNAL_STREAM") != nullptr) {
        // journald adds its own timestamp.
        formatter->add_flag<JournalPriorityFlag>('*').set_pattern("%*level=%l %v");
    } else {
        formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %v");
    }
    logger->set_formatter(std::move(formatter));
    auto parsed = spdlog::level::from_str(std::string(level));
    logger->set_level(parsed == spdlog::level::off && level != "off" ? spdlog::level::info : parsed);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
}

}  // namespace sb::log
