/*
 * guc.c
 *	  Every sigmax setting, defined in one place with its description and context.
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "http.h"
#include "secrets.h"
#include "sigmax.h"

int			sigmax_trading_mode = SIGMAX_MODE_PAPER;
char	   *sigmax_database = NULL;
char	   *sigmax_checkpoint_key_file = NULL;
int			sigmax_audit_max_payload_bytes = 65536;
bool		sigmax_ledger_restore = false;
int			sigmax_max_rate_buckets = 10000;
int			sigmax_auto_pause_cooldown = 30;
bool		sigmax_worker_enabled = true;
int			sigmax_http_connect_timeout_ms = 2000;
int			sigmax_http_timeout_ms = 5000;
int			sigmax_http_low_speed_limit = 100;
int			sigmax_http_low_speed_time = 3;
int			sigmax_http_max_response_bytes = 1024 * 1024;
char	   *sigmax_http_ca_file = NULL;
int			sigmax_http_max_connections = 16;
int			sigmax_http_max_host_connections = 2;
int			sigmax_worker_max_backoff_ms = 30000;
int			sigmax_worker_symbols_per_request = 20;
int			sigmax_state_change_grace_ms = 2000;
bool		sigmax_require_api_key = false;
int			sigmax_auth_max_failures = 5;
int			sigmax_auth_failure_window_s = 300;
int			sigmax_auth_lockout_s = 900;
int			sigmax_auth_failure_burst = 20;
int			sigmax_api_rate_submit_order = 100;
int			sigmax_api_rate_check_order = 1000;
int			sigmax_api_rate_authenticate = 10;
int			sigmax_api_rate_default = 600;
int			sigmax_api_rate_alert_after = 3;
int			sigmax_approval_ttl_s = 900;
/* read from SQL only (sigmax._check_trading_baselines) */
static int	unusual_trading_factor = 10;
static int	unusual_trading_min_orders = 20;
static double unusual_trading_min_notional_pct = 0.1;

/* Secrets: Vault KV v2 with an environment fallback (secrets.c). */
char	   *sigmax_vault_addr = NULL;
char	   *sigmax_vault_token_file = NULL;
char	   *sigmax_vault_mount = NULL;
char	   *sigmax_vault_path_prefix = NULL;
int			sigmax_vault_timeout_ms = 2000;
int			sigmax_vault_cache_ttl_s = 60;
char	   *sigmax_vault_ca_file = NULL;

static const struct config_enum_entry trading_mode_options[] = {
	{"paper", SIGMAX_MODE_PAPER, false},
	{"testnet", SIGMAX_MODE_TESTNET, false},
	{"live", SIGMAX_MODE_LIVE, false},
	{NULL, 0, false}
};

/*
 * Define the sigmax.* settings and reserve the prefix, so that a misspelt
 * sigmax setting is an error rather than a silently ignored placeholder.
 */
