/*
 * test_store_ident.c - identities in the store through store.h: adding,
 * reading, listing and updating identities; one-to-one mappings unique by
 * kind and value, tied to an existing identity; rules kept in a dense
 * order when one is inserted or deleted in the middle; trusted CAs; the
 * revision that moves with each of those and not with the holding tank;
 * the holding tank counting sightings and deciding once.
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

#include "certgw/core.h"
#include "certgw/store.h"
#include "ca_test.h"

#define T0	1700000000
#define SHA_A	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA1_A	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const uint8_t der1[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };

struct fx {
	char		 dir[PATH_MAX];
	char		 path[PATH_MAX + 32];
	struct ca_store	*st;
};

/* What a listing saw, as text. */
struct seen {
	char		 s[2048];
};

static int
fx_setup(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));
	struct cg_err	 err = { 0 };

	assert_non_null(fx);
	cafx_mkdtemp(fx->dir, sizeof(fx->dir), "test_store_ident");
	snprintf(fx->path, sizeof(fx->path), "%s/certgw.db", fx->dir);
	if (ca_store_open(fx->path, &fx->st, &err) != CG_OK) {
		print_error("ca_store_open: %s (%s)\n", err.msg, err.detail);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx	*fx = *state;

	ca_store_close(fx->st);
	cafx_rm_rf(fx->dir);
	free(fx);
	return 0;
}

static int64_t
person(struct ca_store *st, const char *name, enum ca_role role)
{
	struct ca_identity	 in = { .name = (char *)name, .role = role,
				    .email = "", .org = "Corp",
				    .created_at = T0 };
	struct cg_err		 err = { 0 };
	int64_t			 id = 0;

	assert_int_equal(ca_store_identity_add(st, &in, &id, &err), CG_OK);
	assert_true(id > 0);
	return id;
}

static int64_t
revision(struct ca_store *st)
{
	int64_t		 rev = -1;
	struct cg_err	 err = { 0 };

	assert_int_equal(ca_store_ident_revision(st, &rev, &err), CG_OK);
	return rev;
}

static enum cg_code
ident_seen(void *arg, const struct ca_identity *i)
{
	struct seen	*s = arg;
	size_t		 n = strlen(s->s);

	snprintf(s->s + n, sizeof(s->s) - n, "%s:%s:%d,", i->name,
	    ca_role_name(i->role), i->disabled ? 1 : 0);
	return CG_OK;
}

static enum cg_code
map_seen(void *arg, const struct ca_ident_map *m)
{
	struct seen	*s = arg;
	size_t		 n = strlen(s->s);

	snprintf(s->s + n, sizeof(s->s) - n, "%s:%s:%.6s:%d,", m->identity,
	    ca_map_kind_name(m->kind), m->value, m->pinned ? 1 : 0);
	return CG_OK;
}

static enum cg_code
rule_seen(void *arg, const struct ca_ident_rule *r)
{
	struct seen	*s = arg;
	size_t		 n = strlen(s->s);

	snprintf(s->s + n, sizeof(s->s) - n, "%lld:%s:%s,",
	    (long long)r->position, r->identity, r->subject);
	return CG_OK;
}

static int64_t	held_ids[8];	/* ids in listing order */
static size_t	nheld;

static enum cg_code
hold_seen(void *arg, const struct ca_holding *h)
{
	struct seen	*s = arg;
	size_t		 n = strlen(s->s);

	if (nheld < 8)
		held_ids[nheld++] = h->id;
	snprintf(s->s + n, sizeof(s->s) - n, "%.4s:%lld:%d,", h->sha256,
	    (long long)h->count, h->status);
	return CG_OK;
}

/* -------------------------------------------------------- identities */

