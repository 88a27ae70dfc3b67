/*
 * acme_server.c - the ACME front door: the /acme/ prefix route, the path
 * to resource dispatch, the directory and newNonce resources, and the one
 * place where replies and problem documents are written (RFC 8555 §6.5,
 * §6.7: every response carries a fresh Replay-Nonce and the directory
 * Link).  Accounts are acme_account.c, orders acme_order.c,
 * authorizations and validation acme_authz.c, revocation and renewal
 * information acme_revoke.c, JWS checks acme_auth.c.
 */
#include "acme_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

/* How each resource is reached (its path: acme_path.c). */
static const struct acme_op {
	unsigned	 methods;	/* GW_M_* */
	int		 mode;		/* enum acme_jws_mode; -1: no JWS */
	acme_op_fn	*fn;		/* handler; NULL: built in here */
} ops[ACME_R__MAX] = {
	/* §7.1: directory and newNonce by GET, and POST-as-GET too. */
	[ACME_R_DIRECTORY] = { GW_M_GET | GW_M_HEAD | GW_M_POST, -1, NULL },
	[ACME_R_NEW_NONCE] = { GW_M_GET | GW_M_HEAD | GW_M_POST, -1, NULL },
	[ACME_R_NEW_ACCOUNT] = { GW_M_POST, ACME_JWS_OUTER_JWK, acme_op_new_account },
	[ACME_R_NEW_ORDER] = { GW_M_POST, ACME_JWS_OUTER_KID, acme_op_new_order },
	/* §7.6: signed by the account or by the certificate's key. */
	[ACME_R_REVOKE] = { GW_M_POST, ACME_JWS_OUTER_ANY, acme_op_revoke },
	[ACME_R_KEY_CHANGE] = { GW_M_POST, ACME_JWS_OUTER_KID, acme_op_key_change },
	/* RFC 9773 §4.1: renewal information is fetched with a plain GET. */
	[ACME_R_RENEWAL_INFO] = { GW_M_GET | GW_M_HEAD, -1,
	    acme_op_renewal_info },
	[ACME_R_ACCOUNT] = { GW_M_POST, ACME_JWS_OUTER_KID, acme_op_account },
	[ACME_R_ACCOUNT_ORDERS] = { GW_M_POST, ACME_JWS_OUTER_KID,
	    acme_op_account_orders },
	[ACME_R_ORDER] = { GW_M_POST, ACME_JWS_OUTER_KID, acme_op_order },
	[ACME_R_FINALIZE] = { GW_M_POST, ACME_JWS_OUTER_KID, acme_op_finalize },
	[ACME_R_AUTHZ] = { GW_M_POST, ACME_JWS_OUTER_KID, acme_op_authz },
	[ACME_R_CHALL] = { GW_M_POST, ACME_JWS_OUTER_KID, acme_op_chall },
	[ACME_R_CERT] = { GW_M_POST, ACME_JWS_OUTER_KID, acme_op_cert },
};

/* ------------------------------------------------------------ helpers */

enum cg_code
acme_id_new(char out[CA_ACME_ID_MAX + 1], size_t nbytes, struct cg_err *err)
{
	uint8_t	 b[48];

	if (nbytes > sizeof(b) || ACME_B64URL_LEN(nbytes) > CA_ACME_ID_MAX)
		return cg_err_set(err, CG_EINTERNAL, "id of %zu bytes", nbytes);
	if (RAND_bytes(b, (int)nbytes) != 1)
		return cg_err_crypto(err, CG_ECRYPTO, "no random id");
	out[acme_b64url_encode_to(b, nbytes, out)] = '\0';
	return CG_OK;
}

const char *
acme_peer_ip(struct acme_call *call)
{
	const char	*peer = gw_req_peer(call->req);
	const char	*colon;
	size_t		 n;

	if (call->ip[0] != '\0')
		return call->ip;
	/* "1.2.3.4:5" or "[::1]:5" */
	colon = strrchr(peer, ':');
	n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);
	if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
		peer++;
		n -= 2;
	}
	if (n >= sizeof(call->ip))
		n = sizeof(call->ip) - 1;
	memcpy(call->ip, peer, n);
	call->ip[n] = '\0';
	return call->ip;
}

json_t *
acme_time_json(int64_t t)
{
	char	 s[32];

	cg_time_fmt(t, s, sizeof(s));
	return json_string(s);
}

json_t *
acme_json_load(const char *text)
{
	size_t	 len = strlen(text);

	if (len == 0 || len > CA_ACME_JSON_MAX)
		return NULL;
	return json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
}

