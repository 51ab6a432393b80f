-- orders: every check in order, with its reason code; paper fills; states; the ledger.
CREATE EXTENSION sigmax;
-- stop-losses are exercised in sql/protections.sql; here they stay out of the way
SELECT sigmax.set_limits(NULL, '{"stop_loss_pct": 0.99}');
SELECT sigmax.create_account('desk', 100000) AS acct \gset
SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.0001, min_notional => 10);
SELECT sigmax.add_instrument('ETH/USDT', 'binance', tick_size => 0.01, lot_size => 0.001, min_notional => 10);
SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);
SELECT sigmax.record_price('binance', 'ETH/USDT', 2999, 3001, 3000);

-- the limits an account runs under: built-in defaults
SELECT * FROM sigmax.limits WHERE account_id = :acct;

-- accepted market buy: fills at the ask plus 5 bps slippage, rounded up to the tick, 10 bps fee
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.05);
SELECT symbol, qty, avg_price, realized_pnl FROM sigmax.positions;
SELECT side, qty, price, fee FROM sigmax.fills;
SELECT cash, equity, daily_pnl, gross_exposure, open_orders FROM sigmax.account_summary;

-- verdicts, in the order the checks run
SELECT * FROM sigmax.submit_order(:acct, 'SOL/USDT', 'buy', 1);                  -- UNKNOWN_INSTRUMENT
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.00015);            -- LOT_SIZE
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.01, 'limit', 49000.005);  -- TICK_SIZE
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.0001);             -- MIN_NOTIONAL
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.01, 'limit', 40000);      -- PRICE_COLLAR
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.06);               -- POSITION_LIMIT
SELECT sigmax.set_limits(:acct, '{"max_order_qty": 0.02, "max_order_notional": 600}');
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.03);               -- MAX_ORDER_QTY
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.02);               -- MAX_ORDER_NOTIONAL
SELECT sigmax.set_limits(:acct, '{"max_order_qty": null, "max_order_notional": null, "max_exposure_pct": 0.05}');
SELECT * FROM sigmax.submit_order(:acct, 'ETH/USDT', 'buy', 1);                  -- EXPOSURE_LIMIT
SELECT sigmax.set_limits(:acct, '{"max_exposure_pct": null, "max_open_orders": 1}');
SELECT * FROM sigmax.submit_order(:acct, 'ETH/USDT', 'buy', 0.1, 'limit', 2900);  -- rests
SELECT * FROM sigmax.submit_order(:acct, 'ETH/USDT', 'buy', 0.1, 'limit', 2900);  -- OPEN_ORDERS_LIMIT
SELECT sigmax.set_limits(:acct, '{"max_open_orders": null, "approval_notional": 1000}');
SELECT * FROM sigmax.submit_order(:acct, 'ETH/USDT', 'buy', 0.5);                -- pending_approval
SELECT sigmax.set_limits(:acct, '{"approval_notional": null}');

-- duplicate client_order_id: the same order returns the original verdict; another is DUPLICATE_ORDER
SELECT * FROM sigmax.submit_order(:acct, 'ETH/USDT', 'sell', 0.01, 'limit', 3100, 'my-1');
SELECT * FROM sigmax.submit_order(:acct, 'ETH/USDT', 'sell', 0.01, 'limit', 3100, 'my-1');
SELECT * FROM sigmax.submit_order(:acct, 'ETH/USDT', 'sell', 0.02, 'limit', 3100, 'my-1');
SELECT count(*) AS orders_with_my_1 FROM sigmax.orders WHERE client_order_id = 'my-1';

-- a stale price fails closed
SELECT sigmax.add_instrument('XRP/USDT', 'binance', tick_size => 0.0001, lot_size => 1);
SELECT * FROM sigmax.submit_order(:acct, 'XRP/USDT', 'buy', 100);                -- STALE_PRICE (none)
SELECT sigmax.record_price('binance', 'XRP/USDT', 0.5, 0.5002, 0.5001, now() - interval '11 seconds');
SELECT * FROM sigmax.submit_order(:acct, 'XRP/USDT', 'buy', 100);                -- STALE_PRICE (old)
SELECT sigmax.record_price('binance', 'XRP/USDT', 0.5, 0.5002, 0.5001, now() - interval '1 hour') AS older_price_ignored;
SELECT last, recorded_at > now() - interval '1 minute' AS kept_the_newer FROM sigmax.market_prices WHERE symbol = 'XRP/USDT';
SELECT sigmax.record_price('binance', 'XRP/USDT', 0.5, 0.5002, 0.5001, now() + interval '1 hour');  -- a price from the future

-- resting orders fill when a recorded price crosses them; cancels always pass
SELECT order_id AS resting FROM sigmax.orders WHERE status = 'accepted' AND side = 'buy' \gset
SELECT sigmax.record_price('binance', 'ETH/USDT', 2899, 2900, 2900) AS fills;
SELECT status, filled_qty, avg_fill_price FROM sigmax.orders WHERE order_id = :resting;
SELECT order_id AS working FROM sigmax.orders WHERE client_order_id = 'my-1' \gset
SELECT sigmax.cancel_order(:working);
SELECT sigmax.cancel_order(:working);

