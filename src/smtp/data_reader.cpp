// DATA stream handling (RFC 5321 4.1.1.4, 4.5.2): only CR LF . CR LF ends the data, stuffed dots
// are removed, and content rules are checked in byte order so that the first violation wins.
// Scans with memchr and appends in bulk; results never depend on how the bytes were split.
#include "smtp/data_reader.h"

#include <cstdint>
#include <cstring>

namespace smtp {

void ContentChecker::feed(std::string_view bytes) {
  const uint64_t before = size_;
  size_ += bytes.size();
  if (verdict_ != Verdict::ok) return;
  // While the verdict is ok, before <= max_size. Only the bytes up to the one that passes the
  // limit are checked for line rules: a line violation there came first, else too_big did.
  const bool over = size_ > limits_.max_size;
  if (over) bytes = bytes.substr(0, static_cast<size_t>(limits_.max_size - before));
  if (limits_.check_lines) scan_lines(bytes);
  if (over) fail(Verdict::too_big);
}

void ContentChecker::finish() {
  if (pending_cr_ && limits_.check_lines && limits_.reject_bare_line_ends)
    fail(Verdict::bare_line_end);
  pending_cr_ = false;
}

// Walks the bytes one LF-free segment at a time. A CR counts as line content unless an LF
// follows it; a CR at the very end is held in pending_cr_ until the next byte is known.
void ContentChecker::scan_lines(std::string_view text) {
  const bool strict = limits_.reject_bare_line_ends;
  const size_t max_content =
      limits_.max_line >= 2 ? limits_.max_line - 2 : 0;  // RFC 5321 4.5.3.1.6
  const char* base = text.data();
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const void* found = std::memchr(base + i, '\n', n - i);
    const size_t end = found ? static_cast<size_t>(static_cast<const char*>(found) - base) : n;
    if (end > i) {
      if (pending_cr_) {  // a CR followed by something other than LF
        pending_cr_ = false;
        if (strict) return fail(Verdict::bare_line_end);
        if (++line_length_ > max_content) return fail(Verdict::line_too_long);
      }
      size_t content_end = end;
      if (base[end - 1] == '\r') {
        --content_end;
        pending_cr_ = !found;
      }
      const size_t length = content_end - i;
      size_t bare_at = SIZE_MAX, long_at = SIZE_MAX;  // offsets of the first violations
      if (strict) {
        const void* cr = std::memchr(base + i, '\r', length);
        if (cr) bare_at = static_cast<size_t>(static_cast<const char*>(cr) - (base + i));
      }
      if (line_length_ + length > max_content) long_at = max_content - line_length_;
      if (bare_at != SIZE_MAX || long_at != SIZE_MAX) {
        return fail(bare_at <= long_at ? Verdict::bare_line_end : Verdict::line_too_long);
      }
      line_length_ += length;
    }
    if (!found) return;
    const bool after_cr = end > 0 ? base[end - 1] == '\r' : pending_cr_;
    if (!after_cr && strict) return fail(Verdict::bare_line_end);  // bare LF
    line_length_ = 0;
    pending_cr_ = false;
    i = end + 1;
  }
}

DataReader::DataReader(const ContentLimits& limits) : limits_(limits), checker_(limits) {}

void DataReader::emit(std::string_view bytes) {
  if (bytes.empty()) return;
  checker_.feed(bytes);
  if (checker_.size() <= limits_.max_size) {
    message_.append(bytes);
  } else if (message_.capacity() != 0) {
    std::string().swap(message_);  // too big: only counted from now on
  }
}

size_t DataReader::feed(std::string_view input) {
  const char* base = input.data();
  const size_t n = input.size();
  if (n == 0 || state_ == State::done) return 0;
  if (state_ == State::dot_cr) {  // "CR LF . CR" ended the previous call
    if (base[0] == '\n') {
      state_ = State::done;
      return 1;
    }
    emit("\r");  // RFC 5321 4.5.2: the dot was stuffing; the CR is content
    state_ = State::cr;
  }
  size_t i = 0;
  size_t span = 0;  // first input byte not yet emitted
  while (i < n) {
    switch (state_) {
      case State::in_line: {
        const void* cr = std::memchr(base + i, '\r', n - i);
        if (!cr) {
          i = n;
          break;
        }
        i = static_cast<size_t>(static_cast<const char*>(cr) - base) + 1;
        state_ = State::cr;
        break;
      }
      case State::cr: {
        const char c = base[i++];
        state_ = c == '\n' ? State::line_start : c == '\r' ? State::cr : State::in_line;
        break;
      }
      case State::line_start:
        if (base[i] == '.') {  // dropped: either stuffing (4.5.2) or the end-of-data line
          emit(input.substr(span, i - span));
          span = ++i;
          state_ = State::dot;
        } else {
          state_ = State::in_line;
        }
        break;
      case State::dot:
        if (base[i] == '\r') {
          ++i;
          state_ = State::dot_cr;
        } else {
          state_ = State::in_line;  // the byte after a stuffed dot is plain line content
        }
        break;
      case State::dot_cr:
        if (base[i] == '\n') {  // RFC 5321 4.1.1.4: CR LF . CR LF, the only end of data
          state_ = State::done;
          return i + 1;  // the held CR (input[span]) is dropped with the dot
        }
        state_ = State::cr;  // the held CR stays in the span as content
        break;
      case State::done:
        return i;
    }
  }
  // A trailing "CR LF . CR" keeps its CR back until the next byte shows what it is.
  emit(input.substr(span, (state_ == State::dot_cr ? n - 1 : n) - span));
  return n;
}

}  // namespace smtp
