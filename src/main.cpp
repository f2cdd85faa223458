// smtp-bridge entry point: flags, configuration, then app::run.
#include <cstring>
#include <iostream>
#include <string>

#include "app/app.h"
#include "app/store_setup.h"
#include "common/version.h"
#include "config/config.h"

namespace {
void usage(std::ostream& out) {
  out << "usage: smtp-bridge [--config PATH] [--check-config] [--check-connection] [--version]\n"
         "  --config PATH       YAML configuration (default: the embedded default)\n"
         "  --check-config      validate the configuration and exit (0 valid, 2 invalid)\n"
         "  --check-connection  also connect to the store's server (postgres) and exit\n"
         "                      (0 connected, 1 cannot connect, 2 invalid)\n"
         "  --version           print the version and exit\n";
}
}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  bool check_connection = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--version") {
      std::cout << "smtp-bridge " << common::kVersion << "\n";
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      usage(std::cout);
      return 0;
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--check-connection") {
      check_only = true;
      check_connection = true;
    } else if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(std::strlen("--config="));
    } else {
      std::cerr << "smtp-bridge: unknown or incomplete argument '" << arg << "'\n";
      usage(std::cerr);
      return 2;
    }
  }

  config::Config cfg;
  if (!config_path.empty()) {
    config::LoadResult result = config::load_file(config_path);
    if (!result.config) {
      for (const auto& error : result.errors)
        std::cerr << "smtp-bridge: " << config_path << ": " << error.to_string() << "\n";
      return 2;
    }
    cfg = std::move(*result.config);
  }
  if (int status = app::check_store(cfg, check_connection, std::cout, std::cerr); status != 0)
    return status;
  if (check_only) {
    std::cout << "smtp-bridge: configuration "
              << (config_path.empty() ? std::string("(embedded default)") : config_path)
              << " is valid\n";
    return 0;
  }
  return app::run(cfg);
}
