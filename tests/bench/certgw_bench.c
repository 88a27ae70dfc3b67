/*
 * certgw_bench.c - certgw-bench, the load generator for certgw's enrollment
 * front ends.  `certgw-bench <mode> ...` dispatches through a mode table;
 * mode est drives RFC 7030 simpleenroll over N concurrent HTTPS
 * connections (libevent, bufferevent_openssl) and reports throughput,
 * latency and TLS handshakes.  Mode dist enrolls at a fixed rate with the
 * same client and is itself the HTTPS endpoint the push workers deliver
 * to, so it times each certificate from issuance to delivery; it can also
 * run one side alone (--no-deliveries fills the queue, --receive-only
 * drains it), to measure the push workers apart from issuance.  It
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
int		bench_acme_main(int argc, char **argv);	/* bench_acme.c */
int		bench_scep_main(int argc, char **argv);	/* bench_scep.c */

/* ACME and SCEP modes join this table. */
static const struct bench_mode modes[] = {
	{ "est", est_main, "RFC 7030 simpleenroll over HTTPS" },
	{ "dist", dist_main, "issuance to push delivery, as the endpoint" },
	{ "acme", bench_acme_main, "RFC 8555 orders; answers http-01 itself" },
	{ "scep", bench_scep_main, "RFC 8894 PKCSReq enrollments, pre-built" },
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
	t0 = cg_mono_ns();
	pk = key_make(b->o->key);
	if (pk == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "key generation");
	rc = csr_make(pk, b->npool + b->csr_seq++, &c->fresh, err);
	EVP_PKEY_free(pk);
	dt = cg_mono_ns() - t0;
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
	uint64_t	 dt = cg_mono_ns() - c->t_start;
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
		c->t_start = cg_mono_ns();
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
		c->t_start = cg_mono_ns();	/* the handshake is part of it */
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
		b->t_measure = cg_mono_ns();
		evtimer_add(b->ev_phase, &tv);
		return;
	}
	b->phase = PHASE_STOP;
	b->t_end = cg_mono_ns();
	event_base_loopbreak(b->base);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct bench	*b = arg;

	if (b->phase == PHASE_WARMUP)
		b->t_measure = cg_mono_ns();
	b->phase = PHASE_STOP;
	b->t_end = cg_mono_ns();
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
		b->t_measure = cg_mono_ns();
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
		b->t_end = cg_mono_ns();
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

/* ----------------------------------------------------------- dist mode */

/*
 * certgw-bench dist plays the identity manager.  One loop holds the EST
 * clients of the est mode, paced by a timer, and an evhttp server over
 * TLS that certgw's push workers deliver to.  Both sides stamp with the
 * same monotonic clock, so issuance-to-delivery latency needs no clock
 * agreement between processes.  Either side can run alone: enrolling
 * without a receiver fills the push queue while no worker runs, and a
 * receiver without an EST client then times the workers draining it,
 * free of the issuance rate that bounds a run with both.
 */
#define DIST_COUNT_MAX		1000000	/* --count ceiling */
#define DIST_RATE_MAX		100000	/* --rate ceiling, per second */
#define DIST_CONNS		8	/* EST connections */
#define DIST_POOL		256	/* pooled CSRs */
#define DIST_DRAIN_S		30	/* default --drain-timeout, s */
#define DIST_DRAIN_MAX		3600	/* --drain-timeout ceiling */
#define DIST_IDLE_CHECK_MS	250	/* --receive-only idle check */
#define DIST_GRACE_MS		1000	/* after the last one, for duplicates */
#define DIST_TICK_MS		1	/* pacing timer */
#define DIST_KEY_MAX		256	/* Idempotency-Key bytes */
#define DIST_SERIAL_MAX		64	/* hex digits of a serial */
#define DIST_LISTEN_MAX		300	/* --listen length */
#define DIST_PUSH_BODY_MAX	(256 * 1024)	/* push body bytes */
#define DIST_PUSH_HEADERS_MAX	(16 * 1024)	/* push header bytes */
#define DIST_PUSH_TIMEOUT_S	30	/* receiver read/write timeout */

struct dist_opts {
	const char	*est_url;	/* --est-url */
	const char	*cacert;	/* --cacert: trusts the EST server */
	const char	*user;		/* --user */
	const char	*pw_file;	/* --password-file */
	const char	*listen;	/* --listen HOST:PORT */
	const char	*cert;		/* --cert: receiver certificate */
	const char	*key;		/* --key: its private key */
	const char	*client_ca;	/* --client-ca: push client CA */
	uint64_t	 rate;		/* --rate, 0: as fast as possible */
	uint64_t	 count;		/* --count */
	uint64_t	 drain_s;	/* --drain-timeout, seconds */
	bool		 receive_only;	/* --receive-only: no EST */
	bool		 no_deliveries;	/* --no-deliveries */
	bool		 json;		/* --json */
};

/* One slot of a string-keyed table; key NULL means free. */
struct dist_ent {
	char		*key;		/* serial or Idempotency-Key; owned */
	uint64_t	 t_issued;	/* ns, EST 200 parsed; 0: not yet */
	uint64_t	 t_deliv;	/* ns, first push; 0: none yet */
	uint32_t	 hits;		/* pushes with this key */
};

