// The corpora location, the agreement tally and the check of found differences against
// known_differences (see corpus_support.h); test-only because it reports through GoogleTest.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "corpus_support.h"

namespace corpus {

std::string corpora_root() {
#ifdef SMTP_BRIDGE_SOURCE_DIR
  const std::string root = SMTP_BRIDGE_SOURCE_DIR "/../shared/corpora";
#else
  const std::string root = "../shared/corpora";
#endif
  std::error_code error;
  return std::filesystem::is_directory(root, error) ? root : "";
}

bool Tally::check(bool agree, const std::string& kind, Difference difference) {
  if (!counts_.count(kind)) order_.push_back(kind);
  auto& [agreed, total] = counts_[kind];
  ++total;
  if (agree)
    ++agreed;
  else
    differences_.push_back(std::move(difference));
  return agree;
}

std::string Tally::summary() const {
  std::string out = corpus_ + ":";
  const char* separator = " ";
  for (const auto& kind : order_) {
    const auto& [agreed, total] = counts_.at(kind);
    out += separator + kind + " " + std::to_string(agreed) + "/" + std::to_string(total);
    separator = ", ";
  }
  for (const auto& [kind, count] : skipped_)
    out += " (" + kind + " skipped " + std::to_string(count) + ")";
  return out;
}

void check_against_known(const std::string& scope, const std::vector<Difference>& found) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& difference : found) {
    seen.insert({difference.file, difference.fact});
    const auto listed =
        std::find_if(known_differences.begin(), known_differences.end(), [&](const auto& known) {
          return difference.file == known.file && difference.fact == known.fact;
        });
    if (listed == known_differences.end())
      ADD_FAILURE() << "unlisted difference: {\"" << difference.file << "\", \"" << difference.fact
                    << "\"}: " << difference.detail;
  }
  int listed_count = 0;
  for (const auto& known : known_differences) {
    if (std::string_view(known.file).rfind(scope, 0) != 0) continue;
    ++listed_count;
    if (!seen.count({known.file, known.fact}))
      ADD_FAILURE()
          << "listed difference no longer occurs, remove it from known_differences.cpp: {\""
          << known.file << "\", \"" << known.fact << "\"}";
  }
  std::cout << "  " << scope << ": " << found.size() << " differences, " << listed_count
            << " listed entries\n";
}

}  // namespace corpus
