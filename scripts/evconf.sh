#!/usr/bin/env bash
# evconf.sh STATE DATA [busy]: prints the config of the drills that
# scripts/evbench gen makes records of: d01..d12 of services s1..s4,
# filesystem copies of DATA, state_dir STATE, socket STATE.sock beside it
# (STATE/drill.sock with busy), log_origin bench/drill. With busy, each
# drill runs every 3, 4 or 5 s (scripts/agentrss.sh); without, on demand.
set -euo pipefail
STATE=$1 DATA=$2 BUSY=${3:-}
echo "state_dir: $STATE"
[ -n "$BUSY" ] && echo "socket: $STATE/drill.sock" || echo "socket: $STATE.sock"
echo "log_origin: bench/drill"
echo "catch_up: false"
echo "services:"
for s in 1 2 3 4; do echo "  s$s: {owner: ops@example.org, priority: $s, rpo: 1d, rto: 1h, review_every: 7d}"; done
echo "drills:"
for i in $(seq 1 12); do
	sched=
	[ -n "$BUSY" ] && sched="schedule: \"@every $((3 + i % 3))s\", "
	printf '  d%02d: {service: s%d, backend: filesystem, %ssource: {path: %s}, checks: {min_files: 1}}\n' \
		"$i" $(((i - 1) % 4 + 1)) "$sched" "$DATA"
done
