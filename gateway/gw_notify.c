/*
 * gw_notify.c - expiry notifications: one run (find the holders whose
 * certificates are due, claim, send, record and audit each notification)
 * for `certgw notify run` and for the scheduler thread of `certgw serve`,
 * which sleeps until notifications.run_at every day.
 *
 * The sending (webhook, e-mail) is gateway/gw_notify_send.c's; it runs on
 * the caller's thread, never on an event loop, and each send is bounded
 * by its channel's timeout_ms.  What is due is decided from the store
 * alone, so every gateway on one store decides the same, and the lease
 * and the claims in the store make sure only one of them sends.
 */
#include "gw_notify_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certgw/ca.h"

#define ACTOR		"notify"
#define CANDS_MAX	1000000	/* certificates looked at in one run */
#define HOLDER_MAX	CA_NOTIFY_TEXT_MAX
#define DETAIL_MAX	256

/* ------------------------------------------------------------ the clock */

bool
gw_notify_due(int64_t now, int64_t not_after, uint32_t days_before)
{
	return days_before > 0 && now < not_after &&
	    now >= not_after - (int64_t)days_before * GW_DAY_S;
}

int64_t
gw_notify_next_run(int64_t now, uint32_t run_at_min)
{
	int64_t	 day, t;

	day = now / GW_DAY_S * GW_DAY_S;
	if (now < 0 && now % GW_DAY_S != 0)
		day -= GW_DAY_S;
	t = day + (int64_t)(run_at_min % (24 * 60)) * 60;
	return t > now ? t : t + GW_DAY_S;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		 era;
	unsigned	 yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool
digits(const char *s, size_t n, unsigned *vp)
{
	unsigned	 v = 0;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*vp = v;
	return true;
}

bool
gw_notify_time_parse(const char *s, int64_t *tp)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	unsigned	 y, mo, d, h, mi, se;
	bool		 leap;

	if (s == NULL || strlen(s) != 20 || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return false;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || se > 59)
		return false;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return false;
	*tp = days_from_civil(y, mo, d) * GW_DAY_S + h * 3600 + mi * 60 + se;
	return true;
}


/* A valid certificate under a profile with notifications. */
struct cand {
	char		*serial;
	char		*subject;
	char		*sans;		/* "DNS:a,email:x" */
	uint8_t		*der;
	size_t		 der_len;
	int64_t		 not_after;
	const struct ca_profile *p;	/* borrowed from the config */
	char		 holder[HOLDER_MAX + 1];
	char		 email[GW_NOTIFY_ADDR_MAX + 1]; /* "" when none */
};

struct collect {
	const struct gw_config *conf;
	struct cand	*v;
	size_t		 n;
	size_t		 cap;
};

static void
cand_cleanup(struct cand *c)
{
	cg_free(c->serial);
	cg_free(c->subject);
	cg_free(c->sans);
	cg_free(c->der);
}

static enum cg_code
collect_one(void *arg, const struct ca_cert_rec *rec)
{
	struct collect		*co = arg;
	const struct ca_profile	*p;
	struct cand		*c, *nv;
	size_t			 cap;

	p = gw_config_profile(co->conf, rec->profile);
	if (p == NULL || p->notify_days_before == 0 ||
	    p->notify_channels.n == 0)
		return CG_OK;
	if (co->n == co->cap) {
		if (co->cap >= CANDS_MAX)
			return CG_ETOOBIG;
		cap = co->cap == 0 ? 64 : co->cap * 2;
		if ((nv = cg_realloc(co->v, cap * sizeof(*nv))) == NULL)
			return CG_ENOMEM;
		co->v = nv;
		co->cap = cap;
	}
	c = &co->v[co->n];
	memset(c, 0, sizeof(*c));
	c->serial = cg_strdup(rec->serial);
	c->subject = cg_strdup(rec->subject);
	c->sans = cg_strdup(rec->sans);
	c->der = cg_malloc(rec->der_len > 0 ? rec->der_len : 1);
	if (c->serial == NULL || c->subject == NULL || c->sans == NULL ||
	    c->der == NULL) {
		cand_cleanup(c);
		return CG_ENOMEM;
	}
	memcpy(c->der, rec->der, rec->der_len);
	c->der_len = rec->der_len;
	c->not_after = rec->not_after;
	c->p = p;
	co->n++;
	return CG_OK;
}

