/*
 * test_p12.c - ca/ca_p12.c: random passwords (length, alphabet, every
 * symbol reachable), the PKCS#12 bundle (opens with its password and not
 * another, holds the same key, certificate, chain and friendly name, is
 * encrypted with PBES2 and MACed with SHA-256 at the documented count,
 * refuses a key that does not match), and reading certificate files (PEM,
 * DER, several certificates; private keys in any form refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "certgw/ca.h"
#include "certgw/core.h"

static const char unambiguous[] =
    "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/* A fresh P-256 key and a self-signed certificate CN=cn for it. */
static void
make_cert(const char *cn, EVP_PKEY **keyp, X509 **certp)
{
	struct cg_err	 err = { 0 };
	X509		*x;

	assert_int_equal(ca_key_generate(CA_INIT_EC_P256, keyp, &err), CG_OK);
	assert_non_null(x = X509_new());
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_NAME_add_entry_by_NID(X509_get_subject_name(x),
	    NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
	    0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)),
	    1);
	assert_int_equal(X509_set_pubkey(x, *keyp), 1);
	assert_true(X509_sign(x, *keyp, EVP_sha256()) > 0);
	*certp = x;
}

static void
test_password(void **state)
{
	struct cg_err	 err = { 0 };
	char		 a[25], b[25], one[2];
	size_t		 seen[256] = { 0 };
	size_t		 i, k;

	(void)state;
	assert_int_equal(ca_password_random(a, sizeof(a), &err), CG_OK);
	assert_int_equal(strlen(a), 24);
	for (i = 0; i < 2000; i++) {
		assert_int_equal(ca_password_random(b, sizeof(b), &err),
		    CG_OK);
		assert_int_equal(strlen(b), 24);
		for (k = 0; k < 24; k++) {
			assert_non_null(strchr(unambiguous, b[k]));
			seen[(unsigned char)b[k]]++;
		}
	}
	/* 48000 draws: every symbol turns up, none is left out. */
	for (k = 0; unambiguous[k] != '\0'; k++)
		assert_true(seen[(unsigned char)unambiguous[k]] > 0);
	assert_string_not_equal(a, b);
	assert_int_equal(ca_password_random(one, sizeof(one), &err), CG_OK);
	assert_int_equal(strlen(one), 1);
	assert_int_equal(ca_password_random(one, 1, &err), CG_EINVAL);
}

/* The algorithm of the first encrypted bag, and of the key bag. */
static void
check_algorithms(PKCS12 *p12, const char *pass)
{
	STACK_OF(PKCS7)			*safes;
	STACK_OF(PKCS12_SAFEBAG)	*bags;
	const PKCS12_SAFEBAG		*bag;
	const X509_SIG			*shrouded;
	const X509_ALGOR		*alg;
	const ASN1_OBJECT		*obj;
	const ASN1_INTEGER		*iter;
	PKCS7				*p7;
	int				 i, j, encrypted = 0, keys = 0;

	/* MAC: SHA-256, 10000 iterations. */
	PKCS12_get0_mac(NULL, &alg, NULL, &iter, p12);
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	assert_int_equal(OBJ_obj2nid(obj), NID_sha256);
	assert_int_equal(ASN1_INTEGER_get(iter), 10000);
	assert_non_null(safes = PKCS12_unpack_authsafes(p12));
	for (i = 0; i < sk_PKCS7_num(safes); i++) {
		p7 = sk_PKCS7_value(safes, i);
		if (OBJ_obj2nid(p7->type) == NID_pkcs7_encrypted) {
			alg = p7->d.encrypted->enc_data->algorithm;
			X509_ALGOR_get0(&obj, NULL, NULL, alg);
			assert_int_equal(OBJ_obj2nid(obj), NID_pbes2);
			encrypted++;
			bags = PKCS12_unpack_p7encdata(p7, pass, -1);
		} else {
			bags = PKCS12_unpack_p7data(p7);
		}
		assert_non_null(bags);
		for (j = 0; j < sk_PKCS12_SAFEBAG_num(bags); j++) {
			bag = sk_PKCS12_SAFEBAG_value(bags, j);
			if (PKCS12_SAFEBAG_get_nid(bag) !=
			    NID_pkcs8ShroudedKeyBag)
				continue;
			shrouded = PKCS12_SAFEBAG_get0_pkcs8(bag);
			X509_SIG_get0(shrouded, &alg, NULL);
			X509_ALGOR_get0(&obj, NULL, NULL, alg);
			assert_int_equal(OBJ_obj2nid(obj), NID_pbes2);
			keys++;
		}
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	assert_int_equal(encrypted, 1);
	assert_int_equal(keys, 1);
	sk_PKCS7_pop_free(safes, PKCS7_free);
}

static void
test_pkcs12(void **state)
{
	struct cg_err		 err = { 0 };
	struct cg_buf		 out;
	STACK_OF(X509)		*chain, *ca = NULL;
	const unsigned char	*p;
	EVP_PKEY		*key, *ckey, *other;
	X509			*cert, *cacert, *ocert, *got = NULL;
	EVP_PKEY		*gotkey = NULL;
	PKCS12			*p12;
	const unsigned char	*alias;
	int			 alen;

	(void)state;
	make_cert("alice", &key, &cert);
	make_cert("Test CA", &ckey, &cacert);
	make_cert("mallory", &other, &ocert);
	assert_non_null(chain = sk_X509_new_null());
	assert_true(sk_X509_push(chain, cacert) > 0);
	cg_buf_init(&out, 256 * 1024);
	assert_int_equal(ca_pkcs12_make(key, cert, chain, "s3cret", "alice",
	    &out, &err), CG_OK);
	p = out.data;
	assert_non_null(p12 = d2i_PKCS12(NULL, &p, (long)out.len));
	assert_ptr_equal(p, out.data + out.len);
	assert_int_equal(PKCS12_verify_mac(p12, "s3cret", -1), 1);
	assert_int_equal(PKCS12_verify_mac(p12, "wrong", -1), 0);
	check_algorithms(p12, "s3cret");
	assert_int_equal(PKCS12_parse(p12, "s3cret", &gotkey, &got, &ca), 1);
	assert_int_equal(EVP_PKEY_eq(gotkey, key), 1);
	assert_int_equal(X509_cmp(got, cert), 0);
	assert_int_equal(sk_X509_num(ca), 1);
	assert_int_equal(X509_cmp(sk_X509_value(ca, 0), cacert), 0);
	alias = X509_alias_get0(got, &alen);
	assert_non_null(alias);
	assert_int_equal(alen, 5);
	assert_memory_equal(alias, "alice", 5);
	PKCS12_free(p12);
	EVP_PKEY_free(gotkey);
	X509_free(got);
	sk_X509_pop_free(ca, X509_free);

	/* Nothing is appended on a refusal. */
	cg_buf_reset(&out);
	assert_int_equal(ca_pkcs12_make(other, cert, NULL, "s3cret", "x",
	    &out, &err), CG_EINVAL);
	assert_int_equal(ca_pkcs12_make(key, cert, NULL, "", "x", &out,
	    NULL), CG_EINVAL);
	assert_int_equal(out.len, 0);
	/* Without a chain. */
	assert_int_equal(ca_pkcs12_make(key, cert, NULL, "pw", NULL, &out,
	    NULL), CG_OK);
	assert_true(out.len > 0);

	cg_buf_cleanup(&out);
	sk_X509_free(chain);
	EVP_PKEY_free(other);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ckey);
	X509_free(cert);
	X509_free(cacert);
	X509_free(ocert);
}

