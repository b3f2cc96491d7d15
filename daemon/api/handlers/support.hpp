#pragma once
// What the REST handlers (api/handlers/*.cpp) share: reading a request (ids, limits, a JSON
// body) and answering from a store thread. Internal to the api module.

#include <charconv>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <switchboard/json.hpp>

#include "api/rest.hpp"
#include "metrics/metrics.hpp"
#include "store/json.hpp"
#include "store/runner.hpp"

namespace sb::api {

using ExchangePtr = std::shared_ptr<http::Exchange>;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Canonical decimal ids only: "01" is not conversation 1 (docs/openapi.yaml: ^[1-9][0-9]*$).
inline std::optional<std::int64_t> parse_id(std::string_view text) {
    if (text.empty() || text.front() == '0') return std::nullopt;
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value <= 0) return std::nullopt;
    return value;
}

// ?limit= within [1, 200], default 50; nullopt when malformed.
inline std::optional<int> parse_limit(const http::Exchange& exchange) {
    auto text = exchange.query("limit");
    if (!text) return 50;
    auto value = parse_id(*text);
    if (!value || *value > 200) return std::nullopt;
    return static_cast<int>(*value);
}

template <typename T>
std::string page_json(const store::Page<T>& page) {
    std::string out = "{\"items\":[";
    for (std::size_t i = 0; i < page.items.size(); ++i) {
        if (i) out += ',';
        out += store::to_json(page.items[i]);
    }
    out += "],\"next_cursor\":";
    if (page.next_cursor.empty()) {
        out += "null";
    } else {
        out += '"';
        out += page.next_cursor;  // cursors are [0-9_] only
        out += '"';
    }
    out += '}';
    return out;
}

// ready: loaded and accepted by the platform; unhealthy: its credentials were refused;
// failed: the plugin or its settings were refused at start.
inline const char* channel_state(const plugin_host::Channel& channel) {
    if (!channel.ready()) return "failed";
    return channel.auth_failure().empty() ? "ready" : "unhealthy";
}

inline bool is_status(std::string_view s) {
    return s == "open" || s == "pending" || s == "snoozed" || s == "resolved";
}

inline bool is_priority(std::string_view p) {
    return p == "none" || p == "low" || p == "medium" || p == "high" || p == "urgent";
}

inline http::Response store_unavailable(const std::exception& e) {
    spdlog::error("store error=\"{}\"", e.what());
    return http::error_response(503, "store_unavailable", "the store is unavailable; retry later");
}

// Runs `work` on a store thread and answers with what it returns; store failures are 503.
template <typename F>
void on_store(store::StoreRunner& runner, const ExchangePtr& exchange, F work) {
    runner.post([exchange, work = std::move(work)](store::Store& store) mutable {
        try {
            exchange->respond(work(store));
        } catch (const std::invalid_argument& e) {
            exchange->respond(http::error_response(400, "bad_request", e.what()));
        } catch (const std::exception& e) {
            metrics::registry().store_errors.with({"api"}).inc();
            exchange->respond(store_unavailable(e));
        }
    });
}

inline http::Response no_content() {
    http::Response response;
    response.status = 204;
    response.content_type.clear();
    return response;
}

inline void bad_request(const Call& call, std::string_view message) {
    call.exchange->respond(http::error_response(400, "bad_request", message));
}

// The body as a JSON object. Answers 400 invalid_json itself, and returns nothing, when it is
// not one: hostile nesting and invalid UTF-8 included (the SDK's bounded, iterative reader).
inline std::optional<rapidjson::Document> json_body(const Call& call) {
    rapidjson::Document doc;
    if (auto error = switchboard::json::parse(doc, call.exchange->body(), "request body")) {
        call.exchange->respond(http::error_response(400, "invalid_json", *error));
        return std::nullopt;
    }
    if (!doc.IsObject()) {
        call.exchange->respond(http::error_response(400, "invalid_json", "request body: not a JSON object"));
        return std::nullopt;
    }
    return doc;
}

// The {id} of /conversations/{id}/…; answers 404 itself when it is not an id.
inline std::optional<std::int64_t> conversation_id(const Call& call) {
    auto id = parse_id(call.params.at(0));
    if (!id) call.exchange->respond(http::error_response(404, "not_found", "no such conversation"));
    return id;
}

// A string member, nullopt when absent; false when present but not a string.
inline bool optional_string(const rapidjson::Document& doc, const char* name,
                            std::optional<std::string>& out) {
    auto it = doc.FindMember(name);
    if (it == doc.MemberEnd()) return true;
    if (!it->value.IsString()) return false;
    out = std::string(it->value.GetString(), it->value.GetStringLength());
    return true;
}

}  // namespace sb::api
