/*
 * gw_int.h - private to the gateway's server files (gateway/gw_*.c except
 * gw_config*): the server, per-thread loop, listener and connection
 * structures they share, and the pure route-matching functions the unit
 * tests reach.  Nothing outside gateway/ may include it; the public face is
 * include/certgw/gw.h.
 */
#ifndef CERTGW_GW_INT_H
#define CERTGW_GW_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include <event2/util.h>

#include "certgw/dist.h"
#include "certgw/dist_worker.h"
#include "certgw/gw.h"

struct bufferevent;
struct event;
struct event_base;
struct evbuffer;
struct evbuffer_cb_entry;
struct evconnlistener;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_connection;
struct evhttp_request;

#define GW_LISTEN_BACKLOG	511	/* kernel accept queue per listener */
#define GW_THREADS_MAX		64	/* loop threads, at most */
#define GW_VERIFY_DEPTH		8	/* client certificate chain length */
#define GW_DRAIN_TICK_MS	100	/* shutdown: idle links cut this often */
#define GW_TICK_MS		1000	/* per-thread housekeeping period */
#define GW_CRL_NAME_MAX		64	/* <name> in /crl/<name>.crl */
#define GW_ADDR_MAX		64	/* "[v6]:port" text */
#define GW_REQ_ID_MAX		32	/* "<thread>-<counter>" */
#define GW_SUBJECT_MAX		512	/* subject text kept for logs/whoami */
#define GW_ALLOW_MAX		64	/* "GET, HEAD, POST, PUT, DELETE" */
#define GW_REASON_MAX		128	/* 403 text about a client cert */
#define GW_CA_DER_MAX		(64 * 1024)	/* the issuing CA certificate */
#define GW_COMMIT_MAX		256	/* issuances per group commit */

/* The two listeners; indexes into per-listener arrays. */
enum gw_lsn {
	GW_LSN_HTTPS = 0,
	GW_LSN_HTTP,
	GW_LSN__MAX
};

/* ------------------------------------------------------------ routes */

/* A registered route and the policy it has on the TLS listener. */
struct gw_route_ent {
	struct gw_route	 r;		/* as registered (strings borrowed) */
	enum gw_cert_policy tls_cert;	/* r.cert, or the config override */
};

struct gw_routes {
	struct gw_route_ent ent[GW_ROUTES_MAX];	/* registration order */
	size_t		 n;		/* entries used */
};

enum gw_match {
	GW_MATCH_OK = 0,	/* *entp is the route */
	GW_MATCH_NOT_FOUND,	/* 404 */
	GW_MATCH_METHOD,	/* 405; *allowp holds the route's methods */
	GW_MATCH__MAX
};

/*
 * Validate r and append it, applying the override whose path equals
 * r->path exactly (ov may be NULL when nov is 0).  CG_EINVAL for a bad
 * route, CG_ECONFLICT for the same path and kind on a shared listener,
 * CG_ETOOBIG when the table is full.
 */
enum cg_code	 gw_routes_add(struct gw_routes *t, const struct gw_route *r,
		    const struct gw_cert_override *ov, size_t nov,
		    struct cg_err *err);
/*
 * The longest route path matching path among the routes on listener lsn;
 * an exact route beats a prefix route of the same path.  method is one
 * GW_M_* bit (0 for a method we do not know); HEAD is allowed wherever GET
 * is.  Pure: no server state.
 */
enum gw_match	 gw_routes_match(const struct gw_routes *t, const char *path,
		    enum gw_lsn lsn, unsigned method,
		    const struct gw_route_ent **entp, unsigned *allowp);
/*
 * Percent-decode a request path (raw from the request line, without the
 * query) into *pathp (cg_free).  Returns 0, or the HTTP status to answer:
 * 414 longer than GW_PATH_MAX, 400 not starting with '/' or holding a
 * NUL byte once decoded, 503 out of memory.
 */
int		 gw_path_decode(const char *raw, char **pathp);
/* The policy a route has on a listener (plain HTTP: as registered). */
enum gw_cert_policy gw_route_policy(const struct gw_route_ent *e,
		    enum gw_lsn lsn);
