#!/usr/bin/env bash
# The Helm chart's CI check: helm lint --strict and helm template for every
# charts/smtp-bridge/ci/*-values.yaml, then validate.mjs on the rendered objects (Kubernetes
# schemas, security and wiring facts, the config through `smtp-bridge --check-config` when
# SMTP_BRIDGE_BIN is set). Tools: $SMTP_BRIDGE_TOOLS or /work/main/.tools (install-tools.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
chart="$root/charts/smtp-bridge"
tools="${SMTP_BRIDGE_TOOLS:-$root/.tools}"

helm="$tools/bin/helm"
if [ ! -x "$helm" ] || [ ! -d "$tools/node_modules/kubernetes-models" ]; then
  echo "check.sh: helm or kubernetes-models missing in $tools; run: bash tests/chart/install-tools.sh $tools" >&2
  exit 1
fi
if [ -n "${SMTP_BRIDGE_BIN:-}" ] && [ ! -x "$SMTP_BRIDGE_BIN" ]; then
  echo "check.sh: SMTP_BRIDGE_BIN=$SMTP_BRIDGE_BIN is not an executable" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/chart-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# helm keeps no state outside the work folder.
export HELM_CACHE_HOME="$work/helm/cache" HELM_CONFIG_HOME="$work/helm/config" HELM_DATA_HOME="$work/helm/data"
mkdir -p "$work/rendered"

status=0
shopt -s nullglob
values_files=("$chart"/ci/*-values.yaml)
if [ ${#values_files[@]} -eq 0 ]; then
  echo "check.sh: no values files in $chart/ci" >&2
  exit 1
fi
for values in "${values_files[@]}"; do
  name="$(basename "$values" -values.yaml)"
  if ! "$helm" lint --strict --quiet -f "$values" "$chart" >"$work/$name.lint" 2>&1; then
    echo "FAIL helm lint --strict ($name):"; cat "$work/$name.lint"; status=1
  else
    echo "ok   helm lint --strict ($name)"
  fi
  if ! "$helm" template smtp-bridge "$chart" --namespace mail -f "$values" \
      >"$work/rendered/$name.yaml" 2>"$work/$name.template"; then
    echo "FAIL helm template ($name):"; cat "$work/$name.template"; status=1
    rm -f "$work/rendered/$name.yaml"
  else
    echo "ok   helm template ($name)"
  fi
done

# The schema must refuse what the bridge cannot run: more than one replica, unknown config keys.
for bad in "replicaCount=2" "config.smtp.no_such_key=1" "securityContext.readOnlyRootFilesystem=false"; do
  if "$helm" template smtp-bridge "$chart" --set "$bad" >/dev/null 2>&1; then
    echo "FAIL values.schema.json accepts --set $bad"; status=1
  else
    echo "ok   values.schema.json refuses --set $bad"
  fi
done

node_args=(--tools "$tools" --chart "$chart" --rendered "$work/rendered")
[ -n "${SMTP_BRIDGE_BIN:-}" ] && node_args+=(--bin "$SMTP_BRIDGE_BIN")
node "$here/validate.mjs" "${node_args[@]}" || status=1
exit $status
