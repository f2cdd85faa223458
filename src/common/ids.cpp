// UUIDv7: 48-bit Unix milliseconds, version 7, 12-bit monotonic counter (RFC 9562 6.2 method 1),
// variant 10, 62 random bits.
#include "common/ids.h"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace common {

std::string uuid_v7() {
  static std::mutex mutex;
  static std::mt19937_64 random{std::random_device{}()};
  static uint64_t last_ms = 0;
  static uint16_t counter = 0;

  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  uint64_t rand_a;
  uint64_t rand_b;
  {
    std::lock_guard lock(mutex);
    if (ms <= last_ms) {
      ms = last_ms;
      if (++counter > 0x0fff) {  // counter exhausted: borrow the next millisecond
        ++ms;
        counter = 0;
      }
    } else {
      counter = static_cast<uint16_t>(random() & 0x01ff);  // leave room to count up
    }
    last_ms = ms;
    rand_a = counter;
    rand_b = random();
  }
  uint8_t bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  bytes[6] = static_cast<uint8_t>(0x70 | ((rand_a >> 8) & 0x0f));
  bytes[7] = static_cast<uint8_t>(rand_a);
  for (int i = 0; i < 8; ++i) bytes[8 + i] = static_cast<uint8_t>(rand_b >> (56 - 8 * i));
  bytes[8] = static_cast<uint8_t>(0x80 | (bytes[8] & 0x3f));

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0x0f]);
  }
  return out;
}

}  // namespace common
