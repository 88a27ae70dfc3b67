/*
 * acme_validate.c - the validator thread and the life of a job: the
 * submission queue (a mutex and a pipe that wakes the loop), checks of a
 * submitted job, the deadline, the A/AAAA lookup that http-01 and
 * tls-alpn-01 share, and the one place a job ends (done() runs there,
 * exactly once).  The protocol steps live in acme_validate_dns.c,
 * acme_validate_http.c and acme_validate_tls.c.
 */
#include "acme_validate_int.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#define VTIMEOUT_DEFAULT	10000	/* ms, when conf says 0 */

/* ------------------------------------------------------------ helpers */

void
acme_tlsalpn01_digest(const char *keyauth, uint8_t out[32])
{
	unsigned int	 n = 32;

	if (EVP_Digest(keyauth, strlen(keyauth), out, &n, EVP_sha256(),
	    NULL) != 1)
		memset(out, 0, 32);
}

void
acme_dns01_txt(const char *keyauth, char out[44])
{
	uint8_t		 d[32];

	acme_tlsalpn01_digest(keyauth, d);
	(void)acme_b64url_encode_to(d, sizeof(d), out);
}

/*
 * A short excerpt of peer bytes for a detail: at most VEXCERPT_MAX of
 * them, anything not printable ASCII as '?', "..." when cut.
 */
void
vexcerpt(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	size_t	 i, n = len < VEXCERPT_MAX ? len : VEXCERPT_MAX;

	if (outlen == 0)
		return;
	for (i = 0; i < n && i + 4 < outlen; i++)
		out[i] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' ?
		    (char)p[i] : '?';
	out[i] = '\0';
	if (i < len && i + 4 <= outlen)
		memcpy(out + i, "...", 4);
}

bool
vparse_ip(const char *s, struct vaddr *a)
{
	if (inet_pton(AF_INET, s, a->a) == 1) {
		a->af = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, a->a) == 1) {
		a->af = AF_INET6;
		return true;
	}
	return false;
}

