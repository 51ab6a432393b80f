-- pgTAP smoke suite: the extension creates, its version matches, its roles
-- exist and PUBLIC has no privilege on any sigmax object.
BEGIN;
CREATE EXTENSION sigmax;
SELECT plan(9);

SELECT has_extension('sigmax', 'sigmax is installed');
SELECT has_schema('sigmax', 'schema sigmax exists');
SELECT is(sigmax.version(),
          (SELECT extversion FROM pg_extension WHERE extname = 'sigmax'),
          'library version matches the installed SQL version');

SELECT has_role('sigmax_admin', 'role sigmax_admin exists');
SELECT has_role('sigmax_trader', 'role sigmax_trader exists');
SELECT has_role('sigmax_auditor', 'role sigmax_auditor exists');
SELECT is_empty($$
    SELECT rolname FROM pg_roles
     WHERE rolname IN ('sigmax_admin', 'sigmax_trader', 'sigmax_auditor')
       AND (rolcanlogin OR rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls)
$$, 'the sigmax roles cannot log in and hold no cluster attribute');

-- Every ACL entry on the schema, its relations and its functions; grantee 0 is PUBLIC.
SELECT is_empty($$
    SELECT 'schema' AS kind, n.nspname::text AS name, a.privilege_type
      FROM pg_namespace n,
           aclexplode(coalesce(n.nspacl, acldefault('n'::"char", n.nspowner))) a
     WHERE n.nspname = 'sigmax' AND a.grantee = 0
    UNION ALL
    SELECT 'relation', c.oid::regclass::text, a.privilege_type
      FROM pg_class c,
           aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
     WHERE c.relnamespace = 'sigmax'::regnamespace AND a.grantee = 0
    UNION ALL
    SELECT 'function', p.oid::regprocedure::text, a.privilege_type
      FROM pg_proc p,
           aclexplode(coalesce(p.proacl, acldefault('f'::"char", p.proowner))) a
     WHERE p.pronamespace = 'sigmax'::regnamespace AND a.grantee = 0
$$, 'PUBLIC holds no privilege on any sigmax object');

SELECT throws_ok($$SET sigmax.trading_mode = 'live'$$, '55P02', NULL,
                 'sigmax.trading_mode cannot be changed by a session');

SELECT * FROM finish();
ROLLBACK;
