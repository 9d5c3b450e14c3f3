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
  -h, --help
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${DS_BUILD_DIR:-$root/build}
rounds=3 seconds=5 warmup=1 conc=8 kms_cpu=0 client_cpu=1 perf_s=0 quick=0 log_level=info keep=0

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
	-h | --help) usage; exit 0 ;;
	*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

die() { echo "run.sh: $*" >&2; exit 1; }

# ---- prerequisites (this script builds nothing) ----
bench=$build/bench/kms/ds_bench_kms
kms_bin=$build/services/kms/dstack-kms
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
pids=()
unpid() { local p keep=(); for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=("${keep[@]}"); }
# Stop one process we started: TERM, up to 5 s, then KILL; reap it.
stop_pid() {
	local p=$1 i
	kill -TERM "$p" 2>/dev/null
	for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	unpid "$p"
}
cleanup() {
	local p
	for p in "${pids[@]}"; do stop_pid "$p"; done
	if [ "$keep" = 1 ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
field() { awk -v k="$2" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) { print a[2]; exit } } }' <<<"$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

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
echo

# KMS counters over its admin socket (/metrics): connections accepted and GetAppKey calls finished OK.
kms_metric() {
	curl -s --max-time 5 --unix-socket "$admin_sock" http://kms/metrics |
		awk -v m="$1" '$1 == m || index($1, m "{") == 1 { if (m != "rpc_server_requests_total" || ($0 ~ /GetAppKey/ && $0 ~ /code="(OK|ok)"/)) n += $NF } END { printf "%.0f\n", n }'
}

results=$work/results
: >"$results"
tee_n=0
# run_case NAME ROUND ARGS...: one ds_bench_kms run pinned to the client CPU; the line is recorded.
run_case() {
	local name=$1 r=$2 out c0 c1 q0 q1
	shift 2
	c0=$(kms_metric rpc_server_connections_total) q0=$(kms_metric rpc_server_requests_total)
	out=$(taskset -c "$client_cpu" "$bench" "$@" --seconds "$seconds" --warmup "$warmup" --lat-file "$work/lat.$name.$r")
	local rc=$?
	[ $rc = 0 ] || [ $rc = 2 ] || die "ds_bench_kms $* failed"
	c1=$(kms_metric rpc_server_connections_total) q1=$(kms_metric rpc_server_requests_total)
	echo "$name r=$r $out kms_conns=$((c1 - c0)) kms_ok=$((q1 - q0))" >>"$results"
	printf '  round %d  %-22s %9.0f /s  p50 %7.3f ms  p99 %7.3f ms  server CPU %5.2f s -> %7.0f per server CPU-s  errors %s\n' \
		"$r" "$name" "$(field "$out" rate)" "$(awk -v v="$(field "$out" p50_us)" 'BEGIN { print v / 1000 }')" \
		"$(awk -v v="$(field "$out" p99_us)" 'BEGIN { print v / 1000 }')" \
		"$(field "$out" "cpu_$(srv_of "$name")_s")" "$(field "$out" "per_cpu_s_$(srv_of "$name")")" "$(field "$out" errors)"
}
srv_of() { case $1 in floor*) echo sserver ;; *) echo kms ;; esac; }
app_case() { # NAME ROUND keepalive|newconn CONC
	tee_n=$((tee_n + 1))
	run_case "$1" "$2" --case "$3" --conc "$4" --url "$kms_url" --tee-dir "$work/cvm-$tee_n" \
		--watch kms="$kms_pid" --watch kh="$kh_pid" --watch reg="$reg_pid"
}
floor_case() { # ROUND
	run_case floor "$1" --case tls --conc "$conc" --connect "$ss_addr" --cert "$fl/client.pem" --key "$fl/client.key" \
		--ca "$fl/ca.pem" --path f --watch sserver="$ss_pid"
}
# openssl s_time -new: one connection at a time, each a full handshake + GET /f; s_server's CPU over it.
stime_case() { # ROUND
	local r=$1 out c0 c1 n t
	c0=$(awk '{ print $14 + $15 }' "/proc/$ss_pid/stat")
	out=$(cd "$fl" && taskset -c "$client_cpu" openssl s_time -connect "$ss_addr" -new -cert client.pem -key client.key \
		-CAfile ca.pem -www /f -time "$seconds" 2>&1) || die "openssl s_time failed"
	c1=$(awk '{ print $14 + $15 }' "/proc/$ss_pid/stat")
	read -r n t < <(awk '/connections in .* real seconds/ { print $1, $4; exit }' <<<"$out")
	[ -n "$n" ] || { echo "$out" >&2; die "cannot read openssl s_time's output"; }
	awk -v r="$r" -v n="$n" -v t="$t" -v c="$(((c1 - c0)))" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		cs = c / hz; printf "stime r=%d case=s_time conc=1 ok=%d errors=0 seconds=%s rate=%.1f cpu_sserver_s=%.2f per_cpu_s_sserver=%.1f\n",
			r, n, t, n / t, cs, cs > 0 ? n / cs : 0 }' >>"$results"
	printf '  round %d  %-22s %9.0f /s  (sequential)                         server CPU %5.2f s -> %7.0f per server CPU-s\n' "$r" "floor (openssl s_time)" \
		"$(awk -v n="$n" -v t="$t" 'BEGIN { print n / t }')" "$(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { print c / hz }')" \
		"$(awk -v n="$n" -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { print c > 0 ? n / (c / hz) : 0 }')"
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
met() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "NOT met"; fi; }

