// Problem details (RFC 9457) and JSON replies for the REST API. The slugs are part of the API
// contract (openapi/openapi.yaml lists them): clients branch on `type`, never on `title`.
#include "api/reply.h"

#include <nlohmann/json.hpp>

namespace api {
namespace {

constexpr const char* kProblemBase = "https://smtp-bridge.dev/problems/";
constexpr const char* kProblemContentType = "application/problem+json";

std::string dump(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Reply json_reply(int status, const nlohmann::json& body) {
  Reply reply;
  reply.status = status;
  reply.body = dump(body);
  return reply;
}

Reply problem(int status, std::string_view slug, std::string_view title, std::string_view detail,
              const std::vector<FieldError>& errors) {
  nlohmann::json body = {{"type", std::string(kProblemBase) + std::string(slug)},
                         {"title", title},
                         {"status", status},
                         {"detail", detail}};
  if (!errors.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const FieldError& error : errors) {
      list.push_back({{"field", error.field}, {"message", error.message}});
    }
    body["errors"] = std::move(list);
  }
  Reply reply;
  reply.status = status;
  reply.content_type = kProblemContentType;
  reply.body = dump(body);
  return reply;
}

Reply unauthorized() {
  Reply reply = problem(401, "unauthorized", "Unauthorized",
                        "send a valid API key as 'Authorization: Bearer <key>'");
  // RFC 6750 3: a 401 names the scheme the client must use.
  reply.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"smtp-bridge\"");
  return reply;
}

Reply store_unreadable() {
  Reply reply = problem(503, "store-unavailable", "Service Unavailable",
                        "the store cannot be read now; try again");
  reply.headers.emplace_back("Retry-After", "5");
  return reply;
}

Reply not_found(std::string_view detail) {
  return problem(404, "not-found", "Not Found", detail);
}

Reply method_not_allowed(std::string_view allow) {
  Reply reply = problem(405, "method-not-allowed", "Method Not Allowed",
                        "this resource allows " + std::string(allow) + " only");
  reply.headers.emplace_back("Allow", std::string(allow));  // RFC 9110 15.5.6
  return reply;
}

Reply internal_error(std::string_view detail) {
  return problem(500, "internal", "Internal Server Error", detail);
}

}  // namespace api
