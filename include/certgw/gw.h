/*
 * gw.h - the HTTP(S) gateway: listeners, one libevent loop per thread,
 * TLS with per-route client-certificate policy, the route table that
 * protocol modules register into, limits, the per-request log line, and the
 * `certgw serve` life cycle (signals, reload, CRL refresh).
 *
 * Handlers run on the loop thread that accepted the connection and must not
 * block; they reach that thread's store and the shared CA through the
 * request.
 */
#ifndef CERTGW_GW_H
#define CERTGW_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "certgw/ca.h"
#include "certgw/config.h"
#include "certgw/core.h"
#include "certgw/store.h"

#define GW_ROUTES_MAX		64	/* routes in the table */
#define GW_PATH_MAX		2048	/* request path bytes */

struct gw_server;
struct gw_req;

/* Which listeners a route is reachable on. */
#define GW_ON_HTTPS	0x1
#define GW_ON_HTTP	0x2

/* Methods a route accepts (others get 405). */
#define GW_M_GET	0x01
#define GW_M_HEAD	0x02
#define GW_M_POST	0x04
#define GW_M_PUT	0x08
#define GW_M_DELETE	0x10

/*
 * A handler must answer exactly once with gw_req_reply() (now or later on
 * the same loop thread).
 */
typedef void gw_handler_fn(struct gw_req *req, void *arg);

struct gw_route {
	const char	*path;		/* exact path, or a prefix ending in '/' */
	bool		 prefix;	/* match path as a prefix */
	unsigned	 listeners;	/* GW_ON_* */
	unsigned	 methods;	/* GW_M_* */
	enum gw_cert_policy cert;	/* client-certificate policy */
	gw_handler_fn	*fn;		/* the handler */
	void		*arg;		/* passed to fn */
	/*
	 * The handler checks the client certificate itself, with
	 * gw_req_cert_check() against its own trust (EST labels), instead
	 * of the gateway before it runs.
	 */
	bool		 cert_by_handler;
};

/*
 * Register a route before gw_server_run().  The longest matching path wins.
 * The route struct is copied; strings must outlive the server.
 */
enum cg_code	 gw_route_add(struct gw_server *srv, const struct gw_route *r,
		    struct cg_err *err);

/* -------------------------------------------------- request accessors */

/* "GET", "POST", ... */
const char	*gw_req_method(const struct gw_req *req);
/* Decoded path without the query (borrowed). */
const char	*gw_req_path(const struct gw_req *req);
/* Raw query string or NULL (borrowed). */
const char	*gw_req_query(const struct gw_req *req);
/* Request header value or NULL (borrowed, valid during the handler). */
const char	*gw_req_header(const struct gw_req *req, const char *name);
/* The request body (contiguous, borrowed); *lenp bytes. */
const uint8_t	*gw_req_body(struct gw_req *req, size_t *lenp);
/* True on the TLS listener. */
bool		 gw_req_is_tls(const struct gw_req *req);
/*
 * The client certificate when one was presented AND it verified against
 * the client trust (borrowed), else NULL.  gw_req_peer_cert_any() returns
 * it even when verification failed, with the OpenSSL verify result.
 */
X509		*gw_req_peer_cert(const struct gw_req *req);
X509		*gw_req_peer_cert_any(const struct gw_req *req, long *verify);
/*
 * TLS channel bindings for application-layer binding (RFC 7030 §3.5):
 * tls-unique (RFC 5929) on TLS 1.2 -- the first Finished message of the
 * latest handshake, the client's on a full handshake, the server's on a
 * resumption -- or tls-exporter (RFC 9266) on TLS 1.3: 32 bytes exported
 * with label "EXPORTER-Channel-Binding" and no context.
 */
#define GW_TLS_BINDING_MAX	64	/* bytes of a channel binding */
#define GW_TLS_EXPORTER_LEN	32	/* RFC 9266 §2 */

enum gw_tls_binding {
	GW_BINDING_NONE = 0,
	GW_BINDING_TLS_UNIQUE,
	GW_BINDING_TLS_EXPORTER,
	GW_BINDING__MAX
};

/*
 * Copy the request's connection binding into buf (GW_TLS_BINDING_MAX
 * bytes) and say which kind it is.  CG_ENOTFOUND on plain HTTP or when the
 * connection is gone; CG_ECRYPTO when TLS cannot produce one.  Loop thread.
 */
enum cg_code	 gw_req_tls_binding(struct gw_req *req, uint8_t *buf,
		    size_t *lenp, enum gw_tls_binding *kindp,
		    struct cg_err *err);
/*
 * What a presented client certificate is worth (gateway/gw_auth.c), and
 * the four reasons one is refused.  The gateway applies this before the
 * handler on routes with policy accept or require; a route with
 * cert_by_handler calls it itself.
 */
