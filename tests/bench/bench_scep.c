/*
 * bench_scep.c - certgw-bench scep, the SCEP (RFC 8894) load generator.
 * It sends PKCSReq enrollments, C at a time, to any SCEP server (certgw
 * serve, micromdm's scepserver) and reports enrollments per second,
 * latency percentiles and the bytes moved.  Every message is built before
 * the clock starts: the signatures and envelopes of a client are its
 * cost, not the server's, and building them while timing would measure
 * this tool.  Each message has its own CN (bench-<pid>-<i>), self-signed
 * certificate, transactionID and senderNonce; client i uses RSA-2048 key
 * i % --keys.  The timed phase is one thread with a libcurl multi handle,
 * C transfers in flight over kept-alive connections and no pauses.
 *
 * A reply counts as an enrollment when it is HTTP 200 and a CertRep with
 * pkiStatus SUCCESS.  One in --check-every is read as a careful client
 * would (RA signature, transactionID, recipientNonce, the envelope opened
 * with the client key, the certificate's key ours); the others only for
 * their status, which costs this tool little.
 */
#include <certgw/core.h>

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "scep_cl.h"

int	bench_scep_main(int argc, char **argv);

#define SB_COUNT_MAX		1000000	/* --count, --warmup ceiling */
#define SB_CONC_MAX		1024	/* --concurrency ceiling */
#define SB_KEYS_MAX		1024	/* --keys ceiling */
#define SB_URL_MAX		2048	/* --url length */
#define SB_RSA_BITS		2048	/* client keys */
#define SB_BODY_MAX		(64 * 1024)	/* one reply */
#define SB_CACERT_MAX		(256 * 1024)	/* GetCACert reply */
#define SB_TIMEOUT_MS		30000	/* one exchange */
#define SB_CONNECT_TIMEOUT_MS	10000	/* one connect */
#define SB_POLL_MS		1000	/* longest wait in curl_multi_poll */
#define SB_TID_BYTES		16	/* random bytes of a transactionID */
#define SB_STATUS_MAX		599	/* highest HTTP status counted */
#define EX_USAGE_BENCH		2	/* exit code for bad usage */

/* Outcomes that are not an enrollment, besides HTTP statuses. */
enum sb_err {
	SB_ERR_TRANSPORT,	/* no HTTP answer */
	SB_ERR_MALFORMED,	/* 200 but not a CertRep we can read */
	SB_ERR_PENDING,		/* pkiStatus PENDING */
	SB_ERR_FAILURE,		/* FAILURE with no known failInfo */
	SB_ERR_SIGNATURE,	/* checked: not signed by the RA */
	SB_ERR_MISMATCH,	/* checked: transactionID or nonce */
	SB_ERR_ENVELOPE,	/* checked: cannot open, no certificate */
	SB_ERR_WRONG_KEY,	/* checked: the certificate is not for us */
	SB_ERR__MAX
};

static const char *const sb_err_names[SB_ERR__MAX] = {
	"transport", "malformed", "pending", "failure", "bad_signature",
	"mismatch", "bad_envelope", "wrong_key",
};

#define SB_FAIL_KINDS		5	/* failInfo values of RFC 8894 */
#define SB_OK			SB_ERR__MAX		/* an enrollment */
#define SB_COUNTED		(SB_ERR__MAX + 1)	/* in fail[] */

struct sb_opts {
	const char	*url;		/* --url, no query */
	const char	*ra_file;	/* --ra; NULL: GetCACert */
	const char	*cacert;	/* --cacert */
	const char	*challenge_file; /* --challenge-file */
	const char	*cipher;	/* --cipher */
	const char	*md;		/* --md */
	uint64_t	 count;		/* --count */
	uint64_t	 concurrency;	/* --concurrency */
	uint64_t	 keys;		/* --keys */
	uint64_t	 warmup;	/* --warmup */
	uint64_t	 check_every;	/* --check-every; 0 never */
	bool		 get;		/* --get */
	bool		 json;		/* --json */
};

/* One enrollment, ready to send. */
struct sb_msg {
	uint8_t		*der;		/* the PKIMessage (OPENSSL_) */
	size_t		 len;
	char		*url;		/* --get: with the message; cg_ */
	char		 tid[2 * SB_TID_BYTES + 1];
	uint8_t		 nonce[SCL_NONCE_LEN];
	unsigned	 key;		/* index into sb->keys */
	X509		*cert;		/* signer; kept when checked */
};

