// JSON log lines on stdout: one object per line with "ts", "level", "msg" and the fields given.
// Passwords and API keys are never passed here (callers' rule; see SMTP.md AUTH), except the API
// key the bridge generates when none is configured, shown once by design (CONTRACTS.md 4).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace obs {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

// "debug" | "info" | "warn" | "error"; false for anything else.
bool parse_level(std::string_view text, Level& level);
void set_level(Level level);
bool enabled(Level level);

// Writes {"ts":"…","level":"…","msg":msg, ...fields} and a newline atomically (one write).
void log(Level level, std::string_view msg,
         const nlohmann::json& fields = nlohmann::json::object());
// The same line whatever the configured level: for what start-up must show in any case.
void log_always(Level level, std::string_view msg,
                const nlohmann::json& fields = nlohmann::json::object());
inline void debug(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) {
  log(Level::debug, msg, f);
}
inline void info(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) {
  log(Level::info, msg, f);
}
inline void warn(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) {
  log(Level::warn, msg, f);
}
inline void error(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) {
  log(Level::error, msg, f);
}

}  // namespace obs
