/*
 * test_acme_validate.c - the ACME validation authority
 * (protocols/acme/acme_validate*.c) against real servers on loopback,
 * started here: a DNS responder thread (UDP; A 127.0.0.1 for every name,
 * no AAAA, TXT, CAA and CNAME from a table, NXDOMAIN, SERVFAIL and
 * silence under chosen suffixes), an HTTP server (a thread per
 * connection, routes with statuses, bodies, redirects), a TLS server
 * that answers ALPN acme-tls/1 with certificates made here (and broken
 * variants), and a socket that listens but never accepts.  Covered:
 * every challenge's success and each failure's problem type, timeouts,
 * redirects, body limits, CAA decisions, the in-flight limit, 50 jobs at
 * once, and jobs still running when the validator is freed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../../protocols/acme/acme_validate.h"

#define TOKEN		"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define THUMB		"9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define KEYAUTH		TOKEN "." THUMB
#define WAIT_MS		15000	/* longest a test waits for one result */
#define TIMEOUT_MS	3000	/* validator deadline in most tests */
#define VEXCERPT	40	/* peer bytes a detail may quote */

static atomic_bool	 stopping;

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A loopback TCP or UDP socket on an ephemeral port. */
static int
listen_on(int type, uint16_t *port, bool do_listen)
{
	struct sockaddr_in sin;
	socklen_t	 sl = sizeof(sin);
	int		 fd, one = 1;

	fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	if (do_listen)
		assert_int_equal(listen(fd, 128), 0);
	return fd;
}

/* Wait for fd to be readable, giving up when the servers stop. */
static bool
wait_readable(int fd)
{
	struct pollfd	 p = { .fd = fd, .events = POLLIN };

	while (!atomic_load(&stopping))
		if (poll(&p, 1, 50) > 0)
			return true;
	return false;
}

/* ------------------------------------------------------------- DNS */

#define DNS_RRS_MAX	64

struct dns_rr {
	char		 name[256];
	char		 target[256];	/* CNAME: the target, as text */
	uint16_t	 type;
	uint8_t		 rdata[512];
	size_t		 len;
};

static pthread_mutex_t	 dns_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dns_rr	 dns_rrs[DNS_RRS_MAX];
static size_t		 dns_n;
static atomic_int	 dns_queries;
static int		 dns_fd = -1;
static uint16_t		 dns_port;
static pthread_t	 dns_thr;

static void
dns_clear(void)
{
	pthread_mutex_lock(&dns_mu);
	dns_n = 0;
	pthread_mutex_unlock(&dns_mu);
}

static void
dns_add(const char *name, uint16_t type, const void *rdata, size_t len)
{
	pthread_mutex_lock(&dns_mu);
	assert_true(dns_n < DNS_RRS_MAX && len <= sizeof(dns_rrs[0].rdata));
	(void)snprintf(dns_rrs[dns_n].name, sizeof(dns_rrs[0].name), "%s",
	    name);
	dns_rrs[dns_n].type = type;
	memcpy(dns_rrs[dns_n].rdata, rdata, len);
	dns_rrs[dns_n].len = len;
	dns_n++;
	pthread_mutex_unlock(&dns_mu);
}

static void
dns_add_txt(const char *name, const char *value)
{
	uint8_t	 rd[300];
	size_t	 len = strlen(value);

	assert_true(len < 256);
	rd[0] = (uint8_t)len;
	memcpy(rd + 1, value, len);
	dns_add(name, 16, rd, len + 1);
}

static void
dns_add_caa(const char *name, uint8_t flags, const char *tag,
    const char *value)
{
	uint8_t	 rd[300];
	size_t	 tl = strlen(tag), vl = strlen(value);

	rd[0] = flags;
	rd[1] = (uint8_t)tl;
	memcpy(rd + 2, tag, tl);
	memcpy(rd + 2 + tl, value, vl);
	dns_add(name, 257, rd, 2 + tl + vl);
}

