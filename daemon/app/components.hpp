#pragma once
// The long-lived parts of the process that run threads or timers of their own, in the order
// they depend on each other: each is started after what it relies on and stopped before it.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace sb::app {

class Components {
public:
    // A part with start() and stop() of its own (the processor, the fan-out, …).
    template <typename Part>
    void add(std::string name, Part& part) {
        parts_.push_back(Step{std::move(name), [&part] { part.start(); }, [&part] { part.stop(); }});
    }
    // A part that only starts (it ends with the I/O loop) or only stops (it runs from its
    // construction, like the store's threads).
    void on_start(std::string name, std::function<void()> start) {
        parts_.push_back(Step{std::move(name), std::move(start), nullptr});
    }
    void on_stop(std::string name, std::function<void()> stop) {
        parts_.push_back(Step{std::move(name), nullptr, std::move(stop)});
    }

    void start_all() {
        for (auto& part : parts_)
            if (part.start) part.start();
    }

    // In the reverse order they were added: what feeds a part stops before it does.
    void stop_all() {
        for (auto it = parts_.rbegin(); it != parts_.rend(); ++it) {
            if (!it->stop) continue;
            spdlog::debug("stopping {}", it->name);
            it->stop();
        }
    }

private:
    struct Step {
        std::string name;
        std::function<void()> start;
        std::function<void()> stop;
    };
    std::vector<Step> parts_;
};

}  // namespace sb::app
