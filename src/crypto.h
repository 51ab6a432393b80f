/*
 * crypto.h
 *	  SHA-256, RFC 6962 Merkle hashing, hex and Ed25519 checkpoint signing.
 */
#ifndef SIGMAX_CRYPTO_H
#define SIGMAX_CRYPTO_H

#define SIGMAX_HASH_LEN 32
#define SIGMAX_SIG_LEN 64
#define SIGMAX_PUBKEY_LEN 32

extern void sigmax_sha256_begin(void);
extern void sigmax_sha256_update(const void *data, size_t len);
extern void sigmax_sha256_end(uint8 out[SIGMAX_HASH_LEN]);
extern void sigmax_sha256(const void *data, size_t len, uint8 out[SIGMAX_HASH_LEN]);
extern void sigmax_merkle_leaf(const uint8 entry_hash[SIGMAX_HASH_LEN], uint8 out[SIGMAX_HASH_LEN]);
extern void sigmax_merkle_node(const uint8 left[SIGMAX_HASH_LEN], const uint8 right[SIGMAX_HASH_LEN],
							   uint8 out[SIGMAX_HASH_LEN]);
extern char *sigmax_hex(const uint8 *data, size_t len);
extern bytea *sigmax_bytea(const uint8 *data, size_t len);

extern void sigmax_checkpoint_sign(const uint8 *msg, size_t msglen,
								   uint8 signature[SIGMAX_SIG_LEN],
								   uint8 public_key[SIGMAX_PUBKEY_LEN]);
extern void sigmax_checkpoint_public_key(uint8 public_key[SIGMAX_PUBKEY_LEN]);
extern bool sigmax_ed25519_verify(const uint8 public_key[SIGMAX_PUBKEY_LEN],
								  const uint8 *msg, size_t msglen,
								  const uint8 *signature, size_t siglen);
extern char *sigmax_public_key_pem(const uint8 public_key[SIGMAX_PUBKEY_LEN]);

#endif							/* SIGMAX_CRYPTO_H */
