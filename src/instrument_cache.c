/*
 * instrument_cache.c
 *	  Instruments and venue states for the order checks, cached per backend
 *	  and dropped when their tables change (a relcache invalidation at commit).
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "risk.h"
#include "row_lookup.h"
#include "sigmax.h"

/*
 * Both tables change rarely (an administrator sets an instrument; a venue
 * turns reducing after an error burst, active when it answers again) and are
 * read by every order, two index lookups of the six an order makes. Every
 * writer fires sigmax._cached_table_changed(), which queues a relcache
 * invalidation of the table: other backends drop their cache when it commits,
 * at their next lookup, which first accepts pending invalidations. An order
 * racing with such a commit sees the table as it was just before it, as if it
 * had been checked a moment earlier: PostgreSQL sends a commit's
 * invalidations a few microseconds after it makes the commit visible, so an
 * order whose snapshot already sees a new price may still see its venue
 * reducing (a cautious REDUCE_ONLY). Nothing an order itself changes is here.
 * The triggers fire ALWAYS, also under session_replication_role = replica
 * (logical replication, bulk loads); a write with them disabled is not seen
 * until the backends restart.
 */

/* Symbols are at most 21 bytes and venue names 32; longer keys are read, never cached. */
#define CACHE_KEY_LEN 64

/*
 * Venue names come from instruments and from record_price's callers, which
 * may name any venue: beyond this many a name is read, not cached.
 */
#define MAX_CACHED_VENUES 1024

typedef struct InstrumentEntry
{
	char		symbol[CACHE_KEY_LEN];
	SigmaxInstrument instrument;
} InstrumentEntry;

typedef struct VenueEntry
{
	char		exchange[CACHE_KEY_LEN];
	bool		reducing;
} VenueEntry;

typedef struct CachedTable
{
	const char *relname;
	Oid			relid;			/* resolved when the cache is built */
	bool		stale;			/* set by the invalidation callback */
	HTAB	   *entries;
	MemoryContext context;
} CachedTable;

static CachedTable instruments = {.relname = "instruments"};
static CachedTable venues = {.relname = "venue_state"};
static bool callback_registered = false;

/* Relcache callback: only marks a cache stale; it may run inside any catalog access. */
static void
cache_invalidate(Oid relid)
{
	if (relid == InvalidOid || relid == instruments.relid)
		instruments.stale = true;
	if (relid == InvalidOid || relid == venues.relid)
		venues.stale = true;
}

/* Drop a stale cache, then create it when missing. */
static void
prepare_table(CachedTable *t, Size entrysize)
{
	if (t->stale && t->entries != NULL)
	{
		MemoryContextReset(t->context);
		t->entries = NULL;
	}
	t->stale = false;
	if (t->entries == NULL)
	{
		HASHCTL		info;

		if (t->context == NULL)
		{
			t->context = AllocSetContextCreate(TopMemoryContext, "sigmax cached rows", ALLOCSET_SMALL_SIZES);
			MemoryContextSetIdentifier(t->context, t->relname);
		}
		t->relid = get_relname_relid(t->relname, get_namespace_oid("sigmax", false));
		memset(&info, 0, sizeof(info));
		info.keysize = CACHE_KEY_LEN;
		info.entrysize = entrysize;
		info.hcxt = t->context;
		t->entries = hash_create(t->relname, 64, &info, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
}

/* Accept what other backends committed, then ready both caches. */
static void
prepare_caches(void)
{
	if (!callback_registered)
	{
		sigmax_register_relcache_callback(cache_invalidate);
		callback_registered = true;
	}
	AcceptInvalidationMessages();
	prepare_table(&instruments, sizeof(InstrumentEntry));
	prepare_table(&venues, sizeof(VenueEntry));
}

/* A copy of an instrument in CurrentMemoryContext, safe from a later invalidation. */
static void
copy_instrument(const SigmaxInstrument *src, SigmaxInstrument *dst)
{
	Numeric    *const fields[] = {&dst->tick_size, &dst->lot_size, &dst->min_qty, &dst->max_qty,
	&dst->min_notional};

	*dst = *src;
	dst->exchange = pstrdup(src->exchange);
	num_copy_many(fields, lengthof(fields));
}

/* Read an instrument's row with the latest snapshot; false when there is none. */
static bool
read_instrument(const char *symbol, SigmaxInstrument *out)
{
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	Datum		key = CStringGetTextDatum(symbol);
	RowLookup	rl;
	bool		found;

	row_lookup_begin(&rl, "instruments", "instruments_pkey", snap, 1, &key);
	found = row_lookup_next(&rl);
	if (found)
	{
		out->exchange = row_lookup_cstring(&rl, row_lookup_attnum(&rl, "exchange"));
		out->tick_size = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "tick_size"));
		out->lot_size = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "lot_size"));
		out->min_qty = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "min_qty"));
		out->max_qty = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "max_qty"));
		out->min_notional = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "min_notional"));
		out->enabled = DatumGetBool(row_lookup_byval(&rl, row_lookup_attnum(&rl, "enabled"), BoolGetDatum(false)));
	}
	row_lookup_end(&rl);
	UnregisterSnapshot(snap);
	return found;
}

