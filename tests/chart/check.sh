#!/usr/bin/env bash
# The Helm chart's CI check: helm lint --strict and helm template for every
# charts/smtp-bridge/ci/*-values.yaml, values the schema must refuse (with its own error), then
# validate.mjs on the rendered objects (Kubernetes schemas, security and wiring facts per
# backend, the config through `smtp-bridge --check-config` when SMTP_BRIDGE_BIN is set). Tools: $SMTP_BRIDGE_TOOLS or /work/main/.tools (install-tools.sh).
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

# The schema must refuse what the bridge cannot run, with its own error naming the key: more
# than one SQLite replica or an autoscaler on SQLite, PostgreSQL without a DSN or with two,
# unknown config keys, a writable root file system.
schema_error="values don't meet the specifications of the schema"
refuse() { # refuse EXPECTED-TEXT --set ARGS...
  local want="$1"; shift
  local out
  if out="$("$helm" template smtp-bridge "$chart" "$@" 2>&1 >/dev/null)"; then
    echo "FAIL helm template accepts $*"; status=1
  elif ! grep -qF "$want" <<<"$out"; then
    echo "FAIL helm template $* fails without '$want':"; echo "$out"; status=1
  else
    echo "ok   helm template refuses $* ($want)"
  fi
}
for bad in "replicaCount=2" "config.smtp.no_such_key=1" "securityContext.readOnlyRootFilesystem=false"; do
  refuse "$schema_error" --set "$bad"
done
api_key=(--set "config.api.keys[0].name=shop" --set "config.api.keys[0].key=sbk_key")
refuse "replicaCount: Must be less than or equal to 1" --set store.backend=sqlite --set replicaCount=3
refuse "autoscaling.enabled: autoscaling.enabled does not match: false" --set autoscaling.enabled=true
refuse "store.postgres: Must validate at least one schema" --set store.backend=postgres --set replicaCount=3 "${api_key[@]}"
refuse "store.postgres: Must not validate the schema" --set store.backend=postgres "${api_key[@]}" \
  --set-string store.postgres.dsn=host=db --set store.postgres.existingSecret=db-app
# A DKIM key is the key itself or an existing Secret's key, never both, and never none.
dkim=(--set "config.relay.dkim[0].domain=example.com" --set "config.relay.dkim[0].selector=s1")
refuse "Must not validate the schema" "${dkim[@]}" --set "config.relay.dkim[0].key=PEM" \
  --set "config.relay.dkim[0].existingSecret.name=dkim" --set "config.relay.dkim[0].existingSecret.key=k"
refuse "config.relay.dkim[0]: key or existingSecret is required" "${dkim[@]}"
# api.keys[].scopes names known scopes only; rate_limit has its three keys, a burst needs a rate.
refuse "$schema_error" "${api_key[@]}" --set "config.api.keys[0].scopes[0]=admin"
refuse "$schema_error" "${api_key[@]}" --set "config.api.keys[0].rate_limit.per_day=10"
refuse "$schema_error" "${api_key[@]}" --set "config.api.keys[0].rate_limit.burst=10"
# Bounces: the return path's domain and its HMAC keys come together (the bridge refuses one alone),
# the domain is a host name (no address literal, no '_'), a literal key has 16 bytes or more, and a
# key is the literal or an existing Secret's, not both.
rp_domain=(--set config.relay.return_path_domain=bounces.example.com)
rp_secret=(--set "config.relay.return_path_secrets[0].secret=return-path-key-0123456789")
refuse "config.relay: Has a dependency on return_path_secrets" "${rp_domain[@]}"
refuse "config.relay: Has a dependency on return_path_domain" "${rp_secret[@]}"
refuse "config.relay.return_path_domain: Does not match pattern" "${rp_secret[@]}" \
  --set config.relay.return_path_domain=bounces_example.com
refuse "config.relay.return_path_domain: Does not match pattern" "${rp_secret[@]}" \
  --set "config.relay.return_path_domain=[192.0.2.1]"
refuse "config.relay.return_path_secrets.0.secret: String length must be greater than or equal to 16" \
  "${rp_domain[@]}" --set "config.relay.return_path_secrets[0].secret=fifteen-bytes.."
refuse "config.relay.return_path_secrets.0: Must validate one and only one schema" "${rp_domain[@]}" "${rp_secret[@]}" \
  --set "config.relay.return_path_secrets[0].existingSecret.name=return-path-keys" \
  --set "config.relay.return_path_secrets[0].existingSecret.key=current"
# Not a schema rule (it depends on config.api): several pods need a configured API key.
refuse "config.api.keys is required" --set store.backend=postgres --set-string store.postgres.dsn=host=db
# A postmark URL's user:password@ would sit in the ConfigMap: the chart wants basic_auth (a Secret).
refuse "Does not match pattern" --set "config.routes[0].match[0]=*" \
  --set "config.routes[0].endpoints[0].url=https://user:pw@app.example/hook" \
  --set "config.routes[0].endpoints[0].format=postmark"
# And what it must accept: any replica count on PostgreSQL.
if "$helm" template smtp-bridge "$chart" --set store.backend=postgres --set replicaCount=5 "${api_key[@]}" \
    --set-string store.postgres.dsn=host=db >/dev/null 2>"$work/postgres5.err"; then
  echo "ok   helm template accepts 5 replicas on postgres"
else
  echo "FAIL helm template refuses 5 replicas on postgres:"; cat "$work/postgres5.err"; status=1
fi

node_args=(--tools "$tools" --chart "$chart" --rendered "$work/rendered")
[ -n "${SMTP_BRIDGE_BIN:-}" ] && node_args+=(--bin "$SMTP_BRIDGE_BIN")
node "$here/validate.mjs" "${node_args[@]}" || status=1
exit $status
