/*
 * test_ca_issue.c - ca_issue() end to end: a CA made by ca_init_create()
 * in a temporary directory, opened with ca_open(), a real SQLite store, and
 * CSRs from ca_csr_make() for each key type.  Checks the certificate's
 * extensions, serial, chain verification, the store record, refusals
 * (audited, nothing issued) and the outbox hook's transaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "ca_test.h"

#define BASE_URL	"http://gw.example.com:8080/"
#define NSERIALS	200

struct audit_find {
	const char	*action;	/* wanted action */
	const char	*outcome;	/* wanted outcome */
	const char	*needle;	/* substring of detail, or NULL */
	int		 n;		/* matching rows */
	char		 actor[64];	/* actor of the last match */
};

/* ------------------------------------------------------------ helpers */

/* The issued certificate, decoded from its DER (never NULL). */
static X509 *
cert_of(struct ca_issued *is)
{
	X509	*x = ca_issued_get0_cert(is);

	assert_non_null(x);
	return x;
}

static enum cg_code
audit_cb(void *arg, const struct ca_audit_rec *r)
{
	struct audit_find	*af = arg;

	if (strcmp(r->action, af->action) != 0 ||
	    strcmp(r->outcome, af->outcome) != 0)
		return CG_OK;
	if (af->needle != NULL && strstr(r->detail, af->needle) == NULL)
		return CG_OK;
	af->n++;
	snprintf(af->actor, sizeof(af->actor), "%s", r->actor);
	return CG_OK;
}

static int
audit_count(struct ca_store *st, const char *action, const char *outcome,
    const char *needle, char *actor, size_t actorlen)
{
	struct audit_find	 af;
	struct cg_err		 err = { 0 };

	memset(&af, 0, sizeof(af));
	af.action = action;
	af.outcome = outcome;
	af.needle = needle;
	if (ca_store_audit_list(st, 0, audit_cb, &af, &err) != CG_OK)
		cafx_die("ca_store_audit_list", &err);
	if (actor != NULL)
		snprintf(actor, actorlen, "%s", af.actor);
	return af.n;
}

static struct ca_issued *
issue(struct ca_fx *fx, const struct ca_profile *p, struct ca_csr *csr,
    const char *proto, const char *who)
{
	struct ca_issue_req	 req = { csr, p, proto, who };
	struct ca_issued	*is = NULL;
	struct cg_err		 err = { 0 };

	if (ca_issue(fx->ca, fx->st, &req, &is, &err) != CG_OK)
		cafx_die("ca_issue", &err);
	assert_non_null(is);
	return is;
}

static void
verify_chain(struct ca_fx *fx, X509 *leaf)
{
	STACK_OF(X509)	*chain = ca_get0_chain(fx->ca);
	X509_STORE	*store;
	X509_STORE_CTX	*ctx;
	int		 ok;

	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store,
	    sk_X509_value(chain, sk_X509_num(chain) - 1)), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, chain), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx,
	    X509_PURPOSE_SSL_SERVER), 1);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		print_error("verify: %s\n", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
	assert_int_equal(ok, 1);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
}

static void
assert_ext_critical(X509 *x, int nid, int crit)
{
	int	 idx = X509_get_ext_by_NID(x, nid, -1);

	assert_true(idx >= 0);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, idx)),
	    crit);
	assert_true(X509_get_ext_by_NID(x, nid, idx) < 0);
}

static void
assert_uri(const GENERAL_NAME *gn, const char *want)
{
	assert_int_equal(gn->type, GEN_URI);
	assert_int_equal(ASN1_STRING_length(gn->d.uniformResourceIdentifier),
	    (int)strlen(want));
	assert_memory_equal(ASN1_STRING_get0_data(
	    gn->d.uniformResourceIdentifier), want, strlen(want));
}

