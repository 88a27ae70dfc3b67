/*
 * ca_ocsp.c - the OCSP responder's core (RFC 6960): parse a request from
 * the network with limits, look each CertID up in the store by issuer
 * name hash, issuer key hash and serial, and build and sign the
 * BasicOCSPResponse: good, revoked (time and reason) or unknown, with the
 * request's nonce echoed (RFC 8954).  The CA key signs through the signer
 * (ca_signer_sign_ocsp); a delegated OCSP signing certificate, made by
 * `certgw ocsp-signer init`, is loaded and used here, since it is not the
 * CA's key.  HTTP and caching are the gateway's (gateway/gw_ocsp.c).
 *
 * Choices, documented in docs/ocsp.md:
 *  - a request with a CertID for another issuer is answered
 *    "unauthorized" (RFC 6960 2.3), unsigned: mixing issuers in one
 *    response would not verify in common clients (OpenSSL refuses one);
 *  - SHA-1, SHA-256, SHA-384 and SHA-512 CertIDs are all accepted;
 *  - request signatures are not required and not checked;
 *  - an unknown critical request extension is a malformedRequest.
 */
#include "certgw/ca.h"

#include <stdatomic.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certgw/store.h"
#include "ca_int.h"

#define OCSP_KEY_PEM_MAX	(64 * 1024)
#define OCSP_CERT_PEM_MAX	(64 * 1024)
#define OCSP_NHASH		4	/* CertID hash algorithms accepted */
#define OCSP_SIGNER_MARGIN_S	60	/* stop using a signer this close to
					   its notAfter */

/* The CA's issuerNameHash and issuerKeyHash under one algorithm. */
struct ocsp_idhash {
	int		 nid;		/* NID_sha1, ... */
	unsigned char	 name[EVP_MAX_MD_SIZE];
	unsigned char	 key[EVP_MAX_MD_SIZE];
	unsigned int	 len;		/* bytes in each */
};

struct ca_ocsp {
	struct ca	*ca;		/* borrowed */
	uint32_t	 validity_s;	/* nextUpdate - thisUpdate */
	struct ocsp_idhash ids[OCSP_NHASH];
	X509		*signer;	/* delegated certificate, or NULL */
	EVP_PKEY	*signer_key;	/* its key */
	EVP_MD_CTX	*signer_tmpl;	/* DigestSign set up once; copied */
	int64_t		 signer_not_after; /* unix seconds */
	atomic_bool	 signer_expired_logged;
};

void
ca_ocsp_config_cleanup(struct ca_ocsp_config *c)
{
	if (c == NULL)
		return;
	cg_free(c->signer_cert);
	cg_free(c->signer_key);
	cg_free(c->signer_key_pass_file);
	cg_free(c->signer_key_pass_env);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------ set-up */

static enum cg_code
idhash_make(struct ocsp_idhash *h, int nid, X509 *cacert, struct cg_err *err)
{
	const EVP_MD		*md = EVP_get_digestbynid(nid);
	const ASN1_BIT_STRING	*key = X509_get0_pubkey_bitstr(cacert);
	const unsigned char	*nder = NULL;
	size_t			 nlen = 0;
	unsigned int		 l1 = 0, l2 = 0;

	h->nid = nid;
	/* issuerNameHash: over the DER of the issuer's subject name;
	 * issuerKeyHash: over the subjectPublicKey bits (RFC 6960 4.1.1). */
	if (md == NULL || key == NULL ||
	    X509_NAME_get0_der(X509_get_subject_name(cacert), &nder,
	    &nlen) != 1 ||
	    EVP_Digest(nder, nlen, h->name, &l1, md, NULL) != 1 ||
	    EVP_Digest(key->data, (size_t)key->length, h->key, &l2, md,
	    NULL) != 1 || l1 != l2)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot hash the CA "
		    "name and key for OCSP");
	h->len = l1;
	return CG_OK;
}

static enum cg_code
signer_key_load(const struct ca_ocsp_config *conf, EVP_PKEY **keyp,
    struct cg_err *err)
{
	BIO		*bio = NULL;
	uint8_t		*pem = NULL;
	size_t		 len = 0;
	char		*pass = NULL;
	enum cg_code	 rc;

