/*
 * exchanges.c
 *	  Venue adapters: the ticker URL of a symbol, and the reading of a venue's
 *	  answer with PostgreSQL's jsonb code into decimal prices.
 */
#include "postgres.h"

#include <ctype.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "poller.h"
#include "risk.h"
#include "sigmax.h"

const char *const sigmax_poll_status_names[POLL_STATUS_COUNT] = {
	"ok",
	"http_4xx",
	"http_5xx",
	"rate_limited",
	"banned",
	"http_other",
	"timeout",
	"dns_failed",
	"connect_failed",
	"connection_reset",
	"tls_error",
	"truncated",
	"too_large",
	"bad_json",
	"error_envelope",
	"bad_ticker",
	"bad_url",
	"transport_error",
	"record_failed",
};

/* How a venue spells BASE/QUOTE. */
typedef enum SymbolStyle
{
	STYLE_CONCAT,				/* BTCUSDT */
	STYLE_DASH,					/* BTC-USDT */
	STYLE_LOWER,				/* btcusdt */
	STYLE_KRAKEN				/* XBTUSDT: Kraken's own asset codes */
} SymbolStyle;

typedef SigmaxPollStatus (*ParseFn) (JsonbContainer *root, const char *venue_symbol,
									 SigmaxTicker *ticker, char **detail);

/* An answer for several symbols: an array of the venue's one-symbol objects, each naming its symbol. */
typedef struct ListShape
{
	const char *symbol_key;		/* the member naming an element's symbol */
} ListShape;

struct SigmaxAdapter
{
	const char *name;
	SymbolStyle style;
	const char *path;			/* printf format: venue symbol (bybit: category, symbol) */
	ParseFn		parse;
	const char *batch_path;		/* printf format: the venue symbols, encoded; NULL if none */
	int			batch_max;		/* most symbols the batch path takes at its lowest cost */
	const ListShape *list;		/* how an answer for several symbols is laid out; NULL if none */
};

/* Most elements read of a list answer: more than the symbols asked for is not the venue's answer. */
#define LIST_MAX_ELEMENTS(nsymbols) Max(4 * (nsymbols), 100)

static const ListShape binance_list = {"symbol"};

/* Look up an object member; NULL when the container is not an object or lacks it. */
static JsonbValue *
member(JsonbContainer *c, const char *key)
{
	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	return getKeyJsonValueFromContainer(c, key, strlen(key), NULL);
}

/* The object or array a value holds, or NULL for a scalar. */
static JsonbContainer *
container(JsonbValue *v)
{
	return (v != NULL && v->type == jbvBinary) ? v->val.binary.data : NULL;
}

/* Element i of an array, or NULL. */
static JsonbValue *
element(JsonbContainer *c, int i)
{
	if (c == NULL || !JsonContainerIsArray(c) || i >= (int) JsonContainerSize(c))
		return NULL;
	return getIthJsonbValueFromContainer(c, i);
}

/* A string or number as text (NULL for anything else). */
static char *
scalar_text(JsonbValue *v)
{
	if (v == NULL)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	return NULL;
}

/* True when s is a plain decimal: digits, an optional fraction and a short exponent. */
static bool
is_decimal(const char *s)
{
	const char *p = s;
	bool		digits = false;
	int			exponent_digits = 0;

	if (*p == '-' || *p == '+')
		p++;
	while (isdigit((unsigned char) *p))
		p++, digits = true;
	if (*p == '.')
	{
		p++;
		while (isdigit((unsigned char) *p))
			p++, digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++, exponent_digits++;
	}
	/* a short exponent: numeric_in then never overflows */
	return *p == '\0' && p - s <= 64 && exponent_digits <= 3;
}

/*
 * A price sent as a JSON number or a numeric string, as a numeric. Empty
 * strings and nulls are "no price"; anything else that is not a decimal is
 * refused through *bad.
 */
