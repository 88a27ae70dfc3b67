/*
 * acme_order.c - orders (RFC 8555 §7.4): newOrder with DNS and IP (RFC
 * 8738) identifiers, the authorizations it needs (reusing valid ones),
 * the order's status as its authorizations move, the rate limits on new
 * orders, and the order resource itself.  Finalization and download are
 * acme_finalize.c.
 */
#include "acme_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HOUR_S		3600

/* One identifier of a newOrder, normalized. */
struct ident {
	bool		 ip;			/* "ip" rather than "dns" */
	bool		 wildcard;		/* "*." + name */
	char		 value[CA_NAME_MAX + 1]; /* name without "*.", or IP */
};

struct order_new {
	struct ident	 ids[ACME_IDENTIFIERS_MAX];
	size_t		 nids;
	const struct ca_profile *profile;	/* CA profile to issue under */
	const char	*acme_profile;		/* the name asked for, or "" */
	const char	*replaces;		/* serial, or "" */
	char		 replaces_serial[CA_SERIAL_HEX_MAX];
};

/* ------------------------------------------------------------ JSON */

json_t *
acme_order_json(const struct acme_call *call, const struct ca_acme_order *o)
{
	char		 url[ACME_URL_MAX];
	json_t		*j, *ids, *ids_in, *az, *urls, *v;
	size_t		 i;

	ids_in = acme_json_load(o->identifiers);
	az = acme_json_load(o->authzs);
	urls = json_array();
	ids = ids_in != NULL ? ids_in : json_array();
	j = NULL;
	if (az == NULL || urls == NULL || ids == NULL)
		goto out;
	json_array_foreach(az, i, v) {
		if (acme_url(call, url, sizeof(url), NULL, "authz/%s",
		    json_string_value(v)) != CG_OK)
			goto out;
		json_array_append_new(urls, json_string(url));
	}
	if (acme_url(call, url, sizeof(url), NULL, "order/%s/finalize",
	    o->id) != CG_OK)
		goto out;
	j = json_pack("{s:s, s:o, s:O, s:O, s:s}", "status", o->status,
	    "expires", acme_time_json(o->expires), "identifiers", ids,
	    "authorizations", urls, "finalize", url);
	if (j == NULL)
		goto out;
	if (strcmp(o->status, "valid") == 0 && acme_url(call, url,
	    sizeof(url), NULL, "cert/%s", o->id) == CG_OK)
		json_object_set_new(j, "certificate", json_string(url));
	if (o->error[0] != '\0' && (v = acme_json_load(o->error)) != NULL)
		json_object_set_new(j, "error", v);
	if (o->acme_profile[0] != '\0')
		json_object_set_new(j, "profile", json_string(o->acme_profile));
	/* RFC 9773 §5: the certID the client sent, rebuilt from the serial. */
	if (o->replaces[0] != '\0' && acme_ari_certid(call, o->replaces, url,
	    sizeof(url), NULL) == CG_OK)
		json_object_set_new(j, "replaces", json_string(url));
out:
	json_decref(ids);
	json_decref(az);
	json_decref(urls);
	return j;
}

/* ------------------------------------------------- status from authzs */

static enum cg_code
transition(struct acme_call *call, struct ca_acme_order *o, const char *to,
    enum acme_problem p, const char *detail, struct cg_err *err)
{
	char		*etext = NULL;
	json_t		*doc = NULL;
	char		*news;
	enum cg_code	 rc;

