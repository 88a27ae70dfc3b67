/*
 * test_ca_crl.c - revocation and CRLs through the public API: reason
 * names, ca_revoke() by serial and by thumbprint with its audit row,
 * conflicts and unknown ids, and ca_crl_make(): signature, entries and
 * reason codes, CRL numbers, nextUpdate, AKI, and OpenSSL's CRL check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "ca_test.h"

#define NCERTS	4

struct crl_fx {
	struct ca_fx	 ca;			/* CA and store */
	struct ca_issued *is[NCERTS];		/* issued certificates */
};

/* ------------------------------------------------------------ helpers */

static X509_CRL *
crl_build(struct ca *ca, struct ca_store *st, int64_t *nextp)
{
	struct cg_err		 err = { 0 };
	const unsigned char	*p;
	uint8_t			*der = NULL;
	size_t			 len = 0;
	X509_CRL		*crl;

	if (ca_crl_make(ca, st, &der, &len, nextp, &err) != CG_OK)
		cafx_die("ca_crl_make", &err);
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	assert_non_null(crl);
	assert_ptr_equal(p, der + len);
	cg_free(der);
	return crl;
}

static int64_t
asn1_unix(const ASN1_TIME *t)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return (int64_t)timegm(&tm);
}

static uint64_t
crl_number(X509_CRL *crl)
{
	ASN1_INTEGER	*n;
	uint64_t	 v = 0;

	n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_non_null(n);
	assert_int_equal(ASN1_INTEGER_get_uint64(&v, n), 1);
	ASN1_INTEGER_free(n);
	return v;
}

/* The reason code of serial's entry; -1 without one, -2 when absent. */
static int
entry_reason(X509_CRL *crl, const char *serial)
{
	X509_REVOKED	*rev = NULL;
	ASN1_ENUMERATED	*code;
	ASN1_INTEGER	*ai;
	BIGNUM		*bn = NULL;
	int		 crit = 0, r;

	assert_true(BN_hex2bn(&bn, serial) > 0);
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	r = X509_CRL_get0_by_serial(crl, &rev, ai);
	ASN1_INTEGER_free(ai);
	if (r == 0)
		return -2;
	code = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
	if (code == NULL) {
		assert_int_equal(crit, -1);
		return -1;
	}
	r = (int)ASN1_ENUMERATED_get(code);
	ASN1_ENUMERATED_free(code);
	return r;
}

static int
verify_with_crl(struct ca_fx *fx, X509 *leaf, X509_CRL *crl)
{
	STACK_OF(X509)	*chain = ca_get0_chain(fx->ca);
	X509_STORE	*store;
	X509_STORE_CTX	*ctx;
	int		 rc;

	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	assert_int_equal(X509_STORE_add_cert(store,
	    sk_X509_value(chain, sk_X509_num(chain) - 1)), 1);
	assert_int_equal(X509_STORE_add_crl(store, crl), 1);
	assert_int_equal(X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK),
	    1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, chain), 1);
	rc = X509_verify_cert(ctx) == 1 ? X509_V_OK :
	    X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

static enum cg_code
audit_cb(void *arg, const struct ca_audit_rec *r)
{
	char	*out = arg;

	if (strcmp(r->action, "revoke") == 0 && strcmp(r->outcome, "ok") == 0)
		snprintf(out + strlen(out), 512 - strlen(out), "%s|%s|%s;",
		    r->actor, r->target, r->detail);
	return CG_OK;
}

/* ------------------------------------------------------------- tests */

static void
test_reason_names(void **state)
{
	enum ca_reason	 r;
	int		 i;

	for (i = 0; i < CA_REASON__MAX; i++) {
		if (i == 7) {
			assert_string_equal(ca_reason_name(i), "unknown");
			continue;
		}
		assert_true(ca_reason_parse(ca_reason_name(i), &r));
		assert_int_equal(r, i);
	}
	assert_true(ca_reason_parse("KEYCOMPROMISE", &r));
	assert_int_equal(r, CA_REASON_KEY_COMPROMISE);
	assert_true(ca_reason_parse("aACompromise", &r));
	assert_int_equal(r, CA_REASON_AA_COMPROMISE);
	assert_string_equal(ca_reason_name(CA_REASON_CA_COMPROMISE),
	    "cACompromise");
	assert_string_equal(ca_reason_name(CA_REASON_PRIVILEGE_WITHDRAWN),
	    "privilegeWithdrawn");
	assert_false(ca_reason_parse("7", &r));
	assert_false(ca_reason_parse("compromised", &r));
	assert_false(ca_reason_parse(NULL, &r));
	assert_string_equal(ca_reason_name(CA_REASON__MAX), "unknown");
}

