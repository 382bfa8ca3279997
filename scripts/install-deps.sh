#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages slm builds with (and, with
# --test, the ones its test suite needs), if any are missing. Called by
# `make deps` (so by `make run`) and `make deps-test` (so by `make check`).
# Safe to run again: it does nothing when all are present.
set -euo pipefail

# libedit, libmicrohttpd and jansson are linked by the slm CLI only (chat, serve)
PKGS=(gcc make pkg-config libc6-dev libpcre2-dev libutf8proc-dev libedit-dev libmicrohttpd-dev libjansson-dev)
TEST_PKGS=(curl)
if [ "${1:-}" = "--test" ]; then
  PKGS+=("${TEST_PKGS[@]}")
fi
# the aarch64 cross compiler and qemu-user run the NEON kernel tests (make test-arm)
PKGS+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)

missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# node and npm run the reference implementations of tests/oracles (make oracles);
# a node from elsewhere (nodesource ships npm inside its nodejs) is fine
if [ "${1:-}" = "--test" ] && { ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; }; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "slm: installing missing packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "slm: run as root or install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
