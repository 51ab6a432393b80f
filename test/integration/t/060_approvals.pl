# Two-person approvals: loosening a limit, switching an account to live, lifting the
# kill switch, resuming inside the cool-down after an automatic pause and orders at or
# above approval_notional wait for a second person. request_approval files a request
# (checked at once, nothing changed), approve runs it in the approver's transaction and
# never lets the requester approve, deny closes it with an alert, and a request nobody
# decides expires (the worker sweeps them even with polling off). An order is checked
# again when approved. Everything is ledgered.
#
# The error surface: a failing call by a non-superuser shows its message, detail and
# hint, never the PL/pgSQL context, the SQL text or the C source location.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

my $node = sigmax_node('approvals', conf => "sigmax.auto_pause_cooldown = 60\n");
$node->safe_psql('sigmax', q{
	CREATE ROLE ann LOGIN;
	CREATE ROLE bob LOGIN;
	CREATE ROLE app LOGIN;
	GRANT sigmax_admin TO ann, bob;
	GRANT sigmax_trader TO app;
	SELECT sigmax.create_account('one', 100000), sigmax.create_account('two', 100000);
	SELECT sigmax.add_instrument('BTC/USDT', 'binance');
	SELECT sigmax.set_limits(NULL, '{"stale_price_ms": 2000000000}');
	SELECT sigmax.set_limits(1, '{"max_order_qty": 1, "max_position_pct": 0.5, "max_exposure_pct": 1, "stop_cooldown_s": 60}');
	SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);
});

