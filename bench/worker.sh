#!/usr/bin/env bash
# sigmax bench/worker.sh: the exchange poller at its design load.
# Run it through bench/run.sh (bash bench/run.sh worker), which starts the cluster.
#
# 5 venues (bench/ticker_server.py on 5 loopback ports) with 50 symbols each,
# polled at 1 Hz: 250 requests and 250 recorded prices a second. Prints the
# poller's CPU as a share of one core (target under 2%), and the time from a
# response received to its price committed, p50 and p99 (target p99 under
# 10 ms), next to the targets (printed, never asserted).
#
# Knobs: BENCH_WORKER_SECONDS measured seconds [30]; BENCH_WORKER_SYMBOLS per venue [50].
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_require_cluster

SECONDS_MEASURED=${BENCH_WORKER_SECONDS:-30}
SYMBOLS=${BENCH_WORKER_SYMBOLS:-50}
VENUES=5

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for v in $(seq "$VENUES"); do
	/usr/bin/python3 "$BENCH_DIR/ticker_server.py" --port-file "$BENCH_TMP/venue$v.port" &
	pids+=($!)
done
for v in $(seq "$VENUES"); do
	for _ in $(seq 100); do [ -s "$BENCH_TMP/venue$v.port" ] && break; sleep 0.1; done
	[ -s "$BENCH_TMP/venue$v.port" ] || die "ticker server $v did not start"
done

state=$(bench_psql -c 'SELECT state FROM sigmax.worker_state()')
case $state in polling* | starting*) ;; *) die "the poller is not running here (worker_state: $state)" ;; esac

for v in $(seq "$VENUES"); do
	bench_psql >/dev/null <<SQL
SELECT sigmax.add_exchange('bench$v', 'binance', base_url => 'http://127.0.0.1:$(cat "$BENCH_TMP/venue$v.port")',
                           poll_interval_ms => 1000);
SELECT sigmax.add_price_feed('bench$v', 'C' || lpad(n::text, 3, '0') || '/USDT') FROM generate_series(1, $SYMBOLS) n;
SQL
done

# the poller's CPU ticks (utime + stime) from /proc
poller_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

expected=$((VENUES * SYMBOLS))
for _ in $(seq 60); do
	n=$(bench_psql -c "SELECT count(*) FROM sigmax.market_prices WHERE exchange LIKE 'bench%'")
	[ "$n" -ge "$expected" ] && break
	sleep 1
done
[ "$n" -ge "$expected" ] || die "only $n of $expected prices arrived"
sleep 5    # past the first cycles (plans, caches, connections)

pid=$(bench_psql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'sigmax poller'")
hz=$(getconf CLK_TCK)
before=$(bench_psql -c "SELECT coalesce(sum(prices_written), 0) FROM sigmax.worker_status() WHERE exchange LIKE 'bench%'")
t0=$(bench_now)
c0=$(poller_ticks "$pid")
sleep "$SECONDS_MEASURED"
c1=$(poller_ticks "$pid")
t1=$(bench_now)
after=$(bench_psql -c "SELECT coalesce(sum(prices_written), 0) FROM sigmax.worker_status() WHERE exchange LIKE 'bench%'")

wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
cpu_pct=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v w="$wall" 'BEGIN { printf "%.2f", 100 * c / hz / w }')
rate=$(awk -v n=$((after - before)) -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
per_price_us=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v n=$((after - before)) 'BEGIN { if (n > 0) printf "%.0f", 1e6 * c / hz / n; else print "n/a" }')
IFS='|' read -r commit_p99_max commit_p99_median latency_p50 latency_p99 errors <<<"$(bench_psql -c "
	SELECT round(max(commit_p99_ms)::numeric, 2), round((percentile_cont(0.5) WITHIN GROUP (ORDER BY commit_p99_ms))::numeric, 2),
	       round(avg(latency_p50_ms)::numeric, 2), round(max(latency_p99_ms)::numeric, 2), sum(errors)
	  FROM sigmax.worker_status() WHERE exchange LIKE 'bench%'")"

echo "worker: $VENUES venues x $SYMBOLS symbols at 1 Hz, measured over $wall s"
printf '  %-52s %s\n' "prices recorded per second" "$rate (of $expected requested)"
printf '  %-52s %s\n' "poller CPU, share of one core" "$cpu_pct %   (target < 2 %; ratio to target $(awk -v c="$cpu_pct" 'BEGIN { printf "%.1f", c / 2 }'))"
printf '  %-52s %s\n' "poller CPU per recorded price" "$per_price_us us"
printf '  %-52s %s\n' "response received -> price committed, p99 (worst venue)" "$commit_p99_max ms   (target < 10 ms)"
printf '  %-52s %s\n' "response received -> price committed, p99 (median venue)" "$commit_p99_median ms"
printf '  %-52s %s\n' "request latency p50 (mean of venues) / p99 (worst)" "$latency_p50 ms / $latency_p99 ms"
printf '  %-52s %s\n' "failed requests" "$errors"