char *
acme_json_dump(const json_t *v)
{
	char	*s, *copy;

	s = json_dumps(v, JSON_COMPACT);
	if (s == NULL)
		return NULL;
	copy = cg_strdup(s);
	free(s);
	return copy;
}

enum cg_code
acme_url(const struct acme_call *call, char *out, size_t outlen,
    struct cg_err *err, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 n;
	int	 r;

	n = strlen(call->base);
	if (n + 1 >= outlen)
		return cg_err_set(err, CG_EINTERNAL, "URL too long");
	memcpy(out, call->base, n);
	out[n++] = '/';
	va_start(ap, fmt);
	r = vsnprintf(out + n, outlen - n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= outlen - n)
		return cg_err_set(err, CG_EINTERNAL, "URL too long");
	return CG_OK;
}

/* ------------------------------------------------------------ replies */

enum acme_problem
acme_problem_of(const struct cg_err *err)
{
	if (err->proto > ACME_P_NONE && err->proto < ACME_P__MAX)
		return (enum acme_problem)err->proto;
	switch (err->code) {
	case CG_EINVAL:
	case CG_ETOOBIG:
	case CG_ENOTFOUND:
		return ACME_P_MALFORMED;
	case CG_EAUTH:
		return ACME_P_UNAUTHORIZED;
	case CG_EDENIED:
		return ACME_P_REJECTED_IDENTIFIER;
	default:
		return ACME_P_SERVER_INTERNAL;
	}
}

json_t *
acme_problem_json(enum acme_problem p, const char *detail)
{
	return json_pack("{s:s, s:s, s:i}", "type", acme_problem_type(p),
	    "detail", detail, "status", acme_problem_http_status(p));
}

/* Replay-Nonce (§6.5) and the directory Link (§7.1) on every response. */
static void
common_headers(struct acme_call *call)
{
	char		 nonce[ACME_NONCE_LEN + 1];
	char		 link[ACME_URL_MAX + 32];
	struct cg_err	 err = { 0 };

	if (acme_nonce_make(call->as->nonces, (int64_t)cg_wall_ms(), nonce,
	    &err) == CG_OK)
		gw_req_set_header(call->req, "Replay-Nonce", nonce);
	else
		cg_log_err_struct(__func__, "no nonce for a reply", &err);
	if (call->base[0] != '\0') {
		snprintf(link, sizeof(link), "<%s/directory>;rel=\"index\"",
		    call->base);
		gw_req_set_header(call->req, "Link", link);
	}
}

void
acme_set_retry_after(struct acme_call *call)
{
	char	 s[16];

	if (call->conf->acme.retry_after_s == 0)
		return;
	snprintf(s, sizeof(s), "%u", call->conf->acme.retry_after_s);
	gw_req_set_header(call->req, "Retry-After", s);
}

void
acme_reply_body(struct acme_call *call, int status, const char *ctype,
    const void *body, size_t len)
{
	common_headers(call);
	gw_req_reply(call->req, status, ctype, body, len);
}

