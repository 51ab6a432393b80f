/*
 * sigmax-verify.c
 *	  Standalone verifier of sigmax ledger exports, signed checkpoints and inclusion proofs.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define PROGNAME			"sigmax-verify"

/* Exit statuses. */
#define EXIT_INTACT			0
#define EXIT_PROBLEMS		1
#define EXIT_TROUBLE		2

/* Sizes fixed by the format (docs/ledger-format.md). */
#define HASH_LEN			32
#define SIG_LEN				64
#define TS_LEN				27	/* YYYY-MM-DDTHH:MM:SS.ffffffZ */
#define LEDGER_COLUMNS		8
#define MAX_APP_NAME		63
#define MAX_ACCOUNT_DIGITS	19

#define LEDGER_FORMAT		"sigmax-ledger-v1"
#define CHECKPOINT_FORMAT	"sigmax-checkpoint-v1"
#define PROOF_FORMAT		"sigmax-proof-v1"

/* Limits that keep hostile input from exhausting memory. */
#define MAX_LINE_BYTES		((size_t) 256 * 1024 * 1024)
#define MAX_FILE_BYTES		((size_t) 256 * 1024 * 1024)
#define MAX_ENTRIES			((size_t) 200 * 1000 * 1000)
#define MAX_JSON_DEPTH		32
#define MAX_JSON_VALUES		100000

#define NOT_FOUND			SIZE_MAX

/* The problems a verifier reports, in the order of the documentation's table. */
typedef enum ProblemKind
{
	PROBLEM_HASH_MISMATCH,
	PROBLEM_BROKEN_LINK,
	PROBLEM_GAP,
	PROBLEM_CP_MISSING_ENTRIES,
	PROBLEM_CP_HEAD_MISMATCH,
	PROBLEM_CP_ROOT_MISMATCH,
	PROBLEM_CP_STREAM_MISSING,
	PROBLEM_CP_BAD_SIGNATURE
} ProblemKind;

static const char *const problem_text[] = {
	"hash mismatch",
	"broken link",
	"gap",
	"checkpoint: missing entries",
	"checkpoint: head mismatch",
	"checkpoint: merkle root mismatch",
	"checkpoint: stream missing",
	"checkpoint: bad signature"
};

/* One problem found; stream NULL and seq -1 stand for SQL NULL. */
typedef struct Problem
{
	const char *stream;
	size_t		stream_len;
	int64_t		seq;
	ProblemKind kind;
} Problem;

/* A stream of the ledger export; after sorting, its entries are contiguous. */
typedef struct Stream
{
	char	   *name;
	size_t		len;
	size_t		id;				/* index before sorting */
	size_t		first;			/* index of its first entry, once sorted */
	size_t		count;			/* number of its entries */
} Stream;

/* What is kept of one ledger row once its hash has been recomputed. */
typedef struct Entry
{
	size_t		stream;
	int64_t		seq;
	bool		hash_ok;		/* stored hash equals the recomputed one */
	uint8_t		prev_hash[HASH_LEN];
	uint8_t		hash[HASH_LEN];
} Entry;

/* The fields of an entry that canonical(entry) encodes. */
typedef struct EntryFields
{
	const char *stream;
	size_t		stream_len;
	int64_t		seq;
	const char *recorded_at;	/* canonical form, TS_LEN bytes */
	const char *actor;
	size_t		actor_len;
	const char *action;
	size_t		action_len;
	const char *payload;
	size_t		payload_len;
} EntryFields;

/* One stream as listed by a checkpoint; name points into the canonical bytes. */
typedef struct CheckpointStream
{
	const char *name;
	size_t		len;
	int64_t		seq;
	uint8_t		head[HASH_LEN];
	uint8_t		root[HASH_LEN];
} CheckpointStream;

/* A parsed checkpoint with its canonical bytes and signature. */
typedef struct Checkpoint
{
	uint8_t    *canonical;
	size_t		canonical_len;
	uint8_t		signature[SIG_LEN];
	uint8_t		digest[HASH_LEN];
	int64_t		id;
	size_t		nstreams;
	CheckpointStream *streams;
} Checkpoint;

typedef enum JsonType
{
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
} JsonType;

typedef struct JsonValue JsonValue;

typedef struct JsonMember
{
	char	   *key;
	size_t		key_len;
	JsonValue  *value;
} JsonMember;

/* A parsed JSON value; text holds a decoded string or a number as written. */
struct JsonValue
{
	JsonType	type;
	char	   *text;
	size_t		text_len;
	size_t		count;
	size_t		cap;
	JsonValue **elements;
	JsonMember *members;
};

typedef struct JsonParser
{
	const unsigned char *s;
	size_t		len;
	size_t		pos;
	int			depth;
	size_t		nvalues;
	const char *error;
} JsonParser;

/* Everything long-lived, so that any exit path can free it. */
static struct
{
	EVP_MD	   *sha256;
	EVP_MD_CTX *md;
	EVP_PKEY   *key;

	Stream	   *streams;
	size_t		nstreams;
	size_t		streams_cap;
	size_t	   *table;			/* open addressing: stream index + 1, 0 empty */
	size_t		table_size;
	Entry	   *entries;
	size_t		nentries;
	size_t		entries_cap;

	Checkpoint	checkpoint;
	bool		have_checkpoint;

	Problem    *problems;
	size_t		nproblems;
	size_t		problems_cap;

	char	   *line;
	size_t		line_cap;
	char	   *file_text;
	JsonValue  *json;
	uint8_t    *audit_path;
	FILE	   *input;
} G;

static const uint8_t zero_hash[HASH_LEN];

static void fatal(const char *fmt,...) __attribute__((noreturn, format(printf, 1, 2)));
static void usage_error(const char *fmt,...) __attribute__((noreturn, format(printf, 1, 2)));
static void proof_failed(int *failures, const char *fmt,...) __attribute__((format(printf, 2, 3)));
static void json_free(JsonValue *v);


/* ---------------------------------------------------------------------------
 * Errors, memory and small helpers
 * ------------------------------------------------------------------------- */

/*
 * Release everything held in G. Registered with atexit so that error exits
 * free memory too.
 */
static void
cleanup(void)
{
	size_t		i;

	for (i = 0; i < G.nstreams; i++)
		free(G.streams[i].name);
	free(G.streams);
	free(G.table);
	free(G.entries);
	free(G.checkpoint.canonical);
	free(G.checkpoint.streams);
	free(G.problems);
	free(G.line);
	free(G.file_text);
	free(G.audit_path);
	json_free(G.json);
	if (G.input && G.input != stdin)
		fclose(G.input);
	EVP_PKEY_free(G.key);
	EVP_MD_CTX_free(G.md);
	EVP_MD_free(G.sha256);
	memset(&G, 0, sizeof(G));
}

/* Print an error message on stderr and exit with status 2. */
static void
fatal(const char *fmt,...)
{
	va_list		ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", PROGNAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_TROUBLE);
}

/* Print a usage error with a pointer to --help and exit with status 2. */
static void
usage_error(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s: ", PROGNAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry \"%s --help\" for more information.\n", PROGNAME);
	exit(EXIT_TROUBLE);
}

/* Report an OpenSSL failure, with the library's own message, and exit. */
static void
openssl_fatal(const char *what)
{
	unsigned long err = ERR_get_error();
	char		buf[256];

	if (err != 0)
	{
		ERR_error_string_n(err, buf, sizeof(buf));
		fatal("%s: %s", what, buf);
	}
	fatal("%s failed", what);
}

