/*
 * row_lookup.c
 *	  Reads of sigmax's own tables through one of their btree indexes, with no
 *	  planner or executor: the order path's hot reads (docs/risk-checks.md).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "nodes/lockoptions.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "row_lookup.h"
#include "sigmax.h"

/*
 * Relation OIDs by name, resolved once and forgotten on any relcache
 * invalidation of one of them (DROP EXTENSION, ALTER, a restore) or of all.
 */
#define MAX_CACHED_COLUMNS 16

typedef struct NamedRelation
{
	const char *name;
	Oid			relid;
	int			ncolumns;		/* column numbers found so far, by name */
	const char *columns[MAX_CACHED_COLUMNS];
	AttrNumber	attnums[MAX_CACHED_COLUMNS];
	/* the (sub)transaction that holds AccessShareLock on it, taken by a lookup */
	LocalTransactionId locked_lxid;
	SubTransactionId locked_subxid;
} NamedRelation;

#define MAX_NAMED_RELATIONS 32
static NamedRelation named_relations[MAX_NAMED_RELATIONS];
static int	n_named_relations = 0;
static bool lookup_callback_registered = false;

/* Relcache invalidation callback: forget every resolved OID, look nothing up. */
static void
row_lookup_invalidate(Oid relid)
{
	for (int i = 0; i < n_named_relations; i++)
		if (relid == InvalidOid || named_relations[i].relid == relid)
		{
			named_relations[i].relid = InvalidOid;
			named_relations[i].ncolumns = 0;
			named_relations[i].locked_lxid = InvalidLocalTransactionId;
		}
}

/* The entry of sigmax.<name>, its OID resolved; an error when the extension's object is missing. */
static int
named_relation(const char *name)
{
	int			i;
	Oid			nsp;

	if (!lookup_callback_registered)
	{
		sigmax_register_relcache_callback(row_lookup_invalidate);
		lookup_callback_registered = true;
	}
	/* Callers pass string literals: compare addresses first, names only when that fails. */
	for (i = 0; i < n_named_relations; i++)
		if (named_relations[i].name == name)
			break;
	if (i == n_named_relations)
		for (i = 0; i < n_named_relations; i++)
			if (strcmp(named_relations[i].name, name) == 0)
				break;
	if (i < n_named_relations && OidIsValid(named_relations[i].relid))
		return i;

	nsp = get_namespace_oid("sigmax", false);
	if (i == n_named_relations)
	{
		if (n_named_relations == MAX_NAMED_RELATIONS)
			elog(ERROR, "sigmax: too many relations for row lookups");
		named_relations[i].name = name;
		named_relations[i].ncolumns = 0;
		n_named_relations++;
	}
	named_relations[i].relid = get_relname_relid(name, nsp);
	named_relations[i].locked_lxid = InvalidLocalTransactionId;
	if (!OidIsValid(named_relations[i].relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("sigmax is not installed correctly"),
				 errdetail("The relation sigmax.%s is missing.", name),
				 errhint("Reinstall the extension with DROP EXTENSION and CREATE EXTENSION.")));
	return i;
}

/*
 * Column number of a named column of the scanned relation, remembered by the
 * address of the caller's name (a literal) until the relation is invalidated.
 */
AttrNumber
row_lookup_attnum(const RowLookup *rl, const char *column)
{
	NamedRelation *nr = &named_relations[rl->named];
	TupleDesc	desc = RelationGetDescr(rl->heap);

	for (int i = 0; i < nr->ncolumns; i++)
		if (nr->columns[i] == column)
			return nr->attnums[i];
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0)
		{
			if (nr->ncolumns < MAX_CACHED_COLUMNS)
			{
				nr->columns[nr->ncolumns] = column;
				nr->attnums[nr->ncolumns] = att->attnum;
				nr->ncolumns++;
			}
			return att->attnum;
		}
	}
	elog(ERROR, "sigmax: column %s of %s is missing", column, RelationGetRelationName(rl->heap));
	return InvalidAttrNumber;	/* keep the compiler quiet */
}

