/*
 * ca_store_ident.c - identities in the store (schema version 5): the
 * people and devices, the one-to-one mappings of certificates to them,
 * the many-to-one rules, the CAs trusted for client certificates and the
 * revision counter that tells a server its cache of all that is stale.
 * The holding tank is in ca_store_holding.c.  What a mapping means for a
 * request is decided in ca/ca_ident.c.
 */
#include "certgw/store.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "ca_store_int.h"

#define IDENT_COLS \
	"name, email, org, id, role, disabled, created_at, updated_at"
#define MAP_COLS \
	"i.name, m.value, m.subject, m.issuer, m.source, m.id, " \
	"m.identity_id, m.kind, m.pinned, m.not_after, m.created_at, m.der"
#define RULE_COLS \
	"i.name, r.issuer, r.subject, r.id, r.position, r.identity_id, " \
	"r.created_at"
#define TRUST_COLS \
	"sha256, subject, id, not_after, added_at, der"

static const size_t ident_texts[] = {
	offsetof(struct ca_identity, name),
	offsetof(struct ca_identity, email),
	offsetof(struct ca_identity, org),
};
static const size_t map_texts[] = {
	offsetof(struct ca_ident_map, identity),
	offsetof(struct ca_ident_map, value),
	offsetof(struct ca_ident_map, subject),
	offsetof(struct ca_ident_map, issuer),
	offsetof(struct ca_ident_map, source),
};
static const size_t rule_texts[] = {
	offsetof(struct ca_ident_rule, identity),
	offsetof(struct ca_ident_rule, issuer),
	offsetof(struct ca_ident_rule, subject),
};
static const size_t trust_texts[] = {
	offsetof(struct ca_trust_anchor, sha256),
	offsetof(struct ca_trust_anchor, subject),
};
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const role_names[CA_ROLE__MAX] = {
	[CA_ROLE_NONE] = "none",
	[CA_ROLE_AUDITOR] = "auditor",
	[CA_ROLE_OPERATOR] = "operator",
	[CA_ROLE_ADMIN] = "admin",
};

static const char *const kind_names[CA_MAP__MAX] = {
	[CA_MAP_SHA256] = "sha256",
	[CA_MAP_SHA1] = "sha1",
	[CA_MAP_CN] = "cn",
};

const char *
ca_role_name(enum ca_role r)
{
	return (unsigned)r < CA_ROLE__MAX ? role_names[r] : "?";
}

bool
ca_role_parse(const char *s, enum ca_role *rp)
{
	size_t	 i;

	for (i = 0; s != NULL && i < CA_ROLE__MAX; i++)
		if (strcmp(s, role_names[i]) == 0) {
			*rp = (enum ca_role)i;
			return true;
		}
	return false;
}

const char *
ca_map_kind_name(enum ca_map_kind k)
{
	return k > 0 && k < CA_MAP__MAX ? kind_names[k] : "?";
}

/* ------------------------------------------------------------ checks */

/* Names are what a CLI argument and an audit line can carry safely. */
static enum cg_code
name_check(const char *name, struct cg_err *err)
{
	size_t	 i, n;

	n = name != NULL ? strnlen(name, CA_IDENT_NAME_MAX + 1) : 0;
	if (n == 0 || n > CA_IDENT_NAME_MAX)
		return cg_err_set(err, CG_EINVAL, "store: an identity name is "
		    "1 to %d characters", CA_IDENT_NAME_MAX);
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
		    "YZ0123456789._@-", name[i]) == NULL)
			return cg_err_set(err, CG_EINVAL, "store: an identity "
			    "name takes letters, digits, '.', '_', '@' and "
			    "'-'");
	return CG_OK;
}

