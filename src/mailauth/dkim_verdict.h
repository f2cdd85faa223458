// Internal to verify_dkim (dkim_verify.cpp): what one signature field says of itself, and the
// result and reason of one signature from what libopendkim found (RFC 8601 2.7.1 result words).
#pragma once
#include <map>
#include <string>
#include <string_view>

#include "mailauth/resolver.h"
#include "mailauth/verdicts.h"

struct dkim_siginfo;  // libopendkim's DKIM_SIGINFO

namespace mailauth::detail {

// What became of one key lookup (key name → outcome), for the reason of a signature left
// unverified by it.
enum class Lookup { found, no_record, nxdomain, too_long, error, timeout };

// The user context of one libopendkim verifying handle.
struct VerifyContext {
  Resolver* resolver;
  Deadline deadline;
  std::map<std::string, Lookup> lookups;
};

// The verdict fields a signature field states (d= s= a= c= l= i= b=), before verification;
// `b_stripped` receives b= without white space. A field whose tag list does not parse gets
// result "neutral" and its reason here.
DkimVerdict describe(std::string_view field_value, std::string& b_stripped);

void set(DkimVerdict& verdict, std::string result, std::string reason);

// The result of a signature libopendkim listed, processed or not (`failure`: why libopendkim
// could not go through the message, "" when it could).
void judge(struct dkim_siginfo* sig, const VerifyContext& context, const std::string& failure,
           DkimVerdict& verdict);

// A signature given to libopendkim that it did not list: its field does not parse (RFC 6376 3.5),
// or libopendkim could not go through the message at all (`failure`).
void unparsed(DkimVerdict& verdict, const std::string& failure);

}  // namespace mailauth::detail
