/*
 * test_scep_msg.c - the SCEP wire format (protocols/scep/scep_msg.h).  A
 * small client written here with OpenSSL's CMS API builds PKIMessages the
 * way certmonger and micromdm do (envelope to the RA, then signed with the
 * client's key and the SCEP signed attributes); the parser must read each
 * type and give each failure its failInfo.  Replies are read back as a
 * client would, with both the CMS and the legacy PKCS7 API.
 *
 * The RA is the fuzz target's fixed one (the file is included for it), so
 * the messages built here are also the fuzz seeds: with
 * CERTGW_SCEP_SEED_DIR set, test_fuzz_seeds writes them there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/cms.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "../fuzz/fuzz_scep_msg.c"

static EVP_PKEY	*client_key;		/* RSA, as real clients use */
static X509	*client_cert;		/* self-signed, first enrollment */
static X509	*renew_cert;		/* client_key's cert from the "CA" */
static EVP_PKEY	*other_key;		/* someone who is not the RA */
static X509	*other_cert;
static OSSL_PROVIDER *legacy_prov;	/* DES and RC2, to refuse them */
static OSSL_PROVIDER *default_prov;

static const uint8_t nonce1[SCEP_NONCE_LEN] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
};

/* ------------------------------------------------------------ fixtures */

/* A certificate for key named cn, signed by ikey as issuer (or self). */
static X509 *
cert_make(EVP_PKEY *key, const char *cn, EVP_PKEY *ikey, X509 *issuer,
    long serial)
{
	X509		*x = X509_new();
	X509_NAME	*name;

	assert_non_null(x);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : name), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial),
	    1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_true(X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) > 0);
	return x;
}

static int
setup(void **state)
{
	fuzz_init();
	/* DES and RC2 live in the legacy provider: make them to refuse them. */
	legacy_prov = OSSL_PROVIDER_load(NULL, "legacy");
	default_prov = OSSL_PROVIDER_load(NULL, "default");
	if (legacy_prov == NULL || default_prov == NULL)
		return -1;
	client_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	other_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (client_key == NULL || other_key == NULL)
		return -1;
	client_cert = cert_make(client_key, "client", NULL, NULL, 7);
	renew_cert = cert_make(client_key, "client", fuzz_ra_key,
	    fuzz_ra_cert, 8);
	other_cert = cert_make(other_key, "other", NULL, NULL, 9);
	return 0;
}

static int
teardown(void **state)
{
	X509_free(other_cert);
	X509_free(renew_cert);
	X509_free(client_cert);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(client_key);
	OSSL_PROVIDER_unload(default_prov);
	OSSL_PROVIDER_unload(legacy_prov);
	return 0;
}

/* ------------------------------------------------------- the client */

struct msg {
	const char	*type;		/* messageType; NULL: left out */
	const char	*tid;		/* transactionID; NULL: left out */
	const uint8_t	*nonce;		/* senderNonce; NULL: left out */
	size_t		 nonce_len;	/* its length */
	const char	*md;		/* digest name */
	const char	*cipher;	/* envelope cipher name */
	X509		*to;		/* envelope recipient */
	X509		*cert;		/* signer */
	EVP_PKEY	*key;		/* signer's key */
	bool		 no_certs;	/* leave the signer cert out */
	int64_t		 signing_time;	/* 0: OpenSSL's (now) */
	const char	*bad_time;	/* signingTime as this OCTET STRING */
};

static struct msg
msg_default(const char *type)
{
	struct msg	 m = {
		.type = type, .tid = "tid-1", .nonce = nonce1,
		.nonce_len = SCEP_NONCE_LEN, .md = "SHA256",
		.cipher = "AES-128-CBC", .to = fuzz_ra_cert,
		.cert = client_cert, .key = client_key,
	};

	return m;
}

static void
sattr(CMS_SignerInfo *si, const char *oid, int type, const void *p,
    size_t len)
{
	ASN1_OBJECT	*obj = OBJ_txt2obj(oid, 1);

	assert_non_null(obj);
	assert_int_equal(CMS_signed_add1_attr_by_OBJ(si, obj, type, p,
	    (int)len), 1);
	ASN1_OBJECT_free(obj);
}

static uint8_t *
i2d_cms_dup(CMS_ContentInfo *cms, size_t *lenp)
{
	unsigned char	*der = NULL;
	int		 len;

	len = i2d_CMS_ContentInfo(cms, &der);
	assert_true(len > 0);
	*lenp = (size_t)len;
	return der;
}

/* The envelope alone (RFC 8894 §3.2.2); OPENSSL_free. */
static uint8_t *
envelope(const struct msg *m, const uint8_t *inner, size_t ilen,
    size_t *lenp)
{
	STACK_OF(X509)	*to = sk_X509_new_null();
	CMS_ContentInfo	*env;
	EVP_CIPHER	*c;
	BIO		*in;
	uint8_t		*der;

	assert_non_null(to);
	assert_true(sk_X509_push(to, m->to) > 0);
	assert_non_null(c = EVP_CIPHER_fetch(NULL, m->cipher, NULL));
	assert_non_null(in = BIO_new_mem_buf(inner, (int)ilen));
	assert_non_null(env = CMS_encrypt(to, in, c, CMS_BINARY));
	der = i2d_cms_dup(env, lenp);
	CMS_ContentInfo_free(env);
	BIO_free(in);
	EVP_CIPHER_free(c);
	sk_X509_free(to);
	return der;
}

