#!/usr/bin/env bash
# Every C++ source of the project (src/, tests/, bench/) is as .clang-format writes it (STYLE.md).
# Fix with: clang-format -i $(git ls-files '*.cpp' '*.h')
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if ! command -v clang-format >/dev/null 2>&1; then
  echo "check.sh: clang-format is not installed (Debian package clang-format)" >&2
  exit 1
fi
cd "$root"
mapfile -t files < <(find src tests bench -type f \( -name '*.cpp' -o -name '*.h' \) | sort)
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
echo "check.sh: ${#files[@]} files, ${#bad[@]} not formatted"
if [ ${#bad[@]} -gt 0 ]; then
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
