/*
 * gw_req.c - one struct gw_req per request: built when evhttp has read a
 * whole request, routed (404/405), checked against the route's
 * client-certificate policy (403), handed to the handler, answered with
 * gw_req_reply() (which writes the one log line) and freed.  Not here:
 * the route table (gw_route.c) or connection state (gw_conn.c).
 */
#include "gw_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <jansson.h>

#include <event2/buffer.h>
#include <event2/http.h>

#define GW_LOG_PATH_MAX		1024	/* quoted path bytes in a log line */
#define GW_LOG_SUBJECT_MAX	600	/* quoted subject bytes in a log line */

struct gw_req {
	struct gw_thread *th;		/* loop thread it runs on */
	struct gw_tlsn	*tl;		/* listener it came in on */
	struct gw_req	*prev;		/* th->reqs */
	struct gw_req	*next;		/* th->reqs */
	struct evhttp_request *evreq;	/* evhttp's request */
	struct gw_snap	*snap;		/* config reference for our lifetime */
	enum gw_cert_policy policy;	/* of the matched route */
	unsigned	 method;	/* GW_M_*, 0 for others */
	const char	*method_name;	/* "GET", ..., "OTHER" */
	char		*path;		/* decoded, without the query */
	char		*query;		/* raw query or NULL */
	char		 peer[GW_ADDR_MAX]; /* "ip:port" */
	char		 id[GW_REQ_ID_MAX]; /* unique in this process */
	X509		*cert;		/* presented client cert (reference) */
	long		 verify;	/* its verify result */
	struct ca_ident_match ident;	/* who cert is, once resolved */
	bool		 ident_done;	/* resolved (found or not) */
	struct gw_cert_check chk;	/* the latest gw_req_cert_check() */
	const char	*chk_file;	/* its trust file (NULL: listener) */
	bool		 chk_done;	/* chk is filled in */
	const char	*tls;		/* "1.3", "1.2", "-" */
	uint64_t	 start_us;	/* monotonic start */
};

static const struct {
	int		 cmd;		/* EVHTTP_REQ_* */
	const char	*name;		/* for the log */
} cmd_names[] = {
	{ EVHTTP_REQ_GET, "GET" },
	{ EVHTTP_REQ_HEAD, "HEAD" },
	{ EVHTTP_REQ_POST, "POST" },
	{ EVHTTP_REQ_PUT, "PUT" },
	{ EVHTTP_REQ_DELETE, "DELETE" },
	{ EVHTTP_REQ_OPTIONS, "OPTIONS" },
	{ EVHTTP_REQ_TRACE, "TRACE" },
	{ EVHTTP_REQ_CONNECT, "CONNECT" },
	{ EVHTTP_REQ_PATCH, "PATCH" },
};

static uint64_t
mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void
gw_x509_name_text(const X509_NAME *name, char *out, size_t outlen)
{
	BIO	*bio;
	int	 n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return;
	/* RFC 2253 escaping keeps control and non-ASCII bytes out. */
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
		n = BIO_read(bio, out, (int)(outlen > INT32_MAX ? INT32_MAX :
		    outlen - 1));
		out[n > 0 ? n : 0] = '\0';
	}
	BIO_free(bio);
}

static const char *
cmd_name(int cmd)
{
	size_t	 i;

	for (i = 0; i < sizeof(cmd_names) / sizeof(cmd_names[0]); i++)
		if (cmd_names[i].cmd == cmd)
			return cmd_names[i].name;
	return "OTHER";
}

static void
req_free(struct gw_req *req)
{
	struct gw_thread	*th;

	if (req == NULL)
		return;
	th = req->th;
	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		th->reqs = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	X509_free(req->cert);
	ca_ident_match_cleanup(&req->ident);
	gw_snap_put(req->snap);
	cg_free(req->path);
	cg_free(req->query);
	cg_free(req);
}