enum cg_code
acme_reply_json(struct acme_call *call, int status, const json_t *obj,
    const char *location, struct cg_err *err)
{
	char	*text;

	text = json_dumps(obj, JSON_COMPACT);
	if (text == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	if (location != NULL)
		gw_req_set_header(call->req, "Location", location);
	acme_reply_body(call, status, ACME_CT_JSON, text, strlen(text));
	free(text);
	return CG_OK;
}


void
acme_reply_error(struct acme_call *call, const struct cg_err *err)
{
	enum acme_problem	 p = acme_problem_of(err);
	int			 status = acme_problem_http_status(p);
	const char		*msg = err->msg[0] != '\0' ? err->msg : "error";
	json_t			*doc;
	char			*text;
	char			 q[sizeof(err->msg) + 8];

	/* Not-found and method errors keep their own status. */
	if (err->code == CG_ENOTFOUND && err->proto == 0)
		status = 404;
	else if (err->code == CG_ETOOBIG && err->proto == 0)
		status = 413;
	if (call->status != 0)
		status = call->status;
	if (p == ACME_P_SERVER_INTERNAL) {
		cg_log_err_struct(__func__, acme_res_name(call->res), err);
		msg = "internal error";
	} else {
		cg_log_info("event=acme_refused res=%s peer=%s status=%d "
		    "type=%s msg=%s", acme_res_name(call->res),
		    gw_req_peer(call->req), status,
		    strrchr(acme_problem_type(p), ':') + 1,
		    cg_logfmt_quote(msg, q, sizeof(q)));
	}
	if (call->retry_after != 0) {
		char	 ra[16];

		snprintf(ra, sizeof(ra), "%u", call->retry_after);
		gw_req_set_header(call->req, "Retry-After", ra);
	} else if (p == ACME_P_RATE_LIMITED) {
		acme_set_retry_after(call);
	}
	doc = acme_problem_json(p, msg);
	if (doc != NULL)
		json_object_set_new(doc, "status", json_integer(status));
	text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (text == NULL) {
		acme_reply_body(call, 500, NULL, NULL, 0);
		return;
	}
	acme_reply_body(call, status, ACME_CT_PROBLEM, text, strlen(text));
	free(text);
}

/* ------------------------------------------------ directory, newNonce */

static json_t *
directory_meta(const struct gw_acme_dir *d)
{
	json_t	*meta, *caa, *prof;
	size_t	 i;

	meta = json_object();
	caa = json_array();
	prof = json_object();
	if (meta == NULL || caa == NULL || prof == NULL)
		goto fail;
	if (d->terms_of_service != NULL)
		json_object_set_new(meta, "termsOfService",
		    json_string(d->terms_of_service));
	if (d->website != NULL)
		json_object_set_new(meta, "website", json_string(d->website));
	for (i = 0; i < d->caa_identities.n; i++)
		json_array_append_new(caa,
		    json_string(d->caa_identities.v[i]));
	for (i = 0; i < d->nprofiles; i++)
		json_object_set_new(prof, d->profiles[i].name,
		    json_string(d->profiles[i].description));
	if (json_array_size(caa) > 0)
		json_object_set(meta, "caaIdentities", caa);
	if (json_object_size(prof) > 0)
		json_object_set(meta, "profiles", prof);
	json_object_set_new(meta, "externalAccountRequired",
	    json_boolean(d->eab_required));
	json_decref(caa);
	json_decref(prof);
	return meta;
fail:
	json_decref(meta);
	json_decref(caa);
	json_decref(prof);
	return NULL;
}

static enum cg_code
op_directory(struct acme_call *call, struct cg_err *err)
{
	static const struct {
		const char	*key;
		enum acme_res	 res;
	} links[] = {
		{ "newNonce", ACME_R_NEW_NONCE },
		{ "newAccount", ACME_R_NEW_ACCOUNT },
		{ "newOrder", ACME_R_NEW_ORDER },
		{ "revokeCert", ACME_R_REVOKE },
		{ "keyChange", ACME_R_KEY_CHANGE },
		{ "renewalInfo", ACME_R_RENEWAL_INFO },
	};
	char		 url[ACME_URL_MAX];
	json_t		*dir, *meta;
	size_t		 i;
	enum cg_code	 rc;

	dir = json_object();
	meta = directory_meta(call->dir);
	if (dir == NULL || meta == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		rc = acme_url(call, url, sizeof(url), err, "%s",
		    acme_res_name(links[i].res));
		if (rc != CG_OK)
			goto out;
		json_object_set_new(dir, links[i].key, json_string(url));
	}
	json_object_set(dir, "meta", meta);
	rc = acme_reply_json(call, 200, dir, NULL, err);
out:
	json_decref(meta);
	json_decref(dir);
	return rc;
}

/* §7.2: HEAD is 200, GET 204; the nonce is in the common headers. */
static enum cg_code
op_new_nonce(struct acme_call *call, struct cg_err *err)
{
	const char	*m = gw_req_method(call->req);

	gw_req_set_header(call->req, "Cache-Control", "no-store");
	acme_reply_body(call, strcmp(m, "GET") == 0 ? 204 : 200, NULL, NULL,
	    0);
	return CG_OK;
}

/* ------------------------------------------------------------ dispatch */

static const struct gw_acme_dir *
dir_find(const struct gw_config *conf, const char *name)
{
	size_t	 i;

	for (i = 0; i < conf->acme.ndirs; i++)
		if (strcmp(name, conf->acme.dirs[i].name) == 0)
			return &conf->acme.dirs[i];
	return NULL;
}

static bool
host_is_valid(const char *h)
{
	size_t	 i, n = strlen(h);

	if (n == 0 || n > ACME_HOST_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char	 c = h[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == ':' || c == '[' || c == ']'))
			return false;
	}
	return true;
}

