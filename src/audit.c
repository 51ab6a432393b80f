/*
 * audit.c
 *	  Appending to the hash-chained ledger: canonical encoding, the chain trigger,
 *	  immutability triggers and sigmax.audit_append().
 */
#include "postgres.h"

#include "storage/proc.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/relcache.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "ledger.h"
#include "sigmax.h"

/*
 * Appends to one stream serialize on a transaction-scoped advisory lock keyed
 * by the stream name. Advisory locks taken from SQL use field4 1 and 2; this
 * value keeps sigmax's locks apart from an application's.
 */
#define SIGMAX_LOCKTAG_LEDGER 0x5358

static const uint8 zero_hash[SIGMAX_HASH_LEN] = {0};

/* Set while sigmax's own code inserts into the ledger tables. */
static bool ledger_insert_ok = false;

/* Plans kept across calls. */
static SPIPlanPtr insert_plan = NULL;

PG_FUNCTION_INFO_V1(sigmax_audit_log_append);
PG_FUNCTION_INFO_V1(sigmax_ledger_immutable);
PG_FUNCTION_INFO_V1(sigmax_ledger_insert_guard);
PG_FUNCTION_INFO_V1(sigmax_audit_append);

/* Allow or forbid inserts into the ledger tables for the code that follows. */
void
ledger_allow_insert(bool allow)
{
	ledger_insert_ok = allow;
}

bool
ledger_insert_allowed(void)
{
	return ledger_insert_ok;
}

/* Append one netstring: decimal length, ':', the bytes, ','. */
void
ledger_netstring(StringInfo buf, const char *data, int len)
{
	appendStringInfo(buf, "%d:", len);
	appendBinaryStringInfo(buf, data, len);
	appendStringInfoChar(buf, ',');
}

/* The canonical UTC text of a timestamp: YYYY-MM-DDTHH:MM:SS.ffffffZ. */
void
ledger_format_time(TimestampTz ts, char *buf)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts) || timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("ledger timestamp out of range")));
	snprintf(buf, SIGMAX_TIME_BUFLEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
			 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
}

/* canonical(entry), as docs/ledger-format.md specifies it. */
void
ledger_canonical(StringInfo buf, const char *stream, int64 seq, TimestampTz recorded_at,
				 const char *actor, const char *action, const char *payload_text)
{
	char		num[32];
	char		when[SIGMAX_TIME_BUFLEN];

	ledger_netstring(buf, SIGMAX_LEDGER_FORMAT, strlen(SIGMAX_LEDGER_FORMAT));
	ledger_netstring(buf, stream, strlen(stream));
	snprintf(num, sizeof(num), INT64_FORMAT, seq);
	ledger_netstring(buf, num, strlen(num));
	ledger_format_time(recorded_at, when);
	ledger_netstring(buf, when, strlen(when));
	ledger_netstring(buf, actor, strlen(actor));
	ledger_netstring(buf, action, strlen(action));
	ledger_netstring(buf, payload_text, strlen(payload_text));
}

/* hash = SHA-256(prev_hash || canonical). */
void
ledger_entry_hash(const uint8 *prev_hash, StringInfo canonical, uint8 out[SIGMAX_HASH_LEN])
{
	sigmax_sha256_begin();
	sigmax_sha256_update(prev_hash, SIGMAX_HASH_LEN);
	sigmax_sha256_update(canonical->data, canonical->len);
	sigmax_sha256_end(out);
}

/*
 * Classify a stream name: "system", "account:<id>" with a positive decimal id
 * without leading zeros, or "app:<name>" with 1 to 63 of [a-z0-9_.-] starting
 * with a letter or digit.
 */
