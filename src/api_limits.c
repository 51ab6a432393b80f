/*
 * api_limits.c
 *	  Per-key, per-function rate limits at sigmax's API surface ("per
 *	  endpoint"), and per-address limits on authenticate: token buckets in
 *	  shared memory, refilled from a monotonic clock.
 */
#include "postgres.h"

#include <time.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "sigmax.h"

#define SUBJECT_LEN 64			/* "key 123" or a client address */

typedef struct ApiBucketKey
{
	Oid			dboid;
	Oid			fn_oid;
	int64		key_id;			/* 0: a per-address bucket (authenticate) */
	uint32		address_hash;	/* of the client address when key_id is 0 */
} ApiBucketKey;

typedef struct ApiBucket
{
	ApiBucketKey key;
	slock_t		mutex;
	char		function[NAMEDATALEN];
	char		subject[SUBJECT_LEN];
	int			per_minute;		/* the capacity last applied */
	double		tokens;
	int64		refilled_ns;
	int64		window_start_ns;	/* of the minute the alert threshold counts in */
	int			window_rejections;
	bool		window_reported;	/* the alert of this window was queued */
	uint64		rejections;
	TimestampTz last_rejected_at;
} ApiBucket;

typedef struct ApiLimitsShared
{
	LWLock	   *lock;			/* the bucket table */
	pg_atomic_uint64 rejections;
	pg_atomic_uint64 table_full;
} ApiLimitsShared;

static ApiLimitsShared *api_shared = NULL;
static HTAB *api_buckets = NULL;

Size
sigmax_api_limits_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(ApiLimitsShared)),
					hash_estimate_size(sigmax_max_rate_buckets, sizeof(ApiBucket)));
}

/* Called from the shmem startup hook, under AddinShmemInitLock. */
void
sigmax_api_limits_shmem_init(void)
{
	bool		found;
	HASHCTL		info;

	api_shared = ShmemInitStruct("sigmax api limits", sizeof(ApiLimitsShared), &found);
	if (!found)
	{
		api_shared->lock = &(GetNamedLWLockTranche("sigmax_api_limits"))->lock;
		pg_atomic_init_u64(&api_shared->rejections, 0);
		pg_atomic_init_u64(&api_shared->table_full, 0);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(ApiBucketKey);
	info.entrysize = sizeof(ApiBucket);
	api_buckets = ShmemInitHash("sigmax api buckets", sigmax_max_rate_buckets,
								sigmax_max_rate_buckets, &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

static int64
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The bucket of a key (or, with key_id 0, an address) for a function; NULL when the table is full. */
static ApiBucket *
find_bucket(const ApiBucketKey *key, const char *function, const char *subject, int per_minute, int64 now)
{
	ApiBucket  *bucket;
	bool		found;

	LWLockAcquire(api_shared->lock, LW_SHARED);
	bucket = hash_search(api_buckets, key, HASH_FIND, NULL);
	LWLockRelease(api_shared->lock);
	if (bucket != NULL)
		return bucket;

	LWLockAcquire(api_shared->lock, LW_EXCLUSIVE);
	bucket = hash_search(api_buckets, key, HASH_ENTER_NULL, &found);
	if (bucket != NULL && !found)
	{
		SpinLockInit(&bucket->mutex);
		strlcpy(bucket->function, function, sizeof(bucket->function));
		strlcpy(bucket->subject, subject, sizeof(bucket->subject));
		bucket->per_minute = per_minute;
		bucket->tokens = per_minute;
		bucket->refilled_ns = now;
		bucket->window_start_ns = now;
		bucket->window_rejections = 0;
		bucket->window_reported = false;
		bucket->rejections = 0;
		bucket->last_rejected_at = 0;
	}
	LWLockRelease(api_shared->lock);
	return bucket;
}

/*
 * Take a call from the bucket of key_id (or of the client address, key_id 0)
 * for the function, whose limit is per_minute calls (0: none). Over the
 * limit is an error with SQLSTATE 53400, counted in shared memory; the
 * sigmax.api_rate_alert_after-th rejection within a minute is reported to the
 * worker, which ledgers it and raises an api_rate_limit alert. Buckets are
 * never evicted: entries are fixed-size and a full table fails closed.
 */
void
sigmax_api_rate_take(int64 key_id, const char *address, Oid fn_oid, const char *function, int per_minute)
{
	ApiBucketKey key;
	ApiBucket  *bucket;
	char		subject[SUBJECT_LEN];
	int64		now = monotonic_ns();
	bool		ok;
	bool		report = false;
	int			rejections_this_minute = 0;

	if (per_minute <= 0 || api_shared == NULL)
		return;
	memset(&key, 0, sizeof(key));
	key.dboid = MyDatabaseId;
	key.fn_oid = fn_oid;
	key.key_id = key_id;
	if (key_id == 0)
	{
		key.address_hash = hash_bytes((const unsigned char *) address, strlen(address));
		strlcpy(subject, address, sizeof(subject));
	}
	else
		snprintf(subject, sizeof(subject), "key " INT64_FORMAT, key_id);

	bucket = find_bucket(&key, function, subject, per_minute, now);
	if (bucket == NULL)
	{
		pg_atomic_fetch_add_u64(&api_shared->table_full, 1);
		pg_atomic_fetch_add_u64(&api_shared->rejections, 1);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("sigmax rate limiter table is full"),
				 errdetail("No call of %s() can be counted for %s.", function, subject),
				 errhint("Raise sigmax.max_rate_buckets and restart the server.")));
	}

	SpinLockAcquire(&bucket->mutex);
	bucket->per_minute = per_minute;
	bucket->tokens += (double) (now - bucket->refilled_ns) * per_minute / 60e9;
	if (bucket->tokens > per_minute)
		bucket->tokens = per_minute;
	bucket->refilled_ns = now;
	ok = bucket->tokens >= 1.0;
	if (ok)
		bucket->tokens -= 1.0;
	else
	{
		if (now - bucket->window_start_ns > (int64) 60 * 1000000000)
		{
			bucket->window_start_ns = now;
			bucket->window_rejections = 0;
			bucket->window_reported = false;
		}
		bucket->window_rejections++;
		bucket->rejections++;
		bucket->last_rejected_at = GetCurrentTimestamp();
		rejections_this_minute = bucket->window_rejections;
		report = bucket->window_rejections >= sigmax_api_rate_alert_after && !bucket->window_reported;
		if (report)
			bucket->window_reported = true;
	}
	SpinLockRelease(&bucket->mutex);
	if (ok)
		return;

	pg_atomic_fetch_add_u64(&api_shared->rejections, 1);
	if (report)
		sigmax_security_event(SECURITY_EVENT_RATE_LIMITED, subject, function,
							  rejections_this_minute, per_minute, 0);
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("rate limit exceeded: %s may call %s() %d times a minute", subject, function, per_minute),
			 errdetail("The call was refused and counted; repeated refusals raise an api_rate_limit alert."),
			 errhint("Retry later. An administrator can change a key's limits with sigmax.set_api_key_rate_limits.")));
}

