/*
 * ca_csr_der.c - the fast way into a PKCS#10 request (RFC 2986).  In
 * OpenSSL 3.0, d2i_X509_REQ() decodes the public key through a freshly
 * built provider decoder chain, which costs more than verifying the
 * request's signature (docs/performance.md).  Here the DER is walked by
 * hand, every part but the key goes through OpenSSL's own d2i functions,
 * the key is imported from its raw fields (EVP_PKEY_fromdata), and the
 * signature is checked over the request's original CertificationRequestInfo
 * bytes.  Key or signature algorithms not listed here are reported as not
 * handled, and ca_csr_parse() takes the d2i_X509_REQ() path for them.
 *
 * The X509_REQ built here carries the key as bytes only: its
 * X509_REQ_get0_pubkey() is NULL; the decoded key is ca_csr->pub.
 */
#include "certgw/ca.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "ca_int.h"

#define DER_SEQUENCE	0x30
#define DER_SET		0x31
#define DER_INTEGER	0x02
#define DER_BIT_STRING	0x03
#define DER_CTX0_CONS	0xa0	/* [0] IMPLICIT, constructed */
#define DER_LEN_BYTES	3	/* long-form length bytes we accept */
#define CSR_ATTRS_MAX	32	/* attributes in one request */

/* A span of DER bytes. */
struct der {
	const uint8_t	*p;
	size_t		 len;
};

/*
 * Take the next element from d if its (one-byte) tag is tag: *tlv is the
 * whole element, *val its contents.  Definite lengths only, at most
 * DER_LEN_BYTES length bytes, minimal encoding.
 */
static bool
der_take(struct der *d, uint8_t tag, struct der *tlv, struct der *val)
{
	size_t	 hdr = 2, len, nb, i;

	if (d->len < 2 || d->p[0] != tag)
		return false;
	len = d->p[1];
	if (len & 0x80) {
		nb = len & 0x7f;
		if (nb == 0 || nb > DER_LEN_BYTES || d->len < 2 + nb ||
		    d->p[2] == 0)
			return false;
		for (len = 0, i = 0; i < nb; i++)
			len = (len << 8) | d->p[2 + i];
		if (len < 0x80)
			return false;
		hdr += nb;
	}
	if (len > d->len - hdr)
		return false;
	if (tlv != NULL) {
		tlv->p = d->p;
		tlv->len = hdr + len;
	}
	if (val != NULL) {
		val->p = d->p + hdr;
		val->len = len;
	}
	d->p += hdr + len;
	d->len -= hdr + len;
	return true;
}

/* ---------------------------------------------------------------- key */

/* An RSAPublicKey (RFC 8017 A.1.1): SEQUENCE { n INTEGER, e INTEGER }. */
static bool
rsa_fields(const uint8_t *key, size_t len, BIGNUM **np, BIGNUM **ep)
{
	struct der	 d = { key, len }, seq, n, e;

	*np = *ep = NULL;
	if (!der_take(&d, DER_SEQUENCE, NULL, &seq) || d.len != 0 ||
	    !der_take(&seq, DER_INTEGER, NULL, &n) ||
	    !der_take(&seq, DER_INTEGER, NULL, &e) || seq.len != 0)
		return false;
	/* Positive (no sign bit), minimal (no needless leading zero). */
	if (n.len == 0 || e.len == 0 || (n.p[0] & 0x80) || (e.p[0] & 0x80) ||
	    (n.len > 1 && n.p[0] == 0 && !(n.p[1] & 0x80)) ||
	    (e.len > 1 && e.p[0] == 0 && !(e.p[1] & 0x80)))
		return false;
	if (n.len > CA_RSA_BITS_MAX / 8 + 1 || e.len > 8)
		return false;
	*np = BN_bin2bn(n.p, (int)n.len, NULL);
	*ep = BN_bin2bn(e.p, (int)e.len, NULL);
	return *np != NULL && *ep != NULL;
}

static EVP_PKEY *
fromdata_sel(const char *type, int selection, const OSSL_PARAM *params)
{
	EVP_PKEY_CTX	*pctx;
	EVP_PKEY	*pkey = NULL;

	pctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pkey, selection,
	    (OSSL_PARAM *)params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(pctx);
	return pkey;
}

static EVP_PKEY *
fromdata(const char *type, const OSSL_PARAM *params)
{
	return fromdata_sel(type, EVP_PKEY_PUBLIC_KEY, params);
}

/*
 * EC keys are copies of a per-curve parameters-only key with the point
 * set: building the group from its name for every request costs four
 * times as much.  The templates are made once and only read afterwards.
 */
