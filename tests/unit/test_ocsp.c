/*
 * test_ocsp.c - the OCSP responder's core (ca/ca_ocsp.c) through the
 * public API: good, revoked (time and reason) and unknown answers with
 * SHA-1 and SHA-256 CertIDs, nonces (echoed; too long, empty or not an
 * OCTET STRING refused), malformed requests, unauthorized when a CertID
 * names another issuer, a delegated signer, the AIA OCSP URL and ocsp-nocheck that
 * issuance adds, and the gateway's Cache-Control text.  Every signed
 * response is checked with OCSP_basic_verify() against the CA.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca_test.h"
#include "gw_ocsp.h"

#define BASE_URL	"http://gw.example:8080"

struct ofx {
	struct ca_fx	 ca;		/* CA and store */
	struct ca_ocsp	*o;		/* responder signed by the CA */
	struct ca_issued *leaf;		/* an issued certificate */
};

/* ------------------------------------------------------------ helpers */

static struct ca_issued *
issue(struct ca_fx *fx, const struct ca_profile *p, const char *cn,
    EVP_PKEY **keyp)
{
	static const char *const sans[] = { "DNS:host.example.com" };
	struct ca_issue_req	 req;
	struct ca_issued	*is = NULL;
	struct cg_err		 err = { 0 };
	struct ca_csr		*csr;
	EVP_PKEY		*key = cafx_key("ec-p256");
	size_t			 nsans = p->san_types != 0 ? 1 : 0;

	csr = cafx_csr(key, cn, sans, nsans);
	memset(&req, 0, sizeof(req));
	req.csr = csr;
	req.profile = p;
	req.protocol = "cli";
	req.requester = "test";
	if (ca_issue(fx->ca, fx->st, &req, &is, &err) != CG_OK)
		cafx_die("ca_issue", &err);
	ca_csr_free(csr);
	if (keyp != NULL)
		*keyp = key;
	else
		EVP_PKEY_free(key);
	return is;
}

static int
setup(void **state)
{
	struct ofx		*f;
	struct ca_profile	 p;
	struct cg_err		 err = { 0 };

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	cafx_create(&f->ca, CA_INIT_EC_P256, false, BASE_URL);
	if (ca_ocsp_open(f->ca.ca, NULL, &f->o, &err) != CG_OK)
		cafx_die("ca_ocsp_open", &err);
	cafx_profile_server(&p);
	f->leaf = issue(&f->ca, &p, "leaf", NULL);
	ca_profile_cleanup(&p);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct ofx	*f = *state;

	ca_issued_free(f->leaf);
	ca_ocsp_free(f->o);
	cafx_destroy(&f->ca);
	free(f);
	return 0;
}

static OCSP_CERTID *
leaf_id(struct ofx *f, const EVP_MD *md)
{
	OCSP_CERTID	*id;

	id = OCSP_cert_to_id(md, ca_issued_get0_cert(f->leaf),
	    ca_get0_cert(f->ca.ca));
	assert_non_null(id);
	return id;
}

/* A CertID for serial under this CA's name and key. */
static OCSP_CERTID *
serial_id(struct ofx *f, long serial)
{
	X509		*cacert = ca_get0_cert(f->ca.ca);
	ASN1_INTEGER	*ai = ASN1_INTEGER_new();
	OCSP_CERTID	*id;

	assert_non_null(ai);
	assert_int_equal(ASN1_INTEGER_set(ai, serial), 1);
	id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(cacert),
	    X509_get0_pubkey_bitstr(cacert), ai);
	ASN1_INTEGER_free(ai);
	assert_non_null(id);
	return id;
}

/* A request for the ids (taken), with a nonce of nlen bytes (0: none). */
static uint8_t *
req_make(OCSP_CERTID **ids, size_t n, int nlen, size_t *lenp)
{
	OCSP_REQUEST	*req = OCSP_REQUEST_new();
	unsigned char	*p;
	uint8_t		*der;
	size_t		 i;
	int		 len;

	assert_non_null(req);
	for (i = 0; i < n; i++)
		assert_non_null(OCSP_request_add0_id(req, ids[i]));
	if (nlen > 0)
		assert_int_equal(OCSP_request_add1_nonce(req, NULL, nlen), 1);
	len = i2d_OCSP_REQUEST(req, NULL);
	assert_true(len > 0);
	der = cg_malloc((size_t)len);
	assert_non_null(der);
	p = der;
	assert_int_equal(i2d_OCSP_REQUEST(req, &p), len);
	OCSP_REQUEST_free(req);
	*lenp = (size_t)len;
	return der;
}

