/*
 * gw_admin_ident.c - admin API resources about who may authenticate:
 * identities and their one-to-one mappings, many-to-one rules and the
 * trust anchors.  The JSON shapes follow `certgw user show
 * --json`.  Every write is one store call or one library call that
 * `certgw` makes too (ca/ca_trust.c, ca/ca_import.c).  The holding tank
 * is in gw_admin_hold.c.
 */
#include "gw_admin.h"

#include <ctype.h>
#include <string.h>

#include <openssl/x509.h>

#include "certgw/ca.h"
#include "certgw/config.h"

/* ---------------------------------------------------------- identities */

static json_t *
ident_json(const struct ca_identity *i)
{
	return json_pack("{s:I, s:s, s:o, s:o, s:s, s:b, s:o, s:o}", "id",
	    (json_int_t)i->id, "name", i->name, "email", admin_jtext(i->email),
	    "org", admin_jtext(i->org), "role", ca_role_name(i->role),
	    "disabled", i->disabled, "created_at", admin_jtime(i->created_at),
	    "updated_at", admin_jtime(i->updated_at));
}

static json_t *
map_json(const struct ca_ident_map *m)
{
	return json_pack("{s:I, s:s, s:o, s:b, s:o, s:o, s:o, s:o, s:o}",
	    "id", (json_int_t)m->id, "kind", ca_map_kind_name(m->kind),
	    "value", admin_jtext(m->value), "pinned", m->pinned,
	    "subject", admin_jtext(m->subject), "issuer",
	    admin_jtext(m->issuer), "not_after", admin_jtime(m->not_after),
	    "source", admin_jtext(m->source), "created_at",
	    admin_jtime(m->created_at));
}

static enum cg_code
ident_row(void *arg, const struct ca_identity *i)
{
	return admin_append(arg, ident_json(i)) ? CG_OK : CG_ENOMEM;
}

void
admin_ident_list(struct admin_call *call)
{
	struct cg_err	 err = { 0 };
	json_t		*arr;

	if ((arr = json_array()) == NULL) {
		admin_error(call, 500, "internal", "out of memory");
		return;
	}
	if (ca_store_identity_list(call->st, ident_row, arr, &err) != CG_OK) {
		json_decref(arr);
		admin_fail(call, "cannot list identities", &err);
		return;
	}
	admin_reply(call, 200, json_pack("{s:o}", "identities", arr));
}

static enum cg_code
map_row(void *arg, const struct ca_ident_map *m)
{
	return admin_append(arg, map_json(m)) ? CG_OK : CG_ENOMEM;
}

/* Answer status with identity name and its mappings. */
static void
ident_answer(struct admin_call *call, int status, const char *name)
{
	struct ca_identity	*i = NULL;
	struct cg_err		 err = { 0 };
	json_t			*o, *arr;

	if (ca_store_identity_get(call->st, name, 0, &i, &err) != CG_OK) {
		admin_fail(call, "no such identity", &err);
		return;
	}
	o = ident_json(i);
	arr = json_array();
	if (o == NULL || arr == NULL ||
	    json_object_set(o, "mappings", arr) != 0 ||
	    ca_store_map_list(call->st, i->id, map_row, arr, &err) != CG_OK) {
		json_decref(o);
		json_decref(arr);
		ca_identity_free(i);
		if (err.code == CG_OK)
			cg_err_set(&err, CG_ENOMEM, "out of memory");
		admin_fail(call, "cannot read the identity", &err);
		return;
	}
	json_decref(arr);
	ca_identity_free(i);
	admin_reply(call, status, o);
}

void
admin_ident_show(struct admin_call *call)
{
	ident_answer(call, 200, call->params[0]);
}

/* "role" member into *rolep (left alone when absent); false after 400. */
static bool
body_role(struct admin_call *call, enum ca_role *rolep)
{
	const char	*s;

	if (!admin_body_str(call, "role", 16, &s))
		return false;
	if (s != NULL && !ca_role_parse(s, rolep)) {
		admin_error(call, 400, "bad_request", "role must be none, "
		    "auditor, operator or admin");
		return false;
	}
	return true;
}

