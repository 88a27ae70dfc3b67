/*
 * ca_keygen.c - keys: the key-type names of `certgw init`, generating keys,
 * writing them as (optionally encrypted) PKCS#8 PEM and certificates as
 * PEM, and telling key types apart and which digest each signs with.  It
 * never loads the issuing key for use; that is ca_signer.c's job.
 */
#include "certgw/ca.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/pem.h>

#include "ca_int.h"

#define KEY_FILE_MODE	0600
#define CERT_FILE_MODE	0644
#define PASSPHRASE_MAX	1023		/* PEM_BUFSIZE - 1 when reading back */

static const struct init_key {
	const char	*name;		/* "ec-p256" ... */
	const char	*alg;		/* EVP_PKEY_Q_keygen type */
	const char	*group;		/* EC curve, or NULL */
	size_t		 bits;		/* RSA modulus, or 0 */
} init_keys[CA_INIT__MAX] = {
	[CA_INIT_EC_P256] = { "ec-p256", "EC", "P-256", 0 },
	[CA_INIT_EC_P384] = { "ec-p384", "EC", "P-384", 0 },
	[CA_INIT_RSA_2048] = { "rsa-2048", "RSA", NULL, 2048 },
	[CA_INIT_RSA_3072] = { "rsa-3072", "RSA", NULL, 3072 },
	[CA_INIT_RSA_4096] = { "rsa-4096", "RSA", NULL, 4096 },
};

/* EC curves we classify, by both of the names OpenSSL may report. */
static const struct curve {
	const char	*sn;		/* OpenSSL short name */
	const char	*nist;		/* NIST name */
	enum ca_key_type type;		/* what we call it */
} curves[] = {
	{ "prime256v1", "P-256", CA_KEY_EC_P256 },
	{ "secp384r1", "P-384", CA_KEY_EC_P384 },
	{ "secp521r1", "P-521", CA_KEY_EC_P521 },
};

/* RFC 5480 4 / RFC 8032: digest strength follows the key. */
static const char *const key_digests[CA_KEY__MAX] = {
	[CA_KEY_EC_P256] = "SHA256",
	[CA_KEY_EC_P384] = "SHA384",
	[CA_KEY_EC_P521] = "SHA512",
	[CA_KEY_RSA] = "SHA256",
	[CA_KEY_ED25519] = NULL,
};

bool
ca_init_key_parse(const char *s, enum ca_init_key *out)
{
	int	 i;

	if (s == NULL)
		return false;
	for (i = 0; i < CA_INIT__MAX; i++) {
		if (strcasecmp(init_keys[i].name, s) == 0) {
			*out = (enum ca_init_key)i;
			return true;
		}
	}
	return false;
}

enum cg_code
ca_key_generate(enum ca_init_key kt, EVP_PKEY **keyp, struct cg_err *err)
{
	const struct init_key	*k;
	EVP_PKEY		*key;

	*keyp = NULL;
	if ((unsigned)kt >= CA_INIT__MAX)
		return cg_err_set(err, CG_EINVAL, "unknown key type");
	k = &init_keys[kt];
	if (k->group != NULL)
		key = EVP_PKEY_Q_keygen(NULL, NULL, k->alg, k->group);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, k->alg, k->bits);
	if (key == NULL)
		return cg_err_crypto(err, CG_ECRYPTO,
		    "cannot generate a %s key", k->name);
	*keyp = key;
	return CG_OK;
}

bool
ca_key_classify(EVP_PKEY *key, enum ca_key_type *tp, int *bitsp)
{
	char	 group[64];
	size_t	 i;

	if (key == NULL)
		return false;
	*bitsp = EVP_PKEY_get_bits(key);
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		*tp = CA_KEY_RSA;
		return true;
	case EVP_PKEY_ED25519:
		*tp = CA_KEY_ED25519;
		return true;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(key, group, sizeof(group),
		    NULL) != 1)
			return false;
		for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
			if (strcasecmp(group, curves[i].sn) == 0 ||
			    strcasecmp(group, curves[i].nist) == 0) {
				*tp = curves[i].type;
				return true;
			}
		}
		return false;
	default:
		return false;
	}
}

