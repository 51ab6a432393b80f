/*
 * fills.c
 *	  Paper executions: a fill updates the position (quantity, average entry,
 *	  realized P&L, the trade's P&L), the cash balance, the losing streak, the
 *	  position's protective stop and the order, in the caller's transaction.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "risk.h"
#include "row_lookup.h"
#include "sigmax.h"

static SPIPlanPtr upsert_plan = NULL;
static SPIPlanPtr cash_plan = NULL;
static SPIPlanPtr fill_plan = NULL;
static SPIPlanPtr order_plan = NULL;
static SPIPlanPtr streak_plan = NULL;
static SPIPlanPtr streak_pause_plan = NULL;
static SPIPlanPtr stop_cancel_plan = NULL;
static SPIPlanPtr stop_set_plan = NULL;

/* The account's active stop in a symbol, as stored. */
typedef struct ActiveStop
{
	bool		found;
	bool		is_long;
	Numeric		entry_price;
	Numeric		stop_price;
	Numeric		trail_pct;		/* NULL: a fixed stop */
	Numeric		best_price;
} ActiveStop;


static void
run(SPIPlanPtr plan, Datum *args, const char *nulls, int expected)
{
	int			rc = SPI_execute_plan(plan, args, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "sigmax: fill statement failed: %s", SPI_result_code_string(rc));
}

/* Two numerics, either of which may be NULL (SQL NULL), are the same value. */
static bool
num_same(Numeric a, Numeric b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return num_cmp(a, b) == 0;
}

/*
 * A closing trade's P&L extends the account's losing streak (a loss) or ends
 * it (a win or a scratch); max_loss_streak losses in a row pause the account.
 */
static void
count_closed_trade(int64 account_id, Numeric trade_pnl, int64 fill_id)
{
	Oid			streak_types[2] = {INT8OID, NUMERICOID};
	Oid			pause_types[5] = {INT8OID, INT4OID, INT4OID, INT8OID, NUMERICOID};
	Datum		args[5];
	bool		isnull;
	int32		streak;
	char	   *state;
	AccountLimits *limits;

	sigmax_keep_plan(&streak_plan, "UPDATE sigmax.accounts a SET loss_streak = "
					 "CASE WHEN $2 < 0 THEN a.loss_streak + 1 ELSE 0 END "
					 "WHERE a.account_id = $1 RETURNING a.loss_streak, a.state", 2, streak_types);
	args[0] = Int64GetDatum(account_id);
	args[1] = NumericGetDatum(trade_pnl);
	if (SPI_execute_plan(streak_plan, args, NULL, false, 0) != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
		elog(ERROR, "sigmax: counting a closed trade failed");
	streak = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	limits = sigmax_account_limits(account_id);
	if (limits == NULL || limits->max_loss_streak < 0 || streak < limits->max_loss_streak ||
		strcmp(state, "paused") == 0 || strcmp(state, "halted") == 0)
		return;
	sigmax_keep_plan(&streak_pause_plan, "SELECT sigmax._auto_pause($1, 'loss_streak', "
					 "pg_catalog.jsonb_build_object('losing_trades', $2, 'max_loss_streak', $3, "
					 "'last_fill_id', $4, 'last_trade_pnl', $5), true)", 5, pause_types);
	args[1] = Int32GetDatum(streak);
	args[2] = Int32GetDatum(limits->max_loss_streak);
	args[3] = Int64GetDatum(fill_id);
	args[4] = NumericGetDatum(trade_pnl);
	if (SPI_execute_plan(streak_pause_plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: pausing after a losing streak failed");
}

/* The active stop of an account in a symbol (the caller holds the account's lock). */
static ActiveStop
active_stop(int64 account_id, const char *symbol)
{
	static const char *const columns[] = {"direction", "entry_price", "stop_price", "trail_pct", "best_price"};
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	Datum		keys[2] = {Int64GetDatum(account_id), CStringGetTextDatum(symbol)};
	RowLookup	rl;
	ActiveStop	stop;

	memset(&stop, 0, sizeof(stop));
	row_lookup_begin(&rl, "stops", "stops_one_active", snap, 2, keys);
	if (row_lookup_next(&rl))
	{
		stop.found = true;
		stop.is_long = row_lookup_text_eq(&rl, row_lookup_attnum(&rl, columns[0]), "long");
		stop.entry_price = row_lookup_numeric(&rl, row_lookup_attnum(&rl, columns[1]));
		stop.stop_price = row_lookup_numeric(&rl, row_lookup_attnum(&rl, columns[2]));
		stop.trail_pct = row_lookup_numeric(&rl, row_lookup_attnum(&rl, columns[3]));
		stop.best_price = row_lookup_numeric(&rl, row_lookup_attnum(&rl, columns[4]));
	}
	row_lookup_end(&rl);
	UnregisterSnapshot(snap);
	return stop;
}

/* The instrument's own stop_loss_pct (NULL: the account's applies). */
static Numeric
instrument_stop_loss_pct(const char *symbol)
{
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	Datum		key = CStringGetTextDatum(symbol);
	RowLookup	rl;
	Numeric		pct = NULL;

	row_lookup_begin(&rl, "instruments", "instruments_pkey", snap, 1, &key);
	if (row_lookup_next(&rl))
		pct = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "stop_loss_pct"));
	row_lookup_end(&rl);
	UnregisterSnapshot(snap);
	return pct;
}

/* Cancel the account's active stop in a symbol; only one against the given direction unless NULL. */
static void
cancel_stop(int64 account_id, const char *symbol, const char *other_than)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};

	sigmax_keep_plan(&stop_cancel_plan, "UPDATE sigmax.stops s SET status = 'cancelled', closed_at = now() "
					 "WHERE s.account_id = $1 AND s.symbol = $2 AND s.status = 'active' "
					 "AND ($3::text IS NULL OR s.direction <> $3)", 3, types);
	args[0] = Int64GetDatum(account_id);
	args[1] = CStringGetTextDatum(symbol);
	args[2] = other_than ? CStringGetTextDatum(other_than) : (Datum) 0;
	nulls[2] = other_than ? ' ' : 'n';
	if (SPI_execute_plan(stop_cancel_plan, args, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "sigmax: cancelling a stop failed");
}