void
admin_ident_create(struct admin_call *call)
{
	static const char *const keys[] = { "name", "email", "org", "role",
	    NULL };
	struct ca_identity	 in;
	struct cg_err		 err = { 0 };
	const char		*name, *email, *org;

	memset(&in, 0, sizeof(in));
	if (!admin_body(call, keys) ||
	    !admin_body_str(call, "name", CA_IDENT_NAME_MAX, &name) ||
	    !admin_body_str(call, "email", CA_IDENT_TEXT_MAX, &email) ||
	    !admin_body_str(call, "org", CA_IDENT_TEXT_MAX, &org) ||
	    !body_role(call, &in.role))
		return;
	if (name == NULL) {
		admin_error(call, 400, "bad_request", "'name' is required");
		return;
	}
	snprintf(call->target, sizeof(call->target), "%s", name);
	in.name = (char *)name;
	in.email = (char *)(email != NULL ? email : "");
	in.org = (char *)(org != NULL ? org : "");
	if (ca_store_identity_add(call->st, &in, NULL, &err) != CG_OK) {
		admin_fail(call, "cannot add the identity", &err);
		return;
	}
	admin_note(call, "role=%s", ca_role_name(in.role));
	ident_answer(call, 201, name);
}

void
admin_ident_update(struct admin_call *call)
{
	static const char *const keys[] = { "role", "disabled", NULL };
	struct ca_identity	*i = NULL;
	struct cg_err		 err = { 0 };
	enum ca_role		 role;
	json_t			*d;
	bool			 disabled;

	if (!admin_body(call, keys))
		return;
	if (ca_store_identity_get(call->st, call->params[0], 0, &i, &err) !=
	    CG_OK) {
		admin_fail(call, "no such identity", &err);
		return;
	}
	role = i->role;
	disabled = i->disabled;
	d = json_object_get(call->body, "disabled");
	if (!body_role(call, &role))
		goto out;
	if (d != NULL && !json_is_boolean(d)) {
		admin_error(call, 400, "bad_request", "'disabled' must be true "
		    "or false");
		goto out;
	}
	if (d != NULL)
		disabled = json_is_true(d);
	if (ca_store_identity_update(call->st, i->name, role, disabled,
	    cg_now(), &err) != CG_OK) {
		admin_fail(call, "cannot update the identity", &err);
		goto out;
	}
	admin_note(call, "role=%s disabled=%s", ca_role_name(role),
	    disabled ? "true" : "false");
	ident_answer(call, 200, i->name);
out:
	ca_identity_free(i);
}

/* A thumbprint as admins paste it (any case, ':' between bytes). */
static bool
thumb_norm(const char *s, char *out, size_t cap, size_t want)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++) {
		if (*s == ':')
			continue;
		if (!isxdigit((unsigned char)*s) || n + 1 >= cap)
			return false;
		out[n++] = (char)tolower((unsigned char)*s);
	}
	out[n] = '\0';
	return n == want;
}

void
admin_map_add(struct admin_call *call)
{
	static const char *const keys[] = { "kind", "value", NULL };
	struct ca_identity	*i = NULL;
	struct ca_ident_map	 m;
	struct cg_err		 err = { 0 };
	const char		*kind, *value;
	char			 hex[2 * 32 + 1];
	int64_t			 id = 0;
	json_t			*o;

	memset(&m, 0, sizeof(m));
	if (!admin_body(call, keys) ||
	    !admin_body_str(call, "kind", 16, &kind) ||
	    !admin_body_str(call, "value", CA_IDENT_DN_MAX, &value))
		return;
	if (kind == NULL || value == NULL) {
		admin_error(call, 400, "bad_request", "'kind' and 'value' are "
		    "required");
		return;
	}
	if (strcmp(kind, "sha256") == 0 || strcmp(kind, "sha1") == 0) {
		m.kind = kind[3] == '2' ? CA_MAP_SHA256 : CA_MAP_SHA1;
		if (!thumb_norm(value, hex, sizeof(hex),
		    m.kind == CA_MAP_SHA256 ? 64 : 40)) {
			admin_error(call, 400, "bad_request", "'value' must be "
			    "a %s thumbprint (%d hex digits)", kind,
			    m.kind == CA_MAP_SHA256 ? 64 : 40);
			return;
		}
		m.value = hex;
	} else if (strcmp(kind, "cn") == 0) {
		m.kind = CA_MAP_CN;
		m.value = (char *)value;
	} else {
		admin_error(call, 400, "bad_request", "'kind' must be sha256, "
		    "sha1 or cn");
		return;
	}
	m.source = "manual";
	if (ca_store_identity_get(call->st, call->params[0], 0, &i, &err) !=
	    CG_OK) {
		admin_fail(call, "no such identity", &err);
		return;
	}
	m.identity_id = i->id;
	if (ca_store_map_add(call->st, &m, &id, &err) != CG_OK) {
		admin_fail(call, "cannot add the mapping", &err);
		ca_identity_free(i);
		return;
	}
	admin_note(call, "mapping=%lld kind=%s", (long long)id, kind);
	o = json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)id,
	    "identity", i->name, "kind", kind, "value", admin_jtext(m.value));
	ca_identity_free(i);
	admin_reply(call, 201, o);
}

