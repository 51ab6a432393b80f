/*
 * auth.c
 *	  API keys: tokens, authentication with a per-address lockout in shared
 *	  memory, and the session's binding to a key's role and accounts.
 */
#include "postgres.h"

#include <ctype.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "access/transam.h"
#include "access/xact.h"
#include "access/htup_details.h"
#include "utils/syscache.h"
#include "utils/lsyscache.h"
#include "utils/inval.h"
#include "utils/hsearch.h"
#include "utils/acl.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "crypto.h"
#include "poller.h"
#include "ledger.h"
#include "row_lookup.h"
#include "sigmax.h"

#define TOKEN_PREFIX "sgx_"
#define TOKEN_RANDOM_BYTES 32
#define TOKEN_LEN (4 + 43)		/* prefix and 32 bytes in unpadded base64url */
#define LOCKOUT_SLOTS 1024
#define ADDR_LEN 128			/* an address, "/" and a role name */

/* Failed authentications of one client address. */
typedef struct AddressFailures
{
	char		address[ADDR_LEN];	/* empty: free */
	TimestampTz window_start;
	int			failures;
	TimestampTz locked_until;
	TimestampTz last_seen;
} AddressFailures;

typedef struct AuthShared
{
	LWLock	   *lock;
	AddressFailures slots[LOCKOUT_SLOTS];
	TimestampTz burst_window_start;	/* failed authentications from any address */
	int			burst_failures;
	bool		burst_reported;	/* once a window */
	uint64		event_seq;		/* security events since startup */
	uint64		event_done;		/* those the worker has ledgered and alerted */
	SigmaxSecurityEvent events[SIGMAX_SECURITY_EVENTS];	/* the latest, by seq */
} AuthShared;

static AuthShared *auth_shared = NULL;

#define MAX_RATE_OVERRIDES 16		/* sigmax.set_api_key_rate_limits accepts no more */

/* A key's own limit for one function, calls a minute. */
typedef struct RateOverride
{
	char		function[NAMEDATALEN];
	int			per_minute;
} RateOverride;

/* The key this session is bound to (0: none), and the binding its transaction will commit. */
typedef struct Binding
{
	int64		key_id;
	Oid			session_user;	/* who authenticated: a pooled connection's next user is not */
	bool		dead;			/* the key was revoked or expired: refuse until authenticate */
	char		role[NAMEDATALEN];
	int			naccounts;
	int64	   *accounts;		/* in TopMemoryContext */
	int			noverrides;
	RateOverride overrides[MAX_RATE_OVERRIDES];	/* read at authenticate */
} Binding;

static Binding bound = {0};
static Binding pending = {0};
static bool pending_set = false;
static SubTransactionId pending_subid = InvalidSubTransactionId;	/* that authenticated */
static bool callback_registered = false;
static SPIPlanPtr lookup_plan = NULL;

Size
sigmax_auth_shmem_size(void)
{
	return MAXALIGN(sizeof(AuthShared));
}

/* Called from the shmem startup hook, under AddinShmemInitLock. */
void
sigmax_auth_shmem_init(void)
{
	bool		found;

	auth_shared = ShmemInitStruct("sigmax auth", sizeof(AuthShared), &found);
	if (!found)
	{
		memset(auth_shared, 0, sizeof(AuthShared));
		auth_shared->lock = &(GetNamedLWLockTranche("sigmax_auth"))->lock;
	}
}