	if (p != ACME_P_NONE) {
		doc = acme_problem_json(p, detail);
		etext = doc != NULL ? acme_json_dump(doc) : NULL;
		json_decref(doc);
		if (etext == NULL)
			return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	rc = ca_store_acme_order_transition(gw_req_store(call->req), o->id,
	    o->status, to, etext, call->now, err);
	if (rc == CG_OK) {
		news = cg_strdup(to);
		if (news == NULL) {
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		} else {
			cg_free(o->status);
			o->status = news;
		}
		if (etext != NULL) {
			cg_free(o->error);
			o->error = etext;
			etext = NULL;
		}
	}
	cg_free(etext);
	return rc;
}

/* The status the client sees, in memory only. */
static enum cg_code
status_set(struct ca_acme_order *o, const char *to, struct cg_err *err)
{
	char	*news = cg_strdup(to);

	if (news == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	cg_free(o->status);
	o->status = news;
	return CG_OK;
}

/* The verdict of an order's authorizations: "ready", "invalid" or NULL. */
static enum cg_code
authzs_verdict(struct acme_call *call, const struct ca_acme_order *o,
    const char **verdictp, char *why, size_t whylen, struct cg_err *err)
{
	struct ca_acme_authz	*a;
	json_t			*ids;
	const json_t		*v;
	size_t			 i, nvalid = 0;
	enum cg_code		 rc = CG_OK;

	*verdictp = NULL;
	ids = acme_json_load(o->authzs);
	if (ids == NULL)
		return cg_err_set(err, CG_EINTERNAL, "order %s: bad authzs",
		    o->id);
	json_array_foreach(ids, i, v) {
		a = NULL;
		rc = ca_store_acme_authz_get(gw_req_store(call->req),
		    json_string_value(v), &a, err);
		if (rc != CG_OK)
			break;
		if (strcmp(a->status, "valid") == 0 && a->expires > call->now) {
			nvalid++;
		} else if (strcmp(a->status, "pending") != 0 ||
		    a->expires <= call->now) {
			snprintf(why, whylen, "authorization for %s is %s",
			    a->id_value, a->expires <= call->now ? "expired" :
			    a->status);
			*verdictp = "invalid";
		}
		ca_acme_authz_free(a);
		if (*verdictp != NULL)
			break;
	}
	if (rc == CG_OK && *verdictp == NULL && nvalid == json_array_size(ids))
		*verdictp = "ready";
	json_decref(ids);
	return rc;
}

/* Manual approval: has an admin decided on the order's pending row? */
static enum cg_code
refresh_pending(struct acme_call *call, struct ca_acme_order *o,
    struct cg_err *err)
{
	struct ca_pending_rec	*p = NULL;
	enum cg_code		 rc;

	rc = ca_store_pending_get(gw_req_store(call->req), o->pending_id, &p,
	    err);
	if (rc != CG_OK)
		return rc;
	if (p->status == CA_PENDING_APPROVED) {
		rc = ca_store_acme_order_set_cert(gw_req_store(call->req),
		    o->id, p->cert_serial, call->now, err);
		if (rc == CG_OK) {
			cg_free(o->status);
			cg_free(o->cert_serial);
			o->status = cg_strdup("valid");
			o->cert_serial = cg_strdup(p->cert_serial);
			if (o->status == NULL || o->cert_serial == NULL)
				rc = cg_err_set(err, CG_ENOMEM,
				    "out of memory");
		}
	} else if (p->status == CA_PENDING_REJECTED) {
		rc = transition(call, o, "invalid", ACME_P_UNAUTHORIZED,
		    "the request was rejected by an administrator", err);
	}
	ca_pending_rec_free(p);
	return rc;
}

enum cg_code
acme_order_refresh(struct acme_call *call, struct ca_acme_order *o,
    struct cg_err *err)
{
	const char	*verdict;
	char		 why[CA_NAME_MAX + 64];
	enum cg_code	 rc;

	if (strcmp(o->status, "processing") == 0 && o->pending_id != 0)
		rc = refresh_pending(call, o, err);
	else if ((strcmp(o->status, "pending") == 0 ||
	    strcmp(o->status, "ready") == 0) && o->expires <= call->now)
		rc = transition(call, o, "invalid", ACME_P_MALFORMED,
		    "the order expired", err);
	else if (strcmp(o->status, "pending") != 0)
		return CG_OK;
	else {
		rc = authzs_verdict(call, o, &verdict, why, sizeof(why), err);
		if (rc == CG_OK && verdict != NULL &&
		    strcmp(verdict, "invalid") == 0)
			rc = transition(call, o, verdict, ACME_P_UNAUTHORIZED,
			    why, err);
		else if (rc == CG_OK && verdict != NULL)
			/* "ready" follows from the authorizations whenever the
			   order is read: not worth a write of its own.  The
			   finalize record moves the stored status on. */
			rc = status_set(o, verdict, err);
	}
	/* Another request moved it first: its result stands. */
	if (rc == CG_ECONFLICT) {
		cg_err_clear(err);
		rc = CG_OK;
	}
	return rc;
}

/* ---------------------------------------------------- newOrder input */

static bool
ip_canonical(const char *in, char *out, size_t outlen)
{
	unsigned char	 b[16];

	if (inet_pton(AF_INET, in, b) == 1)
		return inet_ntop(AF_INET, b, out, (socklen_t)outlen) != NULL;
	if (inet_pton(AF_INET6, in, b) == 1)
		return inet_ntop(AF_INET6, b, out, (socklen_t)outlen) != NULL;
	return false;
}

static enum cg_code
ident_parse(struct acme_call *call, const json_t *j, struct ident *id,
    struct cg_err *err)
{
	const char	*type, *value;
	size_t		 i, n;

	if (json_unpack((json_t *)j, "{s:s, s:s}", "type", &type, "value",
	    &value) != 0)
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "an identifier needs a type and a value");
	n = strlen(value);
	if (strcmp(type, "ip") == 0) {
		id->ip = true;
		if (!ip_canonical(value, id->value, sizeof(id->value)))
			return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
			    CG_EINVAL, "ip identifier is not an IP address");
		return CG_OK;
	}
	if (strcmp(type, "dns") != 0)
		return acme_refuse(&call->prob, err,
		    ACME_P_UNSUPPORTED_IDENTIFIER, CG_EINVAL,
		    "identifier type must be dns or ip");
	if (n >= 2 && value[0] == '*' && value[1] == '.') {
		id->wildcard = true;
		value += 2;
		n -= 2;
	}
	if (n == 0 || n > CA_NAME_MAX || !ca_dns_pattern_is_valid(value) ||
	    value[0] == '.' || strchr(value, '*') != NULL)
		return acme_refuse(&call->prob, err, ACME_P_REJECTED_IDENTIFIER,
		    CG_EINVAL, "dns identifier is not a valid name");
	for (i = 0; i < n; i++)
		id->value[i] = (char)((value[i] >= 'A' && value[i] <= 'Z') ?
		    value[i] - 'A' + 'a' : value[i]);
	id->value[n] = '\0';
	return CG_OK;
}

