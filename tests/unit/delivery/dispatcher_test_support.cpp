// Receiver, free-port and HMAC helpers for the dispatcher tests. The HMAC uses OpenSSL directly
// so that the test checks signing.cpp against an independent computation.
#include "dispatcher_test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/base64.h"

namespace dispatcher_test {

std::string Received::header(const std::string& name) const {
  auto found = headers.find(name);  // httplib::Headers compares names case-insensitively
  return found == headers.end() ? std::string("<absent>") : found->second;
}

Receiver::Receiver(Respond respond) : respond_(std::move(respond)) {
  server_.set_keep_alive_timeout(1);
  server_.Post(R"(/.*)", [this](const httplib::Request& request, httplib::Response& response) {
    Received received{request.target, request.headers, request.body,
                      std::chrono::steady_clock::now()};
    size_t index;
    {
      std::lock_guard lock(mutex_);
      index = requests_.size();
      requests_.push_back(received);
    }
    respond_(index, received, response);
  });
}

Receiver::~Receiver() {
  stop();
}

bool Receiver::start(int port) {
  if (port == 0) {
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return false;
  } else {
    if (!server_.bind_to_port("127.0.0.1", port)) return false;
    port_ = port;
  }
  // Bound means listening already: connections wait in the backlog until accept runs.
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  return true;
}

void Receiver::stop() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

std::vector<Received> Receiver::requests() {
  std::lock_guard lock(mutex_);
  return requests_;
}

size_t Receiver::count() {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), size) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);  // never listened: connecting to it is refused
  return port;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::string expected_signature(const std::string& whsec, const std::string& id,
                               const std::string& timestamp, const std::string& body) {
  auto key = common::base64_decode(whsec.substr(6));  // after "whsec_"
  if (!key) return "<bad secret>";
  std::string signed_text = id + "." + timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac,
       &mac_size);
  return "v1," + common::base64_encode(std::string(reinterpret_cast<char*>(mac), mac_size));
}

}  // namespace dispatcher_test
