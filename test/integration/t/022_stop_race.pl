# 8 sessions record prices through a stop at once: the position is closed
# exactly once, by one reduce-only order, and the ledger verifies.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

my $node = sigmax_node('stops', conf => "max_connections = 40\n");
$node->safe_psql('sigmax', q{
	SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.0001);
	SELECT sigmax.set_limits(NULL, '{"slippage_bps": 0, "fee_bps": 0}');
	SELECT sigmax.record_price('binance', 'BTC/USDT', 50000, 50000, 50000);
	SELECT sigmax.create_account('a' || n, 100000) FROM generate_series(1, 4) n;
	SELECT sigmax.submit_order(n, 'BTC/USDT', 'buy', 0.01) FROM generate_series(1, 4) n;
});
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.stops WHERE status = 'active'}), '4',
	'four positions, four stops at 49250');

# Alerts reach listeners on NOTIFY sigmax_alerts when their transaction commits.
my $listener = $node->background_psql('sigmax');
$listener->query_safe('LISTEN sigmax_alerts');

# Every session records the same falling prices through the stop.
$node->pgbench(
	'-n -c 8 -j 2 -t 10',
	0,
	[qr/processed: 80\/80/],
	[qr/^$/],
	'8 sessions record prices through the stops at once',
	{ '001_drop' => q{
\set p random(48000, 49240)
SELECT sigmax.record_price('binance', 'BTC/USDT', :p, :p, :p);
} },
	'sigmax');

is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.stops WHERE status = 'triggered'}), '4',
	'every stop triggered');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.orders WHERE client_order_id LIKE 'stop#%'}), '4',
	'one closing order per stop, never two');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.orders WHERE client_order_id LIKE 'stop#%' AND status = 'filled' AND reduce_only}),
	'4', 'each filled as a reduce-only order');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.positions WHERE qty <> 0}), '0', 'every position is closed');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.audit_log WHERE action = 'stop.triggered'}), '4',
	'each stop-out is ledgered once');
is($node->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0', 'the ledger verifies');

# Prices for two symbols recorded at once, for accounts holding both with resting
# orders in both: every record_price takes accounts in one ascending pass, so none
# deadlocks (pgbench would report the failed transactions).
$node->safe_psql('sigmax', q{
	SELECT sigmax.add_instrument('ETH/USDT', 'binance', tick_size => 0.01, lot_size => 0.001);
	SELECT sigmax.record_price('binance', 'BTC/USDT', 50000, 50000, 50000);
	SELECT sigmax.record_price('binance', 'ETH/USDT', 3000, 3000, 3000);
	SELECT sigmax.set_limits(NULL, '{"stop_loss_pct": 0.5, "max_open_orders": 100000, "orders_per_minute": 1000000}');
	SELECT sigmax.create_account('x' || n, 1000000) FROM generate_series(1, 12) n;
	SELECT count(*) FROM sigmax.accounts a, unnest(ARRAY['BTC/USDT', 'ETH/USDT']) s,
	       LATERAL sigmax.submit_order(a.account_id, s, 'buy', 0.01) o WHERE a.name LIKE 'x%';
	SELECT count(*) FROM sigmax.accounts a, generate_series(1, 5) k,
	       LATERAL sigmax.submit_order(a.account_id, 'BTC/USDT', 'buy', 0.001, 'limit', 48000 + k) o
	 WHERE a.name LIKE 'x%';
	SELECT count(*) FROM sigmax.accounts a, generate_series(1, 5) k,
	       LATERAL sigmax.submit_order(a.account_id, 'ETH/USDT', 'buy', 0.01, 'limit', 2900 + k) o
	 WHERE a.name LIKE 'x%';
});
$node->pgbench(
	'-n -c 8 -j 2 -t 15',
	0,
	[qr/processed: 120\/120/],
	[qr/^$/],
	'8 sessions record BTC and ETH prices at once over accounts holding both',
	{
		'001_btc' => q{
\set p random(47900, 50100)
SELECT sigmax.record_price('binance', 'BTC/USDT', :p, :p, :p);
},
		'002_eth' => q{
\set p random(2880, 3020)
SELECT sigmax.record_price('binance', 'ETH/USDT', :p, :p, :p);
},
	},
	'sigmax');
is($node->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0', 'the ledger still verifies');

my ($heard) = $listener->query('SELECT 1');
$listener->quit;
my @notes = ($heard . $listener->{stdout}) =~ /Asynchronous notification "sigmax_alerts" with payload "([^\n]*)" received/g;
is(scalar(grep { /"kind": "stop_loss"/ } @notes), 4, 'each stop-out was announced on NOTIFY sigmax_alerts, once per account')
  or diag(join("\n", @notes));

# A price that waits for another session's record of the same symbol acts on what is
# there once it has the row: a position opened while it waited has its stop hit.
$node->safe_psql('sigmax', q{
	SELECT sigmax.add_instrument('SOL/USDT', 'binance', tick_size => 0.01, lot_size => 0.01);
	SELECT sigmax.record_price('binance', 'SOL/USDT', 100, 100, 100);
	SELECT sigmax.create_account('racer', 100000);
	SELECT sigmax.set_limits(a.account_id, '{"stop_loss_pct": 0.015}') FROM sigmax.accounts a WHERE a.name = 'racer';
});
my $holder = $node->background_psql('sigmax');
$holder->query_safe(q{BEGIN; SELECT sigmax.record_price('binance', 'SOL/USDT', 100, 100, 100)});
my $waiter = $node->background_psql('sigmax');
$waiter->query_until(qr/waiting/, qq{\\echo waiting\nSELECT sigmax.record_price('binance', 'SOL/USDT', 90, 90, 90);\n});
ok($node->poll_query_until('sigmax',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%SOL/USDT'', 90%'"),
	'a second record of the symbol waits for the first');
is($node->safe_psql('sigmax', q{
	SELECT o.status FROM sigmax.accounts a, LATERAL sigmax.submit_order(a.account_id, 'SOL/USDT', 'buy', 1) o
	 WHERE a.name = 'racer'}), 'filled', 'meanwhile a position opens, its stop at 98.5');
$holder->query_safe('COMMIT');
$holder->quit;
$waiter->quit;
is($node->safe_psql('sigmax', q{
	SELECT s.status || ' at ' || s.trigger_price FROM sigmax.stops s JOIN sigmax.accounts a USING (account_id)
	 WHERE a.name = 'racer'}), 'triggered at 90', 'the waiting price, 90, hits that stop');

done_testing();
