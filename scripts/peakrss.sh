#!/usr/bin/env bash
# peakrss.sh CMD...: runs CMD and prints the peak resident memory (VmHWM)
# of each process of its tree, sampled every 50 ms from /proc.
set -u
"$@" &
root=$!
declare -A peak name
while kill -0 "$root" 2>/dev/null; do
	for pid in $root $(pgrep -P "$root" 2>/dev/null) $(for c in $(pgrep -P "$root" 2>/dev/null); do pgrep -P "$c"; done); do
		hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
		[ -n "$hwm" ] || continue
		if [ "${peak[$pid]:-0}" -lt "$hwm" ]; then
			peak[$pid]=$hwm
			name[$pid]=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-60)
		fi
	done
	sleep 0.05
done
wait "$root"; rc=$?
for pid in "${!peak[@]}"; do
	printf '%8d KiB  %s\n' "${peak[$pid]}" "${name[$pid]}" >&2
done
exit $rc
