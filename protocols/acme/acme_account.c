/*
 * acme_account.c - account resources (RFC 8555 §7.3): newAccount with
 * onlyReturnExisting and external account binding (§7.3.4), account
 * update and deactivation (§7.3.2, §7.3.6), the orders list (§7.1.2.1)
 * and key rollover (§7.3.5).
 */
#include "acme_int.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#define HOUR_S		3600

json_t *
acme_account_json(const struct acme_call *call,
    const struct ca_acme_account *a)
{
	char	 url[ACME_URL_MAX];
	json_t	*o, *contact;

	if (acme_url(call, url, sizeof(url), NULL, "acct/%s/orders",
	    a->id) != CG_OK)
		return NULL;
	contact = acme_json_load(a->contact);
	if (contact == NULL)
		contact = json_array();
	o = json_pack("{s:s, s:o, s:s}", "status", a->status, "contact",
	    contact, "orders", url);
	if (o != NULL && a->tos_agreed)
		json_object_set_new(o, "termsOfServiceAgreed", json_true());
	return o;
}

static enum cg_code
account_reply(struct acme_call *call, int status,
    const struct ca_acme_account *a, struct cg_err *err)
{
	char		 url[ACME_URL_MAX];
	json_t		*o;
	enum cg_code	 rc;

	rc = acme_url(call, url, sizeof(url), err, "acct/%s", a->id);
	if (rc != CG_OK)
		return rc;
	o = acme_account_json(call, a);
	if (o == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = acme_reply_json(call, status, o, url, err);
	json_decref(o);
	return rc;
}

/* --------------------------------------------------------- contacts */

/* A mailto: URL with one plain address and no hfields (§7.3). */
static bool
mailto_is_valid(const char *s)
{
	const char	*addr = s + 7, *at;
	size_t		 i, n;

	if (strncmp(s, "mailto:", 7) != 0)
		return false;
	n = strlen(addr);
	at = strchr(addr, '@');
	if (n == 0 || n > ACME_CONTACT_MAX || at == NULL || at == addr ||
	    at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char	 c = (unsigned char)addr[i];

		if (c <= ' ' || c >= 0x7f || c == ',' || c == '?' ||
		    c == '<' || c == '>' || c == '"' || c == '\\')
			return false;
	}
	return ca_dns_pattern_is_valid(at + 1) && at[1] != '*';
}

/* The "contact" member checked and rendered as stored JSON text. */
static enum cg_code
contact_text(struct acme_call *call, const json_t *contact, char **outp,
    struct cg_err *err)
{
	const json_t	*v;
	size_t		 i;

	*outp = NULL;
	if (!json_is_array(contact))
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "contact must be an array of URLs");
	if (json_array_size(contact) > ACME_CONTACTS_MAX)
		return acme_refuse(&call->prob, err, ACME_P_INVALID_CONTACT,
		    CG_EINVAL, "at most %d contacts", ACME_CONTACTS_MAX);
	json_array_foreach(contact, i, v) {
		const char	*s = json_string_value(v);

		if (s == NULL)
			return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
			    CG_EINVAL, "contact must be an array of URLs");
		if (strncmp(s, "mailto:", 7) != 0)
			return acme_refuse(&call->prob, err,
			    ACME_P_UNSUPPORTED_CONTACT, CG_EINVAL,
			    "only mailto: contacts are supported");
		if (!mailto_is_valid(s))
			return acme_refuse(&call->prob, err,
			    ACME_P_INVALID_CONTACT, CG_EINVAL,
			    "contact %zu is not one mailto: address", i);
	}
	*outp = acme_json_dump(contact);
	if (*outp == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

/* ------------------------------------------------------- newAccount */

struct eab_ctx {
	struct acme_call	*call;
	bool			 bound;		/* the key is used already */
};

static enum cg_code
eab_lookup(void *arg, const char *kid, uint8_t key[ACME_EAB_KEY_MAX],
    size_t *keylenp, struct cg_err *err)
{
	struct eab_ctx		*ec = arg;
	struct ca_acme_eab	*e = NULL;
	enum cg_code		 rc;

	*keylenp = 0;
	rc = ca_store_acme_eab_get(gw_req_store(ec->call->req), kid, &e, err);
	if (rc != CG_OK)
		return rc;
	if (strcmp(e->directory, ec->call->dir->name) != 0 ||
	    e->key_len > ACME_EAB_KEY_MAX) {
		ca_acme_eab_free(e);
		return cg_err_set(err, CG_ENOTFOUND, "unknown EAB key");
	}
	ec->bound = e->account_id[0] != '\0';
	memcpy(key, e->key, e->key_len);
	*keylenp = e->key_len;
	ca_acme_eab_free(e);
	return CG_OK;
}

static enum cg_code
eab_check(struct acme_call *call, char kid[ACME_EAB_KID_MAX + 1],
    struct cg_err *err)
{
	const json_t	*eab = json_object_get(call->payload,
			    "externalAccountBinding");
	struct eab_ctx	 ec = { .call = call };
	char		 url[ACME_URL_MAX];
	enum cg_code	 rc;

	kid[0] = '\0';
	if (eab == NULL) {
		if (call->dir->eab_required)
			return acme_refuse(&call->prob, err,
			    ACME_P_EXTERNAL_ACCOUNT_REQUIRED, CG_EAUTH,
			    "this directory requires an external account "
			    "binding");
		return CG_OK;
	}
	rc = acme_url(call, url, sizeof(url), err, "new-account");
	if (rc == CG_OK)
		rc = acme_eab_verify(eab, url, call->jws->jwk, eab_lookup, &ec,
		    kid, &call->prob, err);
	if (rc != CG_OK)
		return rc;
	/* §7.3.4 leaves reuse to policy: here a key binds one account. */
	if (ec.bound)
		return acme_refuse(&call->prob, err, ACME_P_UNAUTHORIZED,
		    CG_EAUTH, "the external account key is already used");
	return CG_OK;
}

static enum cg_code
limit_accounts(struct acme_call *call, struct cg_err *err)
{
	uint32_t	 max = call->dir->limits.accounts_per_ip;
	size_t		 n = 0;
	enum cg_code	 rc;

	if (max == 0)
		return CG_OK;
	rc = ca_store_acme_account_count_ip(gw_req_store(call->req),
	    call->dir->name, acme_peer_ip(call), call->now - HOUR_S,
	    &n, err);
	if (rc != CG_OK)
		return rc;
	if (n >= max) {
		call->retry_after = HOUR_S;
		return acme_refuse(&call->prob, err, ACME_P_RATE_LIMITED,
		    CG_EDENIED, "too many new accounts from this address "
		    "(limit %u per hour)", max);
	}
	return CG_OK;
}

/* An existing account for the key: 200 with its URL (§7.3.1). */
static enum cg_code
existing(struct acme_call *call, const char *thumb, bool *foundp,
    struct cg_err *err)
{
	struct ca_acme_account	*a = NULL;
	enum cg_code		 rc;

	*foundp = false;
	rc = ca_store_acme_account_find(gw_req_store(call->req),
	    call->dir->name, thumb, &a, err);
	if (rc == CG_ENOTFOUND) {
		cg_err_clear(err);
		return CG_OK;
	}
	if (rc != CG_OK)
		return rc;
	*foundp = true;
	if (strcmp(a->status, "valid") != 0)
		rc = acme_refuse(&call->prob, err, ACME_P_UNAUTHORIZED,
		    CG_EAUTH, "the account of this key is %s", a->status);
	else
		rc = account_reply(call, 200, a, err);
	ca_acme_account_free(a);
	return rc;
}

static enum cg_code
account_create(struct acme_call *call, struct ca_acme_account *a,
    const char *eab_kid, struct cg_err *err)
{
	struct ca_store	*st = gw_req_store(call->req);
	enum cg_code	 rc;

	rc = ca_store_begin(st, err);
	if (rc == CG_OK)
		rc = ca_store_acme_account_insert(st, a, err);
	if (rc == CG_OK && eab_kid[0] != '\0')
		rc = ca_store_acme_eab_bind(st, eab_kid, a->id, call->now,
		    err);
	if (rc == CG_OK)
		rc = ca_store_commit(st, err);
	if (rc != CG_OK)
		ca_store_rollback(st);
	return rc;
}

static enum cg_code
new_account_fill(struct acme_call *call, struct ca_acme_account *a,
    char *id, char *thumb, struct cg_err *err)
{
	const json_t	*contact = json_object_get(call->payload, "contact");
	const json_t	*tos = json_object_get(call->payload,
			    "termsOfServiceAgreed");
	json_t		*jwk = NULL;
	enum cg_code	 rc;

	if (tos != NULL && !json_is_boolean(tos))
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "termsOfServiceAgreed must be a boolean");
	if (call->dir->terms_of_service != NULL && !json_is_true(tos))
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "the terms of service must be agreed to");
	a->tos_agreed = json_is_true(tos);
	if (contact != NULL)
		rc = contact_text(call, contact, &a->contact, err);
	else
		rc = (a->contact = cg_strdup("[]")) != NULL ? CG_OK :
		    cg_err_set(err, CG_ENOMEM, "out of memory");
	if (rc != CG_OK)
		return rc;
	rc = acme_jwk_from_pkey(call->key, &jwk, err);
	if (rc != CG_OK)
		return rc;
	a->jwk = acme_json_dump(jwk);
	json_decref(jwk);
	if (a->jwk == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = acme_id_new(id, ACME_ID_BYTES, err);
	if (rc != CG_OK)
		return rc;
	a->id = id;
	a->thumbprint = thumb;
	a->directory = (char *)call->dir->name;
	a->status = "valid";
	a->ip = (char *)acme_peer_ip(call);
	a->created_at = call->now;
	return CG_OK;
}