struct sb_stats {
	uint64_t	 sent;		/* requests completed */
	uint64_t	 ok;		/* SUCCESS */
	uint64_t	 checked;	/* fully verified */
	uint64_t	 err[SB_ERR__MAX];
	uint64_t	 fail[SB_FAIL_KINDS];	/* FAILURE by failInfo */
	uint64_t	 http[SB_STATUS_MAX + 1];	/* non-200 */
	uint64_t	 bytes_out;	/* PKIMessage bytes */
	uint64_t	 bytes_in;	/* reply body bytes */
};

struct sb_slot {
	CURL		*h;
	struct cg_buf	 body;
	size_t		 msg;		/* index of the message in flight */
	uint64_t	 t0;		/* ns, when it was added */
};

struct sb {
	const struct sb_opts *o;
	X509		*ra;		/* encrypt to; verifies replies */
	EVP_PKEY	**keys;		/* o->keys client keys */
	struct sb_msg	*msgs;		/* warmup + count */
	size_t		 nmsgs;
	char		*post_url;	/* POST: the one URL */
	struct curl_slist *hdrs;	/* POST headers */
	CURLM		*multi;
	struct sb_slot	*slots;		/* concurrency entries */
	uint64_t	*lat_ns;	/* measured latencies, count entries */
	size_t		 nlat;
	bool		 measuring;	/* the phase being run */
	struct sb_stats	 warm, st;	/* warmup, measured */
	double		 build_s;	/* seconds to build the messages */
	double		 secs;		/* the measured phase */
	char		 first_err[512]; /* the first error, for stderr */
};

/* ------------------------------------------------------------ helpers */

static bool
num_arg(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return cg_parse_u64(s, strlen(s), max, out) && *out >= min;
}

