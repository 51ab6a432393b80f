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
#include "utils/snapmgr.h"

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
static bool limits_stale = false;
static Oid	risk_limits_relid = InvalidOid;
static SPIPlanPtr limits_plan = NULL;

/*
 * Invalidation callback: only marks the cache stale. It may run inside any
 * catalog or SPI access, so it must neither free what a caller may be using
 * nor look anything up.
 */
static void
limits_invalidate(Oid relid)
{
	if (relid == InvalidOid || relid == risk_limits_relid)
		limits_stale = true;
}

static Numeric
copy_numeric(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : DatumGetNumericCopy(d);
}

static int32
get_int_or(HeapTuple tup, TupleDesc desc, int col, int32 if_null)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? if_null : DatumGetInt32(d);
}

static int32
get_int(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

/* A copy of cached limits in the current memory context, safe from later invalidations. */
static AccountLimits *
copy_limits(const AccountLimits *src)
{
	AccountLimits *dst = palloc(sizeof(AccountLimits));

	*dst = *src;
	{
		Numeric    *const fields[] = {
			&dst->max_order_qty, &dst->max_order_notional, &dst->max_position_pct,
			&dst->max_exposure_pct, &dst->max_daily_loss_pct, &dst->price_collar_pct,
			&dst->approval_notional, &dst->slippage_bps, &dst->fee_bps, &dst->max_drawdown_pct,
			&dst->stop_loss_pct, &dst->slippage_factor_buy, &dst->slippage_factor_sell,
			&dst->fee_factor_buy,
		};

		num_copy_many(fields, lengthof(fields));
	}
	return dst;
}

/* Drop the cache if an invalidation marked it stale; create it when missing. */
static void
prepare_cache(void)
{
	if (!callback_registered)
	{
		sigmax_register_relcache_callback(limits_invalidate);
		callback_registered = true;
	}
	if (limits_stale && limits_cache != NULL)
	{
		hash_destroy(limits_cache);
		limits_cache = NULL;
		MemoryContextReset(limits_ctx);
	}
	limits_stale = false;
	if (limits_cache == NULL)
	{
		HASHCTL		info;

		if (limits_ctx == NULL)
			limits_ctx = AllocSetContextCreate(TopMemoryContext, "sigmax limits cache",
											   ALLOCSET_SMALL_SIZES);
		risk_limits_relid = get_relname_relid("risk_limits", get_namespace_oid("sigmax", false));
		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(int64);
		info.entrysize = sizeof(LimitsEntry);
		info.hcxt = limits_ctx;
		limits_cache = hash_create("sigmax limits", 64, &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
}

/*
 * The effective limits of an account (NULL when it does not exist), as a
 * copy in the caller's memory context. A miss reads them with the latest
 * snapshot, so a change committed before its invalidation was processed is
 * seen; what an invalidation during the read may have made stale is returned
 * but not cached. The caller is connected to SPI; the read runs as the
 * extension's owner, since check_order calls this with its caller's rights.
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
	AccountLimits fresh;
	AccountLimits *result;
	SigmaxOwnerScope scope;

	prepare_cache();
	entry = hash_search(limits_cache, &account_id, HASH_FIND, NULL);
	if (entry != NULL)
		return copy_limits(&entry->limits);

	sigmax_owner_scope_begin(&scope);
	{
		Oid			argtypes[1] = {INT8OID};

		sigmax_keep_plan(&limits_plan, "SELECT max_order_qty, max_order_notional, max_position_pct, "
						 "max_exposure_pct, max_open_orders, max_daily_loss_pct, "
						 "price_collar_pct, stale_price_ms, orders_per_minute, "
						 "approval_notional, slippage_bps, fee_bps, stop_cooldown_s, max_drawdown_pct, "
						 "stop_loss_pct, stop_trailing, max_loss_streak "
						 "FROM sigmax.limits WHERE account_id = $1", 1, argtypes);
	}
	if (SPI_execute_snapshot(limits_plan, &arg, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading limits failed");
	sigmax_owner_scope_end(&scope);
	if (SPI_processed == 0)
		return NULL;

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	fresh.account_id = account_id;
	fresh.max_order_qty = copy_numeric(tup, desc, 1);
	fresh.max_order_notional = copy_numeric(tup, desc, 2);
	fresh.max_position_pct = copy_numeric(tup, desc, 3);
	fresh.max_exposure_pct = copy_numeric(tup, desc, 4);
	fresh.max_open_orders = get_int(tup, desc, 5);
	fresh.max_daily_loss_pct = copy_numeric(tup, desc, 6);
	fresh.price_collar_pct = copy_numeric(tup, desc, 7);
	fresh.stale_price_ms = get_int(tup, desc, 8);
	fresh.orders_per_minute = get_int(tup, desc, 9);
	fresh.approval_notional = copy_numeric(tup, desc, 10);
	fresh.slippage_bps = copy_numeric(tup, desc, 11);
	fresh.fee_bps = copy_numeric(tup, desc, 12);
	fresh.stop_cooldown_s = get_int(tup, desc, 13);
	fresh.max_drawdown_pct = copy_numeric(tup, desc, 14);
	fresh.stop_loss_pct = copy_numeric(tup, desc, 15);
	fresh.stop_trailing = get_int(tup, desc, 16);
	fresh.max_loss_streak = get_int_or(tup, desc, 17, -1);
	fresh.slippage_factor_buy = num_bps_factor(fresh.slippage_bps, true);
	fresh.slippage_factor_sell = num_bps_factor(fresh.slippage_bps, false);
	fresh.fee_factor_buy = num_bps_factor(fresh.fee_bps, true);
	SPI_freetuptable(SPI_tuptable);
	result = copy_limits(&fresh);

	/* Cache them only if no invalidation arrived while they were read. */
	if (!limits_stale)
	{
		old = MemoryContextSwitchTo(limits_ctx);
		entry = hash_search(limits_cache, &account_id, HASH_ENTER, &found);
		entry->limits = *copy_limits(&fresh);
		MemoryContextSwitchTo(old);
	}
	return result;
}

PG_FUNCTION_INFO_V1(sigmax_limits_changed);

/*
 * SQL sigmax._limits_changed() of version 1.0.0: drop every backend's cache at
 * commit. The update to 1.1.0 drops the function (a trigger on
 * sigmax.risk_limits does this now); the symbol stays for the 1.0.0 script.
 */
Datum
sigmax_limits_changed(PG_FUNCTION_ARGS)
{
	Oid			relid = get_relname_relid("risk_limits", get_namespace_oid("sigmax", false));

	CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_VOID();
}