enum cg_code
acme_op_new_account(struct acme_call *call, struct cg_err *err)
{
	struct ca_acme_account	 a;
	char			 id[CA_ACME_ID_MAX + 1];
	char			 thumb[ACME_THUMBPRINT_LEN + 1];
	char			 kid[ACME_EAB_KID_MAX + 1];
	bool			 found;
	enum cg_code		 rc;

	memset(&a, 0, sizeof(a));
	if (call->payload == NULL)
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "newAccount needs a payload");
	rc = acme_jwk_thumbprint(call->key, thumb, err);
	if (rc == CG_OK)
		rc = existing(call, thumb, &found, err);
	if (rc != CG_OK || found)
		return rc;
	if (json_is_true(json_object_get(call->payload,
	    "onlyReturnExisting")))
		return acme_refuse(&call->prob, err,
		    ACME_P_ACCOUNT_DOES_NOT_EXIST, CG_EINVAL,
		    "no account exists with this key");
	rc = limit_accounts(call, err);
	if (rc == CG_OK)
		rc = eab_check(call, kid, err);
	if (rc == CG_OK)
		rc = new_account_fill(call, &a, id, thumb, err);
	a.eab_kid = kid;
	if (rc == CG_OK)
		rc = account_create(call, &a, kid, err);
	if (rc == CG_ECONFLICT) {
		/* Another request made it first: that one is the account. */
		cg_err_clear(err);
		rc = existing(call, thumb, &found, err);
		if (rc == CG_OK && !found)
			rc = cg_err_set(err, CG_EINTERNAL, "account vanished");
	} else if (rc == CG_OK) {
		cg_log_info("event=acme_account_new account=%s directory=%s "
		    "peer=%s eab=%s", id, call->dir->name,
		    gw_req_peer(call->req), kid[0] != '\0' ? kid : "-");
		rc = account_reply(call, 201, &a, err);
	}
	cg_free(a.contact);
	cg_free(a.jwk);
	return rc;
}

