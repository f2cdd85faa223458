// auth/report: the Authentication-Results header (RFC 8601) a receiver reads, the removal of
// forged ones (RFC 8601 5), the bridge.v1 objects and what each policy rule decides.
#include "mailauth/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace {

using mailauth::Decision;
using mailauth::Verdicts;

Verdicts passing() {
  Verdicts v;
  v.authenticated = true;
  v.spf.mailfrom = {"pass", "mailfrom", "example.com", "alice@example.com", "ip4:192.0.2.0/24", ""};
  v.spf.helo = {"none", "helo",         "mail.example.com", "postmaster@mail.example.com",
                "",     "no SPF record"};
  mailauth::DkimVerdict dkim;
  dkim.result = "pass";
  dkim.domain = "example.com";
  dkim.selector = "sel";
  dkim.algorithm = "rsa-sha256";
  dkim.canonicalization = "relaxed/simple";
  dkim.key_bits = 2048;
  dkim.identity = "@example.com";
  dkim.b = "AbC+/12=";
  v.dkim.push_back(dkim);
  v.dmarc.result = "pass";
  v.dmarc.from_domain = "example.com";
  v.dmarc.organizational_domain = "example.com";
  v.dmarc.policy = "reject";
  v.dmarc.spf_aligned = v.dmarc.dkim_aligned = true;
  return v;
}

TEST(ResultsHeader, OneResultPerFoldedLine) {
  EXPECT_EQ(mailauth::results_header("mx.bridge.test", passing()),
            "Authentication-Results: mx.bridge.test;\r\n"
            "\tspf=pass (mechanism ip4:192.0.2.0/24) smtp.mailfrom=alice@example.com;\r\n"
            "\tspf=none (no SPF record) smtp.helo=mail.example.com;\r\n"
            "\tdkim=pass header.d=example.com header.s=sel header.a=rsa-sha256 "
            "header.b=\"AbC+/12=\";\r\n"
            "\tdmarc=pass (p=reject dis=none) header.from=example.com;\r\n"
            "\tarc=none (not validated)\r\n");
  Verdicts none;
  EXPECT_EQ(mailauth::results_header("mx.bridge.test", none),
            "Authentication-Results: mx.bridge.test; none\r\n");
}

TEST(ResultsHeader, WhatTheSenderChoseEntersOnlyAsSafeTokens) {
  Verdicts v = passing();
  v.spf.mailfrom.sender = "\"odd local\"@example.com";  // quoted local part: domain only
  v.spf.helo.domain = "evil\r\nX-Injected: 1";
  v.dkim[0].domain = "a;b=c";
  v.dkim[0].selector = "s (x)";
  v.dkim[0].reason = "bad (nested) \\ comment\r\nX-Injected: 2";
  v.dmarc.from_domain = "example.com\r\nBcc: victim@example.org";
  std::string header = mailauth::results_header("mx.bridge.test", v);
  EXPECT_EQ(header.find("\r\nX-Injected"), std::string::npos) << header;
  EXPECT_EQ(header.find("Bcc"), std::string::npos) << header;
  EXPECT_NE(header.find("smtp.mailfrom=example.com;"), std::string::npos) << header;
  EXPECT_EQ(header.find("smtp.helo"), std::string::npos) << header;
  EXPECT_EQ(header.find("header.d="), std::string::npos) << header;
  EXPECT_EQ(header.find("header.s="), std::string::npos) << header;
  EXPECT_NE(header.find("dkim=pass (bad nested  commentX-Injected: 2)"), std::string::npos)
      << header;
  // Every line but the first is a continuation: the header is one field.
  size_t lines = 0;
  for (size_t at = header.find("\r\n"); at != std::string::npos; at = header.find("\r\n", at + 2)) {
    ++lines;
    if (at + 2 < header.size()) {
      EXPECT_EQ(header[at + 2], '\t') << header;
    }
  }
  EXPECT_EQ(lines, 6u);
}

