/*
 * test_store_scep.c - the store's SCEP state through store.h: one-time
 * challenges (spent once, never after expiry, per service, the reason in
 * the detail and never the hash in a message, listing, purging, rollback
 * with the caller's transaction), transactions (duplicate keys, settling
 * only from pending, outcome consistency, purging), input limits, the
 * query plans of every SCEP statement and migration of a version-3
 * database.  Raw SQL on the store's connection only inspects.
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

/* Two distinct well-formed hashes. */
#define H1	"11111111111111111111111111111111" \
		"11111111111111111111111111111111"
#define H2	"abcdef0123456789abcdef0123456789" \
		"abcdef0123456789abcdef0123456789"
#define RQ	"00000000000000000000000000000000" \
		"00000000000000000000000000000000"

struct fx {
	char		 dir[PATH_MAX];		/* temporary directory */
	char		 path[PATH_MAX + 32];	/* database file in it */
	struct ca_store	*st;			/* open store */
};

/* What a listing saw: "id:service:used_by," per row. */
struct seen {
	char		 s[1024];
	size_t		 n;
};

/* ------------------------------------------------------------ helpers */

static int
fx_setup_closed(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	cafx_mkdtemp(fx->dir, sizeof(fx->dir), "test_store_scep");
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
chall_add(struct ca_store *st, const char *service, const char *hash,
    const char *re, int64_t created, int64_t expires, int64_t *idp,
    struct cg_err *err)
{
	struct ca_scep_challenge	 c = { 0 };

	c.service = (char *)service;
	c.hash = (char *)hash;
	c.subject_regex = (char *)re;
	c.created_at = created;
	c.expires_at = expires;
	return ca_store_scep_challenge_add(st, &c, idp, err);
}

static int64_t
chall_ok(struct ca_store *st, const char *service, const char *hash,
    int64_t created, int64_t expires)
{
	struct cg_err	 err = { 0 };
	int64_t		 id = 0;

	if (chall_add(st, service, hash, "", created, expires, &id, &err) !=
	    CG_OK)
		fail_msg("challenge add: %s (%s)", err.msg, err.detail);
	assert_true(id > 0);
	return id;
}

/* Spend and check the reason of a refusal ("" when it must succeed). */
static void
use_expect(struct ca_store *st, const char *service, const char *hash,
    int64_t now, const char *tid, const char *reason)
{
	struct ca_scep_challenge	*c = (void *)1;
	struct cg_err			 err = { 0 };
	enum cg_code			 rc;
	char				 want[64];

	rc = ca_store_scep_challenge_use(st, service, hash, now, tid, &c,
	    &err);
	if (reason[0] == '\0') {
		if (rc != CG_OK)
			fail_msg("use: %s (%s)", err.msg, err.detail);
		assert_non_null(c);
		assert_string_equal(c->service, service);
		assert_string_equal(c->hash, hash);
		assert_int_equal(c->used_at, now);
		assert_string_equal(c->used_by, tid);
		ca_scep_challenge_free(c);
		return;
	}
	assert_int_equal(rc, CG_ENOTFOUND);
	assert_null(c);
	assert_string_equal(err.msg, "store: no usable SCEP challenge");
	snprintf(want, sizeof(want), "reason=%s", reason);
	assert_string_equal(err.detail, want);
}

static enum cg_code
seen_cb(void *arg, const struct ca_scep_challenge *c)
{
	struct seen	*s = arg;
	size_t		 len = strlen(s->s);

	snprintf(s->s + len, sizeof(s->s) - len, "%lld:%s:%s,",
	    (long long)c->id, c->service, c->used_by);
	s->n++;
	return CG_OK;
}

static enum cg_code
stop_cb(void *arg, const struct ca_scep_challenge *c)
{
	return CG_EDENIED;
}

static void
txn_init(struct ca_scep_txn *t, const char *service, const char *tid,
    int status)
{
	memset(t, 0, sizeof(*t));
	t->service = (char *)service;
	t->transaction_id = (char *)tid;
	t->request_sha256 = (char *)RQ;
	t->message_type = CA_SCEP_MSG_PKCSREQ;
	t->status = status;
	t->fail_info = status == CA_SCEP_STATUS_FAILURE ? 2 : -1;
	t->cert_serial = (char *)(status == CA_SCEP_STATUS_SUCCESS ? "AB" :
	    "");
	t->requester = (char *)"peer=127.0.0.1";
	t->created_at = T0;
}

static void
txn_ok(struct ca_store *st, const char *service, const char *tid,
    int status)
{
	struct ca_scep_txn	 t;
	struct cg_err		 err = { 0 };

	txn_init(&t, service, tid, status);
	if (ca_store_scep_txn_insert(st, &t, &err) != CG_OK)
		fail_msg("txn insert: %s (%s)", err.msg, err.detail);
}

/* --------------------------------------------------------- challenges */

static void
test_challenge_spent_once(void **state)
{
	struct fx			*fx = *state;
	struct ca_scep_challenge	*c = NULL;
	struct cg_err			 err = { 0 };
	int64_t				 id, id2 = 0;

	id = chall_ok(fx->st, "default", H1, T0, T0 + HOUR);
	/* The same hash in another service is another challenge. */
	id2 = chall_ok(fx->st, "vpn", H1, T0, T0 + HOUR);
	assert_true(id2 > id);
	assert_string_equal(q(fx->st, "SELECT used_at IS NULL AND used_by IS "
	    "NULL FROM scep_challenges WHERE service = 'default'"), "1");

	/* Unknown hash, and the known hash in the wrong service. */
	use_expect(fx->st, "default", H2, T0 + 1, "tid-1", "unknown");
	use_expect(fx->st, "other", H1, T0 + 1, "tid-1", "unknown");
	/* Spent once, then never again. */
	use_expect(fx->st, "default", H1, T0 + 1, "tid-1", "");
	use_expect(fx->st, "default", H1, T0 + 2, "tid-2", "used");
	assert_string_equal(q(fx->st, "SELECT used_by || ' ' || used_at FROM "
	    "scep_challenges WHERE service = 'default'"), "tid-1 1700000001");
	/* At its expiry it is no longer usable; the other row untouched. */
	use_expect(fx->st, "vpn", H1, T0 + HOUR, "tid-3", "expired");
	use_expect(fx->st, "vpn", H1, T0 + HOUR - 1, "tid-3", "");

	/* A duplicate (service, hash) is a conflict, not a second row. */
	assert_int_equal(chall_add(fx->st, "default", H1, "", T0, T0 + HOUR,
	    &id, &err), CG_ECONFLICT);
	assert_int_equal(id, 0);
	assert_null(strstr(err.msg, H1));
	assert_null(strstr(err.detail, H1));
	cg_err_clear(&err);

	/* Bad inputs are refused before the database sees them. */
	assert_int_equal(ca_store_scep_challenge_use(fx->st, "default",
	    "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
	    T0, "t", &c, &err), CG_EINVAL);
	assert_null(c);
	assert_null(strstr(err.msg, "ABCDEF"));
	cg_err_clear(&err);
	assert_int_equal(ca_store_scep_challenge_use(fx->st, "default", H1,
	    T0, "", &c, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_scep_challenge_use(fx->st, "default", H1 "0",
	    T0, "t", &c, &err), CG_EINVAL);
	cg_err_clear(&err);
}

static void
test_challenge_inputs(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	char		 big[CA_SCEP_REGEX_MAX + 2];
	int64_t		 id;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(chall_add(fx->st, "", H1, "", T0, T0 + 1, &id, &err),
	    CG_EINVAL);
	assert_string_equal(err.msg, "store: SCEP service is missing");
	cg_err_clear(&err);
	assert_int_equal(chall_add(fx->st, big + CA_SCEP_REGEX_MAX -
	    CA_SCEP_SERVICE_MAX, H1, "", T0, T0 + 1, &id, &err), CG_ETOOBIG);
	cg_err_clear(&err);
	assert_int_equal(chall_add(fx->st, "default", H1, big, T0, T0 + 1,
	    &id, &err), CG_ETOOBIG);
	cg_err_clear(&err);
	assert_int_equal(chall_add(fx->st, "default", "00", "", T0, T0 + 1,
	    &id, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(chall_add(fx->st, "default", H1, "", T0, T0, &id,
	    &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_string_equal(q(fx->st, "SELECT count(*) FROM scep_challenges"),
	    "0");
	/* At the limits, accepted; created_at 0 means now. */
	big[CA_SCEP_REGEX_MAX] = '\0';
	assert_int_equal(chall_add(fx->st, big + CA_SCEP_REGEX_MAX -
	    CA_SCEP_SERVICE_MAX, H1, big, 0, cg_now() + HOUR, &id, &err),
	    CG_OK);
	assert_string_equal(q(fx->st, "SELECT abs(created_at - strftime('%s',"
	    "'now')) < 60 FROM scep_challenges"), "1");
}

static void
test_challenge_list_purge(void **state)
{
	struct fx	*fx = *state;
	struct seen	 s = { 0 };
	struct cg_err	 err = { 0 };
	size_t		 n = 99;
	char		 want[256];
	int64_t		 a, b, c;

	a = chall_ok(fx->st, "default", H1, T0, T0 + HOUR);
	b = chall_ok(fx->st, "vpn", H1, T0, T0 + 10 * HOUR);
	c = chall_ok(fx->st, "default", H2, T0, T0 + 10 * HOUR);
	use_expect(fx->st, "vpn", H1, T0 + 5, "tid-v", "");

	assert_int_equal(ca_store_scep_challenge_list(fx->st, NULL, seen_cb,
	    &s, &err), CG_OK);
	snprintf(want, sizeof(want), "%lld:default:,%lld:vpn:tid-v,"
	    "%lld:default:,", (long long)a, (long long)b, (long long)c);
	assert_string_equal(s.s, want);
	memset(&s, 0, sizeof(s));
	assert_int_equal(ca_store_scep_challenge_list(fx->st, "default",
	    seen_cb, &s, &err), CG_OK);
	snprintf(want, sizeof(want), "%lld:default:,%lld:default:,",
	    (long long)a, (long long)c);
	assert_string_equal(s.s, want);
	assert_int_equal(ca_store_scep_challenge_list(fx->st, NULL, stop_cb,
	    NULL, &err), CG_EDENIED);
	cg_err_clear(&err);

	/* Nothing expired or used before T0 + 5. */
	assert_int_equal(ca_store_scep_challenge_purge(fx->st, T0 + 5, &n,
	    &err), CG_OK);
	assert_int_equal(n, 0);
	/* Then the used one goes, and after the hour the expired one. */
	assert_int_equal(ca_store_scep_challenge_purge(fx->st, T0 + 6, &n,
	    &err), CG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ca_store_scep_challenge_purge(fx->st, T0 + HOUR + 1,
	    NULL, &err), CG_OK);
	snprintf(want, sizeof(want), "%lld", (long long)c);
	assert_string_equal(q(fx->st, "SELECT group_concat(id) FROM "
	    "scep_challenges"), want);
}

/* Spent inside the caller's transaction, given back by its rollback. */
static void
test_challenge_caller_tx(void **state)
{
	struct fx			*fx = *state;
	struct ca_scep_challenge	*c = NULL;
	struct cg_err			 err = { 0 };

	chall_ok(fx->st, "default", H1, T0, T0 + HOUR);
	assert_int_equal(ca_store_begin(fx->st, &err), CG_OK);
	assert_int_equal(ca_store_scep_challenge_use(fx->st, "default", H1,
	    T0 + 1, "tid-1", &c, &err), CG_OK);
	ca_scep_challenge_free(c);
	ca_store_rollback(fx->st);
	use_expect(fx->st, "default", H1, T0 + 2, "tid-2", "");
}

/* ------------------------------------------------------- transactions */

static void
test_txn_lifecycle(void **state)
{
	struct fx		*fx = *state;
	struct ca_scep_txn	 t, *got = NULL;
	struct cg_err		 err = { 0 };

	txn_ok(fx->st, "default", "tid-1", CA_SCEP_STATUS_PENDING);
	/* The same id in another service is another transaction. */
	txn_ok(fx->st, "vpn", "tid-1", CA_SCEP_STATUS_SUCCESS);
	txn_init(&t, "default", "tid-1", CA_SCEP_STATUS_FAILURE);
	assert_int_equal(ca_store_scep_txn_insert(fx->st, &t, &err),
	    CG_ECONFLICT);
	assert_string_equal(err.msg,
	    "store: the SCEP transaction exists already");
	cg_err_clear(&err);

	assert_int_equal(ca_store_scep_txn_get(fx->st, "default", "tid-1",
	    &got, &err), CG_OK);
	assert_string_equal(got->service, "default");
	assert_string_equal(got->transaction_id, "tid-1");
	assert_string_equal(got->request_sha256, RQ);
	assert_int_equal(got->message_type, CA_SCEP_MSG_PKCSREQ);
	assert_int_equal(got->status, CA_SCEP_STATUS_PENDING);
	assert_int_equal(got->fail_info, -1);
	assert_string_equal(got->cert_serial, "");
	assert_int_equal(got->pending_id, 0);
	assert_string_equal(got->requester, "peer=127.0.0.1");
	assert_int_equal(got->created_at, T0);
	assert_int_equal(got->updated_at, T0);
	ca_scep_txn_free(got);
	got = NULL;

	/* Pending -> pending (remember the approval row) -> success. */
	assert_int_equal(ca_store_scep_txn_update(fx->st, "default", "tid-1",
	    CA_SCEP_STATUS_PENDING, -1, NULL, 7, T0 + 1, &err), CG_OK);
	assert_int_equal(ca_store_scep_txn_update(fx->st, "default", "tid-1",
	    CA_SCEP_STATUS_SUCCESS, -1, "0A1B", 7, T0 + 2, &err), CG_OK);
	assert_int_equal(ca_store_scep_txn_get(fx->st, "default", "tid-1",
	    &got, &err), CG_OK);
	assert_int_equal(got->status, CA_SCEP_STATUS_SUCCESS);
	assert_string_equal(got->cert_serial, "0A1B");
	assert_int_equal(got->pending_id, 7);
	assert_int_equal(got->updated_at, T0 + 2);
	ca_scep_txn_free(got);
	got = NULL;
	/* An answer once given stays the answer. */
	assert_int_equal(ca_store_scep_txn_update(fx->st, "default", "tid-1",
	    CA_SCEP_STATUS_FAILURE, 2, NULL, 0, T0 + 3, &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(ca_store_scep_txn_update(fx->st, "default", "nope",
	    CA_SCEP_STATUS_FAILURE, 2, NULL, 0, T0 + 3, &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_scep_txn_get(fx->st, "default", "nope",
	    &got, &err), CG_ENOTFOUND);
	assert_null(got);
	assert_string_equal(err.msg, "store: no such SCEP transaction");
	cg_err_clear(&err);
}

static void
test_txn_inputs(void **state)
{
	struct fx		*fx = *state;
	struct ca_scep_txn	 t;
	struct cg_err		 err = { 0 };
	char			 tid[CA_SCEP_TID_MAX + 2];

	memset(tid, 't', sizeof(tid) - 1);
	tid[sizeof(tid) - 1] = '\0';
	txn_init(&t, "default", tid, CA_SCEP_STATUS_PENDING);
	assert_int_equal(ca_store_scep_txn_insert(fx->st, &t, &err),
	    CG_ETOOBIG);
	cg_err_clear(&err);
	txn_init(&t, "default", "x", CA_SCEP_STATUS_PENDING);
	t.message_type = 20;	/* CertPoll starts nothing */
	assert_int_equal(ca_store_scep_txn_insert(fx->st, &t, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	txn_init(&t, "default", "x", 1);
	assert_int_equal(ca_store_scep_txn_insert(fx->st, &t, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	txn_init(&t, "default", "x", CA_SCEP_STATUS_FAILURE);
	t.fail_info = -1;	/* a failure says why */
	assert_int_equal(ca_store_scep_txn_insert(fx->st, &t, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	t.fail_info = 5;
	assert_int_equal(ca_store_scep_txn_insert(fx->st, &t, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	txn_init(&t, "default", "x", CA_SCEP_STATUS_SUCCESS);
	t.cert_serial = (char *)"";	/* a success names its certificate */
	assert_int_equal(ca_store_scep_txn_insert(fx->st, &t, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	txn_init(&t, "default", "x", CA_SCEP_STATUS_PENDING);
	t.request_sha256 = (char *)"zz";
	assert_int_equal(ca_store_scep_txn_insert(fx->st, &t, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	assert_string_equal(q(fx->st, "SELECT count(*) FROM scep_txns"), "0");
	tid[CA_SCEP_TID_MAX] = '\0';
	txn_init(&t, "default", tid, CA_SCEP_STATUS_PENDING);
	t.message_type = CA_SCEP_MSG_RENEWAL;
	assert_int_equal(ca_store_scep_txn_insert(fx->st, &t, &err), CG_OK);
}

static void
test_txn_purge(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	size_t		 n = 99;

	txn_ok(fx->st, "default", "p", CA_SCEP_STATUS_PENDING);
	txn_ok(fx->st, "default", "s", CA_SCEP_STATUS_SUCCESS);
	txn_ok(fx->st, "default", "f", CA_SCEP_STATUS_FAILURE);
	assert_int_equal(ca_store_scep_txn_purge(fx->st, T0, &n, &err), CG_OK);
	assert_int_equal(n, 0);
	/* Settled rows go; a pending one waits for its answer. */
	assert_int_equal(ca_store_scep_txn_purge(fx->st, T0 + 1, &n, &err),
	    CG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(q(fx->st, "SELECT group_concat(transaction_id) "
	    "FROM scep_txns"), "p");
}

/* ------------------------------------------------------ query plans */

/* Every SCEP statement finds its rows through an index, with no sort. */
/* A settled transactionID can start again; a pending one cannot. */
static void
test_txn_forget(void **state)
{
	struct fx		*fx = *state;
	struct ca_scep_txn	*got = NULL;
	struct cg_err		 err = { 0 };

	txn_ok(fx->st, "default", "tid-done", CA_SCEP_STATUS_SUCCESS);
	txn_ok(fx->st, "default", "tid-wait", CA_SCEP_STATUS_PENDING);
	assert_int_equal(ca_store_scep_txn_forget(fx->st, "default",
	    "tid-done", &err), CG_OK);
	assert_int_equal(ca_store_scep_txn_get(fx->st, "default", "tid-done",
	    &got, &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	txn_ok(fx->st, "default", "tid-done", CA_SCEP_STATUS_PENDING);
	assert_int_equal(ca_store_scep_txn_forget(fx->st, "default",
	    "tid-wait", &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(ca_store_scep_txn_get(fx->st, "default", "tid-wait",
	    &got, &err), CG_OK);
	ca_scep_txn_free(got);
	assert_int_equal(ca_store_scep_txn_forget(fx->st, "default", "nope",
	    &err), CG_ECONFLICT);
}

static void
test_query_plans(void **state)
{
	struct fx			*fx = *state;
	struct ca_scep_txn		*t = NULL;
	struct cg_err			 err = { 0 };
	struct seen			 s = { 0 };
	sqlite3_stmt			*eqp;
	const char			*sql, *detail;
	char				*text;
	size_t				 i, nscep = 0;
	bool				 all;

	chall_ok(fx->st, "default", H1, T0, T0 + HOUR);
	use_expect(fx->st, "default", H1, T0 + 1, "t1", "");
	use_expect(fx->st, "default", H1, T0 + 1, "t1", "used");
	assert_int_equal(ca_store_scep_challenge_list(fx->st, NULL, seen_cb,
	    &s, &err), CG_OK);
	assert_int_equal(ca_store_scep_challenge_list(fx->st, "default",
	    seen_cb, &s, &err), CG_OK);
	assert_int_equal(ca_store_scep_challenge_purge(fx->st, T0, NULL,
	    &err), CG_OK);
	txn_ok(fx->st, "default", "t1", CA_SCEP_STATUS_PENDING);
	assert_int_equal(ca_store_scep_txn_get(fx->st, "default", "t1", &t,
	    &err), CG_OK);
	ca_scep_txn_free(t);
	assert_int_equal(ca_store_scep_txn_update(fx->st, "default", "t1",
	    CA_SCEP_STATUS_SUCCESS, -1, "AB", 0, T0, &err), CG_OK);
	assert_int_equal(ca_store_scep_txn_purge(fx->st, T0, NULL, &err),
	    CG_OK);

	for (i = 0; i < fx->st->ncache; i++) {
		sql = sqlite3_sql(fx->st->cache[i].stmt);
		if (strstr(sql, "scep_") == NULL)
			continue;
		nscep++;
		/* The admin's listing of every challenge reads them all. */
		all = strstr(sql, "FROM scep_challenges ORDER BY") != NULL;
		text = cg_asprintf("EXPLAIN QUERY PLAN %s", sql);
		assert_non_null(text);
		assert_int_equal(sqlite3_prepare_v2(fx->st->db, text, -1, &eqp,
		    NULL), SQLITE_OK);
		while (sqlite3_step(eqp) == SQLITE_ROW) {
			detail = (const char *)sqlite3_column_text(eqp, 3);
			assert_non_null(detail);
			if (strstr(detail, "TEMP B-TREE") != NULL ||
			    (!all && strncmp(detail, "SCAN", 4) == 0))
				fail_msg("full scan or sort: %s\n  in %s",
				    detail, sql);
		}
		sqlite3_finalize(eqp);
		cg_free(text);
	}
	assert_true(nscep >= 10);
}

/* --------------------------------------------------------- migration */

static void
test_migrate_3_to_4(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };

	assert_int_equal(ca_store_open_at_version(fx->path, 3, &fx->st, &err),
	    CG_OK);
	assert_int_equal(sqlite3_exec(fx->st->db, "INSERT INTO acme_eab (kid, "
	    "directory, key, identifiers, created_at) VALUES ('k', 'd', x'01', "
	    "'[]', 1)", NULL, NULL, NULL), SQLITE_OK);
	assert_string_equal(q(fx->st, "SELECT count(*) FROM sqlite_master "
	    "WHERE name LIKE 'scep_%'"), "0");
	ca_store_close(fx->st);
	fx->st = NULL;

	assert_int_equal(ca_store_open_at_version(fx->path, 4, &fx->st, &err),
	    CG_OK);
	assert_int_equal(ca_store_schema_version(fx->st), 4);
	assert_string_equal(q(fx->st, "SELECT group_concat(name) FROM (SELECT "
	    "name FROM sqlite_master WHERE type = 'table' AND name LIKE "
	    "'scep_%' ORDER BY name)"), "scep_challenges,scep_txns");
	assert_string_equal(q(fx->st, "SELECT kid FROM acme_eab"), "k");
	chall_ok(fx->st, "default", H1, T0, T0 + HOUR);
	txn_ok(fx->st, "default", "t", CA_SCEP_STATUS_PENDING);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_challenge_spent_once,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_challenge_inputs,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_challenge_list_purge,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_challenge_caller_tx,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_txn_lifecycle,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_txn_inputs,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_txn_purge,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_txn_forget,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_query_plans,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_3_to_4,
		    fx_setup_closed, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
