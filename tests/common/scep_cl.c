/*
 * scep_cl.c - the client side of SCEP for scep_probe and certgw-bench
 * scep (see scep_cl.h).  Nothing here keeps state between calls but the
 * program name for complaints, so the bench may build its messages in
 * one go and read the replies later.
 */
#include "scep_cl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define SCL_SELF_SIGNED_S	86400	/* lifetime of a self-signed cert */

const char	*scl_prog = "scep";

static const char *const fail_names[] = {
	"badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId",
};

const char *
scl_fail_name(int fail_info)
{
	if (fail_info < 0 ||
	    fail_info >= (int)(sizeof(fail_names) / sizeof(fail_names[0])))
		return NULL;
	return fail_names[fail_info];
}

void
scl_warn(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", scl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
}

/* ------------------------------------------------------------ inputs */

X509 *
scl_cert_read(const char *path)
{
	FILE	*f;
	X509	*x;

	if ((f = fopen(path, "r")) == NULL) {
		scl_warn("%s: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		scl_warn("%s: no PEM certificate", path);
	return x;
}

EVP_PKEY *
scl_rsa_key(unsigned bits)
{
	EVP_PKEY	*k;

	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	if (k == NULL)
		scl_warn("cannot make an RSA key");
	return k;
}

/* --------------------------------------------------------- building */

X509 *
scl_self_signed(EVP_PKEY *key, const char *cn)
{
	X509		*x;
	X509_NAME	*name;
	BIGNUM		*bn = NULL;
	uint8_t		 serial[8];
	bool		 ok;

	if ((x = X509_new()) == NULL || RAND_bytes(serial, sizeof(serial)) !=
	    1)
		goto fail;
	serial[0] = (serial[0] & 0x7f) | 0x01;	/* positive, 8 bytes */
	name = X509_get_subject_name(x);
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ok = bn != NULL &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	    X509_set_version(x, X509_VERSION_3) == 1 &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) == 1 &&
	    X509_set_issuer_name(x, name) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -60) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), SCL_SELF_SIGNED_S) !=
	    NULL &&
	    X509_set_pubkey(x, key) == 1 &&
	    X509_sign(x, key, EVP_sha256()) > 0;
	BN_free(bn);
	if (ok)
		return x;
fail:
	scl_warn("cannot make a self-signed certificate");
	X509_free(x);
	return NULL;
}

uint8_t *
scl_csr(EVP_PKEY *key, const char *cn, const char *challenge, size_t *lenp)
{
	X509_REQ	*req;
	unsigned char	*der = NULL;
	int		 len = -1;
	bool		 ok;

	if ((req = X509_REQ_new()) == NULL)
		goto out;
	ok = X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1 &&
	    X509_REQ_set_pubkey(req, key) == 1 &&
	    (challenge == NULL || X509_REQ_add1_attr_by_NID(req,
	    NID_pkcs9_challengePassword, MBSTRING_ASC,
	    (const unsigned char *)challenge, -1) == 1) &&
	    X509_REQ_sign(req, key, EVP_sha256()) > 0;
	if (ok)
		len = i2d_X509_REQ(req, &der);
out:
	X509_REQ_free(req);
	if (len <= 0) {
		scl_warn("cannot make the CSR");
		return NULL;
	}
	*lenp = (size_t)len;
	return der;
}

/* SEQUENCE { Name, Name or INTEGER }, by hand: no template for it. */
uint8_t *
scl_names(const X509_NAME *issuer, const X509_NAME *subject,
    const ASN1_INTEGER *serial, size_t *lenp)
{
	unsigned char	*a = NULL, *b = NULL;
	uint8_t		*der = NULL, *p;
	int		 alen, blen, total = -1;

	alen = i2d_X509_NAME(issuer, &a);
	blen = subject != NULL ? i2d_X509_NAME(subject, &b) :
	    i2d_ASN1_INTEGER(serial, &b);
	if (alen > 0 && blen > 0)
		total = ASN1_object_size(1, alen + blen, V_ASN1_SEQUENCE);
	if (total > 0 && (der = OPENSSL_malloc((size_t)total)) != NULL) {
		p = der;
		ASN1_put_object(&p, 1, alen + blen, V_ASN1_SEQUENCE,
		    V_ASN1_UNIVERSAL);
		memcpy(p, a, (size_t)alen);
		memcpy(p + alen, b, (size_t)blen);
		*lenp = (size_t)total;
	} else {
		scl_warn("cannot encode the request names");
	}
	OPENSSL_free(a);
	OPENSSL_free(b);
	return der;
}

bool
scl_attr_add(CMS_SignerInfo *si, const char *oid, int type, const void *data,
    size_t len)
{
	ASN1_OBJECT	*obj;
	int		 ok;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL)
		return false;
	ok = CMS_signed_add1_attr_by_OBJ(si, obj, type, data, (int)len);
	ASN1_OBJECT_free(obj);
	return ok == 1;
}

