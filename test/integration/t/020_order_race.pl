# 32 sessions racing on one account whose position limit admits exactly N of
# their orders: exactly N are accepted, the position never exceeds the limit,
# and the ledger verifies. A kill switch waits for orders in flight and
# leaves no working order behind.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

my $node = sigmax_node('race', conf => "max_connections = 60\nsigmax.state_change_grace = 60000\n");
$node->safe_psql('sigmax', q{
	SELECT sigmax.create_account('race', 100000);
	SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.001);
	-- no slippage or fee: each 0.01 BTC order is exactly 500 USDT of position
	SELECT sigmax.set_limits(NULL, '{"stale_price_ms": 2000000000}');
	SELECT sigmax.set_limits(1, '{"slippage_bps": 0, "fee_bps": 0, "orders_per_minute": 100000,
	                             "max_open_orders": 1000}');
	SELECT sigmax.record_price('binance', 'BTC/USDT', 50000, 50000, 50000);
});
# The limit: 5% of 100000 = 5000 USDT = 0.1 BTC, so exactly 10 orders of 0.01 fit.
$node->pgbench(
	'-n -c 32 -j 4 -t 5',
	0,
	[qr/processed: 160\/160/],
	[qr/^$/],
	'32 sessions submit 160 orders at once',
	{ '001_buy' => q{SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01);} },
	'sigmax');

is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.orders WHERE status = 'filled'}), '10',
	'exactly 10 orders were accepted');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.orders WHERE reason_code = 'POSITION_LIMIT'}), '150',
	'the other 150 were rejected for the position limit');
is($node->safe_psql('sigmax', q{SELECT qty FROM sigmax.positions WHERE account_id = 1}), '0.10',
	'the position is exactly at the limit, never above');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.audit_log WHERE stream = 'account:1' AND action LIKE 'order.%'}),
	'160', 'every verdict is ledgered');
is($node->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0', 'the ledger verifies');

# The same race with resting orders from REPEATABLE READ transactions: the
# working orders count at once, whatever snapshot the caller holds.
my $rr = $node->safe_psql('sigmax', q{SELECT sigmax.create_account('rr', 100000)});
$node->safe_psql('sigmax', qq{SELECT sigmax.set_limits($rr, '{"orders_per_minute": 100000, "max_open_orders": 1000}')});
$node->pgbench(
	'-n -c 32 -j 4 -t 5',
	0,
	[qr/processed: 160\/160/],
	[],
	'32 REPEATABLE READ sessions place resting orders at once',
	{ '001_rest' => "BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT 1;\n"
		  . "SELECT * FROM sigmax.submit_order($rr, 'BTC/USDT', 'buy', 0.01, 'limit', 49000);\nCOMMIT;\n" },
	'--max-tries=1000', 'sigmax');
is($node->safe_psql('sigmax', qq{SELECT sum(qty) FROM sigmax.orders WHERE account_id = $rr AND status = 'accepted'}),
	'0.10', 'working orders never exceed the position limit (0.1 BTC at 49000 fits 10)');
is($node->safe_psql('sigmax', qq{SELECT count(*) FROM sigmax.orders WHERE account_id = $rr AND status = 'accepted'}),
	'10', 'exactly 10 resting orders were accepted');

# A REPEATABLE READ transaction whose snapshot is older than another order's fill on the
# account places no order: locking the account's row fails with 40001, as a SELECT ... FOR
# NO KEY UPDATE would, and the client retries.
my $stale = $node->background_psql('sigmax', on_error_stop => 0);
$stale->query_safe(q{BEGIN ISOLATION LEVEL REPEATABLE READ});
$stale->query_safe(q{SELECT 1});
is($node->safe_psql('sigmax', qq{SELECT status FROM sigmax.submit_order($rr, 'BTC/USDT', 'sell', 0.01)}),
	'filled', 'another session fills an order on the account (its cash changes)');
$stale->query(qq{SELECT status FROM sigmax.submit_order($rr, 'BTC/USDT', 'sell', 0.01)});
like($stale->{stderr}, qr/could not serialize access due to concurrent update/,
	'an order from a REPEATABLE READ snapshot older than that fill fails with a serialization error');
$stale->{stderr} = '';
$stale->query_safe('ROLLBACK');
$stale->quit;

# Resting orders from many sessions race a kill switch: none stays working.
$node->safe_psql('sigmax', q{
	SELECT sigmax.create_account('rest', 1000000);
	SELECT sigmax.set_limits(3, '{"orders_per_minute": 100000, "max_open_orders": 100000}');
});
my $holder = $node->background_psql('sigmax');
$holder->query_safe(q{BEGIN; SELECT * FROM sigmax.submit_order(3, 'BTC/USDT', 'buy', 0.001, 'limit', 49000)});
my $killer = $node->background_psql('sigmax', on_error_stop => 0);
$killer->query_until(qr/started/, qq{\\echo started\nSELECT sigmax.kill_switch('race drill');\n});
$node->poll_query_until('sigmax',
	q{SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted})
  or die 'the kill switch did not wait';
pass('the kill switch waits for the order in flight');
$holder->query_safe('COMMIT');
$holder->quit;
$killer->quit;
$node->poll_query_until('sigmax', q{SELECT sigmax.trading_state() = 'halted'}) or die 'not halted';
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.orders WHERE status IN ('accepted', 'pending_approval')}),
	'0', 'the order that committed first was cancelled by the kill switch');
is($node->safe_psql('sigmax', q{SELECT status || ' ' || reason_code FROM sigmax.submit_order(3, 'BTC/USDT', 'buy', 0.001, 'limit', 49000)}),
	'rejected TRADING_HALTED', 'after the kill switch new orders are refused');

# The durable state survives a restart; shared memory is reloaded from it.
$node->restart;
is($node->safe_psql('sigmax', q{SELECT sigmax.trading_state()}), 'halted', 'halted after a restart');
$node->safe_psql('sigmax', q{SELECT sigmax.resume()});
is($node->safe_psql('sigmax', q{SELECT sigmax.trading_state()}), 'active', 'resumed');

# A state change that rolls back never reaches shared memory.
$node->safe_psql('sigmax', q{BEGIN; SELECT sigmax.kill_switch('oops'); ROLLBACK;});
is($node->safe_psql('sigmax', q{SELECT sigmax.trading_state()}), 'active', 'a rolled-back kill switch changes nothing');

done_testing();
