/*
 * checkpoint.c
 *	  Signed checkpoints of every stream's head and Merkle root, their export,
 *	  and RFC 6962 inclusion proofs.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"

#include "ledger.h"
#include "sigmax.h"

#define CHECKPOINT_BATCH 2000

PG_FUNCTION_INFO_V1(sigmax_audit_checkpoint);
PG_FUNCTION_INFO_V1(sigmax_audit_public_key);
PG_FUNCTION_INFO_V1(sigmax_audit_checkpoint_export);
PG_FUNCTION_INFO_V1(sigmax_audit_proof);

static SPIPlanPtr cp_latest_plan = NULL;
static SPIPlanPtr cp_by_id_plan = NULL;
static SPIPlanPtr cp_streams_plan = NULL;
static SPIPlanPtr heads_plan = NULL;
static SPIPlanPtr segment_plan = NULL;
static SPIPlanPtr insert_cp_plan = NULL;
static SPIPlanPtr insert_cp_stream_plan = NULL;


/* Copy a 32- or 64-byte bytea datum into a fixed buffer, or fail as corrupted. */
static void
copy_fixed(Datum d, bool isnull, uint8 *out, int len)
{
	bytea	   *b;

	if (isnull)
		goto bad;
	b = DatumGetByteaPP(d);
	if (VARSIZE_ANY_EXHDR(b) != (Size) len)
		goto bad;
	memcpy(out, VARDATA_ANY(b), len);
	return;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("a stored checkpoint is damaged"),
			 errhint("Run sigmax.audit_verify() and compare with the checkpoints anchored outside the database.")));
}

static int
stream_cmp(const void *a, const void *b)
{
	return strcmp(((const CheckpointStream *) a)->stream, ((const CheckpointStream *) b)->stream);
}

/*
 * Load checkpoint id (0: the latest) with its streams, in the current memory
 * context; NULL when there is none. The caller is connected to SPI.
 */
