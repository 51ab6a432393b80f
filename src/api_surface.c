/*
 * api_surface.c
 *	  sigmax's API surface: at the outermost call of a public sigmax function,
 *	  the bound key's role and rate limits; and what its errors tell clients.
 *
 * A session bound to a key may call a public sigmax function only when the
 * key's role may execute it, as well as its database role; under
 * sigmax.require_api_key an unbound session may call only authenticate and
 * the like. Checked through fmgr's hook at the outermost sigmax call: what
 * sigmax calls inside is sigmax's business.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/elog.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "sigmax.h"

static needs_fmgr_hook_type prev_needs_fmgr_hook = NULL;
static fmgr_hook_type prev_fmgr_hook = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;
static int	api_depth = 0;
static bool error_escaped = false;	/* an error left the outermost sigmax call */
static bool session_is_superuser = false;	/* as of the last outermost call */
static HTAB *public_fns = NULL;

typedef enum RateClass
{
	RATE_NONE,					/* unbind, session_key, version: never limited */
	RATE_AUTHENTICATE,			/* per client address */
	RATE_SUBMIT_ORDER,
	RATE_CHECK_ORDER,
	RATE_DEFAULT,				/* every other function: reads and administration */
} RateClass;

typedef struct PublicFn
{
	Oid			fn_oid;
	bool		is_public;		/* a sigmax function whose name has no leading "_" */
	bool		before_auth;	/* callable before authenticating */
	RateClass	rate_class;
	char		name[NAMEDATALEN];
} PublicFn;

/* Forget what was learnt about functions (pg_proc or pg_namespace changed). */
static void
public_fns_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	if (public_fns != NULL)
	{
		hash_destroy(public_fns);
		public_fns = NULL;
	}
}

/*
 * What the hook needs to know of a function, looked up once. The catalog
 * lookups come before the entry is made: they may process invalidations,
 * whose callback empties the table.
 */
static PublicFn *
public_fn(Oid fn_oid)
{
	PublicFn   *entry;
	PublicFn	fn;
	HeapTuple	tup;

	if (public_fns != NULL &&
		(entry = hash_search(public_fns, &fn_oid, HASH_FIND, NULL)) != NULL)
		return entry;

	memset(&fn, 0, sizeof(fn));
	fn.fn_oid = fn_oid;
	fn.rate_class = RATE_NONE;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tup);
		char	   *nsp = get_namespace_name(proc->pronamespace);
		const char *name = NameStr(proc->proname);

		fn.is_public = nsp != NULL && strcmp(nsp, "sigmax") == 0 && name[0] != '_';
		fn.before_auth = strcmp(name, "authenticate") == 0 || strcmp(name, "unbind") == 0 ||
			strcmp(name, "session_key") == 0 || strcmp(name, "version") == 0;
		strlcpy(fn.name, name, NAMEDATALEN);
		if (strcmp(name, "authenticate") == 0)
			fn.rate_class = RATE_AUTHENTICATE;
		else if (fn.before_auth || strcmp(name, "may_read_account") == 0)
			fn.rate_class = RATE_NONE;	/* row security calls it once a row */
		else if (strcmp(name, "submit_order") == 0)
			fn.rate_class = RATE_SUBMIT_ORDER;
		else if (strcmp(name, "check_order") == 0)
			fn.rate_class = RATE_CHECK_ORDER;
		else
			fn.rate_class = RATE_DEFAULT;
		ReleaseSysCache(tup);
	}

	if (public_fns == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(PublicFn);
		ctl.hcxt = CacheMemoryContext;
		public_fns = hash_create("sigmax public functions", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(public_fns, &fn_oid, HASH_ENTER, NULL);
	*entry = fn;
	return entry;
}

static bool
api_needs_fmgr_hook(Oid fn_oid)
{
	if (prev_needs_fmgr_hook && prev_needs_fmgr_hook(fn_oid))
		return true;
	/*
	 * Built-in functions are never sigmax's: no catalog lookup for them, nor
	 * outside a transaction in a database (startup, the launcher).
	 */
	if (fn_oid < FirstNormalObjectId || !OidIsValid(MyDatabaseId) || !IsTransactionState() ||
		!IsNormalProcessingMode())
		return false;
	return public_fn(fn_oid)->is_public;
}

/* Calls a minute the bound key may make of the function: the key's own limit, else the setting. */
static int
key_rate_limit(const PublicFn *fn)
{
	int			own = sigmax_bound_rate_override(fn->name);

	if (own >= 0)
		return own;
	switch (fn->rate_class)
	{
		case RATE_SUBMIT_ORDER:
			return sigmax_api_rate_submit_order;
		case RATE_CHECK_ORDER:
			return sigmax_api_rate_check_order;
		case RATE_DEFAULT:
			return sigmax_api_rate_default;
		default:
			return 0;
	}
}

/*
 * The check at the outermost sigmax call: the key's role may execute the
 * function, an unbound session may call it, and the call fits the rate
 * limits (per key and function; per client address for authenticate).
 */
static void
check_api_call(Oid fn_oid)
{
	PublicFn	fn_copy = *public_fn(fn_oid);	/* lookups below may empty the table */
	PublicFn   *fn = &fn_copy;
	const char *role_name;
	int64		key_id;

	session_is_superuser = superuser_arg(GetSessionUserId());
	if (!fn->is_public || session_is_superuser)
		return;
	if (fn->rate_class == RATE_AUTHENTICATE)
	{
		char		address[128];

		sigmax_client_address(address, sizeof(address));
		sigmax_api_rate_take(0, address, fn_oid, fn->name, sigmax_api_rate_authenticate);
		return;
	}
	key_id = sigmax_bound_key(&role_name);
	if (key_id != 0)
	{
		Oid			role = get_role_oid(role_name, true);

		if (!OidIsValid(role) || pg_proc_aclcheck(fn_oid, role, ACL_EXECUTE) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("API key " INT64_FORMAT " may not call %s()", key_id, fn->name),
					 errdetail("The key's role %s may not execute it.", role_name)));
		if (fn->rate_class != RATE_NONE)
			sigmax_api_rate_take(key_id, NULL, fn_oid, fn->name, key_rate_limit(fn));
	}
	else if (sigmax_require_api_key && !fn->before_auth)
		sigmax_refuse_unauthenticated();
}

