/*
 * test_ca_init.c - `certgw init`'s CA through the public API: the files
 * ca_init_create() writes and their modes, the root and intermediate
 * certificates it makes, refusing to overwrite, encrypted keys (ca_open
 * with and without the passphrase) and every key type, plus the CA name
 * forms and ca_open()'s key/certificate match check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca_test.h"

#define PASSPHRASE	"correct horse battery staple"

/* ------------------------------------------------------------ helpers */

static char *
path_in(const char *dir, const char *file)
{
	char	*p = cg_asprintf("%s/%s", dir, file);

	assert_non_null(p);
	return p;
}

static mode_t
file_mode(const char *dir, const char *file)
{
	struct stat	 sb;
	char		*p = path_in(dir, file);
	int		 r = stat(p, &sb);

	cg_free(p);
	return r == 0 ? (sb.st_mode & 07777) : (mode_t)-1;
}

static bool
exists(const char *dir, const char *file)
{
	return file_mode(dir, file) != (mode_t)-1;
}

static STACK_OF(X509) *
read_certs(const char *dir, const char *file)
{
	STACK_OF(X509)	*sk = sk_X509_new_null();
	char		*p = path_in(dir, file);
	X509		*x;
	FILE		*f;

	f = fopen(p, "r");
	assert_non_null(f);
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	fclose(f);
	cg_free(p);
	return sk;
}

static char *
subject_text(X509 *x)
{
	BIO	*bio = BIO_new(BIO_s_mem());
	char	*data;
	long	 len;
	char	*s;

	X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
	len = BIO_get_mem_data(bio, &data);
	s = cg_strndup(data, (size_t)len);
	BIO_free(bio);
	return s;
}

static void
init_ok(const char *dir, const char *name, enum ca_init_key kt, bool inter,
    const char *pass, struct ca_config *conf)
{
	struct ca_init_opts	 o;
	struct cg_err		 err = { 0 };

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.name = name;
	o.key_type = kt;
	o.intermediate = inter;
	o.passphrase = pass;
	memset(conf, 0, sizeof(*conf));
	if (ca_init_create(&o, conf, &err) != CG_OK)
		cafx_die("ca_init_create", &err);
}

static enum cg_code
open_ca(const char *dir, const struct ca_config *rel, const char *pass_file,
    const char *pass_env, struct ca **cap, struct cg_err *err)
{
	struct ca_config	 abs;
	enum cg_code		 rc;

	cafx_conf_abs(dir, rel, &abs);
	abs.key_pass_file = pass_file != NULL ? cg_strdup(pass_file) : NULL;
	abs.key_pass_env = pass_env != NULL ? cg_strdup(pass_env) : NULL;
	rc = ca_open(&abs, cap, err);
	ca_config_cleanup(&abs);
	return rc;
}

static void
check_ca_cert(X509 *x, long pathlen)
{
	int	 idx;

	assert_int_equal(X509_check_ca(x), 1);
	assert_int_equal(X509_get_pathlen(x), pathlen);
	idx = X509_get_ext_by_NID(x, NID_basic_constraints, -1);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, idx)), 1);
	assert_int_equal(X509_get_key_usage(x),
	    KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE);
	idx = X509_get_ext_by_NID(x, NID_key_usage, -1);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, idx)), 1);
	assert_non_null(X509_get0_subject_key_id(x));
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
}

/* ------------------------------------------------------------- tests */

