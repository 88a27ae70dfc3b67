/*
 * gw_admin_cert.c - admin API resources about what the CA did: who am I,
 * certificates (list, show, revoke through the CA core), pending requests
 * (approve through the CA core, reject) and the audit log.  The JSON
 * shapes follow the CLI's --json output (gateway/cmd_cert.c,
 * cmd_pending.c, cmd_crl.c) so scripts can move between the two.
 */
#include "gw_admin.h"

#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

/* -------------------------------------------------------------- whoami */

void
admin_whoami(struct admin_call *call)
{
	const struct ca_identity *i = call->ident;
	X509			*x = gw_req_peer_cert(call->req);
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	char			 hex[2 * EVP_MAX_MD_SIZE + 1] = "";
	char			 subj[CA_IDENT_DN_MAX] = "";
	BIO			*b;
	int			 n;

	if (x != NULL) {
		if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1)
			cg_hex_encode(md, mdlen, hex, false);
		/* RFC 2253, as the store and the logs write names. */
		if ((b = BIO_new(BIO_s_mem())) != NULL &&
		    X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
		    XN_FLAG_RFC2253) >= 0) {
			n = BIO_read(b, subj, sizeof(subj) - 1);
			subj[n > 0 ? n : 0] = '\0';
		}
		BIO_free(b);
	}
	admin_reply(call, 200, json_pack("{s:s, s:s, s:o, s:o, s:b, "
	    "s:{s:o, s:s}}", "name", i->name, "role", ca_role_name(i->role),
	    "email", admin_jtext(i->email), "org", admin_jtext(i->org),
	    "disabled", i->disabled, "certificate", "subject",
	    admin_jtext(subj), "sha256", hex));
}

/* -------------------------------------------------------- certificates */

