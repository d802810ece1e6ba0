#!/usr/bin/env bash
# Install everything the tests need on Debian/Ubuntu, then run them (README's test command).
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k lifecycle`.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq python3 python3-venv python3-pip busybox-static libseccomp2 graphviz \
  iproute2 util-linux podman runc skopeo docker-registry chromium >/dev/null
# Debian's docker-registry package may start its own service; the tests start their own.
$SUDO sh -c 'command -v systemctl >/dev/null && systemctl disable --now docker-registry' \
  >/dev/null 2>&1 || true
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
.venv/bin/ruff check .
bash tests/typecheck.sh
$SUDO .venv/bin/python -m pytest "$@"
