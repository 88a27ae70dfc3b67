/*
 * test_store_acme.c - the store's ACME state through store.h: accounts
 * (keys unique per directory, update, rekey as compare and set, counts),
 * orders (compare-and-set transitions, certificate, paging with ties,
 * counts, ARI replacement), authorizations with their challenges (all or
 * nothing, offer order, reuse look-up, settling), EAB keys (bind once),
 * input limits, joining the caller's transaction, the query plans of every
 * ACME statement, the statement cache when full, and migration of a
 * version-2 database.  Raw SQL on the store's connection only inspects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "certgw/core.h"
#include "certgw/store.h"
#include "ca_store_int.h"
#include "ca_test.h"

#define T0	1700000000	/* a fixed "now" */
#define HOUR	3600

struct fx {
	char		 dir[PATH_MAX];		/* temporary directory */
	char		 path[PATH_MAX + 32];	/* database file in it */
	struct ca_store	*st;			/* open store */
};

/* Ids seen by a listing callback, "a,b,c". */
struct ids {
	char		 s[1024];
	size_t		 n;
	size_t		 stop_after;		/* 0: never stop */
};

/* An authorization with its own challenge storage. */
struct tauthz {
	struct ca_acme_authz a;
	struct ca_acme_chall c[CA_ACME_CHALLS_MAX + 1];
	char		 cid[CA_ACME_CHALLS_MAX + 1][32];
	char		 tok[CA_ACME_CHALLS_MAX + 1][48];
};

/* ------------------------------------------------------------ helpers */

static int
fx_setup_closed(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	cafx_mkdtemp(fx->dir, sizeof(fx->dir), "test_store_acme");
	snprintf(fx->path, sizeof(fx->path), "%s/certgw.db", fx->dir);
	*state = fx;
	return 0;
}

