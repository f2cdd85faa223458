// Message-ID, In-Reply-To and References (RFC 5322 3.6.4): the ids without < >, in order.
// Lenient: ids without brackets, white space inside brackets, comments and phrases between ids
// (RFC 5322 4.5.4 obs-in-reply-to) are accepted; empty "<>" is dropped.
#include "mime/internal.h"

namespace mime {

std::vector<std::string> parse_message_ids(std::string_view raw) {
  std::string value = detail::unfold(raw);
  std::string_view v = value;
  std::vector<std::string> ids;
  bool any_bracket = v.find('<') != std::string_view::npos;
  size_t i = 0;
  while (i < v.size()) {
    char c = v[i];
    if (c == '(') {  // comment
      int nesting = 0;
      while (i < v.size()) {
        char k = v[i++];
        if (k == '\\')
          ++i;
        else if (k == '(')
          ++nesting;
        else if (k == ')' && --nesting == 0)
          break;
      }
    } else if (c == '<') {
      size_t close = v.find('>', i + 1);
      if (close == std::string_view::npos) close = v.size();
      std::string_view id = detail::trim(v.substr(i + 1, close - i - 1));
      if (!id.empty()) ids.push_back(detail::undeclared_to_utf8(id));
      i = close + 1;
    } else if (detail::is_space(c) || c == ',') {
      ++i;
    } else {
      size_t j = i;
      while (j < v.size() && !detail::is_space(v[j]) && v[j] != ',' && v[j] != '<' && v[j] != '(')
        ++j;
      // Without any brackets, each word is an id; with brackets, words are phrases (obsolete).
      if (!any_bracket) ids.push_back(detail::undeclared_to_utf8(v.substr(i, j - i)));
      i = j;
    }
  }
  return ids;
}

}  // namespace mime
