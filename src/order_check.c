/*
 * order_check.c
 *	  Validation of order input and the pre-trade checks, in the order of
 *	  docs/risk-checks.md; the first check that fails decides the verdict.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "order.h"
#include "row_lookup.h"
#include "risk.h"
#include "sigmax.h"

/* Largest quantity or price accepted as input; beyond it is 22003. */
#define ORDER_MAX_VALUE "1000000000000000"

static SPIPlanPtr stop_out_plan = NULL;

/* ---- numeric helpers: exact decimal arithmetic, never binary floats ---- */

Numeric
num_from_cstring(const char *s)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* A copy in CurrentMemoryContext; NULL stays NULL. */
Numeric
num_copy(Numeric a)
{
	return a ? DatumGetNumericCopy(NumericGetDatum(a)) : NULL;
}

/*
 * Replace each of n numerics (NULLs stay NULL) by a copy, all in one block of
 * CurrentMemoryContext: the caches hand out their rows this way on every
 * order, where a palloc per field was a tenth of a check's allocations.
 */
void
num_copy_many(Numeric *const *fields, int n)
{
	Size		total = 0;
	char	   *block;

	for (int i = 0; i < n; i++)
	{
		if (*fields[i] == NULL)
			continue;
		if (VARATT_IS_EXTENDED(*fields[i]))
			*fields[i] = num_copy(*fields[i]);	/* short or toasted: detoast first */
		total += MAXALIGN(VARSIZE(*fields[i]));
	}
	if (total == 0)
		return;
	block = palloc(total);
	for (int i = 0; i < n; i++)
	{
		Size		size;

		if (*fields[i] == NULL)
			continue;
		size = VARSIZE(*fields[i]);
		memcpy(block, *fields[i], size);
		*fields[i] = (Numeric) block;
		block += MAXALIGN(size);
	}
}

Numeric
num_from_int(int64 v)
{
	return int64_to_numeric(v);
}

Numeric
num_add(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
num_sub(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_sub, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
num_mul(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
num_div(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_div, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
num_abs(Numeric a)
{
	return DatumGetNumeric(DirectFunctionCall1(numeric_abs, NumericGetDatum(a)));
}

int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

/*
 * A constant the checks use on every call, made once per backend: numeric_in
 * and int64_to_numeric allocate and convert on each use.
 */
static Numeric
num_constant(Numeric *made, const char *text)
{
	if (*made == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		*made = num_from_cstring(text);
		MemoryContextSwitchTo(old);
	}
	return *made;
}

static Numeric num_zero_made = NULL;
static Numeric num_one_made = NULL;
static Numeric num_basis_point_made = NULL;
static Numeric num_order_max_made = NULL;

#define NUM_ZERO() num_constant(&num_zero_made, "0")
#define NUM_ONE() num_constant(&num_one_made, "1")
#define NUM_BASIS_POINT() num_constant(&num_basis_point_made, "0.0001")
#define NUM_ORDER_MAX() num_constant(&num_order_max_made, ORDER_MAX_VALUE)

int
num_sign(Numeric a)
{
	return num_cmp(a, NUM_ZERO());
}

Numeric
num_round(Numeric a, int scale)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(a), Int32GetDatum(scale)));
}

/* Text of a number for people: at most 8 decimals, no trailing zeros. */
char *
num_text(Numeric a)
{
	Numeric		r = DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale,
														NumericGetDatum(num_round(a, 8))));

	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(r)));
}

/* Round a price to the instrument's tick: up for buys, down for sells (never better than the market). */
static Numeric
round_to_tick(Numeric price, Numeric tick, bool up)
{
	Numeric		units = num_div(price, tick);
	Datum		whole = up ? DirectFunctionCall1(numeric_ceil, NumericGetDatum(units))
		: DirectFunctionCall1(numeric_floor, NumericGetDatum(units));

	return num_mul(DatumGetNumeric(whole), tick);
}

