#!/bin/sh
# bench-sandbox.sh CONFIG DRILL [RUNS]: the cost of confinement. Times
# `drill -c CONFIG run DRILL` RUNS times (default 7) confined and as many
# with DRILL_SANDBOX=off (plugins then confine nothing), alternately, and
# prints each run and the medians in seconds. drill must be on PATH.
# See docs/sandbox.md, "Cost".
set -eu
cfg=$1 d=$2 n=${3:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$n"); do
	for mode in on off; do
		s=$(date +%s.%N)
		if [ "$mode" = off ]; then
			DRILL_SANDBOX=off drill -c "$cfg" run "$d" >/dev/null || true
		else
			drill -c "$cfg" run "$d" >/dev/null || true
		fi
		e=$(date +%s.%N)
		echo "$e - $s" | bc >>"$tmp/$mode"
	done
done
for mode in on off; do
	printf '%s %s: %s; median %s\n' "$d" "$mode" "$(tr '\n' ' ' <"$tmp/$mode")" \
		"$(sort -n "$tmp/$mode" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
done