/* The client's address as text, or "local" for a Unix socket (or a background process). */
void
sigmax_client_address(char *out, size_t len)
{
	LOCAL_FCINFO(addr_fcinfo, 0);
	Datum		addr;

	strlcpy(out, "local", len);
	InitFunctionCallInfoData(*addr_fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	addr = inet_client_addr(addr_fcinfo);
	if (addr_fcinfo->isnull)
		return;
	strlcpy(out, text_to_cstring(DatumGetTextPP(DirectFunctionCall1(network_host, addr))), len);
}

/*
 * The slot of an address, taken when it has none: a free one, else the least
 * recently seen that is not locked out. NULL when every slot is locked out
 * (the caller then refuses). Caller holds the lock.
 */
static AddressFailures *
address_slot(const char *address)
{
	AddressFailures *victim = NULL;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	for (i = 0; i < LOCKOUT_SLOTS; i++)
	{
		AddressFailures *s = &auth_shared->slots[i];

		if (strcmp(s->address, address) == 0)
			return s;
		if (s->locked_until > now)
			continue;
		if (victim == NULL || s->address[0] == '\0' ||
			(victim->address[0] != '\0' && s->last_seen < victim->last_seen))
			victim = s;
	}
	if (victim == NULL)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	strlcpy(victim->address, address, ADDR_LEN);
	return victim;
}

/* Until when the address is locked out (0: it is not). */
static TimestampTz
locked_until(const char *address)
{
	TimestampTz until = 0;
	int			i;

	TimestampTz now = GetCurrentTimestamp();
	bool		room = false;

	LWLockAcquire(auth_shared->lock, LW_SHARED);
	for (i = 0; i < LOCKOUT_SLOTS; i++)
	{
		if (strcmp(auth_shared->slots[i].address, address) == 0)
			until = auth_shared->slots[i].locked_until;
		if (auth_shared->slots[i].locked_until <= now)
			room = true;
	}
	LWLockRelease(auth_shared->lock);
	/* every slot locked out: nobody new can be counted, so nobody new may try */
	if (!room && until == 0)
		return now + (TimestampTz) sigmax_auth_lockout_s * USECS_PER_SEC;
	return until > now ? until : 0;
}

/* Queue an event for the worker; the caller holds auth_shared->lock exclusively. */
static void
queue_event_locked(SigmaxSecurityEventKind kind, const char *subject, const char *function,
				   int count, int limit, TimestampTz until)
{
	SigmaxSecurityEvent *e;

	auth_shared->event_seq++;
	e = &auth_shared->events[auth_shared->event_seq % SIGMAX_SECURITY_EVENTS];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	strlcpy(e->subject, subject, sizeof(e->subject));
	if (function)
		strlcpy(e->function, function, sizeof(e->function));
	e->at = GetCurrentTimestamp();
	e->until = until;
	e->count = count;
	e->limit = limit;
}

/*
 * Record a security event in shared memory, where an aborted transaction
 * cannot undo it, and wake the worker to ledger it and raise its alert.
 */
void
sigmax_security_event(SigmaxSecurityEventKind kind, const char *subject, const char *function,
					  int count, int limit, TimestampTz until)
{
	if (auth_shared == NULL)
		return;
	LWLockAcquire(auth_shared->lock, LW_EXCLUSIVE);
	queue_event_locked(kind, subject, function, count, limit, until);
	LWLockRelease(auth_shared->lock);
	sigmax_worker_wake();
}

/*
 * Count a failure of the address in shared memory, where an aborted
 * transaction cannot undo it. Returns true when this failure locks it out.
 * Failures from every address are counted too: sigmax.auth_failure_burst of
 * them in a minute is a burst (many addresses guessing), reported once a
 * minute.
 */
static bool
count_failure(const char *address)
{
	TimestampTz now = GetCurrentTimestamp();
	AddressFailures *s;
	bool		wake = false;
	bool		locks = false;

	LWLockAcquire(auth_shared->lock, LW_EXCLUSIVE);
	if (now - auth_shared->burst_window_start > USECS_PER_MINUTE)
	{
		auth_shared->burst_window_start = now;
		auth_shared->burst_failures = 0;
		auth_shared->burst_reported = false;
	}
	auth_shared->burst_failures++;
	if (sigmax_auth_failure_burst > 0 && auth_shared->burst_failures >= sigmax_auth_failure_burst &&
		!auth_shared->burst_reported)
	{
		auth_shared->burst_reported = true;
		queue_event_locked(SECURITY_EVENT_AUTH_BURST, "every address", NULL,
						   auth_shared->burst_failures, sigmax_auth_failure_burst, 0);
		wake = true;
	}
	s = address_slot(address);
	if (s != NULL)
	{
		if (now - s->window_start > (TimestampTz) sigmax_auth_failure_window_s * USECS_PER_SEC)
		{
			s->window_start = now;
			s->failures = 0;
		}
		s->failures++;
		s->last_seen = now;
		if (s->failures >= sigmax_auth_max_failures && s->locked_until <= now)
		{
			s->locked_until = now + (TimestampTz) sigmax_auth_lockout_s * USECS_PER_SEC;
			locks = true;
			queue_event_locked(SECURITY_EVENT_LOCKOUT, address, NULL, s->failures,
							   sigmax_auth_max_failures, s->locked_until);
			wake = true;
		}
	}
	LWLockRelease(auth_shared->lock);
	if (wake)
		sigmax_worker_wake();
	return locks;
}

/*
 * Copy the security events the worker has not reported yet (the oldest that
 * still fit); *upto is what to pass to sigmax_security_events_reported.
 */
int
sigmax_pending_security_events(SigmaxSecurityEvent *out, uint64 *upto)
{
	uint64		seq;
	uint64		from;
	int			n = 0;

	if (auth_shared == NULL)
		return 0;
	LWLockAcquire(auth_shared->lock, LW_SHARED);
	seq = auth_shared->event_seq;
	from = Max(auth_shared->event_done, seq > SIGMAX_SECURITY_EVENTS ? seq - SIGMAX_SECURITY_EVENTS : 0);
	for (; from < seq; from++)
		out[n++] = auth_shared->events[(from + 1) % SIGMAX_SECURITY_EVENTS];
	LWLockRelease(auth_shared->lock);
	*upto = seq;
	return n;
}

/* The worker committed the report of the events up to upto. */
void
sigmax_security_events_reported(uint64 upto)
{
	LWLockAcquire(auth_shared->lock, LW_EXCLUSIVE);
	auth_shared->event_done = Max(auth_shared->event_done, upto);
	LWLockRelease(auth_shared->lock);
}

/* Forget the binding an authenticate not yet committed would apply. */
static void
drop_pending(void)
{
	if (pending.accounts != NULL)
		pfree(pending.accounts);
	memset(&pending, 0, sizeof(pending));
	pending_set = false;
	pending_subid = InvalidSubTransactionId;
}

/*
 * A savepoint rolled back (or a PL/pgSQL exception block) takes the
 * authentication made inside it along; a released one hands it to its parent.
 */
static void
auth_subxact_callback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *arg)
{
	if (!pending_set || mySubid != pending_subid)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		drop_pending();
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		pending_subid = parentSubid;
}

