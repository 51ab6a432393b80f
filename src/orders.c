/*
 * orders.c
 *	  sigmax.submit_order and sigmax.check_order: validate, check, record the
 *	  verdict, paper-fill and ledger it, all in the caller's transaction.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "ledger.h"
#include "order.h"
#include "risk.h"
#include "sigmax.h"

PG_FUNCTION_INFO_V1(sigmax_submit_order);
PG_FUNCTION_INFO_V1(sigmax_check_order);
PG_FUNCTION_INFO_V1(sigmax_fill_order);
PG_FUNCTION_INFO_V1(sigmax_internal_audit_write);
PG_FUNCTION_INFO_V1(sigmax_order_path_lock);
PG_FUNCTION_INFO_V1(sigmax_submit_system_order);
PG_FUNCTION_INFO_V1(sigmax_approve_order);

static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr rollover_plan = NULL;
static SPIPlanPtr resting_plan = NULL;
static SPIPlanPtr protections_plan = NULL;
static SPIPlanPtr rate_alert_plan = NULL;
static SPIPlanPtr account_of_plan = NULL;
static SPIPlanPtr lock_account_plan = NULL;
static SPIPlanPtr request_approval_plan = NULL;
static SPIPlanPtr pending_order_plan = NULL;
static SPIPlanPtr pending_lock_plan = NULL;
static SPIPlanPtr approved_update_plan = NULL;


/* Append "key": value, where value is a JSON number, string or null. */
static void
json_num(StringInfo buf, const char *key, Numeric value)
{
	appendStringInfo(buf, ", \"%s\": %s", key,
					 value ? DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(value))) : "null");
}

static void
json_str(StringInfo buf, const char *key, const char *value)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	if (value)
		escape_json(buf, value);
	else
		appendStringInfoString(buf, "null");
}

/* Ledger the decision on the account's stream. */
static void
ledger_order(const char *action, int64 order_id, const OrderRequest *req, const char *status,
			 const Verdict *v, Numeric fill_price, Numeric fee)
{
	StringInfoData buf;
	char		stream[40];

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"order_id\": " INT64_FORMAT, order_id);
	json_str(&buf, "symbol", req->symbol);
	json_str(&buf, "side", req->buy ? "buy" : "sell");
	json_str(&buf, "order_type", req->market ? "market" : "limit");
	json_num(&buf, "qty", req->qty);
	json_num(&buf, "limit_price", req->limit_price);
	json_str(&buf, "client_order_id", req->client_order_id);
	json_str(&buf, "status", status);
	json_str(&buf, "reason_code", v->reason == REASON_NONE ? NULL : sigmax_reason_codes[v->reason]);
	json_str(&buf, "reason", v->reason_text);
	json_num(&buf, "reference_price", v->reference_price);
	json_num(&buf, "fill_price", fill_price);
	json_num(&buf, "fee", fee);
	appendStringInfo(&buf, ", \"reducing\": %s}", v->reducing ? "true" : "false");

	snprintf(stream, sizeof(stream), "account:" INT64_FORMAT, req->account_id);
	sigmax_audit_write(stream, action,
					   DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data))));
}

/*
 * The verdict as the function's result row. Its blessed descriptor is built
 * once per call site and kept in fn_extra: check_order runs in loops.
 */
static Datum
result_row(FunctionCallInfo fcinfo, bool has_id, int64 order_id, const char *status,
		   const char *reason_code, const char *reason)
{
	TupleDesc	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;
	Datum		values[4];
	bool		nulls[4] = {!has_id, false, reason_code == NULL, reason == NULL};

	if (tupdesc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "sigmax: order functions must return a row");
		tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		fcinfo->flinfo->fn_extra = tupdesc;
		MemoryContextSwitchTo(old);
	}
	values[0] = Int64GetDatum(order_id);
	values[1] = CStringGetTextDatum(status);
	values[2] = reason_code ? CStringGetTextDatum(reason_code) : (Datum) 0;
	values[3] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * Form the result row in the caller's memory context, then leave SPI: what SPI
 * allocated (reason texts among it) is freed by SPI_finish.
 */