	*keyp = NULL;
	if (conf->signer_key_pass_file != NULL ||
	    conf->signer_key_pass_env != NULL) {
		rc = cg_secret_load(conf->signer_key_pass_file,
		    conf->signer_key_pass_file == NULL ?
		    conf->signer_key_pass_env : NULL, &pass, err);
		if (rc != CG_OK)
			return rc;
	}
	rc = cg_file_read(conf->signer_key, OCSP_KEY_PEM_MAX, &pem, &len, err);
	if (rc != CG_OK)
		goto out;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	*keyp = PEM_read_bio_PrivateKey_ex(bio, NULL, cg_pem_pass_cb, pass,
	    NULL, NULL);
	if (*keyp == NULL)
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot load the OCSP "
		    "signer key (%s)", pass == NULL ? "is it encrypted?" :
		    "wrong passphrase?");
out:
	BIO_free(bio);
	if (pem != NULL)
		OPENSSL_cleanse(pem, len);
	cg_free(pem);
	cg_secret_free(pass);
	return rc;
}

static enum cg_code
signer_cert_load(const char *path, X509 **certp, struct cg_err *err)
{
	BIO		*bio;
	uint8_t		*pem = NULL;
	size_t		 len = 0;
	enum cg_code	 rc;

	*certp = NULL;
	rc = cg_file_read(path, OCSP_CERT_PEM_MAX, &pem, &len, err);
	if (rc != CG_OK)
		return rc;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio != NULL)
		*certp = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	cg_free(pem);
	if (*certp == NULL)
		return cg_err_crypto(err, CG_EINVAL, "cannot read the OCSP "
		    "signer certificate (PEM expected)");
	return CG_OK;
}

/*
 * A delegated responder must be certified by the CA itself for OCSP
 * signing (RFC 6960 4.2.2.2), or clients reject every response.
 */
static enum cg_code
signer_check(struct ca_ocsp *o, int64_t now, struct cg_err *err)
{
	X509		*cacert = o->ca->cert;
	uint32_t	 xku;
	int64_t		 nb, na;
	enum cg_code	 rc;

	if (X509_check_issued(cacert, o->signer) != X509_V_OK ||
	    X509_verify(o->signer, X509_get0_pubkey(cacert)) != 1)
		return cg_err_crypto(err, CG_EINVAL, "the OCSP signer "
		    "certificate was not issued by this CA");
	xku = X509_get_extended_key_usage(o->signer);
	if ((X509_get_extension_flags(o->signer) & EXFLAG_XKUSAGE) == 0 ||
	    (xku & XKU_OCSP_SIGN) == 0)
		return cg_err_set(err, CG_EINVAL, "the OCSP signer "
		    "certificate lacks extendedKeyUsage OCSPSigning");
	if (X509_check_private_key(o->signer, o->signer_key) != 1)
		return cg_err_crypto(err, CG_EINVAL, "the OCSP signer key "
		    "does not match its certificate");
	rc = ca_time_unix(X509_get0_notBefore(o->signer), &nb, err);
	if (rc == CG_OK)
		rc = ca_time_unix(X509_get0_notAfter(o->signer), &na, err);
	if (rc != CG_OK)
		return rc;
	if (nb > now || na <= now + OCSP_SIGNER_MARGIN_S)
		return cg_err_set(err, CG_EINVAL, "the OCSP signer "
		    "certificate is not valid now (run `certgw ocsp-signer "
		    "init --force`)");
	o->signer_not_after = na;
	return CG_OK;
}

static enum cg_code
signer_open(struct ca_ocsp *o, const struct ca_ocsp_config *conf,
    struct cg_err *err)
{
	enum cg_code	 rc;

	if (conf->signer_key == NULL)
		return cg_err_set(err, CG_EINVAL, "an OCSP signer needs both "
		    "signer_cert and signer_key");
	rc = signer_cert_load(conf->signer_cert, &o->signer, err);
	if (rc == CG_OK)
		rc = signer_key_load(conf, &o->signer_key, err);
	if (rc == CG_OK)
		rc = signer_check(o, cg_now(), err);
	if (rc == CG_OK)
		rc = ca_sign_ctx_new(o->signer_key, &o->signer_tmpl, err);
	return rc;
}

enum cg_code
ca_ocsp_open(struct ca *ca, const struct ca_ocsp_config *conf,
    struct ca_ocsp **op, struct cg_err *err)
{
	static const int	 nids[OCSP_NHASH] = {
		NID_sha1, NID_sha256, NID_sha384, NID_sha512
	};
	struct ca_ocsp		*o;
	enum cg_code		 rc = CG_OK;
	size_t			 i;