Checkpoint *
checkpoint_load(int64 id)
{
	Oid			int8arg[1] = {INT8OID};
	Datum		arg;
	Checkpoint *cp;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	uint64		i;
	int			rc;

	sigmax_keep_plan(&cp_latest_plan,
			  "SELECT id, created_at, prev_digest, digest, signature, public_key "
			  "FROM sigmax.audit_checkpoints ORDER BY id DESC LIMIT 1", 0, NULL);
	sigmax_keep_plan(&cp_by_id_plan,
			  "SELECT id, created_at, prev_digest, digest, signature, public_key "
			  "FROM sigmax.audit_checkpoints WHERE id = $1", 1, int8arg);
	sigmax_keep_plan(&cp_streams_plan,
			  "SELECT stream, seq, head, root, frontier FROM sigmax.audit_checkpoint_streams "
			  "WHERE checkpoint_id = $1", 1, int8arg);

	arg = Int64GetDatum(id);
	rc = id == 0 ? SPI_execute_plan(cp_latest_plan, NULL, NULL, true, 1)
		: SPI_execute_plan(cp_by_id_plan, &arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading checkpoints failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return NULL;

	cp = palloc0(sizeof(Checkpoint));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	cp->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	cp->created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
	d = SPI_getbinval(tup, desc, 3, &isnull);
	cp->has_prev = !isnull;
	if (cp->has_prev)
		copy_fixed(d, false, cp->prev_digest, SIGMAX_HASH_LEN);
	d = SPI_getbinval(tup, desc, 4, &isnull);
	copy_fixed(d, isnull, cp->digest, SIGMAX_HASH_LEN);
	d = SPI_getbinval(tup, desc, 5, &isnull);
	copy_fixed(d, isnull, cp->signature, SIGMAX_SIG_LEN);
	d = SPI_getbinval(tup, desc, 6, &isnull);
	copy_fixed(d, isnull, cp->public_key, SIGMAX_PUBKEY_LEN);
	SPI_freetuptable(SPI_tuptable);

	arg = Int64GetDatum(cp->id);
	rc = SPI_execute_plan(cp_streams_plan, &arg, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading checkpoint streams failed: %s", SPI_result_code_string(rc));
	cp->nstreams = (int) SPI_processed;
	cp->streams = palloc0(sizeof(CheckpointStream) * Max(cp->nstreams, 1));
	desc = SPI_tuptable->tupdesc;
	for (i = 0; i < SPI_processed; i++)
	{
		CheckpointStream *s = &cp->streams[i];

		tup = SPI_tuptable->vals[i];
		s->stream = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		s->seq = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		d = SPI_getbinval(tup, desc, 3, &isnull);
		copy_fixed(d, isnull, s->head, SIGMAX_HASH_LEN);
		d = SPI_getbinval(tup, desc, 4, &isnull);
		copy_fixed(d, isnull, s->root, SIGMAX_HASH_LEN);
		d = SPI_getbinval(tup, desc, 5, &isnull);
		s->frontier = isnull ? NULL : DatumGetByteaPCopy(d);
	}
	SPI_freetuptable(SPI_tuptable);
	qsort(cp->streams, cp->nstreams, sizeof(CheckpointStream), stream_cmp);
	return cp;
}

/* The stream's line in a checkpoint, or NULL. */
CheckpointStream *
checkpoint_find_stream(const Checkpoint *cp, const char *stream)
{
	CheckpointStream key;

	key.stream = (char *) stream;
	return bsearch(&key, cp->streams, cp->nstreams, sizeof(CheckpointStream), stream_cmp);
}

/* canonical(checkpoint), as docs/ledger-format.md specifies it. */
void
checkpoint_canonical(StringInfo buf, const Checkpoint *cp)
{
	char		num[32];
	char		when[SIGMAX_TIME_BUFLEN];
	char	   *hex;
	int			i;

	ledger_netstring(buf, SIGMAX_CHECKPOINT_FORMAT, strlen(SIGMAX_CHECKPOINT_FORMAT));
	snprintf(num, sizeof(num), INT64_FORMAT, cp->id);
	ledger_netstring(buf, num, strlen(num));
	ledger_format_time(cp->created_at, when);
	ledger_netstring(buf, when, strlen(when));
	if (cp->has_prev)
	{
		hex = sigmax_hex(cp->prev_digest, SIGMAX_HASH_LEN);
		ledger_netstring(buf, hex, strlen(hex));
		pfree(hex);
	}
	else
		ledger_netstring(buf, "", 0);
	snprintf(num, sizeof(num), "%d", cp->nstreams);
	ledger_netstring(buf, num, strlen(num));
	for (i = 0; i < cp->nstreams; i++)
	{
		const CheckpointStream *s = &cp->streams[i];

		ledger_netstring(buf, s->stream, strlen(s->stream));
		snprintf(num, sizeof(num), INT64_FORMAT, s->seq);
		ledger_netstring(buf, num, strlen(num));
		hex = sigmax_hex(s->head, SIGMAX_HASH_LEN);
		ledger_netstring(buf, hex, strlen(hex));
		pfree(hex);
		hex = sigmax_hex(s->root, SIGMAX_HASH_LEN);
		ledger_netstring(buf, hex, strlen(hex));
		pfree(hex);
	}
}

/*
 * True when the stored digest is SHA-256 of the checkpoint's canonical form
 * and its signature verifies. With a key configured, the stored public key
 * must also be that key's, so a checkpoint re-signed with another key fails.
 */
bool
checkpoint_signature_ok(const Checkpoint *cp)
{
	StringInfoData buf;
	uint8		digest[SIGMAX_HASH_LEN];

	initStringInfo(&buf);
	checkpoint_canonical(&buf, cp);
	sigmax_sha256(buf.data, buf.len, digest);
	pfree(buf.data);
	if (memcmp(digest, cp->digest, SIGMAX_HASH_LEN) != 0)
		return false;
	if (sigmax_checkpoint_key_file != NULL && sigmax_checkpoint_key_file[0] != '\0')
	{
		uint8		configured[SIGMAX_PUBKEY_LEN];

		sigmax_checkpoint_public_key(configured);
		if (memcmp(configured, cp->public_key, SIGMAX_PUBKEY_LEN) != 0)
			return false;
	}
	return sigmax_ed25519_verify(cp->public_key, digest, SIGMAX_HASH_LEN,
								 cp->signature, SIGMAX_SIG_LEN);
}

/*
 * Extend a stream's Merkle frontier over entries after_seq+1 .. upto_seq,
 * checking that each links to the one before and hashes right: a checkpoint
 * never signs a broken chain.
 */
static void
extend_stream(CheckpointStream *s, int64 after_seq, const uint8 *after_hash,
			  MerkleFrontier *frontier, MemoryContext row_ctx)
{
	Oid			argtypes[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		args[3];
	Portal		portal;
	uint8		expect_prev[SIGMAX_HASH_LEN];
	int64		expect_seq = after_seq + 1;
	StringInfoData scratch;

	sigmax_keep_plan(&segment_plan,
			  "SELECT " LEDGER_ROW_COLUMNS " FROM sigmax.audit_log "
			  "WHERE stream = $1 AND seq > $2 AND seq <= $3 ORDER BY seq", 3, argtypes);
	memcpy(expect_prev, after_hash, SIGMAX_HASH_LEN);
	args[0] = CStringGetTextDatum(s->stream);
	args[1] = Int64GetDatum(after_seq);
	args[2] = Int64GetDatum(s->seq);
	initStringInfo(&scratch);
	portal = SPI_cursor_open(NULL, segment_plan, args, NULL, true);
	for (;;)
	{
		uint64		n;

		SPI_cursor_fetch(portal, true, CHECKPOINT_BATCH);
		if (SPI_processed == 0)
			break;
		for (n = 0; n < SPI_processed; n++)
		{
			MemoryContext old = MemoryContextSwitchTo(row_ctx);
			LedgerRow	row;
			const char *problem = NULL;

			ledger_row_from_spi(SPI_tuptable->vals[n], SPI_tuptable->tupdesc, &row);
			if (row.seq != expect_seq)
				problem = "gap";
			else if (!ledger_hash_equals(row.prev_hash, expect_prev))
				problem = "broken link";
			else if (!ledger_row_hash_ok(&row, &scratch))
				problem = "hash mismatch";
			if (problem)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("ledger stream \"%s\" is broken at seq " INT64_FORMAT ": %s",
								row.stream, row.seq, problem),
						 errdetail("A checkpoint never signs a broken chain."),
						 errhint("Run sigmax.audit_verify() to see every problem.")));
			memcpy(expect_prev, VARDATA_ANY(row.hash), SIGMAX_HASH_LEN);
			merkle_frontier_push(frontier, expect_prev);
			expect_seq++;
			MemoryContextSwitchTo(old);
			MemoryContextReset(row_ctx);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	if (expect_seq != s->seq + 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ledger stream \"%s\" is missing entries before seq " INT64_FORMAT,
						s->stream, s->seq),
				 errhint("Run sigmax.audit_verify() to see every problem.")));
	if (memcmp(expect_prev, s->head, SIGMAX_HASH_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ledger stream \"%s\" does not end in the hash it reports at seq " INT64_FORMAT,
						s->stream, s->seq),
				 errhint("Run sigmax.audit_verify() to see every problem.")));
	merkle_frontier_root(frontier, s->root);
	s->frontier = merkle_frontier_serialize(frontier);
	pfree(scratch.data);
}