static Numeric
price(JsonbValue *v, bool *bad)
{
	char	   *s;

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvNumeric)
		return v->val.numeric;
	s = scalar_text(v);
	if (s == NULL || !is_decimal(s))
	{
		if (s == NULL || s[0] != '\0')
			*bad = true;
		return NULL;
	}
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* An epoch time in units of 1/per_second seconds (number or string); false if absent or odd. */
static bool
epoch_time(JsonbValue *v, int64 per_second, TimestampTz *out)
{
	char	   *s = scalar_text(v);
	char	   *end;
	long long	n;

	if (s == NULL || !isdigit((unsigned char) s[0]))
		return false;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || (*end != '\0' && *end != '.'))
		return false;
	/* from 2001 to 2286 in seconds: rejects a venue's change of unit */
	if (n / per_second < 1000000000LL || n / per_second > 9999999999LL)
		return false;
	*out = (TimestampTz) (n * (USECS_PER_SEC / per_second)) -
		((TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
	return true;
}

/* True when an ISO 8601 time names its zone: Z, or an offset after the time of day. */
static bool
names_zone(const char *s)
{
	const char *t = strpbrk(s, "Tt ");

	if (t == NULL)
		return false;
	return strpbrk(t, "Zz+-") != NULL;
}

/* An ISO 8601 time string, decoded without raising an error; UTC when it names no zone. */
static bool
iso_time(JsonbValue *v, TimestampTz *out)
{
	char	   *s = scalar_text(v);
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz = 0;
	struct pg_tm tm;
	fsec_t		fsec;

	if (s == NULL || v->type != jbvString || strlen(s) >= MAXDATELEN)
		return false;
	if (ParseDateTime(s, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf) != 0)
		return false;
	if (DecodeDateTime(field, ftype, nf, &dtype, &tm, &fsec, &tz) != 0 || dtype != DTK_DATE)
		return false;
	/* DecodeDateTime takes a time without a zone as the session's: make it UTC */
	if (!names_zone(s))
		tz = 0;
	return tm2timestamp(&tm, fsec, &tz, out) == 0;
}

/* Fill the ticker from three price values; bad_ticker when last is missing or one is not a number. */
static SigmaxPollStatus
take_prices(SigmaxTicker *t, JsonbValue *bid, JsonbValue *ask, JsonbValue *last, char **detail)
{
	bool		bad = false;

	t->bid = price(bid, &bad);
	t->ask = price(ask, &bad);
	t->last = price(last, &bad);
	if (bad)
	{
		*detail = pstrdup("a price is not a decimal number");
		return POLL_BAD_TICKER;
	}
	if (t->last == NULL)
	{
		*detail = pstrdup("the answer has no last price");
		return POLL_BAD_TICKER;
	}
	if (num_sign(t->last) <= 0 || (t->bid && num_sign(t->bid) <= 0) || (t->ask && num_sign(t->ask) <= 0))
	{
		*detail = pstrdup("a price is zero or negative");
		return POLL_BAD_TICKER;
	}
	if (t->bid && t->ask && num_cmp(t->bid, t->ask) > 0)
	{
		*detail = pstrdup("the bid is above the ask");
		return POLL_BAD_TICKER;
	}
	return POLL_OK;
}

/* The venue's error message, for the detail of an error envelope. */
static char *
envelope_detail(JsonbValue *code, JsonbValue *msg)
{
	char	   *c = scalar_text(code);
	char	   *m = scalar_text(msg);

	if (c == NULL)
		return psprintf("venue error: %s", m ? m : "(no message)");
	return psprintf("venue error %s: %s", c, m ? m : "(no message)");
}

/*
 * The envelope of venues that answer every request with a code (Bybit, OKX,
 * KuCoin): false, with the venue's message in *detail, unless the code is ok.
 */
static bool
code_is_ok(JsonbContainer *root, const char *code_key, const char *ok, const char *msg_key, char **detail)
{
	char	   *code = scalar_text(member(root, code_key));

	if (code != NULL && strcmp(code, ok) == 0)
		return true;
	*detail = envelope_detail(member(root, code_key), member(root, msg_key));
	return false;
}

/* Binance: a flat object; errors are {"code", "msg"}. */
static SigmaxPollStatus
parse_binance(JsonbContainer *root, const char *venue_symbol, SigmaxTicker *t, char **detail)
{
	if (member(root, "code") != NULL && member(root, "lastPrice") == NULL)
	{
		*detail = envelope_detail(member(root, "code"), member(root, "msg"));
		return POLL_ERROR_ENVELOPE;
	}
	t->has_exchange_time = epoch_time(member(root, "closeTime"), 1000, &t->exchange_time);
	return take_prices(t, member(root, "bidPrice"), member(root, "askPrice"), member(root, "lastPrice"), detail);
}

/* Coinbase Exchange: a flat object; errors are {"message"}. */
static SigmaxPollStatus
parse_coinbaseexchange(JsonbContainer *root, const char *venue_symbol, SigmaxTicker *t, char **detail)
{
	if (member(root, "message") != NULL && member(root, "price") == NULL)
	{
		*detail = envelope_detail(NULL, member(root, "message"));
		return POLL_ERROR_ENVELOPE;
	}
	t->has_exchange_time = iso_time(member(root, "time"), &t->exchange_time);
	return take_prices(t, member(root, "bid"), member(root, "ask"), member(root, "price"), detail);
}

/* Coinbase Advanced Trade: last is the newest trade, bid and ask are top level. */
static SigmaxPollStatus
parse_coinbase(JsonbContainer *root, const char *venue_symbol, SigmaxTicker *t, char **detail)
{
	JsonbContainer *trade;

	if (member(root, "error") != NULL && member(root, "trades") == NULL)
	{
		*detail = envelope_detail(member(root, "error"), member(root, "message"));
		return POLL_ERROR_ENVELOPE;
	}
	trade = container(element(container(member(root, "trades")), 0));
	t->has_exchange_time = iso_time(member(trade, "time"), &t->exchange_time);
	return take_prices(t, member(root, "best_bid"), member(root, "best_ask"), member(trade, "price"), detail);
}

/* Kraken: {"error": [...], "result": {PAIR: {...}}}; the result key may differ from the pair sent. */
static SigmaxPollStatus
parse_kraken(JsonbContainer *root, const char *venue_symbol, SigmaxTicker *t, char **detail)
{
	JsonbContainer *errors = container(member(root, "error"));
	JsonbContainer *result = container(member(root, "result"));
	JsonbContainer *pair = NULL;

	if (errors != NULL && JsonContainerSize(errors) > 0)
	{
		*detail = envelope_detail(NULL, element(errors, 0));
		return POLL_ERROR_ENVELOPE;
	}
	if (result == NULL || !JsonContainerIsObject(result) || JsonContainerSize(result) != 1)
	{
		*detail = pstrdup("the answer has no single result pair");
		return POLL_BAD_TICKER;
	}
	{
		JsonbIterator *it = JsonbIteratorInit(result);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_VALUE && pair == NULL)
				pair = container(&v);
		}
	}
	t->has_exchange_time = false;	/* Kraken's ticker carries no time */
	return take_prices(t, element(container(member(pair, "b")), 0), element(container(member(pair, "a")), 0),
					   element(container(member(pair, "c")), 0), detail);
}

