// Typed, error-collecting reads of YAML nodes for the configuration loader. Bad input is an
// Error value naming the key and line, never an exception; values keep their defaults when absent.
#include "config/yaml_reader.h"

#include <yaml-cpp/eventhandler.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>

#include "common/units.h"

namespace config::detail {

namespace {

// Records where each document begins, and the second one's first node, and nothing else: enough to
// count the documents and to see the parser stuck (yaml-cpp 0.7 reports a document of one null node
// without consuming a token it cannot place, such as a ',' at the top level, and does so on every
// call).
class DocumentMarks : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> documents;  // where each document starts (its first token)
  YAML::Mark second_content = YAML::Mark::null_mark();  // the second document's first node

  void OnDocumentStart(const YAML::Mark& mark) override { documents.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}  // an empty document: nothing to see
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& mark) {
    if (documents.size() == 2 && second_content.is_null()) second_content = mark;
  }
};

int mark_line(const YAML::Mark& mark) {
  return mark.is_null() || mark.line < 0 ? 0 : mark.line + 1;
}

}  // namespace

std::optional<YAML::Node> load_one_document(const std::string& yaml, Reader& reader) {
  // First count the documents with a parser that builds nothing, stopping early: a document that
  // begins where the one before it began means no progress, so the input is refused rather than
  // parsed forever. Three calls see both a second document and a parser stuck after the first.
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  DocumentMarks marks;
  int documents = 0;
  while (documents < 3 && parser.HandleNextDocument(marks)) {
    ++documents;
    size_t n = marks.documents.size();
    if (n >= 2 && marks.documents[n - 1].pos == marks.documents[n - 2].pos) {
      const YAML::Mark& at = marks.documents[n - 1];
      unsigned char c = at.pos >= 0 && static_cast<size_t>(at.pos) < yaml.size()
                            ? static_cast<unsigned char>(yaml[at.pos])
                            : 0;
      std::string what =
          c > 0x20 && c < 0x7f ? "'" + std::string(1, static_cast<char>(c)) + "'" : "character";
      reader.error(
          "", mark_line(at),
          "invalid YAML: unexpected " + what + " at column " + std::to_string(at.column + 1));
      return std::nullopt;
    }
  }
  if (documents >= 2) {
    // The line of the second document's content, where a person sees it (else its "---").
    reader.error(
        "", mark_line(marks.second_content.is_null() ? marks.documents[1] : marks.second_content),
        "only one YAML document is allowed");
    return std::nullopt;
  }
  return YAML::Load(yaml);
}

std::string join_key(const std::string& prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  return prefix + "." + std::string(name);
}

int line_of(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  YAML::Mark mark = node.Mark();
  return mark.is_null() || mark.line < 0 ? 0 : mark.line + 1;  // yaml-cpp counts from 0
}

std::optional<std::string> read_text_file(const std::string& path, std::string& reason) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    reason = "cannot read '" + path + "': " + std::strerror(errno);
    return std::nullopt;
  }
  std::string content;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) content.append(buffer, n);
  bool failed = std::ferror(file) != 0;
  int saved_errno = errno;
  std::fclose(file);
  if (failed) {
    reason = "cannot read '" + path + "': " + std::strerror(saved_errno);
    return std::nullopt;
  }
  return content;
}

void Reader::error(const std::string& key, int line, std::string message) {
  errors_.push_back(Error{key, line, std::move(message)});
}

bool Reader::expect_map(const YAML::Node& node, const std::string& key,
                        std::initializer_list<std::string_view> allowed) {
  if (node.IsNull()) return true;
  if (!node.IsMap()) {
    error(key, node, "must be a mapping");
    return false;
  }
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) {
      error(key, it->first, "keys must be plain names");
      continue;
    }
    const std::string& name = it->first.Scalar();
    std::string full = join_key(key, name);
    bool known = false;
    for (auto a : allowed) known = known || a == name;
    if (!known)
      error(full, it->first, "unknown key");
    else if (!seen.insert(name).second)
      error(full, it->first, "duplicate key");
  }
  return true;
}

std::optional<YAML::Node> Reader::field(const YAML::Node& map, std::string_view name) {
  if (!map.IsMap()) return std::nullopt;
  // Iterate instead of map[name]: const lookup of a missing key is fine, but this also keeps
  // the first of duplicated keys (reported by expect_map) deterministic.
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == name) {
      if (it->second.IsNull()) return std::nullopt;
      return it->second;
    }
  }
  return std::nullopt;
}

