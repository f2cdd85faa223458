#include "common/thread_name.h"

#include <pthread.h>

namespace common {
void name_this_thread(const std::string& name) {
  // The kernel keeps 15 bytes and a NUL; a longer name would make the call fail.
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}
}  // namespace common
