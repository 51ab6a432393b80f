/*
 * worker_status.c
 *	  The worker's shared memory: per-venue counters, latencies and last errors
 *	  for sigmax.worker_status, and the generation that tells it to reload.
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "poller.h"
#include "sigmax.h"

typedef struct VenueStatus
{
	char		name[NAMEDATALEN];	/* empty: free slot */
	uint64		requests;
	uint64		errors;
	uint64		prices_written;
	int			consecutive_errors;
	TimestampTz last_success;
	TimestampTz last_error_at;
	TimestampTz backoff_until;
	SigmaxPollStatus last_status;
	SigmaxPollStatus last_error_status;
	char		last_error[256];
	int			nlatency;
	int			latency_next;
	int64		latency_us[SIGMAX_LATENCY_RING];
	int			ncommit;
	int			commit_next;
	int64		commit_us[SIGMAX_LATENCY_RING];
} VenueStatus;

typedef struct WorkerShared
{
	LWLock	   *lock;
	int			pid;			/* 0: not running */
	int			procno;			/* its PGPROC, for its latch */
	TimestampTz started_at;
	char		state[256];
	uint64		cycles;
	pg_atomic_uint64 memory_bytes;	/* the poller's memory contexts, between passes */
	pg_atomic_uint64 config_generation;
	VenueStatus venues[SIGMAX_MAX_VENUES];
} WorkerShared;

static WorkerShared *worker_shared = NULL;

Size
sigmax_worker_shmem_size(void)
{
	return MAXALIGN(sizeof(WorkerShared));
}

/* Called from the shmem startup hook, under AddinShmemInitLock. */
void
sigmax_worker_shmem_init(void)
{
	bool		found;

	worker_shared = ShmemInitStruct("sigmax worker", sizeof(WorkerShared), &found);
	if (!found)
	{
		memset(worker_shared, 0, sizeof(WorkerShared));
		worker_shared->lock = &(GetNamedLWLockTranche("sigmax_worker"))->lock;
		pg_atomic_init_u64(&worker_shared->config_generation, 1);
		pg_atomic_init_u64(&worker_shared->memory_bytes, 0);
		strlcpy(worker_shared->state, "not started", sizeof(worker_shared->state));
	}
}

/*
 * The poller announces itself (pid 0: it is exiting). False when another
 * poller is alive: there must never be two.
 */
bool
sigmax_worker_status_reset(int pid)
{
	bool		ok = true;

	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	if (pid != 0 && worker_shared->pid != 0 && worker_shared->pid != pid &&
		kill(worker_shared->pid, 0) == 0)
		ok = false;
	else
	{
		worker_shared->pid = pid;
		worker_shared->procno = pid != 0 ? MyProc->pgprocno : -1;
		if (pid != 0)
			worker_shared->started_at = GetCurrentTimestamp();
		strlcpy(worker_shared->state, pid != 0 ? "starting" : "not running", sizeof(worker_shared->state));
	}
	LWLockRelease(worker_shared->lock);
	return ok;
}

/* What the worker is doing, in a few words, for sigmax.worker_state(). */
void
sigmax_worker_status_set_state(const char *state)
{
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	strlcpy(worker_shared->state, state, sizeof(worker_shared->state));
	LWLockRelease(worker_shared->lock);
}

/* The status slot of a venue, taken on first use; -1 when all are taken. */
int
sigmax_worker_status_venue_slot(const char *venue)
{
	int			i;
	int			free_slot = -1;

	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < SIGMAX_MAX_VENUES; i++)
	{
		if (strcmp(worker_shared->venues[i].name, venue) == 0)
		{
			LWLockRelease(worker_shared->lock);
			return i;
		}
		if (free_slot < 0 && worker_shared->venues[i].name[0] == '\0')
			free_slot = i;
	}
	if (free_slot >= 0)
	{
		memset(&worker_shared->venues[free_slot], 0, sizeof(VenueStatus));
		strlcpy(worker_shared->venues[free_slot].name, venue, NAMEDATALEN);
	}
	LWLockRelease(worker_shared->lock);
	return free_slot;
}

