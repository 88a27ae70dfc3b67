/*
 * acme.h - the ACME server (RFC 8555, with RFC 8737 tls-alpn-01, RFC 8738
 * IP identifiers, RFC 9773 renewal information and the ACME profiles
 * draft): directories under /acme/ on the HTTPS listener, accounts,
 * orders, authorizations, asynchronous validation, finalization through
 * the CA core, revocation.  The protocol only: state lives in the store
 * (store.h), policy and signing in the CA core (ca.h), listeners in the
 * gateway (gw.h).
 */
#ifndef CERTGW_ACME_H
#define CERTGW_ACME_H

#include "certgw/core.h"
#include "certgw/gw.h"

#define ACME_PATH_PREFIX	"/acme/"

struct acme_server;

/*
 * Register the /acme/ prefix route on srv, load (or create) the nonce key
 * and start the validation thread.  Call between gw_server_new() and
 * gw_server_run() when the config has acme.enabled.  Directories and
 * their policies are looked up per request in gw_req_config(), so a
 * SIGHUP reload applies to the next request; the validation settings
 * (ports, resolver) are read once here.  On CG_OK *asp is the caller's:
 * acme_server_free() it after gw_server_run() returns.  Main thread.
 */
enum cg_code	 acme_register(struct gw_server *srv, struct acme_server **asp,
		    struct cg_err *err);
/* Stop the validation thread and free; NULL is fine.  Main thread. */
void		 acme_server_free(struct acme_server *as);

#endif /* CERTGW_ACME_H */
