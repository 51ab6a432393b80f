/*
 * secrets.c
 *	  Secrets from Vault's KV v2 HTTP API (libcurl), cached briefly per
 *	  backend, with the server's environment as the fallback.
 *
 * A value asked for lives in this backend's "sigmax secrets" memory context
 * for sigmax.vault_cache_ttl at most: it is wiped when replaced, when the
 * Vault settings change, and at the first use of the cache after it expired
 * (every use sweeps out what expired). A lookup for the status only (the SQL
 * functions) keeps no value: it caches the outcome alone. The token, the
 * request header, Vault's answer and the JSON parser's copies are wiped
 * after each request.
 * No value or token is ever put in a result, an error or a log line.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "access/htup_details.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "http.h"
#include "poller.h"
#include "secrets.h"
#include "sigmax.h"

#define VAULT_MAX_RESPONSE (64 * 1024)	/* a KV v2 answer for one value is far smaller */
#define VAULT_MAX_TOKEN 4096
#define VAULT_MAX_PATH 256		/* sigmax.vault_mount and sigmax.vault_path_prefix */
#define VAULT_POLL_MS 100		/* longest wait between two interrupt checks */
#define VAULT_MAX_DEPTH 64		/* nesting of objects and arrays in an answer */
#define TOKEN_HEADER "X-Vault-Token: "

static const char *const source_names[] = {
	[SECRET_SOURCE_MISSING] = "missing",
	[SECRET_SOURCE_VAULT] = "vault",
	[SECRET_SOURCE_ENVIRONMENT] = "environment",
};

static const char *const status_names[SECRET_STATUS_COUNT] = {
	[SECRET_OK] = "ok",
	[SECRET_VAULT_OFF] = "vault_off",
	[SECRET_BAD_CONFIG] = "bad_config",
	[SECRET_TOKEN_FILE] = "token_file",
	[SECRET_PERMISSION_DENIED] = "permission_denied",
	[SECRET_NOT_FOUND] = "not_found",
	[SECRET_SERVER_ERROR] = "server_error",
	[SECRET_HTTP_ERROR] = "http_error",
	[SECRET_TIMEOUT] = "timeout",
	[SECRET_CONNECTION_FAILED] = "connection_failed",
	[SECRET_TLS_ERROR] = "tls_error",
	[SECRET_BAD_RESPONSE] = "bad_response",
	[SECRET_TRANSPORT_ERROR] = "transport_error",
};

/* One resolved secret in the cache: its value (NULL when missing) and how it was found. */
typedef struct SecretEntry
{
	char		name[SIGMAX_SECRET_NAME_MAX + 1];	/* hash key */
	SigmaxSecretInfo info;
	char	   *value;			/* in SecretContext, NUL-terminated */
	size_t		value_len;
} SecretEntry;

/* A (name, source, status) already logged by this backend. */
typedef struct LoggedCause
{
	char		key[SIGMAX_SECRET_NAME_MAX + 32];
} LoggedCause;

/*
 * The request in flight. Static, so that the cleanup after an error (an
 * interrupt while waiting) sees every handle however far the request got.
 */
typedef struct VaultRequest
{
	CURLM	   *multi;
	CURL	   *easy;
	bool		added;			/* easy is in multi */
	struct curl_slist *headers;
	char	   *token;			/* in SecretContext */
	size_t		token_len;
	char	   *body;			/* malloc'd once at its cap: no realloc leaves copies behind */
	size_t		len;
	bool		too_large;
	char		errbuf[CURL_ERROR_SIZE];
} VaultRequest;

static MemoryContext SecretContext = NULL;
static HTAB *secret_cache = NULL;
static HTAB *logged_causes = NULL;
static char *settings_seen = NULL;	/* the Vault settings the cache was filled under */
static bool curl_ready = false;
static VaultRequest req;

/* Vault itself failing (no answer at all): not asked again until the cache TTL passes. */
static struct
{
	bool		active;
	SigmaxSecretStatus status;
	char		detail[SIGMAX_SECRET_DETAIL_LEN];
	TimestampTz at;
}			vault_down;

/* The text of a source, as SQL shows it. */
const char *
sigmax_secret_source_name(SigmaxSecretSource source)
{
	return source_names[source];
}

/* The text of a status, as SQL shows it. */
const char *
sigmax_secret_status_name(SigmaxSecretStatus status)
{
	return status_names[status];
}

