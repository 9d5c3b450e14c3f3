#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# DCAP verification benchmark: TDX quote verifications per second on one core with warm
# collateral, ours (build/bench/attest/ds_bench_dcap, lib/attest) against the named peer
# @phala/dcap-qvl (npm, pure JS `verify`) on the same quote, collateral and `now`, next to
# the floor measured in the same run with `openssl speed ecdsap256` (P-256 verify/s):
#   known    a platform whose certification data already verified: one P-256 verify per quote
#   first    a first-seen platform (platform cache cleared per quote): three P-256 verifies
#   cold     full verification from the collateral JSON, no caches: latency median / p99
# Everything runs pinned to one CPU, one process at a time, the order alternating per round.
# Prints the per-round lines, a results table (medians of the rounds), the targets, the
# machine, the date, the load average and the exact commands.
set -uo pipefail

usage() {
	cat <<'EOF'
usage: bench/attest/run.sh [options]
  --quick            short run to check the script works (1 round, 1 s per case, 200 cold runs)
  --rounds N         rounds (default 3; medians reported)
  --seconds S        seconds per rate measurement (default 3; also openssl speed -seconds)
  --cold-runs N      cold verifications per round (default 1000)
  --cpu C            CPU everything is pinned to (default 0)
  --build-dir D      CMake build directory (default <repo>/build, or $DS_BUILD_DIR)
  --testdata D       shared attestation vectors (default <repo>/../shared/testdata/attestation)
  --quote F --collateral F --now N
                     another quote (default: P01, dcap-qvl/tdx_quote + tdx_quote_collateral.json
                     at 1752919234, TDX v4, UpToDate)
  --pccs N           also time N fetches of the collateral (the four GETs @phala/dcap-qvl's getCollateral
                     makes) from a local dstack-attest serving its PCCS API (offline mode, collateral.dir =
                     the collateral's directory); the daemon runs on --pccs-cpu (default 1), curl on --cpu
  --perf S           after the rounds, profile ds_bench_dcap (known, first, cold) with perf for ~S s each
  -h, --help
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${DS_BUILD_DIR:-$root/build}
testdata=$(cd "$root/../shared/testdata/attestation" 2>/dev/null && pwd || echo "$root/../shared/testdata/attestation")
rounds=3 seconds=3 cold_runs=1000 cpu=0 perf_s=0 quick=0 pccs_n=0 pccs_cpu=1
quote="" coll="" now=1752919234

while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 rounds=1 seconds=1 cold_runs=200 ;;
	--rounds) rounds=$2; shift ;;
	--seconds) seconds=$2; shift ;;
	--cold-runs) cold_runs=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--build-dir) build=$2; shift ;;
	--testdata) testdata=$2; shift ;;
	--quote) quote=$2; shift ;;
	--collateral) coll=$2; shift ;;
	--now) now=$2; shift ;;
	--perf) perf_s=$2; shift ;;
	--pccs) pccs_n=$2; shift ;;
	--pccs-cpu) pccs_cpu=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
quote=${quote:-$testdata/dcap-qvl/tdx_quote}
coll=${coll:-$testdata/dcap-qvl/tdx_quote_collateral.json}

die() { echo "run.sh: $*" >&2; exit 1; }

# ---- prerequisites (this script builds nothing) ----
ours=$build/bench/attest/ds_bench_dcap
node_modules=$root/tests/node/node_modules
if [ ! -x "$ours" ]; then
	cat >&2 <<EOF
run.sh: missing $ours
build it first:
  cmake -S $root -B $build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build $build -j\$(nproc) --target ds_bench_dcap
EOF
	exit 1
fi
[ -f "$node_modules/@phala/dcap-qvl/package.json" ] || die "@phala/dcap-qvl missing: (cd $root/tests/node && npm ci)"
[ -f "$quote" ] && [ -f "$coll" ] || die "quote or collateral not found: $quote $coll"
for t in node openssl taskset awk sort; do
	command -v $t >/dev/null || die "$t not found"
done
[ "$perf_s" = 0 ] || command -v perf >/dev/null || die "perf not found (--perf)"
attest_bin=$build/services/attest/dstack-attest
if [ "$pccs_n" != 0 ]; then
	[ -x "$attest_bin" ] || die "--pccs needs $attest_bin (cmake --build $build --target dstack-attest)"
	command -v curl >/dev/null || die "curl not found (--pccs)"
	[ "$pccs_cpu" -lt "$(nproc)" ] || die "--pccs-cpu $pccs_cpu: only $(nproc) CPUs"
