# The rows of make bench, one function each, sourced by scripts/bench.sh
# (which sets B, R, RUNS, BEFORE, AFTER, BEFORE_EV, AFTER_EV, RESTIC and the
# sizes). Each row makes the data it needs once, measures, and saves its
# figures with save for scripts/benchdoc.sh.

# restic_repo NAME: a restic repository _bench/NAME-repo holding one
# snapshot of _bench/NAME, and _bench/NAME.sha256, its reference manifest.
restic_repo() {
	local d=$1
	[ -f "$B/restic.pw" ] || printf 'bench-password\n' > "$B/restic.pw"
	[ -d "$B/$d" ] || python3 scripts/benchdata.py "$d" "$B/$d"
	if [ ! -d "$B/$d-repo" ]; then
		"$RESTIC" init -q -r "$B/$d-repo.tmp" --password-file "$B/restic.pw"
		(cd "$B/$d" && "$RESTIC" backup -q -r "$B/$d-repo.tmp" --password-file "$B/restic.pw" --host bench .)
		mv "$B/$d-repo.tmp" "$B/$d-repo"
	fi
	[ -f "$B/$d.sha256" ] || "$AFTER" manifest "$B/$d" > "$B/$d.sha256"
}

# conf SIDE: _bench/SIDE.yaml, the drills of the whole-program rows, with
# SIDE's own state directory (so neither side's records reach the other's
# log) and a socket nothing listens on (the drills run in-process).
conf() {
	local side=$1
	rsrc() { echo "{ repository: $B/$1-repo, password_file: $B/restic.pw, restic_binary: $RESTIC }"; }
	cat > "$B/$side.yaml" <<YAML
state_dir: $B/state-$side
socket: $B/$side.sock
services:
  bench: {owner: bench@example.org}
drills:
  rhalf:
    service: bench
    backend: restic
    source: $(rsrc half)
    checks: { manifest: $B/half.sha256 }
  restic:
    service: bench
    backend: restic
    source: $(rsrc mixed)
    checks: { manifest: $B/mixed.sha256 }
  tgz:
    service: bench
    backend: filesystem
    source: { archive: $B/mixed.tar.gz }
  tzst:
    service: bench
    backend: filesystem
    source: { archive: $B/mixed.tar.zst }
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
}
conf before
conf after

# restic_row NAME DRILL: DRILL's run by both builds against the bare
# restore of NAME's repository into an empty directory, alternating.
restic_row() {
	local rr="$RESTIC -r $B/$1-repo --password-file $B/restic.pw --no-cache"
	bench "$1" \
		"$BEFORE -c $B/before.yaml run $2 > /dev/null" \
		"$AFTER -c $B/after.yaml run $2 > /dev/null" \
		"rm -rf $B/out && mkdir $B/out && $rr restore latest --target $B/out -q"
}

# Row 1: restic, 0.5 GiB (4,000 files of 1-64 KiB + 4 x 100 MiB).
row_restic05() {
	row_t0=$(date +%s)
	echo "restic drill against a bare restore, 0.5 GiB..." >&2
	restic_repo half
	read -r r05_before r05_after r05_bare <<<"$(restic_row half rhalf)"
	read -r r05_cpu_before r05_cpu_after r05_cpu_bare <<<"$(cpu half)"
	r05_size=$(du -sh "$B/half" | cut -f1) && rm -rf "$B/out"
	save restic05 r05_before r05_after r05_bare r05_cpu_before r05_cpu_after r05_cpu_bare r05_size
}

# Row 2: restic, 1 GiB (the mixed tree), with restic restore --verify too.
row_restic1() {
	row_t0=$(date +%s)
	echo "restic drill against a bare restore, 1 GiB..." >&2
	restic_repo mixed
	local rr="$RESTIC -r $B/mixed-repo --password-file $B/restic.pw --no-cache"
	read -r r1_before r1_after r1_bare r1_verify <<<"$(bench restic \
		"$BEFORE -c $B/before.yaml run restic > /dev/null" \
		"$AFTER -c $B/after.yaml run restic > /dev/null" \
		"rm -rf $B/out && mkdir $B/out && $rr restore latest --target $B/out -q" \
		"rm -rf $B/out && mkdir $B/out && $rr restore latest --target $B/out -q --verify")"
	read -r r1_cpu_before r1_cpu_after r1_cpu_bare _ <<<"$(cpu restic)"
	rm -rf "$B/out"
	r1_restic_version=$("$RESTIC" version | cut -d' ' -f2)
	r1_repo_size=$(du -sh "$B/mixed-repo" | cut -f1)
	save restic1 r1_before r1_after r1_bare r1_verify r1_cpu_before r1_cpu_after r1_cpu_bare r1_restic_version r1_repo_size
}

