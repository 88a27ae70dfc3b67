/*
 * ca_issue.c - the one issuance path: policy check, building the
 * certificate (serial, validity, profile extensions, SANs, CDP, AIA),
 * signing through the signer, and recording certificate, outbox jobs and
 * audit row in one store transaction.  It does not parse protocol messages
 * and does not decide which distribution jobs exist (the outbox hook does).
 */
#include "certgw/ca.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "certgw/store.h"
#include "ca_int.h"

#define SERIAL_REDRAW_MAX	64	/* P(zero byte) = 1/128 per draw */
#define KU_TEXT_MAX		160	/* "critical,digitalSignature,..." */
#define EKU_TEXT_MAX		160	/* "serverAuth,clientAuth,..." */
#define SANS_TEXT_MAX		(CA_SAN_MAX * (CA_NAME_MAX + 8))
#define AUDIT_DETAIL_MAX	(CA_SUBJECT_MAX + 2 * CA_REQUESTER_MAX + 64)

struct bit_name {
	uint32_t	 bit;		/* CA_KU_* / CA_EKU_* */
	const char	*conf;		/* OpenSSL v3 config name */
};

static const struct bit_name ku_conf[] = {
	{ CA_KU_DIGITAL_SIGNATURE, "digitalSignature" },
	{ CA_KU_CONTENT_COMMITMENT, "nonRepudiation" },
	{ CA_KU_KEY_ENCIPHERMENT, "keyEncipherment" },
	{ CA_KU_DATA_ENCIPHERMENT, "dataEncipherment" },
	{ CA_KU_KEY_AGREEMENT, "keyAgreement" },
	{ 0, NULL }
};

static const struct bit_name eku_conf[] = {
	{ CA_EKU_SERVER_AUTH, "serverAuth" },
	{ CA_EKU_CLIENT_AUTH, "clientAuth" },
	{ CA_EKU_CODE_SIGNING, "codeSigning" },
	{ CA_EKU_EMAIL_PROTECTION, "emailProtection" },
	{ CA_EKU_TIME_STAMPING, "timeStamping" },
	{ CA_EKU_OCSP_SIGNING, "OCSPSigning" },
	{ 0, NULL }
};

/*
 * Everything one issuance builds; freed by issue_ctx_reset().  Once built,
 * it owns every string it records, so a staged issuance outlives the
 * request that asked for it (req is then NULL).
 */
struct issue_ctx {
	struct ca		*ca;		/* borrowed */
	const struct ca_issue_req *req;		/* borrowed while building */
	GENERAL_NAMES		*sans;		/* validated SANs, or NULL */
	enum ca_key_type	 kt;		/* requested key's type */
	int64_t			 now;		/* issuance time */
	X509			*x;		/* being built; key as bytes */
	struct ca_issued	*is;		/* the result being built */
	struct ca_cert_rec	 rec;		/* what the store records */
	char			*detail;	/* the audit row's detail */
	ca_outbox_fn		*hook;		/* ca_issue_hooked(), or NULL */
	void			*hook_arg;	/* its argument */
};

/* An issuance signed now and recorded later by ca_staged_record(). */
struct ca_staged {
	struct issue_ctx	 ic;
	bool			 recorded;	/* ca_staged_record() ran */
	enum cg_code		 rc;		/* its outcome */
	struct cg_err		 err;		/* why, when rc != CG_OK */
};

/* ------------------------------------------------------------ serials */

enum cg_code
ca_serial_random(ASN1_INTEGER **serialp, char *hex, struct cg_err *err)
{
	uint8_t		 b[CA_SERIAL_BYTES];
	BIGNUM		*bn = NULL;
	int		 i;
	enum cg_code	 rc;

	*serialp = NULL;
	if (RAND_bytes(b, sizeof(b)) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "no random serial");
		goto out;
	}
	/* RFC 5280 4.1.2.2: positive; a non-zero first byte keeps 20 bytes. */
	b[0] &= 0x7f;
	for (i = 0; b[0] == 0 && i < SERIAL_REDRAW_MAX; i++) {
		if (RAND_bytes(b, 1) != 1) {
			rc = cg_err_crypto(err, CG_ECRYPTO, "no random serial");
			goto out;
		}
		b[0] &= 0x7f;
	}
	bn = b[0] == 0 ? NULL : BN_bin2bn(b, sizeof(b), NULL);
	if (bn != NULL)
		*serialp = BN_to_ASN1_INTEGER(bn, NULL);
	if (*serialp == NULL) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "no random serial");
		goto out;
	}
	/* Spelled as the store spells ids: upper-case, no leading zero. */
	cg_hex_encode(b, sizeof(b), hex, true);
	if (hex[0] == '0')
		memmove(hex, hex + 1, strlen(hex));
	rc = CG_OK;