/* a is a whole multiple of step. */
static bool
num_is_multiple(Numeric a, Numeric step)
{
	Numeric		rem = DatumGetNumeric(DirectFunctionCall2(numeric_mod, NumericGetDatum(a),
														  NumericGetDatum(step)));

	return num_sign(rem) == 0;
}

/* ---- input validation: malformed input is an ERROR and writes nothing ---- */

static void
require_arg(bool isnull, const char *name)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be null", name)));
}

/* A finite positive quantity or price within range; reason code in the detail. */
static void
validate_amount(Numeric value, const char *name, const char *code)
{
	if (numeric_is_nan(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a number, not NaN", name),
				 errdetail("Reason code %s.", code)));
	if (numeric_is_inf(value))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be finite", name),
				 errdetail("Reason code %s.", code)));
	if (num_sign(value) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be greater than zero", name),
				 errdetail("Reason code %s.", code)));
	if (num_cmp(value, NUM_ORDER_MAX()) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", name),
				 errdetail("Reason code %s; the largest accepted value is 1e15.", code)));
}

/* BASE/QUOTE, each 2 to 10 upper-case letters or digits. */
bool
order_symbol_valid(const char *s, int len)
{
	int			i,
				slash = -1;

	if (len < 5 || len > 21)
		return false;
	for (i = 0; i < len; i++)
	{
		if (s[i] == '/')
		{
			if (slash >= 0)
				return false;
			slash = i;
		}
		else if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	}
	return slash >= 2 && slash <= 10 && len - slash - 1 >= 2 && len - slash - 1 <= 10;
}

/*
 * Read and validate submit_order/check_order arguments (account_id, symbol,
 * side, qty, order_type, limit_price, client_order_id).
 */
void
order_request_from_args(FunctionCallInfo fcinfo, OrderRequest *req, bool system_close)
{
	text	   *t;
	char	   *side;
	char	   *type;

	memset(req, 0, sizeof(*req));
	req->system_close = system_close;
	req->approved_order_id = 0;
	require_arg(PG_ARGISNULL(0), "account_id");
	require_arg(PG_ARGISNULL(1), "symbol");
	require_arg(PG_ARGISNULL(2), "side");
	require_arg(PG_ARGISNULL(3), "qty");
	require_arg(PG_ARGISNULL(4), "order_type");

	req->account_id = PG_GETARG_INT64(0);
	if (req->account_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("account_id must be positive")));

	t = PG_GETARG_TEXT_PP(1);
	if (!order_symbol_valid(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid symbol"),
				 errdetail("Reason code INVALID_SYMBOL: a symbol is BASE/QUOTE, each side 2 to 10 upper-case letters or digits."),
				 errhint("For example 'BTC/USDT'.")));
	req->symbol = text_to_cstring(t);

	t = PG_GETARG_TEXT_PP(2);
	side = VARSIZE_ANY_EXHDR(t) <= 4 ? text_to_cstring(t) : "";
	if (strcmp(side, "buy") == 0)
		req->buy = true;
	else if (strcmp(side, "sell") == 0)
		req->buy = false;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("side must be 'buy' or 'sell'"),
				 errdetail("Reason code INVALID_SIDE.")));

	req->qty = PG_GETARG_NUMERIC(3);
	validate_amount(req->qty, "qty", "INVALID_QUANTITY");

	t = PG_GETARG_TEXT_PP(4);
	type = VARSIZE_ANY_EXHDR(t) <= 6 ? text_to_cstring(t) : "";
	if (strcmp(type, "market") == 0)
		req->market = true;
	else if (strcmp(type, "limit") == 0)
		req->market = false;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("order_type must be 'market' or 'limit'")));

	if (req->market && !PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a market order takes no limit_price"),
				 errdetail("Reason code INVALID_PRICE."),
				 errhint("Use order_type 'limit' to set a price.")));
	if (!req->market)
	{
		if (PG_ARGISNULL(5))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a limit order needs a limit_price"),
					 errdetail("Reason code INVALID_PRICE.")));
		req->limit_price = PG_GETARG_NUMERIC(5);
		validate_amount(req->limit_price, "limit_price", "INVALID_PRICE");
	}

	if (!PG_ARGISNULL(6))
	{
		int			i,
					len;

		t = PG_GETARG_TEXT_PP(6);
		len = VARSIZE_ANY_EXHDR(t);
		if (len < 1 || len > 64)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("client_order_id must be 1 to 64 characters long")));
		for (i = 0; i < len; i++)
		{
			char		c = VARDATA_ANY(t)[i];

			/* '#' is sigmax's own (stop#<id>): no trader can take a system close's id. */
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				  c == '-' || c == '_' || c == '.' || c == ':' || (c == '#' && system_close)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("client_order_id may contain only letters, digits and \"-_.:\"")));
		}
		req->client_order_id = text_to_cstring(t);
	}
}

