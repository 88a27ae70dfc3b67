/*
 * gw_server.c - the `certgw serve` life cycle: load the config, open the
 * CA, bind the listeners, start one loop thread per core, and run the
 * control loop on the main thread (signals, SIGHUP reloads of refcounted
 * config snapshots, the CRL timer, the orderly stop).  Not here: what the
 * loop threads do (gw_thread.c) or requests (gw_req.c).
 */
#include "gw_int.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#define GW_CRL_REFRESH_MIN_S	1	/* fastest revocation poll */

static pthread_once_t	 evthread_once = PTHREAD_ONCE_INIT;
static int		 evthread_rc = -1;

static const char *const level_names[CG_LOG__MAX] = {
	[CG_LOG_ERR] = "err",
	[CG_LOG_WARN] = "warn",
	[CG_LOG_INFO] = "info",
	[CG_LOG_DEBUG] = "debug",
};

static void
evthread_init(void)
{
	evthread_rc = evthread_use_pthreads();
}

/* ------------------------------------------------------ snapshots */

static struct gw_snap *
snap_new(struct gw_config *conf)
{
	struct gw_snap	*s;

	s = cg_calloc(1, sizeof(*s));
	if (s == NULL) {
		gw_config_free(conf);
		return NULL;
	}
	atomic_init(&s->refs, 1);
	s->conf = conf;
	return s;
}

struct gw_snap *
gw_snap_get(struct gw_server *srv)
{
	struct gw_snap	*s;

	pthread_mutex_lock(&srv->snap_mu);
	s = srv->snap;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&srv->snap_mu);
	return s;
}

void
gw_snap_put(struct gw_snap *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	gw_config_free(s->conf);
	cg_free(s);
}

/* ------------------------------------------------------------ new */

static enum cg_code
server_listen(struct gw_server *srv, const struct gw_config *conf,
    struct cg_err *err)
{
	enum cg_code	 rc;

	rc = gw_socket_listen(conf->https.address, &srv->lfd[GW_LSN_HTTPS],
	    err);
	if (rc != CG_OK)
		return rc;
	snprintf(srv->laddr[GW_LSN_HTTPS], GW_ADDR_MAX, "%s",
	    conf->https.address);
	snprintf(srv->laddr[GW_LSN_HTTP], GW_ADDR_MAX, "-");
	if (!conf->http.enabled)
		return CG_OK;
	rc = gw_socket_listen(conf->http.address, &srv->lfd[GW_LSN_HTTP],
	    err);
	if (rc != CG_OK)
		return rc;
	snprintf(srv->laddr[GW_LSN_HTTP], GW_ADDR_MAX, "%s",
	    conf->http.address);
	return CG_OK;
}

static struct gw_server *
server_alloc(const char *config_path)
{
	struct gw_server	*srv;

	srv = cg_calloc(1, sizeof(*srv));
	if (srv == NULL)
		return NULL;
	srv->lfd[GW_LSN_HTTPS] = srv->lfd[GW_LSN_HTTP] = -1;
	pthread_mutex_init(&srv->snap_mu, NULL);
	pthread_mutex_init(&srv->crl_mu, NULL);
	srv->config_path = cg_strdup(config_path);
	if (srv->config_path == NULL) {
		gw_server_free(srv);
		return NULL;
	}
	return srv;
}

/*
 * Distribution rules become the CA's outbox hook: every issuance, by any
 * front end, writes one job per matching rule in its own transaction.
 * The rules are the boot config's; a reload does not change them.
 */
static enum cg_code
dist_setup(struct gw_server *srv, const struct gw_config *conf,
    struct cg_err *err)
{
	size_t		 i;
	enum cg_code	 rc;

	if (conf->dist.nrules == 0)
		return CG_OK;
	rc = dist_rules_new(&conf->dist, &srv->rules, err);
	if (rc != CG_OK)
		return rc;
	srv->hook.rules = srv->rules;
	srv->hook.ca = srv->ca;
	ca_set_outbox_hook(srv->ca, dist_outbox_hook, &srv->hook);
	for (i = 0; i < conf->dist.nrules; i++)
		if (conf->dist.rules[i].insecure_skip_verify)
			cg_log_warn("event=insecure_rule rule=%s msg=\"the "
			    "endpoint's certificate is not verified\"",
			    conf->dist.rules[i].name);
	return CG_OK;
}