/*
 * The instrument of a symbol, copied into CurrentMemoryContext; false when
 * there is none. Unknown symbols are not cached: any text can be asked for.
 */
bool
sigmax_instrument(const char *symbol, SigmaxInstrument *out)
{
	InstrumentEntry *entry;
	bool		found;

	prepare_caches();
	if (strlen(symbol) >= CACHE_KEY_LEN)
		return read_instrument(symbol, out);
	entry = hash_search(instruments.entries, symbol, HASH_FIND, NULL);
	if (entry != NULL)
	{
		copy_instrument(&entry->instrument, out);
		return true;
	}
	if (!read_instrument(symbol, out))
		return false;

	/*
	 * Cache it only if no invalidation arrived while it was read. The copy is
	 * made before the entry, so that an error leaves no half-filled entry.
	 */
	if (!instruments.stale)
	{
		SigmaxInstrument cached;
		MemoryContext old = MemoryContextSwitchTo(instruments.context);

		copy_instrument(out, &cached);
		entry = hash_search(instruments.entries, symbol, HASH_ENTER, &found);
		entry->instrument = cached;
		MemoryContextSwitchTo(old);
	}
	return true;
}

/* Whether a venue is in the reducing state (no row: active); at most MAX_CACHED_VENUES names are cached. */
bool
sigmax_venue_reducing(const char *exchange)
{
	VenueEntry *entry;
	Snapshot	snap;
	Datum		key;
	RowLookup	rl;
	bool		reducing = false;
	bool		found;

	prepare_caches();
	if (strlen(exchange) < CACHE_KEY_LEN)
	{
		entry = hash_search(venues.entries, exchange, HASH_FIND, NULL);
		if (entry != NULL)
			return entry->reducing;
	}

	snap = RegisterSnapshot(GetLatestSnapshot());
	key = CStringGetTextDatum(exchange);
	row_lookup_begin(&rl, "venue_state", "venue_state_pkey", snap, 1, &key);
	if (row_lookup_next(&rl))
		reducing = row_lookup_text_eq(&rl, row_lookup_attnum(&rl, "state"), "reducing");
	row_lookup_end(&rl);
	UnregisterSnapshot(snap);

	if (!venues.stale && strlen(exchange) < CACHE_KEY_LEN &&
		hash_get_num_entries(venues.entries) < MAX_CACHED_VENUES)
	{
		entry = hash_search(venues.entries, exchange, HASH_ENTER, &found);
		entry->reducing = reducing;
	}
	return reducing;
}

PG_FUNCTION_INFO_V1(sigmax_cached_table_changed);

/* Trigger: every backend drops its cache of the table when this transaction commits. */
Datum
sigmax_cached_table_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("sigmax._cached_table_changed() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
