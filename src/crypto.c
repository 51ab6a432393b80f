/*
 * crypto.c
 *	  SHA-256, hex and Ed25519 through OpenSSL's EVP interface, and the checkpoint key file.
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "storage/fd.h"

#include "crypto.h"
#include "sigmax.h"

/* Fetched once per backend: EVP_sha256() would look the algorithm up on every call. */
static EVP_MD *sha256_md = NULL;
static EVP_MD_CTX *sha256_ctx = NULL;

/* Report an OpenSSL failure without its internals: those go to the server log only. */
static void
crypto_error(const char *what)
{
	unsigned long code = ERR_get_error();
	char		buf[256];

	ERR_error_string_n(code, buf, sizeof(buf));
	ERR_clear_error();
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("sigmax could not %s", what),
			 errdetail_log("OpenSSL: %s", buf)));
}

/* Prepare the reusable SHA-256 context on first use. */
static void
sha256_prepare(void)
{
	if (sha256_md == NULL)
	{
		sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
		if (sha256_md == NULL)
			crypto_error("load SHA-256");
	}
	if (sha256_ctx == NULL)
	{
		sha256_ctx = EVP_MD_CTX_new();
		if (sha256_ctx == NULL)
			crypto_error("allocate a digest context");
	}
}

/* Begin an incremental SHA-256; feed with sigmax_sha256_update. */
void
sigmax_sha256_begin(void)
{
	sha256_prepare();
	if (EVP_DigestInit_ex2(sha256_ctx, sha256_md, NULL) != 1)
		crypto_error("start a SHA-256 digest");
}

void
sigmax_sha256_update(const void *data, size_t len)
{
	if (EVP_DigestUpdate(sha256_ctx, data, len) != 1)
		crypto_error("compute a SHA-256 digest");
}

void
sigmax_sha256_end(uint8 out[SIGMAX_HASH_LEN])
{
	unsigned int outlen = 0;

	if (EVP_DigestFinal_ex(sha256_ctx, out, &outlen) != 1 || outlen != SIGMAX_HASH_LEN)
		crypto_error("finish a SHA-256 digest");
}

/* SHA-256 of one buffer. */
void
sigmax_sha256(const void *data, size_t len, uint8 out[SIGMAX_HASH_LEN])
{
	sigmax_sha256_begin();
	sigmax_sha256_update(data, len);
	sigmax_sha256_end(out);
}

/* RFC 6962 leaf hash: SHA-256(0x00 || entry hash). */
void
sigmax_merkle_leaf(const uint8 entry_hash[SIGMAX_HASH_LEN], uint8 out[SIGMAX_HASH_LEN])
{
	static const uint8 prefix = 0x00;

	sigmax_sha256_begin();
	sigmax_sha256_update(&prefix, 1);
	sigmax_sha256_update(entry_hash, SIGMAX_HASH_LEN);
	sigmax_sha256_end(out);
}

/* RFC 6962 interior node: SHA-256(0x01 || left || right). */
void
sigmax_merkle_node(const uint8 left[SIGMAX_HASH_LEN], const uint8 right[SIGMAX_HASH_LEN],
				   uint8 out[SIGMAX_HASH_LEN])
{
	static const uint8 prefix = 0x01;

	sigmax_sha256_begin();
	sigmax_sha256_update(&prefix, 1);
	sigmax_sha256_update(left, SIGMAX_HASH_LEN);
	sigmax_sha256_update(right, SIGMAX_HASH_LEN);
	sigmax_sha256_end(out);
}

/* Lowercase hex of a byte string, palloc'd and NUL-terminated. */
char *
sigmax_hex(const uint8 *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char	   *out = palloc(len * 2 + 1);
	size_t		i;

	for (i = 0; i < len; i++)
	{
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0x0f];
	}
	out[len * 2] = '\0';
	return out;
}

/* Passphrase callback: never prompt (an encrypted key is refused instead). */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

/*
 * Load the Ed25519 private key named by sigmax.checkpoint_key_file. The file
 * must belong to the server's user and be readable by it alone, as PostgreSQL
 * demands of ssl_key_file; its path appears in the server log, never to clients.
 */