# One psql session as a login role; returns (exit code, stdout, stderr).
sub as
{
	my ($role, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('sigmax', $sql,
		extra_params => [ '-U', $role, '-v', 'VERBOSITY=verbose', '-v', 'ON_ERROR_STOP=1' ]);
	return ($ret, $out, $err);
}

sub sql { return $node->safe_psql('sigmax', $_[0]); }

my ($ret, $out, $err);

# --- limits: tightening applies, loosening waits for a second person ---
($ret, $out, $err) = as('ann', q{SELECT sigmax.set_limits(1, '{"max_order_qty": 0.5}')});
is($ret, 0, 'an admin tightens a limit alone') or diag($err);
($ret, $out, $err) = as('ann', q{SELECT sigmax.set_limits(1, '{"max_order_qty": 2}')});
like($err, qr/ERROR:  42501: loosening limits needs a second person's approval\nDETAIL:  The change would loosen: max_order_qty\.\nHINT:  Request it with sigmax\.request_approval/,
	'loosening one is refused (42501) with the way to ask');
is(sql(q{SELECT max_order_qty FROM sigmax.limits WHERE account_id = 1}), '0.5', 'and changes nothing');
($ret, $out, $err) = as('ann', q{SELECT sigmax.set_limits(1, '{"max_order_qty": null}')});
like($err, qr/42501: loosening limits/, 'so is removing an override that is tighter than the defaults');
($ret, $out, $err) = as('ann', q{SELECT sigmax.set_limits(NULL, '{"max_open_orders": 1000000}')});
like($err, qr/42501: loosening limits.*\nDETAIL:  The change would loosen: max_open_orders/,
	'and loosening the defaults every account inherits');
($ret, $out, $err) = as('ann', q{SELECT sigmax.set_limits(1, '{"stop_cooldown_s": 0}')});
like($err, qr/42501: loosening limits.*\nDETAIL:  The change would loosen: stop_cooldown_s/,
	'a shorter stop cool-down is a loosening too');
($ret, $out, $err) = as('ann', q{SELECT sigmax.set_limits(1, '{"fee_bps": 0}')});
is($ret, 0, 'simulation settings (fees, slippage) are not limits') or diag($err);

my $before = sql(q{SELECT coalesce(max(seq), 0) FROM sigmax.audit_log WHERE stream = 'system'});
($ret, $out, $err) = as('ann', q{SELECT sigmax.request_approval('set_limits', '{"account_id": 1, "limits": {"max_order_qty": 2}}')});
is($ret, 0, 'ann asks for the loosening') or diag($err);
my $req = $out;
like($req, qr/^\d+$/, 'and gets a request id');
is(sql(qq{SELECT status || ' ' || requested_by FROM sigmax.approval_requests WHERE request_id = $req}), 'pending ann',
	'the request is pending, by ann');
is(sql(q{SELECT max_order_qty FROM sigmax.limits WHERE account_id = 1}), '0.5', 'nothing changes until it is approved');
($ret, $out, $err) = as('ann', qq{SELECT sigmax.approve($req)});
like($err, qr/ERROR:  42501: the requester cannot approve their own request/, 'ann cannot approve her own request');
($ret, $out, $err) = as('ann', qq{SET ROLE sigmax_admin; SELECT sigmax.approve($req)});
like($err, qr/42501: the requester cannot approve their own request/, 'not under another role either');
$node->safe_psql('sigmax', 'GRANT sigmax_trader, sigmax_auditor TO ann');
($ret, $out, $err) = as('ann', qq{SELECT sigmax.approve($req)});
like($err, qr/42501: the requester cannot approve their own request/, 'nor with more roles granted');
$node->safe_psql('sigmax', 'REVOKE sigmax_trader, sigmax_auditor FROM ann');
($ret, $out, $err) = as('app', qq{SELECT sigmax.approve($req)});
like($err, qr/ERROR:  42501: permission denied for function approve/, 'a trader cannot approve');
($ret, $out, $err) = as('bob', qq{SELECT sigmax.approve($req)});
is($ret, 0, 'bob approves') or diag($err);
is($out, '{"limits": {"max_order_qty": 2}}', 'approve returns the outcome');
is(sql(q{SELECT max_order_qty FROM sigmax.limits WHERE account_id = 1}), '2', 'the loosening is applied in his transaction');
is(sql(qq{SELECT status || ' ' || decided_by FROM sigmax.approval_requests WHERE request_id = $req}), 'approved bob',
	'the request records who decided');
is(sql(qq{SELECT string_agg(action, ',' ORDER BY seq) FROM sigmax.audit_log WHERE seq > $before AND stream = 'system'}),
	'approval.requested,approval.approved', 'request and approval are ledgered');
is(sql(q{SELECT actor || ' ' || (payload->'changes')::text FROM sigmax.audit_log WHERE stream = 'account:1'
	AND action = 'limits.set' ORDER BY seq DESC LIMIT 1}), 'bob {"max_order_qty": 2}', 'and so is the change, by bob');
is(sql(qq{SELECT payload->>'approved_by' || ' ' || (payload->>'requested_by') FROM sigmax.audit_log
	WHERE action = 'approval.approved' AND (payload->>'request_id')::bigint = $req}), 'bob ann', 'with both people');
($ret, $out, $err) = as('ann', qq{SELECT sigmax.approve($req)});
like($err, qr/ERROR:  55000: approval request $req is already approved/, 'a decided request cannot be approved again (55000)');
($ret, $out, $err) = as('bob', qq{SELECT sigmax.deny($req, 'late')});
like($err, qr/ERROR:  55000: approval request $req is already approved/, 'nor denied');

# --- bad requests: refused at once, nothing filed ---
my $nreq = sql(q{SELECT count(*) FROM sigmax.approval_requests});
my @bad = (
	[ q{NULL, '{}'}, '22004', 'a NULL action' ],
	[ q{'set_limits', NULL}, '22004', 'NULL args' ],
	[ q{'drop_everything', '{}'}, '22023', 'an unknown action' ],
	[ q{'order', '{"order_id": 1}'}, '22023', 'the order action (orders ask for themselves)' ],
	[ q{'set_limits', '[1]'}, '22023', 'args that are not an object' ],
	[ q{'set_limits', '{"account_id": 1}'}, '22023', 'set_limits without limits' ],
	[ q{'set_limits', '{"account_id": 1, "limits": {"no_such": 1}}'}, '22023', 'an unknown limit' ],
	[ q{'set_limits', '{"account_id": 1, "limits": {"max_order_qty": -1}}'}, '22023', 'a limit out of range' ],
	[ q{'set_limits', '{"account_id": 99, "limits": {"max_order_qty": 1}}'}, '22023', 'an unknown account' ],
	[ q{'set_limits', '{"account_id": "1", "limits": {}}'}, '22023', 'an account id that is not a number' ],
	[ q{'set_trading_mode', '{"account_id": 1, "mode": "yolo"}'}, '22023', 'an unknown trading mode' ],
	[ q{'set_trading_mode', '{"account_id": null, "mode": "live"}'}, '22023', 'set_trading_mode without an account' ],
	[ q{'resume', '{"account_id": 99}'}, '22023', 'resuming an unknown account' ],
	[ q{'resume', '{"account_id": 1}'}, '55000', 'resuming an account that needs no approval' ],
	[ q{'set_limits', '{"account_id": 1.5, "limits": {"max_order_qty": 2}}'}, '22023', 'an account id that is not whole' ],
	[ q{'add_instrument', '{"symbol": "BTC/USDT", "exchange": "binance", "colour": "red"}'}, '22023', 'an unknown instrument argument' ],
	[ q{'resume', '{"account": 1}'}, '22023', 'resume with a misspelt key' ],
	[ qq{'set_limits', jsonb_build_object('account_id', 1, 'limits', jsonb_build_object(repeat('x', 1000000), 1))},
		'22023', 'a 1 MB limit name' ],);
for my $b (@bad)
{
	($ret, $out, $err) = as('ann', qq{SELECT sigmax.request_approval($b->[0])});
	like($err, qr/ERROR:  $b->[1]: /, "request_approval refuses $b->[2] ($b->[1])");
	unlike($err, qr/x{100}/, "without echoing it") if $b->[2] =~ /1 MB/;
}
is(sql(q{SELECT count(*) FROM sigmax.approval_requests}), $nreq, 'and files nothing');
($ret, $out, $err) = as('bob', q{SELECT sigmax.approve(NULL)});
like($err, qr/ERROR:  22004: /, 'approve(NULL) is 22004');
($ret, $out, $err) = as('bob', q{SELECT sigmax.approve(987654)});
like($err, qr/ERROR:  22023: approval request 987654 does not exist/, 'an unknown request is 22023');
($ret, $out, $err) = as('bob', q{SELECT sigmax.deny(987654, 'x')});
like($err, qr/ERROR:  22023: approval request 987654 does not exist/, 'for deny too');

# --- trading mode: live waits for a second person ---
($ret, $out, $err) = as('ann', q{SELECT sigmax.set_trading_mode(2, 'testnet')});
is($ret, 0, 'an admin switches an account to testnet alone') or diag($err);
($ret, $out, $err) = as('ann', q{SELECT sigmax.set_trading_mode(2, 'live')});
like($err, qr/ERROR:  42501: switching an account to live needs a second person's approval/, 'but not to live');
is(sql(q{SELECT trading_mode FROM sigmax.accounts WHERE account_id = 2}), 'testnet', 'which stays testnet');
($ret, $out, $err) = as('ann', q{SELECT sigmax.request_approval('set_trading_mode', '{"account_id": 2, "mode": "live"}')});
$req = $out;
($ret, $out, $err) = as('bob', qq{SELECT sigmax.approve($req)});
is($out, '{"trading_mode": "live"}', 'bob approves the switch to live') or diag($err);
is(sql(q{SELECT trading_mode FROM sigmax.accounts WHERE account_id = 2}), 'live', 'and the account is live');
is(sql(q{SELECT payload->>'from' || '>' || (payload->>'to') FROM sigmax.audit_log WHERE action = 'account.trading_mode' ORDER BY seq DESC LIMIT 1}),
	'testnet>live', 'ledgered');
($ret, $out, $err) = as('ann', q{SELECT sigmax.set_trading_mode(2, 'paper')});
is($ret, 0, 'going back to paper needs nobody') or diag($err);

# --- the kill switch: lifting it takes two people; a denial alerts ---
($ret, $out, $err) = as('ann', q{SELECT sigmax.kill_switch('drill')});
is($ret, 0, 'ann pulls the kill switch alone') or diag($err);
($ret, $out, $err) = as('ann', q{SELECT sigmax.resume(NULL)});
like($err, qr/ERROR:  42501: lifting the kill switch needs a second person's approval/, 'but cannot lift it alone');
($ret, $out, $err) = as('ann', q{SELECT sigmax.pause(NULL, 'softer')});
like($err, qr/42501: lifting the kill switch/, 'not even to a pause');
is(sql(q{SELECT sigmax.trading_state()}), 'halted', 'trading stays halted');
($ret, $out, $err) = as('ann', q{SELECT sigmax.request_approval('resume', '{"account_id": null}')});
$req = $out;
($ret, $out, $err) = as('bob', qq{SELECT sigmax.deny($req, 'not yet: the drill is not over')});
is($ret, 0, 'bob denies it') or diag($err);
is(sql(qq{SELECT status || ' ' || decided_by || ' ' || reason FROM sigmax.approval_requests WHERE request_id = $req}),
	'denied bob not yet: the drill is not over', 'the request is denied with the reason');
is(sql(q{SELECT count(*) FROM sigmax.alerts WHERE kind = 'approval_denied'}), '1', 'a denial raises an approval_denied alert');
is(sql(qq{SELECT count(*) FROM sigmax.audit_log WHERE action = 'approval.denied' AND (payload->>'request_id')::bigint = $req}),
	'1', 'and is ledgered');
is(sql(q{SELECT sigmax.trading_state()}), 'halted', 'trading is still halted');
($ret, $out, $err) = as('ann', q{SELECT sigmax.request_approval('resume', '{"account_id": null}')});
$req = $out;
($ret, $out, $err) = as('bob', qq{SELECT sigmax.approve($req)});
is($ret, 0, 'a new request, approved by bob') or diag($err);
is(sql(q{SELECT sigmax.trading_state()}), 'active', 'lifts the kill switch');

($ret, $out, $err) = as('ann', q{SELECT sigmax.request_approval('resume', '{"account_id": null}')});
like($err, qr/ERROR:  55000: trading is not halted/, 'a request to lift a kill switch that is not pulled is refused');
sql(q{SELECT sigmax.kill_switch('first')});
($ret, $out, $err) = as('ann', q{SELECT sigmax.request_approval('resume', '{"account_id": null}')});
$req = $out;
sql(q{SELECT sigmax.resume(); SELECT sigmax.kill_switch('second incident')});
($ret, $out, $err) = as('bob', qq{SELECT sigmax.approve($req)});
like($err, qr/ERROR:  55000: approval request $req no longer applies/,
	'an approval lifts the halt it was asked for, not a later one');
is(sql(q{SELECT sigmax.trading_state()}), 'halted', 'the second halt holds');
sql(q{SELECT sigmax.resume()});

# --- an instrument's stop-loss wins over the account's: widening it is a loosening ---
($ret, $out, $err) = as('ann', q{SELECT sigmax.add_instrument('BTC/USDT', 'binance', stop_loss_pct => 0.9)});
like($err, qr/ERROR:  42501: loosening a stop-loss needs a second person's approval/,
	'an admin cannot widen the stop-loss through the instrument alone');
($ret, $out, $err) = as('ann', q{SELECT sigmax.add_instrument('ETH/USDT', 'binance', stop_loss_pct => 0.5)});
like($err, qr/42501: loosening a stop-loss/, 'nor add an instrument with a wider stop-loss');
($ret, $out, $err) = as('ann', q{SELECT sigmax.add_instrument('ETH/USDT', 'binance', stop_loss_pct => 0.001)});
is($ret, 0, 'a tighter one needs nobody') or diag($err);
($ret, $out, $err) = as('ann', q{SELECT sigmax.request_approval('add_instrument', '{"symbol": "ETH/USDT", "exchange": "binance", "stop_loss_pct": 0.2}')});
$req = $out;
($ret, $out, $err) = as('bob', qq{SELECT sigmax.approve($req)});
is($ret, 0, 'bob approves a wider one') or diag($err);
is(sql(q{SELECT stop_loss_pct FROM sigmax.instruments WHERE symbol = 'ETH/USDT'}), '0.2', 'which applies');

# --- the cool-down after an automatic pause ---
sql(q{SELECT sigmax._auto_pause(2, 'drawdown', '{"test": true}', true)});
($ret, $out, $err) = as('ann', q{SELECT sigmax.resume(2)});
like($err, qr/ERROR:  55000: account 2 was paused automatically \(drawdown\).*\n(.*\n)*HINT:  .*or earlier with a second person's approval/,
	'resuming inside the cool-down is refused, with the way to ask for it');
($ret, $out, $err) = as('ann', q{SELECT sigmax.request_approval('resume', '{"account_id": 2}')});
$req = $out;
($ret, $out, $err) = as('bob', qq{SELECT sigmax.approve($req)});
is($ret, 0, 'bob approves resuming early') or diag($err);
is(sql(q{SELECT sigmax.trading_state(2) || ' ' || (auto_paused_at IS NULL) FROM sigmax.accounts WHERE account_id = 2}),
	'active true', 'the account trades again');

# --- orders at or above approval_notional ---
sql(q{SELECT sigmax.set_limits(1, '{"approval_notional": 10000}')});
($ret, $out, $err) = as('app', q{SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.1, 'market', NULL, 'small')});
is($out, 'filled', 'an order below the threshold fills') or diag($err);
($ret, $out, $err) = as('app', q{SELECT order_id, status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.4, 'market', NULL, 'big')});
like($out, qr/^\d+\|pending_approval$/, 'one above it waits for approval') or diag($err);
my ($big) = $out =~ /^(\d+)/;
my $big_req = sql(qq{SELECT request_id FROM sigmax.approval_requests WHERE order_id = $big});
is(sql(qq{SELECT action || ' ' || requested_by || ' ' || status FROM sigmax.approval_requests WHERE request_id = $big_req}),
	'order app pending', 'with a request filed by the trader');
is(sql(q{SELECT count(*) FROM sigmax.fills f JOIN sigmax.orders o USING (order_id) WHERE o.client_order_id = 'big'}), '0',
	'and no fill');
($ret, $out, $err) = as('app', q{SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.4, 'market', NULL, 'big')});
is($out, 'pending_approval', 'resubmitting it returns the same order') or diag($err);
($ret, $out, $err) = as('bob', qq{SELECT sigmax.approve($big_req)});
like($out, qr/"status": "filled"/, 'bob approves it: checked again and filled') or diag($err);
is(sql(qq{SELECT status FROM sigmax.orders WHERE order_id = $big}), 'filled', 'the order is filled');
is(sql(qq{SELECT count(*) FROM sigmax.fills WHERE order_id = $big}), '1', 'once');

