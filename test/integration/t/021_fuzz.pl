# Fuzzing: 10,000 generated calls to every public function with arguments,
# with edge inputs (NULLs, empty and 1 MB strings, Unicode and control
# characters, NaN, +-Infinity, 1e1000, -0, SQL injection strings). Each call
# returns a result or an error with a documented SQLSTATE; the server never
# restarts; malformed calls write nothing. No error's message, detail or hint
# names an internal (a C or SQL-internal name, SQL text, a file path) or echoes
# a huge input.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use SigmaxTest;

my $calls = $ENV{SIGMAX_FUZZ_CALLS} || 10000;
my $node = sigmax_node('fuzz', conf => "log_min_messages = warning\n");
my $start = $node->safe_psql('sigmax', 'SELECT pg_postmaster_start_time()');

$node->safe_psql('sigmax', q{
	SELECT sigmax.create_account('fuzz', 100000);
	SELECT sigmax.add_instrument('BTC/USDT', 'binance');
	SELECT sigmax.set_limits(NULL, '{"stale_price_ms": 2000000000}');
	SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);
	SELECT sigmax.audit_append('seed', '{}', 'app:fuzz');
	SELECT sigmax.audit_checkpoint();
	SELECT sigmax.create_api_key('fuzz', 'sigmax_trader', '{1}');
	SELECT sigmax.kill_switch('fuzz: requests to lift it');
	SELECT sigmax.request_approval('resume', '{"account_id": null}') FROM generate_series(1, 3);
	SELECT sigmax.resume();
	CREATE TABLE fuzz_result (fn text, state text, message text, detail text, hint text);
	CREATE TABLE fuzz_values (t text[], n numeric[], i bigint[], j jsonb[], b boolean[], ts timestamptz[]);
	GRANT INSERT ON fuzz_result TO sigmax_trader;
	GRANT SELECT ON fuzz_values TO sigmax_trader;
	INSERT INTO fuzz_values VALUES (
		ARRAY[NULL, '', ' ', 'BTC/USDT', 'btc/usdt', 'BTC/USDT''; DROP TABLE sigmax.orders; --',
		      repeat('A', 1048576), E'\u2603/\u00e9\u00e9', E'BTC\u0001/USDT', E'tab\there', 'buy', 'sell',
		      'market', 'limit', 'stop', 'app:fuzz', 'app:', 'system', 'account:1', 'binance', 'Binance',
		      'NaN', '-0', '1e1000', 'x' || repeat('y', 200), 'ETH/USDT', 'AB/CD', 'ABCDEFGHIJK/USDT',
		      '%s%s%n', '\x00', 'null', 'true', '{}', 'https://api.binance.com', 'http://127.0.0.1:1',
		      'http://10.0.0.1', '{"lastPrice": "1.5", "bidPrice": "1.4"}', 'set_limits', 'set_trading_mode',
		      'resume', 'order', 'live', 'paper', 'testnet'],
		ARRAY[NULL, 'NaN', 'Infinity', '-Infinity', 1e1000, -1e1000, '-0', 0, -1, 1e-20, 0.00001, 0.001,
		      0.5, 1, 50000, 50001.5, 123456789012345678]::numeric[],
		ARRAY[NULL, 0, -1, 1, 2, 3, 9223372036854775807, -9223372036854775808]::bigint[],
		ARRAY[NULL, '{}', '[]', '"s"', '1', 'null', '{"max_position_pct": 0.1}', '{"max_position_pct": -1}',
		      '{"max_position_pct": "NaN"}', '{"orders_per_minute": 1e1000}', '{"no_such": 1}',
		      '{"password": "hunter2"}', '{"mail": "a@b.example"}', '{"n": 1e1000}',
		      jsonb_build_object('deep', repeat('[', 500)::text || '1' || repeat(']', 500))::jsonb,
		      (repeat('[', 500) || '1' || repeat(']', 500))::jsonb,
		      jsonb_build_object('big', repeat('b', 100000)), jsonb_build_object('u', E'\u2603\u0001'),
		      '{"account_id": 1, "limits": {"max_order_qty": 0.5}}', '{"account_id": 1, "limits": {"max_order_qty": "x"}}',
		      '{"account_id": null}', '{"account_id": 1}', '{"account_id": 1, "mode": "live"}',
		      '{"account_id": 1e1000, "mode": "live"}', '{"submit_order": 5}', '{"check_order": -1}']::jsonb[],
		ARRAY[NULL, true, false],
		ARRAY[NULL, now(), now() - interval '1 hour', 'infinity', '-infinity', '1999-01-01']::timestamptz[]);
});