/* Bybit v5: retCode other than 0 is an error; the list may hold several symbols. */
static SigmaxPollStatus
parse_bybit(JsonbContainer *root, const char *venue_symbol, SigmaxTicker *t, char **detail)
{
	JsonbContainer *list;
	JsonbContainer *entry = NULL;
	int			i;

	if (!code_is_ok(root, "retCode", "0", "retMsg", detail))
		return POLL_ERROR_ENVELOPE;
	list = container(member(container(member(root, "result")), "list"));
	for (i = 0; list != NULL && i < (int) JsonContainerSize(list); i++)
	{
		JsonbContainer *e = container(element(list, i));
		char	   *s = scalar_text(member(e, "symbol"));

		if (s != NULL && strcmp(s, venue_symbol) == 0)
		{
			entry = e;
			break;
		}
	}
	if (entry == NULL)
	{
		*detail = psprintf("the answer has no ticker for %s", venue_symbol);
		return POLL_BAD_TICKER;
	}
	t->has_exchange_time = epoch_time(member(root, "time"), 1000, &t->exchange_time);
	return take_prices(t, member(entry, "bid1Price"), member(entry, "ask1Price"), member(entry, "lastPrice"), detail);
}

/* OKX v5: code other than "0" is an error; data holds the ticker. */
static SigmaxPollStatus
parse_okx(JsonbContainer *root, const char *venue_symbol, SigmaxTicker *t, char **detail)
{
	JsonbContainer *data;

	if (!code_is_ok(root, "code", "0", "msg", detail))
		return POLL_ERROR_ENVELOPE;
	data = container(element(container(member(root, "data")), 0));
	t->has_exchange_time = epoch_time(member(data, "ts"), 1000, &t->exchange_time);
	return take_prices(t, member(data, "bidPx"), member(data, "askPx"), member(data, "last"), detail);
}