out:
	BN_free(bn);
	OPENSSL_cleanse(b, sizeof(b));
	return rc;
}

/* ------------------------------------------------------- the basics */

static enum cg_code
subject_copy(const struct ca_profile *p, const X509_NAME *in, X509 *x,
    struct cg_err *err)
{
	X509_NAME	*out;
	X509_NAME_ENTRY	*e;
	int		 i, nid;
	enum cg_code	 rc = CG_OK;

	out = X509_NAME_new();
	if (out == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	for (i = 0; i < X509_NAME_entry_count(in); i++) {
		e = X509_NAME_get_entry(in, i);
		nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		if (!ca_profile_subject_nid_allowed(p, nid))
			continue;
		if (X509_NAME_add_entry(out, e, -1, 0) != 1) {
			rc = cg_err_crypto(err, CG_ECRYPTO,
			    "cannot copy subject");
			goto out;
		}
	}
	if (X509_set_subject_name(x, out) != 1)
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot set subject");
out:
	X509_NAME_free(out);
	return rc;
}

static enum cg_code
set_validity(struct issue_ctx *ic, X509 *x, struct cg_err *err)
{
	int64_t		 end, ca_end;
	enum cg_code	 rc;

	rc = ca_time_unix(X509_get0_notAfter(ic->ca->cert), &ca_end, err);
	if (rc != CG_OK)
		return rc;
	end = ic->now + (int64_t)ic->req->profile->validity_days * CA_DAY_S;
	if (end > ca_end)
		end = ca_end;
	if (end <= ic->now)
		return cg_err_set(err, CG_EINVAL, "the CA certificate has "
		    "expired; nothing can be issued");
	ic->rec.not_before = ic->now - CA_BACKDATE_S;
	ic->rec.not_after = end;
	if (ASN1_TIME_set(X509_getm_notBefore(x),
	    (time_t)ic->rec.not_before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)end) == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot set validity");
	return CG_OK;
}

/*
 * The request's SubjectPublicKeyInfo, carried over as bytes: the algorithm
 * identifier and the key bits are copied field by field into the
 * certificate, and the key is never decoded again.  In OpenSSL 3.0 both
 * X509_set_pubkey() and a d2i of the SPKI go through the provider decoder,
 * which costs more than the signature (docs/performance.md).  The
 * half-decoded certificate never leaves build(): only its DER does.
 */
static enum cg_code
spki_copy(X509_REQ *req, X509 *x, struct cg_err *err)
{
	const unsigned char	*pk;
	X509_ALGOR		*pa;
	int			 pklen;

	if (X509_PUBKEY_get0_param(NULL, &pk, &pklen, &pa,
	    X509_REQ_get_X509_PUBKEY(req)) != 1 || pk == NULL || pklen <= 0)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot read the key");
	return ca_pubkey_set_bytes(X509_get_X509_PUBKEY(x), pa, pk,
	    (size_t)pklen, err);
}

static enum cg_code
cert_basics(struct issue_ctx *ic, X509 *x, struct cg_err *err)
{
	X509_REQ	*req = ic->req->csr->req;
	ASN1_INTEGER	*serial = NULL;
	enum cg_code	 rc;

	rc = ca_serial_random(&serial, ic->is->serial, err);
	if (rc != CG_OK)
		return rc;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    X509_set_serialNumber(x, serial) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ic->ca->cert)) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot build certificate");
		goto out;
	}
	rc = subject_copy(ic->req->profile, X509_REQ_get_subject_name(req), x,
	    err);
	if (rc == CG_OK)
		rc = set_validity(ic, x, err);
out:
	ASN1_INTEGER_free(serial);
	return rc;
}

/* -------------------------------------------------------- extensions */

/* Append the OpenSSL names of the bits set in mask to text. */
static void
bits_text(const struct bit_name *t, uint32_t mask, char *text, size_t len)
{
	for (; t->conf != NULL; t++) {
		if ((mask & t->bit) == 0)
			continue;
		if (text[0] != '\0')
			strncat(text, ",", len - strlen(text) - 1);
		strncat(text, t->conf, len - strlen(text) - 1);
	}
}

static enum cg_code
add_conf_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value,
    const char *what, struct cg_err *err)
{
	return ca_cert_add_ext(x, X509V3_EXT_nconf_nid(NULL, v3, nid,
	    value), what, err);
}

