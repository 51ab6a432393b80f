-- protections: marks to market, automatic pauses for daily loss and drawdown,
-- the cool-down before a person resumes, the day rollover, alerts.
CREATE EXTENSION sigmax;
SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.0001);
-- no slippage or fee, and stops out of the way until the stop-loss section
SELECT sigmax.set_limits(NULL, '{"slippage_bps": 0, "fee_bps": 0, "stop_loss_pct": 0.99}');
SELECT sigmax.record_price('binance', 'BTC/USDT', 50000, 50000, 50000);

-- every recorded price marks the open positions in its symbol
SELECT sigmax.create_account('marks', 100000) AS marks \gset
SELECT status FROM sigmax.submit_order(:marks, 'BTC/USDT', 'buy', 0.08);
SELECT sigmax.record_price('binance', 'BTC/USDT', 50999, 51001, 51000);
SELECT qty, avg_price, mark_price, unrealized_pnl FROM sigmax.positions WHERE account_id = :marks;
SELECT equity, realized_pnl, unrealized_pnl, daily_pnl, peak_equity, drawdown
  FROM sigmax.account_pnl WHERE account_id = :marks;

-- daily loss at the limit (2% of start-of-day equity) pauses the account and cancels its working orders
SELECT sigmax.record_price('binance', 'BTC/USDT', 50000, 50000, 50000);
SELECT sigmax.create_account('daily', 10000) AS daily \gset
SELECT status FROM sigmax.submit_order(:daily, 'BTC/USDT', 'buy', 0.0098);
SELECT status FROM sigmax.submit_order(:daily, 'BTC/USDT', 'sell', 0.0001, 'limit', 52000);
SELECT sigmax.record_price('binance', 'BTC/USDT', 30000, 30000, 30000);   -- just below the limit: nothing
SELECT sigmax.trading_state(:daily), round(daily_pnl, 2) AS daily_pnl FROM sigmax.account_pnl WHERE account_id = :daily;
SELECT sigmax.record_price('binance', 'BTC/USDT', 29500, 29500, 29500);   -- at it: paused
SELECT sigmax.trading_state(:daily), auto_pause_kind, round(daily_pnl, 2) AS daily_pnl FROM sigmax.account_pnl WHERE account_id = :daily;
SELECT status, reason FROM sigmax.orders WHERE account_id = :daily AND order_type = 'limit';
SELECT action, payload - 'at' AS evidence FROM sigmax.audit_log
 WHERE stream = 'account:' || :daily AND action LIKE 'protection.%';
SELECT severity, kind, account_id = :daily AS this_account, repeat_count, detail->>'cancelled_orders' AS cancelled
  FROM sigmax.alerts;
-- new risk is refused, reducing passes
SELECT status, reason_code FROM sigmax.submit_order(:daily, 'BTC/USDT', 'buy', 0.0001);
SELECT status FROM sigmax.submit_order(:daily, 'BTC/USDT', 'sell', 0.0001);
-- a person re-enables it, and not within the cool-down (sigmax.auto_pause_cooldown, 30 min)
\set VERBOSITY sqlstate
SELECT sigmax.resume(:daily);
\set VERBOSITY default
SELECT sigmax.trading_state(:daily), auto_paused_at IS NOT NULL AS auto_paused FROM sigmax.accounts WHERE account_id = :daily;

-- while paused, a resting order that would add risk does not fill; reduce-only cannot lift the pause
SELECT sigmax.record_price('binance', 'BTC/USDT', 29500, 29500, 29500);
\set VERBOSITY sqlstate
SELECT sigmax.set_reduce_only(:daily, true);
SELECT sigmax.set_reduce_only(:daily, false);
\set VERBOSITY default

-- the day rolls over at 00:00 UTC: a new start-of-day equity, and the pause stays
UPDATE sigmax.accounts SET sod_date = sod_date - 1 WHERE account_id = :daily;   -- as if the day had changed
SELECT sigmax.record_price('binance', 'BTC/USDT', 29400, 29400, 29400);
SELECT sod_date = (now() AT TIME ZONE 'UTC')::date AS rolled_over, round(sod_equity, 2) AS sod_equity
  FROM sigmax.accounts WHERE account_id = :daily;
SELECT sigmax.trading_state(:daily) AS still;
SELECT count(*) AS rollover_entries FROM sigmax.audit_log WHERE stream = 'account:' || :daily AND action = 'day.rollover';

