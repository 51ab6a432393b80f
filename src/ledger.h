/*
 * ledger.h
 *	  The hash-chained audit ledger: canonical encoding, appends and verification.
 */
#ifndef SIGMAX_LEDGER_H
#define SIGMAX_LEDGER_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "crypto.h"

#define SIGMAX_LEDGER_FORMAT "sigmax-ledger-v1"
#define SIGMAX_CHECKPOINT_FORMAT "sigmax-checkpoint-v1"

/* Longest stream name, in bytes. */
#define SIGMAX_STREAM_MAXLEN 80
/* Length of a canonical timestamp, YYYY-MM-DDTHH:MM:SS.ffffffZ, plus NUL. */
#define SIGMAX_TIME_BUFLEN 40

/* Kinds of stream name, from ledger_stream_kind. */
typedef enum LedgerStreamKind
{
	LEDGER_STREAM_INVALID,
	LEDGER_STREAM_SYSTEM,
	LEDGER_STREAM_ACCOUNT,
	LEDGER_STREAM_APP
} LedgerStreamKind;

/*
 * One ledger row as read by SPI, columns in table order: stream, seq,
 * recorded_at, actor, action, payload, prev_hash, hash.
 */
typedef struct LedgerRow
{
	char	   *stream;
	int64		seq;
	TimestampTz recorded_at;
	char	   *actor;
	char	   *action;
	Jsonb	   *payload;
	bytea	   *prev_hash;
	bytea	   *hash;
} LedgerRow;

#define LEDGER_ROW_COLUMNS "stream, seq, recorded_at, actor, action, payload, prev_hash, hash"

/* One stream's line in a checkpoint. */
typedef struct CheckpointStream
{
	char	   *stream;
	int64		seq;
	uint8		head[SIGMAX_HASH_LEN];
	uint8		root[SIGMAX_HASH_LEN];
	bytea	   *frontier;
} CheckpointStream;

/* A stored checkpoint, its streams sorted bytewise by name. */
typedef struct Checkpoint
{
	int64		id;
	TimestampTz created_at;
	bool		has_prev;
	uint8		prev_digest[SIGMAX_HASH_LEN];
	uint8		digest[SIGMAX_HASH_LEN];
	uint8		signature[SIGMAX_SIG_LEN];
	uint8		public_key[SIGMAX_PUBKEY_LEN];
	int			nstreams;
	CheckpointStream *streams;
} Checkpoint;

/* audit.c */
extern void ledger_row_from_spi(HeapTuple tuple, TupleDesc tupdesc, LedgerRow *row);
extern bool ledger_row_hash_ok(const LedgerRow *row, StringInfo scratch);
extern bool ledger_hash_equals(const bytea *value, const uint8 *expected);
extern void ledger_netstring(StringInfo buf, const char *data, int len);
extern void ledger_format_time(TimestampTz ts, char *buf);
extern void ledger_canonical(StringInfo buf, const char *stream, int64 seq,
							 TimestampTz recorded_at, const char *actor,
							 const char *action, const char *payload_text);
extern void ledger_entry_hash(const uint8 *prev_hash, StringInfo canonical,
							  uint8 out[SIGMAX_HASH_LEN]);
extern LedgerStreamKind ledger_stream_kind(const char *stream);
extern int64 sigmax_audit_write(const char *stream, const char *action, Jsonb *payload);
extern int	sigmax_audit_entries_in_xact(void);
extern void ledger_allow_insert(bool allow);
extern void ledger_lock_checkpoints(void);
extern bool ledger_insert_allowed(void);

/* checkpoint.c */
extern Checkpoint *checkpoint_load(int64 id);
extern void checkpoint_canonical(StringInfo buf, const Checkpoint *cp);
extern CheckpointStream *checkpoint_find_stream(const Checkpoint *cp, const char *stream);
extern bool checkpoint_signature_ok(const Checkpoint *cp);

/* audit_screen.c */
extern void ledger_screen_payload(Jsonb *payload);

/* merkle.c */
typedef struct MerkleFrontier
{
	int64		size;			/* leaves so far */
	int			count;			/* perfect subtrees, largest first */
	uint8		roots[64][SIGMAX_HASH_LEN];
} MerkleFrontier;

extern void merkle_frontier_init(MerkleFrontier *f);
extern void merkle_frontier_push(MerkleFrontier *f, const uint8 entry_hash[SIGMAX_HASH_LEN]);
extern void merkle_frontier_root(const MerkleFrontier *f, uint8 out[SIGMAX_HASH_LEN]);
extern bytea *merkle_frontier_serialize(const MerkleFrontier *f);
extern void merkle_frontier_deserialize(MerkleFrontier *f, int64 size, bytea *data);
extern void merkle_tree_root(const uint8 *leaves, int64 n, uint8 out[SIGMAX_HASH_LEN]);
extern int	merkle_audit_path(const uint8 *leaves, int64 n, int64 m, uint8 *path);

#endif							/* SIGMAX_LEDGER_H */
