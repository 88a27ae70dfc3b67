/*
 * acme_authz.c - authorizations and challenges (RFC 8555 §7.5, §7.5.1,
 * §7.5.2): their JSON, deactivation, and the challenge response that hands
 * a validation to the validator thread (acme_validate.c).  The thread's
 * verdict, and the CAA check that follows a success when the directory
 * asks for it, are written to the store from that thread; clients see
 * them by polling, as RFC 8555 §7.5.1 expects.
 */
#include "acme_int.h"

#include <stdio.h>
#include <string.h>

/* A challenge's URL argument: "<authz id>.<challenge id>". */
#define CHALL_SEP	'.'

json_t *
acme_chall_json(const struct acme_call *call, const struct ca_acme_chall *c)
{
	char	 url[ACME_URL_MAX];
	json_t	*j, *e;

	if (acme_url(call, url, sizeof(url), NULL, "chall/%s%c%s",
	    c->authz_id, CHALL_SEP, c->id) != CG_OK)
		return NULL;
	j = json_pack("{s:s, s:s, s:s, s:s}", "type", c->type, "url", url,
	    "status", c->status, "token", c->token);
	if (j == NULL)
		return NULL;
	if (c->validated != 0)
		json_object_set_new(j, "validated",
		    acme_time_json(c->validated));
	if (c->error[0] != '\0' && (e = acme_json_load(c->error)) != NULL)
		json_object_set_new(j, "error", e);
	return j;
}

/* A pending or valid authorization past its expiry reads as expired. */
static const char *
authz_status(const struct acme_call *call, const struct ca_acme_authz *a)
{
	if ((strcmp(a->status, "pending") == 0 ||
	    strcmp(a->status, "valid") == 0) && a->expires <= call->now)
		return "expired";
	return a->status;
}

json_t *
acme_authz_json(const struct acme_call *call, const struct ca_acme_authz *a)
{
	json_t	*j, *cs;
	size_t	 i;

	cs = json_array();
	if (cs == NULL)
		return NULL;
	for (i = 0; i < a->nchalls; i++) {
		/* §7.1.4: a valid authorization shows the challenge that
		   made it so; others every challenge offered. */
		if (strcmp(a->status, "valid") == 0 &&
		    strcmp(a->challs[i].status, "valid") != 0)
			continue;
		if (json_array_append_new(cs, acme_chall_json(call,
		    &a->challs[i])) != 0) {
			json_decref(cs);
			return NULL;
		}
	}
	j = json_pack("{s:{s:s, s:s}, s:s, s:o, s:o}", "identifier", "type",
	    a->id_type, "value", a->id_value, "status", authz_status(call, a),
	    "expires", acme_time_json(a->expires), "challenges", cs);
	if (j != NULL && a->wildcard)
		json_object_set_new(j, "wildcard", json_true());
	return j;
}

/* ----------------------------------------------------------- loading */

static enum cg_code
authz_load(struct acme_call *call, const char *id, struct ca_acme_authz **ap,
    struct cg_err *err)
{
	enum cg_code	 rc;

	rc = ca_store_acme_authz_get(gw_req_store(call->req), id, ap, err);
	if (rc == CG_ENOTFOUND) {
		cg_err_clear(err);
		return cg_err_set(err, CG_ENOTFOUND, "no such authorization");
	}
	if (rc != CG_OK)
		return rc;
	if (strcmp((*ap)->account_id, call->acct->id) != 0) {
		ca_acme_authz_free(*ap);
		*ap = NULL;
		return acme_refuse(&call->prob, err, ACME_P_UNAUTHORIZED,
		    CG_EAUTH, "the authorization belongs to another account");
	}
	return CG_OK;
}

/*
 * A validation that outlived twice its time limit was lost (the process
 * that ran it stopped, or the validator refused it): run it again, here,
 * for the owner who is looking at it.  Best effort: failures are logged
 * and the challenge stays as it was.
 */
