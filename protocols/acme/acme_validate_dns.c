/*
 * acme_validate_dns.c - c-ares on the validator's event loop, and the two
 * checks that are DNS only: dns-01 (RFC 8555 §8.4) and CAA (RFC 8659
 * tree climbing, RFC 8657 parameters).  The CAA value parser and the
 * decision on an RRset are pure functions, fuzzed and unit-tested
 * without a network.
 */
#include "acme_validate_int.h"

#include <arpa/nameser.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#define VDNS_TIMEOUT_MS		2000	/* per try, before the job's own */
#define VDNS_TRIES		2
#define VCAA_RRS_MAX		32	/* CAA records looked at per name */

#ifndef T_CAA
#define T_CAA			257
#endif

/* An outstanding query; job NULL once the job has gone. */
struct vdnsq {
	struct vjob	*job;
	int		 slot;
	vdns_fn		*cb;
};

/* ---------------------------------------------------- c-ares glue */

static void	ares_rearm(struct acme_validator *v);

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vsock	*s = arg;
	struct acme_validator *v = s->v;

	ares_process_fd(v->ares, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	ares_rearm(v);
}

static void
ares_tmr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct acme_validator *v = arg;

	ares_process_fd(v->ares, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	ares_rearm(v);
}

static void
ares_rearm(struct acme_validator *v)
{
	struct timeval	 tv, *tvp;

	tvp = ares_timeout(v->ares, NULL, &tv);
	if (tvp == NULL)
		evtimer_del(v->ares_tmr);
	else
		evtimer_add(v->ares_tmr, tvp);
}

/* c-ares says which of its sockets to watch, and for what. */
static void
sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct acme_validator *v = data;
	struct vsock	*s;

	LIST_FOREACH(s, &v->socks, entry)
		if (s->fd == fd)
			break;
	if (s != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (!readable && !writable) {
		if (s != NULL) {
			LIST_REMOVE(s, entry);
			cg_free(s);
		}
		return;
	}
	if (s == NULL) {
		if ((s = cg_calloc(1, sizeof(*s))) == NULL)
			return;	/* the query times out instead */
		s->v = v;
		s->fd = fd;
		LIST_INSERT_HEAD(&v->socks, s, entry);
	}
	s->ev = event_new(v->base, fd, EV_PERSIST |
	    (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0), sock_cb, s);
	if (s->ev != NULL)
		(void)event_add(s->ev, NULL);
}

