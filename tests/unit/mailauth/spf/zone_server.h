// The SPF tests' DNS server (tests/support/spf_dns_server.py, Python with dnspython) as a child
// of the test: one openspf suite scenario's zonedata, or a JSON zone of the same shape, served
// over UDP and TCP on 127.0.0.1 and a free port, with the suite's TIMEOUT (never answered).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace spf_test {

class ZoneServer {
 public:
  ZoneServer() = default;
  ~ZoneServer() { stop(); }
  ZoneServer(const ZoneServer&) = delete;
  ZoneServer& operator=(const ZoneServer&) = delete;

  // Document `scenario` (0-based) of the suite's YAML file.
  bool start_scenario(const std::string& yaml, int scenario, std::string& error);
  // A zone in JSON: {"name": [{"TXT": "v=spf1 ..."}, {"A": "192.0.2.1"}, "TIMEOUT"], ...}.
  bool start_json(const std::string& json_file, std::string& error);
  void stop();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  bool start(const std::vector<std::string>& arguments, std::string& error);
  pid_t pid_ = -1;
  int stdin_ = -1;  // closing it ends the server
  int port_ = 0;
};

std::string source_dir();
std::string suite_file();  // "" when ../shared/corpora/openspf is missing

}  // namespace spf_test
