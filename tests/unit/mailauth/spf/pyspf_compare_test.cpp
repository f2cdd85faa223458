// The bridge's SPF (check_spf_identity) and pyspf (python3-spf, an independent implementation)
// on the same records, served by the same DNS server (test_zone.h): the same result word for
// each case, one case per mechanism and per result, the limits and a timeout included; the one
// case where pyspf departs from RFC 7208 is listed with its reason.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "mailauth/spf.h"
#include "test_zone.h"

namespace {

using namespace std::chrono_literals;

struct Case {
  const char* what;
  const char* ip;
  const char* sender;
  const char* result;           // what both must say
  const char* pyspf = nullptr;  // what pyspf says when it differs (each one explained)
};

const Case kCases[] = {
    {"pass by ip4", "192.0.2.10", "a@ip4.spf.test", "pass"},
    {"fail by -all", "198.51.100.1", "a@ip4.spf.test", "fail"},
    {"softfail by ~all", "198.51.100.1", "a@soft.spf.test", "softfail"},
    {"neutral by default", "198.51.100.1", "a@neutral.spf.test", "neutral"},
    {"none: no SPF record", "192.0.2.10", "a@nospf.spf.test", "none"},
    {"none: NXDOMAIN", "192.0.2.10", "a@nxdomain.spf.test", "none"},
    {"permerror: two records", "192.0.2.10", "a@two.spf.test", "permerror"},
    {"permerror: include loop", "192.0.2.10", "a@loop.spf.test", "permerror"},
    {"pass with 10 DNS terms", "192.0.2.10", "a@ten.spf.test", "pass"},
    {"permerror: 11 DNS terms", "192.0.2.10", "a@eleven.spf.test", "permerror"},
    {"permerror: 12 DNS terms across includes", "192.0.2.10", "a@nested.spf.test", "permerror"},
    {"pass with 2 void lookups", "192.0.2.10", "a@twovoids.spf.test", "pass"},
    {"permerror: 3 void lookups", "192.0.2.10", "a@threevoids.spf.test", "permerror"},
    {"temperror: TIMEOUT", "192.0.2.10", "a@slow.spf.test", "temperror"},
    {"temperror: include of a TIMEOUT", "192.0.2.10", "a@slowinclude.spf.test", "temperror"},
    {"pass by mx", "192.0.2.25", "a@mx.spf.test", "pass"},
    {"pass by mx, IPv6", "2001:db8::25", "a@mx.spf.test", "pass"},
    {"pass by a/24", "192.0.2.5", "a@a.spf.test", "pass"},
    {"pass by include", "192.0.2.10", "a@include.spf.test", "pass"},
    {"softfail by redirect", "198.51.100.1", "a@redirect.spf.test", "softfail"},
    {"pass by exists", "192.0.2.10", "a@exists.spf.test", "pass"},
    {"fail by exists", "192.0.2.11", "a@exists.spf.test", "fail"},
    {"pass by ptr", "1.2.3.4", "a@ptr.spf.test", "pass"},
    // RFC 7208 5.5: "If a DNS error occurs while doing an A RR lookup, then that domain name is
    // skipped and the search continues." pyspf turns that SERVFAIL into a temperror (its own
    // test driver never returns one for a CNAME loop, so the suite's ptr-cname-loop passes).
    {"fail: the PTR name's lookup fails, skipped", "1.2.3.6", "a@ptr.spf.test", "fail",
     "temperror"},
    {"pass by ip6", "2001:db8:1::1", "a@ip6.spf.test", "pass"},
    {"permerror: syntax", "192.0.2.10", "a@syntax.spf.test", "permerror"},
};

// pyspf_check.py as a child: cases in on its stdin, verdicts out on its stdout.
class Pyspf {
 public:
  explicit Pyspf(int port) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      const std::string script = spf_test::source_dir() + "/tests/unit/mailauth/spf/pyspf_check.py";
      execl("/usr/bin/python3", "python3", script.c_str(), std::to_string(port).c_str(), nullptr);
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = fdopen(in[1], "w");
    from_ = fdopen(out[0], "r");
  }
  ~Pyspf() {
    if (to_) std::fclose(to_);
    if (from_) std::fclose(from_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  nlohmann::json check(const Case& c) {
    const nlohmann::json request = {
        {"ip", c.ip}, {"sender", c.sender}, {"helo", "mail.example.test"}};
    std::fprintf(to_, "%s\n", request.dump().c_str());
    std::fflush(to_);
    char line[4096];
    if (!std::fgets(line, sizeof line, from_)) return nullptr;
    return nlohmann::json::parse(line, nullptr, false);
  }
  bool started() const { return to_ && from_; }

 private:
  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
};

class PyspfCompare : public spf_test::ZoneFixture {};

TEST_F(PyspfCompare, SameResultWordsOnTheSameRecords) {
  Pyspf pyspf(server_->port());
  ASSERT_TRUE(pyspf.started());
  for (const Case& c : kCases) {
    const auto ours =
        mailauth::check_spf_identity(*resolver_, c.ip, "mail.example.test", c.sender, "mailfrom",
                                     std::chrono::steady_clock::now() + 3s);
    const nlohmann::json theirs = pyspf.check(c);
    ASSERT_TRUE(theirs.is_object()) << c.what << ": pyspf_check.py gave no answer";
    EXPECT_EQ(ours.result, c.result) << c.what << " (" << ours.reason << ")";
    EXPECT_EQ(theirs["result"].get<std::string>(), c.pyspf ? c.pyspf : c.result)
        << c.what << ": pyspf";
  }
}

}  // namespace
