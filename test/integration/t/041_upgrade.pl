# Upgrades: a database installed at 1.0.0 is refused by the 1.1.0 library (with a
# hint) and idles its worker with a LOG line; ALTER EXTENSION sigmax UPDATE brings
# it to 1.1.0 with its data and ledger intact, and the updated schema is exactly a
# fresh install's (functions, views, tables, constraints, indexes, triggers, grants).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use SigmaxTest;

my $node = sigmax_node('upgrade', worker => 1, create => 0);
$node->safe_psql('postgres', 'CREATE DATABASE sigmax');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('sigmax', "CREATE EXTENSION sigmax VERSION '1.0.0'");
$node->safe_psql('fresh', 'CREATE EXTENSION sigmax');
my $library = $node->safe_psql('sigmax', 'SELECT sigmax.version()');
isnt($library, '1.0.0', "the library is newer than 1.0.0 ($library)");
is($node->safe_psql('fresh', q{SELECT extversion FROM pg_extension WHERE extname = 'sigmax'}), $library,
	'a fresh install is at the library version');

# Data written under 1.0.0's objects (the library refuses a 1.0.0 database, so the
# version is lifted only while the data is written).
$node->safe_psql('sigmax', qq{
	UPDATE pg_extension SET extversion = '$library' WHERE extname = 'sigmax';
	SELECT sigmax.create_account('desk', 100000);
	SELECT sigmax.add_instrument('BTC/USDT', 'binance');
	SELECT sigmax.set_limits(NULL, '{"stale_price_ms": 2000000000}');
	SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.1);
	SELECT sigmax.audit_checkpoint();
	UPDATE pg_extension SET extversion = '1.0.0' WHERE extname = 'sigmax';
	-- 1.0.0 kept large orders pending_approval with nothing to approve them
	INSERT INTO sigmax.orders (account_id, symbol, side, order_type, qty, status, created_by)
	VALUES (1, 'BTC/USDT', 'buy', 'market', 0.01, 'pending_approval', 'alice');
});

my ($ret, $out, $err) = $node->psql('sigmax', q{SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01)},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  55000: the sigmax library is version \Q$library\E but this database's sigmax objects are version 1\.0\.0/,
	'the library refuses the 1.0.0 objects');
like($err, qr/HINT:  Run ALTER EXTENSION sigmax UPDATE/, 'with a hint to update');
$node->safe_psql('sigmax', 'SELECT sigmax._poller_reload()');
ok($node->poll_query_until('sigmax', q{SELECT state LIKE 'idle: the library is version%' FROM sigmax.worker_state()}),
	'the worker idles instead of failing');
like(slurp_file($node->logfile), qr/LOG:  sigmax worker: idle: the library is version \Q$library\E but the extension in database "sigmax" is 1\.0\.0; run ALTER EXTENSION sigmax UPDATE/,
	'with one LOG line that says what to do');

$node->safe_psql('sigmax', 'ALTER EXTENSION sigmax UPDATE');
is($node->safe_psql('sigmax', q{SELECT extversion FROM pg_extension WHERE extname = 'sigmax'}), $library, 'updated');
# at the commit, not at the next 10 s recheck: the update script wakes the worker
my $polling = 0;
for (1 .. 50)
{
	$polling = $node->safe_psql('sigmax', q{SELECT state LIKE 'polling%' FROM sigmax.worker_state()}) eq 't' and last;
	usleep(100_000);
}
ok($polling, 'the worker polls again within 5 s of the update\'s commit');
is($node->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0',
	'the ledger written under 1.0.0 verifies against its checkpoint');
is($node->safe_psql('sigmax', q{SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01)}), 'filled',
	'trading goes on');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.orders}), '3', 'the 1.0.0 orders are still there');
is($node->safe_psql('sigmax', q{SELECT action || ' ' || status || ' ' || requested_by FROM sigmax.approval_requests
	WHERE order_id = 2}), 'order pending alice', 'and the one pending approval has its request, by its trader');
like($node->safe_psql('sigmax', q{SELECT sigmax.metrics()}), qr/^sigmax_worker_up 1$/m, 'metrics() has 1.1.0\'s families');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.status WHERE section = 'worker'}), '1',
	'sigmax.status has 1.1.0\'s poller row');

# The updated schema is a fresh install's, object for object. (While no
# sigmax--1.1.0.sql exists, a fresh install runs the same two scripts; this guards
# the day a direct install script is added.)
my %catalog = (
	functions => q{SELECT p.oid::regprocedure::text, md5(pg_get_functiondef(p.oid)), coalesce(p.proacl::text, '')
		FROM pg_proc p WHERE p.pronamespace = 'sigmax'::regnamespace AND p.prokind <> 'a' ORDER BY 1},
	views => q{SELECT c.relname, md5(pg_get_viewdef(c.oid)), coalesce(c.relacl::text, '')
		FROM pg_class c WHERE c.relnamespace = 'sigmax'::regnamespace AND c.relkind = 'v' ORDER BY 1},
	columns => q{SELECT table_name, column_name, data_type, coalesce(column_default, ''), is_nullable
		FROM information_schema.columns WHERE table_schema = 'sigmax' ORDER BY 1, ordinal_position},
	constraints => q{SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
		FROM pg_constraint WHERE connamespace = 'sigmax'::regnamespace ORDER BY 1, 2},
	indexes => q{SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'sigmax' ORDER BY 1},
	triggers => q{SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
		FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'sigmax'::regnamespace)
		ORDER BY 1, 2},
	table_grants => q{SELECT c.relname, c.relkind, coalesce(c.relacl::text, '')
		FROM pg_class c WHERE c.relnamespace = 'sigmax'::regnamespace ORDER BY 1},
	config_dump => q{SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'sigmax' ORDER BY 1},
);
for my $what (sort keys %catalog)
{
	my $updated = $node->safe_psql('sigmax', $catalog{$what});
	is($updated, $node->safe_psql('fresh', $catalog{$what}), "updated = fresh install: $what");
}

$node->stop;
done_testing();
