#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# KMS key-release benchmark: GetAppKey over mutual RA-TLS against dstack-kms (sim seal, dev root,
# sim collateral, bootstrapped with domain 127.0.0.1) whose registry is dstack-registry with a policy
# file, next to the floor measured in the same run: plain mutual-TLS 1.3 handshakes against
# `openssl s_server` (P-256 certificates, client certificate required) on the same core.
#   A  kept-alive: one mutual RA-TLS connection, GetAppKey calls back to back (1 and --conc in flight)
#   B  new connection per request: each GetAppKey on a fresh TCP + TLS connection, same certificate
#   floor  full mutual-TLS handshakes + one tiny HTTP/1.0 request each (our C client, --conc threads),
#          and `openssl s_time -new` (one at a time) for reference
# The KMS (and its key-holder child) and s_server run pinned to --kms-cpu, the registry and every
# client to --client-cpu. CPU time of each server process (utime + stime from /proc/PID/stat,
# children included) is read at the start and end of each measured window, so rates are also
# given per CPU-second of the server's core. Prints per-round lines, a results table (medians of
# the rounds), the targets, the machine, the date, the load average and the exact commands.
# Kept-alive connections: libcurl 7.88 (Debian 12) sends RST_STREAM after every finished stream and
# nghttp2's rapid-reset limit (1000 + 33/s) answers with GOAWAY, so a kept-alive connection lasts
# ~1000-1300 calls; the client re-issues the calls in flight on a new connection ("retried").
set -uo pipefail

usage() {
	cat <<'EOF'
usage: bench/kms/run.sh [options]
  --quick            short run to check the script works (1 round, 2 s per case)
  --rounds N         rounds (default 3; medians reported)
  --seconds S        measured seconds per case (default 5)
  --warmup S         unrecorded seconds before each measurement (default 1)
  --conc N           calls / connections in flight for the loaded cases (default 8)
  --kms-cpu C        CPU of the KMS and of s_server (default 0)
  --client-cpu C     CPU of the registry and the clients (default 1)
  --build-dir D      CMake build directory (default <repo>/build, or $DS_BUILD_DIR)
  --perf S           after the rounds, profile the KMS and its key holder under case A (--conc in
                     flight) for S seconds (perf record, DWARF call graphs) and print the split
  --log-level L      KMS and registry log level (default info: one line per key release, as deployed)
  --keep             keep the temporary directory (logs, configs, latencies) and print its path
  --kms-bin F        another dstack-kms binary to measure (A/B comparisons of a change)
  -h, --help
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/../lib.sh"
build=${DS_BUILD_DIR:-$root/build}
rounds=3 seconds=5 warmup=1 conc=8 kms_cpu=0 client_cpu=1 perf_s=0 quick=0 log_level=info keep=0 kms_bin=

while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 rounds=1 seconds=2 warmup=0.5 ;;
	--rounds) rounds=$2; shift ;;
	--seconds) seconds=$2; shift ;;
	--warmup) warmup=$2; shift ;;
	--conc) conc=$2; shift ;;
	--kms-cpu) kms_cpu=$2; shift ;;
	--client-cpu) client_cpu=$2; shift ;;
	--build-dir) build=$2; shift ;;
	--perf) perf_s=$2; shift ;;
	--log-level) log_level=$2; shift ;;
	--keep) keep=1 ;;
	--kms-bin) kms_bin=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

[ -d "$build" ] && build=$(cd "$build" && pwd)   # absolute: some servers run from the floor's directory

# ---- prerequisites (this script builds nothing) ----
bench=$build/bench/kms/ds_bench_kms
kms_bin=${kms_bin:-$build/services/kms/dstack-kms}
reg_bin=$build/services/registry/dstack-registry
for b in "$bench" "$kms_bin" "$reg_bin"; do
	if [ ! -x "$b" ]; then
		cat >&2 <<EOF
run.sh: missing $b
build it first:
  cmake -S $root -B $build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build $build -j\$(nproc) --target ds_bench_kms dstack-kms dstack-registry
EOF
		exit 1
	fi
done
for t in openssl taskset awk sort curl; do
	command -v $t >/dev/null || die "$t not found"