enum cg_code
vdns_init(struct acme_validator *v, struct cg_err *err)
{
	struct ares_options o;
	int		 mask, r;
	char		 lookups[] = "b";

	if ((r = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS)
		return cg_err_set(err, CG_EINTERNAL, "c-ares: %s",
		    ares_strerror(r));
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = v;
	o.timeout = VDNS_TIMEOUT_MS;
	o.tries = VDNS_TRIES;
	/* DNS only: /etc/hosts and search domains are not the zone. */
	o.lookups = lookups;
	/* See SERVFAIL and REFUSED as such, not as "connection refused". */
	o.flags = ARES_FLAG_NOCHECKRESP;
	o.ndomains = 0;
	o.domains = NULL;
	mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	    ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS | ARES_OPT_FLAGS;
	if ((r = ares_init_options(&v->ares, &o, mask)) != ARES_SUCCESS) {
		ares_library_cleanup();
		v->ares = NULL;
		return cg_err_set(err, CG_EINTERNAL, "c-ares: %s",
		    ares_strerror(r));
	}
	if (v->resolver != NULL &&
	    (r = ares_set_servers_ports_csv(v->ares, v->resolver)) !=
	    ARES_SUCCESS)
		return cg_err_set(err, CG_EINVAL, "bad resolver address: %s",
		    ares_strerror(r));
	if ((v->ares_tmr = evtimer_new(v->base, ares_tmr_cb, v)) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

void
vdns_cleanup(struct acme_validator *v)
{
	struct vsock	*s;

	if (v->ares != NULL) {
		/* Detached queries free themselves in their callbacks. */
		ares_destroy(v->ares);
		v->ares = NULL;
		ares_library_cleanup();
	}
	while ((s = LIST_FIRST(&v->socks)) != NULL) {
		LIST_REMOVE(s, entry);
		if (s->ev != NULL)
			event_free(s->ev);
		cg_free(s);
	}
	if (v->ares_tmr != NULL)
		event_free(v->ares_tmr);
	v->ares_tmr = NULL;
}

const char *
vdns_status_str(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:
		return "NXDOMAIN";
	case ARES_ENODATA:
		return "no records";
	case ARES_ESERVFAIL:
		return "SERVFAIL";
	case ARES_EREFUSED:
		return "REFUSED";
	case ARES_ETIMEOUT:
		return "timeout";
	case ARES_ECONNREFUSED:
		return "connection refused";
	default:
		return ares_strerror(status);
	}
}

static void
query_cb(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct vdnsq	*q = arg;
	struct vjob	*j = q->job;
	int		 slot = q->slot;
	vdns_fn		*cb = q->cb;

	cg_free(q);
	if (j == NULL)
		return;
	j->dnsq[slot] = NULL;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
		status = ARES_ETIMEOUT;
	cb(j, slot, status, abuf, alen);
}

/*
 * Ask for name/type in slot of j; cb gets the answer, possibly before
 * this returns (c-ares fails some queries at once).
 */
void
vdns_query(struct vjob *j, int slot, const char *name, int type,
    vdns_fn *cb)
{
	struct acme_validator *v = j->v;
	struct vdnsq	*q;

	if ((q = cg_calloc(1, sizeof(*q))) == NULL) {
		cb(j, slot, ARES_ENOMEM, NULL, 0);
		return;
	}
	q->job = j;
	q->slot = slot;
	q->cb = cb;
	j->dnsq[slot] = q;
	ares_query(v->ares, name, ns_c_in, type, query_cb, q);
	ares_rearm(v);
}

void
vdns_detach(struct vjob *j)
{
	int	 i;

	for (i = 0; i < VDNS_SLOTS; i++)
		if (j->dnsq[i] != NULL) {
			j->dnsq[i]->job = NULL;
			j->dnsq[i] = NULL;
		}
}

/* ------------------------------------------------------------ dns-01 */

/* One TXT record, its strings joined, as far as it can still match. */
struct txt_rec {
	char		 buf[44];
	size_t		 len;
	bool		 over;		/* longer than any match */
};

static bool
txt_matches(const struct txt_rec *r, const char want[44])
{
	return !r->over && r->len == 43 && CRYPTO_memcmp(r->buf, want,
	    43) == 0;
}

static void
dns01_cb(struct vjob *j, int slot, int status, const uint8_t *abuf,
    int alen)
{
	struct ares_txt_ext *txt = NULL, *t;
	struct txt_rec	 rec;
	char		 want[44], first[64];
	const char	*name = j->rname;
	size_t		 nrec = 0;
	bool		 match = false;
	int		 r;

	if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
		vjob_fail(j, ACME_P_UNAUTHORIZED, "dns-01: no TXT record at "
		    "%s (%s)", name, vdns_status_str(status));
		return;
	}
	if (status != ARES_SUCCESS) {
		vjob_fail(j, ACME_P_DNS, "dns-01: TXT lookup of %s failed: "
		    "%s", name, vdns_status_str(status));
		return;
	}
	if ((r = ares_parse_txt_reply_ext(abuf, alen, &txt)) != ARES_SUCCESS) {
		if (r == ARES_ENODATA)
			vjob_fail(j, ACME_P_UNAUTHORIZED, "dns-01: no TXT "
			    "record at %s", name);
		else
			vjob_fail(j, ACME_P_DNS, "dns-01: bad TXT answer "
			    "for %s: %s", name, ares_strerror(r));
		return;
	}
	acme_dns01_txt(j->job.keyauth, want);
	first[0] = '\0';
	memset(&rec, 0, sizeof(rec));
	/*
	 * A record is its character-strings joined (RFC 8555 §8.4 puts
	 * the value in one, but a long one may be split); c-ares marks
	 * where each record starts.
	 */
	for (t = txt; t != NULL && !match; t = t->next) {
		if (t->record_start) {
			if (nrec > 0 && txt_matches(&rec, want))
				match = true;
			memset(&rec, 0, sizeof(rec));
			nrec++;
		}
		if (nrec == 1 && first[0] == '\0')
			vexcerpt(t->txt, t->length, first, sizeof(first));
		if (rec.len + t->length > 43)
			rec.over = true;
		else {
			memcpy(rec.buf + rec.len, t->txt, t->length);
			rec.len += t->length;
		}
	}
	if (!match && nrec > 0 && txt_matches(&rec, want))
		match = true;
	ares_free_data(txt);
	if (match)
		vjob_ok(j);
	else if (nrec == 0)
		vjob_fail(j, ACME_P_UNAUTHORIZED, "dns-01: no TXT record at "
		    "%s", name);
	else
		vjob_fail(j, ACME_P_INCORRECT_RESPONSE, "dns-01: %zu TXT "
		    "record(s) at %s, none is the expected value (first: "
		    "\"%s\")", nrec, name, first);
}

void
vdns01_start(struct vjob *j)
{
	if (strlen(j->job.value) + 16 > ACME_V_NAME_MAX) {
		vjob_fail(j, ACME_P_DNS, "dns-01: name too long");
		return;
	}
	memcpy(j->rname, "_acme-challenge.", 16);
	memcpy(j->rname + 16, j->job.value, strlen(j->job.value) + 1);
	vjob_set_timeout(j, ACME_P_DNS, "dns-01: TXT lookup of %s timed out",
	    j->rname);
	vdns_query(j, 0, j->rname, ns_t_txt, dns01_cb);
}

/* -------------------------------------------------------------- CAA */

static bool
is_ldh(int c)
{
	return isalnum(c) || c == '-';
}

static void
skip_wsp(const uint8_t *p, size_t len, size_t *i)
{
	while (*i < len && (p[*i] == ' ' || p[*i] == '\t'))
		(*i)++;
}

/*
 * label *("." label), label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT)):
 * copied into out (cap bytes); false when there is none or it is bad.
 */
static bool
take_domain(const uint8_t *p, size_t len, size_t *i, char *out, size_t cap)
{
	size_t	 start = *i, n;

	while (*i < len && (is_ldh(p[*i]) || p[*i] == '.'))
		(*i)++;
	n = *i - start;
	if (n == 0 || n >= cap)
		return false;
	memcpy(out, p + start, n);
	out[n] = '\0';
	if (out[0] == '.' || out[0] == '-' || out[n - 1] == '.' ||
	    out[n - 1] == '-' || strstr(out, "..") != NULL ||
	    strstr(out, "-.") != NULL || strstr(out, ".-") != NULL)
		return false;
	return true;
}

bool
acme_caa_parse_issue(const uint8_t *p, size_t len,
    struct acme_caa_issue *out)
{
	size_t	 i = 0, n, start;

	memset(out, 0, sizeof(*out));
	skip_wsp(p, len, &i);
	if (i < len && p[i] != ';') {
		if (!take_domain(p, len, &i, out->issuer,
		    sizeof(out->issuer)))
			return false;
		skip_wsp(p, len, &i);
	}
	if (i == len)
		return true;
	if (p[i++] != ';')
		return false;
	skip_wsp(p, len, &i);
	if (i == len)
		return true;
	for (;;) {
		if (out->nparams == ACME_CAA_PARAMS_MAX)
			return false;
		/* tag: alphanumeric, inner '-' */
		start = i;
		while (i < len && is_ldh(p[i]))
			i++;
		n = i - start;
		if (n == 0 || n >= sizeof(out->params[0].tag) ||
		    p[start] == '-' || p[i - 1] == '-')
			return false;
		memcpy(out->params[out->nparams].tag, p + start, n);
		skip_wsp(p, len, &i);
		if (i == len || p[i++] != '=')
			return false;
		skip_wsp(p, len, &i);
		/* value = *(%x21-3A / %x3C-7E) */
		start = i;
		while (i < len && p[i] >= 0x21 && p[i] <= 0x7e && p[i] != ';')
			i++;
		n = i - start;
		if (n >= sizeof(out->params[0].value))
			return false;
		memcpy(out->params[out->nparams].value, p + start, n);
		out->nparams++;
		skip_wsp(p, len, &i);
		if (i == len)
			return true;
		if (p[i++] != ';')
			return false;
		skip_wsp(p, len, &i);
		if (i == len)	/* a trailing ";" is harmless */
			return true;
	}
}

/* Whether list (comma separated) names method. */
static bool
list_has(const char *list, const char *method)
{
	size_t	 mlen = strlen(method);
	const char *p = list, *c;

	for (;;) {
		c = strchr(p, ',');
		if ((size_t)((c ? c : p + strlen(p)) - p) == mlen &&
		    strncmp(p, method, mlen) == 0)
			return true;
		if (c == NULL)
			return false;
		p = c + 1;
	}
}

/* Whether one parsed value authorises job; why not into why. */
static bool
issue_permits(const struct acme_caa_issue *is, const struct acme_vjob *job,
    const char **why)
{
	size_t	 i;
	bool	 ours = false;

	if (is->issuer[0] == '\0') {
		*why = "no issuer may issue";
		return false;
	}
	for (i = 0; i < job->ncaa_ids && !ours; i++)
		ours = strcasecmp(is->issuer, job->caa_ids[i]) == 0;
	if (!ours) {
		*why = "only other issuers may issue";
		return false;
	}
	for (i = 0; i < is->nparams; i++) {
		const char *tag = is->params[i].tag;
		const char *val = is->params[i].value;

		if (strcasecmp(tag, "accounturi") == 0 &&
		    strcmp(val, job->account_uri) != 0) {
			*why = "accounturi names another account";
			return false;
		}
		if (strcasecmp(tag, "validationmethods") == 0 &&
		    (job->method == NULL || !list_has(val, job->method))) {
			*why = "validationmethods excludes this method";
			return false;
		}
	}
	return true;
}

bool
acme_caa_permits(const struct acme_caa_rr *rrs, size_t n,
    const char *domain, const struct acme_vjob *job, char *detail,
    size_t detaillen)
{
	static const char *const known[] = { "issue", "issuewild", "iodef",
	    "issuemail", "issuevmc" };
	struct acme_caa_issue is;
	const char	*want = "issue", *why = NULL;
	size_t		 i, k, nwant = 0;
	bool		 wild = false;

	for (i = 0; i < n; i++) {
		bool	 kn = false;

		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			kn = kn || strcasecmp(rrs[i].tag, known[k]) == 0;
		if (!kn && (rrs[i].flags & 0x80)) {
			(void)snprintf(detail, detaillen, "CAA record for %s "
			    "has a critical property this CA does not know",
			    domain);
			return false;
		}
		if (strcasecmp(rrs[i].tag, "issuewild") == 0)
			wild = true;
	}
	if (job->wildcard && wild)
		want = "issuewild";
	for (i = 0; i < n; i++) {
		if (strcasecmp(rrs[i].tag, want) != 0)
			continue;
		nwant++;
		if (!acme_caa_parse_issue(rrs[i].value, rrs[i].len, &is)) {
			if (why == NULL)
				why = "a malformed value";
			continue;
		}
		if (issue_permits(&is, job, &why))
			return true;
	}
	if (nwant == 0)
		return true;	/* e.g. only iodef: no restriction */
	(void)snprintf(detail, detaillen, "CAA record for %s forbids "
	    "issuance (%s %s)", domain, want, why != NULL ? why :
	    "no match");
	return false;
}

static void	caa_ask(struct vjob *j);

static void
caa_cb(struct vjob *j, int slot, int status, const uint8_t *abuf, int alen)
{
	struct ares_caa_reply *caa = NULL, *c;
	struct acme_caa_rr rrs[VCAA_RRS_MAX];
	struct acme_vresult res;
	size_t		 n = 0;
	const char	*dot;
	int		 r;

	if (status == ARES_SUCCESS) {
		r = ares_parse_caa_reply(abuf, alen, &caa);
		if (r == ARES_ENODATA)
			status = ARES_ENODATA;
		else if (r != ARES_SUCCESS) {
			vjob_fail(j, ACME_P_CAA, "CAA: bad answer for %s: %s",
			    j->caa_at, ares_strerror(r));
			return;
		}
	}
	if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
		/* RFC 8659 §3: climb to the parent, short of the TLD. */
		dot = strchr(j->caa_at, '.');
		if (dot == NULL || strchr(dot + 1, '.') == NULL) {
			vjob_ok(j);
			return;
		}
		j->caa_at = dot + 1;
		caa_ask(j);
		return;
	}
	if (status != ARES_SUCCESS) {
		/* §3: a failed lookup is not an empty RRset. */
		vjob_fail(j, ACME_P_CAA, "CAA: lookup for %s failed: %s",
		    j->caa_at, vdns_status_str(status));
		return;
	}
	for (c = caa; c != NULL && n < VCAA_RRS_MAX; c = c->next) {
		rrs[n].flags = (uint8_t)c->critical;
		rrs[n].tag = (const char *)c->property;
		rrs[n].value = c->value;
		rrs[n].len = c->length;
		n++;
	}
	if (c != NULL) {
		ares_free_data(caa);
		vjob_fail(j, ACME_P_CAA, "CAA: too many records for %s",
		    j->caa_at);
		return;
	}
	memset(&res, 0, sizeof(res));
	if (acme_caa_permits(rrs, n, j->caa_at, &j->job, res.detail,
	    sizeof(res.detail))) {
		ares_free_data(caa);
		vjob_ok(j);
		return;
	}
	ares_free_data(caa);
	vjob_fail(j, ACME_P_CAA, "%s", res.detail);
}

static void
caa_ask(struct vjob *j)
{
	vjob_set_timeout(j, ACME_P_CAA, "CAA: lookup for %s timed out",
	    j->caa_at);
	vdns_query(j, 0, j->caa_at, T_CAA, caa_cb);
}

void
vcaa_start(struct vjob *j)
{
	/* RFC 8738 §7 leaves CAA for IP addresses undefined: none. */
	if (j->job.ip) {
		vjob_ok(j);
		return;
	}
	j->caa_at = j->job.value;
	caa_ask(j);
}
