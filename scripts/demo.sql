-- sigmax demo: a scripted tour in psql. Run by scripts/demo.sh, which has pointed
-- the exchange poller at the mock exchange (its URL in SIGMAX_MOCK_URL) and waited
-- for its first prices.
\pset footer off
\set ECHO none
\echo
\echo '== 1. The extension, its library and its roles'
SELECT extversion, sigmax.version() AS library_version, extnamespace::regnamespace AS schema
  FROM pg_extension WHERE extname = 'sigmax';
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'sigmax\_%' ORDER BY 1;
SELECT name, setting FROM pg_settings WHERE name IN ('sigmax.trading_mode', 'sigmax.database') ORDER BY 1;

\echo
\echo '== 2. The exchange poller: a background worker fetching the recorded exchange responses from the mock exchange'
SELECT state, cycles FROM sigmax.worker_state();
SELECT exchange, symbol, url FROM sigmax.poll_targets WHERE exchange IN ('binance', 'kraken', 'coinbase') ORDER BY 1, 2;
SELECT exchange, symbol, bid, ask, last, exchange_time, round(extract(epoch FROM now() - recorded_at)::numeric, 1) AS age_s
  FROM sigmax.market_prices ORDER BY symbol, exchange;
SELECT exchange, last_status, requests, prices_written, latency_p50_ms FROM sigmax.worker_status() ORDER BY exchange;

\echo
\echo '== 3. An account trading on paper, an instrument judged against Binance, the limits it runs under'
SELECT sigmax.create_account('demo desk', 100000) AS acct \gset
SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.00001, min_notional => 5);
SELECT max_position_pct, max_daily_loss_pct, price_collar_pct, stale_price_ms, orders_per_minute
  FROM sigmax.limits WHERE account_id = :acct;

\echo
\echo '== 4. Orders: every one gets a verdict, kept with its reason'
\echo '-- a market buy within limits fills on paper at the ask plus slippage'
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.05);
\echo '-- too large: the position would exceed 5% of equity'
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.5);
\echo '-- a fat finger: a limit price 20% away from the market'
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.01, 'limit', 58000);
\echo '-- an instrument nobody enabled'
SELECT * FROM sigmax.submit_order(:acct, 'DOGE/USDT', 'buy', 100);
\echo '-- a dry run: the verdict, nothing written'
SELECT * FROM sigmax.check_order(:acct, 'BTC/USDT', 'buy', 0.01);
\echo '-- a limit order below the market rests'
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.01, 'limit', 72000, 'demo-1');
\echo '-- malformed input is an error with a SQLSTATE, and nothing is written'
\set VERBOSITY default
\set ON_ERROR_STOP 0
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 'NaN');
\set ON_ERROR_STOP 1

\echo
\echo '== 5. The book'
SELECT symbol, qty, round(avg_price, 2) AS avg_price FROM sigmax.positions;
SELECT round(cash, 2) AS cash, round(equity, 2) AS equity, round(daily_pnl, 2) AS daily_pnl,
       round(gross_exposure, 2) AS exposure, open_orders FROM sigmax.account_summary;

\echo
\echo '== 6. Trading states: a pause lets only reducing orders through; the kill switch cancels everything working'
SELECT sigmax.pause(:acct, 'desk review');
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.01);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'sell', 0.01);
SELECT sigmax.resume(:acct);
SELECT sigmax.kill_switch('demo drill') AS cancelled_orders;
SELECT sigmax.trading_state(:acct);
SELECT * FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.01);
SELECT sigmax.resume();

\echo
\echo '== 7. Automatic protections: a price drop takes an account to its daily loss limit, and it pauses itself'
SELECT sigmax.create_account('risky desk', 10000) AS risky \gset
SELECT status FROM sigmax.submit_order(:risky, 'BTC/USDT', 'buy', 0.0065);
\echo '-- the worker stops polling Binance, so that the simulated prices below stand'
SELECT sigmax.enable_exchange('binance', false);
\echo '-- a simulated 45% drop in the recorded price'
SELECT sigmax.record_price('binance', 'BTC/USDT', 40000, 40010, 40005) AS resting_fills;
SELECT name, state, auto_pause_kind, round(equity, 2) AS equity, round(daily_pnl, 2) AS daily_pnl,
       round(drawdown, 4) AS drawdown
  FROM sigmax.account_pnl ORDER BY account_id;