/* The first usable address of the certificate: SAN, then emailAddress. */
static void
cert_email(X509 *x, char *out, size_t outlen)
{
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	X509_NAME		*name;
	const unsigned char	*s;
	int			 i, len;
	char			 buf[GW_NOTIFY_ADDR_MAX + 1];

	out[0] = '\0';
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_EMAIL)
			continue;
		s = ASN1_STRING_get0_data(g->d.rfc822Name);
		len = ASN1_STRING_length(g->d.rfc822Name);
		if (len <= 0 || (size_t)len >= sizeof(buf) ||
		    memchr(s, '\0', (size_t)len) != NULL)
			continue;
		memcpy(buf, s, (size_t)len);
		buf[len] = '\0';
		if (gw_notify_addr_is_valid(buf)) {
			snprintf(out, outlen, "%s", buf);
			break;
		}
	}
	GENERAL_NAMES_free(gens);
	if (out[0] != '\0')
		return;
	name = X509_get_subject_name(x);
	len = X509_NAME_get_text_by_NID(name, NID_pkcs9_emailAddress, buf,
	    sizeof(buf));
	if (len > 0 && (size_t)len < sizeof(buf) &&
	    gw_notify_addr_is_valid(buf))
		snprintf(out, outlen, "%s", buf);
}

/* Who is told about c, and at which address. */
static enum cg_code
holder_resolve(struct ca_store *st, struct cand *c, struct cg_err *err)
{
	struct ca_ident_match	 m;
	const unsigned char	*p = c->der;
	X509			*x;
	enum cg_code		 rc;

	snprintf(c->holder, sizeof(c->holder), "cert:%s", c->serial);
	x = d2i_X509(NULL, &p, (long)c->der_len);
	if (x == NULL)
		return CG_OK;	/* the record's columns still say enough */
	rc = ca_ident_resolve(st, x, &m, err);
	if (rc == CG_OK) {
		snprintf(c->holder, sizeof(c->holder), "identity:%s",
		    m.ident->name);
		if (m.ident->email[0] != '\0' &&
		    gw_notify_addr_is_valid(m.ident->email))
			snprintf(c->email, sizeof(c->email), "%s",
			    m.ident->email);
	} else if (rc == CG_ENOTFOUND) {
		cg_err_clear(err);
		rc = CG_OK;
	}
	ca_ident_match_cleanup(&m);
	if (rc == CG_OK && c->email[0] == '\0')
		cert_email(x, c->email, sizeof(c->email));
	X509_free(x);
	return rc;
}

/* Holders together, each one's earliest not_after first. */
static int
cand_cmp(const void *a, const void *b)
{
	const struct cand	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->holder, y->holder)) != 0)
		return c;
	if (x->not_after != y->not_after)
		return x->not_after < y->not_after ? -1 : 1;
	return strcmp(x->serial, y->serial);
}

/* ------------------------------------------------------------- the run */

struct run {
	const struct gw_config	*conf;
	struct ca_store		*st;
	const struct gw_notify_opts *o;
	struct gw_notify_stats	*stats;
	char			 owner[CA_NOTIFY_TEXT_MAX];
};

static void
owner_make(char *out, size_t outlen)
{
	unsigned char	 r[4];
	char		 host[64], hex[2 * sizeof(r) + 1];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0, sizeof(r));
	cg_hex_encode(r, sizeof(r), hex, false);
	snprintf(out, outlen, "%s:%ld:%s", host, (long)getpid(), hex);
}

static void
event_log(const struct gw_notify_event *ev)
{
	char	 qh[HOLDER_MAX * 2], qd[DETAIL_MAX * 2];

	cg_logfmt_quote(ev->holder, qh, sizeof(qh));
	cg_logfmt_quote(ev->detail[0] != '\0' ? ev->detail : "-", qd,
	    sizeof(qd));
	cg_log_at(strcmp(ev->status, "sent") == 0 ? CG_LOG_INFO :
	    CG_LOG_WARN, "gw_notify_run", "event=notify holder=%s channel=%s "
	    "serial=%s days_left=%" PRId64 " status=%s detail=%s", qh,
	    ev->channel, ev->serial, ev->days_left, ev->status, qd);
}