echo
echo "== results: median of $rounds round(s) of ${seconds}s; rates per second of wall time and per CPU-second of the server's core (CPU $kms_cpu) =="
echo "KMS CPU = dstack-kms + its key-holder process; registry and client run on CPU $client_cpu"
echo
echo "| case | in flight | /s (wall) | p50 ms | p99 ms | server CPU | per server CPU-s | of which key holder | client CPU | registry CPU | new conns / call | not-OK |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
row() { # NAME LABEL SRV
	local n=$1 s=$3 secs cpu kh cl rg calls conns nc
	secs=$(col "$n" seconds)
	cpu=$(col "$n" "cpu_${s}_s") kh="" rg="" nc=""
	cl=$(col "$n" client_cpu_s)
	if [ "$s" = kms ]; then
		kh=$(pct "$(col "$n" cpu_kh_s)" "$cpu")
		rg=$(pct "$(col "$n" cpu_reg_s)" "$secs")
		calls=$(sumcol "$n" ok) conns=$(sumcol "$n" kms_conns)
		nc=$(awk -v a="$conns" -v b="$calls" 'BEGIN { if (b > 0) printf "%.3f", a / b }')
	fi
	printf '| %s | %s | %.0f | %s | %s | %s | %.0f | %s | %s | %s | %s | %s |\n' "$2" "$(col "$n" conc)" "$(col "$n" rate)" \
		"$([ "$n" = stime ] && echo n/a || awk -v v="$(col "$n" p50_us)" 'BEGIN { printf "%.3f", v / 1000 }')" \
		"$([ "$n" = stime ] && echo n/a || awk -v v="$(col "$n" p99_us)" 'BEGIN { printf "%.3f", v / 1000 }')" \
		"$(pct "$cpu" "$secs")" "$(col "$n" "per_cpu_s_$s")" "${kh:-}" \
		"$([ "$n" = stime ] && echo n/a || pct "$cl" "$secs")" "${rg:-}" "${nc:-}" "$(sumcol "$n" errors)"
}
row floor "floor: mutual-TLS handshake + GET, openssl s_server (our C client)" sserver
row stime "floor: openssl s_time -new (one at a time)" sserver
row A1 "A kept-alive GetAppKey" kms
row "A$conc" "A kept-alive GetAppKey" kms
row B1 "B new connection per GetAppKey" kms
row "B$conc" "B new connection per GetAppKey" kms
echo