static const int ec_curves[] = {
	NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1,
};
static EVP_PKEY		*ec_templates[3];
static pthread_once_t	 ec_once = PTHREAD_ONCE_INIT;

static void
ec_templates_make(void)
{
	OSSL_PARAM	 params[2];
	size_t		 i;

	for (i = 0; i < sizeof(ec_curves) / sizeof(ec_curves[0]); i++) {
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_GROUP_NAME,
		    (char *)OBJ_nid2sn(ec_curves[i]), 0);
		params[1] = OSSL_PARAM_construct_end();
		ec_templates[i] = fromdata_sel("EC", EVP_PKEY_KEY_PARAMETERS,
		    params);
	}
}

/* The key on curve nid at point key; NULL for other curves, bad points. */
static EVP_PKEY *
ec_import(int nid, const uint8_t *key, size_t len)
{
	EVP_PKEY	*pkey;
	size_t		 i;

	if (pthread_once(&ec_once, ec_templates_make) != 0)
		return NULL;
	for (i = 0; i < sizeof(ec_curves) / sizeof(ec_curves[0]); i++)
		if (ec_curves[i] == nid)
			break;
	if (i == sizeof(ec_curves) / sizeof(ec_curves[0]) ||
	    ec_templates[i] == NULL)
		return NULL;
	pkey = EVP_PKEY_dup(ec_templates[i]);
	if (pkey != NULL && EVP_PKEY_set1_encoded_public_key(pkey, key,
	    len) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	return pkey;
}

static EVP_PKEY *
rsa_import(const uint8_t *key, size_t len)
{
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*params = NULL;
	BIGNUM		*n = NULL, *e = NULL;
	EVP_PKEY	*pkey = NULL;

	if (!rsa_fields(key, len, &n, &e))
		goto out;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	pkey = fromdata("RSA", params);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pkey;
}

/*
 * The key of an SPKI whose algorithm we import directly.  *handled is
 * false for other algorithms; NULL with *handled true is a bad key.
 */
static EVP_PKEY *
key_import(const X509_ALGOR *alg, const uint8_t *key, size_t len,
    bool *handled)
{
	const ASN1_OBJECT	*aobj;
	const void		*pval;
	OSSL_PARAM		 params[2];
	int			 ptype, nid;

	*handled = false;
	X509_ALGOR_get0(&aobj, &ptype, &pval, alg);
	switch (OBJ_obj2nid(aobj)) {
	case NID_X9_62_id_ecPublicKey:
		if (ptype != V_ASN1_OBJECT)
			return NULL;	/* explicit parameters: not ours */
		nid = OBJ_obj2nid(pval);
		if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1 &&
		    nid != NID_secp521r1)
			return NULL;
		*handled = true;
		return ec_import(nid, key, len);
	case NID_rsaEncryption:
		if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
			return NULL;
		*handled = true;
		return rsa_import(key, len);
	case NID_ED25519:
		if (ptype != V_ASN1_UNDEF)
			return NULL;
		*handled = true;
		params[0] = OSSL_PARAM_construct_octet_string(
		    OSSL_PKEY_PARAM_PUB_KEY, (void *)key, len);
		params[1] = OSSL_PARAM_construct_end();
		return fromdata("ED25519", params);
	default:
		return NULL;
	}
}

enum cg_code
ca_pubkey_set_bytes(X509_PUBKEY *dst, const X509_ALGOR *alg,
    const uint8_t *key, size_t len, struct cg_err *err)
{
	const ASN1_OBJECT	*aobj;
	const void		*pval;
	ASN1_OBJECT		*alg_dup = NULL;
	void			*pval_dup = NULL;
	unsigned char		*key_dup = NULL;
	int			 ptype;

	if (len == 0 || len > INT32_MAX)
		return cg_err_set(err, CG_EINVAL, "bad public key");
	X509_ALGOR_get0(&aobj, &ptype, &pval, alg);
	alg_dup = OBJ_dup(aobj);
	key_dup = OPENSSL_memdup(key, len);
	if (alg_dup == NULL || key_dup == NULL)
		goto nomem;
	switch (ptype) {
	case V_ASN1_UNDEF:		/* Ed25519, Ed448 */
	case V_ASN1_NULL:		/* RSA */
		break;
	case V_ASN1_OBJECT:		/* EC: the named curve */
		if ((pval_dup = OBJ_dup(pval)) == NULL)
			goto nomem;
		break;
	case V_ASN1_SEQUENCE:		/* RSA-PSS, explicit EC parameters */
		if ((pval_dup = ASN1_STRING_dup(pval)) == NULL)
			goto nomem;
		break;
	default:
		ASN1_OBJECT_free(alg_dup);
		OPENSSL_free(key_dup);
		return cg_err_set(err, CG_EINVAL, "unsupported key "
		    "algorithm parameters");
	}
	if (X509_PUBKEY_set0_param(dst, alg_dup, ptype, pval_dup, key_dup,
	    (int)len) != 1)
		goto nomem;
	return CG_OK;
nomem:
	if (ptype == V_ASN1_OBJECT)
		ASN1_OBJECT_free(pval_dup);
	else
		ASN1_STRING_free(pval_dup);
	ASN1_OBJECT_free(alg_dup);
	OPENSSL_free(key_dup);
	return cg_err_crypto(err, CG_ENOMEM, "out of memory");
}