/* Open addressing with linear probing; never more than 3/4 full. */
struct dist_tab {
	struct dist_ent	*e;		/* cap slots */
	size_t		 cap;		/* a power of two */
	size_t		 n;		/* slots used */
};

struct dist {
	const struct dist_opts *o;	/* options */
	struct est_opts	 eo;		/* the EST client's options */
	SSL_CTX		*sctx;		/* receiver TLS context */
	struct evhttp	*http;		/* the receiver */
	struct event	*ev_tick;	/* pacing timer, --rate > 0 */
	struct event	*ev_end;	/* drain timeout, then grace */
	struct event	*ev_idle;	/* --receive-only: idle check */
	struct dist_tab	 serials;	/* serial -> issue and delivery times */
	struct dist_tab	 keys;		/* Idempotency-Key -> pushes */
	struct est_stats dl;		/* issuance-to-delivery latencies */
	uint64_t	 t0;		/* ns, first enrollment may start */
	uint64_t	 t_last_ok;	/* ns, last EST 200 */
	uint64_t	 t_enrolled;	/* ns, enrollment phase ended */
	uint64_t	 t_first_push;	/* ns, first new key pushed */
	uint64_t	 t_last_push;	/* ns, last new key pushed */
	uint64_t	 t_first_any;	/* ns, first POST answered */
	uint64_t	 t_last_any;	/* ns, last POST answered */
	uint64_t	 started;	/* enrollments sent */
	uint64_t	 ok;		/* issued, serial known */
	uint64_t	 failed;	/* enrollments that got no certificate */
	uint64_t	 pushes;	/* POSTs answered */
	uint64_t	 new_keys;	/* pushes with a key not seen before */
	uint64_t	 duplicates;	/* pushes with a key seen before */
	uint64_t	 matched;	/* issued serials delivered */
	uint64_t	 bad;		/* pushes without a usable key */
	uint64_t	 overflow;	/* pushes the tables had no room for */
	bool		 enrolled;	/* all enrollments answered */
	bool		 finishing;	/* everything delivered; grace runs */
	bool		 drain_expired;	/* stopped by the drain timeout */
};

static void
dist_usage(FILE *f)
{
	fprintf(f,
"usage: certgw-bench dist --est-url https://HOST:PORT/.well-known/est/\n"
"           --cacert FILE --user U --password-file F\n"
"           --listen HOST:PORT --cert F --key F --client-ca F\n"
"           --rate N --count M [--drain-timeout S] [--json]\n"
"       certgw-bench dist --no-deliveries --est-url URL --cacert FILE\n"
"           --user U --password-file F --rate N --count M [--json]\n"
"       certgw-bench dist --receive-only --listen HOST:PORT --cert F\n"
"           --key F --client-ca F --count M [--drain-timeout S] [--json]\n"
"\n"
"  --est-url URL        EST base URL; simpleenroll is appended\n"
"  --cacert FILE        trust anchors for the EST server certificate\n"
"  --user, --password-file   HTTP Basic credentials (first line of F)\n"
"  --listen HOST:PORT   where the push receiver listens (HTTPS)\n"
"  --cert, --key        the receiver's certificate chain and key\n"
"  --client-ca FILE     pushes must present a certificate chained to it\n"
"  --rate N             enrollments per second, open loop; 0: as fast\n"
"                       as %d connections go (max %d)\n"
"  --count M            enrollments in all, 1..%d; with --receive-only,\n"
"                       the distinct Idempotency-Keys to wait for\n"
"  --drain-timeout S    how long to wait for deliveries, 1..%d s\n"
"                       (default %d; see below)\n"
"  --no-deliveries      only enroll, as fast as --rate allows, and end\n"
"                       when every enrollment is answered: fills the\n"
"                       queue for a later --receive-only run\n"
"  --receive-only       only receive: no EST client, for draining a\n"
"                       queue that was filled before\n"
"  --json               one JSON object instead of key=value lines\n"
"\n"
"Each issued certificate must arrive as a POST whose Idempotency-Key is\n"
"<serial>.<rule>.<n>; those not delivered S s after the last enrollment\n"
"are reported missing.  With --receive-only the run ends when M distinct\n"
"keys have arrived, or when no POST has arrived for S s (counted from the\n"
"start until the first one); the keys short of M are reported missing.\n"
"The options of the side a run does not have are refused.\n",
	    DIST_CONNS, DIST_RATE_MAX, DIST_COUNT_MAX, DIST_DRAIN_MAX,
	    DIST_DRAIN_S);
}

/*
 * Options of the EST side and of the receiving side, as bits, so that a
 * run without that side can refuse them rather than ignore them.
 */
#define DIST_OPT_EST	0x1	/* --est-url --cacert --user ... */
#define DIST_OPT_RATE	0x2	/* --rate */
#define DIST_OPT_RECV	0x4	/* --listen --cert --key --client-ca */
#define DIST_OPT_DRAIN	0x8	/* --drain-timeout */

