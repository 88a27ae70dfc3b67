/*
 * certgw_bench.c - certgw-bench, the load generator for certgw's enrollment
 * front ends.  `certgw-bench <mode> ...` dispatches through a mode table;
 * mode est drives RFC 7030 simpleenroll over N concurrent HTTPS
 * connections (libevent, bufferevent_openssl) and reports throughput,
 * latency and TLS handshakes.  Mode dist enrolls at a fixed rate with the
 * same client and is itself the HTTPS endpoint the push workers deliver
 * to, so it times each certificate from issuance to delivery.  It
 * measures; it asserts nothing about speed, and ctest never runs it.  It
 * is single-threaded on purpose: one loop.
 */
#include <certgw/core.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/pkcs7.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define BENCH_CONN_MAX		1024	/* --concurrency ceiling */
#define BENCH_DURATION_MAX	3600	/* --duration/--warmup ceiling, s */
#define BENCH_POOL_MAX		65536	/* --csr-pool ceiling */
#define BENCH_POOL_KEYS		32	/* distinct keys behind the pool */
#define BENCH_URL_MAX		2048	/* --url length */
#define BENCH_HOST_MAX		255	/* host part of the URL */
#define BENCH_LINE_MAX		4096	/* one status or header line */
#define BENCH_HEADERS_MAX	(16 * 1024)	/* all header bytes */
#define BENCH_HEADER_COUNT_MAX	64	/* header lines per response */
#define BENCH_BODY_MAX		(256 * 1024)	/* response body bytes */
#define BENCH_CHECK_EVERY	100	/* decode 1 in N 200 bodies */
#define BENCH_LAT_MAX		(16u * 1024 * 1024) /* latency samples */
#define BENCH_TIMEOUT_S		30	/* per-request read/write timeout */
#define BENCH_RETRY_MS		100	/* pause before reconnecting */
#define BENCH_SECRET_MAX	1024	/* user:password bytes */
#define BENCH_STATUS_MIN	100	/* lowest HTTP status counted */
#define BENCH_STATUS_MAX	599	/* highest HTTP status counted */
#define BENCH_CSR_MAX		(16 * 1024)	/* DER CSR we build */
#define EX_USAGE_BENCH		2	/* exit code for bad usage */

/* ----------------------------------------------------------- mode table */

typedef int	(*bench_mode_fn)(int argc, char **argv);

struct bench_mode {
	const char	*name;		/* argv[1] */
	bench_mode_fn	 run;		/* gets argv from the mode name on */
	const char	*summary;	/* one line for usage */
};

static int	est_main(int argc, char **argv);
static int	dist_main(int argc, char **argv);

/* ACME, SCEP and distribution modes join this table. */
static const struct bench_mode modes[] = {
	{ "est", est_main, "RFC 7030 simpleenroll over HTTPS" },
	{ "dist", dist_main, "issuance to push delivery, as the endpoint" },
};

/* ------------------------------------------------------------ est state */

enum csr_key {
	CSR_KEY_EC_P256 = 0,
	CSR_KEY_RSA_2048,
	CSR_KEY__MAX
};

static const char *const csr_key_names[CSR_KEY__MAX] = {
	"ec-p256", "rsa-2048",
};

/* Failures that have no HTTP status. */
enum est_fail {
	FAIL_CONNECT = 0,
	FAIL_TLS,
	FAIL_TIMEOUT,
	FAIL_CLOSED,
	FAIL_PROTOCOL,
	FAIL_TOOBIG,
	FAIL_BADBODY,
	FAIL__MAX
};

static const char *const fail_names[FAIL__MAX] = {
	"connect", "tls", "timeout", "closed", "protocol", "too_big",
	"bad_body",
};

enum phase {
	PHASE_WARMUP = 0,
	PHASE_MEASURE,
	PHASE_STOP,
	PHASE__MAX
};

enum cstate {
	CS_IDLE = 0,		/* no bufferevent */
	CS_CONNECTING,		/* TCP + TLS handshake */
	CS_STATUS,		/* request sent, waiting for the status line */
	CS_HEADERS,		/* reading header lines */
	CS_BODY,		/* reading Content-Length bytes */
	CS__MAX
};

struct est_opts {
	const char	*url;		/* --url */
	const char	*cacert;	/* --cacert */
	const char	*user;		/* --user */
	const char	*pw_file;	/* --password-file */
	const char	*cert;		/* --cert: TLS client certificate */
	const char	*cert_key;	/* --cert-key: its private key */
	enum csr_key	 key;		/* --key: CSR key type */
	uint64_t	 concurrency;	/* --concurrency */
	uint64_t	 duration;	/* --duration, seconds */
	uint64_t	 warmup;	/* --warmup, seconds */
	uint64_t	 pool;		/* --csr-pool */
	bool		 fresh_csr;	/* --fresh-csr */
	bool		 new_conn;	/* --new-conn */
	bool		 no_resume;	/* --no-resume */
	bool		 quickack;	/* --quickack: diagnostic */
	bool		 json;		/* --json */
};

struct est_url {
	char		 host[BENCH_HOST_MAX + 1]; /* no brackets for IPv6 */
	char		 port[6];	/* decimal */
	char		*path;		/* ends in "simpleenroll"; owned */
	bool		 is_ip;		/* verify an IP SAN, send no SNI */
};

struct est_body {
	char		*b64;		/* base64 DER CSR; owned */
	size_t		 len;		/* strlen(b64) */
};

struct est_stats {
	uint64_t	 requests;	/* completed or failed in the window */
	uint64_t	 ok;		/* 200 with an acceptable body */
	uint64_t	 checked;	/* bodies decoded to PKCS#7 */
	uint64_t	 status[BENCH_STATUS_MAX + 1]; /* non-200 by status */
	uint64_t	 fail[FAIL__MAX];	/* failures without a status */
	uint64_t	 hs_full;	/* full handshakes, window */
	uint64_t	 hs_resumed;	/* resumed handshakes, window */
	uint64_t	 hs_full_all;	/* full handshakes, whole run */
	uint64_t	 hs_resumed_all; /* resumed handshakes, whole run */
	uint32_t	*lat_us;	/* latencies of ok requests */
	size_t		 nlat;		/* entries used */
	size_t		 caplat;	/* entries allocated */
	bool		 lat_capped;	/* BENCH_LAT_MAX reached */
	uint64_t	 gen_n;		/* --fresh-csr: CSRs made */
	uint64_t	 gen_ns;	/* their total time */
	uint64_t	 gen_max_ns;	/* the slowest */
};

struct bench;
struct dist;

