/*
 * test_ca_enroll.c - enrollment with manual approval through the public
 * API: a CA and store from ca_test.h, a "server" profile switched to manual
 * approval, and real CSRs.  Covers pending, repeats, approval (certificate
 * issued, verifiable, recorded as the original request), rejection, policy
 * refusals, automatic profiles, decision errors and the renewal check
 * ca_csr_matches_cert().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/x509v3.h>

#include "ca_test.h"

struct efx {
	struct ca_fx	 ca;		/* CA, store, directory */
	struct ca_profile prof;		/* "server", manual approval */
	EVP_PKEY	*key;		/* the device's key */
	struct ca_csr	*csr;		/* CN=dev1, DNS:dev1.example.com */
};

struct audit_find {
	const char	*action;	/* wanted action */
	const char	*outcome;	/* wanted outcome */
	int		 n;		/* matching rows */
	char		 actor[64];	/* actor of the last match */
	char		 target[64];	/* target of the last match */
};

static const char *const dev1_sans[] = { "DNS:dev1.example.com" };

/* ------------------------------------------------------------ helpers */

static enum cg_code
count_pending_cb(void *arg, const struct ca_pending_rec *r)
{
	(*(size_t *)arg)++;
	return CG_OK;
}

static size_t
pending_count(struct ca_store *st, int status)
{
	struct cg_err	 err = { 0 };
	size_t		 n = 0;

	if (ca_store_pending_list(st, status, count_pending_cb, &n, &err) !=
	    CG_OK)
		cafx_die("ca_store_pending_list", &err);
	return n;
}

static enum cg_code
audit_cb(void *arg, const struct ca_audit_rec *r)
{
	struct audit_find	*af = arg;

	if (strcmp(r->action, af->action) != 0 ||
	    strcmp(r->outcome, af->outcome) != 0)
		return CG_OK;
	af->n++;
	snprintf(af->actor, sizeof(af->actor), "%s", r->actor);
	snprintf(af->target, sizeof(af->target), "%s", r->target);
	return CG_OK;
}

static int
audit_count(struct ca_store *st, const char *action, const char *outcome,
    struct audit_find *af)
{
	struct cg_err	 err = { 0 };

	memset(af, 0, sizeof(*af));
	af->action = action;
	af->outcome = outcome;
	if (ca_store_audit_list(st, 0, audit_cb, af, &err) != CG_OK)
		cafx_die("ca_store_audit_list", &err);
	return af->n;
}

static enum cg_code
enroll(struct efx *fx, const struct ca_profile *p, struct ca_csr *csr,
    const char *proto, struct ca_enroll_result *res, struct cg_err *err)
{
	struct ca_issue_req	 req = { csr, p, proto, "est:alice" };

	return ca_enroll(fx->ca.ca, fx->ca.st, &req, res, err);
}

/* Enroll and expect CG_OK with the given state. */
static void
enroll_ok(struct efx *fx, const char *proto, enum ca_enroll_state want,
    struct ca_enroll_result *res)
{
	struct cg_err	 err = { 0 };

	if (enroll(fx, &fx->prof, fx->csr, proto, res, &err) != CG_OK)
		cafx_die("ca_enroll", &err);
	assert_int_equal(res->state, want);
}

static void
verify_chain(struct ca_fx *fx, X509 *leaf)
{
	STACK_OF(X509)	*chain = ca_get0_chain(fx->ca);
	X509_STORE	*store;
	X509_STORE_CTX	*ctx;

	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store,
	    sk_X509_value(chain, sk_X509_num(chain) - 1)), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, chain), 1);
	assert_int_equal(X509_verify_cert(ctx), 1);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
}

static void
approve(struct efx *fx, int64_t id, char serial[CA_SERIAL_HEX_MAX])
{
	struct cg_err	 err = { 0 };

	if (ca_pending_approve(fx->ca.ca, fx->ca.st, id, &fx->prof,
	    "cli:admin", serial, &err) != CG_OK)
		cafx_die("ca_pending_approve", &err);
	assert_true(serial[0] != '\0');
}

/* -------------------------------------------------------------- tests */

