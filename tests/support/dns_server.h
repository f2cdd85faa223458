// A real DNS server for tests (issue 13: "a real DNS server started by the tests on a free
// port"): Debian's dnsmasq on 127.0.0.1, answering only the records it is given (no upstream, no
// /etc/hosts); names under the given zones that have no record are NXDOMAIN.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace test_support {

struct DnsRecords {
  std::vector<std::string> zones;  // answered authoritatively: unknown names in them are NXDOMAIN
  struct Txt {
    std::string name, value;  // value: one string, split into 255-byte character-strings
  };
  struct Address {
    std::string name, ip;  // an IPv4 address → A, an IPv6 one → AAAA
  };
  struct Mx {
    std::string name, exchange;
    int preference = 10;
  };
  std::vector<Txt> txt;
  std::vector<Address> addresses;
  std::vector<Mx> mx;
};

class DnsServer {
 public:
  DnsServer() = default;
  ~DnsServer() { stop(); }
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Starts dnsmasq (again, on the same port when it ran before) with `records`; returns once it
  // answers. False and `error` otherwise.
  bool start(const DnsRecords& records, std::string& error);
  void stop();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// A DNS server that never answers: a UDP socket on 127.0.0.1 that nobody reads (queries are
// neither answered nor refused), for as long as the object lives.
class SilentDns {
 public:
  SilentDns();
  ~SilentDns();
  SilentDns(const SilentDns&) = delete;
  SilentDns& operator=(const SilentDns&) = delete;
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int udp_ = -1;
  int port_ = 0;
};

}  // namespace test_support