LedgerStreamKind
ledger_stream_kind(const char *stream)
{
	const char *p;
	int			n;

	if (strcmp(stream, "system") == 0)
		return LEDGER_STREAM_SYSTEM;
	if (strncmp(stream, "account:", 8) == 0)
	{
		p = stream + 8;
		if (*p < '1' || *p > '9')
			return LEDGER_STREAM_INVALID;
		for (n = 0; p[n]; n++)
			if (p[n] < '0' || p[n] > '9' || n >= 18)
				return LEDGER_STREAM_INVALID;
		return LEDGER_STREAM_ACCOUNT;
	}
	if (strncmp(stream, "app:", 4) == 0)
	{
		p = stream + 4;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return LEDGER_STREAM_INVALID;
		for (n = 0; p[n]; n++)
			if (n >= 63 ||
				!((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9') ||
				  p[n] == '_' || p[n] == '.' || p[n] == '-'))
				return LEDGER_STREAM_INVALID;
		return LEDGER_STREAM_APP;
	}
	return LEDGER_STREAM_INVALID;
}

/* Serialize appends to one stream until the end of the (sub)transaction. */
static void
lock_stream(const char *stream)
{
	LOCKTAG		tag;
	uint64		h = hash_bytes_extended((const unsigned char *) stream, strlen(stream), 0);

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h, SIGMAX_LOCKTAG_LEDGER);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* Serialize checkpoints until the end of the transaction. */
void
ledger_lock_checkpoints(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, 0, SIGMAX_LOCKTAG_LEDGER + 1);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * Read a stream's head (last seq and hash) under the stream lock, with the
 * latest snapshot, so that a REPEATABLE READ transaction still links to what
 * committed after it started: the chain can never fork. A backward scan of
 * the primary key (stream, seq) finds it directly, without SPI: this read is
 * on every append's path.
 */
static int64
read_stream_head(Relation rel, text *stream, int att_seq, int att_hash,
				 uint8 head_hash[SIGMAX_HASH_LEN])
{
	Oid			indexoid = RelationGetPrimaryKeyIndex(rel);
	Relation	index;
	ScanKeyData key;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snapshot;
	int64		seq = 0;

	if (!OidIsValid(indexoid))
		elog(ERROR, "sigmax: sigmax.audit_log has no primary key");
	index = index_open(indexoid, AccessShareLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   index->rd_indcollation[0], F_TEXTEQ, PointerGetDatum(stream));
	scan = index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	slot = table_slot_create(rel, NULL);

	memcpy(head_hash, zero_hash, SIGMAX_HASH_LEN);
	if (index_getnext_slot(scan, BackwardScanDirection, slot))
	{
		bool		isnull;
		bytea	   *hash;

		seq = DatumGetInt64(slot_getattr(slot, att_seq, &isnull));
		hash = DatumGetByteaPP(slot_getattr(slot, att_hash, &isnull));
		if (isnull || VARSIZE_ANY_EXHDR(hash) != SIGMAX_HASH_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the head of a ledger stream has no valid hash"),
					 errhint("Run sigmax.audit_verify() to locate the damage.")));
		memcpy(head_hash, VARDATA_ANY(hash), SIGMAX_HASH_LEN);
	}

	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	index_close(index, AccessShareLock);
	return seq;
}

/* Attribute number of a ledger column, or an error naming the damaged table. */
static int
ledger_attnum(TupleDesc tupdesc, const char *name)
{
	int			attnum = SPI_fnumber(tupdesc, name);

	if (attnum <= 0)
		elog(ERROR, "sigmax: ledger table has no column \"%s\"", name);
	return attnum;
}

/*
 * BEFORE INSERT trigger on sigmax.audit_log: links the new entry to its
 * stream's head. It assigns seq, recorded_at, prev_hash and hash itself,
 * ignoring whatever the inserter supplied; actor defaults to the caller.
 */
