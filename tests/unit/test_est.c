/*
 * test_est.c - the EST module's pure parts: request body decoding (base64
 * one-line, wrapped with LF or CRLF, Content-Transfer-Encoding handling,
 * limits), path parsing into label and operation, the certs-only PKCS#7
 * (decoded back, and its 16 MiB limit), CsrAttrs DER per profile, wrapped
 * base64 and the serverkeygen multipart body.  Authentication and issuing
 * go through the integration tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "../../protocols/est/est_int.h"

/* A DER CSR for a fresh P-256 key. */
static uint8_t *
csr_der(size_t *lenp)
{
	const char *const sans[] = { "DNS:dev.example" };
	EVP_PKEY	*key = NULL;
	uint8_t		*der = NULL;

	assert_int_equal(ca_key_generate(CA_INIT_EC_P256, &key, NULL), CG_OK);
	assert_int_equal(ca_csr_make(key, "dev", sans, 1, &der, lenp, NULL),
	    CG_OK);
	EVP_PKEY_free(key);
	return der;
}

/* base64 of der, wrapped every `cols` columns with `eol` (0: one line). */
static char *
b64(const uint8_t *der, size_t len, size_t cols, const char *eol)
{
	struct cg_buf	 out;
	char		*one = NULL;
	size_t		 i, n;

	assert_int_equal(cg_base64_encode(der, len, &one, NULL), CG_OK);
	cg_buf_init(&out, 1 << 20);
	n = strlen(one);
	for (i = 0; i < n; i++) {
		assert_int_equal(cg_buf_add(&out, one + i, 1, NULL), CG_OK);
		if (cols > 0 && (i + 1) % cols == 0)
			assert_int_equal(cg_buf_addstr(&out, eol, NULL), CG_OK);
	}
	cg_free(one);
	return (char *)cg_buf_steal(&out, NULL);
}

static void
decode_ok(const char *body, const char *cte)
{
	struct ca_csr	*csr = NULL;
	struct cg_err	 err = { 0 };

	assert_int_equal(est_body_decode((const uint8_t *)body, strlen(body),
	    cte, &csr, &err), CG_OK);
	assert_non_null(csr);
	assert_non_null(ca_csr_get0_req(csr));
	ca_csr_free(csr);
}

static enum cg_code
decode_rc(const char *body, size_t len, const char *cte, char *msg,
    size_t msglen)
{
	struct ca_csr	*csr = (struct ca_csr *)1;
	struct cg_err	 err = { 0 };
	enum cg_code	 rc;

	rc = est_body_decode((const uint8_t *)body, len, cte, &csr, &err);
	assert_null(csr);
	if (msg != NULL)
		snprintf(msg, msglen, "%s", err.msg);
	return rc;
}

static void
test_body_forms(void **state)
{
	uint8_t	*der;
	size_t	 len;
	char	*one, *crlf, *lf;

	der = csr_der(&len);
	one = b64(der, len, 0, "");
	crlf = b64(der, len, 64, "\r\n");
	lf = b64(der, len, 76, "\n");
	/* RFC 8951 §3: with or without line breaks, with or without CTE. */
	decode_ok(one, NULL);
	decode_ok(crlf, NULL);
	decode_ok(lf, "base64");
	decode_ok(crlf, " BASE64 ");
	cg_free(one);
	cg_free(crlf);
	cg_free(lf);
	cg_free(der);
}

static void
test_body_refusals(void **state)
{
	uint8_t	*der, *big;
	size_t	 len;
	char	*one, msg[256];

	der = csr_der(&len);
	one = b64(der, len, 0, "");
	assert_int_equal(decode_rc(one, strlen(one), "binary", msg,
	    sizeof(msg)), CG_EINVAL);
	assert_string_equal(msg, "Content-Transfer-Encoding must be base64");
	assert_int_equal(decode_rc(one, strlen(one), "base64x", NULL, 0),
	    CG_EINVAL);
	assert_int_equal(decode_rc("not base64 at all!", 18, NULL, msg,
	    sizeof(msg)), CG_EINVAL);
	assert_string_equal(msg, "request body is not base64");
	assert_int_equal(decode_rc("", 0, NULL, NULL, 0), CG_EINVAL);
	/* Valid base64 of something that is not a CSR. */
	assert_int_equal(decode_rc("AAAA", 4, NULL, NULL, 0), CG_EINVAL);
	/* Truncated CSR. */
	one[strlen(one) / 2] = '\0';
	assert_int_equal(decode_rc(one, strlen(one) & ~(size_t)3, NULL, NULL,
	    0), CG_EINVAL);
	/* Over EST_BODY_MAX before decoding; over CA_CSR_MAX after. */
	big = cg_malloc(EST_BODY_MAX + 1);
	assert_non_null(big);
	memset(big, 'A', EST_BODY_MAX + 1);
	assert_int_equal(decode_rc((char *)big, EST_BODY_MAX + 1, NULL, msg,
	    sizeof(msg)), CG_ETOOBIG);
	assert_string_equal(msg, "request body too large");
	assert_int_equal(decode_rc((char *)big, EST_BODY_MAX, NULL, NULL, 0),
	    CG_ETOOBIG);
	cg_free(big);
	cg_free(one);
	cg_free(der);
}