floor_w=$(col floor rate) floor_c=$(col floor per_cpu_s_sserver)
a_w=$(col "A$conc" rate) a_c=$(col "A$conc" per_cpu_s_kms)
b_w=$(col "B$conc" rate) b_c=$(col "B$conc" per_cpu_s_kms)
echo "ratios: B ($conc in flight) / floor ($conc in flight): $(pct "$b_c" "$floor_c") per server CPU-second, $(pct "$b_w" "$floor_w") of the wall rate"
echo "load average: start $load_start, end $load_end"
echo
echo "targets (issue 5, bench/kms):"
echo "  A kept-alive >= 2000 releases/s/core:  $(met "$a_c >= 2000") ($(printf '%.0f' "$a_c") per KMS CPU-second; $(printf '%.0f' "$a_w")/s wall at $(pct "$(col "A$conc" cpu_kms_s)" "$(col "A$conc" seconds)") KMS CPU)"
echo "  B new connection >= 50% of the floor:  $(met "$b_c >= 0.5 * $floor_c") ($(pct "$b_c" "$floor_c") per server CPU-second); wall rate $(met "$b_w >= 0.5 * $floor_w") ($(pct "$b_w" "$floor_w"))"
echo
echo "commands (URL = the KMS's https://127.0.0.1:PORT; W = --watch of the server PIDs for their CPU time):"
echo "  taskset -c $client_cpu $reg_bin serve -c registry.conf     (listen = tcp://127.0.0.1:0, policy_file = policy.json: app 0x$APP, compose 0x$COMPOSE, OS 0x$OS_IMAGE)"
echo "  taskset -c $kms_cpu $kms_bin serve -c kms.conf     (seal.provider = sim, trust.dev_root, collateral.file from ds_bench_kms --case platform, registry.url)"
echo "  $bench --case bootstrap --admin-sock kms-admin.sock     (Bootstrap, domain 127.0.0.1; then the KMS is restarted)"
echo "  cd floor && taskset -c $kms_cpu ${sserver_cmd[*]}"
echo "  taskset -c $client_cpu $bench --case keepalive --conc 1|$conc --url URL --tee-dir DIR --seconds $seconds --warmup $warmup W"
echo "  taskset -c $client_cpu $bench --case newconn --conc 1|$conc --url URL --tee-dir DIR --seconds $seconds --warmup $warmup W"
echo "  taskset -c $client_cpu $bench --case tls --conc $conc --connect $ss_addr --cert client.pem --key client.key --ca ca.pem --path f --seconds $seconds --warmup $warmup W"
echo "  cd floor && taskset -c $client_cpu openssl s_time -connect $ss_addr -new -cert client.pem -key client.key -CAfile ca.pem -www /f -time $seconds"

# ---- optional profile of the KMS under case A ----
if [ "$perf_s" != 0 ]; then
	echo
	data=$work/perf.data
	tee_n=$((tee_n + 1))
	taskset -c "$client_cpu" "$bench" --case keepalive --conc "$conc" --url "$kms_url" --tee-dir "$work/cvm-$tee_n" \
		--seconds "$((perf_s + 2))" --warmup 0 --watch kms="$kms_pid" >"$work/perf.load" 2>&1 &
	lp=$!
	pids+=("$lp")
	sleep 1
	perf record -F 1999 --call-graph dwarf,16384 -p "$kms_pid,$kh_pid" -o "$data" -- sleep "$perf_s" >"$work/perf.log" 2>&1 ||
		{ tail -5 "$work/perf.log" >&2; die "perf record failed"; }
	wait "$lp"
	unpid "$lp"
	echo "== perf: dstack-kms + key holder under case A ($conc in flight): $(field "$(cat "$work/perf.load")" rate) releases/s during the profile =="
	echo "-- samples by process (kms = network process, keyholder = the key holder):"
	perf report -i "$data" --stdio --no-children --sort pid -g none 2>/dev/null |
		awk '/^ +[0-9.]+%/ { printf "  %7s  %s\n", $1, $2; if (++n == 4) exit }'
	echo "-- inclusive time (children) of the steps of a release, % of all samples of both processes:"
	perf report -i "$data" --stdio --children --sort symbol -g none 2>/dev/null >"$work/perf.children"
	for s in on_conn_read on_conn_write nghttp2_session_mem_recv nghttp2_session_send SSL_read SSL_write ssl3_read_bytes \
		kms_on_get_app_key kms_authz_check on_answer on_decision release kms_kh_call kh_frame_write kh_frame_read \
		curl_multi_socket_action rpc_client_call log_msg ratls_verify_cert op_app_keys dstack_app_keys_derive \
		k256_sign dstack_app_disk_key dstack_app_env_key dstack_app_k256_key kh_dispatch pb_encode protobuf_c_message_pack \
		protobuf_c_message_unpack epoll_wait __libc_write __libc_read writev readv; do
		awk -v s="$s" '$1 ~ /%$/ && $NF == s { printf "  %7s %7s  %s\n", $1, $2, s; exit }' "$work/perf.children"
	done
	echo "-- top self time:"
	perf report -i "$data" --stdio --no-children --sort comm,dso,symbol -g none 2>/dev/null |
		awk '/^ +[0-9.]+%/ { printf "  %7s  %-10s %-22s %s\n", $1, $2, $3, $5; if (++n == 25) exit }'
fi
