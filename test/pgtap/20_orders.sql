-- pgTAP: the risk engine's privilege surface, and what each role can do with orders.
BEGIN;
CREATE EXTENSION sigmax;
SELECT plan(39);

SELECT has_function('sigmax', 'submit_order', ARRAY['bigint', 'text', 'text', 'numeric', 'text', 'numeric', 'text'], 'submit_order has the design signature');
SELECT has_function('sigmax', 'check_order', ARRAY['bigint', 'text', 'text', 'numeric', 'text', 'numeric', 'text'], 'check_order has the design signature');
SELECT function_returns('sigmax', 'submit_order', ARRAY['bigint', 'text', 'text', 'numeric', 'text', 'numeric', 'text'], 'setof record', 'submit_order returns rows');
SELECT is_definer('sigmax', 'submit_order', ARRAY['bigint', 'text', 'text', 'numeric', 'text', 'numeric', 'text'], 'submit_order is SECURITY DEFINER');
SELECT isnt_definer('sigmax', 'check_order', ARRAY['bigint', 'text', 'text', 'numeric', 'text', 'numeric', 'text'], 'check_order runs with its caller''s rights');

-- Every SECURITY DEFINER function pins its search_path.
SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'sigmax'::regnamespace AND p.prosecdef
	   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
$$, 'every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp');
-- Internal functions are granted to nobody.
SELECT is_empty($$
	SELECT p.oid::regprocedure, a.grantee::regrole FROM pg_proc p, aclexplode(p.proacl) a
	 WHERE p.pronamespace = 'sigmax'::regnamespace AND p.proname LIKE '\_%' AND a.grantee <> p.proowner
$$, 'internal functions are granted to no role');

SELECT function_privs_are('sigmax', 'submit_order', ARRAY['bigint', 'text', 'text', 'numeric', 'text', 'numeric', 'text'], 'sigmax_trader', ARRAY['EXECUTE'], 'traders submit');
SELECT function_privs_are('sigmax', 'submit_order', ARRAY['bigint', 'text', 'text', 'numeric', 'text', 'numeric', 'text'], 'sigmax_auditor', ARRAY[]::text[], 'auditors do not submit');
SELECT function_privs_are('sigmax', 'cancel_order', ARRAY['bigint'], 'sigmax_trader', ARRAY['EXECUTE'], 'traders cancel');
SELECT function_privs_are('sigmax', 'kill_switch', ARRAY['text'], 'sigmax_trader', ARRAY[]::text[], 'traders cannot pull the kill switch');
SELECT function_privs_are('sigmax', 'kill_switch', ARRAY['text'], 'sigmax_admin', ARRAY['EXECUTE'], 'admins can');
SELECT function_privs_are('sigmax', 'set_limits', ARRAY['bigint', 'jsonb'], 'sigmax_trader', ARRAY[]::text[], 'traders cannot change limits');
SELECT function_privs_are('sigmax', 'record_price', ARRAY['text', 'text', 'numeric', 'numeric', 'numeric', 'timestamp with time zone', 'timestamp with time zone'], 'sigmax_trader', ARRAY[]::text[], 'traders cannot record prices');
SELECT function_privs_are('sigmax', 'create_account', ARRAY['text', 'numeric', 'text'], 'sigmax_admin', ARRAY['EXECUTE'], 'admins open accounts');

SELECT function_privs_are('sigmax', 'metrics', ARRAY[]::text[], 'sigmax_admin', ARRAY['EXECUTE'], 'admins read the metrics');
SELECT function_privs_are('sigmax', 'metrics', ARRAY[]::text[], 'sigmax_trader', ARRAY[]::text[], 'traders do not');
SELECT table_privs_are('sigmax', 'status', 'sigmax_trader', ARRAY[]::text[], 'traders do not read the status screen');

-- Traders read orders, fills and positions, and write no table at all.
SELECT table_privs_are('sigmax', t, 'sigmax_trader', ARRAY['SELECT'], 'traders only read ' || t)
  FROM unnest(ARRAY['orders', 'fills', 'positions', 'instruments', 'market_prices']) t;
