/*
 * ca_trust.c - what makes a certificate acceptable as a CA trusted for
 * client certificates (`certgw trust add`, POST /admin/v1/trust): one
 * certificate, a CA, not expired.  The record is the store's
 * (ca_store_trust_add); the request-time use is gateway/gw_auth.c.
 */
#include "ca_int.h"

#include "certgw/store.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

void
ca_trust_anchor_clear(struct ca_trust_anchor *t)
{
	cg_free(t->sha256);
	cg_free(t->subject);
	cg_free(t->der);
	memset(t, 0, sizeof(*t));
}

enum cg_code
ca_trust_anchor_make(const uint8_t *data, size_t len,
    struct ca_trust_anchor *t, struct cg_err *err)
{
	STACK_OF(X509)	*certs = NULL;
	unsigned char	 md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int	 mdlen = 0;
	X509		*x;
	int64_t		 na;
	int		 dlen;
	enum cg_code	 rc;

	memset(t, 0, sizeof(*t));
	rc = ca_cert_file_parse(data, len, &certs, err);
	if (rc != CG_OK)
		return rc;
	if (sk_X509_num(certs) != 1) {
		rc = cg_err_set(err, CG_EINVAL, "it holds %d certificates; "
		    "give one CA certificate at a time", sk_X509_num(certs));
		goto out;
	}
	x = sk_X509_value(certs, 0);
	/* EXFLAG_CA: basicConstraints with cA TRUE, nothing less. */
	if (!(X509_get_extension_flags(x) & EXFLAG_CA)) {
		rc = cg_err_set(err, CG_EINVAL, "it is not a CA certificate (no "
		    "basicConstraints CA:TRUE); a user's own certificate is "
		    "trusted with `certgw user import-cert`");
		goto out;
	}
	if (X509_cmp_time(X509_get0_notAfter(x), NULL) <= 0) {
		rc = cg_err_set(err, CG_EINVAL, "it has expired");
		goto out;
	}
	if (ca_time_unix(X509_get0_notAfter(x), &na, err) != CG_OK ||
	    X509_digest(x, EVP_sha256(), md, &mdlen) != 1 ||
	    (dlen = i2d_X509(x, &der)) <= 0) {
		rc = cg_err_crypto(err, CG_EINVAL, "it cannot be encoded");
		goto out;
	}
	rc = ca_name_rfc2253(X509_get_subject_name(x), &t->subject, err);
	if (rc != CG_OK)
		goto out;
	if (strlen(t->subject) > CA_IDENT_DN_MAX) {
		ca_trust_anchor_clear(t);
		rc = cg_err_set(err, CG_EINVAL, "its subject is longer than "
		    "%d bytes", CA_IDENT_DN_MAX);
		goto out;
	}
	t->sha256 = cg_malloc(2 * mdlen + 1);
	t->der = cg_malloc((size_t)dlen);
	if (t->sha256 == NULL || t->der == NULL) {
		ca_trust_anchor_clear(t);
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	cg_hex_encode(md, mdlen, t->sha256, false);
	memcpy(t->der, der, (size_t)dlen);
	t->der_len = (size_t)dlen;
	t->not_after = na;
	rc = CG_OK;
out:
	OPENSSL_free(der);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}
