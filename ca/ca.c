/*
 * ca.c - the CA object: loading the issuing certificate and its chain,
 * opening the signer and checking that key and certificate belong together,
 * the getters, the outbox hook, and small X.509 helpers shared by ca/.
 * Issuance, revocation and init live in their own files.
 */
#include "certgw/ca.h"

#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca_int.h"

/* ------------------------------------------------------------ helpers */

enum cg_code
ca_name_rfc2253(const X509_NAME *name, char **outp, struct cg_err *err)
{
	BIO		*bio;
	char		*data = NULL;
	long		 len;
	enum cg_code	 rc = CG_OK;

	*outp = NULL;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot print name");
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	*outp = cg_strndup(len > 0 ? data : "", len > 0 ? (size_t)len : 0);
	if (*outp == NULL)
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
out:
	BIO_free(bio);
	return rc;
}

enum cg_code
ca_time_unix(const ASN1_TIME *t, int64_t *outp, struct cg_err *err)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return cg_err_crypto(err, CG_EINVAL, "bad certificate time");
	*outp = (int64_t)timegm(&tm);
	return CG_OK;
}

enum cg_code
ca_cert_add_ext(X509 *x, X509_EXTENSION *ext, const char *what,
    struct cg_err *err)
{
	enum cg_code	 rc = CG_OK;

	if (ext == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot build %s", what);
	if (X509_add_ext(x, ext, -1) != 1)
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot add %s", what);
	X509_EXTENSION_free(ext);
	return rc;
}

enum cg_code
ca_cert_der(X509 *x, uint8_t **derp, size_t *lenp, struct cg_err *err)
{
	unsigned char	*p;
	uint8_t		*der;
	int		 len;

	*derp = NULL;
	*lenp = 0;
	len = i2d_X509(x, NULL);
	if (len <= 0)
		return cg_err_crypto(err, CG_ECRYPTO,
		    "cannot encode certificate");
	der = cg_malloc((size_t)len);
	if (der == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	p = der;
	if (i2d_X509(x, &p) != len) {
		cg_free(der);
		return cg_err_crypto(err, CG_ECRYPTO,
		    "cannot encode certificate");
	}
	*derp = der;
	*lenp = (size_t)len;
	return CG_OK;
}

/* ------------------------------------------------------------ loading */

static bool
chain_has(STACK_OF(X509) *sk, const X509 *x)
{
	int	 i;

	for (i = 0; i < sk_X509_num(sk); i++)
		if (X509_cmp(sk_X509_value(sk, i), x) == 0)
			return true;
	return false;
}

/* Append the certificates of a PEM file to sk, skipping duplicates. */
static enum cg_code
certs_load(const char *path, STACK_OF(X509) *sk, struct cg_err *err)
{
	uint8_t		*data = NULL;
	size_t		 len = 0;
	BIO		*bio = NULL;
	X509		*x = NULL;
	int		 n = 0;
	enum cg_code	 rc;

	rc = cg_file_read(path, CA_CERT_PEM_MAX, &data, &len, err);
	if (rc != CG_OK)
		return rc;
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio == NULL) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ERR_set_mark();
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (x == NULL && n > 0 && ERR_GET_REASON(ERR_peek_last_error())
		    == PEM_R_NO_START_LINE) {
			ERR_pop_to_mark();
			break;
		}
		ERR_clear_last_mark();
		if (x == NULL) {
			rc = cg_err_crypto(err, CG_EINVAL,
			    "a CA certificate file holds no valid certificate");
			cg_err_detail(err, "file: %s", path);
			goto out;
		}
		n++;
		if (chain_has(sk, x)) {
			X509_free(x);
			continue;
		}
		if (sk_X509_push(sk, x) <= 0) {
			rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
			goto out;
		}
	}
	x = NULL;
	rc = CG_OK;
out:
	X509_free(x);
	BIO_free(bio);
	cg_free(data);
	return rc;
}

/* The issuing certificate must be a CA allowed to sign certificates. */
static enum cg_code
check_chain(STACK_OF(X509) *chain, struct cg_err *err)
{
	X509		*cert = sk_X509_value(chain, 0);
	int		 i;

	if ((X509_get_extension_flags(cert) & EXFLAG_CA) == 0 ||
	    (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN) == 0)
		return cg_err_set(err, CG_EINVAL, "the CA certificate is not a "
		    "CA certificate (basicConstraints CA:TRUE, keyCertSign)");
	for (i = 0; i + 1 < sk_X509_num(chain); i++) {
		if (X509_check_issued(sk_X509_value(chain, i + 1),
		    sk_X509_value(chain, i)) != X509_V_OK)
			return cg_err_set(err, CG_EINVAL, "the CA chain is not "
			    "in order (issuing CA first, then up to the root)");
	}
	return CG_OK;
}

