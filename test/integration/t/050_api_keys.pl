# API keys: a token shown once and stored as SHA-256; authenticate binds a session to
# the key's role and accounts for the order path; revocation, rotation and expiry take
# effect; failures are counted per address in shared memory (a rollback does not undo
# them) and lock the address out with an alert; sigmax.require_api_key refuses
# unauthenticated sessions. The token never reaches the ledger. Per-key, per-function
# rate limits (and authenticate's per address) refuse with 53400 and alert when repeated;
# a burst of failures from any address raises its own alert.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use SigmaxTest;

my $node = sigmax_node('api_keys',
	conf => "sigmax.auth_max_failures = 5\nsigmax.auth_lockout = 3\nsigmax.auth_failure_window = 6\n"
	  . "sigmax.api_rate_authenticate = 1000\n");
$node->safe_psql('sigmax', q{
	CREATE ROLE app LOGIN;
	GRANT sigmax_trader TO app;
	SELECT sigmax.create_account('one', 100000), sigmax.create_account('two', 100000);
	SELECT sigmax.add_instrument('BTC/USDT', 'binance');
	SELECT sigmax.set_limits(NULL, '{"stale_price_ms": 2000000000}');
	SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);
	SELECT status FROM sigmax.submit_order(2, 'BTC/USDT', 'buy', 0.01, 'limit', 49000, 'two-resting');
});

# As the application's login role (a member of sigmax_trader), statements in one session.
sub as_app
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('sigmax', $sql, extra_params => [ '-U', 'app', '-v', 'VERBOSITY=verbose' ]);
	return ($ret, $out, $err);
}

my $token = $node->safe_psql('sigmax', q{SELECT sigmax.create_api_key('desk one', 'sigmax_trader', '{1}')});
like($token, qr/^sgx_[A-Za-z0-9_-]{43}$/, 'the token: sgx_ and 256 bits in base64url');
is($node->safe_psql('sigmax', qq{SELECT count(*) FROM sigmax.api_keys WHERE token_hash = sha256(convert_to('$token', 'UTF8'))
	AND token_prefix = left('$token', 12)}), '1', 'only its SHA-256 and prefix are stored');

my ($ret, $out, $err) = as_app(qq{SELECT authenticated, role, account_ids FROM sigmax.authenticate('$token');
	SELECT key_id, role, account_ids FROM sigmax.session_key();
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01);});
is($ret, 0, 'a trader authenticates and trades') or diag($err);
is($out, "t|sigmax_trader|{1}\n1|sigmax_trader|{1}\nfilled", 'bound to the key\'s role and account');

($ret, $out, $err) = as_app(qq{SELECT authenticated FROM sigmax.authenticate('$token');
	SELECT status FROM sigmax.submit_order(2, 'BTC/USDT', 'buy', 0.01);});
like($err, qr/ERROR:  42501: API key 1 may not act on account 2/, 'another account\'s order is refused (42501)');
my $two_order = $node->safe_psql('sigmax', q{SELECT order_id FROM sigmax.orders WHERE client_order_id = 'two-resting'});
($ret, $out, $err) = as_app(qq{SELECT authenticated FROM sigmax.authenticate('$token');
	SELECT sigmax.cancel_order($two_order);});
like($err, qr/ERROR:  42501: API key 1 may not act on account 2/, 'and so is cancelling its order');
is($node->safe_psql('sigmax', qq{SELECT status FROM sigmax.orders WHERE order_id = $two_order}), 'accepted',
	'which stays working');
($ret, $out, $err) = as_app(q{SELECT status FROM sigmax.submit_order(2, 'BTC/USDT', 'buy', 0.01);});
is($ret, 0, 'without a key (sigmax.require_api_key off) the database role decides, as before');

# Row security: a bound trader reads its accounts' rows only; unbound, everything (for now).
my $rows = q{SELECT (SELECT string_agg(DISTINCT account_id::text, ',') FROM sigmax.orders) || ' ' ||
	(SELECT string_agg(DISTINCT account_id::text, ',') FROM sigmax.positions) || ' ' ||
	(SELECT string_agg(account_id::text, ',' ORDER BY account_id) FROM sigmax.account_summary) || ' ' ||
	(SELECT string_agg(account_id::text, ',' ORDER BY account_id) FROM sigmax.account_pnl)};
