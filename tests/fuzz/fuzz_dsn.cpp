// libFuzzer target: mime::parse_dsn (issue 14, bounces) on arbitrary bytes, twice: as a whole
// message, and as the delivery-status body of a fixed multipart/report (so that mutations reach
// the field grammar without first having to keep a MIME structure intact). Findings: a crash or
// sanitizer report, and a result breaking dsn.h's promises: at least one and at most
// kDsnMaxRecipients recipients, every string valid UTF-8 within kDsnMaxFieldValue, a status that
// is "" or a valid x.y.z, an action that is "" or one of RFC 3464's five, an SMTP code 0 or
// 2xx-5xx.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "mime/dsn.h"
#include "mime/message.h"

namespace {

bool bounded_utf8(const std::string& s) {
  return s.size() <= mime::kDsnMaxFieldValue && mime::is_valid_utf8(s);
}

bool valid_status(std::string_view s) {
  if (s.empty()) return true;
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  size_t dots = 0, run = 0;
  for (char c : s.substr(2)) {
    if (c == '.') {
      if (run == 0 || run > 3) return false;
      ++dots;
      run = 0;
    } else if (c >= '0' && c <= '9') {
      ++run;
    } else {
      return false;
    }
  }
  return dots == 1 && run >= 1 && run <= 3;
}

bool valid_action(std::string_view a) {
  return a.empty() || a == "failed" || a == "delayed" || a == "delivered" || a == "relayed" ||
         a == "expanded";
}

void check(const std::optional<mime::Dsn>& dsn) {
  if (!dsn) return;
  FUZZ_CHECK(!dsn->recipients.empty(), "a DSN without recipients");
  FUZZ_CHECK(dsn->recipients.size() <= mime::kDsnMaxRecipients, "%zu recipients",
             dsn->recipients.size());
  FUZZ_CHECK(bounded_utf8(dsn->reporting_mta), "reporting_mta");
  FUZZ_CHECK(bounded_utf8(dsn->arrival_date), "arrival_date");
  FUZZ_CHECK(bounded_utf8(dsn->envelope_id), "envelope_id");
  FUZZ_CHECK(bounded_utf8(dsn->original_message_id), "original_message_id");
  for (const auto& r : dsn->recipients) {
    FUZZ_CHECK(!r.final_recipient.empty() || !r.original_recipient.empty(), "nameless recipient");
    FUZZ_CHECK(bounded_utf8(r.final_recipient) && bounded_utf8(r.original_recipient) &&
                   bounded_utf8(r.final_recipient_type),
               "recipient address not bounded UTF-8");
    FUZZ_CHECK(bounded_utf8(r.remote_mta) && bounded_utf8(r.diagnostic_code) &&
                   bounded_utf8(r.last_attempt_date) && bounded_utf8(r.will_retry_until),
               "recipient field not bounded UTF-8");
    FUZZ_CHECK(valid_status(r.status), "status \"%s\"", r.status.c_str());
    FUZZ_CHECK(valid_action(r.action), "action \"%s\"", r.action.c_str());
    FUZZ_CHECK(r.diagnostic_smtp_code == 0 ||
                   (r.diagnostic_smtp_code >= 200 && r.diagnostic_smtp_code < 600),
               "smtp code %d", r.diagnostic_smtp_code);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check(mime::parse_dsn(input));

  std::string wrapped =
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"=_b\"\r\n\r\n"
      "--=_b\r\nContent-Type: message/delivery-status\r\n\r\n";
  wrapped.append(input);
  wrapped +=
      "\r\n--=_b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <a@b>\r\n--=_b--\r\n";
  check(mime::parse_dsn(wrapped));
  return 0;
}
