// libFuzzer target: inbound DKIM verification and DMARC on any message bytes (the sender controls
// every header field): our header split and tag parse, libopendkim's signature parsing,
// canonicalisation and verification (with fixed Ed25519 and RSA keys of example.com), then the
// From parse and libopendmarc's record parser. Input: "<DMARC record>\0<message>" (without a NUL
// byte, all of it is the message and the record is fixed). The resolver answers from memory.
// Findings: a crash, a sanitizer or leak report, more verdicts than the limits allow, an unknown
// result word, a pass without a key we hold, or a DMARC disposition for a message that did not
// fail.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "mailauth/dkim_verify.h"
#include "mailauth/dmarc.h"
#include "mime/message.h"

namespace {

// Public keys made for this target only (openssl genpkey; RFC 8463 4.2 for the Ed25519 one).
constexpr const char* kEd25519 =
    "v=DKIM1; k=ed25519; p=spSDdWW0RD/Hy4pNIUWG54RX5dSrIW6d812IdO+qxKU=";
constexpr const char* kRsa =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQD8579erPIZPhGzJmJ3OqQ66p49SoVTwmhjGInM"
    "4daw2+DCzlKrLS5e5Elg2WJ6EDUibyYnsShWvhpLfc4O+2to0SyNTZsCRjTol9QkMFH+Wh9uIX7A5WPwuJVwvO3fl+Vzo"
    "3mzj7+34+jOR6pEQxIx6V9WqvZwDLN0Ta4IKDMgFQIDAQAB";

class MemoryResolver : public mailauth::Resolver {
 public:
  std::string dmarc_record;
  mailauth::DnsAnswer query(const std::string& name, mailauth::RrType,
                            mailauth::Deadline) override {
    using Status = mailauth::DnsAnswer::Status;
    if (name.rfind("_dmarc.", 0) == 0) return {Status::ok, {dmarc_record}, 300};
    if (name == "ed._domainkey.example.com") return {Status::ok, {kEd25519}, 300};
    if (name == "rsa._domainkey.example.com") return {Status::ok, {kRsa}, 300};
    if (name.rfind("slow.", 0) == 0) return {Status::timeout, {}, 0};
    return {Status::nxdomain, {}, 0};
  }
  void prefetch(const std::string&, mailauth::RrType) override {}
};

const std::set<std::string> kDkimResults = {"pass",      "fail",      "neutral",
                                            "temperror", "permerror", "policy"};
const std::set<std::string> kDmarcResults = {"pass", "fail", "none", "temperror", "permerror"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  MemoryResolver resolver;
  std::string_view message = input;
  if (size_t nul = input.find('\0'); nul != std::string_view::npos) {
    resolver.dmarc_record = std::string(input.substr(0, nul));
    message = input.substr(nul + 1);
  } else {
    resolver.dmarc_record = "v=DMARC1; p=reject";
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  mailauth::DkimLimits limits;
  std::vector<mailauth::DkimVerdict> dkim =
      mailauth::verify_dkim(resolver, message, deadline, limits);
  FUZZ_CHECK(dkim.size() <= 2 * limits.max_signatures, "%zu verdicts", dkim.size());
  for (const mailauth::DkimVerdict& v : dkim) {
    FUZZ_CHECK(kDkimResults.count(v.result), "DKIM result '%s'", v.result.c_str());
    FUZZ_CHECK(v.b.size() <= 8 * 3, "b= of %zu bytes", v.b.size());
    for (const std::string* text :
         {&v.domain, &v.selector, &v.algorithm, &v.canonicalization, &v.identity, &v.b, &v.reason})
      FUZZ_CHECK(mime::is_valid_utf8(*text), "DKIM verdict text not UTF-8");
    if (v.result == "pass") {
      FUZZ_CHECK(v.reason.empty(), "pass with reason '%s'", v.reason.c_str());
      FUZZ_CHECK(v.domain == "example.com" && (v.selector == "ed" || v.selector == "rsa"),
                 "pass for s=%s d=%s", v.selector.c_str(), v.domain.c_str());
    }
  }
  mailauth::SpfVerdict spf;
  spf.result = "pass";
  spf.sender = "bounce@example.com";
  mailauth::DmarcVerdict dmarc = mailauth::check_dmarc(resolver, message, spf, dkim, deadline);
  FUZZ_CHECK(kDmarcResults.count(dmarc.result), "DMARC result '%s'", dmarc.result.c_str());
  FUZZ_CHECK(mime::is_valid_utf8(dmarc.from_domain) && mime::is_valid_utf8(dmarc.reason),
             "DMARC verdict text not UTF-8");
  FUZZ_CHECK(dmarc.disposition == "none" || dmarc.disposition == "quarantine" ||
                 dmarc.disposition == "reject",
             "disposition '%s'", dmarc.disposition.c_str());
  FUZZ_CHECK(dmarc.result == "fail" || dmarc.disposition == "none", "disposition %s for result %s",
             dmarc.disposition.c_str(), dmarc.result.c_str());
  FUZZ_CHECK(dmarc.result != "pass" || !dmarc.from_domain.empty(), "pass without From domain");
  return 0;
}