($ret, $out, $err) = as_app(qq{SELECT authenticated FROM sigmax.authenticate('$token'); $rows;});
is($out, "t\n1 1 1 1", 'a bound trader reads its account only: orders, positions, account_summary, account_pnl');
($ret, $out, $err) = as_app($rows);
is($out, '1,2 1,2 1,2 1,2', 'an unbound session reads every account while sigmax.require_api_key is off');
($ret, $out, $err) = as_app(qq{BEGIN; SAVEPOINT s; SELECT authenticated FROM sigmax.authenticate('$token');
	ROLLBACK TO SAVEPOINT s; COMMIT; SELECT count(*) FROM sigmax.session_key();});
is($out, "t\n0", 'an authentication rolled back to a savepoint binds nothing');

my $auditor = $node->safe_psql('sigmax', q{SELECT sigmax.create_api_key('audit', 'sigmax_auditor', '{}')});
($ret, $out, $err) = as_app(qq{SELECT authenticated FROM sigmax.authenticate('$auditor');
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01);});
like($err, qr/42501: API key \d+ may not call submit_order\(\)\nDETAIL:  The key's role sigmax_auditor may not execute it/,
	'an auditor\'s key places no order (its role may not execute submit_order)');

# rotation, revocation, expiry
my $key_id = $node->safe_psql('sigmax', q{SELECT key_id FROM sigmax.api_keys WHERE name = 'desk one'});
my $rotated = $node->safe_psql('sigmax', qq{SELECT sigmax.rotate_api_key($key_id)});
isnt($rotated, $token, 'rotation returns a new token');
($ret, $out) = as_app(qq{SELECT authenticated, reason FROM sigmax.authenticate('$token')});
is($out, 'f|the key is revoked', 'the old token no longer authenticates');
($ret, $out, $err) = as_app(qq{SELECT authenticated FROM sigmax.authenticate('$rotated');
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01);});
is($out, "t\nfilled", 'the new one does, with the same accounts');

my $new_id = $node->safe_psql('sigmax', q{SELECT key_id FROM sigmax.api_keys WHERE name = 'desk one' AND revoked_at IS NULL});
my $bg = $node->background_psql('sigmax', on_error_stop => 0, extra_params => [ '-U', 'app' ]);
$bg->query_safe(qq{SELECT authenticated FROM sigmax.authenticate('$rotated')});
$node->safe_psql('sigmax', qq{SELECT sigmax.revoke_api_key($new_id)});
my $res = $bg->query(q{SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01)});
like($bg->{stderr}, qr/the session's API key $new_id was revoked or has expired/,
	'a bound session is refused from its next transaction after revocation');
$bg->{stderr} = '';
$bg->query(q{SELECT status FROM sigmax.submit_order(2, 'BTC/USDT', 'buy', 0.01)});
like($bg->{stderr}, qr/was revoked or has expired/, 'and stays refused (not unbound) until it authenticates again');
$bg->{stderr} = '';
is($bg->query_safe(q{SELECT sigmax.unbind()}), 't', 'unbind forgets the key (a pool\'s reset query)');

# A revocation reaches a REPEATABLE READ transaction that began before it: the key is read as
# of the latest commit (check_order reads it, with its caller's rights, through the key's index).
my $rr_token = $node->safe_psql('sigmax', q{SELECT sigmax.create_api_key('desk rr', 'sigmax_trader', '{1}')});
my $rr_id = $node->safe_psql('sigmax', q{SELECT key_id FROM sigmax.api_keys WHERE name = 'desk rr'});
$bg->query_safe(qq{SELECT authenticated FROM sigmax.authenticate('$rr_token')});
$bg->query_safe(q{BEGIN ISOLATION LEVEL REPEATABLE READ});
is($bg->query_safe(q{SELECT status FROM sigmax.check_order(1, 'BTC/USDT', 'buy', 0.01)}), 'filled',
	'a bound trader checks an order in a REPEATABLE READ transaction');
