/*
 * http.c
 *	  The worker's HTTP client: libcurl's multi interface, waited on together
 *	  with the process latch so that a request never blocks a signal.
 */
#include "postgres.h"

#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "http.h"
#include "poller.h"
#include "sigmax.h"

#if LIBCURL_VERSION_NUM < 0x075500
#error "sigmax needs libcurl 7.85 or later (CURLOPT_PROTOCOLS_STR)"
#endif

/* A socket libcurl asked us to watch, and for what. */
typedef struct WatchedSocket
{
	curl_socket_t fd;
	int			what;			/* CURL_POLL_IN, _OUT or _INOUT */
} WatchedSocket;

#define MAX_WATCHED_SOCKETS 1024

static CURLM *multi = NULL;
static WatchedSocket watched[MAX_WATCHED_SOCKETS];
static int	nwatched = 0;
static bool sockets_changed = true;
static WaitEventSet *wait_set = NULL;
static long curl_timeout_ms = -1;	/* libcurl's timer: -1 none */
static TimestampTz curl_timer_set_at = 0;
static int	running = 0;

/* libcurl's socket callback: remember what to wait for on each socket. */
static int
socket_callback(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	int			i;

	for (i = 0; i < nwatched; i++)
		if (watched[i].fd == fd)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < nwatched)
			watched[i] = watched[--nwatched];
	}
	else if (i < nwatched)
		watched[i].what = what;
	else if (nwatched < MAX_WATCHED_SOCKETS)
	{
		watched[nwatched].fd = fd;
		watched[nwatched].what = what;
		nwatched++;
	}
	else
		return -1;				/* fails every transfer; unreachable: open_socket bounds the sockets */
	sockets_changed = true;
	return 0;
}

/*
 * libcurl opens its connections here, so that they count against the
 * process's file descriptor budget as PostgreSQL's own files do.
 */
static curl_socket_t
open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	curl_socket_t fd;

	if (!AcquireExternalFD())
	{
		errno = EMFILE;
		return CURL_SOCKET_BAD;
	}
	fd = socket(address->family, address->socktype, address->protocol);
	if (fd == CURL_SOCKET_BAD)
		ReleaseExternalFD();
	return fd;
}

/* ...and closes them here. */
static int
close_socket(void *clientp, curl_socket_t fd)
{
	int			rc = close(fd);

	ReleaseExternalFD();
	return rc;
}

/* libcurl's timer callback: when it next wants to be called without socket activity. */
static int
timer_callback(CURLM *m, long timeout_ms, void *userp)
{
	curl_timeout_ms = timeout_ms;
	curl_timer_set_at = GetCurrentTimestamp();
	return 0;
}

/*
 * Collect a response body, refusing more than the request's cap: returning
 * less than given makes libcurl abort the transfer. Plain malloc, because an
 * error raised here would unwind through libcurl.
 */
static size_t
write_callback(char *data, size_t size, size_t nmemb, void *userp)
{
	SigmaxHttpRequest *req = (SigmaxHttpRequest *) userp;
	size_t		n = size * nmemb;

	if (req->len + n > req->max_bytes)
	{
		req->too_large = true;
		return 0;
	}
	if (req->len + n + 1 > req->allocated)
	{
		size_t		want = Max(req->allocated * 2, req->len + n + 1);
		char	   *grown;

		want = Max(want, 4096);
		grown = realloc(req->body, want);
		if (grown == NULL)
			return 0;
		req->body = grown;
		req->allocated = want;
	}
	memcpy(req->body + req->len, data, n);
	req->len += n;
	req->body[req->len] = '\0';
	return n;
}

/* Create the multi handle; the connection caps follow the settings. */
void
sigmax_http_init(void)
{
	if (multi != NULL)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("sigmax worker: libcurl could not be initialised")));
	multi = curl_multi_init();
	if (multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("sigmax worker: libcurl could not create a multi handle")));
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_callback);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_callback);
	sigmax_http_apply_settings();
}

/* Apply the connection caps (again after a reload). */
void
sigmax_http_apply_settings(void)
{
	if (multi == NULL)
		return;
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) sigmax_http_max_connections);
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) sigmax_http_max_host_connections);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) sigmax_http_max_connections);
}

