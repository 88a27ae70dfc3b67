/*
 * test_ca_profile.c - profile names and policy: the name parsers, DNS
 * pattern syntax and matching, IP network syntax, and ca_policy_check()
 * refusing each rule with a message that names it, through the public API.
 * CSR parsing edge cases (trailing bytes, tampering, PEM) are here too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca_test.h"

static EVP_PKEY	*p256;		/* shared: keygen is the slow part */

/* ------------------------------------------------------------ helpers */

/* A CSR with any subject and SANs, built without ca_csr_make(). */
static struct ca_csr *
raw_csr(EVP_PKEY *key, X509_NAME *subject, GENERAL_NAMES *gens)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	struct cg_err	 err = { 0 };
	struct ca_csr	*csr = NULL;
	unsigned char	*der = NULL;
	X509_REQ	*req;
	int		 len;

	req = X509_REQ_new();
	assert_non_null(req);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	if (subject != NULL)
		assert_int_equal(X509_REQ_set_subject_name(req, subject), 1);
	if (gens != NULL) {
		assert_int_equal(X509V3_add1_i2d(&exts, NID_subject_alt_name,
		    gens, 0, X509V3_ADD_DEFAULT), 1);
		assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
	}
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	len = i2d_X509_REQ(req, &der);
	assert_true(len > 0);
	if (ca_csr_parse(der, (size_t)len, &csr, &err) != CG_OK)
		cafx_die("ca_csr_parse", &err);
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return csr;
}

static void
expect_refusal(const struct ca_profile *p, struct ca_csr *csr,
    const char *msg)
{
	struct cg_err	 err = { 0 };

	assert_int_equal(ca_policy_check(p, csr, &err), CG_EDENIED);
	assert_string_equal(err.msg, msg);
	ca_csr_free(csr);
}

static void
expect_ok(const struct ca_profile *p, struct ca_csr *csr)
{
	struct cg_err	 err = { 0 };

	if (ca_policy_check(p, csr, &err) != CG_OK)
		cafx_die("ca_policy_check", &err);
	ca_csr_free(csr);
}

static struct ca_csr *
csr1(const char *cn, const char *san)
{
	return cafx_csr(p256, cn, &san, san == NULL ? 0 : 1);
}

/* ------------------------------------------------------------ parsers */

static void
test_key_type_names(void **state)
{
	enum ca_key_type	 t;
	int			 i;

	for (i = 0; i < CA_KEY__MAX; i++) {
		assert_true(ca_key_type_parse(ca_key_type_name(i), &t));
		assert_int_equal(t, i);
	}
	assert_true(ca_key_type_parse("EC-P384", &t));
	assert_int_equal(t, CA_KEY_EC_P384);
	assert_true(ca_key_type_parse("ed25519", &t));
	assert_int_equal(t, CA_KEY_ED25519);
	assert_false(ca_key_type_parse("ec-p224", &t));
	assert_false(ca_key_type_parse("rsa-2048", &t));
	assert_false(ca_key_type_parse("", &t));
	assert_false(ca_key_type_parse(NULL, &t));
	assert_string_equal(ca_key_type_name(CA_KEY_RSA), "rsa");
	assert_string_equal(ca_key_type_name(CA_KEY__MAX), "unknown");
}

