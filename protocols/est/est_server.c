/*
 * est_server.c - the EST front door: one prefix route on the HTTPS
 * listener, the /.well-known/est/[<label>/]<op> dispatch table (method,
 * authentication), cacerts and csrattrs, and the one place where errors
 * become an HTTP status and a text body.  Enrollment is est_enroll.c;
 * authentication est_auth.c; encodings est_wire.c.
 */
#include "est_int.h"

#include <stdio.h>
#include <string.h>

#define EST_REALM_HDR	"Basic realm=\"certgw EST\""
#define EST_CT_P7	"application/pkcs7-mime"
#define EST_CT_CSRATTRS	"application/csrattrs"

typedef enum cg_code est_op_fn(struct est_call *call, struct cg_err *err);

static const struct {
	unsigned	 method;	/* GW_M_* the operation takes */
	bool		 auth;		/* client must authenticate */
	est_op_fn	*fn;		/* the handler */
} ops[EST_OP__MAX] = {
	/* RFC 7030 §4.1.1: the CA certificates need no authentication. */
	[EST_OP_CACERTS] = { GW_M_GET, false, est_op_cacerts },
	[EST_OP_SIMPLEENROLL] = { GW_M_POST, true, est_op_enroll },
	[EST_OP_SIMPLEREENROLL] = { GW_M_POST, true, est_op_enroll },
	[EST_OP_SERVERKEYGEN] = { GW_M_POST, true, est_op_serverkeygen },
	/* §4.5.1: SHOULD NOT require authentication for csrattrs either. */
	[EST_OP_CSRATTRS] = { GW_M_GET, false, est_op_csrattrs },
};

/* HTTP status for an error code; err->proto may name one explicitly. */
static int
status_of(const struct cg_err *err)
{
	if (err->proto >= 400 && err->proto <= 599)
		return err->proto;
	switch (err->code) {
	case CG_EINVAL:
		return 400;
	case CG_EAUTH:
		return 401;
	case CG_EDENIED:
		return 403;
	case CG_ENOTFOUND:
		return 404;
	case CG_ETOOBIG:
		return 413;
	default:
		return 500;
	}
}

void
est_reply_error(struct est_call *call, const struct cg_err *err)
{
	int	 status = status_of(err);
	char	 q[sizeof(err->msg) + 8];

	if (status >= 500) {
		/* Server faults: details in the log, a generic text on the wire. */
		cg_log_err_struct(__func__, est_op_name(call->op), err);
		gw_req_reply_text(call->req, 500, "internal error");
		return;
	}
	cg_log_info("event=est_refused op=%s peer=%s status=%d msg=%s",
	    est_op_name(call->op), gw_req_peer(call->req), status,
	    cg_logfmt_quote(err->msg, q, sizeof(q)));
	if (status == 401)
		gw_req_set_header(call->req, "WWW-Authenticate", EST_REALM_HDR);
	gw_req_reply_text(call->req, status, err->msg);
}

/* ------------------------------------------------------------ cacerts */

enum cg_code
est_op_cacerts(struct est_call *call, struct cg_err *err)
{
	STACK_OF(X509)	*chain;
	X509		*certs[EST_CHAIN_MAX];
	uint8_t		*der = NULL;
	size_t		 len = 0, n, i;
	struct cg_buf	 out;
	enum cg_code	 rc;

	cg_buf_init(&out, EST_REPLY_MAX);
	chain = ca_get0_chain(gw_req_ca(call->req));
	n = chain != NULL ? (size_t)sk_X509_num(chain) : 0;
	if (n == 0 || n > sizeof(certs) / sizeof(certs[0])) {
		rc = cg_err_set(err, CG_EINTERNAL, "bad CA chain length %zu",
		    n);
		goto out;
	}
	for (i = 0; i < n; i++)
		certs[i] = sk_X509_value(chain, (int)i);
	rc = est_p7_certs(certs, n, &der, &len, err);
	if (rc == CG_OK)
		rc = est_b64_wrap(der, len, &out, err);
	if (rc != CG_OK)
		goto out;
	gw_req_set_header(call->req, "Content-Transfer-Encoding", "base64");
	gw_req_reply(call->req, 200, EST_CT_P7, out.data, out.len);
out:
	cg_buf_cleanup(&out);
	cg_free(der);
	return rc;
}