static void
test_pending_then_approved(void **state)
{
	struct efx		*fx = *state;
	struct ca_enroll_result	 res, again;
	struct ca_cert_rec	*rec = NULL;
	struct audit_find	 af;
	struct cg_err		 err = { 0 };
	char			 serial[CA_SERIAL_HEX_MAX], target[64];
	int64_t			 id;

	enroll_ok(fx, "est", CA_ENROLL_PENDING, &res);
	id = res.pending_id;
	assert_true(id > 0);
	assert_null(res.issued);
	assert_int_equal(cafx_cert_count(fx->ca.st), 0);
	assert_int_equal(pending_count(fx->ca.st, CA_PENDING_WAITING), 1);
	snprintf(target, sizeof(target), "pending:%lld", (long long)id);
	assert_int_equal(audit_count(fx->ca.st, "request", "pending", &af), 1);
	assert_string_equal(af.actor, "est:alice");
	assert_string_equal(af.target, target);
	ca_enroll_result_cleanup(&res);

	/* Asking again: the same row, not a second one. */
	enroll_ok(fx, "est", CA_ENROLL_PENDING, &again);
	assert_int_equal(again.pending_id, id);
	assert_int_equal(pending_count(fx->ca.st, -1), 1);
	assert_int_equal(audit_count(fx->ca.st, "request", "pending", &af), 1);
	ca_enroll_result_cleanup(&again);

	approve(fx, id, serial);
	assert_int_equal(cafx_cert_count(fx->ca.st), 1);
	assert_int_equal(pending_count(fx->ca.st, CA_PENDING_APPROVED), 1);
	assert_int_equal(audit_count(fx->ca.st, "approve", "ok", &af), 1);
	assert_string_equal(af.actor, "cli:admin");
	assert_string_equal(af.target, target);
	/* Recorded as the device's request, not the admin's. */
	assert_int_equal(ca_store_cert_get(fx->ca.st, serial, &rec, &err),
	    CG_OK);
	assert_string_equal(rec->protocol, "est");
	assert_string_equal(rec->requester, "est:alice");
	assert_string_equal(rec->profile, "server");

	/* The repeat now gets the certificate issued at approval. */
	enroll_ok(fx, "est", CA_ENROLL_ISSUED, &res);
	assert_int_equal(res.pending_id, id);
	assert_non_null(res.issued);
	assert_string_equal(res.issued->serial, serial);
	assert_string_equal(res.issued->sha256, rec->sha256);
	assert_int_equal(res.issued->der_len, rec->der_len);
	assert_memory_equal(res.issued->der, rec->der, rec->der_len);
	verify_chain(&fx->ca, ca_issued_get0_cert(res.issued));
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(ca_issued_get0_cert(res.issued)),
	    fx->key), 1);
	assert_int_equal(cafx_cert_count(fx->ca.st), 1);
	ca_enroll_result_cleanup(&res);
	ca_enroll_result_cleanup(&res);		/* twice is harmless */
	ca_cert_rec_free(rec);
}

static void
test_pending_then_rejected(void **state)
{
	struct efx		*fx = *state;
	struct ca_enroll_result	 res;
	struct audit_find	 af;
	struct cg_err		 err = { 0 };
	char			 serial[CA_SERIAL_HEX_MAX] = "x";
	int64_t			 id;

	enroll_ok(fx, "est", CA_ENROLL_PENDING, &res);
	id = res.pending_id;
	ca_enroll_result_cleanup(&res);
	assert_int_equal(ca_pending_reject(fx->ca.st, id, "cli:admin", &err),
	    CG_OK);
	assert_int_equal(audit_count(fx->ca.st, "reject", "ok", &af), 1);
	assert_string_equal(af.actor, "cli:admin");

	enroll_ok(fx, "est", CA_ENROLL_REJECTED, &res);
	assert_int_equal(res.pending_id, id);
	assert_null(res.issued);
	ca_enroll_result_cleanup(&res);
	assert_int_equal(cafx_cert_count(fx->ca.st), 0);

	/* Decided once: neither decision can follow. */
	assert_int_equal(ca_pending_approve(fx->ca.ca, fx->ca.st, id,
	    &fx->prof, "cli:admin", serial, &err), CG_ECONFLICT);
	assert_string_equal(serial, "");
	assert_non_null(strstr(err.msg, "already rejected"));
	cg_err_clear(&err);
	assert_int_equal(ca_pending_reject(fx->ca.st, id, "cli:admin", &err),
	    CG_ECONFLICT);
	assert_int_equal(cafx_cert_count(fx->ca.st), 0);
	assert_int_equal(audit_count(fx->ca.st, "reject", "ok", &af), 1);
}