/* Exactly n lower-case hex digits. */
static bool
hex_is(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

static enum cg_code
value_check(enum ca_map_kind kind, const char *v, struct cg_err *err)
{
	size_t	 n = v != NULL ? strnlen(v, CA_IDENT_DN_MAX + 1) : 0;

	if ((kind == CA_MAP_SHA256 && (n != 64 || !hex_is(v, 64))) ||
	    (kind == CA_MAP_SHA1 && (n != 40 || !hex_is(v, 40))))
		return cg_err_set(err, CG_EINVAL, "store: a %s thumbprint is "
		    "%d lower-case hex digits", ca_map_kind_name(kind),
		    kind == CA_MAP_SHA256 ? 64 : 40);
	if (kind == CA_MAP_CN && (n == 0 || n > CA_IDENT_TEXT_MAX))
		return cg_err_set(err, CG_EINVAL, "store: a common name is 1 "
		    "to %d bytes", CA_IDENT_TEXT_MAX);
	if (kind != CA_MAP_SHA256 && kind != CA_MAP_SHA1 && kind != CA_MAP_CN)
		return cg_err_set(err, CG_EINVAL, "store: bad mapping kind");
	return CG_OK;
}

static enum cg_code
der_check(const uint8_t *der, size_t len, bool required, struct cg_err *err)
{
	if ((der == NULL || len == 0) && required)
		return cg_err_set(err, CG_EINVAL, "store: no certificate");
	if (len > CA_IDENT_DER_MAX)
		return cg_err_set(err, CG_ETOOBIG, "store: a certificate of "
		    "%zu bytes is too big", len);
	return CG_OK;
}

/* ----------------------------------------------------------- listing */

/*
 * Run a bound query (src is the binding's result) and hand each row to
 * each(ctx, stmt); the typed list functions wrap the caller's callback.
 */
typedef enum cg_code row_each_fn(void *ctx, sqlite3_stmt *stmt,
		    struct cg_err *err);

static enum cg_code
rows_run(struct ca_store *st, sqlite3_stmt *stmt, int src, row_each_fn *each,
    void *ctx, const char *what, struct cg_err *err)
{
	enum cg_code	 rc = CG_OK;

	while (src == SQLITE_OK) {
		src = sqlite3_step(stmt);
		if (src != SQLITE_ROW)
			break;
		src = SQLITE_OK;
		rc = each(ctx, stmt, err);
		if (rc != CG_OK)
			return rc;
	}
	if (src != SQLITE_DONE)
		rc = ca_store_fail(st, src, what, err);
	return rc;
}

/* A DELETE ... WHERE id = ?1 that must hit one row. */
static enum cg_code
delete_one(struct ca_store *st, const char *sql, int64_t id,
    const char *what, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	rc = ca_store_prepare(st, sql, &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = sqlite3_bind_int64(stmt, 1, id);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		rc = ca_store_fail(st, src, what, err);
	else if (sqlite3_changes(st->db) == 0)
		rc = cg_err_set(err, CG_ENOTFOUND, "store: no %s %lld", what,
		    (long long)id);
	ca_store_release(st, stmt);
	return rc;
}

/* -------------------------------------------------------- identities */

void
ca_identity_free(struct ca_identity *i)
{
	if (i == NULL)
		return;
	ca_store_texts_free(i, ident_texts, NELEM(ident_texts));
	cg_free(i);
}

static enum cg_code
ident_row(sqlite3_stmt *stmt, struct ca_identity **ip, struct cg_err *err)
{
	struct ca_identity	*i;
	enum cg_code		 rc;
	const int		 n = (int)NELEM(ident_texts);

	*ip = NULL;
	if ((i = cg_calloc(1, sizeof(*i))) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_cols_texts(stmt, 0, i, ident_texts, NELEM(ident_texts),
	    err);
	if (rc != CG_OK) {
		ca_identity_free(i);
		return rc;
	}
	i->id = sqlite3_column_int64(stmt, n);
	i->role = (enum ca_role)sqlite3_column_int(stmt, n + 1);
	i->disabled = sqlite3_column_int(stmt, n + 2) != 0;
	i->created_at = sqlite3_column_int64(stmt, n + 3);
	i->updated_at = sqlite3_column_int64(stmt, n + 4);
	*ip = i;
	return CG_OK;
}

enum cg_code
ca_store_identity_add(struct ca_store *st, const struct ca_identity *in,
    int64_t *idp, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "email", in->email, CA_IDENT_TEXT_MAX, NULL, 0 },
		{ "organisation", in->org, CA_IDENT_TEXT_MAX, NULL, 0 },
	};
	sqlite3_stmt	*stmt = NULL;
	int64_t		 now = in->created_at != 0 ? in->created_at : cg_now();
	enum cg_code	 rc;
	int		 src;

	if (idp != NULL)
		*idp = 0;
	rc = name_check(in->name, err);
	if (rc == CG_OK)
		rc = ca_store_fields_check_in("identity", f, NELEM(f), err);
	if (rc == CG_OK && (unsigned)in->role >= CA_ROLE__MAX)
		rc = cg_err_set(err, CG_EINVAL, "store: bad role");
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "INSERT INTO identities (name, email, org, "
	    "role, disabled, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6, ?6)", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = ca_store_bind_texts(stmt, 1, (const char *const []){ in->name,
	    in->email, in->org }, 3);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 4, (int)in->role);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 5, in->disabled ? 1 : 0);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 6, now);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		rc = ca_store_constraint_fail(st, src, "add an identity",
		    "store: an identity of that name exists", NULL, err);
	else if (idp != NULL)
		*idp = sqlite3_last_insert_rowid(st->db);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_identity_get(struct ca_store *st, const char *name, int64_t id,
    struct ca_identity **outp, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 row;
	int		 src;

	*outp = NULL;
	if (name != NULL && (rc = name_check(name, err)) != CG_OK)
		return rc;
	rc = ca_store_prepare(st, name != NULL ?
	    "SELECT " IDENT_COLS " FROM identities WHERE name = ?1" :
	    "SELECT " IDENT_COLS " FROM identities WHERE id = ?1", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = name != NULL ? ca_store_bind_text(stmt, 1, name) :
	    sqlite3_bind_int64(stmt, 1, id);
	if (src != SQLITE_OK)
		rc = ca_store_fail(st, src, "look up an identity", err);
	if (rc == CG_OK)
		rc = ca_store_step_row(st, stmt, "look up an identity", &row,
		    err);
	if (rc == CG_OK && !row)
		rc = cg_err_set(err, CG_ENOTFOUND, "store: no such identity");
	if (rc == CG_OK)
		rc = ident_row(stmt, outp, err);
	ca_store_release(st, stmt);
	return rc;
}

struct ident_list {
	ca_identity_cb	*cb;
	void		*arg;
};

static enum cg_code
ident_each(void *ctx, sqlite3_stmt *stmt, struct cg_err *err)
{
	struct ident_list	*l = ctx;
	struct ca_identity	*i;
	enum cg_code		 rc;

	if ((rc = ident_row(stmt, &i, err)) != CG_OK)
		return rc;
	rc = l->cb(l->arg, i);
	ca_identity_free(i);
	if (rc != CG_OK)
		cg_err_set(err, rc, "store: identity listing stopped");
	return rc;
}

enum cg_code
ca_store_identity_list(struct ca_store *st, ca_identity_cb *cb, void *arg,
    struct cg_err *err)
{
	struct ident_list	 l = { cb, arg };
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;

	assert(cb != NULL);
	rc = ca_store_prepare(st, "SELECT " IDENT_COLS " FROM identities "
	    "ORDER BY name", &stmt, err);
	if (rc == CG_OK)
		rc = rows_run(st, stmt, SQLITE_OK, ident_each, &l,
		    "list identities", err);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_identity_update(struct ca_store *st, const char *name,
    enum ca_role role, bool disabled, int64_t now, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	if ((rc = name_check(name, err)) != CG_OK)
		return rc;
	if ((unsigned)role >= CA_ROLE__MAX)
		return cg_err_set(err, CG_EINVAL, "store: bad role");
	rc = ca_store_prepare(st, "UPDATE identities SET role = ?2, "
	    "disabled = ?3, updated_at = ?4 WHERE name = ?1", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = ca_store_bind_text(stmt, 1, name);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 2, (int)role);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 3, disabled ? 1 : 0);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 4, now);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		rc = ca_store_fail(st, src, "update an identity", err);
	else if (sqlite3_changes(st->db) == 0)
		rc = cg_err_set(err, CG_ENOTFOUND, "store: no such identity");
	ca_store_release(st, stmt);
	return rc;
}