/* ---- reading the state a verdict depends on ---- */

/*
 * The instrument, its venue's price and the venue's state. The instrument
 * and the venue's state come from the per-backend cache (instrument_cache.c);
 * the price, which changes every second, is read through row_lookup.c, as an
 * index lookup without the executor.
 */
static void
load_instrument(const OrderRequest *req, Snapshot snap, OrderContext *ctx)
{
	RowLookup	rl;
	Datum		keys[2];
	SigmaxInstrument instrument;

	if (!sigmax_instrument(req->symbol, &instrument))
		return;
	ctx->instrument_found = true;
	ctx->tick_size = instrument.tick_size;
	ctx->lot_size = instrument.lot_size;
	ctx->min_qty = instrument.min_qty;
	ctx->max_qty = instrument.max_qty;
	ctx->min_notional = instrument.min_notional;
	ctx->enabled = instrument.enabled;

	keys[0] = CStringGetTextDatum(instrument.exchange);
	keys[1] = CStringGetTextDatum(req->symbol);
	row_lookup_begin(&rl, "market_prices", "market_prices_pkey", snap, 2, keys);
	if (row_lookup_next(&rl))
	{
		ctx->bid = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "bid"));
		ctx->ask = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "ask"));
		ctx->last = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "last"));
		ctx->price_at = DatumGetTimestampTz(row_lookup_byval(&rl, row_lookup_attnum(&rl, "recorded_at"), (Datum) 0));
		ctx->has_price = ctx->last != NULL;
	}
	row_lookup_end(&rl);

	ctx->venue_reducing = sigmax_venue_reducing(instrument.exchange);
}

/* The last price of another symbol the account holds, at its instrument's venue; NULL when none. */
static Numeric
position_mark(const char *symbol, Snapshot snap)
{
	RowLookup	rl;
	Datum		keys[2];
	SigmaxInstrument instrument;
	Numeric		last = NULL;

	if (!sigmax_instrument(symbol, &instrument))
		return NULL;

	keys[0] = CStringGetTextDatum(instrument.exchange);
	keys[1] = CStringGetTextDatum(symbol);
	row_lookup_begin(&rl, "market_prices", "market_prices_pkey", snap, 2, keys);
	if (row_lookup_next(&rl))
		last = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "last"));
	row_lookup_end(&rl);
	return last;
}

/*
 * The account's book: its position in the symbol, its working orders (those
 * accepted or pending approval) and the gross exposure and value of its open
 * positions at the last price (or their entry price where there is none).
 */