/* A copy of an extension the CA built once (shared, never modified). */
static enum cg_code
add_fixed_ext(X509 *x, X509_EXTENSION *ext, const char *what,
    struct cg_err *err)
{
	if (X509_add_ext(x, ext, -1) != 1)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot add %s", what);
	return CG_OK;
}

/*
 * keyUsage from the profile.  Encipherment bits mean nothing for EC and
 * Ed25519 keys, and RFC 8410 5 forbids keyAgreement for Ed25519.
 */
static enum cg_code
add_usages(struct issue_ctx *ic, X509 *x, X509V3_CTX *v3, struct cg_err *err)
{
	const struct ca_profile	*p = ic->req->profile;
	uint32_t		 ku = p->key_usage;
	char			 text[KU_TEXT_MAX] = "critical";
	enum cg_code		 rc;

	if (ic->kt != CA_KEY_RSA)
		ku &= ~(uint32_t)(CA_KU_KEY_ENCIPHERMENT |
		    CA_KU_DATA_ENCIPHERMENT);
	if (ic->kt == CA_KEY_ED25519)
		ku &= ~(uint32_t)CA_KU_KEY_AGREEMENT;
	if (ku != 0) {
		bits_text(ku_conf, ku, text, sizeof(text));
		rc = add_conf_ext(x, v3, NID_key_usage, text, "keyUsage", err);
		if (rc != CG_OK)
			return rc;
	}
	if (p->ext_key_usage == 0)
		return CG_OK;
	text[0] = '\0';
	bits_text(eku_conf, p->ext_key_usage, text, sizeof(text));
	return add_conf_ext(x, v3, NID_ext_key_usage, text,
	    "extendedKeyUsage", err);
}

/* A URI GeneralName; URLs must be printable ASCII (IA5String). */
static enum cg_code
names_push_uri(GENERAL_NAMES *names, const char *url, struct cg_err *err)
{
	GENERAL_NAME	*gn = NULL;
	ASN1_IA5STRING	*s = NULL;
	size_t		 len = strlen(url), i;

	for (i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 ||
		    (unsigned char)url[i] >= 0x7f)
			break;
	if (len == 0 || len > CA_URL_MAX || i < len)
		return cg_err_set(err, CG_EINVAL, "a profile URL is not a "
		    "printable ASCII URL");
	s = ASN1_IA5STRING_new();
	gn = GENERAL_NAME_new();
	if (s == NULL || gn == NULL ||
	    ASN1_STRING_set(s, url, (int)len) != 1) {
		ASN1_IA5STRING_free(s);
		GENERAL_NAME_free(gn);
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	}
	GENERAL_NAME_set0_value(gn, GEN_URI, s);
	if (sk_GENERAL_NAME_push(names, gn) <= 0) {
		GENERAL_NAME_free(gn);
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	}
	return CG_OK;
}