/* A name in wire form (no compression); returns bytes written. */
static size_t
dns_put_name(uint8_t *out, const char *name)
{
	size_t	 off = 0;
	const char *p = name, *dot;

	size_t	 l;

	while (*p != '\0') {
		dot = strchr(p, '.');
		l = dot ? (size_t)(dot - p) : strlen(p);
		out[off++] = (uint8_t)l;
		memcpy(out + off, p, l);
		off += l;
		p += l;
		if (*p == '.')
			p++;
	}
	out[off++] = 0;
	return off;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t	 a = strlen(s), b = strlen(suffix);

	return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

static size_t
dns_put_rr(uint8_t *out, const char *owner, uint16_t type,
    const uint8_t *rd, size_t len)
{
	size_t	 off = dns_put_name(out, owner);

	out[off++] = type >> 8;
	out[off++] = type & 0xff;
	out[off++] = 0;
	out[off++] = 1;				/* IN */
	memset(out + off, 0, 3);
	out[off + 3] = 60;			/* TTL */
	off += 4;
	out[off++] = len >> 8;
	out[off++] = len & 0xff;
	memcpy(out + off, rd, len);
	return off + len;
}

/* Answer one query in q (qlen bytes) into r; 0: stay silent. */
static size_t
dns_answer(const uint8_t *q, size_t qlen, uint8_t *r, size_t rcap)
{
	char		 qname[256], name[256];
	size_t		 off = 12, nl = 0, roff, i, an = 0, l;
	uint16_t	 qtype;
	int		 rcode = 0;

	if (qlen < 12 || q[4] != 0 || q[5] != 1)
		return 0;
	while (off < qlen && q[off] != 0) {
		l = q[off++];
		if (l > 63 || off + l > qlen || nl + l + 2 > sizeof(qname))
			return 0;
		if (nl > 0)
			qname[nl++] = '.';
		memcpy(qname + nl, q + off, l);
		nl += l;
		off += l;
	}
	qname[nl] = '\0';
	if (off + 5 > qlen)
		return 0;
	off++;
	qtype = (uint16_t)(q[off] << 8 | q[off + 1]);
	off += 4;
	atomic_fetch_add(&dns_queries, 1);
	if (ends_with(qname, ".drop.test"))
		return 0;
	memcpy(r, q, off);
	roff = off;
	(void)snprintf(name, sizeof(name), "%s", qname);
	pthread_mutex_lock(&dns_mu);
	for (i = 0; i < dns_n; i++)
		if (dns_rrs[i].type == 5 &&
		    strcasecmp(dns_rrs[i].name, name) == 0) {
			roff += dns_put_rr(r + roff, name, 5, dns_rrs[i].rdata,
			    dns_rrs[i].len);
			an++;
			(void)snprintf(name, sizeof(name), "%s",
			    dns_rrs[i].target);
			break;
		}
	if (ends_with(name, ".nx.test"))
		rcode = 3;
	else if (ends_with(name, ".fail.test"))
		rcode = 2;
	else if (qtype == 1) {
		static const uint8_t lo[4] = { 127, 0, 0, 1 };

		roff += dns_put_rr(r + roff, name, 1, lo, 4);
		an++;
	} else
		for (i = 0; i < dns_n && roff + 600 < rcap; i++)
			if (dns_rrs[i].type == qtype &&
			    strcasecmp(dns_rrs[i].name, name) == 0) {
				roff += dns_put_rr(r + roff, name, qtype,
				    dns_rrs[i].rdata, dns_rrs[i].len);
				an++;
			}
	pthread_mutex_unlock(&dns_mu);
	r[2] = 0x84 | (q[2] & 0x01);		/* QR, AA, RD as asked */
	r[3] = 0x80 | rcode;			/* RA */
	r[6] = an >> 8;
	r[7] = an & 0xff;
	r[8] = r[9] = r[10] = r[11] = 0;
	return roff;
}

static void *
dns_main(void *arg)
{
	uint8_t			 q[512], r[4096];
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	ssize_t			 n;
	size_t			 rl;

	while (wait_readable(dns_fd)) {
		sl = sizeof(ss);
		n = recvfrom(dns_fd, q, sizeof(q), 0, (struct sockaddr *)&ss,
		    &sl);
		if (n <= 0)
			continue;
		if ((rl = dns_answer(q, (size_t)n, r, sizeof(r))) > 0)
			(void)sendto(dns_fd, r, rl, 0, (struct sockaddr *)&ss,
			    sl);
	}
	return NULL;
}

static void
dns_add_cname(const char *name, const char *target)
{
	uint8_t	 rd[512];

	dns_add(name, 5, rd, dns_put_name(rd, target));
	pthread_mutex_lock(&dns_mu);
	(void)snprintf(dns_rrs[dns_n - 1].target,
	    sizeof(dns_rrs[0].target), "%s", target);
	pthread_mutex_unlock(&dns_mu);
}

/* ------------------------------------------------------------ HTTP */

#define ROUTES_MAX	64

struct route {
	char		 path[256];
	int		 status;
	char		*body;
	size_t		 len;
	char		 location[512];
};

static pthread_mutex_t	 http_mu = PTHREAD_MUTEX_INITIALIZER;
static struct route	 routes[ROUTES_MAX];
static size_t		 nroutes;
static char		 last_ua[128];
static int		 http_fd = -1, hole_fd = -1;
static uint16_t		 http_port, hole_port, closed_port;
static pthread_t	 http_thr;
static atomic_int	 http_conns;

static void
route_clear(void)
{
	size_t	 i;

	pthread_mutex_lock(&http_mu);
	for (i = 0; i < nroutes; i++)
		free(routes[i].body);
	nroutes = 0;
	pthread_mutex_unlock(&http_mu);
}

static void
route_add(const char *path, int status, const char *body, size_t len,
    const char *location)
{
	struct route	*r;

	pthread_mutex_lock(&http_mu);
	assert_true(nroutes < ROUTES_MAX);
	r = &routes[nroutes++];
	(void)snprintf(r->path, sizeof(r->path), "%s", path);
	r->status = status;
	r->body = malloc(len + 1);
	assert_non_null(r->body);
	memcpy(r->body, body, len);
	r->len = len;
	(void)snprintf(r->location, sizeof(r->location), "%s",
	    location != NULL ? location : "");
	pthread_mutex_unlock(&http_mu);
}

static void
write_all(int fd, const void *p, size_t len)
{
	const uint8_t	*b = p;
	ssize_t		 n;

	while (len > 0 && (n = write(fd, b, len)) > 0) {
		b += n;
		len -= n;
	}
}

static void *
http_conn(void *arg)
{
	int		 fd = (int)(intptr_t)arg;
	char		 req[4096], path[256], head[1024], *ua;
	size_t		 len = 0, i;
	ssize_t		 n;
	struct route	 r;
	bool		 found = false;

	while (len < sizeof(req) - 1 && wait_readable(fd) &&
	    (n = read(fd, req + len, sizeof(req) - 1 - len)) > 0) {
		len += n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL || req[0] == 0x16)
			break;	/* a request, or a TLS ClientHello */
	}
	req[len] = '\0';
	path[0] = '\0';
	if (strncmp(req, "GET ", 4) == 0) {
		for (i = 0; req[4 + i] != ' ' && req[4 + i] != '\0' &&
		    i < sizeof(path) - 1; i++)
			path[i] = req[4 + i];
		path[i] = '\0';
	}
	pthread_mutex_lock(&http_mu);
	if ((ua = strcasestr(req, "\r\nUser-Agent: ")) != NULL) {
		ua += 14;
		for (i = 0; ua[i] != '\r' && ua[i] != '\0' &&
		    i < sizeof(last_ua) - 1; i++)
			last_ua[i] = ua[i];
		last_ua[i] = '\0';
	}
	memset(&r, 0, sizeof(r));
	for (i = 0; i < nroutes; i++)
		if (strcmp(routes[i].path, path) == 0) {
			r = routes[i];
			if ((r.body = malloc(r.len + 1)) != NULL)
				memcpy(r.body, routes[i].body, r.len);
			found = r.body != NULL;
			break;
		}
	pthread_mutex_unlock(&http_mu);
	if (!found) {
		r.status = 404;
		r.body = strdup("not found");
		r.len = strlen(r.body);
	}
	(void)snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n%s%s%s\r\n",
	    r.status, r.len, r.location[0] ? "Location: " : "", r.location,
	    r.location[0] ? "\r\n" : "");
	write_all(fd, head, strlen(head));
	write_all(fd, r.body, r.len);
	free(r.body);
	(void)shutdown(fd, SHUT_WR);
	(void)close(fd);
	atomic_fetch_sub(&http_conns, 1);
	return NULL;
}