/* Apply or drop the pending binding with its transaction. */
static void
auth_xact_callback(XactEvent event, void *arg)
{
	if (!pending_set)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		if (bound.accounts != NULL)
			pfree(bound.accounts);
		bound = pending;
		memset(&pending, 0, sizeof(pending));
		pending_set = false;
		pending_subid = InvalidSubTransactionId;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
			 event == XACT_EVENT_PARALLEL_ABORT)
		drop_pending();
}

PG_FUNCTION_INFO_V1(sigmax_new_api_token);

/* SQL (internal): a new token, 256 random bits from OpenSSL, base64url, with a recognisable prefix. */
Datum
sigmax_new_api_token(PG_FUNCTION_ARGS)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char random[TOKEN_RANDOM_BYTES + 1];
	char		token[TOKEN_LEN + 1];
	int			bits = 0;
	uint32		acc = 0;
	int			n = 4;
	int			i;

	if (RAND_bytes(random, TOKEN_RANDOM_BYTES) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate an API token"),
				 errdetail("The random number generator failed.")));
	memcpy(token, TOKEN_PREFIX, 4);
	for (i = 0; i < TOKEN_RANDOM_BYTES; i++)
	{
		acc = (acc << 8) | random[i];
		bits += 8;
		while (bits >= 6)
		{
			bits -= 6;
			token[n++] = alphabet[(acc >> bits) & 0x3f];
		}
	}
	if (bits > 0)
		token[n++] = alphabet[(acc << (6 - bits)) & 0x3f];
	token[n] = '\0';
	OPENSSL_cleanse(random, sizeof(random));
	PG_RETURN_TEXT_P(cstring_to_text(token));
}

