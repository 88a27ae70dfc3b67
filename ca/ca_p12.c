/*
 * ca_p12.c - key bundles for people: the PKCS#12 file `certgw user issue`
 * (and `cert reissue`) hands out with its random password, and the other
 * direction, reading a certificate file an admin was given (PEM or DER)
 * while refusing one that carries a private key: a key has no business
 * on the CA's side.
 */
#include "certgw/ca.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

/*
 * PBKDF2 iterations for the key bag, the certificate bag and the MAC.
 * The password certgw picks has about 138 bits and needs no stretching;
 * one an admin chooses (--password-file) does, a little.  10000 is five
 * times OpenSSL's default of 2048, costs a few milliseconds per
 * derivation here, and keeps imports quick on phones, smart-card
 * middleware and Windows' importer, which derive the key several times.
 */
#define P12_ITER		10000
#define P12_DER_MAX		(256 * 1024)

/*
 * No 0/O, 1/l/I: read off a screen, or over the phone, without doubt.
 * 54 symbols, about 5.75 bits each.
 */
static const char pw_alphabet[] =
    "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

enum cg_code
ca_password_random(char *out, size_t outlen, struct cg_err *err)
{
	const size_t	 n = sizeof(pw_alphabet) - 1;
	/* The largest multiple of n in a byte: no symbol is likelier. */
	const unsigned	 limit = 256 - 256 % n;
	unsigned char	 rnd[64];
	size_t		 have = 0, i = sizeof(rnd);

	if (out == NULL || outlen < 2)
		return cg_err_set(err, CG_EINVAL, "no room for a password");
	while (have < outlen - 1) {
		if (i == sizeof(rnd)) {
			if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
				OPENSSL_cleanse(out, outlen);
				return cg_err_crypto(err, CG_ECRYPTO,
				    "no random bytes for a password");
			}
			i = 0;
		}
		if (rnd[i] < limit)
			out[have++] = pw_alphabet[rnd[i] % n];
		i++;
	}
	out[have] = '\0';
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return CG_OK;
}

enum cg_code
ca_pkcs12_make(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password, const char *name, struct cg_buf *out,
    struct cg_err *err)
{
	PKCS12		*p12 = NULL;
	unsigned char	*der = NULL;
	char		*pass;
	int		 len = 0;
	enum cg_code	 rc = CG_OK;

	if (key == NULL || cert == NULL || password == NULL ||
	    password[0] == '\0' || out == NULL)
		return cg_err_set(err, CG_EINVAL, "PKCS#12: a key, a "
		    "certificate and a password are needed");
	if (X509_check_private_key(cert, key) != 1)
		return cg_err_crypto(err, CG_EINVAL, "PKCS#12: the key does "
		    "not match the certificate");
	/* PKCS12_create_ex takes a char *; our copy is the one wiped. */
	if ((pass = cg_strdup(password)) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	ERR_clear_error();
	/*
	 * AES-256-CBC for both bags makes OpenSSL 3 write PBES2 with PBKDF2
	 * (HMAC-SHA256).  mac_iter -1 leaves the MAC out, so that it can be
	 * made below with SHA-256 rather than the library's default.
	 */
	p12 = PKCS12_create_ex(pass, name, key, cert, chain, NID_aes_256_cbc,
	    NID_aes_256_cbc, P12_ITER, -1, 0, NULL, NULL);
	if (p12 == NULL) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "PKCS#12: cannot encrypt "
		    "the key and certificates");
		goto out;
	}
	if (PKCS12_set_mac(p12, pass, -1, NULL, 0, P12_ITER,
	    EVP_sha256()) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "PKCS#12: cannot add the "
		    "MAC");
		goto out;
	}
	len = i2d_PKCS12(p12, &der);
	if (len <= 0 || len > P12_DER_MAX) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "PKCS#12: cannot encode "
		    "it");
		goto out;
	}
	rc = cg_buf_add(out, der, (size_t)len, err);
