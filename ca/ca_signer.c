/*
 * ca_signer.c - the only holder of the issuing CA's private key: it loads
 * the key (PEM, possibly encrypted PKCS#8, passphrase from a file or the
 * environment) and signs certificates and CRLs with it.  Nothing else in
 * certgw sees the key, so moving it to a separate process or a token later
 * changes this file alone.  It decides nothing about what gets signed.
 */
#include "certgw/ca.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "ca_int.h"

struct ca_signer {
	EVP_PKEY	*key;		/* the issuing private key */
	EVP_MD_CTX	*tmpl;		/* DigestSign set up once; copied */
};

static enum cg_code
key_from_pem(const uint8_t *pem, size_t len, const char *pass,
    EVP_PKEY **keyp, struct cg_err *err)
{
	BIO		*bio;
	EVP_PKEY	*key;

	*keyp = NULL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	key = PEM_read_bio_PrivateKey_ex(bio, NULL, cg_pem_pass_cb, (void *)pass,
	    NULL, NULL);
	BIO_free(bio);
	if (key == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot load the CA "
		    "private key (%s)", pass == NULL ? "is it encrypted?" :
		    "wrong passphrase?");
	*keyp = key;
	return CG_OK;
}

enum cg_code
ca_signer_open(const struct ca_config *conf, struct ca_signer **sp,
    struct cg_err *err)
{
	struct ca_signer	*s = NULL;
	uint8_t			*pem = NULL;
	size_t			 len = 0;
	char			*pass = NULL;
	enum cg_code		 rc;

	*sp = NULL;
	if (conf == NULL || conf->key_file == NULL)
		return cg_err_set(err, CG_EINVAL, "no CA key file configured");
	if (conf->key_pass_file != NULL || conf->key_pass_env != NULL) {
		rc = cg_secret_load(conf->key_pass_file, conf->key_pass_file ==
		    NULL ? conf->key_pass_env : NULL, &pass, err);
		if (rc != CG_OK)
			goto out;
	}
	rc = cg_file_read(conf->key_file, CA_KEY_PEM_MAX, &pem, &len, err);
	if (rc != CG_OK)
		goto out;
	s = cg_calloc(1, sizeof(*s));
	if (s == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	rc = key_from_pem(pem, len, pass, &s->key, err);
	if (rc != CG_OK)
		goto out;
	/*
	 * Fail now, not at the first issuance, on a key we cannot use; the
	 * context is the template every signature is copied from.
	 */
	rc = ca_sign_ctx_new(s->key, &s->tmpl, err);
	if (rc != CG_OK)
		goto out;
	*sp = s;
	s = NULL;
	rc = CG_OK;
out:
	ca_signer_free(s);
	if (pem != NULL)
		OPENSSL_cleanse(pem, len);
	cg_free(pem);
	cg_secret_free(pass);
	return rc;
}

void
ca_signer_free(struct ca_signer *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->tmpl);
	EVP_PKEY_free(s->key);
	cg_free(s);
}

bool
ca_signer_matches_cert(const struct ca_signer *s, X509 *cert)
{
	EVP_PKEY	*pub;		/* get0: borrowed from cert */

	if (s == NULL || cert == NULL)
		return false;
	pub = X509_get0_pubkey(cert);
	return pub != NULL && EVP_PKEY_eq(pub, s->key) == 1;
}

/*
 * A fresh signing context, copied from the template: initialising one per
 * signature fetches the digest and signature method again each time.  The
 * template is only read, so threads sharing the CA may copy it at once.
 */
static enum cg_code
sign_ctx_copy(const struct ca_signer *s, EVP_MD_CTX **ctxp,
    struct cg_err *err)
{
	EVP_MD_CTX	*mctx;

	*ctxp = NULL;
	mctx = EVP_MD_CTX_new();
	if (mctx == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	if (EVP_MD_CTX_copy_ex(mctx, s->tmpl) != 1) {
		EVP_MD_CTX_free(mctx);
		return cg_err_crypto(err, CG_ECRYPTO,
		    "cannot start a signature");
	}
	*ctxp = mctx;
	return CG_OK;
}

enum cg_code
ca_signer_sign_cert(const struct ca_signer *s, X509 *x, struct cg_err *err)
{
	EVP_MD_CTX	*mctx = NULL;
	enum cg_code	 rc;

	rc = sign_ctx_copy(s, &mctx, err);
	if (rc != CG_OK)
		return rc;
	if (X509_sign_ctx(x, mctx) <= 0)
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot sign certificate");
	EVP_MD_CTX_free(mctx);
	return rc;
}

enum cg_code
ca_signer_sign_crl(const struct ca_signer *s, X509_CRL *crl,
    struct cg_err *err)
{
	EVP_MD_CTX	*mctx = NULL;
	enum cg_code	 rc;

	rc = sign_ctx_copy(s, &mctx, err);
	if (rc != CG_OK)
		return rc;
	if (X509_CRL_sign_ctx(crl, mctx) <= 0)
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot sign CRL");
	EVP_MD_CTX_free(mctx);
	return rc;
}

/*
 * SCEP without an RA: CMS with the CA's own key.  Here rather than in
 * protocols/scep/ so that the key never leaves this file; the caller
 * builds and checks the CMS structures, the key only does its part.
 */
int
ca_cms_decrypt(const struct ca *ca, CMS_ContentInfo *env, BIO *out,
    unsigned int flags)
{
	if (ca == NULL || ca->signer == NULL || env == NULL || out == NULL)
		return 0;
	return CMS_decrypt(env, ca->signer->key, ca->cert, NULL, out, flags);
}

CMS_SignerInfo *
ca_cms_add1_signer(const struct ca *ca, CMS_ContentInfo *cms,
    const EVP_MD *md, unsigned int flags)
{
	if (ca == NULL || ca->signer == NULL || cms == NULL)
		return NULL;
	return CMS_add1_signer(cms, ca->cert, ca->signer->key, md, flags);
}

/*
 * OCSP (ca_ocsp.c) without a delegated signer: the CA key signs the
 * responses the caller built.  responderID and producedAt are set by
 * OpenSSL from cert and the clock.
 */
enum cg_code
ca_signer_sign_ocsp(const struct ca_signer *s, OCSP_BASICRESP *bs,
    X509 *cert, unsigned long flags, struct cg_err *err)
{
	EVP_MD_CTX	*mctx = NULL;
	enum cg_code	 rc;

	if (s == NULL || bs == NULL || cert == NULL)
		return cg_err_set(err, CG_EINVAL, "no signer or response");
	rc = sign_ctx_copy(s, &mctx, err);
	if (rc != CG_OK)
		return rc;
	if (OCSP_basic_sign_ctx(bs, cert, mctx, NULL, flags) != 1)
		rc = cg_err_crypto(err, CG_ECRYPTO,
		    "cannot sign OCSP response");
	EVP_MD_CTX_free(mctx);
	return rc;
}
