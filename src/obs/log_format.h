// Internal to obs and its tests: how one log line is built, apart from writing it, so that the
// format can be tested without capturing stdout. Other components include log.h only.
#pragma once
#include <string>
#include <string_view>

#include "common/time.h"
#include "obs/log.h"

namespace obs {

// "debug" | "info" | "warn" | "error".
const char* level_name(Level level);

// {"ts":…,"level":…,"msg":…, then each field of `fields`} and a trailing newline. "ts", "level"
// and "msg" win over fields of the same name; a `fields` value that is not an object is kept
// under "fields". Invalid UTF-8 anywhere becomes U+FFFD instead of throwing.
std::string format_log_line(Level level, std::string_view msg, const nlohmann::json& fields,
                            common::Clock::time_point now);

}  // namespace obs
