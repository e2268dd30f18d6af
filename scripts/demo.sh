#!/usr/bin/env bash
# make demo: a real drill on a small real backup.
#
# It backs up some real files (this repository's own sources) twice, as a
# tar.gz archive and as a directory copy, with a reference manifest made by
# sha256sum; runs drills against them with the default embedded store (bbolt
# under _demo/state); damages a copy of the archive and shows that drill
# failing with its reason; then verifies the signed evidence log.
set -euo pipefail
cd "$(dirname "$0")/.."
DRILL="$PWD/bin/drill"
D="$PWD/_demo"
rm -rf "$D"
mkdir -p "$D/data" "$D/backups/archives" "$D/backups/copies" "$D/backups/damaged"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. Back up some real files: this repository's sources"
cp -a cmd drills internal plugins README.md go.mod "$D/data/"
(cd "$D/data" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$D/backups/data.sha256"
tar -czf "$D/backups/archives/data-$(date +%Y%m%d).tar.gz" -C "$D/data" .
rsync -a "$D/data/" "$D/backups/copies/daily.0/" 2>/dev/null || cp -a "$D/data/." "$D/backups/copies/daily.0/"
echo "$(wc -l < "$D/backups/data.sha256") files; reference manifest made by sha256sum"

say "2. A damaged copy of the archive: one byte flipped in the middle"
cp "$D/backups/archives/"*.tar.gz "$D/backups/damaged/data.tar.gz"
size=$(stat -c %s "$D/backups/damaged/data.tar.gz")
printf '\xff' | dd of="$D/backups/damaged/data.tar.gz" bs=1 seek=$((size / 2)) conv=notrunc status=none

cat > "$D/drill.yaml" <<'YAML'
state_dir: state              # evidence (bbolt), signing key, scratch space
services:
  source-code:
    owner: you@example.org
    priority: 1
    rpo: 24h                  # the backup must be younger than this
    rto: 10m                  # restore plus checks must finish within this
    review_every: 7d
drills:
  archive:
    service: source-code
    backend: filesystem
    source: { archive: "backups/archives/data-*.tar.gz" }
    checks: { min_files: 10, paths: [go.mod, cmd/drill], manifest: backups/data.sha256 }
  copy:
    service: source-code
    backend: filesystem
    source: { path: "backups/copies/daily.*" }
    checks: { manifest: backups/data.sha256 }
  damaged:
    service: source-code
    backend: filesystem
    source: { archive: backups/damaged/data.tar.gz }
    checks: { manifest: backups/data.sha256 }
YAML

cd "$D"
say "3. drill config check"
"$DRILL" -c drill.yaml config check

say "4. drill run archive copy   (both pass)"
"$DRILL" -c drill.yaml run archive copy

say "5. drill run damaged   (fails, and says why)"
set +e
"$DRILL" -c drill.yaml run damaged
code=$?
set -e
echo "(exit code $code: 1 means a drill failed)"
[ "$code" -eq 1 ]

say "6. drill history"
"$DRILL" -c drill.yaml history

say "7. drill evidence verify"
"$DRILL" -c drill.yaml evidence verify

say "8. drill position   (per service: claimed against proven)"
"$DRILL" -c drill.yaml position --html position.html

say "9. an auditor's bundle, verified offline with the host's public key"
"$DRILL" -c drill.yaml keys show --pem > host.pem
"$DRILL" -c drill.yaml evidence export -o evidence.tar.gz
"$DRILL" evidence verify evidence.tar.gz --key host.pem

say "Done. Everything is under _demo/; the config is _demo/drill.yaml, the position page _demo/position.html."
