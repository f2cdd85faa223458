// The fuzz targets' invariant check. By default (CTest, CI) a violated invariant prints what broke
// and aborts, which libFuzzer records as a crash with its input. In a long campaign
// (scripts/fuzz sets SMTP_BRIDGE_FUZZ_KEEP_GOING=DIR) a known violation must not end the search
// for the next one: the first input breaking each check is saved as DIR/check-<line>-<target> and
// the run goes on.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

namespace fuzz {

struct Input {
  const uint8_t* data = nullptr;
  size_t size = 0;
};
inline Input& current_input() {
  static Input input;
  return input;
}
// Called first in each LLVMFuzzerTestOneInput, so that a check can save the input it breaks.
inline void set_input(const uint8_t* data, size_t size) {
  current_input() = Input{data, size};
}

inline const char* keep_going_dir() {
  static const char* dir = std::getenv("SMTP_BRIDGE_FUZZ_KEEP_GOING");
  return dir;
}

inline bool keep_going() {
  return keep_going_dir() != nullptr && *keep_going_dir() != '\0';
}

// Whether a violation of the check at `line` is reported: always, or once per check when going on.
inline bool first_violation(int line) {
  static std::set<int> seen;
  return !keep_going() || seen.insert(line).second;
}

// After the message was printed: abort, or save the input and go on.
inline void violated(const char* file, int line) {
  if (!keep_going()) std::abort();
  const char* dir = keep_going_dir();
  std::string base(file);
  base = base.substr(base.find_last_of('/') + 1);
  std::string path = std::string(dir) + "/check-" + std::to_string(line) + "-" + base + ".input";
  if (std::FILE* out = std::fopen(path.c_str(), "wb")) {
    const Input& input = current_input();
    if (input.size > 0) std::fwrite(input.data, 1, input.size, out);
    std::fclose(out);
    std::fprintf(stderr, "FUZZ_CHECK input saved: %s\n", path.c_str());
  }
}

}  // namespace fuzz

#define FUZZ_CHECK(condition, ...)                                                              \
  do {                                                                                          \
    if (!(condition) && fuzz::first_violation(__LINE__)) {                                      \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s: ", __FILE__, __LINE__, #condition); \
      std::fprintf(stderr, __VA_ARGS__);                                                        \
      std::fprintf(stderr, "\n");                                                               \
      fuzz::violated(__FILE__, __LINE__);                                                       \
    }                                                                                           \
  } while (0)