static void
path_ok(const char *rest, const char *label, enum est_op op)
{
	char		 l[EST_LABEL_MAX];
	enum est_op	 got = EST_OP__MAX;

	assert_int_equal(est_path_parse(rest, l, &got, NULL), CG_OK);
	assert_string_equal(l, label);
	assert_int_equal(got, op);
}

static void
test_paths(void **state)
{
	char		 l[EST_LABEL_MAX], longl[EST_LABEL_MAX + 20];
	enum est_op	 op;

	path_ok("cacerts", "default", EST_OP_CACERTS);
	path_ok("simpleenroll", "default", EST_OP_SIMPLEENROLL);
	path_ok("simplereenroll", "default", EST_OP_SIMPLEREENROLL);
	path_ok("serverkeygen", "default", EST_OP_SERVERKEYGEN);
	path_ok("csrattrs", "default", EST_OP_CSRATTRS);
	path_ok("lab-1/csrattrs", "lab-1", EST_OP_CSRATTRS);
	path_ok("default/cacerts", "default", EST_OP_CACERTS);
	assert_int_equal(est_path_parse("", l, &op, NULL), CG_ENOTFOUND);
	assert_int_equal(est_path_parse("enroll", l, &op, NULL), CG_ENOTFOUND);
	assert_int_equal(est_path_parse("a/b/cacerts", l, &op, NULL),
	    CG_ENOTFOUND);
	assert_int_equal(est_path_parse("/cacerts", l, &op, NULL),
	    CG_ENOTFOUND);
	assert_int_equal(est_path_parse("a b/cacerts", l, &op, NULL),
	    CG_ENOTFOUND);
	assert_int_equal(est_path_parse("lab/", l, &op, NULL), CG_ENOTFOUND);
	memset(longl, 'a', sizeof(longl));
	snprintf(longl + EST_LABEL_MAX, 20, "/cacerts");
	assert_int_equal(est_path_parse(longl, l, &op, NULL), CG_ENOTFOUND);
}

/* A throwaway self-signed certificate. */
static X509 *
self_signed(const char *cn)
{
	EVP_PKEY	*key = NULL;
	X509		*x;

	assert_int_equal(ca_key_generate(CA_INIT_EC_P256, &key, NULL), CG_OK);
	x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	EVP_PKEY_free(key);
	return x;
}

static void
test_p7_certs_only(void **state)
{
	X509		*certs[2];
	uint8_t		*der = NULL;
	const unsigned char *p;
	size_t		 len = 0;
	PKCS7		*p7;
	STACK_OF(X509)	*got;

	certs[0] = self_signed("one");
	certs[1] = self_signed("two");
	assert_int_equal(est_p7_certs(certs, 2, &der, &len, NULL), CG_OK);
	p = der;
	p7 = d2i_PKCS7(NULL, &p, (long)len);
	assert_non_null(p7);
	assert_ptr_equal(p, der + len);
	assert_true(PKCS7_type_is_signed(p7));
	/* Degenerate: no signers, id-data without content, both certs. */
	assert_int_equal(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info), 0);
	assert_int_equal(OBJ_obj2nid(p7->d.sign->contents->type),
	    NID_pkcs7_data);
	assert_null(p7->d.sign->contents->d.ptr);
	got = p7->d.sign->cert;
	assert_int_equal(sk_X509_num(got), 2);
	assert_int_equal(X509_cmp(sk_X509_value(got, 0), certs[0]), 0);
	assert_int_equal(X509_cmp(sk_X509_value(got, 1), certs[1]), 0);
	PKCS7_free(p7);
	cg_free(der);
	X509_free(certs[0]);
	X509_free(certs[1]);
}

/*
 * est_p7_certs() of n certificates (n <= 3), decoded with d2i_PKCS7:
 * signed-data with exactly those certificates in order, and DER that
 * OpenSSL encodes back to the same bytes.  est_p7_certs_der() of the
 * certificates' DER gives the same bytes.
 */
