/*
 * sigmax.h
 *	  Declarations shared by the sigmax extension's C files.
 */
#ifndef SIGMAX_H
#define SIGMAX_H

#include "postgres.h"

#include "datatype/timestamp.h"

#ifndef SIGMAX_VERSION
#error "SIGMAX_VERSION must be defined by the Makefile"
#endif

/* Trading modes, as in the GUC sigmax.trading_mode. */
typedef enum SigmaxTradingMode
{
	SIGMAX_MODE_PAPER,
	SIGMAX_MODE_TESTNET,
	SIGMAX_MODE_LIVE
} SigmaxTradingMode;

/* guc.c */
extern int	sigmax_trading_mode;
extern char *sigmax_database;
extern char *sigmax_checkpoint_key_file;
extern int	sigmax_audit_max_payload_bytes;
extern bool sigmax_ledger_restore;
extern int	sigmax_max_rate_buckets;
extern int	sigmax_auto_pause_cooldown;
extern int	sigmax_state_change_grace_ms;
extern bool sigmax_require_api_key;
extern int	sigmax_auth_max_failures;
extern int	sigmax_auth_failure_window_s;
extern int	sigmax_auth_lockout_s;
extern void sigmax_define_gucs(void);

/* auth.c */
#define SIGMAX_LOCKOUT_EVENTS 64
typedef struct SigmaxLockout
{
	char		address[128];
	TimestampTz at;
	TimestampTz until;
	int			failures;
} SigmaxLockout;

extern int	sigmax_auth_pending_lockouts(SigmaxLockout *out, uint64 *upto);
extern void sigmax_auth_lockouts_reported(uint64 upto);
extern Size sigmax_auth_shmem_size(void);
extern void sigmax_auth_shmem_init(void);
extern void sigmax_authorize_account(int64 account_id);
extern void sigmax_auth_install_hooks(void);

/* sigmax.c */
extern bool sigmax_preloaded;
extern void sigmax_require_preload(const char *feature);
extern void sigmax_check_sql_version(void);
extern void sigmax_require_primary(const char *action);
extern struct _SPI_plan *sigmax_keep_plan(struct _SPI_plan **slot, const char *sql, int nargs, Oid *argtypes);

#endif							/* SIGMAX_H */
