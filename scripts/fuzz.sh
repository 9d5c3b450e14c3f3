#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run one libFuzzer target: scripts/fuzz.sh <http1|pbjson|pbdecode|...> [seconds]
# New inputs go to a scratch directory; copy the interesting ones into fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh <target> [seconds]}
secs=${2:-60}
./scripts/deps.sh
cmake -S . -B build-fuzz -DDS_FUZZ=ON -DDS_TESTS=OFF -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "fuzz_$target"
scratch=$(mktemp -d)
echo "fuzzing $target for ${secs}s; new corpus entries in $scratch"
build-fuzz/fuzz/"fuzz_$target" -max_total_time="$secs" -rss_limit_mb=2048 "$scratch" "fuzz/corpus/$target"
