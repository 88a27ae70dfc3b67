/*
 * test_ident.c - ca_ident_resolve(): who a client certificate is.  A
 * SHA-256 mapping wins over a SHA-1 one, which wins over the common name,
 * which wins over the rules; rules are tried in order, on the issuer
 * exactly and on every subject attribute they name; a certificate that
 * matches nothing maps to nobody.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certgw/ca.h"
#include "certgw/core.h"
#include "certgw/store.h"
#include "ca_test.h"

struct fx {
	char		 dir[PATH_MAX];
	char		 path[PATH_MAX + 32];
	struct ca_store	*st;
	EVP_PKEY	*key;
};

/* A certificate "issued" by issuer_cn with subject O=org, OU=ou, CN=cn. */
static X509 *
cert(EVP_PKEY *key, const char *issuer_cn, const char *org, const char *ou,
    const char *cn)
{
	X509		*x = X509_new();
	X509_NAME	*s, *i;

	assert_non_null(x);
	s = X509_get_subject_name(x);
	i = X509_get_issuer_name(x);
	if (org != NULL)
		assert_int_equal(X509_NAME_add_entry_by_txt(s, "O",
		    MBSTRING_UTF8, (const unsigned char *)org, -1, -1, 0), 1);
	if (ou != NULL)
		assert_int_equal(X509_NAME_add_entry_by_txt(s, "OU",
		    MBSTRING_UTF8, (const unsigned char *)ou, -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(s, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(i, "CN", MBSTRING_UTF8,
	    (const unsigned char *)issuer_cn, -1, -1, 0), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

static int
fx_setup(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));
	struct cg_err	 err = { 0 };

	assert_non_null(fx);
	cafx_mkdtemp(fx->dir, sizeof(fx->dir), "test_ident");
	snprintf(fx->path, sizeof(fx->path), "%s/certgw.db", fx->dir);
	assert_int_equal(ca_store_open(fx->path, &fx->st, &err), CG_OK);
	fx->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(fx->key);
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx	*fx = *state;

	ca_store_close(fx->st);
	EVP_PKEY_free(fx->key);
	cafx_rm_rf(fx->dir);
	free(fx);
	return 0;
}

static int64_t
person(struct ca_store *st, const char *name)
{
	struct ca_identity	 in = { .name = (char *)name, .email = "",
				    .org = "" };
	struct cg_err		 err = { 0 };
	int64_t			 id = 0;

	assert_int_equal(ca_store_identity_add(st, &in, &id, &err), CG_OK);
	return id;
}

static void
map(struct ca_store *st, int64_t who, enum ca_map_kind kind, X509 *x,
    const char *cn)
{
	struct ca_ident_map	 m = { .identity_id = who, .kind = kind,
				    .source = "test" };
	unsigned char		 d[EVP_MAX_MD_SIZE];
	unsigned int		 n = 0;
	char			 hex[2 * EVP_MAX_MD_SIZE + 1];
	struct cg_err		 err = { 0 };

	if (kind == CA_MAP_CN) {
		m.value = (char *)cn;
	} else {
		assert_int_equal(X509_digest(x, kind == CA_MAP_SHA256 ?
		    EVP_sha256() : EVP_sha1(), d, &n), 1);
		cg_hex_encode(d, n, hex, false);
		m.value = hex;
	}
	assert_int_equal(ca_store_map_add(st, &m, NULL, &err), CG_OK);
}

static void
rule(struct ca_store *st, int64_t who, const char *issuer,
    const char *subject)
{
	struct ca_ident_rule	 r = { .identity_id = who,
				    .issuer = (char *)issuer,
				    .subject = (char *)subject };
	struct cg_err		 err = { 0 };

	assert_int_equal(ca_store_rule_add(st, &r, NULL, &err), CG_OK);
}

/* The name cert resolves to, or "-" for nobody. */
static const char *
who(struct ca_store *st, X509 *x, char *buf, size_t cap)
{
	struct ca_ident_match	 m;
	struct cg_err		 err = { 0 };
	enum cg_code		 rc;

	rc = ca_ident_resolve(st, x, &m, &err);
	if (rc == CG_ENOTFOUND)
		return "-";
	assert_int_equal(rc, CG_OK);
	snprintf(buf, cap, "%s%s", m.ident->name, m.rule != 0 ? "(rule)" : "");
	ca_ident_match_cleanup(&m);
	return buf;
}

static void
test_precedence(void **state)
{
	struct fx	*fx = *state;
	X509		*x = cert(fx->key, "Corp Issuing CA", "Sales", NULL,
			    "laptop-1");
	int64_t		 a, b, c, d;
	char		 buf[64];

	a = person(fx->st, "by-sha256");
	b = person(fx->st, "by-sha1");
	c = person(fx->st, "by-cn");
	d = person(fx->st, "sales-team");
	assert_string_equal(who(fx->st, x, buf, sizeof(buf)), "-");
	rule(fx->st, d, "CN=Corp Issuing CA", "O=Sales");
	assert_string_equal(who(fx->st, x, buf, sizeof(buf)),
	    "sales-team(rule)");
	map(fx->st, c, CA_MAP_CN, NULL, "laptop-1");
	assert_string_equal(who(fx->st, x, buf, sizeof(buf)), "by-cn");
	map(fx->st, b, CA_MAP_SHA1, x, NULL);
	assert_string_equal(who(fx->st, x, buf, sizeof(buf)), "by-sha1");
	map(fx->st, a, CA_MAP_SHA256, x, NULL);
	assert_string_equal(who(fx->st, x, buf, sizeof(buf)), "by-sha256");
	X509_free(x);
}

static void
test_rules_in_order(void **state)
{
	struct fx	*fx = *state;
	X509		*boss = cert(fx->key, "Corp Issuing CA", "Sales", "Boss",
			    "b");
	X509		*sales = cert(fx->key, "Corp Issuing CA", "Sales",
			    "East", "s");
	X509		*other_ca = cert(fx->key, "Other CA", "Sales", NULL,
			    "o");
	X509		*ops = cert(fx->key, "Corp Issuing CA", "Ops", NULL,
			    "p");
	int64_t		 team, chiefs;
	char		 buf[64];

	team = person(fx->st, "sales-team");
	chiefs = person(fx->st, "chiefs");
	rule(fx->st, team, "CN=Corp Issuing CA", "O=Sales");
	/* Later, so a boss is still the team... */
	rule(fx->st, chiefs, "CN=Corp Issuing CA", "O=Sales,OU=Boss");
	assert_string_equal(who(fx->st, boss, buf, sizeof(buf)),
	    "sales-team(rule)");
	/* ...until the boss rule is put first. */
	{
		struct ca_ident_rule	 r = { .identity_id = chiefs,
					    .position = 1, .issuer = "",
					    .subject = "OU=Boss,O=Sales" };
		struct cg_err		 err = { 0 };

		assert_int_equal(ca_store_rule_add(fx->st, &r, NULL, &err),
		    CG_OK);
	}
	assert_string_equal(who(fx->st, boss, buf, sizeof(buf)),
	    "chiefs(rule)");
	assert_string_equal(who(fx->st, sales, buf, sizeof(buf)),
	    "sales-team(rule)");
	/* The issuer must be exactly the rule's; the attributes all there. */
	assert_string_equal(who(fx->st, other_ca, buf, sizeof(buf)), "-");
	assert_string_equal(who(fx->st, ops, buf, sizeof(buf)), "-");
	assert_false(ca_ident_rule_matches("CN=Corp Issuing CA",
	    "O=Sales,OU=West", sales));
	assert_false(ca_ident_rule_matches("", "O=Sal", sales));
	assert_false(ca_ident_rule_matches("", "NOSUCHATTR=x", sales));
	assert_false(ca_ident_rule_matches("", "O", sales));
	assert_true(ca_ident_rule_matches(NULL, NULL, sales));
	X509_free(boss);
	X509_free(sales);
	X509_free(other_ca);
	X509_free(ops);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_precedence, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_rules_in_order, fx_setup,
		    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
