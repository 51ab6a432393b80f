-- Workload for scripts/valgrind.sh: every C path of sigmax, run in a single-user
-- backend under valgrind memcheck. Statements end with a semicolon and a blank line.

CREATE EXTENSION sigmax;

SELECT sigmax.create_account('vg', 100000);

SELECT sigmax.create_account('vg2', 1000);

SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.0001, min_notional => 10);

SELECT sigmax.set_limits(NULL, '{"stale_price_ms": 2000000000}');

SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.05);

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 5);

SELECT * FROM sigmax.submit_order(1, 'SOL/USDT', 'buy', 1);

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.00015);

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01, 'limit', 49000.005);

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01, 'limit', 30000);

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01, 'limit', 49000, 'vg-1');

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01, 'limit', 49000, 'vg-1');

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.02, 'limit', 49000, 'vg-1');

SELECT * FROM sigmax.check_order(1, 'BTC/USDT', 'buy', 0.01);

SELECT * FROM sigmax.check_order(2, 'BTC/USDT', 'buy', 1);

SELECT count(*) FROM generate_series(1, 300) g, LATERAL sigmax.check_order(1 + g % 1, 'BTC/USDT', 'sell', 0.001);

SELECT sigmax.create_account('vg cool', 1000);

SELECT sigmax.set_limits(3, '{"stop_cooldown_s": 60}');

SET ROLE sigmax_trader;

SELECT * FROM sigmax.check_order(3, 'BTC/USDT', 'buy', 0.01);

RESET ROLE;

UPDATE sigmax.accounts SET base_currency = 'usdt' WHERE account_id = 3;

SELECT sigmax._audit_log_row_valid(1, '[]', sha256('a'), sha256('b')), sigmax._accounts_row_valid(repeat('é', 100), 'U1', 'live', 1, 'halted');

SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.0001, min_notional => 10, enabled => false);

SELECT * FROM sigmax.check_order(1, 'BTC/USDT', 'buy', 0.01);

SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.0001, min_notional => 10);

BEGIN;

UPDATE sigmax.instruments SET lot_size = 0.1 WHERE symbol = 'BTC/USDT';

SELECT * FROM sigmax.check_order(1, 'BTC/USDT', 'buy', 0.01);

ROLLBACK;

SELECT * FROM sigmax.check_order(1, 'BTC/USDT', 'buy', 0.01);

SELECT sigmax.set_limits(1, '{"max_order_qty": 0.02, "orders_per_minute": 3, "approval_notional": 100}');

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.03);

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01);

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'sell', 0.01);

SELECT sigmax.set_limits(1, '{"max_order_qty": null, "orders_per_minute": null, "approval_notional": null}');

CREATE ROLE vg_bob NOLOGIN IN ROLE sigmax_admin;

SET SESSION AUTHORIZATION vg_bob;

SELECT sigmax.approve(request_id)->>'status' FROM sigmax.approval_requests WHERE action = 'order' AND status = 'pending' ORDER BY request_id LIMIT 1;

SELECT sigmax.deny(request_id, 'valgrind') FROM sigmax.approval_requests WHERE action = 'order' AND status = 'pending' ORDER BY request_id LIMIT 1;

SELECT sigmax.request_approval('set_limits', '{"account_id": 1, "limits": {"max_order_qty": 100}}');

SET SESSION AUTHORIZATION postgres;

SELECT sigmax.approve(max(request_id)) FROM sigmax.approval_requests;

SELECT sigmax._check_trading_baselines() >= 0;

SELECT source, status FROM sigmax.secret_status('valgrind_secret');

SELECT source, status, count(*) FROM sigmax.exchange_credentials() GROUP BY 1, 2;

SELECT sigmax.record_price('binance', 'BTC/USDT', 48999, 49000, 49000);

SELECT 'stops triggered: ' || count(*) FROM sigmax.stops WHERE status = 'triggered';

SELECT sigmax.pause(1, 'valgrind');

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01);

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'sell', 0.01);

SELECT sigmax.resume(1);

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.01, 'limit', 48000);

SELECT sigmax.kill_switch('valgrind');

SELECT sigmax.trading_state(1);

SELECT sigmax.resume();

SELECT * FROM sigmax.order_counters();

SELECT sigmax.record_venue_error('binance', 'HTTP 500') FROM generate_series(1, 7);

SELECT status, reason_code FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.001);

SELECT count(*) FROM sigmax.alerts;

SELECT sigmax.audit_append('bulk', jsonb_build_object('n', n, 'text', repeat('x', n % 50)), 'app:big') FROM generate_series(1, 5000) n;

