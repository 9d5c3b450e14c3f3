#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The test suite: install deps, build, run every test (unit, fuzz-corpus replay,
# integration with real clients), then the unit tests and corpus replays again
# under ASan+UBSan. Ends with one "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

./scripts/deps.sh || exit 1

passed=0
failed=0
# run_ctest <build-dir> <label-args...>: adds ctest's counts to the totals.
run_ctest() {
  local dir=$1; shift
  local log; log=$(mktemp)
  (cd "$dir" && ctest --output-on-failure -j"$JOBS" --timeout 600 "$@") 2>&1 | tee "$log"
  local line; line=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$log" | tail -1)
  if [ -z "$line" ]; then
    failed=$((failed + 1))
  else
    local total bad
    bad=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
    total=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/')
    passed=$((passed + total - bad))
    failed=$((failed + bad))
  fi
  rm -f "$log"
}

build() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null &&
    cmake --build "$dir" -j"$JOBS" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^-- ' 
  return "${PIPESTATUS[0]}"
}

echo "== build (RelWithDebInfo)"
if build build; then
  echo "== tests"
  run_ctest build
else
  echo "build failed"
  failed=$((failed + 1))
fi

echo "== build (ASan+UBSan)"
if build build-asan -DDS_SANITIZE=ON; then
  echo "== unit tests and fuzz corpora under ASan+UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest build-asan -L unit
else
  echo "sanitizer build failed"
  failed=$((failed + 1))
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
