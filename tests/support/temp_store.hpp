#pragma once
// A migrated SQLite store on a temp file, removed with the object, and a customer's message
// applied to it as the inbound processor would: for unit tests of what runs on a store without
// a daemon around it (the notifier, the sender).

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "events/normalized.hpp"
#include "store/store.hpp"
#include "util/random.hpp"

namespace sb::test {

class TempSqliteStore {
public:
    explicit TempSqliteStore(const std::string& name)
        : dir_(std::filesystem::temp_directory_path() /
               ("sb-" + name + "-" + std::to_string(::getpid()) + "-" + util::random_hex(4))) {
        std::filesystem::create_directories(dir_);
        store_ = store::open_sqlite((dir_ / "sb.db").string());
        store_->migrate();
    }
    ~TempSqliteStore() {
        store_.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    TempSqliteStore(const TempSqliteStore&) = delete;
    TempSqliteStore& operator=(const TempSqliteStore&) = delete;

    store::Store& operator*() { return *store_; }
    store::Store* operator->() { return store_.get(); }

    // A text message "hello" from the customer of `chat` on `channel_id`, enqueued and applied at
    // `now_ms`: the events it appended (message_created first).
    std::vector<store::Event> customer_writes(const std::string& channel_id, const std::string& chat,
                                              const std::string& message_id, std::int64_t now_ms) {
        auto ids = store_->enqueue(std::vector<store::InboundRequest>{
            {channel_id, "POST", "/webhooks/" + channel_id, "", "{}", now_ms}});
        events::NormalizedEvent ev;
        ev.type = events::EventType::message;
        ev.conversation_id = chat;
        ev.conversation_kind = "private";
        ev.sender.id = chat;
        ev.sender.name = "Ada Lovelace";
        ev.timestamp_ms = now_ms;
        ev.message_id = message_id;
        ev.content_json = R"({"type":"text","text":"hello"})";
        ev.content_type = "text";
        store::ParsedRow row{ids.at(0), channel_id, {ev}};
        return store_->apply(std::span(&row, 1), now_ms).at(0).events;
    }

private:
    std::filesystem::path dir_;
    std::unique_ptr<store::Store> store_;
};

}  // namespace sb::test