# Each function and a call that draws every argument from the edge values.
my %call = (
	submit_order => q{PERFORM * FROM sigmax.submit_order(pick(v.i), pick(v.t), pick(v.t), pick(v.n), pick(v.t), pick(v.n), pick(v.t))},
	check_order => q{PERFORM * FROM sigmax.check_order(pick(v.i), pick(v.t), pick(v.t), pick(v.n), pick(v.t), pick(v.n), pick(v.t))},
	# check_order runs with its caller's rights: once more as a trader, with no right on the tables
	check_order_as_trader => q{PERFORM * FROM sigmax.check_order(pick(v.i), pick(v.t), pick(v.t), pick(v.n), pick(v.t), pick(v.n), pick(v.t))},
	cancel_order => q{PERFORM sigmax.cancel_order(pick(v.i))},
	create_account => q{PERFORM sigmax.create_account(pick(v.t), pick(v.n), pick(v.t))},
	add_instrument => q{PERFORM sigmax.add_instrument(pick(v.t), pick(v.t), pick(v.n), pick(v.n), pick(v.n), pick(v.n), pick(v.n), pick(v.t), pick(v.b))},
	set_limits => q{PERFORM sigmax.set_limits(pick(v.i), pick(v.j))},
	pause => q{PERFORM sigmax.pause(pick(v.i), pick(v.t))},
	resume => q{PERFORM sigmax.resume(pick(v.i))},
	set_reduce_only => q{PERFORM sigmax.set_reduce_only(pick(v.i), pick(v.b))},
	kill_switch => q{PERFORM sigmax.kill_switch(pick(v.t))},
	trading_state => q{PERFORM sigmax.trading_state(pick(v.i))},
	record_price => q{PERFORM sigmax.record_price(pick(v.t), pick(v.t), pick(v.n), pick(v.n), pick(v.n), pick(v.ts), pick(v.ts))},
	add_exchange => q{PERFORM sigmax.add_exchange(pick(v.t), pick(v.t), pick(v.t), pick(v.t), pick(v.i)::integer, pick(v.b), pick(v.t))},
	enable_exchange => q{PERFORM sigmax.enable_exchange(pick(v.t), pick(v.b))},
	add_price_feed => q{PERFORM sigmax.add_price_feed(pick(v.t), pick(v.t), pick(v.t))},
	remove_price_feed => q{PERFORM sigmax.remove_price_feed(pick(v.t), pick(v.t))},
	create_api_key => q{PERFORM sigmax.create_api_key(pick(v.t), pick(v.t), ARRAY[pick(v.i)], NULL, pick(v.ts))},
	revoke_api_key => q{PERFORM sigmax.revoke_api_key(pick(v.i))},
	rotate_api_key => q{PERFORM sigmax.rotate_api_key(pick(v.i))},
	authenticate => q{PERFORM * FROM sigmax.authenticate(pick(v.t))},
	parse_ticker => q{PERFORM * FROM sigmax.parse_ticker(pick(v.t), pick(v.t), pick(v.t))},
	audit_append => q{PERFORM sigmax.audit_append(pick(v.t), pick(v.j), pick(v.t))},
	record_venue_error => q{PERFORM sigmax.record_venue_error(pick(v.t), pick(v.t))},
	acknowledge_alert => q{PERFORM sigmax.acknowledge_alert(pick(v.i))},
	audit_verify => q{PERFORM * FROM sigmax.audit_verify(pick(v.t))},
	audit_proof => q{PERFORM sigmax.audit_proof(pick(v.t), pick(v.i))},
	audit_checkpoint_export => q{PERFORM sigmax.audit_checkpoint_export(pick(v.i))},
	set_api_key_rate_limits => q{PERFORM sigmax.set_api_key_rate_limits(pick(v.i), pick(v.j))},
	set_trading_mode => q{PERFORM sigmax.set_trading_mode(pick(v.i), pick(v.t))},
	request_approval => q{PERFORM sigmax.request_approval(pick(v.t), pick(v.j))},
	approve => q{PERFORM sigmax.approve(pick(v.i))},
	deny => q{PERFORM sigmax.deny(pick(v.i), pick(v.t))},
	secret_status => q{PERFORM * FROM sigmax.secret_status(pick(v.t))},
);

