/*
 * shmem.c
 *	  Shared memory: the database-wide trading state, per-account rate limiters
 *	  and verdict counters, all of which the order checks read without a table scan.
 */
#include "postgres.h"

#include <time.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "lib/stringinfo.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
#include "utils/timestamp.h"
#include "storage/sinvaladt.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/resowner.h"
#include "utils/guc.h"

#include "poller.h"
#include "risk.h"
#include "sigmax.h"

/* Databases with sigmax whose state one cluster can hold. */
#define SIGMAX_MAX_DATABASES 32

/* Lock-space value (locktag field4) of the trading-state lock; see audit.c. */
#define SIGMAX_LOCKTAG_STATE 0x5360

const char *const sigmax_reason_codes[REASON_COUNT] = {
	"",
	"UNKNOWN_INSTRUMENT",
	"LOT_SIZE",
	"TICK_SIZE",
	"MIN_NOTIONAL",
	"RATE_LIMIT",
	"TRADING_PAUSED",
	"TRADING_HALTED",
	"REDUCE_ONLY",
	"COOLDOWN",
	"DUPLICATE_ORDER",
	"STALE_PRICE",
	"PRICE_COLLAR",
	"MAX_ORDER_QTY",
	"MAX_ORDER_NOTIONAL",
	"POSITION_LIMIT",
	"EXPOSURE_LIMIT",
	"OPEN_ORDERS_LIMIT",
	"DAILY_LOSS_LIMIT",
	"INSUFFICIENT_BALANCE",
};

typedef struct DatabaseState
{
	Oid			dboid;			/* InvalidOid: free slot */
	bool		loaded;			/* state read from sigmax.global_state */
	int			state;			/* SigmaxState */
} DatabaseState;

typedef struct RateBucketKey
{
	Oid			dboid;
	int64		account_id;
} RateBucketKey;

typedef struct RateBucket
{
	RateBucketKey key;
	slock_t		mutex;
	double		tokens;
	int64		refilled_ns;	/* CLOCK_MONOTONIC */
	pg_atomic_uint64 rejections;
} RateBucket;

typedef struct SigmaxShared
{
	LWLock	   *lock;			/* database slots and the bucket table */
	DatabaseState databases[SIGMAX_MAX_DATABASES];
	pg_atomic_uint64 checked;
	pg_atomic_uint64 dry_runs;
	pg_atomic_uint64 verdicts[REASON_COUNT];	/* [0]: accepted */
	pg_atomic_uint64 rate_rejections;
	pg_atomic_uint64 latency_buckets[SIGMAX_LATENCY_BUCKETS];	/* checks by upper bound */
	pg_atomic_uint64 latency_sum_us;
} SigmaxShared;

static SigmaxShared *shared = NULL;
static HTAB *rate_buckets = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * State changes waiting for their transaction to commit, innermost last, each
 * tagged with the subtransaction that made it: rolling back to a savepoint
 * drops only what came after it.
 */
#define MAX_PENDING_STATES 64
typedef struct PendingState
{
	SigmaxState state;
	SubTransactionId subid;
} PendingState;

static PendingState pending[MAX_PENDING_STATES];
static int	npending = 0;
static bool xact_callbacks_registered = false;

static Size
shared_size(void)
{
	return add_size(add_size(MAXALIGN(sizeof(SigmaxShared)),
							 hash_estimate_size(sigmax_max_rate_buckets, sizeof(RateBucket))),
					add_size(add_size(sigmax_worker_shmem_size(), sigmax_auth_shmem_size()),
							 sigmax_api_limits_shmem_size()));
}

static void
sigmax_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
	RequestNamedLWLockTranche("sigmax", 1);
	RequestNamedLWLockTranche("sigmax_worker", 1);
	RequestNamedLWLockTranche("sigmax_auth", 1);
	RequestNamedLWLockTranche("sigmax_api_limits", 1);
}

