-- pgTAP: every automatic protection just below and at its threshold; long,
-- short, gapped and trailing stops; the day rollover; alerts and their roles.
BEGIN;
CREATE EXTENSION sigmax;
SELECT plan(34);

SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.0001);
SELECT sigmax.set_limits(NULL, '{"slippage_bps": 0, "fee_bps": 0, "stop_loss_pct": 0.99, "max_position_pct": 1}');

-- A helper for the tests: an account holding qty BTC bought at 50000.
CREATE FUNCTION pg_temp.holder(name text, equity numeric, qty numeric, extra jsonb DEFAULT '{}')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE id bigint;
BEGIN
	PERFORM sigmax.record_price('binance', 'BTC/USDT', 50000, 50000, 50000);
	id := sigmax.create_account(name, equity);
	PERFORM sigmax.set_limits(id, extra);
	PERFORM sigmax.submit_order(id, 'BTC/USDT', CASE WHEN qty > 0 THEN 'buy' ELSE 'sell' END, abs(qty));
	RETURN id;
END $$;
CREATE FUNCTION pg_temp.price(p numeric) RETURNS integer LANGUAGE sql
	AS $$ SELECT sigmax.record_price('binance', 'BTC/USDT', p, p, p) $$;

-- daily loss: 2% of 10000 = 200; 0.01 BTC loses 200 at 30000
SELECT pg_temp.holder('daily', 10000, 0.01) AS daily \gset
SELECT pg_temp.price(30001);
SELECT is(sigmax.trading_state(:daily), 'active', 'daily loss: 199.99, just below the limit: active');
SELECT pg_temp.price(30000);
SELECT is(sigmax.trading_state(:daily), 'paused', 'daily loss: 200, at the limit: paused');
SELECT is((SELECT auto_pause_kind FROM sigmax.accounts WHERE account_id = :daily), 'daily_loss', 'as a daily_loss pause');
SELECT is((SELECT count(*)::int FROM sigmax.alerts WHERE kind = 'daily_loss' AND account_id = :daily), 1, 'with one alert');
SELECT throws_ok(format('SELECT sigmax.resume(%s)', :daily), '55000', NULL, 'resume inside the cool-down is refused');

-- drawdown: 10% of the peak
SELECT pg_temp.holder('dd', 10000, 0.1, '{"max_daily_loss_pct": 1}') AS dd \gset
SELECT pg_temp.price(60000);   -- peak equity 11000
SELECT pg_temp.price(49001);   -- 10999/11000 ... equity 9900.1: drawdown 9.999%
SELECT is(sigmax.trading_state(:dd), 'active', 'drawdown just below 10%: active');
SELECT pg_temp.price(49000);   -- equity 9900: drawdown 10%
SELECT is(sigmax.trading_state(:dd), 'paused', 'drawdown at 10%: paused');
SELECT is((SELECT auto_pause_kind FROM sigmax.accounts WHERE account_id = :dd), 'drawdown', 'as a drawdown pause');

-- losing streak: 3 losing closed trades in a row (each flat to flat)
SELECT pg_temp.holder('streak', 100000, 0.001, '{"max_loss_streak": 3}') AS streak \gset
SELECT pg_temp.price(49900);
SELECT sigmax.submit_order(:streak, 'BTC/USDT', 'sell', 0.001);
SELECT pg_temp.price(49900);
SELECT sigmax.submit_order(:streak, 'BTC/USDT', 'buy', 0.001);
SELECT pg_temp.price(49800);
SELECT sigmax.submit_order(:streak, 'BTC/USDT', 'sell', 0.001);
SELECT is(sigmax.trading_state(:streak), 'active', 'two losing trades: active');
SELECT pg_temp.price(49800);
SELECT sigmax.submit_order(:streak, 'BTC/USDT', 'buy', 0.001);
SELECT pg_temp.price(49700);
SELECT sigmax.submit_order(:streak, 'BTC/USDT', 'sell', 0.001);
SELECT is(sigmax.trading_state(:streak), 'paused', 'three: paused');

-- stops: long below entry, short above; each closes once
SELECT pg_temp.holder('long', 100000, 0.01, '{"stop_loss_pct": 0.015}') AS long_id \gset
SELECT is((SELECT stop_price FROM sigmax.stops WHERE account_id = :long_id)::numeric, 49250::numeric, 'a long stops 1.5% below entry');
SELECT pg_temp.price(49250.01);
SELECT is((SELECT status FROM sigmax.stops WHERE account_id = :long_id), 'active', 'a long stop just above: active');
SELECT pg_temp.price(49250);
SELECT is((SELECT status FROM sigmax.stops WHERE account_id = :long_id), 'triggered', 'at the stop: triggered');
SELECT is((SELECT qty FROM sigmax.positions WHERE account_id = :long_id)::numeric, 0::numeric, 'the position is closed');
SELECT pg_temp.price(49000);
SELECT is((SELECT count(*)::int FROM sigmax.orders WHERE account_id = :long_id AND client_order_id LIKE 'stop#%'), 1, 'closed once');

