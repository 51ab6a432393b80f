#!/usr/bin/env bash
# sigmax scripts/demo.sh: set up what is missing, then tour sigmax on a throwaway cluster.
# The cluster, the mock exchange and everything they wrote are removed on exit.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages
build_and_install
start_cluster

psql -q -v ON_ERROR_STOP=1 -c 'CREATE DATABASE sigmax' >/dev/null
psql -q -v ON_ERROR_STOP=1 -d sigmax -c 'CREATE EXTENSION sigmax' >/dev/null
say "sigmax installed in database sigmax"

# The mock exchange replays the recorded exchange responses on loopback.
mock_dir=$SIGMAX_WORK/mock
mkdir -p "$mock_dir"
/usr/bin/python3 "$SIGMAX_ROOT/test/mock_exchange/mock_exchange.py" --port 0 \
	--port-file "$mock_dir/port" >"$mock_dir/log" 2>&1 &
track_pid $!
for _ in $(seq 100); do
	[ -s "$mock_dir/port" ] && break
	sleep 0.05
done
[ -s "$mock_dir/port" ] || die "the mock exchange did not start; see $mock_dir/log"
mock_url=http://127.0.0.1:$(cat "$mock_dir/port")
say "mock exchange replaying recorded responses at $mock_url"

# The background worker polls every recorded spot ticker from the mock exchange,
# one venue per base URL, as it would poll the venues' public endpoints.
say "pointing the exchange poller at the mock exchange"
psql -q -X -v ON_ERROR_STOP=1 -d sigmax -v mock_url="$mock_url" >/dev/null <<'SQL'
SELECT sigmax.add_exchange(a, base_url => :'mock_url' || '/' || a, poll_interval_ms => 1000,
                           category => CASE WHEN a = 'bybit' THEN 'linear' END)
  FROM unnest(ARRAY['binance', 'coinbaseexchange', 'coinbase', 'kraken', 'bybit', 'okx',
                    'bitstamp', 'gemini', 'kucoin']) a;
SELECT sigmax.add_price_feed(a, 'BTC/USDT')
  FROM unnest(ARRAY['binance', 'coinbaseexchange', 'kraken', 'bybit', 'okx', 'bitstamp', 'gemini', 'kucoin']) a;
SELECT sigmax.add_price_feed('coinbase', 'BTC/USDC'), sigmax.add_price_feed('coinbase', 'BTC/USD'),
       sigmax.add_price_feed('binance', 'BNB/BTC'), sigmax.add_price_feed('gemini', 'USDC/USD');
SQL
for _ in $(seq 100); do
	n=$(psql -q -X -A -t -d sigmax -c 'SELECT count(*) FROM sigmax.market_prices')
	[ "$n" -ge 12 ] && break
	sleep 0.1
done
[ "$n" -ge 12 ] || die "the worker recorded only $n of 12 prices; see $SIGMAX_WORK/server.log"

SIGMAX_MOCK_URL=$mock_url psql -X -v ON_ERROR_STOP=1 -d sigmax -f "$SIGMAX_ROOT/scripts/demo.sql"

echo
say "demo done; the throwaway cluster is removed on exit"