struct conn {
	struct bench	*b;		/* back pointer */
	struct bufferevent *bev;	/* NULL when idle; owns the SSL */
	struct event	*ev_retry;	/* reconnect timer */
	enum cstate	 st;		/* where the exchange is */
	uint64_t	 t_start;	/* ns, when the latency clock started */
	int		 status;	/* parsed status code */
	uint64_t	 clen;		/* Content-Length */
	bool		 have_clen;	/* a Content-Length was seen */
	bool		 close_after;	/* server said Connection: close */
	size_t		 hdr_bytes;	/* header bytes of this response */
	unsigned	 nhdr;		/* header lines of this response */
	const struct est_body *body;	/* what the next request sends */
	SSL_SESSION	*session;	/* this client's latest ticket */
	struct est_body	 fresh;		/* --fresh-csr body; owned */
	bool		 busy;		/* dist: an enrollment in flight */
	bool		 waiting;	/* dist: connected, waiting for a slot */
};

struct bench {
	const struct est_opts *o;	/* options */
	struct event_base *base;	/* the one loop */
	SSL_CTX		*ctx;		/* client TLS context */
	struct addrinfo	*ai;		/* resolved server address */
	struct est_url	 url;		/* parsed --url */
	char		*prefix;	/* request line + fixed headers */
	size_t		 prefix_len;	/* strlen(prefix); wiped at exit */
	struct est_body	*pool;		/* pre-made CSRs */
	size_t		 npool;		/* entries in pool */
	size_t		 next;		/* round-robin cursor */
	struct conn	*conns;		/* concurrency entries */
	struct event	*ev_phase;	/* warmup end, then run end */
	struct event	*ev_sigint;	/* stop early */
	struct event	*ev_sigterm;	/* stop early */
	enum phase	 phase;		/* warmup, measure, stop */
	uint64_t	 t_measure;	/* ns, start of the window */
	uint64_t	 t_end;		/* ns, end of the window */
	uint64_t	 seen_200;	/* 200s seen, for the 1-in-N check */
	uint64_t	 csr_seq;	/* names for fresh CSRs */
	char		 first_err[256]; /* first transport error, logs */
	struct est_stats st;		/* what is reported */
	struct dist	*dist;		/* mode dist; NULL for est */
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
est_usage(FILE *f)
{
	fprintf(f,
"usage: certgw-bench est --url https://HOST:PORT/.well-known/est/[LABEL/]\n"
"           --cacert FILE [--user U --password-file F | --cert C --cert-key K]\n"
"           [--key ec-p256|rsa-2048] [--concurrency N] [--duration S]\n"
"           [--warmup S] [--csr-pool N | --fresh-csr] [--new-conn [--no-resume]]\n"
"           [--quickack] [--json]\n"
"\n"
"  --url URL            EST base URL; simpleenroll is appended\n"
"  --cacert FILE        trust anchors for the server certificate\n"
"  --user, --password-file   HTTP Basic credentials (first line of F)\n"
"  --cert, --cert-key   TLS client certificate and key instead\n"
"  --key TYPE           CSR key type (default ec-p256)\n"
"  --concurrency N      connections, 1..%d (default 8)\n"
"  --duration S         measured seconds (default 10)\n"
"  --warmup S           unmeasured seconds first (default 1)\n"
"  --csr-pool N         CSRs made before the run, sent round-robin\n"
"                       (default 256; they share up to %d keys)\n"
"  --fresh-csr          a new key and CSR per request, timed apart\n"
"  --new-conn           a new TLS connection per enrollment (resumes\n"
"                       with session tickets)\n"
"  --no-resume          with --new-conn: a full handshake every time\n"

"  --quickack           diagnostic: ACK every server segment at once\n"
"                       (TCP_QUICKACK), hiding a server's Nagle delay\n"
"  --json               one JSON object instead of key=value lines\n",
	    BENCH_CONN_MAX, BENCH_POOL_KEYS);
}

static bool
parse_num(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return cg_parse_u64(s, strlen(s), max, out) && *out >= min;
}

static bool
csr_key_parse(const char *s, enum csr_key *out)
{
	int	i;

	for (i = 0; i < CSR_KEY__MAX; i++) {
		if (strcmp(s, csr_key_names[i]) == 0) {
			*out = (enum csr_key)i;
			return true;
		}
	}
	return false;
}

/* Check the combination of options; prints why and returns false. */
static bool
opts_check(const struct est_opts *o)
{
	if (o->url == NULL || o->cacert == NULL) {
		fprintf(stderr, "certgw-bench: --url and --cacert are required\n");
		return false;
	}
	if ((o->user == NULL) != (o->pw_file == NULL) ||
	    (o->cert == NULL) != (o->cert_key == NULL)) {
		fprintf(stderr, "certgw-bench: --user goes with "
		    "--password-file, --cert with --cert-key\n");
		return false;
	}
	if (o->user == NULL && o->cert == NULL) {
		fprintf(stderr, "certgw-bench: give --user/--password-file "
		    "or --cert/--cert-key\n");
		return false;
	}
	if (o->no_resume && !o->new_conn) {
		fprintf(stderr, "certgw-bench: --no-resume needs --new-conn\n");
		return false;
	}
	if (o->user != NULL && strchr(o->user, ':') != NULL) {
		fprintf(stderr, "certgw-bench: a Basic user has no ':'\n");
		return false;
	}
	return true;
}

static int
opts_parse(int argc, char **argv, struct est_opts *o)
{
	static const struct option lo[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "cacert", required_argument, NULL, 'A' },
		{ "user", required_argument, NULL, 'U' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "cert", required_argument, NULL, 'C' },
		{ "cert-key", required_argument, NULL, 'K' },
		{ "key", required_argument, NULL, 'k' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "csr-pool", required_argument, NULL, 'p' },
		{ "fresh-csr", no_argument, NULL, 'f' },
		{ "new-conn", no_argument, NULL, 'n' },
		{ "no-resume", no_argument, NULL, 'R' },
		{ "quickack", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch;
	bool	ok = true;

	*o = (struct est_opts){ .key = CSR_KEY_EC_P256, .concurrency = 8,
	    .duration = 10, .warmup = 1, .pool = 256 };
	optind = 1;
	while (ok && (ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': o->url = optarg; break;
		case 'A': o->cacert = optarg; break;
		case 'U': o->user = optarg; break;
		case 'P': o->pw_file = optarg; break;
		case 'C': o->cert = optarg; break;
		case 'K': o->cert_key = optarg; break;
		case 'k': ok = csr_key_parse(optarg, &o->key); break;
		case 'c': ok = parse_num(optarg, 1, BENCH_CONN_MAX,
		    &o->concurrency); break;
		case 'd': ok = parse_num(optarg, 1, BENCH_DURATION_MAX,
		    &o->duration); break;
		case 'w': ok = parse_num(optarg, 0, BENCH_DURATION_MAX,
		    &o->warmup); break;
		case 'p': ok = parse_num(optarg, 1, BENCH_POOL_MAX,
		    &o->pool); break;
		case 'f': o->fresh_csr = true; break;
		case 'n': o->new_conn = true; break;
		case 'R': o->no_resume = true; break;
		case 'q': o->quickack = true; break;
		case 'j': o->json = true; break;
		case 'h': est_usage(stdout); return 1;
		default: ok = false; break;
		}
	}
	if (!ok || optind != argc || !opts_check(o)) {
		est_usage(stderr);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ URL, TLS */

/*
 * https://HOST[:PORT]/PATH/ with HOST a name, an IPv4 address or [IPv6].
 * The path must end in '/'; "simpleenroll" is appended to it.
 */
static enum cg_code
url_parse(const char *s, struct est_url *u, struct cg_err *err)
{
	const char	*h, *he, *p, *slash;
	size_t		 hl, pl;
	uint64_t	 port = 443;
	unsigned char	 tmp[sizeof(struct in6_addr)];

	if (strlen(s) > BENCH_URL_MAX || strncasecmp(s, "https://", 8) != 0)
		return cg_err_set(err, CG_EINVAL, "--url must be https://...");
	h = s + 8;
	slash = strchr(h, '/');
	if (slash == NULL || slash[strlen(slash) - 1] != '/')
		return cg_err_set(err, CG_EINVAL, "--url path must end in /");
	if (*h == '[') {
		he = memchr(h, ']', (size_t)(slash - h));
		if (he == NULL)
			return cg_err_set(err, CG_EINVAL, "bad [IPv6] in --url");
		h++;
		p = he + 1;
	} else {
		p = memchr(h, ':', (size_t)(slash - h));
		he = p != NULL ? p : slash;
		p = he;
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl > BENCH_HOST_MAX)
		return cg_err_set(err, CG_EINVAL, "bad host in --url");
	if (*p == ':' && !cg_parse_u64(p + 1, (size_t)(slash - p - 1),
	    65535, &port))
		return cg_err_set(err, CG_EINVAL, "bad port in --url");
	if (port == 0 || (*p != ':' && p != slash))
		return cg_err_set(err, CG_EINVAL, "bad port in --url");
	memcpy(u->host, h, hl);
	u->host[hl] = '\0';
	snprintf(u->port, sizeof(u->port), "%u", (unsigned)port);
	u->is_ip = inet_pton(AF_INET, u->host, tmp) == 1 ||
	    inet_pton(AF_INET6, u->host, tmp) == 1;
	pl = strlen(slash);
	u->path = cg_asprintf("%.*ssimpleenroll", (int)pl, slash);
	if (u->path == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

/*
 * Keep the newest ticket per connection slot, as each real client keeps
 * its own: TLS 1.3 sends them after the handshake, TLS 1.2 during it.
 */
static int
session_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct conn	*c = SSL_get_app_data(ssl);

	if (c == NULL)
		return 0;
	SSL_SESSION_free(c->session);
	c->session = sess;		/* returning 1 keeps the reference */
	return 1;
}

static enum cg_code
tls_ctx_new(struct bench *b, struct cg_err *err)
{
	const struct est_opts *o = b->o;
	SSL_CTX		*ctx;
	enum cg_code	 rc;

	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "SSL_CTX_new failed");
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, o->cacert, NULL) != 1) {
		rc = cg_err_crypto(err, CG_EINVAL, "cannot load --cacert");
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (o->cert != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o->cert_key,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)) {
		rc = cg_err_crypto(err, CG_EINVAL,
		    "cannot load --cert/--cert-key");
		goto out;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, session_new_cb);
	b->ctx = ctx;
	ctx = NULL;
	rc = CG_OK;
out:
	SSL_CTX_free(ctx);
	return rc;
}

static enum cg_code
resolve(struct bench *b, struct cg_err *err)
{
	struct addrinfo	 hints = { 0 };
	int		 e;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (b->url.is_ip)
		hints.ai_flags = AI_NUMERICHOST;
	e = getaddrinfo(b->url.host, b->url.port, &hints, &b->ai);
	if (e != 0) {
		b->ai = NULL;
		cg_err_set(err, CG_EIO, "cannot resolve the --url host");
		cg_err_detail(err, "getaddrinfo: %s", gai_strerror(e));
		return CG_EIO;
	}
	return CG_OK;
}

/* The fixed part of every request; it holds the Basic credentials. */
static enum cg_code
prefix_make(struct bench *b, struct cg_err *err)
{
	const struct est_opts *o = b->o;
	struct cg_buf	 cred;
	char		*pw = NULL, *b64 = NULL;
	const char	*bra, *ket;
	enum cg_code	 rc;

	cg_buf_init(&cred, BENCH_SECRET_MAX);
	bra = strchr(b->url.host, ':') != NULL ? "[" : "";
	ket = *bra != '\0' ? "]" : "";
	if (o->user != NULL) {
		rc = cg_secret_load(o->pw_file, NULL, &pw, err);
		if (rc != CG_OK)
			goto out;
		rc = cg_buf_printf(&cred, err, "%s:%s", o->user, pw);
		if (rc != CG_OK)
			goto out;
		rc = cg_base64_encode(cred.data, cred.len, &b64, err);
		if (rc != CG_OK)
			goto out;
	}
	b->prefix = cg_asprintf("POST %s HTTP/1.1\r\nHost: %s%s%s:%s\r\n"
	    "%s%s%sContent-Type: application/pkcs10\r\n"
	    "Content-Transfer-Encoding: base64\r\n", b->url.path, bra,
	    b->url.host, ket, b->url.port,
	    b64 != NULL ? "Authorization: Basic " : "",
	    b64 != NULL ? b64 : "", b64 != NULL ? "\r\n" : "");
	if (b->prefix == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	b->prefix_len = strlen(b->prefix);
	rc = CG_OK;
out:
	if (b64 != NULL)
		OPENSSL_cleanse(b64, strlen(b64));
	cg_free(b64);
	cg_buf_cleanup_secret(&cred);
	cg_secret_free(pw);
	return rc;
}

/* ----------------------------------------------------------------- CSRs */

static EVP_PKEY *
key_make(enum csr_key kt)
{
	if (kt == CSR_KEY_RSA_2048)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* A CSR for bench-<seq> with one DNS SAN, as base64 DER. */
static enum cg_code
csr_make(EVP_PKEY *pk, uint64_t seq, struct est_body *out,
    struct cg_err *err)
{
	X509_REQ		*req = NULL;
	X509_NAME		*name;		/* get0 from req */
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION		*san = NULL;
	unsigned char		*der = NULL;
	char			 cn[64], dns[96];
	int			 n;
	enum cg_code		 rc;

	snprintf(cn, sizeof(cn), "bench-%llu", (unsigned long long)seq);
	snprintf(dns, sizeof(dns), "DNS:%s.bench.example", cn);
	req = X509_REQ_new();
	exts = sk_X509_EXTENSION_new_null();
	san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, dns);
	if (req == NULL || exts == NULL || san == NULL ||
	    sk_X509_EXTENSION_push(exts, san) == 0) {
		rc = cg_err_crypto(err, CG_ENOMEM, "cannot build a CSR");
		goto out;
	}
	san = NULL;			/* now owned by exts */
	name = X509_REQ_get_subject_name(req);
	if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_REQ_add_extensions(req, exts) != 1 ||
	    X509_REQ_set_pubkey(req, pk) != 1 ||
	    X509_REQ_sign(req, pk, EVP_sha256()) <= 0) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot sign a CSR");
		goto out;
	}
	n = i2d_X509_REQ(req, &der);
	if (n <= 0 || n > BENCH_CSR_MAX) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot encode a CSR");
		goto out;
	}
	rc = cg_base64_encode(der, (size_t)n, &out->b64, err);
	if (rc != CG_OK)
		goto out;
	out->len = strlen(out->b64);
out:
	OPENSSL_free(der);
	X509_EXTENSION_free(san);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return rc;
}