static int
fx_setup(void **state)
{
	struct cg_err	 err = { 0 };
	struct fx	*fx;

	fx_setup_closed(state);
	fx = *state;
	if (ca_store_open(fx->path, &fx->st, &err) != CG_OK) {
		print_error("ca_store_open: %s (%s)\n", err.msg, err.detail);
		cafx_rm_rf(fx->dir);
		free(fx);
		return -1;
	}
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

/* The first column of the first row of sql on the store's connection. */
static const char *
q(struct ca_store *st, const char *sql)
{
	static char	 out[1024];
	sqlite3_stmt	*stmt = NULL;
	const char	*s;

	assert_int_equal(sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	s = (const char *)sqlite3_column_text(stmt, 0);
	snprintf(out, sizeof(out), "%s", s == NULL ? "(null)" : s);
	sqlite3_finalize(stmt);
	return out;
}

static enum cg_code
acct_add(struct ca_store *st, const char *id, const char *dir,
    const char *thumb, const char *ip, int64_t created)
{
	struct ca_acme_account	 a = { 0 };
	struct cg_err		 err = { 0 };
	char			 jwk[128];

	snprintf(jwk, sizeof(jwk), "{\"kty\":\"OKP\",\"x\":\"%s\"}", thumb);
	a.id = (char *)id;
	a.directory = (char *)dir;
	a.status = "valid";
	a.jwk = jwk;
	a.thumbprint = (char *)thumb;
	a.ip = (char *)ip;
	a.created_at = created;
	return ca_store_acme_account_insert(st, &a, &err);
}

static void
acct_ok(struct ca_store *st, const char *id, const char *dir,
    const char *thumb)
{
	assert_int_equal(acct_add(st, id, dir, thumb, "192.0.2.1", T0), CG_OK);
}

static void
order_init(struct ca_acme_order *o, const char *id, const char *account,
    const char *dir, const char *ip, int64_t created)
{
	memset(o, 0, sizeof(*o));
	o->id = (char *)id;
	o->account_id = (char *)account;
	o->directory = (char *)dir;
	o->profile = "server";
	o->status = "pending";
	o->expires = created + 7 * 24 * HOUR;
	o->identifiers = "[{\"type\":\"dns\",\"value\":\"a.example\"}]";
	o->authzs = "[\"z1\"]";
	o->ip = (char *)ip;
	o->created_at = created;
}

static void
order(struct ca_store *st, const char *id, const char *account,
    const char *dir, const char *ip, int64_t created)
{
	struct ca_acme_order	 o;
	struct cg_err		 err = { 0 };

	order_init(&o, id, account, dir, ip, created);
	assert_int_equal(ca_store_acme_order_insert(st, &o, &err), CG_OK);
}

static const char *
order_status(struct ca_store *st, const char *id)
{
	static char		 out[32];
	struct ca_acme_order	*o = NULL;
	struct cg_err		 err = { 0 };

	assert_int_equal(ca_store_acme_order_get(st, id, &o, &err), CG_OK);
	snprintf(out, sizeof(out), "%s", o->status);
	ca_acme_order_free(o);
	return out;
}

/* Challenges "<id>-c<i>" with tokens, all pending. */
static void
tauthz_init(struct tauthz *t, const char *id, const char *account,
    const char *dir, const char *value, bool wildcard, const char *status,
    int64_t created, size_t nchalls)
{
	static const char *const types[] = {
		"http-01", "dns-01", "tls-alpn-01"
	};
	size_t		 i;

	memset(t, 0, sizeof(*t));
	t->a.id = (char *)id;
	t->a.account_id = (char *)account;
	t->a.directory = (char *)dir;
	t->a.id_type = "dns";
	t->a.id_value = (char *)value;
	t->a.wildcard = wildcard;
	t->a.status = (char *)status;
	t->a.expires = created + 30 * 24 * HOUR;
	t->a.created_at = created;
	t->a.challs = t->c;
	t->a.nchalls = nchalls;
	for (i = 0; i < nchalls; i++) {
		snprintf(t->cid[i], sizeof(t->cid[i]), "%s-c%zu", id, i);
		snprintf(t->tok[i], sizeof(t->tok[i]),
		    "tok%zu-abcdefghijklmnopqrstuvwxyz", i);
		t->c[i].id = t->cid[i];
		t->c[i].type = (char *)types[i % 3];
		t->c[i].token = t->tok[i];
		t->c[i].status = "pending";
	}
}

static void
authz(struct ca_store *st, const char *id, const char *account,
    const char *dir, const char *value, bool wildcard, const char *status,
    int64_t created)
{
	struct tauthz	*t = calloc(1, sizeof(*t));
	struct cg_err	 err = { 0 };

	assert_non_null(t);
	tauthz_init(t, id, account, dir, value, wildcard, status, created, 2);
	assert_int_equal(ca_store_acme_authz_insert(st, &t->a, &err), CG_OK);
	free(t);
}

static const char *
authz_status(struct ca_store *st, const char *id)
{
	static char		 out[32];
	struct ca_acme_authz	*a = NULL;
	struct cg_err		 err = { 0 };

	assert_int_equal(ca_store_acme_authz_get(st, id, &a, &err), CG_OK);
	snprintf(out, sizeof(out), "%s", a->status);
	ca_acme_authz_free(a);
	return out;
}

static enum cg_code
ids_cb(void *arg, const char *id)
{
	struct ids	*c = arg;
	size_t		 used = strlen(c->s);

	snprintf(c->s + used, sizeof(c->s) - used, "%s%s",
	    used > 0 ? "," : "", id);
	c->n++;
	if (c->stop_after != 0 && c->n >= c->stop_after)
		return CG_EIO;
	return CG_OK;
}

static enum cg_code
chall_ids_cb(void *arg, const struct ca_acme_chall *c)
{
	return ids_cb(arg, c->id);
}

static enum cg_code
eab_ids_cb(void *arg, const struct ca_acme_eab *e)
{
	/* The listing never reads a key. */
	if (e->key != NULL || e->key_len != 0)
		return CG_EINTERNAL;
	return ids_cb(arg, e->kid);
}

/* One page of an account's orders as "a,b" plus "+" when more follow. */
static const char *
page(struct ca_store *st, const char *account, const char *after,
    size_t limit)
{
	static char	 out[1100];
	struct cg_err	 err = { 0 };
	struct ids	 c = { 0 };
	bool		 more = true;

	assert_int_equal(ca_store_acme_order_list(st, account, after, limit,
	    ids_cb, &c, &more, &err), CG_OK);
	snprintf(out, sizeof(out), "%s%s", c.s, more ? "+" : "");
	return out;
}

/* ----------------------------------------------------------- accounts */

static void
test_account_insert_get_find(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_account	 a = { 0 }, *r = NULL;
	struct cg_err		 err = { 0 };

	a.id = "acct1";
	a.directory = "default";
	a.status = "valid";
	a.jwk = "{\"kty\":\"EC\"}";
	a.thumbprint = "thumb-1";
	a.contact = "[\"mailto:a@example.org\"]";
	a.tos_agreed = true;
	a.eab_kid = "kid-1";
	a.ip = "2001:db8::1";
	a.created_at = T0;
	assert_int_equal(ca_store_acme_account_insert(fx->st, &a, &err),
	    CG_OK);
	assert_int_equal(ca_store_acme_account_get(fx->st, "acct1", &r, &err),
	    CG_OK);
	assert_string_equal(r->id, "acct1");
	assert_string_equal(r->directory, "default");
	assert_string_equal(r->status, "valid");
	assert_string_equal(r->jwk, "{\"kty\":\"EC\"}");
	assert_string_equal(r->thumbprint, "thumb-1");
	assert_string_equal(r->contact, "[\"mailto:a@example.org\"]");
	assert_true(r->tos_agreed);
	assert_string_equal(r->eab_kid, "kid-1");
	assert_string_equal(r->ip, "2001:db8::1");
	assert_int_equal(r->created_at, T0);
	ca_acme_account_free(r);
	r = NULL;

	/* Defaults: no contact is "[]", no EAB is "". */
	assert_int_equal(acct_add(fx->st, "acct2", "default", "thumb-2",
	    "192.0.2.9", 0), CG_OK);
	assert_int_equal(ca_store_acme_account_find(fx->st, "default",
	    "thumb-2", &r, &err), CG_OK);
	assert_string_equal(r->id, "acct2");
	assert_string_equal(r->contact, "[]");
	assert_string_equal(r->eab_kid, "");
	assert_false(r->tos_agreed);
	/* created_at 0 means now. */
	assert_true(r->created_at >= cg_now() - 5);
	ca_acme_account_free(r);
	r = NULL;

	assert_int_equal(ca_store_acme_account_find(fx->st, "other",
	    "thumb-2", &r, &err), CG_ENOTFOUND);
	assert_null(r);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_account_get(fx->st, "nope", &r, &err),
	    CG_ENOTFOUND);
	assert_non_null(strstr(err.detail, "nope"));
	assert_null(strstr(err.msg, "nope"));
	assert_null(r);
}

static void
test_account_conflicts(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_account	*r = NULL;
	struct cg_err		 err = { 0 };

	acct_ok(fx->st, "a1", "default", "k1");
	/* The same key twice in one directory. */
	assert_int_equal(acct_add(fx->st, "a2", "default", "k1", "", T0),
	    CG_ECONFLICT);
	/* The same id twice. */
	assert_int_equal(acct_add(fx->st, "a1", "default", "k9", "", T0),
	    CG_ECONFLICT);
	assert_string_equal(q(fx->st, "SELECT count(*) FROM acme_accounts"),
	    "1");
	/* The same key in another directory is another account. */
	assert_int_equal(acct_add(fx->st, "a3", "corp", "k1", "", T0), CG_OK);
	assert_int_equal(ca_store_acme_account_find(fx->st, "corp", "k1", &r,
	    &err), CG_OK);
	assert_string_equal(r->id, "a3");
	ca_acme_account_free(r);
	r = NULL;
	assert_int_equal(ca_store_acme_account_find(fx->st, "default", "k1",
	    &r, &err), CG_OK);
	assert_string_equal(r->id, "a1");
	ca_acme_account_free(r);
}

static void
test_account_update(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_account	*r = NULL;
	struct cg_err		 err = { 0 };

	acct_ok(fx->st, "a1", "default", "k1");
	assert_int_equal(ca_store_acme_account_update(fx->st, "a1", NULL,
	    "[\"mailto:x@example.org\"]", &err), CG_OK);
	assert_int_equal(ca_store_acme_account_update(fx->st, "a1",
	    "deactivated", NULL, &err), CG_OK);
	/* Neither: nothing changes, but the account must exist. */
	assert_int_equal(ca_store_acme_account_update(fx->st, "a1", NULL,
	    NULL, &err), CG_OK);
	assert_int_equal(ca_store_acme_account_get(fx->st, "a1", &r, &err),
	    CG_OK);
	assert_string_equal(r->status, "deactivated");
	assert_string_equal(r->contact, "[\"mailto:x@example.org\"]");
	ca_acme_account_free(r);

	assert_int_equal(ca_store_acme_account_update(fx->st, "nope", "valid",
	    NULL, &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_account_update(fx->st, "a1", "gone",
	    NULL, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_account_update(fx->st, "a1", "", NULL,
	    &err), CG_EINVAL);
	assert_string_equal(q(fx->st, "SELECT status FROM acme_accounts"),
	    "deactivated");
}

static void
test_account_rekey(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_account	*r = NULL;
	struct cg_err		 err = { 0 };

	acct_ok(fx->st, "a1", "default", "k1");
	acct_ok(fx->st, "a2", "default", "k2");
	acct_ok(fx->st, "b1", "corp", "k3");

	assert_int_equal(ca_store_acme_account_rekey(fx->st, "a1", "k1",
	    "{\"new\":1}", "k1b", &err), CG_OK);
	assert_int_equal(ca_store_acme_account_find(fx->st, "default", "k1b",
	    &r, &err), CG_OK);
	assert_string_equal(r->id, "a1");
	assert_string_equal(r->jwk, "{\"new\":1}");
	ca_acme_account_free(r);
	r = NULL;

	/* The old key is stale now: another rollover got there first. */
	assert_int_equal(ca_store_acme_account_rekey(fx->st, "a1", "k1",
	    "{\"new\":2}", "k1c", &err), CG_ECONFLICT);
	cg_err_clear(&err);
	/* The new key belongs to a2 in the same directory. */
	assert_int_equal(ca_store_acme_account_rekey(fx->st, "a1", "k1b",
	    "{\"new\":3}", "k2", &err), CG_ECONFLICT);
	assert_non_null(strstr(err.msg, "another"));
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_account_get(fx->st, "a1", &r, &err),
	    CG_OK);
	assert_string_equal(r->thumbprint, "k1b");
	assert_string_equal(r->jwk, "{\"new\":1}");
	ca_acme_account_free(r);
	r = NULL;
	/* A key used only in another directory is free here. */
	assert_int_equal(ca_store_acme_account_rekey(fx->st, "a1", "k1b",
	    "{\"new\":4}", "k3", &err), CG_OK);
	assert_int_equal(ca_store_acme_account_rekey(fx->st, "nope", "k1",
	    "{}", "k5", &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_account_rekey(fx->st, "a1", "k3", "",
	    "k5", &err), CG_EINVAL);
}

static void
test_account_count_ip(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	size_t		 n = 99;

	assert_int_equal(acct_add(fx->st, "a1", "default", "k1", "192.0.2.1",
	    T0 - 2 * HOUR), CG_OK);
	assert_int_equal(acct_add(fx->st, "a2", "default", "k2", "192.0.2.1",
	    T0 - HOUR), CG_OK);
	assert_int_equal(acct_add(fx->st, "a3", "default", "k3", "192.0.2.1",
	    T0), CG_OK);
	assert_int_equal(acct_add(fx->st, "a4", "default", "k4", "192.0.2.2",
	    T0), CG_OK);
	assert_int_equal(acct_add(fx->st, "a5", "corp", "k5", "192.0.2.1",
	    T0), CG_OK);
	assert_int_equal(ca_store_acme_account_count_ip(fx->st, "default",
	    "192.0.2.1", T0 - HOUR, &n, &err), CG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ca_store_acme_account_count_ip(fx->st, "default",
	    "192.0.2.1", 0, &n, &err), CG_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ca_store_acme_account_count_ip(fx->st, "corp",
	    "192.0.2.2", 0, &n, &err), CG_OK);
	assert_int_equal(n, 0);
}

/* ------------------------------------------------------------- orders */

static void
test_order_insert_get(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_order	 o, *r = NULL;
	struct cg_err		 err = { 0 };

	acct_ok(fx->st, "a1", "default", "k1");
	order_init(&o, "o1", "a1", "default", "192.0.2.7", T0);
	o.acme_profile = "shortlived";
	o.not_before = T0 + 10;
	o.not_after = T0 + 20;
	o.replaces = "00ab";
	o.pending_id = 0;
	assert_int_equal(ca_store_acme_order_insert(fx->st, &o, &err), CG_OK);
	assert_int_equal(ca_store_acme_order_get(fx->st, "o1", &r, &err),
	    CG_OK);
	assert_string_equal(r->id, "o1");
	assert_string_equal(r->account_id, "a1");
	assert_string_equal(r->directory, "default");
	assert_string_equal(r->profile, "server");
	assert_string_equal(r->acme_profile, "shortlived");
	assert_string_equal(r->status, "pending");
	assert_int_equal(r->expires, T0 + 7 * 24 * HOUR);
	assert_int_equal(r->not_before, T0 + 10);
	assert_int_equal(r->not_after, T0 + 20);
	assert_string_equal(r->identifiers, o.identifiers);
	assert_string_equal(r->authzs, "[\"z1\"]");
	assert_string_equal(r->error, "");
	assert_string_equal(r->cert_serial, "");
	/* Spelled as the certs table spells serials. */
	assert_string_equal(r->replaces, "AB");
	assert_int_equal(r->pending_id, 0);
	assert_string_equal(r->ip, "192.0.2.7");
	assert_int_equal(r->created_at, T0);
	assert_int_equal(r->updated_at, T0);
	ca_acme_order_free(r);

	assert_int_equal(ca_store_acme_order_insert(fx->st, &o, &err),
	    CG_ECONFLICT);
	cg_err_clear(&err);
	/* An order needs its account. */
	order_init(&o, "o2", "ghost", "default", "", T0);
	assert_int_equal(ca_store_acme_order_insert(fx->st, &o, &err),
	    CG_ENOTFOUND);
	cg_err_clear(&err);
	order_init(&o, "o3", "a1", "default", "", T0);
	o.status = "done";
	assert_int_equal(ca_store_acme_order_insert(fx->st, &o, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	order_init(&o, "o4", "a1", "default", "", T0);
	o.replaces = "xyz";
	assert_int_equal(ca_store_acme_order_insert(fx->st, &o, &err),
	    CG_EINVAL);
	assert_string_equal(q(fx->st, "SELECT count(*) FROM acme_orders"),
	    "1");
}

static void
test_order_transition(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_order	*r = NULL;
	struct cg_err		 err = { 0 };

	acct_ok(fx->st, "a1", "default", "k1");
	order(fx->st, "o1", "a1", "default", "", T0);
	assert_int_equal(ca_store_acme_order_transition(fx->st, "o1",
	    "pending", "ready", NULL, T0 + 1, &err), CG_OK);
	/* A second request that also saw "pending" loses. */
	assert_int_equal(ca_store_acme_order_transition(fx->st, "o1",
	    "pending", "invalid", "{\"type\":\"x\"}", T0 + 2, &err),
	    CG_ECONFLICT);
	assert_non_null(strstr(err.msg, "ready"));
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_order_get(fx->st, "o1", &r, &err),
	    CG_OK);
	assert_string_equal(r->status, "ready");
	assert_string_equal(r->error, "");
	assert_int_equal(r->updated_at, T0 + 1);
	ca_acme_order_free(r);
	r = NULL;

	assert_int_equal(ca_store_acme_order_transition(fx->st, "o1", "ready",
	    "invalid", "{\"type\":\"urn:x\"}", T0 + 3, &err), CG_OK);
	/* NULL error leaves the one recorded. */
	assert_int_equal(ca_store_acme_order_transition(fx->st, "o1",
	    "invalid", "invalid", NULL, T0 + 4, &err), CG_OK);
	assert_int_equal(ca_store_acme_order_get(fx->st, "o1", &r, &err),
	    CG_OK);
	assert_string_equal(r->error, "{\"type\":\"urn:x\"}");
	assert_int_equal(r->updated_at, T0 + 4);
	ca_acme_order_free(r);

	assert_int_equal(ca_store_acme_order_transition(fx->st, "nope",
	    "pending", "ready", NULL, T0, &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_order_transition(fx->st, "o1",
	    "invalid", "finished", NULL, T0, &err), CG_EINVAL);
	assert_string_equal(order_status(fx->st, "o1"), "invalid");
}

static void
test_order_set_cert(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_order	*r = NULL;
	struct cg_err		 err = { 0 };

	acct_ok(fx->st, "a1", "default", "k1");
	order(fx->st, "o1", "a1", "default", "", T0);
	/* Only a processing order gets its certificate. */
	assert_int_equal(ca_store_acme_order_set_cert(fx->st, "o1", "0A1B",
	    T0 + 5, &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_string_equal(order_status(fx->st, "o1"), "pending");
	assert_int_equal(ca_store_acme_order_transition(fx->st, "o1",
	    "pending", "processing", NULL, T0 + 1, &err), CG_OK);
	assert_int_equal(ca_store_acme_order_set_pending(fx->st, "o1", 42,
	    &err), CG_OK);
	assert_int_equal(ca_store_acme_order_set_cert(fx->st, "o1", "0a1b",
	    T0 + 5, &err), CG_OK);
	assert_int_equal(ca_store_acme_order_get(fx->st, "o1", &r, &err),
	    CG_OK);
	assert_string_equal(r->status, "valid");
	assert_string_equal(r->cert_serial, "A1B");
	assert_int_equal(r->pending_id, 42);
	assert_int_equal(r->updated_at, T0 + 5);
	ca_acme_order_free(r);
	/* Once valid, never again. */
	assert_int_equal(ca_store_acme_order_set_cert(fx->st, "o1", "FF",
	    T0 + 6, &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_order_set_cert(fx->st, "nope", "FF",
	    T0 + 6, &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_order_set_pending(fx->st, "nope", 1,
	    &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_order_set_cert(fx->st, "o1", "",
	    T0 + 6, &err), CG_EINVAL);
	assert_string_equal(q(fx->st, "SELECT cert_serial FROM acme_orders"),
	    "A1B");
}

static void
test_order_list(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	struct ids	 c = { .stop_after = 2 };
	bool		 more;

	acct_ok(fx->st, "a1", "default", "k1");
	acct_ok(fx->st, "a2", "default", "k2");
	/* o2, o3 and o4 share a second; ids sort unlike insertion. */
	order(fx->st, "o1", "a1", "default", "", T0);
	order(fx->st, "zz", "a1", "default", "", T0 + 1);
	order(fx->st, "mm", "a1", "default", "", T0 + 1);
	order(fx->st, "aa", "a1", "default", "", T0 + 1);
	order(fx->st, "o5", "a1", "default", "", T0 + 2);
	order(fx->st, "x1", "a2", "default", "", T0 + 3);

	assert_string_equal(page(fx->st, "a1", NULL, 10), "o5,aa,mm,zz,o1");
	assert_string_equal(page(fx->st, "a1", NULL, 5), "o5,aa,mm,zz,o1");
	assert_string_equal(page(fx->st, "a1", NULL, 2), "o5,aa+");
	assert_string_equal(page(fx->st, "a1", "aa", 2), "mm,zz+");
	assert_string_equal(page(fx->st, "a1", "zz", 2), "o1");
	assert_string_equal(page(fx->st, "a1", "o1", 2), "");
	assert_string_equal(page(fx->st, "a2", NULL, 2), "x1");
	assert_string_equal(page(fx->st, "nobody", NULL, 2), "");

	/* Another account's order is no cursor. */
	assert_int_equal(ca_store_acme_order_list(fx->st, "a1", "x1", 2,
	    ids_cb, &c, &more, &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_order_list(fx->st, "a1", NULL, 0,
	    ids_cb, &c, &more, &err), CG_EINVAL);
	cg_err_clear(&err);
	/* A callback error stops the listing and comes back. */
	assert_int_equal(ca_store_acme_order_list(fx->st, "a1", NULL, 10,
	    ids_cb, &c, &more, &err), CG_EIO);
	assert_string_equal(c.s, "o5,aa");
}

static void
test_order_count(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	size_t		 n = 99;

	acct_ok(fx->st, "a1", "default", "k1");
	acct_ok(fx->st, "a2", "default", "k2");
	acct_ok(fx->st, "b1", "corp", "k1");
	order(fx->st, "o1", "a1", "default", "192.0.2.1", T0 - 2 * HOUR);
	order(fx->st, "o2", "a1", "default", "192.0.2.1", T0 - HOUR);
	order(fx->st, "o3", "a1", "default", "192.0.2.2", T0);
	order(fx->st, "o4", "a2", "default", "192.0.2.1", T0);
	order(fx->st, "o5", "b1", "corp", "192.0.2.1", T0);

	assert_int_equal(ca_store_acme_order_count(fx->st, "default", "a1",
	    NULL, T0 - HOUR, &n, &err), CG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ca_store_acme_order_count(fx->st, "default", "a1",
	    NULL, 0, &n, &err), CG_OK);
	assert_int_equal(n, 3);
	/* By address: every account of the directory, no other directory. */
	assert_int_equal(ca_store_acme_order_count(fx->st, "default", NULL,
	    "192.0.2.1", T0 - HOUR, &n, &err), CG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ca_store_acme_order_count(fx->st, "corp", NULL,
	    "192.0.2.1", 0, &n, &err), CG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ca_store_acme_order_count(fx->st, "default", NULL,
	    NULL, 0, &n, &err), CG_EINVAL);
}

static void
test_order_find_replacing(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_order	 o, *r = NULL;
	struct cg_err		 err = { 0 };

	acct_ok(fx->st, "a1", "default", "k1");
	order_init(&o, "o1", "a1", "default", "", T0);
	o.replaces = "0C0FFEE";
	assert_int_equal(ca_store_acme_order_insert(fx->st, &o, &err), CG_OK);
	order_init(&o, "o2", "a1", "default", "", T0 + 1);
	o.replaces = "c0ffee";
	assert_int_equal(ca_store_acme_order_insert(fx->st, &o, &err), CG_OK);
	order(fx->st, "o3", "a1", "default", "", T0 + 2);

	assert_int_equal(ca_store_acme_order_find_replacing(fx->st, "C0FFEE",
	    &r, &err), CG_OK);
	assert_string_equal(r->id, "o2");
	ca_acme_order_free(r);
	r = NULL;
	/* An invalid order replaces nothing: the older one is found. */
	assert_int_equal(ca_store_acme_order_transition(fx->st, "o2",
	    "pending", "invalid", NULL, T0 + 3, &err), CG_OK);
	assert_int_equal(ca_store_acme_order_find_replacing(fx->st, "00c0ffee",
	    &r, &err), CG_OK);
	assert_string_equal(r->id, "o1");
	ca_acme_order_free(r);
	r = NULL;
	assert_int_equal(ca_store_acme_order_transition(fx->st, "o1",
	    "pending", "invalid", NULL, T0 + 3, &err), CG_OK);
	assert_int_equal(ca_store_acme_order_find_replacing(fx->st, "C0FFEE",
	    &r, &err), CG_ENOTFOUND);
	assert_null(r);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_order_find_replacing(fx->st, "BEEF",
	    &r, &err), CG_ENOTFOUND);
}

/* ----------------------------------------------------- authorizations */

static void
test_authz_insert_get(void **state)
{
	struct fx		*fx = *state;
	struct tauthz		*t = calloc(1, sizeof(*t));
	struct ca_acme_authz	*r = NULL;
	struct cg_err		 err = { 0 };

	assert_non_null(t);
	acct_ok(fx->st, "a1", "default", "k1");
	tauthz_init(t, "z1", "a1", "default", "a.example", true, "pending",
	    T0, 3);
	/* Offer order, not id order. */
	t->c[0].id = "zeta";
	t->c[1].id = "alpha";
	t->c[2].id = "mu";
	t->c[2].error = "{\"e\":1}";
	assert_int_equal(ca_store_acme_authz_insert(fx->st, &t->a, &err),
	    CG_OK);
	assert_int_equal(ca_store_acme_authz_get(fx->st, "z1", &r, &err),
	    CG_OK);
	assert_string_equal(r->id, "z1");
	assert_string_equal(r->account_id, "a1");
	assert_string_equal(r->directory, "default");
	assert_string_equal(r->id_type, "dns");
	assert_string_equal(r->id_value, "a.example");
	assert_true(r->wildcard);
	assert_string_equal(r->status, "pending");
	assert_int_equal(r->expires, T0 + 30 * 24 * HOUR);
	assert_int_equal(r->created_at, T0);
	assert_int_equal(r->nchalls, 3);
	assert_string_equal(r->challs[0].id, "zeta");
	assert_string_equal(r->challs[1].id, "alpha");
	assert_string_equal(r->challs[2].id, "mu");
	assert_string_equal(r->challs[0].authz_id, "z1");
	assert_string_equal(r->challs[0].type, "http-01");
	assert_string_equal(r->challs[1].type, "dns-01");
	assert_string_equal(r->challs[1].token, t->tok[1]);
	assert_string_equal(r->challs[0].status, "pending");
	assert_string_equal(r->challs[0].error, "");
	assert_string_equal(r->challs[2].error, "{\"e\":1}");
	assert_int_equal(r->challs[0].validated, 0);
	assert_int_equal(r->challs[0].updated_at, T0);
	ca_acme_authz_free(r);
	r = NULL;

	/* No challenges is an authorization still. */
	tauthz_init(t, "z2", "a1", "default", "b.example", false, "pending",
	    T0, 0);
	assert_int_equal(ca_store_acme_authz_insert(fx->st, &t->a, &err),
	    CG_OK);
	assert_int_equal(ca_store_acme_authz_get(fx->st, "z2", &r, &err),
	    CG_OK);
	assert_int_equal(r->nchalls, 0);
	assert_false(r->wildcard);
	ca_acme_authz_free(r);
	r = NULL;

	assert_int_equal(ca_store_acme_authz_get(fx->st, "z9", &r, &err),
	    CG_ENOTFOUND);
	assert_null(r);
	cg_err_clear(&err);
	tauthz_init(t, "z3", "ghost", "default", "c.example", false,
	    "pending", T0, 1);
	assert_int_equal(ca_store_acme_authz_insert(fx->st, &t->a, &err),
	    CG_ENOTFOUND);
	cg_err_clear(&err);
	tauthz_init(t, "z3", "a1", "default", "c.example", false, "pending",
	    T0, CA_ACME_CHALLS_MAX + 1);
	assert_int_equal(ca_store_acme_authz_insert(fx->st, &t->a, &err),
	    CG_ETOOBIG);
	free(t);
}

/* A failing challenge undoes the authorization, in or out of a tx. */
static void
test_authz_all_or_nothing(void **state)
{
	struct fx		*fx = *state;
	struct tauthz		*t = calloc(1, sizeof(*t));
	struct cg_err		 err = { 0 };

	assert_non_null(t);
	acct_ok(fx->st, "a1", "default", "k1");
	authz(fx->st, "z1", "a1", "default", "a.example", false, "pending",
	    T0);
	/* Its second challenge's id is taken (z1-c1). */
	tauthz_init(t, "z2", "a1", "default", "b.example", false, "pending",
	    T0, 2);
	t->c[1].id = "z1-c1";
	assert_int_equal(ca_store_acme_authz_insert(fx->st, &t->a, &err),
	    CG_ECONFLICT);
	cg_err_clear(&err);
	assert_string_equal(q(fx->st, "SELECT count(*) FROM acme_authzs"),
	    "1");
	assert_string_equal(q(fx->st, "SELECT count(*) FROM acme_challenges"),
	    "2");

	/* Inside the caller's transaction only the authorization is undone. */
	assert_int_equal(ca_store_begin(fx->st, &err), CG_OK);
	order(fx->st, "o1", "a1", "default", "", T0);
	assert_int_equal(ca_store_acme_authz_insert(fx->st, &t->a, &err),
	    CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(ca_store_commit(fx->st, &err), CG_OK);
	assert_string_equal(q(fx->st, "SELECT count(*) FROM acme_authzs"),
	    "1");
	assert_string_equal(q(fx->st, "SELECT count(*) FROM acme_challenges"),
	    "2");
	assert_string_equal(order_status(fx->st, "o1"), "pending");

	/* And a good one inside a transaction that rolls back leaves none. */
	t->c[1].id = "z2-c1";
	assert_int_equal(ca_store_begin(fx->st, &err), CG_OK);
	assert_int_equal(ca_store_acme_authz_insert(fx->st, &t->a, &err),
	    CG_OK);
	ca_store_rollback(fx->st);
	assert_string_equal(q(fx->st, "SELECT count(*) FROM acme_authzs"),
	    "1");
	free(t);
}

static void
test_authz_find_valid(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_authz	*r = NULL;
	struct cg_err		 err = { 0 };
	struct tauthz		*t = calloc(1, sizeof(*t));

	assert_non_null(t);
	acct_ok(fx->st, "a1", "default", "k1");
	acct_ok(fx->st, "a2", "default", "k2");
	acct_ok(fx->st, "b1", "corp", "k1");
	authz(fx->st, "old", "a1", "default", "a.example", false, "pending",
	    T0 - 10 * HOUR);
	authz(fx->st, "new", "a1", "default", "a.example", false, "pending",
	    T0 - 5 * HOUR);
	authz(fx->st, "wild", "a1", "default", "a.example", true, "pending",
	    T0 - 5 * HOUR);
	authz(fx->st, "other", "a2", "default", "a.example", false, "pending",
	    T0 - 5 * HOUR);
	authz(fx->st, "corp", "b1", "corp", "a.example", false, "pending",
	    T0 - 5 * HOUR);
	/* A pending one never counts. */
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1",
	    "default", "dns", "a.example", false, 0, T0, &r, &err),
	    CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_authz_transition(fx->st, "old",
	    "pending", "valid", T0 - 9 * HOUR, &err), CG_OK);
	assert_int_equal(ca_store_acme_authz_transition(fx->st, "new",
	    "pending", "valid", T0 - 4 * HOUR, &err), CG_OK);
	assert_int_equal(ca_store_acme_authz_transition(fx->st, "wild",
	    "pending", "valid", T0 - 4 * HOUR, &err), CG_OK);

	/* The newest. */
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1",
	    "default", "dns", "a.example", false, 0, T0, &r, &err), CG_OK);
	assert_string_equal(r->id, "new");
	assert_int_equal(r->nchalls, 2);
	ca_acme_authz_free(r);
	r = NULL;
	/* Wildcard is its own identifier. */
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1",
	    "default", "dns", "a.example", true, 0, T0, &r, &err), CG_OK);
	assert_string_equal(r->id, "wild");
	ca_acme_authz_free(r);
	r = NULL;
	/* Validated before since: too old to reuse. */
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1",
	    "default", "dns", "a.example", false, T0 - 3 * HOUR, T0, &r, &err),
	    CG_ENOTFOUND);
	cg_err_clear(&err);
	/* Since between the two: only "new". */
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1",
	    "default", "dns", "a.example", false, T0 - 5 * HOUR, T0, &r, &err),
	    CG_OK);
	assert_string_equal(r->id, "new");
	ca_acme_authz_free(r);
	r = NULL;
	/* "old" has expired at now, "new" not yet. */
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1",
	    "default", "dns", "a.example", false, 0,
	    T0 - 7 * HOUR + 30 * 24 * HOUR, &r, &err), CG_OK);
	assert_string_equal(r->id, "new");
	ca_acme_authz_free(r);
	r = NULL;
	/* Expiring at now is expired: both. */
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1",
	    "default", "dns", "a.example", false, 0,
	    T0 - 5 * HOUR + 30 * 24 * HOUR, &r, &err), CG_ENOTFOUND);
	assert_null(r);
	cg_err_clear(&err);
	/* Another directory, another type, another name. */
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1", "corp",
	    "dns", "a.example", false, 0, T0, &r, &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1",
	    "default", "ip", "a.example", false, 0, T0, &r, &err),
	    CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1",
	    "default", "dns", "b.example", false, 0, T0, &r, &err),
	    CG_ENOTFOUND);
	cg_err_clear(&err);
	/* Deactivated is not valid any more: the older one comes back. */
	assert_int_equal(ca_store_acme_authz_transition(fx->st, "new",
	    "valid", "deactivated", T0, &err), CG_OK);
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1",
	    "default", "dns", "a.example", false, 0, T0, &r, &err), CG_OK);
	assert_string_equal(r->id, "old");
	ca_acme_authz_free(r);
	r = NULL;
	/* Born valid: validated at creation. */
	tauthz_init(t, "pre", "a1", "default", "c.example", false, "valid",
	    T0 - HOUR, 1);
	assert_int_equal(ca_store_acme_authz_insert(fx->st, &t->a, &err),
	    CG_OK);
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1",
	    "default", "dns", "c.example", false, T0 - HOUR, T0, &r, &err),
	    CG_OK);
	assert_string_equal(r->id, "pre");
	ca_acme_authz_free(r);
	free(t);
}