/* True for 1 to 64 of a-z, 0-9 and "_": what a Vault path and an environment variable can both hold. */
bool
sigmax_secret_name_valid(const char *name)
{
	size_t		i;

	if (name == NULL || name[0] == '\0')
		return false;
	for (i = 0; name[i] != '\0'; i++)
	{
		char		c = name[i];

		if (i >= SIGMAX_SECRET_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* Wipe and free a value returned by sigmax_secret_get. */
void
sigmax_secret_free(char *value)
{
	if (value == NULL)
		return;
	explicit_bzero(value, strlen(value));
	pfree(value);
}

/* The memory context and the hash tables, made on first use. */
static void
secrets_init(void)
{
	HASHCTL		ctl;

	if (SecretContext != NULL)
		return;
	SecretContext = AllocSetContextCreate(TopMemoryContext, "sigmax secrets", ALLOCSET_SMALL_SIZES);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = SIGMAX_SECRET_NAME_MAX + 1;
	ctl.entrysize = sizeof(SecretEntry);
	ctl.hcxt = SecretContext;
	secret_cache = hash_create("sigmax secret cache", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(((LoggedCause *) NULL)->key);
	ctl.entrysize = sizeof(LoggedCause);
	ctl.hcxt = SecretContext;
	logged_causes = hash_create("sigmax secret causes logged", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* Wipe and free an entry's value. */
static void
entry_wipe(SecretEntry *entry)
{
	if (entry->value != NULL)
	{
		explicit_bzero(entry->value, entry->value_len);
		pfree(entry->value);
	}
	entry->value = NULL;
	entry->value_len = 0;
}

/* Forget one secret. */
static void
cache_remove(SecretEntry *entry)
{
	char		name[SIGMAX_SECRET_NAME_MAX + 1];

	entry_wipe(entry);
	strlcpy(name, entry->name, sizeof(name));
	hash_search(secret_cache, name, HASH_REMOVE, NULL);
}

/* Forget every secret (the Vault settings changed). */
static void
cache_flush(void)
{
	HASH_SEQ_STATUS seq;
	SecretEntry *entry;

	hash_seq_init(&seq, secret_cache);
	while ((entry = hash_seq_search(&seq)) != NULL)
		cache_remove(entry);
	vault_down.active = false;
}

/*
 * Flush the cache when a reload changed where or how Vault is asked, so that
 * a new address, mount, path, token or timeout applies at once.
 */
static void
settings_check(void)
{
	char	   *current = psprintf("%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%d",
								   sigmax_vault_addr ? sigmax_vault_addr : "",
								   sigmax_vault_mount ? sigmax_vault_mount : "",
								   sigmax_vault_path_prefix ? sigmax_vault_path_prefix : "",
								   sigmax_vault_token_file ? sigmax_vault_token_file : "",
								   sigmax_vault_ca_file ? sigmax_vault_ca_file : "",
								   sigmax_vault_timeout_ms);

	if (settings_seen == NULL || strcmp(current, settings_seen) != 0)
	{
		cache_flush();
		if (settings_seen != NULL)
			pfree(settings_seen);
		settings_seen = MemoryContextStrdup(SecretContext, current);
	}
	pfree(current);
}

/* True when a cached outcome is younger than sigmax.vault_cache_ttl (as of now). */
static bool
still_fresh(TimestampTz resolved_at, TimestampTz now)
{
	return sigmax_vault_cache_ttl_s > 0 &&
		now < resolved_at + (int64) sigmax_vault_cache_ttl_s * USECS_PER_SEC;
}

/*
 * Forget every entry older than sigmax.vault_cache_ttl, wiping its value: run
 * at each use of the cache, so that no expired value outlives it.
 */
static void
cache_sweep(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	SecretEntry *entry;

	hash_seq_init(&seq, secret_cache);
	while ((entry = hash_seq_search(&seq)) != NULL)
		if (!still_fresh(entry->info.resolved_at, now))
			cache_remove(entry);
}

/*
 * A Vault mount or path prefix: segments of A-Z, a-z, 0-9, "_", "-" and "."
 * joined by "/", none of them "." or "..". Leading and trailing "/" are
 * dropped; *out is the path to use.
 */
static bool
vault_path_ok(const char *setting, bool may_be_empty, char **out)
{
	const char *start = setting ? setting : "";
	size_t		len;
	char	   *path;
	char	   *segment;
	char	   *p;

	while (*start == '/')
		start++;
	len = strlen(start);
	while (len > 0 && start[len - 1] == '/')
		len--;
	if (len == 0)
	{
		*out = pstrdup("");
		return may_be_empty;
	}
	if (len > VAULT_MAX_PATH)
		return false;
	path = pnstrdup(start, len);
	segment = path;
	for (p = path;; p++)
	{
		if (*p == '/' || *p == '\0')
		{
			size_t		seglen = p - segment;

			if (seglen == 0 || (seglen == 1 && segment[0] == '.') ||
				(seglen == 2 && segment[0] == '.' && segment[1] == '.'))
				return false;
			if (*p == '\0')
				break;
			segment = p + 1;
		}
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				   (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return false;
	}
	*out = path;
	return true;
}

/*
 * The KV v2 URL of a secret, or NULL with *detail saying which setting is
 * unusable. https anywhere, plain http only to a loopback address (the same
 * rule as the exchanges' URLs).
 */
static char *
vault_url(const char *name, char *detail)
{
	const char *addr = sigmax_vault_addr;
	size_t		len = strlen(addr);
	char	   *base;
	char	   *why;
	char	   *mount;
	char	   *prefix;

	while (len > 0 && addr[len - 1] == '/')
		len--;
	base = pnstrdup(addr, len);
	if (!sigmax_poll_url_allowed(base, true, &why))
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "sigmax.vault_addr is not allowed: %s", why);
		return NULL;
	}
	if (!vault_path_ok(sigmax_vault_mount, false, &mount))
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN,
				 "sigmax.vault_mount must be segments of letters, digits, \"_\", \"-\" and \".\" joined by \"/\"");
		return NULL;
	}
	if (!vault_path_ok(sigmax_vault_path_prefix, true, &prefix))
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN,
				 "sigmax.vault_path_prefix must be empty or segments of letters, digits, \"_\", \"-\" and \".\" joined by \"/\"");
		return NULL;
	}
	return psprintf("%s/v1/%s/data/%s%s%s", base, mount, prefix, prefix[0] ? "/" : "", name);
}

/*
 * Read the Vault token into req.token, afresh at every request (Vault Agent
 * renews it in place). The file must be a regular file (not a symbolic link,
 * a FIFO or a device: opened without following a link or blocking), owned by
 * the server's user and allowing nothing to other users; one line of
 * printable ASCII, trailing white space ignored.
 */
static SigmaxSecretStatus
read_token(char *detail)
{
	const char *path = sigmax_vault_token_file;
	struct stat st;
	int			fd;
	size_t		len = 0;
	size_t		i;

	if (path == NULL || path[0] == '\0')
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "sigmax.vault_token_file is not set");
		return SECRET_TOKEN_FILE;
	}
	fd = OpenTransientFile(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | PG_BINARY);
	if (fd < 0 && errno == ELOOP)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN,
				 "the token file (sigmax.vault_token_file) is a symbolic link: it is not followed");
		return SECRET_TOKEN_FILE;
	}
	if (fd < 0)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "the token file (sigmax.vault_token_file) cannot be read: %m");
		return SECRET_TOKEN_FILE;
	}
	/* check the file opened, not the name: no race between the check and the read */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
	{
		CloseTransientFile(fd);
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "the token file (sigmax.vault_token_file) is not a regular file");
		return SECRET_TOKEN_FILE;
	}
	if (st.st_uid != geteuid())
	{
		CloseTransientFile(fd);
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN,
				 "the token file (sigmax.vault_token_file) is not owned by the server's user (uid %u): it is not used",
				 (unsigned int) geteuid());
		return SECRET_TOKEN_FILE;
	}
	if ((st.st_mode & S_IRWXO) != 0)
	{
		CloseTransientFile(fd);
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN,
				 "the token file (sigmax.vault_token_file) is accessible to other users (mode %04o): it is not used until it is chmod 0600 or 0640",
				 (unsigned int) (st.st_mode & 07777));
		return SECRET_TOKEN_FILE;
	}
	req.token = MemoryContextAlloc(SecretContext, VAULT_MAX_TOKEN + 2);
	req.token_len = VAULT_MAX_TOKEN + 2;
	for (;;)
	{
		ssize_t		n = read(fd, req.token + len, VAULT_MAX_TOKEN + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
		{
			snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "the token file (sigmax.vault_token_file) cannot be read: %m");
			CloseTransientFile(fd);
			return SECRET_TOKEN_FILE;
		}
		if (n == 0 || len + n > VAULT_MAX_TOKEN)
		{
			len += n;
			break;
		}
		len += n;
	}
	CloseTransientFile(fd);
	if (len > VAULT_MAX_TOKEN)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "the token file (sigmax.vault_token_file) is longer than %d bytes",
				 VAULT_MAX_TOKEN);
		return SECRET_TOKEN_FILE;
	}
	while (len > 0 && (req.token[len - 1] == '\n' || req.token[len - 1] == '\r' ||
					   req.token[len - 1] == ' ' || req.token[len - 1] == '\t'))
		len--;
	req.token[len] = '\0';
	if (len == 0)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "the token file (sigmax.vault_token_file) is empty");
		return SECRET_TOKEN_FILE;
	}
	/* a token goes into a header: nothing but printable ASCII */
	for (i = 0; i < len; i++)
		if (req.token[i] <= ' ' || req.token[i] >= 0x7f)
		{
			snprintf(detail, SIGMAX_SECRET_DETAIL_LEN,
					 "the token file (sigmax.vault_token_file) holds a space, a control character or a non-ASCII byte");
			return SECRET_TOKEN_FILE;
		}
	return SECRET_OK;
}