/* The directory's URL prefix and this request's URL (§6.4). */
static enum cg_code
urls_setup(struct acme_call *call, const char *dirname, struct cg_err *err)
{
	const char	*host, *query = gw_req_query(call->req);
	char		 origin[ACME_HOST_MAX + 16];
	int		 r;

	if (call->conf->acme.base_url != NULL) {
		r = snprintf(origin, sizeof(origin), "%s",
		    call->conf->acme.base_url);
	} else {
		host = gw_req_header(call->req, "Host");
		if (host == NULL || !host_is_valid(host))
			return cg_err_set(err, CG_EINVAL, "missing or bad "
			    "Host header");
		r = snprintf(origin, sizeof(origin), "https://%s", host);
	}
	if (r < 0 || (size_t)r >= sizeof(origin))
		return cg_err_set(err, CG_EINVAL, "base URL too long");
	if (dirname != NULL)
		r = snprintf(call->base, sizeof(call->base), "%s/acme/%s",
		    origin, dirname);
	else
		r = snprintf(call->base, sizeof(call->base), "%s/acme", origin);
	if (r < 0 || (size_t)r >= sizeof(call->base))
		return cg_err_set(err, CG_EINVAL, "URL too long");
	r = snprintf(call->url, sizeof(call->url), "%s%s%s%s", origin,
	    gw_req_path(call->req), query != NULL ? "?" : "",
	    query != NULL ? query : "");
	if (r < 0 || (size_t)r >= sizeof(call->url))
		return cg_err_set(err, CG_EINVAL, "URL too long");
	return CG_OK;
}

/* Which directory and resource the path names. */
static enum cg_code
call_setup(struct acme_call *call, struct cg_err *err)
{
	struct acme_path	 p;

	call->conf = gw_req_config(call->req);
	if (!call->conf->acme.enabled ||
	    !acme_path_parse(gw_req_path(call->req) + strlen(ACME_PATH_PREFIX),
	    &p))
		return cg_err_set(err, CG_ENOTFOUND, "no such resource");
	call->dir = dir_find(call->conf, p.dir[0] != '\0' ? p.dir :
	    "default");
	if (call->dir == NULL)
		return cg_err_set(err, CG_ENOTFOUND, "no such directory");
	call->res = p.res;
	memcpy(call->arg, p.arg, sizeof(call->arg));
	return urls_setup(call, p.dir[0] != '\0' ? call->dir->name : NULL,
	    err);
}

static bool
method_ok(struct acme_call *call)
{
	const char	*m = gw_req_method(call->req);
	unsigned	 want = ops[call->res].methods;

	if (strcmp(m, "GET") == 0)
		return (want & GW_M_GET) != 0;
	if (strcmp(m, "HEAD") == 0)
		return (want & GW_M_HEAD) != 0;
	if (strcmp(m, "POST") == 0)
		return (want & GW_M_POST) != 0;
	return false;
}

static enum cg_code
call_run(struct acme_call *call, struct cg_err *err)
{
	const struct acme_op	*op;
	enum cg_code		 rc;

	rc = call_setup(call, err);
	if (rc != CG_OK)
		return rc;
	op = &ops[call->res];
	if (!method_ok(call)) {
		gw_req_set_header(call->req, "Allow", op->methods == GW_M_POST ?
		    "POST" : "GET, HEAD, POST");
		call->status = 405;
		return cg_err_set(err, CG_EINVAL, "method not allowed");
	}
	if (call->res == ACME_R_DIRECTORY)
		return op_directory(call, err);
	if (call->res == ACME_R_NEW_NONCE)
		return op_new_nonce(call, err);
	if (op->mode >= 0) {
		rc = acme_auth(call, (enum acme_jws_mode)op->mode, err);
		if (rc != CG_OK)
			return rc;
	}
	return op->fn(call, err);
}

static void
acme_handle(struct gw_req *req, void *arg)
{
	struct acme_call	 call;
	struct cg_err		 err = { 0 };

	memset(&call, 0, sizeof(call));
	call.req = req;
	call.as = arg;
	call.res = ACME_R_DIRECTORY;
	call.now = cg_now();
	if (call_run(&call, &err) != CG_OK)
		acme_reply_error(&call, &err);
	json_decref(call.payload);
	ca_acme_account_free(call.acct);
	EVP_PKEY_free(call.key);
	acme_jws_free(call.jws);
}

/* ---------------------------------------------------------- the chain */