static void
revive_stale(struct acme_call *call, const struct ca_acme_authz *a)
{
	int64_t		 limit = 2 * (call->as->vtimeout_ms / 1000) + 10;
	struct cg_err	 err = { 0 };
	size_t		 i;

	for (i = 0; i < a->nchalls; i++) {
		const struct ca_acme_chall *c = &a->challs[i];

		if (strcmp(c->status, "processing") != 0 ||
		    c->updated_at >= call->now - limit)
			continue;
		/* The same status again stamps updated_at: one reviver. */
		if (ca_store_acme_chall_transition(gw_req_store(call->req),
		    c->id, "processing", "processing", call->now, &err) !=
		    CG_OK || acme_validation_start(call, a, c, &err) != CG_OK)
			cg_log_err_struct(__func__, "stale validation", &err);
		else
			cg_log_info("event=acme_validation_revived "
			    "challenge=%s", c->id);
		return;
	}
}

static enum cg_code
authz_reply(struct acme_call *call, const struct ca_acme_authz *a,
    struct cg_err *err)
{
	json_t		*j;
	enum cg_code	 rc;

	j = acme_authz_json(call, a);
	if (j == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	if (strcmp(authz_status(call, a), "pending") == 0)
		acme_set_retry_after(call);
	rc = acme_reply_json(call, 200, j, NULL, err);
	json_decref(j);
	return rc;
}

enum cg_code
acme_op_authz(struct acme_call *call, struct cg_err *err)
{
	struct ca_acme_authz	*a = NULL, *now = NULL;
	const json_t		*st;
	const char		*from;
	enum cg_code		 rc;

	rc = authz_load(call, call->arg, &a, err);
	if (rc == CG_OK && strcmp(a->status, "pending") == 0)
		revive_stale(call, a);
	if (rc != CG_OK || call->payload == NULL)
		goto reply;
	/* §7.5.2: a client may only deactivate. */
	st = json_object_get(call->payload, "status");
	if (st == NULL)
		goto reply;
	if (!json_is_string(st) || strcmp(json_string_value(st),
	    "deactivated") != 0) {
		rc = acme_refuse(&call->prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "status may only be set to \"deactivated\"");
		goto out;
	}
	from = a->status;
	if (strcmp(from, "pending") != 0 && strcmp(from, "valid") != 0) {
		rc = acme_refuse(&call->prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "a %s authorization cannot be deactivated", from);
		goto out;
	}
	rc = ca_store_acme_authz_transition(gw_req_store(call->req), a->id,
	    from, "deactivated", call->now, err);
	if (rc == CG_OK)
		rc = authz_load(call, call->arg, &now, err);
	if (rc == CG_OK) {
		ca_acme_authz_free(a);
		a = now;
	}
reply:
	if (rc == CG_OK)
		rc = authz_reply(call, a, err);
out:
	ca_acme_authz_free(a);
	return rc;
}

/* ------------------------------------------------------- challenges */

/* Split "<authz>.<chall>" and find both; the challenge is in *a. */
static enum cg_code
chall_find(struct acme_call *call, struct ca_acme_authz **ap, size_t *ip,
    struct cg_err *err)
{
	char		*sep = strchr(call->arg, CHALL_SEP);
	size_t		 i;
	enum cg_code	 rc;

