/*
 * limits.c
 *	  Each account's effective risk limits, cached per backend and dropped
 *	  when sigmax.risk_limits changes (a relcache invalidation at commit).
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "risk.h"
#include "sigmax.h"

typedef struct LimitsEntry
{
	int64		account_id;
	AccountLimits limits;
} LimitsEntry;

static HTAB *limits_cache = NULL;
static MemoryContext limits_ctx = NULL;
static bool callback_registered = false;
static SPIPlanPtr limits_plan = NULL;

/* Any change to sigmax.risk_limits (or a full reset) empties the cache. */
static void
limits_invalidate(Datum arg, Oid relid)
{
	if (limits_cache == NULL)
		return;
	if (relid == InvalidOid || relid == get_relname_relid("risk_limits", get_namespace_oid("sigmax", true)))
	{
		hash_destroy(limits_cache);
		limits_cache = NULL;
		MemoryContextReset(limits_ctx);
	}
}

static Numeric
copy_numeric(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : DatumGetNumericCopy(d);
}

static int32
get_int(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

/*
 * The effective limits of an account (NULL when it does not exist). The
 * caller is connected to SPI.
 */
AccountLimits *
sigmax_account_limits(int64 account_id)
{
	LimitsEntry *entry;
	bool		found;
	Datum		arg = Int64GetDatum(account_id);
	HeapTuple	tup;
	TupleDesc	desc;
	MemoryContext old;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(limits_invalidate, (Datum) 0);
		callback_registered = true;
	}
	if (limits_cache == NULL)
	{
		HASHCTL		info;

		if (limits_ctx == NULL)
			limits_ctx = AllocSetContextCreate(TopMemoryContext, "sigmax limits cache",
											   ALLOCSET_SMALL_SIZES);
		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(int64);
		info.entrysize = sizeof(LimitsEntry);
		info.hcxt = limits_ctx;
		limits_cache = hash_create("sigmax limits", 64, &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	entry = hash_search(limits_cache, &account_id, HASH_FIND, NULL);
	if (entry != NULL)
		return &entry->limits;

	if (limits_plan == NULL)
	{
		Oid			argtypes[1] = {INT8OID};
		SPIPlanPtr	plan = SPI_prepare("SELECT max_order_qty, max_order_notional, max_position_pct, "
									   "max_exposure_pct, max_open_orders, max_daily_loss_pct, "
									   "price_collar_pct, stale_price_ms, orders_per_minute, "
									   "approval_notional, slippage_bps, fee_bps "
									   "FROM sigmax.limits WHERE account_id = $1", 1, argtypes);

		if (plan == NULL)
			elog(ERROR, "sigmax: SPI_prepare failed for limits: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		limits_plan = plan;
	}
	if (SPI_execute_plan(limits_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading limits failed");
	if (SPI_processed == 0)
		return NULL;

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	old = MemoryContextSwitchTo(limits_ctx);
	entry = hash_search(limits_cache, &account_id, HASH_ENTER, &found);
	entry->limits.account_id = account_id;
	entry->limits.max_order_qty = copy_numeric(tup, desc, 1);
	entry->limits.max_order_notional = copy_numeric(tup, desc, 2);
	entry->limits.max_position_pct = copy_numeric(tup, desc, 3);
	entry->limits.max_exposure_pct = copy_numeric(tup, desc, 4);
	entry->limits.max_open_orders = get_int(tup, desc, 5);
	entry->limits.max_daily_loss_pct = copy_numeric(tup, desc, 6);
	entry->limits.price_collar_pct = copy_numeric(tup, desc, 7);
	entry->limits.stale_price_ms = get_int(tup, desc, 8);
	entry->limits.orders_per_minute = get_int(tup, desc, 9);
	entry->limits.approval_notional = copy_numeric(tup, desc, 10);
	entry->limits.slippage_bps = copy_numeric(tup, desc, 11);
	entry->limits.fee_bps = copy_numeric(tup, desc, 12);
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
	return &entry->limits;
}

PG_FUNCTION_INFO_V1(sigmax_limits_changed);

/* SQL: after a write to sigmax.risk_limits, drop every backend's cache at commit. */
Datum
sigmax_limits_changed(PG_FUNCTION_ARGS)
{
	Oid			relid = get_relname_relid("risk_limits", get_namespace_oid("sigmax", false));

	CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_VOID();
}
