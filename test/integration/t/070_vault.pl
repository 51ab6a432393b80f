# Secrets from Vault's KV v2 API with an environment fallback (src/secrets.c), against a
# loopback stand-in for Vault (test/mock_vault): each of Vault's answers (200, 403 by
# policy and for a bad token, 404, 500, 503, a timeout, a refused connection, a body that
# is not JSON or lacks the field, one nested too deep, one with a number out of every range)
# gives the right source and status without an error, with the server's
# environment variable SIGMAX_<NAME> as the fallback where set and "missing" where not;
# the token file is read with each request, sent as X-Vault-Token, and refused when other
# users may read it, when it is not the server's user's, and when it is a symbolic link or
# a FIFO (at once); outcomes are cached per session for sigmax.vault_cache_ttl, and a
# lookup for the status only leaves no copy of the value in the backend's memory; a
# fallback is logged once per session and cause; a cancel ends a wait at once; TLS is
# verified against sigmax.vault_ca_file; exchange credentials are named
# <exchange>_<testnet|live>_<api_key|api_secret>. No value or token ever reaches a
# result, an error, the server log, the ledger or pg_stat_activity. Everything listens
# on 127.0.0.1; the one non-loopback address is refused before any connection.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use IO::Socket::INET;
use POSIX ();
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use SigmaxTest;

# Distinct, recognisable values: none of them may ever come back out of the server.
my $token = 'hvs.sigmax-test-token-' . join('', map { ('a' .. 'z')[ rand 26 ] } 1 .. 16);
my $wrong_token = 'hvs.wrong-token-' . join('', map { ('a' .. 'z')[ rand 26 ] } 1 .. 16);
my %vault_values = (
	ok_key => 'VaultValueOkKey-7Q2x',
	cache_key => 'VaultValueCacheKey-3Rk9',
	slow_one => 'VaultValueSlowOne-8Hn4',
	binance_testnet_api_key => 'VaultValueBinanceTestnetKey-5Jd1',
	binance_testnet_api_secret => 'VaultValueBinanceTestnetSecret-2Wp6',
	tls_key => 'VaultValueTlsKey-9Lm3',
	huge_number => 'VaultValueHugeNumber-6Fj2',
	# JSON-escaped on the wire: the unescaped form exists only where the value was copied
	status_only => 'VaultValue"StatusOnly"-4Ks7',
);
my %env_values = (
	SIGMAX_OK_KEY => 'EnvValueOkKeyShadowed-4Tz8',
	SIGMAX_FALLBACK_404 => 'EnvValueFallback404-1Xc5',
	SIGMAX_FORBIDDEN_ONE => 'EnvValueForbidden-6Vb2',
	SIGMAX_BROKEN_ONE => 'EnvValueBroken500-0Nq7',
	SIGMAX_SLOW_ONE => 'EnvValueSlowOne-3Gf1',
	SIGMAX_NOT_JSON => 'EnvValueNotJson-8Ks4',
	SIGMAX_LOGONCE_KEY => 'EnvValueLogOnce-2Pm9',
	SIGMAX_BINANCE_LIVE_API_KEY => 'EnvValueBinanceLiveKey-7Yh3',
);
my @never_shown = ($token, $wrong_token, values %vault_values, values %env_values);

my $p = 'secret/data/sigmax';
my $vault = start_mock_vault(
	token => $token,
	secrets => {
		"$p/ok_key" => { value => $vault_values{ok_key} },
		"$p/cache_key" => { value => $vault_values{cache_key} },
		"$p/binance_testnet_api_key" => { value => $vault_values{binance_testnet_api_key} },
		"$p/binance_testnet_api_secret" => { value => $vault_values{binance_testnet_api_secret} },
		"$p/forbidden_one" => { policy => 'deny' },
		"$p/broken_one" => { status => 500 },
		"$p/sealed_one" => { status => 503 },
		"$p/slow_one" => { value => $vault_values{slow_one}, delay_ms => 5000 },
		"$p/very_slow" => { value => $vault_values{slow_one}, delay_ms => 30000 },
		"$p/not_json" => { raw => '<html>upstream error</html>' },
		"$p/no_value" => { data => { other => 'x' } },
		"$p/status_only" => { value => $vault_values{status_only} },
		# well-formed JSON that jsonb cannot hold, nested too deep, or with the last of two
		# members named data.data.value not a string
		"$p/huge_number" => { value => $vault_values{huge_number}, raw_members => '"n": 1e1000000' },
		"$p/huge_value" => { raw => '{"data": {"data": {"value": 1e1000000}}}' },
		"$p/too_deep" => { raw => ('[' x 30000) . (']' x 30000) },
		"$p/deep_value" => { raw => '{"data": {"data": {"value": "x", "other": ' . ('[' x 70) . (']' x 70) . '}}}' },
		"$p/dup_value" => { raw => '{"data": {"data": {"value": "x"}}, "data": {"data": {"value": ["x"]}}}' },
		"kv/data/other/ok_key" => { value => $vault_values{ok_key} },
	});