struct map_find {
	int64_t		 id;
	bool		 found;
};

static enum cg_code
map_find_row(void *arg, const struct ca_ident_map *m)
{
	struct map_find	*mf = arg;

	if (m->id == mf->id)
		mf->found = true;
	return CG_OK;
}

void
admin_map_delete(struct admin_call *call)
{
	struct ca_identity	*i = NULL;
	struct map_find		 mf = { 0 };
	struct cg_err		 err = { 0 };

	if (!admin_param_id(call, 1, &mf.id))
		return;
	if (ca_store_identity_get(call->st, call->params[0], 0, &i, &err) !=
	    CG_OK) {
		admin_fail(call, "no such identity", &err);
		return;
	}
	/* Only a mapping of this identity: the path says whose it is. */
	if (ca_store_map_list(call->st, i->id, map_find_row, &mf, &err) !=
	    CG_OK) {
		admin_fail(call, "cannot list the mappings", &err);
	} else if (!mf.found) {
		admin_error(call, 404, "not_found", "%s has no mapping %lld",
		    i->name, (long long)mf.id);
	} else if (ca_store_map_delete(call->st, mf.id, &err) != CG_OK) {
		admin_fail(call, "cannot delete the mapping", &err);
	} else {
		admin_note(call, "mapping=%lld", (long long)mf.id);
		admin_reply(call, 200, json_pack("{s:I, s:s, s:b}", "id",
		    (json_int_t)mf.id, "identity", i->name, "deleted", 1));
	}
	ca_identity_free(i);
}

static json_t *
import_json(const struct ca_identity *i, const struct ca_cert_import *imp)
{
	json_t	*maps;

	maps = json_pack("[{s:I, s:s, s:s}]", "id",
	    (json_int_t)imp->map_ids[0], "kind", "sha256", "value",
	    imp->sha256);
	if (maps != NULL && imp->map_ids[1] != 0 &&
	    !admin_append(maps, json_pack("{s:I, s:s, s:o}", "id",
	    (json_int_t)imp->map_ids[1], "kind", "cn", "value",
	    admin_jtext(imp->cn)))) {
		json_decref(maps);
		maps = NULL;
	}
	if (maps == NULL)
		return NULL;
	return json_pack("{s:s, s:s, s:b, s:o}", "identity", i->name,
	    "sha256", imp->sha256, "pinned", imp->self_signed, "mappings",
	    maps);
}

/*
 * POST /identities/{name}/certificates {"pem", "thumbprint_only"}: what
 * `certgw user import-cert` does, through the same library calls.  The
 * import's own audit row is this call's: actor NULL.
 */