static OCSP_RESPONSE *
respond(const struct ca_ocsp *o, struct ca_store *st, const uint8_t *der,
    size_t len, struct ca_ocsp_result *res)
{
	struct cg_err		 err = { 0 };
	const unsigned char	*p;
	uint8_t			*out = NULL;
	size_t			 outlen = 0;
	OCSP_RESPONSE		*resp;

	if (ca_ocsp_respond(o, st, der, len, cg_now(), &out, &outlen, res,
	    &err) != CG_OK)
		cafx_die("ca_ocsp_respond", &err);
	p = out;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)outlen);
	assert_non_null(resp);
	assert_ptr_equal(p, out + outlen);
	assert_int_equal(OCSP_response_status(resp), (int)res->status);
	cg_free(out);
	return resp;
}

/* The basic response, verified against the CA as the only trust. */
static OCSP_BASICRESP *
basic_verified(struct ofx *f, OCSP_RESPONSE *resp)
{
	X509_STORE	*xs = X509_STORE_new();
	STACK_OF(X509)	*certs = sk_X509_new_null();
	OCSP_BASICRESP	*bs;

	assert_non_null(xs);
	assert_non_null(certs);
	assert_int_equal(X509_STORE_add_cert(xs, ca_get0_cert(f->ca.ca)), 1);
	assert_true(sk_X509_push(certs, ca_get0_cert(f->ca.ca)) > 0);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	assert_int_equal(OCSP_basic_verify(bs, certs, xs, 0), 1);
	sk_X509_free(certs);
	X509_STORE_free(xs);
	return bs;
}

/* Status of id in bs; reason and revocation time when revoked. */
static int
status_of(OCSP_BASICRESP *bs, OCSP_CERTID *id, int *reasonp,
    int64_t *revp)
{
	ASN1_GENERALIZEDTIME	*rev = NULL, *thisu = NULL, *nextu = NULL;
	struct tm		 tm;
	int			 status = -1, reason = -1;

	assert_int_equal(OCSP_resp_find_status(bs, id, &status, &reason,
	    &rev, &thisu, &nextu), 1);
	assert_int_equal(OCSP_check_validity(thisu, nextu, 300, -1), 1);
	if (reasonp != NULL)
		*reasonp = reason;
	if (revp != NULL && rev != NULL) {
		memset(&tm, 0, sizeof(tm));
		assert_int_equal(ASN1_TIME_to_tm(rev, &tm), 1);
		*revp = (int64_t)timegm(&tm);
	}
	return status;
}

static void
expect_malformed(struct ofx *f, const uint8_t *der, size_t len)
{
	struct ca_ocsp_result	 res;
	OCSP_RESPONSE		*resp;

	resp = respond(f->o, f->ca.st, der, len, &res);
	assert_int_equal(res.status, CA_OCSP_MALFORMED);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	assert_null(OCSP_response_get1_basic(resp));
	assert_false(res.cacheable);
	OCSP_RESPONSE_free(resp);
}

/* -------------------------------------------------------------- tests */

static void
test_good_sha1_and_sha256(void **state)
{
	struct ofx		*f = *state;
	const EVP_MD		*mds[2] = { EVP_sha1(), EVP_sha256() };
	struct ca_ocsp_result	 res;
	OCSP_CERTID		*id, *probe;
	OCSP_RESPONSE		*resp;
	OCSP_BASICRESP		*bs;
	uint8_t			*der;
	size_t			 len, i;

	for (i = 0; i < 2; i++) {
		id = leaf_id(f, mds[i]);
		probe = OCSP_CERTID_dup(id);
		der = req_make(&id, 1, 0, &len);
		resp = respond(f->o, f->ca.st, der, len, &res);
		assert_int_equal(res.status, CA_OCSP_SUCCESSFUL);
		assert_int_equal(res.ngood, 1);
		assert_int_equal(res.nrevoked + res.nunknown, 0);
		assert_true(res.cacheable);
		assert_false(res.nonce);
		assert_true(res.next_update > cg_now() + 3000);
		bs = basic_verified(f, resp);
		assert_int_equal(status_of(bs, probe, NULL, NULL),
		    V_OCSP_CERTSTATUS_GOOD);
		/* The CA signs: no certificates ride along. */
		assert_true(sk_X509_num(OCSP_resp_get0_certs(bs)) <= 0);
		OCSP_BASICRESP_free(bs);
		OCSP_RESPONSE_free(resp);
		OCSP_CERTID_free(probe);
		cg_free(der);
	}
}

