// libFuzzer target: the SPF records a sender's domain publishes (untrusted: whoever owns the
// domain writes them) through check_spf_identity: the bridge's grammar check and rewrites
// (auth/spf_record.cpp), libspf2's compiler and interpreter (CVE-2021-20314 was in its
// compiler) and the DNS layer's limits (auth/spf_dns.cpp). A fake resolver answers every TXT
// lookup with the input's lines, so includes and redirects recurse into the same records. The
// first byte picks the client (IPv4 or IPv6) and which names time out or do not exist.
// Findings: a crash or sanitizer report, a result outside RFC 7208 2.6, more lookups than the
// limits allow, a mechanism that is not one of the record's terms.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "mailauth/spf.h"

namespace {

class FakeResolver final : public mailauth::Resolver {
 public:
  FakeResolver(std::vector<std::string> txt, uint8_t mode) : txt_(std::move(txt)), mode_(mode) {}
  mailauth::DnsAnswer query(const std::string& name, mailauth::RrType type,
                            mailauth::Deadline) override {
    ++queries;
    mailauth::DnsAnswer answer;
    answer.status = mailauth::DnsAnswer::Status::ok;
    if ((mode_ & 2) && name.rfind("nx", 0) == 0)
      answer.status = mailauth::DnsAnswer::Status::nxdomain;
    if ((mode_ & 4) && name.rfind("slow", 0) == 0)
      answer.status = mailauth::DnsAnswer::Status::timeout;
    if (answer.status != mailauth::DnsAnswer::Status::ok) return answer;
    switch (type) {
      case mailauth::RrType::txt:
        answer.records = txt_;
        break;
      case mailauth::RrType::a:
        answer.records = {"192.0.2.1", "198.51.100.7"};
        break;
      case mailauth::RrType::aaaa:
        answer.records = {"2001:db8::1"};
        break;
      case mailauth::RrType::mx:
        answer.records = {"mx1.example.test", "mx2.example.test"};
        break;
      case mailauth::RrType::ptr:
        answer.records = {"host.example.test"};
        break;
    }
    return answer;
  }
  void prefetch(const std::string&, mailauth::RrType) override {}
  int queries = 0;

 private:
  std::vector<std::string> txt_;
  uint8_t mode_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  std::vector<std::string> txt;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t start = 0;
  while (start <= text.size()) {  // one TXT record per line
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    txt.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  FakeResolver resolver(txt, mode);
  const std::string ip = (mode & 1) ? "2001:db8::1" : "192.0.2.1";
  const auto verdict = mailauth::check_spf_identity(
      resolver, ip, "helo.example.test", "user@example.test", "mailfrom",
      std::chrono::steady_clock::now() + std::chrono::seconds(5));
  static const char* const kResults[] = {"pass", "fail",      "softfail", "neutral",
                                         "none", "temperror", "permerror"};
  FUZZ_CHECK(
      std::find(std::begin(kResults), std::end(kResults), verdict.result) != std::end(kResults),
      "result \"%s\"", verdict.result.c_str());
  // The record fetch, 10 terms with 10 address lookups each, the %{p} macro's PTR and its 10.
  FUZZ_CHECK(resolver.queries <= 1 + 10 * 11 + 11, "%d lookups", resolver.queries);
  if (!verdict.mechanism.empty())
    FUZZ_CHECK(text.find(verdict.mechanism) != std::string::npos,
               "mechanism \"%s\" not in the record", verdict.mechanism.c_str());
  return 0;
}
