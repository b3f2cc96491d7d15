// The REST body parser: switchboard::json::parse, the hardened reader the daemon uses for every
// API body and WebSocket frame (and plugins for webhooks), with the limits the daemon uses.
// Oracles besides ASan and UBSan: an accepted document nests no deeper than the limit (the
// daemon's writers and readers recurse on it), it writes back as JSON that the reader accepts
// again (not compared value for value: RapidJSON's default number parse may round the last
// bit), and a refusal names what was read.

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <switchboard/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace {

// The nesting of `root`, counted without recursion.
int depth_of(const rapidjson::Value& root) {
    int deepest = 0;
    std::vector<std::pair<const rapidjson::Value*, int>> stack{{&root, 0}};
    while (!stack.empty()) {
        auto [value, depth] = stack.back();
        stack.pop_back();
        if (value->IsObject()) {
            if (depth + 1 > deepest) deepest = depth + 1;
            for (const auto& member : value->GetObject()) stack.emplace_back(&member.value, depth + 1);
        } else if (value->IsArray()) {
            if (depth + 1 > deepest) deepest = depth + 1;
            for (const auto& element : value->GetArray()) stack.emplace_back(&element, depth + 1);
        }
    }
    return deepest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const switchboard::json::Limits limits;
    rapidjson::Document doc;
    if (auto error = switchboard::json::parse(doc, body, "request body", limits)) {
        if (!std::string_view(*error).starts_with("request body: ")) __builtin_trap();
        return 0;
    }
    if (depth_of(doc) > limits.max_depth) __builtin_trap();

    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    if (!doc.Accept(writer)) __builtin_trap();
    rapidjson::Document again;
    if (switchboard::json::parse(again, {buffer.GetString(), buffer.GetSize()}, "written back", limits))
        __builtin_trap();
    return 0;
}