/* Every URL names the same (full) CRL: one distribution point. */
static enum cg_code
add_cdp(struct issue_ctx *ic, X509 *x, struct cg_err *err)
{
	const struct ca_strlist	*urls = &ic->req->profile->crl_urls;
	const char		*base = ic->ca->public_base_url;
	CRL_DIST_POINTS		*cdp = NULL;
	DIST_POINT		*dp = NULL;
	GENERAL_NAMES		*names = NULL;
	char			*own = NULL;
	size_t			 i;
	enum cg_code		 rc = CG_OK;

	if (urls->n == 0 && base == NULL)
		return CG_OK;
	names = sk_GENERAL_NAME_new_null();
	if (names == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	if (base != NULL) {
		own = cg_asprintf("%s/crl", base);
		if (own == NULL)
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	for (i = 0; rc == CG_OK && i < urls->n; i++)
		rc = names_push_uri(names, urls->v[i], err);
	if (rc == CG_OK && own != NULL)
		rc = names_push_uri(names, own, err);
	if (rc != CG_OK)
		goto out;
	cdp = sk_DIST_POINT_new_null();
	dp = DIST_POINT_new();
	if (dp != NULL)
		dp->distpoint = DIST_POINT_NAME_new();
	if (cdp == NULL || dp == NULL || dp->distpoint == NULL) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	dp->distpoint->type = 0;	/* fullName */
	dp->distpoint->name.fullname = names;
	names = NULL;
	if (sk_DIST_POINT_push(cdp, dp) <= 0) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	dp = NULL;
	if (X509_add1_ext_i2d(x, NID_crl_distribution_points, cdp, 0,
	    X509V3_ADD_DEFAULT) != 1)
		rc = cg_err_crypto(err, CG_ECRYPTO,
		    "cannot add CRL distribution points");
out:
	CRL_DIST_POINTS_free(cdp);
	DIST_POINT_free(dp);
	GENERAL_NAMES_free(names);
	cg_free(own);
	return rc;
}

static enum cg_code
aia_push(AUTHORITY_INFO_ACCESS *aia, int nid, const char *url,
    struct cg_err *err)
{
	ACCESS_DESCRIPTION	*ad;
	GENERAL_NAMES		*one;
	enum cg_code		 rc;

	one = sk_GENERAL_NAME_new_null();
	if (one == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	rc = names_push_uri(one, url, err);
	ad = rc == CG_OK ? ACCESS_DESCRIPTION_new() : NULL;
	if (rc == CG_OK && ad == NULL)
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
	if (rc != CG_OK)
		goto out;
	ASN1_OBJECT_free(ad->method);
	ad->method = OBJ_nid2obj(nid);
	GENERAL_NAME_free(ad->location);
	ad->location = sk_GENERAL_NAME_pop(one);
	if (sk_ACCESS_DESCRIPTION_push(aia, ad) <= 0) {
		ACCESS_DESCRIPTION_free(ad);
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
	}
out:
	GENERAL_NAMES_free(one);
	return rc;
}

static enum cg_code
add_aia(struct issue_ctx *ic, X509 *x, struct cg_err *err)
{
	const struct ca_profile	*p = ic->req->profile;
	const char		*base = ic->ca->public_base_url;
	AUTHORITY_INFO_ACCESS	*aia;
	char			*own = NULL;
	size_t			 i;
	enum cg_code		 rc = CG_OK;

	if (p->ocsp_urls.n == 0 && p->ca_issuers_urls.n == 0 && base == NULL)
		return CG_OK;
	aia = sk_ACCESS_DESCRIPTION_new_null();
	if (aia == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	for (i = 0; rc == CG_OK && i < p->ocsp_urls.n; i++)
		rc = aia_push(aia, NID_ad_OCSP, p->ocsp_urls.v[i], err);
	/*
	 * certgw's own responder (gateway/gw_ocsp.c), always served beside
	 * /crl.  Not in an OCSP signer's certificate: it carries
	 * id-pkix-ocsp-nocheck instead (RFC 6960 4.2.2.2.1).
	 */
	if (rc == CG_OK && base != NULL &&
	    (p->ext_key_usage & CA_EKU_OCSP_SIGNING) == 0) {
		own = cg_asprintf("%s/ocsp", base);
		rc = own == NULL ? cg_err_set(err, CG_ENOMEM, "out of memory") :
		    aia_push(aia, NID_ad_OCSP, own, err);
		cg_free(own);
		own = NULL;
	}
	for (i = 0; rc == CG_OK && i < p->ca_issuers_urls.n; i++)
		rc = aia_push(aia, NID_ad_ca_issuers, p->ca_issuers_urls.v[i],
		    err);
	if (rc == CG_OK && base != NULL) {
		own = cg_asprintf("%s/ca.crt", base);
		rc = own == NULL ? cg_err_set(err, CG_ENOMEM, "out of memory") :
		    aia_push(aia, NID_ad_ca_issuers, own, err);
	}
	if (rc == CG_OK && X509_add1_ext_i2d(x, NID_info_access, aia, 0,
	    X509V3_ADD_DEFAULT) != 1)
		rc = cg_err_crypto(err, CG_ECRYPTO,
		    "cannot add authorityInfoAccess");
	cg_free(own);
	AUTHORITY_INFO_ACCESS_free(aia);
	return rc;
}

static enum cg_code
cert_exts(struct issue_ctx *ic, X509 *x, struct cg_err *err)
{
	X509V3_CTX	 v3;
	int		 crit;
	enum cg_code	 rc;

	X509V3_set_ctx(&v3, ic->ca->cert, x, NULL, NULL, 0);
	/* basicConstraints and AKI are the CA's, made once in ca_open(). */
	rc = add_fixed_ext(x, ic->ca->ext_bc, "basicConstraints", err);
	if (rc == CG_OK)
		rc = add_usages(ic, x, &v3, err);
	if (rc == CG_OK)
		rc = add_conf_ext(x, &v3, NID_subject_key_identifier, "hash",
		    "subjectKeyIdentifier", err);
	if (rc == CG_OK)
		rc = add_fixed_ext(x, ic->ca->ext_aki,
		    "authorityKeyIdentifier", err);
	if (rc != CG_OK)
		return rc;
	if (ic->sans != NULL && sk_GENERAL_NAME_num(ic->sans) > 0) {
		/* RFC 5280 4.2.1.6: critical when the subject is empty. */
		crit = X509_NAME_entry_count(X509_get_subject_name(x)) == 0;
		if (X509_add1_ext_i2d(x, NID_subject_alt_name, ic->sans, crit,
		    X509V3_ADD_DEFAULT) != 1)
			return cg_err_crypto(err, CG_ECRYPTO,
			    "cannot add subjectAltName");
	}
	rc = add_cdp(ic, x, err);
	if (rc == CG_OK)
		rc = add_aia(ic, x, err);
	/*
	 * An OCSP signer's own status is not asked of the responder it is
	 * (RFC 6960 4.2.2.2.1): clients skip the check only with nocheck.
	 */
	if (rc == CG_OK &&
	    (ic->req->profile->ext_key_usage & CA_EKU_OCSP_SIGNING) != 0)
		rc = add_conf_ext(x, &v3, NID_id_pkix_OCSP_noCheck, "ignored",
		    "id-pkix-ocsp-nocheck", err);
	return rc;
}

/* ------------------------------------------------------ the record */

enum cg_code
ca_sans_text(const GENERAL_NAMES *sans, char **outp, struct cg_err *err)
{
	const GENERAL_NAME	*gn;
	const ASN1_STRING	*v;
	struct cg_buf		 b;
	char			 ip[INET6_ADDRSTRLEN];
	int			 i, af;
	enum cg_code		 rc = CG_OK;

	cg_buf_init(&b, SANS_TEXT_MAX);
	for (i = 0; rc == CG_OK && sans != NULL &&
	    i < sk_GENERAL_NAME_num(sans); i++) {
		gn = sk_GENERAL_NAME_value(sans, i);
		if (i > 0)
			rc = cg_buf_addstr(&b, ",", err);
		if (rc != CG_OK)
			break;
		if (gn->type == GEN_IPADD) {
			v = gn->d.iPAddress;
			af = ASN1_STRING_length(v) == 4 ? AF_INET : AF_INET6;
			if (inet_ntop(af, ASN1_STRING_get0_data(v), ip,
			    sizeof(ip)) == NULL)
				ip[0] = '\0';
			rc = cg_buf_printf(&b, err, "IP:%s", ip);
			continue;
		}
		v = gn->d.ia5;		/* DNS, email and URI are IA5Strings */
		rc = cg_buf_printf(&b, err, "%s:%.*s", gn->type == GEN_DNS ?
		    "DNS" : gn->type == GEN_EMAIL ? "email" : "URI",
		    ASN1_STRING_length(v),
		    (const char *)ASN1_STRING_get0_data(v));
	}
	if (rc == CG_OK) {
		*outp = (char *)cg_buf_steal(&b, NULL);
		if (*outp == NULL)
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	cg_buf_cleanup(&b);
	return rc;
}

static enum cg_code
thumbprint(const uint8_t *der, size_t len, const EVP_MD *md, char *hex,
    struct cg_err *err)
{
	unsigned char	 dig[EVP_MAX_MD_SIZE];
	unsigned int	 dlen = 0;

	if (EVP_Digest(der, len, dig, &dlen, md, NULL) != 1)
		return cg_err_crypto(err, CG_ECRYPTO,
		    "cannot hash certificate");
	cg_hex_encode(dig, dlen, hex, false);
	return CG_OK;
}

/*
 * Fill ic->rec from the signed certificate.  Every string is owned by rec,
 * except serial, sha256 and der, which point into ic->is.
 */
static enum cg_code
rec_fill(struct issue_ctx *ic, struct cg_err *err)
{
	const struct ca_issue_req *req = ic->req;
	struct ca_issued	*is = ic->is;
	struct ca_cert_rec	*r = &ic->rec;
	enum cg_code		 rc;

	rc = ca_cert_der(ic->x, &is->der, &is->der_len, err);
	if (rc == CG_OK)
		rc = thumbprint(is->der, is->der_len, ic->ca->sha256,
		    is->sha256, err);
	if (rc != CG_OK)
		return rc;
	r->sha1 = cg_malloc(2 * SHA_DIGEST_LENGTH + 1);
	if (r->sha1 == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = thumbprint(is->der, is->der_len, ic->ca->sha1, r->sha1, err);
	if (rc == CG_OK)
		rc = ca_name_rfc2253(X509_get_subject_name(ic->x),
		    &r->subject, err);
	if (rc == CG_OK)
		rc = ca_sans_text(ic->sans, &r->sans, err);
	if (rc != CG_OK)
		return rc;
	r->issuer = cg_strdup(ic->ca->name);
	r->profile = cg_strdup(req->profile->name);
	r->protocol = cg_strdup(req->protocol);
	r->requester = cg_strdup(req->requester);
	ic->detail = cg_asprintf("profile=%s protocol=%s subject=%s",
	    req->profile->name, req->protocol, r->subject);
	if (r->issuer == NULL || r->profile == NULL || r->protocol == NULL ||
	    r->requester == NULL || ic->detail == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	/* Borrowed from is: not freed with the record. */
	r->serial = is->serial;
	r->sha256 = is->sha256;
	r->der = is->der;
	r->der_len = is->der_len;
	r->status = CA_CERT_VALID;
	r->issued_at = ic->now;
	r->revoke_reason = -1;
	return CG_OK;
}

static void
rec_cleanup(struct ca_cert_rec *r)
{
	cg_free(r->sha1);
	cg_free(r->issuer);
	cg_free(r->subject);
	cg_free(r->sans);
	cg_free(r->profile);
	cg_free(r->protocol);
	cg_free(r->requester);
	memset(r, 0, sizeof(*r));
}

/* Build, sign and describe one certificate with a fresh serial. */
static enum cg_code
build(struct issue_ctx *ic, struct cg_err *err)
{
	enum cg_code	 rc;

	ic->now = cg_now();
	ic->is = cg_calloc(1, sizeof(*ic->is));
	if (ic->is == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	ic->x = X509_new();
	if (ic->x == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	rc = spki_copy(ic->req->csr->req, ic->x, err);
	if (rc == CG_OK)
		rc = cert_basics(ic, ic->x, err);
	if (rc == CG_OK)
		rc = cert_exts(ic, ic->x, err);
	if (rc == CG_OK)
		rc = ca_signer_sign_cert(ic->ca->signer, ic->x, err);
	if (rc == CG_OK)
		rc = rec_fill(ic, err);
	/* The DER is what leaves; the half-decoded object does not. */
	X509_free(ic->x);
	ic->x = NULL;
	return rc;
}

/*
 * The rows of one issuance: the certificate, its outbox jobs and the audit
 * row, inside a transaction the caller holds.  *dup tells the caller the
 * serial was taken.
 */
static enum cg_code
record_rows(struct issue_ctx *ic, struct ca_store *st, bool *dup,
    struct cg_err *err)
{
	enum cg_code	 rc;

	*dup = false;
	rc = ca_store_cert_insert(st, &ic->rec, err);
	if (rc == CG_ECONFLICT)
		*dup = true;
	if (rc == CG_OK && ic->ca->outbox_fn != NULL)
		rc = ic->ca->outbox_fn(ic->ca->outbox_arg, st, &ic->rec, err);
	if (rc == CG_OK && ic->hook != NULL)
		rc = ic->hook(ic->hook_arg, st, &ic->rec, err);
	if (rc == CG_OK)
		rc = ca_store_audit_add(st, ic->rec.requester, "issue",
		    ic->is->serial, "ok", ic->detail, err);
	return rc;
}

/* One transaction for one issuance: all its rows, or nothing. */
static enum cg_code
record(struct issue_ctx *ic, struct ca_store *st, bool *dup,
    struct cg_err *err)
{
	enum cg_code	 rc;

	*dup = false;
	rc = ca_store_begin(st, err);
	if (rc == CG_OK)
		rc = record_rows(ic, st, dup, err);
	if (rc == CG_OK)
		rc = ca_store_commit(st, err);
	if (rc != CG_OK)
		ca_store_rollback(st);
	return rc;
}

static void
issue_ctx_reset(struct issue_ctx *ic)
{
	rec_cleanup(&ic->rec);
	X509_free(ic->x);
	ic->x = NULL;
	cg_free(ic->detail);
	ic->detail = NULL;
	ca_issued_free(ic->is);
	ic->is = NULL;
}

/* ------------------------------------------------------------ issuance */

static enum cg_code
check_req(struct ca *ca, struct ca_store *st, const struct ca_issue_req *req,
    struct cg_err *err)
{
	const struct ca_profile	*p;

	if (ca == NULL || st == NULL || req == NULL || req->csr == NULL ||
	    req->profile == NULL || req->profile->name == NULL)
		return cg_err_set(err, CG_EINVAL,
		    "incomplete issuance request");
	if (req->protocol == NULL || req->requester == NULL ||
	    strnlen(req->protocol, CA_REQUESTER_MAX + 1) > CA_REQUESTER_MAX ||
	    strnlen(req->requester, CA_REQUESTER_MAX + 1) > CA_REQUESTER_MAX)
		return cg_err_set(err, CG_EINVAL, "requester and protocol must "
		    "be at most %d characters", CA_REQUESTER_MAX);
	p = req->profile;
	if (p->validity_days == 0 || p->validity_days > CA_VALIDITY_DAYS_MAX)
		return cg_err_set(err, CG_EINVAL, "profile '%s' has no valid "
		    "validity_days", p->name);
	return CG_OK;
}

/* A refusal is audited in its own (autocommit) write; it returns nothing. */
static void
audit_refusal(struct ca_store *st, const struct ca_issue_req *req,
    const struct cg_err *why, struct cg_err *err)
{
	struct cg_err	 aerr = { 0 };
	char		*detail;

	detail = cg_asprintf("profile=%s protocol=%s reason=%s",
	    req->profile->name, req->protocol, why->msg);
	if (detail == NULL)
		cg_err_set(&aerr, CG_ENOMEM, "out of memory");
	else
		ca_store_audit_add(st, req->requester, "issue", "", "refused",
		    detail, &aerr);
	if (aerr.code != CG_OK) {
		cg_err_detail(err, "refusal not audited: %s", aerr.msg);
		cg_log_err_struct(__func__, "audit of a refused request",
		    &aerr);
	}
	cg_free(detail);
}

static enum cg_code
policy(struct ca_store *st, const struct ca_issue_req *req,
    enum ca_key_type *ktp, struct cg_err *err)
{
	struct cg_err	 perr = { 0 };
	int		 bits;
	enum cg_code	 rc;

	rc = ca_policy_check(req->profile, req->csr, &perr);
	if (rc != CG_OK) {
		if (err != NULL && err->code == CG_OK)
			*err = perr;
		if (rc == CG_EDENIED)
			audit_refusal(st, req, &perr, err);
		return rc;
	}
	if (!ca_key_classify(req->csr->pub, ktp, &bits))
		return cg_err_set(err, CG_EINTERNAL, "unclassified key passed "
		    "the policy");
	return CG_OK;
}

static void
log_issued(const struct issue_ctx *ic)
{
	char	 who[2 * CA_REQUESTER_MAX + 8], proto[2 * CA_REQUESTER_MAX + 8];
	char	 prof[128];

	cg_log_info("event=issue serial=%s sha256=%s profile=%s protocol=%s "
	    "requester=%s", ic->is->serial, ic->is->sha256,
	    cg_logfmt_quote(ic->rec.profile, prof, sizeof(prof)),
	    cg_logfmt_quote(ic->rec.protocol, proto, sizeof(proto)),
	    cg_logfmt_quote(ic->rec.requester, who, sizeof(who)));
}

enum cg_code
ca_issue(struct ca *ca, struct ca_store *st, const struct ca_issue_req *req,
    struct ca_issued **outp, struct cg_err *err)
{
	return ca_issue_hooked(ca, st, req, NULL, NULL, outp, err);
}

enum cg_code
ca_issue_hooked(struct ca *ca, struct ca_store *st,
    const struct ca_issue_req *req, ca_outbox_fn *hook, void *hook_arg,
    struct ca_issued **outp, struct cg_err *err)
{
	struct issue_ctx	 ic;
	bool			 dup = false;
	int			 attempt;
	enum cg_code		 rc;

	*outp = NULL;
	memset(&ic, 0, sizeof(ic));
	rc = check_req(ca, st, req, err);
	if (rc != CG_OK)
		return rc;
	ic.ca = ca;
	ic.req = req;
	ic.hook = hook;
	ic.hook_arg = hook_arg;
	rc = policy(st, req, &ic.kt, err);
	if (rc == CG_OK)
		rc = ca_csr_get1_sans(req->csr, &ic.sans, err);
	if (rc != CG_OK)
		goto out;
	for (attempt = 0; attempt < CA_SERIAL_TRIES; attempt++) {
		issue_ctx_reset(&ic);
		rc = build(&ic, err);
		if (rc == CG_OK)
			rc = record(&ic, st, &dup, err);
		if (!dup)
			break;
		/* A 160-bit collision: draw another serial, once. */
		if (attempt + 1 < CA_SERIAL_TRIES)
			cg_err_clear(err);
	}
	if (rc != CG_OK)
		goto out;
	log_issued(&ic);
	*outp = ic.is;
	ic.is = NULL;
	rc = CG_OK;
out:
	issue_ctx_reset(&ic);
	GENERAL_NAMES_free(ic.sans);
	return rc;
}

/* ------------------------------------------------- staged issuance */

enum cg_code
ca_issue_stage(struct ca *ca, struct ca_store *st,
    const struct ca_issue_req *req, struct ca_staged **outp,
    struct cg_err *err)
{
	struct ca_staged	*s;
	enum cg_code		 rc;

	*outp = NULL;
	rc = check_req(ca, st, req, err);
	if (rc != CG_OK)
		return rc;
	s = cg_calloc(1, sizeof(*s));
	if (s == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	s->ic.ca = ca;
	s->ic.req = req;
	rc = policy(st, req, &s->ic.kt, err);
	if (rc == CG_OK)
		rc = ca_csr_get1_sans(req->csr, &s->ic.sans, err);
	if (rc == CG_OK)
		rc = build(&s->ic, err);
	GENERAL_NAMES_free(s->ic.sans);
	s->ic.sans = NULL;
	s->ic.req = NULL;
	if (rc != CG_OK) {
		ca_staged_free(s);
		return rc;
	}
	*outp = s;
	return CG_OK;
}

void
ca_staged_set_hook(struct ca_staged *s, ca_outbox_fn *fn, void *arg)
{
	s->ic.hook = fn;
	s->ic.hook_arg = arg;
}

/*
 * Record one by one, each in its own transaction, so that one bad
 * issuance (a taken serial) does not fail the others.
 */
static void
staged_record_each(struct ca_store *st, struct ca_staged **v, size_t n)
{
	size_t	 i;
	bool	 dup;

	for (i = 0; i < n; i++) {
		if (v[i]->recorded)
			continue;
		memset(&v[i]->err, 0, sizeof(v[i]->err));
		v[i]->rc = record(&v[i]->ic, st, &dup, &v[i]->err);
		v[i]->recorded = true;
	}
}

void
ca_staged_record(struct ca_store *st, struct ca_staged **v, size_t n)
{
	struct cg_err	 err = { 0 };
	size_t		 i;
	bool		 dup;
	enum cg_code	 rc;

	if (n == 0)
		return;
	if (n == 1) {
		staged_record_each(st, v, n);
	} else {
		rc = ca_store_begin(st, &err);
		for (i = 0; rc == CG_OK && i < n; i++)
			if (!v[i]->recorded)
				rc = record_rows(&v[i]->ic, st, &dup, &err);
		if (rc == CG_OK)
			rc = ca_store_commit(st, &err);
		if (rc == CG_OK) {
			for (i = 0; i < n; i++) {
				if (v[i]->recorded)
					continue;
				v[i]->recorded = true;
				v[i]->rc = CG_OK;
			}
		} else {
			ca_store_rollback(st);
			cg_log_err_struct(__func__, "group commit failed; "
			    "recording one by one", &err);
			staged_record_each(st, v, n);
		}
	}
	for (i = 0; i < n; i++)
		if (v[i]->rc == CG_OK)
			log_issued(&v[i]->ic);
}

enum cg_code
ca_staged_result(struct ca_staged *s, struct ca_issued **outp,
    struct cg_err *err)
{
	*outp = NULL;
	if (!s->recorded)
		return cg_err_set(err, CG_EINTERNAL, "issuance not recorded");
	if (s->rc != CG_OK) {
		if (err != NULL && err->code == CG_OK)
			*err = s->err;
		return s->rc;
	}
	if (s->ic.is == NULL)
		return cg_err_set(err, CG_EINTERNAL, "result already taken");
	*outp = s->ic.is;
	s->ic.is = NULL;
	return CG_OK;
}

void
ca_staged_free(struct ca_staged *s)
{
	if (s == NULL)
		return;
	issue_ctx_reset(&s->ic);
	GENERAL_NAMES_free(s->ic.sans);
	cg_free(s);
}

X509 *
ca_issued_get0_cert(struct ca_issued *is)
{
	const unsigned char	*p;

	if (is == NULL)
		return NULL;
	if (is->cert == NULL && is->der != NULL) {
		p = is->der;
		is->cert = d2i_X509(NULL, &p, (long)is->der_len);
		if (is->cert != NULL && p != is->der + is->der_len) {
			X509_free(is->cert);
			is->cert = NULL;
		}
	}
	return is->cert;
}

void
ca_issued_free(struct ca_issued *is)
{
	if (is == NULL)
		return;
	X509_free(is->cert);
	cg_free(is->der);
	cg_free(is);
}
