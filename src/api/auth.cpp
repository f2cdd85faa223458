// Keys are compared as SHA-256 digests with CRYPTO_memcmp: equal-length, constant-time
// comparisons that reveal neither a key's length nor its matching prefix. Keys are never logged.
#include "api/auth.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>

#include "api/reply.h"
#include "common/base64.h"

namespace api {
namespace {

std::array<unsigned char, 32> digest_of(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] + 32) : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] + 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::string generate_key() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no entropy: never run with a weak key
  std::string text =
      common::base64_encode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
  // RFC 4648 5: base64url, no padding.
  std::string key = "sbk_";
  for (char c : text) {
    if (c == '=') break;
    key.push_back(c == '+' ? '-' : c == '/' ? '_' : c);
  }
  return key;
}

bool KeyIdentity::allows(std::string_view scope) const {
  return !scopes || std::find(scopes->begin(), scopes->end(), scope) != scopes->end();
}

Reply insufficient_scope(const KeyIdentity& key, std::string_view scope) {
  Reply reply = problem(
      403, "insufficient-scope", "Forbidden",
      "the key '" + key.name + "' lacks the scope '" + std::string(scope) + "' this route needs");
  nlohmann::json body = nlohmann::json::parse(reply.body);
  body["scope"] = scope;
  reply.body = body.dump();
  reply.headers.emplace_back("WWW-Authenticate",
                             "Bearer realm=\"smtp-bridge\", "
                             "error=\"insufficient_scope\", scope=\"" +
                                 std::string(scope) + "\"");
  return reply;
}

KeyRing::KeyRing(const std::vector<config::ApiKey>& keys) {
  for (const config::ApiKey& key : keys) {
    digests_.push_back(digest_of(key.key));
    identities_.push_back({key.name, key.scopes, key.rate_limit, identities_.size()});
  }
  if (digests_.empty()) {
    generated_ = generate_key();
    digests_.push_back(digest_of(generated_));
    identities_.push_back({"generated", std::nullopt, {}, 0});
  }
}

bool KeyRing::authorized(std::string_view authorization) const {
  return authorize(authorization).has_value();
}

std::optional<std::string> KeyRing::authorize(std::string_view authorization) const {
  const KeyIdentity* identity = identify(authorization);
  if (!identity) return std::nullopt;
  return identity->name;
}

const KeyIdentity* KeyRing::identify(std::string_view authorization) const {
  // RFC 6750 2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC
  // 9110 11.1).
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() + 1) return nullptr;
  if (!iequals(authorization.substr(0, kScheme.size()), kScheme)) return nullptr;
  std::string_view rest = authorization.substr(kScheme.size());
  if (rest.front() != ' ') return nullptr;
  size_t start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) return nullptr;
  std::string_view token = rest.substr(start);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return nullptr;
  Digest presented = digest_of(token);
  // Every digest is compared; the match is only remembered, so the loop takes the same time
  // whichever key (if any) matched.
  size_t matched = digests_.size();
  for (size_t i = 0; i < digests_.size(); ++i) {
    bool equal = CRYPTO_memcmp(presented.data(), digests_[i].data(), digests_[i].size()) == 0;
    if (equal) matched = i;
  }
  if (matched == digests_.size()) return nullptr;
  return &identities_[matched];
}

}  // namespace api