enum gw_cert_verdict {
	GW_CV_NONE = 0,		/* none presented: client_cert_required */
	GW_CV_OK,		/* chains to a trusted CA (or pinned), in date,
				   fit for client auth, not revoked */
	GW_CV_REVOKED,		/* client_cert_revoked: by this gateway, or in
				   the CRL of a configured external CA */
	GW_CV_UNTRUSTED,	/* client_cert_untrusted: chain, issuer, form,
				   key usage */
	GW_CV_EXPIRED,		/* client_cert_expired: or not yet valid */
	GW_CV__MAX
};
#define GW_CERT_DETAIL_MAX	160

struct gw_cert_check {
	enum gw_cert_verdict verdict;
	bool		 self_signed;	/* UNTRUSTED: self-signed, not pinned */
	bool		 pinned;	/* a self-signed one pinned to an identity */
	bool		 ours;		/* issued by this gateway's CA */
	char		 sha256[65];	/* lower-case hex, "" when none */
	char		 detail[GW_CERT_DETAIL_MAX]; /* why, for people */
};
/* "client_cert_revoked", ...; "ok" for GW_CV_OK. */
const char	*gw_cert_verdict_code(enum gw_cert_verdict v);
/*
 * Check the request's client certificate against trust_file (a PEM file
 * of CAs), or when NULL against the listener's client trust: its client
 * CA file, the CAs trusted with `certgw trust add`, and self-signed
 * certificates pinned to an identity.  The result is remembered for the
 * request: gw_req_peer_cert() and gw_req_identity() follow the latest
 * check.  Loop thread.
 */
void		 gw_req_cert_check(struct gw_req *req, const char *trust_file,
		    struct gw_cert_check *out);
/*
 * Refuse the request for chk: a 403 whose body is JSON {"error": code,
 * "detail": text} when the client accepts JSON, else "code: text", and
 * one log line.
 */
void		 gw_req_cert_refuse(struct gw_req *req,
		    const struct gw_cert_check *chk);
/*
 * Record the certificate in the holding tank when it maps to no identity
 * and this gateway did not issue it (chk from gw_req_cert_check).
 */
void		 gw_req_cert_hold(struct gw_req *req,
		    const struct gw_cert_check *chk);

/*
 * The identity the request's client certificate maps to (borrowed, valid
 * during the handler), or NULL: no certificate, one that did not verify,
 * or one that maps to nobody.  Resolved on first use from this thread's
 * store (ca_ident_resolve); a disabled identity is returned too, and the
 * caller decides what it may do.  Loop thread.
 */
struct ca_identity;
const struct ca_identity *gw_req_identity(struct gw_req *req);
/* "ip:port" of the peer (borrowed). */
const char	*gw_req_peer(const struct gw_req *req);
/* This loop thread's store handle, the shared CA and config snapshot. */
struct ca_store	*gw_req_store(struct gw_req *req);
struct ca	*gw_req_ca(struct gw_req *req);
const struct gw_config *gw_req_config(struct gw_req *req);

/*
 * Group commit.  Hand an issuance staged with ca_issue_stage() (on this
 * request's store) to the server's committer, which records it together
 * with others in one transaction.  done(req, arg, staged) then runs on
 * this loop thread once the record is durable or has failed -- say which
 * with ca_staged_result() -- and must answer req.  staged belongs to the
 * gateway from this call on and is freed after done returns.
 */
typedef void gw_commit_fn(struct gw_req *req, void *arg,
		    struct ca_staged *staged);
void		 gw_req_commit(struct gw_req *req, struct ca_staged *staged,
		    gw_commit_fn *done, void *arg);

/* Add a response header (copied). */
void		 gw_req_set_header(struct gw_req *req, const char *name,
		    const char *value);
/* Send the response; body copied; logs the request line. */
void		 gw_req_reply(struct gw_req *req, int status,
		    const char *content_type, const void *body, size_t len);
/* A text/plain reply with a short message (a newline is appended). */
void		 gw_req_reply_text(struct gw_req *req, int status,
		    const char *msg);

/* ----------------------------------------------------------- server */

/*
 * Load the config, open the CA, create the listeners (bound now, so a busy
 * port fails here with a clear error) and the built-in routes: GET /healthz,
 * GET /crl and /crl/<ca>.crl (DER CRL, both listeners), GET /ca.crt,
 * GET and POST /ocsp (both listeners).
 */
enum cg_code	 gw_server_new(const char *config_path, struct gw_server **srvp,
		    struct cg_err *err);
/*
 * Run the loops until SIGTERM/SIGINT, then stop accepting, let in-flight
 * requests finish (up to limits.shutdown_grace_s) and return CG_OK.
 * SIGHUP reloads profiles (and log level) from the config file; a bad file
 * is logged and the old profiles stay.
 */
enum cg_code	 gw_server_run(struct gw_server *srv, struct cg_err *err);
void		 gw_server_free(struct gw_server *srv);
/*
 * The configuration the server started with (borrowed, lives as long as
 * srv), for protocol modules deciding what to register.  Requests read
 * the current snapshot with gw_req_config() instead.  Main thread.
 */
const struct gw_config *gw_server_config(const struct gw_server *srv);
/* The issuing CA the server was started with (borrowed, as above). */
struct ca	*gw_server_ca(const struct gw_server *srv);

#endif /* CERTGW_GW_H */
