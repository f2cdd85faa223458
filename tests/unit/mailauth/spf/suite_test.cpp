// The openspf.org RFC 7208 test suite (release 2014.04, ../shared/corpora/openspf, read in place)
// through check_spf_identity: each scenario's zonedata served over UDP/TCP by
// spf_dns_server.py, resolved by mailauth::Resolver (libunbound), every test's result compared.
// A test that fails would be listed below with the reason (none is); the test fails when a
// listed one starts passing (remove it) or another one fails.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>

#include "mailauth/resolver.h"
#include "mailauth/spf.h"
#include "zone_server.h"

namespace {

using namespace std::chrono_literals;

// test name -> why the bridge's SPF (libspf2, src/mailauth/spf*.cpp) does not give the suite's
// result. Empty: all 203 tests pass. (Before the resolver forwarded RFC 6303's private reverse
// zones, ptr-case-change, bytes-bug and p-macro-multiple were listed here: libunbound answered
// their PTR lookups NXDOMAIN itself.)
const std::map<std::string, std::string> kKnownFailures = {};

const std::vector<YAML::Node>& documents() {
  static const std::vector<YAML::Node> docs = [] {
    const std::string file = spf_test::suite_file();
    return file.empty() ? std::vector<YAML::Node>{} : YAML::LoadAllFromFile(file);
  }();
  return docs;
}

constexpr int kScenarios = 16;  // the YAML documents of the 2014.04 release

std::vector<std::string> expected_results(const YAML::Node& result) {
  std::vector<std::string> out;
  if (result.IsSequence()) {
    for (const auto& item : result) out.push_back(item.as<std::string>());
  } else {
    out.push_back(result.as<std::string>());
  }
  return out;
}

class SpfSuite : public ::testing::TestWithParam<int> {};

TEST(SpfSuiteFile, HasTheScenariosOfItsRelease) {
  if (spf_test::suite_file().empty()) GTEST_SKIP() << "../shared/corpora/openspf is missing";
  ASSERT_EQ(documents().size(), static_cast<size_t>(kScenarios));
  size_t tests = 0;
  for (const auto& doc : documents()) tests += doc["tests"].size();
  EXPECT_EQ(tests, 203u);
  for (const auto& [name, why] : kKnownFailures) {
    bool found = false;
    for (const auto& doc : documents()) found = found || doc["tests"][name].IsDefined();
    EXPECT_TRUE(found) << name << " is not a test of the suite";
  }
}

TEST_P(SpfSuite, Scenario) {
  if (spf_test::suite_file().empty()) GTEST_SKIP() << "../shared/corpora/openspf is missing";
  ASSERT_LT(static_cast<size_t>(GetParam()), documents().size());
  const YAML::Node& doc = documents()[GetParam()];
  spf_test::ZoneServer server;
  std::string error;
  ASSERT_TRUE(server.start_scenario(spf_test::suite_file(), GetParam(), error)) << error;
  auto resolver = mailauth::make_resolver({{server.address()}}, error);
  ASSERT_TRUE(resolver) << error;

  int passed = 0, total = 0;
  for (const auto& entry : doc["tests"]) {
    const std::string name = entry.first.as<std::string>();
    const char* only = std::getenv("SPF_SUITE_ONLY");  // one test, for debugging
    if (only != nullptr && name != only) continue;
    const YAML::Node& test = entry.second;
    const std::string host = test["host"].as<std::string>();
    const std::string helo = test["helo"].as<std::string>();
    const std::string mailfrom = test["mailfrom"].as<std::string>();
    const auto expected = expected_results(test["result"]);
    // RFC 7208 2.4: the null reverse-path is checked as postmaster@HELO.
    const bool null_path = mailfrom.empty();
    const auto verdict = mailauth::check_spf_identity(
        *resolver, host, helo, null_path ? "postmaster@" + helo : mailfrom,
        null_path ? "helo" : "mailfrom", std::chrono::steady_clock::now() + 3s);
    const bool ok = std::find(expected.begin(), expected.end(), verdict.result) != expected.end();
    ++total;
    passed += ok;
    const std::string got = verdict.result + " (" + verdict.reason + ")";
    if (kKnownFailures.count(name)) {
      EXPECT_FALSE(ok) << name << " passes now: remove it from kKnownFailures";
    } else {
      EXPECT_TRUE(ok) << name << ": expected " << expected.front() << ", got " << got;
    }
  }
  std::cout << "[ SPF suite ] " << doc["description"].as<std::string>() << ": " << passed << "/"
            << total << " pass\n";
}

std::string scenario_name(const ::testing::TestParamInfo<int>& info) {
  std::string name = std::to_string(info.param) + "_";
  if (static_cast<size_t>(info.param) < documents().size()) {
    for (char c : documents()[info.param]["description"].as<std::string>())
      name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Rfc7208, SpfSuite, ::testing::Range(0, kScenarios), scenario_name);

}  // namespace
