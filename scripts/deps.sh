#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install everything the build, the tests and the demo need, idempotently:
# Debian packages with apt, npm packages into tests/node/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake pkg-config ca-certificates curl
  protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
  libnghttp2-dev libevent-dev libssl-dev libcurl4-openssl-dev
  libsecp256k1-dev nettle-dev libcmocka-dev
  clang-14 libclang-rt-14-dev
  nghttp2-client wrk openssl nodejs npm
)

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  # nodejs/npm may come from elsewhere (nodesource); a working `node` and `npm` is enough.
  if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages, pinned by tests/node/package-lock.json, into the project folder only.
if [ ! -f tests/node/node_modules/.deps-stamp ] || [ tests/node/package-lock.json -nt tests/node/node_modules/.deps-stamp ]; then
  echo "deps: installing npm packages into tests/node/node_modules"
  # `npm ci` refuses locks that lack other platforms' optional packages (anvil ships one binary
  # package per platform; npm 11 records only this one), so fall back to a lock-respecting install.
  (cd tests/node && { npm ci --no-audit --no-fund --loglevel=error 2>/dev/null ||
                      npm install --no-audit --no-fund --loglevel=error; })
  [ -f tests/node/node_modules/solc/soljson.js ] || { echo "deps: npm install failed" >&2; exit 1; }
  touch tests/node/node_modules/.deps-stamp
fi
