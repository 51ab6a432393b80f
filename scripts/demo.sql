-- sigmax demo: a short tour in psql of what exists so far. Run by scripts/demo.sh.
\pset footer off
\echo
\echo '== The extension and its library'
SELECT extname, extversion, sigmax.version() AS library_version,
       extnamespace::regnamespace AS schema
  FROM pg_extension WHERE extname = 'sigmax';

\echo
\echo '== Roles: administrators, traders and auditors; none can log in by itself'
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'sigmax\_%' ORDER BY 1;

\echo
\echo '== Settings (paper trading by default; only the server configuration changes the mode)'
SELECT name, setting, context, short_desc FROM pg_settings WHERE name LIKE 'sigmax.%' ORDER BY 1;

\echo
\echo '== PUBLIC holds nothing on the schema'
SELECT has_schema_privilege('public', 'sigmax', 'USAGE') AS public_can_use_schema;

\echo
\echo '== Functions, as \df+ describes them'
SELECT p.oid::regprocedure AS function, obj_description(p.oid, 'pg_proc') AS description
  FROM pg_proc p WHERE p.pronamespace = 'sigmax'::regnamespace ORDER BY 1;