static void
test_revoke_and_crl(void **state)
{
	struct crl_fx	*fx = *state;
	struct ca_fx	*c = &fx->ca;
	struct cg_err	 err = { 0 };
	X509_CRL	*crl, *crl2;
	int64_t		 next = 0, last;
	uint64_t	 n1, n2;
	char		 upper[65], audit[512] = "";
	size_t		 i;

	assert_int_equal(ca_revoke(c->ca, c->st, fx->is[0]->serial,
	    CA_REASON_KEY_COMPROMISE, "cli:alice", &err), CG_OK);
	/* by thumbprint, upper-case */
	for (i = 0; i < 64; i++)
		upper[i] = (char)toupper((unsigned char)fx->is[1]->sha256[i]);
	upper[64] = '\0';
	assert_int_equal(ca_revoke(c->ca, c->st, upper, CA_REASON_SUPERSEDED,
	    "cli:bob", &err), CG_OK);
	assert_int_equal(ca_revoke(c->ca, c->st, fx->is[3]->serial,
	    CA_REASON_UNSPECIFIED, "cli:bob", &err), CG_OK);

	crl = crl_build(c->ca, c->st, &next);
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	assert_int_equal(X509_CRL_verify(crl,
	    X509_get0_pubkey(ca_get0_cert(c->ca))), 1);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(ca_get0_cert(c->ca))), 0);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 3);
	assert_int_equal(entry_reason(crl, fx->is[0]->serial),
	    CA_REASON_KEY_COMPROMISE);
	assert_int_equal(entry_reason(crl, fx->is[1]->serial),
	    CA_REASON_SUPERSEDED);
	assert_int_equal(entry_reason(crl, fx->is[2]->serial), -2);
	assert_int_equal(entry_reason(crl, fx->is[3]->serial), -1);
	last = asn1_unix(X509_CRL_get0_lastUpdate(crl));
	assert_true(last >= cg_now() - 5 && last <= cg_now());
	assert_int_equal(asn1_unix(X509_CRL_get0_nextUpdate(crl)) - last,
	    3600);
	assert_int_equal(next, last + 3600);
	{
		AUTHORITY_KEYID *akid = X509_CRL_get_ext_d2i(crl,
		    NID_authority_key_identifier, NULL, NULL);

		assert_non_null(akid);
		assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid,
		    X509_get0_subject_key_id(ca_get0_cert(c->ca))), 0);
		AUTHORITY_KEYID_free(akid);
	}
	n1 = crl_number(crl);
	assert_true(n1 >= 1);
	/* OpenSSL's own CRL check agrees */
	assert_int_equal(verify_with_crl(c,
	    ca_issued_get0_cert(fx->is[0]), crl), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify_with_crl(c,
	    ca_issued_get0_cert(fx->is[2]), crl), X509_V_OK);

	crl2 = crl_build(c->ca, c->st, NULL);
	n2 = crl_number(crl2);
	assert_true(n2 > n1);
	X509_CRL_free(crl2);
	X509_CRL_free(crl);

	assert_int_equal(ca_store_audit_list(c->st, 0, audit_cb, audit, &err),
	    CG_OK);
	assert_non_null(strstr(audit, "cli:alice|"));
	assert_non_null(strstr(audit, "|reason=keyCompromise;"));
	assert_non_null(strstr(audit, "cli:bob|"));
	assert_non_null(strstr(audit, "|reason=superseded;"));
}

