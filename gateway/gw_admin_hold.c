/*
 * gw_admin_hold.c - the admin API's holding tank: client certificates
 * seen on `accept` routes that map to nobody, listed for review, accepted
 * (mapped to an identity one-to-one by SHA-256, pinned when self-signed,
 * as `certgw holding accept` does; the mapping and the decision in one
 * transaction) or rejected.
 */
#include "gw_admin.h"

#include <string.h>

#include <openssl/x509.h>

static const char *const hold_words[] = {
	[CA_HOLD_PENDING] = "pending",
	[CA_HOLD_ACCEPTED] = "accepted",
	[CA_HOLD_REJECTED] = "rejected",
};

static json_t *
hold_json(const struct ca_holding *h)
{
	return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:s, "
	    "s:o, s:o}", "id", (json_int_t)h->id, "sha256", h->sha256,
	    "subject", admin_jtext(h->subject), "issuer",
	    admin_jtext(h->issuer), "not_after", admin_jtime(h->not_after),
	    "first_seen", admin_jtime(h->first_seen), "last_seen",
	    admin_jtime(h->last_seen), "source", admin_jtext(h->source),
	    "count", (json_int_t)h->count, "status",
	    h->status >= 0 && h->status <= CA_HOLD_REJECTED ?
	    hold_words[h->status] : "unknown",
	    "decided_by", h->decided_by[0] != '\0' ?
	    admin_jtext(h->decided_by) : json_null(),
	    "decided_at", admin_jtime(h->decided_at));
}

struct hold_list {
	json_t		*arr;
	size_t		 n;
};

static enum cg_code
hold_row(void *arg, const struct ca_holding *h)
{
	struct hold_list	*hl = arg;

	if (hl->n >= ADMIN_LIMIT_MAX)
		return CG_OK;
	hl->n++;
	return admin_append(hl->arr, hold_json(h)) ? CG_OK : CG_ENOMEM;
}

void
admin_holding_list(struct admin_call *call)
{
	struct hold_list	 hl = { 0 };
	struct cg_err		 err = { 0 };
	const char		*s = admin_query_get(&call->query, "status");
	int			 status = CA_HOLD_PENDING;

	if (s != NULL && strcmp(s, "all") == 0)
		status = -1;
	else if (s != NULL && strcmp(s, "pending") == 0)
		status = CA_HOLD_PENDING;
	else if (s != NULL && strcmp(s, "accepted") == 0)
		status = CA_HOLD_ACCEPTED;
	else if (s != NULL && strcmp(s, "rejected") == 0)
		status = CA_HOLD_REJECTED;
	else if (s != NULL) {
		admin_error(call, 400, "bad_request", "status must be "
		    "pending, accepted, rejected or all");
		return;
	}
	if ((hl.arr = json_array()) == NULL) {
		admin_error(call, 500, "internal", "out of memory");
		return;
	}
	if (ca_store_holding_list(call->st, status, hold_row, &hl, &err) !=
	    CG_OK) {
		json_decref(hl.arr);
		admin_fail(call, "cannot list the holding tank", &err);
		return;
	}
	admin_reply(call, 200, json_pack("{s:o}", "holding", hl.arr));
}

/* Self-signed: names itself as issuer and its own key verifies it. */
/* A pending row of the tank, or NULL after answering. */
static struct ca_holding *
hold_get(struct admin_call *call, int64_t id)
{
	struct ca_holding	*h = NULL;
	struct cg_err		 err = { 0 };

	if (ca_store_holding_get(call->st, id, &h, &err) != CG_OK) {
		admin_fail(call, "no such certificate in the holding tank",
		    &err);
		return NULL;
	}
	snprintf(call->target, sizeof(call->target), "%s", h->sha256);
	if (h->status != CA_HOLD_PENDING) {
		admin_error(call, 409, "conflict", "holding %lld was %s "
		    "already", (long long)id, h->status == CA_HOLD_ACCEPTED ?
		    "accepted" : "rejected");
		ca_holding_free(h);
		return NULL;
	}
	return h;
}

void
admin_holding_accept(struct admin_call *call)
{
	static const char *const keys[] = { "user", NULL };
	struct ca_identity	*i = NULL;
	struct ca_holding	*h = NULL;
	struct cg_err		 err = { 0 };
	const char		*user;
	int64_t			 id, mid = 0;
	bool			 pinned = false;

	if (!admin_param_id(call, 0, &id) || !admin_body(call, keys) ||
	    !admin_body_str(call, "user", CA_IDENT_NAME_MAX, &user))
		return;
	if (user == NULL) {
		admin_error(call, 400, "bad_request", "'user' (the identity "
		    "to map the certificate to) is required");
		return;
	}
	if ((h = hold_get(call, id)) == NULL)
		return;
	if (ca_store_identity_get(call->st, user, 0, &i, &err) != CG_OK) {
		admin_fail(call, "no such identity", &err);
		goto out;
	}
	/* As `certgw holding accept`; the call's own audit row says it. */
	if (ca_holding_accept(call->st, h, i, call->actor, false, &mid,
	    &pinned, &err) != CG_OK) {
		admin_fail(call, "cannot accept", &err);
		goto out;
	}
	admin_note(call, "user=%s mapping=%lld pinned=%s", i->name,
	    (long long)mid, pinned ? "yes" : "no");
	admin_reply(call, 200, json_pack("{s:I, s:s, s:s, s:I, s:b}", "id",
	    (json_int_t)id, "status", "accepted", "user", i->name,
	    "mapping", (json_int_t)mid, "pinned", pinned));
out:
	ca_identity_free(i);
	ca_holding_free(h);
}

void
admin_holding_reject(struct admin_call *call)
{
	static const char *const keys[] = { NULL };
	struct ca_holding	*h;
	struct cg_err		 err = { 0 };
	int64_t			 id;

	if (!admin_param_id(call, 0, &id) || !admin_body(call, keys))
		return;
	if ((h = hold_get(call, id)) == NULL)
		return;
	ca_holding_free(h);
	if (ca_store_holding_decide(call->st, id, CA_HOLD_REJECTED,
	    call->actor, cg_now(), &err) != CG_OK) {
		admin_fail(call, "cannot reject", &err);
		return;
	}
	admin_reply(call, 200, json_pack("{s:I, s:s}", "id", (json_int_t)id,
	    "status", "rejected"));
}