static void
test_usage_names(void **state)
{
	uint32_t	 b = 0;

	assert_true(ca_ku_parse("digitalSignature", &b));
	assert_int_equal(b, CA_KU_DIGITAL_SIGNATURE);
	assert_true(ca_ku_parse("contentCommitment", &b));
	assert_int_equal(b, CA_KU_CONTENT_COMMITMENT);
	assert_true(ca_ku_parse("nonRepudiation", &b));
	assert_int_equal(b, CA_KU_CONTENT_COMMITMENT);
	assert_true(ca_ku_parse("KEYENCIPHERMENT", &b));
	assert_int_equal(b, CA_KU_KEY_ENCIPHERMENT);
	assert_true(ca_ku_parse("dataEncipherment", &b));
	assert_int_equal(b, CA_KU_DATA_ENCIPHERMENT);
	assert_true(ca_ku_parse("keyAgreement", &b));
	assert_int_equal(b, CA_KU_KEY_AGREEMENT);
	assert_false(ca_ku_parse("keyCertSign", &b));

	assert_true(ca_eku_parse("serverAuth", &b));
	assert_int_equal(b, CA_EKU_SERVER_AUTH);
	assert_true(ca_eku_parse("clientAuth", &b));
	assert_int_equal(b, CA_EKU_CLIENT_AUTH);
	assert_true(ca_eku_parse("codeSigning", &b));
	assert_int_equal(b, CA_EKU_CODE_SIGNING);
	assert_true(ca_eku_parse("emailProtection", &b));
	assert_int_equal(b, CA_EKU_EMAIL_PROTECTION);
	assert_true(ca_eku_parse("timeStamping", &b));
	assert_int_equal(b, CA_EKU_TIME_STAMPING);
	assert_true(ca_eku_parse("ocspsigning", &b));
	assert_int_equal(b, CA_EKU_OCSP_SIGNING);
	assert_false(ca_eku_parse("anyExtendedKeyUsage", &b));

	assert_true(ca_san_type_parse("dns", &b));
	assert_int_equal(b, CA_SAN_DNS);
	assert_true(ca_san_type_parse("IP", &b));
	assert_int_equal(b, CA_SAN_IP);
	assert_true(ca_san_type_parse("email", &b));
	assert_int_equal(b, CA_SAN_EMAIL);
	assert_true(ca_san_type_parse("uri", &b));
	assert_int_equal(b, CA_SAN_URI);
	assert_false(ca_san_type_parse("othername", &b));

	assert_true(ca_subject_attr_is_valid("CN"));
	assert_true(ca_subject_attr_is_valid("O"));
	assert_true(ca_subject_attr_is_valid("serialNumber"));
	assert_false(ca_subject_attr_is_valid("basicConstraints"));
	assert_false(ca_subject_attr_is_valid("nope"));
	assert_false(ca_subject_attr_is_valid(""));
}

static void
test_strlist_and_cleanup(void **state)
{
	struct ca_profile	 p;

	memset(&p, 0, sizeof(p));
	p.name = cg_strdup("x");
	assert_int_equal(ca_strlist_add(&p.dns_patterns, "a.example", NULL),
	    CG_OK);
	assert_int_equal(ca_strlist_add(&p.dns_patterns, "b.example", NULL),
	    CG_OK);
	assert_int_equal(p.dns_patterns.n, 2);
	assert_string_equal(p.dns_patterns.v[1], "b.example");
	assert_int_equal(ca_strlist_add(&p.ip_networks, NULL, NULL),
	    CG_EINVAL);
	ca_profile_cleanup(&p);
	assert_null(p.name);
	assert_int_equal(p.dns_patterns.n, 0);
	ca_profile_cleanup(&p);		/* twice is fine */
	ca_profile_cleanup(NULL);
}

/* --------------------------------------------------------- DNS and IP */

static void
test_dns_pattern_syntax(void **state)
{
	char	 long_label[80], long_name[300];
	size_t	 i;

	assert_true(ca_dns_pattern_is_valid("host.example.com"));
	assert_true(ca_dns_pattern_is_valid("*.example.com"));
	assert_true(ca_dns_pattern_is_valid(".example.com"));
	assert_true(ca_dns_pattern_is_valid("localhost"));
	assert_true(ca_dns_pattern_is_valid("1password.example"));
	assert_false(ca_dns_pattern_is_valid(""));
	assert_false(ca_dns_pattern_is_valid("*"));
	assert_false(ca_dns_pattern_is_valid("."));
	assert_false(ca_dns_pattern_is_valid("a..example"));
	assert_false(ca_dns_pattern_is_valid("-a.example"));
	assert_false(ca_dns_pattern_is_valid("a-.example"));
	assert_false(ca_dns_pattern_is_valid("*.*.example"));
	assert_false(ca_dns_pattern_is_valid("a.*.example"));
	assert_false(ca_dns_pattern_is_valid("host_1.example"));
	assert_false(ca_dns_pattern_is_valid("ex ample.com"));
	assert_false(ca_dns_pattern_is_valid("example.com."));
	assert_false(ca_dns_pattern_is_valid(NULL));
	memset(long_label, 'a', 64);
	memcpy(long_label + 64, ".example", 9);
	assert_false(ca_dns_pattern_is_valid(long_label));
	assert_true(ca_dns_pattern_is_valid(long_label + 1));	/* 63 */
	for (i = 0; i < 254; i += 2)
		memcpy(long_name + i, "a.", 2);
	long_name[253] = '\0';		/* 253 chars: "a.a....a" */
	long_name[252] = 'a';
	assert_true(ca_dns_pattern_is_valid(long_name));
	long_name[253] = 'a';
	long_name[254] = '\0';
	assert_false(ca_dns_pattern_is_valid(long_name));
}

