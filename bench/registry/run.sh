#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Registry benchmark, against named peers measured in the same run:
#   sync     the chain watcher (our C code, services/registry/registry_watch.c) syncing N governance
#            events from block 0 of a local anvil: ds_bench_registry sync (the watcher alone, timed from
#            start to the snapshot at the head) and `dstack-registry serve` (the real daemon, timed from
#            spawn until Status reports the head as its checkpoint). Peer: ethers.js provider.getLogs +
#            Interface.parseLog over the same range (peer_getlogs.mjs).
#   check    registry_check decisions per second on one core (ds_bench_registry check: 100,000 allowed
#            hashes over 1,000 apps, half allowed / half denied BootInfos). Peer: one eth_call
#            KmsRegistry.isAppAllowed per decision against the same anvil (peer_ethcall.mjs), what
#            dstack's KMS does per boot through its auth-eth webhook.
#   mem      heap bytes per allowed hash of a snapshot of 100,000 hashes (mallinfo2 before/after).
# Builds what it needs in the build directory, starts anvil on 127.0.0.1 (a free port), stops every
# process it started by PID. Prints the per-round lines, a results table (medians), the targets, the
# machine, the date, the load average and the exact commands.
set -uo pipefail

usage() {
	cat <<'EOF'
usage: bench/registry/run.sh [options]
  --build-dir D     CMake build directory (default <repo>/build, or $DS_BUILD_DIR); configured if needed
  --events N        governance events to generate (default 10000)
  --per-block K     events per block (default 1: every event in its own block, the most headers)
  --mix add|churn   add: N x addComposeHash; churn (default): addComposeHash / removeComposeHash
                    alternately (a few live hashes; anvil mines a growing state more slowly)
  --rounds R        rounds of sync and check (default 3; medians reported)
  --seconds S       seconds per decision-rate measurement (default 3)
  --hashes N --apps A
                    the check/mem snapshot (default 100000 hashes over 1000 apps)
  --cpu C           CPU for ours and the peers (default 0)
  --anvil-cpu C     CPU for anvil (default 1)
  --no-serve        skip the dstack-registry serve sync
  --perf S          after the rounds, profile the sync and the check case with perf (~S s)
  --quick           short run to check the script works (2000 events, 1 round, 1 s)
  --keep            keep the work directory
  -h, --help
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/../lib.sh"
build=${DS_BUILD_DIR:-$root/build}
events=10000 per_block=1 mix=churn rounds=3 seconds=3 hashes=100000 apps=1000 cpu=0 anvil_cpu=1
serve=1 perf_s=0 keep=0 quick=0

while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build=$2; shift ;;
	--events) events=$2; shift ;;
	--per-block) per_block=$2; shift ;;
	--mix) mix=$2; shift ;;
	--rounds) rounds=$2; shift ;;
	--seconds) seconds=$2; shift ;;
	--hashes) hashes=$2; shift ;;
	--apps) apps=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--anvil-cpu) anvil_cpu=$2; shift ;;
	--no-serve) serve=0 ;;
	--perf) perf_s=$2; shift ;;
	--quick) quick=1 events=2000 rounds=1 seconds=1 ;;
	--keep) keep=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
build=$(mkdir -p "$build" && cd "$build" && pwd)


# ---- prerequisites and build ----
for t in node cmake curl jq taskset awk sort; do
	command -v $t >/dev/null || die "$t not found"
done
[ "$perf_s" = 0 ] || command -v perf >/dev/null || die "perf not found (--perf)"
node_modules=$root/tests/node/node_modules
[ -f "$node_modules/ethers/package.json" ] && [ -f "$node_modules/@foundry-rs/anvil/package.json" ] ||
	die "Node packages missing: (cd $root/tests/node && npm ci)"
ncpu=$(nproc)
[ "$cpu" -lt "$ncpu" ] && [ "$anvil_cpu" -lt "$ncpu" ] || die "--cpu/--anvil-cpu: only $ncpu CPUs"
case $mix in add | churn) ;; *) die "--mix add|churn" ;; esac

