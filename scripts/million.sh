#!/usr/bin/env bash
# million.sh: a restic drill of a snapshot of a million small files, with
# the peak resident memory of every process (drill, its plugin, restic).
# Data in _bench/ (made once: about 4 GiB of inodes, a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
B="$PWD/_bench"
RESTIC="$PWD/bin/restic"
mkdir -p "$B"
[ -f "$B/restic.pw" ] || printf 'bench-password\n' > "$B/restic.pw"
[ -d "$B/million" ] || python3 scripts/benchdata.py million "$B/million"
if [ ! -d "$B/restic-million" ]; then
	"$RESTIC" init -q -r "$B/restic-million" --password-file "$B/restic.pw"
	(cd "$B/million" && "$RESTIC" backup -q -r "$B/restic-million" --password-file "$B/restic.pw" --host bench .)
fi
cat > "$B/million.yaml" <<YAML
state_dir: $B/state-million
services:
  bench: {owner: bench@example.org}
drills:
  million:
    service: bench
    backend: restic
    timeout: 2h
    source: { repository: $B/restic-million, password_file: $B/restic.pw, restic_binary: $RESTIC }
YAML
/usr/bin/time -f 'wall %e s' scripts/peakrss.sh bin/drill -c "$B/million.yaml" run million
