/*
 * poller.h
 *	  The exchange poller: venue adapters, the libcurl client, the worker and its status.
 */
#ifndef SIGMAX_POLLER_H
#define SIGMAX_POLLER_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/numeric.h"

/* Venues whose status shared memory holds; more enabled venues are not polled. */
#define SIGMAX_MAX_VENUES 32
/* Latencies kept per venue for the percentiles in sigmax.worker_status. */
#define SIGMAX_LATENCY_RING 256

/*
 * Outcome of one poll of one symbol. Each failure is its own status so that an
 * operator can tell a banned IP from a timeout from a broken parser.
 */
typedef enum SigmaxPollStatus
{
	POLL_OK,
	POLL_HTTP_4XX,				/* any 4xx but 418 and 429 */
	POLL_HTTP_5XX,
	POLL_RATE_LIMITED,			/* 429 */
	POLL_BANNED,				/* 418: the venue banned this address */
	POLL_HTTP_OTHER,			/* 1xx, 3xx (redirects are off) */
	POLL_TIMEOUT,
	POLL_DNS_FAILED,
	POLL_CONNECT_FAILED,
	POLL_CONNECTION_RESET,
	POLL_TLS_ERROR,
	POLL_TRUNCATED,
	POLL_TOO_LARGE,
	POLL_BAD_JSON,
	POLL_ERROR_ENVELOPE,
	POLL_BAD_TICKER,			/* valid JSON without a usable price */
	POLL_BAD_URL,
	POLL_TRANSPORT_ERROR,		/* any other libcurl failure */
	POLL_RECORD_FAILED,			/* sigmax.record_price refused the price */
	POLL_STATUS_COUNT
} SigmaxPollStatus;

extern const char *const sigmax_poll_status_names[POLL_STATUS_COUNT];

/* A ticker as an adapter read it: prices as numerics, never binary floats. */
typedef struct SigmaxTicker
{
	Numeric		bid;			/* NULL when the venue gave none */
	Numeric		ask;
	Numeric		last;
	TimestampTz exchange_time;
	bool		has_exchange_time;
} SigmaxTicker;

typedef struct SigmaxAdapter SigmaxAdapter;

/* exchanges.c */
extern const SigmaxAdapter *sigmax_adapter_find(const char *name);
extern const char *sigmax_adapter_name(const SigmaxAdapter *adapter);
extern char *sigmax_adapter_venue_symbol(const SigmaxAdapter *adapter, const char *symbol);
extern char *sigmax_adapter_url(const SigmaxAdapter *adapter, const char *base_url,
								const char *venue_symbol, const char *category);
extern int	sigmax_adapter_batch_max(const SigmaxAdapter *adapter);
extern char *sigmax_adapter_batch_url(const SigmaxAdapter *adapter, const char *base_url,
									  const char *const *venue_symbols, int n);
extern SigmaxPollStatus sigmax_adapter_parse_many(const SigmaxAdapter *adapter, const char *body, size_t len,
												  int n, const char *const *venue_symbols, SigmaxTicker *tickers,
												  SigmaxPollStatus *statuses, char **details, char **detail);
extern SigmaxPollStatus sigmax_adapter_parse(const SigmaxAdapter *adapter, const char *body, size_t len,
											 const char *venue_symbol, SigmaxTicker *ticker, char **detail);
extern bool sigmax_poll_url_allowed(const char *url, bool base_only, char **why);

/* prices.c */
extern int	sigmax_record_price(const char *exchange, const char *symbol, const SigmaxTicker *ticker,
								TimestampTz at, bool may_act);

/* worker_status.c */
typedef struct SigmaxVenueOutcome
{
	SigmaxPollStatus status;		/* of one symbol */
	bool		counts_request; /* the first symbol of a request: count the request */
	bool		request_failed; /* with counts_request: a symbol of the request failed */
	int64		latency_us;		/* request sent to response complete; -1 if none */
	int64		commit_us;		/* response complete to price committed; -1 if none */
	const char *detail;
} SigmaxVenueOutcome;

extern Size sigmax_worker_shmem_size(void);
extern void sigmax_worker_shmem_init(void);
extern bool sigmax_worker_status_reset(int pid);
extern void sigmax_worker_status_set_state(const char *state);
extern int	sigmax_worker_status_venue_slot(const char *venue);
extern void sigmax_worker_status_record(int slot, const SigmaxVenueOutcome *outcome);
extern void sigmax_worker_status_count_cycle(void);
extern void sigmax_worker_status_set_memory(uint64 bytes);
extern void sigmax_worker_status_set_backoff(int slot, TimestampTz until);
extern uint64 sigmax_worker_config_generation(void);
extern void sigmax_worker_wake(void);

/* worker.c */
extern void sigmax_worker_register(void);

#endif							/* SIGMAX_POLLER_H */