/* Settle, audit, log and report one notification that was claimed. */
static enum cg_code
notify_record(struct run *r, int64_t id, struct gw_notify_event *ev,
    struct cg_err *err)
{
	char		 audit[DETAIL_MAX * 2];
	const char	*outcome;
	enum cg_code	 rc;

	rc = ca_store_notify_settle(r->st, id, ev->status, ev->detail, err);
	if (rc != CG_OK)
		return rc;
	outcome = strcmp(ev->status, "sent") == 0 ? "ok" :
	    strcmp(ev->status, "failed") == 0 ? "error" : "refused";
	snprintf(audit, sizeof(audit), "holder=%s channel=%s days_left=%"
	    PRId64 "%s%s", ev->holder, ev->channel, ev->days_left,
	    ev->detail[0] != '\0' ? " reason=" : "", ev->detail);
	rc = ca_store_audit_add(r->st, ACTOR, "notify", ev->serial, outcome,
	    audit, err);
	if (rc != CG_OK)
		return rc;
	if (strcmp(ev->status, "sent") == 0)
		r->stats->sent++;
	else if (strcmp(ev->status, "failed") == 0)
		r->stats->failed++;
	else
		r->stats->skipped++;
	event_log(ev);
	if (r->o->report != NULL)
		r->o->report(r->o->report_arg, ev);
	return CG_OK;
}

/* One channel of one due holder. */
static enum cg_code
notify_channel(struct run *r, const struct cand *c,
    const struct gw_notify_channel *ch, struct cg_err *err)
{
	const struct gw_notify_opts	*o = r->o;
	struct gw_notify_event		 ev;
	struct ca_notify_rec		 rec;
	gw_notify_send_fn		*send = o->send != NULL ? o->send :
					    gw_notify_send_real;
	char				 detail[DETAIL_MAX] = "";
	int64_t				 window, last, id;
	enum cg_code			 rc;
	bool				 ok;

	memset(&ev, 0, sizeof(ev));
	ev.holder = c->holder;
	ev.channel = ch->ref;
	ev.serial = c->serial;
	ev.subject = c->subject;
	ev.profile = c->p->name;
	ev.email = c->email;
	ev.not_after = c->not_after;
	ev.days_left = (c->not_after - o->now) / GW_DAY_S;
	ev.detail = detail;
	window = (int64_t)c->p->notify_every_days * GW_DAY_S;
	if (o->dry_run) {
		rc = ca_store_notify_last(r->st, c->holder, ch->ref, &last,
		    err);
		if (rc != CG_OK)
			return rc;
		if (last != 0 && last > o->now - window) {
			r->stats->already++;
			return CG_OK;
		}
		ev.status = "due";
		if (ch->type == GW_NOTIFY_EMAIL && ch->to.n == 0 &&
		    c->email[0] == '\0')
			snprintf(detail, sizeof(detail), "no e-mail address "
			    "for the holder");
		if (o->report != NULL)
			o->report(o->report_arg, &ev);
		return CG_OK;
	}
	memset(&rec, 0, sizeof(rec));
	rec.holder = c->holder;
	rec.channel = ch->ref;
	rec.serial = c->serial;
	rec.not_after = c->not_after;
	rec.sent_at = o->now;
	rc = ca_store_notify_claim(r->st, &rec, window, &id, err);
	if (rc != CG_OK)
		return rc;
	if (id == 0) {
		r->stats->already++;
		return CG_OK;
	}
	if (ch->type == GW_NOTIFY_EMAIL && ch->to.n == 0 &&
	    c->email[0] == '\0') {
		ev.status = "skipped";
		snprintf(detail, sizeof(detail), "no e-mail address for the "
		    "holder");
		return notify_record(r, id, &ev, err);
	}
	ok = send(o->send_arg, ch, &ev, id, detail, sizeof(detail));
	ev.status = ok ? "sent" : "failed";
	if (ok)
		detail[0] = '\0';
	else if (detail[0] == '\0')
		snprintf(detail, sizeof(detail), "failed");
	return notify_record(r, id, &ev, err);
}

