// Dead letters (admins): what could not be processed, and replaying it.

#include <spdlog/spdlog.h>

#include "api/handlers/support.hpp"
#include "util/time.hpp"

namespace sb::api {

namespace {

std::string dead_letters_json(const std::vector<store::DeadLetter>& letters) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("items");
    w.StartArray();
    for (const auto& letter : letters) {
        w.StartObject();
        w.Key("id");
        w.String(std::to_string(letter.id));
        w.Key("channel_id");
        w.String(letter.request.channel_id);
        w.Key("reason");
        w.String(letter.reason);
        w.Key("attempts");
        w.Int(letter.attempts);
        w.Key("failed_at");
        w.String(util::rfc3339(letter.failed_ms));
        w.Key("received_at");
        w.String(util::rfc3339(letter.request.received_ms));
        // A preview only: bodies can be megabytes and need not be valid UTF-8.
        std::string preview = letter.request.body.substr(0, 200);
        while (!preview.empty() && (static_cast<unsigned char>(preview.back()) & 0xC0) == 0x80)
            preview.pop_back();
        if (!preview.empty() && static_cast<unsigned char>(preview.back()) >= 0xC0) preview.pop_back();
        w.Key("body_preview");
        w.String(preview);
        w.Key("body_bytes");
        w.Uint64(letter.request.body.size());
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace

// --- dead letters (admin) ---

void Api::list_dead_letters(const Call& call) {
    auto limit = parse_limit(*call.exchange);
    if (!limit) return bad_request(call, "limit must be 1..200");
    on_store(deps_.store, call.exchange, [limit = *limit](store::Store& store) {
        return http::json_response(200, dead_letters_json(store.dead_letters(limit)));
    });
}

void Api::replay_dead_letter(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id) return call.exchange->respond(http::error_response(404, "not_found", "no such dead letter"));
    on_store(deps_.store, call.exchange, [this, id = *id](store::Store& store) {
        if (!store.replay_dead_letter(id, deps_.clock->now_ms()))
            return http::error_response(404, "not_found", "no such dead letter");
        spdlog::info("dead letter replayed row={}", id);
        if (deps_.on_requeued) deps_.on_requeued();
        return http::json_response(202, R"({"status":"requeued"})");
    });
}

}  // namespace sb::api
