-- ledger: appends chain per stream, verification, immutability, refusals.
CREATE EXTENSION sigmax;

-- appends number each stream from 1 and link each entry to the one before
SELECT sigmax.audit_append('report.sent', '{"report": 1}');
SELECT sigmax.audit_append('report.sent', '{"report": 2}');
SELECT sigmax.audit_append('job.done', jsonb_build_object('n', n), 'app:jobs')
  FROM generate_series(1, 3) n;
SELECT stream, seq, actor, action, payload,
       prev_hash = lag(hash, 1, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
                   OVER (PARTITION BY stream ORDER BY seq) AS links,
       octet_length(hash) AS hash_bytes
  FROM sigmax.audit_log ORDER BY stream, seq;

-- the trigger ignores what an inserter supplies, and only sigmax inserts
INSERT INTO sigmax.audit_log (stream, seq, recorded_at, actor, action, payload, prev_hash, hash)
VALUES ('app:jobs', 99, now(), 'mallory', 'job.done', '{}', '\x00', '\x00');

-- every hash recomputes: no rows means intact
SELECT * FROM sigmax.audit_verify();
SELECT * FROM sigmax.audit_verify('app:jobs');

-- append-only, even for the owner
UPDATE sigmax.audit_log SET payload = '{"report": 3}' WHERE seq = 1;
DELETE FROM sigmax.audit_log WHERE seq = 1;
TRUNCATE sigmax.audit_log;
-- also under session_replication_role = replica, which skips ordinary triggers
SET session_replication_role = replica;
UPDATE sigmax.audit_log SET payload = '{"report": 3}' WHERE seq = 1;
DELETE FROM sigmax.audit_log WHERE seq = 1;
TRUNCATE sigmax.audit_log;
RESET session_replication_role;

-- a rolled-back append leaves no gap
BEGIN;
SELECT sigmax.audit_append('report.sent', '{"report": "rolled back"}');
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT sigmax.audit_append('report.sent', '{"report": "to savepoint"}');
ROLLBACK TO SAVEPOINT s;
SELECT sigmax.audit_append('report.sent', '{"report": 3}');
COMMIT;
SELECT seq, payload FROM sigmax.audit_log WHERE stream = 'app:default' ORDER BY seq;

-- checkpoints sign every head; verify then checks against the latest
SELECT checkpoint_id, stream_count, length(digest) AS digest_hex_chars FROM sigmax.audit_checkpoint();
SELECT * FROM sigmax.audit_verify();
SELECT stream, seq, action FROM sigmax.audit_log WHERE stream = 'system';
SELECT sigmax.audit_append('report.sent', '{"report": 4}');
SELECT checkpoint_id, stream_count FROM sigmax.audit_checkpoint();
SELECT c.id, c.prev_digest = p.digest AS chains_to_previous
  FROM sigmax.audit_checkpoints c LEFT JOIN sigmax.audit_checkpoints p ON p.id = c.id - 1
 ORDER BY c.id;
SELECT stream, seq FROM sigmax.audit_checkpoint_streams WHERE checkpoint_id = 2 ORDER BY stream;
SELECT * FROM sigmax.audit_verify();
DELETE FROM sigmax.audit_checkpoints;

-- proofs and exports
SELECT p->'entry'->>'stream' AS stream, p->'entry'->>'seq' AS seq, p->'entry'->>'payload' AS payload,
       p->'leaf_index' AS leaf_index, p->'tree_size' AS tree_size,
       jsonb_array_length(p->'audit_path') AS path_length, p->'checkpoint'->>'id' AS checkpoint
  FROM sigmax.audit_proof('app:default', 2) p;
SELECT sigmax.audit_proof('app:default', 99);
SELECT split_part(sigmax.audit_checkpoint_export(), E'\n', 1) AS format;
SELECT sigmax.audit_checkpoint_export(42);
SELECT sigmax.audit_public_key() LIKE '-----BEGIN PUBLIC KEY-----%' AS public_key_pem;

-- bad input: a clear error with SQLSTATE, nothing written
\set VERBOSITY sqlstate
SELECT sigmax.audit_append(NULL, '{}');
SELECT sigmax.audit_append('x', NULL);
SELECT sigmax.audit_append('x', '{}', NULL);
SELECT sigmax.audit_append('x', '[1, 2]');
SELECT sigmax.audit_append('x', '"scalar"');
SELECT sigmax.audit_append('', '{}');
SELECT sigmax.audit_append('Bad Action', '{}');
SELECT sigmax.audit_append('x', '{}', 'nonsense');
SELECT sigmax.audit_append('x', '{}', 'app:');
SELECT sigmax.audit_append('x', '{}', 'app:UPPER');
SELECT sigmax.audit_append('x', '{}', 'system');
SELECT sigmax.audit_append('x', '{}', 'account:7');
SELECT sigmax.audit_append('x', jsonb_build_object('blob', repeat('a', 70000)));
SELECT sigmax.audit_verify('no such stream');
\set VERBOSITY default

-- what the ledger could never forget is refused (the message names the key, never the value)
SELECT sigmax.audit_append('x', '{"contact": "alice.smith@example.org"}');
SELECT sigmax.audit_append('x', '{"pan": "4111 1111 1111 1111"}');
SELECT sigmax.audit_append('x', '{"pan": 5500000000000004}');
SELECT sigmax.audit_append('x', '{"pem": "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----"}');
SELECT sigmax.audit_append('x', '{"k": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"}');
SELECT sigmax.audit_append('x', '{"nested": {"api_secret": "abc123xyz"}}');
SELECT sigmax.audit_append('x', '{"list": ["ok", "bob@example.com"]}');
SELECT sigmax.audit_append('x', '{"password": ["hunter2"]}');
SELECT sigmax.audit_append('x', jsonb_build_object(repeat('k', 70) || '_Password', 'hunter2'));
-- identifiers, hashes, timestamps and order ids pass
SELECT sigmax.audit_append('x', '{"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  "uuid": "123e4567-e89b-12d3-a456-426614174000", "ms": 1710328243709, "okx_ord_id": "590908157585625111",
  "price": "73369.84000000", "at": "user@host is not an address"}') > 0 AS accepted;
SELECT count(*) AS entries FROM sigmax.audit_log;

-- every statement sigmax runs through SPI runs under search_path = pg_catalog, pg_temp
-- (its SQL resolves operators through it); an internal function reached under another
-- search_path refuses before it runs one
SET search_path = public, pg_catalog;
SELECT sigmax._audit_write('system', 'regress.unpinned', '{}');
SET search_path = pg_catalog, pg_temp;
SELECT sigmax._audit_write('system', 'regress.pinned', '{}') IS NOT NULL AS written;
SET search_path = "pg_catalog",pg_temp;
SELECT sigmax._audit_write('system', 'regress.pinned', '{}') IS NOT NULL AS written_too;
RESET search_path;
SELECT action FROM sigmax.audit_log WHERE action LIKE 'regress.%' ORDER BY seq;

DROP EXTENSION sigmax;
DROP SCHEMA sigmax;
