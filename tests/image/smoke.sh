#!/usr/bin/env bash
# Container smoke test: builds the unchanged Dockerfile with buildah (no Docker engine, no registry),
# runs the image's own ENTRYPOINT + CMD and asserts what a deployment relies on: swaks gets
# "250 2.0.0", /healthz answers 200, the message is in the REST API, the process runs as UID/GID
# 10001, it writes only to its volume, and SIGTERM stops it with exit status 0. Needs root.
# Usage: tests/image/smoke.sh   (from anywhere; prints the image size and the build time)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/image
image=localhost/smtp-bridge:test
python=/usr/bin/python3

fail() { echo "image smoke: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (buildah)"
for tool in buildah debootstrap swaks curl "$python"; do
  command -v "$tool" >/dev/null || fail "missing $tool (scripts/setup)"
done

work=$(mktemp -d /var/tmp/smtp-bridge-smoke.XXXXXX)
container=""
runner=""
bridge=""
# The bridge process: the descendant of this `buildah run` whose command is smtp-bridge (chroot
# isolation shares the host's PID namespace).
find_bridge() {
  local pids=("$runner") found="" pid child
  while [ ${#pids[@]} -gt 0 ]; do
    pid=${pids[0]}
    pids=("${pids[@]:1}")
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = smtp-bridge ]; then found=$pid; fi
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do pids+=("$child"); done
  done
  echo "$found"
}

cleanup() {
  local rc=$?
  # Kill the bridge (looked up again: it may start only after an early failure), then let
  # `buildah run` exit by itself; kill that only if it does not (a killed buildah leaves its run
  # folder behind in /var/tmp and its helper may still start the bridge).
  if [ -n "$runner" ]; then
    for _ in $(seq 50); do
      kill -0 "$runner" 2>/dev/null || break
      { [ -n "$bridge" ] && kill -0 "$bridge" 2>/dev/null; } || bridge=$(find_bridge)
      if [ -n "$bridge" ]; then kill -KILL "$bridge" 2>/dev/null || true; fi
      sleep 0.1
    done
    kill -KILL "$runner" 2>/dev/null || true
    wait "$runner" 2>/dev/null || true
  fi
  if [ -n "$container" ]; then buildah rm "$container" >/dev/null 2>&1 || true; fi
  if [ $rc -ne 0 ] && [ -s "$work/bridge.log" ]; then
    echo "--- bridge output" >&2
    tail -n 40 "$work/bridge.log" >&2
  fi
  rm -rf --one-file-system "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash "$here/seed-base.sh"

# Build -----------------------------------------------------------------------------------------
start=$(date +%s)
if ! buildah bud --pull=never --isolation chroot --layers --force-rm -t "$image" . >"$work/build.log" 2>&1; then
  tail -n 60 "$work/build.log" >&2
  fail "buildah bud failed"
fi
echo "image smoke: built $image in $(($(date +%s) - start))s," \
  "size $(buildah images --noheading --format '{{.Size}}' "$image")"

# Run: the image's ENTRYPOINT + CMD, a test config mounted over the default one (port 0 on
# loopback: the bridge binds free ports and logs them). The image's VOLUME gets buildah's anonymous
# volume, as with Docker (buildah 1.28 picks at random between a -v on a VOLUME path and its own
# volume, so the test does not mount one there) --------------------------------------------------
cat >"$work/config.yaml" <<'EOF'
smtp:
  listen: ["127.0.0.1:0"]
  hostname: smoke.test
store:
  path: /var/lib/smtp-bridge/smtp-bridge.db
api:
  listen: "127.0.0.1:0"
  keys: [{name: smoke, key: sbk_image_smoke_test_key_0123456789}]
admin:
  listen: "127.0.0.1:0"
EOF
chmod 0644 "$work/config.yaml"

mapfile -t command < <(buildah inspect --type image "$image" | "$python" -c '
import json, sys
config = json.load(sys.stdin)["OCIv1"]["config"]
for arg in (config.get("Entrypoint") or []) + (config.get("Cmd") or []): print(arg)')
[ "${command[0]:-}" = /usr/local/bin/smtp-bridge ] || fail "unexpected ENTRYPOINT: ${command[*]}"

container=$(buildah from --pull=never "$image")
mnt=$(buildah mount "$container")
touch "$work/before-run"
buildah run --isolation chroot \
  -v "$work/config.yaml:/etc/smtp-bridge/config.yaml:ro" \
  "$container" -- "${command[@]}" >"$work/bridge.log" 2>&1 &
runner=$!

# Wait (bounded) for the three "listening" lines the bridge logs once its sockets are bound.
port_of() {
  "$python" - "$1" "$work/bridge.log" <<'EOF'
import json, sys
for line in open(sys.argv[2], errors="replace"):
    try: entry = json.loads(line)
    except ValueError: continue
    if entry.get("msg") == "listening" and entry.get("listener") == sys.argv[1]:
        print(entry["address"].rsplit(":", 1)[1]); break
EOF
}
deadline=$(($(date +%s) + 60))
smtp_port="" api_port="" admin_port=""
while [ -z "$smtp_port" ] || [ -z "$api_port" ] || [ -z "$admin_port" ]; do
  kill -0 "$runner" 2>/dev/null || fail "the container exited before listening"
  [ "$(date +%s)" -lt "$deadline" ] || fail "no listening lines within 60s"
  sleep 0.2
  smtp_port=$(port_of smtp) api_port=$(port_of api) admin_port=$(port_of admin)
done
bridge=$(find_bridge)
[ -n "$bridge" ] || fail "no smtp-bridge process under buildah run"
echo "image smoke: bridge pid $bridge, smtp $smtp_port, api $api_port, admin $admin_port"

# The process runs as the image's non-root user (real, effective, saved and fs IDs).
uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$bridge/status")
gid=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$bridge/status")
[ "$uid" = "10001 10001 10001 10001" ] || fail "bridge UIDs are '$uid', expected 10001"
[ "$gid" = "10001 10001 10001 10001" ] || fail "bridge GIDs are '$gid', expected 10001"

# SMTP: one message, 250 2.0.0 after the data (committed).
swaks --server "127.0.0.1:$smtp_port" --from alice@example.com --to bob@example.com \
  --header "Subject: image smoke" --body "hello from the image smoke test" \
  >"$work/swaks.log" 2>&1 || { cat "$work/swaks.log" >&2; fail "swaks failed"; }
reply=$(grep -E '^<[-~] +250 2\.0\.0 ' "$work/swaks.log" | tail -n 1) || true
[ -n "$reply" ] || { cat "$work/swaks.log" >&2; fail "no '250 2.0.0' reply to the message"; }
id=$(sed -E 's/.*queued as ([0-9a-f-]+).*/\1/' <<<"$reply")
echo "image smoke: swaks got: ${reply#<? }"

# Admin and REST answer through the image's network (shared loopback).
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/healthz")
[ "$code" = 200 ] || fail "/healthz answered $code"
code=$(curl -s -o "$work/message.json" -w '%{http_code}' \
  -H "Authorization: Bearer sbk_image_smoke_test_key_0123456789" \
  "http://127.0.0.1:$api_port/v1/inbound/$id")
[ "$code" = 200 ] || fail "GET /v1/inbound/$id answered $code"
grep -q '"image smoke"' "$work/message.json" || fail "the stored message lacks its subject"

# The store is on the volume (a mount of its own in the container), owned by the non-root user.
awk '$5 == "/var/lib/smtp-bridge" {found = 1} END {exit !found}' "/proc/$bridge/mountinfo" ||
  fail "/var/lib/smtp-bridge is not a volume in the container"
[ "$(stat -c %u "/proc/$bridge/root/var/lib/smtp-bridge/smtp-bridge.db" 2>/dev/null)" = 10001 ] ||
  fail "no store owned by 10001 on the volume"

# SIGTERM (what a container runtime sends): the bridge drains and exits 0.
kill -TERM "$bridge"
status=0
wait "$runner" || status=$?
runner=""
[ "$status" -eq 0 ] || fail "exit status $status after SIGTERM"

# Read-only-root friendly: nothing in the container's own filesystem was written by the run.
written=$(find "$mnt" -xdev -newer "$work/before-run" ! -type d 2>/dev/null |
  grep -vE "^$mnt/(etc/(hosts|hostname|resolv\.conf)|run/\.containerenv)$" || true)
[ -z "$written" ] || fail "the run wrote outside its volume: ${written//$mnt/}"
echo "image smoke: OK"