out:
	if (der != NULL)
		OPENSSL_clear_free(der, len > 0 ? (size_t)len : 0);
	PKCS12_free(p12);
	OPENSSL_cleanse(pass, strlen(pass));
	cg_free(pass);
	return rc;
}

/* ----------------------------------------------- certificate files */

/* Does PEM text hold a private key of any kind (PKCS#8, RSA, EC, ...)? */
static bool
pem_has_key(const uint8_t *data, size_t len)
{
	static const char	 tag[] = "PRIVATE KEY-----";

	return memmem(data, len, tag, sizeof(tag) - 1) != NULL;
}

/*
 * Is there PEM in it?  Text may come first: `openssl x509 -text` and
 * `openssl pkcs12 -nokeys` write some before the certificate.
 */
static bool
has_pem(const uint8_t *data, size_t len)
{
	return memmem(data, len, "-----BEGIN ", 11) != NULL;
}

static enum cg_code
parse_pem(const uint8_t *data, size_t len, STACK_OF(X509) *certs,
    struct cg_err *err)
{
	BIO	*bio;
	X509	*x;
	int	 n = 0;
	unsigned long e;

	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	ERR_clear_error();
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (n == CA_CERT_FILE_MAX_CERTS || !sk_X509_push(certs, x)) {
			X509_free(x);
			BIO_free(bio);
			return cg_err_set(err, n == CA_CERT_FILE_MAX_CERTS ?
			    CG_ETOOBIG : CG_ENOMEM, n ==
			    CA_CERT_FILE_MAX_CERTS ? "more than %d "
			    "certificates" : "out of memory",
			    CA_CERT_FILE_MAX_CERTS);
		}
		n++;
	}
	BIO_free(bio);
	/* The end of the text is fine; a broken certificate is not. */
	e = ERR_peek_last_error();
	if (n > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		return CG_OK;
	}
	return cg_err_crypto(err, CG_EINVAL, n == 0 ? "no certificate in "
	    "it (PEM or DER expected)" : "a certificate in it is damaged");
}

enum cg_code
ca_cert_file_parse(const uint8_t *data, size_t len, STACK_OF(X509) **certsp,
    struct cg_err *err)
{
	STACK_OF(X509)		*certs;
	const unsigned char	*p = data;
	PKCS12			*p12;
	EVP_PKEY		*key;
	X509			*x;
	enum cg_code		 rc = CG_OK;

	*certsp = NULL;
	if (data == NULL || len == 0)
		return cg_err_set(err, CG_EINVAL, "it is empty");
	if (len > CA_CERT_PEM_MAX)
		return cg_err_set(err, CG_ETOOBIG, "it is larger than %d bytes",
		    CA_CERT_PEM_MAX);
	if ((certs = sk_X509_new_null()) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p == data + len) {
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		}
		goto out;
	}
	X509_free(x);
	if (has_pem(data, len)) {
		if (pem_has_key(data, len))
			rc = cg_err_set(err, CG_EDENIED, "it holds a private "
			    "key; give the certificate alone (the key stays "
			    "with its owner)");
		else
			rc = parse_pem(data, len, certs, err);
		goto out;
	}
	/* A PKCS#12 file is the usual way to hand over a key by mistake. */
	p = data;
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	if (p12 != NULL) {
		PKCS12_free(p12);
		rc = cg_err_set(err, CG_EDENIED, "it is a PKCS#12 file, which "
		    "holds a private key; give the certificate alone (the key "
		    "stays with its owner)");
		goto out;
	}
	p = data;
	if ((key = d2i_AutoPrivateKey(NULL, &p, (long)len)) != NULL) {
		EVP_PKEY_free(key);
		rc = cg_err_set(err, CG_EDENIED, "it is a private key, not a "
		    "certificate");
		goto out;
	}
	ERR_clear_error();
	rc = cg_err_set(err, CG_EINVAL, "not a certificate (PEM or DER "
	    "expected)");
out:
	if (rc != CG_OK)
		sk_X509_pop_free(certs, X509_free);
	else
		*certsp = certs;
	return rc;
}
