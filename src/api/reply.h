// What an API handler answers, free of any HTTP library: status, content type, body, headers.
// Errors are RFC 9457 problem details (application/problem+json) with a stable `type` per slug.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace api {

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // A large body sent in slices instead of `body` (which stays empty), held until it is sent.
  std::shared_ptr<const std::string> stream;
};

// One invalid input: the field ("limit", "cursor") and what is wrong with it.
struct FieldError {
  std::string field;
  std::string message;
};

// 200-style JSON reply; strings that are not UTF-8 are repaired (U+FFFD), never thrown on.
Reply json_reply(int status, const nlohmann::json& body);
// RFC 9457 3.1: {"type": "https://smtp-bridge.dev/problems/<slug>", "title", "status", "detail",
// "errors"?}. `errors` is left out when empty.
Reply problem(int status, std::string_view slug, std::string_view title, std::string_view detail,
              const std::vector<FieldError>& errors = {});

// The problems every route shares.
Reply unauthorized();
Reply not_found(std::string_view detail);
// 503 store-unavailable with Retry-After: the store cannot be read now (Store::readable), so a
// lookup that found nothing proves nothing.
Reply store_unreadable();
Reply method_not_allowed(std::string_view allow);
Reply internal_error(std::string_view detail);

}  // namespace api