static void
check_cdp_aia(X509 *x)
{
	CRL_DIST_POINTS		*cdp;
	AUTHORITY_INFO_ACCESS	*aia;
	DIST_POINT		*dp;
	ACCESS_DESCRIPTION	*ad;

	cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	assert_non_null(cdp);
	assert_int_equal(sk_DIST_POINT_num(cdp), 1);
	dp = sk_DIST_POINT_value(cdp, 0);
	assert_int_equal(dp->distpoint->type, 0);
	assert_int_equal(sk_GENERAL_NAME_num(dp->distpoint->name.fullname), 2);
	assert_uri(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0),
	    "http://crl.example.com/ca.crl");
	assert_uri(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 1),
	    "http://gw.example.com:8080/crl");
	CRL_DIST_POINTS_free(cdp);

	aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	assert_non_null(aia);
	assert_int_equal(sk_ACCESS_DESCRIPTION_num(aia), 3);
	ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
	assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_OCSP);
	assert_uri(ad->location, "http://ocsp.example.com");
	/* The gateway's own responder follows the profile's. */
	ad = sk_ACCESS_DESCRIPTION_value(aia, 1);
	assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_OCSP);
	assert_uri(ad->location, "http://gw.example.com:8080/ocsp");
	ad = sk_ACCESS_DESCRIPTION_value(aia, 2);
	assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_ca_issuers);
	assert_uri(ad->location, "http://gw.example.com:8080/ca.crt");
	AUTHORITY_INFO_ACCESS_free(aia);
}

static void
check_sans(X509 *x)
{
	static const unsigned char ip[4] = { 192, 0, 2, 10 };
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*gn;
	int		 crit = -1;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	assert_non_null(gens);
	assert_int_equal(crit, 0);	/* the subject is not empty */
	assert_int_equal(sk_GENERAL_NAME_num(gens), 2);
	gn = sk_GENERAL_NAME_value(gens, 0);
	assert_int_equal(gn->type, GEN_DNS);
	assert_memory_equal(ASN1_STRING_get0_data(gn->d.dNSName),
	    "www.example.com", 15);
	gn = sk_GENERAL_NAME_value(gens, 1);
	assert_int_equal(gn->type, GEN_IPADD);
	assert_int_equal(ASN1_STRING_length(gn->d.iPAddress), 4);
	assert_memory_equal(ASN1_STRING_get0_data(gn->d.iPAddress), ip, 4);
	GENERAL_NAMES_free(gens);
}

static void
check_serial(struct ca_issued *is)
{
	BIGNUM		*bn;
	char		*hex;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(
	    cert_of(is)), NULL);
	assert_non_null(bn);
	assert_false(BN_is_negative(bn));
	assert_int_equal(BN_num_bytes(bn), CA_SERIAL_BYTES);
	/* first byte in 0x01..0x7f: 153..159 significant bits */
	assert_true(BN_num_bits(bn) >= 153 && BN_num_bits(bn) <= 159);
	hex = BN_bn2hex(bn);
	assert_string_equal(hex[0] == '0' ? hex + 1 : hex, is->serial);
	OPENSSL_free(hex);
	BN_free(bn);
}

static void
check_usages(X509 *x, bool rsa)
{
	uint32_t	 want = KU_DIGITAL_SIGNATURE;

	if (rsa)
		want |= KU_KEY_ENCIPHERMENT;
	assert_int_equal(X509_get_key_usage(x), want);
	assert_ext_critical(x, NID_key_usage, 1);
	assert_int_equal(X509_get_extended_key_usage(x),
	    XKU_SSL_SERVER | XKU_SSL_CLIENT);
	assert_ext_critical(x, NID_ext_key_usage, 0);
	assert_int_equal(X509_get_extension_flags(x) & EXFLAG_CA, 0);
	assert_ext_critical(x, NID_basic_constraints, 1);
}

