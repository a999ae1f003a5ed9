#!/bin/sh
# System packages the tests use, from Debian's archive: busybox-static (base images),
# skopeo and umoci (readers of our output), attr (xattr tools), iptables and iproute2
# (bridge masquerade, network checks), docker-registry (the CNCF distribution registry) and
# apache2-utils (htpasswd) for the registry tests, tini (run --init), chromium (renders
# `cairn bench` reports), git, and mmdebstrap (the corpus's Debian base images,
# tests/corpus/bases.py), uidmap (newuidmap/newgidmap) and slirp4netns for rootless mode and
# its tests (tests/test_rootless.py), docker.io (the docker CLI that drives `cairn serve`, and the
# private dockerd the comparisons with BuildKit start; none is started here). Installs only what is missing. `setup-system.sh runtime` installs
# only what building and running the example needs (busybox-static, iptables, iproute2).
set -eu
need=""
command -v busybox >/dev/null 2>&1 || need="$need busybox-static"
command -v iptables >/dev/null 2>&1 || need="$need iptables"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
if [ "${1:-}" != runtime ]; then
command -v skopeo >/dev/null 2>&1 || need="$need skopeo"
command -v umoci >/dev/null 2>&1 || need="$need umoci"
command -v setfattr >/dev/null 2>&1 || need="$need attr"
command -v docker-registry >/dev/null 2>&1 || need="$need docker-registry"
command -v htpasswd >/dev/null 2>&1 || need="$need apache2-utils"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v git >/dev/null 2>&1 || need="$need git"
[ -x /usr/bin/tini-static ] || need="$need tini"
command -v mmdebstrap >/dev/null 2>&1 || need="$need mmdebstrap"
command -v newuidmap >/dev/null 2>&1 || need="$need uidmap"
command -v slirp4netns >/dev/null 2>&1 || need="$need slirp4netns"
[ -x /usr/bin/docker ] || need="$need docker.io"
fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "tests need:$need (run as root, or install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $need >/dev/null
