/*
 * gw_ocsp.h - private to the gateway's server files: registering the OCSP
 * responder's routes (gateway/gw_ocsp.c), and the cache's pure parts the
 * unit tests reach.
 */
#ifndef CERTGW_GW_OCSP_H
#define CERTGW_GW_OCSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certgw/core.h"

struct gw_server;

/*
 * Open the responder (ca_ocsp_open with the boot config's "ocsp"
 * section) and register POST /ocsp and GET|POST /ocsp/... on both
 * listeners.  The responder and its cache live as long as the server.
 */
enum cg_code	 gw_ocsp_add(struct gw_server *srv, struct cg_err *err);

/*
 * Cache-Control for a GET answer at now: "max-age=N, public,
 * no-transform, must-revalidate" with N = next_update - now (at least 0)
 * for a cacheable response, "no-store" otherwise.
 */
void		 gw_ocsp_cache_control(bool cacheable, int64_t next_update,
		    int64_t now, char *out, size_t outlen);

#endif /* CERTGW_GW_OCSP_H */