static Datum
finish_with_row(MemoryContext call_ctx, FunctionCallInfo fcinfo, bool has_id, int64 order_id,
				const char *status, const char *reason_code, const char *reason)
{
	MemoryContext spi_ctx = MemoryContextSwitchTo(call_ctx);
	Datum		row = result_row(fcinfo, has_id, order_id, status, reason_code, reason);

	MemoryContextSwitchTo(spi_ctx);
	SPI_finish();
	return row;
}

/* Run sigmax._check_protections for the account after a fill. */
static void
check_protections(int64 account_id, TimestampTz at)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		args[2] = {Int64GetDatum(account_id), TimestampTzGetDatum(at)};

	sigmax_keep_plan(&protections_plan, "SELECT sigmax._check_protections($1, $2)", 2, types);
	if (SPI_execute_plan(protections_plan, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: checking the protections failed");
}

/* True when a fill's cost could take the account to its daily-loss or drawdown limit. */
static bool
fill_may_trip(const OrderRequest *req, const OrderContext *ctx, Numeric price, Numeric fee)
{
	const AccountLimits *lim = ctx->limits;
	Numeric		cost;
	Numeric		after;

	if (!ctx->has_price || ctx->peak_equity == NULL || lim->max_drawdown_pct == NULL ||
		lim->max_daily_loss_pct == NULL)
		return true;
	/* equity after = equity + qty * (last - price) for a buy, qty * (price - last) for a sell, - fee */
	cost = num_mul(req->qty, req->buy ? num_sub(price, ctx->last) : num_sub(ctx->last, price));
	after = num_sub(num_sub(ctx->equity, cost), fee);
	if (num_cmp(num_sub(after, ctx->sod_equity),
				num_sub(num_from_int(0), num_mul(lim->max_daily_loss_pct, ctx->sod_equity))) <= 0)
		return true;
	if (num_sign(ctx->peak_equity) > 0 &&
		num_cmp(num_div(num_sub(ctx->peak_equity, after), ctx->peak_equity), lim->max_drawdown_pct) >= 0)
		return true;
	return false;
}

/* Raise (or count again) the account's rate_limit alert. */
static void
raise_rate_alert(int64 account_id, int per_minute)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		args[2] = {Int64GetDatum(account_id), Int32GetDatum(per_minute)};

	sigmax_keep_plan(&rate_alert_plan,
		 "SELECT sigmax._raise_alert('rate_limit', 'warning', $1, "
		 "jsonb_build_object('orders_per_minute', $2))", 2, types);
	if (SPI_execute_plan(rate_alert_plan, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: raising the rate-limit alert failed");
}

/* The fee of a fill: notional times fee_bps / 10000. */
static Numeric
fill_fee(const AccountLimits *lim, Numeric qty, Numeric price)
{
	return num_round(num_div(num_mul(num_mul(qty, price), lim->fee_bps), num_from_int(10000)), 12);
}

/*
 * The verdict's five order columns (status, reason_code, reason,
 * reference_price, reduce_only) as SPI arguments, for the insert of a new
 * order and the update of an approved one. With fill_sets_status the order
 * is written accepted, and its fill's update makes it filled.
 */
static void
verdict_args(Datum *args, char *nulls, const Verdict *v, const char *status, bool fill_sets_status)
{
	args[0] = CStringGetTextDatum(fill_sets_status ? "accepted" : status);
	nulls[0] = ' ';
	nulls[1] = v->reason != REASON_NONE ? ' ' : 'n';
	if (v->reason != REASON_NONE)
		args[1] = CStringGetTextDatum(sigmax_reason_codes[v->reason]);
	nulls[2] = v->reason_text ? ' ' : 'n';
	if (v->reason_text)
		args[2] = CStringGetTextDatum(v->reason_text);
	args[3] = v->reference_price ? NumericGetDatum(v->reference_price) : (Datum) 0;
	nulls[3] = v->reference_price ? ' ' : 'n';
	args[4] = BoolGetDatum(v->reducing);
	nulls[4] = ' ';
}

/*
 * Paper-fill an order the verdict fills now, then ledger the verdict; the
 * fee, or NULL. order_recorded: the order's row already says it is filled.
 */
static Numeric
fill_and_ledger(int64 order_id, const OrderRequest *req, const OrderContext *ctx, const Verdict *v,
				const char *status, bool fill_now, bool order_recorded)
{
	Numeric		fee = NULL;

	if (fill_now)
	{
		fee = fill_fee(ctx->limits, req->qty, v->exec_price);
		sigmax_apply_fill(order_id, req->account_id, req->symbol, req->buy, req->qty, v->exec_price, fee,
						  order_recorded);
	}
	ledger_order(v->reason != REASON_NONE ? "order.rejected"
				 : v->pending_approval ? "order.pending_approval"
				 : fill_now ? "order.filled" : "order.accepted",
				 order_id, req, status, v, fill_now ? v->exec_price : NULL, fee);
	return fee;
}

/*
 * The order path shared by submit_order and check_order. A dry run reads
 * without locking, takes no rate token and writes nothing.
 */
static Datum
order_entry(FunctionCallInfo fcinfo, bool dry_run, bool system_close)
{
	MemoryContext call_ctx = CurrentMemoryContext;
	OrderRequest req;
	OrderContext ctx;
	Verdict		v;
	const char *status;
	bool		fill_now;
	int64		order_id;
	Numeric		fee = NULL;

	TimestampTz started = GetCurrentTimestamp();

	sigmax_check_sql_version();
	order_request_from_args(fcinfo, &req, system_close);
	sigmax_require_preload(dry_run ? "sigmax.check_order" : "sigmax.submit_order");
	if (!system_close)
		sigmax_authorize_account(req.account_id);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	MemoryContextSwitchTo(call_ctx);
	order_load_context(&req, dry_run, &ctx);

	/* Resubmitting a client_order_id returns the original verdict, never a second order. */
	if (ctx.dup_order_id != 0 && ctx.dup_same)
	{
		return finish_with_row(call_ctx, fcinfo, true, ctx.dup_order_id, ctx.dup_status,
							   ctx.dup_reason_code[0] ? ctx.dup_reason_code : NULL,
							   ctx.dup_reason[0] ? ctx.dup_reason : NULL);
	}

	order_decide(&req, &ctx, dry_run, &v);
	sigmax_count_verdict(v.reason, dry_run);
	sigmax_count_latency(GetCurrentTimestamp() - started);

	fill_now = v.reason == REASON_NONE && !v.pending_approval && ctx.paper &&
		v.exec_price != NULL && (req.market || v.marketable);
	if (v.reason != REASON_NONE)
		status = "rejected";
	else if (v.pending_approval)
		status = "pending_approval";
	else
		status = fill_now ? "filled" : "accepted";

	if (dry_run)
	{
		return finish_with_row(call_ctx, fcinfo, false, 0, status,
							   v.reason == REASON_NONE ? NULL : sigmax_reason_codes[v.reason], v.reason_text);
	}

	if (ctx.day_rolled)
	{
		Oid			types[3] = {INT8OID, DATEOID, NUMERICOID};
		Datum		args[3] = {Int64GetDatum(req.account_id), DateADTGetDatum(ctx.today),
		NumericGetDatum(ctx.sod_equity)};

		sigmax_keep_plan(&rollover_plan, "UPDATE sigmax.accounts SET sod_date = $2, sod_equity = $3 "
			 "WHERE account_id = $1", 3, types);
		if (SPI_execute_plan(rollover_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "sigmax: start-of-day rollover failed");
		{
			char		stream[40];
			char	   *payload;
			int			y,
						m,
						d;

			/* The UTC date in ISO form, whatever the session's DateStyle. */
			j2date(ctx.today + POSTGRES_EPOCH_JDATE, &y, &m, &d);
			snprintf(stream, sizeof(stream), "account:" INT64_FORMAT, req.account_id);
			payload = psprintf("{\"date\": \"%04d-%02d-%02d\", \"sod_equity\": %s, \"by\": \"order\"}",
							   y, m, d,
							   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(ctx.sod_equity))));
			sigmax_audit_write(stream, "day.rollover",
							   DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(payload))));
		}
	}

	{
		Oid			types[15] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID, NUMERICOID,
			TEXTOID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID, BOOLOID, TEXTOID, NUMERICOID, NUMERICOID};
		Datum		args[15];
		char		nulls[15] = "               ";
		bool		isnull;

		sigmax_keep_plan(&insert_plan,
			 "INSERT INTO sigmax.orders (account_id, symbol, side, order_type, qty, limit_price, "
			 "client_order_id, status, reason_code, reason, reference_price, reduce_only, created_by, "
			 "filled_qty, avg_fill_price) "
			 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING order_id",
			 15, types);
		args[0] = Int64GetDatum(req.account_id);
		args[1] = CStringGetTextDatum(req.symbol);
		args[2] = CStringGetTextDatum(req.buy ? "buy" : "sell");
		args[3] = CStringGetTextDatum(req.market ? "market" : "limit");
		args[4] = NumericGetDatum(req.qty);
		args[5] = req.limit_price ? NumericGetDatum(req.limit_price) : (Datum) 0;
		nulls[5] = req.limit_price ? ' ' : 'n';
		/* A rejected duplicate keeps the original's client_order_id unique. */
		if (req.client_order_id && v.reason != REASON_DUPLICATE_ORDER)
			args[6] = CStringGetTextDatum(req.client_order_id);
		else
			nulls[6] = 'n';
		/* An order filled at once is written filled, with its fill: it never rests in the indexes. */
		verdict_args(&args[7], &nulls[7], &v, status, false);
		/* The caller, not the function's owner: outside SECURITY DEFINER. */
		args[12] = CStringGetTextDatum(GetUserNameFromId(GetOuterUserId(), false));
		if (fill_now)
		{
			args[13] = NumericGetDatum(req.qty);
			args[14] = NumericGetDatum(v.exec_price);
		}
		else
		{
			args[13] = NumericGetDatum(num_from_int(0));
			nulls[14] = 'n';
		}
		if (SPI_execute_plan(insert_plan, args, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "sigmax: recording the order failed");
		order_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}

	fee = fill_and_ledger(order_id, &req, &ctx, &v, status, fill_now, true);

	/* An order at or above the approval threshold waits for a second person (docs/security.md). */
	if (v.reason == REASON_NONE && v.pending_approval)
	{
		Oid			types[1] = {INT8OID};
		Datum		args[1] = {Int64GetDatum(order_id)};

		sigmax_keep_plan(&request_approval_plan, "SELECT sigmax._request_order_approval($1)", 1, types);
		if (SPI_execute_plan(request_approval_plan, args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "sigmax: requesting the order's approval failed");
	}

	/*
	 * Every fill re-evaluates the automatic protections (docs/protections.md).
	 * A fill moves equity only by its cost against the mark (fee and the
	 * spread paid), so the full evaluation runs when that cost could cross
	 * the daily-loss or drawdown limit, or when there is no mark to tell.
	 */
	if (fill_now && fill_may_trip(&req, &ctx, v.exec_price, fee))
		check_protections(req.account_id, ctx.now);
	/* Repeated rate-limit rejections of one account raise an alert (counted per minute). */
	if (v.reason == REASON_RATE_LIMIT)
		raise_rate_alert(req.account_id, ctx.limits->orders_per_minute);

	return finish_with_row(call_ctx, fcinfo, true, order_id, status,
						   v.reason == REASON_NONE ? NULL : sigmax_reason_codes[v.reason], v.reason_text);
}