static void
test_identities(void **state)
{
	struct fx		*fx = *state;
	struct ca_identity	*i = NULL;
	struct ca_identity	 bad = { .name = "no spaces" };
	struct cg_err		 err = { 0 };
	struct seen		 s = { "" };
	enum ca_role		 r;
	int64_t			 id;

	id = person(fx->st, "alice", CA_ROLE_ADMIN);
	(void)person(fx->st, "bob@corp", CA_ROLE_NONE);
	bad.name = "alice";
	assert_int_equal(ca_store_identity_add(fx->st, &bad, NULL, &err),
	    CG_ECONFLICT);
	bad.name = "no spaces";
	assert_int_equal(ca_store_identity_add(fx->st, &bad, NULL, &err),
	    CG_EINVAL);
	bad.name = "";
	assert_int_equal(ca_store_identity_add(fx->st, &bad, NULL, &err),
	    CG_EINVAL);

	assert_int_equal(ca_store_identity_get(fx->st, "alice", 0, &i, &err),
	    CG_OK);
	assert_int_equal(i->id, id);
	assert_string_equal(i->org, "Corp");
	assert_int_equal(i->role, CA_ROLE_ADMIN);
	assert_false(i->disabled);
	ca_identity_free(i);
	assert_int_equal(ca_store_identity_get(fx->st, NULL, id, &i, &err),
	    CG_OK);
	assert_string_equal(i->name, "alice");
	ca_identity_free(i);
	assert_int_equal(ca_store_identity_get(fx->st, "carol", 0, &i, &err),
	    CG_ENOTFOUND);
	assert_null(i);

	assert_int_equal(ca_store_identity_update(fx->st, "bob@corp",
	    CA_ROLE_AUDITOR, true, T0 + 1, &err), CG_OK);
	assert_int_equal(ca_store_identity_update(fx->st, "carol",
	    CA_ROLE_AUDITOR, true, T0 + 1, &err), CG_ENOTFOUND);
	assert_int_equal(ca_store_identity_list(fx->st, ident_seen, &s, &err),
	    CG_OK);
	assert_string_equal(s.s, "alice:admin:0,bob@corp:auditor:1,");

	assert_true(ca_role_parse("operator", &r));
	assert_int_equal(r, CA_ROLE_OPERATOR);
	assert_false(ca_role_parse("root", &r));
}

/* ---------------------------------------------------------- mappings */

static void
test_mappings(void **state)
{
	struct fx		*fx = *state;
	struct ca_ident_map	 m = { .kind = CA_MAP_SHA256, .value = SHA_A,
				    .source = "import", .subject = "CN=a",
				    .issuer = "CN=a", .pinned = true,
				    .der = (uint8_t *)der1,
				    .der_len = sizeof(der1) };
	struct ca_ident_map	*got = NULL;
	struct cg_err		 err = { 0 };
	struct seen		 s = { "" };
	int64_t			 alice, bob, mid = 0;

	alice = person(fx->st, "alice", CA_ROLE_NONE);
	bob = person(fx->st, "bob", CA_ROLE_NONE);
	m.identity_id = alice;
	assert_int_equal(ca_store_map_add(fx->st, &m, &mid, &err), CG_OK);
	/* One certificate, one identity. */
	m.identity_id = bob;
	assert_int_equal(ca_store_map_add(fx->st, &m, NULL, &err),
	    CG_ECONFLICT);
	/* An identity that does not exist. */
	m.identity_id = 9999;
	m.value = SHA_B;
	assert_int_equal(ca_store_map_add(fx->st, &m, NULL, &err),
	    CG_ENOTFOUND);
	/* Pinned needs the certificate; thumbprints are hex of a length. */
	m.identity_id = bob;
	m.der = NULL;
	m.der_len = 0;
	assert_int_equal(ca_store_map_add(fx->st, &m, NULL, &err), CG_EINVAL);
	m.pinned = false;
	m.value = "ABCD";
	assert_int_equal(ca_store_map_add(fx->st, &m, NULL, &err), CG_EINVAL);
	m.kind = CA_MAP_SHA1;
	m.value = SHA1_A;
	assert_int_equal(ca_store_map_add(fx->st, &m, NULL, &err), CG_OK);
	m.kind = CA_MAP_CN;
	m.value = "printer-7";
	m.source = "manual";
	assert_int_equal(ca_store_map_add(fx->st, &m, NULL, &err), CG_OK);

	assert_int_equal(ca_store_map_find(fx->st, CA_MAP_SHA256, SHA_A, &got,
	    &err), CG_OK);
	assert_string_equal(got->identity, "alice");
	assert_true(got->pinned);
	assert_int_equal(got->der_len, sizeof(der1));
	assert_memory_equal(got->der, der1, sizeof(der1));
	ca_ident_map_free(got);
	assert_int_equal(ca_store_map_find(fx->st, CA_MAP_CN, "printer-7",
	    &got, &err), CG_OK);
	assert_string_equal(got->identity, "bob");
	assert_null(got->der);
	ca_ident_map_free(got);
	assert_int_equal(ca_store_map_find(fx->st, CA_MAP_SHA256, SHA_B, &got,
	    &err), CG_ENOTFOUND);

	assert_int_equal(ca_store_map_list(fx->st, bob, map_seen, &s, &err),
	    CG_OK);
	assert_string_equal(s.s, "bob:sha1:aaaaaa:0,bob:cn:printe:0,");
	s.s[0] = '\0';
	assert_int_equal(ca_store_map_delete(fx->st, mid, &err), CG_OK);
	assert_int_equal(ca_store_map_delete(fx->st, mid, &err), CG_ENOTFOUND);
	assert_int_equal(ca_store_map_list(fx->st, 0, map_seen, &s, &err),
	    CG_OK);
	assert_string_equal(s.s, "bob:sha1:aaaaaa:0,bob:cn:printe:0,");
}