done
[ "$perf_s" = 0 ] || command -v perf >/dev/null || die "perf not found (--perf)"
ncpu=$(nproc)
[ "$kms_cpu" -lt "$ncpu" ] && [ "$client_cpu" -lt "$ncpu" ] || die "only $ncpu CPUs"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-kms.XXXXXX")
cleanup() {
	local p
	for p in "${pids[@]}"; do stop_pid "$p"; done
	if [ "$keep" = 1 ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# wait_ready NAME PID FILE: the daemon's ready file (its listeners), or die with its log.
wait_ready() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ -s "$3" ] && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	tail -20 "$work/$1.log" >&2
	die "$1 did not become ready"
}

load_start=$(loadavg)
echo "== KMS key-release benchmark: GetAppKey over mutual RA-TLS (sim TEE), one KMS core =="
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $ncpu CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
echo "load:    $load_start (1/5/15-min load average at start)"
echo "tools:   $(openssl version), $(curl --version | head -1 | cut -d' ' -f1-2)"
dirty=""
[ -n "$(git -C "$root" status --porcelain 2>/dev/null)" ] && dirty=" + uncommitted changes"
echo "tree:    $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$dirty"
echo "pinning: dstack-kms (+ its key holder) and openssl s_server on CPU $kms_cpu; dstack-registry and all clients on CPU $client_cpu"
echo "rounds:  $rounds x ${seconds}s per case after ${warmup}s warm-up, $conc in flight for the loaded cases$([ $quick = 1 ] && echo ' (--quick)'); log level $log_level"
echo

# ---- setup: sim platform, registry with a policy file, KMS bootstrapped over its admin socket ----
APP=a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1
COMPOSE=c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1
OS_IMAGE=0505050505050505050505050505050505050505050505050505050505050505
"$bench" --case platform --out-dir "$work" || die "cannot write the sim platform's collateral"
cat >"$work/policy.json" <<EOF
{"gatewayAppId":"0xgateway","osImages":["0x$OS_IMAGE"],
 "kms":{"mrAggregated":[],"devices":[],"allowAnyDevice":true},
 "apps":{"0x$APP":{"composeHashes":["0x$COMPOSE"],"allowAnyDevice":true}}}
EOF
printf '%s\n' 'listen = tcp://127.0.0.1:0' "policy_file = $work/policy.json" "log.level = $log_level" >"$work/registry.conf"
taskset -c "$client_cpu" "$reg_bin" serve -c "$work/registry.conf" --ready-file "$work/registry.ready" >"$work/registry.log" 2>&1 &
reg_pid=$!
pids+=("$reg_pid")
wait_ready registry "$reg_pid" "$work/registry.ready"
reg_url="http://$(head -1 "$work/registry.ready" | sed 's|^tcp://||')"

admin_sock=$work/kms-admin.sock
printf '%s\n' 'listen = tcp://127.0.0.1:0' "listen = unix://$admin_sock" "state_dir = $work/kms-state" \
	'seal.provider = sim' "registry.url = $reg_url" "trust.dev_root = $work/dev-root.der" \
	"collateral.file = $work/collateral.json" "log.level = $log_level" >"$work/kms.conf"
mkdir -m 700 "$work/kms-state"
start_kms() {
	rm -f "$work/kms.ready"
	taskset -c "$kms_cpu" "$kms_bin" serve -c "$work/kms.conf" --ready-file "$work/kms.ready" >>"$work/kms.log" 2>&1 &
	kms_pid=$!
	pids+=("$kms_pid")
	wait_ready kms "$kms_pid" "$work/kms.ready"
}
start_kms
taskset -c "$client_cpu" "$bench" --case bootstrap --admin-sock "$admin_sock" || die "Bootstrap failed"
# As the e2e test: restart, so the RPC certificate for the domain is the one issued at start.
stop_pid "$kms_pid"
start_kms
kms_url="https://$(grep '^tcp://' "$work/kms.ready" | head -1 | sed 's|^tcp://||')"
kh_pid=$(ps -o pid= --ppid "$kms_pid" | awk 'NR == 1 { print $1 }')
[ -n "$kh_pid" ] || die "no key-holder process under the KMS ($kms_pid)"
kh_cpus=$(taskset -pc "$kh_pid" 2>/dev/null | awk -F': ' '{ print $2 }')
echo "setup:   registry $reg_url (pid $reg_pid), KMS $kms_url (pid $kms_pid, key holder pid $kh_pid on CPU $kh_cpus)"

