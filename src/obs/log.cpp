// JSON log lines on stdout. Each line is built in full, then written with write(2) under a mutex,
// so lines from different threads never interleave, and a bad byte in a field never throws.
#include "obs/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>

#include "obs/log_format.h"

namespace obs {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::mutex g_write_mutex;

// Compact JSON; invalid UTF-8 is replaced (U+FFFD) rather than thrown as type_error 316.
std::string dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write_all(const std::string& line) {
  std::lock_guard lock(g_write_mutex);
  std::fflush(stdout);  // whatever others printed through stdio goes first
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t written = ::write(STDOUT_FILENO, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return;  // stdout is gone; logging must not take the process down
    }
    data += written;
    left -= static_cast<size_t>(written);
  }
}

}  // namespace

const char* level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

bool parse_level(std::string_view text, Level& level) {
  for (Level candidate : {Level::debug, Level::info, Level::warn, Level::error}) {
    if (text == level_name(candidate)) {
      level = candidate;
      return true;
    }
  }
  return false;
}

void set_level(Level level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

std::string format_log_line(Level level, std::string_view msg, const nlohmann::json& fields,
                            common::Clock::time_point now) {
  std::string line = "{\"ts\":\"" + common::rfc3339_utc(now) + "\",\"level\":\"" +
                     level_name(level) + "\",\"msg\":" + dump(std::string(msg));
  auto append_field = [&line](const std::string& key, const nlohmann::json& value) {
    line += ',';
    line += dump(key);
    line += ':';
    line += dump(value);
  };
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) {
      if (key == "ts" || key == "level" || key == "msg") continue;
      append_field(key, value);
    }
  } else if (!fields.is_null()) {
    append_field("fields", fields);
  }
  line += "}\n";
  return line;
}

void log(Level level, std::string_view msg, const nlohmann::json& fields) {
  if (enabled(level)) log_always(level, msg, fields);
}

void log_always(Level level, std::string_view msg, const nlohmann::json& fields) {
  write_all(format_log_line(level, msg, fields, common::Clock::now()));
}

}  // namespace obs
