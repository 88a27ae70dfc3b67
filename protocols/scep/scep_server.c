/*
 * scep_server.c - the SCEP front door (RFC 8894 §4): the routes, the
 * query (operation and message, percent-decoded exactly once), GetCACaps,
 * GetCACert, GetNextCACert, and the one place where failures become an
 * HTTP status and a text body.  PKIOperation is scep_op.c; the wire
 * format scep_msg.c.
 */
#include "scep_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define SCEP_CT_TEXT		"text/plain"
#define SCEP_CT_CA		"application/x-x509-ca-cert"
#define SCEP_CT_CA_RA		"application/x-x509-ca-ra-cert"
#define SCEP_CT_NEXT_CA		"application/x-x509-next-ca-cert"
#define SCEP_RA_PEM_MAX		(64 * 1024)	/* RA certificate or key file */

/* ------------------------------------------------------------ query */

/*
 * Percent-decode len bytes of a query value, once (RFC 8894 §4.1: the
 * base64 message is URL-encoded; decoding twice would turn a literal
 * "%2B" into '+').  '+' stays '+': base64 uses it, and clients that do
 * not escape it mean it literally.
 */
bool
scep_query_decode(const char *s, size_t len, char *out, size_t cap,
    size_t *outlenp)
{
	size_t	 i, n = 0;
	int	 hi, lo;

	for (i = 0; i < len; i++) {
		char	 c = s[i];

		if (c == '%') {
			if (i + 2 >= len)
				return false;
			hi = cg_hex_digit(s[i + 1]);
			lo = cg_hex_digit(s[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (n + 1 >= cap)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	*outlenp = n;
	return true;
}

/* Find key=value in the raw query; *valp borrowed, not decoded. */
static bool
query_get(const char *q, const char *key, const char **valp, size_t *lenp)
{
	size_t	 klen = strlen(key);

	while (q != NULL && *q != '\0') {
		const char	*amp = strchr(q, '&');
		size_t		 n = amp != NULL ? (size_t)(amp - q) : strlen(q);

		if (n > klen && strncmp(q, key, klen) == 0 && q[klen] == '=') {
			*valp = q + klen + 1;
			*lenp = n - klen - 1;
			return true;
		}
		q = amp != NULL ? amp + 1 : NULL;
	}
	return false;
}

/* ----------------------------------------------------------- replies */

void
scep_reply_text(struct scep_call *call, int status, const char *msg)
{
	char	 q[256];

	if (status >= 500)
		cg_log_err("event=scep_error peer=%s msg=%s",
		    gw_req_peer(call->req), cg_logfmt_quote(msg, q, sizeof(q)));
	else
		cg_log_info("event=scep_refused peer=%s status=%d msg=%s",
		    gw_req_peer(call->req), status,
		    cg_logfmt_quote(msg, q, sizeof(q)));
	gw_req_reply_text(call->req, status, msg);
}

/* ----------------------------------------------------------- GetCA* */

/* RFC 8894 §3.5.2: only what is really supported. */
static void
op_caps(struct scep_call *call)
{
	char	 caps[256];

	snprintf(caps, sizeof(caps), "POSTPKIOperation\nSHA-1\nSHA-256\n"
	    "SHA-512\nAES\nDES3\nRenewal\nSCEPStandard\n%s",
	    call->ss->next_ca != NULL ? "GetNextCACert\n" : "");
	gw_req_reply(call->req, 200, SCEP_CT_TEXT, caps, strlen(caps));
}

/*
 * §4.2: the RA and the CA chain as a degenerate PKCS#7; without an RA, a
 * root CA alone as one DER certificate, an intermediate with its chain.
 */
static void
op_cacert(struct scep_call *call)
{
	STACK_OF(X509)	*chain = ca_get0_chain(gw_req_ca(call->req));
	X509		*certs[SCEP_CERTS_MAX];
	uint8_t		*der = NULL;
	size_t		 len = 0, n = 0;
	int		 i, dlen;
	struct cg_err	 err = { 0 };

	if (!call->ss->ra && (chain == NULL || sk_X509_num(chain) <= 1)) {
		dlen = i2d_X509(call->ss->id.cert, &der);
		if (dlen <= 0) {
			scep_reply_text(call, 500, "internal error");
			return;
		}
		gw_req_reply(call->req, 200, SCEP_CT_CA, der, (size_t)dlen);
		OPENSSL_free(der);
		return;
	}
	if (call->ss->ra)
		certs[n++] = call->ss->id.cert;
	for (i = 0; chain != NULL && i < sk_X509_num(chain) &&
	    n < SCEP_CERTS_MAX; i++)
		certs[n++] = sk_X509_value(chain, i);
	if (scep_certs_only(certs, n, NULL, &der, &len, &err) != CG_OK) {
		cg_log_err_struct(__func__, "GetCACert", &err);
		scep_reply_text(call, 500, "internal error");
		return;
	}
	gw_req_reply(call->req, 200, SCEP_CT_CA_RA, der, len);
	cg_free(der);
}

/* §4.6: the successor CA, when one is configured. */
static void
op_next_cacert(struct scep_call *call)
{
	X509		*certs[1];
	uint8_t		*der = NULL;
	size_t		 len = 0;
	struct cg_err	 err = { 0 };

	if (call->ss->next_ca == NULL) {
		scep_reply_text(call, 404, "no next CA certificate");
		return;
	}
	certs[0] = call->ss->next_ca;
	if (scep_certs_only(certs, 1, NULL, &der, &len, &err) != CG_OK) {
		cg_log_err_struct(__func__, "GetNextCACert", &err);
		scep_reply_text(call, 500, "internal error");
		return;
	}
	gw_req_reply(call->req, 200, SCEP_CT_NEXT_CA, der, len);
	cg_free(der);
}

/* ------------------------------------------------------- PKIOperation */

static void
op_pki_get(struct scep_call *call, const char *q)
{
	const char	*val;
	char		*text = NULL;
	uint8_t		*der = NULL;
	size_t		 vlen, tlen = 0, len = 0;
	struct cg_err	 err = { 0 };

	if (!query_get(q, "message", &val, &vlen) || vlen == 0) {
		scep_reply_text(call, 400, "PKIOperation needs a message");
		return;
	}
	if (vlen > SCEP_QUERY_MAX) {
		scep_reply_text(call, 413, "message too large");
		return;
	}
	text = cg_malloc(vlen + 1);
	if (text == NULL) {
		scep_reply_text(call, 500, "internal error");
		return;
	}
	if (!scep_query_decode(val, vlen, text, vlen + 1, &tlen) ||
	    cg_base64_decode(text, tlen, false, SCEP_MSG_MAX, &der, &len,
	    &err) != CG_OK)
		scep_reply_text(call, 400, "message is not URL-escaped base64");
	else
		scep_op_pki(call, der, len);
	cg_free(der);
	cg_free(text);
}

static void
op_pki_post(struct scep_call *call)
{
	const uint8_t	*body;
	size_t		 len;

	body = gw_req_body(call->req, &len);
	if (len > SCEP_MSG_MAX) {
		scep_reply_text(call, 413, "message too large");
		return;
	}
	scep_op_pki(call, body, len);
}

/* ------------------------------------------------------------ dispatch */

static const struct gw_scep_service *
service_of(const struct gw_config *conf, const char *path)
{
	const char	*name = "default";
	size_t		 i;

	if (strncmp(path, SCEP_PATH "/", strlen(SCEP_PATH) + 1) == 0)
		name = path + strlen(SCEP_PATH) + 1;
	for (i = 0; i < conf->scep.nservices; i++)
		if (strcmp(conf->scep.services[i].name, name) == 0)
			return &conf->scep.services[i];
	return NULL;
}

static void
scep_handle(struct gw_req *req, void *arg)
{
	struct scep_call	 call = { .req = req, .ss = arg };
	const char		*q = gw_req_query(req), *op;
	const char		*m = gw_req_method(req);
	char			 opname[32];
	size_t			 oplen, n;

	call.conf = gw_req_config(req);
	call.now = cg_now();
	call.svc = call.conf->scep.enabled ? service_of(call.conf,
	    gw_req_path(req)) : NULL;
	if (call.svc == NULL) {
		scep_reply_text(&call, 404, "no such SCEP service");
		return;
	}
	if (!query_get(q, "operation", &op, &oplen) ||
	    !scep_query_decode(op, oplen, opname, sizeof(opname), &n)) {
		scep_reply_text(&call, 400, "missing or bad operation");
		return;
	}
	if (strcmp(opname, "PKIOperation") == 0) {
		if (strcmp(m, "POST") == 0)
			op_pki_post(&call);
		else
			op_pki_get(&call, q);
	} else if (strcmp(m, "POST") == 0) {
		scep_reply_text(&call, 405, "only PKIOperation is POSTed");
	} else if (strcmp(opname, "GetCACaps") == 0) {
		op_caps(&call);
	} else if (strcmp(opname, "GetCACert") == 0) {
		op_cacert(&call);
	} else if (strcmp(opname, "GetNextCACert") == 0) {
		op_next_cacert(&call);
	} else {
		scep_reply_text(&call, 400, "unknown operation");
	}
}

/* ------------------------------------------------------------- life */

static enum cg_code
pem_cert_load(const char *path, X509 **xp, struct cg_err *err)
{
	uint8_t		*pem = NULL;
	size_t		 len = 0;
	BIO		*bio = NULL;
	enum cg_code	 rc;

	*xp = NULL;
	rc = cg_file_read(path, SCEP_RA_PEM_MAX, &pem, &len, err);
	if (rc != CG_OK)
		return rc;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio != NULL)
		*xp = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (*xp == NULL)
		rc = cg_err_crypto(err, CG_EINVAL, "%s holds no PEM "
		    "certificate", path);
	BIO_free(bio);
	cg_free(pem);
	return rc;
}

/*
 * Single DES lives in OpenSSL 3's legacy provider.  It is loaded only
 * when a service is configured to accept it; loading a provider turns off
 * the implicit default one, so that is loaded too.
 */
static enum cg_code
legacy_load(struct scep_server *ss, const struct gw_scep_conf *sc,
    struct cg_err *err)
{
	size_t	 i;

	for (i = 0; i < sc->nservices; i++)
		if (sc->services[i].legacy_des)
			break;
	if (i == sc->nservices)
		return CG_OK;
	ss->prov_default = OSSL_PROVIDER_load(NULL, "default");
	ss->prov_legacy = OSSL_PROVIDER_load(NULL, "legacy");
	if (ss->prov_default == NULL || ss->prov_legacy == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "legacy_des: cannot load "
		    "OpenSSL's legacy provider");
	cg_log_warn("event=scep_legacy_des service=%s msg=\"single DES "
	    "accepted for requests\"", sc->services[i].name);
	return CG_OK;
}

/*
 * Without an RA the CA answers itself (RFC 8894 §2.1): clients encrypt to
 * its certificate, so its key must be RSA, and certmonger wants the
 * signer of a reply to have digitalSignature.
 */
static enum cg_code
ca_as_id(struct scep_server *ss, struct ca *ca, struct cg_err *err)
{
	X509	*cert = ca_get0_cert(ca);
	uint32_t ku;

	if (EVP_PKEY_get_base_id(X509_get0_pubkey(cert)) != EVP_PKEY_RSA)
		return cg_err_set(err, CG_EINVAL, "scep: the CA key is not "
		    "RSA, so SCEP clients cannot encrypt to it; configure an "
		    "RA (ra_cert, ra_key: see certgw scep ra-init)");
	ku = X509_get_key_usage(cert);
	if (ku != UINT32_MAX && (ku & KU_DIGITAL_SIGNATURE) == 0)
		return cg_err_set(err, CG_EINVAL, "scep: the CA certificate "
		    "lacks digitalSignature key usage, which SCEP clients "
		    "check on replies; configure an RA (certgw scep ra-init)");
	if (X509_up_ref(cert) != 1)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	ss->id.cert = cert;
	ss->id.ca = ca;
	ss->ra = false;
	return CG_OK;
}

static enum cg_code
ra_load(struct scep_server *ss, const struct gw_scep_conf *sc,
    struct cg_err *err)
{
	enum cg_code	 rc;

	rc = pem_cert_load(sc->ra_cert_file, &ss->id.cert, err);
	if (rc == CG_OK)
		rc = cg_pem_key_load(sc->ra_key_file, sc->ra_key_pass_file,
		    sc->ra_key_pass_env, SCEP_RA_PEM_MAX, &ss->id.key, err);
	if (rc == CG_OK && X509_check_private_key(ss->id.cert,
	    ss->id.key) != 1)
		rc = cg_err_crypto(err, CG_EINVAL, "the SCEP RA key does not "
		    "match its certificate");
	/* certmonger refuses replies whose signer lacks digitalSignature. */
	if (rc == CG_OK && (X509_get_key_usage(ss->id.cert) &
	    KU_DIGITAL_SIGNATURE) == 0)
		rc = cg_err_set(err, CG_EINVAL, "the SCEP RA certificate lacks "
		    "digitalSignature key usage");
	ss->ra = true;
	return rc;
}

static enum cg_code
id_load(struct scep_server *ss, const struct gw_scep_conf *sc, struct ca *ca,
    struct cg_err *err)
{
	enum cg_code	 rc;

	rc = sc->ra_cert_file != NULL ? ra_load(ss, sc, err) :
	    ca_as_id(ss, ca, err);
	if (rc == CG_OK && sc->next_ca_file != NULL)
		rc = pem_cert_load(sc->next_ca_file, &ss->next_ca, err);
	if (rc == CG_OK)
		rc = legacy_load(ss, sc, err);
	return rc;
}

enum cg_code
scep_register(struct gw_server *srv, struct scep_server **ssp,
    struct cg_err *err)
{
	static const struct {
		const char	*path;
		bool		 prefix;
	} paths[] = {
		{ SCEP_PATH, false }, { SCEP_PATH "/", true },
		{ SCEP_ALIAS_CGI, false }, { SCEP_ALIAS_MSCEP, false },
	};
	struct scep_server	*ss;
	struct gw_route		 r;
	size_t			 i;
	enum cg_code		 rc;

	*ssp = NULL;
	ss = cg_calloc(1, sizeof(*ss));
	if (ss == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = id_load(ss, &gw_server_config(srv)->scep, gw_server_ca(srv),
	    err);
	for (i = 0; rc == CG_OK && i < sizeof(paths) / sizeof(paths[0]);
	    i++) {
		memset(&r, 0, sizeof(r));
		r.path = paths[i].path;
		r.prefix = paths[i].prefix;
		/* Devices speak plain HTTP; the messages protect themselves. */
		r.listeners = GW_ON_HTTPS | GW_ON_HTTP;
		r.methods = GW_M_GET | GW_M_HEAD | GW_M_POST;
		r.cert = GW_CERT_IGNORE;
		r.fn = scep_handle;
		r.arg = ss;
		rc = gw_route_add(srv, &r, err);
	}
	if (rc != CG_OK) {
		scep_server_free(ss);
		return rc;
	}
	*ssp = ss;
	return CG_OK;
}

void
scep_server_free(struct scep_server *ss)
{
	if (ss == NULL)
		return;
	X509_free(ss->id.cert);
	EVP_PKEY_free(ss->id.key);
	X509_free(ss->next_ca);
	if (ss->prov_legacy != NULL)
		OSSL_PROVIDER_unload(ss->prov_legacy);
	if (ss->prov_default != NULL)
		OSSL_PROVIDER_unload(ss->prov_default);
	cg_free(ss);
}