static void
p7_roundtrip(X509 *const *certs, int n)
{
	uint8_t			*der = NULL, *der2 = NULL, *cder[3] = { 0 };
	unsigned char		*back = NULL;
	const unsigned char	*p;
	size_t			 len = 0, len2 = 0, clen[3];
	PKCS7			*p7;
	STACK_OF(X509)		*got;
	int			 i, blen;

	assert_int_equal(est_p7_certs(certs, (size_t)n, &der, &len, NULL),
	    CG_OK);
	p = der;
	p7 = d2i_PKCS7(NULL, &p, (long)len);
	assert_non_null(p7);
	assert_ptr_equal(p, der + len);
	assert_int_equal(OBJ_obj2nid(p7->type), NID_pkcs7_signed);
	assert_int_equal(ASN1_INTEGER_get(p7->d.sign->version), 1);
	assert_int_equal(sk_X509_ALGOR_num(p7->d.sign->md_algs), 0);
	assert_int_equal(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info), 0);
	assert_null(p7->d.sign->crl);		/* no [1] crls */
	got = p7->d.sign->cert;
	assert_int_equal(sk_X509_num(got), n);
	for (i = 0; i < n; i++)
		assert_int_equal(X509_cmp(sk_X509_value(got, i), certs[i]), 0);
	blen = i2d_PKCS7(p7, &back);
	assert_int_equal(blen, (int)len);
	assert_memory_equal(back, der, len);
	OPENSSL_free(back);
	PKCS7_free(p7);

	for (i = 0; i < n; i++) {
		blen = i2d_X509(certs[i], &cder[i]);
		assert_true(blen > 0);
		clen[i] = (size_t)blen;
	}
	assert_int_equal(est_p7_certs_der((const uint8_t *const *)cder, clen,
	    (size_t)n, &der2, &len2, NULL), CG_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(der2, der, len);
	for (i = 0; i < n; i++)
		OPENSSL_free(cder[i]);
	cg_free(der2);
	cg_free(der);
}

static void
test_p7_certs_decode(void **state)
{
	X509		*certs[3], **many;
	uint8_t		*der = (uint8_t *)1;
	size_t		 len = 1, i, nmany;
	char		 msg[256];
	struct cg_err	 err = { 0 };

	certs[0] = self_signed("leaf");
	certs[1] = self_signed("issuing");
	certs[2] = self_signed("root");
	p7_roundtrip(certs, 1);
	p7_roundtrip(certs, 3);
	/* Over 16 MiB in all: refused, nothing handed out. */
	nmany = 16 * 1024 * 1024 / (size_t)i2d_X509(certs[0], NULL) + 1;
	many = cg_calloc(nmany, sizeof(*many));
	assert_non_null(many);
	for (i = 0; i < nmany; i++)
		many[i] = certs[0];
	assert_int_equal(est_p7_certs(many, nmany, &der, &len, &err),
	    CG_EINVAL);
	snprintf(msg, sizeof(msg), "%s", err.msg);
	assert_string_equal(msg, "PKCS#7 too large");
	assert_null(der);
	assert_int_equal(len, 0);
	cg_free(many);
	for (i = 0; i < 3; i++)
		X509_free(certs[i]);
}

/* The CsrAttrs items as ASN1_TYPEs. */
static STACK_OF(ASN1_TYPE) *
attrs_parse(const struct ca_profile *p, bool tls_unique)
{
	uint8_t			*der = NULL;
	const unsigned char	*q;
	size_t			 len = 0;
	STACK_OF(ASN1_TYPE)	*sk;

	assert_int_equal(est_csrattrs_encode(p, tls_unique, &der, &len, NULL),
	    CG_OK);
	assert_non_null(der);
	q = der;
	sk = d2i_ASN1_SEQUENCE_ANY(NULL, &q, (long)len);
	assert_non_null(sk);
	assert_ptr_equal(q, der + len);
	cg_free(der);
	return sk;
}

static int
item_nid(STACK_OF(ASN1_TYPE) *sk, int i)
{
	ASN1_TYPE	*t = sk_ASN1_TYPE_value(sk, i);

	assert_int_equal(t->type, V_ASN1_OBJECT);
	return OBJ_obj2nid(t->value.object);
}

