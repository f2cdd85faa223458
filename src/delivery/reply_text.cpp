// The new text of a plain-text reply (reply_text.h): one forward scan over the lines drops quoted
// lines ('>') and the attribution lines above them, and stops at the first block of history that
// is not quoted (Outlook's "From: … Sent: …" fields, "-----Original Message-----", an attribution
// followed by unquoted text); a second scan over what is left finds the signature. Each line is
// looked at a bounded number of times (at most 3 lines joined, 8 lines ahead): time and memory
// are linear in the input, whatever its shape (no regular expression, no line table).
#include <cstring>

#include "delivery/reply_markers.h"
#include "delivery/reply_text.h"
#include "mime/message.h"

namespace delivery {
namespace {

using reply::Attribution;
using reply::Field;

struct Line {
  std::string_view text;  // without its CR LF / LF
  size_t next;            // offset of the next line
};

Line line_at(std::string_view in, size_t pos) {
  const void* nl = std::memchr(in.data() + pos, '\n', in.size() - pos);
  size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - in.data()) : in.size();
  std::string_view text = in.substr(pos, end - pos);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return {text, nl ? end + 1 : in.size()};
}

// The kept lines, raw (CR removed). Blank lines are held back until the next kept line, so none
// lead or trail; where quoted lines were removed, the text on each side is joined by one blank
// line whatever blank lines surrounded the quote.
class Kept {
 public:
  static constexpr bool kProbe = false;
  // What is kept is at most the input (+ a last line end): reserved once, no growth by doubling.
  explicit Kept(size_t most) { out_.reserve(most); }
  void text(std::string_view line) {
    if (!out_.empty()) out_.append(gap_ ? 1 : blanks_, '\n');
    blanks_ = 0;
    gap_ = false;
    out_.append(line);
    out_ += '\n';
  }
  void blank() { ++blanks_; }
  void removed() { gap_ = true; }
  // History starts here: the separator lines just above it ("-----", "_____") belong to it.
  void drop_trailing_separators() {
    while (!out_.empty() && reply::is_separator(last_line()))
      out_.resize(out_.size() - last_line().size() - 1);
  }
  bool last_is_separator() const { return reply::is_separator(last_line()); }
  std::string& str() { return out_; }

 private:
  // The last kept line (out_ ends with its '\n').
  std::string_view last_line() const {
    if (out_.empty()) return {};
    size_t end = out_.size() - 1;
    size_t begin = end == 0 ? std::string::npos : out_.rfind('\n', end - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    return std::string_view(out_).substr(begin, end - begin);
  }

  std::string out_;
  size_t blanks_ = 0;
  bool gap_ = false;
};

// Outlook's header block of the original message: a From-like field, then within the next lines
// at least two of Sent/Date, To, Cc, Subject (one is enough under a separator line).
bool header_block_at(std::string_view in, size_t next, bool under_separator) {
  bool seen[6] = {};
  int kinds = 0;
  for (int i = 0; i < 8 && next < in.size(); ++i) {
    Line line = line_at(in, next);
    next = line.next;
    Field field = reply::header_field(line.text);
    if (field == Field::none || field == Field::from || seen[static_cast<int>(field)]) continue;
    seen[static_cast<int>(field)] = true;
    if (++kinds >= (under_separator ? 1 : 2)) return true;
  }
  return false;
}

struct AttributionAt {
  Attribution kind = Attribution::none;
  size_t next = 0;  // the line after it
};

// An attribution starting at `pos`: one line, or 2-3 wrapped lines ("On Dec 16, 2011, at 12:47
// PM, Corey Donohoe\n<reply@reply.github.com>\nwrote:") when the first may begin one.
AttributionAt attribution_at(std::string_view in, const Line& first) {
  if (first.text.size() > reply::kMaxAttribution) return {};
  Attribution kind = reply::attribution(first.text);
  if (kind != Attribution::none) return {kind, first.next};
  if (!reply::may_begin_attribution(first.text)) return {};
  std::string joined(reply::trim(first.text));
  size_t next = first.next;
  for (int i = 0; i < 2 && next < in.size(); ++i) {
    Line line = line_at(in, next);
    std::string_view part = reply::trim(line.text);
    if (part.empty() || reply::is_quote_line(part) ||
        joined.size() + 1 + part.size() > reply::kMaxAttribution)
      return {};
    joined += ' ';
    joined += part;
    next = line.next;
    if (reply::attribution(joined) == Attribution::strong) return {Attribution::strong, next};
  }
  return {};
}

// Whether the next non-blank line from `pos` is quoted.
bool quote_follows(std::string_view in, size_t pos) {
  while (pos < in.size()) {
    Line line = line_at(in, pos);
    if (!reply::is_blank(line.text)) return reply::is_quote_line(line.text);
    pos = line.next;
  }
  return false;
}

// Pass 1 over the body: the lines kept go to `kept` (text() / blank()), removed() marks where
// quoted lines were taken out. Returns whether any history was found (something taken out).
// `Sink` is Kept, or Probe, which only wants to know whether and stops at the first removal.
template <typename Sink>
bool scan_history(std::string_view in, Sink& kept) {
  size_t pos = 0;
  bool removed = false;
  while (pos < in.size()) {
    Line line = line_at(in, pos);
    pos = line.next;
    if (reply::is_quote_line(line.text)) {
      kept.removed();
      removed = true;
      if (Sink::kProbe) return true;
      continue;
    }
    if (reply::is_blank(line.text)) {
      kept.blank();
      continue;
    }
    if (reply::is_original_message(line.text) ||
        (reply::header_field(line.text) == Field::from &&
         header_block_at(in, line.next, kept.last_is_separator()))) {
      kept.drop_trailing_separators();
      return true;
    }
    AttributionAt attribution = attribution_at(in, line);
    if (attribution.kind != Attribution::none) {
      if (quote_follows(in, attribution.next)) {
        kept.removed();
        removed = true;
        if (Sink::kProbe) return true;
        pos = attribution.next;
        continue;
      }
      if (attribution.kind == Attribution::strong) return true;
    }
    kept.text(line.text);
  }
  return removed;
}

// A Sink for scan_history that keeps nothing: what Kept::last_is_separator() needs, the last
// line kept, is a view into the input.
struct Probe {
  static constexpr bool kProbe = true;
  void text(std::string_view line) { last = line; }
  void blank() {}
  void removed() {}
  void drop_trailing_separators() {}
  bool last_is_separator() const { return reply::is_separator(last); }
  std::string_view last;
};

// The body without quoted lines, attributions and the history below a history marker;
// `found`: whether any was.
std::string without_history(std::string_view in, bool& found) {
  Kept kept(in.size() + 1);
  found = scan_history(in, kept);
  return std::move(kept.str());
}

bool is_dash_name(std::string_view line) {
  // "-Abhishek Kona": a dash then a name, as email_reply_parser takes it (a short line).
  std::string_view t = reply::rtrim(line);
  if (t.size() < 2 || t.size() > 40 || t[0] != '-') return false;
  unsigned char c = static_cast<unsigned char>(t[1]);
  if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c >= 0xC0)) return false;
  size_t spaces = 0;
  for (char ch : t) spaces += ch == ' ';
  return spaces <= 3;
}