/* ---------------------------------------------------------- mappings */

void
ca_ident_map_free(struct ca_ident_map *m)
{
	if (m == NULL)
		return;
	ca_store_texts_free(m, map_texts, NELEM(map_texts));
	cg_free(m->der);
	cg_free(m);
}

static enum cg_code
map_row(sqlite3_stmt *stmt, struct ca_ident_map **mp, struct cg_err *err)
{
	struct ca_ident_map	*m;
	enum cg_code		 rc;
	const int		 n = (int)NELEM(map_texts);

	*mp = NULL;
	if ((m = cg_calloc(1, sizeof(*m))) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_cols_texts(stmt, 0, m, map_texts, NELEM(map_texts), err);
	m->id = sqlite3_column_int64(stmt, n);
	m->identity_id = sqlite3_column_int64(stmt, n + 1);
	m->kind = (enum ca_map_kind)sqlite3_column_int(stmt, n + 2);
	m->pinned = sqlite3_column_int(stmt, n + 3) != 0;
	m->not_after = sqlite3_column_int64(stmt, n + 4);
	m->created_at = sqlite3_column_int64(stmt, n + 5);
	if (rc == CG_OK && sqlite3_column_type(stmt, n + 6) != SQLITE_NULL)
		rc = ca_store_col_blob(stmt, n + 6, "mapped certificate",
		    &m->der, &m->der_len, err);
	if (rc != CG_OK) {
		ca_ident_map_free(m);
		return rc;
	}
	*mp = m;
	return CG_OK;
}

enum cg_code
ca_store_map_add(struct ca_store *st, const struct ca_ident_map *m,
    int64_t *idp, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "subject", m->subject, CA_IDENT_DN_MAX, NULL, 0 },
		{ "issuer", m->issuer, CA_IDENT_DN_MAX, NULL, 0 },
		{ "source", m->source, CA_IDENT_NAME_MAX, NULL,
		    CA_STORE_F_REQUIRED },
	};
	sqlite3_stmt	*stmt = NULL;
	int64_t		 now = m->created_at != 0 ? m->created_at : cg_now();
	enum cg_code	 rc;
	int		 src;

	if (idp != NULL)
		*idp = 0;
	rc = value_check(m->kind, m->value, err);
	if (rc == CG_OK)
		rc = ca_store_fields_check_in("mapping", f, NELEM(f), err);
	if (rc == CG_OK)
		rc = der_check(m->der, m->der_len, m->pinned, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "INSERT INTO ident_maps (identity_id, kind, "
	    "value, pinned, subject, issuer, not_after, der, source, "
	    "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	    &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = sqlite3_bind_int64(stmt, 1, m->identity_id);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 2, (int)m->kind);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 3, m->value);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 4, m->pinned ? 1 : 0);
	if (src == SQLITE_OK)
		src = ca_store_bind_texts(stmt, 5, (const char *const []){
		    m->subject, m->issuer }, 2);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 7, m->not_after);
	if (src == SQLITE_OK)
		src = m->der != NULL && m->der_len > 0 ? sqlite3_bind_blob(stmt,
		    8, m->der, (int)m->der_len, SQLITE_STATIC) :
		    sqlite3_bind_null(stmt, 8);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 9, m->source);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 10, now);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		rc = ca_store_constraint_fail(st, src, "add a mapping",
		    "store: that certificate is mapped already",
		    "store: no such identity", err);
	else if (idp != NULL)
		*idp = sqlite3_last_insert_rowid(st->db);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_map_find(struct ca_store *st, enum ca_map_kind kind,
    const char *value, struct ca_ident_map **outp, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 row;
	int		 src;

	*outp = NULL;
	if ((rc = value_check(kind, value, err)) != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "SELECT " MAP_COLS " FROM ident_maps m "
	    "JOIN identities i ON i.id = m.identity_id "
	    "WHERE m.kind = ?1 AND m.value = ?2", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = sqlite3_bind_int(stmt, 1, (int)kind);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, value);
	if (src != SQLITE_OK)
		rc = ca_store_fail(st, src, "look up a mapping", err);
	if (rc == CG_OK)
		rc = ca_store_step_row(st, stmt, "look up a mapping", &row,
		    err);
	if (rc == CG_OK && !row)
		rc = cg_err_set(err, CG_ENOTFOUND, "store: not mapped");
	if (rc == CG_OK)
		rc = map_row(stmt, outp, err);
	ca_store_release(st, stmt);
	return rc;
}

