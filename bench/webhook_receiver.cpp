// A fast webhook endpoint for bench/webhook-e2e: answers every POST 204 after parsing its whole
// body as JSON (400 when it is not JSON or has no "id"), counts them, and tells GET /count
// "<ok> <bad> <body bytes>". Binds 127.0.0.1 on a free port and prints "port N" on stdout.
// The parser is simdjson's DOM parser (it validates the whole document, UTF-8 included);
// RECEIVER_PARSER=nlohmann uses nlohmann::json::parse instead, to compare. A bench tool, not
// part of the bridge.
#include <httplib.h>
#include <simdjson.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

namespace {

bool parsed_with_id_simdjson(const std::string& body) {
  // One parser per server thread: it keeps its buffers between bodies.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(body).get(document) != simdjson::SUCCESS) return false;
  simdjson::dom::element id;
  return document.at_key("id").get(id) == simdjson::SUCCESS;
}

bool parsed_with_id_nlohmann(const std::string& body) {
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  return !parsed.is_discarded() && parsed.contains("id");
}

}  // namespace

int main() {
  const char* choice = std::getenv("RECEIVER_PARSER");
  bool use_nlohmann = choice != nullptr && std::strcmp(choice, "nlohmann") == 0;
  std::atomic<uint64_t> ok{0}, bad{0}, bytes{0};
  httplib::Server server;
  server.set_tcp_nodelay(true);
  // One thread per kept-alive connection: the dispatcher holds `delivery.workers` of them open.
  server.new_task_queue = [] { return new httplib::ThreadPool(128); };
  server.set_keep_alive_max_count(1u << 30);
  server.set_keep_alive_timeout(60);
  server.Post(".*", [&](const httplib::Request& request, httplib::Response& response) {
    bytes += request.body.size();
    bool good = use_nlohmann ? parsed_with_id_nlohmann(request.body)
                             : parsed_with_id_simdjson(request.body);
    if (!good) {
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
