// JSON log lines: valid JSON with ts/level/msg and the fields, one line each, level filtering,
// and invalid UTF-8 that is replaced rather than thrown.
#include "obs/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "obs/log_format.h"

namespace {

// Captures what is written to fd 1 while `body` runs.
template <typename Body>
std::string capture_stdout(Body body) {
  fflush(stdout);
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return "pipe failed";
  int saved = dup(STDOUT_FILENO);
  dup2(pipe_fds[1], STDOUT_FILENO);
  close(pipe_fds[1]);
  body();
  fflush(stdout);
  dup2(saved, STDOUT_FILENO);  // closes the pipe's last write end: read() sees EOF
  close(saved);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(pipe_fds[0]);
  return out;
}

// True when `text` has the shape of `pattern`, where '9' stands for any digit. (Not std::regex:
// g++ 12 with -fsanitize warns inside <regex>, and warnings are errors.)
bool has_shape(const std::string& text, const std::string& pattern) {
  if (text.size() != pattern.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    bool ok = pattern[i] == '9' ? (text[i] >= '0' && text[i] <= '9') : text[i] == pattern[i];
    if (!ok) return false;
  }
  return true;
}

class Log : public ::testing::Test {
 protected:
  void TearDown() override { obs::set_level(obs::Level::info); }
};

TEST_F(Log, writes_one_json_object_per_line_with_the_fields) {
  obs::set_level(obs::Level::info);
  std::string out = capture_stdout([] {
    obs::info("listening", {{"listener", "admin"}, {"port", 8081}, {"tls", false}});
  });
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  auto line = nlohmann::json::parse(out);
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["msg"], "listening");
  EXPECT_EQ(line["listener"], "admin");
  EXPECT_EQ(line["port"], 8081);
  EXPECT_EQ(line["tls"], false);
  ASSERT_TRUE(line["ts"].is_string());
  EXPECT_TRUE(has_shape(line["ts"].get<std::string>(), "9999-99-99T99:99:99.999Z")) << line["ts"];
}

TEST_F(Log, filters_below_the_configured_level) {
  obs::set_level(obs::Level::warn);
  EXPECT_FALSE(obs::enabled(obs::Level::info));
  EXPECT_TRUE(obs::enabled(obs::Level::error));
  std::string out = capture_stdout([] {
    obs::debug("d");
    obs::info("i");
    obs::warn("w");
    obs::error("e");
  });
  auto newline = out.find('\n');
  ASSERT_NE(newline, std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(out.substr(0, newline))["level"], "warn");
  EXPECT_EQ(nlohmann::json::parse(out.substr(newline + 1))["level"], "error");
}

TEST_F(Log, log_always_writes_below_the_configured_level) {
  obs::set_level(obs::Level::error);
  std::string out = capture_stdout([] {
    obs::warn("filtered");
    obs::log_always(obs::Level::warn, "shown", {{"key", "k"}});
  });
  auto line = nlohmann::json::parse(out);
  EXPECT_EQ(line["msg"], "shown");
  EXPECT_EQ(line["level"], "warn");
  EXPECT_EQ(line["key"], "k");
}

TEST_F(Log, lines_from_many_threads_never_interleave) {
  std::string out = capture_stdout([] {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([t] {
        for (int i = 0; i < 50; ++i)
          obs::info("x", {{"thread", t}, {"pad", std::string(200, 'a' + t)}});
      });
    }
    for (auto& thread : threads) thread.join();
  });
  size_t lines = 0;
  size_t start = 0;
  for (size_t end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    auto line = nlohmann::json::parse(out.substr(start, end - start));
    EXPECT_EQ(line["pad"], std::string(200, static_cast<char>('a' + line["thread"].get<int>())));
    ++lines;
  }
  EXPECT_EQ(lines, 200u);
  EXPECT_EQ(start, out.size());
}

TEST(LogFormat, invalid_utf8_is_replaced_not_thrown) {
  std::string line;
  ASSERT_NO_THROW(line = obs::format_log_line(obs::Level::warn, "bad \xff msg",
                                              {{"from", "a\xc3@example.com"}},
                                              common::Clock::time_point{}));
  auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["msg"], "bad \xEF\xBF\xBD msg");
  EXPECT_EQ(parsed["from"], "a\xEF\xBF\xBD@example.com");
  EXPECT_EQ(parsed["ts"], "1970-01-01T00:00:00.000Z");
}

TEST(LogFormat, reserved_keys_are_not_overwritten_by_fields) {
  auto parsed = nlohmann::json::parse(obs::format_log_line(
      obs::Level::error, "real", {{"msg", "fake"}, {"level", "debug"}, {"extra", 1}},
      common::Clock::time_point{}));
  EXPECT_EQ(parsed["msg"], "real");
  EXPECT_EQ(parsed["level"], "error");
  EXPECT_EQ(parsed["extra"], 1);
  EXPECT_EQ(parsed.size(), 4u);
}

TEST(LogFormat, parse_level_accepts_the_four_names_only) {
  obs::Level level = obs::Level::info;
  EXPECT_TRUE(obs::parse_level("debug", level));
  EXPECT_EQ(level, obs::Level::debug);
  EXPECT_TRUE(obs::parse_level("error", level));
  EXPECT_EQ(level, obs::Level::error);
  EXPECT_FALSE(obs::parse_level("verbose", level));
  EXPECT_FALSE(obs::parse_level("INFO", level));
  EXPECT_EQ(level, obs::Level::error);
}

}  // namespace
