#!/usr/bin/env bash
# sigmax scripts/valgrind_worker.sh: a whole server under valgrind memcheck with the
# poller fetching from the loopback mock exchange for 1,000 cycles. Fails on any memory
# error in any process, on memory leaked (definitely lost) through sigmax or libcurl at
# the poller's exit, and when the poller's memory contexts (measured between passes of
# its loop) grow from cycle 100 to 1,000.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages
build_and_install
command -v valgrind >/dev/null || die "valgrind is missing"

CYCLES=${SIGMAX_VALGRIND_CYCLES:-1000}
work=$(mktemp -d /tmp/sigmax-valgrind-worker.XXXXXX)
chmod 755 "$work"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$work"
server_pid=
cleanup() {
	[ -n "$server_pid" ] && as_pg "$PG_BINDIR/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
	[ -n "${mock_pid:-}" ] && kill "$mock_pid" 2>/dev/null
	# keep the logs of the last run for a look after a failure
	rm -rf /tmp/sigmax-valgrind-worker-logs
	mkdir -p /tmp/sigmax-valgrind-worker-logs
	cp "$work"/*.log /tmp/sigmax-valgrind-worker-logs/ 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

as_pg "$PG_BINDIR/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null 2>&1 ||
	die "initdb failed"
as_pg openssl genpkey -algorithm ed25519 -out "$work/key.pem" 2>/dev/null
as_pg chmod 600 "$work/key.pem"
cp "$SIGMAX_ROOT/test/valgrind/postgres.supp" "$work/"
chmod 644 "$work/postgres.supp"

/usr/bin/python3 "$SIGMAX_ROOT/test/mock_exchange/mock_exchange.py" --port 0 --port-file "$work/mock.port" \
	2>"$work/mock.log" &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/mock.port" ] && break; sleep 0.1; done
[ -s "$work/mock.port" ] || die "the mock exchange did not start"
mock_url="http://127.0.0.1:$(cat "$work/mock.port")"

port=$(pick_port)
say "starting a server under valgrind; the poller runs $CYCLES cycles against the mock exchange (a few minutes)"
# Leaks are reported, not counted as errors: PostgreSQL's own processes exit without
# freeing what they strdup'd at startup. The poller's leaks are judged below.
as_pg valgrind --tool=memcheck --error-exitcode=42 --leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=none --read-var-info=no --num-callers=30 \
	--suppressions="$work/postgres.supp" --log-file="$work/valgrind.%p.log" \
	"$PG_BINDIR/postgres" -D "$work/data" -c port="$port" -c listen_addresses= \
	-c unix_socket_directories="$work" -c shared_preload_libraries=sigmax -c sigmax.database=sigmax \
	-c sigmax.checkpoint_key_file="$work/key.pem" -c max_stack_depth=7MB -c fsync=off \
	>"$work/server.log" 2>&1 &
server_pid=$!
export PGHOST=$work PGPORT=$port PGUSER=postgres
for _ in $(seq 300); do as_pg "$PG_BINDIR/pg_isready" -q -h "$work" -p "$port" && break; sleep 0.5; done
as_pg "$PG_BINDIR/pg_isready" -q -h "$work" -p "$port" || { tail -n 20 "$work/server.log" >&2; die "the server did not start"; }

psql_q() { as_pg "$PG_BINDIR/psql" -h "$work" -p "$port" -XAtq -v ON_ERROR_STOP=1 "$@"; }
psql_q -d postgres -c 'CREATE DATABASE sigmax'
psql_q -d sigmax -c 'CREATE EXTENSION sigmax' -c "
	SELECT sigmax.add_exchange('binance', base_url => '$mock_url/binance', poll_interval_ms => 100);
	SELECT sigmax.add_exchange('gemini', base_url => '$mock_url/gemini', poll_interval_ms => 100);
	SELECT sigmax.add_price_feed('binance', 'BTC/USDT'), sigmax.add_price_feed('binance', 'BNB/BTC');
	SELECT sigmax.add_price_feed('gemini', 'BTC/USDT'), sigmax.add_price_feed('gemini', 'USDC/USD');
	SELECT sigmax.add_price_feed('gemini', 'BTC/GUSD', 'btcgusdperp');
	-- a list with a symbol the venue does not know: refused, then asked one by one
	SELECT sigmax.add_exchange('binance_x', 'binance', base_url => '$mock_url/binance', poll_interval_ms => 1000);
	SELECT sigmax.add_price_feed('binance_x', 'BTC/USDT'), sigmax.add_price_feed('binance_x', 'NOSUCH/USDT');" >/dev/null
# Once the list was refused and the symbols asked one by one, the unknown symbol goes (a
# reload, and lists again), before its errors put the venue in reducing state: the
# baseline below is then taken in a steady state.
for _ in $(seq 300); do
	[ "$(psql_q -d sigmax -c "SELECT requests >= 3 FROM sigmax.worker_status() WHERE exchange = 'binance_x'")" = t ] && break
	sleep 0.2
done
[ "$(psql_q -d sigmax -c "SELECT requests >= 3 AND state LIKE '% in 6 requests a cycle' FROM sigmax.worker_status(), sigmax.worker_state() WHERE exchange = 'binance_x'")" = t ] ||
	die "the poller did not fall back to one request a symbol for binance_x"
psql_q -d sigmax -c "SELECT sigmax.remove_price_feed('binance_x', 'NOSUCH/USDT')" >/dev/null

# Wait for a cycle count; prints the poller's pid and the memory its contexts hold
# between two passes of its loop (outside any transaction).
wait_cycles() {
	local want=$1 n
	for _ in $(seq 1200); do
		n=$(psql_q -d sigmax -c 'SELECT cycles FROM sigmax.worker_state()')
		[ "${n:-0}" -ge "$want" ] && break
		sleep 1
	done
	[ "${n:-0}" -ge "$want" ] || die "the poller reached only ${n:-0} cycles of $want"
	psql_q -d sigmax -F ' ' -c 'SELECT pid, memory_bytes FROM sigmax.worker_state()'
}
# The baseline is taken once every periodic task has run twice (the approval sweep
# every 10 s, the trading-baseline check every 60 s): what they cache on first use
# is not growth.
wait_cycles 100 >/dev/null
for _ in $(seq 300); do
	[ "$(psql_q -d sigmax -c "SELECT now() - started_at >= interval '70 seconds' FROM sigmax.worker_state()")" = t ] && break
	sleep 1
done
read -r pid mem_start < <(wait_cycles 100)
read -r pid_end mem_end < <(wait_cycles "$CYCLES")
[ "$pid" = "$pid_end" ] || die "the poller restarted during the run ($pid, then $pid_end)"
sleep 2
psql_q -d sigmax -c "SELECT pg_terminate_backend($pid)" >/dev/null
for _ in $(seq 120); do grep -q 'ERROR SUMMARY' "$work/valgrind.$pid.log" 2>/dev/null && break; sleep 0.5; done
failures=$(psql_q -d sigmax -c "SELECT coalesce(sum(errors), 0) || ' of ' || coalesce(sum(requests), 0) FROM sigmax.worker_status()")
as_pg "$PG_BINDIR/pg_ctl" -D "$work/data" -m fast -t 300 stop >/dev/null 2>&1 || true
wait "$server_pid" 2>/dev/null || true
server_pid=

say "poller memory contexts: $mem_start bytes after 100 cycles and 70 s, $mem_end bytes after $CYCLES cycles"
[ "$mem_end" -le "$mem_start" ] || die "the poller's memory grew from $mem_start to $mem_end bytes"

bad=0
for log in "$work"/valgrind.*.log; do
	errors=$(awk '/ERROR SUMMARY:/ { print $4 }' "$log" | tail -n 1)
	if [ "${errors:-0}" != 0 ]; then
		cat "$log" >&2
		bad=1
	fi
done
[ "$bad" = 0 ] || die "valgrind found memory errors or definite leaks (logs above)"
grep -q 'ERROR SUMMARY: 0 errors' "$work/valgrind.$pid.log" || die "the poller's valgrind log is incomplete"
# A definite leak whose stack passes through sigmax or libcurl is ours.
ours=$(awk '/definitely lost in loss record/ { rec = $0; inrec = 1; next }
	inrec && /^==[0-9]+== *$/ { if (rec ~ /sigmax\.so|libcurl/) print rec; inrec = 0; next }
	inrec { rec = rec "\n" $0 }' "$work/valgrind.$pid.log")
if [ -n "$ours" ]; then
	printf '%b\n' "$ours" >&2
	die "the poller leaked memory through sigmax or libcurl (records above)"
fi
say "valgrind (worker): 0 errors in $(ls "$work"/valgrind.*.log | wc -l) processes; no leak through sigmax or libcurl at the poller's exit; failed requests: $failures"