fi
[ "$cpu" -lt "$(nproc)" ] || die "--cpu $cpu: only $(nproc) CPUs"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-attest.XXXXXX")
pccs_pid=""
cleanup() {
	if [ -n "$pccs_pid" ]; then
		kill -TERM "$pccs_pid" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$pccs_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pccs_pid" 2>/dev/null
		wait "$pccs_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# key=value field of a result line
field() { awk -v k="$2" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) { print a[2]; exit } } }' <<<"$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

dcapqvl_version=$(awk -F'"' '/"version"/ { print $4; exit }' "$node_modules/@phala/dcap-qvl/package.json")
load_start=$(loadavg)
echo "== DCAP verification benchmark: TDX quote, warm collateral, one core =="
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
echo "load:    $load_start (1/5/15-min load average at start)"
echo "tools:   $(openssl version), node $(node --version), @phala/dcap-qvl $dcapqvl_version"
echo "tree:    $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo ' + uncommitted changes')"
echo "input:   quote $quote"
echo "         collateral $coll, now $now"
echo "pinning: everything on CPU $cpu, one process at a time"
echo "rounds:  $rounds x ${seconds}s per rate case, $cold_runs cold verifications$([ $quick = 1 ] && echo ' (--quick)')"
echo

q=(--quote "$quote" --collateral "$coll" --now "$now")
results=$work/results
: >"$results"

run_floor() {
	local out v
	out=$(taskset -c "$cpu" openssl speed -seconds "$seconds" ecdsap256 2>/dev/null) || die "openssl speed failed"
	v=$(awk '/ecdsa \(nistp256\)/ { print $NF }' <<<"$out")
	[ -n "$v" ] || die "cannot read openssl speed output"
	echo "floor r=$1 verify_per_s=$v" >>"$results"
	printf '  round %d  %-26s %10.0f verify/s (CPU time, as openssl speed reports)\n' "$1" "openssl speed ecdsap256" "$v"
}
run_ours() { # ROUND CASE
	local out
	out=$(taskset -c "$cpu" "$ours" --case "$2" "${q[@]}" --seconds "$seconds" --runs "$cold_runs") ||
		die "ds_bench_dcap --case $2 failed"
	echo "ours r=$1 $out" >>"$results"
	if [ "$2" = cold ]; then
		printf '  round %d  %-26s median %7.0f us  p99 %7.0f us  (CPU median %.0f us)\n' "$1" "ours cold" \
			"$(field "$out" median_us)" "$(field "$out" p99_us)" "$(field "$out" cpu_median_us)"
	else
		printf '  round %d  %-26s %10.0f /CPU-s %10.0f /s (wall)\n' "$1" "ours $2" \
			"$(field "$out" ops_per_cpu_s)" "$(field "$out" ops_per_s)"
	fi
}
run_js() {
	local out
	out=$(taskset -c "$cpu" node "$here/dcapqvl_bench.mjs" "${q[@]}" --seconds "$seconds" --warmup 1) ||
		die "dcapqvl_bench.mjs failed"
	echo "peer r=$1 $out" >>"$results"
	printf '  round %d  %-26s %10.1f /CPU-s %10.1f /s (wall)  median %.0f us  p99 %.0f us\n' "$1" "@phala/dcap-qvl verify" \
		"$(field "$out" ops_per_cpu_s)" "$(field "$out" ops_per_s)" "$(field "$out" median_us)" "$(field "$out" p99_us)"
}

for ((r = 1; r <= rounds; r++)); do
	if ((r % 2)); then
		run_floor $r; run_ours $r sig; run_ours $r known; run_ours $r first; run_ours $r nocache; run_js $r; run_ours $r cold
	else
		run_ours $r cold; run_js $r; run_ours $r nocache; run_ours $r first; run_ours $r known; run_ours $r sig; run_floor $r
	fi
	echo "  load average after round $r: $(loadavg)"
done
load_end=$(loadavg)

