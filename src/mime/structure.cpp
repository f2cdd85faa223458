// mime::parse: the part tree as a flat table of offsets into `raw` (no copies of bodies).
// Multipart bodies are split at boundary lines (RFC 2046 5.1.1), message/rfc822 bodies become one
// embedded message (RFC 2046 5.2.1); nesting uses an explicit stack bounded by Limits::max_depth,
// and each level scans only its own range (memchr for '-'), so time stays linear and bounded.
#include <cstring>

#include "mime/internal.h"

namespace mime {
namespace {

using detail::add_defect;

struct Range {
  size_t begin, end;
};

struct Split {
  std::vector<Range> parts;
  size_t preamble_end = 0;
  size_t epilogue_begin = 0;
  bool found = false, closed = false;
};

// Offset of the line break that ends the line before `pos` (CRLF or bare LF), not below `floor`.
size_t line_break_before(std::string_view raw, size_t pos, size_t floor) {
  if (pos > floor && raw[pos - 1] == '\n') {
    --pos;
    if (pos > floor && raw[pos - 1] == '\r') --pos;
  }
  return pos;
}

// Checks the text after "--boundary" at `after` (RFC 2046 5.1.1): a delimiter line is
// "--" boundary, then a close delimiter's "--", then transport padding (LWSP), then the line
// end (or the end of the range). Anything else after the boundary means the line is not this
// boundary's delimiter: a longer boundary that merely starts the same ("b_alt", "b--alt" of a
// nested multipart), or body text.
bool delimiter_line(std::string_view raw, size_t after, size_t end, bool* close,
                    size_t* next_line) {
  *close = after + 1 < end && raw[after] == '-' && raw[after + 1] == '-';
  size_t i = *close ? after + 2 : after;
  while (i < end && detail::is_wsp(raw[i])) ++i;
  if (i < end && raw[i] == '\r') ++i;
  if (i < end && raw[i] != '\n') return false;
  *next_line = i < end ? i + 1 : end;
  return true;
}

// The first "--boundary" in [pos, end) that starts a line (or starts the range at `begin`). Scans
// for '-' with memchr, many times faster than memmem over base64, which never contains one; a
// dash is compared further only at a line start, so time stays linear even in a body of dashes.
size_t find_delimiter(std::string_view raw, size_t begin, size_t pos, size_t end,
                      std::string_view delimiter) {
  const char* base = raw.data();
  while (pos < end && end - pos >= delimiter.size()) {
    const void* dash = std::memchr(base + pos, '-', end - pos - delimiter.size() + 1);
    if (dash == nullptr) break;
    size_t at = static_cast<const char*>(dash) - base;
    if ((at == begin || raw[at - 1] == '\n') && raw.compare(at, delimiter.size(), delimiter) == 0)
      return at;
    pos = at + 1;
  }
  return std::string_view::npos;
}

// RFC 2046 5.1.1: a delimiter is "--boundary" at the start of a line. Only [begin, end) is
// searched, so the delimiters of enclosing multiparts (already cut away) can never be taken for
// ours.
Split split_multipart(std::string_view raw, size_t begin, size_t end, std::string_view boundary,
                      size_t max_parts) {
  Split split;
  std::string delimiter = "--" + std::string(boundary);
  size_t pos = begin;
  size_t part_begin = 0;
  bool in_part = false;
  while (pos < end) {
    size_t at = find_delimiter(raw, begin, pos, end, delimiter);
    if (at == std::string_view::npos) break;
    bool close = false;
    size_t next_line = 0;
    if (!delimiter_line(raw, at + delimiter.size(), end, &close, &next_line)) {
      pos = at + 1;
      continue;
    }
    size_t before = line_break_before(raw, at, in_part ? part_begin : begin);
    if (!split.found) split.preamble_end = before;
    if (in_part) split.parts.push_back({part_begin, before});
    split.found = true;
    if (close) {
      split.closed = true;
      split.epilogue_begin = next_line;
      return split;
    }
    if (split.parts.size() + 1 >= max_parts) {  // the rest stays in the last body
      split.parts.push_back({next_line, end});
      split.epilogue_begin = end;
      return split;
    }
    part_begin = next_line;
    in_part = true;
    pos = next_line;
  }
  if (in_part) split.parts.push_back({part_begin, end});
  split.epilogue_begin = end;
  return split;
}

std::string child_number(const std::string& prefix, size_t index) {
  return prefix.empty() ? std::to_string(index + 1) : prefix + "." + std::to_string(index + 1);
}

class Parser {
 public:
  Parser(std::string_view raw, const Limits& limits, Message& m)
      : raw_(raw), limits_(limits), m_(m), context_(limits, raw.size(), &m.defects) {}

  void run() {
    detect_bare_lf();
    int root = add_part(-1, {0, raw_.size()}, 0, "", false, true);
    stack_.push_back({root, {}, 0});
    expand(stack_.back());
    while (!stack_.empty()) {
      Frame& frame = stack_.back();
      if (frame.next >= frame.children.size()) {
        stack_.pop_back();
        continue;
      }
      size_t index = frame.next++;
      int parent = frame.part;
      const Part& p = m_.parts[parent];
      bool digest = p.content_type == "multipart/digest";
      bool embedded = p.is_message();
      std::string prefix = prefixes_[parent];
      int child = add_part(parent, frame.children[index], p.depth + 1,
                           embedded ? "" : child_number(prefix, index), digest, false);
      if (embedded) {
        // RFC 3501 6.4.5: an embedded message's body is N.1 when it is not multipart, N.TEXT
        // when it is (its parts are then N.1, N.2, ...).
        Part& e = m_.parts[child];
        e.number = prefix + (e.is_multipart() ? ".TEXT" : ".1");
        prefixes_[child] = e.is_multipart() ? prefix : e.number;
      }
      Frame next{child, {}, 0};
      expand(next);
      if (!next.children.empty() || m_.parts[child].is_message()) stack_.push_back(std::move(next));
    }
  }

