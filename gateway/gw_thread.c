/*
 * gw_thread.c - one event loop per thread: its event_base, its store
 * handle, one evhttp per listener accepting on a dup() of the shared
 * listening socket, and the stop/drain sequence the main thread asks for.
 * Not here: the control loop, signals and reloads (gw_server.c), requests
 * (gw_req.c), connection accounting (gw_conn.c).
 */
#include "gw_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#define GW_EVHTTP_METHODS	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | \
	EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
	EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | \
	EVHTTP_REQ_PATCH)
#define GW_CLEANUP_SPINS	16	/* loop turns for bufferevent finalizers */

static const char *const lsn_names[GW_LSN__MAX] = {
	[GW_LSN_HTTPS] = "https",
	[GW_LSN_HTTP] = "http",
};

/* This thread's share of a listener's connection limit (0: unlimited). */
static uint32_t
thread_quota(uint32_t limit, unsigned n, unsigned idx)
{
	if (limit == 0)
		return UINT32_MAX;
	/*
	 * Shares add up to the limit, so the total never exceeds it, and
	 * while the total is below it some thread is below its share and
	 * still accepting on the shared socket.
	 */
	return limit / n + (idx < limit % n ? 1 : 0);
}

static enum cg_code
tlsn_http_new(struct gw_thread *th, struct gw_tlsn *tl, struct cg_err *err)
{
	const struct gw_limits	*lim = &th->srv->boot->conf->limits;

	tl->http = evhttp_new(th->base);
	if (tl->http == NULL)
		return cg_err_set(err, CG_ENOMEM, "cannot create the %s "
		    "server", lsn_names[tl->kind]);
	evhttp_set_max_headers_size(tl->http,
	    (ev_ssize_t)lim->max_header_bytes);
	evhttp_set_max_body_size(tl->http, (ev_ssize_t)lim->max_body_bytes);
	if (lim->read_timeout_s > 0)
		evhttp_set_timeout(tl->http, (int)lim->read_timeout_s);
	/* We answer every method ourselves, so each request gets logged. */
	evhttp_set_allowed_methods(tl->http, GW_EVHTTP_METHODS);
	evhttp_set_default_content_type(tl->http, "text/plain; charset=utf-8");
	evhttp_set_gencb(tl->http, gw_req_dispatch, tl);
	evhttp_set_bevcb(tl->http, tl->kind == GW_LSN_HTTPS ?
	    gw_conn_bev_tls : gw_conn_bev_plain, tl);
	return CG_OK;
}

static enum cg_code
tlsn_init(struct gw_thread *th, enum gw_lsn kind, struct cg_err *err)
{
	struct gw_server	*srv = th->srv;
	struct gw_tlsn		*tl = &th->lsn[kind];
	struct evconnlistener	*evl;
	enum cg_code		 rc;
	int			 fd;

	tl->th = th;
	tl->kind = kind;
	if (srv->lfd[kind] < 0)
		return CG_OK;
	tl->quota = thread_quota(srv->boot->conf->limits.max_connections,
	    srv->nthreads, th->idx);
	rc = tlsn_http_new(th, tl, err);
	if (rc != CG_OK)
		return rc;
	fd = fcntl(srv->lfd[kind], F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return cg_err_errno(err, CG_EIO, "cannot dup the %s listener",
		    lsn_names[kind]);
	evl = evconnlistener_new(th->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED, -1, fd);
	if (evl == NULL) {
		close(fd);
		return cg_err_set(err, CG_ENOMEM, "cannot create the %s "
		    "listener", lsn_names[kind]);
	}
	tl->bound = evhttp_bind_listener(tl->http, evl);
	if (tl->bound == NULL) {
		evconnlistener_free(evl);
		return cg_err_set(err, CG_ENOMEM, "cannot bind the %s "
		    "listener", lsn_names[kind]);
	}
	tl->evl = evl;
	evconnlistener_set_error_cb(evl, gw_tlsn_accept_error);
	gw_tlsn_update(tl);
	return CG_OK;
}

static void
thread_stop(struct gw_thread *th)
{
	const struct gw_limits	*lim = &th->srv->boot->conf->limits;
	struct timeval		 tv = { 0, GW_DRAIN_TICK_MS * 1000 };
	struct gw_tlsn		*tl;
	int			 k;

	if (th->draining)
		return;
	th->draining = true;
	for (k = 0; k < GW_LSN__MAX; k++) {
		tl = &th->lsn[k];
		if (tl->bound == NULL)
			continue;
		/* Frees the listener and closes our dup of the socket. */
		evhttp_del_accept_socket(tl->http, tl->bound);
		tl->bound = NULL;
		tl->evl = NULL;
	}
	th->drain_until = cg_mono_ms() +
	    (uint64_t)lim->shutdown_grace_s * 1000;
	event_add(th->drain, &tv);
	event_active(th->drain, EV_TIMEOUT, 0);
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_thread	*th = arg;
	uint32_t		 open = 0;
	int			 k;

	for (k = 0; k < GW_LSN__MAX; k++) {
		gw_conn_close_idle(&th->lsn[k]);
		open += th->lsn[k].nconn;
	}
	if (open == 0 || cg_mono_ms() >= th->drain_until) {
		if (open > 0)
			cg_log_warn("event=drain_timeout thread=%u "
			    "connections=%u", th->idx, open);
		event_base_loopbreak(th->base);
	}
}

static void
ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_thread	*th = arg;
	unsigned		 cmd;

	cmd = atomic_exchange(&th->cmd, 0);
	if (cmd & GW_CMD_STOP)
		thread_stop(th);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_thread	*th = arg;
	int			 k;

	for (k = 0; k < GW_LSN__MAX; k++)
		gw_tlsn_update(&th->lsn[k]);
}

