#!/usr/bin/env bash
# Builds a local base image (Debian minbase rootfs via debootstrap, then `docker import`).
# No container registry is needed: this is how Holdout runs on air-gapped hosts too.
# The Debian mirror is taken from this host's own APT sources (or HOLDOUT_DEBIAN_MIRROR),
# so the script names no mirror itself. HOLDOUT_DEBIAN_SUITE picks the release (bookworm), and
# HOLDOUT_DEBIAN_INCLUDE adds packages (comma-separated) with their dependencies.
set -euo pipefail

image="${1:-holdout/base:bookworm}"
suite="${HOLDOUT_DEBIAN_SUITE:-bookworm}"
include="${HOLDOUT_DEBIAN_INCLUDE:-}"

if [ "${HOLDOUT_REBUILD:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image already present"
  exit 0
fi

mirror="${HOLDOUT_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  # deb822 sources first (URIs: ...), then one-line sources (deb URL suite ...).
  mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | grep -i debian | head -n1 || true)
  if [ -z "$mirror" ]; then
    mirror=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | grep -v security | grep -i debian | head -n1 || true)
  fi
fi
if [ -z "$mirror" ]; then
  echo "no Debian mirror found in /etc/apt sources; set HOLDOUT_DEBIAN_MIRROR (on Ubuntu, e.g. http://deb.debian.org/debian)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 1; }
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || {
  echo "Debian's archive keyring is missing (apt-get install -y debian-archive-keyring)" >&2
  exit 1
}

rootfs=$(mktemp -d /var/tmp/holdout-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap $suite${include:+ with $include} from the host's mirror into $rootfs"
debootstrap --variant=minbase ${include:+"--include=$include"} "$suite" "$rootfs" "$mirror" >/dev/null
# Smaller image and no apt cache: later Dockerfiles run apt-get update themselves.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
previous=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
tar -C "$rootfs" --numeric-owner -c . | docker import \
  --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
if [ -n "$previous" ]; then
  # A rebuild (HOLDOUT_REBUILD=1): the old one goes unless images built on it or containers keep it.
  docker rmi "$previous" >/dev/null 2>&1 || echo "kept the previous $image ($previous): still in use"
fi
echo "built $image"