/* True when any route on the TLS listener asks for client certificates. */
bool		 gw_routes_want_client_cert(const struct gw_routes *t);
/* The Allow header value for a method mask ("GET, HEAD, POST"). */
void		 gw_allow_format(unsigned methods, char *out, size_t outlen);
/* GW_M_* for an evhttp command, 0 for methods no route can have. */
unsigned	 gw_method_bit(int evhttp_cmd);
/* The override for path, or def when none names it exactly. */
enum gw_cert_policy gw_cert_override_find(const struct gw_cert_override *ov,
		    size_t nov, const char *path, enum gw_cert_policy def);

/* --------------------------------------------------- shared blobs */

/* Immutable bytes shared between threads, freed with the last reference. */
struct gw_blob {
	atomic_uint	 refs;		/* holders */
	int64_t		 next_update;	/* CRL nextUpdate; 0 otherwise */
	size_t		 len;		/* bytes in data */
	uint8_t		 data[];	/* the bytes */
};

/* Copy len bytes into a new blob with one reference; NULL on ENOMEM. */
struct gw_blob	*gw_blob_new(const uint8_t *data, size_t len);
struct gw_blob	*gw_blob_ref(struct gw_blob *b);
void		 gw_blob_unref(struct gw_blob *b);

/* -------------------------------------------------- config snapshots */

/*
 * A loaded config with a reference count.  The server holds one on the
 * current snapshot; every request holds one for its lifetime, so a reload
 * never frees a config a request still reads.
 */
struct gw_snap {
	atomic_uint	 refs;		/* holders */
	struct gw_config *conf;		/* owned */
};

/* ------------------------------------------------------- connections */

struct gw_thread;
struct gw_tlsn;

/* One accepted connection, owned by its listener on its thread. */
struct gw_conn {
	struct gw_tlsn	*tl;		/* listener it came in on */
	struct gw_conn	*prev;		/* tl->conns list */
	struct gw_conn	*next;		/* tl->conns list */
	struct gw_conn	*fix_next;	/* th->fixups (plain HTTP only) */
	struct bufferevent *bev;	/* the connection's (evhttp owns it) */
	struct evhttp_connection *evcon; /* plain HTTP: learnt after accept */
	SSL		*ssl;		/* TLS: owned by bev */
	struct event	*deadline;	/* bounds handshake + request read */
	struct evbuffer	*rx_buf;	/* bev input, watched for bytes */
	struct evbuffer_cb_entry *rx_ent; /* our callback on rx_buf */
	long		 verify;	/* first client verify error, or OK */
	char		 peer[GW_ADDR_MAX]; /* "ip:port", set on first bytes */
	bool		 fix_pending;	/* on th->fixups */
	bool		 rx_seen;	/* bytes arrived since it went idle */
	bool		 busy;		/* a request is being handled/sent */
	bool		 timed_out;	/* the deadline fired */
	uint32_t	 nreq;		/* requests seen on it */
};

/* A listener as one loop thread sees it. */
struct gw_tlsn {
	struct gw_thread *th;		/* owning thread */
	enum gw_lsn	 kind;		/* HTTPS or HTTP */
	struct evhttp	*http;		/* this thread's server */
	struct evhttp_bound_socket *bound; /* NULL once stopped */
	struct evconnlistener *evl;	/* borrowed from bound */
	struct gw_conn	*conns;		/* open connections */
	uint32_t	 nconn;		/* entries in conns */
	uint32_t	 quota;		/* this thread's share of the limit */
};

#define GW_CMD_STOP	0x1		/* stop accepting and drain */

/* One loop thread. */
struct gw_thread {
	struct gw_server *srv;		/* back pointer */
	unsigned	 idx;		/* 0.. for request ids and logs */
	pthread_t	 tid;		/* the thread */
	bool		 started;	/* tid is valid */
	struct event_base *base;	/* this thread's loop */
	struct gw_tlsn	 lsn[GW_LSN__MAX]; /* per listener */
	struct ca_store	*store;		/* this thread's store handle */
	struct gw_auth_thr *auth;	/* client trust cache (gw_auth.c) */
	struct event	*ctl;		/* activated by the main thread */
	atomic_uint	 cmd;		/* GW_CMD_* bits for ctl */
	struct event	*fixup;		/* plain HTTP connection hook-up */
	struct gw_conn	*fixups;	/* connections waiting for it */
	struct event	*tick;		/* re-enables listeners after errors */
	struct event	*drain;		/* shutdown tick */
	uint64_t	 drain_until;	/* monotonic ms deadline */
	bool		 draining;	/* stop was requested */
	uint64_t	 nreq;		/* requests, for ids */
	struct gw_req	*reqs;		/* requests not yet answered */
	pthread_mutex_t	 done_mu;	/* guards done */
	bool		 done_inited;	/* done_mu was initialised */
	struct gw_commit_item *done;	/* recorded, to answer (committer) */
	struct event	*done_ev;	/* activated by the committer */
	uint32_t	 ncommit;	/* items with the committer */
};

