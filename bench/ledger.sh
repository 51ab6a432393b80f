#!/usr/bin/env bash
# sigmax bench/ledger.sh: the cost of the hash-chained ledger.
# Run it through bench/run.sh (bash bench/run.sh ledger), which starts the cluster.
#
# a. sigmax.audit_append() against a plain INSERT of the same row into a table
#    of the same shape, 1 client and 8 clients (each on its own stream),
#    synchronous_commit off and on; the ratio append/plain next to the issue's
#    targets (printed, never asserted).
# b. audit_verify() over 1,000,000 entries (entries/s and MB/s of canonical
#    bytes, next to `openssl speed sha256` on the same machine), one
#    audit_checkpoint() over them, one after 1,000 more entries, and
#    audit_proof() on a large stream.
#
# Knobs (environment, default in brackets):
#   BENCH_DURATION       seconds per pgbench run [10]
#   BENCH_ROUNDS         runs of each side per case, in alternating order; the median is shown [2]
#   BENCH_WARMUP         seconds of unreported warm-up before part a [2]
#   BENCH_VERIFY_ENTRIES ledger size for part b [1000000]
#   BENCH_PGBENCH_MODE   pgbench protocol: prepared, simple or extended [prepared]
# shellcheck disable=SC2059 # the table layouts are printf formats kept in variables
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_require_cluster

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-2}
ENTRIES=${BENCH_VERIFY_ENTRIES:-1000000}
FILL_CLIENTS=8
FILL_BATCH=1000
OPENSSL_SECONDS=3
BIGDB=sigmax_ledger_1m
PAYLOAD='{"qty": "1.5", "px": "73369.84"}'
# 32-byte constants for the plain row's prev_hash and hash (the plain insert computes nothing).
ZERO_HASH="\\x$(printf '0%.0s' $(seq 64))"
SOME_HASH="\\x$(printf '%s' 'sigmax bench plain insert hash!!' | od -An -tx1 | tr -d ' \n')"
# Fixed canonical bytes per entry besides stream, actor, action and payload
# (netstring prefixes, the format name, seq, recorded_at, the 32-byte prev_hash): about 100.
FIXED_BYTES=100

W=$BENCH_TMP/ledger
mkdir -p "$W"

# Part b's database, of its own so that its ledger holds exactly the filled
# entries; created now, so that its extension objects come from the same
# installation as the library the server loaded.
bench_psql -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $BIGDB" -c "CREATE DATABASE $BIGDB"
bench_psql -d "$BIGDB" -c 'CREATE EXTENSION sigmax'

# --------------------------------------------------------------------------
# a. audit_append vs plain INSERT
# --------------------------------------------------------------------------

# The plain table: same columns, types, CHECKs and primary key as sigmax.audit_log, no triggers.
bench_psql -c 'SET client_min_messages = warning' -c 'DROP TABLE IF EXISTS public.bench_plain_log' \
	-c 'CREATE TABLE public.bench_plain_log (LIKE sigmax.audit_log INCLUDING ALL)'

# Each client numbers its own rows: n is a pgbench client variable (from -D n=0,
# +1 per transaction), seq = base + client_id * 10^9 + n, base distinct per run.
# No shared counter or row, so the plain clients never wait for each other.
# pgbench reads ":name" even inside quotes, so the stream prefix is written 'app:' || 'c'.
cat >"$W/plain.sql" <<EOF
\\set n :n + 1
\\set seq :base + :client_id * 1000000000 + :n
INSERT INTO public.bench_plain_log (stream, seq, recorded_at, actor, action, payload, prev_hash, hash) VALUES ('app:' || 'c' || :client_id::text, :seq, clock_timestamp(), current_user, 'bench.op', '$PAYLOAD', '$ZERO_HASH', '$SOME_HASH');
EOF
cat >"$W/append.sql" <<EOF
SELECT sigmax.audit_append('bench.op', '$PAYLOAD', 'app:' || 'c' || :client_id::text);
EOF

