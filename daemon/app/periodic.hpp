#pragma once
// The process's chores that come back by themselves (pruning events, reloading tokens, closing
// expired sockets, waking snoozed conversations, the watchdog, the status line, the shutdown
// drain): one timer each, all through this class, so none of them is a hand-rolled
// self-rearming lambda.

#include <chrono>
#include <functional>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace sb::app {

// Runs `tick` on the I/O loop every `period` from start() until stop(). Ticks never overlap:
// the next one is armed after the last returns, so a slow tick delays its successor rather than
// piling up. The timer lives on a strand of its own because start() and stop() are called from
// other threads (a signal handler) than the one a tick runs on.
class Periodic {
public:
    enum class First { now, after_period };

    Periodic(boost::asio::io_context& io, std::chrono::steady_clock::duration period,
             std::function<void()> tick)
        : timer_(boost::asio::make_strand(io)), period_(period), tick_(std::move(tick)) {}
    Periodic(const Periodic&) = delete;
    Periodic& operator=(const Periodic&) = delete;

    void start(First first = First::after_period) {
        boost::asio::post(timer_.get_executor(), [this, first] {
            stopped_ = false;
            if (first == First::now)
                run_tick();
            else
                arm();
        });
    }

    // No tick starts after this has run on the loop (a tick in progress finishes).
    void stop() {
        boost::asio::post(timer_.get_executor(), [this] {
            stopped_ = true;
            timer_.cancel();
        });
    }

private:
    void arm() {
        timer_.expires_after(period_);
        timer_.async_wait([this](boost::system::error_code ec) {
            if (!ec && !stopped_) run_tick();
        });
    }
    void run_tick() {
        tick_();
        if (!stopped_) arm();
    }

    boost::asio::steady_timer timer_;
    std::chrono::steady_clock::duration period_;
    std::function<void()> tick_;
    bool stopped_ = true;  // touched on the timer's strand only
};

}  // namespace sb::app