static void
test_revoke_errors(void **state)
{
	struct crl_fx	*fx = *state;
	struct ca_fx	*c = &fx->ca;
	struct cg_err	 err = { 0 };
	char		 want[128];
	char		 lower[CA_SERIAL_HEX_MAX];
	size_t		 i;

	assert_int_equal(ca_revoke(c->ca, c->st, fx->is[0]->serial,
	    CA_REASON_KEY_COMPROMISE, "cli:alice", &err), CG_OK);
	/* again, spelled in lower case */
	for (i = 0; fx->is[0]->serial[i] != '\0'; i++)
		lower[i] = (char)tolower((unsigned char)fx->is[0]->serial[i]);
	lower[i] = '\0';
	assert_int_equal(ca_revoke(c->ca, c->st, lower,
	    CA_REASON_SUPERSEDED, "cli:alice", &err), CG_ECONFLICT);
	snprintf(want, sizeof(want), "certificate %s is already revoked",
	    fx->is[0]->serial);
	assert_string_equal(err.msg, want);
	cg_err_clear(&err);
	assert_int_equal(ca_revoke(c->ca, c->st, "ABCDEF0123",
	    CA_REASON_SUPERSEDED, "cli:alice", &err), CG_ENOTFOUND);
	assert_string_equal(err.msg, "no certificate has serial or SHA-256 "
	    "thumbprint ABCDEF0123");
	cg_err_clear(&err);
	assert_int_equal(ca_revoke(c->ca, c->st, "not-hex",
	    CA_REASON_SUPERSEDED, "cli:alice", &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_revoke(c->ca, c->st, fx->is[1]->serial,
	    CA_REASON_REMOVE_FROM_CRL, "cli:alice", &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_revoke(c->ca, c->st, fx->is[1]->serial, 7,
	    "cli:alice", &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_revoke(c->ca, c->st, "", CA_REASON_SUPERSEDED,
	    "cli:alice", &err), CG_EINVAL);
	cg_err_clear(&err);
	/* nothing but the first revocation happened */
	{
		X509_CRL *crl = crl_build(c->ca, c->st, NULL);

		assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)),
		    1);
		X509_CRL_free(crl);
	}
}

/* crl_validity_s of 0 means a day; an empty CRL is still a valid CRL. */
static void
test_crl_default_validity(void **state)
{
	struct crl_fx	*fx = *state;
	struct ca_config conf = fx->ca.conf;
	struct cg_err	 err = { 0 };
	struct ca	*ca = NULL;
	X509_CRL	*crl;
	int64_t		 next = 0;

	conf.crl_validity_s = 0;
	if (ca_open(&conf, &ca, &err) != CG_OK)
		cafx_die("ca_open", &err);
	crl = crl_build(ca, fx->ca.st, &next);
	/* RFC 5280 5.1.2.6: no entries, so the list itself is absent */
	assert_null(X509_CRL_get_REVOKED(crl));
	assert_int_equal(asn1_unix(X509_CRL_get0_nextUpdate(crl)) -
	    asn1_unix(X509_CRL_get0_lastUpdate(crl)), 86400);
	assert_int_equal(X509_CRL_verify(crl,
	    X509_get0_pubkey(ca_get0_cert(ca))), 1);
	X509_CRL_free(crl);
	ca_free(ca);
}

static int
setup(void **state)
{
	static const char *const san[] = { "DNS:a.example.com" };
	struct crl_fx		*fx = calloc(1, sizeof(*fx));
	struct ca_issue_req	 req;
	struct ca_profile	 p;
	struct ca_csr		*csr;
	struct cg_err		 err = { 0 };
	EVP_PKEY		*key;
	int			 i;

	assert_non_null(fx);
	cafx_create(&fx->ca, CA_INIT_EC_P256, true, NULL);
	cafx_profile_server(&p);
	key = cafx_key("ec-p256");
	csr = cafx_csr(key, "a.example.com", san, 1);
	req = (struct ca_issue_req){ csr, &p, "cli", "cli:test" };
	for (i = 0; i < NCERTS; i++)
		if (ca_issue(fx->ca.ca, fx->ca.st, &req, &fx->is[i], &err) !=
		    CG_OK)
			cafx_die("ca_issue", &err);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	ca_profile_cleanup(&p);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct crl_fx	*fx = *state;
	int		 i;

	for (i = 0; i < NCERTS; i++)
		ca_issued_free(fx->is[i]);
	cafx_destroy(&fx->ca);
	free(fx);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test_setup_teardown(test_revoke_and_crl, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_revoke_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crl_default_validity,
		    setup, teardown),
	};

	cg_log_set_level(CG_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