static void
check_record(struct ca_fx *fx, const struct ca_issued *is)
{
	struct ca_cert_rec	*rec = NULL;
	struct cg_err		 err = { 0 };

	if (ca_store_cert_get(fx->st, is->serial, &rec, &err) != CG_OK)
		cafx_die("ca_store_cert_get", &err);
	assert_string_equal(rec->serial, is->serial);
	assert_string_equal(rec->sha256, is->sha256);
	assert_string_equal(rec->profile, "server");
	assert_string_equal(rec->protocol, "est");
	assert_string_equal(rec->requester, "est:tester");
	assert_string_equal(rec->sans, "DNS:www.example.com,IP:192.0.2.10");
	assert_string_equal(rec->subject, "CN=www.example.com");
	assert_string_equal(rec->issuer, ca_get0_name(fx->ca));
	assert_int_equal(rec->status, CA_CERT_VALID);
	assert_int_equal(rec->der_len, is->der_len);
	assert_memory_equal(rec->der, is->der, is->der_len);
	assert_int_equal(strlen(rec->sha1), 40);
	ca_cert_rec_free(rec);
}

/* A group-committed record holds what a single one holds. */
static void
check_group_record(struct ca_fx *fx, const struct ca_issued *is)
{
	struct ca_cert_rec	*rec = NULL;
	struct cg_err		 err = { 0 };

	if (ca_store_cert_get(fx->st, is->serial, &rec, &err) != CG_OK)
		cafx_die("ca_store_cert_get", &err);
	assert_string_equal(rec->sha256, is->sha256);
	assert_string_equal(rec->profile, "server");
	assert_string_equal(rec->protocol, "est");
	assert_string_equal(rec->requester, "est:group");
	assert_string_equal(rec->sans, "DNS:g.example.com");
	assert_non_null(strstr(rec->subject, ".example.com"));
	assert_int_equal(rec->der_len, is->der_len);
	assert_memory_equal(rec->der, is->der, is->der_len);
	ca_cert_rec_free(rec);
}

static int64_t
asn1_unix(const ASN1_TIME *t)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return (int64_t)timegm(&tm);
}

/* ------------------------------------------------------------- tests */

static void
issue_one(struct ca_fx *fx, const char *kind)
{
	static const char *const sans[] = { "DNS:www.example.com",
	    "IP:192.0.2.10" };
	struct ca_profile	 p;
	struct ca_issued	*is;
	struct ca_csr		*csr;
	EVP_PKEY		*key;
	unsigned char		 dig[32];
	char			 hex[65];
	unsigned int		 dlen;
	int64_t			 nb, na, now = cg_now();

	cafx_profile_server(&p);
	key = cafx_key(kind);
	csr = cafx_csr(key, "www.example.com", sans, 2);
	is = issue(fx, &p, csr, "est", "est:tester");

	assert_int_equal(X509_get_version(cert_of(is)), X509_VERSION_3);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(cert_of(is)),
	    X509_get_subject_name(ca_get0_cert(fx->ca))), 0);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert_of(is)), key), 1);
	check_usages(cert_of(is), strncmp(kind, "rsa", 3) == 0);
	check_sans(cert_of(is));
	assert_non_null(X509_get0_subject_key_id(cert_of(is)));
	assert_int_equal(ASN1_OCTET_STRING_cmp(
	    X509_get0_authority_key_id(cert_of(is)),
	    X509_get0_subject_key_id(ca_get0_cert(fx->ca))), 0);
	check_cdp_aia(cert_of(is));
	check_serial(is);
	nb = asn1_unix(X509_get0_notBefore(cert_of(is)));
	na = asn1_unix(X509_get0_notAfter(cert_of(is)));
	assert_true(nb >= now - 65 && nb <= now - 55);
	assert_true(na >= now + 90 * 86400 - 5 && na <= now + 90 * 86400 + 5);
	assert_int_equal(EVP_Digest(is->der, is->der_len, dig, &dlen,
	    EVP_sha256(), NULL), 1);
	cg_hex_encode(dig, dlen, hex, false);
	assert_string_equal(hex, is->sha256);
	verify_chain(fx, cert_of(is));
	check_record(fx, is);

	ca_issued_free(is);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	ca_profile_cleanup(&p);
}