# ---- the floor's TLS server: openssl s_server, P-256 CA / server / client certificates ----
fl=$work/floor
mkdir -p "$fl"
(
	cd "$fl" || exit 1
	umask 077
	set -e
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=floor-ca
	for n in server client; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr -subj /CN=$n
	done
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
	printf 'extendedKeyUsage=clientAuth\n' >client.ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext
	openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext
	printf 'ok\n' >f
) >"$work/floor-pki.log" 2>&1 || { cat "$work/floor-pki.log" >&2; die "cannot make the floor's certificates"; }
# -WWW serves files from the working directory ("GET /f"); as the KMS: TLS 1.3 only, the chain
# (leaf + CA) sent, a client certificate required and verified, no session tickets.
sserver_cmd=(openssl s_server -accept 127.0.0.1:0 -tls1_3 -cert server.pem -key server.key -cert_chain ca.pem
	-CAfile ca.pem -Verify 1 -num_tickets 0 -WWW)
(cd "$fl" && exec taskset -c "$kms_cpu" "${sserver_cmd[@]}") >"$work/sserver.log" 2>&1 &
ss_pid=$!
pids+=("$ss_pid")
for ((i = 0; i < 100; i++)); do grep -q '^ACCEPT' "$work/sserver.log" 2>/dev/null && break; sleep 0.05; done
ss_addr=$(awk '/^ACCEPT/ { print $2; exit }' "$work/sserver.log")
[ -n "$ss_addr" ] || { cat "$work/sserver.log" >&2; die "s_server did not start"; }
echo "floor:   openssl s_server on $ss_addr (pid $ss_pid)"
# A second floor when the tests are built: our own lib/rpc server (ds_test_server, the KMS's TLS code:
# tls_server_ctx_new, libevent, TLS 1.3, client certificate required, no tickets), GET /healthz.
ts_bin=$build/tests/integration/ds_test_server ts_pid="" ts_addr=""
if [ -x "$ts_bin" ]; then
	cat "$fl/server.pem" "$fl/ca.pem" >"$fl/server-chain.pem"
	ts_cmd=("$ts_bin" --listen tcp://127.0.0.1:0 --tls-cert server-chain.pem --tls-key server.key --client-ca ca.pem
		--require-client-cert --log-level warn)
	(cd "$fl" && exec taskset -c "$kms_cpu" "${ts_cmd[@]}" --ready-file "$work/ts.ready") >"$work/ts.log" 2>&1 &
	ts_pid=$!
	pids+=("$ts_pid")
	wait_ready ts "$ts_pid" "$work/ts.ready"
	ts_addr=$(head -1 "$work/ts.ready" | sed 's|^[a-z]*://||')
	echo "floor:   ds_test_server (lib/rpc) on $ts_addr (pid $ts_pid)"
else
	echo "floor:   (no $ts_bin: build with the tests for the lib/rpc floor)"
fi
echo

# KMS counters over its admin socket (/metrics): connections accepted and GetAppKey calls finished OK.
kms_metric() {
	curl -s --max-time 5 --unix-socket "$admin_sock" http://kms/metrics |
		awk -v m="$1" '$1 == m || index($1, m "{") == 1 { if (m != "rpc_server_requests_total" || ($0 ~ /GetAppKey/ && $0 ~ /code="(OK|ok)"/)) n += $NF } END { printf "%.0f\n", n }'
}

