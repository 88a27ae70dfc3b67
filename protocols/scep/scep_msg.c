/*
 * scep_msg.c - reading a client's SCEP PKIMessage (RFC 8894 §3.2): the
 * outer SignedData and its signed attributes, the EnvelopedData inside it,
 * and the request it carries.  Each step says which failInfo a failure
 * earns, so the server can answer with a FAILURE CertRep; replies are
 * scep_rep.c's, and whether a request may be granted is the server's.
 */
#include "scep_msg.h"

#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#define DER_DEPTH_MAX	32	/* nesting in one PKIMessage */
#define BER_DEPTH_MAX	16	/* nesting skipped in an envelope */

static const char *const type_names[SCEP_MT__MAX] = {
	[SCEP_MT_NONE] = "none",
	[SCEP_MT_CERTREP] = "certrep",
	[SCEP_MT_RENEWALREQ] = "renewalreq",
	[SCEP_MT_PKCSREQ] = "pkcsreq",
	[SCEP_MT_CERTPOLL] = "certpoll",
	[SCEP_MT_GETCERT] = "getcert",
	[SCEP_MT_GETCRL] = "getcrl",
};

static const char *const fail_names[SCEP_FAIL__MAX] = {
	[SCEP_FAIL_BADALG] = "badalg",
	[SCEP_FAIL_BADMESSAGECHECK] = "badmessagecheck",
	[SCEP_FAIL_BADREQUEST] = "badrequest",
	[SCEP_FAIL_BADTIME] = "badtime",
	[SCEP_FAIL_BADCERTID] = "badcertid",
};

const char *
scep_msg_type_name(enum scep_msg_type t)
{
	if ((unsigned)t >= SCEP_MT__MAX || type_names[t] == NULL)
		return "unknown";
	return type_names[t];
}

const char *
scep_fail_name(enum scep_fail f)
{
	return (unsigned)f < SCEP_FAIL__MAX ? fail_names[f] : "unknown";
}

bool
scep_md_is_allowed(int nid)
{
	return nid == NID_sha1 || nid == NID_sha224 || nid == NID_sha256 ||
	    nid == NID_sha384 || nid == NID_sha512;
}

bool
scep_cipher_is_allowed(int nid)
{
	return nid == NID_aes_128_cbc || nid == NID_aes_192_cbc ||
	    nid == NID_aes_256_cbc || nid == NID_des_ede3_cbc;
}

void
scep_req_free(struct scep_req *req)
{
	if (req == NULL)
		return;
	if (req->challenge != NULL)
		OPENSSL_cleanse(req->challenge, req->challenge_len);
	cg_free(req->challenge);
	ASN1_INTEGER_free(req->serial);
	X509_NAME_free(req->subject);
	X509_NAME_free(req->issuer);
	ca_csr_free(req->csr);
	X509_free(req->signer);
	cg_free(req);
}

/* ------------------------------------------------------------- DER */

/*
 * Whether der is a sequence of strict DER elements: single-byte tags,
 * definite lengths in the fewest bytes, and universal types constructed
 * only for SEQUENCE and SET.  OpenSSL's d2i also takes BER, whose other
 * encodings of the same value would let two messages differ in bytes (and
 * idempotency digest) but not in meaning.  The PKIMessage is small
 * (SCEP_MSG_MAX), so lengths fit in three bytes.
 */