static void
api_fmgr_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	if (event == FHET_START)
	{
		if (api_depth == 0)
		{
			/* an error of the checks themselves is an error of the call */
			error_escaped = true;
			check_api_call(flinfo->fn_oid);
			error_escaped = false;
		}
		api_depth++;
	}
	else if (api_depth > 0)
	{
		api_depth--;			/* FHET_END or FHET_ABORT */
		if (event == FHET_ABORT && api_depth == 0)
			error_escaped = true;
	}
	if (prev_fmgr_hook)
		prev_fmgr_hook(event, flinfo, private);
}

/*
 * The server log keeps what the client is not told: the context, internal
 * query and source location go into detail_log, which only the log shows.
 */
static void
keep_for_server_log(ErrorData *edata)
{
	StringInfoData buf;
	const char *detail = edata->detail_log ? edata->detail_log : edata->detail;

	if (edata->context == NULL && edata->internalquery == NULL && edata->filename == NULL)
		return;
	initStringInfo(&buf);
	if (detail != NULL)
		appendStringInfoString(&buf, detail);
	if (edata->context != NULL)
		appendStringInfo(&buf, "%sContext: %s", buf.len > 0 ? "\n" : "", edata->context);
	if (edata->internalquery != NULL)
		appendStringInfo(&buf, "%sInternal query: %s", buf.len > 0 ? "\n" : "", edata->internalquery);
	if (edata->filename != NULL)
		appendStringInfo(&buf, "%sLocation: %s, %s:%d", buf.len > 0 ? "\n" : "",
						 edata->funcname ? edata->funcname : "?", edata->filename, edata->lineno);
	edata->detail_log = buf.data;
}

/*
 * What errors tell clients. An error out of a public sigmax call, or a
 * notice inside one, reaches the client with its message, detail, hint and
 * SQLSTATE only: no CONTEXT (PL/pgSQL function names and lines, the SQL of
 * internal statements), no internal query and no source location (C file,
 * line and function), nor the names of the schema, table, column, type or
 * constraint involved. The server log keeps them (keep_for_server_log);
 * internal errors (classes XX and 58, which are bugs or system failures) keep
 * everything for the operator. Superuser sessions see everything.
 */
static void
api_emit_log_hook(ErrorData *edata)
{
	if ((api_depth > 0 || (error_escaped && edata->elevel >= ERROR)) && !session_is_superuser)
	{
		int			category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);

		if (category != ERRCODE_TO_CATEGORY(ERRCODE_INTERNAL_ERROR) &&
			category != ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR))
		{
			if (edata->output_to_server)
				keep_for_server_log(edata);
			edata->context = NULL;
			edata->internalquery = NULL;
			edata->internalpos = 0;
			edata->filename = NULL;
			edata->lineno = 0;
			edata->funcname = NULL;
			edata->schema_name = NULL;
			edata->table_name = NULL;
			edata->column_name = NULL;
			edata->datatype_name = NULL;
			edata->constraint_name = NULL;
		}
	}
	if (edata->elevel >= ERROR)
		error_escaped = false;
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* An error out of a sigmax call (no FHET_ABORT for every path) leaves the depth at zero. */
static void
api_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT)
	{
		api_depth = 0;
		error_escaped = false;
	}
}

/* An error caught by an exception block is not reported: forget it. */
static void
api_subxact_callback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		error_escaped = false;
}

/* Called from _PG_init: install the hooks for every backend that loads the library. */
void
sigmax_api_surface_install_hooks(void)
{
	prev_needs_fmgr_hook = needs_fmgr_hook;
	needs_fmgr_hook = api_needs_fmgr_hook;
	prev_fmgr_hook = fmgr_hook;
	fmgr_hook = api_fmgr_hook;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = api_emit_log_hook;
	CacheRegisterSyscacheCallback(PROCOID, public_fns_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, public_fns_invalidate, (Datum) 0);
	RegisterXactCallback(api_xact_callback, NULL);
	RegisterSubXactCallback(api_subxact_callback, NULL);
}