/* ----------------------------------------------------------- csrattrs */

enum cg_code
est_op_csrattrs(struct est_call *call, struct cg_err *err)
{
	uint8_t		*der = NULL;
	size_t		 len = 0;
	struct cg_buf	 out;
	enum cg_code	 rc;

	cg_buf_init(&out, EST_REPLY_MAX);
	rc = est_csrattrs_encode(call->profile,
	    call->label->require_tls_unique, &der, &len, err);
	if (rc != CG_OK)
		goto out;
	if (len == 0) {
		/* RFC 7030 §4.5.2: nothing to ask is 204 (or 404). */
		gw_req_reply(call->req, 204, NULL, NULL, 0);
		goto out;
	}
	rc = est_b64_wrap(der, len, &out, err);
	if (rc != CG_OK)
		goto out;
	gw_req_set_header(call->req, "Content-Transfer-Encoding", "base64");
	gw_req_reply(call->req, 200, EST_CT_CSRATTRS, out.data, out.len);
out:
	cg_buf_cleanup(&out);
	cg_free(der);
	return rc;
}

/* ------------------------------------------------------------ dispatch */

static const struct gw_est_label *
label_find(const struct gw_config *conf, const char *name)
{
	size_t	 i;

	for (i = 0; i < conf->est.nlabels; i++)
		if (strcmp(conf->est.labels[i].name, name) == 0)
			return &conf->est.labels[i];
	return NULL;
}

/* HEAD goes wherever GET does (RFC 9110 §9.3.2). */
static bool
method_ok(const char *m, unsigned want)
{
	if (want == GW_M_GET)
		return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
	return strcmp(m, "POST") == 0;
}

/* Fill call from the path; on failure err says which 404/405. */
static enum cg_code
call_setup(struct est_call *call, struct cg_err *err)
{
	const char	*path = gw_req_path(call->req);
	char		 label[EST_LABEL_MAX];
	enum cg_code	 rc;

	call->conf = gw_req_config(call->req);
	rc = est_path_parse(path + strlen(EST_PATH_PREFIX), label, &call->op,
	    err);
	if (rc != CG_OK)
		return rc;
	call->label = label_find(call->conf, label);
	if (call->label == NULL || !call->conf->est.enabled)
		return cg_err_set(err, CG_ENOTFOUND, "unknown EST label");
	if (!method_ok(gw_req_method(call->req), ops[call->op].method)) {
		gw_req_set_header(call->req, "Allow",
		    ops[call->op].method == GW_M_GET ? "GET, HEAD" : "POST");
		err->proto = 405;
		return cg_err_set(err, CG_EINVAL, "method not allowed");
	}
	call->profile = gw_config_profile(call->conf, call->label->profile);
	if (call->profile == NULL)
		return cg_err_set(err, CG_EINTERNAL, "EST label %s names no "
		    "profile", call->label->name);
	return CG_OK;
}

static void
est_handle(struct gw_req *req, void *arg)
{
	struct est_call	 call = { .req = req, .op = EST_OP__MAX };
	struct cg_err	 err = { 0 };
	enum cg_code	 rc;

	rc = call_setup(&call, &err);
	if (rc == CG_OK && call.op == EST_OP_SIMPLEREENROLL)
		rc = est_renew_cert_check(&call, &err);
	if (rc == CG_OK && ops[call.op].auth)
		rc = est_auth_check(&call, &err);
	if (rc == CG_OK)
		rc = ops[call.op].fn(&call, &err);
	if (rc != CG_OK && call.cert_refused)
		gw_req_cert_refuse(call.req, &call.chk);
	else if (rc != CG_OK)
		est_reply_error(&call, &err);
}

enum cg_code
est_register(struct gw_server *srv, struct cg_err *err)
{
	const struct gw_route	 r = {
		EST_PATH_PREFIX, true, GW_ON_HTTPS, GW_M_GET | GW_M_POST,
		GW_CERT_ACCEPT, est_handle, NULL, true
	};

	return gw_route_add(srv, &r, err);
}