Datum
sigmax_audit_log_append(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	tuple;
	Datum		values[8];
	bool		nulls[8];
	bool		replace[8];
	int			att_stream, att_seq, att_at, att_actor, att_action, att_payload, att_prev, att_hash;
	bool		isnull;
	char	   *stream;
	text	   *stream_text;
	char	   *actor;
	char	   *action;
	Jsonb	   *payload;
	char	   *payload_text;
	int64		seq;
	TimestampTz now;
	uint8		prev_hash[SIGMAX_HASH_LEN];
	uint8		hash[SIGMAX_HASH_LEN];
	StringInfoData canonical;
	bytea	   *prev_b;
	bytea	   *hash_b;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || !TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		elog(ERROR, "sigmax_audit_log_append: must be fired BEFORE INSERT FOR EACH ROW");

	tuple = trigdata->tg_trigtuple;

	/* A verbatim restore (pg_restore under sigmax.ledger_restore) keeps the rows as dumped. */
	if (!ledger_insert_ok && sigmax_ledger_restore && superuser())
		return PointerGetDatum(tuple);
	if (!ledger_insert_ok)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("entries are appended to sigmax.audit_log only through sigmax's functions"),
				 errhint("Use sigmax.audit_append(action, payload).")));

	tupdesc = trigdata->tg_relation->rd_att;
	if (tupdesc->natts != 8)
		elog(ERROR, "sigmax: sigmax.audit_log has %d columns, expected 8", tupdesc->natts);
	att_stream = ledger_attnum(tupdesc, "stream");
	att_seq = ledger_attnum(tupdesc, "seq");
	att_at = ledger_attnum(tupdesc, "recorded_at");
	att_actor = ledger_attnum(tupdesc, "actor");
	att_action = ledger_attnum(tupdesc, "action");
	att_payload = ledger_attnum(tupdesc, "payload");
	att_prev = ledger_attnum(tupdesc, "prev_hash");
	att_hash = ledger_attnum(tupdesc, "hash");

	stream_text = DatumGetTextPP(heap_getattr(tuple, att_stream, tupdesc, &isnull));
	stream = text_to_cstring(stream_text);
	action = TextDatumGetCString(heap_getattr(tuple, att_action, tupdesc, &isnull));
	payload = DatumGetJsonbP(heap_getattr(tuple, att_payload, tupdesc, &isnull));
	{
		Datum		d = heap_getattr(tuple, att_actor, tupdesc, &isnull);

		actor = isnull ? GetUserNameFromId(GetOuterUserId(), false) : TextDatumGetCString(d);
	}

	lock_stream(stream);
	seq = read_stream_head(trigdata->tg_relation, stream_text, att_seq, att_hash, prev_hash) + 1;

	now = GetCurrentTimestamp();
	payload_text = JsonbToCString(NULL, &payload->root, VARSIZE(payload));
	initStringInfo(&canonical);
	ledger_canonical(&canonical, stream, seq, now, actor, action, payload_text);
	ledger_entry_hash(prev_hash, &canonical, hash);

	prev_b = sigmax_bytea(prev_hash, SIGMAX_HASH_LEN);
	hash_b = sigmax_bytea(hash, SIGMAX_HASH_LEN);

	memset(replace, 0, sizeof(replace));
	memset(nulls, 0, sizeof(nulls));
	values[att_seq - 1] = Int64GetDatum(seq);
	replace[att_seq - 1] = true;
	values[att_at - 1] = TimestampTzGetDatum(now);
	replace[att_at - 1] = true;
	values[att_actor - 1] = CStringGetTextDatum(actor);
	replace[att_actor - 1] = true;
	values[att_prev - 1] = PointerGetDatum(prev_b);
	replace[att_prev - 1] = true;
	values[att_hash - 1] = PointerGetDatum(hash_b);
	replace[att_hash - 1] = true;

	return PointerGetDatum(heap_modify_tuple(tuple, tupdesc, values, nulls, replace));
}

/*
 * BEFORE UPDATE/DELETE (row) and TRUNCATE (statement) trigger on the ledger
 * tables: they are append-only, even for their owner and superusers.
 */