# Row 6: drill manifest of 4,000 small files (the 0.5 GiB tree's docs/)
# against find | xargs -0 -P2 sha256sum.
row_hash() {
	row_t0=$(date +%s)
	echo "hashing 4,000 small files..." >&2
	[ -d "$B/half" ] || python3 scripts/benchdata.py half "$B/half"
	read -r h_before h_after h_xargs <<<"$(bench hash4k \
		"$BEFORE manifest $B/half/docs > /dev/null" \
		"$AFTER manifest $B/half/docs > /dev/null" \
		"cd $B/half/docs && find . -type f -print0 | xargs -0 -P2 sha256sum > /dev/null")"
	save hash h_before h_after h_xargs
}

# evconf SIDE: _bench/ev-SIDE.yaml, the config of the generated log's
# drills (scripts/evconf.sh).
evconf() {
	mkdir -p "$B/tiny" && echo tiny > "$B/tiny/f"
	bash scripts/evconf.sh "$B/ev-$1" "$B/tiny" > "$B/ev-$1.yaml"
}

# ev_prepare: the log of EV_N records, made once per run by BASE's
# evbench (records appended through the evidence API in batches of
# 1,000), copied for each side, and opened read-write once by each side's
# own code, as an upgraded agent would open it; each side's bundle is
# exported by that side's drill.
ev_prepare() {
	local stamp="$BASE_SHA $EV_N"
	if [ "$(cat "$B/ev-gen.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$R/ev-gen.sh" ]; then
		echo "generating a log of $EV_N records..." >&2
		rm -rf "$B/ev-gen" "$B/ev-gen.stamp"
		local t=$(date +%s)
		"$BEFORE_EV" gen -state "$B/ev-gen" -n "$EV_N" -drills 12 -services 4
		ev_gen_s=$(($(date +%s) - t)) ev_db_mib=$(($(stat -c %s "$B/ev-gen/drill.db") >> 20))
		echo "$stamp" > "$B/ev-gen.stamp"
		save ev-gen ev_gen_s ev_db_mib
	fi
	local side ev
	for side in before after; do
		[ "$side" = before ] && ev=$BEFORE_EV || ev=$AFTER_EV
		rm -rf "$B/ev-$side" "$B/ev-$side.bundle"
		cp -a "$B/ev-gen" "$B/ev-$side"
		"$ev" open -state "$B/ev-$side"
		evconf "$side"
	done
	"$BEFORE" -c "$B/ev-before.yaml" evidence export -o "$B/ev-before.bundle" > /dev/null
	"$AFTER" -c "$B/ev-after.yaml" evidence export -o "$B/ev-after.bundle" > /dev/null
}

# pair PREFIX NAME CMD_BEFORE CMD_AFTER [--no-warm]: the two commands
# alternating; their medians in PREFIX_before and PREFIX_after, the CPU
# times' in PREFIX_cpu_before and PREFIX_cpu_after.
pair() {
	local p=$1 name=$2 warm=()
	[ "${5:-}" = --no-warm ] && warm=(--no-warm)
	read -r "${p}_before" "${p}_after" <<<"$(bench "${warm[@]}" "$name" "$3" "$4")"
	read -r "${p}_cpu_before" "${p}_cpu_after" <<<"$(cpu "$name")"
}

# Row 3: drill evidence verify FILE of the whole log's bundle, with the key.
row_bundle() {
	row_t0=$(date +%s)
	echo "verifying a bundle of $EV_N records..." >&2
	local k="--key $B/ev-gen/keys/drill.pub"
	pair vb verify-bundle "$BEFORE evidence verify $k $B/ev-before.bundle" "$AFTER evidence verify $k $B/ev-after.bundle"
	vb_mib=$(($(stat -c %s "$B/ev-after.bundle") >> 20))
	save bundle vb_before vb_after vb_cpu_before vb_cpu_after vb_mib
}

# Row 4: drill evidence verify of the local store (no agent listening).
row_store() {
	row_t0=$(date +%s)
	echo "verifying the local store of $EV_N records..." >&2
	pair vs verify-store "$BEFORE -c $B/ev-before.yaml evidence verify" "$AFTER -c $B/ev-after.yaml evidence verify"
	save store vs_before vs_after vs_cpu_before vs_cpu_after
}

# reads_pair NAME ARGS: drill ARGS on both sides' logs, alternating.
reads_pair() {
	local name=$1; shift
	bench "reads-$name" "$BEFORE -c $B/ev-before.yaml $*" "$AFTER -c $B/ev-after.yaml $*"
}

# reads_all PREFIX: position, history --json (whole and -n 20) and list,
# each side's figures in PREFIX_<read>_{before,after}.
reads_all() {
	local p=$1 name args b a
	for name in position history history20 list; do
		case $name in
		position) args="position" ;;
		history) args="history --json" ;;
		history20) args="history --json -n 20" ;;
		list) args="list" ;;
		esac
		read -r b a <<<"$(reads_pair "$p-$name" "$args")"
		printf -v "${p}_${name}_before" %s "$b"
		printf -v "${p}_${name}_after" %s "$a"
	done
}