SELECT pg_temp.holder('short', 100000, -0.01, '{"stop_loss_pct": 0.015}') AS short_id \gset
SELECT is((SELECT stop_price FROM sigmax.stops WHERE account_id = :short_id)::numeric, 50750::numeric, 'a short stops 1.5% above entry');
SELECT pg_temp.price(50749.99);
SELECT is((SELECT status FROM sigmax.stops WHERE account_id = :short_id), 'active', 'a short stop just below: active');
SELECT sigmax.record_price('binance', 'BTC/USDT', 53000, 53000, 53000);   -- gaps through 50750
SELECT is((SELECT avg_fill_price FROM sigmax.orders WHERE account_id = :short_id AND client_order_id LIKE 'stop#%')::numeric,
	53000::numeric, 'a gap closes at the gapped price');
SELECT is((SELECT count(*)::int FROM sigmax.audit_log WHERE stream = 'account:' || :short_id AND action = 'stop.triggered'),
	1, 'the stop-out is ledgered with its prices');

SELECT pg_temp.holder('trail', 100000, 0.01, '{"stop_loss_pct": 0.015, "stop_trailing": 1}') AS trail \gset
SELECT pg_temp.price(54000);
SELECT is((SELECT stop_price FROM sigmax.stops WHERE account_id = :trail)::numeric, 53190::numeric, 'a trailing stop follows the best price');
SELECT pg_temp.price(53500);
SELECT is((SELECT stop_price FROM sigmax.stops WHERE account_id = :trail)::numeric, 53190::numeric, 'and never moves back');
SELECT pg_temp.price(53190);
SELECT is((SELECT status FROM sigmax.stops WHERE account_id = :trail), 'triggered', 'it triggers at its moved price');

-- venue errors: more than 5 a minute
SELECT sigmax.record_venue_error('binance', 'timeout') FROM generate_series(1, 5);
SELECT is((SELECT state FROM sigmax.venue_state WHERE exchange = 'binance'), 'active', '5 errors: active');
SELECT sigmax.record_venue_error('binance', 'timeout');
SELECT is((SELECT state FROM sigmax.venue_state WHERE exchange = 'binance'), 'reducing', '6 errors: reducing');
DELETE FROM sigmax.venue_errors;
SELECT pg_temp.price(53000);
SELECT is((SELECT state FROM sigmax.venue_state WHERE exchange = 'binance'), 'active', 'recovered when it answers again');

-- the day rollover takes a new start-of-day equity and never lifts a pause
UPDATE sigmax.accounts SET sod_date = sod_date - 1 WHERE account_id = :daily;
SELECT pg_temp.price(53000);
SELECT is((SELECT sod_date FROM sigmax.accounts WHERE account_id = :daily), (now() AT TIME ZONE 'UTC')::date, 'rolled over to today (UTC)');
SELECT is(sigmax.trading_state(:daily), 'paused', 'the pause stays');

-- alerts
SELECT is(sigmax._raise_alert('rate_limit', 'warning', :daily, '{}'), sigmax._raise_alert('rate_limit', 'warning', :daily, '{}'),
	'a repeat within the minute is the same alert');
SELECT is((SELECT repeat_count FROM sigmax.alerts WHERE kind = 'rate_limit'), 2, 'counted twice');
SELECT table_privs_are('sigmax', 'alerts', 'sigmax_admin', ARRAY['SELECT'], 'admins read alerts');
SELECT table_privs_are('sigmax', 'alerts', 'sigmax_trader', ARRAY[]::text[], 'traders do not read alerts (yet: row security comes with access control)');
SELECT function_privs_are('sigmax', 'acknowledge_alert', ARRAY['bigint'], 'sigmax_admin', ARRAY['EXECUTE'], 'admins acknowledge');
SELECT function_privs_are('sigmax', 'record_venue_error', ARRAY['text', 'text'], 'sigmax_trader', ARRAY[]::text[], 'traders cannot report venue errors');
SELECT is_empty('SELECT * FROM sigmax.audit_verify()', 'the ledger verifies');

SELECT * FROM finish();
ROLLBACK;