static void	 first_err(struct sb *sb, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

static void
first_err(struct sb *sb, const char *fmt, ...)
{
	va_list	 ap;

	if (sb->first_err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(sb->first_err, sizeof(sb->first_err), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ options */

static void
sb_usage(FILE *f)
{
	fprintf(f,
"usage: certgw-bench scep --url URL [--ra FILE] [--cacert FILE]\n"
"           [--challenge-file FILE] [--count N] [--concurrency C]\n"
"           [--keys K] [--warmup N] [--cipher NAME] [--md NAME] [--get]\n"
"           [--check-every N] [--json]\n"
"\n"
"  --url URL            the SCEP service, http or https, without a query\n"
"  --ra FILE            the certificate to encrypt to and to verify\n"
"                       replies with (PEM); default: from GetCACert, the\n"
"                       one with keyEncipherment, else the first\n"
"  --cacert FILE        trust anchors for an https server\n"
"  --challenge-file F   the challengePassword, its first line\n"
"  --count N            measured enrollments (default 2000)\n"
"  --concurrency C      requests in flight, 1..%d (default 16)\n"
"  --keys K             distinct RSA-%d client keys (default 16)\n"
"  --warmup N           enrollments sent first, not measured (default 100)\n"
"  --cipher NAME        envelope cipher (default aes-256-cbc)\n"
"  --md NAME            signature digest (default sha256)\n"
"  --get                PKIOperation by GET instead of POST\n"
"  --check-every N      fully verify 1 reply in N, 0 none (default 50)\n"
"  --json               one JSON object instead of key=value lines\n",
	    SB_CONC_MAX, SB_RSA_BITS);
}

static int
sb_opts_parse(int argc, char **argv, struct sb_opts *o)
{
	static const struct option lo[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ra", required_argument, NULL, 'r' },
		{ "cacert", required_argument, NULL, 'A' },
		{ "challenge-file", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "keys", required_argument, NULL, 'k' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "cipher", required_argument, NULL, 'C' },
		{ "md", required_argument, NULL, 'm' },
		{ "get", no_argument, NULL, 'g' },
		{ "check-every", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch;
	bool	ok = true;

	*o = (struct sb_opts){ .cipher = "aes-256-cbc", .md = "sha256",
	    .count = 2000, .concurrency = 16, .keys = 16, .warmup = 100,
	    .check_every = 50 };
	optind = 1;
	while (ok && (ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': o->url = optarg; break;
		case 'r': o->ra_file = optarg; break;
		case 'A': o->cacert = optarg; break;
		case 'p': o->challenge_file = optarg; break;
		case 'n': ok = num_arg(optarg, 1, SB_COUNT_MAX, &o->count);
		    break;
		case 'c': ok = num_arg(optarg, 1, SB_CONC_MAX,
		    &o->concurrency); break;
		case 'k': ok = num_arg(optarg, 1, SB_KEYS_MAX, &o->keys);
		    break;
		case 'w': ok = num_arg(optarg, 0, SB_COUNT_MAX, &o->warmup);
		    break;
		case 'C': o->cipher = optarg; break;
		case 'm': o->md = optarg; break;
		case 'g': o->get = true; break;
		case 'e': ok = num_arg(optarg, 0, SB_COUNT_MAX,
		    &o->check_every); break;
		case 'j': o->json = true; break;
		case 'h': sb_usage(stdout); return 1;
		default: ok = false; break;
		}
	}
	if (ok && o->url == NULL) {
		fprintf(stderr, "certgw-bench: --url is required\n");
		ok = false;
	}
	if (ok && ((strncasecmp(o->url, "http://", 7) != 0 &&
	    strncasecmp(o->url, "https://", 8) != 0) ||
	    strlen(o->url) > SB_URL_MAX || strchr(o->url, '?') != NULL)) {
		fprintf(stderr, "certgw-bench: --url must be an http:// or "
		    "https:// URL without a query, at most %d bytes\n",
		    SB_URL_MAX);
		ok = false;
	}
	if (!ok || optind != argc) {
		sb_usage(stderr);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------- inputs */

/* The RA from GetCACert's certificates: keyEncipherment first. */
static X509 *
ra_pick(STACK_OF(X509) *certs)
{
	X509	*x;
	int	 i;

	for (i = 0; i < sk_X509_num(certs); i++) {
		x = sk_X509_value(certs, i);
		if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) &&
		    (X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT))
			return X509_dup(x);
	}
	return sk_X509_num(certs) > 0 ? X509_dup(sk_X509_value(certs, 0)) :
	    NULL;
}

/*
 * GetCACert (RFC 8894 §4.2): one DER certificate, or a certs-only
 * PKCS#7 holding the RA and the CA chain.
 */
static X509 *
ra_fetch(const struct sb_opts *o)
{
	struct cg_buf		 body;
	CURL			*h;
	PKCS7			*p7 = NULL;
	X509			*ra = NULL;
	const unsigned char	*q;
	char			*url;
	long			 status = 0;
	CURLcode		 rc = CURLE_FAILED_INIT;

	cg_buf_init(&body, SB_CACERT_MAX);
	url = cg_asprintf("%s?operation=GetCACert", o->url);
	if (url != NULL && (h = curl_easy_init()) != NULL) {
		scl_http_setup(h, url, NULL, 0, NULL, o->cacert, &body);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)SB_TIMEOUT_MS);
		if ((rc = curl_easy_perform(h)) == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(h);
	}
	if (rc != CURLE_OK || status != 200 || body.len == 0) {
		scl_warn("GetCACert: %s", rc != CURLE_OK ?
		    curl_easy_strerror(rc) : "not a 200 with a body");
		goto out;
	}
	if ((p7 = scl_certs_only(body.data, body.len)) != NULL) {
		if (p7->d.sign->cert != NULL)
			ra = ra_pick(p7->d.sign->cert);
	} else {
		q = body.data;
		ra = d2i_X509(NULL, &q, (long)body.len);
		if (ra != NULL && q != body.data + body.len) {
			X509_free(ra);
			ra = NULL;
		}
	}
	if (ra == NULL)
		scl_warn("GetCACert: no certificate in the reply");
out:
	PKCS7_free(p7);
	cg_buf_cleanup(&body);
	cg_free(url);
	return ra;
}

/* ------------------------------------------------------------ building */

static bool
msg_build(struct sb *sb, size_t i, const char *challenge, CURL *esc)
{
	const struct sb_opts	*o = sb->o;
	struct sb_msg		*m = &sb->msgs[i];
	struct scl_msg		 sm = { 0 };
	uint8_t			 rnd[SB_TID_BYTES], *csr = NULL;
	size_t			 clen = 0;
	char			 cn[64];
	bool			 ok = false;

	m->key = (unsigned)(i % o->keys);
	snprintf(cn, sizeof(cn), "bench-%ld-%zu", (long)getpid(), i);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    RAND_bytes(m->nonce, sizeof(m->nonce)) != 1) {
		scl_warn("no random bytes");
		return false;
	}
	cg_hex_encode(rnd, sizeof(rnd), m->tid, true);
	if ((m->cert = scl_self_signed(sb->keys[m->key], cn)) == NULL ||
	    (csr = scl_csr(sb->keys[m->key], cn, challenge, &clen)) == NULL)
		goto out;
	sm = (struct scl_msg){ .type = SCL_TYPE_PKCSREQ, .inner = csr,
	    .inner_len = clen, .to = sb->ra, .cipher = o->cipher,
	    .signer = m->cert, .key = sb->keys[m->key], .md = o->md,
	    .tid = m->tid, .nonce = m->nonce };
	if ((m->der = scl_message(&sm, &m->len)) == NULL)
		goto out;
	if (o->get && (m->url = scl_op_url(esc, o->url, m->der, m->len,
	    true)) == NULL)
		goto out;
	ok = true;
out:
	if (csr != NULL)
		OPENSSL_clear_free(csr, clen);	/* challenge */
	/* Only a checked reply needs the signer, to open its envelope. */
	if (ok && (o->check_every == 0 || i % o->check_every != 0)) {
		X509_free(m->cert);
		m->cert = NULL;
	}
	return ok;
}

static void
progress(size_t done, size_t n, uint64_t t0, bool tty)
{
	/* A line per quarter when stderr is a log, not a terminal. */
	if (!tty && done != n && done % ((n + 3) / 4) != 0)
		return;
	fprintf(stderr, "%scertgw-bench: built %zu/%zu messages (%.1f s)%s",
	    tty ? "\r" : "", done, n, (double)(cg_mono_ns() - t0) / 1e9,
	    tty && done != n ? "" : "\n");
}

static enum cg_code
sb_build(struct sb *sb, struct cg_err *err)
{
	const struct sb_opts	*o = sb->o;
	char			*challenge = NULL;
	CURL			*esc = NULL;
	uint64_t		 t0 = cg_mono_ns();
	size_t			 i;
	bool			 tty = isatty(STDERR_FILENO) == 1;
	enum cg_code		 rc = CG_EINTERNAL;

	if (o->challenge_file != NULL && (rc = cg_secret_load(
	    o->challenge_file, NULL, &challenge, err)) != CG_OK)
		return rc;
	sb->keys = cg_calloc((size_t)o->keys, sizeof(*sb->keys));
	sb->nmsgs = (size_t)(o->warmup + o->count);
	sb->msgs = cg_calloc(sb->nmsgs, sizeof(*sb->msgs));
	if (sb->keys == NULL || sb->msgs == NULL || (esc = curl_easy_init()) ==
	    NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	fprintf(stderr, "certgw-bench: %llu RSA-%d keys, then %zu messages\n",
	    (unsigned long long)o->keys, SB_RSA_BITS, sb->nmsgs);
	for (i = 0; i < o->keys; i++)
		if ((sb->keys[i] = scl_rsa_key(SB_RSA_BITS)) == NULL) {
			rc = cg_err_set(err, CG_EINTERNAL, "key generation");
			goto out;
		}
	for (i = 0; i < sb->nmsgs; i++) {
		if (!msg_build(sb, i, challenge, esc)) {
			rc = cg_err_set(err, CG_EINTERNAL, "cannot build "
			    "message %zu", i);
			goto out;
		}
		progress(i + 1, sb->nmsgs, t0, tty);
	}
	sb->build_s = (double)(cg_mono_ns() - t0) / 1e9;
	rc = CG_OK;
out:
	if (challenge != NULL)
		cg_secret_free(challenge);
	curl_easy_cleanup(esc);
	return rc;
}

/* ------------------------------------------------------------ replies */

/* The careful reading of a SUCCESS: is the certificate ours, for us? */
static int
reply_check(struct sb *sb, const struct sb_msg *m, const struct scl_rep *r)
{
	uint8_t			*plain = NULL;
	size_t			 plen = 0;
	PKCS7			*p7 = NULL;
	STACK_OF(X509)		*certs;
	int			 nid, e = SB_ERR_ENVELOPE;

	if (!r->tid_ok || !r->rnonce_ok || !r->snonce_ok)
		return SB_ERR_MISMATCH;
	if (scl_envelope_open(r->content, r->content_len, sb->keys[m->key],
	    m->cert, &nid, &plain, &plen) != SCL_ENV_OK ||
	    (p7 = scl_certs_only(plain, plen)) == NULL)
		goto out;
	certs = p7->d.sign->cert;
	if (certs == NULL || sk_X509_num(certs) < 1)
		goto out;
	e = EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, 0)),
	    sb->keys[m->key]) == 1 ? SB_OK : SB_ERR_WRONG_KEY;
out:
	PKCS7_free(p7);
	OPENSSL_free(plain);
	return e;
}

/* What one reply was: an enum sb_err, SB_OK or SB_COUNTED. */
static int
reply_judge(struct sb *sb, const struct sb_msg *m, const struct cg_buf *b,
    struct sb_stats *st)
{
	struct scl_rep		 r;
	enum scl_rep_code	 rc;
	int			 e;
	bool			 check = m->cert != NULL;

	rc = scl_rep_read(b->data, b->len, check ? sb->ra : NULL, m->tid,
	    m->nonce, &r);
	if (rc == SCL_REP_BAD_SIGNATURE) {
		e = SB_ERR_SIGNATURE;
	} else if (rc != SCL_REP_OK || r.msg_type != SCL_TYPE_CERTREP) {
		e = SB_ERR_MALFORMED;
	} else if (r.status == SCL_STATUS_PENDING) {
		e = SB_ERR_PENDING;
	} else if (r.status == SCL_STATUS_FAILURE) {
		e = SB_ERR_FAILURE;
		if (r.fail_info >= 0 && r.fail_info < SB_FAIL_KINDS) {
			st->fail[r.fail_info]++;
			e = SB_COUNTED;
		}
		first_err(sb, "%s: FAILURE %s", m->tid,
		    scl_fail_name(r.fail_info) != NULL ?
		    scl_fail_name(r.fail_info) : "(no failInfo)");
	} else if (r.status != SCL_STATUS_SUCCESS) {
		e = SB_ERR_MALFORMED;
	} else if (check) {
		e = reply_check(sb, m, &r);
		st->checked += e == SB_OK;
	} else {
		e = SB_OK;
	}
	scl_rep_free(&r);
	return e;
}

static void
transfer_done(struct sb *sb, struct sb_slot *s, CURLcode cc)
{
	struct sb_stats		*st = sb->measuring ? &sb->st : &sb->warm;
	const struct sb_msg	*m = &sb->msgs[s->msg];
	uint64_t		 dt = cg_mono_ns() - s->t0;
	long			 status = 0;
	int			 e;

	st->sent++;
	st->bytes_out += m->len;
	st->bytes_in += s->body.len;
	if (cc != CURLE_OK) {
		st->err[SB_ERR_TRANSPORT]++;
		first_err(sb, "%s: %s", m->tid, curl_easy_strerror(cc));
		return;
	}
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		st->http[status > 0 && status <= SB_STATUS_MAX ? status : 0]++;
		first_err(sb, "%s: HTTP %ld", m->tid, status);
		return;
	}
	e = reply_judge(sb, m, &s->body, st);
	if (e < SB_ERR__MAX) {
		st->err[e]++;
		first_err(sb, "%s: %s", m->tid, sb_err_names[e]);
		return;
	}
	if (e == SB_COUNTED)
		return;
	st->ok++;
	if (sb->measuring)
		sb->lat_ns[sb->nlat++] = dt;
}

/* ---------------------------------------------------------- the run */

static enum cg_code
slots_make(struct sb *sb, struct cg_err *err)
{
	const struct sb_opts	*o = sb->o;
	size_t			 i;

	sb->slots = cg_calloc((size_t)o->concurrency, sizeof(*sb->slots));
	sb->lat_ns = cg_calloc((size_t)o->count, sizeof(*sb->lat_ns));
	sb->multi = curl_multi_init();
	if (!o->get)
		sb->post_url = cg_asprintf("%s?operation=PKIOperation",
		    o->url);
	if (!o->get && (sb->hdrs = scl_post_headers(true)) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	if (sb->slots == NULL || sb->lat_ns == NULL || sb->multi == NULL ||
	    (!o->get && sb->post_url == NULL))
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	/* Keep every connection: one per transfer in flight. */
	curl_multi_setopt(sb->multi, CURLMOPT_MAXCONNECTS,
	    (long)o->concurrency);
	curl_multi_setopt(sb->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)o->concurrency);
	for (i = 0; i < o->concurrency; i++) {
		cg_buf_init(&sb->slots[i].body, SB_BODY_MAX);
		if ((sb->slots[i].h = curl_easy_init()) == NULL)
			return cg_err_set(err, CG_ENOMEM, "curl_easy_init");
	}
	return CG_OK;
}

static enum cg_code
slot_start(struct sb *sb, struct sb_slot *s, size_t msg, struct cg_err *err)
{
	const struct sb_msg	*m = &sb->msgs[msg];
	CURL			*h = s->h;

	s->msg = msg;
	cg_buf_reset(&s->body);
	if (sb->o->get)
		scl_http_setup(h, m->url, NULL, 0, NULL, sb->o->cacert,
		    &s->body);
	else
		scl_http_setup(h, sb->post_url, m->der, m->len, sb->hdrs,
		    sb->o->cacert, &s->body);
	curl_easy_setopt(h, CURLOPT_PRIVATE, (char *)s);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)SB_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)SB_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1);
	s->t0 = cg_mono_ns();
	if (curl_multi_add_handle(sb->multi, h) != CURLM_OK)
		return cg_err_set(err, CG_EINTERNAL, "curl_multi_add_handle");
	return CG_OK;
}

