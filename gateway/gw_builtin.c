/*
 * gw_builtin.c - the routes the gateway itself answers:
 *   GET /healthz            both listeners  200 "ok\n", 503 if the store fails
 *   GET /whoami             HTTPS, accept   JSON about the client certificate
 *   GET /crl                both listeners  current CRL, DER
 *   GET /crl/<name>.crl     both listeners  the same; <name> is the issuing
 *                           CA's CN made file-safe (gw_crl_file_name), e.g.
 *                           "certgw Root CA" -> /crl/certgw-root-ca.crl
 *   GET /ca.crt             both listeners  issuing CA certificate, DER
 *   POST /ocsp, GET /ocsp/  both listeners  the OCSP responder (gw_ocsp.c)
 * Protocol routes (ACME, EST, SCEP) live in their own modules.
 */
#include "gw_int.h"
#include "gw_ocsp.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define GW_CRL_SUFFIX	".crl"

static void
healthz(struct gw_req *req, void *arg)
{
	struct cg_err	 err = { 0 };
	int64_t		 gen;

	/* A cheap read proves this thread's store handle still works. */
	if (ca_store_revocation_gen(gw_req_store(req), &gen, &err) != CG_OK) {
		cg_log_err_struct(__func__, "healthz_store", &err);
		gw_req_reply_text(req, 503, "store unavailable");
		return;
	}
	gw_req_reply_text(req, 200, "ok");
}

static json_t *
whoami_json(struct gw_req *req)
{
	const struct ca_identity *id;
	struct gw_cert_check	 chk;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	char			 subject[GW_SUBJECT_MAX], issuer[GW_SUBJECT_MAX];
	char			 hex[2 * EVP_MAX_MD_SIZE + 1];
	json_t			*o, *ident;
	X509			*cert;

	cert = gw_req_peer_cert_any(req, NULL);
	if (cert == NULL)
		return json_pack("{s:b, s:n, s:n, s:n, s:s, s:n}",
		    "authenticated", 0, "subject", "issuer", "sha256",
		    "verify", "no client certificate", "identity");
	gw_req_cert_check(req, NULL, &chk);
	gw_x509_name_text(X509_get_subject_name(cert), subject,
	    sizeof(subject));
	gw_x509_name_text(X509_get_issuer_name(cert), issuer, sizeof(issuer));
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1)
		return NULL;
	cg_hex_encode(md, mdlen, hex, false);
	id = gw_req_identity(req);
	ident = id == NULL ? json_null() : json_pack("{s:s, s:s, s:b}",
	    "name", id->name, "role", ca_role_name(id->role), "disabled",
	    id->disabled);
	o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:b, s:o}",
	    "authenticated", chk.verdict == GW_CV_OK,
	    "subject", subject, "issuer", issuer, "sha256", hex,
	    "verify", chk.verdict == GW_CV_OK ? "ok" : chk.detail,
	    "pinned", chk.pinned, "identity", ident);
	return o;
}

/*
 * A self-check for admins: what did my client certificate look like, and
 * who does it make me?  An unknown self-signed certificate is shown when
 * the route's policy is accept-self-signed; other bad ones were refused.
 */
static void
whoami(struct gw_req *req, void *arg)
{
	json_t	*o;
	char	*text = NULL;

	o = whoami_json(req);
	if (o != NULL)
		text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL) {
		gw_req_reply_text(req, 500, "cannot describe the certificate");
		return;
	}
	gw_req_reply(req, 200, "application/json", text, strlen(text));
	free(text);
}

static void
reply_crl(struct gw_req *req, struct gw_server *srv)
{
	struct gw_blob	*b = gw_crl_get(srv);

	gw_req_reply(req, 200, "application/pkix-crl", b->data, b->len);
	gw_blob_unref(b);
}

static void
crl(struct gw_req *req, void *arg)
{
	reply_crl(req, arg);
}

/* /crl/<name>.crl: only the name of this CA. */
static void
crl_named(struct gw_req *req, void *arg)
{
	struct gw_server	*srv = arg;
	const char		*p = gw_req_path(req) + strlen("/crl/");
	size_t			 nlen = strlen(srv->crl_name);

	if (strncmp(p, srv->crl_name, nlen) != 0 ||
	    strcmp(p + nlen, GW_CRL_SUFFIX) != 0) {
		gw_req_reply_text(req, 404, "no such CRL");
		return;
	}
	reply_crl(req, srv);
}

static void
ca_crt(struct gw_req *req, void *arg)
{
	struct gw_server	*srv = arg;

	gw_req_reply(req, 200, "application/pkix-cert", srv->ca_der->data,
	    srv->ca_der->len);
}

enum cg_code
gw_builtin_add(struct gw_server *srv, struct cg_err *err)
{
	const struct gw_route	 routes[] = {
		{ "/healthz", false, GW_ON_HTTPS | GW_ON_HTTP, GW_M_GET,
		  GW_CERT_IGNORE, healthz, srv, false },
		{ "/whoami", false, GW_ON_HTTPS, GW_M_GET, GW_CERT_ACCEPT,
		  whoami, srv, false },
		{ "/crl", false, GW_ON_HTTPS | GW_ON_HTTP, GW_M_GET,
		  GW_CERT_IGNORE, crl, srv, false },
		{ "/crl/", true, GW_ON_HTTPS | GW_ON_HTTP, GW_M_GET,
		  GW_CERT_IGNORE, crl_named, srv, false },
		{ "/ca.crt", false, GW_ON_HTTPS | GW_ON_HTTP, GW_M_GET,
		  GW_CERT_IGNORE, ca_crt, srv, false },
	};
	enum cg_code		 rc;
	size_t			 i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		rc = gw_route_add(srv, &routes[i], err);
		if (rc != CG_OK)
			return rc;
	}
	return gw_ocsp_add(srv, err);
}
