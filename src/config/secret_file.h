// Reading a secret from a file (a Kubernetes Secret mount) outside the YAML loader, for
// components that read theirs again at run time (relay.auth.password_file). No yaml-cpp here.
#pragma once
#include <optional>
#include <string>

namespace config {

// The file's content with one trailing newline ("\n" or "\r\n") stripped; nullopt + reason
// ("cannot read 'path': why") on failure. The YAML loader's *_file keys use it too.
std::optional<std::string> read_secret_file(const std::string& path, std::string& reason);

}  // namespace config