static void
req_peer(struct gw_req *req)
{
	struct evhttp_connection *evcon;
	char			*addr = NULL;
	ev_uint16_t		 port = 0;

	snprintf(req->peer, sizeof(req->peer), "-");
	evcon = evhttp_request_get_connection(req->evreq);
	if (evcon == NULL)
		return;
	evhttp_connection_get_peer(evcon, &addr, &port);
	if (addr == NULL)
		return;
	snprintf(req->peer, sizeof(req->peer),
	    strchr(addr, ':') != NULL ? "[%s]:%u" : "%s:%u", addr,
	    (unsigned)port);
}

/* What the TLS layer knows about the client; none on plain HTTP. */
static void
req_tls(struct gw_req *req, const struct gw_conn *c)
{
	X509	*cert;

	req->tls = "-";
	req->verify = X509_V_OK;
	if (c == NULL || c->ssl == NULL)
		return;
	req->tls = gw_tls_version(c->ssl);
	cert = SSL_get0_peer_certificate(c->ssl);
	if (cert == NULL || X509_up_ref(cert) != 1)
		return;
	req->cert = cert;
	/* The callback saw the first failure; resumption keeps SSL's. */
	req->verify = c->verify != X509_V_OK ? c->verify :
	    SSL_get_verify_result(c->ssl);
}

static struct gw_req *
req_new(struct gw_tlsn *tl, const struct gw_conn *c,
    struct evhttp_request *evreq)
{
	struct gw_thread	*th = tl->th;
	struct gw_req		*req;
	int			 cmd;

	req = cg_calloc(1, sizeof(*req));
	if (req == NULL)
		return NULL;
	req->start_us = mono_us();
	req->th = th;
	req->tl = tl;
	req->evreq = evreq;
	req->snap = gw_snap_get(th->srv);
	cmd = (int)evhttp_request_get_command(evreq);
	req->method = gw_method_bit(cmd);
	req->method_name = cmd_name(cmd);
	snprintf(req->id, sizeof(req->id), "%u-%" PRIu64, th->idx,
	    ++th->nreq);
	req_peer(req);
	req_tls(req, c);
	req->next = th->reqs;
	if (th->reqs != NULL)
		th->reqs->prev = req;
	th->reqs = req;
	return req;
}

static const char *
path_status_text(int status)
{
	switch (status) {
	case 414:
		return "request path too long";
	case 400:
		return "bad request path";
	default:
		return "out of memory";
	}
}

/* Decode the path; on failure the request is answered and false returned. */
static bool
req_path(struct gw_req *req)
{
	const struct evhttp_uri	*uri;
	const char		*q;
	int			 status;

	uri = evhttp_request_get_evhttp_uri(req->evreq);
	status = gw_path_decode(uri != NULL ? evhttp_uri_get_path(uri) : NULL,
	    &req->path);
	if (status != 0) {
		gw_req_reply_text(req, status, path_status_text(status));
		return false;
	}
	q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	if (q != NULL) {
		req->query = cg_strdup(q);
		if (req->query == NULL) {
			gw_req_reply_text(req, 503, "out of memory");
			return false;
		}
	}
	return true;
}

/*
 * Apply the route's client-certificate policy; false when answered.  A
 * presented certificate must be good on accept routes too: only an
 * unknown self-signed one on an accept-self-signed route is let through,
 * without it, into the holding tank.
 */
