/*
 * bench_acme.c - certgw-bench acme, the ACME (RFC 8555) load generator.
 * N client threads each make an ES256 account once, then loop over whole
 * issuances: newOrder for one DNS name, the authorization, a response to
 * its http-01 challenge, polling until the authorization is valid,
 * finalize with a pre-made CSR, polling until the order is valid, and the
 * certificate download.  The tool answers the http-01 challenges itself,
 * from a libevent HTTP server on its own thread, so the server under test
 * must resolve the order names to this machine.  It reports orders per
 * second, per-order latency (newOrder sent to certificate received) and
 * the time spent in each kind of request.  It measures any ACME server
 * (certgw, Pebble) the same way; it asserts nothing about speed.
 *
 * Threads and blocking libcurl handles rather than one event loop: an
 * ACME issuance is a chain of dependent requests with waits between them,
 * which reads best as straight-line code, and each client keeps its own
 * kept-alive connection as a real client would.
 */
#include <certgw/core.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

int	bench_acme_main(int argc, char **argv);

#define AB_CLIENTS_MAX		256	/* --concurrency ceiling */
#define AB_DURATION_MAX		3600	/* --duration/--warmup ceiling, s */
#define AB_POLL_MS_MAX		10000	/* --poll-ms ceiling */
#define AB_POOL_MAX		1024	/* --csr-pool ceiling */
#define AB_URL_MAX		2048	/* any URL we keep */
#define AB_NONCE_MAX		256	/* Replay-Nonce bytes */
#define AB_TOKEN_MAX		128	/* http-01 token bytes */
#define AB_THUMB_LEN		43	/* base64url of a SHA-256 */
#define AB_KEYAUTH_MAX		(AB_TOKEN_MAX + 1 + AB_THUMB_LEN) /* t.thumb */
#define AB_BODY_MAX		(256 * 1024)	/* response body bytes */
#define AB_DOMAIN_MAX		200	/* --domain length */
#define AB_NAME_MAX		253	/* one DNS name */
#define AB_LAT_MAX		(4u * 1024 * 1024) /* samples per client */
#define AB_ERR_KINDS		32	/* distinct error keys per client */
#define AB_ERR_KEY_MAX		64	/* one error key */
#define AB_POLL_TIMEOUT_MS	30000	/* give up polling one object */
#define AB_REQ_TIMEOUT_MS	30000	/* one HTTP exchange */
#define AB_CONNECT_TIMEOUT_MS	10000	/* one TCP + TLS connect */
#define AB_ERR_PAUSE_MS		100	/* after a failed order */
#define AB_H01_TIMEOUT_S	10	/* validator connection idle */
#define AB_COORD_BYTES		32	/* P-256 field element */
#define EX_USAGE_BENCH		2	/* exit code for bad usage */

#define AB_PROBLEM_PREFIX	"urn:ietf:params:acme:error:"
#define AB_H01_PREFIX		"/.well-known/acme-challenge/"

/* What each request is, for the per-request timings. */
enum ab_rq {
	RQ_DIRECTORY = 0,
	RQ_NONCE,
	RQ_ACCOUNT,
	RQ_ORDER,
	RQ_AUTHZ,
	RQ_CHALL,
	RQ_AUTHZ_POLL,
	RQ_FINALIZE,
	RQ_ORDER_POLL,
	RQ_CERT,
	RQ__MAX
};

static const char *const rq_names[RQ__MAX] = {
	"directory", "new_nonce", "new_account", "new_order", "authz",
	"challenge", "authz_poll", "finalize", "order_poll", "certificate",
};

struct ab_opts {
	const char	*directory;	/* --directory */
	const char	*cacert;	/* --cacert */
	const char	*domain;	/* --domain */
	const char	*h01_addr;	/* --http01-addr */
	uint64_t	 h01_port;	/* --http01-port */
	uint64_t	 concurrency;	/* --concurrency */
	uint64_t	 duration;	/* --duration, s */
	uint64_t	 warmup;	/* --warmup, s */
	uint64_t	 poll_ms;	/* --poll-ms */
	uint64_t	 pool;		/* --csr-pool, per client */
	bool		 json;		/* --json */
};

/* The last response of a client's handle. */
struct ab_resp {
	long		 status;	/* HTTP status; 0 none */
	struct cg_buf	 body;		/* bounded by AB_BODY_MAX */
	char		 location[AB_URL_MAX + 1];
	char		 nonce[AB_NONCE_MAX + 1];
	long		 retry_after;	/* seconds; -1 when absent */
	bool		 hdr_bad;	/* a header we keep was too long */
};

struct ab_rq_stat {
	uint64_t	 n;		/* requests in the window */
	uint64_t	 ns;		/* their total time */
	uint64_t	 max_ns;	/* the slowest */
};

struct ab_err_count {
	char		 key[AB_ERR_KEY_MAX];	/* "problem:badNonce", ... */
	uint64_t	 n;
};

struct ab_stats {
	uint64_t	 ok;		/* orders done in the window */
	uint64_t	 failed;	/* orders failed in the window */
	uint32_t	*lat_us;	/* latencies of ok orders */
	size_t		 nlat;		/* entries used */
	size_t		 caplat;	/* entries allocated */
	bool		 lat_capped;	/* AB_LAT_MAX reached */
	struct ab_rq_stat rq[RQ__MAX];	/* per request kind */
	uint64_t	 wait_ns;	/* slept between polls, ok orders */
	uint64_t	 authz_polls;	/* polls of ok orders */
	uint64_t	 order_polls;	/* polls of ok orders */
	uint64_t	 nonce_retries;	/* badNonce retried, window */
	struct ab_err_count err[AB_ERR_KINDS]; /* failed orders by cause */
	size_t		 nerr;		/* entries used */
	uint64_t	 err_other;	/* causes past AB_ERR_KINDS */
};

/* One pre-made CSR and the name it carries. */
struct ab_csr {
	char		 name[AB_NAME_MAX + 1];
	char		*b64;		/* base64url DER; owned */
};

/* An http-01 answer: one slot per client, which has one at a time. */
struct h01_slot {
	char		 token[AB_TOKEN_MAX + 1];	/* "" when unused */
	char		 keyauth[AB_KEYAUTH_MAX + 1];
};

struct h01 {
	pthread_mutex_t	 mu;		/* guards slots and counters */
	struct h01_slot	*slots;		/* concurrency entries */
	size_t		 nslots;
	struct event_base *base;	/* the server thread's loop */
	struct evhttp	*http;
	pthread_t	 th;
	bool		 running;	/* th was started */
	uint64_t	 served;	/* 200 answers */
	uint64_t	 unknown;	/* 404 answers */
};

struct ab;

struct ab_client {
	struct ab	*ab;		/* back pointer */
	unsigned	 idx;		/* also the http-01 slot */
	pthread_t	 th;
	CURL		*curl;
	struct curl_slist *hdr_jose;	/* Content-Type, no Expect */
	struct curl_slist *hdr_pem;	/* the same, plus Accept for certs */
	struct ab_resp	 r;		/* last response */
	EVP_PKEY	*key;		/* account key, P-256 */
	json_t		*jwk;		/* its public JWK */
	char		 thumb[AB_THUMB_LEN + 1]; /* RFC 7638, base64url */
	char		 kid[AB_URL_MAX + 1];	/* account URL */
	char		 nonce[AB_NONCE_MAX + 1]; /* next nonce; "" none */
	char		 u_nonce[AB_URL_MAX + 1]; /* directory: newNonce */
	char		 u_account[AB_URL_MAX + 1]; /* newAccount */
	char		 u_order[AB_URL_MAX + 1];   /* newOrder */
	struct ab_csr	*csrs;		/* pool */
	size_t		 ncsrs;
	size_t		 next;		/* round-robin cursor */
	bool		 in_window;	/* the current order started in it */
	bool		 setup_failed;
	char		 why[512];	/* this order's failure, for logs */
	struct ab_stats	 st;
};