# Row 7: the reads over the log of EV_N records, in-process, then through
# each side's agent (started on its log, no drill scheduled).
row_reads() {
	row_t0=$(date +%s)
	echo "reading the log of $EV_N records (position, history, list)..." >&2
	reads_all rl
	local pids=() side drill
	for side in before after; do
		[ "$side" = before ] && drill=$BEFORE || drill=$AFTER
		rm -f "$B/ev-$side.sock"
		setsid "$drill" -c "$B/ev-$side.yaml" agent --log-format text 2> "$B/ev-$side-agent.log" &
		pids+=($!)
	done
	for side in before after; do
		for _ in $(seq 600); do [ -S "$B/ev-$side.sock" ] && break; sleep 0.1; done
		[ -S "$B/ev-$side.sock" ] || { kill "${pids[@]}"; echo "the $side agent did not start: $B/ev-$side-agent.log" >&2; return 1; }
	done
	reads_all ra
	kill -TERM "${pids[@]}" && wait "${pids[@]}" || true
	save reads rl_{position,history,history20,list}_{before,after} ra_{position,history,history20,list}_{before,after}
}

# Row 5: APPEND_N records appended one commit each to a new log, by
# BASE's and this tree's evbench alternating; then APPEND_CONC_N records
# from APPEND_WORKERS goroutines at once.
row_append() {
	row_t0=$(date +%s)
	echo "appending $APPEND_N records one commit each..." >&2
	local a="$B/append"
	ap() { echo "rm -rf $a && mkdir -p $a && $1 append -db $a/drill.db -n $2 -workers $3"; }
	RUNS=$APPEND_RUNS pair ap append "$(ap "$BEFORE_EV" "$APPEND_N" 1)" "$(ap "$AFTER_EV" "$APPEND_N" 1)" --no-warm
	echo "appending $APPEND_CONC_N records from $APPEND_WORKERS goroutines..." >&2
	RUNS=$APPEND_RUNS pair apc append-conc "$(ap "$BEFORE_EV" "$APPEND_CONC_N" "$APPEND_WORKERS")" \
		"$(ap "$AFTER_EV" "$APPEND_CONC_N" "$APPEND_WORKERS")" --no-warm
	rm -rf "$a"
	save append APPEND_N APPEND_CONC_N APPEND_WORKERS APPEND_RUNS ap_{,cpu_}{before,after} apc_{,cpu_}{before,after}
}

# Row 8: both sides' agents busy at the same time for RSS_MIN minutes
# (scripts/agentrss.sh), each on a copy of a log of RSS_RECORDS records.
row_rss() {
	row_t0=$(date +%s)
	echo "the busy agent's memory, $RSS_MIN minutes (both sides at once)..." >&2
	rm -rf "$B/rss-gen" "$B/rss-before" "$B/rss-after"
	"$BEFORE_EV" gen -state "$B/rss-gen" -n "$RSS_RECORDS" -drills 12 -services 4
	cp -a "$B/rss-gen" "$B/rss-before" && cp -a "$B/rss-gen" "$B/rss-after"
	bash scripts/agentrss.sh "$BEFORE" "$B/rss-before" "$RSS_MIN" > "$B/rss-before.out" &
	local pb=$!
	bash scripts/agentrss.sh "$AFTER" "$B/rss-after" "$RSS_MIN" > "$B/rss-after.out"
	wait $pb
	read -r rss_warm_before rss_end_before rss_hwm_before rss_n0_before rss_n1_before < "$B/rss-before.out"
	read -r rss_warm_after rss_end_after rss_hwm_after rss_n0_after rss_n1_after < "$B/rss-after.out"
	save rss RSS_MIN rss_{warm,end,hwm,n0,n1}_{before,after}
}

