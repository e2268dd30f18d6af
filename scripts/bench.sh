#!/usr/bin/env bash
# make bench: whole-program figures against the real tools, medians of
# alternating runs (scripts/altbench.py), written to docs/benchmarks.md.
#
# The document opens with issue 17's table: each figure BEFORE (drill built
# from the commit BASE) and AFTER (this working tree's bin/drill), measured
# side by side in one run, the two alternating. The sections after it are
# this tree's figures against the real tools.
#
# Environment (defaults in brackets):
#   BASE=b7ca2e5       the "before" commit; built once into _bench/base-<commit>/
#   RUNS=5             alternating runs per figure (medians), after one warm-up run of each command
#   BENCH_ONLY=        a comma-separated subset to run: restic05,restic1,bundle,store,append,
#                      hash,reads,rss (issue 17's rows) and large,small,tar,pg (the other sections).
#                      Figures of earlier runs (_bench/results/) fill the rows not run; a run of
#                      everything starts from none.
#   BENCH_OUT=docs/benchmarks.md   where the document is written
#   EV_N=100000        records of the log for bundle, store and reads
#   APPEND_N=10000     records appended one commit each (append; the target is per
#                      record: at a disk's flush latency of about 1 ms, 100,000 take minutes)
#   APPEND_RUNS=3      runs of each append
#   APPEND_CONC_N=6000 APPEND_WORKERS=3   the concurrent variant (group commit)
#   RSS_MIN=10 RSS_RECORDS=3000   minutes the busy agent runs, records its log starts with
#   PGSCALE=50         the pgbench scale of the PostgreSQL section
#
# Data lives in _bench/ (BENCH_DIR; about 6 GiB); it is made once and reused.
# Caches are warm for every command (each is run once before timing) except
# the appends, which make their log afresh each time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
B="${BENCH_DIR:-$ROOT/_bench}"
RUNS="${RUNS:-5}"
BASE="${BASE:-b7ca2e5}"
BENCH_ONLY="${BENCH_ONLY:-}"
OUT="${BENCH_OUT:-docs/benchmarks.md}"
EV_N="${EV_N:-100000}"
APPEND_N="${APPEND_N:-10000}" APPEND_RUNS="${APPEND_RUNS:-3}"
APPEND_CONC_N="${APPEND_CONC_N:-6000}" APPEND_WORKERS="${APPEND_WORKERS:-3}"
RSS_MIN="${RSS_MIN:-10}" RSS_RECORDS="${RSS_RECORDS:-3000}"
PGSCALE="${PGSCALE:-50}"
RESTIC="$ROOT/bin/restic"
R="$B/results"
T0=$(date +%s)

# want ROW: whether this run measures ROW.
want() { [ -z "$BENCH_ONLY" ] || [[ ",$BENCH_ONLY," == *",$1,"* ]]; }
mkdir -p "$B"
[ -n "$BENCH_ONLY" ] || rm -rf "$R"
mkdir -p "$R"
# save ROW VAR...: keeps the figures of ROW (shell assignments) for the
# document; a figure missing (a command of the row failed) stops make bench.
save() {
	local row=$1 v; shift
	for v in "$@"; do
		[ -n "${!v:-}" ] || { echo "bench: row $row has no figure $v: a command above failed" >&2; exit 1; }
	done
	local took=$(($(date +%s) - ${row_t0:-$T0}))
	{
		for v in "$@"; do printf '%s=%q\n' "$v" "${!v}"; done
		printf 'rowtime_%s=%d\n' "${row//-/_}" "$took"
	} > "$R/$row.sh"
	echo "  $row: $took s" >&2
}
bench() { # [--no-warm] name cmd... -> medians of wall time
	local warm=()
	[ "$1" = --no-warm ] && warm=(--no-warm) && shift
	local name=$1; shift
	python3 scripts/altbench.py "${warm[@]}" "$RUNS" "$B/$name.json" "$@"
}
cpu() { # name -> the median user+sys CPU time of each command
	python3 -c 'import json,sys; print(" ".join("%.2f" % x["cpu_median"] for x in json.load(open(sys.argv[1]))["results"]))' "$B/$1.json"
}

# The two builds. Before: BASE's drill and this tree's scripts/evbench
# compiled against BASE (it uses only the evidence API BASE has).
BASE_SHA=$(git rev-parse --verify "$BASE^{commit}")
BSRC="$B/base-${BASE_SHA:0:12}"
if [ ! -x "$BSRC/bin/drill" ]; then
	echo "building drill at $BASE (${BASE_SHA:0:12}) into $BSRC..." >&2
	rm -rf "$BSRC" && mkdir -p "$BSRC"
	git archive "$BASE_SHA" | tar -x -C "$BSRC"
	(cd "$BSRC" && go build -trimpath -ldflags "-s -w -X main.version=${BASE_SHA:0:7}" -o bin/drill ./cmd/drill)
fi
EVSUM=$(cat scripts/evbench/*.go | sha256sum | cut -c1-16)
if [ "$(cat "$BSRC/evbench.sum" 2>/dev/null)" != "$EVSUM" ]; then
	rm -rf "$BSRC/scripts/evbench" && cp -r scripts/evbench "$BSRC/scripts/evbench"
	(cd "$BSRC" && go build -o bin/evbench ./scripts/evbench)
	echo "$EVSUM" > "$BSRC/evbench.sum"
fi
BEFORE="$BSRC/bin/drill" BEFORE_EV="$BSRC/bin/evbench"
AFTER="$ROOT/bin/drill" AFTER_EV="$B/evbench"
go build -o "$AFTER_EV" ./scripts/evbench
HEAD_DESC="$(git describe --always --dirty)"

. scripts/benchrows.sh

if want restic05; then row_restic05; fi
if want restic1; then row_restic1; fi
if want hash; then row_hash; fi
if want bundle || want store || want reads; then ev_prepare; fi
if want bundle; then row_bundle; fi
if want store; then row_store; fi
if want reads; then row_reads; fi
if want append; then row_append; fi
if want rss; then row_rss; fi
if want large; then row_large; fi
if want small; then row_small; fi
if want tar; then row_tar; fi
if want pg; then row_pg; fi
echo "bench: $(($(date +%s) - T0)) s in all" >&2

for f in "$R"/*.sh; do [ -e "$f" ] && . "$f"; done
# A figure not measured reads "n/a", without a unit.
. scripts/benchdoc.sh | sed -e 's|n/a s\b|n/a|g' -e 's|n/ax\b|n/a|g' > "$OUT"
echo "wrote $OUT" >&2