static bool
der_is_strict(const uint8_t *der, size_t len, int depth)
{
	size_t	 hdr, clen, nb, i;
	uint8_t	 tag;

	if (depth > DER_DEPTH_MAX)
		return false;
	while (len > 0) {
		tag = der[0];
		if (len < 2 || (tag & 0x1f) == 0x1f || tag == 0)
			return false;
		if (der[1] < 0x80) {
			clen = der[1];
			hdr = 2;
		} else {
			nb = der[1] & 0x7f;
			if (nb == 0 || nb > 3 || len < 2 + nb || der[2] == 0)
				return false;
			for (clen = 0, i = 0; i < nb; i++)
				clen = clen << 8 | der[2 + i];
			if (clen < 0x80)
				return false;
			hdr = 2 + nb;
		}
		if (clen > len - hdr)
			return false;
		if ((tag & 0x20) != 0) {
			if ((tag & 0xc0) == 0 && tag != 0x30 && tag != 0x31)
				return false;
			if (!der_is_strict(der + hdr, clen, depth + 1))
				return false;
		}
		der += hdr + clen;
		len -= hdr + clen;
	}
	return true;
}

/*
 * Enter the BER element at *pp (class cls, number tag, constructed): *pp
 * becomes its content and *endp the content's end, or stays the outer end
 * for an indefinite length.
 */
static bool
ber_enter(const uint8_t **pp, const uint8_t **endp, int cls, int tag)
{
	const unsigned char	*p = *pp;
	long			 clen;
	int			 r, t, c;

	r = ASN1_get_object(&p, &clen, &t, &c, (long)(*endp - *pp));
	if ((r & 0x80) != 0 || (r & V_ASN1_CONSTRUCTED) == 0 || t != tag ||
	    c != cls)
		return false;
	*pp = p;
	if ((r & 1) == 0)
		*endp = p + clen;
	return true;
}

/* Step over the BER element at *pp, with or without a definite length. */
static bool
ber_skip(const uint8_t **pp, const uint8_t *end, int depth)
{
	const unsigned char	*p = *pp;
	long			 clen;
	int			 r, t, c;

	if (depth > BER_DEPTH_MAX || *pp >= end)
		return false;
	r = ASN1_get_object(&p, &clen, &t, &c, (long)(end - *pp));
	if ((r & 0x80) != 0)
		return false;
	if ((r & 1) == 0) {
		*pp = p + clen;
		return true;
	}
	while (p < end) {
		if (end - p >= 2 && p[0] == 0 && p[1] == 0) {
			*pp = p + 2;
			return true;
		}
		if (!ber_skip(&p, end, depth + 1))
			return false;
	}
	return false;
}

/*
 * The contentEncryptionAlgorithm of a ContentInfo holding an EnvelopedData
 * (RFC 5652 §6.1), which OpenSSL 3.0 has no getter for.  The envelope may
 * be BER: clients (Go's pkcs7 among them) send the encrypted content in
 * constructed form.
 *
 *	ContentInfo ::= SEQUENCE { OID, [0] EXPLICIT EnvelopedData }
 *	EnvelopedData ::= SEQUENCE { version, [0] originatorInfo OPTIONAL,
 *	    SET recipientInfos, SEQUENCE { OID, AlgorithmIdentifier, ... } }
 */
static int
envelope_cipher_nid(const uint8_t *der, size_t len)
{
	const uint8_t	*p = der, *end = der + len, *q;
	const unsigned char *op;
	ASN1_OBJECT	*obj;
	long		 clen;
	int		 r, t, c, nid;

	if (!ber_enter(&p, &end, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE) ||
	    !ber_skip(&p, end, 0) ||
	    !ber_enter(&p, &end, V_ASN1_CONTEXT_SPECIFIC, 0) ||
	    !ber_enter(&p, &end, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE) ||
	    !ber_skip(&p, end, 0))
		return NID_undef;
	q = p;
	r = ASN1_get_object(&q, &clen, &t, &c, (long)(end - p));
	if ((r & 0x80) == 0 && c == V_ASN1_CONTEXT_SPECIFIC && t == 0 &&
	    !ber_skip(&p, end, 0))
		return NID_undef;
	if (!ber_skip(&p, end, 0) ||
	    !ber_enter(&p, &end, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE) ||
	    !ber_skip(&p, end, 0) ||
	    !ber_enter(&p, &end, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE))
		return NID_undef;
	op = p;
	obj = d2i_ASN1_OBJECT(NULL, &op, (long)(end - p));
	nid = obj != NULL ? OBJ_obj2nid(obj) : NID_undef;
	ASN1_OBJECT_free(obj);
	return nid;
}