-- trading states: only orders that reduce a position pass
SELECT sigmax.pause(:acct, 'desk review');
SELECT sigmax.trading_state(:acct);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.01);              -- TRADING_PAUSED
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'sell', 0.01);             -- reduces: passes
SELECT sigmax.set_reduce_only(:acct, true);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.01);              -- REDUCE_ONLY
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'sell', 0.1);              -- beyond the position: not reducing
SELECT sigmax.set_reduce_only(:acct, false);
SELECT * FROM sigmax.submit_order(:acct, 'ETH/USDT', 'buy', 0.1, 'limit', 2800); -- rests
SELECT sigmax.kill_switch('drill') AS cancelled;
SELECT sigmax.trading_state(), sigmax.trading_state(:acct);
SELECT count(*) AS working_after_kill FROM sigmax.orders WHERE status IN ('accepted', 'pending_approval');
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.01);              -- TRADING_HALTED
SELECT sigmax.resume();

-- a database-wide state changes only in READ COMMITTED, and a rolled-back savepoint undoes only itself
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT sigmax.pause(NULL, 'in repeatable read');
ROLLBACK;
BEGIN;
SELECT sigmax.pause(NULL, 'outer');
SAVEPOINT s;
SELECT sigmax.resume();
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT sigmax.trading_state() AS after_savepoint;
SELECT sigmax.resume();
BEGIN;
SELECT sigmax.pause(NULL, 'prepared');
PREPARE TRANSACTION 'sigmax_state';
SELECT sigmax.trading_state() AS after_refused_prepare;

-- rate limit: a token bucket per account; check_order takes no token
SELECT sigmax.create_account('fast', 100000) AS fast \gset
SELECT sigmax.set_limits(:fast, '{"orders_per_minute": 2}');
SELECT status FROM sigmax.check_order(:fast, 'BTC/USDT', 'buy', 0.001);
SELECT status FROM sigmax.check_order(:fast, 'BTC/USDT', 'buy', 0.001);
SELECT status FROM sigmax.check_order(:fast, 'BTC/USDT', 'buy', 0.001);
SELECT status, reason_code FROM sigmax.submit_order(:fast, 'BTC/USDT', 'buy', 0.001);
SELECT status, reason_code FROM sigmax.submit_order(:fast, 'BTC/USDT', 'buy', 0.001);
SELECT status, reason_code FROM sigmax.submit_order(:fast, 'BTC/USDT', 'buy', 0.001);  -- RATE_LIMIT
SELECT status, reason_code FROM sigmax.submit_order(:fast, 'BTC/USDT', 'buy', 0.001);  -- again
-- the kill switch and repeated rate-limit rejections raise alerts (counted per minute)
SELECT kind, severity, account_id = :fast AS fast_account, repeat_count FROM sigmax.alerts ORDER BY kind;

-- check_order is a dry run: same verdict, nothing written
SELECT count(*) AS orders_before FROM sigmax.orders \gset
SELECT * FROM sigmax.check_order(:acct, 'BTC/USDT', 'buy', 0.06);
SELECT * FROM sigmax.check_order(:acct, 'BTC/USDT', 'buy', 0.001);
SELECT count(*) = :orders_before AS nothing_written FROM sigmax.orders;

-- daily loss: today's P&L at the limit blocks new risk, not reducing orders. (A price
-- that takes an active account there pauses it automatically: sql/protections.sql.
-- Here the account was paused by hand meanwhile and resumed.)
SELECT sigmax.create_account('loser', 10000) AS loser \gset
SELECT status FROM sigmax.submit_order(:loser, 'BTC/USDT', 'buy', 0.0099);
SELECT sigmax.pause(:loser, 'manual review');
SELECT sigmax.record_price('binance', 'BTC/USDT', 28999, 29001, 29000);
SELECT sigmax.resume(:loser);
SELECT round(daily_pnl, 2) AS daily_pnl FROM sigmax.account_summary WHERE account_id = :loser;
SELECT * FROM sigmax.submit_order(:loser, 'BTC/USDT', 'buy', 0.0004);           -- DAILY_LOSS_LIMIT
SELECT status FROM sigmax.submit_order(:loser, 'BTC/USDT', 'sell', 0.0009);     -- reduces: passes

-- insufficient balance for paper buys
SELECT sigmax.create_account('small', 1000) AS small \gset
SELECT sigmax.set_limits(:small, '{"max_position_pct": 5, "max_exposure_pct": 5}');
SELECT * FROM sigmax.submit_order(:small, 'BTC/USDT', 'buy', 0.04);             -- INSUFFICIENT_BALANCE