struct map_list {
	ca_ident_map_cb	*cb;
	void		*arg;
};

static enum cg_code
map_each(void *ctx, sqlite3_stmt *stmt, struct cg_err *err)
{
	struct map_list		*l = ctx;
	struct ca_ident_map	*m;
	enum cg_code		 rc;

	if ((rc = map_row(stmt, &m, err)) != CG_OK)
		return rc;
	rc = l->cb(l->arg, m);
	ca_ident_map_free(m);
	if (rc != CG_OK)
		cg_err_set(err, rc, "store: mapping listing stopped");
	return rc;
}

enum cg_code
ca_store_map_list(struct ca_store *st, int64_t identity_id,
    ca_ident_map_cb *cb, void *arg, struct cg_err *err)
{
	struct map_list	 l = { cb, arg };
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src = SQLITE_OK;

	assert(cb != NULL);
	rc = ca_store_prepare(st, identity_id > 0 ?
	    "SELECT " MAP_COLS " FROM ident_maps m JOIN identities i "
	    "ON i.id = m.identity_id WHERE m.identity_id = ?1 ORDER BY m.id" :
	    "SELECT " MAP_COLS " FROM ident_maps m JOIN identities i "
	    "ON i.id = m.identity_id ORDER BY m.id", &stmt, err);
	if (rc != CG_OK)
		return rc;
	if (identity_id > 0)
		src = sqlite3_bind_int64(stmt, 1, identity_id);
	rc = rows_run(st, stmt, src, map_each, &l, "list mappings", err);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_map_delete(struct ca_store *st, int64_t id, struct cg_err *err)
{
	return delete_one(st, "DELETE FROM ident_maps WHERE id = ?1", id,
	    "mapping", err);
}

/* ------------------------------------------------------------- rules */

void
ca_ident_rule_free(struct ca_ident_rule *r)
{
	if (r == NULL)
		return;
	ca_store_texts_free(r, rule_texts, NELEM(rule_texts));
	cg_free(r);
}

static enum cg_code
rule_row(sqlite3_stmt *stmt, struct ca_ident_rule **rp, struct cg_err *err)
{
	struct ca_ident_rule	*r;
	enum cg_code		 rc;
	const int		 n = (int)NELEM(rule_texts);

	*rp = NULL;
	if ((r = cg_calloc(1, sizeof(*r))) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_cols_texts(stmt, 0, r, rule_texts, NELEM(rule_texts),
	    err);
	if (rc != CG_OK) {
		ca_ident_rule_free(r);
		return rc;
	}
	r->id = sqlite3_column_int64(stmt, n);
	r->position = sqlite3_column_int64(stmt, n + 1);
	r->identity_id = sqlite3_column_int64(stmt, n + 2);
	r->created_at = sqlite3_column_int64(stmt, n + 3);
	*rp = r;
	return CG_OK;
}

/* One statement with ?1 bound to an integer, run to completion. */
static enum cg_code
exec_int(struct ca_store *st, const char *sql, int64_t v, const char *what,
    struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	rc = ca_store_prepare(st, sql, &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = sqlite3_bind_int64(stmt, 1, v);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE && src != SQLITE_ROW)
		rc = ca_store_fail(st, src, what, err);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_rule_add(struct ca_store *st, const struct ca_ident_rule *r,
    int64_t *idp, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "issuer", r->issuer, CA_IDENT_DN_MAX, NULL, 0 },
		{ "subject", r->subject, CA_IDENT_DN_MAX, NULL, 0 },
	};
	sqlite3_stmt	*stmt = NULL;
	int64_t		 now = r->created_at != 0 ? r->created_at : cg_now();
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	if (idp != NULL)
		*idp = 0;
	rc = ca_store_fields_check_in("rule", f, NELEM(f), err);
	if (rc == CG_OK && r->position < 0)
		rc = cg_err_set(err, CG_EINVAL, "store: bad rule position");
	if (rc != CG_OK)
		return rc;
	rc = ca_store_atomic_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	/* Make room: the rules from that position on move down one. */
	if (r->position > 0)
		rc = exec_int(st, "UPDATE ident_rules SET position = position "
		    "+ 1 WHERE position >= ?1", r->position, "move the rules",
		    err);
	if (rc == CG_OK)
		rc = ca_store_prepare(st, "INSERT INTO ident_rules (position, "
		    "identity_id, issuer, subject, created_at) VALUES "
		    "(CASE WHEN ?1 > 0 THEN min(?1, (SELECT count(*) + 1 FROM "
		    "ident_rules)) ELSE (SELECT count(*) + 1 FROM ident_rules) "
		    "END, ?2, ?3, ?4, ?5)", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_int64(stmt, 1, r->position);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 2, r->identity_id);
	if (src == SQLITE_OK)
		src = ca_store_bind_texts(stmt, 3, (const char *const []){
		    r->issuer, r->subject }, 2);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 5, now);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		rc = ca_store_constraint_fail(st, src, "add a rule", "store: "
		    "cannot add the rule", "store: no such identity", err);
	else if (idp != NULL)
		*idp = sqlite3_last_insert_rowid(st->db);
out:
	ca_store_release(st, stmt);
	rc = ca_store_atomic_leave(st, own, rc, err);
	if (rc != CG_OK && idp != NULL)
		*idp = 0;
	return rc;
}