/* ------------------------------------------------------------- rules */

static void
test_rules(void **state)
{
	struct fx		*fx = *state;
	struct ca_ident_rule	 r = { .issuer = "CN=Corp Issuing CA" };
	struct cg_err		 err = { 0 };
	struct seen		 s = { "" };
	int64_t			 sales, ops, id2 = 0;

	sales = person(fx->st, "sales-team", CA_ROLE_NONE);
	ops = person(fx->st, "ops", CA_ROLE_NONE);
	r.identity_id = sales;
	r.subject = "O=Sales";
	assert_int_equal(ca_store_rule_add(fx->st, &r, NULL, &err), CG_OK);
	r.subject = "O=Ops";
	r.identity_id = ops;
	assert_int_equal(ca_store_rule_add(fx->st, &r, &id2, &err), CG_OK);
	/* Before both. */
	r.subject = "O=Sales,OU=Boss";
	r.position = 1;
	assert_int_equal(ca_store_rule_add(fx->st, &r, NULL, &err), CG_OK);
	/* Past the end: last. */
	r.subject = "O=Last";
	r.position = 99;
	assert_int_equal(ca_store_rule_add(fx->st, &r, NULL, &err), CG_OK);
	r.identity_id = 9999;
	r.position = 0;
	assert_int_equal(ca_store_rule_add(fx->st, &r, NULL, &err),
	    CG_ENOTFOUND);
	assert_int_equal(ca_store_rule_list(fx->st, rule_seen, &s, &err),
	    CG_OK);
	assert_string_equal(s.s, "1:ops:O=Sales,OU=Boss,2:sales-team:O=Sales,"
	    "3:ops:O=Ops,4:ops:O=Last,");

	/* Deleting from the middle closes the gap. */
	assert_int_equal(ca_store_rule_delete(fx->st, id2, &err), CG_OK);
	assert_int_equal(ca_store_rule_delete(fx->st, id2, &err),
	    CG_ENOTFOUND);
	s.s[0] = '\0';
	assert_int_equal(ca_store_rule_list(fx->st, rule_seen, &s, &err),
	    CG_OK);
	assert_string_equal(s.s, "1:ops:O=Sales,OU=Boss,2:sales-team:O=Sales,"
	    "3:ops:O=Last,");
}

/* ---------------------------------------------- trust, the revision */

static enum cg_code
trust_count(void *arg, const struct ca_trust_anchor *t)
{
	(*(int *)arg)++;
	assert_int_equal(t->der_len, sizeof(der1));
	return CG_OK;
}