static enum cg_code
pool_make(struct bench *b, struct cg_err *err)
{
	EVP_PKEY	*keys[BENCH_POOL_KEYS] = { NULL };
	size_t		 nkeys, i;
	enum cg_code	 rc;

	b->npool = (size_t)b->o->pool;
	nkeys = b->npool < BENCH_POOL_KEYS ? b->npool : BENCH_POOL_KEYS;
	b->pool = cg_calloc(b->npool, sizeof(*b->pool));
	if (b->pool == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < nkeys; i++) {
		keys[i] = key_make(b->o->key);
		if (keys[i] == NULL) {
			rc = cg_err_crypto(err, CG_ECRYPTO, "key generation");
			goto out;
		}
	}
	for (i = 0; i < b->npool; i++) {
		rc = csr_make(keys[i % nkeys], i, &b->pool[i], err);
		if (rc != CG_OK)
			goto out;
	}
	rc = CG_OK;
out:
	for (i = 0; i < BENCH_POOL_KEYS; i++)
		EVP_PKEY_free(keys[i]);
	return rc;
}

/* --fresh-csr: a new key and CSR, timed on their own. */
static enum cg_code
fresh_make(struct conn *c, struct cg_err *err)
{
	struct bench	*b = c->b;
	EVP_PKEY	*pk;
	uint64_t	 t0, dt;
	enum cg_code	 rc;

	cg_free(c->fresh.b64);
	c->fresh = (struct est_body){ 0 };
	t0 = now_ns();
	pk = key_make(b->o->key);
	if (pk == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "key generation");
	rc = csr_make(pk, b->npool + b->csr_seq++, &c->fresh, err);
	EVP_PKEY_free(pk);
	dt = now_ns() - t0;
	if (b->phase == PHASE_MEASURE) {
		b->st.gen_n++;
		b->st.gen_ns += dt;
		if (dt > b->st.gen_max_ns)
			b->st.gen_max_ns = dt;
	}
	return rc;
}

