// The cost of the plugin ABI (DESIGN §7: a call through it costs ≤ 1.1× the same code linked
// in). The Telegram plugin's sources are compiled into this binary too, so every call is made
// twice through the very same host code (plugin_host::Channel: C views of the request, the
// services table, host-owned outputs): once into telegram.so loaded the way the daemon loads
// it, once into the linked-in copy. A third variant calls the plugin's C++ translation
// directly, with no ABI at all, to show what the C boundary itself adds.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include <switchboard/plugin_abi.h>

#include "common/bench_common.hpp"
#include "inbound.hpp"
#include "plugin_host/channel.hpp"
#include "plugin_host/loader.hpp"
#include "util/time.hpp"

extern "C" const sb_plugin_v1* sb_plugin_entry_v1(void);

namespace {

using sb::plugin_host::Channel;
using sb::plugin_host::HeaderView;

sb::config::ChannelConfig channel_config() {
    sb::config::ChannelConfig config;
    config.id = "tg-bench";
    config.plugin = "telegram";
    config.settings_json =
        R"({"bot_token":"123456:bench","secret_token":"bench-secret","api_base":"http://127.0.0.1:9"})";
    return config;
}

std::shared_ptr<Channel> loaded_channel() {
    static std::shared_ptr<Channel> channel = [] {
        const char* path = std::getenv("SB_TELEGRAM_PLUGIN");
        std::string error;
        auto plugin = sb::plugin_host::load_plugin(path ? path : SB_TELEGRAM_PLUGIN_PATH, error);
        if (!plugin) {
            std::fprintf(stderr, "cannot load the Telegram plugin: %s\n", error.c_str());
            std::exit(1);
        }
        return Channel::open(channel_config(), plugin);
    }();
    return channel;
}

std::shared_ptr<Channel> linked_channel() {
    static std::shared_ptr<Channel> channel =
        Channel::open(channel_config(),
                      std::make_shared<sb::plugin_host::Plugin>(nullptr, sb_plugin_entry_v1(), "linked-in"));
    return channel;
}

Channel& channel_for(const benchmark::State& state) {
    return state.range(0) == 0 ? *loaded_channel() : *linked_channel();
}

const char* label(const benchmark::State& state) { return state.range(0) == 0 ? "telegram.so" : "linked-in"; }

sb::store::InboundRequest webhook() {
    sb::bench::TelegramText m;
    m.update_id = 123456789;
    m.message_id = 4242;
    m.text = "Hello, I need help with order #4242";
    sb::store::InboundRequest request;
    request.channel_id = "tg-bench";
    request.method = "POST";
    request.target = "/webhooks/tg-bench";
    request.headers =
        "Host: 127.0.0.1:8080\nContent-Type: application/json\nContent-Length: 300\n"
        "X-Telegram-Bot-Api-Secret-Token: bench-secret\n";
    request.body = sb::bench::telegram_update(m);
    return request;
}

void BM_Verify(benchmark::State& state) {
    Channel& channel = channel_for(state);
    auto request = webhook();
    auto headers = sb::plugin_host::decode_headers(request.headers);
    for (auto _ : state) {
        auto outcome = channel.verify(request.method, request.target, headers, request.body);
        benchmark::DoNotOptimize(outcome);
        if (outcome.verdict != SB_VERIFY_ACCEPT) state.SkipWithError("verify refused the webhook");
    }
    state.SetLabel(label(state));
}
BENCHMARK(BM_Verify)->Arg(0)->Arg(1);

void BM_Parse(benchmark::State& state) {
    Channel& channel = channel_for(state);
    auto request = webhook();
    for (auto _ : state) {
        auto outcome = channel.parse(request);
        benchmark::DoNotOptimize(outcome);
        if (!outcome.ok) state.SkipWithError("parse failed");
    }
    state.SetLabel(label(state));
}
BENCHMARK(BM_Parse)->Arg(0)->Arg(1);

// The translation alone, called as C++: what the plugin does without any boundary.
void BM_ParseNoAbi(benchmark::State& state) {
    auto request = webhook();
    for (auto _ : state) {
        auto events = sb::telegram::normalize_update(request.body, sb::util::now_ms());
        benchmark::DoNotOptimize(events);
    }
}
BENCHMARK(BM_ParseNoAbi);

void BM_BuildSend(benchmark::State& state) {
    Channel& channel = channel_for(state);
    const std::string outbound =
        R"({"v":1,"conversation":{"id":"777"},"recipient":{"id":"777"},)"
        R"("content":{"type":"text","text":"Thanks for waiting, here is your answer"}})";
    for (auto _ : state) {
        auto outcome = channel.build_send(outbound);
        benchmark::DoNotOptimize(outcome);
        if (outcome.status != SB_OK) state.SkipWithError("build_send failed");
    }
    state.SetLabel(label(state));
}
BENCHMARK(BM_BuildSend)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