/* SignedData around content with m's attributes; OPENSSL_free. */
static uint8_t *
sign(const struct msg *m, const uint8_t *content, size_t clen,
    size_t *lenp)
{
	CMS_ContentInfo	*cms;
	CMS_SignerInfo	*si;
	ASN1_TIME	*t;
	EVP_MD		*md;
	BIO		*in;
	uint8_t		*der;

	assert_non_null(md = EVP_MD_fetch(NULL, m->md, NULL));
	assert_non_null(cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL |
	    CMS_BINARY));
	si = CMS_add1_signer(cms, m->cert, m->key, md, CMS_BINARY |
	    CMS_NOSMIMECAP | (m->no_certs ? CMS_NOCERTS : 0));
	assert_non_null(si);
	if (m->type != NULL)
		sattr(si, SCEP_OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING,
		    m->type, strlen(m->type));
	if (m->tid != NULL)
		sattr(si, SCEP_OID_TRANS_ID, V_ASN1_PRINTABLESTRING, m->tid,
		    strlen(m->tid));
	if (m->nonce != NULL)
		sattr(si, SCEP_OID_SENDER_NONCE, V_ASN1_OCTET_STRING,
		    m->nonce, m->nonce_len);
	if (m->signing_time != 0) {
		t = ASN1_TIME_set(NULL, (time_t)m->signing_time);
		assert_non_null(t);
		assert_int_equal(CMS_signed_add1_attr_by_NID(si,
		    NID_pkcs9_signingTime, t->type, t, -1), 1);
		ASN1_TIME_free(t);
	}
	if (m->bad_time != NULL)
		assert_int_equal(CMS_signed_add1_attr_by_NID(si,
		    NID_pkcs9_signingTime, V_ASN1_OCTET_STRING, m->bad_time,
		    (int)strlen(m->bad_time)), 1);
	assert_non_null(in = BIO_new_mem_buf(content, (int)clen));
	assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY), 1);
	der = i2d_cms_dup(cms, lenp);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	EVP_MD_free(md);
	return der;
}

static uint8_t *
build(const struct msg *m, const uint8_t *inner, size_t ilen, size_t *lenp)
{
	uint8_t		*env, *der;
	size_t		 elen;

	env = envelope(m, inner, ilen, &elen);
	der = sign(m, env, elen, lenp);
	OPENSSL_free(env);
	return der;
}

/* A CSR for client_key, with a challengePassword when pw is not NULL. */
static uint8_t *
csr_make(const char *pw, size_t *lenp)
{
	X509_REQ	*req = X509_REQ_new();
	unsigned char	*der = NULL;
	int		 len;

	assert_non_null(req);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(
	    req), "CN", MBSTRING_ASC, (const unsigned char *)"device-1", -1,
	    -1, 0), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, client_key), 1);
	if (pw != NULL)
		assert_int_equal(X509_REQ_add1_attr_by_NID(req,
		    NID_pkcs9_challengePassword, MBSTRING_ASC,
		    (const unsigned char *)pw, -1), 1);
	assert_true(X509_REQ_sign(req, client_key, EVP_sha256()) > 0);
	assert_true((len = i2d_X509_REQ(req, &der)) > 0);
	X509_REQ_free(req);
	*lenp = (size_t)len;
	return der;
}

/* SEQUENCE { a, b } from two DER encodings; OPENSSL_free. */
static uint8_t *
seq2(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    size_t *lenp)
{
	int		 total;
	uint8_t		*der, *p;

	total = ASN1_object_size(1, (int)(alen + blen), V_ASN1_SEQUENCE);
	assert_true(total > 0);
	assert_non_null(der = OPENSSL_malloc((size_t)total));
	p = der;
	ASN1_put_object(&p, 1, (int)(alen + blen), V_ASN1_SEQUENCE,
	    V_ASN1_UNIVERSAL);
	memcpy(p, a, alen);
	memcpy(p + alen, b, blen);
	*lenp = (size_t)total;
	return der;
}

/* IssuerAndSubject (subject) or IssuerAndSerialNumber of x. */
static uint8_t *
names_make(X509 *x, bool subject, size_t *lenp)
{
	unsigned char	*a = NULL, *b = NULL;
	uint8_t		*der;
	int		 alen, blen;

	alen = i2d_X509_NAME(X509_get_issuer_name(x), &a);
	if (subject)
		blen = i2d_X509_NAME(X509_get_subject_name(x), &b);
	else
		blen = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &b);
	assert_true(alen > 0 && blen > 0);
	der = seq2(a, (size_t)alen, b, (size_t)blen, lenp);
	OPENSSL_free(a);
	OPENSSL_free(b);
	return der;
}

/* Parse expecting rc; the request or NULL, with *failp and *hdrp. */
static struct scep_req *
parse(const uint8_t *der, size_t len, enum cg_code want,
    enum scep_fail *failp, struct scep_req_hdr *hdrp)
{
	struct scep_req	*req = (struct scep_req *)1;
	struct cg_err	 err = { 0 };
	enum cg_code	 rc;

	*failp = SCEP_FAIL__MAX;
	rc = scep_req_parse(der, len, &fuzz_ra, &req, hdrp,
	    failp, &err);
	if (rc != want)
		print_error("rc %d msg %s detail %s\n", rc, err.msg,
		    err.detail);
	assert_int_equal(rc, want);
	if (rc == CG_OK)
		assert_non_null(req);
	else
		assert_null(req);
	return req;
}

/* Build m around inner and expect a failure with fail and hdr.ok. */
static void
expect_fail(const struct msg *m, const uint8_t *inner, size_t ilen,
    enum cg_code want, enum scep_fail fail, bool hdr_ok)
{
	struct scep_req_hdr	 hdr;
	enum scep_fail		 f;
	uint8_t			*der;
	size_t			 len;