Datum
sigmax_ledger_immutable(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *what;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "sigmax_ledger_immutable: not called as a trigger");

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		what = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		what = "DELETE";
	else if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		what = "TRUNCATE";
	else
		what = "this change";

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s.%s is append-only",
					get_namespace_name(RelationGetNamespace(trigdata->tg_relation)),
					RelationGetRelationName(trigdata->tg_relation)),
			 errdetail("%s of ledger rows is refused, also for the table owner.", what),
			 errhint("Record a correcting entry with sigmax.audit_append() instead.")));
	PG_RETURN_NULL();
}

/*
 * BEFORE INSERT trigger on the checkpoint tables: only sigmax's functions add
 * rows, except a superuser's verbatim restore under sigmax.ledger_restore.
 */
Datum
sigmax_ledger_insert_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		elog(ERROR, "sigmax_ledger_insert_guard: must be fired FOR EACH ROW on INSERT");

	if (!ledger_insert_ok && !(sigmax_ledger_restore && superuser()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("rows are added to %s.%s only through sigmax's functions",
						get_namespace_name(RelationGetNamespace(trigdata->tg_relation)),
						RelationGetRelationName(trigdata->tg_relation)),
				 errhint("Use sigmax.audit_checkpoint().")));
	return PointerGetDatum(trigdata->tg_trigtuple);
}

/* Ledger entries this backend appended in its current top-level transaction. */
static LocalTransactionId entries_lxid = InvalidLocalTransactionId;
static int	entries_in_xact = 0;

/*
 * How many ledger entries the current transaction has appended (counting
 * those of subtransactions rolled back since: an overcount is safe).
 */
int
sigmax_audit_entries_in_xact(void)
{
	return (MyProc != NULL && MyProc->lxid == entries_lxid) ? entries_in_xact : 0;
}

/*
 * Append one entry to a stream and return its seq. The C entry point for
 * every sigmax decision; the caller has validated the stream and action.
 */
int64
sigmax_audit_write(const char *stream, const char *action, Jsonb *payload)
{
	Datum		args[3];
	int64		seq;
	bool		isnull;
	int			rc;

	if (MyProc != NULL)
	{
		if (MyProc->lxid != entries_lxid)
		{
			entries_lxid = MyProc->lxid;
			entries_in_xact = 0;
		}
		entries_in_xact++;
	}

	args[0] = CStringGetTextDatum(stream);
	args[1] = CStringGetTextDatum(action);
	args[2] = JsonbPGetDatum(payload);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	{
		Oid			argtypes[3] = {TEXTOID, TEXTOID, JSONBOID};

		sigmax_keep_plan(&insert_plan, "INSERT INTO sigmax.audit_log (stream, action, payload) "
						 "VALUES ($1, $2, $3) RETURNING seq", 3, argtypes);
	}
	ledger_insert_ok = true;
	PG_TRY();
	{
		rc = SPI_execute_plan(insert_plan, args, NULL, false, 1);
	}
	PG_FINALLY();
	{
		ledger_insert_ok = false;
	}
	PG_END_TRY();
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "sigmax: ledger insert failed: %s", SPI_result_code_string(rc));
	seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return seq;
}

/*
 * sigmax.audit_append(action, payload, stream): an application records its
 * own decision in an app:<name> stream. Returns the entry's seq.
 */