static void
load_book(const OrderRequest *req, Snapshot snap, OrderContext *ctx)
{
	RowLookup	rl;
	Datum		keys[2];
	Numeric		zero = NUM_ZERO();
	AttrNumber	a_symbol,
				a_side,
				a_qty,
				a_filled,
				a_limit,
				a_ref,
				a_status,
				a_order,
				a_avg;

	ctx->position = zero;
	ctx->working_buy = zero;
	ctx->working_sell = zero;
	ctx->working_notional = zero;
	ctx->working_buy_notional = zero;
	ctx->gross_exposure = zero;
	ctx->position_value = zero;
	ctx->open_orders = 0;

	keys[0] = Int64GetDatum(req->account_id);
	row_lookup_begin(&rl, "orders", "orders_working_idx", snap, 1, keys);
	a_symbol = row_lookup_attnum(&rl, "symbol");
	a_side = row_lookup_attnum(&rl, "side");
	a_qty = row_lookup_attnum(&rl, "qty");
	a_filled = row_lookup_attnum(&rl, "filled_qty");
	a_limit = row_lookup_attnum(&rl, "limit_price");
	a_ref = row_lookup_attnum(&rl, "reference_price");
	a_status = row_lookup_attnum(&rl, "status");
	a_order = row_lookup_attnum(&rl, "order_id");
	while (row_lookup_next(&rl))
	{
		Numeric		left;
		Numeric		px;
		Numeric		notional;
		bool		buy;

		/* The index is partial on these statuses; the row says so too. */
		if (!row_lookup_text_eq(&rl, a_status, "accepted") &&
			!row_lookup_text_eq(&rl, a_status, "pending_approval"))
			continue;
		/* An order being approved is judged as new: it is not in its own book. */
		if (req->approved_order_id != 0 &&
			DatumGetInt64(row_lookup_byval(&rl, a_order, (Datum) 0)) == req->approved_order_id)
			continue;
		buy = row_lookup_text_eq(&rl, a_side, "buy");
		left = num_sub(row_lookup_numeric(&rl, a_qty), row_lookup_numeric(&rl, a_filled));
		px = row_lookup_numeric(&rl, a_limit);
		if (px == NULL)
			px = row_lookup_numeric(&rl, a_ref);
		ctx->open_orders++;
		if (row_lookup_text_eq(&rl, a_symbol, req->symbol))
		{
			if (buy)
				ctx->working_buy = num_add(ctx->working_buy, left);
			else
				ctx->working_sell = num_add(ctx->working_sell, left);
		}
		if (px == NULL)
			continue;			/* NULL * qty adds nothing to a sum */
		notional = num_mul(left, px);
		ctx->working_notional = num_add(ctx->working_notional, notional);
		if (buy)
			ctx->working_buy_notional = num_add(ctx->working_buy_notional, notional);
	}
	row_lookup_end(&rl);

	row_lookup_begin(&rl, "positions", "positions_pkey", snap, 1, keys);
	a_symbol = row_lookup_attnum(&rl, "symbol");
	a_qty = row_lookup_attnum(&rl, "qty");
	a_avg = row_lookup_attnum(&rl, "avg_price");
	while (row_lookup_next(&rl))
	{
		Numeric		qty = row_lookup_numeric(&rl, a_qty);
		char	   *symbol;
		Numeric		mark;

		if (row_lookup_text_eq(&rl, a_symbol, req->symbol))
			ctx->position = qty;
		if (num_sign(qty) == 0)
			continue;
		symbol = row_lookup_cstring(&rl, a_symbol);
		mark = strcmp(symbol, req->symbol) == 0 ? ctx->last : position_mark(symbol, snap);
		if (mark == NULL)
			mark = row_lookup_numeric(&rl, a_avg);
		if (mark == NULL)
			continue;
		ctx->gross_exposure = num_add(ctx->gross_exposure, num_mul(num_abs(qty), mark));
		ctx->position_value = num_add(ctx->position_value, num_mul(qty, mark));
	}
	row_lookup_end(&rl);
}

/*
 * Load the account (locked for the rest of the transaction unless a dry
 * run), its limits, the instrument with its price, and the account's book.
 * Every read of what orders change uses one snapshot taken after the lock, so
 * it sees what the previous holder of the lock committed: reading with the
 * statement's (or a REPEATABLE READ transaction's) snapshot would let racing
 * orders pass a limit together. Limits, instruments and venue states, which
 * orders never change, come from per-backend caches.
 * Errors when the account does not exist.
 */