static void
sigmax_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("sigmax", sizeof(SigmaxShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(SigmaxShared));
		shared->lock = &(GetNamedLWLockTranche("sigmax"))->lock;
		pg_atomic_init_u64(&shared->checked, 0);
		pg_atomic_init_u64(&shared->dry_runs, 0);
		pg_atomic_init_u64(&shared->rate_rejections, 0);
		for (i = 0; i < REASON_COUNT; i++)
			pg_atomic_init_u64(&shared->verdicts[i], 0);
		for (i = 0; i < SIGMAX_LATENCY_BUCKETS; i++)
			pg_atomic_init_u64(&shared->latency_buckets[i], 0);
		pg_atomic_init_u64(&shared->latency_sum_us, 0);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(RateBucketKey);
	info.entrysize = sizeof(RateBucket);
	rate_buckets = ShmemInitHash("sigmax rate buckets", sigmax_max_rate_buckets,
								 sigmax_max_rate_buckets, &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	sigmax_worker_shmem_init();
	sigmax_auth_shmem_init();
	sigmax_api_limits_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init while preloading. */
void
sigmax_shmem_install_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = sigmax_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = sigmax_shmem_startup;
}

SigmaxState
sigmax_state_from_text(const char *state)
{
	if (strcmp(state, "active") == 0)
		return STATE_ACTIVE;
	if (strcmp(state, "reducing") == 0)
		return STATE_REDUCING;
	if (strcmp(state, "paused") == 0)
		return STATE_PAUSED;
	if (strcmp(state, "halted") == 0)
		return STATE_HALTED;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown trading state"),
			 errhint("Trading states are active, reducing, paused and halted.")));
	return STATE_HALTED;		/* not reached */
}

const char *
sigmax_state_text(SigmaxState state)
{
	static const char *const names[] = {"active", "reducing", "paused", "halted"};

	return names[state];
}

/* This database's slot, allocated on first use; the caller holds shared->lock exclusively. */
static DatabaseState *
database_slot(void)
{
	int			i;
	DatabaseState *free_slot = NULL;

	for (i = 0; i < SIGMAX_MAX_DATABASES; i++)
	{
		if (shared->databases[i].dboid == MyDatabaseId)
			return &shared->databases[i];
		if (shared->databases[i].dboid == InvalidOid && free_slot == NULL)
			free_slot = &shared->databases[i];
	}
	if (free_slot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("sigmax serves at most %d databases in one cluster", SIGMAX_MAX_DATABASES)));
	free_slot->dboid = MyDatabaseId;
	free_slot->loaded = false;
	free_slot->state = STATE_HALTED;
	return free_slot;
}

/* The durable state, from sigmax.global_state (no row: active). */
static SigmaxState
load_global_state(void)
{
	SigmaxState state = STATE_ACTIVE;
	int			rc;
	SigmaxOwnerScope scope;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	sigmax_owner_scope_begin(&scope);
	rc = SPI_execute("SELECT state FROM sigmax.global_state", true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading sigmax.global_state failed");
	if (SPI_processed == 1)
	{
		char	   *text = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		state = sigmax_state_from_text(text);
	}
	sigmax_owner_scope_end(&scope);
	SPI_finish();
	return state;
}

static void
state_lock(LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, 0, SIGMAX_LOCKTAG_STATE);
	(void) LockAcquire(&tag, mode, false, false);
}

/*
 * The database-wide trading state. An order takes the state lock in share
 * mode until its transaction ends, so a state change (which takes it
 * exclusively and publishes at commit, before its locks are released) waits
 * for orders in flight, and no order can pass on a stale state.
 */