static void
test_csrattrs(void **state)
{
	struct ca_profile	 p = { 0 };
	STACK_OF(ASN1_TYPE)	*sk, *attr;
	ASN1_TYPE		*t;
	const unsigned char	*q;
	uint8_t			*der = (uint8_t *)1;
	size_t			 len = 1;

	/* EC P-256 only, SANs, channel binding. */
	p.key_types = 1u << CA_KEY_EC_P256;
	p.san_types = CA_SAN_DNS;
	sk = attrs_parse(&p, true);
	assert_int_equal(sk_ASN1_TYPE_num(sk), 4);
	t = sk_ASN1_TYPE_value(sk, 0);
	assert_int_equal(t->type, V_ASN1_SEQUENCE);
	q = t->value.sequence->data;
	attr = d2i_ASN1_SEQUENCE_ANY(NULL, &q, t->value.sequence->length);
	assert_non_null(attr);
	assert_int_equal(item_nid(attr, 0), NID_X9_62_id_ecPublicKey);
	assert_int_equal(sk_ASN1_TYPE_value(attr, 1)->type, V_ASN1_SET);
	sk_ASN1_TYPE_pop_free(attr, ASN1_TYPE_free);
	assert_int_equal(item_nid(sk, 1), NID_pkcs9_challengePassword);
	assert_int_equal(item_nid(sk, 2), NID_ext_req);
	assert_int_equal(item_nid(sk, 3), NID_ecdsa_with_SHA256);
	sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);

	/* RSA only, no SANs: rsaEncryption and sha256WithRSAEncryption. */
	p.key_types = 1u << CA_KEY_RSA;
	p.san_types = 0;
	sk = attrs_parse(&p, false);
	assert_int_equal(sk_ASN1_TYPE_num(sk), 2);
	assert_int_equal(item_nid(sk, 0), NID_rsaEncryption);
	assert_int_equal(item_nid(sk, 1), NID_sha256WithRSAEncryption);
	sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);

	/* Mixed families: no key-type item, both signature algorithms. */
	p.key_types = 1u << CA_KEY_RSA | 1u << CA_KEY_EC_P384;
	sk = attrs_parse(&p, false);
	assert_int_equal(sk_ASN1_TYPE_num(sk), 2);
	assert_int_equal(item_nid(sk, 0), NID_ecdsa_with_SHA256);
	assert_int_equal(item_nid(sk, 1), NID_sha256WithRSAEncryption);
	sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);

	/* Nothing to ask: no DER (the server answers 204). */
	p.key_types = 0;
	assert_int_equal(est_csrattrs_encode(&p, false, &der, &len, NULL),
	    CG_OK);
	assert_null(der);
	assert_int_equal(len, 0);
}

static void
test_b64_wrap(void **state)
{
	uint8_t		 in[100];
	struct cg_buf	 out;
	uint8_t		*back = NULL;
	size_t		 blen = 0;

	memset(in, 0xa5, sizeof(in));
	cg_buf_init(&out, 4096);
	assert_int_equal(est_b64_wrap(in, sizeof(in), &out, NULL), CG_OK);
	/* 136 base64 characters: 64 + 64 + 8, each line ending in CRLF. */
	assert_int_equal(out.len, 136 + 3 * 2);
	assert_memory_equal(out.data + 64, "\r\n", 2);
	assert_memory_equal(out.data + 130, "\r\n", 2);
	assert_memory_equal(out.data + out.len - 2, "\r\n", 2);
	assert_int_equal(cg_base64_decode((char *)out.data, out.len, false,
	    sizeof(in), &back, &blen, NULL), CG_OK);
	assert_int_equal(blen, sizeof(in));
	assert_memory_equal(back, in, sizeof(in));
	cg_free(back);
	cg_buf_cleanup(&out);
}

static void
test_multipart(void **state)
{
	const uint8_t	 key[] = "KEYBYTES", p7[] = "P7BYTES";
	const char	*want =
	    "--bnd\r\n"
	    "Content-Type: application/pkcs8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "S0VZQllURVM=\r\n"
	    "--bnd\r\n"
	    "Content-Type: application/pkcs7-mime; smime-type=certs-only\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "UDdCWVRFUw==\r\n"
	    "--bnd--\r\n";
	struct cg_buf	 out;

	cg_buf_init(&out, 4096);
	assert_int_equal(est_multipart_build(key, 8, p7, 7, "bnd", &out,
	    NULL), CG_OK);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.data, want, out.len);
	cg_buf_cleanup_secret(&out);
	cg_buf_init(&out, 4096);
	assert_int_equal(est_multipart_build(key, 8, p7, 7, "", &out, NULL),
	    CG_EINVAL);
	cg_buf_cleanup(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_forms),
		cmocka_unit_test(test_body_refusals),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_p7_certs_only),
		cmocka_unit_test(test_p7_certs_decode),
		cmocka_unit_test(test_csrattrs),
		cmocka_unit_test(test_b64_wrap),
		cmocka_unit_test(test_multipart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
