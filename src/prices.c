/*
 * prices.c
 *	  Recording a venue's price: checked and stored in C, and handed to the
 *	  fills, marks, stops and protections only when something holds the symbol.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "poller.h"
#include "risk.h"
#include "row_lookup.h"
#include "sigmax.h"

PG_FUNCTION_INFO_V1(sigmax_record_price_sql);

/* The clock skew a recorded price may have: one from further ahead would never go stale. */
#define PRICE_MAX_FUTURE_US (60 * USECS_PER_SEC)

static SPIPlanPtr store_plan = NULL;
static SPIPlanPtr actions_plan = NULL;

/* True when s is 1 to 32 of a-z, 0-9 and _ (a venue's name). */
static bool
valid_exchange_name(const char *s)
{
	size_t		n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return false;
	return n >= 1 && n <= 32;
}

/* Length of a run of A-Z and 0-9 at s. */
static size_t
symbol_part(const char *s)
{
	size_t		n = 0;

	while ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9'))
		n++;
	return n;
}

/* True when s is BASE/QUOTE, each side 2 to 10 upper-case letters or digits. */
static bool
valid_symbol(const char *s)
{
	size_t		base = symbol_part(s);
	size_t		quote;

	if (base < 2 || base > 10 || s[base] != '/')
		return false;
	quote = symbol_part(s + base + 1);
	return quote >= 2 && quote <= 10 && s[base + 1 + quote] == '\0';
}

/* Refuse an argument: an ERROR with the SQLSTATE and sigmax.record_price's message. */
static void
pg_attribute_noreturn()
refuse(int sqlstate, const char *message)
{
	ereport(ERROR, (errcode(sqlstate), errmsg("%s", message)));
}

/* The checks sigmax.record_price makes of its arguments, with its messages and SQLSTATEs. */
static void
check_price(const char *exchange, const char *symbol, const SigmaxTicker *ticker, bool at_is_null,
			TimestampTz at)
{
	Numeric		prices[3] = {ticker->bid, ticker->ask, ticker->last};
	Numeric		zero = num_from_int(0);

	if (exchange == NULL || !valid_exchange_name(exchange))
		refuse(ERRCODE_INVALID_PARAMETER_VALUE, "exchange must be 1 to 32 of a-z, 0-9 and _");
	if (symbol == NULL || !valid_symbol(symbol))
		refuse(ERRCODE_INVALID_PARAMETER_VALUE, "invalid symbol");
	if (ticker->last == NULL || at_is_null)
		refuse(ERRCODE_INVALID_PARAMETER_VALUE, "last and at must not be null");
	for (int i = 0; i < 3; i++)
		if (prices[i] != NULL && numeric_is_nan(prices[i]))
			refuse(ERRCODE_INVALID_PARAMETER_VALUE, "prices must be numbers, not NaN");
	for (int i = 0; i < 3; i++)
		if (prices[i] != NULL && numeric_is_inf(prices[i]))
			refuse(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "prices and time must be finite");
	if (TIMESTAMP_NOT_FINITE(at))
		refuse(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "prices and time must be finite");
	for (int i = 0; i < 3; i++)
		if (prices[i] != NULL && num_cmp(prices[i], zero) <= 0)
			refuse(ERRCODE_INVALID_PARAMETER_VALUE, "prices must be positive with bid <= ask");
	if (ticker->bid != NULL && ticker->ask != NULL && num_cmp(ticker->bid, ticker->ask) > 0)
		refuse(ERRCODE_INVALID_PARAMETER_VALUE, "prices must be positive with bid <= ask");
	if (at > GetCurrentTransactionStartTimestamp() + PRICE_MAX_FUTURE_US)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("at is more than a minute in the future"),
				 errhint("Record prices with the time they were observed.")));
}

/* True when an index lookup of sigmax.<relname> by one key finds a visible row. */
static bool
any_row(const char *relname, const char *indexname, Snapshot snap, Datum key)
{
	RowLookup	rl;
	bool		found;

	row_lookup_begin(&rl, relname, indexname, snap, 1, &key);
	found = row_lookup_next(&rl);
	row_lookup_end(&rl);
	return found;
}

/* Whether the symbol is an instrument of this venue (instrument_cache.c). */
static bool
instrument_of_venue(const char *exchange, const char *symbol)
{
	SigmaxInstrument instrument;

	return sigmax_instrument(symbol, &instrument) && strcmp(instrument.exchange, exchange) == 0;
}

/*
 * Whether the new price may act on anything: the symbol is an instrument of
 * this venue with an open position or a resting limit order in it (what
 * sigmax._price_actions acts on), or the venue is reducing and may now have
 * recovered. Positions and orders are index reads with the latest snapshot,
 * instruments and venue states the order checks' cache: most prices are
 * reference prices that nothing holds.
 */
