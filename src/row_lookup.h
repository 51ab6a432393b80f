/*
 * row_lookup.h
 *	  Index reads of sigmax's own tables without the executor (row_lookup.c).
 */
#ifndef SIGMAX_ROW_LOOKUP_H
#define SIGMAX_ROW_LOOKUP_H

#include "access/genam.h"
#include "nodes/lockoptions.h"
#include "utils/numeric.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

#define ROW_LOOKUP_MAX_KEYS 2

typedef struct RowLookup
{
	int			named;			/* the relation's entry in row_lookup.c */
	Relation	heap;
	Relation	index;
	IndexScanDesc scan;
	struct TupleTableSlot *slot;
	Snapshot	registered;		/* row_lookup_lock's own snapshot, released at the end */
} RowLookup;

extern void row_lookup_begin(RowLookup *rl, const char *relname, const char *indexname,
							 Snapshot snapshot, int nkeys, const Datum *keys);
extern bool row_lookup_next(RowLookup *rl);
extern void row_lookup_end(RowLookup *rl);
extern bool row_lookup_lock(RowLookup *rl, const char *relname, const char *indexname, int nkeys,
							const Datum *keys, LockTupleMode mode);
extern AttrNumber row_lookup_attnum(const RowLookup *rl, const char *column);
extern Numeric row_lookup_numeric(RowLookup *rl, AttrNumber attnum);
extern Datum row_lookup_byval(RowLookup *rl, AttrNumber attnum, Datum if_null);
extern bool row_lookup_isnull(RowLookup *rl, AttrNumber attnum);
extern char *row_lookup_cstring(RowLookup *rl, AttrNumber attnum);
extern bool row_lookup_text_eq(RowLookup *rl, AttrNumber attnum, const char *s);

#endif							/* SIGMAX_ROW_LOOKUP_H */