run_index=0
# run_tps SCRIPT CLIENTS SYNC SECONDS: tps of one pgbench run after a CHECKPOINT.
# Called in $(...), so the caller advances run_index (the plain rows' seq base).
run_tps() {
	bench_psql -c CHECKPOINT
	PGOPTIONS="-c synchronous_commit=$3" bench_pgbench "$4" "$2" "$W/$1.sql" \
		-D n=0 -D base=$((run_index * 10000000000))
}

echo "a. sigmax.audit_append() vs plain INSERT of the same row (pgbench -M $BENCH_PGBENCH_MODE; median of $ROUNDS runs of ${DURATION} s each)"
if [ "$WARMUP" -gt 0 ]; then
	run_index=$((run_index + 1))
	run_tps plain 8 off "$WARMUP" >/dev/null
	run_tps append 8 off "$WARMUP" >/dev/null
fi
fmt_cpu='  %-7s %-11s %9s %10s %13s\n'
cpu_rows=()
fmt_a='  %-7s %-7s %-11s %10s %16s %6s %7s %7s  %s\n'
printf "$fmt_a" clients streams sync_commit plain_tps audit_append_tps ratio spread target ""
for sync in off on; do
	for clients in 1 8; do
		plains=()
		appends=()
		plain_cpus=()
		append_cpus=()
		# Rounds alternate the order (plain, append, append, plain, ...) so that a
		# drift in the machine's speed weighs on both sides alike.
		for ((round = 1; round <= ROUNDS; round++)); do
			if ((round % 2)); then order="plain append"; else order="append plain"; fi
			for kind in $order; do
				run_index=$((run_index + 1))
				tps=$(run_tps "$kind" "$clients" "$sync" "$DURATION")
				cpu=$(bench_last server_cpu_us)
				if [ "$kind" = plain ]; then
					plains+=("$tps")
					plain_cpus+=("$cpu")
				else
					appends+=("$tps")
					append_cpus+=("$cpu")
				fi
			done
		done
		plain=$(printf '%.0f' "$(bench_median "${plains[@]}")")
		append=$(printf '%.0f' "$(bench_median "${appends[@]}")")
		ratio=$(bench_ratio "$append" "$plain")
		spread=$(printf '%s\n' "$(bench_spread "${plains[@]}")" "$(bench_spread "${appends[@]}")" | sort -g | tail -n 1)
		target=- verdict="(the issue sets no target)"
		if [ "$sync" = off ]; then
			if [ "$clients" -eq 1 ]; then target=0.80; else target=0.70; fi
			if awk -v r="$ratio" -v t="$target" 'BEGIN { exit !(r + 0 >= t + 0) }'; then
				verdict="met"
			else
				verdict="BELOW target"
			fi
			target=">=$target"
		fi
		printf "$fmt_a" "$clients" "$clients" "$sync" "$plain" "$append" "$ratio" "$spread" "$target" "$verdict"
		plain_cpu=$(bench_median "${plain_cpus[@]}")
		append_cpu=$(bench_median "${append_cpus[@]}")
		cpu_rows+=("$(printf "$fmt_cpu" "$clients" "$sync" "$plain_cpu" "$append_cpu" \
			"$(bench_ratio "$plain_cpu" "$append_cpu")")")
	done
done
echo
echo "  Server CPU per transaction, in microseconds (the machine's busy CPU time during"
echo "  the run minus pgbench's own, over the transactions; median of the rounds):"
printf "$fmt_cpu" clients sync_commit plain_us append_us plain/append
printf '%s\n' "${cpu_rows[@]}"
echo "  plain: INSERT into public.bench_plain_log (LIKE sigmax.audit_log INCLUDING ALL: same"
echo "  columns, CHECKs, primary key; no triggers), constant 32-byte hashes, seq from a"
echo "  per-client pgbench counter (client_id * 10^9 + n), stream app:c<client_id>."
echo "  append: SELECT sigmax.audit_append('bench.op', '$PAYLOAD', 'app:c' || :client_id)."
echo "  Each run follows a CHECKPOINT; synchronous_commit is set with PGOPTIONS; fsync = on."
echo "  tps: median of the rounds; spread: (max - min) / median between rounds, the worse side."
echo "  1-client tps includes the client round trip (on a VM mostly wake-up latency), which"
echo "  dilutes the ratio; plain/append of CPU per transaction is sigmax's cost without it."
echo