static void
test_dns_pattern_match(void **state)
{
	/* exact, case-insensitive */
	assert_true(ca_dns_pattern_match("host.example.com",
	    "HOST.Example.COM"));
	assert_false(ca_dns_pattern_match("host.example.com",
	    "a.host.example.com"));
	assert_false(ca_dns_pattern_match("host.example.com",
	    "host.example.co"));
	/* "*.x": exactly one more label */
	assert_true(ca_dns_pattern_match("*.example.com", "a.example.com"));
	assert_true(ca_dns_pattern_match("*.example.com", "A.EXAMPLE.com"));
	assert_true(ca_dns_pattern_match("*.example.com", "*.example.com"));
	assert_false(ca_dns_pattern_match("*.example.com", "a.b.example.com"));
	assert_false(ca_dns_pattern_match("*.example.com", "example.com"));
	assert_false(ca_dns_pattern_match("*.example.com", "x.badexample.com"));
	assert_false(ca_dns_pattern_match("*.example.com", ".example.com"));
	/* ".x": any depth below, not x itself */
	assert_true(ca_dns_pattern_match(".example.com", "a.example.com"));
	assert_true(ca_dns_pattern_match(".example.com", "a.b.c.Example.Com"));
	assert_true(ca_dns_pattern_match(".example.com", "*.b.example.com"));
	assert_false(ca_dns_pattern_match(".example.com", "example.com"));
	assert_false(ca_dns_pattern_match(".example.com", "badexample.com"));
	assert_false(ca_dns_pattern_match(".example.com", "a.badexample.com"));
	assert_false(ca_dns_pattern_match(".example.com", "example.com.evil"));
	assert_false(ca_dns_pattern_match(NULL, "a"));
}

static void
test_ip_network_syntax(void **state)
{
	assert_true(ca_ip_network_is_valid("10.0.0.0/8"));
	assert_true(ca_ip_network_is_valid("192.168.1.0/24"));
	assert_true(ca_ip_network_is_valid("192.168.1.7/32"));
	assert_true(ca_ip_network_is_valid("192.168.1.7"));
	assert_true(ca_ip_network_is_valid("0.0.0.0/0"));
	assert_true(ca_ip_network_is_valid("2001:db8::/32"));
	assert_true(ca_ip_network_is_valid("fd00::/8"));
	assert_true(ca_ip_network_is_valid("::/0"));
	assert_true(ca_ip_network_is_valid("::1/128"));
	assert_false(ca_ip_network_is_valid("10.0.0.1/8"));	/* host bits */
	assert_false(ca_ip_network_is_valid("10.0.0.0/33"));
	assert_false(ca_ip_network_is_valid("10.0.0.0/"));
	assert_false(ca_ip_network_is_valid("10.0.0.0/-1"));
	assert_false(ca_ip_network_is_valid("10.0.0.0/8x"));
	assert_false(ca_ip_network_is_valid("10.0.0/8"));
	assert_false(ca_ip_network_is_valid("2001:db8::/129"));
	assert_false(ca_ip_network_is_valid("2001:db8::1/32"));
	assert_false(ca_ip_network_is_valid("host.example"));
	assert_false(ca_ip_network_is_valid(""));
	assert_false(ca_ip_network_is_valid(NULL));
}

/* ------------------------------------------------------------- policy */