$node->safe_psql('sigmax', qq{SELECT sigmax.revoke_api_key($rr_id)});
$bg->query(q{SELECT status FROM sigmax.check_order(1, 'BTC/USDT', 'buy', 0.01)});
like($bg->{stderr}, qr/the session's API key $rr_id was revoked or has expired/,
	'and is refused at its next call once the key is revoked, in the same transaction');
$bg->{stderr} = '';
$bg->query_safe(q{ROLLBACK});
$bg->query_safe(q{SELECT sigmax.unbind()});
$bg->quit;

my $short = $node->safe_psql('sigmax', q{SELECT sigmax.create_api_key('short', 'sigmax_trader', '{1}', NULL, now() + interval '1 second')});
sleep 2;
($ret, $out) = as_app(qq{SELECT authenticated, reason FROM sigmax.authenticate('$short')});
is($out, 'f|the key has expired', 'an expired key does not authenticate');

my $cidr = $node->safe_psql('sigmax', q{SELECT sigmax.create_api_key('office', 'sigmax_trader', '{1}', '{10.0.0.0/8}')});
($ret, $out) = as_app(qq{SELECT authenticated, reason FROM sigmax.authenticate('$cidr')});
is($out, "f|the address is outside the key's allowed_cidrs", 'a key bound to CIDRs refuses other addresses (here a Unix socket)');

# the ledger has every event, never a token
is($node->safe_psql('sigmax', q{SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM sigmax.audit_log
	WHERE action LIKE 'api_key.%' OR action LIKE 'auth.%'}),
	'api_key.created,api_key.revoked,api_key.rotated,auth.failed,auth.succeeded', 'authentication events are ledgered');
like(slurp_file($node->logfile), qr/LOG:  sigmax: authentication failed from local\/app: the key has expired/,
	'and logged');
is($node->safe_psql('sigmax', qq{SELECT count(*) FROM sigmax.audit_log WHERE payload::text LIKE '%' || substr('$token', 13) || '%'
	OR payload::text LIKE '%' || substr('$rotated', 13) || '%'}), '0', 'no token in the ledger');

# lockout: 5 failures in the window (a rolled-back one counts), then refused, with an alert
sleep 7;    # past the failure window (6 s) and any lockout (3 s) of the failures above
my $wrong = 'sgx_' . ('A' x 43);
($ret, $out, $err) = as_app(q{SELECT sigmax.authenticate('not a token')});
like($err, qr/ERROR:  22023: malformed API token/, 'a malformed token is an error');
unlike($err, qr/not a token/, 'which does not echo the token');
($ret, $out, $err) = as_app(qq{BEGIN; SELECT authenticated FROM sigmax.authenticate('$wrong'); ROLLBACK;});
($ret, $out, $err) = as_app(qq{SELECT authenticated, reason FROM sigmax.authenticate('$wrong')});
is($out, 'f|unknown token', 'a wrong token fails');
($ret, $out, $err) = as_app(qq{SELECT authenticated FROM sigmax.authenticate('$wrong'); SELECT authenticated FROM sigmax.authenticate('$wrong');});
($ret, $out, $err) = as_app(qq{SELECT authenticated FROM sigmax.authenticate('$wrong')});
like($err, qr/ERROR:  28000: authentication from local\/app is locked out until/, 'the address is locked out for this login role');
is($node->safe_psql('sigmax', qq{SELECT authenticated::text || ' ' || coalesce(reason, '') FROM sigmax.authenticate('$wrong')}),
	'false unknown token', 'but not for another role behind the same address');
ok($node->poll_query_until('sigmax', q{SELECT count(*) = 1 FROM sigmax.alerts WHERE kind = 'auth_lockout'}),
	'with an alert, raised by the worker even though the failing transaction rolled back');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.audit_log WHERE action = 'auth.locked_out'
	AND payload->>'address' = 'local/app'}), '1', 'and ledgered');