/* malloc that exits on failure. */
static void *
xmalloc(size_t size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

/*
 * Grow an array to hold at least need elements of elsize bytes, doubling its
 * capacity; *cap is updated. Exits when memory runs out.
 */
static void *
grow_array(void *ptr, size_t *cap, size_t need, size_t elsize)
{
	size_t		newcap;
	void	   *newptr;

	if (need <= *cap)
		return ptr;
	newcap = *cap ? *cap : 16;
	while (newcap < need)
	{
		if (newcap > SIZE_MAX / 2 / elsize)
			fatal("out of memory");
		newcap *= 2;
	}
	newptr = realloc(ptr, newcap * elsize);
	if (newptr == NULL)
		fatal("out of memory");
	*cap = newcap;
	return newptr;
}

/*
 * Render untrusted bytes for an error message: printable ASCII as is, the rest
 * as \xHH, cut at 40 bytes. Returns a static buffer.
 */
static const char *
printable(const void *data, size_t len)
{
	static char buf[4 * 40 + 4];
	const unsigned char *s = data;
	size_t		i,
				o = 0;

	for (i = 0; i < len && i < 40; i++)
	{
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			buf[o++] = (char) s[i];
		else
			o += (size_t) sprintf(buf + o, "\\x%02x", s[i]);
	}
	if (len > 40)
	{
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* Value of a hexadecimal digit, or -1; upper-case digits only if allowed. */
static int
hex_value(int c, bool upper_ok)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (upper_ok && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode exactly 2 * outlen hex digits into out; false if anything is off. */
static bool
hex_decode(const char *s, size_t len, uint8_t *out, size_t outlen, bool upper_ok)
{
	size_t		i;

	if (len != 2 * outlen)
		return false;
	for (i = 0; i < outlen; i++)
	{
		int			hi = hex_value((unsigned char) s[2 * i], upper_ok);
		int			lo = hex_value((unsigned char) s[2 * i + 1], upper_ok);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t) (hi * 16 + lo);
	}
	return true;
}

/*
 * Parse an unsigned decimal without sign or leading zeros into an int64 that
 * must be at least min. False if malformed or out of range.
 */
static bool
parse_decimal(const char *s, size_t len, int64_t min, int64_t *out)
{
	int64_t		v = 0;
	size_t		i;

	if (len == 0 || len > 19 || (s[0] == '0' && len > 1))
		return false;
	for (i = 0; i < len; i++)
	{
		int			d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = s[i] - '0';
		if (v > (INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v < min)
		return false;
	*out = v;
	return true;
}

/*
 * Check a stream name against the grammar of the ledger: system,
 * account:<positive decimal without leading zeros> or app:<name>.
 */
static bool
valid_stream_name(const char *s, size_t len)
{
	size_t		i;

	if (len == 6 && memcmp(s, "system", 6) == 0)
		return true;
	if (len > 8 && memcmp(s, "account:", 8) == 0)
	{
		if (len - 8 > MAX_ACCOUNT_DIGITS || s[8] < '1' || s[8] > '9')
			return false;
		for (i = 9; i < len; i++)
			if (s[i] < '0' || s[i] > '9')
				return false;
		return true;
	}
	if (len > 4 && memcmp(s, "app:", 4) == 0)
	{
		if (len - 4 > MAX_APP_NAME)
			return false;
		for (i = 4; i < len; i++)
		{
			char		c = s[i];
			bool		alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

			if (!alnum && (i == 4 || (c != '_' && c != '.' && c != '-')))
				return false;
		}
		return true;
	}
	return false;
}

/* Compare two byte strings bytewise, a shorter prefix first. */
static int
compare_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int			c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}


/* ---------------------------------------------------------------------------
 * SHA-256, entry hashes, Merkle trees and Ed25519
 * ------------------------------------------------------------------------- */

/* Fetch SHA-256 once and allocate the digest context reused for every hash. */
static void
crypto_init(void)
{
	G.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (G.sha256 == NULL)
		openssl_fatal("could not fetch SHA-256");
	G.md = EVP_MD_CTX_new();
	if (G.md == NULL)
		openssl_fatal("could not allocate a digest context");
}

/* Start a SHA-256 computation in the shared context. */
static void
sha_begin(void)
{
	if (EVP_DigestInit_ex2(G.md, G.sha256, NULL) != 1)
		openssl_fatal("SHA-256");
}

/* Feed bytes to the running SHA-256 computation. */
static void
sha_update(const void *data, size_t len)
{
	if (len > 0 && EVP_DigestUpdate(G.md, data, len) != 1)
		openssl_fatal("SHA-256");
}

/* Feed one netstring: decimal length, colon, the bytes, comma. */
static void
sha_netstring(const void *data, size_t len)
{
	char		head[32];
	int			n = snprintf(head, sizeof(head), "%zu:", len);

	sha_update(head, (size_t) n);
	sha_update(data, len);
	sha_update(",", 1);
}

/* Finish the running SHA-256 computation into out. */
static void
sha_end(uint8_t out[HASH_LEN])
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(G.md, out, &n) != 1 || n != HASH_LEN)
		openssl_fatal("SHA-256");
}

/* SHA-256 of one buffer. */
static void
sha256(const void *data, size_t len, uint8_t out[HASH_LEN])
{
	sha_begin();
	sha_update(data, len);
	sha_end(out);
}

/* hash = SHA-256(prev_hash || canonical(entry)), as in the Entries section. */
static void
entry_hash(const uint8_t prev_hash[HASH_LEN], const EntryFields *f,
		   uint8_t out[HASH_LEN])
{
	char		seq[24];
	int			n = snprintf(seq, sizeof(seq), "%" PRId64, f->seq);

	sha_begin();
	sha_update(prev_hash, HASH_LEN);
	sha_netstring(LEDGER_FORMAT, strlen(LEDGER_FORMAT));
	sha_netstring(f->stream, f->stream_len);
	sha_netstring(seq, (size_t) n);
	sha_netstring(f->recorded_at, TS_LEN);
	sha_netstring(f->actor, f->actor_len);
	sha_netstring(f->action, f->action_len);
	sha_netstring(f->payload, f->payload_len);
	sha_end(out);
}

/* RFC 6962 leaf hash: SHA-256(0x00 || h). */
static void
merkle_leaf(const uint8_t h[HASH_LEN], uint8_t out[HASH_LEN])
{
	static const uint8_t prefix = 0x00;

	sha_begin();
	sha_update(&prefix, 1);
	sha_update(h, HASH_LEN);
	sha_end(out);
}

/* RFC 6962 interior node: SHA-256(0x01 || l || r); out may alias l or r. */
static void
merkle_node(const uint8_t l[HASH_LEN], const uint8_t r[HASH_LEN], uint8_t out[HASH_LEN])
{
	static const uint8_t prefix = 0x01;

	sha_begin();
	sha_update(&prefix, 1);
	sha_update(l, HASH_LEN);
	sha_update(r, HASH_LEN);
	sha_end(out);
}

/*
 * Merkle tree hash (RFC 6962 section 2.1) of the hashes of n entries, n >= 1.
 * A stack holds the roots of the complete subtrees seen so far, largest
 * first; folding it from the right at the end gives the RFC's split at the
 * largest power of two below n.
 */
static void
merkle_root(const Entry *entries, size_t n, uint8_t out[HASH_LEN])
{
	uint8_t		stack[66][HASH_LEN];
	uint64_t	size[66];
	int			depth = 0;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		merkle_leaf(entries[i].hash, stack[depth]);
		size[depth++] = 1;
		while (depth >= 2 && size[depth - 1] == size[depth - 2])
		{
			merkle_node(stack[depth - 2], stack[depth - 1], stack[depth - 2]);
			size[depth - 2] *= 2;
			depth--;
		}
	}
	if (depth == 0)
	{
		sha256("", 0, out);		/* MTH of the empty list; not used */
		return;
	}
	memcpy(out, stack[depth - 1], HASH_LEN);
	for (depth -= 2; depth >= 0; depth--)
		merkle_node(stack[depth], out, out);
}

/*
 * Fold a leaf hash with an RFC 6962 audit path PATH(m, D[n]), nearest sibling
 * first, into a root (the verification algorithm of RFC 9162, 2.1.3.2).
 * False when the path's length does not fit m and n.
 */
static bool
fold_audit_path(const uint8_t entry[HASH_LEN], uint64_t m, uint64_t n,
				const uint8_t *path, size_t path_len, uint8_t root[HASH_LEN])
{
	uint64_t	fn = m;
	uint64_t	sn = n - 1;
	size_t		i;

	merkle_leaf(entry, root);
	for (i = 0; i < path_len; i++)
	{
		const uint8_t *p = path + i * HASH_LEN;

		if (sn == 0)
			return false;
		if ((fn & 1) || fn == sn)
		{
			merkle_node(p, root, root);
			while (!(fn & 1) && fn != 0)
			{
				fn >>= 1;
				sn >>= 1;
			}
		}
		else
			merkle_node(root, p, root);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0;
}

/* Load a PEM public key and insist that it is an Ed25519 key. */
static void
load_public_key(const char *path)
{
	FILE	   *fp = fopen(path, "r");

	if (fp == NULL)
		fatal("could not open public key file \"%s\": %s", path, strerror(errno));
	G.key = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	if (G.key == NULL)
		fatal("\"%s\" does not hold a PEM public key (BEGIN PUBLIC KEY)", path);
	if (!EVP_PKEY_is_a(G.key, "ED25519"))
		fatal("\"%s\" is not an Ed25519 public key", path);
	ERR_clear_error();
}

/* Verify a pure Ed25519 signature of msg with the loaded public key. */
static bool
ed25519_verify(const uint8_t *msg, size_t msg_len, const uint8_t sig[SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool		ok;

	if (ctx == NULL)
		openssl_fatal("could not allocate a signature context");
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, G.key) != 1)
	{
		EVP_MD_CTX_free(ctx);
		openssl_fatal("could not set up Ed25519 verification");
	}
	ok = EVP_DigestVerify(ctx, sig, SIG_LEN, msg, msg_len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}


/* ---------------------------------------------------------------------------
 * Timestamps
 * ------------------------------------------------------------------------- */

/* True for a Gregorian leap year. */
static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Number of days in month m (1-12) of year y. */
static int
days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return days[m - 1] + (m == 2 && is_leap(y) ? 1 : 0);
}

/* Days from 0001-01-01 to the given proleptic Gregorian date (y >= 1). */
static int64_t
days_from_date(int64_t y, int m, int d)
{
	static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int64_t		py = y - 1;

	return py * 365 + py / 4 - py / 100 + py / 400
		+ before[m - 1] + (m > 2 && is_leap(y) ? 1 : 0) + (d - 1);
}

/* The date that lies the given number of days (>= 0) after 0001-01-01. */
static void
date_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t		year = days / 366 + 1;	/* never past the real year */
	int			month = 1;

	while (days_from_date(year + 1, 1, 1) <= days)
		year++;
	while (month < 12 && days_from_date(year, month + 1, 1) <= days)
		month++;
	*y = year;
	*m = month;
	*d = (int) (days - days_from_date(year, month, 1)) + 1;
}