static void
test_issue_each_key_type(void **state)
{
	static const char *const kinds[] = { "ec-p256", "ec-p384", "rsa-2048",
	    "rsa-3072", "ed25519" };
	struct ca_fx	*fx = *state;
	size_t		 i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		issue_one(fx, kinds[i]);
	assert_int_equal(cafx_cert_count(fx->st), 5);
	assert_int_equal(audit_count(fx->st, "issue", "ok",
	    "profile=server protocol=est subject=CN=www.example.com", NULL,
	    0), 5);
}

static void
test_serials_unique(void **state)
{
	static const char *const san[] = { "DNS:a.example.com" };
	struct ca_fx		*fx = *state;
	struct ca_profile	 p;
	struct ca_csr		*csr;
	struct ca_issued	*is;
	EVP_PKEY		*key;
	char			(*serials)[CA_SERIAL_HEX_MAX];
	size_t			 i, j;

	serials = calloc(NSERIALS, sizeof(*serials));
	assert_non_null(serials);
	cafx_profile_server(&p);
	key = cafx_key("ed25519");
	csr = cafx_csr(key, NULL, san, 1);
	for (i = 0; i < NSERIALS; i++) {
		is = issue(fx, &p, csr, "cli", "cli:test");
		assert_true(strlen(is->serial) >= 39);
		memcpy(serials[i], is->serial, sizeof(serials[i]));
		ca_issued_free(is);
	}
	for (i = 0; i < NSERIALS; i++)
		for (j = i + 1; j < NSERIALS; j++)
			assert_string_not_equal(serials[i], serials[j]);
	assert_int_equal(cafx_cert_count(fx->st), NSERIALS);
	free(serials);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	ca_profile_cleanup(&p);
}

static void
test_refusal_is_audited(void **state)
{
	static const char *const san[] = { "DNS:evil.example" };
	struct ca_fx		*fx = *state;
	struct ca_profile	 p;
	struct ca_csr		*csr;
	struct ca_issued	*is = (struct ca_issued *)1;
	struct cg_err		 err = { 0 };
	struct ca_issue_req	 req;
	EVP_PKEY		*key;
	char			 actor[64];
	size_t			 before;

	cafx_profile_server(&p);
	key = cafx_key("ec-p256");
	csr = cafx_csr(key, NULL, san, 1);
	before = cafx_cert_count(fx->st);
	req = (struct ca_issue_req){ csr, &p, "acme", "acme:account/7" };
	assert_int_equal(ca_issue(fx->ca, fx->st, &req, &is, &err),
	    CG_EDENIED);
	assert_null(is);
	assert_string_equal(err.msg,
	    "DNS name 'evil.example' is not allowed by profile 'server'");
	assert_int_equal(cafx_cert_count(fx->st), before);
	assert_int_equal(audit_count(fx->st, "issue", "refused",
	    "evil.example", actor, sizeof(actor)), 1);
	assert_string_equal(actor, "acme:account/7");
	assert_int_equal(audit_count(fx->st, "issue", "ok", NULL, NULL, 0), 0);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	ca_profile_cleanup(&p);
}

static void
test_bad_requests(void **state)
{
	static const char *const san[] = { "DNS:a.example.com" };
	struct ca_fx		*fx = *state;
	struct ca_profile	 p;
	struct ca_csr		*csr;
	struct ca_issued	*is = NULL;
	struct cg_err		 err = { 0 };
	struct ca_issue_req	 req;
	EVP_PKEY		*key;
	char			 longname[CA_REQUESTER_MAX + 2];

	cafx_profile_server(&p);
	key = cafx_key("ec-p256");
	csr = cafx_csr(key, NULL, san, 1);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	req = (struct ca_issue_req){ csr, &p, "cli", longname };
	assert_int_equal(ca_issue(fx->ca, fx->st, &req, &is, &err), CG_EINVAL);
	cg_err_clear(&err);
	req = (struct ca_issue_req){ csr, &p, longname, "me" };
	assert_int_equal(ca_issue(fx->ca, fx->st, &req, &is, &err), CG_EINVAL);
	cg_err_clear(&err);
	longname[CA_REQUESTER_MAX] = '\0';	/* exactly the limit */
	req = (struct ca_issue_req){ csr, &p, "cli", longname };
	assert_int_equal(ca_issue(fx->ca, fx->st, &req, &is, &err), CG_OK);
	ca_issued_free(is);
	assert_int_equal(cafx_cert_count(fx->st), 1);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	ca_profile_cleanup(&p);
}