/*
 * Collect Vault's answer into the buffer allocated at its cap; more makes
 * libcurl abort the transfer. No error may be raised here (libcurl's stack).
 */
static size_t
vault_write(char *data, size_t size, size_t nmemb, void *userp)
{
	size_t		n = size * nmemb;

	if (req.len + n > VAULT_MAX_RESPONSE)
	{
		req.too_large = true;
		return 0;
	}
	memcpy(req.body + req.len, data, n);
	req.len += n;
	return n;
}

/* Free every handle and buffer of the request, wiping the token, the header and the answer. */
static void
request_cleanup(void)
{
	if (req.added)
		curl_multi_remove_handle(req.multi, req.easy);
	if (req.easy != NULL)
		curl_easy_cleanup(req.easy);
	if (req.multi != NULL)
		curl_multi_cleanup(req.multi);
	if (req.headers != NULL)
	{
		struct curl_slist *h;

		for (h = req.headers; h != NULL; h = h->next)
			if (h->data != NULL)
				explicit_bzero(h->data, strlen(h->data));
		curl_slist_free_all(req.headers);
	}
	if (req.body != NULL)
	{
		explicit_bzero(req.body, VAULT_MAX_RESPONSE + 1);
		free(req.body);
	}
	if (req.token != NULL)
	{
		explicit_bzero(req.token, req.token_len);
		pfree(req.token);
	}
	memset(&req, 0, sizeof(req));
}