/* ---------------------------------------------------------- account */

static enum cg_code
own_account(struct acme_call *call, struct cg_err *err)
{
	if (strcmp(call->arg, call->acct->id) != 0)
		return acme_refuse(&call->prob, err, ACME_P_UNAUTHORIZED,
		    CG_EAUTH, "the account URL is not the signer's");
	return CG_OK;
}

enum cg_code
acme_op_account(struct acme_call *call, struct cg_err *err)
{
	struct ca_store	*st = gw_req_store(call->req);
	const json_t	*status, *contact;
	char		*ctext = NULL;
	const char	*newstatus = NULL;
	enum cg_code	 rc;

	rc = own_account(call, err);
	if (rc != CG_OK || call->payload == NULL)
		return rc == CG_OK ? account_reply(call, 200, call->acct, err) :
		    rc;
	status = json_object_get(call->payload, "status");
	contact = json_object_get(call->payload, "contact");
	if (status != NULL) {
		/* §7.3.6: the only status a client may set. */
		if (!json_is_string(status) || strcmp(json_string_value(status),
		    "deactivated") != 0)
			return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
			    CG_EINVAL, "status may only be set to "
			    "\"deactivated\"");
		newstatus = "deactivated";
	}
	if (contact != NULL) {
		rc = contact_text(call, contact, &ctext, err);
		if (rc != CG_OK)
			return rc;
	}
	if (newstatus != NULL || ctext != NULL)
		rc = ca_store_acme_account_update(st, call->acct->id,
		    newstatus, ctext, err);
	if (rc == CG_OK && newstatus != NULL) {
		cg_free(call->acct->status);
		call->acct->status = cg_strdup(newstatus);
		cg_log_info("event=acme_account_deactivated account=%s",
		    call->acct->id);
	}
	if (rc == CG_OK && ctext != NULL) {
		cg_free(call->acct->contact);
		call->acct->contact = ctext;
		ctext = NULL;
	}
	if (rc == CG_OK && call->acct->status == NULL)
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	if (rc == CG_OK)
		rc = account_reply(call, 200, call->acct, err);
	cg_free(ctext);
	return rc;
}

/* ------------------------------------------------------- orders list */

struct list_ctx {
	struct acme_call	*call;
	json_t			*urls;
	char			 last[CA_ACME_ID_MAX + 1];
};

