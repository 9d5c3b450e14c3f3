#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# DCAP verification benchmark: TDX quote verifications per second on one core with warm
# collateral, ours (build/bench/attest/ds_bench_dcap, lib/attest) against the named peer
# @phala/dcap-qvl (npm, pure JS `verify`) on the same quote, collateral and `now`, next to
# the floor measured in the same run with `openssl speed ecdsap256` (P-256 verify/s):
#   known    a platform whose certification data already verified: one P-256 verify per quote
#   first    a first-seen platform (platform cache cleared per quote): three P-256 verifies
#   cold     full verification from the collateral JSON, no caches: latency median / p99
#   service  (--cold-service N) end to end: a fresh `dstack-attest serve` in pccs mode with an empty
#            collateral cache, its PCCS a second dstack-attest (offline mode) on loopback; one Verify
#            RPC (Connect JSON, curl) fetches the four collateral items and verifies: median/p90/p99,
#            next to the second (warm) and third (verdict-cache hit) call on the same verifier
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
  --cold-service N   per round, N fresh verifiers (dstack-attest serve, collateral.mode = pccs, a new empty
                     collateral.cache_dir, collateral.test_now = --now - 1 h, a running clock) on --cpu, whose PCCS is a dstack-attest
                     in offline mode (collateral.dir = the collateral's directory) on --pccs-cpu; each verifier
                     gets one Verify of the quote (cold: fetch + verify), then a second (warm collateral,
                     bypass_cache) and a third (verdict cache), timed by curl (%{time_total}) on --cpu,
                     then is stopped (SIGTERM, by PID)
  --cold-cache-base D  directory under which the verifiers' fresh cache dirs are created (default: the
                     script's temporary directory under ${TMPDIR:-/tmp}; e.g. /dev/shm for tmpfs)
  --perf S           after the rounds, profile ds_bench_dcap (known, first, cold) with perf for ~S s each
  -h, --help
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/../lib.sh"
build=${DS_BUILD_DIR:-$root/build}
testdata=$(cd "$root/../shared/testdata/attestation" 2>/dev/null && pwd || echo "$root/../shared/testdata/attestation")
rounds=3 seconds=3 cold_runs=1000 cpu=0 perf_s=0 quick=0 pccs_n=0 pccs_cpu=1 svc_n=0 svc_base=""
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
	--cold-service) svc_n=$2; shift ;;
	--cold-cache-base) svc_base=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
quote=${quote:-$testdata/dcap-qvl/tdx_quote}
coll=${coll:-$testdata/dcap-qvl/tdx_quote_collateral.json}


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
if [ "$pccs_n" != 0 ] || [ "$svc_n" != 0 ]; then
	[ -x "$attest_bin" ] || die "--pccs/--cold-service needs $attest_bin (cmake --build $build --target dstack-attest)"
	command -v curl >/dev/null || die "curl not found (--pccs)"
	[ "$pccs_cpu" -lt "$(nproc)" ] || die "--pccs-cpu $pccs_cpu: only $(nproc) CPUs"
