/*
 * sigmax.c
 *	  Library entry point: settings, hooks that need preloading, and version.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/xlog.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "storage/proc.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/varlena.h"

#include "poller.h"
#include "risk.h"
#include "sigmax.h"

PG_MODULE_MAGIC;

/* True when the library was loaded through shared_preload_libraries. */
bool		sigmax_preloaded = false;

void		_PG_init(void);

/*
 * Load-time initialisation. Settings are defined whether or not the library
 * is preloaded; what needs the postmaster (shared memory, the worker) is set
 * up only when it is.
 */
void
_PG_init(void)
{
	sigmax_define_gucs();
	sigmax_api_surface_install_hooks();

	if (process_shared_preload_libraries_in_progress)
	{
		sigmax_preloaded = true;
		sigmax_shmem_install_hooks();
		sigmax_worker_register();
	}
}

/*
 * Refuse a feature that needs shared memory or the worker when the library
 * was loaded only by CREATE EXTENSION or a function call.
 */
void
sigmax_require_preload(const char *feature)
{
	if (!sigmax_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s requires sigmax to be loaded via shared_preload_libraries", feature),
				 errdetail("The sigmax library was loaded into this session only, without its shared memory."),
				 errhint("Add sigmax to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * Refuse a write on a standby, or in a read-only transaction, with sigmax's
 * own message and before any side effect: a streaming replica reads and
 * verifies; orders, ledger entries and checkpoints go to the primary.
 */
void
sigmax_require_primary(const char *action)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s on a standby", action),
				 errdetail("This server is a streaming replica in recovery: it serves reads, sigmax.status and sigmax.audit_verify, not writes."),
				 errhint("Connect to the primary.")));
	/* before any side effect (a rate token, a shared-memory counter) */
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s in a read-only transaction", action),
				 errhint("Run it in a read-write transaction (this one began READ ONLY, or before a promotion).")));
}

/* The transaction in which the SQL version was last found to match, and the extension's owner then. */
static LocalTransactionId version_checked_lxid = InvalidLocalTransactionId;
static Oid	extension_owner = InvalidOid;

/* The version in sigmax's row of pg_extension with that OID, and its owner; NULL when there is none. */
static char *
extension_row_version(Oid extoid, Oid *owner)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *installed = NULL;

	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup) &&
		strcmp(NameStr(((Form_pg_extension) GETSTRUCT(tup))->extname), "sigmax") == 0)
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);

		installed = isnull ? pstrdup("") : TextDatumGetCString(d);
		*owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return installed;
}

/*
 * Refuse to run against SQL objects of another version than the library's
 * (after installing a new library without ALTER EXTENSION UPDATE, or the
 * reverse): their tables and functions may not be what this code expects.
 * Checked once per transaction.
 */
void
sigmax_check_sql_version(void)
{
	/* sigmax's row in pg_extension, looked up by name once: a second catalog scan per transaction */
	static Oid	known_extoid = InvalidOid;
	char	   *installed = NULL;
	Oid			owner = InvalidOid;

	if (MyProc != NULL && MyProc->lxid == version_checked_lxid)
		return;
	if (OidIsValid(known_extoid))
		installed = extension_row_version(known_extoid, &owner);
	if (installed == NULL)
	{
		/* first call, or the extension was dropped (and perhaps created again) */
		known_extoid = get_extension_oid("sigmax", true);
		if (OidIsValid(known_extoid))
			installed = extension_row_version(known_extoid, &owner);
	}
	if (installed == NULL)
	{
		known_extoid = InvalidOid;
		extension_owner = InvalidOid;	/* dropped: no owner to act as */
		return;
	}

	if (strcmp(installed, SIGMAX_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the sigmax library is version %s but this database's sigmax objects are version %s",
						SIGMAX_VERSION, installed),
				 errdetail("The library refuses to act on objects of another version."),
				 errhint("Run ALTER EXTENSION sigmax UPDATE, or install the library of version %s.", installed)));
	extension_owner = owner;
	if (MyProc != NULL)
		version_checked_lxid = MyProc->lxid;
}