void
admin_ident_import(struct admin_call *call)
{
	static const char *const keys[] = { "pem", "thumbprint_only", NULL };
	struct ca_identity	*i = NULL;
	struct ca_cert_import	 imp;
	struct cg_err		 err = { 0 };
	STACK_OF(X509)		*certs = NULL;
	X509_STORE		*trust = NULL;
	const char		*pem;
	json_t			*thumb;

	memset(&imp, 0, sizeof(imp));
	if (!admin_body(call, keys) ||
	    !admin_body_str(call, "pem", CA_CERT_PEM_MAX, &pem))
		return;
	thumb = json_object_get(call->body, "thumbprint_only");
	if (thumb != NULL && !json_is_boolean(thumb)) {
		admin_error(call, 400, "bad_request", "'thumbprint_only' must "
		    "be true or false");
		return;
	}
	if (pem == NULL) {
		admin_error(call, 400, "bad_request", "'pem' (the user's "
		    "certificate) is required");
		return;
	}
	if (ca_store_identity_get(call->st, call->params[0], 0, &i, &err) !=
	    CG_OK) {
		admin_fail(call, "no such identity", &err);
		return;
	}
	if (ca_cert_file_parse((const uint8_t *)pem, strlen(pem), &certs,
	    &err) != CG_OK) {
		admin_error(call, 422, "bad_certificate", "the certificate: "
		    "%s", err.msg);
		goto out;
	}
	if (ca_cert_import_check(certs, json_is_true(thumb), &imp, &err) !=
	    CG_OK) {
		if (err.code == CG_EINVAL)
			admin_error(call, 422, "bad_certificate", "%s",
			    err.msg);
		else
			admin_fail(call, "cannot import the certificate", &err);
		goto out;
	}
	admin_note(call, "sha256=%s", imp.sha256);
	if (!imp.self_signed) {
		if (ca_client_trust_store(gw_config_client_ca_file(
		    gw_req_config(call->req)), call->st, &trust, &err) !=
		    CG_OK) {
			admin_fail(call, "cannot load the client trust", &err);
			goto out;
		}
		if (ca_cert_import_verify(&imp, trust, &err) != CG_OK) {
			if (err.code == CG_EAUTH)
				admin_error(call, 422, "untrusted_certificate",
				    "%s", err.msg);
			else if (err.code == CG_EINVAL)
				admin_error(call, 422, "bad_certificate", "%s",
				    err.msg);
			else
				admin_fail(call, "cannot verify the "
				    "certificate", &err);
			goto out;
		}
	}
	if (ca_cert_import_store(call->st, i, &imp, NULL, &err) != CG_OK) {
		admin_fail(call, "cannot map the certificate", &err);
		goto out;
	}
	admin_note(call, "pinned=%d mapping=%lld", imp.self_signed,
	    (long long)imp.map_ids[0]);
	admin_reply(call, 201, import_json(i, &imp));
out:
	X509_STORE_free(trust);
	sk_X509_pop_free(certs, X509_free);
	ca_cert_import_clear(&imp);
	ca_identity_free(i);
}

/* --------------------------------------------------------------- rules */

static json_t *
rule_json(const struct ca_ident_rule *r)
{
	return json_pack("{s:I, s:I, s:o, s:o, s:o, s:o}", "id",
	    (json_int_t)r->id, "position", (json_int_t)r->position,
	    "identity", admin_jtext(r->identity), "issuer",
	    admin_jtext(r->issuer), "subject", admin_jtext(r->subject),
	    "created_at", admin_jtime(r->created_at));
}

static enum cg_code
rule_row(void *arg, const struct ca_ident_rule *r)
{
	return admin_append(arg, rule_json(r)) ? CG_OK : CG_ENOMEM;
}

void
admin_rule_list(struct admin_call *call)
{
	struct cg_err	 err = { 0 };
	json_t		*arr;

	if ((arr = json_array()) == NULL) {
		admin_error(call, 500, "internal", "out of memory");
		return;
	}
	if (ca_store_rule_list(call->st, rule_row, arr, &err) != CG_OK) {
		json_decref(arr);
		admin_fail(call, "cannot list rules", &err);
		return;
	}
	admin_reply(call, 200, json_pack("{s:o}", "rules", arr));
}

void
admin_rule_add(struct admin_call *call)
{
	static const char *const keys[] = { "identity", "issuer", "subject",
	    "position", NULL };
	struct ca_identity	*i = NULL;
	struct ca_ident_rule	 r;
	struct cg_err		 err = { 0 };
	const char		*name, *issuer, *subject;
	json_t			*pos;
	int64_t			 id = 0;

	memset(&r, 0, sizeof(r));
	if (!admin_body(call, keys) ||
	    !admin_body_str(call, "identity", CA_IDENT_NAME_MAX, &name) ||
	    !admin_body_str(call, "issuer", CA_IDENT_DN_MAX, &issuer) ||
	    !admin_body_str(call, "subject", CA_IDENT_DN_MAX, &subject))
		return;
	pos = json_object_get(call->body, "position");
	if (pos != NULL && (!json_is_integer(pos) ||
	    json_integer_value(pos) < 0 || json_integer_value(pos) > 100000)) {
		admin_error(call, 400, "bad_request", "'position' must be an "
		    "integer from 0 (last) to 100000");
		return;
	}
	if (name == NULL || ((issuer == NULL || issuer[0] == '\0') &&
	    (subject == NULL || subject[0] == '\0'))) {
		admin_error(call, 400, "bad_request", "'identity' and an "
		    "'issuer' or 'subject' are required");
		return;
	}
	if (ca_store_identity_get(call->st, name, 0, &i, &err) != CG_OK) {
		admin_fail(call, "no such identity", &err);
		return;
	}
	r.identity_id = i->id;
	r.issuer = (char *)(issuer != NULL ? issuer : "");
	r.subject = (char *)(subject != NULL ? subject : "");
	r.position = pos != NULL ? (int64_t)json_integer_value(pos) : 0;
	snprintf(call->target, sizeof(call->target), "%s", i->name);
	ca_identity_free(i);
	if (ca_store_rule_add(call->st, &r, &id, &err) != CG_OK) {
		admin_fail(call, "cannot add the rule", &err);
		return;
	}
	admin_note(call, "rule=%lld", (long long)id);
	admin_reply(call, 201, json_pack("{s:I, s:s, s:o, s:o}", "id",
	    (json_int_t)id, "identity", call->target, "issuer",
	    admin_jtext(r.issuer), "subject", admin_jtext(r.subject)));
}

