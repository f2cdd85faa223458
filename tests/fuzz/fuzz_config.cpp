// libFuzzer target: the YAML configuration loader (config::load_string: yaml-cpp, then the typed
// reader with its units, choices and cross-checks). A config error is a value: findings are a
// crash, sanitizer report or escaped exception, a result with both a config and errors (or
// neither), and an error without a message. Inputs naming a *_file key are skipped: the loader
// would read that path, and a fuzzer that finds /dev/zero only measures the machine's memory.
#include <cstdint>
#include <string_view>

#include "config/config.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  if (yaml.find("_file") != std::string_view::npos) return 0;
  config::LoadResult result = config::load_string(yaml);
  FUZZ_CHECK(result.config.has_value() == result.errors.empty(), "%zu errors, config %s",
             result.errors.size(), result.config ? "set" : "unset");
  for (const config::Error& error : result.errors) {
    FUZZ_CHECK(!error.message.empty(), "error without a message at key '%s'", error.key.c_str());
    FUZZ_CHECK(error.line >= 0, "negative line");
    (void)error.to_string();
  }
  return 0;
}