# The postmaster, and so every backend, inherits these.
$ENV{$_} = $env_values{$_} for keys %env_values;
delete $ENV{$_} for qw(SIGMAX_MISSING_404 SIGMAX_SEALED_ONE SIGMAX_NO_VALUE SIGMAX_BINANCE_LIVE_API_SECRET
  SIGMAX_BINANCE_TESTNET_API_KEY SIGMAX_BINANCE_TESTNET_API_SECRET SIGMAX_CACHE_KEY SIGMAX_TLS_KEY
  SIGMAX_STATUS_ONLY SIGMAX_HUGE_NUMBER SIGMAX_HUGE_VALUE SIGMAX_TOO_DEEP SIGMAX_DEEP_VALUE SIGMAX_DUP_VALUE);

my $node = sigmax_node('vault', conf => "sigmax.vault_timeout = 1000\n");
my $token_file = $node->basedir . '/vault-token';
write_token($token);

my @results;	# every row a function returned, checked for values at the end

sub write_token
{
	my ($t, $mode) = @_;
	open my $fh, '>', $token_file or die "cannot write $token_file: $!";
	print $fh "$t\n";
	close $fh;
	chmod $mode // 0600, $token_file;
	return;
}

# Change settings with ALTER SYSTEM and wait until new sessions see them (values as SHOW
# shows them: '1min', not '60s'; undef resets).
sub configure
{
	my (%settings) = @_;
	my $sql = '';
	my @checks;
	for my $name (sort keys %settings)
	{
		my $value = $settings{$name};
		if (defined $value)
		{
			$sql .= "ALTER SYSTEM SET sigmax.$name = '$value';\n";
			push @checks, "current_setting('sigmax.$name') = '$value'";
		}
		else
		{
			$sql .= "ALTER SYSTEM RESET sigmax.$name;\n";
			push @checks, "current_setting('sigmax.$name') = (SELECT boot_val FROM pg_settings WHERE name = 'sigmax.$name')";
		}
	}
	$node->safe_psql('postgres', $sql . 'SELECT pg_reload_conf();');
	$node->poll_query_until('postgres', 'SELECT ' . (join(' AND ', @checks) || 'true'))
	  or die "the settings did not apply: $sql";
	return;
}

# secret_status in a session of its own: "source|status|detail".
sub status_of
{
	my ($name) = @_;
	my $row = $node->safe_psql('sigmax', "SELECT source, status, detail FROM sigmax.secret_status('$name')");
	push @results, $row;
	return $row;
}

sub source_status
{
	my ($name) = @_;
	my ($source, $status) = split /\|/, status_of($name);
	return "$source|$status";
}

# secret_status in a session of its own, or the error it raised.
sub status_or_error
{
	my ($name) = @_;
	my ($ret, $out, $err) = $node->psql('sigmax', "SELECT source, status, detail FROM sigmax.secret_status('$name')");
	push @results, $out;
	return $ret == 0 ? $out : "ERROR: $err";
}

# Whether the bytes $needle are anywhere in the private memory of process $pid (undef
# when /proc/<pid>/mem cannot be read).
sub in_memory_of
{
	my ($pid, $needle) = @_;
	no warnings 'portable';
	open my $maps, '<', "/proc/$pid/maps" or return undef;
	open my $mem, '<:raw', "/proc/$pid/mem" or return undef;
	my $read_any = 0;
	while (my $line = <$maps>)
	{
		my ($from, $to, $perms) = $line =~ /^([0-9a-f]+)-([0-9a-f]+) (\S+)/ or next;
		next unless $perms =~ /^rw.p/;	# private and writable: the heap, the stack, anonymous maps
		my $buf = '';
		sysseek($mem, hex $from, 0) or next;
		my $got = sysread($mem, $buf, hex($to) - hex($from));
		next unless $got;
		$read_any = 1;
		return 1 if index($buf, $needle) >= 0;
	}
	return $read_any ? 0 : undef;
}