like(slurp_file($node->logfile), qr/LOG:  sigmax: authentication failed from local\/app: unknown token/,
	'failures are logged (also a rolled-back one)');
sleep 3;
($ret, $out, $err) = as_app(qq{SELECT authenticated, reason FROM sigmax.authenticate('$wrong')});
is($out, 'f|unknown token', 'after sigmax.auth_lockout the address may try again');

# require_api_key: an unauthenticated session is refused; a superuser is not
$node->append_conf('postgresql.conf', "sigmax.require_api_key = on\n");
$node->reload;
$node->poll_query_until('sigmax', 'SHOW sigmax.require_api_key', 'on');
($ret, $out, $err) = as_app(q{SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01)});
like($err, qr/ERROR:  42501: sigmax requires an API key/, 'sigmax.require_api_key refuses an unauthenticated session') or diag("ret $ret out $out err $err");
is($node->safe_psql('sigmax', q{SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01)}), 'filled',
	'superusers are not bound by it');
($ret, $out, $err) = as_app(q{SELECT sigmax.trading_state(1)});
like($err, qr/ERROR:  42501: sigmax requires an API key/, 'and any other sigmax function');
($ret, $out, $err) = as_app(q{SELECT count(*) FROM sigmax.orders});
like($err, qr/ERROR:  42501: sigmax requires an API key/, 'and reads no account\'s rows (row security says why)');
($ret, $out, $err) = as_app(q{SELECT sigmax.version() IS NOT NULL, count(*) FROM sigmax.session_key()});
is($out, 't|0', 'but version() and session_key() answer');

# The key's role at the API surface: a login role holding every sigmax role is held to
# what its key's role may execute.
$node->safe_psql('sigmax', q{CREATE ROLE ops LOGIN; GRANT sigmax_admin, sigmax_trader TO ops;});
my $trader_key = $node->safe_psql('sigmax', q{SELECT sigmax.create_api_key('ops desk', 'sigmax_trader', '{1}')});
my $admin_key = $node->safe_psql('sigmax', q{SELECT sigmax.create_api_key('ops admin', 'sigmax_admin', '{}')});
sub as_ops
{
	my ($sql) = @_;
	return $node->psql('sigmax', $sql, extra_params => [ '-U', 'ops', '-v', 'VERBOSITY=verbose' ]);
}
($ret, $out, $err) = as_ops(qq{SELECT authenticated FROM sigmax.authenticate('$trader_key');
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01);
	SELECT sigmax.pause(1, 'not mine to do');});
like($err, qr/ERROR:  42501: API key \d+ may not call pause\(\)\nDETAIL:  The key's role sigmax_trader may not execute it/,
	'a trader key cannot call an admin function, though its login role could');
is($node->safe_psql('sigmax', 'SELECT sigmax.trading_state(1)'), 'active', 'nothing was paused');
($ret, $out, $err) = as_ops(qq{SELECT authenticated FROM sigmax.authenticate('$admin_key');
	SELECT sigmax.pause(1, 'desk review'); SELECT count(*) > 0 FROM sigmax.status; SELECT sigmax.resume(1);});
is($ret, 0, 'an admin key can, and reads sigmax.status') or diag($err);
is($node->safe_psql('sigmax', 'SELECT sigmax.trading_state(1)'), 'active', 'paused and resumed');

