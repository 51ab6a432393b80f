/*
 * secrets.h
 *	  Secrets from Vault's KV v2 API with an environment fallback (secrets.c).
 *
 * A secret has a name of 1 to 64 of a-z, 0-9 and "_". With sigmax.vault_addr
 * and sigmax.vault_token_file set it is read from
 * GET {vault_addr}/v1/{vault_mount}/data/{vault_path_prefix}/{name}, field
 * "value"; when Vault is off or fails, from the server's environment variable
 * SIGMAX_{NAME}. Outcomes are cached per backend for sigmax.vault_cache_ttl,
 * a value only when it was asked for; an expired one is wiped at the next use
 * of the cache.
 * Nothing here puts a value in a result, an error or a log line.
 *
 * Exchange credentials are secrets named
 *		{exchange}_{testnet|live}_api_key and {exchange}_{testnet|live}_api_secret
 * (for example binance_testnet_api_key, read from Vault at
 * secret/data/sigmax/binance_testnet_api_key or from the environment as
 * SIGMAX_BINANCE_TESTNET_API_KEY). Paper trading needs none, and the price
 * poller uses none.
 */
#ifndef SIGMAX_SECRETS_H
#define SIGMAX_SECRETS_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "sigmax.h"

#define SIGMAX_SECRET_NAME_MAX 64
#define SIGMAX_SECRET_DETAIL_LEN 256

/* Where a secret came from. */
typedef enum SigmaxSecretSource
{
	SECRET_SOURCE_MISSING,		/* neither Vault nor the environment has it */
	SECRET_SOURCE_VAULT,
	SECRET_SOURCE_ENVIRONMENT
} SigmaxSecretSource;

/* What Vault said (or why it was not asked), whatever the source in the end. */
typedef enum SigmaxSecretStatus
{
	SECRET_OK,					/* Vault answered with the value */
	SECRET_VAULT_OFF,			/* sigmax.vault_addr is empty */
	SECRET_BAD_CONFIG,			/* sigmax.vault_addr, _mount or _path_prefix is unusable */
	SECRET_TOKEN_FILE,			/* the token file is unset, unreadable, empty or not private */
	SECRET_PERMISSION_DENIED,	/* 401 or 403: a bad token, or a policy without read */
	SECRET_NOT_FOUND,			/* 404: no such secret (or its latest version is deleted) */
	SECRET_SERVER_ERROR,		/* 5xx, a sealed Vault included */
	SECRET_HTTP_ERROR,			/* any other status but 200 */
	SECRET_TIMEOUT,				/* no answer within sigmax.vault_timeout */
	SECRET_CONNECTION_FAILED,	/* refused, unreachable, or the name did not resolve */
	SECRET_TLS_ERROR,
	SECRET_BAD_RESPONSE,		/* not JSON, too large, or no string data.data.value */
	SECRET_TRANSPORT_ERROR,		/* any other libcurl failure */
	SECRET_STATUS_COUNT
} SigmaxSecretStatus;

/* How a secret was resolved: never its value. */
typedef struct SigmaxSecretInfo
{
	SigmaxSecretSource source;
	SigmaxSecretStatus status;
	char		detail[SIGMAX_SECRET_DETAIL_LEN];	/* Vault's outcome, for an operator */
	TimestampTz resolved_at;	/* when it was resolved (earlier than now: cached) */
} SigmaxSecretInfo;

/* The two credentials of an exchange account. */
typedef enum SigmaxCredential
{
	SIGMAX_CREDENTIAL_API_KEY,
	SIGMAX_CREDENTIAL_API_SECRET
} SigmaxCredential;

extern const char *sigmax_secret_source_name(SigmaxSecretSource source);
extern const char *sigmax_secret_status_name(SigmaxSecretStatus status);
extern bool sigmax_secret_name_valid(const char *name);

/*
 * Resolve a secret. True when it was found; then, if value is not NULL,
 * *value is a palloc'd copy that the caller wipes and frees with
 * sigmax_secret_free as soon as it is used; with value NULL the lookup is for
 * the status only, and the value is neither copied nor cached. info (may be
 * NULL) says where it came from and what Vault said. May wait up to
 * sigmax.vault_timeout for Vault (a cancel ends the wait with its error);
 * Vault's failures are statuses, never errors: an error is raised only for
 * an invalid name.
 */
extern bool sigmax_secret_get(const char *name, char **value, SigmaxSecretInfo *info);
extern void sigmax_secret_free(char *value);

/*
 * Exchange credentials, for the testnet and live order routing: the secret
 * name of one (false when the exchange name cannot make one), and both
 * values, each a palloc'd copy for sigmax_secret_free. sigmax_exchange_credentials
 * is true only when both were resolved; on false no value is returned and the
 * infos say what is missing. Paper trading has no credentials (an error).
 */
extern bool sigmax_exchange_credential_name(const char *exchange, SigmaxTradingMode mode,
											SigmaxCredential which, char *out, size_t outlen);
extern bool sigmax_exchange_credentials(const char *exchange, SigmaxTradingMode mode,
										char **api_key, char **api_secret,
										SigmaxSecretInfo *key_info, SigmaxSecretInfo *secret_info);

/* guc.c */
extern char *sigmax_vault_addr;
extern char *sigmax_vault_token_file;
extern char *sigmax_vault_mount;
extern char *sigmax_vault_path_prefix;
extern int	sigmax_vault_timeout_ms;
extern int	sigmax_vault_cache_ttl_s;
extern char *sigmax_vault_ca_file;

#endif							/* SIGMAX_SECRETS_H */