static bool
price_has_consequences(const char *exchange, const char *symbol)
{
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	Datum		symbol_key = CStringGetTextDatum(symbol);
	bool		held;

	held = any_row("positions", "positions_open_symbol_idx", snap, symbol_key) ||
		any_row("orders", "orders_resting_idx", snap, symbol_key);
	UnregisterSnapshot(snap);
	return (held && instrument_of_venue(exchange, symbol)) || sigmax_venue_reducing(exchange);
}

/*
 * Record a venue's price for a symbol observed at "at": check it, store it
 * unless a newer one is already stored, and run what it sets off (paper
 * fills of resting orders, marks, stops, protections, a venue's recovery).
 * Returns the number of fills. What sigmax.record_price runs, and what the
 * poller calls directly.
 *
 * What a price sets off is decided after the store, which waits for the row
 * lock of a concurrent record of the same symbol: a position opened while we
 * waited is then seen, as it was by the PL/pgSQL function. With may_act false
 * (the poller recording several prices in one transaction) a price that would
 * set anything off by the time it is recorded is left alone and -1 returned:
 * the caller records it in a transaction of its own, so that a transaction
 * takes the account locks of one price only. One that becomes so during the
 * store (rare: a race) is acted on at once; a lock-order deadlock this may
 * cause aborts the caller's transaction, which then records its prices one
 * by one.
 */
int
sigmax_record_price(const char *exchange, const char *symbol, const SigmaxTicker *ticker, TimestampTz at,
					bool may_act)
{

	Oid			types[7] = {TEXTOID, TEXTOID, NUMERICOID, NUMERICOID, NUMERICOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int			fills = 0;

	check_price(exchange, symbol, ticker, false, at);
	if (!may_act && price_has_consequences(exchange, symbol))
		return -1;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "sigmax: SPI_connect failed");
	sigmax_keep_plan(&store_plan,
					 "INSERT INTO sigmax.market_prices AS m (exchange, symbol, bid, ask, last, recorded_at, exchange_time) "
					 "VALUES ($1, $2, $3, $4, $5, $6, $7) "
					 "ON CONFLICT ON CONSTRAINT market_prices_pkey DO UPDATE "
					 "SET bid = EXCLUDED.bid, ask = EXCLUDED.ask, last = EXCLUDED.last, "
					 "exchange_time = EXCLUDED.exchange_time, recorded_at = EXCLUDED.recorded_at "
					 "WHERE m.recorded_at <= EXCLUDED.recorded_at", 7, types);
	args[0] = CStringGetTextDatum(exchange);
	args[1] = CStringGetTextDatum(symbol);
	args[2] = ticker->bid ? NumericGetDatum(ticker->bid) : (Datum) 0;
	nulls[2] = ticker->bid ? ' ' : 'n';
	args[3] = ticker->ask ? NumericGetDatum(ticker->ask) : (Datum) 0;
	nulls[3] = ticker->ask ? ' ' : 'n';
	args[4] = NumericGetDatum(ticker->last);
	args[5] = TimestampTzGetDatum(at);
	args[6] = TimestampTzGetDatum(ticker->exchange_time);
	nulls[6] = ticker->has_exchange_time ? ' ' : 'n';
	if (SPI_execute_plan(store_plan, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "sigmax: storing a price failed");

	/* An older price than the one stored is neither stored nor acted on. */
	if (SPI_processed == 1 && price_has_consequences(exchange, symbol))
	{
		bool		isnull;
		Datum		n;

		sigmax_keep_plan(&actions_plan, "SELECT sigmax._price_actions($1, $2, $3, $4, $5, $6)", 6, types);
		if (SPI_execute_plan(actions_plan, args, nulls, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "sigmax: acting on a price failed");
		n = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		fills = isnull ? 0 : DatumGetInt32(n);
	}
	SPI_finish();
	return fills;
}

/*
 * sigmax.record_price(exchange, symbol, bid, ask, last, at, exchange_time):
 * the SQL entry point (SECURITY DEFINER), for operators and replays.
 */
Datum
sigmax_record_price_sql(PG_FUNCTION_ARGS)
{
	SigmaxTicker ticker;
	char	   *exchange = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *symbol = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));

	sigmax_check_sql_version();
	memset(&ticker, 0, sizeof(ticker));
	ticker.bid = PG_ARGISNULL(2) ? NULL : PG_GETARG_NUMERIC(2);
	ticker.ask = PG_ARGISNULL(3) ? NULL : PG_GETARG_NUMERIC(3);
	ticker.last = PG_ARGISNULL(4) ? NULL : PG_GETARG_NUMERIC(4);
	ticker.has_exchange_time = !PG_ARGISNULL(6);
	ticker.exchange_time = ticker.has_exchange_time ? PG_GETARG_TIMESTAMPTZ(6) : 0;
	if (PG_ARGISNULL(5))
		check_price(exchange, symbol, &ticker, true, 0);
	PG_RETURN_INT32(sigmax_record_price(exchange, symbol, &ticker, PG_GETARG_TIMESTAMPTZ(5), true));
}