results=$work/results
: >"$results"
tee_n=0
# run_case NAME ROUND ARGS...: one ds_bench_kms run pinned to the client CPU; the line is recorded with the
# KMS's own count of connections accepted and GetAppKey calls answered OK over the whole run (warm-up included).
run_case() {
	local name=$1 r=$2 out c0 c1 q0 q1 rc=0 srv
	shift 2
	c0=$(kms_metric rpc_server_connections_total) q0=$(kms_metric rpc_server_requests_total)
	out=$(taskset -c "$client_cpu" "$bench" "$@" --seconds "$seconds" --warmup "$warmup" --lat-file "$work/lat.$name.$r") || rc=$?
	[ $rc = 0 ] || [ $rc = 2 ] || die "ds_bench_kms $* failed"
	c1=$(kms_metric rpc_server_connections_total) q1=$(kms_metric rpc_server_requests_total)
	# Connections besides the calls': GetTempCaCert's and the second /metrics scrape's own.
	echo "$name r=$r $out kms_conns=$((c1 - c0 - 2)) kms_ok=$((q1 - q0))" >>"$results"
	case $name in floor*) srv=sserver ;; *) srv=kms ;; esac
	printf '  round %d  %-24s %7.0f /s  p50 %8s  p99 %8s  max %9s ms  server CPU %5.2f s -> %6.0f per server CPU-s  retried %s  errors %s\n' \
		"$r" "$name" "$(field "$out" rate)" "$(ms "$(field "$out" p50_us)")" "$(ms "$(field "$out" p99_us)")" "$(ms "$(field "$out" max_us)")" \
		"$(field "$out" "cpu_${srv}_s")" "$(field "$out" "per_cpu_s_$srv")" "$(field "$out" retried)" "$(field "$out" errors)"
}
app_case() { # NAME ROUND keepalive|newconn CONC
	tee_n=$((tee_n + 1))
	run_case "$1" "$2" --case "$3" --conc "$4" --url "$kms_url" --tee-dir "$work/cvm-$tee_n" \
		--watch kms="$kms_pid" --watch kh="$kh_pid" --watch reg="$reg_pid"
}
floor_case() { # ROUND
	run_case floor "$1" --case tls --conc "$conc" --connect "$ss_addr" --cert "$fl/client.pem" --key "$fl/client.key" \
		--ca "$fl/ca.pem" --path f --watch sserver="$ss_pid"
	[ -z "$ts_pid" ] || run_case floor2 "$1" --case tls --conc "$conc" --connect "$ts_addr" --cert "$fl/client.pem" \
		--key "$fl/client.key" --ca "$fl/ca.pem" --path healthz --watch sserver="$ts_pid"
}
# openssl s_time -new: one connection at a time, each a full handshake + GET /f. It prints whole
# seconds only, so the wall time is ours; s_server's CPU from /proc over the same span.
stat_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
stime_case() { # ROUND
	local r=$1 out c0 c1 t0 t1 n
	c0=$(stat_ticks "$ss_pid") t0=$(date +%s%N)
	out=$(cd "$fl" && taskset -c "$client_cpu" openssl s_time -connect "$ss_addr" -new -cert client.pem -key client.key \
		-CAfile ca.pem -www /f -time "$seconds" 2>&1) || die "openssl s_time failed"
	t1=$(date +%s%N) c1=$(stat_ticks "$ss_pid")
	n=$(awk '/connections in .* real seconds/ { print $1; exit }' <<<"$out")
	[ -n "$n" ] || { echo "$out" >&2; die "cannot read openssl s_time's output"; }
	awk -v r="$r" -v n="$n" -v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		cs = c / hz; t = (t1 - t0) / 1e9
		printf "stime r=%d case=s_time conc=1 ok=%d errors=0 retried=0 seconds=%.3f rate=%.1f cpu_sserver_s=%.2f per_cpu_s_sserver=%.1f\n",
			r, n, t, n / t, cs, (cs > 0 ? n / cs : 0) }' >>"$results"
	out=$(tail -1 "$results")
	printf '  round %d  %-24s %7.0f /s  (one at a time)                  server CPU %5.2f s -> %6.0f per server CPU-s\n' "$r" "floor (openssl s_time)" \
		"$(field "$out" rate)" "$(field "$out" cpu_sserver_s)" "$(field "$out" per_cpu_s_sserver)"
}

for ((r = 1; r <= rounds; r++)); do
	if ((r % 2)); then
		floor_case $r; stime_case $r; app_case A1 $r keepalive 1; app_case "A$conc" $r keepalive "$conc"
		app_case B1 $r newconn 1; app_case "B$conc" $r newconn "$conc"
	else
		app_case "B$conc" $r newconn "$conc"; app_case B1 $r newconn 1; app_case "A$conc" $r keepalive "$conc"
		app_case A1 $r keepalive 1; stime_case $r; floor_case $r
	fi
	echo "  load average after round $r: $(loadavg)"
done
load_end=$(loadavg)

# ---- summary ----
col() { awk -v n="$1" '$1 == n' "$results" | while read -r line; do field "$line" "$2"; done | median; }
sumcol() { awk -v n="$1" '$1 == n' "$results" | while read -r line; do field "$line" "$2"; done | awk '{ s += $1 } END { print s + 0 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'; }

