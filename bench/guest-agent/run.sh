#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Guest-agent benchmark: GetKey requests/s over the agent's unix socket with the SDK's request shape
# (POST /GetKey, Content-Type: application/json, body {"path","purpose","algorithm":"secp256k1"}, as
# @phala/dstack-sdk writes it), on kept-alive HTTP/1.1 connections, next to the transport floor
# measured in the same run: a minimal C HTTP/1.1 echo server (ds_bench_ga_echo) on the same kind of
# socket answering a fixed small JSON body.
# Two GetKey workloads: "repeated" cycles through --paths N paths (an app asking again for the keys it
# uses: the agent answers from its GetKey memo after the first request per path) and "distinct" sends a
# new path on every request (each one derives a key: two secp256k1 scalar multiplications).
# dstack-guest-agent (sim TEE, key provider none, its own temporary state dir) and then the echo
# server run pinned to --server-cpu, one after the other; the client (ds_bench_ga) to --client-cpu.
# CPU time of the server (utime + stime from /proc/PID/stat) is read at the start and end of each
# measured window, so rates are also given per server CPU-second (the machine is shared).
set -uo pipefail

usage() {
	cat <<'EOF2'
usage: bench/guest-agent/run.sh [options]
  --quick            short run to check the script works (1 round, 2 s per case)
  --rounds N         rounds (default 3; medians reported)
  --seconds S        measured seconds per case (default 5)
  --warmup S         unrecorded seconds before each measurement (default 1)
  --conc N           connections (one request in flight each) for the loaded cases (default 8)
  --paths N          paths the "repeated" workload cycles through (default 16)
  --server-cpu C     CPU of the agent and of the echo server (default 0)
  --client-cpu C     CPU of the client (default 1)
  --build-dir D      CMake build directory (default <repo>/build, or $DS_BUILD_DIR)
  --perf S           after the rounds, profile the agent under --conc connections for S seconds
  --perf-paths N     the --paths of the profiled load (default 0: distinct paths)
  --keep             keep the temporary directory and print its path
  -h, --help
EOF2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/../lib.sh"
build=${DS_BUILD_DIR:-$root/build}
rounds=3 seconds=5 warmup=1 conc=8 paths=16 perf_paths=0 srv_cpu=0 client_cpu=1 perf_s=0 quick=0 keep=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 rounds=1 seconds=2 warmup=0.5 ;;
	--rounds) rounds=$2; shift ;;
	--seconds) seconds=$2; shift ;;
	--warmup) warmup=$2; shift ;;
	--conc) conc=$2; shift ;;
	--paths) paths=$2; shift ;;
	--server-cpu) srv_cpu=$2; shift ;;
	--client-cpu) client_cpu=$2; shift ;;
	--build-dir) build=$2; shift ;;
	--perf) perf_s=$2; shift ;;
	--perf-paths) perf_paths=$2; shift ;;
	--keep) keep=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

[ -d "$build" ] && build=$(cd "$build" && pwd)
bench=$build/bench/guest-agent/ds_bench_ga
echo_bin=$build/bench/guest-agent/ds_bench_ga_echo
ga_bin=$build/services/guest-agent/dstack-guest-agent
for b in "$bench" "$echo_bin" "$ga_bin"; do
	if [ ! -x "$b" ]; then
		cat >&2 <<EOF2
run.sh: missing $b
build it first:
  cmake -S $root -B $build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build $build -j\$(nproc) --target ds_bench_ga ds_bench_ga_echo dstack-guest-agent
EOF2
		exit 1
	fi
