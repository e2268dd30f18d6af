#!/usr/bin/env bash
# scripts/pgbench-dumps.sh DIR SCALE: DIR/pgbench-SCALE.dump (custom format)
# and DIR/pgbench-SCALE.sql (plain) of a pgbench database of SCALE, made
# once from a scratch database on 127.0.0.1:5432 (user postgres) and reused.
set -euo pipefail
B=$1 SCALE=$2
PGC="-h 127.0.0.1 -U postgres"
[ -f "$B/pgbench-$SCALE.dump" ] && [ -f "$B/pgbench-$SCALE.sql" ] && exit 0
mkdir -p "$B"
psql $PGC -qc "DROP DATABASE IF EXISTS drillbench_src" postgres
createdb $PGC drillbench_src
pgbench $PGC -i -q -s "$SCALE" drillbench_src
pg_dump $PGC -Fc -f "$B/pgbench-$SCALE.dump" drillbench_src
pg_dump $PGC -Fp -f "$B/pgbench-$SCALE.sql" drillbench_src
psql $PGC -qc "DROP DATABASE drillbench_src" postgres