static enum cg_code
thread_events(struct gw_thread *th, struct cg_err *err)
{
	struct timeval	 tv = { GW_TICK_MS / 1000, (GW_TICK_MS % 1000) * 1000 };

	th->ctl = event_new(th->base, -1, 0, ctl_cb, th);
	th->fixup = event_new(th->base, -1, 0, gw_conn_fixup_cb, th);
	th->drain = event_new(th->base, -1, EV_PERSIST, drain_cb, th);
	th->tick = event_new(th->base, -1, EV_PERSIST, tick_cb, th);
	if (th->ctl == NULL || th->fixup == NULL || th->drain == NULL ||
	    th->tick == NULL || event_add(th->tick, &tv) != 0)
		return cg_err_set(err, CG_ENOMEM, "cannot create loop events");
	return CG_OK;
}

enum cg_code
gw_thread_init(struct gw_server *srv, struct gw_thread *th, unsigned idx,
    struct cg_err *err)
{
	enum cg_code	 rc;
	int		 k;

	th->srv = srv;
	th->idx = idx;
	atomic_init(&th->cmd, 0);
	for (k = 0; k < GW_LSN__MAX; k++) {
		th->lsn[k].th = th;
		th->lsn[k].kind = (enum gw_lsn)k;
	}
	th->base = event_base_new();
	if (th->base == NULL)
		return cg_err_set(err, CG_ENOMEM, "cannot create an event "
		    "loop");
	rc = ca_store_open(srv->boot->conf->store_path, &th->store, err);
	if (rc != CG_OK)
		return rc;
	if (!gw_auth_thread_init(th))
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = thread_events(th, err);
	if (rc == CG_OK)
		rc = gw_commit_thread_init(th, err);
	if (rc != CG_OK)
		return rc;
	for (k = 0; k < GW_LSN__MAX; k++) {
		rc = tlsn_init(th, (enum gw_lsn)k, err);
		if (rc != CG_OK)
			return rc;
	}
	return CG_OK;
}

static void *
thread_main(void *arg)
{
	struct gw_thread	*th = arg;

	if (event_base_loop(th->base, EVLOOP_NO_EXIT_ON_EMPTY) < 0)
		cg_log_err("event=loop_failed thread=%u", th->idx);
	atomic_fetch_add(&th->srv->nexited, 1);
	event_active(th->srv->exited, EV_READ, 0);
	return NULL;
}

enum cg_code
gw_thread_start(struct gw_thread *th, struct cg_err *err)
{
	sigset_t	 all, old;
	int		 e;

	/* Signals belong to the control loop on the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&th->tid, NULL, thread_main, th);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		errno = e;
		return cg_err_errno(err, CG_EIO, "cannot start loop thread %u",
		    th->idx);
	}
	th->started = true;
	return CG_OK;
}

void
gw_thread_post(struct gw_thread *th, unsigned cmd)
{
	if (th->ctl == NULL)
		return;
	atomic_fetch_or(&th->cmd, cmd);
	event_active(th->ctl, EV_READ, 0);
}

void
gw_thread_join(struct gw_thread *th)
{
	if (!th->started)
		return;
	pthread_join(th->tid, NULL);
	th->started = false;
}

static uint32_t
thread_conns(const struct gw_thread *th)
{
	return th->lsn[GW_LSN_HTTPS].nconn + th->lsn[GW_LSN_HTTP].nconn;
}

/* Free the servers and let libevent finish freeing their connections. */
static void
thread_servers_free(struct gw_thread *th)
{
	int	 k, spins;

	gw_req_abort_all(th);
	if (th->fixup != NULL)
		gw_conn_fixup_cb(-1, 0, th);
	for (k = 0; k < GW_LSN__MAX; k++) {
		if (th->lsn[k].http != NULL)
			evhttp_free(th->lsn[k].http);
		th->lsn[k].http = NULL;
		th->lsn[k].bound = NULL;
		th->lsn[k].evl = NULL;
	}
	for (spins = 0; spins < GW_CLEANUP_SPINS && thread_conns(th) > 0;
	    spins++)
		event_base_loop(th->base, EVLOOP_NONBLOCK);
	if (thread_conns(th) > 0)
		cg_log_warn("event=cleanup_leak thread=%u connections=%u",
		    th->idx, thread_conns(th));
}

void
gw_thread_cleanup(struct gw_thread *th)
{
	if (th == NULL || th->srv == NULL)
		return;
	gw_thread_join(th);
	/* Answer what the committer handed back after the loop ended. */
	gw_commit_thread_cleanup(th);
	if (th->base != NULL)
		thread_servers_free(th);
	if (th->ctl != NULL)
		event_free(th->ctl);
	if (th->fixup != NULL)
		event_free(th->fixup);
	if (th->drain != NULL)
		event_free(th->drain);
	if (th->tick != NULL)
		event_free(th->tick);
	th->ctl = th->fixup = th->drain = th->tick = NULL;
	if (th->base != NULL)
		event_base_free(th->base);
	th->base = NULL;
	gw_auth_thread_free(th);
	ca_store_close(th->store);
	th->store = NULL;
}
