// Stalwart mail-parser's single-header cases ([{"header": raw, "expected": parsed}]) against the
// header grammars of mime/message.h: addresses, content types, dates, message ids, unstructured
// text, and the date of Received fields (the rest of Received and List-* has no grammar here).
#include <gtest/gtest.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "corpus_support.h"
#include "message_json.h"
#include "mime/message.h"
#include "stalwart_shapes.h"

namespace {

using corpus::Tally;
using nlohmann::json;

// The field body as a header parser hands it over: up to the first line break not followed by
// WSP (RFC 5322 2.2.3), so cases that run into a next field or the body are cut there.
std::string field_value(const std::string& raw) {
  size_t end = 0;
  while (end < raw.size()) {
    if (raw[end] == '\n' &&
        (end + 1 >= raw.size() || (raw[end + 1] != ' ' && raw[end + 1] != '\t')))
      break;
    ++end;
  }
  std::string out = raw.substr(0, end);
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return out;
}

// Both dates as "YYYY-MM-DDTHH:MM:SS±HH:MM" so that "Z", "+00:00" and "-00:00" compare equal.
std::string stalwart_date(const json& date) {
  if (!date.is_object()) return "null";
  char buffer[64];
  const bool west = date["tz_before_gmt"].get<bool>() &&
                    (date["tz_hour"].get<int>() != 0 || date["tz_minute"].get<int>() != 0);
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
                date["year"].get<int>(), date["month"].get<int>(), date["day"].get<int>(),
                date["hour"].get<int>(), date["minute"].get<int>(), date["second"].get<int>(),
                west ? '-' : '+', date["tz_hour"].get<int>(), date["tz_minute"].get<int>());
  return buffer;
}

std::string our_date(const std::optional<std::string>& date) {
  if (!date) return "null";
  std::string out = *date;
  if (!out.empty() && (out.back() == 'Z' || out.back() == 'z'))
    out = out.substr(0, out.size() - 1) + "+00:00";
  if (out.size() > 19 && out.compare(19, 6, "-00:00") == 0) out.replace(19, 1, "+");
  return out;
}

std::string our_content_type(const mime::ContentType& type) {
  if (type.type.empty()) return "null";
  std::string out = type.type + "/" + type.subtype;
  for (const auto& [name, value] : type.params) out += "; " + name + "=" + corpus::show(value, 400);
  return out;
}

std::string stalwart_content_type(const json& expected) {
  if (!expected.is_object()) return "null";
  std::map<std::string, std::string> params;
  for (const auto& [name, value] : stalwart::attributes(expected.value("attributes", json())))
    // RFC 2231 language tags become separate "name-language" attributes in Stalwart; the
    // interface keeps no language, so they are not part of the fact.
    if (name.size() < 9 || name.compare(name.size() - 9, 9, "-language") != 0) params[name] = value;
  mime::ContentType type{
      expected["c_type"].is_string() ? expected["c_type"].get<std::string>() : "",
      expected["c_subtype"].is_string() ? expected["c_subtype"].get<std::string>() : "", params};
  for (auto* text : {&type.type, &type.subtype})
    for (auto& c : *text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return our_content_type(type);
}

std::string joined(const std::vector<std::string>& list) {
  std::string out = "[";
  for (const auto& item : list) out += (out.size() > 1 ? ", " : "") + corpus::show(item, 200);
  return out + "]";
}

void run_cases(const std::string& name) {
  const std::string root = corpus::corpora_root();
  if (root.empty()) GTEST_SKIP() << "../shared/corpora is missing: corpus tests skipped";
  const auto text = corpus::read_file(root + "/stalwart-mail-parser/resources/" + name + ".json");
  ASSERT_TRUE(text) << name;
  const json cases = json::parse(*text);
  ASSERT_FALSE(cases.empty());
  Tally tally("stalwart " + name + ".json");
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string key = "stalwart/" + name + ".json#" + std::to_string(i);
    const std::string value = field_value(cases[i]["header"].get<std::string>());
    const json& expected = cases[i]["expected"];
    std::string want, got;
    std::vector<std::string> strings;  // every output string, for the UTF-8 check
    if (name == "address") {
      const auto ours = mime::parse_address_list(value);
      for (const auto& address : ours)
        strings.insert(strings.end(), {address.name, address.address, address.group});
      const auto expected_list = stalwart::flatten_addresses(expected);
      const auto got_list = stalwart::normalise(ours);
      tally.check(
          stalwart::addresses_of(got_list) == stalwart::addresses_of(expected_list), "address",
          {key, "address",
           "expected " + stalwart::render(expected_list) + ", got " + stalwart::render(got_list)});
      want = joined(stalwart::names_of(expected_list));
      got = joined(stalwart::names_of(got_list));
    } else if (name == "content_type") {
      const auto ours = mime::parse_content_type(value);
      strings = {ours.type, ours.subtype};
      for (const auto& [param, param_value] : ours.params)
        strings.insert(strings.end(), {param, param_value});
      want = stalwart_content_type(expected);
      got = our_content_type(ours);
    } else if (name == "date" || name == "received") {
      const size_t semicolon = value.rfind(';');
      if (name == "received" && (semicolon == std::string::npos || !expected.contains("date"))) {
        tally.skip("received without date");
        continue;
      }
      const auto ours = mime::parse_date(name == "date" ? value : value.substr(semicolon + 1));
      if (ours) strings = {*ours};
      want = stalwart_date(name == "date" ? expected : expected["date"]);
      got = our_date(ours);
    } else if (name == "id") {
      strings = mime::parse_message_ids(value);
      want = joined(expected.is_array() ? expected.get<std::vector<std::string>>()
                                        : std::vector<std::string>{});
      got = joined(strings);
    } else {
      strings = {mime::decode_unstructured(value)};
      want = expected.get<std::string>();
      got = strings[0];
    }
    for (const auto& string : strings)
      if (!corpus::valid_utf8(string))
        ADD_FAILURE() << key << ": invalid UTF-8 " << corpus::show(string);
    const std::string fact = name == "address" ? "name" : name;
    tally.check(
        want == got, fact,
        {key, fact, "input " + corpus::show(value) + ": expected " + want + ", got " + got});
  }
  std::cout << tally.summary() << "\n";
  corpus::check_against_known("stalwart/" + name + ".json#", tally.differences());
}

TEST(StalwartHeaders, address_lists) {
  run_cases("address");
}
TEST(StalwartHeaders, content_types) {
  run_cases("content_type");
}
TEST(StalwartHeaders, dates) {
  run_cases("date");
}
TEST(StalwartHeaders, message_ids) {
  run_cases("id");
}
TEST(StalwartHeaders, unstructured_text) {
  run_cases("unstructured");
}
TEST(StalwartHeaders, received_dates) {
  run_cases("received");
}

}  // namespace