static void
test_revoked_with_reason(void **state)
{
	struct ofx		*f = *state;
	struct ca_ocsp_result	 res;
	struct cg_err		 err = { 0 };
	OCSP_CERTID		*id, *probe;
	OCSP_RESPONSE		*resp;
	OCSP_BASICRESP		*bs;
	uint8_t			*der;
	size_t			 len;
	int64_t			 before = cg_now(), rev = 0;
	int			 reason = -1;

	if (ca_revoke(f->ca.ca, f->ca.st, f->leaf->serial,
	    CA_REASON_KEY_COMPROMISE, "test", &err) != CG_OK)
		cafx_die("ca_revoke", &err);
	id = leaf_id(f, EVP_sha256());
	probe = OCSP_CERTID_dup(id);
	der = req_make(&id, 1, 0, &len);
	resp = respond(f->o, f->ca.st, der, len, &res);
	assert_int_equal(res.status, CA_OCSP_SUCCESSFUL);
	assert_int_equal(res.nrevoked, 1);
	assert_true(res.cacheable);
	bs = basic_verified(f, resp);
	assert_int_equal(status_of(bs, probe, &reason, &rev),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_true(rev >= before && rev <= cg_now());
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_CERTID_free(probe);
	cg_free(der);
}

static void
test_unknown_serial(void **state)
{
	struct ofx		*f = *state;
	struct ca_ocsp_result	 res;
	OCSP_CERTID		*ids[2], *probe;
	OCSP_RESPONSE		*resp;
	OCSP_BASICRESP		*bs;
	uint8_t			*der;
	size_t			 len;

	ids[0] = serial_id(f, 0x1234);
	ids[1] = serial_id(f, -5);	/* never one of ours */
	probe = OCSP_CERTID_dup(ids[0]);
	der = req_make(ids, 2, 0, &len);
	resp = respond(f->o, f->ca.st, der, len, &res);
	assert_int_equal(res.status, CA_OCSP_SUCCESSFUL);
	assert_int_equal(res.nunknown, 2);
	/* Unknown may become good once issued: never cached. */
	assert_false(res.cacheable);
	bs = basic_verified(f, resp);
	assert_int_equal(status_of(bs, probe, NULL, NULL),
	    V_OCSP_CERTSTATUS_UNKNOWN);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_CERTID_free(probe);
	cg_free(der);
}

static void
test_other_issuer(void **state)
{
	struct ofx		*f = *state;
	struct ca_ocsp_result	 res;
	X509			*leaf = ca_issued_get0_cert(f->leaf);
	OCSP_CERTID		*ids[2], *probe;
	OCSP_RESPONSE		*resp;
	uint8_t			*der;
	size_t			 len;

	/* The leaf as "issuer": a CA we are not. */
	ids[0] = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(leaf),
	    X509_get0_pubkey_bitstr(leaf), X509_get0_serialNumber(leaf));
	assert_non_null(ids[0]);
	probe = OCSP_CERTID_dup(ids[0]);
	der = req_make(ids, 1, 0, &len);
	resp = respond(f->o, f->ca.st, der, len, &res);
	assert_int_equal(res.status, CA_OCSP_UNAUTHORIZED);
	assert_null(OCSP_response_get1_basic(resp));
	OCSP_RESPONSE_free(resp);
	cg_free(der);
	/* Beside one of ours as well: one response, one issuer. */
	ids[0] = leaf_id(f, EVP_sha1());
	ids[1] = OCSP_CERTID_dup(probe);
	der = req_make(ids, 2, 0, &len);
	resp = respond(f->o, f->ca.st, der, len, &res);
	assert_int_equal(res.status, CA_OCSP_UNAUTHORIZED);
	assert_null(OCSP_response_get1_basic(resp));
	OCSP_RESPONSE_free(resp);
	OCSP_CERTID_free(probe);
	cg_free(der);
}