($ret, $out, $err) = as('app', q{SELECT order_id FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.4, 'market', NULL, 'big2')});
my $big2 = $out;
my $big2_req = sql(qq{SELECT request_id FROM sigmax.approval_requests WHERE order_id = $big2});
($ret, $out, $err) = as('ann', q{SELECT sigmax.set_limits(1, '{"max_order_qty": 0.3}')});
is($ret, 0, 'ann tightens max_order_qty below the waiting order') or diag($err);
($ret, $out, $err) = as('bob', qq{SELECT sigmax.approve($big2_req)});
like($out, qr/"status": "rejected", "order_id": $big2, "reason_code": "MAX_ORDER_QTY"/,
	'approval re-runs every check: the order is rejected under the limits of now') or diag("$out $err");
is(sql(qq{SELECT status || ' ' || reason_code FROM sigmax.orders WHERE order_id = $big2}), 'rejected MAX_ORDER_QTY',
	'and recorded so');
is(sql(qq{SELECT status FROM sigmax.approval_requests WHERE request_id = $big2_req}), 'approved', 'the request itself was approved');

($ret, $out, $err) = as('app', q{SELECT order_id FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.25, 'market', NULL, 'big3')});
my $big3 = $out;
my $big3_req = sql(qq{SELECT request_id FROM sigmax.approval_requests WHERE order_id = $big3});
($ret, $out, $err) = as('bob', qq{SELECT sigmax.deny($big3_req, 'too big for today')});
is(sql(qq{SELECT status || ': ' || reason FROM sigmax.orders WHERE order_id = $big3}), 'cancelled: approval denied: too big for today',
	'denying an order cancels it');