/* ---------------------------------------------------------- signature */

/*
 * Verify sig over tbs with pub under sigalg.  *handled is false for
 * signature algorithms that need parameters (RSA-PSS) or do not fit the
 * key; the caller then lets OpenSSL decide.
 */
static bool
sig_verify(const X509_ALGOR *sigalg, const X509_ALGOR *keyalg,
    EVP_PKEY *pub, const struct der *tbs, const uint8_t *sig, size_t siglen,
    bool *handled)
{
	const ASN1_OBJECT	*sobj, *kobj;
	EVP_MD_CTX		*mctx;
	int			 mdnid, pknid, ptype;
	bool			 ok;

	*handled = false;
	X509_ALGOR_get0(&sobj, &ptype, NULL, sigalg);
	X509_ALGOR_get0(&kobj, NULL, NULL, keyalg);
	if (OBJ_find_sigid_algs(OBJ_obj2nid(sobj), &mdnid, &pknid) != 1 ||
	    pknid != OBJ_obj2nid(kobj))
		return false;
	/* ECDSA and EdDSA take no parameters, PKCS#1 v1.5 at most NULL. */
	if (ptype != V_ASN1_UNDEF &&
	    !(ptype == V_ASN1_NULL && pknid == NID_rsaEncryption))
		return false;
	*handled = true;
	mctx = EVP_MD_CTX_new();
	ok = mctx != NULL && EVP_DigestVerifyInit_ex(mctx, NULL,
	    mdnid == NID_undef ? NULL : OBJ_nid2sn(mdnid), NULL, NULL, pub,
	    NULL) == 1 &&
	    EVP_DigestVerify(mctx, sig, siglen, tbs->p, tbs->len) == 1;
	EVP_MD_CTX_free(mctx);
	return ok;
}

/* ------------------------------------------------------------ request */

/* The parts of a request, located in the input. */
struct req_parts {
	struct der	 tbs;		/* CertificationRequestInfo, whole */
	struct der	 subject;	/* Name, whole */
	struct der	 keyalg;	/* SPKI AlgorithmIdentifier, whole */
	struct der	 key;		/* SPKI BIT STRING contents */
	struct der	 attrs;		/* [0] contents, or empty */
	struct der	 sigalg;	/* AlgorithmIdentifier, whole */
	struct der	 sigtlv;	/* BIT STRING, whole */
	struct der	 sig;		/* BIT STRING contents */
};

static bool
req_split(const uint8_t *in, size_t len, struct req_parts *r)
{
	struct der	 d = { in, len }, outer, cri, v, spki;

	memset(r, 0, sizeof(*r));
	if (!der_take(&d, DER_SEQUENCE, NULL, &outer) || d.len != 0 ||
	    !der_take(&outer, DER_SEQUENCE, &r->tbs, &cri) ||
	    !der_take(&outer, DER_SEQUENCE, &r->sigalg, NULL) ||
	    !der_take(&outer, DER_BIT_STRING, &r->sigtlv, &r->sig) ||
	    outer.len != 0)
		return false;
	/* version 0 (v1), the only one there is */
	if (!der_take(&cri, DER_INTEGER, NULL, &v) || v.len != 1 ||
	    v.p[0] != 0 ||
	    !der_take(&cri, DER_SEQUENCE, &r->subject, NULL) ||
	    !der_take(&cri, DER_SEQUENCE, NULL, &spki) ||
	    !der_take(&spki, DER_SEQUENCE, &r->keyalg, NULL) ||
	    !der_take(&spki, DER_BIT_STRING, NULL, &r->key) || spki.len != 0)
		return false;
	if (cri.len > 0 && !der_take(&cri, DER_CTX0_CONS, NULL, &r->attrs))
		return false;
	if (cri.len != 0)
		return false;
	/* Keys and signatures are whole bytes: no unused bits. */
	if (r->key.len < 2 || r->key.p[0] != 0 || r->sig.len < 2 ||
	    r->sig.p[0] != 0)
		return false;
	r->key.p++;
	r->key.len--;
	r->sig.p++;
	r->sig.len--;
	return true;
}