const ASN1_STRING *
scl_attr_get(CMS_SignerInfo *si, const char *oid, int type)
{
	const ASN1_STRING	*s;
	ASN1_OBJECT		*obj;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL)
		return NULL;
	s = CMS_signed_get0_data_by_OBJ(si, obj, -3, type);
	ASN1_OBJECT_free(obj);
	return s;
}

/*
 * Flip the high bit of the last byte of the next-to-last ciphertext
 * block.  In CBC that flips the high bit of the last plaintext byte, the
 * padding length, which becomes 0x80 or more: never valid for an 8- or
 * 16-byte block, so the decryption fails every time, not 255 in 256.
 */
static bool
ciphertext_spoil(CMS_ContentInfo *env, int bs)
{
	ASN1_OCTET_STRING	**ct = CMS_get0_content(env);
	uint8_t			 *copy;
	int			  len, ok;

	if (ct == NULL || *ct == NULL || bs < 8 ||
	    (len = ASN1_STRING_length(*ct)) < 2 * bs)
		return false;
	if ((copy = OPENSSL_memdup(ASN1_STRING_get0_data(*ct), (size_t)len)) ==
	    NULL)
		return false;
	copy[len - bs - 1] ^= 0x80;
	ok = ASN1_OCTET_STRING_set(*ct, copy, len);
	OPENSSL_free(copy);
	return ok == 1;
}

/* The pkcsPKIEnvelope (RFC 8894 §3.2.2): m->inner encrypted to m->to. */
static uint8_t *
envelope_make(const struct scl_msg *m, size_t *lenp)
{
	STACK_OF(X509)	*recips = NULL;
	EVP_CIPHER	*c = NULL;
	CMS_ContentInfo	*env = NULL;
	BIO		*in = NULL;
	unsigned char	*der = NULL;
	int		 len = -1;

	if ((recips = sk_X509_new_null()) == NULL ||
	    sk_X509_push(recips, m->to) <= 0 ||
	    (in = BIO_new_mem_buf(m->inner, (int)m->inner_len)) == NULL)
		goto out;
	if ((c = EVP_CIPHER_fetch(NULL, m->cipher, NULL)) == NULL) {
		scl_warn("cipher %s unavailable", m->cipher);
		goto out;
	}
	if ((env = CMS_encrypt(recips, in, c, CMS_BINARY)) == NULL)
		goto out;
	if (m->spoil_cipher &&
	    !ciphertext_spoil(env, EVP_CIPHER_get_block_size(c)))
		goto out;
	len = i2d_CMS_ContentInfo(env, &der);
out:
	if (len <= 0)
		scl_warn("cannot make the envelope");
	else
		*lenp = (size_t)len;
	CMS_ContentInfo_free(env);
	BIO_free(in);
	EVP_CIPHER_free(c);
	sk_X509_free(recips);
	return len > 0 ? der : NULL;
}

/* A signingTime of our choosing; OpenSSL then adds none of its own. */
static bool
signing_time_add(CMS_SignerInfo *si, int64_t t)
{
	ASN1_TIME	*at;
	int		 ok;

	if ((at = ASN1_TIME_set(NULL, (time_t)t)) == NULL)
		return false;
	ok = CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, at->type,
	    at, -1);
	ASN1_TIME_free(at);
	return ok == 1;
}

/* The SignedData around env, with the SCEP attributes. */
static uint8_t *
message_sign(const struct scl_msg *m, const uint8_t *env, size_t elen,
    size_t *lenp)
{
	CMS_ContentInfo	*cms = NULL;
	CMS_SignerInfo	*si;
	EVP_MD		*md = NULL;
	BIO		*in = NULL;
	unsigned char	*der = NULL;
	unsigned	 flags = CMS_BINARY | CMS_NOSMIMECAP;
	int		 len = -1;

	if ((md = EVP_MD_fetch(NULL, m->md, NULL)) == NULL) {
		scl_warn("digest %s unavailable", m->md);
		goto out;
	}
	if (m->carry != NULL)
		flags |= CMS_NOCERTS;
	if ((in = BIO_new_mem_buf(env, (int)elen)) == NULL ||
	    (cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL |
	    CMS_BINARY)) == NULL ||
	    (si = CMS_add1_signer(cms, m->signer, m->key, md, flags)) == NULL)
		goto out;
	if (m->carry != NULL && CMS_add1_cert(cms, m->carry) != 1)
		goto out;
	if (!scl_attr_add(si, SCL_OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING,
	    m->type, strlen(m->type)) ||
	    !scl_attr_add(si, SCL_OID_TRANS_ID, V_ASN1_PRINTABLESTRING, m->tid,
	    strlen(m->tid)) ||
	    !scl_attr_add(si, SCL_OID_SENDER_NONCE, V_ASN1_OCTET_STRING,
	    m->nonce, SCL_NONCE_LEN) ||
	    (m->signing_time != 0 && !signing_time_add(si, m->signing_time)))
		goto out;
	if (CMS_final(cms, in, NULL, CMS_BINARY) == 1)
		len = i2d_CMS_ContentInfo(cms, &der);