TEST(RemoveResultsHeaders, OnlyOursAndOnlyInTheHeader) {
  std::string message =
      "Authentication-Results: MX.Bridge.Test; spf=pass smtp.mailfrom=forged.example\r\n"
      "From: a@example.com\r\n"
      "authentication-results : (a comment (nested)) mx.bridge.test 1;\r\n"
      "\tdkim=pass header.d=forged.example\r\n"
      "Authentication-Results: other.example; spf=fail\r\n"
      "Authentication-Results: mx.bridge.test.evil; spf=pass\r\n"
      "Subject: hi\r\n"
      "\r\n"
      "Authentication-Results: mx.bridge.test; in the body, kept\r\n";
  EXPECT_EQ(mailauth::remove_results_headers(message, "mx.bridge.test"), 2u);
  EXPECT_EQ(message,
            "From: a@example.com\r\n"
            "Authentication-Results: other.example; spf=fail\r\n"
            "Authentication-Results: mx.bridge.test.evil; spf=pass\r\n"
            "Subject: hi\r\n"
            "\r\n"
            "Authentication-Results: mx.bridge.test; in the body, kept\r\n");
  std::string untouched = "Subject: x\r\n\r\nbody";
  EXPECT_EQ(mailauth::remove_results_headers(untouched, "mx.bridge.test"), 0u);
  EXPECT_EQ(untouched, "Subject: x\r\n\r\nbody");
  // A header section without a body, ending in a field without CRLF.
  std::string last = "Subject: x\r\nAuthentication-Results: mx.bridge.test; spf=pass";
  EXPECT_EQ(mailauth::remove_results_headers(last, "mx.bridge.test"), 1u);
  EXPECT_EQ(last, "Subject: x\r\n");
}

TEST(VerdictObjects, AreTheContractsJson) {
  auto doc = nlohmann::json::parse(mailauth::authentication_json(passing()));
  EXPECT_EQ(doc["spf"]["mailfrom"]["result"], "pass");
  EXPECT_EQ(doc["spf"]["mailfrom"]["mechanism"], "ip4:192.0.2.0/24");
  EXPECT_TRUE(doc["spf"]["mailfrom"]["reason"].is_null());
  EXPECT_EQ(doc["spf"]["helo"]["reason"], "no SPF record");
  EXPECT_EQ(doc["dkim"][0]["key_bits"], 2048);
  EXPECT_TRUE(doc["dkim"][0]["length"].is_null());
  EXPECT_EQ(doc["dmarc"]["alignment"], nlohmann::json({{"spf", "r"}, {"dkim", "r"}}));
  EXPECT_EQ(doc["arc"]["result"], "none");
  EXPECT_EQ(mailauth::authentication_json(Verdicts{}), "null");
  EXPECT_EQ(mailauth::spam_json(Verdicts{}), "null");
  Verdicts spam;
  spam.spam = mailauth::SpamVerdict{"scanned", 7.5, 15, "add header", {{"GTUBE", 0.5}}, ""};
  auto s = nlohmann::json::parse(mailauth::spam_json(spam));
  EXPECT_EQ(s["action"], "add header");
  EXPECT_EQ(s["symbols"][0]["name"], "GTUBE");
  spam.spam = mailauth::SpamVerdict{"unavailable", 0, 0, "", {}, "timeout"};
  EXPECT_EQ(nlohmann::json::parse(mailauth::spam_json(spam)),
            nlohmann::json({{"status", "unavailable"}, {"reason", "timeout"}}));
}

TEST(Decide, EachRuleOnlyWhenOn) {
  config::Policy off;
  Verdicts v = passing();
  v.spf.mailfrom.result = "fail";
  v.dmarc.result = "fail";
  v.dmarc.disposition = "reject";
  EXPECT_EQ(mailauth::decide(v, off, false).kind, Decision::Kind::accept);

  config::Policy spf;
  spf.reject_spf_fail = true;
  Decision d = mailauth::decide(v, spf, false);
  EXPECT_EQ(d.kind, Decision::Kind::reject);
  EXPECT_EQ(d.reason, "spf_fail");

  config::Policy dmarc;
  dmarc.reject_dmarc = true;
  d = mailauth::decide(v, dmarc, false);
  EXPECT_EQ(d.reason, "dmarc_reject");
  EXPECT_NE(d.text.find("example.com"), std::string::npos);
  v.dmarc.disposition = "quarantine";  // p=quarantine fails are accepted
  EXPECT_EQ(mailauth::decide(v, dmarc, false).kind, Decision::Kind::accept);
}

