/*
 * worker.c
 *	  The exchange poller: a background worker that fetches each venue's
 *	  tickers with libcurl and records the prices of each answer in a transaction.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "http.h"
#include "ledger.h"
#include "poller.h"
#include "sigmax.h"

PGDLLEXPORT void sigmax_launcher_main(Datum main_arg);
PGDLLEXPORT void sigmax_worker_main(Datum main_arg);

/* How often the worker looks again for a missing or mismatched extension. */
#define READY_RECHECK_MS 10000
/* How often the worker closes expired approvals and compares trading with its baseline. */
#define APPROVAL_SWEEP_MS 10000
#define BASELINE_CHECK_MS 60000
/* How often the launcher looks again for a missing database (a heap scan of pg_database). */
#define DATABASE_RECHECK_MS 1000
/* Failed cycles polled at the normal interval before backing off (so the error-burst trigger sees them). */
#define FAILURES_BEFORE_BACKOFF 6
/* The longest Retry-After honoured, in seconds. */
#define MAX_RETRY_AFTER_S 3600

/* A symbol polled on a venue. */
typedef struct PollTarget
{
	char	   *symbol;			/* BASE/QUOTE */
	char	   *venue_symbol;
	char	   *url;			/* its own ticker URL */
} PollTarget;

/*
 * One request of a venue's cycle: a run of the venue's targets, one symbol
 * each unless the adapter answers several symbols at once. requests[] is
 * indexed like targets[]: a venue's requests start at its first target, and
 * it has at most as many requests as targets.
 */
typedef struct PollRequest
{
	int			venue;			/* index in venues[] */
	int			first_target;
	int			ntargets;
	char	   *url;
	bool		in_flight;
	SigmaxHttpRequest req;
} PollRequest;

typedef struct Venue
{
	char	   *name;
	const SigmaxAdapter *adapter;
	int			interval_ms;
	int			slot;			/* in shared memory; -1 if none was free */
	char	   *base_url;		/* for the URLs of several symbols */
	int			first_target;
	int			ntargets;
	int			nrequests;		/* from requests[first_target] */
	bool		one_by_one;		/* a request for several symbols was refused: one a symbol */
	TimestampTz next_due;
	TimestampTz backoff_until;
	int			failed_cycles;
	int			in_flight;
	TimestampTz cycle_started;
	int			cycle_failed;
	SigmaxPollStatus cycle_status;
	char		cycle_detail[256];
	int64		cycle_retry_after_s;
} Venue;

static MemoryContext config_context = NULL;
static MemoryContext response_context = NULL;
static MemoryContext loop_context = NULL;	/* reset at every pass of the loop */
static TimestampTz memory_measured_at = 0;
static Venue *venues = NULL;
static int	nvenues = 0;
static PollTarget *targets = NULL;
static PollRequest *requests = NULL;
static int	ntargets = 0;
static bool ready = false;
static bool reload_requested = true;
static bool check_extension = false;	/* a record failed: is the extension still right? */
static uint64 loaded_generation = 0;
static TimestampTz next_ready_check = 0;
static TimestampTz next_approval_sweep = 0;
static TimestampTz next_baseline_check = 0;
static char *connected_database = NULL;
static char last_logged[256] = "";
static SPIPlanPtr venue_error_plan = NULL;

static void log_once(const char *message);
static void finish_cycle(Venue *v);

/*
 * Register the launcher; called from _PG_init while preloading. The launcher
 * connects to no database: it starts the poller once sigmax.database exists,
 * and again when the poller exits, so that a missing database is a wait with
 * a LOG line, never a crash loop. Both start on a primary only (a standby
 * starts them when promoted).
 */
