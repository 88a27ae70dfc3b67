/*
 * test_ca_csr.c - ca_csr_parse(): the direct path (ca_csr_der.c) must give
 * what OpenSSL's own d2i_X509_REQ() gives -- same subject, same key, same
 * re-encoding -- and refuse what OpenSSL refuses; other algorithms take
 * the d2i path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "ca_int.h"
#include "ca_test.h"

/* OpenSSL's reading of the same bytes, verified; NULL if it refuses. */
static X509_REQ *
openssl_req(const uint8_t *der, size_t len)
{
	const unsigned char	*p = der;
	X509_REQ		*req;

	req = d2i_X509_REQ(NULL, &p, (long)len);
	if (req == NULL || p != der + len ||
	    X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) {
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

static void
make_der(EVP_PKEY *key, uint8_t **der, size_t *len)
{
	static const char *const sans[] = {
		"DNS:a.example.com", "IP:192.0.2.7", "email:x@example.com",
	};
	struct cg_err	 err = { 0 };

	if (ca_csr_make(key, "device-1", sans, 3, der, len, &err) != CG_OK)
		cafx_die("ca_csr_make", &err);
}

/* Did the direct path take it?  (ca_csr_parse() hides which path ran.) */
static bool
direct_path(const uint8_t *der, size_t len)
{
	struct cg_err	 err = { 0 };
	X509_REQ	*req = NULL;
	EVP_PKEY	*pub = NULL;
	bool		 handled = false;

	if (ca_csr_parse_der(der, len, &req, &pub, &handled, &err) != CG_OK ||
	    !handled) {
		assert_null(req);
		assert_null(pub);
		return false;
	}
	assert_non_null(req);
	assert_non_null(pub);
	/* The key stayed bytes in req: no decoder ran for it. */
	assert_null(X509_REQ_get0_pubkey(req));
	X509_REQ_free(req);
	EVP_PKEY_free(pub);
	return true;
}

/* Parsed both ways, the request is the same request. */
static void
check_same(const uint8_t *der, size_t len, EVP_PKEY *key)
{
	struct cg_err	 err = { 0 };
	struct ca_csr	*csr = NULL;
	X509_REQ	*ref, *req;
	GENERAL_NAMES	*gens = NULL;
	unsigned char	*re = NULL;
	const uint8_t	*kept;
	size_t		 kept_len;
	int		 n;

	ref = openssl_req(der, len);
	assert_non_null(ref);
	assert_int_equal(ca_csr_parse(der, len, &csr, &err), CG_OK);
	req = ca_csr_get0_req(csr);
	assert_int_equal(EVP_PKEY_eq(ca_csr_get0_pubkey(csr), key), 1);
	assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(req),
	    X509_REQ_get_subject_name(ref)), 0);
	assert_int_equal(X509_REQ_get_attr_count(req),
	    X509_REQ_get_attr_count(ref));
	/* Rebuilt from its parts, it encodes to the bytes received. */
	n = i2d_X509_REQ(req, &re);
	assert_int_equal(n, (int)len);
	assert_memory_equal(re, der, len);
	ca_csr_get0_der(csr, &kept, &kept_len);
	assert_int_equal(kept_len, len);
	assert_memory_equal(kept, der, len);
	assert_int_equal(ca_csr_get1_sans(csr, &gens, &err), CG_OK);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 3);
	GENERAL_NAMES_free(gens);
	OPENSSL_free(re);
	X509_REQ_free(ref);
	ca_csr_free(csr);
}

static void
test_same_as_openssl(void **state)
{
	static const char *const kinds[] = {
		"ec-p256", "ec-p384", "ec-p521", "rsa-2048", "ed25519",
	};
	EVP_PKEY	*key;
	uint8_t		*der = NULL;
	size_t		 len = 0, i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		key = cafx_key(kinds[i]);
		make_der(key, &der, &len);
		assert_true(direct_path(der, len));
		check_same(der, len, key);
		cg_free(der);
		EVP_PKEY_free(key);
	}
}