/* Bitstamp: a flat object with the time in seconds; errors carry "status": "error". */
static SigmaxPollStatus
parse_bitstamp(JsonbContainer *root, const char *venue_symbol, SigmaxTicker *t, char **detail)
{
	char	   *status = scalar_text(member(root, "status"));

	if ((status != NULL && strcmp(status, "error") == 0) ||
		(member(root, "error") != NULL && member(root, "last") == NULL))
	{
		*detail = envelope_detail(member(root, "code"),
								  member(root, "reason") ? member(root, "reason") : member(root, "error"));
		return POLL_ERROR_ENVELOPE;
	}
	t->has_exchange_time = epoch_time(member(root, "timestamp"), 1, &t->exchange_time);
	return take_prices(t, member(root, "bid"), member(root, "ask"), member(root, "last"), detail);
}

/* Gemini: a flat object; the time sits in volume; errors are "result": "error". */
static SigmaxPollStatus
parse_gemini(JsonbContainer *root, const char *venue_symbol, SigmaxTicker *t, char **detail)
{
	char	   *result = scalar_text(member(root, "result"));

	if (result != NULL && strcmp(result, "error") == 0)
	{
		*detail = envelope_detail(member(root, "reason"), member(root, "message"));
		return POLL_ERROR_ENVELOPE;
	}
	t->has_exchange_time = epoch_time(member(container(member(root, "volume")), "timestamp"), 1000,
									  &t->exchange_time);
	return take_prices(t, member(root, "bid"), member(root, "ask"), member(root, "last"), detail);
}

/* KuCoin: code other than "200000" is an error; buy and sell are the best bid and ask. */
static SigmaxPollStatus
parse_kucoin(JsonbContainer *root, const char *venue_symbol, SigmaxTicker *t, char **detail)
{
	JsonbContainer *data;

	if (!code_is_ok(root, "code", "200000", "msg", detail))
		return POLL_ERROR_ENVELOPE;
	data = container(member(root, "data"));
	t->has_exchange_time = epoch_time(member(data, "time"), 1000, &t->exchange_time);
	return take_prices(t, member(data, "buy"), member(data, "sell"), member(data, "last"), detail);
}

static const SigmaxAdapter adapters[] = {
	/* symbols=[...]: 1 to 20 symbols weigh 2, as one symbol does; 21 to 100 weigh 40 */
	{"binance", STYLE_CONCAT, "/api/v3/ticker/24hr?symbol=%s", parse_binance,
	"/api/v3/ticker/24hr?symbols=%s", 20, &binance_list},
	{"coinbaseexchange", STYLE_DASH, "/products/%s/ticker", parse_coinbaseexchange, NULL, 0, NULL},
	{"coinbase", STYLE_DASH, "/api/v3/brokerage/market/products/%s/ticker?limit=1", parse_coinbase, NULL, 0, NULL},
	{"kraken", STYLE_KRAKEN, "/0/public/Ticker?pair=%s", parse_kraken, NULL, 0, NULL},
	{"bybit", STYLE_CONCAT, "/v5/market/tickers?category=%s&symbol=%s", parse_bybit, NULL, 0, NULL},
	{"okx", STYLE_DASH, "/api/v5/market/ticker?instId=%s", parse_okx, NULL, 0, NULL},
	{"bitstamp", STYLE_LOWER, "/api/v2/ticker/%s/", parse_bitstamp, NULL, 0, NULL},
	{"gemini", STYLE_LOWER, "/v1/pubticker/%s", parse_gemini, NULL, 0, NULL},
	{"kucoin", STYLE_DASH, "/api/v1/market/stats?symbol=%s", parse_kucoin, NULL, 0, NULL},
};