-- drawdown from peak equity at the limit pauses the account
SELECT sigmax.create_account('peak', 10000) AS peak \gset
SELECT sigmax.set_limits(:peak, '{"max_daily_loss_pct": 0.9, "max_drawdown_pct": 0.03, "max_position_pct": 1}');
SELECT sigmax.record_price('binance', 'BTC/USDT', 29400, 29400, 29400);
SELECT status FROM sigmax.submit_order(:peak, 'BTC/USDT', 'buy', 0.1);
SELECT sigmax.record_price('binance', 'BTC/USDT', 31000, 31000, 31000);   -- a new peak
SELECT round(peak_equity, 2) AS peak_equity FROM sigmax.account_pnl WHERE account_id = :peak;
SELECT sigmax.record_price('binance', 'BTC/USDT', 28000, 28000, 28000);   -- 2.95% below it: nothing
SELECT sigmax.trading_state(:peak);
SELECT sigmax.record_price('binance', 'BTC/USDT', 27900, 27900, 27900);   -- 3.05% below it: paused
SELECT sigmax.trading_state(:peak), auto_pause_kind, round(drawdown, 4) AS drawdown FROM sigmax.account_pnl WHERE account_id = :peak;

-- stop-loss: an opening fill gets a stop 1.5% from entry; a price that reaches it closes the
-- position once, through the order path, at the market (the gapped price when it jumps)
SELECT sigmax.record_price('binance', 'BTC/USDT', 50000, 50000, 50000);
SELECT sigmax.create_account('stopper', 100000) AS stopper \gset
SELECT sigmax.set_limits(:stopper, '{"stop_loss_pct": 0.015}');
SELECT status FROM sigmax.submit_order(:stopper, 'BTC/USDT', 'buy', 0.01);
SELECT direction, entry_price, stop_price, status FROM sigmax.stops WHERE account_id = :stopper;
SELECT sigmax.record_price('binance', 'BTC/USDT', 49300, 49300, 49300);   -- above the stop: nothing
SELECT status FROM sigmax.stops WHERE account_id = :stopper;
SELECT sigmax.record_price('binance', 'BTC/USDT', 49250, 49250, 49250);   -- at the stop
SELECT status, trigger_price, close_order_id IS NOT NULL AS closed_by_order FROM sigmax.stops WHERE account_id = :stopper;
SELECT side, qty, status, reduce_only, client_order_id, avg_fill_price FROM sigmax.orders
 WHERE account_id = :stopper ORDER BY order_id;
SELECT qty FROM sigmax.positions WHERE account_id = :stopper;
SELECT payload->>'stop_price' AS stop_price, payload->>'trigger_price' AS trigger_price,
       payload->>'close_status' AS close_status
  FROM sigmax.audit_log WHERE stream = 'account:' || :stopper AND action = 'stop.triggered';
SELECT sigmax.record_price('binance', 'BTC/USDT', 49000, 49000, 49000);   -- again: closed once
SELECT count(*) AS close_orders FROM sigmax.orders WHERE account_id = :stopper AND client_order_id LIKE 'stop#%';

-- a resting take-profit on the closing side is cancelled first, so the close still goes through
SELECT sigmax.record_price('binance', 'BTC/USDT', 50000, 50000, 50000);
SELECT sigmax.create_account('takeprofit', 100000) AS tp \gset
SELECT sigmax.set_limits(:tp, '{"stop_loss_pct": 0.015}');
SELECT status FROM sigmax.submit_order(:tp, 'BTC/USDT', 'buy', 0.01);
SELECT status FROM sigmax.submit_order(:tp, 'BTC/USDT', 'sell', 0.01, 'limit', 52000);
SELECT sigmax.record_price('binance', 'BTC/USDT', 49000, 49000, 49000);
SELECT side, order_type, status, reason FROM sigmax.orders WHERE account_id = :tp ORDER BY order_id;
SELECT status FROM sigmax.stops WHERE account_id = :tp;
-- sigmax's close ids cannot be taken by a trader
\set VERBOSITY sqlstate
SELECT * FROM sigmax.submit_order(:tp, 'BTC/USDT', 'buy', 0.01, 'market', NULL, 'stop#999');
\set VERBOSITY default

-- a short's stop is above entry; a price gapping through it closes at the gapped price
SELECT sigmax.record_price('binance', 'BTC/USDT', 50000, 50000, 50000);
SELECT sigmax.create_account('gapper', 100000) AS gapper \gset
SELECT sigmax.set_limits(:gapper, '{"stop_loss_pct": 0.015}');
SELECT status FROM sigmax.submit_order(:gapper, 'BTC/USDT', 'sell', 0.01);
SELECT direction, stop_price FROM sigmax.stops WHERE account_id = :gapper;
SELECT sigmax.record_price('binance', 'BTC/USDT', 51990, 52000, 51995);   -- gaps from 50000 through 50750
SELECT side, status, avg_fill_price FROM sigmax.orders WHERE account_id = :gapper AND client_order_id LIKE 'stop#%';