struct gw_commit_item;

/* The group committer (gw_commit.c): one thread, one store handle. */
struct gw_committer {
	pthread_mutex_t	 mu;		/* guards head, tail, nqueued, stop */
	pthread_cond_t	 cv;		/* signalled on enqueue and stop */
	bool		 inited;	/* mu and cv exist */
	struct gw_commit_item *head;	/* queued, oldest first */
	struct gw_commit_item **tail;	/* where the next one goes */
	size_t		 nqueued;	/* items queued */
	bool		 stop;		/* record what is queued, then exit */
	bool		 started;	/* tid is valid */
	pthread_t	 tid;		/* the thread */
	struct ca_store	*st;		/* its store handle */
	struct gw_server *srv;		/* back pointer, for the relay kick */
	uint64_t	 batches;	/* transactions (committer only) */
	uint64_t	 items;		/* certificates in them */
	size_t		 max_batch;	/* largest transaction */
};

/* The outbox relay (gw_relay.c): one thread, one store handle. */
struct gw_relay {
	pthread_mutex_t	 mu;		/* guards stop and kick */
	pthread_cond_t	 cv;		/* signalled on kick and stop */
	bool		 inited;	/* mu and cv exist */
	bool		 stop;		/* relay once more, then exit */
	bool		 kick;		/* something new in the outbox */
	bool		 started;	/* tid is valid */
	pthread_t	 tid;		/* the thread */
	const struct gw_redis_conf *conf; /* the boot config's */
	struct ca_store	*st;		/* its store handle */
	uint64_t	 moved;		/* jobs relayed (relay thread only) */
	uint64_t	 backoff_ms;	/* current pause after failures */
	bool		 down;		/* Redis was unavailable last time */
	uint64_t	 logged_ms;	/* when that was last logged */
};

/* The push workers of serve (gw_workers.c). */
struct gw_workers {
	struct dist_worker *w;		/* distribution.workers entries */
	pthread_t	*tid;		/* their threads */
	unsigned	 n;		/* threads started */
	atomic_bool	 stop;		/* tells them to finish */
};

/* --------------------------------------------------------- the server */

struct gw_server {
	char		*config_path;	/* for SIGHUP */
	struct gw_snap	*boot;		/* config the listeners came from */
	pthread_mutex_t	 snap_mu;	/* guards snap */
	struct gw_snap	*snap;		/* current, for new requests */
	struct ca	*ca;		/* shared read-only */
	struct ca_store	*store;		/* the control thread's handle */
	SSL_CTX		*ssl_ctx;	/* the TLS listener's */
	bool		 client_auth;	/* CertificateRequest is sent */
	int		 lfd[GW_LSN__MAX]; /* listening sockets, -1 if none */
	char		 laddr[GW_LSN__MAX][GW_ADDR_MAX]; /* for logs */
	struct gw_routes routes;	/* fixed once run starts */
	bool		 running;	/* gw_server_run was entered */
	pthread_mutex_t	 crl_mu;	/* guards crl */
	struct gw_blob	*crl;		/* current DER CRL */
	int64_t		 crl_gen;	/* revocation generation it reflects */
	struct gw_blob	*ca_der;	/* issuing CA certificate, DER */
	char		 ca_cn[GW_SUBJECT_MAX]; /* for logs */
	char		 crl_name[GW_CRL_NAME_MAX]; /* file-safe CA CN */
	unsigned	 nthreads;	/* entries in threads */
	struct gw_thread *threads;	/* the loops */
	struct event_base *base;	/* control loop (main thread) */
	struct event	*sigev[3];	/* TERM, INT, HUP */
	struct event	*crl_timer;	/* revocation poll */
	struct event	*exited;	/* a loop thread finished */
	atomic_uint	 nexited;	/* how many have */
	bool		 stopping;	/* a stop signal arrived */
	int		 stop_sig;	/* which */
	struct gw_committer commit;	/* group commit of issuances */
	struct gw_relay	 relay;		/* outbox to Redis */
	struct gw_workers workers;	/* Redis to the endpoints */
	struct dist_rules *rules;	/* distribution rules, or NULL */
	struct dist_hook hook;		/* the CA's outbox hook argument */
};

