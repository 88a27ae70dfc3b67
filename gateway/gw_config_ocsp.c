/*
 * gw_config_ocsp.c - the "ocsp" section of the config file: an optional
 * delegated OCSP signing certificate and its key (made by `certgw
 * ocsp-signer init`; without them the CA key signs) and how long a
 * response is valid.  The section is optional: the responder at /ocsp
 * runs either way, like /crl.  Nothing here reads keys or speaks OCSP;
 * that is ca/ca_ocsp.c and gateway/gw_ocsp.c.
 */
#include "gw_config_int.h"

#include <stddef.h>

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define OCSP_OFF(m)	offsetof(struct ca_ocsp_config, m)

static const struct gw_cfg_field ocsp_fields[] = {
	{ .key = "signer_cert", .kind = GW_CFG_FILE,
	  .off = OCSP_OFF(signer_cert) },
	{ .key = "signer_key", .kind = GW_CFG_FILE,
	  .off = OCSP_OFF(signer_key) },
	{ .key = "signer_key_passphrase_file", .kind = GW_CFG_FILE,
	  .off = OCSP_OFF(signer_key_pass_file),
	  .excl = "signer_key_passphrase_env" },
	{ .key = "signer_key_passphrase_env", .kind = GW_CFG_ENVNAME,
	  .off = OCSP_OFF(signer_key_pass_env),
	  .excl = "signer_key_passphrase_file" },
	{ .key = "validity_s", .kind = GW_CFG_U32,
	  .off = OCSP_OFF(validity_s), .min = CA_OCSP_VALIDITY_MIN,
	  .max = CA_OCSP_VALIDITY_MAX },
};

void
gw_cfg_ocsp_defaults(struct gw_config *conf)
{
	conf->ocsp.validity_s = CA_OCSP_VALIDITY_DEFAULT;
}

enum cg_code
gw_cfg_ocsp(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct ca_ocsp_config	*oc = &((struct gw_config *)target)->ocsp;
	size_t			 mark;
	enum cg_code		 rc;

	rc = gw_cfg_object(ctx, val, ocsp_fields, NELEM(ocsp_fields), oc);
	if (rc != CG_OK)
		return rc;
	/* A signer is a certificate and its key; without one the CA signs. */
	if ((oc->signer_cert == NULL) == (oc->signer_key == NULL) &&
	    (oc->signer_key != NULL || (oc->signer_key_pass_file == NULL &&
	    oc->signer_key_pass_env == NULL)))
		return CG_OK;
	mark = gw_cfg_push_key(ctx, oc->signer_cert == NULL ? "signer_cert" :
	    "signer_key");
	rc = gw_cfg_fail(ctx, "a delegated signer needs both signer_cert and "
	    "signer_key; leave out every signer_* key to let the CA sign");
	gw_cfg_pop(ctx, mark);
	return rc;
}
