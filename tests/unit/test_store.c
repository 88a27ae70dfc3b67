/*
 * test_store.c - the SQLite store through its public API: certificate
 * insert and look-up (serial spellings, thumbprints), list filters,
 * revocation and its generation counter, CRL numbers, the outbox inside
 * rolled-back transactions, the audit log, pending requests (add, find,
 * list, decide once), durability, file modes, schema
 * migrations (older, partial, failing and newer databases), two
 * connections on one file, a busy writer, and processes racing.  The raw
 * sqlite3 API is used only to inspect or to build odd databases by hand.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "certgw/core.h"
#include "certgw/store.h"
#include "ca_store_int.h"
#include "ca_test.h"

#define DAY	86400

struct fx {
	char		 dir[PATH_MAX];		/* temporary directory */
	char		 path[PATH_MAX + 32];	/* database file in it */
	struct ca_store	*st;			/* open store */
};

/* A certificate record with its own storage. */
struct tcert {
	struct ca_cert_rec rec;
	char		 serial[CA_STORE_ID_MAX + 1];
	char		 profile[32];
	char		 sha1[41];
	char		 sha256[65];
	uint8_t		 der[8];
};

/* Serials seen by a listing callback, "A,B,C". */
struct collect {
	char		 serials[512];
	size_t		 n;
	size_t		 stop_after;		/* 0: never stop */
};

/* ------------------------------------------------------------ helpers */