/* Pick what the next request sends; starts no clock. */
static enum cg_code
body_next(struct conn *c, struct cg_err *err)
{
	struct bench	*b = c->b;
	enum cg_code	 rc;

	if (b->o->fresh_csr) {
		rc = fresh_make(c, err);
		c->body = &c->fresh;
		return rc;
	}
	c->body = &b->pool[b->next];
	b->next = (b->next + 1) % b->npool;
	return CG_OK;
}

/* ------------------------------------------------------------ the loop */

static void	conn_start(struct conn *c);
static void	conn_send(struct conn *c);
static void	conn_ready(struct conn *c);
static bool	dist_response(struct conn *c, struct evbuffer *in);
static void	dist_conn_failed(struct conn *c);
static void	dist_check_enrolled(struct bench *b);

static void
lat_add(struct est_stats *st, uint64_t ns)
{
	uint32_t	*n;
	size_t		 cap;
	uint64_t	 us = ns / 1000;

	if (st->nlat == st->caplat) {
		if (st->caplat >= BENCH_LAT_MAX) {
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

/* Drop the connection; a clean close sends close_notify first. */
static void
conn_close(struct conn *c, bool clean)
{
	SSL	*ssl;

	if (c->bev == NULL)
		return;
	ssl = bufferevent_openssl_get_ssl(c->bev);
	if (clean && ssl != NULL && SSL_is_init_finished(ssl)) {
		ERR_clear_error();
		(void)SSL_shutdown(ssl);	/* best effort, non-blocking */
	}
	ERR_clear_error();
	bufferevent_free(c->bev);
	c->bev = NULL;
	c->st = CS_IDLE;
}

static void
note_error(struct bench *b, enum est_fail f, struct bufferevent *bev)
{
	unsigned long	 e = 0;
	char		 ebuf[160];
	SSL		*ssl;
	long		 vr;

	if (b->first_err[0] != '\0')
		return;
	if (bev != NULL)
		e = bufferevent_get_openssl_error(bev);
	if (e != 0 && ERR_GET_LIB(e) != 0) {
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		ssl = bufferevent_openssl_get_ssl(bev);
		vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
		snprintf(b->first_err, sizeof(b->first_err),
		    "kind=%s openssl=\"%s\" verify=\"%s\"", fail_names[f],
		    ebuf, X509_verify_cert_error_string(vr));
	} else if (e != 0) {
		ssl = bufferevent_openssl_get_ssl(bev);
		vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
		snprintf(b->first_err, sizeof(b->first_err),
		    "kind=%s verify=\"%s\"", fail_names[f],
		    X509_verify_cert_error_string(vr));
	} else {
		snprintf(b->first_err, sizeof(b->first_err),
		    "kind=%s errno=\"%s\"", fail_names[f],
		    strerror(EVUTIL_SOCKET_ERROR()));
	}
}

/* A request or connection failed: count it, reconnect after a pause. */
static void
conn_fail(struct conn *c, enum est_fail f)
{
	struct bench	*b = c->b;
	struct timeval	 tv = { 0, BENCH_RETRY_MS * 1000 };

	note_error(b, f, c->bev);
	if (b->phase == PHASE_MEASURE) {
		b->st.requests++;
		b->st.fail[f]++;
	}
	if (b->dist != NULL)
		dist_conn_failed(c);	/* may end the enrollment phase */
	conn_close(c, false);
	if (b->phase != PHASE_STOP)
		evtimer_add(c->ev_retry, &tv);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_start(arg);
}

/*
 * A server that writes its head and body as two segments without
 * TCP_NODELAY waits for our delayed ACK (40 ms on Linux) before sending
 * the second.  --quickack sends any pending ACK now and leaves delayed-ACK
 * mode; it is not sticky, so it is renewed on every read, write and
 * handshake.  It lets a run show what the server could do without that
 * stall; real clients do not do this.
 */
static void
quickack(struct conn *c)
{
	int	one = 1;

	if (c->b->o->quickack && c->bev != NULL)
		(void)setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP,
		    TCP_QUICKACK, &one, sizeof(one));
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	quickack(arg);
}

/* Cheap proof of a real answer: base64 of a PKCS#7 holding a cert. */
static bool
body_is_pkcs7(struct evbuffer *in, size_t len)
{
	const unsigned char	*p, *q;
	uint8_t			*der = NULL;
	size_t			 dlen = 0;
	PKCS7			*p7 = NULL;
	bool			 ok = false;

	p = evbuffer_pullup(in, (ev_ssize_t)len);
	if (p == NULL || cg_base64_decode((const char *)p, len, false,
	    BENCH_BODY_MAX, &der, &dlen, NULL) != CG_OK)
		goto out;
	q = der;
	p7 = d2i_PKCS7(NULL, &q, (long)dlen);
	if (p7 == NULL || q != der + dlen || !PKCS7_type_is_signed(p7))
		goto out;
	ok = p7->d.sign != NULL && p7->d.sign->cert != NULL &&
	    sk_X509_num(p7->d.sign->cert) > 0;
out:
	ERR_clear_error();
	PKCS7_free(p7);
	cg_free(der);
	return ok;
}

/* The whole response is in `in`: count it and go on. */
static void
response_done(struct conn *c, struct evbuffer *in)
{
	struct bench	*b = c->b;
	uint64_t	 dt = now_ns() - c->t_start;
	bool		 body_ok = c->clen > 0, leftover;

	if (b->dist != NULL) {
		body_ok = dist_response(c, in);	/* every body, for its serial */
	} else if (c->status == 200 &&
	    b->seen_200++ % BENCH_CHECK_EVERY == 0) {
		body_ok = body_is_pkcs7(in, (size_t)c->clen);
		if (b->phase == PHASE_MEASURE)
			b->st.checked++;
	}
	evbuffer_drain(in, (size_t)c->clen);
	leftover = evbuffer_get_length(in) != 0;	/* we never pipeline */
	if (b->phase == PHASE_MEASURE) {
		b->st.requests++;
		if (c->status == 200 && body_ok) {
			b->st.ok++;
			lat_add(&b->st, dt);
		} else if (c->status == 200) {
			b->st.fail[FAIL_BADBODY]++;
		} else {
			b->st.status[c->status]++;
		}
	}
	if (b->dist != NULL)
		dist_check_enrolled(b);
	if (b->phase == PHASE_STOP)
		return;
	if (b->o->new_conn || c->close_after || leftover) {
		conn_close(c, !leftover);
		conn_start(c);
	} else {
		conn_ready(c);
	}
}

/* "HTTP/1.x NNN[ reason]" */
static bool
status_parse(const char *s, size_t len, int *status)
{
	uint64_t	v;

	if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 ||
	    (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
	    (len > 12 && s[12] != ' ') ||
	    !cg_parse_u64(s + 9, 3, BENCH_STATUS_MAX, &v) ||
	    v < BENCH_STATUS_MIN)
		return false;
	*status = (int)v;
	return true;
}

/* One header line; returns FAIL__MAX when it is acceptable. */
static enum est_fail
header_parse(struct conn *c, const char *s, size_t len)
{
	const char	*colon, *v, *e = s + len;
	size_t		 nl;
	uint64_t	 n;

	colon = memchr(s, ':', len);
	if (colon == NULL || colon == s)
		return FAIL_PROTOCOL;
	nl = (size_t)(colon - s);
	for (v = colon + 1; v < e && (*v == ' ' || *v == '\t'); v++)
		;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (nl == 14 && strncasecmp(s, "content-length", nl) == 0) {
		if (!cg_parse_u64(v, (size_t)(e - v), UINT64_MAX, &n))
			return FAIL_PROTOCOL;
		if (n > BENCH_BODY_MAX)
			return FAIL_TOOBIG;
		if (c->have_clen && n != c->clen)
			return FAIL_PROTOCOL;
		c->clen = n;
		c->have_clen = true;
	} else if (nl == 17 && strncasecmp(s, "transfer-encoding", nl) == 0) {
		return FAIL_PROTOCOL;	/* certgw always sends a length */
	} else if (nl == 10 && strncasecmp(s, "connection", nl) == 0 &&
	    e - v == 5 && strncasecmp(v, "close", 5) == 0) {
		c->close_after = true;
	}
	return FAIL__MAX;
}

/*
 * Take one CRLF line (at most BENCH_LINE_MAX bytes) into line.
 * 1: got one; 0: need more bytes; -1: too long.
 */
static int
line_take(struct conn *c, struct evbuffer *in, char *line, size_t *lenp)
{
	struct evbuffer_ptr	 pos;
	size_t			 eol = 0;

	pos = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_CRLF);
	if (pos.pos < 0)
		return evbuffer_get_length(in) > BENCH_LINE_MAX ? -1 : 0;
	if ((size_t)pos.pos > BENCH_LINE_MAX)
		return -1;
	c->hdr_bytes += (size_t)pos.pos + eol;
	if (c->hdr_bytes > BENCH_HEADERS_MAX)
		return -1;
	if (evbuffer_remove(in, line, (size_t)pos.pos) != pos.pos)
		return -1;
	line[pos.pos] = '\0';
	evbuffer_drain(in, eol);
	*lenp = (size_t)pos.pos;
	return 1;
}

/* The blank line: decide how long the body is. */
static enum est_fail
headers_end(struct conn *c)
{
	if (c->status < 200) {		/* interim 1xx: a new head follows */
		c->st = CS_STATUS;
		c->have_clen = false;
		c->nhdr = 0;
		return FAIL__MAX;
	}
	if (!c->have_clen) {
		if (c->status != 204 && c->status != 304)
			return FAIL_PROTOCOL;
		c->clen = 0;
	}
	c->st = CS_BODY;
	return FAIL__MAX;
}

/* Advance the head parser by one line; FAIL__MAX means go on. */
static enum est_fail
head_step(struct conn *c, struct evbuffer *in, bool *more)
{
	char	 line[BENCH_LINE_MAX + 1];
	size_t	 len = 0;
	int	 r;

	r = line_take(c, in, line, &len);
	*more = r == 1;
	if (r <= 0)
		return r < 0 ? FAIL_TOOBIG : FAIL__MAX;
	if (c->st == CS_STATUS) {
		if (!status_parse(line, len, &c->status))
			return FAIL_PROTOCOL;
		c->st = CS_HEADERS;
		return FAIL__MAX;
	}
	if (len == 0)
		return headers_end(c);
	if (++c->nhdr > BENCH_HEADER_COUNT_MAX)
		return FAIL_TOOBIG;
	return header_parse(c, line, len);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	enum est_fail	 f = FAIL__MAX;
	bool		 more = true;

	quickack(c);

	while (more && f == FAIL__MAX) {
		if (c->st == CS_STATUS || c->st == CS_HEADERS) {
			f = head_step(c, in, &more);
		} else if (c->st == CS_BODY) {
			if (evbuffer_get_length(in) >= c->clen)
				response_done(c, in);
			return;		/* c may have a new bufferevent */
		} else {
			f = FAIL_PROTOCOL;	/* bytes nobody asked for */
		}
	}
	if (f != FAIL__MAX)
		conn_fail(c, f);
}

/* A handshake that failed in OpenSSL rather than in connect(2). */
static bool
is_tls_failure(struct bufferevent *bev, SSL *ssl)
{
	unsigned long	e = bufferevent_get_openssl_error(bev);

	return (e != 0 && ERR_GET_LIB(e) != 0) || (ssl != NULL &&
	    SSL_get_verify_result(ssl) != X509_V_OK);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	struct bench	*b = c->b;
	SSL		*ssl = bufferevent_openssl_get_ssl(bev);
	bool		 resumed;
	enum est_fail	 f;

	if (what & BEV_EVENT_CONNECTED) {
		quickack(c);
		resumed = ssl != NULL && SSL_session_reused(ssl) == 1;
		*(resumed ? &b->st.hs_resumed_all : &b->st.hs_full_all) += 1;
		if (b->phase == PHASE_MEASURE)
			*(resumed ? &b->st.hs_resumed : &b->st.hs_full) += 1;
		conn_ready(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		f = FAIL_TIMEOUT;
	else if (c->st == CS_CONNECTING)
		f = is_tls_failure(bev, ssl) ? FAIL_TLS : FAIL_CONNECT;
	else
		f = FAIL_CLOSED;
	conn_fail(c, f);
}

/* Write one simpleenroll request; the prefix is referenced, not copied. */
static void
conn_send(struct conn *c)
{
	struct bench	*b = c->b;
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct cg_err	 err = { 0 };

	if (!b->o->new_conn) {
		if (body_next(c, &err) != CG_OK) {
			cg_log_err_struct(__func__, "csr", &err);
			event_base_loopbreak(b->base);
			return;
		}
		c->t_start = now_ns();
	}
	c->st = CS_STATUS;
	c->status = 0;
	c->clen = 0;
	c->have_clen = false;
	c->close_after = false;
	c->hdr_bytes = 0;
	c->nhdr = 0;
	if (evbuffer_add_reference(out, b->prefix, b->prefix_len, NULL,
	    NULL) != 0 || evbuffer_add_printf(out,
	    "Content-Length: %zu\r\n\r\n", c->body->len) < 0 ||
	    evbuffer_add(out, c->body->b64, c->body->len) != 0)
		conn_fail(c, FAIL_PROTOCOL);
}

/* A new SSL for the server: name or IP check, SNI, the latest ticket. */
static SSL *
ssl_for(struct conn *c)
{
	struct bench	*b = c->b;
	SSL		*ssl = SSL_new(b->ctx);
	int	 ok;

	if (ssl == NULL)
		return NULL;
	if (b->url.is_ip)
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    b->url.host);
	else
		ok = SSL_set_tlsext_host_name(ssl, b->url.host) == 1 &&
		    SSL_set1_host(ssl, b->url.host) == 1;
	if (ok == 1)
		ok = SSL_set_app_data(ssl, c);
	if (ok == 1 && c->session != NULL && !b->o->no_resume)
		ok = SSL_set_session(ssl, c->session);
	if (ok != 1) {
		SSL_free(ssl);
		ssl = NULL;
	}
	return ssl;
}

static void
conn_start(struct conn *c)
{
	struct bench	*b = c->b;
	struct timeval	 tmo = { BENCH_TIMEOUT_S, 0 };
	struct cg_err	 err = { 0 };
	SSL		*ssl;
	int		 one = 1;

	if (b->phase == PHASE_STOP)
		return;
	if (b->o->new_conn) {
		if (body_next(c, &err) != CG_OK) {
			cg_log_err_struct(__func__, "csr", &err);
			event_base_loopbreak(b->base);
			return;
		}
		c->t_start = now_ns();	/* the handshake is part of it */
	}
	ssl = ssl_for(c);
	if (ssl == NULL) {
		conn_fail(c, FAIL_TLS);
		return;
	}
	/* Takes ssl, and frees it when construction fails. */
	c->bev = bufferevent_openssl_socket_new(b->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		conn_fail(c, FAIL_CONNECT);
		return;
	}
	c->st = CS_CONNECTING;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_set_timeouts(c->bev, &tmo, &tmo);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0 ||
	    bufferevent_socket_connect(c->bev, b->ai->ai_addr,
	    (int)b->ai->ai_addrlen) != 0) {
		conn_fail(c, FAIL_CONNECT);
		return;
	}
	/* Requests are small writes waiting for an answer: no Nagle. */
	(void)setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY,
	    &one, sizeof(one));
}

