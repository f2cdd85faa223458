// Names the calling thread (at most 15 bytes, as Linux allows), so that `top -H`, `ps -L`, gdb
// and perf tell the bridge's threads apart: smtp-io, store-writer, dispatch-N, relay-io, ...
#pragma once
#include <string>

namespace common {
void name_this_thread(const std::string& name);
}  // namespace common