static bool
req_policy(struct gw_req *req, const struct gw_route_ent *ent)
{
	enum gw_cert_policy	 policy = gw_route_policy(ent, req->tl->kind);
	struct gw_cert_check	 chk;

	req->policy = policy;
	if (policy == GW_CERT_IGNORE) {
		X509_free(req->cert);
		req->cert = NULL;
		req->verify = X509_V_OK;
		return true;
	}
	if (ent->r.cert_by_handler)
		return true;
	if (req->cert == NULL) {
		if (policy != GW_CERT_REQUIRE)
			return true;
		memset(&chk, 0, sizeof(chk));
		snprintf(chk.detail, sizeof(chk.detail), "this resource "
		    "needs a client certificate");
		gw_req_cert_refuse(req, &chk);
		return false;
	}
	gw_req_cert_check(req, NULL, &chk);
	if (chk.verdict == GW_CV_OK) {
		if (policy != GW_CERT_REQUIRE)
			gw_req_cert_hold(req, &chk);
		return true;
	}
	if (chk.verdict == GW_CV_UNTRUSTED && chk.self_signed &&
	    policy == GW_CERT_ACCEPT_SELF_SIGNED) {
		gw_req_cert_hold(req, &chk);
		return true;		/* anonymous: gw_req_peer_cert is NULL */
	}
	gw_req_cert_refuse(req, &chk);
	return false;
}

void
gw_req_cert_check(struct gw_req *req, const char *trust_file,
    struct gw_cert_check *out)
{
	/* The last check is the request's: gw_req_peer_cert() follows it. */
	if (!req->chk_done || req->chk_file != trust_file) {
		gw_auth_check(req->th, req->cert, trust_file, &req->chk);
		req->chk_done = true;
		req->chk_file = trust_file;
		ca_ident_match_cleanup(&req->ident);
		req->ident_done = false;
	}
	*out = req->chk;
}

static bool
accepts_json(struct gw_req *req)
{
	const char	*accept = gw_req_header(req, "Accept");

	return accept != NULL && strstr(accept, "application/json") != NULL;
}

void
gw_req_cert_refuse(struct gw_req *req, const struct gw_cert_check *chk)
{
	char	 subj[GW_SUBJECT_MAX], qsubj[GW_LOG_SUBJECT_MAX];
	char	 qdetail[2 * GW_CERT_DETAIL_MAX], *body = NULL;
	json_t	*j;

	subj[0] = '\0';
	if (req->cert != NULL)
		gw_x509_name_text(X509_get_subject_name(req->cert), subj,
		    sizeof(subj));
	cg_logfmt_quote(subj[0] != '\0' ? subj : "-", qsubj, sizeof(qsubj));
	cg_logfmt_quote(chk->detail, qdetail, sizeof(qdetail));
	cg_log_info("event=client_cert_refused req=%s peer=%s reason=%s "
	    "client_cert=%s sha256=%s detail=%s", req->id, req->peer,
	    gw_cert_verdict_code(chk->verdict), qsubj,
	    chk->sha256[0] != '\0' ? chk->sha256 : "-", qdetail);
	if (accepts_json(req)) {
		j = json_pack("{s:s, s:s}", "error",
		    gw_cert_verdict_code(chk->verdict), "detail", chk->detail);
		body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (body != NULL) {
			gw_req_reply(req, 403, "application/json", body,
			    strlen(body));
			free(body);
			return;
		}
	}
	body = cg_asprintf("%s: %s", gw_cert_verdict_code(chk->verdict),
	    chk->detail);
	gw_req_reply_text(req, 403, body != NULL ? body :
	    gw_cert_verdict_code(chk->verdict));
	cg_free(body);
}

void
gw_req_cert_hold(struct gw_req *req, const struct gw_cert_check *chk)
{
	struct ca_holding	 h;
	struct cg_err		 err = { 0 };
	char			 subj[GW_SUBJECT_MAX], iss[GW_SUBJECT_MAX];
	unsigned char		*der = NULL;
	int			 len, status = CA_HOLD_PENDING;

	if (req->cert == NULL || chk->ours || chk->pinned ||
	    chk->sha256[0] == '\0')
		return;
	if (chk->verdict == GW_CV_OK && gw_req_identity(req) != NULL)
		return;
	len = i2d_X509(req->cert, &der);
	if (len <= 0)
		return;
	gw_x509_name_text(X509_get_subject_name(req->cert), subj, sizeof(subj));
	gw_x509_name_text(X509_get_issuer_name(req->cert), iss, sizeof(iss));
	memset(&h, 0, sizeof(h));
	h.sha256 = (char *)chk->sha256;
	h.subject = subj;
	h.issuer = iss;
	h.der = der;
	h.der_len = (size_t)len;
	if (ca_time_unix(X509_get0_notAfter(req->cert), &h.not_after,
	    NULL) != CG_OK)
		h.not_after = 0;
	h.source = req->peer;
	if (ca_store_holding_seen(req->th->store, &h, cg_wall_ms() / 1000,
	    &status, &err) != CG_OK)
		cg_log_err_struct(__func__, "holding_seen", &err);
	else
		cg_log_info("event=client_cert_held req=%s sha256=%s "
		    "status=%d", req->id, chk->sha256, status);
	OPENSSL_free(der);
}