-- a trailing stop follows the best price
SELECT sigmax.record_price('binance', 'BTC/USDT', 50000, 50000, 50000);
SELECT sigmax.create_account('trailer', 100000) AS trailer \gset
SELECT sigmax.set_limits(:trailer, '{"stop_loss_pct": 0.015, "stop_trailing": 1}');
SELECT status FROM sigmax.submit_order(:trailer, 'BTC/USDT', 'buy', 0.01);
SELECT sigmax.record_price('binance', 'BTC/USDT', 52000, 52000, 52000);
SELECT best_price, stop_price, status FROM sigmax.stops WHERE account_id = :trailer;
SELECT sigmax.record_price('binance', 'BTC/USDT', 51300, 51300, 51300);
SELECT status FROM sigmax.stops WHERE account_id = :trailer;
SELECT sigmax.record_price('binance', 'BTC/USDT', 51220, 51220, 51220);
SELECT status, trigger_price FROM sigmax.stops WHERE account_id = :trailer;
-- adding to the position never moves a trailing stop back
SELECT status FROM sigmax.submit_order(:trailer, 'BTC/USDT', 'buy', 0.01);
SELECT sigmax.record_price('binance', 'BTC/USDT', 56000, 56000, 56000);
SELECT stop_price FROM sigmax.stops WHERE account_id = :trailer AND status = 'active';
SELECT status FROM sigmax.submit_order(:trailer, 'BTC/USDT', 'buy', 0.01);
SELECT stop_price FROM sigmax.stops WHERE account_id = :trailer AND status = 'active';
SELECT kind, count(*) FROM sigmax.alerts WHERE kind = 'stop_loss' GROUP BY kind;

-- adding at the same average entry leaves the stop as it was: neither written nor ledgered
-- again; adding at another price moves it, ledgered
SELECT sigmax.record_price('binance', 'BTC/USDT', 50000, 50000, 50000);
SELECT sigmax.create_account('adder', 100000) AS adder \gset
SELECT sigmax.set_limits(:adder, '{"stop_loss_pct": 0.015}');
SELECT status FROM sigmax.submit_order(:adder, 'BTC/USDT', 'buy', 0.01);
SELECT xmin AS stop_version FROM sigmax.stops WHERE account_id = :adder AND status = 'active' \gset
SELECT status FROM sigmax.submit_order(:adder, 'BTC/USDT', 'buy', 0.01);
SELECT entry_price, stop_price, xmin = :'stop_version' AS untouched FROM sigmax.stops WHERE account_id = :adder AND status = 'active';
SELECT count(*) AS stop_set_entries FROM sigmax.audit_log WHERE stream = 'account:' || :adder AND action = 'stop.set';
SELECT sigmax.record_price('binance', 'BTC/USDT', 50300, 50300, 50300);
SELECT status FROM sigmax.submit_order(:adder, 'BTC/USDT', 'buy', 0.01);
SELECT entry_price, stop_price FROM sigmax.stops WHERE account_id = :adder AND status = 'active';
SELECT payload->>'entry_price' AS entry_price, payload->>'stop_price' AS stop_price
  FROM sigmax.audit_log WHERE stream = 'account:' || :adder AND action = 'stop.set' ORDER BY seq;
SELECT count(*) AS stops FROM sigmax.stops WHERE account_id = :adder;

-- a streak of losing closed trades (3 by default, flat to flat, net of fees) pauses the account
CREATE FUNCTION pg_temp.trade(acct bigint, entry numeric, exit numeric) RETURNS text LANGUAGE sql AS $$
	SELECT sigmax.record_price('binance', 'BTC/USDT', entry, entry, entry);
	SELECT status FROM sigmax.submit_order(acct, 'BTC/USDT', 'buy', 0.002);
	SELECT sigmax.record_price('binance', 'BTC/USDT', exit, exit, exit);
	SELECT status FROM sigmax.submit_order(acct, 'BTC/USDT', 'sell', 0.002);