/* The adapter of that name, or NULL. */
const SigmaxAdapter *
sigmax_adapter_find(const char *name)
{
	int			i;

	for (i = 0; i < (int) lengthof(adapters); i++)
		if (strcmp(adapters[i].name, name) == 0)
			return &adapters[i];
	return NULL;
}

const char *
sigmax_adapter_name(const SigmaxAdapter *adapter)
{
	return adapter->name;
}

/* Kraken's names for the assets that have one of their own. */
static const char *
kraken_asset(const char *asset)
{
	if (strcmp(asset, "BTC") == 0)
		return "XBT";
	if (strcmp(asset, "DOGE") == 0)
		return "XDG";
	return asset;
}

/* The venue's name of BASE/QUOTE (BTCUSDT, BTC-USDT, btcusdt, XBTUSDT). */
char *
sigmax_adapter_venue_symbol(const SigmaxAdapter *adapter, const char *symbol)
{
	const char *slash = strchr(symbol, '/');
	char	   *base;
	const char *quote;
	char	   *result;
	char	   *p;

	if (slash == NULL)
		return pstrdup(symbol);
	base = pnstrdup(symbol, slash - symbol);
	quote = slash + 1;
	switch (adapter->style)
	{
		case STYLE_DASH:
			return psprintf("%s-%s", base, quote);
		case STYLE_LOWER:
			result = psprintf("%s%s", base, quote);
			for (p = result; *p; p++)
				*p = pg_tolower((unsigned char) *p);
			return result;
		case STYLE_KRAKEN:
			return psprintf("%s%s", kraken_asset(base), kraken_asset(quote));
		case STYLE_CONCAT:
		default:
			return psprintf("%s%s", base, quote);
	}
}

/* The ticker URL of a venue symbol under base_url; category is Bybit's (spot, linear, ...). */
char *
sigmax_adapter_url(const SigmaxAdapter *adapter, const char *base_url, const char *venue_symbol,
				   const char *category)
{
	size_t		len = strlen(base_url);
	char	   *path;

	while (len > 0 && base_url[len - 1] == '/')
		len--;
	if (strcmp(adapter->name, "bybit") == 0)
		path = psprintf(adapter->path, category ? category : "spot", venue_symbol);
	else
		path = psprintf(adapter->path, venue_symbol);
	return psprintf("%.*s%s", (int) len, base_url, path);
}

/* How many symbols one request of the adapter may ask for (1: one request a symbol). */
int
sigmax_adapter_batch_max(const SigmaxAdapter *adapter)
{
	return adapter->batch_path ? adapter->batch_max : 1;
}

/*
 * The URL of one request for several venue symbols under base_url (Binance:
 * symbols=["A","B"], percent-encoded). Venue symbols are 1 to 64 of A-Z, a-z,
 * 0-9, ".", "_" and "-" (add_price_feed checks), none of which needs encoding.
 */
char *
sigmax_adapter_batch_url(const SigmaxAdapter *adapter, const char *base_url, const char *const *venue_symbols,
						 int n)
{
	StringInfoData list;
	size_t		len = strlen(base_url);

	Assert(adapter->batch_path != NULL && n >= 1);
	while (len > 0 && base_url[len - 1] == '/')
		len--;
	initStringInfo(&list);
	appendStringInfoString(&list, "%5B");
	for (int i = 0; i < n; i++)
		appendStringInfo(&list, "%s%%22%s%%22", i > 0 ? "%2C" : "", venue_symbols[i]);
	appendStringInfoString(&list, "%5D");
	return psprintf("%.*s%s", (int) len, base_url, psprintf(adapter->batch_path, list.data));
}

