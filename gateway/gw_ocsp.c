/*
 * gw_ocsp.c - the OCSP responder over HTTP (RFC 6960 appendix A), on both
 * listeners:
 *   POST /ocsp (or /ocsp/)  body: DER OCSPRequest, application/ocsp-request
 *   GET  /ocsp/<base64>     the DER request, base64 then URL-escaped
 * Answers are application/ocsp-response, HTTP 200 even for OCSP error
 * statuses (the client reads the status from the body).
 *
 * Cache: answers without a nonce whose every CertID is good or revoked are
 * kept, keyed by the SHA-256 of the request's bytes, in a fixed table of
 * slots.  Each entry remembers the store's revocation generation it was
 * built at; every request reads the generation (one indexed SQLite read
 * on the thread's own handle), so a revocation by any process, `certgw
 * cert revoke` included, retires every entry at the next request.  An
 * entry is also rebuilt once half its validity has passed.  Answers with
 * a nonce or an unknown status are signed per request and never kept.
 * Signing and parsing are ca/ca_ocsp.c's.
 */
#include "gw_int.h"
#include "gw_ocsp.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define GW_OCSP_SLOTS		4096	/* cache entries, a power of two */
#define GW_OCSP_STRIPES		16	/* locks over the slots */
#define GW_OCSP_KEY_LEN		32	/* SHA-256 of the request */
#define GW_OCSP_PATH		"/ocsp"
#define GW_OCSP_PREFIX		"/ocsp/"
#define GW_OCSP_REQ_TYPE	"application/ocsp-request"
#define GW_OCSP_RESP_TYPE	"application/ocsp-response"
#define GW_OCSP_CC_MAX		96	/* a Cache-Control value */

struct gw_ocsp_slot {
	uint8_t		 key[GW_OCSP_KEY_LEN];
	int64_t		 gen;		/* revocation generation it reflects */
	int64_t		 stale_at;	/* rebuild from then on */
	struct gw_blob	*resp;		/* DER response; next_update set */
};

struct gw_ocsp {
	struct ca_ocsp	*ocsp;		/* the responder (ca/) */
	uint32_t	 validity_s;	/* nextUpdate - thisUpdate */
	EVP_MD		*sha256;	/* fetched once, for cache keys */
	pthread_mutex_t	 mu[GW_OCSP_STRIPES];	/* slot i: mu[i % STRIPES] */
	struct gw_ocsp_slot *slots;	/* GW_OCSP_SLOTS of them */
};

/* ----------------------------------------------------------- life */

static void
ocsp_free(struct gw_ocsp *g)
{
	size_t	 i;

	if (g == NULL)
		return;
	for (i = 0; g->slots != NULL && i < GW_OCSP_SLOTS; i++)
		gw_blob_unref(g->slots[i].resp);
	for (i = 0; i < GW_OCSP_STRIPES; i++)
		pthread_mutex_destroy(&g->mu[i]);
	cg_free(g->slots);
	EVP_MD_free(g->sha256);
	ca_ocsp_free(g->ocsp);
	cg_free(g);
}

/*
 * The responder lives exactly as long as the server's TLS context, which
 * gw_server_free() releases after the loops are gone and before the CA:
 * an ex_data free callback ties the two without a field in the server.
 */
static int		 ctx_idx = -1;
static pthread_once_t	 ctx_once = PTHREAD_ONCE_INIT;

static void
ctx_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	ocsp_free(ptr);
}

static void
ctx_idx_init(void)
{
	ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_ex_free);
}