static void
test_root_only(void **state)
{
	struct ca_config	 conf;
	struct cg_err		 err = { 0 };
	struct ca		*ca = NULL;
	STACK_OF(X509)		*root, *chain;
	char			 dir[PATH_MAX], *cadir, *subj;

	cafx_mkdtemp(dir, sizeof(dir), "test_ca_init");
	init_ok(dir, "CN=Test Root, O=certgw", CA_INIT_EC_P256, false, NULL,
	    &conf);
	assert_string_equal(conf.cert_file, "ca/root.pem");
	assert_string_equal(conf.key_file, "ca/root.key");
	assert_string_equal(conf.chain_file, "ca/chain.pem");
	cadir = path_in(dir, "ca");
	assert_int_equal(file_mode(dir, "ca"), 0700);
	assert_int_equal(file_mode(cadir, "root.key"), 0600);
	assert_true(exists(cadir, "root.pem"));
	assert_true(exists(cadir, "chain.pem"));
	assert_false(exists(cadir, "issuing.pem"));
	assert_false(exists(cadir, "issuing.key"));

	root = read_certs(cadir, "root.pem");
	chain = read_certs(cadir, "chain.pem");
	assert_int_equal(sk_X509_num(root), 1);
	assert_int_equal(sk_X509_num(chain), 1);
	assert_int_equal(X509_cmp(sk_X509_value(root, 0),
	    sk_X509_value(chain, 0)), 0);
	check_ca_cert(sk_X509_value(root, 0), 0);
	assert_int_equal(X509_check_issued(sk_X509_value(root, 0),
	    sk_X509_value(root, 0)), X509_V_OK);
	assert_int_equal(X509_verify(sk_X509_value(root, 0),
	    X509_get0_pubkey(sk_X509_value(root, 0))), 1);
	subj = subject_text(sk_X509_value(root, 0));
	assert_string_equal(subj, "CN=Test Root,O=certgw");
	cg_free(subj);

	if (open_ca(dir, &conf, NULL, NULL, &ca, &err) != CG_OK)
		cafx_die("ca_open", &err);
	assert_string_equal(ca_get0_name(ca), "CN=Test Root,O=certgw");
	assert_int_equal(sk_X509_num(ca_get0_chain(ca)), 1);
	ca_free(ca);
	sk_X509_pop_free(root, X509_free);
	sk_X509_pop_free(chain, X509_free);
	cg_free(cadir);
	ca_config_cleanup(&conf);
	cafx_rm_rf(dir);
}

static void
test_with_intermediate(void **state)
{
	struct ca_config	 conf;
	struct cg_err		 err = { 0 };
	struct ca		*ca = NULL;
	STACK_OF(X509)		*chain;
	X509			*iss, *root;
	char			 dir[PATH_MAX], *cadir, *subj;

	cafx_mkdtemp(dir, sizeof(dir), "test_ca_init");
	init_ok(dir, "/O=certgw/CN=Corp", CA_INIT_EC_P384, true, NULL, &conf);
	assert_string_equal(conf.cert_file, "ca/issuing.pem");
	assert_string_equal(conf.key_file, "ca/issuing.key");
	assert_string_equal(conf.chain_file, "ca/chain.pem");
	cadir = path_in(dir, "ca");
	assert_int_equal(file_mode(cadir, "root.key"), 0600);
	assert_int_equal(file_mode(cadir, "issuing.key"), 0600);
	assert_true(exists(cadir, "root.pem"));
	assert_true(exists(cadir, "issuing.pem"));

	chain = read_certs(cadir, "chain.pem");
	assert_int_equal(sk_X509_num(chain), 2);
	iss = sk_X509_value(chain, 0);
	root = sk_X509_value(chain, 1);
	check_ca_cert(root, 1);
	check_ca_cert(iss, 0);
	subj = subject_text(iss);
	assert_string_equal(subj, "CN=Corp Issuing CA,O=certgw");
	cg_free(subj);
	subj = subject_text(root);
	assert_string_equal(subj, "CN=Corp,O=certgw");
	cg_free(subj);
	assert_int_equal(X509_check_issued(root, iss), X509_V_OK);
	assert_int_equal(X509_verify(iss, X509_get0_pubkey(root)), 1);
	assert_int_equal(X509_get_signature_nid(iss), NID_ecdsa_with_SHA384);
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(iss),
	    X509_get0_subject_key_id(root)), 0);
	assert_true(ASN1_TIME_compare(X509_get0_notAfter(iss),
	    X509_get0_notAfter(root)) <= 0);

	if (open_ca(dir, &conf, NULL, NULL, &ca, &err) != CG_OK)
		cafx_die("ca_open", &err);
	assert_int_equal(sk_X509_num(ca_get0_chain(ca)), 2);
	assert_int_equal(X509_cmp(ca_get0_cert(ca), iss), 0);
	ca_free(ca);

	/* the root key does not belong to the issuing certificate */
	cg_free(conf.key_file);
	conf.key_file = cg_strdup("ca/root.key");
	assert_int_equal(open_ca(dir, &conf, NULL, NULL, &ca, &err),
	    CG_EINVAL);
	assert_string_equal(err.msg,
	    "the CA private key does not match the CA certificate");
	assert_null(ca);
	sk_X509_pop_free(chain, X509_free);
	cg_free(cadir);
	ca_config_cleanup(&conf);
	cafx_rm_rf(dir);
}

