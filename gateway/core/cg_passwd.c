/*
 * cg_passwd.c - salted password hashes for the config file:
 * "pbkdf2-sha256$<iterations>$<salt>$<key>" with PBKDF2-HMAC-SHA256
 * (RFC 8018 5.2), a 16-byte random salt and a 32-byte key, both in
 * standard base64 without line breaks.  It does not cache results or know
 * who is logging in; callers decide what a match grants.
 */
#include "certgw/core.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define PASSWD_SCHEME		"pbkdf2-sha256"
#define PASSWD_SALT_LEN		16	/* bytes of random salt */
#define PASSWD_KEY_LEN		32	/* bytes of derived key */
#define PASSWD_ITER_MIN		1000
#define PASSWD_ITER_MAX		10000000
#define PASSWD_ITER_DIGITS	8	/* "10000000" */

/* A hash string split into its fields, decoded. */
struct passwd_parts {
	uint32_t	 iter;			/* PBKDF2 iterations */
	uint8_t		 salt[PASSWD_SALT_LEN];	/* random salt */
	uint8_t		 key[PASSWD_KEY_LEN];	/* the stored key */
};

static enum cg_code
derive(const char *pw, size_t pwlen, const uint8_t *salt, uint32_t iter,
    uint8_t *key, struct cg_err *err)
{
	/* PKCS5_PBKDF2_HMAC is not deprecated in OpenSSL 3. */
	if (PKCS5_PBKDF2_HMAC(pwlen > 0 ? pw : "", (int)pwlen, salt,
	    PASSWD_SALT_LEN, (int)iter, EVP_sha256(), PASSWD_KEY_LEN,
	    key) != 1)
		return cg_err_crypto(err, CG_ECRYPTO,
		    "password hashing failed");
	return CG_OK;
}

enum cg_code
cg_passwd_hash(const char *pw, size_t pwlen, uint32_t iterations,
    char **hashp, struct cg_err *err)
{
	uint8_t		 salt[PASSWD_SALT_LEN], key[PASSWD_KEY_LEN];
	char		*salt64 = NULL, *key64 = NULL, *out = NULL;
	enum cg_code	 rc;

	*hashp = NULL;
	if (pw == NULL || pwlen == 0)
		return cg_err_set(err, CG_EINVAL, "empty password");
	if (pwlen > CG_PASSWD_MAX)
		return cg_err_set(err, CG_ETOOBIG,
		    "password longer than %d bytes", CG_PASSWD_MAX);
	if (iterations < PASSWD_ITER_MIN || iterations > PASSWD_ITER_MAX)
		return cg_err_set(err, CG_EINVAL,
		    "iterations must be between %d and %d", PASSWD_ITER_MIN,
		    PASSWD_ITER_MAX);
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return cg_err_crypto(err, CG_ECRYPTO, "no random salt");
	rc = derive(pw, pwlen, salt, iterations, key, err);
	if (rc != CG_OK)
		goto out;
	rc = cg_base64_encode(salt, sizeof(salt), &salt64, err);
	if (rc == CG_OK)
		rc = cg_base64_encode(key, sizeof(key), &key64, err);
	if (rc != CG_OK)
		goto out;
	out = cg_asprintf(PASSWD_SCHEME "$%u$%s$%s", iterations, salt64,
	    key64);
	if (out == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	*hashp = out;
	rc = CG_OK;
out:
	if (key64 != NULL)
		OPENSSL_cleanse(key64, strlen(key64));
	cg_free(key64);
	cg_free(salt64);
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode one base64 field of exactly want bytes into out, without
 * allocating (so a predicate cannot fail for lack of memory).  The field
 * must be canonical, as cg_base64_encode writes it: exact length and
 * padding, no whitespace, zero trailing bits; one key has one spelling.
 */
static bool
field_decode(const char *s, size_t len, uint8_t *out, size_t want)
{
	size_t		 pad = (3 - want % 3) % 3, i, o = 0, nbits = 0;
	uint32_t	 acc = 0;
	int		 v;

	if (len != (want + 2) / 3 * 4)
		return false;
	for (i = 0; i < len; i++) {
		if (i >= len - pad) {
			if (s[i] != '=')
				return false;
			continue;
		}
		v = b64_value(s[i]);
		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			out[o++] = (uint8_t)(acc >> nbits);
			acc &= (UINT32_C(1) << nbits) - 1;
		}
	}
	return o == want && acc == 0;
}

/* Iterations: decimal without sign or leading zero, in range. */
static bool
iter_parse(const char *s, size_t len, uint32_t *out)
{
	uint64_t	 v;

	if (len == 0 || len > PASSWD_ITER_DIGITS || s[0] == '0')
		return false;
	if (!cg_parse_u64(s, len, PASSWD_ITER_MAX, &v) ||
	    v < PASSWD_ITER_MIN)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Split and decode a hash string; false when it is malformed. */
static bool
parts_parse(const char *s, struct passwd_parts *p)
{
	static const char	 scheme[] = PASSWD_SCHEME "$";
	const char		*it, *salt, *key, *d;
	size_t			 len;

	if (s == NULL)
		return false;
	len = strnlen(s, CG_PASSWD_HASH_MAX + 1);
	if (len > CG_PASSWD_HASH_MAX ||
	    strncmp(s, scheme, sizeof(scheme) - 1) != 0)
		return false;
	it = s + sizeof(scheme) - 1;
	d = strchr(it, '$');
	if (d == NULL || !iter_parse(it, (size_t)(d - it), &p->iter))
		return false;
	salt = d + 1;
	d = strchr(salt, '$');
	if (d == NULL || !field_decode(salt, (size_t)(d - salt), p->salt,
	    PASSWD_SALT_LEN))
		return false;
	key = d + 1;
	/* A fifth field would contain another '$' and fail the decode. */
	return field_decode(key, strlen(key), p->key, PASSWD_KEY_LEN);
}

bool
cg_passwd_hash_is_valid(const char *s)
{
	struct passwd_parts	 p;
	bool			 ok;

	ok = parts_parse(s, &p);
	OPENSSL_cleanse(&p, sizeof(p));
	return ok;
}

enum cg_code
cg_passwd_verify(const char *pw, size_t pwlen, const char *hash,
    struct cg_err *err)
{
	struct passwd_parts	 p;
	uint8_t			 key[PASSWD_KEY_LEN];
	enum cg_code		 rc;

	memset(&p, 0, sizeof(p));
	if (!parts_parse(hash, &p)) {
		rc = cg_err_set(err, CG_EINVAL, "malformed password hash");
		goto out;
	}
	if (pw == NULL || pwlen == 0 || pwlen > CG_PASSWD_MAX) {
		/* Not derived: length alone says no, and says nothing more. */
		rc = cg_err_set(err, CG_EAUTH, "wrong password");
		goto out;
	}
	rc = derive(pw, pwlen, p.salt, p.iter, key, err);
	if (rc != CG_OK)
		goto out;
	if (CRYPTO_memcmp(key, p.key, sizeof(key)) != 0) {
		rc = cg_err_set(err, CG_EAUTH, "wrong password");
		goto out;
	}
	rc = CG_OK;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(&p, sizeof(p));
	return rc;
}