out:
	if (len <= 0)
		scl_warn("cannot sign the message");
	else
		*lenp = (size_t)len;
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	EVP_MD_free(md);
	return len > 0 ? der : NULL;
}

uint8_t *
scl_message(const struct scl_msg *m, size_t *lenp)
{
	uint8_t	*env, *msg, *at;
	size_t	 elen = 0;

	if ((env = envelope_make(m, &elen)) == NULL)
		return NULL;
	msg = message_sign(m, env, elen, lenp);
	if (msg != NULL && m->spoil_signed) {
		/* A byte of the ciphertext, inside what was signed. */
		if ((at = memmem(msg, *lenp, env, elen)) != NULL) {
			at[elen - 1] ^= 0x01;
		} else {
			scl_warn("the envelope is not in the message");
			OPENSSL_free(msg);
			msg = NULL;
		}
	}
	OPENSSL_free(env);
	return msg;
}

/* ------------------------------------------------------------- HTTP */

char *
scl_op_url(CURL *c, const char *base, const uint8_t *msg, size_t len,
    bool get)
{
	char	*b64 = NULL, *esc = NULL, *url = NULL;

	if (!get)
		return cg_asprintf("%s?operation=PKIOperation", base);
	if (cg_base64_encode(msg, len, &b64, NULL) == CG_OK &&
	    (esc = curl_easy_escape(c, b64, 0)) != NULL)
		url = cg_asprintf("%s?operation=PKIOperation&message=%s",
		    base, esc);
	curl_free(esc);
	cg_free(b64);
	return url;
}

struct curl_slist *
scl_post_headers(bool no_expect)
{
	struct curl_slist	*h, *n;

	h = curl_slist_append(NULL, "Content-Type: application/x-pki-message");
	if (h == NULL || !no_expect)
		return h;
	/* A message is a few kB: no round trip waiting for 100 Continue. */
	if ((n = curl_slist_append(h, "Expect:")) == NULL) {
		curl_slist_free_all(h);
		return NULL;
	}
	return n;
}

size_t
scl_body_cb(char *data, size_t size, size_t n, void *arg)
{
	struct cg_buf	*b = arg;

	if (cg_buf_add(b, data, size * n, NULL) != CG_OK)
		return 0;
	return size * n;
}

void
scl_http_setup(CURL *c, const char *url, const uint8_t *post, size_t post_len,
    struct curl_slist *hdrs, const char *cacert, struct cg_buf *body)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, scl_body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	if (cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
	if (post != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)post_len);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
}

/* ------------------------------------------------------- the CertRep */

/* The one-character PrintableString attribute oid, or -1. */
static int
digit_attr(CMS_SignerInfo *si, const char *oid)
{
	const ASN1_STRING	*s;
	const unsigned char	*d;

	s = scl_attr_get(si, oid, V_ASN1_PRINTABLESTRING);
	if (s == NULL || ASN1_STRING_length(s) != 1)
		return -1;
	d = ASN1_STRING_get0_data(s);
	return d[0] >= '0' && d[0] <= '9' ? d[0] - '0' : -1;
}

static bool
str_is(const ASN1_STRING *s, const void *want, size_t len)
{
	return s != NULL && (size_t)ASN1_STRING_length(s) == len &&
	    memcmp(ASN1_STRING_get0_data(s), want, len) == 0;
}

static void
attrs_read(CMS_SignerInfo *si, const char *tid, const uint8_t *nonce,
    struct scl_rep *r)
{
	X509_ALGOR		*dig = NULL;
	const ASN1_OBJECT	*obj;
	const ASN1_STRING	*sn;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
	X509_ALGOR_get0(&obj, NULL, NULL, dig);
	r->digest_nid = OBJ_obj2nid(obj);
	r->msg_type = digit_attr(si, SCL_OID_MESSAGE_TYPE);
	r->status = digit_attr(si, SCL_OID_PKI_STATUS);
	r->fail_info = digit_attr(si, SCL_OID_FAIL_INFO);
	r->tid_ok = str_is(scl_attr_get(si, SCL_OID_TRANS_ID,
	    V_ASN1_PRINTABLESTRING), tid, strlen(tid));
	r->rnonce_ok = str_is(scl_attr_get(si, SCL_OID_RECIP_NONCE,
	    V_ASN1_OCTET_STRING), nonce, SCL_NONCE_LEN);
	sn = scl_attr_get(si, SCL_OID_SENDER_NONCE, V_ASN1_OCTET_STRING);
	r->snonce_ok = sn != NULL && ASN1_STRING_length(sn) == SCL_NONCE_LEN;
}