/* Count one request's outcome for its venue. */
void
sigmax_worker_status_record(int slot, const SigmaxVenueOutcome *outcome)
{
	VenueStatus *v;
	const char *detail = outcome->detail ? outcome->detail : "";
	int			detail_len;

	if (slot < 0)
		return;
	v = &worker_shared->venues[slot];
	/* clipped before taking the lock, whole characters only */
	detail_len = pg_mbcliplen(detail, strlen(detail), sizeof(v->last_error) - 1);
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	/* requests, errors and consecutive_errors count requests; prices_written counts symbols */
	if (outcome->counts_request)
	{
		v->requests++;
		if (outcome->request_failed)
		{
			v->errors++;
			v->consecutive_errors++;
		}
		else
			v->consecutive_errors = 0;
	}
	v->last_status = outcome->status;
	if (outcome->latency_us >= 0)
	{
		v->latency_us[v->latency_next] = outcome->latency_us;
		v->latency_next = (v->latency_next + 1) % SIGMAX_LATENCY_RING;
		v->nlatency = Min(v->nlatency + 1, SIGMAX_LATENCY_RING);
	}
	if (outcome->status == POLL_OK)
	{
		v->prices_written++;
		v->last_success = GetCurrentTimestamp();
		if (outcome->commit_us >= 0)
		{
			v->commit_us[v->commit_next] = outcome->commit_us;
			v->commit_next = (v->commit_next + 1) % SIGMAX_LATENCY_RING;
			v->ncommit = Min(v->ncommit + 1, SIGMAX_LATENCY_RING);
		}
	}
	else
	{
		v->last_error_at = GetCurrentTimestamp();
		v->last_error_status = outcome->status;
		memcpy(v->last_error, detail, detail_len);
		v->last_error[detail_len] = '\0';
	}
	LWLockRelease(worker_shared->lock);
}

/* Count a pass of the worker's loop that started requests. */
void
sigmax_worker_status_count_cycle(void)
{
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	worker_shared->cycles++;
	LWLockRelease(worker_shared->lock);
}

/* The memory the poller's contexts hold between two passes of its loop (outside any transaction). */
void
sigmax_worker_status_set_memory(uint64 bytes)
{
	pg_atomic_write_u64(&worker_shared->memory_bytes, bytes);
}

/* When a failing venue is next polled. */
void
sigmax_worker_status_set_backoff(int slot, TimestampTz until)
{
	if (slot < 0)
		return;
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	worker_shared->venues[slot].backoff_until = until;
	LWLockRelease(worker_shared->lock);
}

/* Wake the worker now (a lockout to report). */
void
sigmax_worker_wake(void)
{
	int			procno = -1;

	if (worker_shared == NULL)
		return;
	LWLockAcquire(worker_shared->lock, LW_SHARED);
	if (worker_shared->pid != 0)
		procno = worker_shared->procno;
	LWLockRelease(worker_shared->lock);
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

/* Bumped at the commit of every change to what the worker polls. */
uint64
sigmax_worker_config_generation(void)
{
	return pg_atomic_read_u64(&worker_shared->config_generation);
}

static bool config_callback_registered = false;
static bool config_changed_in_xact = false;

/* At commit of a transaction that changed venues or symbols: tell the worker. */
static void
config_xact_callback(XactEvent event, void *arg)
{
	if (!config_changed_in_xact)
		return;
	/* at PREPARE too: COMMIT PREPARED runs no callback, and a spare reload is harmless */
	if ((event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE) && worker_shared != NULL)
	{
		pg_atomic_fetch_add_u64(&worker_shared->config_generation, 1);
		sigmax_worker_wake();
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		config_changed_in_xact = false;
}

/* Make the worker reload what it polls when this transaction commits. */
static void
reload_at_commit(void)
{
	if (!config_callback_registered)
	{
		RegisterXactCallback(config_xact_callback, NULL);
		config_callback_registered = true;
	}
	config_changed_in_xact = true;
}

PG_FUNCTION_INFO_V1(sigmax_poller_config_changed);

/* Trigger on sigmax.exchanges, price_feeds and instruments: the worker reloads at commit. */
Datum
sigmax_poller_config_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("sigmax._poller_config_changed() must be called as a trigger")));
	reload_at_commit();
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(sigmax_poller_reload);