static void
req_route(struct gw_req *req)
{
	const struct gw_route_ent *ent;
	const struct gw_limits	*lim = &req->th->srv->boot->conf->limits;
	char			 allow[GW_ALLOW_MAX];
	unsigned		 allowed;
	size_t			 blen;

	switch (gw_routes_match(&req->th->srv->routes, req->path,
	    req->tl->kind, req->method, &ent, &allowed)) {
	case GW_MATCH_OK:
		break;
	case GW_MATCH_METHOD:
		gw_allow_format(allowed, allow, sizeof(allow));
		gw_req_set_header(req, "Allow", allow);
		gw_req_reply_text(req, 405, "method not allowed");
		return;
	default:
		gw_req_reply_text(req, 404, "not found");
		return;
	}
	if (!req_policy(req, ent))
		return;
	/* evhttp enforces this while reading; this is the backstop. */
	blen = evbuffer_get_length(evhttp_request_get_input_buffer(req->evreq));
	if (blen > lim->max_body_bytes) {
		gw_req_reply_text(req, 413, "request body too large");
		return;
	}
	ent->r.fn(req, ent->r.arg);
}

void
gw_req_dispatch(struct evhttp_request *evreq, void *arg)
{
	struct gw_tlsn	*tl = arg;
	struct gw_conn	*c;
	struct gw_req	*req;

	c = gw_conn_find(tl, evreq);
	if (tl->kind == GW_LSN_HTTPS && (c == NULL || c->ssl == NULL)) {
		/* Never answer on the TLS listener without TLS. */
		cg_log_err("event=request_refused reason=\"no TLS state\"");
		evhttp_add_header(evhttp_request_get_output_headers(evreq),
		    "Connection", "close");
		evhttp_send_error(evreq, 500, NULL);
		return;
	}
	if (c != NULL) {
		gw_conn_request_begin(c);
		evhttp_request_set_on_complete_cb(evreq, gw_conn_request_done,
		    c);
	}
	req = req_new(tl, c, evreq);
	if (req == NULL) {
		cg_log_err("event=request_refused reason=\"out of memory\"");
		evhttp_send_error(evreq, 503, NULL);
		return;
	}
	if (!req_path(req))
		return;
	req_route(req);
}

static void
req_log(const struct gw_req *req, int status, size_t bytes)
{
	char	 qpath[GW_LOG_PATH_MAX], subj[GW_SUBJECT_MAX];
	char	 qsubj[GW_LOG_SUBJECT_MAX], verify[32];
	double	 ms = (double)(mono_us() - req->start_us) / 1000.0;

	cg_logfmt_quote(req->path != NULL ? req->path : "-", qpath,
	    sizeof(qpath));
	snprintf(qsubj, sizeof(qsubj), "-");
	snprintf(verify, sizeof(verify), "-");
	if (req->cert != NULL) {
		gw_x509_name_text(X509_get_subject_name(req->cert), subj,
		    sizeof(subj));
		cg_logfmt_quote(subj, qsubj, sizeof(qsubj));
		/* The gateway's verdict when it made one, else the TLS one. */
		snprintf(verify, sizeof(verify), "%s", (req->chk_done ?
		    req->chk.verdict == GW_CV_OK : req->verify == X509_V_OK) ?
		    "ok" : "failed");
	}
	cg_log_info("event=request req=%s peer=%s method=%s path=%s "
	    "status=%d bytes=%zu dur_ms=%.1f tls=%s client_cert=%s "
	    "cert_verify=%s", req->id, req->peer, req->method_name, qpath,
	    status, bytes, ms, req->tls, qsubj, verify);
}