/* Classify a transfer that libcurl ended with an error. */
static SigmaxSecretStatus
transfer_failed(CURLcode code, char *detail)
{
	const char *why = req.errbuf[0] ? req.errbuf : curl_easy_strerror(code);

	switch (code)
	{
		case CURLE_OPERATION_TIMEDOUT:
			snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "Vault did not answer within %d ms", sigmax_vault_timeout_ms);
			return SECRET_TIMEOUT;
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_CONNECT:
			snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "Vault is unreachable: %s", why);
			return SECRET_CONNECTION_FAILED;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
			snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "TLS with Vault failed: %s", why);
			return SECRET_TLS_ERROR;
		case CURLE_WRITE_ERROR:
		case CURLE_FILESIZE_EXCEEDED:
			if (req.too_large || code == CURLE_FILESIZE_EXCEEDED)
			{
				snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "Vault's answer is larger than %d bytes", VAULT_MAX_RESPONSE);
				return SECRET_BAD_RESPONSE;
			}
			break;
		default:
			break;
	}
	snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "the request to Vault failed: %s", why);
	return SECRET_TRANSPORT_ERROR;
}

/*
 * GET url with the token in X-Vault-Token, waiting in short steps so that a
 * cancel or a termination is served within VAULT_POLL_MS. The caller cleans
 * up (request_cleanup) on every path, errors included.
 */
static SigmaxSecretStatus
vault_request(const char *url, char *detail)
{
	CURLMcode	mc = CURLM_OK;
	CURLMsg    *msg;
	CURLcode	code = CURLE_OK;
	bool		done = false;
	int			running = 1;
	int			left;
	long		http_code = 0;
	char	   *header;
	TimestampTz deadline;

	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		{
			snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "libcurl could not be initialised");
			return SECRET_TRANSPORT_ERROR;
		}
		curl_ready = true;
	}
	req.body = malloc(VAULT_MAX_RESPONSE + 1);
	req.multi = curl_multi_init();
	req.easy = curl_easy_init();
	if (req.body == NULL || req.multi == NULL || req.easy == NULL)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "libcurl could not create a request (out of memory)");
		return SECRET_TRANSPORT_ERROR;
	}

	/* the header is copied by libcurl; our copy is wiped at once, libcurl's in request_cleanup */
	header = MemoryContextAlloc(SecretContext, strlen(TOKEN_HEADER) + strlen(req.token) + 1);
	strcpy(header, TOKEN_HEADER);
	strcat(header, req.token);
	req.headers = curl_slist_append(NULL, header);
	explicit_bzero(header, strlen(header));
	pfree(header);
	if (req.headers == NULL)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "libcurl could not create a request (out of memory)");
		return SECRET_TRANSPORT_ERROR;
	}

	curl_easy_setopt(req.easy, CURLOPT_URL, url);
	curl_easy_setopt(req.easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(req.easy, CURLOPT_HTTPHEADER, req.headers);
	curl_easy_setopt(req.easy, CURLOPT_ERRORBUFFER, req.errbuf);
	curl_easy_setopt(req.easy, CURLOPT_WRITEFUNCTION, vault_write);
	sigmax_http_secure_options(req.easy, sigmax_vault_ca_file);
	/* plain http goes to loopback only: never through a proxy that would see the token */
	if (pg_strncasecmp(url, "http://", 7) == 0)
		curl_easy_setopt(req.easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(req.easy, CURLOPT_CONNECTTIMEOUT_MS, (long) sigmax_vault_timeout_ms);
	curl_easy_setopt(req.easy, CURLOPT_TIMEOUT_MS, (long) sigmax_vault_timeout_ms);
	curl_easy_setopt(req.easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) VAULT_MAX_RESPONSE);
	curl_easy_setopt(req.easy, CURLOPT_FORBID_REUSE, 1L);
	if (curl_multi_add_handle(req.multi, req.easy) != CURLM_OK)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "libcurl refused the request");
		return SECRET_TRANSPORT_ERROR;
	}
	req.added = true;

	/* libcurl enforces the timeout; this deadline only guards against a stuck loop */
	deadline = GetCurrentTimestamp() + (int64) (sigmax_vault_timeout_ms + 1000) * 1000;
	while (running > 0)
	{
		CHECK_FOR_INTERRUPTS();
		mc = curl_multi_perform(req.multi, &running);
		if (mc != CURLM_OK || running == 0)
			break;
		if (GetCurrentTimestamp() > deadline)
		{
			snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "Vault did not answer within %d ms", sigmax_vault_timeout_ms);
			return SECRET_TIMEOUT;
		}
		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		mc = curl_multi_poll(req.multi, NULL, 0, VAULT_POLL_MS, NULL);
		pgstat_report_wait_end();
		if (mc != CURLM_OK)
			break;
	}
	if (mc != CURLM_OK)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "the request to Vault failed: %s", curl_multi_strerror(mc));
		return SECRET_TRANSPORT_ERROR;
	}
	while ((msg = curl_multi_info_read(req.multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
		{
			code = msg->data.result;
			done = true;
		}
	if (!done)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "the request to Vault failed: libcurl reported no outcome");
		return SECRET_TRANSPORT_ERROR;
	}
	if (code != CURLE_OK)
		return transfer_failed(code, detail);

	curl_easy_getinfo(req.easy, CURLINFO_RESPONSE_CODE, &http_code);
	if (http_code == 200)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "Vault answered 200");
		return SECRET_OK;
	}
	if (http_code == 401 || http_code == 403)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "Vault answered %ld (permission denied or a bad token)", http_code);
		return SECRET_PERMISSION_DENIED;
	}
	snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "Vault answered %ld", http_code);
	if (http_code == 404)
		return SECRET_NOT_FOUND;
	if (http_code >= 500 && http_code < 600)
		return SECRET_SERVER_ERROR;
	return SECRET_HTTP_ERROR;
}

