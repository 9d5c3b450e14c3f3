#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# RPC unary benchmark: dstack.test.v1.Bench/Echo{text:"hello"} on our server
# (build/tests/integration/ds_test_server) against named peers in the same run:
#   gRPC (h2c)             ours vs @grpc/grpc-js         load: h2load (nghttp2-client)
#   Connect (HTTP/1.1)     ours vs @connectrpc/connect-node  load: wrk
# Every server is pinned to one CPU, the load generator to another. Prints a results
# table (median of the rounds, ratio ours/peer), the machine, the date and the exact
# commands. See bench/rpc/README.md.
set -uo pipefail

usage() {
	cat <<'EOF'
usage: bench/rpc/run.sh [options]
  --quick            short run to check the script works (1 round, 2 s)
  --rounds N         measured rounds per server and protocol (default 3; median reported)
  --duration S       seconds per measured run (default 10)
  --warmup S         seconds of warm-up load per server before the rounds (default 3)
  --grpc-clients N   h2load connections (default 10)
  --grpc-streams N   h2load max concurrent streams per connection (default 10)
  --http1-conns N    wrk connections (default 100)
  --server-cpu C     CPU the servers are pinned to (default 0)
  --client-cpu C     CPU the load generator is pinned to (default 1)
  --build-dir D      CMake build directory (default <repo>/build, or $DS_BUILD_DIR)
  --only grpc|connect  run one protocol only
  --perf S           after the rounds, profile our server with perf for S seconds per protocol
  --keep             keep the work directory (logs, per-request latencies)
  -h, --help
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/../lib.sh"
build=${DS_BUILD_DIR:-$root/build}
rounds=3 duration=10 warmup=3 gclients=10 gstreams=10 hconns=100
server_cpu=0 client_cpu=1 only="" perf_s=0 keep=0 quick=0

while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 rounds=1 duration=2 warmup=1 ;;
	--rounds) rounds=$2; shift ;;
	--duration) duration=$2; shift ;;
	--warmup) warmup=$2; shift ;;
	--grpc-clients) gclients=$2; shift ;;
	--grpc-streams) gstreams=$2; shift ;;
	--http1-conns) hconns=$2; shift ;;
	--server-cpu) server_cpu=$2; shift ;;
	--client-cpu) client_cpu=$2; shift ;;
	--build-dir) build=$2; shift ;;
	--only) only=$2; shift ;;
	--perf) perf_s=$2; shift ;;
	--keep) keep=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
case $only in "" | grpc | connect) ;; *) echo "--only grpc|connect" >&2; exit 2 ;; esac


# ---- prerequisites (this script builds nothing) ----
ours_bin=$build/tests/integration/ds_test_server
descset=$build/tests/proto/test.pb
node_modules=$root/tests/node/node_modules
if [ ! -x "$ours_bin" ] || [ ! -f "$descset" ]; then
	cat >&2 <<EOF
run.sh: missing $([ -x "$ours_bin" ] || echo "$ours_bin ")$([ -f "$descset" ] || echo "$descset")
build them first:
  cmake -S $root -B $build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build $build -j\$(nproc) --target ds_test_server ds_test_descriptor_set
EOF
	exit 1
fi
[ -d "$node_modules/@grpc/grpc-js" ] && [ -d "$node_modules/@connectrpc/connect-node" ] ||
	die "Node packages missing: (cd $root/tests/node && npm ci)"
for t in node h2load wrk curl taskset awk sort cmp; do
	command -v $t >/dev/null || die "$t not found (Debian: nodejs nghttp2-client wrk curl util-linux)"
done
[ "$perf_s" = 0 ] || command -v perf >/dev/null || die "perf not found (--perf)"

ncpu=$(nproc)
if [ "$server_cpu" -ge "$ncpu" ] || [ "$client_cpu" -ge "$ncpu" ] || [ "$server_cpu" = "$client_cpu" ]; then
	die "need two distinct CPUs < $ncpu for --server-cpu/--client-cpu"