/* x and key (either may be NULL) as PEM text. */
static char *
pem_of(X509 *x, EVP_PKEY *key)
{
	BIO	*bio = BIO_new(BIO_s_mem());
	BUF_MEM	*mem;
	char	*s;

	assert_non_null(bio);
	if (x != NULL)
		assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	if (key != NULL)
		assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL,
		    0, NULL, NULL), 1);
	BIO_get_mem_ptr(bio, &mem);
	assert_non_null(s = cg_strndup(mem->data, mem->length));
	BIO_free(bio);
	return s;
}

static enum cg_code
parse(const void *data, size_t len, int *np)
{
	STACK_OF(X509)	*certs = NULL;
	enum cg_code	 rc;

	rc = ca_cert_file_parse(data, len, &certs, NULL);
	*np = rc == CG_OK ? sk_X509_num(certs) : -1;
	if (rc != CG_OK)
		assert_null(certs);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

static void
test_cert_file(void **state)
{
	struct cg_err	 err = { 0 };
	EVP_PKEY	*key;
	X509		*x;
	char		*one, *two, *withkey, *many, *bad;
	unsigned char	*der = NULL, *kder = NULL;
	struct cg_buf	 p12;
	int		 n, len, klen, i;

	(void)state;
	make_cert("bob", &key, &x);
	one = pem_of(x, NULL);
	withkey = pem_of(x, key);
	two = cg_asprintf("junk before\n%s%s", one, one);
	assert_int_equal(parse(one, strlen(one), &n), CG_OK);
	assert_int_equal(n, 1);
	/* Text before the PEM, as openssl x509 -text writes it. */
	assert_int_equal(parse(two, strlen(two), &n), CG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(parse(withkey, strlen(withkey), &n), CG_EDENIED);
	len = i2d_X509(x, &der);
	assert_true(len > 0);
	assert_int_equal(parse(der, (size_t)len, &n), CG_OK);
	assert_int_equal(n, 1);
	/* DER with trailing bytes is not a certificate. */
	assert_int_equal(parse(der, (size_t)len - 1, &n), CG_EINVAL);
	klen = i2d_PrivateKey(key, &kder);
	assert_true(klen > 0);
	assert_int_equal(parse(kder, (size_t)klen, &n), CG_EDENIED);
	cg_buf_init(&p12, 256 * 1024);
	assert_int_equal(ca_pkcs12_make(key, x, NULL, "pw", "bob", &p12,
	    &err), CG_OK);
	assert_int_equal(parse(p12.data, p12.len, &n), CG_EDENIED);
	assert_int_equal(parse("", 0, &n), CG_EINVAL);
	assert_int_equal(parse("hello", 5, &n), CG_EINVAL);
	/* A damaged certificate after a good one. */
	bad = cg_asprintf("%s%s", one, one);
	bad[strlen(one) + 100] = '!';
	assert_int_equal(parse(bad, strlen(bad), &n), CG_EINVAL);
	/* More than CA_CERT_FILE_MAX_CERTS. */
	many = cg_strdup("");
	for (i = 0; i <= CA_CERT_FILE_MAX_CERTS; i++) {
		char *m = cg_asprintf("%s%s", many, one);
		cg_free(many);
		many = m;
	}
	assert_int_equal(parse(many, strlen(many), &n), CG_ETOOBIG);

	cg_free(many);
	cg_free(bad);
	cg_buf_cleanup(&p12);
	OPENSSL_free(der);
	OPENSSL_free(kder);
	cg_free(one);
	cg_free(two);
	cg_free(withkey);
	EVP_PKEY_free(key);
	X509_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_pkcs12),
		cmocka_unit_test(test_cert_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