void
admin_rule_delete(struct admin_call *call)
{
	struct cg_err	 err = { 0 };
	int64_t		 id;

	if (!admin_param_id(call, 0, &id))
		return;
	if (ca_store_rule_delete(call->st, id, &err) != CG_OK) {
		admin_fail(call, "cannot delete the rule", &err);
		return;
	}
	admin_reply(call, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id,
	    "deleted", 1));
}

/* --------------------------------------------------------------- trust */

static enum cg_code
trust_row(void *arg, const struct ca_trust_anchor *t)
{
	return admin_append(arg, json_pack("{s:I, s:s, s:o, s:o, s:o}", "id",
	    (json_int_t)t->id, "sha256", t->sha256, "subject",
	    admin_jtext(t->subject), "not_after", admin_jtime(t->not_after),
	    "added_at", admin_jtime(t->added_at))) ? CG_OK : CG_ENOMEM;
}

void
admin_trust_list(struct admin_call *call)
{
	struct cg_err	 err = { 0 };
	json_t		*arr;

	if ((arr = json_array()) == NULL) {
		admin_error(call, 500, "internal", "out of memory");
		return;
	}
	if (ca_store_trust_list(call->st, trust_row, arr, &err) != CG_OK) {
		json_decref(arr);
		admin_fail(call, "cannot list trust anchors", &err);
		return;
	}
	admin_reply(call, 200, json_pack("{s:o}", "trust", arr));
}

/* POST /trust {"pem": "..."}: the checks of `certgw trust add`. */
void
admin_trust_add(struct admin_call *call)
{
	static const char *const keys[] = { "pem", NULL };
	struct ca_trust_anchor	 t;
	struct cg_err		 err = { 0 };
	const char		*pem;
	int64_t			 id = 0;

	memset(&t, 0, sizeof(t));
	if (!admin_body(call, keys) ||
	    !admin_body_str(call, "pem", CA_CERT_PEM_MAX, &pem))
		return;
	if (pem == NULL) {
		admin_error(call, 400, "bad_request", "'pem' (the CA "
		    "certificate) is required");
		return;
	}
	if (ca_trust_anchor_make((const uint8_t *)pem, strlen(pem), &t,
	    &err) != CG_OK) {
		admin_error(call, 422, "bad_certificate", "the certificate: "
		    "%s", err.msg);
		return;
	}
	snprintf(call->target, sizeof(call->target), "%s", t.sha256);
	if (ca_store_trust_add(call->st, &t, &id, &err) != CG_OK) {
		if (err.code == CG_ECONFLICT)
			admin_error(call, 409, "already_trusted", "%s is "
			    "already trusted", t.subject);
		else
			admin_fail(call, "cannot add the trust anchor", &err);
		ca_trust_anchor_clear(&t);
		return;
	}
	admin_note(call, "subject=%s", t.subject);
	t.id = id;
	t.added_at = cg_now();
	admin_reply(call, 201, json_pack("{s:I, s:s, s:o, s:o, s:o}", "id",
	    (json_int_t)id, "sha256", t.sha256, "subject",
	    admin_jtext(t.subject), "not_after", admin_jtime(t.not_after),
	    "added_at", admin_jtime(t.added_at)));
	ca_trust_anchor_clear(&t);
}

/* DELETE /trust/{id} */
void
admin_trust_delete(struct admin_call *call)
{
	struct cg_err	 err = { 0 };
	int64_t		 id;

	if (!admin_param_id(call, 0, &id))
		return;
	if (ca_store_trust_delete(call->st, id, &err) != CG_OK) {
		admin_fail(call, "cannot remove the trust anchor", &err);
		return;
	}
	admin_reply(call, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id,
	    "deleted", 1));
}
