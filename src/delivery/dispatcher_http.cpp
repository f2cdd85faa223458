// Keep-alive webhook POSTs with cpp-httplib (built with OpenSSL). A client whose request failed
// at the transport level is dropped, so the next attempt starts with a fresh connection.
#include "delivery/dispatcher_http.h"

#include <httplib.h>

#include <map>

namespace delivery {
namespace {

std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection failed";
    case httplib::Error::ConnectionTimeout:
      return "connect timeout";
    case httplib::Error::Read:
      return "read failed or timed out";
    case httplib::Error::Write:
      return "write failed or timed out";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "TLS certificate verification failed";
    case httplib::Error::SSLLoadingCerts:
      return "TLS trust store could not be loaded";
    default:
      return "HTTP client error: " + httplib::to_string(error);
  }
}

}  // namespace

struct Clients::Impl {
  std::map<std::string, std::unique_ptr<httplib::Client>> by_origin;

  httplib::Client& client_for(const std::string& origin) {
    auto found = by_origin.find(origin);
    if (found != by_origin.end()) return *found->second;
    auto client = std::make_unique<httplib::Client>(origin);
    client->set_keep_alive(true);
    client->set_follow_location(false);  // 3xx is retried, never followed (CONTRACTS.md 1)
    // HTTPS: verify the chain and host name against the system trust store.
    // TODO: a per-endpoint CA file once config::Endpoint has one.
    client->enable_server_certificate_verification(true);
    return *by_origin.emplace(origin, std::move(client)).first->second;
  }
};

Clients::Clients() : impl_(std::make_unique<Impl>()) {}
Clients::~Clients() = default;

PostResult Clients::post(const EndpointUrl& url,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::string& body, std::chrono::milliseconds timeout) {
  httplib::Client& client = impl_->client_for(url.origin);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  httplib::Headers request_headers(headers.begin(), headers.end());

  auto started = std::chrono::steady_clock::now();
  httplib::Result result =
      client.Post(url.path, request_headers, body, "application/json; charset=utf-8");
  PostResult outcome;
  outcome.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!result) {
    outcome.error = describe(result.error());
    impl_->by_origin.erase(url.origin);
    return outcome;
  }
  outcome.status = result->status;
  if (result->has_header("Retry-After"))
    outcome.retry_after = result->get_header_value("Retry-After");
  return outcome;
}

}  // namespace delivery