struct rule_list {
	ca_ident_rule_cb *cb;
	void		*arg;
};

static enum cg_code
rule_each(void *ctx, sqlite3_stmt *stmt, struct cg_err *err)
{
	struct rule_list	*l = ctx;
	struct ca_ident_rule	*r;
	enum cg_code		 rc;

	if ((rc = rule_row(stmt, &r, err)) != CG_OK)
		return rc;
	rc = l->cb(l->arg, r);
	ca_ident_rule_free(r);
	if (rc != CG_OK)
		cg_err_set(err, rc, "store: rule listing stopped");
	return rc;
}

enum cg_code
ca_store_rule_list(struct ca_store *st, ca_ident_rule_cb *cb, void *arg,
    struct cg_err *err)
{
	struct rule_list l = { cb, arg };
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;

	assert(cb != NULL);
	rc = ca_store_prepare(st, "SELECT " RULE_COLS " FROM ident_rules r "
	    "JOIN identities i ON i.id = r.identity_id ORDER BY r.position",
	    &stmt, err);
	if (rc == CG_OK)
		rc = rows_run(st, stmt, SQLITE_OK, rule_each, &l,
		    "list rules", err);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_rule_delete(struct ca_store *st, int64_t id, struct cg_err *err)
{
	enum cg_code	 rc;
	bool		 own;

	rc = ca_store_atomic_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	/* Close the gap first, while the row still says where it is. */
	rc = exec_int(st, "UPDATE ident_rules SET position = position - 1 "
	    "WHERE position > (SELECT position FROM ident_rules WHERE id = "
	    "?1)", id, "move the rules", err);
	if (rc == CG_OK)
		rc = delete_one(st, "DELETE FROM ident_rules WHERE id = ?1", id,
		    "rule", err);
	return ca_store_atomic_leave(st, own, rc, err);
}

/* ------------------------------------------------------------- trust */

void
ca_trust_anchor_free(struct ca_trust_anchor *t)
{
	if (t == NULL)
		return;
	ca_store_texts_free(t, trust_texts, NELEM(trust_texts));
	cg_free(t->der);
	cg_free(t);
}

static enum cg_code
trust_row(sqlite3_stmt *stmt, struct ca_trust_anchor **tp,
    struct cg_err *err)
{
	struct ca_trust_anchor	*t;
	enum cg_code		 rc;
	const int		 n = (int)NELEM(trust_texts);