static void
test_policy_accepts(void **state)
{
	static const char *const sans[] = { "DNS:www.example.com",
	    "DNS:*.api.example.com", "IP:10.1.2.3" };
	static const char *const nets[] = { "10.0.0.0/8" };
	struct ca_profile	 p;

	cafx_profile_server(&p);
	cafx_list(&p.ip_networks, nets, 1);
	expect_ok(&p, cafx_csr(p256, "www.example.com", sans, 3));
	ca_profile_cleanup(&p);
}

static void
test_policy_key_rules(void **state)
{
	struct ca_profile	 p;
	EVP_PKEY		*k;
	static const char *const san[] = { "DNS:a.example.com" };

	cafx_profile_server(&p);
	cg_free(p.name);
	p.name = cg_strdup("device");
	p.key_types = 1u << CA_KEY_EC_P256 | 1u << CA_KEY_RSA;
	k = cafx_key("ec-p521");
	expect_refusal(&p, cafx_csr(k, NULL, san, 1),
	    "key type ec-p521 is not allowed by profile 'device'");
	EVP_PKEY_free(k);
	k = cafx_key("ed25519");
	expect_refusal(&p, cafx_csr(k, NULL, san, 1),
	    "key type ed25519 is not allowed by profile 'device'");
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_non_null(k);
	expect_refusal(&p, raw_csr(k, NULL, NULL),
	    "key type ec-secp256k1 is not allowed by profile 'device'");
	EVP_PKEY_free(k);
	k = cafx_key("rsa-1024");
	expect_refusal(&p, cafx_csr(k, NULL, san, 1),
	    "key type rsa-1024 is below the profile minimum of 2048 bits");
	p.rsa_min_bits = 1024;
	expect_ok(&p, cafx_csr(k, NULL, san, 1));
	EVP_PKEY_free(k);
	ca_profile_cleanup(&p);
}

static void
test_policy_dns_rules(void **state)
{
	struct ca_profile	 p;

	cafx_profile_server(&p);
	expect_refusal(&p, csr1(NULL, "DNS:evil.example"),
	    "DNS name 'evil.example' is not allowed by profile 'server'");
	expect_refusal(&p, csr1(NULL, "DNS:example.com"),
	    "DNS name 'example.com' is not allowed by profile 'server'");
	expect_refusal(&p, csr1(NULL, "DNS:bad_name.example.com"),
	    "DNS name 'bad_name.example.com' is not a valid host name");
	expect_refusal(&p, csr1(NULL, "DNS:a.*.example.com"),
	    "DNS name 'a.*.example.com' is not a valid host name");
	expect_ok(&p, csr1(NULL, "DNS:Deep.Sub.EXAMPLE.com"));
	/* "*.x" in a profile: one label only */
	ca_strlist_cleanup(&p.dns_patterns);
	assert_int_equal(ca_strlist_add(&p.dns_patterns, "*.corp.example",
	    NULL), CG_OK);
	expect_ok(&p, csr1(NULL, "DNS:host.corp.example"));
	expect_refusal(&p, csr1(NULL, "DNS:a.host.corp.example"),
	    "DNS name 'a.host.corp.example' is not allowed by profile "
	    "'server'");
	/* no patterns: any valid name */
	ca_strlist_cleanup(&p.dns_patterns);
	expect_ok(&p, csr1(NULL, "DNS:anything.example.org"));
	ca_profile_cleanup(&p);
}

static void
test_policy_ip_rules(void **state)
{
	static const char *const nets[] = { "192.0.2.0/24", "2001:db8::/32" };
	struct ca_profile	 p;

	cafx_profile_server(&p);
	cafx_list(&p.ip_networks, nets, 2);
	expect_ok(&p, csr1(NULL, "IP:192.0.2.200"));
	expect_ok(&p, csr1(NULL, "IP:2001:db8:1::5"));
	expect_refusal(&p, csr1(NULL, "IP:198.51.100.1"),
	    "IP address '198.51.100.1' is not allowed by profile 'server'");
	expect_refusal(&p, csr1(NULL, "IP:2001:db9::1"),
	    "IP address '2001:db9::1' is not allowed by profile 'server'");
	/* a v4-mapped v6 address is not a v4 address */
	expect_refusal(&p, csr1(NULL, "IP:::ffff:192.0.2.1"),
	    "IP address '::ffff:192.0.2.1' is not allowed by profile "
	    "'server'");
	p.san_types = CA_SAN_DNS;
	expect_refusal(&p, csr1(NULL, "IP:192.0.2.1"),
	    "SAN type ip is not allowed by profile 'server'");
	ca_profile_cleanup(&p);
}

