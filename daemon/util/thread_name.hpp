#pragma once
// Names the calling thread for top -H, perf, gdb and /proc/<pid>/task/*/comm ("sb-inbound",
// "sb-io-1"…). Linux keeps 15 characters; longer names are cut. Never call it on the main
// thread: its name is the process's name in ps and the journal.

#include <pthread.h>

#include <string>

namespace sb::util {

inline void name_this_thread(const std::string& name) {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace sb::util