# The other sections: this tree's drill against the real tools.
row_large() {
	row_t0=$(date +%s)
	echo "hashing 1 GiB in 8 large files..." >&2
	[ -d "$B/large" ] || python3 scripts/benchdata.py large "$B/large"
	read -r t_drill_l t_ossl <<<"$(bench large "$AFTER manifest $B/large > /dev/null" "openssl dgst -sha256 $B/large/*.bin > /dev/null")"
	size_l=$(du -sb "$B/large" | cut -f1)
	save large t_drill_l t_ossl size_l
}

row_small() {
	row_t0=$(date +%s)
	echo "hashing 20,000 small files..." >&2
	[ -d "$B/small" ] || python3 scripts/benchdata.py small "$B/small"
	read -r t_drill_s t_xargs <<<"$(bench small "$AFTER manifest $B/small > /dev/null" "cd $B/small && find . -type f -print0 | xargs -0 -P2 sha256sum > /dev/null")"
	size_s=$(du -sb "$B/small" | cut -f1)
	save small t_drill_s t_xargs size_s
}

# benchtar DRILL TAR_FLAG ARCHIVE: drill's run of an archive against tar
# extracting it and sha256sum reading back what came out.
benchtar() {
	bench "$1" "$AFTER -c $B/after.yaml run $1 > /dev/null" \
		"rm -rf $B/out && mkdir $B/out && tar $2 -xf $B/$3 -C $B/out && cd $B/out && find . -type f -print0 | xargs -0 sha256sum > /dev/null"
}

row_tar() {
	row_t0=$(date +%s)
	echo "verifying a 1 GiB tar.gz and tar.zst..." >&2
	[ -d "$B/mixed" ] || python3 scripts/benchdata.py mixed "$B/mixed"
	[ -f "$B/mixed.tar.gz" ] || tar -czf "$B/mixed.tar.gz" -C "$B/mixed" .
	[ -f "$B/mixed.tar.zst" ] || tar --zstd -cf "$B/mixed.tar.zst" -C "$B/mixed" .
	read -r t_drill_tgz t_tar <<<"$(benchtar tgz -z mixed.tar.gz)"
	read -r t_drill_zst t_tarz <<<"$(benchtar tzst --zstd mixed.tar.zst)"
	mixed_size=$(du -sh "$B/mixed" | cut -f1) tgz_size=$(du -h "$B/mixed.tar.gz" | cut -f1) tzst_size=$(du -h "$B/mixed.tar.zst" | cut -f1)
	rm -rf "$B/out"
	save tar t_drill_tgz t_tar t_drill_zst t_tarz mixed_size tgz_size tzst_size
}

# benchpg DRILL RESTORE: drill's run of a dump against the bare restore
# into a database made and dropped around it.
benchpg() {
	local pgc="-h 127.0.0.1 -U postgres"
	bench "$1" "$AFTER -c $B/after.yaml run $1 > /dev/null" \
		"createdb $pgc drillbench_bare && $2; dropdb $pgc drillbench_bare"
}

row_pg() {
	row_t0=$(date +%s)
	echo "restoring a pgbench dump (scale $PGSCALE)..." >&2
	local pgc="-h 127.0.0.1 -U postgres"
	bash scripts/pgbench-dumps.sh "$B" "$PGSCALE"
	dropdb $pgc --if-exists drillbench_bare
	read -r t_drill_pg t_pg <<<"$(benchpg pg "pg_restore $pgc --exit-on-error --no-owner --no-privileges -d drillbench_bare $B/pgbench-$PGSCALE.dump")"
	read -r t_drill_pgp t_psql <<<"$(benchpg pgplain "psql $pgc -X -q -v ON_ERROR_STOP=1 -d drillbench_bare -f $B/pgbench-$PGSCALE.sql > /dev/null")"
	pg_rows=$((100000 * PGSCALE)) pg_dump_size=$(du -h "$B/pgbench-$PGSCALE.dump" | cut -f1) pg_sql_size=$(du -h "$B/pgbench-$PGSCALE.sql" | cut -f1)
	save pg t_drill_pg t_pg t_drill_pgp t_psql pg_rows pg_dump_size pg_sql_size
}