	*tp = NULL;
	if ((t = cg_calloc(1, sizeof(*t))) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_cols_texts(stmt, 0, t, trust_texts, NELEM(trust_texts),
	    err);
	t->id = sqlite3_column_int64(stmt, n);
	t->not_after = sqlite3_column_int64(stmt, n + 1);
	t->added_at = sqlite3_column_int64(stmt, n + 2);
	if (rc == CG_OK)
		rc = ca_store_col_blob(stmt, n + 3, "trusted CA", &t->der,
		    &t->der_len, err);
	if (rc != CG_OK) {
		ca_trust_anchor_free(t);
		return rc;
	}
	*tp = t;
	return CG_OK;
}

enum cg_code
ca_store_trust_add(struct ca_store *st, const struct ca_trust_anchor *t,
    int64_t *idp, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "subject", t->subject, CA_IDENT_DN_MAX, NULL, 0 },
	};
	sqlite3_stmt	*stmt = NULL;
	int64_t		 now = t->added_at != 0 ? t->added_at : cg_now();
	enum cg_code	 rc;
	int		 src;

	if (idp != NULL)
		*idp = 0;
	if (t->sha256 == NULL || strlen(t->sha256) != 64 ||
	    !hex_is(t->sha256, 64))
		return cg_err_set(err, CG_EINVAL, "store: a trusted CA's "
		    "thumbprint is 64 lower-case hex digits");
	rc = ca_store_fields_check_in("trusted CA", f, NELEM(f), err);
	if (rc == CG_OK)
		rc = der_check(t->der, t->der_len, true, err);
	if (rc == CG_OK)
		rc = ca_store_prepare(st, "INSERT INTO trust_anchors (sha256, "
		    "subject, der, not_after, added_at) VALUES (?1, ?2, ?3, ?4, "
		    "?5)", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = ca_store_bind_texts(stmt, 1, (const char *const []){ t->sha256,
	    t->subject }, 2);
	if (src == SQLITE_OK)
		src = sqlite3_bind_blob(stmt, 3, t->der, (int)t->der_len,
		    SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 4, t->not_after);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 5, now);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		rc = ca_store_constraint_fail(st, src, "add a trusted CA",
		    "store: that CA is trusted already", NULL, err);
	else if (idp != NULL)
		*idp = sqlite3_last_insert_rowid(st->db);
	ca_store_release(st, stmt);
	return rc;
}