($ret, $out, $err) = as('app', q{SELECT order_id FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.25, 'market', NULL, 'big4')});
my $big4 = $out;
my $big4_req = sql(qq{SELECT request_id FROM sigmax.approval_requests WHERE order_id = $big4});
($ret, $out, $err) = as('app', qq{SELECT sigmax.cancel_order($big4)});
is($ret, 0, 'the trader cancels an order waiting for approval') or diag($err);
($ret, $out, $err) = as('bob', qq{SELECT sigmax.approve($big4_req)});
like($err, qr/ERROR:  55000: approval request $big4_req is already cancelled/, 'its request is closed and cannot be approved');
is(sql(qq{SELECT status FROM sigmax.orders WHERE order_id = $big4}), 'cancelled', 'the order stays cancelled');

# --- expiry: lazily on the next approval call, and by the worker's sweep ---
sql(q{ALTER SYSTEM SET sigmax.approval_ttl = 10; SELECT pg_reload_conf();});
$node->poll_query_until('sigmax', q{SELECT current_setting('sigmax.approval_ttl') = '10s'});
($ret, $out, $err) = as('ann', q{SELECT sigmax.request_approval('set_limits', '{"account_id": 1, "limits": {"max_order_qty": 5}}')});
my $lazy = $out;
($ret, $out, $err) = as('app', q{SELECT order_id FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.25, 'market', NULL, 'big5')});
my $big5 = $out;
is(sql(qq{SELECT (expires_at - requested_at)::text FROM sigmax.approval_requests WHERE order_id = $big5}), '00:00:10',
	'a request lives sigmax.approval_ttl');
