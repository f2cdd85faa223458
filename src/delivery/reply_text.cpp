// PLACEHOLDER until the reply extraction lands (issue 15): returns the body unchanged. Nothing
// calls it yet.
#include "delivery/reply_text.h"

namespace delivery {

Reply extract_reply_text(std::string_view text) { return {std::string(text), {}}; }

HtmlReply extract_reply_html(std::string_view html) { return {std::string(html), {}}; }

}  // namespace delivery