static enum cg_code
hook_fail(void *arg, struct ca_store *st, const struct ca_cert_rec *rec,
    struct cg_err *err)
{
	struct cg_err	 ierr = { 0 };

	/* Write something first: the rollback must take it back too. */
	assert_int_equal(ca_store_outbox_add(st, "rule", rec->serial, "{}",
	    &ierr), CG_OK);
	(*(int *)arg)++;
	return cg_err_set(err, CG_EIO, "outbox is unavailable");
}

static enum cg_code
hook_add(void *arg, struct ca_store *st, const struct ca_cert_rec *rec,
    struct cg_err *err)
{
	(*(int *)arg)++;
	return ca_store_outbox_add(st, "idm", rec->serial,
	    "{\"rule\":\"idm\"}", err);
}

static void
test_outbox_hook(void **state)
{
	static const char *const san[] = { "DNS:a.example.com" };
	struct ca_fx		*fx = *state;
	struct ca_profile	 p;
	struct ca_csr		*csr;
	struct ca_issued	*is = NULL;
	struct cg_err		 err = { 0 };
	struct ca_issue_req	 req;
	EVP_PKEY		*key;
	size_t			 n = 99;
	int			 calls = 0;

	cafx_profile_server(&p);
	key = cafx_key("ec-p256");
	csr = cafx_csr(key, NULL, san, 1);
	req = (struct ca_issue_req){ csr, &p, "scep", "scep:dev1" };

	ca_set_outbox_hook(fx->ca, hook_fail, &calls);
	assert_int_equal(ca_issue(fx->ca, fx->st, &req, &is, &err), CG_EIO);
	assert_string_equal(err.msg, "outbox is unavailable");
	assert_null(is);
	assert_int_equal(calls, 1);
	assert_int_equal(cafx_cert_count(fx->st), 0);
	assert_int_equal(ca_store_outbox_count(fx->st, &n, NULL), CG_OK);
	assert_int_equal(n, 0);
	assert_int_equal(audit_count(fx->st, "issue", "ok", NULL, NULL, 0), 0);

	cg_err_clear(&err);
	calls = 0;
	ca_set_outbox_hook(fx->ca, hook_add, &calls);
	assert_int_equal(ca_issue(fx->ca, fx->st, &req, &is, &err), CG_OK);
	assert_int_equal(calls, 1);
	assert_int_equal(cafx_cert_count(fx->st), 1);
	assert_int_equal(ca_store_outbox_count(fx->st, &n, NULL), CG_OK);
	assert_int_equal(n, 1);
	ca_issued_free(is);
	ca_set_outbox_hook(fx->ca, NULL, NULL);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	ca_profile_cleanup(&p);
}

/* Fails for the request whose subject names "bad": one row in a group. */
static enum cg_code
hook_fail_bad(void *arg, struct ca_store *st, const struct ca_cert_rec *rec,
    struct cg_err *err)
{
	(*(int *)arg)++;
	if (strstr(rec->subject, "bad") != NULL)
		return cg_err_set(err, CG_EIO, "outbox refuses %s",
		    rec->subject);
	return ca_store_outbox_add(st, "idm", rec->serial, "{}", err);
}

#define NSTAGED	5

/*
 * Group commit: nothing is in the store until ca_staged_record(); then all
 * of a group at once; a failing row is recorded alone and fails alone.
 */