/* Statuses where we stop reading from this client. */
static bool
status_closes(int status)
{
	return status == 400 || status == 408 || status == 413 ||
	    status == 414 || status == 431;
}

void
gw_req_reply(struct gw_req *req, int status, const char *content_type,
    const void *body, size_t len)
{
	struct evkeyvalq	*out;
	struct evbuffer		*buf;
	char			 clen[24];
	bool			 head = req->method == GW_M_HEAD;

	out = evhttp_request_get_output_headers(req->evreq);
	buf = evhttp_request_get_output_buffer(req->evreq);
	if (!head && len > 0 && evbuffer_add(buf, body, len) != 0) {
		evbuffer_drain(buf, evbuffer_get_length(buf));
		status = 503;
		len = 0;
		content_type = NULL;
	}
	if (content_type != NULL) {
		evhttp_remove_header(out, "Content-Type");
		evhttp_add_header(out, "Content-Type", content_type);
	}
	/* HEAD: the length GET would have sent (RFC 9110 §9.3.2). */
	snprintf(clen, sizeof(clen), "%zu", len);
	evhttp_remove_header(out, "Content-Length");
	evhttp_add_header(out, "Content-Length", clen);
	if (status >= 400)
		evhttp_add_header(out, "Cache-Control", "no-store");
	if (status_closes(status) || req->th->draining) {
		evhttp_remove_header(out, "Connection");
		evhttp_add_header(out, "Connection", "close");
	}
	evhttp_send_reply(req->evreq, status, NULL, NULL);
	req_log(req, status, head ? 0 : len);
	req_free(req);
}

void
gw_req_reply_text(struct gw_req *req, int status, const char *msg)
{
	char	*text;

	text = cg_asprintf("%s\n", msg);
	if (text == NULL) {
		gw_req_reply(req, status, "text/plain; charset=utf-8", msg,
		    strlen(msg));
		return;
	}
	gw_req_reply(req, status, "text/plain; charset=utf-8", text,
	    strlen(text));
	cg_free(text);
}

void
gw_req_abort_all(struct gw_thread *th)
{
	char	 qpath[GW_LOG_PATH_MAX];

	while (th->reqs != NULL) {
		cg_logfmt_quote(th->reqs->path != NULL ? th->reqs->path : "-",
		    qpath, sizeof(qpath));
		cg_log_warn("event=request_aborted req=%s peer=%s path=%s",
		    th->reqs->id, th->reqs->peer, qpath);
		req_free(th->reqs);
	}
}

/* ------------------------------------------------------- accessors */

struct gw_thread *
gw_req_thread(struct gw_req *req)
{
	return req->th;
}

const char *
gw_req_method(const struct gw_req *req)
{
	return req->method_name;
}

const char *
gw_req_path(const struct gw_req *req)
{
	return req->path;
}

const char *
gw_req_query(const struct gw_req *req)
{
	return req->query;
}

const char *
gw_req_header(const struct gw_req *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req->evreq),
	    name);
}

const uint8_t *
gw_req_body(struct gw_req *req, size_t *lenp)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req->evreq);
	unsigned char	*p;

	*lenp = evbuffer_get_length(in);
	if (*lenp == 0)
		return (const uint8_t *)"";
	/* Bounded by max_body_bytes before the handler ran. */
	p = evbuffer_pullup(in, -1);
	if (p == NULL)
		*lenp = 0;
	return p != NULL ? p : (const uint8_t *)"";
}

