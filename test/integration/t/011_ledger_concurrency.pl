# Appends to one stream serialize with no fork and no gap, under 32 sessions,
# with rollbacks and savepoints, and from REPEATABLE READ; appends to
# different streams never wait on each other.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

my $node = sigmax_node('concurrency', conf => "max_connections = 60\n");

# 32 clients race on one stream: plain appends, savepoints rolled back, whole transactions rolled back.
$node->pgbench(
	'-n -c 32 -j 4 -t 40',
	0,
	[qr/processed: 1280\/1280/],
	[qr/^$/],
	'32 sessions append to one stream',
	{
		'001_append' => q{SELECT sigmax.audit_append('race.kept', jsonb_build_object('client', :client_id), 'app:race');},
		'002_savepoint' => q{
BEGIN;
SELECT sigmax.audit_append('race.kept', '{"via": "savepoint"}', 'app:race');
SAVEPOINT s;
SELECT sigmax.audit_append('race.undone', '{}', 'app:race');
ROLLBACK TO SAVEPOINT s;
COMMIT;
},
		'003_rollback' => q{
BEGIN;
SELECT sigmax.audit_append('race.undone', '{}', 'app:race');
ROLLBACK;
},
	},
	'sigmax');

my $stats = $node->safe_psql('sigmax',
	q{SELECT count(*), max(seq), count(*) FILTER (WHERE action = 'race.undone') FROM sigmax.audit_log WHERE stream = 'app:race'});
my ($count, $max, $undone) = split /\|/, $stats;
cmp_ok($count, '>', 0, "$count entries committed");
is($max, $count, 'seq runs 1..N with no gap');
is($undone, '0', 'nothing rolled back is in the ledger');
is($node->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0',
	'the chain verifies: no fork, no gap');
is($node->safe_psql('sigmax',
		q{SELECT count(*) FROM sigmax.audit_log a JOIN sigmax.audit_log b
		    ON a.stream = b.stream AND a.seq + 1 = b.seq AND b.prev_hash <> a.hash}),
	'0', 'every entry links to the one before it');

# A transaction holding an append on one stream blocks that stream only.
my $holder = $node->background_psql('sigmax');
$holder->query_safe(q{BEGIN; SELECT sigmax.audit_append('held', '{}', 'app:one')});
is($node->safe_psql('sigmax',
		q{SET lock_timeout = '2s'; SELECT sigmax.audit_append('free', '{}', 'app:two')}),
	'1', 'another stream appends while the first is held');
my ($rc, $out, $err) = $node->psql('sigmax',
	q{SET lock_timeout = '200ms'; SELECT sigmax.audit_append('waits', '{}', 'app:one')});
like($err, qr/lock timeout/, 'the same stream waits for the holder');

# A REPEATABLE READ transaction whose snapshot predates a commit still links to it.
my $rr = $node->background_psql('sigmax');
$rr->query_safe(q{BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM sigmax.audit_log});
$holder->query_safe('COMMIT');
is($node->safe_psql('sigmax', q{SELECT sigmax.audit_append('later', '{}', 'app:one')}), '2',
	'a later append follows the committed one');
is($rr->query_safe(q{SELECT sigmax.audit_append('from_rr', '{}', 'app:one')}), '3',
	'the REPEATABLE READ append links to the latest head, not its snapshot');
$rr->query_safe('COMMIT');
$rr->quit;
$holder->quit;
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.audit_verify('app:one')}), '0',
	'that stream verifies');

done_testing();
