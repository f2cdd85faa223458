// Typed, error-collecting reads of YAML nodes for the configuration loader (internal to
// src/config/). Every problem becomes a config::Error naming the dotted key and the 1-based line;
// nothing here throws on bad input, and an out-value is left untouched when its key is absent or
// bad.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/secret_file.h"

namespace config::detail {

// "smtp.limits" + "max_recipients" → "smtp.limits.max_recipients"; "" + "smtp" → "smtp".
std::string join_key(const std::string& prefix, std::string_view name);
// The 1-based line of a node, 0 when it has none.
int line_of(const YAML::Node& node);
// Reads a whole file; nullopt + reason ("cannot read 'path': why") on failure.
std::optional<std::string> read_text_file(const std::string& path, std::string& reason);
// read_secret_file: config/secret_file.h.

class Reader;
// The root node of the one YAML document in `yaml` (a Null node when there is none), or nullopt
// after reporting to `reader` a second document or input the parser cannot get past. Never uses
// YAML::LoadAll: yaml-cpp 0.7 loops there forever on input like "," (yaml-cpp issue 1040).
// Syntax errors are thrown as YAML::Exception, like YAML::Load.
std::optional<YAML::Node> load_one_document(const std::string& yaml, Reader& reader);

class Reader {
 public:
  explicit Reader(std::vector<Error>& errors) : errors_(errors) {}

  void error(const std::string& key, int line, std::string message);
  void error(const std::string& key, const YAML::Node& at, std::string message) {
    error(key, line_of(at), std::move(message));
  }

  // True when `node` is a mapping; reports each key not in `allowed` ("unknown key") and each
  // key given twice. A null node counts as an empty mapping.
  bool expect_map(const YAML::Node& node, const std::string& key,
                  std::initializer_list<std::string_view> allowed);
  // The value of `name` in the mapping, or nullopt when absent or null (null = keep the default).
  static std::optional<YAML::Node> field(const YAML::Node& map, std::string_view name);

  // Each read_* reads map[name] (if present) into `out`, or reports an error under prefix.name.
  // They return false only when the key was present and wrong.
  bool read_string(const YAML::Node& map, const std::string& prefix, std::string_view name,
                   std::string& out, bool allow_empty = true);
  bool read_bool(const YAML::Node& map, const std::string& prefix, std::string_view name,
                 bool& out);
  bool read_unsigned(const YAML::Node& map, const std::string& prefix, std::string_view name,
                     unsigned& out, unsigned min = 0, unsigned max = UINT32_MAX);
  bool read_size(const YAML::Node& map, const std::string& prefix, std::string_view name,
                 uint64_t& out, uint64_t min = 0);
  bool read_duration(const YAML::Node& map, const std::string& prefix, std::string_view name,
                     Duration& out, Duration min = Duration(0));
  // A sequence of strings, or a single string taken as a one-element list.
  bool read_string_list(const YAML::Node& map, const std::string& prefix, std::string_view name,
                        std::vector<std::string>& out);
  // One "host:port" string (parse_host_port must accept it).
  bool read_address(const YAML::Node& map, const std::string& prefix, std::string_view name,
                    std::string& out);
  bool read_address_list(const YAML::Node& map, const std::string& prefix, std::string_view name,
                         std::vector<std::string>& out);
  // One of the `choices`, compared exactly (the file writes them in lower case).
  bool read_choice(const YAML::Node& map, const std::string& prefix, std::string_view name,
                   std::initializer_list<std::string_view> choices, std::string& out);

  // A secret given as `base` (the value), `base_file` (a path) or `base_env` (a variable name):
  // at most one of them, and one is needed when `required`. Returns true when `out` was set.
  bool read_secret(const YAML::Node& map, const std::string& prefix, const std::string& base,
                   std::string& out, bool required);

  // A scalar as text, or an error "must be a <what>" under `key`.
  std::optional<std::string> scalar(const YAML::Node& node, const std::string& key,
                                    std::string_view what);

 private:
  std::vector<Error>& errors_;
};

}  // namespace config::detail
