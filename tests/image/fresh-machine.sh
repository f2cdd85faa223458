#!/usr/bin/env bash
# Fresh-machine proof: runs the README's test command (`bash scripts/test`) inside a clean
# debian:bookworm container (the debootstrap seed of seed-base.sh, built with buildah, no Docker
# engine), with only the checkout, ../shared and the host's Node.js 20 + npm copied in (this
# machine type has them; Debian 12's nodejs is too old). Whatever scripts/setup forgets to
# install fails here. Needs root and network to the machine's apt sources.
# Usage: tests/image/fresh-machine.sh [COMMAND...]   (default: bash scripts/test; prints the time)
#
# The host's ccache is lent to the container read-only (CCACHE_READONLY) to save compile time.
# It cannot hide a missing package: CMake's find_package runs uncached, every compile runs the
# preprocessor or checks each recorded header still exists (a missing -dev package fails), links
# are never cached, and the tests run the container's own tools.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/image
project=$(pwd)
name=$(basename "$project")
shared=$(cd .. && pwd)/shared
command=("$@")
[ ${#command[@]} -gt 0 ] || command=(bash scripts/test)

fail() { echo "fresh machine: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (buildah)"
for tool in buildah debootstrap git node npm; do
  command -v "$tool" >/dev/null || fail "missing $tool on the host"
done
[ -d "$shared/corpora" ] || fail "no $shared/corpora beside the checkout"

start=$(date +%s)
bash "$here/seed-base.sh"

container=""
cleanup() {
  if [ -n "$container" ]; then
    buildah umount "$container" >/dev/null 2>&1 || true
    buildah rm "$container" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

container=$(buildah from --pull=never localhost/debian:bookworm)
mnt=$(buildah mount "$container")

# Node.js and npm exactly where the host has them (npm and npx are symlinks into npm's package).
copy_host_path() {  # a file or symlink, with the directories above it
  mkdir -p "$mnt$(dirname "$1")"
  cp -a "$1" "$mnt$1"
}
node=$(command -v node)
copy_host_path "$(readlink -f "$node")"
[ "$(readlink -f "$node")" = "$node" ] || copy_host_path "$node"
for tool in npm npx; do
  path=$(command -v "$tool") || continue
  target=$(readlink -f "$path")
  package=${target%/bin/*}  # .../node_modules/npm
  [ -d "$mnt$package" ] || { mkdir -p "$mnt$(dirname "$package")"; cp -a "$package" "$mnt$package"; }
  [ "$target" = "$path" ] || copy_host_path "$path"
done

# npm's global configuration as the host has it (a CA file setting, when any: never a token).
npmrc=$(npm config get globalconfig 2>/dev/null || true)
if [ -n "$npmrc" ] && [ -f "$npmrc" ]; then
  grep -qiE '(_auth|token|password)' "$npmrc" || copy_host_path "$npmrc"
fi
# The machine's own trust anchors (a network that inspects TLS has its CA here): Debian's
# ca-certificates, once scripts/setup installs it, adds them to /etc/ssl/certs like on the host.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$mnt/usr/local/share/ca-certificates"
  cp -a /usr/local/share/ca-certificates/*.crt "$mnt/usr/local/share/ca-certificates/"
fi

# The checkout as a fresh clone has it (tracked and new files, nothing ignored: no build trees,
# no .tools), and ../shared beside it, under /work as on the host (ccache's base_dir).
mkdir -p "$mnt/work/$name" "$mnt/work/shared"
git ls-files -z --cached --others --exclude-standard |
  (cd "$project" && tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$mnt/work/$name"
cp -a "$shared/." "$mnt/work/shared/"
buildah umount "$container" >/dev/null
echo "fresh machine: container ready in $(($(date +%s) - start))s; running: ${command[*]}"

mounts=()
envs=(--env HOME=/root --env LANG=C.UTF-8)
# Node reads extra trust anchors only from NODE_EXTRA_CA_CERTS (npm --prefix ignores the global
# npmrc's cafile): when the host sets it, the container points it at its own system bundle.
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
  envs+=(--env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
fi
ccache_dir=$(ccache -k cache_dir 2>/dev/null || true)
if [ -n "$ccache_dir" ] && [ -d "$ccache_dir" ]; then
  mounts+=(-v "$ccache_dir:/ccache")
  envs+=(--env CCACHE_DIR=/ccache --env CCACHE_READONLY=1 --env CCACHE_TEMPDIR=/tmp
    --env CCACHE_BASEDIR=/work --env CCACHE_NOHASHDIR=1)
fi
run_start=$(date +%s)
status=0
buildah run --isolation chroot "${mounts[@]}" "${envs[@]}" --workingdir "/work/$name" \
  "$container" -- "${command[@]}" || status=$?
echo "fresh machine: '${command[*]}' exited $status after $(($(date +%s) - run_start))s" \
  "($(($(date +%s) - start))s in all)"
[ "$status" -eq 0 ] || fail "the test command failed in a clean debian:bookworm"
echo "fresh machine: OK"