static void
test_nonce(void **state)
{
	struct ofx		*f = *state;
	static const int	 ok[] = { 1, 16, 32 };
	struct ca_ocsp_result	 res;
	const unsigned char	*p;
	OCSP_REQUEST		*req;
	OCSP_CERTID		*id;
	OCSP_RESPONSE		*resp;
	OCSP_BASICRESP		*bs;
	uint8_t			*der;
	size_t			 len, i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		id = leaf_id(f, EVP_sha1());
		der = req_make(&id, 1, ok[i], &len);
		resp = respond(f->o, f->ca.st, der, len, &res);
		assert_int_equal(res.status, CA_OCSP_SUCCESSFUL);
		assert_true(res.nonce);
		assert_false(res.cacheable);
		bs = basic_verified(f, resp);
		p = der;
		req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
		assert_non_null(req);
		/* 1: present in both and equal. */
		assert_int_equal(OCSP_check_nonce(req, bs), 1);
		OCSP_REQUEST_free(req);
		OCSP_BASICRESP_free(bs);
		OCSP_RESPONSE_free(resp);
		cg_free(der);
	}
	/* RFC 8954: longer than 32 bytes is malformedRequest. */
	id = leaf_id(f, EVP_sha1());
	der = req_make(&id, 1, 33, &len);
	expect_malformed(f, der, len);
	cg_free(der);
}

/* A request for the leaf whose nonce extnValue holds exactly val. */
static uint8_t *
req_raw_nonce(struct ofx *f, const unsigned char *val, int vlen, int *lenp)
{
	ASN1_OCTET_STRING	*os = ASN1_OCTET_STRING_new();
	X509_EXTENSION		*ext;
	OCSP_REQUEST		*req = OCSP_REQUEST_new();
	unsigned char		*p;
	uint8_t			*der;

	assert_non_null(OCSP_request_add0_id(req, leaf_id(f, EVP_sha1())));
	assert_int_equal(ASN1_OCTET_STRING_set(os, val, vlen), 1);
	ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_Nonce, 0,
	    os);
	assert_non_null(ext);
	assert_int_equal(OCSP_REQUEST_add_ext(req, ext, -1), 1);
	*lenp = i2d_OCSP_REQUEST(req, NULL);
	der = cg_malloc((size_t)*lenp);
	assert_non_null(der);
	p = der;
	assert_int_equal(i2d_OCSP_REQUEST(req, &p), *lenp);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	OCSP_REQUEST_free(req);
	return der;
}

static void
test_nonce_bad_encoding(void **state)
{
	struct ofx		*f = *state;
	/* Bare bytes (no inner OCTET STRING); an empty OCTET STRING. */
	static const unsigned char raw[] = { 0x01, 0x02, 0x03 };
	static const unsigned char empty[] = { 0x04, 0x00 };
	static const unsigned char twice[] = { 0x04, 0x01, 0x07, 0x04 };
	uint8_t			*der;
	int			 len;

	der = req_raw_nonce(f, raw, sizeof(raw), &len);
	expect_malformed(f, der, (size_t)len);
	cg_free(der);
	der = req_raw_nonce(f, empty, sizeof(empty), &len);
	expect_malformed(f, der, (size_t)len);
	cg_free(der);
	der = req_raw_nonce(f, twice, sizeof(twice), &len);
	expect_malformed(f, der, (size_t)len);
	cg_free(der);
}