/* Last occurrence of needle in hay, or NULL. */
static uint8_t *
find_last(uint8_t *hay, size_t len, const void *needle, size_t nlen)
{
	size_t	 i;

	for (i = len - nlen + 1; i-- > 0;)
		if (memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

/* One changed byte anywhere signed, or in the signature, is refused. */
static void
test_tampering_refused(void **state)
{
	static const char *const kinds[] = { "ec-p256", "rsa-2048", "ed25519" };
	struct cg_err	 err = { 0 };
	struct ca_csr	*csr = NULL;
	EVP_PKEY	*key;
	uint8_t		*der = NULL, *cn;
	size_t		 len = 0, i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		key = cafx_key(kinds[i]);
		make_der(key, &der, &len);
		/* The subject: "device-1" becomes "device-2". */
		cn = find_last(der, len, "device-1", 8);
		assert_non_null(cn);
		cn[7] = '2';
		assert_null(openssl_req(der, len));
		assert_int_equal(ca_csr_parse(der, len, &csr, &err),
		    CG_EINVAL);
		assert_string_equal(err.msg, "csr signature does not verify");
		assert_null(csr);
		cg_err_clear(&err);
		cn[7] = '1';
		/* The signature's last byte. */
		der[len - 1] ^= 0x01;
		assert_int_equal(ca_csr_parse(der, len, &csr, &err),
		    CG_EINVAL);
		assert_null(csr);
		cg_err_clear(&err);
		der[len - 1] ^= 0x01;
		/* Restored, it parses again: the test changed one thing. */
		assert_int_equal(ca_csr_parse(der, len, &csr, &err), CG_OK);
		ca_csr_free(csr);
		csr = NULL;
		cg_free(der);
		EVP_PKEY_free(key);
	}
}

/* An EC point off the curve is a bad key, whatever the signature says. */
static void
test_bad_point_refused(void **state)
{
	struct cg_err	 err = { 0 };
	struct ca_csr	*csr = NULL;
	EVP_PKEY	*key;
	uint8_t		*der = NULL, pub[65], *at;
	size_t		 len = 0, plen = 0;

	key = cafx_key("ec-p256");
	assert_int_equal(EVP_PKEY_get_octet_string_param(key,
	    OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &plen), 1);
	assert_int_equal(plen, 65);
	make_der(key, &der, &len);
	at = find_last(der, len, pub, plen);
	assert_non_null(at);
	at[64] ^= 0x01;			/* y changes: not on the curve */
	assert_null(openssl_req(der, len));
	assert_int_equal(ca_csr_parse(der, len, &csr, &err), CG_EINVAL);
	assert_string_equal(err.msg, "csr public key is malformed");
	assert_null(csr);
	cg_free(der);
	EVP_PKEY_free(key);
}

/* Bytes after the request, a truncated one, and garbage are refused. */
static void
test_framing_refused(void **state)
{
	struct cg_err	 err = { 0 };
	struct ca_csr	*csr = NULL;
	EVP_PKEY	*key;
	uint8_t		*der = NULL, *longer;
	size_t		 len = 0;

	key = cafx_key("ec-p256");
	make_der(key, &der, &len);
	longer = cg_malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, der, len);
	longer[len] = 0;
	assert_int_equal(ca_csr_parse(longer, len + 1, &csr, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_csr_parse(der, len - 1, &csr, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_csr_parse((const uint8_t *)"\x30\x03\x02\x01\x00",
	    5, &csr, &err), CG_EINVAL);
	assert_null(csr);
	cg_free(longer);
	cg_free(der);
	EVP_PKEY_free(key);
}

/* RSA-PSS signatures are not taken directly: the d2i path handles them. */
static void
test_rsa_pss_takes_general_path(void **state)
{
	struct cg_err	 err = { 0 };
	struct ca_csr	*csr = NULL;
	X509_REQ	*req;
	EVP_PKEY	*key;
	EVP_MD_CTX	*mctx;
	EVP_PKEY_CTX	*pctx = NULL;
	unsigned char	*der = NULL;
	int		 len;

	key = cafx_key("rsa-2048");
	req = X509_REQ_new();
	assert_non_null(req);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(
	    X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
	    (const unsigned char *)"pss", -1, -1, 0), 1);
	mctx = EVP_MD_CTX_new();
	assert_non_null(mctx);
	assert_int_equal(EVP_DigestSignInit(mctx, &pctx, EVP_sha256(), NULL,
	    key), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PSS_PADDING), 1);
	assert_true(X509_REQ_sign_ctx(req, mctx) > 0);
	len = i2d_X509_REQ(req, &der);
	assert_true(len > 0);
	assert_int_equal(X509_REQ_get_signature_nid(req), NID_rsassaPss);
	assert_false(direct_path(der, (size_t)len));
	assert_int_equal(ca_csr_parse(der, (size_t)len, &csr, &err), CG_OK);
	assert_int_equal(EVP_PKEY_eq(ca_csr_get0_pubkey(csr), key), 1);
	ca_csr_free(csr);
	/* A broken PSS signature is still refused on that path. */
	der[len - 1] ^= 0x01;
	assert_int_equal(ca_csr_parse(der, (size_t)len, &csr, &err),
	    CG_EINVAL);
	assert_null(csr);
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_openssl),
		cmocka_unit_test(test_tampering_refused),
		cmocka_unit_test(test_bad_point_refused),
		cmocka_unit_test(test_framing_refused),
		cmocka_unit_test(test_rsa_pss_takes_general_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