static enum cg_code
server_open(struct gw_server *srv, struct cg_err *err)
{
	struct gw_config	*conf = NULL;
	enum cg_code		 rc;

	rc = gw_config_load(srv->config_path, &conf, err);
	if (rc != CG_OK)
		return rc;
	srv->boot = snap_new(conf);
	if (srv->boot == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	srv->snap = srv->boot;
	atomic_fetch_add(&srv->snap->refs, 1);
	conf = srv->boot->conf;
	cg_log_set_level(conf->log_level);
	/* Bind first: a busy port should fail before anything is written. */
	rc = server_listen(srv, conf, err);
	if (rc != CG_OK)
		return rc;
	rc = gw_tls_ctx_new(conf, &srv->ssl_ctx, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_open(&conf->ca, &srv->ca, err);
	if (rc == CG_OK)
		rc = dist_setup(srv, conf, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_open(conf->store_path, &srv->store, err);
	if (rc != CG_OK)
		return rc;
	rc = gw_crl_init(srv, err);
	if (rc != CG_OK)
		return rc;
	return gw_builtin_add(srv, err);
}

enum cg_code
gw_server_new(const char *config_path, struct gw_server **srvp,
    struct cg_err *err)
{
	struct gw_server	*srv = NULL;
	enum cg_code		 rc;

	*srvp = NULL;
	if (pthread_once(&evthread_once, evthread_init) != 0 ||
	    evthread_rc != 0)
		return cg_err_set(err, CG_EINTERNAL, "libevent has no "
		    "pthreads support");
	srv = server_alloc(config_path);
	if (srv == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = server_open(srv, err);
	if (rc != CG_OK)
		goto out;
	*srvp = srv;
	srv = NULL;
	rc = CG_OK;
out:
	gw_server_free(srv);
	return rc;
}

enum cg_code
gw_route_add(struct gw_server *srv, const struct gw_route *r,
    struct cg_err *err)
{
	const struct gw_https_conf *h = &srv->boot->conf->https;

	if (srv->running)
		return cg_err_set(err, CG_EINVAL, "route %s added after the "
		    "server started", r->path != NULL ? r->path : "?");
	return gw_routes_add(&srv->routes, r, h->cert_overrides,
	    h->ncert_overrides, err);
}

/* ----------------------------------------------------------- reload */

/* Settings a reload cannot change take effect at the next start. */
static void
reload_check_fixed(const struct gw_config *old, const struct gw_config *nc)
{
	bool	 same;

	same = strcmp(old->https.address, nc->https.address) == 0 &&
	    old->http.enabled == nc->http.enabled &&
	    (!nc->http.enabled || old->http.address == NULL ||
	    strcmp(old->http.address, nc->http.address) == 0) &&
	    memcmp(&old->limits, &nc->limits, sizeof(old->limits)) == 0 &&
	    old->threads == nc->threads &&
	    strcmp(old->store_path, nc->store_path) == 0 &&
	    strcmp(old->https.cert_file, nc->https.cert_file) == 0 &&
	    old->https.ncert_overrides == nc->https.ncert_overrides;
	if (!same)
		cg_log_warn("event=reload_partial msg=\"listeners, TLS, "
		    "limits, threads and the store change only on restart\"");
}

static void
server_reload(struct gw_server *srv)
{
	struct gw_config	*conf = NULL;
	struct gw_snap		*s, *old;
	struct cg_err		 err = { 0 };

	if (gw_config_load(srv->config_path, &conf, &err) != CG_OK) {
		cg_log_err_struct(__func__, "reload_failed", &err);
		cg_log_warn("event=reload status=failed "
		    "action=\"keeping the current configuration\"");
		return;
	}
	reload_check_fixed(srv->boot->conf, conf);
	s = snap_new(conf);
	if (s == NULL) {
		cg_log_err("event=reload status=failed reason=\"out of "
		    "memory\"");
		return;
	}
	pthread_mutex_lock(&srv->snap_mu);
	old = srv->snap;
	srv->snap = s;
	pthread_mutex_unlock(&srv->snap_mu);
	/* Logged at the old level, so a quieter one does not hide it. */
	cg_log_info("event=reload status=ok profiles=%zu log_level=%s",
	    s->conf->nprofiles, level_names[s->conf->log_level]);
	cg_log_set_level(s->conf->log_level);
	/* Requests still holding the old snapshot keep it alive. */
	gw_snap_put(old);
}

/* ------------------------------------------------------------ run */

/* Ask every loop to stop accepting and drain; close our listen fds. */
static void
threads_stop(struct gw_server *srv)
{
	unsigned	 i;
	int		 k;

	/*
	 * shutdown() acts on the socket itself, not on this descriptor, so the
	 * loops' dups stop listening too: from here on new clients are refused
	 * at once instead of waiting in a backlog nobody accepts from.
	 */
	for (k = 0; k < GW_LSN__MAX; k++)
		if (srv->lfd[k] >= 0)
			(void)shutdown(srv->lfd[k], SHUT_RDWR);
	for (i = 0; srv->threads != NULL && i < srv->nthreads; i++)
		gw_thread_post(&srv->threads[i], GW_CMD_STOP);
	for (k = 0; k < GW_LSN__MAX; k++) {
		if (srv->lfd[k] >= 0)
			close(srv->lfd[k]);
		srv->lfd[k] = -1;
	}
}

static void
server_stop(struct gw_server *srv, int sig)
{
	unsigned	 i;

	if (srv->stopping) {
		/* A second signal: do not wait for the grace period. */
		cg_log_warn("event=stop_forced signal=%d", sig);
		for (i = 0; i < srv->nthreads; i++)
			if (srv->threads[i].base != NULL)
				event_base_loopbreak(srv->threads[i].base);
		return;
	}
	srv->stopping = true;
	srv->stop_sig = sig;
	cg_log_info("event=stopping signal=%s grace_s=%u",
	    sig == SIGTERM ? "TERM" : "INT",
	    srv->boot->conf->limits.shutdown_grace_s);
	threads_stop(srv);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct gw_server	*srv = arg;

	if (sig == SIGHUP)
		server_reload(srv);
	else
		server_stop(srv, (int)sig);
}

/* A loop thread finished; stop the control loop after the last one. */
static void
exited_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_server	*srv = arg;

	if (atomic_load(&srv->nexited) >= srv->nthreads)
		event_base_loopbreak(srv->base);
}

static enum cg_code
control_events(struct gw_server *srv, struct cg_err *err)
{
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	struct timeval	 tv = { 0, 0 };
	uint32_t	 every;
	int		 i;

	srv->base = event_base_new();
	if (srv->base == NULL)
		return cg_err_set(err, CG_ENOMEM, "cannot create the control "
		    "loop");
	for (i = 0; i < 3; i++) {
		srv->sigev[i] = evsignal_new(srv->base, sigs[i], signal_cb,
		    srv);
		if (srv->sigev[i] == NULL || event_add(srv->sigev[i],
		    NULL) != 0)
			return cg_err_set(err, CG_EIO, "cannot handle signal "
			    "%d", sigs[i]);
	}
	srv->exited = event_new(srv->base, -1, 0, exited_cb, srv);
	every = srv->boot->conf->crl_refresh_s;
	tv.tv_sec = every < GW_CRL_REFRESH_MIN_S ? GW_CRL_REFRESH_MIN_S :
	    (time_t)every;
	srv->crl_timer = event_new(srv->base, -1, EV_PERSIST,
	    gw_crl_refresh_cb, srv);
	if (srv->exited == NULL || srv->crl_timer == NULL ||
	    event_add(srv->crl_timer, &tv) != 0)
		return cg_err_set(err, CG_ENOMEM, "cannot create timers");
	return CG_OK;
}

static unsigned
thread_count(const struct gw_config *conf)
{
	long	 n = conf->threads;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > GW_THREADS_MAX)
		n = GW_THREADS_MAX;
	return (unsigned)n;
}

static void
overrides_check(const struct gw_server *srv)
{
	const struct gw_https_conf *h = &srv->boot->conf->https;
	size_t			 i, j;
	char			 q[GW_PATH_MAX];

	for (i = 0; i < h->ncert_overrides; i++) {
		for (j = 0; j < srv->routes.n; j++)
			if (strcmp(srv->routes.ent[j].r.path,
			    h->cert_overrides[i].path) == 0)
				break;
		if (j == srv->routes.n)
			cg_log_warn("event=config_warning msg=\"client_cert_"
			    "policy names no route\" path=%s",
			    cg_logfmt_quote(h->cert_overrides[i].path, q,
			    sizeof(q)));
	}
}

static enum cg_code
server_prepare(struct gw_server *srv, struct cg_err *err)
{
	const struct gw_config	*conf = srv->boot->conf;
	enum cg_code		 rc;
	unsigned		 i;

	srv->running = true;
	signal(SIGPIPE, SIG_IGN);
	overrides_check(srv);
	srv->client_auth = gw_routes_want_client_cert(&srv->routes);
	if (srv->client_auth) {
		rc = gw_tls_client_auth(srv->ssl_ctx, conf, err);
		if (rc != CG_OK)
			return rc;
	}
	rc = control_events(srv, err);
	if (rc == CG_OK)
		rc = gw_commit_init(srv, err);
	if (rc != CG_OK)
		return rc;
	srv->nthreads = thread_count(conf);
	srv->threads = cg_calloc(srv->nthreads, sizeof(*srv->threads));
	if (srv->threads == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	for (i = 0; i < srv->nthreads; i++) {
		rc = gw_thread_init(srv, &srv->threads[i], i, err);
		if (rc != CG_OK)
			return rc;
	}
	return CG_OK;
}

static void
log_start(const struct gw_server *srv)
{
	const struct gw_config	*conf = srv->boot->conf;
	char			 qca[GW_SUBJECT_MAX + 8];

	cg_log_info("event=start version=%s https=%s http=%s threads=%u "
	    "ca=%s crl=/crl/%s.crl client_auth=%d routes=%zu "
	    "max_connections=%u read_timeout_s=%u", CERTGW_VERSION,
	    srv->laddr[GW_LSN_HTTPS], srv->laddr[GW_LSN_HTTP], srv->nthreads,
	    cg_logfmt_quote(srv->ca_cn, qca, sizeof(qca)), srv->crl_name,
	    srv->client_auth, srv->routes.n, conf->limits.max_connections,
	    conf->limits.read_timeout_s);
}

enum cg_code
gw_server_run(struct gw_server *srv, struct cg_err *err)
{
	enum cg_code	 rc;
	unsigned	 i;

	if (srv->running)
		return cg_err_set(err, CG_EINVAL, "the server already ran");
	rc = server_prepare(srv, err);
	if (rc != CG_OK)
		goto out;
	rc = gw_commit_start(srv, err);
	if (rc == CG_OK)
		rc = gw_relay_start(srv, err);
	if (rc == CG_OK)
		rc = gw_workers_start(srv, err);
	if (rc != CG_OK)
		goto out;
	for (i = 0; i < srv->nthreads; i++) {
		rc = gw_thread_start(&srv->threads[i], err);
		if (rc != CG_OK)
			goto out;
	}
	log_start(srv);
	if (event_base_loop(srv->base, EVLOOP_NO_EXIT_ON_EMPTY) < 0) {
		rc = cg_err_set(err, CG_EINTERNAL, "the control loop failed");
		goto out;
	}
	rc = CG_OK;
out:
	/* On failure, loops that did start are stopped the same way. */
	if (!srv->stopping)
		threads_stop(srv);
	for (i = 0; srv->threads != NULL && i < srv->nthreads; i++)
		gw_thread_join(&srv->threads[i]);
	/* Loops are gone; what they queued is recorded before we return. */
	gw_commit_stop(srv);
	/* Then the relay moves the last jobs to Redis, if it can. */
	gw_relay_stop(srv);
	gw_workers_stop(srv);
	if (rc == CG_OK)
		cg_log_info("event=shutdown status=ok");
	return rc;
}

/* ----------------------------------------------------------- free */

static void
server_events_free(struct gw_server *srv)
{
	int	 i;

	for (i = 0; i < 3; i++)
		if (srv->sigev[i] != NULL)
			event_free(srv->sigev[i]);
	if (srv->exited != NULL)
		event_free(srv->exited);
	if (srv->crl_timer != NULL)
		event_free(srv->crl_timer);
	if (srv->base != NULL)
		event_base_free(srv->base);
}

void
gw_server_free(struct gw_server *srv)
{
	unsigned	 i;
	int		 k;

	if (srv == NULL)
		return;
	/* The committer first: it hands items back to the loop threads. */
	gw_commit_cleanup(srv);
	gw_relay_stop(srv);
	gw_workers_stop(srv);
	for (i = 0; srv->threads != NULL && i < srv->nthreads; i++)
		gw_thread_cleanup(&srv->threads[i]);
	cg_free(srv->threads);
	gw_auth_files_free();
	server_events_free(srv);
	for (k = 0; k < GW_LSN__MAX; k++)
		if (srv->lfd[k] >= 0)
			close(srv->lfd[k]);
	SSL_CTX_free(srv->ssl_ctx);
	gw_blob_unref(srv->crl);
	gw_blob_unref(srv->ca_der);
	ca_store_close(srv->store);
	ca_free(srv->ca);
	dist_rules_free(srv->rules);
	gw_snap_put(srv->snap);
	gw_snap_put(srv->boot);
	pthread_mutex_destroy(&srv->snap_mu);
	pthread_mutex_destroy(&srv->crl_mu);
	cg_free(srv->config_path);
	cg_free(srv);
}

const struct gw_config *
gw_server_config(const struct gw_server *srv)
{
	return srv->boot->conf;
}

struct ca *
gw_server_ca(const struct gw_server *srv)
{
	return srv->ca;
}