static EVP_PKEY *
load_checkpoint_key(void)
{
	struct stat st;
	FILE	   *fp;
	EVP_PKEY   *pkey;

	if (sigmax_checkpoint_key_file == NULL || sigmax_checkpoint_key_file[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no checkpoint signing key is configured"),
				 errdetail("Checkpoints are signed with an Ed25519 key that only the server can read."),
				 errhint("Create one with \"openssl genpkey -algorithm ed25519\", make it readable by the server's user alone, and set sigmax.checkpoint_key_file.")));

	fp = AllocateFile(sigmax_checkpoint_key_file, "r");
	if (fp == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the checkpoint signing key cannot be read"),
				 errdetail_log("open(\"%s\") failed: %m", sigmax_checkpoint_key_file),
				 errhint("Check sigmax.checkpoint_key_file; the server log has the details.")));
	/* Check the file we opened, not the name: no race between the check and the read. */
	if (fstat(fileno(fp), &st) != 0)
	{
		FreeFile(fp);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the checkpoint signing key cannot be read"),
				 errdetail_log("fstat(\"%s\") failed: %m", sigmax_checkpoint_key_file)));
	}
	if (st.st_uid != geteuid() || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
	{
		FreeFile(fp);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the checkpoint signing key is not private to the server"),
				 errdetail("The key file must belong to the server's user and allow no access to group or others."),
				 errdetail_log("file \"%s\": owner %d, mode %04o", sigmax_checkpoint_key_file,
							   (int) st.st_uid, (int) (st.st_mode & 07777)),
				 errhint("chown it to the server's user and chmod it to 0600.")));
	}
	pkey = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL);
	FreeFile(fp);
	if (pkey == NULL || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519)
	{
		if (pkey)
			EVP_PKEY_free(pkey);
		ERR_clear_error();
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the checkpoint signing key is not an Ed25519 private key in PEM form"),
				 errdetail_log("file \"%s\"", sigmax_checkpoint_key_file),
				 errhint("Create one with \"openssl genpkey -algorithm ed25519\".")));
	}
	return pkey;
}

/*
 * Sign a message with the checkpoint key (pure Ed25519, RFC 8032). Returns the
 * 64-byte signature and the raw 32-byte public key.
 */
void
sigmax_checkpoint_sign(const uint8 *msg, size_t msglen,
					   uint8 signature[SIGMAX_SIG_LEN], uint8 public_key[SIGMAX_PUBKEY_LEN])
{
	EVP_PKEY   *pkey = load_checkpoint_key();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t		siglen = SIGMAX_SIG_LEN;
	size_t		publen = SIGMAX_PUBKEY_LEN;
	bool		ok;

	ok = ctx != NULL &&
		EVP_DigestSignInit_ex(ctx, NULL, NULL, NULL, NULL, pkey, NULL) == 1 &&
		EVP_DigestSign(ctx, signature, &siglen, msg, msglen) == 1 &&
		siglen == SIGMAX_SIG_LEN &&
		EVP_PKEY_get_raw_public_key(pkey, public_key, &publen) == 1 &&
		publen == SIGMAX_PUBKEY_LEN;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	if (!ok)
		crypto_error("sign the checkpoint");
}

/* The checkpoint key's public half as raw bytes. */
void
sigmax_checkpoint_public_key(uint8 public_key[SIGMAX_PUBKEY_LEN])
{
	EVP_PKEY   *pkey = load_checkpoint_key();
	size_t		publen = SIGMAX_PUBKEY_LEN;
	bool		ok;

	ok = EVP_PKEY_get_raw_public_key(pkey, public_key, &publen) == 1 && publen == SIGMAX_PUBKEY_LEN;
	EVP_PKEY_free(pkey);
	if (!ok)
		crypto_error("read the checkpoint public key");
}

/* True when a signature over msg verifies with the raw Ed25519 public key. */
bool
sigmax_ed25519_verify(const uint8 public_key[SIGMAX_PUBKEY_LEN],
					  const uint8 *msg, size_t msglen,
					  const uint8 *signature, size_t siglen)
{
	EVP_PKEY   *pkey;
	EVP_MD_CTX *ctx;
	bool		ok;

	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, public_key, SIGMAX_PUBKEY_LEN);
	if (pkey == NULL)
	{
		ERR_clear_error();
		return false;
	}
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL &&
		EVP_DigestVerifyInit_ex(ctx, NULL, NULL, NULL, NULL, pkey, NULL) == 1 &&
		EVP_DigestVerify(ctx, signature, siglen, msg, msglen) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return ok;
}

/* PEM (SubjectPublicKeyInfo) text of a raw Ed25519 public key, palloc'd. */
char *
sigmax_public_key_pem(const uint8 public_key[SIGMAX_PUBKEY_LEN])
{
	EVP_PKEY   *pkey;
	BIO		   *bio;
	char	   *data;
	long		len;
	char	   *out = NULL;

	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, public_key, SIGMAX_PUBKEY_LEN);
	bio = BIO_new(BIO_s_mem());
	if (pkey != NULL && bio != NULL && PEM_write_bio_PUBKEY(bio, pkey) == 1)
	{
		len = BIO_get_mem_data(bio, &data);
		out = pnstrdup(data, len);
	}
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	if (out == NULL)
		crypto_error("encode the public key");
	return out;
}

/* A palloc'd bytea holding len bytes. */
bytea *
sigmax_bytea(const uint8 *data, size_t len)
{
	bytea	   *out = palloc(VARHDRSZ + len);

	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), data, len);
	return out;
}