/* Where the parser is in a KV v2 answer, and the data.data.value found so far. */
typedef struct AnswerState
{
	int			level;			/* objects and arrays open around the current token */
	int			on_path;		/* how many of the open fields are data, data, value in turn */
	bool		want_value;		/* copy the value out (false: only say whether there is one) */
	bool		found;			/* the last data.data.value is a non-empty string */
	char	   *value;			/* its copy in SecretContext, with want_value */
	size_t		value_len;
} AnswerState;

static const char *const answer_path[] = {"data", "data", "value"};

/* Forget the value found so far (a later member of the same name replaces it). */
static void
answer_forget(AnswerState *state)
{
	if (state->value != NULL)
	{
		explicit_bzero(state->value, state->value_len);
		pfree(state->value);
	}
	state->value = NULL;
	state->value_len = 0;
	state->found = false;
}

/* Semantic action: an object or an array opens. */
static void
answer_open(void *arg)
{
	((AnswerState *) arg)->level++;
}

/* Semantic action: an object or an array closes. */
static void
answer_close(void *arg)
{
	((AnswerState *) arg)->level--;
}

/*
 * Semantic action: a member of an object starts. It continues the path
 * data.data.value when every enclosing member does and its name is the next
 * one; then it replaces whatever an earlier member of that name gave.
 */
static void
answer_field(void *arg, char *fname, bool isnull)
{
	AnswerState *state = (AnswerState *) arg;
	int			level = state->level;

	if (state->on_path >= level - 1)
	{
		state->on_path = level - 1;
		if (level <= (int) lengthof(answer_path) && fname != NULL &&
			strcmp(fname, answer_path[level - 1]) == 0)
		{
			state->on_path = level;
			answer_forget(state);
		}
	}
	if (fname != NULL)
		pfree(fname);
}

/*
 * Semantic action: a scalar. The parser's copy of a string is wiped at once;
 * data.data.value, when it is a non-empty string, is copied first if wanted.
 */
static void
answer_scalar(void *arg, char *token, JsonTokenType tokentype)
{
	AnswerState *state = (AnswerState *) arg;
	size_t		len;

	if (token == NULL)
		return;
	len = strlen(token);
	if (state->level == (int) lengthof(answer_path) && state->on_path == state->level &&
		tokentype == JSON_TOKEN_STRING && len > 0)
	{
		state->found = true;
		if (state->want_value)
		{
			state->value = MemoryContextAlloc(SecretContext, len + 1);
			memcpy(state->value, token, len + 1);
			state->value_len = len;
		}
	}
	explicit_bzero(token, len);
	pfree(token);
}

/*
 * The deepest nesting of objects and arrays in a JSON text, strings skipped;
 * -1 when a bracket closes more than is open. Checked before parsing, so
 * that the recursive parser cannot run out of stack (an error).
 */
static int
json_depth(const char *text, size_t len)
{
	int			depth = 0;
	int			deepest = 0;
	bool		in_string = false;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		char		c = text[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
			deepest = Max(deepest, ++depth);
		else if ((c == '}' || c == ']') && --depth < 0)
			return -1;
	}
	return deepest;
}

/*
 * Read data.data.value of a KV v2 answer with PostgreSQL's JSON parser and
 * semantic actions, which convert nothing (a number out of any range is
 * just a token) and raise no error for any input: whatever is not usable is
 * SECRET_BAD_RESPONSE. With value NULL only its presence is checked and no
 * copy is kept; otherwise *value is a copy in SecretContext. The parser's
 * copies (the de-escape buffer, sized once so that it never moves, and each
 * string token) are wiped.
 */