static int
fx_setup_closed(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	cafx_mkdtemp(fx->dir, sizeof(fx->dir), "test_store");
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
		/* cmocka skips the teardown when setup fails. */
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

static void
reopen(struct fx *fx)
{
	struct cg_err	 err = { 0 };

	ca_store_close(fx->st);
	fx->st = NULL;
	assert_int_equal(ca_store_open(fx->path, &fx->st, &err), CG_OK);
}

static void
tcert_init(struct tcert *t, const char *serial, unsigned seed,
    const char *profile, int64_t not_after, int64_t issued_at)
{
	unsigned	 h = seed * 2654435761u;

	memset(t, 0, sizeof(*t));
	snprintf(t->serial, sizeof(t->serial), "%s", serial);
	snprintf(t->profile, sizeof(t->profile), "%s", profile);
	snprintf(t->sha1, sizeof(t->sha1), "%08x%08x%08x%08x%08x", h, h, h,
	    h, seed);
	/* The upper-case tail checks that thumbprints are stored lower-case. */
	snprintf(t->sha256, sizeof(t->sha256), "%08x%08x%08x%08x%08x%08x"
	    "%08x%08X", h, h, h, h, h, h, h, 0xABCDEF00u | (seed & 0xff));
	t->der[0] = 0x30;
	t->der[1] = 0x06;
	memcpy(t->der + 2, &seed, sizeof(seed));
	t->rec.serial = t->serial;
	t->rec.issuer = "CN=Test CA";
	t->rec.subject = "CN=host.example";
	t->rec.sans = "DNS:host.example,IP:192.0.2.1";
	t->rec.not_before = issued_at;
	t->rec.not_after = not_after;
	t->rec.profile = t->profile;
	t->rec.protocol = "cli";
	t->rec.requester = "tester";
	t->rec.sha1 = t->sha1;
	t->rec.sha256 = t->sha256;
	t->rec.der = t->der;
	t->rec.der_len = sizeof(t->der);
	t->rec.issued_at = issued_at;
}

static void
insert(struct ca_store *st, const char *serial, unsigned seed,
    const char *profile, int64_t not_after, int64_t issued_at)
{
	struct cg_err	 err = { 0 };
	struct tcert	 t;

	tcert_init(&t, serial, seed, profile, not_after, issued_at);
	assert_int_equal(ca_store_cert_insert(st, &t.rec, &err), CG_OK);
}

static enum cg_code
collect_cb(void *arg, const struct ca_cert_rec *rec)
{
	struct collect	*c = arg;
	size_t		 used = strlen(c->serials);

	snprintf(c->serials + used, sizeof(c->serials) - used, "%s%s",
	    used > 0 ? "," : "", rec->serial);
	c->n++;
	if (c->stop_after != 0 && c->n >= c->stop_after)
		return CG_EIO;
	return CG_OK;
}

static void
check_list(struct ca_store *st, const struct ca_cert_filter *f,
    const char *want)
{
	struct cg_err	 err = { 0 };
	struct collect	 c = { 0 };

	assert_int_equal(ca_store_cert_list(st, f, collect_cb, &c, &err),
	    CG_OK);
	assert_string_equal(c.serials, want);
}

static void
check_revoked(struct ca_store *st, int64_t now, const char *want)
{
	struct cg_err	 err = { 0 };
	struct collect	 c = { 0 };

	assert_int_equal(ca_store_revoked_list(st, now, collect_cb, &c, &err),
	    CG_OK);
	assert_string_equal(c.serials, want);
}

static int64_t
gen(struct ca_store *st)
{
	struct cg_err	 err = { 0 };
	int64_t		 g = -1;

	assert_int_equal(ca_store_revocation_gen(st, &g, &err), CG_OK);
	return g;
}

static size_t
outbox_n(struct ca_store *st)
{
	struct cg_err	 err = { 0 };
	size_t		 n = 99;

	assert_int_equal(ca_store_outbox_count(st, &n, &err), CG_OK);
	return n;
}

static uint64_t
crl_next(struct ca_store *st)
{
	struct cg_err	 err = { 0 };
	uint64_t	 n = 0;

	assert_int_equal(ca_store_crl_number_next(st, &n, &err), CG_OK);
	return n;
}

/* Raw access for inspection and for building odd databases by hand. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3	*db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, CA_STORE_BUSY_MS);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
raw_text(const char *path, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt	*stmt = NULL;
	sqlite3		*db = NULL;
	const char	*s;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	s = (const char *)sqlite3_column_text(stmt, 0);
	snprintf(out, outlen, "%s", s == NULL ? "(null)" : s);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

/* ---------------------------------------------------------- insert/get */

static void
test_id_parse(void **state)
{
	struct ca_store_id	 id;
	struct cg_err		 err = { 0 };
	char			 longid[CA_STORE_ID_MAX + 2];

	assert_int_equal(ca_store_id_parse("00aB", 4, &id, &err), CG_OK);
	assert_string_equal(id.serial, "AB");
	assert_string_equal(id.sha256, "");
	assert_int_equal(ca_store_id_parse("000", 3, &id, &err), CG_OK);
	assert_string_equal(id.serial, "0");
	/* Length is explicit: bytes past len are not read. */
	assert_int_equal(ca_store_id_parse("1fzz", 2, &id, &err), CG_OK);
	assert_string_equal(id.serial, "1F");

	memset(longid, 'A', CA_STORE_ID_MAX);
	longid[CA_STORE_ID_MAX] = '\0';
	assert_int_equal(ca_store_id_parse(longid, CA_STORE_ID_MAX, &id,
	    &err), CG_OK);
	assert_int_equal(strlen(id.sha256), 64);
	assert_int_equal(id.sha256[0], 'a');
	assert_int_equal(id.serial[0], 'A');

	assert_int_equal(ca_store_id_parse(longid, CA_STORE_ID_MAX + 1, &id,
	    &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_id_parse("", 0, &id, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_id_parse("12 4", 4, &id, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_id_parse("0x12", 4, &id, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_id_parse("1\0002", 3, &id, &err), CG_EINVAL);
}

static void
test_insert_get(void **state)
{
	struct fx		*fx = *state;
	struct cg_err		 err = { 0 };
	struct ca_cert_rec	*r = NULL;
	struct tcert		 t;
	char			 upper[65];
	size_t			 i;

	tcert_init(&t, "00ab12", 1, "tls", 2000, 1000);
	assert_int_equal(ca_store_cert_insert(fx->st, &t.rec, &err), CG_OK);

	assert_int_equal(ca_store_cert_get(fx->st, "AB12", &r, &err), CG_OK);
	assert_string_equal(r->serial, "AB12");
	assert_string_equal(r->issuer, "CN=Test CA");
	assert_string_equal(r->subject, "CN=host.example");
	assert_string_equal(r->sans, "DNS:host.example,IP:192.0.2.1");
	assert_string_equal(r->profile, "tls");
	assert_string_equal(r->protocol, "cli");
	assert_string_equal(r->requester, "tester");
	assert_string_equal(r->sha1, t.sha1);
	/* Stored lower-case although the test wrote an upper-case digit. */
	assert_int_equal(strlen(r->sha256), 64);
	for (i = 0; i < 64; i++)
		assert_false(r->sha256[i] >= 'A' && r->sha256[i] <= 'F');
	assert_int_equal(r->der_len, sizeof(t.der));
	assert_memory_equal(r->der, t.der, sizeof(t.der));
	assert_int_equal(r->not_before, 1000);
	assert_int_equal(r->not_after, 2000);
	assert_int_equal(r->issued_at, 1000);
	assert_int_equal(r->status, CA_CERT_VALID);
	assert_int_equal(r->revoked_at, 0);
	assert_int_equal(r->revoke_reason, -1);
	ca_cert_rec_free(r);
	r = NULL;

	/* Other spellings of the same serial. */
	assert_int_equal(ca_store_cert_get(fx->st, "ab12", &r, &err), CG_OK);
	ca_cert_rec_free(r);
	assert_int_equal(ca_store_cert_get(fx->st, "0000Ab12", &r, &err),
	    CG_OK);
	assert_string_equal(r->serial, "AB12");
	ca_cert_rec_free(r);

	/* By thumbprint, in either case. */
	for (i = 0; i < 64; i++)
		upper[i] = (char)(t.sha256[i] >= 'a' ? t.sha256[i] - 32 :
		    t.sha256[i]);
	upper[64] = '\0';
	assert_int_equal(ca_store_cert_get(fx->st, upper, &r, &err), CG_OK);
	assert_string_equal(r->serial, "AB12");
	ca_cert_rec_free(r);
	r = NULL;

	assert_int_equal(ca_store_cert_get(fx->st, "AB13", &r, &err),
	    CG_ENOTFOUND);
	assert_null(r);
	cg_err_clear(&err);
	assert_int_equal(ca_store_cert_get(fx->st, "not-hex", &r, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	memset(upper, '1', 64);
	upper[64] = '\0';
	assert_int_equal(ca_store_cert_get(fx->st, upper, &r, &err),
	    CG_ENOTFOUND);
	cg_err_clear(&err);
	ca_cert_rec_free(NULL);
}

static void
test_get_long_serial_falls_back(void **state)
{
	struct fx		*fx = *state;
	struct cg_err		 err = { 0 };
	struct ca_cert_rec	*r = NULL;
	char			 serial[65], id[66];

	/* 64 hex digits that are a serial, not anyone's thumbprint. */
	memset(serial, 'C', 64);
	serial[64] = '\0';
	insert(fx->st, serial, 2, "tls", 2000, 1000);
	assert_int_equal(ca_store_cert_get(fx->st, serial, &r, &err), CG_OK);
	assert_string_equal(r->serial, serial);
	ca_cert_rec_free(r);
	r = NULL;

	/* 65 characters are too long even with a leading zero. */
	snprintf(id, sizeof(id), "0%s", serial);
	assert_int_equal(ca_store_cert_get(fx->st, id, &r, &err), CG_EINVAL);
	assert_null(r);
}

static void
test_insert_conflicts(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	struct tcert	 t;

	insert(fx->st, "0A", 1, "tls", 2000, 1000);

	/* Same serial, other spelling, other thumbprint. */
	tcert_init(&t, "000a", 2, "tls", 2000, 1000);
	assert_int_equal(ca_store_cert_insert(fx->st, &t.rec, &err),
	    CG_ECONFLICT);
	assert_null(strstr(err.msg, "sqlite"));
	assert_non_null(strstr(err.detail, "sqlite"));
	cg_err_clear(&err);

	/* Same thumbprint under another serial. */
	tcert_init(&t, "0B", 1, "tls", 2000, 1000);
	assert_int_equal(ca_store_cert_insert(fx->st, &t.rec, &err),
	    CG_ECONFLICT);
	cg_err_clear(&err);

	tcert_init(&t, "0C", 3, "tls", 2000, 1000);
	t.rec.sha256 = "abc";
	assert_int_equal(ca_store_cert_insert(fx->st, &t.rec, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	tcert_init(&t, "xyz", 3, "tls", 2000, 1000);
	assert_int_equal(ca_store_cert_insert(fx->st, &t.rec, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	tcert_init(&t, "0C", 3, "tls", 2000, 1000);
	t.rec.der_len = 0;
	assert_int_equal(ca_store_cert_insert(fx->st, &t.rec, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	/* Nothing of the failed attempts was recorded. */
	check_list(fx->st, NULL, "A");
}

/* Allocation failures while building a record leak nothing (ASan). */
static void
test_get_alloc_failures(void **state)
{
	struct fx		*fx = *state;
	struct cg_err		 err = { 0 };
	struct ca_cert_rec	*r;
	enum cg_code		 rc;
	long			 n;

	insert(fx->st, "77", 7, "tls", 2000, 1000);
	for (n = 0; n < 16; n++) {
		cg_err_clear(&err);
		r = NULL;
		cg_alloc_fail_after(n);
		rc = ca_store_cert_get(fx->st, "77", &r, &err);
		cg_alloc_fail_after(-1);
		if (rc == CG_OK) {
			assert_string_equal(r->serial, "77");
			ca_cert_rec_free(r);
			break;
		}
		assert_int_equal(rc, CG_ENOMEM);
		assert_null(r);
	}
	assert_true(n > 0 && n < 16);
}

/* -------------------------------------------------------------- lists */

static void
test_list_filters(void **state)
{
	struct fx		*fx = *state;
	struct ca_cert_filter	 f = { .status = -1 };
	struct cg_err		 err = { 0 };
	struct collect		 c = { 0 };
	int64_t			 now = 1700000000;

	insert(fx->st, "A", 1, "tls", now + 100, 1);	/* valid, soon */
	insert(fx->st, "B", 2, "dev", now - 10, 2);	/* expired */
	insert(fx->st, "C", 3, "tls", now + 150, 3);	/* revoked below */
	insert(fx->st, "D", 4, "tls", now + 5000, 4);	/* valid, later */
	insert(fx->st, "E", 5, "dev", now + 5000, 4);	/* same issued_at */
	assert_int_equal(ca_store_cert_revoke(fx->st, "C", 1, now, &err),
	    CG_OK);
	f.now = now;

	check_list(fx->st, &f, "E,D,C,B,A");
	check_list(fx->st, NULL, "E,D,C,B,A");
	f.profile = "tls";
	check_list(fx->st, &f, "D,C,A");
	f.profile = "none";
	check_list(fx->st, &f, "");
	f.profile = NULL;

	f.status = CA_CERT_VALID;
	check_list(fx->st, &f, "E,D,A");
	f.status = CA_CERT_REVOKED;
	check_list(fx->st, &f, "C");
	f.status = CA_FILTER_EXPIRED;
	check_list(fx->st, &f, "B");

	/* Expiring soon: not yet expired, so B is out; C is revoked. */
	f.status = -1;
	f.expiring_before = now + 200;
	check_list(fx->st, &f, "C,A");
	f.status = CA_CERT_VALID;
	check_list(fx->st, &f, "A");
	f.expiring_before = 0;

	f.status = -1;
	f.limit = 2;
	check_list(fx->st, &f, "E,D");
	f.profile = "dev";
	f.limit = 1;
	check_list(fx->st, &f, "E");
	f.profile = NULL;
	f.limit = 0;

	/* A callback error stops the listing and comes back. */
	c.stop_after = 2;
	assert_int_equal(ca_store_cert_list(fx->st, &f, collect_cb, &c, &err),
	    CG_EIO);
	assert_int_equal(c.n, 2);
	assert_int_equal(err.code, CG_EIO);
	cg_err_clear(&err);

	f.status = 3;
	assert_int_equal(ca_store_cert_list(fx->st, &f, collect_cb, &c, &err),
	    CG_EINVAL);
}

/* Inside a listing, the same statements are needed again. */
struct nested {
	struct ca_store	*st;
	int		 rows;		/* outer rows seen */
	int		 inner;		/* rows seen by the inner listings */
};

static enum cg_code
inner_cb(void *arg, const struct ca_cert_rec *rec)
{
	(*(int *)arg)++;
	return CG_OK;
}

static enum cg_code
nested_cb(void *arg, const struct ca_cert_rec *rec)
{
	struct nested		*n = arg;
	struct ca_cert_rec	*got = NULL;
	struct cg_err		 err = { 0 };
	enum cg_code		 rc;

	n->rows++;
	rc = ca_store_cert_get(n->st, rec->serial, &got, &err);
	if (rc == CG_OK && strcmp(got->serial, rec->serial) != 0)
		rc = CG_EINTERNAL;
	ca_cert_rec_free(got);
	if (rc == CG_OK)
		rc = ca_store_cert_list(n->st, NULL, inner_cb, &n->inner, &err);
	return rc;
}

/*
 * Statements are prepared once and kept (ca_store_prepare): one in use by
 * a listing is not handed out again to a nested call, and a kept one
 * comes back reset, with fresh bindings.
 */
static void
test_statement_reuse(void **state)
{
	struct fx		*fx = *state;
	struct ca_cert_filter	 f = { .status = -1 };
	struct cg_err		 err = { 0 };
	struct nested		 n = { .st = fx->st };
	int			 round;

	insert(fx->st, "A1", 1, "tls", 1700000100, 1);
	insert(fx->st, "B2", 2, "dev", 1700000200, 2);
	insert(fx->st, "C3", 3, "tls", 1700000300, 3);
	assert_int_equal(ca_store_cert_list(fx->st, NULL, nested_cb, &n,
	    &err), CG_OK);
	assert_int_equal(n.rows, 3);
	assert_int_equal(n.inner, 9);
	/* The same filtered query, again and again, with other values. */
	for (round = 0; round < 3; round++) {
		f.now = 1700000000;
		f.profile = "tls";
		check_list(fx->st, &f, "C3,A1");
		f.profile = "dev";
		check_list(fx->st, &f, "B2");
	}
	/* An error inside a listing leaves nothing half-used behind. */
	assert_int_equal(ca_store_cert_revoke(fx->st, "A1", 1, 1700000000,
	    &err), CG_OK);
	assert_int_equal(ca_store_cert_revoke(fx->st, "A1", 1, 1700000000,
	    &err), CG_ECONFLICT);
	cg_err_clear(&err);
	f.profile = NULL;
	f.status = CA_CERT_REVOKED;
	check_list(fx->st, &f, "A1");
}

/* --------------------------------------------------------- revocation */

static void
test_revoke(void **state)
{
	struct fx		*fx = *state;
	struct cg_err		 err = { 0 };
	struct ca_cert_rec	*r = NULL;
	int64_t			 now = 1700000000;

	insert(fx->st, "0A", 1, "tls", now + DAY, now - DAY);
	insert(fx->st, "0B", 2, "tls", now - 1, now - 2 * DAY);	/* expired */
	insert(fx->st, "0C", 3, "tls", now + DAY, now - DAY);
	assert_int_equal(gen(fx->st), 0);

	assert_int_equal(ca_store_cert_revoke(fx->st, "FF", 0, now, &err),
	    CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(gen(fx->st), 0);

	assert_int_equal(ca_store_cert_revoke(fx->st, "000a", 1, now, &err),
	    CG_OK);
	assert_int_equal(gen(fx->st), 1);
	assert_int_equal(ca_store_cert_get(fx->st, "A", &r, &err), CG_OK);
	assert_int_equal(r->status, CA_CERT_REVOKED);
	assert_int_equal(r->revoked_at, now);
	assert_int_equal(r->revoke_reason, 1);
	ca_cert_rec_free(r);

	assert_int_equal(ca_store_cert_revoke(fx->st, "A", 4, now + 5, &err),
	    CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(gen(fx->st), 1);

	/* RFC 5280: 7 is not a reason; 11 does not exist. */
	assert_int_equal(ca_store_cert_revoke(fx->st, "C", 7, now, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_cert_revoke(fx->st, "C", 11, now, &err),
	    CG_EINVAL);
	cg_err_clear(&err);

	/* Inside a transaction that is rolled back, nothing changes. */
	assert_int_equal(ca_store_begin(fx->st, &err), CG_OK);
	assert_int_equal(ca_store_cert_revoke(fx->st, "C", 5, now, &err),
	    CG_OK);
	assert_int_equal(gen(fx->st), 2);
	ca_store_rollback(fx->st);
	assert_int_equal(gen(fx->st), 1);
	check_revoked(fx->st, now, "A");

	/* The CRL leaves out revoked certificates that have expired. */
	assert_int_equal(ca_store_cert_revoke(fx->st, "B", 0, now, &err),
	    CG_OK);
	assert_int_equal(gen(fx->st), 2);
	check_revoked(fx->st, now, "A");
	check_revoked(fx->st, now - 1, "A,B");
	check_revoked(fx->st, now + 2 * DAY, "");
}

static void
test_crl_numbers(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };

	assert_int_equal(crl_next(fx->st), 1);
	assert_int_equal(crl_next(fx->st), 2);
	reopen(fx);
	assert_int_equal(crl_next(fx->st), 3);

	/* Inside a rolled-back transaction the number is not used up. */
	assert_int_equal(ca_store_begin(fx->st, &err), CG_OK);
	assert_int_equal(crl_next(fx->st), 4);
	ca_store_rollback(fx->st);
	assert_int_equal(crl_next(fx->st), 4);
	reopen(fx);
	assert_int_equal(crl_next(fx->st), 5);
}

/* ------------------------------------------------------------- outbox */

static void
test_outbox_rollback(void **state)
{
	struct fx		*fx = *state;
	struct cg_err		 err = { 0 };
	struct ca_cert_rec	*r = NULL;
	struct tcert		 t;

	assert_int_equal(outbox_n(fx->st), 0);

	/* Issuance that fails after the rows are written leaves nothing. */
	tcert_init(&t, "1234", 1, "tls", 2000, 1000);
	assert_int_equal(ca_store_begin(fx->st, &err), CG_OK);
	assert_int_equal(ca_store_cert_insert(fx->st, &t.rec, &err), CG_OK);
	assert_int_equal(ca_store_outbox_add(fx->st, "idm", "1234",
	    "{\"job\":1}", &err), CG_OK);
	assert_int_equal(ca_store_outbox_add(fx->st, "backup", "01234",
	    "{\"job\":2}", &err), CG_OK);
	assert_int_equal(outbox_n(fx->st), 2);
	ca_store_rollback(fx->st);
	assert_int_equal(outbox_n(fx->st), 0);
	assert_int_equal(ca_store_cert_get(fx->st, "1234", &r, &err),
	    CG_ENOTFOUND);
	cg_err_clear(&err);

	/* The same, committed, keeps both. */
	assert_int_equal(ca_store_begin(fx->st, &err), CG_OK);
	assert_int_equal(ca_store_cert_insert(fx->st, &t.rec, &err), CG_OK);
	assert_int_equal(ca_store_outbox_add(fx->st, "idm", "1234",
	    "{\"job\":1}", &err), CG_OK);
	assert_int_equal(ca_store_commit(fx->st, &err), CG_OK);
	reopen(fx);
	assert_int_equal(outbox_n(fx->st), 1);
	assert_int_equal(ca_store_cert_get(fx->st, "1234", &r, &err), CG_OK);
	ca_cert_rec_free(r);

	/* A job needs a recorded certificate, or none at all. */
	assert_int_equal(ca_store_outbox_add(fx->st, "idm", "99", "{}", &err),
	    CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(ca_store_outbox_add(fx->st, "notify", NULL, "{}",
	    &err), CG_OK);
	assert_int_equal(outbox_n(fx->st), 2);
	assert_int_equal(ca_store_outbox_add(fx->st, NULL, NULL, "{}", &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_outbox_add(fx->st, "idm", "zz", "{}", &err),
	    CG_EINVAL);
	cg_err_clear(&err);
}

/* Collects pending outbox jobs as "rule:serial:payload" and their ids. */
struct jobs_seen {
	char		 text[512];
	int64_t		 ids[16];
	size_t		 n;
	size_t		 stop_after;	/* CG_EIO after this many; 0: never */
};

static enum cg_code
jobs_cb(void *arg, const struct ca_outbox_job *job)
{
	struct jobs_seen	*js = arg;
	size_t			 len = strlen(js->text);

	if (js->stop_after != 0 && js->n == js->stop_after)
		return CG_EIO;
	snprintf(js->text + len, sizeof(js->text) - len, "%s%s:%s:%s",
	    len > 0 ? "," : "", job->rule, job->serial, job->payload);
	if (js->n < 16)
		js->ids[js->n] = job->id;
	js->n++;
	return CG_OK;
}

/* The relay's view: pending jobs oldest first, marked relayed in batches. */
static void
test_outbox_relay(void **state)
{
	struct fx		*fx = *state;
	struct cg_err		 err = { 0 };
	struct jobs_seen	 js;
	struct tcert		 t;
	size_t			 n = 0;
	int64_t			 age = -1, now = cg_now();

	assert_int_equal(ca_store_outbox_oldest(fx->st, now, &age, &err),
	    CG_OK);
	assert_int_equal(age, 0);
	tcert_init(&t, "AB01", 1, "tls", 2000, 1000);
	assert_int_equal(ca_store_cert_insert(fx->st, &t.rec, &err), CG_OK);
	assert_int_equal(ca_store_outbox_add(fx->st, "idm", "AB01", "{\"a\":1}",
	    &err), CG_OK);
	assert_int_equal(ca_store_outbox_add(fx->st, "bak", "AB01", "{\"a\":2}",
	    &err), CG_OK);
	assert_int_equal(ca_store_outbox_add(fx->st, "note", NULL, "{}", &err),
	    CG_OK);

	memset(&js, 0, sizeof(js));
	assert_int_equal(ca_store_outbox_pending(fx->st, 2, jobs_cb, &js,
	    &err), CG_OK);
	assert_string_equal(js.text, "idm:AB01:{\"a\":1},bak:AB01:{\"a\":2}");
	assert_true(js.ids[0] < js.ids[1]);
	assert_int_equal(ca_store_outbox_oldest(fx->st, now + 100, &age, &err),
	    CG_OK);
	assert_true(age >= 99 && age <= 101);

	/* Mark the first two; the third is what remains. */
	assert_int_equal(ca_store_outbox_relayed(fx->st, js.ids, 2, now, &n,
	    &err), CG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(outbox_n(fx->st), 1);
	assert_int_equal(ca_store_outbox_relayed(fx->st, js.ids, 2, now, &n,
	    &err), CG_OK);
	assert_int_equal(n, 0);		/* already relayed: unchanged */
	memset(&js, 0, sizeof(js));
	assert_int_equal(ca_store_outbox_pending(fx->st, 10, jobs_cb, &js,
	    &err), CG_OK);
	assert_string_equal(js.text, "note::{}");
	reopen(fx);
	assert_int_equal(outbox_n(fx->st), 1);

	/* A callback error stops the listing; bad arguments are refused. */
	assert_int_equal(ca_store_outbox_add(fx->st, "idm", "AB01", "{}",
	    &err), CG_OK);
	memset(&js, 0, sizeof(js));
	js.stop_after = 1;
	assert_int_equal(ca_store_outbox_pending(fx->st, 10, jobs_cb, &js,
	    &err), CG_EIO);
	assert_int_equal(js.n, 1);
	assert_int_equal(ca_store_outbox_pending(fx->st, 0, jobs_cb, &js,
	    &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_outbox_pending(fx->st,
	    CA_STORE_OUTBOX_BATCH + 1, jobs_cb, &js, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_outbox_relayed(fx->st, NULL, 1, now, &n,
	    &err), CG_EINVAL);
	cg_err_clear(&err);
}

static void
test_outbox_payload_limit(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	char		*big;

	big = malloc(CA_STORE_PAYLOAD_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', CA_STORE_PAYLOAD_MAX + 1);
	big[CA_STORE_PAYLOAD_MAX + 1] = '\0';
	assert_int_equal(ca_store_outbox_add(fx->st, "idm", NULL, big, &err),
	    CG_ETOOBIG);
	cg_err_clear(&err);
	big[CA_STORE_PAYLOAD_MAX] = '\0';
	assert_int_equal(ca_store_outbox_add(fx->st, "idm", NULL, big, &err),
	    CG_OK);
	free(big);
	assert_int_equal(outbox_n(fx->st), 1);
}

/* -------------------------------------------------------------- audit */

struct audit_seen {
	char		 rows[512];		/* "actor:action:...;" */
	size_t		 n;
	int64_t		 last_id;
	int64_t		 min_at;
	int64_t		 max_at;
};

static enum cg_code
audit_cb(void *arg, const struct ca_audit_rec *rec)
{
	struct audit_seen	*s = arg;
	size_t			 used = strlen(s->rows);

	assert_true(rec->id > s->last_id);
	s->last_id = rec->id;
	if (s->n == 0 || rec->at < s->min_at)
		s->min_at = rec->at;
	if (s->n == 0 || rec->at > s->max_at)
		s->max_at = rec->at;
	snprintf(s->rows + used, sizeof(s->rows) - used, "%s:%s:%s:%s:%s;",
	    rec->actor, rec->action, rec->target, rec->outcome, rec->detail);
	s->n++;
	return CG_OK;
}

static enum cg_code
audit_stop_cb(void *arg, const struct ca_audit_rec *rec)
{
	return CG_EDENIED;
}

static void
test_audit(void **state)
{
	struct fx		*fx = *state;
	struct cg_err		 err = { 0 };
	struct audit_seen	 s = { 0 };
	int64_t			 t0 = cg_now();
	char			 big[CA_STORE_TEXT_MAX + 2];

	assert_int_equal(ca_store_audit_add(fx->st, "cli:root", "init", NULL,
	    "ok", NULL, &err), CG_OK);
	assert_int_equal(ca_store_audit_add(fx->st, "est:dev1", "issue",
	    "AB12", "ok", "profile=tls", &err), CG_OK);
	assert_int_equal(ca_store_audit_add(fx->st, "acme:acct/7", "issue",
	    "", "refused", "san not allowed", &err), CG_OK);

	assert_int_equal(ca_store_audit_list(fx->st, 0, audit_cb, &s, &err),
	    CG_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.rows, "cli:root:init::ok:;"
	    "est:dev1:issue:AB12:ok:profile=tls;"
	    "acme:acct/7:issue::refused:san not allowed;");
	assert_true(s.min_at >= t0 && s.max_at <= cg_now());

	/* since: move the first two rows into the past by hand. */
	raw_exec(fx->path, "UPDATE audit SET at = 100 WHERE id = 1;"
	    "UPDATE audit SET at = 200 WHERE id = 2");
	memset(&s, 0, sizeof(s));
	assert_int_equal(ca_store_audit_list(fx->st, 150, audit_cb, &s, &err),
	    CG_OK);
	assert_string_equal(s.rows, "est:dev1:issue:AB12:ok:profile=tls;"
	    "acme:acct/7:issue::refused:san not allowed;");
	memset(&s, 0, sizeof(s));
	assert_int_equal(ca_store_audit_list(fx->st, t0 + DAY, audit_cb, &s,
	    &err), CG_OK);
	assert_int_equal(s.n, 0);

	assert_int_equal(ca_store_audit_list(fx->st, 0, audit_stop_cb, NULL,
	    &err), CG_EDENIED);
	cg_err_clear(&err);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ca_store_audit_add(fx->st, "cli:root", "issue", NULL,
	    "ok", big, &err), CG_ETOOBIG);
	cg_err_clear(&err);
	assert_int_equal(ca_store_audit_add(fx->st, NULL, "issue", NULL, "ok",
	    NULL, &err), CG_EINVAL);
}

/* --------------------------------------------------- durability, files */

static void
test_durable_across_reopen(void **state)
{
	struct fx		*fx = *state;
	struct cg_err		 err = { 0 };
	struct ca_cert_rec	*r = NULL;
	struct audit_seen	 s = { 0 };

	insert(fx->st, "DEAD", 1, "tls", 5000, 1000);
	assert_int_equal(ca_store_outbox_add(fx->st, "idm", "dead", "{}",
	    &err), CG_OK);
	assert_int_equal(ca_store_audit_add(fx->st, "cli:root", "issue",
	    "DEAD", "ok", NULL, &err), CG_OK);
	assert_int_equal(ca_store_cert_revoke(fx->st, "DEAD", 4, 1500, &err),
	    CG_OK);
	reopen(fx);
	assert_int_equal(ca_store_schema_version(fx->st),
	    CA_STORE_SCHEMA_VERSION);
	assert_int_equal(ca_store_cert_get(fx->st, "dead", &r, &err), CG_OK);
	assert_int_equal(r->status, CA_CERT_REVOKED);
	assert_int_equal(r->revoke_reason, 4);
	assert_int_equal(r->revoked_at, 1500);
	ca_cert_rec_free(r);
	assert_int_equal(outbox_n(fx->st), 1);
	assert_int_equal(gen(fx->st), 1);
	assert_int_equal(ca_store_audit_list(fx->st, 0, audit_cb, &s, &err),
	    CG_OK);
	assert_int_equal(s.n, 1);
}

static void
check_mode(const char *path)
{
	struct stat	 sb;

	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
}

static void
test_file_mode(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	char		 wal[PATH_MAX + 40];
	mode_t		 old;

	/* A permissive umask must not loosen the files. */
	old = umask(0);
	assert_int_equal(ca_store_open(fx->path, &fx->st, &err), CG_OK);
	insert(fx->st, "01", 1, "tls", 5000, 1000);
	umask(old);
	check_mode(fx->path);
	snprintf(wal, sizeof(wal), "%s-wal", fx->path);
	check_mode(wal);
	snprintf(wal, sizeof(wal), "%s-shm", fx->path);
	check_mode(wal);
}

static void
test_pragmas(void **state)
{
	struct fx	*fx = *state;
	char		 v[32];

	raw_text(fx->path, "PRAGMA journal_mode", v, sizeof(v));
	assert_string_equal(v, "wal");
}

static void
test_open_errors(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	struct ca_store	*st = (struct ca_store *)&err;	/* must be NULLed */
	char		 p[PATH_MAX + 16];
	char		 junk[4096];

	snprintf(p, sizeof(p), "%s/no/such/dir.db", fx->dir);
	assert_int_equal(ca_store_open(p, &st, &err), CG_EIO);
	assert_null(st);
	assert_null(strstr(err.msg, fx->dir));
	cg_err_clear(&err);

	snprintf(p, sizeof(p), "%s/junk.db", fx->dir);
	memset(junk, 'j', sizeof(junk));
	assert_int_equal(cg_file_write(p, junk, sizeof(junk), 0600, true,
	    &err), CG_OK);
	assert_int_equal(ca_store_open(p, &st, &err), CG_EIO);
	assert_null(st);
	assert_non_null(strstr(err.detail, "sqlite"));
	cg_err_clear(&err);

	assert_int_equal(ca_store_open("", &st, &err), CG_EINVAL);
	cg_err_clear(&err);
	ca_store_close(NULL);
	ca_store_rollback(NULL);
}

static void
test_transactions(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };

	ca_store_rollback(fx->st);		/* no-op outside one */
	assert_int_equal(ca_store_begin(fx->st, &err), CG_OK);
	assert_int_equal(ca_store_begin(fx->st, &err), CG_EINTERNAL);
	cg_err_clear(&err);
	insert(fx->st, "0F", 1, "tls", 5000, 1000);
	assert_int_equal(ca_store_commit(fx->st, &err), CG_OK);
	check_list(fx->st, NULL, "F");
	/* Commit outside a transaction is an error, not a crash. */
	assert_int_equal(ca_store_commit(fx->st, &err), CG_EINTERNAL);
}

/* ------------------------------------------------------------ pending */

/* A pending row with its own storage. */
struct tpend {
	struct ca_pending_rec rec;
	char		 sha[65];
	uint8_t		 der[16];
};

static void
tpend_init(struct tpend *t, const char *protocol, const char *profile,
    unsigned seed)
{
	memset(t, 0, sizeof(*t));
	/* Upper-case on the way in: stored and found lower-case. */
	snprintf(t->sha, sizeof(t->sha), "%056X%08X", 0u, seed);
	t->der[0] = 0x30;
	t->der[1] = 0x0e;
	memcpy(t->der + 2, &seed, sizeof(seed));
	t->rec.protocol = (char *)protocol;
	t->rec.profile = (char *)profile;
	t->rec.requester = "est:alice";
	t->rec.subject = "CN=dev1";
	t->rec.sans = "DNS:dev1.example.com";
	t->rec.csr_sha256 = t->sha;
	t->rec.csr_der = t->der;
	t->rec.csr_len = sizeof(t->der);
	t->rec.created_at = 1000 + seed;
}

static int64_t
pend_add(struct ca_store *st, const char *protocol, const char *profile,
    unsigned seed)
{
	struct cg_err	 err = { 0 };
	struct tpend	 t;
	int64_t		 id = 0;

	tpend_init(&t, protocol, profile, seed);
	assert_int_equal(ca_store_pending_add(st, &t.rec, &id, &err), CG_OK);
	assert_true(id > 0);
	return id;
}

/* Ids seen by a pending listing, "1,2,3". */
struct pcollect {
	char		 ids[256];
	size_t		 n;
};

static enum cg_code
pcollect_cb(void *arg, const struct ca_pending_rec *r)
{
	struct pcollect	*c = arg;
	size_t		 used = strlen(c->ids);

	snprintf(c->ids + used, sizeof(c->ids) - used, "%s%lld",
	    used > 0 ? "," : "", (long long)r->id);
	c->n++;
	return CG_OK;
}

static void
check_pending(struct ca_store *st, int status, const char *want)
{
	struct cg_err	 err = { 0 };
	struct pcollect	 c = { 0 };

	assert_int_equal(ca_store_pending_list(st, status, pcollect_cb, &c,
	    &err), CG_OK);
	assert_string_equal(c.ids, want);
}

static void
test_pending_add_get(void **state)
{
	struct fx		*fx = *state;
	struct ca_pending_rec	*r = NULL;
	struct cg_err		 err = { 0 };
	struct tpend		 t;
	int64_t			 id;

	id = pend_add(fx->st, "est", "device", 7);
	tpend_init(&t, "est", "device", 7);
	assert_int_equal(ca_store_pending_get(fx->st, id, &r, &err), CG_OK);
	assert_int_equal(r->id, id);
	assert_string_equal(r->protocol, "est");
	assert_string_equal(r->profile, "device");
	assert_string_equal(r->requester, "est:alice");
	assert_string_equal(r->subject, "CN=dev1");
	assert_string_equal(r->sans, "DNS:dev1.example.com");
	assert_string_equal(r->csr_sha256, "000000000000000000000000000000000"
	    "0000000000000000000000000000007");
	assert_int_equal(r->csr_len, sizeof(t.der));
	assert_memory_equal(r->csr_der, t.der, sizeof(t.der));
	assert_int_equal(r->status, CA_PENDING_WAITING);
	assert_int_equal(r->created_at, 1007);
	assert_int_equal(r->decided_at, 0);
	assert_string_equal(r->decided_by, "");
	assert_string_equal(r->cert_serial, "");
	ca_pending_rec_free(r);
	r = NULL;

	/* Ids increase and are never reused. */
	assert_true(pend_add(fx->st, "est", "device", 8) > id);
	assert_int_equal(ca_store_pending_get(fx->st, 999, &r, &err),
	    CG_ENOTFOUND);
	assert_null(r);
	ca_pending_rec_free(NULL);
}

static void
test_pending_find_newest(void **state)
{
	struct fx		*fx = *state;
	struct ca_pending_rec	*r = NULL;
	struct cg_err		 err = { 0 };
	struct tpend		 t;
	int64_t			 a, b;

	a = pend_add(fx->st, "est", "device", 1);
	pend_add(fx->st, "scep", "device", 1);	/* other protocol */
	pend_add(fx->st, "est", "server", 1);	/* other profile */
	pend_add(fx->st, "est", "device", 2);	/* other CSR */
	tpend_init(&t, "est", "device", 1);
	assert_int_equal(ca_store_pending_find(fx->st, "est", "device", t.sha,
	    &r, &err), CG_OK);
	assert_int_equal(r->id, a);
	ca_pending_rec_free(r);
	r = NULL;

	/* A second row for the same request: the newest one is found. */
	b = pend_add(fx->st, "est", "device", 1);
	assert_true(b > a);
	assert_int_equal(ca_store_pending_find(fx->st, "est", "device",
	    "00000000000000000000000000000000000000000000000000000000"
	    "00000001", &r, &err), CG_OK);
	assert_int_equal(r->id, b);
	ca_pending_rec_free(r);
	r = NULL;

	assert_int_equal(ca_store_pending_find(fx->st, "est", "device",
	    "ff00000000000000000000000000000000000000000000000000000000000001",
	    &r, &err), CG_ENOTFOUND);
	assert_null(r);
	cg_err_clear(&err);
	assert_int_equal(ca_store_pending_find(fx->st, "est", "device", "abc",
	    &r, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_pending_find(fx->st, "est", "device",
	    "zz00000000000000000000000000000000000000000000000000000000000001",
	    &r, &err), CG_EINVAL);
}

/* One certificate row for approvals to point at. */
static void
pend_cert(struct ca_store *st, const char *serial, unsigned seed)
{
	insert(st, serial, seed, "device", 5000, 1000);
}

static void
test_pending_decide(void **state)
{
	struct fx		*fx = *state;
	struct ca_pending_rec	*r = NULL;
	struct cg_err		 err = { 0 };
	int64_t			 a, b, t0;

	a = pend_add(fx->st, "est", "device", 1);
	b = pend_add(fx->st, "est", "device", 2);
	pend_cert(fx->st, "0A1B", 1);
	t0 = cg_now();

	assert_int_equal(ca_store_pending_decide(fx->st, a,
	    CA_PENDING_APPROVED, "cli:root", "a1b", &err), CG_OK);
	assert_int_equal(ca_store_pending_get(fx->st, a, &r, &err), CG_OK);
	assert_int_equal(r->status, CA_PENDING_APPROVED);
	assert_string_equal(r->cert_serial, "A1B");
	assert_string_equal(r->decided_by, "cli:root");
	assert_true(r->decided_at >= t0);
	ca_pending_rec_free(r);
	r = NULL;

	assert_int_equal(ca_store_pending_decide(fx->st, b,
	    CA_PENDING_REJECTED, "cli:bob", NULL, &err), CG_OK);
	assert_int_equal(ca_store_pending_get(fx->st, b, &r, &err), CG_OK);
	assert_int_equal(r->status, CA_PENDING_REJECTED);
	assert_string_equal(r->cert_serial, "");
	assert_string_equal(r->decided_by, "cli:bob");
	ca_pending_rec_free(r);
	r = NULL;

	/* Only a waiting row can be decided, and only once. */
	assert_int_equal(ca_store_pending_decide(fx->st, a,
	    CA_PENDING_REJECTED, "cli:root", NULL, &err), CG_ECONFLICT);
	assert_non_null(strstr(err.msg, "already approved"));
	cg_err_clear(&err);
	assert_int_equal(ca_store_pending_decide(fx->st, b,
	    CA_PENDING_APPROVED, "cli:root", "A1B", &err), CG_ECONFLICT);
	assert_non_null(strstr(err.msg, "already rejected"));
	cg_err_clear(&err);
	assert_int_equal(ca_store_pending_decide(fx->st, 999,
	    CA_PENDING_REJECTED, "cli:root", NULL, &err), CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_pending_get(fx->st, a, &r, &err), CG_OK);
	assert_int_equal(r->status, CA_PENDING_APPROVED);
	ca_pending_rec_free(r);
}

static void
test_pending_decide_checks(void **state)
{
	struct fx		*fx = *state;
	struct ca_pending_rec	*r = NULL;
	struct cg_err		 err = { 0 };
	int64_t			 a;

	a = pend_add(fx->st, "est", "device", 1);
	/* Approval needs a certificate that exists; rejection takes none. */
	assert_int_equal(ca_store_pending_decide(fx->st, a,
	    CA_PENDING_APPROVED, "cli:root", NULL, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_pending_decide(fx->st, a,
	    CA_PENDING_APPROVED, "cli:root", "BEEF", &err), CG_ECONFLICT);
	cg_err_clear(&err);
	assert_int_equal(ca_store_pending_decide(fx->st, a,
	    CA_PENDING_REJECTED, "cli:root", "BEEF", &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_pending_decide(fx->st, a,
	    CA_PENDING_WAITING, "cli:root", NULL, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_pending_decide(fx->st, a,
	    CA_PENDING_REJECTED, "", NULL, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_pending_decide(fx->st, a,
	    CA_PENDING_REJECTED, NULL, NULL, &err), CG_EINVAL);
	cg_err_clear(&err);
	/* None of that changed the row. */
	assert_int_equal(ca_store_pending_get(fx->st, a, &r, &err), CG_OK);
	assert_int_equal(r->status, CA_PENDING_WAITING);
	assert_string_equal(r->decided_by, "");
	ca_pending_rec_free(r);
}

static void
test_pending_list(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	struct pcollect	 c = { 0 };
	int64_t		 ids[4];
	int		 i;

	check_pending(fx->st, -1, "");
	for (i = 0; i < 4; i++)
		ids[i] = pend_add(fx->st, "est", "device", (unsigned)i + 1);
	assert_int_equal(ids[0], 1);
	pend_cert(fx->st, "77", 1);
	assert_int_equal(ca_store_pending_decide(fx->st, ids[1],
	    CA_PENDING_APPROVED, "cli:root", "77", &err), CG_OK);
	assert_int_equal(ca_store_pending_decide(fx->st, ids[3],
	    CA_PENDING_REJECTED, "cli:root", NULL, &err), CG_OK);
	/* Oldest first, filtered by status. */
	check_pending(fx->st, -1, "1,2,3,4");
	check_pending(fx->st, CA_PENDING_WAITING, "1,3");
	check_pending(fx->st, CA_PENDING_APPROVED, "2");
	check_pending(fx->st, CA_PENDING_REJECTED, "4");
	assert_int_equal(ca_store_pending_list(fx->st, CA_PENDING__MAX,
	    pcollect_cb, &c, &err), CG_EINVAL);
	cg_err_clear(&err);
	assert_int_equal(ca_store_pending_list(fx->st, -2, pcollect_cb, &c,
	    &err), CG_EINVAL);
	assert_int_equal(c.n, 0);
}

static void
test_pending_limits(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	struct tpend	 t;
	uint8_t		*big;
	char		*text;
	int64_t		 id = 5;

	big = calloc(1, CA_STORE_CSR_MAX + 1);
	text = calloc(1, CA_STORE_SANS_MAX + 2);
	assert_non_null(big);
	assert_non_null(text);

	/* The CSR: at most CA_STORE_CSR_MAX bytes, and present. */
	tpend_init(&t, "est", "device", 1);
	t.rec.csr_der = big;
	t.rec.csr_len = CA_STORE_CSR_MAX + 1;
	assert_int_equal(ca_store_pending_add(fx->st, &t.rec, &id, &err),
	    CG_ETOOBIG);
	assert_int_equal(id, 0);
	cg_err_clear(&err);
	t.rec.csr_len = CA_STORE_CSR_MAX;
	assert_int_equal(ca_store_pending_add(fx->st, &t.rec, &id, &err),
	    CG_OK);
	t.rec.csr_len = 0;
	assert_int_equal(ca_store_pending_add(fx->st, &t.rec, &id, &err),
	    CG_EINVAL);
	cg_err_clear(&err);

	/* Text fields: CA_STORE_TEXT_MAX, SANs CA_STORE_SANS_MAX. */
	tpend_init(&t, "est", "device", 2);
	memset(text, 'a', CA_STORE_TEXT_MAX + 1);
	t.rec.requester = text;
	assert_int_equal(ca_store_pending_add(fx->st, &t.rec, &id, &err),
	    CG_ETOOBIG);
	cg_err_clear(&err);
	text[CA_STORE_TEXT_MAX] = '\0';
	assert_int_equal(ca_store_pending_add(fx->st, &t.rec, &id, &err),
	    CG_OK);
	tpend_init(&t, "est", "device", 3);
	memset(text, 'b', CA_STORE_SANS_MAX + 1);
	t.rec.sans = text;
	assert_int_equal(ca_store_pending_add(fx->st, &t.rec, &id, &err),
	    CG_ETOOBIG);
	cg_err_clear(&err);
	text[CA_STORE_SANS_MAX] = '\0';
	assert_int_equal(ca_store_pending_add(fx->st, &t.rec, &id, &err),
	    CG_OK);

	/* Required fields and a well-formed hash. */
	tpend_init(&t, "", "device", 4);
	assert_int_equal(ca_store_pending_add(fx->st, &t.rec, &id, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	tpend_init(&t, "est", NULL, 4);
	assert_int_equal(ca_store_pending_add(fx->st, &t.rec, &id, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	tpend_init(&t, "est", "device", 4);
	t.sha[10] = 'g';
	assert_int_equal(ca_store_pending_add(fx->st, &t.rec, &id, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	t.sha[63] = '\0';
	assert_int_equal(ca_store_pending_add(fx->st, &t.rec, &id, &err),
	    CG_EINVAL);
	check_pending(fx->st, -1, "1,2,3");
	free(text);
	free(big);
}

/* --------------------------------------------------------- migrations */

/* Future steps after this build's last one (version 6). */
static const char step5_sql[] =
    "CREATE TABLE order_log (step INTEGER NOT NULL);"
    "INSERT INTO order_log (step) VALUES (5);"
    "ALTER TABLE certs ADD COLUMN note TEXT NOT NULL DEFAULT '';";
/* Fails unless step 5 ran first. */
static const char step6_sql[] =
    "INSERT INTO order_log (step) VALUES (6);"
    "UPDATE certs SET note = 'v6';";
/* Breaks half-way: nothing of it may remain. */
static const char step5_bad_sql[] =
    "CREATE TABLE half_done (x INTEGER);"
    "INSERT INTO no_such_table VALUES (1);";

static void
test_migrate_from_empty_file(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };
	FILE		*f;

	/* Version 0: a zero-byte file, as an admin might touch(1) it. */
	f = fopen(fx->path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(ca_store_open(fx->path, &fx->st, &err), CG_OK);
	assert_int_equal(ca_store_schema_version(fx->st),
	    CA_STORE_SCHEMA_VERSION);
	insert(fx->st, "01", 1, "tls", 5000, 1000);
	assert_int_equal(crl_next(fx->st), 1);
}

static void
test_migrate_in_order(void **state)
{
	struct fx		*fx = *state;
	struct ca_store_step	 steps[8];
	struct cg_err		 err = { 0 };
	struct ca_cert_rec	*r = NULL;
	char			 v[64];
	size_t			 i;

	assert_int_equal(ca_store_nsteps, CA_STORE_SCHEMA_VERSION);
	assert_int_equal(CA_STORE_SCHEMA_VERSION, 6);
	for (i = 0; i < 6; i++)
		steps[i] = ca_store_steps[i];
	steps[6] = (struct ca_store_step){ 7, step5_sql };
	steps[7] = (struct ca_store_step){ 8, step6_sql };

	/* Version 0 on disk: no tables yet. */
	assert_int_equal(ca_store_open_at_version(fx->path, 0, &fx->st, &err),
	    CG_OK);
	assert_int_equal(ca_store_schema_version(fx->st), 0);
	ca_store_close(fx->st);
	fx->st = NULL;
	raw_text(fx->path, "SELECT count(*) FROM sqlite_master "
	    "WHERE name = 'certs'", v, sizeof(v));
	assert_string_equal(v, "0");

	/* Version 1 with data. */
	assert_int_equal(ca_store_open_at_version(fx->path, 1, &fx->st, &err),
	    CG_OK);
	insert(fx->st, "0ABC", 1, "tls", 5000, 1000);
	assert_int_equal(ca_store_audit_add(fx->st, "cli:root", "issue",
	    "ABC", "ok", NULL, &err), CG_OK);
	ca_store_close(fx->st);
	fx->st = NULL;

	/* 1 -> 7, then 7 -> 8: each later step sees the earlier's work. */
	assert_int_equal(ca_store_open_steps(fx->path, steps, 8, 7, &fx->st,
	    &err), CG_OK);
	assert_int_equal(ca_store_schema_version(fx->st), 7);
	ca_store_close(fx->st);
	fx->st = NULL;
	assert_int_equal(ca_store_open_steps(fx->path, steps, 8, 8, &fx->st,
	    &err), CG_OK);
	assert_int_equal(ca_store_schema_version(fx->st), 8);
	raw_text(fx->path, "SELECT group_concat(step) FROM "
	    "(SELECT step FROM order_log ORDER BY rowid)", v, sizeof(v));
	assert_string_equal(v, "5,6");
	raw_text(fx->path, "SELECT group_concat(version) FROM (SELECT version "
	    "FROM schema_migrations ORDER BY version)", v, sizeof(v));
	assert_string_equal(v, "1,2,3,4,5,6,7,8");
	raw_text(fx->path, "SELECT note FROM certs WHERE serial = 'ABC'", v,
	    sizeof(v));
	assert_string_equal(v, "v6");

	/* The data written at version 1 survived. */
	assert_int_equal(ca_store_cert_get(fx->st, "abc", &r, &err), CG_OK);
	assert_string_equal(r->profile, "tls");
	ca_cert_rec_free(r);
	ca_store_close(fx->st);
	fx->st = NULL;

	/* This build's own open now meets a newer database. */
	assert_int_equal(ca_store_open(fx->path, &fx->st, &err),
	    CG_ECONFLICT);
	assert_null(fx->st);
	assert_non_null(strstr(err.msg, "newer"));
}

static void
test_migration_failure_rolls_back(void **state)
{
	struct fx		*fx = *state;
	struct ca_store_step	 steps[7];
	struct cg_err		 err = { 0 };
	char			 v[64];
	size_t			 i;

	for (i = 0; i < 6; i++)
		steps[i] = ca_store_steps[i];
	steps[6] = (struct ca_store_step){ 7, step5_bad_sql };
	assert_int_equal(ca_store_open(fx->path, &fx->st, &err), CG_OK);
	insert(fx->st, "01", 1, "tls", 5000, 1000);
	ca_store_close(fx->st);
	fx->st = NULL;

	assert_int_equal(ca_store_open_steps(fx->path, steps, 7, 7, &fx->st,
	    &err), CG_EINTERNAL);
	assert_null(fx->st);
	assert_non_null(strstr(err.detail, "no_such_table"));
	raw_text(fx->path, "SELECT count(*) FROM sqlite_master "
	    "WHERE name = 'half_done'", v, sizeof(v));
	assert_string_equal(v, "0");
	raw_text(fx->path, "SELECT max(version) FROM schema_migrations", v,
	    sizeof(v));
	assert_string_equal(v, "6");

	/* Still usable by this build. */
	assert_int_equal(ca_store_open(fx->path, &fx->st, &err), CG_OK);
	check_list(fx->st, NULL, "1");
}

static void
test_newer_version_refused(void **state)
{
	struct fx	*fx = *state;
	struct cg_err	 err = { 0 };

	insert(fx->st, "01", 1, "tls", 5000, 1000);
	ca_store_close(fx->st);
	fx->st = NULL;
	raw_exec(fx->path, "INSERT INTO schema_migrations (version, "
	    "applied_at) VALUES (999, 0)");
	assert_int_equal(ca_store_open(fx->path, &fx->st, &err),
	    CG_ECONFLICT);
	assert_null(fx->st);
	assert_non_null(strstr(err.msg, "999"));
	assert_non_null(strstr(err.msg, "newer"));
}

/* This build's own step 2 (and on to the last) on a version-1 database with data. */
static void
test_migrate_1_to_2_keeps_data(void **state)
{
	struct fx		*fx = *state;
	struct ca_cert_rec	*r = NULL;
	struct ca_pending_rec	*p = NULL;
	struct cg_err		 err = { 0 };
	char			 v[64];
	int64_t			 id;

	assert_int_equal(ca_store_open_at_version(fx->path, 1, &fx->st, &err),
	    CG_OK);
	assert_int_equal(ca_store_schema_version(fx->st), 1);
	insert(fx->st, "0ABC", 1, "tls", 5000, 1000);
	assert_int_equal(ca_store_cert_revoke(fx->st, "ABC", 1, 1500, &err),
	    CG_OK);
	assert_int_equal(ca_store_audit_add(fx->st, "cli:root", "issue",
	    "ABC", "ok", NULL, &err), CG_OK);
	assert_int_equal(crl_next(fx->st), 1);
	ca_store_close(fx->st);
	fx->st = NULL;
	raw_text(fx->path, "SELECT count(*) FROM sqlite_master "
	    "WHERE name = 'pending'", v, sizeof(v));
	assert_string_equal(v, "0");

	assert_int_equal(ca_store_open(fx->path, &fx->st, &err), CG_OK);
	assert_int_equal(ca_store_schema_version(fx->st),
	    CA_STORE_SCHEMA_VERSION);
	raw_text(fx->path, "SELECT group_concat(name) FROM (SELECT name FROM "
	    "sqlite_master WHERE tbl_name = 'pending' AND type = 'index' AND "
	    "sql IS NOT NULL ORDER BY name)", v, sizeof(v));
	assert_string_equal(v, "pending_lookup,pending_status");
	/* Everything written at version 1 is still there. */
	assert_int_equal(ca_store_cert_get(fx->st, "abc", &r, &err), CG_OK);
	assert_string_equal(r->profile, "tls");
	assert_int_equal(r->status, CA_CERT_REVOKED);
	ca_cert_rec_free(r);
	assert_int_equal(gen(fx->st), 1);
	assert_int_equal(crl_next(fx->st), 2);
	raw_text(fx->path, "SELECT count(*) FROM audit", v, sizeof(v));
	assert_string_equal(v, "1");
	/* And the new table works, pointing at the old certificate. */
	id = pend_add(fx->st, "est", "device", 1);
	assert_int_equal(ca_store_pending_decide(fx->st, id,
	    CA_PENDING_APPROVED, "cli:root", "ABC", &err), CG_OK);
	assert_int_equal(ca_store_pending_get(fx->st, id, &p, &err), CG_OK);
	assert_string_equal(p->cert_serial, "ABC");
	ca_pending_rec_free(p);
}

/* ------------------------------------------------------- concurrency */

static void
test_two_connections(void **state)
{
	struct fx		*fx = *state;
	struct ca_store		*other = NULL;
	struct cg_err		 err = { 0 };
	struct ca_cert_rec	*r = NULL;

	assert_int_equal(ca_store_open(fx->path, &other, &err), CG_OK);

	insert(fx->st, "0100", 1, "tls", 5000, 1000);
	assert_int_equal(ca_store_cert_get(other, "100", &r, &err), CG_OK);
	ca_cert_rec_free(r);
	r = NULL;

	/* A reader is not blocked by a writer and sees only commits. */
	assert_int_equal(ca_store_begin(fx->st, &err), CG_OK);
	insert(fx->st, "0200", 2, "tls", 5000, 1000);
	assert_int_equal(ca_store_cert_get(other, "200", &r, &err),
	    CG_ENOTFOUND);
	cg_err_clear(&err);
	assert_int_equal(ca_store_commit(fx->st, &err), CG_OK);
	assert_int_equal(ca_store_cert_get(other, "200", &r, &err), CG_OK);
	ca_cert_rec_free(r);

	/* Revocations by one are noticed by the other. */
	assert_int_equal(gen(other), 0);
	assert_int_equal(ca_store_cert_revoke(fx->st, "100", 0, 1500, &err),
	    CG_OK);
	assert_int_equal(gen(other), 1);
	assert_int_equal(ca_store_cert_revoke(other, "100", 0, 1500, &err),
	    CG_ECONFLICT);
	cg_err_clear(&err);

	/* CRL numbers are shared, never handed out twice. */
	assert_int_equal(crl_next(fx->st), 1);
	assert_int_equal(crl_next(other), 2);
	assert_int_equal(crl_next(fx->st), 3);
	ca_store_close(other);
}

/* A second writer waits CA_STORE_BUSY_MS for the lock, then gets CG_EIO. */
static void
test_busy_writer_times_out(void **state)
{
	struct fx	*fx = *state;
	struct ca_store	*other = NULL;
	struct cg_err	 err = { 0 };
	uint64_t	 t0, waited;

	assert_int_equal(ca_store_open(fx->path, &other, &err), CG_OK);
	assert_int_equal(ca_store_begin(fx->st, &err), CG_OK);
	t0 = cg_mono_ms();
	assert_int_equal(ca_store_begin(other, &err), CG_EIO);
	waited = cg_mono_ms() - t0;
	assert_true(waited >= CA_STORE_BUSY_MS - 100);
	assert_null(strstr(err.msg, "locked"));
	assert_non_null(strstr(err.detail, "sqlite"));
	cg_err_clear(&err);
	ca_store_rollback(fx->st);
	/* Once the lock is free the same call goes through at once. */
	assert_int_equal(ca_store_begin(other, &err), CG_OK);
	ca_store_rollback(other);
	ca_store_close(other);
}

#define RACERS		3		/* processes taking CRL numbers */
#define RACE_TAKES	20		/* numbers each one takes */

/* Child: open (racing the others through migration), take numbers. */
static void
race_child(const char *path, int fd)
{
	struct ca_store	*st = NULL;
	struct cg_err	 err = { 0 };
	uint64_t	 n;
	int		 i;

	if (ca_store_open(path, &st, &err) != CG_OK) {
		fprintf(stderr, "race_child: open: %s (%s)\n", err.msg,
		    err.detail);
		_exit(2);
	}
	for (i = 0; i < RACE_TAKES; i++) {
		if (ca_store_crl_number_next(st, &n, &err) != CG_OK ||
		    write(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
			_exit(3);
	}
	ca_store_close(st);
	_exit(0);
}

static void
test_processes_share_counters(void **state)
{
	struct fx	*fx = *state;
	bool		 seen[RACERS * RACE_TAKES + 1] = { false };
	uint64_t	 n;
	pid_t		 pids[RACERS];
	int		 fds[2], i, status;

	/* Nobody has created the file yet: all of them migrate at once. */
	assert_int_equal(pipe(fds), 0);
	for (i = 0; i < RACERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(fds[0]);
			race_child(fx->path, fds[1]);
		}
	}
	close(fds[1]);
	for (i = 0; i < RACERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	/* Every number 1..N handed out exactly once. */
	for (i = 0; i < RACERS * RACE_TAKES; i++) {
		assert_int_equal(read(fds[0], &n, sizeof(n)), sizeof(n));
		assert_in_range(n, 1, RACERS * RACE_TAKES);
		assert_false(seen[n]);
		seen[n] = true;
	}
	assert_int_equal(read(fds[0], &n, sizeof(n)), 0);
	close(fds[0]);
	reopen(fx);
	assert_int_equal(crl_next(fx->st), RACERS * RACE_TAKES + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_parse),
		cmocka_unit_test_setup_teardown(test_insert_get, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_get_long_serial_falls_back,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_insert_conflicts,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_get_alloc_failures,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_statement_reuse, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_filters, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_revoke, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_crl_numbers, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_outbox_relay, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_outbox_rollback, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_outbox_payload_limit,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_audit, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_add_get, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_find_newest,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_decide, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_decide_checks,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_list, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_limits, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_durable_across_reopen,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_file_mode,
		    fx_setup_closed, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pragmas, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_transactions, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_empty_file,
		    fx_setup_closed, fx_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_in_order,
		    fx_setup_closed, fx_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_1_to_2_keeps_data,
		    fx_setup_closed, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_migration_failure_rolls_back, fx_setup_closed,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_newer_version_refused,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_two_connections, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_busy_writer_times_out,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_processes_share_counters,
		    fx_setup_closed, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
