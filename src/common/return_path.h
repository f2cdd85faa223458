// VERP return paths (issue 14, README "Bounces"): each outbound recipient is sent with its own
// MAIL FROM on the bounce domain, so a DSN names the message and the recipient it answers:
// "bounces+{id, 32 hex}-{position}-{tag}@{domain}", tag = the first 10 hex digits (40 bits) of
// HMAC-SHA256(secret, "return-path/{id}/{position}"), so that nobody can forge a bounce for a
// recipient without having seen its return path. The relay makes them, the bounce consumer reads
// them back, against every configured secret (rotation: the first signs).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace common {

// The delivery rows of DSNs to return paths name this endpoint: the bounce consumer
// (delivery/bounces.h), not a webhook. It has a space, which no configured endpoint name has.
inline constexpr std::string_view kBounceEndpoint = "internal bounces";

// `message_id` is a UUID (8-4-4-4-12 hex); the local part is 52 to 60 characters (RFC 5321
// 4.5.3.1.1 allows 64).
std::string return_path(std::string_view domain, std::string_view secret,
                        std::string_view message_id, int position);

struct ReturnPathTarget {
  std::string message_id;  // the UUID with its dashes, lower case
  int position = 0;
};
// The message and position `address` names when it is a return path of `domain` (the domain
// and the local part compared case-insensitively: some MTAs change the case) signed with one of
// `secrets`; nullopt otherwise. Linear in the address, never throws.
std::optional<ReturnPathTarget> parse_return_path(std::string_view address, std::string_view domain,
                                                  const std::vector<std::string>& secrets);
// True when `address`'s domain is `domain` (ASCII case-insensitive): the listener accepts any
// recipient there for the bounce consumer.
bool on_return_path_domain(std::string_view address, std::string_view domain);

}  // namespace common