/* sigmax.submit_order(...): returns (order_id, status, reason_code, reason). */
Datum
sigmax_submit_order(PG_FUNCTION_ARGS)
{
	sigmax_require_primary("place orders");
	return order_entry(fcinfo, false, false);
}

/* sigmax.check_order(...): the same verdict, nothing written, no rate token taken. */
Datum
sigmax_check_order(PG_FUNCTION_ARGS)
{
	return order_entry(fcinfo, true, false);
}

/*
 * sigmax._submit_system_order(...): the order path for sigmax's own closing
 * orders (stop-losses). The order must reduce a position; checks that would
 * block reducing risk (rate, collar, order size, open orders) do not apply.
 */
Datum
sigmax_submit_system_order(PG_FUNCTION_ARGS)
{
	return order_entry(fcinfo, false, true);
}

/*
 * sigmax._approve_order(order_id): the approved execution of an order that
 * was pending approval. Every check runs again now, under the account lock,
 * with the order left out of its own book; it takes no second rate token and
 * the approval threshold no longer applies. The order becomes accepted,
 * filled (paper) or rejected with the reason of the check that failed.
 * Called by sigmax.approve in the approver's transaction.
 */
Datum
sigmax_approve_order(PG_FUNCTION_ARGS)
{
	MemoryContext call_ctx = CurrentMemoryContext;
	int64		order_id = PG_GETARG_INT64(0);
	Oid			types1[1] = {INT8OID};
	Datum		arg = Int64GetDatum(order_id);
	OrderRequest req;
	OrderContext ctx;
	Verdict		v;
	const char *status;
	bool		fill_now;
	bool		isnull;
	Numeric		fee = NULL;
	HeapTuple	tup;
	TupleDesc	desc;

	sigmax_check_sql_version();
	sigmax_require_primary("approve orders");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	MemoryContextSwitchTo(call_ctx);

	sigmax_keep_plan(&pending_order_plan,
					 "SELECT account_id, symbol, side, order_type, qty, limit_price FROM sigmax.orders "
					 "WHERE order_id = $1", 1, types1);
	if (SPI_execute_plan(pending_order_plan, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading the order failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("order " INT64_FORMAT " does not exist", order_id)));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	memset(&req, 0, sizeof(req));
	req.account_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	req.symbol = SPI_getvalue(tup, desc, 2);
	req.buy = strcmp(SPI_getvalue(tup, desc, 3), "buy") == 0;
	req.market = strcmp(SPI_getvalue(tup, desc, 4), "market") == 0;
	req.qty = DatumGetNumericCopy(SPI_getbinval(tup, desc, 5, &isnull));
	{
		Datum		d = SPI_getbinval(tup, desc, 6, &isnull);

		req.limit_price = isnull ? NULL : DatumGetNumericCopy(d);
	}
	req.approved_order_id = order_id;

	/* The lock order of every order path: trading state and account (here), then the order. */
	order_load_context(&req, false, &ctx);
	sigmax_keep_plan(&pending_lock_plan,
					 "SELECT status FROM sigmax.orders WHERE order_id = $1 FOR UPDATE", 1, types1);
	if (SPI_execute_plan(pending_lock_plan, &arg, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "sigmax: locking the order failed");
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(status, "pending_approval") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " is %s, not pending approval", order_id, status)));

	order_decide(&req, &ctx, false, &v);
	sigmax_count_verdict(v.reason, false);
	fill_now = v.reason == REASON_NONE && ctx.paper && v.exec_price != NULL && (req.market || v.marketable);
	status = v.reason != REASON_NONE ? "rejected" : fill_now ? "filled" : "accepted";

	{
		Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID, BOOLOID};
		Datum		args[6];
		char		nulls[6] = "      ";

		sigmax_keep_plan(&approved_update_plan,
						 "UPDATE sigmax.orders SET status = $2, reason_code = $3, reason = $4, "
						 "reference_price = coalesce($5, reference_price), reduce_only = $6, updated_at = now() "
						 "WHERE order_id = $1", 6, types);
		args[0] = Int64GetDatum(order_id);
		verdict_args(&args[1], &nulls[1], &v, status, fill_now);
		if (SPI_execute_plan(approved_update_plan, args, nulls, false, 1) != SPI_OK_UPDATE)
			elog(ERROR, "sigmax: recording the approved order failed");
	}
	fee = fill_and_ledger(order_id, &req, &ctx, &v, status, fill_now, false);
	if (fill_now && fill_may_trip(&req, &ctx, v.exec_price, fee))
		check_protections(req.account_id, ctx.now);

	return finish_with_row(call_ctx, fcinfo, true, order_id, status,
						   v.reason == REASON_NONE ? NULL : sigmax_reason_codes[v.reason], v.reason_text);
}

