/*
 * gw_admin.c - the admin API's front door: the prefix route /admin/v1/ on
 * the HTTPS listener (client certificate required), the endpoint table
 * with the role each endpoint needs, authentication of the caller's
 * identity, the JSON answers and errors, and the audit row every call
 * leaves.  The parsers are in gw_admin_parse.c; the resources in
 * gw_admin_cert.c, gw_admin_ident.c, gw_admin_hold.c, gw_admin_dist.c.
 */
#include "gw_admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ADMIN_CT_JSON		"application/json"
#define ADMIN_AUDIT_PATH_MAX	512	/* path and query bytes in a detail */

static const char *const q_none[] = { NULL };
static const char *const q_certs[] = { "status", "profile", "q", "limit",
    NULL };
static const char *const q_status[] = { "status", NULL };
static const char *const q_audit[] = { "since", "limit", NULL };
static const char *const q_limit[] = { "limit", NULL };

/*
 * Every endpoint.  The paths are written out in full so that the test can
 * check each against docs/admin-api.openapi.json.
 */
static const struct admin_ep {
	unsigned		 method;	/* GW_M_* */
	const char		*path;		/* "{x}" matches a segment */
	enum ca_role		 role;		/* the least role allowed */
	const char		*action;	/* audit action */
	const char *const	*query;		/* parameters it takes */
	admin_fn		*fn;
} eps[] = {
	{ GW_M_GET, "/admin/v1/whoami", CA_ROLE_NONE,
	  "admin.whoami.show", q_none, admin_whoami },
	{ GW_M_GET, "/admin/v1/certificates", CA_ROLE_AUDITOR,
	  "admin.certificates.list", q_certs, admin_cert_list },
	{ GW_M_GET, "/admin/v1/certificates/{serial}", CA_ROLE_AUDITOR,
	  "admin.certificates.show", q_none, admin_cert_show },
	{ GW_M_POST, "/admin/v1/certificates/{serial}/revoke",
	  CA_ROLE_OPERATOR, "admin.certificates.revoke", q_none,
	  admin_cert_revoke },
	{ GW_M_POST, "/admin/v1/certificates/{serial}/reissue",
	  CA_ROLE_OPERATOR, "admin.certificates.reissue", q_none,
	  admin_cert_reissue },
	{ GW_M_GET, "/admin/v1/pending", CA_ROLE_AUDITOR,
	  "admin.pending.list", q_status, admin_pending_list },
	{ GW_M_POST, "/admin/v1/pending/{id}/approve", CA_ROLE_OPERATOR,
	  "admin.pending.approve", q_none, admin_pending_approve },
	{ GW_M_POST, "/admin/v1/pending/{id}/reject", CA_ROLE_OPERATOR,
	  "admin.pending.reject", q_none, admin_pending_reject },
	{ GW_M_GET, "/admin/v1/holding", CA_ROLE_AUDITOR,
	  "admin.holding.list", q_status, admin_holding_list },
	{ GW_M_POST, "/admin/v1/holding/{id}/accept", CA_ROLE_OPERATOR,
	  "admin.holding.accept", q_none, admin_holding_accept },
	{ GW_M_POST, "/admin/v1/holding/{id}/reject", CA_ROLE_OPERATOR,
	  "admin.holding.reject", q_none, admin_holding_reject },
	{ GW_M_GET, "/admin/v1/identities", CA_ROLE_AUDITOR,
	  "admin.identities.list", q_none, admin_ident_list },
	{ GW_M_POST, "/admin/v1/identities", CA_ROLE_ADMIN,
	  "admin.identities.create", q_none, admin_ident_create },
	{ GW_M_GET, "/admin/v1/identities/{name}", CA_ROLE_AUDITOR,
	  "admin.identities.show", q_none, admin_ident_show },
	{ GW_M_POST, "/admin/v1/identities/{name}", CA_ROLE_ADMIN,
	  "admin.identities.update", q_none, admin_ident_update },
	{ GW_M_POST, "/admin/v1/identities/{name}/mappings", CA_ROLE_ADMIN,
	  "admin.mappings.create", q_none, admin_map_add },
	{ GW_M_POST, "/admin/v1/identities/{name}/certificates",
	  CA_ROLE_ADMIN, "admin.identities.import", q_none,
	  admin_ident_import },
	{ GW_M_DELETE, "/admin/v1/identities/{name}/mappings/{id}",
	  CA_ROLE_ADMIN, "admin.mappings.delete", q_none, admin_map_delete },
	{ GW_M_GET, "/admin/v1/rules", CA_ROLE_AUDITOR,
	  "admin.rules.list", q_none, admin_rule_list },
	{ GW_M_POST, "/admin/v1/rules", CA_ROLE_ADMIN,
	  "admin.rules.create", q_none, admin_rule_add },
	{ GW_M_DELETE, "/admin/v1/rules/{id}", CA_ROLE_ADMIN,
	  "admin.rules.delete", q_none, admin_rule_delete },
	{ GW_M_GET, "/admin/v1/trust", CA_ROLE_AUDITOR,
	  "admin.trust.list", q_none, admin_trust_list },
	{ GW_M_POST, "/admin/v1/trust", CA_ROLE_ADMIN,
	  "admin.trust.create", q_none, admin_trust_add },
	{ GW_M_DELETE, "/admin/v1/trust/{id}", CA_ROLE_ADMIN,
	  "admin.trust.delete", q_none, admin_trust_delete },
	{ GW_M_GET, "/admin/v1/distribution", CA_ROLE_AUDITOR,
	  "admin.distribution.status", q_none, admin_dist_status },
	{ GW_M_POST, "/admin/v1/distribution/retry", CA_ROLE_OPERATOR,
	  "admin.distribution.retry", q_none, admin_dist_retry },
	{ GW_M_GET, "/admin/v1/notifications", CA_ROLE_AUDITOR,
	  "admin.notifications.list", q_limit, admin_notify_list },
	{ GW_M_GET, "/admin/v1/audit", CA_ROLE_AUDITOR,
	  "admin.audit.list", q_audit, admin_audit_list },
};

