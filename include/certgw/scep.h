/*
 * scep.h - the SCEP server (RFC 8894): /scep and /scep/<service> on both
 * listeners, with the /cgi-bin/pkiclient.exe and /certsrv/mscep/mscep.dll
 * aliases, for GetCACaps, GetCACert, GetNextCACert and PKIOperation (GET
 * and POST).  The protocol only: policy, signing and records are the CA
 * core's (ca.h), one-time challenges and transactions the store's
 * (store.h), listeners the gateway's (gw.h).
 */
#ifndef CERTGW_SCEP_H
#define CERTGW_SCEP_H

#include "certgw/core.h"
#include "certgw/gw.h"

struct scep_server;

/*
 * Load the RA certificate and key named in the config and register the
 * SCEP routes on srv.  Call between gw_server_new() and gw_server_run()
 * when the config has scep.enabled.  Services and their policies are read
 * per request from gw_req_config(); the RA is read once here.  On CG_OK
 * *ssp is the caller's: scep_server_free() it after gw_server_run()
 * returns.  Main thread.
 */
enum cg_code	 scep_register(struct gw_server *srv, struct scep_server **ssp,
		    struct cg_err *err);
/* NULL is fine.  Main thread, after the loops have stopped. */
void		 scep_server_free(struct scep_server *ss);

#endif /* CERTGW_SCEP_H */