-- the trading day is the UTC day whatever the session's time zone
SET TimeZone = 'Pacific/Kiritimati';
SELECT status FROM sigmax.submit_order(:small, 'BTC/USDT', 'buy', 0.0004);
SELECT sod_date = (now() AT TIME ZONE 'UTC')::date AS sod_is_utc_today FROM sigmax.accounts WHERE account_id = :small;
RESET TimeZone;

-- every decision is in the account's ledger stream, and the ledger verifies
SELECT action, count(*) FROM sigmax.audit_log WHERE stream = 'account:' || :acct GROUP BY action ORDER BY action;
SELECT count(*) = (SELECT count(*) FROM sigmax.audit_log WHERE stream = 'account:' || :acct AND action LIKE 'order.%'
                   AND action NOT IN ('order.fill', 'order.cancelled'))
       AS one_entry_per_order
  FROM sigmax.orders WHERE account_id = :acct;
SELECT * FROM sigmax.audit_verify();

-- malformed input is an ERROR with a SQLSTATE, and nothing is written
SELECT count(*) AS orders_before FROM sigmax.orders \gset
\set VERBOSITY sqlstate
SELECT * FROM sigmax.submit_order(NULL, 'BTC/USDT', 'buy', 1);
SELECT * FROM sigmax.submit_order(:acct, NULL, 'buy', 1);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', NULL, 1);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', NULL);
SELECT * FROM sigmax.submit_order(:acct, 'btc/usdt', 'buy', 1);
SELECT * FROM sigmax.submit_order(:acct, 'BTCUSDT', 'buy', 1);
SELECT * FROM sigmax.submit_order(:acct, 'B/USDT', 'buy', 1);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT''; DROP TABLE sigmax.orders; --', 'buy', 1);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'BUY', 1);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 1, 'stop');
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 'NaN');
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 'Infinity');
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', '-Infinity');
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', '-0');
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', -1);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 1e1000);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 1, 'limit');
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 1, 'limit', 'NaN');
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 1, 'limit', 0);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 1, 'market', 50000);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 1, 'market', NULL, '');
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 1, 'market', NULL, 'a b');
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 1, 'market', NULL, repeat('x', 65));
SELECT * FROM sigmax.submit_order(0, 'BTC/USDT', 'buy', 1);
SELECT * FROM sigmax.submit_order(424242, 'BTC/USDT', 'buy', 1);
SELECT sigmax.cancel_order(NULL);
SELECT sigmax.cancel_order(424242);
SELECT sigmax.set_limits(:acct, '{"max_position_pct": -1}');
SELECT sigmax.set_limits(:acct, '{"no_such_limit": 1}');
SELECT sigmax.set_limits(:acct, '{"orders_per_minute": 1.5}');
SELECT sigmax.set_limits(:acct, '[1]');
SELECT sigmax.set_limits(424242, '{}');
SELECT sigmax.record_price('binance', 'BTC/USDT', 2, 1, 1);
SELECT sigmax.record_price('binance', 'BTC/USDT', 1, 1, 'NaN');
SELECT sigmax.record_price('Binance!', 'BTC/USDT', 1, 1, 1);
SELECT sigmax.create_account('', 1);
SELECT sigmax.create_account('x', -1);
SELECT sigmax.create_account('desk', 1);
SELECT sigmax.add_instrument('BTC-USDT', 'binance');
SELECT sigmax.kill_switch(NULL);
\set VERBOSITY default
SELECT count(*) = :orders_before AS nothing_written FROM sigmax.orders;

-- the verdict counters live in shared memory
SELECT count > 0 AS counted FROM sigmax.order_counters() WHERE outcome = 'POSITION_LIMIT';

-- instruments are cached per backend; any write to them is seen by the next order
SELECT sigmax.record_price('binance', 'ETH/USDT', 2999, 3001, 3000);
SELECT sigmax.create_account('cache', 100000) AS cache \gset
SELECT status, reason_code FROM sigmax.check_order(:cache, 'ETH/USDT', 'buy', 0.015);
SELECT sigmax.add_instrument('ETH/USDT', 'binance', tick_size => 0.01, lot_size => 0.001, min_notional => 10, enabled => false);
SELECT status, reason_code FROM sigmax.check_order(:cache, 'ETH/USDT', 'buy', 0.015);  -- UNKNOWN_INSTRUMENT
UPDATE sigmax.instruments SET enabled = true, lot_size = 0.01 WHERE symbol = 'ETH/USDT';  -- a direct write
SELECT status, reason_code FROM sigmax.check_order(:cache, 'ETH/USDT', 'buy', 0.015);  -- LOT_SIZE, the new lot
BEGIN;
UPDATE sigmax.instruments SET lot_size = 0.001 WHERE symbol = 'ETH/USDT';
SELECT status, reason_code FROM sigmax.check_order(:cache, 'ETH/USDT', 'buy', 0.015);  -- inside the writing transaction
ROLLBACK;
SELECT status, reason_code FROM sigmax.check_order(:cache, 'ETH/USDT', 'buy', 0.015);  -- rolled back: LOT_SIZE again

DROP EXTENSION sigmax;
DROP SCHEMA sigmax;