std::optional<std::string> Reader::scalar(const YAML::Node& node, const std::string& key,
                                          std::string_view what) {
  if (!node.IsScalar()) {
    error(key, node, "must be " + std::string(what));
    return std::nullopt;
  }
  return node.Scalar();
}

bool Reader::read_string(const YAML::Node& map, const std::string& prefix, std::string_view name,
                         std::string& out, bool allow_empty) {
  auto node = field(map, name);
  if (!node) return true;
  std::string key = join_key(prefix, name);
  auto text = scalar(*node, key, "a string");
  if (!text) return false;
  if (!allow_empty && text->empty()) {
    error(key, *node, "must not be empty");
    return false;
  }
  out = *text;
  return true;
}

bool Reader::read_bool(const YAML::Node& map, const std::string& prefix, std::string_view name,
                       bool& out) {
  auto node = field(map, name);
  if (!node) return true;
  bool value = false;
  if (!node->IsScalar() || !YAML::convert<bool>::decode(*node, value)) {
    error(join_key(prefix, name), *node, "must be true or false");
    return false;
  }
  out = value;
  return true;
}

bool Reader::read_unsigned(const YAML::Node& map, const std::string& prefix, std::string_view name,
                           unsigned& out, unsigned min, unsigned max) {
  auto node = field(map, name);
  if (!node) return true;
  std::string key = join_key(prefix, name);
  auto text = scalar(*node, key, "a whole number");
  if (!text) return false;
  if (!text->empty() && text->front() == '-') {
    error(key, *node, "must not be negative, got '" + *text + "'");
    return false;
  }
  bool digits = !text->empty();
  for (char c : *text) digits = digits && c >= '0' && c <= '9';
  // More than 10 digits exceeds any unsigned; strtoull would only saturate.
  uint64_t value = !digits             ? 0
                   : text->size() > 10 ? UINT64_MAX
                                       : std::strtoull(text->c_str(), nullptr, 10);
  if (!digits || value > max) {
    error(key, *node,
          digits ? "must be at most " + std::to_string(max)
                 : "must be a whole number, got '" + *text + "'");
    return false;
  }
  if (value < min) {
    error(key, *node, "must be at least " + std::to_string(min));
    return false;
  }
  out = static_cast<unsigned>(value);
  return true;
}

bool Reader::read_size(const YAML::Node& map, const std::string& prefix, std::string_view name,
                       uint64_t& out, uint64_t min) {
  auto node = field(map, name);
  if (!node) return true;
  std::string key = join_key(prefix, name);
  auto text = scalar(*node, key, "a size such as 25MiB or 1048576");
  if (!text) return false;
  auto value = common::parse_size(*text);
  if (!value) {
    error(key, *node, "must be a size such as 25MiB or 1048576, got '" + *text + "'");
    return false;
  }
  if (*value < min) {
    error(key, *node, "must be at least " + std::to_string(min) + " bytes");
    return false;
  }
  out = *value;
  return true;
}

bool Reader::read_duration(const YAML::Node& map, const std::string& prefix, std::string_view name,
                           Duration& out, Duration min) {
  auto node = field(map, name);
  if (!node) return true;
  std::string key = join_key(prefix, name);
  auto text = scalar(*node, key, "a duration such as 30s, 5m or 72h");
  if (!text) return false;
  auto value = common::parse_duration(*text);
  if (!value) {
    error(key, *node, "must be a duration such as 30s, 5m or 72h, got '" + *text + "'");
    return false;
  }
  if (*value < min) {
    error(key, *node, "must be at least " + common::format_duration(min));
    return false;
  }
  out = *value;
  return true;
}

bool Reader::read_string_list(const YAML::Node& map, const std::string& prefix,
                              std::string_view name, std::vector<std::string>& out) {
  auto node = field(map, name);
  if (!node) return true;
  std::string key = join_key(prefix, name);
  if (node->IsScalar()) {
    out = {node->Scalar()};
    return true;
  }
  if (!node->IsSequence()) {
    error(key, *node, "must be a list of strings");
    return false;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < node->size(); ++i) {
    auto text = scalar((*node)[i], key + "[" + std::to_string(i) + "]", "a string");
    if (text)
      values.push_back(*text);
    else
      ok = false;
  }
  if (ok) out = std::move(values);
  return ok;
}