/* The combination of options; prints why and returns false. */
static bool
dist_opts_check(const struct dist_opts *o, unsigned given, bool have_count)
{
	bool	est, recv;

	est = o->est_url != NULL && o->cacert != NULL && o->user != NULL &&
	    o->pw_file != NULL && (given & DIST_OPT_RATE) != 0;
	recv = o->listen != NULL && o->cert != NULL && o->key != NULL &&
	    o->client_ca != NULL;
	if (o->receive_only && o->no_deliveries) {
		fprintf(stderr, "certgw-bench: --receive-only and "
		    "--no-deliveries exclude each other\n");
		return false;
	}
	if (o->receive_only && (given & (DIST_OPT_EST | DIST_OPT_RATE))) {
		fprintf(stderr, "certgw-bench: --receive-only runs no EST "
		    "client: no --est-url, --cacert, --user, "
		    "--password-file or --rate\n");
		return false;
	}
	if (o->no_deliveries && (given & (DIST_OPT_RECV | DIST_OPT_DRAIN))) {
		fprintf(stderr, "certgw-bench: --no-deliveries runs no "
		    "receiver: no --listen, --cert, --key, --client-ca or "
		    "--drain-timeout\n");
		return false;
	}
	if (!have_count || (!o->receive_only && !est) ||
	    (!o->no_deliveries && !recv)) {
		fprintf(stderr, "certgw-bench: dist needs every option of "
		    "the sides it runs (see usage)\n");
		return false;
	}
	return true;
}