# --------------------------------------------------------------------------
# b. audit_verify, audit_checkpoint, audit_proof over a 1M-entry ledger
# --------------------------------------------------------------------------


per_client=$(((ENTRIES + FILL_CLIENTS * FILL_BATCH - 1) / (FILL_CLIENTS * FILL_BATCH)))
cat >"$W/fill.sql" <<EOF
SELECT count(sigmax.audit_append('bench.fill', '$PAYLOAD', 'app:' || 'c' || :client_id::text)) FROM generate_series(1, $FILL_BATCH);
EOF
echo "b. audit_verify, audit_checkpoint and audit_proof (database $BIGDB)"
t0=$(bench_now)
PGOPTIONS="-c synchronous_commit=off" bench_pgbench_txns "$per_client" "$FILL_CLIENTS" "$W/fill.sql" "$BIGDB" >/dev/null
t1=$(bench_now)
fill_ms=$(bench_elapsed_ms "$t0" "$t1")

r=$(bench_psql -d "$BIGDB" -c \
	"SELECT count(*), sum(octet_length(stream) + octet_length(actor) + octet_length(action)
	        + octet_length(payload::text) + $FIXED_BYTES), count(DISTINCT stream)
	   FROM sigmax.audit_log")
IFS='|' read -r count bytes streams <<<"$r"

verify_ms=()
verify_problems=()
for _ in 1 2 3; do
	r=$(bench_timed_sql 'SELECT count(*) FROM sigmax.audit_verify()' "$BIGDB")
	IFS=$'\t' read -r ms problems <<<"$r"
	verify_ms+=("$ms")
	verify_problems+=("$problems")
done
v_best=$(bench_min "${verify_ms[@]}")
v_median=$(bench_median "${verify_ms[@]}")

# Only the database is idle now: OpenSSL's SHA-256 on this machine.
ossl_1024=$(bench_openssl_sha256 1024 "$OPENSSL_SECONDS")
ossl_256=$(bench_openssl_sha256 256 "$OPENSSL_SECONDS")