Datum
sigmax_audit_append(PG_FUNCTION_ARGS)
{
	char	   *action;
	char	   *stream;
	Jsonb	   *payload;
	int			i;
	int			len;

	sigmax_require_primary("append to the ledger");
	sigmax_check_sql_version();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("action must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("payload must not be null"),
				 errhint("Pass an empty object, '{}', when there is nothing to add.")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("stream must not be null")));

	action = text_to_cstring(PG_GETARG_TEXT_PP(0));
	payload = PG_GETARG_JSONB_P(1);
	stream = text_to_cstring(PG_GETARG_TEXT_PP(2));

	len = strlen(action);
	if (len < 1 || len > 100)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("action must be 1 to 100 characters long")));
	for (i = 0; i < len; i++)
	{
		char		c = action[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '.' || c == '-' || c == ':'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("action may contain only lower-case letters, digits and \"_.-:\""),
					 errhint("Name actions like \"order.approved\" or \"report.sent\".")));
	}

	switch (ledger_stream_kind(stream))
	{
		case LEDGER_STREAM_APP:
			break;
		case LEDGER_STREAM_SYSTEM:
		case LEDGER_STREAM_ACCOUNT:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only sigmax itself appends to the system and account streams"),
					 errhint("Applications log to a stream named app:<name>.")));
			break;
		case LEDGER_STREAM_INVALID:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid ledger stream name"),
					 errdetail("Application streams are named app:<name>, with 1 to 63 of a-z, 0-9, \"_\", \".\" and \"-\", starting with a letter or digit."),
					 errhint("For example 'app:reports'.")));
			break;
	}

	if (!JB_ROOT_IS_OBJECT(payload) || JB_ROOT_IS_SCALAR(payload))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payload must be a JSON object"),
				 errhint("Wrap the value, for example '{\"value\": 42}'.")));
	if (VARSIZE(payload) - VARHDRSZ > (Size) sigmax_audit_max_payload_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("payload is too large for the ledger"),
				 errdetail("The payload takes %u bytes; sigmax.audit_max_payload_bytes is %d.",
						   (unsigned) (VARSIZE(payload) - VARHDRSZ), sigmax_audit_max_payload_bytes),
				 errhint("Log a reference to the data, such as its hash, instead of the data.")));
	ledger_screen_payload(payload);

	PG_RETURN_INT64(sigmax_audit_write(stream, action, payload));
}

/* Read a ledger row from an SPI result whose columns are LEDGER_ROW_COLUMNS. */
void
ledger_row_from_spi(HeapTuple tuple, TupleDesc tupdesc, LedgerRow *row)
{
	bool		isnull;

	row->stream = TextDatumGetCString(SPI_getbinval(tuple, tupdesc, 1, &isnull));
	row->seq = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 2, &isnull));
	row->recorded_at = DatumGetTimestampTz(SPI_getbinval(tuple, tupdesc, 3, &isnull));
	row->actor = TextDatumGetCString(SPI_getbinval(tuple, tupdesc, 4, &isnull));
	row->action = TextDatumGetCString(SPI_getbinval(tuple, tupdesc, 5, &isnull));
	row->payload = DatumGetJsonbP(SPI_getbinval(tuple, tupdesc, 6, &isnull));
	row->prev_hash = DatumGetByteaPP(SPI_getbinval(tuple, tupdesc, 7, &isnull));
	row->hash = DatumGetByteaPP(SPI_getbinval(tuple, tupdesc, 8, &isnull));
}

/* True when a bytea holds exactly the 32 expected bytes. */
bool
ledger_hash_equals(const bytea *value, const uint8 *expected)
{
	return VARSIZE_ANY_EXHDR(value) == SIGMAX_HASH_LEN &&
		memcmp(VARDATA_ANY(value), expected, SIGMAX_HASH_LEN) == 0;
}

/* True when the row's hash is SHA-256 of its own prev_hash and canonical form. */
bool
ledger_row_hash_ok(const LedgerRow *row, StringInfo scratch)
{
	uint8		hash[SIGMAX_HASH_LEN];
	char	   *payload_text;

	if (VARSIZE_ANY_EXHDR(row->prev_hash) != SIGMAX_HASH_LEN)
		return false;
	payload_text = JsonbToCString(NULL, &row->payload->root, VARSIZE_ANY(row->payload));
	resetStringInfo(scratch);
	ledger_canonical(scratch, row->stream, row->seq, row->recorded_at, row->actor,
					 row->action, payload_text);
	ledger_entry_hash((const uint8 *) VARDATA_ANY(row->prev_hash), scratch, hash);
	pfree(payload_text);
	return ledger_hash_equals(row->hash, hash);
}