static bool
ident_dup(const struct order_new *on, const struct ident *id)
{
	size_t	 i;

	for (i = 0; i < on->nids; i++)
		if (on->ids[i].ip == id->ip &&
		    on->ids[i].wildcard == id->wildcard &&
		    strcmp(on->ids[i].value, id->value) == 0)
			return true;
	return false;
}

/* Does the directory, its profile and the EAB key allow the identifier? */
static enum cg_code
ident_allowed(struct acme_call *call, const struct order_new *on,
    const struct ident *id, const json_t *eab_patterns, struct cg_err *err)
{
	char		 full[CA_NAME_MAX + 3];
	const json_t	*v;
	size_t		 i;
	bool		 ok;
	enum cg_code	 rc;

	snprintf(full, sizeof(full), "%s%s", id->wildcard ? "*." : "",
	    id->value);
	if (id->wildcard && !(call->dir->challenges & GW_ACME_CHALL_DNS01))
		return acme_refuse(&call->prob, err, ACME_P_REJECTED_IDENTIFIER,
		    CG_EDENIED, "wildcard names need dns-01, which this "
		    "directory does not offer");
	rc = ca_profile_allows(on->profile, id->ip, full, err);
	if (rc != CG_OK) {
		err->proto = ACME_P_REJECTED_IDENTIFIER;
		return rc;
	}
	if (eab_patterns == NULL || json_array_size(eab_patterns) == 0)
		return CG_OK;
	ok = false;
	json_array_foreach(eab_patterns, i, v) {
		const char	*pat = json_string_value(v);

		if (pat != NULL && !id->ip && ca_dns_pattern_match(pat, full))
			ok = true;
		if (pat != NULL && id->ip && strchr(pat, '/') != NULL &&
		    ca_ip_network_contains(pat, id->value))
			ok = true;
	}
	if (!ok)
		return acme_refuse(&call->prob, err, ACME_P_REJECTED_IDENTIFIER,
		    CG_EDENIED, "%s is not allowed for this external account",
		    full);
	return CG_OK;
}

