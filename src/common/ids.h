// Message and delivery ids: UUIDv7 (RFC 9562), time-ordered so that store rows sort by arrival.
#pragma once
#include <string>

namespace common {
// Returns a new UUIDv7 in its canonical 36-character lower-case form. Thread-safe; ids made
// by one process within one millisecond still sort in the order they were made.
std::string uuid_v7();
}  // namespace common