static void
test_approved_twice_refused(void **state)
{
	struct efx		*fx = *state;
	struct ca_enroll_result	 res;
	struct cg_err		 err = { 0 };
	char			 serial[CA_SERIAL_HEX_MAX];
	char			 s2[CA_SERIAL_HEX_MAX];

	enroll_ok(fx, "est", CA_ENROLL_PENDING, &res);
	approve(fx, res.pending_id, serial);
	assert_int_equal(ca_pending_approve(fx->ca.ca, fx->ca.st,
	    res.pending_id, &fx->prof, "cli:admin", s2, &err), CG_ECONFLICT);
	assert_non_null(strstr(err.msg, "already approved"));
	cg_err_clear(&err);
	assert_int_equal(ca_pending_reject(fx->ca.st, res.pending_id,
	    "cli:admin", &err), CG_ECONFLICT);
	assert_int_equal(cafx_cert_count(fx->ca.st), 1);
	ca_enroll_result_cleanup(&res);
}

static void
test_policy_refusal_never_pending(void **state)
{
	static const char *const evil[] = { "DNS:evil.example.org" };
	struct efx		*fx = *state;
	struct ca_enroll_result	 res;
	struct audit_find	 af;
	struct cg_err		 err = { 0 };
	struct ca_csr		*csr;

	csr = cafx_csr(fx->key, "dev1", evil, 1);
	assert_int_equal(enroll(fx, &fx->prof, csr, "est", &res, &err),
	    CG_EDENIED);
	assert_non_null(strstr(err.msg, "evil.example.org"));
	assert_int_equal(res.pending_id, 0);
	assert_null(res.issued);
	assert_int_equal(pending_count(fx->ca.st, -1), 0);
	assert_int_equal(cafx_cert_count(fx->ca.st), 0);
	assert_int_equal(audit_count(fx->ca.st, "request", "refused", &af), 1);
	assert_string_equal(af.actor, "est:alice");
	ca_csr_free(csr);
}

static void
test_auto_profile_issues_at_once(void **state)
{
	struct efx		*fx = *state;
	struct ca_enroll_result	 res;

	fx->prof.manual_approval = false;
	enroll_ok(fx, "est", CA_ENROLL_ISSUED, &res);
	assert_int_equal(res.pending_id, 0);
	assert_non_null(res.issued);
	verify_chain(&fx->ca, ca_issued_get0_cert(res.issued));
	assert_int_equal(pending_count(fx->ca.st, -1), 0);
	assert_int_equal(cafx_cert_count(fx->ca.st), 1);
	ca_enroll_result_cleanup(&res);
}

static void
test_new_row_per_protocol_and_csr(void **state)
{
	static const char *const other[] = { "DNS:dev2.example.com" };
	struct efx		*fx = *state;
	struct ca_enroll_result	 a, b, c;
	struct cg_err		 err = { 0 };
	struct ca_csr		*csr2;

	csr2 = cafx_csr(fx->key, "dev2", other, 1);
	enroll_ok(fx, "est", CA_ENROLL_PENDING, &a);
	enroll_ok(fx, "scep", CA_ENROLL_PENDING, &b);
	assert_int_equal(enroll(fx, &fx->prof, csr2, "est", &c, &err), CG_OK);
	assert_int_equal(c.state, CA_ENROLL_PENDING);
	assert_true(a.pending_id != b.pending_id);
	assert_true(c.pending_id != a.pending_id &&
	    c.pending_id != b.pending_id);
	assert_int_equal(pending_count(fx->ca.st, CA_PENDING_WAITING), 3);
	ca_enroll_result_cleanup(&a);
	ca_enroll_result_cleanup(&b);
	ca_enroll_result_cleanup(&c);
	ca_csr_free(csr2);
}