/*
 * sigmax._fill_order(order_id, price): fill a resting limit order that a
 * recorded price crossed. Locks the account; false when the order is no
 * longer working (cancelled or filled meanwhile).
 */
Datum
sigmax_fill_order(PG_FUNCTION_ARGS)
{
	MemoryContext call_ctx = CurrentMemoryContext;
	int64		order_id = PG_GETARG_INT64(0);
	Numeric		price = PG_GETARG_NUMERIC(1);
	Oid			types[1] = {INT8OID};
	Datum		arg = Int64GetDatum(order_id);
	OrderRequest req;
	Verdict		v;
	Numeric		fee;
	bool		isnull;
	AccountLimits *lim;
	HeapTuple	tup;
	TupleDesc	desc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	MemoryContextSwitchTo(call_ctx);
	/* Lock order of every order path: trading state, account row, order row. */
	(void) sigmax_global_state(true);
	sigmax_keep_plan(&account_of_plan, "SELECT account_id FROM sigmax.orders WHERE order_id = $1", 1, types);
	if (SPI_execute_plan(account_of_plan, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading the resting order failed");
	if (SPI_processed == 1)
	{
		Datum		account = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		sigmax_keep_plan(&lock_account_plan, "SELECT 1 FROM sigmax.accounts WHERE account_id = $1 FOR NO KEY UPDATE",
			 1, types);
		if (SPI_execute_plan(lock_account_plan, &account, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "sigmax: locking the account failed");
	}
	sigmax_keep_plan(&resting_plan,
		 "SELECT account_id, symbol, side, qty - filled_qty, limit_price, client_order_id, "
		 "reference_price, reduce_only "
		 "FROM sigmax.orders WHERE order_id = $1 AND status = 'accepted' FOR UPDATE", 1, types);
	if (SPI_execute_plan(resting_plan, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading the resting order failed");
	if (SPI_processed == 0)
	{
		SPI_finish();
		PG_RETURN_BOOL(false);
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	memset(&req, 0, sizeof(req));
	req.account_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	req.symbol = SPI_getvalue(tup, desc, 2);
	req.buy = strcmp(SPI_getvalue(tup, desc, 3), "buy") == 0;
	req.qty = DatumGetNumericCopy(SPI_getbinval(tup, desc, 4, &isnull));
	req.limit_price = DatumGetNumericCopy(SPI_getbinval(tup, desc, 5, &isnull));
	req.client_order_id = SPI_getvalue(tup, desc, 6);
	memset(&v, 0, sizeof(v));
	{
		Datum		d = SPI_getbinval(tup, desc, 7, &isnull);

		v.reference_price = isnull ? NULL : DatumGetNumericCopy(d);
	}
	v.reducing = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));

	lim = sigmax_account_limits(req.account_id);
	fee = fill_fee(lim, req.qty, price);
	sigmax_apply_fill(order_id, req.account_id, req.symbol, req.buy, req.qty, price, fee, false);
	ledger_order("order.fill", order_id, &req, "filled", &v, price, fee);
	SPI_finish();
	PG_RETURN_BOOL(true);
}

/* sigmax._audit_write(stream, action, payload): the ledger entry point for sigmax's SQL functions. */
Datum
sigmax_internal_audit_write(PG_FUNCTION_ARGS)
{
	char	   *stream;

	sigmax_require_primary("write the ledger");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("stream, action and payload must not be null")));
	stream = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (ledger_stream_kind(stream) == LEDGER_STREAM_INVALID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid ledger stream name")));
	PG_RETURN_INT64(sigmax_audit_write(stream, text_to_cstring(PG_GETARG_TEXT_PP(1)),
									   PG_GETARG_JSONB_P(2)));
}

/*
 * sigmax._order_path_lock(): take the trading-state lock in share mode, as
 * every order path does first, so that paths written in SQL (cancel_order)
 * keep the one lock order: state, account row, order rows.
 */
Datum
sigmax_order_path_lock(PG_FUNCTION_ARGS)
{
	sigmax_check_sql_version();
	(void) sigmax_global_state(true);
	PG_RETURN_VOID();
}
