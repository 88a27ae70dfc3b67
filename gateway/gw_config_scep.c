/*
 * gw_config_scep.c - the "scep" section of the config file (RFC 8894): the
 * registration authority's certificate and key, the optional next CA
 * certificate, and the services, each naming the profile it issues under
 * and how a request proves it may enrol (a static or one-time challenge,
 * or a signature by a certificate this CA issued).  Nothing here reads
 * keys or speaks SCEP; the protocol lives in protocols/scep/.
 */
#include "gw_config_int.h"

#include <stddef.h>
#include <string.h>

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define SCEP_TTL_DEFAULT	3600
#define SCEP_TTL_MIN		60
#define SCEP_TTL_MAX		2592000		/* 30 days */
#define SCEP_SKEW_DEFAULT	86400		/* a day: time zones, drift */
#define SCEP_SKEW_MAX		31536000	/* a year */

#define SVC_OFF(m)	offsetof(struct gw_scep_service, m)

static const struct gw_cfg_field challenge_fields[] = {
	{ .key = "static_file", .kind = GW_CFG_FILE,
	  .off = SVC_OFF(challenge_file), .excl = "static_env" },
	{ .key = "static_env", .kind = GW_CFG_ENVNAME,
	  .off = SVC_OFF(challenge_env), .excl = "static_file" },
	{ .key = "dynamic", .kind = GW_CFG_BOOL, .off = SVC_OFF(dynamic) },
};

static const struct gw_cfg_field service_fields[] = {
	{ .key = "profile", .kind = GW_CFG_STRING, .required = true,
	  .off = offsetof(struct gw_scep_service, profile) },
	{ .key = "challenge", .kind = GW_CFG_OBJECT,
	  .sub = challenge_fields, .nsub = NELEM(challenge_fields) },
	{ .key = "renewal_only", .kind = GW_CFG_BOOL,
	  .off = SVC_OFF(renewal_only) },
	{ .key = "renewal", .kind = GW_CFG_BOOL, .off = SVC_OFF(renewal) },
	{ .key = "revoke_renewed", .kind = GW_CFG_BOOL,
	  .off = SVC_OFF(revoke_renewed) },
	{ .key = "legacy_des", .kind = GW_CFG_BOOL,
	  .off = SVC_OFF(legacy_des) },
	{ .key = "challenge_ttl_s", .kind = GW_CFG_U32,
	  .off = SVC_OFF(challenge_ttl_s), .min = SCEP_TTL_MIN,
	  .max = SCEP_TTL_MAX },
	{ .key = "max_clock_skew_s", .kind = GW_CFG_U32,
	  .off = SVC_OFF(max_clock_skew_s), .max = SCEP_SKEW_MAX },
};

/*
 * How a request proves it may enrol, seen as a whole: a service that
 * takes no challenge must say so (renewal_only), and then must renew;
 * one that says so must not also name a challenge nobody would ask for.
 */