/* ------------------------------------------------------ server glue */

/* A reference on the current config snapshot (never NULL once built). */
struct gw_snap	*gw_snap_get(struct gw_server *srv);
void		 gw_snap_put(struct gw_snap *s);

/* -------------------------------------------------------- sockets */

/*
 * Create a listening TCP socket bound to "host:port" or "[v6]:port",
 * non-blocking and close-on-exec.  A busy address fails with a message
 * naming it.
 */
enum cg_code	 gw_socket_listen(const char *address, int *fdp,
		    struct cg_err *err);

/* "ip:port" ("[v6]:port") of a connected socket's peer, or "-". */
void		 gw_socket_peer(int fd, char *out, size_t outlen);

/* ------------------------------------------------------------- TLS */

/*
 * The TLS listener's context: TLS 1.2 minimum, the server chain and key
 * (passphrase from file or environment, wiped after use).  *ctxp is the
 * caller's (SSL_CTX_free).
 */
enum cg_code	 gw_tls_ctx_new(const struct gw_config *conf, SSL_CTX **ctxp,
		    struct cg_err *err);
/*
 * Send a CertificateRequest naming the client CAs, verify against them
 * and record the result without failing the handshake (the route decides).
 */
enum cg_code	 gw_tls_client_auth(SSL_CTX *ctx, const struct gw_config *conf,
		    struct cg_err *err);
/* Attach a connection to an SSL; SSL_free() then releases it. */
bool		 gw_tls_conn_set(SSL *ssl, struct gw_conn *c);
struct gw_conn	*gw_tls_conn_get(const SSL *ssl);
/*
 * The 403 text for a certificate that did not verify:
 * "client certificate expired" or "client certificate not trusted: ...".
 */
void		 gw_tls_verify_text(long verify, char *out, size_t outlen);

/* gw_auth.c: the client-certificate verdict (see gw_req_cert_check). */
struct gw_cert_check;
void		 gw_auth_check(struct gw_thread *th, X509 *cert,
		    const char *trust_file, struct gw_cert_check *out);
bool		 gw_auth_thread_init(struct gw_thread *th);
void		 gw_auth_thread_free(struct gw_thread *th);
/* The route CA files cached for all threads; at server teardown. */
void		 gw_auth_files_free(void);
/* "1.2", "1.3" for an SSL. */
const char	*gw_tls_version(const SSL *ssl);

/* ---------------------------------------------------- connections */

/* evhttp bufferevent callbacks; arg is the struct gw_tlsn. */
struct bufferevent *gw_conn_bev_tls(struct event_base *base, void *arg);
struct bufferevent *gw_conn_bev_plain(struct event_base *base, void *arg);
/* Unlink and free a connection (its bufferevent is being freed). */
void		 gw_conn_release(struct gw_conn *c);
/* The plain-HTTP hook-up, run on the loop right after accept. */
void		 gw_conn_fixup_cb(evutil_socket_t fd, short what, void *arg);
/* The connection a request arrived on, or NULL. */
struct gw_conn	*gw_conn_find(struct gw_tlsn *tl, struct evhttp_request *evreq);
/* A request was read: stop the read deadline; done: re-arm it. */
void		 gw_conn_request_begin(struct gw_conn *c);
void		 gw_conn_request_done(struct evhttp_request *evreq, void *arg);
/* Shutdown: cut connections that carry no request. */
void		 gw_conn_close_idle(struct gw_tlsn *tl);
/*
 * Accept again when below this thread's quota.  Called when a connection
 * closes and from the thread's tick, which also recovers from accept
 * errors (EMFILE) that disabled the listener.
 */