struct trust_list {
	ca_trust_anchor_cb *cb;
	void		*arg;
};

static enum cg_code
trust_each(void *ctx, sqlite3_stmt *stmt, struct cg_err *err)
{
	struct trust_list	*l = ctx;
	struct ca_trust_anchor	*t;
	enum cg_code		 rc;

	if ((rc = trust_row(stmt, &t, err)) != CG_OK)
		return rc;
	rc = l->cb(l->arg, t);
	ca_trust_anchor_free(t);
	if (rc != CG_OK)
		cg_err_set(err, rc, "store: trusted CA listing stopped");
	return rc;
}

enum cg_code
ca_store_trust_list(struct ca_store *st, ca_trust_anchor_cb *cb, void *arg,
    struct cg_err *err)
{
	struct trust_list l = { cb, arg };
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;

	assert(cb != NULL);
	rc = ca_store_prepare(st, "SELECT " TRUST_COLS " FROM trust_anchors "
	    "ORDER BY id", &stmt, err);
	if (rc == CG_OK)
		rc = rows_run(st, stmt, SQLITE_OK, trust_each, &l,
		    "list trusted CAs", err);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_trust_delete(struct ca_store *st, int64_t id, struct cg_err *err)
{
	return delete_one(st, "DELETE FROM trust_anchors WHERE id = ?1", id,
	    "trusted CA", err);
}

enum cg_code
ca_store_ident_revision(struct ca_store *st, int64_t *revp,
    struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 row;

	*revp = 0;
	rc = ca_store_prepare(st, "SELECT rev FROM ident_revision WHERE id = 1",
	    &stmt, err);
	if (rc == CG_OK)
		rc = ca_store_step_row(st, stmt, "read the identity revision",
		    &row, err);
	if (rc == CG_OK && row)
		*revp = sqlite3_column_int64(stmt, 0);
	ca_store_release(st, stmt);
	return rc;
}
