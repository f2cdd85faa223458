// libFuzzer target: the send API's request bodies (api/send_request: POST /v1/messages,
// /v1/messages/raw and /v1/messages/batch JSON), validation only, no server; a request that passes
// is built with mime::build as the handler would. Findings: a crash, sanitizer report or escaped
// exception (expected failures are values), an error without its field, an accepted request that
// breaks what the handler relies on (recipients within the limit, each once; raw data in CRLF
// lines; a batch item's errors under its own messages[i]), or a built message with a bare LF or CR.
#include <cstdint>
#include <string>
#include <string_view>

#include "api/send_request.h"
#include "fuzz_check.h"

namespace {

bool crlf_only(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) return false;
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  std::string_view body(reinterpret_cast<const char*>(data), size);
  // An error names its field; the path of a member whose key is "" may be "" itself.
  bool empty_key = body.find("\"\"") != std::string_view::npos;

  api::Parsed<api::SendRequest> send = api::parse_send_request(body);
  for (const api::FieldError& error : send.errors)
    FUZZ_CHECK(empty_key || !error.field.empty(), "no field");
  if (send.ok()) {
    const api::SendRequest& request = send.value;
    FUZZ_CHECK(!request.rcpt_to.empty() && request.rcpt_to.size() <= api::kMaxSendRecipients,
               "%zu recipients", request.rcpt_to.size());
    mime::BuildRequest message = request.message;
    message.date_ms = 1764201600000;
    message.message_id = "fuzz@bridge.example";
    std::string built = mime::build(message);
    FUZZ_CHECK(crlf_only(built), "built message has a bare CR or LF");
  }

  api::Parsed<api::RawSendRequest> raw = api::parse_raw_send_request(body);
  for (const api::FieldError& error : raw.errors)
    FUZZ_CHECK(empty_key || !error.field.empty(), "no field");
  if (raw.ok()) {
    FUZZ_CHECK(!raw.value.rcpt_to.empty() && raw.value.rcpt_to.size() <= api::kMaxSendRecipients,
               "%zu raw recipients", raw.value.rcpt_to.size());
    FUZZ_CHECK(crlf_only(raw.value.data), "raw data has a bare CR or LF");
  }

  api::BatchProblem problem;
  auto items = api::parse_send_batch(body, 4, problem);
  FUZZ_CHECK(problem.errors.empty() || items.empty(), "items beside document errors");
  FUZZ_CHECK(!problem.too_many || !problem.errors.empty(), "too many without an error");
  FUZZ_CHECK(items.size() <= 4, "%zu items past the limit", items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    std::string prefix = "messages[" + std::to_string(i) + "]";
    for (const api::FieldError& error : items[i].errors)
      FUZZ_CHECK(error.field.rfind(prefix, 0) == 0, "item error outside its item");
    if (items[i].ok())
      FUZZ_CHECK(!items[i].value.rcpt_to.empty() &&
                     items[i].value.rcpt_to.size() <= api::kMaxSendRecipients,
                 "%zu batch recipients", items[i].value.rcpt_to.size());
  }
  return 0;
}