/* True when the text has the shape of a sigmax token (nothing else is looked up). */
static bool
token_well_formed(const char *token, size_t len)
{
	size_t		i;

	if (len != TOKEN_LEN || strncmp(token, TOKEN_PREFIX, 4) != 0)
		return false;
	for (i = 4; i < len; i++)
		if (!isalnum((unsigned char) token[i]) && token[i] != '-' && token[i] != '_')
			return false;
	return true;
}

/* Write an authentication event to the system stream (never the token). */
static void
ledger_auth_event(const char *action, const char *address, int64 key_id, const char *reason)
{
	StringInfoData json;

	initStringInfo(&json);
	appendStringInfoString(&json, "{\"address\": ");
	escape_json(&json, address);
	if (key_id != 0)
		appendStringInfo(&json, ", \"key_id\": " INT64_FORMAT, key_id);
	if (reason != NULL)
	{
		appendStringInfoString(&json, ", \"reason\": ");
		escape_json(&json, reason);
	}
	appendStringInfoChar(&json, '}');
	sigmax_audit_write("system", action,
					   DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data))));
}

/* Return authenticate's row. */
static Datum
auth_row(FunctionCallInfo fcinfo, bool ok, int64 key_id, const char *role, Datum accounts, const char *reason)
{
	TupleDesc	desc;
	Datum		values[5];
	bool		nulls[5] = {false, !ok, !ok, !ok, ok};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "sigmax: authenticate must return a record");
	values[0] = BoolGetDatum(ok);
	values[1] = Int64GetDatum(key_id);
	values[2] = ok ? CStringGetTextDatum(role) : (Datum) 0;
	values[3] = accounts;
	values[4] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}

/*
 * A failed attempt: counted and logged (neither undone by a rollback), and
 * ledgered; a lockout is ledgered and alerted by the worker, in a transaction
 * of its own.
 */
static Datum
auth_failure(FunctionCallInfo fcinfo, MemoryContext call_ctx, const char *address, int64 key_id,
			 const char *reason)
{
	bool		locks = count_failure(address);

	ereport(LOG,
			(errmsg("sigmax: authentication failed from %s: %s", address, reason)));
	if (locks)
		ereport(LOG,
				(errmsg("sigmax: %s is locked out for %d s after %d failed authentications",
						address, sigmax_auth_lockout_s, sigmax_auth_max_failures)));
	ledger_auth_event("auth.failed", address, key_id, reason);
	/* the row must outlive SPI_finish */
	MemoryContextSwitchTo(call_ctx);
	return auth_row(fcinfo, false, 0, NULL, (Datum) 0, reason);
}

PG_FUNCTION_INFO_V1(sigmax_authenticate);

/*
 * SQL: check a token and bind the session to its key's role and accounts when
 * the transaction commits. A wrong, revoked or expired token, or one used
 * from an address outside the key's CIDRs, is a row with authenticated false
 * and the reason (counted, logged and ledgered, never with the token); a
 * malformed token is an error.
 */