/*
 * Open a named relation with AccessShareLock, kept to the end of the
 * transaction. A relation this subtransaction has locked already is opened
 * without asking the lock manager again (a tenth of an order check's cost);
 * a lock taken in a subtransaction that has since ended, committed or not,
 * is asked for again.
 */
static Relation
open_named(int named, bool is_index)
{
	NamedRelation *nr = &named_relations[named];
	bool		held = MyProc != NULL && LocalTransactionIdIsValid(MyProc->lxid) &&
		nr->locked_lxid == MyProc->lxid &&
		nr->locked_subxid == GetCurrentSubTransactionId();
	Relation	rel = is_index ? index_open(nr->relid, held ? NoLock : AccessShareLock)
		: table_open(nr->relid, held ? NoLock : AccessShareLock);

	/* the lock may have processed an invalidation that forgot the relation's entry */
	if (!held && MyProc != NULL && LocalTransactionIdIsValid(MyProc->lxid) && OidIsValid(nr->relid))
	{
		nr->locked_lxid = MyProc->lxid;
		nr->locked_subxid = GetCurrentSubTransactionId();
	}
	return rel;
}

/*
 * Start an equality scan of sigmax.<relname> through sigmax.<indexname> on
 * its first nkeys columns, with the given snapshot. Keys are int8 or text;
 * text keys compare under the index column's collation, as the index sorts.
 */
void
row_lookup_begin(RowLookup *rl, const char *relname, const char *indexname,
				 Snapshot snapshot, int nkeys, const Datum *keys)
{
	ScanKeyData scankeys[ROW_LOOKUP_MAX_KEYS];

	Assert(nkeys >= 1 && nkeys <= ROW_LOOKUP_MAX_KEYS);
	rl->named = named_relation(relname);
	rl->heap = open_named(rl->named, false);
	rl->index = open_named(named_relation(indexname), true);
	for (int i = 0; i < nkeys; i++)
	{
		Oid			keytype = TupleDescAttr(RelationGetDescr(rl->index), i)->atttypid;
		RegProcedure eqproc;

		if (keytype == INT8OID)
			eqproc = F_INT8EQ;
		else if (keytype == TEXTOID)
			eqproc = F_TEXTEQ;
		else
			elog(ERROR, "sigmax: index %s has a key of unsupported type %u", indexname, keytype);
		ScanKeyEntryInitialize(&scankeys[i], 0, i + 1, BTEqualStrategyNumber, InvalidOid,
							   rl->index->rd_indcollation[i], eqproc, keys[i]);
	}
	rl->slot = table_slot_create(rl->heap, NULL);
	rl->registered = NULL;
	rl->scan = index_beginscan(rl->heap, rl->index, snapshot, nkeys, 0);
	index_rescan(rl->scan, scankeys, nkeys, NULL, 0);
}

/* The next visible row, in the slot; false when there is none. */
bool
row_lookup_next(RowLookup *rl)
{
	return index_getnext_slot(rl->scan, ForwardScanDirection, rl->slot);
}

/* A copy of a numeric column of the current row in CurrentMemoryContext; NULL for SQL NULL. */
Numeric
row_lookup_numeric(RowLookup *rl, AttrNumber attnum)
{
	bool		isnull;
	Datum		d = slot_getattr(rl->slot, attnum, &isnull);

	return isnull ? NULL : DatumGetNumericCopy(d);
}

/* A column of the current row that is passed by value (bool, int, timestamps), or the default when NULL. */
Datum
row_lookup_byval(RowLookup *rl, AttrNumber attnum, Datum if_null)
{
	bool		isnull;
	Datum		d = slot_getattr(rl->slot, attnum, &isnull);

	return isnull ? if_null : d;
}

/* True when a column of the current row is SQL NULL. */
bool
row_lookup_isnull(RowLookup *rl, AttrNumber attnum)
{
	bool		isnull;

	(void) slot_getattr(rl->slot, attnum, &isnull);
	return isnull;
}

