/*
 * gw_admin.h - the admin API: a JSON REST API under /admin/v1/ on the
 * HTTPS listener for identities with an admin role (docs/admin-api.md).
 * gw_admin.c registers the one prefix route, authenticates, dispatches
 * through the endpoint table, answers and audits every call; the
 * resources live in gw_admin_<resource>.c.  Handlers run on the loop
 * thread with that thread's store.
 *
 * The parsers (gw_admin_parse.c: query string, JSON body, path matching)
 * are pure and read untrusted bytes; tests/fuzz/fuzz_admin.c drives them.
 */
#ifndef CERTGW_GW_ADMIN_H
#define CERTGW_GW_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "certgw/core.h"
#include "certgw/gw.h"
#include "certgw/store.h"

#define ADMIN_PREFIX		"/admin/v1/"
#define ADMIN_BODY_MAX		(64 * 1024)	/* request body bytes */
#define ADMIN_QUERY_MAX		2048	/* query string bytes */
#define ADMIN_QPARAMS_MAX	8	/* parameters in one query */
#define ADMIN_QKEY_MAX		32	/* bytes of a parameter name */
#define ADMIN_QVAL_MAX		256	/* bytes of a decoded value */
#define ADMIN_SEGS_MAX		6	/* path segments after the prefix */
#define ADMIN_SEG_MAX		256	/* bytes of one path segment */
#define ADMIN_PARAMS_MAX	3	/* {x} captures in one path */
#define ADMIN_LIMIT_DEFAULT	100	/* list rows when limit= is absent */
#define ADMIN_LIMIT_MAX		1000	/* list rows at most */
#define ADMIN_REDIS_MS		500	/* Redis timeout for an admin call */

/* Register the admin API's route on srv.  Main thread, before run. */
enum cg_code	 admin_register(struct gw_server *srv, struct cg_err *err);

/* ------------------------------------------------------------ parsers */

struct admin_query {
	size_t		 n;
	char		 key[ADMIN_QPARAMS_MAX][ADMIN_QKEY_MAX + 1];
	char		 val[ADMIN_QPARAMS_MAX][ADMIN_QVAL_MAX + 1];
};

/*
 * Split and percent-decode a raw query string ("a=1&b=x%20y", '+' is a
 * space).  Every key must be one of allowed (NULL-terminated), at most
 * once; values hold no control bytes.  CG_EINVAL / CG_ETOOBIG with a
 * message fit for the client.  q NULL or "" is no parameters.
 */
enum cg_code	 admin_query_parse(const char *q, const char *const *allowed,
		    struct admin_query *out, struct cg_err *err);
/* The value of key, or NULL. */
const char	*admin_query_get(const struct admin_query *aq,
		    const char *key);

/*
 * A request body: empty is an empty object; otherwise a JSON object of at
 * most ADMIN_BODY_MAX bytes whose keys are all in allowed.  *objp is the
 * caller's.  CG_EINVAL / CG_ETOOBIG with a message fit for the client.
 */
enum cg_code	 admin_body_parse(const uint8_t *body, size_t len,
		    const char *const *allowed, json_t **objp,
		    struct cg_err *err);

/*
 * Match path (after ADMIN_PREFIX) against pattern (after it too), where a
 * "{name}" segment matches any non-empty segment and is captured into
 * params[] (ADMIN_SEG_MAX + 1 bytes each) in order.  True on a match.
 */
bool		 admin_path_match(const char *pattern, const char *path,
		    char params[ADMIN_PARAMS_MAX][ADMIN_SEG_MAX + 1],
		    size_t *nparamsp);

/* ------------------------------------------------------------- calls */

struct admin_call {
	struct gw_req		*req;
	struct ca_store		*st;		/* this loop thread's */
	struct ca		*ca;
	const struct ca_identity *ident;	/* the caller */
	char			 actor[CA_IDENT_NAME_MAX + 8]; /* "api:name" */
	const char		*action;	/* "admin.certificates.list" */
	char			 params[ADMIN_PARAMS_MAX][ADMIN_SEG_MAX + 1];
	size_t			 nparams;
	struct admin_query	 query;
	json_t			*body;		/* parsed body, or NULL */
	char			 target[ADMIN_SEG_MAX + 1]; /* for the audit */
	char			 note[CA_STORE_TEXT_MAX / 4]; /* audit detail */
};

typedef void admin_fn(struct admin_call *call);

/* Answer 2xx with o as JSON (taking o's reference); audited as "ok". */
void		 admin_reply(struct admin_call *call, int status, json_t *o);
/*
 * Answer {"error": code, "detail": detail} with status; audited as
 * "refused" (4xx) or "error" (5xx).
 */
void		 admin_error(struct admin_call *call, int status,
		    const char *code, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
/*
 * Answer for a failed store or CA call: ENOTFOUND 404 not_found,
 * ECONFLICT 409 conflict, EINVAL 400 bad_request, ETOOBIG 413, others
 * 500 internal (the detail goes to the log, not the client).
 */
void		 admin_fail(struct admin_call *call, const char *what,
		    const struct cg_err *err);
/* Audit detail text added to the path and status (e.g. "reason=x"). */
void		 admin_note(struct admin_call *call, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/*
 * Query limit= (default ADMIN_LIMIT_DEFAULT, 1..ADMIN_LIMIT_MAX); false
 * after answering 400.
 */
bool		 admin_limit(struct admin_call *call, size_t *limitp);
/*
 * Parse the body against allowed keys; false after answering (415 for a
 * body that is not application/json, 413, 400).  call->body is set.
 */
bool		 admin_body(struct admin_call *call,
		    const char *const *allowed);
/* A body member as a string (NULL if absent); false after 400. */
bool		 admin_body_str(struct admin_call *call, const char *key,
		    size_t max, const char **outp);
/* An id path parameter (1..INT64_MAX); false after 404. */
bool		 admin_param_id(struct admin_call *call, size_t i,
		    int64_t *idp);

/* Text from a client or a certificate as a JSON string: printable ASCII,
   anything else '?', so the answer stays valid UTF-8. */
json_t		*admin_jtext(const char *s);
/* Unix seconds as "YYYY-MM-DDTHH:MM:SSZ", or JSON null for 0. */
json_t		*admin_jtime(int64_t t);
/* Append o to arr (taking o); false when o is NULL or out of memory. */
bool		 admin_append(json_t *arr, json_t *o);

/* Endpoints (gw_admin_cert.c, _ident.c, _hold.c, _dist.c). */
admin_fn	 admin_whoami;
admin_fn	 admin_cert_list;
admin_fn	 admin_cert_show;
admin_fn	 admin_cert_revoke;
admin_fn	 admin_cert_reissue;
admin_fn	 admin_pending_list;
admin_fn	 admin_pending_approve;
admin_fn	 admin_pending_reject;
admin_fn	 admin_audit_list;
admin_fn	 admin_holding_list;
admin_fn	 admin_holding_accept;
admin_fn	 admin_holding_reject;
admin_fn	 admin_ident_list;
admin_fn	 admin_ident_create;
admin_fn	 admin_ident_show;
admin_fn	 admin_ident_update;
admin_fn	 admin_ident_import;
admin_fn	 admin_map_add;
admin_fn	 admin_map_delete;
admin_fn	 admin_rule_list;
admin_fn	 admin_rule_add;
admin_fn	 admin_rule_delete;
admin_fn	 admin_trust_list;
admin_fn	 admin_trust_add;
admin_fn	 admin_trust_delete;
admin_fn	 admin_dist_status;
admin_fn	 admin_dist_retry;
admin_fn	 admin_notify_list;

#endif /* CERTGW_GW_ADMIN_H */