Datum
sigmax_authenticate(PG_FUNCTION_ARGS)
{
	char		address[ADDR_LEN];
	char		counter[ADDR_LEN + NAMEDATALEN + 1];
	text	   *token_text;
	char	   *token;
	uint8		hash[SIGMAX_HASH_LEN];
	TimestampTz until;
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	Oid			types[2] = {BYTEAOID, INETOID};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int64		key_id;
	bytea	   *stored;
	Datum		result;
	MemoryContext call_ctx = CurrentMemoryContext;

	sigmax_require_preload("sigmax.authenticate");
	sigmax_check_sql_version();
	sigmax_client_address(address, sizeof(address));
	/* counted per address and login role: one role's failures do not lock out the others behind one address */
	snprintf(counter, sizeof(counter), "%s/%s", address, GetUserNameFromId(GetSessionUserId(), false));

	until = locked_until(counter);
	if (until != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("authentication from %s is locked out until %s", counter, timestamptz_to_str(until)),
				 errdetail("Too many failed authentications came from this address."),
				 errhint("Wait, or ask an administrator to check the alerts.")));
	if (PG_ARGISNULL(0))
	{
		count_failure(counter);
		ereport(LOG, (errmsg("sigmax: authentication failed from %s: a NULL token", counter)));
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("token must not be null")));
	}
	token_text = PG_GETARG_TEXT_PP(0);
	token = VARDATA_ANY(token_text);
	if (!token_well_formed(token, VARSIZE_ANY_EXHDR(token_text)))
	{
		count_failure(counter);
		ereport(LOG, (errmsg("sigmax: authentication failed from %s: a malformed token", counter)));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed API token"),
				 errdetail("A token is \"sgx_\" and 43 characters of base64url, as sigmax.create_api_key returned it.")));
	}
	sigmax_sha256(token, TOKEN_LEN, hash);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	sigmax_keep_plan(&lookup_plan,
					 "SELECT k.key_id, k.role, k.account_ids, k.token_hash, "
					 "k.revoked_at IS NOT NULL, coalesce(k.expires_at <= now(), false), "
					 "CASE WHEN k.allowed_cidrs IS NULL THEN true WHEN $2 IS NULL THEN false "
					 "ELSE $2 <<= ANY (k.allowed_cidrs) END, "
					 "(SELECT array_agg(e.key ORDER BY e.key) FROM jsonb_each(k.rate_limits) e), "
					 "(SELECT array_agg((e.value)::integer ORDER BY e.key) FROM jsonb_each(k.rate_limits) e) "
					 "FROM sigmax.api_keys k WHERE k.token_hash = $1", 2, types);
	args[0] = PointerGetDatum(sigmax_bytea(hash, SIGMAX_HASH_LEN));
	if (strcmp(address, "local") == 0)
		nulls[1] = 'n';
	else
		args[1] = DirectFunctionCall1(inet_in, CStringGetDatum(address));
	if (SPI_execute_plan(lookup_plan, args, nulls, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading the API keys failed");
	if (SPI_processed == 0)
	{
		result = auth_failure(fcinfo, call_ctx, counter, 0, "unknown token");
		SPI_finish();
		return result;
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	key_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	stored = DatumGetByteaPP(SPI_getbinval(tup, desc, 4, &isnull));
	if (VARSIZE_ANY_EXHDR(stored) != SIGMAX_HASH_LEN ||
		CRYPTO_memcmp(VARDATA_ANY(stored), hash, SIGMAX_HASH_LEN) != 0)
		result = auth_failure(fcinfo, call_ctx, counter, 0, "unknown token");
	else if (DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull)))
		result = auth_failure(fcinfo, call_ctx, counter, key_id, "the key is revoked");
	else if (DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull)))
		result = auth_failure(fcinfo, call_ctx, counter, key_id, "the key has expired");
	else if (!DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull)))
		result = auth_failure(fcinfo, call_ctx, counter, key_id, "the address is outside the key's allowed_cidrs");
	else
	{
		char	   *role = SPI_getvalue(tup, desc, 2);
		ArrayType  *accounts = DatumGetArrayTypePCopy(SPI_getbinval(tup, desc, 3, &isnull));
		Datum	   *elems;
		int			n;
		int			i;
		MemoryContext old;

		ledger_auth_event("auth.succeeded", counter, key_id, NULL);
		drop_pending();			/* nothing pending until the new binding is whole */
		pending.key_id = key_id;
		pending.session_user = GetSessionUserId();
		strlcpy(pending.role, role, NAMEDATALEN);
		deconstruct_array(accounts, INT8OID, 8, true, TYPALIGN_DOUBLE, &elems, NULL, &n);
		old = MemoryContextSwitchTo(TopMemoryContext);
		pending.accounts = palloc(sizeof(int64) * Max(n, 1));
		MemoryContextSwitchTo(old);
		for (i = 0; i < n; i++)
			pending.accounts[i] = DatumGetInt64(elems[i]);
		pending.naccounts = n;
		{
			Datum		names = SPI_getbinval(tup, desc, 8, &isnull);
			Datum		limits;
			bool		limits_null;

			limits = SPI_getbinval(tup, desc, 9, &limits_null);
			if (!isnull && !limits_null)
			{
				Datum	   *name_elems;
				Datum	   *limit_elems;
				int			nnames;
				int			nlimits;

				deconstruct_array(DatumGetArrayTypeP(names), TEXTOID, -1, false, TYPALIGN_INT,
								  &name_elems, NULL, &nnames);
				deconstruct_array(DatumGetArrayTypeP(limits), INT4OID, 4, true, TYPALIGN_INT,
								  &limit_elems, NULL, &nlimits);
				for (i = 0; i < nnames && i < nlimits && i < MAX_RATE_OVERRIDES; i++)
				{
					text_to_cstring_buffer(DatumGetTextPP(name_elems[i]), pending.overrides[i].function,
										   NAMEDATALEN);
					pending.overrides[i].per_minute = DatumGetInt32(limit_elems[i]);
				}
				pending.noverrides = i;
			}
		}
		pending_set = true;
		pending_subid = GetCurrentSubTransactionId();
		if (!callback_registered)
		{
			RegisterXactCallback(auth_xact_callback, NULL);
			RegisterSubXactCallback(auth_subxact_callback, NULL);
			callback_registered = true;
		}
		MemoryContextSwitchTo(call_ctx);
		result = auth_row(fcinfo, true, key_id, role, PointerGetDatum(accounts), NULL);
	}
	SPI_finish();
	return result;
}

