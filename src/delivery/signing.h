// Standard Webhooks signatures (CONTRACTS.md 1): webhook-signature = "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" for each secret, space-separated while secrets rotate.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace delivery {

// "whsec_<base64>" → the key bytes; nullopt without the prefix or when the part after it is not
// base64 (the configuration refuses such secrets, config/load_routes.cpp).
std::optional<std::string> secret_key(std::string_view secret);
// One "v1,<base64>" per secret, joined with single spaces. Empty when there are no secrets.
std::string sign(const std::vector<std::string>& secrets, std::string_view webhook_id,
                 int64_t timestamp, std::string_view body);

}  // namespace delivery