void
order_load_context(const OrderRequest *req, bool dry_run, OrderContext *ctx)
{
	Oid			types2[2] = {INT8OID, TEXTOID};
	Datum		args[2];
	bool		isnull;
	bool		found;
	Snapshot	snap;
	RowLookup	rl;

	memset(ctx, 0, sizeof(*ctx));
	ctx->global_state = sigmax_global_state(!dry_run);
	ctx->now = GetCurrentTimestamp();

	args[0] = Int64GetDatum(req->account_id);
	if (!dry_run)
	{
		/* SELECT ... FOR NO KEY UPDATE, without its executor start-up */
		found = row_lookup_lock(&rl, "accounts", "accounts_pkey", 1, args, LockTupleNoKeyExclusive);
		row_lookup_end(&rl);
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("account " INT64_FORMAT " does not exist", req->account_id)));
	}
	snap = RegisterSnapshot(GetLatestSnapshot());

	row_lookup_begin(&rl, "accounts", "accounts_pkey", snap, 1, args);
	found = row_lookup_next(&rl);
	if (found)
	{
		ctx->account_state = sigmax_state_from_text(row_lookup_cstring(&rl, row_lookup_attnum(&rl, "state")));
		ctx->cash = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "cash"));
		ctx->sod_equity = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "sod_equity"));
		ctx->sod_date = DatumGetDateADT(row_lookup_byval(&rl, row_lookup_attnum(&rl, "sod_date"), (Datum) 0));
		ctx->paper = row_lookup_text_eq(&rl, row_lookup_attnum(&rl, "trading_mode"), "paper");
		ctx->peak_equity = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "peak_equity"));
	}
	row_lookup_end(&rl);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("account " INT64_FORMAT " does not exist", req->account_id)));

	ctx->limits = sigmax_account_limits(req->account_id);
	if (ctx->limits == NULL)
		elog(ERROR, "sigmax: account " INT64_FORMAT " has no limits", req->account_id);

	load_instrument(req, snap, ctx);

	/* The last stop-out of this position, when a cool-down applies (rare: a scan of stops). */
	if (ctx->limits->stop_cooldown_s > 0)
	{
		SigmaxOwnerScope scope;

		sigmax_owner_scope_begin(&scope);
		args[1] = CStringGetTextDatum(req->symbol);
		sigmax_keep_plan(&stop_out_plan,
						 "SELECT max(closed_at) FROM sigmax.stops WHERE account_id = $1 AND symbol = $2 "
						 "AND status = 'triggered'", 2, types2);
		if (SPI_execute_snapshot(stop_out_plan, args, NULL, snap, InvalidSnapshot,
								 false, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "sigmax: reading stop-outs failed");
		{
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			ctx->last_stop_out = isnull ? 0 : DatumGetTimestampTz(d);
		}
		sigmax_owner_scope_end(&scope);
	}

	load_book(req, snap, ctx);
	ctx->equity = num_add(ctx->cash, ctx->position_value);

	/*
	 * Start of a new UTC day: today's losses count from today's equity. The
	 * day is UTC whatever the session's TimeZone, which a trader could set.
	 */
	{
		struct pg_tm tm;
		fsec_t		fsec;

		if (timestamp2tm(ctx->now, NULL, &tm, &fsec, NULL, NULL) != 0)
			elog(ERROR, "sigmax: the clock is out of range");
		ctx->today = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
	}
	ctx->day_rolled = ctx->today > ctx->sod_date;
	if (ctx->day_rolled)
		ctx->sod_equity = ctx->equity;

	if (req->client_order_id != NULL)
	{
		args[1] = CStringGetTextDatum(req->client_order_id);
		row_lookup_begin(&rl, "orders", "orders_account_id_client_order_id_key", snap, 2, args);
		if (row_lookup_next(&rl))
		{
			Numeric		qty = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "qty"));
			Numeric		px = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "limit_price"));
			char	   *code = row_lookup_cstring(&rl, row_lookup_attnum(&rl, "reason_code"));
			char	   *reason = row_lookup_cstring(&rl, row_lookup_attnum(&rl, "reason"));

			ctx->dup_order_id = DatumGetInt64(row_lookup_byval(&rl, row_lookup_attnum(&rl, "order_id"), (Datum) 0));
			ctx->dup_status = row_lookup_cstring(&rl, row_lookup_attnum(&rl, "status"));
			ctx->dup_reason_code = code ? code : "";
			ctx->dup_reason = reason ? reason : "";
			ctx->dup_same = row_lookup_text_eq(&rl, row_lookup_attnum(&rl, "symbol"), req->symbol) &&
				row_lookup_text_eq(&rl, row_lookup_attnum(&rl, "side"), req->buy ? "buy" : "sell") &&
				row_lookup_text_eq(&rl, row_lookup_attnum(&rl, "order_type"), req->market ? "market" : "limit") &&
				num_cmp(qty, req->qty) == 0 &&
				((px == NULL && req->limit_price == NULL) ||
				 (px != NULL && req->limit_price != NULL && num_cmp(px, req->limit_price) == 0));
		}
		row_lookup_end(&rl);
	}
	UnregisterSnapshot(snap);
}