SELECT table_privs_are('sigmax', t, 'sigmax_trader', ARRAY[]::text[], 'traders have nothing on ' || t)
  FROM unnest(ARRAY['accounts', 'risk_limits', 'global_state']) t;
SELECT is_empty($$
	SELECT c.relname, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a
	 WHERE c.relnamespace = 'sigmax'::regnamespace AND a.grantee <> c.relowner
	   AND a.privilege_type NOT IN ('SELECT')
$$, 'no role but the owner writes any sigmax table');

-- A trader works through the functions only.
SELECT sigmax.create_account('tap', 100000) AS acct \gset
SELECT sigmax.add_instrument('BTC/USDT', 'binance');
SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);

-- check_order, which runs with the trader's rights, reads what the trader may not (the
-- account, its limits, its stop-outs) and resolves nothing through the trader's
-- search_path: its SPI reads (first in this session, so planned here, and a stop
-- cool-down) run as the extension's owner under pg_catalog. The operators of a schema the
-- trader puts first would raise.
SELECT sigmax.create_account('tap cool-down', 100000) AS cool \gset
SELECT sigmax.set_limits(:cool, '{"stop_cooldown_s": 60}');
CREATE SCHEMA evil;
CREATE FUNCTION evil.int8_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'evil = called'; END$$;
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'evil = called'; END$$;
CREATE OPERATOR evil.= (FUNCTION = evil.int8_eq, LEFTARG = bigint, RIGHTARG = bigint);
CREATE OPERATOR evil.= (FUNCTION = evil.text_eq, LEFTARG = text, RIGHTARG = text);
GRANT USAGE ON SCHEMA evil TO sigmax_trader;
SET LOCAL ROLE sigmax_trader;
SET LOCAL search_path = evil, pg_catalog;
-- (pgTAP's own functions would call the evil =: the results are taken here and tested below)
SELECT (SELECT oprnamespace::regnamespace::text FROM pg_operator WHERE oid = to_regoperator('=(bigint,bigint)')) AS eq_schema,
	(SELECT status FROM sigmax.check_order(:cool, 'BTC/USDT', 'buy', 0.01)) AS small_status,
	(SELECT reason_code FROM sigmax.check_order(:cool, 'BTC/USDT', 'buy', 1000)) AS big_reason,
	current_user AS who, current_setting('search_path') AS path \gset
RESET search_path;
SELECT is(:'eq_schema'::text, 'evil', 'the trader''s search_path put an evil = first');
SELECT is(:'small_status'::text, 'filled', 'check_order as the trader: limits and stop-outs read as the owner, under pg_catalog');
SELECT is(:'big_reason'::text, 'POSITION_LIMIT', 'and its verdicts are the checks''');
SELECT is(:'who'::text, 'sigmax_trader', 'the call left the trader''s rights as they were');
SELECT is(:'path'::text, 'evil, pg_catalog', 'and the trader''s search_path');
SELECT throws_ok($$SELECT * FROM sigmax.accounts$$, '42501', NULL, 'the trader cannot read accounts');
RESET ROLE;
SET LOCAL ROLE sigmax_trader;
SELECT is((SELECT status FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.01)), 'filled', 'a trader places an order');
SELECT throws_ok($$INSERT INTO sigmax.orders (account_id, symbol, side, order_type, qty, status) VALUES (1, 'BTC/USDT', 'buy', 'market', 1, 'filled')$$,
	'42501', NULL, 'a trader cannot write orders directly');
SELECT throws_ok($$UPDATE sigmax.positions SET qty = 0$$, '42501', NULL, 'a trader cannot rewrite a position');
SELECT throws_ok($$SELECT sigmax.kill_switch('x')$$, '42501', NULL, 'a trader cannot call the kill switch');
SELECT throws_ok($$SELECT sigmax.set_limits(1, '{"max_position_pct": 1}')$$, '42501', NULL, 'a trader cannot loosen a limit');
RESET ROLE;
SELECT is((SELECT created_by FROM sigmax.orders LIMIT 1), 'sigmax_trader', 'orders record who placed them, not the function owner');

SELECT * FROM finish();
ROLLBACK;