/* Send messages [from, to), C in flight, until every one is answered. */
static enum cg_code
phase_run(struct sb *sb, size_t from, size_t to, struct cg_err *err)
{
	struct sb_slot	*s;
	CURLMsg		*cm;
	size_t		 next = from, done = 0, i, nfree;
	int		 running, left;
	struct sb_slot	**idle;

	nfree = (size_t)sb->o->concurrency;
	if ((idle = cg_calloc(nfree, sizeof(*idle))) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	for (i = 0; i < nfree; i++)
		idle[i] = &sb->slots[i];
	while (done < to - from) {
		while (nfree > 0 && next < to)
			if (slot_start(sb, idle[--nfree], next++, err) != CG_OK)
				goto fail;
		if (curl_multi_perform(sb->multi, &running) != CURLM_OK) {
			cg_err_set(err, CG_EINTERNAL, "curl_multi_perform");
			goto fail;
		}
		while ((cm = curl_multi_info_read(sb->multi, &left)) != NULL) {
			if (cm->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE,
			    (char **)&s);
			transfer_done(sb, s, cm->data.result);
			curl_multi_remove_handle(sb->multi, s->h);
			idle[nfree++] = s;
			done++;
		}
		if (done < to - from && (nfree == 0 || next == to) &&
		    curl_multi_poll(sb->multi, NULL, 0, SB_POLL_MS, NULL) !=
		    CURLM_OK) {
			cg_err_set(err, CG_EINTERNAL, "curl_multi_poll");
			goto fail;
		}
	}
	cg_free(idle);
	return CG_OK;
fail:
	cg_free(idle);
	return CG_EINTERNAL;
}

static enum cg_code
sb_run(struct sb *sb, struct cg_err *err)
{
	size_t		 w = (size_t)sb->o->warmup;
	uint64_t	 t0;

	if (w > 0) {
		fprintf(stderr, "certgw-bench: warmup, %zu enrollments\n", w);
		if (phase_run(sb, 0, w, err) != CG_OK)
			return CG_EINTERNAL;
	}
	fprintf(stderr, "certgw-bench: measuring %zu enrollments\n",
	    sb->nmsgs - w);
	sb->measuring = true;
	t0 = cg_mono_ns();
	if (phase_run(sb, w, sb->nmsgs, err) != CG_OK)
		return CG_EINTERNAL;
	sb->secs = (double)(cg_mono_ns() - t0) / 1e9;
	return CG_OK;
}

/* ------------------------------------------------------------ report */

struct sb_lat {
	double	 mean, p50, p90, p99, max;	/* ms */
};

static int
ns_order(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
lat_get(struct sb *sb, struct sb_lat *l)
{
	static const double	 q[3] = { 0.50, 0.90, 0.99 };
	double			*out[3] = { &l->p50, &l->p90, &l->p99 };
	double			 sum = 0;
	size_t			 i, n = sb->nlat, rank;

	memset(l, 0, sizeof(*l));
	if (n == 0)
		return;
	qsort(sb->lat_ns, n, sizeof(*sb->lat_ns), ns_order);
	for (i = 0; i < n; i++)
		sum += (double)sb->lat_ns[i];
	l->mean = sum / (double)n / 1e6;
	/* Nearest rank: the smallest sample with q of them at or below. */
	for (i = 0; i < 3; i++) {
		rank = (size_t)(q[i] * (double)n + 0.999999);
		*out[i] = (double)sb->lat_ns[rank > 0 ? rank - 1 : 0] / 1e6;
	}
	l->max = (double)sb->lat_ns[n - 1] / 1e6;
}

static uint64_t
errors_of(const struct sb_stats *st)
{
	uint64_t	n = 0;
	size_t		i;

	for (i = 0; i < SB_ERR__MAX; i++)
		n += st->err[i];
	for (i = 0; i < SB_FAIL_KINDS; i++)
		n += st->fail[i];
	for (i = 0; i <= SB_STATUS_MAX; i++)
		n += st->http[i];
	return n;
}

/* Each error kind and its count, as "key" strings: one walk, two users. */
static void
errors_walk(const struct sb_stats *st, void (*fn)(void *, const char *,
    uint64_t), void *arg)
{
	char	 k[32];
	size_t	 i;

	for (i = 0; i < SB_ERR__MAX; i++)
		if (st->err[i] != 0)
			fn(arg, sb_err_names[i], st->err[i]);
	for (i = 0; i < SB_FAIL_KINDS; i++) {
		if (st->fail[i] == 0)
			continue;
		snprintf(k, sizeof(k), "failure:%s", scl_fail_name((int)i));
		fn(arg, k, st->fail[i]);
	}
	for (i = 0; i <= SB_STATUS_MAX; i++) {
		if (st->http[i] == 0)
			continue;
		snprintf(k, sizeof(k), "http:%zu", i);
		fn(arg, k, st->http[i]);
	}
}

static void
err_print(void *arg, const char *k, uint64_t n)
{
	printf(" %s%s=%llu", (const char *)arg, k, (unsigned long long)n);
}

static void
err_json(void *arg, const char *k, uint64_t n)
{
	json_object_set_new(arg, k, json_integer((json_int_t)n));
}

static void
sb_report_text(const struct sb *sb, const struct sb_lat *l)
{
	const struct sb_opts	*o = sb->o;
	const struct sb_stats	*st = &sb->st;

	printf("bench=scep url=%s concurrency=%llu count=%llu warmup=%llu "
	    "keys=%llu cipher=%s md=%s method=%s check_every=%llu "
	    "build_s=%.1f openssl=\"%s\"\n", o->url,
	    (unsigned long long)o->concurrency, (unsigned long long)o->count,
	    (unsigned long long)o->warmup, (unsigned long long)o->keys,
	    o->cipher, o->md, o->get ? "GET" : "POST",
	    (unsigned long long)o->check_every, sb->build_s,
	    OPENSSL_VERSION_TEXT);
	printf("bench=scep_result requests=%llu ok=%llu errors=%llu "
	    "elapsed_s=%.3f enroll_per_s=%.1f mean_ms=%.3f p50_ms=%.3f "
	    "p90_ms=%.3f p99_ms=%.3f max_ms=%.3f checked=%llu "
	    "bytes_sent=%llu bytes_received=%llu warmup_errors=%llu\n",
	    (unsigned long long)st->sent, (unsigned long long)st->ok,
	    (unsigned long long)errors_of(st), sb->secs,
	    sb->secs > 0 ? (double)st->ok / sb->secs : 0.0, l->mean, l->p50,
	    l->p90, l->p99, l->max, (unsigned long long)st->checked,
	    (unsigned long long)st->bytes_out,
	    (unsigned long long)st->bytes_in,
	    (unsigned long long)errors_of(&sb->warm));
	if (errors_of(st) + errors_of(&sb->warm) == 0)
		return;
	printf("bench=scep_errors");
	errors_walk(st, err_print, "");
	errors_walk(&sb->warm, err_print, "warmup:");
	printf("\n");
}

static int
sb_report_json(const struct sb *sb, const struct sb_lat *l)
{
	const struct sb_opts	*o = sb->o;
	const struct sb_stats	*st = &sb->st;
	json_t			*j, *e, *we;
	int			 rc = -1;

	e = json_object();
	we = json_object();
	if (e == NULL || we == NULL) {
		json_decref(e);
		json_decref(we);
		return -1;
	}
	errors_walk(st, err_json, e);
	errors_walk(&sb->warm, err_json, we);
	j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:I, "
	    "s:f, s:f, s:I, s:I, s:I, s:o, s:o, s:f, "
	    "s:{s:f, s:f, s:f, s:f, s:f, s:I}, s:{s:I, s:I}, s:s}",
	    "mode", "scep", "url", o->url,
	    "concurrency", (json_int_t)o->concurrency,
	    "count", (json_int_t)o->count, "warmup", (json_int_t)o->warmup,
	    "keys", (json_int_t)o->keys, "cipher", o->cipher, "md", o->md,
	    "method", o->get ? "GET" : "POST",
	    "check_every", (json_int_t)o->check_every,
	    "build_s", sb->build_s, "elapsed_s", sb->secs,
	    "requests", (json_int_t)st->sent, "ok", (json_int_t)st->ok,
	    "checked", (json_int_t)st->checked, "errors", e,
	    "warmup_errors", we,
	    "enrollments_per_s", sb->secs > 0 ? (double)st->ok / sb->secs :
	    0.0,
	    "latency_ms", "mean", l->mean, "p50", l->p50, "p90", l->p90,
	    "p99", l->p99, "max", l->max, "samples", (json_int_t)sb->nlat,
	    "bytes", "sent", (json_int_t)st->bytes_out,
	    "received", (json_int_t)st->bytes_in,
	    "openssl", OPENSSL_VERSION_TEXT);
	if (j == NULL)
		return -1;
	rc = json_dumpf(j, stdout, JSON_COMPACT) == 0 ? 0 : -1;
	printf("\n");
	json_decref(j);
	return rc;
}

/* ----------------------------------------------------------- cleanup */

static void
sb_cleanup(struct sb *sb)
{
	size_t	i;

	for (i = 0; sb->slots != NULL && i < sb->o->concurrency; i++) {
		curl_easy_cleanup(sb->slots[i].h);
		cg_buf_cleanup(&sb->slots[i].body);
	}
	curl_multi_cleanup(sb->multi);
	cg_free(sb->slots);
	for (i = 0; sb->msgs != NULL && i < sb->nmsgs; i++) {
		OPENSSL_free(sb->msgs[i].der);
		cg_free(sb->msgs[i].url);
		X509_free(sb->msgs[i].cert);
	}
	cg_free(sb->msgs);
	for (i = 0; sb->keys != NULL && i < sb->o->keys; i++)
		EVP_PKEY_free(sb->keys[i]);
	cg_free(sb->keys);
	curl_slist_free_all(sb->hdrs);
	cg_free(sb->post_url);
	cg_free(sb->lat_ns);
	X509_free(sb->ra);
}

int
bench_scep_main(int argc, char **argv)
{
	struct sb_opts		 o;
	struct sb		 sb;
	struct sb_lat		 l;
	struct cg_err		 err = { 0 };
	OSSL_PROVIDER		*prov_default, *prov_legacy;
	int			 rc, ex = 1;

	rc = sb_opts_parse(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? 0 : EX_USAGE_BENCH;
	scl_prog = "certgw-bench";
	memset(&sb, 0, sizeof(sb));
	sb.o = &o;
	/* Servers may answer in single DES (scepserver): legacy provider. */
	prov_default = OSSL_PROVIDER_load(NULL, "default");
	prov_legacy = OSSL_PROVIDER_load(NULL, "legacy");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto out;
	sb.ra = o.ra_file != NULL ? scl_cert_read(o.ra_file) : ra_fetch(&o);
	if (sb.ra == NULL)
		goto out;
	if (sb_build(&sb, &err) != CG_OK || slots_make(&sb, &err) != CG_OK ||
	    sb_run(&sb, &err) != CG_OK) {
		cg_log_err_struct(__func__, "bench", &err);
		goto out;
	}
	lat_get(&sb, &l);
	if (sb.first_err[0] != '\0')
		fprintf(stderr, "certgw-bench: first error: %s\n",
		    sb.first_err);
	if (o.json ? sb_report_json(&sb, &l) != 0 :
	    (sb_report_text(&sb, &l), false))
		goto out;
	if (errors_of(&sb.st) + errors_of(&sb.warm) == 0 &&
	    sb.st.ok == o.count)
		ex = 0;
out:
	fflush(stdout);
	sb_cleanup(&sb);
	curl_global_cleanup();
	if (prov_legacy != NULL)
		OSSL_PROVIDER_unload(prov_legacy);
	if (prov_default != NULL)
		OSSL_PROVIDER_unload(prov_default);
	return ex;
}