/*
 * jsonb_in on a body. Its error on malformed JSON quotes the bad token, which
 * may be the whole body: the error is raised again with the detail clipped,
 * so that no message echoes a megabyte (the transaction aborts as before).
 */
static Jsonb *
parse_body(char *text)
{
	MemoryContext caller = CurrentMemoryContext;
	Jsonb	   *jb = NULL;

	PG_TRY();
	{
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		if (edata->detail != NULL && strlen(edata->detail) > 200)
		{
			int			keep = pg_mbcliplen(edata->detail, strlen(edata->detail), 200);

			edata->detail = psprintf("%.*s...", keep, edata->detail);
		}
		ReThrowError(edata);
	}
	PG_END_TRY();
	return jb;
}

/*
 * An answer laid out as a list (Binance's array for symbols=[...]): one pass
 * over at most LIST_MAX_ELEMENTS elements, each read for the asked symbols
 * it names that are still unread, so the work and memory grow with the
 * answer, not with symbols times answer. A symbol the answer lacks is
 * bad_ticker; a longer array is not the venue's answer to this request.
 */
static void
parse_list(const SigmaxAdapter *adapter, JsonbContainer *root, int n, const char *const *venue_symbols,
		   SigmaxTicker *tickers, SigmaxPollStatus *statuses, char **details)
{
	int			size = JsonContainerSize(root);
	bool	   *read = palloc0(sizeof(bool) * n);

	if (size > LIST_MAX_ELEMENTS(n))
	{
		for (int i = 0; i < n; i++)
		{
			statuses[i] = POLL_BAD_TICKER;
			details[i] = psprintf("the answer lists %d tickers for %d symbol%s asked", size, n, n == 1 ? "" : "s");
		}
		return;
	}
	for (int e = 0; e < size; e++)
	{
		JsonbValue *v = element(root, e);
		JsonbContainer *obj = container(v);
		JsonbValue *name = member(obj, adapter->list->symbol_key);

		if (name != NULL && name->type == jbvString)
			for (int i = 0; i < n; i++)
				if (!read[i] && strlen(venue_symbols[i]) == (size_t) name->val.string.len &&
					memcmp(venue_symbols[i], name->val.string.val, name->val.string.len) == 0)
				{
					/* every asked symbol of that name: two feeds may share a venue symbol */
					statuses[i] = adapter->parse(obj, venue_symbols[i], &tickers[i], &details[i]);
					read[i] = true;
				}
		pfree(v);
		if (name != NULL)
			pfree(name);
	}
	for (int i = 0; i < n; i++)
		if (!read[i])
		{
			statuses[i] = POLL_BAD_TICKER;
			details[i] = psprintf("the answer has no ticker for %s", venue_symbols[i]);
		}
}

/*
 * Read a venue's answer for several symbols, parsing the body once. The body
 * goes through jsonb_in, PostgreSQL's own parser, which raises an error on
 * malformed JSON: the worker calls this inside a transaction it aborts on
 * error. A body that is not JSON text is the returned status, with *detail;
 * otherwise each symbol gets its own status and detail (a venue error, a
 * missing or unusable price), and the result is POLL_OK.
 */