	der = build(m, inner, ilen, &len);
	(void)parse(der, len, want, &f, &hdr);
	assert_int_equal(f, fail);
	assert_int_equal(hdr.ok, hdr_ok);
	OPENSSL_free(der);
}

/* ----------------------------------------------------------- requests */

static void
test_pkcsreq(void **state)
{
	struct msg		 m = msg_default("19");
	struct scep_req_hdr	 hdr;
	struct scep_req		*req;
	enum scep_fail		 f;
	const uint8_t		*cder;
	uint8_t			*csr, *der, sha[SHA256_DIGEST_LENGTH];
	size_t			 clen, len, n;

	csr = csr_make("s3cret pw", &clen);
	der = build(&m, csr, clen, &len);
	req = parse(der, len, CG_OK, &f, &hdr);
	assert_int_equal(req->hdr.type, SCEP_MT_PKCSREQ);
	assert_string_equal(req->hdr.transaction_id, "tid-1");
	assert_memory_equal(req->hdr.sender_nonce, nonce1, SCEP_NONCE_LEN);
	assert_int_equal(req->hdr.md_nid, NID_sha256);
	assert_int_equal(req->cipher_nid, NID_aes_128_cbc);
	assert_true(req->hdr.ok);
	assert_memory_equal(&hdr, &req->hdr, sizeof(hdr));
	assert_int_equal(X509_cmp(req->signer, client_cert), 0);
	ca_csr_get0_der(req->csr, &cder, &n);
	assert_int_equal(n, clen);
	assert_memory_equal(cder, csr, clen);
	assert_string_equal(req->challenge, "s3cret pw");
	assert_int_equal(req->challenge_len, 9);
	assert_null(req->issuer);
	SHA256(der, len, sha);
	assert_memory_equal(req->sha256, sha, sizeof(sha));
	scep_req_free(req);
	OPENSSL_free(der);
	OPENSSL_free(csr);
}

/*
 * signingTime is read for the server's badTime check: OpenSSL's own
 * (now), one set long ago, none at all is 0, and a malformed one is a
 * badRequest.
 */
static void
test_signing_time(void **state)
{
	struct msg		 m = msg_default("19");
	struct scep_req		*req;
	enum scep_fail		 f;
	uint8_t			*csr, *der;
	size_t			 clen, len;
	int64_t			 now = (int64_t)time(NULL);

	csr = csr_make("pw", &clen);
	der = build(&m, csr, clen, &len);
	req = parse(der, len, CG_OK, &f, NULL);
	assert_true(req->signing_time >= now - 5 &&
	    req->signing_time <= now + 5);
	scep_req_free(req);
	OPENSSL_free(der);

	m.signing_time = 946684800;		/* 2000-01-01 */
	der = build(&m, csr, clen, &len);
	req = parse(der, len, CG_OK, &f, NULL);
	assert_int_equal(req->signing_time, 946684800);
	scep_req_free(req);
	OPENSSL_free(der);

	m.signing_time = 4102444800;	/* 2100: a GeneralizedTime */
	der = build(&m, csr, clen, &len);
	req = parse(der, len, CG_OK, &f, NULL);
	assert_int_equal(req->signing_time, 4102444800);
	scep_req_free(req);
	OPENSSL_free(der);

	m.signing_time = 0;
	m.bad_time = "yesterday";
	expect_fail(&m, csr, clen, CG_EINVAL, SCEP_FAIL_BADREQUEST, true);
	OPENSSL_free(csr);
}

static void
test_renewalreq(void **state)
{
	struct msg		 m = msg_default("17");
	struct scep_req_hdr	 hdr;
	struct scep_req		*req;
	enum scep_fail		 f;
	uint8_t			*csr, *der;
	size_t			 clen, len;

	/* Old clients: SHA-1 and triple DES. */
	m.cert = renew_cert;
	m.md = "SHA1";
	m.cipher = "DES-EDE3-CBC";
	csr = csr_make(NULL, &clen);
	der = build(&m, csr, clen, &len);
	req = parse(der, len, CG_OK, &f, &hdr);
	assert_int_equal(req->hdr.type, SCEP_MT_RENEWALREQ);
	assert_int_equal(req->hdr.md_nid, NID_sha1);
	assert_int_equal(req->cipher_nid, NID_des_ede3_cbc);
	assert_int_equal(X509_cmp(req->signer, renew_cert), 0);
	assert_non_null(req->csr);
	assert_null(req->challenge);
	scep_req_free(req);
	OPENSSL_free(der);
	OPENSSL_free(csr);
}

static void
test_every_allowed_alg(void **state)
{
	static const struct {
		const char	*md, *cipher;
		int		 md_nid, cipher_nid;
	} algs[] = {
		{ "SHA224", "AES-192-CBC", NID_sha224, NID_aes_192_cbc },
		{ "SHA384", "AES-256-CBC", NID_sha384, NID_aes_256_cbc },
		{ "SHA512", "AES-128-CBC", NID_sha512, NID_aes_128_cbc },
	};
	struct msg		 m = msg_default("19");
	struct scep_req		*req;
	enum scep_fail		 f;
	uint8_t			*csr, *der;
	size_t			 clen, len, i;

	csr = csr_make("pw", &clen);
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		m.md = algs[i].md;
		m.cipher = algs[i].cipher;
		der = build(&m, csr, clen, &len);
		req = parse(der, len, CG_OK, &f, NULL);
		assert_int_equal(req->hdr.md_nid, algs[i].md_nid);
		assert_int_equal(req->cipher_nid, algs[i].cipher_nid);
		scep_req_free(req);
		OPENSSL_free(der);
	}
	OPENSSL_free(csr);
}