static SigmaxSecretStatus
parse_answer(char **value, size_t *value_len, char *detail)
{
	MemoryContext parse_cxt;
	MemoryContext old;
	JsonLexContext *lex;
	JsonSemAction sem;
	AnswerState state;
	JsonParseErrorType parsed;
	int			depth;

	req.body[req.len] = '\0';
	if (memchr(req.body, '\0', req.len) != NULL || !pg_verifymbstr(req.body, req.len, true))
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "Vault's answer is not JSON");
		return SECRET_BAD_RESPONSE;
	}
	depth = json_depth(req.body, req.len);
	if (depth < 0)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "Vault's answer is not JSON");
		return SECRET_BAD_RESPONSE;
	}
	if (depth > VAULT_MAX_DEPTH)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "Vault's answer is nested deeper than %d levels", VAULT_MAX_DEPTH);
		return SECRET_BAD_RESPONSE;
	}

	memset(&state, 0, sizeof(state));
	state.want_value = value != NULL;
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &state;
	sem.object_start = answer_open;
	sem.object_end = answer_close;
	sem.array_start = answer_open;
	sem.array_end = answer_close;
	sem.object_field_start = answer_field;
	sem.scalar = answer_scalar;

	parse_cxt = AllocSetContextCreate(CurrentMemoryContext, "sigmax vault answer", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(parse_cxt);
	lex = makeJsonLexContextCstringLen(req.body, req.len, GetDatabaseEncoding(), true);
	/* a de-escaped string is never longer than the answer: the buffer is never reallocated */
	enlargeStringInfo(lex->strval, req.len + 1);
	PG_TRY();
	{
		parsed = pg_parse_json(lex, &sem);
	}
	PG_CATCH();
	{
		explicit_bzero(lex->strval->data, lex->strval->maxlen);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(parse_cxt);
		answer_forget(&state);
		PG_RE_THROW();
	}
	PG_END_TRY();
	explicit_bzero(lex->strval->data, lex->strval->maxlen);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(parse_cxt);

	if (parsed != JSON_SUCCESS)
	{
		answer_forget(&state);
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "Vault's answer is not JSON");
		return SECRET_BAD_RESPONSE;
	}
	if (!state.found)
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "Vault's answer has no string field data.data.value");
		return SECRET_BAD_RESPONSE;
	}
	if (value != NULL)
	{
		*value = state.value;
		*value_len = state.value_len;
	}
	return SECRET_OK;
}

/*
 * Ask Vault for a secret. OK with *value (in SecretContext; with value NULL
 * nothing is copied), or the status that says why not. Every handle and buffer is freed, and the token wiped,
 * on every path, an error raised while waiting included.
 */
static SigmaxSecretStatus
vault_fetch(const char *name, char **value, size_t *value_len, char *detail)
{
	volatile SigmaxSecretStatus status;
	char	   *url;

	url = vault_url(name, detail);
	if (url == NULL)
		return SECRET_BAD_CONFIG;
	memset(&req, 0, sizeof(req));
	PG_TRY();
	{
		status = read_token(detail);
		if (status == SECRET_OK)
			status = vault_request(url, detail);
		if (status == SECRET_OK)
			status = parse_answer(value, value_len, detail);
	}
	PG_FINALLY();
	{
		request_cleanup();
	}
	PG_END_TRY();
	pfree(url);
	return status;
}

/*
 * What Vault says of a secret: not asked when it is off, or when it failed to
 * answer at all within the cache TTL (so that a dead Vault costs one timeout
 * per TTL, not one per secret).
 */
static SigmaxSecretStatus
vault_lookup(const char *name, char **value, size_t *value_len, char *detail, TimestampTz now)
{
	SigmaxSecretStatus status;

	if (sigmax_vault_addr == NULL || sigmax_vault_addr[0] == '\0')
	{
		snprintf(detail, SIGMAX_SECRET_DETAIL_LEN, "sigmax.vault_addr is not set");
		return SECRET_VAULT_OFF;
	}
	if (vault_down.active && still_fresh(vault_down.at, now))
	{
		strlcpy(detail, vault_down.detail, SIGMAX_SECRET_DETAIL_LEN);
		return vault_down.status;
	}
	vault_down.active = false;
	status = vault_fetch(name, value, value_len, detail);
	if (status == SECRET_TIMEOUT || status == SECRET_CONNECTION_FAILED || status == SECRET_TLS_ERROR)
	{
		vault_down.active = true;
		vault_down.status = status;
		strlcpy(vault_down.detail, detail, sizeof(vault_down.detail));
		vault_down.at = now;
	}
	return status;
}

/* SIGMAX_ and the name in upper case. */
static void
environment_name(const char *name, char *out, size_t outlen)
{
	size_t		i;
	size_t		n;

	n = strlcpy(out, "SIGMAX_", outlen);
	for (i = 0; name[i] != '\0' && n + 1 < outlen; i++)
		out[n++] = pg_ascii_toupper((unsigned char) name[i]);
	out[n] = '\0';
}