static enum cg_code
set_base_url(struct ca *ca, const char *url, struct cg_err *err)
{
	size_t	 len, i;

	if (url == NULL || *url == '\0')
		return CG_OK;
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	if (len == 0 || len > CA_URL_MAX / 2 ||
	    (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0))
		return cg_err_set(err, CG_EINVAL, "public_base_url must be an "
		    "http:// or https:// URL");
	for (i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 ||
		    (unsigned char)url[i] >= 0x7f)
			return cg_err_set(err, CG_EINVAL, "public_base_url "
			    "holds a space or a non-ASCII byte");
	ca->public_base_url = cg_strndup(url, len);
	if (ca->public_base_url == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

/*
 * What every issued certificate carries whatever the profile, built once:
 * the extensions (read-only afterwards; X509_add_ext() copies them, so the
 * threads sharing the CA may use them at once) and the thumbprint digests,
 * so that issuance neither parses config strings nor fetches digests.
 */
static enum cg_code
fixed_parts_make(struct ca *ca, struct cg_err *err)
{
	X509V3_CTX	 v3;

	X509V3_set_ctx(&v3, ca->cert, NULL, NULL, NULL, 0);
	ca->ext_bc = X509V3_EXT_nconf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:FALSE");
	if (ca->ext_bc == NULL)
		return cg_err_crypto(err, CG_ECRYPTO,
		    "cannot build basicConstraints");
	ca->ext_aki = X509V3_EXT_nconf_nid(NULL, &v3,
	    NID_authority_key_identifier, "keyid:always");
	if (ca->ext_aki == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot build "
		    "authorityKeyIdentifier from the CA certificate");
	ca->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	ca->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (ca->sha1 == NULL || ca->sha256 == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "no SHA-1 or SHA-256");
	return CG_OK;
}

enum cg_code
ca_open(const struct ca_config *conf, struct ca **cap, struct cg_err *err)
{
	struct ca	*ca = NULL;
	enum cg_code	 rc;

	*cap = NULL;
	if (conf == NULL || conf->cert_file == NULL || conf->key_file == NULL)
		return cg_err_set(err, CG_EINVAL, "CA certificate or key file "
		    "not configured");
	ca = cg_calloc(1, sizeof(*ca));
	if (ca != NULL)
		ca->chain = sk_X509_new_null();
	if (ca == NULL || ca->chain == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	rc = certs_load(conf->cert_file, ca->chain, err);
	if (rc == CG_OK && conf->chain_file != NULL)
		rc = certs_load(conf->chain_file, ca->chain, err);
	if (rc == CG_OK)
		rc = check_chain(ca->chain, err);
	if (rc != CG_OK)
		goto out;
	ca->cert = sk_X509_value(ca->chain, 0);
	if (X509_up_ref(ca->cert) != 1) {
		ca->cert = NULL;
		rc = cg_err_crypto(err, CG_EINTERNAL, "cannot reference cert");
		goto out;
	}
	rc = ca_signer_open(conf, &ca->signer, err);
	if (rc != CG_OK)
		goto out;
	if (!ca_signer_matches_cert(ca->signer, ca->cert)) {
		rc = cg_err_set(err, CG_EINVAL,
		    "the CA private key does not match the CA certificate");
		goto out;
	}
	rc = ca_name_rfc2253(X509_get_subject_name(ca->cert), &ca->name, err);
	if (rc == CG_OK)
		rc = set_base_url(ca, conf->public_base_url, err);
	if (rc == CG_OK)
		rc = fixed_parts_make(ca, err);
	if (rc != CG_OK)
		goto out;
	ca->crl_validity_s = conf->crl_validity_s != 0 ?
	    conf->crl_validity_s : CA_CRL_VALIDITY_DEFAULT;
	*cap = ca;
	ca = NULL;
	rc = CG_OK;
out:
	ca_free(ca);
	return rc;
}

void
ca_free(struct ca *ca)
{
	if (ca == NULL)
		return;
	EVP_MD_free(ca->sha256);
	EVP_MD_free(ca->sha1);
	X509_EXTENSION_free(ca->ext_aki);
	X509_EXTENSION_free(ca->ext_bc);
	ca_signer_free(ca->signer);
	cg_free(ca->public_base_url);
	cg_free(ca->name);
	X509_free(ca->cert);
	sk_X509_pop_free(ca->chain, X509_free);
	cg_free(ca);
}

X509 *
ca_get0_cert(const struct ca *ca)
{
	return ca->cert;
}

STACK_OF(X509) *
ca_get0_chain(const struct ca *ca)
{
	return ca->chain;
}

const char *
ca_get0_name(const struct ca *ca)
{
	return ca->name;
}

void
ca_set_outbox_hook(struct ca *ca, ca_outbox_fn *fn, void *arg)
{
	ca->outbox_fn = fn;
	ca->outbox_arg = arg;
}

void
ca_config_cleanup(struct ca_config *c)
{
	if (c == NULL)
		return;
	cg_free(c->cert_file);
	cg_free(c->key_file);
	cg_free(c->chain_file);
	cg_free(c->key_pass_file);
	cg_free(c->key_pass_env);
	cg_free(c->public_base_url);
	memset(c, 0, sizeof(*c));
}