#define NEPS	(sizeof(eps) / sizeof(eps[0]))

/* ------------------------------------------------------------ answers */

static void
audit_call(struct admin_call *call, int status)
{
	const char	*q = gw_req_query(call->req);
	char		 where[ADMIN_AUDIT_PATH_MAX + 1], *detail;
	struct cg_err	 err = { 0 };
	size_t		 i;

	snprintf(where, sizeof(where), "%s%s%s", gw_req_path(call->req),
	    q != NULL ? "?" : "", q != NULL ? q : "");
	for (i = 0; where[i] != '\0'; i++)
		if ((unsigned char)where[i] < 0x20 ||
		    (unsigned char)where[i] >= 0x7f)
			where[i] = '?';
	detail = cg_asprintf("%s %s status=%d%s%s", gw_req_method(call->req),
	    where, status, call->note[0] != '\0' ? " " : "", call->note);
	if (detail == NULL || ca_store_audit_add(call->st, call->actor,
	    call->action, call->target, status < 400 ? "ok" : status < 500 ?
	    "refused" : "error", detail, &err) != CG_OK)
		cg_log_err("event=audit_failed action=%s msg=\"%s\"",
		    call->action, detail == NULL ? "out of memory" : err.msg);
	cg_free(detail);
}

static void
reply_json(struct admin_call *call, int status, json_t *o)
{
	static const char oom[] = "{\"error\":\"internal\",\"detail\":"
	    "\"out of memory\"}\n";
	char	*text;

	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text == NULL) {
		status = 500;
		audit_call(call, status);
		gw_req_reply(call->req, status, ADMIN_CT_JSON, oom,
		    sizeof(oom) - 1);
		return;
	}
	audit_call(call, status);
	gw_req_set_header(call->req, "Cache-Control", "no-store");
	gw_req_reply(call->req, status, ADMIN_CT_JSON, text, strlen(text));
	/* json_dumps allocates with jansson's allocator: plain free. */
	free(text);
}

void
admin_reply(struct admin_call *call, int status, json_t *o)
{
	reply_json(call, status, o);
}

void
admin_error(struct admin_call *call, int status, const char *code,
    const char *fmt, ...)
{
	char	 detail[512];
	va_list	 ap;
	json_t	*o;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	admin_note(call, "error=%s", code);
	o = json_pack("{s:s, s:o}", "error", code, "detail",
	    admin_jtext(detail));
	reply_json(call, status, o);
}

