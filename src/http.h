/*
 * http.h
 *	  The worker's libcurl client (http.c).
 */
#ifndef SIGMAX_HTTP_H
#define SIGMAX_HTTP_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "poller.h"

/* One request in flight, and then its outcome. */
typedef struct SigmaxHttpRequest
{
	void	   *easy;			/* CURL *, NULL once finished */
	char	   *body;			/* malloc'd, NUL-terminated */
	size_t		len;
	size_t		allocated;
	size_t		max_bytes;
	bool		too_large;
	char		errbuf[256];	/* CURL_ERROR_SIZE */
	TimestampTz started;
	TimestampTz finished;
	SigmaxPollStatus status;
	long		http_code;
	int64		retry_after_s;
	int64		latency_us;
	char		detail[256];
} SigmaxHttpRequest;

extern void sigmax_http_secure_options(void *easy, const char *ca_file);
extern void sigmax_http_init(void);
extern void sigmax_http_apply_settings(void);
extern bool sigmax_http_start(SigmaxHttpRequest *req, const char *url);
extern void sigmax_http_kick(void);
extern bool sigmax_http_wait(long timeout_ms);
extern int	sigmax_http_running(void);
extern SigmaxHttpRequest *sigmax_http_next_done(void);
extern void sigmax_http_release(SigmaxHttpRequest *req);
extern void sigmax_http_shutdown(void);

/* guc.c */
extern bool sigmax_worker_enabled;
extern int	sigmax_http_connect_timeout_ms;
extern int	sigmax_http_timeout_ms;
extern int	sigmax_http_low_speed_limit;
extern int	sigmax_http_low_speed_time;
extern int	sigmax_http_max_response_bytes;
extern char *sigmax_http_ca_file;
extern int	sigmax_http_max_connections;
extern int	sigmax_http_max_host_connections;
extern int	sigmax_worker_max_backoff_ms;
extern int	sigmax_worker_symbols_per_request;

#endif							/* SIGMAX_HTTP_H */