static enum cg_code
ocsp_new(struct gw_server *srv, struct gw_ocsp **gp, struct cg_err *err)
{
	const struct gw_config	*conf = gw_server_config(srv);
	struct gw_ocsp		*g;
	size_t			 i;
	enum cg_code		 rc;

	*gp = NULL;
	g = cg_calloc(1, sizeof(*g));
	if (g == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	for (i = 0; i < GW_OCSP_STRIPES; i++)
		pthread_mutex_init(&g->mu[i], NULL);
	g->validity_s = conf->ocsp.validity_s != 0 ? conf->ocsp.validity_s :
	    CA_OCSP_VALIDITY_DEFAULT;
	g->slots = cg_calloc(GW_OCSP_SLOTS, sizeof(*g->slots));
	g->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (g->slots == NULL || g->sha256 == NULL) {
		ocsp_free(g);
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	}
	rc = ca_ocsp_open(gw_server_ca(srv), &conf->ocsp, &g->ocsp, err);
	if (rc != CG_OK) {
		ocsp_free(g);
		return rc;
	}
	*gp = g;
	return CG_OK;
}

/* ---------------------------------------------------------- cache */

static size_t
slot_index(const uint8_t key[GW_OCSP_KEY_LEN])
{
	size_t	 v = 0;
	int	 i;

	for (i = 0; i < (int)sizeof(v); i++)
		v = v << 8 | key[i];
	return v & (GW_OCSP_SLOTS - 1);
}

/* A reference to the cached answer for key at gen and now, or NULL. */
static struct gw_blob *
cache_get(struct gw_ocsp *g, const uint8_t key[GW_OCSP_KEY_LEN],
    int64_t gen, int64_t now)
{
	struct gw_ocsp_slot	*s;
	struct gw_blob		*b = NULL;
	size_t			 i = slot_index(key);

	s = &g->slots[i];
	pthread_mutex_lock(&g->mu[i % GW_OCSP_STRIPES]);
	if (s->resp != NULL && s->gen == gen && now < s->stale_at &&
	    memcmp(s->key, key, GW_OCSP_KEY_LEN) == 0)
		b = gw_blob_ref(s->resp);
	pthread_mutex_unlock(&g->mu[i % GW_OCSP_STRIPES]);
	return b;
}

/* Keep b (a reference is taken) for key, replacing the slot's entry. */
static void
cache_put(struct gw_ocsp *g, const uint8_t key[GW_OCSP_KEY_LEN], int64_t gen,
    int64_t stale_at, struct gw_blob *b)
{
	struct gw_ocsp_slot	*s;
	struct gw_blob		*old;
	size_t			 i = slot_index(key);

	s = &g->slots[i];
	pthread_mutex_lock(&g->mu[i % GW_OCSP_STRIPES]);
	/* Never replace a newer generation's answer with an older one. */
	if (s->resp != NULL && s->gen > gen) {
		pthread_mutex_unlock(&g->mu[i % GW_OCSP_STRIPES]);
		return;
	}
	old = s->resp;
	memcpy(s->key, key, GW_OCSP_KEY_LEN);
	s->gen = gen;
	s->stale_at = stale_at;
	s->resp = gw_blob_ref(b);
	pthread_mutex_unlock(&g->mu[i % GW_OCSP_STRIPES]);
	gw_blob_unref(old);
}

void
gw_ocsp_cache_control(bool cacheable, int64_t next_update, int64_t now,
    char *out, size_t outlen)
{
	int64_t	 age = next_update - now;

	if (!cacheable) {
		snprintf(out, outlen, "no-store");
		return;
	}
	snprintf(out, outlen, "max-age=%" PRId64 ", public, no-transform, "
	    "must-revalidate", age > 0 ? age : 0);
}

/* -------------------------------------------------------- answers */

static void
reply_ocsp(struct gw_req *req, bool get, bool cacheable, int64_t next_update,
    int64_t now, const uint8_t *der, size_t len)
{
	char	 cc[GW_OCSP_CC_MAX];

	if (get) {
		gw_ocsp_cache_control(cacheable, next_update, now, cc,
		    sizeof(cc));
		gw_req_set_header(req, "Cache-Control", cc);
	}
	gw_req_reply(req, 200, GW_OCSP_RESP_TYPE, der, len);
}

/* An unsigned OCSP error status, or 500 when even that cannot be made. */
static void
reply_status(struct gw_req *req, bool get, enum ca_ocsp_status st,
    const char *why)
{
	uint8_t		*der = NULL;
	size_t		 len = 0;

	cg_log_debug("event=ocsp status=%d why=\"%s\"", (int)st, why);
	if (ca_ocsp_error_der(st, &der, &len, NULL) != CG_OK) {
		gw_req_reply_text(req, 500, "cannot answer");
		return;
	}
	reply_ocsp(req, get, false, 0, 0, der, len);
	cg_free(der);
}

static void
answer(struct gw_req *req, struct gw_ocsp *g, const uint8_t *der,
    size_t len, bool get)
{
	struct ca_ocsp_result	 res;
	struct cg_err		 err = { 0 };
	struct ca_store		*st = gw_req_store(req);
	struct gw_blob		*b;
	uint8_t			 key[GW_OCSP_KEY_LEN];
	uint8_t			*out = NULL;
	size_t			 outlen = 0;
	unsigned int		 klen = 0;
	int64_t			 gen = 0, now = cg_now(), stale;
	enum cg_code		 rc;

	/* Read first: a revocation racing this answer retires it later. */
	if (ca_store_revocation_gen(st, &gen, &err) != CG_OK) {
		cg_log_err_struct(__func__, "ocsp_store", &err);
		reply_status(req, get, CA_OCSP_TRY_LATER, "store unavailable");
		return;
	}
	if (EVP_Digest(der, len, key, &klen, g->sha256, NULL) != 1 ||
	    klen != sizeof(key)) {
		reply_status(req, get, CA_OCSP_INTERNAL, "cannot hash");
		return;
	}
	b = cache_get(g, key, gen, now);
	if (b != NULL) {
		cg_log_debug("event=ocsp cached=1");
		reply_ocsp(req, get, true, b->next_update, now, b->data,
		    b->len);
		gw_blob_unref(b);
		return;
	}
	rc = ca_ocsp_respond(g->ocsp, st, der, len, now, &out, &outlen, &res,
	    &err);
	if (rc != CG_OK) {
		cg_log_err_struct(__func__, "ocsp_respond", &err);
		if (out == NULL)
			gw_req_reply_text(req, 500, "cannot answer");
		else
			reply_ocsp(req, get, false, 0, now, out, outlen);
		cg_free(out);
		return;
	}
	cg_log_debug("event=ocsp status=%d why=\"%s\" good=%u revoked=%u "
	    "unknown=%u nonce=%d cached=%d", (int)res.status,
	    res.why != NULL ? res.why : "", res.ngood, res.nrevoked,
	    res.nunknown, res.nonce, res.cacheable);
	if (res.cacheable) {
		b = gw_blob_new(out, outlen);
		if (b != NULL) {
			b->next_update = res.next_update;
			stale = now + (int64_t)g->validity_s / 2;
			if (stale > res.next_update)
				stale = res.next_update;
			cache_put(g, key, gen, stale, b);
			gw_blob_unref(b);
		}
	}
	reply_ocsp(req, get, res.cacheable, res.next_update, now, out, outlen);
	cg_free(out);
}

/* "application/ocsp-request", any case, parameters allowed. */
static bool
type_is_request(const char *ct)
{
	size_t	 n = sizeof(GW_OCSP_REQ_TYPE) - 1;

	return ct != NULL && strncasecmp(ct, GW_OCSP_REQ_TYPE, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

static void
post(struct gw_req *req, struct gw_ocsp *g)
{
	const uint8_t	*body;
	size_t		 len = 0;

	if (!type_is_request(gw_req_header(req, "Content-Type"))) {
		gw_req_reply_text(req, 415, "expected Content-Type "
		    GW_OCSP_REQ_TYPE);
		return;
	}
	body = gw_req_body(req, &len);
	if (len > CA_OCSP_REQ_MAX) {
		gw_req_reply_text(req, 413, "OCSP request too large");
		return;
	}
	answer(req, g, body, len, false);
}

static void
ocsp_post(struct gw_req *req, void *arg)
{
	post(req, arg);
}

/*
 * GET /ocsp/<request>: the path arrives percent-decoded, so what follows
 * the prefix is the base64 text, slashes included.  POST is accepted on
 * "/ocsp/" too, for clients configured with a trailing slash.
 */
static void
ocsp_prefix(struct gw_req *req, void *arg)
{
	struct gw_ocsp	*g = arg;
	const char	*b64 = gw_req_path(req) + strlen(GW_OCSP_PREFIX);
	uint8_t		*der = NULL;
	size_t		 len = 0;

	if (strcmp(gw_req_method(req), "POST") == 0) {
		if (*b64 != '\0') {
			gw_req_reply_text(req, 404, "POST to " GW_OCSP_PATH);
			return;
		}
		post(req, g);
		return;
	}
	if (*b64 == '\0' || cg_base64_decode(b64, strlen(b64), false,
	    CA_OCSP_REQ_MAX, &der, &len, NULL) != CG_OK || len == 0) {
		cg_free(der);
		reply_status(req, true, CA_OCSP_MALFORMED,
		    "bad base64 in path");
		return;
	}
	answer(req, g, der, len, true);
	cg_free(der);
}

/* ------------------------------------------------------- register */

enum cg_code
gw_ocsp_add(struct gw_server *srv, struct cg_err *err)
{
	struct gw_ocsp	*g = NULL;
	struct gw_route	 routes[2];
	enum cg_code	 rc;
	size_t		 i;

	if (pthread_once(&ctx_once, ctx_idx_init) != 0 || ctx_idx < 0)
		return cg_err_crypto(err, CG_EINTERNAL, "no SSL_CTX ex_data "
		    "index for OCSP");
	rc = ocsp_new(srv, &g, err);
	if (rc != CG_OK)
		return rc;
	if (SSL_CTX_set_ex_data(srv->ssl_ctx, ctx_idx, g) != 1) {
		ocsp_free(g);
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	}
	/* From here on the TLS context owns g. */
	routes[0] = (struct gw_route){ GW_OCSP_PATH, false,
	    GW_ON_HTTPS | GW_ON_HTTP, GW_M_POST, GW_CERT_IGNORE, ocsp_post,
	    g, false };
	routes[1] = (struct gw_route){ GW_OCSP_PREFIX, true,
	    GW_ON_HTTPS | GW_ON_HTTP, GW_M_GET | GW_M_POST, GW_CERT_IGNORE,
	    ocsp_prefix, g, false };
	for (i = 0; i < 2; i++) {
		rc = gw_route_add(srv, &routes[i], err);
		if (rc != CG_OK)
			return rc;
	}
	cg_log_info("event=ocsp_ready signer=%s validity_s=%u",
	    ca_ocsp_delegated(g->ocsp) ? "delegated" : "ca", g->validity_s);
	return CG_OK;
}