fi

# ---- work directory and cleanup ----
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-rpc.XXXXXX")
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ $keep = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- request bodies ----
# EchoRequest{text:"hello"} = field 1, wire type 2 (0x0a), length 5, "hello".
# Same bytes as `echo 'text: "hello"' | protoc --encode=dstack.test.v1.EchoRequest ...`.
# The EchoResponse{text:"hello"} the server answers has exactly the same encoding.
printf '\x0a\x05hello' >"$work/req.bin"
# gRPC length-prefixed message: flag 0 (uncompressed), 4-byte big-endian length 7.
printf '\x00\x00\x00\x00\x07\x0a\x05hello' >"$work/req.grpc"
cat >"$work/connect.lua" <<'EOF'
-- Connect unary, binary proto: POST /dstack.test.v1.Bench/Echo with EchoRequest{text:"hello"}.
wrk.method = "POST"
wrk.body = "\10\5hello"
wrk.headers["Content-Type"] = "application/proto"
wrk.headers["Connect-Protocol-Version"] = "1"
EOF
path=/dstack.test.v1.Bench/Echo

# ---- servers ----
pid_ours="" url_ours="" url_grpcjs="" url_connect=""
# start NAME READYFILE CMD...: starts CMD pinned to the server CPU, waits for the ready file.
start() {
	local name=$1 ready=$2 i
	shift 2
	taskset -c "$server_cpu" "$@" >"$work/$name.log" 2>&1 &
	pids+=($!)
	printf -v "pid_$name" '%s' "$!"
	for ((i = 0; i < 200; i++)); do
		[ -s "$ready" ] && break
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$ready" ]; then
		tail -20 "$work/$name.log" >&2
		die "$name did not become ready"
	fi
	printf -v "url_$name" '%s' "$(head -1 "$ready")"
}

# Scheduler accounting of a process, summed over its threads (/proc/PID/task/*/schedstat):
# "RUN_NS WAIT_NS" = time on a CPU, and time runnable but waiting for a CPU (a busy
# machine shows up here). Needs CONFIG_SCHED_INFO; prints "0 0" without it.
schedsnap() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ r += $1; w += $2 } END { printf "%.0f %.0f\n", r, w }'; }

load_start=$(loadavg)

echo "== RPC unary benchmark: dstack.test.v1.Bench/Echo{text:\"hello\"} =="
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $ncpu CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
echo "load:    $load_start (1/5/15-min load average at start)"
echo "tools:   node $(node --version), $(h2load --version 2>&1 | head -1), $(wrk -v 2>&1 | awk 'NR==1 { print $1, $2 }')," \
	"grpc-js $(awk -F'"' '/"version"/ { print $4; exit }' "$node_modules/@grpc/grpc-js/package.json")," \
	"connect-node $(awk -F'"' '/"version"/ { print $4; exit }' "$node_modules/@connectrpc/connect-node/package.json")"
echo "pinning: servers on CPU $server_cpu, load generator on CPU $client_cpu"
echo "rounds:  $rounds x ${duration}s per server and protocol, ${warmup}s warm-up$([ $quick = 1 ] && echo ' (--quick)')"
echo

start ours "$work/ours.ready" "$ours_bin" --listen tcp://127.0.0.1:0 --ready-file "$work/ours.ready" --log-level warn
[ "$only" = connect ] || start grpcjs "$work/grpcjs.ready" node "$here/grpcjs_server.mjs" --ready-file "$work/grpcjs.ready"
[ "$only" = grpc ] || start connect "$work/connect.ready" node "$here/connect_peer.mjs" \
	--descriptor-set "$descset" --ready-file "$work/connect.ready"