bool is_underscores(std::string_view line) {
  std::string_view t = reply::rtrim(line);
  return t.size() >= 2 && t.find_first_not_of('_') == std::string_view::npos;
}

// Pass 2: where the signature begins in `body` (body.size() when none). RFC 3676 4.3's "-- "
// line begins one wherever it is; "--", a mailing list's "____" footer, a "-Name" line and a
// mobile sign-off only when few lines follow them (they are also written in running text).
size_t signature_start(std::string_view body) {
  size_t total = 0;
  for (size_t pos = 0; pos < body.size();) {
    Line line = line_at(body, pos);
    total += !reply::is_blank(line.text);
    pos = line.next;
  }
  size_t seen = 0;
  bool previous_blank = true;
  for (size_t pos = 0; pos < body.size();) {
    Line line = line_at(body, pos);
    bool blank = reply::is_blank(line.text);
    seen += !blank;
    size_t after = total - seen;  // non-blank lines below this one
    std::string_view t = reply::rtrim(line.text);
    if (line.text == "-- " || (t == "--" && after <= 15)) return pos;
    if (after <= 10 && is_underscores(t)) return pos;
    if (after <= 5 && reply::is_mobile_signoff(t)) return pos;
    if (after <= 10 && previous_blank && is_dash_name(t) &&
        (line.next >= body.size() || reply::is_blank(line_at(body, line.next).text)))
      return pos;
    previous_blank = blank;
    pos = line.next;
  }
  return body.size();
}

// Each line without its trailing whitespace (unless `keep_line_ends`), no blank lines at the
// start or the end. In place (no second copy of a large body): what is written never passes what
// is read, as only bytes are dropped.
void tidy(std::string& s, bool keep_line_ends) {
  const std::string_view view(s);  // s is never reallocated below: the view stays valid
  size_t write = 0, blanks = 0;
  for (size_t pos = 0; pos < view.size();) {
    Line line = line_at(view, pos);
    pos = line.next;
    std::string_view t = keep_line_ends ? line.text : reply::rtrim(line.text);
    if (reply::is_blank(t)) {
      ++blanks;
      continue;
    }
    if (write > 0)
      for (size_t i = 0; i <= blanks; ++i) s[write++] = '\n';
    blanks = 0;
    std::memmove(s.data() + write, t.data(), t.size());
    write += t.size();
  }
  s.resize(write);
  if (keep_line_ends) s.resize(reply::rtrim(s).size());
}

}  // namespace

Reply extract_reply_text(std::string_view text, TextOptions options) {
  std::string valid;
  if (!options.valid_utf8 && !mime::is_valid_utf8(text)) {
    valid = mime::valid_utf8(text);
    text = valid;
  }
  // Nothing to take out: the caller that has the text already is spared a copy of it. The
  // signature is looked for in the input as it is: Kept only drops blank lines at the ends and
  // CRs, which change neither the non-blank lines nor whether a blank one follows a line.
  if (!options.copy_whole) {
    Probe probe;
    if (!scan_history(text, probe) && signature_start(text) == text.size())
      return {std::string(), std::string(), true};
  }
  bool found = false;
  std::string body = without_history(text, found);
  std::string signature = body.substr(signature_start(body));
  body.resize(body.size() - signature.size());
  bool whole = !found && signature.empty();
  tidy(body, false);
  tidy(signature, true);
  if (body.capacity() > 2 * body.size() + 4096) body.shrink_to_fit();  // a mostly quoted body
  return {std::move(body), std::move(signature), whole};
}

}  // namespace delivery