static void
phase_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench	*b = arg;
	struct timeval	 tv = { (time_t)b->o->duration, 0 };

	if (b->phase == PHASE_WARMUP) {
		b->phase = PHASE_MEASURE;
		b->t_measure = now_ns();
		evtimer_add(b->ev_phase, &tv);
		return;
	}
	b->phase = PHASE_STOP;
	b->t_end = now_ns();
	event_base_loopbreak(b->base);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct bench	*b = arg;

	if (b->phase == PHASE_WARMUP)
		b->t_measure = now_ns();
	b->phase = PHASE_STOP;
	b->t_end = now_ns();
	event_base_loopbreak(b->base);
}

/* ------------------------------------------------------------- report */

struct lat_summary {
	double		 mean;		/* ms */
	double		 p50;		/* ms */
	double		 p90;		/* ms */
	double		 p99;		/* ms */
	double		 max;		/* ms */
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

static void
lat_summarise(struct est_stats *st, struct lat_summary *ls)
{
	uint64_t	sum = 0;
	size_t		i;

	*ls = (struct lat_summary){ 0 };
	if (st->nlat == 0)
		return;
	qsort(st->lat_us, st->nlat, sizeof(*st->lat_us), u32_cmp);
	for (i = 0; i < st->nlat; i++)
		sum += st->lat_us[i];
	ls->mean = (double)sum / (double)st->nlat / 1000.0;
	ls->p50 = pct(st->lat_us, st->nlat, 500);
	ls->p90 = pct(st->lat_us, st->nlat, 900);
	ls->p99 = pct(st->lat_us, st->nlat, 990);
	ls->max = st->lat_us[st->nlat - 1] / 1000.0;
}

static uint64_t
errors_total(const struct est_stats *st)
{
	uint64_t	n = 0;
	int		i;

	for (i = 0; i <= BENCH_STATUS_MAX; i++)
		n += st->status[i];
	for (i = 0; i < FAIL__MAX; i++)
		n += st->fail[i];
	return n;
}

static const char *
yn(bool v)
{
	return v ? "yes" : "no";
}

static void
report_text(const struct bench *b, const struct lat_summary *ls, double secs)
{
	const struct est_opts *o = b->o;
	const struct est_stats *st = &b->st;
	int			 i;

	printf("bench=est_setup url=%s key=%s concurrency=%llu duration_s=%llu "
	    "warmup_s=%llu csr_pool=%llu fresh_csr=%s new_conn=%s resume=%s "
	    "quickack=%s auth=%s "
	    "openssl=\"%s\"\n", o->url, csr_key_names[o->key],
	    (unsigned long long)o->concurrency,
	    (unsigned long long)o->duration, (unsigned long long)o->warmup,
	    o->fresh_csr ? 0ULL : (unsigned long long)o->pool,
	    yn(o->fresh_csr), yn(o->new_conn), yn(!o->no_resume),
	    yn(o->quickack),
	    o->user != NULL ? "basic" : "cert", OPENSSL_VERSION_TEXT);
	printf("bench=est requests=%llu ok=%llu errors=%llu elapsed_s=%.3f "
	    "enroll_per_s=%.1f mean_ms=%.3f p50_ms=%.3f p90_ms=%.3f "
	    "p99_ms=%.3f max_ms=%.3f checked=%llu hs_full=%llu "
	    "hs_resumed=%llu hs_full_total=%llu hs_resumed_total=%llu%s\n",
	    (unsigned long long)st->requests, (unsigned long long)st->ok,
	    (unsigned long long)errors_total(st), secs,
	    secs > 0 ? (double)st->ok / secs : 0.0, ls->mean, ls->p50,
	    ls->p90, ls->p99, ls->max, (unsigned long long)st->checked,
	    (unsigned long long)st->hs_full,
	    (unsigned long long)st->hs_resumed,
	    (unsigned long long)st->hs_full_all,
	    (unsigned long long)st->hs_resumed_all,
	    st->lat_capped ? " latency_samples=capped" : "");
	if (errors_total(st) != 0) {
		printf("bench=est_errors");
		for (i = BENCH_STATUS_MIN; i <= BENCH_STATUS_MAX; i++)
			if (st->status[i] != 0)
				printf(" status_%d=%llu", i,
				    (unsigned long long)st->status[i]);
		for (i = 0; i < FAIL__MAX; i++)
			if (st->fail[i] != 0)
				printf(" %s=%llu", fail_names[i],
				    (unsigned long long)st->fail[i]);
		printf("\n");
	}
	if (o->fresh_csr)
		printf("bench=est_csr_gen key=%s n=%llu mean_ms=%.3f "
		    "max_ms=%.3f total_ms=%.1f\n", csr_key_names[o->key],
		    (unsigned long long)st->gen_n, st->gen_n != 0 ?
		    st->gen_ns / 1e6 / (double)st->gen_n : 0.0,
		    st->gen_max_ns / 1e6, st->gen_ns / 1e6);
}

static json_t *
errors_json(const struct est_stats *st)
{
	json_t	*o = json_object();
	char	 k[16];
	int	 i;

	for (i = BENCH_STATUS_MIN; o != NULL && i <= BENCH_STATUS_MAX; i++) {
		if (st->status[i] == 0)
			continue;
		snprintf(k, sizeof(k), "%d", i);
		json_object_set_new(o, k, json_integer((json_int_t)
		    st->status[i]));
	}
	for (i = 0; o != NULL && i < FAIL__MAX; i++)
		if (st->fail[i] != 0)
			json_object_set_new(o, fail_names[i],
			    json_integer((json_int_t)st->fail[i]));
	return o;
}

static int
report_json(const struct bench *b, const struct lat_summary *ls, double secs)
{
	const struct est_opts *o = b->o;
	const struct est_stats *st = &b->st;
	json_t			*j;
	int			 rc;

	j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:b, s:s, "
	    "s:f, s:I, s:I, s:I, s:o, s:f, "
	    "s:{s:f, s:f, s:f, s:f, s:f, s:I, s:b}, "
	    "s:{s:I, s:I, s:I, s:I}, s:{s:I, s:f, s:f, s:f}, s:s}",
	    "mode", "est", "url", o->url, "key", csr_key_names[o->key],
	    "concurrency", (json_int_t)o->concurrency,
	    "duration_s", (json_int_t)o->duration,
	    "warmup_s", (json_int_t)o->warmup,
	    "csr_pool", (json_int_t)(o->fresh_csr ? 0 : o->pool),
	    "fresh_csr", o->fresh_csr, "new_conn", o->new_conn,
	    "resume", !o->no_resume,
	    "quickack", o->quickack,
	    "auth", o->user != NULL ? "basic" : "cert",
	    "elapsed_s", secs, "requests", (json_int_t)st->requests,
	    "ok", (json_int_t)st->ok, "checked", (json_int_t)st->checked,
	    "errors", errors_json(st),
	    "enrollments_per_s", secs > 0 ? (double)st->ok / secs : 0.0,
	    "latency_ms", "mean", ls->mean, "p50", ls->p50, "p90", ls->p90,
	    "p99", ls->p99, "max", ls->max, "samples", (json_int_t)st->nlat,
	    "capped", st->lat_capped,
	    "handshakes", "full", (json_int_t)st->hs_full,
	    "resumed", (json_int_t)st->hs_resumed,
	    "full_total", (json_int_t)st->hs_full_all,
	    "resumed_total", (json_int_t)st->hs_resumed_all,
	    "csr_gen", "n", (json_int_t)st->gen_n,
	    "mean_ms", st->gen_n != 0 ? st->gen_ns / 1e6 / (double)st->gen_n :
	    0.0, "max_ms", st->gen_max_ns / 1e6, "total_ms", st->gen_ns / 1e6,
	    "openssl", OPENSSL_VERSION_TEXT);
	if (j == NULL)
		return -1;
	rc = json_dumpf(j, stdout, JSON_COMPACT) == 0 ? 0 : -1;
	printf("\n");
	json_decref(j);
	return rc;
}

