#pragma once
// The services table the host gives every plugin instance, and the per-call state behind the
// opaque sb_call handle. Internal to plugin_host.

#include <optional>
#include <string>
#include <vector>

#include <switchboard/plugin_abi.h>

#include "http_client/client.hpp"

struct sb_call {
    std::vector<std::string>* events = nullptr;  // emit_event target, if the call takes events
    std::optional<sb::http_client::Request>* request = nullptr;   // submit_request target
    std::vector<sb::http_client::Request>* follow_ups = nullptr;  // submit_request during parse
    struct Answer {
        bool set = false;
        int status = 200;
        std::string content_type;
        std::string body;
    }* answer = nullptr;            // respond target
    std::string* reason = nullptr;  // refuse_reason target (verify, ABI 1.2)
};

namespace sb::plugin_host {

const sb_host_services* host_services();

}  // namespace sb::plugin_host
