# Unusual trading: an account whose orders or notional over the last five minutes
# are far above its own trailing 24-hour baseline raises an unusual_trading alert,
# ledgered once (a repeat is counted on the open alert); an account trading as it
# always does, below the floors, or younger than a day (no baseline yet) raises
# nothing. The worker runs the check every
# minute even with polling off.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

# The poller starts in another database, so that it does not run the check while the
# test runs it by hand; it is pointed at this one at the end.
my $node = sigmax_node('unusual_trading', conf => "sigmax.database = 'elsewhere'\n");
$node->safe_psql('sigmax', q{
	SELECT sigmax.create_account('quiet', 100000), sigmax.create_account('busy', 100000),
	       sigmax.create_account('small', 100000), sigmax.create_account('whale', 100000),
	       sigmax.create_account('worker', 100000), sigmax.create_account('newbie', 100000);
	-- every account but the newbie has traded for days
	UPDATE sigmax.accounts SET created_at = now() - interval '3 days' WHERE account_id <> 6;
	SELECT sigmax.add_instrument('BTC/USDT', 'binance');
	SELECT sigmax.set_limits(NULL, '{"stale_price_ms": 2000000000, "orders_per_minute": 1000, "max_open_orders": 1000,
		"max_position_pct": 1, "max_exposure_pct": 2}');
	SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);
	-- a day of history before the window: "quiet" placed 2.5 orders every 5 minutes, "busy" 75
	INSERT INTO sigmax.account_activity (account_id, minute, orders, notional)
	SELECT a, m, CASE a WHEN 1 THEN 1 ELSE 30 END, CASE a WHEN 1 THEN 500 ELSE 15000 END
	  FROM unnest(ARRAY[1, 2]) a,
	       generate_series(date_trunc('minute', now()) - interval '24 hours 4 minutes',
	                       date_trunc('minute', now()) - interval '5 minutes', interval '2 minutes') m;
});

# n resting limit orders of qty each (under the market: they do not fill)
sub place
{
	my ($account, $n, $qty) = @_;
	$node->safe_psql('sigmax', qq{SELECT count(*) FROM
		(SELECT sigmax.submit_order($account, 'BTC/USDT', 'buy', $qty, 'limit', 48000) AS o
		   FROM generate_series(1, $n) OFFSET 0) s WHERE (o).status = 'accepted'});
}

place(1, 30, 0.001);    # 30 in five minutes against a baseline of 2.5: 12 times
place(2, 60, 0.001);    # as usual
place(3, 10, 0.001);    # no history, but under the 20-order floor
place(4, 1, 0.5);       # one order: 24,000 of notional, 24 % of equity, no history
place(6, 25, 0.02);     # 25 orders and 24 % of equity, but the account is new: no baseline of its own yet

is($node->safe_psql('sigmax', 'SELECT sigmax._check_trading_baselines()'), '2', 'the check raises two alerts');
is($node->safe_psql('sigmax', q{SELECT string_agg(account_id || ':' || subject, ',' ORDER BY account_id, subject)
	FROM sigmax.alerts WHERE kind = 'unusual_trading'}), '1:order_rate,4:notional',
	'the quiet account\'s order rate and the idle account\'s notional; not the busy account, not under the floors, not a new account');
is($node->safe_psql('sigmax', q{SELECT (detail->>'orders') || ' ' || (detail->>'baseline_orders') || ' ' || severity
	FROM sigmax.alerts WHERE kind = 'unusual_trading' AND account_id = 1}), '30 2.50 warning',
	'the alert says what it compared');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.audit_log WHERE action = 'trading.unusual'}), '2',
	'each is ledgered in its account\'s stream');
is($node->safe_psql('sigmax', 'SELECT sigmax._check_trading_baselines()'), '0', 'checked again: nothing new');
is($node->safe_psql('sigmax', q{SELECT count(*) || ' ' || sum(repeat_count) FROM sigmax.alerts WHERE kind = 'unusual_trading'}),
	'2 4', 'the repeats are counted on the open alerts (raised once, seen twice)');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.audit_log WHERE action = 'trading.unusual'}), '2',
	'and not ledgered again');
is($node->safe_psql('sigmax', q{SELECT orders FROM sigmax.account_activity WHERE account_id = 3}), '10',
	'account_activity counts every order placed');

$node->safe_psql('sigmax', q{INSERT INTO sigmax.account_activity VALUES (1, now() - interval '26 hours', 5, 5)});
$node->safe_psql('sigmax', 'SELECT sigmax._check_trading_baselines()');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.account_activity WHERE minute < now() - interval '25 hours'}),
	'0', 'and keeps 25 hours');

place(5, 6, 0.001);
$node->safe_psql('sigmax', q{ALTER SYSTEM SET sigmax.unusual_trading_min_orders = 5;
	ALTER SYSTEM SET sigmax.database = 'sigmax'; SELECT pg_reload_conf()});
ok($node->poll_query_until('sigmax', q{SELECT count(*) = 1 FROM sigmax.alerts WHERE kind = 'unusual_trading' AND account_id = 5}),
	'the worker runs the check by itself (polling off), with the settings reloaded');
is($node->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0', 'the ledger verifies');

done_testing();
