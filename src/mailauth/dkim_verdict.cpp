// describe, judge and unparsed (dkim_verdict.h): one signature's reported fields and its result.
// Result words (RFC 8601 2.7.1): pass; fail (the signature or body hash does not verify, the key
// is too small, the signature expired); neutral (the signature field is malformed or was not
// processed); policy (it verifies but rsa-sha1 is not accepted, RFC 8301 3.1); temperror (the key
// lookup timed out or failed); permerror (no key, an unusable key record, limits exceeded).
#include "mailauth/dkim_verdict.h"

#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

#include <cctype>
#include <charconv>
#include <optional>

#include "mailauth/dkim_verify.h"
#include "mailauth/header_fields.h"

namespace mailauth::detail {

namespace {

std::string without_space(std::string_view text) {
  std::string out;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

const char* canon_name(dkim_canon_t canon) {
  return canon == DKIM_CANON_RELAXED  ? "relaxed"
         : canon == DKIM_CANON_SIMPLE ? "simple"
                                      : "unknown";
}

// The outcome of a signature libopendkim processed, by its DKIM_SIGERROR.
struct Outcome {
  const char* result;
  std::string reason;
};

Outcome by_error(int error, unsigned flags, int body_hash, const DkimVerdict& verdict) {
  const std::string key = verdict.selector + "." DKIM_DNSKEYNAME "." + verdict.domain;
  switch (error) {
    case DKIM_SIGERROR_OK:
    case DKIM_SIGERROR_BADSIG:
      if ((flags & DKIM_SIGFLAG_PASSED) == 0) return {"fail", "signature did not verify"};
      if (body_hash != DKIM_SIGBH_MATCH) return {"fail", "body hash did not verify"};
      if (verdict.algorithm == "rsa-sha1")
        return {"policy", "rsa-sha1 is not accepted (RFC 8301 3.1)"};
      return {"pass", ""};
    case DKIM_SIGERROR_KEYTOOSMALL:
      return {"fail", "RSA key of " + std::to_string(verdict.key_bits) + " bits, less than " +
                          std::to_string(kMinRsaKeyBits) + " (RFC 8301 3.2)"};
    case DKIM_SIGERROR_EXPIRED:
      return {"fail", "signature expired (x=)"};
    case DKIM_SIGERROR_FUTURE:
      return {"fail", "signature made in the future (t=)"};
    case DKIM_SIGERROR_TOOLARGE_L:
      return {"fail", "l= is larger than the body"};
    case DKIM_SIGERROR_NOKEY:
      return {"permerror", "no key record at " + key};
    case DKIM_SIGERROR_KEYREVOKED:
      return {"permerror", "key revoked (empty p=) at " + key};
    case DKIM_SIGERROR_KEYFAIL:
      return {"temperror", "key lookup failed: " + key};
    case DKIM_SIGERROR_INVALID_H:
      return {"permerror", "From is not signed (RFC 6376 5.4)"};
    case DKIM_SIGERROR_DNSSYNTAX:
    case DKIM_SIGERROR_MULTIREPLY:
    case DKIM_SIGERROR_KEYVERSION:
    case DKIM_SIGERROR_KEYUNKNOWNHASH:
    case DKIM_SIGERROR_KEYHASHMISMATCH:
    case DKIM_SIGERROR_NOTEMAILKEY:
    case DKIM_SIGERROR_KEYTYPEMISSING:
    case DKIM_SIGERROR_KEYTYPEUNKNOWN:
    case DKIM_SIGERROR_KEYDECODE:
      return {"permerror",
              std::string("key record at ") + key + ": " + dkim_sig_geterrorstr(error)};
    default:  // the signature's own tags (RFC 6376 3.5) are unusable
      const char* text = dkim_sig_geterrorstr(error);
      return {"neutral", text ? text : "signature not usable"};
  }
}

}  // namespace

void set(DkimVerdict& verdict, std::string result, std::string reason) {
  verdict.result = std::move(result);
  verdict.reason = ascii_text(reason);  // it may quote the sender's bytes
}

DkimVerdict describe(std::string_view field_value, std::string& b_stripped) {
  DkimVerdict verdict;
  auto tags = parse_tag_list(unfold(field_value));
  if (!tags) {
    set(verdict, "neutral", "signature field is not a valid tag list (RFC 6376 3.2)");
    return verdict;
  }
  auto tag = [&](std::string_view name) -> const std::string* {
    for (const auto& [key, value] : *tags)
      if (key == name) return &value;
    return nullptr;
  };
  auto text = [&](std::string_view name) {
    const std::string* value = tag(name);
    return value ? *value : std::string();
  };
  // The sender's bytes: printable ASCII from here on (every consumer writes JSON or a header).
  auto text_ascii = [&](std::string_view name) { return ascii_text(text(name)); };
  verdict.domain = lower(text_ascii("d"));
  verdict.selector = text_ascii("s");
  verdict.algorithm = lower(without_space(text_ascii("a")));
  // RFC 6376 3.5 c=: "simple" by default, and for the body when only one is named.
  std::string canon = lower(without_space(text_ascii("c")));
  if (canon.empty()) canon = "simple";
  if (canon.find('/') == std::string::npos) canon += "/simple";
  verdict.canonicalization = canon;
  if (const std::string* length = tag("l")) {
    std::string digits = without_space(*length);
    uint64_t value = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error == std::errc() && end == digits.data() + digits.size() && !digits.empty())
      verdict.length = value;
  }
  const std::string* identity = tag("i");
  verdict.identity = identity ? ascii_text(*identity) : "@" + verdict.domain;
  b_stripped = without_space(text("b"));
  verdict.b = ascii_text(b_stripped.substr(0, 8));
  for (const char* required : {"v", "a", "b", "bh", "d", "h", "s"}) {  // RFC 6376 3.5
    if (!tag(required)) {
      set(verdict, "neutral", std::string("no ") + required + "= tag (RFC 6376 3.5)");
      break;
    }
  }
  return verdict;
}

void judge(struct dkim_siginfo* sig, const VerifyContext& context, const std::string& failure,
           DkimVerdict& verdict) {
  unsigned flags = dkim_sig_getflags(sig);
  int error = dkim_sig_geterror(sig);
  unsigned bits = 0;
  if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK) verdict.key_bits = bits;
  dkim_canon_t header_canon = DKIM_CANON_UNKNOWN, body_canon = DKIM_CANON_UNKNOWN;
  if (dkim_sig_getcanons(sig, &header_canon, &body_canon) == DKIM_STAT_OK)
    verdict.canonicalization = std::string(canon_name(header_canon)) + "/" + canon_name(body_canon);