void
sigmax_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	strlcpy(worker.bgw_library_name, "sigmax", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "sigmax_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "sigmax launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "sigmax launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/*
 * True when the database exists and accepts connections. The launcher,
 * connected to no database, may read only shared catalogs, and by heap scan
 * (as the autovacuum launcher does).
 */
static bool
database_exists(const char *name)
{
	bool		exists = false;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext old = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (!exists && HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		/* one that refuses connections (or is half-dropped) counts as missing */
		exists = strcmp(NameStr(db->datname), name) == 0 && db->datallowconn && db->datconnlimit != -2;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(old);
	return exists;
}

static BackgroundWorkerHandle *poller_handle = NULL;

/* The launcher's exit: the poller goes with it, so a restarted launcher never makes two. */
static void
launcher_exit(int code, Datum arg)
{
	if (poller_handle != NULL)
		TerminateBackgroundWorker(poller_handle);
}

/* The launcher's entry point: keep one poller running in sigmax.database. */
void
sigmax_launcher_main(Datum main_arg)
{
	char		running_db[NAMEDATALEN] = "";
	TimestampTz next_start = 0;
	TimestampTz poller_started = 0;
	int64		restart_delay_ms = 1000;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	before_shmem_exit(launcher_exit, (Datum) 0);

	for (;;)
	{
		TimestampTz now;
		long		timeout_ms = READY_RECHECK_MS;

		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			break;
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (poller_handle != NULL && strcmp(running_db, sigmax_database) != 0)
			{
				ereport(LOG,
						(errmsg("sigmax launcher: sigmax.database is now \"%s\"; restarting the poller",
								sigmax_database)));
				TerminateBackgroundWorker(poller_handle);
			}
		}
		now = GetCurrentTimestamp();
		if (poller_handle != NULL)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(poller_handle, &pid) == BGWH_STOPPED)
			{
				pfree(poller_handle);
				poller_handle = NULL;
				/* a poller that keeps dying at once is restarted ever more slowly, up to a minute */
				if (now - poller_started < 10 * USECS_PER_SEC)
					restart_delay_ms = Min(restart_delay_ms * 2, 60000);
				else
					restart_delay_ms = 1000;
				next_start = now + restart_delay_ms * INT64CONST(1000);
			}
		}
		if (poller_handle == NULL && now >= next_start)
		{
			if (strlen(sigmax_database) >= NAMEDATALEN || !database_exists(sigmax_database))
			{
				char		message[200];

				snprintf(message, sizeof(message),
						 "database \"%s\" (sigmax.database) does not exist or refuses connections; waiting for it",
						 sigmax_database);
				log_once(message);
				next_start = now + DATABASE_RECHECK_MS * INT64CONST(1000);
			}
			else
			{
				BackgroundWorker worker;

				memset(&worker, 0, sizeof(worker));
				worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
				worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
				worker.bgw_restart_time = BGW_NEVER_RESTART;
				strlcpy(worker.bgw_library_name, "sigmax", BGW_MAXLEN);
				strlcpy(worker.bgw_function_name, "sigmax_worker_main", BGW_MAXLEN);
				strlcpy(worker.bgw_name, "sigmax poller", BGW_MAXLEN);
				strlcpy(worker.bgw_type, "sigmax poller", BGW_MAXLEN);
				strlcpy(worker.bgw_extra, sigmax_database, BGW_EXTRALEN);
				worker.bgw_notify_pid = MyProcPid;
				if (RegisterDynamicBackgroundWorker(&worker, &poller_handle))
				{
					poller_started = now;
					strlcpy(running_db, sigmax_database, sizeof(running_db));
					last_logged[0] = '\0';
				}
				else
				{
					poller_handle = NULL;
					log_once("could not start the poller: no background worker slot free (max_worker_processes); retrying");
					next_start = now + READY_RECHECK_MS * INT64CONST(1000);
				}
			}
		}
		if (poller_handle == NULL)
			timeout_ms = Max((next_start - now) / 1000, 1);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	/* exit 1: the postmaster restarts the launcher after pg_terminate_backend, not during a shutdown */
	proc_exit(1);
}

/* LOG a line about the worker's readiness once, not on every retry. */
static void
log_once(const char *message)
{
	if (strcmp(message, last_logged) != 0)
	{
		ereport(LOG, (errmsg("sigmax worker: %s", message)));
		strlcpy(last_logged, message, sizeof(last_logged));
	}
	sigmax_worker_status_set_state(message);
}

/* Abandon every request in flight (before a reload, or on the way out). */
static void
cancel_all(void)
{
	int			i;

	for (i = 0; i < ntargets; i++)
	{
		if (requests[i].in_flight)
		{
			sigmax_http_release(&requests[i].req);
			requests[i].in_flight = false;
		}
	}
	for (i = 0; i < nvenues; i++)
		venues[i].in_flight = 0;
}

/* On exit: free libcurl's handles and say the worker is gone. */
static void
worker_exit(int code, Datum arg)
{
	cancel_all();
	sigmax_http_shutdown();
	sigmax_worker_status_reset(0);
}

/* Copy src into dst (size bytes) without cutting a multibyte character. */
static void
copy_clipped(char *dst, const char *src, size_t size)
{
	int			len = pg_mbcliplen(src, strlen(src), (int) size - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Copy an error's message into buf and forget the error (the caller aborts its transaction). */
static void
take_error(char *buf, size_t len)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(response_context);
	edata = CopyErrorData();
	FlushErrorState();
	copy_clipped(buf, edata->message ? edata->message : "unknown error", len);
	FreeErrorData(edata);
}

/*
 * Run body in a transaction of its own, connected to SPI, with the activity
 * shown in pg_stat_activity. An error aborts only this transaction: false,
 * with its message in error. Every transaction of the poller goes through
 * here, and so every statement it runs: the search_path it pinned at start
 * is checked once for them.
 */
static bool
in_transaction(const char *activity, void (*body) (void *arg), void *arg, char *error, size_t error_len)
{
	MemoryContext caller = CurrentMemoryContext;
	volatile bool ok = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		SPI_connect();
		sigmax_require_pinned_search_path();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, activity);
		body(arg);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		ok = true;
	}
	PG_CATCH();
	{
		take_error(error, error_len);
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(caller);
	return ok;
}

