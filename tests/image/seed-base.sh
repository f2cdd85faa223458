#!/usr/bin/env bash
# Seeds buildah's local storage with debian:bookworm (and -slim) built by debootstrap, because no
# container registry is reachable here (TESTING.md "Container image without a Docker engine").
# Idempotent: does nothing but re-tag when localhost/debian:bookworm exists already. Needs root.
# The mirrors are the ones this machine's apt uses (apt-mirrors.sh reads its sources at run time;
# SEED_MIRROR / SEED_SECURITY_MIRROR override them): no package host is named in the project.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base=localhost/debian:bookworm
aliases=(docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim)

if [ "$(id -u)" -ne 0 ]; then
  echo "seed-base: needs root (debootstrap, buildah mount)" >&2
  exit 1
fi

# The list is read whole first: `buildah images | grep -q` would fail under pipefail whenever grep
# stops reading early and buildah dies of SIGPIPE.
have_image() {
  local names
  names=$(buildah images --noheading --format '{{.Name}}:{{.Tag}}')
  grep -qx -- "$1" <<<"$names"
}

# (Re)tagging is idempotent and keeps every alias on the same image as $base.
tag_aliases() { buildah tag "$base" "${aliases[@]}"; }

if have_image "$base"; then
  tag_aliases
  echo "seed-base: $base present"
  exit 0
fi

if [ -n "${SEED_MIRROR:-}" ]; then
  mirror=$SEED_MIRROR
  security=${SEED_SECURITY_MIRROR:-}
else
  mapfile -t mirrors < <(bash "$here/apt-mirrors.sh" bookworm)
  if [ ${#mirrors[@]} -eq 0 ] || [ -z "${mirrors[0]}" ]; then
    echo "seed-base: no Debian mirror in this machine's apt sources (set SEED_MIRROR)" >&2
    exit 1
  fi
  mirror=${mirrors[0]}
  security=${SEED_SECURITY_MIRROR:-${mirrors[1]:-}}
fi

rootfs=$(mktemp -d /var/tmp/seed-bookworm.XXXXXX)
container=""
cleanup() {
  if [ -n "$container" ]; then buildah rm "$container" >/dev/null 2>&1 || true; fi
  # debootstrap mounts /proc and /sys inside the target while it runs; never delete through them.
  local mounts
  mounts=$(findmnt -rn -o TARGET | grep "^$rootfs/" | sort -r) || true
  for m in $mounts; do umount -l "$m" || true; done
  rm -rf --one-file-system "$rootfs"
}
trap cleanup EXIT

echo "seed-base: debootstrap --variant=minbase bookworm ($mirror)"
start=$(date +%s)
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  tail -n 30 "$rootfs.log" >&2
  rm -f "$rootfs.log"
  exit 1
}
rm -f "$rootfs.log"

# The same apt sources as Docker Hub's debian:bookworm image (deb822, with updates and security),
# on this machine's mirrors.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
if [ -n "$security" ]; then
  cat >>"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF

Types: deb
URIs: ${security}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

# Slim like debian:bookworm-slim: no documentation, manuals or translations, now or from packages
# installed later (copyright files are kept).
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
EOF
find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{man,info,groff,lintian,locale}/*

container=$(buildah from scratch)
mnt=$(buildah mount "$container")
cp -a "$rootfs/." "$mnt/"
buildah umount "$container" >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --cmd /bin/bash --os linux --arch "$(dpkg --print-architecture)" "$container"
buildah commit --quiet --rm "$container" "$base" >/dev/null
container=""
tag_aliases
echo "seed-base: committed $base in $(($(date +%s) - start))s"
