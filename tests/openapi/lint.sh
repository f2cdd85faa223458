#!/usr/bin/env bash
# Lints openapi/openapi.yaml with Redocly CLI (TESTING.md: @redocly/cli@2.77.0, its recommended
# rules). Exits non-zero on any error; npx takes the package from the npm cache or the registry.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if ! command -v npx >/dev/null 2>&1; then
  echo "lint.sh: npx is not installed (Debian packages nodejs and npm)" >&2
  exit 1
fi
# Redocly's usage telemetry stays off: tests send nothing outside the machine's registries.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
cd "$root"
exec npx --yes @redocly/cli@2.77.0 lint --format=stylish openapi/openapi.yaml