/* LDH labels (and '_', for _acme-challenge and service names). */
static bool
valid_name(const char *s)
{
	size_t	 len = strlen(s), lab = 0, i;

	if (len == 0 || len > ACME_V_NAME_MAX || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (lab == 0 || s[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return false;
		if (lab == 0 && s[i] == '-')
			return false;
		if (++lab > 63)
			return false;
	}
	return s[len - 1] != '-';
}

static bool
bounded(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static bool
valid_token(const char *s, bool need)
{
	size_t	 len = strlen(s);

	if (len == 0)
		return !need;
	return acme_b64url_valid(s, len);
}

static bool
valid_keyauth(const char *s)
{
	size_t	 i, len = strlen(s);

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

static enum cg_code
check_job(const struct acme_vjob *job, struct cg_err *err)
{
	struct vaddr	 a;
	size_t		 i;

	if ((unsigned)job->type >= ACME_V__MAX)
		return cg_err_set(err, CG_EINVAL, "unknown validation type");
	if (!bounded(job->value, sizeof(job->value)) ||
	    !bounded(job->token, sizeof(job->token)) ||
	    !bounded(job->keyauth, sizeof(job->keyauth)) ||
	    !bounded(job->account_uri, sizeof(job->account_uri)))
		return cg_err_set(err, CG_EINVAL, "unterminated job field");
	if (job->ip ? !vparse_ip(job->value, &a) : !valid_name(job->value))
		return cg_err_set(err, CG_EINVAL, "bad identifier value");
	switch (job->type) {
	case ACME_V_DNS01:
		if (job->ip)	/* RFC 8738 §7: not for IP identifiers */
			return cg_err_set(err, CG_EINVAL,
			    "dns-01 cannot validate an IP address");
		/* FALLTHROUGH */
	case ACME_V_HTTP01:
	case ACME_V_TLSALPN01:
		if (!valid_token(job->token, job->type == ACME_V_HTTP01) ||
		    !valid_keyauth(job->keyauth))
			return cg_err_set(err, CG_EINVAL,
			    "bad token or key authorization");
		break;
	case ACME_V_CAA:
		if (job->ncaa_ids > ACME_V_CAA_IDS_MAX)
			return cg_err_set(err, CG_EINVAL,
			    "too many CAA issuer domains");
		for (i = 0; i < job->ncaa_ids; i++)
			if (!bounded(job->caa_ids[i],
			    sizeof(job->caa_ids[i])) ||
			    !valid_name(job->caa_ids[i]))
				return cg_err_set(err, CG_EINVAL,
				    "bad CAA issuer domain");
		if (job->method != NULL && (strlen(job->method) == 0 ||
		    strlen(job->method) >= VMETHOD_MAX))
			return cg_err_set(err, CG_EINVAL,
			    "bad validation method");
		break;
	default:
		break;
	}
	return CG_OK;
}

/*
 * The resolver address, checked here so a typo is CG_EINVAL at startup
 * instead of a c-ares failure later: "ip", "ip:port", "[v6]" or
 * "[v6]:port", and a bare IPv6 address.
 */
static bool
valid_resolver(const char *s)
{
	char		 buf[64];
	const char	*port = NULL, *colon;
	struct vaddr	 a;
	uint64_t	 p;
	size_t		 len = strlen(s);

	if (len == 0 || len >= sizeof(buf))
		return false;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || (size_t)(rb - s - 1) >= sizeof(buf))
			return false;
		memcpy(buf, s + 1, rb - s - 1);
		buf[rb - s - 1] = '\0';
		if (inet_pton(AF_INET6, buf, a.a) != 1)
			return false;
		if (rb[1] == ':')
			port = rb + 2;
		else if (rb[1] != '\0')
			return false;
	} else if ((colon = strchr(s, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		memcpy(buf, s, colon - s);
		buf[colon - s] = '\0';
		if (inet_pton(AF_INET, buf, a.a) != 1)
			return false;
		port = colon + 1;
	} else if (!vparse_ip(s, &a))
		return false;
	if (port != NULL && (!cg_parse_u64(port, strlen(port), 65535, &p) ||
	    p == 0))
		return false;
	return true;
}

/* ------------------------------------------------------- job lifecycle */

static void
vjob_free(struct vjob *j)
{
	if (j->deadline != NULL)
		event_free(j->deadline);
	cg_buf_cleanup(&j->body);
	OPENSSL_cleanse(j->job.keyauth, sizeof(j->job.keyauth));
	cg_free(j);
}

/* End a running job: stop what it does, tell the caller, forget it. */
static void
vjob_end(struct vjob *j, const struct acme_vresult *res)
{
	struct acme_validator *v = j->v;

	vdns_detach(j);
	vhttp_cancel(j);
	vtls_cancel(j);
	TAILQ_REMOVE(&v->running, j, entry);
	j->done(j->arg, res);
	vjob_free(j);
	pthread_mutex_lock(&v->mu);
	v->n--;
	pthread_mutex_unlock(&v->mu);
}

void
vjob_ok(struct vjob *j)
{
	struct acme_vresult res;

	memset(&res, 0, sizeof(res));
	res.ok = true;
	res.prob = ACME_P_NONE;
	vjob_end(j, &res);
}

static void	vjob_failv(struct vjob *, enum acme_problem, const char *,
		    va_list) __attribute__((format(printf, 3, 0)));

static void
vjob_failv(struct vjob *j, enum acme_problem prob, const char *fmt,
    va_list ap)
{
	struct acme_vresult res;

	memset(&res, 0, sizeof(res));
	res.ok = false;
	res.prob = prob;
	(void)vsnprintf(res.detail, sizeof(res.detail), fmt, ap);
	cg_log_debug("event=acme_validation_failed type=%d prob=%s",
	    (int)j->job.type, acme_problem_type(prob));
	vjob_end(j, &res);
}

void
vjob_fail(struct vjob *j, enum acme_problem prob, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vjob_failv(j, prob, fmt, ap);
	va_end(ap);
}

void
vjob_set_timeout(struct vjob *j, enum acme_problem prob, const char *fmt,
    ...)
{
	va_list	 ap;

	j->tmo_prob = prob;
	va_start(ap, fmt);
	(void)vsnprintf(j->tmo_detail, sizeof(j->tmo_detail), fmt, ap);
	va_end(ap);
}

uint32_t
vjob_left_ms(const struct vjob *j)
{
	uint64_t now = cg_mono_ms(), end = j->started + j->v->conf.timeout_ms;

	return now >= end ? 1 : (uint32_t)(end - now);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vjob	*j = arg;

	vjob_fail(j, j->tmo_prob, "%s", j->tmo_detail);
}

static void
vjob_start(struct acme_validator *v, struct vjob *j)
{
	struct timeval	 tv;

	TAILQ_INSERT_TAIL(&v->running, j, entry);
	j->started = cg_mono_ms();
	vjob_set_timeout(j, ACME_P_CONNECTION, "validation of %s timed out "
	    "after %u ms", j->job.value, v->conf.timeout_ms);
	tv.tv_sec = v->conf.timeout_ms / 1000;
	tv.tv_usec = (v->conf.timeout_ms % 1000) * 1000;
	if ((j->deadline = evtimer_new(v->base, deadline_cb, j)) == NULL ||
	    evtimer_add(j->deadline, &tv) != 0) {
		vjob_fail(j, ACME_P_SERVER_INTERNAL, "out of memory");
		return;
	}
	switch (j->job.type) {
	case ACME_V_HTTP01:
		vhttp_start(j);
		break;
	case ACME_V_DNS01:
		vdns01_start(j);
		break;
	case ACME_V_TLSALPN01:
		vtls_start(j);
		break;
	case ACME_V_CAA:
		vcaa_start(j);
		break;
	default:
		vjob_fail(j, ACME_P_SERVER_INTERNAL, "unknown validation");
		break;
	}
}

/* ------------------------------------------------ A/AAAA for a job */

static void
resolve_cb(struct vjob *j, int slot, int status, const uint8_t *abuf,
    int alen)
{
	struct ares_addrttl	 a4[VADDR_MAX];
	struct ares_addr6ttl	 a6[VADDR_MAX];
	int			 n, i;

	j->dns_status[slot] = status;
	if (status == ARES_SUCCESS && slot == 0) {
		n = VADDR_MAX;
		if (ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n) ==
		    ARES_SUCCESS)
			for (i = 0; i < n && j->naddrs < VADDR_MAX; i++) {
				j->addrs[j->naddrs].af = AF_INET6;
				memcpy(j->addrs[j->naddrs++].a,
				    &a6[i].ip6addr, 16);
			}
	} else if (status == ARES_SUCCESS) {
		n = VADDR_MAX;
		if (ares_parse_a_reply(abuf, alen, NULL, a4, &n) ==
		    ARES_SUCCESS)
			for (i = 0; i < n && j->naddrs < VADDR_MAX; i++) {
				j->addrs[j->naddrs].af = AF_INET;
				memcpy(j->addrs[j->naddrs++].a,
				    &a4[i].ipaddr, 4);
			}
	}
	if (--j->dns_pending > 0)
		return;
	if (j->naddrs > 0) {
		/*
		 * IPv6 first, as the slots were filled: a host that
		 * publishes AAAA is expected to answer on it.  The
		 * A answers come after, so the order is stable.
		 */
		j->resolved(j);
		return;
	}
	if (j->dns_status[0] == ARES_ENOTFOUND &&
	    j->dns_status[1] == ARES_ENOTFOUND)
		vjob_fail(j, ACME_P_DNS, "DNS: no such domain %s (NXDOMAIN)",
		    j->rname);
	else if ((j->dns_status[0] == ARES_SUCCESS ||
	    j->dns_status[0] == ARES_ENODATA ||
	    j->dns_status[0] == ARES_ENOTFOUND) &&
	    (j->dns_status[1] == ARES_SUCCESS ||
	    j->dns_status[1] == ARES_ENODATA ||
	    j->dns_status[1] == ARES_ENOTFOUND))
		vjob_fail(j, ACME_P_DNS, "DNS: no A or AAAA records for %s",
		    j->rname);
	else
		vjob_fail(j, ACME_P_DNS, "DNS: lookup of %s failed: %s",
		    j->rname, vdns_status_str(j->dns_status[1] !=
		    ARES_SUCCESS && j->dns_status[1] != ARES_ENODATA ?
		    j->dns_status[1] : j->dns_status[0]));
}

/*
 * Find the addresses of name with the configured resolver (never the
 * system's: an enterprise points it at the DNS that knows its internal
 * names), then call fn; a failed lookup ends the job.  The caller must
 * not touch j after this: the job may have ended.
 */
void
vresolve(struct vjob *j, const char *name, vresolved_fn *fn)
{
	(void)snprintf(j->rname, sizeof(j->rname), "%s", name);
	j->naddrs = 0;
	j->resolved = fn;
	j->dns_pending = 2;
	vjob_set_timeout(j, ACME_P_DNS, "DNS: lookup of %s timed out",
	    j->rname);
	vdns_query(j, 0, j->rname, ns_t_aaaa, resolve_cb);
	/* resolve_cb on slot 0 cannot end the job: slot 1 is pending. */
	vdns_query(j, 1, j->rname, ns_t_a, resolve_cb);
}

/* ------------------------------------------------------------ thread */

static void
drain_all(struct acme_validator *v)
{
	struct vjob	*j;

	pthread_mutex_lock(&v->mu);
	while ((j = TAILQ_FIRST(&v->queue)) != NULL) {
		TAILQ_REMOVE(&v->queue, j, entry);
		TAILQ_INSERT_TAIL(&v->running, j, entry);
		pthread_mutex_unlock(&v->mu);
		vjob_fail(j, ACME_P_SERVER_INTERNAL, "validator stopped");
		pthread_mutex_lock(&v->mu);
	}
	pthread_mutex_unlock(&v->mu);
	while ((j = TAILQ_FIRST(&v->running)) != NULL)
		vjob_fail(j, ACME_P_SERVER_INTERNAL, "validator stopped");
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct acme_validator *v = arg;
	struct vjob_list q;
	struct vjob	*j;
	char		 buf[64];
	bool		 stop;

	while (read(fd, buf, sizeof(buf)) > 0)
		continue;
	TAILQ_INIT(&q);
	pthread_mutex_lock(&v->mu);
	stop = v->stopping;
	if (!stop)
		TAILQ_CONCAT(&q, &v->queue, entry);
	pthread_mutex_unlock(&v->mu);
	if (stop) {
		drain_all(v);
		event_base_loopbreak(v->base);
		return;
	}
	while ((j = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, j, entry);
		vjob_start(v, j);
	}
}

static void *
vthread(void *arg)
{
	struct acme_validator *v = arg;

	(void)event_base_dispatch(v->base);
	/* Whatever made the loop end, no job outlives it. */
	drain_all(v);
	return NULL;
}

static void
wake(struct acme_validator *v)
{
	ssize_t	 r;

	/* A full pipe already holds a wake-up: EAGAIN is fine. */
	do
		r = write(v->wake[1], "", 1);
	while (r == -1 && errno == EINTR);
}

static void
validator_cleanup(struct acme_validator *v)
{
	vhttp_cleanup(v);
	vdns_cleanup(v);
	vtls_cleanup(v);
	if (v->wake_ev != NULL)
		event_free(v->wake_ev);
	if (v->base != NULL)
		event_base_free(v->base);
	if (v->wake[0] != -1)
		(void)close(v->wake[0]);
	if (v->wake[1] != -1)
		(void)close(v->wake[1]);
	pthread_mutex_destroy(&v->mu);
	cg_free(v->resolver);
	cg_free(v);
}

enum cg_code
acme_validator_new(const struct acme_vconf *conf,
    struct acme_validator **vp, struct cg_err *err)
{
	struct acme_validator *v;
	enum cg_code	 rc;

	*vp = NULL;
	if (conf->resolver != NULL && !valid_resolver(conf->resolver))
		return cg_err_set(err, CG_EINVAL, "bad resolver address");
	if (conf->http_port == 0 || conf->tls_alpn_port == 0)
		return cg_err_set(err, CG_EINVAL, "bad validation port");
	if ((v = cg_calloc(1, sizeof(*v))) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	v->conf = *conf;
	v->wake[0] = v->wake[1] = -1;
	if (v->conf.timeout_ms == 0)
		v->conf.timeout_ms = VTIMEOUT_DEFAULT;
	if (v->conf.in_flight == 0 ||
	    v->conf.in_flight > ACME_V_IN_FLIGHT_MAX)
		v->conf.in_flight = ACME_V_IN_FLIGHT_MAX;
	TAILQ_INIT(&v->queue);
	TAILQ_INIT(&v->running);
	LIST_INIT(&v->socks);
	pthread_mutex_init(&v->mu, NULL);
	if (conf->resolver != NULL &&
	    (v->resolver = cg_strdup(conf->resolver)) == NULL) {
		validator_cleanup(v);
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	v->conf.resolver = v->resolver;
	if (pipe2(v->wake, O_NONBLOCK | O_CLOEXEC) == -1) {
		v->wake[0] = v->wake[1] = -1;
		validator_cleanup(v);
		return cg_err_errno(err, CG_EIO, "cannot make a pipe");
	}
	if ((v->base = event_base_new()) == NULL ||
	    (v->wake_ev = event_new(v->base, v->wake[0], EV_READ | EV_PERSIST,
	    wake_cb, v)) == NULL || event_add(v->wake_ev, NULL) != 0) {
		validator_cleanup(v);
		return cg_err_set(err, CG_ENOMEM,
		    "cannot set up an event loop");
	}
	if ((rc = vdns_init(v, err)) != CG_OK ||
	    (rc = vhttp_init(v, err)) != CG_OK ||
	    (rc = vtls_init(v, err)) != CG_OK) {
		validator_cleanup(v);
		return rc;
	}
	if (pthread_create(&v->thread, NULL, vthread, v) != 0) {
		validator_cleanup(v);
		return cg_err_set(err, CG_EINTERNAL,
		    "cannot start the validator thread");
	}
	v->thread_ok = true;
	*vp = v;
	return CG_OK;
}

enum cg_code
acme_validate(struct acme_validator *v, const struct acme_vjob *job,
    acme_vdone_fn *done, void *arg, struct cg_err *err)
{
	struct vjob	*j;
	enum cg_code	 rc;

	if (done == NULL)
		return cg_err_set(err, CG_EINVAL, "no callback");
	if ((rc = check_job(job, err)) != CG_OK)
		return rc;
	if ((j = cg_calloc(1, sizeof(*j))) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	j->v = v;
	j->job = *job;
	j->fd = -1;
	if (job->method != NULL)
		(void)snprintf(j->method, sizeof(j->method), "%s",
		    job->method);
	j->job.method = job->method != NULL ? j->method : NULL;
	j->done = done;
	j->arg = arg;
	cg_buf_init(&j->body, ACME_V_HTTP_BODY_MAX);

	pthread_mutex_lock(&v->mu);
	if (v->stopping || v->n >= v->conf.in_flight) {
		bool stopping = v->stopping;

		pthread_mutex_unlock(&v->mu);
		vjob_free(j);
		return stopping ? cg_err_set(err, CG_EINTERNAL,
		    "validator stopping") : cg_err_set(err, CG_ETOOBIG,
		    "too many validations in flight");
	}
	v->n++;
	TAILQ_INSERT_TAIL(&v->queue, j, entry);
	pthread_mutex_unlock(&v->mu);
	wake(v);
	return CG_OK;
}

size_t
acme_validator_in_flight(struct acme_validator *v)
{
	size_t	 n;

	pthread_mutex_lock(&v->mu);
	n = v->n;
	pthread_mutex_unlock(&v->mu);
	return n;
}

void
acme_validator_free(struct acme_validator *v)
{
	if (v == NULL)
		return;
	pthread_mutex_lock(&v->mu);
	v->stopping = true;
	pthread_mutex_unlock(&v->mu);
	wake(v);
	if (v->thread_ok)
		(void)pthread_join(v->thread, NULL);
	validator_cleanup(v);
}
