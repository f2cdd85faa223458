// The DATA phase byte handling (RFC 5321 4.1.1.4, 4.5.2): finds the one true end of data
// CR LF . CR LF, removes dot-stuffing, and checks line length, size and bare line ends without
// ever ending early (SMTP smuggling: SMTP-CASES.md 1). Pure: bytes in, message bytes out.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace smtp {

// The first rule a message broke; the session answers it after the real terminator.
enum class Verdict { ok, too_big, line_too_long, bare_line_end };

struct ContentLimits {
  uint64_t max_size = 25u << 20;      // message bytes after unstuffing
  size_t max_line = 1000;             // including CR LF; RFC 5321 4.5.3.1.6
  bool reject_bare_line_ends = true;  // bare LF or bare CR anywhere → Verdict::bare_line_end
  bool check_lines = true;            // false for BODY=BINARYMIME (BDAT): no line length and
                                      // no bare line end checks, only the size
};

// Checks message bytes for the content rules; used directly by BDAT and by DataReader.
class ContentChecker {
 public:
  explicit ContentChecker(const ContentLimits& limits) : limits_(limits) {}
  void feed(std::string_view bytes);
  // End of the message (BDAT LAST): a CR as the very last byte is a bare CR. Not needed after
  // DataReader, whose message always ends with CR LF.
  void finish();
  Verdict verdict() const { return verdict_; }
  uint64_t size() const { return size_; }

 private:
  void scan_lines(std::string_view text);
  void fail(Verdict v) {
    if (verdict_ == Verdict::ok) verdict_ = v;
  }
  ContentLimits limits_;
  Verdict verdict_ = Verdict::ok;
  uint64_t size_ = 0;
  size_t line_length_ = 0;   // bytes of the current line so far, excluding its CR LF
  bool pending_cr_ = false;  // the last byte seen was CR
};

class DataReader {
 public:
  explicit DataReader(const ContentLimits& limits);

  // Consumes bytes of the DATA stream. Returns how many were consumed: all of `input`, or, once
  // the terminating CR LF . CR LF is seen, the bytes up to and including it (the rest belongs to
  // the commands that follow). Unstuffed message bytes are appended to message() until the size
  // limit is passed; after that they are counted but not kept (message() is emptied then: the
  // session only answers 552).
  size_t feed(std::string_view input);
  bool done() const { return state_ == State::done; }
  Verdict verdict() const { return checker_.verdict(); }
  // The message as sent: every line with its line ending, without the terminating ".\r\n".
  std::string& message() { return message_; }
  uint64_t size() const { return checker_.size(); }

 private:
  // Position relative to the last CR LF: at line start, after ".", after ".\r", in a line,
  // after a CR inside a line.
  enum class State { line_start, dot, dot_cr, in_line, cr, done };
  void emit(std::string_view bytes);
  ContentLimits limits_;
  ContentChecker checker_;
  State state_ = State::line_start;
  std::string message_;
};

}  // namespace smtp
