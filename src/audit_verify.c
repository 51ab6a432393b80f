/*
 * audit_verify.c
 *	  sigmax.audit_verify(): recomputes every chain and checks it against the latest checkpoint.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "ledger.h"
#include "sigmax.h"

/* Rows fetched from the cursor at a time. */
#define VERIFY_BATCH 2000

PG_FUNCTION_INFO_V1(sigmax_audit_verify);

static SPIPlanPtr scan_all_plan = NULL;
static SPIPlanPtr scan_one_plan = NULL;

/* State of the stream being verified. */
typedef struct StreamState
{
	char	   *name;
	int64		last_seq;		/* 0 before the first entry */
	uint8		last_hash[SIGMAX_HASH_LEN];
	MerkleFrontier frontier;
	CheckpointStream *cp;		/* this stream's line in the checkpoint, or NULL */
	bool		cp_matched;		/* the entry at the checkpoint's seq was seen */
} StreamState;

/* Emit one problem row; stream or seq may be absent. */
static void
report(ReturnSetInfo *rsinfo, const char *stream, int64 seq, bool has_seq, const char *problem)
{
	Datum		values[3];
	bool		nulls[3] = {stream == NULL, !has_seq, false};

	values[0] = stream ? CStringGetTextDatum(stream) : (Datum) 0;
	values[1] = Int64GetDatum(seq);
	values[2] = CStringGetTextDatum(problem);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* A stream ended: no entry at the checkpoint's seq means deleted entries (a tail, usually). */
static void
finish_stream(ReturnSetInfo *rsinfo, StreamState *st)
{
	if (st->name != NULL && st->cp != NULL && !st->cp_matched)
		report(rsinfo, st->name, st->cp->seq, true, "checkpoint: missing entries");
}

/* Prepare and keep the scan plans. */
static void
prepare_plans(void)
{
	Oid			argtypes[1] = {TEXTOID};

	sigmax_keep_plan(&scan_all_plan, "SELECT " LEDGER_ROW_COLUMNS " FROM sigmax.audit_log "
					 "ORDER BY stream, seq", 0, NULL);
	sigmax_keep_plan(&scan_one_plan, "SELECT " LEDGER_ROW_COLUMNS " FROM sigmax.audit_log "
					 "WHERE stream = $1 ORDER BY seq", 1, argtypes);
}

/*
 * sigmax.audit_verify(stream text DEFAULT NULL) returns (stream, seq, problem):
 * every wrong hash, broken link and gap, and every disagreement with the
 * latest checkpoint. No rows means intact.
 */
Datum
sigmax_audit_verify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *only = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	MemoryContext row_ctx;
	MemoryContext call_ctx = CurrentMemoryContext;
	Checkpoint *cp;
	bool	   *cp_seen = NULL;
	StreamState st;
	StringInfoData scratch;
	Portal		portal;
	Datum		arg;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	sigmax_check_sql_version();

	if (only != NULL && ledger_stream_kind(only) == LEDGER_STREAM_INVALID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid ledger stream name"),
				 errhint("Streams are named system, account:<id> or app:<name>.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	prepare_plans();

	/* The latest checkpoint, loaded into the function's context so it outlives SPI batches. */
	{
		MemoryContext spi_ctx = MemoryContextSwitchTo(call_ctx);

		cp = checkpoint_load(0);
		MemoryContextSwitchTo(spi_ctx);
	}
	if (cp != NULL)
	{
		cp_seen = MemoryContextAllocZero(call_ctx, sizeof(bool) * Max(cp->nstreams, 1));
		if (!checkpoint_signature_ok(cp))
			report(rsinfo, NULL, 0, false, "checkpoint: bad signature");
	}

	row_ctx = AllocSetContextCreate(call_ctx, "sigmax audit_verify row", ALLOCSET_DEFAULT_SIZES);
	scratch.data = NULL;
	{
		MemoryContext old = MemoryContextSwitchTo(call_ctx);

		initStringInfo(&scratch);
		MemoryContextSwitchTo(old);
	}

	memset(&st, 0, sizeof(st));
	if (only != NULL)
	{
		arg = CStringGetTextDatum(only);
		portal = SPI_cursor_open(NULL, scan_one_plan, &arg, NULL, true);
	}
	else
		portal = SPI_cursor_open(NULL, scan_all_plan, NULL, NULL, true);

	for (;;)
	{
		uint64		n;

		SPI_cursor_fetch(portal, true, VERIFY_BATCH);
		if (SPI_processed == 0)
			break;
		for (n = 0; n < SPI_processed; n++)
		{
			MemoryContext old = MemoryContextSwitchTo(row_ctx);
			LedgerRow	row;
			bool		stored_hash_ok;

			ledger_row_from_spi(SPI_tuptable->vals[n], SPI_tuptable->tupdesc, &row);

			if (st.name == NULL || strcmp(st.name, row.stream) != 0)
			{
				CheckpointStream *cps = NULL;

				finish_stream(rsinfo, &st);
				if (st.name)
					pfree(st.name);
				memset(&st, 0, sizeof(st));
				st.name = MemoryContextStrdup(call_ctx, row.stream);
				merkle_frontier_init(&st.frontier);
				if (cp != NULL && (cps = checkpoint_find_stream(cp, row.stream)) != NULL)
				{
					st.cp = cps;
					cp_seen[cps - cp->streams] = true;
				}
			}

			stored_hash_ok = VARSIZE_ANY_EXHDR(row.hash) == SIGMAX_HASH_LEN;
			if (row.seq != st.last_seq + 1)
				report(rsinfo, row.stream, row.seq, true, "gap");
			else if (!ledger_hash_equals(row.prev_hash, st.last_hash))
				report(rsinfo, row.stream, row.seq, true, "broken link");
			if (!stored_hash_ok || !ledger_row_hash_ok(&row, &scratch))
				report(rsinfo, row.stream, row.seq, true, "hash mismatch");

			if (stored_hash_ok)
			{
				merkle_frontier_push(&st.frontier, (const uint8 *) VARDATA_ANY(row.hash));
				memcpy(st.last_hash, VARDATA_ANY(row.hash), SIGMAX_HASH_LEN);
			}
			else
				memset(st.last_hash, 0xff, SIGMAX_HASH_LEN);
			st.last_seq = row.seq;

			if (st.cp != NULL && row.seq == st.cp->seq)
			{
				uint8		root[SIGMAX_HASH_LEN];

				st.cp_matched = true;
				if (!ledger_hash_equals(row.hash, st.cp->head))
					report(rsinfo, row.stream, row.seq, true, "checkpoint: head mismatch");
				merkle_frontier_root(&st.frontier, root);
				if (st.frontier.size != st.cp->seq ||
					memcmp(root, st.cp->root, SIGMAX_HASH_LEN) != 0)
					report(rsinfo, row.stream, row.seq, true, "checkpoint: merkle root mismatch");
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(row_ctx);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	finish_stream(rsinfo, &st);
	SPI_cursor_close(portal);

	if (cp != NULL)
	{
		for (i = 0; i < cp->nstreams; i++)
			if (!cp_seen[i] && (only == NULL || strcmp(only, cp->streams[i].stream) == 0))
				report(rsinfo, cp->streams[i].stream, cp->streams[i].seq, true,
					   "checkpoint: stream missing");
	}

	SPI_finish();
	return (Datum) 0;
}
