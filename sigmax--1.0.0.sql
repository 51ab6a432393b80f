/* sigmax--1.0.0.sql: install script of the sigmax extension, version 1.0.0. */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION sigmax" to load this file. \quit

/*
 * Roles. They belong to the cluster, not to a database, so they are created
 * only when missing and survive DROP EXTENSION. None of them can log in: a
 * login role is granted one of them.
 */
DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['sigmax_admin', 'sigmax_trader', 'sigmax_auditor']
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
END
$roles$;

COMMENT ON SCHEMA sigmax IS 'sigmax: pre-trade risk engine and tamper-evident trade ledger';

/* ---------------------------------------------------------------------------
 * Library
 * ------------------------------------------------------------------------- */

CREATE FUNCTION sigmax.version()
RETURNS text
LANGUAGE c STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'sigmax_version';

COMMENT ON FUNCTION sigmax.version() IS
'Version of the loaded sigmax library.';

/* ---------------------------------------------------------------------------
 * Ledger: one append-only table, one SHA-256 chain per stream
 * (docs/ledger-format.md specifies every byte).
 * ------------------------------------------------------------------------- */

CREATE TABLE sigmax.audit_log (
	stream      text        NOT NULL,
	seq         bigint      NOT NULL CHECK (seq > 0),
	recorded_at timestamptz NOT NULL,
	actor       text        NOT NULL,
	action      text        NOT NULL,
	payload     jsonb       NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
	prev_hash   bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
	hash        bytea       NOT NULL CHECK (octet_length(hash) = 32),
	PRIMARY KEY (stream, seq)
);

COMMENT ON TABLE sigmax.audit_log IS
'Append-only, hash-chained record of every sigmax decision: hash = SHA-256(prev_hash || canonical(entry)) per stream.';
COMMENT ON COLUMN sigmax.audit_log.stream IS 'system, account:<id> or app:<name>; each stream is its own chain.';
COMMENT ON COLUMN sigmax.audit_log.seq IS 'Position in the stream, from 1, without gaps.';
COMMENT ON COLUMN sigmax.audit_log.actor IS 'Role (later: API key) on whose behalf the entry was written.';
COMMENT ON COLUMN sigmax.audit_log.prev_hash IS 'Hash of the previous entry of the stream; 32 zero bytes for seq 1.';

CREATE FUNCTION sigmax.audit_log_append()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'sigmax_audit_log_append';

COMMENT ON FUNCTION sigmax.audit_log_append() IS
'Trigger: assigns seq, recorded_at, prev_hash and hash of a new ledger entry under a per-stream lock.';

CREATE FUNCTION sigmax.ledger_immutable()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'sigmax_ledger_immutable';

COMMENT ON FUNCTION sigmax.ledger_immutable() IS
'Trigger: refuses UPDATE, DELETE and TRUNCATE on the ledger tables, even for their owner.';

CREATE FUNCTION sigmax.ledger_insert_guard()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'sigmax_ledger_insert_guard';

COMMENT ON FUNCTION sigmax.ledger_insert_guard() IS
'Trigger: only sigmax''s functions (or a superuser''s restore under sigmax.ledger_restore) add checkpoint rows.';

CREATE TRIGGER audit_log_append
	BEFORE INSERT ON sigmax.audit_log
	FOR EACH ROW EXECUTE FUNCTION sigmax.audit_log_append();
CREATE TRIGGER audit_log_immutable
	BEFORE UPDATE OR DELETE ON sigmax.audit_log
	FOR EACH ROW EXECUTE FUNCTION sigmax.ledger_immutable();
CREATE TRIGGER audit_log_no_truncate
	BEFORE TRUNCATE ON sigmax.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax.ledger_immutable();

CREATE TABLE sigmax.audit_checkpoints (
	id           bigint      PRIMARY KEY CHECK (id > 0),
	created_at   timestamptz NOT NULL,
	actor        text        NOT NULL,
	stream_count integer     NOT NULL,
	prev_digest  bytea       CHECK (octet_length(prev_digest) = 32),
	digest       bytea       NOT NULL CHECK (octet_length(digest) = 32),
	signature    bytea       NOT NULL CHECK (octet_length(signature) = 64),
	public_key   bytea       NOT NULL CHECK (octet_length(public_key) = 32)
);

COMMENT ON TABLE sigmax.audit_checkpoints IS
'Ed25519-signed digests of every stream''s head and Merkle root; each links to the previous one.';

CREATE TABLE sigmax.audit_checkpoint_streams (
	checkpoint_id bigint NOT NULL,
	stream        text   NOT NULL,
	seq           bigint NOT NULL CHECK (seq > 0),
	head          bytea  NOT NULL CHECK (octet_length(head) = 32),
	root          bytea  NOT NULL CHECK (octet_length(root) = 32),
	frontier      bytea  NOT NULL,
	PRIMARY KEY (checkpoint_id, stream)
);
CREATE INDEX audit_checkpoint_streams_stream_idx
	ON sigmax.audit_checkpoint_streams (stream, checkpoint_id);

COMMENT ON TABLE sigmax.audit_checkpoint_streams IS
'One line per stream and checkpoint: head seq and hash, RFC 6962 Merkle root, and the compact frontier that extends it.';

CREATE TRIGGER audit_checkpoints_insert_guard
	BEFORE INSERT ON sigmax.audit_checkpoints
	FOR EACH ROW EXECUTE FUNCTION sigmax.ledger_insert_guard();
