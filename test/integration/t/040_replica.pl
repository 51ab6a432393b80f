# Replicas: on a streaming standby (pg_basebackup over loopback) reads,
# sigmax.status and audit_verify work and writes fail with sigmax's own error;
# after a failover the promoted node trades on and its ledger continues every
# chain without a fork, under a signed checkpoint from before the failover.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

# The poller is on (nothing to poll): the standby inherits the setting, so only the
# primary-only registration keeps the worker off there.
my $primary = sigmax_node('replica_primary', worker => 1, init => { allows_streaming => 1 });
$primary->safe_psql('sigmax', q{
	SELECT sigmax.create_account('desk', 100000);
	SELECT sigmax.add_instrument('BTC/USDT', 'binance');
	SELECT sigmax.set_limits(NULL, '{"stale_price_ms": 2000000000}');
	SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.1);
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01, 'limit', 45000, 'rest-1');
	SELECT sigmax.audit_append('note', '{"n": 1}', 'app:ops');
	SELECT sigmax.audit_checkpoint();
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('replica_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->safe_psql('sigmax', q{SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'sell', 0.02)});
$primary->wait_for_catchup($standby);

# --- reads on the standby ------------------------------------------------------------

is($standby->safe_psql('sigmax', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
is($standby->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.orders'),
	$primary->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.orders'), 'orders are readable and streamed');
is($standby->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0', 'audit_verify works on the standby');
is($standby->safe_psql('sigmax', q{SELECT string_agg(section || ':' || coalesce(state, ''), ',' ORDER BY section)
	FROM sigmax.status WHERE section IN ('account', 'ledger', 'worker')}),
	'account:active,ledger:verifies,worker:standby: not polling', 'sigmax.status works on the standby');
is($standby->safe_psql('sigmax', 'SELECT state FROM sigmax.trading_state(1) state'), 'active', 'trading_state reads');
ok($primary->poll_query_until('sigmax', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'sigmax poller'}),
	'the primary runs the poller');
is($standby->safe_psql('sigmax', q{SELECT status FROM sigmax.check_order(1, 'BTC/USDT', 'buy', 0.01)}), 'filled',
	'check_order (the dry run) gives its verdict on the standby (a paper market order would fill)');
like($standby->safe_psql('sigmax', q{SELECT sigmax.audit_checkpoint_export()}), qr/\S/,
	'the last checkpoint exports from the standby, for tools/sigmax-verify');

# --- writes fail with a clear error --------------------------------------------------

my %writes = (
	'submit_order' => q{SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01)},
	'audit_append' => q{SELECT sigmax.audit_append('note', '{}', 'app:ops')},
	'audit_checkpoint' => q{SELECT * FROM sigmax.audit_checkpoint()},
);
for my $w (sort keys %writes)
{
	my ($ret, $out, $err) = $standby->psql('sigmax', $writes{$w}, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	isnt($ret, 0, "$w fails on the standby");
	like($err, qr/ERROR:  25006: cannot .* on a standby/, "$w: sigmax's own message with SQLSTATE 25006");
	like($err, qr/HINT:  Connect to the primary\./, "$w: the hint says where to go");
}
my ($ret, undef, $err) = $standby->psql('sigmax', q{SELECT sigmax.record_price('binance', 'BTC/USDT', 1, 2, 1.5)});
like($err, qr/read-only transaction/, 'record_price fails with PostgreSQL\'s read-only error');
is($standby->safe_psql('sigmax', 'SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE \'sigmax%\''), '0',
	'no sigmax worker runs on the standby (sigmax.worker_enabled is on there too)');
is($standby->safe_psql('sigmax', 'SHOW sigmax.worker_enabled'), 'on', 'the standby has the worker enabled');

# A state change on the primary reaches the standby, which has read the state before
# (shared memory must not keep a stale copy there, nor carry one over the promotion).
$primary->safe_psql('sigmax', q{SELECT sigmax.kill_switch('failover drill')});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('sigmax', 'SELECT sigmax.trading_state()'), 'halted', 'the standby sees the kill switch');
is($standby->safe_psql('sigmax', q{SELECT qty FROM sigmax.positions WHERE account_id = 1}), '-0.02',
	'the account is short (its first buy was over the position limit)');
is($standby->safe_psql('sigmax', q{SELECT reason_code FROM sigmax.check_order(1, 'BTC/USDT', 'sell', 0.01)}),
	'TRADING_HALTED', 'and judges an order that adds to the position by it');

# --- failover: the primary stops, the standby is promoted ------------------------------

my $heads = q{SELECT string_agg(stream || ':' || seq || ':' || encode(hash, 'hex'), ',' ORDER BY stream)
	FROM (SELECT DISTINCT ON (stream) stream, seq, hash FROM sigmax.audit_log ORDER BY stream, seq DESC) h};
my $heads_before = $primary->safe_psql('sigmax', $heads);
$primary->stop;
$standby->promote;
is($standby->safe_psql('sigmax', 'SELECT pg_is_in_recovery()'), 'f', 'the standby is promoted');
is($standby->safe_psql('sigmax', $heads), $heads_before, 'the promoted node has every stream head the primary had');

is($standby->safe_psql('sigmax', q{SELECT reason_code FROM sigmax.submit_order(1, 'BTC/USDT', 'sell', 0.01)}),
	'TRADING_HALTED', 'the promoted node keeps the halt it replayed');
$standby->safe_psql('sigmax', 'SELECT sigmax.resume()');
is($standby->safe_psql('sigmax', q{SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01)}), 'filled',
	'resumed by a person, the promoted node takes orders');
is($standby->safe_psql('sigmax', q{SELECT sigmax.audit_append('note', '{"n": 2}', 'app:ops')}), '2',
	'the app stream continues at the next seq');
is($standby->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.audit_log l JOIN sigmax.audit_log p
	ON p.stream = l.stream AND p.seq = l.seq - 1 WHERE l.prev_hash <> p.hash}), '0',
	'each new entry links to the head the standby replayed (no fork)');
is($standby->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0',
	'every chain verifies across the failover, under the checkpoint signed before it');
is($standby->safe_psql('sigmax', 'SELECT checkpoint_id FROM sigmax.audit_checkpoint()'), '2',
	'the promoted node signs the next checkpoint');
is($standby->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0', 'and verifies it');
$standby->stop;

done_testing();
