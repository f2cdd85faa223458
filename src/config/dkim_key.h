// DKIM signing keys (relay.dkim): what a key file holds, told by OpenSSL alone, so that the
// loader refuses a bad file at load (--check-config) and the relay's signer, which reads the file
// again when it changes (rotation), applies the same rules. No OpenSSL in this header.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace config {

// RFC 8301 3.2: signers MUST use RSA keys of at least 1024 bits.
inline constexpr int kDkimMinRsaBits = 1024;

struct DkimKeyInfo {
  std::string algorithm;  // "rsa-sha256" (RFC 6376) or "ed25519-sha256" (RFC 8463)
  int bits = 0;           // RSA modulus bits; 256 for Ed25519
  // The key again as PKCS#8 PEM, starting with "-----": libopendkim takes text that does not
  // as base64 DER, so text before the PEM block (openssl pkcs12's "Bag Attributes") would fail.
  std::string pem;
};

// Reads a PEM private key (PKCS#8 "PRIVATE KEY", or PKCS#1 "RSA PRIVATE KEY"): its algorithm and
// size, or nullopt + reason ("not a PEM private key", "an RSA key of 512 bits; at least 1024 are
// required", "an EC key; only RSA and Ed25519 keys can sign DKIM").
std::optional<DkimKeyInfo> inspect_dkim_key(std::string_view pem, std::string& reason);

}  // namespace config
