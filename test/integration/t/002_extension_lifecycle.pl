# The library works preloaded or loaded by CREATE EXTENSION alone; the extension
# installs in several databases and drops cleanly.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

my $plain = sigmax_node('not_preloaded', preload => 0);
is($plain->safe_psql('sigmax', 'SELECT sigmax.version() = extversion FROM pg_extension WHERE extname = $$sigmax$$'),
	't', 'without preloading, CREATE EXTENSION loads the library and the version matches');
is($plain->safe_psql('sigmax', 'SELECT sigmax.version() IS NOT NULL; SHOW sigmax.trading_mode'), "t\npaper",
	'settings are defined once the library is loaded on demand');
my ($rc, $out, $err) = $plain->psql('sigmax', q{SELECT sigmax.submit_order(1, 'BTC/USDT', 'buy', 1)});
like($err, qr/sigmax.submit_order requires sigmax to be loaded via shared_preload_libraries.*HINT:  Add sigmax to shared_preload_libraries/s,
	'what needs shared memory says so, with a hint');
($rc, $out, $err) = $plain->psql('sigmax', q{SELECT sigmax.trading_state()});
like($err, qr/requires sigmax to be loaded via shared_preload_libraries/, 'so does the trading state');
is($plain->safe_psql('sigmax', q{SELECT sigmax.audit_append('works', '{}')}), '1',
	'the ledger works without preloading');
$plain->safe_psql('postgres', 'CREATE DATABASE second');
$plain->safe_psql('second', 'CREATE EXTENSION sigmax');
is($plain->safe_psql('second', 'SELECT count(*) FROM pg_roles WHERE rolname LIKE $$sigmax\_%$$'),
	'3', 'a second database shares the three roles');
$plain->safe_psql('second', 'DROP EXTENSION sigmax');
is($plain->safe_psql('second',
		q{SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'sigmax'::regnamespace)
		       + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'sigmax'::regnamespace)}),
	'0', 'DROP EXTENSION leaves no sigmax object');
is($plain->safe_psql('sigmax', 'SELECT sigmax.version() IS NOT NULL'), 't',
	'the first database is unaffected');
$plain->stop;

my $node = sigmax_node('preloaded');
is($node->safe_psql('sigmax', q{SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'}),
	'sigmax', 'sigmax preloaded');
($rc, $out, $err) = $node->psql('sigmax', q{SET sigmax.no_such_setting = 1});
like($err, qr/invalid configuration parameter name "sigmax.no_such_setting"/,
	'the sigmax prefix is reserved');
$node->append_conf('postgresql.conf', "sigmax.trading_mode = 'testnet'\n");
$node->reload;
$node->poll_query_until('sigmax', 'SELECT current_setting($$sigmax.trading_mode$$) = $$testnet$$')
  or die 'reload did not apply';
pass('sigmax.trading_mode changes on reload');
$node->stop;

done_testing();