SigmaxState
sigmax_global_state(bool lock_for_order)
{
	DatabaseState *slot;
	SigmaxState state;
	bool		loaded;

	sigmax_require_preload("trading state");

	/*
	 * A standby replays the primary's state changes into the table without
	 * running any commit callback here: read the table, cache nothing (a
	 * promoted node then loads the replayed truth on first use).
	 */
	if (RecoveryInProgress())
		return load_global_state();
	if (lock_for_order)
		state_lock(ShareLock);

	LWLockAcquire(shared->lock, LW_SHARED);
	loaded = false;
	state = STATE_HALTED;
	{
		int			i;

		for (i = 0; i < SIGMAX_MAX_DATABASES; i++)
			if (shared->databases[i].dboid == MyDatabaseId && shared->databases[i].loaded)
			{
				loaded = true;
				state = shared->databases[i].state;
			}
	}
	LWLockRelease(shared->lock);
	if (loaded)
		return state;

	/* First use since startup: the table is the truth. */
	state = load_global_state();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	slot = database_slot();
	if (!slot->loaded)
	{
		slot->state = state;
		slot->loaded = true;
	}
	state = slot->state;
	LWLockRelease(shared->lock);
	return state;
}

/* Terminate the sessions that still hold the state lock (orders left open), with a WARNING naming them. */
static void
terminate_state_lock_holders(const LOCKTAG *tag)
{
	int			count = 0;
	VirtualTransactionId *holders = GetLockConflicts(tag, ExclusiveLock, &count);
	StringInfoData pids;
	int			i;

	initStringInfo(&pids);
	for (i = 0; i < count && VirtualTransactionIdIsValid(holders[i]); i++)
	{
		PGPROC	   *proc = BackendIdGetProc(holders[i].backendId);

		if (proc == NULL || proc->pid == 0 || proc->pid == MyProcPid)
			continue;
		if (DatumGetBool(DirectFunctionCall2(pg_terminate_backend, Int32GetDatum(proc->pid), Int64GetDatum(0))))
			appendStringInfo(&pids, "%s%d", pids.len > 0 ? ", " : "", proc->pid);
	}
	if (pids.len > 0)
		ereport(WARNING,
				(errmsg("terminated sessions holding an order open: %s", pids.data),
				 errdetail("They held their transactions open past sigmax.state_change_grace (%d ms); their orders roll back.",
						   sigmax_state_change_grace_ms)));
}

/*
 * Take the state lock exclusively: orders in flight finish first. An order
 * holds the lock until its transaction ends, so a client that leaves one open
 * (idle in transaction) would hold off the kill switch for ever: after
 * sigmax.state_change_grace the sessions still holding it are terminated, so
 * that their orders never commit, and the change goes through.
 */
void
sigmax_global_state_lock_exclusive(void)
{
	LOCKTAG		tag;
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool acquired = false;
	char		timeout[32];

	sigmax_require_preload("trading state");
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, 0, SIGMAX_LOCKTAG_STATE);
	if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
		return;

	/*
	 * Wait as a lock waiter (seen in pg_locks, under the deadlock detector)
	 * for at most the grace period, in a subtransaction whose lock_timeout
	 * error is caught; the lock, once granted, passes to the transaction.
	 */
	snprintf(timeout, sizeof(timeout), "%d", Max(sigmax_state_change_grace_ms, 1));
	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		(void) set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
		ReleaseCurrentSubTransaction();
		acquired = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FlushErrorState();
		FreeErrorData(edata);
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller);
	CurrentResourceOwner = owner;
	if (acquired)
		return;
	terminate_state_lock_holders(&tag);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

static void
state_xact_callback(XactEvent event, void *arg)
{
	if (npending == 0)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			/* The state must publish with the commit that makes it true; a prepared one cannot. */
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot PREPARE a transaction that changes the sigmax trading state")));
			break;
		case XACT_EVENT_COMMIT:
			{
				DatabaseState *slot;

				/* The slot was claimed when the change was made: nothing here can fail. */
				LWLockAcquire(shared->lock, LW_EXCLUSIVE);
				slot = database_slot();
				slot->state = pending[npending - 1].state;
				slot->loaded = true;
				LWLockRelease(shared->lock);
				npending = 0;
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			npending = 0;
			break;
		default:
			break;
	}
}