ok($node->poll_query_until('sigmax', qq{SELECT status = 'cancelled' FROM sigmax.orders WHERE order_id = $big5}),
	'the worker expires a request nobody decided (polling is off) and cancels its order');
is(sql(qq{SELECT status FROM sigmax.approval_requests WHERE order_id = $big5}), 'expired', 'the request is expired');
is(sql(qq{SELECT count(*) FROM sigmax.audit_log WHERE action = 'approval.expired'}), '2', 'both expiries are ledgered');
($ret, $out, $err) = as('bob', qq{SELECT sigmax.approve($lazy)});
like($err, qr/ERROR:  55000: approval request $lazy is already expired/, 'an expired request cannot be approved (55000)');
is(sql(q{SELECT max_order_qty FROM sigmax.limits WHERE account_id = 1}), '0.3', 'and changed nothing');

# --- the error surface: no context, SQL text or source location for a non-superuser ---
my @failing = (
	[ 'ann', q{SELECT sigmax.set_limits(1, '{"max_order_qty": 100}')} ],
	[ 'ann', q{SELECT sigmax.set_limits(1, '{"no_such": 1}')} ],
	[ 'ann', q{SELECT sigmax.request_approval('set_limits', '{"account_id": 1, "limits": {"max_order_qty": -1}}')} ],
	[ 'ann', q{SELECT sigmax.approve(987654)} ],
	[ 'ann', q{SELECT sigmax.create_account('', 1)} ],
	[ 'ann', q{SELECT sigmax.add_instrument('nope', 'binance')} ],
	[ 'app', q{SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'hold', 1)} ],
	[ 'app', q{SELECT * FROM sigmax.submit_order(1, 'btc', 'buy', 1)} ],
	[ 'app', q{SELECT * FROM sigmax.check_order(1, 'BTC/USDT', 'buy', 'NaN')} ],
	[ 'app', q{SELECT sigmax.cancel_order(NULL)} ],
	[ 'app', q{SELECT sigmax.authenticate('not a token')} ],
	[ 'app', q{SELECT sigmax.cancel_order(987654)} ],
	[ 'ann', q{SELECT sigmax.audit_proof('nope', 1)} ],
	[ 'ann', q{SELECT sigmax.create_api_key('dup', 'sigmax_trader', '{1}'); SELECT sigmax.create_api_key('dup', 'sigmax_trader', '{1}')} ],
	[ 'ann', q{SELECT sigmax.add_exchange('binance', base_url => 'https://user:hunter2@example.com')} ],);
