/*
 * fills.c
 *	  Paper executions: a fill updates the position (quantity, average entry,
 *	  realized P&L), the cash balance and the order, in the caller's transaction.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "risk.h"
#include "sigmax.h"

static SPIPlanPtr position_plan = NULL;
static SPIPlanPtr upsert_plan = NULL;
static SPIPlanPtr cash_plan = NULL;
static SPIPlanPtr fill_plan = NULL;
static SPIPlanPtr order_plan = NULL;


static void
run(SPIPlanPtr plan, Datum *args, const char *nulls, int expected)
{
	int			rc = SPI_execute_plan(plan, args, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "sigmax: fill statement failed: %s", SPI_result_code_string(rc));
}

/*
 * Execute qty of an order at price, paying fee. The caller holds the
 * account's row lock and has checked that the order is working.
 */
void
sigmax_apply_fill(int64 order_id, int64 account_id, const char *symbol, bool buy,
				  Numeric qty, Numeric price, Numeric fee)
{
	Oid			pos_types[2] = {INT8OID, TEXTOID};
	Oid			up_types[5] = {INT8OID, TEXTOID, NUMERICOID, NUMERICOID, NUMERICOID};
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
	Numeric		new_qty;
	Numeric		new_avg;

	sigmax_keep_plan(&position_plan, "SELECT qty, avg_price, realized_pnl FROM sigmax.positions "
		 "WHERE account_id = $1 AND symbol = $2 FOR UPDATE", 2, pos_types);
	sigmax_keep_plan(&upsert_plan, "INSERT INTO sigmax.positions (account_id, symbol, qty, avg_price, realized_pnl) "
		 "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, symbol) DO UPDATE "
		 "SET qty = EXCLUDED.qty, avg_price = EXCLUDED.avg_price, "
		 "realized_pnl = EXCLUDED.realized_pnl, updated_at = now()", 5, up_types);
	sigmax_keep_plan(&cash_plan, "UPDATE sigmax.accounts SET cash = cash + $2 WHERE account_id = $1", 2, cash_types);
	sigmax_keep_plan(&fill_plan, "INSERT INTO sigmax.fills (order_id, account_id, symbol, side, qty, price, fee, realized_pnl) "
		 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", 8, fill_types);
	sigmax_keep_plan(&order_plan, "UPDATE sigmax.orders SET filled_qty = filled_qty + $2, avg_fill_price = $3, "
		 "status = CASE WHEN filled_qty + $2 >= qty THEN 'filled' ELSE status END, updated_at = now() "
		 "WHERE order_id = $1", 3, order_types);

	args[0] = Int64GetDatum(account_id);
	args[1] = CStringGetTextDatum(symbol);
	if (SPI_execute_plan(position_plan, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "sigmax: reading the position failed");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d;

		old_qty = DatumGetNumericCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		avg = isnull ? NULL : DatumGetNumericCopy(d);
		realized = DatumGetNumericCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
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

	args[2] = NumericGetDatum(new_qty);
	args[3] = new_avg ? NumericGetDatum(new_avg) : (Datum) 0;
	nulls[3] = new_avg ? ' ' : 'n';
	args[4] = NumericGetDatum(realized);
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
	run(fill_plan, args, nulls, SPI_OK_INSERT);

	args[0] = Int64GetDatum(order_id);
	args[1] = NumericGetDatum(qty);
	args[2] = NumericGetDatum(price);
	run(order_plan, args, NULL, SPI_OK_UPDATE);
}