# ---- optional: the collateral fetch from a local PCCS (dstack-attest, offline mode) ----
pccs_line=""
if [ "$pccs_n" != 0 ]; then
	printf '%s\n' 'listen = tcp://127.0.0.1:0' 'log.level = warn' 'collateral.mode = offline' \
		"collateral.dir = $(dirname "$coll")" "collateral.cache_dir = $work/pccs-cache" \
		"collateral.test_now = $now" >"$work/pccs.conf"
	taskset -c "$pccs_cpu" "$attest_bin" serve -c "$work/pccs.conf" --ready-file "$work/pccs.ready" >"$work/pccs.log" 2>&1 &
	pccs_pid=$!
	for _ in $(seq 1 100); do [ -s "$work/pccs.ready" ] && break; kill -0 "$pccs_pid" 2>/dev/null || break; sleep 0.05; done
	[ -s "$work/pccs.ready" ] || { tail -5 "$work/pccs.log" >&2; die "dstack-attest did not become ready"; }
	purl="http://127.0.0.1:$(head -1 "$work/pccs.ready" | sed 's/.*://')"
	# The quote's platform as the collateral names it: FMSPC and TEE from the TCB info, CA from the CRL chain.
	read -r fmspc tee ca < <(node -e '
		const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		const t = JSON.parse(c.tcb_info);
		console.log(t.fmspc.toLowerCase(), t.id === "TDX" ? "tdx" : "sgx",
			/Processor CA/.test(c.pck_crl_issuer_chain) ? "processor" : "platform");' "$coll")
	urls=("$purl/sgx/certification/v4/pckcrl?ca=$ca&encoding=der" "$purl/$tee/certification/v4/tcb?fmspc=$fmspc"
		"$purl/$tee/certification/v4/qe/identity?update=standard" "$purl/sgx/certification/v4/rootcacrl")
	for u in "${urls[@]}"; do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$u")
		[ "$code" = 200 ] || die "local PCCS: $u answered $code"
	done
	# One curl per set: four GETs on one keep-alive connection; the set's time is the sum of its transfers.
	for ((i = 0; i < pccs_n; i++)); do
		taskset -c "$cpu" curl -s -w '%{time_total}\n' -o /dev/null -o /dev/null -o /dev/null -o /dev/null "${urls[@]}" |
			awk '{ s += $1 } END { printf "%.1f\n", s * 1e6 }'
	done >"$work/pccs.us"
	pccs_med=$(median <"$work/pccs.us")
	pccs_p99=$(sort -g "$work/pccs.us" | awk '{ v[NR] = $1 } END { print v[int(NR * 0.99 + 0.999999)] }')
	pccs_line="local PCCS fetch (dstack-attest offline, 4 GETs on one connection, $pccs_n sets): median $(printf '%.0f' "$pccs_med") us, p99 $(printf '%.0f' "$pccs_p99") us"
fi

# ---- summary ----
col() { # WHO CASE KEY -> median over rounds
	awk -v w="$1" -v c="$2" '$1 == w && (c == "" || $3 == c)' "$results" | while read -r line; do field "$line" "$3"; done | median
}
floor=$(col floor "" verify_per_s)
sig=$(col ours sig ops_per_cpu_s)
known=$(col ours known ops_per_cpu_s) known_w=$(col ours known ops_per_s)
first=$(col ours first ops_per_cpu_s) first_w=$(col ours first ops_per_s)
nocache=$(col ours nocache ops_per_cpu_s) nocache_w=$(col ours nocache ops_per_s)
js=$(col peer js ops_per_cpu_s) js_w=$(col peer js ops_per_s)
js_med=$(col peer js median_us) js_p99=$(col peer js p99_us)
cold_med=$(col ours cold median_us) cold_p99=$(col ours cold p99_us) cold_cpu=$(col ours cold cpu_median_us)
cold_cpu99=$(col ours cold cpu_p99_us)
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0fx", a / b; else print "n/a" }'; }
met() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "NOT met"; fi; }

echo
echo "== results: median of $rounds round(s); rates per CPU-second of the measured process (pinned to CPU $cpu) =="
echo
echo "| case | P-256 verifies | ours /CPU-s | ours /s (wall) | share of floor | @phala/dcap-qvl /CPU-s | ours / dcap-qvl |"
echo "|---|---:|---:|---:|---:|---:|---:|"
printf '| floor: openssl speed ecdsap256 (verify) | 1 | %.0f | | 100%% | | |\n' "$floor"
printf '| ours: ecdsa_verify_p256_sha256 alone | 1 | %.0f | | %s | | |\n' "$sig" "$(pct "$sig" "$floor")"
printf '| (i) known platform (vcoll + platform cache) | 1 | %.0f | %.0f | **%s** of floor | %.1f | **%s** |\n' \
	"$known" "$known_w" "$(pct "$known" "$floor")" "$js" "$(ratio "$known" "$js")"