struct ab {
	const struct ab_opts *o;
	struct ab_client *clients;	/* concurrency entries */
	struct h01	 h01;
	pthread_mutex_t	 gate_mu;	/* guards nready and go */
	pthread_cond_t	 gate_cv;
	size_t		 nready;	/* clients done with setup */
	bool		 go;		/* t_measure and t_end are set */
	atomic_bool	 stop;		/* no new orders */
	atomic_bool	 abort_setup;	/* a client could not set up */
	uint64_t	 t_measure;	/* ns, window start */
	uint64_t	 t_end;		/* ns, window end; set before go */
	uint64_t	 t_stop;	/* ns, end of what was measured */
	pthread_mutex_t	 log_mu;	/* guards first_err */
	char		 first_err[600]; /* first failed order, for logs */
};

static volatile sig_atomic_t	ab_signalled;

/* ------------------------------------------------------------- helpers */

static void
sleep_ms(uint64_t ms)
{
	struct timespec	ts = { (time_t)(ms / 1000),
			    (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
on_signal(int sig)
{
	ab_signalled = 1;
}

static bool
parse_num(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return cg_parse_u64(s, strlen(s), max, out) && *out >= min;
}

/* A fresh base64url string of n bytes; NULL when out of memory. */
static char *
b64url_new(const uint8_t *in, size_t n)
{
	char	*s;

	s = cg_malloc((n + 2) / 3 * 4 + 1);
	if (s != NULL)
		cg_base64_encode_to(in, n, s, true);
	return s;
}

/* Tokens and nonces are base64url (RFC 8555 §8.3, §6.5.1). */
static bool
is_b64url(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_'))
			return false;
	return n > 0;
}

/* Copy a string that must fit; false (and dst "") when it does not. */
static bool
copy_str(char *dst, size_t cap, const char *src)
{
	size_t	n = src != NULL ? strlen(src) : cap;

	if (n >= cap) {
		dst[0] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

/* ------------------------------------------------------------ options */

static void
ab_usage(FILE *f)
{
	fprintf(f,
"usage: certgw-bench acme --directory https://HOST:PORT/PATH --cacert FILE\n"
"           [--concurrency N] [--duration S] [--warmup S]\n"
"           [--http01-port P] [--http01-addr ADDR] [--poll-ms MS]\n"
"           [--csr-pool N] [--domain D] [--json]\n"
"\n"
"  --directory URL      the ACME directory\n"
"  --cacert FILE        trust anchors for the server certificate\n"
"  --concurrency N      client threads, 1..%d (default 16)\n"
"  --duration S         measured seconds (default 20)\n"
"  --warmup S           unmeasured seconds first (default 3)\n"
"  --http01-port P      where the validator finds the tool's http-01\n"
"                       answers (default 5002)\n"
"  --http01-addr ADDR   the address that server binds (default 127.0.0.1)\n"
"  --poll-ms MS         longest wait between polls; a shorter Retry-After\n"
"                       wins (default 50)\n"
"  --csr-pool N         CSRs per client made before the run, one name\n"
"                       each (C-I.DOMAIN), used in turn (default 32)\n"
"  --domain D           the names' parent domain (default bench.test);\n"
"                       the server's resolver must send them here\n"
"  --json               one JSON object instead of key=value lines\n",
	    AB_CLIENTS_MAX);
}

static int
ab_opts_parse(int argc, char **argv, struct ab_opts *o)
{
	static const struct option lo[] = {
		{ "directory", required_argument, NULL, 'D' },
		{ "cacert", required_argument, NULL, 'A' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "http01-port", required_argument, NULL, 'p' },
		{ "http01-addr", required_argument, NULL, 'a' },
		{ "poll-ms", required_argument, NULL, 'P' },
		{ "csr-pool", required_argument, NULL, 'n' },
		{ "domain", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch;
	bool	ok = true;

	*o = (struct ab_opts){ .domain = "bench.test",
	    .h01_addr = "127.0.0.1", .h01_port = 5002, .concurrency = 16,
	    .duration = 20, .warmup = 3, .poll_ms = 50, .pool = 32 };
	optind = 1;
	while (ok && (ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'D': o->directory = optarg; break;
		case 'A': o->cacert = optarg; break;
		case 'c': ok = parse_num(optarg, 1, AB_CLIENTS_MAX,
		    &o->concurrency); break;
		case 'd': ok = parse_num(optarg, 1, AB_DURATION_MAX,
		    &o->duration); break;
		case 'w': ok = parse_num(optarg, 0, AB_DURATION_MAX,
		    &o->warmup); break;
		case 'p': ok = parse_num(optarg, 1, 65535, &o->h01_port);
		    break;
		case 'a': o->h01_addr = optarg; break;
		case 'P': ok = parse_num(optarg, 0, AB_POLL_MS_MAX,
		    &o->poll_ms); break;
		case 'n': ok = parse_num(optarg, 1, AB_POOL_MAX, &o->pool);
		    break;
		case 'N': o->domain = optarg; break;
		case 'j': o->json = true; break;
		case 'h': ab_usage(stdout); return 1;
		default: ok = false; break;
		}
	}
	if (ok && (o->directory == NULL || o->cacert == NULL)) {
		fprintf(stderr, "certgw-bench: --directory and --cacert are "
		    "required\n");
		ok = false;
	}
	if (ok && (strncasecmp(o->directory, "https://", 8) != 0 ||
	    strlen(o->directory) > AB_URL_MAX)) {
		fprintf(stderr, "certgw-bench: --directory must be an "
		    "https:// URL of at most %d bytes\n", AB_URL_MAX);
		ok = false;
	}
	if (ok && (strlen(o->domain) == 0 ||
	    strlen(o->domain) > AB_DOMAIN_MAX ||
	    strspn(o->domain, "abcdefghijklmnopqrstuvwxyz0123456789-.") !=
	    strlen(o->domain))) {
		fprintf(stderr, "certgw-bench: --domain must be a lower-case "
		    "DNS name of at most %d bytes\n", AB_DOMAIN_MAX);
		ok = false;
	}
	if (!ok || optind != argc) {
		ab_usage(stderr);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------- http-01 responder */

static void
h01_request_cb(struct evhttp_request *req, void *arg)
{
	struct h01		*h = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = uri != NULL ?
				    evhttp_uri_get_path(uri) : NULL;
	const char		*tok;
	char			 ka[AB_KEYAUTH_MAX + 1];
	struct evbuffer		*out;
	size_t			 i, n;

	ka[0] = '\0';
	if (path != NULL && strncmp(path, AB_H01_PREFIX,
	    sizeof(AB_H01_PREFIX) - 1) == 0) {
		tok = path + sizeof(AB_H01_PREFIX) - 1;
		n = strlen(tok);
		if (n <= AB_TOKEN_MAX && is_b64url(tok, n)) {
			pthread_mutex_lock(&h->mu);
			for (i = 0; i < h->nslots; i++)
				if (strcmp(h->slots[i].token, tok) == 0) {
					memcpy(ka, h->slots[i].keyauth,
					    sizeof(ka));
					break;
				}
			pthread_mutex_unlock(&h->mu);
		}
	}
	if (ka[0] == '\0') {
		pthread_mutex_lock(&h->mu);
		h->unknown++;
		pthread_mutex_unlock(&h->mu);
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	out = evhttp_request_get_output_buffer(req);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/octet-stream");
	if (evbuffer_add(out, ka, strlen(ka)) != 0) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	pthread_mutex_lock(&h->mu);
	h->served++;
	pthread_mutex_unlock(&h->mu);
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

static void *
h01_thread(void *arg)
{
	struct h01	*h = arg;

	event_base_dispatch(h->base);
	return NULL;
}

static enum cg_code
h01_start(struct h01 *h, const struct ab_opts *o, struct cg_err *err)
{
	h->nslots = (size_t)o->concurrency;
	h->slots = cg_calloc(h->nslots, sizeof(*h->slots));
	if (h->slots == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	/* The main thread breaks the loop at the end. */
	if (evthread_use_pthreads() != 0)
		return cg_err_set(err, CG_EINTERNAL, "no libevent threads");
	h->base = event_base_new();
	if (h->base == NULL ||
	    (h->http = evhttp_new(h->base)) == NULL)
		return cg_err_set(err, CG_ENOMEM, "cannot make the server");
	evhttp_set_gencb(h->http, h01_request_cb, h);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(h->http, 8192);
	evhttp_set_max_body_size(h->http, 0);
	evhttp_set_timeout(h->http, AB_H01_TIMEOUT_S);
	if (evhttp_bind_socket_with_handle(h->http, o->h01_addr,
	    (ev_uint16_t)o->h01_port) == NULL) {
		cg_err_set(err, CG_EIO, "cannot listen for http-01");
		cg_err_detail(err, "%s:%u: %s", o->h01_addr,
		    (unsigned)o->h01_port, strerror(EVUTIL_SOCKET_ERROR()));
		return CG_EIO;
	}
	if (pthread_create(&h->th, NULL, h01_thread, h) != 0)
		return cg_err_set(err, CG_EINTERNAL, "cannot start a thread");
	h->running = true;
	return CG_OK;
}

static void
h01_stop(struct h01 *h)
{
	if (h->running) {
		event_base_loopbreak(h->base);
		pthread_join(h->th, NULL);
		h->running = false;
	}
	if (h->http != NULL)
		evhttp_free(h->http);
	if (h->base != NULL)
		event_base_free(h->base);
	cg_free(h->slots);
}

static void
h01_set(struct h01 *h, unsigned slot, const char *token, const char *ka)
{
	pthread_mutex_lock(&h->mu);
	copy_str(h->slots[slot].token, sizeof(h->slots[slot].token), token);
	copy_str(h->slots[slot].keyauth, sizeof(h->slots[slot].keyauth), ka);
	pthread_mutex_unlock(&h->mu);
}

/* --------------------------------------------------------- crypto */

/* The account's public JWK and its RFC 7638 thumbprint. */
static enum cg_code
jwk_make(struct ab_client *c, struct cg_err *err)
{
	uint8_t		 pt[1 + 2 * AB_COORD_BYTES], md[32];
	char		 x[48], y[48], canon[160];
	size_t		 len = 0;
	unsigned int	 mdlen = 0;

	if (EVP_PKEY_get_octet_string_param(c->key,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &len) != 1 ||
	    len != sizeof(pt) || pt[0] != 0x04)
		return cg_err_crypto(err, CG_ECRYPTO, "no public point");
	cg_base64_encode_to(pt + 1, AB_COORD_BYTES, x, true);
	cg_base64_encode_to(pt + 1 + AB_COORD_BYTES, AB_COORD_BYTES, y, true);
	/* Members in lexicographic order, no spaces (RFC 7638 §3.2). */
	snprintf(canon, sizeof(canon),
	    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
	    x, y);
	if (EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != sizeof(md))
		return cg_err_crypto(err, CG_ECRYPTO, "SHA-256 failed");
	cg_base64_encode_to(md, sizeof(md), c->thumb, true);
	c->jwk = json_pack("{s:s, s:s, s:s, s:s}", "crv", "P-256",
	    "kty", "EC", "x", x, "y", y);
	if (c->jwk == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

/* ES256 over in: the raw r || s of RFC 7518 §3.4, base64url. */
static char *
es256_sign(EVP_PKEY *key, const char *in, size_t len)
{
	EVP_MD_CTX		*ctx;
	ECDSA_SIG		*sig = NULL;
	const BIGNUM		*r, *s;
	uint8_t			 der[80], raw[2 * AB_COORD_BYTES];
	const unsigned char	*p = der;
	size_t			 dlen = sizeof(der);
	char			*out = NULL;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return NULL;
	if (EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, key,
	    NULL) != 1 ||
	    EVP_DigestSign(ctx, der, &dlen, (const uint8_t *)in, len) != 1)
		goto out;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	if (sig == NULL)
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, raw, AB_COORD_BYTES) != AB_COORD_BYTES ||
	    BN_bn2binpad(s, raw + AB_COORD_BYTES, AB_COORD_BYTES) !=
	    AB_COORD_BYTES)
		goto out;
	out = b64url_new(raw, sizeof(raw));
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
	return out;
}

/* A CSR for one DNS name, no subject, signed by key; base64url DER. */
static char *
csr_make(EVP_PKEY *key, const char *name)
{
	X509_REQ			*req;
	X509_EXTENSION			*ext = NULL;
	STACK_OF(X509_EXTENSION)	*exts = NULL;
	char				 san[AB_NAME_MAX + 8];
	unsigned char			*der = NULL;
	int				 len;
	char				*out = NULL;

	req = X509_REQ_new();
	if (req == NULL)
		return NULL;
	snprintf(san, sizeof(san), "DNS:%s", name);
	if (X509_REQ_set_version(req, 0) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 ||
	    (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	    san)) == NULL ||
	    (exts = sk_X509_EXTENSION_new_null()) == NULL ||
	    sk_X509_EXTENSION_push(exts, ext) == 0)
		goto out;
	ext = NULL;			/* exts owns it */
	if (X509_REQ_add_extensions(req, exts) != 1 ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
	    (len = i2d_X509_REQ(req, &der)) <= 0)
		goto out;
	out = b64url_new(der, (size_t)len);
out:
	OPENSSL_free(der);
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return out;
}

/* ------------------------------------------------------- statistics */

static void
rq_record(struct ab_client *c, enum ab_rq rq, uint64_t t0)
{
	struct ab_rq_stat	*s = &c->st.rq[rq];
	uint64_t		 d = cg_mono_ns() - t0;

	if (!c->in_window)
		return;
	s->n++;
	s->ns += d;
	if (d > s->max_ns)
		s->max_ns = d;
}

static void
lat_add(struct ab_stats *st, uint64_t ns)
{
	uint32_t	*n;
	size_t		 cap;
	uint64_t	 us = ns / 1000;

	if (st->nlat == st->caplat) {
		if (st->caplat >= AB_LAT_MAX) {
			st->lat_capped = true;
			return;
		}
		cap = st->caplat == 0 ? 4096 : st->caplat * 2;
		n = cg_realloc(st->lat_us, cap * sizeof(*n));
		if (n == NULL) {
			st->lat_capped = true;
			return;
		}
		st->lat_us = n;
		st->caplat = cap;
	}
	st->lat_us[st->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void
err_count(struct ab_stats *st, const char *key, uint64_t n)
{
	size_t	i;

	for (i = 0; i < st->nerr; i++)
		if (strcmp(st->err[i].key, key) == 0) {
			st->err[i].n += n;
			return;
		}
	if (st->nerr == AB_ERR_KINDS) {
		st->err_other += n;
		return;
	}
	copy_str(st->err[st->nerr].key, sizeof(st->err[0].key), key);
	st->err[st->nerr++].n = n;
}

/*
 * An order failed: count it under key (only inside the window) and keep
 * the first detail for the log.
 */
static void
order_fail(struct ab_client *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
order_fail(struct ab_client *c, const char *key, const char *fmt, ...)
{
	struct ab	*ab = c->ab;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	if (c->in_window && cg_mono_ns() < ab->t_end) {
		c->st.failed++;
		err_count(&c->st, key, 1);
	}
	pthread_mutex_lock(&ab->log_mu);
	if (ab->first_err[0] == '\0')
		snprintf(ab->first_err, sizeof(ab->first_err),
		    "client %u: %s: %s", c->idx, key, c->why);
	pthread_mutex_unlock(&ab->log_mu);
}

/* ------------------------------------------------------------- HTTP */

/* "Name: value\r\n" header lines; keeps the few an ACME client needs. */
static size_t
hdr_cb(char *line, size_t size, size_t n, void *arg)
{
	struct ab_resp	*r = arg;
	size_t		 len = size * n, nl, vl;
	const char	*colon, *v;
	char		*dst = NULL;
	size_t		 cap = 0;
	uint64_t	 ra;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after a 1xx): forget the previous one. */
		r->location[0] = r->nonce[0] = '\0';
		r->retry_after = -1;
		return len;
	}
	colon = memchr(line, ':', len);
	if (colon == NULL)
		return len;
	nl = (size_t)(colon - line);
	v = colon + 1;
	vl = len - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' ||
	    v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (nl == 12 && strncasecmp(line, "Replay-Nonce", nl) == 0) {
		dst = r->nonce;
		cap = sizeof(r->nonce);
		if (!is_b64url(v, vl))
			vl = cap;	/* refused below */
	} else if (nl == 8 && strncasecmp(line, "Location", nl) == 0) {
		dst = r->location;
		cap = sizeof(r->location);
	} else if (nl == 11 && strncasecmp(line, "Retry-After", nl) == 0) {
		/* Seconds only; an HTTP-date falls back to --poll-ms. */
		if (cg_parse_u64(v, vl, 86400, &ra))
			r->retry_after = (long)ra;
		return len;
	} else
		return len;
	if (vl >= cap) {
		r->hdr_bad = true;
		dst[0] = '\0';
		return len;
	}
	memcpy(dst, v, vl);
	dst[vl] = '\0';
	return len;
}

static size_t
body_cb(char *p, size_t size, size_t n, void *arg)
{
	struct ab_resp	*r = arg;

	/* Over AB_BODY_MAX: a short count makes curl fail the transfer. */
	if (cg_buf_add(&r->body, p, size * n, NULL) != CG_OK)
		return 0;
	return size * n;
}

static enum cg_code
client_curl(struct ab_client *c, struct cg_err *err)
{
	const struct ab_opts	*o = c->ab->o;
	CURL			*h;

	cg_buf_init(&c->r.body, AB_BODY_MAX);
	c->hdr_jose = curl_slist_append(NULL,
	    "Content-Type: application/jose+json");
	/* Else curl waits for a 100 before sending a larger body. */
	if (c->hdr_jose != NULL)
		c->hdr_jose = curl_slist_append(c->hdr_jose, "Expect:");
	c->hdr_pem = curl_slist_append(NULL,
	    "Content-Type: application/jose+json");
	if (c->hdr_pem != NULL)
		c->hdr_pem = curl_slist_append(c->hdr_pem, "Expect:");
	if (c->hdr_pem != NULL)
		c->hdr_pem = curl_slist_append(c->hdr_pem,
		    "Accept: application/pem-certificate-chain");
	h = c->curl = curl_easy_init();
	if (c->hdr_jose == NULL || c->hdr_pem == NULL || h == NULL)
		return cg_err_set(err, CG_ENOMEM, "cannot make a curl handle");
	/*
	 * HTTP/1.1 on one kept-alive connection for every server, so that
	 * certgw and Pebble (which would offer HTTP/2) are driven alike.
	 */
	if (curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CAINFO, o->cacert) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	    (long)AB_REQ_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)AB_CONNECT_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, hdr_cb) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c->r) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->r) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "certgw-bench-acme") !=
	    CURLE_OK)
		return cg_err_set(err, CG_EINTERNAL, "curl refused an option");
	return CG_OK;
}

enum ab_method {
	M_GET = 0,
	M_HEAD,
	M_POST
};

/*
 * One exchange.  Returns false on a transport failure (recorded as the
 * order's failure); HTTP errors are the caller's to judge.  The response's
 * Replay-Nonce, if any, becomes the next nonce.
 */
static bool
http_do(struct ab_client *c, enum ab_rq rq, enum ab_method m,
    const char *url, const char *body, bool pem)
{
	struct ab_resp	*r = &c->r;
	CURL		*h = c->curl;
	CURLcode	 cc;
	uint64_t	 t0;
	char		 key[AB_ERR_KEY_MAX];

	cg_buf_reset(&r->body);
	r->status = 0;
	r->location[0] = r->nonce[0] = '\0';
	r->retry_after = -1;
	r->hdr_bad = false;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, pem ? c->hdr_pem : c->hdr_jose);
	switch (m) {
	case M_GET:
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		break;
	case M_HEAD:
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		break;
	case M_POST:
		curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(body));
		break;
	}
	t0 = cg_mono_ns();
	cc = curl_easy_perform(h);
	rq_record(c, rq, t0);
	if (m == M_HEAD)	/* the handle is reused for POSTs */
		curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
	if (cc != CURLE_OK) {
		c->nonce[0] = '\0';
		snprintf(key, sizeof(key), "transport:%s", rq_names[rq]);
		order_fail(c, key, "%s %s: %s", rq_names[rq], url,
		    curl_easy_strerror(cc));
		return false;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->nonce[0] != '\0')
		memcpy(c->nonce, r->nonce, sizeof(c->nonce));
	else
		c->nonce[0] = '\0';
	return true;
}

/* The response body as JSON, or NULL. */
static json_t *
resp_json(struct ab_client *c)
{
	if (c->r.body.len == 0)
		return NULL;
	return json_loadb((const char *)c->r.body.data, c->r.body.len, 0,
	    NULL);
}

/* The problem type's last part ("badNonce"), or "" when there is none. */
static void
problem_type(const json_t *j, char *out, size_t cap)
{
	const char	*t = json_string_value(json_object_get(j, "type"));

	out[0] = '\0';
	if (t == NULL)
		return;
	if (strncmp(t, AB_PROBLEM_PREFIX, sizeof(AB_PROBLEM_PREFIX) - 1) == 0)
		t += sizeof(AB_PROBLEM_PREFIX) - 1;
	snprintf(out, cap, "%.*s", (int)strcspn(t, " \t\r\n"), t);
}

/* Record a non-2xx answer as the order's failure. */
static void
http_fail(struct ab_client *c, enum ab_rq rq)
{
	json_t		*j = resp_json(c);
	char		 type[40], key[AB_ERR_KEY_MAX];
	const char	*detail;

	problem_type(j, type, sizeof(type));
	detail = json_string_value(json_object_get(j, "detail"));
	if (type[0] != '\0')
		snprintf(key, sizeof(key), "problem:%s", type);
	else
		snprintf(key, sizeof(key), "http:%ld", c->r.status);
	order_fail(c, key, "%s: HTTP %ld%s%s", rq_names[rq], c->r.status,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	json_decref(j);
}

/* A fresh nonce from newNonce (HEAD, §7.2). */
static bool
nonce_get(struct ab_client *c)
{
	if (!http_do(c, RQ_NONCE, M_HEAD, c->u_nonce, NULL, false))
		return false;
	if (c->nonce[0] == '\0') {
		order_fail(c, "protocol:new_nonce", "newNonce (HTTP %ld) "
		    "gave no usable Replay-Nonce", c->r.status);
		return false;
	}
	return true;
}

/* The flattened JWS of payload (NULL: POST-as-GET) for url. */
static char *
jws_make(struct ab_client *c, const char *url, const json_t *payload)
{
	json_t	*prot, *jws = NULL;
	char	*ps = NULL, *pl = NULL, *pb = NULL, *plb = NULL;
	char	*input = NULL, *sig = NULL, *out = NULL;

	if (c->kid[0] != '\0')
		prot = json_pack("{s:s, s:s, s:s, s:s}", "alg", "ES256",
		    "kid", c->kid, "nonce", c->nonce, "url", url);
	else
		prot = json_pack("{s:s, s:O, s:s, s:s}", "alg", "ES256",
		    "jwk", c->jwk, "nonce", c->nonce, "url", url);
	if (prot == NULL || (ps = json_dumps(prot, JSON_COMPACT)) == NULL)
		goto out;
	if (payload != NULL &&
	    (pl = json_dumps(payload, JSON_COMPACT)) == NULL)
		goto out;
	pb = b64url_new((const uint8_t *)ps, strlen(ps));
	plb = pl != NULL ? b64url_new((const uint8_t *)pl, strlen(pl)) :
	    cg_strdup("");
	if (pb == NULL || plb == NULL ||
	    (input = cg_asprintf("%s.%s", pb, plb)) == NULL ||
	    (sig = es256_sign(c->key, input, strlen(input))) == NULL)
		goto out;
	jws = json_pack("{s:s, s:s, s:s}", "protected", pb, "payload", plb,
	    "signature", sig);
	if (jws != NULL)
		out = json_dumps(jws, JSON_COMPACT);
out:
	json_decref(prot);
	json_decref(jws);
	cg_free(ps);
	cg_free(pl);
	cg_free(pb);
	cg_free(plb);
	cg_free(input);
	cg_free(sig);
	return out;
}

/*
 * A signed POST.  Retries once when the server says badNonce (§6.5: the
 * error carries a fresh nonce).  Returns the parsed JSON body of a 2xx
 * answer in *jp (NULL for the certificate, whose body stays in c->r), or
 * false with the failure recorded.
 */
static bool
acme_post(struct ab_client *c, enum ab_rq rq, const char *url,
    const json_t *payload, json_t **jp)
{
	json_t	*j;
	char	*body, type[40];
	int	 attempt;
	bool	 pem = rq == RQ_CERT;

	if (jp != NULL)
		*jp = NULL;
	for (attempt = 0; attempt < 2; attempt++) {
		if (c->nonce[0] == '\0' && !nonce_get(c))
			return false;
		body = jws_make(c, url, payload);
		if (body == NULL) {
			order_fail(c, "local:jws", "cannot build a JWS");
			return false;
		}
		if (!http_do(c, rq, M_POST, url, body, pem)) {
			cg_free(body);
			return false;
		}
		cg_free(body);
		if (c->r.status >= 200 && c->r.status < 300)
			break;
		j = resp_json(c);
		problem_type(j, type, sizeof(type));
		json_decref(j);
		if (attempt == 0 && strcmp(type, "badNonce") == 0) {
			if (c->in_window)
				c->st.nonce_retries++;
			continue;
		}
		http_fail(c, rq);
		return false;
	}
	if (c->r.status < 200 || c->r.status >= 300) {
		http_fail(c, rq);
		return false;
	}
	if (pem || jp == NULL)
		return true;
	*jp = resp_json(c);
	if (*jp == NULL || !json_is_object(*jp)) {
		json_decref(*jp);
		*jp = NULL;
		order_fail(c, "protocol:bad_json", "%s: HTTP %ld with a body "
		    "that is not a JSON object", rq_names[rq], c->r.status);
		return false;
	}
	return true;
}

/* A string member that is a URL we can keep, or NULL after failing. */
static const char *
json_url(struct ab_client *c, const json_t *j, const char *member,
    const char *what)
{
	const char	*s = json_string_value(json_object_get(j, member));
	char		 key[AB_ERR_KEY_MAX];

	if (s != NULL && strlen(s) <= AB_URL_MAX &&
	    strncasecmp(s, "https://", 8) == 0)
		return s;
	snprintf(key, sizeof(key), "protocol:%s", what);
	order_fail(c, key, "%s: no usable \"%s\"", what, member);
	return NULL;
}

/* ------------------------------------------------------ one client */

/* The directory, then the account (§7.1.1, §7.3); untimed setup. */
static bool
client_setup(struct ab_client *c)
{
	const struct ab_opts	*o = c->ab->o;
	json_t			*dir, *p, *acct = NULL;
	const char		*u;
	bool			 ok = false;

	if (!http_do(c, RQ_DIRECTORY, M_GET, o->directory, NULL, false))
		return false;
	if (c->r.status != 200 || (dir = resp_json(c)) == NULL) {
		order_fail(c, "setup:directory", "directory: HTTP %ld",
		    c->r.status);
		return false;
	}
	if ((u = json_url(c, dir, "newNonce", "directory")) == NULL ||
	    !copy_str(c->u_nonce, sizeof(c->u_nonce), u) ||
	    (u = json_url(c, dir, "newAccount", "directory")) == NULL ||
	    !copy_str(c->u_account, sizeof(c->u_account), u) ||
	    (u = json_url(c, dir, "newOrder", "directory")) == NULL ||
	    !copy_str(c->u_order, sizeof(c->u_order), u))
		goto out;
	p = json_pack("{s:b}", "termsOfServiceAgreed", 1);
	if (p == NULL)
		goto out;
	ok = acme_post(c, RQ_ACCOUNT, c->u_account, p, &acct);
	json_decref(p);
	json_decref(acct);
	if (ok && !copy_str(c->kid, sizeof(c->kid), c->r.location)) {
		order_fail(c, "setup:account", "newAccount: no Location");
		ok = false;
	}
out:
	json_decref(dir);
	return ok;
}

static const char *
status_of(const json_t *j)
{
	const char	*s = json_string_value(json_object_get(j, "status"));

	return s != NULL ? s : "";
}

/*
 * The first problem detail in an invalid object: the order's "error" or a
 * challenge's (§7.1.6), as ": detail" for the log, or "".
 */
static const char *
why_invalid(const json_t *j)
{
	static __thread char	 buf[300];
	const json_t		*e = json_object_get(j, "error"), *x;
	const char		*d;
	size_t			 i;

	json_array_foreach(json_object_get(j, "challenges"), i, x)
		if (e == NULL)
			e = json_object_get(x, "error");
	d = json_string_value(json_object_get(e, "detail"));
	if (d == NULL)
		return "";
	snprintf(buf, sizeof(buf), ": %s", d);
	return buf;
}

/*
 * POST-as-GET url until its status is want.  Each wait is the response's
 * Retry-After, but never more than --poll-ms.  *jp gets the last JSON.
 */
static bool
poll_until(struct ab_client *c, enum ab_rq rq, const char *url,
    const char *want, long first_ra, uint64_t *waited, uint64_t *polls,
    json_t **jp)
{
	const struct ab_opts	*o = c->ab->o;
	uint64_t		 deadline = cg_mono_ns() +
				    (uint64_t)AB_POLL_TIMEOUT_MS * 1000000;
	uint64_t		 ms, t0;
	long			 ra = first_ra;
	json_t			*j;
	const char		*st;
	char			 key[AB_ERR_KEY_MAX];

	*jp = NULL;
	for (;;) {
		ms = o->poll_ms;
		if (ra >= 0 && (uint64_t)ra * 1000 < ms)
			ms = (uint64_t)ra * 1000;
		if (cg_mono_ns() > deadline) {
			snprintf(key, sizeof(key), "timeout:%s", rq_names[rq]);
			order_fail(c, key, "%s: not %s after %d ms",
			    rq_names[rq], want, AB_POLL_TIMEOUT_MS);
			return false;
		}
		t0 = cg_mono_ns();
		sleep_ms(ms);
		*waited += cg_mono_ns() - t0;
		(*polls)++;
		if (!acme_post(c, rq, url, NULL, &j))
			return false;
		st = status_of(j);
		if (strcmp(st, want) == 0) {
			*jp = j;
			return true;
		}
		if (strcmp(st, "pending") != 0 &&
		    strcmp(st, "processing") != 0 &&
		    strcmp(st, "ready") != 0) {
			snprintf(key, sizeof(key), "%s:%s",
			    rq == RQ_AUTHZ_POLL ? "authz" : "order",
			    st[0] != '\0' ? st : "no_status");
			order_fail(c, key, "%s: status \"%s\"%s", rq_names[rq],
			    st, why_invalid(j));
			json_decref(j);
			return false;
		}
		ra = c->r.retry_after;
		json_decref(j);
	}
}

/* The http-01 challenge of an authorization: its URL and token. */
static bool
authz_http01(struct ab_client *c, const json_t *az, char *url, char *tok)
{
	const json_t	*ch = json_object_get(az, "challenges"), *x;
	const char	*u, *t;
	size_t		 i;

	json_array_foreach(ch, i, x) {
		t = json_string_value(json_object_get(x, "type"));
		if (t == NULL || strcmp(t, "http-01") != 0)
			continue;
		u = json_string_value(json_object_get(x, "url"));
		t = json_string_value(json_object_get(x, "token"));
		if (u == NULL || t == NULL || strlen(t) > AB_TOKEN_MAX ||
		    !is_b64url(t, strlen(t)) ||
		    !copy_str(url, AB_URL_MAX + 1, u))
			break;
		memcpy(tok, t, strlen(t) + 1);
		return true;
	}
	order_fail(c, "protocol:authz", "authz: no usable http-01 challenge");
	return false;
}

/* What one order keeps between its steps. */
struct ab_order {
	char		 url[AB_URL_MAX + 1];		/* Location */
	char		 authz[AB_URL_MAX + 1];
	char		 finalize[AB_URL_MAX + 1];
	char		 chall[AB_URL_MAX + 1];
	char		 token[AB_TOKEN_MAX + 1];
	char		 cert[AB_URL_MAX + 1];
	uint64_t	 waited;	/* ns slept polling */
	uint64_t	 apolls, opolls;
};

/* newOrder for the CSR's name; its authorization, finalize and URL. */
static bool
step_order(struct ab_client *c, const struct ab_csr *csr, struct ab_order *w)
{
	json_t		*p, *j = NULL;
	const json_t	*az;
	const char	*u;
	bool		 ok = false;

	p = json_pack("{s:[{s:s, s:s}]}", "identifiers", "type", "dns",
	    "value", csr->name);
	if (p == NULL) {
		order_fail(c, "local:memory", "out of memory");
		return false;
	}
	if (!acme_post(c, RQ_ORDER, c->u_order, p, &j))
		goto out;
	az = json_object_get(j, "authorizations");
	if (!copy_str(w->url, sizeof(w->url), c->r.location) ||
	    !json_is_array(az) || json_array_size(az) != 1 ||
	    (u = json_string_value(json_array_get(az, 0))) == NULL ||
	    !copy_str(w->authz, sizeof(w->authz), u) ||
	    (u = json_url(c, j, "finalize", "new_order")) == NULL ||
	    !copy_str(w->finalize, sizeof(w->finalize), u)) {
		if (c->why[0] == '\0')
			order_fail(c, "protocol:new_order", "newOrder: no "
			    "Location, one authorization or finalize");
		goto out;
	}
	ok = true;
out:
	json_decref(p);
	json_decref(j);
	return ok;
}

/* The authorization, the answer in place, the response, valid. */
static bool
step_authz(struct ab_client *c, struct ab_order *w)
{
	json_t		*j = NULL, *p;
	char		 ka[AB_KEYAUTH_MAX + 1];
	const char	*st;
	long		 ra;
	bool		 ok = false;

	if (!acme_post(c, RQ_AUTHZ, w->authz, NULL, &j))
		return false;
	st = status_of(j);
	if (strcmp(st, "valid") == 0) {
		/* Reused: the server under test was not told not to. */
		json_decref(j);
		return true;
	}
	if (!authz_http01(c, j, w->chall, w->token))
		goto out;
	json_decref(j);
	j = NULL;
	snprintf(ka, sizeof(ka), "%s.%s", w->token, c->thumb);
	h01_set(&c->ab->h01, c->idx, w->token, ka);
	/* §7.5.1: the response is the empty object. */
	p = json_object();
	if (p == NULL) {
		order_fail(c, "local:memory", "out of memory");
		goto out;
	}
	ok = acme_post(c, RQ_CHALL, w->chall, p, &j);
	json_decref(p);
	if (!ok)
		goto out;
	ra = c->r.retry_after;
	st = status_of(j);
	if (strcmp(st, "valid") != 0) {
		json_decref(j);
		j = NULL;
		ok = poll_until(c, RQ_AUTHZ_POLL, w->authz, "valid", ra,
		    &w->waited, &w->apolls, &j);
	}
out:
	h01_set(&c->ab->h01, c->idx, "", "");
	json_decref(j);
	return ok;
}

/* finalize with the CSR, the order valid, its certificate URL. */
static bool
step_finalize(struct ab_client *c, const struct ab_csr *csr,
    struct ab_order *w)
{
	json_t		*p, *j = NULL, *v = NULL;
	const char	*u;
	bool		 ok;

	p = json_pack("{s:s}", "csr", csr->b64);
	if (p == NULL) {
		order_fail(c, "local:memory", "out of memory");
		return false;
	}
	ok = acme_post(c, RQ_FINALIZE, w->finalize, p, &j);
	json_decref(p);
	if (!ok)
		return false;
	if (strcmp(status_of(j), "valid") != 0) {
		ok = poll_until(c, RQ_ORDER_POLL, w->url, "valid",
		    c->r.retry_after, &w->waited, &w->opolls, &v);
		json_decref(j);
		j = v;
		if (!ok)
			return false;
	}
	ok = (u = json_url(c, j, "certificate", "order")) != NULL &&
	    copy_str(w->cert, sizeof(w->cert), u);
	json_decref(j);
	return ok;
}

static bool
step_cert(struct ab_client *c, struct ab_order *w)
{
	if (!acme_post(c, RQ_CERT, w->cert, NULL, NULL))
		return false;
	if (c->r.body.len == 0 || strstr((const char *)c->r.body.data,
	    "-----BEGIN CERTIFICATE-----") == NULL) {
		order_fail(c, "protocol:certificate", "certificate: HTTP %ld "
		    "without a PEM certificate", c->r.status);
		return false;
	}
	return true;
}

/* One whole issuance; its latency and waits are counted when it is ok. */
static void
client_order(struct ab_client *c)
{
	struct ab		*ab = c->ab;
	const struct ab_csr	*csr = &c->csrs[c->next++ % c->ncsrs];
	struct ab_order		 w;
	uint64_t		 t0 = cg_mono_ns(), t1;

	memset(&w, 0, sizeof(w));
	c->why[0] = '\0';
	c->in_window = t0 >= ab->t_measure && t0 < ab->t_end;
	if (!step_order(c, csr, &w) || !step_authz(c, &w) ||
	    !step_finalize(c, csr, &w) || !step_cert(c, &w)) {
		sleep_ms(AB_ERR_PAUSE_MS);
		return;
	}
	t1 = cg_mono_ns();
	/* Counted when it finished in the window, as orders/s says. */
	if (t1 < ab->t_measure || t1 >= ab->t_end)
		return;
	c->st.ok++;
	lat_add(&c->st, t1 - t0);
	c->st.wait_ns += w.waited;
	c->st.authz_polls += w.apolls;
	c->st.order_polls += w.opolls;
}

static void *
client_thread(void *arg)
{
	struct ab_client	*c = arg;
	struct ab		*ab = c->ab;

	if (!client_setup(c)) {
		c->setup_failed = true;
		atomic_store(&ab->abort_setup, true);
	}
	pthread_mutex_lock(&ab->gate_mu);
	ab->nready++;
	pthread_cond_broadcast(&ab->gate_cv);
	while (!ab->go)			/* main sets the times */
		pthread_cond_wait(&ab->gate_cv, &ab->gate_mu);
	pthread_mutex_unlock(&ab->gate_mu);
	if (c->setup_failed)
		return NULL;
	while (!atomic_load(&ab->stop))
		client_order(c);
	return NULL;
}

/* Keys and CSRs, made before any clock starts. */
static enum cg_code
client_init(struct ab *ab, struct ab_client *c, unsigned idx,
    struct cg_err *err)
{
	const struct ab_opts	*o = ab->o;
	EVP_PKEY		*ck;
	size_t			 i;
	enum cg_code		 rc;

	c->ab = ab;
	c->idx = idx;
	c->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (c->key == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "account key failed");
	rc = jwk_make(c, err);
	if (rc != CG_OK)
		return rc;
	rc = client_curl(c, err);
	if (rc != CG_OK)
		return rc;
	/* One certificate key per client, never the account's. */
	ck = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (ck == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "CSR key failed");
	c->csrs = cg_calloc((size_t)o->pool, sizeof(*c->csrs));
	if (c->csrs == NULL) {
		EVP_PKEY_free(ck);
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	for (i = 0; i < o->pool; i++) {
		snprintf(c->csrs[i].name, sizeof(c->csrs[i].name),
		    "c%u-%zu.%s", idx, i, o->domain);
		c->csrs[i].b64 = csr_make(ck, c->csrs[i].name);
		if (c->csrs[i].b64 == NULL) {
			EVP_PKEY_free(ck);
			return cg_err_crypto(err, CG_ECRYPTO, "CSR failed");
		}
		c->ncsrs++;
	}
	EVP_PKEY_free(ck);
	return CG_OK;
}

static void
client_free(struct ab_client *c)
{
	size_t	i;

	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->hdr_jose);
	curl_slist_free_all(c->hdr_pem);
	cg_buf_cleanup(&c->r.body);
	EVP_PKEY_free(c->key);
	json_decref(c->jwk);
	for (i = 0; i < c->ncsrs; i++)
		cg_free(c->csrs[i].b64);
	cg_free(c->csrs);
	cg_free(c->st.lat_us);
}

/* ------------------------------------------------------------ report */

struct ab_result {
	double		 secs;		/* the window */
	uint64_t	 ok, failed;
	double		 per_s;
	double		 mean, p50, p90, p99, max;	/* ms */
	struct ab_rq_stat rq[RQ__MAX];
	double		 wait_ms;	/* mean slept per ok order */
	double		 authz_polls;	/* mean per ok order */
	double		 order_polls;
	uint64_t	 nonce_retries;
	struct ab_stats	 errs;		/* err, nerr, err_other only */
	bool		 lat_capped;
	uint64_t	 h01_served, h01_unknown;
};

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted microseconds, in ms. */
static double
pct(const uint32_t *v, size_t n, unsigned per_mille)
{
	size_t	rank = ((size_t)per_mille * n + 999) / 1000;

	if (n == 0)
		return 0;
	return v[rank == 0 ? 0 : rank - 1] / 1000.0;
}

static enum cg_code
ab_summarise(struct ab *ab, struct ab_result *r, struct cg_err *err)
{
	const struct ab_opts	*o = ab->o;
	uint32_t		*all;
	size_t			 n = 0, i, k;
	uint64_t		 sum = 0, wait = 0, ap = 0, op = 0;

	memset(r, 0, sizeof(*r));
	r->secs = ab->t_stop > ab->t_measure ?
	    (double)(ab->t_stop - ab->t_measure) / 1e9 : 1e-9;
	for (i = 0; i < o->concurrency; i++)
		n += ab->clients[i].st.nlat;
	all = cg_malloc((n == 0 ? 1 : n) * sizeof(*all));
	if (all == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	n = 0;
	for (i = 0; i < o->concurrency; i++) {
		const struct ab_stats	*s = &ab->clients[i].st;

		memcpy(all + n, s->lat_us, s->nlat * sizeof(*all));
		n += s->nlat;
		r->ok += s->ok;
		r->failed += s->failed;
		wait += s->wait_ns;
		ap += s->authz_polls;
		op += s->order_polls;
		r->nonce_retries += s->nonce_retries;
		r->lat_capped |= s->lat_capped;
		for (k = 0; k < RQ__MAX; k++) {
			r->rq[k].n += s->rq[k].n;
			r->rq[k].ns += s->rq[k].ns;
			if (s->rq[k].max_ns > r->rq[k].max_ns)
				r->rq[k].max_ns = s->rq[k].max_ns;
		}
		for (k = 0; k < s->nerr; k++)
			err_count(&r->errs, s->err[k].key, s->err[k].n);
		r->errs.err_other += s->err_other;
	}
	r->per_s = (double)r->ok / r->secs;
	if (n > 0) {
		qsort(all, n, sizeof(*all), u32_cmp);
		for (i = 0; i < n; i++)
			sum += all[i];
		r->mean = (double)sum / (double)n / 1000.0;
		r->p50 = pct(all, n, 500);
		r->p90 = pct(all, n, 900);
		r->p99 = pct(all, n, 990);
		r->max = all[n - 1] / 1000.0;
	}
	if (r->ok > 0) {
		r->wait_ms = (double)wait / (double)r->ok / 1e6;
		r->authz_polls = (double)ap / (double)r->ok;
		r->order_polls = (double)op / (double)r->ok;
	}
	pthread_mutex_lock(&ab->h01.mu);
	r->h01_served = ab->h01.served;
	r->h01_unknown = ab->h01.unknown;
	pthread_mutex_unlock(&ab->h01.mu);
	cg_free(all);
	return CG_OK;
}

static double
rq_mean_ms(const struct ab_rq_stat *s)
{
	return s->n == 0 ? 0 : (double)s->ns / (double)s->n / 1e6;
}

static void
ab_report_text(const struct ab *ab, const struct ab_result *r)
{
	const struct ab_opts	*o = ab->o;
	size_t			 i;

	printf("bench=acme directory=%s concurrency=%llu duration_s=%.3f "
	    "warmup_s=%llu poll_ms=%llu csr_pool=%llu openssl=\"%s\"\n",
	    o->directory, (unsigned long long)o->concurrency, r->secs,
	    (unsigned long long)o->warmup, (unsigned long long)o->poll_ms,
	    (unsigned long long)o->pool, OPENSSL_VERSION_TEXT);
	printf("bench=acme_result orders=%llu failed=%llu orders_per_s=%.1f "
	    "mean_ms=%.2f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
	    "poll_wait_ms=%.2f authz_polls=%.2f order_polls=%.2f "
	    "nonce_retries=%llu http01_served=%llu http01_unknown=%llu%s\n",
	    (unsigned long long)r->ok, (unsigned long long)r->failed,
	    r->per_s, r->mean, r->p50, r->p90, r->p99, r->max, r->wait_ms,
	    r->authz_polls, r->order_polls,
	    (unsigned long long)r->nonce_retries,
	    (unsigned long long)r->h01_served,
	    (unsigned long long)r->h01_unknown,
	    r->lat_capped ? " latency_samples=capped" : "");
	for (i = 0; i < RQ__MAX; i++) {
		if (r->rq[i].n == 0)
			continue;
		printf("bench=acme_request kind=%s n=%llu mean_ms=%.3f "
		    "max_ms=%.3f\n", rq_names[i],
		    (unsigned long long)r->rq[i].n, rq_mean_ms(&r->rq[i]),
		    (double)r->rq[i].max_ns / 1e6);
	}
	if (r->errs.nerr != 0 || r->errs.err_other != 0) {
		printf("bench=acme_errors");
		for (i = 0; i < r->errs.nerr; i++)
			printf(" %s=%llu", r->errs.err[i].key,
			    (unsigned long long)r->errs.err[i].n);
		if (r->errs.err_other != 0)
			printf(" other=%llu",
			    (unsigned long long)r->errs.err_other);
		printf("\n");
	}
}

static int
ab_report_json(const struct ab *ab, const struct ab_result *r)
{
	const struct ab_opts	*o = ab->o;
	json_t			*j, *rq, *e;
	size_t			 i;
	int			 rc = -1;

	j = json_pack("{s:s, s:s, s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:f, "
	    "s:{s:f, s:f, s:f, s:f, s:f, s:I, s:b}, s:f, s:f, s:f, s:I, "
	    "s:I, s:I, s:s}",
	    "mode", "acme", "directory", o->directory,
	    "concurrency", (json_int_t)o->concurrency, "duration_s", r->secs,
	    "warmup_s", (json_int_t)o->warmup,
	    "poll_ms", (json_int_t)o->poll_ms,
	    "csr_pool", (json_int_t)o->pool,
	    "orders", (json_int_t)r->ok, "failed", (json_int_t)r->failed,
	    "orders_per_s", r->per_s,
	    "latency_ms", "mean", r->mean, "p50", r->p50, "p90", r->p90,
	    "p99", r->p99, "max", r->max, "samples", (json_int_t)r->ok,
	    "capped", r->lat_capped,
	    "poll_wait_ms", r->wait_ms, "authz_polls", r->authz_polls,
	    "order_polls", r->order_polls,
	    "nonce_retries", (json_int_t)r->nonce_retries,
	    "http01_served", (json_int_t)r->h01_served,
	    "http01_unknown", (json_int_t)r->h01_unknown,
	    "openssl", OPENSSL_VERSION_TEXT);
	rq = json_object();
	e = json_object();
	if (j == NULL || rq == NULL || e == NULL)
		goto out;
	for (i = 0; i < RQ__MAX; i++)
		if (r->rq[i].n != 0 && json_object_set_new(rq, rq_names[i],
		    json_pack("{s:I, s:f, s:f}", "n", (json_int_t)r->rq[i].n,
		    "mean_ms", rq_mean_ms(&r->rq[i]),
		    "max_ms", (double)r->rq[i].max_ns / 1e6)) != 0)
			goto out;
	for (i = 0; i < r->errs.nerr; i++)
		if (json_object_set_new(e, r->errs.err[i].key,
		    json_integer((json_int_t)r->errs.err[i].n)) != 0)
			goto out;
	if (r->errs.err_other != 0 && json_object_set_new(e, "other",
	    json_integer((json_int_t)r->errs.err_other)) != 0)
		goto out;
	if (json_object_set(j, "requests", rq) != 0 ||
	    json_object_set(j, "errors", e) != 0)
		goto out;
	rc = json_dumpf(j, stdout, JSON_COMPACT) == 0 ? 0 : -1;
	printf("\n");
out:
	json_decref(rq);
	json_decref(e);
	json_decref(j);
	return rc;
}

/* -------------------------------------------------------------- run */

static enum cg_code
ab_setup(struct ab *ab, struct cg_err *err)
{
	const struct ab_opts	*o = ab->o;
	unsigned		 n = (unsigned)o->concurrency, i;
	enum cg_code		 rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return cg_err_set(err, CG_EINTERNAL, "curl_global_init");
	rc = h01_start(&ab->h01, o, err);
	if (rc != CG_OK)
		return rc;
	ab->clients = cg_calloc(n, sizeof(*ab->clients));
	if (ab->clients == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		rc = client_init(ab, &ab->clients[i], i, err);
		if (rc != CG_OK)
			return rc;
	}
	return CG_OK;
}

/*
 * Start every client; they set up (directory, account) and wait.  Then the
 * clock: --warmup, then --duration measured.  A signal ends the window
 * early, and the report covers what was measured.
 */
static enum cg_code
ab_run(struct ab *ab, struct cg_err *err)
{
	const struct ab_opts	*o = ab->o;
	size_t			 i, started = 0;
	uint64_t		 now;

	for (i = 0; i < o->concurrency; i++) {
		if (pthread_create(&ab->clients[i].th, NULL, client_thread,
		    &ab->clients[i]) != 0) {
			cg_err_set(err, CG_EINTERNAL, "cannot start a thread");
			atomic_store(&ab->abort_setup, true);
			break;
		}
		started++;
	}
	pthread_mutex_lock(&ab->gate_mu);
	while (ab->nready < started)
		pthread_cond_wait(&ab->gate_cv, &ab->gate_mu);
	now = cg_mono_ns();
	ab->t_measure = now + o->warmup * 1000000000u;
	ab->t_end = ab->t_measure + o->duration * 1000000000u;
	if (atomic_load(&ab->abort_setup))
		atomic_store(&ab->stop, true);
	ab->go = true;
	pthread_cond_broadcast(&ab->gate_cv);
	pthread_mutex_unlock(&ab->gate_mu);
	while (!atomic_load(&ab->stop) && !ab_signalled &&
	    (now = cg_mono_ns()) < ab->t_end)
		sleep_ms((ab->t_end - now) / 1000000 > 100 ? 100 :
		    (ab->t_end - now) / 1000000 + 1);
	/* The clients read t_end; the report reads t_stop. */
	now = cg_mono_ns();
	ab->t_stop = now < ab->t_end ? now : ab->t_end;
	atomic_store(&ab->stop, true);
	for (i = 0; i < started; i++)
		pthread_join(ab->clients[i].th, NULL);
	if (atomic_load(&ab->abort_setup))
		return cg_err_set(err, CG_EIO, "a client could not set up: %s",
		    ab->first_err);
	return CG_OK;
}

static void
ab_cleanup(struct ab *ab)
{
	size_t	i;

	h01_stop(&ab->h01);
	if (ab->clients != NULL)
		for (i = 0; i < ab->o->concurrency; i++)
			client_free(&ab->clients[i]);
	cg_free(ab->clients);
	curl_global_cleanup();
}

int
bench_acme_main(int argc, char **argv)
{
	struct ab_opts		 o;
	struct ab		 ab;
	struct ab_result	 r;
	struct cg_err		 err = { 0 };
	struct sigaction	 sa;
	int			 rc, ex = 1;

	rc = ab_opts_parse(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? 0 : EX_USAGE_BENCH;
	memset(&ab, 0, sizeof(ab));
	ab.o = &o;
	pthread_mutex_init(&ab.log_mu, NULL);
	pthread_mutex_init(&ab.h01.mu, NULL);
	pthread_mutex_init(&ab.gate_mu, NULL);
	pthread_cond_init(&ab.gate_cv, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (ab_setup(&ab, &err) != CG_OK || ab_run(&ab, &err) != CG_OK) {
		cg_log_err_struct(__func__, "bench", &err);
		goto out;
	}
	if (ab_summarise(&ab, &r, &err) != CG_OK) {
		cg_log_err_struct(__func__, "bench", &err);
		goto out;
	}
	if (ab.first_err[0] != '\0')
		fprintf(stderr, "certgw-bench: first failed order: %s\n",
		    ab.first_err);
	if (o.json ? ab_report_json(&ab, &r) != 0 :
	    (ab_report_text(&ab, &r), false))
		goto out;
	if (r.ok == 0) {
		fprintf(stderr, "certgw-bench: no order completed\n");
		goto out;
	}
	ex = 0;
out:
	ab_cleanup(&ab);
	pthread_cond_destroy(&ab.gate_cv);
	pthread_mutex_destroy(&ab.gate_mu);
	pthread_mutex_destroy(&ab.h01.mu);
	pthread_mutex_destroy(&ab.log_mu);
	return ex;
}