/*
 * Log a fallback (or a secret found nowhere while Vault is configured) once
 * per backend for each name, source and cause: never the value.
 */
static void
log_once(const char *name, SigmaxSecretSource source, SigmaxSecretStatus status, const char *detail,
		 const char *env_name)
{
	char		key[sizeof(((LoggedCause *) NULL)->key)];
	bool		found;

	if (source == SECRET_SOURCE_VAULT || (source == SECRET_SOURCE_MISSING && status == SECRET_VAULT_OFF))
		return;
	snprintf(key, sizeof(key), "%s/%d/%d", name, (int) source, (int) status);
	hash_search(logged_causes, key, HASH_ENTER, &found);
	if (found)
		return;
	if (source == SECRET_SOURCE_ENVIRONMENT)
		ereport(LOG,
				(errmsg("sigmax: secret \"%s\" read from the environment: %s", name, detail),
				 errhidestmt(true)));
	else
		ereport(LOG,
				(errmsg("sigmax: secret \"%s\" is missing: %s, and %s is not set", name, detail, env_name),
				 errhidestmt(true)));
}

/*
 * The cache entry of a secret, resolved again (Vault first, then the
 * environment) when absent, expired, made under other Vault settings, or
 * holding no value when want_value asks for one. Without want_value the
 * value is neither copied nor kept: the entry records the outcome only.
 */
static SecretEntry *
resolve(const char *name, bool want_value)
{
	TimestampTz now = GetCurrentTimestamp();
	SecretEntry *entry;
	SigmaxSecretStatus status;
	char		detail[SIGMAX_SECRET_DETAIL_LEN];
	char		env_name[SIGMAX_SECRET_NAME_MAX + 8];
	char	   *value = NULL;
	size_t		value_len = 0;
	bool		found;
	const char *env;

	secrets_init();
	settings_check();
	cache_sweep(now);
	entry = hash_search(secret_cache, name, HASH_FIND, NULL);
	if (entry != NULL &&
		(!want_value || entry->value != NULL || entry->info.source == SECRET_SOURCE_MISSING))
		return entry;

	detail[0] = '\0';
	status = vault_lookup(name, want_value ? &value : NULL, &value_len, detail, now);
	environment_name(name, env_name, sizeof(env_name));

	entry = hash_search(secret_cache, name, HASH_ENTER, &found);
	if (found)
		entry_wipe(entry);
	entry->value = NULL;
	entry->value_len = 0;
	entry->info.status = status;
	strlcpy(entry->info.detail, detail, sizeof(entry->info.detail));
	entry->info.resolved_at = now;
	env = status == SECRET_OK ? NULL : getenv(env_name);
	if (status == SECRET_OK)
	{
		entry->info.source = SECRET_SOURCE_VAULT;
		entry->value = value;
		entry->value_len = value_len;
	}
	else if (env != NULL && env[0] != '\0')
	{
		entry->info.source = SECRET_SOURCE_ENVIRONMENT;
		if (want_value)
		{
			entry->value = MemoryContextStrdup(SecretContext, env);
			entry->value_len = strlen(env);
		}
	}
	else
		entry->info.source = SECRET_SOURCE_MISSING;
	log_once(name, entry->info.source, status, detail, env_name);
	return entry;
}

/* See secrets.h. */
bool
sigmax_secret_get(const char *name, char **value, SigmaxSecretInfo *info)
{
	SecretEntry *entry;
	bool		found;

	if (value != NULL)
		*value = NULL;
	if (!sigmax_secret_name_valid(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid secret name"),
				 errdetail("A secret name is 1 to %d lower-case letters, digits and underscores.",
						   SIGMAX_SECRET_NAME_MAX)));
	entry = resolve(name, value != NULL);
	if (info != NULL)
		*info = entry->info;
	found = entry->info.source != SECRET_SOURCE_MISSING;
	if (found && value != NULL)
	{
		*value = palloc(entry->value_len + 1);
		memcpy(*value, entry->value, entry->value_len + 1);
	}
	/* sigmax.vault_cache_ttl = 0: nothing is kept */
	if (sigmax_vault_cache_ttl_s == 0)
		cache_remove(entry);
	return found;
}

/* See secrets.h. */
bool
sigmax_exchange_credential_name(const char *exchange, SigmaxTradingMode mode, SigmaxCredential which,
								char *out, size_t outlen)
{
	const char *mode_name;
	int			n;

	if (mode == SIGMAX_MODE_TESTNET)
		mode_name = "testnet";
	else if (mode == SIGMAX_MODE_LIVE)
		mode_name = "live";
	else
		return false;
	if (exchange == NULL)
		return false;
	n = snprintf(out, outlen, "%s_%s_%s", exchange, mode_name,
				 which == SIGMAX_CREDENTIAL_API_KEY ? "api_key" : "api_secret");
	return n > 0 && (size_t) n < outlen && sigmax_secret_name_valid(out);
}