static enum cg_code
service_finish(struct gw_cfg_ctx *ctx, const struct gw_scep_service *sv)
{
	bool		 any;
	size_t		 mark;
	enum cg_code	 rc = CG_OK;

	any = sv->challenge_file != NULL || sv->challenge_env != NULL ||
	    sv->dynamic;
	if (!sv->renewal_only && !any) {
		mark = gw_cfg_push_key(ctx, "challenge");
		rc = gw_cfg_fail(ctx, "expected static_file, static_env or "
		    "\"dynamic\": true (or \"renewal_only\": true for a "
		    "service that only renews)");
		gw_cfg_pop(ctx, mark);
	} else if (sv->renewal_only && any) {
		mark = gw_cfg_push_key(ctx, "renewal_only");
		rc = gw_cfg_fail(ctx, "a renewal-only service takes no "
		    "challenge: remove \"challenge\" or renewal_only");
		gw_cfg_pop(ctx, mark);
	} else if (sv->renewal_only && !sv->renewal) {
		mark = gw_cfg_push_key(ctx, "renewal");
		rc = gw_cfg_fail(ctx, "a renewal-only service must allow "
		    "renewal");
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

static enum cg_code
service_one(struct gw_cfg_ctx *ctx, const char *name, json_t *val,
    void *elem)
{
	struct gw_scep_service	*sv = elem;
	enum cg_code		 rc;

	if (!gw_cfg_segment_is_valid(name, GW_CFG_SCEP_NAME_MAX))
		return gw_cfg_fail(ctx, "expected a service name of 1 to %d "
		    "characters from a-z, 0-9, '_' and '-'",
		    GW_CFG_SCEP_NAME_MAX);
	sv->name = cg_strdup(name);
	if (sv->name == NULL)
		return gw_cfg_nomem(ctx);
	sv->renewal = true;
	sv->challenge_ttl_s = SCEP_TTL_DEFAULT;
	sv->max_clock_skew_s = SCEP_SKEW_DEFAULT;
	rc = gw_cfg_object(ctx, val, service_fields, NELEM(service_fields),
	    sv);
	if (rc == CG_OK)
		rc = service_finish(ctx, sv);
	return rc;
}

static enum cg_code
scep_services(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_scep_conf	*sc = target;
	void			*arr = NULL;
	enum cg_code		 rc;

	/* Stored even on failure: the config's cleanup frees what was read. */
	rc = gw_cfg_named(ctx, val, "service", 1, GW_CFG_SCEP_SERVICES_MAX,
	    sizeof(*sc->services), &arr, &sc->nservices, service_one);
	sc->services = arr;
	return rc;
}

/* ------------------------------------------------------------ section */

#define SCEP_OFF(m)	offsetof(struct gw_scep_conf, m)

static const struct gw_cfg_field scep_fields[] = {
	{ .key = "ra_cert", .kind = GW_CFG_FILE,
	  .off = SCEP_OFF(ra_cert_file) },
	{ .key = "ra_key", .kind = GW_CFG_FILE,
	  .off = SCEP_OFF(ra_key_file) },
	{ .key = "ra_key_passphrase_file", .kind = GW_CFG_FILE,
	  .off = SCEP_OFF(ra_key_pass_file),
	  .excl = "ra_key_passphrase_env" },
	{ .key = "ra_key_passphrase_env", .kind = GW_CFG_ENVNAME,
	  .off = SCEP_OFF(ra_key_pass_env),
	  .excl = "ra_key_passphrase_file" },
	{ .key = "next_ca_cert", .kind = GW_CFG_FILE,
	  .off = SCEP_OFF(next_ca_file) },
	{ .key = "services", .kind = GW_CFG_CUSTOM, .required = true,
	  .fn = scep_services },
};

enum cg_code
gw_cfg_scep(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_scep_conf	*sc = &((struct gw_config *)target)->scep;
	bool			 cert, key, pass;
	size_t			 mark;
	enum cg_code		 rc;

	sc->enabled = true;
	rc = gw_cfg_object(ctx, val, scep_fields, NELEM(scep_fields), sc);
	if (rc != CG_OK)
		return rc;
	/* An RA is a certificate and its key; without one the CA answers. */
	cert = sc->ra_cert_file != NULL;
	key = sc->ra_key_file != NULL;
	pass = sc->ra_key_pass_file != NULL || sc->ra_key_pass_env != NULL;
	if (cert == key && (key || !pass))
		return CG_OK;
	mark = gw_cfg_push_key(ctx, sc->ra_cert_file == NULL ? "ra_cert" :
	    "ra_key");
	rc = gw_cfg_fail(ctx, "an RA needs both ra_cert and ra_key; leave "
	    "out every ra_* key to let the CA answer SCEP itself");
	gw_cfg_pop(ctx, mark);
	return rc;
}

/* ------------------------------------------------- cross-references */

enum cg_code
gw_cfg_scep_check(struct gw_cfg_ctx *ctx, const struct gw_config *conf)
{
	const struct gw_scep_service	*sv;
	char				 show[GW_CFG_VALUE_SHOW + 8];
	size_t				 i, mark;
	enum cg_code			 rc = CG_OK;

	if (!conf->scep.enabled)
		return CG_OK;
	for (i = 0; i < conf->scep.nservices && rc == CG_OK; i++) {
		sv = &conf->scep.services[i];
		if (gw_config_profile(conf, sv->profile) != NULL)
			continue;
		mark = gw_cfg_push_key(ctx, "scep");
		gw_cfg_push_key(ctx, "services");
		gw_cfg_push_key(ctx, sv->name);
		gw_cfg_push_key(ctx, "profile");
		rc = gw_cfg_fail(ctx, "unknown profile '%s' (not in profiles)",
		    gw_cfg_show(sv->profile, show, sizeof(show)));
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

void
gw_cfg_scep_cleanup(struct gw_scep_conf *sc)
{
	struct gw_scep_service	*sv;
	size_t			 i;

	cg_free(sc->ra_cert_file);
	cg_free(sc->ra_key_file);
	cg_free(sc->ra_key_pass_file);
	cg_free(sc->ra_key_pass_env);
	cg_free(sc->next_ca_file);
	for (i = 0; i < sc->nservices; i++) {
		sv = &sc->services[i];
		cg_free(sv->name);
		cg_free(sv->profile);
		cg_free(sv->challenge_file);
		cg_free(sv->challenge_env);
	}
	cg_free(sc->services);
	memset(sc, 0, sizeof(*sc));
}
