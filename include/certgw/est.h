/*
 * est.h - the EST server (RFC 7030, with the RFC 8951 clarifications):
 * /.well-known/est/[<label>/]<op> on the HTTPS listener, for cacerts,
 * simpleenroll, simplereenroll, serverkeygen and csrattrs.  The protocol
 * only: policy, signing and records are the CA core's (ca.h), listeners and
 * TLS the gateway's (gw.h).
 */
#ifndef CERTGW_EST_H
#define CERTGW_EST_H

#include <stddef.h>
#include <stdint.h>

#include "certgw/ca.h"
#include "certgw/core.h"
#include "certgw/gw.h"

#define EST_BODY_MAX		(64 * 1024)	/* request body bytes accepted */
#define EST_PATH_PREFIX		"/.well-known/est/"
#define EST_LABEL_MAX		64		/* bytes in a label */

/*
 * Register the one EST prefix route on srv (HTTPS only, GET and POST,
 * client certificates accepted).  Call between gw_server_new() and
 * gw_server_run() when the config has est.enabled.  Labels, users and
 * profiles are looked up per request in gw_req_config(), so a SIGHUP
 * reload applies to the next request.  Main thread only.
 */
enum cg_code	 est_register(struct gw_server *srv, struct cg_err *err);

/*
 * Decode an EST request body carrying a PKCS#10 request (RFC 7030 §4.2.1,
 * RFC 8951 §3): base64 with or without line breaks (CRLF or LF), under a
 * Content-Transfer-Encoding header cte that is NULL or "base64" (any case,
 * surrounding blanks allowed).  Parses and verifies the request.
 * CG_ETOOBIG when len > EST_BODY_MAX or the DER exceeds CA_CSR_MAX;
 * CG_EINVAL for another encoding, bad base64 or a bad request.
 * On CG_OK *csrp is the caller's (ca_csr_free); otherwise NULL.
 * Pure; any thread.
 */
enum cg_code	 est_body_decode(const uint8_t *body, size_t len,
		    const char *cte, struct ca_csr **csrp, struct cg_err *err);

#endif /* CERTGW_EST_H */
