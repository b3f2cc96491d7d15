#pragma once
// The store's own threads. Blocking database calls are posted here, never run on an I/O
// thread; the callback posts its result back to where it is needed.

#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "store/store.hpp"

namespace sb::store {

class StoreRunner {
public:
    StoreRunner(Store& store, int threads) : store_(store), pool_(static_cast<std::size_t>(threads)) {}
    ~StoreRunner() { stop(); }

    Store& store() { return store_; }

    // Runs `work(store)` on a store thread.
    template <typename F>
    void post(F&& work) {
        boost::asio::post(pool_, [this, work = std::forward<F>(work)]() mutable { work(store_); });
    }

    // Finishes queued work and joins the threads.
    void stop() { pool_.join(); }

private:
    Store& store_;
    boost::asio::thread_pool pool_;
};

}  // namespace sb::store
