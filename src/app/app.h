// The composition root: builds every component from the Config, runs them, and drains on
// SIGTERM / SIGINT. The only place that knows all components.
#pragma once

namespace config {
struct Config;
}

namespace app {
// Runs the bridge until SIGTERM or SIGINT; returns the process exit code.
int run(const config::Config& config);
}  // namespace app