/* --------------------------------------------------------------- setup */

static enum cg_code
loop_make(struct bench *b, struct cg_err *err)
{
	size_t	i;

	b->base = event_base_new();
	b->conns = cg_calloc((size_t)b->o->concurrency, sizeof(*b->conns));
	if (b->base == NULL || b->conns == NULL)
		return cg_err_set(err, CG_ENOMEM, "cannot make the loop");
	b->ev_phase = evtimer_new(b->base, phase_cb, b);
	b->ev_sigint = evsignal_new(b->base, SIGINT, signal_cb, b);
	b->ev_sigterm = evsignal_new(b->base, SIGTERM, signal_cb, b);
	if (b->ev_phase == NULL || b->ev_sigint == NULL ||
	    b->ev_sigterm == NULL || evsignal_add(b->ev_sigint, NULL) != 0 ||
	    evsignal_add(b->ev_sigterm, NULL) != 0)
		return cg_err_set(err, CG_ENOMEM, "cannot make the loop");
	for (i = 0; i < b->o->concurrency; i++) {
		b->conns[i].b = b;
		b->conns[i].ev_retry = evtimer_new(b->base, retry_cb,
		    &b->conns[i]);
		if (b->conns[i].ev_retry == NULL)
			return cg_err_set(err, CG_ENOMEM, "cannot make the loop");
	}
	return CG_OK;
}