# ---- sanity checks: one real call per server, response bytes and status verified ----
printf '\x00\x00\x00\x00\x07\x0a\x05hello' >"$work/resp.grpc.expected"
cp "$work/req.bin" "$work/resp.bin.expected"
check_grpc() { # NAME URL
	curl -sS --http2-prior-knowledge --max-time 5 -H 'content-type: application/grpc' -H 'te: trailers' \
		--data-binary @"$work/req.grpc" -D "$work/$1.check.hdr" -o "$work/$1.check.body" "$2$path" ||
		die "$1: gRPC call failed"
	grep -qi '^grpc-status: *0' "$work/$1.check.hdr" || { cat "$work/$1.check.hdr" >&2; die "$1: grpc-status is not 0"; }
	cmp -s "$work/$1.check.body" "$work/resp.grpc.expected" || die "$1: unexpected gRPC response body"
	echo "check:   $1 gRPC Echo -> grpc-status 0, EchoResponse{text:\"hello\"}"
}
check_connect() { # NAME URL
	local code
	code=$(curl -sS --http1.1 --max-time 5 -H 'content-type: application/proto' -H 'connect-protocol-version: 1' \
		--data-binary @"$work/req.bin" -o "$work/$1.check.body" -w '%{http_code}' "$2$path") ||
		die "$1: Connect call failed"
	[ "$code" = 200 ] || die "$1: Connect call answered HTTP $code"
	cmp -s "$work/$1.check.body" "$work/resp.bin.expected" || die "$1: unexpected Connect response body"
	echo "check:   $1 Connect Echo over HTTP/1.1 -> 200, EchoResponse{text:\"hello\"}"
}
if [ "$only" != connect ]; then check_grpc ours "$url_ours"; check_grpc grpcjs "$url_grpcjs"; fi
if [ "$only" != grpc ]; then check_connect ours "$url_ours"; check_connect connect "$url_connect"; fi
echo

# ---- load generators ----
# Per-request latencies (microseconds, one per line) -> "n mean p50 p99 max" in ms.
lat_stats() {
	sort -n "$1" | awk '{ v[NR] = $1; s += $1 }
		END { if (!NR) { print 0, 0, 0, 0, 0; exit }
		      i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
		      printf "%d %.3f %.3f %.3f %.3f\n", NR, s / NR / 1000, v[i50] / 1000, v[i99] / 1000, v[NR] / 1000 }'
}

results=$work/results
# One line per measured run:
#  1 PROTO  2 SERVER  3 ROUND  4 REQ/S  5 MEAN_MS  6 P50_MS  7 P99_MS  8 SERVER_CPU%  9 NOT_OK
# 10 REQUESTS  11 REQ/CPU-S  12 SERVER_RUNQ_WAIT%  13 LOADGEN_CPU%  14 P99_MS_MEDIAN_OF_1S_WINDOWS (gRPC only)
: >"$results"

# CPU seconds (user + system) of this shell's waited-for children, from the output of
# the `times` builtin (which must run in this shell itself, not in a $(...) subshell).
childcpu() { awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } print t }' "$1"; }

