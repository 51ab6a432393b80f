/*
 * merkle.c
 *	  RFC 6962 Merkle trees over a stream's entry hashes: incremental roots and audit paths.
 */
#include "postgres.h"

#include "ledger.h"

/* An empty frontier: no leaves. */
void
merkle_frontier_init(MerkleFrontier *f)
{
	f->size = 0;
	f->count = 0;
}

/*
 * Add the next entry's leaf. The frontier keeps the roots of the perfect
 * subtrees that make up the leaves so far (one per set bit of size, largest
 * first), so each push costs one hash plus one per carry.
 */
void
merkle_frontier_push(MerkleFrontier *f, const uint8 entry_hash[SIGMAX_HASH_LEN])
{
	int64		carry = f->size;

	sigmax_merkle_leaf(entry_hash, f->roots[f->count]);
	f->count++;
	/* Each trailing one bit of the old size is a subtree of equal size to merge with. */
	while (carry & 1)
	{
		sigmax_merkle_node(f->roots[f->count - 2], f->roots[f->count - 1], f->roots[f->count - 2]);
		f->count--;
		carry >>= 1;
	}
	f->size++;
}

/*
 * The RFC 6962 root of the leaves so far: the subtrees folded from the
 * smallest (rightmost) to the largest, MTH(D) = node(largest, MTH(rest)).
 */
void
merkle_frontier_root(const MerkleFrontier *f, uint8 out[SIGMAX_HASH_LEN])
{
	int			i;

	Assert(f->count > 0);
	memcpy(out, f->roots[f->count - 1], SIGMAX_HASH_LEN);
	for (i = f->count - 2; i >= 0; i--)
		sigmax_merkle_node(f->roots[i], out, out);
}

/* The frontier as bytea: its subtree roots concatenated, largest first. */
bytea *
merkle_frontier_serialize(const MerkleFrontier *f)
{
	bytea	   *out = palloc(VARHDRSZ + f->count * SIGMAX_HASH_LEN);

	SET_VARSIZE(out, VARHDRSZ + f->count * SIGMAX_HASH_LEN);
	memcpy(VARDATA(out), f->roots, f->count * SIGMAX_HASH_LEN);
	return out;
}

/* Restore a frontier of size leaves from merkle_frontier_serialize's bytes. */
void
merkle_frontier_deserialize(MerkleFrontier *f, int64 size, bytea *data)
{
	int			expected = 0;
	int64		s;

	for (s = size; s; s >>= 1)
		expected += (s & 1);
	if (VARSIZE_ANY_EXHDR(data) != (Size) expected * SIGMAX_HASH_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a stored checkpoint frontier is damaged"),
				 errhint("Run sigmax.audit_verify() to check the ledger.")));
	f->size = size;
	f->count = expected;
	memcpy(f->roots, VARDATA_ANY(data), expected * SIGMAX_HASH_LEN);
}

/* Largest power of two strictly below n (n > 1). */
static int64
split_point(int64 n)
{
	int64		k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

/* MTH over leaf hashes (already leaf-hashed). */
static void
subtree_root(const uint8 *leaf_hashes, int64 n, uint8 out[SIGMAX_HASH_LEN])
{
	uint8		left[SIGMAX_HASH_LEN];
	uint8		right[SIGMAX_HASH_LEN];
	int64		k;

	if (n == 1)
	{
		memcpy(out, leaf_hashes, SIGMAX_HASH_LEN);
		return;
	}
	k = split_point(n);
	subtree_root(leaf_hashes, k, left);
	subtree_root(leaf_hashes + k * SIGMAX_HASH_LEN, n - k, right);
	sigmax_merkle_node(left, right, out);
}

/* Leaf-hash an array of entry hashes, palloc'd. */
static uint8 *
leaf_hash_all(const uint8 *entry_hashes, int64 n)
{
	uint8	   *leaves = palloc_extended(n * SIGMAX_HASH_LEN, MCXT_ALLOC_HUGE);
	int64		i;

	for (i = 0; i < n; i++)
		sigmax_merkle_leaf(entry_hashes + i * SIGMAX_HASH_LEN, leaves + i * SIGMAX_HASH_LEN);
	return leaves;
}

/* RFC 6962 MTH over n entry hashes (n >= 1). */
void
merkle_tree_root(const uint8 *entry_hashes, int64 n, uint8 out[SIGMAX_HASH_LEN])
{
	uint8	   *leaves = leaf_hash_all(entry_hashes, n);

	subtree_root(leaves, n, out);
	pfree(leaves);
}

/* PATH(m, D[0:n]) over leaf hashes; appends to path, returns the new length. */
static int
subtree_path(const uint8 *leaf_hashes, int64 n, int64 m, uint8 *path, int len)
{
	int64		k;

	if (n == 1)
		return len;
	k = split_point(n);
	if (m < k)
	{
		len = subtree_path(leaf_hashes, k, m, path, len);
		subtree_root(leaf_hashes + k * SIGMAX_HASH_LEN, n - k, path + len * SIGMAX_HASH_LEN);
	}
	else
	{
		len = subtree_path(leaf_hashes + k * SIGMAX_HASH_LEN, n - k, m - k, path, len);
		subtree_root(leaf_hashes, k, path + len * SIGMAX_HASH_LEN);
	}
	return len + 1;
}

/*
 * The audit path of leaf m in the tree of the first n entry hashes, nearest
 * sibling first, into path (room for 64 hashes). Returns its length.
 */
int
merkle_audit_path(const uint8 *entry_hashes, int64 n, int64 m, uint8 *path)
{
	uint8	   *leaves = leaf_hash_all(entry_hashes, n);
	int			len = subtree_path(leaves, n, m, path, 0);

	pfree(leaves);
	return len;
}