static enum cg_code
bench_setup(struct bench *b, struct cg_err *err)
{
	enum cg_code	rc;

	rc = url_parse(b->o->url, &b->url, err);
	if (rc == CG_OK)
		rc = resolve(b, err);
	if (rc == CG_OK)
		rc = tls_ctx_new(b, err);
	if (rc == CG_OK)
		rc = prefix_make(b, err);
	if (rc == CG_OK && !b->o->fresh_csr)
		rc = pool_make(b, err);
	if (rc == CG_OK)
		rc = loop_make(b, err);
	return rc;
}

/* Run the loop: warmup, then the window, then stop. */
static enum cg_code
bench_run(struct bench *b, struct cg_err *err)
{
	struct timeval	 tv = { (time_t)b->o->warmup, 0 };
	size_t		 i;

	b->phase = PHASE_WARMUP;
	if (b->o->warmup == 0) {
		b->phase = PHASE_MEASURE;
		b->t_measure = now_ns();
		tv.tv_sec = (time_t)b->o->duration;
	}
	if (evtimer_add(b->ev_phase, &tv) != 0)
		return cg_err_set(err, CG_EINTERNAL, "cannot arm the timer");
	for (i = 0; i < b->o->concurrency; i++)
		conn_start(&b->conns[i]);
	if (event_base_dispatch(b->base) < 0)
		return cg_err_set(err, CG_EINTERNAL, "event loop failed");
	if (b->phase != PHASE_STOP) {	/* broken out by a CSR failure */
		b->phase = PHASE_STOP;
		b->t_end = now_ns();
	}
	return CG_OK;
}