  if (error == DKIM_SIGERROR_UNKNOWN ||
      (error == DKIM_SIGERROR_OK && (flags & DKIM_SIGFLAG_PROCESSED) == 0)) {
    // Not processed: the key lookup callback gave up (lookup_key), or libopendkim stopped.
    const std::string key = verdict.selector + "." DKIM_DNSKEYNAME "." + verdict.domain;
    auto lookup = context.lookups.find(key);
    Lookup outcome = lookup == context.lookups.end() ? Lookup::found : lookup->second;
    switch (outcome) {
      case Lookup::timeout:
        return set(verdict, "temperror", "key lookup timed out: " + key);
      case Lookup::error:
        return set(verdict, "temperror", "key lookup failed: " + key);
      case Lookup::too_long:
        return set(verdict, "permerror", "key record too long: " + key);
      case Lookup::nxdomain:
      case Lookup::no_record:
        return set(verdict, "permerror", "no key record at " + key);
      case Lookup::found:
        if (!failure.empty()) return set(verdict, "permerror", failure);
        return set(verdict, "neutral", "signature not processed");
    }
  }
  // libopendkim 2.11.0 reports 0 bits for an Ed25519 key; they are 256-bit (RFC 8463 3).
  if (verdict.algorithm == "ed25519-sha256" && verdict.key_bits == 0 &&
      (error == DKIM_SIGERROR_OK || error == DKIM_SIGERROR_BADSIG))
    verdict.key_bits = 256;
  Outcome outcome = by_error(error, flags, dkim_sig_getbh(sig), verdict);
  set(verdict, outcome.result, std::move(outcome.reason));
}

void unparsed(DkimVerdict& verdict, const std::string& failure) {
  if (!failure.empty()) return set(verdict, "permerror", failure);
  if (!verdict.reason.empty()) return;  // describe() found what is wrong with the field
  set(verdict, "neutral", "signature field not usable (RFC 6376 3.5)");
}

}  // namespace mailauth::detail