	*op = NULL;
	if (ca == NULL || ca->cert == NULL)
		return cg_err_set(err, CG_EINVAL, "no CA for OCSP");
	o = cg_calloc(1, sizeof(*o));
	if (o == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	o->ca = ca;
	atomic_init(&o->signer_expired_logged, false);
	o->validity_s = conf != NULL && conf->validity_s != 0 ?
	    conf->validity_s : CA_OCSP_VALIDITY_DEFAULT;
	for (i = 0; rc == CG_OK && i < OCSP_NHASH; i++)
		rc = idhash_make(&o->ids[i], nids[i], ca->cert, err);
	if (rc == CG_OK && conf != NULL && conf->signer_cert != NULL)
		rc = signer_open(o, conf, err);
	else if (rc == CG_OK && conf != NULL && conf->signer_key != NULL)
		rc = cg_err_set(err, CG_EINVAL, "an OCSP signer needs both "
		    "signer_cert and signer_key");
	if (rc != CG_OK) {
		ca_ocsp_free(o);
		return rc;
	}
	*op = o;
	return CG_OK;
}

void
ca_ocsp_free(struct ca_ocsp *o)
{
	if (o == NULL)
		return;
	X509_free(o->signer);
	EVP_MD_CTX_free(o->signer_tmpl);
	EVP_PKEY_free(o->signer_key);
	cg_free(o);
}

bool
ca_ocsp_delegated(const struct ca_ocsp *o)
{
	return o != NULL && o->signer != NULL;
}

/* --------------------------------------------------------- encoding */

static enum cg_code
resp_der(OCSP_RESPONSE *resp, uint8_t **derp, size_t *lenp,
    struct cg_err *err)
{
	unsigned char	*p;
	uint8_t		*der;
	int		 len;

	len = i2d_OCSP_RESPONSE(resp, NULL);
	if (len <= 0)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode the "
		    "OCSP response");
	der = cg_malloc((size_t)len);
	if (der == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	p = der;
	if (i2d_OCSP_RESPONSE(resp, &p) != len) {
		cg_free(der);
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode the "
		    "OCSP response");
	}
	*derp = der;
	*lenp = (size_t)len;
	return CG_OK;
}

enum cg_code
ca_ocsp_error_der(enum ca_ocsp_status st, uint8_t **derp, size_t *lenp,
    struct cg_err *err)
{
	OCSP_RESPONSE	*resp;
	enum cg_code	 rc;

	*derp = NULL;
	*lenp = 0;
	if (st == CA_OCSP_SUCCESSFUL)
		return cg_err_set(err, CG_EINVAL, "a successful response "
		    "must be signed");
	resp = OCSP_response_create((int)st, NULL);
	if (resp == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	rc = resp_der(resp, derp, lenp, err);
	OCSP_RESPONSE_free(resp);
	return rc;
}

/* ----------------------------------------------------------- request */

/*
 * The request's nonce extension, checked (RFC 8954: an OCTET STRING of
 * 1 to 32 bytes inside extnValue), or NULL when it has none.  *whyp is
 * set when the request must be refused as malformed.
 */
static X509_EXTENSION *
req_nonce(OCSP_REQUEST *req, const char **whyp)
{
	X509_EXTENSION		*ext;
	ASN1_OCTET_STRING	*val, *inner;
	const unsigned char	*p;
	int			 idx, i, n;
	long			 vlen;

	*whyp = NULL;
	n = OCSP_REQUEST_get_ext_count(req);
	for (i = 0; i < n; i++) {
		ext = OCSP_REQUEST_get_ext(req, i);
		if (X509_EXTENSION_get_critical(ext) &&
		    OBJ_obj2nid(X509_EXTENSION_get_object(ext)) !=
		    NID_id_pkix_OCSP_Nonce) {
			*whyp = "unknown critical extension";
			return NULL;
		}
	}
	idx = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
	if (idx < 0)
		return NULL;
	if (OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce,
	    idx) >= 0) {
		*whyp = "more than one nonce";
		return NULL;
	}
	ext = OCSP_REQUEST_get_ext(req, idx);
	val = X509_EXTENSION_get_data(ext);
	p = ASN1_STRING_get0_data(val);
	vlen = ASN1_STRING_length(val);
	inner = d2i_ASN1_OCTET_STRING(NULL, &p, vlen);
	if (inner == NULL || p != ASN1_STRING_get0_data(val) + vlen) {
		*whyp = "malformed nonce";
		ext = NULL;
	} else if (ASN1_STRING_length(inner) < 1 ||
	    ASN1_STRING_length(inner) > CA_OCSP_NONCE_MAX) {
		*whyp = "nonce not 1 to 32 bytes";
		ext = NULL;
	}
	ASN1_OCTET_STRING_free(inner);
	return ext;
}

