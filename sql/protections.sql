-- protections: marks to market, automatic pauses for daily loss and drawdown,
-- the cool-down before a person resumes, the day rollover, alerts.
CREATE EXTENSION sigmax;
SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.0001);
SELECT sigmax.set_limits(NULL, '{"slippage_bps": 0, "fee_bps": 0}');
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