/*
 * The protective stop after a fill: a closed position drops it; an opening or
 * adding fill sets it at the average entry minus (long) or plus (short) the
 * stop-loss percentage, the instrument's winning over the account's; a
 * trailing stop that moved never moves back. A stop the fill leaves as it was
 * is neither written nor ledgered; a reducing fill keeps it.
 */
static void
maintain_stop(int64 account_id, const char *symbol, bool buy, Numeric new_qty, Numeric avg, int64 fill_id)
{
	Oid			types[8] = {INT8OID, TEXTOID, TEXTOID, NUMERICOID, NUMERICOID, NUMERICOID, BOOLOID, INT8OID};
	Datum		args[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		is_long = num_sign(new_qty) > 0;
	AccountLimits *limits;
	Numeric		pct;
	Numeric		one = num_from_int(1);
	Numeric		price;
	Numeric		trail_pct;
	bool		trailing;
	ActiveStop	stop;

	if (num_sign(new_qty) == 0)
	{
		cancel_stop(account_id, symbol, NULL);
		return;
	}
	if (is_long != buy)
		return;
	limits = sigmax_account_limits(account_id);
	if (limits == NULL)
		elog(ERROR, "sigmax: account " INT64_FORMAT " has no limits", account_id);
	pct = instrument_stop_loss_pct(symbol);
	if (pct == NULL)
		pct = limits->stop_loss_pct;
	trailing = limits->stop_trailing == 1;
	trail_pct = trailing ? pct : NULL;
	price = num_round(num_mul(avg, is_long ? num_sub(one, pct) : num_add(one, pct)), 12);

	stop = active_stop(account_id, symbol);
	if (stop.found && stop.is_long == is_long)
	{
		/* what the upsert below would store: a trailing stop keeps its gains */
		Numeric		next_stop = price;
		Numeric		next_best = avg;

		if (stop.trail_pct != NULL)
		{
			int			stop_vs_new = num_cmp(stop.stop_price, price);
			int			best_vs_new = num_cmp(stop.best_price, avg);

			if (is_long ? stop_vs_new > 0 : stop_vs_new < 0)
				next_stop = stop.stop_price;
			if (is_long ? best_vs_new > 0 : best_vs_new < 0)
				next_best = stop.best_price;
		}
		if (num_same(stop.entry_price, avg) && num_same(stop.trail_pct, trail_pct) &&
			num_same(stop.stop_price, next_stop) && num_same(stop.best_price, next_best))
			return;
	}
	else if (stop.found)
		cancel_stop(account_id, symbol, is_long ? "long" : "short");	/* a flip */

	sigmax_keep_plan(&stop_set_plan,
					 "WITH s AS ("
					 "INSERT INTO sigmax.stops AS s (account_id, symbol, direction, entry_price, stop_price, trail_pct, best_price) "
					 "VALUES ($1, $2, $3, $4, $5, $6, $4) "
					 "ON CONFLICT (account_id, symbol) WHERE status = 'active' DO UPDATE "
					 "SET entry_price = EXCLUDED.entry_price, trail_pct = EXCLUDED.trail_pct, "
					 "stop_price = CASE WHEN s.trail_pct IS NULL THEN EXCLUDED.stop_price "
					 "WHEN s.direction = 'long' THEN greatest(s.stop_price, EXCLUDED.stop_price) "
					 "ELSE least(s.stop_price, EXCLUDED.stop_price) END, "
					 "best_price = CASE WHEN s.trail_pct IS NULL THEN EXCLUDED.best_price "
					 "WHEN s.direction = 'long' THEN greatest(s.best_price, EXCLUDED.best_price) "
					 "ELSE least(s.best_price, EXCLUDED.best_price) END "
					 "RETURNING s.stop_id, s.stop_price) "
					 "SELECT sigmax._audit_write('account:' || $1, 'stop.set', "
					 "pg_catalog.jsonb_build_object('stop_id', s.stop_id, 'symbol', $2, 'direction', $3, "
					 "'entry_price', $4, 'stop_price', s.stop_price, 'trailing', $7, 'fill_id', $8)) FROM s",
					 8, types);
	args[0] = Int64GetDatum(account_id);
	args[1] = CStringGetTextDatum(symbol);
	args[2] = CStringGetTextDatum(is_long ? "long" : "short");
	args[3] = NumericGetDatum(avg);
	args[4] = NumericGetDatum(price);
	args[5] = trail_pct ? NumericGetDatum(trail_pct) : (Datum) 0;
	nulls[5] = trail_pct ? ' ' : 'n';
	args[6] = BoolGetDatum(trailing);
	args[7] = Int64GetDatum(fill_id);
	if (SPI_execute_plan(stop_set_plan, args, nulls, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "sigmax: setting a stop failed");
}

/*
 * Execute qty of an order at price, paying fee. The caller holds the
 * account's row lock and has checked that the order is working. With
 * order_recorded the caller has written the order as filled (submit_order
 * inserts an order it fills at once with its fill): the order's row is left
 * alone, which spares an update that touches all five of its indexes.
 */
void
sigmax_apply_fill(int64 order_id, int64 account_id, const char *symbol, bool buy,
				  Numeric qty, Numeric price, Numeric fee, bool order_recorded)
{
	Oid			up_types[6] = {INT8OID, TEXTOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID};
	Oid			cash_types[2] = {INT8OID, NUMERICOID};
	Oid			fill_types[8] = {INT8OID, INT8OID, TEXTOID, TEXTOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID};
	Oid			order_types[3] = {INT8OID, NUMERICOID, NUMERICOID};
	Datum		args[8];
	char		nulls[8] = "        ";
	Numeric		fill_pnl = NULL;
	Numeric		zero = num_from_int(0);
	Numeric		old_qty = zero;
	Numeric		avg = NULL;
	Numeric		realized = zero;
	Numeric		signed_qty = buy ? qty : num_sub(zero, qty);
	Numeric		trade_pnl = zero;
	Numeric		new_qty;
	Numeric		new_avg;
	bool		closes_trade;
	int64		fill_id;
	bool		isnull;

	sigmax_keep_plan(&upsert_plan, "INSERT INTO sigmax.positions (account_id, symbol, qty, avg_price, realized_pnl, trade_pnl) "
		 "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, symbol) DO UPDATE "
		 "SET qty = EXCLUDED.qty, avg_price = EXCLUDED.avg_price, "
		 "realized_pnl = EXCLUDED.realized_pnl, trade_pnl = EXCLUDED.trade_pnl, updated_at = now()", 6, up_types);
	sigmax_keep_plan(&cash_plan, "UPDATE sigmax.accounts SET cash = cash + $2 WHERE account_id = $1", 2, cash_types);
	sigmax_keep_plan(&fill_plan, "INSERT INTO sigmax.fills (order_id, account_id, symbol, side, qty, price, fee, realized_pnl) "
		 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING fill_id", 8, fill_types);
	sigmax_keep_plan(&order_plan, "UPDATE sigmax.orders SET filled_qty = filled_qty + $2, avg_fill_price = $3, "
		 "status = CASE WHEN filled_qty + $2 >= qty THEN 'filled' ELSE status END, updated_at = now() "
		 "WHERE order_id = $1", 3, order_types);

	args[0] = Int64GetDatum(account_id);
	args[1] = CStringGetTextDatum(symbol);
	{
		/* SELECT ... FOR UPDATE of the position, without its executor start-up */
		RowLookup	rl;

		if (row_lookup_lock(&rl, "positions", "positions_pkey", 2, args, LockTupleExclusive))
		{
			old_qty = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "qty"));
			avg = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "avg_price"));
			realized = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "realized_pnl"));
			trade_pnl = row_lookup_numeric(&rl, row_lookup_attnum(&rl, "trade_pnl"));
		}
		row_lookup_end(&rl);
	}

	new_qty = num_add(old_qty, signed_qty);
	if (num_sign(old_qty) == 0 || avg == NULL || (num_sign(old_qty) > 0) == buy)
	{
		/* Opening or adding: the average entry is the quantity-weighted mean. */
		Numeric		old_abs = num_abs(old_qty);
		Numeric		cost = avg ? num_mul(old_abs, avg) : zero;

		new_avg = num_round(num_div(num_add(cost, num_mul(qty, price)), num_add(old_abs, qty)), 12);
	}
	else
	{
		/* Reducing: realize P&L on the closed part; a flip opens at the fill price. */
		Numeric		closed = num_cmp(qty, num_abs(old_qty)) < 0 ? qty : num_abs(old_qty);
		Numeric		pnl = num_mul(closed, num_sub(price, avg));

		if (num_sign(old_qty) < 0)
			pnl = num_sub(zero, pnl);
		realized = num_add(realized, pnl);
		fill_pnl = pnl;
		if (num_sign(new_qty) == 0)
			new_avg = NULL;
		else if ((num_sign(new_qty) > 0) != (num_sign(old_qty) > 0))
			new_avg = price;
		else
			new_avg = avg;
	}

	/*
	 * A trade runs from flat to flat (or to a flip); its P&L is what its
	 * fills realized, net of their fees, and starts again from zero when it
	 * closes. A restore (sigmax.ledger_restore) brings positions, stops and
	 * ledger as they were: a fill then changes neither.
	 */
	closes_trade = fill_pnl != NULL && (num_sign(new_qty) == 0 || (num_sign(new_qty) > 0) == buy);
	if (!sigmax_ledger_restore)
		trade_pnl = num_sub(num_add(trade_pnl, fill_pnl ? fill_pnl : zero), fee);

	args[2] = NumericGetDatum(new_qty);
	args[3] = new_avg ? NumericGetDatum(new_avg) : (Datum) 0;
	nulls[3] = new_avg ? ' ' : 'n';
	args[4] = NumericGetDatum(realized);
	args[5] = NumericGetDatum(closes_trade && !sigmax_ledger_restore ? zero : trade_pnl);
	run(upsert_plan, args, nulls, SPI_OK_INSERT);

	args[1] = NumericGetDatum(num_sub(num_sub(zero, num_mul(signed_qty, price)), fee));
	run(cash_plan, args, NULL, SPI_OK_UPDATE);

	args[0] = Int64GetDatum(order_id);
	args[1] = Int64GetDatum(account_id);
	args[2] = CStringGetTextDatum(symbol);
	args[3] = CStringGetTextDatum(buy ? "buy" : "sell");
	args[4] = NumericGetDatum(qty);
	args[5] = NumericGetDatum(price);
	args[6] = NumericGetDatum(fee);
	memset(nulls, ' ', sizeof(nulls));
	args[7] = fill_pnl ? NumericGetDatum(fill_pnl) : (Datum) 0;
	nulls[7] = fill_pnl ? ' ' : 'n';
	run(fill_plan, args, nulls, SPI_OK_INSERT_RETURNING);
	fill_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	if (!sigmax_ledger_restore)
	{
		if (closes_trade)
			count_closed_trade(account_id, trade_pnl, fill_id);
		maintain_stop(account_id, symbol, buy, new_qty, new_avg, fill_id);
	}

	if (order_recorded)
		return;
	args[0] = Int64GetDatum(order_id);
	args[1] = NumericGetDatum(qty);
	args[2] = NumericGetDatum(price);
	run(order_plan, args, NULL, SPI_OK_UPDATE);
}