# Per-key rate limits: bad input changes nothing
my $ops_trader_id = $node->safe_psql('sigmax', q{SELECT key_id FROM sigmax.api_keys WHERE name = 'ops desk'});
for my $case (
	[ q{'[1]'},                       '22023', 'limits must be a JSON object' ],
	[ q{'{"no_such_fn": 5}'},        '22023', 'no per-key rate limit applies to "no_such_fn"' ],
	[ q{'{"_audit_write": 5}'},      '22023', 'no per-key rate limit applies to "_audit_write"' ],
	[ q{'{"authenticate": 5}'},      '22023', 'no per-key rate limit applies to "authenticate"' ],
	[ q{'{"submit_order": 1.5}'},    '22023', 'the limit of submit_order must be a whole number' ],
	[ q{'{"submit_order": -1}'},     '22023', 'the limit of submit_order must be a whole number' ],
	[ q{'{"submit_order": "2"}'},    '22023', 'the limit of submit_order must be a whole number' ],
	[ q{NULL},                        '22004', 'key_id and limits must not be null' ])
{
	my ($limits, $code, $msg) = @$case;
	my ($r, $o, $e) = $node->psql('sigmax', "SELECT sigmax.set_api_key_rate_limits($ops_trader_id, $limits)",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($e, qr/ERROR:  $code: \Q$msg\E/, "set_api_key_rate_limits($limits): $code");
}
($ret, $out, $err) = $node->psql('sigmax', q{SELECT sigmax.set_api_key_rate_limits(999999, '{"submit_order": 2}')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  22023: key 999999 does not exist or is revoked/, 'an unknown key: 22023');
is($node->safe_psql('sigmax', qq{SELECT rate_limits FROM sigmax.api_keys WHERE key_id = $ops_trader_id}), '{}',
	'and nothing was changed');
is($node->safe_psql('sigmax', qq{SELECT sigmax.set_api_key_rate_limits($ops_trader_id, '{"submit_order": 2, "trading_state": 7}');
	SELECT sigmax.set_api_key_rate_limits($ops_trader_id, '{"trading_state": null}')}),
	"{\"submit_order\": 2, \"trading_state\": 7}\n{\"submit_order\": 2}", 'limits merge; null restores the default');
is($node->safe_psql('sigmax', q{SELECT count(*) FROM sigmax.audit_log WHERE action = 'api_key.rate_limits'}), '2',
	'each change is ledgered');

$node->append_conf('postgresql.conf', "sigmax.api_rate_check_order = 4\nsigmax.api_rate_alert_after = 2\n");
$node->reload;
$node->poll_query_until('sigmax', 'SHOW sigmax.api_rate_check_order', '4');
($ret, $out, $err) = as_ops(qq{SELECT authenticated FROM sigmax.authenticate('$trader_key');
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01);
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01);
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01);});
is($out, "t\nfilled\nfilled", 'the key\'s own limit (2 submit_order a minute) passes two orders')
  or diag($err);
like($err, qr/ERROR:  53400: rate limit exceeded: key $ops_trader_id may call submit_order\(\) 2 times a minute/,
	'and refuses the third with 53400');
my $orders_before = $node->safe_psql('sigmax', q{SELECT count(*) || ' ' || (SELECT count(*) FROM sigmax.audit_log WHERE action LIKE 'order.%') FROM sigmax.orders});
($ret, $out, $err) = as_ops(qq{SELECT authenticated FROM sigmax.authenticate('$trader_key');
	SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01);});
like($err, qr/ERROR:  53400: rate limit exceeded/, 'and the fourth: the bucket is per key, not per session');
is($node->safe_psql('sigmax', q{SELECT count(*) || ' ' || (SELECT count(*) FROM sigmax.audit_log WHERE action LIKE 'order.%') FROM sigmax.orders}),
	$orders_before, 'a refused call writes no order and no order ledger entry');
($ret, $out, $err) = as_ops(qq{SELECT authenticated FROM sigmax.authenticate('$trader_key');
	SELECT count(*) FROM generate_series(1, 4) g, LATERAL sigmax.check_order(1, 'BTC/USDT', 'buy', 0.01 * g);
	SELECT status FROM sigmax.check_order(1, 'BTC/USDT', 'buy', 0.01);});
is($out, "t\n4", 'check_order has its own bucket, from the setting (4 a minute)');
like($err, qr/ERROR:  53400: rate limit exceeded: key $ops_trader_id may call check_order\(\) 4 times a minute/,
	'and refuses the fifth');
($ret, $out, $err) = as_ops(qq{SELECT authenticated FROM sigmax.authenticate('$admin_key');
	SELECT count(*) FROM generate_series(1, 4) g, LATERAL sigmax.check_order(1, 'BTC/USDT', 'buy', 0.01 * g);});
