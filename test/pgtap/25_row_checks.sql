-- pgTAP: the CHECKs of the tables every order writes (one C function a table, src/row_checks.c)
-- refuse what the SQL CHECKs they replaced refused, and pass what they passed, NULLs included.
BEGIN;
CREATE EXTENSION sigmax;
SELECT plan(45);

SELECT is((SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint
	WHERE conrelid = 'sigmax.orders'::regclass AND contype = 'c'), 'orders_row_check', 'orders has one CHECK');
SELECT is((SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint
	WHERE conrelid = 'sigmax.fills'::regclass AND contype = 'c'), 'fills_row_check', 'fills has one CHECK');
SELECT is((SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint
	WHERE conrelid = 'sigmax.accounts'::regclass AND contype = 'c'), 'accounts_row_check', 'accounts has one CHECK');
SELECT is((SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint
	WHERE conrelid = 'sigmax.audit_log'::regclass AND contype = 'c'), 'audit_log_row_check', 'audit_log has one CHECK');

-- orders: side, order_type, qty > 0, limit_price > 0, status
SELECT ok(sigmax._orders_row_valid('buy', 'market', 1, NULL, 'filled'), 'orders: a market buy');
SELECT ok(sigmax._orders_row_valid('sell', 'limit', 0.001, 50000, 'pending_approval'), 'orders: a limit sell awaiting approval');
SELECT ok(sigmax._orders_row_valid(NULL, NULL, NULL, NULL, NULL), 'orders: NULLs pass (NOT NULL is the columns'' own)');
SELECT ok(sigmax._orders_row_valid('buy', 'market', 'NaN', NULL, 'accepted'), 'orders: NaN is above 0, as numeric orders it');
SELECT ok(NOT sigmax._orders_row_valid('hold', 'market', 1, NULL, 'filled'), 'orders: an unknown side');
SELECT ok(NOT sigmax._orders_row_valid('Buy', 'market', 1, NULL, 'filled'), 'orders: sides are lower case');
SELECT ok(NOT sigmax._orders_row_valid('buy', 'stop', 1, NULL, 'filled'), 'orders: an unknown order type');
SELECT ok(NOT sigmax._orders_row_valid('buy', 'market', 0, NULL, 'filled'), 'orders: qty 0');
SELECT ok(NOT sigmax._orders_row_valid('buy', 'market', -1, NULL, 'filled'), 'orders: a negative qty');
SELECT ok(NOT sigmax._orders_row_valid('buy', 'limit', 1, 0, 'accepted'), 'orders: limit_price 0');
SELECT ok(NOT sigmax._orders_row_valid('buy', 'market', 1, NULL, 'done'), 'orders: an unknown status');
SELECT ok(NOT sigmax._orders_row_valid('buy', 'market', 1, NULL, 'filled '), 'orders: a status with a trailing space');

-- fills: side, qty > 0, price > 0
SELECT ok(sigmax._fills_row_valid('sell', 0.5, 1), 'fills: a sell');
SELECT ok(NOT sigmax._fills_row_valid('short', 0.5, 1), 'fills: an unknown side');
SELECT ok(NOT sigmax._fills_row_valid('buy', 0, 1), 'fills: qty 0');
SELECT ok(NOT sigmax._fills_row_valid('buy', 1, -0.01), 'fills: a negative price');