static enum cg_code
eab_patterns_get(struct acme_call *call, json_t **outp, struct cg_err *err)
{
	struct ca_acme_eab	*e = NULL;
	enum cg_code		 rc;

	*outp = NULL;
	if (call->acct->eab_kid[0] == '\0')
		return CG_OK;
	rc = ca_store_acme_eab_get(gw_req_store(call->req),
	    call->acct->eab_kid, &e, err);
	if (rc == CG_ENOTFOUND) {
		/* A deleted key takes its account's orders with it. */
		cg_err_clear(err);
		return acme_refuse(&call->prob, err, ACME_P_UNAUTHORIZED,
		    CG_EAUTH, "the account's external account key was "
		    "withdrawn");
	}
	if (rc != CG_OK)
		return rc;
	*outp = acme_json_load(e->identifiers);
	ca_acme_eab_free(e);
	return CG_OK;
}

static enum cg_code
profile_pick(struct acme_call *call, struct order_new *on,
    struct cg_err *err)
{
	const json_t	*p = json_object_get(call->payload, "profile");
	const char	*name, *cap = call->dir->profile;
	size_t		 i;

	on->acme_profile = "";
	if (p != NULL) {
		name = json_string_value(p);
		if (name == NULL)
			return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
			    CG_EINVAL, "profile must be a string");
		for (i = 0; i < call->dir->nprofiles; i++)
			if (strcmp(call->dir->profiles[i].name, name) == 0)
				break;
		if (i == call->dir->nprofiles)
			return acme_refuse(&call->prob, err,
			    ACME_P_INVALID_PROFILE, CG_EINVAL,
			    "unknown profile; the directory lists them");
		on->acme_profile = call->dir->profiles[i].name;
		cap = call->dir->profiles[i].profile;
	}
	on->profile = gw_config_profile(call->conf, cap);
	if (on->profile == NULL)
		return cg_err_set(err, CG_EINTERNAL, "profile %s is gone", cap);
	return CG_OK;
}

static enum cg_code
order_input(struct acme_call *call, struct order_new *on, struct cg_err *err)
{
	const json_t	*ids, *v;
	json_t		*eabp = NULL;
	size_t		 i;
	enum cg_code	 rc;

	if (call->payload == NULL)
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "newOrder needs a payload");
	if (json_object_get(call->payload, "notBefore") != NULL ||
	    json_object_get(call->payload, "notAfter") != NULL)
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "notBefore and notAfter are not supported: "
		    "the profile sets the validity");
	ids = json_object_get(call->payload, "identifiers");
	if (!json_is_array(ids) || json_array_size(ids) == 0 ||
	    json_array_size(ids) > ACME_IDENTIFIERS_MAX)
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "identifiers must be an array of 1 to %d",
		    ACME_IDENTIFIERS_MAX);
	rc = profile_pick(call, on, err);
	if (rc == CG_OK)
		rc = acme_ari_replaces(call, on->replaces_serial, err);
	on->replaces = on->replaces_serial;
	if (rc == CG_OK)
		rc = eab_patterns_get(call, &eabp, err);
	json_array_foreach(ids, i, v) {
		struct ident	 id;

		if (rc != CG_OK)
			break;
		memset(&id, 0, sizeof(id));
		rc = ident_parse(call, v, &id, err);
		if (rc == CG_OK && !ident_dup(on, &id))
			rc = ident_allowed(call, on, &id, eabp, err);
		if (rc == CG_OK && !ident_dup(on, &id))
			on->ids[on->nids++] = id;
	}
	json_decref(eabp);
	return rc;
}

