// Shared pieces of the corpus tests: reading the corpora in place, line-ending variants, the
// agreement tally printed per corpus and fact kind, and the check of found differences against
// the table of known ones (known_differences.cpp): unlisted → failure, listed but gone → failure.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corpus {

std::optional<std::string> read_file(const std::string& path);
// Files directly in `dir` whose names end with `suffix`, sorted by name.
std::vector<std::string> list_files(const std::string& dir, std::string_view suffix);
// The corpora folder beside the project, read in place ("" when it is missing).
std::string corpora_root();

std::string without_cr(std::string_view raw);  // every CR removed (Stalwart's N.json input)
std::string to_crlf(std::string_view raw);     // every bare LF made CRLF (Stalwart's N.crlf.json)

// Printable, short rendering of bytes for failure messages.
std::string show(std::string_view bytes, size_t limit = 160);

struct Difference {
  std::string file;    // "stalwart/eml/rfc/000.eml", "mime4j/testmsgs/example.msg", ...
  std::string fact;    // "tree", "body 1.2", "filename 2", "address", ...
  std::string detail;  // what each side gave
};

struct KnownDifference {
  const char* file;
  const char* fact;
  const char* reason;  // "BUG: ..." marks a parser bug reported to the coordinator
};
extern const std::vector<KnownDifference> known_differences;

// Agreement counts per fact kind ("tree", "bodies", ...), printed as one line.
class Tally {
 public:
  explicit Tally(std::string corpus) : corpus_(std::move(corpus)) {}
  // Counts one comparison; on disagreement records a Difference.
  bool check(bool agree, const std::string& kind, Difference difference);
  void skip(const std::string& kind) { ++skipped_[kind]; }
  const std::vector<Difference>& differences() const { return differences_; }
  void add_difference(Difference difference) { differences_.push_back(std::move(difference)); }
  std::string summary() const;

 private:
  std::string corpus_;
  std::vector<std::string> order_;
  std::map<std::string, std::pair<int, int>> counts_;  // kind → (agree, total)
  std::map<std::string, int> skipped_;
  std::vector<Difference> differences_;
};

// Fails the current test for every difference not in known_differences, and for every known
// difference whose file starts with `scope` that did not occur. Prints the listed ones.
void check_against_known(const std::string& scope, const std::vector<Difference>& found);

}  // namespace corpus