# run_load PROTO NAME URL DURATION ROUND: one load-generator run against a server, with
# the server's CPU and run-queue wait over the run. A numeric ROUND > 0 is recorded;
# anything else (warmup, perf) is only run.
run_load() {
	local proto=$1 name=$2 url=$3 d=$4 round=$5 pid out s0 s1 t0 t1 c0 c1
	local -a cmd
	pid=pid_$name
	pid=${!pid}
	out=$work/$proto.$name.$round
	rm -f "$out.log" # h2load appends to its log file
	if [ "$proto" = grpc ]; then
		cmd=(taskset -c "$client_cpu" h2load -D "$d" -c "$gclients" -m "$gstreams" -t 1 -d "$work/req.grpc"
			-H 'content-type: application/grpc' -H 'te: trailers' --log-file "$out.log" "$url$path")
	else
		cmd=(taskset -c "$client_cpu" wrk -t1 -c"$hconns" -d"${d}s" --latency -s "$work/connect.lua" "$url$path")
	fi
	s0=$(schedsnap "$pid")
	times >"$work/times.0"
	t0=$(date +%s%N)
	# In the background so that a signal to this script runs the cleanup at once.
	local lp rc=0
	"${cmd[@]}" >"$out.txt" 2>&1 &
	lp=$!
	pids+=("$lp")
	wait "$lp" || rc=$?
	unpid "$lp"
	[ $rc = 0 ] || { tail -20 "$out.txt" >&2; die "${cmd[3]} against $name failed"; }
	t1=$(date +%s%N)
	times >"$work/times.1"
	s1=$(schedsnap "$pid")
	[[ $round =~ ^[1-9][0-9]*$ ]] || return 0
	c0=$(childcpu "$work/times.0") c1=$(childcpu "$work/times.1")
	local rps mean p50 p99 bad nreq p99w=0
	if [ "$proto" = grpc ]; then
		rps=$(awk '/^finished in/ { print $4 }' "$out.txt")
		# Not OK: failed, errored or timed-out requests, and any non-2xx status.
		bad=$(awk '/^requests:/ { n += $10 + $12 + $14 } /^status codes:/ { n += $5 + $7 + $9 } END { print n + 0 }' "$out.txt")
		read -r nreq mean p50 p99 _ < <(cut -f3 "$out.log" | lat_stats /dev/stdin)
		# p99 of each whole 1-second window of the run, then the median of those:
		# shows whether a high overall p99 comes from a few disturbed seconds.
		p99w=$(awk '{ print int($1 / 1000000), $3 }' "$out.log" | sort -k1,1n -k2,2n | awk '
			function flush() { if (n) w[++nw] = v[int(n * 0.99 + 0.999999)] / 1000 }
			$1 != cur { flush(); cur = $1; n = 0 }
			{ v[++n] = $2 }
			END { flush(); lo = nw > 2 ? 2 : 1; hi = nw > 2 ? nw - 1 : nw # drop partial first/last seconds
			      for (i = lo; i <= hi; i++) print w[i] }' | median)
	else
		rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out.txt")
		nreq=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$out.txt")
		mean=$(to_ms "$(awk '$1 == "Latency" && NF >= 4 { print $2; exit }' "$out.txt")")
		p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out.txt")")
		p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out.txt")")
		# Not OK: non-2xx/3xx answers and socket errors (connect, read, write, timeout).
		bad=$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
			/Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$out.txt")
	fi
	local line
	line=$(awk -v p="$proto" -v s="$name" -v r="$round" -v rps="$rps" -v mean="$mean" -v p50="$p50" -v p99="$p99" \
		-v bad="$bad" -v n="$nreq" -v s0="$s0" -v s1="$s1" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
		-v p99w="$p99w" 'BEGIN {
		split(s0, a, " "); split(s1, b, " "); wall = (t1 - t0) / 1e9; run = (b[1] - a[1]) / 1e9; wait = (b[2] - a[2]) / 1e9
		printf "%s %s %d %.0f %.3f %.3f %.3f %.0f %.0f %.0f %.0f %.0f %.0f %.3f\n", p, s, r, rps, mean, p50, p99,
			run / wall * 100, bad, n, (run > 0 ? n / run : 0), wait / wall * 100, (c1 - c0) / wall * 100, p99w }')
	echo "$line" >>"$results"
	set -- $line
	printf '  %-7s %-7s round %d: %7s req/s  p50 %6s  p99 %7s ms  server CPU %3s%% (run-queue wait %3s%%) %7s req/CPU-s  load-gen CPU %3s%%  not-OK %s\n' \
		"$1" "$2" "$3" "$4" "$6" "$7" "$8" "${12}" "${11}" "${13}" "$9"
}
run_h2load() { run_load grpc "$@"; }
run_wrk() { run_load connect "$@"; }

# wrk latency value with unit -> milliseconds.
to_ms() { awk -v x="$1" 'BEGIN { u = x; sub(/^[0-9.]+/, "", u); v = x + 0
	if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000; printf "%.3f", v }'; }

