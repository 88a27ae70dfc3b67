/*
 * acme_validate_tls.c - tls-alpn-01 (RFC 8737, and RFC 8738 §6 for IP
 * addresses): a non-blocking TCP connect and OpenSSL handshake, driven
 * step by step from the validator's loop, offering only ALPN
 * "acme-tls/1", then the check of the self-signed certificate the peer
 * shows.  The chain is not verified: the certificate is made for this
 * one validation and proves control through its acmeIdentifier digest,
 * which needs the account's key authorization.
 */
#include "acme_validate_int.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static const unsigned char alpn_wire[] = "\x0a" "acme-tls/1";
#define ALPN_NAME	"acme-tls/1"

/* ------------------------------------------------ certificate check */

static enum cg_code
refuse(char *detail, size_t detaillen, enum cg_code code, const char *msg)
{
	if (detaillen > 0)
		(void)snprintf(detail, detaillen, "%s", msg);
	return code;
}

static bool
san_matches(const GENERAL_NAME *g, const char *value, bool ip)
{
	struct vaddr	 a;
	const unsigned char *d;
	int		 len;

	if (ip) {
		if (g->type != GEN_IPADD || !vparse_ip(value, &a))
			return false;
		len = ASN1_STRING_length(g->d.iPAddress);
		d = ASN1_STRING_get0_data(g->d.iPAddress);
		return len == (a.af == AF_INET ? 4 : 16) &&
		    memcmp(d, a.a, len) == 0;
	}
	if (g->type != GEN_DNS)
		return false;
	len = ASN1_STRING_length(g->d.dNSName);
	d = ASN1_STRING_get0_data(g->d.dNSName);
	return len >= 0 && (size_t)len == strlen(value) &&
	    memchr(d, '\0', len) == NULL &&
	    strncasecmp((const char *)d, value, len) == 0;
}

enum cg_code
acme_tlsalpn01_check_cert(const uint8_t *der, size_t len, const char *value,
    bool ip, const uint8_t digest[32], char *detail, size_t detaillen)
{
	const unsigned char *p = der;
	X509		*x;
	GENERAL_NAMES	*gens = NULL;
	ASN1_OBJECT	*oid = NULL;
	X509_EXTENSION	*ext;
	const ASN1_OCTET_STRING *os;
	const unsigned char *d;
	enum cg_code	 rc;
	int		 crit = 0, idx;

	if (len == 0 || len > INT_MAX)
		return refuse(detail, detaillen, CG_EINVAL,
		    "not a certificate");
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
		X509_free(x);
		ERR_clear_error();
		return refuse(detail, detaillen, CG_EINVAL,
		    "not a certificate");
	}
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL || sk_GENERAL_NAME_num(gens) != 1) {
		rc = refuse(detail, detaillen, CG_EDENIED, "the certificate "
		    "must have exactly one subjectAltName");
		goto out;
	}
	if (!san_matches(sk_GENERAL_NAME_value(gens, 0), value, ip)) {
		rc = refuse(detail, detaillen, CG_EDENIED, "the certificate's "
		    "subjectAltName is not the identifier");
		goto out;
	}
	if ((oid = OBJ_txt2obj(ACME_TLSALPN_OID, 1)) == NULL) {
		rc = refuse(detail, detaillen, CG_ENOMEM, "out of memory");
		goto out;
	}
	if ((idx = X509_get_ext_by_OBJ(x, oid, -1)) < 0) {
		rc = refuse(detail, detaillen, CG_EDENIED, "the certificate "
		    "has no acmeIdentifier extension");
		goto out;
	}
	if (X509_get_ext_by_OBJ(x, oid, idx) >= 0) {
		rc = refuse(detail, detaillen, CG_EDENIED, "the certificate "
		    "has two acmeIdentifier extensions");
		goto out;
	}
	ext = X509_get_ext(x, idx);
	if (!X509_EXTENSION_get_critical(ext)) {
		rc = refuse(detail, detaillen, CG_EDENIED, "the "
		    "acmeIdentifier extension is not critical");
		goto out;
	}
	/* extnValue holds the DER of an OCTET STRING of 32 bytes. */
	os = X509_EXTENSION_get_data(ext);
	d = ASN1_STRING_get0_data(os);
	if (ASN1_STRING_length(os) != 34 || d[0] != 0x04 || d[1] != 32) {
		rc = refuse(detail, detaillen, CG_EDENIED, "the "
		    "acmeIdentifier extension is not a 32-byte digest");
		goto out;
	}
	if (CRYPTO_memcmp(d + 2, digest, 32) != 0) {
		rc = refuse(detail, detaillen, CG_EDENIED, "the "
		    "acmeIdentifier digest is not that of the key "
		    "authorization");
		goto out;
	}
	rc = CG_OK;
	if (detaillen > 0)
		detail[0] = '\0';