static void
test_certpoll(void **state)
{
	struct msg	 m = msg_default("20");
	struct scep_req	*req;
	enum scep_fail	 f;
	uint8_t		*ias, *der;
	size_t		 ilen, len;

	ias = names_make(renew_cert, true, &ilen);
	der = build(&m, ias, ilen, &len);
	req = parse(der, len, CG_OK, &f, NULL);
	assert_int_equal(req->hdr.type, SCEP_MT_CERTPOLL);
	assert_int_equal(X509_NAME_cmp(req->issuer,
	    X509_get_subject_name(fuzz_ra_cert)), 0);
	assert_int_equal(X509_NAME_cmp(req->subject,
	    X509_get_subject_name(renew_cert)), 0);
	assert_null(req->serial);
	assert_null(req->csr);
	scep_req_free(req);
	OPENSSL_free(der);
	OPENSSL_free(ias);
}

static void
getcert_or_crl(const char *type, enum scep_msg_type mt)
{
	struct msg	 m = msg_default(type);
	struct scep_req	*req;
	enum scep_fail	 f;
	uint8_t		*ias, *der;
	size_t		 ilen, len;

	ias = names_make(renew_cert, false, &ilen);
	der = build(&m, ias, ilen, &len);
	req = parse(der, len, CG_OK, &f, NULL);
	assert_int_equal(req->hdr.type, mt);
	assert_int_equal(X509_NAME_cmp(req->issuer,
	    X509_get_subject_name(fuzz_ra_cert)), 0);
	assert_int_equal(ASN1_INTEGER_get(req->serial), 8);
	assert_null(req->subject);
	scep_req_free(req);
	OPENSSL_free(der);
	OPENSSL_free(ias);
}

static void
test_getcert(void **state)
{
	getcert_or_crl("21", SCEP_MT_GETCERT);
}

static void
test_getcrl(void **state)
{
	getcert_or_crl("22", SCEP_MT_GETCRL);
}

/* ------------------------------------------------------------ failures */

static void
test_tampered_signature(void **state)
{
	struct msg		 m = msg_default("19");
	struct scep_req_hdr	 hdr;
	enum scep_fail		 f;
	uint8_t			*csr, *der, *env, *at;
	size_t			 clen, len, elen;

	csr = csr_make("pw", &clen);
	der = build(&m, csr, clen, &len);
	/* The RSA signature is the message's last 256 bytes. */
	der[len - 10] ^= 0x01;
	(void)parse(der, len, CG_ECRYPTO, &f, &hdr);
	assert_int_equal(f, SCEP_FAIL_BADMESSAGECHECK);
	assert_true(hdr.ok);
	assert_string_equal(hdr.transaction_id, "tid-1");
	assert_memory_equal(hdr.sender_nonce, nonce1, SCEP_NONCE_LEN);
	OPENSSL_free(der);

	/* A changed envelope breaks the messageDigest. */
	env = envelope(&m, csr, clen, &elen);
	der = sign(&m, env, elen, &len);
	assert_true(elen > 200);
	assert_non_null(at = memmem(der, len, env + elen - 100, 64));
	at[10] ^= 0x80;
	(void)parse(der, len, CG_ECRYPTO, &f, &hdr);
	assert_int_equal(f, SCEP_FAIL_BADMESSAGECHECK);
	assert_true(hdr.ok);
	OPENSSL_free(der);
	OPENSSL_free(env);
	OPENSSL_free(csr);
}

static void
test_other_recipient(void **state)
{
	struct msg	 m = msg_default("19");
	uint8_t		*csr;
	size_t		 clen;

	m.to = other_cert;
	csr = csr_make("pw", &clen);
	expect_fail(&m, csr, clen, CG_ECRYPTO, SCEP_FAIL_BADMESSAGECHECK,
	    true);
	OPENSSL_free(csr);
}

static void
test_weak_algs(void **state)
{
	static const char *const ciphers[] = { "DES-CBC", "RC2-CBC" };
	struct msg	 m;
	uint8_t		*csr;
	size_t		 clen, i;

	csr = csr_make("pw", &clen);
	for (i = 0; i < 2; i++) {
		m = msg_default("19");
		m.cipher = ciphers[i];
		expect_fail(&m, csr, clen, CG_EINVAL, SCEP_FAIL_BADALG, true);
	}
	m = msg_default("19");
	m.md = "MD5";
	expect_fail(&m, csr, clen, CG_EINVAL, SCEP_FAIL_BADALG, true);
	OPENSSL_free(csr);
}