sub requests_for
{
	my ($name) = @_;
	return grep { $_->{path} =~ m{/\Q$name\E\z} } @{ mock_vault_requests($vault) };
}

# --- Vault off: the environment only ---------------------------------------------------
is(source_status('ok_key'), 'environment|vault_off', 'Vault off: a secret comes from SIGMAX_<NAME>');
is(status_of('missing_404'), 'missing|vault_off|sigmax.vault_addr is not set', 'and is missing when that is not set');
is(scalar @{ mock_vault_requests($vault) }, 0, 'Vault is not asked while sigmax.vault_addr is empty');

# --- Vault on ---------------------------------------------------------------------------
configure(vault_addr => $vault->{url}, vault_token_file => $token_file);

is(status_of('ok_key'), 'vault|ok|Vault answered 200', '200: the value comes from Vault (before the environment)');
my @r = requests_for('ok_key');
is(scalar @r, 1, 'one request');
is($r[0]{method} . ' ' . $r[0]{path}, 'GET /v1/secret/data/sigmax/ok_key',
	'GET {addr}/v1/{mount}/data/{prefix}/{name}');
is($r[0]{token}, $token, 'with the token file\'s token in X-Vault-Token (its trailing newline dropped)');

is(status_of('fallback_404'), 'environment|not_found|Vault answered 404', '404: from the environment');
is(status_of('missing_404'), 'missing|not_found|Vault answered 404', '404 and no SIGMAX_<NAME>: missing');
is(status_of('forbidden_one'), 'environment|permission_denied|Vault answered 403 (permission denied or a bad token)',
	'403 (a policy without read): from the environment');