/* A palloc'd C string of a text column of the current row; NULL for SQL NULL. */
char *
row_lookup_cstring(RowLookup *rl, AttrNumber attnum)
{
	bool		isnull;
	Datum		d = slot_getattr(rl->slot, attnum, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* True when a text column of the current row equals s (byte-wise, as the checks' constants are ASCII). */
bool
row_lookup_text_eq(RowLookup *rl, AttrNumber attnum, const char *s)
{
	bool		isnull;
	Datum		d = slot_getattr(rl->slot, attnum, &isnull);
	text	   *t;
	size_t		len = strlen(s);
	bool		eq;

	if (isnull)
		return false;
	t = DatumGetTextPP(d);
	eq = VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
	if ((Pointer) t != DatumGetPointer(d))
		pfree(t);
	return eq;
}

/*
 * Lock the row of sigmax.<relname> whose <indexname> key is keys, as
 * SELECT ... FOR <mode> would, without the planner, executor or SPI: wait for
 * a concurrent writer; under READ COMMITTED lock the row's latest version,
 * under REPEATABLE READ or SERIALIZABLE fail with 40001 when it changed after
 * the transaction's snapshot. True with the locked version in rl->slot, for
 * the row_lookup_* readers; false when there is no such row. Either way the
 * caller ends with row_lookup_end.
 */
bool
row_lookup_lock(RowLookup *rl, const char *relname, const char *indexname, int nkeys,
				const Datum *keys, LockTupleMode mode)
{
	bool		xact_snapshot = IsolationUsesXactSnapshot();
	Snapshot	snap;
	TupleTableSlot *lock_slot;
	ItemPointerData tid;
	TM_FailureData tmfd;
	TM_Result	result;

	/*
	 * As an SPI statement would, see what the statements before this one
	 * wrote (nothing happens when none did); then take the table lock of a
	 * row-locking SELECT, which EXCLUSIVE mode waits for.
	 */
	CommandCounterIncrement();
	LockRelationOid(named_relations[named_relation(relname)].relid, RowShareLock);
	snap = RegisterSnapshot(xact_snapshot ? GetTransactionSnapshot() : GetLatestSnapshot());
	row_lookup_begin(rl, relname, indexname, snap, nkeys, keys);
	rl->registered = snap;
	if (!row_lookup_next(rl))
		return false;

	tid = rl->slot->tts_tid;	/* table_tuple_lock moves it along an update chain */
	lock_slot = table_slot_create(rl->heap, NULL);
	result = table_tuple_lock(rl->heap, &tid, snap, lock_slot, GetCurrentCommandId(true),
							  mode, LockWaitBlock,
							  TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS |
							  (xact_snapshot ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION),
							  &tmfd);
	/* from here the slot is the locked version (or the one that could not be) */
	ExecDropSingleTupleTableSlot(rl->slot);
	rl->slot = lock_slot;
	/*
	 * Under READ COMMITTED the lock follows updates to the latest version; a
	 * row's key is never updated by sigmax, so that version is still the
	 * row asked for (the executor would check it again with EvalPlanQual).
	 */
	switch (result)
	{
		case TM_Ok:
			return true;
		case TM_Updated:
			if (xact_snapshot)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update")));
			break;				/* cannot happen when following updates */
		case TM_Deleted:
			if (xact_snapshot)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent delete")));
			return false;
		default:
			/* TM_SelfModified: not after CommandCounterIncrement */
			break;
	}
	elog(ERROR, "sigmax: unexpected result %d locking a row of %s", (int) result, relname);
	return false;				/* keep the compiler quiet */
}

/* End the scan and close the relations; their locks are kept to the end of the transaction. */
void
row_lookup_end(RowLookup *rl)
{
	index_endscan(rl->scan);
	ExecDropSingleTupleTableSlot(rl->slot);
	index_close(rl->index, NoLock);
	table_close(rl->heap, NoLock);
	if (rl->registered != NULL)
		UnregisterSnapshot(rl->registered);
}