void
ca_key_describe(EVP_PKEY *key, char *out, size_t outlen)
{
	enum ca_key_type	 t;
	const char		*tn;
	char			 group[64];
	int			 bits = 0;
	size_t			 i;

	if (ca_key_classify(key, &t, &bits)) {
		if (t == CA_KEY_RSA)
			snprintf(out, outlen, "rsa-%d", bits);
		else
			snprintf(out, outlen, "%s", ca_key_type_name(t));
		return;
	}
	tn = key == NULL ? NULL : EVP_PKEY_get0_type_name(key);
	if (key != NULL && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
	    EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) == 1)
		snprintf(out, outlen, "ec-%s", group);	/* "ec-secp256k1" */
	else
		snprintf(out, outlen, "%s", tn != NULL ? tn : "unknown");
	for (i = 0; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
}

enum cg_code
ca_key_digest(EVP_PKEY *key, const char **mdnamep, struct cg_err *err)
{
	enum ca_key_type	 t;
	int			 bits;

	*mdnamep = NULL;
	if (!ca_key_classify(key, &t, &bits))
		return cg_err_set(err, CG_EINVAL, "unsupported key type");
	*mdnamep = key_digests[t];
	return CG_OK;
}

enum cg_code
ca_sign_ctx_new(EVP_PKEY *key, EVP_MD_CTX **ctxp, struct cg_err *err)
{
	EVP_MD_CTX	*mctx;
	const char	*mdname;
	enum cg_code	 rc;

	*ctxp = NULL;
	rc = ca_key_digest(key, &mdname, err);
	if (rc != CG_OK)
		return rc;
	mctx = EVP_MD_CTX_new();
	if (mctx == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	if (EVP_DigestSignInit_ex(mctx, NULL, mdname, NULL, NULL, key,
	    NULL) != 1) {
		EVP_MD_CTX_free(mctx);
		return cg_err_crypto(err, CG_ECRYPTO,
		    "cannot start a signature");
	}
	*ctxp = mctx;
	return CG_OK;
}

/* Write what bio holds to path with mode, refusing to overwrite. */
static enum cg_code
bio_to_file(BIO *bio, const char *path, mode_t mode, struct cg_err *err)
{
	BUF_MEM	*bm = NULL;

	if (BIO_get_mem_ptr(bio, &bm) != 1 || bm == NULL)
		return cg_err_crypto(err, CG_EINTERNAL,
		    "cannot read PEM buffer");
	return cg_file_write(path, bm->data, bm->length, mode, true, err);
}

enum cg_code
ca_key_write(const char *path, EVP_PKEY *key, const char *passphrase,
    struct cg_err *err)
{
	BIO		*bio = NULL;
	size_t		 plen = 0;
	int		 ok;
	enum cg_code	 rc;

	if (path == NULL || key == NULL)
		return cg_err_set(err, CG_EINVAL, "no key or path");
	if (passphrase != NULL) {
		plen = strlen(passphrase);
		if (plen == 0 || plen > PASSPHRASE_MAX)
			return cg_err_set(err, CG_EINVAL, "passphrase must "
			    "be 1 to %d characters", PASSPHRASE_MAX);
	}
	/* A secure-memory BIO is wiped when freed. */
	bio = BIO_new(BIO_s_secmem());
	if (bio == NULL) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	if (passphrase != NULL)
		ok = PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(),
		    passphrase, (int)plen, NULL, NULL);
	else
		ok = PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0,
		    NULL, NULL);
	if (ok != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO,
		    "cannot encode private key");
		goto out;
	}
	rc = bio_to_file(bio, path, KEY_FILE_MODE, err);
out:
	BIO_free(bio);
	return rc;
}

enum cg_code
ca_certs_write(const char *path, X509 *const *certs, size_t n,
    struct cg_err *err)
{
	BIO		*bio = NULL;
	size_t		 i;
	enum cg_code	 rc;

	if (path == NULL || certs == NULL || n == 0)
		return cg_err_set(err, CG_EINVAL, "no certificates to write");
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (PEM_write_bio_X509(bio, certs[i]) != 1) {
			rc = cg_err_crypto(err, CG_ECRYPTO,
			    "cannot encode certificate");
			goto out;
		}
	}
	rc = bio_to_file(bio, path, CERT_FILE_MODE, err);
out:
	BIO_free(bio);
	return rc;
}