static void
test_bad_attributes(void **state)
{
	static const uint8_t short_nonce[8] = { 1 };
	struct msg	 m;
	uint8_t		*csr;
	size_t		 clen;

	csr = csr_make("pw", &clen);
	/* Without a transactionID or senderNonce no CertRep can be made. */
	m = msg_default("19");
	m.tid = NULL;
	expect_fail(&m, csr, clen, CG_EINVAL, SCEP_FAIL_BADREQUEST, false);
	m = msg_default("19");
	m.tid = "under_score";
	expect_fail(&m, csr, clen, CG_EINVAL, SCEP_FAIL_BADREQUEST, false);
	m = msg_default("19");
	m.nonce = NULL;
	expect_fail(&m, csr, clen, CG_EINVAL, SCEP_FAIL_BADREQUEST, false);
	m = msg_default("19");
	m.nonce = short_nonce;
	m.nonce_len = sizeof(short_nonce);
	expect_fail(&m, csr, clen, CG_EINVAL, SCEP_FAIL_BADREQUEST, false);
	/* With them, other problems get a badRequest CertRep. */
	m = msg_default(NULL);
	expect_fail(&m, csr, clen, CG_EINVAL, SCEP_FAIL_BADREQUEST, true);
	m = msg_default("3");
	expect_fail(&m, csr, clen, CG_EINVAL, SCEP_FAIL_BADREQUEST, true);
	m = msg_default("019");
	expect_fail(&m, csr, clen, CG_EINVAL, SCEP_FAIL_BADREQUEST, true);
	m = msg_default("19");
	m.no_certs = true;
	expect_fail(&m, csr, clen, CG_EINVAL, SCEP_FAIL_BADREQUEST, true);
	/* A PKCSReq must hold a CSR, a GetCert an IssuerAndSerialNumber. */
	m = msg_default("21");
	expect_fail(&m, csr, clen, CG_EINVAL, SCEP_FAIL_BADREQUEST, true);
	m = msg_default("19");
	expect_fail(&m, (const uint8_t *)"junk", 4, CG_EINVAL,
	    SCEP_FAIL_BADREQUEST, true);
	OPENSSL_free(csr);
}

static void
test_bad_encoding(void **state)
{
	struct msg		 m = msg_default("19");
	struct scep_req_hdr	 hdr;
	enum scep_fail		 f;
	uint8_t			*csr, *der, *big;
	size_t			 clen, len;

	csr = csr_make("pw", &clen);
	der = build(&m, csr, clen, &len);
	assert_true(len > 256 && len < 0x10000);
	assert_int_equal(der[0], 0x30);
	assert_int_equal(der[1], 0x82);

	/* Trailing bytes. */
	assert_non_null(big = malloc(len + 6));
	memcpy(big, der, len);
	big[len] = 0;
	(void)parse(big, len + 1, CG_EINVAL, &f, &hdr);
	assert_false(hdr.ok);
	assert_int_equal(f, SCEP_FAIL_BADREQUEST);
	/* Truncated. */
	(void)parse(der, len - 1, CG_EINVAL, &f, &hdr);
	/* The same message with a length in more bytes than needed: BER. */
	big[0] = 0x30;
	big[1] = 0x83;
	big[2] = 0x00;
	memcpy(big + 3, der + 2, len - 2);
	(void)parse(big, len + 1, CG_EINVAL, &f, &hdr);
	/* The same with an indefinite length. */
	big[1] = 0x80;
	memcpy(big + 2, der + 4, len - 4);
	big[len - 2] = 0;
	big[len - 1] = 0;
	(void)parse(big, len, CG_EINVAL, &f, &hdr);
	free(big);

	assert_non_null(big = calloc(1, SCEP_MSG_MAX + 1));
	memcpy(big, der, len);
	(void)parse(big, SCEP_MSG_MAX + 1, CG_ETOOBIG, &f, &hdr);
	assert_false(hdr.ok);
	(void)parse(big, 0, CG_EINVAL, &f, &hdr);
	free(big);
	OPENSSL_free(der);
	OPENSSL_free(csr);
}

/* ------------------------------------------------------------ replies */

/* The single value of a signed attribute of the reply's signer, or NULL. */
static const ASN1_STRING *
rattr(CMS_ContentInfo *cms, const char *oid, int type)
{
	CMS_SignerInfo		*si;
	ASN1_OBJECT		*obj = OBJ_txt2obj(oid, 1);
	const ASN1_STRING	*s;

	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	assert_non_null(si);
	s = CMS_signed_get0_data_by_OBJ(si, obj, -3, type);
	ASN1_OBJECT_free(obj);
	return s;
}

static void
assert_attr_str(CMS_ContentInfo *cms, const char *oid, const char *want)
{
	const ASN1_STRING	*s = rattr(cms, oid, V_ASN1_PRINTABLESTRING);

	if (want == NULL) {
		assert_null(s);
		return;
	}
	assert_non_null(s);
	assert_int_equal(ASN1_STRING_length(s), strlen(want));
	assert_memory_equal(ASN1_STRING_get0_data(s), want, strlen(want));
}

/*
 * Read a CertRep as a client: the signature verifies with the RA's
 * certificate, which it carries; the signer is named by issuer and serial;
 * the common attributes are right.  Returns the parsed reply.
 */