static void *
http_main(void *arg)
{
	pthread_t	 t;
	int		 fd;

	while (wait_readable(http_fd)) {
		if ((fd = accept4(http_fd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		atomic_fetch_add(&http_conns, 1);
		if (pthread_create(&t, NULL, http_conn,
		    (void *)(intptr_t)fd) != 0) {
			(void)close(fd);
			atomic_fetch_sub(&http_conns, 1);
			continue;
		}
		(void)pthread_detach(t);
	}
	return NULL;
}

/* ------------------------------------------------------------- TLS */

enum tls_variant {
	TV_GOOD = 0,		/* SAN dNSName alpn.test, right digest */
	TV_IP,			/* SAN iPAddress 127.0.0.1 */
	TV_BAD_DIGEST,
	TV_NOT_CRITICAL,
	TV_TWO_SANS,
	TV_NO_ALPN,		/* a good certificate, no ALPN answer */
	TV__MAX
};

static X509		*tls_certs[TV__MAX];
static EVP_PKEY		*tls_key;
static SSL_CTX		*tls_ctx;
static atomic_int	 tls_variant;
static char		 tls_sni[256];
static pthread_mutex_t	 tls_mu = PTHREAD_MUTEX_INITIALIZER;
static int		 tls_fd = -1;
static uint16_t		 tls_port;
static pthread_t	 tls_thr;

static X509 *
make_cert(const char *sans, const uint8_t digest[32], bool critical)
{
	X509		*x = X509_new();
	X509_EXTENSION	*ext;
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	ASN1_OBJECT	*oid = OBJ_txt2obj(ACME_TLSALPN_OID, 1);
	uint8_t		 val[34];

	assert_non_null(x);
	assert_non_null(os);
	assert_non_null(oid);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)"acme", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)),
	    1);
	assert_int_equal(X509_set_pubkey(x, tls_key), 1);
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	val[0] = 0x04;
	val[1] = 32;
	memcpy(val + 2, digest, 32);
	assert_int_equal(ASN1_OCTET_STRING_set(os, val, sizeof(val)), 1);
	ext = X509_EXTENSION_create_by_OBJ(NULL, oid, critical, os);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(oid);
	assert_true(X509_sign(x, tls_key, EVP_sha256()) > 0);
	return x;
}

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned int	 i;

	if (atomic_load(&tls_variant) == TV_NO_ALPN)
		return SSL_TLSEXT_ERR_NOACK;
	for (i = 0; i < inlen; i += 1 + in[i])
		if (in[i] == 10 && i + 11 <= inlen &&
		    memcmp(in + i + 1, "acme-tls/1", 10) == 0) {
			*out = in + i + 1;
			*outlen = 10;
			return SSL_TLSEXT_ERR_OK;
		}
	return SSL_TLSEXT_ERR_NOACK;
}

