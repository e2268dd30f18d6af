#!/usr/bin/env bash
# agentrss.sh DRILL STATE MINUTES: the busy agent's memory (issue 17).
#
# Starts DRILL agent on the state directory STATE (a copy of a log made by
# scripts/evbench gen -drills 12 -services 4; it is written to) with 12
# drills scheduled every 3, 4 or 5 s (filesystem copies of a few files),
# while a client asks it for `drill position`, `history --json -n 20` and
# `list` through the socket in a loop, for MINUTES minutes. VmRSS of the
# agent is sampled every 10 s into STATE/rss.tsv (seconds since the start, KiB).
# Prints one line: "WARM_KIB END_KIB HWM_KIB RECORDS_BEFORE RECORDS_AFTER",
# the warm-up value being the first sample at or after 60 s.
set -euo pipefail
DRILL=$1 STATE=$2 MIN=$3
STATE=$(cd "$STATE" && pwd)
mkdir -p "$STATE/data/sub"
for i in 1 2 3 4 5; do echo "file $i" > "$STATE/data/sub/f$i.txt"; done
CONF="$STATE/rss.yaml"
bash "$(dirname "$0")/evconf.sh" "$STATE" "$STATE/data" busy > "$CONF"
records() { "$DRILL" -c "$CONF" history -n 1 --json 2>/dev/null | sed -nE 's/.*"log_index":([0-9]+).*/\1/p'; }
before=$(records)
# In its own session: the agent and its plugins are stopped by their ids,
# never by a signal to the group this script shares with make bench.
setsid "$DRILL" -c "$CONF" agent --log-format text 2> "$STATE/agent.log" &
pid=$!
client=
trap 'kill $client 2>/dev/null; kill $pid 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do [ -S "$STATE/drill.sock" ] && break; sleep 0.1; done
(
	while kill -0 "$pid" 2>/dev/null; do
		"$DRILL" -c "$CONF" position > /dev/null 2>&1 || true
		"$DRILL" -c "$CONF" history --json -n 20 > /dev/null 2>&1 || true
		"$DRILL" -c "$CONF" list > /dev/null 2>&1 || true
		sleep 1
	done
) &
client=$!
: > "$STATE/rss.tsv"
t0=$(date +%s) warm=
while :; do
	sleep 10
	t=$(($(date +%s) - t0))
	kill -0 "$pid" 2>/dev/null || { echo "agentrss: the agent exited; see $STATE/agent.log" >&2; exit 1; }
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
	printf '%d\t%d\n' "$t" "$rss" >> "$STATE/rss.tsv"
	[ -z "$warm" ] && [ "$t" -ge 60 ] && warm=$rss
	[ "$t" -ge $((MIN * 60)) ] && break
done
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
kill $client 2>/dev/null || true
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
trap - EXIT
echo "${warm:-$rss} $rss $hwm $((${before:--1} + 1)) $(($(records) + 1))"