/* The error of a session that must authenticate first (sigmax.require_api_key). */
void
sigmax_refuse_unauthenticated(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("sigmax requires an API key"),
			 errdetail("sigmax.require_api_key is on and this session has not authenticated."),
			 errhint("Call sigmax.authenticate(token) first.")));
}

/* True when the bound key lists the account. */
static bool
bound_to_account(int64 account_id)
{
	int			i;

	for (i = 0; i < bound.naccounts; i++)
		if (bound.accounts[i] == account_id)
			return true;
	return false;
}

/*
 * At every call: is the bound key still valid (as of the latest commit and the
 * clock now, so that a long transaction cannot outlive a revocation)? A dead
 * key leaves the session refused, not unbound, until it authenticates again.
 * Read through the primary key with no SPI: sigmax.check_order runs it with its
 * caller's rights (docs/risk-checks.md).
 */
static void
validate_binding(void)
{
	bool		valid = false;

	if (!bound.dead)
	{
		Datum		key = Int64GetDatum(bound.key_id);
		Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
		RowLookup	rl;

		row_lookup_begin(&rl, "api_keys", "api_keys_pkey", snap, 1, &key);
		if (row_lookup_next(&rl))
		{
			AttrNumber	expires = row_lookup_attnum(&rl, "expires_at");

			valid = row_lookup_isnull(&rl, row_lookup_attnum(&rl, "revoked_at")) &&
				(row_lookup_isnull(&rl, expires) ||
				 DatumGetTimestampTz(row_lookup_byval(&rl, expires, (Datum) 0)) > GetCurrentTimestamp());
		}
		row_lookup_end(&rl);
		UnregisterSnapshot(snap);
	}
	if (!valid)
	{
		bound.dead = true;
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the session's API key " INT64_FORMAT " was revoked or has expired", bound.key_id),
				 errhint("Authenticate again with a valid key.")));
	}
}

/*
 * May this session act on the account? A session bound to a key acts as the
 * key's role: a trader on the key's accounts only, an admin on any, an
 * auditor on none. An unbound session is refused when sigmax.require_api_key
 * is on (superusers excepted); otherwise it acts as its database role allows.
 */