/* ------------------------------------------------- signed attributes */

/* The single value of the single signed attribute oid, of ASN.1 type. */
static const ASN1_STRING *
attr_get(const CMS_SignerInfo *si, const char *oid, int type)
{
	const ASN1_STRING	*s;
	ASN1_OBJECT		*obj;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL)
		return NULL;
	/* -3: absent if repeated or if it has more than one value. */
	s = CMS_signed_get0_data_by_OBJ(si, obj, -3, type);
	ASN1_OBJECT_free(obj);
	return s;
}

/* X.680 §41.4 PrintableString characters. */
static bool
printable_char_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr(" '()+,-./:=?", c) != NULL;
}

bool
scep_tid_is_valid(const uint8_t *s, size_t len)
{
	size_t	 i;

	if (s == NULL || len < 1 || len > SCEP_TID_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '\0' || !printable_char_ok(s[i]))
			return false;
	return true;
}

static bool
tid_copy(const ASN1_STRING *s, char out[SCEP_TID_MAX + 1])
{
	const uint8_t	*d = ASN1_STRING_get0_data(s);
	int		 len = ASN1_STRING_length(s);

	if (len < 0 || !scep_tid_is_valid(d, (size_t)len))
		return false;
	memcpy(out, d, (size_t)len);
	out[len] = '\0';
	return true;
}

/* A request messageType (RFC 8894 §3.2.1.2); SCEP_MT_NONE otherwise. */
static enum scep_msg_type
type_parse(const ASN1_STRING *s)
{
	uint64_t	 v;

	/* Canonical decimal only: one spelling per value. */
	if (s != NULL && ASN1_STRING_length(s) > 1 &&
	    ASN1_STRING_get0_data(s)[0] == '0')
		return SCEP_MT_NONE;
	if (s == NULL || !cg_parse_u64((const char *)ASN1_STRING_get0_data(s),
	    (size_t)ASN1_STRING_length(s), 99, &v))
		return SCEP_MT_NONE;
	switch (v) {
	case SCEP_MT_RENEWALREQ:
	case SCEP_MT_PKCSREQ:
	case SCEP_MT_CERTPOLL:
	case SCEP_MT_GETCERT:
	case SCEP_MT_GETCRL:
		return (enum scep_msg_type)v;
	default:
		return SCEP_MT_NONE;
	}
}

/*
 * Read transactionID, senderNonce and messageType into h.  Without the
 * first two no CertRep can be made (h->ok stays false); an unknown
 * messageType is a badRequest CertRep.
 */
static enum cg_code
hdr_read(const CMS_SignerInfo *si, struct scep_req_hdr *h,
    struct cg_err *err)
{
	const ASN1_STRING	*tid, *nonce;

	tid = attr_get(si, SCEP_OID_TRANS_ID, V_ASN1_PRINTABLESTRING);
	nonce = attr_get(si, SCEP_OID_SENDER_NONCE, V_ASN1_OCTET_STRING);
	if (tid == NULL || !tid_copy(tid, h->transaction_id))
		return cg_err_crypto(err, CG_EINVAL, "no valid transactionID");
	if (nonce == NULL || ASN1_STRING_length(nonce) != SCEP_NONCE_LEN)
		return cg_err_crypto(err, CG_EINVAL, "no valid senderNonce");
	memcpy(h->sender_nonce, ASN1_STRING_get0_data(nonce), SCEP_NONCE_LEN);
	h->ok = true;
	h->type = type_parse(attr_get(si, SCEP_OID_MESSAGE_TYPE,
	    V_ASN1_PRINTABLESTRING));
	if (h->type == SCEP_MT_NONE)
		return cg_err_crypto(err, CG_EINVAL, "no valid request "
		    "messageType");
	return CG_OK;
}