/* ---------------------------------------------------------- limits */

static enum cg_code
limit_orders(struct acme_call *call, struct cg_err *err)
{
	const struct gw_acme_limits *l = &call->dir->limits;
	struct ca_store	*st = gw_req_store(call->req);
	size_t		 n;
	enum cg_code	 rc;

	if (l->orders_per_account != 0) {
		rc = ca_store_acme_order_count(st, call->dir->name,
		    call->acct->id, NULL, call->now - HOUR_S, &n, err);
		if (rc != CG_OK)
			return rc;
		if (n >= l->orders_per_account) {
			call->retry_after = HOUR_S;
			return acme_refuse(&call->prob, err,
			    ACME_P_RATE_LIMITED, CG_EDENIED, "too many new "
			    "orders for this account (limit %u per hour)",
			    l->orders_per_account);
		}
	}
	if (l->orders_per_ip != 0) {
		rc = ca_store_acme_order_count(st, call->dir->name, NULL,
		    acme_peer_ip(call), call->now - HOUR_S, &n, err);
		if (rc != CG_OK)
			return rc;
		if (n >= l->orders_per_ip) {
			call->retry_after = HOUR_S;
			return acme_refuse(&call->prob, err,
			    ACME_P_RATE_LIMITED, CG_EDENIED, "too many new "
			    "orders from this address (limit %u per hour)",
			    l->orders_per_ip);
		}
	}
	if (l->failed_validations != 0) {
		rc = ca_store_acme_failed_count(st, call->acct->id,
		    call->now - HOUR_S, &n, err);
		if (rc != CG_OK)
			return rc;
		if (n >= l->failed_validations) {
			call->retry_after = HOUR_S;
			return acme_refuse(&call->prob, err,
			    ACME_P_RATE_LIMITED, CG_EDENIED, "too many failed "
			    "validations for this account (limit %u per hour)",
			    l->failed_validations);
		}
	}
	return CG_OK;
}

/* ------------------------------------------------- authzs for an order */

static const struct {
	unsigned	 bit;		/* GW_ACME_CHALL_* */
	const char	*type;		/* challenge type */
	bool		 wildcard;	/* usable for a wildcard */
	bool		 ip;		/* usable for an IP (RFC 8738 §7) */
} chall_types[] = {
	{ GW_ACME_CHALL_HTTP01, "http-01", false, true },
	{ GW_ACME_CHALL_DNS01, "dns-01", true, false },
	{ GW_ACME_CHALL_TLSALPN01, "tls-alpn-01", false, true },
};

/* The ids of the authz (and its challenges), text kept in bufs. */
struct authz_bufs {
	char	 id[CA_ACME_ID_MAX + 1];
	char	 cid[CA_ACME_CHALLS_MAX][CA_ACME_ID_MAX + 1];
	char	 tok[CA_ACME_CHALLS_MAX][CA_ACME_ID_MAX + 1];
};

static enum cg_code
authz_make(struct acme_call *call, const struct ident *id,
    struct authz_bufs *b, struct cg_err *err)
{
	struct ca_acme_chall	 ch[CA_ACME_CHALLS_MAX];
	struct ca_acme_authz	 a;
	size_t			 i;
	enum cg_code		 rc;