SELECT sigmax.audit_append('x', '{"mail": "a@b.example"}');

SELECT sigmax.audit_append('x', '{"k": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A", "pan": "4111 1111 1111 1111"}');

SELECT * FROM sigmax.audit_checkpoint();

SELECT sigmax.audit_append('after', '{}', 'app:big');

SELECT * FROM sigmax.audit_checkpoint();

SELECT count(*) FROM sigmax.audit_verify();

SELECT count(*) FROM sigmax.audit_verify('app:big');

SELECT length(sigmax.audit_proof('app:big', 4097)::text) > 0;

SELECT length(sigmax.audit_proof('account:1', 2)::text) > 0;

SELECT length(sigmax.audit_checkpoint_export()) > 0;

SELECT length(sigmax.audit_public_key()) > 0;

SELECT count(*) FROM sigmax.status;

SELECT length(sigmax.metrics()) > 0;

SELECT * FROM sigmax.check_latency();

CREATE TEMP TABLE valgrind_token AS SELECT sigmax.create_api_key('valgrind', 'sigmax_trader', '{1}') AS t;

SELECT a.authenticated, a.role FROM valgrind_token k, LATERAL sigmax.authenticate(k.t) a;

SELECT * FROM sigmax.session_key();

SELECT status FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 0.001);

SELECT authenticated, reason FROM sigmax.authenticate('sgx_' || repeat('A', 43));

SELECT sigmax.rotate_api_key(1) IS NOT NULL;

SELECT sigmax.unbind();

SELECT p.* FROM (VALUES
  ('binance', '{"lastPrice": "1.5", "bidPrice": "1.4", "askPrice": "1.6", "closeTime": 1710328245391}', 'X'),
  ('coinbaseexchange', '{"price": "1.5", "bid": "1.4", "ask": "1.6", "time": "2024-03-13T11:10:41.270099Z"}', 'X-Y'),
  ('coinbase', '{"trades": [{"price": "1.5", "time": "2024-04-24T09:56:38Z"}], "best_bid": "1.4", "best_ask": "1.6"}', 'X-Y'),
  ('kraken', '{"error": [], "result": {"XY": {"a": ["1.6"], "b": ["1.4"], "c": ["1.5"]}}}', 'XY'),
  ('kraken', '{"error": ["EQuery:Unknown asset pair"]}', 'XY'),
  ('bybit', '{"retCode": 0, "time": 1707905549267, "result": {"list": [{"symbol": "XY", "lastPrice": "1.5", "bid1Price": "1.4", "ask1Price": "1.6"}]}}', 'XY'),
  ('okx', '{"code": "0", "data": [{"last": "1.5", "bidPx": "1.4", "askPx": "1.6", "ts": "1710328243709"}]}', 'X-Y'),
  ('bitstamp', '{"last": "1.5", "bid": "1.4", "ask": "1.6", "timestamp": "1710328241"}', 'xy'),
  ('gemini', '{"last": "1.5", "bid": "1.4", "ask": "1.6", "volume": {"timestamp": 1710328245000}}', 'xy'),
  ('kucoin', '{"code": "200000", "data": {"last": "1.5", "buy": "1.4", "sell": "1.6", "time": 1709897710012}}', 'X-Y'),
  ('binance', '{"lastPrice": "abc"}', 'X'),
  ('binance', '42', 'X')) v(a, b, s), LATERAL sigmax.parse_ticker(v.a, v.b, v.s) p;

SELECT sigmax._poll_url_ok('http://127.0.0.1:8080/x'), sigmax._ticker_url('bybit', 'https://api.bybit.com/', 'BTC/USDT', NULL, 'linear'),
       sigmax._venue_symbol('kraken', 'BTC/USDT');

SELECT count(*) >= 0 FROM sigmax.worker_status();

SELECT state IS NOT NULL FROM sigmax.worker_state();

SELECT count(*) > 0 FROM sigmax.status;

SET search_path = "pg_catalog",pg_temp;

SELECT sigmax._audit_write('system', 'valgrind.pinned', '{}') > 0;

SET search_path = public, pg_catalog;

SELECT sigmax._audit_write('system', 'valgrind.unpinned', '{}');

RESET search_path;

SELECT * FROM sigmax.submit_order(1, 'BTC/USDT', 'buy', 'NaN');

SELECT * FROM sigmax.submit_order(1, repeat('A', 1000000), 'buy', 1);

SELECT * FROM sigmax.authenticate('not a token');
