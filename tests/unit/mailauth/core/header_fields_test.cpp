// mailauth/header_fields: the From field's address list as DMARC reads it (RFC 5322 3.4), cut at
// top-level commas only, each address's domain read by libopendkim's parser.
#include "mailauth/header_fields.h"

#include <gtest/gtest.h>

namespace {

using mailauth::address_domain;
using mailauth::split_address_list;

std::vector<std::string> domains(std::string_view value) {
  std::vector<std::string> out;
  for (const std::string& address : split_address_list(value))
    out.push_back(address_domain(address));
  return out;
}

TEST(SplitAddressList, CommasInsideQuotesCommentsAndBracketsDoNotSplit) {
  EXPECT_EQ(domains("\"Doe, John\" <john@x.test>"), std::vector<std::string>{"x.test"});
  EXPECT_EQ(domains("john@x.test (Doe, John)"), std::vector<std::string>{"x.test"});
  EXPECT_EQ(domains("<@relay,@other:john@x.test>"), std::vector<std::string>{"x.test"});
  EXPECT_EQ(domains("\"a\\\", b\" <a@x.test>"), std::vector<std::string>{"x.test"});
  EXPECT_EQ(domains("a@x.test, B <b@Y.test>"), (std::vector<std::string>{"x.test", "Y.test"}));
}

TEST(SplitAddressList, GroupsAndEmptyPieces) {
  EXPECT_EQ(domains("Team: a@x.test, b@x.test;"), (std::vector<std::string>{"x.test", "x.test"}));
  EXPECT_EQ(domains("undisclosed-recipients:;"), std::vector<std::string>{});
  EXPECT_EQ(domains(" , ,a@x.test,"), std::vector<std::string>{"x.test"});
  EXPECT_EQ(domains(""), std::vector<std::string>{});
}

TEST(AddressDomain, NoDomainIsEmpty) {
  EXPECT_EQ(address_domain("just text"), "");
  EXPECT_EQ(address_domain("<>"), "");
  EXPECT_EQ(address_domain("Alice <alice@sender.test>"), "sender.test");
}

}  // namespace