static void
test_transitions(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_authz	*r = NULL;
	struct cg_err		 err = { 0 };

	acct_ok(fx->st, "a1", "default", "k1");
	authz(fx->st, "z1", "a1", "default", "a.example", false, "pending",
	    T0);
	assert_int_equal(ca_store_acme_authz_transition(fx->st, "z1", "valid",
	    "deactivated", T0 + 1, &err), CG_ECONFLICT);
	assert_non_null(strstr(err.msg, "pending"));
	cg_err_clear(&err);
	assert_string_equal(authz_status(fx->st, "z1"), "pending");
	assert_int_equal(ca_store_acme_authz_transition(fx->st, "z1",
	    "pending", "deactivated", T0 + 1, &err), CG_OK);
	assert_string_equal(authz_status(fx->st, "z1"), "deactivated");
	assert_int_equal(ca_store_acme_authz_transition(fx->st, "nope",
	    "pending", "valid", T0, &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_authz_transition(fx->st, "z1",
	    "deactivated", "done", T0, &err), CG_EINVAL);
	cg_err_clear(&err);

	assert_int_equal(ca_store_acme_chall_transition(fx->st, "z1-c0",
	    "pending", "processing", T0 + 2, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_transition(fx->st, "z1-c0",
	    "pending", "processing", T0 + 3, &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_chall_transition(fx->st, "z1-cX",
	    "pending", "processing", T0 + 3, &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_chall_transition(fx->st, "z1-c1",
	    "pending", "deactivated", T0 + 3, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_authz_get(fx->st, "z1", &r, &err),
	    CG_OK);
	assert_string_equal(r->challs[0].status, "processing");
	assert_int_equal(r->challs[0].updated_at, T0 + 2);
	assert_string_equal(r->challs[1].status, "pending");
	assert_int_equal(r->challs[1].updated_at, T0);
	ca_acme_authz_free(r);
}

static void
test_chall_settle(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_authz	*r = NULL;
	struct cg_err		 err = { 0 };

	acct_ok(fx->st, "a1", "default", "k1");
	authz(fx->st, "ok", "a1", "default", "a.example", false, "pending",
	    T0);
	authz(fx->st, "bad", "a1", "default", "b.example", false, "pending",
	    T0);
	authz(fx->st, "gone", "a1", "default", "c.example", false, "pending",
	    T0);

	/* Not processing yet: nothing changes. */
	assert_int_equal(ca_store_acme_chall_settle(fx->st, "ok-c0", true,
	    NULL, T0 + 1, &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_string_equal(authz_status(fx->st, "ok"), "pending");
	assert_int_equal(ca_store_acme_chall_settle(fx->st, "nope", true,
	    NULL, T0 + 1, &err), CG_ENOTFOUND);
	cg_err_clear(&err);

	assert_int_equal(ca_store_acme_chall_transition(fx->st, "ok-c0",
	    "pending", "processing", T0 + 1, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_settle(fx->st, "ok-c0", true,
	    NULL, T0 + 2, &err), CG_OK);
	assert_int_equal(ca_store_acme_authz_get(fx->st, "ok", &r, &err),
	    CG_OK);
	assert_string_equal(r->status, "valid");
	assert_string_equal(r->challs[0].status, "valid");
	assert_int_equal(r->challs[0].validated, T0 + 2);
	assert_int_equal(r->challs[0].updated_at, T0 + 2);
	assert_string_equal(r->challs[1].status, "pending");
	ca_acme_authz_free(r);
	r = NULL;
	/* Settled once: a second result (a retry) is refused. */
	assert_int_equal(ca_store_acme_chall_settle(fx->st, "ok-c0", false,
	    "{}", T0 + 3, &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_string_equal(authz_status(fx->st, "ok"), "valid");

	assert_int_equal(ca_store_acme_chall_transition(fx->st, "bad-c1",
	    "pending", "processing", T0 + 1, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_settle(fx->st, "bad-c1", false,
	    "{\"type\":\"urn:ietf:params:acme:error:dns\"}", T0 + 4, &err),
	    CG_OK);
	assert_int_equal(ca_store_acme_authz_get(fx->st, "bad", &r, &err),
	    CG_OK);
	assert_string_equal(r->status, "invalid");
	assert_string_equal(r->challs[1].status, "invalid");
	assert_int_equal(r->challs[1].validated, 0);
	assert_string_equal(r->challs[1].error,
	    "{\"type\":\"urn:ietf:params:acme:error:dns\"}");
	ca_acme_authz_free(r);
	r = NULL;

	/* The client deactivated it meanwhile: the challenge still settles. */
	assert_int_equal(ca_store_acme_chall_transition(fx->st, "gone-c0",
	    "pending", "processing", T0 + 1, &err), CG_OK);
	assert_int_equal(ca_store_acme_authz_transition(fx->st, "gone",
	    "pending", "deactivated", T0 + 2, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_settle(fx->st, "gone-c0", true,
	    NULL, T0 + 3, &err), CG_OK);
	assert_int_equal(ca_store_acme_authz_get(fx->st, "gone", &r, &err),
	    CG_OK);
	assert_string_equal(r->status, "deactivated");
	assert_string_equal(r->challs[0].status, "valid");
	ca_acme_authz_free(r);
	r = NULL;
	/* A deactivated authorization is not reusable. */
	assert_int_equal(ca_store_acme_authz_find_valid(fx->st, "a1",
	    "default", "dns", "c.example", false, 0, T0 + 4, &r, &err),
	    CG_ENOTFOUND);
}

static void
test_failed_and_stale(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	struct ids	 c = { 0 };
	size_t		 n = 99;

	acct_ok(fx->st, "a1", "default", "k1");
	acct_ok(fx->st, "a2", "default", "k2");
	authz(fx->st, "z1", "a1", "default", "a.example", false, "pending",
	    T0);
	authz(fx->st, "z2", "a1", "default", "b.example", false, "pending",
	    T0);
	authz(fx->st, "y1", "a2", "default", "a.example", false, "pending",
	    T0);
	assert_int_equal(ca_store_acme_chall_transition(fx->st, "z1-c0",
	    "pending", "processing", T0 + 30, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_transition(fx->st, "z1-c1",
	    "pending", "processing", T0 + 10, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_transition(fx->st, "z2-c0",
	    "pending", "processing", T0 + 20, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_transition(fx->st, "y1-c0",
	    "pending", "processing", T0 + 20, &err), CG_OK);

	/* Oldest first, up to limit, only before "before". */
	assert_int_equal(ca_store_acme_chall_stale(fx->st, T0 + 30, 10,
	    chall_ids_cb, &c, &err), CG_OK);
	assert_string_equal(c.s, "z1-c1,z2-c0,y1-c0");
	memset(&c, 0, sizeof(c));
	assert_int_equal(ca_store_acme_chall_stale(fx->st, T0 + 31, 2,
	    chall_ids_cb, &c, &err), CG_OK);
	assert_string_equal(c.s, "z1-c1,z2-c0");
	assert_int_equal(ca_store_acme_chall_stale(fx->st, T0 + 31, 0,
	    chall_ids_cb, &c, &err), CG_EINVAL);
	cg_err_clear(&err);

	assert_int_equal(ca_store_acme_chall_settle(fx->st, "z1-c1", false,
	    "{}", T0 + 40, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_settle(fx->st, "z2-c0", false,
	    "{}", T0 + 50, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_settle(fx->st, "z1-c0", true,
	    NULL, T0 + 50, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_settle(fx->st, "y1-c0", false,
	    "{}", T0 + 50, &err), CG_OK);
	assert_int_equal(ca_store_acme_failed_count(fx->st, "a1", T0, &n,
	    &err), CG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ca_store_acme_failed_count(fx->st, "a1", T0 + 41, &n,
	    &err), CG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ca_store_acme_failed_count(fx->st, "a2", 0, &n,
	    &err), CG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ca_store_acme_failed_count(fx->st, "a3", 0, &n,
	    &err), CG_OK);
	assert_int_equal(n, 0);
	/* Nothing is processing any more. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(ca_store_acme_chall_stale(fx->st, T0 + 100, 10,
	    chall_ids_cb, &c, &err), CG_OK);
	assert_int_equal(c.n, 0);
}

/* ------------------------------------------------------------- EAB */

static void
test_eab(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_eab	 e = { 0 }, *r = NULL;
	struct cg_err		 err = { 0 };
	struct ids		 c = { 0 };
	uint8_t			 key[32], big[CA_ACME_EAB_KEY_MAX + 1];
	size_t			 i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7);
	key[3] = 0;			/* a NUL inside survives */
	memset(big, 1, sizeof(big));
	e.kid = "kid-1";
	e.directory = "default";
	e.key = key;
	e.key_len = sizeof(key);
	e.identifiers = "[\"*.corp.example\"]";
	e.created_at = T0;
	assert_int_equal(ca_store_acme_eab_insert(fx->st, &e, &err), CG_OK);
	assert_int_equal(ca_store_acme_eab_insert(fx->st, &e, &err),
	    CG_ECONFLICT);
	cg_err_clear(&err);
	e.kid = "kid-2";
	e.directory = "corp";
	e.identifiers = NULL;
	e.created_at = T0 - 1;
	assert_int_equal(ca_store_acme_eab_insert(fx->st, &e, &err), CG_OK);
	e.kid = "kid-3";
	e.directory = "default";
	e.created_at = T0 + 1;
	assert_int_equal(ca_store_acme_eab_insert(fx->st, &e, &err), CG_OK);
	e.kid = "kid-4";
	e.key_len = 0;
	assert_int_equal(ca_store_acme_eab_insert(fx->st, &e, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	e.key = big;
	e.key_len = sizeof(big);
	assert_int_equal(ca_store_acme_eab_insert(fx->st, &e, &err),
	    CG_ETOOBIG);
	cg_err_clear(&err);

	assert_int_equal(ca_store_acme_eab_get(fx->st, "kid-1", &r, &err),
	    CG_OK);
	assert_string_equal(r->kid, "kid-1");
	assert_string_equal(r->directory, "default");
	assert_int_equal(r->key_len, sizeof(key));
	assert_memory_equal(r->key, key, sizeof(key));
	assert_string_equal(r->identifiers, "[\"*.corp.example\"]");
	assert_string_equal(r->account_id, "");
	assert_int_equal(r->created_at, T0);
	assert_int_equal(r->bound_at, 0);
	ca_acme_eab_free(r);
	r = NULL;
	assert_int_equal(ca_store_acme_eab_get(fx->st, "kid-2", &r, &err),
	    CG_OK);
	assert_string_equal(r->identifiers, "[]");
	ca_acme_eab_free(r);
	r = NULL;

	/* Bound once; again to the same account is fine. */
	assert_int_equal(ca_store_acme_eab_bind(fx->st, "kid-1", "acct1",
	    T0 + 5, &err), CG_OK);
	assert_int_equal(ca_store_acme_eab_bind(fx->st, "kid-1", "acct1",
	    T0 + 6, &err), CG_OK);
	assert_int_equal(ca_store_acme_eab_bind(fx->st, "kid-1", "acct2",
	    T0 + 7, &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_eab_bind(fx->st, "kid-9", "acct2",
	    T0 + 7, &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_eab_get(fx->st, "kid-1", &r, &err),
	    CG_OK);
	assert_string_equal(r->account_id, "acct1");
	assert_int_equal(r->bound_at, T0 + 5);
	ca_acme_eab_free(r);
	r = NULL;

	/* Oldest first, without key bytes. */
	assert_int_equal(ca_store_acme_eab_list(fx->st, NULL, eab_ids_cb, &c,
	    &err), CG_OK);
	assert_string_equal(c.s, "kid-2,kid-1,kid-3");
	memset(&c, 0, sizeof(c));
	assert_int_equal(ca_store_acme_eab_list(fx->st, "default", eab_ids_cb,
	    &c, &err), CG_OK);
	assert_string_equal(c.s, "kid-1,kid-3");

	assert_int_equal(ca_store_acme_eab_delete(fx->st, "kid-1", &err),
	    CG_OK);
	assert_int_equal(ca_store_acme_eab_delete(fx->st, "kid-1", &err),
	    CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_eab_get(fx->st, "kid-1", &r, &err),
	    CG_ENOTFOUND);
	assert_null(r);
	/* Free of NULL and of a listing-style record is fine. */
	ca_acme_eab_free(NULL);
}

/* -------------------------------------------------------------- limits */

static void
test_limits(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_account	*r = NULL;
	struct ca_acme_order	 o;
	struct tauthz		*t = calloc(1, sizeof(*t));
	struct cg_err		 err = { 0 };
	char			 longid[CA_ACME_ID_MAX + 2];
	char			*json;

	assert_non_null(t);
	json = malloc(CA_ACME_JSON_MAX + 2);
	assert_non_null(json);
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	memset(json, ' ', CA_ACME_JSON_MAX + 1);
	json[0] = '[';
	json[CA_ACME_JSON_MAX] = ']';
	json[CA_ACME_JSON_MAX + 1] = '\0';

	assert_int_equal(acct_add(fx->st, longid, "default", "k1", "", T0),
	    CG_ETOOBIG);
	assert_int_equal(acct_add(fx->st, "", "default", "k1", "", T0),
	    CG_EINVAL);
	assert_int_equal(acct_add(fx->st, "a1", "default", longid, "", T0),
	    CG_ETOOBIG);
	longid[CA_ACME_ID_MAX] = '\0';		/* exactly the limit */
	assert_int_equal(acct_add(fx->st, longid, "default", "k1", "", T0),
	    CG_OK);
	assert_int_equal(ca_store_acme_account_update(fx->st, longid, NULL,
	    json, &err), CG_ETOOBIG);
	assert_non_null(strstr(err.msg, "contact"));
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_account_get(fx->st, NULL, &r, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	longid[CA_ACME_ID_MAX] = 'a';
	assert_int_equal(ca_store_acme_account_get(fx->st, longid, &r, &err),
	    CG_ETOOBIG);
	cg_err_clear(&err);
	longid[CA_ACME_ID_MAX] = '\0';

	order_init(&o, "o1", longid, "default", "", T0);
	o.identifiers = json;
	assert_int_equal(ca_store_acme_order_insert(fx->st, &o, &err),
	    CG_ETOOBIG);
	assert_non_null(strstr(err.msg, "identifiers"));
	cg_err_clear(&err);
	order_init(&o, "o1", longid, "default", "", T0);
	o.authzs = NULL;
	assert_int_equal(ca_store_acme_order_insert(fx->st, &o, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	json[CA_ACME_JSON_MAX - 1] = ']';	/* exactly the limit */
	json[CA_ACME_JSON_MAX] = '\0';
	order_init(&o, "o1", longid, "default", "", T0);
	o.error = json;
	assert_int_equal(ca_store_acme_order_insert(fx->st, &o, &err), CG_OK);
	json[CA_ACME_JSON_MAX] = ' ';
	assert_int_equal(ca_store_acme_order_transition(fx->st, "o1",
	    "pending", "invalid", json, T0, &err), CG_ETOOBIG);
	cg_err_clear(&err);

	tauthz_init(t, "z1", longid, "default", "a.example", false,
	    "pending", T0, 2);
	t->c[1].token = json;			/* far over any token */
	assert_int_equal(ca_store_acme_authz_insert(fx->st, &t->a, &err),
	    CG_ETOOBIG);
	assert_non_null(strstr(err.msg, "token"));
	cg_err_clear(&err);
	t->c[1].token = t->tok[1];
	t->c[1].status = "waiting";
	assert_int_equal(ca_store_acme_authz_insert(fx->st, &t->a, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_chall_settle(fx->st, "z1-c0", false,
	    json, T0, &err), CG_ETOOBIG);
	cg_err_clear(&err);
	assert_string_equal(q(fx->st, "SELECT count(*) FROM acme_authzs"),
	    "0");
	assert_string_equal(q(fx->st, "SELECT count(*) FROM acme_orders"),
	    "1");
	free(json);
	free(t);
}

/* ------------------------------------------------------- transactions */

static void
test_joins_caller_tx(void **state)
{
	struct fx		*fx = *state;
	struct cg_err		 err = { 0 };

	acct_ok(fx->st, "a1", "default", "k1");
	order(fx->st, "o1", "a1", "default", "", T0);
	authz(fx->st, "z1", "a1", "default", "a.example", false, "pending",
	    T0);
	assert_int_equal(ca_store_acme_chall_transition(fx->st, "z1-c0",
	    "pending", "processing", T0, &err), CG_OK);

	/* Everything written inside a transaction goes with its rollback. */
	assert_int_equal(ca_store_begin(fx->st, &err), CG_OK);
	assert_int_equal(acct_add(fx->st, "a2", "default", "k2", "", T0),
	    CG_OK);
	order(fx->st, "o2", "a2", "default", "", T0);
	assert_int_equal(ca_store_acme_order_transition(fx->st, "o1",
	    "pending", "ready", NULL, T0, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_settle(fx->st, "z1-c0", true,
	    NULL, T0, &err), CG_OK);
	assert_int_equal(ca_store_acme_account_update(fx->st, "a1",
	    "deactivated", NULL, &err), CG_OK);
	/* A refused write inside it does not end it. */
	assert_int_equal(ca_store_acme_order_transition(fx->st, "o1",
	    "pending", "ready", NULL, T0, &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_string_equal(q(fx->st, "SELECT count(*) FROM acme_orders"),
	    "2");
	ca_store_rollback(fx->st);

	assert_string_equal(q(fx->st, "SELECT count(*) FROM acme_accounts"),
	    "1");
	assert_string_equal(q(fx->st, "SELECT count(*) FROM acme_orders"),
	    "1");
	assert_string_equal(order_status(fx->st, "o1"), "pending");
	assert_string_equal(authz_status(fx->st, "z1"), "pending");
	assert_string_equal(q(fx->st, "SELECT status FROM acme_challenges "
	    "WHERE id = 'z1-c0'"), "processing");
	assert_string_equal(q(fx->st, "SELECT status FROM acme_accounts"),
	    "valid");
}

/* ------------------------------------------------- allocation failures */

/* Read everything with each allocation failing in turn: ENOMEM, no leak. */
static void
test_alloc_failures(void **state)
{
	struct fx		*fx = *state;
	struct ca_acme_account	*a;
	struct ca_acme_order	*o;
	struct ca_acme_authz	*z;
	struct ca_acme_eab	 e = { 0 }, *ep;
	struct cg_err		 err = { 0 };
	struct ids		 c;
	uint8_t			 key[8] = { 9 };
	enum cg_code		 rc;
	long			 n;
	int			 what;

	acct_ok(fx->st, "a1", "default", "k1");
	order(fx->st, "o1", "a1", "default", "", T0);
	authz(fx->st, "z1", "a1", "default", "a.example", false, "pending",
	    T0);
	assert_int_equal(ca_store_acme_chall_transition(fx->st, "z1-c1",
	    "pending", "processing", T0, &err), CG_OK);
	e.kid = "kid";
	e.directory = "default";
	e.key = key;
	e.key_len = sizeof(key);
	assert_int_equal(ca_store_acme_eab_insert(fx->st, &e, &err), CG_OK);

	for (what = 0; what < 6; what++) {
		for (n = 0; n < 64; n++) {
			cg_err_clear(&err);
			memset(&c, 0, sizeof(c));
			a = NULL;
			o = NULL;
			z = NULL;
			ep = NULL;
			cg_alloc_fail_after(n);
			switch (what) {
			case 0:
				rc = ca_store_acme_account_get(fx->st, "a1",
				    &a, &err);
				break;
			case 1:
				rc = ca_store_acme_order_get(fx->st, "o1", &o,
				    &err);
				break;
			case 2:
				rc = ca_store_acme_authz_get(fx->st, "z1", &z,
				    &err);
				break;
			case 3:
				rc = ca_store_acme_eab_get(fx->st, "kid", &ep,
				    &err);
				break;
			case 4:
				rc = ca_store_acme_chall_stale(fx->st, T0 + 1,
				    5, chall_ids_cb, &c, &err);
				break;
			default:
				rc = ca_store_acme_eab_list(fx->st, NULL,
				    eab_ids_cb, &c, &err);
				break;
			}
			cg_alloc_fail_after(-1);
			if (rc == CG_OK)
				break;
			assert_int_equal(rc, CG_ENOMEM);
			assert_null(a);
			assert_null(o);
			assert_null(z);
			assert_null(ep);
		}
		/* Each read allocates, and a few failures were enough. */
		assert_true(n > 0 && n < 64);
		if (a != NULL)
			assert_string_equal(a->thumbprint, "k1");
		if (o != NULL)
			assert_string_equal(o->status, "pending");
		if (z != NULL)
			assert_string_equal(z->challs[1].status, "processing");
		if (ep != NULL)
			assert_memory_equal(ep->key, key, sizeof(key));
		if (what >= 4)
			assert_int_equal(c.n, 1);
		ca_acme_account_free(a);
		ca_acme_order_free(o);
		ca_acme_authz_free(z);
		ca_acme_eab_free(ep);
	}
}

/* ------------------------------------------------------ query plans */

static enum cg_code
eab_none_cb(void *arg, const struct ca_acme_eab *e)
{
	return CG_OK;
}

/* Call every ACME function once so each statement is in the cache. */
static void
exercise(struct ca_store *st)
{
	struct ca_acme_account	*a = NULL;
	struct ca_acme_order	*o = NULL;
	struct ca_acme_authz	*z = NULL;
	struct ca_acme_eab	 e = { 0 }, *ep = NULL;
	struct cg_err		 err = { 0 };
	struct ids		 c = { 0 };
	uint8_t			 key[16] = { 1 };
	size_t			 n;
	bool			 more;

	acct_ok(st, "a1", "default", "k1");
	assert_int_equal(ca_store_acme_account_get(st, "a1", &a, &err),
	    CG_OK);
	ca_acme_account_free(a);
	assert_int_equal(ca_store_acme_account_find(st, "default", "k1", &a,
	    &err), CG_OK);
	ca_acme_account_free(a);
	assert_int_equal(ca_store_acme_account_update(st, "a1", "valid", NULL,
	    &err), CG_OK);
	assert_int_equal(ca_store_acme_account_rekey(st, "a1", "k1", "{}",
	    "k2", &err), CG_OK);
	assert_int_equal(ca_store_acme_account_rekey(st, "a1", "k1", "{}",
	    "k3", &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_account_count_ip(st, "default", "x", 0,
	    &n, &err), CG_OK);

	order(st, "o1", "a1", "default", "x", T0);
	order(st, "o2", "a1", "default", "x", T0);
	assert_int_equal(ca_store_acme_order_get(st, "o1", &o, &err), CG_OK);
	ca_acme_order_free(o);
	assert_int_equal(ca_store_acme_order_transition(st, "o1", "ready",
	    "valid", NULL, T0, &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_order_transition(st, "o1", "pending",
	    "processing", NULL, T0, &err), CG_OK);
	assert_int_equal(ca_store_acme_order_set_pending(st, "o1", 1, &err),
	    CG_OK);
	assert_int_equal(ca_store_acme_order_set_cert(st, "o1", "AB", T0,
	    &err), CG_OK);
	assert_int_equal(ca_store_acme_order_list(st, "a1", "o2", 5, ids_cb,
	    &c, &more, &err), CG_OK);
	assert_int_equal(ca_store_acme_order_count(st, "default", "a1", NULL,
	    0, &n, &err), CG_OK);
	assert_int_equal(ca_store_acme_order_count(st, "default", NULL, "x",
	    0, &n, &err), CG_OK);
	assert_int_equal(ca_store_acme_order_find_replacing(st, "AB", &o,
	    &err), CG_ENOTFOUND);
	cg_err_clear(&err);

	authz(st, "z1", "a1", "default", "a.example", false, "pending", T0);
	assert_int_equal(ca_store_acme_authz_get(st, "z1", &z, &err), CG_OK);
	ca_acme_authz_free(z);
	assert_int_equal(ca_store_acme_authz_transition(st, "z1", "valid",
	    "pending", T0, &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_chall_transition(st, "z1-c0",
	    "valid", "pending", T0, &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(ca_store_acme_chall_transition(st, "z1-c0",
	    "pending", "processing", T0, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_stale(st, T0 + 1, 5,
	    chall_ids_cb, &c, &err), CG_OK);
	assert_int_equal(ca_store_acme_chall_settle(st, "z1-c0", true, NULL,
	    T0, &err), CG_OK);
	assert_int_equal(ca_store_acme_authz_transition(st, "z1", "valid",
	    "valid", T0, &err), CG_OK);
	assert_int_equal(ca_store_acme_authz_find_valid(st, "a1", "default",
	    "dns", "a.example", false, 0, T0, &z, &err), CG_OK);
	ca_acme_authz_free(z);
	assert_int_equal(ca_store_acme_failed_count(st, "a1", 0, &n, &err),
	    CG_OK);

	e.kid = "kid";
	e.directory = "default";
	e.key = key;
	e.key_len = sizeof(key);
	assert_int_equal(ca_store_acme_eab_insert(st, &e, &err), CG_OK);
	assert_int_equal(ca_store_acme_eab_get(st, "kid", &ep, &err), CG_OK);
	ca_acme_eab_free(ep);
	assert_int_equal(ca_store_acme_eab_bind(st, "kid", "a1", T0, &err),
	    CG_OK);
	assert_int_equal(ca_store_acme_eab_bind(st, "kid", "a1", T0, &err),
	    CG_OK);
	assert_int_equal(ca_store_acme_eab_list(st, "default", eab_none_cb,
	    NULL, &err), CG_OK);
	assert_int_equal(ca_store_acme_eab_list(st, NULL, eab_none_cb, NULL,
	    &err), CG_OK);
	assert_int_equal(ca_store_acme_eab_delete(st, "kid", &err), CG_OK);
}

/*
 * Every ACME statement finds its rows through an index, with no sort
 * step; only the admin's listing of all EAB keys reads the whole table.
 */
static void
test_query_plans(void **state)
{
	struct fx	*fx = *state;
	sqlite3_stmt	*eqp;
	const char	*sql, *detail;
	char		*text;
	size_t		 i, nacme = 0;
	bool		 all_eab;

	exercise(fx->st);
	for (i = 0; i < fx->st->ncache; i++) {
		sql = sqlite3_sql(fx->st->cache[i].stmt);
		if (strstr(sql, "acme_") == NULL)
			continue;
		nacme++;
		all_eab = strstr(sql, "FROM acme_eab ORDER BY") != NULL;
		text = cg_asprintf("EXPLAIN QUERY PLAN %s", sql);
		assert_non_null(text);
		assert_int_equal(sqlite3_prepare_v2(fx->st->db, text, -1, &eqp,
		    NULL), SQLITE_OK);
		while (sqlite3_step(eqp) == SQLITE_ROW) {
			detail = (const char *)sqlite3_column_text(eqp, 3);
			assert_non_null(detail);
			if (all_eab)
				continue;
			if (strncmp(detail, "SCAN", 4) == 0 ||
			    strstr(detail, "TEMP B-TREE") != NULL)
				fail_msg("full scan or sort: %s\n  in %s",
				    detail, sql);
		}
		sqlite3_finalize(eqp);
		cg_free(text);
	}
	/* Every ACME statement is cached: none compiled twice. */
	assert_true(nacme >= 35);
	assert_true(fx->st->ncache < CA_STORE_STMT_CACHE);
}

/* ------------------------------------------------- statement cache */

/*
 * Once the cache is full, statements are prepared each time and
 * finalized on release; the store keeps working.
 */
static void
test_statement_cache_full(void **state)
{
	static char	 sql[CA_STORE_STMT_CACHE + 8][48];
	struct fx	*fx = *state;
	struct ca_acme_order *o = NULL;
	struct cg_err	 err = { 0 };
	sqlite3_stmt	*stmt;
	size_t		 i;

	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		snprintf(sql[i], sizeof(sql[i]), "SELECT %zu", i);
		assert_int_equal(ca_store_prepare(fx->st, sql[i], &stmt, &err),
		    CG_OK);
		assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(stmt, 0), (int)i);
		ca_store_release(fx->st, stmt);
	}
	assert_int_equal(fx->st->ncache, CA_STORE_STMT_CACHE);
	/* Uncached now, and more than once. */
	acct_ok(fx->st, "a1", "default", "k1");
	order(fx->st, "o1", "a1", "default", "", T0);
	order(fx->st, "o2", "a1", "default", "", T0);
	assert_int_equal(ca_store_acme_order_get(fx->st, "o2", &o, &err),
	    CG_OK);
	assert_string_equal(o->account_id, "a1");
	ca_acme_order_free(o);
	assert_string_equal(page(fx->st, "a1", NULL, 1), "o2+");
}

/* --------------------------------------------------------- migration */

static void
test_migrate_2_to_3(void **state)
{
	struct fx		*fx = *state;
	struct ca_pending_rec	 p = { 0 }, *pr = NULL;
	struct cg_err		 err = { 0 };
	uint8_t			 csr[4] = { 0x30, 0x02, 0x05, 0x00 };
	int64_t			 id;

	assert_int_equal(ca_store_open_at_version(fx->path, 2, &fx->st, &err),
	    CG_OK);
	assert_int_equal(ca_store_schema_version(fx->st), 2);
	p.protocol = "est";
	p.profile = "device";
	p.requester = "tester";
	p.csr_sha256 = "0000000000000000000000000000000000000000000000000000"
	    "000000000000";
	p.csr_der = csr;
	p.csr_len = sizeof(csr);
	assert_int_equal(ca_store_pending_add(fx->st, &p, &id, &err), CG_OK);
	assert_string_equal(q(fx->st, "SELECT count(*) FROM sqlite_master "
	    "WHERE name LIKE 'acme_%'"), "0");
	ca_store_close(fx->st);
	fx->st = NULL;

	assert_int_equal(ca_store_open_at_version(fx->path, 3, &fx->st, &err),
	    CG_OK);
	assert_int_equal(ca_store_schema_version(fx->st), 3);
	assert_string_equal(q(fx->st, "SELECT group_concat(name) FROM (SELECT "
	    "name FROM sqlite_master WHERE type = 'table' AND name LIKE "
	    "'acme_%' ORDER BY name)"), "acme_accounts,acme_authzs,"
	    "acme_challenges,acme_eab,acme_orders");
	assert_string_equal(q(fx->st, "SELECT max(version) FROM "
	    "schema_migrations"), "3");
	/* The version-2 data is still there, and ACME works. */
	assert_int_equal(ca_store_pending_get(fx->st, id, &pr, &err), CG_OK);
	assert_string_equal(pr->profile, "device");
	ca_pending_rec_free(pr);
	acct_ok(fx->st, "a1", "default", "k1");
	order(fx->st, "o1", "a1", "default", "", T0);
	assert_string_equal(order_status(fx->st, "o1"), "pending");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_account_insert_get_find,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_account_conflicts,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_account_update, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_account_rekey, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_account_count_ip,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_order_insert_get,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_order_transition,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_order_set_cert, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_order_list, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_order_count, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_order_find_replacing,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_authz_insert_get,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_authz_all_or_nothing,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_authz_find_valid,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_transitions, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_chall_settle, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_failed_and_stale,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_eab, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_limits, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_joins_caller_tx, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failures, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_query_plans, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_statement_cache_full,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_2_to_3,
		    fx_setup_closed, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
