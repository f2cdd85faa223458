// Message-ID, In-Reply-To and References (RFC 5322 3.6.4): the ids without < >, in order.
// Lenient: ids without brackets, white space inside brackets, comments and phrases between ids
// (RFC 5322 4.5.4 obs-in-reply-to) are accepted; empty "<>" is dropped.
#include "mime/internal.h"

namespace mime {

namespace detail {

// At most budget.max_items ids (defect "too_many_message_ids"); their text is charged to it.
std::vector<std::string> message_ids(std::string_view raw, FieldBudget& budget) {
  std::string storage;
  std::string_view v = unfolded(raw, storage);
  std::vector<std::string> ids;
  bool any_bracket = v.find('<') != std::string_view::npos;
  bool cut = false;
  auto add = [&](std::string_view id) {
    if (ids.size() == budget.max_items) {
      add_defect(budget.defects, "too_many_message_ids");
      return false;
    }
    ids.push_back(undeclared_to_utf8(id, budget.room, &cut));
    budget.spend(ids.back().size());
    if (cut && ids.back().empty()) ids.pop_back();
    return !cut;
  };
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
      if (!id.empty() && !add(id)) break;
      i = close + 1;
    } else if (detail::is_space(c) || c == ',') {
      ++i;
    } else {
      size_t j = i;
      while (j < v.size() && !detail::is_space(v[j]) && v[j] != ',' && v[j] != '<' && v[j] != '(')
        ++j;
      // Without any brackets, each word is an id; with brackets, words are phrases (obsolete).
      if (!any_bracket && !add(v.substr(i, j - i))) break;
      i = j;
    }
  }
  if (cut) add_defect(budget.defects, "header_text_truncated");
  return ids;
}

}  // namespace detail

std::vector<std::string> parse_message_ids(std::string_view raw) {
  detail::FieldBudget budget = detail::default_field_budget(raw.size());
  return detail::message_ids(raw, budget);
}

}  // namespace mime