r=$(bench_timed_sql 'SELECT stream_count FROM sigmax.audit_checkpoint()' "$BIGDB")
IFS=$'\t' read -r cp1_ms cp1_streams <<<"$r"
r=$(bench_timed_sql \
	"SELECT count(sigmax.audit_append('bench.more', '$PAYLOAD', 'app:c' || (i % $FILL_CLIENTS)::text))
	   FROM generate_series(0, 999) AS i" "$BIGDB")
IFS=$'\t' read -r more_ms more_n <<<"$r"
r=$(bench_timed_sql 'SELECT stream_count FROM sigmax.audit_checkpoint()' "$BIGDB")
IFS=$'\t' read -r cp2_ms cp2_streams <<<"$r"

# Every entry now, checkpoints' own entries included, verified against the latest checkpoint.
total=$(bench_psql -d "$BIGDB" -c 'SELECT count(*) FROM sigmax.audit_log')
r=$(bench_timed_sql 'SELECT count(*) FROM sigmax.audit_verify()' "$BIGDB")
IFS=$'\t' read -r vcp_ms vcp_problems <<<"$r"

# audit_proof last: should it fail (or take the server down), the figures above stand.
proof_ms=()
proof_err=
for _ in 1 2 3; do
	if r=$(bench_timed_sql \
		"SELECT (p ->> 'tree_size') || '|' || jsonb_array_length(p -> 'audit_path')
		   FROM sigmax.audit_proof('app:c1', 1) AS p" "$BIGDB" 2>"$W/proof.err"); then
		IFS=$'\t' read -r ms proof_shape <<<"$r"
		proof_ms+=("$ms")
	else
		proof_err=$(grep -m 1 -E 'ERROR|FATAL|server closed|lost' "$W/proof.err" || head -n 1 "$W/proof.err")
		if [ -n "${BENCH_SERVER_LOG:-}" ] && grep -q 'was terminated by signal' "$BENCH_SERVER_LOG"; then
			proof_err="server crashed: $(grep -m 1 -o 'server process .* was terminated by signal.*' "$BENCH_SERVER_LOG")"
		fi
		break
	fi
done

# Milliseconds with one decimal.
ms() {
	awk -v v="$1" 'BEGIN { printf "%.1f ms\n", v }'
}

mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
v_mbs=$(bench_rate "$bytes" "$v_best" 1e6)
fmt_b='  %-42s %10s  %s\n'
printf "$fmt_b" "what" "time" "figures"
printf "$fmt_b" "fill: $count entries, $streams streams" "$(awk -v ms="$fill_ms" 'BEGIN { printf "%.1f s", ms / 1000 }')" \
	"$(bench_rate "$count" "$fill_ms") entries/s ($FILL_CLIENTS clients, statements of $FILL_BATCH appends, sync off)"
printf "$fmt_b" "audit_verify(), best of 3" "$(ms "$v_best")" \
	"$(bench_rate "$count" "$v_best") entries/s, $v_mbs MB/s of canonical bytes ($mb MB)"
printf "$fmt_b" "audit_verify(), median of 3" "$(ms "$v_median")" \
	"$(bench_rate "$count" "$v_median") entries/s, $(bench_rate "$bytes" "$v_median" 1e6) MB/s; problems found: ${verify_problems[*]}"
printf "$fmt_b" "openssl speed sha256, 1024-byte blocks" "-" \
	"$ossl_1024 MB/s; verify (best) / openssl = $(bench_ratio "$v_mbs" "$ossl_1024")"
printf "$fmt_b" "openssl speed sha256, 256-byte blocks" "-" \
	"$ossl_256 MB/s; verify (best) / openssl = $(bench_ratio "$v_mbs" "$ossl_256")"
printf "$fmt_b" "audit_checkpoint(), first, over $count" "$(ms "$cp1_ms")" "$cp1_streams streams"
printf "$fmt_b" "1,000 more appends (one statement)" "$(ms "$more_ms")" "$more_n entries, $(bench_rate "$more_n" "$more_ms") entries/s"
printf "$fmt_b" "audit_checkpoint(), after 1,000 more" "$(ms "$cp2_ms")" "$cp2_streams streams (incremental)"
printf "$fmt_b" "audit_verify() with the checkpoint" "$(ms "$vcp_ms")" \
	"$total entries, $(bench_rate "$total" "$vcp_ms") entries/s; problems found: $vcp_problems"
if [ ${#proof_ms[@]} -gt 0 ]; then
	IFS='|' read -r proof_tree proof_path <<<"$proof_shape"
	printf "$fmt_b" "audit_proof('app:c1', 1), best of ${#proof_ms[@]}" "$(ms "$(bench_min "${proof_ms[@]}")")" \
		"median $(ms "$(bench_median "${proof_ms[@]}")"); tree size $proof_tree, audit path $proof_path hashes"
fi
if [ -n "$proof_err" ]; then
	printf "$fmt_b" "audit_proof('app:c1', 1)" "FAILED" "$proof_err"
fi
echo "  MB = 10^6 bytes. Canonical bytes are approximated as octet_length(stream) + octet_length(actor)"
echo "  + octet_length(action) + octet_length(payload::text) + $FIXED_BYTES bytes per entry (netstring"
echo "  prefixes, format name, seq, recorded_at and the 32-byte prev_hash); verify also hashes the"
echo "  Merkle leaf and about one inner node per entry, which these MB do not count."

status=0
for p in "${verify_problems[@]}" "$vcp_problems"; do
	if [ "$p" != 0 ]; then
		echo "sigmax bench: audit_verify() reported problems on an untouched ledger" >&2
		status=1
	fi
done
if [ -n "$proof_err" ]; then
	echo "sigmax bench: audit_proof failed: $proof_err" >&2
	status=1
	# After a crash the server restarts and replays WAL: wait for it before going on.
	for _ in $(seq 60); do
		pg_isready -q && break
		sleep 1
	done
fi

bench_psql -d postgres -c "DROP DATABASE $BIGDB" || true
exit $status