fi
[ "$cpu" -lt "$(nproc)" ] || die "--cpu $cpu: only $(nproc) CPUs"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-attest.XXXXXX")
pccs_pid="" svc_pid="" svc_dirs=()
cleanup() {
	[ -z "$svc_pid" ] || stop_pid "$svc_pid"
	[ -z "$pccs_pid" ] || stop_pid "$pccs_pid"
	[ ${#svc_dirs[@]} = 0 ] || rm -rf "${svc_dirs[@]}"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


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
# The services' clock (collateral.test_now) starts an hour before --now and runs: the default vector's
# PCK CRL expires one second after --now, so a verifier that lived a second would see it expired.
svc_now=$((now - 3600))
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

# The local PCCS (dstack-attest, offline mode over the collateral's directory) on --pccs-cpu; sets purl.
start_pccs() {
	[ -z "$pccs_pid" ] || return 0
	printf '%s\n' 'listen = tcp://127.0.0.1:0' 'log.level = warn' 'collateral.mode = offline' \
		"collateral.dir = $(dirname "$coll")" "collateral.cache_dir = $work/pccs-cache" \
		"collateral.test_now = $svc_now" >"$work/pccs.conf"
	taskset -c "$pccs_cpu" "$attest_bin" serve -c "$work/pccs.conf" --ready-file "$work/pccs.ready" >"$work/pccs.log" 2>&1 &
	pccs_pid=$!
	for _ in $(seq 1 100); do [ -s "$work/pccs.ready" ] && break; kill -0 "$pccs_pid" 2>/dev/null || break; sleep 0.05; done
	[ -s "$work/pccs.ready" ] || { tail -5 "$work/pccs.log" >&2; die "dstack-attest did not become ready"; }
	purl="http://127.0.0.1:$(head -1 "$work/pccs.ready" | sed 's/.*://')"
}

# ---- optional: Verify end to end on a fresh verifier whose collateral comes from the local PCCS ----
svc_req=$work/verify.json svc_req_nb=$work/verify-cached.json
if [ "$svc_n" != 0 ]; then
	start_pccs
	svc_base=${svc_base:-$work}
	[ -d "$svc_base" ] || die "--cold-cache-base $svc_base: not a directory"
	svc_base=$(mktemp -d "$svc_base/bench-attest-svc.XXXXXX") || die "cannot create a directory in --cold-cache-base"
	svc_dirs+=("$svc_base")
	qb64=$(base64 -w0 "$quote")
	# Connect JSON. evaluate_at_unix unset: the verifier's clock, collateral.test_now = --now.
	printf '{"evidence":{"kind":"EVIDENCE_KIND_TDX_QUOTE","quote":"%s"},"bypassCache":true}' "$qb64" >"$svc_req"
	printf '{"evidence":{"kind":"EVIDENCE_KIND_TDX_QUOTE","quote":"%s"}}' "$qb64" >"$svc_req_nb"
	: >"$work/svc.us"
fi
svc_call() { # URL REQFILE -> prints microseconds; dies unless 200 with an accepted UpToDate verdict
	local out body code t
	# The answer comes back through a pipe, its last line being curl's "code time": curl's time_total
	# runs until the body is written out, and writing it to a file (created or truncated on a
	# disk-backed /tmp for every call) added 0.2-1 ms of the client's own I/O to each measurement.
	out=$(taskset -c "$cpu" curl -s -w '\n%{http_code} %{time_total}' \
		-H 'content-type: application/json' --data-binary @"$2" "$1/dstack.attest.v1.Attest/Verify") || die "curl Verify failed"
	body=${out%$'\n'*}
	read -r code t <<<"${out##*$'\n'}"
	[ "$code" = 200 ] && grep -q '"ok":true' <<<"$body" && grep -q '"tcbStatus":"TCB_STATUS_UP_TO_DATE"' <<<"$body" ||
		{ head -c 600 <<<"$body" >&2; die "Verify answered $code without an accepted UpToDate verdict"; }
	awk -v t="$t" 'BEGIN { printf "%.1f\n", t * 1e6 }'
}
start_verifier() { # DIR: a verifier whose collateral.cache_dir is DIR/cache; sets svc_pid, vurl
	local d=$1
	printf '%s\n' 'listen = tcp://127.0.0.1:0' 'log.level = warn' 'collateral.mode = pccs' \
		"collateral.pccs_url = $purl" "collateral.cache_dir = $d/cache" "collateral.test_now = $svc_now" \
		'collateral.retries = 0' >"$d/conf"
	taskset -c "$cpu" "$attest_bin" serve -c "$d/conf" --ready-file "$d/ready" >"$d/log" 2>&1 &
	svc_pid=$!
	for _ in $(seq 1 500); do [ -s "$d/ready" ] && break; kill -0 "$svc_pid" 2>/dev/null || break; sleep 0.01; done
	[ -s "$d/ready" ] || { tail -5 "$d/log" >&2; die "verifier did not become ready"; }
	vurl="http://127.0.0.1:$(head -1 "$d/ready" | sed 's/.*://')"
}
run_service() { # ROUND
	local i d vurl c w h p
	for ((i = 1; i <= svc_n; i++)); do
		d=$svc_base/v.$1.$i
		mkdir "$d" || die "cannot create $d"
		start_verifier "$d"
		[ ! -e "$d/cache" ] || [ -z "$(ls -A "$d/cache")" ] || die "verifier cache $d/cache not empty"
		c=$(svc_call "$vurl" "$svc_req") || die "cold Verify failed ($d/log)"
		w=$(svc_call "$vurl" "$svc_req") || die "warm Verify failed ($d/log)"
		h=$(svc_call "$vurl" "$svc_req_nb") || die "third Verify failed ($d/log)"
		stop_pid "$svc_pid"
		svc_pid=""
		[ "$(ls "$d/cache" | wc -l)" = 4 ] || die "verifier cached $(ls "$d/cache" | wc -l) items, expected 4"
		# Control: a fresh verifier whose disk cache already holds the four items (loaded at start, no
		# fetch, no disk write): the first Verify is then a cold verification in a new process.
		mkdir "$d.pre" && cp -a "$d/cache" "$d.pre/cache" || die "cannot copy $d/cache"
		start_verifier "$d.pre"
		p=$(svc_call "$vurl" "$svc_req") || die "preloaded Verify failed ($d.pre/log)"
		stop_pid "$svc_pid"
		svc_pid=""
		echo "svc r=$1 i=$i cold_us=$c warm_us=$w cached_us=$h preloaded_us=$p" >>"$work/svc.us"
		rm -rf "$d" "$d.pre"
	done
	printf '  round %d  %-26s median cold %7.0f us  warm %6.0f us  verdict-cache hit %6.0f us  preloaded disk cache %6.0f us  (%d fresh verifiers)\n' "$1" \
		"service Verify, local PCCS" \
		"$(awk -v r="$1" '$2 == "r=" r' "$work/svc.us" | while read -r l; do field "$l" cold_us; done | median)" \
		"$(awk -v r="$1" '$2 == "r=" r' "$work/svc.us" | while read -r l; do field "$l" warm_us; done | median)" \
		"$(awk -v r="$1" '$2 == "r=" r' "$work/svc.us" | while read -r l; do field "$l" cached_us; done | median)" \
		"$(awk -v r="$1" '$2 == "r=" r' "$work/svc.us" | while read -r l; do field "$l" preloaded_us; done | median)" "$svc_n"
}

for ((r = 1; r <= rounds; r++)); do
	if ((r % 2)); then
		run_floor $r; run_ours $r sig; run_ours $r known; run_ours $r first; run_ours $r nocache; run_js $r; run_ours $r cold
		[ "$svc_n" = 0 ] || run_service $r
	else
		[ "$svc_n" = 0 ] || run_service $r
		run_ours $r cold; run_js $r; run_ours $r nocache; run_ours $r first; run_ours $r known; run_ours $r sig; run_floor $r
	fi
	echo "  load average after round $r: $(loadavg)"
done
load_end=$(loadavg)

# ---- optional: the collateral fetch from a local PCCS (dstack-attest, offline mode) ----
pccs_line=""
if [ "$pccs_n" != 0 ]; then
	start_pccs
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
svc_cold_med="" svc_cold_p99=""
if [ "$svc_n" != 0 ]; then
	svcol() { while read -r l; do field "$l" "$1"; done <"$work/svc.us"; }
	pctl() { sort -g | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p + 0.999999); if (i < 1) i = 1; print v[i] }'; }
	svc_cold_med=$(svcol cold_us | median) svc_cold_p90=$(svcol cold_us | pctl 0.90) svc_cold_p99=$(svcol cold_us | pctl 0.99)
	svc_warm_med=$(svcol warm_us | median) svc_warm_p90=$(svcol warm_us | pctl 0.90) svc_warm_p99=$(svcol warm_us | pctl 0.99)
	svc_hit_med=$(svcol cached_us | median) svc_hit_p90=$(svcol cached_us | pctl 0.90) svc_hit_p99=$(svcol cached_us | pctl 0.99)
	svc_pre_med=$(svcol preloaded_us | median) svc_pre_p90=$(svcol preloaded_us | pctl 0.90) svc_pre_p99=$(svcol preloaded_us | pctl 0.99)
	svc_total=$(wc -l <"$work/svc.us")
	echo
	echo "service Verify end to end ($svc_total fresh verifiers, $svc_n per round; curl time_total, wall; PCCS on CPU $pccs_cpu, verifier and curl on CPU $cpu; cache dirs under $(dirname "$svc_base")):"
	echo
	echo "| Verify call | median | p90 | p99 |"
	echo "|---|---:|---:|---:|"
	printf '| 1st, empty collateral cache (fetch 4 items from the local PCCS + verify) | %.2f ms | %.2f ms | %.2f ms |\n' \
		"$(awk -v a="$svc_cold_med" 'BEGIN { print a / 1000 }')" "$(awk -v a="$svc_cold_p90" 'BEGIN { print a / 1000 }')" "$(awk -v a="$svc_cold_p99" 'BEGIN { print a / 1000 }')"
	printf '| control: 1st on a fresh verifier whose disk cache holds the 4 items (no fetch, no disk write) | %.2f ms | %.2f ms | %.2f ms |\n' \
		"$(awk -v a="$svc_pre_med" 'BEGIN { print a / 1000 }')" "$(awk -v a="$svc_pre_p90" 'BEGIN { print a / 1000 }')" "$(awk -v a="$svc_pre_p99" 'BEGIN { print a / 1000 }')"
	printf '| 2nd, same verifier (collateral and platform cached; bypass_cache) | %.2f ms | %.2f ms | %.2f ms |\n' \
		"$(awk -v a="$svc_warm_med" 'BEGIN { print a / 1000 }')" "$(awk -v a="$svc_warm_p90" 'BEGIN { print a / 1000 }')" "$(awk -v a="$svc_warm_p99" 'BEGIN { print a / 1000 }')"
	printf '| 3rd, same verifier (verdict cache hit) | %.2f ms | %.2f ms | %.2f ms |\n' \
		"$(awk -v a="$svc_hit_med" 'BEGIN { print a / 1000 }')" "$(awk -v a="$svc_hit_p90" 'BEGIN { print a / 1000 }')" "$(awk -v a="$svc_hit_p99" 'BEGIN { print a / 1000 }')"
	printf '| @phala/dcap-qvl verify, per call (in-process, collateral given) | %.2f ms | | %.2f ms |\n' \
		"$(awk -v a="$js_med" 'BEGIN { print a / 1000 }')" "$(awk -v a="$js_p99" 'BEGIN { print a / 1000 }')"
	echo
fi
echo "load average: start $load_start, end $load_end"
echo
f3=$(awk -v f="$floor" 'BEGIN { print f / 3 }')
echo "targets (issue 3):"
echo "  (i)  >= 70% of floor:       $(met "$known >= 0.7 * $floor") ($(pct "$known" "$floor"))"
echo "  (ii) >= 70% of floor/3:     $(met "$first >= 0.7 * $f3") ($(pct "$first" "$f3"))"
echo "  >= 20x @phala/dcap-qvl:     (i) $(met "$known >= 20 * $js") ($(ratio "$known" "$js")), (ii) $(met "$first >= 20 * $js") ($(ratio "$first" "$js"))"
echo "  cold verify <= 5 ms:        median $(met "$cold_med <= 5000") ($(awk -v a="$cold_med" 'BEGIN { printf "%.2f ms", a / 1000 }')), p99 $(met "$cold_p99 <= 5000") ($(awk -v a="$cold_p99" 'BEGIN { printf "%.2f ms", a / 1000 }')) (in memory, collateral JSON given)"
if [ -n "$svc_cold_med" ]; then
	echo "  cold verify <= 5 ms, end to end with a local PCCS (service, empty cache): median $(met "$svc_cold_med <= 5000") ($(awk -v a="$svc_cold_med" 'BEGIN { printf "%.2f ms", a / 1000 }')), p90 $(met "$svc_cold_p90 <= 5000") ($(awk -v a="$svc_cold_p90" 'BEGIN { printf "%.2f ms", a / 1000 }')), p99 $(met "$svc_cold_p99 <= 5000") ($(awk -v a="$svc_cold_p99" 'BEGIN { printf "%.2f ms", a / 1000 }'))"
fi
echo
echo "commands:"
echo "  taskset -c $cpu openssl speed -seconds $seconds ecdsap256"
for c in sig known first nocache; do
	echo "  taskset -c $cpu $ours --case $c --quote $quote --collateral $coll --now $now --seconds $seconds"
done
echo "  taskset -c $cpu $ours --case cold --quote $quote --collateral $coll --now $now --runs $cold_runs"
echo "  taskset -c $cpu node bench/attest/dcapqvl_bench.mjs --quote $quote --collateral $coll --now $now --seconds $seconds --warmup 1"
if [ "$svc_n" != 0 ]; then
	echo "  taskset -c $pccs_cpu $attest_bin serve -c pccs.conf --ready-file F   (PCCS: collateral.mode = offline, collateral.dir = $(dirname "$coll"), collateral.test_now = $svc_now)"
	echo "  per verifier: taskset -c $cpu $attest_bin serve -c v.conf --ready-file F   (collateral.mode = pccs, collateral.pccs_url = $purl, collateral.cache_dir = <new, absent>, collateral.test_now = $svc_now, collateral.retries = 0)"
	echo "    then 3x: taskset -c $cpu curl -s -w '\\n%{http_code} %{time_total}' -H 'content-type: application/json' --data-binary @verify.json URL/dstack.attest.v1.Attest/Verify   (body to a pipe, not a file)"
	echo "    (verify.json: {\"evidence\":{\"kind\":\"EVIDENCE_KIND_TDX_QUOTE\",\"quote\":\"<base64>\"},\"bypassCache\":true}; the 3rd without bypassCache), then kill -TERM PID"
	echo "  control per verifier: the same with collateral.cache_dir = a copy of the first verifier's filled cache; one Verify"
fi
if [ "$pccs_n" != 0 ]; then
	echo "  taskset -c $pccs_cpu $attest_bin serve -c pccs.conf --ready-file F   (collateral.mode = offline, collateral.dir = $(dirname "$coll"), collateral.test_now = $svc_now)"
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
