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
extern int	sigmax_auth_failure_burst;
extern int	sigmax_api_rate_submit_order;
extern int	sigmax_api_rate_check_order;
extern int	sigmax_api_rate_authenticate;
extern int	sigmax_api_rate_default;
extern int	sigmax_api_rate_alert_after;
extern int	sigmax_approval_ttl_s;
extern void sigmax_define_gucs(void);

/* auth.c: security events, ledgered and alerted by the worker in a transaction of its own */
#define SIGMAX_SECURITY_EVENTS 64
typedef enum SigmaxSecurityEventKind
{
	SECURITY_EVENT_LOCKOUT,		/* an address failed authentication too often */
	SECURITY_EVENT_AUTH_BURST,	/* failed authentications from every address in a minute */
	SECURITY_EVENT_RATE_LIMITED,	/* a key or an address keeps hitting an API rate limit */
} SigmaxSecurityEventKind;

typedef struct SigmaxSecurityEvent
{
	SigmaxSecurityEventKind kind;
	char		subject[128];	/* an address (with its login role), or "key N" */
	char		function[64];	/* the function refused (rate limits) */
	TimestampTz at;
	TimestampTz until;			/* a lockout's end */
	int			count;			/* failures or rejections */
	int			limit;			/* the limit that was hit */
} SigmaxSecurityEvent;

extern void sigmax_security_event(SigmaxSecurityEventKind kind, const char *subject, const char *function,
								  int count, int limit, TimestampTz until);
extern int	sigmax_pending_security_events(SigmaxSecurityEvent *out, uint64 *upto);
extern void sigmax_security_events_reported(uint64 upto);
extern Size sigmax_auth_shmem_size(void);
extern void sigmax_auth_shmem_init(void);
extern void sigmax_authorize_account(int64 account_id);
extern int64 sigmax_bound_key(const char **role);
extern int	sigmax_bound_rate_override(const char *function);
extern void sigmax_client_address(char *out, size_t len);
extern void sigmax_refuse_unauthenticated(void);

/* api_surface.c */
extern void sigmax_api_surface_install_hooks(void);

/* api_limits.c */
extern Size sigmax_api_limits_shmem_size(void);
extern void sigmax_api_limits_shmem_init(void);
extern void sigmax_api_rate_take(int64 key_id, const char *address, Oid fn_oid, const char *function,
								 int per_minute);
extern uint64 sigmax_api_rate_rejections(void);

/* sigmax.c */
extern bool sigmax_preloaded;
extern void sigmax_require_preload(const char *feature);
extern void sigmax_check_sql_version(void);

typedef struct SigmaxOwnerScope
{
	Oid			saved_user;
	int			saved_security_context;
	int			guc_nest_level;
} SigmaxOwnerScope;
extern void sigmax_owner_scope_begin(SigmaxOwnerScope *scope);
extern void sigmax_owner_scope_end(SigmaxOwnerScope *scope);
extern void sigmax_require_primary(const char *action);
/* the search_path of every statement sigmax runs through SPI */
#define SIGMAX_PINNED_SEARCH_PATH "pg_catalog, pg_temp"
extern void sigmax_require_pinned_search_path(void);
extern struct _SPI_plan *sigmax_keep_plan(struct _SPI_plan **slot, const char *sql, int nargs, Oid *argtypes);
typedef void (*SigmaxRelcacheCallback) (Oid relid);
extern void sigmax_register_relcache_callback(SigmaxRelcacheCallback callback);

#endif							/* SIGMAX_H */