/*
 * The policy every sigmax request follows, the venues' and Vault's: no
 * signals, http(s) only, no redirects, the peer and its host name verified
 * (against ca_file when set), and sigmax's User-Agent.
 */
void
sigmax_http_secure_options(void *handle, const char *ca_file)
{
	CURL	   *easy = (CURL *) handle;

	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file != NULL && ca_file[0] != '\0')
		curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "sigmax/" SIGMAX_VERSION " (PostgreSQL extension)");
}

/*
 * Start fetching url into req. False when libcurl refuses the request at
 * once; req->status and req->detail then say why.
 */
bool
sigmax_http_start(SigmaxHttpRequest *req, const char *url)
{
	CURL	   *easy;
	char	   *why;

	memset(req, 0, sizeof(*req));
	req->max_bytes = (size_t) sigmax_http_max_response_bytes;
	if (!sigmax_poll_url_allowed(url, false, &why))
	{
		req->status = POLL_BAD_URL;
		strlcpy(req->detail, why, sizeof(req->detail));
		return false;
	}
	easy = curl_easy_init();
	if (easy == NULL)
	{
		req->status = POLL_TRANSPORT_ERROR;
		strlcpy(req->detail, "libcurl could not create a handle", sizeof(req->detail));
		return false;
	}
	req->easy = easy;
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->errbuf);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_callback);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, req);
	sigmax_http_secure_options(easy, sigmax_http_ca_file);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) sigmax_http_connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) sigmax_http_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, (long) sigmax_http_low_speed_limit);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, (long) sigmax_http_low_speed_time);
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) req->max_bytes);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
	{
		curl_easy_cleanup(easy);
		req->easy = NULL;
		req->status = POLL_TRANSPORT_ERROR;
		strlcpy(req->detail, "libcurl refused the request", sizeof(req->detail));
		return false;
	}
	req->started = GetCurrentTimestamp();
	return true;
}

/* Requests started and not yet collected. */
int
sigmax_http_running(void)
{
	return running;
}

/* Milliseconds until libcurl's timer fires, or -1. */
static long
curl_timer_remaining(void)
{
	long		elapsed;

	if (curl_timeout_ms < 0)
		return -1;
	elapsed = (long) ((GetCurrentTimestamp() - curl_timer_set_at) / 1000);
	return Max(curl_timeout_ms - elapsed, 0);
}

