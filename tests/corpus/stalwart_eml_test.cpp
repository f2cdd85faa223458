// Stalwart mail-parser's .eml corpus (rfc, thirdparty = Dovecot's, malformed = Dovecot's), each
// message parsed twice like Stalwart does (every CR removed → N.json; bare LF → CRLF → N.crlf.json)
// and compared on normalised facts: tree shape, content types, decoded bodies, filenames, subject,
// From/To. No crash, no hang, every output string valid UTF-8.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include <nlohmann/json.hpp>

#include "corpus_support.h"
#include "message_json.h"
#include "mime/message.h"
#include "stalwart_shapes.h"

namespace {

using corpus::Difference;
using corpus::Tally;
using nlohmann::json;

std::string our_signature(const mime::Message& message, int index) {
  const mime::Part& part = message.parts[static_cast<size_t>(index)];
  std::string out;
  if (part.is_multipart()) {
    out = "M(";
    for (size_t i = 0; i < part.children.size(); ++i)
      out += (i ? "," : "") + our_signature(message, part.children[i]);
    return out + ")";
  }
  if (!part.children.empty()) return "E(" + our_signature(message, part.children[0]) + ")";
  return "L";
}

std::string our_types(const mime::Message& message, int index) {
  const mime::Part& part = message.parts[static_cast<size_t>(index)];
  std::string out = part.content_type;
  for (int child : part.children) out += "," + our_types(message, child);
  return out;
}

std::string child_label(const std::string& parent, size_t position) {
  return (parent.empty() ? "" : parent + ".") + std::to_string(position + 1);
}

struct EmlRun {
  std::string key;      // "stalwart/eml/rfc/000.eml"
  std::string variant;  // "lf" or "crlf"
  std::string raw;
  const mime::Message* message;
  Tally* tally;
};

// Walks Stalwart's part `s_index` of `s_message` beside our part `index`, comparing leaves.
void compare_parts(const EmlRun& run, const json& s_message, size_t s_index, int index,
                   const std::string& label) {
  const json& s_part = s_message["parts"][s_index];
  const mime::Part& part = run.message->parts[static_cast<size_t>(index)];
  const std::string name = label.empty() ? "root" : label;
  const std::string expected_name = stalwart::expected_filename(s_part);
  if (!expected_name.empty())
    run.tally->check(part.filename == expected_name, "filenames",
                     {run.key, "filename " + name,
                      run.variant + ": expected " + corpus::show(expected_name) + ", got " +
                          corpus::show(part.filename)});
  const json& body = s_part["body"];
  if (body.contains("Multipart")) {
    if (!part.is_multipart()) return;
    const json& children = body["Multipart"];
    for (size_t i = 0; i < children.size() && i < part.children.size(); ++i)
      compare_parts(run, s_message, children[i].get<size_t>(), part.children[i],
                    child_label(label, i));
    return;
  }
  if (body.contains("Message")) {
    if (part.is_multipart() || part.children.empty()) return;
    compare_parts(run, body["Message"], 0, part.children[0], label);
    return;
  }
  if (!part.children.empty() || part.is_multipart()) return;
  // Stalwart marks a body it could not decode (bad base64, an unknown charset) and gives its
  // fallback; compared as a fact of its own ("fallback bodies"), since a fallback is a choice.
  const bool fallback = s_part.value("is_encoding_problem", false);
  std::string expected, got;
  if (body.contains("Text") || body.contains("Html")) {
    expected =
        body.contains("Text") ? body["Text"].get<std::string>() : body["Html"].get<std::string>();
    got = mime::decode_text(run.raw, part);
  } else {
    const json& bytes = body.contains("Binary") ? body["Binary"] : body["InlineBinary"];
    for (const auto& byte : bytes) expected += static_cast<char>(byte.get<int>());
    got = mime::decode_body(run.raw, part);
  }
  run.tally->check(
      got == expected, fallback ? "fallback bodies" : "bodies",
      {run.key, (fallback ? "fallback body " : "body ") + name,
       run.variant + ": expected " + corpus::show(expected) + ", got " + corpus::show(got)});
}

void compare_addresses(const EmlRun& run, const json& s_root, const char* header,
                       const std::vector<mime::Address>& ours) {
  const json* value = stalwart::find_header(s_root, header);
  if (!value || !value->contains("Address")) return;
  const auto expected = stalwart::flatten_addresses((*value)["Address"]);
  const auto got = stalwart::normalise(ours);
  run.tally->check(stalwart::addresses_of(got) == stalwart::addresses_of(expected), header,
                   {run.key, header,
                    run.variant + ": expected " + stalwart::render(expected) + ", got " +
                        stalwart::render(got)});
  run.tally->check(stalwart::names_of(got) == stalwart::names_of(expected),
                   std::string(header) + " names",
                   {run.key, std::string(header) + " names",
                    run.variant + ": expected " + stalwart::render(expected) + ", got " +
                        stalwart::render(got)});
}

void compare_message(const EmlRun& run, const json& expected) {
  const mime::Message& message = *run.message;
  const json& s_root = expected["parts"][0];
  run.tally->check(our_signature(message, 0) == stalwart::signature(expected, 0), "tree",
                   {run.key, "tree",
                    run.variant + ": expected " + stalwart::signature(expected, 0) + ", got " +
                        our_signature(message, 0)});
  run.tally->check(our_types(message, 0) == stalwart::types(expected, 0), "types",
                   {run.key, "types",
                    run.variant + ": expected " + stalwart::types(expected, 0) + ", got " +
                        our_types(message, 0)});
  compare_parts(run, expected, 0, 0, "");
  if (const json* subject = stalwart::find_header(s_root, "subject");
      subject && subject->contains("Text")) {
    const std::string want = (*subject)["Text"].get<std::string>();
    run.tally->check(message.subject == want, "subject",
                     {run.key, "subject",
                      run.variant + ": expected " + corpus::show(want) + ", got " +
                          corpus::show(message.subject)});
  }
  compare_addresses(run, s_root, "from", message.from);
  compare_addresses(run, s_root, "to", message.to);
}

void run_folder(const std::string& folder) {
  const std::string root = corpus::corpora_root();
  if (root.empty()) GTEST_SKIP() << "../shared/corpora is missing: corpus tests skipped";
  const std::string dir = root + "/stalwart-mail-parser/resources/eml/" + folder;
  const auto files = corpus::list_files(dir, ".eml");
  ASSERT_FALSE(files.empty()) << dir;
  Tally tally("stalwart eml/" + folder);
  for (const auto& file : files) {
    const std::string stem = file.substr(0, file.size() - 4);
    const auto bytes = corpus::read_file(dir + "/" + file);
    ASSERT_TRUE(bytes) << file;
    for (const std::string variant : {"lf", "crlf"}) {
      const auto expected_text =
          corpus::read_file(dir + "/" + stem + (variant == "lf" ? ".json" : ".crlf.json"));
      ASSERT_TRUE(expected_text) << stem << " " << variant;
      const json expected = json::parse(*expected_text);
      const std::string raw =
          variant == "lf" ? corpus::without_cr(*bytes) : corpus::to_crlf(*bytes);
      const auto started = std::chrono::steady_clock::now();
      const mime::Message message = mime::parse(raw);
      const auto invalid = corpus::invalid_utf8_fields(raw, message);
      EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2))
          << file << " " << variant;
      const std::string key = "stalwart/eml/" + folder + "/" + file;
      for (const auto& field : invalid)
        ADD_FAILURE() << key << " " << variant << ": invalid UTF-8 in " << field;
      ASSERT_FALSE(message.parts.empty()) << key;
      compare_message({key, variant, raw, &message, &tally}, expected);
    }
  }
  std::cout << tally.summary() << "\n";
  corpus::check_against_known("stalwart/eml/" + folder + "/", tally.differences());
}

TEST(StalwartEml, rfc_messages_match_expected_facts) {
  run_folder("rfc");
}
TEST(StalwartEml, thirdparty_messages_match_expected_facts) {
  run_folder("thirdparty");
}
TEST(StalwartEml, malformed_messages_match_expected_facts) {
  run_folder("malformed");
}

}  // namespace
