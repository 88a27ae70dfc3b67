/*
 * ca_csr.c - PKCS#10 requests: parsing peer bytes (DER or PEM, bounded,
 * self-signature verified), reading the requested subjectAltNames, and
 * making requests for `certgw init` and the tests.  Whether a request may
 * be issued is ca_profile.c's business, not this file's.
 */
#include "certgw/ca.h"

#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca_int.h"

#define PEM_REQ_NAME		"CERTIFICATE REQUEST"
#define PEM_REQ_NAME_OLD	"NEW CERTIFICATE REQUEST"

void
ca_csr_free(struct ca_csr *csr)
{
	if (csr == NULL)
		return;
	X509_REQ_free(csr->req);
	EVP_PKEY_free(csr->pub);
	cg_free(csr->der);
	cg_free(csr);
}

X509_REQ *
ca_csr_get0_req(const struct ca_csr *csr)
{
	return csr == NULL ? NULL : csr->req;
}

EVP_PKEY *
ca_csr_get0_pubkey(const struct ca_csr *csr)
{
	return csr == NULL ? NULL : csr->pub;
}

void
ca_csr_get0_der(const struct ca_csr *csr, const uint8_t **derp,
    size_t *lenp)
{
	*derp = csr->der;
	*lenp = csr->der_len;
}

enum cg_code
ca_csr_parse(const uint8_t *der, size_t len, struct ca_csr **csrp,
    struct cg_err *err)
{
	const unsigned char	*p = der;
	struct ca_csr		*csr = NULL;
	EVP_PKEY		*pub;	/* get0: borrowed from csr->req */
	bool			 handled = false;
	enum cg_code		 rc;

	*csrp = NULL;
	if (len > CA_CSR_MAX)
		return cg_err_set(err, CG_ETOOBIG, "csr is %zu bytes", len);
	if (der == NULL || len == 0)
		return cg_err_set(err, CG_EINVAL, "csr is empty");
	csr = cg_calloc(1, sizeof(*csr));
	if (csr == NULL || (csr->der = cg_malloc(len)) == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(csr->der, der, len);
	csr->der_len = len;
	rc = ca_csr_parse_der(der, len, &csr->req, &csr->pub, &handled, err);
	if (handled) {
		if (rc == CG_OK) {
			*csrp = csr;
			csr = NULL;
		}
		goto out;
	}
	/* Other algorithms and unusual encodings: OpenSSL decodes it all. */
	csr->req = d2i_X509_REQ(NULL, &p, (long)len);
	if (csr->req == NULL || p != der + len) {
		rc = cg_err_crypto(err, CG_EINVAL,
		    "csr is not one DER request");
		goto out;
	}
	pub = X509_REQ_get0_pubkey(csr->req);
	if (pub == NULL || X509_REQ_verify(csr->req, pub) != 1) {
		rc = cg_err_crypto(err, CG_EINVAL,
		    "csr signature does not verify");
		goto out;
	}
	if (EVP_PKEY_up_ref(pub) != 1) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	csr->pub = pub;
	*csrp = csr;
	csr = NULL;
	rc = CG_OK;
out:
	ca_csr_free(csr);
	return rc;
}

static bool
looks_like_pem(const uint8_t *data, size_t len)
{
	size_t	 i = 0;

	while (i < len && (data[i] == ' ' || data[i] == '\t' ||
	    data[i] == '\r' || data[i] == '\n'))
		i++;
	return len - i >= 10 && memcmp(data + i, "-----BEGIN", 10) == 0;
}

enum cg_code
ca_csr_parse_any(const uint8_t *data, size_t len, struct ca_csr **csrp,
    struct cg_err *err)
{
	BIO		*bio = NULL;
	char		*name = NULL, *header = NULL;
	unsigned char	*der = NULL;
	long		 derlen = 0;
	enum cg_code	 rc;

	*csrp = NULL;
	if (data == NULL || !looks_like_pem(data, len))
		return ca_csr_parse(data, len, csrp, err);
	if (len > CA_CSR_PEM_MAX)
		return cg_err_set(err, CG_ETOOBIG, "csr is %zu bytes", len);
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio == NULL) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	if (PEM_read_bio(bio, &name, &header, &der, &derlen) != 1) {
		rc = cg_err_crypto(err, CG_EINVAL, "csr is not valid PEM");
		goto out;
	}
	if (strcmp(name, PEM_REQ_NAME) != 0 &&
	    strcmp(name, PEM_REQ_NAME_OLD) != 0) {
		rc = cg_err_set(err, CG_EINVAL,
		    "PEM block is not a certificate request");
		goto out;
	}
	rc = ca_csr_parse(der, (size_t)derlen, csrp, err);
out:
	OPENSSL_free(der);
	OPENSSL_free(header);
	OPENSSL_free(name);
	BIO_free(bio);
	return rc;
}