static enum cg_code
notify_holder(struct run *r, const struct cand *c, struct cg_err *err)
{
	const struct gw_notify_channel	*ch;
	size_t				 i;
	enum cg_code			 rc = CG_OK;

	r->stats->due++;
	for (i = 0; i < c->p->notify_channels.n && rc == CG_OK; i++) {
		ch = gw_notify_channel_find(r->conf->notify,
		    c->p->notify_channels.v[i]);
		if (ch == NULL)
			continue;	/* the config loader refuses this */
		/* Longer than the lease between two holders: keep it. */
		if (!r->o->dry_run)
			rc = ca_store_notify_lease(r->st, GW_NOTIFY_LEASE,
			    r->owner, cg_now(), GW_NOTIFY_LEASE_S, err);
		if (rc == CG_OK)
			rc = notify_channel(r, c, ch, err);
	}
	return rc;
}

static enum cg_code
run_holders(struct run *r, struct cg_err *err)
{
	const struct gw_config	*conf = r->conf;
	struct ca_cert_filter	 f;
	struct collect		 co = { .conf = conf };
	uint32_t		 maxdays = 0;
	size_t			 i;
	enum cg_code		 rc;

	for (i = 0; i < conf->nprofiles; i++)
		if (conf->profiles[i].notify_channels.n > 0 &&
		    conf->profiles[i].notify_days_before > maxdays)
			maxdays = conf->profiles[i].notify_days_before;
	if (maxdays == 0)
		return CG_OK;
	/*
	 * Valid certificates inside the widest window: a holder's earliest
	 * certificate is among them whenever any of its certificates is.
	 */
	memset(&f, 0, sizeof(f));
	f.status = CA_CERT_VALID;
	f.now = r->o->now;
	f.expiring_before = r->o->now + (int64_t)maxdays * GW_DAY_S;
	rc = ca_store_cert_list(r->st, &f, collect_one, &co, err);
	if (rc == CG_ETOOBIG || rc == CG_ENOMEM)
		rc = cg_err_set(err, rc, rc == CG_ENOMEM ? "out of memory" :
		    "notify: more than %d certificates to look at", CANDS_MAX);
	for (i = 0; rc == CG_OK && i < co.n; i++)
		rc = holder_resolve(r->st, &co.v[i], err);
	r->stats->certs = co.n;
	if (rc == CG_OK && co.n > 0)
		qsort(co.v, co.n, sizeof(*co.v), cand_cmp);
	for (i = 0; rc == CG_OK && i < co.n; i++) {
		/* Only the first of a holder's certificates counts. */
		if (i > 0 && strcmp(co.v[i].holder, co.v[i - 1].holder) == 0)
			continue;
		r->stats->holders++;
		if (r->o->stop != NULL && atomic_load(r->o->stop))
			break;
		if (gw_notify_due(r->o->now, co.v[i].not_after,
		    co.v[i].p->notify_days_before))
			rc = notify_holder(r, &co.v[i], err);
	}
	for (i = 0; i < co.n; i++)
		cand_cleanup(&co.v[i]);
	cg_free(co.v);
	return rc;
}

enum cg_code
gw_notify_run(const struct gw_config *conf, struct ca_store *st,
    const struct gw_notify_opts *o, struct gw_notify_stats *stats,
    struct cg_err *err)
{
	struct gw_notify_stats	 local;
	struct run		 r;
	struct cg_err		 e2 = { 0 };
	enum cg_code		 rc;

	memset(&r, 0, sizeof(r));
	r.conf = conf;
	r.st = st;
	r.o = o;
	r.stats = stats != NULL ? stats : &local;
	memset(r.stats, 0, sizeof(*r.stats));
	if (conf->notify == NULL || !conf->notify->enabled)
		return CG_OK;
	if (o->owner != NULL)
		snprintf(r.owner, sizeof(r.owner), "%s", o->owner);
	else
		owner_make(r.owner, sizeof(r.owner));
	if (!o->dry_run) {
		/* The lease lives by the real clock, whatever o->now says. */
		rc = ca_store_notify_lease(st, GW_NOTIFY_LEASE, r.owner,
		    cg_now(), GW_NOTIFY_LEASE_S, err);
		if (rc != CG_OK)
			return rc;
	}
	rc = run_holders(&r, err);
	if (!o->dry_run &&
	    ca_store_notify_lease_release(st, GW_NOTIFY_LEASE, r.owner,
	    &e2) != CG_OK)
		cg_log_err_struct(__func__, "release the lease", &e2);
	return rc;
}