if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || die "cmake configure failed"
fi
echo "building ds_bench_registry dstack-registry in $build ..."
cmake --build "$build" -j"$ncpu" --target ds_bench_registry dstack-registry >"${TMPDIR:-/tmp}/bench-registry-build.$$.log" 2>&1 ||
	{ tail -30 "${TMPDIR:-/tmp}/bench-registry-build.$$.log" >&2; die "build failed"; }
rm -f "${TMPDIR:-/tmp}/bench-registry-build.$$.log"
ours=$build/bench/registry/ds_bench_registry
daemon=$build/services/registry/dstack-registry
contracts=$build/services/registry/contracts
[ -f "$contracts/KmsRegistry.json" ] || die "missing $contracts/KmsRegistry.json"
anvil=$(cd "$root/tests/node" && node -e '
	const p = require.resolve(`@foundry-rs/anvil-linux-${{ x64: "amd64", arm64: "arm64" }[process.arch]}/package.json`);
	console.log(require("path").join(require("path").dirname(p), "bin", "anvil"));') || die "anvil binary not found"
[ -x "$anvil" ] || die "anvil binary not executable: $anvil"

# ---- work directory, processes, cleanup ----
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-registry.XXXXXX")
cleanup() {
	local p
	for p in "${pids[@]}"; do stop_pid "$p"; done
	if [ $keep = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_ns() { date +%s%N; }

# ---- anvil and the events ----
# --hardfork cancun: the contracts are compiled for cancun, and anvil 1.7's prague mode slows down
# block by block on a long chain (EIP-2935 history); anvil keeps its default state history, so old
# blocks' state is gone, as on a full node (the watcher reads App code at latest then).
taskset -c "$anvil_cpu" "$anvil" --host 127.0.0.1 --port 0 --hardfork cancun >"$work/anvil.log" 2>&1 &
anvil_pid=$!
pids+=("$anvil_pid")
for ((i = 0; i < 200; i++)); do
	grep -q 'Listening on 127.0.0.1:' "$work/anvil.log" && break
	kill -0 "$anvil_pid" 2>/dev/null || break
	sleep 0.05
done
anvil_port=$(grep -o 'Listening on 127.0.0.1:[0-9]*' "$work/anvil.log" | head -1 | sed 's/.*://')
[ -n "$anvil_port" ] || { tail -20 "$work/anvil.log" >&2; die "anvil did not start"; }
rpc=http://127.0.0.1:$anvil_port

load_start=$(loadavg)
echo "== registry benchmark: chain-watcher sync, CheckBoot decisions, snapshot memory =="
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $ncpu CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
echo "load:    $load_start (1/5/15-min load average at start)"
echo "tools:   $("$anvil" --version | head -1), node $(node --version), ethers $(jq -r .version "$node_modules/ethers/package.json")"
echo "tree:    $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo ' + uncommitted changes')"
echo "pinning: ours and the peers on CPU $cpu, anvil on CPU $anvil_cpu"
echo
echo "generating $events events ($mix, $per_block per block) on anvil $rpc ..."
gen_cmd=(node "$here/gen_events.mjs" --rpc "$rpc" --contracts "$contracts" --events "$events" --per-block "$per_block" --mix "$mix")
"${gen_cmd[@]}" >"$work/gen.json" || die "gen_events.mjs failed"
g() { jq -r ".$1" "$work/gen.json"; }
registry=$(g registry) app=$(g app) head=$(g head) total=$(g totalEvents) live=$(g liveHashes)
echo "  registry $registry, app $app, head block $head, $total events in all (from block 0), $live live hashes; generated in $(printf '%.0f' "$(g seconds)") s"
echo

results=$work/results
: >"$results"

run_sync() { # ROUND
	local out
	rm -rf "$work/sync" && mkdir -p "$work/sync"
	out=$(taskset -c "$cpu" "$ours" sync --rpc "$rpc" --registry "$registry" --start-block 0 --head "$head" \
		--confirmations 0 --checkpoint "$work/sync/checkpoint.json" --expect-events "$total" --expect-hashes "$live") ||
		die "ds_bench_registry sync failed"
	echo "ours r=$1 $out" >>"$results"
	printf '  round %d  %-34s %9.0f events/s  %6.3f s  (CPU %.3f s, %s steps)\n' "$1" "ours: watcher (ds_bench_registry)" \
		"$(field "$out" events_per_s)" "$(field "$out" seconds)" "$(field "$out" cpu_seconds)" "$(field "$out" steps)"
}

run_serve() { # ROUND
	local d=$work/serve t0 t1 url cb="" pid i secs
	rm -rf "$d" && mkdir -p "$d"
	printf '%s\n' 'listen = tcp://127.0.0.1:0' 'log.level = warn' "chain.rpc_urls = $rpc" 'chain.id = 31337' \
		"chain.kms_contract = $registry" 'chain.confirmations = 0' 'chain.poll_interval = 50ms' 'chain.start_block = 0' \
		"chain.checkpoint_file = $d/checkpoint.json" 'chain.max_staleness = 1h' >"$d/registry.conf"
	t0=$(now_ns)
	taskset -c "$cpu" "$daemon" serve -c "$d/registry.conf" --ready-file "$d/ready" >"$d/log" 2>&1 &
	pid=$!
	pids+=("$pid")
	for ((i = 0; i < 400; i++)); do [ -s "$d/ready" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.005; done
	[ -s "$d/ready" ] || { tail -20 "$d/log" >&2; die "dstack-registry did not become ready"; }
	url=http://$(head -1 "$d/ready" | sed 's,^tcp://,,')
	for ((i = 0; i < 30000; i++)); do
		cb=$(curl -s -X POST -H 'content-type: application/json' -d '{}' "$url/dstack.registry.v1.Registry/Status" |
			jq -r '.checkpointBlock // 0')
		[ "${cb:-0}" -ge "$head" ] && break
		sleep 0.01
	done
	t1=$(now_ns)
	[ "${cb:-0}" -ge "$head" ] || die "dstack-registry serve did not reach block $head"
	ev=$(curl -s -X POST -H 'content-type: application/json' -d '{}' "$url/dstack.registry.v1.Registry/Status" | jq -r .eventsApplied)
	[ "$ev" = "$total" ] || die "dstack-registry serve applied $ev events, want $total"
	stop_pid "$pid"
	unpid "$pid"
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	echo "serve r=$1 events=$ev seconds=$secs events_per_s=$(awk -v e="$ev" -v s="$secs" 'BEGIN { printf "%.1f", e / s }')" >>"$results"
	printf '  round %d  %-34s %9.0f events/s  %6.3f s  (spawn to Status at the head)\n' "$1" "ours: dstack-registry serve" \
		"$(awk -v e="$ev" -v s="$secs" 'BEGIN { print e / s }')" "$secs"
}

run_peer_sync() {
	local out
	out=$(taskset -c "$cpu" node "$here/peer_getlogs.mjs" --rpc "$rpc" --registry "$registry" --head "$head" \
		--contracts "$contracts" --expect-events "$total") || die "peer_getlogs.mjs failed"
	echo "peer r=$1 $out" >>"$results"
	printf '  round %d  %-34s %9.0f events/s  %6.3f s  (CPU %.3f s)\n' "$1" "peer: ethers getLogs + parseLog" \
		"$(field "$out" events_per_s)" "$(field "$out" seconds)" "$(field "$out" cpu_seconds)"
}

run_check() { # ROUND SOURCE
	local out
	out=$(taskset -c "$cpu" "$ours" check --source "$2" --apps "$apps" --hashes "$hashes" --seconds "$seconds") ||
		die "ds_bench_registry check failed"
	echo "check r=$1 $out" >>"$results"
	printf '  round %d  %-34s %11.0f /CPU-s %11.0f /s  (%.0f ns per decision)\n' "$1" "ours: registry_check ($2 rules)" \
		"$(field "$out" ops_per_cpu_s)" "$(field "$out" ops_per_s)" "$(field "$out" ns_per_op)"
}

run_peer_check() {
	local out
	out=$(taskset -c "$cpu" node "$here/peer_ethcall.mjs" --rpc "$rpc" --state "$work/gen.json" --contracts "$contracts" \
		--seconds "$seconds") ||
		die "peer_ethcall.mjs failed"
	echo "peercheck r=$1 $out" >>"$results"
	printf '  round %d  %-34s %11.1f /s      (%.0f us per call)\n' "$1" "peer: eth_call isAppAllowed" \
		"$(field "$out" ops_per_s)" "$(field "$out" us_per_op)"
}

echo "-- sync: $total events from block 0 to $head --"
for ((r = 1; r <= rounds; r++)); do
	if ((r % 2)); then
		run_sync $r; [ $serve = 1 ] && run_serve $r; run_peer_sync $r
	else
		run_peer_sync $r; [ $serve = 1 ] && run_serve $r; run_sync $r
	fi
done
echo
echo "-- check: decisions on one core --"
for ((r = 1; r <= rounds; r++)); do
	if ((r % 2)); then
		run_check $r chain; run_check $r file; run_peer_check $r
	else
		run_peer_check $r; run_check $r file; run_check $r chain
	fi
done
echo
echo "-- mem: $hashes allowed hashes --"
mem_lines=()
for a in "$apps" 1; do
	out=$("$ours" mem --apps "$a" --hashes "$hashes") || die "ds_bench_registry mem failed"
	echo "$out" >>"$results"
	mem_lines+=("$out")
	printf '  %-28s snapshot %5.1f B/hash (%d bytes; own counter %d)   builder %5.1f B/hash\n' "$a apps x $((hashes / a)) hashes:" \
		"$(field "$out" snapshot_per_hash)" "$(field "$out" snapshot_bytes)" "$(field "$out" snapshot_counter_bytes)" \
		"$(field "$out" builder_per_hash)"
done
load_end=$(loadavg)

# ---- summary ----
col() { # KIND [KEY=VALUE filter] KEY -> median over rounds
	awk -v w="$1" -v f="$2" '$1 == w && (f == "" || index($0, " " f " "))' "$results" | while read -r line; do field "$line" "$3"; done | median
}
sync_ours=$(col ours "" events_per_s) sync_ours_s=$(col ours "" seconds) sync_ours_cpu=$(col ours "" cpu_seconds)
sync_heap=$(col ours "" heap_per_event)
sync_serve=$(col serve "" events_per_s) sync_serve_s=$(col serve "" seconds)
sync_peer=$(col peer "" events_per_s) sync_peer_s=$(col peer "" seconds) sync_peer_cpu=$(col peer "" cpu_seconds)
chk_chain=$(col check source=chain ops_per_cpu_s) chk_chain_w=$(col check source=chain ops_per_s)
chk_file=$(col check source=file ops_per_cpu_s) chk_file_w=$(col check source=file ops_per_s)
chk_peer=$(col peercheck "" ops_per_s) chk_peer_us=$(col peercheck "" us_per_op)
mem_snap=$(field "${mem_lines[0]}" snapshot_per_hash) mem_build=$(field "${mem_lines[0]}" builder_per_hash)
mem_snap1=$(field "${mem_lines[1]}" snapshot_per_hash)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'; }

echo
echo "== results: median of $rounds round(s) =="
echo
echo "| case | ours | peer (same run) | ours / peer |"
echo "|---|---:|---:|---:|"
printf '| sync %s events from block 0, watcher (ds_bench_registry) | **%.0f events/s** (%.3f s, CPU %.3f s) | ethers getLogs + parseLog: %.0f events/s (%.3f s, CPU %.3f s) | **%s** |\n' \
	"$total" "$sync_ours" "$sync_ours_s" "$sync_ours_cpu" "$sync_peer" "$sync_peer_s" "$sync_peer_cpu" "$(ratio "$sync_ours" "$sync_peer")"
[ $serve = 1 ] && printf '| sync, `dstack-registry serve` (spawn to Status at the head) | %.0f events/s (%.3f s) | (same peer) | %s |\n' \
	"$sync_serve" "$sync_serve_s" "$(ratio "$sync_serve" "$sync_peer")"
printf '| CheckBoot decisions, chain rules, one core | **%.0f /CPU-s** (%.0f /s wall) | eth_call isAppAllowed: %.1f /s (%.0f us each) | **%s** |\n' \
	"$chk_chain" "$chk_chain_w" "$chk_peer" "$chk_peer_us" "$(ratio "$chk_chain" "$chk_peer")"
printf '| CheckBoot decisions, policy-file rules, one core | %.0f /CPU-s (%.0f /s wall) | (same peer) | %s |\n' \
	"$chk_file" "$chk_file_w" "$(ratio "$chk_file" "$chk_peer")"
printf '| snapshot memory, %s hashes over %s apps | **%.1f B/hash** (1 app: %.1f) | | |\n' "$hashes" "$apps" "$mem_snap" "$mem_snap1"
printf '| builder (chain backend keeps it next to the snapshot) | %.1f B/hash | | |\n' "$mem_build"
printf '| watcher heap after the sync (audit log + builder + snapshot) | %.0f B/event | | |\n' "$sync_heap"
echo
echo "load average: start $load_start, end $load_end"
echo
echo "targets (issue 4):"
echo "  sync >= 5,000 events/s:          $(met "$sync_ours >= 5000") ($(printf '%.0f' "$sync_ours") events/s; serve $(printf '%.0f' "${sync_serve:-0}"))"
echo "  CheckBoot >= 100,000 /s:         $(met "$chk_chain >= 100000") ($(printf '%.0f' "$chk_chain") /CPU-s chain rules, $(printf '%.0f' "$chk_file") file rules)"
echo "  snapshot < 200 B per hash:       $(met "$mem_snap < 200") ($mem_snap B/hash)"
echo
echo "commands:"
echo "  taskset -c $anvil_cpu $anvil --host 127.0.0.1 --port 0 --hardfork cancun"
echo "  ${gen_cmd[*]}"
echo "  taskset -c $cpu $ours sync --rpc $rpc --registry $registry --start-block 0 --head $head --confirmations 0 --checkpoint DIR/checkpoint.json --expect-events $total --expect-hashes $live"
[ $serve = 1 ] && echo "  taskset -c $cpu $daemon serve -c registry.conf --ready-file F   (chain.confirmations = 0, chain.poll_interval = 50ms, chain.start_block = 0, chain.log_range = 2000 default); curl Status until checkpointBlock = $head"
echo "  taskset -c $cpu node bench/registry/peer_getlogs.mjs --rpc $rpc --registry $registry --head $head --contracts $contracts --expect-events $total"
echo "  taskset -c $cpu $ours check --source chain|file --apps $apps --hashes $hashes --seconds $seconds"
echo "  taskset -c $cpu node bench/registry/peer_ethcall.mjs --rpc $rpc --state gen.json --contracts $contracts --seconds $seconds"
echo "  $ours mem --apps $apps|1 --hashes $hashes"

# ---- optional profile ----
if [ "$perf_s" != 0 ]; then
	rm -rf "$work/sync" && mkdir -p "$work/sync"
	perf record -F 999 -g -o "$work/perf.sync.data" -- taskset -c "$cpu" "$ours" sync --rpc "$rpc" --registry "$registry" \
		--start-block 0 --head "$head" --confirmations 0 --checkpoint "$work/sync/checkpoint.json" >/dev/null 2>&1
	perf record -F 999 -g -o "$work/perf.check.data" -- taskset -c "$cpu" "$ours" check --apps "$apps" --hashes "$hashes" \
		--seconds "$perf_s" >/dev/null 2>&1
	for c in sync check; do
		echo
		echo "== perf: ds_bench_registry $c (inclusive time, top symbols) =="
		perf report -i "$work/perf.$c.data" --stdio --children --sort symbol -g none 2>/dev/null |
			awk '/^ +[0-9.]+%/ && $4 !~ /^0x/ && $4 !~ /^0+$/ { if (++n <= 25) printf "  %7s %7s  %s\n", $1, $2, $4 }'
	done
fi
