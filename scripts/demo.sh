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

# Replay every recorded spot ticker into sigmax, as the worker will.
say "replaying the recorded exchange prices into sigmax.record_price"
/usr/bin/python3 "$SIGMAX_ROOT/scripts/replay_prices.py" "$mock_url" \
	"$SIGMAX_ROOT/test/mock_exchange/routes.json" >"$mock_dir/prices.tsv" ||
	die "replaying the recorded prices failed"
while IFS=$'\t' read -r venue symbol bid ask last; do
	psql -q -X -v ON_ERROR_STOP=1 -d sigmax -v venue="$venue" -v symbol="$symbol" \
		-v bid="$bid" -v ask="$ask" -v last="$last" >/dev/null <<'SQL'
SELECT sigmax.record_price(:'venue', :'symbol', :'bid'::numeric, :'ask'::numeric, :'last'::numeric);
SQL
done <"$mock_dir/prices.tsv"

psql -X -v ON_ERROR_STOP=1 -d sigmax -f "$SIGMAX_ROOT/scripts/demo.sql"

echo
say "demo done; the throwaway cluster is removed on exit"