enum cg_code
ca_csr_get1_sans(const struct ca_csr *csr, GENERAL_NAMES **gensp,
    struct cg_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES	*gens;
	int		 crit = -1, idx;
	enum cg_code	 rc;

	*gensp = NULL;
	idx = X509_REQ_get_attr_by_NID(csr->req, NID_ext_req, -1);
	if (idx < 0)
		return CG_OK;
	if (X509_REQ_get_attr_by_NID(csr->req, NID_ext_req, idx) >= 0)
		return cg_err_set(err, CG_EINVAL,
		    "csr has more than one extensionRequest");
	exts = X509_REQ_get_extensions(csr->req);
	if (exts == NULL) {
		rc = cg_err_crypto(err, CG_EINVAL,
		    "csr extensionRequest is malformed");
		goto out;
	}
	gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL && crit != -1) {
		rc = cg_err_crypto(err, CG_EINVAL, crit == -2 ?
		    "csr requests subjectAltName twice" :
		    "csr subjectAltName is malformed");
		goto out;
	}
	*gensp = gens;
	rc = CG_OK;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

/* ------------------------------------------------------------ making */

/* "DNS:x", "IP:a.b.c.d", "email:x", "URI:x" as a GENERAL_NAME. */
static enum cg_code
san_from_text(const char *s, GENERAL_NAME **gnp, struct cg_err *err)
{
	static const struct {
		const char	*prefix;	/* case-insensitive */
		int		 type;		/* GEN_* */
	} kinds[] = {
		{ "DNS:", GEN_DNS }, { "IP:", GEN_IPADD },
		{ "email:", GEN_EMAIL }, { "URI:", GEN_URI },
	};
	GENERAL_NAME	*gn = NULL;
	ASN1_STRING	*v = NULL;
	const char	*val = NULL;
	size_t		 i, plen;
	int		 type = -1;

	*gnp = NULL;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && val == NULL; i++) {
		plen = strlen(kinds[i].prefix);
		if (strncasecmp(s, kinds[i].prefix, plen) == 0) {
			val = s + plen;
			type = kinds[i].type;
		}
	}
	if (val == NULL || *val == '\0' || strlen(val) > CA_NAME_MAX)
		return cg_err_set(err, CG_EINVAL, "bad SAN '%s'", s);
	if (type == GEN_IPADD) {
		v = a2i_IPADDRESS(val);
	} else {
		v = ASN1_IA5STRING_new();
		if (v != NULL &&
		    ASN1_STRING_set(v, val, (int)strlen(val)) != 1) {
			ASN1_IA5STRING_free(v);
			v = NULL;
		}
	}
	gn = GENERAL_NAME_new();
	if (v == NULL || gn == NULL) {
		ASN1_STRING_free(v);
		GENERAL_NAME_free(gn);
		return cg_err_crypto(err, CG_EINVAL, "bad SAN '%s'", s);
	}
	GENERAL_NAME_set0_value(gn, type, v);
	*gnp = gn;
	return CG_OK;
}

static enum cg_code
req_add_sans(X509_REQ *req, const char *const *sans, size_t nsans,
    struct cg_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*gn;
	size_t		 i;
	enum cg_code	 rc;

	gens = sk_GENERAL_NAME_new_null();
	if (gens == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	for (i = 0; i < nsans; i++) {
		rc = san_from_text(sans[i], &gn, err);
		if (rc != CG_OK)
			goto out;
		if (sk_GENERAL_NAME_push(gens, gn) <= 0) {
			GENERAL_NAME_free(gn);
			rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT) != 1 ||
	    X509_REQ_add_extensions(req, exts) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot add SANs to csr");
		goto out;
	}
	rc = CG_OK;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(gens);
	return rc;
}

static enum cg_code
req_der(X509_REQ *req, uint8_t **derp, size_t *lenp, struct cg_err *err)
{
	unsigned char	*p;
	uint8_t		*der;
	int		 len;

	len = i2d_X509_REQ(req, NULL);
	if (len <= 0)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode csr");
	der = cg_malloc((size_t)len);
	if (der == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	p = der;
	if (i2d_X509_REQ(req, &p) != len) {
		cg_free(der);
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode csr");
	}
	*derp = der;
	*lenp = (size_t)len;
	return CG_OK;
}

enum cg_code
ca_csr_make(EVP_PKEY *key, const char *cn, const char *const *sans,
    size_t nsans, uint8_t **derp, size_t *lenp, struct cg_err *err)
{
	X509_REQ	*req = NULL;
	EVP_MD_CTX	*mctx = NULL;
	enum cg_code	 rc;

	*derp = NULL;
	*lenp = 0;
	if (key == NULL || (nsans > 0 && sans == NULL) || nsans > CA_SAN_MAX)
		return cg_err_set(err, CG_EINVAL, "bad csr parameters");
	req = X509_REQ_new();
	if (req == NULL || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot make csr");
		goto out;
	}
	if (cn != NULL && X509_NAME_add_entry_by_NID(
	    X509_REQ_get_subject_name(req), NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1) {
		rc = cg_err_crypto(err, CG_EINVAL, "bad common name");
		goto out;
	}
	if (nsans > 0) {
		rc = req_add_sans(req, sans, nsans, err);
		if (rc != CG_OK)
			goto out;
	}
	rc = ca_sign_ctx_new(key, &mctx, err);
	if (rc != CG_OK)
		goto out;
	if (X509_REQ_sign_ctx(req, mctx) <= 0) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot sign csr");
		goto out;
	}
	rc = req_der(req, derp, lenp, err);
out:
	EVP_MD_CTX_free(mctx);
	X509_REQ_free(req);
	return rc;
}