void
sigmax_authorize_account(int64 account_id)
{
	if (bound.key_id != 0 && bound.session_user != GetSessionUserId())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the session's API key was bound by another user"),
				 errhint("Call sigmax.unbind() when a pooled connection changes hands, then authenticate.")));
	if (bound.key_id == 0)
	{
		if (sigmax_require_api_key && !superuser_arg(GetSessionUserId()))
			sigmax_refuse_unauthenticated();
		return;
	}
	validate_binding();
	if (strcmp(bound.role, "sigmax_admin") == 0)
		return;
	if (strcmp(bound.role, "sigmax_trader") == 0 && bound_to_account(account_id))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("API key " INT64_FORMAT " may not act on account " INT64_FORMAT, bound.key_id, account_id),
			 errdetail("The key's role is %s%s.", bound.role,
					   strcmp(bound.role, "sigmax_trader") == 0 ? " and the account is not among its accounts" : "")));
}

PG_FUNCTION_INFO_V1(sigmax_authorize_account_sql);

/* SQL (internal): sigmax_authorize_account for the PL/pgSQL paths (cancel_order). */
Datum
sigmax_authorize_account_sql(PG_FUNCTION_ARGS)
{
	if (!PG_ARGISNULL(0))
		sigmax_authorize_account(PG_GETARG_INT64(0));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(sigmax_unbind);

/* SQL: forget the session's key (a connection pool's reset query); true when there was one. */
Datum
sigmax_unbind(PG_FUNCTION_ARGS)
{
	bool		was = bound.key_id != 0;

	if (bound.accounts != NULL)
		pfree(bound.accounts);
	memset(&bound, 0, sizeof(bound));
	drop_pending();
	PG_RETURN_BOOL(was);
}

PG_FUNCTION_INFO_V1(sigmax_session_key);

/* SQL: the key this session is bound to (no row: none). */
Datum
sigmax_session_key(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[3];
	bool		nulls[3] = {false};
	Datum	   *elems;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (bound.key_id == 0)
		return (Datum) 0;
	elems = palloc(sizeof(Datum) * Max(bound.naccounts, 1));
	for (i = 0; i < bound.naccounts; i++)
		elems[i] = Int64GetDatum(bound.accounts[i]);
	values[0] = Int64GetDatum(bound.key_id);
	values[1] = CStringGetTextDatum(bound.role);
	values[2] = PointerGetDatum(construct_array(elems, bound.naccounts, INT8OID, 8, true, TYPALIGN_DOUBLE));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/* The key the session is bound to (0: none) and, through role, its role. */
int64
sigmax_bound_key(const char **role)
{
	if (role)
		*role = bound.role;
	return bound.key_id;
}

/* The bound key's own calls-a-minute limit for a function; -1 when it sets none. */
int
sigmax_bound_rate_override(const char *function)
{
	for (int i = 0; i < bound.noverrides; i++)
		if (strcmp(bound.overrides[i].function, function) == 0)
			return bound.overrides[i].per_minute;
	return -1;
}

PG_FUNCTION_INFO_V1(sigmax_may_read_account);

/*
 * SQL: may this session read the account's rows? sigmax's own code (running
 * as the extension's owner) reads everything. A session bound to a key reads
 * the key's accounts (a trader), every account (an admin or an auditor), or
 * nothing once the key is dead. An unbound session reads everything, unless
 * sigmax.require_api_key is on. Row security and the account views use it.
 */
Datum
sigmax_may_read_account(PG_FUNCTION_ARGS)
{
	if (superuser_arg(GetUserId()) || superuser_arg(GetSessionUserId()))
		PG_RETURN_BOOL(true);
	if (bound.key_id == 0)
		PG_RETURN_BOOL(!sigmax_require_api_key);
	if (bound.dead || bound.session_user != GetSessionUserId())
		PG_RETURN_BOOL(false);
	if (strcmp(bound.role, "sigmax_trader") != 0)
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(!PG_ARGISNULL(0) && bound_to_account(PG_GETARG_INT64(0)));
}