static void
state_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			i;

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		while (npending > 0 && pending[npending - 1].subid == mySubid)
			npending--;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (i = 0; i < npending; i++)
			if (pending[i].subid == mySubid)
				pending[i].subid = parentSubid;
	}
}

/*
 * Publish a new database-wide state when the transaction commits; the caller
 * holds the state lock exclusively and has written sigmax.global_state.
 */
void
sigmax_global_state_publish(SigmaxState state)
{
	/* Claim the slot now: nothing may fail once the transaction has committed. */
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	(void) database_slot();
	LWLockRelease(shared->lock);

	if (!xact_callbacks_registered)
	{
		RegisterXactCallback(state_xact_callback, NULL);
		RegisterSubXactCallback(state_subxact_callback, NULL);
		xact_callbacks_registered = true;
	}
	if (npending == MAX_PENDING_STATES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many trading state changes in one transaction")));
	pending[npending].state = state;
	pending[npending].subid = GetCurrentSubTransactionId();
	npending++;
}

static int64
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Token bucket of one account: capacity orders, refilled evenly over a
 * minute from the monotonic clock. Takes a token unless dry_run; false when
 * none is left (a rejection, counted in shared memory). A full table fails
 * closed.
 */
bool
sigmax_rate_take(int64 account_id, int capacity, bool dry_run)
{
	RateBucketKey key;
	RateBucket *bucket;
	bool		found;
	bool		ok;
	int64		now = monotonic_ns();

	sigmax_require_preload("order rate limits");
	memset(&key, 0, sizeof(key));
	key.dboid = MyDatabaseId;
	key.account_id = account_id;

	LWLockAcquire(shared->lock, LW_SHARED);
	bucket = hash_search(rate_buckets, &key, HASH_FIND, NULL);
	if (bucket == NULL)
	{
		LWLockRelease(shared->lock);
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		bucket = hash_search(rate_buckets, &key, HASH_ENTER_NULL, &found);
		if (bucket == NULL)
		{
			LWLockRelease(shared->lock);
			pg_atomic_fetch_add_u64(&shared->rate_rejections, 1);
			ereport(WARNING,
					(errmsg("sigmax rate limiter table is full"),
					 errhint("Raise sigmax.max_rate_buckets; orders of new accounts are rejected until then.")));
			return false;
		}
		if (!found)
		{
			SpinLockInit(&bucket->mutex);
			bucket->tokens = capacity;
			bucket->refilled_ns = now;
			pg_atomic_init_u64(&bucket->rejections, 0);
		}
	}

	SpinLockAcquire(&bucket->mutex);
	bucket->tokens += (double) (now - bucket->refilled_ns) * capacity / 60e9;
	if (bucket->tokens > capacity)
		bucket->tokens = capacity;
	bucket->refilled_ns = now;
	ok = bucket->tokens >= 1.0;
	if (ok && !dry_run)
		bucket->tokens -= 1.0;
	SpinLockRelease(&bucket->mutex);
	if (!ok && !dry_run)
	{
		pg_atomic_fetch_add_u64(&bucket->rejections, 1);
		pg_atomic_fetch_add_u64(&shared->rate_rejections, 1);
	}
	LWLockRelease(shared->lock);
	return ok;
}

/* Count a verdict (REASON_NONE: accepted) in shared memory, where aborts cannot undo it. */
void
sigmax_count_verdict(SigmaxReason reason, bool dry_run)
{
	if (shared == NULL)
		return;
	pg_atomic_fetch_add_u64(&shared->checked, 1);
	if (dry_run)
		pg_atomic_fetch_add_u64(&shared->dry_runs, 1);
	else
		pg_atomic_fetch_add_u64(&shared->verdicts[reason], 1);
}

/* Upper bounds of the check-latency histogram buckets, in microseconds (the last is +Inf). */
const int	sigmax_latency_bounds_us[SIGMAX_LATENCY_BUCKETS] = {10, 25, 50, 100, 250, 500, 1000, 2500, 10000, -1};

/* Count one check's latency in the shared histogram. */
void
sigmax_count_latency(int64 us)
{
	int			i;

	if (shared == NULL)
		return;
	for (i = 0; i < SIGMAX_LATENCY_BUCKETS - 1; i++)
		if (us <= sigmax_latency_bounds_us[i])
			break;
	pg_atomic_fetch_add_u64(&shared->latency_buckets[i], 1);
	pg_atomic_fetch_add_u64(&shared->latency_sum_us, (uint64) Max(us, 0));
}

PG_FUNCTION_INFO_V1(sigmax_check_latency);

/* SQL: the check-latency histogram, cumulative as Prometheus expects: (le_us, count), then the sum. */
Datum
sigmax_check_latency(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		cumulative = 0;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	sigmax_require_preload("check latency");
	for (i = 0; i < SIGMAX_LATENCY_BUCKETS; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {sigmax_latency_bounds_us[i] < 0, false, true};

		cumulative += pg_atomic_read_u64(&shared->latency_buckets[i]);
		values[0] = Int32GetDatum(sigmax_latency_bounds_us[i]);
		values[1] = Int64GetDatum((int64) cumulative);
		values[2] = (Datum) 0;
		if (i == SIGMAX_LATENCY_BUCKETS - 1)
		{
			nulls[2] = false;
			values[2] = Int64GetDatum((int64) pg_atomic_read_u64(&shared->latency_sum_us));
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Forget this database's state and buckets: CREATE EXTENSION starts afresh. */
void
sigmax_shared_reset_database(void)
{
	HASH_SEQ_STATUS seq;
	RateBucket *bucket;
	int			i;

	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < SIGMAX_MAX_DATABASES; i++)
		if (shared->databases[i].dboid == MyDatabaseId)
			shared->databases[i].loaded = false;
	hash_seq_init(&seq, rate_buckets);
	while ((bucket = hash_seq_search(&seq)) != NULL)
		if (bucket->key.dboid == MyDatabaseId)
			hash_search(rate_buckets, &bucket->key, HASH_REMOVE, NULL);
	LWLockRelease(shared->lock);
}

PG_FUNCTION_INFO_V1(sigmax_reset_shared_state);

/* SQL: called by the install script so a re-created extension starts clean. */
Datum
sigmax_reset_shared_state(PG_FUNCTION_ARGS)
{
	sigmax_shared_reset_database();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(sigmax_order_counters);

/* SQL: the verdict counters, one row per outcome (accepted or a reason code). */
Datum
sigmax_order_counters(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	sigmax_require_preload("order counters");
	for (i = 0; i < REASON_COUNT; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(i == 0 ? "accepted" : sigmax_reason_codes[i]);
		values[1] = Int64GetDatum((int64) pg_atomic_read_u64(&shared->verdicts[i]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum("checked");
		values[1] = Int64GetDatum((int64) pg_atomic_read_u64(&shared->checked));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		values[0] = CStringGetTextDatum("dry_runs");
		values[1] = Int64GetDatum((int64) pg_atomic_read_u64(&shared->dry_runs));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		values[0] = CStringGetTextDatum("rate_limit_rejections");
		values[1] = Int64GetDatum((int64) pg_atomic_read_u64(&shared->rate_rejections));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(sigmax_lock_global_state);

/* SQL: take the state lock exclusively before changing sigmax.global_state. */
Datum
sigmax_lock_global_state(PG_FUNCTION_ARGS)
{
	sigmax_global_state_lock_exclusive();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(sigmax_publish_global_state);

/* SQL: publish the new database-wide state to shared memory when the transaction commits. */
Datum
sigmax_publish_global_state(PG_FUNCTION_ARGS)
{
	sigmax_require_preload("trading state");
	sigmax_global_state_publish(sigmax_state_from_text(text_to_cstring(PG_GETARG_TEXT_PP(0))));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(sigmax_global_state_text);

/* SQL: the database-wide state as the order checks see it. */
Datum
sigmax_global_state_text(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(sigmax_state_text(sigmax_global_state(false))));
}
