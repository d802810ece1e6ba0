#!/usr/bin/env bash
# Install everything the tests need on Debian/Ubuntu, then run them (README's test command).
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k lifecycle`.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq python3 python3-venv python3-pip busybox-static libseccomp2 graphviz proot \
  iproute2 util-linux podman runc skopeo docker-registry chromium fonts-wqy-zenhei >/dev/null
# Debian's docker-registry package may start its own service; the tests start their own.
$SUDO sh -c 'command -v systemctl >/dev/null && systemctl disable --now docker-registry' \
  >/dev/null 2>&1 || true
# A Docker CLI for the Docker API tests. Debian's docker.io (bookworm has no client-only
# package) holds the daemon too, whose maintainer scripts would start it: take only the
# client binary out of the package, never install (or start) the daemon.
if ! command -v docker >/dev/null; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download docker.io >/dev/null && dpkg-deb -x docker.io_*.deb pkg) \
    && $SUDO install -m 0755 "$tmp/pkg/usr/bin/docker" /usr/local/bin/docker
  rm -rf "$tmp"
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
.venv/bin/ruff check .
bash tests/typecheck.sh
$SUDO .venv/bin/python -m pytest "$@"
