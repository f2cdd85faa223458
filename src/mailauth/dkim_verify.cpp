// verify_dkim (dkim_verify.h): the message's header fields go to one libopendkim verifying handle
// (the DKIM-Signature fields beyond the limits held back), keys come from mailauth::Resolver
// through dkim_set_key_lookup, and each signature's outcome (dkim_getsiglist) becomes a
// DkimVerdict. The fields reported (d=, s=, a=, c=, l=, i=, b=) are read from the signature field
// itself, so a signature libopendkim could not parse is reported too.
#include "mailauth/dkim_verify.h"

// dkim.h is C99: its _Bool is C++'s bool (the same ABI on every Debian target).
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "mailauth/dkim_verdict.h"
#include "mailauth/header_fields.h"

namespace mailauth {

namespace {

using detail::Lookup;
using detail::VerifyContext;

// RFC 6376 3.6.2.1: the key of selector s in domain d is the TXT record at s._domainkey.d.
std::string key_name(DKIM_SIGINFO* sig) {
  const auto* selector = reinterpret_cast<const char*>(dkim_sig_getselector(sig));
  const auto* domain = reinterpret_cast<const char*>(dkim_sig_getdomain(sig));
  if (!selector || !domain || !*selector || !*domain) return "";
  return std::string(selector) + "." DKIM_DNSKEYNAME "." + domain;
}

// The key lookup of libopendkim (dkim_set_key_lookup): the TXT record through mailauth::Resolver,
// within the message's deadline, copied into libopendkim's buffer.
DKIM_CBSTAT lookup_key(DKIM* dkim, DKIM_SIGINFO* sig, u_char* buf, size_t buflen) try {
  auto* context = static_cast<VerifyContext*>(dkim_get_user_context(dkim));
  std::string name = key_name(sig);
  if (!context || name.empty() || buflen == 0) return DKIM_CBSTAT_ERROR;
  DnsAnswer answer = context->resolver->query(name, RrType::txt, context->deadline);
  Lookup& lookup = context->lookups[name];
  switch (answer.status) {
    case DnsAnswer::Status::timeout:
      lookup = Lookup::timeout;
      return DKIM_CBSTAT_TRYAGAIN;
    case DnsAnswer::Status::error:
      lookup = Lookup::error;
      return DKIM_CBSTAT_TRYAGAIN;
    case DnsAnswer::Status::nxdomain:
      lookup = Lookup::nxdomain;
      return DKIM_CBSTAT_NOTFOUND;
    case DnsAnswer::Status::ok:
      break;
  }
  if (answer.records.empty()) {
    lookup = Lookup::no_record;
    return DKIM_CBSTAT_NOTFOUND;
  }
  // RFC 6376 3.6.2.2: with several TXT records a verifier may choose one; the first is used.
  const std::string& record = answer.records.front();
  if (record.size() >= buflen) {
    lookup = Lookup::too_long;
    return DKIM_CBSTAT_ERROR;
  }
  std::memcpy(buf, record.data(), record.size());
  buf[record.size()] = '\0';
  lookup = Lookup::found;
  return DKIM_CBSTAT_CONTINUE;
} catch (...) {
  return DKIM_CBSTAT_ERROR;  // nothing may unwind through libopendkim's C frames
}

// Called by libopendkim at the end of the header section, before any key is looked up: every
// signature's key is asked for at once, so the lookups made one by one in dkim_eom (after the
// body is hashed, DKIM_LIBFLAGS_DELAYSIGPROC) find their answers in the resolver's cache.
DKIM_CBSTAT prefetch_keys(DKIM* dkim, DKIM_SIGINFO** sigs, int count) try {
  auto* context = static_cast<VerifyContext*>(dkim_get_user_context(dkim));
  if (!context) return DKIM_CBSTAT_CONTINUE;
  std::set<std::string> names;
  for (int i = 0; i < count; ++i) {
    std::string name = key_name(sigs[i]);
    if (!name.empty() && names.insert(name).second) context->resolver->prefetch(name, RrType::txt);
  }
  return DKIM_CBSTAT_CONTINUE;
} catch (...) {
  return DKIM_CBSTAT_CONTINUE;
}

// One DKIM_LIB for the process (libopendkim's library handle is shared by threads, as in the
// OpenDKIM milter): verifying only, keys through lookup_key, RSA keys of at least 1024 bits.
DKIM_LIB* library() {
  static DKIM_LIB* lib = [] {
    DKIM_LIB* made = dkim_init(nullptr, nullptr);
    if (!made) return made;
    unsigned flags = DKIM_LIBFLAGS_DELAYSIGPROC;
    dkim_options(made, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
    unsigned min_bits = kMinRsaKeyBits;
    dkim_options(made, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &min_bits, sizeof min_bits);
    dkim_set_key_lookup(made, lookup_key);
    dkim_set_prescreen(made, prefetch_keys);
    return made;
  }();
  return lib;
}

struct HandleDeleter {
  void operator()(DKIM* dkim) const { dkim_free(dkim); }
};

std::string without_space(std::string_view text) {
  std::string out;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

// One DKIM-Signature field of the message and what will be reported of it.
struct Signature {
  std::string_view raw;    // the field as received
  std::string_view value;  // after the colon, without the final line ending
  bool verify = false;     // given to libopendkim
  std::string b;           // b= without white space: matches libopendkim's signature to it
  DkimVerdict verdict;
  bool matched = false;
};

// The signature fields of `message`, from the top (RFC 6376 5.4.2: the latest signer's first),
// those beyond the limits already judged; `field_count`: all the header fields.
std::vector<Signature> collect(std::string_view message, const DkimLimits& limits,
                               size_t& field_count) {
  std::vector<Signature> signatures;
  size_t signature_count = 0;
  HeaderReader reader(message);
  while (auto field = reader.next()) {
    ++field_count;
    if (!iequals(field->name, DKIM_SIGNHEADER)) continue;
    if (++signature_count > 2 * limits.max_signatures) continue;  // not even listed
    Signature signature;
    signature.raw = field->raw;
    signature.value = field->value;
    signature.verdict = detail::describe(field->value, signature.b);
    if (signature_count > limits.max_signatures) {
      detail::set(signature.verdict, "permerror",
                  "too many signatures: only the first " + std::to_string(limits.max_signatures) +
                      " are verified");
    } else if (field->raw.size() > limits.max_signature_bytes) {
      detail::set(
          signature.verdict, "permerror",
          "signature field longer than " + std::to_string(limits.max_signature_bytes) + " bytes");
    } else {
      signature.verify = true;
    }
    signatures.push_back(std::move(signature));
  }
  return signatures;
}

// A signature field libopendkim cannot parse would stop it for the whole message (its
// dkim_header fails): such fields are held back, neutral (RFC 8601 2.7.1: syntax errors).
void hold_back_malformed(DKIM* checker, std::vector<Signature>& signatures) {
  for (Signature& signature : signatures) {
    if (!signature.verify) continue;
    // A copy: dkim_sig_syntax reads its input up to a NUL byte (strlcpy), whatever the length
    // says (fuzz_dkim_verify: a read past the end of the message).
    std::string value(signature.value);
    if (dkim_sig_syntax(checker, reinterpret_cast<u_char*>(value.data()), value.size()) ==
        DKIM_STAT_OK)
      continue;
    signature.verify = false;
    if (signature.verdict.reason.empty()) {
      const char* why = dkim_geterror(checker);
      detail::set(signature.verdict, "neutral",
                  std::string("malformed signature field: ") + (why ? why : "syntax error"));
    }
  }
}

// Every header field but the signatures held back, then the empty line and the body, then
// dkim_eom; "" or why libopendkim could not go through the message.
std::string feed(DKIM* dkim, std::string_view message, const std::vector<Signature>& signatures) {
  DKIM_STAT status = DKIM_STAT_OK;
  auto chunk = [&](std::string_view bytes) {
    if (status == DKIM_STAT_OK && !bytes.empty())
      status = dkim_chunk(dkim, reinterpret_cast<u_char*>(const_cast<char*>(bytes.data())),
                          bytes.size());
  };
  HeaderReader reader(message);
  size_t next_signature = 0;
  while (auto field = reader.next()) {
    if (iequals(field->name, DKIM_SIGNHEADER)) {
      bool listed = next_signature < signatures.size() &&
                    signatures[next_signature].raw.data() == field->raw.data();
      bool verify = listed && signatures[next_signature].verify;
      if (listed) ++next_signature;
      if (!verify) continue;
    }
    chunk(field->raw);
  }
  chunk(message.substr(reader.header_end()));
  if (status == DKIM_STAT_OK) status = dkim_chunk(dkim, nullptr, 0);
  // dkim_eom's own status sums the signatures up; each one is read from its DKIM_SIGINFO.
  DKIM_STAT eom = status == DKIM_STAT_OK ? dkim_eom(dkim, nullptr) : status;
  if (status == DKIM_STAT_OK && eom != DKIM_STAT_SYNTAX && eom != DKIM_STAT_NORESOURCE &&
      eom != DKIM_STAT_INTERNAL)
    return "";
  const char* why = dkim_geterror(dkim);
  return std::string("libopendkim: ") +
         (why && *why ? why : dkim_getresultstr(status != DKIM_STAT_OK ? status : eom));
}

// Each signature libopendkim listed, judged, matched to its field by b=.
void read_results(DKIM* dkim, const VerifyContext& context, const std::string& failure,
                  std::vector<Signature>& signatures) {
  DKIM_SIGINFO** sigs = nullptr;
  int count = 0;
  if (dkim_getsiglist(dkim, &sigs, &count) != DKIM_STAT_OK) count = 0;
  for (int i = 0; i < count; ++i) {
    const u_char* b =
        dkim_sig_gettagvalue(sigs[i], false, reinterpret_cast<u_char*>(const_cast<char*>("b")));
    std::string b_value = b ? without_space(reinterpret_cast<const char*>(b)) : "";
    for (auto& signature : signatures) {
      if (!signature.verify || signature.matched || signature.b != b_value) continue;
      signature.matched = true;
      detail::judge(sigs[i], context, failure, signature.verdict);
      break;
    }
  }
}

}  // namespace

std::vector<DkimVerdict> verify_dkim(Resolver& resolver, std::string_view message,
                                     Deadline deadline, const DkimLimits& limits) {
  size_t field_count = 0;
  std::vector<Signature> signatures = collect(message, limits, field_count);
  if (signatures.empty()) return {};
  std::string failure;  // why libopendkim could not go through the message, if it could not
  if (field_count > limits.max_header_fields) {
    failure = "more than " + std::to_string(limits.max_header_fields) + " header fields";
  } else {
    VerifyContext context{&resolver, deadline, {}};
    DKIM_STAT status = DKIM_STAT_OK;
    std::unique_ptr<DKIM, HandleDeleter> dkim, checker;
    if (DKIM_LIB* lib = library()) {
      dkim.reset(dkim_verify(lib, reinterpret_cast<const u_char*>("inbound"), nullptr, &status));
      checker.reset(dkim_verify(lib, reinterpret_cast<const u_char*>("syntax"), nullptr, &status));
    }
    if (!dkim || !checker) {
      failure = std::string("libopendkim: ") + dkim_getresultstr(status);
    } else {
      hold_back_malformed(checker.get(), signatures);
      dkim_set_user_context(dkim.get(), &context);
      failure = feed(dkim.get(), message, signatures);
      read_results(dkim.get(), context, failure, signatures);
    }
  }
  std::vector<DkimVerdict> verdicts;
  for (auto& signature : signatures) {
    if (signature.verify && !signature.matched) detail::unparsed(signature.verdict, failure);
    verdicts.push_back(std::move(signature.verdict));
  }
  return verdicts;
}

}  // namespace mailauth
