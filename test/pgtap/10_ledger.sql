-- pgTAP: the ledger's privilege surface and behaviour at the SQL level.
BEGIN;
CREATE EXTENSION sigmax;
SELECT plan(36);

SELECT has_table('sigmax', 'audit_log', 'sigmax.audit_log exists');
SELECT col_is_pk('sigmax', 'audit_log', ARRAY['stream', 'seq'], 'primary key is (stream, seq)');
SELECT columns_are('sigmax', 'audit_log',
	ARRAY['stream', 'seq', 'recorded_at', 'actor', 'action', 'payload', 'prev_hash', 'hash'],
	'audit_log has exactly the documented columns');
SELECT col_type_is('sigmax', 'audit_log', 'recorded_at', 'timestamp with time zone', 'recorded_at is timestamptz');
SELECT col_type_is('sigmax', 'audit_log', 'payload', 'jsonb', 'payload is jsonb');
SELECT trigger_is('sigmax', 'audit_log', 'audit_log_append', 'sigmax', 'audit_log_append', 'chain trigger');
SELECT trigger_is('sigmax', 'audit_log', 'audit_log_immutable', 'sigmax', 'ledger_immutable', 'row immutability trigger');
SELECT trigger_is('sigmax', 'audit_log', 'audit_log_no_truncate', 'sigmax', 'ledger_immutable', 'truncate trigger');

-- Table privileges, per role, for every ledger table; nobody has UPDATE, DELETE or TRUNCATE.
SELECT table_privs_are('sigmax', t, 'sigmax_auditor', ARRAY['SELECT'], 'auditor reads ' || t)
  FROM unnest(ARRAY['audit_log', 'audit_checkpoints', 'audit_checkpoint_streams']) t;
SELECT table_privs_are('sigmax', t, 'sigmax_admin', ARRAY['SELECT'], 'admin reads ' || t)
  FROM unnest(ARRAY['audit_log', 'audit_checkpoints', 'audit_checkpoint_streams']) t;
SELECT table_privs_are('sigmax', t, 'sigmax_trader', ARRAY[]::text[], 'trader has nothing on ' || t)
  FROM unnest(ARRAY['audit_log', 'audit_checkpoints', 'audit_checkpoint_streams']) t;
SELECT table_privs_are('sigmax', t, 'public', ARRAY[]::text[], 'PUBLIC has nothing on ' || t)
  FROM unnest(ARRAY['audit_log', 'audit_checkpoints', 'audit_checkpoint_streams']) t;
SELECT is_empty($$
	SELECT c.relname, a.privilege_type
	  FROM pg_class c, aclexplode(c.relacl) a
	 WHERE c.oid IN ('sigmax.audit_log'::regclass, 'sigmax.audit_checkpoints'::regclass,
	                 'sigmax.audit_checkpoint_streams'::regclass)
	   AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
$$, 'no role, the owner included, holds UPDATE, DELETE or TRUNCATE on the ledger');

SELECT function_privs_are('sigmax', 'audit_append', ARRAY['text', 'jsonb', 'text'], 'sigmax_trader', ARRAY['EXECUTE'], 'traders append');
SELECT function_privs_are('sigmax', 'audit_append', ARRAY['text', 'jsonb', 'text'], 'sigmax_auditor', ARRAY[]::text[], 'auditors do not append');
SELECT function_privs_are('sigmax', 'audit_verify', ARRAY['text'], 'sigmax_auditor', ARRAY['EXECUTE'], 'auditors verify');
SELECT function_privs_are('sigmax', 'audit_verify', ARRAY['text'], 'sigmax_trader', ARRAY[]::text[], 'traders do not verify');
SELECT function_privs_are('sigmax', 'audit_checkpoint', ARRAY[]::text[], 'sigmax_admin', ARRAY['EXECUTE'], 'admins checkpoint');
SELECT function_privs_are('sigmax', 'audit_checkpoint', ARRAY[]::text[], 'sigmax_auditor', ARRAY[]::text[], 'auditors do not checkpoint');
SELECT function_privs_are('sigmax', 'audit_proof', ARRAY['text', 'bigint'], 'sigmax_auditor', ARRAY['EXECUTE'], 'auditors get proofs');
SELECT is_definer('sigmax', 'audit_append', ARRAY['text', 'jsonb', 'text'], 'audit_append is SECURITY DEFINER');
SELECT is(
	(SELECT proconfig FROM pg_proc WHERE oid = 'sigmax.audit_append(text, jsonb, text)'::regprocedure),
	ARRAY['search_path=pg_catalog, pg_temp'], 'audit_append pins its search_path');

-- A trader appends through the function, never directly.
SET LOCAL ROLE sigmax_trader;
SELECT is(sigmax.audit_append('trade.idea', '{"symbol": "BTC/USDT"}', 'app:desk'), 1::bigint, 'a trader appends seq 1');
SELECT throws_ok($$INSERT INTO sigmax.audit_log (stream, action, payload) VALUES ('app:desk', 'x', '{}')$$,
	'42501', NULL, 'a trader cannot insert directly');
SELECT throws_ok($$SELECT * FROM sigmax.audit_log$$, '42501', NULL, 'a trader cannot read the ledger');
RESET ROLE;
SELECT is((SELECT actor FROM sigmax.audit_log WHERE stream = 'app:desk'), 'sigmax_trader',
	'the actor is the caller, not the function owner');

SET LOCAL ROLE sigmax_auditor;
SELECT is_empty('SELECT * FROM sigmax.audit_verify()', 'an auditor verifies: intact');
SELECT throws_ok($$SELECT sigmax.audit_append('x', '{}')$$, '42501', NULL, 'an auditor cannot append');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
