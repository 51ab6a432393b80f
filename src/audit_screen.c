/*
 * audit_screen.c
 *	  Refuses ledger payloads holding what the ledger could never forget:
 *	  e-mail addresses, card numbers, private keys and API secrets.
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "mb/pg_wchar.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "ledger.h"

/* Shortest token that may be an API secret, in characters. */
#define SECRET_MIN_LEN 32
/* Shannon entropy, in bits per character, from which such a token counts as random. */
#define SECRET_MIN_ENTROPY 4.0

/* Refuse the payload, naming where the value sits but never the value. */
static void
refuse(const char *key, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("ledger payload looks like it holds %s", what),
			 key ? errdetail("The value under key \"%s\" was refused; the ledger keeps every entry forever and can never erase it.", key)
			 : errdetail("A value was refused; the ledger keeps every entry forever and can never erase it."),
			 errhint("Log an identifier instead (an account id, a key id, a hash), and keep the data where it can be erased.")));
}

static bool
is_email_local(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static bool
is_domain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '.' || c == '-';
}

/* An '@' with a local part before it and a dotted domain with an alphabetic TLD after it. */
static bool
has_email(const char *s, int len)
{
	int			i;

	for (i = 1; i < len - 3; i++)
	{
		int			j,
					dot = -1,
					tld = 0;

		if (s[i] != '@' || !is_email_local(s[i - 1]))
			continue;
		for (j = i + 1; j < len && is_domain_char(s[j]); j++)
			if (s[j] == '.')
				dot = j;
		if (dot <= i + 1)
			continue;
		for (j = dot + 1; j < len && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z')); j++)
			tld++;
		if (tld >= 2 && (j >= len || !is_domain_char(s[j])))
			return true;
	}
	return false;
}

/* True when digits (count n) pass the Luhn check. */
static bool
luhn_ok(const char *digits, int n)
{
	int			sum = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		int			d = digits[n - 1 - i] - '0';

		if (i % 2 == 1)
		{
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return sum % 10 == 0;
}

/*
 * A card number of a major network: its issuer prefix, a length that network
 * issues, and the Luhn check. Requiring all three keeps order ids and
 * timestamps (which pass Luhn one time in ten) out.
 */
static bool
is_card_number(const char *d, int n)
{
	int			p2 = (d[0] - '0') * 10 + (d[1] - '0');
	int			p3 = p2 * 10 + (d[2] - '0');
	int			p4 = p3 * 10 + (d[3] - '0');
	bool		network;

	if (d[0] == '4')
		network = (n == 13 || n == 16 || n == 19);	/* Visa */
	else if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
		network = (n == 16);	/* Mastercard */
	else if (p2 == 34 || p2 == 37)
		network = (n == 15);	/* American Express */
	else if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || p2 == 62)
		network = (n >= 16 && n <= 19); /* Discover, UnionPay */
	else if (p4 >= 3528 && p4 <= 3589)
		network = (n >= 16 && n <= 19); /* JCB */
	else if (p2 == 36 || p2 == 38 || p2 == 39 || (p3 >= 300 && p3 <= 305))
		network = (n >= 14 && n <= 19); /* Diners Club */
	else
		network = false;
	return network && luhn_ok(d, n);
}

/* Digit runs of 13 to 19 digits, single spaces or dashes allowed between digits. */
static bool
has_card_number(const char *s, int len)
{
	char		digits[20];
	int			i = 0;

	while (i < len)
	{
		int			n = 0;
		int			j = i;

		if (s[i] < '0' || s[i] > '9' || (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9'))
		{
			i++;
			continue;
		}
		while (j < len)
		{
			if (s[j] >= '0' && s[j] <= '9')
			{
				if (n == 19)
				{
					n = 20;
					break;
				}
				digits[n++] = s[j++];
			}
			else if ((s[j] == ' ' || s[j] == '-') && j + 1 < len &&
					 s[j + 1] >= '0' && s[j + 1] <= '9' && n > 0)
				j++;
			else
				break;
		}
		if (n >= 13 && n <= 19 && is_card_number(digits, n))
			return true;
		i = j + 1;
	}
	return false;
}

static bool
has_private_key(const char *s, int len)
{
	const char *begin = memmem(s, len, "-----BEGIN ", 11);

	return begin != NULL && memmem(begin, len - (begin - s), "PRIVATE KEY-----", 16) != NULL;
}

static bool
is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || c == '-' || c == '+' || c == '/' || c == '=';
}

/*
 * A run of at least 32 token characters mixing upper case, lower case and
 * digits with high entropy, as exchange API secrets and bearer tokens are.
 * Hex digests and UUIDs (one case only) pass.
 */
static bool
has_api_secret(const char *s, int len)
{
	int			i = 0;

	while (i < len)
	{
		int			j = i;
		bool		upper = false,
					lower = false,
					digit = false;

		while (j < len && is_token_char(s[j]))
		{
			upper |= (s[j] >= 'A' && s[j] <= 'Z');
			lower |= (s[j] >= 'a' && s[j] <= 'z');
			digit |= (s[j] >= '0' && s[j] <= '9');
			j++;
		}
		if (j - i >= SECRET_MIN_LEN && upper && lower && digit)
		{
			int			counts[256] = {0};
			double		entropy = 0.0;
			int			k;
			int			n = j - i;

			for (k = i; k < j; k++)
				counts[(unsigned char) s[k]]++;
			for (k = 0; k < 256; k++)
				if (counts[k])
				{
					double		p = (double) counts[k] / n;

					entropy -= p * log2(p);
				}
			if (entropy >= SECRET_MIN_ENTROPY)
				return true;
		}
		i = j + 1;
	}
	return false;
}

/* Keys whose string values are secrets whatever they look like (any length, any case). */
static bool
is_secret_key(const char *key, int len)
{
	static const char *const names[] = {"password", "passwd", "secret", "private_key",
	"privatekey", "api_key", "apikey", "access_token", "refresh_token", "token", NULL};
	int			i,
				at;

	for (i = 0; names[i]; i++)
	{
		int			n = strlen(names[i]);

		for (at = 0; at + n <= len; at++)
			if (pg_strncasecmp(key + at, names[i], n) == 0)
				return true;
	}
	return false;
}

/* Screen one string (a key or a value). */
static void
screen_string(const char *key, const char *s, int len)
{
	if (has_private_key(s, len))
		refuse(key, "a private key");
	if (has_email(s, len))
		refuse(key, "an e-mail address");
	if (has_card_number(s, len))
		refuse(key, "a payment card number");
	if (has_api_secret(s, len))
		refuse(key, "an API secret or token");
}

/*
 * Walk every key and scalar of the payload and refuse it if any looks like
 * personal data or a secret (docs/ledger-format.md lists the rules).
 */
void
ledger_screen_payload(Jsonb *payload)
{
	JsonbIterator *it = JsonbIteratorInit(&payload->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char		keybuf[NAMEDATALEN];
	const char *key = NULL;
	bool		secret_key = false;
	int			depth = 0;
	int			secret_depth = -1;	/* depth of the container a secret key opened */

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_ARRAY || tok == WJB_BEGIN_OBJECT)
		{
			depth++;
			if (secret_key && secret_depth < 0)
				secret_depth = depth;
		}
		else if (tok == WJB_END_ARRAY || tok == WJB_END_OBJECT)
		{
			if (depth == secret_depth)
				secret_depth = -1;
			depth--;
		}
		else if (tok == WJB_KEY)
		{
			/* Clip on a character boundary: the key goes into the error detail. */
			int			n = pg_mbcliplen(v.val.string.val, v.val.string.len, NAMEDATALEN - 1);

			screen_string(NULL, v.val.string.val, v.val.string.len);
			memcpy(keybuf, v.val.string.val, n);
			keybuf[n] = '\0';
			key = keybuf;
			secret_key = is_secret_key(v.val.string.val, v.val.string.len);
		}
		else if (tok == WJB_VALUE || tok == WJB_ELEM)
		{
			if (v.type == jbvString)
			{
				/* Under a secret's key: its value, or any string inside its array or object. */
				if (v.val.string.len > 0 &&
					((secret_key && tok == WJB_VALUE) || secret_depth >= 0))
					refuse(key, "a secret (by its key name)");
				screen_string(key, v.val.string.val, v.val.string.len);
			}
			else if (v.type == jbvNumeric)
			{
				char	   *num = DatumGetCString(DirectFunctionCall1(numeric_out,
																	 NumericGetDatum(v.val.numeric)));

				if (has_card_number(num, strlen(num)))
					refuse(key, "a payment card number");
			}
		}
	}
}