bool Reader::read_address(const YAML::Node& map, const std::string& prefix, std::string_view name,
                          std::string& out) {
  auto node = field(map, name);
  if (!node) return true;
  std::string value;
  if (!read_string(map, prefix, name, value)) return false;
  if (!parse_host_port(value)) {
    error(join_key(prefix, name), *node,
          "must be host:port with a port up to 65535, got '" + value + "'");
    return false;
  }
  out = value;
  return true;
}

bool Reader::read_address_list(const YAML::Node& map, const std::string& prefix,
                               std::string_view name, std::vector<std::string>& out) {
  std::vector<std::string> values = out;
  if (!read_string_list(map, prefix, name, values)) return false;
  auto node = field(map, name);
  if (!node) return true;
  bool ok = true;
  for (size_t i = 0; i < values.size(); ++i) {
    if (parse_host_port(values[i])) continue;
    std::string key = join_key(prefix, name);
    if (node->IsSequence()) key += "[" + std::to_string(i) + "]";
    error(key, node->IsSequence() ? (*node)[i] : *node,
          "must be host:port with a port up to 65535, got '" + values[i] + "'");
    ok = false;
  }
  if (ok) out = std::move(values);
  return ok;
}

bool Reader::read_choice(const YAML::Node& map, const std::string& prefix, std::string_view name,
                         std::initializer_list<std::string_view> choices, std::string& out) {
  auto node = field(map, name);
  if (!node) return true;
  std::string key = join_key(prefix, name);
  std::string list;
  for (auto c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
  auto text = scalar(*node, key, "one of " + list);
  if (!text) return false;
  for (auto c : choices) {
    if (*text == c) {
      out = *text;
      return true;
    }
  }
  error(key, *node, "must be one of " + list + ", got '" + *text + "'");
  return false;
}

bool Reader::read_secret(const YAML::Node& map, const std::string& prefix, const std::string& base,
                         std::string& out, bool required) {
  const std::string file_name = base + "_file";
  const std::string env_name = base + "_env";
  auto value = field(map, base);
  auto file = field(map, file_name);
  auto env = field(map, env_name);
  int given = int(bool(value)) + int(bool(file)) + int(bool(env));
  std::string all = base + ", " + file_name + " or " + env_name;
  if (given > 1) {
    error(prefix, map, "set only one of " + all);
    return false;
  }
  if (given == 0) {
    if (required) error(join_key(prefix, base), map, "is required (as " + all + ")");
    return false;
  }
  std::string secret;
  std::string used = base;
  YAML::Node used_node;
  if (value) {
    used_node = *value;
    if (!read_string(map, prefix, base, secret)) return false;
  } else if (file) {
    used = file_name;
    used_node = *file;
    std::string path;
    if (!read_string(map, prefix, file_name, path, false)) return false;
    std::string reason;
    auto content = read_secret_file(path, reason);
    if (!content) {
      error(join_key(prefix, file_name), *file, reason);
      return false;
    }
    secret = std::move(*content);
  } else {
    used = env_name;
    used_node = *env;
    std::string variable;
    if (!read_string(map, prefix, env_name, variable, false)) return false;
    const char* text = std::getenv(variable.c_str());
    if (text == nullptr) {
      error(join_key(prefix, env_name), *env, "environment variable " + variable + " is not set");
      return false;
    }
    secret = text;
  }
  if (secret.empty()) {
    error(join_key(prefix, used), used_node, "the secret is empty");
    return false;
  }
  out = std::move(secret);
  return true;
}

}  // namespace config::detail

namespace config {

std::optional<std::string> read_secret_file(const std::string& path, std::string& reason) {
  auto read = detail::read_text_file(path, reason);
  if (!read) return std::nullopt;
  std::string content = std::move(*read);
  // Secret mounts and `echo secret > file` end with one newline that is not part of the secret.
  if (content.size() >= 2 && content.compare(content.size() - 2, 2, "\r\n") == 0)
    content.resize(content.size() - 2);
  else if (!content.empty() && content.back() == '\n')
    content.pop_back();
  return content;
}

}  // namespace config
