/*
 * risk.h
 *	  The pre-trade risk engine: reason codes, trading states, limits and the shared state.
 */
#ifndef SIGMAX_RISK_H
#define SIGMAX_RISK_H

#include "utils/numeric.h"
#include "utils/timestamp.h"

/* Trading states, most permissive first: the effective state is the maximum. */
typedef enum SigmaxState
{
	STATE_ACTIVE = 0,
	STATE_REDUCING = 1,
	STATE_PAUSED = 2,
	STATE_HALTED = 3
} SigmaxState;

/* Verdict reason codes, in the order the checks run (docs/risk-checks.md). */
typedef enum SigmaxReason
{
	REASON_NONE = 0,
	REASON_UNKNOWN_INSTRUMENT,
	REASON_LOT_SIZE,
	REASON_TICK_SIZE,
	REASON_MIN_NOTIONAL,
	REASON_RATE_LIMIT,
	REASON_TRADING_PAUSED,
	REASON_TRADING_HALTED,
	REASON_REDUCE_ONLY,
	REASON_COOLDOWN,
	REASON_DUPLICATE_ORDER,
	REASON_STALE_PRICE,
	REASON_PRICE_COLLAR,
	REASON_MAX_ORDER_QTY,
	REASON_MAX_ORDER_NOTIONAL,
	REASON_POSITION_LIMIT,
	REASON_EXPOSURE_LIMIT,
	REASON_OPEN_ORDERS_LIMIT,
	REASON_DAILY_LOSS_LIMIT,
	REASON_INSUFFICIENT_BALANCE,
	REASON_COUNT
} SigmaxReason;

extern const char *const sigmax_reason_codes[REASON_COUNT];

/* The effective limits of one account; NULL numerics mean no limit. */
typedef struct AccountLimits
{
	int64		account_id;
	Numeric		max_order_qty;
	Numeric		max_order_notional;
	Numeric		max_position_pct;
	Numeric		max_exposure_pct;
	int32		max_open_orders;
	Numeric		max_daily_loss_pct;
	Numeric		price_collar_pct;
	int32		stale_price_ms;
	int32		orders_per_minute;
	Numeric		approval_notional;
	Numeric		slippage_bps;
	Numeric		fee_bps;
	int32		stop_cooldown_s;
	Numeric		max_drawdown_pct;
	Numeric		stop_loss_pct;
	int32		stop_trailing;	/* 1: stops trail the best price */
	int32		max_loss_streak;	/* -1: no limit */
	/* derived once per load: 1 + slippage, 1 - slippage and 1 + fee, in basis points */
	Numeric		slippage_factor_buy;
	Numeric		slippage_factor_sell;
	Numeric		fee_factor_buy;
} AccountLimits;

/* Buckets of the check-latency histogram (shmem.c). */
#define SIGMAX_LATENCY_BUCKETS 10

/* shmem.c */
extern void sigmax_count_latency(int64 us);
extern void sigmax_shmem_install_hooks(void);
extern SigmaxState sigmax_global_state(bool lock_for_order);
extern void sigmax_global_state_lock_exclusive(void);
extern void sigmax_global_state_publish(SigmaxState state);
extern bool sigmax_rate_take(int64 account_id, int capacity, bool dry_run);
extern void sigmax_count_verdict(SigmaxReason reason, bool dry_run);
extern void sigmax_shared_reset_database(void);
extern SigmaxState sigmax_state_from_text(const char *state);
extern const char *sigmax_state_text(SigmaxState state);

/* limits.c */
extern AccountLimits *sigmax_account_limits(int64 account_id);

/* instrument_cache.c: an instrument's row, as the order checks use it */
typedef struct SigmaxInstrument
{
	char	   *exchange;
	Numeric		tick_size;
	Numeric		lot_size;
	Numeric		min_qty;
	Numeric		max_qty;		/* NULL: no maximum */
	Numeric		min_notional;
	bool		enabled;
} SigmaxInstrument;

extern bool sigmax_instrument(const char *symbol, SigmaxInstrument *out);
extern bool sigmax_venue_reducing(const char *exchange);

/* numeric helpers (order_check.c) */
extern Numeric num_from_cstring(const char *s);
extern Numeric num_from_int(int64 v);
extern Numeric num_copy(Numeric a);
extern void num_copy_many(Numeric *const *fields, int n);
extern Numeric num_add(Numeric a, Numeric b);
extern Numeric num_sub(Numeric a, Numeric b);
extern Numeric num_mul(Numeric a, Numeric b);
extern Numeric num_div(Numeric a, Numeric b);
extern Numeric num_abs(Numeric a);
extern int	num_cmp(Numeric a, Numeric b);
extern int	num_sign(Numeric a);
extern Numeric num_round(Numeric a, int scale);
extern Numeric num_bps_factor(Numeric bps, bool up);
extern char *num_text(Numeric a);

/* fills.c */
extern void sigmax_apply_fill(int64 order_id, int64 account_id, const char *symbol, bool buy,
							  Numeric qty, Numeric price, Numeric fee, bool order_recorded);

#endif							/* SIGMAX_RISK_H */