static void
test_refuses_overwrite(void **state)
{
	struct ca_init_opts	 o;
	struct ca_config	 conf, conf2;
	struct cg_err		 err = { 0 };
	char			 dir[PATH_MAX], want[PATH_MAX + 64];
	char			*cadir, *p;
	uint8_t			*before = NULL, *after = NULL;
	size_t			 blen = 0, alen = 0;
	EVP_PKEY		*k;

	cafx_mkdtemp(dir, sizeof(dir), "test_ca_init");
	init_ok(dir, "Bare Name CA", CA_INIT_EC_P256, true, NULL, &conf);
	cadir = path_in(dir, "ca");
	p = path_in(cadir, "issuing.key");
	assert_int_equal(cg_file_read(p, 1 << 16, &before, &blen, NULL), CG_OK);

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.name = "Another";
	o.intermediate = true;
	memset(&conf2, 0, sizeof(conf2));
	assert_int_equal(ca_init_create(&o, &conf2, &err), CG_ECONFLICT);
	snprintf(want, sizeof(want), "a CA already exists in %s; refusing to "
	    "overwrite", cadir);
	assert_string_equal(err.msg, want);
	assert_null(conf2.cert_file);
	assert_int_equal(cg_file_read(p, 1 << 16, &after, &alen, NULL), CG_OK);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);

	/* any one of the files is enough to refuse */
	cafx_rm_rf(cadir);
	assert_int_equal(cg_mkdir_p(cadir, 0700, NULL), CG_OK);
	cg_free(p);
	p = path_in(cadir, "chain.pem");
	assert_int_equal(cg_file_write(p, "x", 1, 0644, true, NULL), CG_OK);
	cg_err_clear(&err);
	o.intermediate = false;
	assert_int_equal(ca_init_create(&o, &conf2, &err), CG_ECONFLICT);
	assert_false(exists(cadir, "root.key"));

	/* ca_key_write refuses too */
	k = cafx_key("ec-p256");
	cg_err_clear(&err);
	assert_int_equal(ca_key_write(p, k, NULL, &err), CG_ECONFLICT);
	EVP_PKEY_free(k);

	cg_free(before);
	cg_free(after);
	cg_free(p);
	cg_free(cadir);
	ca_config_cleanup(&conf);
	cafx_rm_rf(dir);
}

static void
test_encrypted_key(void **state)
{
	struct ca_config	 conf;
	struct cg_err		 err = { 0 };
	struct ca		*ca = NULL;
	char			 dir[PATH_MAX], *cadir, *p, *good, *bad;
	uint8_t			*pem = NULL;
	size_t			 len = 0;

	cafx_mkdtemp(dir, sizeof(dir), "test_ca_init");
	init_ok(dir, "CN=Locked", CA_INIT_EC_P256, true, PASSPHRASE, &conf);
	cadir = path_in(dir, "ca");
	p = path_in(cadir, "issuing.key");
	assert_int_equal(cg_file_read(p, 1 << 16, &pem, &len, NULL), CG_OK);
	assert_non_null(strstr((char *)pem,
	    "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
	assert_null(strstr((char *)pem, "-----BEGIN PRIVATE KEY-----"));
	cg_free(pem);
	cg_free(p);
	p = path_in(cadir, "root.key");
	assert_int_equal(cg_file_read(p, 1 << 16, &pem, &len, NULL), CG_OK);
	assert_non_null(strstr((char *)pem, "ENCRYPTED PRIVATE KEY"));
	cg_free(pem);
	cg_free(p);

	/* no passphrase: refused, without prompting */
	assert_int_equal(open_ca(dir, &conf, NULL, NULL, &ca, &err),
	    CG_ECRYPTO);
	assert_null(ca);
	/* wrong passphrase */
	bad = path_in(dir, "bad.pass");
	assert_int_equal(cg_file_write(bad, "guess\n", 6, 0600, true, NULL),
	    CG_OK);
	cg_err_clear(&err);
	assert_int_equal(open_ca(dir, &conf, bad, NULL, &ca, &err),
	    CG_ECRYPTO);
	/* right passphrase, from a file (trailing newline) and from env */
	good = path_in(dir, "good.pass");
	assert_int_equal(cg_file_write(good, PASSPHRASE "\n",
	    strlen(PASSPHRASE) + 1, 0600, true, NULL), CG_OK);
	cg_err_clear(&err);
	if (open_ca(dir, &conf, good, NULL, &ca, &err) != CG_OK)
		cafx_die("ca_open with passphrase file", &err);
	ca_free(ca);
	ca = NULL;
	setenv("CERTGW_TEST_CA_PASS", PASSPHRASE, 1);
	if (open_ca(dir, &conf, NULL, "CERTGW_TEST_CA_PASS", &ca, &err) !=
	    CG_OK)
		cafx_die("ca_open with passphrase env", &err);
	unsetenv("CERTGW_TEST_CA_PASS");
	ca_free(ca);
	cg_free(good);
	cg_free(bad);
	cg_free(cadir);
	ca_config_cleanup(&conf);
	cafx_rm_rf(dir);
}

static void
test_each_key_type(void **state)
{
	static const struct {
		enum ca_init_key kt;	/* what init makes */
		int		 sig;	/* signature algorithm expected */
		int		 bits;	/* key size expected */
	} kinds[] = {
		{ CA_INIT_EC_P256, NID_ecdsa_with_SHA256, 256 },
		{ CA_INIT_EC_P384, NID_ecdsa_with_SHA384, 384 },
		{ CA_INIT_RSA_2048, NID_sha256WithRSAEncryption, 2048 },
		{ CA_INIT_RSA_3072, NID_sha256WithRSAEncryption, 3072 },
		{ CA_INIT_RSA_4096, NID_sha256WithRSAEncryption, 4096 },
	};
	struct ca_config	 conf;
	struct cg_err		 err = { 0 };
	struct ca		*ca;
	char			 dir[PATH_MAX];
	size_t			 i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		cafx_mkdtemp(dir, sizeof(dir), "test_ca_init");
		/* RSA-4096 keygen is slow: root only, one key. */
		init_ok(dir, "CN=Kind", kinds[i].kt, false, NULL, &conf);
		ca = NULL;
		if (open_ca(dir, &conf, NULL, NULL, &ca, &err) != CG_OK)
			cafx_die("ca_open", &err);
		assert_int_equal(X509_get_signature_nid(ca_get0_cert(ca)),
		    kinds[i].sig);
		assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(
		    ca_get0_cert(ca))), kinds[i].bits);
		ca_free(ca);
		ca_config_cleanup(&conf);
		cafx_rm_rf(dir);
	}
}

