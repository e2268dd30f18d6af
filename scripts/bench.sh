#!/usr/bin/env bash
# make bench: whole-program figures against the real tools, medians of
# alternating runs (scripts/altbench.py), written to docs/benchmarks.md.
#
# Data lives in _bench/ (about 5 GiB); it is made once and reused.
# Caches are warm for every command (each is run once before timing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DRILL="$ROOT/bin/drill"
RESTIC="$ROOT/bin/restic"
B="$ROOT/_bench"
RUNS="${RUNS:-10}"
mkdir -p "$B"
[ -d "$B/large" ] || python3 scripts/benchdata.py large "$B/large"
[ -d "$B/small" ] || python3 scripts/benchdata.py small "$B/small"
[ -d "$B/mixed" ] || python3 scripts/benchdata.py mixed "$B/mixed"
[ -f "$B/mixed.tar.gz" ] || tar -czf "$B/mixed.tar.gz" -C "$B/mixed" .
[ -f "$B/mixed.tar.zst" ] || tar --zstd -cf "$B/mixed.tar.zst" -C "$B/mixed" .
[ -f "$B/restic.pw" ] || printf 'bench-password\n' > "$B/restic.pw"
if [ ! -d "$B/restic-repo" ]; then
	"$RESTIC" init -q -r "$B/restic-repo" --password-file "$B/restic.pw"
	(cd "$B/mixed" && "$RESTIC" backup -q -r "$B/restic-repo" --password-file "$B/restic.pw" --host bench .)
fi
[ -f "$B/mixed.sha256" ] || "$DRILL" manifest "$B/mixed" > "$B/mixed.sha256"
PGSCALE="${PGSCALE:-50}"
if [ ! -f "$B/pgbench-$PGSCALE.dump" ]; then
	psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS drillbench_src" postgres
	createdb -h 127.0.0.1 -U postgres drillbench_src
	pgbench -h 127.0.0.1 -U postgres -i -q -s "$PGSCALE" drillbench_src
	pg_dump -h 127.0.0.1 -U postgres -Fc -f "$B/pgbench-$PGSCALE.dump" drillbench_src
	pg_dump -h 127.0.0.1 -U postgres -Fp -f "$B/pgbench-$PGSCALE.sql" drillbench_src
	psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE drillbench_src" postgres
fi

cat > "$B/drill.yaml" <<YAML
state_dir: $B/state
services:
  bench: {owner: bench@example.org}
drills:
  tgz:
    service: bench
    backend: filesystem
    source: { archive: $B/mixed.tar.gz }
  tzst:
    service: bench
    backend: filesystem
    source: { archive: $B/mixed.tar.zst }
  restic:
    service: bench
    backend: restic
    source: { repository: $B/restic-repo, password_file: $B/restic.pw, restic_binary: $RESTIC }
    checks: { manifest: $B/mixed.sha256 }
  pg:
    service: bench
    backend: postgres
    source: { dump: $B/pgbench-$PGSCALE.dump, server: "postgres://postgres@127.0.0.1:5432/postgres" }
    checks: { tables: [pgbench_accounts], min_rows: { pgbench_accounts: 100000 } }
  pgplain:
    service: bench
    backend: postgres
    source: { dump: $B/pgbench-$PGSCALE.sql, server: "postgres://postgres@127.0.0.1:5432/postgres" }
    checks: { tables: [pgbench_accounts], min_rows: { pgbench_accounts: 100000 } }
YAML

median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(" ".join("%.3f" % x["median"] for x in r))' "$1"; }
bench() { # name cmd... -> medians
	local name=$1; shift
	python3 scripts/altbench.py "$RUNS" "$B/$name.json" "$@"
}
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

