#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages slm builds and tests with,
# if any are missing. Called by `make deps` (and so by `make run` and
# `make check`). Safe to run again: it does nothing when all are present.
set -euo pipefail

PKGS=(gcc make pkg-config libc6-dev libpcre2-dev)

missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
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