-- accounts: name 1 to 100 characters, base_currency ^[A-Z0-9]{2,10}$, trading_mode, initial_equity > 0, state
SELECT ok(sigmax._accounts_row_valid('desk', 'USDT', 'paper', 1, 'active'), 'accounts: a paper account');
SELECT ok(sigmax._accounts_row_valid(repeat('é', 100), 'U1', 'live', 1, 'halted'), 'accounts: 100 characters of name (200 bytes)');
SELECT ok(NOT sigmax._accounts_row_valid(repeat('é', 101), 'USDT', 'paper', 1, 'active'), 'accounts: 101 characters of name');
SELECT ok(NOT sigmax._accounts_row_valid('', 'USDT', 'paper', 1, 'active'), 'accounts: an empty name');
SELECT ok(NOT sigmax._accounts_row_valid('desk', 'usdt', 'paper', 1, 'active'), 'accounts: a lower-case currency');
SELECT ok(NOT sigmax._accounts_row_valid('desk', 'U', 'paper', 1, 'active'), 'accounts: a one-letter currency');
SELECT ok(NOT sigmax._accounts_row_valid('desk', 'ABCDEFGHIJK', 'paper', 1, 'active'), 'accounts: an 11-letter currency');
SELECT ok(NOT sigmax._accounts_row_valid('desk', 'US-D', 'paper', 1, 'active'), 'accounts: a currency with a dash');
SELECT ok(NOT sigmax._accounts_row_valid('desk', E'USD\n', 'paper', 1, 'active'), 'accounts: a currency with a newline');
SELECT ok(NOT sigmax._accounts_row_valid('desk', 'USDT', 'demo', 1, 'active'), 'accounts: an unknown trading mode');
SELECT ok(NOT sigmax._accounts_row_valid('desk', 'USDT', 'paper', 0, 'active'), 'accounts: initial equity 0');
SELECT ok(NOT sigmax._accounts_row_valid('desk', 'USDT', 'paper', 1, 'frozen'), 'accounts: an unknown state');

-- audit_log: seq > 0, an object as payload, 32-byte hashes
SELECT ok(sigmax._audit_log_row_valid(1, '{}', sha256('a'), sha256('b')), 'audit_log: an entry');
SELECT ok(NOT sigmax._audit_log_row_valid(0, '{}', sha256('a'), sha256('b')), 'audit_log: seq 0');
SELECT ok(NOT sigmax._audit_log_row_valid(1, '[]', sha256('a'), sha256('b')), 'audit_log: an array as payload');
SELECT ok(NOT sigmax._audit_log_row_valid(1, '"x"', sha256('a'), sha256('b')), 'audit_log: a scalar as payload');
SELECT ok(NOT sigmax._audit_log_row_valid(1, '{}', '\x00', sha256('b')), 'audit_log: a short prev_hash');
SELECT ok(NOT sigmax._audit_log_row_valid(1, '{}', sha256('a'), sha256('b') || '\x00'::bytea), 'audit_log: a long hash');

-- and the tables refuse such rows, also from a superuser writing directly
SELECT sigmax.create_account('checks', 1000) AS acct \gset
SELECT throws_ok($$INSERT INTO sigmax.orders (account_id, symbol, side, order_type, qty, status, created_by)
	VALUES (1, 'BTC/USDT', 'hold', 'market', 1, 'filled', 'x')$$, '23514', NULL, 'orders refuses an unknown side');
SELECT throws_ok($$INSERT INTO sigmax.orders (account_id, symbol, side, order_type, qty, status, created_by)
	VALUES (1, 'BTC/USDT', 'buy', 'market', 0, 'filled', 'x')$$, '23514', NULL, 'orders refuses qty 0');
SELECT throws_ok(format($$UPDATE sigmax.accounts SET state = 'frozen' WHERE account_id = %s$$, :acct),
	'23514', NULL, 'accounts refuses an unknown state');
SELECT throws_ok(format($$UPDATE sigmax.accounts SET base_currency = 'usdt' WHERE account_id = %s$$, :acct),
	'23514', NULL, 'accounts refuses a lower-case currency');
SELECT lives_ok(format($$UPDATE sigmax.accounts SET cash = cash - 1 WHERE account_id = %s$$, :acct),
	'accounts takes a valid update');
SELECT throws_ok($$INSERT INTO sigmax.fills (order_id, account_id, symbol, side, qty, price)
	VALUES (1, 1, 'BTC/USDT', 'buy', 1, 0)$$, '23514', NULL, 'fills refuses price 0');
-- (the insert guard refuses direct inserts, except under session_replication_role = replica,
-- the path of logical replication: there the CHECK still holds)
SET LOCAL session_replication_role = replica;
SELECT throws_ok($$INSERT INTO sigmax.audit_log (stream, seq, recorded_at, actor, action, payload, prev_hash, hash)
	VALUES ('app:probe', 0, now(), 'x', 'x', '{}', sha256('a'), sha256('b'))$$, '23514', NULL,
	'audit_log refuses seq 0 from a replicated row');
RESET session_replication_role;

SELECT * FROM finish();
ROLLBACK;