echo "hashing 1 GiB in 8 large files..." >&2
read -r t_drill_l t_ossl <<<"$(bench large "$DRILL manifest $B/large > /dev/null" "openssl dgst -sha256 $B/large/*.bin > /dev/null")"
echo "hashing 20,000 small files..." >&2
read -r t_drill_s t_xargs <<<"$(bench small "$DRILL manifest $B/small > /dev/null" "cd $B/small && find . -type f -print0 | xargs -0 -P2 sha256sum > /dev/null")"
echo "verifying a 1 GiB tar.gz..." >&2
# benchtar DRILL TAR_FLAG ARCHIVE: drill's run of an archive against tar
# extracting it and sha256sum reading back what came out.
benchtar() {
	bench "$1" "$DRILL -c $B/drill.yaml run $1 > /dev/null" \
		"rm -rf $B/out && mkdir $B/out && tar $2 -xf $B/$3 -C $B/out && cd $B/out && find . -type f -print0 | xargs -0 sha256sum > /dev/null"
}
read -r t_drill_tgz t_tar <<<"$(benchtar tgz -z mixed.tar.gz)"
read -r t_drill_zst t_tarz <<<"$(benchtar tzst --zstd mixed.tar.zst)"
echo "restoring a 1 GiB restic snapshot..." >&2
RR="$RESTIC -r $B/restic-repo --password-file $B/restic.pw --no-cache"
read -r t_drill_r t_restic t_verify <<<"$(bench restic \
	"$DRILL -c $B/drill.yaml run restic > /dev/null" \
	"rm -rf $B/out && mkdir $B/out && $RR restore latest --target $B/out -q" \
	"rm -rf $B/out && mkdir $B/out && $RR restore latest --target $B/out -q --verify")"
rm -rf "$B/out"

echo "restoring a pgbench dump (scale $PGSCALE)..." >&2
PGC="-h 127.0.0.1 -U postgres"
dropdb $PGC --if-exists drillbench_bare
# benchpg DRILL RESTORE: drill's run of a dump against the bare restore
# into a database made and dropped around it.
benchpg() {
	bench "$1" "$DRILL -c $B/drill.yaml run $1 > /dev/null" \
		"createdb $PGC drillbench_bare && $2; dropdb $PGC drillbench_bare"
}
read -r t_drill_pg t_pg <<<"$(benchpg pg "pg_restore $PGC --exit-on-error --no-owner --no-privileges -d drillbench_bare $B/pgbench-$PGSCALE.dump")"
read -r t_drill_pgp t_psql <<<"$(benchpg pgplain "psql $PGC -X -q -v ON_ERROR_STOP=1 -d drillbench_bare -f $B/pgbench-$PGSCALE.sql > /dev/null")"

echo "appending, exporting and verifying 100,000 evidence records..." >&2
EV=$(DRILL_EVIDENCE_100K=batch go test -count=1 -run TestAppendVerify100k -v -timeout 30m ./internal/evidence/ 2>&1)
ev() { printf '%s\n' "$EV" | sed -nE "s/.*$1: ([0-9.]+s) wall.*/\\1/p" | head -1; }
t_ev_append=$(ev '100000 appends \(AppendBatch of 1000\)'); t_ev_verify=$(ev 'verify of 100000 records'); t_ev_export=$(ev 'export of 100000 records'); t_ev_bundle=$(ev 'verify of the 100000-record bundle')
size_l=$(du -sb "$B/large" | cut -f1); size_s=$(du -sb "$B/small" | cut -f1)
mbps() { python3 -c "print('%.0f' % ($1 / $2 / 1e6))"; }
cat > docs/benchmarks.md <<MD
# Benchmarks

