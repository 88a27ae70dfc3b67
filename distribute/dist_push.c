/*
 * dist_push.c - HTTPS pushes of distribution jobs with libcurl's multi
 * interface, the classification of their answers, and the retry policy
 * (backoff, limits).
 *
 * A transfer is an easy handle set up for one rule: the options that
 * never change (TLS, identity, auth, timeouts, protocols) are set once
 * when it is made; a push sets only the URL, the body and the headers.
 * Finished transfers go back to their rule's idle list, so a worker makes
 * at most in_flight of them per rule.  The multi handle owns the
 * connection cache: a connection to an endpoint outlives the transfer
 * that opened it, and the next push to that endpoint, on whichever
 * handle, reuses it.  A burst of certificates to one endpoint pays for
 * in_flight TLS handshakes at most, not one per certificate.
 */
#include "certgw/dist_push.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#ifndef CERTGW_VERSION
#define CERTGW_VERSION	"0"
#endif

#define USER_AGENT	"certgw/" CERTGW_VERSION
#define RETRY_AFTER_MAX	UINT32_C(31536000)	/* a year: beyond is noise */
#define IN_FLIGHT_MAX	1024	/* whatever the config says */

/* What the callbacks learn during one transfer. */
struct push_io {
	size_t		 body;		/* response bytes seen */
	bool		 overflow;	/* body passed DIST_PUSH_BODY_MAX */
	bool		 have_ra;	/* Retry-After in the last response */
	uint32_t	 retry_after;	/* its value in seconds */
};

struct push_rule;

/*
 * One push: an easy handle with its rule's options, and what the current
 * push sends (owned here, so the caller's job may go at once).  A
 * transfer without a rule or handle carries a result known before any
 * network (a job that cannot be sent) to the next dist_push_run().
 */
struct push_xfer {
	struct push_xfer *next;		/* idle list, or the ready list */
	struct push_xfer *rnext;	/* the running list */
	struct push_xfer *rprev;
	struct push_rule *pr;		/* NULL: a ready-made result */
	CURL		*curl;
	void		*tag;		/* the caller's */
	struct push_io	 io;
	struct curl_slist *hdrs;
	struct cg_buf	 body;
	char		*url;
	double		 t0;		/* ms, monotonic, when started */
	struct dist_result res;
	char		 errbuf[CURL_ERROR_SIZE];
};

/* A rule, its secrets and its idle transfers. */
struct push_rule {
	const struct gw_dist_rule *rule;	/* borrowed from the config */
	char		*p12_pass;	/* cg_secret_free */
	char		*basic_pass;	/* cg_secret_free */
	struct push_xfer *idle;		/* set up, not in use */
};

struct dist_pusher {
	struct push_rule *rules;
	size_t		 nrules;
	CURLM		*multi;
	size_t		 max;		/* pushes in flight at most */
	size_t		 active;	/* started, not yet reported */
	size_t		 running;	/* of those, added to the multi */
	struct push_xfer *run;		/* in the multi */
	struct push_xfer *ready;	/* results known without a transfer */
	struct push_xfer **ready_tail;
	uint64_t	 connects;	/* new connections so far */
};

const char *
dist_outcome_str(enum dist_outcome o)
{
	switch (o) {
	case DIST_DELIVERED:
		return "delivered";
	case DIST_RETRY:
		return "retry";
	case DIST_DEAD:
		return "dead";
	default:
		return "?";
	}
}

/* ------------------------------------------------------------ policy */

uint64_t
dist_backoff_ms(const struct gw_dist_rule *rule, uint32_t attempt,
    uint32_t retry_after_s, uint64_t r)
{
	uint64_t	 cap, lo, ms, ra;
	uint32_t	 i;

	if (attempt == 0)
		attempt = 1;
	/* Doubling stops at the ceiling, so no shift can overflow. */
	cap = rule->initial_backoff_ms;
	for (i = 1; i < attempt && cap < rule->max_backoff_ms; i++)
		cap *= 2;
	if (cap > rule->max_backoff_ms)
		cap = rule->max_backoff_ms;
	lo = cap / 2;
	ms = lo + r % (cap - lo + 1);
	ra = (uint64_t)retry_after_s * 1000;
	if (ra > ms)
		ms = ra < rule->max_backoff_ms ? ra : rule->max_backoff_ms;
	return ms;
}

