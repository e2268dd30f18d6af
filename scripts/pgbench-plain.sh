#!/usr/bin/env bash
# scripts/pgbench-plain.sh OLD_DRILL NEW_DRILL [DIR]: the PostgreSQL figures
# of a change, medians of alternating runs (scripts/altbench.py):
#   - a custom-format dump: drill run with OLD_DRILL and NEW_DRILL against
#     a bare createdb + pg_restore + dropdb (DESIGN.md: <= 1.15x);
#   - the same database dumped plain: NEW_DRILL (which sends the statements
#     itself over pgx) and OLD_DRILL against createdb + psql -f + dropdb.
# PGSCALE (default 20) is the pgbench scale, RUNS (default 5) the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$1 NEW=$2 B=${3:-_bench}
PGSCALE="${PGSCALE:-20}" RUNS="${RUNS:-5}"
PGC="-h 127.0.0.1 -U postgres"
mkdir -p "$B"
bash scripts/pgbench-dumps.sh "$B" "$PGSCALE"
for v in old new; do
	cat > "$B/pg-$v.yaml" <<YAML
state_dir: $B/state-$v
services: {bench: {owner: bench@example.org}}
drills:
  pg: {service: bench, backend: postgres, source: {dump: $B/pgbench-$PGSCALE.dump, server: "postgres://postgres@127.0.0.1:5432/postgres"}, checks: {tables: [pgbench_accounts], min_rows: {pgbench_accounts: 100000}}}
  pgplain: {service: bench, backend: postgres, source: {dump: $B/pgbench-$PGSCALE.sql, server: "postgres://postgres@127.0.0.1:5432/postgres"}, checks: {tables: [pgbench_accounts], min_rows: {pgbench_accounts: 100000}}}
YAML
done
dropdb $PGC --if-exists drillbench_bare
echo "custom dump, scale $PGSCALE: old drill, new drill, createdb + pg_restore + dropdb"
python3 scripts/altbench.py "$RUNS" "$B/pg-custom.json" \
	"$OLD -c $B/pg-old.yaml run pg > /dev/null" \
	"$NEW -c $B/pg-new.yaml run pg > /dev/null" \
	"createdb $PGC drillbench_bare && pg_restore $PGC --exit-on-error --no-owner --no-privileges -d drillbench_bare $B/pgbench-$PGSCALE.dump; dropdb $PGC drillbench_bare"
echo "plain dump, scale $PGSCALE: old drill (psql), new drill (pgx), createdb + psql -f + dropdb"
python3 scripts/altbench.py "$RUNS" "$B/pg-plain.json" \
	"$OLD -c $B/pg-old.yaml run pgplain > /dev/null" \
	"$NEW -c $B/pg-new.yaml run pgplain > /dev/null" \
	"createdb $PGC drillbench_bare && psql $PGC -X -q -v ON_ERROR_STOP=1 -d drillbench_bare -f $B/pgbench-$PGSCALE.sql > /dev/null; dropdb $PGC drillbench_bare"