/* The CA's hashes under the CertID's algorithm, or NULL if not ours. */
static const struct ocsp_idhash *
certid_match(const struct ca_ocsp *o, OCSP_CERTID *cid,
    ASN1_INTEGER **serialp)
{
	ASN1_OCTET_STRING	*nh = NULL, *kh = NULL;
	ASN1_OBJECT		*alg = NULL;
	const struct ocsp_idhash *h;
	int			 nid, i;

	*serialp = NULL;
	if (OCSP_id_get0_info(&nh, &alg, &kh, serialp, cid) != 1 ||
	    nh == NULL || kh == NULL || alg == NULL || *serialp == NULL)
		return NULL;
	nid = OBJ_obj2nid(alg);
	for (i = 0; i < OCSP_NHASH; i++) {
		h = &o->ids[i];
		if (h->nid != nid)
			continue;
		if (ASN1_STRING_length(nh) == (int)h->len &&
		    ASN1_STRING_length(kh) == (int)h->len &&
		    CRYPTO_memcmp(ASN1_STRING_get0_data(nh), h->name,
		    h->len) == 0 &&
		    CRYPTO_memcmp(ASN1_STRING_get0_data(kh), h->key,
		    h->len) == 0)
			return h;
		return NULL;
	}
	return NULL;
}

/*
 * The serial as the store spells it, or false when it cannot be one of
 * ours: negative, zero or longer than RFC 5280's 20 octets.  The length
 * check also keeps a 64-digit value from being taken for a thumbprint.
 */
static bool
serial_hex(const ASN1_INTEGER *ai, char hex[CA_SERIAL_HEX_MAX])
{
	BIGNUM	*bn;
	char	*s = NULL;
	bool	 ok = false;

	bn = ASN1_INTEGER_to_BN(ai, NULL);
	if (bn == NULL) {
		ERR_clear_error();
		return false;
	}
	if (!BN_is_negative(bn) && !BN_is_zero(bn) &&
	    BN_num_bytes(bn) <= CA_SERIAL_BYTES)
		s = BN_bn2hex(bn);
	if (s != NULL && strlen(s) < CA_SERIAL_HEX_MAX) {
		memcpy(hex, s, strlen(s) + 1);
		ok = true;
	}
	OPENSSL_free(s);
	BN_free(bn);
	return ok;
}

/* ---------------------------------------------------------- response */

struct ocsp_times {
	ASN1_TIME	*this_upd;	/* now - backdate */
	ASN1_TIME	*next_upd;	/* now + validity (or signer's end) */
};

/*
 * One CertID's SingleResponse.  A store failure is ours (CG_EIO); not
 * finding the serial is an answer (unknown).
 */