static void
test_staged_group(void **state)
{
	static const char *const san[] = { "DNS:g.example.com" };
	struct ca_fx		*fx = *state;
	struct ca_profile	 p;
	struct ca_csr		*csr[NSTAGED];
	struct ca_staged	*v[NSTAGED];
	struct ca_issued	*is;
	struct cg_err		 err = { 0 };
	struct ca_issue_req	 req;
	EVP_PKEY		*key;
	char			 cn[32];
	size_t			 i, n = 0;
	int			 calls = 0;

	cafx_profile_server(&p);
	key = cafx_key("ec-p256");
	ca_set_outbox_hook(fx->ca, hook_fail_bad, &calls);
	for (i = 0; i < NSTAGED; i++) {
		snprintf(cn, sizeof(cn), "%s%zu.example.com",
		    i == 2 ? "bad" : "good", i);
		csr[i] = cafx_csr(key, cn, san, 1);
		req = (struct ca_issue_req){ csr[i], &p, "est", "est:group" };
		assert_int_equal(ca_issue_stage(fx->ca, fx->st, &req, &v[i],
		    &err), CG_OK);
		/* The staged issuance no longer needs the request. */
		ca_csr_free(csr[i]);
	}
	assert_int_equal(cafx_cert_count(fx->st), 0);
	assert_int_equal(ca_staged_result(v[0], &is, &err), CG_EINTERNAL);
	assert_null(is);
	cg_err_clear(&err);

	/* The group fails on row 2, then each goes alone: 5 + 5 calls. */
	ca_staged_record(fx->st, v, NSTAGED);
	assert_int_equal(calls, 2 * NSTAGED - 2);
	assert_int_equal(cafx_cert_count(fx->st), NSTAGED - 1);
	assert_int_equal(ca_store_outbox_count(fx->st, &n, NULL), CG_OK);
	assert_int_equal(n, NSTAGED - 1);
	for (i = 0; i < NSTAGED; i++) {
		if (i == 2) {
			assert_int_equal(ca_staged_result(v[i], &is, &err),
			    CG_EIO);
			assert_string_equal(err.msg,
			    "outbox refuses CN=bad2.example.com");
			assert_null(is);
			cg_err_clear(&err);
		} else {
			assert_int_equal(ca_staged_result(v[i], &is, &err),
			    CG_OK);
			verify_chain(fx, cert_of(is));
			ca_issued_free(is);
			/* Handed out once. */
			assert_int_equal(ca_staged_result(v[i], &is, &err),
			    CG_EINTERNAL);
			cg_err_clear(&err);
		}
		ca_staged_free(v[i]);
	}
	/* One audit row per certificate; the rolled-back group left none. */
	assert_int_equal(audit_count(fx->st, "issue", "ok", NULL, NULL, 0),
	    NSTAGED - 1);
	assert_int_equal(audit_count(fx->st, "issue", "ok", "bad2", NULL, 0),
	    0);

	/* Without failures a group is one transaction: still all recorded. */
	calls = 0;
	for (i = 0; i < NSTAGED; i++) {
		snprintf(cn, sizeof(cn), "ok%zu.example.com", i);
		csr[i] = cafx_csr(key, cn, san, 1);
		req = (struct ca_issue_req){ csr[i], &p, "est", "est:group" };
		assert_int_equal(ca_issue_stage(fx->ca, fx->st, &req, &v[i],
		    &err), CG_OK);
		ca_csr_free(csr[i]);
	}
	ca_staged_record(fx->st, v, NSTAGED);
	assert_int_equal(calls, NSTAGED);
	assert_int_equal(cafx_cert_count(fx->st), 2 * NSTAGED - 1);
	for (i = 0; i < NSTAGED; i++) {
		assert_int_equal(ca_staged_result(v[i], &is, &err), CG_OK);
		check_group_record(fx, is);
		ca_issued_free(is);
		ca_staged_free(v[i]);
	}
	ca_set_outbox_hook(fx->ca, NULL, NULL);
	EVP_PKEY_free(key);
	ca_profile_cleanup(&p);
}

