// libFuzzer target: the relay's DKIM signer on any message bytes (a prepared message from the send
// API reaches it as given): our From-field scan and libopendkim's address parser (from_domain),
// then libopendkim's header and body canonicalisation with a fixed Ed25519 key for example.com,
// including the release of what its dkim_free() leaves (dkim_signer.cpp). Findings: a crash, a
// sanitizer or leak report, a domain that is not lower case, a signature for another domain,
// or signature fields that are not CRLF-ended DKIM-Signature lines.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "config/config.h"
#include "fuzz_check.h"
#include "relay/dkim_signer.h"

namespace {

// A key made for this target only (openssl genpkey -algorithm ed25519).
constexpr const char* kKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ3rvopYRPct2yEJBgAgTYUVdexpMfUJVReQTRFFbFRV\n"
    "-----END PRIVATE KEY-----\n";

relay::DkimSigner& signer() {
  static relay::DkimSigner* made = [] {
    std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                       "/fuzz_dkim_sign_key.pem";
    std::ofstream(path) << kKey;
    config::DkimKey key{"example.com", "fuzz", path, "ed25519-sha256"};
    return new relay::DkimSigner({key});
  }();
  return *made;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  std::string_view message(reinterpret_cast<const char*>(data), size);
  std::string domain = relay::DkimSigner::from_domain(message);
  for (char c : domain)
    FUZZ_CHECK(!std::isupper(static_cast<unsigned char>(c)), "domain not lower case");
  relay::DkimResult result = signer().sign(message);
  if (result.status == relay::DkimResult::Status::signed_message) {
    FUZZ_CHECK(domain == "example.com", "signed for From domain '%s'", domain.c_str());
    FUZZ_CHECK(result.headers.rfind("DKIM-Signature:", 0) == 0, "signature field name");
    FUZZ_CHECK(result.headers.size() >= 2 &&
                   result.headers.compare(result.headers.size() - 2, 2, "\r\n") == 0,
               "signature not CRLF-ended");
  } else {
    FUZZ_CHECK(result.headers.empty(), "unsigned with signature fields");
  }
  return 0;
}