static CMS_ContentInfo *
reply_read(const uint8_t *der, size_t len, const char *status,
    const char *fail)
{
	const unsigned char	*p = der;
	const ASN1_STRING	*s;
	CMS_ContentInfo		*cms;
	STACK_OF(X509)		*signers;
	ASN1_OCTET_STRING	*keyid = NULL;
	X509_NAME		*issuer = NULL;
	ASN1_INTEGER		*serial = NULL;
	CMS_SignerInfo		*si;

	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len));
	assert_ptr_equal(p, der + len);
	assert_int_equal(CMS_verify(cms, NULL, NULL, NULL, NULL,
	    CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY), 1);
	signers = CMS_get0_signers(cms);
	assert_int_equal(sk_X509_num(signers), 1);
	assert_int_equal(X509_cmp(sk_X509_value(signers, 0), fuzz_ra_cert),
	    0);
	sk_X509_free(signers);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	assert_int_equal(CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer,
	    &serial), 1);
	assert_null(keyid);
	assert_non_null(issuer);
	assert_non_null(serial);

	assert_attr_str(cms, SCEP_OID_MESSAGE_TYPE, "3");
	assert_attr_str(cms, SCEP_OID_TRANS_ID, "tid-1");
	assert_attr_str(cms, SCEP_OID_PKI_STATUS, status);
	assert_attr_str(cms, SCEP_OID_FAIL_INFO, fail);
	s = rattr(cms, SCEP_OID_RECIP_NONCE, V_ASN1_OCTET_STRING);
	assert_non_null(s);
	assert_int_equal(ASN1_STRING_length(s), SCEP_NONCE_LEN);
	assert_memory_equal(ASN1_STRING_get0_data(s), nonce1, SCEP_NONCE_LEN);
	s = rattr(cms, SCEP_OID_SENDER_NONCE, V_ASN1_OCTET_STRING);
	assert_non_null(s);
	assert_int_equal(ASN1_STRING_length(s), SCEP_NONCE_LEN);
	assert_memory_not_equal(ASN1_STRING_get0_data(s), nonce1,
	    SCEP_NONCE_LEN);
	return cms;
}

/* A request parsed from this client, to answer. */
static struct scep_req *
request(const char *md)
{
	struct msg	 m = msg_default("19");
	struct scep_req	*req;
	enum scep_fail	 f;
	uint8_t		*csr, *der;
	size_t		 clen, len;

	m.md = md;
	csr = csr_make("pw", &clen);
	der = build(&m, csr, clen, &len);
	req = parse(der, len, CG_OK, &f, NULL);
	OPENSSL_free(der);
	OPENSSL_free(csr);
	return req;
}

static struct scep_rep
rep_for(const struct scep_req *req, enum scep_status st)
{
	struct scep_rep	 rep = {
		.status = st,
		.transaction_id = req->hdr.transaction_id,
		.recipient_nonce = req->hdr.sender_nonce,
		.recipient = req->signer,
		.md_nid = req->hdr.md_nid,
	};

	return rep;
}

/* Decrypt a SUCCESS reply's envelope with the client key; its cipher. */
static PKCS7 *
reply_open(CMS_ContentInfo *cms, int *cipherp)
{
	ASN1_OCTET_STRING	**content = CMS_get0_content(cms);
	const unsigned char	*p;
	CMS_ContentInfo		*env;
	PKCS7			*p7, *legacy;
	BIO			*out;
	char			*plain;
	long			 plen;

	assert_non_null(content);
	assert_non_null(*content);
	p = (*content)->data;
	assert_non_null(env = d2i_CMS_ContentInfo(NULL, &p,
	    (*content)->length));
	/* Legacy PKCS7 readers (certmonger) must see the same cipher. */
	p = (*content)->data;
	assert_non_null(legacy = d2i_PKCS7(NULL, &p, (*content)->length));
	assert_true(PKCS7_type_is_enveloped(legacy));
	*cipherp = OBJ_obj2nid(legacy->d.enveloped->enc_data->algorithm->
	    algorithm);
	PKCS7_free(legacy);
	assert_non_null(out = BIO_new(BIO_s_mem()));
	assert_int_equal(CMS_decrypt(env, client_key, client_cert, NULL, out,
	    CMS_BINARY), 1);
	plen = BIO_get_mem_data(out, &plain);
	p = (const unsigned char *)plain;
	assert_non_null(p7 = d2i_PKCS7(NULL, &p, plen));
	assert_ptr_equal(p, (const unsigned char *)plain + plen);
	assert_true(PKCS7_type_is_signed(p7));
	BIO_free(out);
	CMS_ContentInfo_free(env);
	return p7;
}

static void
test_rep_success(void **state)
{
	static const struct {
		int	 want;		/* cipher asked; 0 for the default */
		int	 got;		/* cipher in the envelope */
	} ciphers[] = {
		{ 0, NID_aes_256_cbc },
		{ NID_des_ede3_cbc, NID_des_ede3_cbc },
		{ NID_aes_128_cbc, NID_aes_128_cbc },
	};
	struct scep_req	*req = request("SHA1");
	struct scep_rep	 rep = rep_for(req, SCEP_ST_SUCCESS);
	X509		*issued, *certs[2];
	CMS_ContentInfo	*cms;
	PKCS7		*p7;
	uint8_t		*der;
	size_t		 len, i;
	int		 cipher;

	issued = cert_make(ca_csr_get0_pubkey(req->csr), "device-1",
	    fuzz_ra_key, fuzz_ra_cert, 42);
	certs[0] = issued;
	certs[1] = fuzz_ra_cert;
	rep.certs = certs;
	rep.ncerts = 2;
	for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		rep.cipher_nid = ciphers[i].want;
		assert_int_equal(scep_rep_make(&rep, &fuzz_ra,
		    &der, &len, NULL), CG_OK);
		cms = reply_read(der, len, "0", NULL);
		p7 = reply_open(cms, &cipher);
		assert_int_equal(cipher, ciphers[i].got);
		assert_int_equal(sk_X509_num(p7->d.sign->cert), 2);
		assert_int_equal(X509_cmp(sk_X509_value(p7->d.sign->cert, 0),
		    issued), 0);
		assert_int_equal(X509_cmp(sk_X509_value(p7->d.sign->cert, 1),
		    fuzz_ra_cert), 0);
		PKCS7_free(p7);
		CMS_ContentInfo_free(cms);
		cg_free(der);
	}

	/* The digest echoes the request's. */
	assert_int_equal(scep_rep_make(&rep, &fuzz_ra, &der,
	    &len, NULL), CG_OK);
	{
		const unsigned char	*p = der;
		PKCS7			*legacy;
		BIO			*out = BIO_new(BIO_s_mem());
		PKCS7_SIGNER_INFO	*psi;

		/* A PKCS7 client (certmonger) reads and verifies it too. */
		assert_non_null(legacy = d2i_PKCS7(NULL, &p, (long)len));
		assert_int_equal(ASN1_INTEGER_get(legacy->d.sign->version), 1);
		psi = sk_PKCS7_SIGNER_INFO_value(legacy->d.sign->signer_info,
		    0);
		assert_int_equal(ASN1_INTEGER_get(psi->version), 1);
		assert_int_equal(OBJ_obj2nid(psi->digest_alg->algorithm),
		    NID_sha1);
		assert_int_equal(PKCS7_verify(legacy, NULL, NULL, NULL, out,
		    PKCS7_NOVERIFY | PKCS7_BINARY), 1);
		BIO_free(out);
		PKCS7_free(legacy);
	}
	cg_free(der);
	X509_free(issued);
	scep_req_free(req);
}

