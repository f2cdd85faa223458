// Durations ("30s", "5m", "72h", "7d", "250ms") and sizes ("25MiB", "10MB", "1024") as the
// configuration writes them (CONTRACTS.md 4).
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace common {
// Accepts an unsigned integer followed by ms, s, m, h or d. A bare number is rejected: a
// duration always carries its unit. nullopt on anything else or on overflow.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// Accepts an unsigned integer (bytes) optionally followed by B, KB, MB, GB (powers of 1000)
// or KiB, MiB, GiB (powers of 1024). nullopt on anything else or on overflow.
std::optional<uint64_t> parse_size(std::string_view text);
// "300s"-style text for a duration, for log lines and error messages.
std::string format_duration(std::chrono::milliseconds d);
}  // namespace common