/* Insert the checkpoint's rows through the insert guard. */
static void
store_checkpoint(const Checkpoint *cp, const char *actor)
{
	Oid			cp_types[8] = {INT8OID, TIMESTAMPTZOID, TEXTOID, INT4OID, BYTEAOID, BYTEAOID, BYTEAOID, BYTEAOID};
	Oid			st_types[6] = {INT8OID, TEXTOID, INT8OID, BYTEAOID, BYTEAOID, BYTEAOID};
	Datum		v[8];
	char		n[8] = "        ";
	int			i;

	sigmax_keep_plan(&insert_cp_plan,
			  "INSERT INTO sigmax.audit_checkpoints (id, created_at, actor, stream_count, "
			  "prev_digest, digest, signature, public_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			  8, cp_types);
	sigmax_keep_plan(&insert_cp_stream_plan,
			  "INSERT INTO sigmax.audit_checkpoint_streams (checkpoint_id, stream, seq, head, root, frontier) "
			  "VALUES ($1, $2, $3, $4, $5, $6)", 6, st_types);

	v[0] = Int64GetDatum(cp->id);
	v[1] = TimestampTzGetDatum(cp->created_at);
	v[2] = CStringGetTextDatum(actor);
	v[3] = Int32GetDatum(cp->nstreams);
	if (cp->has_prev)
		v[4] = PointerGetDatum(sigmax_bytea(cp->prev_digest, SIGMAX_HASH_LEN));
	else
		n[4] = 'n';
	v[5] = PointerGetDatum(sigmax_bytea(cp->digest, SIGMAX_HASH_LEN));
	v[6] = PointerGetDatum(sigmax_bytea(cp->signature, SIGMAX_SIG_LEN));
	v[7] = PointerGetDatum(sigmax_bytea(cp->public_key, SIGMAX_PUBKEY_LEN));

	ledger_allow_insert(true);
	PG_TRY();
	{
		if (SPI_execute_plan(insert_cp_plan, v, n, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "sigmax: storing the checkpoint failed");
		for (i = 0; i < cp->nstreams; i++)
		{
			const CheckpointStream *s = &cp->streams[i];
			Datum		sv[6];

			sv[0] = Int64GetDatum(cp->id);
			sv[1] = CStringGetTextDatum(s->stream);
			sv[2] = Int64GetDatum(s->seq);
			sv[3] = PointerGetDatum(sigmax_bytea(s->head, SIGMAX_HASH_LEN));
			sv[4] = PointerGetDatum(sigmax_bytea(s->root, SIGMAX_HASH_LEN));
			sv[5] = PointerGetDatum(s->frontier);
			if (SPI_execute_plan(insert_cp_stream_plan, sv, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "sigmax: storing the checkpoint streams failed");
		}
	}
	PG_FINALLY();
	{
		ledger_allow_insert(false);
	}
	PG_END_TRY();
}

/*
 * sigmax.audit_checkpoint(): sign every stream's head and Merkle root, store
 * the checkpoint, send it on NOTIFY sigmax_checkpoint and to the server log.
 * Each stream's tree is extended from the previous checkpoint, so the work
 * is proportional to the entries added since.
 */
Datum
sigmax_audit_checkpoint(PG_FUNCTION_ARGS)
{
	MemoryContext call_ctx = CurrentMemoryContext;
	MemoryContext row_ctx;
	Checkpoint *prev;
	Checkpoint *cp;
	StringInfoData buf;
	char	   *actor = GetUserNameFromId(GetOuterUserId(), false);
	char	   *digest_hex;
	char	   *signature_hex;
	char	   *prev_hex;
	uint64		i;
	int			j;
	TupleDesc	tupdesc;
	Datum		result[3];
	bool		nulls[3] = {false, false, false};
	JsonbParseState *state = NULL;
	JsonbValue *jv;
	JsonbValue	k, v;
	HeapTuple	tuple;

	sigmax_require_primary("sign a ledger checkpoint");

	sigmax_check_sql_version();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "sigmax_audit_checkpoint: return type must be a row type");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	ledger_lock_checkpoints();
	/* Read what committed up to now, including a checkpoint we waited for. */
	PushCopiedSnapshot(GetLatestSnapshot());

	MemoryContextSwitchTo(call_ctx);
	prev = checkpoint_load(0);

	/* Every stream's head, in one snapshot: a loose scan of the primary key. */
	sigmax_keep_plan(&heads_plan,
			  "WITH RECURSIVE s(stream) AS ("
			  " (SELECT stream FROM sigmax.audit_log ORDER BY stream LIMIT 1)"
			  " UNION ALL"
			  " SELECT (SELECT l.stream FROM sigmax.audit_log l WHERE l.stream > s.stream"
			  "         ORDER BY l.stream LIMIT 1) FROM s WHERE s.stream IS NOT NULL)"
			  " SELECT s.stream, h.seq, h.hash FROM s,"
			  " LATERAL (SELECT seq, hash FROM sigmax.audit_log l WHERE l.stream = s.stream"
			  "          ORDER BY seq DESC LIMIT 1) h"
			  " WHERE s.stream IS NOT NULL", 0, NULL);
	if (SPI_execute_plan(heads_plan, NULL, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading the ledger heads failed");

	cp = palloc0(sizeof(Checkpoint));
	cp->id = prev ? prev->id + 1 : 1;
	cp->created_at = GetCurrentTimestamp();
	cp->has_prev = prev != NULL;
	if (prev)
		memcpy(cp->prev_digest, prev->digest, SIGMAX_HASH_LEN);
	cp->nstreams = (int) SPI_processed;
	cp->streams = palloc0(sizeof(CheckpointStream) * Max(cp->nstreams, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		cp->streams[i].stream = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		cp->streams[i].seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		copy_fixed(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull), isnull,
				   cp->streams[i].head, SIGMAX_HASH_LEN);
	}
	SPI_freetuptable(SPI_tuptable);
	qsort(cp->streams, cp->nstreams, sizeof(CheckpointStream), stream_cmp);

	/* A stream may only have grown since the previous checkpoint. */
	for (j = 0; prev && j < prev->nstreams; j++)
	{
		CheckpointStream *now = checkpoint_find_stream(cp, prev->streams[j].stream);

		if (now == NULL || now->seq < prev->streams[j].seq)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("ledger stream \"%s\" has lost entries since checkpoint " INT64_FORMAT,
							prev->streams[j].stream, prev->id),
					 errdetail("A checkpoint never signs a ledger that shrank."),
					 errhint("Run sigmax.audit_verify() to see every problem.")));
	}

	row_ctx = AllocSetContextCreate(call_ctx, "sigmax checkpoint row", ALLOCSET_DEFAULT_SIZES);
	for (j = 0; j < cp->nstreams; j++)
	{
		CheckpointStream *s = &cp->streams[j];
		CheckpointStream *old = prev ? checkpoint_find_stream(prev, s->stream) : NULL;
		MerkleFrontier *frontier = palloc(sizeof(MerkleFrontier));
		static const uint8 zero[SIGMAX_HASH_LEN] = {0};

		if (old != NULL && old->frontier != NULL)
		{
			merkle_frontier_deserialize(frontier, old->seq, old->frontier);
			extend_stream(s, old->seq, old->head, frontier, row_ctx);
		}
		else
		{
			merkle_frontier_init(frontier);
			extend_stream(s, 0, zero, frontier, row_ctx);
		}
		pfree(frontier);
	}

	initStringInfo(&buf);
	checkpoint_canonical(&buf, cp);
	sigmax_sha256(buf.data, buf.len, cp->digest);
	sigmax_checkpoint_sign(cp->digest, SIGMAX_HASH_LEN, cp->signature, cp->public_key);
	store_checkpoint(cp, actor);
	PopActiveSnapshot();

	digest_hex = sigmax_hex(cp->digest, SIGMAX_HASH_LEN);
	signature_hex = sigmax_hex(cp->signature, SIGMAX_SIG_LEN);
	prev_hex = cp->has_prev ? sigmax_hex(cp->prev_digest, SIGMAX_HASH_LEN) : "";

	/* The evidence, everywhere it can be anchored: the system stream, NOTIFY and the log. */
	resetStringInfo(&buf);
	appendStringInfo(&buf, "{\"id\": " INT64_FORMAT ", \"streams\": %d, \"digest\": \"%s\", "
					 "\"prev_digest\": \"%s\", \"signature\": \"%s\"}",
					 cp->id, cp->nstreams, digest_hex, prev_hex, signature_hex);
	Async_Notify("sigmax_checkpoint", buf.data);
	ereport(LOG,
			(errmsg("sigmax checkpoint " INT64_FORMAT ": %d streams, digest %s, signature %s",
					cp->id, cp->nstreams, digest_hex, signature_hex),
			 errhidestmt(true)));

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	k.type = jbvString;
	k.val.string.val = "checkpoint_id";
	k.val.string.len = strlen(k.val.string.val);
	pushJsonbValue(&state, WJB_KEY, &k);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(cp->id);
	pushJsonbValue(&state, WJB_VALUE, &v);
	k.val.string.val = "digest";
	k.val.string.len = strlen(k.val.string.val);
	pushJsonbValue(&state, WJB_KEY, &k);
	v.type = jbvString;
	v.val.string.val = digest_hex;
	v.val.string.len = strlen(digest_hex);
	pushJsonbValue(&state, WJB_VALUE, &v);
	k.val.string.val = "streams";
	k.val.string.len = strlen(k.val.string.val);
	pushJsonbValue(&state, WJB_KEY, &k);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(cp->nstreams);
	pushJsonbValue(&state, WJB_VALUE, &v);
	jv = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	sigmax_audit_write("system", "ledger.checkpoint", JsonbValueToJsonb(jv));

	/* Form the result where it outlives SPI_finish, which frees what SPI allocated. */
	MemoryContextSwitchTo(call_ctx);
	result[0] = Int64GetDatum(cp->id);
	result[1] = Int32GetDatum(cp->nstreams);
	result[2] = CStringGetTextDatum(digest_hex);
	tuple = heap_form_tuple(BlessTupleDesc(tupdesc), result, nulls);
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

/* sigmax.audit_public_key(): the checkpoint key's public half, PEM. */
Datum
sigmax_audit_public_key(PG_FUNCTION_ARGS)
{
	uint8		pub[SIGMAX_PUBKEY_LEN];

	sigmax_checkpoint_public_key(pub);
	PG_RETURN_TEXT_P(cstring_to_text(sigmax_public_key_pem(pub)));
}

/* Load checkpoint id (NULL: the latest) or raise a clear error. */
static Checkpoint *
checkpoint_load_or_error(bool latest, int64 id)
{
	Checkpoint *cp = checkpoint_load(latest ? 0 : id);

	if (cp == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 latest ? errmsg("there is no ledger checkpoint yet")
				 : errmsg("ledger checkpoint " INT64_FORMAT " does not exist", id),
				 errhint("Create one with sigmax.audit_checkpoint().")));
	return cp;
}

/* sigmax.audit_checkpoint_export(id): the text form tools/sigmax-verify reads. */
Datum
sigmax_audit_checkpoint_export(PG_FUNCTION_ARGS)
{
	MemoryContext call_ctx = CurrentMemoryContext;
	Checkpoint *cp;
	StringInfoData canonical;
	StringInfoData out;
	text	   *result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	cp = checkpoint_load_or_error(PG_ARGISNULL(0), PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0));

	/* Build the text where it outlives SPI_finish. */
	MemoryContextSwitchTo(call_ctx);
	initStringInfo(&canonical);
	checkpoint_canonical(&canonical, cp);
	initStringInfo(&out);
	appendStringInfo(&out, "%s\ncanonical: %s\nsignature: %s\n", SIGMAX_CHECKPOINT_FORMAT,
					 sigmax_hex((uint8 *) canonical.data, canonical.len),
					 sigmax_hex(cp->signature, SIGMAX_SIG_LEN));
	result = cstring_to_text(out.data);
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}

/* Append "key": "string" to a JSON object under construction. */
static void
json_field(StringInfo buf, const char *key, const char *value, bool first)
{
	if (!first)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
	escape_json(buf, value);
}

/*
 * sigmax.audit_proof(stream, seq): an RFC 6962 inclusion proof of one entry in
 * the latest checkpoint that covers it, checkable with the public key alone.
 */
Datum
sigmax_audit_proof(PG_FUNCTION_ARGS)
{
	MemoryContext call_ctx = CurrentMemoryContext;
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		args[2];
	char	   *stream;
	int64		seq;
	int64		cp_id;
	int64		tree_size;
	Checkpoint *cp;
	LedgerRow	row;
	uint8	   *hashes;
	uint8		path[64 * SIGMAX_HASH_LEN];
	int			pathlen;
	int			i;
	uint64		n;
	char		num[32];
	char		when[SIGMAX_TIME_BUFLEN];
	StringInfoData canonical;
	StringInfoData out;
	Portal		portal;
	bool		isnull;
	Datum		proof;
	static SPIPlanPtr covering_plan = NULL;
	static SPIPlanPtr hashes_plan = NULL;
	static SPIPlanPtr entry_plan = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("stream and seq must not be null")));
	stream = text_to_cstring(PG_GETARG_TEXT_PP(0));
	seq = PG_GETARG_INT64(1);
	if (ledger_stream_kind(stream) == LEDGER_STREAM_INVALID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid ledger stream name"),
				 errhint("Streams are named system, account:<id> or app:<name>.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	args[0] = CStringGetTextDatum(stream);
	args[1] = Int64GetDatum(seq);

	sigmax_keep_plan(&entry_plan, "SELECT " LEDGER_ROW_COLUMNS " FROM sigmax.audit_log "
			  "WHERE stream = $1 AND seq = $2", 2, argtypes);
	if (SPI_execute_plan(entry_plan, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading the ledger entry failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("ledger stream \"%s\" has no entry " INT64_FORMAT, stream, seq)));
	MemoryContextSwitchTo(call_ctx);
	ledger_row_from_spi(SPI_copytuple(SPI_tuptable->vals[0]), SPI_tuptable->tupdesc, &row);

	sigmax_keep_plan(&covering_plan,
			  "SELECT checkpoint_id, seq FROM sigmax.audit_checkpoint_streams "
			  "WHERE stream = $1 AND seq >= $2 ORDER BY checkpoint_id DESC LIMIT 1", 2, argtypes);
	if (SPI_execute_plan(covering_plan, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading checkpoints failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ledger entry %s/" INT64_FORMAT " is not covered by a checkpoint yet", stream, seq),
				 errhint("Create one with sigmax.audit_checkpoint().")));
	cp_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	tree_size = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	cp = checkpoint_load_or_error(false, cp_id);

	/* The tree's leaves: the stream's entry hashes up to the checkpoint. */
	hashes = palloc_extended(tree_size * SIGMAX_HASH_LEN, MCXT_ALLOC_HUGE);
	args[1] = Int64GetDatum(tree_size);
	sigmax_keep_plan(&hashes_plan, "SELECT seq, hash FROM sigmax.audit_log "
			  "WHERE stream = $1 AND seq <= $2 ORDER BY seq", 2, argtypes);
	portal = SPI_cursor_open(NULL, hashes_plan, args, NULL, true);
	i = 0;
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (n = 0; n < SPI_processed; n++, i++)
		{
			int64		s = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[n], SPI_tuptable->tupdesc, 1, &isnull));

			if (s != i + 1)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("ledger stream \"%s\" has a gap before seq " INT64_FORMAT, stream, s),
						 errhint("Run sigmax.audit_verify() to see every problem.")));
			copy_fixed(SPI_getbinval(SPI_tuptable->vals[n], SPI_tuptable->tupdesc, 2, &isnull), isnull,
					   hashes + (int64) i * SIGMAX_HASH_LEN, SIGMAX_HASH_LEN);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	if (i != tree_size)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ledger stream \"%s\" ends before its checkpoint", stream),
				 errhint("Run sigmax.audit_verify() to see every problem.")));

	pathlen = merkle_audit_path(hashes, tree_size, seq - 1, path);

	initStringInfo(&canonical);
	checkpoint_canonical(&canonical, cp);
	initStringInfo(&out);
	appendStringInfoString(&out, "{\"format\": \"sigmax-proof-v1\", \"entry\": {");
	json_field(&out, "stream", row.stream, true);
	snprintf(num, sizeof(num), INT64_FORMAT, row.seq);
	json_field(&out, "seq", num, false);
	ledger_format_time(row.recorded_at, when);
	json_field(&out, "recorded_at", when, false);
	json_field(&out, "actor", row.actor, false);
	json_field(&out, "action", row.action, false);
	json_field(&out, "payload", JsonbToCString(NULL, &row.payload->root, VARSIZE_ANY(row.payload)), false);
	json_field(&out, "prev_hash", sigmax_hex((uint8 *) VARDATA_ANY(row.prev_hash),
											 VARSIZE_ANY_EXHDR(row.prev_hash)), false);
	json_field(&out, "hash", sigmax_hex((uint8 *) VARDATA_ANY(row.hash), VARSIZE_ANY_EXHDR(row.hash)), false);
	appendStringInfo(&out, "}, \"leaf_index\": " INT64_FORMAT ", \"tree_size\": " INT64_FORMAT
					 ", \"audit_path\": [", seq - 1, tree_size);
	for (i = 0; i < pathlen; i++)
	{
		if (i > 0)
			appendStringInfoString(&out, ", ");
		escape_json(&out, sigmax_hex(path + i * SIGMAX_HASH_LEN, SIGMAX_HASH_LEN));
	}
	appendStringInfoString(&out, "], \"checkpoint\": {");
	snprintf(num, sizeof(num), INT64_FORMAT, cp->id);
	json_field(&out, "id", num, true);
	json_field(&out, "canonical", sigmax_hex((uint8 *) canonical.data, canonical.len), false);
	json_field(&out, "signature", sigmax_hex(cp->signature, SIGMAX_SIG_LEN), false);
	appendStringInfoString(&out, "}}");

	/* The result must outlive SPI_finish, which frees what SPI allocated. */
	MemoryContextSwitchTo(call_ctx);
	proof = DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data));
	SPI_finish();
	PG_RETURN_DATUM(proof);
}

PG_FUNCTION_INFO_V1(sigmax_checkpoint_verifies);

/*
 * sigmax.audit_checkpoint_verifies(): whether the latest checkpoint's digest
 * and signature verify (NULL when there is none): the cheap half of
 * audit_verify, for sigmax.status.
 */
Datum
sigmax_checkpoint_verifies(PG_FUNCTION_ARGS)
{
	Checkpoint *cp;
	bool		ok;

	sigmax_check_sql_version();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	cp = checkpoint_load(0);
	ok = cp != NULL && checkpoint_signature_ok(cp);
	SPI_finish();
	if (cp == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(ok);
}
