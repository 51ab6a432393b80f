# pg_dump and pg_restore keep the configuration, the trading state and the ledger
# with its checkpoints, row for row; the restored ledger verifies against the last
# checkpoint and its chains continue.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

# The poller works in another database: its housekeeping (account_activity, alerts)
# must not change this one between the dump and the comparison.
my $node = sigmax_node('dump', conf => "sigmax.database = 'elsewhere'\n");
$node->safe_psql('sigmax', q{
	SELECT sigmax.audit_append('note', jsonb_build_object('n', n), 'app:a') FROM generate_series(1, 50) n;
	-- configuration and a trading session: accounts, limits, venues, orders, fills, stops, alerts
	SELECT sigmax.create_account('desk', 100000), sigmax.create_account('risky', 10000);
	SELECT sigmax.add_instrument('BTC/USDT', 'binance');
	SELECT sigmax.set_limits(1, '{"max_position_pct": 0.2, "max_loss_streak": 5}');
	SELECT sigmax.set_limits(NULL, '{"stale_price_ms": 2000000000}');   -- the restore takes its time
	SELECT sigmax.add_exchange('binance', enabled => false);
	SELECT sigmax.add_price_feed('binance', 'ETH/USDT');
	SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.1);
	SELECT status FROM sigmax.submit_order(2, 'BTC/USDT', 'buy', 0.01);
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01, 'limit', 49000, 'resting-1');
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'sell', 0.05);
	SELECT sigmax.record_price('binance', 'BTC/USDT', 45999, 46001, 46000);   -- risky pauses itself
	SELECT sigmax.record_venue_error('kraken', 'HTTP 503');
	SELECT sigmax.audit_checkpoint();
	SELECT sigmax.audit_append('note', '{"after": "checkpoint"}', 'app:a');
});
my $dump = PostgreSQL::Test::Utils::tempdir() . '/sigmax.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('sigmax'), '-f', $dump ], 'pg_dump');

# Without sigmax.ledger_restore the ledger refuses the rows.
$node->safe_psql('postgres', 'CREATE DATABASE refused');
my ($out, $err) = ('', '');
IPC::Run::run([ 'pg_restore', '-d', $node->connstr('refused'), $dump ], '>', \$out, '2>', \$err);
like($err, qr/entries are appended to sigmax.audit_log only through sigmax's functions/,
	'a plain restore is refused by the ledger trigger');

$node->safe_psql('postgres', 'CREATE DATABASE restored');
{
	local $ENV{PGOPTIONS} = '-c sigmax.ledger_restore=on';
	$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
		'pg_restore with sigmax.ledger_restore');
}
my $q = q{SELECT count(*), sum(hashtext(encode(hash, 'hex'))) FROM sigmax.audit_log};
is($node->safe_psql('restored', $q), $node->safe_psql('sigmax', $q), 'every entry came back');

# Every table of the schema, row for row (the ledger included): nothing unmarked for
# dump is lost, and nothing is replayed (a fill's trigger must not run again).
my @tables = split /\n/, $node->safe_psql('sigmax',
	q{SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'sigmax'::regnamespace AND c.relkind = 'r' ORDER BY 1});
cmp_ok(scalar @tables, '>=', 15, 'the schema has its tables');
for my $t (@tables)
{
	my $rows = qq{SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') FROM sigmax.$t t};
	is($node->safe_psql('restored', $rows), $node->safe_psql('sigmax', $rows), "sigmax.$t: every row came back as it was");
}
for my $seq (qw(accounts_id_seq orders_id_seq fills_id_seq alerts_id_seq stops_id_seq))
{
	is($node->safe_psql('restored', "SELECT last_value FROM sigmax.$seq"),
		$node->safe_psql('sigmax', "SELECT last_value FROM sigmax.$seq"), "sigmax.$seq continues where it was");
}
is($node->safe_psql('restored', q{SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01, 'limit', 45000)}),
	'accepted', 'trading goes on in the restored database');
is($node->safe_psql('restored', 'SELECT count(*) FROM sigmax.audit_checkpoints'), '1', 'the checkpoint came back');
is($node->safe_psql('restored', 'SELECT count(*) FROM sigmax.audit_verify()'), '0',
	'the restored ledger verifies against the checkpoint');
is($node->safe_psql('restored', q{SELECT sigmax.audit_append('note', '{"after": "restore"}', 'app:a')}),
	'52', 'the chain continues after the restore');
is($node->safe_psql('restored', 'SELECT checkpoint_id FROM sigmax.audit_checkpoint()'), '2',
	'and so do the checkpoints');
is($node->safe_psql('restored', 'SELECT count(*) FROM sigmax.audit_verify()'), '0', 'still intact');
is($node->safe_psql('restored', q{SELECT state FROM sigmax.status WHERE section = 'triggers'}), 'as installed',
	'the triggers keep their modes (ENABLE ALWAYS from CREATE EXTENSION)');

# A data-only restore with --disable-triggers ends each table with ENABLE TRIGGER ALL,
# which makes the ENABLE ALWAYS triggers ordinary ones: sigmax.status shows it.
$node->safe_psql('postgres', 'CREATE DATABASE data_only');
$node->safe_psql('data_only', 'CREATE EXTENSION sigmax');
IPC::Run::run([ 'pg_restore', '--data-only', '--disable-triggers', '-t', 'audit_log', '-t', 'instruments',
		'-d', $node->connstr('data_only'), $dump ], '>', \$out, '2>', \$err);
like($node->safe_psql('data_only', q{SELECT state || ': ' || detail FROM sigmax.status WHERE section = 'triggers'}),
	qr/^CHANGED: .*audit_log\.audit_log_immutable is ENABLE.*instruments\.instruments_cached is ENABLE/,
	'a data-only restore with --disable-triggers: sigmax.status names the triggers whose mode changed');

done_testing();