PG_FUNCTION_INFO_V1(sigmax_api_rate_status);

/*
 * SQL: the API rate buckets of this database: who (a key or an address),
 * which function, its limit, the tokens left now, and the rejections so far.
 */
Datum
sigmax_api_rate_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	ApiBucket  *bucket;
	int64		now = monotonic_ns();

	sigmax_require_preload("sigmax.api_rate_status");
	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(api_shared->lock, LW_SHARED);
	hash_seq_init(&seq, api_buckets);
	while ((bucket = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[7];
		bool		nulls[7] = {false};
		ApiBucket	copy;
		double		tokens;

		if (bucket->key.dboid != MyDatabaseId)
			continue;
		/* copy under the spinlock, build the row (which allocates) after it */
		SpinLockAcquire(&bucket->mutex);
		copy = *bucket;
		SpinLockRelease(&bucket->mutex);
		tokens = copy.tokens + (double) (now - copy.refilled_ns) * copy.per_minute / 60e9;
		if (tokens > copy.per_minute)
			tokens = copy.per_minute;
		values[0] = Int64GetDatum(copy.key.key_id);
		nulls[0] = copy.key.key_id == 0;
		values[1] = CStringGetTextDatum(copy.subject);
		nulls[1] = copy.key.key_id != 0;
		values[2] = CStringGetTextDatum(copy.function);
		values[3] = Int32GetDatum(copy.per_minute);
		values[4] = Int32GetDatum((int32) tokens);
		values[5] = Int64GetDatum((int64) copy.rejections);
		values[6] = TimestampTzGetDatum(copy.last_rejected_at);
		nulls[6] = copy.last_rejected_at == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(api_shared->lock);
	return (Datum) 0;
}

/* Calls refused by API rate limits since the server started (every database). */
uint64
sigmax_api_rate_rejections(void)
{
	return api_shared ? pg_atomic_read_u64(&api_shared->rejections) : 0;
}
