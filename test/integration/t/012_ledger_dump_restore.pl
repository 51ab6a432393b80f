# pg_dump and pg_restore keep the ledger and its checkpoints; the restored
# ledger verifies against the last checkpoint and its chains continue.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

my $node = sigmax_node('dump');
$node->safe_psql('sigmax', q{
	SELECT sigmax.audit_append('note', jsonb_build_object('n', n), 'app:a') FROM generate_series(1, 50) n;
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
is($node->safe_psql('restored', 'SELECT count(*) FROM sigmax.audit_checkpoints'), '1', 'the checkpoint came back');
is($node->safe_psql('restored', 'SELECT count(*) FROM sigmax.audit_verify()'), '0',
	'the restored ledger verifies against the checkpoint');
is($node->safe_psql('restored', q{SELECT sigmax.audit_append('note', '{"after": "restore"}', 'app:a')}),
	'52', 'the chain continues after the restore');
is($node->safe_psql('restored', 'SELECT checkpoint_id FROM sigmax.audit_checkpoint()'), '2',
	'and so do the checkpoints');
is($node->safe_psql('restored', 'SELECT count(*) FROM sigmax.audit_verify()'), '0', 'still intact');

done_testing();