SigmaxPollStatus
sigmax_adapter_parse_many(const SigmaxAdapter *adapter, const char *body, size_t len, int n,
						  const char *const *venue_symbols, SigmaxTicker *tickers,
						  SigmaxPollStatus *statuses, char **details, char **detail)
{
	Jsonb	   *jb;

	*detail = NULL;
	if (body == NULL)
		body = "";
	if (memchr(body, '\0', len) != NULL)
	{
		*detail = pstrdup("the body holds a NUL byte");
		return POLL_BAD_JSON;
	}
	if (!pg_verifymbstr(body, len, true))
	{
		*detail = psprintf("the body is not valid %s", GetDatabaseEncodingName());
		return POLL_BAD_JSON;
	}
	jb = parse_body(pnstrdup(body, len));
	for (int i = 0; i < n; i++)
	{
		memset(&tickers[i], 0, sizeof(SigmaxTicker));
		details[i] = NULL;
	}
	if (adapter->list != NULL && JB_ROOT_IS_ARRAY(jb) && !JB_ROOT_IS_SCALAR(jb))
	{
		parse_list(adapter, &jb->root, n, venue_symbols, tickers, statuses, details);
		return POLL_OK;
	}
	for (int i = 0; i < n; i++)
	{
		if (JB_ROOT_IS_SCALAR(jb))
		{
			details[i] = pstrdup("the body is a JSON scalar, not an object");
			statuses[i] = POLL_BAD_TICKER;
		}
		else
			statuses[i] = adapter->parse(&jb->root, venue_symbols[i], &tickers[i], &details[i]);
	}
	return POLL_OK;
}

/* Read a venue's answer for one symbol (sigmax_adapter_parse_many for one). */
SigmaxPollStatus
sigmax_adapter_parse(const SigmaxAdapter *adapter, const char *body, size_t len,
					 const char *venue_symbol, SigmaxTicker *ticker, char **detail)
{
	SigmaxPollStatus status;
	SigmaxPollStatus symbol_status;
	char	   *symbol_detail;

	status = sigmax_adapter_parse_many(adapter, body, len, 1, &venue_symbol, ticker, &symbol_status,
									   &symbol_detail, detail);
	if (status != POLL_OK)
	{
		memset(ticker, 0, sizeof(*ticker));
		return status;
	}
	*detail = symbol_detail;
	return symbol_status;
}

/*
 * True when the worker may fetch url: https anywhere, plain http only to a
 * loopback address (the mock exchange in tests); a base URL (base_only) has
 * no query. Otherwise *why says why.
 */
bool
sigmax_poll_url_allowed(const char *url, bool base_only, char **why)
{
	const char *rest;
	const char *host_end;
	char	   *host;

	if (url == NULL || strlen(url) > 2048)
	{
		*why = pstrdup("The URL is missing or longer than 2048 bytes.");
		return false;
	}
	if (pg_strncasecmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (pg_strncasecmp(url, "http://", 7) == 0)
		rest = url + 7;
	else
	{
		*why = pstrdup("Only https:// URLs are polled (http:// only on loopback).");
		return false;
	}
	for (host_end = rest; *host_end; host_end++)
	{
		unsigned char c = (unsigned char) *host_end;

		if (c <= ' ' || c >= 0x7f || c == '\\' || c == '"' || c == '<' || c == '>')
		{
			*why = pstrdup("The URL holds a space, a control character or a non-ASCII byte.");
			return false;
		}
	}
	if (strchr(rest, '@') != NULL && strchr(rest, '@') < rest + strcspn(rest, "/?#"))
	{
		*why = pstrdup("The URL must not carry credentials.");
		return false;
	}
	if (base_only && (strchr(rest, '?') != NULL || strchr(rest, '#') != NULL))
	{
		*why = pstrdup("A base URL has no query or fragment: the adapter adds the path and query.");
		return false;
	}
	if (rest[0] == '[')
		host_end = strchr(rest, ']') ? strchr(rest, ']') + 1 : rest + strlen(rest);
	else
		host_end = rest + strcspn(rest, ":/");
	host = pnstrdup(rest, host_end - rest);
	if (host[0] == '\0')
	{
		*why = pstrdup("The URL has no host.");
		return false;
	}
	if (rest - url == 7)
	{
		bool		loopback = strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0;

		if (strncmp(host, "127.", 4) == 0)
		{
			const char *p;

			loopback = true;
			for (p = host + 4; *p; p++)
				if (!isdigit((unsigned char) *p) && *p != '.')
					loopback = false;
		}
		if (!loopback)
		{
			*why = pstrdup("Plain http:// is allowed only to 127.0.0.0/8, [::1] or localhost; use https://.");
			return false;
		}
	}
	return true;
}

PG_FUNCTION_INFO_V1(sigmax_parse_ticker);

/*
 * SQL: read a venue's answer as the worker would, for tests and for
 * diagnosing a venue. Malformed JSON is an error (22P02), as from jsonb_in.
 */
Datum
sigmax_parse_ticker(PG_FUNCTION_ARGS)
{
	const SigmaxAdapter *adapter;
	text	   *body;
	char	   *venue_symbol;
	SigmaxTicker ticker;
	SigmaxPollStatus status;
	char	   *detail;
	char	   *adapter_name;
	TupleDesc	desc;
	Datum		values[6];
	bool		nulls[6] = {false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("adapter, body and venue_symbol must not be null")));
	adapter_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	adapter = sigmax_adapter_find(adapter_name);
	if (adapter == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown exchange adapter \"%.*s\"",
						pg_mbcliplen(adapter_name, strlen(adapter_name), 64), adapter_name),
				 errhint("The adapters are binance, coinbaseexchange, coinbase, kraken, bybit, okx, bitstamp, gemini and kucoin.")));
	body = PG_GETARG_TEXT_PP(1);
	venue_symbol = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "sigmax: parse_ticker must return a record");

	status = sigmax_adapter_parse(adapter, VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body), venue_symbol,
								  &ticker, &detail);
	values[0] = CStringGetTextDatum(sigmax_poll_status_names[status]);
	nulls[1] = detail == NULL;
	if (detail != NULL)
		values[1] = CStringGetTextDatum(detail);
	nulls[2] = status != POLL_OK || ticker.bid == NULL;
	nulls[3] = status != POLL_OK || ticker.ask == NULL;
	nulls[4] = status != POLL_OK || ticker.last == NULL;
	nulls[5] = status != POLL_OK || !ticker.has_exchange_time;
	if (!nulls[2])
		values[2] = NumericGetDatum(ticker.bid);
	if (!nulls[3])
		values[3] = NumericGetDatum(ticker.ask);
	if (!nulls[4])
		values[4] = NumericGetDatum(ticker.last);
	if (!nulls[5])
		values[5] = TimestampTzGetDatum(ticker.exchange_time);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