static void
test_critical_extension(void **state)
{
	struct ofx		*f = *state;
	ASN1_OCTET_STRING	*os = ASN1_OCTET_STRING_new();
	ASN1_OBJECT		*obj = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1);
	X509_EXTENSION		*ext;
	OCSP_REQUEST		*req = OCSP_REQUEST_new();
	unsigned char		*p;
	uint8_t			*der;
	int			 len;

	assert_non_null(OCSP_request_add0_id(req, leaf_id(f, EVP_sha1())));
	assert_int_equal(ASN1_OCTET_STRING_set(os,
	    (const unsigned char *)"\x05\x00", 2), 1);
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, os);
	assert_non_null(ext);
	assert_int_equal(OCSP_REQUEST_add_ext(req, ext, -1), 1);
	len = i2d_OCSP_REQUEST(req, NULL);
	der = cg_malloc((size_t)len);
	p = der;
	assert_int_equal(i2d_OCSP_REQUEST(req, &p), len);
	expect_malformed(f, der, (size_t)len);
	cg_free(der);
	X509_EXTENSION_free(ext);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	OCSP_REQUEST_free(req);
}

static void
test_malformed(void **state)
{
	struct ofx	*f = *state;
	static const uint8_t junk[] = "not an OCSP request";
	OCSP_CERTID	*ids[CA_OCSP_CERTIDS_MAX + 1];
	uint8_t		*der, *longer;
	size_t		 len, i;

	expect_malformed(f, junk, sizeof(junk));
	expect_malformed(f, junk, 0);
	ids[0] = leaf_id(f, EVP_sha1());
	der = req_make(ids, 1, 0, &len);
	expect_malformed(f, der, len - 1);		/* truncated */
	longer = cg_malloc(len + 1);
	memcpy(longer, der, len);
	longer[len] = 0;
	expect_malformed(f, longer, len + 1);		/* trailing byte */
	cg_free(longer);
	cg_free(der);
	for (i = 0; i < CA_OCSP_CERTIDS_MAX + 1; i++)
		ids[i] = leaf_id(f, EVP_sha1());
	der = req_make(ids, CA_OCSP_CERTIDS_MAX + 1, 0, &len);
	expect_malformed(f, der, len);
	cg_free(der);
	longer = cg_calloc(1, CA_OCSP_REQ_MAX + 1);
	expect_malformed(f, longer, CA_OCSP_REQ_MAX + 1);
	cg_free(longer);
}

static char *
write_pem(const char *dir, const char *name, EVP_PKEY *key, X509 *cert)
{
	char	*path = cg_asprintf("%s/%s", dir, name);
	FILE	*fp;

	assert_non_null(path);
	fp = fopen(path, "w");
	assert_non_null(fp);
	if (key != NULL)
		assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0,
		    NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_X509(fp, cert), 1);
	fclose(fp);
	return path;
}