echo
echo "== results: median of $rounds round(s) of ${seconds}s; rates per second of wall time and per CPU-second of the server (CPU $kms_cpu) =="
echo "server CPU = dstack-kms + its key-holder process (or s_server), utime + stime over the measured window;"
echo "client and registry run on CPU $client_cpu; conns/call from the KMS's own counters over the whole run"
echo
echo "| case | in flight | /s (wall) | p50 ms | p99 ms | server CPU | per server CPU-s | key holder share | client CPU | registry CPU | conns / call | retried | not-OK |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
row() { # NAME LABEL SRV
	local n=$1 s=$3 secs cpu kh="" rg="" nc="" p50=n/a p99=n/a cl=n/a
	secs=$(col "$n" seconds)
	cpu=$(col "$n" "cpu_${s}_s")
	if [ "$s" = kms ]; then
		kh=$(pct "$(col "$n" cpu_kh_s)" "$cpu")
		rg=$(pct "$(col "$n" cpu_reg_s)" "$secs")
		nc=$(awk -v a="$(sumcol "$n" kms_conns)" -v b="$(sumcol "$n" kms_ok)" 'BEGIN { if (b > 0) printf "%.4f", a / b }')
	fi
	if [ "$n" != stime ]; then
		p50=$(ms "$(col "$n" p50_us)") p99=$(ms "$(col "$n" p99_us)") cl=$(pct "$(col "$n" client_cpu_s)" "$secs")
	fi
	printf '| %s | %s | %.0f | %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s |\n' "$2" "$(col "$n" conc)" "$(col "$n" rate)" \
		"$p50" "$p99" "$(pct "$cpu" "$secs")" "$(col "$n" "per_cpu_s_$s")" "$kh" "$cl" "$rg" "$nc" \
		"$(sumcol "$n" retried)" "$(sumcol "$n" errors)"
}
row floor "floor: mutual-TLS 1.3 handshake + GET, openssl s_server (our C client)" sserver
row stime "floor: openssl s_time -new (one at a time)" sserver
[ -z "$ts_pid" ] || row floor2 "floor: mutual-TLS 1.3 handshake + GET /healthz, lib/rpc ds_test_server (our C client)" sserver
row A1 "A kept-alive GetAppKey" kms
row "A$conc" "A kept-alive GetAppKey" kms
row B1 "B new connection per GetAppKey" kms
row "B$conc" "B new connection per GetAppKey" kms
echo

floor_w=$(col floor rate) floor_c=$(col floor per_cpu_s_sserver)
a_w=$(col "A$conc" rate) a_c=$(col "A$conc" per_cpu_s_kms)
b_w=$(col "B$conc" rate) b_c=$(col "B$conc" per_cpu_s_kms)
echo "ratios: B ($conc in flight) / floor ($conc in flight): $(pct "$b_c" "$floor_c") per server CPU-second, $(pct "$b_w" "$floor_w") of the wall rate"
[ -z "$ts_pid" ] || echo "        B ($conc in flight) / lib/rpc floor ($conc in flight): $(pct "$b_c" "$(col floor2 per_cpu_s_sserver)") per server CPU-second, $(pct "$b_w" "$(col floor2 rate)") of the wall rate"
echo "per-round rates (/s wall | per server CPU-s):"
for n in floor stime $([ -z "$ts_pid" ] || echo floor2) A1 "A$conc" B1 "B$conc"; do
	printf '  %-6s %s\n' "$n" "$(awk -v n="$n" '$1 == n' "$results" | while read -r line; do
		printf '%.0f | %.0f;  ' "$(field "$line" rate)" "$(field "$line" "per_cpu_s_$(case $n in floor*| stime) echo sserver ;; *) echo kms ;; esac)")"; done)"