static void *
tls_main(void *arg)
{
	struct timeval	 tv = { 2, 0 };
	const char	*sni;
	SSL		*ssl;
	int		 fd;

	while (wait_readable(tls_fd)) {
		if ((fd = accept4(tls_fd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if ((ssl = SSL_new(tls_ctx)) != NULL &&
		    SSL_use_certificate(ssl,
		    tls_certs[atomic_load(&tls_variant)]) == 1 &&
		    SSL_use_PrivateKey(ssl, tls_key) == 1 &&
		    SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
			sni = SSL_get_servername(ssl,
			    TLSEXT_NAMETYPE_host_name);
			pthread_mutex_lock(&tls_mu);
			(void)snprintf(tls_sni, sizeof(tls_sni), "%s",
			    sni != NULL ? sni : "");
			pthread_mutex_unlock(&tls_mu);
			(void)SSL_shutdown(ssl);
		}
		ERR_clear_error();
		SSL_free(ssl);
		(void)close(fd);
	}
	return NULL;
}

/* ------------------------------------------------------------ setup */

static int
servers_up(void **state)
{
	uint8_t		 d[32], bad[32];
	int		 fd;

	dns_fd = listen_on(SOCK_DGRAM, &dns_port, false);
	http_fd = listen_on(SOCK_STREAM, &http_port, true);
	hole_fd = listen_on(SOCK_STREAM, &hole_port, true);
	tls_fd = listen_on(SOCK_STREAM, &tls_port, true);
	/* A port nothing listens on: bound, then closed. */
	fd = listen_on(SOCK_STREAM, &closed_port, false);
	(void)close(fd);

	tls_key = EVP_EC_gen("P-256");
	assert_non_null(tls_key);
	acme_tlsalpn01_digest(KEYAUTH, d);
	memcpy(bad, d, 32);
	bad[0] ^= 1;
	tls_certs[TV_GOOD] = make_cert("DNS:alpn.test", d, true);
	tls_certs[TV_IP] = make_cert("IP:127.0.0.1", d, true);
	tls_certs[TV_BAD_DIGEST] = make_cert("DNS:alpn.test", bad, true);
	tls_certs[TV_NOT_CRITICAL] = make_cert("DNS:alpn.test", d, false);
	tls_certs[TV_TWO_SANS] = make_cert("DNS:alpn.test,DNS:other.test", d,
	    true);
	tls_certs[TV_NO_ALPN] = make_cert("DNS:alpn.test", d, true);
	tls_ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(tls_ctx);
	SSL_CTX_set_alpn_select_cb(tls_ctx, alpn_select, NULL);

	assert_int_equal(pthread_create(&dns_thr, NULL, dns_main, NULL), 0);
	assert_int_equal(pthread_create(&http_thr, NULL, http_main, NULL), 0);
	assert_int_equal(pthread_create(&tls_thr, NULL, tls_main, NULL), 0);
	return 0;
}

static int
servers_down(void **state)
{
	int	 i;

	atomic_store(&stopping, true);
	(void)pthread_join(dns_thr, NULL);
	(void)pthread_join(http_thr, NULL);
	(void)pthread_join(tls_thr, NULL);
	while (atomic_load(&http_conns) > 0)
		usleep(10000);
	route_clear();
	(void)close(dns_fd);
	(void)close(http_fd);
	(void)close(hole_fd);
	(void)close(tls_fd);
	for (i = 0; i < TV__MAX; i++)
		X509_free(tls_certs[i]);
	EVP_PKEY_free(tls_key);
	SSL_CTX_free(tls_ctx);
	return 0;
}

static int
reset(void **state)
{
	dns_clear();
	route_clear();
	atomic_store(&tls_variant, TV_GOOD);
	return 0;
}

/* ------------------------------------------------------------ helpers */

static char	 resolver[32];

static struct acme_validator *
vnew(uint16_t hport, uint16_t tport, uint32_t timeout_ms, size_t in_flight)
{
	struct acme_vconf conf;
	struct acme_validator *v = NULL;
	struct cg_err	 err;

	memset(&err, 0, sizeof(err));
	(void)snprintf(resolver, sizeof(resolver), "127.0.0.1:%u", dns_port);
	memset(&conf, 0, sizeof(conf));
	conf.http_port = hport;
	conf.tls_alpn_port = tport;
	conf.resolver = resolver;
	conf.timeout_ms = timeout_ms;
	conf.in_flight = in_flight;
	assert_int_equal(acme_validator_new(&conf, &v, &err), CG_OK);
	assert_non_null(v);
	return v;
}

static struct acme_validator *
vdefault(void)
{
	return vnew(http_port, tls_port, TIMEOUT_MS, 0);
}

struct waiter {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 calls;
	struct acme_vresult res;
};

static void
waiter_init(struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
}

static void
done_cb(void *arg, const struct acme_vresult *res)
{
	struct waiter	*w = arg;

	pthread_mutex_lock(&w->mu);
	w->calls++;
	w->res = *res;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void
waiter_wait(struct waiter *w)
{
	uint64_t	 end = now_ms() + WAIT_MS;

	pthread_mutex_lock(&w->mu);
	while (w->calls == 0 && now_ms() < end) {
		pthread_mutex_unlock(&w->mu);
		usleep(2000);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	assert_int_equal(w->calls, 1);
}

static void
job_init(struct acme_vjob *job, enum acme_vtype type, const char *value,
    bool ip)
{
	memset(job, 0, sizeof(*job));
	job->type = type;
	job->ip = ip;
	(void)snprintf(job->value, sizeof(job->value), "%s", value);
	(void)snprintf(job->token, sizeof(job->token), "%s", TOKEN);
	(void)snprintf(job->keyauth, sizeof(job->keyauth), "%s", KEYAUTH);
}

/* Run job on v and return its result (done called exactly once). */
static struct acme_vresult
run(struct acme_validator *v, const struct acme_vjob *job)
{
	struct waiter	 w;
	struct cg_err	 err;

	memset(&err, 0, sizeof(err));
	waiter_init(&w);
	assert_int_equal(acme_validate(v, job, done_cb, &w, &err), CG_OK);
	waiter_wait(&w);
	/* Nothing else comes for it. */
	usleep(20000);
	assert_int_equal(w.calls, 1);
	return w.res;
}

static struct acme_vresult
run1(const struct acme_vjob *job)
{
	struct acme_validator *v = vdefault();
	struct acme_vresult res = run(v, job);

	assert_int_equal(acme_validator_in_flight(v), 0);
	acme_validator_free(v);
	return res;
}

#define assert_fail(res, p, needle) do {				\
	assert_false((res).ok);						\
	if ((res).prob != (p) ||					\
	    strstr((res).detail, (needle)) == NULL)			\
		fail_msg("prob %s detail \"%s\", want %s and \"%s\"",	\
		    acme_problem_type((res).prob), (res).detail,	\
		    acme_problem_type(p), (needle));			\
} while (0)

#define assert_ok(res) do {						\
	if (!(res).ok)							\
		fail_msg("failed: %s %s", acme_problem_type((res).prob),\
		    (res).detail);					\
} while (0)

static const char *
chall_path(void)
{
	return "/.well-known/acme-challenge/" TOKEN;
}

/* ------------------------------------------------------- pure parts */

static void
test_expected_values(void **state)
{
	uint8_t		 d[32], ref[32];
	unsigned int	 n = 32;
	char		 txt[44], *b64;
	size_t		 i;

	assert_int_equal(EVP_Digest(KEYAUTH, strlen(KEYAUTH), ref, &n,
	    EVP_sha256(), NULL), 1);
	acme_tlsalpn01_digest(KEYAUTH, d);
	assert_memory_equal(d, ref, 32);
	/* base64url = base64 with -_ and no padding (RFC 4648 §5) */
	assert_int_equal(cg_base64_encode(ref, 32, &b64, NULL), CG_OK);
	for (i = 0; b64[i] != '\0'; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	b64[43] = '\0';
	acme_dns01_txt(KEYAUTH, txt);
	assert_int_equal(strlen(txt), 43);
	assert_string_equal(txt, b64);
	cg_free(b64);
}

static void
test_caa_parse(void **state)
{
	struct acme_caa_issue is;

#define P(s)	acme_caa_parse_issue((const uint8_t *)(s), strlen(s), &is)
	assert_true(P("ca.example"));
	assert_string_equal(is.issuer, "ca.example");
	assert_int_equal(is.nparams, 0);
	assert_true(P("  ca.example ; accounturi=https://ca/acct/1 ; "
	    "validationmethods=dns-01,http-01"));
	assert_string_equal(is.issuer, "ca.example");
	assert_int_equal(is.nparams, 2);
	assert_string_equal(is.params[0].tag, "accounturi");
	assert_string_equal(is.params[0].value, "https://ca/acct/1");
	assert_string_equal(is.params[1].value, "dns-01,http-01");
	assert_true(P(";"));
	assert_string_equal(is.issuer, "");
	assert_true(P(""));
	assert_string_equal(is.issuer, "");
	assert_true(P("ca.example;"));
	assert_true(P("ca.example; k="));
	assert_false(P("ca..example"));
	assert_false(P("-ca.example"));
	assert_false(P("ca.example."));
	assert_false(P("ca.example junk"));
	assert_false(P("ca.example; =v"));
	assert_false(P("ca.example; k v"));
	assert_false(P("ca.example; k=a b"));
	assert_false(P("ca_example"));
	assert_false(P("ca.example; -k=v"));
	assert_false(acme_caa_parse_issue((const uint8_t *)"ca\0x", 4, &is));
#undef P
}

static void
caa_job(struct acme_vjob *job, const char *value)
{
	job_init(job, ACME_V_CAA, value, false);
	job->ncaa_ids = 2;
	(void)snprintf(job->caa_ids[0], sizeof(job->caa_ids[0]),
	    "certgw.test");
	(void)snprintf(job->caa_ids[1], sizeof(job->caa_ids[1]),
	    "pki.corp.test");
	(void)snprintf(job->account_uri, sizeof(job->account_uri),
	    "https://acme.test/acct/7");
	job->method = "http-01";
}

static bool
permits(const struct acme_vjob *job, uint8_t flags, const char *tag,
    const char *value, char *detail)
{
	struct acme_caa_rr rr = { flags, tag, (const uint8_t *)value,
	    strlen(value) };

	return acme_caa_permits(&rr, 1, "zone.test", job, detail, 256);
}

static void
test_caa_permits(void **state)
{
	struct acme_vjob job;
	struct acme_caa_rr rrs[3];
	char		 d[256];

	caa_job(&job, "www.zone.test");
	assert_true(acme_caa_permits(NULL, 0, "zone.test", &job, d, 256));
	assert_true(permits(&job, 0, "issue", "certgw.test", d));
	assert_true(permits(&job, 0, "ISSUE", "PKI.corp.test", d));
	assert_false(permits(&job, 0, "issue", "other-ca.test", d));
	assert_non_null(strstr(d, "zone.test"));
	assert_false(permits(&job, 0, "issue", ";", d));
	assert_false(permits(&job, 0, "issue", "certgw.test; accounturi="
	    "https://acme.test/acct/8", d));
	assert_non_null(strstr(d, "accounturi"));
	assert_true(permits(&job, 0, "issue", "certgw.test; accounturi="
	    "https://acme.test/acct/7", d));
	assert_false(permits(&job, 0, "issue", "certgw.test; "
	    "validationmethods=dns-01,tls-alpn-01", d));
	assert_true(permits(&job, 0, "issue", "certgw.test; "
	    "validationmethods=dns-01,http-01", d));
	/* unknown parameters do not matter (RFC 8659 §4.2) */
	assert_true(permits(&job, 0, "issue", "certgw.test; foo=bar", d));
	/* only iodef: no restriction */
	assert_true(permits(&job, 0, "iodef", "mailto:a@zone.test", d));
	assert_true(permits(&job, 0, "tbs", "x", d));
	assert_false(permits(&job, 128, "tbs", "x", d));
	assert_non_null(strstr(d, "critical"));
	assert_true(permits(&job, 128, "issue", "certgw.test", d));
	assert_false(permits(&job, 0, "issue", "certgw.test junk", d));

	/* one record for us among others is enough */
	rrs[0] = (struct acme_caa_rr){ 0, "issue", (const uint8_t *)"a.test",
	    6 };
	rrs[1] = (struct acme_caa_rr){ 0, "issue",
	    (const uint8_t *)"certgw.test", 11 };
	assert_true(acme_caa_permits(rrs, 2, "zone.test", &job, d, 256));

	/* wildcards: issuewild wins when present */
	job.wildcard = true;
	rrs[0] = (struct acme_caa_rr){ 0, "issue",
	    (const uint8_t *)"certgw.test", 11 };
	rrs[1] = (struct acme_caa_rr){ 0, "issuewild",
	    (const uint8_t *)"a.test", 6 };
	assert_false(acme_caa_permits(rrs, 2, "zone.test", &job, d, 256));
	assert_non_null(strstr(d, "issuewild"));
	assert_true(acme_caa_permits(rrs, 1, "zone.test", &job, d, 256));
	job.wildcard = false;
	assert_true(acme_caa_permits(rrs, 2, "zone.test", &job, d, 256));
	/* a non-wildcard order ignores issuewild */
	rrs[0] = rrs[1];
	assert_true(acme_caa_permits(rrs, 1, "zone.test", &job, d, 256));
}

static uint8_t *
cert_der(X509 *x, int *len)
{
	uint8_t	*der = NULL;

	*len = i2d_X509(x, &der);
	assert_true(*len > 0);
	return der;
}

static void
test_cert_check(void **state)
{
	uint8_t		 d[32], *der;
	char		 detail[128];
	int		 len;

	acme_tlsalpn01_digest(KEYAUTH, d);
	der = cert_der(tls_certs[TV_GOOD], &len);
	assert_int_equal(acme_tlsalpn01_check_cert(der, len, "alpn.test",
	    false, d, detail, sizeof(detail)), CG_OK);
	assert_int_equal(acme_tlsalpn01_check_cert(der, len, "ALPN.Test",
	    false, d, detail, sizeof(detail)), CG_OK);
	assert_int_equal(acme_tlsalpn01_check_cert(der, len, "alpn.test2",
	    false, d, detail, sizeof(detail)), CG_EDENIED);
	assert_int_equal(acme_tlsalpn01_check_cert(der, len, "127.0.0.1",
	    true, d, detail, sizeof(detail)), CG_EDENIED);
	/* trailing bytes, truncation */
	assert_int_equal(acme_tlsalpn01_check_cert(der, len - 1, "alpn.test",
	    false, d, detail, sizeof(detail)), CG_EINVAL);
	assert_string_equal(detail, "not a certificate");
	OPENSSL_free(der);
	der = cert_der(tls_certs[TV_IP], &len);
	assert_int_equal(acme_tlsalpn01_check_cert(der, len, "127.0.0.1",
	    true, d, detail, sizeof(detail)), CG_OK);
	assert_int_equal(acme_tlsalpn01_check_cert(der, len, "127.0.0.2",
	    true, d, detail, sizeof(detail)), CG_EDENIED);
	OPENSSL_free(der);
	der = cert_der(tls_certs[TV_NOT_CRITICAL], &len);
	assert_int_equal(acme_tlsalpn01_check_cert(der, len, "alpn.test",
	    false, d, detail, sizeof(detail)), CG_EDENIED);
	assert_non_null(strstr(detail, "not critical"));
	OPENSSL_free(der);
	der = cert_der(tls_certs[TV_TWO_SANS], &len);
	assert_int_equal(acme_tlsalpn01_check_cert(der, len, "alpn.test",
	    false, d, detail, sizeof(detail)), CG_EDENIED);
	assert_non_null(strstr(detail, "exactly one"));
	OPENSSL_free(der);
	assert_int_equal(acme_tlsalpn01_check_cert((const uint8_t *)"x", 1,
	    "alpn.test", false, d, detail, sizeof(detail)), CG_EINVAL);
}

static void
test_bad_input(void **state)
{
	struct acme_vconf conf;
	struct acme_validator *v = NULL;
	struct acme_vjob job;
	struct waiter	 w;
	struct cg_err	 err;

	memset(&conf, 0, sizeof(conf));
	conf.http_port = 80;
	conf.tls_alpn_port = 443;
	conf.resolver = "dns.example";
	memset(&err, 0, sizeof(err));
	assert_int_equal(acme_validator_new(&conf, &v, &err), CG_EINVAL);
	assert_null(v);
	conf.resolver = "127.0.0.1:99999";
	assert_int_equal(acme_validator_new(&conf, &v, &err), CG_EINVAL);
	conf.resolver = "[::1]:5353";
	assert_int_equal(acme_validator_new(&conf, &v, &err), CG_OK);
	acme_validator_free(v);
	acme_validator_free(NULL);

	v = vdefault();
	waiter_init(&w);
	job_init(&job, ACME_V_DNS01, "127.0.0.1", true);
	assert_int_equal(acme_validate(v, &job, done_cb, &w, &err),
	    CG_EINVAL);
	job_init(&job, ACME_V_HTTP01, "bad name.test", false);
	assert_int_equal(acme_validate(v, &job, done_cb, &w, &err),
	    CG_EINVAL);
	job_init(&job, ACME_V_HTTP01, "ok.test", false);
	(void)snprintf(job.token, sizeof(job.token), "../../etc/passwd");
	assert_int_equal(acme_validate(v, &job, done_cb, &w, &err),
	    CG_EINVAL);
	job_init(&job, ACME_V_HTTP01, "ok.test", false);
	memset(job.value, 'a', sizeof(job.value));
	assert_int_equal(acme_validate(v, &job, done_cb, &w, &err),
	    CG_EINVAL);
	job_init(&job, ACME_V_HTTP01, "ok.test", false);
	job.type = ACME_V__MAX;
	assert_int_equal(acme_validate(v, &job, done_cb, &w, &err),
	    CG_EINVAL);
	assert_int_equal(acme_validator_in_flight(v), 0);
	acme_validator_free(v);
	assert_int_equal(w.calls, 0);
}

/* ---------------------------------------------------------- http-01 */

static void
test_http01_ok(void **state)
{
	struct acme_vjob job;
	struct acme_vresult res;

	route_add(chall_path(), 200, KEYAUTH, strlen(KEYAUTH), NULL);
	job_init(&job, ACME_V_HTTP01, "www.example.test", false);
	res = run1(&job);
	assert_ok(res);
	assert_int_equal(res.prob, ACME_P_NONE);
	pthread_mutex_lock(&http_mu);
	assert_string_equal(last_ua, "certgw-validator");
	pthread_mutex_unlock(&http_mu);

	/* trailing whitespace is allowed, and an IP needs no lookup */
	route_clear();
	route_add(chall_path(), 200, KEYAUTH " \r\n\t\n", strlen(KEYAUTH) + 5,
	    NULL);
	job_init(&job, ACME_V_HTTP01, "127.0.0.1", true);
	assert_ok(run1(&job));
}

static void
test_http01_failures(void **state)
{
	struct acme_validator *v = vdefault();
	struct acme_vjob job;
	struct acme_vresult res;
	char		 big[ACME_V_HTTP_BODY_MAX + 100];

	job_init(&job, ACME_V_HTTP01, "www.example.test", false);
	res = run(v, &job);
	assert_fail(res, ACME_P_UNAUTHORIZED, "status 404 from http://"
	    "www.example.test:");

	route_add(chall_path(), 200, "hello\x01\"world", 12, NULL);
	res = run(v, &job);
	assert_fail(res, ACME_P_INCORRECT_RESPONSE, "\"hello??world\"");

	/* a long wrong body is quoted in part only */
	route_clear();
	memset(big, 'A', sizeof(big));
	route_add(chall_path(), 200, big, 1000, NULL);
	res = run(v, &job);
	assert_fail(res, ACME_P_INCORRECT_RESPONSE, "AAAA...\"");
	memset(big, 'A', VEXCERPT + 1);
	big[VEXCERPT + 1] = '\0';
	assert_null(strstr(res.detail, big));
	big[VEXCERPT] = '\0';
	assert_non_null(strstr(res.detail, big));

	/* the key authorization with something before it */
	route_clear();
	route_add(chall_path(), 200, " " KEYAUTH, strlen(KEYAUTH) + 1, NULL);
	assert_fail(run(v, &job), ACME_P_INCORRECT_RESPONSE, "not the key");

	/* over the body limit */
	route_clear();
	memcpy(big, KEYAUTH, strlen(KEYAUTH));
	route_add(chall_path(), 200, big, sizeof(big), NULL);
	assert_fail(run(v, &job), ACME_P_INCORRECT_RESPONSE, "over 8192");

	/* a body of exactly the limit is read */
	route_clear();
	route_add(chall_path(), 200, big, ACME_V_HTTP_BODY_MAX, NULL);
	assert_fail(run(v, &job), ACME_P_INCORRECT_RESPONSE, "not the key");

	route_clear();
	route_add(chall_path(), 500, "oops", 4, NULL);
	assert_fail(run(v, &job), ACME_P_UNAUTHORIZED, "status 500");

	/* names under nx.test do not exist */
	job_init(&job, ACME_V_HTTP01, "www.nx.test", false);
	assert_fail(run(v, &job), ACME_P_DNS, "NXDOMAIN");
	job_init(&job, ACME_V_HTTP01, "www.fail.test", false);
	assert_fail(run(v, &job), ACME_P_DNS, "SERVFAIL");
	acme_validator_free(v);

	/* nothing listens on the port */
	v = vnew(closed_port, tls_port, TIMEOUT_MS, 0);
	job_init(&job, ACME_V_HTTP01, "www.example.test", false);
	assert_fail(run(v, &job), ACME_P_CONNECTION, "cannot fetch");
	acme_validator_free(v);
}

static void
test_http01_timeout(void **state)
{
	struct acme_validator *v = vnew(hole_port, tls_port, 700, 0);
	struct acme_vjob job;
	struct acme_vresult res;
	uint64_t	 t0 = now_ms(), dt;

	job_init(&job, ACME_V_HTTP01, "www.example.test", false);
	res = run(v, &job);
	dt = now_ms() - t0;
	assert_fail(res, ACME_P_CONNECTION, "timeout");
	assert_true(dt >= 600 && dt < 2500);
	acme_validator_free(v);

	/* a resolver that never answers: the job's deadline still holds */
	v = vnew(http_port, tls_port, 700, 0);
	job_init(&job, ACME_V_HTTP01, "www.drop.test", false);
	t0 = now_ms();
	res = run(v, &job);
	assert_fail(res, ACME_P_DNS, "timed out");
	assert_true(now_ms() - t0 < 2500);
	acme_validator_free(v);
}

static void
test_http01_redirects(void **state)
{
	struct acme_validator *v = vdefault();
	struct acme_vjob job;
	struct acme_vresult res;
	char		 loc[256];
	int		 i;

	/* relative, then absolute to another name, then an IP */
	route_add(chall_path(), 302, "", 0, "/step2");
	(void)snprintf(loc, sizeof(loc), "http://Other.Example.test:%u/step3",
	    http_port);
	route_add("/step2", 301, "", 0, loc);
	(void)snprintf(loc, sizeof(loc), "http://127.0.0.1:%u/final?x=1",
	    http_port);
	route_add("/step3", 307, "", 0, loc);
	route_add("/final?x=1", 200, KEYAUTH "\n", strlen(KEYAUTH) + 1, NULL);
	job_init(&job, ACME_V_HTTP01, "www.example.test", false);
	assert_ok(run(v, &job));

	/* a loop stops after ACME_V_REDIRECTS_MAX */
	route_clear();
	route_add(chall_path(), 302, "", 0, "/loop0");
	for (i = 0; i < ACME_V_REDIRECTS_MAX + 2; i++) {
		char	 from[32], to[32];

		(void)snprintf(from, sizeof(from), "/loop%d", i);
		(void)snprintf(to, sizeof(to), "/loop%d", i + 1);
		route_add(from, 302, "", 0, to);
	}
	assert_fail(run(v, &job), ACME_P_CONNECTION, "more than 10 redirects");

	/* exactly ACME_V_REDIRECTS_MAX redirects are fine */
	route_clear();
	route_add(chall_path(), 302, "", 0, "/r1");
	for (i = 1; i < ACME_V_REDIRECTS_MAX; i++) {
		char	 from[32], to[32];

		(void)snprintf(from, sizeof(from), "/r%d", i);
		(void)snprintf(to, sizeof(to), "/r%d", i + 1);
		route_add(from, 302, "", 0, to);
	}
	(void)snprintf(loc, sizeof(loc), "/r%d", ACME_V_REDIRECTS_MAX);
	route_add(loc, 200, KEYAUTH, strlen(KEYAUTH), NULL);
	assert_ok(run(v, &job));

	/*
	 * https on the tls-alpn-01 port is followed without checking the
	 * (self-signed) certificate: the test TLS server hangs up once its
	 * handshake is done, so the fetch ends after the handshake (reset
	 * or empty reply), never with "SSL certificate problem".
	 */
	route_clear();
	(void)snprintf(loc, sizeof(loc), "https://alpn.test:%u/x", tls_port);
	route_add(chall_path(), 302, "", 0, loc);
	res = run(v, &job);
	assert_fail(res, ACME_P_CONNECTION, "https://alpn.test:");
	if (strstr(res.detail, "SSL") != NULL ||
	    strstr(res.detail, "certificate") != NULL)
		fail_msg("https redirect: %s", res.detail);

	/* other ports and schemes are refused */
	route_clear();
	route_add(chall_path(), 302, "", 0, "http://www.example.test:8081/x");
	assert_fail(run(v, &job), ACME_P_CONNECTION, "port not allowed");
	route_clear();
	route_add(chall_path(), 302, "", 0, "ftp://www.example.test/x");
	assert_fail(run(v, &job), ACME_P_CONNECTION, "scheme");
	route_clear();
	route_add(chall_path(), 302, "", 0, NULL);
	assert_fail(run(v, &job), ACME_P_UNAUTHORIZED, "without Location");
	/* a redirect to a name that does not exist */
	route_clear();
	(void)snprintf(loc, sizeof(loc), "http://gone.nx.test:%u/x",
	    http_port);
	route_add(chall_path(), 302, "", 0, loc);
	assert_fail(run(v, &job), ACME_P_DNS, "gone.nx.test");
	acme_validator_free(v);
}

/* ----------------------------------------------------------- dns-01 */

static void
test_dns01(void **state)
{
	struct acme_validator *v = vdefault();
	struct acme_vjob job;
	char		 txt[44];

	acme_dns01_txt(KEYAUTH, txt);
	job_init(&job, ACME_V_DNS01, "example.test", false);
	assert_fail(run(v, &job), ACME_P_UNAUTHORIZED,
	    "no TXT record at _acme-challenge.example.test");

	dns_add_txt("_acme-challenge.example.test", "something else");
	assert_fail(run(v, &job), ACME_P_INCORRECT_RESPONSE,
	    "\"something else\"");

	dns_add_txt("_acme-challenge.example.test", txt);
	assert_ok(run(v, &job));

	/* one record in two character-strings counts as their join */
	dns_clear();
	{
		uint8_t	 rd[64];

		rd[0] = 20;
		memcpy(rd + 1, txt, 20);
		rd[21] = 23;
		memcpy(rd + 22, txt + 20, 23);
		dns_add("_acme-challenge.split.test", 16, rd, 45);
		/* ...but two records are not joined */
		dns_add_txt("_acme-challenge.two.test", "x");
		rd[0] = 43;
		memcpy(rd + 1, txt, 43);
		rd[1] ^= 1;
		dns_add("_acme-challenge.two.test", 16, rd, 44);
	}
	job_init(&job, ACME_V_DNS01, "split.test", false);
	assert_ok(run(v, &job));
	job_init(&job, ACME_V_DNS01, "two.test", false);
	assert_fail(run(v, &job), ACME_P_INCORRECT_RESPONSE, "2 TXT record");

	/* followed through a CNAME, as delegations do */
	dns_add_cname("_acme-challenge.deleg.test",
	    "_acme-challenge.validation.test");
	dns_add_txt("_acme-challenge.validation.test", txt);
	job_init(&job, ACME_V_DNS01, "deleg.test", false);
	assert_ok(run(v, &job));

	job_init(&job, ACME_V_DNS01, "x.nx.test", false);
	assert_fail(run(v, &job), ACME_P_UNAUTHORIZED, "NXDOMAIN");
	job_init(&job, ACME_V_DNS01, "x.fail.test", false);
	assert_fail(run(v, &job), ACME_P_DNS, "SERVFAIL");
	acme_validator_free(v);
}

/* ------------------------------------------------------ tls-alpn-01 */

static void
test_tlsalpn01(void **state)
{
	struct acme_validator *v = vdefault();
	struct acme_vjob job;

	job_init(&job, ACME_V_TLSALPN01, "alpn.test", false);
	assert_ok(run(v, &job));
	pthread_mutex_lock(&tls_mu);
	assert_string_equal(tls_sni, "alpn.test");
	pthread_mutex_unlock(&tls_mu);

	atomic_store(&tls_variant, TV_IP);
	job_init(&job, ACME_V_TLSALPN01, "127.0.0.1", true);
	assert_ok(run(v, &job));
	pthread_mutex_lock(&tls_mu);
	assert_string_equal(tls_sni, "1.0.0.127.in-addr.arpa");
	pthread_mutex_unlock(&tls_mu);

	job_init(&job, ACME_V_TLSALPN01, "alpn.test", false);
	atomic_store(&tls_variant, TV_BAD_DIGEST);
	assert_fail(run(v, &job), ACME_P_INCORRECT_RESPONSE, "digest");
	atomic_store(&tls_variant, TV_NOT_CRITICAL);
	assert_fail(run(v, &job), ACME_P_INCORRECT_RESPONSE, "not critical");
	atomic_store(&tls_variant, TV_TWO_SANS);
	assert_fail(run(v, &job), ACME_P_INCORRECT_RESPONSE, "exactly one");
	atomic_store(&tls_variant, TV_NO_ALPN);
	assert_fail(run(v, &job), ACME_P_TLS, "did not select ALPN");
	atomic_store(&tls_variant, TV_GOOD);
	job_init(&job, ACME_V_TLSALPN01, "other.test", false);
	assert_fail(run(v, &job), ACME_P_INCORRECT_RESPONSE,
	    "subjectAltName is not");
	job_init(&job, ACME_V_TLSALPN01, "alpn.nx.test", false);
	assert_fail(run(v, &job), ACME_P_DNS, "NXDOMAIN");
	/* a plain HTTP server is no TLS server */
	acme_validator_free(v);
	v = vnew(http_port, http_port, TIMEOUT_MS, 0);
	job_init(&job, ACME_V_TLSALPN01, "alpn.test", false);
	assert_fail(run(v, &job), ACME_P_TLS, "handshake");
	acme_validator_free(v);

	v = vnew(http_port, closed_port, TIMEOUT_MS, 0);
	assert_fail(run(v, &job), ACME_P_CONNECTION, "cannot connect");
	acme_validator_free(v);

	v = vnew(http_port, hole_port, 600, 0);
	assert_fail(run(v, &job), ACME_P_CONNECTION, "timeout");
	acme_validator_free(v);
}

/* -------------------------------------------------------------- CAA */

static void
test_caa(void **state)
{
	struct acme_validator *v = vdefault();
	struct acme_vjob job;
	struct acme_vresult res;

	/* no CAA anywhere up the tree */
	caa_job(&job, "a.b.none.test");
	assert_ok(run(v, &job));

	/* found at the parent of the parent; "test" is never asked */
	dns_add_caa("zone.test", 0, "issue", "certgw.test");
	caa_job(&job, "a.b.zone.test");
	assert_ok(run(v, &job));
	caa_job(&job, "zone.test");
	assert_ok(run(v, &job));

	dns_add_caa("other.test", 0, "issue", "letsencrypt.org");
	caa_job(&job, "www.other.test");
	res = run(v, &job);
	assert_fail(res, ACME_P_CAA, "other.test");
	assert_non_null(strstr(res.detail, "other issuers"));

	/* the closest RRset wins, even if a parent would permit */
	dns_add_caa("deny.zone.test", 0, "issue", ";");
	caa_job(&job, "www.deny.zone.test");
	assert_fail(run(v, &job), ACME_P_CAA, "deny.zone.test");

	dns_add_caa("wild.test", 0, "issue", "certgw.test");
	dns_add_caa("wild.test", 0, "issuewild", "letsencrypt.org");
	caa_job(&job, "wild.test");
	assert_ok(run(v, &job));
	job.wildcard = true;
	assert_fail(run(v, &job), ACME_P_CAA, "issuewild");

	dns_add_caa("acct.test", 0, "issue", "certgw.test; accounturi="
	    "https://acme.test/acct/99");
	caa_job(&job, "acct.test");
	assert_fail(run(v, &job), ACME_P_CAA, "accounturi");
	(void)snprintf(job.account_uri, sizeof(job.account_uri),
	    "https://acme.test/acct/99");
	assert_ok(run(v, &job));

	dns_add_caa("vm.test", 0, "issue", "certgw.test; "
	    "validationmethods=dns-01");
	caa_job(&job, "vm.test");
	assert_fail(run(v, &job), ACME_P_CAA, "validationmethods");
	job.method = "dns-01";
	assert_ok(run(v, &job));

	dns_add_caa("crit.test", 0, "issue", "certgw.test");
	dns_add_caa("crit.test", 128, "future", "x");
	caa_job(&job, "crit.test");
	assert_fail(run(v, &job), ACME_P_CAA, "critical");

	/* a failed lookup is not "no CAA" */
	caa_job(&job, "www.fail.test");
	assert_fail(run(v, &job), ACME_P_CAA, "SERVFAIL");

	/* CAA does not apply to IP addresses */
	job_init(&job, ACME_V_CAA, "127.0.0.1", true);
	assert_ok(run(v, &job));
	acme_validator_free(v);
}

/* ----------------------------------------------------- the validator */

static void
test_in_flight_limit_and_free(void **state)
{
	struct acme_validator *v = vnew(hole_port, tls_port, 30000, 2);
	struct acme_vjob job;
	struct waiter	 w[3];
	struct cg_err	 err;
	uint64_t	 t0;
	int		 i;

	memset(&err, 0, sizeof(err));
	job_init(&job, ACME_V_HTTP01, "127.0.0.1", true);
	for (i = 0; i < 3; i++)
		waiter_init(&w[i]);
	assert_int_equal(acme_validate(v, &job, done_cb, &w[0], &err), CG_OK);
	assert_int_equal(acme_validate(v, &job, done_cb, &w[1], &err), CG_OK);
	assert_int_equal(acme_validate(v, &job, done_cb, &w[2], &err),
	    CG_ETOOBIG);
	assert_int_equal(acme_validator_in_flight(v), 2);
	usleep(200000);		/* both are connected and waiting */
	assert_int_equal(w[0].calls + w[1].calls, 0);
	t0 = now_ms();
	acme_validator_free(v);
	assert_true(now_ms() - t0 < 2000);
	for (i = 0; i < 2; i++) {
		assert_int_equal(w[i].calls, 1);
		assert_false(w[i].res.ok);
		assert_int_equal(w[i].res.prob, ACME_P_SERVER_INTERNAL);
		assert_string_equal(w[i].res.detail, "validator stopped");
	}
	assert_int_equal(w[2].calls, 0);

	/* free right after submitting: queued jobs end the same way */
	v = vnew(hole_port, hole_port, 30000, 0);
	waiter_init(&w[0]);
	waiter_init(&w[1]);
	job_init(&job, ACME_V_TLSALPN01, "alpn.test", false);
	assert_int_equal(acme_validate(v, &job, done_cb, &w[0], &err), CG_OK);
	caa_job(&job, "x.drop.test");
	assert_int_equal(acme_validate(v, &job, done_cb, &w[1], &err), CG_OK);
	acme_validator_free(v);
	assert_int_equal(w[0].calls, 1);
	assert_int_equal(w[1].calls, 1);
	assert_string_equal(w[1].res.detail, "validator stopped");
}

#define N_CONC	50

static void
test_concurrent(void **state)
{
	struct acme_validator *v = vdefault();
	struct waiter	*w;
	struct acme_vjob job;
	struct cg_err	 err;
	char		 txt[44], path[128], tok[32], ka[128];
	bool		 want[N_CONC];
	int		 i;

	memset(&err, 0, sizeof(err));
	w = calloc(N_CONC, sizeof(*w));
	assert_non_null(w);
	acme_dns01_txt(KEYAUTH, txt);
	dns_add_txt("_acme-challenge.many.test", txt);
	for (i = 0; i < N_CONC; i++) {
		waiter_init(&w[i]);
		(void)snprintf(tok, sizeof(tok), "tok%d", i);
		(void)snprintf(ka, sizeof(ka), "tok%d." THUMB, i);
		(void)snprintf(path, sizeof(path),
		    "/.well-known/acme-challenge/%s", tok);
		/* every third one serves a wrong answer */
		route_add(path, 200, i % 3 == 2 ? "no" : ka,
		    i % 3 == 2 ? 2 : strlen(ka), NULL);
	}
	for (i = 0; i < N_CONC; i++) {
		switch (i % 4) {
		case 0:
		case 1:
			job_init(&job, ACME_V_HTTP01, "many.test", false);
			(void)snprintf(job.token, sizeof(job.token), "tok%d",
			    i);
			(void)snprintf(job.keyauth, sizeof(job.keyauth),
			    "tok%d." THUMB, i);
			want[i] = i % 3 != 2;
			break;
		case 2:
			job_init(&job, ACME_V_DNS01, "many.test", false);
			want[i] = true;
			break;
		default:
			job_init(&job, ACME_V_TLSALPN01, "alpn.test", false);
			want[i] = true;
			break;
		}
		assert_int_equal(acme_validate(v, &job, done_cb, &w[i], &err),
		    CG_OK);
	}
	for (i = 0; i < N_CONC; i++)
		waiter_wait(&w[i]);
	assert_int_equal(acme_validator_in_flight(v), 0);
	acme_validator_free(v);
	for (i = 0; i < N_CONC; i++) {
		assert_int_equal(w[i].calls, 1);
		if (w[i].res.ok != want[i])
			fail_msg("job %d: ok %d, want %d (%s)", i,
			    w[i].res.ok, want[i], w[i].res.detail);
	}
	free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_expected_values, reset),
		cmocka_unit_test_setup(test_caa_parse, reset),
		cmocka_unit_test_setup(test_caa_permits, reset),
		cmocka_unit_test_setup(test_cert_check, reset),
		cmocka_unit_test_setup(test_bad_input, reset),
		cmocka_unit_test_setup(test_http01_ok, reset),
		cmocka_unit_test_setup(test_http01_failures, reset),
		cmocka_unit_test_setup(test_http01_timeout, reset),
		cmocka_unit_test_setup(test_http01_redirects, reset),
		cmocka_unit_test_setup(test_dns01, reset),
		cmocka_unit_test_setup(test_tlsalpn01, reset),
		cmocka_unit_test_setup(test_caa, reset),
		cmocka_unit_test_setup(test_in_flight_limit_and_free, reset),
		cmocka_unit_test_setup(test_concurrent, reset),
	};

	/* As in certgw's main: a peer that hangs up is no signal. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, servers_up, servers_down);
}