/* Read exactly n decimal digits at *pos. */
static bool
take_digits(const char *s, size_t len, size_t *pos, int n, int *val)
{
	int			v = 0;
	int			i;

	if (len - *pos < (size_t) n)
		return false;
	for (i = 0; i < n; i++)
	{
		char		c = s[*pos + (size_t) i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*pos += (size_t) n;
	*val = v;
	return true;
}

/* Read the character c at *pos. */
static bool
take_char(const char *s, size_t len, size_t *pos, char c)
{
	if (*pos >= len || s[*pos] != c)
		return false;
	(*pos)++;
	return true;
}

/* Write v as exactly width decimal digits. */
static void
put_digits(char *out, int64_t v, int width)
{
	while (width-- > 0)
	{
		out[width] = (char) ('0' + v % 10);
		v /= 10;
	}
}

/*
 * Convert a timestamptz as COPY prints it with DateStyle ISO,
 * "YYYY-MM-DD HH:MM:SS[.f{1,6}]" followed by an offset "+HH", "+HH:MM" or
 * "+HH:MM:SS" (or with "-"), into the canonical UTC form
 * "YYYY-MM-DDTHH:MM:SS.ffffffZ". Our own day arithmetic, no time zone
 * database. False when malformed or outside years 1 to 9999.
 */
static bool
parse_copy_timestamp(const char *s, size_t len, char out[TS_LEN + 1])
{
	size_t		pos = 0;
	int			year,
				mon,
				day,
				hour,
				min,
				sec,
				usec = 0,
				oh,
				om = 0,
				os = 0,
				sign,
				nfrac;
	int64_t		t,
				days,
				rem,
				uy;
	int			um,
				ud;

	if (!take_digits(s, len, &pos, 4, &year) || !take_char(s, len, &pos, '-') ||
		!take_digits(s, len, &pos, 2, &mon) || !take_char(s, len, &pos, '-') ||
		!take_digits(s, len, &pos, 2, &day))
		return false;
	if (!take_char(s, len, &pos, ' ') && !take_char(s, len, &pos, 'T'))
		return false;
	if (!take_digits(s, len, &pos, 2, &hour) || !take_char(s, len, &pos, ':') ||
		!take_digits(s, len, &pos, 2, &min) || !take_char(s, len, &pos, ':') ||
		!take_digits(s, len, &pos, 2, &sec))
		return false;
	if (take_char(s, len, &pos, '.'))
	{
		for (nfrac = 0; nfrac < 6 && pos < len && s[pos] >= '0' && s[pos] <= '9'; nfrac++)
			usec = usec * 10 + (s[pos++] - '0');
		if (nfrac == 0)
			return false;
		for (; nfrac < 6; nfrac++)
			usec *= 10;
	}
	if (take_char(s, len, &pos, '+'))
		sign = 1;
	else if (take_char(s, len, &pos, '-'))
		sign = -1;
	else
		return false;
	if (!take_digits(s, len, &pos, 2, &oh))
		return false;
	if (take_char(s, len, &pos, ':'))
	{
		if (!take_digits(s, len, &pos, 2, &om))
			return false;
		if (take_char(s, len, &pos, ':') && !take_digits(s, len, &pos, 2, &os))
			return false;
	}
	if (pos != len)
		return false;
	if (year < 1 || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
		hour > 23 || min > 59 || sec > 59 || oh > 23 || om > 59 || os > 59)
		return false;

	/* local time minus offset is UTC */
	t = days_from_date(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec
		- sign * (oh * 3600 + om * 60 + os);
	if (t < 0)
		return false;
	days = t / 86400;
	rem = t % 86400;
	date_from_days(days, &uy, &um, &ud);
	if (uy > 9999)
		return false;

	put_digits(out, uy, 4);
	out[4] = '-';
	put_digits(out + 5, um, 2);
	out[7] = '-';
	put_digits(out + 8, ud, 2);
	out[10] = 'T';
	put_digits(out + 11, rem / 3600, 2);
	out[13] = ':';
	put_digits(out + 14, rem / 60 % 60, 2);
	out[16] = ':';
	put_digits(out + 17, rem % 60, 2);
	out[19] = '.';
	put_digits(out + 20, usec, 6);
	out[26] = 'Z';
	out[27] = '\0';
	return true;
}

/* True if s is a valid date and time in the canonical form YYYY-MM-DDTHH:MM:SS.ffffffZ. */
static bool
valid_canonical_timestamp(const char *s, size_t len)
{
	size_t		pos = 0;
	int			year,
				mon,
				day,
				hour,
				min,
				sec,
				usec;

	if (len != TS_LEN)
		return false;
	if (!take_digits(s, len, &pos, 4, &year) || !take_char(s, len, &pos, '-') ||
		!take_digits(s, len, &pos, 2, &mon) || !take_char(s, len, &pos, '-') ||
		!take_digits(s, len, &pos, 2, &day) || !take_char(s, len, &pos, 'T') ||
		!take_digits(s, len, &pos, 2, &hour) || !take_char(s, len, &pos, ':') ||
		!take_digits(s, len, &pos, 2, &min) || !take_char(s, len, &pos, ':') ||
		!take_digits(s, len, &pos, 2, &sec) || !take_char(s, len, &pos, '.') ||
		!take_digits(s, len, &pos, 6, &usec) || !take_char(s, len, &pos, 'Z'))
		return false;
	return year >= 1 && mon >= 1 && mon <= 12 && day >= 1 &&
		day <= days_in_month(year, mon) && hour <= 23 && min <= 59 && sec <= 59;
}


/* ---------------------------------------------------------------------------
 * Input files
 * ------------------------------------------------------------------------- */

/* Open the named input, "-" meaning stdin; the stream is kept in G.input. */
static FILE *
open_input(const char *path)
{
	if (strcmp(path, "-") == 0)
		G.input = stdin;
	else
	{
		G.input = fopen(path, "rb");
		if (G.input == NULL)
			fatal("could not open \"%s\": %s", path, strerror(errno));
	}
	return G.input;
}

/* Close the input opened by open_input. */
static void
close_input(void)
{
	if (G.input && G.input != stdin)
		fclose(G.input);
	G.input = NULL;
}

/*
 * Read a whole file ("-": stdin) of at most MAX_FILE_BYTES into G.file_text,
 * NUL-terminated; returns its length.
 */
static size_t
read_whole_file(const char *path, const char *what)
{
	FILE	   *fp = open_input(path);
	size_t		len = 0,
				cap = 0,
				n;

	if (strcmp(path, "-") == 0)
		path = "stdin";

	for (;;)
	{
		size_t		room;

		G.file_text = grow_array(G.file_text, &cap, len + 65536 + 1, 1);
		room = cap - 1 - len;
		if (room > MAX_FILE_BYTES + 1 - len)
			room = MAX_FILE_BYTES + 1 - len;
		n = fread(G.file_text + len, 1, room, fp);
		len += n;
		if (len > MAX_FILE_BYTES)
			fatal("%s %s is larger than %zu bytes", what, path, MAX_FILE_BYTES);
		if (n < room)
			break;				/* end of file or error */
	}
	if (ferror(fp))
		fatal("could not read %s %s: %s", what, path, strerror(errno));
	close_input();
	G.file_text[len] = '\0';
	return len;
}

/*
 * Read one line of the ledger export into G.line without its newline.
 * Returns false at the end of the input.
 */
static bool
read_line(FILE *fp, const char *path, size_t *len)
{
	size_t		n = 0;
	bool		any = false;
	int			c;

	while ((c = getc_unlocked(fp)) != EOF)
	{
		any = true;
		if (c == '\n')
			break;
		if (n >= MAX_LINE_BYTES)
			fatal("%s: a line is longer than %zu bytes", path, MAX_LINE_BYTES);
		if (n + 1 >= G.line_cap)
			G.line = grow_array(G.line, &G.line_cap, n + 2, 1);
		G.line[n++] = (char) c;
	}
	if (ferror(fp))
		fatal("could not read %s: %s", path, strerror(errno));
	if (!any)
		return false;
	if (G.line == NULL)
		G.line = grow_array(G.line, &G.line_cap, 1, 1);
	G.line[n] = '\0';
	*len = n;
	return true;
}


/* ---------------------------------------------------------------------------
 * The ledger export (COPY text format)
 * ------------------------------------------------------------------------- */

static const char *const column_name[LEDGER_COLUMNS] = {
	"stream", "seq", "recorded_at", "actor", "action", "payload", "prev_hash", "hash"
};

/* FNV-1a hash of a stream name, for the stream table. */
static size_t
name_hash(const char *s, size_t len)
{
	uint64_t	h = UINT64_C(14695981039346656037);
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) s[i];
		h *= UINT64_C(1099511628211);
	}
	return (size_t) h;
}

/* Index of the named stream in G.streams, or NOT_FOUND. */
static size_t
find_stream(const char *name, size_t len)
{
	size_t		mask,
				i;

	if (G.table_size == 0)
		return NOT_FOUND;
	mask = G.table_size - 1;
	for (i = name_hash(name, len) & mask; G.table[i] != 0; i = (i + 1) & mask)
	{
		Stream	   *st = &G.streams[G.table[i] - 1];

		if (st->len == len && memcmp(st->name, name, len) == 0)
			return G.table[i] - 1;
	}
	return NOT_FOUND;
}

/* Rebuild the stream table with room for twice the streams there are. */
static void
rebuild_stream_table(void)
{
	size_t		size = 64,
				mask,
				s,
				i;

	while (size < 2 * (G.nstreams + 1))
		size *= 2;
	free(G.table);
	G.table = NULL;
	G.table = xmalloc(size * sizeof(size_t));
	memset(G.table, 0, size * sizeof(size_t));
	G.table_size = size;
	mask = size - 1;
	for (s = 0; s < G.nstreams; s++)
	{
		for (i = name_hash(G.streams[s].name, G.streams[s].len) & mask; G.table[i] != 0;
			 i = (i + 1) & mask)
			;
		G.table[i] = s + 1;
	}
}

/* Index of the named stream, adding it when it is new. */
static size_t
intern_stream(const char *name, size_t len)
{
	size_t		idx = find_stream(name, len);
	Stream	   *st;

	if (idx != NOT_FOUND)
		return idx;
	G.streams = grow_array(G.streams, &G.streams_cap, G.nstreams + 1, sizeof(Stream));
	st = &G.streams[G.nstreams];
	st->name = xmalloc(len + 1);
	memcpy(st->name, name, len);
	st->name[len] = '\0';
	st->len = len;
	st->id = G.nstreams;
	st->first = 0;
	st->count = 0;
	G.nstreams++;
	if (2 * (G.nstreams + 1) > G.table_size)
		rebuild_stream_table();
	else
	{
		size_t		mask = G.table_size - 1;
		size_t		i;

		for (i = name_hash(name, len) & mask; G.table[i] != 0; i = (i + 1) & mask)
			;
		G.table[i] = G.nstreams;
	}
	return G.nstreams - 1;
}

/*
 * Undo COPY text escapes of one field in place and return its new length:
 * \b \f \n \r \t \v, \NNN (1 to 3 octal digits), \xHH (1 or 2 hex digits),
 * and a backslash before any other character stands for that character.
 */
static size_t
copy_unescape(char *s, size_t len, const char *path, uint64_t lineno, int col)
{
	size_t		i = 0,
				o = 0;

	while (i < len)
	{
		char		c = s[i++];

		if (c != '\\')
		{
			s[o++] = c;
			continue;
		}
		if (i >= len)
			fatal("%s:%" PRIu64 ": column %s ends with a lone backslash", path, lineno,
				  column_name[col]);
		c = s[i++];
		switch (c)
		{
			case 'b':
				s[o++] = '\b';
				break;
			case 'f':
				s[o++] = '\f';
				break;
			case 'n':
				s[o++] = '\n';
				break;
			case 'r':
				s[o++] = '\r';
				break;
			case 't':
				s[o++] = '\t';
				break;
			case 'v':
				s[o++] = '\v';
				break;
			case '0':
			case '1':
			case '2':
			case '3':
			case '4':
			case '5':
			case '6':
			case '7':
				{
					int			v = c - '0';
					int			k;

					for (k = 0; k < 2 && i < len && s[i] >= '0' && s[i] <= '7'; k++)
						v = v * 8 + (s[i++] - '0');
					s[o++] = (char) (v & 0xff);
					break;
				}
			case 'x':
				if (i < len && hex_value((unsigned char) s[i], true) >= 0)
				{
					int			v = hex_value((unsigned char) s[i++], true);

					if (i < len && hex_value((unsigned char) s[i], true) >= 0)
						v = v * 16 + hex_value((unsigned char) s[i++], true);
					s[o++] = (char) v;
				}
				else
					s[o++] = 'x';
				break;
			default:
				s[o++] = c;
				break;
		}
	}
	return o;
}

/* Decode a bytea(32) column, printed as \x followed by 64 hex digits. */
static void
decode_hash_column(const char *s, size_t len, uint8_t out[HASH_LEN],
				   const char *path, uint64_t lineno, int col)
{
	if (len < 2 || s[0] != '\\' || s[1] != 'x')
		fatal("%s:%" PRIu64 ": column %s is not bytea in hex form (\\x...); export with bytea_output = hex",
			  path, lineno, column_name[col]);
	if (!hex_decode(s + 2, len - 2, out, HASH_LEN, true))
		fatal("%s:%" PRIu64 ": column %s is not 32 bytes of hex", path, lineno, column_name[col]);
}

/*
 * Parse one line of COPY sigmax.audit_log TO STDOUT, recompute the entry's
 * hash and keep what the chain and checkpoint checks need.
 */
static void
add_ledger_line(char *line, size_t len, const char *path, uint64_t lineno)
{
	char	   *field[LEDGER_COLUMNS];
	size_t		flen[LEDGER_COLUMNS];
	size_t		nfields = 0,
				start = 0,
				i;
	int			col;
	EntryFields f;
	char		ts[TS_LEN + 1];
	Entry	   *e;
	uint8_t		computed[HASH_LEN];

	if (len > 0 && line[len - 1] == '\r')
		len--;					/* CRLF line ends */
	if (memchr(line, '\r', len) != NULL)
		fatal("%s:%" PRIu64 ": unescaped carriage return in data", path, lineno);
	if (memchr(line, '\0', len) != NULL)
		fatal("%s:%" PRIu64 ": NUL byte in data", path, lineno);

	for (i = 0; i <= len; i++)
	{
		if (i == len || line[i] == '\t')
		{
			if (nfields < LEDGER_COLUMNS)
			{
				field[nfields] = line + start;
				flen[nfields] = i - start;
			}
			nfields++;
			start = i + 1;
		}
	}
	if (nfields != LEDGER_COLUMNS)
		fatal("%s:%" PRIu64 ": expected %d tab-separated columns (stream, seq, recorded_at, actor, action, payload, prev_hash, hash), found %zu",
			  path, lineno, LEDGER_COLUMNS, nfields);

	for (col = 0; col < LEDGER_COLUMNS; col++)
	{
		if (flen[col] == 2 && field[col][0] == '\\' && field[col][1] == 'N')
			fatal("%s:%" PRIu64 ": column %s is NULL", path, lineno, column_name[col]);
		flen[col] = copy_unescape(field[col], flen[col], path, lineno, col);
		if (memchr(field[col], '\0', flen[col]) != NULL)
			fatal("%s:%" PRIu64 ": column %s contains a NUL byte", path, lineno, column_name[col]);
	}

	if (!valid_stream_name(field[0], flen[0]))
		fatal("%s:%" PRIu64 ": invalid stream name \"%s\"", path, lineno,
			  printable(field[0], flen[0]));
	f.stream = field[0];
	f.stream_len = flen[0];
	if (!parse_decimal(field[1], flen[1], 1, &f.seq))
		fatal("%s:%" PRIu64 ": seq \"%s\" is not a positive integer", path, lineno,
			  printable(field[1], flen[1]));
	if (!parse_copy_timestamp(field[2], flen[2], ts))
		fatal("%s:%" PRIu64 ": recorded_at \"%s\" is not a timestamp like 2026-12-03 15:52:41.00012+00 (export with DateStyle = ISO)",
			  path, lineno, printable(field[2], flen[2]));
	f.recorded_at = ts;
	f.actor = field[3];
	f.actor_len = flen[3];
	f.action = field[4];
	f.action_len = flen[4];
	f.payload = field[5];
	f.payload_len = flen[5];

	if (G.nentries >= MAX_ENTRIES)
		fatal("\"%s\": more than %zu entries", path, MAX_ENTRIES);
	G.entries = grow_array(G.entries, &G.entries_cap, G.nentries + 1, sizeof(Entry));
	e = &G.entries[G.nentries];
	decode_hash_column(field[6], flen[6], e->prev_hash, path, lineno, 6);
	decode_hash_column(field[7], flen[7], e->hash, path, lineno, 7);
	e->seq = f.seq;
	e->stream = intern_stream(f.stream, f.stream_len);
	entry_hash(e->prev_hash, &f, computed);
	e->hash_ok = memcmp(computed, e->hash, HASH_LEN) == 0;
	G.nentries++;
}

/* Read the whole COPY export from path ("-": stdin). */
static void
read_ledger(const char *path)
{
	FILE	   *fp = open_input(path);
	const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
	uint64_t	lineno = 0;
	size_t		len;

	while (read_line(fp, name, &len))
	{
		lineno++;
		if ((len == 2 || (len == 3 && G.line[2] == '\r')) &&
			G.line[0] == '\\' && G.line[1] == '.')
		{
			/* end-of-data marker: only empty lines may follow */
			while (read_line(fp, name, &len))
				if (len != 0)
					fatal("%s:%" PRIu64 ": data after the end-of-data marker \\.", name, lineno + 1);
			break;
		}
		add_ledger_line(G.line, len, name, lineno);
	}
	close_input();
}

/* Order streams bytewise by name. */
static int
stream_cmp(const void *a, const void *b)
{
	const Stream *x = a;
	const Stream *y = b;

	return compare_bytes(x->name, x->len, y->name, y->len);
}

/* Order entries by stream (already in name order) and then seq. */
static int
entry_cmp(const void *a, const void *b)
{
	const Entry *x = a;
	const Entry *y = b;

	if (x->stream != y->stream)
		return x->stream < y->stream ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/*
 * Sort streams by name and entries by stream and seq, so that each stream's
 * entries are contiguous and in seq order. Duplicate rows are an error.
 */
static void
sort_ledger(void)
{
	size_t	   *new_index;
	size_t		i;

	if (G.nstreams == 0)
		return;
	qsort(G.streams, G.nstreams, sizeof(Stream), stream_cmp);
	new_index = xmalloc(G.nstreams * sizeof(size_t));
	for (i = 0; i < G.nstreams; i++)
		new_index[G.streams[i].id] = i;
	for (i = 0; i < G.nentries; i++)
		G.entries[i].stream = new_index[G.entries[i].stream];
	free(new_index);
	rebuild_stream_table();

	qsort(G.entries, G.nentries, sizeof(Entry), entry_cmp);
	for (i = 0; i < G.nentries; i++)
	{
		Stream	   *st = &G.streams[G.entries[i].stream];

		if (st->count == 0)
			st->first = i;
		else if (G.entries[i - 1].seq == G.entries[i].seq)
			fatal("the export holds stream %s seq %" PRId64 " twice", st->name, G.entries[i].seq);
		st->count++;
	}
}


/* ---------------------------------------------------------------------------
 * Problems
 * ------------------------------------------------------------------------- */

/* Record one problem; stream NULL and seq -1 mean none. */
static void
add_problem(const char *stream, size_t stream_len, int64_t seq, ProblemKind kind)
{
	Problem    *p;

	G.problems = grow_array(G.problems, &G.problems_cap, G.nproblems + 1, sizeof(Problem));
	p = &G.problems[G.nproblems++];
	p->stream = stream;
	p->stream_len = stream_len;
	p->seq = seq;
	p->kind = kind;
}

/* Order problems: no stream first, then by stream, seq and the table's order. */
static int
problem_cmp(const void *a, const void *b)
{
	const Problem *x = a;
	const Problem *y = b;
	int			c;

	if ((x->stream == NULL) != (y->stream == NULL))
		return x->stream == NULL ? -1 : 1;
	if (x->stream != NULL)
	{
		c = compare_bytes(x->stream, x->stream_len, y->stream, y->stream_len);
		if (c != 0)
			return c;
	}
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return (x->kind > y->kind) - (x->kind < y->kind);
}

/* Print the problems, sorted, as stream<TAB>seq<TAB>problem lines. */
static void
print_problems(void)
{
	size_t		i;

	qsort(G.problems, G.nproblems, sizeof(Problem), problem_cmp);
	for (i = 0; i < G.nproblems; i++)
	{
		const Problem *p = &G.problems[i];

		if (p->stream)
			fwrite(p->stream, 1, p->stream_len, stdout);
		else
			fputc('-', stdout);
		if (p->seq >= 0)
			printf("\t%" PRId64 "\t%s\n", p->seq, problem_text[p->kind]);
		else
			printf("\t-\t%s\n", problem_text[p->kind]);
	}
}


/* ---------------------------------------------------------------------------
 * Verification of the chains and of the checkpoint
 * ------------------------------------------------------------------------- */

/*
 * Check every stream's chain: each stored hash against the recomputed one,
 * each prev_hash against the hash of the entry before it (32 zero bytes for
 * seq 1), and report a gap at the first entry after missing ones. After a
 * gap the link cannot be checked, as its predecessor is absent.
 */
static void
check_chains(void)
{
	size_t		s,
				i;

	for (s = 0; s < G.nstreams; s++)
	{
		Stream	   *st = &G.streams[s];
		Entry	   *run = G.entries + st->first;

		for (i = 0; i < st->count; i++)
		{
			Entry	   *e = &run[i];
			int64_t		expected = i == 0 ? 1 : run[i - 1].seq + 1;

			if (!e->hash_ok)
				add_problem(st->name, st->len, e->seq, PROBLEM_HASH_MISMATCH);
			if (e->seq != expected)
				add_problem(st->name, st->len, e->seq, PROBLEM_GAP);
			else if (memcmp(e->prev_hash, i == 0 ? zero_hash : run[i - 1].hash, HASH_LEN) != 0)
				add_problem(st->name, st->len, e->seq, PROBLEM_BROKEN_LINK);
		}
	}
}

/* Index in a stream's sorted entries of the one with the given seq, or NOT_FOUND. */
static size_t
find_seq(const Entry *run, size_t n, int64_t seq)
{
	size_t		lo = 0,
				hi = n;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (run[mid].seq == seq)
			return mid;
		if (run[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NOT_FOUND;
}

/*
 * Compare the ledger with the checkpoint: its signature, then for each stream
 * it lists the entry at its seq, that entry's hash and the Merkle root of the
 * stream's entries up to it.
 */
static void
check_checkpoint(void)
{
	Checkpoint *cp = &G.checkpoint;
	size_t		i;

	if (!ed25519_verify(cp->digest, HASH_LEN, cp->signature))
		add_problem(NULL, 0, -1, PROBLEM_CP_BAD_SIGNATURE);

	for (i = 0; i < cp->nstreams; i++)
	{
		CheckpointStream *cs = &cp->streams[i];
		size_t		idx = find_stream(cs->name, cs->len);
		const Entry *run;
		size_t		pos;
		uint8_t		root[HASH_LEN];

		if (idx == NOT_FOUND)
		{
			add_problem(cs->name, cs->len, cs->seq, PROBLEM_CP_STREAM_MISSING);
			continue;
		}
		run = G.entries + G.streams[idx].first;
		pos = find_seq(run, G.streams[idx].count, cs->seq);
		if (pos == NOT_FOUND)
		{
			add_problem(cs->name, cs->len, cs->seq, PROBLEM_CP_MISSING_ENTRIES);
			continue;
		}
		if (memcmp(run[pos].hash, cs->head, HASH_LEN) != 0)
			add_problem(cs->name, cs->len, cs->seq, PROBLEM_CP_HEAD_MISMATCH);
		merkle_root(run, pos + 1, root);
		if ((int64_t) (pos + 1) != cs->seq || memcmp(root, cs->root, HASH_LEN) != 0)
			add_problem(cs->name, cs->len, cs->seq, PROBLEM_CP_ROOT_MISMATCH);
	}
}


/* ---------------------------------------------------------------------------
 * Checkpoints
 * ------------------------------------------------------------------------- */

/* A read position in a byte string. */
typedef struct Cursor
{
	const uint8_t *s;
	size_t		len;
	size_t		pos;
} Cursor;

/* Read one netstring at the cursor; false if malformed. */
static bool
read_netstring(Cursor *c, const char **val, size_t *vlen)
{
	size_t		n = 0,
				digits = 0;

	while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9')
	{
		if (digits == 10 || (digits == 1 && n == 0))
			return false;		/* too long, or a leading zero */
		n = n * 10 + (size_t) (c->s[c->pos] - '0');
		digits++;
		c->pos++;
	}
	if (digits == 0 || c->pos >= c->len || c->s[c->pos] != ':')
		return false;
	c->pos++;
	if (n > c->len - c->pos || c->len - c->pos - n < 1 || c->s[c->pos + n] != ',')
		return false;
	*val = (const char *) c->s + c->pos;
	*vlen = n;
	c->pos += n + 1;
	return true;
}

/*
 * Parse canonical(checkpoint), already decoded from hex into cp->canonical,
 * and compute its digest. Anything that is not exactly the canonical form
 * is an error.
 */
static void
parse_checkpoint_canonical(Checkpoint *cp, const char *where)
{
	Cursor		c = {cp->canonical, cp->canonical_len, 0};
	const char *v;
	size_t		vlen,
				i;
	int64_t		count;
	uint8_t		prev[HASH_LEN];

	sha256(cp->canonical, cp->canonical_len, cp->digest);

	if (!read_netstring(&c, &v, &vlen))
		fatal("%s: the canonical checkpoint does not start with a netstring", where);
	if (vlen != strlen(CHECKPOINT_FORMAT) || memcmp(v, CHECKPOINT_FORMAT, vlen) != 0)
		fatal("%s: unknown checkpoint format \"%s\" (this verifier knows %s)", where,
			  printable(v, vlen), CHECKPOINT_FORMAT);
	if (!read_netstring(&c, &v, &vlen) || !parse_decimal(v, vlen, 1, &cp->id))
		fatal("%s: malformed checkpoint id", where);
	if (!read_netstring(&c, &v, &vlen) || !valid_canonical_timestamp(v, vlen))
		fatal("%s: malformed checkpoint created_at", where);
	if (!read_netstring(&c, &v, &vlen) ||
		(vlen != 0 && !hex_decode(v, vlen, prev, HASH_LEN, false)))
		fatal("%s: malformed checkpoint prev_digest", where);
	if (!read_netstring(&c, &v, &vlen) || !parse_decimal(v, vlen, 0, &count) ||
		(uint64_t) count > (cp->canonical_len - c.pos) / 16)
		fatal("%s: malformed checkpoint stream count", where);

	cp->nstreams = (size_t) count;
	cp->streams = xmalloc((cp->nstreams ? cp->nstreams : 1) * sizeof(CheckpointStream));
	for (i = 0; i < cp->nstreams; i++)
	{
		CheckpointStream *cs = &cp->streams[i];

		if (!read_netstring(&c, &cs->name, &cs->len) || !valid_stream_name(cs->name, cs->len))
			fatal("%s: malformed stream name in the checkpoint", where);
		if (i > 0 && compare_bytes(cp->streams[i - 1].name, cp->streams[i - 1].len,
								   cs->name, cs->len) >= 0)
			fatal("%s: the checkpoint's streams are not in ascending order", where);
		if (!read_netstring(&c, &v, &vlen) || !parse_decimal(v, vlen, 1, &cs->seq))
			fatal("%s: malformed seq for stream %s in the checkpoint", where,
				  printable(cs->name, cs->len));
		if (!read_netstring(&c, &v, &vlen) || !hex_decode(v, vlen, cs->head, HASH_LEN, false))
			fatal("%s: malformed head hash for stream %s in the checkpoint", where,
				  printable(cs->name, cs->len));
		if (!read_netstring(&c, &v, &vlen) || !hex_decode(v, vlen, cs->root, HASH_LEN, false))
			fatal("%s: malformed merkle root for stream %s in the checkpoint", where,
				  printable(cs->name, cs->len));
	}
	if (c.pos != c.len)
		fatal("%s: trailing bytes after the checkpoint's last stream", where);
}

/* Decode the canonical hex and the signature hex of a checkpoint into cp. */
static void
decode_checkpoint(Checkpoint *cp, const char *canonical_hex, size_t canonical_hex_len,
				  const char *signature_hex, size_t signature_hex_len, const char *where)
{
	if (canonical_hex_len == 0 || canonical_hex_len % 2 != 0)
		fatal("%s: canonical is not lowercase hex", where);
	cp->canonical_len = canonical_hex_len / 2;
	cp->canonical = xmalloc(cp->canonical_len);
	if (!hex_decode(canonical_hex, canonical_hex_len, cp->canonical, cp->canonical_len, false))
		fatal("%s: canonical is not lowercase hex", where);
	if (!hex_decode(signature_hex, signature_hex_len, cp->signature, SIG_LEN, false))
		fatal("%s: signature is not 64 bytes of lowercase hex", where);
	parse_checkpoint_canonical(cp, where);
}

/*
 * Read a checkpoint export:
 *   sigmax-checkpoint-v1
 *   canonical: <hex>
 *   signature: <hex>
 * Blank lines may follow; CRLF line ends are accepted.
 */
static void
read_checkpoint_file(const char *path)
{
	size_t		len = read_whole_file(path, "checkpoint file");
	char	   *text = G.file_text;
	const char *line[3];
	size_t		line_len[3];
	size_t		nlines = 0,
				pos = 0;

	if (memchr(text, '\0', len) != NULL)
		fatal("checkpoint file \"%s\" contains a NUL byte", path);
	while (pos < len)
	{
		char	   *nl = memchr(text + pos, '\n', len - pos);
		size_t		end = nl ? (size_t) (nl - text) : len;
		size_t		l = end - pos;

		if (l > 0 && text[pos + l - 1] == '\r')
			l--;
		if (nlines < 3)
		{
			line[nlines] = text + pos;
			line_len[nlines] = l;
		}
		else if (l != 0)
			fatal("checkpoint file \"%s\": unexpected text after the signature line", path);
		nlines++;
		pos = end + 1;
	}
	if (nlines == 0 || line_len[0] != strlen(CHECKPOINT_FORMAT) ||
		memcmp(line[0], CHECKPOINT_FORMAT, line_len[0]) != 0)
		fatal("checkpoint file \"%s\": unknown format \"%s\" (this verifier knows %s)", path,
			  nlines ? printable(line[0], line_len[0]) : "", CHECKPOINT_FORMAT);
	if (nlines < 3 || line_len[1] < 11 || memcmp(line[1], "canonical: ", 11) != 0 ||
		line_len[2] < 11 || memcmp(line[2], "signature: ", 11) != 0)
		fatal("checkpoint file \"%s\": expected the lines \"canonical: <hex>\" and \"signature: <hex>\"",
			  path);
	decode_checkpoint(&G.checkpoint, line[1] + 11, line_len[1] - 11,
					  line[2] + 11, line_len[2] - 11, path);
	G.have_checkpoint = true;
}

/* The checkpoint's entry for the named stream, or NULL. */
static const CheckpointStream *
checkpoint_find(const Checkpoint *cp, const char *name, size_t len)
{
	size_t		lo = 0,
				hi = cp->nstreams;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		int			c = compare_bytes(cp->streams[mid].name, cp->streams[mid].len, name, len);

		if (c == 0)
			return &cp->streams[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}


/* ---------------------------------------------------------------------------
 * A small strict JSON reader (RFC 8259)
 * ------------------------------------------------------------------------- */

/* Free a JSON value and everything under it. */
static void
json_free(JsonValue *v)
{
	size_t		i;

	if (v == NULL)
		return;
	if (v->type == JSON_ARRAY)
		for (i = 0; i < v->count; i++)
			json_free(v->elements[i]);
	if (v->type == JSON_OBJECT)
		for (i = 0; i < v->count; i++)
		{
			free(v->members[i].key);
			json_free(v->members[i].value);
		}
	free(v->elements);
	free(v->members);
	free(v->text);
	free(v);
}

/* Record the first parse error; returns false for convenience. */
static bool
json_fail(JsonParser *p, const char *msg)
{
	if (p->error == NULL)
		p->error = msg;
	return false;
}

/* True if the whole buffer is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
static bool
valid_utf8(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		unsigned char lo = 0x80,
					hi = 0xbf;
		size_t		n,
					k;

		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
		{
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		}
		else if (c >= 0xf0 && c <= 0xf4)
		{
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		}
		else
			return false;
		if (len - i - 1 < n)
			return false;
		for (k = 1; k <= n; k++)
		{
			unsigned char cc = s[i + k];

			if (cc < (k == 1 ? lo : 0x80) || cc > (k == 1 ? hi : 0xbf))
				return false;
		}
		i += n + 1;
	}
	return true;
}

/* Skip JSON whitespace: space, tab, line feed, carriage return. */
static void
json_skip_ws(JsonParser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
							   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

/* Four hex digits at s[i..i+3], below end, as a code unit; -1 if not. */
static long
json_hex4(const unsigned char *s, size_t i, size_t end)
{
	long		v = 0;
	int			k;

	if (end - i < 4)
		return -1;
	for (k = 0; k < 4; k++)
	{
		int			d = hex_value(s[i + (size_t) k], true);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Append the UTF-8 encoding of code point cp at out; returns its length. */
static size_t
utf8_encode(unsigned long cp, char *out)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xc0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xe0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char) (0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char) (0xf0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char) (0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Parse a JSON string at the parser's position into a new NUL-terminated
 * buffer, decoding every escape; \uXXXX surrogate pairs become one UTF-8
 * character and unpaired surrogates are rejected.
 */
static bool
json_parse_string(JsonParser *p, char **out, size_t *out_len)
{
	const unsigned char *s = p->s;
	size_t		start,
				end,
				i,
				o = 0;
	char	   *buf;

	if (p->pos >= p->len || s[p->pos] != '"')
		return json_fail(p, "expected a string");
	start = end = p->pos + 1;
	for (;;)
	{
		if (end >= p->len)
		{
			p->pos = p->len;
			return json_fail(p, "unterminated string");
		}
		if (s[end] == '"')
			break;
		if (s[end] < 0x20)
		{
			p->pos = end;
			return json_fail(p, "control character in a string");
		}
		if (s[end] == '\\')
			end++;
		end++;
	}

	/* escapes never make a string longer */
	buf = xmalloc(end - start + 1);
	i = start;
	while (i < end)
	{
		unsigned char c = s[i++];
		long		cp;

		if (c != '\\')
		{
			buf[o++] = (char) c;
			continue;
		}
		p->pos = i - 1;			/* where an error is reported */
		c = s[i++];
		switch (c)
		{
			case '"':
			case '\\':
			case '/':
				buf[o++] = (char) c;
				break;
			case 'b':
				buf[o++] = '\b';
				break;
			case 'f':
				buf[o++] = '\f';
				break;
			case 'n':
				buf[o++] = '\n';
				break;
			case 'r':
				buf[o++] = '\r';
				break;
			case 't':
				buf[o++] = '\t';
				break;
			case 'u':
				cp = json_hex4(s, i, end);
				if (cp < 0)
				{
					free(buf);
					return json_fail(p, "malformed \\u escape");
				}
				i += 4;
				if (cp >= 0xdc00 && cp <= 0xdfff)
				{
					free(buf);
					return json_fail(p, "unpaired low surrogate in a \\u escape");
				}
				if (cp >= 0xd800 && cp <= 0xdbff)
				{
					long		low = -1;

					if (end - i >= 6 && s[i] == '\\' && s[i + 1] == 'u')
						low = json_hex4(s, i + 2, end);
					if (low < 0xdc00 || low > 0xdfff)
					{
						free(buf);
						return json_fail(p, "unpaired high surrogate in a \\u escape");
					}
					i += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
				}
				o += utf8_encode((unsigned long) cp, buf + o);
				break;
			default:
				free(buf);
				return json_fail(p, "invalid escape in a string");
		}
	}
	buf[o] = '\0';
	p->pos = end + 1;
	*out = buf;
	*out_len = o;
	return true;
}

/* Check the grammar of a JSON number at the parser's position and keep its text. */
static bool
json_parse_number(JsonParser *p, JsonValue *v)
{
	const unsigned char *s = p->s;
	size_t		start = p->pos,
				pos = p->pos;

	if (pos < p->len && s[pos] == '-')
		pos++;
	if (pos < p->len && s[pos] == '0')
		pos++;
	else if (pos < p->len && s[pos] >= '1' && s[pos] <= '9')
		while (pos < p->len && s[pos] >= '0' && s[pos] <= '9')
			pos++;
	else
		return json_fail(p, "malformed number");
	if (pos < p->len && s[pos] == '.')
	{
		pos++;
		if (pos >= p->len || s[pos] < '0' || s[pos] > '9')
			return json_fail(p, "malformed number");
		while (pos < p->len && s[pos] >= '0' && s[pos] <= '9')
			pos++;
	}
	if (pos < p->len && (s[pos] == 'e' || s[pos] == 'E'))
	{
		pos++;
		if (pos < p->len && (s[pos] == '+' || s[pos] == '-'))
			pos++;
		if (pos >= p->len || s[pos] < '0' || s[pos] > '9')
			return json_fail(p, "malformed number");
		while (pos < p->len && s[pos] >= '0' && s[pos] <= '9')
			pos++;
	}
	v->text_len = pos - start;
	v->text = xmalloc(v->text_len + 1);
	memcpy(v->text, s + start, v->text_len);
	v->text[v->text_len] = '\0';
	p->pos = pos;
	return true;
}

/* Match a literal keyword (true, false, null) at the parser's position. */
static bool
json_literal(JsonParser *p, const char *word)
{
	size_t		n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return false;
	p->pos += n;
	return true;
}

static JsonValue *json_parse_value(JsonParser *p);

/* Parse the elements of an array; the parser is past the '['. */
static bool
json_parse_array(JsonParser *p, JsonValue *v)
{
	json_skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']')
	{
		p->pos++;
		return true;
	}
	for (;;)
	{
		JsonValue  *elem = json_parse_value(p);

		if (elem == NULL)
			return false;
		v->elements = grow_array(v->elements, &v->cap, v->count + 1, sizeof(JsonValue *));
		v->elements[v->count++] = elem;
		json_skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',')
		{
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == ']')
		{
			p->pos++;
			return true;
		}
		return json_fail(p, "expected ',' or ']' in an array");
	}
}

/* Parse the members of an object; the parser is past the '{'. */
static bool
json_parse_object(JsonParser *p, JsonValue *v)
{
	json_skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}')
	{
		p->pos++;
		return true;
	}
	for (;;)
	{
		JsonMember *m;
		char	   *key;
		size_t		key_len;
		JsonValue  *value;

		json_skip_ws(p);
		if (!json_parse_string(p, &key, &key_len))
			return false;
		json_skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ':')
		{
			free(key);
			return json_fail(p, "expected ':' after an object key");
		}
		p->pos++;
		value = json_parse_value(p);
		if (value == NULL)
		{
			free(key);
			return false;
		}
		v->members = grow_array(v->members, &v->cap, v->count + 1, sizeof(JsonMember));
		m = &v->members[v->count++];
		m->key = key;
		m->key_len = key_len;
		m->value = value;
		json_skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',')
		{
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == '}')
		{
			p->pos++;
			return true;
		}
		return json_fail(p, "expected ',' or '}' in an object");
	}
}

/* Parse any JSON value, with limits on nesting depth and on the number of values. */
static JsonValue *
json_parse_value(JsonParser *p)
{
	JsonValue  *v;
	bool		ok;
	unsigned char c;

	json_skip_ws(p);
	if (p->pos >= p->len)
	{
		json_fail(p, "unexpected end of input");
		return NULL;
	}
	if (++p->nvalues > MAX_JSON_VALUES)
	{
		json_fail(p, "too many values");
		return NULL;
	}
	v = xmalloc(sizeof(JsonValue));
	memset(v, 0, sizeof(JsonValue));
	c = p->s[p->pos];
	if (c == '{' || c == '[')
	{
		if (++p->depth > MAX_JSON_DEPTH)
		{
			free(v);
			json_fail(p, "nested too deeply");
			return NULL;
		}
		p->pos++;
		v->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
		ok = c == '{' ? json_parse_object(p, v) : json_parse_array(p, v);
		p->depth--;
	}
	else if (c == '"')
	{
		v->type = JSON_STRING;
		ok = json_parse_string(p, &v->text, &v->text_len);
	}
	else if (c == '-' || (c >= '0' && c <= '9'))
	{
		v->type = JSON_NUMBER;
		ok = json_parse_number(p, v);
	}
	else if (json_literal(p, "true"))
	{
		v->type = JSON_TRUE;
		ok = true;
	}
	else if (json_literal(p, "false"))
	{
		v->type = JSON_FALSE;
		ok = true;
	}
	else if (json_literal(p, "null"))
	{
		v->type = JSON_NULL;
		ok = true;
	}
	else
		ok = json_fail(p, "unexpected character");
	if (!ok)
	{
		json_free(v);
		return NULL;
	}
	return v;
}

/* Parse a whole JSON document; exits with a message if it is not one. */
static JsonValue *
json_parse_document(const char *text, size_t len, const char *where)
{
	JsonParser	p = {(const unsigned char *) text, len, 0, 0, 0, NULL};
	JsonValue  *v;

	if (!valid_utf8(p.s, len))
		fatal("%s: not valid UTF-8", where);
	v = json_parse_value(&p);
	if (v != NULL)
	{
		json_skip_ws(&p);
		if (p.pos != p.len)
		{
			json_free(v);
			v = NULL;
			json_fail(&p, "unexpected text after the JSON value");
		}
	}
	if (v == NULL)
		fatal("%s: malformed JSON at byte %zu: %s", where, p.pos, p.error);
	return v;
}

/* The member of an object with the given key, or NULL; a repeated key is an error. */
static const JsonValue *
json_get(const JsonValue *obj, const char *key, const char *where)
{
	const JsonValue *found = NULL;
	size_t		klen = strlen(key);
	size_t		i;

	for (i = 0; i < obj->count; i++)
	{
		if (obj->members[i].key_len == klen && memcmp(obj->members[i].key, key, klen) == 0)
		{
			if (found)
				fatal("%s: key \"%s\" appears twice", where, key);
			found = obj->members[i].value;
		}
	}
	return found;
}

/* A member that must be present and of the given type. */
static const JsonValue *
json_require(const JsonValue *obj, const char *key, JsonType type, const char *what,
			 const char *where)
{
	const JsonValue *v = json_get(obj, key, where);

	if (v == NULL)
		fatal("%s: \"%s\" is missing", where, key);
	if (v->type != type)
		fatal("%s: \"%s\" is not %s", where, key, what);
	return v;
}

/* A string member without NUL characters. */
static const JsonValue *
json_require_text(const JsonValue *obj, const char *key, const char *where)
{
	const JsonValue *v = json_require(obj, key, JSON_STRING, "a string", where);

	if (memchr(v->text, '\0', v->text_len) != NULL)
		fatal("%s: \"%s\" contains a NUL character", where, key);
	return v;
}

/*
 * A non-negative integer member (at least min), given as a JSON number
 * without fraction or exponent, or as a string of decimal digits.
 */
static int64_t
json_require_integer(const JsonValue *obj, const char *key, int64_t min, const char *where)
{
	const JsonValue *v = json_get(obj, key, where);
	int64_t		result;

	if (v == NULL)
		fatal("%s: \"%s\" is missing", where, key);
	if ((v->type != JSON_NUMBER && v->type != JSON_STRING) ||
		!parse_decimal(v->text, v->text_len, min, &result))
		fatal("%s: \"%s\" is not an integer of at least %" PRId64, where, key, min);
	return result;
}

/* A member holding lowercase hex of exactly 32 bytes. */
static void
json_require_hash(const JsonValue *obj, const char *key, uint8_t out[HASH_LEN],
				  const char *where)
{
	const JsonValue *v = json_require(obj, key, JSON_STRING, "a string", where);

	if (!hex_decode(v->text, v->text_len, out, HASH_LEN, false))
		fatal("%s: \"%s\" is not 32 bytes of lowercase hex", where, key);
}


/* ---------------------------------------------------------------------------
 * Commands
 * ------------------------------------------------------------------------- */

/* Print the help text. */
static void
print_help(FILE *fp)
{
	fprintf(fp,
			"%s checks an export of the sigmax audit ledger, its signed checkpoint and\n"
			"inclusion proofs, trusting only those files and the public key.\n"
			"\n"
			"Usage:\n"
			"  %s ledger [--public-key PUB.pem --checkpoint CHECKPOINT.txt] [FILE|-]\n"
			"  %s proof --public-key PUB.pem [PROOF.json|-]\n"
			"  %s --help\n"
			"\n"
			"ledger   reads COPY sigmax.audit_log TO STDOUT (text format) from FILE or\n"
			"         standard input, checks every stream's hash chain and, with\n"
			"         --checkpoint (which needs --public-key), the checkpoint's signature,\n"
			"         stream heads and Merkle roots. Each problem is a line\n"
			"         \"stream<TAB>seq<TAB>problem\" on standard output (\"-\" for none).\n"
			"proof    checks one JSON inclusion proof from sigmax.audit_proof().\n"
			"\n"
			"Options:\n"
			"  --public-key FILE   PEM Ed25519 public key (sigmax.audit_public_key())\n"
			"  --checkpoint FILE   checkpoint export (sigmax.audit_checkpoint_export())\n"
			"  -h, --help          show this help and exit\n"
			"\n"
			"Exit status: 0 intact (or proof ok), 1 problems found (or proof failed),\n"
			"2 usage error or unreadable or malformed input.\n"
			"The format is specified in docs/ledger-format.md.\n",
			PROGNAME, PROGNAME, PROGNAME, PROGNAME);
}

/* Flush standard output and turn a write failure into exit status 2. */
static int
finish(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		fatal("could not write to standard output");
	return status;
}

/* sigmax-verify ledger: check the chains and, if given, the checkpoint. */
static int
run_ledger(const char *input, const char *checkpoint_path)
{
	if (checkpoint_path)
		read_checkpoint_file(checkpoint_path);
	read_ledger(input);
	sort_ledger();
	check_chains();
	if (G.have_checkpoint)
		check_checkpoint();
	else
		fprintf(stderr, "%s: no --checkpoint given: only the hash chains were checked, not the checkpoint\n",
				PROGNAME);

	if (G.nproblems > 0)
	{
		print_problems();
		return finish(EXIT_PROBLEMS);
	}
	if (G.have_checkpoint)
		printf("intact: %zu streams, %zu entries, checkpoint %" PRId64 "\n",
			   G.nstreams, G.nentries, G.checkpoint.id);
	else
		printf("intact: %zu streams, %zu entries, no checkpoint\n", G.nstreams, G.nentries);
	return finish(EXIT_INTACT);
}

/* Print one reason why a proof does not hold, and count it. */
static void
proof_failed(int *failures, const char *fmt,...)
{
	va_list		ap;

	fputs("proof failed: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	(*failures)++;
}

/* sigmax-verify proof: check one inclusion proof against its signed checkpoint. */
static int
run_proof(const char *input)
{
	const char *where = strcmp(input, "-") == 0 ? "stdin" : input;
	size_t		len = read_whole_file(input, "proof");
	const JsonValue *root,
			   *format,
			   *entry,
			   *path,
			   *cpv,
			   *canonical,
			   *signature;
	const JsonValue *stream,
			   *recorded_at,
			   *actor,
			   *action,
			   *payload;
	EntryFields f;
	uint8_t		prev_hash[HASH_LEN],
				hash[HASH_LEN],
				computed[HASH_LEN],
				folded[HASH_LEN];
	int64_t		leaf_index,
				tree_size;
	const CheckpointStream *cs;
	bool		have_root = false;
	int			failures = 0;
	size_t		i;

	G.json = json_parse_document(G.file_text, len, where);
	root = G.json;
	if (root->type != JSON_OBJECT)
		fatal("%s: the proof is not a JSON object", where);
	format = json_require(root, "format", JSON_STRING, "a string", where);
	if (strcmp(format->text, PROOF_FORMAT) != 0 || format->text_len != strlen(PROOF_FORMAT))
		fatal("%s: unknown proof format \"%s\" (this verifier knows %s)", where,
			  printable(format->text, format->text_len), PROOF_FORMAT);

	entry = json_require(root, "entry", JSON_OBJECT, "an object", where);
	stream = json_require_text(entry, "stream", where);
	if (!valid_stream_name(stream->text, stream->text_len))
		fatal("%s: invalid stream name \"%s\"", where, printable(stream->text, stream->text_len));
	f.stream = stream->text;
	f.stream_len = stream->text_len;
	f.seq = json_require_integer(entry, "seq", 1, where);
	recorded_at = json_require_text(entry, "recorded_at", where);
	if (!valid_canonical_timestamp(recorded_at->text, recorded_at->text_len))
		fatal("%s: entry.recorded_at is not of the form YYYY-MM-DDTHH:MM:SS.ffffffZ", where);
	f.recorded_at = recorded_at->text;
	actor = json_require_text(entry, "actor", where);
	f.actor = actor->text;
	f.actor_len = actor->text_len;
	action = json_require_text(entry, "action", where);
	f.action = action->text;
	f.action_len = action->text_len;
	payload = json_require_text(entry, "payload", where);
	f.payload = payload->text;
	f.payload_len = payload->text_len;
	json_require_hash(entry, "prev_hash", prev_hash, where);
	json_require_hash(entry, "hash", hash, where);

	leaf_index = json_require_integer(root, "leaf_index", 0, where);
	tree_size = json_require_integer(root, "tree_size", 1, where);
	path = json_require(root, "audit_path", JSON_ARRAY, "an array", where);
	G.audit_path = xmalloc((path->count ? path->count : 1) * HASH_LEN);
	for (i = 0; i < path->count; i++)
	{
		const JsonValue *p = path->elements[i];

		if (p->type != JSON_STRING ||
			!hex_decode(p->text, p->text_len, G.audit_path + i * HASH_LEN, HASH_LEN, false))
			fatal("%s: audit_path[%zu] is not 32 bytes of lowercase hex", where, i);
	}
	cpv = json_require(root, "checkpoint", JSON_OBJECT, "an object", where);
	canonical = json_require(cpv, "canonical", JSON_STRING, "a string", where);
	signature = json_require(cpv, "signature", JSON_STRING, "a string", where);
	decode_checkpoint(&G.checkpoint, canonical->text, canonical->text_len,
					  signature->text, signature->text_len, where);

	/* the entry's hash */
	entry_hash(prev_hash, &f, computed);
	if (memcmp(computed, hash, HASH_LEN) != 0)
		proof_failed(&failures, "hash mismatch: entry.hash is not SHA-256 of prev_hash and the entry's fields");

	/* its place in the tree, and the root the audit path leads to */
	if (leaf_index != f.seq - 1)
		proof_failed(&failures, "leaf_index %" PRId64 " is not entry.seq - 1 (%" PRId64 ")",
					 leaf_index, f.seq - 1);
	if (leaf_index >= tree_size)
		proof_failed(&failures, "leaf_index %" PRId64 " is not below tree_size %" PRId64,
					 leaf_index, tree_size);
	else if (!fold_audit_path(hash, (uint64_t) leaf_index, (uint64_t) tree_size,
							  G.audit_path, path->count, folded))
		proof_failed(&failures, "audit_path has %zu hashes, the wrong number for leaf_index %" PRId64 " and tree_size %" PRId64,
					 path->count, leaf_index, tree_size);
	else
		have_root = true;

	/* the checkpoint's word for the stream */
	cs = checkpoint_find(&G.checkpoint, f.stream, f.stream_len);
	if (cs == NULL)
		proof_failed(&failures, "checkpoint %" PRId64 " does not list stream %s",
					 G.checkpoint.id, f.stream);
	else if (cs->seq != tree_size)
		proof_failed(&failures, "checkpoint %" PRId64 " lists stream %s at seq %" PRId64 ", not at tree_size %" PRId64,
					 G.checkpoint.id, f.stream, cs->seq, tree_size);
	else if (have_root && memcmp(folded, cs->root, HASH_LEN) != 0)
		proof_failed(&failures, "merkle root mismatch: the audit path does not lead to checkpoint %" PRId64 "'s root for stream %s",
					 G.checkpoint.id, f.stream);

	/* and the checkpoint's signature */
	if (!ed25519_verify(G.checkpoint.digest, HASH_LEN, G.checkpoint.signature))
		proof_failed(&failures, "bad signature: checkpoint %" PRId64 "'s signature does not verify with the public key",
					 G.checkpoint.id);

	if (failures > 0)
		return finish(EXIT_PROBLEMS);
	printf("proof ok: %s seq %" PRId64 " in checkpoint %" PRId64 "\n",
		   f.stream, f.seq, G.checkpoint.id);
	return finish(EXIT_INTACT);
}

/*
 * Take the value of option name from argv[*i] ("--name=value") or from the
 * next argument; false if argv[*i] is another option.
 */
static bool
option_value(const char *name, int argc, char **argv, int *i, const char **value)
{
	const char *arg = argv[*i];
	size_t		n = strlen(name);

	if (strncmp(arg, name, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
		return false;
	if (*value != NULL)
		usage_error("%s given twice", name);
	if (arg[n] == '=')
		*value = arg + n + 1;
	else if (*i + 1 < argc)
		*value = argv[++*i];
	else
		usage_error("%s needs a file name", name);
	if (**value == '\0')
		usage_error("%s needs a file name", name);
	if (strcmp(*value, "-") == 0)
		usage_error("%s must name a file, not standard input", name);
	return true;
}

/* Parse the command line and run the command. */
int
main(int argc, char **argv)
{
	const char *command;
	const char *key_path = NULL;
	const char *checkpoint_path = NULL;
	const char *input = NULL;
	bool		ledger;
	bool		options_done = false;
	int			i;

	atexit(cleanup);

	if (argc < 2)
		usage_error("no command given (ledger or proof)");
	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		{
			print_help(stdout);
			return finish(EXIT_INTACT);
		}
	}
	command = argv[1];
	if (strcmp(command, "ledger") == 0)
		ledger = true;
	else if (strcmp(command, "proof") == 0)
		ledger = false;
	else
		usage_error("unknown command \"%s\" (ledger or proof)", printable(command, strlen(command)));

	for (i = 2; i < argc; i++)
	{
		const char *arg = argv[i];

		if (!options_done && strcmp(arg, "--") == 0)
		{
			options_done = true;
			continue;
		}
		if (!options_done && option_value("--public-key", argc, argv, &i, &key_path))
			continue;
		if (!options_done && ledger &&
			option_value("--checkpoint", argc, argv, &i, &checkpoint_path))
			continue;
		if (!options_done && arg[0] == '-' && arg[1] != '\0')
			usage_error("unknown option \"%s\"", printable(arg, strlen(arg)));
		if (input != NULL)
			usage_error("more than one input file given");
		input = arg;
	}
	if (input == NULL)
		input = "-";
	if (!ledger && key_path == NULL)
		usage_error("proof needs --public-key");
	if (checkpoint_path != NULL && key_path == NULL)
		usage_error("--checkpoint needs --public-key to check the signature");

	crypto_init();
	if (key_path != NULL)
		load_public_key(key_path);
	return ledger ? run_ledger(input, checkpoint_path) : run_proof(input);
}