/* SQL (install and update scripts): the worker looks at the extension again at commit. */
Datum
sigmax_poller_reload(PG_FUNCTION_ARGS)
{
	reload_at_commit();
	PG_RETURN_VOID();
}

/* The p-th percentile (0-100) of n latencies, in milliseconds. */
static double
percentile_ms(const int64 *values, int n, double p)
{
	int64		sorted[SIGMAX_LATENCY_RING];
	int			i,
				j;

	if (n == 0)
		return -1;
	memcpy(sorted, values, n * sizeof(int64));
	for (i = 1; i < n; i++)
	{
		int64		x = sorted[i];

		for (j = i; j > 0 && sorted[j - 1] > x; j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = x;
	}
	i = (int) ((p / 100.0) * (n - 1) + 0.5);
	return sorted[Min(i, n - 1)] / 1000.0;
}

PG_FUNCTION_INFO_V1(sigmax_worker_status_fn);

/* SQL: one row per venue the worker has polled since the server started. */
Datum
sigmax_worker_status_fn(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	sigmax_require_preload("sigmax.worker_status");
	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < SIGMAX_MAX_VENUES; i++)
	{
		VenueStatus v;
		Datum		values[14];
		bool		nulls[14] = {false};
		double		ms;

		LWLockAcquire(worker_shared->lock, LW_SHARED);
		memcpy(&v, &worker_shared->venues[i], sizeof(VenueStatus));
		LWLockRelease(worker_shared->lock);
		if (v.name[0] == '\0')
			continue;
		values[0] = CStringGetTextDatum(v.name);
		values[1] = CStringGetTextDatum(v.requests == 0 ? "none" : sigmax_poll_status_names[v.last_status]);
		nulls[2] = v.last_success == 0;
		values[2] = TimestampTzGetDatum(v.last_success);
		nulls[3] = v.last_error_at == 0;
		values[3] = TimestampTzGetDatum(v.last_error_at);
		nulls[4] = v.last_error_at == 0;
		values[4] = CStringGetTextDatum(sigmax_poll_status_names[v.last_error_status]);
		nulls[5] = v.last_error_at == 0;
		values[5] = CStringGetTextDatum(v.last_error);
		values[6] = Int32GetDatum(v.consecutive_errors);
		values[7] = Int64GetDatum((int64) v.requests);
		values[8] = Int64GetDatum((int64) v.errors);
		values[9] = Int64GetDatum((int64) v.prices_written);
		ms = percentile_ms(v.latency_us, v.nlatency, 50);
		nulls[10] = ms < 0;
		values[10] = Float8GetDatum(ms);
		ms = percentile_ms(v.latency_us, v.nlatency, 99);
		nulls[11] = ms < 0;
		values[11] = Float8GetDatum(ms);
		ms = percentile_ms(v.commit_us, v.ncommit, 99);
		nulls[12] = ms < 0;
		values[12] = Float8GetDatum(ms);
		nulls[13] = v.backoff_until == 0 || v.backoff_until <= GetCurrentTimestamp();
		values[13] = TimestampTzGetDatum(v.backoff_until);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(sigmax_worker_state);

/* SQL: what the worker is doing (polling, waiting for the extension, disabled, not running). */
Datum
sigmax_worker_state(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[5];
	bool		nulls[5] = {false};
	char		state[256];

	sigmax_require_preload("sigmax.worker_state");
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "sigmax: worker_state must return a record");
	LWLockAcquire(worker_shared->lock, LW_SHARED);
	strlcpy(state, worker_shared->state, sizeof(state));
	values[1] = Int32GetDatum(worker_shared->pid);
	nulls[1] = worker_shared->pid == 0;
	values[2] = TimestampTzGetDatum(worker_shared->started_at);
	nulls[2] = worker_shared->pid == 0;
	values[3] = Int64GetDatum((int64) worker_shared->cycles);
	values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&worker_shared->memory_bytes));
	nulls[4] = worker_shared->pid == 0;
	LWLockRelease(worker_shared->lock);
	if (RecoveryInProgress())
		strlcpy(state, "standby: not polling", sizeof(state));
	values[0] = CStringGetTextDatum(state);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