done
echo "load average: start $load_start, end $load_end"
echo
echo "targets (issue 5, bench/kms):"
echo "  A kept-alive >= 2000 releases/s/core:  $(met "$a_c >= 2000") ($(printf '%.0f' "$a_c") per KMS CPU-second; $(printf '%.0f' "$a_w")/s wall at $(pct "$(col "A$conc" cpu_kms_s)" "$(col "A$conc" seconds)") KMS CPU)"
echo "  B new connection >= 50% of the floor:  $(met "$b_c >= 0.5 * $floor_c") ($(pct "$b_c" "$floor_c") per server CPU-second); wall rate $(met "$b_w >= 0.5 * $floor_w") ($(pct "$b_w" "$floor_w"))"
echo
echo "commands (URL = the KMS's https://127.0.0.1:PORT; W = --watch NAME=PID of the server processes for their CPU time):"
echo "  taskset -c $client_cpu $reg_bin serve -c registry.conf     (listen = tcp://127.0.0.1:0, policy_file = policy.json: app 0x$APP, compose 0x$COMPOSE, OS 0x$OS_IMAGE)"
echo "  taskset -c $kms_cpu $kms_bin serve -c kms.conf     (seal.provider = sim, trust.dev_root + collateral.file from ds_bench_kms --case platform, registry.url = the registry)"
echo "  $bench --case bootstrap --admin-sock kms-admin.sock     (Bootstrap, domain 127.0.0.1; then the KMS is restarted)"
echo "  cd floor && taskset -c $kms_cpu ${sserver_cmd[*]}"
echo "  taskset -c $client_cpu $bench --case keepalive --conc 1|$conc --url URL --tee-dir DIR --seconds $seconds --warmup $warmup W"
echo "  taskset -c $client_cpu $bench --case newconn --conc 1|$conc --url URL --tee-dir DIR --seconds $seconds --warmup $warmup W"
echo "  taskset -c $client_cpu $bench --case tls --conc $conc --connect $ss_addr --cert client.pem --key client.key --ca ca.pem --path f --seconds $seconds --warmup $warmup W"
[ -z "$ts_pid" ] || echo "  cd floor && taskset -c $kms_cpu ${ts_cmd[*]} --ready-file F"
[ -z "$ts_pid" ] || echo "  taskset -c $client_cpu $bench --case tls --conc $conc --connect $ts_addr --cert client.pem --key client.key --ca ca.pem --path healthz --seconds $seconds --warmup $warmup W"
echo "  cd floor && taskset -c $client_cpu openssl s_time -connect $ss_addr -new -cert client.pem -key client.key -CAfile ca.pem -www /f -time $seconds"

# ---- optional profile of the KMS (network process + key holder) under cases A and B ----
if [ "$perf_s" != 0 ]; then
	prof() { # NAME keepalive|newconn
		local data=$work/perf.$1.data lp
		tee_n=$((tee_n + 1))
		taskset -c "$client_cpu" "$bench" --case "$2" --conc "$conc" --url "$kms_url" --tee-dir "$work/cvm-$tee_n" \
			--seconds "$((perf_s + 2))" --warmup 0 --watch kms="$kms_pid" >"$work/perf.$1.load" 2>/dev/null &
		lp=$!
		pids+=("$lp")
		sleep 1
		perf record -F 1999 --call-graph dwarf,16384 -p "$kms_pid,$kh_pid" -o "$data" -- sleep "$perf_s" >"$work/perf.$1.log" 2>&1 ||
			{ tail -5 "$work/perf.$1.log" >&2; die "perf record failed"; }
		wait "$lp"
		unpid "$lp"
		echo
		echo "== perf: dstack-kms (pid $kms_pid) + key holder (pid $kh_pid) under case $1, $conc in flight:" \
			"$(field "$(cat "$work/perf.$1.load")" rate)/s during the profile (perf slows it) =="
		echo "-- samples by process:"
		perf report -i "$data" --stdio --no-children --sort pid -g none 2>/dev/null |
			awk '/^ +[0-9.]+%/ { printf "  %7s  %s\n", $1, $2; if (++n == 4) exit }'
		echo "-- inclusive time of the steps (% of all samples of both processes; nested entries overlap):"
		perf report -i "$data" --stdio --children --sort symbol -g none 2>/dev/null >"$work/perf.$1.children"
		for sym in rpc_h2_on_read SSL_read SSL_write nghttp2_session_mem_recv rpc_dispatch kms_on_get_app_key \
			kms_authz_check curl_multi_socket_action __libc_connect on_answer on_decision kms_kh_call rpc_h2_send_reply \
			log_msg tls_peer_attach X509_verify_cert ratls_verify_cert X509_digest ASN1_item_d2i_ex EVP_PKEY_generate \
			EVP_DigestSignFinal EVP_DigestVerifyFinal kms_keyholder_main op_app_keys dstack_app_keys_derive \
			dkdf_derive_dh_secret EC_GROUP_new_by_curve_name_ex dstack_kms_issued_sign k256_pubkey hkdf_sha256 \
			kh_frame_read kh_frame_write; do
			awk -v s="$sym" '$1 ~ /%$/ && $4 == s { printf "  %7s  %s\n", $1, s; exit }' "$work/perf.$1.children"
		done
		echo "-- top self time:"
		perf report -i "$data" --stdio --no-children --sort dso,symbol -g none 2>/dev/null |
			awk '/^ +[0-9.]+%/ { printf "  %7s  %-18s %s\n", $1, $2, $4; if (++n == 20) exit }'
	}
	prof A keepalive
	prof B newconn
fi
exit 0   # (the last pipelines end with awk's early exit: SIGPIPE is not a failure)
