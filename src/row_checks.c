/*
 * row_checks.c
 *	  The CHECK constraints of the tables every order writes, one C function a
 *	  table: the same conditions as the SQL CHECKs they replace, cheaper to run.
 *
 * PostgreSQL rebuilds a table's CHECK expressions from their stored node trees
 * and plans them again at every statement that writes the table (ExecRelCheck:
 * stringToNode, expression_planner), and an IN list of constants is stored
 * byte by byte. The five CHECKs of orders, five of accounts, three of fills
 * and four of audit_log cost a sixth of submit_order's time that way. One
 * CHECK calling one of these functions is a call with the columns as
 * arguments. Each condition passes on NULL, as a CHECK does; NOT NULL stays
 * the columns' own constraint.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "crypto.h"

/* The text argument equals one of the words; NULL passes. */
static bool
arg_in(FunctionCallInfo fcinfo, int arg, const char *const *words, int nwords)
{
	text	   *t;
	int			len;

	if (PG_ARGISNULL(arg))
		return true;
	t = PG_GETARG_TEXT_PP(arg);
	len = VARSIZE_ANY_EXHDR(t);
	for (int i = 0; i < nwords; i++)
		if ((int) strlen(words[i]) == len && memcmp(VARDATA_ANY(t), words[i], len) == 0)
			return true;
	return false;
}

/* The numeric argument is > 0 (NaN is, as numeric ordering has it); NULL passes. */
static bool
arg_positive(FunctionCallInfo fcinfo, int arg)
{
	static Datum zero = (Datum) 0;

	if (PG_ARGISNULL(arg))
		return true;
	if (zero == (Datum) 0)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
		MemoryContextSwitchTo(old);
	}
	return DatumGetBool(DirectFunctionCall2(numeric_gt, PG_GETARG_DATUM(arg), zero));
}

static const char *const sides[] = {"buy", "sell"};

PG_FUNCTION_INFO_V1(sigmax_orders_row_valid);

/*
 * SQL sigmax._orders_row_valid(side, order_type, qty, limit_price, status):
 * side IN ('buy', 'sell'), order_type IN ('market', 'limit'), qty > 0,
 * limit_price > 0 and status one of the five.
 */
Datum
sigmax_orders_row_valid(PG_FUNCTION_ARGS)
{
	static const char *const types[] = {"market", "limit"};
	static const char *const statuses[] = {"accepted", "filled", "rejected", "cancelled", "pending_approval"};

	PG_RETURN_BOOL(arg_in(fcinfo, 0, sides, lengthof(sides)) &&
				   arg_in(fcinfo, 1, types, lengthof(types)) &&
				   arg_positive(fcinfo, 2) && arg_positive(fcinfo, 3) &&
				   arg_in(fcinfo, 4, statuses, lengthof(statuses)));
}

PG_FUNCTION_INFO_V1(sigmax_fills_row_valid);

/* SQL sigmax._fills_row_valid(side, qty, price): side IN ('buy', 'sell'), qty > 0, price > 0. */
Datum
sigmax_fills_row_valid(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(arg_in(fcinfo, 0, sides, lengthof(sides)) &&
				   arg_positive(fcinfo, 1) && arg_positive(fcinfo, 2));
}

/* base_currency ~ '^[A-Z0-9]{2,10}$'; NULL passes. */
static bool
arg_currency(FunctionCallInfo fcinfo, int arg)
{
	text	   *t;
	int			len;
	const char *s;

	if (PG_ARGISNULL(arg))
		return true;
	t = PG_GETARG_TEXT_PP(arg);
	len = VARSIZE_ANY_EXHDR(t);
	s = VARDATA_ANY(t);
	if (len < 2 || len > 10)
		return false;
	for (int i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

PG_FUNCTION_INFO_V1(sigmax_accounts_row_valid);

/*
 * SQL sigmax._accounts_row_valid(name, base_currency, trading_mode,
 * initial_equity, state): length(name) BETWEEN 1 AND 100 (characters),
 * base_currency ~ '^[A-Z0-9]{2,10}$', trading_mode IN ('paper', 'testnet',
 * 'live'), initial_equity > 0 and state one of the four.
 */
Datum
sigmax_accounts_row_valid(PG_FUNCTION_ARGS)
{
	static const char *const modes[] = {"paper", "testnet", "live"};
	static const char *const states[] = {"active", "reducing", "paused", "halted"};
	bool		name_ok = true;

	if (!PG_ARGISNULL(0))
	{
		int32		chars = DatumGetInt32(DirectFunctionCall1(textlen, PG_GETARG_DATUM(0)));

		name_ok = chars >= 1 && chars <= 100;
	}
	PG_RETURN_BOOL(name_ok && arg_currency(fcinfo, 1) &&
				   arg_in(fcinfo, 2, modes, lengthof(modes)) &&
				   arg_positive(fcinfo, 3) &&
				   arg_in(fcinfo, 4, states, lengthof(states)));
}

/* octet_length(bytea) = 32; NULL passes. */
static bool
arg_hash_length(FunctionCallInfo fcinfo, int arg)
{
	return PG_ARGISNULL(arg) ||
		toast_raw_datum_size(PG_GETARG_DATUM(arg)) - VARHDRSZ == SIGMAX_HASH_LEN;
}

PG_FUNCTION_INFO_V1(sigmax_audit_log_row_valid);

/*
 * SQL sigmax._audit_log_row_valid(seq, payload, prev_hash, hash): seq > 0,
 * jsonb_typeof(payload) = 'object', and both hashes 32 bytes long.
 */
Datum
sigmax_audit_log_row_valid(PG_FUNCTION_ARGS)
{
	bool		payload_ok = true;

	if (!PG_ARGISNULL(1))
	{
		Jsonb	   *payload = PG_GETARG_JSONB_P(1);

		payload_ok = JB_ROOT_IS_OBJECT(payload) && !JB_ROOT_IS_SCALAR(payload);
	}
	PG_RETURN_BOOL((PG_ARGISNULL(0) || PG_GETARG_INT64(0) > 0) && payload_ok &&
				   arg_hash_length(fcinfo, 2) && arg_hash_length(fcinfo, 3));
}