static void
test_policy_email_uri_rules(void **state)
{
	static const char *const pats[] = { "*@corp.example",
	    "boss@partner.example" };
	struct ca_profile	 p;

	cafx_profile_server(&p);
	cg_free(p.name);
	p.name = cg_strdup("mail");
	expect_refusal(&p, csr1(NULL, "email:a@corp.example"),
	    "SAN type email is not allowed by profile 'mail'");
	p.san_types = CA_SAN_EMAIL | CA_SAN_URI;
	cafx_list(&p.email_patterns, pats, 2);
	expect_ok(&p, csr1(NULL, "email:alice@corp.example"));
	expect_ok(&p, csr1(NULL, "email:alice@CORP.Example"));
	expect_ok(&p, csr1(NULL, "email:boss@partner.example"));
	expect_refusal(&p, csr1(NULL, "email:intern@partner.example"),
	    "e-mail address 'intern@partner.example' is not allowed by "
	    "profile 'mail'");
	expect_refusal(&p, csr1(NULL, "email:x@other.example"),
	    "e-mail address 'x@other.example' is not allowed by profile "
	    "'mail'");
	expect_refusal(&p, csr1(NULL, "email:x@sub.corp.example"),
	    "e-mail address 'x@sub.corp.example' is not allowed by profile "
	    "'mail'");
	expect_refusal(&p, csr1(NULL, "email:no-at-sign"),
	    "e-mail address 'no-at-sign' is not valid");
	expect_ok(&p, csr1(NULL, "URI:spiffe://corp.example/svc"));
	expect_refusal(&p, csr1(NULL, "URI:not a uri"),
	    "URI 'not a uri' is not valid");
	ca_profile_cleanup(&p);
}

static void
test_policy_san_required_and_count(void **state)
{
	struct ca_profile	 p;
	GENERAL_NAMES		*gens;
	GENERAL_NAME		*gn;
	ASN1_IA5STRING		*s;
	char			 name[64];
	int			 i;

	cafx_profile_server(&p);
	expect_refusal(&p, csr1("www.example.com", NULL),
	    "profile 'server' requires at least one subjectAltName");
	p.san_required = false;
	expect_ok(&p, csr1("www.example.com", NULL));
	gens = sk_GENERAL_NAME_new_null();
	for (i = 0; i <= CA_SAN_MAX; i++) {
		snprintf(name, sizeof(name), "h%d.example.com", i);
		s = ASN1_IA5STRING_new();
		gn = GENERAL_NAME_new();
		assert_int_equal(ASN1_STRING_set(s, name, -1), 1);
		GENERAL_NAME_set0_value(gn, GEN_DNS, s);
		assert_true(sk_GENERAL_NAME_push(gens, gn) > 0);
	}
	expect_refusal(&p, raw_csr(p256, NULL, gens),
	    "request has 101 subjectAltNames; at most 100 are allowed");
	GENERAL_NAME_free(sk_GENERAL_NAME_pop(gens));
	expect_ok(&p, raw_csr(p256, NULL, gens));
	GENERAL_NAMES_free(gens);
	ca_profile_cleanup(&p);
}

