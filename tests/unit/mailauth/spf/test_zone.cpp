// The zone of test_zone.h, and ZoneFixture: the zone written to a temporary file, served by
// spf_dns_server.py, resolved by mailauth::Resolver (libunbound) as the bridge does.
#include "test_zone.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace spf_test {

// 192.0.2.0/24 and 2001:db8::/32 are the senders; 198.51.100.0/24 are strangers; the ptr cases
// use 1.2.3.4 and 1.2.3.6.
const char* test_zone_json() {
  return R"({
  "ip4.spf.test": [{"TXT": "v=spf1 ip4:192.0.2.0/24 -all"}],
  "soft.spf.test": [{"TXT": "v=spf1 ip4:192.0.2.1 ~all"}],
  "neutral.spf.test": [{"TXT": "v=spf1 ip4:192.0.2.1"}],
  "query.spf.test": [{"TXT": "v=spf1 ?all"}],
  "nospf.spf.test": [{"TXT": "google-site-verification=abc"}, {"A": "192.0.2.9"}],
  "two.spf.test": [{"TXT": "v=spf1 -all"}, {"TXT": "v=spf1 +all"}],
  "loop.spf.test": [{"TXT": "v=spf1 include:loop2.spf.test -all"}],
  "loop2.spf.test": [{"TXT": "v=spf1 include:loop.spf.test -all"}],
  "ten.spf.test": [{"TXT": "v=spf1 a:h1.spf.test a:h2.spf.test a:h3.spf.test a:h4.spf.test a:h5.spf.test a:h6.spf.test a:h7.spf.test a:h8.spf.test a:h9.spf.test a:h10.spf.test ip4:192.0.2.0/24 -all"}],
  "eleven.spf.test": [{"TXT": "v=spf1 a:h1.spf.test a:h2.spf.test a:h3.spf.test a:h4.spf.test a:h5.spf.test a:h6.spf.test a:h7.spf.test a:h8.spf.test a:h9.spf.test a:h10.spf.test a:h11.spf.test ip4:192.0.2.0/24 -all"}],
  "nested.spf.test": [{"TXT": "v=spf1 include:six.spf.test include:six2.spf.test ip4:192.0.2.0/24 -all"}],
  "six.spf.test": [{"TXT": "v=spf1 a:h1.spf.test a:h2.spf.test a:h3.spf.test a:h4.spf.test a:h5.spf.test ?all"}],
  "six2.spf.test": [{"TXT": "v=spf1 a:h6.spf.test a:h7.spf.test a:h8.spf.test a:h9.spf.test a:h10.spf.test ?all"}],
  "h1.spf.test": [{"A": "198.51.100.201"}], "h2.spf.test": [{"A": "198.51.100.202"}],
  "h3.spf.test": [{"A": "198.51.100.203"}], "h4.spf.test": [{"A": "198.51.100.204"}],
  "h5.spf.test": [{"A": "198.51.100.205"}], "h6.spf.test": [{"A": "198.51.100.206"}],
  "h7.spf.test": [{"A": "198.51.100.207"}], "h8.spf.test": [{"A": "198.51.100.208"}],
  "h9.spf.test": [{"A": "198.51.100.209"}], "h10.spf.test": [{"A": "198.51.100.210"}],
  "h11.spf.test": [{"A": "198.51.100.211"}],
  "twovoids.spf.test": [{"TXT": "v=spf1 a:void1.spf.test mx:void2.spf.test ip4:192.0.2.0/24 -all"}],
  "threevoids.spf.test": [{"TXT": "v=spf1 a:void1.spf.test mx:void2.spf.test exists:void3.spf.test ip4:192.0.2.0/24 -all"}],
  "slow.spf.test": ["TIMEOUT"],
  "slowinclude.spf.test": [{"TXT": "v=spf1 include:slow.spf.test -all"}],
  "mx.spf.test": [{"TXT": "v=spf1 mx -all"}, {"MX": [10, "mail.mx.spf.test"]}],
  "mail.mx.spf.test": [{"A": "192.0.2.25"}, {"AAAA": "2001:db8::25"}],
  "a.spf.test": [{"TXT": "v=spf1 a:host.a.spf.test/24 -all"}],
  "host.a.spf.test": [{"A": "192.0.2.77"}],
  "include.spf.test": [{"TXT": "v=spf1 include:ip4.spf.test ~all"}],
  "redirect.spf.test": [{"TXT": "v=spf1 ip4:203.0.113.1 redirect=soft.spf.test"}],
  "exists.spf.test": [{"TXT": "v=spf1 exists:%{i}.allow.spf.test -all"}],
  "192.0.2.10.allow.spf.test": [{"A": "127.0.0.2"}],
  "ptr.spf.test": [{"TXT": "v=spf1 ptr -all"}],
  "4.3.2.1.in-addr.arpa": [{"PTR": "mail.ptr.spf.test"}],
  "mail.ptr.spf.test": [{"A": "1.2.3.4"}],
  "6.3.2.1.in-addr.arpa": [{"PTR": "cname1.spf.test"}],
  "cname1.spf.test": [{"CNAME": "cname2.spf.test"}], "cname2.spf.test": [{"CNAME": "cname1.spf.test"}],
  "ip6.spf.test": [{"TXT": "v=spf1 ip6:2001:db8::/32 -all"}],
  "syntax.spf.test": [{"TXT": "v=spf1 a:foo-bar -all"}],
  "local.spf.test": [{"TXT": "v=spf1 ip4:192.0.2.0/24 -all"}],
  "mail.helo.spf.test": [{"TXT": "v=spf1 a -all"}, {"A": "192.0.2.50"}],
  "chain.spf.test": [{"TXT": "v=spf1 include:d1.spf.test include:d2.spf.test include:d3.spf.test include:d4.spf.test -all"}],
  "d1.spf.test": [{"TXT": "v=spf1 ip4:198.51.100.201 ?all"}, {"DELAY": 0.2}],
  "d2.spf.test": [{"TXT": "v=spf1 ip4:198.51.100.202 ?all"}, {"DELAY": 0.2}],
  "d3.spf.test": [{"TXT": "v=spf1 ip4:198.51.100.203 ?all"}, {"DELAY": 0.2}],
  "d4.spf.test": [{"TXT": "v=spf1 ip4:192.0.2.0/24 ?all"}, {"DELAY": 0.2}],
  "slowhelo.spf.test": [{"TXT": "v=spf1 ip4:192.0.2.60 -all"}, {"DELAY": 0.2}],
  "slowfrom.spf.test": [{"TXT": "v=spf1 ip4:192.0.2.60 -all"}, {"DELAY": 0.2}]
})";
}

ZoneServer* ZoneFixture::server_ = nullptr;
std::unique_ptr<mailauth::Resolver> ZoneFixture::resolver_;
std::string ZoneFixture::zone_file_;

void ZoneFixture::SetUpTestSuite() {
  char path[] = "/tmp/spf-zone-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  zone_file_ = path;
  std::ofstream(zone_file_) << test_zone_json();
  server_ = new ZoneServer();
  std::string error;
  ASSERT_TRUE(server_->start_json(zone_file_, error)) << error;
  resolver_ = mailauth::make_resolver({{server_->address()}}, error);
  ASSERT_TRUE(resolver_) << error;
}

void ZoneFixture::TearDownTestSuite() {
  resolver_.reset();
  delete server_;
  server_ = nullptr;
  if (!zone_file_.empty()) unlink(zone_file_.c_str());
}

}  // namespace spf_test