# SQLSTATEs the reference documents for bad input (docs/sql-reference.md).
my %documented = map { $_ => 1 } qw(ok 22023 22003 22004 42501 54000 23505 55000 P0002);
# and those a function documents for itself
my %documented_for = (parse_ticker => { '22P02' => 1 }, authenticate => { '28000' => 1 });

for my $fn (sort keys %call)
{
	# Index local arrays (expanded once by PL/pgSQL): no copy of the 1 MB value per pick.
	(my $body = $call{$fn}) =~ s/pick\(v\.(\w+)\)/$1\[1 + floor(random() * cardinality($1))::int\]/g;
	my $t0 = time;
	my $as = $fn =~ /_as_trader$/ ? 'SET ROLE sigmax_trader;' : '';
	$node->safe_psql('sigmax', qq{
		$as
		SELECT setseed(0.42);
		DO \$fuzz\$
		DECLARE
			t text[]; n numeric[]; i bigint[]; j jsonb[]; b boolean[]; ts timestamptz[];
			s text; m text; d text; h text;
		BEGIN
			SELECT * INTO t, n, i, j, b, ts FROM fuzz_values;
			FOR k IN 1..$calls LOOP
				BEGIN
					$body;
					s := 'ok'; m := NULL; d := NULL; h := NULL;
				EXCEPTION WHEN OTHERS THEN
					GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL,
						h = PG_EXCEPTION_HINT;
				END;
				INSERT INTO fuzz_result VALUES ('$fn', s, left(m, 5000), left(d, 5000), left(h, 5000));
			END LOOP;
		END
		\$fuzz\$;
	});
	note("$fn: " . (time - $t0) . " s");
	my $states = $node->safe_psql('sigmax',
		qq{SELECT string_agg(state || '=' || n, ' ' ORDER BY state) FROM
		   (SELECT state, count(*) n FROM fuzz_result WHERE fn = '$fn' GROUP BY state) s});
	my @undocumented = grep { my ($s) = split /=/; !$documented{$s} && !$documented_for{$fn}{$s} } split / /, $states;
	is(scalar(@undocumented), 0, "$fn: $calls calls end in a result or a documented SQLSTATE ($states)")
	  or diag("undocumented: @undocumented");
	is($node->safe_psql('sigmax', qq{SELECT count(*) FROM fuzz_result WHERE fn = '$fn'}), $calls, "$fn: all calls ran");
	my $leaks = $node->safe_psql('sigmax', qq{
		SELECT string_agg(DISTINCT left(x, 200), ' | ') FROM fuzz_result r,
		       LATERAL (VALUES (r.message), (r.detail), (r.hint)) v(x)
		 WHERE r.fn = '$fn' AND (x ~ '\\.c:[0-9]|\\.c\\y|SPI_|PL/pgSQL|sigmax\\._|sigmax_[a-z_]+\\(|/usr/|/tmp/|/var/|\\ySELECT\\y.*\\yFROM\\y'
		        OR length(x) > 1000)});
	is($leaks, '', "$fn: no error names an internal or echoes a huge input");
}

is($node->safe_psql('sigmax', 'SELECT pg_postmaster_start_time()'), $start, 'the server never restarted');
is($node->safe_psql('sigmax', q{
	SELECT count(*) FROM sigmax.orders
	 WHERE symbol !~ '^[A-Z0-9]{2,10}/[A-Z0-9]{2,10}$' OR qty <= 0 OR qty > 1e15 OR qty = 'NaN'
	    OR limit_price <= 0 OR limit_price = 'NaN' OR side NOT IN ('buy', 'sell')}),
	'0', 'no malformed order was written');
is($node->safe_psql('sigmax', q{
	SELECT count(*) FROM sigmax.accounts WHERE initial_equity <= 0 OR initial_equity = 'NaN' OR name = ''}),
	'0', 'no malformed account was written');
is($node->safe_psql('sigmax', q{
	SELECT count(*) FROM sigmax.audit_log WHERE stream LIKE 'app:%' AND stream <> 'app:fuzz'}),
	'0', 'no entry in a malformed stream');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.orders}),
	$node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.audit_log WHERE action IN
		('order.accepted', 'order.filled', 'order.rejected', 'order.pending_approval')}),
	'every order written has its ledger entry, and only those');
is($node->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0', 'the ledger verifies');

done_testing();
