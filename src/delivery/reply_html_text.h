// The text of an HTML body for reply extraction (reply_html.cpp): what a reader sees, one line per
// block element and <br>, whitespace collapsed as HTML renders it (kept in <pre>), no script,
// style or head. Fed by the parser's events, one element or text run at a time.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace delivery::reply {

enum class Tag { other, br, block, pre, cell, skipped };
Tag tag_of(std::string_view name);  // name in lower case, as libxml2's HTML parser gives it

class TextWriter {
 public:
  void enter(Tag tag);
  void leave(Tag tag);
  void text(std::string_view s);
  // Drops what was written from `size` on (a removed attribution): no open block began there.
  void truncate(size_t size) {
    out_.resize(size);
    space_ = false;
  }
  const std::string& out() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void line_break();

  std::string out_;
  std::vector<size_t> starts_;  // out_'s size where each open block element began
  bool space_ = false;
  int pre_ = 0;
};

}  // namespace delivery::reply
