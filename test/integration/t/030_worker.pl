# The exchange poller against the loopback mock exchange: every recorded ticker
# reaches sigmax.market_prices, every fault leaves the worker up with the right
# status and the symbol stale, and the worker survives terminate, SIGKILL,
# reloads, a missing database or extension, and follows a promoted standby.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time usleep);
use SigmaxTest;

my $mock = start_mock_exchange();
my $node = sigmax_node('worker', worker => 1,
	conf => "sigmax.http_timeout = 1000\n"
	  . "sigmax.http_connect_timeout = 500\n"
	  . "sigmax.worker_max_backoff = 1000\n"
	  . "log_min_messages = debug1\n"
	  . "restart_after_crash = on\n");

sub sql { return $node->safe_psql('sigmax', $_[0]); }

sub poller_pid
{
	my ($n) = @_;
	return ($n // $node)->safe_psql('sigmax',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'sigmax poller'");
}

# Terminate the poller and wait for the launcher to start another; the test is named $name.
sub restart_poller
{
	my ($name) = @_;
	my $old = poller_pid();
	sql("SELECT pg_terminate_backend($old)");
	return ok($node->poll_query_until('sigmax',
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'sigmax poller' AND pid <> $old"),
		$name);
}

# --- every recorded ticker ------------------------------------------------------------

my %expected = (
	'binance BNB/BTC' => '4.00000200',
	'binance BTC/USDT' => '73369.84000000',
	'bitstamp BTC/USDT' => '73285',
	'bybit BTC/USDT' => '51444.40',
	'coinbase BTC/USD' => '68923.67',
	'coinbase BTC/USDC' => '66363.03',
	'coinbaseexchange BTC/USDT' => '73367.8',
	'gemini BTC/GUSD' => '69835.00',
	'gemini BTC/USDT' => '73268.24',
	'gemini USDC/USD' => '1.00026',
	'kraken BTC/USDT' => '73380.60000',
	'kucoin BTC/USDT' => '67400',
	'okx BTC/USDT' => '73384.8');

my $interval_ms = 1000;
my $started = time();
sql(qq{
	SELECT sigmax.add_exchange(a, base_url => '$mock->{url}/' || a, poll_interval_ms => $interval_ms,
	                           category => CASE WHEN a = 'bybit' THEN 'linear' END)
	  FROM unnest(ARRAY['binance','coinbaseexchange','coinbase','kraken','bybit','okx','bitstamp','gemini','kucoin']) a;
	SELECT sigmax.add_price_feed(a, 'BTC/USDT')
	  FROM unnest(ARRAY['binance','coinbaseexchange','kraken','bybit','okx','bitstamp','gemini','kucoin']) a;
	SELECT sigmax.add_price_feed('coinbase', 'BTC/USDC'), sigmax.add_price_feed('coinbase', 'BTC/USD'),
	       sigmax.add_price_feed('binance', 'BNB/BTC'), sigmax.add_price_feed('gemini', 'USDC/USD'),
	       sigmax.add_price_feed('gemini', 'BTC/GUSD', 'btcgusdperp');
});
ok($node->poll_query_until('sigmax', 'SELECT count(*) = 13 FROM sigmax.market_prices'),
	'a price from every recorded ticker reaches sigmax.market_prices');
my $elapsed_ms = (time() - $started) * 1000;
cmp_ok($elapsed_ms, '<', 2 * $interval_ms, "within two poll intervals of the configuration's commit");
my %got = map { my ($k, $v) = split /\|/; ($k => $v) }
  split /\n/, sql("SELECT exchange || ' ' || symbol, last FROM sigmax.market_prices");
is_deeply(\%got, \%expected, 'each price is the recorded one, as a decimal');
is(sql("SELECT count(*) FROM sigmax.market_prices WHERE exchange_time IS NULL"), '1',
	"every venue's time is kept (Kraken's ticker has none)");

is(sql("SELECT string_agg(backend_type, ',' ORDER BY backend_type) FROM pg_stat_activity WHERE backend_type LIKE 'sigmax%'"),
	'sigmax launcher,sigmax poller', 'the launcher and the poller show in pg_stat_activity');
like(sql('SELECT state FROM sigmax.worker_state()'), qr/^polling 13 symbols on 9 venues in 12 requests a cycle$/,
	'worker_state says what it polls (binance answers its two symbols in one request)');
ok($node->poll_query_until('sigmax',
		"SELECT bool_and(last_status = 'ok' AND prices_written > 0 AND latency_p50_ms IS NOT NULL AND commit_p99_ms IS NOT NULL)
		   AND count(*) = 9 FROM sigmax.worker_status()"),
	'worker_status: every venue ok, with prices written and latencies');
my $log = slurp_file($node->logfile);
like($log, qr/DEBUG:  sigmax worker: binance: 2 of 2 symbols recorded in [0-9.]+ ms/, 'one DEBUG1 line per venue cycle');

my $requests = mock_control($mock, 'GET', 'requests');
like($requests, qr{"user-agent":\s*"sigmax/[0-9.]+ \(PostgreSQL extension\)"}, 'requests carry a User-Agent with the version');
like($requests, qr{/coinbase/api/v3/brokerage/market/products/BTC-USDC/ticker}, 'coinbase is polled on its public market path');

# --- several symbols a request (Binance's symbols=[...]) --------------------------------

sub binance_targets
{
	return [ map { $_->{query} } grep { ($_->{venue_prefix} // '') eq 'binance' }
		  @{ decode_json(mock_control($mock, 'GET', 'requests'))->{requests} } ];
}

sub binance_recorded_at
{
	return sql("SELECT string_agg(recorded_at::text, ',' ORDER BY symbol) FROM sigmax.market_prices WHERE exchange = 'binance'");
}

{
	my $batch = 'symbols=%5B%22BNBBTC%22%2C%22BTCUSDT%22%5D';
	my $queries = binance_targets();
	ok(scalar(@$queries) > 0 && !grep({ $_ ne $batch } @$queries),
		'binance: both symbols in one request, symbols=["BNBBTC","BTCUSDT"] percent-encoded')
	  or diag explain $queries;
	ok($node->poll_query_until('sigmax',
			"SELECT requests > 0 AND prices_written = 2 * requests FROM sigmax.worker_status() WHERE exchange = 'binance'"),
		'worker_status counts the request once and each price it brought');

	# One symbol the venue does not list fails the whole list (HTTP 400, -1121): the
	# worker asks one by one, so the others keep their prices, and lists again after a reload.
	sql("SELECT sigmax.add_price_feed('binance', 'NOSUCH/USDT')");
	ok($node->poll_query_until('sigmax',
			"SELECT last_error_status = 'http_4xx' FROM sigmax.worker_status() WHERE exchange = 'binance'"),
		'an unknown symbol in the list: the request fails with http_4xx');
	my $refused = qr/LOG:  sigmax worker: venue "binance" refused a request for 3 symbols with HTTP 400; polling its symbols one by one/;
	my $said = 0;
	for (1 .. 100)
	{
		last if ($said = () = slurp_file($node->logfile) =~ /$refused/g);
		usleep(100_000);
	}
	is($said, 1, 'which the log says once, with what it does about it');
	mock_control($mock, 'DELETE', 'requests');
	my $before = binance_recorded_at();
	ok($node->poll_query_until('sigmax',
			"SELECT bool_and(recorded_at > '" . (split /,/, $before)[0] . "') AND count(*) = 2 FROM sigmax.market_prices WHERE exchange = 'binance'"),
		'then the listed symbols are recorded again, one request each');
	my %asked = map { $_ => 1 } @{ binance_targets() };
	ok($asked{'symbol=BTCUSDT'} && $asked{'symbol=BNBBTC'} && $asked{'symbol=NOSUCHUSDT'} && !grep({ /symbols=/ } keys %asked),
		'one request a symbol, the unknown one alone failing')
	  or diag explain \%asked;
	sql("SELECT sigmax.remove_price_feed('binance', 'NOSUCH/USDT')");
	usleep(1_500_000);
	mock_control($mock, 'DELETE', 'requests');
	ok($node->poll_query_until('sigmax',
			"SELECT last_status = 'ok' AND consecutive_errors = 0 FROM sigmax.worker_status() WHERE exchange = 'binance'"),
		'without it the venue is ok');
	usleep(1_200_000);
	$queries = binance_targets();
	ok(scalar(@$queries) > 0 && !grep({ $_ ne $batch } @$queries), 'and after the reload it is asked for both at once again')
	  or diag explain $queries;

	# sigmax.worker_symbols_per_request = 1: one request a symbol, on reload
	$node->append_conf('postgresql.conf', "sigmax.worker_symbols_per_request = 1\n");
	$node->reload;
	ok($node->poll_query_until('sigmax', "SELECT state ~ 'in 13 requests a cycle\$' FROM sigmax.worker_state()"),
		'sigmax.worker_symbols_per_request = 1 takes effect on reload');
	mock_control($mock, 'DELETE', 'requests');
	usleep(1_200_000);
	%asked = map { $_ => 1 } @{ binance_targets() };
	is_deeply([ sort keys %asked ], [ 'symbol=BNBBTC', 'symbol=BTCUSDT' ], 'then each symbol has a request of its own');
	$node->append_conf('postgresql.conf', "sigmax.worker_symbols_per_request = 20\n");
	$node->reload;
	ok($node->poll_query_until('sigmax', "SELECT state ~ 'in 12 requests a cycle\$' FROM sigmax.worker_state()"),
		'and back to 20');

	# Another refusal of a list (a 403 from the venue's firewall) is a failure like any
	# other: asking one by one would only multiply the refused requests.
	my $errors = sql("SELECT errors FROM sigmax.worker_status() WHERE exchange = 'binance'");
	mock_control($mock, 'POST', 'fault', '{"venue": "binance", "mode": "http_403", "count": 1}');
	ok($node->poll_query_until('sigmax',
			"SELECT errors > $errors AND last_error_status = 'http_4xx' FROM sigmax.worker_status() WHERE exchange = 'binance'"),
		'a list answered with HTTP 403 fails with http_4xx');
	ok($node->poll_query_until('sigmax', "SELECT last_status = 'ok' FROM sigmax.worker_status() WHERE exchange = 'binance'"),
		'and recovers by itself');
	mock_control($mock, 'DELETE', 'requests');
	usleep(1_200_000);
	$queries = binance_targets();
	ok(scalar(@$queries) > 0 && !grep({ $_ ne 'symbols=%5B%22BNBBTC%22%2C%22BTCUSDT%22%5D' } @$queries),
		'still asking for both symbols in one request')
	  or diag explain $queries;
	$said = () = slurp_file($node->logfile) =~ /refused a request for \d+ symbols/g;
	is($said, 1, 'with no second "polling one by one" in the log');
}

# --- the poller resolves operators in pg_catalog, whatever search_path the database sets

sql(q{
	CREATE SCHEMA evil;
	CREATE TABLE evil.calls (at timestamptz);
	CREATE FUNCTION evil.le(timestamptz, timestamptz) RETURNS boolean LANGUAGE sql
		AS $$ INSERT INTO evil.calls VALUES (now()) RETURNING true $$;
	CREATE OPERATOR evil.<= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.le);
	ALTER DATABASE sigmax SET search_path = evil, pg_catalog;
});
{
	restart_poller('a poller started under a database search_path with an evil schema first');
	my $since = sql('SELECT now()');
	ok($node->poll_query_until('sigmax',
			"SELECT count(*) = 13 FROM sigmax.market_prices WHERE recorded_at > '$since'"),
		'it records every price');
	is(sql('SELECT count(*) FROM evil.calls'), '0', "and never runs that schema's operators");
}
sql(q{ALTER DATABASE sigmax RESET search_path; DROP SCHEMA evil CASCADE;});

# --- each fault: the worker stays up, the status names it, the symbol goes stale, then recovers

sub okx_recorded_at { return sql("SELECT recorded_at FROM sigmax.market_prices WHERE exchange = 'okx'"); }

sub check_fault
{
	my ($fault_json, $status, $name) = @_;
	my $pid = poller_pid();
	mock_control($mock, 'POST', 'fault', $fault_json);
	ok($node->poll_query_until('sigmax',
			"SELECT last_error_status = '$status' AND last_status <> 'ok' FROM sigmax.worker_status() WHERE exchange = 'okx'"),
		"$name: okx's status is $status");
	my $before = okx_recorded_at();
	usleep(1_500_000);
	is(okx_recorded_at(), $before, "$name: okx's price is not refreshed (it goes stale)");
	is(poller_pid(), $pid, "$name: the worker stays up");
	like(sql("SELECT detail FROM sigmax.venue_errors WHERE exchange = 'okx' ORDER BY at DESC LIMIT 1"),
		qr/^\Q$status\E: /, "$name: reported through sigmax.record_venue_error");
	mock_control($mock, 'POST', 'fault', '{"mode": "none"}');
	ok($node->poll_query_until('sigmax',
			"SELECT last_status = 'ok' AND consecutive_errors = 0 FROM sigmax.worker_status() WHERE exchange = 'okx'"),
		"$name: the worker recovers by itself when the venue answers again");
	isnt(okx_recorded_at(), $before, "$name: okx's price is fresh again");
	return;
}

check_fault('{"venue": "okx", "mode": "http_500"}', 'http_5xx', 'HTTP 500');
check_fault('{"venue": "okx", "mode": "http_418"}', 'banned', 'HTTP 418');
check_fault('{"venue": "okx", "mode": "truncated"}', 'truncated', 'truncated body');
check_fault('{"venue": "okx", "mode": "truncated_json"}', 'bad_json', 'truncated JSON');
check_fault('{"venue": "okx", "mode": "malformed_json"}', 'bad_json', 'malformed JSON');
check_fault('{"venue": "okx", "mode": "oversized"}', 'too_large', 'oversized body');
check_fault('{"venue": "okx", "mode": "reset"}', 'connection_reset', 'connection reset');
check_fault('{"venue": "okx", "mode": "hang"}', 'timeout', 'hanging venue');
check_fault('{"venue": "okx", "mode": "delay", "delay_ms": 3000}', 'timeout', 'slow venue');
check_fault('{"venue": "okx", "mode": "error_envelope"}', 'error_envelope', 'error envelope in HTTP 200');

is(sql("SELECT count(*) > 0 FROM sigmax.alerts WHERE kind = 'venue_errors' AND detail->>'exchange' = 'okx'"), 't',
	'more than 5 errors a minute raised a venue_errors alert');
is(sql("SELECT count(*) > 0 FROM sigmax.audit_log WHERE action = 'venue.reducing' AND payload->>'exchange' = 'okx'"), 't',
	'and put the venue in reducing state, ledgered');

# 429: Retry-After is honoured before the venue is asked again
mock_control($mock, 'DELETE', 'requests');
mock_control($mock, 'POST', 'fault', '{"venue": "kraken", "mode": "http_429", "count": 1, "retry_after": 3}');
ok($node->poll_query_until('sigmax',
		"SELECT last_error_status = 'rate_limited' FROM sigmax.worker_status() WHERE exchange = 'kraken'"),
	'HTTP 429: status rate_limited');
ok($node->poll_query_until('sigmax',
		"SELECT last_status = 'ok' FROM sigmax.worker_status() WHERE exchange = 'kraken'"),
	'HTTP 429: recovered');
{
	my @kraken = grep { ($_->{venue_prefix} // '') eq 'kraken' }
	  @{ decode_json(mock_control($mock, 'GET', 'requests'))->{requests} };
	my ($limited) = grep { ($kraken[$_]{status} // 0) == 429 } 0 .. $#kraken;
	ok(defined $limited && $limited < $#kraken, 'HTTP 429: the request log has the limited request and a later one');
	cmp_ok($kraken[ $limited + 1 ]{monotonic} - $kraken[$limited]{monotonic}, '>=', 2.9,
		'HTTP 429: the next request waited for Retry-After (3 s)')
	  if defined $limited && $limited < $#kraken;
}

# connection refused, DNS failure (a 64-letter label: glibc refuses it without sending a query)
my $closed_port = PostgreSQL::Test::Cluster::get_free_port();
sql(qq{SELECT sigmax.add_exchange('refused', 'okx', base_url => 'http://127.0.0.1:$closed_port', poll_interval_ms => 500);
     SELECT sigmax.add_price_feed('refused', 'ETH/USDT');
     SELECT sigmax.add_exchange('nodns', 'okx', base_url => 'https://} . ('a' x 64) . q{.invalid', poll_interval_ms => 500);
     SELECT sigmax.add_price_feed('nodns', 'ETH/USDT');});
ok($node->poll_query_until('sigmax',
		"SELECT last_error_status = 'connect_failed' FROM sigmax.worker_status() WHERE exchange = 'refused'"),
	'a refused connection: status connect_failed');
ok($node->poll_query_until('sigmax',
		"SELECT last_error_status = 'dns_failed' FROM sigmax.worker_status() WHERE exchange = 'nodns'"),
	'a name that does not resolve: status dns_failed');
sql("DELETE FROM sigmax.exchanges WHERE name IN ('refused', 'nodns')");

# TLS: verification is always on; the CA bundle is a setting, and a reload takes effect
my $tls = start_mock_exchange(tls => 1);
sql(qq{SELECT sigmax.add_exchange('tlsokx', 'okx', base_url => '$tls->{url}/okx', poll_interval_ms => 500);
     SELECT sigmax.add_price_feed('tlsokx', 'BTC/USDT');});
ok($node->poll_query_until('sigmax',
		"SELECT last_error_status = 'tls_error' FROM sigmax.worker_status() WHERE exchange = 'tlsokx'"),
	'a certificate from an unknown CA: status tls_error, no price');
is(sql("SELECT count(*) FROM sigmax.market_prices WHERE exchange = 'tlsokx'"), '0', 'nothing recorded without verification');
$node->append_conf('postgresql.conf', "sigmax.http_ca_file = '$tls->{ca}'\n");
$node->reload;
ok($node->poll_query_until('sigmax',
		"SELECT count(*) = 1 FROM sigmax.market_prices WHERE exchange = 'tlsokx'"),
	'after a reload with the CA bundle set, the TLS venue is polled');
sql("DELETE FROM sigmax.exchanges WHERE name = 'tlsokx'");
stop_mock_exchange($tls);

# --- a write under session_replication_role = replica (logical replication's apply) ---

my $polled = qr/^polling (\d+) symbols/;
my ($symbols_before) = sql('SELECT state FROM sigmax.worker_state()') =~ $polled;
sql(q{SET session_replication_role = replica;
	DELETE FROM sigmax.price_feeds WHERE exchange = 'gemini' AND symbol = 'USDC/USD'});
ok($node->poll_query_until('sigmax',
		"SELECT state LIKE 'polling " . ($symbols_before - 1) . " symbols %' FROM sigmax.worker_state()"),
	'a feed deleted under session_replication_role = replica: the poller reloads and drops it');
sql("SELECT sigmax.add_price_feed('gemini', 'USDC/USD')");
ok($node->poll_query_until('sigmax',
		"SELECT state LIKE 'polling $symbols_before symbols %' FROM sigmax.worker_state()"),
	'added again: polled again');

# --- settings reloads: off and on again ---------------------------------------------

$node->append_conf('postgresql.conf', "sigmax.worker_enabled = off\n");
$node->reload;
ok($node->poll_query_until('sigmax', "SELECT state LIKE 'disabled%' FROM sigmax.worker_state()"),
	'sigmax.worker_enabled = off: the worker idles');
usleep(300_000);
mock_control($mock, 'DELETE', 'requests');
usleep(2_500_000);
is(decode_json(mock_control($mock, 'GET', 'requests'))->{count}, 0, 'and sends no request');
$node->append_conf('postgresql.conf', "sigmax.worker_enabled = on\n");
$node->reload;
ok($node->poll_query_until('sigmax', "SELECT state LIKE 'polling%' FROM sigmax.worker_state()"),
	'on again: it polls');

# --- terminate, SIGTERM mid-request, SIGKILL ------------------------------------------

restart_poller('pg_terminate_backend: the launcher starts a new poller');

my $launcher = sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'sigmax launcher'");
sql("SELECT pg_terminate_backend($launcher)");
ok($node->poll_query_until('sigmax',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'sigmax launcher' AND pid <> $launcher"),
	'a terminated launcher is restarted by the postmaster');
ok($node->poll_query_until('sigmax',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'sigmax poller'"),
	'with exactly one poller');

# SIGTERM while a request hangs (a 20 s timeout): the worker stops at once
$node->append_conf('postgresql.conf', "sigmax.http_timeout = 20000\n");
$node->reload;
mock_control($mock, 'POST', 'fault', '{"mode": "hang"}');
usleep(1_500_000);
my $pid = poller_pid();
my $t0 = time();
sql("SELECT pg_terminate_backend($pid)");
$node->poll_query_until('sigmax', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid");
cmp_ok(time() - $t0, '<', 5, 'SIGTERM stops the worker mid-request, without waiting for the 20 s timeout');
mock_control($mock, 'POST', 'fault', '{"mode": "none"}');
$node->append_conf('postgresql.conf', "sigmax.http_timeout = 1000\n");
$node->reload;

ok($node->poll_query_until('sigmax', "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'sigmax poller'"),
	'a poller is back');
$pid = poller_pid();
kill 'KILL', $pid;
ok($node->poll_query_until('sigmax',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'sigmax poller' AND pid <> $pid"),
	'SIGKILL: after crash recovery the worker is back');
my $before = okx_recorded_at();
ok($node->poll_query_until('sigmax',
		"SELECT recorded_at > '$before' FROM sigmax.market_prices WHERE exchange = 'okx'"),
	'and polls again');
is(sql("SELECT count(*) FROM sigmax.audit_verify()"), '0', 'the ledger verifies after the crash');
$log = slurp_file($node->logfile);
like($log, qr/terminated by signal 9: Killed/, 'the postmaster saw the SIGKILL (crash recovery, as for any backend)');

# --- a version mismatch idles the worker with a LOG line ------------------------------

sql("UPDATE pg_catalog.pg_extension SET extversion = '0.9' WHERE extname = 'sigmax'");
sql("SELECT sigmax._poller_reload()");
ok($node->poll_query_until('sigmax', "SELECT state LIKE 'idle: the library is version%' FROM sigmax.worker_state()"),
	'objects of another version: the worker idles');
like(slurp_file($node->logfile), qr/LOG:  sigmax worker: idle: the library is version \S+ but the extension in database "sigmax" is 0\.9; run ALTER EXTENSION sigmax UPDATE/,
	'with a LOG line that says what to do');
sql("UPDATE pg_catalog.pg_extension SET extversion = sigmax.version() WHERE extname = 'sigmax'");
sql("SELECT sigmax._poller_reload()");
ok($node->poll_query_until('sigmax', "SELECT state LIKE 'polling%' FROM sigmax.worker_state()"),
	'the right version again: it polls');

$node->stop;

# --- no database, then no extension: a wait with one LOG line each, not a crash loop ----

my $fresh = sigmax_node('worker_fresh', worker => 1, create => 0);
$fresh->safe_psql('postgres', 'CREATE EXTENSION sigmax');    # only to read the state from another database
ok($fresh->poll_query_until('postgres',
		"SELECT state LIKE 'database \"sigmax\" (sigmax.database) does not exist%' FROM sigmax.worker_state()"),
	'sigmax.database missing: the launcher waits');
$fresh->safe_psql('postgres', 'CREATE DATABASE sigmax');
ok($fresh->poll_query_until('postgres',
		"SELECT state LIKE 'extension sigmax is not installed in database \"sigmax\"%' FROM sigmax.worker_state()"),
	'database there, extension missing: the poller waits');
$fresh->safe_psql('sigmax', 'CREATE EXTENSION sigmax');
ok($fresh->poll_query_until('postgres', "SELECT state = 'polling 0 symbols on 0 venues in 0 requests a cycle' FROM sigmax.worker_state()"),
	'CREATE EXTENSION: the poller starts at its commit');
$log = slurp_file($fresh->logfile);
my @waits = $log =~ /(does not exist or refuses connections; waiting for it)/g;
is(scalar @waits, 1, 'one LOG line while the database is missing');
@waits = $log =~ /(waiting for CREATE EXTENSION sigmax)/g;
is(scalar @waits, 1, 'one LOG line while the extension is missing');
unlike($log, qr/background worker "sigmax (launcher|poller)" .* exited with exit code/, 'no crash loop');
$fresh->stop;

# --- a streaming standby does not poll; after promotion it does ------------------------

my $primary = sigmax_node('worker_primary', worker => 1, init => { allows_streaming => 1 });
$primary->safe_psql('sigmax', qq{SELECT sigmax.add_exchange('okx', base_url => '$mock->{url}/okx', poll_interval_ms => 300);
	SELECT sigmax.add_price_feed('okx', 'BTC/USDT');});
ok($primary->poll_query_until('sigmax', "SELECT count(*) = 1 FROM sigmax.market_prices"), 'the primary polls');
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('worker_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('sigmax', "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'sigmax%'"), '0',
	'the standby runs no sigmax worker');
is($standby->safe_psql('sigmax', 'SELECT state FROM sigmax.worker_state()'), 'standby: not polling',
	'worker_state on the standby says so');
$primary->stop;
$standby->promote;
ok($standby->poll_query_until('sigmax',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'sigmax poller'"),
	'after promotion the worker starts');
my $last = $standby->safe_psql('sigmax', 'SELECT recorded_at FROM sigmax.market_prices');
ok($standby->poll_query_until('sigmax', "SELECT recorded_at > '$last' FROM sigmax.market_prices"),
	'and the promoted node records prices');
is($standby->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0', 'its ledger verifies');
$standby->stop;

stop_mock_exchange($mock);
done_testing();
