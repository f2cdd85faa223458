// Apache James mime4j's test messages (testmsgs, mimetools-testmsgs; broken ones included) parsed
// as they are and compared with mime4j's parse: tree shape (multipart / embedded message / leaf),
// content types, and every transfer-decoded body (X_decoded_<path>.txt|.bin). No crash, no hang,
// every output string valid UTF-8.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "corpus_support.h"
#include "message_json.h"
#include "mime/message.h"
#include "mime4j_xml.h"

namespace {

using corpus::Tally;
using mime4j::Entity;

std::string signature(const Entity& entity) {
  if (entity.kind == Entity::Kind::message) return "E(" + signature(entity.children[0]) + ")";
  if (entity.kind == Entity::Kind::leaf) return "L";
  std::string out = "M(";
  for (size_t i = 0; i < entity.children.size(); ++i)
    out += (i ? "," : "") + signature(entity.children[i]);
  return out + ")";
}

std::string our_signature(const mime::Message& message, int index) {
  const mime::Part& part = message.parts[static_cast<size_t>(index)];
  if (part.is_multipart()) {
    std::string out = "M(";
    for (size_t i = 0; i < part.children.size(); ++i)
      out += (i ? "," : "") + our_signature(message, part.children[i]);
    return out + ")";
  }
  if (!part.children.empty()) return "E(" + our_signature(message, part.children[0]) + ")";
  return "L";
}

std::string types(const Entity& entity, const std::string& parent_type) {
  const std::string type = mime4j::content_type_of(entity, parent_type);
  std::string out = type;
  for (const auto& child : entity.children) out += "," + types(child, type);
  return out;
}

std::string our_types(const mime::Message& message, int index) {
  const mime::Part& part = message.parts[static_cast<size_t>(index)];
  std::string out = part.content_type;
  for (int child : part.children) out += "," + our_types(message, child);
  return out;
}

struct Run {
  std::string key;  // "mime4j/testmsgs/example.msg"
  std::string dir;
  std::string raw;
  const mime::Message* message;
  Tally* tally;
};

// mime4j names entities by path: the root "1", body part i of a multipart "<path>_i", the
// message embedded in a message/rfc822 entity "<path>_1".
void compare(const Run& run, const Entity& entity, int index, const std::string& path) {
  const mime::Part& part = run.message->parts[static_cast<size_t>(index)];
  if (entity.kind == Entity::Kind::multipart && part.is_multipart()) {
    for (size_t i = 0; i < entity.children.size() && i < part.children.size(); ++i)
      compare(run, entity.children[i], part.children[i], path + "_" + std::to_string(i + 1));
    return;
  }
  if (entity.kind == Entity::Kind::message && !part.is_multipart() && !part.children.empty()) {
    compare(run, entity.children[0], part.children[0], path + "_1");
    return;
  }
  if (entity.kind != Entity::Kind::leaf || part.is_multipart() || !part.children.empty()) return;
  if (entity.body_file.empty()) {
    run.tally->skip("leaves without a decoded file");
    return;
  }
  const auto expected = corpus::read_file(run.dir + "/" + entity.body_file);
  if (!expected) {
    ADD_FAILURE() << run.key << ": missing " << entity.body_file;
    return;
  }
  const std::string got = mime::decode_body(run.raw, part);
  run.tally->check(got == *expected, "bodies",
                   {run.key, "body " + path,
                    "expected " + corpus::show(*expected) + ", got " + corpus::show(got)});
}

void run_folder(const std::string& folder) {
  const std::string root = corpus::corpora_root();
  if (root.empty()) GTEST_SKIP() << "../shared/corpora is missing: corpus tests skipped";
  const std::string dir = root + "/james-mime4j/core/src/test/resources/" + folder;
  const auto files = corpus::list_files(dir, ".msg");
  ASSERT_FALSE(files.empty()) << dir;
  Tally tally("mime4j " + folder);
  for (const auto& file : files) {
    const std::string stem = file.substr(0, file.size() - 4);
    const std::string key = "mime4j/" + folder + "/" + file;
    const auto raw = corpus::read_file(dir + "/" + file);
    const auto xml = corpus::read_file(dir + "/" + stem + "_decoded.xml");
    ASSERT_TRUE(raw && xml) << key;
    const auto expected = mime4j::read_decoded_xml(*xml);
    ASSERT_TRUE(expected) << key << ": unreadable _decoded.xml";
    const auto started = std::chrono::steady_clock::now();
    const mime::Message message = mime::parse(*raw);
    const auto invalid = corpus::invalid_utf8_fields(*raw, message);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2)) << key;
    for (const auto& field : invalid) ADD_FAILURE() << key << ": invalid UTF-8 in " << field;
    ASSERT_FALSE(message.parts.empty()) << key;
    const std::string want_tree = signature(*expected), got_tree = our_signature(message, 0);
    tally.check(want_tree == got_tree, "tree",
                {key, "tree", "expected " + want_tree + ", got " + got_tree});
    const std::string want_types = types(*expected, ""), got_types = our_types(message, 0);
    tally.check(want_types == got_types, "types",
                {key, "types", "expected " + want_types + ", got " + got_types});
    compare({key, dir, *raw, &message, &tally}, *expected, 0, "1");
  }
  std::cout << tally.summary() << "\n";
  corpus::check_against_known("mime4j/" + folder + "/", tally.differences());
}

TEST(Mime4j, testmsgs_match_mime4j_parse) {
  run_folder("testmsgs");
}
TEST(Mime4j, mimetools_testmsgs_match_mime4j_parse) {
  run_folder("mimetools-testmsgs");
}

}  // namespace