printf '| (ii) first-seen platform (cache cleared) | 3 | %.0f | %.0f | **%s** of floor/3 | %.1f | **%s** |\n' \
	"$first" "$first_w" "$(pct "$first" "$(awk -v f="$floor" 'BEGIN { print f / 3 }')")" "$js" "$(ratio "$first" "$js")"
printf '| no platform cache (full X509_STORE PCK chain) | 3+ | %.0f | %.0f | %s of floor/3 | %.1f | %s |\n' \
	"$nocache" "$nocache_w" "$(pct "$nocache" "$(awk -v f="$floor" 'BEGIN { print f / 3 }')")" "$js" "$(ratio "$nocache" "$js")"
echo
printf 'cold (collateral JSON parsed and verified from scratch, then the quote; no caches): median %.0f us, p99 %.0f us wall; CPU median %.0f us, p99 %.0f us\n' \
	"$cold_med" "$cold_p99" "$cold_cpu" "$cold_cpu99"
printf '@phala/dcap-qvl verify (always from scratch): median %.0f us, p99 %.0f us per call (wall), %.1f /s wall\n' "$js_med" "$js_p99" "$js_w"
if [ -n "$pccs_line" ]; then
	echo "$pccs_line"
	printf 'local PCCS fetch + cold verify (sum of the medians): %.0f us\n' "$(awk -v a="$pccs_med" -v b="$cold_med" 'BEGIN { print a + b }')"
fi
echo "load average: start $load_start, end $load_end"
echo
f3=$(awk -v f="$floor" 'BEGIN { print f / 3 }')
echo "targets (issue 3):"
echo "  (i)  >= 70% of floor:       $(met "$known >= 0.7 * $floor") ($(pct "$known" "$floor"))"
echo "  (ii) >= 70% of floor/3:     $(met "$first >= 0.7 * $f3") ($(pct "$first" "$f3"))"
echo "  >= 20x @phala/dcap-qvl:     (i) $(met "$known >= 20 * $js") ($(ratio "$known" "$js")), (ii) $(met "$first >= 20 * $js") ($(ratio "$first" "$js"))"
echo "  cold verify <= 5 ms:        median $(met "$cold_med <= 5000") ($(awk -v a="$cold_med" 'BEGIN { printf "%.2f ms", a / 1000 }')), p99 $(met "$cold_p99 <= 5000") ($(awk -v a="$cold_p99" 'BEGIN { printf "%.2f ms", a / 1000 }'))"
echo
echo "commands:"
echo "  taskset -c $cpu openssl speed -seconds $seconds ecdsap256"
for c in sig known first nocache; do
	echo "  taskset -c $cpu $ours --case $c --quote $quote --collateral $coll --now $now --seconds $seconds"
done
echo "  taskset -c $cpu $ours --case cold --quote $quote --collateral $coll --now $now --runs $cold_runs"
echo "  taskset -c $cpu node bench/attest/dcapqvl_bench.mjs --quote $quote --collateral $coll --now $now --seconds $seconds --warmup 1"
if [ "$pccs_n" != 0 ]; then
	echo "  taskset -c $pccs_cpu $attest_bin serve -c pccs.conf --ready-file F   (collateral.mode = offline, collateral.dir = $(dirname "$coll"), collateral.test_now = $now)"
	echo "  taskset -c $cpu curl -s -w '%{time_total}\\n' -o /dev/null -o /dev/null -o /dev/null -o /dev/null ${urls[*]}"
fi

# ---- optional profile ----
if [ "$perf_s" != 0 ]; then
	for c in known first cold; do
		data=$work/perf.$c.data
		extra=(--seconds "$perf_s")
		[ $c = cold ] && extra=(--runs "$(awk -v s="$perf_s" 'BEGIN { print int(s * 200) }')")
		perf record -F 999 --call-graph dwarf,16384 -o "$data" -- taskset -c "$cpu" "$ours" --case $c "${q[@]}" "${extra[@]}" \
			>"$work/perf.$c.log" 2>&1 || { tail -5 "$work/perf.$c.log" >&2; die "perf record failed"; }
		echo
		echo "== perf: ds_bench_dcap --case $c (inclusive time, top symbols) =="
		perf report -i "$data" --stdio --children --sort symbol -g none 2>/dev/null |
			awk '/^ +[0-9.]+%/ && $4 !~ /^0x/ && $4 !~ /^(_start|main|__libc_start)/ { printf "  %7s %7s  %s\n", $1, $2, $4; if (++n == 25) exit }'
	done
fi
