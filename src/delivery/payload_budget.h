// The size bound of a bridge.v1 document (issue 11, amplification): how many bytes RapidJSON's
// Writer makes of a string, where to cut one so that it makes at most N, and the one length cap
// (a "water level") that brings the strings made from header fields within a pool of bytes.
// Header-only helpers of payload.cpp, pure; header_costs must list what payload.cpp writes.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string_view>
#include <vector>

#include "mime/message.h"

namespace delivery::budget {

// Bytes of one character of a JSON string as RapidJSON 1.1's Writer escapes it (RFC 8259 7):
// '"' and '\' take 2, \b \t \n \f \r 2, the other C0 controls 6 (\u00XX), the rest 1.
inline size_t escaped_byte(unsigned char c) {
  if (c >= 0x20) return c == '"' || c == '\\' ? 2 : 1;
  return c == '\b' || c == '\t' || c == '\n' || c == '\f' || c == '\r' ? 2 : 6;
}

// The bytes of `s` inside the quotes of its JSON string. Eight bytes at a time: a word without a
// control character, '"' or '\' (the usual case in text) counts 8 (bit tricks of "Bit Twiddling
// Hacks": hasless, haszero); a main body is measured before it is written.
inline size_t escaped_size(std::string_view s) {
  constexpr uint64_t kOnes = ~uint64_t{0} / 255, kHigh = kOnes * 128;
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  size_t n = 0, i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    uint64_t special = ((w - kOnes * 0x20) & ~w & kHigh) | has_zero(w ^ (kOnes * '"')) |
                       has_zero(w ^ (kOnes * '\\'));
    if (special == 0) {
      n += 8;
      continue;
    }
    for (size_t k = 0; k < 8; ++k) n += escaped_byte(static_cast<unsigned char>(s[i + k]));
  }
  for (; i < s.size(); ++i) n += escaped_byte(static_cast<unsigned char>(s[i]));
  return n;
}

// The longest prefix of valid UTF-8 `s` whose JSON takes at most `max` bytes, ending on a
// character boundary.
inline size_t escaped_prefix(std::string_view s, size_t max) {
  size_t used = 0, end = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) end = i;  // a character starts here: the prefix may end before it
    used += escaped_byte(c);
    if (used > max) return end;
  }
  return s.size();
}

// The largest length L such that the costs, each cut to L, sum to at most `pool`; SIZE_MAX when
// they fit whole. Short strings stay whole, only the longest are cut, all to the same length.
inline size_t water_level(std::vector<size_t> costs, size_t pool) {
  size_t total = std::accumulate(costs.begin(), costs.end(), size_t{0});
  if (total <= pool) return SIZE_MAX;
  std::sort(costs.begin(), costs.end());
  size_t used = 0;
  for (size_t i = 0; i < costs.size(); ++i) {
    size_t rest = costs.size() - i;
    if (costs[i] > (pool - used) / rest) return (pool - used) / rest;
    used += costs[i];
  }
  return SIZE_MAX;
}

inline  // The JSON bytes of the labels payload.cpp writes for a part (in parts and in attachments).
    void
    add_label_costs(std::vector<size_t>& costs, const mime::Part& part) {
  for (const std::string* label :
       {&part.content_id, &part.content_type, &part.disposition, &part.filename})
    costs.push_back(budget::escaped_size(*label));
}

inline  // The JSON bytes of every string payload.cpp's write_message writes from header fields, in
        // any
    // order: what the water level is computed over.
    std::vector<size_t>
    header_costs(const mime::Message& message, const std::vector<int>& attachments,
                 bool has_subject) {
  std::vector<size_t> costs;
  auto add = [&costs](std::string_view s) { costs.push_back(budget::escaped_size(s)); };
  for (const mime::Part& part : message.parts) {
    for (const mime::Header& header : part.headers) {
      add(header.name);
      add(header.value);
    }
  }
  for (const auto* list :
       {&message.from, &message.to, &message.cc, &message.bcc, &message.reply_to})
    for (const mime::Address& a : *list) {
      add(a.name);
      add(a.address);
    }
  if (message.sender) {
    add(message.sender->name);
    add(message.sender->address);
  }
  if (has_subject) add(message.subject);
  add(message.message_id);
  for (const std::string& id : message.in_reply_to) add(id);
  for (const std::string& id : message.references) add(id);
  // The parts tree: every part but a multipart root (whose children stand for it).
  bool root_entry = message.parts.empty() || !message.parts[0].is_multipart() ||
                    message.parts[0].children.empty();
  for (size_t i = root_entry ? 0 : 1; i < message.parts.size(); ++i) {
    add_label_costs(costs, message.parts[i]);
    add(message.parts[i].charset);
    add(message.parts[i].transfer_encoding);
  }
  for (int index : attachments) add_label_costs(costs, message.parts[index]);
  return costs;
}

}  // namespace delivery::budget