/*
 * Run what follows as the extension's owner with search_path pinned, as the
 * SECURITY DEFINER functions run: for the reads through SPI (cache misses) of
 * sigmax.check_order, which runs with its caller's rights because its common
 * path reads only through indexes (docs/risk-checks.md). An error before
 * sigmax_owner_scope_end is undone by the (sub)transaction's abort, as for
 * a SECURITY DEFINER function.
 */
void
sigmax_owner_scope_begin(SigmaxOwnerScope *scope)
{
	if (MyProc == NULL || MyProc->lxid != version_checked_lxid)
		sigmax_check_sql_version();
	if (!OidIsValid(extension_owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"sigmax\" is not installed in this database")));
	GetUserIdAndSecContext(&scope->saved_user, &scope->saved_security_context);
	SetUserIdAndSecContext(extension_owner, scope->saved_security_context | SECURITY_LOCAL_USERID_CHANGE);
	scope->guc_nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", SIGMAX_PINNED_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/* Back to the caller's rights and search_path. */
void
sigmax_owner_scope_end(SigmaxOwnerScope *scope)
{
	AtEOXact_GUC(true, scope->guc_nest_level);
	SetUserIdAndSecContext(scope->saved_user, scope->saved_security_context);
}

PG_FUNCTION_INFO_V1(sigmax_version);

/* The version of the loaded library, which the SQL objects must match. */
Datum
sigmax_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(SIGMAX_VERSION));
}

/*
 * sigmax's per-backend caches (row_lookup.c, limits.c, instrument_cache.c)
 * share one relcache callback: PostgreSQL has room for ten in a process, and
 * running out is FATAL.
 */
#define MAX_SIGMAX_RELCACHE_CALLBACKS 4

static SigmaxRelcacheCallback relcache_callbacks[MAX_SIGMAX_RELCACHE_CALLBACKS];
static int	n_relcache_callbacks = 0;

/* The one relcache callback: hands the invalidated relation (InvalidOid: all) to each cache. */
static void
sigmax_relcache_invalidate(Datum arg, Oid relid)
{
	for (int i = 0; i < n_relcache_callbacks; i++)
		relcache_callbacks[i] (relid);
}

/* Have a cache told of every relcache invalidation; each cache registers once. */
void
sigmax_register_relcache_callback(SigmaxRelcacheCallback callback)
{
	if (n_relcache_callbacks == MAX_SIGMAX_RELCACHE_CALLBACKS)
		elog(ERROR, "sigmax: too many relcache callbacks");
	if (n_relcache_callbacks == 0)
		CacheRegisterRelcacheCallback(sigmax_relcache_invalidate, (Datum) 0);
	relcache_callbacks[n_relcache_callbacks++] = callback;
}

/*
 * Every statement sigmax runs through SPI runs with search_path pinned to
 * pg_catalog, pg_temp: by a SECURITY DEFINER function's SET clause, the owner
 * scope or the worker. The statements name sigmax's tables with their schema
 * but resolve operators (=, <) through search_path, and a plan is analysed
 * again under the search_path of its execution; a code path that would run
 * one under a caller's search_path (check_order runs with its caller's
 * rights) is a bug, refused here before the statement runs.
 */
void
sigmax_require_pinned_search_path(void)
{
	char	   *copy;
	List	   *names;
	bool		pinned;

	if (namespace_search_path != NULL && strcmp(namespace_search_path, SIGMAX_PINNED_SEARCH_PATH) == 0)
		return;
	/* the same list written otherwise (quoted, other spaces) */
	copy = pstrdup(namespace_search_path ? namespace_search_path : "");
	pinned = SplitIdentifierString(copy, ',', &names) && list_length(names) == 2 &&
		strcmp((char *) linitial(names), "pg_catalog") == 0 &&
		strcmp((char *) lsecond(names), "pg_temp") == 0;
	list_free(names);
	pfree(copy);
	if (!pinned)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("sigmax: an internal statement would run outside the pinned search_path"),
				 errdetail_internal("search_path is \"%s\".", namespace_search_path ? namespace_search_path : "")));
}

/*
 * Prepare a query once per backend and keep its plan (SPI_keepplan); the
 * caller is connected to SPI and runs the plan next, under the pinned
 * search_path (checked here, at every use).
 */
SPIPlanPtr
sigmax_keep_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
	sigmax_require_pinned_search_path();
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL)
			elog(ERROR, "sigmax: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		*slot = plan;
	}
	return *slot;
}