SELECT severity, kind, repeat_count, detail->>'daily_pnl' AS daily_pnl FROM sigmax.alerts;
SELECT * FROM sigmax.submit_order(:risky, 'BTC/USDT', 'buy', 0.001);
\echo '-- only a person resumes it, and not within the 30-minute cool-down'
\set ON_ERROR_STOP 0
SELECT sigmax.resume(:risky);
\set ON_ERROR_STOP 1
\echo '-- a stop-loss: every opening fill gets a protective stop 1.5% from entry'
SELECT sigmax.record_price('binance', 'BTC/USDT', 73369.83, 73369.84, 73369.84) AS fills;
SELECT sigmax.create_account('stopped desk', 100000) AS stopped \gset
SELECT status FROM sigmax.submit_order(:stopped, 'BTC/USDT', 'buy', 0.05);
SELECT direction, round(entry_price, 2) AS entry, round(stop_price, 2) AS stop, status
  FROM sigmax.stops WHERE account_id = :stopped;
\echo '-- the price gaps through the stop: the position closes once, at the gapped price, as a reduce-only order'
SELECT sigmax.record_price('binance', 'BTC/USDT', 71500, 71510, 71505) AS fills;
SELECT side, qty, status, reduce_only, client_order_id, round(avg_fill_price, 2) AS fill
  FROM sigmax.orders WHERE account_id = :stopped ORDER BY order_id;
SELECT kind, severity, count(*) AS alerts FROM sigmax.alerts GROUP BY kind, severity ORDER BY kind;

\echo
\echo '== 8. A venue fails: Kraken answers HTTP 500; the worker stays up, says why, and after more than 5 errors a minute the venue is reducing, with an alert'
\! curl -s -o /dev/null -X POST -H 'Content-Type: application/json' --data '{"venue": "kraken", "mode": "http_500"}' "$SIGMAX_MOCK_URL/__mock/fault"
SELECT pg_sleep(7);
SELECT exchange, last_status, last_error, consecutive_errors, round(extract(epoch FROM now() - p.recorded_at)) AS price_age_s
  FROM sigmax.worker_status() w JOIN sigmax.market_prices p USING (exchange) WHERE exchange = 'kraken';
SELECT exchange, state, last_error FROM sigmax.venue_state;
SELECT kind, severity, detail->>'exchange' AS exchange, detail->>'errors_last_minute' AS errors FROM sigmax.alerts
 WHERE kind = 'venue_errors';
\echo '-- Kraken answers again: the worker recovers by itself (the venue leaves reducing once the last minute holds 5 errors or fewer)'
\! curl -s -o /dev/null -X DELETE "$SIGMAX_MOCK_URL/__mock/fault"
SELECT pg_sleep(2.5);
SELECT exchange, last_status, consecutive_errors FROM sigmax.worker_status() WHERE exchange = 'kraken';

\echo
\echo '== 9. The ledger: every decision, hash-chained per account'
SELECT seq, action, payload->>'status' AS status, payload->>'reason_code' AS reason_code,
       left(encode(hash, 'hex'), 16) || '...' AS hash
  FROM sigmax.audit_log WHERE stream = 'account:' || :acct ORDER BY seq;
\echo '-- a signed checkpoint of every stream head (Ed25519), and a verification: no rows means intact'
SELECT checkpoint_id, stream_count, left(digest, 16) || '...' AS digest FROM sigmax.audit_checkpoint();
SELECT * FROM sigmax.audit_verify();
\echo '-- an inclusion proof that one entry is in the checkpoint, checkable outside the database'
SELECT p->'entry'->>'action' AS action, p->'tree_size' AS tree_size,
       jsonb_array_length(p->'audit_path') AS path_hashes
  FROM sigmax.audit_proof('account:' || :acct, 2) p;

\echo
\echo '== 10. Tampering: a superuser rewrites an order verdict with triggers off; verification names it'
BEGIN;
ALTER TABLE sigmax.audit_log DISABLE TRIGGER audit_log_immutable;
UPDATE sigmax.audit_log SET payload = payload || '{"status": "filled"}'
 WHERE stream = 'account:' || :acct
   AND seq = (SELECT min(seq) FROM sigmax.audit_log WHERE stream = 'account:' || :acct AND action = 'order.rejected');
SELECT * FROM sigmax.audit_verify();
ROLLBACK;
\echo '(rolled back: the ledger is intact again)'
SELECT count(*) AS problems FROM sigmax.audit_verify();
