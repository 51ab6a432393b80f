/*
 * order.h
 *	  An order request, what its checks read, and the verdict they reach.
 */
#ifndef SIGMAX_ORDER_H
#define SIGMAX_ORDER_H

#include "fmgr.h"
#include "utils/date.h"

#include "risk.h"

typedef struct OrderRequest
{
	int64		account_id;
	char	   *symbol;
	bool		buy;
	bool		market;
	Numeric		qty;
	Numeric		limit_price;	/* NULL for market orders */
	char	   *client_order_id;	/* NULL when not given */
	bool		system_close;	/* sigmax closing a position (a stop-loss) */
	int64		approved_order_id;	/* a pending_approval order being approved (0: none):
									 * left out of the book, no rate token, no threshold */
} OrderRequest;

typedef struct OrderContext
{
	TimestampTz now;
	SigmaxState global_state;
	SigmaxState account_state;
	bool		paper;
	Numeric		cash;
	Numeric		sod_equity;		/* today's, after a rollover */
	Numeric		peak_equity;
	DateADT		sod_date;
	DateADT		today;
	bool		day_rolled;
	AccountLimits *limits;

	bool		instrument_found;
	bool		enabled;
	Numeric		tick_size;
	Numeric		lot_size;
	Numeric		min_qty;
	Numeric		max_qty;
	Numeric		min_notional;
	bool		venue_reducing;	/* the venue is reduce-only after API errors */
	TimestampTz last_stop_out;	/* 0: none within reach */
	bool		has_price;
	Numeric		bid;
	Numeric		ask;
	Numeric		last;
	TimestampTz price_at;

	Numeric		position;		/* signed */
	Numeric		working_buy;
	Numeric		working_sell;
	int64		open_orders;
	Numeric		working_notional;
	Numeric		working_buy_notional;
	Numeric		gross_exposure;
	Numeric		position_value;
	Numeric		equity;

	int64		dup_order_id;	/* 0: client_order_id unused */
	bool		dup_same;
	char	   *dup_status;
	char	   *dup_reason_code;
	char	   *dup_reason;
} OrderContext;

typedef struct Verdict
{
	SigmaxReason reason;		/* REASON_NONE: accepted */
	char	   *reason_text;
	bool		pending_approval;
	bool		reducing;
	bool		marketable;
	Numeric		reference_price;	/* last price, NULL when none */
	Numeric		exec_price;		/* expected execution price */
	Numeric		notional;
} Verdict;

/* order_check.c */
extern bool order_symbol_valid(const char *s, int len);
extern void order_request_from_args(FunctionCallInfo fcinfo, OrderRequest *req, bool system_close);
extern void order_load_context(const OrderRequest *req, bool dry_run, OrderContext *ctx);
extern void order_decide(const OrderRequest *req, const OrderContext *ctx, bool dry_run, Verdict *v);

#endif							/* SIGMAX_ORDER_H */
