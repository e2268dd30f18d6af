#!/usr/bin/env bash
# idle.sh [MINUTES]: the idle agent's footprint. Starts `drill agent` with 50
# scheduled drills (daily, at 03:00 UTC, so that none runs during the
# measurement), waits MINUTES (default 10), and prints its resident memory
# (VmRSS, VmHWM) and the CPU time it used after its first minute, with the
# number of times it woke up (voluntary context switches of all its threads).
set -euo pipefail
cd "$(dirname "$0")/.."
MIN="${1:-10}"
DIR="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$DIR"' EXIT
mkdir -p "$DIR/data" && echo hello > "$DIR/data/f"
{
	echo "state_dir: $DIR/state"
	echo "socket: $DIR/drill.sock"
	echo "services: {s: {owner: ops@example.org}}"
	echo "drills:"
	for i in $(seq -w 1 50); do
		echo "  d$i: {service: s, backend: filesystem, schedule: \"CRON_TZ=UTC 0 3 * * *\", catch_up: false, source: {path: $DIR/data}}"
	done
} > "$DIR/drill.yaml"
bin/drill -c "$DIR/drill.yaml" agent --log-format text 2> "$DIR/agent.log" &
pid=$!
sleep 60
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }           # utime + stime, in ticks
ctx() { cat /proc/$pid/task/*/status | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n}'; }
c0=$(cpu); w0=$(ctx); t0=$(date +%s)
sleep $(( (MIN - 1) * 60 ))
c1=$(cpu); w1=$(ctx); t1=$(date +%s)
hz=$(getconf CLK_TCK)
awk '/^(VmRSS|VmHWM)/' "/proc/$pid/status"
echo "threads: $(ls /proc/$pid/task | wc -l)"
echo "CPU over the last $((t1 - t0)) s: $(( (c1 - c0) * 1000 / hz )) ms; voluntary context switches: $((w1 - w0))"