bool
gw_req_is_tls(const struct gw_req *req)
{
	return req->tl->kind == GW_LSN_HTTPS;
}

X509 *
gw_req_peer_cert(const struct gw_req *req)
{
	if (req->policy == GW_CERT_IGNORE || !req->chk_done ||
	    req->chk.verdict != GW_CV_OK)
		return NULL;
	return req->cert;
}

X509 *
gw_req_peer_cert_any(const struct gw_req *req, long *verify)
{
	if (verify != NULL)
		*verify = req->verify;
	return req->policy == GW_CERT_IGNORE ? NULL : req->cert;
}

const struct ca_identity *
gw_req_identity(struct gw_req *req)
{
	struct cg_err	 err;
	X509		*cert;

	if (req->ident_done)
		return req->ident.ident;
	req->ident_done = true;
	cert = gw_req_peer_cert(req);
	if (cert == NULL)
		return NULL;
	cg_err_clear(&err);
	switch (ca_ident_resolve(req->th->store, cert, &req->ident, &err)) {
	case CG_OK:
		break;
	case CG_ENOTFOUND:
		return NULL;
	default:
		cg_log_warn("event=identity_error req=%s msg=\"%s\"", req->id,
		    err.msg);
		return NULL;
	}
	return req->ident.ident;
}

const char *
gw_req_peer(const struct gw_req *req)
{
	return req->peer;
}

struct ca_store *
gw_req_store(struct gw_req *req)
{
	return req->th->store;
}

struct ca *
gw_req_ca(struct gw_req *req)
{
	return req->th->srv->ca;
}

const struct gw_config *
gw_req_config(struct gw_req *req)
{
	return req->snap->conf;
}

void
gw_req_set_header(struct gw_req *req, const char *name, const char *value)
{
	/* evhttp refuses CR/LF in names and values (header injection). */
	if (evhttp_add_header(evhttp_request_get_output_headers(req->evreq),
	    name, value) != 0)
		cg_log_warn("event=bad_header req=%s", req->id);
}

#define GW_EXPORTER_LABEL	"EXPORTER-Channel-Binding"

enum cg_code
gw_req_tls_binding(struct gw_req *req, uint8_t *buf, size_t *lenp,
    enum gw_tls_binding *kindp, struct cg_err *err)
{
	struct gw_conn	*c;
	size_t		 n;

	*lenp = 0;
	*kindp = GW_BINDING_NONE;
	c = req->tl->kind == GW_LSN_HTTPS ? gw_conn_find(req->tl,
	    req->evreq) : NULL;
	if (c == NULL || c->ssl == NULL)
		return cg_err_set(err, CG_ENOTFOUND, "no TLS connection");
	if (SSL_version(c->ssl) >= TLS1_3_VERSION) {
		ERR_clear_error();
		if (SSL_export_keying_material(c->ssl, buf,
		    GW_TLS_EXPORTER_LEN, GW_EXPORTER_LABEL,
		    sizeof(GW_EXPORTER_LABEL) - 1, NULL, 0, 0) != 1)
			return cg_err_crypto(err, CG_ECRYPTO, "cannot export "
			    "the channel binding");
		*lenp = GW_TLS_EXPORTER_LEN;
		*kindp = GW_BINDING_TLS_EXPORTER;
		return CG_OK;
	}
	/* RFC 5929 §3.1: the first Finished of the latest handshake. */
	n = SSL_session_reused(c->ssl) ?
	    SSL_get_finished(c->ssl, buf, GW_TLS_BINDING_MAX) :
	    SSL_get_peer_finished(c->ssl, buf, GW_TLS_BINDING_MAX);
	if (n == 0 || n > GW_TLS_BINDING_MAX)
		return cg_err_set(err, CG_ECRYPTO, "no TLS Finished message");
	*lenp = n;
	*kindp = GW_BINDING_TLS_UNIQUE;
	return CG_OK;
}