# Alternate the order every round so neither server always runs first.
bench() { # RUNNER OURS_URL PEER PEER_URL
	local runner=$1 r
	echo "warm-up (${warmup}s each, not recorded)"
	$runner ours "$2" "$warmup" warmup
	$runner "$3" "$4" "$warmup" warmup
	for ((r = 1; r <= rounds; r++)); do
		if ((r % 2)); then
			$runner ours "$2" "$duration" "$r"
			$runner "$3" "$4" "$duration" "$r"
		else
			$runner "$3" "$4" "$duration" "$r"
			$runner ours "$2" "$duration" "$r"
		fi
	done
}

if [ "$only" != connect ]; then
	echo "-- gRPC over h2c: h2load, $gclients connections x $gstreams streams = $((gclients * gstreams)) concurrent streams"
	bench run_h2load "$url_ours" grpcjs "$url_grpcjs"
	load_grpc=$(loadavg)
	echo "  load average after gRPC: $load_grpc"
	echo
fi
if [ "$only" != grpc ]; then
	echo "-- Connect over HTTP/1.1 (application/proto): wrk, 1 thread, $hconns connections"
	bench run_wrk "$url_ours" connect "$url_connect"
	load_connect=$(loadavg)
	echo "  load average after Connect: $load_connect"
	echo
fi

# Our server counts finished RPCs by status code: anything but OK is a failure that
# h2load (which cannot see grpc-status) would have missed.
ours_not_ok=$(curl -sS --max-time 5 "$url_ours/metrics" |
	awk '/^rpc_server_requests_total\{.*Bench\/Echo/ && !/code="(OK|ok)"/ { n += $NF } END { print n + 0 }')
ours_ok=$(curl -sS --max-time 5 "$url_ours/metrics" |
	awk '/^rpc_server_requests_total\{.*Bench\/Echo/ && /code="(OK|ok)"/ { n += $NF } END { print n + 0 }')

# ---- summary ----
col() { awk -v p="$1" -v s="$2" -v c="$3" '$1 == p && $2 == s { print $c }' "$results" | median; }
sum_bad() { awk -v p="$1" -v s="$2" '$1 == p && $2 == s { n += $9 } END { print n + 0 }' "$results"; } # all rounds

echo "== results: median of $rounds round(s) of ${duration}s each =="
echo "latency per request in ms; p99/1s = median over the run's whole seconds of each second's p99 (h2load log only);"
echo "CPU and run-queue wait as shares of wall time (summed over threads); req/CPU-s = requests per second of server CPU"
echo
echo "| protocol | server | req/s | ratio | p50 | p99 | p99/1s | srv CPU | srv run-queue wait | req/CPU-s | ratio/CPU | load-gen CPU | not-OK |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
row() { # PROTO LABEL SERVER PEER SERVERLABEL
	local rps cps ratio="" cratio="" p99w="n/a"
	rps=$(col "$1" "$3" 4) cps=$(col "$1" "$3" 11)
	if [ "$3" = ours ]; then
		ratio=$(awk -v a="$rps" -v b="$(col "$1" "$4" 4)" 'BEGIN { if (b > 0) printf "%.2fx", a / b }')
		cratio=$(awk -v a="$cps" -v b="$(col "$1" "$4" 11)" 'BEGIN { if (b > 0) printf "%.2fx", a / b }')
	fi
	[ "$1" = grpc ] && p99w=$(printf '%.3f' "$(col "$1" "$3" 14)")
	printf '| %s | %s | %.0f | %s | %.3f | %.3f | %s | %.0f%% | %.0f%% | %.0f | %s | %.0f%% | %s |\n' "$2" "$5" "$rps" "$ratio" \
		"$(col "$1" "$3" 6)" "$(col "$1" "$3" 7)" "$p99w" "$(col "$1" "$3" 8)" "$(col "$1" "$3" 12)" \
		"$cps" "$cratio" "$(col "$1" "$3" 13)" "$(sum_bad "$1" "$3")"
}
if [ "$only" != connect ]; then
	row grpc "gRPC h2c (h2load)" ours grpcjs "ds_test_server"
	row grpc "gRPC h2c (h2load)" grpcjs ours "@grpc/grpc-js"