	memset(&a, 0, sizeof(a));
	rc = acme_id_new(b->id, ACME_ID_BYTES, err);
	a.id = b->id;
	a.account_id = call->acct->id;
	a.directory = (char *)call->dir->name;
	a.id_type = id->ip ? "ip" : "dns";
	a.id_value = (char *)id->value;
	a.wildcard = id->wildcard;
	a.status = "pending";
	a.expires = call->now + call->conf->acme.order_lifetime_s;
	a.created_at = call->now;
	a.challs = ch;
	for (i = 0; rc == CG_OK && i < sizeof(chall_types) /
	    sizeof(chall_types[0]); i++) {
		struct ca_acme_chall	*c = &ch[a.nchalls];

		if (!(call->dir->challenges & chall_types[i].bit) ||
		    (id->wildcard && !chall_types[i].wildcard) ||
		    (id->ip && !chall_types[i].ip))
			continue;
		memset(c, 0, sizeof(*c));
		rc = acme_id_new(b->cid[a.nchalls], ACME_ID_BYTES, err);
		if (rc == CG_OK)
			rc = acme_id_new(b->tok[a.nchalls], ACME_TOKEN_BYTES,
			    err);
		c->id = b->cid[a.nchalls];
		c->authz_id = b->id;
		c->type = (char *)chall_types[i].type;
		c->token = b->tok[a.nchalls];
		c->status = "pending";
		c->error = "";
		c->updated_at = call->now;
		a.nchalls++;
	}
	if (rc == CG_OK && a.nchalls == 0)
		return acme_refuse(&call->prob, err, ACME_P_REJECTED_IDENTIFIER,
		    CG_EDENIED, "no challenge type of this directory can "
		    "validate %s", id->value);
	if (rc == CG_OK)
		rc = ca_store_acme_authz_insert(gw_req_store(call->req), &a,
		    err);
	return rc;
}

/* An authz id for each identifier, reused or new; *allvalidp if all reused. */
static enum cg_code
authzs_for(struct acme_call *call, const struct order_new *on, json_t *ids,
    bool *allvalidp, struct cg_err *err)
{
	struct ca_acme_authz	*old;
	struct authz_bufs	 b;
	uint32_t		 reuse = call->dir->authz_reuse_s;
	size_t			 i;
	enum cg_code		 rc = CG_OK;

	*allvalidp = true;
	for (i = 0; rc == CG_OK && i < on->nids; i++) {
		const struct ident	*id = &on->ids[i];

		old = NULL;
		if (reuse != 0) {
			rc = ca_store_acme_authz_find_valid(
			    gw_req_store(call->req), call->acct->id,
			    call->dir->name, id->ip ? "ip" : "dns", id->value,
			    id->wildcard, call->now - reuse, call->now, &old,
			    err);
			if (rc == CG_ENOTFOUND) {
				cg_err_clear(err);
				rc = CG_OK;
			}
		}
		if (rc == CG_OK && old != NULL) {
			json_array_append_new(ids, json_string(old->id));
		} else if (rc == CG_OK) {
			*allvalidp = false;
			rc = authz_make(call, id, &b, err);
			if (rc == CG_OK)
				json_array_append_new(ids, json_string(b.id));
		}
		ca_acme_authz_free(old);
	}
	return rc;
}

static json_t *
idents_json(const struct order_new *on)
{
	json_t	*a = json_array();
	char	 full[CA_NAME_MAX + 3];
	size_t	 i;

	for (i = 0; a != NULL && i < on->nids; i++) {
		snprintf(full, sizeof(full), "%s%s",
		    on->ids[i].wildcard ? "*." : "", on->ids[i].value);
		json_array_append_new(a, json_pack("{s:s, s:s}", "type",
		    on->ids[i].ip ? "ip" : "dns", "value", full));
	}
	return a;
}

static enum cg_code
order_record(struct acme_call *call, const struct order_new *on,
    struct ca_acme_order *o, char *id, struct cg_err *err)
{
	struct ca_store	*st = gw_req_store(call->req);
	json_t		*ids = json_array(), *idents = idents_json(on);
	bool		 allvalid;
	enum cg_code	 rc;