static void
test_delegated_signer(void **state)
{
	struct ofx		*f = *state;
	struct ca_profile	 sp, lp;
	struct ca_ocsp_config	 conf;
	struct ca_ocsp_result	 res;
	struct ca_ocsp		*o = NULL;
	struct ca_issued	*signer, *plain;
	struct cg_err		 err = { 0 };
	EVP_PKEY		*skey = NULL, *pkey = NULL;
	OCSP_CERTID		*id, *probe;
	OCSP_RESPONSE		*resp;
	OCSP_BASICRESP		*bs;
	const ASN1_OCTET_STRING	*rid_key = NULL;
	const X509_NAME		*rid_name = NULL;
	uint8_t			*der;
	size_t			 len;

	memset(&sp, 0, sizeof(sp));
	sp.name = "ocsp-signer";
	sp.validity_days = 30;
	sp.key_types = 1u << CA_KEY_EC_P256;
	sp.key_usage = CA_KU_DIGITAL_SIGNATURE;
	sp.ext_key_usage = CA_EKU_OCSP_SIGNING;
	signer = issue(&f->ca, &sp, "signer", &skey);
	/* Issuance marks it nocheck and leaves our own OCSP URL out. */
	assert_true(X509_get_ext_by_NID(ca_issued_get0_cert(signer),
	    NID_id_pkix_OCSP_noCheck, -1) >= 0);
	assert_null(X509_get1_ocsp(ca_issued_get0_cert(signer)));
	memset(&conf, 0, sizeof(conf));
	conf.signer_cert = write_pem(f->ca.dir, "signer.pem", NULL,
	    ca_issued_get0_cert(signer));
	conf.signer_key = write_pem(f->ca.dir, "signer.key", skey, NULL);
	conf.validity_s = 600;
	if (ca_ocsp_open(f->ca.ca, &conf, &o, &err) != CG_OK)
		cafx_die("ca_ocsp_open delegated", &err);
	assert_true(ca_ocsp_delegated(o));
	id = leaf_id(f, EVP_sha256());
	probe = OCSP_CERTID_dup(id);
	der = req_make(&id, 1, 0, &len);
	resp = respond(o, f->ca.st, der, len, &res);
	assert_int_equal(res.status, CA_OCSP_SUCCESSFUL);
	assert_true(res.next_update <= cg_now() + 600);
	bs = basic_verified(f, resp);
	assert_int_equal(status_of(bs, probe, NULL, NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	/* The signer's certificate rides along; responderID by key. */
	assert_int_equal(sk_X509_num(OCSP_resp_get0_certs(bs)), 1);
	assert_int_equal(OCSP_resp_get0_id(bs, &rid_key, &rid_name), 1);
	assert_non_null(rid_key);
	assert_null(rid_name);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_CERTID_free(probe);
	cg_free(der);
	ca_ocsp_free(o);
	o = NULL;
	ca_ocsp_config_cleanup(&conf);

	/* A certificate without OCSPSigning is refused as a signer. */
	cafx_profile_server(&lp);
	plain = issue(&f->ca, &lp, "plain", &pkey);
	memset(&conf, 0, sizeof(conf));
	conf.signer_cert = write_pem(f->ca.dir, "plain.pem", NULL,
	    ca_issued_get0_cert(plain));
	conf.signer_key = write_pem(f->ca.dir, "plain.key", pkey, NULL);
	memset(&err, 0, sizeof(err));
	assert_int_equal(ca_ocsp_open(f->ca.ca, &conf, &o, &err), CG_EINVAL);
	assert_null(o);
	assert_non_null(strstr(err.msg, "OCSPSigning"));
	/* Nor is a key that does not match the certificate. */
	cg_free(conf.signer_key);
	conf.signer_key = cg_strdup(conf.signer_cert);
	cg_free(conf.signer_cert);
	conf.signer_cert = write_pem(f->ca.dir, "signer2.pem", NULL,
	    ca_issued_get0_cert(signer));
	cg_free(conf.signer_key);
	conf.signer_key = write_pem(f->ca.dir, "other.key", pkey, NULL);
	memset(&err, 0, sizeof(err));
	assert_int_equal(ca_ocsp_open(f->ca.ca, &conf, &o, &err), CG_EINVAL);
	assert_null(o);
	ca_ocsp_config_cleanup(&conf);
	ca_profile_cleanup(&lp);
	ca_issued_free(plain);
	ca_issued_free(signer);
	EVP_PKEY_free(skey);
	EVP_PKEY_free(pkey);
}

static void
test_aia_ocsp_url(void **state)
{
	struct ofx		*f = *state;
	STACK_OF(OPENSSL_STRING) *urls;
	bool			 own = false, prof = false;
	int			 i;

	urls = X509_get1_ocsp(ca_issued_get0_cert(f->leaf));
	assert_non_null(urls);
	for (i = 0; i < sk_OPENSSL_STRING_num(urls); i++) {
		own |= strcmp(sk_OPENSSL_STRING_value(urls, i),
		    BASE_URL "/ocsp") == 0;
		prof |= strcmp(sk_OPENSSL_STRING_value(urls, i),
		    "http://ocsp.example.com") == 0;
	}
	X509_email_free(urls);
	assert_true(own);
	assert_true(prof);
}

static void
test_cache_control(void **state)
{
	char	 cc[96];

	(void)state;
	gw_ocsp_cache_control(true, 1000 + 3540, 1000, cc, sizeof(cc));
	assert_string_equal(cc, "max-age=3540, public, no-transform, "
	    "must-revalidate");
	gw_ocsp_cache_control(true, 900, 1000, cc, sizeof(cc));
	assert_string_equal(cc, "max-age=0, public, no-transform, "
	    "must-revalidate");
	gw_ocsp_cache_control(false, 5000, 1000, cc, sizeof(cc));
	assert_string_equal(cc, "no-store");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_sha1_and_sha256,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked_with_reason,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_serial,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_issuer,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonce_bad_encoding,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_critical_extension,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_delegated_signer,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_aia_ocsp_url,
		    setup, teardown),
		cmocka_unit_test(test_cache_control),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