 private:
  struct Frame {
    int part;
    std::vector<Range> children;
    size_t next;
  };

  void detect_bare_lf() {
    const char* base = raw_.data();
    size_t pos = 0;
    while (pos < raw_.size()) {
      const void* nl = std::memchr(base + pos, '\n', raw_.size() - pos);
      if (nl == nullptr) return;
      size_t lf = static_cast<const char*>(nl) - base;
      if (lf == 0 || base[lf - 1] != '\r') {
        add_defect(&m_.defects, "bare_lf");  // RFC 5322 2.3: lines end with CRLF
        return;
      }
      pos = lf + 1;
    }
  }

  int add_part(int parent, Range range, int depth, std::string number, bool digest_child,
               bool root) {
    int index = static_cast<int>(m_.parts.size());
    m_.parts.emplace_back();
    Part& part = m_.parts.back();
    part.parent = parent;
    part.depth = depth;
    part.number = std::move(number);
    part.begin = range.begin;
    part.end = range.end;
    // Header fields per part and for the whole message (Limits::max_message_header_fields).
    detail::HeaderBlock block = detail::split_header(
        raw_.substr(range.begin, range.end - range.begin),
        std::min(limits_.max_header_fields, context_.fields_left), &m_.defects);
    context_.fields_left -= std::min(context_.fields_left, block.fields.size());
    part.body_begin = range.begin + block.body_begin;
    detail::apply_header(part, block, digest_child, context_);
    if (root) detail::apply_summary(m_, block, context_);
    if (parent >= 0) m_.parts[parent].children.push_back(index);
    prefixes_.push_back(part.number);
    return index;
  }

  // Finds the children of a container part (multipart ranges, or the one embedded message).
  void expand(Frame& frame) {
    Part& part = m_.parts[frame.part];
    bool container = part.is_multipart() || part.is_message();
    if (!container) return;
    if (static_cast<size_t>(part.depth) >= limits_.max_depth) {
      add_defect(&m_.defects, "max_depth_exceeded");  // stays one leaf
      return;
    }
    if (reserved_ >= limits_.max_parts) {
      add_defect(&m_.defects, "too_many_parts");
      return;
    }
    if (part.is_message()) {
      expand_message(frame, part);
    } else {
      expand_multipart(frame, part);
    }
  }

  void expand_message(Frame& frame, Part& part) {
    // An encoded message/rfc822 (RFC 2046 5.2.1 forbids it) cannot be offsets into raw: a leaf.
    if (part.transfer_encoding == "base64" || part.transfer_encoding == "quoted-printable") {
      add_defect(&m_.defects, "encoded_message_part");
      return;
    }
    if (part.body_begin >= part.end) return;
    frame.children.push_back({part.body_begin, part.end});
    ++reserved_;
    // RFC 3501 6.4.5: the embedded message is numbered under this part's number ("1" for a
    // top-level message whose whole body is message/rfc822).
    prefixes_[frame.part] = part.number.empty() ? "1" : part.number;
  }

  void expand_multipart(Frame& frame, Part& part) {
    auto it = part.params.find("boundary");
    if (it == part.params.end() || it->second.empty()) {
      add_defect(&m_.defects, "missing_boundary");
      return;
    }
    size_t room = limits_.max_parts - reserved_;
    // Delimiters match the declared boundary bytes exactly, trailing spaces included, so a line
    // lacking one of them is body text. RFC 2046 5.1.1 ends a boundary in bcharsnospace because
    // gateways strip trailing white space: when the exact bytes never occur, retry without it.
    std::string_view boundary = it->second;
    Split split = split_multipart(raw_, part.body_begin, part.end, boundary, room);
    std::string_view stripped = boundary.substr(0, boundary.find_last_not_of(" \t") + 1);
    if (!split.found && !stripped.empty() && stripped.size() < boundary.size()) {
      add_defect(&m_.defects, "boundary_trailing_space");
      split = split_multipart(raw_, part.body_begin, part.end, stripped, room);
    }
    part.boundary = it->second;
    part.preamble_begin = part.body_begin;
    if (!split.found) {
      add_defect(&m_.defects, "boundary_not_found");
      part.preamble_end = part.end;
      part.epilogue_begin = part.epilogue_end = part.end;
      return;
    }
    if (!split.closed) add_defect(&m_.defects, "missing_closing_boundary");
    if (split.parts.size() >= room) add_defect(&m_.defects, "too_many_parts");
    part.preamble_end = split.preamble_end;
    part.epilogue_begin = split.epilogue_begin;
    part.epilogue_end = part.end;
    frame.children = std::move(split.parts);
    reserved_ += frame.children.size();
  }

  std::string_view raw_;
  const Limits& limits_;
  Message& m_;
  detail::ParseContext context_;
  std::vector<Frame> stack_;
  std::vector<std::string> prefixes_;  // per part: the number its children are numbered under
  size_t reserved_ = 1;  // parts created or already promised to a frame (Limits::max_parts)
};

}  // namespace

Message parse(std::string_view raw, const Limits& limits) {
  Message m;
  Parser parser(raw, limits, m);
  parser.run();
  detail::select_bodies(m);
  return m;
}

}  // namespace mime