/* The status and renewal date `certgw cert show` gives, by its profile. */
static json_t *
cert_json(const struct gw_config *conf, const struct ca_cert_rec *r,
    int64_t now)
{
	const struct ca_profile	*p = gw_config_profile(conf, r->profile);
	json_t			*o;

	o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
	    "s:o, s:o, s:s, s:s}",
	    "serial", r->serial, "status", ca_cert_status_word(p, r, now),
	    "renew_after", admin_jtime(ca_profile_renew_start(p,
	    r->not_before, r->not_after)),
	    "subject", admin_jtext(r->subject), "issuer",
	    admin_jtext(r->issuer), "sans", admin_jtext(r->sans),
	    "not_before", admin_jtime(r->not_before),
	    "not_after", admin_jtime(r->not_after),
	    "issued_at", admin_jtime(r->issued_at),
	    "profile", admin_jtext(r->profile),
	    "protocol", admin_jtext(r->protocol),
	    "requester", admin_jtext(r->requester),
	    "sha1", r->sha1, "sha256", r->sha256);
	if (o != NULL && r->status == CA_CERT_REVOKED &&
	    (json_object_set_new(o, "revoked_at", admin_jtime(r->revoked_at))
	    != 0 || json_object_set_new(o, "revocation_reason",
	    json_string(ca_reason_name((enum ca_reason)r->revoke_reason))) !=
	    0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

struct cert_list {
	json_t		*arr;
	const char	*q;		/* substring of subject or serial */
	size_t		 limit;
	size_t		 n;
	bool		 more;		/* rows past the limit */
	bool		 update_needed;	/* only those inside their window */
	const struct gw_config *conf;
	int64_t		 now;
};

/* Case-insensitive substring search on short strings. */
static bool
contains(const char *hay, const char *needle)
{
	size_t	 n = strlen(needle), i;

	for (; *hay != '\0'; hay++) {
		for (i = 0; i < n; i++)
			if (hay[i] == '\0' || (hay[i] | 0x20) !=
			    (needle[i] | 0x20))
				break;
		if (i == n)
			return true;
	}
	return n == 0;
}

static enum cg_code
cert_row(void *arg, const struct ca_cert_rec *r)
{
	struct cert_list	*cl = arg;

	if (cl->q != NULL && !contains(r->subject, cl->q) &&
	    !contains(r->serial, cl->q) && !contains(r->sans, cl->q))
		return CG_OK;
	if (cl->update_needed && strcmp(ca_cert_status_word(
	    gw_config_profile(cl->conf, r->profile), r, cl->now),
	    "update-needed") != 0)
		return CG_OK;
	if (cl->n == cl->limit) {
		/* One more than asked for says "there is more"; stop. */
		cl->more = true;
		return CG_ECONFLICT;
	}
	if (!admin_append(cl->arr, cert_json(cl->conf, r, cl->now)))
		return CG_ENOMEM;
	cl->n++;
	return CG_OK;
}

void
admin_cert_list(struct admin_call *call)
{
	struct ca_cert_filter	 f = { .status = -1 };
	struct cert_list	 cl = { 0 };
	struct cg_err		 err = { 0 };
	const char		*s;
	enum cg_code		 rc;

	if (!admin_limit(call, &cl.limit))
		return;
	if ((s = admin_query_get(&call->query, "status")) != NULL) {
		if (strcmp(s, "valid") == 0)
			f.status = CA_CERT_VALID;
		else if (strcmp(s, "revoked") == 0)
			f.status = CA_CERT_REVOKED;
		else if (strcmp(s, "expired") == 0)
			f.status = CA_FILTER_EXPIRED;
		else if (strcmp(s, "update-needed") == 0) {
			/* Windows differ per profile: filtered per row. */
			f.status = CA_CERT_VALID;
			cl.update_needed = true;
		} else if (strcmp(s, "all") != 0) {
			admin_error(call, 400, "bad_request", "status must be "
			    "valid, update-needed, revoked, expired or all");
			return;
		}
	}
	if ((s = admin_query_get(&call->query, "profile")) != NULL &&
	    s[0] != '\0')
		f.profile = s;
	if ((s = admin_query_get(&call->query, "q")) != NULL && s[0] != '\0')
		cl.q = s;
	cl.now = f.now = cg_now();
	cl.conf = gw_req_config(call->req);
	/* Without a search the store stops at the limit (and one more). */
	if (cl.q == NULL && !cl.update_needed)
		f.limit = cl.limit + 1;
	if ((cl.arr = json_array()) == NULL) {
		admin_error(call, 500, "internal", "out of memory");
		return;
	}
	rc = ca_store_cert_list(call->st, &f, cert_row, &cl, &err);
	if (rc != CG_OK && !cl.more) {
		json_decref(cl.arr);
		admin_fail(call, "cannot list certificates", &err);
		return;
	}
	admin_note(call, "count=%zu", cl.n);
	admin_reply(call, 200, json_pack("{s:o, s:I, s:b}", "certificates",
	    cl.arr, "count", (json_int_t)cl.n, "truncated", cl.more));
}

static json_t *
pem_of(const struct ca_cert_rec *r)
{
	const unsigned char	*p = r->der;
	BUF_MEM			*mem;
	X509			*x;
	BIO			*b;
	json_t			*j = NULL;

	x = d2i_X509(NULL, &p, (long)r->der_len);
	b = BIO_new(BIO_s_mem());
	if (x != NULL && b != NULL && PEM_write_bio_X509(b, x) == 1 &&
	    BIO_get_mem_ptr(b, &mem) == 1)
		j = json_stringn(mem->data, mem->length);
	BIO_free(b);
	X509_free(x);
	return j;
}

void
admin_cert_show(struct admin_call *call)
{
	struct ca_cert_rec	*r = NULL;
	struct cg_err		 err = { 0 };
	json_t			*o;

	if (ca_store_cert_get(call->st, call->params[0], &r, &err) != CG_OK) {
		admin_fail(call, "no such certificate", &err);
		return;
	}
	snprintf(call->target, sizeof(call->target), "%s", r->serial);
	o = cert_json(gw_req_config(call->req), r, cg_now());
	if (o != NULL && json_object_set_new(o, "pem", pem_of(r)) != 0) {
		json_decref(o);
		o = NULL;
	}
	ca_cert_rec_free(r);
	admin_reply(call, 200, o);
}

/*
 * POST /certificates/{serial}/reissue: `certgw cert reissue` with the same
 * key (a new key would have to travel back through the API: not offered).
 */
void
admin_cert_reissue(struct admin_call *call)
{
	static const char *const keys[] = { "profile", "revoke_old", NULL };
	struct ca_reissue_req	 rq = { 0 };
	const struct ca_profile	*prof;
	struct ca_cert_rec	*old = NULL, *r = NULL;
	struct ca_issued	*is = NULL;
	struct cg_err		 err = { 0 };
	const char		*pname;
	json_t			*ro, *o;

	if (!admin_body(call, keys) ||
	    !admin_body_str(call, "profile", 64, &pname))
		return;
	ro = json_object_get(call->body, "revoke_old");
	if (ro != NULL && !json_is_boolean(ro)) {
		admin_error(call, 400, "bad_request", "'revoke_old' must be "
		    "true or false");
		return;
	}
	if (ca_store_cert_get(call->st, call->params[0], &old, &err) != CG_OK) {
		admin_fail(call, "no such certificate", &err);
		return;
	}
	snprintf(call->target, sizeof(call->target), "%s", old->serial);
	if (old->status == CA_CERT_REVOKED) {
		admin_error(call, 409, "revoked", "certificate %s is revoked; "
		    "a revoked certificate is not reissued", old->serial);
		goto out;
	}
	if (pname == NULL)
		pname = old->profile;
	if ((prof = gw_config_profile(gw_req_config(call->req), pname)) ==
	    NULL) {
		admin_error(call, 422, "unknown_profile", "no profile '%s' in "
		    "the config", pname);
		goto out;
	}
	rq.old = old;
	rq.profile = prof;
	rq.actor = call->actor;
	rq.revoke_old = json_is_true(ro);
	if (ca_reissue(call->ca, call->st, &rq, &is, &err) != CG_OK) {
		if (err.code == CG_EDENIED)
			admin_error(call, 422, "refused", "%s", err.msg);
		else
			admin_fail(call, "cannot reissue", &err);
		goto out;
	}
	admin_note(call, "new=%s profile=%s%s", is->serial, prof->name,
	    rq.revoke_old ? " old=revoked" : "");
	if (ca_store_cert_get(call->st, is->serial, &r, &err) != CG_OK) {
		admin_fail(call, "reissued, but cannot read it back", &err);
		goto out;
	}
	o = cert_json(gw_req_config(call->req), r, cg_now());
	if (o != NULL && (json_object_set_new(o, "pem", pem_of(r)) != 0 ||
	    json_object_set_new(o, "old_serial", json_string(old->serial)) !=
	    0)) {
		json_decref(o);
		o = NULL;
	}
	admin_reply(call, 201, o);
out:
	ca_issued_free(is);
	ca_cert_rec_free(r);
	ca_cert_rec_free(old);
}

void
admin_cert_revoke(struct admin_call *call)
{
	static const char *const keys[] = { "reason", NULL };
	struct ca_cert_rec	*r = NULL;
	struct cg_err		 err = { 0 };
	enum ca_reason		 reason = CA_REASON_UNSPECIFIED;
	const char		*s;

	if (!admin_body(call, keys) || !admin_body_str(call, "reason", 64, &s))
		return;
	if (s != NULL && !ca_reason_parse(s, &reason)) {
		admin_error(call, 400, "bad_request", "unknown reason '%s' "
		    "(unspecified, keyCompromise, cACompromise, "
		    "affiliationChanged, superseded, cessationOfOperation, "
		    "certificateHold, privilegeWithdrawn, aACompromise)", s);
		return;
	}
	admin_note(call, "reason=%s", ca_reason_name(reason));
	/* The CA core records it and its own audit row in one transaction. */
	if (ca_revoke(call->ca, call->st, call->params[0], reason, call->actor,
	    &err) != CG_OK) {
		if (err.code == CG_ECONFLICT)
			admin_error(call, 409, "already_revoked", "%s",
			    err.msg);
		else
			admin_fail(call, "cannot revoke", &err);
		return;
	}
	if (ca_store_cert_get(call->st, call->params[0], &r, &err) != CG_OK) {
		admin_fail(call, "revoked, but cannot read it back", &err);
		return;
	}
	snprintf(call->target, sizeof(call->target), "%s", r->serial);
	admin_reply(call, 200, cert_json(gw_req_config(call->req), r,
	    cg_now()));
	ca_cert_rec_free(r);
}

/* ------------------------------------------------------------- pending */

static const char *const pending_words[] = {
	[CA_PENDING_WAITING] = "waiting",
	[CA_PENDING_APPROVED] = "approved",
	[CA_PENDING_REJECTED] = "rejected",
};

static json_t *
pending_json(const struct ca_pending_rec *r, int64_t now)
{
	json_t	*o;

	o = json_pack("{s:I, s:s, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:s}",
	    "id", (json_int_t)r->id, "status",
	    (unsigned)r->status < CA_PENDING__MAX ? pending_words[r->status] :
	    "unknown", "created_at", admin_jtime(r->created_at),
	    "age_s", (json_int_t)(now - r->created_at),
	    "protocol", admin_jtext(r->protocol),
	    "profile", admin_jtext(r->profile),
	    "requester", admin_jtext(r->requester),
	    "subject", admin_jtext(r->subject), "sans", admin_jtext(r->sans),
	    "csr_sha256", r->csr_sha256);
	if (o == NULL || r->status == CA_PENDING_WAITING)
		return o;
	if (json_object_set_new(o, "decided_at", admin_jtime(r->decided_at))
	    != 0 || json_object_set_new(o, "decided_by",
	    admin_jtext(r->decided_by)) != 0 ||
	    (r->status == CA_PENDING_APPROVED && json_object_set_new(o,
	    "cert_serial", admin_jtext(r->cert_serial)) != 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

struct pending_list {
	json_t		*arr;
	int64_t		 now;
	size_t		 n;
};

static enum cg_code
pending_row(void *arg, const struct ca_pending_rec *r)
{
	struct pending_list	*pl = arg;

	if (pl->n >= ADMIN_LIMIT_MAX)
		return CG_OK;
	pl->n++;
	return admin_append(pl->arr, pending_json(r, pl->now)) ? CG_OK :
	    CG_ENOMEM;
}

void
admin_pending_list(struct admin_call *call)
{
	struct pending_list	 pl = { 0 };
	struct cg_err		 err = { 0 };
	const char		*s = admin_query_get(&call->query, "status");
	int			 status = CA_PENDING_WAITING;
	size_t			 i;

	if (s != NULL && strcmp(s, "all") == 0) {
		status = -1;
	} else if (s != NULL) {
		for (i = 0; i < CA_PENDING__MAX; i++)
			if (strcmp(s, pending_words[i]) == 0)
				break;
		if (i == CA_PENDING__MAX) {
			admin_error(call, 400, "bad_request", "status must be "
			    "waiting, approved, rejected or all");
			return;
		}
		status = (int)i;
	}
	pl.now = cg_now();
	if ((pl.arr = json_array()) == NULL) {
		admin_error(call, 500, "internal", "out of memory");
		return;
	}
	if (ca_store_pending_list(call->st, status, pending_row, &pl, &err) !=
	    CG_OK) {
		json_decref(pl.arr);
		admin_fail(call, "cannot list pending requests", &err);
		return;
	}
	admin_reply(call, 200, json_pack("{s:o}", "pending", pl.arr));
}

/* Answer with the row as it is now. */
static void
pending_answer(struct admin_call *call, int64_t id)
{
	struct ca_pending_rec	*r = NULL;
	struct cg_err		 err = { 0 };

	if (ca_store_pending_get(call->st, id, &r, &err) != CG_OK) {
		admin_fail(call, "cannot read the request back", &err);
		return;
	}
	admin_reply(call, 200, pending_json(r, cg_now()));
	ca_pending_rec_free(r);
}

void
admin_pending_approve(struct admin_call *call)
{
	static const char *const keys[] = { NULL };
	const struct ca_profile	*prof;
	struct ca_pending_rec	*r = NULL;
	struct cg_err		 err = { 0 };
	char			 serial[CA_SERIAL_HEX_MAX];
	int64_t			 id;

	if (!admin_param_id(call, 0, &id) || !admin_body(call, keys))
		return;
	if (ca_store_pending_get(call->st, id, &r, &err) != CG_OK) {
		admin_fail(call, "no such request", &err);
		return;
	}
	prof = gw_config_profile(gw_req_config(call->req), r->profile);
	if (prof == NULL) {
		admin_error(call, 409, "conflict", "request %lld is for "
		    "profile '%s', which is no longer in the config; reject "
		    "it or restore the profile", (long long)id, r->profile);
		ca_pending_rec_free(r);
		return;
	}
	ca_pending_rec_free(r);
	if (ca_pending_approve(call->ca, call->st, id, prof, call->actor,
	    serial, &err) != CG_OK) {
		admin_fail(call, "cannot approve", &err);
		return;
	}
	admin_note(call, "serial=%s", serial);
	pending_answer(call, id);
}

void
admin_pending_reject(struct admin_call *call)
{
	static const char *const keys[] = { "reason", NULL };
	struct cg_err	 err = { 0 };
	const char	*reason;
	char		 text[201];
	int64_t		 id;
	size_t		 i;

	if (!admin_param_id(call, 0, &id) || !admin_body(call, keys) ||
	    !admin_body_str(call, "reason", 256, &reason))
		return;
	/* The store keeps no reason; the audit row does, printable. */
	if (reason != NULL) {
		snprintf(text, sizeof(text), "%s", reason);
		for (i = 0; text[i] != '\0'; i++)
			if ((unsigned char)text[i] < 0x20 ||
			    (unsigned char)text[i] >= 0x7f || text[i] == '"')
				text[i] = '?';
		admin_note(call, "reason=\"%s\"", text);
	}
	if (ca_pending_reject(call->st, id, call->actor, &err) != CG_OK) {
		admin_fail(call, "cannot reject", &err);
		return;
	}
	pending_answer(call, id);
}

/* --------------------------------------------------------------- audit */

/* The newest limit rows at or after since, oldest first (a ring). */
struct audit_list {
	json_t		**ring;
	size_t		 limit;
	size_t		 total;
};

static enum cg_code
audit_row(void *arg, const struct ca_audit_rec *r)
{
	struct audit_list	*al = arg;
	json_t			*o;
	size_t			 slot = al->total % al->limit;

	o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
	    (json_int_t)r->id, "at", admin_jtime(r->at), "actor",
	    admin_jtext(r->actor), "action", admin_jtext(r->action),
	    "target", admin_jtext(r->target), "outcome",
	    admin_jtext(r->outcome), "detail", admin_jtext(r->detail));
	if (o == NULL)
		return CG_ENOMEM;
	json_decref(al->ring[slot]);
	al->ring[slot] = o;
	al->total++;
	return CG_OK;
}

void
admin_audit_list(struct admin_call *call)
{
	struct audit_list	 al = { 0 };
	struct cg_err		 err = { 0 };
	const char		*s = admin_query_get(&call->query, "since");
	int64_t			 since = 0, d;
	uint64_t		 u;
	size_t			 i, n, first;
	json_t			*arr = NULL;
	bool			 ok = true;

	if (!admin_limit(call, &al.limit))
		return;
	if (s != NULL && s[0] != '\0') {
		/* Unix seconds, or a duration back from now ("1h", "7d"). */
		if (cg_parse_u64(s, strlen(s), INT64_MAX, &u))
			since = (int64_t)u;
		else if (cg_parse_duration(s, &d))
			since = cg_now() - d;
		else {
			admin_error(call, 400, "bad_request", "since is unix "
			    "seconds or a duration such as 1h or 7d");
			return;
		}
	}
	al.ring = cg_calloc(al.limit, sizeof(*al.ring));
	if (al.ring == NULL || (arr = json_array()) == NULL) {
		cg_free(al.ring);
		admin_error(call, 500, "internal", "out of memory");
		return;
	}
	if (ca_store_audit_list(call->st, since, audit_row, &al, &err) !=
	    CG_OK)
		ok = false;
	n = al.total < al.limit ? al.total : al.limit;
	first = al.total < al.limit ? 0 : al.total % al.limit;
	for (i = 0; i < n; i++) {
		if (ok && json_array_append(arr,
		    al.ring[(first + i) % al.limit]) != 0)
			ok = false;
	}
	for (i = 0; i < al.limit; i++)
		json_decref(al.ring[i]);
	cg_free(al.ring);
	if (!ok) {
		json_decref(arr);
		admin_fail(call, "cannot read the audit log", &err);
		return;
	}
	admin_reply(call, 200, json_pack("{s:o, s:b}", "audit", arr,
	    "truncated", al.total > al.limit));
}