	if (sep == NULL)
		return cg_err_set(err, CG_ENOTFOUND, "no such challenge");
	*sep = '\0';
	rc = authz_load(call, call->arg, ap, err);
	*sep = CHALL_SEP;
	if (rc != CG_OK)
		return rc;
	for (i = 0; i < (*ap)->nchalls; i++)
		if (strcmp((*ap)->challs[i].id, sep + 1) == 0) {
			*ip = i;
			return CG_OK;
		}
	return cg_err_set(err, CG_ENOTFOUND, "no such challenge");
}

static enum cg_code
chall_reply(struct acme_call *call, const struct ca_acme_authz *a,
    const struct ca_acme_chall *c, struct cg_err *err)
{
	char		 up[ACME_URL_MAX], link[ACME_URL_MAX + 16];
	json_t		*j;
	enum cg_code	 rc;

	rc = acme_url(call, up, sizeof(up), err, "authz/%s", a->id);
	if (rc != CG_OK)
		return rc;
	snprintf(link, sizeof(link), "<%s>;rel=\"up\"", up);
	gw_req_set_header(call->req, "Link", link);
	j = acme_chall_json(call, c);
	if (j == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	if (strcmp(c->status, "processing") == 0)
		acme_set_retry_after(call);
	rc = acme_reply_json(call, 200, j, NULL, err);
	json_decref(j);
	return rc;
}

enum cg_code
acme_op_chall(struct acme_call *call, struct cg_err *err)
{
	struct ca_acme_authz	*a = NULL;
	struct ca_acme_chall	*c;
	size_t			 i = 0;
	char			*news;
	enum cg_code		 rc;

	rc = chall_find(call, &a, &i, err);
	if (rc != CG_OK)
		goto out;
	c = &a->challs[i];
	if (strcmp(a->status, "pending") == 0)
		revive_stale(call, a);
	/* §7.5.1: a response to a pending challenge starts validation;
	   anything else just shows the challenge. */
	if (call->payload == NULL || strcmp(c->status, "pending") != 0 ||
	    strcmp(a->status, "pending") != 0 || a->expires <= call->now)
		goto reply;
	rc = ca_store_acme_chall_transition(gw_req_store(call->req), c->id,
	    "pending", "processing", call->now, err);
	if (rc == CG_ECONFLICT) {
		/* Another response got there first; show what it did. */
		cg_err_clear(err);
		rc = CG_OK;
		goto reply;
	}
	if (rc == CG_OK)
		rc = acme_validation_start(call, a, c, err);
	if (rc != CG_OK) {
		ca_store_acme_chall_transition(gw_req_store(call->req), c->id,
		    "processing", "pending", call->now, NULL);
		goto out;
	}
	news = cg_strdup("processing");
	if (news == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	cg_free(c->status);
	c->status = news;
reply:
	rc = chall_reply(call, a, &a->challs[i], err);
out:
	ca_acme_authz_free(a);
	return rc;
}

/* ------------------------------------------------------- validation */

/* What a validation carries to the validator thread and back. */
struct vctx {
	struct acme_server	*as;
	char			 chall[CA_ACME_ID_MAX + 1];
	bool			 caa_next;	/* run CAA after a success */
	struct acme_vjob	 caa;		/* that CAA job */
};

static const struct {
	const char	*type;
	enum acme_vtype	 v;
} vtypes[] = {
	{ "http-01", ACME_V_HTTP01 },
	{ "dns-01", ACME_V_DNS01 },
	{ "tls-alpn-01", ACME_V_TLSALPN01 },
};

/* The store as the validator thread sees it (opened on first use). */
static struct ca_store *
vstore(struct acme_server *as)
{
	struct cg_err	 err = { 0 };

	if (as->vstore == NULL &&
	    ca_store_open(as->store_path, &as->vstore, &err) != CG_OK)
		cg_log_err_struct(__func__, "validator store", &err);
	return as->vstore;
}

static void
settle(struct vctx *vc, const struct acme_vresult *res)
{
	struct ca_store	*st;
	struct cg_err	 err = { 0 };
	json_t		*doc = NULL;
	char		*etext = NULL;

	if (vc->as->stopping) {
		/* Cut short by shutdown: left processing, revived later. */
		cg_free(vc);
		return;
	}
	st = vstore(vc->as);

	if (!res->ok) {
		doc = acme_problem_json(res->prob != ACME_P_NONE ? res->prob :
		    ACME_P_SERVER_INTERNAL, res->detail);
		etext = doc != NULL ? acme_json_dump(doc) : NULL;
	}
	if (st == NULL || ca_store_acme_chall_settle(st, vc->chall, res->ok,
	    etext != NULL ? etext : "", cg_now(), &err) != CG_OK)
		cg_log_err_struct(__func__, "challenge not settled", &err);
	else
		cg_log_info("event=acme_validated challenge=%s ok=%s%s%s",
		    vc->chall, res->ok ? "yes" : "no",
		    res->ok ? "" : " type=", res->ok ? "" :
		    strrchr(acme_problem_type(res->prob), ':') + 1);
	json_decref(doc);
	cg_free(etext);
	cg_free(vc);
}

static void
caa_done(void *arg, const struct acme_vresult *res)
{
	settle(arg, res);
}

static void
chall_done(void *arg, const struct acme_vresult *res)
{
	struct vctx	*vc = arg;
	struct cg_err	 err = { 0 };

	if (res->ok && vc->caa_next) {
		vc->caa_next = false;
		if (acme_validate(vc->as->validator, &vc->caa, caa_done, vc,
		    &err) == CG_OK)
			return;
		struct acme_vresult	 fail = {
			.ok = false, .prob = ACME_P_SERVER_INTERNAL,
			.detail = "CAA check could not start",
		};
		settle(vc, &fail);
		return;
	}
	settle(vc, res);
}

/* method is static: the job outlives the request. */
static enum cg_code
caa_job(struct acme_call *call, const struct ca_acme_authz *a,
    const char *method, struct acme_vjob *job, struct cg_err *err)
{
	const struct ca_strlist	*ids = &call->dir->caa_identities;
	size_t			 i;
	enum cg_code		 rc;

	memset(job, 0, sizeof(*job));
	job->type = ACME_V_CAA;
	job->ip = strcmp(a->id_type, "ip") == 0;
	job->wildcard = a->wildcard;
	snprintf(job->value, sizeof(job->value), "%s", a->id_value);
	for (i = 0; i < ids->n && i < ACME_V_CAA_IDS_MAX; i++)
		snprintf(job->caa_ids[i], sizeof(job->caa_ids[i]), "%s",
		    ids->v[i]);
	job->ncaa_ids = i;
	rc = acme_url(call, job->account_uri, sizeof(job->account_uri), err,
	    "acct/%s", call->acct->id);
	job->method = method;
	return rc;
}

enum cg_code
acme_validation_start(struct acme_call *call, const struct ca_acme_authz *a,
    const struct ca_acme_chall *c, struct cg_err *err)
{
	struct acme_vjob	 job;
	struct vctx		*vc;
	char			 thumb[ACME_THUMBPRINT_LEN + 1];
	size_t			 i;
	enum cg_code		 rc;

	memset(&job, 0, sizeof(job));
	for (i = 0; i < sizeof(vtypes) / sizeof(vtypes[0]); i++)
		if (strcmp(vtypes[i].type, c->type) == 0)
			break;
	if (i == sizeof(vtypes) / sizeof(vtypes[0]))
		return cg_err_set(err, CG_EINTERNAL, "challenge type %s",
		    c->type);
	job.type = vtypes[i].v;
	job.ip = strcmp(a->id_type, "ip") == 0;
	job.wildcard = a->wildcard;
	rc = acme_jwk_thumbprint(call->key, thumb, err);
	if (rc != CG_OK)
		return rc;
	if (snprintf(job.value, sizeof(job.value), "%s", a->id_value) >=
	    (int)sizeof(job.value) || snprintf(job.token, sizeof(job.token),
	    "%s", c->token) >= (int)sizeof(job.token))
		return cg_err_set(err, CG_EINTERNAL, "identifier too long");
	snprintf(job.keyauth, sizeof(job.keyauth), "%s.%s", c->token, thumb);
	vc = cg_calloc(1, sizeof(*vc));
	if (vc == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	vc->as = call->as;
	snprintf(vc->chall, sizeof(vc->chall), "%s", c->id);
	if (call->dir->caa_check) {
		vc->caa_next = true;
		rc = caa_job(call, a, vtypes[i].type, &vc->caa, err);
	}
	if (rc == CG_OK)
		rc = acme_validate(call->as->validator, &job, chall_done, vc,
		    err);
	if (rc == CG_ETOOBIG) {
		cg_err_clear(err);
		call->retry_after = 1;
		rc = acme_refuse(&call->prob, err, ACME_P_RATE_LIMITED,
		    CG_EDENIED, "too many validations in progress; retry");
	}
	if (rc != CG_OK)
		cg_free(vc);
	return rc;
}