fi
if [ "$only" != grpc ]; then
	row connect "Connect HTTP/1.1 (wrk)" ours connect "ds_test_server"
	row connect "Connect HTTP/1.1 (wrk)" connect ours "connect-node"
fi
echo
echo "ours: Echo finished OK $ours_ok, not OK $ours_not_ok (server metrics, all runs incl. warm-up and checks)"
echo "load average: start $load_start${load_grpc:+, after gRPC $load_grpc}${load_connect:+, after Connect $load_connect}"

if [ "$only" != connect ]; then
	g_ours=$(col grpc ours 4) g_peer=$(col grpc grpcjs 4) g_p99=$(col grpc ours 7)
	verdict() { if [ "$1" = 1 ]; then echo met; else echo "NOT met"; fi; }
	echo "targets (gRPC, issue 2):" \
		">= 3x grpc-js: $(verdict "$(awk -v a="$g_ours" -v b="$g_peer" 'BEGIN { print (b > 0 && a >= 3 * b) }')");" \
		">= 50000 req/s: $(verdict "$(awk -v a="$g_ours" 'BEGIN { print (a >= 50000) }')");" \
		"p99 < 2 ms at $((gclients * gstreams)) streams: $(verdict "$(awk -v a="$g_p99" 'BEGIN { print (a < 2) }')")"
fi
echo
echo "commands (URL = each server's http://127.0.0.1:PORT; bodies and script as written by run.sh):"
echo "  taskset -c $server_cpu $ours_bin --listen tcp://127.0.0.1:0 --ready-file F --log-level warn"
echo "  taskset -c $server_cpu node bench/rpc/grpcjs_server.mjs --ready-file F"
echo "  taskset -c $server_cpu node bench/rpc/connect_peer.mjs --descriptor-set $descset --ready-file F"
echo "  taskset -c $client_cpu h2load -D $duration -c $gclients -m $gstreams -t 1 -d req.grpc -H 'content-type: application/grpc' -H 'te: trailers' --log-file LOG URL$path"
echo "      req.grpc = 00 00 00 00 07 0a 05 'hello'; p50/p99/mean computed from LOG (column 3, microseconds)"
echo "  taskset -c $client_cpu wrk -t1 -c$hconns -d${duration}s --latency -s connect.lua URL$path"
echo "      connect.lua: POST, Content-Type: application/proto, Connect-Protocol-Version: 1, body 0a 05 'hello'"

# ---- optional profile of our server ----
if [ "$perf_s" != 0 ]; then
	echo
	prof() { # PROTO RUNNER
		local data=$work/perf.$1.data
		perf record -F 999 -g -p "$pid_ours" -o "$data" -- sleep "$perf_s" >"$work/perf.$1.log" 2>&1 &
		local pp=$!
		pids+=("$pp")
		sleep 0.3
		$2 ours "$url_ours" "$((perf_s + 1))" perf
		wait "$pp"
		unpid "$pp"
		echo "== perf: ds_test_server under $1 load (self time by object, then top symbols) =="
		perf report -i "$data" --stdio --no-children --sort dso -g none 2>/dev/null |
			awk '/^ +[0-9.]+%/ { printf "  %7s  %s\n", $1, $2; if (++n == 8) exit }'
		echo "  --"
		perf report -i "$data" --stdio --no-children --sort dso,symbol -g none 2>/dev/null |
			awk '/^ +[0-9.]+%/ { printf "  %7s  %-24s %s\n", $1, $2, $4; if (++n == 25) exit }'
		echo
	}
	[ "$only" = connect ] || prof grpc run_h2load
	[ "$only" = grpc ] || prof connect run_wrk
fi
