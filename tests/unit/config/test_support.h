// Helpers shared by the config tests: a temporary directory removed on scope exit, file
// writing, and lookup of a load error by its dotted key.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"

namespace config_test {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "config_test.XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `content` to path()/name (creating parent folders) and returns the full path.
  std::string write(const std::string& name, const std::string& content) const {
    std::filesystem::path file = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The error reported for `key`, or nullptr.
inline const config::Error* find_error(const config::LoadResult& result, const std::string& key) {
  for (const auto& error : result.errors) {
    if (error.key == key) return &error;
  }
  return nullptr;
}

// All errors, one per line, for failure messages.
inline std::string dump(const config::LoadResult& result) {
  std::string out;
  for (const auto& error : result.errors) out += error.to_string() + "\n";
  return out;
}

}  // namespace config_test