static enum cg_code
single_add(const struct ca_ocsp *o, struct ca_store *st, OCSP_BASICRESP *bs,
    OCSP_CERTID *cid, const struct ocsp_times *t, struct ca_ocsp_result *res,
    bool *oursp, struct cg_err *err)
{
	struct ca_cert_rec	*rec = NULL;
	struct cg_err		 lerr = { 0 };
	ASN1_INTEGER		*serial;
	ASN1_TIME		*rtime = NULL;
	char			 hex[CA_SERIAL_HEX_MAX];
	int			 status = V_OCSP_CERTSTATUS_UNKNOWN;
	int			 reason = -1;
	enum cg_code		 rc;

	*oursp = certid_match(o, cid, &serial) != NULL;
	if (!*oursp)
		return CG_OK;
	if (serial_hex(serial, hex)) {
		rc = ca_store_cert_get(st, hex, &rec, &lerr);
		if (rc != CG_OK && rc != CG_ENOTFOUND) {
			if (err != NULL && err->code == CG_OK)
				*err = lerr;
			return rc;
		}
	}
	/* One CA today, but the store may hold an earlier CA's records. */
	if (rec != NULL && strcmp(rec->issuer, o->ca->name) == 0) {
		status = rec->status == CA_CERT_REVOKED ?
		    V_OCSP_CERTSTATUS_REVOKED : V_OCSP_CERTSTATUS_GOOD;
		if (status == V_OCSP_CERTSTATUS_REVOKED) {
			rtime = ASN1_TIME_set(NULL, (time_t)rec->revoked_at);
			/* As in the CRL: no reason rather than unspecified. */
			if (rec->revoke_reason > CA_REASON_UNSPECIFIED &&
			    rec->revoke_reason < CA_REASON__MAX)
				reason = rec->revoke_reason;
		}
	}
	ca_cert_rec_free(rec);
	if (status == V_OCSP_CERTSTATUS_REVOKED && rtime == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	rc = OCSP_basic_add1_status(bs, cid, status, reason, rtime,
	    t->this_upd, t->next_upd) != NULL ? CG_OK :
	    cg_err_crypto(err, CG_ENOMEM, "cannot add an OCSP status");
	ASN1_TIME_free(rtime);
	if (status == V_OCSP_CERTSTATUS_GOOD)
		res->ngood++;
	else if (status == V_OCSP_CERTSTATUS_REVOKED)
		res->nrevoked++;
	else
		res->nunknown++;
	return rc;
}

/* Sign with the delegated certificate while it is valid, else the CA. */
static enum cg_code
resp_sign(const struct ca_ocsp *o, OCSP_BASICRESP *bs, bool delegated,
    struct cg_err *err)
{
	EVP_MD_CTX	*mctx;
	enum cg_code	 rc = CG_OK;

	if (!delegated)
		return ca_signer_sign_ocsp(o->ca->signer, bs, o->ca->cert,
		    OCSP_RESPID_KEY | OCSP_NOCERTS, err);
	mctx = EVP_MD_CTX_new();
	if (mctx == NULL || EVP_MD_CTX_copy_ex(mctx, o->signer_tmpl) != 1)
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot start a "
		    "signature");
	/* Without OCSP_NOCERTS the signer's certificate goes along:
	 * clients need it to check the signature. */
	else if (OCSP_basic_sign_ctx(bs, o->signer, mctx, NULL,
	    OCSP_RESPID_KEY) != 1)
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot sign OCSP "
		    "response");
	EVP_MD_CTX_free(mctx);
	return rc;
}

/* Whether the delegated signer can sign a response made at now. */
static bool
use_delegated(const struct ca_ocsp *o, int64_t now)
{
	struct ca_ocsp	*w = (struct ca_ocsp *)o;	/* the log flag only */

	if (o->signer == NULL)
		return false;
	if (o->signer_not_after > now + OCSP_SIGNER_MARGIN_S)
		return true;
	if (!atomic_exchange(&w->signer_expired_logged, true))
		cg_log_warn("event=ocsp_signer_expired msg=\"the delegated "
		    "OCSP signer expired; the CA key signs until it is "
		    "renewed (certgw ocsp-signer init --force)\"");
	return false;
}

static enum cg_code
times_make(const struct ca_ocsp *o, int64_t now, bool delegated,
    struct ocsp_times *t, int64_t *nextp, struct cg_err *err)
{
	int64_t		 next = now + (int64_t)o->validity_s;

	/* A response must not outlive the certificate that signed it. */
	if (delegated && next > o->signer_not_after)
		next = o->signer_not_after;
	t->this_upd = ASN1_TIME_set(NULL, (time_t)(now - CA_BACKDATE_S));
	t->next_upd = ASN1_TIME_set(NULL, (time_t)next);
	if (t->this_upd == NULL || t->next_upd == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	*nextp = next;
	return CG_OK;
}

/*
 * The signed answer to a parsed request whose nonce (may be NULL) was
 * checked; CG_OK with *bsp, or an error of ours.
 */
static enum cg_code
basic_make(const struct ca_ocsp *o, struct ca_store *st, OCSP_REQUEST *req,
    X509_EXTENSION *nonce, int64_t now, OCSP_BASICRESP **bsp,
    struct ca_ocsp_result *res, struct cg_err *err)
{
	OCSP_BASICRESP		*bs;
	struct ocsp_times	 t = { NULL, NULL };
	bool			 delegated, ours = true;
	int			 i, n = OCSP_request_onereq_count(req);
	enum cg_code		 rc;

