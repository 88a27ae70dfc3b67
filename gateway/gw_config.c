/*
 * gw_config.c - loading the one JSON config file: read it, parse it with
 * jansson, locate every value with the position scanner, walk the section
 * tables below and fill a struct gw_config with defaults applied.  Profile
 * sections live in gw_config_profile.c, the "est" section in
 * gw_config_est.c, "redis" and "distribution" in gw_config_dist.c, "acme"
 * in gw_config_acme.c, "scep" in gw_config_scep.c, "ocsp" in
 * gw_config_ocsp.c and value checks in gw_config_val.c; nothing here opens
 * listeners or keys.
 */
#include "certgw/config.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gw_config_int.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define HTTPS_ADDRESS_DEFAULT	"127.0.0.1:8443"
#define HTTP_ADDRESS_DEFAULT	"127.0.0.1:8080"
#define THREADS_MAX		256
#define CRL_HOURS_DEFAULT	24
#define CRL_HOURS_MAX		(365 * 24)
#define CRL_REFRESH_DEFAULT	2
#define CRL_REFRESH_MAX		3600
#define TIMEOUT_MAX		3600
#define SECONDS_PER_HOUR	3600

static const char *const cert_policy_names[GW_CERT__MAX] = {
	[GW_CERT_IGNORE] = "ignore",
	[GW_CERT_ACCEPT] = "accept",
	[GW_CERT_REQUIRE] = "require",
	[GW_CERT_ACCEPT_SELF_SIGNED] = "accept-self-signed",
};

/* ------------------------------------------------------ custom values */