is($out, "t\n4", 'another key of the same login role has buckets of its own') or diag($err);
ok($node->poll_query_until('sigmax', qq{SELECT count(*) = 1 FROM sigmax.alerts WHERE kind = 'api_rate_limit'
	AND subject = 'key $ops_trader_id submit_order'}),
	'repeated refusals (sigmax.api_rate_alert_after) raise an api_rate_limit alert, from the worker');
is($node->safe_psql('sigmax', qq{SELECT payload->>'function' || ' ' || (payload->>'per_minute') FROM sigmax.audit_log
	WHERE action = 'api.rate_limited' AND payload->>'subject' = 'key $ops_trader_id' ORDER BY seq LIMIT 1}),
	'submit_order 2', 'and ledger it');
is($node->safe_psql('sigmax', qq{SELECT function || ' ' || per_minute || ' ' || rejections FROM sigmax.api_rate_status()
	WHERE key_id = $ops_trader_id ORDER BY function}), "check_order 4 1\nsubmit_order 2 2",
	'api_rate_status shows each bucket\'s limit and refusals');

# Row security calls may_read_account once a row: it is never rate-limited, or a key
# could not read more rows than its default limit a minute.
$node->safe_psql('sigmax', q{SELECT sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.001, 'limit', 49000) FROM generate_series(1, 10)});
$node->append_conf('postgresql.conf', "sigmax.api_rate_default = 3\n");
$node->reload;
$node->poll_query_until('sigmax', 'SHOW sigmax.api_rate_default', '3');
($ret, $out, $err) = as_ops(qq{SELECT authenticated FROM sigmax.authenticate('$trader_key');
	SELECT count(*) >= 10 FROM sigmax.orders; SELECT count(*) > 0 FROM sigmax.account_summary;
	SELECT count(*) FROM generate_series(1, 4) g, LATERAL sigmax.trading_state(1 + 0 * g) s;});
is($out, "t\nt\nt", 'a bound key reads every row of its account whatever its rate limits') or diag($err);
like($err, qr/ERROR:  53400: rate limit exceeded: key $ops_trader_id may call trading_state\(\) 3 times a minute/,
	'while its other functions keep sigmax.api_rate_default (3 a minute here)');

# A burst of failed authentications, whatever the address, raises its own alert;
# authenticate is limited per client address.
$node->append_conf('postgresql.conf', "sigmax.auth_failure_burst = 2\n");
$node->reload;
$node->poll_query_until('sigmax', 'SHOW sigmax.auth_failure_burst', '2');
as_app(qq{SELECT authenticated FROM sigmax.authenticate('$wrong')});
as_ops(qq{SELECT authenticated FROM sigmax.authenticate('$wrong')});
ok($node->poll_query_until('sigmax', q{SELECT count(*) = 1 FROM sigmax.alerts WHERE kind = 'auth_failure_burst'}),
	'failed authentications from any address and role (sigmax.auth_failure_burst a minute) raise auth_failure_burst');
$node->append_conf('postgresql.conf', "sigmax.api_rate_authenticate = 3\n");
$node->reload;
$node->poll_query_until('sigmax', 'SHOW sigmax.api_rate_authenticate', '3');
($ret, $out, $err) = as_ops(qq{SELECT authenticated FROM sigmax.authenticate('$admin_key');
	SELECT authenticated FROM sigmax.authenticate('$admin_key');
	SELECT authenticated FROM sigmax.authenticate('$admin_key');
	SELECT authenticated FROM sigmax.authenticate('$admin_key');});
is($out, "t\nt\nt", 'three authentications a minute from one address pass');
like($err, qr/ERROR:  53400: rate limit exceeded: local may call authenticate\(\) 3 times a minute/,
	'the fourth is refused with 53400, before the token is looked at');

is($node->safe_psql('sigmax', 'SELECT count(*) FROM sigmax.audit_verify()'), '0', 'the ledger verifies');

done_testing();