static enum cg_code
chain_build(const struct ca *ca, struct cg_buf *b, struct cg_err *err)
{
	STACK_OF(X509)	*chain = ca_get0_chain(ca);
	BIO		*bio;
	char		*p;
	long		 n;
	int		 i, nc = chain != NULL ? sk_X509_num(chain) : 0;
	enum cg_code	 rc;

	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	for (i = 0; i < nc; i++) {
		X509	*x = sk_X509_value(chain, i);

		if (i > 0 && X509_check_issued(x, x) == X509_V_OK)
			break;
		if (PEM_write_bio_X509(bio, x) != 1) {
			BIO_free(bio);
			return cg_err_crypto(err, CG_ENOMEM, "cannot write PEM");
		}
	}
	n = BIO_get_mem_data(bio, &p);
	rc = cg_buf_add(b, p, (size_t)n, err);
	BIO_free(bio);
	return rc;
}

enum cg_code
acme_chain_pem_get(struct acme_server *as, const struct ca *ca,
    struct cg_err *err)
{
	struct cg_buf	 b;
	enum cg_code	 rc = CG_OK;

	pthread_mutex_lock(&as->chain_lock);
	/* One CA per server: once made, the text never changes. */
	if (as->chain_pem != NULL)
		goto out;
	cg_buf_init(&b, CA_CERT_PEM_MAX);
	rc = chain_build(ca, &b, err);
	if (rc == CG_OK) {
		as->chain_pem = (char *)cg_buf_steal(&b, &as->chain_pem_len);
		if (as->chain_pem == NULL)
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	cg_buf_cleanup(&b);
out:
	pthread_mutex_unlock(&as->chain_lock);
	return rc;
}

/* ------------------------------------------------------------- life */

/* The config loader always names the key file (beside the store). */
static enum cg_code
nonces_setup(struct acme_server *as, const struct gw_config *conf,
    struct cg_err *err)
{
	uint8_t		 key[ACME_NONCE_KEY_LEN];
	enum cg_code	 rc;

	rc = acme_nonce_key_load_or_create(conf->acme.nonce_key_file, key,
	    err);
	if (rc == CG_OK) {
		as->nonces = acme_nonces_new(key, conf->acme.nonce_lifetime_s,
		    ACME_REPLAY_MAX, err);
		if (as->nonces == NULL)
			rc = err != NULL && err->code != CG_OK ? err->code :
			    CG_ENOMEM;
	}
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

enum cg_code
acme_register(struct gw_server *srv, struct acme_server **asp,
    struct cg_err *err)
{
	const struct gw_config	*conf = gw_server_config(srv);
	struct acme_server	*as;
	struct acme_vconf	 vc;
	struct gw_route		 r = {
		ACME_PATH_PREFIX, true, GW_ON_HTTPS,
		GW_M_GET | GW_M_HEAD | GW_M_POST, GW_CERT_IGNORE,
		acme_handle, NULL, false
	};
	enum cg_code		 rc;

	*asp = NULL;
	as = cg_calloc(1, sizeof(*as));
	if (as == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	as->gw = srv;
	pthread_mutex_init(&as->chain_lock, NULL);
	as->vtimeout_ms = conf->acme.validation_timeout_ms;
	as->store_path = cg_strdup(conf->store_path);
	if (as->store_path == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	rc = nonces_setup(as, conf, err);
	if (rc != CG_OK)
		goto out;
	memset(&vc, 0, sizeof(vc));
	vc.http_port = conf->acme.http_port;
	vc.tls_alpn_port = conf->acme.tls_alpn_port;
	vc.resolver = conf->acme.resolver;
	vc.timeout_ms = conf->acme.validation_timeout_ms;
	vc.in_flight = conf->acme.validation_in_flight;
	rc = acme_validator_new(&vc, &as->validator, err);
	if (rc != CG_OK)
		goto out;
	r.arg = as;
	rc = gw_route_add(srv, &r, err);
	if (rc != CG_OK)
		goto out;
	*asp = as;
	as = NULL;
out:
	acme_server_free(as);
	return rc;
}

void
acme_server_free(struct acme_server *as)
{
	if (as == NULL)
		return;
	/* Its callbacks use vstore; the thread is gone after this. */
	as->stopping = true;
	acme_validator_free(as->validator);
	ca_store_close(as->vstore);
	acme_nonces_free(as->nonces);
	cg_free(as->chain_pem);
	pthread_mutex_destroy(&as->chain_lock);
	cg_free(as->store_path);
	cg_free(as);
}
