// DKIM signing of relayed mail (RFC 6376; ed25519-sha256, RFC 8463) through OpenDKIM's
// libopendkim: relaxed/relaxed, the header fields RFC 6376 5.4.1 recommends with From over-signed,
// one signature per key of the From domain (RSA and Ed25519 = dual signing). Key files are read
// again when they change. No libopendkim in this header.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace relay {

struct DkimSignature {
  std::string domain, selector, algorithm;  // algorithm: "rsa-sha256" | "ed25519-sha256"
};

struct DkimResult {
  enum class Status { signed_message, no_key, error };
  Status status = Status::no_key;
  // The DKIM-Signature fields to put above the message, each ending in CRLF; "" when none.
  std::string headers;
  std::vector<DkimSignature> made;  // what `headers` holds
  std::string error;                // what failed (a key failed while another may have signed)
};

class DkimSigner {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // Reads the key files now (they were checked at load; a file broken since is logged and its
  // key signs nothing until the file is valid again). `now` is for tests of the re-read interval.
  explicit DkimSigner(std::vector<config::DkimKey> keys, Clock now = {});
  ~DkimSigner();
  DkimSigner(const DkimSigner&) = delete;
  DkimSigner& operator=(const DkimSigner&) = delete;

  // Signs `message` (CRLF lines, headers then body, as stored) with every key of its
  // RFC5322.From domain (exact match, ignoring case). no_key: no From, or no key for its domain.
  // Thread-safe; a key file is looked at (stat) at most once a second, and re-read when its
  // identity (device, inode, size, mtime) changed; an invalid new file keeps the last good key.
  DkimResult sign(std::string_view message);

  // The RFC5322.From domain of a message, lower case; "" when there is none or several.
  static std::string from_domain(std::string_view message);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace relay