/* The installed extension's version, or NULL when it is not installed. Connected to SPI. */
static char *
installed_version(void)
{
	if (!OidIsValid(get_extension_oid("sigmax", true)) ||
		SPI_execute("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'sigmax'", true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

static void
extension_ready_body(void *arg)
{
	char	   *version = installed_version();

	*(bool *) arg = version != NULL && strcmp(version, SIGMAX_VERSION) == 0;
}

/* True when the extension is installed at this library's version (checked after a failed record). */
static bool
extension_ready(void)
{
	bool		ok = false;
	char		error[200];

	return in_transaction("sigmax worker: checking the extension", extension_ready_body, &ok,
						  error, sizeof(error)) && ok;
}

typedef struct LoadState
{
	char		message[256];
	bool		loaded;
	Venue	   *previous;
	int			nprevious;
} LoadState;

/*
 * Split a venue's targets into its requests: runs of up to
 * sigmax.worker_symbols_per_request symbols where the adapter asks for
 * several at once (and no such request was refused since the venues were
 * read), one request a symbol otherwise. In config_context.
 */
static void
plan_requests(Venue *v)
{
	int			per_request = 1;
	int			first;

	if (!v->one_by_one && v->base_url != NULL && v->adapter != NULL)
		per_request = Min(sigmax_adapter_batch_max(v->adapter), sigmax_worker_symbols_per_request);
	v->nrequests = 0;
	for (first = v->first_target; first < v->first_target + v->ntargets; first += per_request)
	{
		PollRequest *r = &requests[v->first_target + v->nrequests++];
		int			n = Min(per_request, v->first_target + v->ntargets - first);

		r->venue = v - venues;
		r->first_target = first;
		r->ntargets = n;
		if (n == 1)
			r->url = targets[first].url;
		else
		{
			/* each venue symbol once: two feeds may share one, and a venue may refuse repeats */
			const char **symbols = palloc(sizeof(char *) * n);
			int			nsymbols = 0;

			for (int k = 0; k < n; k++)
			{
				const char *name = targets[first + k].venue_symbol;
				int			seen;

				for (seen = 0; seen < nsymbols; seen++)
					if (strcmp(symbols[seen], name) == 0)
						break;
				if (seen == nsymbols)
					symbols[nsymbols++] = name;
			}
			r->url = sigmax_adapter_batch_url(v->adapter, v->base_url, symbols, nsymbols);
		}
	}
}

/* Requests in a cycle of every venue. */
static int
count_requests(void)
{
	int			n = 0;

	for (int i = 0; i < nvenues; i++)
		n += venues[i].nrequests;
	return n;
}

/* What worker_state says while polling: symbols, venues and requests a cycle. */
static void
polling_state(char *buf, size_t len)
{
	int			nrequests = count_requests();

	snprintf(buf, len, "polling %d symbol%s on %d venue%s in %d request%s a cycle",
			 ntargets, ntargets == 1 ? "" : "s", nvenues, nvenues == 1 ? "" : "s",
			 nrequests, nrequests == 1 ? "" : "s");
}

/* Read the venues and symbols to poll into config_context (load_config's transaction). */
static void
load_config_body(void *arg)
{
	LoadState  *st = (LoadState *) arg;
	char	   *version = installed_version();
	int			ret;
	uint64		i;
	MemoryContext old;

	if (version == NULL)
	{
		snprintf(st->message, sizeof(st->message),
				 "extension sigmax is not installed in database \"%s\"; waiting for CREATE EXTENSION sigmax",
				 connected_database);
		return;
	}
	if (strcmp(version, SIGMAX_VERSION) != 0)
	{
		snprintf(st->message, sizeof(st->message),
				 "idle: the library is version %s but the extension in database \"%s\" is %s; run ALTER EXTENSION sigmax UPDATE",
				 SIGMAX_VERSION, connected_database, version);
		return;
	}
	ret = SPI_execute("SELECT t.exchange, t.adapter, t.url, t.poll_interval_ms, t.symbol, t.venue_symbol, "
					  "CASE WHEN pg_catalog.current_setting('sigmax.trading_mode') = 'testnet' "
					  "THEN e.testnet_url ELSE e.base_url END "
					  "FROM sigmax.poll_targets t JOIN sigmax.exchanges e ON e.name = t.exchange "
					  "WHERE t.enabled ORDER BY t.exchange, t.symbol",
					  true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "sigmax worker: reading sigmax.poll_targets failed");
	old = MemoryContextSwitchTo(config_context);
	venues = palloc0(sizeof(Venue) * Max(SPI_processed, 1));
	targets = palloc0(sizeof(PollTarget) * Max(SPI_processed, 1));
	requests = palloc0(sizeof(PollRequest) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *exchange = SPI_getvalue(tup, desc, 1);
		char	   *adapter = SPI_getvalue(tup, desc, 2);
		char	   *url = SPI_getvalue(tup, desc, 3);
		PollTarget *t;

		if (nvenues == 0 || strcmp(venues[nvenues - 1].name, exchange) != 0)
		{
			Venue	   *v = &venues[nvenues++];

			v->name = exchange;
			v->adapter = sigmax_adapter_find(adapter);
			v->interval_ms = atoi(SPI_getvalue(tup, desc, 4));
			v->base_url = SPI_getvalue(tup, desc, 7);
			v->first_target = ntargets;
			v->slot = sigmax_worker_status_venue_slot(exchange);
			if (v->slot < 0)
				ereport(WARNING,
						(errmsg("sigmax worker: venue \"%s\" has no status slot", exchange),
						 errdetail("At most %d venues are tracked; it is polled without status.",
								   SIGMAX_MAX_VENUES)));
		}
		if (url == NULL || venues[nvenues - 1].adapter == NULL)
		{
			ereport(LOG,
					(errmsg("sigmax worker: not polling %s on %s", SPI_getvalue(tup, desc, 5), exchange),
					 errdetail("The venue has no URL for trading mode %s.",
							   GetConfigOption("sigmax.trading_mode", false, false))));
			continue;
		}
		t = &targets[ntargets++];
		t->symbol = SPI_getvalue(tup, desc, 5);
		t->venue_symbol = SPI_getvalue(tup, desc, 6);
		t->url = url;
		venues[nvenues - 1].ntargets++;
	}
	for (i = 0; i < (uint64) nvenues; i++)
		plan_requests(&venues[i]);
	MemoryContextSwitchTo(old);
	for (i = 0; i < (uint64) nvenues; i++)
	{
		int			j;

		for (j = 0; j < st->nprevious; j++)
			if (strcmp(st->previous[j].name, venues[i].name) == 0)
			{
				venues[i].next_due = st->previous[j].next_due;
				venues[i].backoff_until = st->previous[j].backoff_until;
				venues[i].failed_cycles = st->previous[j].failed_cycles;
				break;
			}
	}
	polling_state(st->message, sizeof(st->message));
	st->loaded = true;
}

/*
 * Read what to poll, once the extension is there at this library's version.
 * Otherwise wait, saying why once in the log: never crash-loop.
 */
static void
load_config(void)
{
	uint64		generation = sigmax_worker_config_generation();
	LoadState	st;
	char		error[200];

	memset(&st, 0, sizeof(st));
	st.nprevious = nvenues;

	/* a venue's schedule and back-off survive the reload (its name is the key) */
	cancel_all();
	if (nvenues > 0)
	{
		int			i;

		st.previous = palloc(sizeof(Venue) * nvenues);
		memcpy(st.previous, venues, sizeof(Venue) * nvenues);
		for (i = 0; i < nvenues; i++)
			st.previous[i].name = pstrdup(venues[i].name);
	}
	MemoryContextReset(config_context);
	venues = NULL;
	targets = NULL;
	requests = NULL;
	nvenues = ntargets = 0;

	if (!in_transaction("sigmax worker: loading venues", load_config_body, &st, error, sizeof(error)))
	{
		snprintf(st.message, sizeof(st.message), "could not read the venues to poll, retrying: %s", error);
		st.loaded = false;
	}
	/* the extension has just become ready: housekeeping runs at once instead of at its next turn */
	if (st.loaded && !ready)
		next_approval_sweep = next_baseline_check = 0;
	ready = st.loaded;
	if (!st.loaded)
	{
		venues = NULL;
		targets = NULL;
		requests = NULL;
		nvenues = ntargets = 0;
	}
	log_once(st.message);
	loaded_generation = generation;
	next_ready_check = GetCurrentTimestamp() + READY_RECHECK_MS * INT64CONST(1000);
	reload_requested = false;
}

/* Start a cycle on every venue that is due and not backing off. */
static void
start_due_requests(TimestampTz now)
{
	int			i,
				j;
	bool		started = false;

	for (i = 0; i < nvenues; i++)
	{
		Venue	   *v = &venues[i];

		if (v->in_flight > 0 || v->ntargets == 0 || now < v->next_due || now < v->backoff_until)
			continue;
		v->cycle_started = now;
		v->cycle_failed = 0;
		v->cycle_retry_after_s = 0;
		v->cycle_detail[0] = '\0';
		/* keep the cadence, unless the venue fell behind it (first poll, back-off, reload) */
		if (v->next_due == 0 || v->next_due + v->interval_ms * INT64CONST(1000) <= now)
			v->next_due = now + v->interval_ms * INT64CONST(1000);
		else
			v->next_due += v->interval_ms * INT64CONST(1000);
		for (j = v->first_target; j < v->first_target + v->nrequests; j++)
		{
			PollRequest *r = &requests[j];

			if (sigmax_http_start(&r->req, r->url))
			{
				r->in_flight = true;
				v->in_flight++;
			}
			else
			{
				for (int k = 0; k < r->ntargets; k++)
				{
					SigmaxVenueOutcome out = {r->req.status, k == 0, true, -1, -1, r->req.detail};

					sigmax_worker_status_record(v->slot, &out);
				}
				v->cycle_failed += r->ntargets;
				v->cycle_status = r->req.status;
				strlcpy(v->cycle_detail, r->req.detail, sizeof(v->cycle_detail));
			}
		}
		if (v->in_flight == 0)
			finish_cycle(v);	/* nothing could even start */
		started = true;
	}
	if (started)
	{
		sigmax_worker_status_count_cycle();
		sigmax_http_kick();
	}
}

/* The symbols of one answer, parsed, and what became of each. */
typedef struct AnswerState
{
	Venue	   *venue;
	PollRequest *request;
	bool		parsed;			/* the body was JSON: statuses[] say the rest */
	char	   *detail;			/* why the body is not, or why recording failed */
	size_t		detail_len;
	SigmaxTicker *tickers;
	SigmaxPollStatus *statuses;
	char	  **details;
	bool	   *recorded;		/* stored, or found older than the stored price */
	int			only;			/* record_one_body: this symbol */
} AnswerState;

/* Without ledger entries, commit without waiting for the WAL flush (see record_answer). */
static void
commit_lazily_unless_ledgered(void)
{
	if (sigmax_audit_entries_in_xact() == 0)
		(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * Parse an answer and record every price in it that sets nothing off
 * (record_answer's first transaction). The parse goes to response_context, so
 * that the prices outlive an abort of this transaction.
 */
static void
record_answer_body(void *arg)
{
	AnswerState *st = (AnswerState *) arg;
	Venue	   *v = st->venue;
	PollRequest *r = st->request;
	const char **symbols = palloc(sizeof(char *) * r->ntargets);
	MemoryContext old;
	SigmaxPollStatus status;
	char	   *detail;

	for (int k = 0; k < r->ntargets; k++)
		symbols[k] = targets[r->first_target + k].venue_symbol;
	old = MemoryContextSwitchTo(response_context);
	status = sigmax_adapter_parse_many(v->adapter, r->req.body, r->req.len, r->ntargets, symbols, st->tickers,
									   st->statuses, st->details, &detail);
	MemoryContextSwitchTo(old);
	if (status != POLL_OK)
	{
		copy_clipped(st->detail, detail ? detail : "", st->detail_len);
		for (int k = 0; k < r->ntargets; k++)
			st->statuses[k] = status;
		st->parsed = true;
		return;
	}
	st->parsed = true;

	/*
	 * The extension's version was checked when the venues were read; ALTER
	 * EXTENSION UPDATE makes the worker read them again, and a failed record
	 * looks again. A price that would fill, mark or stop anything is left to
	 * a transaction of its own (record_one_body), so that no transaction
	 * holds the locks of more than one price's accounts.
	 */
	for (int k = 0; k < r->ntargets; k++)
		if (st->statuses[k] == POLL_OK)
			st->recorded[k] = sigmax_record_price(v->name, targets[r->first_target + k].symbol, &st->tickers[k],
												  r->req.finished, r->ntargets == 1) >= 0;
	commit_lazily_unless_ledgered();
}

/* Record one price of an answer and run what it sets off (record_answer's later transactions). */
static void
record_one_body(void *arg)
{
	AnswerState *st = (AnswerState *) arg;
	PollRequest *r = st->request;

	(void) sigmax_record_price(st->venue->name, targets[r->first_target + st->only].symbol,
							   &st->tickers[st->only], r->req.finished, true);
	commit_lazily_unless_ledgered();
}

/*
 * Record the prices of an answer, in as few transactions as it is safe to:
 * one for every price that sets nothing off, then one for each that does.
 * An error aborts only its own transaction: a malformed body is bad_json for
 * every symbol of the answer; when recording fails the prices are tried again
 * one a transaction, and each that fails again is record_failed.
 *
 * A price that set nothing off (no fill, stop, pause: each would have written
 * the ledger) commits without waiting for the WAL flush: a crash can lose
 * only the latest observations, which the next poll brings again. Anything
 * ledgered commits durably.
 */
static void
record_answer(Venue *v, PollRequest *r, SigmaxVenueOutcome *outcomes, char (*details)[256])
{
	AnswerState st;
	int			n = r->ntargets;
	char		error[256];
	bool		batch_ok;
	TimestampTz committed;

	memset(&st, 0, sizeof(st));
	st.venue = v;
	st.request = r;
	st.detail = error;
	st.detail_len = sizeof(error);
	st.tickers = MemoryContextAllocZero(response_context, sizeof(SigmaxTicker) * n);
	st.statuses = MemoryContextAllocZero(response_context, sizeof(SigmaxPollStatus) * n);
	st.details = MemoryContextAllocZero(response_context, sizeof(char *) * n);
	st.recorded = MemoryContextAllocZero(response_context, sizeof(bool) * n);
	error[0] = '\0';

	batch_ok = in_transaction("sigmax worker: recording prices", record_answer_body, &st, error, sizeof(error));
	committed = GetCurrentTimestamp();
	if (!batch_ok && !st.parsed)
	{
		/* jsonb_in refused the body */
		for (int k = 0; k < n; k++)
			st.statuses[k] = POLL_BAD_JSON;
	}
	else if (!batch_ok)
	{
		/* the extension may have gone or changed under us: look at it again */
		check_extension = true;
		memset(st.recorded, 0, sizeof(bool) * n);
	}
	for (int k = 0; k < n; k++)
	{
		outcomes[k].status = st.statuses[k];
		outcomes[k].commit_us = -1;
		if (st.statuses[k] == POLL_OK && st.recorded[k])
			outcomes[k].commit_us = committed - r->req.finished;
		else if (st.statuses[k] == POLL_OK)
		{
			char		one_error[256];

			st.only = k;
			if (in_transaction("sigmax worker: recording a price", record_one_body, &st, one_error,
							   sizeof(one_error)))
				outcomes[k].commit_us = GetCurrentTimestamp() - r->req.finished;
			else
			{
				outcomes[k].status = POLL_RECORD_FAILED;
				copy_clipped(details[k], one_error, sizeof(details[k]));
				check_extension = true;
				continue;
			}
		}
		if (outcomes[k].status == POLL_OK)
			details[k][0] = '\0';
		else if (!batch_ok && !st.parsed)
			copy_clipped(details[k], error, sizeof(details[k]));
		else if (st.statuses[k] == POLL_OK || st.details[k] == NULL)
			copy_clipped(details[k], error, sizeof(details[k]));
		else
			copy_clipped(details[k], st.details[k], sizeof(details[k]));
	}
}

/* Printable ASCII of a body's start, for the detail of an HTTP error. */
static void
append_body_excerpt(char *detail, size_t len, const char *body, size_t body_len)
{
	size_t		used = strlen(detail);
	size_t		i;

	if (body == NULL || body_len == 0 || used + 4 >= len)
		return;
	detail[used++] = ':';
	detail[used++] = ' ';
	for (i = 0; i < body_len && used + 1 < len && i < 160; i++)
	{
		unsigned char c = (unsigned char) body[i];

		detail[used++] = (c >= ' ' && c < 0x7f) ? (char) c : ' ';
	}
	detail[used] = '\0';
}

typedef struct VenueErrorState
{
	const char *venue;
	const char *detail;
} VenueErrorState;

static void
report_venue_error_body(void *arg)
{
	VenueErrorState *st = (VenueErrorState *) arg;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];

	sigmax_check_sql_version();
	sigmax_keep_plan(&venue_error_plan, "SELECT sigmax.record_venue_error($1, $2)", 2, types);
	args[0] = CStringGetTextDatum(st->venue);
	args[1] = CStringGetTextDatum(st->detail);
	if (SPI_execute_plan(venue_error_plan, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax worker: sigmax.record_venue_error failed");
}

/* Report a failed cycle through sigmax.record_venue_error (alert and error-burst trigger). */
static void
report_venue_error(Venue *v)
{
	char		detail[512];
	char		error[200];
	VenueErrorState st = {v->name, detail};

	snprintf(detail, sizeof(detail), "%s: %s (%d of %d symbols failed)",
			 sigmax_poll_status_names[v->cycle_status], v->cycle_detail, v->cycle_failed, v->ntargets);
	if (!in_transaction("sigmax worker: reporting a venue error", report_venue_error_body, &st,
						error, sizeof(error)))
	{
		ereport(LOG, (errmsg("sigmax worker: could not report an error of venue \"%s\": %s", v->name, error)));
		check_extension = true;
	}
}

/* A venue's cycle is over: report a failure, and back off when it keeps failing or asks us to. */
static void
finish_cycle(Venue *v)
{
	TimestampTz now = GetCurrentTimestamp();

	if (v->one_by_one && v->nrequests < v->ntargets)
	{
		MemoryContext old = MemoryContextSwitchTo(config_context);
		char		state[256];

		plan_requests(v);
		MemoryContextSwitchTo(old);
		polling_state(state, sizeof(state));
		sigmax_worker_status_set_state(state);
	}

	if (v->cycle_failed > 0)
	{
		int64		delay_ms = v->interval_ms;

		v->failed_cycles++;
		if (v->failed_cycles >= FAILURES_BEFORE_BACKOFF)
		{
			int			doublings = Min(v->failed_cycles - FAILURES_BEFORE_BACKOFF + 1, 20);

			delay_ms = Min((int64) v->interval_ms << doublings, (int64) sigmax_worker_max_backoff_ms);
			delay_ms = Max(delay_ms, v->interval_ms);
		}
		if (v->cycle_retry_after_s > 0)
			delay_ms = Max(delay_ms, Min(v->cycle_retry_after_s, MAX_RETRY_AFTER_S) * 1000);
		v->backoff_until = v->cycle_started + delay_ms * 1000;
		sigmax_worker_status_set_backoff(v->slot, v->backoff_until);
		report_venue_error(v);
	}
	else
	{
		v->failed_cycles = 0;
		v->backoff_until = 0;
		sigmax_worker_status_set_backoff(v->slot, 0);
	}
	ereport(DEBUG1,
			(errmsg_internal("sigmax worker: %s: %d of %d symbols recorded in %.1f ms%s%s",
							 v->name, v->ntargets - v->cycle_failed, v->ntargets,
							 (now - v->cycle_started) / 1000.0,
							 v->cycle_failed > 0 ? "; last failure: " : "",
							 v->cycle_failed > 0 ? sigmax_poll_status_names[v->cycle_status] : "")));
}

/*
 * Record every finished request, then close the cycles that have nothing
 * left in flight. Each symbol of a request has its own outcome; the request
 * itself (and its latency) counts once.
 */
static void
collect_done(void)
{
	SigmaxHttpRequest *req;

	while ((req = sigmax_http_next_done()) != NULL)
	{
		PollRequest *r = (PollRequest *) ((char *) req - offsetof(PollRequest, req));
		Venue	   *v = &venues[r->venue];
		SigmaxVenueOutcome *outcomes = MemoryContextAllocZero(response_context,
															  sizeof(SigmaxVenueOutcome) * r->ntargets);
		char		(*details)[256] = MemoryContextAllocZero(response_context, 256 * r->ntargets);
		bool		request_failed = false;

		if (req->status == POLL_OK)
			record_answer(v, r, outcomes, details);
		else
		{
			strlcpy(details[0], req->detail, sizeof(details[0]));
			if (req->status != POLL_TOO_LARGE)
				append_body_excerpt(details[0], sizeof(details[0]), req->body, req->len);
			for (int k = 0; k < r->ntargets; k++)
			{
				outcomes[k].status = req->status;
				outcomes[k].commit_us = -1;
				if (k > 0)
					memcpy(details[k], details[0], sizeof(details[0]));
			}
			/*
			 * A venue refuses a whole list with 400 for one symbol it does not
			 * know (Binance: -1121): ask one by one, so that symbol fails
			 * alone. Other refusals (403 from a firewall, 429) would only be
			 * multiplied by more requests.
			 */
			if (r->ntargets > 1 && req->status == POLL_HTTP_4XX && req->http_code == 400 && !v->one_by_one)
			{
				v->one_by_one = true;
				ereport(LOG,
						(errmsg("sigmax worker: venue \"%s\" refused a request for %d symbols with HTTP 400; polling its symbols one by one",
								v->name, r->ntargets),
						 errdetail("%s", details[0]),
						 errhint("A symbol the venue does not list fails alone then; the venue is asked for several symbols at once again when the venues are reloaded.")));
			}
		}
		for (int k = 0; k < r->ntargets; k++)
			request_failed |= outcomes[k].status != POLL_OK;
		for (int k = 0; k < r->ntargets; k++)
		{
			outcomes[k].counts_request = k == 0;
			outcomes[k].request_failed = request_failed;
			outcomes[k].latency_us = k == 0 ? req->latency_us : -1;
			outcomes[k].detail = details[k];
			sigmax_worker_status_record(v->slot, &outcomes[k]);
			if (outcomes[k].status != POLL_OK)
			{
				v->cycle_failed++;
				v->cycle_status = outcomes[k].status;
				copy_clipped(v->cycle_detail, details[k], sizeof(v->cycle_detail));
				if (outcomes[k].status == POLL_RATE_LIMITED || outcomes[k].status == POLL_BANNED)
					v->cycle_retry_after_s = Max(v->cycle_retry_after_s, req->retry_after_s);
			}
		}
		sigmax_http_release(req);
		r->in_flight = false;
		v->in_flight--;
		if (v->in_flight == 0)
			finish_cycle(v);
		MemoryContextReset(response_context);
	}
}

typedef struct SecurityEventsState
{
	SigmaxSecurityEvent *events;
	int			n;
} SecurityEventsState;

/*
 * Each kind of event: its ledger action, its alert kind and severity. The
 * alert's dedup key is the subject, so a repeat counts on the open alert.
 */
static void
report_security_events_body(void *arg)
{
	SecurityEventsState *st = (SecurityEventsState *) arg;
	Oid			types[9] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INT4OID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, TEXTOID};
	int			i;

	for (i = 0; i < st->n; i++)
	{
		SigmaxSecurityEvent *e = &st->events[i];
		Datum		args[9];
		char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
		const char *sql;

		switch (e->kind)
		{
			case SECURITY_EVENT_LOCKOUT:
				args[0] = CStringGetTextDatum("auth.locked_out");
				args[1] = CStringGetTextDatum("auth_lockout");
				args[2] = CStringGetTextDatum("critical");
				break;
			case SECURITY_EVENT_AUTH_BURST:
				args[0] = CStringGetTextDatum("auth.failure_burst");
				args[1] = CStringGetTextDatum("auth_failure_burst");
				args[2] = CStringGetTextDatum("critical");
				break;
			case SECURITY_EVENT_RATE_LIMITED:
				args[0] = CStringGetTextDatum("api.rate_limited");
				args[1] = CStringGetTextDatum("api_rate_limit");
				args[2] = CStringGetTextDatum("warning");
				break;
			default:
				continue;
		}
		args[3] = CStringGetTextDatum(e->subject);
		args[4] = Int32GetDatum(e->count);
		args[5] = Int32GetDatum(e->limit);
		args[6] = TimestampTzGetDatum(e->at);
		args[7] = TimestampTzGetDatum(e->until);
		nulls[7] = e->until == 0 ? 'n' : ' ';
		args[8] = CStringGetTextDatum(e->function);
		if (e->kind == SECURITY_EVENT_RATE_LIMITED)
			sql = "WITH d AS (SELECT jsonb_build_object('subject', $4, 'function', $9, 'rejections', $5, "
				"'per_minute', $6, 'at', $7) AS detail) "
				"SELECT sigmax._audit_write('system', $1, d.detail), "
				"sigmax._raise_alert($2, $3, NULL, d.detail, $4 || ' ' || $9) FROM d";
		else
			sql = "WITH d AS (SELECT jsonb_strip_nulls(jsonb_build_object('address', $4, 'failures', $5, "
				"'max_failures', $6, 'at', $7, 'locked_until', $8)) AS detail) "
				"SELECT sigmax._audit_write('system', $1, d.detail), "
				"sigmax._raise_alert($2, $3, NULL, d.detail, $4) FROM d";
		if (SPI_execute_with_args(sql, 9, types, args, nulls, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "sigmax worker: reporting a security event failed");
	}
}

/*
 * Ledger and alert the security events (lockouts, failure bursts, repeated
 * rate-limit refusals) that sessions recorded in shared memory: the session's
 * own transaction may have rolled back.
 */
static void
report_security_events(void)
{
	SigmaxSecurityEvent events[SIGMAX_SECURITY_EVENTS];
	uint64		upto;
	SecurityEventsState st = {events, 0};
	char		error[200];

	st.n = sigmax_pending_security_events(events, &upto);
	if (st.n == 0)
		return;
	if (in_transaction("sigmax worker: reporting security events", report_security_events_body, &st,
					   error, sizeof(error)))
		sigmax_security_events_reported(upto);
	else
		ereport(LOG, (errmsg("sigmax worker: could not report security events: %s", error)));
}

typedef struct HousekeepingState
{
	const char *sql;
	bool		ran;			/* false: the extension is missing or of another version */
} HousekeepingState;

/* Run one housekeeping query, if the extension is installed at this library's version. */
static void
housekeeping_body(void *arg)
{
	HousekeepingState *st = (HousekeepingState *) arg;
	char	   *version = installed_version();

	if (version == NULL || strcmp(version, SIGMAX_VERSION) != 0)
		return;
	/* never wait long on a lock (a session idle in its transaction): polling waits meanwhile */
	if (SPI_execute("SET LOCAL lock_timeout = '2s'", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "sigmax worker: setting lock_timeout failed");
	if (SPI_execute(st->sql, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax worker: housekeeping query failed");
	st->ran = true;
}

/*
 * Run a housekeeping query when *next is due and set the next time: every_ms
 * later, or READY_RECHECK_MS later while the extension is not ready.
 */
static void
housekeeping_run(TimestampTz now, TimestampTz *next, int every_ms, const char *activity, const char *sql)
{
	HousekeepingState st = {sql, false};
	char		error[200];

	if (now < *next)
		return;
	if (!in_transaction(activity, housekeeping_body, &st, error, sizeof(error)))
		ereport(LOG, (errmsg("%s failed: %s", activity, error)));
	*next = now + (int64) (st.ran ? every_ms : READY_RECHECK_MS) * 1000;
}

/*
 * Housekeeping, not polling, so it runs with polling off too: every
 * APPROVAL_SWEEP_MS close expired approval requests (an order nobody
 * approved stops counting against its account's limits on time), and every
 * BASELINE_CHECK_MS compare each account's trading with its own trailing
 * baseline (unusual_trading alerts).
 */
static void
housekeeping(TimestampTz now)
{
	housekeeping_run(now, &next_approval_sweep, APPROVAL_SWEEP_MS,
					 "sigmax worker: closing expired approvals", "SELECT sigmax._expire_approvals()");
	housekeeping_run(now, &next_baseline_check, BASELINE_CHECK_MS,
					 "sigmax worker: comparing trading with its baseline", "SELECT sigmax._check_trading_baselines()");
}

/* How long to sleep: until the next venue is due, at most READY_RECHECK_MS. */
static long
next_timeout_ms(TimestampTz now)
{
	TimestampTz wake = Min(now + READY_RECHECK_MS * INT64CONST(1000),
						   Min(next_approval_sweep, next_baseline_check));
	int			i;

	if (!ready || !sigmax_worker_enabled)
		wake = Min(wake, next_ready_check);
	else
		for (i = 0; i < nvenues; i++)
		{
			if (venues[i].in_flight > 0 || venues[i].ntargets == 0)
				continue;
			wake = Min(wake, Max(venues[i].next_due, venues[i].backoff_until));
		}
	if (wake <= now)
		return 0;
	return (long) ((wake - now + 999) / 1000);
}

/* The worker's entry point. */
void
sigmax_worker_main(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	/* die: SIGTERM also ends a query or commit that waits (on a lock, a sync standby) */
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	connected_database = MemoryContextStrdup(TopMemoryContext, MyBgworkerEntry->bgw_extra);
	BackgroundWorkerInitializeConnection(connected_database, NULL, 0);
	pgstat_report_appname("sigmax poller");

	/*
	 * The poller runs as the bootstrap superuser: its queries resolve
	 * functions and operators in pg_catalog first whatever search_path the
	 * database or a reload sets, so that no one who can create a schema
	 * object runs code in it.
	 */
	SetConfigOption("search_path", SIGMAX_PINNED_SEARCH_PATH, PGC_SUSET, PGC_S_SESSION);

	config_context = AllocSetContextCreate(TopMemoryContext, "sigmax worker venues", ALLOCSET_DEFAULT_SIZES);
	response_context = AllocSetContextCreate(TopMemoryContext, "sigmax worker response", ALLOCSET_DEFAULT_SIZES);
	loop_context = AllocSetContextCreate(TopMemoryContext, "sigmax worker loop", ALLOCSET_DEFAULT_SIZES);
	if (!sigmax_worker_status_reset(MyProcPid))
	{
		ereport(LOG, (errmsg("sigmax worker: another poller is running; exiting")));
		proc_exit(0);
	}
	before_shmem_exit(worker_exit, (Datum) 0);
	sigmax_http_init();
	ereport(LOG, (errmsg("sigmax worker started in database \"%s\"", connected_database)));

	for (;;)
	{
		TimestampTz now;

		/* what a pass allocates outside a transaction lives until the next pass */
		MemoryContextSwitchTo(loop_context);
		MemoryContextReset(loop_context);
		/* walking every memory context is not free: once a second is enough for worker_state */
		if (GetCurrentTimestamp() >= memory_measured_at + USECS_PER_SEC)
		{
			memory_measured_at = GetCurrentTimestamp();
			sigmax_worker_status_set_memory(MemoryContextMemAllocated(TopMemoryContext, true));
		}
		CHECK_FOR_INTERRUPTS();	/* SIGTERM ends the process here */
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (strcmp(sigmax_database, connected_database) != 0)
				break;
			sigmax_http_apply_settings();
			reload_requested = true;
		}

		now = GetCurrentTimestamp();
		if (!sigmax_worker_enabled)
		{
			if (ready || nvenues > 0)
			{
				cancel_all();
				ready = false;
			}
			reload_requested = true;
			next_ready_check = now + READY_RECHECK_MS * INT64CONST(1000);
			log_once("disabled by sigmax.worker_enabled = off");
			/* polling is off; reporting what sessions could not is not */
			report_security_events();
		}
		else
		{
			if (check_extension)
			{
				check_extension = false;
				if (!extension_ready())
					reload_requested = true;
			}
			if (reload_requested || sigmax_worker_config_generation() != loaded_generation ||
				(!ready && now >= next_ready_check))
				load_config();
			if (ready)
			{
				start_due_requests(GetCurrentTimestamp());
				collect_done();
				report_security_events();
			}
		}
		housekeeping(GetCurrentTimestamp());

		if (sigmax_http_wait(next_timeout_ms(GetCurrentTimestamp())))
			ResetLatch(MyLatch);
		if (ready)
			collect_done();
	}

	/* sigmax.database changed: the launcher starts a poller there */
	proc_exit(0);
}
