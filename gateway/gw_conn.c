/*
 * gw_conn.c - one struct gw_conn per accepted connection: the per-listener
 * connection limit (libevent 2.1's evhttp has none), the deadline that
 * bounds the TLS handshake plus the reading of each request (bufferevent
 * timeouts reset on every byte, so they cannot stop a trickling client),
 * and the idle test used when draining.  Not here: HTTP parsing or replies.
 *
 * Accounting: a connection is counted in the evhttp bufferevent callback
 * and uncounted when it is freed: for TLS through an SSL ex_data free
 * callback (the bufferevent frees the SSL), for plain HTTP through the
 * evhttp connection's close callback, hooked up just after accept.
 */
#include "gw_int.h"

#include <errno.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include <openssl/x509_vfy.h>

static void
deadline_arm(struct gw_conn *c)
{
	const struct gw_config	*conf = c->tl->th->srv->boot->conf;
	struct timeval		 tv = { 0, 0 };

	if (c->deadline == NULL || conf->limits.read_timeout_s == 0)
		return;
	tv.tv_sec = (time_t)conf->limits.read_timeout_s;
	evtimer_add(c->deadline, &tv);
}

/* Cut the connection the way evhttp cuts an idle one. */
static void
conn_cut(struct gw_conn *c)
{
	if (c->bev == NULL)
		return;
	bufferevent_trigger_event(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT,
	    0);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn	*c = arg;

	if (c->busy)
		return;
	c->timed_out = true;
	if (c->peer[0] == '\0')
		gw_socket_peer(bufferevent_getfd(c->bev), c->peer,
		    sizeof(c->peer));
	/* An idle keep-alive connection timing out is routine. */
	cg_log_at(c->rx_seen || c->nreq == 0 ? CG_LOG_INFO : CG_LOG_DEBUG,
	    __func__, "event=timeout peer=%s tls=%d requests=%u partial=%d",
	    c->peer, c->tl->kind == GW_LSN_HTTPS, c->nreq, c->rx_seen);
	conn_cut(c);
}

static void
rx_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct gw_conn	*c = arg;

	if (info->n_added == 0)
		return;
	c->rx_seen = true;
	if (c->peer[0] == '\0')
		gw_socket_peer(bufferevent_getfd(c->bev), c->peer,
		    sizeof(c->peer));
}

static void
tlsn_pause(struct gw_tlsn *tl)
{
	if (tl->evl != NULL)
		evconnlistener_disable(tl->evl);
}

void
gw_tlsn_update(struct gw_tlsn *tl)
{
	if (tl->evl == NULL || tl->nconn >= tl->quota)
		return;
	/* Enabling an enabled listener is a no-op. */
	evconnlistener_enable(tl->evl);
}

void
gw_tlsn_accept_error(struct evconnlistener *evl, void *arg)
{
	int	 e = EVUTIL_SOCKET_ERROR();

	/* Level-triggered accept errors (EMFILE) would spin the loop. */
	evconnlistener_disable(evl);
	/* EINVAL: the socket was shut down for a stop; nothing is wrong. */
	if (e == EINVAL) {
		cg_log_debug("event=accept_stopped");
		return;
	}
	cg_log_warn("event=accept_error errno=%d action=pause", e);
}

static struct gw_conn *
conn_new(struct gw_tlsn *tl)
{
	struct gw_conn	*c;

	c = cg_calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->tl = tl;
	c->verify = X509_V_OK;
	c->next = tl->conns;
	if (tl->conns != NULL)
		tl->conns->prev = c;
	tl->conns = c;
	tl->nconn++;
	/* Excess clients wait in the kernel backlog, not in our memory. */
	if (tl->nconn >= tl->quota)
		tlsn_pause(tl);
	return c;
}

/* Give the connection its deadline and byte watcher. */
static void
conn_attach(struct gw_conn *c, struct event_base *base, struct bufferevent *bev)
{
	c->bev = bev;
	c->deadline = evtimer_new(base, deadline_cb, c);
	deadline_arm(c);
	c->rx_buf = bufferevent_get_input(bev);
	c->rx_ent = evbuffer_add_cb(c->rx_buf, rx_cb, c);
}

void
gw_conn_release(struct gw_conn *c)
{
	struct gw_tlsn	*tl;

	if (c == NULL)
		return;
	tl = c->tl;
	/*
	 * Bytes arrived but no request reached us: evhttp refused it
	 * (400/413 for bad or oversized headers or body) or the client
	 * left mid-request.  evhttp answers those itself, so log here.
	 */
	if (c->rx_seen && !c->busy && !c->timed_out)
		cg_log_info("event=request_unfinished peer=%s tls=%d "
		    "requests=%u", c->peer, tl->kind == GW_LSN_HTTPS, c->nreq);
	if (c->rx_ent != NULL)
		evbuffer_remove_cb_entry(c->rx_buf, c->rx_ent);
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		tl->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	tl->nconn--;
	cg_free(c);
	gw_tlsn_update(tl);
}

