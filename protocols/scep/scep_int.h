/*
 * scep_int.h - what the SCEP server's files share: the server state (the
 * RA), the per-request call, and the handlers.  Private to
 * protocols/scep/.
 */
#ifndef CERTGW_SCEP_INT_H
#define CERTGW_SCEP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "certgw/ca.h"
#include "certgw/config.h"
#include "certgw/core.h"
#include "certgw/gw.h"
#include "certgw/scep.h"
#include "certgw/store.h"
#include "scep_msg.h"

#define SCEP_PATH		"/scep"
#define SCEP_ALIAS_CGI		"/cgi-bin/pkiclient.exe"
#define SCEP_ALIAS_MSCEP	"/certsrv/mscep/mscep.dll"
#define SCEP_QUERY_MAX		(SCEP_MSG_MAX * 2)	/* escaped base64 */
#define SCEP_CT_PKI		"application/x-pki-message"

struct scep_server {
	struct scep_id	 id;		/* the RA, or the CA: cert and key
					   owned (key NULL for the CA) */
	bool		 ra;		/* id is an RA, not the CA */
	X509		*next_ca;	/* GetNextCACert, or NULL */
	OSSL_PROVIDER	*prov_default;	/* loaded with legacy for DES */
	OSSL_PROVIDER	*prov_legacy;	/* when a service allows DES */
};

/* One request. */
struct scep_call {
	struct gw_req		*req;
	struct scep_server	*ss;
	const struct gw_config	*conf;
	const struct gw_scep_service *svc; /* the service addressed */
	int64_t			 now;
};

/* Percent-decode once (exposed for the fuzz target). */
bool		 scep_query_decode(const char *s, size_t len, char *out,
		    size_t cap, size_t *outlenp);

/* PKIOperation (scep_op.c): der is the PKIMessage, from GET or POST. */
void		 scep_op_pki(struct scep_call *call, const uint8_t *der,
		    size_t len);

/* A text reply for what is not a PKIMessage answer (400, 404, 500). */
void		 scep_reply_text(struct scep_call *call, int status,
		    const char *msg);

#endif /* CERTGW_SCEP_INT_H */