static void
test_policy_other_san_types(void **state)
{
	struct ca_profile	 p;
	GENERAL_NAMES		*gens;
	GENERAL_NAME		*gn;
	X509_NAME		*dn;

	cafx_profile_server(&p);
	p.san_types = CA_SAN_DNS | CA_SAN_IP | CA_SAN_EMAIL | CA_SAN_URI;
	gens = sk_GENERAL_NAME_new_null();
	dn = X509_NAME_new();
	assert_int_equal(X509_NAME_add_entry_by_txt(dn, "CN", MBSTRING_ASC,
	    (const unsigned char *)"x", -1, -1, 0), 1);
	gn = GENERAL_NAME_new();
	GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dn);
	sk_GENERAL_NAME_push(gens, gn);
	expect_refusal(&p, raw_csr(p256, NULL, gens),
	    "SAN type directoryName is not allowed by profile 'server'");
	GENERAL_NAMES_free(gens);

	gens = sk_GENERAL_NAME_new_null();
	gn = GENERAL_NAME_new();
	assert_int_equal(GENERAL_NAME_set0_othername(gn,
	    OBJ_txt2obj("1.3.6.1.4.1.311.20.2.3", 1), ASN1_TYPE_new()), 1);
	ASN1_TYPE_set1(gn->d.otherName->value, V_ASN1_NULL, NULL);
	sk_GENERAL_NAME_push(gens, gn);
	expect_refusal(&p, raw_csr(p256, NULL, gens),
	    "SAN type otherName is not allowed by profile 'server'");
	GENERAL_NAMES_free(gens);
	ca_profile_cleanup(&p);
}

static void
test_policy_san_with_nul(void **state)
{
	struct ca_profile	 p;
	GENERAL_NAMES		*gens;
	GENERAL_NAME		*gn;
	ASN1_IA5STRING		*s;

	cafx_profile_server(&p);
	gens = sk_GENERAL_NAME_new_null();
	s = ASN1_IA5STRING_new();
	assert_int_equal(ASN1_STRING_set(s, "a.example.com\0.evil", 19), 1);
	gn = GENERAL_NAME_new();
	GENERAL_NAME_set0_value(gn, GEN_DNS, s);
	sk_GENERAL_NAME_push(gens, gn);
	expect_refusal(&p, raw_csr(p256, NULL, gens),
	    "DNS name 'a.example.com?.evil' is not valid");
	GENERAL_NAMES_free(gens);
	ca_profile_cleanup(&p);
}

static X509_NAME *
dn(const char *const *kv, size_t n)
{
	X509_NAME	*name = X509_NAME_new();
	size_t		 i;

	assert_non_null(name);
	for (i = 0; i < n; i += 2)
		assert_int_equal(X509_NAME_add_entry_by_txt(name, kv[i],
		    MBSTRING_UTF8, (const unsigned char *)kv[i + 1], -1, -1,
		    0), 1);
	return name;
}

static void
test_policy_subject_rules(void **state)
{
	static const char *const allowed[] = { "CN", "O" };
	static const char *const required[] = { "O" };
	static const char *const with_ou[] = { "O", "Corp", "OU", "Eng",
	    "CN", "a.example.com" };
	static const char *const cn_only[] = { "CN", "a.example.com" };
	static const char *const cn_o[] = { "O", "Corp", "CN",
	    "a.example.com" };
	struct ca_profile	 p;
	X509_NAME		*name;
	GENERAL_NAMES		*gens;
	GENERAL_NAME		*gn;
	ASN1_IA5STRING		*s;

	cafx_profile_server(&p);
	gens = sk_GENERAL_NAME_new_null();
	s = ASN1_IA5STRING_new();
	assert_int_equal(ASN1_STRING_set(s, "a.example.com", -1), 1);
	gn = GENERAL_NAME_new();
	GENERAL_NAME_set0_value(gn, GEN_DNS, s);
	assert_true(sk_GENERAL_NAME_push(gens, gn) > 0);
	/* empty subject_allowed: the usual directory attributes */
	name = dn(with_ou, 6);
	expect_ok(&p, raw_csr(p256, name, gens));
	cafx_list(&p.subject_allowed, allowed, 2);
	expect_refusal(&p, raw_csr(p256, name, gens),
	    "subject attribute 'OU' is not allowed by profile 'server'");
	X509_NAME_free(name);
	cafx_list(&p.subject_required, required, 1);
	name = dn(cn_only, 2);
	expect_refusal(&p, raw_csr(p256, name, gens),
	    "profile 'server' requires subject attribute 'O'");
	X509_NAME_free(name);
	name = dn(cn_o, 4);
	expect_ok(&p, raw_csr(p256, name, gens));
	X509_NAME_free(name);
	/* an unknown attribute by OID */
	ca_strlist_cleanup(&p.subject_allowed);
	ca_strlist_cleanup(&p.subject_required);
	name = X509_NAME_new();
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "1.2.3.4",
	    MBSTRING_ASC, (const unsigned char *)"x", -1, -1, 0), 1);
	expect_refusal(&p, raw_csr(p256, name, gens),
	    "subject attribute '1.2.3.4' is not allowed by profile 'server'");
	X509_NAME_free(name);
	GENERAL_NAMES_free(gens);
	ca_profile_cleanup(&p);
}