struct bufferevent *
gw_conn_bev_tls(struct event_base *base, void *arg)
{
	struct gw_tlsn		*tl = arg;
	struct gw_conn		*c;
	struct bufferevent	*bev;
	SSL			*ssl;

	c = conn_new(tl);
	ssl = SSL_new(tl->th->srv->ssl_ctx);
	if (c == NULL || ssl == NULL || !gw_tls_conn_set(ssl, c)) {
		/*
		 * evhttp falls back to a plain bufferevent; the dispatcher
		 * refuses any request on the TLS listener without an SSL.
		 */
		SSL_free(ssl);
		gw_conn_release(c);
		cg_log_err("event=accept_failed listener=https "
		    "reason=\"out of memory\"");
		return NULL;
	}
	c->ssl = ssl;
	/* On failure libevent frees ssl, which releases c. */
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		cg_log_err("event=accept_failed listener=https "
		    "reason=\"no bufferevent\"");
		return NULL;
	}
	conn_attach(c, base, bev);
	return bev;
}

struct bufferevent *
gw_conn_bev_plain(struct event_base *base, void *arg)
{
	struct gw_tlsn		*tl = arg;
	struct gw_thread	*th = tl->th;
	struct gw_conn		*c;
	struct bufferevent	*bev;

	c = conn_new(tl);
	bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (c == NULL || bev == NULL) {
		if (bev != NULL)
			bufferevent_free(bev);
		gw_conn_release(c);
		cg_log_err("event=accept_failed listener=http "
		    "reason=\"out of memory\"");
		return NULL;
	}
	conn_attach(c, base, bev);
	/*
	 * evhttp builds its connection around bev after we return; the
	 * close callback is set on the loop's next turn.  Our reference
	 * keeps bev valid until then whatever evhttp does meanwhile.
	 */
	bufferevent_incref(bev);
	c->fix_pending = true;
	c->fix_next = th->fixups;
	th->fixups = c;
	event_active(th->fixup, EV_TIMEOUT, 0);
	return bev;
}

static void
plain_closecb(struct evhttp_connection *evcon, void *arg)
{
	gw_conn_release(arg);
}

/* The plain-HTTP counterpart of the SSL free hook. */
static void
conn_fixup(struct gw_conn *c)
{
	struct bufferevent	*bev = c->bev;
	bufferevent_data_cb	 rd, wr;
	bufferevent_event_cb	 ev;
	void			*cbarg = NULL;

	c->fix_pending = false;
	bufferevent_getcb(bev, &rd, &wr, &ev, &cbarg);
	if (ev == NULL || cbarg == NULL) {
		/* evhttp gave up on it (bufferevent_free clears the cbs). */
		gw_conn_release(c);
		return;
	}
	/* evhttp passes its evhttp_connection as the bufferevent cbarg. */
	c->evcon = cbarg;
	evhttp_connection_set_closecb(c->evcon, plain_closecb, c);
}

void
gw_conn_fixup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_thread	*th = arg;
	struct gw_conn		*c, *next;
	struct bufferevent	*bev;

	c = th->fixups;
	th->fixups = NULL;
	for (; c != NULL; c = next) {
		next = c->fix_next;
		c->fix_next = NULL;
		bev = c->bev;
		conn_fixup(c);
		if (bev != NULL)
			bufferevent_decref(bev);
	}
}

struct gw_conn *
gw_conn_find(struct gw_tlsn *tl, struct evhttp_request *evreq)
{
	struct evhttp_connection *evcon;
	struct bufferevent	*bev;
	struct gw_conn		*c;

	evcon = evhttp_request_get_connection(evreq);
	if (evcon == NULL)
		return NULL;
	bev = evhttp_connection_get_bufferevent(evcon);
	if (tl->kind == GW_LSN_HTTPS) {
		c = gw_tls_conn_get(bufferevent_openssl_get_ssl(bev));
		if (c != NULL && c->evcon == NULL)
			c->evcon = evcon;
		return c;
	}
	/* XXX linear, bounded by this thread's share of max_connections. */
	for (c = tl->conns; c != NULL; c = c->next)
		if (c->bev == bev)
			return c;
	return NULL;
}

void
gw_conn_request_begin(struct gw_conn *c)
{
	const struct gw_limits	*lim;
	struct timeval		 rtv = { 0, 0 }, wtv = { 0, 0 };

	if (c == NULL)
		return;
	c->busy = true;
	c->nreq++;
	if (c->deadline != NULL)
		evtimer_del(c->deadline);
	/* evhttp has one timeout for both directions; split them. */
	lim = &c->tl->th->srv->boot->conf->limits;
	rtv.tv_sec = (time_t)lim->read_timeout_s;
	wtv.tv_sec = (time_t)lim->write_timeout_s;
	if (c->bev != NULL && lim->read_timeout_s > 0 &&
	    lim->write_timeout_s > 0)
		bufferevent_set_timeouts(c->bev, &rtv, &wtv);
}

/* evhttp: the reply has been written; the connection reads again. */
void
gw_conn_request_done(struct evhttp_request *evreq, void *arg)
{
	struct gw_conn	*c = arg;

	c->busy = false;
	c->rx_seen = c->rx_buf != NULL && evbuffer_get_length(c->rx_buf) > 0;
	deadline_arm(c);
}

void
gw_conn_close_idle(struct gw_tlsn *tl)
{
	struct gw_conn	*c, *next;

	for (c = tl->conns; c != NULL; c = next) {
		next = c->next;
		if (c->busy || c->rx_seen || c->timed_out)
			continue;
		c->timed_out = true;
		conn_cut(c);
	}
}