static void
test_validity_capped_and_empty_subject(void **state)
{
	static const char *const san[] = { "DNS:a.example.com" };
	struct ca_fx		*fx = *state;
	struct ca_profile	 p;
	struct ca_csr		*csr;
	struct ca_issued	*is;
	EVP_PKEY		*key;
	int			 crit = -1;
	GENERAL_NAMES		*gens;

	cafx_profile_server(&p);
	p.validity_days = CA_VALIDITY_DAYS_MAX;
	key = cafx_key("ec-p256");
	csr = cafx_csr(key, NULL, san, 1);
	is = issue(fx, &p, csr, "cli", "cli:test");
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(cert_of(is)),
	    X509_get0_notAfter(ca_get0_cert(fx->ca))), 0);
	/* RFC 5280 4.2.1.6: empty subject, so the SAN is critical */
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(
	    cert_of(is))), 0);
	gens = X509_get_ext_d2i(cert_of(is), NID_subject_alt_name, &crit, NULL);
	assert_non_null(gens);
	assert_int_equal(crit, 1);
	GENERAL_NAMES_free(gens);
	verify_chain(fx, cert_of(is));
	ca_issued_free(is);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	ca_profile_cleanup(&p);
}

/* A root-only P-384 CA signs with ECDSA-SHA384; no base URL, no own URLs. */
static void
test_root_only_ca(void **state)
{
	static const char *const san[] = { "DNS:a.example.com" };
	struct ca_fx		 fx;
	struct ca_profile	 p;
	struct ca_csr		*csr;
	struct ca_issued	*is;
	EVP_PKEY		*key;
	CRL_DIST_POINTS		*cdp;

	cafx_create(&fx, CA_INIT_EC_P384, false, NULL);
	assert_int_equal(sk_X509_num(ca_get0_chain(fx.ca)), 1);
	cafx_profile_server(&p);
	key = cafx_key("ec-p256");
	csr = cafx_csr(key, "a.example.com", san, 1);
	is = issue(&fx, &p, csr, "cli", "cli:test");
	assert_int_equal(X509_get_signature_nid(cert_of(is)),
	    NID_ecdsa_with_SHA384);
	cdp = X509_get_ext_d2i(cert_of(is), NID_crl_distribution_points, NULL,
	    NULL);
	assert_non_null(cdp);
	assert_int_equal(sk_GENERAL_NAME_num(sk_DIST_POINT_value(cdp,
	    0)->distpoint->name.fullname), 1);
	CRL_DIST_POINTS_free(cdp);
	verify_chain(&fx, cert_of(is));
	ca_issued_free(is);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	ca_profile_cleanup(&p);

	/*
	 * A device profile without URLs: no CDP or AIA at all; Ed25519 keeps
	 * only digitalSignature (RFC 8410 5), EKU is clientAuth alone.
	 */
	memset(&p, 0, sizeof(p));
	p.name = cg_strdup("device");
	p.validity_days = 30;
	p.key_types = 1u << CA_KEY_ED25519;
	p.key_usage = CA_KU_DIGITAL_SIGNATURE | CA_KU_KEY_ENCIPHERMENT |
	    CA_KU_KEY_AGREEMENT;
	p.ext_key_usage = CA_EKU_CLIENT_AUTH;
	p.san_types = CA_SAN_DNS;
	key = cafx_key("ed25519");
	csr = cafx_csr(key, "device-1", san, 1);
	is = issue(&fx, &p, csr, "scep", "scep:device-1");
	assert_int_equal(X509_get_key_usage(cert_of(is)), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(cert_of(is)),
	    XKU_SSL_CLIENT);
	assert_true(X509_get_ext_by_NID(cert_of(is),
	    NID_crl_distribution_points, -1) < 0);
	assert_true(X509_get_ext_by_NID(cert_of(is), NID_info_access, -1) < 0);
	assert_int_equal(X509_get_signature_nid(cert_of(is)),
	    NID_ecdsa_with_SHA384);
	ca_issued_free(is);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	ca_profile_cleanup(&p);
	cafx_destroy(&fx);
}

static int
setup(void **state)
{
	struct ca_fx	*fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	cafx_create(fx, CA_INIT_EC_P256, true, BASE_URL);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	cafx_destroy(*state);
	free(*state);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_issue_each_key_type,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_serials_unique, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusal_is_audited, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_outbox_hook, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_staged_group, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_validity_capped_and_empty_subject, setup, teardown),
		cmocka_unit_test(test_root_only_ca),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