$$;
SELECT sigmax.create_account('streak', 100000) AS streak \gset
SELECT pg_temp.trade(:streak, 50000, 49900), pg_temp.trade(:streak, 49900, 49800);   -- two losing trades
SELECT loss_streak, state FROM sigmax.accounts WHERE account_id = :streak;
SELECT pg_temp.trade(:streak, 49800, 49900);                                        -- a winning one ends it
SELECT loss_streak FROM sigmax.accounts WHERE account_id = :streak;
SELECT sigmax.record_price('binance', 'BTC/USDT', 49900, 49900, 49900);
SELECT status FROM sigmax.submit_order(:streak, 'BTC/USDT', 'buy', 0.004);
SELECT sigmax.record_price('binance', 'BTC/USDT', 49800, 49800, 49800);
SELECT status FROM sigmax.submit_order(:streak, 'BTC/USDT', 'sell', 0.002);         -- a partial close ends no trade
SELECT loss_streak FROM sigmax.accounts WHERE account_id = :streak;
SELECT status FROM sigmax.submit_order(:streak, 'BTC/USDT', 'sell', 0.002);         -- flat: losing trade 1
SELECT pg_temp.trade(:streak, 49800, 49700), pg_temp.trade(:streak, 49700, 49600);   -- 2 and 3
SELECT loss_streak, state, auto_pause_kind FROM sigmax.accounts WHERE account_id = :streak;

-- a cool-down after a stop-out blocks new entries on that symbol (default 0: none)
SELECT sigmax.record_price('binance', 'BTC/USDT', 50000, 50000, 50000);
SELECT sigmax.create_account('cooler', 100000) AS cooler \gset
SELECT sigmax.set_limits(:cooler, '{"stop_loss_pct": 0.015, "stop_cooldown_s": 600}');
SELECT status FROM sigmax.submit_order(:cooler, 'BTC/USDT', 'buy', 0.01);
SELECT sigmax.record_price('binance', 'BTC/USDT', 49000, 49000, 49000);              -- stopped out
SELECT status, reason_code FROM sigmax.submit_order(:cooler, 'BTC/USDT', 'buy', 0.01);

-- more than 5 API errors a minute put a venue's instruments in reducing state until it answers again
SELECT sigmax.record_venue_error('binance', 'HTTP 500') FROM generate_series(1, 5);
SELECT state FROM sigmax.venue_state WHERE exchange = 'binance';
SELECT sigmax.record_venue_error('binance', 'HTTP 500');
SELECT state FROM sigmax.venue_state WHERE exchange = 'binance';
SELECT sigmax.create_account('venue', 100000) AS venue \gset
SELECT status, reason_code, reason FROM sigmax.submit_order(:venue, 'BTC/USDT', 'buy', 0.01);
SELECT kind, severity, repeat_count FROM sigmax.alerts WHERE kind = 'venue_errors';
DELETE FROM sigmax.venue_errors;   -- as if a quiet minute had passed
SELECT sigmax.record_price('binance', 'BTC/USDT', 49000, 49000, 49000);
SELECT state FROM sigmax.venue_state WHERE exchange = 'binance';
SELECT action FROM sigmax.audit_log WHERE stream = 'system' AND action LIKE 'venue.%' ORDER BY seq;
\set VERBOSITY sqlstate
SELECT sigmax.record_venue_error('Binance!', 'x');
\set VERBOSITY default

-- after the cool-down a person resumes the account: drawdown counts from there, the streak restarts
UPDATE sigmax.accounts SET auto_paused_at = auto_paused_at - interval '31 minutes' WHERE account_id = :streak;  -- as if 31 minutes had passed
SELECT sigmax.resume(:streak);
SELECT state, loss_streak, auto_paused_at IS NULL AS cleared,
       round(peak_equity, 2) = round((SELECT equity FROM sigmax.account_pnl WHERE account_id = :streak), 2) AS peak_rebased
  FROM sigmax.accounts WHERE account_id = :streak;

-- alerts: one per kind and account per minute, repeats counted; acknowledged by a person
SELECT sigmax._raise_alert('rate_limit', 'warning', :peak, '{"n": 1}') = sigmax._raise_alert('rate_limit', 'warning', :peak, '{"n": 2}') AS deduplicated;
SELECT kind, repeat_count, detail FROM sigmax.alerts WHERE kind = 'rate_limit';
SELECT alert_id AS alert FROM sigmax.alerts WHERE kind = 'rate_limit' \gset
SELECT sigmax.acknowledge_alert(:alert);
SELECT acknowledged_by IS NOT NULL AS acknowledged FROM sigmax.alerts WHERE alert_id = :alert;
\set VERBOSITY sqlstate
SELECT sigmax.acknowledge_alert(:alert);
SELECT sigmax.acknowledge_alert(424242);
\set VERBOSITY default

SELECT count(*) AS problems FROM sigmax.audit_verify();
DROP EXTENSION sigmax;
DROP SCHEMA sigmax;
