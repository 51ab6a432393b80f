# The kill switch cannot be held off: a session that leaves an order open (idle in
# transaction) is terminated after sigmax.state_change_grace, its order rolls back,
# and the kill switch halts trading and cancels every working order.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use SigmaxTest;

my $node = sigmax_node('kill_idle', conf => "sigmax.state_change_grace = 1000\n");
$node->safe_psql('sigmax', q{
	SELECT sigmax.create_account('desk', 100000);
	SELECT sigmax.add_instrument('BTC/USDT', 'binance');
	SELECT sigmax.set_limits(NULL, '{"stale_price_ms": 2000000000}');
	SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01, 'limit', 49000, 'resting');
});

my $idle = $node->background_psql('sigmax', on_error_stop => 0);
$idle->query_safe(q{BEGIN; SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01, 'limit', 48500, 'left-open')});
my $idle_pid = $node->safe_psql('sigmax',
	q{SELECT pid FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = 'sigmax'});
like($idle_pid, qr/^\d+$/, 'a session holds an order open, idle in transaction');

my $t0 = time;
my ($ret, $out, $err) = $node->psql('sigmax', q{SELECT sigmax.kill_switch('drill with an open order')});
my $elapsed = time - $t0;
is($ret, 0, 'the kill switch goes through');
is($out, '1', 'and cancels the one committed working order') or diag("out: $out");
like($err, qr/WARNING:  terminated sessions holding an order open: $idle_pid/, 'naming the session it terminated');
cmp_ok($elapsed, '<', 30, 'after the grace period, not for ever');
ok($node->poll_query_until('sigmax', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $idle_pid"),
	'the idle session is gone');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.orders WHERE client_order_id = 'left-open'}), '0',
	'its order rolled back');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.orders WHERE status = 'accepted'}), '0', 'nothing is working');
is($node->safe_psql('sigmax', 'SELECT sigmax.trading_state()'), 'halted', 'trading is halted');
is($node->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0', 'the ledger verifies');
$idle->quit;

# A state change that finds no order open does not wait and terminates nobody.
$t0 = time;
($ret, $out, $err) = $node->psql('sigmax', 'SELECT sigmax.resume()');
is($ret, 0, 'resume goes through');
unlike($err, qr/terminated/, 'terminating nobody');

done_testing();