/* --------------------------------------------------------------- CSRs */

static void
test_csr_parse_edges(void **state)
{
	static const char *const san[] = { "DNS:a.example.com" };
	struct cg_err	 err = { 0 };
	struct ca_csr	*csr = (struct ca_csr *)1;
	uint8_t		*der = NULL, *big;
	size_t		 len = 0;
	BIO		*bio;
	BUF_MEM		*bm;

	assert_int_equal(ca_csr_make(p256, "x", san, 1, &der, &len, &err),
	    CG_OK);
	/* trailing byte */
	big = calloc(1, CA_CSR_MAX + 1);
	memcpy(big, der, len);
	assert_int_equal(ca_csr_parse(big, len + 1, &csr, &err), CG_EINVAL);
	assert_null(csr);
	cg_err_clear(&err);
	/* truncated */
	assert_int_equal(ca_csr_parse(der, len - 1, &csr, &err), CG_EINVAL);
	cg_err_clear(&err);
	/* too big */
	assert_int_equal(ca_csr_parse(big, CA_CSR_MAX + 1, &csr, &err),
	    CG_ETOOBIG);
	cg_err_clear(&err);
	/* tampered signature (last byte) */
	memcpy(big, der, len);
	big[len - 1] ^= 0x01;
	assert_int_equal(ca_csr_parse(big, len, &csr, &err), CG_EINVAL);
	assert_string_equal(err.msg, "csr signature does not verify");
	cg_err_clear(&err);
	assert_int_equal(ca_csr_parse(der, 0, &csr, &err), CG_EINVAL);
	cg_err_clear(&err);
	/* the good one, as DER and as PEM */
	assert_int_equal(ca_csr_parse_any(der, len, &csr, &err), CG_OK);
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509_REQ(bio, ca_csr_get0_req(csr)), 1);
	ca_csr_free(csr);
	BIO_get_mem_ptr(bio, &bm);
	assert_int_equal(ca_csr_parse_any((uint8_t *)bm->data, bm->length,
	    &csr, &err), CG_OK);
	ca_csr_free(csr);
	BIO_free(bio);
	/* PEM of something else */
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(bio, p256), 1);
	BIO_get_mem_ptr(bio, &bm);
	assert_int_equal(ca_csr_parse_any((uint8_t *)bm->data, bm->length,
	    &csr, &err), CG_EINVAL);
	assert_null(csr);
	BIO_free(bio);
	free(big);
	cg_free(der);
}

static int
setup(void **state)
{
	p256 = cafx_key("ec-p256");
	return 0;
}

static int
teardown(void **state)
{
	EVP_PKEY_free(p256);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_type_names),
		cmocka_unit_test(test_usage_names),
		cmocka_unit_test(test_strlist_and_cleanup),
		cmocka_unit_test(test_dns_pattern_syntax),
		cmocka_unit_test(test_dns_pattern_match),
		cmocka_unit_test(test_ip_network_syntax),
		cmocka_unit_test(test_policy_accepts),
		cmocka_unit_test(test_policy_key_rules),
		cmocka_unit_test(test_policy_dns_rules),
		cmocka_unit_test(test_policy_ip_rules),
		cmocka_unit_test(test_policy_email_uri_rules),
		cmocka_unit_test(test_policy_san_required_and_count),
		cmocka_unit_test(test_policy_other_san_types),
		cmocka_unit_test(test_policy_san_with_nul),
		cmocka_unit_test(test_policy_subject_rules),
		cmocka_unit_test(test_csr_parse_edges),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