static void
test_rep_crl(void **state)
{
	struct scep_req	*req = request("SHA256");
	struct scep_rep	 rep = rep_for(req, SCEP_ST_SUCCESS);
	X509_CRL	*crl = X509_CRL_new();
	ASN1_TIME	*now;
	CMS_ContentInfo	*cms;
	PKCS7		*p7;
	unsigned char	*a, *b;
	uint8_t		*der;
	size_t		 len;
	int		 cipher, alen;

	assert_non_null(crl);
	assert_int_equal(X509_CRL_set_issuer_name(crl,
	    X509_get_subject_name(fuzz_ra_cert)), 1);
	assert_non_null(now = ASN1_TIME_set(NULL, time(NULL)));
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, now), 1);
	ASN1_TIME_free(now);
	assert_true(X509_CRL_sign(crl, fuzz_ra_key, EVP_sha256()) > 0);
	rep.crl = crl;
	assert_int_equal(scep_rep_make(&rep, &fuzz_ra, &der,
	    &len, NULL), CG_OK);
	cms = reply_read(der, len, "0", NULL);
	p7 = reply_open(cms, &cipher);
	assert_true(sk_X509_num(p7->d.sign->cert) <= 0);	/* absent */
	assert_int_equal(sk_X509_CRL_num(p7->d.sign->crl), 1);
	a = b = NULL;
	alen = i2d_X509_CRL(crl, &a);
	assert_true(alen > 0);
	assert_int_equal(i2d_X509_CRL(sk_X509_CRL_value(p7->d.sign->crl, 0),
	    &b), alen);
	assert_memory_equal(a, b, (size_t)alen);
	OPENSSL_free(a);
	OPENSSL_free(b);
	PKCS7_free(p7);
	CMS_ContentInfo_free(cms);
	cg_free(der);
	X509_CRL_free(crl);
	scep_req_free(req);
}

static void
rep_no_envelope(enum scep_status st, enum scep_fail fail, const char *sst,
    const char *sfail)
{
	struct scep_req		*req = request("SHA256");
	struct scep_rep		 rep = rep_for(req, st);
	ASN1_OCTET_STRING	**content;
	CMS_ContentInfo		*cms;
	uint8_t			*der;
	size_t			 len;

	rep.fail = fail;
	rep.recipient = NULL;
	assert_int_equal(scep_rep_make(&rep, &fuzz_ra, &der,
	    &len, NULL), CG_OK);
	cms = reply_read(der, len, sst, sfail);
	content = CMS_get0_content(cms);
	assert_non_null(content);
	assert_true(*content == NULL || ASN1_STRING_length(*content) == 0);
	CMS_ContentInfo_free(cms);
	cg_free(der);
	scep_req_free(req);
}

static void
test_rep_failure(void **state)
{
	rep_no_envelope(SCEP_ST_FAILURE, SCEP_FAIL_BADCERTID, "2", "4");
	rep_no_envelope(SCEP_ST_FAILURE, SCEP_FAIL_BADALG, "2", "0");
}

static void
test_rep_pending(void **state)
{
	rep_no_envelope(SCEP_ST_PENDING, SCEP_FAIL_BADALG, "3", NULL);
}

static void
test_rep_refuses(void **state)
{
	struct scep_req	*req = request("SHA256");
	struct scep_rep	 rep;
	X509		*certs[1] = { fuzz_ra_cert };
	uint8_t		*der = (uint8_t *)1;
	size_t		 len = 1;

	rep = rep_for(req, SCEP_ST_SUCCESS);
	assert_int_equal(scep_rep_make(&rep, &fuzz_ra, &der,
	    &len, NULL), CG_EINVAL);
	assert_null(der);
	assert_int_equal(len, 0);
	rep.certs = certs;
	rep.ncerts = 1;
	rep.md_nid = NID_md5;
	assert_int_equal(scep_rep_make(&rep, &fuzz_ra, &der,
	    &len, NULL), CG_EINVAL);
	rep.md_nid = 0;
	rep.cipher_nid = NID_des_cbc;
	assert_int_equal(scep_rep_make(&rep, &fuzz_ra, &der,
	    &len, NULL), CG_EINVAL);
	rep.cipher_nid = 0;
	rep.transaction_id = "bad\ntid";
	assert_int_equal(scep_rep_make(&rep, &fuzz_ra, &der,
	    &len, NULL), CG_EINVAL);
	rep = rep_for(req, SCEP_ST_FAILURE);
	rep.fail = SCEP_FAIL__MAX;
	assert_int_equal(scep_rep_make(&rep, &fuzz_ra, &der,
	    &len, NULL), CG_EINVAL);
	rep = rep_for(req, (enum scep_status)1);
	assert_int_equal(scep_rep_make(&rep, &fuzz_ra, &der,
	    &len, NULL), CG_EINVAL);
	scep_req_free(req);
}