bool
dist_retry_exhausted(const struct gw_dist_rule *rule,
    const struct dist_job *job, int64_t now)
{
	if (job->attempt >= rule->max_attempts)
		return true;
	/* A clock that went back makes the job young, never negative-old. */
	return now > job->created_at &&
	    (uint64_t)(now - job->created_at) > rule->max_age_s;
}

/* ------------------------------------------------------------ helpers */

/* Printf into a reason, keeping printable ASCII only. */
static void
reason_set(struct dist_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reason_set(struct dist_result *res, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 i;

	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	for (i = 0; res->reason[i] != '\0'; i++)
		if (res->reason[i] < 0x20 || res->reason[i] > 0x7e)
			res->reason[i] = '?';
}

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Drop the body, but stop a receiver that would stream without end. */
static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct push_io	*io = arg;

	(void)data;
	io->body += n;
	if (io->body > DIST_PUSH_BODY_MAX) {
		io->overflow = true;
		return 0;	/* CURLE_WRITE_ERROR */
	}
	return n;
}

/* Retry-After: delay-seconds or an HTTP date (RFC 9110, 10.2.3). */
static bool
retry_after_parse(const char *v, size_t len, uint32_t *sp)
{
	char		 buf[128];
	uint64_t	 s = 0;
	time_t		 t, now;
	size_t		 i;

	while (len > 0 && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len > 0 && isspace((unsigned char)v[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return false;
	if (isdigit((unsigned char)v[0])) {
		for (i = 0; i < len; i++) {
			if (!isdigit((unsigned char)v[i]))
				return false;
			if (s <= RETRY_AFTER_MAX)
				s = s * 10 + (uint64_t)(v[i] - '0');
		}
		*sp = s > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (uint32_t)s;
		return true;
	}
	memcpy(buf, v, len);
	buf[len] = '\0';
	t = curl_getdate(buf, NULL);
	if (t == -1)
		return false;
	now = time(NULL);
	s = t > now ? (uint64_t)(t - now) : 0;
	*sp = s > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (uint32_t)s;
	return true;
}

/*
 * libcurl hands over every header line of every response, the status
 * line first; only the final response's Retry-After counts.
 */
static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	static const char	 name[] = "Retry-After:";
	struct push_io		*io = arg;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		io->have_ra = false;
		io->retry_after = 0;
	} else if (n > sizeof(name) - 1 &&
	    strncasecmp(data, name, sizeof(name) - 1) == 0) {
		io->have_ra = retry_after_parse(data + sizeof(name) - 1,
		    n - (sizeof(name) - 1), &io->retry_after);
		if (!io->have_ra)
			io->retry_after = 0;
	}
	return n;
}

#define TLSOPT(opt, val) do {						\
	if (curl_easy_setopt(curl, (opt), (val)) != CURLE_OK)		\
		return cg_err_set(err, CG_EINTERNAL,			\
		    "rule %s: libcurl refused %s", r->name, #opt);	\
} while (0)

enum cg_code
dist_push_tls_setopt(CURL *curl, const struct gw_dist_rule *r,
    const char *p12_pass, struct cg_err *err)
{
	/* Whatever the library was built with, never leave 1.2 behind. */
	TLSOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);

	TLSOPT(CURLOPT_SSL_VERIFYPEER, r->insecure_skip_verify ? 0L : 1L);
	TLSOPT(CURLOPT_SSL_VERIFYHOST, r->insecure_skip_verify ? 0L : 2L);
	if (r->ca_file != NULL)
		TLSOPT(CURLOPT_CAINFO, r->ca_file);

	if (r->client_p12 != NULL) {
		TLSOPT(CURLOPT_SSLCERTTYPE, "P12");
		TLSOPT(CURLOPT_SSLCERT, r->client_p12);
		if (p12_pass != NULL)
			TLSOPT(CURLOPT_KEYPASSWD, p12_pass);
	} else if (r->client_cert != NULL) {
		TLSOPT(CURLOPT_SSLCERTTYPE, "PEM");
		TLSOPT(CURLOPT_SSLCERT, r->client_cert);
		if (r->client_key != NULL) {
			TLSOPT(CURLOPT_SSLKEYTYPE, "PEM");
			TLSOPT(CURLOPT_SSLKEY, r->client_key);
		}
	}
	return CG_OK;
}