static bool
route_path_is_valid(const char *s)
{
	size_t	 i;

	if (s[0] != '/')
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (i == GW_CFG_ROUTE_PATH_MAX ||
		    (unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static enum cg_code
cert_policy_one(struct gw_cfg_ctx *ctx, const char *path, json_t *val,
    struct gw_cert_override *o)
{
	const char	*s;
	int		 i;

	if (!route_path_is_valid(path))
		return gw_cfg_fail(ctx,
		    "expected a URL path starting with '/'");
	s = json_is_string(val) ? json_string_value(val) : "";
	for (i = 0; i < GW_CERT__MAX; i++)
		if (strcmp(s, cert_policy_names[i]) == 0)
			break;
	if (i == GW_CERT__MAX)
		return gw_cfg_fail(ctx,
		    "expected \"ignore\", \"accept\" or \"require\"");
	o->path = cg_strdup(path);
	if (o->path == NULL)
		return gw_cfg_nomem(ctx);
	o->policy = (enum gw_cert_policy)i;
	return CG_OK;
}

/* "client_cert_policy": { "/path": "ignore"|"accept"|"require", ... } */
static enum cg_code
cert_policy(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_https_conf	*h = &((struct gw_config *)target)->https;
	const char		*path;
	json_t			*pv;
	size_t			 n, mark;
	enum cg_code		 rc = CG_OK;

	if (!json_is_object(val))
		return gw_cfg_fail(ctx, "expected an object");
	n = json_object_size(val);
	if (n > GW_CFG_OVERRIDES_MAX)
		return gw_cfg_fail(ctx, "expected at most %d entries",
		    GW_CFG_OVERRIDES_MAX);
	h->cert_overrides = cg_calloc(n, sizeof(*h->cert_overrides));
	if (h->cert_overrides == NULL)
		return gw_cfg_nomem(ctx);
	json_object_foreach(val, path, pv) {
		mark = gw_cfg_push_key(ctx, path);
		rc = cert_policy_one(ctx, path, pv,
		    &h->cert_overrides[h->ncert_overrides]);
		gw_cfg_pop(ctx, mark);
		if (rc != CG_OK)
			break;
		h->ncert_overrides++;
	}
	return rc;
}

static enum cg_code
log_level(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_config	*conf = target;

	if (!json_is_string(val) ||
	    !cg_log_level_parse(json_string_value(val), &conf->log_level))
		return gw_cfg_fail(ctx,
		    "expected one of err, warn, info, debug");
	return CG_OK;
}

/* ------------------------------------------------------------- tables */

#define CONF_OFF(m)	offsetof(struct gw_config, m)

static const struct gw_cfg_field https_fields[] = {
	{ .key = "address", .kind = GW_CFG_ADDRESS,
	  .off = CONF_OFF(https.address) },
	{ .key = "cert", .kind = GW_CFG_FILE,
	  .off = CONF_OFF(https.cert_file), .required = true },
	{ .key = "key", .kind = GW_CFG_FILE,
	  .off = CONF_OFF(https.key_file), .required = true },
	{ .key = "key_passphrase_file", .kind = GW_CFG_FILE,
	  .off = CONF_OFF(https.key_pass_file),
	  .excl = "key_passphrase_env" },
	{ .key = "key_passphrase_env", .kind = GW_CFG_ENVNAME,
	  .off = CONF_OFF(https.key_pass_env),
	  .excl = "key_passphrase_file" },
	{ .key = "client_ca", .kind = GW_CFG_FILE,
	  .off = CONF_OFF(https.client_ca_file) },
	{ .key = "client_crl", .kind = GW_CFG_FILE,
	  .off = CONF_OFF(https.client_crl_file) },
	{ .key = "client_cert_policy", .kind = GW_CFG_CUSTOM,
	  .fn = cert_policy },
};

static const struct gw_cfg_field http_fields[] = {
	{ .key = "address", .kind = GW_CFG_ADDRESS,
	  .off = CONF_OFF(http.address) },
	{ .key = "enabled", .kind = GW_CFG_BOOL,
	  .off = CONF_OFF(http.enabled) },
};

/* A present "http" section turns the plain listener on unless it says not. */
static enum cg_code
http_section(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_config	*conf = target;

	conf->http.enabled = true;
	return gw_cfg_object(ctx, val, http_fields, NELEM(http_fields), conf);
}

static const struct gw_cfg_field listeners_fields[] = {
	{ .key = "https", .kind = GW_CFG_OBJECT, .required = true,
	  .sub = https_fields, .nsub = NELEM(https_fields) },
	{ .key = "http", .kind = GW_CFG_CUSTOM, .fn = http_section },
};

static const struct gw_cfg_field limits_fields[] = {
	{ .key = "max_header_bytes", .kind = GW_CFG_U32,
	  .off = CONF_OFF(limits.max_header_bytes),
	  .min = 1024, .max = 1048576 },
	{ .key = "max_body_bytes", .kind = GW_CFG_U32,
	  .off = CONF_OFF(limits.max_body_bytes),
	  .min = 1024, .max = 67108864 },
	{ .key = "max_connections", .kind = GW_CFG_U32,
	  .off = CONF_OFF(limits.max_connections), .min = 1, .max = 1000000 },
	{ .key = "read_timeout_s", .kind = GW_CFG_U32,
	  .off = CONF_OFF(limits.read_timeout_s), .min = 1,
	  .max = TIMEOUT_MAX },
	{ .key = "write_timeout_s", .kind = GW_CFG_U32,
	  .off = CONF_OFF(limits.write_timeout_s), .min = 1,
	  .max = TIMEOUT_MAX },
	{ .key = "shutdown_grace_s", .kind = GW_CFG_U32,
	  .off = CONF_OFF(limits.shutdown_grace_s), .min = 0,
	  .max = TIMEOUT_MAX },
};

static const struct gw_cfg_field log_fields[] = {
	{ .key = "level", .kind = GW_CFG_CUSTOM, .fn = log_level },
};

static const struct gw_cfg_field store_fields[] = {
	{ .key = "path", .kind = GW_CFG_DBFILE, .off = CONF_OFF(store_path),
	  .required = true },
};

static const struct gw_cfg_field ca_fields[] = {
	{ .key = "cert", .kind = GW_CFG_FILE, .off = CONF_OFF(ca.cert_file),
	  .required = true },
	{ .key = "key", .kind = GW_CFG_FILE, .off = CONF_OFF(ca.key_file),
	  .required = true },
	{ .key = "chain", .kind = GW_CFG_FILE, .off = CONF_OFF(ca.chain_file) },
	{ .key = "key_passphrase_file", .kind = GW_CFG_FILE,
	  .off = CONF_OFF(ca.key_pass_file), .excl = "key_passphrase_env" },
	{ .key = "key_passphrase_env", .kind = GW_CFG_ENVNAME,
	  .off = CONF_OFF(ca.key_pass_env), .excl = "key_passphrase_file" },
	{ .key = "public_base_url", .kind = GW_CFG_BASEURL,
	  .off = CONF_OFF(ca.public_base_url) },
	{ .key = "crl_validity_hours", .kind = GW_CFG_U32,
	  .off = CONF_OFF(ca.crl_validity_s), .min = 1,
	  .max = CRL_HOURS_MAX, .scale = SECONDS_PER_HOUR },
	{ .key = "crl_refresh_s", .kind = GW_CFG_U32,
	  .off = CONF_OFF(crl_refresh_s), .min = 1, .max = CRL_REFRESH_MAX },
};

static const struct gw_cfg_field root_fields[] = {
	{ .key = "listeners", .kind = GW_CFG_OBJECT, .required = true,
	  .sub = listeners_fields, .nsub = NELEM(listeners_fields) },
	{ .key = "threads", .kind = GW_CFG_U32, .off = CONF_OFF(threads),
	  .min = 0, .max = THREADS_MAX },
	{ .key = "limits", .kind = GW_CFG_OBJECT,
	  .sub = limits_fields, .nsub = NELEM(limits_fields) },
	{ .key = "log", .kind = GW_CFG_OBJECT,
	  .sub = log_fields, .nsub = NELEM(log_fields) },
	{ .key = "store", .kind = GW_CFG_OBJECT, .required = true,
	  .sub = store_fields, .nsub = NELEM(store_fields) },
	{ .key = "ca", .kind = GW_CFG_OBJECT, .required = true,
	  .sub = ca_fields, .nsub = NELEM(ca_fields) },
	{ .key = "profiles", .kind = GW_CFG_CUSTOM, .required = true,
	  .fn = gw_cfg_profiles },
	{ .key = "est", .kind = GW_CFG_CUSTOM, .fn = gw_cfg_est },
	{ .key = "redis", .kind = GW_CFG_CUSTOM, .fn = gw_cfg_redis },
	{ .key = "distribution", .kind = GW_CFG_CUSTOM, .fn = gw_cfg_dist },
	{ .key = "acme", .kind = GW_CFG_CUSTOM, .fn = gw_cfg_acme },
	{ .key = "scep", .kind = GW_CFG_CUSTOM, .fn = gw_cfg_scep },
	{ .key = "ocsp", .kind = GW_CFG_CUSTOM, .fn = gw_cfg_ocsp },
	{ .key = "notifications", .kind = GW_CFG_CUSTOM, .fn = gw_cfg_notify },
};

/* ----------------------------------------------------------- the file */

/* Defaults for everything that is not a string. */
static struct gw_config *
conf_new(const char *name, const char *dir)
{
	struct gw_config	*conf;

	conf = cg_calloc(1, sizeof(*conf));
	if (conf == NULL)
		return NULL;
	conf->path = cg_strdup(name);
	conf->dir = cg_strdup(dir != NULL ? dir : "");
	if (conf->path == NULL || conf->dir == NULL) {
		gw_config_free(conf);
		return NULL;
	}
	conf->limits.max_header_bytes = 16384;
	conf->limits.max_body_bytes = 1048576;
	conf->limits.max_connections = 1024;
	conf->limits.read_timeout_s = 30;
	conf->limits.write_timeout_s = 30;
	conf->limits.shutdown_grace_s = 20;
	conf->threads = 0;
	conf->log_level = CG_LOG_INFO;
	conf->ca.crl_validity_s = CRL_HOURS_DEFAULT * SECONDS_PER_HOUR;
	conf->crl_refresh_s = CRL_REFRESH_DEFAULT;
	gw_cfg_ocsp_defaults(conf);
	return conf;
}

/* String defaults, which depend on what the file said. */
static enum cg_code
conf_finish(struct gw_cfg_ctx *ctx, struct gw_config *conf)
{
	const char	*trust;

	if (conf->https.address == NULL)
		conf->https.address = cg_strdup(HTTPS_ADDRESS_DEFAULT);
	if (conf->http.address == NULL)
		conf->http.address = cg_strdup(HTTP_ADDRESS_DEFAULT);
	if (conf->https.client_ca_file == NULL) {
		trust = conf->ca.chain_file != NULL ? conf->ca.chain_file :
		    conf->ca.cert_file;
		conf->https.client_ca_file = cg_strdup(trust);
	}
	if (conf->https.address == NULL || conf->http.address == NULL ||
	    conf->https.client_ca_file == NULL)
		return gw_cfg_nomem(ctx);
	return CG_OK;
}

/* The file's base name, made safe and short for messages. */
static const char *
display_name(const char *name, char *out, size_t outlen)
{
	const char	*slash;

	if (name == NULL || name[0] == '\0')
		name = "config";
	slash = strrchr(name, '/');
	if (slash != NULL && slash[1] != '\0')
		name = slash + 1;
	gw_cfg_render(name, strlen(name), GW_CFG_NAME_SHOW, out, outlen);
	return out;
}

enum cg_code
gw_config_parse(const char *name, const char *dir, const uint8_t *data,
    size_t len, bool check_files, struct gw_config **confp,
    struct cg_err *err)
{
	struct gw_cfg_ctx	 ctx;
	struct gw_cfg_pos	*pos = NULL;
	struct gw_config	*conf = NULL;
	json_error_t		 jerr;
	json_t			*root = NULL;
	char			 shown[GW_CFG_NAME_SHOW + 8];
	enum cg_code		 rc;

	*confp = NULL;
	display_name(name, shown, sizeof(shown));
	if (len > GW_CONFIG_MAX)
		return cg_err_set(err, CG_ETOOBIG, "%s: larger than %d bytes",
		    shown, GW_CONFIG_MAX);
	root = json_loadb(data != NULL ? (const char *)data : "", len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		/* jansson's text may echo input: fine for a local file. */
		rc = cg_err_set(err, CG_EINVAL, "%s:%d: syntax error: %s",
		    shown, jerr.line > 0 ? jerr.line : 1, jerr.text);
		goto out;
	}
	rc = gw_cfg_pos_scan(shown, data != NULL ? data : (const uint8_t *)"",
	    len, &pos, err);
	if (rc != CG_OK)
		goto out;
	conf = conf_new(name != NULL ? name : shown, dir);
	if (conf == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.name = shown;
	ctx.dir = conf->dir;
	ctx.check_files = check_files;
	ctx.pos = pos;
	ctx.err = err;
	rc = gw_cfg_object(&ctx, root, root_fields, NELEM(root_fields), conf);
	/* Cross-references, once every section has been read. */
	if (rc == CG_OK)
		rc = gw_cfg_est_check(&ctx, conf);
	if (rc == CG_OK)
		rc = gw_cfg_dist_check(&ctx, conf);
	if (rc == CG_OK)
		rc = gw_cfg_acme_check(&ctx, conf);
	if (rc == CG_OK)
		rc = gw_cfg_scep_check(&ctx, conf);
	if (rc == CG_OK)
		rc = gw_cfg_notify_check(&ctx, conf);
	if (rc == CG_OK)
		rc = conf_finish(&ctx, conf);
	if (rc != CG_OK)
		goto out;
	*confp = conf;
	conf = NULL;
	rc = CG_OK;
out:
	gw_config_free(conf);
	gw_cfg_pos_free(pos);
	json_decref(root);
	return rc;
}

/* The absolute directory holding path (path itself was just read). */
static char *
config_dir(const char *path)
{
	char		 dir[PATH_MAX], real[PATH_MAX];
	const char	*slash = strrchr(path, '/');
	size_t		 n;

	if (slash == NULL) {
		memcpy(dir, ".", 2);
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir))
			return NULL;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	if (realpath(dir, real) == NULL)
		return cg_strdup(dir);
	return cg_strdup(real);
}

/* "errno: No such file or directory;..." -> the reason, into out. */
static const char *
read_reason(const struct cg_err *local, char *out, size_t outlen)
{
	static const char	 prefix[] = "errno: ";
	const char		*d = local->detail;
	size_t			 n;

	if (strncmp(d, prefix, sizeof(prefix) - 1) != 0)
		return "error";
	d += sizeof(prefix) - 1;
	n = strcspn(d, ";");
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, d, n);
	out[n] = '\0';
	return out;
}

enum cg_code
gw_config_load(const char *path, struct gw_config **confp,
    struct cg_err *err)
{
	struct cg_err	 local = { 0 };
	uint8_t		*data = NULL;
	size_t		 len = 0;
	char		*dir = NULL, shown[GW_CFG_NAME_SHOW + 8], why[128];
	enum cg_code	 rc;

	*confp = NULL;
	display_name(path, shown, sizeof(shown));
	if (path == NULL || path[0] == '\0')
		return cg_err_set(err, CG_EINVAL, "no config file given");
	rc = cg_file_read(path, GW_CONFIG_MAX, &data, &len, &local);
	if (rc == CG_ETOOBIG) {
		rc = cg_err_set(err, rc, "%s: larger than %d bytes", shown,
		    GW_CONFIG_MAX);
		goto out;
	}
	if (rc != CG_OK) {
		rc = cg_err_set(err, rc, "%s: cannot read file: %s", shown,
		    read_reason(&local, why, sizeof(why)));
		cg_err_detail(err, "%s", local.msg);
		goto out;
	}
	dir = config_dir(path);
	if (dir == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	rc = gw_config_parse(path, dir, data, len, true, confp, err);
out:
	cg_free(dir);
	cg_free(data);
	return rc;
}

void
gw_config_free(struct gw_config *conf)
{
	size_t	 i;

	if (conf == NULL)
		return;
	cg_free(conf->path);
	cg_free(conf->dir);
	cg_free(conf->https.address);
	cg_free(conf->https.cert_file);
	cg_free(conf->https.key_file);
	cg_free(conf->https.key_pass_file);
	cg_free(conf->https.key_pass_env);
	cg_free(conf->https.client_ca_file);
	cg_free(conf->https.client_crl_file);
	for (i = 0; i < conf->https.ncert_overrides; i++)
		cg_free(conf->https.cert_overrides[i].path);
	cg_free(conf->https.cert_overrides);
	cg_free(conf->http.address);
	cg_free(conf->store_path);
	ca_config_cleanup(&conf->ca);
	for (i = 0; i < conf->nprofiles; i++)
		ca_profile_cleanup(&conf->profiles[i]);
	cg_free(conf->profiles);
	gw_cfg_est_cleanup(&conf->est);
	gw_cfg_redis_cleanup(&conf->redis);
	gw_cfg_dist_cleanup(&conf->dist);
	gw_cfg_acme_cleanup(&conf->acme);
	gw_cfg_scep_cleanup(&conf->scep);
	ca_ocsp_config_cleanup(&conf->ocsp);
	gw_cfg_notify_free(conf->notify);
	cg_free(conf);
}

const char *
gw_config_client_ca_file(const struct gw_config *conf)
{
	if (conf->https.client_ca_file != NULL)
		return conf->https.client_ca_file;
	return conf->ca.chain_file != NULL ? conf->ca.chain_file :
	    conf->ca.cert_file;
}

const struct ca_profile *
gw_config_profile(const struct gw_config *conf, const char *name)
{
	size_t	 i;

	if (conf == NULL || name == NULL)
		return NULL;
	for (i = 0; i < conf->nprofiles; i++)
		if (strcmp(conf->profiles[i].name, name) == 0)
			return &conf->profiles[i];
	return NULL;
}