CREATE TRIGGER audit_checkpoints_immutable
	BEFORE UPDATE OR DELETE ON sigmax.audit_checkpoints
	FOR EACH ROW EXECUTE FUNCTION sigmax.ledger_immutable();
CREATE TRIGGER audit_checkpoints_no_truncate
	BEFORE TRUNCATE ON sigmax.audit_checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax.ledger_immutable();
CREATE TRIGGER audit_checkpoint_streams_insert_guard
	BEFORE INSERT ON sigmax.audit_checkpoint_streams
	FOR EACH ROW EXECUTE FUNCTION sigmax.ledger_insert_guard();
CREATE TRIGGER audit_checkpoint_streams_immutable
	BEFORE UPDATE OR DELETE ON sigmax.audit_checkpoint_streams
	FOR EACH ROW EXECUTE FUNCTION sigmax.ledger_immutable();
CREATE TRIGGER audit_checkpoint_streams_no_truncate
	BEFORE TRUNCATE ON sigmax.audit_checkpoint_streams
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax.ledger_immutable();

-- pg_dump keeps the ledger (restore with sigmax.ledger_restore = on; see docs/operations.md).
SELECT pg_catalog.pg_extension_config_dump('sigmax.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.audit_checkpoints', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.audit_checkpoint_streams', '');

CREATE FUNCTION sigmax.audit_append(action text, payload jsonb, stream text DEFAULT 'app:default')
RETURNS bigint
LANGUAGE c VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_audit_append';

COMMENT ON FUNCTION sigmax.audit_append(text, jsonb, text) IS
'Record an application decision in the ledger stream app:<name>; returns its seq. Refuses personal data and secrets.';

CREATE FUNCTION sigmax.audit_verify(stream text DEFAULT NULL)
RETURNS TABLE (stream text, seq bigint, problem text)
LANGUAGE c STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_audit_verify';

COMMENT ON FUNCTION sigmax.audit_verify(text) IS
'Recompute every chain (or one stream''s) and check it against the latest checkpoint; no rows means intact.';

CREATE FUNCTION sigmax.audit_checkpoint()
RETURNS TABLE (checkpoint_id bigint, stream_count integer, digest text)
LANGUAGE c VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_audit_checkpoint';

COMMENT ON FUNCTION sigmax.audit_checkpoint() IS
'Sign every stream''s head and Merkle root with the Ed25519 key of sigmax.checkpoint_key_file; also sent on NOTIFY sigmax_checkpoint.';

CREATE FUNCTION sigmax.audit_public_key()
RETURNS text
LANGUAGE c STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_audit_public_key';

COMMENT ON FUNCTION sigmax.audit_public_key() IS
'Public half (PEM) of the checkpoint signing key, for verifying checkpoints and proofs outside the database.';

CREATE FUNCTION sigmax.audit_checkpoint_export(checkpoint_id bigint DEFAULT NULL)
RETURNS text
LANGUAGE c STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_audit_checkpoint_export';

COMMENT ON FUNCTION sigmax.audit_checkpoint_export(bigint) IS
'A checkpoint (NULL: the latest) in the text form tools/sigmax-verify reads.';

CREATE FUNCTION sigmax.audit_proof(stream text, seq bigint)
RETURNS jsonb
LANGUAGE c STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_audit_proof';

COMMENT ON FUNCTION sigmax.audit_proof(text, bigint) IS
'RFC 6962 inclusion proof of one entry in the latest checkpoint covering it, checkable with the public key alone.';

/* ---------------------------------------------------------------------------
 * Privileges: nothing for PUBLIC; each sigmax role gets what its job needs.
 * This section stays last so that it covers every object created above.
 * ------------------------------------------------------------------------- */

REVOKE ALL ON SCHEMA sigmax FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA sigmax FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA sigmax FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA sigmax FROM PUBLIC;

GRANT USAGE ON SCHEMA sigmax TO sigmax_admin, sigmax_trader, sigmax_auditor;
GRANT EXECUTE ON FUNCTION sigmax.version() TO sigmax_admin, sigmax_trader, sigmax_auditor;

-- The ledger: nobody, not even its owner, holds UPDATE, DELETE or TRUNCATE;
-- rows arrive only through sigmax's functions (the triggers enforce it).
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
	ON sigmax.audit_log, sigmax.audit_checkpoints, sigmax.audit_checkpoint_streams
	FROM CURRENT_USER;
GRANT SELECT ON sigmax.audit_log, sigmax.audit_checkpoints, sigmax.audit_checkpoint_streams
	TO sigmax_auditor, sigmax_admin;
GRANT EXECUTE ON FUNCTION sigmax.audit_append(text, jsonb, text) TO sigmax_admin, sigmax_trader;
GRANT EXECUTE ON FUNCTION sigmax.audit_verify(text) TO sigmax_admin, sigmax_auditor;
GRANT EXECUTE ON FUNCTION sigmax.audit_checkpoint() TO sigmax_admin;
GRANT EXECUTE ON FUNCTION sigmax.audit_public_key() TO sigmax_admin, sigmax_auditor;
GRANT EXECUTE ON FUNCTION sigmax.audit_checkpoint_export(bigint) TO sigmax_admin, sigmax_auditor;
GRANT EXECUTE ON FUNCTION sigmax.audit_proof(text, bigint) TO sigmax_admin, sigmax_auditor;