TEST(Decide, TemperrorDefersOnlyWhenConfigured) {
  Verdicts v = passing();
  v.dmarc.result = "temperror";
  config::Policy policy;
  policy.reject_dmarc = true;
  EXPECT_EQ(mailauth::decide(v, policy, false).kind, Decision::Kind::accept);
  policy.defer_temperror = true;
  Decision d = mailauth::decide(v, policy, false);
  EXPECT_EQ(d.kind, Decision::Kind::defer);
  EXPECT_EQ(d.reason, "temperror");
  // A temperror of a check no rule uses defers nothing.
  policy.reject_dmarc = false;
  EXPECT_EQ(mailauth::decide(v, policy, false).kind, Decision::Kind::accept);
}

TEST(Decide, RequiredDkimCoversSubdomainsOfTheListedDomain) {
  config::Policy policy;
  policy.require_dkim = {"example.com"};
  Verdicts v = passing();
  v.dmarc.from_domain = "news.example.com";  // signed by the parent: accepted
  EXPECT_EQ(mailauth::decide(v, policy, false).kind, Decision::Kind::accept);
  v.dkim[0].result = "fail";
  EXPECT_EQ(mailauth::decide(v, policy, false).reason, "dkim_required");
  v.dkim[0].result = "pass";
  v.dkim[0].domain = "other.example";  // a valid signature of someone else
  EXPECT_EQ(mailauth::decide(v, policy, false).reason, "dkim_required");
  v.dmarc.from_domain = "unlisted.example";  // not a listed domain: no rule
  EXPECT_EQ(mailauth::decide(v, policy, false).kind, Decision::Kind::accept);
}

TEST(Decide, SpamRejectAndFailClosed) {
  Verdicts v;
  v.spam = mailauth::SpamVerdict{"scanned", 1000, 15, "reject", {}, ""};
  config::Policy policy;
  EXPECT_EQ(mailauth::decide(v, policy, false).kind, Decision::Kind::accept);
  policy.reject_spam = true;
  EXPECT_EQ(mailauth::decide(v, policy, false).reason, "spam");
  v.spam = mailauth::SpamVerdict{"unavailable", 0, 0, "", {}, "unreachable"};
  EXPECT_EQ(mailauth::decide(v, policy, false).kind, Decision::Kind::accept);
  Decision d = mailauth::decide(v, policy, true);
  EXPECT_EQ(d.kind, Decision::Kind::defer);
  EXPECT_EQ(d.reason, "spam_unavailable");
}

TEST(PolicyFor, TheStrictestOfTheRecipientsRoutes) {
  config::Config config;
  config.policy.reject_spf_fail = true;
  config::Route lax{{"*@lax.test"}, {}, false, 0};
  lax.policy.reject_spf_fail = false;
  config::Route strict{{"*@strict.test"}, {}, false, 0};
  strict.policy.reject_dmarc = true;
  strict.policy.require_dkim = std::vector<std::string>{"example.com"};
  config.routes = {lax, strict, config::Route{{"*"}, {}, false, 0}};
  config::Policy only_lax = mailauth::policy_for(config, {"a@lax.test"});
  EXPECT_FALSE(only_lax.reject_spf_fail);
  EXPECT_FALSE(only_lax.reject_dmarc);
  config::Policy both = mailauth::policy_for(config, {"a@lax.test", "b@strict.test"});
  EXPECT_TRUE(both.reject_spf_fail);  // strict.test inherits the global rule
  EXPECT_TRUE(both.reject_dmarc);
  EXPECT_EQ(both.require_dkim, std::vector<std::string>{"example.com"});
}

}  // namespace