static void
bench_cleanup(struct bench *b)
{
	size_t	i;

	for (i = 0; b->conns != NULL && i < b->o->concurrency; i++) {
		conn_close(&b->conns[i], true);
		if (b->conns[i].ev_retry != NULL)
			event_free(b->conns[i].ev_retry);
		cg_free(b->conns[i].fresh.b64);
		SSL_SESSION_free(b->conns[i].session);
	}
	if (b->ev_phase != NULL)
		event_free(b->ev_phase);
	if (b->ev_sigint != NULL)
		event_free(b->ev_sigint);
	if (b->ev_sigterm != NULL)
		event_free(b->ev_sigterm);
	if (b->base != NULL)
		event_base_free(b->base);	/* runs bufferevent finalizers */
	cg_free(b->conns);
	SSL_CTX_free(b->ctx);
	if (b->ai != NULL)
		freeaddrinfo(b->ai);
	for (i = 0; b->pool != NULL && i < b->npool; i++)
		cg_free(b->pool[i].b64);
	cg_free(b->pool);
	if (b->prefix != NULL)
		OPENSSL_cleanse(b->prefix, b->prefix_len);
	cg_free(b->prefix);
	cg_free(b->url.path);
	cg_free(b->st.lat_us);
}

static int
est_main(int argc, char **argv)
{
	struct est_opts		 o;
	struct bench		 b = { 0 };
	struct cg_err		 err = { 0 };
	struct lat_summary	 ls;
	double			 secs;
	int			 r, ex = 1;

	r = opts_parse(argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : EX_USAGE_BENCH;
	b.o = &o;
	if (bench_setup(&b, &err) != CG_OK || bench_run(&b, &err) != CG_OK) {
		cg_log_err_struct(__func__, "bench", &err);
		goto out;
	}
	secs = (double)(b.t_end - b.t_measure) / 1e9;
	lat_summarise(&b.st, &ls);
	if (b.first_err[0] != '\0')
		fprintf(stderr, "certgw-bench: first transport error: %s\n",
		    b.first_err);
	if (o.json ? report_json(&b, &ls, secs) != 0 :
	    (report_text(&b, &ls, secs), false))
		goto out;
	if (b.st.ok == 0) {
		fprintf(stderr, "certgw-bench: no request succeeded\n");
		goto out;
	}
	ex = 0;
out:
	bench_cleanup(&b);
	return ex;
}

/* ---------------------------------------------------------------- main */

static void
usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: certgw-bench <mode> [options]  (<mode> --help)\n");
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fprintf(f, "  %-6s %s\n", modes[i].name, modes[i].summary);
}

int
main(int argc, char **argv)
{
	size_t	i;

	if (argc < 2) {
		usage(stderr);
		return EX_USAGE_BENCH;
	}
	signal(SIGPIPE, SIG_IGN);
	cg_log_set_level(CG_LOG_WARN);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			return modes[i].run(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return EX_USAGE_BENCH;
}