void
sigmax_define_gucs(void)
{
	DefineCustomEnumVariable("sigmax.trading_mode",
							 "Cluster-wide trading mode: paper, testnet or live.",
							 "paper simulates fills inside the database; testnet and live "
							 "reach an exchange. Only the server configuration can change it.",
							 &sigmax_trading_mode,
							 SIGMAX_MODE_PAPER,
							 trading_mode_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("sigmax.database",
							   "Database the sigmax background worker connects to.",
							   "The extension must be installed in this database for the worker to run. "
							   "On a change the worker restarts and connects to the new database.",
							   &sigmax_database,
							   "postgres",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("sigmax.checkpoint_key_file",
							   "Ed25519 private key (PEM) that signs ledger checkpoints.",
							   "The file must belong to the server's user with mode 0600 or 0400; "
							   "SQL never sees the key, only its public half.",
							   &sigmax_checkpoint_key_file,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.audit_max_payload_bytes",
							"Largest ledger payload sigmax.audit_append accepts.",
							"The ledger keeps every entry forever: log references to large data, not the data.",
							&sigmax_audit_max_payload_bytes,
							65536,
							256,
							16 * 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("sigmax.ledger_restore",
							 "Accept ledger rows verbatim, as pg_restore writes them.",
							 "Only for restoring a dump, by a superuser; sigmax.audit_verify checks the result.",
							 &sigmax_ledger_restore,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.auto_pause_cooldown",
							"Time after an automatic pause during which sigmax.resume is refused.",
							"After an automatic stop a person re-enables trading, and not at once (MiFID II RTS 6 Art. 15(3)).",
							&sigmax_auto_pause_cooldown,
							30,
							0,
							7 * 24 * 60,
							PGC_SIGHUP,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("sigmax.worker_enabled",
							 "Whether the background worker polls the exchanges.",
							 "Off: the worker stays connected but idle; prices then come only from sigmax.record_price calls.",
							 &sigmax_worker_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.http_connect_timeout",
							"Longest the worker waits for a connection to an exchange.",
							NULL,
							&sigmax_http_connect_timeout_ms,
							2000,
							100,
							60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.http_timeout",
							"Longest one exchange request may take, connection included.",
							"A request that takes longer fails with the status timeout and its venue's prices go stale.",
							&sigmax_http_timeout_ms,
							5000,
							100,
							300000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.http_low_speed_limit",
							"Bytes per second below which an exchange response counts as stalled.",
							"A transfer slower than this for sigmax.http_low_speed_time is abandoned with the status timeout.",
							&sigmax_http_low_speed_limit,
							100,
							1,
							INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.http_low_speed_time",
							"Seconds a response may stay under sigmax.http_low_speed_limit.",
							NULL,
							&sigmax_http_low_speed_time,
							3,
							1,
							300,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.http_max_response_size",
							"Largest exchange response the worker reads.",
							"A larger body is abandoned as it arrives, with the status too_large.",
							&sigmax_http_max_response_bytes,
							1024 * 1024,
							1024,
							64 * 1024 * 1024,
							PGC_SIGHUP,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomStringVariable("sigmax.http_ca_file",
							   "CA bundle (PEM) the worker verifies exchange certificates against.",
							   "Empty: the system's bundle. Verification is always on.",
							   &sigmax_http_ca_file,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.http_max_connections",
							"Most connections the worker keeps open to all exchanges together.",
							"Requests beyond it wait their turn inside the worker.",
							&sigmax_http_max_connections,
							16,
							1,
							256,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.http_max_host_connections",
							"Most connections the worker opens to one exchange host.",
							"Venues rate-limit by address: keep it low.",
							&sigmax_http_max_host_connections,
							2,
							1,
							64,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.worker_max_backoff",
							"Longest pause between polls of a failing exchange.",
							"After consecutive failures a venue is polled at doubling intervals up to this; "
							"a Retry-After from the venue is honoured even when longer.",
							&sigmax_worker_max_backoff_ms,
							30000,
							100,
							3600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.worker_symbols_per_request",
							"Most symbols the worker asks a venue for in one request, where its adapter can.",
							"Binance answers up to 20 symbols for the weight of one; 1 asks for each symbol alone.",
							&sigmax_worker_symbols_per_request,
							20,
							1,
							100,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.state_change_grace",
							"Longest a database-wide state change (the kill switch, a pause) waits for orders in flight.",
							"After it, the sessions that still hold an order open (idle in a transaction) are terminated "
							"and their orders roll back, so that no client can hold off the kill switch.",
							&sigmax_state_change_grace_ms,
							2000,
							0,
							600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("sigmax.require_api_key",
							 "Whether orders need a session authenticated with an API key.",
							 "Off for development. In production turn it on: every session (superusers "
							 "excepted) must call sigmax.authenticate(token) before acting on an account.",
							 &sigmax_require_api_key,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.auth_max_failures",
							"Failed authentications from one address that lock it out.",
							"Counted in shared memory within sigmax.auth_failure_window: a rolled-back attempt still counts.",
							&sigmax_auth_max_failures,
							5,
							1,
							1000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.auth_failure_window",
							"Window in which failed authentications from one address are counted.",
							NULL,
							&sigmax_auth_failure_window_s,
							300,
							1,
							86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.auth_lockout",
							"How long an address that failed too often is refused.",
							"The lockout raises a critical auth_lockout alert.",
							&sigmax_auth_lockout_s,
							900,
							1,
							86400 * 7,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.auth_failure_burst",
							"Failed authentications from all addresses in a minute that raise an auth_failure_burst alert.",
							"Catches guessing spread over many addresses, which no single address's lockout sees. 0 turns it off.",
							&sigmax_auth_failure_burst,
							20,
							0,
							1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.api_rate_submit_order",
							"Calls of submit_order a minute per API key.",
							"A key's own limit (sigmax.set_api_key_rate_limits) overrides it. 0: no limit.",
							&sigmax_api_rate_submit_order,
							100,
							0,
							1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.api_rate_check_order",
							"Calls of check_order a minute per API key.",
							"A key's own limit (sigmax.set_api_key_rate_limits) overrides it. 0: no limit.",
							&sigmax_api_rate_check_order,
							1000,
							0,
							1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.api_rate_default",
							"Calls a minute per API key of each other sigmax function (reads and administration).",
							"A key's own limit (sigmax.set_api_key_rate_limits) overrides it. 0: no limit.",
							&sigmax_api_rate_default,
							600,
							0,
							1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.api_rate_authenticate",
							"Calls of authenticate a minute per client address, whatever the outcome.",
							"0: no limit. Failed authentications also count towards sigmax.auth_max_failures.",
							&sigmax_api_rate_authenticate,
							10,
							0,
							1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.api_rate_alert_after",
							"Refusals by one API rate limit within a minute that raise an api_rate_limit alert.",
							NULL,
							&sigmax_api_rate_alert_after,
							3,
							1,
							1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.approval_ttl",
							"How long a request for a second person's approval stays open.",
							"An expired request is closed; an order waiting on it is cancelled.",
							&sigmax_approval_ttl_s,
							900,
							10,
							86400 * 7,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.unusual_trading_factor",
							"How many times its own baseline an account's last five minutes must be to raise an unusual_trading alert.",
							"The baseline is the account's average five minutes of orders (or notional) over the 24 hours before.",
							&unusual_trading_factor,
							10,
							2,
							1000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.unusual_trading_min_orders",
							"Orders in five minutes below which the order-rate alert is never raised.",
							NULL,
							&unusual_trading_min_orders,
							20,
							1,
							1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomRealVariable("sigmax.unusual_trading_min_notional_pct",
							 "Notional in five minutes, as a fraction of the account's equity, below which the notional alert is never raised.",
							 NULL,
							 &unusual_trading_min_notional_pct,
							 0.1,
							 0.0,
							 100.0,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	/* Secrets: Vault KV v2 with an environment fallback (secrets.c). */
	DefineCustomStringVariable("sigmax.vault_addr",
							   "Address of the Vault server exchange credentials are read from.",
							   "For example https://vault.example.com:8200. Empty: Vault is off and secrets come "
							   "from the server's environment variables SIGMAX_<NAME>. Plain http:// only to a loopback address.",
							   &sigmax_vault_addr,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("sigmax.vault_token_file",
							   "File holding the Vault token sent as X-Vault-Token.",
							   "Read again whenever a secret is fetched, so that Vault Agent can renew it in place. "
							   "The file must allow no access to other users (mode 0600 or 0640).",
							   &sigmax_vault_token_file,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("sigmax.vault_mount",
							   "Path of the KV version 2 secrets engine in Vault.",
							   NULL,
							   &sigmax_vault_mount,
							   "secret",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("sigmax.vault_path_prefix",
							   "Path under the mount where sigmax's secrets are.",
							   "A secret named n is read from {vault_mount}/data/{vault_path_prefix}/n, field value.",
							   &sigmax_vault_path_prefix,
							   "sigmax",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.vault_timeout",
							"Longest a request to Vault may take, connection included.",
							"On a timeout the secret comes from the environment, and Vault is not asked again "
							"until sigmax.vault_cache_ttl has passed.",
							&sigmax_vault_timeout_ms,
							2000,
							100,
							30000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sigmax.vault_cache_ttl",
							"How long a session keeps a secret it resolved before asking Vault again.",
							"0: every use asks Vault. Values are kept in the session's memory only, and wiped when they expire.",
							&sigmax_vault_cache_ttl_s,
							60,
							0,
							3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomStringVariable("sigmax.vault_ca_file",
							   "CA bundle (PEM) Vault's certificate is verified against.",
							   "Empty: the system's bundle. Verification is always on.",
							   &sigmax_vault_ca_file,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	/* Sized at startup: defined only when preloading, as PostgreSQL requires. */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("sigmax.max_rate_buckets",
								"Accounts whose order rate shared memory can track.",
								"Orders of accounts beyond it are rejected with RATE_LIMIT: the limiter fails closed.",
								&sigmax_max_rate_buckets,
								10000,
								100,
								10000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

	MarkGUCPrefixReserved("sigmax");
}

PG_FUNCTION_INFO_V1(sigmax_resume_cooldown);

/* SQL: sigmax.auto_pause_cooldown as an interval. */
Datum
sigmax_resume_cooldown(PG_FUNCTION_ARGS)
{
	Interval   *result = palloc0(sizeof(Interval));

	result->time = (int64) sigmax_auto_pause_cooldown * USECS_PER_MINUTE;
	PG_RETURN_INTERVAL_P(result);
}

PG_FUNCTION_INFO_V1(sigmax_approval_ttl);

/* SQL: sigmax.approval_ttl as an interval. */
Datum
sigmax_approval_ttl(PG_FUNCTION_ARGS)
{
	Interval   *result = palloc0(sizeof(Interval));

	result->time = (int64) sigmax_approval_ttl_s * USECS_PER_SEC;
	PG_RETURN_INTERVAL_P(result);
}
