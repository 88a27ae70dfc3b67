/*
 * dist_push.c - one HTTPS push of a distribution job with libcurl, the
 * classification of its answer, and the retry policy (backoff, limits).
 *
 * Each rule has its own easy handle for the life of the pusher: libcurl
 * keeps the connection of a handle open between transfers, so a worker
 * pushing a burst of certificates to one endpoint pays for one TLS
 * handshake, not one per certificate.  The options that never change
 * (TLS, identity, auth, timeouts, protocols) are set once; a push sets
 * only the URL, the body and the headers.
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

/* A rule and everything its handle points into. */
struct push_rule {
	const struct gw_dist_rule *rule;	/* borrowed from the config */
	CURL		*curl;
	char		*p12_pass;	/* cg_secret_free */
	char		*basic_pass;	/* cg_secret_free */
	char		 errbuf[CURL_ERROR_SIZE];
};

struct dist_pusher {
	struct push_rule *rules;
	size_t		 nrules;
};

/* What the callbacks learn during one transfer. */
struct push_io {
	size_t		 body;		/* response bytes seen */
	bool		 overflow;	/* body passed DIST_PUSH_BODY_MAX */
	bool		 have_ra;	/* Retry-After in the last response */
	uint32_t	 retry_after;	/* its value in seconds */
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

#define SETOPT(pr, opt, val) do {					\
	if (curl_easy_setopt((pr)->curl, (opt), (val)) != CURLE_OK)	\
		return cg_err_set(err, CG_EINTERNAL,			\
		    "rule %s: libcurl refused %s", (pr)->rule->name,	\
		    #opt);						\
} while (0)

/* The options of a rule's handle that stay for every push. */
static enum cg_code
rule_setup(struct push_rule *pr, struct cg_err *err)
{
	const struct gw_dist_rule	*r = pr->rule;
	long				 connect_ms;
	enum cg_code			 rc;

	pr->curl = curl_easy_init();
	if (pr->curl == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
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

	SETOPT(pr, CURLOPT_NOSIGNAL, 1L);
	SETOPT(pr, CURLOPT_ERRORBUFFER, pr->errbuf);
	SETOPT(pr, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(pr, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(pr, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(pr, CURLOPT_USERAGENT, USER_AGENT);
	SETOPT(pr, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
	connect_ms = r->timeout_ms < DIST_PUSH_CONNECT_MS ?
	    (long)r->timeout_ms : DIST_PUSH_CONNECT_MS;
	SETOPT(pr, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SETOPT(pr, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(pr, CURLOPT_HEADERFUNCTION, on_header);
	/* Whatever the library was built with, never leave 1.2 behind. */
	SETOPT(pr, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);

	SETOPT(pr, CURLOPT_SSL_VERIFYPEER, r->insecure_skip_verify ? 0L : 1L);
	SETOPT(pr, CURLOPT_SSL_VERIFYHOST, r->insecure_skip_verify ? 0L : 2L);
	if (r->ca_file != NULL)
		SETOPT(pr, CURLOPT_CAINFO, r->ca_file);

	if (r->client_p12 != NULL) {
		SETOPT(pr, CURLOPT_SSLCERTTYPE, "P12");
		SETOPT(pr, CURLOPT_SSLCERT, r->client_p12);
		if (pr->p12_pass != NULL)
			SETOPT(pr, CURLOPT_KEYPASSWD, pr->p12_pass);
	} else if (r->client_cert != NULL) {
		SETOPT(pr, CURLOPT_SSLCERTTYPE, "PEM");
		SETOPT(pr, CURLOPT_SSLCERT, r->client_cert);
		if (r->client_key != NULL) {
			SETOPT(pr, CURLOPT_SSLKEYTYPE, "PEM");
			SETOPT(pr, CURLOPT_SSLKEY, r->client_key);
		}
	}

	if (r->basic_user != NULL) {
		SETOPT(pr, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(pr, CURLOPT_USERNAME, r->basic_user);
		SETOPT(pr, CURLOPT_PASSWORD,
		    pr->basic_pass != NULL ? pr->basic_pass : "");
	}
	return CG_OK;
}

#undef SETOPT

enum cg_code
dist_pusher_new(const struct gw_dist_conf *conf, struct dist_pusher **pp,
    struct cg_err *err)
{
	struct dist_pusher	*p;
	size_t			 i;
	enum cg_code		 rc;

	*pp = NULL;
	p = cg_calloc(1, sizeof(*p));
	if (p == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	if (conf->nrules > 0) {
		p->rules = cg_calloc(conf->nrules, sizeof(*p->rules));
		if (p->rules == NULL) {
			cg_free(p);
			return cg_err_set(err, CG_ENOMEM, "out of memory");
		}
	}
	for (i = 0; i < conf->nrules; i++) {
		p->rules[i].rule = &conf->rules[i];
		p->nrules++;
		rc = rule_setup(&p->rules[i], err);
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
	size_t	 i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nrules; i++) {
		if (p->rules[i].curl != NULL)
			curl_easy_cleanup(p->rules[i].curl);
		cg_secret_free(p->rules[i].p12_pass);
		cg_secret_free(p->rules[i].basic_pass);
	}
	cg_free(p->rules);
	cg_free(p);
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

enum cg_code
dist_push(struct dist_pusher *p, const struct dist_job *job,
    struct dist_result *res, struct cg_err *err)
{
	struct push_rule	*pr;
	struct push_io		 io = { 0 };
	struct curl_slist	*hdrs = NULL;
	struct cg_buf		 body;
	struct cg_err		 e2 = { 0 };
	const char		*ctype = NULL;
	char			*url = NULL;
	double			 t0;
	long			 status = 0;
	CURLcode		 cc;
	enum cg_code		 rc = CG_OK;

	t0 = now_ms();
	memset(res, 0, sizeof(*res));
	res->outcome = DIST_RETRY;
	cg_buf_init(&body, CA_STORE_PAYLOAD_MAX * 2);

	pr = rule_find(p, job->rule);
	if (pr == NULL) {
		res->outcome = DIST_DEAD;
		reason_set(res, "no rule %s in this configuration", job->rule);
		goto done;
	}
	if (dist_url_expand(pr->rule, job, &url, &e2) != CG_OK) {
		if (e2.code == CG_ENOMEM) {
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
			goto done;
		}
		res->outcome = DIST_DEAD;
		reason_set(res, "url: %s", e2.msg);
		goto done;
	}
	if (dist_payload_build(pr->rule, job, &body, &ctype, &e2) != CG_OK) {
		if (e2.code == CG_ENOMEM) {
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
			goto done;
		}
		res->outcome = DIST_DEAD;
		reason_set(res, "payload: %s", e2.msg);
		goto done;
	}
	hdrs = headers_build(pr->rule, job, ctype);
	if (hdrs == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto done;
	}

	pr->errbuf[0] = '\0';
	if (curl_easy_setopt(pr->curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(pr->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body.len) != CURLE_OK ||
	    curl_easy_setopt(pr->curl, CURLOPT_POSTFIELDS,
	    body.len > 0 ? (const char *)body.data : "") != CURLE_OK ||
	    curl_easy_setopt(pr->curl, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(pr->curl, CURLOPT_WRITEDATA, &io) != CURLE_OK ||
	    curl_easy_setopt(pr->curl, CURLOPT_HEADERDATA, &io) != CURLE_OK) {
		rc = cg_err_set(err, CG_ENOMEM, "rule %s: cannot set up the "
		    "request", pr->rule->name);
		goto done;
	}
	cc = curl_easy_perform(pr->curl);
	curl_easy_getinfo(pr->curl, CURLINFO_RESPONSE_CODE, &status);

	if (cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && io.overflow &&
	    status != 0)) {
		classify_status(status, res);
		if (io.have_ra)
			res->retry_after_s = io.retry_after;
	} else {
		res->outcome = DIST_RETRY;
		res->status = 0;
		/* The error buffer holds the detail; it never names secrets. */
		if (pr->errbuf[0] != '\0')
			reason_set(res, "%s: %s: %s", curl_class(cc),
			    curl_easy_strerror(cc), pr->errbuf);
		else
			reason_set(res, "%s: %s", curl_class(cc),
			    curl_easy_strerror(cc));
	}

	/* The handle must not point into freed memory between pushes. */
	curl_easy_setopt(pr->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(pr->curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(pr->curl, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(pr->curl, CURLOPT_HEADERDATA, NULL);
done:
	if (rc != CG_OK) {
		res->outcome = DIST_RETRY;
		reason_set(res, "internal: %s", cg_code_str(rc));
	}
	curl_slist_free_all(hdrs);
	cg_buf_cleanup(&body);
	cg_free(url);
	res->duration_ms = now_ms() - t0;
	return rc;
}