/* §7.1.2.1: invalid orders SHOULD NOT be listed; the cursor moves past. */
static enum cg_code
list_one(void *arg, const char *id)
{
	struct list_ctx		*lc = arg;
	struct ca_acme_order	*o = NULL;
	char			 url[ACME_URL_MAX];
	bool			 skip;

	snprintf(lc->last, sizeof(lc->last), "%s", id);
	if (ca_store_acme_order_get(gw_req_store(lc->call->req), id, &o,
	    NULL) != CG_OK)
		return CG_EIO;
	skip = strcmp(o->status, "invalid") == 0;
	ca_acme_order_free(o);
	if (skip)
		return CG_OK;
	if (acme_url(lc->call, url, sizeof(url), NULL, "order/%s", id) !=
	    CG_OK || json_array_append_new(lc->urls, json_string(url)) != 0)
		return CG_ENOMEM;
	return CG_OK;
}

/* "cursor=<order id>" from the query, or NULL. */
static const char *
cursor_of(struct acme_call *call, char buf[CA_ACME_ID_MAX + 1])
{
	const char	*q = gw_req_query(call->req);
	size_t		 n;

	if (q == NULL || strncmp(q, "cursor=", 7) != 0)
		return NULL;
	n = strlen(q + 7);
	if (n == 0 || n > CA_ACME_ID_MAX)
		return NULL;
	memcpy(buf, q + 7, n + 1);
	return buf;
}

enum cg_code
acme_op_account_orders(struct acme_call *call, struct cg_err *err)
{
	struct list_ctx	 lc = { .call = call };
	char		 cur[CA_ACME_ID_MAX + 1];
	char		 next[ACME_URL_MAX + CA_ACME_ID_MAX + 32];
	char		 url[ACME_URL_MAX];
	json_t		*o = NULL;
	bool		 more = false;
	enum cg_code	 rc;

	rc = own_account(call, err);
	if (rc != CG_OK)
		return rc;
	lc.urls = json_array();
	if (lc.urls == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_acme_order_list(gw_req_store(call->req), call->acct->id,
	    cursor_of(call, cur), ACME_ORDERS_PAGE, list_one, &lc, &more, err);
	if (rc == CG_OK && more) {
		rc = acme_url(call, url, sizeof(url), err, "acct/%s/orders",
		    call->acct->id);
		snprintf(next, sizeof(next), "<%s?cursor=%s>;rel=\"next\"",
		    url, lc.last);
		if (rc == CG_OK)
			gw_req_set_header(call->req, "Link", next);
	}
	if (rc == CG_OK) {
		o = json_pack("{s:O}", "orders", lc.urls);
		rc = o != NULL ? acme_reply_json(call, 200, o, NULL, err) :
		    cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	json_decref(o);
	json_decref(lc.urls);
	return rc;
}

/* ------------------------------------------------------- key change */

enum cg_code
acme_op_key_change(struct acme_call *call, struct cg_err *err)
{
	EVP_PKEY	*newkey = NULL;
	json_t		*jwk = NULL;
	char		*jtext = NULL;
	char		 thumb[ACME_THUMBPRINT_LEN + 1];
	char		 url[ACME_URL_MAX];
	enum cg_code	 rc;

	rc = acme_keychange_verify(call->jws, call->key, &newkey, &call->prob,
	    err);
	if (rc == CG_OK)
		rc = acme_jwk_thumbprint(newkey, thumb, err);
	if (rc == CG_OK)
		rc = acme_jwk_from_pkey(newkey, &jwk, err);
	if (rc == CG_OK && (jtext = acme_json_dump(jwk)) == NULL)
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	if (rc == CG_OK)
		rc = ca_store_acme_account_rekey(gw_req_store(call->req),
		    call->acct->id, call->acct->thumbprint, jtext, thumb, err);
	if (rc == CG_ECONFLICT) {
		/* §7.3.5 step 7: 409 and where the key is in use. */
		struct ca_acme_account	*other = NULL;

		cg_err_clear(err);
		if (ca_store_acme_account_find(gw_req_store(call->req),
		    call->dir->name, thumb, &other, NULL) == CG_OK &&
		    acme_url(call, url, sizeof(url), NULL, "acct/%s",
		    other->id) == CG_OK)
			gw_req_set_header(call->req, "Location", url);
		ca_acme_account_free(other);
		call->status = 409;
		rc = acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_ECONFLICT, "the new key is already in use");
	}
	if (rc == CG_OK) {
		cg_log_info("event=acme_key_change account=%s",
		    call->acct->id);
		rc = account_reply(call, 200, call->acct, err);
	}
	cg_free(jtext);
	json_decref(jwk);
	EVP_PKEY_free(newkey);
	return rc;
}
