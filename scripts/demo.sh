#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: install deps, build, and run the local demo of the whole system
# (all five services on loopback; see deploy/local/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
[ -x build/services/attest/dstack-attest ] || { echo "build failed" >&2; exit 1; }
DS_BUILD_DIR=build exec ./deploy/local/run.sh "${1:-.demo}"