void		 gw_tlsn_update(struct gw_tlsn *tl);
/* evconnlistener error callback: stop accepting until the next tick. */
void		 gw_tlsn_accept_error(struct evconnlistener *evl, void *arg);

/* -------------------------------------------------------- threads */

enum cg_code	 gw_thread_init(struct gw_server *srv, struct gw_thread *th,
		    unsigned idx, struct cg_err *err);
enum cg_code	 gw_thread_start(struct gw_thread *th, struct cg_err *err);
/* From the main thread: ask a loop to do cmd (GW_CMD_*). */
void		 gw_thread_post(struct gw_thread *th, unsigned cmd);
void		 gw_thread_join(struct gw_thread *th);
/* After join (or when never started): free everything the thread had. */
void		 gw_thread_cleanup(struct gw_thread *th);

/* -------------------------------------------------------- requests */

/* RFC 2253 text of a name into out (always NUL-terminated). */
void		 gw_x509_name_text(const X509_NAME *name, char *out,
		    size_t outlen);
/* The evhttp request callback for both listeners; arg is the gw_tlsn. */
void		 gw_req_dispatch(struct evhttp_request *evreq, void *arg);
/* Shutdown after the grace period: answer nothing, free what is left. */
void		 gw_req_abort_all(struct gw_thread *th);
/* The loop thread a request runs on. */
struct gw_thread *gw_req_thread(struct gw_req *req);

/* -------------------------------------------------- group commit */

/* Server side: set up (opens the committer's store), start, stop, free. */
enum cg_code	 gw_commit_init(struct gw_server *srv, struct cg_err *err);
enum cg_code	 gw_commit_start(struct gw_server *srv, struct cg_err *err);
/* Records everything still queued, then joins the thread. */
void		 gw_commit_stop(struct gw_server *srv);

/* ------------------------------------------------- outbox relay */

/* Start the relay when Redis and rules are configured (else a no-op). */
enum cg_code	 gw_relay_start(struct gw_server *srv, struct cg_err *err);
/* Something new may be in the outbox. Any thread. */
void		 gw_relay_kick(struct gw_server *srv);
/* Relay once more, join the thread, free (idempotent). */
void		 gw_relay_stop(struct gw_server *srv);
/* The push worker threads (when Redis, rules and workers > 0). */
enum cg_code	 gw_workers_start(struct gw_server *srv, struct cg_err *err);
void		 gw_workers_stop(struct gw_server *srv);
void		 gw_commit_cleanup(struct gw_server *srv);
/* Loop side: the hand-back event, answering what came back, cleanup. */
enum cg_code	 gw_commit_thread_init(struct gw_thread *th,
		    struct cg_err *err);
void		 gw_commit_flush(struct gw_thread *th);
void		 gw_commit_thread_cleanup(struct gw_thread *th);

/* -------------------------------------------------------- built-ins */

/* Register /healthz, /whoami, /crl, /crl/<name>.crl and /ca.crt. */
enum cg_code	 gw_builtin_add(struct gw_server *srv, struct cg_err *err);

/* ------------------------------------------------------------- CRL */

/*
 * The file-safe form of a CA common name used in /crl/<name>.crl: ASCII
 * letters are lower-cased, digits kept, every run of other bytes becomes
 * one '-', leading and trailing '-' are dropped, at most
 * GW_CRL_NAME_MAX - 1 bytes; "ca" when nothing is left.
 */
void		 gw_crl_file_name(const char *cn, char *out, size_t outlen);
/*
 * Why a CRL built at revocation generation built_gen with that nextUpdate
 * should be rebuilt at now: "revocation" when the store's generation moved,
 * "next_update" when less than a quarter of validity (seconds) is left;
 * NULL when it is still good.
 */
const char	*gw_crl_stale(int64_t gen, int64_t built_gen,
		    int64_t next_update, int64_t validity, int64_t now);
/* Build the first CRL and the CA blobs (control thread, before run). */
enum cg_code	 gw_crl_init(struct gw_server *srv, struct cg_err *err);
/* Rebuild when revocations changed or nextUpdate is near (timer). */
void		 gw_crl_refresh_cb(evutil_socket_t fd, short what,
		    void *arg);
/* A reference to the current CRL (never NULL after init). */
struct gw_blob	*gw_crl_get(struct gw_server *srv);

#endif /* CERTGW_GW_INT_H */