static int
dist_opts_parse(int argc, char **argv, struct dist_opts *o)
{
	static const struct option lo[] = {
		{ "est-url", required_argument, NULL, 'u' },
		{ "cacert", required_argument, NULL, 'A' },
		{ "user", required_argument, NULL, 'U' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "listen", required_argument, NULL, 'l' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "client-ca", required_argument, NULL, 'Q' },
		{ "rate", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },
		{ "drain-timeout", required_argument, NULL, 'D' },
		{ "no-deliveries", no_argument, NULL, 'N' },
		{ "receive-only", no_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned	given = 0;
	int		ch;
	bool		ok = true, have_count = false;

	*o = (struct dist_opts){ .drain_s = DIST_DRAIN_S };
	optind = 1;
	while (ok && (ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': o->est_url = optarg; given |= DIST_OPT_EST; break;
		case 'A': o->cacert = optarg; given |= DIST_OPT_EST; break;
		case 'U': o->user = optarg; given |= DIST_OPT_EST; break;
		case 'P': o->pw_file = optarg; given |= DIST_OPT_EST; break;
		case 'l': o->listen = optarg; given |= DIST_OPT_RECV; break;
		case 'C': o->cert = optarg; given |= DIST_OPT_RECV; break;
		case 'K': o->key = optarg; given |= DIST_OPT_RECV; break;
		case 'Q': o->client_ca = optarg; given |= DIST_OPT_RECV; break;
		case 'r': ok = parse_num(optarg, 0, DIST_RATE_MAX, &o->rate);
			given |= DIST_OPT_RATE; break;
		case 'n': ok = parse_num(optarg, 1, DIST_COUNT_MAX,
		    &o->count); have_count = true; break;
		case 'D': ok = parse_num(optarg, 1, DIST_DRAIN_MAX,
		    &o->drain_s); given |= DIST_OPT_DRAIN; break;
		case 'N': o->no_deliveries = true; break;
		case 'R': o->receive_only = true; break;
		case 'j': o->json = true; break;
		case 'h': dist_usage(stdout); return 1;
		default: ok = false; break;
		}
	}
	if (!ok || optind != argc || !dist_opts_check(o, given, have_count)) {
		dist_usage(stderr);
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------- dist tables */

static enum cg_code
tab_init(struct dist_tab *t, size_t want, struct cg_err *err)
{
	size_t	cap = 1024;

	while (cap / 4 * 3 < want)
		cap *= 2;
	t->e = cg_calloc(cap, sizeof(*t->e));
	if (t->e == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	t->cap = cap;
	t->n = 0;
	return CG_OK;
}

static void
tab_free(struct dist_tab *t)
{
	size_t	i;

	for (i = 0; t->e != NULL && i < t->cap; i++)
		cg_free(t->e[i].key);
	cg_free(t->e);
	*t = (struct dist_tab){ 0 };
}

/* The entry for key, made when absent; NULL when the table is full. */
static struct dist_ent *
tab_get(struct dist_tab *t, const char *key)
{
	uint64_t	 h = 1469598103934665603ULL;	/* FNV-1a */
	const char	*p;
	size_t		 i;

	for (p = key; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	for (i = (size_t)h & (t->cap - 1); t->e[i].key != NULL;
	    i = (i + 1) & (t->cap - 1))
		if (strcmp(t->e[i].key, key) == 0)
			return &t->e[i];
	if (t->n >= t->cap / 4 * 3)
		return NULL;
	t->e[i].key = cg_strdup(key);
	if (t->e[i].key == NULL)
		return NULL;
	t->n++;
	return &t->e[i];
}

/*
 * A serial as the job id spells it: upper-case hex without leading
 * zeros.  Returns false when s is not hex or is too long.
 */
static bool
serial_norm(const char *s, size_t len, char out[DIST_SERIAL_MAX + 1])
{
	size_t	i, j = 0;
	char	ch;

	while (len > 1 && *s == '0') {
		s++;
		len--;
	}
	if (len == 0 || len > DIST_SERIAL_MAX)
		return false;
	for (i = 0; i < len; i++) {
		ch = s[i];
		if (ch >= 'a' && ch <= 'f')
			ch = (char)(ch - 'a' + 'A');
		else if (!((ch >= '0' && ch <= '9') ||
		    (ch >= 'A' && ch <= 'F')))
			return false;
		out[j++] = ch;
	}
	out[j] = '\0';
	return true;
}

/* The serial of the end-entity certificate in a base64 PKCS#7 body. */
static bool
p7_leaf_serial(struct evbuffer *in, size_t len,
    char out[DIST_SERIAL_MAX + 1])
{
	const unsigned char	*p, *q;
	uint8_t			*der = NULL;
	size_t			 dlen = 0;
	PKCS7			*p7 = NULL;
	X509			*x;
	BIGNUM			*bn = NULL;
	char			*hex = NULL;
	int			 i;
	bool			 ok = false;

	p = evbuffer_pullup(in, (ev_ssize_t)len);
	if (p == NULL || cg_base64_decode((const char *)p, len, false,
	    BENCH_BODY_MAX, &der, &dlen, NULL) != CG_OK)
		goto out;
	q = der;
	p7 = d2i_PKCS7(NULL, &q, (long)dlen);
	if (p7 == NULL || q != der + dlen || !PKCS7_type_is_signed(p7) ||
	    p7->d.sign == NULL || p7->d.sign->cert == NULL)
		goto out;
	/* The chain may ride along; the leaf is the one that is no CA. */
	for (i = 0; i < sk_X509_num(p7->d.sign->cert); i++) {
		x = sk_X509_value(p7->d.sign->cert, i);
		if (X509_check_ca(x) != 0)
			continue;
		bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		hex = bn != NULL ? BN_bn2hex(bn) : NULL;
		ok = hex != NULL && serial_norm(hex, strlen(hex), out);
		break;
	}
out:
	ERR_clear_error();
	OPENSSL_free(hex);
	BN_free(bn);
	PKCS7_free(p7);
	cg_free(der);
	return ok;
}

/* ---------------------------------------------------- dist: enrolling */

static void
dist_finish(struct bench *b)
{
	b->phase = PHASE_STOP;
	event_base_loopbreak(b->base);
}

/* Both times of a serial are known: one issuance-to-delivery sample. */
static void
dist_match(struct dist *d, struct dist_ent *se)
{
	uint64_t	dt;

	dt = se->t_deliv > se->t_issued ? se->t_deliv - se->t_issued : 0;
	lat_add(&d->dl, dt);
	d->matched++;
}

/*
 * Everything issued has arrived (with --receive-only: --count distinct
 * keys): wait a little for duplicates, stop.
 */
static void
dist_check_delivered(struct bench *b)
{
	struct dist	*d = b->dist;
	struct timeval	 tv = { DIST_GRACE_MS / 1000,
			     (DIST_GRACE_MS % 1000) * 1000 };

	if (d->finishing)
		return;
	if (d->o->receive_only ? d->new_keys < d->o->count :
	    !d->enrolled || d->matched < d->ok)
		return;
	d->finishing = true;
	evtimer_add(d->ev_end, &tv);
}

/* An EST response arrived for c: record the serial of a 200. */
static bool
dist_response(struct conn *c, struct evbuffer *in)
{
	struct bench	*b = c->b;
	struct dist	*d = b->dist;
	struct dist_ent	*se;
	char		 serial[DIST_SERIAL_MAX + 1];
	uint64_t	 now = cg_mono_ns();

	if (!c->busy)
		return false;
	c->busy = false;
	if (c->status != 200 || !p7_leaf_serial(in, (size_t)c->clen,
	    serial)) {
		d->failed++;
		return false;
	}
	b->st.checked++;
	se = tab_get(&d->serials, serial);
	if (se == NULL || se->t_issued != 0) {
		/* No room, or the CA repeated a serial: count it failed. */
		d->failed++;
		return false;
	}
	se->t_issued = now;
	d->ok++;
	d->t_last_ok = now;
	if (se->t_deliv != 0)		/* the push won the race */
		dist_match(d, se);
	return true;
}

/* A connection failed; an enrollment in flight on it is lost. */
static void
dist_conn_failed(struct conn *c)
{
	struct bench	*b = c->b;

	c->waiting = false;
	if (c->busy) {
		c->busy = false;
		b->dist->failed++;
		dist_check_enrolled(b);
	}
}

/*
 * Every enrollment has been answered: stop the EST side and give the
 * deliveries --drain-timeout to arrive; with --no-deliveries, stop.
 */
static void
dist_check_enrolled(struct bench *b)
{
	struct dist	*d = b->dist;
	struct timeval	 tv = { (time_t)d->o->drain_s, 0 };

	if (d->enrolled || d->started < d->o->count ||
	    d->ok + d->failed < d->started)
		return;
	d->enrolled = true;
	d->t_enrolled = cg_mono_ns();
	b->t_end = d->t_enrolled;
	b->phase = PHASE_STOP;		/* no reconnects, no counting */
	if (d->ev_tick != NULL)
		evtimer_del(d->ev_tick);
	if (d->o->no_deliveries) {
		dist_finish(b);
		return;
	}
	d->drain_expired = true;	/* unless dist_check_delivered */
	evtimer_add(d->ev_end, &tv);
	dist_check_delivered(b);
}

/* Enrollments the clock allows by now (all of them at --rate 0). */
static uint64_t
dist_due(const struct dist *d)
{
	uint64_t	due;

	if (d->o->rate == 0)
		return d->o->count;
	/* Open loop: the n-th enrollment is due at t0 + n / rate. */
	due = (cg_mono_ns() - d->t0) * d->o->rate / 1000000000u + 1;
	return due < d->o->count ? due : d->o->count;
}

/* c is connected and idle: send when one is due, else wait for the tick. */
static void
conn_ready(struct conn *c)
{
	struct bench	*b = c->b;
	struct dist	*d = b->dist;

	if (d == NULL) {
		conn_send(c);
		return;
	}
	c->waiting = false;
	if (d->enrolled || b->phase == PHASE_STOP || d->started >= d->o->count)
		return;
	if (d->started < dist_due(d)) {
		d->started++;
		c->busy = true;
		conn_send(c);
		return;
	}
	c->waiting = true;
}

static void
dist_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench	*b = arg;
	struct dist	*d = b->dist;
	size_t		 i;

	for (i = 0; i < DIST_CONNS && d->started < dist_due(d); i++)
		if (b->conns[i].waiting && b->conns[i].bev != NULL)
			conn_ready(&b->conns[i]);
}

static void
dist_end_cb(evutil_socket_t fd, short what, void *arg)
{
	dist_finish(arg);
}

/*
 * --receive-only: the queue is drained, or the workers are stuck, once
 * no POST has come for --drain-timeout.  A coarse periodic check costs
 * less than re-arming a timer on every push.
 */
static void
dist_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench	*b = arg;
	struct dist	*d = b->dist;
	uint64_t	 last = d->t_last_any != 0 ? d->t_last_any : d->t0;

	if (d->finishing || cg_mono_ns() - last < d->o->drain_s * 1000000000u)
		return;
	d->drain_expired = true;
	dist_finish(b);
}

/* ---------------------------------------------------- dist: receiving */

static void
dist_request_cb(struct evhttp_request *req, void *arg)
{
	struct bench	*b = arg;
	struct dist	*d = b->dist;
	struct dist_ent	*ke, *se;
	const char	*key, *dot;
	char		 serial[DIST_SERIAL_MAX + 1];
	uint64_t	 now = cg_mono_ns();

	d->pushes++;
	if (d->t_first_any == 0)
		d->t_first_any = now;
	d->t_last_any = now;
	key = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Idempotency-Key");
	if (key == NULL || strnlen(key, DIST_KEY_MAX + 1) > DIST_KEY_MAX ||
	    (dot = strchr(key, '.')) == NULL ||
	    !serial_norm(key, (size_t)(dot - key), serial)) {
		d->bad++;
		goto reply;
	}
	ke = tab_get(&d->keys, key);
	se = ke != NULL ? tab_get(&d->serials, serial) : NULL;
	if (se == NULL) {
		d->overflow++;
		goto reply;
	}
	if (ke->hits++ != 0) {
		d->duplicates++;
		goto reply;
	}
	d->new_keys++;
	if (d->t_first_push == 0)
		d->t_first_push = now;
	d->t_last_push = now;
	if (se->t_deliv == 0) {
		se->t_deliv = now;
		if (se->t_issued != 0)
			dist_match(d, se);
	}
	dist_check_delivered(b);
reply:
	/* 201 to every POST: the run measures delivery, not refusals. */
	evhttp_send_reply(req, 201, "Created", NULL);
}

/* Each accepted connection speaks TLS, with a client certificate. */
static struct bufferevent *
dist_bev_cb(struct event_base *base, void *arg)
{
	struct dist		*d = arg;
	struct bufferevent	*bev;
	SSL			*ssl;

	ssl = SSL_new(d->sctx);
	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static enum cg_code
dist_sctx_new(struct dist *d, struct cg_err *err)
{
	const struct dist_opts *o = d->o;
	STACK_OF(X509_NAME)	*names;
	SSL_CTX			*ctx;

	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "SSL_CTX_new failed");
	d->sctx = ctx;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return cg_err_crypto(err, CG_EINVAL,
		    "cannot load --cert/--key");
	if (SSL_CTX_load_verify_locations(ctx, o->client_ca, NULL) != 1)
		return cg_err_crypto(err, CG_EINVAL,
		    "cannot load --client-ca");
	names = SSL_load_client_CA_file(o->client_ca);
	if (names == NULL)
		return cg_err_crypto(err, CG_EINVAL,
		    "no names in --client-ca");
	SSL_CTX_set_client_CA_list(ctx, names);	/* takes names */
	/* A push without a certificate from the client CA never gets in. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return CG_OK;
}

/* HOST:PORT, HOST a name or an IPv4 address. */
static enum cg_code
dist_listen(struct bench *b, struct cg_err *err)
{
	struct dist	*d = b->dist;
	const char	*s = d->o->listen, *colon = strrchr(s, ':');
	char		 host[BENCH_HOST_MAX + 1];
	uint64_t	 port;
	size_t		 hl;

	if (strlen(s) > DIST_LISTEN_MAX || colon == NULL ||
	    (hl = (size_t)(colon - s)) == 0 || hl > BENCH_HOST_MAX ||
	    !parse_num(colon + 1, 1, 65535, &port))
		return cg_err_set(err, CG_EINVAL, "--listen must be HOST:PORT");
	memcpy(host, s, hl);
	host[hl] = '\0';
	d->http = evhttp_new(b->base);
	if (d->http == NULL)
		return cg_err_set(err, CG_ENOMEM, "cannot make the receiver");
	evhttp_set_bevcb(d->http, dist_bev_cb, d);
	evhttp_set_gencb(d->http, dist_request_cb, b);
	evhttp_set_allowed_methods(d->http, EVHTTP_REQ_POST);
	evhttp_set_max_headers_size(d->http, DIST_PUSH_HEADERS_MAX);
	evhttp_set_max_body_size(d->http, DIST_PUSH_BODY_MAX);
	evhttp_set_timeout(d->http, DIST_PUSH_TIMEOUT_S);
	if (evhttp_bind_socket_with_handle(d->http, host,
	    (ev_uint16_t)port) == NULL) {
		cg_err_set(err, CG_EIO, "cannot listen on --listen");
		cg_err_detail(err, "%s: %s", s,
		    strerror(EVUTIL_SOCKET_ERROR()));
		return CG_EIO;
	}
	return CG_OK;
}

static enum cg_code
dist_setup(struct bench *b, struct dist *d, struct cg_err *err)
{
	const struct dist_opts *o = d->o;
	enum cg_code	 rc;

	/* --receive-only: no connections, so the loop has no EST side. */
	d->eo = (struct est_opts){ .json = o->json };
	if (!o->receive_only) {
		d->eo = (struct est_opts){ .url = o->est_url,
		    .cacert = o->cacert, .user = o->user,
		    .pw_file = o->pw_file, .key = CSR_KEY_EC_P256,
		    .concurrency = DIST_CONNS, .pool = DIST_POOL,
		    .json = o->json };
		if (!opts_check(&d->eo))
			return cg_err_set(err, CG_EINVAL, "bad EST options");
	}
	b->o = &d->eo;
	b->dist = d;
	rc = tab_init(&d->serials, (size_t)o->count, err);
	if (rc == CG_OK && !o->no_deliveries)
		rc = tab_init(&d->keys, (size_t)o->count, err);
	if (rc == CG_OK && !o->no_deliveries)
		rc = dist_sctx_new(d, err);
	if (rc == CG_OK)			/* EST client and the loop */
		rc = o->receive_only ? loop_make(b, err) : bench_setup(b, err);
	if (rc == CG_OK && !o->no_deliveries)
		rc = dist_listen(b, err);
	if (rc != CG_OK)
		return rc;
	d->ev_end = evtimer_new(b->base, dist_end_cb, b);
	if (o->rate != 0 && !o->receive_only)
		d->ev_tick = event_new(b->base, -1, EV_PERSIST, dist_tick_cb,
		    b);
	if (o->receive_only)
		d->ev_idle = event_new(b->base, -1, EV_PERSIST, dist_idle_cb,
		    b);
	if (d->ev_end == NULL ||
	    (o->rate != 0 && !o->receive_only && d->ev_tick == NULL) ||
	    (o->receive_only && d->ev_idle == NULL))
		return cg_err_set(err, CG_ENOMEM, "cannot make the timers");
	return CG_OK;
}

static enum cg_code
dist_run(struct bench *b, struct cg_err *err)
{
	struct dist	*d = b->dist;
	struct timeval	 tick = { 0, DIST_TICK_MS * 1000 };
	struct timeval	 idle = { DIST_IDLE_CHECK_MS / 1000,
			     (DIST_IDLE_CHECK_MS % 1000) * 1000 };
	size_t		 i;

	b->phase = PHASE_MEASURE;
	b->t_measure = d->t0 = cg_mono_ns();
	if ((d->ev_tick != NULL && evtimer_add(d->ev_tick, &tick) != 0) ||
	    (d->ev_idle != NULL && evtimer_add(d->ev_idle, &idle) != 0))
		return cg_err_set(err, CG_EINTERNAL, "cannot arm the timer");
	for (i = 0; i < b->o->concurrency; i++)
		conn_start(&b->conns[i]);
	if (event_base_dispatch(b->base) < 0)
		return cg_err_set(err, CG_EINTERNAL, "event loop failed");
	if (d->o->receive_only) {	/* no enrollment phase */
		d->t_enrolled = b->t_end = cg_mono_ns();
		if (d->finishing)
			d->drain_expired = false;
	} else if (!d->enrolled) {	/* a signal or a CSR failure */
		d->t_enrolled = b->t_end = cg_mono_ns();
		d->drain_expired = false;
	} else if (d->finishing) {
		d->drain_expired = false;
	}
	return CG_OK;
}

static void
dist_cleanup(struct dist *d)
{
	if (d->http != NULL)
		evhttp_free(d->http);	/* before the loop goes */
	if (d->ev_tick != NULL)
		event_free(d->ev_tick);
	if (d->ev_end != NULL)
		event_free(d->ev_end);
	if (d->ev_idle != NULL)
		event_free(d->ev_idle);
	SSL_CTX_free(d->sctx);
	tab_free(&d->serials);
	tab_free(&d->keys);
	cg_free(d->dl.lat_us);
}

/* ----------------------------------------------------- dist: report */

struct dist_result {
	double		 enroll_s;	/* first send to last 200 */
	double		 enroll_per_s;
	double		 window_s;	/* first to last new push */
	double		 deliv_per_s;
	double		 push_window_s;	/* first to last POST */
	double		 push_per_s;	/* POSTs, duplicates too */
	uint64_t	 delivered;	/* matched, or new keys */
	uint64_t	 missing;	/* issued or expected, not here */
	uint64_t	 unmatched;	/* delivered, never issued by us */
	struct lat_summary est;		/* EST request latency */
	struct lat_summary lat;		/* issuance to delivery */
};

/* Which sides ran, for the report. */
static const char *
dist_side(const struct dist_opts *o)
{
	if (o->receive_only)
		return "receive";
	return o->no_deliveries ? "enroll" : "both";
}

static void
dist_summarise(struct bench *b, struct dist_result *r)
{
	struct dist	*d = b->dist;
	size_t		 i;

	*r = (struct dist_result){ 0 };
	if (d->ok != 0 && d->t_last_ok > d->t0)
		r->enroll_s = (double)(d->t_last_ok - d->t0) / 1e9;
	if (r->enroll_s > 0)
		r->enroll_per_s = (double)d->ok / r->enroll_s;
	/* n arrivals span n - 1 intervals. */
	if (d->t_last_push > d->t_first_push) {
		r->window_s = (double)(d->t_last_push - d->t_first_push) / 1e9;
		r->deliv_per_s = (double)(d->new_keys - 1) / r->window_s;
	}
	if (d->t_last_any > d->t_first_any) {
		r->push_window_s = (double)(d->t_last_any - d->t_first_any) /
		    1e9;
		r->push_per_s = (double)(d->pushes - 1) / r->push_window_s;
	}
	if (d->o->receive_only) {
		/* Nothing was issued here: the keys are all we know. */
		r->delivered = d->new_keys;
		r->missing = d->new_keys < d->o->count ?
		    d->o->count - d->new_keys : 0;
		return;
	}
	r->delivered = d->matched;
	for (i = 0; i < d->serials.cap; i++) {
		if (d->serials.e[i].key == NULL)
			continue;
		if (d->serials.e[i].t_issued != 0 &&
		    d->serials.e[i].t_deliv == 0)
			r->missing++;
		if (d->serials.e[i].t_issued == 0)
			r->unmatched++;
	}
	lat_summarise(&b->st, &r->est);
	lat_summarise(&d->dl, &r->lat);
}

/*
 * key=value lines.  A run without the EST side prints no bench=dist_enroll
 * line and no latencies; one without the receiver no bench=dist line.
 */
static void
dist_report_text(struct bench *b, const struct dist_result *r)
{
	struct dist		*d = b->dist;
	const struct dist_opts	*o = d->o;
	int			 i;

	printf("bench=dist_setup side=%s", dist_side(o));
	if (!o->receive_only)
		printf(" est_url=%s rate=%llu concurrency=%d csr_pool=%d",
		    o->est_url, (unsigned long long)o->rate, DIST_CONNS,
		    DIST_POOL);
	if (!o->no_deliveries)
		printf(" listen=%s drain_timeout_s=%llu", o->listen,
		    (unsigned long long)o->drain_s);
	printf(" count=%llu openssl=\"%s\"\n", (unsigned long long)o->count,
	    OPENSSL_VERSION_TEXT);
	if (!o->receive_only)
		printf("bench=dist_enroll started=%llu ok=%llu failed=%llu "
		    "elapsed_s=%.3f enroll_per_s=%.1f est_p50_ms=%.3f "
		    "est_p99_ms=%.3f est_max_ms=%.3f\n",
		    (unsigned long long)d->started, (unsigned long long)d->ok,
		    (unsigned long long)d->failed, r->enroll_s,
		    r->enroll_per_s, r->est.p50, r->est.p99, r->est.max);
	if (!o->no_deliveries) {
		printf("bench=dist pushes=%llu push_window_s=%.3f "
		    "pushes_per_s=%.1f delivered=%llu window_s=%.3f "
		    "deliveries_per_s=%.1f", (unsigned long long)d->pushes,
		    r->push_window_s, r->push_per_s,
		    (unsigned long long)r->delivered, r->window_s,
		    r->deliv_per_s);
		if (!o->receive_only)
			printf(" mean_ms=%.3f p50_ms=%.3f p90_ms=%.3f "
			    "p99_ms=%.3f max_ms=%.3f unmatched=%llu",
			    r->lat.mean, r->lat.p50, r->lat.p90, r->lat.p99,
			    r->lat.max, (unsigned long long)r->unmatched);
		printf(" duplicates=%llu missing=%llu bad_requests=%llu "
		    "overflow=%llu drain_expired=%s%s\n",
		    (unsigned long long)d->duplicates,
		    (unsigned long long)r->missing,
		    (unsigned long long)d->bad,
		    (unsigned long long)d->overflow, yn(d->drain_expired),
		    d->dl.lat_capped ? " latency_samples=capped" : "");
	}
	if (errors_total(&b->st) != 0) {
		printf("bench=dist_errors");
		for (i = BENCH_STATUS_MIN; i <= BENCH_STATUS_MAX; i++)
			if (b->st.status[i] != 0)
				printf(" status_%d=%llu", i,
				    (unsigned long long)b->st.status[i]);
		for (i = 0; i < FAIL__MAX; i++)
			if (b->st.fail[i] != 0)
				printf(" %s=%llu", fail_names[i],
				    (unsigned long long)b->st.fail[i]);
		printf("\n");
	}
}

/* The EST side's part of the JSON object. */
static int
dist_json_enroll(json_t *j, struct bench *b, const struct dist_result *r)
{
	struct dist		*d = b->dist;
	const struct dist_opts	*o = d->o;
	json_t			*e;

	e = json_pack("{s:I, s:I, s:I, s:f, s:f, s:o, s:{s:f, s:f, s:f}}",
	    "started", (json_int_t)d->started,
	    "ok", (json_int_t)d->ok, "failed", (json_int_t)d->failed,
	    "elapsed_s", r->enroll_s, "enrollments_per_s", r->enroll_per_s,
	    "errors", errors_json(&b->st),
	    "latency_ms", "p50", r->est.p50, "p99", r->est.p99,
	    "max", r->est.max);
	if (e == NULL ||
	    json_object_set_new(j, "est_url", json_string(o->est_url)) != 0 ||
	    json_object_set_new(j, "rate", json_integer((json_int_t)o->rate))
	    != 0 ||
	    json_object_set_new(j, "concurrency", json_integer(DIST_CONNS))
	    != 0 ||
	    json_object_set_new(j, "csr_pool", json_integer(DIST_POOL)) != 0 ||
	    json_object_set_new(j, "enroll", e) != 0)
		return -1;
	return 0;
}

/* The receiver's part of the JSON object. */
static int
dist_json_receive(json_t *j, struct bench *b, const struct dist_result *r)
{
	struct dist		*d = b->dist;
	const struct dist_opts	*o = d->o;
	json_t			*p;

	p = json_pack("{s:s, s:I, s:I, s:f, s:f, s:I, s:f, s:f}",
	    "listen", o->listen, "drain_timeout_s", (json_int_t)o->drain_s,
	    "pushes", (json_int_t)d->pushes,
	    "push_window_s", r->push_window_s, "pushes_per_s", r->push_per_s,
	    "delivered", (json_int_t)r->delivered,
	    "window_s", r->window_s, "deliveries_per_s", r->deliv_per_s);
	if (p == NULL || json_object_update(j, p) != 0) {
		json_decref(p);
		return -1;
	}
	json_decref(p);
	if (!o->receive_only && (json_object_set_new(j, "latency_ms",
	    json_pack("{s:f, s:f, s:f, s:f, s:f, s:I, s:b}",
	    "mean", r->lat.mean, "p50", r->lat.p50, "p90", r->lat.p90,
	    "p99", r->lat.p99, "max", r->lat.max,
	    "samples", (json_int_t)d->dl.nlat, "capped", d->dl.lat_capped))
	    != 0 || json_object_set_new(j, "unmatched",
	    json_integer((json_int_t)r->unmatched)) != 0))
		return -1;
	p = json_pack("{s:I, s:I, s:I, s:I, s:b}",
	    "duplicates", (json_int_t)d->duplicates,
	    "missing", (json_int_t)r->missing,
	    "bad_requests", (json_int_t)d->bad,
	    "overflow", (json_int_t)d->overflow,
	    "drain_expired", d->drain_expired);
	if (p == NULL || json_object_update(j, p) != 0) {
		json_decref(p);
		return -1;
	}
	json_decref(p);
	return 0;
}

/*
 * One JSON object.  Without the EST side (--receive-only) est_url, rate,
 * concurrency, csr_pool, enroll, latency_ms and unmatched are left out;
 * without the receiver (--no-deliveries) listen, drain_timeout_s and
 * everything about pushes.
 */
static int
dist_report_json(struct bench *b, const struct dist_result *r)
{
	const struct dist_opts	*o = b->dist->o;
	json_t			*j;
	int			 rc = -1;

	j = json_pack("{s:s, s:s, s:I}", "mode", "dist",
	    "side", dist_side(o), "count", (json_int_t)o->count);
	if (j == NULL)
		return -1;
	if (!o->receive_only && dist_json_enroll(j, b, r) != 0)
		goto out;
	if (!o->no_deliveries && dist_json_receive(j, b, r) != 0)
		goto out;
	if (json_object_set_new(j, "openssl",
	    json_string(OPENSSL_VERSION_TEXT)) != 0)
		goto out;
	rc = json_dumpf(j, stdout, JSON_COMPACT) == 0 ? 0 : -1;
	printf("\n");
out:
	json_decref(j);
	return rc;
}

static int
dist_main(int argc, char **argv)
{
	struct dist_opts	 o;
	struct dist		 d = { 0 };
	struct bench		 b = { 0 };
	struct dist_result	 r;
	struct cg_err		 err = { 0 };
	int			 rc, ex = 1;

	rc = dist_opts_parse(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? 0 : EX_USAGE_BENCH;
	d.o = &o;
	if (dist_setup(&b, &d, &err) != CG_OK || dist_run(&b, &err) != CG_OK) {
		cg_log_err_struct(__func__, "bench", &err);
		goto out;
	}
	dist_summarise(&b, &r);
	if (b.first_err[0] != '\0')
		fprintf(stderr, "certgw-bench: first transport error: %s\n",
		    b.first_err);
	if (o.json ? dist_report_json(&b, &r) != 0 :
	    (dist_report_text(&b, &r), false))
		goto out;
	/* Missing deliveries are reported, not failed: only none at all. */
	if ((!o.receive_only && d.ok == 0) ||
	    (!o.no_deliveries && r.delivered == 0)) {
		fprintf(stderr, "certgw-bench: nothing was %s\n",
		    !o.receive_only && d.ok == 0 ? "issued" : "delivered");
		goto out;
	}
	ex = 0;
out:
	dist_cleanup(&d);
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