/* See secrets.h. */
bool
sigmax_exchange_credentials(const char *exchange, SigmaxTradingMode mode, char **api_key, char **api_secret,
							SigmaxSecretInfo *key_info, SigmaxSecretInfo *secret_info)
{
	char		key_name[SIGMAX_SECRET_NAME_MAX + 1];
	char		secret_name[SIGMAX_SECRET_NAME_MAX + 1];
	char	   *volatile key = NULL;
	char	   *volatile secret = NULL;

	*api_key = NULL;
	*api_secret = NULL;
	if (mode != SIGMAX_MODE_TESTNET && mode != SIGMAX_MODE_LIVE)
		elog(ERROR, "sigmax: only testnet and live trading have exchange credentials");
	if (!sigmax_exchange_credential_name(exchange, mode, SIGMAX_CREDENTIAL_API_KEY, key_name, sizeof(key_name)) ||
		!sigmax_exchange_credential_name(exchange, mode, SIGMAX_CREDENTIAL_API_SECRET, secret_name, sizeof(secret_name)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid exchange name for credentials"),
				 errdetail("An exchange name is 1 to 32 lower-case letters, digits and underscores.")));
	PG_TRY();
	{
		char	   *k = NULL;
		char	   *s = NULL;

		sigmax_secret_get(key_name, &k, key_info);
		key = k;
		sigmax_secret_get(secret_name, &s, secret_info);
		secret = s;
	}
	PG_CATCH();
	{
		sigmax_secret_free(key);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (key == NULL || secret == NULL)
	{
		sigmax_secret_free(key);
		sigmax_secret_free(secret);
		return false;
	}
	*api_key = key;
	*api_secret = secret;
	return true;
}

PG_FUNCTION_INFO_V1(sigmax_secret_status);

/* SQL: where a secret comes from and what Vault said of it; never its value. */
Datum
sigmax_secret_status(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	SigmaxSecretInfo info;
	Datum		values[4];
	bool		nulls[4] = {false};
	char	   *name;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid secret name"),
				 errdetail("A secret name is 1 to %d lower-case letters, digits and underscores.",
						   SIGMAX_SECRET_NAME_MAX)));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "sigmax: secret_status must return a record");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	sigmax_secret_get(name, NULL, &info);
	values[0] = CStringGetTextDatum(sigmax_secret_source_name(info.source));
	values[1] = CStringGetTextDatum(sigmax_secret_status_name(info.status));
	values[2] = CStringGetTextDatum(info.detail);
	values[3] = TimestampTzGetDatum(info.resolved_at);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

PG_FUNCTION_INFO_V1(sigmax_exchange_credentials_fn);

/*
 * SQL: for every exchange in sigmax.exchanges, whether its testnet and live
 * API key and secret resolve, and from where; never a value.
 */
Datum
sigmax_exchange_credentials_fn(PG_FUNCTION_ARGS)
{
	static const SigmaxTradingMode modes[] = {SIGMAX_MODE_TESTNET, SIGMAX_MODE_LIVE};
	static const char *const mode_names[] = {"testnet", "live"};
	static const char *const credential_names[] = {"api_key", "api_secret"};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext caller = CurrentMemoryContext;
	List	   *exchanges = NIL;
	ListCell   *lc;
	uint64		i;
	SigmaxOwnerScope scope;

	sigmax_check_sql_version();
	InitMaterializedSRF(fcinfo, 0);

	/*
	 * The exchanges first, then Vault: no snapshot or SPI connection is held
	 * while waiting. The function runs with its caller's rights; the read runs
	 * as the extension's owner with search_path pinned.
	 */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	sigmax_owner_scope_begin(&scope);
	if (SPI_execute("SELECT name FROM sigmax.exchanges ORDER BY name", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading sigmax.exchanges failed");
	sigmax_owner_scope_end(&scope);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext old = MemoryContextSwitchTo(caller);

		exchanges = lappend(exchanges, pstrdup(name));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();

	foreach(lc, exchanges)
	{
		const char *exchange = lfirst(lc);
		size_t		m;
		size_t		c;

		for (m = 0; m < lengthof(modes); m++)
			for (c = 0; c < lengthof(credential_names); c++)
			{
				char		name[SIGMAX_SECRET_NAME_MAX + 1];
				SigmaxSecretInfo info;
				Datum		values[7];
				bool		nulls[7] = {false};

				if (!sigmax_exchange_credential_name(exchange, modes[m], (SigmaxCredential) c, name, sizeof(name)))
					continue;
				sigmax_secret_get(name, NULL, &info);
				values[0] = CStringGetTextDatum(exchange);
				values[1] = CStringGetTextDatum(mode_names[m]);
				values[2] = CStringGetTextDatum(credential_names[c]);
				values[3] = CStringGetTextDatum(name);
				values[4] = CStringGetTextDatum(sigmax_secret_source_name(info.source));
				values[5] = CStringGetTextDatum(sigmax_secret_status_name(info.status));
				values[6] = CStringGetTextDatum(info.detail);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
	}
	return (Datum) 0;
}