/* Rebuild the wait set after libcurl opened or closed a socket. */
static void
rebuild_wait_set(void)
{
	int			i;

	if (wait_set != NULL)
		FreeWaitEventSet(wait_set);
	wait_set = CreateWaitEventSet(TopMemoryContext, nwatched + 2);
	AddWaitEventToSet(wait_set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wait_set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (i = 0; i < nwatched; i++)
	{
		uint32		events = 0;

		if (watched[i].what & CURL_POLL_IN)
			events |= WL_SOCKET_READABLE;
		if (watched[i].what & CURL_POLL_OUT)
			events |= WL_SOCKET_WRITEABLE;
		AddWaitEventToSet(wait_set, events, watched[i].fd, NULL, NULL);
	}
	sockets_changed = false;
}

/*
 * Wait up to timeout_ms (-1: until something happens) for the latch, a
 * socket or libcurl's timer, and let libcurl act on what happened. Returns
 * true when the latch was set (the caller resets it and checks its flags).
 */
bool
sigmax_http_wait(long timeout_ms)
{
	WaitEvent	events[16];
	long		curl_ms;
	int			n;
	int			i;
	bool		latch = false;

	if (multi == NULL)
		sigmax_http_init();
	if (sockets_changed || wait_set == NULL)
		rebuild_wait_set();
	curl_ms = curl_timer_remaining();
	if (curl_ms >= 0 && (timeout_ms < 0 || curl_ms < timeout_ms))
		timeout_ms = curl_ms;

	n = WaitEventSetWait(wait_set, timeout_ms, events, lengthof(events), PG_WAIT_EXTENSION);
	for (i = 0; i < n; i++)
	{
		int			flags = 0;

		if (events[i].events & WL_LATCH_SET)
		{
			latch = true;
			continue;
		}
		if (events[i].events & WL_SOCKET_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events[i].events & WL_SOCKET_WRITEABLE)
			flags |= CURL_CSELECT_OUT;
		if (flags != 0)
			curl_multi_socket_action(multi, events[i].fd, flags, &running);
	}
	if (curl_timeout_ms >= 0 && curl_timer_remaining() == 0)
	{
		curl_timeout_ms = -1;
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	return latch;
}

/* Start the transfers just added (libcurl acts on a new handle only when told). */
void
sigmax_http_kick(void)
{
	if (multi != NULL)
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

/* Classify a finished transfer into a poll status with a detail for the operator. */
static void
classify(SigmaxHttpRequest *req, CURLcode code)
{
	long		http_code = 0;
	curl_off_t	retry_after = 0;
	curl_off_t	total_us = 0;

	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &http_code);
	curl_easy_getinfo(req->easy, CURLINFO_RETRY_AFTER, &retry_after);
	curl_easy_getinfo(req->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	req->http_code = http_code;
	req->retry_after_s = (int64) retry_after;
	req->latency_us = (int64) total_us;

	switch (code)
	{
		case CURLE_OK:
			if (http_code >= 200 && http_code < 300)
				req->status = POLL_OK;
			else if (http_code == 429)
				req->status = POLL_RATE_LIMITED;
			else if (http_code == 418)
				req->status = POLL_BANNED;
			else if (http_code >= 400 && http_code < 500)
				req->status = POLL_HTTP_4XX;
			else if (http_code >= 500 && http_code < 600)
				req->status = POLL_HTTP_5XX;
			else
				req->status = POLL_HTTP_OTHER;
			if (req->status != POLL_OK)
				snprintf(req->detail, sizeof(req->detail), "HTTP %ld", http_code);
			return;
		case CURLE_OPERATION_TIMEDOUT:
			req->status = POLL_TIMEOUT;
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
			req->status = POLL_DNS_FAILED;
			break;
		case CURLE_COULDNT_CONNECT:
			req->status = POLL_CONNECT_FAILED;
			break;
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_GOT_NOTHING:
			req->status = POLL_CONNECTION_RESET;
			break;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
			req->status = POLL_TLS_ERROR;
			break;
		case CURLE_PARTIAL_FILE:
			req->status = POLL_TRUNCATED;
			break;
		case CURLE_FILESIZE_EXCEEDED:
			req->status = POLL_TOO_LARGE;
			break;
		case CURLE_WRITE_ERROR:
			req->status = req->too_large ? POLL_TOO_LARGE : POLL_TRANSPORT_ERROR;
			break;
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
			req->status = POLL_BAD_URL;
			break;
		default:
			req->status = POLL_TRANSPORT_ERROR;
			break;
	}
	if (req->status == POLL_TOO_LARGE)
		snprintf(req->detail, sizeof(req->detail), "the response exceeds sigmax.http_max_response_size (%zu bytes)",
				 req->max_bytes);
	else
		snprintf(req->detail, sizeof(req->detail), "%s",
				 req->errbuf[0] ? req->errbuf : curl_easy_strerror(code));
}

/*
 * The next finished request, classified, or NULL. Its libcurl handle is
 * released; the caller owns the body until sigmax_http_release.
 */
SigmaxHttpRequest *
sigmax_http_next_done(void)
{
	CURLMsg    *msg;
	int			left;

	if (multi == NULL)
		return NULL;
	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
	{
		SigmaxHttpRequest *req = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &req);
		classify(req, msg->data.result);
		req->finished = GetCurrentTimestamp();
		curl_multi_remove_handle(multi, req->easy);
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
		return req;
	}
	return NULL;
}

/* Free a request's body (and its handle, if still in flight). */
void
sigmax_http_release(SigmaxHttpRequest *req)
{
	if (req->easy != NULL)
	{
		if (multi != NULL)
			curl_multi_remove_handle(multi, req->easy);
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
	}
	free(req->body);
	req->body = NULL;
	req->len = req->allocated = 0;
}

/* Tear the client down: the worker calls this on its way out. */
void
sigmax_http_shutdown(void)
{
	if (wait_set != NULL)
	{
		FreeWaitEventSet(wait_set);
		wait_set = NULL;
	}
	if (multi != NULL)
	{
		curl_multi_cleanup(multi);
		multi = NULL;
		curl_global_cleanup();
	}
	nwatched = 0;
	running = 0;
}