static void
test_decision_errors(void **state)
{
	struct efx		*fx = *state;
	struct ca_enroll_result	 res;
	struct ca_profile	 other;
	struct cg_err		 err = { 0 };
	char			 serial[CA_SERIAL_HEX_MAX];

	assert_int_equal(ca_pending_approve(fx->ca.ca, fx->ca.st, 42,
	    &fx->prof, "cli:admin", serial, &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_pending_reject(fx->ca.st, 42, "cli:admin", &err),
	    CG_ENOTFOUND);
	cg_err_clear(&err);

	enroll_ok(fx, "est", CA_ENROLL_PENDING, &res);
	assert_int_equal(ca_pending_approve(fx->ca.ca, fx->ca.st,
	    res.pending_id, &fx->prof, "", serial, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_pending_reject(fx->ca.st, res.pending_id, NULL,
	    &err), CG_EINVAL);
	cg_err_clear(&err);

	/* The profile handed in must be the row's. */
	cafx_profile_server(&other);
	cg_free(other.name);
	other.name = cg_strdup("device");
	assert_int_equal(ca_pending_approve(fx->ca.ca, fx->ca.st,
	    res.pending_id, &other, "cli:admin", serial, &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "'server'"));
	cg_err_clear(&err);

	/* Policy tightened since the request: refused, still waiting. */
	ca_strlist_cleanup(&fx->prof.dns_patterns);
	assert_int_equal(ca_strlist_add(&fx->prof.dns_patterns,
	    "only.example.net", NULL), CG_OK);
	assert_int_equal(ca_pending_approve(fx->ca.ca, fx->ca.st,
	    res.pending_id, &fx->prof, "cli:admin", serial, &err),
	    CG_EDENIED);
	assert_string_equal(serial, "");
	assert_int_equal(cafx_cert_count(fx->ca.st), 0);
	assert_int_equal(pending_count(fx->ca.st, CA_PENDING_WAITING), 1);
	ca_enroll_result_cleanup(&res);
	ca_profile_cleanup(&other);
}

/* The approval's decision and certificate commit together or not at all. */
static enum cg_code
failing_outbox(void *arg, struct ca_store *st, const struct ca_cert_rec *rec,
    struct cg_err *err)
{
	return cg_err_set(err, CG_EIO, "outbox down");
}

static void
test_failed_approval_leaves_waiting(void **state)
{
	struct efx		*fx = *state;
	struct ca_enroll_result	 res;
	struct cg_err		 err = { 0 };
	char			 serial[CA_SERIAL_HEX_MAX];

	enroll_ok(fx, "est", CA_ENROLL_PENDING, &res);
	ca_set_outbox_hook(fx->ca.ca, failing_outbox, NULL);
	assert_int_equal(ca_pending_approve(fx->ca.ca, fx->ca.st,
	    res.pending_id, &fx->prof, "cli:admin", serial, &err), CG_EIO);
	cg_err_clear(&err);
	assert_int_equal(cafx_cert_count(fx->ca.st), 0);
	assert_int_equal(pending_count(fx->ca.st, CA_PENDING_WAITING), 1);
	ca_set_outbox_hook(fx->ca.ca, NULL, NULL);
	approve(fx, res.pending_id, serial);
	assert_int_equal(cafx_cert_count(fx->ca.st), 1);
	ca_enroll_result_cleanup(&res);
}

/* ------------------------------------------------------------ renewal */

static X509 *
issue_cert(struct efx *fx, const char *cn, const char *const *sans, size_t n)
{
	struct ca_issue_req	 req;
	struct ca_issued	*is = NULL;
	struct ca_csr		*csr;
	struct cg_err		 err = { 0 };
	X509			*x;

	csr = cafx_csr(fx->key, cn, sans, n);
	req.csr = csr;
	req.profile = &fx->prof;
	req.protocol = "est";
	req.requester = "est:alice";
	if (ca_issue(fx->ca.ca, fx->ca.st, &req, &is, &err) != CG_OK)
		cafx_die("ca_issue", &err);
	x = X509_dup(ca_issued_get0_cert(is));
	assert_non_null(x);
	ca_issued_free(is);
	ca_csr_free(csr);
	return x;
}

static enum cg_code
matches(struct efx *fx, X509 *cert, EVP_PKEY *key, const char *cn,
    const char *const *sans, size_t n, struct cg_err *err)
{
	struct ca_csr	*csr;
	enum cg_code	 rc;

	csr = cafx_csr(key, cn, sans, n);
	rc = ca_csr_matches_cert(csr, cert, err);
	ca_csr_free(csr);
	return rc;
}

static void
test_csr_matches_cert(void **state)
{
	static const char *const orig[] = { "DNS:Dev1.Example.com",
	    "IP:192.0.2.1", "DNS:www.example.com" };
	static const char *const same[] = { "DNS:www.example.com",
	    "IP:192.0.2.1", "DNS:dev1.example.COM" };
	static const char *const more[] = { "DNS:dev1.example.com",
	    "IP:192.0.2.1", "DNS:www.example.com", "DNS:new.example.com" };
	static const char *const fewer[] = { "DNS:dev1.example.com",
	    "DNS:www.example.com" };
	static const char *const other_ip[] = { "DNS:dev1.example.com",
	    "IP:192.0.2.2", "DNS:www.example.com" };
	struct efx	*fx = *state;
	struct cg_err	 err = { 0 };
	EVP_PKEY	*newkey = cafx_key("ec-p256");
	X509		*cert;

	fx->prof.manual_approval = false;
	cert = issue_cert(fx, "dev1", orig, 3);

	/* A new key, SANs reordered and in another case: a renewal. */
	assert_int_equal(matches(fx, cert, newkey, "dev1", same, 3, &err),
	    CG_OK);
	assert_int_equal(matches(fx, cert, newkey, "dev2", same, 3, &err),
	    CG_EDENIED);
	assert_string_equal(err.msg,
	    "subject differs from the certificate being renewed");
	cg_err_clear(&err);
	assert_int_equal(matches(fx, cert, newkey, NULL, same, 3, &err),
	    CG_EDENIED);
	cg_err_clear(&err);

	assert_int_equal(matches(fx, cert, newkey, "dev1", more, 4, &err),
	    CG_EDENIED);
	assert_string_equal(err.msg, "SANs differ: the request adds "
	    "DNS:new.example.com");
	cg_err_clear(&err);
	assert_int_equal(matches(fx, cert, newkey, "dev1", fewer, 2, &err),
	    CG_EDENIED);
	assert_string_equal(err.msg, "SANs differ: the request drops "
	    "IP:192.0.2.1");
	cg_err_clear(&err);
	assert_int_equal(matches(fx, cert, newkey, "dev1", other_ip, 3, &err),
	    CG_EDENIED);
	assert_string_equal(err.msg, "SANs differ: the request adds "
	    "IP:192.0.2.2; the request drops IP:192.0.2.1");
	cg_err_clear(&err);
	assert_int_equal(matches(fx, cert, newkey, "dev1", NULL, 0, &err),
	    CG_EDENIED);
	assert_non_null(strstr(err.msg, "drops DNS:Dev1.Example.com, "
	    "IP:192.0.2.1, DNS:www.example.com"));
	cg_err_clear(&err);
	X509_free(cert);

	/* No SANs on either side is a match too. */
	fx->prof.san_required = false;
	cert = issue_cert(fx, "dev1", NULL, 0);
	assert_int_equal(matches(fx, cert, newkey, "dev1", NULL, 0, &err),
	    CG_OK);
	assert_int_equal(matches(fx, cert, newkey, "dev1", fewer, 1, &err),
	    CG_EDENIED);
	cg_err_clear(&err);
	assert_int_equal(ca_csr_matches_cert(NULL, cert, &err), CG_EINVAL);
	X509_free(cert);
	EVP_PKEY_free(newkey);
}

/* ------------------------------------------------------------ fixture */

static int
setup(void **state)
{
	struct efx	*fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	cafx_create(&fx->ca, CA_INIT_EC_P256, true, NULL);
	cafx_profile_server(&fx->prof);
	fx->prof.manual_approval = true;
	fx->key = cafx_key("ec-p256");
	fx->csr = cafx_csr(fx->key, "dev1", dev1_sans, 1);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct efx	*fx = *state;

	ca_csr_free(fx->csr);
	EVP_PKEY_free(fx->key);
	ca_profile_cleanup(&fx->prof);
	cafx_destroy(&fx->ca);
	free(fx);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pending_then_approved,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_then_rejected,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_approved_twice_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_policy_refusal_never_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_auto_profile_issues_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_new_row_per_protocol_and_csr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decision_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_failed_approval_leaves_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csr_matches_cert, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
