// inspect_dkim_key (dkim_key.h): OpenSSL parses the PEM; the key type gives the algorithm.
#include "config/dkim_key.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

namespace config {

std::optional<DkimKeyInfo> inspect_dkim_key(std::string_view pem, std::string& reason) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())),
                                                BIO_free);
  // A passphrase callback that refuses: an encrypted key cannot be used unattended.
  auto no_passphrase = [](char*, int, int, void*) { return -1; };
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr,
      EVP_PKEY_free);
  if (!key) {
    reason = "not an unencrypted PEM private key";
    return std::nullopt;
  }
  DkimKeyInfo info;
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
  char* data = nullptr;
  if (!out ||
      !PEM_write_bio_PKCS8PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)) {
    reason = "a key OpenSSL cannot write as PKCS#8";
    return std::nullopt;
  }
  long size = BIO_get_mem_data(out.get(), &data);
  info.pem.assign(data, size_t(size));
  info.bits = EVP_PKEY_get_bits(key.get());
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_RSA:
      if (info.bits < kDkimMinRsaBits) {
        reason = "an RSA key of " + std::to_string(info.bits) + " bits; at least " +
                 std::to_string(kDkimMinRsaBits) + " are required (RFC 8301)";
        return std::nullopt;
      }
      info.algorithm = "rsa-sha256";
      return info;
    case EVP_PKEY_ED25519:
      info.algorithm = "ed25519-sha256";
      return info;
    default:
      reason = std::string("a ") + OBJ_nid2sn(EVP_PKEY_get_base_id(key.get())) +
               " key; only RSA and Ed25519 keys can sign DKIM";
      return std::nullopt;
  }
}

}  // namespace config