/* ------------------------------------------------------ the scheduler */

struct gw_notifier {
	const struct gw_config	*conf;
	struct ca_store		*st;
	pthread_t		 tid;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	atomic_bool		 stop;
};

static void
scheduled_run(struct gw_notifier *n)
{
	struct gw_notify_opts	 o;
	struct gw_notify_stats	 s;
	struct cg_err		 err = { 0 };
	enum cg_code		 rc;

	memset(&o, 0, sizeof(o));
	o.now = cg_now();
	o.stop = &n->stop;
	rc = gw_notify_run(n->conf, n->st, &o, &s, &err);
	if (rc == CG_ECONFLICT) {
		cg_log_info("event=notify_run result=skipped "
		    "reason=lease_held");
		return;
	}
	if (rc != CG_OK) {
		cg_log_err_struct(__func__, "notify run", &err);
		return;
	}
	cg_log_info("event=notify_run result=done certs=%zu holders=%zu "
	    "due=%zu sent=%zu failed=%zu skipped=%zu already=%zu", s.certs,
	    s.holders, s.due, s.sent, s.failed, s.skipped, s.already);
}

static void *
notifier_main(void *arg)
{
	struct gw_notifier	*n = arg;
	struct timespec		 ts;
	int64_t			 next;

	for (;;) {
		next = gw_notify_next_run(cg_now(),
		    n->conf->notify->run_at_min);
		pthread_mutex_lock(&n->mu);
		/* The wall clock decides: run_at is a time of day. */
		while (!atomic_load(&n->stop) && cg_now() < next) {
			ts.tv_sec = (time_t)next;
			ts.tv_nsec = 0;
			pthread_cond_timedwait(&n->cv, &n->mu, &ts);
		}
		pthread_mutex_unlock(&n->mu);
		if (atomic_load(&n->stop))
			break;
		scheduled_run(n);
	}
	return NULL;
}

enum cg_code
gw_notifier_start(const struct gw_config *conf, struct gw_notifier **np,
    struct cg_err *err)
{
	struct gw_notifier	*n;
	sigset_t		 all, old;
	enum cg_code		 rc;
	int			 e;

	*np = NULL;
	if (conf->notify == NULL || !conf->notify->enabled)
		return CG_OK;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return cg_err_set(err, CG_EINTERNAL, "notify: cannot "
		    "initialise libcurl");
	if ((n = cg_calloc(1, sizeof(*n))) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	n->conf = conf;
	atomic_init(&n->stop, false);
	rc = ca_store_open(conf->store_path, &n->st, err);
	if (rc != CG_OK) {
		cg_free(n);
		return rc;
	}
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cv, NULL);
	/* Signals are the main thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&n->tid, NULL, notifier_main, n);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		pthread_cond_destroy(&n->cv);
		pthread_mutex_destroy(&n->mu);
		ca_store_close(n->st);
		cg_free(n);
		errno = e;
		return cg_err_errno(err, CG_EIO, "cannot start the "
		    "notification scheduler");
	}
	cg_log_info("event=notify_scheduler run_at=%02u:%02u channels=%zu",
	    conf->notify->run_at_min / 60, conf->notify->run_at_min % 60,
	    conf->notify->nchannels);
	*np = n;
	return CG_OK;
}

void
gw_notifier_stop(struct gw_notifier *n)
{
	if (n == NULL)
		return;
	pthread_mutex_lock(&n->mu);
	atomic_store(&n->stop, true);
	pthread_cond_broadcast(&n->cv);
	pthread_mutex_unlock(&n->mu);
	pthread_join(n->tid, NULL);
	pthread_cond_destroy(&n->cv);
	pthread_mutex_destroy(&n->mu);
	ca_store_close(n->st);
	cg_free(n);
}