static void
test_certs_only(void **state)
{
	X509			*certs[2] = { renew_cert, fuzz_ra_cert };
	const unsigned char	*p;
	PKCS7			*p7;
	uint8_t			*der;
	size_t			 len;

	assert_int_equal(scep_certs_only(certs, 2, NULL, &der, &len, NULL),
	    CG_OK);
	p = der;
	assert_non_null(p7 = d2i_PKCS7(NULL, &p, (long)len));
	assert_ptr_equal(p, der + len);
	assert_true(PKCS7_type_is_signed(p7));
	assert_int_equal(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info),
	    0);
	assert_int_equal(OBJ_obj2nid(p7->d.sign->contents->type),
	    NID_pkcs7_data);
	assert_null(p7->d.sign->contents->d.ptr);
	assert_int_equal(sk_X509_num(p7->d.sign->cert), 2);
	/* Order kept: RA first for GetCACert, issued cert in CertRep. */
	assert_int_equal(X509_cmp(sk_X509_value(p7->d.sign->cert, 0),
	    renew_cert), 0);
	assert_int_equal(X509_cmp(sk_X509_value(p7->d.sign->cert, 1),
	    fuzz_ra_cert), 0);
	PKCS7_free(p7);
	cg_free(der);
	assert_int_equal(scep_certs_only(certs, 0, NULL, &der, &len, NULL),
	    CG_EINVAL);
	assert_null(der);
	assert_int_equal(scep_certs_only(certs, SCEP_CERTS_MAX + 1, NULL,
	    &der, &len, NULL), CG_EINVAL);
}

/* ------------------------------------------------------------ fuzzing */

static void
seed_write(const char *dir, const char *name, uint8_t mode,
    const uint8_t *der, size_t len)
{
	char	 path[4096];
	FILE	*f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(&mode, 1, 1, f), 1);
	assert_int_equal(fwrite(der, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/*
 * The messages above parse in the fuzz harness too (it aborts on a broken
 * invariant), and are its seeds: whole messages (mode 0) and plaintexts
 * for it to wrap (mode 1, type byte first).
 */
static void
test_fuzz_seeds(void **state)
{
	static const struct {
		const char	*name, *type, *md, *cipher;
		int		 inner;	/* 0 CSR, 1 IssuerAndSubject, 2 IAS */
		uint8_t		 wrap;	/* mode-1 type byte */
	} seeds[] = {
		{ "pkcsreq", "19", "SHA256", "AES-128-CBC", 0, 0 },
		{ "renewalreq_sha1_des3", "17", "SHA1", "DES-EDE3-CBC", 0, 1 },
		{ "certpoll", "20", "SHA512", "AES-256-CBC", 1, 2 },
		{ "getcert", "21", "SHA256", "AES-192-CBC", 2, 3 },
		{ "getcrl", "22", "SHA384", "AES-256-CBC", 2, 4 },
		{ "pkcsreq_md5", "19", "MD5", "AES-128-CBC", 0, 0 },
	};
	const char	*dir = getenv("CERTGW_SCEP_SEED_DIR");
	struct msg	 m;
	uint8_t		*inner, *der, *buf;
	size_t		 ilen, len, i;
	char		 name[64];

	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		m = msg_default(seeds[i].type);
		m.md = seeds[i].md;
		m.cipher = seeds[i].cipher;
		if (seeds[i].inner == 0)
			inner = csr_make("seed pw", &ilen);
		else
			inner = names_make(renew_cert, seeds[i].inner == 1,
			    &ilen);
		der = build(&m, inner, ilen, &len);
		assert_non_null(buf = malloc(len + 2));
		buf[0] = 0;
		memcpy(buf + 1, der, len);
		assert_int_equal(LLVMFuzzerTestOneInput(buf, len + 1), 0);
		seed_write(dir, seeds[i].name, 0, der, len);
		buf[0] = 1;
		buf[1] = seeds[i].wrap;
		memcpy(buf + 2, inner, ilen);
		assert_int_equal(LLVMFuzzerTestOneInput(buf, ilen + 2), 0);
		snprintf(name, sizeof(name), "inner_%s", seeds[i].name);
		seed_write(dir, name, 1, buf + 1, ilen + 1);
		free(buf);
		OPENSSL_free(der);
		OPENSSL_free(inner);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkcsreq),
		cmocka_unit_test(test_signing_time),
		cmocka_unit_test(test_renewalreq),
		cmocka_unit_test(test_every_allowed_alg),
		cmocka_unit_test(test_certpoll),
		cmocka_unit_test(test_getcert),
		cmocka_unit_test(test_getcrl),
		cmocka_unit_test(test_tampered_signature),
		cmocka_unit_test(test_other_recipient),
		cmocka_unit_test(test_weak_algs),
		cmocka_unit_test(test_bad_attributes),
		cmocka_unit_test(test_bad_encoding),
		cmocka_unit_test(test_rep_success),
		cmocka_unit_test(test_rep_crl),
		cmocka_unit_test(test_rep_failure),
		cmocka_unit_test(test_rep_pending),
		cmocka_unit_test(test_rep_refuses),
		cmocka_unit_test(test_certs_only),
		cmocka_unit_test(test_fuzz_seeds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