void
admin_fail(struct admin_call *call, const char *what,
    const struct cg_err *err)
{
	switch (err->code) {
	case CG_ENOTFOUND:
		admin_error(call, 404, "not_found", "%s: %s", what, err->msg);
		break;
	case CG_ECONFLICT:
		admin_error(call, 409, "conflict", "%s: %s", what, err->msg);
		break;
	case CG_EINVAL:
	case CG_ETOOBIG:
		admin_error(call, 400, "bad_request", "%s: %s", what, err->msg);
		break;
	case CG_EDENIED:
		admin_error(call, 403, "denied", "%s: %s", what, err->msg);
		break;
	default:
		/* Server faults: the detail is for the log only. */
		cg_log_err_struct(__func__, what, err);
		admin_error(call, 500, "internal", "%s failed; see the "
		    "gateway's log", what);
		break;
	}
}

void
admin_note(struct admin_call *call, const char *fmt, ...)
{
	size_t	 used = strlen(call->note);
	va_list	 ap;

	if (used + 2 >= sizeof(call->note))
		return;
	if (used > 0)
		call->note[used++] = ' ';
	va_start(ap, fmt);
	vsnprintf(call->note + used, sizeof(call->note) - used, fmt, ap);
	va_end(ap);
}

bool
admin_limit(struct admin_call *call, size_t *limitp)
{
	const char	*s = admin_query_get(&call->query, "limit");
	uint64_t	 n;

	*limitp = ADMIN_LIMIT_DEFAULT;
	if (s == NULL)
		return true;
	if (!cg_parse_u64(s, strlen(s), ADMIN_LIMIT_MAX, &n) || n == 0) {
		admin_error(call, 400, "bad_request", "limit must be 1 to %d",
		    ADMIN_LIMIT_MAX);
		return false;
	}
	*limitp = (size_t)n;
	return true;
}

bool
admin_body(struct admin_call *call, const char *const *allowed)
{
	const uint8_t	*body;
	const char	*ct;
	struct cg_err	 err = { 0 };
	size_t		 len, n;

	body = gw_req_body(call->req, &len);
	if (len > ADMIN_BODY_MAX) {
		admin_error(call, 413, "body_too_large", "the body is larger "
		    "than %d bytes", ADMIN_BODY_MAX);
		return false;
	}
	if (len > 0) {
		ct = gw_req_header(call->req, "Content-Type");
		n = strlen(ADMIN_CT_JSON);
		if (ct == NULL || strncasecmp(ct, ADMIN_CT_JSON, n) != 0 ||
		    (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ')) {
			admin_error(call, 415, "unsupported_media_type",
			    "the body must be %s", ADMIN_CT_JSON);
			return false;
		}
	}
	if (admin_body_parse(body, len, allowed, &call->body, &err) != CG_OK) {
		admin_error(call, err.code == CG_ETOOBIG ? 413 : 400,
		    err.code == CG_ETOOBIG ? "body_too_large" : "bad_request",
		    "%s", err.msg);
		return false;
	}
	return true;
}

bool
admin_body_str(struct admin_call *call, const char *key, size_t max,
    const char **outp)
{
	json_t	*v = json_object_get(call->body, key);

	*outp = NULL;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		admin_error(call, 400, "bad_request", "'%s' must be a string",
		    key);
		return false;
	}
	if (json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		admin_error(call, 400, "bad_request", "'%s' must be at most "
		    "%zu bytes, without NUL", key, max);
		return false;
	}
	*outp = json_string_value(v);
	return true;
}

bool
admin_param_id(struct admin_call *call, size_t i, int64_t *idp)
{
	const char	*s = call->params[i];
	uint64_t	 n;

	if (i >= call->nparams || !cg_parse_u64(s, strlen(s), INT64_MAX, &n) ||
	    n == 0) {
		admin_error(call, 404, "not_found", "'%.64s' is not an id", s);
		return false;
	}
	*idp = (int64_t)n;
	return true;
}

json_t *
admin_jtext(const char *s)
{
	json_t	*j;
	char	*d;
	size_t	 i;

	d = cg_strdup(s != NULL ? s : "");
	if (d == NULL)
		return NULL;
	for (i = 0; d[i] != '\0'; i++)
		if ((unsigned char)d[i] < 0x20 || (unsigned char)d[i] >= 0x7f)
			d[i] = '?';
	j = json_string(d);
	cg_free(d);
	return j;
}

json_t *
admin_jtime(int64_t t)
{
	char	 buf[32];

	if (t == 0)
		return json_null();
	cg_time_fmt(t, buf, sizeof(buf));
	return json_string(buf);
}

bool
admin_append(json_t *arr, json_t *o)
{
	return o != NULL && json_array_append_new(arr, o) == 0;
}

/* ----------------------------------------------------------- dispatch */

/* The endpoint for call's path and method; *allowp the methods the path
   takes when only the method is wrong. */