out:
	GENERAL_NAMES_free(gens);
	ASN1_OBJECT_free(oid);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

/* --------------------------------------------------------- the client */

enum cg_code
vtls_init(struct acme_validator *v, struct cg_err *err)
{
	if ((v->tls = SSL_CTX_new(TLS_client_method())) == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot make a TLS "
		    "context");
	if (SSL_CTX_set_min_proto_version(v->tls, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_alpn_protos(v->tls, alpn_wire,
	    sizeof(alpn_wire) - 1) != 0)	/* 0 is success here */
		return cg_err_crypto(err, CG_ECRYPTO, "cannot set up TLS");
	/* Self-signed by design (RFC 8737 §3): the digest is the proof. */
	SSL_CTX_set_verify(v->tls, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(v->tls, SSL_SESS_CACHE_OFF);
	return CG_OK;
}

void
vtls_cleanup(struct acme_validator *v)
{
	SSL_CTX_free(v->tls);
	v->tls = NULL;
}

void
vtls_cancel(struct vjob *j)
{
	if (j->ev != NULL) {
		event_free(j->ev);
		j->ev = NULL;
	}
	SSL_free(j->ssl);
	j->ssl = NULL;
	if (j->fd != -1) {
		(void)close(j->fd);
		j->fd = -1;
	}
}

/* "addr:port" (v6 in brackets) of the address being tried. */
static const char *
peer_str(struct vjob *j, char *out, size_t outlen)
{
	char	 a[48];

	if (inet_ntop(j->addrs[j->addr_i].af, j->addrs[j->addr_i].a, a,
	    sizeof(a)) == NULL)
		(void)snprintf(a, sizeof(a), "?");
	(void)snprintf(out, outlen, j->addrs[j->addr_i].af == AF_INET6 ?
	    "[%s]:%u" : "%s:%u", a, j->v->conf.tls_alpn_port);
	return out;
}

static void	tls_try(struct vjob *j);
static void	tls_step(struct vjob *j);

static void
tls_wait(struct vjob *j, short what, event_callback_fn cb)
{
	if (event_assign(j->ev, j->v->base, j->fd, what, cb, j) != 0 ||
	    event_add(j->ev, NULL) != 0)
		vjob_fail(j, ACME_P_SERVER_INTERNAL, "cannot watch a socket");
}

static void
tls_io_cb(evutil_socket_t fd, short what, void *arg)
{
	tls_step(arg);
}

static void
tls_check(struct vjob *j)
{
	const unsigned char *sel = NULL;
	unsigned int	 sellen = 0;
	uint8_t		*der = NULL, digest[32];
	char		 detail[ACME_V_DETAIL_MAX - 64], ps[64];
	X509		*x;
	int		 len;
	enum cg_code	 rc;

	SSL_get0_alpn_selected(j->ssl, &sel, &sellen);
	if (sellen != strlen(ALPN_NAME) || memcmp(sel, ALPN_NAME,
	    sellen) != 0) {
		vjob_fail(j, ACME_P_TLS, "tls-alpn-01: %s did not select "
		    "ALPN %s", peer_str(j, ps, sizeof(ps)), ALPN_NAME);
		return;
	}
	if ((x = SSL_get0_peer_certificate(j->ssl)) == NULL ||
	    (len = i2d_X509(x, &der)) <= 0) {
		ERR_clear_error();
		vjob_fail(j, ACME_P_TLS, "tls-alpn-01: %s showed no "
		    "certificate", peer_str(j, ps, sizeof(ps)));
		return;
	}
	acme_tlsalpn01_digest(j->job.keyauth, digest);
	rc = acme_tlsalpn01_check_cert(der, (size_t)len, j->job.value,
	    j->job.ip, digest, detail, sizeof(detail));
	OPENSSL_free(der);
	if (rc == CG_OK)
		vjob_ok(j);
	else
		vjob_fail(j, rc == CG_ENOMEM ? ACME_P_SERVER_INTERNAL :
		    ACME_P_INCORRECT_RESPONSE, "tls-alpn-01: %s: %s",
		    peer_str(j, ps, sizeof(ps)), detail);
}

static void
tls_step(struct vjob *j)
{
	char		 ps[64], why[128];
	unsigned long	 e;
	int		 r;

	ERR_clear_error();
	if ((r = SSL_do_handshake(j->ssl)) == 1) {
		tls_check(j);
		return;
	}
	switch (SSL_get_error(j->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		tls_wait(j, EV_READ, tls_io_cb);
		return;
	case SSL_ERROR_WANT_WRITE:
		tls_wait(j, EV_WRITE, tls_io_cb);
		return;
	default:
		break;
	}
	e = ERR_peek_last_error();
	(void)snprintf(why, sizeof(why), "%s", e != 0 &&
	    ERR_reason_error_string(e) != NULL ? ERR_reason_error_string(e) :
	    "connection closed");
	ERR_clear_error();
	vjob_fail(j, ACME_P_TLS, "tls-alpn-01: TLS handshake with %s failed: "
	    "%s", peer_str(j, ps, sizeof(ps)), why);
}

static void
tls_connected_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vjob	*j = arg;
	socklen_t	 sl = sizeof(int);
	int		 soerr = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		soerr = errno;
	if (soerr != 0) {
		char	 ps[64];

		if (j->addr_i + 1 < j->naddrs) {
			j->addr_i++;
			tls_try(j);
			return;
		}
		vjob_fail(j, ACME_P_CONNECTION, "tls-alpn-01: cannot connect "
		    "to %s: %s", peer_str(j, ps, sizeof(ps)),
		    strerror(soerr));
		return;
	}
	if ((j->ssl = SSL_new(j->v->tls)) == NULL ||
	    SSL_set_fd(j->ssl, j->fd) != 1 ||
	    SSL_set_tlsext_host_name(j->ssl, j->sni) != 1) {
		ERR_clear_error();
		vjob_fail(j, ACME_P_SERVER_INTERNAL, "cannot set up TLS");
		return;
	}
	SSL_set_connect_state(j->ssl);
	tls_step(j);
}

/* Connect to addrs[addr_i]; the next ones are tried when it fails. */
static void
tls_try(struct vjob *j)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	const struct vaddr *a = &j->addrs[j->addr_i];
	socklen_t	 sl;
	char		 ps[64];

	vtls_cancel(j);
	memset(&ss, 0, sizeof(ss));
	if (a->af == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(j->v->conf.tls_alpn_port);
		memcpy(&s4->sin_addr, a->a, 4);
		sl = sizeof(*s4);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(j->v->conf.tls_alpn_port);
		memcpy(&s6->sin6_addr, a->a, 16);
		sl = sizeof(*s6);
	}
	vjob_set_timeout(j, ACME_P_CONNECTION, "tls-alpn-01: timeout with %s",
	    peer_str(j, ps, sizeof(ps)));
	if ((j->ev = event_new(j->v->base, -1, 0, tls_io_cb, j)) == NULL) {
		vjob_fail(j, ACME_P_SERVER_INTERNAL, "out of memory");
		return;
	}
	j->fd = socket(a->af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (j->fd == -1 || (connect(j->fd, (struct sockaddr *)&ss, sl) ==
	    -1 && errno != EINPROGRESS)) {
		if (j->fd != -1 && j->addr_i + 1 < j->naddrs) {
			j->addr_i++;
			tls_try(j);
			return;
		}
		vjob_fail(j, ACME_P_CONNECTION, "tls-alpn-01: cannot connect "
		    "to %s: %s", peer_str(j, ps, sizeof(ps)), strerror(errno));
		return;
	}
	tls_wait(j, EV_WRITE, tls_connected_cb);
}

static void
tls_resolved(struct vjob *j)
{
	j->addr_i = 0;
	tls_try(j);
}

/* RFC 8738 §6: the SNI of an IP is its reverse-mapping name. */
static void
reverse_name(const struct vaddr *a, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 off = 0;
	int	 i;

	if (a->af == AF_INET) {
		(void)snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa",
		    a->a[3], a->a[2], a->a[1], a->a[0]);
		return;
	}
	for (i = 15; i >= 0 && off + 4 < outlen; i--) {
		out[off++] = hex[a->a[i] & 0xf];
		out[off++] = '.';
		out[off++] = hex[a->a[i] >> 4];
		out[off++] = '.';
	}
	(void)snprintf(out + off, outlen - off, "ip6.arpa");
}

void
vtls_start(struct vjob *j)
{
	struct vaddr	 a;

	if (j->job.ip) {
		if (!vparse_ip(j->job.value, &a)) {
			vjob_fail(j, ACME_P_SERVER_INTERNAL, "bad address");
			return;
		}
		reverse_name(&a, j->sni, sizeof(j->sni));
		j->addrs[0] = a;
		j->naddrs = 1;
		tls_resolved(j);
		return;
	}
	(void)snprintf(j->sni, sizeof(j->sni), "%s", j->job.value);
	vresolve(j, j->job.value, tls_resolved);
}