	*bsp = NULL;
	delegated = use_delegated(o, now);
	bs = OCSP_BASICRESP_new();
	if (bs == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	rc = times_make(o, now, delegated, &t, &res->next_update, err);
	for (i = 0; rc == CG_OK && ours && i < n; i++)
		rc = single_add(o, st, bs, OCSP_onereq_get0_id(
		    OCSP_request_onereq_get0(req, i)), &t, res, &ours, err);
	if (rc == CG_OK && !ours) {
		/* Not ours to answer: not signed. */
		res->status = CA_OCSP_UNAUTHORIZED;
		res->why = "a CertID names another issuer";
		goto out;
	}
	if (rc == CG_OK && nonce != NULL &&
	    OCSP_BASICRESP_add_ext(bs, nonce, -1) != 1)
		rc = cg_err_crypto(err, CG_ENOMEM, "cannot echo the nonce");
	if (rc == CG_OK)
		rc = resp_sign(o, bs, delegated, err);
	if (rc == CG_OK) {
		*bsp = bs;
		bs = NULL;
	}
out:
	ASN1_TIME_free(t.this_upd);
	ASN1_TIME_free(t.next_upd);
	OCSP_BASICRESP_free(bs);
	return rc;
}

/* Parse and check; NULL with res->why set when malformed. */
static OCSP_REQUEST *
req_parse(const uint8_t *der, size_t len, X509_EXTENSION **noncep,
    struct ca_ocsp_result *res)
{
	OCSP_REQUEST		*req;
	const unsigned char	*p = der;
	int			 n;

	*noncep = NULL;
	if (der == NULL || len == 0 || len > CA_OCSP_REQ_MAX) {
		res->why = len > CA_OCSP_REQ_MAX ? "request too large" :
		    "empty request";
		return NULL;
	}
	req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	if (req == NULL || p != der + len) {
		ERR_clear_error();
		OCSP_REQUEST_free(req);
		res->why = "not a DER OCSPRequest";
		return NULL;
	}
	n = OCSP_request_onereq_count(req);
	if (n < 1 || n > CA_OCSP_CERTIDS_MAX) {
		res->why = n < 1 ? "no CertID" : "too many CertIDs";
		OCSP_REQUEST_free(req);
		return NULL;
	}
	*noncep = req_nonce(req, &res->why);
	if (res->why != NULL) {
		OCSP_REQUEST_free(req);
		return NULL;
	}
	return req;
}

enum cg_code
ca_ocsp_respond(const struct ca_ocsp *o, struct ca_store *st,
    const uint8_t *der, size_t len, int64_t now, uint8_t **derp,
    size_t *lenp, struct ca_ocsp_result *res, struct cg_err *err)
{
	OCSP_REQUEST	*req;
	OCSP_BASICRESP	*bs = NULL;
	OCSP_RESPONSE	*resp = NULL;
	X509_EXTENSION	*nonce;
	enum cg_code	 rc;

	*derp = NULL;
	*lenp = 0;
	memset(res, 0, sizeof(*res));
	res->status = CA_OCSP_MALFORMED;
	if (o == NULL || st == NULL)
		return cg_err_set(err, CG_EINVAL, "no OCSP responder or store");
	req = req_parse(der, len, &nonce, res);
	if (req == NULL)
		return ca_ocsp_error_der(res->status, derp, lenp, err);
	res->nonce = nonce != NULL;
	res->status = CA_OCSP_SUCCESSFUL;
	rc = basic_make(o, st, req, nonce, now, &bs, res, err);
	OCSP_REQUEST_free(req);
	if (rc != CG_OK) {
		res->status = CA_OCSP_INTERNAL;
		res->why = "internal error";
		res->ngood = res->nrevoked = res->nunknown = 0;
		res->next_update = 0;
		/* Still answer the client; err keeps the cause for the log. */
		(void)ca_ocsp_error_der(CA_OCSP_INTERNAL, derp, lenp, NULL);
		return rc;
	}
	if (bs == NULL) {
		res->next_update = 0;
		return ca_ocsp_error_der(res->status, derp, lenp, err);
	}
	resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	if (resp == NULL)
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
	else
		rc = resp_der(resp, derp, lenp, err);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	if (rc != CG_OK)
		return rc;
	res->cacheable = !res->nonce && res->nunknown == 0;
	return CG_OK;
}
