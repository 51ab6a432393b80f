-- smoke: the extension installs, matches its library, creates its roles,
-- grants PUBLIC nothing, guards its settings, and drops cleanly.
CREATE EXTENSION sigmax;

SELECT sigmax.version() = e.extversion AS library_matches_sql,
       n.nspname AS schema, e.extrelocatable AS relocatable
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'sigmax';

SELECT rolname, rolcanlogin, rolsuper
  FROM pg_roles WHERE rolname IN ('sigmax_admin', 'sigmax_trader', 'sigmax_auditor')
 ORDER BY rolname;

-- PUBLIC (the pseudo-role "public") holds no privilege on the schema or any object in it.
SELECT has_schema_privilege('public', 'sigmax', 'USAGE') AS public_schema_usage;
SELECT p.oid::regprocedure AS public_can_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'sigmax'::regnamespace
   AND has_function_privilege('public', p.oid, 'EXECUTE');
SELECT c.oid::regclass AS public_has_table_privilege
  FROM pg_class c
 WHERE c.relnamespace = 'sigmax'::regnamespace
   AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
   AND has_table_privilege('public', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER');

-- every function is described for \df+
SELECT p.oid::regprocedure AS function_without_comment
  FROM pg_proc p
 WHERE p.pronamespace = 'sigmax'::regnamespace
   AND obj_description(p.oid, 'pg_proc') IS NULL;

-- the library refuses to act on SQL objects of another version
BEGIN;
UPDATE pg_extension SET extversion = '0.9.0' WHERE extname = 'sigmax';
SELECT sigmax.audit_append('smoke.test', '{}');
ROLLBACK;
SELECT sigmax.audit_append('smoke.test', '{}') AS seq_after_rollback;

-- settings: the trading mode defaults to paper and only the server configuration changes it
SHOW sigmax.trading_mode;
SET sigmax.trading_mode = 'live';
-- the sigmax prefix is reserved: a misspelt setting is an error, not a placeholder
SET sigmax.tradingmode = 'live';
SELECT name, boot_val, context, vartype
  FROM pg_settings WHERE name LIKE 'sigmax.%' ORDER BY name;

-- a second database gets its own copy; the roles are shared and already there
CREATE DATABASE sigmax_regress_second;
\c sigmax_regress_second
CREATE EXTENSION sigmax;
SELECT sigmax.version() = extversion AS library_matches_sql FROM pg_extension WHERE extname = 'sigmax';
DROP EXTENSION sigmax;
-- nothing of sigmax is left: not a relation, function or type in its schema
SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'sigmax'::regnamespace)
     + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'sigmax'::regnamespace)
     + (SELECT count(*) FROM pg_type WHERE typnamespace = 'sigmax'::regnamespace) AS sigmax_objects_left;
\c contrib_regression
DROP DATABASE sigmax_regress_second;

DROP EXTENSION sigmax;
-- the schema CREATE EXTENSION made for sigmax.control stays, empty, as PostgreSQL leaves it
SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'sigmax'::regnamespace)
     + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'sigmax'::regnamespace) AS sigmax_objects_left;
DROP SCHEMA sigmax;
-- the roles stay: they belong to the cluster
SELECT count(*) AS sigmax_roles FROM pg_roles WHERE rolname LIKE 'sigmax\_%';
CREATE EXTENSION sigmax;
DROP EXTENSION sigmax;
DROP SCHEMA sigmax;
