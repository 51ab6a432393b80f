# Entry hashes recompute outside PostgreSQL exactly as docs/ledger-format.md
# says (bash, printf, sha256sum); checkpoints reach NOTIFY and the server log;
# the signing key stays private.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

my $node = sigmax_node('format');
$node->safe_psql('sigmax', q{
	SELECT sigmax.audit_append('report.sent', '{"report": 7}', 'app:demo');
	SELECT sigmax.audit_append('report.sent', jsonb_build_object('note', E'caf\u00e9 "q" \\ tab\t', 'report', 8.50), 'app:demo');
});

# The doc's shell recipe, fed each entry's fields.
my $recipe = <<'SH';
netstring() { printf '%d:%s,' "$(printf '%s' "$1" | wc -c)" "$1"; }
canonical() { netstring sigmax-ledger-v1; for f in "$@"; do netstring "$f"; done; }
prev=$1; shift
{ printf "$(echo "$prev" | sed 's/../\\x&/g')"; canonical "$@"; } | sha256sum | cut -d' ' -f1
SH
for my $seq (1, 2)
{
	my $row = $node->safe_psql('sigmax', qq{
		SELECT encode(prev_hash, 'hex'), stream, seq,
		       to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		       actor, action, payload::text, encode(hash, 'hex')
		  FROM sigmax.audit_log WHERE stream = 'app:demo' AND seq = $seq});
	my @f = split /\|/, $row, -1;
	my $stored = pop @f;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'bash', '-c', $recipe, 'recipe', @f ], '>', \$out, '2>', \$err);
	chomp $out;
	is($out, $stored, "entry $seq: the shell recipe gives the stored hash");
}

# Proofs on a stream larger than any memory-context block (regression: a proof
# over 4,096+ entries read freed memory) verify with the standalone tool.
$node->safe_psql('sigmax', q{SELECT sigmax.audit_append('bulk', jsonb_build_object('n', n), 'app:big') FROM generate_series(1, 9000) n});
my ($cid) = split /\|/, $node->safe_psql('sigmax', 'SELECT * FROM sigmax.audit_checkpoint()');
{
	my $dir = PostgreSQL::Test::Utils::tempdir();
	my $verifier = test_root() . '/tools/sigmax-verify';
	$node->command_ok([ 'psql', '-XAtq', '-d', $node->connstr('sigmax'), '-o', "$dir/public.pem",
			'-c', 'SELECT sigmax.audit_public_key()' ], 'public key');
	for my $seq (1, 4097, 8999, 9000)
	{
		PostgreSQL::Test::Utils::append_to_file("$dir/proof$seq.json",
			$node->safe_psql('sigmax', "SELECT sigmax.audit_proof('app:big', $seq)"));
		my ($out, $err) = ('', '');
		IPC::Run::run([ $verifier, 'proof', '--public-key', "$dir/public.pem", "$dir/proof$seq.json" ],
			'>', \$out, '2>', \$err);
		like($out, qr/proof ok: app:big seq $seq in checkpoint $cid/, "proof of entry $seq of 9000 verifies")
		  or diag($err);
	}
}

# A checkpoint is announced on NOTIFY sigmax_checkpoint and in the server log.
my $listener = $node->background_psql('sigmax');
$listener->query_safe('LISTEN sigmax_checkpoint');
my $digest = $node->safe_psql('sigmax', 'SELECT digest FROM sigmax.audit_checkpoint()');
my ($heard) = $listener->query('SELECT 1');
$listener->quit;
like($heard . $listener->{stdout}, qr/sigmax_checkpoint.*"digest": "$digest"/s, 'NOTIFY carries the checkpoint digest')
  or diag($heard);
ok($node->log_contains(qr/sigmax checkpoint \d+: \d+ streams, digest $digest, signature [0-9a-f]{128}/),
	'the server log has the checkpoint');

# The key stays private: group-readable is refused, and no client sees its path.
my $key = $node->basedir . '/checkpoint.pem';
chmod 0644, $key;
my ($rc, $out, $err) = $node->psql('sigmax', 'SELECT sigmax.audit_checkpoint()');
like($err, qr/the checkpoint signing key is not private to the server/, 'a readable key is refused');
unlike($err, qr/\Q$key\E|checkpoint\.pem/, 'the client never sees the key path');
ok($node->log_contains(qr/\Q$key\E/), 'the server log names the file');
chmod 0600, $key;

$node->append_conf('postgresql.conf', "sigmax.checkpoint_key_file = ''\n");
$node->reload;
($rc, $out, $err) = $node->psql('sigmax', 'SELECT sigmax.audit_checkpoint()');
like($err, qr/no checkpoint signing key is configured.*HINT:.*openssl genpkey/s, 'no key: a clear error with a hint');
is($node->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_checkpoints'), '2', 'nothing was stored');
is($node->safe_psql('sigmax', q{SELECT has_function_privilege('sigmax_trader', 'sigmax.audit_checkpoint()', 'EXECUTE')}),
	'f', 'traders cannot checkpoint');

done_testing();
