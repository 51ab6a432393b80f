# Tampering with the ledger as a superuser with triggers off is caught by
# sigmax.audit_verify and by the standalone tools/sigmax-verify, which name
# the stream and seq: a changed payload, a deleted middle entry, a deleted
# tail, a chain rewritten with recomputed hashes, and two swapped entries.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

my $node = sigmax_node('tamper', create => 0);
my $verifier = test_root() . '/tools/sigmax-verify';
ok(-x $verifier, 'tools/sigmax-verify is built');

# A fresh database with two streams of ten entries and a checkpoint covering them.
sub ledger_db
{
	my ($db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION sigmax');
	$node->safe_psql($db, q{
		SELECT sigmax.audit_append('trade.note', jsonb_build_object('n', n, 'text', E'tab\there, "quoted", caf\u00e9'), 'app:a')
		  FROM generate_series(1, 10) n;
		SELECT sigmax.audit_append('trade.note', jsonb_build_object('n', n), 'app:b')
		  FROM generate_series(1, 10) n;
		SELECT sigmax.audit_checkpoint();
	});
	is($node->safe_psql($db, 'SELECT count(*) FROM sigmax.audit_verify()'), '0', "$db: intact before tampering");
	return;
}

# Change rows with the refusing triggers disabled, as only a superuser can (they fire
# ALWAYS: session_replication_role = replica does not skip them).
sub tamper
{
	my ($db, $sql) = @_;
	$node->safe_psql($db, qq{BEGIN;
		ALTER TABLE sigmax.audit_log DISABLE TRIGGER audit_log_immutable;
		ALTER TABLE sigmax.audit_checkpoint_streams DISABLE TRIGGER audit_checkpoint_streams_immutable;
		$sql;
		ALTER TABLE sigmax.audit_log ENABLE ALWAYS TRIGGER audit_log_immutable;
		ALTER TABLE sigmax.audit_checkpoint_streams ENABLE ALWAYS TRIGGER audit_checkpoint_streams_immutable;
		COMMIT;});
	return;
}

# Problems as "stream|seq|problem" lines from audit_verify.
sub problems
{
	my ($db) = @_;
	return $node->safe_psql($db,
		q{SELECT coalesce(stream, '') || '|' || coalesce(seq::text, '-') || '|' || problem FROM sigmax.audit_verify() ORDER BY 1});
}

# Export the ledger, the checkpoint and the public key, run sigmax-verify; returns (exit code, stdout).
sub external
{
	my ($db) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	$node->command_ok([ 'psql', '-XAtq', '-d', $node->connstr($db), '-o', "$dir/public.pem",
			'-c', 'SELECT sigmax.audit_public_key()' ], "$db: public key exported");
	$node->command_ok([ 'psql', '-XAtq', '-d', $node->connstr($db), '-o', "$dir/checkpoint.txt",
			'-c', 'SELECT sigmax.audit_checkpoint_export()' ], "$db: checkpoint exported");
	{
		local $ENV{PGOPTIONS} = '-c TimeZone=UTC -c DateStyle=ISO -c bytea_output=hex';
		$node->command_ok([ 'psql', '-Xq', '-d', $node->connstr($db), '-o', "$dir/ledger.copy",
				'-c', 'COPY sigmax.audit_log TO STDOUT' ], "$db: ledger exported");
	}
	my ($out, $err) = ('', '');
	my $h = IPC::Run::run([ $verifier, 'ledger', '--public-key', "$dir/public.pem",
			'--checkpoint', "$dir/checkpoint.txt", "$dir/ledger.copy" ], '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

# Both verifiers must report every expected problem.
sub caught
{
	my ($db, $what, @expected) = @_;
	my $found = problems($db);
	my ($rc, $out, $err) = external($db);
	for my $e (@expected)
	{
		my ($stream, $seq, $problem) = split /\|/, $e;
		like($found, qr/^\Q$stream|$seq|$problem\E$/m, "$what: audit_verify reports $e");
		like($out, qr/^\Q$stream\E\t\Q$seq\E\t\Q$problem\E$/m, "$what: sigmax-verify reports $e");
	}
	is($rc, 1, "$what: sigmax-verify exits 1") or diag("stdout: $out\nstderr: $err");
	return;
}

# An intact ledger passes both.
ledger_db('intact');
my ($rc, $out, $err) = external('intact');
is($rc, 0, 'sigmax-verify accepts the intact ledger') or diag("$out\n$err");
like($out, qr/^intact/, 'and says so');

# An inclusion proof from audit_proof verifies with the public key alone; a changed one does not.
{
	my $dir = PostgreSQL::Test::Utils::tempdir();
	my $proof = $node->safe_psql('intact', q{SELECT sigmax.audit_proof('app:a', 7)});
	PostgreSQL::Test::Utils::append_to_file("$dir/proof.json", $proof);
	$node->command_ok([ 'psql', '-XAtq', '-d', $node->connstr('intact'), '-o', "$dir/public.pem",
			'-c', 'SELECT sigmax.audit_public_key()' ], 'public key for the proof');
	my ($pout, $perr) = ('', '');
	IPC::Run::run([ $verifier, 'proof', '--public-key', "$dir/public.pem", "$dir/proof.json" ], '>', \$pout, '2>', \$perr);
	is($? >> 8, 0, 'sigmax-verify accepts the proof') or diag("$pout\n$perr");
	like($pout, qr/proof ok: app:a seq 7 in checkpoint 1/, 'and names the entry');
	(my $forged = $proof) =~ s/\\"n\\": 7/\\"n\\": 70/;
	isnt($forged, $proof, 'the forged proof differs in its payload');
	PostgreSQL::Test::Utils::append_to_file("$dir/forged.json", $forged);
	IPC::Run::run([ $verifier, 'proof', '--public-key', "$dir/public.pem", "$dir/forged.json" ], '>', \$pout, '2>', \$perr);
	is($? >> 8, 1, 'a proof with a changed payload fails');
}

# (a) one payload changed
ledger_db('payload');
tamper('payload', q{UPDATE sigmax.audit_log SET payload = '{"n": 500}' WHERE stream = 'app:a' AND seq = 5});
caught('payload', 'changed payload', 'app:a|5|hash mismatch');

# (b) a middle entry deleted
ledger_db('middle');
tamper('middle', q{DELETE FROM sigmax.audit_log WHERE stream = 'app:b' AND seq = 4});
caught('middle', 'deleted middle entry', 'app:b|5|gap', 'app:b|10|checkpoint: merkle root mismatch');

# (c) the tail deleted after a checkpoint
ledger_db('tail');
tamper('tail', q{DELETE FROM sigmax.audit_log WHERE stream = 'app:a' AND seq >= 8});
caught('tail', 'deleted tail', 'app:a|10|checkpoint: missing entries');

# (d) the chain rewritten after a checkpoint, hashes recomputed by sigmax itself
ledger_db('rewrite');
tamper('rewrite', q{DELETE FROM sigmax.audit_log WHERE stream = 'app:a' AND seq >= 6});
$node->safe_psql('rewrite',
	q{SELECT sigmax.audit_append('trade.note', jsonb_build_object('n', n, 'forged', true), 'app:a') FROM generate_series(6, 10) n});
is($node->safe_psql('rewrite', q{SELECT count(*) FROM sigmax.audit_verify() WHERE problem IN ('hash mismatch', 'broken link', 'gap')}),
	'0', 'rewrite: the forged chain is internally consistent');
caught('rewrite', 'rewritten chain', 'app:a|10|checkpoint: head mismatch', 'app:a|10|checkpoint: merkle root mismatch');

# (e) two entries swapped
ledger_db('swap');
tamper('swap', q{
	UPDATE sigmax.audit_log SET seq = 1003 WHERE stream = 'app:b' AND seq = 3;
	UPDATE sigmax.audit_log SET seq = 3 WHERE stream = 'app:b' AND seq = 4;
	UPDATE sigmax.audit_log SET seq = 4 WHERE stream = 'app:b' AND seq = 1003});
caught('swap', 'swapped entries', 'app:b|3|broken link', 'app:b|3|hash mismatch',
	'app:b|4|broken link', 'app:b|4|hash mismatch');

# A checkpoint row changed is a bad signature; a checkpoint is never signed over a broken chain.
ledger_db('cpforge');
tamper('cpforge', q{UPDATE sigmax.audit_checkpoint_streams SET seq = 9 WHERE stream = 'app:a'});
like(problems('cpforge'), qr/^\|-\|checkpoint: bad signature$/m, 'a forged checkpoint fails its signature');
# A checkpoint checks what was added since the previous one and never signs it broken;
# what the previous one covered keeps its signed roots, so older damage stays visible.
$node->safe_psql('payload', q{SELECT sigmax.audit_append('trade.note', jsonb_build_object('n', n), 'app:a') FROM generate_series(11, 13) n});
tamper('payload', q{UPDATE sigmax.audit_log SET payload = '{"n": 1200}' WHERE stream = 'app:a' AND seq = 12});
my ($ok, $stdout, $stderr) = $node->psql('payload', 'SELECT sigmax.audit_checkpoint()');
like($stderr, qr/ledger stream "app:a" is broken at seq 12: hash mismatch/, 'no checkpoint over a broken extension');
like(problems('payload'), qr/^app:a\|5\|hash mismatch$/m, 'the older damage is still reported');

done_testing();