	if (ids == NULL || idents == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	rc = acme_id_new(id, ACME_ID_BYTES, err);
	if (rc == CG_OK)
		rc = ca_store_begin(st, err);
	if (rc != CG_OK)
		goto out;
	rc = authzs_for(call, on, ids, &allvalid, err);
	o->id = id;
	o->account_id = call->acct->id;
	o->directory = (char *)call->dir->name;
	o->profile = on->profile->name;
	o->acme_profile = (char *)on->acme_profile;
	o->status = allvalid ? "ready" : "pending";
	o->expires = call->now + call->conf->acme.order_lifetime_s;
	o->error = "";
	o->cert_serial = "";
	o->replaces = (char *)on->replaces;
	o->ip = (char *)acme_peer_ip(call);
	o->created_at = o->updated_at = call->now;
	if (rc == CG_OK && ((o->identifiers = acme_json_dump(idents)) == NULL ||
	    (o->authzs = acme_json_dump(ids)) == NULL))
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	if (rc == CG_OK)
		rc = ca_store_acme_order_insert(st, o, err);
	if (rc == CG_OK)
		rc = ca_store_commit(st, err);
	if (rc != CG_OK)
		ca_store_rollback(st);
out:
	json_decref(ids);
	json_decref(idents);
	return rc;
}

enum cg_code
acme_op_new_order(struct acme_call *call, struct cg_err *err)
{
	struct order_new	*on;
	struct ca_acme_order	 o;
	char			 id[CA_ACME_ID_MAX + 1];
	char			 url[ACME_URL_MAX];
	json_t			*j = NULL;
	enum cg_code		 rc;

	memset(&o, 0, sizeof(o));
	on = cg_calloc(1, sizeof(*on));
	if (on == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = order_input(call, on, err);
	if (rc == CG_OK)
		rc = limit_orders(call, err);
	if (rc == CG_OK)
		rc = order_record(call, on, &o, id, err);
	if (rc == CG_OK)
		rc = acme_url(call, url, sizeof(url), err, "order/%s", id);
	if (rc == CG_OK && (j = acme_order_json(call, &o)) == NULL)
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	if (rc == CG_OK)
		rc = acme_reply_json(call, 201, j, url, err);
	json_decref(j);
	cg_free(o.identifiers);
	cg_free(o.authzs);
	cg_free(on);
	return rc;
}

/* ------------------------------------------------------------ order */

enum cg_code
acme_order_load(struct acme_call *call, struct ca_acme_order **op,
    struct cg_err *err)
{
	enum cg_code	 rc;

	rc = ca_store_acme_order_get(gw_req_store(call->req), call->arg, op,
	    err);
	if (rc == CG_ENOTFOUND) {
		cg_err_clear(err);
		return cg_err_set(err, CG_ENOTFOUND, "no such order");
	}
	if (rc != CG_OK)
		return rc;
	if (strcmp((*op)->account_id, call->acct->id) != 0) {
		ca_acme_order_free(*op);
		*op = NULL;
		return acme_refuse(&call->prob, err, ACME_P_UNAUTHORIZED,
		    CG_EAUTH, "the order belongs to another account");
	}
	return acme_order_refresh(call, *op, err);
}

enum cg_code
acme_order_reply(struct acme_call *call, const struct ca_acme_order *o,
    struct cg_err *err)
{
	char		 url[ACME_URL_MAX];
	json_t		*j;
	enum cg_code	 rc;

	rc = acme_url(call, url, sizeof(url), err, "order/%s", o->id);
	if (rc != CG_OK)
		return rc;
	j = acme_order_json(call, o);
	if (j == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	/* §7.4: clients poll a processing order; say when. */
	if (strcmp(o->status, "processing") == 0 ||
	    strcmp(o->status, "pending") == 0)
		acme_set_retry_after(call);
	rc = acme_reply_json(call, 200, j, url, err);
	json_decref(j);
	return rc;
}

enum cg_code
acme_op_order(struct acme_call *call, struct cg_err *err)
{
	struct ca_acme_order	*o = NULL;
	enum cg_code		 rc;

	rc = acme_order_load(call, &o, err);
	if (rc == CG_OK)
		rc = acme_order_reply(call, o, err);
	ca_acme_order_free(o);
	return rc;
}