Reproduce with \`make bench\` (medians of $RUNS alternating runs after one warm-up run of
each command, warm page cache; scripts/altbench.py). Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3).
Written by scripts/bench.sh on $(date -u +%Y-%m-%d).

## Hashing a restored tree (\`drill manifest DIR\`)

| data | drill | baseline | baseline | ratio | target |
| --- | --- | --- | --- | --- | --- |
| 1 GiB in 8 files of 128 MiB | ${t_drill_l} s ($(mbps $size_l $t_drill_l) MB/s) | \`openssl dgst -sha256\` (one process) | ${t_ossl} s ($(mbps $size_l $t_ossl) MB/s) | **$(ratio $t_ossl $t_drill_l)x** throughput | >= 1.6x |
| 20,000 files of 1-64 KiB ($((size_s / 1048576)) MiB) | ${t_drill_s} s | \`find \| xargs -0 -P2 sha256sum\` | ${t_xargs} s | **$(ratio $t_xargs $t_drill_s)x** faster | >= 5x |

## Verifying an archive in one pass (\`drill run\` of a filesystem drill)

The tree: 10,000 text files of 1-64 KiB and 6 files of 100 MiB (half random, half text),
$(du -sh "$B/mixed" | cut -f1) unpacked. drill's time is the whole \`drill run\`: plugin start, extraction with
hashing, the checks, and the signed evidence record. The baseline is \`tar -x\` followed by
\`sha256sum\` of every extracted file.

| archive | drill run | tar -x, then sha256sum | ratio | target |
| --- | --- | --- | --- | --- |
| tar.gz ($(du -h "$B/mixed.tar.gz" | cut -f1)) | ${t_drill_tgz} s | ${t_tar} s | **$(ratio $t_drill_tgz $t_tar)x** the time | <= 0.7x |
| tar.zst ($(du -h "$B/mixed.tar.zst" | cut -f1)) | ${t_drill_zst} s | ${t_tarz} s | **$(ratio $t_drill_zst $t_tarz)x** the time | |

## Restoring a restic snapshot (\`drill run\` of a restic drill)

The same tree backed up with restic $("$RESTIC" version | cut -d' ' -f2) into a local repository
($(du -sh "$B/restic-repo" | cut -f1)). drill's time is the whole \`drill run\`: plugin start, \`restic snapshots\`,
the restore with every file hashed as restic reports it (\`--verbose=2\`), the listing check
against \`restic ls\`, the reference manifest check, the signed evidence record and the
removal of the scratch directory. The baselines remove the previous restore, then restore
into an empty directory with \`--no-cache\`.

| drill run | bare \`restic restore\` | ratio | target | \`restic restore --verify\` | ratio |
| --- | --- | --- | --- | --- | --- |
| ${t_drill_r} s | ${t_restic} s | **$(ratio $t_drill_r $t_restic)x** the time | <= 1.10x | ${t_verify} s | **$(ratio $t_drill_r $t_verify)x** the time |

## Restoring a PostgreSQL dump (\`drill run\` of a postgres drill)

A pgbench database at scale $PGSCALE ($(psql -h 127.0.0.1 -U postgres -tAc "select 100000 * $PGSCALE") rows in pgbench_accounts), dumped with
\`pg_dump -Fc\` ($(du -h "$B/pgbench-$PGSCALE.dump" | cut -f1)). drill's time is the whole \`drill run\`: plugin start, the scratch
database, \`pg_restore\`, the count and fingerprint of every table
(tables over \`fingerprint_limit\`, 256 MiB by default, here pgbench_accounts, are counted only),
the \`tables\` and \`min_rows\` checks, the evidence record and the drop of the scratch database.
The baseline is \`createdb\`, \`pg_restore --exit-on-error --no-owner --no-privileges\` and
\`dropdb\`.

| drill run | createdb + pg_restore + dropdb | ratio | target |
| --- | --- | --- | --- |
| ${t_drill_pg} s | ${t_pg} s | **$(ratio $t_drill_pg $t_pg)x** the time | <= 1.15x |

The same database dumped plain (\`pg_dump -Fp\`, $(du -h "$B/pgbench-$PGSCALE.sql" | cut -f1)): drill sends the statements and the
COPY data itself over one pgx connection, as the drill's temporary role; the baseline is
\`createdb\`, \`psql -X -v ON_ERROR_STOP=1 -f\` and \`dropdb\`.

| drill run (plain) | createdb + psql -f + dropdb | ratio |
| --- | --- | --- |
| ${t_drill_pgp} s | ${t_psql} s | **$(ratio $t_drill_pgp $t_psql)x** the time |

## The evidence log (100,000 records)

\`DRILL_EVIDENCE_100K=batch go test -run TestAppendVerify100k -v ./internal/evidence/\`: 100,000
records appended in batches of 1,000 (each still its own signed record and checkpoint),
the store verified, all exported into one bundle, and the bundle verified offline as an
auditor would (every record and checkpoint signature, the whole tree rebuilt).

| step | time | target |
| --- | --- | --- |
| append 100,000 records | ${t_ev_append} | < 60 s |
| append 100,000 records one commit each, as the agent does (\`DRILL_EVIDENCE_100K=append\`, measured 2026-12-01, not rerun by make bench) | 63.6 s | < 60 s |
| verify the store | ${t_ev_verify} | |
| export them all | ${t_ev_export} | |
| verify the 100,000-record bundle | ${t_ev_bundle} | < 5 s |

## Reading the figures

- The machines are shared and noisy: pairs of runs vary by 20-30 %. The medians above are
  of alternating runs; rerun \`make bench\` before drawing conclusions from a change of a
  few percent.
- **Large files** are hashed two at a time, largest first, with SHA-NI (Go's crypto/sha256):
  about 1.1-1.2 GB/s per core against \`openssl dgst\`'s single process.
- **Small files: the bound is the hashing itself, so the ratio depends on the CPU.**
  \`sha256sum\` (coreutils 9.1, portable C SHA-256, no SHA-NI) runs at about 400-500 MB/s
  per core and xargs keeps both cores busy; Go's SHA-256 uses SHA-NI. On the AMD EPYC
  machines of earlier runs drill was 3.5-4.5x faster (the 5x target missed: the ratio of
  the two SHA-256 implementations plus sha256sum's own per-file cost is about that); on
  the Intel Xeon machine of the 2026-12-01 run, 5.4x.
  drill's per-file cost is four system calls (openat2, fstat, one read, close; no goroutine
  or allocation per file), and system calls cost 1.3-4.5 us each in this VM. A profile shows
  52 % SHA-256 and 37 % system calls. What is left to gain is small (io_uring batching,
  about 10 %).
- **restic: the 1.10x target is not met (1.24-1.34x over runs and machines).** The
  difference to a bare restore, about 1.9 s of 7.4 s, is: one more restic key derivation
  before the restore can start (\`restic snapshots\`, 0.6-0.7 s: restic calibrates its
  scrypt key derivation to about 0.5 s of CPU, and drill must know which snapshot it
  restores before restoring it, to record it and judge the RPO); hashing every restored
  file (0.6 s of SHA-256 and 0.3 s of reading back from the page cache) on the same two
  cores restic's restore keeps about 75 % busy; the walk of the target for the listing
  check and the host's reconciliation (about 0.3 s for 10,000 files). The \`restic ls\` of
  the listing check runs beside \`restic snapshots\`, so its own key derivation costs no
  wall time. Against \`restic restore --verify\`, which also reads everything back, drill
  costs 1.15-1.24x and gives a SHA-256 manifest, the listing check and signed evidence. The
  fixed part (about 1 s) shrinks relative to larger restores and more cores.
  Streaming \`restic dump --archive tar\` into the archive extractor (hash while writing,
  no read-back) was measured and rejected: one writer took 11.1 s against 7.4 s.
- **A million files** (1,000 directories of 1,000 small files, a restic snapshot of
  12 MiB): the drill passed in 4m39s; peak resident memory 276 MB in the drill host
  (the manifest of a million entries), 38 MB in the restic plugin (restic's JSON and
  listing are streamed), 1.15 GB in \`restic restore\` itself and 328 MB in \`restic ls\`
  (\`make build restic && scripts/million.sh\`).
- **PostgreSQL.** Both sides end by dropping their database, as a drill does: a restored
  database left on the server has its dirty pages written back by the checkpointer during
  the next command, which cost the drill 10-20 % in an earlier form of this benchmark
  (it left the bare side's database standing). drill adds about 0.1 s before
  \`pg_restore\` (plugin start; \`pg_restore -l\`, for the dump's \`pg_dump\` version, runs
  while the scratch database is created) and, after it, the count and fingerprint of every
  table in the server (0.35 s of it is \`count(*)\` of the 5,000,000 rows of
  pgbench_accounts, a parallel sequential scan), the checks in a read-only transaction,
  the evidence record and the drop. While \`pg_restore\` runs, the scratch database's size
  is taken every 0.5 s (progress, \`max_scratch_bytes\`), which costs nothing measurable.
  \`min_rows\` reuses the counts of the fingerprint step.
- **The evidence log.** One durable append costs about 640 us at 100,000 records, most of
  it bbolt's two fdatasyncs per commit and two Ed25519 signatures (the record and the
  checkpoint after it); batches of 1,000 share the commit. Verifying a bundle checks all
  200,000 signatures of 100,000 records (each record and the checkpoint after it): Ed25519
  verification costs 91-113 us here, so the 5 s target is out of reach without batch
  verification; what remains is JSON decoding (about a third of the CPU).
- **The idle agent** with 50 scheduled drills (daily, none due), after 10 minutes:
  21.2 MiB resident (VmRSS = VmHWM; target under 30 MiB), 7 threads, 0 ms of CPU over the
  last 9 minutes and 19 wake-ups of all its threads together (the Go runtime's periodic
  work; the scheduler sleeps until the next run, at most 10 minutes)
  (\`make build && scripts/idle.sh\`, 2026-12-01).
- **Archives** are decompressed and parsed on one goroutine while another creates, writes
  and hashes the files: the archive is read once and the data never read back. GNU
  \`tar -xz\` spends most of its time in gzip; the remaining cost on both sides is file
  creation in the kernel (openat with O_EXCL averages about 240 us per file here).

Go benchmarks for the hot paths (compare runs with benchstat):

    make bench-go    # Go benchmarks, benchstat summary in docs/benchmarks-go.txt
    make bench-sample   # sampled restic drills against full ones, in docs/benchmarks-sample.md
MD
cat docs/benchmarks.md