static const struct admin_ep *
ep_find(struct admin_call *call, const char *sub, unsigned method,
    unsigned *allowp)
{
	const struct admin_ep	*ep;
	size_t			 i, plen = strlen(ADMIN_PREFIX);

	*allowp = 0;
	if (method == GW_M_HEAD)
		method = GW_M_GET;
	for (i = 0; i < NEPS; i++) {
		ep = &eps[i];
		if (!admin_path_match(ep->path + plen, sub, call->params,
		    &call->nparams))
			continue;
		*allowp |= ep->method;
		if (ep->method == method)
			return ep;
	}
	call->nparams = 0;
	return NULL;
}

static unsigned
method_of(const char *name)
{
	if (strcmp(name, "GET") == 0)
		return GW_M_GET;
	if (strcmp(name, "HEAD") == 0)
		return GW_M_HEAD;
	if (strcmp(name, "POST") == 0)
		return GW_M_POST;
	if (strcmp(name, "PUT") == 0)
		return GW_M_PUT;
	if (strcmp(name, "DELETE") == 0)
		return GW_M_DELETE;
	return 0;
}

static void
allow_text(unsigned m, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s%s%s", m & GW_M_GET ? "GET, HEAD" : "",
	    (m & GW_M_GET) && (m & (GW_M_POST | GW_M_DELETE)) ? ", " : "",
	    m & GW_M_POST ? "POST" : "",
	    (m & GW_M_POST) && (m & GW_M_DELETE) ? ", " : "",
	    m & GW_M_DELETE ? "DELETE" : "");
}

static void
admin_handle(struct gw_req *req, void *arg)
{
	const struct admin_ep	*ep;
	struct admin_call	 call;
	struct cg_err		 err = { 0 };
	const char		*path = gw_req_path(req);
	char			 allow[64];
	unsigned		 allowed;

	(void)arg;
	memset(&call, 0, sizeof(call));
	call.req = req;
	call.st = gw_req_store(req);
	call.ca = gw_req_ca(req);
	snprintf(call.actor, sizeof(call.actor), "api:-");
	ep = ep_find(&call, path + strlen(ADMIN_PREFIX),
	    method_of(gw_req_method(req)), &allowed);
	call.action = ep != NULL ? ep->action : "admin.unknown";
	if (ep != NULL && call.nparams > 0)
		snprintf(call.target, sizeof(call.target), "%s",
		    call.params[0]);

	/* Who is asking comes first: nothing is revealed to strangers. */
	call.ident = gw_req_identity(req);
	if (call.ident == NULL) {
		admin_error(&call, 403, "client_cert_unmapped", "the client "
		    "certificate maps to no identity; ask an admin to map it "
		    "(certgw user add-cert, or accept it from the holding "
		    "tank)");
		return;
	}
	snprintf(call.actor, sizeof(call.actor), "api:%s", call.ident->name);
	if (call.ident->disabled) {
		admin_error(&call, 403, "identity_disabled", "identity %s is "
		    "disabled", call.ident->name);
		return;
	}
	if (ep == NULL && allowed != 0) {
		allow_text(allowed, allow, sizeof(allow));
		gw_req_set_header(req, "Allow", allow);
		admin_error(&call, 405, "method_not_allowed", "%s is not "
		    "allowed here; allowed: %s", gw_req_method(req), allow);
		return;
	}
	if (ep == NULL) {
		admin_error(&call, 404, "not_found", "no such endpoint");
		return;
	}
	if (call.ident->role < ep->role) {
		admin_error(&call, 403, "forbidden", "this call needs the %s "
		    "role or higher; %s has the role %s",
		    ca_role_name(ep->role), call.ident->name,
		    ca_role_name(call.ident->role));
		return;
	}
	if (admin_query_parse(gw_req_query(req), ep->query, &call.query,
	    &err) != CG_OK) {
		admin_error(&call, 400, "bad_request", "%s", err.msg);
		return;
	}
	ep->fn(&call);
	json_decref(call.body);
}

enum cg_code
admin_register(struct gw_server *srv, struct cg_err *err)
{
	const struct gw_route	 r = {
		.path = ADMIN_PREFIX,
		.prefix = true,
		.listeners = GW_ON_HTTPS,
		.methods = GW_M_GET | GW_M_POST | GW_M_DELETE,
		.cert = GW_CERT_REQUIRE,
		.fn = admin_handle,
		.arg = NULL,
	};

	return gw_route_add(srv, &r, err);
}
