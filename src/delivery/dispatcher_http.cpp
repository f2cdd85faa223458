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

using common::Origin;
using common::split_origin;

}  // namespace

struct Clients::Impl {
  // Keyed by origin and CA file: two endpoints on one origin may trust different CAs.
  std::map<std::string, std::unique_ptr<httplib::ClientImpl>> by_key;

  static std::string key_of(const std::string& origin, const std::string& ca_file) {
    return ca_file.empty() ? origin : origin + '\n' + ca_file;
  }

  httplib::ClientImpl& client_for(const std::string& key, const Origin& origin,
                                  const std::string& ca_file) {
    auto found = by_key.find(key);
    if (found != by_key.end()) return *found->second;
    std::unique_ptr<httplib::ClientImpl> client;
    if (origin.https) {
      client = std::make_unique<httplib::SSLClient>(origin.host, origin.port);
    } else {
      client = std::make_unique<httplib::ClientImpl>(origin.host, origin.port);
    }
    client->set_keep_alive(true);
    client->set_follow_location(false);  // 3xx is retried, never followed (CONTRACTS.md 1)
    // Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the
    // receiver's delayed ACK stall every POST on a kept-alive connection by ~40 ms.
    client->set_tcp_nodelay(true);
    // HTTPS: verify the chain and host name, against the endpoint's CA bundle when it has one
    // (read at each new connection), else the system trust store. Never switched off.
    if (!ca_file.empty()) client->set_ca_cert_path(ca_file);
    client->enable_server_certificate_verification(true);
    return *by_key.emplace(key, std::move(client)).first->second;
  }
};

Clients::Clients() : impl_(std::make_unique<Impl>()) {}
Clients::~Clients() = default;

// Bytes of a webhook answer read at most (the answer body is never used).
constexpr uint64_t kMaxResponseBody = 64 * 1024;

PostResult Clients::post(const common::EndpointUrl& url,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         std::string body, std::chrono::milliseconds timeout,
                         const std::string& ca_file, const std::string& content_type) {
  std::string key = Impl::key_of(url.origin, ca_file);
  Origin origin = split_origin(url.origin);
  httplib::ClientImpl& client = impl_->client_for(key, origin, ca_file);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  httplib::Request request;
  request.method = "POST";
  request.path = url.path;
  request.headers = httplib::Headers(headers.begin(), headers.end());
  request.set_header("Content-Type", content_type);
  request.set_header("Host", origin.host_header);
  request.body = std::move(body);
  // The status line and headers are all the outcome needs; the body is read and dropped, and a
  // receiver that sends more than kMaxResponseBody (or never stops) is cut off there, so that no
  // endpoint can make the bridge buffer an unbounded answer.
  PostResult outcome;
  bool answered = false;
  bool cut_off = false;
  request.response_handler = [&](const httplib::Response& response) {
    answered = true;
    outcome.status = response.status;
    if (response.has_header("Retry-After"))
      outcome.retry_after = response.get_header_value("Retry-After");
    return true;
  };
  request.content_receiver = [&](const char*, size_t, uint64_t offset, uint64_t) {
    if (offset < kMaxResponseBody) return true;
    cut_off = true;
    return false;
  };

  auto started = std::chrono::steady_clock::now();
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  bool complete = client.send(request, response, error);
  outcome.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!complete) impl_->by_key.erase(key);  // the connection's state is unknown: drop it
  if (!complete && !(answered && cut_off)) {
    outcome.status = 0;
    outcome.retry_after.reset();
    outcome.error = describe(error);
    return outcome;
  }
  if (!answered) outcome.status = response.status;  // no body: the handler may not have run
  return outcome;
}

}  // namespace delivery