for my $f (@failing)
{
	($ret, $out, $err) = as($f->[0], $f->[1]);
	like($err, qr/ERROR:  [0-9A-Z]{5}: /, "$f->[0]: $f->[1] fails");
	unlike($err, qr/^(CONTEXT|LOCATION|QUERY):/m, '  and shows no context, query or source location')
	  or diag($err);
	unlike($err, qr/\.c:\d|PL\/pgSQL|SPI_|sigmax\._|\/usr\/|\/tmp\/|hunter2/, '  nor an internal name, a path or a credential')
	  or diag($err);
	unlike($err, qr/^(SCHEMA|TABLE|COLUMN|DATATYPE|CONSTRAINT) NAME:/m, '  nor the names of the objects involved') or diag($err);
}
like(slurp_file($node->logfile), qr/ERROR:  unknown limit "no_such"\n[^\n]*DETAIL:  Context: PL\/pgSQL function sigmax\._apply_limits/,
	'the server log keeps the context, as a detail only the log shows');
# PostgreSQL's own errors before any sigmax code runs (a missing EXECUTE grant, a
# division by zero) keep their verbose fields: they name PostgreSQL's source, not sigmax's.
($ret, $out, $err) = as('ann', q{SELECT 1/0});
like($err, qr/LOCATION:/, 'errors outside sigmax calls keep their verbose fields');
($ret, $out, $err) = as('app', q{SELECT sigmax.set_limits(1, '{}')});
like($err, qr/ERROR:  42501: permission denied for function set_limits\n/, 'a missing grant is PostgreSQL\'s own 42501');
($ret, $out, $err) = $node->psql('sigmax', q{SELECT sigmax.set_limits(1, '{"no_such": 1}')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/CONTEXT:  PL\/pgSQL function/, 'and a superuser sees everything');

is(sql(q{SELECT count(*) FROM sigmax.audit_verify()}), '0', 'the ledger verifies');
done_testing();