done
for t in taskset awk sort od; do command -v $t >/dev/null || die "$t not found"; done
[ "$perf_s" = 0 ] || command -v perf >/dev/null || die "perf not found (--perf)"
ncpu=$(nproc)
[ "$srv_cpu" -lt "$ncpu" ] && [ "$client_cpu" -lt "$ncpu" ] || die "only $ncpu CPUs"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-ga.XXXXXX")
cleanup() {
	local p
	for p in "${pids[@]}"; do stop_pid "$p"; done
	if [ "$keep" = 1 ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f %%", 100 * a / b; else print "n/a" }'; }

load_start=$(loadavg)
echo "== guest-agent benchmark: GetKey (secp256k1) over the unix socket, SDK request shape, one agent core =="
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $ncpu CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
echo "load:    $load_start (1/5/15-min load average at start)"
dirty=""
[ -n "$(git -C "$root" status --porcelain 2>/dev/null)" ] && dirty=" + uncommitted changes"
echo "tree:    $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$dirty"
echo "pinning: dstack-guest-agent, then ds_bench_ga_echo, on CPU $srv_cpu; the client on CPU $client_cpu"
echo "rounds:  $rounds x ${seconds}s per case after ${warmup}s warm-up; 1 and $conc kept-alive connections, one request in flight each$([ $quick = 1 ] && echo ' (--quick)')"
echo "workloads: repeated = $paths paths cycled (the agent memoises GetKey answers), distinct = a new path on every request"
echo

# ---- the agent: sim TEE, key provider none (local seed), its own state ----
mkdir -m 700 "$work/tee" "$work/shared"
printf '%s' '{"manifest_version":2,"name":"bench-ga","runner":"bash","bash_script":"true","key_provider":"none"}' >"$work/shared/app-compose.json"
(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$work/seed")
ga_sock=$work/ga.sock
printf '%s\n' "listen = unix://$ga_sock" 'tee.backend = sim' "tee.state_dir = $work/tee" \
	"boot.host_shared_dir = $work/shared" "boot.local_seed_file = $work/seed" >"$work/ga.conf"
start_ga() {
	taskset -c "$srv_cpu" "$ga_bin" serve -c "$work/ga.conf" --ready-file "$work/ga.ready" >>"$work/ga.log" 2>&1 &
	ga_pid=$!
	pids+=("$ga_pid")
	for ((i = 0; i < 200; i++)); do [ -s "$work/ga.ready" ] && return 0; kill -0 "$ga_pid" 2>/dev/null || break; sleep 0.05; done
	tail -20 "$work/ga.log" >&2
	die "dstack-guest-agent did not become ready"
}
echo_sock=$work/echo.sock
start_echo() {
	rm -f "$echo_sock"
	taskset -c "$srv_cpu" "$echo_bin" --listen "$echo_sock" >>"$work/echo.log" 2>&1 &
	echo_pid=$!
	pids+=("$echo_pid")
	for ((i = 0; i < 100; i++)); do [ -S "$echo_sock" ] && return 0; kill -0 "$echo_pid" 2>/dev/null || break; sleep 0.05; done
	cat "$work/echo.log" >&2
	die "ds_bench_ga_echo did not start"
}

results=$work/results
: >"$results"
run_case() { # NAME ROUND SOCK PID CONC PATHS
	local out rc=0
	out=$(taskset -c "$client_cpu" "$bench" --sock "$3" --conc "$5" --paths "$6" --seconds "$seconds" --warmup "$warmup" \
		--watch srv="$4") || rc=$?
	[ $rc = 0 ] || [ $rc = 2 ] || die "ds_bench_ga --sock $3 --conc $5 failed"
	echo "$1 r=$2 $out" >>"$results"
	printf '  round %d  %-8s %8.0f /s  p50 %7s  p99 %7s  max %8s ms  server CPU %5.2f s -> %7.0f per server CPU-s  client CPU %5.2f s  errors %s\n' \
		"$2" "$1" "$(field "$out" rate)" "$(ms "$(field "$out" p50_us)")" "$(ms "$(field "$out" p99_us)")" "$(ms "$(field "$out" max_us)")" \
		"$(field "$out" cpu_srv_s)" "$(field "$out" per_cpu_s_srv)" "$(field "$out" client_cpu_s)" "$(field "$out" errors)"
}

for ((r = 1; r <= rounds; r++)); do
	start_ga
	echo "round $r: dstack-guest-agent pid $ga_pid on CPU $srv_cpu"
	run_case rep1 "$r" "$ga_sock" "$ga_pid" 1 "$paths"
	run_case "rep$conc" "$r" "$ga_sock" "$ga_pid" "$conc" "$paths"
	run_case new1 "$r" "$ga_sock" "$ga_pid" 1 0
	run_case "new$conc" "$r" "$ga_sock" "$ga_pid" "$conc" 0
	if [ "$perf_s" != 0 ] && [ "$r" = "$rounds" ]; then
		keep_ga=1
	else
		stop_pid "$ga_pid"
		rm -f "$work/ga.ready"
	fi
	start_echo
	echo "round $r: ds_bench_ga_echo pid $echo_pid on CPU $srv_cpu"
	run_case echo1 "$r" "$echo_sock" "$echo_pid" 1 0
	run_case "echo$conc" "$r" "$echo_sock" "$echo_pid" "$conc" 0
	stop_pid "$echo_pid"
done
load_end=$(loadavg)

col() { awk -v n="$1" '$1 == n' "$results" | while read -r line; do field "$line" "$2"; done | median; }
sumcol() { awk -v n="$1" '$1 == n' "$results" | while read -r line; do field "$line" "$2"; done | awk '{ s += $1 } END { print s + 0 }'; }
echo
echo "results (medians of $rounds rounds; server = the process on CPU $srv_cpu):"
echo
echo "| case | connections | requests/s (wall) | p50 ms | p99 ms | server CPU | requests per server CPU-s | client CPU | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
row() { # NAME LABEL
	local secs
	secs=$(col "$1" seconds)
	printf '| %s | %s | %.0f | %s | %s | %s | %.0f | %s | %s |\n' "$2" "$(col "$1" conc)" "$(col "$1" rate)" \
		"$(ms "$(col "$1" p50_us)")" "$(ms "$(col "$1" p99_us)")" "$(pct "$(col "$1" cpu_srv_s)" "$secs")" \
		"$(col "$1" per_cpu_s_srv)" "$(pct "$(col "$1" client_cpu_s)" "$secs")" "$(sumcol "$1" errors)"
}
row echo1 "floor: ds_bench_ga_echo (fixed 35-byte JSON)"
row "echo$conc" "floor: ds_bench_ga_echo (fixed 35-byte JSON)"
row rep1 "dstack-guest-agent GetKey, repeated ($paths paths)"
row "rep$conc" "dstack-guest-agent GetKey, repeated ($paths paths)"
row new1 "dstack-guest-agent GetKey, distinct (new path each)"
row "new$conc" "dstack-guest-agent GetKey, distinct (new path each)"
echo
fl_w=$(col "echo$conc" rate) fl_c=$(col "echo$conc" per_cpu_s_srv)
echo "ratios ($conc connections, per server CPU-second | wall rate):"
for n in rep new; do
	echo "  $n / floor = $(pct "$(col "$n$conc" per_cpu_s_srv)" "$fl_c") | $(pct "$(col "$n$conc" rate)" "$fl_w")"
done
echo "per-round rates (/s wall | per server CPU-s):"
for n in echo1 "echo$conc" rep1 "rep$conc" new1 "new$conc"; do
	printf '  %-7s %s\n' "$n" "$(awk -v n="$n" '$1 == n' "$results" | while read -r line; do
		printf '%.0f | %.0f;  ' "$(field "$line" rate)" "$(field "$line" per_cpu_s_srv)"; done)"
done
echo "load average: start $load_start, end $load_end"
echo
echo "targets (issue 6, bench/guest-agent), per workload at $conc connections:"
for n in rep new; do
	w=$(col "$n$conc" rate) c=$(col "$n$conc" per_cpu_s_srv)
	echo "  $n: >= 10,000 GetKey/s on one core: $(met "$c >= 10000") ($(printf '%.0f' "$c") per agent CPU-second;" \
		"$(printf '%.0f' "$w")/s wall at $(pct "$(col "$n$conc" cpu_srv_s)" "$(col "$n$conc" seconds)") agent CPU)"
	echo "  $n: >= 50% of the floor: $(met "$c >= 0.5 * $fl_c") ($(pct "$c" "$fl_c") per server CPU-second;" \
		"wall $(pct "$w" "$fl_w"))"
done
echo
echo "commands (DIR = the temporary directory; ga.conf: listen = unix://DIR/ga.sock, tee.backend = sim, tee.state_dir,"
echo "          boot.host_shared_dir with app-compose.json {key_provider: none}, boot.local_seed_file = 32 random bytes hex):"
echo "  taskset -c $srv_cpu $ga_bin serve -c DIR/ga.conf --ready-file DIR/ga.ready"
echo "  taskset -c $srv_cpu $echo_bin --listen DIR/echo.sock"
echo "  taskset -c $client_cpu $bench --sock DIR/ga.sock|DIR/echo.sock --conc 1|$conc --paths $paths|0 --seconds $seconds" \
	"--warmup $warmup --watch srv=PID"

if [ "$perf_s" != 0 ]; then
	data=$work/perf.data
	taskset -c "$client_cpu" "$bench" --sock "$ga_sock" --conc "$conc" --paths "$perf_paths" --seconds "$((perf_s + 2))" --warmup 0 \
		--watch srv="$ga_pid" >"$work/perf.load" 2>/dev/null &
	lp=$!
	pids+=("$lp")
	sleep 1
	perf record -F 1999 --call-graph dwarf,16384 -p "$ga_pid" -o "$data" -- sleep "$perf_s" >"$work/perf.log" 2>&1 ||
		{ tail -5 "$work/perf.log" >&2; die "perf record failed"; }
	wait "$lp"
	unpid "$lp"
	echo
	echo "== perf: dstack-guest-agent (pid $ga_pid), $conc connections, --paths $perf_paths: $(field "$(cat "$work/perf.load")" rate)/s during the profile =="
	echo "-- samples by thread:"
	perf report -i "$data" --stdio --no-children --sort comm -g none 2>/dev/null | awk '/^ +[0-9.]+%/ { printf "  %7s  %s\n", $1, $2; if (++n == 6) exit }'
	echo "-- inclusive time (children), top 45:"
	perf report -i "$data" --stdio --children --sort symbol -g none 2>/dev/null |
		awk '/^ +[0-9.]+%/ && $4 != "" { printf "  %7s %7s  %s\n", $1, $2, $4; if (++n == 45) exit }'
	echo "-- self time by library:"
	perf report -i "$data" --stdio --no-children --sort dso -g none 2>/dev/null | awk '/^ +[0-9.]+%/ { printf "  %7s  %s\n", $1, $2; if (++n == 10) exit }'
	echo "-- top self time:"
	perf report -i "$data" --stdio --no-children --sort dso,symbol -g none 2>/dev/null |
		awk '/^ +[0-9.]+%/ { printf "  %7s  %-22s %s\n", $1, $2, $4; if (++n == 15) exit }'
	stop_pid "$ga_pid"
fi
exit 0
