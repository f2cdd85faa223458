// The zone of the SPF unit tests and of the comparison with pyspf (spf_dns_server.py's JSON form:
// name -> [{"TYPE": value}, ..., "TIMEOUT"]), and a fixture serving it for a test suite.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "mailauth/resolver.h"
#include "zone_server.h"

namespace spf_test {

// Records under spf.test covering each mechanism, each result and the limits (see test_zone.cpp).
const char* test_zone_json();

// One ZoneServer on test_zone_json() and one resolver for all the tests of a suite.
class ZoneFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  static ZoneServer* server_;
  static std::unique_ptr<mailauth::Resolver> resolver_;
  static std::string zone_file_;
};

}  // namespace spf_test
