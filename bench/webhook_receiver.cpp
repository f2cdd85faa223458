// A fast webhook endpoint for bench/webhook-e2e: answers every POST 204 after parsing its body as
// JSON (400 when it is not JSON), counts them, and tells GET /count "<ok> <bad> <body bytes>".
// Binds 127.0.0.1 on a free port and prints "port N" on stdout. A bench tool, not part of the
// bridge.
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

int main() {
  std::atomic<uint64_t> ok{0}, bad{0}, bytes{0};
  httplib::Server server;
  server.set_tcp_nodelay(true);
  // One thread per kept-alive connection: the dispatcher holds `delivery.workers` of them open.
  server.new_task_queue = [] { return new httplib::ThreadPool(128); };
  server.set_keep_alive_max_count(1u << 30);
  server.set_keep_alive_timeout(60);
  server.Post(".*", [&](const httplib::Request& request, httplib::Response& response) {
    bytes += request.body.size();
    auto parsed = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.contains("id")) {
      ++bad;
      response.status = 400;
      return;
    }
    ++ok;
    response.status = 204;
  });
  server.Get("/count", [&](const httplib::Request&, httplib::Response& response) {
    response.set_content(std::to_string(ok.load()) + " " + std::to_string(bad.load()) + " " +
                             std::to_string(bytes.load()) + "\n",
                         "text/plain");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    std::fprintf(stderr, "cannot bind 127.0.0.1\n");
    return 1;
  }
  std::printf("port %d\n", port);
  std::fflush(stdout);
  return server.listen_after_bind() ? 0 : 1;
}