#undef TLSOPT

#define SETOPT(x, opt, val) do {					\
	if (curl_easy_setopt((x)->curl, (opt), (val)) != CURLE_OK)	\
		return cg_err_set(err, CG_EINTERNAL,			\
		    "rule %s: libcurl refused %s", r->name, #opt);	\
} while (0)

/* The options of a rule's transfer that stay for every push. */
static enum cg_code
xfer_setup(struct push_xfer *x, struct cg_err *err)
{
	const struct gw_dist_rule	*r = x->pr->rule;
	long				 connect_ms;
	enum cg_code			 rc;

	SETOPT(x, CURLOPT_PRIVATE, x);
	SETOPT(x, CURLOPT_NOSIGNAL, 1L);
	SETOPT(x, CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(x, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(x, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(x, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(x, CURLOPT_USERAGENT, USER_AGENT);
	SETOPT(x, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
	connect_ms = r->timeout_ms < DIST_PUSH_CONNECT_MS ?
	    (long)r->timeout_ms : DIST_PUSH_CONNECT_MS;
	SETOPT(x, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SETOPT(x, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(x, CURLOPT_WRITEDATA, &x->io);
	SETOPT(x, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(x, CURLOPT_HEADERDATA, &x->io);
	rc = dist_push_tls_setopt(x->curl, r, x->pr->p12_pass, err);
	if (rc != CG_OK)
		return rc;

	if (r->basic_user != NULL) {
		SETOPT(x, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(x, CURLOPT_USERNAME, r->basic_user);
		SETOPT(x, CURLOPT_PASSWORD,
		    x->pr->basic_pass != NULL ? x->pr->basic_pass : "");
	}
	return CG_OK;
}

#undef SETOPT

/* What one push sent: gone, the transfer is ready for the next. */
static void
xfer_clear(struct push_xfer *x)
{
	if (x->curl != NULL) {
		/* The handle must not point into freed memory. */
		curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(x->curl, CURLOPT_POSTFIELDS, NULL);
	}
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	cg_buf_reset(&x->body);		/* the memory stays for the next push */
	cg_free(x->url);
	x->url = NULL;
	x->tag = NULL;
	memset(&x->io, 0, sizeof(x->io));
	memset(&x->res, 0, sizeof(x->res));
	x->errbuf[0] = '\0';
}

static void
xfer_free(struct push_xfer *x)
{
	if (x == NULL)
		return;
	xfer_clear(x);
	cg_buf_cleanup(&x->body);
	if (x->curl != NULL)
		curl_easy_cleanup(x->curl);
	cg_free(x);
}

/* An idle transfer of pr, or a new one; NULL when out of memory. */
static struct push_xfer *
xfer_get(struct push_rule *pr, struct cg_err *err)
{
	struct push_xfer	*x;

	if ((x = pr->idle) != NULL) {
		pr->idle = x->next;
		x->next = NULL;
		return x;
	}
	x = cg_calloc(1, sizeof(*x));
	if (x == NULL) {
		cg_err_set(err, CG_ENOMEM, "out of memory");
		return NULL;
	}
	x->pr = pr;
	cg_buf_init(&x->body, CA_STORE_PAYLOAD_MAX * 2);
	x->curl = curl_easy_init();
	if (x->curl == NULL) {
		cg_free(x);
		cg_err_set(err, CG_ENOMEM, "out of memory");
		return NULL;
	}
	if (xfer_setup(x, err) != CG_OK) {
		xfer_free(x);
		return NULL;
	}
	return x;
}

static void
xfer_put(struct push_xfer *x)
{
	xfer_clear(x);
	if (x->pr == NULL) {
		xfer_free(x);
		return;
	}
	x->next = x->pr->idle;
	x->pr->idle = x;
}

static enum cg_code
rule_secrets(struct push_rule *pr, struct cg_err *err)
{
	const struct gw_dist_rule	*r = pr->rule;
	enum cg_code			 rc;

	if (r->client_p12 != NULL && r->client_p12_password_file != NULL) {
		rc = cg_secret_load(r->client_p12_password_file, NULL,
		    &pr->p12_pass, err);
		if (rc != CG_OK)
			return rc;
	}
	if (r->basic_user != NULL && r->basic_password_file != NULL) {
		rc = cg_secret_load(r->basic_password_file, NULL,
		    &pr->basic_pass, err);
		if (rc != CG_OK)
			return rc;
	}
	return CG_OK;
}

enum cg_code
dist_pusher_new(const struct gw_dist_conf *conf, struct dist_pusher **pp,
    struct cg_err *err)
{
	struct dist_pusher	*p;
	struct push_xfer	*x;
	size_t			 i;
	enum cg_code		 rc;

	*pp = NULL;
	p = cg_calloc(1, sizeof(*p));
	if (p == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	p->ready_tail = &p->ready;
	p->max = conf->in_flight == 0 ? 1 : conf->in_flight;
	if (p->max > IN_FLIGHT_MAX)
		p->max = IN_FLIGHT_MAX;
	if (conf->nrules > 0) {
		p->rules = cg_calloc(conf->nrules, sizeof(*p->rules));
		if (p->rules == NULL) {
			cg_free(p);
			return cg_err_set(err, CG_ENOMEM, "out of memory");
		}
	}
	p->multi = curl_multi_init();
	if (p->multi == NULL) {
		dist_pusher_free(p);
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	/*
	 * Up to max connections to one endpoint, and room in the cache for
	 * all of them per rule: an idle connection is never closed only to
	 * open another to the same endpoint.
	 */
	if (curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)p->max) != CURLM_OK ||
	    curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS,
	    (long)(p->max * (conf->nrules > 0 ? conf->nrules : 1))) !=
	    CURLM_OK) {
		dist_pusher_free(p);
		return cg_err_set(err, CG_EINTERNAL, "libcurl refused the "
		    "connection limits");
	}
	for (i = 0; i < conf->nrules; i++) {
		p->rules[i].rule = &conf->rules[i];
		p->nrules++;
		rc = rule_secrets(&p->rules[i], err);
		/* One transfer per rule now: a bad option shows at start. */
		if (rc == CG_OK) {
			x = xfer_get(&p->rules[i], err);
			if (x == NULL)
				rc = err->code != CG_OK ? err->code :
				    CG_ENOMEM;
			else
				xfer_put(x);
		}
		if (rc != CG_OK) {
			dist_pusher_free(p);
			return rc;
		}
	}
	*pp = p;
	return CG_OK;
}

void
dist_pusher_free(struct dist_pusher *p)
{
	struct push_xfer	*x, *next;
	size_t			 i;

	if (p == NULL)
		return;
	/* Transfers still in the multi: take them out and free them. */
	for (x = p->run; x != NULL; x = next) {
		next = x->rnext;
		curl_multi_remove_handle(p->multi, x->curl);
		xfer_free(x);
	}
	for (x = p->ready; x != NULL; x = next) {
		next = x->next;
		xfer_free(x);
	}
	for (i = 0; i < p->nrules; i++) {
		for (x = p->rules[i].idle; x != NULL; x = next) {
			next = x->next;
			xfer_free(x);
		}
		cg_secret_free(p->rules[i].p12_pass);
		cg_secret_free(p->rules[i].basic_pass);
	}
	if (p->multi != NULL)
		curl_multi_cleanup(p->multi);
	cg_free(p->rules);
	cg_free(p);
}

uint64_t
dist_pusher_connects(const struct dist_pusher *p)
{
	return p->connects;
}

size_t
dist_push_in_flight(const struct dist_pusher *p)
{
	return p->active;
}

size_t
dist_push_room(const struct dist_pusher *p)
{
	return p->active >= p->max ? 0 : p->max - p->active;
}

/* ------------------------------------------------------------ the push */

static struct push_rule *
rule_find(struct dist_pusher *p, const char *name)
{
	size_t	 i;

	for (i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].rule->name, name) == 0)
			return &p->rules[i];
	return NULL;
}

/* Append "Name: value" to the list; false when out of memory. */
static bool
header_add(struct curl_slist **hp, const char *name, const char *value)
{
	struct curl_slist	*n;
	char			*line;

	/* "Name;" is how libcurl is told to send a header with no value. */
	if (value[0] == '\0')
		line = cg_asprintf("%s;", name);
	else
		line = cg_asprintf("%s: %s", name, value);
	if (line == NULL)
		return false;
	n = curl_slist_append(*hp, line);
	cg_free(line);
	if (n == NULL)
		return false;
	*hp = n;
	return true;
}

static struct curl_slist *
headers_build(const struct gw_dist_rule *r, const struct dist_job *job,
    const char *ctype)
{
	struct curl_slist	*h = NULL, *n;
	size_t			 i;

	if (!header_add(&h, "Content-Type", ctype) ||
	    !header_add(&h, "Idempotency-Key", job->id))
		goto fail;
	/*
	 * "Expect:" with nothing after the colon removes the header libcurl
	 * would add: no 100-continue round trip, the bodies are small.
	 */
	if ((n = curl_slist_append(h, "Expect:")) == NULL)
		goto fail;
	h = n;
	for (i = 0; i < r->nheaders; i++)
		if (!header_add(&h, r->headers[i].name, r->headers[i].value))
			goto fail;
	return h;
fail:
	curl_slist_free_all(h);
	return NULL;
}

/* The class of a libcurl failure, for a reason that reads at a glance. */
static const char *
curl_class(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return "resolve";
	case CURLE_COULDNT_CONNECT:
		return "connect";
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_SSL_SHUTDOWN_FAILED:
		return "TLS";
	case CURLE_UNSUPPORTED_PROTOCOL:
		return "protocol";	/* not https, or not HTTP at all */
	case CURLE_URL_MALFORMAT:
		return "url";
	default:
		return "transfer";
	}
}

/* An HTTP status into an outcome and a reason. */
static void
classify_status(long status, struct dist_result *res)
{
	res->status = status;
	reason_set(res, "HTTP %ld", status);
	if (status >= 200 && status <= 299)
		res->outcome = DIST_DELIVERED;
	else if (status == 408 || status == 429 ||
	    (status >= 500 && status <= 599))
		res->outcome = DIST_RETRY;
	else if (status >= 100 && status <= 499)
		res->outcome = DIST_DEAD;
	else	/* not HTTP at all: a broken server, maybe mended later */
		res->outcome = DIST_RETRY;
}

/* Queue a result known before any network for the next run. */
static void
ready_add(struct dist_pusher *p, struct push_xfer *x)
{
	x->next = NULL;
	*p->ready_tail = x;
	p->ready_tail = &x->next;
}

/* A job that cannot be sent: its transfer (if any) carries the verdict. */
static enum cg_code
start_dead(struct dist_pusher *p, struct push_xfer *x, void *tag,
    double t0, const char *what, const char *why, struct cg_err *err)
{
	if (x == NULL) {
		x = cg_calloc(1, sizeof(*x));
		if (x == NULL)
			return cg_err_set(err, CG_ENOMEM, "out of memory");
		cg_buf_init(&x->body, 0);
	} else {
		xfer_clear(x);
		/* Back to its rule's idle list after the report. */
	}
	x->tag = tag;
	x->t0 = t0;
	x->res.outcome = DIST_DEAD;
	reason_set(&x->res, "%s%s", what, why);
	ready_add(p, x);
	p->active++;
	return CG_OK;
}

enum cg_code
dist_push_start(struct dist_pusher *p, const struct dist_job *job,
    void *tag, struct cg_err *err)
{
	struct push_rule	*pr;
	struct push_xfer	*x;
	struct cg_err		 e2 = { 0 };
	const char		*ctype = NULL;
	double			 t0;
	CURLMcode		 mc;
	char			 why[DIST_REASON_MAX + 32];

	if (p->active >= p->max)
		return cg_err_set(err, CG_ECONFLICT, "%zu pushes already in "
		    "flight", p->active);
	t0 = now_ms();
	pr = rule_find(p, job->rule);
	if (pr == NULL) {
		snprintf(why, sizeof(why), "%s in this configuration",
		    job->rule);
		return start_dead(p, NULL, tag, t0, "no rule ", why, err);
	}
	if ((x = xfer_get(pr, err)) == NULL)
		return err->code != CG_OK ? err->code : CG_ENOMEM;
	x->tag = tag;
	x->t0 = t0;
	if (dist_url_expand(pr->rule, job, &x->url, &e2) != CG_OK) {
		if (e2.code == CG_ENOMEM)
			goto nomem;
		return start_dead(p, x, tag, t0, "url: ", e2.msg, err);
	}
	if (dist_payload_build(pr->rule, job, &x->body, &ctype, &e2) !=
	    CG_OK) {
		if (e2.code == CG_ENOMEM)
			goto nomem;
		return start_dead(p, x, tag, t0, "payload: ", e2.msg, err);
	}
	x->hdrs = headers_build(pr->rule, job, ctype);
	if (x->hdrs == NULL)
		goto nomem;
	if (curl_easy_setopt(x->curl, CURLOPT_URL, x->url) != CURLE_OK ||
	    curl_easy_setopt(x->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)x->body.len) != CURLE_OK ||
	    curl_easy_setopt(x->curl, CURLOPT_POSTFIELDS,
	    x->body.len > 0 ? (const char *)x->body.data : "") != CURLE_OK ||
	    curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, x->hdrs) !=
	    CURLE_OK)
		goto nomem;
	mc = curl_multi_add_handle(p->multi, x->curl);
	if (mc != CURLM_OK) {
		xfer_put(x);
		return cg_err_set(err, mc == CURLM_OUT_OF_MEMORY ? CG_ENOMEM :
		    CG_EINTERNAL, "rule %s: cannot start the push: %s",
		    pr->rule->name, curl_multi_strerror(mc));
	}
	x->rprev = NULL;
	x->rnext = p->run;
	if (p->run != NULL)
		p->run->rprev = x;
	p->run = x;
	p->active++;
	p->running++;
	return CG_OK;
nomem:
	xfer_put(x);
	return cg_err_set(err, CG_ENOMEM, "out of memory");
}

/* The outcome of a finished transfer into x->res. */
static void
xfer_result(struct push_xfer *x, CURLcode cc)
{
	struct dist_result	*res = &x->res;
	long			 status = 0;

	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	memset(res, 0, sizeof(*res));
	if (cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && x->io.overflow &&
	    status != 0)) {
		classify_status(status, res);
		if (x->io.have_ra)
			res->retry_after_s = x->io.retry_after;
		return;
	}
	res->outcome = DIST_RETRY;
	res->status = 0;
	/* The error buffer holds the detail; it never names secrets. */
	if (x->errbuf[0] != '\0')
		reason_set(res, "%s: %s: %s", curl_class(cc),
		    curl_easy_strerror(cc), x->errbuf);
	else
		reason_set(res, "%s: %s", curl_class(cc),
		    curl_easy_strerror(cc));
}

/* Report x through fn and put it back. */
static void
report(struct dist_pusher *p, struct push_xfer *x, dist_push_done_fn *fn,
    void *arg)
{
	struct dist_result	 res;
	void			*tag = x->tag;

	res = x->res;
	res.duration_ms = now_ms() - x->t0;
	p->active--;
	xfer_put(x);
	fn(arg, tag, &res);
}

/* Take the finished transfers out of the multi and report them. */
static size_t
collect(struct dist_pusher *p, dist_push_done_fn *fn, void *arg)
{
	struct push_xfer	*x;
	CURLMsg			*msg;
	long			 conns;
	size_t			 n = 0;
	int			 left;

	while ((msg = curl_multi_info_read(p->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&x);
		if (x == NULL)
			continue;
		xfer_result(x, msg->data.result);
		conns = 0;
		if (curl_easy_getinfo(x->curl, CURLINFO_NUM_CONNECTS,
		    &conns) == CURLE_OK && conns > 0)
			p->connects += (uint64_t)conns;
		/* msg belongs to the handle: done with it from here. */
		curl_multi_remove_handle(p->multi, x->curl);
		if (x->rprev != NULL)
			x->rprev->rnext = x->rnext;
		else
			p->run = x->rnext;
		if (x->rnext != NULL)
			x->rnext->rprev = x->rprev;
		x->rnext = x->rprev = NULL;
		p->running--;
		report(p, x, fn, arg);
		n++;
	}
	return n;
}

enum cg_code
dist_push_run(struct dist_pusher *p, uint32_t wait_ms,
    dist_push_done_fn *fn, void *arg, size_t *np, struct cg_err *err)
{
	struct push_xfer	*x;
	CURLMcode		 mc;
	size_t			 n = 0;
	int			 still;

	if (np != NULL)
		*np = 0;
	while ((x = p->ready) != NULL) {
		if ((p->ready = x->next) == NULL)
			p->ready_tail = &p->ready;
		report(p, x, fn, arg);
		n++;
	}
	if (p->running > 0) {
		mc = curl_multi_perform(p->multi, &still);
		if (mc == CURLM_OK)
			n += collect(p, fn, arg);
		if (mc == CURLM_OK && n == 0 && wait_ms > 0 &&
		    p->running > 0) {
			mc = curl_multi_poll(p->multi, NULL, 0, (int)wait_ms,
			    NULL);
			if (mc == CURLM_OK)
				mc = curl_multi_perform(p->multi, &still);
			if (mc == CURLM_OK)
				n += collect(p, fn, arg);
		}
		if (mc != CURLM_OK)
			return cg_err_set(err, CG_EINTERNAL, "libcurl: %s",
			    curl_multi_strerror(mc));
	}
	if (np != NULL)
		*np = n;
	return CG_OK;
}

/* dist_push(): the one result it waits for. */
struct push_one {
	struct dist_result	*res;
	bool			 done;
};

static void
push_one_done(void *arg, void *tag, const struct dist_result *res)
{
	struct push_one	*one = arg;

	(void)tag;
	*one->res = *res;
	one->done = true;
}

enum cg_code
dist_push(struct dist_pusher *p, const struct dist_job *job,
    struct dist_result *res, struct cg_err *err)
{
	struct push_one	 one = { res, false };
	enum cg_code	 rc;

	memset(res, 0, sizeof(*res));
	res->outcome = DIST_RETRY;
	if (p->active > 0)
		rc = cg_err_set(err, CG_ECONFLICT, "pushes in flight");
	else
		rc = dist_push_start(p, job, &one, err);
	while (rc == CG_OK && !one.done)
		rc = dist_push_run(p, 1000, push_one_done, &one, NULL, err);
	if (rc != CG_OK) {
		res->outcome = DIST_RETRY;
		reason_set(res, "internal: %s", cg_code_str(rc));
	}
	return rc;
}
