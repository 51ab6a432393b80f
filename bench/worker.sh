#!/usr/bin/env bash
# sigmax bench/worker.sh: the exchange poller at its design load.
# Run it through bench/run.sh (bash bench/run.sh worker), which starts the cluster.
#
# 5 venues (bench/ticker_server.py on 5 loopback ports, Binance's ticker) with 50
# symbols each, polled at 1 Hz: 250 recorded prices a second. Measured twice: as the
# worker runs by default (sigmax.worker_symbols_per_request = 20: Binance's
# symbols=[...], 3 requests a venue and cycle) and with one request a symbol (= 1,
# 250 requests a second, as for the adapters that cannot list symbols). Prints the
# poller's CPU as a share of one core (target under 2%), and the time from a
# response received to its price committed, p99 (target under 10 ms), next to the
# targets (printed, never asserted).
#
# Knobs: BENCH_WORKER_SECONDS measured seconds per mode [30]; BENCH_WORKER_SYMBOLS per
# venue [50]; BENCH_WORKER_MODES symbols per request to measure ["20 1"].
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

SYMBOLS_PER_REQUEST_MODES=${BENCH_WORKER_MODES:-20 1}

# the poller's CPU ticks (utime + stime) from /proc
poller_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

status_sums() {
	bench_psql -c "SELECT coalesce(sum(prices_written), 0) || ' ' || coalesce(sum(requests), 0)
	                 FROM sigmax.worker_status() WHERE exchange LIKE 'bench%'"
}

# Measure the poller with PER symbols a request.
measure() {
	local per=$1 expected=$((VENUES * SYMBOLS)) n pid hz prices0 requests0 prices1 requests1 t0 t1 c0 c1
	bench_psql >/dev/null -c "ALTER SYSTEM SET sigmax.worker_symbols_per_request = $per" -c "SELECT pg_reload_conf()"
	# Binance's adapter lists at most 20 symbols a request
	local cycle_requests=$((VENUES * ((SYMBOLS + (per < 20 ? per : 20) - 1) / (per < 20 ? per : 20))))
	for _ in $(seq 100); do
		[ "$(bench_psql -c "SELECT state LIKE '% in $cycle_requests request% a cycle' FROM sigmax.worker_state()")" = t ] && break
		sleep 0.1
	done
	[ "$(bench_psql -c "SELECT state LIKE '% in $cycle_requests request% a cycle' FROM sigmax.worker_state()")" = t ] ||
		die "the poller did not take sigmax.worker_symbols_per_request = $per"
	for _ in $(seq 60); do
		n=$(bench_psql -c "SELECT count(*) FROM sigmax.market_prices WHERE exchange LIKE 'bench%' AND recorded_at > now() - interval '2 s'")
		[ "$n" -ge "$expected" ] && break
		sleep 1
	done
	[ "$n" -ge "$expected" ] || die "only $n of $expected prices arrived"
	sleep 5    # past the first cycles (plans, caches, connections)

	pid=$(bench_psql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'sigmax poller'")
	hz=$(getconf CLK_TCK)
	read -r prices0 requests0 <<<"$(status_sums)"
	t0=$(bench_now)
	c0=$(poller_ticks "$pid")
	sleep "$SECONDS_MEASURED"
	c1=$(poller_ticks "$pid")
	t1=$(bench_now)
	read -r prices1 requests1 <<<"$(status_sums)"
	# the commit latencies of this mode only: the ring holds each venue's last 256 answers
	IFS='|' read -r commit_p99_max commit_p99_median latency_p50 latency_p99 errors state <<<"$(bench_psql -c "
		SELECT round(max(commit_p99_ms)::numeric, 2), round((percentile_cont(0.5) WITHIN GROUP (ORDER BY commit_p99_ms))::numeric, 2),
		       round(avg(latency_p50_ms)::numeric, 2), round(max(latency_p99_ms)::numeric, 2), sum(errors),
		       (SELECT state FROM sigmax.worker_state())
		  FROM sigmax.worker_status() WHERE exchange LIKE 'bench%'")"

	local wall cpu_pct rate req_rate per_price_us
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	cpu_pct=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v w="$wall" 'BEGIN { printf "%.2f", 100 * c / hz / w }')
	rate=$(awk -v n=$((prices1 - prices0)) -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
	req_rate=$(awk -v n=$((requests1 - requests0)) -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
	per_price_us=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v n=$((prices1 - prices0)) 'BEGIN { if (n > 0) printf "%.0f", 1e6 * c / hz / n; else print "n/a" }')

	echo "worker: $VENUES venues x $SYMBOLS symbols at 1 Hz, sigmax.worker_symbols_per_request = $per, measured over $wall s"
	printf '  %-52s %s\n' "worker_state" "$state"
	printf '  %-52s %s\n' "prices recorded per second" "$rate (of $expected requested)"
	printf '  %-52s %s\n' "requests per second" "$req_rate"
	printf '  %-52s %s\n' "poller CPU, share of one core" "$cpu_pct %   (target < 2 %; ratio to target $(awk -v c="$cpu_pct" 'BEGIN { printf "%.2f", c / 2 }'))"
	printf '  %-52s %s\n' "poller CPU per recorded price" "$per_price_us us"
	printf '  %-52s %s\n' "response received -> price committed, p99 (worst venue)" "$commit_p99_max ms   (target < 10 ms)"
	printf '  %-52s %s\n' "response received -> price committed, p99 (median venue)" "$commit_p99_median ms"
	printf '  %-52s %s\n' "request latency p50 (mean of venues) / p99 (worst)" "$latency_p50 ms / $latency_p99 ms"
	printf '  %-52s %s\n' "failed symbol polls since the start" "$errors"
}

for per in $SYMBOLS_PER_REQUEST_MODES; do
	measure "$per"
done
bench_psql >/dev/null -c "ALTER SYSTEM RESET sigmax.worker_symbols_per_request" -c "SELECT pg_reload_conf()"
