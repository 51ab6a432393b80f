#!/usr/bin/env bash
# sigmax bench/orders.sh: the cost of the pre-trade checks.
# Run it through bench/run.sh (bash bench/run.sh orders), which starts the cluster.
#
# a. check latency: sigmax.check_order() called 100,000 times server-side over
#    generate_series, in 10 batches (an argument depends on the row, or the
#    planner would call it once); microseconds per call (median batch) next
#    to the issue's 5 us target (printed, never asserted).
# b. throughput: a plain INSERT into a table shaped like sigmax.orders against
#    sigmax.submit_order() (accepted, paper-filled, ledgered), 1 client and
#    8 clients on 8 accounts, synchronous_commit off and on, and the ratios
#    next to the targets (0.7 with 1 client, 0.6 with 8, sync off).
# c. scaling: 16 clients on 16 accounts against 16 clients on one account:
#    orders of different accounts never wait on each other.
#
# Knobs: BENCH_DURATION seconds per pgbench run [10], BENCH_CHECK_CALLS [100000].
# shellcheck disable=SC2059
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_require_cluster

DURATION=${BENCH_DURATION:-10}
CALLS=${BENCH_CHECK_CALLS:-100000}
W=$BENCH_TMP/orders
mkdir -p "$W"

# 17 accounts with room for millions of orders: huge equity, limits out of
# the way (but every check still runs), a price that stays fresh.
bench_psql >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.001);
SELECT sigmax.record_price('binance', 'BTC/USDT', 73369.83, 73369.84, 73369.84);
SELECT sigmax.create_account('bench ' || n, 1e12) FROM generate_series(1, 17) n;
SELECT sigmax.set_limits(NULL, '{"max_position_pct": 100, "max_exposure_pct": 100,
	"orders_per_minute": 2000000000, "stale_price_ms": 2000000000, "max_open_orders": 1000000}');
DROP TABLE IF EXISTS public.bench_plain_orders;
CREATE TABLE public.bench_plain_orders (LIKE sigmax.orders INCLUDING ALL);
ALTER TABLE public.bench_plain_orders ALTER COLUMN order_id SET DEFAULT nextval('sigmax.orders_id_seq');
SQL
first=$(bench_psql -c "SELECT min(account_id) FROM sigmax.accounts")

# --------------------------------------------------------------------------
echo "a. sigmax.check_order() latency, server-side over generate_series ($CALLS calls in 10 batches)"
batch=$((CALLS / 10))
bench_psql -c "SELECT count(*) FROM generate_series(1, 1000) g, LATERAL sigmax.check_order($first + g % 1, 'BTC/USDT', 'buy', 0.001)" >/dev/null
per_call=()
for _ in $(seq 10); do
	ms=$(bench_timed_sql "SELECT count(*) FROM generate_series(1, $batch) g, LATERAL sigmax.check_order($first + g % 1, 'BTC/USDT', 'buy', 0.001) c WHERE c.status = 'filled'" | cut -f1)
	per_call+=("$(awk -v ms="$ms" -v n="$batch" 'BEGIN { printf "%.1f", ms * 1000 / n }')")
done
printf '  %-34s %8s us   (min %s, max %s; target 5 us median)\n' "check_order, per call (median batch)" \
	"$(bench_median "${per_call[@]}")" "$(bench_min "${per_call[@]}")" \
	"$(printf '%s\n' "${per_call[@]}" | sort -g | tail -n 1)"
ms=$(bench_timed_sql "SELECT count(*) FROM generate_series(1, $batch) g" | cut -f1)
printf '  %-34s %8s us\n' "generate_series alone, per row" "$(awk -v ms="$ms" -v n="$batch" 'BEGIN { printf "%.2f", ms * 1000 / n }')"

# --------------------------------------------------------------------------
echo
echo "b. sigmax.submit_order() (checked, paper-filled, ledgered) vs plain INSERT into an orders-shaped table (pgbench -M $BENCH_PGBENCH_MODE, ${DURATION} s each)"
cat >"$W/plain.sql" <<EOF
\\set acct $first + :client_id
INSERT INTO public.bench_plain_orders (account_id, symbol, side, order_type, qty, status, reference_price, created_by) VALUES (:acct, 'BTC/USDT', 'buy', 'market', 0.001, 'filled', 73369.84, current_user);
EOF
cat >"$W/submit.sql" <<EOF
\\set acct $first + :client_id
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.001);
EOF
fmt='  %-8s %-12s %10s %10s %7s %9s %9s   %s\n'
printf "$fmt" clients sync_commit plain_tps submit_tps ratio plain_us submit_us target
for sync in off on; do
	for clients in 1 8; do
		bench_psql -c CHECKPOINT >/dev/null
		plain=$(PGOPTIONS="-c synchronous_commit=$sync" bench_pgbench "$DURATION" "$clients" "$W/plain.sql")
		plain_us=$(bench_last server_cpu_us)
		bench_psql -c CHECKPOINT >/dev/null
		submit=$(PGOPTIONS="-c synchronous_commit=$sync" bench_pgbench "$DURATION" "$clients" "$W/submit.sql")
		submit_us=$(bench_last server_cpu_us)
		target=-
		[ "$sync" = off ] && target=$([ "$clients" = 1 ] && echo ">=0.70" || echo ">=0.60")
		printf "$fmt" "$clients" "$sync" "$plain" "$submit" "$(bench_ratio "$submit" "$plain")" \
			"$plain_us" "$submit_us" "$target"
	done
done
echo "  (plain_us, submit_us: server CPU per transaction in microseconds, steadier than tps on a small VM)"
bench_psql -c "SELECT count(*) FILTER (WHERE status = 'filled') || ' filled of ' || count(*) || ' submitted' FROM sigmax.orders" | sed 's/^/  /'

# --------------------------------------------------------------------------
echo
echo "c. scaling: 16 clients on 16 accounts vs 16 clients on one account (synchronous_commit off, ${DURATION} s each)"
cat >"$W/one.sql" <<EOF
SELECT * FROM sigmax.submit_order($first, 'BTC/USDT', 'buy', 0.001);
EOF
cat >"$W/many.sql" <<EOF
\\set acct $first + :client_id
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.001);
EOF
bench_psql -c CHECKPOINT >/dev/null
many=$(PGOPTIONS="-c synchronous_commit=off" bench_pgbench "$DURATION" 16 "$W/many.sql")
bench_psql -c CHECKPOINT >/dev/null
one=$(PGOPTIONS="-c synchronous_commit=off" bench_pgbench "$DURATION" 16 "$W/one.sql")
printf '  %-40s %8s tps\n' "16 clients, 16 accounts" "$many" "16 clients, 1 account (serialized)" "$one"
printf '  %-40s %8s\n' "ratio 16 accounts / 1 account" "$(bench_ratio "$many" "$one")"
bench_psql -c "SELECT 'ledger intact: ' || (count(*) = 0)::text FROM sigmax.audit_verify()" | sed 's/^/  /'
