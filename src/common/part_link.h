// Signed links to an inbound message's parts and raw bytes (issue 15, README "Large attachments
// by link"): GET /v1/inbound/{id}/parts/{part}?expires=T&signature=S, fetched without an API key.
// S = base64url (no padding) of HMAC-SHA256(secret, "{id}/{part}/{T}"); part "raw" names the whole
// message. The delivery side makes them, the API verifies them, against every configured secret
// (rotation: the first signs).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace common {

std::string part_link_signature(std::string_view secret, std::string_view message_id,
                                std::string_view part, int64_t expires);
// base_url (no trailing '/') + the path and query above.
std::string part_link(std::string_view base_url, std::string_view secret,
                      std::string_view message_id, std::string_view part, int64_t expires);

enum class LinkCheck { valid, expired, bad_signature };
// Constant-time comparison against each secret's signature; an expired link is `expired` only
// when its signature is right (so expiry cannot be probed with forged links).
LinkCheck check_part_link(const std::vector<std::string>& secrets, std::string_view message_id,
                          std::string_view part, std::string_view expires,
                          std::string_view signature, int64_t now);

}  // namespace common