/* ------------------------------------------------------- SignedData */

/* The one SignerInfo, which must have signed attributes. */
static enum cg_code
signer_info(CMS_ContentInfo *cms, CMS_SignerInfo **sip, struct cg_err *err)
{
	STACK_OF(CMS_SignerInfo) *sis;
	ASN1_OCTET_STRING	**content;

	if (CMS_get0_type(cms) == NULL ||
	    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
		return cg_err_set(err, CG_EINVAL, "message is not SignedData");
	if (CMS_get0_eContentType(cms) == NULL ||
	    OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data)
		return cg_err_set(err, CG_EINVAL, "signed content is not data");
	content = CMS_get0_content(cms);
	if (content == NULL || *content == NULL)
		return cg_err_set(err, CG_EINVAL, "signed content is absent");
	sis = CMS_get0_SignerInfos(cms);
	if (sis == NULL || sk_CMS_SignerInfo_num(sis) != 1)
		return cg_err_set(err, CG_EINVAL, "message needs one signer");
	*sip = sk_CMS_SignerInfo_value(sis, 0);
	if (CMS_signed_get_attr_count(*sip) <= 0)
		return cg_err_set(err, CG_EINVAL, "no signed attributes");
	return CG_OK;
}

/* The signer's certificate among those in the message (a reference). */
static X509 *
signer_cert(CMS_ContentInfo *cms, CMS_SignerInfo *si)
{
	STACK_OF(X509)	*certs;
	X509		*x, *found = NULL;
	int		 i;

	if ((certs = CMS_get1_certs(cms)) == NULL)
		return NULL;
	for (i = 0; i < sk_X509_num(certs) && found == NULL; i++) {
		x = sk_X509_value(certs, i);
		if (CMS_SignerInfo_cert_cmp(si, x) == 0 && X509_up_ref(x) == 1)
			found = x;
	}
	sk_X509_pop_free(certs, X509_free);
	return found;
}

/*
 * The signer's digest, which must be one we accept; a signature algorithm
 * naming a digest (sha1WithRSAEncryption, some clients) must agree.
 */
static enum cg_code
signer_md(CMS_SignerInfo *si, int *nidp, struct cg_err *err)
{
	X509_ALGOR		*dig = NULL, *sig = NULL;
	const ASN1_OBJECT	*obj;
	int			 md, signid, signmd, pknid;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	if (dig == NULL || sig == NULL)
		return cg_err_set(err, CG_EINVAL, "signer has no algorithms");
	X509_ALGOR_get0(&obj, NULL, NULL, dig);
	md = OBJ_obj2nid(obj);
	if (!scep_md_is_allowed(md))
		return cg_err_set(err, CG_EINVAL, "digest %s not supported",
		    md == NID_undef ? "unknown" : OBJ_nid2sn(md));
	X509_ALGOR_get0(&obj, NULL, NULL, sig);
	signid = OBJ_obj2nid(obj);
	if (OBJ_find_sigid_algs(signid, &signmd, &pknid) == 1 &&
	    signmd != NID_undef && !scep_md_is_allowed(signmd))
		return cg_err_set(err, CG_EINVAL, "signature %s not supported",
		    OBJ_nid2sn(signid));
	*nidp = md;
	return CG_OK;
}

/* ------------------------------------------------------ the request */

/* SEQUENCE { Name, Name } or SEQUENCE { Name, INTEGER } (RFC 8894 §3.3). */
static enum cg_code
names_parse(const uint8_t *der, size_t len, struct scep_req *req,
    bool with_subject, struct cg_err *err)
{
	const unsigned char	*p = der, *end;
	long			 clen;
	int			 r, tag, cls;

	r = ASN1_get_object(&p, &clen, &tag, &cls, (long)len);
	if (r != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
	    cls != V_ASN1_UNIVERSAL || p + clen != der + len)
		return cg_err_crypto(err, CG_EINVAL, "request content is not "
		    "one SEQUENCE");
	end = p + clen;
	req->issuer = d2i_X509_NAME(NULL, &p, (long)(end - p));
	if (req->issuer == NULL)
		return cg_err_crypto(err, CG_EINVAL, "bad issuer name");
	if (with_subject)
		req->subject = d2i_X509_NAME(NULL, &p, (long)(end - p));
	else
		req->serial = d2i_ASN1_INTEGER(NULL, &p, (long)(end - p));
	if ((req->subject == NULL && req->serial == NULL) || p != end)
		return cg_err_crypto(err, CG_EINVAL, "bad %s",
		    with_subject ? "IssuerAndSubject" :
		    "IssuerAndSerialNumber");
	return CG_OK;
}

/*
 * The CSR's challengePassword (PKCS#9 §5.4.1, a DirectoryString), if any;
 * several, multi-valued or BMP/Universal ones are refused rather than
 * guessed at.  Its text never goes into err.
 */
static enum cg_code
challenge_get(struct scep_req *req, struct cg_err *err)
{
	X509_REQ		*x = ca_csr_get0_req(req->csr);
	X509_ATTRIBUTE		*at;
	const ASN1_TYPE		*v;
	const uint8_t		*d;
	int			 i, len;

	i = X509_REQ_get_attr_by_NID(x, NID_pkcs9_challengePassword, -1);
	if (i < 0)
		return CG_OK;
	if (X509_REQ_get_attr_by_NID(x, NID_pkcs9_challengePassword, i) >= 0)
		return cg_err_set(err, CG_EINVAL, "several challengePasswords");
	at = X509_REQ_get_attr(x, i);
	if (at == NULL || X509_ATTRIBUTE_count(at) != 1 ||
	    (v = X509_ATTRIBUTE_get0_type(at, 0)) == NULL)
		return cg_err_set(err, CG_EINVAL, "bad challengePassword");
	if (v->type != V_ASN1_PRINTABLESTRING && v->type != V_ASN1_UTF8STRING &&
	    v->type != V_ASN1_IA5STRING && v->type != V_ASN1_T61STRING)
		return cg_err_set(err, CG_EINVAL, "challengePassword type %d "
		    "not supported", v->type);
	len = ASN1_STRING_length(v->value.asn1_string);
	d = ASN1_STRING_get0_data(v->value.asn1_string);
	if (len < 1 || len > SCEP_CHALLENGE_MAX ||
	    memchr(d, '\0', (size_t)len) != NULL)
		return cg_err_set(err, CG_EINVAL, "bad challengePassword");
	if ((req->challenge = cg_malloc((size_t)len + 1)) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	memcpy(req->challenge, d, (size_t)len);
	req->challenge[len] = '\0';
	req->challenge_len = (size_t)len;
	return CG_OK;
}

static enum cg_code
content_parse(const uint8_t *der, size_t len, struct scep_req *req,
    struct cg_err *err)
{
	enum cg_code	 rc;

	switch (req->hdr.type) {
	case SCEP_MT_PKCSREQ:
	case SCEP_MT_RENEWALREQ:
		rc = ca_csr_parse(der, len, &req->csr, err);
		if (rc == CG_OK)
			rc = challenge_get(req, err);
		return rc;
	case SCEP_MT_CERTPOLL:
		return names_parse(der, len, req, true, err);
	case SCEP_MT_GETCERT:
	case SCEP_MT_GETCRL:
		return names_parse(der, len, req, false, err);
	default:
		return cg_err_set(err, CG_EINTERNAL, "no parser for type");
	}
}

int
scep_id_decrypt(const struct scep_id *id, CMS_ContentInfo *env, BIO *out,
    unsigned int flags)
{
	if (id->key == NULL)
		return ca_cms_decrypt(id->ca, env, out, flags);
	return CMS_decrypt(env, id->key, id->cert, NULL, out, flags);
}

CMS_SignerInfo *
scep_id_add1_signer(const struct scep_id *id, CMS_ContentInfo *cms,
    const EVP_MD *md, unsigned int flags)
{
	if (id->key == NULL)
		return ca_cms_add1_signer(id->ca, cms, md, flags);
	return CMS_add1_signer(cms, id->cert, id->key, md, flags);
}

/*
 * Decrypt the pkcsPKIEnvelope (RFC 8894 §3.2.2) and parse what it holds.
 * The plaintext may hold a password, so it lives in secure memory.
 */
static enum cg_code
envelope_open(const ASN1_OCTET_STRING *os, const struct scep_id *id,
    struct scep_req *req, enum scep_fail *failp, struct cg_err *err)
{
	const unsigned char	*p, *der;
	CMS_ContentInfo		*env = NULL;
	BIO			*out = NULL;
	char			*plain;
	long			 plen;
	size_t			 len;
	enum cg_code		 rc;

	der = p = ASN1_STRING_get0_data(os);
	len = (size_t)ASN1_STRING_length(os);
	env = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (env == NULL || p != der + len ||
	    OBJ_obj2nid(CMS_get0_type(env)) != NID_pkcs7_enveloped) {
		rc = cg_err_crypto(err, CG_EINVAL, "content is not one "
		    "EnvelopedData");
		goto out;
	}
	req->cipher_nid = envelope_cipher_nid(der, len);
	if (!scep_cipher_is_allowed(req->cipher_nid) &&
	    !(req->cipher_nid == NID_des_cbc &&
	    (req->flags & SCEP_PARSE_LEGACY_DES))) {
		*failp = SCEP_FAIL_BADALG;
		rc = cg_err_crypto(err, CG_EINVAL, "cipher %s not supported",
		    req->cipher_nid == NID_undef ? "unknown" :
		    OBJ_nid2sn(req->cipher_nid));
		goto out;
	}
	if ((out = BIO_new(BIO_s_secmem())) == NULL) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	ERR_clear_error();
	if (scep_id_decrypt(id, env, out, CMS_BINARY) != 1) {
		*failp = SCEP_FAIL_BADMESSAGECHECK;
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot decrypt envelope");
		goto out;
	}
	plen = BIO_get_mem_data(out, &plain);
	if (plen <= 0) {
		rc = cg_err_set(err, CG_EINVAL, "envelope is empty");
		goto out;
	}
	rc = content_parse((const uint8_t *)plain, (size_t)plen, req, err);
out:
	BIO_free(out);
	CMS_ContentInfo_free(env);
	return rc;
}

/*
 * The optional signingTime attribute (RFC 5652 §11.3): one UTCTime or
 * GeneralizedTime.  Whether it is close enough is the server's policy.
 */
static enum cg_code
signing_time_read(CMS_SignerInfo *si, int64_t *tp, struct cg_err *err)
{
	X509_ATTRIBUTE	*a;
	ASN1_TYPE	*t;
	struct tm	 tm;
	int		 i;

	*tp = 0;
	i = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	if (i < 0)
		return CG_OK;
	if (CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, i) >= 0 ||
	    (a = CMS_signed_get_attr(si, i)) == NULL ||
	    X509_ATTRIBUTE_count(a) != 1 ||
	    (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL ||
	    (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME) ||
	    ASN1_TIME_to_tm(t->value.asn1_string, &tm) != 1)
		return cg_err_set(err, CG_EINVAL, "malformed signingTime");
	*tp = (int64_t)timegm(&tm);
	if (*tp <= 0)
		*tp = 1;	/* before 1970 is still a time, and far off */
	return CG_OK;
}

/* Everything after the DER and SignedData shape checks. */
static enum cg_code
signed_open(CMS_ContentInfo *cms, CMS_SignerInfo *si,
    const struct scep_id *id, struct scep_req *req, enum scep_fail *failp,
    struct cg_err *err)
{
	enum cg_code	 rc;
	int		 md = NID_undef;

	if ((rc = hdr_read(si, &req->hdr, err)) != CG_OK)
		return rc;
	if ((rc = signer_md(si, &md, err)) != CG_OK) {
		*failp = SCEP_FAIL_BADALG;
		return rc;
	}
	req->hdr.md_nid = md;
	if ((req->signer = signer_cert(cms, si)) == NULL)
		return cg_err_crypto(err, CG_EINVAL, "signer certificate is "
		    "not in the message");
	/* The chain is the server's business (first enrollment: none). */
	ERR_clear_error();
	if (CMS_verify(cms, NULL, NULL, NULL, NULL,
	    CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
		*failp = SCEP_FAIL_BADMESSAGECHECK;
		return cg_err_crypto(err, CG_ECRYPTO, "signature does not "
		    "verify");
	}
	if ((rc = signing_time_read(si, &req->signing_time, err)) != CG_OK)
		return rc;
	return envelope_open(*CMS_get0_content(cms), id, req, failp, err);
}

enum cg_code
scep_req_parse(const uint8_t *der, size_t len, const struct scep_id *id,
    struct scep_req **reqp, struct scep_req_hdr *hdr, enum scep_fail *failp,
    struct cg_err *err)
{
	return scep_req_parse_ex(der, len, id, 0, reqp, hdr, failp, err);
}

enum cg_code
scep_req_parse_ex(const uint8_t *der, size_t len, const struct scep_id *id,
    unsigned flags, struct scep_req **reqp,
    struct scep_req_hdr *hdr, enum scep_fail *failp, struct cg_err *err)
{
	const unsigned char	*p = der;
	CMS_ContentInfo		*cms = NULL;
	CMS_SignerInfo		*si = NULL;
	struct scep_req		*req = NULL;
	enum scep_fail		 fail = SCEP_FAIL_BADREQUEST;
	enum cg_code		 rc;

	*reqp = NULL;
	if (hdr != NULL)
		memset(hdr, 0, sizeof(*hdr));
	if (len > SCEP_MSG_MAX) {
		rc = cg_err_set(err, CG_ETOOBIG, "message is %zu bytes", len);
		goto out;
	}
	if (der == NULL || len == 0 || id == NULL || id->cert == NULL ||
	    (id->key == NULL && id->ca == NULL)) {
		rc = cg_err_set(err, CG_EINVAL, "empty message");
		goto out;
	}
	if ((req = cg_calloc(1, sizeof(*req))) == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	req->hdr.md_nid = NID_sha256;
	req->flags = flags;
	if (!der_is_strict(der, len, 0)) {
		rc = cg_err_set(err, CG_EINVAL, "message is not strict DER");
		goto out;
	}
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (cms == NULL || p != der + len) {
		rc = cg_err_crypto(err, CG_EINVAL, "message is not one CMS "
		    "ContentInfo");
		goto out;
	}
	if ((rc = signer_info(cms, &si, err)) != CG_OK)
		goto out;
	rc = signed_open(cms, si, id, req, &fail, err);
	if (rc != CG_OK)
		goto out;
	if (EVP_Digest(der, len, req->sha256, NULL, EVP_sha256(), NULL) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot hash message");
		goto out;
	}
	*reqp = req;
	req = NULL;
	rc = CG_OK;
out:
	if (hdr != NULL && *reqp != NULL)
		*hdr = (*reqp)->hdr;
	else if (hdr != NULL && req != NULL)
		*hdr = req->hdr;
	if (failp != NULL && rc != CG_OK)
		*failp = fail;
	scep_req_free(req);
	CMS_ContentInfo_free(cms);
	return rc;
}