static X509_ALGOR *
algor_d2i(const struct der *d)
{
	const unsigned char	*p = d->p;
	X509_ALGOR		*a;

	a = d2i_X509_ALGOR(NULL, &p, (long)d->len);
	if (a != NULL && p != d->p + d->len) {
		X509_ALGOR_free(a);
		a = NULL;
	}
	return a;
}

/* Subject, attributes and signature into req. */
static bool
req_fill(X509_REQ *req, const struct req_parts *r)
{
	const unsigned char	*p;
	struct der		 attrs = r->attrs, one;
	X509_NAME		*name;
	X509_ATTRIBUTE		*attr;
	ASN1_BIT_STRING		*sig;
	int			 n = 0;
	bool			 ok;

	p = r->sigtlv.p;
	sig = d2i_ASN1_BIT_STRING(NULL, &p, (long)r->sigtlv.len);
	if (sig == NULL || p != r->sigtlv.p + r->sigtlv.len) {
		ASN1_BIT_STRING_free(sig);
		return false;
	}
	X509_REQ_set0_signature(req, sig);
	p = r->subject.p;
	name = d2i_X509_NAME(NULL, &p, (long)r->subject.len);
	ok = name != NULL && p == r->subject.p + r->subject.len &&
	    X509_REQ_set_subject_name(req, name) == 1;
	X509_NAME_free(name);
	while (ok && attrs.len > 0) {
		if (++n > CSR_ATTRS_MAX ||
		    !der_take(&attrs, DER_SEQUENCE, &one, NULL))
			return false;
		p = one.p;
		attr = d2i_X509_ATTRIBUTE(NULL, &p, (long)one.len);
		ok = attr != NULL && p == one.p + one.len &&
		    X509_REQ_add1_attr(req, attr) == 1;
		X509_ATTRIBUTE_free(attr);
	}
	return ok;
}

enum cg_code
ca_csr_parse_der(const uint8_t *der, size_t len, X509_REQ **reqp,
    EVP_PKEY **pubp, bool *handled, struct cg_err *err)
{
	struct req_parts	 r;
	X509_ALGOR		*keyalg = NULL, *sigalg = NULL;
	X509_REQ		*req = NULL;
	EVP_PKEY		*pub = NULL;
	bool			 key_ok, sig_ok;
	enum cg_code		 rc;

	*reqp = NULL;
	*pubp = NULL;
	*handled = false;
	/* Anything odd goes the general way, which names the problem. */
	if (!req_split(der, len, &r) || (keyalg = algor_d2i(&r.keyalg)) ==
	    NULL || (sigalg = algor_d2i(&r.sigalg)) == NULL) {
		rc = CG_OK;
		goto out;
	}
	pub = key_import(keyalg, r.key.p, r.key.len, &key_ok);
	if (!key_ok) {
		rc = CG_OK;
		goto out;
	}
	*handled = true;
	if (pub == NULL) {
		rc = cg_err_crypto(err, CG_EINVAL, "csr public key is "
		    "malformed");
		goto out;
	}
	if (!sig_verify(sigalg, keyalg, pub, &r.tbs, r.sig.p, r.sig.len,
	    &sig_ok)) {
		if (!sig_ok) {
			*handled = false;
			rc = CG_OK;
		} else {
			rc = cg_err_crypto(err, CG_EINVAL,
			    "csr signature does not verify");
		}
		goto out;
	}
	req = X509_REQ_new();
	if (req == NULL || !req_fill(req, &r)) {
		rc = cg_err_crypto(err, CG_EINVAL, "csr is not one DER "
		    "request");
		goto out;
	}
	rc = ca_pubkey_set_bytes(X509_REQ_get_X509_PUBKEY(req), keyalg,
	    r.key.p, r.key.len, err);
	if (rc != CG_OK)
		goto out;
	if (X509_REQ_set1_signature_algo(req, sigalg) != 1 ||
	    X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	*reqp = req;
	*pubp = pub;
	req = NULL;
	pub = NULL;
	rc = CG_OK;
out:
	X509_REQ_free(req);
	EVP_PKEY_free(pub);
	X509_ALGOR_free(keyalg);
	X509_ALGOR_free(sigalg);
	return rc;
}