static void
test_trust_revision(void **state)
{
	struct fx		*fx = *state;
	struct ca_trust_anchor	 t = { .sha256 = SHA_A, .subject = "CN=X",
				    .der = (uint8_t *)der1,
				    .der_len = sizeof(der1) };
	struct ca_holding	 h = { .sha256 = SHA_B, .subject = "CN=h",
				    .issuer = "CN=h", .source = "127.0.0.1",
				    .der = (uint8_t *)der1,
				    .der_len = sizeof(der1) };
	struct cg_err		 err = { 0 };
	int64_t			 r0, tid = 0;
	int			 n = 0;

	r0 = revision(fx->st);
	assert_int_equal(ca_store_trust_add(fx->st, &t, &tid, &err), CG_OK);
	assert_true(revision(fx->st) > r0);
	assert_int_equal(ca_store_trust_add(fx->st, &t, NULL, &err),
	    CG_ECONFLICT);
	assert_int_equal(ca_store_trust_list(fx->st, trust_count, &n, &err),
	    CG_OK);
	assert_int_equal(n, 1);

	r0 = revision(fx->st);
	(void)person(fx->st, "alice", CA_ROLE_NONE);
	assert_true(revision(fx->st) > r0);
	r0 = revision(fx->st);
	assert_int_equal(ca_store_identity_update(fx->st, "alice",
	    CA_ROLE_ADMIN, false, T0, &err), CG_OK);
	assert_true(revision(fx->st) > r0);

	/* The holding tank decides nobody's identity: no move. */
	r0 = revision(fx->st);
	assert_int_equal(ca_store_holding_seen(fx->st, &h, T0, NULL, &err),
	    CG_OK);
	assert_int_equal(revision(fx->st), r0);

	assert_int_equal(ca_store_trust_delete(fx->st, tid, &err), CG_OK);
	assert_true(revision(fx->st) > r0);
	n = 0;
	assert_int_equal(ca_store_trust_list(fx->st, trust_count, &n, &err),
	    CG_OK);
	assert_int_equal(n, 0);
}

/* ---------------------------------------------------------- holding */

static void
test_holding(void **state)
{
	struct fx		*fx = *state;
	struct ca_holding	 h = { .sha256 = SHA_A, .subject = "CN=a",
				    .issuer = "CN=a", .source = "10.0.0.1",
				    .der = (uint8_t *)der1,
				    .der_len = sizeof(der1),
				    .not_after = T0 + 86400 };
	struct ca_holding	*got = NULL;
	struct cg_err		 err = { 0 };
	struct seen		 s = { "" };
	int			 status = -1;

	assert_int_equal(ca_store_holding_seen(fx->st, &h, T0, &status, &err),
	    CG_OK);
	assert_int_equal(status, CA_HOLD_PENDING);
	h.source = "10.0.0.2";
	assert_int_equal(ca_store_holding_seen(fx->st, &h, T0 + 5, &status,
	    &err), CG_OK);
	h.sha256 = SHA_B;
	assert_int_equal(ca_store_holding_seen(fx->st, &h, T0 + 6, NULL,
	    &err), CG_OK);
	nheld = 0;
	assert_int_equal(ca_store_holding_list(fx->st, -1, hold_seen, &s,
	    &err), CG_OK);
	assert_string_equal(s.s, "aaaa:2:0,bbbb:1:0,");
	assert_int_equal(nheld, 2);

	assert_int_equal(ca_store_holding_get(fx->st, held_ids[0], &got,
	    &err), CG_OK);
	assert_int_equal(got->first_seen, T0);
	assert_int_equal(got->last_seen, T0 + 5);
	assert_string_equal(got->source, "10.0.0.2");
	assert_int_equal(got->not_after, T0 + 86400);
	assert_memory_equal(got->der, der1, sizeof(der1));
	ca_holding_free(got);

	/* Decided once. */
	assert_int_equal(ca_store_holding_decide(fx->st, held_ids[1],
	    CA_HOLD_REJECTED, "cli:root", T0 + 10, &err), CG_OK);
	assert_int_equal(ca_store_holding_decide(fx->st, held_ids[1],
	    CA_HOLD_ACCEPTED, "cli:root", T0 + 11, &err), CG_ECONFLICT);
	assert_int_equal(ca_store_holding_decide(fx->st, 999,
	    CA_HOLD_ACCEPTED, "cli:root", T0 + 11, &err), CG_ENOTFOUND);
	assert_int_equal(ca_store_holding_decide(fx->st, held_ids[0], 7,
	    "cli:root", T0 + 11, &err), CG_EINVAL);
	/* A rejected certificate stays rejected when it comes back. */
	assert_int_equal(ca_store_holding_seen(fx->st, &h, T0 + 20, &status,
	    &err), CG_OK);
	assert_int_equal(status, CA_HOLD_REJECTED);
	s.s[0] = '\0';
	assert_int_equal(ca_store_holding_list(fx->st, CA_HOLD_PENDING,
	    hold_seen, &s, &err), CG_OK);
	assert_string_equal(s.s, "aaaa:2:0,");

	h.sha256 = "not hex";
	assert_int_equal(ca_store_holding_seen(fx->st, &h, T0, NULL, &err),
	    CG_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identities, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_mappings, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_rules, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_trust_revision, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_holding, fx_setup,
		    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
