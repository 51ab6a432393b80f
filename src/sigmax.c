/*
 * sigmax.c
 *	  Library entry point: settings, hooks that need preloading, and version.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

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

	if (process_shared_preload_libraries_in_progress)
	{
		sigmax_preloaded = true;
		sigmax_shmem_install_hooks();
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

PG_FUNCTION_INFO_V1(sigmax_version);

/* The version of the loaded library, which the SQL objects must match. */
Datum
sigmax_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(SIGMAX_VERSION));
}

/* Prepare a query once per backend and keep its plan (SPI_keepplan); the caller is connected to SPI. */
SPIPlanPtr
sigmax_keep_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
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