static void
test_init_key_names_and_bad_names(void **state)
{
	struct ca_init_opts	 o;
	struct ca_config	 conf;
	struct cg_err		 err = { 0 };
	enum ca_init_key	 k;
	STACK_OF(X509)		*sk;
	char			 dir[PATH_MAX], *cadir, *subj;

	assert_true(ca_init_key_parse("ec-p256", &k));
	assert_int_equal(k, CA_INIT_EC_P256);
	assert_true(ca_init_key_parse("RSA-4096", &k));
	assert_int_equal(k, CA_INIT_RSA_4096);
	assert_true(ca_init_key_parse("rsa-3072", &k));
	assert_int_equal(k, CA_INIT_RSA_3072);
	assert_false(ca_init_key_parse("rsa", &k));
	assert_false(ca_init_key_parse("ed25519", &k));

	cafx_mkdtemp(dir, sizeof(dir), "test_ca_init");
	memset(&o, 0, sizeof(o));
	memset(&conf, 0, sizeof(conf));
	o.dir = dir;
	o.name = "CN=, O=x";
	assert_int_equal(ca_init_create(&o, &conf, &err), CG_EINVAL);
	cg_err_clear(&err);
	o.name = "";
	assert_int_equal(ca_init_create(&o, &conf, &err), CG_EINVAL);
	cg_err_clear(&err);
	o.name = "C=Germany, CN=x";	/* C is two letters */
	assert_int_equal(ca_init_create(&o, &conf, &err), CG_EINVAL);
	cg_err_clear(&err);
	o.root_days = CA_VALIDITY_DAYS_MAX + 1;
	o.name = "x";
	assert_int_equal(ca_init_create(&o, &conf, &err), CG_EINVAL);
	cg_err_clear(&err);
	cadir = path_in(dir, "ca");
	assert_false(exists(cadir, "root.key"));

	/* an escaped comma stays in the value */
	init_ok(dir, "CN=Acme\\, Inc. CA, O=Acme, C=DE", CA_INIT_EC_P256,
	    false, NULL, &conf);
	sk = read_certs(cadir, "root.pem");
	subj = subject_text(sk_X509_value(sk, 0));
	assert_string_equal(subj, "CN=Acme\\, Inc. CA,O=Acme,C=DE");
	cg_free(subj);
	sk_X509_pop_free(sk, X509_free);
	ca_config_cleanup(&conf);
	cg_free(cadir);
	cafx_rm_rf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_only),
		cmocka_unit_test(test_with_intermediate),
		cmocka_unit_test(test_refuses_overwrite),
		cmocka_unit_test(test_encrypted_key),
		cmocka_unit_test(test_each_key_type),
		cmocka_unit_test(test_init_key_names_and_bad_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