/* The signed content, unverified: a FAILURE or PENDING carries none. */
static bool
content_copy(CMS_ContentInfo *cms, struct scl_rep *r)
{
	ASN1_OCTET_STRING	**c = CMS_get0_content(cms);

	if (c == NULL || *c == NULL || ASN1_STRING_length(*c) <= 0)
		return true;
	r->content_len = (size_t)ASN1_STRING_length(*c);
	r->content = OPENSSL_memdup(ASN1_STRING_get0_data(*c), r->content_len);
	return r->content != NULL;
}

enum scl_rep_code
scl_rep_read(const uint8_t *der, size_t len, X509 *ra, const char *tid,
    const uint8_t *nonce, struct scl_rep *r)
{
	STACK_OF(X509)		*certs = NULL;
	CMS_ContentInfo		*cms;
	BIO			*out = NULL;
	const unsigned char	*q = der;
	char			*content;
	long			 clen;
	enum scl_rep_code	 rc = SCL_REP_NOMEM;

	memset(r, 0, sizeof(*r));
	cms = d2i_CMS_ContentInfo(NULL, &q, (long)len);
	if (cms == NULL || q != der + len ||
	    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
		rc = SCL_REP_MALFORMED;
		goto out;
	}
	attrs_read(sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0), tid,
	    nonce, r);
	if (ra == NULL) {
		rc = content_copy(cms, r) ? SCL_REP_OK : SCL_REP_NOMEM;
		goto out;
	}
	if ((certs = sk_X509_new_null()) == NULL ||
	    sk_X509_push(certs, ra) <= 0 ||
	    (out = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	/* CMS_NOINTERN: only the RA certificate may have signed it. */
	if (CMS_verify(cms, certs, NULL, NULL, out, CMS_NOINTERN |
	    CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
		rc = SCL_REP_BAD_SIGNATURE;
		goto out;
	}
	clen = BIO_get_mem_data(out, &content);
	if (clen > 0) {
		r->content = OPENSSL_memdup(content, (size_t)clen);
		if (r->content == NULL)
			goto out;
		r->content_len = (size_t)clen;
	}
	rc = SCL_REP_OK;
out:
	BIO_free(out);
	sk_X509_free(certs);
	CMS_ContentInfo_free(cms);
	return rc;
}

void
scl_rep_free(struct scl_rep *r)
{
	OPENSSL_free(r->content);
	r->content = NULL;
	r->content_len = 0;
}

enum scl_env_code
scl_envelope_open(const uint8_t *der, size_t len, EVP_PKEY *key, X509 *cert,
    int *cipher_nid, uint8_t **plainp, size_t *plen)
{
	const unsigned char	*q = der;
	PKCS7			*legacy;
	CMS_ContentInfo		*env = NULL;
	BIO			*out = NULL;
	char			*plain;
	long			 n;
	enum scl_env_code	 rc = SCL_ENV_DECRYPT;

	*plainp = NULL;
	/* OpenSSL 3.0's CMS has no getter for the content cipher. */
	legacy = d2i_PKCS7(NULL, &q, (long)len);
	if (legacy == NULL || !PKCS7_type_is_enveloped(legacy)) {
		PKCS7_free(legacy);
		return SCL_ENV_NOT_ENVELOPED;
	}
	*cipher_nid = OBJ_obj2nid(
	    legacy->d.enveloped->enc_data->algorithm->algorithm);
	q = der;
	if ((env = d2i_CMS_ContentInfo(NULL, &q, (long)len)) == NULL ||
	    (out = BIO_new(BIO_s_mem())) == NULL ||
	    CMS_decrypt(env, key, cert, NULL, out, CMS_BINARY) != 1)
		goto out;
	n = BIO_get_mem_data(out, &plain);
	if (n > 0 && (*plainp = OPENSSL_memdup(plain, (size_t)n)) != NULL) {
		*plen = (size_t)n;
		rc = SCL_ENV_OK;
	}
out:
	BIO_free(out);
	CMS_ContentInfo_free(env);
	PKCS7_free(legacy);
	return rc;
}

PKCS7 *
scl_certs_only(const uint8_t *der, size_t len)
{
	const unsigned char	*q = der;
	PKCS7			*p7;

	p7 = d2i_PKCS7(NULL, &q, (long)len);
	if (p7 == NULL || q != der + len || !PKCS7_type_is_signed(p7)) {
		PKCS7_free(p7);
		return NULL;
	}
	return p7;
}