PG_FUNCTION_INFO_V1(sigmax_ticker_url);

/* SQL: the URL the worker fetches for a symbol on a venue; NULL for an unknown adapter. */
Datum
sigmax_ticker_url(PG_FUNCTION_ARGS)
{
	const SigmaxAdapter *adapter;
	char	   *base_url;
	char	   *symbol;
	char	   *venue_symbol;
	char	   *category = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	adapter = sigmax_adapter_find(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	base_url = text_to_cstring(PG_GETARG_TEXT_PP(1));
	symbol = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (adapter == NULL)
		PG_RETURN_NULL();
	venue_symbol = PG_ARGISNULL(3) ? sigmax_adapter_venue_symbol(adapter, symbol)
		: text_to_cstring(PG_GETARG_TEXT_PP(3));
	PG_RETURN_TEXT_P(cstring_to_text(sigmax_adapter_url(adapter, base_url, venue_symbol, category)));
}

PG_FUNCTION_INFO_V1(sigmax_venue_symbol);

/* SQL: how a venue spells BASE/QUOTE; NULL for an unknown adapter. */
Datum
sigmax_venue_symbol(PG_FUNCTION_ARGS)
{
	const SigmaxAdapter *adapter = sigmax_adapter_find(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	if (adapter == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(sigmax_adapter_venue_symbol(adapter, text_to_cstring(PG_GETARG_TEXT_PP(1)))));
}

PG_FUNCTION_INFO_V1(sigmax_poll_url_ok);

/*
 * SQL: the check constraint on sigmax.exchanges URLs; raises 22023 with the
 * reason. The URL itself is not quoted: it may carry credentials.
 */
Datum
sigmax_poll_url_ok(PG_FUNCTION_ARGS)
{
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *why;

	if (!sigmax_poll_url_allowed(url, true, &why))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("exchange URL is not allowed"),
				 errdetail("%s", why)));
	PG_RETURN_BOOL(true);
}