/* ---- the checks ---- */

static Numeric
pct_of(Numeric pct, Numeric base)
{
	return num_mul(pct, base);
}

/* 1 + bps / 10000 (up) or 1 - bps / 10000, multiplied out: exact, where a division rounds. */
Numeric
num_bps_factor(Numeric bps, bool up)
{
	Numeric		f = num_mul(bps, NUM_BASIS_POINT());

	return up ? num_add(NUM_ONE(), f) : num_sub(NUM_ONE(), f);
}

/* Record the deciding check and its human reason. */
static void
reject(Verdict *v, SigmaxReason reason, const char *fmt,...) pg_attribute_printf(3, 4);

static void
reject(Verdict *v, SigmaxReason reason, const char *fmt,...)
{
	va_list		ap;
	char		buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	v->reason = reason;
	v->reason_text = pstrdup(buf);
}

/*
 * Run every check in order; the first that fails decides. Fills in the
 * prices the order would execute at. Takes a rate token unless dry_run.
 */
void
order_decide(const OrderRequest *req, const OrderContext *ctx, bool dry_run, Verdict *v)
{
	const AccountLimits *lim = ctx->limits;
	SigmaxState state = Max(ctx->global_state, ctx->account_state);
	Numeric		zero = NUM_ZERO();
	Numeric		signed_qty = req->buy ? req->qty : num_sub(zero, req->qty);
	Numeric		working_same = req->buy ? ctx->working_buy : ctx->working_sell;
	Numeric		working_reducing = req->buy ? ctx->working_buy : ctx->working_sell;
	Numeric		side_price;

	memset(v, 0, sizeof(*v));
	v->reason = REASON_NONE;

	/* Reducing: against the position, and not beyond it with the working orders on that side. */
	v->reducing = num_sign(ctx->position) != 0 &&
		(num_sign(ctx->position) > 0) != req->buy &&
		num_cmp(num_add(req->qty, working_reducing), num_abs(ctx->position)) <= 0;

	/* The price this order would execute at, and its notional. */
	if (ctx->has_price)
	{
		v->reference_price = ctx->last;
		side_price = req->buy ? (ctx->ask ? ctx->ask : ctx->last) : (ctx->bid ? ctx->bid : ctx->last);
		if (req->market)
		{
			v->exec_price = num_mul(side_price, req->buy ? lim->slippage_factor_buy : lim->slippage_factor_sell);
			if (ctx->tick_size != NULL)
				v->exec_price = round_to_tick(v->exec_price, ctx->tick_size, req->buy);
		}
		else
		{
			bool		marketable = req->buy ? num_cmp(req->limit_price, side_price) >= 0
				: num_cmp(req->limit_price, side_price) <= 0;

			v->marketable = marketable;
			v->exec_price = marketable ? side_price : req->limit_price;
		}
	}
	else if (!req->market)
		v->exec_price = req->limit_price;
	if (v->exec_price != NULL)
		v->notional = num_mul(req->qty, req->market ? v->exec_price : req->limit_price);

	if (!ctx->instrument_found || (!ctx->enabled && !req->system_close))
	{
		reject(v, REASON_UNKNOWN_INSTRUMENT, "%s is not a tradable instrument",
			   req->symbol);
		return;
	}
	/* A close of the whole position is never refused for its size: the position exists. */
	if (!req->system_close &&
		(!num_is_multiple(req->qty, ctx->lot_size) || num_cmp(req->qty, ctx->min_qty) < 0 ||
		 (ctx->max_qty && num_cmp(req->qty, ctx->max_qty) > 0)))
	{
		reject(v, REASON_LOT_SIZE, "qty %s is not a multiple of the lot size %s between %s and %s",
			   num_text(req->qty), num_text(ctx->lot_size), num_text(ctx->min_qty),
			   ctx->max_qty ? num_text(ctx->max_qty) : "no maximum");
		return;
	}
	if (!req->market && !num_is_multiple(req->limit_price, ctx->tick_size))
	{
		reject(v, REASON_TICK_SIZE, "limit_price %s is not a multiple of the tick size %s",
			   num_text(req->limit_price), num_text(ctx->tick_size));
		return;
	}
	if (!req->system_close && v->notional != NULL && num_cmp(v->notional, ctx->min_notional) < 0)
	{
		reject(v, REASON_MIN_NOTIONAL, "notional %s is below the minimum %s",
			   num_text(v->notional), num_text(ctx->min_notional));
		return;
	}
	/* A system close must reduce; then only the checks that protect reducing apply. */
	if (req->system_close && !v->reducing)
	{
		reject(v, REASON_REDUCE_ONLY, "a closing order from sigmax must reduce the position");
		return;
	}
	/* An order being approved took its token when it was submitted. */
	if (!req->system_close && req->approved_order_id == 0 &&
		!sigmax_rate_take(req->account_id, lim->orders_per_minute, dry_run))
	{
		reject(v, REASON_RATE_LIMIT, "more than %d orders a minute for this account",
			   lim->orders_per_minute);
		return;
	}
	if (state == STATE_PAUSED && !v->reducing)
	{
		reject(v, REASON_TRADING_PAUSED, "trading is paused%s; only orders that reduce a position pass",
			   ctx->global_state == STATE_PAUSED ? " for every account" : " for this account");
		return;
	}
	if (state == STATE_HALTED && !v->reducing)
	{
		reject(v, REASON_TRADING_HALTED, "trading is halted%s; only orders that reduce a position pass",
			   ctx->global_state == STATE_HALTED ? " by the kill switch" : " for this account");
		return;
	}
	if ((state == STATE_REDUCING || ctx->venue_reducing) && !v->reducing)
	{
		reject(v, REASON_REDUCE_ONLY, "the %s is reduce-only and this order does not reduce a position",
			   ctx->global_state == STATE_REDUCING ? "market" :
			   ctx->account_state == STATE_REDUCING ? "account" : "venue (after repeated API errors)");
		return;
	}
	if (!v->reducing && ctx->last_stop_out != 0 &&
		ctx->now - ctx->last_stop_out < (int64) lim->stop_cooldown_s * USECS_PER_SEC)
	{
		reject(v, REASON_COOLDOWN, "%s stopped out less than %d s ago; new entries wait for the cool-down",
			   req->symbol, lim->stop_cooldown_s);
		return;
	}
	if (ctx->dup_order_id != 0 && !ctx->dup_same)
	{
		reject(v, REASON_DUPLICATE_ORDER, "client_order_id %s already names order " INT64_FORMAT
			   " with other parameters", req->client_order_id, ctx->dup_order_id);
		return;
	}
	/* A system close is judged by the price that fired it, however late it arrived. */
	if (!ctx->has_price ||
		(!req->system_close && ctx->now - ctx->price_at > (int64) lim->stale_price_ms * 1000))
	{
		if (req->market || !v->reducing)
		{
			reject(v, REASON_STALE_PRICE, ctx->has_price ? "the last price of %s is older than %d ms"
				   : "there is no price for %s (stale after %d ms)", req->symbol, lim->stale_price_ms);
			return;
		}
	}
	if (ctx->has_price && !req->system_close)
	{
		Numeric		probe = req->market ? v->exec_price : req->limit_price;
		/* |probe - last| / last > collar, multiplied out: exact, and no division */
		Numeric		deviation = num_abs(num_sub(probe, ctx->last));

		if (num_cmp(deviation, num_mul(lim->price_collar_pct, ctx->last)) > 0)
		{
			reject(v, REASON_PRICE_COLLAR, "price %s is more than %s from the last price %s",
				   num_text(probe), num_text(lim->price_collar_pct), num_text(ctx->last));
			return;
		}
	}
	if (lim->max_order_qty && !req->system_close && num_cmp(req->qty, lim->max_order_qty) > 0)
	{
		reject(v, REASON_MAX_ORDER_QTY, "qty %s is above the limit %s",
			   num_text(req->qty), num_text(lim->max_order_qty));
		return;
	}
	if (lim->max_order_notional && !req->system_close && v->notional &&
		num_cmp(v->notional, lim->max_order_notional) > 0)
	{
		reject(v, REASON_MAX_ORDER_NOTIONAL, "notional %s is above the limit %s",
			   num_text(v->notional), num_text(lim->max_order_notional));
		return;
	}
	if (!v->reducing && v->exec_price != NULL)
	{
		/* Every working order on this side counts as if filled. */
		Numeric		post = num_add(num_add(ctx->position, signed_qty),
								   req->buy ? working_same : num_sub(zero, working_same));
		Numeric		post_value = num_mul(num_abs(post), v->exec_price);
		Numeric		limit = pct_of(lim->max_position_pct, ctx->equity);

		if (num_cmp(post_value, limit) > 0)
		{
			reject(v, REASON_POSITION_LIMIT, "position would be %s %s (%s), above %s of equity (%s)",
				   num_text(post), req->symbol, num_text(post_value),
				   num_text(lim->max_position_pct), num_text(limit));
			return;
		}
	}
	if (!v->reducing && v->notional != NULL)
	{
		Numeric		gross = num_add(num_add(ctx->gross_exposure, ctx->working_notional), v->notional);
		Numeric		limit = pct_of(lim->max_exposure_pct, ctx->equity);

		if (num_cmp(gross, limit) > 0)
		{
			reject(v, REASON_EXPOSURE_LIMIT, "gross exposure would be %s, above %s of equity (%s)",
				   num_text(gross), num_text(lim->max_exposure_pct), num_text(limit));
			return;
		}
	}
	if (!req->system_close && ctx->open_orders >= lim->max_open_orders)
	{
		reject(v, REASON_OPEN_ORDERS_LIMIT, "the account has " INT64_FORMAT " working orders; the limit is %d",
			   ctx->open_orders, lim->max_open_orders);
		return;
	}
	if (!v->reducing)
	{
		Numeric		daily = num_sub(ctx->equity, ctx->sod_equity);
		Numeric		floor = num_sub(zero, pct_of(lim->max_daily_loss_pct, ctx->sod_equity));

		if (num_cmp(daily, floor) <= 0)
		{
			reject(v, REASON_DAILY_LOSS_LIMIT, "today's P&L %s has reached the daily loss limit %s",
				   num_text(daily), num_text(floor));
			return;
		}
	}
	if (req->buy && !v->reducing && ctx->paper && v->exec_price != NULL)
	{
		Numeric		gross = req->market ? v->notional : num_mul(req->qty, v->exec_price);
		Numeric		cost = num_mul(gross, lim->fee_factor_buy);
		Numeric		needed = num_add(cost, ctx->working_buy_notional);

		if (num_cmp(needed, ctx->cash) > 0)
		{
			reject(v, REASON_INSUFFICIENT_BALANCE, "the order needs %s with working buys; the cash balance is %s",
				   num_text(needed), num_text(ctx->cash));
			return;
		}
	}
	if (lim->approval_notional && !req->system_close && req->approved_order_id == 0 && v->notional &&
		num_cmp(v->notional, lim->approval_notional) >= 0)
	{
		v->pending_approval = true;
		v->reason_text = psprintf("notional %s is at or above the approval threshold %s",
								  num_text(v->notional), num_text(lim->approval_notional));
	}
}
