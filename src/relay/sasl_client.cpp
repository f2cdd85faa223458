// The SASL client side of AUTH (RFC 4954): mechanism choice and the encodings of PLAIN
// (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195, OpenSSL HMAC-MD5) and
// XOAUTH2 (Google). Pure functions: no I/O, credentials never logged.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

#include "common/base64.h"
#include "relay/protocol.h"

namespace relay {

namespace {
constexpr int kMaxSteps = 4;  // every mechanism here needs at most two challenges

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool offered(const std::vector<std::string>& list, const std::string& mechanism) {
  return std::find(list.begin(), list.end(), mechanism) != list.end();
}
}  // namespace

std::string choose_mechanism(const std::string& configured,
                             const std::vector<std::string>& offered_list) {
  std::string wanted = upper(configured);
  if (wanted != "AUTO") return offered(offered_list, wanted) ? wanted : "";
  for (const char* candidate : {"CRAM-MD5", "PLAIN", "LOGIN"})
    if (offered(offered_list, candidate)) return candidate;
  return "";
}

std::string sasl_plain(std::string_view user, std::string_view password) {
  std::string message;  // authzid (empty) NUL authcid NUL passwd, RFC 4616 2
  message += '\0';
  message += user;
  message += '\0';
  message += password;
  return common::base64_encode(message);
}

std::string sasl_cram_md5(std::string_view user, std::string_view password,
                          std::string_view challenge) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_md5(), password.data(), static_cast<int>(password.size()),
       reinterpret_cast<const unsigned char*>(challenge.data()), challenge.size(), digest, &length);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(user);
  out += ' ';
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xf];
  }
  return out;
}

std::string sasl_xoauth2(std::string_view user, std::string_view token) {
  std::string message = "user=";
  message += user;
  message +=
      "\x01"
      "auth=Bearer ";
  message += token;
  message += "\x01\x01";
  return common::base64_encode(message);
}

SaslClient::SaslClient(std::string mechanism, std::string user, std::string password)
    : mechanism_(std::move(mechanism)), user_(std::move(user)), password_(std::move(password)) {}

std::string SaslClient::initial_command() const {
  // RFC 4954 4: an initial response saves a round trip where the mechanism starts client-first.
  if (mechanism_ == "PLAIN") return "AUTH PLAIN " + sasl_plain(user_, password_) + "\r\n";
  if (mechanism_ == "XOAUTH2") return "AUTH XOAUTH2 " + sasl_xoauth2(user_, password_) + "\r\n";
  return "AUTH " + mechanism_ + "\r\n";
}

std::optional<std::string> SaslClient::answer(std::string_view challenge_base64) {
  if (++step_ > kMaxSteps) return std::nullopt;
  auto challenge = challenge_base64.empty() ? std::optional<std::string>("")
                                            : common::base64_decode(challenge_base64);
  if (!challenge) return std::nullopt;
  if (mechanism_ == "PLAIN") {  // the server ignored the initial response: send it now
    if (step_ > 1) return std::nullopt;
    return sasl_plain(user_, password_);
  }
  if (mechanism_ == "LOGIN") {  // "Username:" then "Password:"
    if (step_ > 2) return std::nullopt;
    return common::base64_encode(step_ == 1 ? user_ : password_);
  }
  if (mechanism_ == "CRAM-MD5") {  // RFC 2195 2
    if (step_ > 1) return std::nullopt;
    return common::base64_encode(sasl_cram_md5(user_, password_, *challenge));
  }
  if (mechanism_ == "XOAUTH2") return std::string();  // an error JSON: answer empty, get 535
  return std::nullopt;
}

}  // namespace relay
