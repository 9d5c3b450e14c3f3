# SPDX-License-Identifier: Apache-2.0
# Helpers shared by the bench/*/run.sh scripts (sourced after `here` is set): errors, the processes a
# script started, and the small text arithmetic of their reports.

die() { echo "run.sh: $*" >&2; exit 1; }

# PIDs of the processes the script started and has not reaped yet (cleanup stops them).
pids=()
unpid() { local p keep=(); for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=("${keep[@]}"); }
# Stop one of them: TERM, up to 5 s, then KILL; reap it and forget it.
stop_pid() {
	local p=$1 i
	kill -TERM "$p" 2>/dev/null
	for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	unpid "$p"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# The value of key $2 in a line of key=value pairs $1.
field() { awk -v k="$2" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) { print a[2]; exit } } }' <<<"$1"; }
# The median of the numbers on stdin, one per line (0 when none).
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Microseconds as milliseconds with three decimals.
ms() { awk -v v="$1" 'BEGIN { printf "%.3f", v / 1000 }'; }
# "met" when the awk condition $1 holds, else "NOT met".
met() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "NOT met"; fi; }