is(status_of('broken_one'), 'environment|server_error|Vault answered 500', '500: from the environment');
is(status_of('sealed_one'), 'missing|server_error|Vault answered 503', '503 (sealed) and no SIGMAX_<NAME>: missing');
is(status_of('not_json'), q{environment|bad_response|Vault's answer is not JSON}, 'a body that is not JSON: from the environment');
is(status_of('no_value'), q{missing|bad_response|Vault's answer has no string field data.data.value},
	'JSON without data.data.value: missing');
is(status_or_error('huge_number'), 'vault|ok|Vault answered 200',
	'a number out of every range elsewhere in the answer is never converted: no error, the value is read');
is(status_or_error('huge_value'), q{missing|bad_response|Vault's answer has no string field data.data.value},
	'such a number as data.data.value: bad_response, not an error');
is(status_or_error('too_deep'), q{missing|bad_response|Vault's answer is nested deeper than 64 levels},
	'an answer nested 30000 deep: bad_response, not an error (stack depth)');
is(status_or_error('deep_value'), q{missing|bad_response|Vault's answer is nested deeper than 64 levels},
	'and so is one nested too deep beside the value');
is(status_or_error('dup_value'), q{missing|bad_response|Vault's answer has no string field data.data.value},
	'of two members of the same name the last counts (as in jsonb)');

my $t0 = time;
is(status_of('slow_one'), 'environment|timeout|Vault did not answer within 1000 ms',
	'no answer within sigmax.vault_timeout: from the environment');
my $took = time - $t0;
ok($took >= 0.9 && $took < 4, sprintf('the timeout holds (%.1f s)', $took));

write_token($wrong_token);
is(status_of('ok_key'), 'environment|permission_denied|Vault answered 403 (permission denied or a bad token)',
	'a wrong token (403): from the environment');
is((requests_for('ok_key'))[-1]{token}, $wrong_token, 'the token file is read again for each request');

write_token($token, 0644);
my $before = scalar @{ mock_vault_requests($vault) };
like(status_of('ok_key'), qr/^environment\|token_file\|the token file \(sigmax.vault_token_file\) is accessible to other users \(mode 0644\)/,
	'a world-readable token file is refused');
is(scalar @{ mock_vault_requests($vault) }, $before, 'and Vault is not asked with it');
write_token($token, 0600);
rename $token_file, "$token_file.away" or die;
like(status_of('ok_key'), qr/^environment\|token_file\|the token file \(sigmax.vault_token_file\) cannot be read: No such file/,
	'a missing token file: token_file');
rename "$token_file.away", $token_file or die;
is(source_status('ok_key'), 'vault|ok', 'and with the token file back, Vault again');

# the token file is opened without following a symbolic link or waiting for a writer
symlink $token_file, "$token_file.link" or die "cannot link: $!";
configure(vault_token_file => "$token_file.link");
is(status_of('ok_key'), 'environment|token_file|the token file (sigmax.vault_token_file) is a symbolic link: it is not followed',
	'a symbolic link (even to a good token file) is refused');
POSIX::mkfifo("$token_file.fifo", 0600) or die "cannot make a FIFO: $!";
configure(vault_token_file => "$token_file.fifo");
$t0 = time;
is(status_of('ok_key'), 'environment|token_file|the token file (sigmax.vault_token_file) is not a regular file',
	'a FIFO is refused');
ok(time - $t0 < 0.9, sprintf('at once, without waiting for a writer (%.1f s)', time - $t0));
configure(vault_token_file => '/etc/passwd');
like(status_of('ok_key'), qr/^environment\|token_file\|the token file \(sigmax.vault_token_file\) is not owned by the server's user \(uid \d+\)/,
	'a file of another user is refused');
configure(vault_token_file => $token_file);
is(source_status('ok_key'), 'vault|ok', 'and the good token file is used again');

# a port nothing listens on
my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die;
my $dead_port = $sock->sockport;
close $sock;
configure(vault_addr => "http://127.0.0.1:$dead_port");
like(status_of('ok_key'), qr/^environment\|connection_failed\|Vault is unreachable: /,
	'connection refused: from the environment');

# plain http to anything but loopback is refused before any connection is made
configure(vault_addr => 'http://192.0.2.1:8200');
$t0 = time;
like(status_of('ok_key'), qr/^environment\|bad_config\|sigmax.vault_addr is not allowed: Plain http:\/\/ is allowed only to/,
	'plain http:// to a non-loopback address is refused');
ok(time - $t0 < 0.9, 'at once, without trying to connect');

# another mount and prefix
configure(vault_addr => $vault->{url}, vault_mount => '/kv/', vault_path_prefix => 'other');
is(source_status('ok_key'), 'vault|ok', 'sigmax.vault_mount and sigmax.vault_path_prefix make the path');
is((requests_for('ok_key'))[-1]{path}, '/v1/kv/data/other/ok_key', 'leading and trailing slashes dropped');
configure(vault_mount => '../sys');
like(status_of('ok_key'), qr/^environment\|bad_config\|sigmax.vault_mount must be/, 'a mount with ".." is refused');
configure(vault_mount => undef, vault_path_prefix => undef);

# --- the cache --------------------------------------------------------------------------
mock_vault_control($vault, 'DELETE', 'requests');
my $bg = $node->background_psql('sigmax', on_error_stop => 0);
my $first = $bg->query_safe(q{SELECT source || ' ' || resolved_at FROM sigmax.secret_status('cache_key')});
my $second = $bg->query_safe(q{SELECT source || ' ' || resolved_at FROM sigmax.secret_status('cache_key')});
push @results, $first, $second;
like($first, qr/^vault /, 'a session resolves a secret from Vault');
is($second, $first, 'and within sigmax.vault_cache_ttl again from its cache');
is(scalar(requests_for('cache_key')), 1, 'with no second request to Vault');
configure(vault_cache_ttl => '1s');
# the session applies the reload at its next statement
for (1 .. 100)
{
	last if $bg->query_safe('SHOW sigmax.vault_cache_ttl') eq '1s';
	usleep(50_000);
}
usleep(1_200_000);
my $third = $bg->query_safe(q{SELECT source || ' ' || resolved_at FROM sigmax.secret_status('cache_key')});
push @results, $third;
isnt($third, $first, 'after a reload with a shorter TTL, once it has passed, the session asks again');
is(scalar(requests_for('cache_key')), 2, 'one more request');
$bg->query_safe(q{SELECT sigmax.secret_status('cache_key')});
is(scalar(requests_for('cache_key')), 2, 'and caches the new answer for the new TTL');

# a timeout is remembered for the TTL: a dead Vault costs one timeout, not one per secret
configure(vault_cache_ttl => '1min');
$bg->quit;
$bg = $node->background_psql('sigmax', on_error_stop => 0);
$t0 = time;
my $both = $bg->query_safe(q{SELECT string_agg(s.source || '|' || s.status, ',' ORDER BY n)
	FROM unnest(ARRAY['slow_one', 'ok_key']) n, sigmax.secret_status(n) s});
push @results, $both;
is($both, 'environment|timeout,environment|timeout', 'after a timeout, Vault is not asked again within the TTL');
ok(time - $t0 < 2.5, 'one timeout for both');
$bg->quit;

# --- logged once, never with the value ---------------------------------------------------
configure(vault_cache_ttl => '0');
mock_vault_control($vault, 'DELETE', 'requests');
$bg = $node->background_psql('sigmax', on_error_stop => 0);
for (1 .. 3)
{
	push @results, $bg->query_safe(q{SELECT source || '|' || status FROM sigmax.secret_status('logonce_key')});
}
is(scalar(requests_for('logonce_key')), 3, 'sigmax.vault_cache_ttl = 0: every use asks Vault');
$bg->quit;
my $log = slurp_file($node->logfile);
my @lines = $log =~ /^.*LOG:  sigmax: secret "logonce_key" read from the environment: Vault answered 404$/mg;
is(scalar @lines, 1, 'the fallback is logged once per session and cause');
like($log, qr/LOG:  sigmax: secret "missing_404" is missing: Vault answered 404, and SIGMAX_MISSING_404 is not set/,
	'a secret found nowhere while Vault is on is logged too');

# --- a cancel ends the wait --------------------------------------------------------------
configure(vault_timeout => '20s', vault_cache_ttl => '1min');
$bg = $node->background_psql('sigmax', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/started/, "\\echo started\nSELECT * FROM sigmax.secret_status('very_slow');\n");
ok($node->poll_query_until('sigmax',
		"SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = $pid"),
	'a session waiting for Vault shows the wait event Extension');
my $activity = $node->safe_psql('sigmax', 'SELECT string_agg(coalesce(query, \'\'), E\'\\n\') FROM pg_stat_activity');
$t0 = time;
$node->safe_psql('sigmax', "SELECT pg_cancel_backend($pid)");
my $after = $bg->query(q{SELECT source || '|' || status FROM sigmax.secret_status('ok_key')});
push @results, $after;
ok(time - $t0 < 2, sprintf('a cancel ends the wait for Vault at once (%.1f s)', time - $t0));
like($bg->{stderr}, qr/canceling statement due to user request/, 'with 57014');
is($after, 'vault|ok', 'and the session asks Vault again afterwards');
$bg->quit;

# --- TLS ---------------------------------------------------------------------------------
my $tls = start_mock_vault(token => $token, tls => 1,
	secrets => { "$p/tls_key" => { value => $vault_values{tls_key} } });
configure(vault_addr => $tls->{url}, vault_timeout => '2s');
like(status_of('tls_key'), qr/^missing\|tls_error\|TLS with Vault failed: /,
	'https: a certificate not signed by a trusted CA is refused');
configure(vault_ca_file => $tls->{ca});
is(source_status('tls_key'), 'vault|ok', 'and accepted with sigmax.vault_ca_file');
stop_mock_vault($tls);
configure(vault_addr => $vault->{url}, vault_ca_file => undef);

# --- a lookup for the status only keeps no value ------------------------------------------
# The value holds a '"', escaped on the wire (as libcurl's buffers hold it): its unescaped
# form is in the backend's memory only if it was copied out of the answer and not wiped.
$bg = $node->background_psql('sigmax', on_error_stop => 0);
$pid = $bg->query_safe('SELECT pg_backend_pid()');
my $so = $bg->query_safe(q{SELECT source || '|' || status FROM sigmax.secret_status('status_only')});
push @results, $so;
is($so, 'vault|ok', 'a value with a quote comes from Vault');
$so = $bg->query_safe(q{SELECT source || '|' || status FROM sigmax.secret_status('status_only')});
is($so, 'vault|ok', 'and its outcome is cached');
is(scalar(requests_for('status_only')), 1, 'with one request to Vault');
my $control = in_memory_of($pid, $env_values{SIGMAX_OK_KEY});
SKIP:
{
	skip 'the backend\'s memory cannot be read', 2 unless $control;
	ok($control, 'the memory scan finds what is there (the environment)');
	is(in_memory_of($pid, $vault_values{status_only}), 0,
		'secret_status leaves no copy of the value in the backend\'s memory');
}
$bg->quit;

# --- exchange credentials ----------------------------------------------------------------
$node->safe_psql('sigmax', q{SELECT sigmax.add_exchange('binance')});
my $creds = $node->safe_psql('sigmax',
	q{SELECT exchange, mode, credential, secret_name, source, status FROM sigmax.exchange_credentials()});
push @results, $node->safe_psql('sigmax', q{SELECT string_agg(c::text, E'\n') FROM sigmax.exchange_credentials() c});
is($creds, join("\n",
		'binance|testnet|api_key|binance_testnet_api_key|vault|ok',
		'binance|testnet|api_secret|binance_testnet_api_secret|vault|ok',
		'binance|live|api_key|binance_live_api_key|environment|not_found',
		'binance|live|api_secret|binance_live_api_secret|missing|not_found'),
	'exchange_credentials: each exchange\'s testnet and live key and secret, from Vault, the environment or missing');

# --- who may ask -------------------------------------------------------------------------
$node->safe_psql('sigmax', q{CREATE ROLE ann LOGIN IN ROLE sigmax_admin; CREATE ROLE tom LOGIN IN ROLE sigmax_trader;
	CREATE ROLE aud LOGIN IN ROLE sigmax_auditor;});
my ($ret, $out, $err) = $node->psql('sigmax', q{SELECT source FROM sigmax.secret_status('ok_key')}, extra_params => [ '-U', 'ann' ]);
is($out, 'vault', 'an admin may ask');
push @results, $out;
for my $role (qw(tom aud))
{
	($ret, $out, $err) = $node->psql('sigmax', q{SELECT * FROM sigmax.exchange_credentials()}, extra_params => [ '-U', $role ]);
	like($err, qr/permission denied for function exchange_credentials/, "$role may not (exchange_credentials)");
	($ret, $out, $err) = $node->psql('sigmax', q{SELECT * FROM sigmax.secret_status('ok_key')}, extra_params => [ '-U', $role ]);
	like($err, qr/permission denied for function secret_status/, "$role may not (secret_status)");
}
($ret, $out, $err) = $node->psql('sigmax', q{SELECT * FROM sigmax.secret_status('Bad-Name')});
like($err, qr/ERROR:  invalid secret name\nDETAIL:  A secret name is 1 to 64 lower-case letters, digits and underscores\./,
	'an invalid name is an error that does not echo it');
($ret, $out, $err) = $node->psql('sigmax', q{SELECT * FROM sigmax.secret_status(NULL)});
like($err, qr/ERROR:  invalid secret name/, 'and so is NULL');

# --- no value anywhere -------------------------------------------------------------------
my $ledger = $node->safe_psql('sigmax', q{SELECT coalesce(string_agg(action || ' ' || payload::text, E'\n'), '') FROM sigmax.audit_log});
$activity .= "\n" . $node->safe_psql('sigmax', q{SELECT string_agg(coalesce(query, ''), E'\n') FROM pg_stat_activity});
$log = slurp_file($node->logfile);
my $results = join("\n", @results);
for my $where ([ 'the server log', $log ], [ 'the ledger', $ledger ], [ 'pg_stat_activity.query', $activity ],
	[ 'a function result', $results ])
{
	my @found = grep { index($where->[1], $_) >= 0 } @never_shown;
	is(scalar @found, 0, "no secret value or token in $where->[0]") or diag("found: @found");
}
unlike($log, qr/VaultValue|EnvValue|hvs\./, 'not even a fragment of one in the server log');
like($log, qr/LOG:  sigmax: secret "ok_key" read from the environment: sigmax.vault_addr is not set/,
	'the log names the secret and the cause only');

$node->stop;
stop_mock_vault($vault);
done_testing();
